//! The byte vectors of the wire formats, by decoder name: what the
//! no-panic sweep mutates (`no_panic.rs`) and what the committed fuzz
//! seeds start from (`fuzz_corpus.rs`). Shared by those test targets
//! with `mod common;`.

/// Octets from spaced hex, as PROTOCOL.md writes them.
fn octets(spaced_hex: &str) -> Vec<u8> {
    let compact: String = spaced_hex.split_whitespace().collect();
    hex::decode(compact).expect("valid hex in a seed")
}

fn cat(pieces: &[&[u8]]) -> Vec<u8> {
    pieces.concat()
}

/// Valid encodings of the format the decoder `name` of
/// `o7s_wire::decoders::ALL` reads. The octets are the vectors of
/// PROTOCOL.md §7.2, §15.1, §19.1 and §19.6 and those of the crate's unit
/// tests (each arm says which); a decoder without vectors gets none.
pub fn vectors(name: &str) -> Vec<Vec<u8>> {
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
        // §19.1 (a FLOW_REQ for `oping` and a name query), bare, inside
        // the eth-dix header and inside the whole frame
        "dix_mgmt" => vec![dix_flow_req(&sha3_oping, &oap), dix_name_query(&sha3_oping)],
        "dix" => vec![
            dix_inner(&dix_flow_req(&sha3_oping, &oap)),
            dix_inner(&dix_name_query(&sha3_oping)),
            // dix.rs: "ping" to EID 0x41 padded to 60 octets by the NIC,
            // and a keepalive (no payload)
            cat(&[&octets("00 41 00 04 70 69 6E 67"), &[0; 38]]),
            octets("00 46 00 00"),
        ],
        "eth" => vec![
            cat(&[&DIX_ETH_HEADER, &dix_inner(&dix_flow_req(&sha3_oping, &oap))]),
            cat(&[&DIX_ETH_HEADER, &octets("00 41 00 04 70 69 6E 67"), &[0; 38]]),
        ],
        // oap.rs unit tests: the unauthenticated request and its response
        // (SHA-384 req_hash), and a request with certificate, kex, data
        // and signature (AES-256-GCM, SHA-256)
        "oap_req" => vec![
            oap.clone(),
            oap_request(),
            cat(&[
                &oap_request()[..24],
                &octets("03 85 02 A0 02 A0 00 03 C0 02 00 01 C1 C2 C3 4B 4B DA 51 52 53 54"),
            ]),
        ],
        "oap_rsp" => vec![octets(
            "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 17 97 9C FE 3A 0A A9 80 00 00 00 00 00 00 00 00 00 \
             00 00 00 E3 53 60 B3 54 29 80 27 4C B8 C9 08 1B 9C 76 01 EE 10 26 8B 39 DE 5F 40 B9 61 8A 0B D0 66 \
             C3 11 74 C6 58 2D A0 03 55 87 61 76 CF 73 69 6B A5 3E",
        )],
        // dt.rs unit tests: the §7.2 example behind the layout octet of
        // the default layout (addr 4, eid 8), and the addr 2, eid 3 one
        "dt_layout" => vec![
            cat(&[&[0x3B], &octets("0D 0C 0B 0A 00 3C 00 40 00 00 00 78 56 34 12")]),
            cat(&[&[0x11], &octets("0C 0D 01 05 80 40 00 12 77")]),
        ],
        // udp.rs unit tests: "hi" to EID 0x41, and a keepalive
        "udp" => vec![octets("00 00 00 41 68 69"), octets("00 00 00 41")],
        // llc.rs unit tests: a management frame with two payload octets, a
        // keepalive padded to 60 octets, and a FLOW_REQ body
        "llc" => vec![
            octets("02 00 00 00 00 02 02 00 00 00 00 01 00 05 80 80 03 AA BB"),
            cat(&[&octets("02 00 00 00 00 02 02 00 00 00 00 01 00 03 40 40 03"), &[0; 43]]),
        ],
        "llc_mgmt" => vec![cat(&[
            &octets(
                "02 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 01 FF FF FF FF FF FF FF FF \
                 00 01 D4 C0 00 00 00 00 00",
            ),
            &sha3_oping,
            &oap_request(),
        ])],
        // raptor.rs unit tests: a name query to the management EID, a
        // FLOW_REQ and a refusing FLOW_REPLY
        "raptor" => vec![cat(&[&[65, 0, 1, 2], &[0; 29], &sha3_oping])],
        "raptor_mgmt" => vec![
            cat(&[
                &octets(
                    "00 02 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 01 FF FF FF FF FF FF FF \
                     FF 00 00",
                ),
                &sha3_oping,
            ]),
            cat(&[&octets("01 03 02 FF"), &[0; 26]]),
        ],
        "frct" => vec![
            cat(&[&octets("0B 00 01 40 00 00 00 01 00 00 00 00"), b"hello"]),
            octets("0C 00 01 40 00 00 00 00 00 00 00 05"),
            octets("10 00 00 00 00 00 00 00 00 00 00 00"),
        ],
        _ => vec![],
    }
}

/// Ethernet header of the §19.1 frames: 02:00:00:00:00:01 to
/// 02:00:00:00:00:02, Ethertype 0xA000.
const DIX_ETH_HEADER: [u8; 14] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0xA0, 0x00];

/// The eth-dix FLOW_REQ of §19.1 from EID 64 (raw QoS), with `oap`.
fn dix_flow_req(hash: &[u8], oap: &[u8]) -> Vec<u8> {
    let fixed = octets(
        "00 40 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 01 FF FF FF FF FF FF \
         FF FF 00 01 D4 C0 00 00 00 00 00 00 00",
    );
    cat(&[&fixed, hash, oap])
}

/// An eth-dix NAME_QUERY_REQ.
fn dix_name_query(hash: &[u8]) -> Vec<u8> {
    cat(&[&[0; 37], &[2, 0], hash])
}

/// A management message behind its eth-dix header (EID 0).
fn dix_inner(body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len()).expect("short body").to_be_bytes();
    cat(&[&[0, 0], &len, body])
}

/// The unauthenticated OAP request of the unit tests: id 00..0f,
/// timestamp 1700000000 s, every NID and length zero.
fn oap_request() -> Vec<u8> {
    octets(
        "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 17 97 9C FE 36 2A 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
    )
}
