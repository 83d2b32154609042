use std::net::{Ipv4Addr, Ipv6Addr};

use o7s_wire::hash::HashAlgo;

use super::*;
use crate::ipcp_config::{
    CongestionAvoidance, DhtParams, EthDixConfig, LinkStateConfig, LocalConfig, RoutingPolicy, Udp4Config, Udp6Config,
    UnicastConfig,
};

fn parse(line: &str) -> Result<Command, CliError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    Command::parse(&words)
}

fn ok(line: &str) -> Command {
    match parse(line) {
        Ok(c) => c,
        Err(e) => panic!("`irm {line}` refused: {e}"),
    }
}

fn err(line: &str) -> CliError {
    match parse(line) {
        Ok(c) => panic!("`irm {line}` accepted as {c:?}"),
        Err(e) => e,
    }
}

fn bootstrap(line: &str) -> IpcpBootstrap {
    match ok(line) {
        Command::IpcpBootstrap(b) => b,
        other => panic!("not a bootstrap: {other:?}"),
    }
}

fn typed(line: &str) -> BootstrapConfig {
    match bootstrap(line).config {
        Bootstrap::Typed(c) => c,
        Bootstrap::Untyped(o) => panic!("untyped: {o:?}"),
    }
}

fn bad_value(e: &CliError) -> (&'static str, &ValueProblem) {
    match e {
        CliError::BadValue { option, problem, .. } => (option, problem),
        other => panic!("not a bad value: {other:?}"),
    }
}

// ----- abbreviation ----------------------------------------------------------

#[test]
fn i_b_is_ipcp_bootstrap_with_every_argument_abbreviated() {
    assert_eq!(
        ok("i b t local n lo l lo"),
        ok("ipcp bootstrap type local name lo layer lo")
    );
}

#[test]
fn n_r_is_name_register() {
    assert_eq!(
        ok("n r oping l lo"),
        Command::NameRegister {
            name: "oping".into(),
            ipcps: vec![],
            layers: vec!["lo".into()]
        }
    );
}

#[test]
fn b_prog_is_bind_program_and_b_p_too_because_program_comes_first() {
    let full = ok("bind program /bin/oping name oping");
    assert_eq!(ok("b prog /bin/oping n oping"), full);
    assert_eq!(ok("b p /bin/oping n oping"), full);
    assert!(matches!(ok("b proc 42 n oping"), Command::BindProcess { pid: 42, .. }));
    assert!(matches!(ok("b i uni.a n net"), Command::BindIpcp { .. }));
}

#[test]
fn operation_prefixes_take_the_first_match_in_the_c_order() {
    assert!(matches!(ok("i c n a t local"), Command::IpcpCreate { .. }));
    assert!(matches!(ok("i d n a"), Command::IpcpDestroy { .. }));
    assert!(matches!(ok("i e n a l net"), Command::IpcpEnroll { .. }));
    assert!(matches!(ok("i con n a ds b"), Command::IpcpConnect { .. }));
    assert!(matches!(ok("i di n a ds b"), Command::IpcpDisconnect { .. }));
    assert!(matches!(ok("i l"), Command::IpcpList { .. }));
    assert!(matches!(ok("u pro /bin/x"), Command::UnbindProgram { .. }));
    assert!(matches!(ok("u proc 7"), Command::UnbindProcess { .. }));
    assert!(matches!(ok("n c x"), Command::NameCreate { .. }));
    assert!(matches!(ok("n d x"), Command::NameDestroy { .. }));
    assert!(matches!(ok("n u x i y"), Command::NameUnregister { .. }));
    assert!(matches!(ok("n l"), Command::NameList));
    assert_eq!(ok("h"), Command::Help { topic: HelpTopic::Irm });
}

#[test]
fn bootstrap_argument_prefixes_follow_the_c_order() {
    // `d` is dns (before device), `dev` is device, `a` is addr (before
    // addr_auth and autobind), `e` is ethertype (before eid), `dht` is
    // dht_alpha, `ls` is ls_t_timeo.
    let udp = typed("i b t udp4 n u l udp i 192.0.2.1 d 192.0.2.53 p 9000");
    assert_eq!(
        udp,
        BootstrapConfig::Udp4(Udp4Config {
            ip: Ipv4Addr::new(192, 0, 2, 1),
            port: 9000,
            dns: Some(Ipv4Addr::new(192, 0, 2, 53)),
        })
    );
    let dix = typed("i b t eth-dix n e l eth dev eth0 e 0xA001 h SHA3_224");
    assert_eq!(
        dix,
        BootstrapConfig::EthDix(EthDixConfig {
            dev: "eth0".into(),
            ethertype: 0xA001,
            hash: HashAlgo::Sha3_224
        })
    );
    let BootstrapConfig::Unicast(u) =
        typed("i b t unicast n u l net a 4 addr_ flat dht 5 ls 90 r ecmp c none ttl 9 ei 8 au")
    else {
        panic!()
    };
    assert_eq!(u.dht.alpha, 5);
    assert_eq!(u.routing.t_timeo, 90);
    assert_eq!(u.routing.policy, RoutingPolicy::Ecmp);
    assert_eq!(u.congestion, CongestionAvoidance::None);
    assert_eq!(u.max_ttl, 9);
    assert!(bootstrap("i b t unicast n u l net au").autobind);
}

#[test]
fn an_empty_word_is_no_keyword() {
    assert!(matches!(Command::parse(&[""]), Err(CliError::UnknownCommand { .. })));
    assert!(matches!(
        Command::parse(&["ipcp", "create", "", "x"]),
        Err(CliError::UnknownArgument { .. })
    ));
}

#[test]
fn values_are_not_abbreviated() {
    let e = err("ipcp create name a type uni");
    assert_eq!(bad_value(&e).0, "type");
    assert!(
        err("ipcp connect name a dst b component d")
            .to_string()
            .contains("\"d\"")
    );
}

// ----- command-level errors -------------------------------------------------

#[test]
fn no_words_is_a_missing_command_listing_the_groups() {
    let e = err("");
    assert_eq!(
        e.to_string(),
        "irm: missing operation; expected one of ipcp, bind, unbind, name, help"
    );
    assert_eq!(e.topic(), HelpTopic::Irm);
    let e = err("ipcp");
    assert_eq!(e.topic(), HelpTopic::Ipcp);
    assert!(
        e.to_string()
            .contains("create, destroy, bootstrap, enroll, connect, disconnect, list, stats, help")
    );
}

#[test]
fn unknown_command_names_the_word_and_the_choices() {
    assert_eq!(
        err("flow").to_string(),
        "irm: unknown command \"flow\"; expected one of ipcp, bind, unbind, name, help"
    );
    let e = err("name rename x");
    assert_eq!(e.topic(), HelpTopic::Name);
    assert!(e.to_string().starts_with("irm name: unknown command \"rename\""), "{e}");
}

#[test]
fn unknown_argument_names_the_command_the_word_and_the_choices() {
    let e = err("ipcp create name a type local colour blue");
    assert_eq!(
        e.to_string(),
        "irm ipcp create: unknown argument \"colour\"; expected one of type, name"
    );
    assert_eq!(e.topic(), HelpTopic::IpcpCreate);
}

#[test]
fn missing_argument_names_it() {
    assert_eq!(
        err("ipcp create type local").to_string(),
        "irm ipcp create: missing argument `name`"
    );
    assert_eq!(
        err("ipcp create name a").to_string(),
        "irm ipcp create: missing argument `type`"
    );
    assert!(matches!(
        err("ipcp bootstrap name a type local"),
        CliError::MissingArgument { argument: "layer", .. }
    ));
    assert!(matches!(
        err("bind program"),
        CliError::MissingArgument {
            argument: "program",
            ..
        }
    ));
    assert!(matches!(
        err("bind program /bin/x"),
        CliError::MissingArgument { argument: "name", .. }
    ));
    assert!(matches!(
        err("bind process"),
        CliError::MissingArgument { argument: "pid", .. }
    ));
    assert!(matches!(
        err("name create"),
        CliError::MissingArgument { argument: "name", .. }
    ));
}

#[test]
fn a_keyword_at_the_end_without_its_value_is_refused() {
    assert_eq!(
        err("ipcp bootstrap name a layer").to_string(),
        "irm ipcp bootstrap: `layer` needs a value"
    );
}

#[test]
fn an_option_given_twice_is_refused_even_abbreviated() {
    assert_eq!(
        err("ipcp bootstrap type unicast name a layer b ttl 30 ttl 40").to_string(),
        "irm ipcp bootstrap: `ttl` given twice"
    );
    assert!(matches!(
        err("ipcp create name a n b type local"),
        CliError::Duplicate { option: "name", .. }
    ));
    assert!(matches!(
        err("ipcp bootstrap type unicast name a layer b autobind au"),
        CliError::Duplicate { option: "autobind", .. }
    ));
}

#[test]
fn a_value_may_look_like_a_keyword() {
    assert!(matches!(ok("ipcp create name name type local"), Command::IpcpCreate { name, .. } if name == "name"));
    assert!(matches!(ok("name create name"), Command::NameCreate { name, .. } if name == "name"));
}

#[test]
fn names_longer_than_255_octets_are_refused() {
    let long = "n".repeat(256);
    let e = err(&format!("ipcp create name {long} type local"));
    assert_eq!(bad_value(&e), ("name", &ValueProblem::TooLong { len: 256, max: 255 }));
    assert!(parse(&format!("name create {}", "n".repeat(255))).is_ok());
}

// ----- ipcp create / destroy / list ------------------------------------------

#[test]
fn create_takes_every_type_keyword() {
    for t in IpcpType::ALL {
        assert_eq!(
            ok(&format!("ipcp create name x type {t}")),
            Command::IpcpCreate {
                name: "x".into(),
                ipcp_type: t
            }
        );
    }
}

#[test]
fn a_bad_ipcp_type_lists_the_seven_types() {
    assert_eq!(
        err("ipcp create name a type foo").to_string(),
        "irm ipcp create: `type` \"foo\" is not one of unicast, broadcast, local, udp4, udp6, eth-llc, eth-dix"
    );
}

#[test]
fn destroy_needs_the_name() {
    assert_eq!(ok("ipcp destroy name lo"), Command::IpcpDestroy { name: "lo".into() });
    assert!(matches!(
        err("ipcp destroy"),
        CliError::MissingArgument { argument: "name", .. }
    ));
}

#[test]
fn list_takes_name_layer_and_type_filters() {
    assert_eq!(
        ok("ipcp list"),
        Command::IpcpList {
            name: None,
            layer: None,
            ipcp_type: None
        }
    );
    assert_eq!(
        ok("ipcp list type unicast layer net name uni.a"),
        Command::IpcpList {
            name: Some("uni.a".into()),
            layer: Some("net".into()),
            ipcp_type: Some(IpcpType::Unicast)
        }
    );
    assert!(err("ipcp list type bogus").to_string().contains("\"bogus\""));
}

// ----- ipcp bootstrap --------------------------------------------------------

#[test]
fn bootstrap_without_options_gets_every_default_of_its_type() {
    assert_eq!(
        typed("ipcp bootstrap type unicast name a layer net"),
        BootstrapConfig::Unicast(UnicastConfig::default())
    );
    assert_eq!(
        typed("ipcp bootstrap type local name a layer lo"),
        BootstrapConfig::Local(LocalConfig {
            hash: HashAlgo::Sha3_256
        })
    );
    assert_eq!(
        typed("ipcp bootstrap type broadcast name a layer bc"),
        BootstrapConfig::Broadcast
    );
    assert_eq!(
        typed("ipcp bootstrap type udp6 name a layer u ip 2001:db8::1"),
        BootstrapConfig::Udp6(Udp6Config {
            ip: "2001:db8::1".parse::<Ipv6Addr>().unwrap(),
            port: 3435,
            dns: None
        })
    );
}

#[test]
fn bootstrap_reads_every_unicast_option() {
    let b = bootstrap(
        "ipcp bootstrap type unicast name uni.a layer net hash SHA3_384 addr_auth flat directory DHT \
         routing lfa congestion none addr 4 eid 8 ttl 30 dht_alpha 4 dht_k 16 dht_t_expire 3600 \
         dht_t_refresh 600 dht_t_replicate 300 ls_t_recalc 2 ls_t_update 10 ls_t_timeo 30 autobind",
    );
    assert_eq!(b.name, "uni.a");
    assert_eq!(b.layer, "net");
    assert!(b.autobind);
    assert_eq!(
        b.config,
        Bootstrap::Typed(BootstrapConfig::Unicast(UnicastConfig {
            hash: HashAlgo::Sha3_384,
            max_ttl: 30,
            routing: LinkStateConfig {
                policy: RoutingPolicy::Lfa,
                t_recalc: 2,
                t_update: 10,
                t_timeo: 30
            },
            dht: DhtParams {
                alpha: 4,
                k: 16,
                t_expire: 3600,
                t_refresh: 600,
                t_replicate: 300
            },
            congestion: CongestionAvoidance::None,
            ..UnicastConfig::default()
        }))
    );
}

#[test]
fn bad_hash_lists_the_four_sha3() {
    assert_eq!(
        err("ipcp bootstrap type local name a layer b hash MD5").to_string(),
        "irm ipcp bootstrap: `hash` \"MD5\" is not one of SHA3_224, SHA3_256, SHA3_384, SHA3_512"
    );
}

#[test]
fn ttl_is_1_to_255() {
    assert_eq!(
        err("ipcp bootstrap type unicast name a layer b ttl 0").to_string(),
        "irm ipcp bootstrap: `ttl` 0 is out of range 1–255"
    );
    assert!(matches!(
        bad_value(&err("ipcp bootstrap type unicast name a layer b ttl 256")).1,
        ValueProblem::OutOfRange { value: 256, .. }
    ));
    assert!(matches!(
        bad_value(&err("ipcp bootstrap type unicast name a layer b ttl sixty")).1,
        ValueProblem::NotANumber { .. }
    ));
    assert!(parse("ipcp bootstrap type unicast name a layer b ttl 255").is_ok());
}

#[test]
fn dht_values_are_range_checked_unlike_the_c_cli() {
    let e = err("ipcp bootstrap type unicast name a layer b dht_k 21");
    assert_eq!(e.to_string(), "irm ipcp bootstrap: `dht_k` 21 is out of range 1–20");
    assert!(parse("ipcp bootstrap type unicast name a layer b dht_t_refresh 2").is_err());
    assert!(parse("ipcp bootstrap type unicast name a layer b dht_t_expire 86401").is_err());
}

#[test]
fn ethertype_is_hex_with_or_without_0x_in_0600_to_fffe() {
    for (word, value) in [
        ("0xA007", 0xA007),
        ("A007", 0xA007),
        ("0x0600", 0x0600),
        ("fffe", 0xFFFE),
    ] {
        let c = typed(&format!(
            "ipcp bootstrap type eth-dix name a layer b dev eth0 ethertype {word}"
        ));
        assert!(
            matches!(c, BootstrapConfig::EthDix(EthDixConfig { ethertype, .. }) if ethertype == value),
            "{word}"
        );
    }
    assert_eq!(
        err("ipcp bootstrap type eth-dix name a layer b dev eth0 ethertype 0x05FF").to_string(),
        "irm ipcp bootstrap: `ethertype` 1535 is out of range 1536–65534"
    );
    assert!(parse("ipcp bootstrap type eth-dix name a layer b dev eth0 ethertype FFFF").is_err());
    assert!(parse("ipcp bootstrap type eth-dix name a layer b dev eth0 ethertype 0xG").is_err());
}

#[test]
fn udp4_ip_must_be_an_ipv4_address_other_than_0_0_0_0() {
    assert_eq!(
        err("ipcp bootstrap type udp4 name a layer b ip ::1").to_string(),
        "irm ipcp bootstrap: `ip` \"::1\" is not an IPv4 address"
    );
    let e = err("ipcp bootstrap type udp4 name a layer b ip 0.0.0.0");
    assert!(e.to_string().contains("unspecified"), "{e}");
    let e = err("ipcp bootstrap type udp4 name a layer b ip 10.0.0.256");
    assert!(e.to_string().contains("is not an IPv4 or IPv6 address"), "{e}");
    assert!(parse("ipcp bootstrap type udp6 name a layer b ip ::").is_err());
    assert!(parse("ipcp bootstrap type udp6 name a layer b ip 192.0.2.1").is_err());
    assert_eq!(
        err("ipcp bootstrap type udp4 name a layer b").to_string(),
        "irm ipcp bootstrap: `ip` is required for udp4 IPCPs"
    );
}

#[test]
fn port_0_is_refused() {
    assert_eq!(
        err("ipcp bootstrap type udp4 name a layer b ip 192.0.2.1 port 0").to_string(),
        "irm ipcp bootstrap: `port` 0 is out of range 1–65535"
    );
}

#[test]
fn ethernet_layers_need_a_device() {
    assert_eq!(
        err("ipcp bootstrap type eth-llc name a layer b").to_string(),
        "irm ipcp bootstrap: `device` is required for eth-llc IPCPs"
    );
}

#[test]
fn an_option_for_another_type_is_refused() {
    assert_eq!(
        err("ipcp bootstrap type local name a layer b ttl 30").to_string(),
        "irm ipcp bootstrap: `ttl` does not apply to local IPCPs"
    );
    assert!(parse("ipcp bootstrap type udp4 name a layer b ip 192.0.2.1 hash SHA3_256").is_err());
    assert!(parse("ipcp bootstrap type broadcast name a layer b hash SHA3_256").is_err());
    assert!(parse("ipcp bootstrap type eth-llc name a layer b dev eth0 ethertype 0xA000").is_err());
    assert!(parse("ipcp bootstrap type unicast name a layer b dev eth0").is_err());
}

#[test]
fn autobind_is_for_unicast_and_broadcast_only() {
    assert!(bootstrap("ipcp bootstrap type broadcast name a layer b autobind").autobind);
    assert_eq!(
        err("ipcp bootstrap type local name a layer b autobind").to_string(),
        "irm ipcp bootstrap: `autobind` does not apply to local IPCPs"
    );
}

#[test]
fn address_size_other_than_4_and_eid_size_other_than_8_are_refused() {
    assert!(
        err("ipcp bootstrap type unicast name a layer b addr 8")
            .to_string()
            .contains("only takes 4")
    );
    assert!(
        err("ipcp bootstrap type unicast name a layer b eid 4")
            .to_string()
            .contains("8 octets")
    );
}

#[test]
fn bootstrap_without_type_keeps_the_options_until_the_ipcp_type_is_known() {
    let b = bootstrap("ipcp bootstrap name uni.a layer net ttl 30 autobind");
    assert_eq!(b.ipcp_type(), None);
    let Bootstrap::Untyped(options) = &b.config else {
        panic!()
    };
    assert_eq!(options.max_ttl, Some(30));
    let BootstrapConfig::Unicast(u) = b.resolve(IpcpType::Unicast).unwrap() else {
        panic!()
    };
    assert_eq!(u.max_ttl, 30);
    assert_eq!(
        b.resolve(IpcpType::Broadcast).unwrap_err().to_string(),
        "irm ipcp bootstrap: `ttl` does not apply to broadcast IPCPs"
    );
    assert_eq!(
        b.resolve(IpcpType::Local).unwrap_err().to_string(),
        "irm ipcp bootstrap: `autobind` does not apply to local IPCPs"
    );
}

#[test]
fn bootstrap_with_a_type_other_than_the_existing_ipcps_is_refused() {
    let b = bootstrap("ipcp bootstrap type local name lo layer lo");
    assert_eq!(b.ipcp_type(), Some(IpcpType::Local));
    assert!(b.resolve(IpcpType::Local).is_ok());
    assert_eq!(
        b.resolve(IpcpType::Unicast).unwrap_err().to_string(),
        "irm ipcp bootstrap: IPCP \"lo\" is a unicast IPCP, not local"
    );
}

// ----- ipcp enroll / connect / disconnect ------------------------------------

#[test]
fn enroll_goes_to_the_layer_name_unless_dst_is_given() {
    assert_eq!(
        ok("ipcp enroll name uni.b layer net"),
        Command::IpcpEnroll {
            name: "uni.b".into(),
            layer: Some("net".into()),
            dst: "net".into(),
            ipcp_type: IpcpType::Unicast,
            autobind: false
        }
    );
    assert_eq!(
        ok("ipcp enroll name bc.b dst bc.a type broadcast autobind"),
        Command::IpcpEnroll {
            name: "bc.b".into(),
            layer: None,
            dst: "bc.a".into(),
            ipcp_type: IpcpType::Broadcast,
            autobind: true
        }
    );
    assert_eq!(
        err("ipcp enroll name uni.b").to_string(),
        "irm ipcp enroll: missing argument `layer or dst`"
    );
    assert_eq!(
        err("ipcp enroll name a layer l type local").to_string(),
        "irm ipcp enroll: `type` \"local\" is not one of unicast, broadcast"
    );
}

#[test]
fn connect_defaults_to_both_components_and_qos_raw() {
    assert_eq!(
        ok("ipcp connect name uni.b dst uni.a"),
        Command::IpcpConnect {
            name: "uni.b".into(),
            dst: "uni.a".into(),
            component: None,
            qos: QosSpec::RAW
        }
    );
    assert_eq!(
        ok("ipcp connect name uni.b dst uni.a component dt qos voice"),
        Command::IpcpConnect {
            name: "uni.b".into(),
            dst: "uni.a".into(),
            component: Some(Component::Dt),
            qos: QosSpec::VOICE
        }
    );
    for (kw, spec) in QosSpec::KEYWORDS {
        assert!(
            matches!(ok(&format!("ipcp connect name a dst b qos {kw}")), Command::IpcpConnect { qos, .. } if qos == spec)
        );
    }
}

#[test]
fn connect_refuses_an_unknown_qos_instead_of_falling_back_to_raw() {
    assert_eq!(
        err("ipcp connect name a dst b qos gold").to_string(),
        "irm ipcp connect: `qos` \"gold\" is not one of raw, best, video, voice, data"
    );
}

#[test]
fn qos_with_the_management_component_is_refused() {
    let e = err("ipcp connect name a dst b component mgmt qos data");
    assert!(
        matches!(
            e,
            CliError::Conflict {
                topic: HelpTopic::IpcpConnect,
                ..
            }
        ),
        "{e}"
    );
    assert!(parse("ipcp connect name a dst b component mgmt").is_ok());
}

#[test]
fn disconnect_takes_a_component_but_no_qos() {
    assert_eq!(
        ok("ipcp disconnect name a dst b component mgmt"),
        Command::IpcpDisconnect {
            name: "a".into(),
            dst: "b".into(),
            component: Some(Component::Mgmt)
        }
    );
    assert!(matches!(
        err("ipcp disconnect name a dst b qos raw"),
        CliError::UnknownArgument { .. }
    ));
    assert!(matches!(
        err("ipcp disconnect name a"),
        CliError::MissingArgument { argument: "dst", .. }
    ));
}

// ----- bind / unbind ---------------------------------------------------------

#[test]
fn bind_program_passes_the_words_after_dashdash_to_auto() {
    assert_eq!(
        ok("bind program /usr/bin/oping name oping auto -- -l --interval 0"),
        Command::BindProgram {
            path: "/usr/bin/oping".into(),
            name: "oping".into(),
            auto: true,
            args: vec!["-l".into(), "--interval".into(), "0".into()]
        }
    );
    assert_eq!(
        ok("bind program oping name oping"),
        Command::BindProgram {
            path: "oping".into(),
            name: "oping".into(),
            auto: false,
            args: vec![]
        }
    );
    assert!(matches!(
        ok("bind program x name y --"),
        Command::BindProgram { auto: false, .. }
    ));
    assert!(matches!(ok("bind program x name -- auto"), Command::BindProgram { name, auto: true, .. } if name == "--"));
}

#[test]
fn bind_program_refuses_arguments_without_auto() {
    let e = err("bind program /usr/bin/oping name oping -- -l");
    assert!(e.to_string().contains("only used with `auto`"), "{e}");
}

#[test]
fn pids_are_positive_decimal_numbers() {
    assert_eq!(
        ok("bind process 4242 name oping"),
        Command::BindProcess {
            pid: 4242,
            name: "oping".into()
        }
    );
    assert_eq!(
        err("bind process 42x name oping").to_string(),
        "irm bind process: `pid` \"42x\" is not a decimal number"
    );
    assert!(matches!(
        bad_value(&err("bind process 0 name oping")).1,
        ValueProblem::OutOfRange { value: 0, .. }
    ));
    assert!(parse("bind process 2147483648 name oping").is_err());
}

#[test]
fn unbind_without_name_means_every_name() {
    assert_eq!(
        ok("unbind program /usr/bin/oping"),
        Command::UnbindProgram {
            path: "/usr/bin/oping".into(),
            name: None
        }
    );
    assert_eq!(
        ok("unbind process 7 name oping"),
        Command::UnbindProcess {
            pid: 7,
            name: Some("oping".into())
        }
    );
    assert_eq!(
        ok("unbind ipcp uni.a"),
        Command::UnbindIpcp {
            ipcp: "uni.a".into(),
            name: None
        }
    );
    assert_eq!(
        ok("bind ipcp uni.a name net"),
        Command::BindIpcp {
            ipcp: "uni.a".into(),
            name: "net".into()
        }
    );
}

// ----- name ------------------------------------------------------------------

#[test]
fn name_create_defaults_to_round_robin_like_the_c_tool() {
    assert_eq!(
        ok("name create oping"),
        Command::NameCreate {
            name: "oping".into(),
            lb: LoadBalance::RoundRobin,
            paths: SecurityPaths::default()
        }
    );
    assert!(matches!(
        ok("name create oping lb spillover"),
        Command::NameCreate {
            lb: LoadBalance::Spill,
            ..
        }
    ));
    assert!(
        err("name create oping lb random")
            .to_string()
            .contains("round-robin, spillover")
    );
}

#[test]
fn name_create_reads_the_six_security_paths() {
    let Command::NameCreate { paths, .. } = ok("name create s sencpath /a scrtpath /b skeypath /c cencpath /d \
         ccrtpath /e ckeypath /f")
    else {
        panic!()
    };
    let got: Vec<_> = SecurityFile::ALL.iter().map(|f| paths.get(*f).cloned()).collect();
    let want: Vec<_> = ["/a", "/b", "/c", "/d", "/e", "/f"]
        .iter()
        .map(|p| Some(PathBuf::from(p)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn name_destroy_takes_exactly_one_name() {
    assert_eq!(ok("name destroy oping"), Command::NameDestroy { name: "oping".into() });
    assert_eq!(
        err("name destroy oping now").to_string(),
        "irm name destroy: unexpected argument \"now\""
    );
}

#[test]
fn register_keeps_ipcps_and_layers_in_order_up_to_128_each() {
    assert_eq!(
        ok("name register oping ipcp uni.a layer lo ipcp uni.* layer eth"),
        Command::NameRegister {
            name: "oping".into(),
            ipcps: vec!["uni.a".into(), "uni.*".into()],
            layers: vec!["lo".into(), "eth".into()]
        }
    );
    let many = |kw: &str, n: usize| (0..n).map(|i| format!("{kw} x{i}")).collect::<Vec<_>>().join(" ");
    assert!(
        parse(&format!(
            "name register oping {} {}",
            many("ipcp", 128),
            many("layer", 128)
        ))
        .is_ok()
    );
    assert_eq!(
        err(&format!("name register oping {}", many("ipcp", 129))).to_string(),
        "irm name register: at most 128 `ipcp` arguments"
    );
    assert!(matches!(
        err(&format!("name unregister oping {}", many("layer", 129))),
        CliError::TooMany {
            option: "layer",
            max: 128,
            ..
        }
    ));
}

#[test]
fn register_needs_an_ipcp_or_a_layer() {
    assert_eq!(
        err("name register oping").to_string(),
        "irm name register: missing argument `ipcp or layer`"
    );
}

#[test]
fn name_list_takes_no_argument() {
    assert_eq!(ok("name list"), Command::NameList);
    assert!(matches!(err("name list oping"), CliError::Unexpected { .. }));
}

// ----- help ------------------------------------------------------------------

#[test]
fn help_is_reached_from_irm_help_from_the_group_and_from_the_command() {
    let help = |topic| Command::Help { topic };
    assert_eq!(ok("help"), help(HelpTopic::Irm));
    assert_eq!(ok("help help"), help(HelpTopic::Irm));
    assert_eq!(ok("help ipcp"), help(HelpTopic::Ipcp));
    assert_eq!(ok("help i b"), help(HelpTopic::IpcpBootstrap));
    assert_eq!(ok("ipcp help"), help(HelpTopic::Ipcp));
    assert_eq!(ok("ipcp help bootstrap"), help(HelpTopic::IpcpBootstrap));
    assert_eq!(ok("ipcp bootstrap help"), help(HelpTopic::IpcpBootstrap));
    assert_eq!(ok("bind program help"), help(HelpTopic::BindProgram));
    assert_eq!(ok("name list help"), help(HelpTopic::NameList));
    assert_eq!(ok("unbind help"), help(HelpTopic::Unbind));
    assert!(matches!(err("help flows"), CliError::UnknownCommand { .. }));
    assert!(matches!(err("help ipcp bootstrap now"), CliError::Unexpected { .. }));
}

#[test]
fn help_as_a_valid_argument_keeps_its_meaning() {
    assert!(matches!(ok("name create help"), Command::NameCreate { name, .. } if name == "help"));
    assert!(matches!(ok("name destroy help"), Command::NameDestroy { name } if name == "help"));
    assert!(matches!(ok("unbind ipcp help"), Command::UnbindIpcp { ipcp, .. } if ipcp == "help"));
}

#[test]
fn every_topic_has_a_help_text_with_usage_and_examples() {
    for topic in HelpTopic::ALL {
        let text = help(topic);
        assert!(text.starts_with(topic.command()), "{topic}");
        assert!(text.contains("Usage:") && text.contains("Examples:"), "{topic}");
        assert!(!topic.examples().is_empty(), "{topic}");
    }
}

#[test]
fn group_help_lists_the_operations_in_the_order_prefixes_resolve() {
    let text = help(HelpTopic::Ipcp);
    let positions: Vec<usize> = IPCP_OPS
        .0
        .iter()
        .map(|(kw, _)| text.find(&format!("irm ipcp {kw}")).unwrap_or(usize::MAX))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}\n{text}");
}

#[test]
fn bootstrap_help_shows_every_option_and_its_default() {
    let text = help(HelpTopic::IpcpBootstrap);
    for opt in BOOTSTRAP_ARGS {
        let shown = if opt.keyword == "device" { "dev" } else { opt.keyword };
        assert!(
            text.contains(&format!("  {shown}")) || shown == "type" || shown == "layer" || shown == "name",
            "{shown} missing from\n{text}"
        );
    }
    for default in [
        "(default SHA3_256)",
        "(default 60)",
        "(default 3435)",
        "(default 0xA000)",
        "(default 86400)",
    ] {
        assert!(text.contains(default), "{default} missing from\n{text}");
    }
    assert!(text.contains("0x0600-0xFFFE"), "{text}");
}

#[test]
fn every_error_points_at_a_help_topic_for_its_command() {
    assert_eq!(
        err("ipcp bootstrap type unicast name a layer b ttl 0").topic(),
        HelpTopic::IpcpBootstrap
    );
    assert_eq!(err("name register x").topic(), HelpTopic::NameRegister);
    assert_eq!(err("bind process x name y").topic(), HelpTopic::BindProcess);
    assert_eq!(err("bogus").topic(), HelpTopic::Irm);
}
