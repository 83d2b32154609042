//! Ethernet II frame header, as both Ethernet shims use it
//! (PROTOCOL.md §2.1, §3).
//!
//! ```text
//!  0                 6                 12      14
//! +-----------------+-----------------+-------+----------------
//! | destination MAC | source MAC      | type  | payload ...
//! +-----------------+-----------------+-------+----------------
//! ```
//!
//! `type` is big-endian: the Ethertype for eth-dix (default 0xA000, valid
//! 0x0600–0xFFFE), or the 802.3 length for eth-llc (≤ 0x05FF, see
//! [`crate::llc`]). This view does not judge it: which of the two a frame
//! is depends on the shim that receives it. The frame check sequence is
//! never part of what the shims see. The sender writes exactly header +
//! payload and lets the NIC pad to 60 octets; the padding then shows up
//! in the payload, and the inner header's length field tells it apart.

use core::fmt;
use core::ops::RangeInclusive;
use core::str::FromStr;

use crate::octets::{put_u16_be, u16_be};
use crate::view::{self, impl_view};
use crate::{Result, WireError};

/// The Ethertype o7s and the C prototype use unless configured otherwise.
pub const ETHERTYPE_O7S: u16 = 0xA000;
/// Ethertypes an eth-dix layer accepts in its configuration.
pub const ETHERTYPE_VALID: RangeInclusive<u16> = 0x0600..=0xFFFE;
/// The part of [`ETHERTYPE_VALID`] the C prototype recommends (no
/// registered protocol uses it).
pub const ETHERTYPE_RECOMMENDED: RangeInclusive<u16> = 0xA000..=0xEFFF;
/// Tag protocol identifiers of a VLAN tag: 802.1Q (C-tag), 802.1ad
/// (S-tag) and the pre-standard QinQ 0x9100. A frame whose type field holds
/// one of them is tagged; o7s ports carry untagged frames only.
pub const VLAN_TPIDS: [u16; 3] = [0x8100, 0x88A8, 0x9100];

/// Whether `ethertype` is a VLAN tag's TPID ([`VLAN_TPIDS`]).
pub const fn is_vlan_tpid(ethertype: u16) -> bool {
    matches!(ethertype, 0x8100 | 0x88A8 | 0x9100)
}

/// Octets of the Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;
/// Shortest frame on the wire without FCS; shorter ones are padded.
pub const MIN_FRAME_LEN: usize = 60;

/// A 48-bit IEEE MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff, where eth-dix sends name queries.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The six octets.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Whether this is the broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == MacAddr::BROADCAST
    }

    /// Whether the group bit (least significant bit of the first octet) is
    /// set: broadcast and multicast addresses.
    pub const fn is_group(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(octets: [u8; 6]) -> MacAddr {
        MacAddr(octets)
    }
}

impl fmt::Display for MacAddr {
    /// Lower-case hex, colon-separated: `aa:bb:cc:dd:ee:ff`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddr {
    type Err = WireError;

    /// Six two-digit hex octets separated by `:` (either case).
    fn from_str(s: &str) -> Result<MacAddr> {
        const BAD: WireError = WireError::Invalid {
            what: "MAC address text",
        };
        let mut octets = [0u8; 6];
        let mut parts = s.split(':');
        for octet in &mut octets {
            let part = parts.next().ok_or(BAD)?;
            if part.len() != 2 {
                return Err(BAD);
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| BAD)?;
        }
        if parts.next().is_some() {
            return Err(BAD);
        }
        Ok(MacAddr(octets))
    }
}

mod field {
    use core::ops::{Range, RangeFrom};

    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: RangeFrom<usize> = 14..;
}

/// A read/write view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(EthFrame, "Wraps a buffer that holds at least the 14-octet header.");

impl<T: AsRef<[u8]>> EthFrame<T> {
    /// Checks that the header is present; after this no accessor panics.
    pub fn check_len(&self) -> Result<()> {
        view::check_min(self.buffer.as_ref().len(), HEADER_LEN)
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> MacAddr {
        let mut octets = [0; 6];
        octets.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        MacAddr(octets)
    }

    /// Source MAC address.
    #[inline]
    pub fn src_addr(&self) -> MacAddr {
        let mut octets = [0; 6];
        octets.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        MacAddr(octets)
    }

    /// Ethertype (eth-dix) or 802.3 length (eth-llc).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::ETHERTYPE])
    }

    /// Everything after the header, NIC padding included.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthFrame<T> {
    /// Sets the destination MAC address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    /// Sets the source MAC address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    /// Sets the Ethertype / 802.3 length.
    #[inline]
    pub fn set_ethertype(&mut self, value: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::ETHERTYPE], value);
    }

    /// Everything after the header, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// The header of an Ethernet II frame; the payload stays in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthRepr {
    /// Destination MAC address.
    pub dst_addr: MacAddr,
    /// Source MAC address.
    pub src_addr: MacAddr,
    /// Ethertype (eth-dix) or 802.3 length (eth-llc).
    pub ethertype: u16,
}

impl EthRepr {
    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &EthFrame<&T>) -> Result<EthRepr> {
        frame.check_len()?;
        Ok(EthRepr {
            dst_addr: frame.dst_addr(),
            src_addr: frame.src_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Octets [`EthRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header; the buffer must hold at least [`HEADER_LEN`] octets.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthFrame<T>) {
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
    }
}

impl fmt::Display for EthRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "eth {} > {} type {:#06x}",
            self.src_addr, self.dst_addr, self.ethertype
        )
    }
}

/// Decoder entry: any frame with a full header round-trips.
pub(crate) fn fuzz_frame(data: &[u8]) {
    crate::decoders::round_trip_header(
        "eth",
        data,
        HEADER_LEN,
        |d| EthRepr::parse(&EthFrame::new_checked(d)?),
        |_| data.len(),
        |repr, out| {
            repr.emit(&mut EthFrame::new_unchecked(out));
            Ok(())
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::arb_mac;
    use proptest::prelude::*;

    #[test]
    fn vlan_tpids_are_the_tagged_types_and_nothing_else() {
        for t in VLAN_TPIDS {
            assert!(is_vlan_tpid(t), "{t:#06x}");
        }
        for t in [ETHERTYPE_O7S, 0x0800, 0x86DD, 0x0806, 0x8101, 0x88A7] {
            assert!(!is_vlan_tpid(t), "{t:#06x}");
        }
    }

    const FRAME: [u8; 16] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0xa0, 0x00, // ethertype
        0xde, 0xad, // payload
    ];

    #[test]
    fn frame_fields_are_read_at_their_offsets() {
        let frame = EthFrame::new_checked(&FRAME[..]).expect("valid");
        assert_eq!(frame.dst_addr(), MacAddr([2, 0, 0, 0, 0, 2]));
        assert_eq!(frame.src_addr(), MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(frame.ethertype(), ETHERTYPE_O7S);
        assert_eq!(frame.payload(), &[0xde, 0xad]);
    }

    #[test]
    fn header_emits_byte_exact() {
        let repr = EthRepr {
            dst_addr: MacAddr([2, 0, 0, 0, 0, 2]),
            src_addr: MacAddr([2, 0, 0, 0, 0, 1]),
            ethertype: 0xa000,
        };
        let mut out = [0u8; 14];
        repr.emit(&mut EthFrame::new_unchecked(&mut out[..]));
        assert_eq!(out, FRAME[..14]);
        assert_eq!(
            repr.to_string(),
            "eth 02:00:00:00:00:01 > 02:00:00:00:00:02 type 0xa000"
        );
    }

    #[test]
    fn thirteen_octets_are_truncated() {
        assert_eq!(
            EthFrame::new_checked(&FRAME[..13]),
            Err(WireError::Truncated { need: 14, have: 13 })
        );
        assert!(EthFrame::new_checked(&FRAME[..14]).is_ok());
    }

    #[test]
    fn mac_address_prints_and_parses_colon_hex() {
        let mac = MacAddr([0xaa, 0xbb, 0x0c, 0x0d, 0xee, 0xff]);
        assert_eq!(mac.to_string(), "aa:bb:0c:0d:ee:ff");
        assert_eq!("AA:bb:0c:0d:ee:ff".parse(), Ok(mac));
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "a:bb:cc:dd:ee:ff",
            "gg:bb:cc:dd:ee:ff",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_group());
        assert_eq!(MacAddr::BROADCAST.to_string(), "ff:ff:ff:ff:ff:ff");
    }

    #[test]
    fn ethertype_ranges_follow_2_1() {
        assert!(ETHERTYPE_VALID.contains(&ETHERTYPE_O7S));
        assert!(!ETHERTYPE_VALID.contains(&0x05ff));
        assert!(!ETHERTYPE_VALID.contains(&0xffff));
        assert!(ETHERTYPE_RECOMMENDED.contains(&0xefff));
    }

    proptest! {
        #[test]
        fn repr_emit_then_parse_is_identity(
            dst_addr in arb_mac(), src_addr in arb_mac(), ethertype in any::<u16>()
        ) {
            let repr = EthRepr { dst_addr, src_addr, ethertype };
            let mut out = [0u8; HEADER_LEN];
            repr.emit(&mut EthFrame::new_unchecked(&mut out[..]));
            let frame = EthFrame::new_checked(&out[..]).expect("emitted header");
            prop_assert_eq!(EthRepr::parse(&frame), Ok(repr));
        }

        #[test]
        fn parse_then_emit_is_identity(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            fuzz_frame(&data);
        }
    }
}
