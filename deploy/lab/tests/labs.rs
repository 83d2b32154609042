//! The project's labs, run as CI runs them, and what o7s-lab leaves behind
//! when a step fails, when it is interrupted, and when it is killed.
//!
//! ```text
//!   deploy/labs/*.toml ──► o7s_lab::lab::run (this test's profile's irmd, irm, oping)
//!
//!   o7l-<instance>-a                 o7l-<instance>-b
//!  +-----------------+              +-----------------+
//!  | irmd, steps     |== veth(s) ===| irmd, steps     |
//!  +-----------------+              +-----------------+
//! ```
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use o7s_lab::bins::Bins;
use o7s_lab::report::Collect;
use o7s_lab::{LabError, Options, Topology, lab, network, state};
use o7s_netns::{KillOnDrop, Netns, require_root, skip, workspace_bin};

/// The directory of this profile's irmd, irm and oping, built now.
fn bin_dir() -> PathBuf {
    let irmd = workspace_bin("o7s-control", "irmd").expect("build irmd");
    workspace_bin("o7s-control", "irm").expect("build irm");
    workspace_bin("o7s-oping", "oping").expect("build oping");
    workspace_bin("o7s-oping", "obc").expect("build obc");
    irmd.parent().expect("a directory").to_owned()
}

fn options(report: &Arc<Collect>) -> Options {
    let mut options = Options::new(Arc::clone(report) as _);
    options.bins = Bins::in_dir(Some(bin_dir()));
    options
}

fn labs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs")
}

/// Whether this kernel has netem, tried in a namespace of the test's own.
fn kernel_has_netem() -> bool {
    let ns = Netns::new("netem-probe").expect("namespace");
    network::has_netem(ns.name()).expect("probe netem")
}

/// A lab file written for one test, removed with its directory.
struct LabFile {
    dir: PathBuf,
    path: PathBuf,
}

impl LabFile {
    fn new(test: &str, text: &str) -> LabFile {
        let dir = std::env::temp_dir().join(format!("o7s-lab-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{test}.toml"));
        std::fs::write(&path, text).unwrap();
        LabFile { dir, path }
    }
}

impl Drop for LabFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Nothing of instance `instance` is left: no namespace, no record or
/// runtime directory, none of `pids` alive, no interface called `dev` in
/// the host's namespace.
fn assert_gone(instance: &str, pids: &[u32], dev: &str) {
    let left = network::list_netns(&format!("{}{instance}-", state::NETNS_PREFIX)).unwrap();
    assert!(left.is_empty(), "namespaces left: {left:?}");
    let dir = Path::new(state::STATE_DIR).join(instance);
    assert!(!dir.exists(), "{} is left", dir.display());
    for pid in pids {
        // A zombie is dead: reaping it is its parent's business.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next());
        assert!(matches!(state, None | Some("Z" | "X")), "process {pid} is left: {stat}");
    }
    let links = o7s_netns::ip(&["-o", "link", "show"]).unwrap();
    assert!(
        !links.contains(&format!(" {dev}@")),
        "interface {dev} is left:\n{links}"
    );
}

fn pids_in(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn every_lab_in_deploy_labs_runs_to_its_end() {
    if !require_root("every_lab_in_deploy_labs_runs_to_its_end") {
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(labs_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no labs in {}", labs_dir().display());
    let netem = kernel_has_netem();
    for file in files {
        let topology = Topology::load(&file).unwrap_or_else(|e| panic!("{e}"));
        if topology.uses_netem() && !netem {
            skip(
                &format!("lab {}", file.display()),
                "this kernel has no netem (CONFIG_NET_SCH_NETEM is not set)",
            );
            continue;
        }
        let report = Arc::new(Collect::default());
        let started = Instant::now();
        if let Err(e) = lab::run(topology, &file, options(&report)) {
            panic!("lab {} failed: {e}\n{}", file.display(), report.text());
        }
        eprintln!(
            "lab {} passed in {:.1} s",
            file.display(),
            started.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn a_failed_step_tears_everything_down_and_says_which_and_why() {
    if !require_root("a_failed_step_tears_everything_down_and_says_which_and_why") {
        return;
    }
    let pids = std::env::temp_dir().join(format!("o7s-lab-failed-pids-{}", std::process::id()));
    let lab = LabFile::new(
        "failed-step",
        &format!(
            r#"
[systems.a]
setup = ["irm ipcp bootstrap type local name lo layer lo"]
[systems.b]
[[links]]
ends.a = {{ dev = "o7t-fail-a", ipv4 = "10.79.0.1/24" }}
ends.b = {{ dev = "o7t-fail-b", ipv4 = "10.79.0.2/24" }}
[[steps]]
name = "sleeper"
on = "a"
run = "sleep 600"
background = true
[[steps]]
name = "pids"
on = "a"
run = "ip netns pids ${{system.a.netns}} > {pids}; ip netns pids ${{system.b.netns}} >> {pids}"
[[steps]]
name = "wrong"
on = "b"
run = "echo the output of the failing step; ping -c 1 -W 1 10.79.0.99"
expect = {{ status = "any", stdout_contains = "1 received" }}
[[steps]]
name = "never"
on = "a"
run = "touch {pids}.never"
"#,
            pids = pids.display()
        ),
    );
    let report = Arc::new(Collect::default());
    let mut options = options(&report);
    let instance = format!("failed-step-{}", std::process::id());
    options.instance = Some(instance.clone());
    let err = lab::run(Topology::load(&lab.path).unwrap(), &lab.path, options).unwrap_err();
    let text = report.text();
    match &err {
        LabError::Step { step, system, reason } => {
            assert_eq!((step.as_str(), system.as_deref()), ("wrong", Some("b")), "{err}");
            assert!(reason.contains("does not contain \"1 received\""), "{reason}");
        }
        other => panic!("not a step failure: {other}\n{text}"),
    }
    assert!(text.contains("b/wrong | the output of the failing step"), "{text}");
    assert!(text.contains("FAILED [3/4] b/wrong"), "{text}");
    assert!(!text.contains("[4/4]"), "the scenario stopped at the failure:\n{text}");
    let recorded = pids_in(&pids);
    assert!(
        recorded.len() >= 3,
        "irmds and the sleeper were recorded: {recorded:?}\n{text}"
    );
    assert_gone(&instance, &recorded, "o7t-fail-a");
    assert!(!Path::new(&format!("{}.never", pids.display())).exists());
    let _ = std::fs::remove_file(&pids);
}

#[test]
fn the_same_lab_runs_twice_at_once() {
    if !require_root("the_same_lab_runs_twice_at_once") {
        return;
    }
    let lab = LabFile::new(
        "twice",
        r#"
[systems.a]
[systems.b]
[[links]]
name = "ab"
ends.a = { ipv4 = "10.80.0.1/24" }
ends.b = { ipv4 = "10.80.0.2/24" }
[[steps]]
on = "a"
run = "ping -c 2 -i 0.2 -W 2 ${link.ab.b.ipv4} && echo ${lab.instance}"
expect = { stdout_contains = ["2 received", "${lab.instance}"] }
"#,
    );
    let bins = bin_dir();
    let runs: Vec<_> = (0..2)
        .map(|i| {
            let (path, bins) = (lab.path.clone(), bins.clone());
            std::thread::spawn(move || {
                let report = Arc::new(Collect::default());
                let mut options = Options::new(Arc::clone(&report) as _);
                options.bins = Bins::in_dir(Some(bins));
                options.instance = Some(format!("twice-{}-{i}", std::process::id()));
                lab::run(Topology::load(&path).unwrap(), &path, options).map_err(|e| format!("{e}\n{}", report.text()))
            })
        })
        .collect();
    for run in runs {
        run.join().unwrap().unwrap();
    }
}

/// The o7s-lab binary.
fn o7s_lab() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_o7s-lab"));
    cmd.arg("--bin-dir").arg(bin_dir());
    cmd
}

/// Waits until `f` holds, for at most `timeout`.
fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn cleanup_removes_what_a_killed_o7s_lab_up_left_behind() {
    if !require_root("cleanup_removes_what_a_killed_o7s_lab_up_left_behind") {
        return;
    }
    // An `irm` that takes a minute: o7s-lab up is killed while it runs the
    // setup, with namespaces, links and irmds made.
    let lab = LabFile::new(
        "killed-up",
        r#"
[systems.a]
setup = ["irm ipcp list"]
[systems.b]
[[links]]
ends.a = { dev = "o7t-kill-a" }
ends.b = { dev = "o7t-kill-b" }
"#,
    );
    let bins = lab.dir.join("bin");
    std::fs::create_dir_all(&bins).unwrap();
    std::os::unix::fs::symlink(bin_dir().join("irmd"), bins.join("irmd")).unwrap();
    std::fs::write(bins.join("irm"), "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(bins.join("irm"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let instance = format!("killed-up-{}", std::process::id());
    let mut up = KillOnDrop::spawn(
        Command::new(env!("CARGO_BIN_EXE_o7s-lab"))
            .args(["--bin-dir", bins.to_str().unwrap(), "up", "--instance", &instance])
            .arg(&lab.path)
            .stdout(Stdio::null()),
    )
    .unwrap();
    let dir = Path::new(state::STATE_DIR).join(&instance);
    let setup_running = eventually(Duration::from_secs(20), || {
        state::read(Path::new(state::STATE_DIR), &instance).is_ok_and(|s| {
            s.systems.iter().all(|s| s.irmd_pid.is_some()) && network::netns_pids(&s.systems[0].netns).len() >= 2
        })
    });
    assert!(setup_running, "o7s-lab up never reached its setup");
    up.0.kill().unwrap();
    up.0.wait().unwrap();

    let record = state::read(Path::new(state::STATE_DIR), &instance).unwrap();
    let pids: Vec<u32> = record
        .systems
        .iter()
        .flat_map(|s| network::netns_pids(&s.netns))
        .collect();
    assert!(pids.len() >= 3, "irmds and the slow irm outlived o7s-lab: {pids:?}");
    assert!(dir.exists());

    let out = o7s_lab().arg("cleanup").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("removed instance {instance}")), "{stdout}");
    assert_gone(&instance, &pids, "o7t-kill-a");
}

#[test]
fn a_signal_stops_a_run_and_tears_it_down() {
    if !require_root("a_signal_stops_a_run_and_tears_it_down") {
        return;
    }
    let lab = LabFile::new(
        "signalled",
        r#"
[systems.a]
[[steps]]
name = "server"
on = "a"
run = "sleep 600"
background = true
[[steps]]
sleep = "60s"
"#,
    );
    let instance = format!("signalled-{}", std::process::id());
    let mut run = KillOnDrop::spawn(
        o7s_lab()
            .args(["run", "--instance", &instance])
            .arg(&lab.path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let asleep = eventually(Duration::from_secs(20), || {
        state::read(Path::new(state::STATE_DIR), &instance)
            .is_ok_and(|s| network::netns_pids(&s.systems[0].netns).len() >= 2)
    });
    assert!(asleep, "the lab never came up");
    let pids = network::netns_pids(&state::netns_name(&instance, "a"));
    o7s_netns::signal(run.id(), signal_hook::consts::SIGINT);
    let mut status = None;
    assert!(
        eventually(Duration::from_secs(15), || {
            status = run.0.try_wait().unwrap();
            status.is_some()
        }),
        "o7s-lab run did not stop"
    );
    let status = status.unwrap();
    assert_eq!(status.code(), Some(130), "interrupted exit status");
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_gone(&instance, &pids, "none");
}

const SIGKILL: i32 = 9;

/// The id of the XDP program attached to `dev` in namespace `netns`.
fn xdp_program(netns: &str, dev: &str) -> Option<u32> {
    let out = o7s_netns::ip(&["-n", netns, "-d", "link", "show", "dev", dev]).unwrap();
    let at = out.find("prog/xdp id ")? + "prog/xdp id ".len();
    out[at..].split_whitespace().next()?.parse().ok()
}

/// Whether a BPF program of this id is loaded anywhere on the host.
fn program_loaded(id: u32) -> bool {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .any(|p| p.id() == id)
}

#[test]
fn down_after_the_irmds_crashed_leaves_no_namespace_interface_or_xdp_program() {
    if !require_root("down_after_the_irmds_crashed_leaves_no_namespace_interface_or_xdp_program") {
        return;
    }
    let lab = LabFile::new(
        "crashed",
        r#"
[systems.a]
setup = ["irm ipcp bootstrap type eth-dix name dix.a layer eth dev ${link.ab.a.dev}"]
[systems.b]
setup = ["irm ipcp bootstrap type eth-dix name dix.b layer eth dev ${link.ab.b.dev}"]
[[links]]
name = "ab"
ends.a = { dev = "o7t-crash-a" }
ends.b = { dev = "o7t-crash-b" }
"#,
    );
    let instance = format!("crashed-{}", std::process::id());
    let up = o7s_lab()
        .args(["up", "--instance", &instance])
        .arg(&lab.path)
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    let record = state::read(Path::new(state::STATE_DIR), &instance).unwrap();
    let programs: Vec<u32> = record
        .systems
        .iter()
        .zip(["o7t-crash-a", "o7t-crash-b"])
        .map(|(s, dev)| xdp_program(&s.netns, dev).unwrap_or_else(|| panic!("irmd attached no XDP program to {dev}")))
        .collect();
    assert!(programs.iter().all(|&id| program_loaded(id)), "{programs:?}");

    // The crash: every irmd killed, its XDP programs still attached and
    // its AF_XDP sockets' buffers never returned.
    let irmds: Vec<u32> = record.systems.iter().filter_map(|s| s.irmd_pid).collect();
    assert_eq!(irmds.len(), 2);
    for &pid in &irmds {
        o7s_netns::signal(pid, SIGKILL);
    }
    let pids: Vec<u32> = record
        .systems
        .iter()
        .flat_map(|s| network::netns_pids(&s.netns))
        .chain(irmds)
        .collect();

    let down = o7s_lab()
        .args(["down", "--instance", &instance])
        .arg(&lab.path)
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}{}",
        String::from_utf8_lossy(&down.stdout),
        String::from_utf8_lossy(&down.stderr)
    );
    assert_gone(&instance, &pids, "o7t-crash-a");
    // The kernel frees a program once its last reference goes (the
    // interface, with its namespace), after an RCU grace period.
    assert!(
        eventually(Duration::from_secs(5), || programs
            .iter()
            .all(|&id| !program_loaded(id))),
        "XDP programs {programs:?} still loaded"
    );
}
