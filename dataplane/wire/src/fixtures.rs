//! Test fixtures more than one module's tests use: the vectors of
//! PROTOCOL.md §19 that several formats carry (the name hashes of
//! `oping`, the unauthenticated OAP headers) and the proptest strategies
//! for the pieces every flow-allocation message has.

use proptest::prelude::*;

use crate::decoders::FUZZ_HASH_LEN;
use crate::dix::MgmtCode;
use crate::eth::MacAddr;
use crate::qos::QosSpec;

/// SHA3-256 of `oping`, the hash of every SHA3 layer's vectors.
pub(crate) const SHA3_256_OPING: &str = "42dee3b0415b4f690fd91cbd99876f1e9bd8d9745ef7fa32b142773af0349d54";
/// MD5 of `oping`, the hash of the UDP vectors.
pub(crate) const MD5_OPING: &str = "7862c6fec5ecaef4aa2e3934725e23b3";

/// Every QoS field zero: what the C senders leave in the QoS of messages
/// other than FLOW_REQ.
pub(crate) const QOS_UNSET: QosSpec = QosSpec {
    delay: 0,
    bandwidth: 0,
    availability: 0,
    loss: 0,
    ber: 0,
    in_order: 0,
    max_gap: 0,
    timeout: 0,
};

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
/// its fixed part with a hash of the decoder's length (or what there is
/// of one), so that every code meets a trailer of each kind.
pub(crate) fn fuzz_with_code(fuzz: fn(&[u8]), mut msg: Vec<u8>, code_at: usize, code: u8, fixed_len: usize) {
    msg[code_at] = code;
    let hashed = (fixed_len + FUZZ_HASH_LEN).min(msg.len());
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

/// Any eth management code with a trailer it carries: a 32-octet hash
/// where the code has one, up to 200 octets of data where it has data,
/// and nothing otherwise.
pub(crate) fn arb_mgmt_trailer() -> impl Strategy<Value = (MgmtCode, Vec<u8>, Vec<u8>)> {
    (
        proptest::sample::select(MgmtCode::ALL.to_vec()),
        proptest::collection::vec(any::<u8>(), 32),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(code, hash, data)| {
            let hash = if code.has_hash() { hash } else { Vec::new() };
            let data = if code.has_data() { data } else { Vec::new() };
            (code, hash, data)
        })
}
