//! Every decoder of the crate, by name.
//!
//! One table serves the cargo-fuzz targets (`fuzz/`, one target per entry)
//! and the no-panic sweep of the normal test run, so a decoder added here is
//! fuzzed and swept without further wiring. Each entry parses the input and,
//! when parsing succeeds, emits the representation again and checks the
//! round trip where the format is canonical, panicking on a mismatch: a
//! fuzzer then finds asymmetric parse/emit pairs as well as crashes. The
//! shims' management messages (`*_mgmt`, one codec in
//! [`crate::shim_mgmt`]) come back with the fields their code does not use
//! zeroed, and parse again to the same message.

/// A named decoder entry point.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    /// Short name, also the fuzz target's name.
    pub name: &'static str,
    /// Parses arbitrary octets; must never panic unless a round trip fails.
    pub run: fn(&[u8]),
}

impl Decoder {
    /// An entry of [`ALL`], one line each.
    const fn new(name: &'static str, run: fn(&[u8])) -> Decoder {
        Decoder { name, run }
    }
}

/// All decoders.
pub const ALL: &[Decoder] = &[
    // fixed-layout formats (hashes of SHA3-256 length where one is needed)
    Decoder::new("eth", crate::eth::fuzz_frame),
    Decoder::new("dix", crate::dix::fuzz_header),
    Decoder::new("dix_mgmt", crate::shim_mgmt::fuzz_eth_dix),
    Decoder::new("llc", crate::llc::fuzz_frame),
    Decoder::new("llc_mgmt", crate::shim_mgmt::fuzz_eth_llc),
    Decoder::new("udp", crate::udp::fuzz_datagram),
    Decoder::new("udp_mgmt", crate::shim_mgmt::fuzz_udp),
    Decoder::new("oap_req", crate::oap::fuzz_request),
    Decoder::new("oap_rsp", crate::oap::fuzz_response),
    Decoder::new("dt", crate::dt::fuzz_default),
    Decoder::new("dt_layout", crate::dt::fuzz_any_layout),
    Decoder::new("fa", crate::fa::fuzz_message),
    Decoder::new("lsm", crate::lsm::fuzz_message),
    Decoder::new("frct", crate::frct::fuzz_header),
    Decoder::new("raptor", crate::raptor::fuzz_frame),
    Decoder::new("raptor_mgmt", crate::shim_mgmt::fuzz_raptor),
    // protobuf formats
    Decoder::new("cep", crate::proto::round_trip_limited::<crate::proto::cep::CepMsg>),
    Decoder::new(
        "enroll_req",
        crate::proto::round_trip_limited::<crate::proto::enroll::EnrollReqMsg>,
    ),
    Decoder::new(
        "enroll_resp",
        crate::proto::round_trip_limited::<crate::proto::enroll::EnrollRespMsg>,
    ),
    Decoder::new(
        "enroll_ack",
        crate::proto::round_trip_limited::<crate::proto::enroll::EnrollAckMsg>,
    ),
    Decoder::new("dht", crate::proto::round_trip::<crate::proto::dht::DhtMsg>),
];

/// The hash length the decoders of formats whose hash has the layer's
/// length assume: SHA3-256, every layer's default.
pub(crate) const FUZZ_HASH_LEN: usize = crate::hash::HashAlgo::Sha3_256.digest_len();

/// The round trip of a fixed-layout decoder: `parse` reads `input` into a
/// Repr, `len` says how many leading octets of the input that Repr covers
/// (padding and the like excluded), and `emit` writes it into a fresh
/// buffer of that size. Panics when emitting fails or changes an octet.
pub(crate) fn round_trip<'a, R>(
    format: &str,
    input: &'a [u8],
    parse: impl FnOnce(&'a [u8]) -> crate::Result<R>,
    len: impl FnOnce(&R) -> usize,
    emit: impl FnOnce(&R, &mut [u8]) -> crate::Result<()>,
) {
    let Ok(repr) = parse(input) else {
        return;
    };
    let covered = len(&repr);
    let Some(expected) = input.get(..covered) else {
        panic!("{format}: parsed {covered} octets out of {}", input.len());
    };
    let mut out = vec![0; covered];
    if let Err(e) = emit(&repr, &mut out) {
        panic!("{format}: a parsed message does not emit: {e}");
    }
    assert!(
        expected == out,
        "{format}: emit(parse(x)) != x\n    x = {expected:02x?}\n  out = {out:02x?}"
    );
}

/// The round trip of a header in front of a payload it does not read:
/// as [`round_trip`], where `emit` writes the header alone (into the
/// first `header_len` octets of the output) and the payload octets the
/// Repr covers are copied over from the input.
pub(crate) fn round_trip_header<'a, R>(
    format: &str,
    input: &'a [u8],
    header_len: usize,
    parse: impl FnOnce(&'a [u8]) -> crate::Result<R>,
    len: impl FnOnce(&R) -> usize,
    emit: impl FnOnce(&R, &mut [u8]) -> crate::Result<()>,
) {
    round_trip(format, input, parse, len, |repr, out| {
        emit(repr, out)?;
        let covered = out.len();
        out[header_len..].copy_from_slice(&input[header_len..covered]);
        Ok(())
    });
}

/// The decoder called `name`, if any.
pub fn by_name(name: &str) -> Option<&'static Decoder> {
    ALL.iter().find(|d| d.name == name)
}
