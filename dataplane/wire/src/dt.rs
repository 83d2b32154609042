//! The unicast layer's data-transfer (DT) header (PROTOCOL.md §7.2).
//!
//! Default layout (addr_size 4, eid_size 8), the only one the C prototype
//! runs with:
//!
//! ```text
//!  0                4     5     6     7                          15
//! +----------------+-----+-----+-----+--------------------------+---------
//! | DST (LE)       | QoS | TTL | ECN | EID (LE)                 | payload
//! +----------------+-----+-----+-----+--------------------------+---------
//! ```
//!
//! In general DST takes `addr_size` octets at 0, QoS/TTL/ECN follow, and
//! the EID takes `eid_size` octets at `addr_size + 3`; the header is
//! `addr_size + 3 + eid_size` octets. DST and EID are the only
//! little-endian integers of the stack: the C code copies the low octets
//! of a host-order (little-endian) integer. There is no source address, no
//! length and no checksum.
//!
//! Every forwarded packet passes through this view, so the accessors for
//! the default layout compile to fixed-offset loads with no loop and no
//! allocation; other layouts copy at most 8 octets.

use core::fmt;

use crate::qos::QosCube;
use crate::view;
use crate::{Result, WireError};

/// Octets of the default header.
pub const DEFAULT_HEADER_LEN: usize = DtLayout::DEFAULT.header_len();
/// TTL a source writes unless the layer is configured otherwise.
pub const DEFAULT_MAX_TTL: u8 = 60;
/// EID of the flow allocator component (§7.3).
pub const FA_EID: u64 = 0;
/// EID of the directory (DHT) component.
pub const DHT_EID: u64 = 1;
/// Lowest EID of an N+1 flow; those below are components.
pub const FIRST_FLOW_EID: u64 = 64;

/// Widths of the DST and EID fields, fixed per layer by its bootstrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtLayout {
    // Private so that both stay in 1..=8, which the accessors rely on.
    addr_size: u8,
    eid_size: u8,
}

impl DtLayout {
    /// addr_size 4, eid_size 8.
    pub const DEFAULT: DtLayout = DtLayout {
        addr_size: 4,
        eid_size: 8,
    };

    /// A layout with the given widths, each 1 to 8 octets.
    pub const fn new(addr_size: u8, eid_size: u8) -> Result<DtLayout> {
        if addr_size == 0 || addr_size > 8 {
            return Err(WireError::Invalid {
                what: "DT address size (1..=8 octets)",
            });
        }
        if eid_size == 0 || eid_size > 8 {
            return Err(WireError::Invalid {
                what: "DT EID size (1..=8 octets)",
            });
        }
        Ok(DtLayout { addr_size, eid_size })
    }

    /// Octets of DST.
    pub const fn addr_size(self) -> usize {
        self.addr_size as usize
    }

    /// Octets of the EID.
    pub const fn eid_size(self) -> usize {
        self.eid_size as usize
    }

    /// Octets of the header.
    pub const fn header_len(self) -> usize {
        self.addr_size() + 3 + self.eid_size()
    }

    /// Whether this is the 4/8 layout the fast paths serve.
    #[inline(always)]
    pub const fn is_default(self) -> bool {
        self.addr_size == 4 && self.eid_size == 8
    }

    /// Largest address the layout can carry.
    pub const fn max_addr(self) -> u64 {
        u64::MAX >> (64 - 8 * self.addr_size as u32)
    }

    /// Largest EID the layout can carry.
    pub const fn max_eid(self) -> u64 {
        u64::MAX >> (64 - 8 * self.eid_size as u32)
    }

    #[inline(always)]
    const fn qos_at(self) -> usize {
        self.addr_size()
    }

    #[inline(always)]
    const fn ttl_at(self) -> usize {
        self.addr_size() + 1
    }

    #[inline(always)]
    const fn ecn_at(self) -> usize {
        self.addr_size() + 2
    }

    #[inline(always)]
    const fn eid_at(self) -> usize {
        self.addr_size() + 3
    }
}

impl Default for DtLayout {
    fn default() -> DtLayout {
        DtLayout::DEFAULT
    }
}

impl fmt::Display for DtLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "addr {} eid {}", self.addr_size, self.eid_size)
    }
}

/// A little-endian integer of 1 to 8 octets (the layout guarantees the width).
#[inline(always)]
fn le(octets: &[u8]) -> u64 {
    let mut wide = [0; 8];
    wide[..octets.len()].copy_from_slice(octets);
    u64::from_le_bytes(wide)
}

/// Writes the low `octets.len()` octets of `value`, little-endian.
#[inline(always)]
fn put_le(octets: &mut [u8], value: u64) {
    let len = octets.len();
    octets.copy_from_slice(&value.to_le_bytes()[..len]);
}

/// A read/write view of a DT header and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtHeader<T: AsRef<[u8]>> {
    buffer: T,
    layout: DtLayout,
}

impl<T: AsRef<[u8]>> DtHeader<T> {
    /// Wraps a buffer without checking it; accessors may then panic.
    pub const fn new_unchecked(buffer: T, layout: DtLayout) -> DtHeader<T> {
        DtHeader { buffer, layout }
    }

    /// Wraps a buffer holding at least the header of `layout`.
    pub fn new_checked(buffer: T, layout: DtLayout) -> Result<DtHeader<T>> {
        let header = DtHeader::new_unchecked(buffer, layout);
        header.check_len()?;
        Ok(header)
    }

    /// Checks the header is present; after this no accessor or setter panics.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        view::check_min(self.buffer.as_ref().len(), self.layout.header_len())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The layout this view reads with.
    pub const fn layout(&self) -> DtLayout {
        self.layout
    }

    /// Destination member address.
    // Always inlined, as `eid`: the forwarding loop reads both for every
    // packet, and a call costs more than the read.
    #[inline(always)]
    pub fn dst(&self) -> u64 {
        let data = self.buffer.as_ref();
        if self.layout.is_default() {
            let mut dst = [0; 4];
            dst.copy_from_slice(&data[0..4]);
            u64::from(u32::from_le_bytes(dst))
        } else {
            le(&data[..self.layout.addr_size()])
        }
    }

    /// QoS cube id of the flow, as sent.
    #[inline]
    pub fn qos(&self) -> u8 {
        self.buffer.as_ref()[self.layout.qos_at()]
    }

    /// The QoS octet as a cube, if it names one.
    pub fn qos_cube(&self) -> Result<QosCube> {
        QosCube::try_from(self.qos())
    }

    /// Remaining hops.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[self.layout.ttl_at()]
    }

    /// Multi-bit congestion mark, 0 = none.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[self.layout.ecn_at()]
    }

    /// Destination endpoint at DST.
    #[inline(always)]
    pub fn eid(&self) -> u64 {
        let data = self.buffer.as_ref();
        if self.layout.is_default() {
            let mut eid = [0; 8];
            eid.copy_from_slice(&data[7..15]);
            u64::from_le_bytes(eid)
        } else {
            let at = self.layout.eid_at();
            le(&data[at..at + self.layout.eid_size()])
        }
    }

    /// Octets of the header.
    #[inline]
    pub fn header_len(&self) -> usize {
        self.layout.header_len()
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.layout.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DtHeader<T> {
    /// Sets DST to the low `addr_size` octets of `addr`.
    #[inline]
    pub fn set_dst(&mut self, addr: u64) {
        let size = self.layout.addr_size();
        put_le(&mut self.buffer.as_mut()[..size], addr);
    }

    /// Sets the QoS octet.
    #[inline]
    pub fn set_qos(&mut self, qos: u8) {
        let at = self.layout.qos_at();
        self.buffer.as_mut()[at] = qos;
    }

    /// Sets the TTL.
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        let at = self.layout.ttl_at();
        self.buffer.as_mut()[at] = ttl;
    }

    /// Sets the ECN octet.
    #[inline]
    pub fn set_ecn(&mut self, ecn: u8) {
        let at = self.layout.ecn_at();
        self.buffer.as_mut()[at] = ecn;
    }

    /// Sets the EID to the low `eid_size` octets of `eid`.
    #[inline]
    pub fn set_eid(&mut self, eid: u64) {
        let at = self.layout.eid_at();
        let size = self.layout.eid_size();
        put_le(&mut self.buffer.as_mut()[at..at + size], eid);
    }

    /// Decrements the TTL in place, modulo 256 as the C code does, and
    /// returns the new value (a forwarder drops the packet when it is 0).
    #[inline]
    pub fn decrement_ttl(&mut self) -> u8 {
        let at = self.layout.ttl_at();
        let data = self.buffer.as_mut();
        data[at] = data[at].wrapping_sub(1);
        data[at]
    }

    /// ORs a congestion mark into the ECN octet (mb-ecn, §9).
    #[inline]
    pub fn or_ecn(&mut self, mark: u8) {
        let at = self.layout.ecn_at();
        self.buffer.as_mut()[at] |= mark;
    }

    /// Everything after the header, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.layout.header_len();
        &mut self.buffer.as_mut()[at..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for DtHeader<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A DT header; the payload stays in the buffer and the layout in the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtRepr {
    /// Destination member address.
    pub dst: u64,
    /// QoS cube id of the flow.
    pub qos: u8,
    /// Remaining hops.
    pub ttl: u8,
    /// Multi-bit congestion mark.
    pub ecn: u8,
    /// Destination endpoint at `dst`.
    pub eid: u64,
}

impl DtRepr {
    /// Reads a checked header.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(header: &DtHeader<&T>) -> Result<DtRepr> {
        header.check_len()?;
        Ok(DtRepr {
            dst: header.dst(),
            qos: header.qos(),
            ttl: header.ttl(),
            ecn: header.ecn(),
            eid: header.eid(),
        })
    }

    /// Octets [`DtRepr::emit`] writes with `layout`.
    pub const fn buffer_len(&self, layout: DtLayout) -> usize {
        layout.header_len()
    }

    /// Whether `dst` and `eid` fit the widths of `layout`; wider values
    /// are cut to their low octets on emit, as the C prototype's copy does.
    pub const fn fits(&self, layout: DtLayout) -> bool {
        self.dst <= layout.max_addr() && self.eid <= layout.max_eid()
    }

    /// Writes the header with the view's layout; the buffer must hold at
    /// least the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut DtHeader<T>) {
        header.set_dst(self.dst);
        header.set_qos(self.qos);
        header.set_ttl(self.ttl);
        header.set_ecn(self.ecn);
        header.set_eid(self.eid);
    }
}

impl fmt::Display for DtRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dt dst {:#x} qos {} ttl {} ecn {} eid {:#x}",
            self.dst, self.qos, self.ttl, self.ecn, self.eid
        )
    }
}

fn fuzz(name: &str, data: &[u8], layout: DtLayout) {
    crate::decoders::round_trip_header(
        name,
        data,
        layout.header_len(),
        |d| DtRepr::parse(&DtHeader::new_checked(d, layout)?),
        |_| data.len(),
        |repr, out| {
            repr.emit(&mut DtHeader::new_unchecked(out, layout));
            Ok(())
        },
    );
}

/// Decoder entry: a packet with a default-layout header round-trips.
pub(crate) fn fuzz_default(data: &[u8]) {
    fuzz("dt", data, DtLayout::DEFAULT);
}

/// Decoder entry: the first octet picks a layout (address width 1 + bits
/// 0–2, EID width 1 + bits 3–5), the rest is a packet in it.
pub(crate) fn fuzz_any_layout(data: &[u8]) {
    let Some((&pick, packet)) = data.split_first() else {
        return;
    };
    let Ok(layout) = DtLayout::new(1 + (pick & 7), 1 + ((pick >> 3) & 7)) else {
        return;
    };
    fuzz("dt_layout", packet, layout);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::unhex;
    use proptest::prelude::*;

    const EXAMPLE: &str = "0D 0C 0B 0A 00 3C 00 40 00 00 00 78 56 34 12";

    fn example_repr() -> DtRepr {
        DtRepr {
            dst: 0x0A0B0C0D,
            qos: 0,
            ttl: 60,
            ecn: 0,
            eid: 0x1234567800000040,
        }
    }

    #[test]
    fn dt_header_example_of_7_2_round_trips() {
        let bytes = unhex(EXAMPLE);
        assert_eq!(bytes.len(), DEFAULT_HEADER_LEN);
        let header = DtHeader::new_checked(&bytes[..], DtLayout::DEFAULT).expect("valid");
        assert_eq!(DtRepr::parse(&header), Ok(example_repr()));
        assert_eq!(header.qos_cube(), Ok(QosCube::BestEffort));
        let mut out = [0u8; 15];
        example_repr().emit(&mut DtHeader::new_unchecked(&mut out[..], DtLayout::DEFAULT));
        assert_eq!(out[..], bytes[..]);
        assert_eq!(
            example_repr().to_string(),
            "dt dst 0xa0b0c0d qos 0 ttl 60 ecn 0 eid 0x1234567800000040"
        );
    }

    #[test]
    fn other_layouts_move_every_field_after_dst() {
        let layout = DtLayout::new(2, 3).expect("valid");
        let bytes = unhex("0C 0D | 01 05 80 | 40 00 12 | 77");
        let header = DtHeader::new_checked(&bytes[..], layout).expect("valid");
        assert_eq!(header.header_len(), 8);
        assert_eq!(
            DtRepr::parse(&header),
            Ok(DtRepr {
                dst: 0x0D0C,
                qos: 1,
                ttl: 5,
                ecn: 0x80,
                eid: 0x120040,
            })
        );
        assert_eq!(header.payload(), &[0x77]);
    }

    #[test]
    fn ttl_decrements_in_place_and_wraps_like_the_c_code() {
        let mut bytes = unhex(EXAMPLE);
        let mut header = DtHeader::new_checked(&mut bytes[..], DtLayout::DEFAULT).expect("valid");
        assert_eq!(header.decrement_ttl(), 59);
        header.set_ttl(1);
        assert_eq!(header.decrement_ttl(), 0);
        assert_eq!(header.decrement_ttl(), 255);
        assert_eq!(bytes[5], 255);
    }

    #[test]
    fn ecn_marks_accumulate_by_or() {
        let mut bytes = unhex(EXAMPLE);
        let mut header = DtHeader::new_checked(&mut bytes[..], DtLayout::DEFAULT).expect("valid");
        header.or_ecn(0x01);
        header.or_ecn(0x04);
        assert_eq!(header.ecn(), 0x05);
        assert_eq!(bytes[6], 0x05);
    }

    #[test]
    fn short_buffer_is_truncated_for_its_layout() {
        let bytes = unhex(EXAMPLE);
        assert_eq!(
            DtHeader::new_checked(&bytes[..14], DtLayout::DEFAULT),
            Err(WireError::Truncated { need: 15, have: 14 })
        );
        let narrow = DtLayout::new(1, 1).expect("valid");
        assert!(DtHeader::new_checked(&bytes[..5], narrow).is_ok());
        assert!(DtHeader::new_checked(&bytes[..4], narrow).is_err());
    }

    #[test]
    fn layout_sizes_must_be_one_to_eight() {
        assert!(DtLayout::new(0, 8).is_err());
        assert!(DtLayout::new(4, 9).is_err());
        assert_eq!(DtLayout::new(4, 8), Ok(DtLayout::default()));
        let widest = DtLayout::new(8, 8).expect("valid");
        assert_eq!((widest.header_len(), widest.max_addr()), (19, u64::MAX));
        assert_eq!(DtLayout::DEFAULT.max_addr(), u64::from(u32::MAX));
    }

    #[test]
    fn wide_values_are_cut_to_their_low_octets_as_in_c() {
        let repr = DtRepr {
            dst: 0x1_0000_0002,
            ..example_repr()
        };
        assert!(!repr.fits(DtLayout::DEFAULT));
        let mut out = [0u8; 15];
        repr.emit(&mut DtHeader::new_unchecked(&mut out[..], DtLayout::DEFAULT));
        assert_eq!(out[..4], [2, 0, 0, 0]);
    }

    fn arb_layout() -> impl Strategy<Value = DtLayout> {
        (1u8..=8, 1u8..=8).prop_map(|(a, e)| DtLayout::new(a, e).expect("in range"))
    }

    proptest! {
        #[test]
        fn repr_emit_then_parse_is_identity(
            layout in arb_layout(), dst in any::<u64>(), qos in any::<u8>(), ttl in any::<u8>(),
            ecn in any::<u8>(), eid in any::<u64>()
        ) {
            let repr = DtRepr { dst: dst & layout.max_addr(), qos, ttl, ecn, eid: eid & layout.max_eid() };
            prop_assert!(repr.fits(layout));
            let mut out = vec![0u8; repr.buffer_len(layout)];
            repr.emit(&mut DtHeader::new_unchecked(&mut out[..], layout));
            let header = DtHeader::new_checked(&out[..], layout).expect("emitted header");
            prop_assert_eq!(DtRepr::parse(&header), Ok(repr));
        }

        #[test]
        fn parse_then_emit_is_identity(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            fuzz_default(&data);
            fuzz_any_layout(&data);
        }

        #[test]
        fn setters_touch_only_their_field(
            layout in arb_layout(), data in proptest::collection::vec(any::<u8>(), 19..30), ttl in any::<u8>()
        ) {
            let mut bytes = data.clone();
            let mut header = DtHeader::new_checked(&mut bytes[..], layout).expect("long enough");
            let before = DtRepr::parse(&DtHeader::new_unchecked(&data[..], layout)).expect("valid");
            header.set_ttl(ttl);
            let after = DtRepr::parse(&DtHeader::new_unchecked(&bytes[..], layout)).expect("valid");
            prop_assert_eq!(after, DtRepr { ttl, ..before });
            prop_assert_eq!(&bytes[layout.header_len()..], &data[layout.header_len()..]);
        }
    }
}
