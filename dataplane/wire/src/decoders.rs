//! Every decoder of the crate, by name.
//!
//! One table serves the cargo-fuzz targets (`fuzz/`, one target per entry)
//! and the no-panic sweep of the normal test run, so a decoder added here is
//! fuzzed and swept without further wiring. Each entry parses the input and,
//! when parsing succeeds, emits the representation again and checks the
//! round trip where the format is canonical, panicking on a mismatch: a
//! fuzzer then finds asymmetric parse/emit pairs as well as crashes.

/// A named decoder entry point.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    /// Short name, also the fuzz target's name.
    pub name: &'static str,
    /// Parses arbitrary octets; must never panic unless a round trip fails.
    pub run: fn(&[u8]),
}

/// All decoders.
pub const ALL: &[Decoder] = &[
    // fixed-layout formats (hashes of SHA3-256 length where one is needed)
    Decoder {
        name: "eth",
        run: crate::eth::fuzz_frame,
    },
    Decoder {
        name: "dix",
        run: crate::dix::fuzz_header,
    },
    Decoder {
        name: "dix_mgmt",
        run: crate::dix::fuzz_mgmt,
    },
    Decoder {
        name: "llc",
        run: crate::llc::fuzz_frame,
    },
    Decoder {
        name: "llc_mgmt",
        run: crate::llc::fuzz_mgmt,
    },
    Decoder {
        name: "udp",
        run: crate::udp::fuzz_datagram,
    },
    Decoder {
        name: "udp_mgmt",
        run: crate::udp::fuzz_mgmt,
    },
    Decoder {
        name: "oap_req",
        run: crate::oap::fuzz_request,
    },
    Decoder {
        name: "oap_rsp",
        run: crate::oap::fuzz_response,
    },
    Decoder {
        name: "dt",
        run: crate::dt::fuzz_default,
    },
    Decoder {
        name: "dt_layout",
        run: crate::dt::fuzz_any_layout,
    },
    Decoder {
        name: "fa",
        run: crate::fa::fuzz_message,
    },
    Decoder {
        name: "lsm",
        run: crate::lsm::fuzz_message,
    },
    Decoder {
        name: "frct",
        run: crate::frct::fuzz_header,
    },
    Decoder {
        name: "raptor",
        run: crate::raptor::fuzz_frame,
    },
    Decoder {
        name: "raptor_mgmt",
        run: crate::raptor::fuzz_mgmt,
    },
    // protobuf formats
    Decoder {
        name: "cep",
        run: crate::proto::round_trip_limited::<crate::proto::cep::CepMsg>,
    },
    Decoder {
        name: "enroll_req",
        run: crate::proto::round_trip_limited::<crate::proto::enroll::EnrollReqMsg>,
    },
    Decoder {
        name: "enroll_resp",
        run: crate::proto::round_trip_limited::<crate::proto::enroll::EnrollRespMsg>,
    },
    Decoder {
        name: "enroll_ack",
        run: crate::proto::round_trip_limited::<crate::proto::enroll::EnrollAckMsg>,
    },
    Decoder {
        name: "dht",
        run: crate::proto::round_trip::<crate::proto::dht::DhtMsg>,
    },
];

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

/// The decoder called `name`, if any.
pub fn by_name(name: &str) -> Option<&'static Decoder> {
    ALL.iter().find(|d| d.name == name)
}
