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
//! What a message says is a [`ShimMgmt`], the same for every shim; this
//! module only states where eth-dix puts each field (`MGMT_LAYOUT`),
//! and [`Framing::EthDix`] parses and emits through it. Unused fields are
//! zero, as the C prototype sends them.

use core::fmt;

use crate::eth::{self, EthFrame, EthRepr};
use crate::octets::{put_u16_be, u16_be};
use crate::qos_fields::QosFields;
use crate::shim_mgmt::{Framing, IntField, MgmtLayout, ShimMgmt};
use crate::view::{self, impl_view};
use crate::{Result, WireError};

/// Octets of the inner header.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// Octets of Ethernet plus inner header in front of the payload.
pub const FRAME_HEADER_LEN: usize = eth::HEADER_LEN + HEADER_LEN;
/// The EID of management messages.
pub const MGMT_EID: u16 = 0;
/// Octets of the fixed part of a management message.
pub const MGMT_LEN: usize = MGMT_LAYOUT.fixed_len;
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

/// Where the management message puts each field (the shared codec,
/// [`crate::shim_mgmt`], reads and writes through it).
pub(crate) const MGMT_LAYOUT: MgmtLayout = MgmtLayout {
    shim: "eth-dix",
    code_name: "eth-dix management code",
    fixed_len: 39,
    max_len: MAX_MGMT_LEN,
    code: 37,
    codes: [Some(0), Some(1), Some(2), Some(3)],
    zero_word: None,
    // seid: the sender's EID, so the requester's in a request and the
    // responder's in a reply; deid: the receiver's.
    request_requester: IntField::eid(0, 2),
    reply_requester: IntField::eid(2, 2),
    reply_responder: IntField::eid(0, 2),
    response: IntField::response(32, 4),
    qos: QosFields {
        loss: 4,
        bandwidth: 8,
        ber: 16,
        max_gap: 20,
        delay: 24,
        timeout: Some(28),
        in_order: 36,
        availability: 38,
    },
    fixed_hash_len: None,
    data: true,
}
.checked();

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
pub fn emit_mgmt_frame(buf: &mut [u8], eth: &EthRepr, msg: &ShimMgmt<'_>) -> Result<usize> {
    let body_len = Framing::EthDix.buffer_len(msg);
    let len = put_frame_header(buf, eth, MGMT_EID, body_len)?;
    Framing::EthDix.emit(msg, &mut buf[FRAME_HEADER_LEN..len])?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::{ETHERTYPE_O7S, MacAddr};
    use crate::fixtures::{SHA3_256_OPING, arb_mac, oap_request, oap_response, unhex};
    use crate::qos::QosSpec;
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
        let repr = ShimMgmt::FlowReq {
            requester: 64,
            qos: QosSpec::RAW,
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
        assert_eq!(Framing::EthDix.parse(payload, 32), Ok(repr));
    }

    #[test]
    fn flow_reply_to_19_1_carries_the_84_octet_oap_response() {
        let oap = oap_response();
        let repr = ShimMgmt::FlowReply {
            requester: 0x0040,
            responder: 0x0077,
            response: 0,
            data: &oap,
        };
        let mut expected = unhex("00 00 | 00 7b");
        // seid: the responder, who sends it; deid: the requester.
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
        let back = Framing::EthDix.parse(payload, 32).expect("valid reply");
        assert_eq!(back, repr);
        assert_eq!(back.data().len(), 84);
    }

    #[test]
    fn refused_reply_may_be_empty_and_keeps_its_negative_response() {
        let repr = ShimMgmt::FlowReply {
            requester: 64,
            responder: 9,
            response: -1009,
            data: &[],
        };
        let mut out = [0u8; MGMT_LEN];
        assert_eq!(Framing::EthDix.emit(&repr, &mut out), Ok(MGMT_LEN));
        assert_eq!(out[32..36], (-1009i32).to_be_bytes());
        assert_eq!(Framing::EthDix.parse(&out, 32), Ok(repr));
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
        assert_eq!(
            Framing::EthDix.parse(&body, 32),
            Ok(ShimMgmt::NameQuery { hash: &hash })
        );
        body[37] = 3;
        assert_eq!(
            Framing::EthDix.parse(&body, 32),
            Ok(ShimMgmt::NameReply { hash: &hash })
        );

        body.push(0);
        assert_eq!(
            Framing::EthDix.parse(&body, 32),
            Err(WireError::TooLong { len: 72, max: 71 })
        );
        assert_eq!(
            Framing::EthDix.parse(&body[..MGMT_LEN + 31], 32),
            Err(WireError::Truncated { need: 71, have: 70 })
        );
    }

    #[test]
    fn unknown_code_and_oversized_messages_are_refused() {
        let mut body = [0u8; MGMT_LEN];
        body[37] = 4;
        assert_eq!(
            Framing::EthDix.parse(&body, 32),
            Err(WireError::UnknownCode {
                what: "eth-dix management code",
                value: 4
            })
        );
        let big = vec![0u8; MAX_MGMT_LEN + 1];
        assert_eq!(
            Framing::EthDix.parse(&big, 32),
            Err(WireError::TooLong { len: 9001, max: 9000 })
        );
        assert_eq!(
            Framing::EthDix.parse(&body[..38], 32),
            Err(WireError::Truncated { need: 39, have: 38 })
        );
    }

    #[test]
    fn emit_refuses_an_eid_beyond_16_bits_and_a_short_buffer() {
        let reply = ShimMgmt::FlowReply {
            requester: 64,
            responder: 0x1_0000,
            response: 0,
            data: &[],
        };
        let mut frame = [0u8; 100];
        assert_eq!(
            emit_mgmt_frame(&mut frame, &eth(), &reply),
            Err(WireError::DoesNotFit {
                what: "responder EID",
                value: 0x1_0000,
                bits: 16
            })
        );
        let fits = ShimMgmt::FlowReply {
            requester: 64,
            responder: 0xffff,
            response: 0,
            data: &[],
        };
        assert_eq!(
            Framing::EthDix.emit(&fits, &mut frame[..38]),
            Err(WireError::Truncated { need: 39, have: 38 })
        );
        assert_eq!(
            emit_mgmt_frame(&mut frame[..56], &eth(), &fits),
            Err(WireError::Truncated { need: 57, have: 56 })
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
