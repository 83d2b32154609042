//! Who may use irmd, with the real binaries and real accounts: the runtime
//! directory and socket are closed to other users whatever the umask;
//! members of the users group run applications but cannot manage irmd;
//! a program bound by an operator runs as that operator; a process's
//! program is what the kernel says, not what the process claims.
//!
//! The other account is nobody (uid and gid 65534), reached with
//! util-linux's `setpriv` without root's supplementary groups.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Irmd, Raw, eventually, start_under_umask_000};
use o7s_netns::{KillOnDrop, require_root, workspace_bin};
use o7s_seam::rpc::{self, reply, request};

const NOBODY: u32 = 65534;

fn oping() -> PathBuf {
    workspace_bin("o7s-oping", "oping").expect("build oping")
}

fn mode(path: &Path) -> (u32, u32, u32) {
    let m = std::fs::metadata(path).expect("stat");
    (m.mode() & 0o7777, m.uid(), m.gid())
}

/// Every management command a user might try, with what must stay.
const MANAGEMENT: &[&[&str]] = &[
    &["ipcp", "bootstrap", "type", "local", "name", "mine", "layer", "mine"],
    &["ipcp", "create", "name", "mine", "type", "local"],
    &["ipcp", "destroy", "name", "lo"],
    &["bind", "program", "/bin/sh", "name", "oping", "auto", "--", "-c", "id"],
    &["unbind", "program", "/bin/sh"],
    &["name", "create", "mine"],
    &["name", "register", "mine", "layer", "lo"],
    &["name", "unregister", "oping", "layer", "lo"],
    &["name", "destroy", "oping"],
];

fn state(irmd: &Irmd) -> (String, String) {
    (irmd.irm_ok(&["ipcp", "list"]), irmd.irm_ok(&["name", "list"]))
}

#[test]
fn the_runtime_directory_and_socket_are_closed_to_other_users_under_umask_000() {
    if !require_root("the_runtime_directory_and_socket_are_closed_to_other_users_under_umask_000") {
        return;
    }
    let irmd = start_under_umask_000("access-umask", &[]);
    assert_eq!(mode(&irmd.dir), (0o700, 0, 0));
    assert_eq!(mode(&o7s_app::rundir::socket(&irmd.dir)).0, 0o600);

    // Even where the directory is opened by hand, the socket's own mode
    // stops nobody; and where both are, irmd itself does.
    let err = irmd
        .irm_as_nobody(&["ipcp", "list"])
        .expect_err("nobody must not connect");
    assert!(err.contains("Permission denied"), "{err}");
    std::fs::set_permissions(&irmd.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let socket = o7s_app::rundir::socket(&irmd.dir);
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = irmd
        .irm_as_nobody(&["ipcp", "list"])
        .expect_err("irmd must refuse nobody");
    assert!(
        err.contains("irmd refused the connection") && err.contains("uid 65534"),
        "{err}"
    );
    let err = irmd.irm_as_nobody(MANAGEMENT[0]).expect_err("irmd must refuse nobody");
    assert!(err.contains("irmd refused the connection"), "{err}");
    let out = irmd
        .command_as_nobody(&oping())
        .args(["-n", "oping", "-c", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(state(&irmd).0, "no IPCPs\n");
    assert!(irmd.log_text().contains("connection refused"), "{}", irmd.log_text());
}

#[test]
fn users_run_applications_but_cannot_manage_irmd() {
    if !require_root("users_run_applications_but_cannot_manage_irmd") {
        return;
    }
    let oping = oping();
    let irmd = start_under_umask_000("access-users", &["--users", "65534"]);
    assert_eq!(mode(&irmd.dir), (0o710, 0, NOBODY));
    assert_eq!(mode(&o7s_app::rundir::socket(&irmd.dir)), (0o660, 0, NOBODY));
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    irmd.irm_ok(&["bind", "program", oping.to_str().unwrap(), "name", "oping"]);
    irmd.irm_ok(&["name", "register", "oping", "layer", "lo"]);
    let before = state(&irmd);

    // Reading is allowed.
    let list = irmd.irm_as_nobody(&["ipcp", "list"]).expect("a user lists IPCPs");
    assert_eq!(list, before.0);
    // Managing is not, and changes nothing.
    for args in MANAGEMENT {
        let err = irmd
            .irm_as_nobody(args)
            .expect_err(&format!("a user ran irm {}", args.join(" ")));
        assert!(err.contains("permission denied"), "irm {}: {err}", args.join(" "));
        assert_eq!(state(&irmd), before, "irm {} changed irmd's state", args.join(" "));
    }

    // A user's application serves a flow to root's.
    let _server = KillOnDrop::spawn(irmd.command_as_nobody(&oping).arg("-l").stdout(Stdio::null())).unwrap();
    let mut admin = irmd.admin();
    let up = eventually(Duration::from_secs(10), || {
        (admin.status().ok()?.processes.len() == 1).then_some(())
    });
    assert!(
        up.is_some(),
        "the user's server never announced itself:\n{}",
        irmd.log_text()
    );
    let out = irmd
        .command(&oping)
        .args(["-n", "oping", "-c", "5", "-i", "10ms"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}\n{}", irmd.log_text());
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 received"));
}

/// The pid irmd logged for the program it started last.
fn started_pid(log: &str) -> Option<u32> {
    log.lines()
        .rfind(|l| l.contains("started program for a flow request"))?
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))?
        .parse()
        .ok()
}

fn ids(pid: u32, field: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| v.split_whitespace().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default()
}

#[test]
fn a_program_bound_by_an_operator_runs_as_that_operator() {
    if !require_root("a_program_bound_by_an_operator_runs_as_that_operator") {
        return;
    }
    let oping = oping();
    let irmd = Irmd::start_with("access-operator", &["--operators", "65534"]);
    // nobody, an operator here, sets the layer up and binds the server.
    for args in [
        &["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"][..],
        &[
            "bind",
            "program",
            oping.to_str().unwrap(),
            "name",
            "oping",
            "auto",
            "--",
            "-l",
        ],
        &["name", "register", "oping", "layer", "lo"],
    ] {
        irmd.irm_as_nobody(args)
            .unwrap_or_else(|e| panic!("operator's irm {}: {e}", args.join(" ")));
    }
    let out = irmd
        .command(&oping)
        .args(["-n", "oping", "-c", "3", "-i", "10ms"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}\n{}", irmd.log_text());
    let pid = started_pid(&irmd.log_text()).expect("irmd logs the program it started");
    assert_eq!(ids(pid, "Uid:"), [NOBODY; 4], "{}", irmd.log_text());
    assert_eq!(ids(pid, "Gid:"), [NOBODY; 4]);
    assert!(!ids(pid, "Groups:").contains(&0), "root's groups leaked");
}

#[test]
fn a_process_that_lies_about_its_program_gets_no_flows() {
    let oping = oping();
    let irmd = Irmd::start("access-liar");
    // The service is a program of its own (not oping, which the client
    // below runs and which would be bound to the name itself).
    let service = std::fs::canonicalize("/bin/true").unwrap();
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    irmd.irm_ok(&["bind", "program", service.to_str().unwrap(), "name", "svc"]);
    irmd.irm_ok(&["name", "register", "svc", "layer", "lo"]);

    // This test binary says it is the service, and waits for its flows.
    let mut liar = Raw::connect(&irmd).unwrap();
    let hello = request::Body::Hello(rpc::Hello {
        program: service.to_string_lossy().into_owned(),
    });
    liar.send(1, hello).unwrap();
    let welcome = liar.recv(Duration::from_secs(5)).unwrap().expect("welcome");
    assert!(matches!(welcome.body, Some(reply::Body::Welcome(_))), "{welcome:?}");
    let accept = request::Body::FlowAccept(rpc::FlowAccept { timeout_ms: Some(1500) });
    liar.send(2, accept).unwrap();

    let out = irmd.command(&oping).args(["-n", "svc", "-c", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "the flow must not be allocated: {out:?}");
    let answer = liar
        .recv(Duration::from_secs(5))
        .unwrap()
        .expect("an answer to the accept");
    match answer.body {
        Some(reply::Body::Error(e)) => assert_eq!(e.code, -o7s_app::error::errno::ETIMEDOUT, "{e:?}"),
        other => panic!("the liar got {other:?}"),
    }
    let log = irmd.log_text();
    assert!(log.contains("a process named another program than it runs"), "{log}");
}
