//! Every decoder of `o7s_wire::decoders::ALL` survives hostile input.
//!
//! Each decoder gets at least [`RANDOM_INPUTS`] random inputs (random
//! length 0..=2100, random octets), [`SHAPED_INPUTS`] random
//! protobuf-shaped ones, then every prefix and a set of single-octet
//! corruptions of each valid encoding we know for it. A
//! decoder may refuse anything; it may panic only when its own round-trip
//! check finds that what it parsed does not survive emit/parse, which is
//! a bug too. The generator is a seeded splitmix64, so a failure
//! reproduces exactly.

use std::panic::{AssertUnwindSafe, catch_unwind};

use o7s_wire::decoders::{ALL, Decoder};

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

/// Octets from spaced hex, as PROTOCOL.md writes them.
fn octets(spaced_hex: &str) -> Vec<u8> {
    let compact: String = spaced_hex.split_whitespace().collect();
    hex::decode(compact).expect("valid hex in a seed")
}

fn cat(pieces: &[&[u8]]) -> Vec<u8> {
    pieces.concat()
}

/// Valid encodings of the format a decoder reads, to mutate. The fixed
/// formats' octets are the vectors of PROTOCOL.md §7.2, §15.1, §19.1 and
/// §19.6; where it is not certain whether a decoder starts at the outer
/// or the inner header, both forms are given (a seed that is not valid
/// for the decoder is merely a weaker seed).
fn seeds(name: &str) -> Vec<Vec<u8>> {
    let sha3_oping = octets("42dee3b0415b4f690fd91cbd99876f1e9bd8d9745ef7fa32b142773af0349d54");
    let md5_oping = octets("7862c6fec5ecaef4aa2e3934725e23b3");
    // OAP request without security: 16 id octets, 8 timestamp octets,
    // six zero 16-bit fields (§19.1).
    let oap = cat(&[&[0x5A; 16], &octets("17 9A 5E 1D 00 00 00 00"), &[0; 12]]);
    let dht_src = cat(&[&octets("12 27 0A 20"), &[0xAA; 32], &octets("10 8D 98 AC 50")]);
    match name {
        // --- protobuf formats (§19.6) ---
        "cep" => vec![
            octets("0A 0A 4D 61 6E 61 67 65 6D 65 6E 74 12 03 4C 53 50 18 01 28 00 40 8D 98 AC 50"),
            octets("0A 0D 44 61 74 61 20 54 72 61 6E 73 66 65 72 12 03 64 74 70 18 01 28 02 40 8D 98 AC 50"),
            octets("0A 0A 45 6E 72 6F 6C 6C 6D 65 6E 74 12 03 4F 45 50 18 01 28 00 40 00"),
            octets("0A 00 12 00 18 00 28 00 40 00"),
            // with the never-sent repeated and optional fields
            octets("0A 00 12 00 18 01 20 01 20 02 28 00 30 00 3A 06 08 01 08 02 10 03 40 00"),
        ],
        "enroll_req" => vec![octets("0A 08 01 02 03 04 05 06 07 08")],
        "enroll_ack" => vec![
            octets("0A 08 01 02 03 04 05 06 07 08 10 00"),
            octets("0A 08 01 02 03 04 05 06 07 08 10 8F F8 FF FF FF FF FF FF FF 01"),
        ],
        "enroll_resp" => vec![
            octets(
                "0A 08 01 02 03 04 05 06 07 08 10 80 E2 CF AA 06 18 00 20 00 2A 40 0A 07 0A 03 6C \
                 61 6E 10 01 10 01 1A 33 0A 14 08 04 10 08 18 3C 22 0C 08 00 12 08 08 00 10 04 18 \
                 0F 20 3C 12 17 08 00 12 13 08 03 10 08 18 80 A3 05 20 84 07 28 84 07 30 8D 98 AC \
                 50 18 00 20 01",
            ),
            // broadcast layer: layer_info and ipcp_type only
            octets("0A 08 01 02 03 04 05 06 07 08 10 00 18 00 20 00 2A 0A 0A 06 0A 02 62 63 10 01 10 02"),
        ],
        "dht" => vec![
            cat(&[
                &octets("08 01"),
                &dht_src,
                &octets("22 2C 08 88 EF 99 AB C5 E8 8C 91 11 12 20"),
                &[0xBB; 32],
            ]),
            cat(&[
                &octets("08 00"),
                &dht_src,
                &octets("1A 32 0A 20"),
                &[0xBB; 32],
                &octets("12 08 00 00 00 00 0A 0B 0C 0D 18 80 85 D5 AA 06"),
            ]),
            // FIND_VALUE_RSP: node with one contact, one value
            cat(&[
                &octets("08 04"),
                &dht_src,
                &octets("2A 13 08 01 12 02 BB BB 1A 0B 0A 04 CC CC CC CC 10 8D 98 AC 50"),
                &octets("32 0A 0A 08 00 00 00 00 0A 0B 0C 0D"),
            ]),
        ],
        // --- fixed-layout formats ---
        "dt" => vec![
            octets("0D 0C 0B 0A 00 3C 00 40 00 00 00 78 56 34 12"),
            cat(&[&octets("0D 0C 0B 0A 00 3C 00 40 00 00 00 78 56 34 12"), b"payload"]),
        ],
        "fa" => vec![
            cat(&[
                &octets(
                    "00 00 00 00 0A 0B 0C 0D 00 00 00 00 00 00 00 00 12 34 56 78 00 00 00 40 00 00 \
                     00 00 00 00 00 00 00 00 00 00 FF FF FF FF 00 00 00 01 00 00 00 01 FF FF FF FF \
                     00 01 D4 C0 00 00 00 00 00",
                ),
                &sha3_oping,
                &oap,
            ]),
            octets("00 00 00 00 00 00 00 00 99 99 99 99 00 00 00 41") // FLOW_UPDATE
                .into_iter()
                .chain([0; 40])
                .chain(octets("01 23 02 00 00"))
                .collect(),
        ],
        "lsm" => vec![octets(
            "00 00 00 00 0A 0B 0C 0D 00 00 00 00 01 02 03 04 00 00 00 00 00 00 00 05",
        )],
        "udp_mgmt" => vec![cat(&[
            &octets(
                "00 00 00 00 00 00 00 40 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF FF FF FF \
                 00 00 00 01 00 00 00 01 FF FF FF FF 00 01 D4 C0 01 00 00",
            ),
            &md5_oping,
            &oap,
        ])],
        "dix_mgmt" => {
            let flow_req = cat(&[
                &octets(
                    "00 40 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 01 FF FF FF FF FF FF \
                     FF FF 00 01 D4 C0 00 00 00 00 00 00 00",
                ),
                &sha3_oping,
                &oap,
            ]);
            let name_query = cat(&[&[0; 37], &[2, 0], &sha3_oping]);
            let inner = |body: &[u8]| {
                let len = u16::try_from(body.len()).expect("short body").to_be_bytes();
                cat(&[&[0, 0], &len, body])
            };
            vec![inner(&flow_req), inner(&name_query), flow_req, name_query]
        }
        "frct" => vec![
            cat(&[&octets("0B 00 01 40 00 00 00 01 00 00 00 00"), b"hello"]),
            octets("0C 00 01 40 00 00 00 00 00 00 00 05"),
            octets("10 00 00 00 00 00 00 00 00 00 00 00"),
        ],
        _ => vec![],
    }
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

        for seed in seeds(decoder.name) {
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
    for seed in seeds("cep") {
        assert!(proto::decode_limited::<proto::cep::CepMsg>(&seed).is_ok());
    }
    for seed in seeds("enroll_req") {
        assert!(proto::decode_limited::<proto::enroll::EnrollReqMsg>(&seed).is_ok());
    }
    for seed in seeds("enroll_resp") {
        assert!(proto::decode_limited::<proto::enroll::EnrollRespMsg>(&seed).is_ok());
    }
    for seed in seeds("enroll_ack") {
        assert!(proto::decode_limited::<proto::enroll::EnrollAckMsg>(&seed).is_ok());
    }
    for seed in seeds("dht") {
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
