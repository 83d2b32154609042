//! Link-state message, one SDU on a `Management` flow (PROTOCOL.md §12.1).
//!
//! ```text
//!  0             8             16            24
//! +-------------+-------------+-------------+
//! | d_addr      | s_addr      | seqno       |   all u64 BE
//! +-------------+-------------+-------------+
//! ```
//!
//! Exactly 24 octets: the C reader ignores SDUs of any other length, so
//! this view refuses them. Note the order, destination first: the message
//! announces the adjacency s_addr → d_addr. There is no metric, QoS, age
//! or checksum; every link weighs 1.

use core::fmt;

use crate::Result;
use crate::octets::{put_u64_be, u64_be};
use crate::view::{self, impl_view};

/// Octets of every link-state message.
pub const LEN: usize = 24;

mod field {
    use core::ops::Range;

    pub const D_ADDR: Range<usize> = 0..8;
    pub const S_ADDR: Range<usize> = 8..16;
    pub const SEQNO: Range<usize> = 16..24;
}

/// A read/write view of a link-state message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lsm<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(Lsm, "Wraps a buffer of exactly 24 octets.");

impl<T: AsRef<[u8]>> Lsm<T> {
    /// Checks the length is exactly 24.
    pub fn check_len(&self) -> Result<()> {
        view::check_bounds(self.buffer.as_ref().len(), LEN, LEN)
    }

    /// Destination end of the adjacency.
    pub fn d_addr(&self) -> u64 {
        u64_be(&self.buffer.as_ref()[field::D_ADDR])
    }

    /// Source end: the member that announces it.
    pub fn s_addr(&self) -> u64 {
        u64_be(&self.buffer.as_ref()[field::S_ADDR])
    }

    /// Per-adjacency sequence number.
    pub fn seqno(&self) -> u64 {
        u64_be(&self.buffer.as_ref()[field::SEQNO])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Lsm<T> {
    /// Sets the destination end.
    pub fn set_d_addr(&mut self, addr: u64) {
        put_u64_be(&mut self.buffer.as_mut()[field::D_ADDR], addr);
    }

    /// Sets the source end.
    pub fn set_s_addr(&mut self, addr: u64) {
        put_u64_be(&mut self.buffer.as_mut()[field::S_ADDR], addr);
    }

    /// Sets the sequence number.
    pub fn set_seqno(&mut self, seqno: u64) {
        put_u64_be(&mut self.buffer.as_mut()[field::SEQNO], seqno);
    }
}

/// A link-state message: "s_addr has a link to d_addr, version seqno".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LsmRepr {
    /// Destination end of the adjacency.
    pub d_addr: u64,
    /// Source end: the member that announces it.
    pub s_addr: u64,
    /// Per-adjacency sequence number (compared as plain u64).
    pub seqno: u64,
}

impl LsmRepr {
    /// Reads a checked message.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(lsm: &Lsm<&T>) -> Result<LsmRepr> {
        lsm.check_len()?;
        Ok(LsmRepr {
            d_addr: lsm.d_addr(),
            s_addr: lsm.s_addr(),
            seqno: lsm.seqno(),
        })
    }

    /// Octets [`LsmRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        LEN
    }

    /// Writes the message; the buffer must hold 24 octets.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, lsm: &mut Lsm<T>) {
        lsm.set_d_addr(self.d_addr);
        lsm.set_s_addr(self.s_addr);
        lsm.set_seqno(self.seqno);
    }
}

impl fmt::Display for LsmRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lsm {:#x} -> {:#x} seqno {}", self.s_addr, self.d_addr, self.seqno)
    }
}

/// Decoder entry: a 24-octet message round-trips.
pub(crate) fn fuzz_message(data: &[u8]) {
    crate::decoders::round_trip(
        "lsm",
        data,
        |d| LsmRepr::parse(&Lsm::new_checked(d)?),
        LsmRepr::buffer_len,
        |repr, out| {
            repr.emit(&mut Lsm::new_unchecked(out));
            Ok(())
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WireError;
    use crate::fixtures::unhex;
    use proptest::prelude::*;

    #[test]
    fn lsm_of_19_6_is_byte_exact_both_ways() {
        let bytes = unhex("00 00 00 00 0A 0B 0C 0D 00 00 00 00 01 02 03 04 00 00 00 00 00 00 00 05");
        let repr = LsmRepr {
            d_addr: 0x0A0B0C0D,
            s_addr: 0x01020304,
            seqno: 5,
        };
        let lsm = Lsm::new_checked(&bytes[..]).expect("valid");
        assert_eq!(LsmRepr::parse(&lsm), Ok(repr));
        let mut out = [0u8; LEN];
        repr.emit(&mut Lsm::new_unchecked(&mut out[..]));
        assert_eq!(out[..], bytes[..]);
        assert_eq!(repr.to_string(), "lsm 0x1020304 -> 0xa0b0c0d seqno 5");
    }

    #[test]
    fn any_other_length_is_refused() {
        assert_eq!(
            Lsm::new_checked(&[0u8; 23][..]),
            Err(WireError::Truncated { need: 24, have: 23 })
        );
        assert_eq!(
            Lsm::new_checked(&[0u8; 25][..]),
            Err(WireError::TooLong { len: 25, max: 24 })
        );
        assert!(Lsm::new_checked(&[][..]).is_err());
    }

    proptest! {
        #[test]
        fn repr_emit_then_parse_is_identity(d_addr in any::<u64>(), s_addr in any::<u64>(), seqno in any::<u64>()) {
            let repr = LsmRepr { d_addr, s_addr, seqno };
            let mut out = [0u8; LEN];
            repr.emit(&mut Lsm::new_unchecked(&mut out[..]));
            prop_assert_eq!(LsmRepr::parse(&Lsm::new_checked(&out[..]).expect("24 octets")), Ok(repr));
        }

        #[test]
        fn parse_then_emit_is_identity(data in proptest::collection::vec(any::<u8>(), 22..27)) {
            fuzz_message(&data);
        }
    }
}
