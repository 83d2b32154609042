//! Flow allocator messages of a unicast layer, carried in DT packets to
//! EID 0 (PROTOCOL.md §8.1).
//!
//! 61-octet fixed part, all integers BE (unlike the DT header):
//!
//! ```text
//! offset size field      FLOW_REQ (0)     FLOW_REPLY (1)    FLOW_UPDATE (2)
//!  0     8    s_addr     requester's addr 0                 0
//!  8     8    r_eid      0                requester's EID   receiver's EID
//! 16     8    s_eid      requester's EID  responder's EID   0
//! 24     8    bandwidth  QoS              0                 0
//! 32     4    response   0                result (i32)      0
//! 36     4    delay      QoS              0                 0
//! 40     4    loss       QoS              0                 0
//! 44     4    ber        QoS              0                 0
//! 48     4    max_gap    QoS              0                 0
//! 52     4    timeout    QoS              0                 0
//! 56     2    ece        0                0                 congestion level
//! 58     1    code
//! 59     1    availability QoS            0                 0
//! 60     1    in_order   QoS              0                 0
//! 61     ...  trailer    hash + OAP req   OAP response      nothing
//! ```
//!
//! The hash has the layer's length, so parsing takes it. The C receiver
//! drops messages longer than 2048 octets in total; so does parsing, and
//! emitting refuses to produce one. The "0" columns are what the C sender
//! writes, but every field is kept as read so that a parsed message emits
//! back unchanged.

use core::fmt;

use crate::octets::{Hex, put_u16_be, put_u32_be, put_u64_be, u16_be, u32_be, u64_be};
use crate::qos::QosSpec;
use crate::trailer::{self, Trailer};
use crate::view::{self, impl_view};
use crate::{Result, WireError};

/// Octets of the fixed part.
pub const FIXED_LEN: usize = field::TRAILER;
/// Longest message, trailer included.
pub const MAX_LEN: usize = 2048;

/// What a flow allocator message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FaCode {
    /// Allocation request: hash, then the OAP request.
    FlowReq = 0,
    /// Allocation reply: the OAP response.
    FlowReply = 1,
    /// Congestion update (mb-ecn): nothing after the fixed part.
    FlowUpdate = 2,
}

impl FaCode {
    /// All codes, by value.
    pub const ALL: [FaCode; 3] = [FaCode::FlowReq, FaCode::FlowReply, FaCode::FlowUpdate];

    /// The pieces after the fixed part.
    const fn trailer(self) -> Trailer {
        match self {
            FaCode::FlowReq => Trailer::HASH_AND_DATA,
            FaCode::FlowReply => Trailer::DATA,
            FaCode::FlowUpdate => Trailer::NONE,
        }
    }
}

impl TryFrom<u8> for FaCode {
    type Error = WireError;

    fn try_from(code: u8) -> Result<FaCode> {
        FaCode::ALL
            .get(usize::from(code))
            .copied()
            .ok_or(WireError::UnknownCode {
                what: "flow allocator code",
                value: code.into(),
            })
    }
}

impl fmt::Display for FaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaCode::FlowReq => "FLOW_REQ",
            FaCode::FlowReply => "FLOW_REPLY",
            FaCode::FlowUpdate => "FLOW_UPDATE",
        })
    }
}

mod field {
    use core::ops::Range;

    use crate::qos_fields::QosFields;

    pub const S_ADDR: Range<usize> = 0..8;
    pub const R_EID: Range<usize> = 8..16;
    pub const S_EID: Range<usize> = 16..24;
    pub const RESPONSE: Range<usize> = 32..36;
    pub const ECE: Range<usize> = 56..58;
    pub const CODE: usize = 58;
    pub const TRAILER: usize = 61;
    pub const QOS: QosFields = QosFields {
        bandwidth: 24,
        delay: 36,
        loss: 40,
        ber: 44,
        max_gap: 48,
        timeout: Some(52),
        availability: 59,
        in_order: 60,
    }
    .within(TRAILER);
}

/// A read/write view of a flow allocator message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaMessage<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(FaMessage, "Wraps a buffer of 61 to 2048 octets.");

impl<T: AsRef<[u8]>> FaMessage<T> {
    /// Checks the fixed part is present and the whole within 2048 octets.
    pub fn check_len(&self) -> Result<()> {
        view::check_bounds(self.buffer.as_ref().len(), FIXED_LEN, MAX_LEN)
    }

    /// Requester's address (FLOW_REQ).
    pub fn s_addr(&self) -> u64 {
        u64_be(&self.buffer.as_ref()[field::S_ADDR])
    }

    /// The receiving end's EID (FLOW_REPLY, FLOW_UPDATE).
    pub fn r_eid(&self) -> u64 {
        u64_be(&self.buffer.as_ref()[field::R_EID])
    }

    /// The sending end's EID (FLOW_REQ, FLOW_REPLY).
    pub fn s_eid(&self) -> u64 {
        u64_be(&self.buffer.as_ref()[field::S_EID])
    }

    /// The QoS fields (FLOW_REQ).
    pub fn qos(&self) -> QosSpec {
        field::QOS.read(self.buffer.as_ref())
    }

    /// Allocation result (FLOW_REPLY).
    pub fn response(&self) -> i32 {
        u32_be(&self.buffer.as_ref()[field::RESPONSE]) as i32
    }

    /// Congestion level (FLOW_UPDATE).
    pub fn ece(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::ECE])
    }

    /// The raw code octet.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Everything after the fixed part.
    pub fn trailer(&self) -> &[u8] {
        &self.buffer.as_ref()[field::TRAILER..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> FaMessage<T> {
    /// Sets the requester's address.
    pub fn set_s_addr(&mut self, addr: u64) {
        put_u64_be(&mut self.buffer.as_mut()[field::S_ADDR], addr);
    }

    /// Sets the receiving end's EID.
    pub fn set_r_eid(&mut self, eid: u64) {
        put_u64_be(&mut self.buffer.as_mut()[field::R_EID], eid);
    }

    /// Sets the sending end's EID.
    pub fn set_s_eid(&mut self, eid: u64) {
        put_u64_be(&mut self.buffer.as_mut()[field::S_EID], eid);
    }

    /// Sets all QoS fields.
    pub fn set_qos(&mut self, qos: &QosSpec) {
        field::QOS.write(self.buffer.as_mut(), qos);
    }

    /// Sets the allocation result.
    pub fn set_response(&mut self, response: i32) {
        put_u32_be(&mut self.buffer.as_mut()[field::RESPONSE], response as u32);
    }

    /// Sets the congestion level.
    pub fn set_ece(&mut self, ece: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::ECE], ece);
    }

    /// Sets the raw code octet.
    pub fn set_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }

    /// Everything after the fixed part, writable.
    pub fn trailer_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::TRAILER..]
    }
}

/// A flow allocator message; the trailer pieces borrow the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaRepr<'a> {
    /// What the message is.
    pub code: FaCode,
    /// Requester's address (FLOW_REQ).
    pub s_addr: u64,
    /// The receiving end's EID: the requester's in a FLOW_REPLY, the
    /// update's receiver's in a FLOW_UPDATE.
    pub r_eid: u64,
    /// The sending end's EID (FLOW_REQ, FLOW_REPLY).
    pub s_eid: u64,
    /// QoS of the requested flow (FLOW_REQ).
    pub qos: QosSpec,
    /// Allocation result (FLOW_REPLY).
    pub response: i32,
    /// Congestion level (FLOW_UPDATE).
    pub ece: u16,
    /// Name hash of the layer's length (FLOW_REQ); empty otherwise.
    pub hash: &'a [u8],
    /// OAP request (FLOW_REQ) or response (FLOW_REPLY); empty in an update.
    pub data: &'a [u8],
}

impl<'a> FaRepr<'a> {
    /// Reads a checked message of a layer whose hashes are `hash_len` octets.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(msg: &FaMessage<&'a T>, hash_len: usize) -> Result<FaRepr<'a>> {
        msg.check_len()?;
        let code = FaCode::try_from(msg.code())?;
        let trailer = &msg.buffer.as_ref()[field::TRAILER..];
        let (hash, data) = code.trailer().split(trailer, hash_len, FIXED_LEN)?;
        Ok(FaRepr {
            code,
            s_addr: msg.s_addr(),
            r_eid: msg.r_eid(),
            s_eid: msg.s_eid(),
            qos: msg.qos(),
            response: msg.response(),
            ece: msg.ece(),
            hash,
            data,
        })
    }

    /// Octets [`FaRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        FIXED_LEN + self.hash.len() + self.data.len()
    }

    /// Writes the message into the first [`FaRepr::buffer_len`] octets;
    /// fails when the buffer is shorter, the message longer than 2048
    /// octets, or the code does not carry the trailer pieces given.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, msg: &mut FaMessage<T>) -> Result<()> {
        if !self.code.trailer().carries(self.hash, self.data) {
            return Err(WireError::Invalid {
                what: "FA trailer piece the code does not carry",
            });
        }
        view::check_emit(self.buffer_len(), MAX_LEN, msg.buffer.as_ref().len())?;
        msg.set_s_addr(self.s_addr);
        msg.set_r_eid(self.r_eid);
        msg.set_s_eid(self.s_eid);
        msg.set_qos(&self.qos);
        msg.set_response(self.response);
        msg.set_ece(self.ece);
        msg.set_code(self.code as u8);
        trailer::put(msg.trailer_mut(), self.hash, self.data);
        Ok(())
    }
}

impl fmt::Display for FaRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fa {} s_addr {:#x} r_eid {:#x} s_eid {:#x} response {} ece {} hash {} data {} ({})",
            self.code,
            self.s_addr,
            self.r_eid,
            self.s_eid,
            self.response,
            self.ece,
            Hex(self.hash),
            self.data.len(),
            self.qos
        )
    }
}

/// Decoder entry: a message of a SHA3-256 layer round-trips.
pub(crate) fn fuzz_message(data: &[u8]) {
    crate::decoders::round_trip(
        "fa",
        data,
        |d| FaRepr::parse(&FaMessage::new_checked(d)?, crate::decoders::FUZZ_HASH_LEN),
        FaRepr::buffer_len,
        |repr, out| repr.emit(&mut FaMessage::new_unchecked(out)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{QOS_UNSET, SHA3_256_OPING, arb_qos, fuzz_with_code, oap_request, oap_response, unhex};
    use proptest::prelude::*;

    #[test]
    fn flow_req_fixed_part_of_19_6_is_byte_exact_both_ways() {
        let fixed = unhex(
            "00 00 00 00 0A 0B 0C 0D 00 00 00 00 00 00 00 00 12 34 56 78 00 00 00 40 00 00
             00 00 00 00 00 00 00 00 00 00 FF FF FF FF 00 00 00 01 00 00 00 01 FF FF FF FF
             00 01 D4 C0 00 00 00 00 00",
        );
        assert_eq!(fixed.len(), FIXED_LEN);
        let hash = unhex(SHA3_256_OPING);
        let oap = oap_request();
        let repr = FaRepr {
            code: FaCode::FlowReq,
            s_addr: 0x0A0B0C0D,
            r_eid: 0,
            s_eid: 0x1234567800000040,
            qos: QosSpec::RAW,
            response: 0,
            ece: 0,
            hash: &hash,
            data: &oap,
        };
        let expected = [fixed, hash.clone(), oap.clone()].concat();
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut FaMessage::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!(out, expected);
        let msg = FaMessage::new_checked(&expected[..]).expect("valid");
        assert_eq!(FaRepr::parse(&msg, 32), Ok(repr));
    }

    #[test]
    fn flow_update_of_19_6_is_byte_exact_both_ways() {
        let mut bytes = unhex("00 00 00 00 00 00 00 00 99 99 99 99 00 00 00 41");
        bytes.extend([0u8; 40]);
        bytes.extend(unhex("01 23 02 00 00"));
        let repr = FaRepr {
            code: FaCode::FlowUpdate,
            s_addr: 0,
            r_eid: 0x9999999900000041,
            s_eid: 0,
            qos: QOS_UNSET,
            response: 0,
            ece: 0x0123,
            hash: &[],
            data: &[],
        };
        let msg = FaMessage::new_checked(&bytes[..]).expect("valid");
        assert_eq!(FaRepr::parse(&msg, 32), Ok(repr));
        let mut out = [0xffu8; FIXED_LEN];
        repr.emit(&mut FaMessage::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!(out[..], bytes[..]);
    }

    #[test]
    fn flow_reply_carries_the_oap_response_and_a_negative_result() {
        let oap = oap_response();
        let repr = FaRepr {
            code: FaCode::FlowReply,
            s_addr: 0,
            r_eid: 0x1234567800000040,
            s_eid: 0xabcdef0000000050,
            qos: QosSpec::NP1,
            response: -1009,
            ece: 0,
            hash: &[],
            data: &oap,
        };
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut FaMessage::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!((out.len(), out[58]), (61 + 84, 1));
        assert_eq!(out[32..36], (-1009i32).to_be_bytes());
        let msg = FaMessage::new_checked(&out[..]).expect("valid");
        assert_eq!(FaRepr::parse(&msg, 32), Ok(repr));
    }

    #[test]
    fn length_limits_follow_8_1() {
        assert_eq!(
            FaMessage::new_checked(&[0u8; 60][..]),
            Err(WireError::Truncated { need: 61, have: 60 })
        );
        let big = vec![0u8; MAX_LEN + 1];
        assert_eq!(
            FaMessage::new_checked(&big[..]),
            Err(WireError::TooLong { len: 2049, max: 2048 })
        );
        // A FLOW_REQ shorter than 61 + hash length is dropped.
        let short = [0u8; FIXED_LEN + 31];
        let msg = FaMessage::new_checked(&short[..]).expect("length ok");
        assert_eq!(
            FaRepr::parse(&msg, 32),
            Err(WireError::Truncated { need: 93, have: 92 })
        );
        // An update has nothing after the fixed part.
        let mut update = [0u8; FIXED_LEN + 1];
        update[58] = 2;
        let msg = FaMessage::new_checked(&update[..]).expect("length ok");
        assert_eq!(FaRepr::parse(&msg, 32), Err(WireError::TooLong { len: 62, max: 61 }));
        update[58] = 3;
        let msg = FaMessage::new_checked(&update[..]).expect("length ok");
        assert!(matches!(
            FaRepr::parse(&msg, 32),
            Err(WireError::UnknownCode { value: 3, .. })
        ));
    }

    #[test]
    fn emit_refuses_a_message_over_2048_octets() {
        let oap = vec![0u8; MAX_LEN - FIXED_LEN - 32 + 1];
        let repr = FaRepr {
            code: FaCode::FlowReq,
            s_addr: 1,
            r_eid: 0,
            s_eid: 64,
            qos: QosSpec::RAW,
            response: 0,
            ece: 0,
            hash: &[0; 32],
            data: &oap,
        };
        let mut out = vec![0u8; repr.buffer_len()];
        assert_eq!(
            repr.emit(&mut FaMessage::new_unchecked(&mut out[..])),
            Err(WireError::TooLong { len: 2049, max: 2048 })
        );
    }

    proptest! {
        #[test]
        fn repr_emit_then_parse_is_identity(
            code in proptest::sample::select(FaCode::ALL.to_vec()),
            addrs in any::<(u64, u64, u64)>(), qos in arb_qos(), response in any::<i32>(), ece in any::<u16>(),
            hash in proptest::collection::vec(any::<u8>(), 32),
            data in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let hash = if code == FaCode::FlowReq { &hash[..] } else { &[] };
            let data = if code == FaCode::FlowUpdate { &[] } else { &data[..] };
            let (s_addr, r_eid, s_eid) = addrs;
            let repr = FaRepr { code, s_addr, r_eid, s_eid, qos, response, ece, hash, data };
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut FaMessage::new_unchecked(&mut out[..])).expect("fits");
            let msg = FaMessage::new_checked(&out[..]).expect("emitted message");
            prop_assert_eq!(FaRepr::parse(&msg, 32), Ok(repr));
        }

        #[test]
        fn parse_then_emit_is_identity(
            code in 0u8..4, msg in proptest::collection::vec(any::<u8>(), FIXED_LEN..FIXED_LEN + 100)
        ) {
            fuzz_with_code(fuzz_message, msg, field::CODE, code, FIXED_LEN, crate::decoders::FUZZ_HASH_LEN);
        }
    }
}
