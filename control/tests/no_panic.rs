//! Neither parser panics, whatever it is given: a refusal is always a
//! typed error (ARCHITECTURE.md: malformed input is refused, never a panic).

use o7s_control::irm_cli::{Command, help};
use o7s_control::irmd_config::IrmdConfig;
use proptest::prelude::*;

/// Words drawn mostly from the language itself, so that the walk gets deep
/// into every command, plus arbitrary strings.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "ipcp", "bind", "unbind", "name", "help", "i", "b", "n", "u", "create", "destroy", "bootstrap",
            "enroll", "connect", "disconnect", "list", "register", "unregister", "program", "process", "type",
            "layer", "dst", "component", "qos", "auto", "autobind", "--", "unicast", "local", "udp4", "udp6",
            "eth-dix", "eth-llc", "broadcast", "ip", "port", "dns", "dev", "ethertype", "hash", "ttl", "addr",
            "eid", "dht_k", "routing", "congestion", "lb", "sencpath", "0", "255", "0xA000", "::1", "1.2.3.4",
            "SHA3_256", "mgmt", "dt", "raw", "",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

proptest! {
    #[test]
    fn irm_parse_never_panics(words in proptest::collection::vec(word(), 0..12)) {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        if let Err(e) = Command::parse(&words) {
            // Every refusal renders and points at a help text that renders.
            prop_assert!(!e.to_string().is_empty());
            prop_assert!(help(e.topic()).starts_with(e.topic().command()));
        }
    }

    #[test]
    fn irmd_config_parse_never_panics(text in any::<String>()) {
        let _ = IrmdConfig::parse(&text);
    }

    #[test]
    fn irmd_config_parse_never_panics_on_key_value_lines(
        kind in proptest::sample::select(vec!["name", "unicast", "broadcast", "local", "udp4", "udp6", "eth-dix", "eth-llc"]),
        lines in proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    "bootstrap", "enrol", "autobind", "reg", "conn", "prog", "args", "lb", "hash", "dev", "ethertype",
                    "ip", "port", "dns", "max_ttl", "eid_size", "addr_size", "dht_alpha", "dht_t_expiry",
                    "congestion", "routing", "directory", "addr-auth", "ls_t_timeo", "server_crt_file",
                ]),
                proptest::sample::select(vec![
                    "\"x\"", "0", "-1", "8", "65536", "0xA000", "true", "false", "[\"a\", \"b\"]", "[1]", "1.5",
                    "\"lfa\"", "\"SHA3_512\"", "\"::\"", "\"192.0.2.1\"", "\"\"",
                ]),
            ),
            0..8,
        ),
    ) {
        let mut text = format!("[{kind}.t]\n");
        for (key, value) in lines {
            text.push_str(&format!("{key} = {value}\n"));
        }
        let _ = IrmdConfig::parse(&text);
    }
}

/// Octets that are often close to a real message of a unicast layer's
/// components: mutations of valid ones, and arbitrary ones.
fn near(valid: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (proptest::sample::select(valid), any::<(usize, u8)>(), 0..64usize).prop_map(|(mut m, (at, b), cut)| {
            if !m.is_empty() {
                let i = at % m.len();
                m[i] ^= b;
                m.truncate(m.len().saturating_sub(cut % 8));
            }
            m
        }),
        proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

mod unicast {
    use std::time::Instant;

    use o7s_control::ipcp::unicast::cacep::{self, Component};
    use o7s_control::ipcp::unicast::dht::{Dht, DhtConfig};
    use o7s_control::ipcp::unicast::enroll::{self, Enrollee, LayerConfig};
    use o7s_control::ipcp::unicast::fa::FaCore;
    use o7s_control::ipcp::unicast::lsr::{Lsdb, LsrTimers};
    use o7s_control::ipcp_config::{IpcpType, UnicastConfig};
    use o7s_control::irm::FlowId;
    use o7s_wire::hash::{HashAlgo, hash_name};
    use o7s_wire::qos::QosSpec;
    use proptest::prelude::*;

    use super::near;

    fn layer() -> LayerConfig {
        LayerConfig::unicast("uni", UnicastConfig::default())
    }

    fn valid() -> Vec<Vec<u8>> {
        let t = Instant::now();
        let (enrollee, req) = Enrollee::new([1; 8], IpcpType::Unicast);
        let (resp, _) = enroll::answer(&req, &layer(), 5, 0).expect("answer");
        let mut fa = FaCore::new(1, 32, 1);
        fa.alloc(
            t,
            FlowId(1),
            2,
            &hash_name(HashAlgo::Sha3_256, "x"),
            QosSpec::RAW,
            b"oap",
        );
        let mut out = vec![
            req,
            resp,
            enrollee.ack(),
            cacep::request(Component::Management, 7),
            vec![0; 24],
        ];
        while let Some(e) = fa.poll_event() {
            if let o7s_control::ipcp::unicast::fa::FaEvent::Send { msg, .. } = e {
                out.push(msg);
            }
        }
        let mut dht = Dht::new(DhtConfig::default(), 1, 2, t, 1_800_000_000, 1);
        dht.start(t);
        while let Some(e) = dht.poll_event() {
            if let o7s_control::ipcp::unicast::dht::DhtEvent::Send { msg, .. } = e {
                out.push(msg);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn unicast_components_refuse_whatever_a_neighbour_sends_without_a_panic(msg in near(valid())) {
            let t = Instant::now();
            let _ = cacep::accept(&msg, &[Component::DataTransfer, Component::Management, Component::Enrollment], 1);
            let _ = cacep::check_answer(Component::Management, &msg);
            let _ = enroll::answer(&msg, &layer(), 1, 0);
            let _ = Enrollee::new([1; 8], IpcpType::Unicast).0.response(&msg, 0);
            let _ = enroll::check_ack(&msg, &[1; 8]);
            let mut db = Lsdb::new(t, 1, LsrTimers::default());
            db.mgmt_up(3);
            let _ = db.receive_sdu(t, 3, &msg);
            let mut dht = Dht::new(DhtConfig::default(), 2, 1, t, 1_800_000_000, 2);
            let _ = dht.receive(t, &msg);
            let mut fa = FaCore::new(2, 32, 2);
            let _ = fa.receive(t, &msg);
        }
    }
}
