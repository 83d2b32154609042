//! eth-dix: the inner header the shim puts in an Ethernet II frame, and its
//! management message (PROTOCOL.md §2.1–2.2).
//!
//! ```text
//!  0     6     12     14    16       18
//! +-----+-----+------+-----+--------+------------------+---------+
//! | dst | src | type | EID | length | payload          | padding |
//! +-----+-----+------+-----+--------+------------------+---------+
//!  \ eth::EthFrame ..../\ DixHeader (all BE) .......... / ignored
//! ```
//!
//! `length` counts the payload only. The C receiver trusts it without
//! comparing it to what arrived; this view insists it fits, and cuts the
//! payload to it so that NIC padding is never handed up.
//!
//! Management message (EID 0), 39 octets, integers BE:
//!
//! ```text
//! offset size field          used in
//!  0     2    seid           FLOW_REQ, FLOW_REPLY (EID of this message's sender)
//!  2     2    deid           FLOW_REPLY (EID of this message's receiver)
//!  4     4    loss           FLOW_REQ
//!  8     8    bandwidth      FLOW_REQ
//! 16     4    ber            FLOW_REQ
//! 20     4    max_gap        FLOW_REQ
//! 24     4    delay          FLOW_REQ
//! 28     4    timeout        FLOW_REQ
//! 32     4    response (i32) FLOW_REPLY
//! 36     1    in_order       FLOW_REQ
//! 37     1    code           all
//! 38     1    availability   FLOW_REQ
//! 39     ...  trailer: FLOW_REQ hash + OAP request; FLOW_REPLY OAP response;
//!                      NAME_QUERY_REQ / NAME_QUERY_REPLY hash
//! ```
//!
//! The hash has the layer's length (configured identically on both ends,
//! default SHA3-256, 32 octets), so parsing takes it as an argument.
//! Unused fields are zero when the C prototype sends them, but they are
//! kept as read so that emitting a parsed message reproduces it exactly.

use core::fmt;

use crate::eth::{self, EthFrame, EthRepr};
use crate::octets::{Hex, put_u16_be, put_u32_be, u16_be, u32_be};
use crate::qos::QosSpec;
use crate::trailer::{self, Trailer};
use crate::view::{self, impl_view};
use crate::{Result, WireError};

/// Octets of the inner header.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// Octets of Ethernet plus inner header in front of the payload.
pub const FRAME_HEADER_LEN: usize = eth::HEADER_LEN + HEADER_LEN;
/// The EID of management messages.
pub const MGMT_EID: u16 = 0;
/// Octets of the fixed part of a management message.
pub const MGMT_LEN: usize = mgmt_field::TRAILER;
/// Longest management message the C receiver accepts
/// (IPCP_ETH_MGMT_FRAME_SIZE).
pub const MAX_MGMT_LEN: usize = 9000;

mod field {
    use core::ops::Range;

    pub const EID: Range<usize> = 0..2;
    pub const LENGTH: Range<usize> = 2..4;
    pub const PAYLOAD: usize = 4;
}

/// A read/write view of the eth-dix inner header and its payload, over
/// the Ethernet payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DixHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(DixHeader, "Wraps a buffer whose length field fits in what is present.");

impl<T: AsRef<[u8]>> DixHeader<T> {
    /// Checks the header and that `length` octets follow it (padding
    /// after them is allowed).
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        view::check_min(have, HEADER_LEN)?;
        let length = usize::from(self.length());
        if length > have - HEADER_LEN {
            return Err(WireError::BadLength {
                field: length,
                have: have - HEADER_LEN,
            });
        }
        Ok(())
    }

    /// Destination endpoint at the receiver; 0 = management.
    #[inline]
    pub fn eid(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::EID])
    }

    /// Payload octets that follow the header.
    #[inline]
    pub fn length(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::LENGTH])
    }

    /// Octets the header and its payload occupy, without padding.
    #[inline]
    pub fn total_len(&self) -> usize {
        HEADER_LEN + usize::from(self.length())
    }

    /// The payload, cut to the length field (padding dropped).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        let end = self.total_len().min(data.len());
        &data[field::PAYLOAD..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DixHeader<T> {
    /// Sets the destination EID.
    #[inline]
    pub fn set_eid(&mut self, eid: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::EID], eid);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_length(&mut self, length: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::LENGTH], length);
    }

    /// The payload as the length field delimits it, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.total_len().min(self.buffer.as_ref().len());
        &mut self.buffer.as_mut()[field::PAYLOAD..end]
    }
}

/// The eth-dix inner header; the payload stays in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DixRepr {
    /// Destination endpoint at the receiver; 0 = management.
    pub eid: u16,
    /// Octets of payload.
    pub payload_len: u16,
}

impl DixRepr {
    /// Reads a checked header.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(header: &DixHeader<&T>) -> Result<DixRepr> {
        header.check_len()?;
        Ok(DixRepr {
            eid: header.eid(),
            payload_len: header.length(),
        })
    }

    /// Octets [`DixRepr::emit`] writes (the header only).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Octets of header and payload.
    pub const fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }

    /// Writes the header; the buffer must hold at least [`HEADER_LEN`] octets.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut DixHeader<T>) {
        header.set_eid(self.eid);
        header.set_length(self.payload_len);
    }
}

impl fmt::Display for DixRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dix eid {} len {}", self.eid, self.payload_len)
    }
}

/// Management message codes, shared by eth-dix, eth-llc and raptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MgmtCode {
    /// Flow allocation request: hash, then the OAP request.
    FlowReq = 0,
    /// Flow allocation reply: the OAP response (may be empty on refusal).
    FlowReply = 1,
    /// Broadcast name query: hash.
    NameQueryReq = 2,
    /// Unicast answer to a name query: hash.
    NameQueryReply = 3,
}

impl MgmtCode {
    /// All codes, by value.
    pub const ALL: [MgmtCode; 4] = [
        MgmtCode::FlowReq,
        MgmtCode::FlowReply,
        MgmtCode::NameQueryReq,
        MgmtCode::NameQueryReply,
    ];

    /// Whether a hash of the layer's length leads the trailer.
    pub const fn has_hash(self) -> bool {
        self.trailer().hash
    }

    /// Whether piggybacked data (OAP) may follow.
    pub const fn has_data(self) -> bool {
        self.trailer().data
    }

    /// The pieces after the fixed part, in eth-dix and eth-llc (raptor
    /// carries no data).
    pub(crate) const fn trailer(self) -> Trailer {
        match self {
            MgmtCode::FlowReq => Trailer::HASH_AND_DATA,
            MgmtCode::FlowReply => Trailer::DATA,
            MgmtCode::NameQueryReq | MgmtCode::NameQueryReply => Trailer::HASH,
        }
    }

    /// Checks that a Repr's trailer pieces are ones this code carries.
    pub(crate) fn check_trailer(self, hash: &[u8], data: &[u8]) -> Result<()> {
        if !self.has_hash() && !hash.is_empty() {
            return Err(WireError::Invalid {
                what: "hash in a FLOW_REPLY",
            });
        }
        if !self.has_data() && !data.is_empty() {
            return Err(WireError::Invalid {
                what: "data after a name query's hash",
            });
        }
        Ok(())
    }
}

impl TryFrom<u8> for MgmtCode {
    type Error = WireError;

    fn try_from(code: u8) -> Result<MgmtCode> {
        MgmtCode::ALL
            .get(usize::from(code))
            .copied()
            .ok_or(WireError::UnknownCode {
                what: "eth management code",
                value: u32::from(code),
            })
    }
}

impl fmt::Display for MgmtCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MgmtCode::FlowReq => "FLOW_REQ",
            MgmtCode::FlowReply => "FLOW_REPLY",
            MgmtCode::NameQueryReq => "NAME_QUERY_REQ",
            MgmtCode::NameQueryReply => "NAME_QUERY_REPLY",
        })
    }
}

mod mgmt_field {
    use core::ops::Range;

    use crate::qos_fields::QosFields;

    pub const SEID: Range<usize> = 0..2;
    pub const DEID: Range<usize> = 2..4;
    pub const RESPONSE: Range<usize> = 32..36;
    pub const CODE: usize = 37;
    pub const TRAILER: usize = 39;
    pub const QOS: QosFields = QosFields {
        loss: 4,
        bandwidth: 8,
        ber: 16,
        max_gap: 20,
        delay: 24,
        timeout: Some(28),
        in_order: 36,
        availability: 38,
    }
    .within(TRAILER);
}

/// A read/write view of an eth-dix management message (the payload of a
/// frame with EID 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DixMgmt<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(DixMgmt, "Wraps a buffer of 39 to 9000 octets.");

impl<T: AsRef<[u8]>> DixMgmt<T> {
    /// Checks the fixed part is present and the whole is not longer than
    /// the C receiver accepts.
    pub fn check_len(&self) -> Result<()> {
        view::check_bounds(self.buffer.as_ref().len(), MGMT_LEN, MAX_MGMT_LEN)
    }

    /// EID chosen by the sender of this message.
    pub fn seid(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[mgmt_field::SEID])
    }

    /// EID of the receiver of this message (FLOW_REPLY).
    pub fn deid(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[mgmt_field::DEID])
    }

    /// The QoS fields (FLOW_REQ).
    pub fn qos(&self) -> QosSpec {
        mgmt_field::QOS.read(self.buffer.as_ref())
    }

    /// Allocation result (FLOW_REPLY): 0 accepted, negative refused.
    pub fn response(&self) -> i32 {
        u32_be(&self.buffer.as_ref()[mgmt_field::RESPONSE]) as i32
    }

    /// The raw code octet.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[mgmt_field::CODE]
    }

    /// Everything after the fixed part.
    pub fn trailer(&self) -> &[u8] {
        &self.buffer.as_ref()[mgmt_field::TRAILER..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DixMgmt<T> {
    /// Sets the sender's EID.
    pub fn set_seid(&mut self, eid: u16) {
        put_u16_be(&mut self.buffer.as_mut()[mgmt_field::SEID], eid);
    }

    /// Sets the receiver's EID.
    pub fn set_deid(&mut self, eid: u16) {
        put_u16_be(&mut self.buffer.as_mut()[mgmt_field::DEID], eid);
    }

    /// Sets all QoS fields.
    pub fn set_qos(&mut self, qos: &QosSpec) {
        mgmt_field::QOS.write(self.buffer.as_mut(), qos);
    }

    /// Sets the allocation result.
    pub fn set_response(&mut self, response: i32) {
        put_u32_be(&mut self.buffer.as_mut()[mgmt_field::RESPONSE], response as u32);
    }

    /// Sets the raw code octet.
    pub fn set_code(&mut self, code: u8) {
        self.buffer.as_mut()[mgmt_field::CODE] = code;
    }

    /// Everything after the fixed part, writable.
    pub fn trailer_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[mgmt_field::TRAILER..]
    }
}

/// An eth-dix management message; the trailer pieces borrow the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DixMgmtRepr<'a> {
    /// What the message is.
    pub code: MgmtCode,
    /// EID chosen by the sender of this message (requester in FLOW_REQ,
    /// responder in FLOW_REPLY).
    pub seid: u16,
    /// EID of the receiver of this message (the requester's, in FLOW_REPLY).
    pub deid: u16,
    /// QoS of the requested flow (FLOW_REQ).
    pub qos: QosSpec,
    /// Allocation result (FLOW_REPLY).
    pub response: i32,
    /// Name hash (FLOW_REQ and name queries); empty for FLOW_REPLY.
    pub hash: &'a [u8],
    /// Piggybacked data, the OAP header (FLOW_REQ, FLOW_REPLY); empty for
    /// name queries.
    pub data: &'a [u8],
}

impl<'a> DixMgmtRepr<'a> {
    /// Reads a checked message whose layer hashes are `hash_len` octets.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(msg: &DixMgmt<&'a T>, hash_len: usize) -> Result<DixMgmtRepr<'a>> {
        msg.check_len()?;
        let code = MgmtCode::try_from(msg.code())?;
        let trailer = &msg.buffer.as_ref()[mgmt_field::TRAILER..];
        let (hash, data) = code.trailer().split(trailer, hash_len, MGMT_LEN)?;
        Ok(DixMgmtRepr {
            code,
            seid: msg.seid(),
            deid: msg.deid(),
            qos: msg.qos(),
            response: msg.response(),
            hash,
            data,
        })
    }

    /// Octets [`DixMgmtRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        MGMT_LEN + self.hash.len() + self.data.len()
    }

    /// Writes the message into the first [`DixMgmtRepr::buffer_len`]
    /// octets; fails when the buffer is shorter, the message longer than
    /// [`MAX_MGMT_LEN`], or the code does not carry the trailer pieces given.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, msg: &mut DixMgmt<T>) -> Result<()> {
        self.code.check_trailer(self.hash, self.data)?;
        view::check_emit(self.buffer_len(), MAX_MGMT_LEN, msg.buffer.as_ref().len())?;
        msg.set_seid(self.seid);
        msg.set_deid(self.deid);
        msg.set_qos(&self.qos);
        msg.set_response(self.response);
        msg.set_code(self.code as u8);
        trailer::put(msg.trailer_mut(), self.hash, self.data);
        Ok(())
    }
}

impl fmt::Display for DixMgmtRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dix-mgmt {} seid {} deid {} response {} hash {} data {} ({})",
            self.code,
            self.seid,
            self.deid,
            self.response,
            Hex(self.hash),
            self.data.len(),
            self.qos
        )
    }
}

/// Octets of a whole frame (before NIC padding) carrying `payload_len`.
pub const fn frame_len(payload_len: usize) -> usize {
    FRAME_HEADER_LEN + payload_len
}

/// Writes a complete eth-dix frame — Ethernet header, inner header, payload
/// — at the start of `buf`, and returns its length.
pub fn emit_frame(buf: &mut [u8], eth: &EthRepr, eid: u16, payload: &[u8]) -> Result<usize> {
    let len = put_frame_header(buf, eth, eid, payload.len())?;
    buf[FRAME_HEADER_LEN..len].copy_from_slice(payload);
    Ok(len)
}

/// Writes a complete eth-dix management frame (EID 0) at the start of
/// `buf`, and returns its length.
pub fn emit_mgmt_frame(buf: &mut [u8], eth: &EthRepr, msg: &DixMgmtRepr<'_>) -> Result<usize> {
    let len = put_frame_header(buf, eth, MGMT_EID, msg.buffer_len())?;
    msg.emit(&mut DixMgmt::new_unchecked(&mut buf[FRAME_HEADER_LEN..len]))?;
    Ok(len)
}

/// Writes Ethernet and inner header for a payload of `payload_len`
/// octets, after checking the frame fits; returns the frame length.
fn put_frame_header(buf: &mut [u8], eth: &EthRepr, eid: u16, payload_len: usize) -> Result<usize> {
    let length = u16::try_from(payload_len).map_err(|_| WireError::TooLong {
        len: payload_len,
        max: u16::MAX.into(),
    })?;
    let len = frame_len(payload_len);
    if buf.len() < len {
        return Err(WireError::Truncated {
            need: len,
            have: buf.len(),
        });
    }
    eth.emit(&mut EthFrame::new_unchecked(&mut buf[..eth::HEADER_LEN]));
    let repr = DixRepr {
        eid,
        payload_len: length,
    };
    repr.emit(&mut DixHeader::new_unchecked(
        &mut buf[eth::HEADER_LEN..FRAME_HEADER_LEN],
    ));
    Ok(len)
}

/// Reads a complete eth-dix frame: the Ethernet header, the inner header,
/// and the payload cut to its length field.
pub fn parse_frame(frame: &[u8]) -> Result<(EthRepr, DixRepr, &[u8])> {
    let outer = EthFrame::new_checked(frame)?;
    let eth = EthRepr::parse(&outer)?;
    let inner = DixHeader::new_checked(&frame[eth::HEADER_LEN..])?;
    let dix = DixRepr::parse(&inner)?;
    // In range: the inner header's check covered its length field.
    let payload = &frame[FRAME_HEADER_LEN..eth::HEADER_LEN + dix.total_len()];
    Ok((eth, dix, payload))
}

/// Decoder entry: an inner header and the payload it delimits round-trip.
pub(crate) fn fuzz_header(data: &[u8]) {
    crate::decoders::round_trip_header(
        "dix",
        data,
        HEADER_LEN,
        |d| DixRepr::parse(&DixHeader::new_checked(d)?),
        DixRepr::total_len,
        |repr, out| {
            repr.emit(&mut DixHeader::new_unchecked(out));
            Ok(())
        },
    );
}

/// Decoder entry: a management message of a SHA3-256 layer round-trips.
pub(crate) fn fuzz_mgmt(data: &[u8]) {
    crate::decoders::round_trip(
        "dix_mgmt",
        data,
        |d| DixMgmtRepr::parse(&DixMgmt::new_checked(d)?, crate::decoders::FUZZ_HASH_LEN),
        DixMgmtRepr::buffer_len,
        |repr, out| repr.emit(&mut DixMgmt::new_unchecked(out)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::{ETHERTYPE_O7S, MacAddr};
    use crate::fixtures::{
        QOS_UNSET, SHA3_256_OPING, arb_mac, arb_mgmt_trailer, arb_qos, fuzz_with_code, oap_request, oap_response, unhex,
    };
    use proptest::prelude::*;

    fn eth() -> EthRepr {
        EthRepr {
            dst_addr: MacAddr([0x02, 0, 0, 0, 0, 0x02]),
            src_addr: MacAddr([0x02, 0, 0, 0, 0, 0x01]),
            ethertype: ETHERTYPE_O7S,
        }
    }

    #[test]
    fn flow_req_example_of_19_1_is_byte_exact_both_ways() {
        let hash = unhex(SHA3_256_OPING);
        let oap = oap_request();
        let repr = DixMgmtRepr {
            code: MgmtCode::FlowReq,
            seid: 64,
            deid: 0,
            qos: QosSpec::RAW,
            response: 0,
            hash: &hash,
            data: &oap,
        };
        let mut expected = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
        expected.extend(unhex(
            "A0 00 | 00 00 | 00 6B
             00 40 00 00
             00 00 00 01
             00 00 00 00 00 00 00 00
             00 00 00 01
             FF FF FF FF
             FF FF FF FF
             00 01 D4 C0
             00 00 00 00
             00 00 00",
        ));
        expected.extend(&hash);
        expected.extend(&oap);
        assert_eq!(expected.len(), 18 + 107);

        let mut frame = [0u8; 200];
        let len = emit_mgmt_frame(&mut frame, &eth(), &repr).expect("fits");
        assert_eq!(frame[..len], expected[..]);

        let (eth_back, dix, payload) = parse_frame(&expected).expect("valid frame");
        assert_eq!(eth_back, eth());
        assert_eq!(
            dix,
            DixRepr {
                eid: 0,
                payload_len: 107
            }
        );
        let msg = DixMgmt::new_checked(payload).expect("valid message");
        assert_eq!(DixMgmtRepr::parse(&msg, 32), Ok(repr));
    }

    #[test]
    fn flow_reply_to_19_1_carries_the_84_octet_oap_response() {
        let oap = oap_response();
        let repr = DixMgmtRepr {
            code: MgmtCode::FlowReply,
            seid: 0x0077,
            deid: 0x0040,
            qos: QOS_UNSET,
            response: 0,
            hash: &[],
            data: &oap,
        };
        let mut expected = unhex("00 00 | 00 7b");
        expected.extend(unhex("00 77 00 40"));
        expected.extend([0u8; 33]);
        expected.extend([0x01, 0x00]); // code FLOW_REPLY, availability
        expected.extend(&oap);
        assert_eq!(expected.len(), 4 + 39 + 84);

        let mut frame = [0u8; 200];
        let len = emit_mgmt_frame(&mut frame, &eth(), &repr).expect("fits");
        assert_eq!(frame[eth::HEADER_LEN..len], expected[..]);

        let (_, dix, payload) = parse_frame(&frame[..len]).expect("valid frame");
        assert_eq!(dix.payload_len, 123);
        let msg = DixMgmt::new_checked(payload).expect("valid message");
        let back = DixMgmtRepr::parse(&msg, 32).expect("valid reply");
        assert_eq!(back, repr);
        assert_eq!(back.data.len(), 84);
    }

    #[test]
    fn refused_reply_may_be_empty_and_keeps_its_negative_response() {
        let repr = DixMgmtRepr {
            code: MgmtCode::FlowReply,
            seid: 9,
            deid: 64,
            qos: QosSpec::NP1,
            response: -1009,
            hash: &[],
            data: &[],
        };
        let mut out = [0u8; MGMT_LEN];
        repr.emit(&mut DixMgmt::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!(out[32..36], (-1009i32).to_be_bytes());
        let msg = DixMgmt::new_checked(&out[..]).expect("valid");
        assert_eq!(DixMgmtRepr::parse(&msg, 32), Ok(repr));
    }

    #[test]
    fn payload_is_cut_to_the_length_field_and_padding_ignored() {
        let mut frame = [0u8; 60];
        let len = emit_frame(&mut frame, &eth(), 0x0041, b"ping").expect("fits");
        assert_eq!(len, 22);
        // The NIC pads to 60 octets; the padding must not reach the payload.
        let (_, dix, payload) = parse_frame(&frame).expect("valid");
        assert_eq!(
            dix,
            DixRepr {
                eid: 0x41,
                payload_len: 4
            }
        );
        assert_eq!(payload, b"ping");
    }

    #[test]
    fn length_beyond_the_frame_is_refused() {
        let inner = [0x00, 0x41, 0x00, 0x05, 1, 2, 3, 4];
        assert_eq!(
            DixHeader::new_checked(&inner[..]),
            Err(WireError::BadLength { field: 5, have: 4 })
        );
        assert_eq!(
            DixHeader::new_checked(&inner[..3]),
            Err(WireError::Truncated { need: 4, have: 3 })
        );
    }

    #[test]
    fn zero_length_sdu_is_a_keepalive_frame() {
        let mut frame = [0u8; 18];
        assert_eq!(emit_frame(&mut frame, &eth(), 70, &[]), Ok(18));
        let (_, dix, payload) = parse_frame(&frame).expect("valid");
        assert_eq!((dix.payload_len, payload.len()), (0, 0));
    }

    #[test]
    fn name_query_is_the_hash_alone() {
        let hash = unhex(SHA3_256_OPING);
        let mut body = vec![0u8; MGMT_LEN];
        body[37] = 2;
        body.extend(&hash);
        let msg = DixMgmt::new_checked(&body[..]).expect("valid");
        let repr = DixMgmtRepr::parse(&msg, 32).expect("valid query");
        assert_eq!(
            (repr.code, repr.hash, repr.data),
            (MgmtCode::NameQueryReq, &hash[..], &[][..])
        );

        body.push(0);
        let msg = DixMgmt::new_checked(&body[..]).expect("length ok");
        assert_eq!(
            DixMgmtRepr::parse(&msg, 32),
            Err(WireError::TooLong { len: 72, max: 71 })
        );
        let msg = DixMgmt::new_checked(&body[..MGMT_LEN + 31]).expect("length ok");
        assert_eq!(
            DixMgmtRepr::parse(&msg, 32),
            Err(WireError::Truncated { need: 71, have: 70 })
        );
    }

    #[test]
    fn unknown_code_and_oversized_messages_are_refused() {
        let mut body = [0u8; MGMT_LEN];
        body[37] = 4;
        let msg = DixMgmt::new_checked(&body[..]).expect("length ok");
        assert_eq!(
            DixMgmtRepr::parse(&msg, 32),
            Err(WireError::UnknownCode {
                what: "eth management code",
                value: 4
            })
        );
        let big = vec![0u8; MAX_MGMT_LEN + 1];
        assert_eq!(
            DixMgmt::new_checked(&big[..]),
            Err(WireError::TooLong { len: 9001, max: 9000 })
        );
    }

    #[test]
    fn emit_refuses_pieces_the_code_does_not_carry() {
        let reply_with_hash = DixMgmtRepr {
            code: MgmtCode::FlowReply,
            seid: 1,
            deid: 2,
            qos: QosSpec::RAW,
            response: 0,
            hash: &[1; 32],
            data: &[],
        };
        let mut out = [0u8; 100];
        assert!(matches!(
            reply_with_hash.emit(&mut DixMgmt::new_unchecked(&mut out[..])),
            Err(WireError::Invalid { .. })
        ));
        let short = DixMgmtRepr {
            hash: &[],
            ..reply_with_hash
        };
        assert_eq!(
            short.emit(&mut DixMgmt::new_unchecked(&mut out[..38])),
            Err(WireError::Truncated { need: 39, have: 38 })
        );
    }

    proptest! {
        #[test]
        fn header_repr_emit_then_parse_is_identity(eid in any::<u16>(), payload_len in 0u16..300) {
            let repr = DixRepr { eid, payload_len };
            let mut out = vec![0u8; repr.total_len()];
            repr.emit(&mut DixHeader::new_unchecked(&mut out[..]));
            let header = DixHeader::new_checked(&out[..]).expect("emitted header");
            prop_assert_eq!(DixRepr::parse(&header), Ok(repr));
        }

        #[test]
        fn header_parse_then_emit_is_identity(
            eid in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..80), pad in 0usize..50
        ) {
            let mut data = Vec::new();
            data.extend(eid.to_be_bytes());
            data.extend((payload.len() as u16).to_be_bytes());
            data.extend(&payload);
            data.extend(std::iter::repeat_n(0xee, pad));
            fuzz_header(&data);
        }

        #[test]
        fn mgmt_repr_emit_then_parse_is_identity(
            (code, hash, data) in arb_mgmt_trailer(),
            seid in any::<u16>(), deid in any::<u16>(), qos in arb_qos(), response in any::<i32>(),
        ) {
            let repr = DixMgmtRepr { code, seid, deid, qos, response, hash: &hash, data: &data };
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut DixMgmt::new_unchecked(&mut out[..])).expect("fits");
            let msg = DixMgmt::new_checked(&out[..]).expect("emitted message");
            prop_assert_eq!(DixMgmtRepr::parse(&msg, 32), Ok(repr));
        }

        #[test]
        fn mgmt_parse_then_emit_is_identity(
            code in 0u8..5, body in proptest::collection::vec(any::<u8>(), MGMT_LEN..MGMT_LEN + 120)
        ) {
            fuzz_with_code(fuzz_mgmt, body, mgmt_field::CODE, code, MGMT_LEN);
        }

        #[test]
        fn built_frames_parse_back(
            dst in arb_mac(), src in arb_mac(), eid in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..100)
        ) {
            let eth = EthRepr { dst_addr: dst, src_addr: src, ethertype: ETHERTYPE_O7S };
            let mut buf = vec![0u8; frame_len(payload.len())];
            prop_assert_eq!(emit_frame(&mut buf, &eth, eid, &payload), Ok(buf.len()));
            let (eth_back, dix, payload_back) = parse_frame(&buf).expect("built frame");
            prop_assert_eq!((eth_back, dix.eid, payload_back), (eth, eid, &payload[..]));
        }
    }
}
