//! Whether a test may run here, and what it says when it may not.
//!
//! | check | passes when | used by |
//! |---|---|---|
//! | [`require_root`] | effective uid 0 and iproute2 installed | tests that only build namespaces |
//! | [`require_capabilities`] | the listed capabilities effective and iproute2 installed | tests that also load BPF, open raw or AF_XDP sockets |
//!
//! A check that fails prints `SKIPPED <test>: <why>` and returns false, so
//! the test returns early; with [`REQUIRE_ENV`] set (as `scripts/test` and
//! CI do) it panics instead, so a broken CI machine cannot pass by
//! skipping. [`skip`] is for what no privilege would fix (a kernel without
//! IPv6): it never fails.

use std::process::Command;
use std::sync::OnceLock;

/// Set (as `scripts/test` and CI do) to make a missing privilege fail a
/// test instead of skipping it.
pub const REQUIRE_ENV: &str = "O7S_REQUIRE_PRIVILEGED_TESTS";

/// A Linux capability a test may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Interfaces, addresses, XDP attachment, large socket buffers.
    NetAdmin,
    /// AF_PACKET and AF_XDP sockets.
    NetRaw,
    /// Locking packet memory (UMEM) beyond `RLIMIT_MEMLOCK`.
    IpcLock,
    /// `setns`, `unshare`, and BPF on kernels without `CAP_BPF`.
    SysAdmin,
}

impl Capability {
    /// Its bit in the capability sets (`linux/capability.h`).
    pub const fn bit(self) -> u32 {
        match self {
            Capability::NetAdmin => 12,
            Capability::NetRaw => 13,
            Capability::IpcLock => 14,
            Capability::SysAdmin => 21,
        }
    }

    /// Its name as the kernel documents it, `CAP_NET_ADMIN` and so on.
    pub const fn name(self) -> &'static str {
        match self {
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::NetRaw => "CAP_NET_RAW",
            Capability::IpcLock => "CAP_IPC_LOCK",
            Capability::SysAdmin => "CAP_SYS_ADMIN",
        }
    }

    /// Whether the calling thread holds it in its effective set.
    pub fn is_effective(self) -> bool {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
        effective_set(&status) & (1 << self.bit()) != 0
    }
}

/// The `CapEff:` mask of a `/proc/<pid>/status` text; none if it is missing.
fn effective_set(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0)
}

/// Whether this process can build namespaces: root and iproute2. When it
/// cannot, says why and returns false, or panics if [`REQUIRE_ENV`] is set.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    let missing = [(!root).then_some("root"), (!has_iproute2()).then_some(IPROUTE2)];
    require(test, missing.into_iter().flatten())
}

/// Whether the calling thread holds every capability in `needs` and
/// iproute2 is installed: for tests that load BPF or open raw sockets, and
/// that may run with capabilities but without uid 0. When not, says which
/// are missing and returns false, or panics if [`REQUIRE_ENV`] is set.
pub fn require_capabilities(test: &str, needs: &[Capability]) -> bool {
    let missing = needs.iter().filter(|c| !c.is_effective()).map(|c| c.name());
    require(test, missing.chain((!has_iproute2()).then_some(IPROUTE2)))
}

const IPROUTE2: &str = "iproute2's `ip`";

fn has_iproute2() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success()))
}

fn require<'a>(test: &str, missing: impl Iterator<Item = &'a str>) -> bool {
    let missing: Vec<&str> = missing.collect();
    if missing.is_empty() {
        return true;
    }
    skip_or_fail(test, &format!("needs {} (CI runs as root)", missing.join(", ")));
    false
}

/// Reports that `test` lacks a privilege it needs: a panic if
/// [`REQUIRE_ENV`] is set, else a skip (see [`skip`]).
pub fn skip_or_fail(test: &str, why: &str) {
    report(test, why, std::env::var_os(REQUIRE_ENV).is_some());
}

/// Reports that `test` does not run here for a reason no privilege would
/// fix (a kernel feature this machine lacks): `SKIPPED <test>: <why>`,
/// written straight to stderr, since libtest hides what a passing test
/// prints with `eprintln!`.
pub fn skip(test: &str, why: &str) {
    let line = format!("SKIPPED {test}: {why}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

fn report(test: &str, why: &str, required: bool) {
    assert!(
        !required,
        "{test}: {why}; {REQUIRE_ENV} is set, so this fails instead of skipping"
    );
    skip(test, why);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_set_is_read_from_the_status_text() {
        let status = "Name:\tt\nCapInh:\t0000000000000000\nCapEff:\t0000000000203000\nCapBnd:\t000001ffffffffff\n";
        let set = effective_set(status);
        assert_eq!(set, 0x20_3000);
        for cap in [Capability::NetAdmin, Capability::NetRaw, Capability::SysAdmin] {
            assert_ne!(set & (1 << cap.bit()), 0, "{}", cap.name());
        }
        assert_eq!(set & (1 << Capability::IpcLock.bit()), 0);
        assert_eq!(effective_set("Name:\tt\n"), 0, "no line, no capabilities");
    }

    #[test]
    fn root_holds_every_capability_the_tests_ask_for() {
        if !require_root("root_holds_every_capability_the_tests_ask_for") {
            return;
        }
        let all = [
            Capability::NetAdmin,
            Capability::NetRaw,
            Capability::IpcLock,
            Capability::SysAdmin,
        ];
        assert!(all.iter().all(|c| c.is_effective()));
        assert!(require_capabilities(
            "root_holds_every_capability_the_tests_ask_for",
            &all
        ));
    }

    #[test]
    #[should_panic(expected = "is set, so this fails instead of skipping")]
    fn a_missing_privilege_fails_when_privileged_tests_are_required() {
        report("t", "needs root", true);
    }
}
