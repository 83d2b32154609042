//! Network namespaces and veth pairs for the XDP tests, built with
//! iproute2 and torn down by guards (also when a test panics).
//!
//! Every namespace is named `o7s-t<pid>-<n>-<tag>`, so parallel tests and
//! parallel test binaries never share one; interfaces live only inside
//! them, with addresses from 10.77.0.0/24 and fd77::/64 that reach nothing
//! outside the pair.
#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod sys;

use std::fs::File;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Set to make a missing privilege fail the test instead of skipping it
/// (CI runs as root: there a skip would hide a broken environment).
const REQUIRE_ENV: &str = "O7S_REQUIRE_PRIVILEGED_TESTS";

const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;

/// Whether this process may create namespaces, load BPF and open raw
/// sockets. When not, prints why the test is skipped and returns false.
pub fn privileged(test: &str) -> bool {
    let missing = missing_privileges();
    if missing.is_empty() {
        return true;
    }
    let why = missing.join(", ");
    if std::env::var_os(REQUIRE_ENV).is_some() {
        panic!("{test}: {why} ({REQUIRE_ENV} is set, so this is an error, not a skip)");
    }
    // Written to the stderr fd directly: libtest would swallow `eprintln!`
    // of a passing test, and a skip should be seen.
    let line = format!("SKIPPED {test}: {why}; run the tests as root to exercise XDP on veth pairs\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    false
}

fn missing_privileges() -> Vec<String> {
    let mut missing = Vec::new();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    for (bit, name) in [
        (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
        (CAP_NET_RAW, "CAP_NET_RAW"),
        (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
    ] {
        if cap_eff & (1 << bit) == 0 {
            missing.push(format!("no {name}"));
        }
    }
    if Command::new("ip").arg("-V").output().is_err() {
        missing.push("no `ip` (iproute2)".to_owned());
    }
    missing
}

/// Runs a command, panicking with its output when it fails.
pub fn run(args: &[&str]) -> String {
    let output = output(args);
    assert!(
        output.status.success(),
        "`{}` failed ({}): {}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn output(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", args[0]))
}

/// A network namespace, deleted (with its interfaces) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        remove_stale();
        let name = format!(
            "o7s-t{}-{}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run(&["ip", "netns", "add", &name]);
        let netns = Self { name };
        netns.ip(&["link", "set", "lo", "up"]);
        netns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <this> args...`
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend_from_slice(args);
        run(&full)
    }

    /// `ip netns exec <this> args...`, whatever its exit status.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        output(&full)
    }

    /// Runs `f` on a thread that lives in this namespace: interface names,
    /// sockets and XDP attachments made there all resolve here.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
        thread::scope(|s| {
            let handle = s.spawn(move || {
                sys::enter_netns(&file).unwrap_or_else(|e| panic!("setns into {path}: {e}"));
                f()
            });
            handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// The XDP program on `dev` as `ip -d link` shows it: the mode word of
    /// the first line ("xdp" for native, "xdpgeneric") and the id from
    /// `prog/xdp id N`; None when no program is attached.
    pub fn xdp_on(&self, dev: &str) -> Option<(String, u32)> {
        let text = self.ip(&["-d", "link", "show", "dev", dev]);
        let first_line = text.lines().next().unwrap_or_default();
        let mode = first_line.split_whitespace().find(|w| w.starts_with("xdp"));
        // "prog/xdp id N": the word two after "prog/xdp".
        let id = text.split_whitespace().skip_while(|w| *w != "prog/xdp").nth(2);
        match (mode, id) {
            (None, None) => None,
            (Some(mode), Some(id)) => Some((
                mode.to_owned(),
                id.parse().unwrap_or_else(|_| panic!("bad prog id in: {text}")),
            )),
            _ => panic!("unexpected `ip -d link` output: {text}"),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Not `run`: a panic while unwinding would abort the test binary.
        let out = output(&["ip", "netns", "del", &self.name]);
        if !out.status.success() {
            eprintln!(
                "warning: deleting netns {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Deletes namespaces left by test processes that no longer exist (killed
/// before their guards ran).
fn remove_stale() {
    let list = output(&["ip", "netns", "list"]);
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name.strip_prefix("o7s-t").and_then(|rest| rest.split('-').next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = output(&["ip", "netns", "del", name]);
        }
    }
}

/// Two namespaces joined by a veth pair:
///
/// ```text
///   netns a                          netns b
///   o7s-a  10.77.0.1/24  <~~veth~~>  o7s-b  10.77.0.2/24
///          fd77::1/64                       fd77::2/64
/// ```
#[derive(Debug)]
pub struct VethPair {
    pub a: Netns,
    pub b: Netns,
}

impl VethPair {
    pub const DEV_A: &str = "o7s-a";
    pub const DEV_B: &str = "o7s-b";
    pub const IPV4_A: &str = "10.77.0.1";
    pub const IPV4_B: &str = "10.77.0.2";
    pub const IPV6_A: &str = "fd77::1";
    pub const IPV6_B: &str = "fd77::2";

    pub fn new() -> Self {
        let a = Netns::new("a");
        let b = Netns::new("b");
        a.ip(&[
            "link",
            "add",
            Self::DEV_A,
            "type",
            "veth",
            "peer",
            "name",
            Self::DEV_B,
            "netns",
            b.name(),
        ]);
        for (ns, dev, v4, v6) in [
            (&a, Self::DEV_A, Self::IPV4_A, Self::IPV6_A),
            (&b, Self::DEV_B, Self::IPV4_B, Self::IPV6_B),
        ] {
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", dev]);
            // nodad: usable at once, no 1 s duplicate address detection.
            ns.ip(&["-6", "addr", "add", &format!("{v6}/64"), "dev", dev, "nodad"]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        Self { a, b }
    }
}

/// Polls `f` until it returns true or `timeout` passes; returns the last answer.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// An Ethernet frame: broadcast destination, a fixed local source, the
/// given Ethertype and payload (padded to the 60-byte minimum).
pub fn ethernet_frame(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(60.max(14 + payload.len()));
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0x77, 0x02]);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame.resize(frame.len().max(60), 0);
    frame
}
