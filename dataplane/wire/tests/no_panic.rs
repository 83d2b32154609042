//! Every decoder of `o7s_wire::decoders::ALL` survives hostile input.
//!
//! Each decoder gets at least [`RANDOM_INPUTS`] random inputs (random
//! length 0..=2100, random octets), [`SHAPED_INPUTS`] random
//! protobuf-shaped ones, then every prefix and a set of single-octet
//! corruptions of each valid encoding we know for it (the vectors of
//! `tests/common`, which also start the fuzz seeds). A
//! decoder may refuse anything; it may panic only when its own round-trip
//! check finds that what it parsed does not survive emit/parse, which is
//! a bug too. The generator is a seeded splitmix64, so a failure
//! reproduces exactly.

use std::panic::{AssertUnwindSafe, catch_unwind};

use o7s_wire::decoders::{ALL, Decoder};

mod common;
use common::vectors;

/// Random inputs per decoder.
const RANDOM_INPUTS: usize = 10_000;
/// Longest random input: above every SDU/management limit of §19.2 so
/// that the length checks are exercised too.
const MAX_RANDOM_LEN: usize = 2100;

/// splitmix64: small, fast and good enough to spread lengths and octets.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        // The modulo bias is irrelevant here.
        (self.next() % bound as u64) as usize
    }

    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// Protobuf-shaped inputs per decoder: random fields with small numbers
/// and every wire type, length-delimited ones holding such fields again.
/// Random octets almost never get past a protobuf decoder's first key;
/// these reach the nested required-field checks and the round trip.
const SHAPED_INPUTS: usize = 2_000;

/// Appends one random protobuf field; `depth` bounds the nesting.
fn shaped_field(rng: &mut SplitMix64, out: &mut Vec<u8>, depth: u32) {
    let number = 1 + rng.below(9) as u64;
    let wire = [0u64, 0, 1, 2, 2, 2, 5, 3][rng.below(8)];
    put_varint(out, number << 3 | wire);
    match wire {
        0 => {
            let value = match rng.below(4) {
                0 => 0,
                1 => rng.next() & 0x7f,
                2 => rng.next() & 0xffff_ffff,
                _ => rng.next(),
            };
            put_varint(out, value);
        }
        1 => out.extend_from_slice(&rng.next().to_le_bytes()),
        5 => out.extend_from_slice(&rng.next().to_le_bytes()[..4]),
        2 => {
            let mut payload = Vec::new();
            if depth < 4 && rng.below(2) == 0 {
                for _ in 0..rng.below(6) {
                    shaped_field(rng, &mut payload, depth + 1);
                }
            } else {
                payload.resize(rng.below(40), 0);
                rng.fill(&mut payload);
            }
            put_varint(out, payload.len() as u64);
            out.extend_from_slice(&payload);
        }
        _ => {} // a group start, which protobuf-c refuses
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Runs one input, turning a panic into a report naming the decoder and
/// the input.
fn feed(decoder: &Decoder, input: &[u8], fed: &mut usize) {
    *fed += 1;
    let result = catch_unwind(AssertUnwindSafe(|| (decoder.run)(input)));
    assert!(
        result.is_ok(),
        "decoder {:?} panicked on {} octets: {}",
        decoder.name,
        input.len(),
        hex::encode(input)
    );
}

#[test]
fn no_decoder_panics_on_hostile_input() {
    assert!(!ALL.is_empty(), "decoders::ALL is empty");
    for expected in ["cep", "enroll_req", "enroll_resp", "enroll_ack", "dht"] {
        assert!(
            ALL.iter().any(|d| d.name == expected),
            "decoders::ALL lacks {expected:?}"
        );
    }

    let mut input = vec![0u8; MAX_RANDOM_LEN];
    for (index, decoder) in ALL.iter().enumerate() {
        // One stream per decoder, so adding a decoder does not change
        // what the others are fed.
        let mut rng = SplitMix64(0x6f37_735f_7769_7265 ^ index as u64);
        let mut fed = 0usize;

        for _ in 0..RANDOM_INPUTS {
            let len = rng.below(MAX_RANDOM_LEN + 1);
            rng.fill(&mut input[..len]);
            feed(decoder, &input[..len], &mut fed);
        }

        let mut shaped = Vec::new();
        for _ in 0..SHAPED_INPUTS {
            shaped.clear();
            for _ in 0..rng.below(10) {
                shaped_field(&mut rng, &mut shaped, 0);
            }
            feed(decoder, &shaped, &mut fed);
        }

        for seed in vectors(decoder.name) {
            // The seed itself, then every proper prefix.
            for len in 0..=seed.len() {
                feed(decoder, &seed[..len], &mut fed);
            }
            // Every octet flipped to a few values that tend to matter:
            // length and varint continuation bits, all-ones, zero, and
            // one random value.
            let mut corrupted = seed.clone();
            for at in 0..seed.len() {
                let random = rng.next() as u8;
                for value in [seed[at] ^ 0x01, seed[at] ^ 0x80, 0xFF, 0x00, random] {
                    if value == seed[at] {
                        continue;
                    }
                    corrupted[at] = value;
                    feed(decoder, &corrupted, &mut fed);
                }
                corrupted[at] = seed[at];
            }
            // The seed with trailing garbage.
            let mut extended = seed.clone();
            extended.extend_from_slice(&[0x08, 0x01, 0xFF, 0x7F]);
            feed(decoder, &extended, &mut fed);
        }

        println!("{:>12}: {fed} inputs", decoder.name);
        assert!(
            fed >= RANDOM_INPUTS,
            "decoder {:?} was fed only {fed} inputs",
            decoder.name
        );
    }
}

#[test]
fn every_protobuf_seed_decodes() {
    // Seeds that do not decode would make the mutation sweep above weaker
    // without anyone noticing.
    use o7s_wire::proto;
    for seed in vectors("cep") {
        assert!(proto::decode_limited::<proto::cep::CepMsg>(&seed).is_ok());
    }
    for seed in vectors("enroll_req") {
        assert!(proto::decode_limited::<proto::enroll::EnrollReqMsg>(&seed).is_ok());
    }
    for seed in vectors("enroll_resp") {
        assert!(proto::decode_limited::<proto::enroll::EnrollRespMsg>(&seed).is_ok());
    }
    for seed in vectors("enroll_ack") {
        assert!(proto::decode_limited::<proto::enroll::EnrollAckMsg>(&seed).is_ok());
    }
    for seed in vectors("dht") {
        assert!(
            proto::decode::<proto::dht::DhtMsg>(&seed).is_ok(),
            "{}",
            hex::encode(&seed)
        );
    }
}

#[test]
fn every_decoder_has_a_fuzz_target() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for d in o7s_wire::decoders::ALL {
        let target = fuzz.join("fuzz_targets").join(format!("{}.rs", d.name));
        let source = std::fs::read_to_string(&target).unwrap_or_else(|_| panic!("no fuzz target {}", target.display()));
        assert!(
            source.contains(&format!("by_name(\"{}\")", d.name)),
            "{} fuzzes another decoder",
            d.name
        );
        assert!(
            manifest.contains(&format!("name = \"{}\"", d.name)),
            "fuzz/Cargo.toml lacks [[bin]] {}",
            d.name
        );
    }
}
