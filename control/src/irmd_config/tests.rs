use std::net::Ipv4Addr;

use super::*;
use crate::ipcp_config::{
    DhtParams, DirectoryPolicy, EthDixConfig, LinkStateConfig, RoutingPolicy, Udp4Config, UnicastConfig,
};

fn ok(text: &str) -> IrmdConfig {
    match IrmdConfig::parse(text) {
        Ok(c) => c,
        Err(e) => panic!("refused: {e}\n{text}"),
    }
}

fn err(text: &str) -> String {
    match IrmdConfig::parse(text) {
        Ok(c) => panic!("accepted as {c:?}\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn only_ipcp(text: &str) -> IpcpConfig {
    let mut c = ok(text);
    assert_eq!(c.ipcps.len(), 1);
    c.ipcps.remove(0)
}

fn unicast(text: &str) -> UnicastConfig {
    match only_ipcp(text).action {
        IpcpAction::Bootstrap {
            config: BootstrapConfig::Unicast(u),
            ..
        } => u,
        other => panic!("{other:?}"),
    }
}

// ----- file structure --------------------------------------------------------

#[test]
fn an_empty_file_configures_nothing() {
    assert_eq!(ok(""), IrmdConfig::default());
    assert_eq!(ok("# only a comment\n"), IrmdConfig::default());
}

#[test]
fn a_file_that_is_not_toml_is_a_syntax_error() {
    let e = IrmdConfig::parse("[name.oping\nprog = 1").unwrap_err();
    assert!(matches!(e, ConfigError::Syntax(_)), "{e}");
    assert!(e.to_string().starts_with("irmd configuration is not valid TOML"), "{e}");
}

#[test]
fn an_unknown_top_level_key_is_refused_listing_the_kinds() {
    let e = err("[ipcp.a]\nbootstrap = \"x\"\n");
    assert!(e.starts_with("unknown top-level key `ipcp`"), "{e}");
    assert!(e.contains("local, eth-llc") || e.contains("udp4"), "{e}");
    assert!(err("verbose = true\n").contains("`verbose`"));
}

#[test]
fn kinds_and_entries_must_be_tables() {
    assert_eq!(err("unicast = 3\n"), "`unicast` must be a table, not an integer");
    assert_eq!(
        err("[name]\noping = \"x\"\n"),
        "`name.oping` must be a table, not a string"
    );
}

#[test]
fn tables_are_kept_in_file_order_across_kinds() {
    let c = ok("[eth-dix.e]\nbootstrap = \"eth\"\ndev = \"eth0\"\n\
                [unicast.u]\nenrol = \"net\"\n\
                [local.l]\n\
                [name.b]\n[name.a]\n");
    let ipcps: Vec<&str> = c.ipcps.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(ipcps, ["e", "u", "l"]);
    let names: Vec<&str> = c.names.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
}

#[test]
fn one_ipcp_name_under_two_kinds_is_refused() {
    assert_eq!(
        err("[local.x]\n[unicast.x]\n"),
        "IPCP \"x\" is defined twice, as [local.x] and [unicast.x]"
    );
}

#[test]
fn names_with_dots_are_quoted_in_messages() {
    let e = err("[name.\"oping.secure\"]\nlb = \"fast\"\n");
    assert!(e.starts_with("[name.\"oping.secure\"]: `lb`"), "{e}");
}

#[test]
fn a_table_name_longer_than_255_octets_is_refused() {
    let e = err(&format!("[local.{}]\n", "l".repeat(256)));
    assert!(e.contains("the name is 256 octets long, longer than 255"), "{e}");
}

// ----- [name.<n>] ------------------------------------------------------------

#[test]
fn a_bare_name_table_creates_the_name_with_spill_over() {
    let c = ok("[name.oping]\n");
    assert_eq!(
        c.names,
        vec![NameConfig {
            name: "oping".into(),
            lb: LoadBalance::Spill,
            programs: vec![],
            security: SecurityPaths::default()
        }]
    );
}

#[test]
fn args_pair_with_prog_by_index_and_split_at_spaces() {
    let c = ok("[name.o]\nprog = [\"/bin/a\", \"/bin/b\", \"/bin/c\"]\nargs = [\"-l  -i 0\", \"\"]\n");
    let auto: Vec<Option<Vec<String>>> = c.names[0].programs.iter().map(|p| p.auto_args.clone()).collect();
    assert_eq!(
        auto,
        vec![
            Some(vec!["-l".to_owned(), "-i".to_owned(), "0".to_owned()]),
            Some(vec![]),
            None
        ]
    );
    assert!(c.warnings.is_empty());
}

#[test]
fn args_without_a_program_are_ignored_with_a_warning() {
    let c = ok("[name.o]\nprog = [\"/bin/a\"]\nargs = [\"-l\", \"-x\"]\n");
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::ExtraArgs {
            table: "name.o".into(),
            extra: 1
        }]
    );
}

#[test]
fn lb_takes_spill_spillover_and_round_robin() {
    for (word, lb) in [
        ("spill", LoadBalance::Spill),
        ("spillover", LoadBalance::Spill),
        ("round-robin", LoadBalance::RoundRobin),
    ] {
        assert_eq!(ok(&format!("[name.o]\nlb = \"{word}\"\n")).names[0].lb, lb);
    }
    assert_eq!(
        err("[name.o]\nlb = \"random\"\n"),
        "[name.o]: `lb` \"random\" is not one of round-robin, spillover (or spill)"
    );
}

#[test]
fn the_six_security_file_keys_are_read() {
    let mut text = String::from("[name.s]\n");
    for (i, file) in SecurityFile::ALL.iter().enumerate() {
        text.push_str(&format!("{} = \"/p/{i}\"\n", file.toml_key()));
    }
    let c = ok(&text);
    for (i, file) in SecurityFile::ALL.iter().enumerate() {
        assert_eq!(c.names[0].security.get(*file), Some(&PathBuf::from(format!("/p/{i}"))));
    }
}

#[test]
fn an_unknown_key_in_a_name_table_names_the_table_and_the_key() {
    assert_eq!(
        err("[name.oping]\nprogs = [\"/bin/oping\"]\n"),
        "[name.oping]: unknown key `progs` (did you mean `prog`?)"
    );
    assert_eq!(
        err("[name.oping]\nserver_crt = \"/x\"\n"),
        "[name.oping]: unknown key `server_crt`"
    );
}

#[test]
fn name_values_of_the_wrong_type_are_refused() {
    assert_eq!(
        err("[name.o]\nprog = \"/bin/oping\"\n"),
        "[name.o]: `prog` must be an array of strings, not a string"
    );
    assert_eq!(
        err("[name.o]\nprog = [1]\n"),
        "[name.o]: `prog` must be an array of strings, not an array"
    );
    assert!(err("[name.o]\nlb = 1\n").contains("must be a string, not an integer"));
}

// ----- [<kind>.<ipcp>]: actions ----------------------------------------------

#[test]
fn an_ipcp_table_without_bootstrap_or_enrol_only_creates() {
    let i = only_ipcp("[unicast.u]\n");
    assert_eq!(i.action, IpcpAction::Create);
    assert_eq!(i.ipcp_type, IpcpType::Unicast);
}

#[test]
fn every_kind_bootstraps_with_its_defaults() {
    let cases = [
        ("local", "", BootstrapConfig::Local(Default::default())),
        ("broadcast", "", BootstrapConfig::Broadcast),
        ("unicast", "", BootstrapConfig::Unicast(UnicastConfig::default())),
        (
            "eth-dix",
            "dev = \"eth0\"\n",
            BootstrapConfig::EthDix(EthDixConfig {
                dev: "eth0".into(),
                ethertype: 0xA000,
                hash: HashAlgo::Sha3_256,
            }),
        ),
        (
            "udp4",
            "ip = \"192.0.2.1\"\n",
            BootstrapConfig::Udp4(Udp4Config {
                ip: Ipv4Addr::new(192, 0, 2, 1),
                port: 3435,
                dns: None,
            }),
        ),
    ];
    for (kind, keys, config) in cases {
        let i = only_ipcp(&format!("[{kind}.x]\nbootstrap = \"layer\"\n{keys}"));
        assert_eq!(
            i.action,
            IpcpAction::Bootstrap {
                layer: "layer".into(),
                config
            },
            "{kind}"
        );
    }
}

#[test]
fn enrol_reg_conn_and_autobind_are_read_for_an_enrolling_member() {
    let i = only_ipcp("[unicast.b]\nenrol = \"net\"\nautobind = true\nreg = [\"oping\", \"oecho\"]\nconn = [\"a\"]\n");
    assert_eq!(
        i,
        IpcpConfig {
            name: "b".into(),
            ipcp_type: IpcpType::Unicast,
            action: IpcpAction::Enrol { dst: "net".into() },
            autobind: true,
            reg: vec!["oping".into(), "oecho".into()],
            conn: vec!["a".into()],
            hosts: Vec::new(),
        }
    );
}

#[test]
fn udp_layers_take_a_static_directory_of_their_family() {
    let i = only_ipcp(
        "[udp4.u]\nbootstrap = \"wan\"\nip = \"10.9.0.1\"\nhosts = { oping = \"10.9.0.2\", oecho = \"10.9.0.3\" }\n",
    );
    assert_eq!(
        i.hosts,
        [
            ("oping".to_owned(), "10.9.0.2".parse().unwrap()),
            ("oecho".to_owned(), "10.9.0.3".parse().unwrap())
        ]
    );
    assert_eq!(
        err("[udp4.u]\nip = \"10.9.0.1\"\nhosts = { oping = \"fd00::2\" }\n"),
        "[udp4.u]: `hosts.oping` \"fd00::2\" is not an address of the layer's family"
    );
    assert_eq!(
        err("[udp6.u]\nip = \"fd00::1\"\nhosts = { oping = \"nowhere\" }\n"),
        "[udp6.u]: `hosts.oping` \"nowhere\" is not an IP address"
    );
    assert!(err("[udp4.u]\nip = \"10.9.0.1\"\nhosts = [\"x\"]\n").contains("hosts"));
    assert_eq!(
        err("[eth-dix.e]\ndev = \"eth0\"\nhosts = { oping = \"10.9.0.2\" }\n"),
        "[eth-dix.e]: `hosts` does not apply to eth-dix IPCPs"
    );
    assert!(err("[udp4.u]\nip = \"10.9.0.1\"\nhosts = { \"a b\" = \"10.9.0.2\" }\n").contains("white space"));
}

#[test]
fn enrol_and_conn_are_for_unicast_and_broadcast_only() {
    assert_eq!(
        err("[eth-dix.e]\nenrol = \"eth\"\n"),
        "[eth-dix.e]: `enrol` does not apply to eth-dix IPCPs"
    );
    assert_eq!(
        err("[local.l]\nbootstrap = \"lo\"\nconn = [\"x\"]\n"),
        "[local.l]: `conn` does not apply to local IPCPs"
    );
}

#[test]
fn an_unknown_ipcp_key_names_the_table_and_suggests_a_close_one() {
    assert_eq!(
        err("[unicast.u]\nbootstrap = \"net\"\nmax_tll = 3\n"),
        "[unicast.u]: unknown key `max_tll` (did you mean `max_ttl`?)"
    );
    assert_eq!(
        err("[unicast.u]\nenroll = \"net\"\n"),
        "[unicast.u]: unknown key `enroll` (did you mean `enrol`?)"
    );
    assert_eq!(err("[local.l]\ncolour = \"red\"\n"), "[local.l]: unknown key `colour`");
}

#[test]
fn a_key_of_another_kind_is_refused_naming_the_kind() {
    assert_eq!(
        err("[unicast.u]\nbootstrap = \"net\"\ndev = \"eth0\"\n"),
        "[unicast.u]: `dev` does not apply to unicast IPCPs"
    );
    assert_eq!(
        err("[broadcast.b]\nbootstrap = \"bc\"\nhash = \"SHA3_256\"\n"),
        "[broadcast.b]: `hash` does not apply to broadcast IPCPs"
    );
    assert!(err("[udp4.u]\nbootstrap = \"u\"\nip = \"192.0.2.1\"\nhash = \"SHA3_256\"\n").contains("udp4"));
    assert!(err("[eth-llc.e]\nbootstrap = \"e\"\ndev = \"lo\"\nethertype = 0xA000\n").contains("eth-llc"));
}

#[test]
fn ipcp_values_of_the_wrong_type_are_refused() {
    assert_eq!(
        err("[udp4.u]\nbootstrap = \"u\"\nip = \"192.0.2.1\"\nport = \"3435\"\n"),
        "[udp4.u]: `port` must be an integer, not a string"
    );
    assert_eq!(
        err("[unicast.u]\nautobind = \"yes\"\n"),
        "[unicast.u]: `autobind` must be a boolean, not a string"
    );
    assert_eq!(
        err("[unicast.u]\nbootstrap = 1\n"),
        "[unicast.u]: `bootstrap` must be a string, not an integer"
    );
    assert!(err("[unicast.u]\nbootstrap = \"n\"\nrouting = 2\n").contains("must be a string"));
    assert!(err("[eth-dix.e]\nbootstrap = \"e\"\ndev = \"lo\"\nethertype = 1.5\n").contains("hex string"));
}

// ----- bootstrap keys --------------------------------------------------------

#[test]
fn every_unicast_key_is_read() {
    let u = unicast(
        "[unicast.u]\nbootstrap = \"net\"\naddr_size = 4\neid_size = 8\nmax_ttl = 20\naddr-auth = \"flat\"\n\
         routing = \"ecmp\"\nls_t_recalc = 1\nls_t_update = 5\nls_t_timeo = 20\ncongestion = \"none\"\n\
         directory = \"dht\"\nhash = \"SHA3_256\"\ndht_alpha = 10\ndht_k = 20\ndht_t_expire = 10\n\
         dht_t_refresh = 3\ndht_t_replicate = 3600\n",
    );
    assert_eq!(
        u,
        UnicastConfig {
            max_ttl: 20,
            routing: LinkStateConfig {
                policy: RoutingPolicy::Ecmp,
                t_recalc: 1,
                t_update: 5,
                t_timeo: 20
            },
            congestion: CongestionAvoidance::None,
            directory: DirectoryPolicy::Dht,
            dht: DhtParams {
                alpha: 10,
                k: 20,
                t_expire: 10,
                t_refresh: 3,
                t_replicate: 3600
            },
            ..UnicastConfig::default()
        }
    );
}

#[test]
fn routing_takes_the_file_and_the_cli_spelling_of_link_state() {
    assert_eq!(
        unicast("[unicast.u]\nbootstrap = \"n\"\nrouting = \"link-state\"\n")
            .routing
            .policy,
        RoutingPolicy::LinkState
    );
    assert_eq!(
        unicast("[unicast.u]\nbootstrap = \"n\"\nrouting = \"link_state\"\n")
            .routing
            .policy,
        RoutingPolicy::LinkState
    );
}

#[test]
fn dht_values_outside_their_ranges_name_the_table_and_key() {
    let cases = [
        ("dht_alpha", 0, "1–10"),
        ("dht_alpha", 11, "1–10"),
        ("dht_k", 21, "1–20"),
        ("dht_t_expire", 9, "10–86400"),
        ("dht_t_expire", 86401, "10–86400"),
        ("dht_t_refresh", 2, "3–3600"),
        ("dht_t_replicate", 3601, "3–3600"),
    ];
    for (key, value, range) in cases {
        assert_eq!(
            err(&format!("[unicast.u]\nbootstrap = \"n\"\n{key} = {value}\n")),
            format!("[unicast.u]: `{key}` {value} is out of range {range}")
        );
    }
}

#[test]
fn fields_that_c_let_wrap_are_range_checked() {
    assert!(err("[unicast.u]\nbootstrap = \"n\"\nmax_ttl = 256\n").contains("out of range 1–255"));
    assert!(err("[unicast.u]\nbootstrap = \"n\"\nls_t_timeo = 0\n").contains("out of range"));
    assert!(err("[udp4.u]\nbootstrap = \"u\"\nip = \"192.0.2.1\"\nport = 70000\n").contains("1–65535"));
    assert!(err("[unicast.u]\nbootstrap = \"n\"\naddr_size = 2\n").contains("only takes 4"));
}

#[test]
fn ethertype_is_an_integer_or_a_hex_string_in_0600_to_fffe() {
    let dix = |v: &str| format!("[eth-dix.e]\nbootstrap = \"e\"\ndev = \"lo\"\nethertype = {v}\n");
    for (v, want) in [
        ("0xA007", 0xA007),
        ("40967", 0xA007),
        ("\"0xA007\"", 0xA007),
        ("\"a007\"", 0xA007),
    ] {
        match only_ipcp(&dix(v)).action {
            IpcpAction::Bootstrap {
                config: BootstrapConfig::EthDix(e),
                ..
            } => assert_eq!(e.ethertype, want, "{v}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(err(&dix("0xFFFF")).contains("out of range 1536–65534"));
    assert!(err(&dix("0x05FF")).contains("out of range"));
}

#[test]
fn required_keys_are_required_only_when_bootstrapping() {
    assert_eq!(
        err("[udp4.u]\nbootstrap = \"u\"\n"),
        "[udp4.u]: `ip` is required for udp4 IPCPs"
    );
    assert_eq!(
        err("[eth-llc.e]\nbootstrap = \"e\"\n"),
        "[eth-llc.e]: `dev` is required for eth-llc IPCPs"
    );
    assert_eq!(only_ipcp("[udp4.u]\n").action, IpcpAction::Create);
}

#[test]
fn udp_addresses_are_checked_unlike_the_c_file_parser() {
    assert!(err("[udp4.u]\nbootstrap = \"u\"\nip = \"0.0.0.0\"\n").contains("unspecified"));
    assert!(err("[udp4.u]\nbootstrap = \"u\"\nip = \"::1\"\n").contains("not an IPv4 address"));
    assert!(err("[udp6.u]\nbootstrap = \"u\"\nip = \"::1\"\ndns = \"dns.example\"\n").contains("`dns`"));
}

#[test]
fn hash_is_read_for_local_and_ethernet_layers() {
    match only_ipcp("[local.l]\nbootstrap = \"lo\"\nhash = \"SHA3_224\"\n").action {
        IpcpAction::Bootstrap { config, .. } => assert_eq!(config.dir_hash_algo(), HashAlgo::Sha3_224),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err("[local.l]\nbootstrap = \"lo\"\nhash = \"MD5\"\n"),
        "[local.l]: `hash` \"MD5\" is not one of SHA3_224, SHA3_256, SHA3_384, SHA3_512"
    );
}

// ----- the C quirks, decided ---------------------------------------------------

#[test]
fn quirk_unicast_hash_is_honoured_with_a_warning() {
    let c = ok("[unicast.u]\nbootstrap = \"n\"\nhash = \"SHA3_512\"\n");
    let IpcpAction::Bootstrap { config, .. } = &c.ipcps[0].action else {
        panic!()
    };
    assert_eq!(config.dir_hash_algo(), HashAlgo::Sha3_512);
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::UnicastHashHonoured {
            table: "unicast.u".into(),
            hash: HashAlgo::Sha3_512
        }]
    );
    assert!(c.warnings[0].to_string().contains("ignores `hash` for unicast"));
    // SHA3-256 is what C would use anyway: nothing to warn about.
    assert!(
        ok("[unicast.u]\nbootstrap = \"n\"\nhash = \"SHA3_256\"\n")
            .warnings
            .is_empty()
    );
}

#[test]
fn quirk_congestion_lfa_means_mb_ecn_with_a_warning_and_mb_ecn_is_accepted() {
    let c = ok("[unicast.u]\nbootstrap = \"n\"\ncongestion = \"lfa\"\n");
    let IpcpAction::Bootstrap {
        config: BootstrapConfig::Unicast(u),
        ..
    } = &c.ipcps[0].action
    else {
        panic!()
    };
    assert_eq!(u.congestion, CongestionAvoidance::MbEcn);
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::CongestionLfa {
            table: "unicast.u".into()
        }]
    );

    let c = ok("[unicast.u]\nbootstrap = \"n\"\ncongestion = \"mb-ecn\"\n");
    assert!(c.warnings.is_empty());
    assert_eq!(
        unicast("[unicast.u]\nbootstrap = \"n\"\ncongestion = \"mb-ecn\"\n").congestion,
        CongestionAvoidance::MbEcn
    );
    assert_eq!(
        unicast("[unicast.u]\nbootstrap = \"n\"\ncongestion = \"none\"\n").congestion,
        CongestionAvoidance::None
    );
    assert!(err("[unicast.u]\nbootstrap = \"n\"\ncongestion = \"ecmp\"\n").contains("none, mb-ecn"));
}

#[test]
fn quirk_autobind_false_does_not_bind_and_warns() {
    let c = ok("[unicast.u]\nbootstrap = \"n\"\nautobind = false\n");
    assert!(!c.ipcps[0].autobind);
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::AutobindFalse {
            table: "unicast.u".into()
        }]
    );
    let c = ok("[unicast.u]\nbootstrap = \"n\"\nautobind = true\n");
    assert!(c.ipcps[0].autobind);
    assert!(c.warnings.is_empty());
    // Without bootstrap or enrol C does not bind either: nothing to warn about.
    assert!(ok("[unicast.u]\nautobind = false\n").warnings.is_empty());
}

#[test]
fn quirk_autobind_on_a_shim_binds_as_in_c() {
    let c = ok("[local.l]\nbootstrap = \"lo\"\nautobind = true\n");
    assert!(c.ipcps[0].autobind);
    assert!(c.warnings.is_empty());
}

#[test]
fn quirk_dht_t_expiry_is_read_as_dht_t_expire_with_a_warning() {
    let c = ok("[unicast.u]\nbootstrap = \"n\"\ndht_t_expiry = 3600\n");
    let IpcpAction::Bootstrap {
        config: BootstrapConfig::Unicast(u),
        ..
    } = &c.ipcps[0].action
    else {
        panic!()
    };
    assert_eq!(u.dht.t_expire, 3600);
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::DhtTExpiry {
            table: "unicast.u".into()
        }]
    );
    assert!(err("[unicast.u]\nbootstrap = \"n\"\ndht_t_expiry = 5\n").contains("`dht_t_expiry` 5 is out of range"));
    assert!(err("[unicast.u]\nbootstrap = \"n\"\ndht_t_expire = 60\ndht_t_expiry = 70\n").contains("both"));
}

#[test]
fn quirk_eid_size_other_than_8_is_forced_to_8_with_a_warning() {
    let c = ok("[unicast.u]\nbootstrap = \"n\"\neid_size = 4\n");
    let IpcpAction::Bootstrap {
        config: BootstrapConfig::Unicast(u),
        ..
    } = &c.ipcps[0].action
    else {
        panic!()
    };
    assert_eq!(u.eid_size, 8);
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::EidSizeForced {
            table: "unicast.u".into(),
            value: 4
        }]
    );
}

#[test]
fn quirk_enrol_wins_over_bootstrap_with_a_warning() {
    let c = ok("[unicast.u]\nbootstrap = \"n\"\nenrol = \"m\"\n");
    assert_eq!(c.ipcps[0].action, IpcpAction::Enrol { dst: "m".into() });
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::BootstrapIgnored {
            table: "unicast.u".into()
        }]
    );
}

#[test]
fn quirk_bootstrap_keys_of_an_enrolling_member_are_ignored_with_a_warning() {
    let c = ok("[unicast.u]\nenrol = \"m\"\nmax_ttl = 9\nrouting = \"lfa\"\n");
    assert_eq!(c.ipcps[0].action, IpcpAction::Enrol { dst: "m".into() });
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::BootstrapKeysIgnored {
            table: "unicast.u".into(),
            keys: vec!["max_ttl", "routing"]
        }]
    );
    assert!(
        c.warnings[0]
            .to_string()
            .contains("the bootstrap-only `max_ttl`, `routing` are ignored")
    );
}

#[test]
fn quirk_conn_of_a_bootstrapping_member_is_ignored_with_a_warning() {
    let c = ok("[unicast.u]\nbootstrap = \"n\"\nconn = [\"x\"]\n");
    assert!(c.ipcps[0].conn.is_empty());
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::ConnIgnored {
            table: "unicast.u".into()
        }]
    );
}

#[test]
fn quirk_reg_conn_and_autobind_without_an_action_are_ignored_with_a_warning() {
    let c = ok("[unicast.u]\nautobind = true\nreg = [\"oping\"]\nconn = [\"x\"]\nmax_ttl = 3\n");
    let i = &c.ipcps[0];
    assert_eq!(i.action, IpcpAction::Create);
    assert!(!i.autobind && i.reg.is_empty() && i.conn.is_empty());
    assert_eq!(
        c.warnings,
        vec![ConfigWarning::IgnoredWithoutAction {
            table: "unicast.u".into(),
            keys: vec!["autobind", "reg", "conn", "max_ttl"]
        }]
    );
}

#[test]
fn warnings_display_the_table() {
    let c = ok("[unicast.u]\nbootstrap = \"n\"\nautobind = false\ncongestion = \"lfa\"\n");
    assert_eq!(c.warnings.len(), 2);
    for w in &c.warnings {
        assert!(w.to_string().starts_with("[unicast.u]: "), "{w}");
    }
}

#[test]
fn edit_distance_counts_single_character_edits() {
    assert_eq!(edit_distance("max_tll", "max_ttl"), 1);
    assert_eq!(edit_distance("ttl", "tlt"), 2);
    assert_eq!(edit_distance("enroll", "enrol"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("dev", "dev"), 0);
}
