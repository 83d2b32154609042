//! Bad input to irm and to irmd's socket: a clear error naming the
//! problem, a non-zero exit, and no change to irmd's state.

mod common;

use common::Irmd;
use o7s_seam::rpc::reply;

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
            &[
                "ipcp",
                "bootstrap",
                "type",
                "eth-dix",
                "name",
                "e",
                "layer",
                "eth",
                "dev",
                "nosuchdev0",
            ],
            "nosuchdev0",
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

#[test]
fn names_with_control_characters_and_arguments_that_are_not_utf8_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let irmd = Irmd::start("irm-hygiene");
    let before = state(&irmd);
    for (name, why) in [
        ("a\nb", "control character"),
        ("\u{1b}[31mred", "control character"),
        ("two words", "white space"),
        ("evil\u{202e}txt", "invisible formatting character"),
    ] {
        let err = irmd
            .irm(&["name", "create", name])
            .expect_err(&format!("irm name create {name:?} must be refused"));
        assert!(err.contains(why), "{name:?}: {err}");
        assert!(!err.contains('\u{1b}'), "the error repeats an escape sequence: {err:?}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_irm"))
        .args(["name", "create"])
        .arg(std::ffi::OsStr::from_bytes(b"caf\xe9"))
        .env("O7S_RUNDIR", &irmd.dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("argument 3") && err.contains("not valid UTF-8"), "{err}");
    // And irmd refuses such names from any process, not only from irm.
    let mut admin = irmd.admin();
    let e = admin
        .command(&["name".into(), "create".into(), "x\ny".into()])
        .unwrap_err();
    assert!(e.to_string().contains("control character"), "{e}");
    assert_eq!(state(&irmd), before);
}

#[test]
fn a_flood_of_malformed_messages_is_answered_but_logged_within_a_budget() {
    let irmd = Irmd::start("irmd-malformed-flood");
    let mut admin = irmd.admin();
    for _ in 0..2000 {
        let answer = admin.send_raw(b"\xff\xff\xff").expect("irmd answers every message");
        assert!(matches!(answer.and_then(|r| r.body), Some(reply::Body::Error(_))));
    }
    let log = irmd.log_text();
    let lines = log.matches("malformed message refused").count();
    assert!(
        (10..=50).contains(&lines),
        "{lines} log lines for 2000 malformed messages"
    );
    assert!(log.contains("held_back="), "{log}");
}

#[test]
fn an_empty_message_is_a_malformed_request_not_a_hang_up() {
    let irmd = Irmd::start("irmd-empty");
    let mut admin = irmd.admin();
    let answer = admin.send_raw(b"").expect("irmd answers");
    match answer.and_then(|r| r.body) {
        Some(reply::Body::Error(e)) => assert!(e.message.contains("without a body"), "{e:?}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // The same connection still works.
    assert!(admin.status().is_ok());
}

#[test]
fn oping_exits_1_when_replies_are_lost_and_2_when_there_is_no_flow() {
    let oping = o7s_netns::workspace_bin("o7s-oping", "oping").expect("build oping");
    let irmd = Irmd::start("oping-status");
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    let out = irmd
        .command(&oping)
        .args(["-n", "nobody-serves", "-c", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    irmd.irm_ok(&["bind", "program", oping.to_str().unwrap(), "name", "oping"]);
    irmd.irm_ok(&["name", "register", "oping", "layer", "lo"]);
    let server =
        o7s_netns::KillOnDrop::spawn(irmd.command(&oping).arg("-l").stdout(std::process::Stdio::null())).unwrap();
    let ping = |count: &str| {
        irmd.command(&oping)
            .args(["-n", "oping", "-c", count, "-i", "10ms"])
            .output()
            .unwrap()
    };
    let all = ping("3");
    assert_eq!(all.status.code(), Some(0), "{all:?}");
    // A server that stops answering: every request lost.
    o7s_netns::signal(server.id(), libc::SIGSTOP);
    let lost = ping("3");
    o7s_netns::signal(server.id(), libc::SIGCONT);
    assert_eq!(lost.status.code(), Some(1), "{lost:?}");
    assert!(
        String::from_utf8_lossy(&lost.stdout).contains("100% packet loss"),
        "{lost:?}"
    );
}
