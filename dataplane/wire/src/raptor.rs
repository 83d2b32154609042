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
//! The QoS has no timeout field. The C receiver refuses a message whose
//! length is not exactly 30 (+ hash), and so does parsing. Fields a code
//! does not use were left uninitialised by the C sender; they are kept as
//! read.

use core::fmt;

pub use crate::dix::MgmtCode;
use crate::octets::Hex;
use crate::qos::QosSpec;
use crate::trailer::Trailer;
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
pub const MGMT_LEN: usize = mgmt_field::TRAILER;

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

mod mgmt_field {
    use crate::qos_fields::QosFields;

    pub const CODE: usize = 0;
    pub const SEID: usize = 1;
    pub const DEID: usize = 2;
    pub const RESPONSE: usize = 3;
    pub const TRAILER: usize = 30;
    pub const QOS: QosFields = QosFields {
        loss: 4,
        bandwidth: 8,
        ber: 16,
        max_gap: 20,
        delay: 24,
        timeout: None,
        in_order: 28,
        availability: 29,
    }
    .within(TRAILER);
}

/// The pieces after the fixed part: the hash where eth-dix has one, and
/// never data (the C receiver takes exactly 30 octets plus the hash).
const fn mgmt_trailer(code: MgmtCode) -> Trailer {
    Trailer {
        hash: code.has_hash(),
        data: false,
    }
}

/// A read/write view of a raptor management message (payload of EID 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaptorMgmt<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(
    RaptorMgmt,
    "Wraps a buffer holding the 30-octet fixed part, within a frame."
);

impl<T: AsRef<[u8]>> RaptorMgmt<T> {
    /// Checks the fixed part is present and the message fits in a frame.
    pub fn check_len(&self) -> Result<()> {
        view::check_bounds(self.buffer.as_ref().len(), MGMT_LEN, MAX_PAYLOAD_LEN)
    }

    /// The raw code octet.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[mgmt_field::CODE]
    }

    /// EID of the sender of this message.
    pub fn seid(&self) -> u8 {
        self.buffer.as_ref()[mgmt_field::SEID]
    }

    /// EID of the receiver of this message (FLOW_REPLY).
    pub fn deid(&self) -> u8 {
        self.buffer.as_ref()[mgmt_field::DEID]
    }

    /// Allocation result, truncated to 8 bits by the C sender (FLOW_REPLY).
    pub fn response(&self) -> i8 {
        self.buffer.as_ref()[mgmt_field::RESPONSE] as i8
    }

    /// The QoS fields (FLOW_REQ); timeout is not carried and reads as 0.
    pub fn qos(&self) -> QosSpec {
        mgmt_field::QOS.read(self.buffer.as_ref())
    }

    /// Everything after the fixed part.
    pub fn trailer(&self) -> &[u8] {
        &self.buffer.as_ref()[mgmt_field::TRAILER..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RaptorMgmt<T> {
    /// Sets the raw code octet.
    pub fn set_code(&mut self, code: u8) {
        self.buffer.as_mut()[mgmt_field::CODE] = code;
    }

    /// Sets the sender's EID.
    pub fn set_seid(&mut self, eid: u8) {
        self.buffer.as_mut()[mgmt_field::SEID] = eid;
    }

    /// Sets the receiver's EID.
    pub fn set_deid(&mut self, eid: u8) {
        self.buffer.as_mut()[mgmt_field::DEID] = eid;
    }

    /// Sets the allocation result.
    pub fn set_response(&mut self, response: i8) {
        self.buffer.as_mut()[mgmt_field::RESPONSE] = response as u8;
    }

    /// Sets the QoS fields; the timeout has no field and is dropped.
    pub fn set_qos(&mut self, qos: &QosSpec) {
        mgmt_field::QOS.write(self.buffer.as_mut(), qos);
    }

    /// Everything after the fixed part, writable.
    pub fn trailer_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[mgmt_field::TRAILER..]
    }
}

/// A raptor management message; the hash borrows the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RaptorMgmtRepr<'a> {
    /// What the message is.
    pub code: MgmtCode,
    /// EID of the sender of this message.
    pub seid: u8,
    /// EID of the receiver of this message (FLOW_REPLY).
    pub deid: u8,
    /// Allocation result (FLOW_REPLY).
    pub response: i8,
    /// QoS of the requested flow (FLOW_REQ); `timeout` is not carried,
    /// parses as 0 and is ignored on emit.
    pub qos: QosSpec,
    /// Name hash (FLOW_REQ, name queries); empty in FLOW_REPLY.
    pub hash: &'a [u8],
}

impl<'a> RaptorMgmtRepr<'a> {
    /// Reads a checked message of a layer whose hashes are `hash_len` octets.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(msg: &RaptorMgmt<&'a T>, hash_len: usize) -> Result<RaptorMgmtRepr<'a>> {
        msg.check_len()?;
        let code = MgmtCode::try_from(msg.code())?;
        let (hash, _) = mgmt_trailer(code).split(&msg.buffer.as_ref()[mgmt_field::TRAILER..], hash_len, MGMT_LEN)?;
        Ok(RaptorMgmtRepr {
            code,
            seid: msg.seid(),
            deid: msg.deid(),
            response: msg.response(),
            qos: msg.qos(),
            hash,
        })
    }

    /// Octets [`RaptorMgmtRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        MGMT_LEN + self.hash.len()
    }

    /// Writes the message into the first [`RaptorMgmtRepr::buffer_len`]
    /// octets; fails when the buffer is shorter, the message does not fit
    /// a frame, or a FLOW_REPLY is given a hash.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, msg: &mut RaptorMgmt<T>) -> Result<()> {
        self.code.check_trailer(self.hash, &[])?;
        view::check_emit(self.buffer_len(), MAX_PAYLOAD_LEN, msg.buffer.as_ref().len())?;
        msg.set_code(self.code as u8);
        msg.set_seid(self.seid);
        msg.set_deid(self.deid);
        msg.set_response(self.response);
        msg.set_qos(&self.qos);
        msg.trailer_mut()[..self.hash.len()].copy_from_slice(self.hash);
        Ok(())
    }
}

impl fmt::Display for RaptorMgmtRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = &self.qos;
        write!(
            f,
            "raptor-mgmt {} seid {} deid {} response {} hash {} (qos delay={} bw={} avail={} \
             loss={} ber={} in_order={} max_gap={})",
            self.code,
            self.seid,
            self.deid,
            self.response,
            Hex(self.hash),
            q.delay,
            q.bandwidth,
            q.availability,
            q.loss,
            q.ber,
            q.in_order,
            q.max_gap
        )
    }
}

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

/// Decoder entry: a management message of a SHA3-256 layer round-trips.
pub(crate) fn fuzz_mgmt(data: &[u8]) {
    crate::decoders::round_trip(
        "raptor_mgmt",
        data,
        |d| RaptorMgmtRepr::parse(&RaptorMgmt::new_checked(d)?, crate::decoders::FUZZ_HASH_LEN),
        RaptorMgmtRepr::buffer_len,
        |repr, out| repr.emit(&mut RaptorMgmt::new_unchecked(out)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{QOS_UNSET, SHA3_256_OPING, arb_mgmt_trailer, arb_qos, fuzz_with_code, unhex};
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
        let repr = RaptorMgmtRepr {
            code: MgmtCode::FlowReq,
            seid: 2,
            deid: 0,
            response: 0,
            qos: QosSpec {
                timeout: 0,
                ..QosSpec::RAW
            },
            hash: &hash,
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
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut RaptorMgmt::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!(out, expected);
        let msg = RaptorMgmt::new_checked(&expected[..]).expect("valid");
        assert_eq!(RaptorMgmtRepr::parse(&msg, 32), Ok(repr));

        expected.push(0);
        let msg = RaptorMgmt::new_checked(&expected[..]).expect("length ok");
        assert_eq!(
            RaptorMgmtRepr::parse(&msg, 32),
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
        let msg = RaptorMgmt::new_checked(&body[..]).expect("valid");
        let repr = RaptorMgmtRepr::parse(&msg, 32).expect("valid reply");
        assert_eq!((repr.seid, repr.deid, repr.response, repr.hash), (3, 2, -1, &[][..]));
        body.push(0);
        let msg = RaptorMgmt::new_checked(&body[..]).expect("length ok");
        assert_eq!(
            RaptorMgmtRepr::parse(&msg, 32),
            Err(WireError::TooLong { len: 31, max: 30 })
        );
    }

    #[test]
    fn management_frame_carries_a_name_query_to_eid_1() {
        let hash = unhex(SHA3_256_OPING);
        let query = RaptorMgmtRepr {
            code: MgmtCode::NameQueryReq,
            seid: 0,
            deid: 0,
            response: 0,
            qos: QOS_UNSET,
            hash: &hash,
        };
        let header = RaptorRepr {
            eid: MGMT_EID,
            payload_len: query.buffer_len() as u16,
        };
        let mut page = vec![0u8; PAGE_LEN];
        let mut frame = RaptorFrame::new_unchecked(&mut page[..]);
        header.emit(&mut frame).expect("fits");
        query
            .emit(&mut RaptorMgmt::new_unchecked(frame.payload_mut()))
            .expect("fits");
        assert_eq!(page[..3], [65, 0, 1]);
        let frame = RaptorFrame::new_checked(&page[..]).expect("valid");
        let msg = RaptorMgmt::new_checked(frame.payload()).expect("valid");
        assert_eq!(RaptorMgmtRepr::parse(&msg, 32), Ok(query));
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

        #[test]
        fn mgmt_repr_emit_then_parse_is_identity(
            (code, hash, _) in arb_mgmt_trailer(),
            eids in any::<(u8, u8)>(), response in any::<i8>(), qos in arb_qos(),
        ) {
            let qos = QosSpec { timeout: 0, ..qos };
            let repr = RaptorMgmtRepr { code, seid: eids.0, deid: eids.1, response, qos, hash: &hash };
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut RaptorMgmt::new_unchecked(&mut out[..])).expect("fits");
            let msg = RaptorMgmt::new_checked(&out[..]).expect("emitted message");
            prop_assert_eq!(RaptorMgmtRepr::parse(&msg, 32), Ok(repr));
        }

        #[test]
        fn mgmt_parse_then_emit_is_identity(
            code in 0u8..5, body in proptest::collection::vec(any::<u8>(), MGMT_LEN..MGMT_LEN + 40)
        ) {
            fuzz_with_code(fuzz_mgmt, body, mgmt_field::CODE, code, MGMT_LEN);
        }
    }
}
