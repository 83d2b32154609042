//! Bad input to irm and to irmd's socket: a clear error naming the
//! problem, a non-zero exit, and no change to irmd's state.

mod common;

use common::Irmd;
use o7s_app::msg::reply;

/// What `irm ipcp list` and `irm name list` show: the state a refusal
/// must leave as it was.
fn state(irmd: &Irmd) -> (String, String) {
    (irmd.irm_ok(&["ipcp", "list"]), irmd.irm_ok(&["name", "list"]))
}

#[test]
fn refused_irm_commands_name_the_problem_and_change_nothing() {
    let irmd = Irmd::start("irm-refusals");
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    irmd.irm_ok(&["name", "create", "oping"]);
    irmd.irm_ok(&["name", "register", "oping", "layer", "lo"]);
    let before = state(&irmd);
    let cases: &[(&[&str], &str)] = &[
        (&["ipcp", "destroy", "name", "nope"], "nope"),
        (&["bind", "ipcp", "nope", "name", "oping"], "nope"),
        (&["name", "create", "oping"], "already exists"),
        (&["ipcp", "create", "name", "lo", "type", "local"], "lo"),
        (&["ipcp", "bootstrap", "name", "lo"], "layer"),
        (&["ipcp", "bootstrap", "name", "fresh", "layer", "x"], "type"),
        (
            &["ipcp", "bootstrap", "type", "bogus", "name", "x", "layer", "y"],
            "bogus",
        ),
        (&["ipcp", "enroll", "name", "lo", "dst", "peer"], "lo"),
        (&["name", "register", "ghost", "layer", "nolayer"], "nolayer"),
        (&["name", "destroy"], "name"),
        (
            &["ipcp", "bootstrap", "type", "unicast", "name", "u", "layer", "net"],
            "unicast",
        ),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let err = irmd
            .irm(args)
            .expect_err(&format!("irm {} must be refused", args.join(" ")));
        assert!(
            err.contains(needle),
            "irm {}: error {err:?} does not name {needle:?}",
            args.join(" ")
        );
        assert_eq!(state(&irmd), before, "irm {} changed irmd's state", args.join(" "));
    }
}

#[test]
fn abbreviated_commands_and_tables() {
    let irmd = Irmd::start("irm-abbrev");
    irmd.irm_ok(&["i", "b", "type", "local", "name", "lo", "layer", "lo"]);
    irmd.irm_ok(&["n", "r", "oping", "l", "lo"]);
    let ipcps = irmd.irm_ok(&["i", "l"]);
    assert!(ipcps.lines().next().is_some_and(|h| h.starts_with("NAME")), "{ipcps}");
    assert!(ipcps.contains("lo") && ipcps.contains("local") && ipcps.contains("bootstrapped"));
    let names = irmd.irm_ok(&["n", "l"]);
    assert!(
        names.lines().any(|l| l.starts_with("oping") && l.contains("lo")),
        "{names}"
    );
}

#[test]
fn malformed_messages_are_refused_and_irmd_keeps_serving() {
    let irmd = Irmd::start("irmd-malformed");
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    let before = state(&irmd);
    let garbage: &[&[u8]] = &[
        b"\xff\xff\xff\xff\xff\xff",
        b"\x08",
        // A request with a truncated length-delimited field.
        b"\x08\x01\x1a\x7f\x0a",
        // Valid framing, no body.
        b"\x08\x05",
        // A flow request before hello.
        b"\x08\x06\x22\x07\x0a\x05oping",
    ];
    for bytes in garbage {
        let mut admin = irmd.admin();
        let answer = admin.send_raw(bytes).expect("irmd answers");
        match answer.and_then(|r| r.body) {
            Some(reply::Body::Error(e)) => assert!(e.code < 0 && !e.message.is_empty(), "{e:?}"),
            other => panic!("{bytes:?}: expected an error, got {other:?}"),
        }
    }
    // A peer that sends and vanishes does not hurt either.
    for _ in 0..20 {
        let mut admin = irmd.admin();
        let _ = admin.send_raw(b"\x12\x34");
    }
    assert_eq!(state(&irmd), before);
    assert!(irmd.admin().status().is_ok());
}

#[test]
fn help_is_there_without_irmd_and_help_after_dashdash_is_an_argument() {
    let irmd = Irmd::start("irm-help");
    let top = irmd.irm_ok(&["--help"]);
    assert!(top.contains("Usage:") && top.contains("ipcp"), "{top}");
    let bootstrap = irmd.irm_ok(&["ipcp", "bootstrap", "--help"]);
    assert!(bootstrap.contains("irm ipcp bootstrap"), "{bootstrap}");
    irmd.irm_ok(&["bind", "program", "/bin/true", "name", "t", "auto", "--", "--help"]);
}
