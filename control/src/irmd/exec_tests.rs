//! `irm` commands and configuration files against the registry: what each
//! leaves behind, what it prints, and that every refusal changes nothing.

use std::path::Path;
use std::time::Instant;

use o7s_wire::hash::{HashAlgo, hash_name};
use o7s_wire::qos::QosSpec;

use super::*;
use crate::ipcp_config::{BootstrapConfig, LocalConfig};
use crate::irm::{IpcpInfo, IpcpState, IrmEvent, NameInfo};
use crate::name_info::{LoadBalance, SecurityPaths};

fn cmd(line: &str) -> Command {
    let words: Vec<&str> = line.split_whitespace().collect();
    match Command::parse(&words) {
        Ok(c) => c,
        Err(e) => panic!("`irm {line}` does not parse: {e}"),
    }
}

fn run(irm: &mut Irm, line: &str) -> Result<String, ExecError> {
    execute(irm, Instant::now(), &cmd(line), &Account::default(), &|_| Vec::new())
}

fn ok(irm: &mut Irm, line: &str) -> String {
    match run(irm, line) {
        Ok(out) => out,
        Err(e) => panic!("`irm {line}` refused: {e}"),
    }
}

/// Runs a command that must be refused, checks that it changed nothing
/// (events included) and returns the error.
fn refused(irm: &mut Irm, line: &str) -> ExecError {
    let before = irm.clone();
    match run(irm, line) {
        Ok(out) => panic!("`irm {line}` accepted, printed {out:?}"),
        Err(e) => {
            assert_eq!(*irm, before, "`irm {line}` was refused ({e}) but changed the registry");
            e
        }
    }
}

fn setup(lines: &[&str]) -> Irm {
    let mut irm = Irm::new();
    for line in lines {
        ok(&mut irm, line);
    }
    irm
}

fn drain(irm: &mut Irm) -> Vec<IrmEvent> {
    std::iter::from_fn(|| irm.poll_event()).collect()
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

fn config(text: &str) -> IrmdConfig {
    match IrmdConfig::parse(text) {
        Ok(c) => c,
        Err(e) => panic!("configuration refused: {e}\n{text}"),
    }
}

const TUTORIAL: &[&str] = &[
    "ipcp bootstrap type local name lo layer lo",
    "bind program /usr/bin/oping name oping",
    "name register oping layer lo",
];

// ----- the paper's local tutorial ------------------------------------------------

#[test]
fn local_tutorial_bootstraps_lo_binds_oping_and_registers_it_in_lo() {
    let mut irm = Irm::new();
    for line in TUTORIAL {
        assert_eq!(ok(&mut irm, line), "", "`irm {line}` prints nothing");
    }

    assert_eq!(
        irm.ipcp_list(None, None, None),
        vec![IpcpInfo {
            name: "lo".to_owned(),
            ipcp_type: IpcpType::Local,
            state: IpcpState::Bootstrapped,
            layer: Some("lo".to_owned()),
            hash_algo: Some(HashAlgo::Sha3_256),
            device: None,
        }]
    );
    assert_eq!(
        irm.name_list(),
        vec![NameInfo {
            name: "oping".to_owned(),
            lb: LoadBalance::Spill,
            paths: SecurityPaths::default(),
            ipcps: strings(&["lo"]),
            layers: strings(&["lo"]),
        }]
    );
    assert_eq!(
        drain(&mut irm),
        vec![
            IrmEvent::BootstrapIpcp {
                ipcp: "lo".to_owned(),
                layer: "lo".to_owned(),
                config: BootstrapConfig::Local(LocalConfig {
                    hash: HashAlgo::Sha3_256
                }),
            },
            IrmEvent::RegisterOnIpcp {
                ipcp: "lo".to_owned(),
                name: "oping".to_owned(),
                hash: hash_name(HashAlgo::Sha3_256, "oping"),
            },
        ]
    );

    // The same registry as the IRM's own calls make, bindings included.
    let mut direct = Irm::new();
    direct.ipcp_create("lo", IpcpType::Local).unwrap();
    direct
        .ipcp_bootstrap(
            "lo",
            "lo",
            &BootstrapConfig::Local(LocalConfig {
                hash: HashAlgo::Sha3_256,
            }),
        )
        .unwrap();
    direct.bind_program(Path::new("/usr/bin/oping"), "oping", None).unwrap();
    direct.name_register("oping", &[], &strings(&["lo"])).unwrap();
    drain(&mut direct);
    assert_eq!(irm, direct);
}

#[test]
fn bind_program_auto_keeps_the_arguments_and_unbind_without_name_drops_every_name() {
    let mut irm = setup(&[
        "bind program /usr/bin/oping name oping auto -- --listen -i 10ms",
        "bind program /usr/bin/oping name ping2",
    ]);
    let mut direct = Irm::new();
    direct
        .bind_program(
            Path::new("/usr/bin/oping"),
            "oping",
            Some(AutoStart {
                args: strings(&["--listen", "-i", "10ms"]),
                account: Account::default(),
            }),
        )
        .unwrap();
    direct.bind_program(Path::new("/usr/bin/oping"), "ping2", None).unwrap();
    assert_eq!(irm, direct);

    ok(&mut irm, "unbind program /usr/bin/oping");
    assert_eq!(irm, Irm::new());
    let e = refused(&mut irm, "unbind program /usr/bin/oping");
    assert!(matches!(e, ExecError::Irm(IrmError::UnknownProgram(_))), "{e:?}");
    assert_eq!(e.errno(), -ENOENT);
}

#[test]
fn bootstrap_of_an_existing_ipcp_takes_its_type_and_resolves_the_options_against_it() {
    let mut irm = setup(&[
        "ipcp create name lo2 type local",
        "ipcp bootstrap name lo2 layer l2 hash SHA3_512",
    ]);
    assert_eq!(irm.ipcp_list(None, None, None)[0].hash_algo, Some(HashAlgo::Sha3_512));
    assert!(matches!(
        drain(&mut irm).as_slice(),
        [IrmEvent::BootstrapIpcp {
            config: BootstrapConfig::Local(LocalConfig {
                hash: HashAlgo::Sha3_512
            }),
            ..
        }]
    ));
}

#[test]
fn bootstrap_with_a_wildcard_bootstraps_every_match_or_none() {
    let mut irm = setup(&[
        "ipcp create name a1 type local",
        "ipcp create name a2 type local",
        "ipcp create name b1 type local",
    ]);
    let mut before_one_fails = irm.clone();
    ok(&mut irm, "ipcp bootstrap name a* layer x");
    let states: Vec<(String, IpcpState)> = irm
        .ipcp_list(None, None, None)
        .into_iter()
        .map(|i| (i.name, i.state))
        .collect();
    assert_eq!(
        states,
        vec![
            ("a1".to_owned(), IpcpState::Bootstrapped),
            ("a2".to_owned(), IpcpState::Bootstrapped),
            ("b1".to_owned(), IpcpState::Init),
        ]
    );

    // a2 already in a layer: a1 must not be left bootstrapped either.
    ok(&mut before_one_fails, "ipcp bootstrap name a2 layer y");
    let e = refused(&mut before_one_fails, "ipcp bootstrap name a? layer x");
    assert!(
        matches!(&e, ExecError::Irm(IrmError::AlreadyBootstrapped { ipcp, .. }) if ipcp == "a2"),
        "{e:?}"
    );
    assert_eq!(e.errno(), -EPERM);
}

#[test]
fn bootstrap_autobind_binds_the_ipcp_to_its_name_and_the_layer_name() {
    let irm = setup(&["ipcp bootstrap type unicast name u layer net autobind"]);
    let mut bound = irm.clone();
    // Both bindings exist: binding either again is refused.
    for name in ["u", "net"] {
        assert!(matches!(bound.bind_ipcp("u", name), Err(IrmError::AlreadyBound { .. })));
    }
    // An IPCP named as its layer gets one binding, not an error.
    setup(&["ipcp bootstrap type broadcast name bc layer bc autobind"]);
}

#[test]
fn enroll_creates_a_unicast_ipcp_and_starts_enrolment() {
    let mut irm = setup(&["ipcp enroll name u1 layer net autobind"]);
    assert_eq!(
        irm.ipcp_list(None, None, None),
        vec![IpcpInfo {
            name: "u1".to_owned(),
            ipcp_type: IpcpType::Unicast,
            state: IpcpState::Enrolling,
            layer: Some("net".to_owned()),
            hash_algo: None,
            device: None,
        }]
    );
    assert_eq!(
        drain(&mut irm),
        vec![IrmEvent::EnrollIpcp {
            ipcp: "u1".to_owned(),
            dst: "net".to_owned(),
        }]
    );
    let mut direct = Irm::new();
    direct.ipcp_create("u1", IpcpType::Unicast).unwrap();
    direct.ipcp_enroll("u1", "net").unwrap();
    direct.bind_ipcp("u1", "u1").unwrap();
    direct.bind_ipcp("u1", "net").unwrap();
    drain(&mut direct);
    assert_eq!(irm, direct);
}

#[test]
fn connect_and_disconnect_check_the_ipcp_then_ask_its_task() {
    let mut irm = setup(&[
        "ipcp bootstrap type local name lo layer lo",
        "ipcp bootstrap type unicast name u layer net",
        "ipcp create name idle type unicast",
        "ipcp create name bc type broadcast",
    ]);
    drain(&mut irm);

    ok(&mut irm, "ipcp connect name u dst peer");
    ok(&mut irm, "ipcp connect name u dst peer component dt qos voice");
    ok(&mut irm, "ipcp disconnect name u dst peer component mgmt");
    use crate::irm_cli::Component as K;
    assert_eq!(
        drain(&mut irm),
        [
            IrmEvent::ConnectIpcp {
                ipcp: "u".to_owned(),
                dst: "peer".to_owned(),
                component: None,
                qos: QosSpec::RAW,
            },
            IrmEvent::ConnectIpcp {
                ipcp: "u".to_owned(),
                dst: "peer".to_owned(),
                component: Some(K::Dt),
                qos: QosSpec::VOICE,
            },
            IrmEvent::DisconnectIpcp {
                ipcp: "u".to_owned(),
                dst: "peer".to_owned(),
                component: Some(K::Mgmt),
            },
        ]
    );
    // A broadcast IPCP not in a layer yet cannot connect.
    let e = refused(&mut irm, "ipcp connect name bc dst peer component dt");
    assert_eq!(e, ExecError::Irm(IrmError::NotBootstrapped("bc".to_owned())));

    let e = refused(&mut irm, "ipcp connect name nope dst peer");
    assert_eq!(e, ExecError::Irm(IrmError::UnknownIpcp("nope".to_owned())));
    let e = refused(&mut irm, "ipcp connect name lo dst peer");
    assert!(matches!(e, ExecError::Irm(IrmError::BadLayerType { .. })), "{e:?}");
    let e = refused(&mut irm, "ipcp connect name idle dst peer");
    assert_eq!(e, ExecError::Irm(IrmError::NotBootstrapped("idle".to_owned())));
}

#[test]
fn help_returns_the_usage_text() {
    let mut irm = Irm::new();
    assert_eq!(
        ok(&mut irm, "ipcp bootstrap help"),
        help(crate::irm_cli::HelpTopic::IpcpBootstrap)
    );
    assert_eq!(ok(&mut irm, "help"), help(crate::irm_cli::HelpTopic::Irm));
    assert_eq!(irm, Irm::new());
}

// ----- tables --------------------------------------------------------------------

fn small_registry() -> Irm {
    setup(&[
        "ipcp bootstrap type local name lo layer lo",
        "ipcp create name n1 type unicast",
        "ipcp bootstrap type udp4 name udp layer wan ip 10.0.0.1",
        "name register oping layer lo",
        "name create web lb round-robin",
        "name register web layer lo layer wan",
        "name create zz",
    ])
}

#[test]
fn ipcp_list_prints_aligned_columns_in_creation_order() {
    let mut irm = small_registry();
    assert_eq!(
        ok(&mut irm, "ipcp list"),
        "\
NAME  TYPE     STATE         LAYER  HASH      DEVICE
lo    local    bootstrapped  lo     SHA3_256  -
n1    unicast  init          -      -         -
udp   udp4     bootstrapped  wan    MD5       10.0.0.1:3435
"
    );
    assert_eq!(
        ok(&mut irm, "ipcp list type udp4"),
        "\
NAME  TYPE  STATE         LAYER  HASH  DEVICE
udp   udp4  bootstrapped  wan    MD5   10.0.0.1:3435
"
    );
    assert_eq!(ok(&mut irm, "ipcp list name l*"), ok(&mut irm, "ipcp list layer lo"));
    assert_eq!(ok(&mut irm, "ipcp list type eth-dix"), "no IPCPs\n");
    assert_eq!(ok(&mut Irm::new(), "ipcp list"), "no IPCPs\n");
}

#[test]
fn name_list_prints_aligned_columns_sorted_by_name() {
    let mut irm = small_registry();
    assert_eq!(
        ok(&mut irm, "name list"),
        "\
NAME   LB           IPCPS   LAYERS
oping  spillover    lo      lo
web    round-robin  lo,udp  lo,wan
zz     round-robin  -       -
"
    );
    assert_eq!(ok(&mut Irm::new(), "name list"), "no names\n");
}

// ----- refusals ------------------------------------------------------------------

#[test]
fn every_refusal_names_the_problem_and_leaves_the_registry_unchanged() {
    let mut irm = setup(TUTORIAL);
    ok(&mut irm, "name create web");

    // (command, errno, a word the message must contain)
    let cases: &[(&str, i32, &str)] = &[
        ("ipcp destroy name nope", -ENOENT, "nope"),
        ("bind ipcp nope name x", -ENOENT, "nope"),
        ("ipcp create name lo type local", -EEXIST, "lo"),
        ("name create web", -EEXIST, "web"),
        ("name create oping", -EEXIST, "oping"),
        ("ipcp bootstrap name nope layer x", -ENOENT, "type"),
        ("ipcp bootstrap name lo layer again", -EPERM, "already"),
        ("ipcp bootstrap type udp4 name lo layer x ip 10.0.0.1", -EINVAL, "local"),
        ("name register web layer nolayer", -ENOENT, "nolayer"),
        ("name register newname layer nolayer", -ENOENT, "nolayer"),
        ("name register oping layer lo", -EEXIST, "already registered"),
        ("name unregister web layer lo", -ENOENT, "not registered"),
        ("name destroy nope", -ENOENT, "nope"),
        ("ipcp enroll name lo layer x", -EINVAL, "enrol"),
        ("unbind process 42", -ENOENT, "42"),
        ("bind program /usr/bin/oping name oping", -EEXIST, "oping"),
    ];
    for (line, errno, word) in cases {
        let e = refused(&mut irm, line);
        assert_eq!(e.errno(), *errno, "`irm {line}`: {e}");
        assert!(
            e.to_string().contains(word),
            "`irm {line}`: {e:?} does not say {word:?}"
        );
    }
    // The name `register` would have created on the way is not there.
    assert!(irm.name_list().iter().all(|n| n.name != "newname"));
}

#[test]
fn bootstrap_of_an_unknown_ipcp_without_type_is_a_missing_type_error() {
    let mut irm = Irm::new();
    let e = refused(&mut irm, "ipcp bootstrap name lo layer lo");
    assert_eq!(e, ExecError::MissingType { name: "lo".to_owned() });
    assert_eq!(
        e.to_string(),
        "irm ipcp bootstrap: no IPCP matches \"lo\"; give `type` to create it"
    );
}

#[test]
fn bootstrap_options_for_another_type_are_refused_by_resolve() {
    let mut irm = setup(&["ipcp create name lo type local"]);
    let e = refused(&mut irm, "ipcp bootstrap name lo layer lo ip 10.0.0.1");
    assert!(
        matches!(e, ExecError::Cli(CliError::BadValue { option: "ip", .. })),
        "{e:?}"
    );
    let e = refused(&mut irm, "ipcp bootstrap name lo layer lo autobind");
    assert!(
        matches!(e, ExecError::Cli(CliError::BadValue { option: "autobind", .. })),
        "{e:?}"
    );
    assert_eq!(e.errno(), -EINVAL);
}

#[test]
fn enroll_of_a_local_ipcp_is_a_bad_layer_type_and_of_the_other_enrolling_type_a_mismatch() {
    let mut irm = setup(&[
        "ipcp bootstrap type local name lo layer lo",
        "ipcp create name bc type broadcast",
    ]);
    let e = refused(&mut irm, "ipcp enroll name lo layer net");
    assert!(
        matches!(&e, ExecError::Irm(IrmError::BadLayerType { ipcp, ipcp_type: IpcpType::Local, .. }) if ipcp == "lo"),
        "{e:?}"
    );
    assert_eq!(e.errno(), -EINVAL);

    let e = refused(&mut irm, "ipcp enroll name bc layer net");
    assert_eq!(
        e,
        ExecError::TypeMismatch {
            command: "irm ipcp enroll",
            ipcp: "bc".to_owned(),
            existing: IpcpType::Broadcast,
            requested: IpcpType::Unicast,
        }
    );
    assert!(e.to_string().contains("type broadcast"), "{e}");
    ok(&mut irm, "ipcp enroll name bc layer net type broadcast");
}

// ----- configuration file --------------------------------------------------------

#[test]
fn a_configuration_file_gives_the_registry_the_equivalent_commands_give() {
    let text = r#"
[local.lo]
bootstrap = "lo"
reg = ["oping", "echo"]

[name.oping]
prog = ["/usr/bin/oping"]
args = ["--listen"]

[unicast.u]
bootstrap = "net"
autobind = true

[eth-dix.e]
"#;
    let mut from_file = Irm::new();
    apply_config(&mut from_file, Instant::now(), &config(text), &Account::default()).unwrap();

    // Names first, then the IPCP tables in file order.
    let from_commands = setup(&[
        "name create oping lb spillover",
        "bind program /usr/bin/oping name oping auto -- --listen",
        "ipcp bootstrap type local name lo layer lo",
        "name register oping ipcp lo",
        "name register echo ipcp lo",
        "ipcp bootstrap type unicast name u layer net autobind",
        "ipcp create name e type eth-dix",
    ]);
    assert_eq!(from_file, from_commands);
    assert_eq!(
        ok(&mut from_file, "name list"),
        "\
NAME   LB         IPCPS  LAYERS
echo   spillover  lo     lo
oping  spillover  lo     lo
"
    );
}

#[test]
fn a_configuration_file_that_enrols_starts_enrolment_and_binds_the_ipcp_name() {
    let text = r#"
[unicast.u]
enrol = "member"
autobind = true
"#;
    let mut from_file = Irm::new();
    apply_config(&mut from_file, Instant::now(), &config(text), &Account::default()).unwrap();
    let mut direct = Irm::new();
    direct.ipcp_create("u", IpcpType::Unicast).unwrap();
    direct.ipcp_enroll("u", "member").unwrap();
    direct.bind_ipcp("u", "u").unwrap();
    assert_eq!(from_file, direct);
}

#[test]
fn a_configuration_file_stops_at_the_first_failing_table_and_keeps_what_came_before() {
    // (TOML groups the tables by kind: a `[local.after]` here would be
    // applied with `[local.lo]`, before `[unicast.u]`.)
    let text = r#"
[local.lo]
bootstrap = "lo"

[unicast.u]
enrol = "member"
reg = ["oping"]

[eth-dix.after]
"#;
    let mut irm = Irm::new();
    let e = apply_config(&mut irm, Instant::now(), &config(text), &Account::default()).unwrap_err();
    assert!(
        matches!(&e, ExecError::Config { table, error } if table == "unicast.u"
            && matches!(**error, ExecError::Unsupported { .. })),
        "{e:?}"
    );
    assert_eq!(e.errno(), -ENOTSUP);
    assert!(e.to_string().starts_with("irmd configuration [unicast.u]: "), "{e}");
    let names: Vec<String> = irm.ipcp_list(None, None, None).into_iter().map(|i| i.name).collect();
    assert_eq!(names, strings(&["lo"]));

    let text = r#"
[unicast.u]
enrol = "member"
conn = ["member"]
"#;
    let e = apply_config(&mut Irm::new(), Instant::now(), &config(text), &Account::default()).unwrap_err();
    assert!(e.to_string().contains("`conn`"), "{e}");

    // An IPCP that exists already (irmd applies the file to a fresh IRM,
    // but the error must still name the table and the IPCP).
    let mut irm = setup(&["ipcp create name lo type local"]);
    let e = apply_config(
        &mut irm,
        Instant::now(),
        &config("[local.lo]\nbootstrap = \"lo\"\n"),
        &Account::default(),
    )
    .unwrap_err();
    assert_eq!(e.errno(), -EEXIST);
    assert_eq!(
        e.to_string(),
        "irmd configuration [local.lo]: an IPCP named \"lo\" already exists"
    );
}

#[test]
fn ipcp_stats_shows_each_ipcp_s_counters_from_its_task() {
    let mut irm = small_registry();
    let stats = |ipcp: &str| match ipcp {
        "udp" => vec![("rx-packets".to_owned(), 12), ("mgmt-bad-hash".to_owned(), 1)],
        _ => Vec::new(),
    };
    let out = execute(
        &mut irm,
        Instant::now(),
        &cmd("ipcp stats"),
        &Account::default(),
        &stats,
    )
    .unwrap();
    assert_eq!(
        out,
        "\
IPCP  COUNTER        VALUE
udp   rx-packets     12
udp   mgmt-bad-hash  1
"
    );
    let one = execute(
        &mut irm,
        Instant::now(),
        &cmd("ipcp stats name lo"),
        &Account::default(),
        &stats,
    )
    .unwrap();
    assert_eq!(one, "no counters\n");
    let e = execute(
        &mut irm,
        Instant::now(),
        &cmd("ipcp stats name nope"),
        &Account::default(),
        &stats,
    )
    .unwrap_err();
    assert!(matches!(e, ExecError::Irm(IrmError::UnknownIpcp(_))), "{e:?}");
}
