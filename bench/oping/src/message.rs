//! The oping message, the first 24 octets of every SDU (PROTOCOL.md §19.4).
//!
//! ```text
//!  0        4        8                16               24            size
//! +--------+--------+----------------+----------------+---- ... ----+
//! | type   | id     | tv_sec         | tv_nsec        | zero octets |
//! +--------+--------+----------------+----------------+---- ... ----+
//!   u32 BE   u32 BE   u64 host order   u64 host order
//! ```
//!
//! | type | meaning |
//! |---|---|
//! | 0 | echo request (client → server) |
//! | 1 | echo reply (server → client) |
//!
//! The send time is the client's own clock, copied from its `timespec`
//! without byte swapping; the prototype only runs on little-endian machines,
//! so it is little-endian here (PROTOCOL.md §0). The server never reads it:
//! it turns the type into 1 and sends the whole SDU back, padding included.
//!
//! The SDU is 64 to 1500 octets (the C client's limits, default 64). Only
//! encoding enforces them; decoding accepts anything from the 24-octet
//! header up to 1500 octets, as the C client does with whatever comes back.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;

/// Octets of the header every oping SDU starts with.
pub const HEADER_LEN: usize = 24;

mod field {
    use core::ops::Range;

    pub const TYPE: Range<usize> = 0..4;
    pub const ID: Range<usize> = 4..8;
    pub const TV_SEC: Range<usize> = 8..16;
    pub const TV_NSEC: Range<usize> = 16..24;
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// What an oping message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `ECHO_REQUEST`, 0: the client asks for an answer.
    EchoRequest,
    /// `ECHO_REPLY`, 1: the server's answer.
    EchoReply,
}

impl MessageType {
    /// The value on the wire.
    pub const fn to_u32(self) -> u32 {
        match self {
            MessageType::EchoRequest => 0,
            MessageType::EchoReply => 1,
        }
    }

    /// The type a wire value stands for, if any.
    pub const fn from_u32(value: u32) -> Option<MessageType> {
        match value {
            0 => Some(MessageType::EchoRequest),
            1 => Some(MessageType::EchoReply),
            _ => None,
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageType::EchoRequest => "echo request",
            MessageType::EchoReply => "echo reply",
        })
    }
}

/// Why an SDU is not an oping message, or cannot become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// An SDU to be sent is shorter than 64 or longer than 1500 octets.
    #[error("SDU of {len} octets is outside the oping range of {min}–{max} octets", min = SduSize::MIN, max = SduSize::MAX)]
    SizeOutOfRange {
        /// Length of the buffer that was to be encoded.
        len: usize,
    },
    /// A received SDU stops before the end of the 24-octet header.
    #[error("SDU of {len} octets is shorter than the {HEADER_LEN}-octet oping header")]
    Truncated {
        /// Length of the received SDU.
        len: usize,
    },
    /// A received SDU is longer than any oping peer sends or reads.
    #[error("SDU of {len} octets is longer than the oping maximum of {max} octets", max = SduSize::MAX)]
    TooLong {
        /// Length of the received SDU.
        len: usize,
    },
    /// The type field is neither 0 nor 1.
    #[error("unknown oping message type {0}")]
    UnknownType(u32),
    /// The server was handed something other than an echo request; the C
    /// server answers only type 0.
    #[error("oping message type {0} is not an echo request")]
    NotARequest(u32),
    /// The nanoseconds of the send time are a second or more.
    #[error("send time has {0} nanoseconds, not below one second")]
    BadNanoseconds(u64),
}

/// An oping SDU size the C client accepts: 64 to 1500 octets.
///
/// The C client clamps a size outside the range (and says so); o7s refuses
/// it, so a test never measures something other than what it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SduSize(u16);

/// Why a text or number is not an [`SduSize`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SduSizeError {
    /// Not a decimal number of octets.
    #[error("{0:?} is not a number of octets")]
    NotANumber(String),
    /// A number outside 64–1500.
    #[error("size {0} octets is outside the oping range of {min}–{max} octets", min = SduSize::MIN, max = SduSize::MAX)]
    OutOfRange(u64),
}

impl SduSize {
    /// Smallest SDU the C client sends (`-s` below it becomes 64).
    pub const MIN: usize = 64;
    /// Largest SDU: `OPING_BUF_SIZE`, the C tools' read buffer.
    pub const MAX: usize = 1500;
    /// The C client's default `-s`.
    pub const DEFAULT: SduSize = SduSize(64);

    /// Checks `octets` is within 64–1500.
    pub const fn new(octets: usize) -> Result<SduSize, SduSizeError> {
        if octets >= SduSize::MIN && octets <= SduSize::MAX {
            Ok(SduSize(octets as u16))
        } else {
            Err(SduSizeError::OutOfRange(octets as u64))
        }
    }

    /// The size in octets.
    pub const fn get(self) -> usize {
        self.0 as usize
    }
}

impl Default for SduSize {
    fn default() -> SduSize {
        SduSize::DEFAULT
    }
}

impl fmt::Display for SduSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SduSize {
    type Err = SduSizeError;

    /// Parses a decimal number of octets, as `-s` takes it.
    fn from_str(s: &str) -> Result<SduSize, SduSizeError> {
        let octets: u64 = s.parse().map_err(|_| SduSizeError::NotANumber(s.to_owned()))?;
        match usize::try_from(octets) {
            Ok(octets) => SduSize::new(octets),
            Err(_) => Err(SduSizeError::OutOfRange(octets)),
        }
    }
}

/// The header of an oping SDU, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Message {
    /// Request or reply.
    pub kind: MessageType,
    /// Sequence number the client gives each request, from 0.
    pub id: u32,
    /// The client's clock when it sent the request; echoed by the server.
    pub sent: Duration,
}

impl Message {
    /// An echo request the client sends at `sent`.
    pub const fn request(id: u32, sent: Duration) -> Message {
        Message {
            kind: MessageType::EchoRequest,
            id,
            sent,
        }
    }

    /// Writes this message over the whole of `sdu`: the header, then zero
    /// padding to the end. `sdu` is exactly the SDU to send, 64–1500 octets.
    pub fn encode(&self, sdu: &mut [u8]) -> Result<(), MessageError> {
        if SduSize::new(sdu.len()).is_err() {
            return Err(MessageError::SizeOutOfRange { len: sdu.len() });
        }
        sdu[field::TYPE].copy_from_slice(&self.kind.to_u32().to_be_bytes());
        sdu[field::ID].copy_from_slice(&self.id.to_be_bytes());
        sdu[field::TV_SEC].copy_from_slice(&self.sent.as_secs().to_le_bytes());
        sdu[field::TV_NSEC].copy_from_slice(&u64::from(self.sent.subsec_nanos()).to_le_bytes());
        sdu[HEADER_LEN..].fill(0);
        Ok(())
    }

    /// Reads the header of a received SDU. The padding is not looked at
    /// (the C tools never do).
    pub fn decode(sdu: &[u8]) -> Result<Message, MessageError> {
        check_received_len(sdu)?;
        let raw_type = u32::from_be_bytes(array(&sdu[field::TYPE]));
        let kind = MessageType::from_u32(raw_type).ok_or(MessageError::UnknownType(raw_type))?;
        let id = u32::from_be_bytes(array(&sdu[field::ID]));
        let secs = u64::from_le_bytes(array(&sdu[field::TV_SEC]));
        let nanos = u64::from_le_bytes(array(&sdu[field::TV_NSEC]));
        if nanos >= NANOS_PER_SEC {
            return Err(MessageError::BadNanoseconds(nanos));
        }
        // nanos < 10^9, so neither the cast nor Duration::new can fail.
        Ok(Message {
            kind,
            id,
            sent: Duration::new(secs, nanos as u32),
        })
    }
}

/// Turns a received echo request into its reply where it lies, as the C
/// server does: type 0 becomes 1 and every other octet, the client's
/// timestamp and padding included, stays. The caller sends back the whole
/// SDU. Anything but a request is refused and must not be answered.
pub fn reply_in_place(sdu: &mut [u8]) -> Result<(), MessageError> {
    check_received_len(sdu)?;
    let raw_type = u32::from_be_bytes(array(&sdu[field::TYPE]));
    if raw_type != MessageType::EchoRequest.to_u32() {
        return Err(MessageError::NotARequest(raw_type));
    }
    sdu[field::TYPE].copy_from_slice(&MessageType::EchoReply.to_u32().to_be_bytes());
    Ok(())
}

fn check_received_len(sdu: &[u8]) -> Result<(), MessageError> {
    if sdu.len() < HEADER_LEN {
        Err(MessageError::Truncated { len: sdu.len() })
    } else if sdu.len() > SduSize::MAX {
        Err(MessageError::TooLong { len: sdu.len() })
    } else {
        Ok(())
    }
}

/// A fixed-size array from a slice whose length a `field` range fixed.
fn array<const N: usize>(octets: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(octets);
    out
}
