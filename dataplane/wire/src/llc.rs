//! eth-llc: an 802.3 frame with an LLC header, and the shim's management
//! body (PROTOCOL.md §3).
//!
//! ```text
//!  0     6     12       14     15     16       17
//! +-----+-----+--------+------+------+--------+-----------+---------+
//! | dst | src | length | DSAP | SSAP | control| payload   | padding |
//! +-----+-----+--------+------+------+--------+-----------+---------+
//!               BE, = 3 + payload length, at most 0x05FF
//! ```
//!
//! DSAP and SSAP are bit-reversed on the wire (bit 0 ↔ bit 7 …); the view
//! and the Repr hand out the real SAP values. The management SAP is 1
//! (0x80 on the wire), in both SAPs of a management frame. Control is 0x03
//! (UI); the C receiver does not check it, so neither does parsing. The
//! payload is cut to the length field, which drops NIC padding.
//!
//! Management body, 37 octets, integers BE, SAPs *not* bit-reversed:
//!
//! ```text
//! offset size field
//!  0     1    ssap          sender's SAP
//!  1     1    dsap          receiver's SAP
//!  2     1    code          as eth-dix: 0 FLOW_REQ, 1 FLOW_REPLY, 2/3 name query
//!  3     1    availability
//!  4     4    loss
//!  8     8    bandwidth
//! 16     4    ber
//! 20     4    max_gap
//! 24     4    delay
//! 28     4    timeout
//! 32     4    response (i32)
//! 36     1    in_order
//! 37     ...  trailer, as eth-dix (hash of the layer's length, OAP header)
//! ```
//!
//! What a body says is a [`ShimMgmt`](crate::shim_mgmt::ShimMgmt), the
//! same for every shim; `MGMT_LAYOUT` states where eth-llc puts each
//! field, and [`Framing::EthLlc`](crate::shim_mgmt::Framing::EthLlc)
//! parses and emits through it: SAPs of 8 bits, a wider EID refused.

use core::fmt;

use crate::eth::MacAddr;
use crate::octets::{put_u16_be, u16_be};
use crate::qos_fields::QosFields;
use crate::shim_mgmt::{IntField, MgmtLayout};
use crate::view::{self, impl_view};
use crate::{Result, WireError};

/// Octets of the 802.3 + LLC header.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// Octets of the LLC part (DSAP, SSAP, control) the length field counts.
pub const LLC_LEN: usize = 3;
/// Largest 802.3 length; above it the field is an Ethertype.
pub const MAX_LENGTH: u16 = 0x05FF;
/// Largest payload a frame can carry.
pub const MAX_PAYLOAD_LEN: usize = MAX_LENGTH as usize - LLC_LEN;
/// The SAP of management frames (both DSAP and SSAP).
pub const MGMT_SAP: u8 = 1;
/// Control field of unnumbered information frames, the only kind sent.
pub const CONTROL_UI: u8 = 0x03;
/// Octets of the fixed part of a management body.
pub const MGMT_LEN: usize = MGMT_LAYOUT.fixed_len;
/// Longest management body a frame can carry.
pub const MAX_MGMT_LEN: usize = MAX_PAYLOAD_LEN;

mod field {
    use core::ops::Range;

    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const LENGTH: Range<usize> = 12..14;
    pub const DSAP: usize = 14;
    pub const SSAP: usize = 15;
    pub const CONTROL: usize = 16;
    pub const PAYLOAD: usize = 17;
}

/// A read/write view of an eth-llc frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlcFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(
    LlcFrame,
    "Wraps a buffer holding a valid 802.3 length and what it counts."
);

impl<T: AsRef<[u8]>> LlcFrame<T> {
    /// Checks the header, that the length field is an 802.3 length of at
    /// least the LLC part, and that the octets it counts are present.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        view::check_min(have, HEADER_LEN)?;
        let length = self.length();
        if length > MAX_LENGTH {
            return Err(WireError::Invalid {
                what: "802.3 length above 0x05FF (an Ethertype)",
            });
        }
        if usize::from(length) < LLC_LEN {
            return Err(WireError::Invalid {
                what: "802.3 length shorter than the LLC header",
            });
        }
        let counted = have - field::DSAP;
        if usize::from(length) > counted {
            return Err(WireError::BadLength {
                field: length.into(),
                have: counted,
            });
        }
        Ok(())
    }

    /// Destination MAC address.
    pub fn dst_addr(&self) -> MacAddr {
        let mut octets = [0; 6];
        octets.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        MacAddr(octets)
    }

    /// Source MAC address.
    pub fn src_addr(&self) -> MacAddr {
        let mut octets = [0; 6];
        octets.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        MacAddr(octets)
    }

    /// The 802.3 length: LLC header plus payload.
    pub fn length(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::LENGTH])
    }

    /// Destination SAP (the real value, un-reversed).
    pub fn dsap(&self) -> u8 {
        self.buffer.as_ref()[field::DSAP].reverse_bits()
    }

    /// Source SAP (the real value, un-reversed).
    pub fn ssap(&self) -> u8 {
        self.buffer.as_ref()[field::SSAP].reverse_bits()
    }

    /// Control field.
    pub fn control(&self) -> u8 {
        self.buffer.as_ref()[field::CONTROL]
    }

    /// Octets of payload the length field announces.
    pub fn payload_len(&self) -> usize {
        usize::from(self.length()).saturating_sub(LLC_LEN)
    }

    /// The payload, cut to the length field (padding dropped).
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        let end = (HEADER_LEN + self.payload_len()).min(data.len());
        &data[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> LlcFrame<T> {
    /// Sets the destination MAC address.
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    /// Sets the source MAC address.
    pub fn set_src_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    /// Sets the 802.3 length (LLC header plus payload).
    pub fn set_length(&mut self, length: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::LENGTH], length);
    }

    /// Sets the destination SAP (given as the real value).
    pub fn set_dsap(&mut self, sap: u8) {
        self.buffer.as_mut()[field::DSAP] = sap.reverse_bits();
    }

    /// Sets the source SAP (given as the real value).
    pub fn set_ssap(&mut self, sap: u8) {
        self.buffer.as_mut()[field::SSAP] = sap.reverse_bits();
    }

    /// Sets the control field.
    pub fn set_control(&mut self, control: u8) {
        self.buffer.as_mut()[field::CONTROL] = control;
    }

    /// The payload as the length field delimits it, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = (HEADER_LEN + self.payload_len()).min(self.buffer.as_ref().len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The header of an eth-llc frame; the payload stays in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LlcRepr {
    /// Destination MAC address.
    pub dst_addr: MacAddr,
    /// Source MAC address.
    pub src_addr: MacAddr,
    /// Destination SAP: the peer's SAP for the flow, or [`MGMT_SAP`].
    pub dsap: u8,
    /// Source SAP: the own SAP for the flow, or [`MGMT_SAP`].
    pub ssap: u8,
    /// Control field, [`CONTROL_UI`] when sent by the C prototype.
    pub control: u8,
    /// Octets of payload, at most [`MAX_PAYLOAD_LEN`].
    pub payload_len: u16,
}

impl LlcRepr {
    /// Reads a checked frame header.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &LlcFrame<&T>) -> Result<LlcRepr> {
        frame.check_len()?;
        Ok(LlcRepr {
            dst_addr: frame.dst_addr(),
            src_addr: frame.src_addr(),
            dsap: frame.dsap(),
            ssap: frame.ssap(),
            control: frame.control(),
            // At most 0x05FF - 3 after the check.
            payload_len: frame.length() - LLC_LEN as u16,
        })
    }

    /// Octets [`LlcRepr::emit`] writes (the header only).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Octets of header and payload, before NIC padding.
    pub const fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }

    /// Writes the header; fails when the payload is longer than an 802.3
    /// length can count or the buffer is shorter than the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut LlcFrame<T>) -> Result<()> {
        if usize::from(self.payload_len) > MAX_PAYLOAD_LEN {
            return Err(WireError::TooLong {
                len: self.payload_len.into(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        view::check_min(frame.buffer.as_ref().len(), HEADER_LEN)?;
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_length(self.payload_len + LLC_LEN as u16);
        frame.set_dsap(self.dsap);
        frame.set_ssap(self.ssap);
        frame.set_control(self.control);
        Ok(())
    }
}

impl fmt::Display for LlcRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "llc {} sap {} > {} sap {} ctl {:#04x} len {}",
            self.src_addr, self.ssap, self.dst_addr, self.dsap, self.control, self.payload_len
        )
    }
}

/// Where the management body puts each field (the shared codec,
/// [`crate::shim_mgmt`], reads and writes through it).
pub(crate) const MGMT_LAYOUT: MgmtLayout = MgmtLayout {
    shim: "eth-llc",
    code_name: "eth-llc management code",
    fixed_len: 37,
    max_len: MAX_MGMT_LEN,
    code: 2,
    codes: [Some(0), Some(1), Some(2), Some(3)],
    zero_word: None,
    // ssap: the sender's SAP, so the requester's in a request and the
    // responder's in a reply; dsap: the receiver's.
    request_requester: IntField::eid(0, 1),
    reply_requester: IntField::eid(1, 1),
    reply_responder: IntField::eid(0, 1),
    response: IntField::response(32, 4),
    qos: QosFields {
        availability: 3,
        loss: 4,
        bandwidth: 8,
        ber: 16,
        max_gap: 20,
        delay: 24,
        timeout: Some(28),
        in_order: 36,
    },
    fixed_hash_len: None,
    data: true,
}
.checked();

/// Decoder entry: a frame header and the payload it delimits round-trip.
pub(crate) fn fuzz_frame(data: &[u8]) {
    crate::decoders::round_trip_header(
        "llc",
        data,
        HEADER_LEN,
        |d| LlcRepr::parse(&LlcFrame::new_checked(d)?),
        LlcRepr::total_len,
        |repr, out| repr.emit(&mut LlcFrame::new_unchecked(out)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{SHA3_256_OPING, arb_mac, oap_request, unhex};
    use crate::qos::QosSpec;
    use crate::shim_mgmt::{Framing, ShimMgmt};
    use proptest::prelude::*;

    fn mac(last: u8) -> MacAddr {
        MacAddr([0x02, 0, 0, 0, 0, last])
    }

    #[test]
    fn management_saps_are_0x80_on_the_wire() {
        let repr = LlcRepr {
            dst_addr: mac(2),
            src_addr: mac(1),
            dsap: MGMT_SAP,
            ssap: MGMT_SAP,
            control: CONTROL_UI,
            payload_len: 2,
        };
        let mut out = [0u8; 19];
        let mut frame = LlcFrame::new_unchecked(&mut out[..]);
        repr.emit(&mut frame).expect("fits");
        frame.payload_mut().copy_from_slice(&[0xaa, 0xbb]);
        assert_eq!(
            out,
            [
                2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x00, 0x05, 0x80, 0x80, 0x03, 0xaa, 0xbb
            ]
        );
        let frame = LlcFrame::new_checked(&out[..]).expect("valid");
        assert_eq!(LlcRepr::parse(&frame), Ok(repr));
        assert_eq!(frame.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn data_saps_are_bit_reversed() {
        // SAP 2 = 0b0000_0010 travels as 0b0100_0000; SAP 63 as 0xFC.
        let mut out = [0u8; 17];
        let mut frame = LlcFrame::new_unchecked(&mut out[..]);
        frame.set_dsap(2);
        frame.set_ssap(63);
        assert_eq!((out[14], out[15]), (0x40, 0xfc));
        let frame = LlcFrame::new_unchecked(&out[..]);
        assert_eq!((frame.dsap(), frame.ssap()), (2, 63));
    }

    #[test]
    fn length_field_must_be_an_802_3_length_covering_the_llc_header() {
        let mut frame = [0u8; 60];
        frame[12..14].copy_from_slice(&0x0600u16.to_be_bytes());
        assert!(matches!(
            LlcFrame::new_checked(&frame[..]),
            Err(WireError::Invalid { .. })
        ));
        frame[12..14].copy_from_slice(&2u16.to_be_bytes());
        assert!(matches!(
            LlcFrame::new_checked(&frame[..]),
            Err(WireError::Invalid { .. })
        ));
        frame[12..14].copy_from_slice(&47u16.to_be_bytes());
        assert_eq!(
            LlcFrame::new_checked(&frame[..]),
            Err(WireError::BadLength { field: 47, have: 46 })
        );
        frame[12..14].copy_from_slice(&3u16.to_be_bytes());
        // A keepalive: length 3, no payload, padded by the NIC to 60 octets.
        let checked = LlcFrame::new_checked(&frame[..]).expect("valid");
        assert_eq!(checked.payload(), &[] as &[u8]);
        assert_eq!(
            LlcFrame::new_checked(&frame[..16]),
            Err(WireError::Truncated { need: 17, have: 16 })
        );
    }

    #[test]
    fn emit_refuses_a_payload_an_802_3_length_cannot_count() {
        let repr = LlcRepr {
            dst_addr: mac(2),
            src_addr: mac(1),
            dsap: 2,
            ssap: 3,
            control: CONTROL_UI,
            payload_len: 0x05FD,
        };
        let mut out = [0u8; 17];
        assert_eq!(
            repr.emit(&mut LlcFrame::new_unchecked(&mut out[..])),
            Err(WireError::TooLong {
                len: 0x05FD,
                max: 0x05FC
            })
        );
    }

    #[test]
    fn flow_req_body_lays_out_sap_first_and_qos_in_its_own_order() {
        let hash = unhex(SHA3_256_OPING);
        let oap = oap_request();
        let repr = ShimMgmt::FlowReq {
            requester: 2,
            qos: QosSpec::RAW,
            hash: &hash,
            data: &oap,
        };
        let mut expected = unhex(
            "02 00 00 00
             00 00 00 01
             00 00 00 00 00 00 00 00
             00 00 00 01
             FF FF FF FF
             FF FF FF FF
             00 01 D4 C0
             00 00 00 00
             00",
        );
        assert_eq!(expected.len(), MGMT_LEN);
        expected.extend(&hash);
        expected.extend(&oap);
        let mut out = vec![0u8; Framing::EthLlc.buffer_len(&repr)];
        assert_eq!(Framing::EthLlc.emit(&repr, &mut out), Ok(expected.len()));
        assert_eq!(out, expected);
        assert_eq!(Framing::EthLlc.parse(&expected, 32), Ok(repr));
    }

    #[test]
    fn flow_reply_body_takes_everything_after_the_fixed_part_as_oap() {
        let mut body = vec![0u8; MGMT_LEN];
        body[0] = 5; // ssap: responder
        body[1] = 2; // dsap: requester
        body[2] = 1; // FLOW_REPLY
        body[32..36].copy_from_slice(&(-1008i32).to_be_bytes());
        body.extend([7; 84]);
        assert_eq!(
            Framing::EthLlc.parse(&body, 32),
            Ok(ShimMgmt::FlowReply {
                requester: 2,
                responder: 5,
                response: -1008,
                data: &[7; 84],
            })
        );
    }

    #[test]
    fn body_that_cannot_fit_a_frame_is_refused() {
        let body = vec![0u8; MAX_MGMT_LEN + 1];
        assert_eq!(
            Framing::EthLlc.parse(&body, 32),
            Err(WireError::TooLong { len: 1533, max: 1532 })
        );
        assert_eq!(Framing::EthLlc.max_len(), MAX_PAYLOAD_LEN);
    }

    proptest! {
        #[test]
        fn frame_repr_emit_then_parse_is_identity(
            dst_addr in arb_mac(), src_addr in arb_mac(), dsap in any::<u8>(), ssap in any::<u8>(),
            control in any::<u8>(), payload_len in 0u16..=MAX_PAYLOAD_LEN as u16
        ) {
            let repr = LlcRepr { dst_addr, src_addr, dsap, ssap, control, payload_len };
            let mut out = vec![0u8; repr.total_len()];
            repr.emit(&mut LlcFrame::new_unchecked(&mut out[..])).expect("fits");
            let frame = LlcFrame::new_checked(&out[..]).expect("emitted frame");
            prop_assert_eq!(LlcRepr::parse(&frame), Ok(repr));
        }

        #[test]
        fn frame_parse_then_emit_is_identity(
            header in proptest::collection::vec(any::<u8>(), 14),
            llc in any::<[u8; 3]>(),
            payload in proptest::collection::vec(any::<u8>(), 0..80),
            pad in 0usize..40,
        ) {
            let mut frame = header;
            frame[12..14].copy_from_slice(&(payload.len() as u16 + 3).to_be_bytes());
            frame.extend(llc);
            frame.extend(&payload);
            frame.extend(std::iter::repeat_n(0, pad));
            fuzz_frame(&frame);
        }
    }
}
