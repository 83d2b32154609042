//! The raptor frame: Ouroboros directly over the "raptor" NetFPGA device,
//! as the C prototype's raptor IPCP exchanged it with the device driver.
//!
//! Not in PROTOCOL.md. Source: `dstaesse/ouroboros`,
//! `src/ipcpd/raptor/main.c`, read at commit `fa2ca608` (2021-01-02, the
//! last version before the IPCP was removed in `994465e3`, 2021-03-26).
//! The layout below holds from `ae64a715`/`b802b25d` (2018-10, tags
//! 0.12.0 through 0.17.x); older versions had the same frame header with
//! octet 2 called the DSAP, but a 5-octet management message (code, ssap,
//! dsap, qoscube, response), and the first version (`7f077e97`) a
//! protobuf one. Only the 0.12–0.17 management message is implemented.
//!
//! Frame, as handed to / taken from the device (one 4 KiB page each):
//!
//! ```text
//!  0              2      3
//! +--------------+------+------------------------------+------------
//! | length (LE!) | EID  | payload                      | rest of page
//! +--------------+------+------------------------------+------------
//!  length counts the whole frame, these 3 octets included;
//!  3 <= length < 3896 (a page minus 200 octets)
//! ```
//!
//! The length is written low octet first (`frame[0] = len & 0xFF`), unlike
//! every other shim. The EID is one octet: 1 is management, flows get EIDs
//! from 2 up to 63. The receiver cuts the payload to the length; whatever
//! follows in the page is ignored.
//!
//! Management message (EID 1), 30 octets, integers BE:
//!
//! ```text
//! offset size field
//!  0     1    code          0 FLOW_REQ, 1 FLOW_REPLY, 2 NAME_QUERY_REQ, 3 NAME_QUERY_REPLY
//!  1     1    seid          sender's EID
//!  2     1    deid          receiver's EID (FLOW_REPLY)
//!  3     1    response (i8) FLOW_REPLY
//!  4     4    loss          FLOW_REQ
//!  8     8    bandwidth
//! 16     4    ber
//! 20     4    max_gap
//! 24     4    delay
//! 28     1    in_order
//! 29     1    availability
//! 30     ...  hash (layer hash length) for FLOW_REQ and both name queries;
//!             nothing for FLOW_REPLY
//! ```
//!
//! The QoS has no timeout field: it reads as 0 and is not sent. The C
//! receiver refuses a message whose length is not exactly 30 (+ hash), and
//! so does parsing; there is no OAP header. Fields a code does not use
//! were left uninitialised by the C sender: they are ignored when read
//! and written as zero.
//!
//! What a message says is a [`ShimMgmt`](crate::shim_mgmt::ShimMgmt), the
//! same for every shim; `MGMT_LAYOUT` states where raptor puts each
//! field, and [`Framing::Raptor`](crate::shim_mgmt::Framing::Raptor)
//! parses and emits through it (EIDs and the response of 8 bits, a wider
//! one refused).

use core::fmt;

use crate::qos_fields::QosFields;
use crate::shim_mgmt::{IntField, MgmtLayout};
use crate::view::{self, impl_view};
use crate::{Result, WireError};

/// Octets of the frame header.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// The size the device's buffers are cut to (RAPTOR_PAGE); a frame is
/// strictly shorter.
pub const PAGE_LEN: usize = 4096 - 200;
/// Longest frame, header included.
pub const MAX_FRAME_LEN: usize = PAGE_LEN - 1;
/// Longest payload.
pub const MAX_PAYLOAD_LEN: usize = MAX_FRAME_LEN - HEADER_LEN;
/// The EID of management frames.
pub const MGMT_EID: u8 = 1;
/// Octets of the fixed part of a management message.
pub const MGMT_LEN: usize = MGMT_LAYOUT.fixed_len;

mod field {
    use core::ops::Range;

    pub const LENGTH: Range<usize> = 0..2;
    pub const EID: usize = 2;
    pub const PAYLOAD: usize = 3;
}

/// A read/write view of a raptor frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaptorFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(
    RaptorFrame,
    "Wraps a buffer whose length field is valid and fits in it."
);

impl<T: AsRef<[u8]>> RaptorFrame<T> {
    /// Checks the header, the bounds the C receiver puts on the length
    /// field, and that the frame it announces is present.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        view::check_min(have, HEADER_LEN)?;
        let length = usize::from(self.length());
        if length < HEADER_LEN {
            return Err(WireError::Invalid {
                what: "raptor length shorter than its header",
            });
        }
        if length > MAX_FRAME_LEN {
            return Err(WireError::TooLong {
                len: length,
                max: MAX_FRAME_LEN,
            });
        }
        if length > have {
            return Err(WireError::BadLength { field: length, have });
        }
        Ok(())
    }

    /// Frame length, header included (little-endian on the wire).
    #[inline]
    pub fn length(&self) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_le_bytes([data[0], data[1]])
    }

    /// Destination EID; 1 = management.
    #[inline]
    pub fn eid(&self) -> u8 {
        self.buffer.as_ref()[field::EID]
    }

    /// The payload, cut to the length field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        let end = usize::from(self.length()).min(data.len());
        &data[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RaptorFrame<T> {
    /// Sets the frame length (header included).
    #[inline]
    pub fn set_length(&mut self, length: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&length.to_le_bytes());
    }

    /// Sets the destination EID.
    #[inline]
    pub fn set_eid(&mut self, eid: u8) {
        self.buffer.as_mut()[field::EID] = eid;
    }

    /// The payload as the length field delimits it, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.length()).min(self.buffer.as_ref().len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// A raptor frame header; the payload stays in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RaptorRepr {
    /// Destination EID; 1 = management.
    pub eid: u8,
    /// Octets of payload, at most [`MAX_PAYLOAD_LEN`].
    pub payload_len: u16,
}

impl RaptorRepr {
    /// Reads a checked frame header.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &RaptorFrame<&T>) -> Result<RaptorRepr> {
        frame.check_len()?;
        Ok(RaptorRepr {
            eid: frame.eid(),
            // At least 3 after the check.
            payload_len: frame.length() - HEADER_LEN as u16,
        })
    }

    /// Octets [`RaptorRepr::emit`] writes (the header only).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Octets of the frame, header and payload.
    pub const fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }

    /// Writes the header; fails when the frame would not fit a device page
    /// or the buffer is shorter than the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut RaptorFrame<T>) -> Result<()> {
        if usize::from(self.payload_len) > MAX_PAYLOAD_LEN {
            return Err(WireError::TooLong {
                len: self.payload_len.into(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        view::check_min(frame.buffer.as_ref().len(), HEADER_LEN)?;
        frame.set_length(self.payload_len + HEADER_LEN as u16);
        frame.set_eid(self.eid);
        Ok(())
    }
}

impl fmt::Display for RaptorRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "raptor eid {} len {}", self.eid, self.payload_len)
    }
}

/// Where the management message puts each field (the shared codec,
/// [`crate::shim_mgmt`], reads and writes through it).
pub(crate) const MGMT_LAYOUT: MgmtLayout = MgmtLayout {
    shim: "raptor",
    code_name: "raptor management code",
    fixed_len: 30,
    max_len: MAX_PAYLOAD_LEN,
    code: 0,
    codes: [Some(0), Some(1), Some(2), Some(3)],
    zero_word: None,
    // seid: the sender's EID, so the requester's in a request and the
    // responder's in a reply; deid: the receiver's.
    request_requester: IntField::eid(1, 1),
    reply_requester: IntField::eid(2, 1),
    reply_responder: IntField::eid(1, 1),
    // Truncated to 8 bits by the C sender: a wider one is refused here.
    response: IntField::response(3, 1),
    qos: QosFields {
        loss: 4,
        bandwidth: 8,
        ber: 16,
        max_gap: 20,
        delay: 24,
        timeout: None,
        in_order: 28,
        availability: 29,
    },
    fixed_hash_len: None,
    // The C receiver takes exactly 30 octets plus the hash.
    data: false,
}
.checked();

/// Decoder entry: a frame header and the payload it delimits round-trip.
pub(crate) fn fuzz_frame(data: &[u8]) {
    crate::decoders::round_trip_header(
        "raptor",
        data,
        HEADER_LEN,
        |d| RaptorRepr::parse(&RaptorFrame::new_checked(d)?),
        RaptorRepr::total_len,
        |repr, out| repr.emit(&mut RaptorFrame::new_unchecked(out)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{SHA3_256_OPING, unhex};
    use crate::qos::QosSpec;
    use crate::shim_mgmt::{Framing, ShimMgmt};
    use proptest::prelude::*;

    #[test]
    fn length_is_little_endian_and_counts_the_header() {
        let mut page = vec![0xeeu8; PAGE_LEN];
        let repr = RaptorRepr {
            eid: 5,
            payload_len: 0x0102,
        };
        let mut frame = RaptorFrame::new_unchecked(&mut page[..]);
        repr.emit(&mut frame).expect("fits");
        // 0x0102 + 3 = 0x0105, low octet first.
        assert_eq!(page[..3], [0x05, 0x01, 0x05]);
        let frame = RaptorFrame::new_checked(&page[..]).expect("valid");
        assert_eq!(RaptorRepr::parse(&frame), Ok(repr));
        // The rest of the page is not payload.
        assert_eq!(frame.payload().len(), 0x0102);
    }

    #[test]
    fn length_bounds_are_those_of_the_c_receiver() {
        let mut frame = vec![0u8; PAGE_LEN];
        frame[..2].copy_from_slice(&2u16.to_le_bytes());
        assert!(matches!(
            RaptorFrame::new_checked(&frame[..]),
            Err(WireError::Invalid { .. })
        ));
        frame[..2].copy_from_slice(&(PAGE_LEN as u16).to_le_bytes());
        assert_eq!(
            RaptorFrame::new_checked(&frame[..]),
            Err(WireError::TooLong { len: 3896, max: 3895 })
        );
        frame[..2].copy_from_slice(&3u16.to_le_bytes());
        let empty = RaptorFrame::new_checked(&frame[..]).expect("keepalive-sized frame");
        assert!(empty.payload().is_empty());
        frame[..2].copy_from_slice(&10u16.to_le_bytes());
        assert_eq!(
            RaptorFrame::new_checked(&frame[..9]),
            Err(WireError::BadLength { field: 10, have: 9 })
        );
        assert_eq!(
            RaptorFrame::new_checked(&frame[..2]),
            Err(WireError::Truncated { need: 3, have: 2 })
        );
    }

    #[test]
    fn flow_req_is_the_fixed_part_and_the_hash_exactly() {
        let hash = unhex(SHA3_256_OPING);
        let repr = ShimMgmt::FlowReq {
            requester: 2,
            qos: QosSpec {
                timeout: 0,
                ..QosSpec::RAW
            },
            hash: &hash,
            data: &[],
        };
        let mut expected = unhex(
            "00 02 00 00
             00 00 00 01
             00 00 00 00 00 00 00 00
             00 00 00 01
             FF FF FF FF
             FF FF FF FF
             00 00",
        );
        assert_eq!(expected.len(), MGMT_LEN);
        expected.extend(&hash);
        let mut out = vec![0u8; Framing::Raptor.buffer_len(&repr)];
        Framing::Raptor.emit(&repr, &mut out).expect("fits");
        assert_eq!(out, expected);
        assert_eq!(Framing::Raptor.parse(&expected, 32), Ok(repr));
        // The timeout has no field: it is not sent.
        let with_timeout = ShimMgmt::FlowReq {
            requester: 2,
            qos: QosSpec::RAW,
            hash: &hash,
            data: &[],
        };
        Framing::Raptor.emit(&with_timeout, &mut out).expect("fits");
        assert_eq!(out, expected);

        expected.push(0);
        assert_eq!(
            Framing::Raptor.parse(&expected, 32),
            Err(WireError::TooLong { len: 63, max: 62 })
        );
    }

    #[test]
    fn flow_reply_is_exactly_30_octets_with_an_8_bit_response() {
        let mut body = vec![0u8; MGMT_LEN];
        body[0] = 1;
        body[1] = 3;
        body[2] = 2;
        body[3] = (-1i8) as u8;
        // seid: the responder, who sends it; deid: the requester.
        assert_eq!(
            Framing::Raptor.parse(&body, 32),
            Ok(ShimMgmt::FlowReply {
                requester: 2,
                responder: 3,
                response: -1,
                data: &[],
            })
        );
        body.push(0);
        assert_eq!(
            Framing::Raptor.parse(&body, 32),
            Err(WireError::TooLong { len: 31, max: 30 })
        );
    }

    #[test]
    fn management_frame_carries_a_name_query_to_eid_1() {
        let hash = unhex(SHA3_256_OPING);
        let query = ShimMgmt::NameQuery { hash: &hash };
        let header = RaptorRepr {
            eid: MGMT_EID,
            payload_len: Framing::Raptor.buffer_len(&query) as u16,
        };
        let mut page = vec![0u8; PAGE_LEN];
        let mut frame = RaptorFrame::new_unchecked(&mut page[..]);
        header.emit(&mut frame).expect("fits");
        Framing::Raptor.emit(&query, frame.payload_mut()).expect("fits");
        assert_eq!(page[..3], [65, 0, 1]);
        let frame = RaptorFrame::new_checked(&page[..]).expect("valid");
        assert_eq!(Framing::Raptor.parse(frame.payload(), 32), Ok(query));
    }

    proptest! {
        #[test]
        fn frame_repr_emit_then_parse_is_identity(eid in any::<u8>(), payload_len in 0u16..=MAX_PAYLOAD_LEN as u16) {
            let repr = RaptorRepr { eid, payload_len };
            let mut out = vec![0u8; repr.total_len()];
            repr.emit(&mut RaptorFrame::new_unchecked(&mut out[..])).expect("fits");
            let frame = RaptorFrame::new_checked(&out[..]).expect("emitted frame");
            prop_assert_eq!(RaptorRepr::parse(&frame), Ok(repr));
        }

        #[test]
        fn frame_parse_then_emit_is_identity(
            eid in any::<u8>(), payload in proptest::collection::vec(any::<u8>(), 0..60), pad in 0usize..20
        ) {
            let mut data = ((payload.len() + 3) as u16).to_le_bytes().to_vec();
            data.push(eid);
            data.extend(&payload);
            data.extend(std::iter::repeat_n(0xee, pad));
            fuzz_frame(&data);
        }
    }
}
