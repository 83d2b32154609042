//! The decode error shared by every wire module.
//!
//! Small and `Copy`: the dataplane counts drops by reason on the hot path,
//! so an error must not allocate or carry borrowed data.

/// Why a sequence of octets is not a valid message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum WireError {
    /// Fewer octets than the fixed part of the header.
    #[error("truncated: need {need} octets, have {have}")]
    Truncated { need: usize, have: usize },
    /// A length field disagrees with the octets present.
    #[error("length field says {field} octets, {have} present")]
    BadLength { field: usize, have: usize },
    /// More octets than the format allows.
    #[error("too long: {len} octets, at most {max}")]
    TooLong { len: usize, max: usize },
    /// A code/type field has a value the format does not define.
    #[error("unknown {what} value {value}")]
    UnknownCode { what: &'static str, value: u32 },
    /// A field's value is outside what the format allows.
    #[error("invalid {what}")]
    Invalid { what: &'static str },
    /// A value wider than the field a format gives it (an EID in a shim
    /// with narrower EIDs): refused, never cut to fit.
    #[error("{what} {value} does not fit a {bits}-bit field")]
    DoesNotFit { what: &'static str, value: i64, bits: u32 },
    /// A message, or a piece of one, that a format has no way to carry
    /// (a name query over UDP, piggybacked data over raptor).
    #[error("{format} carries no {what}")]
    NotCarried { format: &'static str, what: &'static str },
    /// A hash of another length than the one the format always carries
    /// (MD5 in the UDP shim).
    #[error("hash of {len} octets where {want} are carried")]
    HashLen { len: usize, want: usize },
    /// Protobuf octets that do not decode.
    #[error("malformed protobuf in {message}")]
    Protobuf { message: &'static str },
    /// A proto2 `required` field is absent.
    #[error("{message} lacks required field {field}")]
    MissingField { message: &'static str, field: &'static str },
}
