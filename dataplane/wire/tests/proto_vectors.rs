//! The protobuf messages against the protobuf-c octets of PROTOCOL.md
//! §19.6, the proto2 `required` rule, the SDU size limits, and
//! encode/decode round trips of arbitrary messages.

use o7s_wire::WireError;
use o7s_wire::proto::cep::{CepMsg, FixedConcSyntaxMsg};
use o7s_wire::proto::dht::{DhtContactMsg, DhtFindNodeRspMsg, DhtFindReqMsg, DhtFindValueRspMsg, DhtMsg, DhtStoreMsg};
use o7s_wire::proto::enroll::{EnrollAckMsg, EnrollReqMsg, EnrollRespMsg};
use o7s_wire::proto::ipcp_config::{
    DirConfigMsg, DirDhtConfigMsg, DtConfigMsg, EthConfigMsg, IpcpConfigMsg, LsConfigMsg, RoutingConfigMsg,
    Udp4ConfigMsg, Udp6ConfigMsg, UniConfigMsg,
};
use o7s_wire::proto::model::LayerInfoMsg;
use o7s_wire::proto::{self, CEP_MAX_LEN, OEP_MAX_LEN};

/// Octets from PROTOCOL.md's spaced hex.
fn octets(spaced_hex: &str) -> Vec<u8> {
    let compact: String = spaced_hex.split_whitespace().collect();
    hex::decode(compact).expect("valid hex in a test vector")
}

/// Concatenation of pieces, for vectors with `(AA×32)` runs.
fn cat(pieces: &[&[u8]]) -> Vec<u8> {
    pieces.concat()
}

/// One length-delimited field: key, length, payload.
fn len_field(number: u8, payload: &[u8]) -> Vec<u8> {
    let len = u8::try_from(payload.len()).expect("short payload");
    assert!(len < 0x80 && number < 16);
    cat(&[&[number << 3 | 2, len], payload])
}

/// Decodes `bytes` to `expected`, and encodes `expected` back to exactly
/// `bytes`: the vectors are protobuf-c output, so prost must emit the same
/// field order and the same always-present required fields.
fn assert_vector<M>(bytes: &[u8], expected: &M)
where
    M: prost::Message + prost::Name + Default + PartialEq + core::fmt::Debug,
{
    let decoded = proto::decode::<M>(bytes);
    assert_eq!(decoded.as_ref(), Ok(expected), "decode {}", M::NAME);
    assert_eq!(
        hex::encode(proto::encode(expected)),
        hex::encode(bytes),
        "encode {}",
        M::NAME
    );
}

const ADDR: u64 = 0x0A0B_0C0D;

fn cep(comp_name: &str, protocol: &str, version: i32, syntax: i32, address: u64) -> CepMsg {
    CepMsg {
        comp_name: comp_name.into(),
        protocol: protocol.into(),
        pref_version: version,
        supp_version: vec![],
        pref_syntax: syntax,
        supp_syntax: vec![],
        syntax_spec: None,
        address,
    }
}

const ENROLL_ID: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// The unicast layer "lan" with every default of §7.1 and peer
/// 0x0A0B0C0D, as in the enroll_resp vector.
fn default_unicast_config() -> IpcpConfigMsg {
    IpcpConfigMsg {
        layer_info: LayerInfoMsg {
            name: "lan".into(),
            dir_hash_algo: 1,
        },
        ipcp_type: 1,
        unicast: Some(UniConfigMsg {
            dt: DtConfigMsg {
                addr_size: 4,
                eid_size: 8,
                max_ttl: 60,
                routing: RoutingConfigMsg {
                    pol: 0,
                    ls: Some(LsConfigMsg {
                        pol: 0,
                        t_recalc: 4,
                        t_update: 15,
                        t_timeo: 60,
                    }),
                },
            },
            dir: DirConfigMsg {
                pol: 0,
                dht: Some(DirDhtConfigMsg {
                    alpha: 3,
                    k: 8,
                    t_expire: 86400,
                    t_refresh: 900,
                    t_replicate: 900,
                    peer: ADDR,
                }),
            },
            addr_auth_type: 0,
            cong_avoid: 1,
        }),
        udp4: None,
        udp6: None,
        eth: None,
    }
}

fn src_contact() -> DhtContactMsg {
    DhtContactMsg {
        id: vec![0xAA; 32],
        addr: ADDR,
    }
}

/// `src` field of the DHT vectors: tag 2, id 32×AA, addr 0x0A0B0C0D.
fn src_octets() -> Vec<u8> {
    cat(&[&octets("12 27 0A 20"), &[0xAA; 32], &octets("10 8D 98 AC 50")])
}

// --- §19.6 vectors --------------------------------------------------------

#[test]
fn cacep_management_vector() {
    assert_vector(
        &octets("0A 0A 4D 61 6E 61 67 65 6D 65 6E 74 12 03 4C 53 50 18 01 28 00 40 8D 98 AC 50"),
        &cep("Management", "LSP", 1, 0, ADDR),
    );
}

#[test]
fn cacep_data_transfer_vector() {
    assert_vector(
        &octets("0A 0D 44 61 74 61 20 54 72 61 6E 73 66 65 72 12 03 64 74 70 18 01 28 02 40 8D 98 AC 50"),
        &cep("Data Transfer", "dtp", 1, 2, ADDR),
    );
}

#[test]
fn cacep_enrollment_vector() {
    assert_vector(
        &octets("0A 0A 45 6E 72 6F 6C 6C 6D 65 6E 74 12 03 4F 45 50 18 01 28 00 40 00"),
        &cep("Enrollment", "OEP", 1, 0, 0),
    );
}

#[test]
fn cacep_refusal_encodes_every_required_field_although_empty() {
    assert_vector(&octets("0A 00 12 00 18 00 28 00 40 00"), &CepMsg::default());
}

#[test]
fn enroll_req_vector() {
    assert_vector(
        &octets("0A 08 01 02 03 04 05 06 07 08"),
        &EnrollReqMsg { id: ENROLL_ID.to_vec() },
    );
}

#[test]
fn enroll_ack_success_vector() {
    assert_vector(
        &octets("0A 08 01 02 03 04 05 06 07 08 10 00"),
        &EnrollAckMsg {
            id: ENROLL_ID.to_vec(),
            result: 0,
        },
    );
}

#[test]
fn enroll_ack_negative_result_takes_ten_varint_octets() {
    assert_vector(
        &octets("0A 08 01 02 03 04 05 06 07 08 10 8F F8 FF FF FF FF FF FF FF 01"),
        &EnrollAckMsg {
            id: ENROLL_ID.to_vec(),
            result: -1009,
        },
    );
}

#[test]
fn enroll_resp_with_the_default_unicast_configuration_vector() {
    assert_vector(
        &octets(
            "0A 08 01 02 03 04 05 06 07 08 10 80 E2 CF AA 06 18 00 20 00 2A 40 0A 07 0A 03 6C 61 \
             6E 10 01 10 01 1A 33 0A 14 08 04 10 08 18 3C 22 0C 08 00 12 08 08 00 10 04 18 0F 20 \
             3C 12 17 08 00 12 13 08 03 10 08 18 80 A3 05 20 84 07 28 84 07 30 8D 98 AC 50 18 00 \
             20 01",
        ),
        &EnrollRespMsg {
            id: ENROLL_ID.to_vec(),
            t_sec: 1_700_000_000,
            t_nsec: 0,
            response: 0,
            conf: Some(default_unicast_config()),
        },
    );
}

#[test]
fn dht_find_node_req_vector() {
    let bytes = cat(&[
        &octets("08 01"),
        &src_octets(),
        &octets("22 2C 08 88 EF 99 AB C5 E8 8C 91 11 12 20"),
        &[0xBB; 32],
    ]);
    assert_vector(
        &bytes,
        &DhtMsg {
            code: 1,
            src: src_contact(),
            find: Some(DhtFindReqMsg {
                cookie: 0x1122_3344_5566_7788,
                key: vec![0xBB; 32],
            }),
            ..DhtMsg::default()
        },
    );
}

#[test]
fn dht_store_vector() {
    let bytes = cat(&[
        &octets("08 00"),
        &src_octets(),
        &octets("1A 32 0A 20"),
        &[0xBB; 32],
        &octets("12 08 00 00 00 00 0A 0B 0C 0D 18 80 85 D5 AA 06"),
    ]);
    assert_vector(
        &bytes,
        &DhtMsg {
            code: 0,
            src: src_contact(),
            store: Some(DhtStoreMsg {
                key: vec![0xBB; 32],
                val: ADDR.to_be_bytes().to_vec(),
                exp: 1_700_086_400,
            }),
            ..DhtMsg::default()
        },
    );
}

// --- proto2 required --------------------------------------------------------

#[test]
fn a_required_sub_message_is_encoded_even_when_default() {
    assert_eq!(hex::encode(proto::encode(&DhtMsg::default())), "080012040a001000");
}

#[test]
fn cep_without_address_is_refused() {
    let bytes = octets("0A 0A 4D 61 6E 61 67 65 6D 65 6E 74 12 03 4C 53 50 18 01 28 00");
    assert_eq!(
        proto::decode::<CepMsg>(&bytes),
        Err(WireError::MissingField {
            message: "cep_msg",
            field: "address"
        })
    );
}

#[test]
fn the_first_missing_field_in_number_order_is_reported() {
    assert_eq!(
        proto::decode::<CepMsg>(&octets("40 00")),
        Err(WireError::MissingField {
            message: "cep_msg",
            field: "comp_name"
        })
    );
    assert_eq!(
        proto::decode::<EnrollAckMsg>(&[]),
        Err(WireError::MissingField {
            message: "enroll_ack_msg",
            field: "id"
        })
    );
}

#[test]
fn dht_msg_without_src_is_refused() {
    let bytes = cat(&[&octets("08 01 22 2C 08 88 EF 99 AB C5 E8 8C 91 11 12 20"), &[0xBB; 32]]);
    assert_eq!(
        proto::decode::<DhtMsg>(&bytes),
        Err(WireError::MissingField {
            message: "dht_msg",
            field: "src"
        })
    );
}

#[test]
fn nested_contact_without_addr_is_refused() {
    let bytes = cat(&[&octets("08 01 12 22 0A 20"), &[0xAA; 32]]);
    assert_eq!(
        proto::decode::<DhtMsg>(&bytes),
        Err(WireError::MissingField {
            message: "dht_contact_msg",
            field: "addr"
        })
    );
}

#[test]
fn a_contact_inside_a_repeated_field_is_checked_too() {
    // FIND_NODE_RSP whose second contact lacks its id.
    let good = len_field(3, &cat(&[&octets("0A 01 07 10 05")]));
    let bad = len_field(3, &octets("10 05"));
    let node = len_field(5, &cat(&[&octets("08 01 12 00"), &good, &bad]));
    let bytes = cat(&[&octets("08 02"), &src_octets(), &node]);
    assert_eq!(
        proto::decode::<DhtMsg>(&bytes),
        Err(WireError::MissingField {
            message: "dht_contact_msg",
            field: "id"
        })
    );
}

#[test]
fn every_occurrence_of_a_sub_message_must_be_complete() {
    // protobuf-c unpacks each occurrence before merging, so a complete
    // `src` followed by one holding only an id is refused, although the
    // merge of the two would be complete.
    let partial_src = len_field(2, &cat(&[&octets("0A 20"), &[0xAA; 32]]));
    let bytes = cat(&[&octets("08 01"), &src_octets(), &partial_src]);
    assert_eq!(
        proto::decode::<DhtMsg>(&bytes),
        Err(WireError::MissingField {
            message: "dht_contact_msg",
            field: "addr"
        })
    );
}

#[test]
fn a_missing_field_deep_in_the_enrolment_configuration_is_refused() {
    // ls_config_msg without t_timeo, wrapped up to enroll_resp_msg.
    let ls = octets("08 00 10 04 18 0F");
    let routing = cat(&[&octets("08 00"), &len_field(2, &ls)]);
    let dt = cat(&[&octets("08 04 10 08 18 3C"), &len_field(4, &routing)]);
    let dir = octets("08 00");
    let unicast = cat(&[&len_field(1, &dt), &len_field(2, &dir), &octets("18 00 20 01")]);
    let conf = cat(&[
        &len_field(1, &octets("0A 03 6C 61 6E 10 01")),
        &octets("10 01"),
        &len_field(3, &unicast),
    ]);
    let bytes = cat(&[
        &octets("0A 08 01 02 03 04 05 06 07 08 10 00 18 00 20 00"),
        &len_field(5, &conf),
    ]);
    assert_eq!(
        proto::decode::<EnrollRespMsg>(&bytes),
        Err(WireError::MissingField {
            message: "ls_config_msg",
            field: "t_timeo"
        })
    );
    // With t_timeo the same octets decode.
    let ls = octets("08 00 10 04 18 0F 20 3C");
    let routing = cat(&[&octets("08 00"), &len_field(2, &ls)]);
    let dt = cat(&[&octets("08 04 10 08 18 3C"), &len_field(4, &routing)]);
    let unicast = cat(&[&len_field(1, &dt), &len_field(2, &dir), &octets("18 00 20 01")]);
    let conf = cat(&[
        &len_field(1, &octets("0A 03 6C 61 6E 10 01")),
        &octets("10 01"),
        &len_field(3, &unicast),
    ]);
    let bytes = cat(&[
        &octets("0A 08 01 02 03 04 05 06 07 08 10 00 18 00 20 00"),
        &len_field(5, &conf),
    ]);
    let resp = proto::decode::<EnrollRespMsg>(&bytes).expect("complete configuration");
    let unicast = resp.conf.and_then(|c| c.unicast).expect("unicast part");
    assert_eq!(unicast.dir.dht, None, "dht is optional in dir_config_msg");
}

#[test]
fn optional_sub_messages_may_be_absent() {
    // A broadcast layer's configuration: layer_info and ipcp_type only.
    let conf = IpcpConfigMsg {
        layer_info: LayerInfoMsg {
            name: "bc".into(),
            dir_hash_algo: 1,
        },
        ipcp_type: 2,
        ..IpcpConfigMsg::default()
    };
    let bytes = proto::encode(&conf);
    assert_eq!(hex::encode(&bytes), "0a060a02626310011002");
    assert_eq!(proto::decode::<IpcpConfigMsg>(&bytes), Ok(conf));
}

// --- malformed octets --------------------------------------------------------

#[test]
fn a_known_field_with_the_wrong_wire_type_is_refused() {
    // address (8) as a length-delimited field
    let bytes = octets("0A 00 12 00 18 00 28 00 42 01 00");
    assert_eq!(
        proto::decode::<CepMsg>(&bytes),
        Err(WireError::Protobuf { message: "cep_msg" })
    );
    // src (2) as a varint
    assert_eq!(
        proto::decode::<DhtMsg>(&octets("08 00 10 05")),
        Err(WireError::Protobuf { message: "dht_msg" })
    );
}

#[test]
fn groups_are_refused_as_protobuf_c_does() {
    // A valid refusal plus an unknown field 9 as an empty group.
    let bytes = octets("0A 00 12 00 18 00 28 00 40 00 4B 4C");
    assert_eq!(
        proto::decode::<CepMsg>(&bytes),
        Err(WireError::Protobuf { message: "cep_msg" })
    );
}

#[test]
fn truncations_are_refused() {
    let bytes = octets("0A 0A 4D 61 6E 61 67 65 6D 65 6E 74 12 03 4C 53 50 18 01 28 00 40 8D 98 AC 50");
    for len in 0..bytes.len() {
        assert!(
            proto::decode::<CepMsg>(&bytes[..len]).is_err(),
            "prefix of {len} octets"
        );
    }
}

#[test]
fn field_number_zero_is_refused() {
    let bytes = octets("0A 00 12 00 18 00 28 00 40 00 00 00");
    assert_eq!(
        proto::decode::<CepMsg>(&bytes),
        Err(WireError::Protobuf { message: "cep_msg" })
    );
}

#[test]
fn invalid_utf8_in_a_string_is_refused() {
    let bytes = octets("0A 01 FF 12 00 18 00 28 00 40 00");
    assert_eq!(
        proto::decode::<CepMsg>(&bytes),
        Err(WireError::Protobuf { message: "cep_msg" })
    );
}

#[test]
fn unknown_fields_are_skipped() {
    let plain = octets("0A 00 12 00 18 00 28 00 40 00");
    let extended = cat(&[
        &plain,
        &octets("48 07 52 02 AB CD 5D 01 02 03 04 61 01 02 03 04 05 06 07 08"),
    ]);
    assert_eq!(proto::decode::<CepMsg>(&extended), Ok(CepMsg::default()));
}

#[test]
fn repeated_scalars_are_accepted_packed_and_unpacked() {
    let plain = octets("0A 00 12 00 18 01 28 00 40 00");
    let unpacked = cat(&[&plain, &octets("20 01 20 02 30 00")]);
    let packed = cat(&[&plain, &octets("22 02 01 02 32 01 00")]);
    let expected = CepMsg {
        pref_version: 1,
        supp_version: vec![1, 2],
        supp_syntax: vec![0],
        ..CepMsg::default()
    };
    assert_eq!(proto::decode::<CepMsg>(&unpacked), Ok(expected.clone()));
    assert_eq!(proto::decode::<CepMsg>(&packed), Ok(expected.clone()));
    // protobuf-c emits proto2 repeated scalars unpacked and every field
    // in number order; so does prost.
    assert_eq!(
        proto::encode(&expected),
        octets("0A 00 12 00 18 01 20 01 20 02 28 00 30 00 40 00")
    );
    // A packed run that ends inside a varint is malformed.
    let broken = cat(&[&plain, &octets("22 02 01 82")]);
    assert_eq!(
        proto::decode::<CepMsg>(&broken),
        Err(WireError::Protobuf { message: "cep_msg" })
    );
}

#[test]
fn a_repeated_required_scalar_takes_the_last_value() {
    let bytes = octets("0A 00 12 00 18 00 28 00 40 00 40 05");
    assert_eq!(proto::decode::<CepMsg>(&bytes).map(|m| m.address), Ok(5));
}

// --- size limits ----------------------------------------------------------------

#[test]
fn cacep_longer_than_128_octets_is_refused() {
    let fits = cep(&"x".repeat(CEP_MAX_LEN - 10), "", 0, 0, 0);
    let encoded = proto::encode_limited(&fits).expect("fits");
    assert_eq!(encoded.len(), CEP_MAX_LEN);
    assert_eq!(proto::decode_limited::<CepMsg>(&encoded), Ok(fits));

    let long = cep(&"x".repeat(CEP_MAX_LEN - 9), "", 0, 0, 0);
    let too_long = WireError::TooLong {
        len: CEP_MAX_LEN + 1,
        max: CEP_MAX_LEN,
    };
    assert_eq!(proto::encode_limited(&long), Err(too_long));
    let encoded = proto::encode(&long);
    assert_eq!(proto::decode_limited::<CepMsg>(&encoded), Err(too_long));
    // Without the limit the message is well-formed.
    assert_eq!(proto::decode::<CepMsg>(&encoded), Ok(long));
}

#[test]
fn oep_longer_than_1024_octets_is_refused() {
    let long = EnrollReqMsg {
        id: vec![0; OEP_MAX_LEN],
    };
    let len = proto::encode(&long).len();
    assert_eq!(
        proto::encode_limited(&long),
        Err(WireError::TooLong { len, max: OEP_MAX_LEN })
    );
    assert!(proto::decode_limited::<EnrollReqMsg>(&proto::encode(&long)).is_err());
    assert!(proto::check_size::<EnrollAckMsg>(OEP_MAX_LEN).is_ok());
    assert!(proto::check_size::<EnrollRespMsg>(OEP_MAX_LEN + 1).is_err());
}

// --- round trips of arbitrary messages --------------------------------------------

mod arbitrary {
    use super::*;
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        vec(any::<u8>(), 0..=max)
    }

    fn text() -> impl Strategy<Value = String> {
        ".{0,16}"
    }

    pub fn cep_msg() -> impl Strategy<Value = CepMsg> {
        let syntax = (vec(any::<u32>(), 0..4), vec(any::<u32>(), 0..4))
            .prop_map(|(fids, lens)| FixedConcSyntaxMsg { fids, lens });
        (
            text(),
            text(),
            any::<i32>(),
            vec(any::<i32>(), 0..4),
            any::<i32>(),
            vec(any::<i32>(), 0..4),
            option::of(syntax),
            any::<u64>(),
        )
            .prop_map(
                |(comp_name, protocol, pref_version, supp_version, pref_syntax, supp_syntax, syntax_spec, address)| {
                    CepMsg {
                        comp_name,
                        protocol,
                        pref_version,
                        supp_version,
                        pref_syntax,
                        supp_syntax,
                        syntax_spec,
                        address,
                    }
                },
            )
    }

    fn uni_config() -> impl Strategy<Value = UniConfigMsg> {
        let ls = any::<[u32; 4]>().prop_map(|[pol, t_recalc, t_update, t_timeo]| LsConfigMsg {
            pol,
            t_recalc,
            t_update,
            t_timeo,
        });
        let routing = (any::<u32>(), option::of(ls)).prop_map(|(pol, ls)| RoutingConfigMsg { pol, ls });
        let dt = (any::<[u32; 3]>(), routing).prop_map(|([addr_size, eid_size, max_ttl], routing)| DtConfigMsg {
            addr_size,
            eid_size,
            max_ttl,
            routing,
        });
        let dht = (any::<[u32; 5]>(), any::<u64>()).prop_map(|([alpha, k, t_expire, t_refresh, t_replicate], peer)| {
            DirDhtConfigMsg {
                alpha,
                k,
                t_expire,
                t_refresh,
                t_replicate,
                peer,
            }
        });
        let dir = (any::<u32>(), option::of(dht)).prop_map(|(pol, dht)| DirConfigMsg { pol, dht });
        (dt, dir, any::<u32>(), any::<u32>()).prop_map(|(dt, dir, addr_auth_type, cong_avoid)| UniConfigMsg {
            dt,
            dir,
            addr_auth_type,
            cong_avoid,
        })
    }

    fn ipcp_config() -> impl Strategy<Value = IpcpConfigMsg> {
        let layer_info = (text(), any::<u32>()).prop_map(|(name, dir_hash_algo)| LayerInfoMsg { name, dir_hash_algo });
        let udp4 = any::<[u32; 3]>().prop_map(|[ip_addr, port, dns_addr]| Udp4ConfigMsg {
            ip_addr,
            port,
            dns_addr,
        });
        let udp6 = (bytes(16), any::<u32>(), bytes(16)).prop_map(|(ip_addr, port, dns_addr)| Udp6ConfigMsg {
            ip_addr,
            port,
            dns_addr,
        });
        let eth = (text(), any::<u32>()).prop_map(|(dev, ethertype)| EthConfigMsg { dev, ethertype });
        (
            layer_info,
            any::<u32>(),
            option::of(uni_config()),
            option::of(udp4),
            option::of(udp6),
            option::of(eth),
        )
            .prop_map(|(layer_info, ipcp_type, unicast, udp4, udp6, eth)| IpcpConfigMsg {
                layer_info,
                ipcp_type,
                unicast,
                udp4,
                udp6,
                eth,
            })
    }

    pub fn enroll_req() -> impl Strategy<Value = EnrollReqMsg> {
        bytes(16).prop_map(|id| EnrollReqMsg { id })
    }

    pub fn enroll_resp() -> impl Strategy<Value = EnrollRespMsg> {
        (
            bytes(16),
            any::<i64>(),
            any::<i32>(),
            any::<i32>(),
            option::of(ipcp_config()),
        )
            .prop_map(|(id, t_sec, t_nsec, response, conf)| EnrollRespMsg {
                id,
                t_sec,
                t_nsec,
                response,
                conf,
            })
    }

    pub fn enroll_ack() -> impl Strategy<Value = EnrollAckMsg> {
        (bytes(16), any::<i32>()).prop_map(|(id, result)| EnrollAckMsg { id, result })
    }

    fn contact() -> impl Strategy<Value = DhtContactMsg> {
        (bytes(64), any::<u64>()).prop_map(|(id, addr)| DhtContactMsg { id, addr })
    }

    pub fn dht_msg() -> impl Strategy<Value = DhtMsg> {
        let store = (bytes(64), bytes(16), any::<u32>()).prop_map(|(key, val, exp)| DhtStoreMsg { key, val, exp });
        let find = (any::<u64>(), bytes(64)).prop_map(|(cookie, key)| DhtFindReqMsg { cookie, key });
        let node = (any::<u64>(), bytes(64), vec(contact(), 0..4))
            .prop_map(|(cookie, key, contacts)| DhtFindNodeRspMsg { cookie, key, contacts });
        let val = vec(bytes(8), 0..4).prop_map(|values| DhtFindValueRspMsg { values });
        (
            any::<u32>(),
            contact(),
            option::of(store),
            option::of(find),
            option::of(node),
            option::of(val),
        )
            .prop_map(|(code, src, store, find, node, val)| DhtMsg {
                code,
                src,
                store,
                find,
                node,
                val,
            })
    }
}

/// decode(encode(m)) = m, and re-encoding the decoded message gives the
/// same octets.
fn assert_round_trip<M>(msg: &M) -> Result<(), proptest::test_runner::TestCaseError>
where
    M: prost::Message + prost::Name + Default + PartialEq + core::fmt::Debug,
{
    let encoded = proto::encode(msg);
    let decoded = proto::decode::<M>(&encoded);
    proptest::prop_assert_eq!(decoded.as_ref(), Ok(msg));
    if let Ok(decoded) = decoded {
        proptest::prop_assert_eq!(proto::encode(&decoded), encoded);
    }
    Ok(())
}

proptest::proptest! {
    #[test]
    fn cep_msg_round_trips(msg in arbitrary::cep_msg()) {
        assert_round_trip(&msg)?;
    }

    #[test]
    fn enroll_req_round_trips(msg in arbitrary::enroll_req()) {
        assert_round_trip(&msg)?;
    }

    #[test]
    fn enroll_resp_round_trips(msg in arbitrary::enroll_resp()) {
        assert_round_trip(&msg)?;
    }

    #[test]
    fn enroll_ack_round_trips(msg in arbitrary::enroll_ack()) {
        assert_round_trip(&msg)?;
    }

    #[test]
    fn dht_msg_round_trips(msg in arbitrary::dht_msg()) {
        assert_round_trip(&msg)?;
    }
}
