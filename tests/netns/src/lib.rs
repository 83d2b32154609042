//! Test hosts for o7s: network namespaces joined by veth pairs, built with
//! iproute2 and removed when dropped (also when a test panics).
//!
//! ```text
//!   let gen = Netns::new("gen")?;   let rtr = Netns::new("rtr")?;
//!   veth((&gen, "g0"), (&rtr, "r0"))?;        // gen:g0 <──veth──> rtr:r0
//!   rtr.enter(|| { /* sockets, AF_XDP, XDP attach happen in rtr */ })
//! ```
//!
//! Traffic stays between the namespaces a test made. Everything here needs
//! root (CAP_SYS_ADMIN, CAP_NET_ADMIN); [`require_root`] lets a test skip
//! with a message elsewhere. CI runs as root.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Set (as `scripts/test` and CI do) to make a missing privilege fail a
/// test instead of skipping it, so a broken CI machine cannot pass by
/// skipping.
pub const REQUIRE_ENV: &str = "O7S_REQUIRE_PRIVILEGED_TESTS";

/// Whether this process can build namespaces. When it cannot, prints why
/// (straight to stderr: libtest hides a passing test's output) and returns
/// false, or panics if [`REQUIRE_ENV`] is set.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        let why = "needs root for network namespaces (CI runs as root)";
        if std::env::var_os(REQUIRE_ENV).is_some() {
            panic!("{test}: {why}; {REQUIRE_ENV} is set, so this fails instead of skipping");
        }
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("SKIPPED {test}: {why}\n").as_bytes());
    }
    root
}

fn check(what: &str, out: Output) -> io::Result<String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Runs `ip` with `args`.
pub fn ip(args: &[&str]) -> io::Result<String> {
    check(
        &format!("ip {}", args.join(" ")),
        Command::new("ip").args(args).output()?,
    )
}

/// A network namespace, deleted on drop (with every interface in it).
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// A new, empty namespace with loopback up. The name is `o7s-<role>-<pid>-<n>`,
    /// unique per process and call.
    pub fn new(role: &str) -> io::Result<Netns> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "o7s-{role}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.run("ip", &["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a command inside the namespace and returns its standard output.
    pub fn run(&self, program: &str, args: &[&str]) -> io::Result<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()?;
        check(&format!("{program} {} in {}", args.join(" "), self.name), out)
    }

    /// A command that will run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `f` on a new thread that has joined this namespace: sockets it
    /// opens, interfaces it names and programs it attaches are this
    /// namespace's. The calling thread is not moved.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        let file = std::fs::File::open(format!("/run/netns/{}", self.name))?;
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on an fd we own for the call's duration; it
                // changes only this (new) thread's network namespace.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(f())
            })
            .join()
            .map_err(|_| io::Error::other(format!("thread in {} panicked", self.name)))?
        })
    }

    /// Joins the calling thread to this namespace for good. For threads a
    /// caller spawns itself (long-running workers).
    pub fn join_current_thread(&self) -> io::Result<()> {
        join_named(&self.name)
    }

    /// The MAC address of an interface in this namespace.
    pub fn mac(&self, ifname: &str) -> io::Result<String> {
        Ok(self
            .run("cat", &[&format!("/sys/class/net/{ifname}/address")])?
            .trim()
            .to_string())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("warning: could not remove namespace {}: {e}", self.name);
        }
    }
}

/// Joins the calling thread to the namespace called `name` (as
/// [`Netns::name`] gives it), for threads that cannot borrow the `Netns`.
pub fn join_named(name: &str) -> io::Result<()> {
    let file = std::fs::File::open(format!("/run/netns/{name}"))?;
    // SAFETY: setns on an fd we own for the call's duration; it changes only
    // the calling thread's network namespace, which the caller asked for.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A veth pair `a.0:a.1 <-> b.0:b.1`, both ends up. It disappears with
/// either namespace.
pub fn veth(a: (&Netns, &str), b: (&Netns, &str)) -> io::Result<()> {
    ip(&[
        "link",
        "add",
        a.1,
        "netns",
        a.0.name(),
        "type",
        "veth",
        "peer",
        "name",
        b.1,
        "netns",
        b.0.name(),
    ])?;
    a.0.run("ip", &["link", "set", a.1, "up"])?;
    b.0.run("ip", &["link", "set", b.1, "up"])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_veths_come_and_go() {
        if !require_root("namespaces_and_veths_come_and_go") {
            return;
        }
        let name;
        {
            let a = Netns::new("t").unwrap();
            let b = Netns::new("t").unwrap();
            name = a.name().to_string();
            veth((&a, "ta"), (&b, "tb")).unwrap();
            a.run("ip", &["addr", "add", "10.200.0.1/24", "dev", "ta"]).unwrap();
            b.run("ip", &["addr", "add", "10.200.0.2/24", "dev", "tb"]).unwrap();
            a.run("ping", &["-c", "1", "-W", "2", "10.200.0.2"]).unwrap();
            let seen = a
                .enter(|| std::fs::read_to_string("/proc/thread-self/net/dev").unwrap())
                .unwrap();
            assert!(
                seen.contains("ta:") && !seen.contains("tb:"),
                "thread saw namespace a's interfaces"
            );
            assert_eq!(a.mac("ta").unwrap().len(), 17);
        }
        assert!(
            !ip(&["netns", "list"]).unwrap().contains(&name),
            "namespace removed on drop"
        );
    }
}
