//! UDP shim (udp4, udp6): the EID word in front of every datagram and the
//! management message (PROTOCOL.md §4.1–4.2).
//!
//! ```text
//!  0      4
//! +------+---------------------------------------+
//! | EID  | payload: N+1 SDU, or management body  |
//! +------+---------------------------------------+
//!   BE, receiver's EID; 0 = management
//! ```
//!
//! There is no length and no source EID: a datagram is one SDU. The C
//! receiver reads at most 8980 (udp4) / 8952 (udp6) octets per datagram.
//!
//! Management message (EID 0), 47 octets, integers BE:
//!
//! ```text
//! offset size field
//!  0     4    eid = 0 (the EID word above)
//!  4     4    s_eid         FLOW_REQ: requester's EID; FLOW_REPLY: requester's EID, echoed
//!  8     4    d_eid         FLOW_REPLY: responder's EID
//! 12     4    response (i32)
//! 16     8    bandwidth
//! 24     4    delay
//! 28     4    loss
//! 32     4    ber
//! 36     4    max_gap
//! 40     4    timeout
//! 44     1    code          1 FLOW_REQ, 2 FLOW_REPLY
//! 45     1    availability
//! 46     1    in_order
//! 47     ...  FLOW_REQ: MD5 hash (16) then OAP request; FLOW_REPLY: OAP response
//! ```
//!
//! Unlike eth-dix, a reply's `s_eid` is *not* its sender's EID: it echoes
//! the requester's, and the responder's own EID travels in `d_eid`. The C
//! receiver copies management datagrams into a 2048-octet buffer without
//! a bound check, so longer ones are refused here and never emitted.

use core::fmt;

use crate::octets::{Hex, put_u32_be, u32_be};
use crate::qos::QosSpec;
use crate::trailer::{self, Trailer};
use crate::view::{self, impl_view};
use crate::{Result, WireError};

/// Octets of the EID word.
pub const HEADER_LEN: usize = 4;
/// The EID of management messages.
pub const MGMT_EID: u32 = 0;
/// The port both ends use unless configured otherwise.
pub const DEFAULT_PORT: u16 = 3435;
/// Largest datagram a C udp4 shim reads, EID included.
pub const MAX_DATAGRAM_UDP4: usize = 8980;
/// Largest datagram a C udp6 shim reads, EID included.
pub const MAX_DATAGRAM_UDP6: usize = 8952;
/// Largest SDU over udp4.
pub const MAX_SDU_UDP4: usize = MAX_DATAGRAM_UDP4 - HEADER_LEN;
/// Largest SDU over udp6.
pub const MAX_SDU_UDP6: usize = MAX_DATAGRAM_UDP6 - HEADER_LEN;
/// Octets of the fixed part of a management message.
pub const MGMT_LEN: usize = mgmt_field::TRAILER;
/// Longest management message, the C receiver's buffer.
pub const MAX_MGMT_LEN: usize = 2048;
/// Octets of the name hash: UDP layers always use MD5.
pub const HASH_LEN: usize = 16;

/// A read/write view of a UDP shim datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(UdpDatagram, "Wraps a buffer holding at least the EID word.");

impl<T: AsRef<[u8]>> UdpDatagram<T> {
    /// Checks the EID word is present (shorter datagrams are runts).
    pub fn check_len(&self) -> Result<()> {
        view::check_min(self.buffer.as_ref().len(), HEADER_LEN)
    }

    /// Receiver's EID; 0 = management.
    #[inline]
    pub fn eid(&self) -> u32 {
        u32_be(&self.buffer.as_ref()[..HEADER_LEN])
    }

    /// The SDU (or, for EID 0, the management message after its EID word).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpDatagram<T> {
    /// Sets the receiver's EID.
    #[inline]
    pub fn set_eid(&mut self, eid: u32) {
        put_u32_be(&mut self.buffer.as_mut()[..HEADER_LEN], eid);
    }

    /// The SDU, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// The EID word of a datagram; the payload stays in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Receiver's EID; 0 = management.
    pub eid: u32,
}

impl UdpRepr {
    /// Reads a checked datagram's EID word.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(datagram: &UdpDatagram<&T>) -> Result<UdpRepr> {
        datagram.check_len()?;
        Ok(UdpRepr { eid: datagram.eid() })
    }

    /// Octets [`UdpRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the EID word; the buffer must hold at least 4 octets.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, datagram: &mut UdpDatagram<T>) {
        datagram.set_eid(self.eid);
    }
}

impl fmt::Display for UdpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "udp eid {}", self.eid)
    }
}

/// Management message codes of the UDP shim (not those of eth-dix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum UdpMgmtCode {
    /// Flow allocation request: MD5 hash, then the OAP request.
    FlowReq = 1,
    /// Flow allocation reply: the OAP response.
    FlowReply = 2,
}

impl UdpMgmtCode {
    /// The pieces after the fixed part.
    const fn trailer(self) -> Trailer {
        match self {
            UdpMgmtCode::FlowReq => Trailer::HASH_AND_DATA,
            UdpMgmtCode::FlowReply => Trailer::DATA,
        }
    }
}

impl TryFrom<u8> for UdpMgmtCode {
    type Error = WireError;

    fn try_from(code: u8) -> Result<UdpMgmtCode> {
        match code {
            1 => Ok(UdpMgmtCode::FlowReq),
            2 => Ok(UdpMgmtCode::FlowReply),
            _ => Err(WireError::UnknownCode {
                what: "UDP management code",
                value: code.into(),
            }),
        }
    }
}

impl fmt::Display for UdpMgmtCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UdpMgmtCode::FlowReq => "FLOW_REQ",
            UdpMgmtCode::FlowReply => "FLOW_REPLY",
        })
    }
}

mod mgmt_field {
    use core::ops::Range;

    use crate::qos_fields::QosFields;

    pub const EID: Range<usize> = 0..4;
    pub const S_EID: Range<usize> = 4..8;
    pub const D_EID: Range<usize> = 8..12;
    pub const RESPONSE: Range<usize> = 12..16;
    pub const CODE: usize = 44;
    pub const TRAILER: usize = 47;
    pub const QOS: QosFields = QosFields {
        bandwidth: 16,
        delay: 24,
        loss: 28,
        ber: 32,
        max_gap: 36,
        timeout: Some(40),
        availability: 45,
        in_order: 46,
    }
    .within(TRAILER);
}

/// A read/write view of a UDP management message, EID word included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpMgmt<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(UdpMgmt, "Wraps a buffer of 47 to 2048 octets.");

impl<T: AsRef<[u8]>> UdpMgmt<T> {
    /// Checks the fixed part is present and the whole fits the C
    /// receiver's buffer.
    pub fn check_len(&self) -> Result<()> {
        view::check_bounds(self.buffer.as_ref().len(), MGMT_LEN, MAX_MGMT_LEN)
    }

    /// The EID word; 0 in every management message.
    pub fn eid(&self) -> u32 {
        u32_be(&self.buffer.as_ref()[mgmt_field::EID])
    }

    /// The requester's EID (in both codes).
    pub fn s_eid(&self) -> u32 {
        u32_be(&self.buffer.as_ref()[mgmt_field::S_EID])
    }

    /// The responder's EID (FLOW_REPLY).
    pub fn d_eid(&self) -> u32 {
        u32_be(&self.buffer.as_ref()[mgmt_field::D_EID])
    }

    /// Allocation result (FLOW_REPLY).
    pub fn response(&self) -> i32 {
        u32_be(&self.buffer.as_ref()[mgmt_field::RESPONSE]) as i32
    }

    /// The QoS fields (FLOW_REQ).
    pub fn qos(&self) -> QosSpec {
        mgmt_field::QOS.read(self.buffer.as_ref())
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

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpMgmt<T> {
    /// Sets the EID word.
    pub fn set_eid(&mut self, eid: u32) {
        put_u32_be(&mut self.buffer.as_mut()[mgmt_field::EID], eid);
    }

    /// Sets the requester's EID.
    pub fn set_s_eid(&mut self, eid: u32) {
        put_u32_be(&mut self.buffer.as_mut()[mgmt_field::S_EID], eid);
    }

    /// Sets the responder's EID.
    pub fn set_d_eid(&mut self, eid: u32) {
        put_u32_be(&mut self.buffer.as_mut()[mgmt_field::D_EID], eid);
    }

    /// Sets the allocation result.
    pub fn set_response(&mut self, response: i32) {
        put_u32_be(&mut self.buffer.as_mut()[mgmt_field::RESPONSE], response as u32);
    }

    /// Sets all QoS fields.
    pub fn set_qos(&mut self, qos: &QosSpec) {
        mgmt_field::QOS.write(self.buffer.as_mut(), qos);
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

/// A UDP management message; the trailer pieces borrow the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpMgmtRepr<'a> {
    /// What the message is.
    pub code: UdpMgmtCode,
    /// The requester's EID, in the request and echoed in the reply.
    pub s_eid: u32,
    /// The responder's EID (FLOW_REPLY); 0 in a request.
    pub d_eid: u32,
    /// QoS of the requested flow (FLOW_REQ).
    pub qos: QosSpec,
    /// Allocation result (FLOW_REPLY).
    pub response: i32,
    /// MD5 hash of the name, [`HASH_LEN`] octets (FLOW_REQ); empty in a reply.
    pub hash: &'a [u8],
    /// Piggybacked data, the OAP header.
    pub data: &'a [u8],
}

impl<'a> UdpMgmtRepr<'a> {
    /// Reads a checked management message.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(msg: &UdpMgmt<&'a T>) -> Result<UdpMgmtRepr<'a>> {
        msg.check_len()?;
        if msg.eid() != MGMT_EID {
            return Err(WireError::Invalid {
                what: "management message with a non-zero EID",
            });
        }
        let code = UdpMgmtCode::try_from(msg.code())?;
        let trailer = &msg.buffer.as_ref()[mgmt_field::TRAILER..];
        let (hash, data) = code.trailer().split(trailer, HASH_LEN, MGMT_LEN)?;
        Ok(UdpMgmtRepr {
            code,
            s_eid: msg.s_eid(),
            d_eid: msg.d_eid(),
            qos: msg.qos(),
            response: msg.response(),
            hash,
            data,
        })
    }

    /// Octets [`UdpMgmtRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        MGMT_LEN + self.hash.len() + self.data.len()
    }

    /// Writes the message, EID word included, into the first
    /// [`UdpMgmtRepr::buffer_len`] octets; fails when the buffer is
    /// shorter, the message is longer than 2048 octets, or the hash is not
    /// 16 octets in a request / not empty in a reply.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, msg: &mut UdpMgmt<T>) -> Result<()> {
        // Unlike the eth shims' hash, MD5 has one length for every layer.
        if self.hash.len() != self.code.trailer().hash_len(HASH_LEN) {
            return Err(WireError::Invalid {
                what: "UDP hash not 16 octets in FLOW_REQ / not empty in FLOW_REPLY",
            });
        }
        view::check_emit(self.buffer_len(), MAX_MGMT_LEN, msg.buffer.as_ref().len())?;
        msg.set_eid(MGMT_EID);
        msg.set_s_eid(self.s_eid);
        msg.set_d_eid(self.d_eid);
        msg.set_response(self.response);
        msg.set_qos(&self.qos);
        msg.set_code(self.code as u8);
        trailer::put(msg.trailer_mut(), self.hash, self.data);
        Ok(())
    }
}

impl fmt::Display for UdpMgmtRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "udp-mgmt {} s_eid {} d_eid {} response {} hash {} data {} ({})",
            self.code,
            self.s_eid,
            self.d_eid,
            self.response,
            Hex(self.hash),
            self.data.len(),
            self.qos
        )
    }
}

/// Decoder entry: any datagram with an EID word round-trips.
pub(crate) fn fuzz_datagram(data: &[u8]) {
    crate::decoders::round_trip_header(
        "udp",
        data,
        HEADER_LEN,
        |d| UdpRepr::parse(&UdpDatagram::new_checked(d)?),
        |_| data.len(),
        |repr, out| {
            repr.emit(&mut UdpDatagram::new_unchecked(out));
            Ok(())
        },
    );
}

/// Decoder entry: a management message round-trips.
pub(crate) fn fuzz_mgmt(data: &[u8]) {
    crate::decoders::round_trip(
        "udp_mgmt",
        data,
        |d| UdpMgmtRepr::parse(&UdpMgmt::new_checked(d)?),
        UdpMgmtRepr::buffer_len,
        |repr, out| repr.emit(&mut UdpMgmt::new_unchecked(out)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{MD5_OPING, arb_qos, oap_request, oap_response, unhex};
    use proptest::prelude::*;

    #[test]
    fn flow_req_fixed_part_of_19_6_is_byte_exact_both_ways() {
        let fixed = unhex(
            "00 00 00 00 00 00 00 40 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF FF FF FF
             00 00 00 01 00 00 00 01 FF FF FF FF 00 01 D4 C0 01 00 00",
        );
        assert_eq!(fixed.len(), MGMT_LEN);
        let hash = unhex(MD5_OPING);
        let oap = oap_request();
        let repr = UdpMgmtRepr {
            code: UdpMgmtCode::FlowReq,
            s_eid: 64,
            d_eid: 0,
            qos: QosSpec::RAW,
            response: 0,
            hash: &hash,
            data: &oap,
        };
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut UdpMgmt::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!(out[..MGMT_LEN], fixed[..]);
        assert_eq!(out[MGMT_LEN..], [hash.clone(), oap.clone()].concat()[..]);
        let msg = UdpMgmt::new_checked(&out[..]).expect("valid");
        assert_eq!(UdpMgmtRepr::parse(&msg), Ok(repr));
    }

    #[test]
    fn reply_echoes_the_requester_eid_in_s_eid() {
        let oap = oap_response();
        let repr = UdpMgmtRepr {
            code: UdpMgmtCode::FlowReply,
            s_eid: 64,   // the requester's, echoed
            d_eid: 4000, // the responder's own
            qos: QosSpec::NP1,
            response: 0,
            hash: &[],
            data: &oap,
        };
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut UdpMgmt::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!(out.len(), 47 + 84);
        assert_eq!(out[4..12], unhex("00000040 00000fa0")[..]);
        assert_eq!(out[44], 2);
        let msg = UdpMgmt::new_checked(&out[..]).expect("valid");
        assert_eq!(UdpMgmtRepr::parse(&msg), Ok(repr));
    }

    #[test]
    fn datagram_is_a_be_eid_then_the_sdu() {
        let bytes = unhex("00 00 00 41 68 69");
        let datagram = UdpDatagram::new_checked(&bytes[..]).expect("valid");
        assert_eq!((datagram.eid(), datagram.payload()), (0x41, &b"hi"[..]));
        // A keepalive is the EID alone.
        let keepalive = UdpDatagram::new_checked(&bytes[..4]).expect("valid");
        assert!(keepalive.payload().is_empty());
        assert_eq!(
            UdpDatagram::new_checked(&bytes[..3]),
            Err(WireError::Truncated { need: 4, have: 3 })
        );
        assert_eq!((MAX_SDU_UDP4, MAX_SDU_UDP6), (8976, 8948));
    }

    #[test]
    fn runts_oversized_and_non_zero_eid_messages_are_refused() {
        let mut msg = [0u8; MGMT_LEN];
        msg[44] = 2;
        assert!(UdpMgmt::new_checked(&msg[..46]).is_err());
        let ok = UdpMgmt::new_checked(&msg[..]).expect("valid length");
        assert!(UdpMgmtRepr::parse(&ok).is_ok());
        msg[3] = 1;
        let nonzero = UdpMgmt::new_checked(&msg[..]).expect("valid length");
        assert!(matches!(UdpMgmtRepr::parse(&nonzero), Err(WireError::Invalid { .. })));
        let big = vec![0u8; MAX_MGMT_LEN + 1];
        assert_eq!(
            UdpMgmt::new_checked(&big[..]),
            Err(WireError::TooLong { len: 2049, max: 2048 })
        );
    }

    #[test]
    fn request_without_its_md5_hash_is_truncated_and_code_zero_unknown() {
        let mut msg = [0u8; MGMT_LEN + 15];
        msg[44] = 1;
        let view = UdpMgmt::new_checked(&msg[..]).expect("valid length");
        assert_eq!(
            UdpMgmtRepr::parse(&view),
            Err(WireError::Truncated { need: 63, have: 62 })
        );
        msg[44] = 0;
        let view = UdpMgmt::new_checked(&msg[..]).expect("valid length");
        assert!(matches!(
            UdpMgmtRepr::parse(&view),
            Err(WireError::UnknownCode { value: 0, .. })
        ));
    }

    proptest! {
        #[test]
        fn datagram_round_trips(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            fuzz_datagram(&data);
            if let Ok(datagram) = UdpDatagram::new_checked(&data[..]) {
                let repr = UdpRepr::parse(&datagram).expect("checked");
                let mut out = [0u8; 4];
                repr.emit(&mut UdpDatagram::new_unchecked(&mut out[..]));
                prop_assert_eq!(&out[..], &data[..4]);
            }
        }

        #[test]
        fn mgmt_repr_emit_then_parse_is_identity(
            request in any::<bool>(), s_eid in any::<u32>(), d_eid in any::<u32>(),
            qos in arb_qos(), response in any::<i32>(),
            hash in any::<[u8; 16]>(), data in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let (code, hash) = if request {
                (UdpMgmtCode::FlowReq, &hash[..])
            } else {
                (UdpMgmtCode::FlowReply, &[][..])
            };
            let repr = UdpMgmtRepr { code, s_eid, d_eid, qos, response, hash, data: &data };
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut UdpMgmt::new_unchecked(&mut out[..])).expect("fits");
            let msg = UdpMgmt::new_checked(&out[..]).expect("emitted message");
            prop_assert_eq!(UdpMgmtRepr::parse(&msg), Ok(repr));
        }

        #[test]
        fn mgmt_parse_then_emit_is_identity(
            code in 0u8..4, mut msg in proptest::collection::vec(any::<u8>(), MGMT_LEN..MGMT_LEN + 100)
        ) {
            msg[..4].fill(0);
            msg[mgmt_field::CODE] = code;
            fuzz_mgmt(&msg);
        }
    }
}
