//! FRCT, the end-to-end flow and retransmission control header
//! (PROTOCOL.md §15.1).
//!
//! ```text
//!  0       1                4                8                12
//! +-------+----------------+----------------+----------------+---------
//! | flags | rwe (24 bits)  | seqno          | ackno          | payload
//! +-------+----------------+----------------+----------------+---------
//!                     all BE
//! ```
//!
//! | flag | value | meaning |
//! |---|---|---|
//! | DATA | 0x01 | sequenced data packet with payload |
//! | DRF | 0x02 | data run flag: nothing unacknowledged, a new run may start here |
//! | ACK | 0x04 | ackno valid |
//! | FC | 0x08 | rwe valid (flow-control credit) |
//! | RDVS | 0x10 | rendez-vous: window closed, please send credit |
//! | FFGM | 0x20 | first fragment: defined, never set |
//! | MFGM | 0x40 | more fragments: defined, never set |
//! | — | 0x80 | unused, sent as 0 |
//!
//! rwe holds the low 24 bits of the right window edge; the C code writes
//! the 32-bit value and then overwrites its top octet with the flags.
//! Pure control packets are exactly 12 octets; seqno is always present.

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};

use crate::Result;
use crate::octets::{put_u32_be, u32_be};
use crate::view::{self, impl_view};

/// Octets of the header.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// The bits of the right window edge the rwe field carries.
pub const RWE_MASK: u32 = 0x00FF_FFFF;

/// The flags octet; unknown bits are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FrctFlags(pub u8);

impl FrctFlags {
    /// No flag.
    pub const NONE: FrctFlags = FrctFlags(0);
    /// Sequenced data packet carrying payload.
    pub const DATA: FrctFlags = FrctFlags(0x01);
    /// Data run flag.
    pub const DRF: FrctFlags = FrctFlags(0x02);
    /// ackno valid.
    pub const ACK: FrctFlags = FrctFlags(0x04);
    /// rwe valid.
    pub const FC: FrctFlags = FrctFlags(0x08);
    /// Rendez-vous probe.
    pub const RDVS: FrctFlags = FrctFlags(0x10);
    /// First fragment (never set).
    pub const FFGM: FrctFlags = FrctFlags(0x20);
    /// More fragments (never set).
    pub const MFGM: FrctFlags = FrctFlags(0x40);

    const NAMES: [(FrctFlags, &'static str); 7] = [
        (FrctFlags::DATA, "DATA"),
        (FrctFlags::DRF, "DRF"),
        (FrctFlags::ACK, "ACK"),
        (FrctFlags::FC, "FC"),
        (FrctFlags::RDVS, "RDVS"),
        (FrctFlags::FFGM, "FFGM"),
        (FrctFlags::MFGM, "MFGM"),
    ];

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: FrctFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for FrctFlags {
    type Output = FrctFlags;

    fn bitor(self, other: FrctFlags) -> FrctFlags {
        FrctFlags(self.0 | other.0)
    }
}

impl BitOrAssign for FrctFlags {
    fn bitor_assign(&mut self, other: FrctFlags) {
        self.0 |= other.0;
    }
}

impl BitAnd for FrctFlags {
    type Output = FrctFlags;

    fn bitand(self, other: FrctFlags) -> FrctFlags {
        FrctFlags(self.0 & other.0)
    }
}

impl fmt::Display for FrctFlags {
    /// `DATA|DRF|FC`; `-` when empty; unnamed bits in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        let mut rest = self.0;
        let mut sep = "";
        for (flag, name) in FrctFlags::NAMES {
            if self.contains(flag) {
                write!(f, "{sep}{name}")?;
                sep = "|";
                rest &= !flag.0;
            }
        }
        if rest != 0 {
            write!(f, "{sep}{rest:#04x}")?;
        }
        Ok(())
    }
}

mod field {
    use core::ops::Range;

    pub const FLAGS: usize = 0;
    pub const RWE: Range<usize> = 1..4;
    pub const SEQNO: Range<usize> = 4..8;
    pub const ACKNO: Range<usize> = 8..12;
    pub const PAYLOAD: usize = 12;
}

/// A read/write view of an FRCT header and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrctHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(FrctHeader, "Wraps a buffer holding at least the 12-octet header.");

impl<T: AsRef<[u8]>> FrctHeader<T> {
    /// Checks the header is present.
    pub fn check_len(&self) -> Result<()> {
        view::check_min(self.buffer.as_ref().len(), HEADER_LEN)
    }

    /// The flags.
    #[inline]
    pub fn flags(&self) -> FrctFlags {
        FrctFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Right window edge, low 24 bits (valid with FC).
    #[inline]
    pub fn rwe(&self) -> u32 {
        let data = self.buffer.as_ref();
        u32::from_be_bytes([0, data[1], data[2], data[3]])
    }

    /// Sequence number (valid with DATA).
    #[inline]
    pub fn seqno(&self) -> u32 {
        u32_be(&self.buffer.as_ref()[field::SEQNO])
    }

    /// Next sequence number the sender expects (valid with ACK).
    #[inline]
    pub fn ackno(&self) -> u32 {
        u32_be(&self.buffer.as_ref()[field::ACKNO])
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> FrctHeader<T> {
    /// Sets the flags.
    #[inline]
    pub fn set_flags(&mut self, flags: FrctFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    /// Sets the rwe field to the low 24 bits of `rwe`.
    #[inline]
    pub fn set_rwe(&mut self, rwe: u32) {
        let [_, a, b, c] = rwe.to_be_bytes();
        self.buffer.as_mut()[field::RWE].copy_from_slice(&[a, b, c]);
    }

    /// Sets the sequence number.
    #[inline]
    pub fn set_seqno(&mut self, seqno: u32) {
        put_u32_be(&mut self.buffer.as_mut()[field::SEQNO], seqno);
    }

    /// Sets the acknowledgement number.
    #[inline]
    pub fn set_ackno(&mut self, ackno: u32) {
        put_u32_be(&mut self.buffer.as_mut()[field::ACKNO], ackno);
    }

    /// Everything after the header, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// An FRCT header; the payload stays in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrctRepr {
    /// The flags.
    pub flags: FrctFlags,
    /// Right window edge, low 24 bits; higher bits are not sent.
    pub rwe: u32,
    /// Sequence number.
    pub seqno: u32,
    /// Acknowledgement number.
    pub ackno: u32,
}

impl FrctRepr {
    /// Reads a checked header.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(header: &FrctHeader<&T>) -> Result<FrctRepr> {
        header.check_len()?;
        Ok(FrctRepr {
            flags: header.flags(),
            rwe: header.rwe(),
            seqno: header.seqno(),
            ackno: header.ackno(),
        })
    }

    /// Octets [`FrctRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (rwe cut to 24 bits); the buffer must hold at
    /// least 12 octets.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut FrctHeader<T>) {
        header.set_flags(self.flags);
        header.set_rwe(self.rwe);
        header.set_seqno(self.seqno);
        header.set_ackno(self.ackno);
    }
}

impl fmt::Display for FrctRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frct {} rwe {:#08x} seqno {} ackno {}",
            self.flags,
            self.rwe & RWE_MASK,
            self.seqno,
            self.ackno
        )
    }
}

/// Decoder entry: any packet with a full header round-trips.
pub(crate) fn fuzz_header(data: &[u8]) {
    crate::decoders::round_trip_header(
        "frct",
        data,
        HEADER_LEN,
        |d| FrctRepr::parse(&FrctHeader::new_checked(d)?),
        |_| data.len(),
        |repr, out| {
            repr.emit(&mut FrctHeader::new_unchecked(out));
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
    fn first_data_packet_of_a_run_example_of_15_1_round_trips() {
        // DATA|DRF|FC, rwe = 0x000140, seqno 0xdeadbeef, ackno 0, payload.
        let mut bytes = unhex("0B 00 01 40 | DE AD BE EF | 00 00 00 00");
        bytes.extend(b"hello");
        let header = FrctHeader::new_checked(&bytes[..]).expect("valid");
        let repr = FrctRepr {
            flags: FrctFlags::DATA | FrctFlags::DRF | FrctFlags::FC,
            rwe: 0x140,
            seqno: 0xdeadbeef,
            ackno: 0,
        };
        assert_eq!(FrctRepr::parse(&header), Ok(repr));
        assert_eq!(header.payload(), b"hello");
        let mut out = vec![0u8; bytes.len()];
        let mut view = FrctHeader::new_unchecked(&mut out[..]);
        repr.emit(&mut view);
        view.payload_mut().copy_from_slice(b"hello");
        assert_eq!(out, bytes);
        assert_eq!(
            repr.to_string(),
            "frct DATA|DRF|FC rwe 0x000140 seqno 3735928559 ackno 0"
        );
    }

    #[test]
    fn pure_control_packets_are_exactly_the_header() {
        let ack_fc = unhex("0C 00 01 40 00 00 00 00 00 00 00 05");
        let header = FrctHeader::new_checked(&ack_fc[..]).expect("valid");
        assert!(header.flags().contains(FrctFlags::ACK | FrctFlags::FC));
        assert!(!header.flags().contains(FrctFlags::DATA));
        assert_eq!((header.ackno(), header.payload().len()), (5, 0));
        assert_eq!(
            FrctHeader::new_checked(&ack_fc[..11]),
            Err(WireError::Truncated { need: 12, have: 11 })
        );
    }

    #[test]
    fn rwe_keeps_only_its_low_24_bits() {
        let mut out = [0u8; 12];
        let mut header = FrctHeader::new_unchecked(&mut out[..]);
        header.set_flags(FrctFlags::FC);
        header.set_rwe(0xAB12_3456);
        assert_eq!(header.flags(), FrctFlags::FC);
        assert_eq!(header.rwe(), 0x12_3456);
        assert_eq!(out[..4], [0x08, 0x12, 0x34, 0x56]);
    }

    #[test]
    fn flags_print_by_name_and_unknown_bits_in_hex() {
        assert_eq!(FrctFlags::NONE.to_string(), "-");
        assert_eq!(FrctFlags::RDVS.to_string(), "RDVS");
        assert_eq!(FrctFlags(0x81).to_string(), "DATA|0x80");
        assert_eq!((FrctFlags(0x0B) & FrctFlags::DRF), FrctFlags::DRF);
    }

    proptest! {
        #[test]
        fn repr_emit_then_parse_is_identity(
            flags in any::<u8>(), rwe in 0u32..=RWE_MASK, seqno in any::<u32>(), ackno in any::<u32>()
        ) {
            let repr = FrctRepr { flags: FrctFlags(flags), rwe, seqno, ackno };
            let mut out = [0u8; HEADER_LEN];
            repr.emit(&mut FrctHeader::new_unchecked(&mut out[..]));
            let header = FrctHeader::new_checked(&out[..]).expect("emitted header");
            prop_assert_eq!(FrctRepr::parse(&header), Ok(repr));
        }

        #[test]
        fn parse_then_emit_is_identity(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            fuzz_header(&data);
        }
    }
}
