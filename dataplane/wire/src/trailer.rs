//! What follows the fixed part of a flow-allocation message.
//!
//! ```text
//! +------------+----------------------------+----------------------------+
//! | fixed part | hash: the layer's length   | data: piggybacked, to the  |
//! |            | (FLOW_REQ, name queries)   | end (OAP header)           |
//! +------------+----------------------------+----------------------------+
//! ```
//!
//! Every flow-allocation format (eth-dix, eth-llc, UDP, FA, raptor) ends
//! so; they differ only in which message code carries which of the two
//! pieces, and each code says so with a [`Trailer`]. Nothing in the
//! message gives the hash's length: both ends know it from the layer's
//! configuration, so parsing takes it as an argument.

use crate::{Result, WireError};

/// The trailer pieces one message code carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer {
    /// A hash of the layer's length comes first.
    pub(crate) hash: bool,
    /// Data may follow (the hash, if any); without it nothing may.
    pub(crate) data: bool,
}

impl Trailer {
    /// FLOW_REQ: the hash, then the OAP request.
    pub(crate) const HASH_AND_DATA: Trailer = Trailer { hash: true, data: true };
    /// Name queries, and raptor's FLOW_REQ: the hash alone.
    pub(crate) const HASH: Trailer = Trailer {
        hash: true,
        data: false,
    };
    /// FLOW_REPLY: the OAP response (possibly empty).
    pub(crate) const DATA: Trailer = Trailer {
        hash: false,
        data: true,
    };
    /// FA's FLOW_UPDATE and raptor's FLOW_REPLY: nothing.
    pub(crate) const NONE: Trailer = Trailer {
        hash: false,
        data: false,
    };

    /// Splits the octets after the fixed part into (hash, data), with an
    /// empty hash where the code carries none. `fixed_len` only sizes the
    /// errors, which count the whole message.
    pub(crate) fn split(self, trailer: &[u8], hash_len: usize, fixed_len: usize) -> Result<(&[u8], &[u8])> {
        let hash_len = self.hash_len(hash_len);
        let Some((hash, data)) = trailer.split_at_checked(hash_len) else {
            return Err(WireError::Truncated {
                need: fixed_len + hash_len,
                have: fixed_len + trailer.len(),
            });
        };
        if !self.data && !data.is_empty() {
            // The C senders write nothing there. Refusing it, where the
            // eth C receivers silently ignore it, keeps emit(parse(x)) == x.
            return Err(WireError::TooLong {
                len: fixed_len + trailer.len(),
                max: fixed_len + hash_len,
            });
        }
        Ok((hash, data))
    }

    /// Octets of hash the code carries in a layer whose hashes are
    /// `layer_hash_len` octets.
    pub(crate) const fn hash_len(self, layer_hash_len: usize) -> usize {
        if self.hash { layer_hash_len } else { 0 }
    }

    /// Whether a Repr's pieces are ones the code carries (an absent piece
    /// must be empty).
    pub(crate) const fn carries(self, hash: &[u8], data: &[u8]) -> bool {
        (self.hash || hash.is_empty()) && (self.data || data.is_empty())
    }
}

/// Writes the hash and then the data at the start of the trailer, which
/// the caller has checked is long enough for both.
#[inline]
pub(crate) fn put(trailer: &mut [u8], hash: &[u8], data: &[u8]) {
    let (hash_out, rest) = trailer.split_at_mut(hash.len());
    hash_out.copy_from_slice(hash);
    rest[..data.len()].copy_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_comes_first_and_data_takes_the_rest() {
        let trailer = [1, 2, 3, 4, 5];
        assert_eq!(
            Trailer::HASH_AND_DATA.split(&trailer, 2, 10),
            Ok((&[1, 2][..], &[3, 4, 5][..]))
        );
        assert_eq!(Trailer::DATA.split(&trailer, 2, 10), Ok((&[][..], &trailer[..])));
        assert_eq!(Trailer::HASH.split(&trailer[..2], 2, 10), Ok((&[1, 2][..], &[][..])));
        assert_eq!(Trailer::NONE.split(&[], 2, 10), Ok((&[][..], &[][..])));
    }

    #[test]
    fn short_hash_and_unexpected_data_are_sized_as_whole_messages() {
        assert_eq!(
            Trailer::HASH_AND_DATA.split(&[1], 2, 10),
            Err(WireError::Truncated { need: 12, have: 11 })
        );
        assert_eq!(
            Trailer::HASH.split(&[1, 2, 3], 2, 10),
            Err(WireError::TooLong { len: 13, max: 12 })
        );
        assert_eq!(
            Trailer::NONE.split(&[1], 2, 10),
            Err(WireError::TooLong { len: 11, max: 10 })
        );
    }

    #[test]
    fn carries_only_the_pieces_of_its_code() {
        assert!(Trailer::HASH_AND_DATA.carries(&[1], &[2]));
        assert!(Trailer::DATA.carries(&[], &[2]) && !Trailer::DATA.carries(&[1], &[]));
        assert!(Trailer::HASH.carries(&[1], &[]) && !Trailer::HASH.carries(&[1], &[2]));
        assert!(Trailer::NONE.carries(&[], &[]) && !Trailer::NONE.carries(&[], &[2]));
    }

    #[test]
    fn put_writes_hash_then_data_and_leaves_the_rest() {
        let mut out = [0xee; 6];
        put(&mut out, &[1, 2], &[3]);
        assert_eq!(out, [1, 2, 3, 0xee, 0xee, 0xee]);
    }
}
