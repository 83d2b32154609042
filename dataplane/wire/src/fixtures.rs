//! Test fixtures more than one module's tests use: the vectors of
//! PROTOCOL.md §19 that several formats carry (the name hashes of
//! `oping`, the unauthenticated OAP headers) and the proptest strategies
//! for the pieces every flow-allocation message has.

use proptest::prelude::*;

use crate::eth::MacAddr;
use crate::qos::QosSpec;
use crate::shim_mgmt::ShimMgmt;

/// SHA3-256 of `oping`, the hash of every SHA3 layer's vectors.
pub(crate) const SHA3_256_OPING: &str = "42dee3b0415b4f690fd91cbd99876f1e9bd8d9745ef7fa32b142773af0349d54";
/// MD5 of `oping`, the hash of the UDP vectors.
pub(crate) const MD5_OPING: &str = "7862c6fec5ecaef4aa2e3934725e23b3";

/// Every QoS field zero ([`QosSpec::UNSET`]).
pub(crate) const QOS_UNSET: QosSpec = QosSpec::UNSET;

/// The octets a test vector spells in hex; anything that is not a hex
/// digit (spaces, `|`, newlines) only separates.
pub(crate) fn unhex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    hex::decode(digits).expect("test vector is hex")
}

/// The unauthenticated request of the tests: id 00..0f, timestamp
/// 1700000000 s, every NID and length zero.
pub(crate) fn oap_request() -> Vec<u8> {
    unhex("000102030405060708090a0b0c0d0e0f 17979cfe362a0000 0000 0000 0000 0000 0000 0000")
}

/// The unauthenticated response to [`oap_request`]: the same id, a
/// later timestamp, and SHA-384 of the 36 request octets.
pub(crate) fn oap_response() -> Vec<u8> {
    unhex(
        "000102030405060708090a0b0c0d0e0f 17979cfe3a0aa980 0000 0000 0000 0000 0000 0000
         e35360b3542980274cb8c9081b9c7601ee10268b39de5f40
         b9618a0bd066c31174c6582da00355876176cf73696ba53e",
    )
}

/// Runs a flow-allocation decoder on `msg` with its code octet (at
/// `code_at`) set to `code`: the whole message, its fixed part alone, and
/// its fixed part with a hash of the decoder's length `hash_len` (or what
/// there is of one), so that every code meets a trailer of each kind.
pub(crate) fn fuzz_with_code(
    fuzz: fn(&[u8]),
    mut msg: Vec<u8>,
    code_at: usize,
    code: u8,
    fixed_len: usize,
    hash_len: usize,
) {
    msg[code_at] = code;
    let hashed = (fixed_len + hash_len).min(msg.len());
    for len in [msg.len(), fixed_len, hashed] {
        fuzz(&msg[..len]);
    }
}

/// Any spec.
pub(crate) fn arb_qos() -> impl Strategy<Value = QosSpec> {
    (
        any::<u32>(),
        any::<u64>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(delay, bandwidth, availability, loss, ber, in_order, max_gap, timeout)| QosSpec {
                delay,
                bandwidth,
                availability,
                loss,
                ber,
                in_order,
                max_gap,
                timeout,
            },
        )
}

/// Any MAC address.
pub(crate) fn arb_mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

/// The owned pieces of a [`ShimMgmt`], for strategies to make.
#[derive(Debug, Clone)]
pub(crate) enum MgmtPieces {
    NameQuery(Vec<u8>),
    NameReply(Vec<u8>),
    /// requester, QoS, hash, data
    FlowReq(u32, QosSpec, Vec<u8>, Vec<u8>),
    /// requester, responder, response, data
    FlowReply(u32, u32, i32, Vec<u8>),
}

impl MgmtPieces {
    /// The message, borrowing the pieces.
    pub(crate) fn msg(&self) -> ShimMgmt<'_> {
        match self {
            MgmtPieces::NameQuery(hash) => ShimMgmt::NameQuery { hash },
            MgmtPieces::NameReply(hash) => ShimMgmt::NameReply { hash },
            MgmtPieces::FlowReq(requester, qos, hash, data) => ShimMgmt::FlowReq {
                requester: *requester,
                qos: *qos,
                hash,
                data,
            },
            MgmtPieces::FlowReply(requester, responder, response, data) => ShimMgmt::FlowReply {
                requester: *requester,
                responder: *responder,
                response: *response,
                data,
            },
        }
    }
}

/// An EID of any width: most fit 8 bits, some 16, some only 32, so that
/// every shim meets EIDs it carries and EIDs it must refuse.
fn arb_eid() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=0xff, 0x100u32..=0xffff, any::<u32>()]
}

/// Any management message: hashes of MD5's or SHA3-256's length, up to
/// 200 octets of data, EIDs and responses of every width.
pub(crate) fn arb_mgmt_pieces() -> impl Strategy<Value = MgmtPieces> {
    let hash = prop_oneof![
        proptest::collection::vec(any::<u8>(), 16),
        proptest::collection::vec(any::<u8>(), 32)
    ];
    let data = || prop_oneof![Just(Vec::new()), proptest::collection::vec(any::<u8>(), 0..200)];
    let response = prop_oneof![Just(0), -128i32..=127, any::<i32>()];
    prop_oneof![
        hash.clone().prop_map(MgmtPieces::NameQuery),
        hash.clone().prop_map(MgmtPieces::NameReply),
        (arb_eid(), arb_qos(), hash, data())
            .prop_map(|(requester, qos, hash, data)| MgmtPieces::FlowReq(requester, qos, hash, data)),
        (arb_eid(), arb_eid(), response, data()).prop_map(|(requester, responder, response, data)| {
            MgmtPieces::FlowReply(requester, responder, response, data)
        }),
    ]
}
