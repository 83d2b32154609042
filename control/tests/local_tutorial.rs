//! The paper's local tutorial end to end, with the real binaries: irmd,
//! irm and oping over the local layer, set up by hand, with the server
//! started by the super-server, and from a TOML file; then processes
//! killed mid-flow.

mod common;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{Irmd, eventually};
use o7s_netns::{KillOnDrop, workspace_bin};

fn oping() -> PathBuf {
    workspace_bin("o7s-oping", "oping").expect("build oping")
}

/// Runs an oping client to completion and checks its summary.
fn ping(irmd: &Irmd, oping: &std::path::Path, count: u32) -> String {
    let out: Output = irmd
        .command(oping)
        .args(["-n", "oping", "-c", &count.to_string(), "-i", "0", "-Q"])
        .stdin(Stdio::null())
        .output()
        .expect("run oping");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "oping failed: {}\n{stdout}\n{}\nirmd log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        irmd.log_text()
    );
    let expect = format!("{count} packets transmitted, {count} received, ");
    assert!(stdout.contains(&expect), "{stdout}");
    assert!(stdout.contains(" 0% packet loss"), "{stdout}");
    stdout
}

fn tutorial_setup(irmd: &Irmd, oping: &std::path::Path, auto: bool) {
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    let path = oping.to_str().expect("utf-8 path");
    if auto {
        irmd.irm_ok(&["bind", "program", path, "name", "oping", "auto", "--", "-l"]);
    } else {
        irmd.irm_ok(&["bind", "program", path, "name", "oping"]);
    }
    irmd.irm_ok(&["name", "register", "oping", "layer", "lo"]);
}

/// Waits until irmd knows `n` announced processes.
fn wait_processes(irmd: &Irmd, n: usize) {
    let mut admin = irmd.admin();
    let ok = eventually(Duration::from_secs(10), || {
        (admin.status().ok()?.processes.len() == n).then_some(())
    });
    assert!(ok.is_some(), "irmd never saw {n} processes:\n{}", irmd.log_text());
}

#[test]
fn local_tutorial_by_hand() {
    let oping = oping();
    let irmd = Irmd::start("tutorial-hand");
    tutorial_setup(&irmd, &oping, false);
    let _server = KillOnDrop::spawn(irmd.command(&oping).arg("-l").stdout(Stdio::null())).expect("server");
    wait_processes(&irmd, 1);
    ping(&irmd, &oping, 10_000);
}

#[test]
fn local_tutorial_with_the_super_server() {
    let oping = oping();
    let mut irmd = Irmd::start("tutorial-auto");
    tutorial_setup(&irmd, &oping, true);
    ping(&irmd, &oping, 10_000);
    assert!(irmd.log_text().contains("started program"), "{}", irmd.log_text());
    // irmd stops the programs it started when it stops.
    assert!(irmd.stop());
}

#[test]
fn local_tutorial_from_a_toml_file() {
    let oping = oping();
    let dir = std::env::temp_dir().join(format!("o7s-tutorial-toml-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("irmd.conf");
    std::fs::write(
        &conf,
        format!(
            "[name.oping]\nprog = [\"{}\"]\nargs = [\"-l\"]\n\n[local.lo]\nbootstrap = \"lo\"\nreg = [\"oping\"]\n",
            oping.display()
        ),
    )
    .unwrap();
    let irmd = Irmd::start_with("tutorial-toml", &["--config", conf.to_str().unwrap()]);
    let ipcps = irmd.irm_ok(&["ipcp", "list"]);
    assert!(ipcps.contains("bootstrapped"), "{ipcps}");
    ping(&irmd, &oping, 10_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An oping client sending as fast as it can for longer than any test,
/// once its flow is up and SDUs have flowed for a moment.
fn flooding_client(irmd: &Irmd, oping: &std::path::Path) -> KillOnDrop {
    let client = KillOnDrop::spawn(
        irmd.command(oping)
            .args(["-n", "oping", "-c", "100000000", "-i", "0", "-Q"])
            .stdout(Stdio::null()),
    )
    .expect("client");
    let mut admin = irmd.admin();
    let up = eventually(Duration::from_secs(10), || {
        (admin.status().ok()?.flows.len() == 2).then_some(())
    });
    assert!(up.is_some(), "no flow came up:\n{}", irmd.log_text());
    std::thread::sleep(Duration::from_millis(300));
    client
}

/// irmd's flows and the buffers the pool has accounted to `pid`.
fn flows_and_held(irmd: &Irmd, pid: u32) -> (usize, u32) {
    let status = irmd.admin().status().expect("status");
    let held = status
        .pool
        .map(|p| p.slots.iter().filter(|s| s.pid as u32 == pid).map(|s| s.held).sum())
        .unwrap_or(0);
    (status.flows.len(), held)
}

#[test]
fn killing_the_client_mid_flow_frees_its_flows_and_buffers() {
    let oping = oping();
    let irmd = Irmd::start("tutorial-kill-client");
    tutorial_setup(&irmd, &oping, false);
    let mut server = KillOnDrop::spawn(irmd.command(&oping).arg("-l").stdout(Stdio::null())).expect("server");
    wait_processes(&irmd, 1);
    let mut client = flooding_client(&irmd, &oping);
    let pid = client.id();
    client.0.kill().unwrap();
    client.0.wait().unwrap();
    let clean = eventually(Duration::from_secs(10), || {
        (flows_and_held(&irmd, pid) == (0, 0)).then_some(())
    });
    assert!(
        clean.is_some(),
        "after the kill: {:?} (flows, buffers held by the dead client)\n{}",
        flows_and_held(&irmd, pid),
        irmd.log_text()
    );
    // The server noticed and serves the next client.
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "the server died with its client"
    );
    ping(&irmd, &oping, 1000);
}

#[test]
fn killing_the_server_mid_flow_ends_the_client_and_frees_everything() {
    let oping = oping();
    let irmd = Irmd::start("tutorial-kill-server");
    tutorial_setup(&irmd, &oping, false);
    let mut server = KillOnDrop::spawn(irmd.command(&oping).arg("-l").stdout(Stdio::null())).expect("server");
    let server_pid = server.id();
    wait_processes(&irmd, 1);
    let mut client = flooding_client(&irmd, &oping);
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    // The client's blocking read returns (flow down): it ends by itself.
    let ended = eventually(Duration::from_secs(10), || client.0.try_wait().ok().flatten());
    assert!(ended.is_some(), "the client hangs after its server died");
    let clean = eventually(Duration::from_secs(10), || {
        (flows_and_held(&irmd, server_pid) == (0, 0)).then_some(())
    });
    assert!(
        clean.is_some(),
        "{:?}\n{}",
        flows_and_held(&irmd, server_pid),
        irmd.log_text()
    );
}

#[test]
fn a_request_whose_requester_died_before_the_accept_is_down_at_once() {
    let oping = oping();
    let irmd = Irmd::start("tutorial-dead-requester");
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    let ipc = o7s_app::Ipc::connect_to(&irmd.dir).expect("connect");
    irmd.irm_ok(&["bind", "process", &ipc.pid().to_string(), "name", "late"]);
    irmd.irm_ok(&["name", "register", "late", "layer", "lo"]);
    // The request waits for this process to accept (up to REQ_ARR_TIMEOUT).
    let mut client = KillOnDrop::spawn(
        irmd.command(&oping)
            .args(["-n", "late", "-c", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("client");
    let mut admin = irmd.admin();
    let pending = eventually(Duration::from_secs(5), || {
        (admin.status().ok()?.flows.len() == 2).then_some(())
    });
    assert!(pending.is_some(), "no pending request:\n{}", irmd.log_text());
    client.0.kill().unwrap();
    client.0.wait().unwrap();
    let flow = ipc
        .flow_accept(Some(Duration::from_secs(5)))
        .expect("the request is still there");
    flow.set_rcv_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 64];
    assert!(
        matches!(flow.read(&mut buf), Err(o7s_app::Error::FlowDown(_))),
        "{}",
        irmd.log_text()
    );
}
