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
