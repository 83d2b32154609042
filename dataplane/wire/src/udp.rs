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
//!
//! What a message says is a [`ShimMgmt`](crate::shim_mgmt::ShimMgmt), the
//! same for every shim; `MGMT_LAYOUT` states where UDP puts each field,
//! and [`Framing::Udp`](crate::shim_mgmt::Framing::Udp) parses and emits
//! through it (name queries refused: UDP has none).

use core::fmt;

use crate::Result;
use crate::octets::{put_u32_be, u32_be};
use crate::qos_fields::QosFields;
use crate::shim_mgmt::{IntField, MgmtLayout};
use crate::view::{self, impl_view};

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
pub const MGMT_LEN: usize = MGMT_LAYOUT.fixed_len;
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

/// Where the management message puts each field (the shared codec,
/// [`crate::shim_mgmt`], reads and writes through it).
pub(crate) const MGMT_LAYOUT: MgmtLayout = MgmtLayout {
    shim: "udp",
    code_name: "UDP management code",
    fixed_len: 47,
    max_len: MAX_MGMT_LEN,
    code: 44,
    // No name queries: names are resolved outside the layer (§4.3).
    codes: [Some(1), Some(2), None, None],
    zero_word: Some(IntField::eid(0, HEADER_LEN)),
    // s_eid is the requester's in both codes; the responder's EID travels
    // in d_eid.
    request_requester: IntField::eid(4, 4),
    reply_requester: IntField::eid(4, 4),
    reply_responder: IntField::eid(8, 4),
    response: IntField::response(12, 4),
    qos: QosFields {
        bandwidth: 16,
        delay: 24,
        loss: 28,
        ber: 32,
        max_gap: 36,
        timeout: Some(40),
        availability: 45,
        in_order: 46,
    },
    fixed_hash_len: Some(HASH_LEN),
    data: true,
}
.checked();

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WireError;
    use crate::fixtures::{MD5_OPING, oap_request, oap_response, unhex};
    use crate::qos::QosSpec;
    use crate::shim_mgmt::{Framing, ShimMgmt};
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
        let repr = ShimMgmt::FlowReq {
            requester: 64,
            qos: QosSpec::RAW,
            hash: &hash,
            data: &oap,
        };
        let mut out = vec![0u8; Framing::Udp.buffer_len(&repr)];
        assert_eq!(Framing::Udp.emit(&repr, &mut out), Ok(out.len()));
        assert_eq!(out[..MGMT_LEN], fixed[..]);
        assert_eq!(out[MGMT_LEN..], [hash.clone(), oap.clone()].concat()[..]);
        assert_eq!(Framing::Udp.parse(&out, HASH_LEN), Ok(repr));
    }

    #[test]
    fn reply_echoes_the_requester_eid_in_s_eid() {
        let oap = oap_response();
        let repr = ShimMgmt::FlowReply {
            requester: 64,
            responder: 4000,
            response: 0,
            data: &oap,
        };
        let mut out = vec![0u8; Framing::Udp.buffer_len(&repr)];
        Framing::Udp.emit(&repr, &mut out).expect("fits");
        assert_eq!(out.len(), 47 + 84);
        // s_eid: the requester's, echoed; d_eid: the responder's own.
        assert_eq!(out[4..12], unhex("00000040 00000fa0")[..]);
        assert_eq!(out[44], 2);
        assert_eq!(Framing::Udp.parse(&out, HASH_LEN), Ok(repr));
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
        assert_eq!(
            Framing::Udp.parse(&msg[..46], HASH_LEN),
            Err(WireError::Truncated { need: 47, have: 46 })
        );
        assert!(Framing::Udp.parse(&msg, HASH_LEN).is_ok());
        msg[3] = 1;
        assert!(matches!(
            Framing::Udp.parse(&msg, HASH_LEN),
            Err(WireError::Invalid { .. })
        ));
        let big = vec![0u8; MAX_MGMT_LEN + 1];
        assert_eq!(
            Framing::Udp.parse(&big, HASH_LEN),
            Err(WireError::TooLong { len: 2049, max: 2048 })
        );
    }

    #[test]
    fn request_without_its_md5_hash_is_truncated_and_code_zero_unknown() {
        let mut msg = [0u8; MGMT_LEN + 15];
        msg[44] = 1;
        assert_eq!(
            Framing::Udp.parse(&msg, HASH_LEN),
            Err(WireError::Truncated { need: 63, have: 62 })
        );
        for code in [0, 3] {
            msg[44] = code;
            assert_eq!(
                Framing::Udp.parse(&msg, HASH_LEN),
                Err(WireError::UnknownCode {
                    what: "UDP management code",
                    value: code.into()
                }),
                "no name query codes either"
            );
        }
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
    }
}
