//! Test hosts for o7s: network namespaces joined by veth pairs, built with
//! iproute2 and removed when dropped (also when a test panics).
//!
//! ```text
//!   let gen = Netns::new("gen")?;   let rtr = Netns::new("rtr")?;
//!   veth((&gen, "g0"), (&rtr, "r0"))?;        // gen:g0 <──veth──> rtr:r0
//!   rtr.enter(|| { /* sockets, AF_XDP, XDP attach happen in rtr */ })
//! ```
//!
//! | what | for |
//! |---|---|
//! | [`Netns`], [`veth`] | named namespaces joined by veth pairs, deleted on drop |
//! | [`veth_between`] | a veth pair between namespaces known by name only |
//! | [`Netns::enter`], [`Netns::join_current_thread`], [`join_named`] | code that opens sockets or attaches programs inside one |
//! | [`remove_stale`] | namespaces left by test runs that were killed |
//! | [`in_private_netns`], [`LocalVeth`] | a nameless namespace that only one thread sees |
//! | [`PacketSocket`] | raw frames of one Ethertype into and out of an interface |
//! | [`require_root`], [`require_capabilities`] | skip with a message without privileges, fail under [`REQUIRE_ENV`] |
//! | [`pcap`] | reading and writing classic pcap files of Ethernet frames |
//! | [`workspace_bin`], [`KillOnDrop`] | another package's binary for an end-to-end test; children that die with the test |
//! | [`signal`], [`signal_group`] | a signal to a process, or to every process of a group |
//!
//! Traffic stays between the namespaces a test made. Everything here needs
//! root (CAP_SYS_ADMIN, CAP_NET_ADMIN); CI runs as root.
#![allow(unsafe_code)]

mod bins;
mod packet;
pub mod pcap;
mod private;
mod privilege;

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

pub use bins::{KillOnDrop, signal, signal_group, workspace_bin};
pub use packet::{PacketSocket, ifindex};
pub use private::{LocalVeth, in_private_netns};
pub use privilege::{Capability, REQUIRE_ENV, require_capabilities, require_root, skip, skip_or_fail};

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
    /// unique per process and call. The first call in a process removes
    /// the namespaces of earlier processes that were killed ([`remove_stale`]).
    pub fn new(role: &str) -> io::Result<Netns> {
        static N: AtomicU32 = AtomicU32::new(0);
        static SWEEP: Once = Once::new();
        SWEEP.call_once(|| {
            if let Err(e) = remove_stale() {
                eprintln!("warning: could not look for stale namespaces: {e}");
            }
        });
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
    /// namespace's. The calling thread is not moved. A panic in `f` is
    /// resumed on the calling thread; the error is for a namespace that
    /// could not be joined.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                join_named(&self.name)?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
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
    let path = format!("/run/netns/{name}");
    let file = std::fs::File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("opening {path}: {e}")))?;
    // SAFETY: setns on an fd we own for the call's duration; it changes only
    // the calling thread's network namespace, which the caller asked for.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Deletes the namespaces that [`Netns::new`] made in processes that no
/// longer exist (killed before their guards ran) and returns their names.
/// Namespaces of live processes, and names not of that form, are kept.
pub fn remove_stale() -> io::Result<Vec<String>> {
    let list = ip(&["netns", "list"])?;
    let mut removed = Vec::new();
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let dead = creator(name).is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        // Another process sweeping at the same time may have got there first.
        if dead && ip(&["netns", "del", name]).is_ok() {
            removed.push(name.to_owned());
        }
    }
    Ok(removed)
}

/// The process id in a name [`Netns::new`] made, `o7s-<role>-<pid>-<n>`.
fn creator(name: &str) -> Option<u32> {
    let mut parts = name.strip_prefix("o7s-")?.rsplitn(3, '-');
    let (n, pid, role) = (parts.next()?, parts.next()?, parts.next()?);
    if role.is_empty() || n.parse::<u32>().is_err() {
        return None;
    }
    pid.parse().ok()
}

/// A veth pair `a.0:a.1 <-> b.0:b.1`, both ends up. It disappears with
/// either namespace. Both ends may be in the same namespace.
pub fn veth(a: (&Netns, &str), b: (&Netns, &str)) -> io::Result<()> {
    veth_between((a.0.name(), a.1), (b.0.name(), b.1))?;
    a.0.run("ip", &["link", "set", a.1, "up"])?;
    b.0.run("ip", &["link", "set", b.1, "up"])?;
    Ok(())
}

/// A veth pair between the namespaces called `a.0` and `b.0` (by name, for
/// namespaces that outlive this process), ends `a.1` and `b.1`, both down.
/// Each end is made in its namespace directly, so the names never meet in
/// the caller's namespace and need only be unique in their own.
pub fn veth_between(a: (&str, &str), b: (&str, &str)) -> io::Result<()> {
    ip(&[
        "link", "add", a.1, "netns", a.0, "type", "veth", "peer", "name", b.1, "netns", b.0,
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        assert!(!listed(&name), "namespace removed on drop");
    }

    /// Whether `ip netns list` shows a namespace called `name`.
    fn listed(name: &str) -> bool {
        let list = ip(&["netns", "list"]).unwrap();
        list.lines().any(|l| l.split_whitespace().next() == Some(name))
    }

    #[test]
    fn a_panic_inside_a_namespace_reaches_the_caller_with_its_message() {
        if !require_root("a_panic_inside_a_namespace_reaches_the_caller_with_its_message") {
            return;
        }
        let ns = Netns::new("panic").unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ns.enter(|| panic!("raised inside the namespace"))
        }));
        let payload = caught.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"raised inside the namespace"));
        assert_eq!(ns.enter(|| 7).unwrap(), 7, "the namespace is still usable");
    }

    #[test]
    fn the_creating_process_is_read_back_from_a_namespace_name() {
        assert_eq!(creator("o7s-gen-4242-0"), Some(4242));
        assert_eq!(creator("o7s-sink-a-17-3"), Some(17), "a role may hold dashes");
        for foreign in ["o7s-4242-0", "o7s-gen-x-0", "o7s-gen-4242-", "xyz-gen-4242-0", "o7s"] {
            assert_eq!(creator(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn namespaces_of_dead_processes_are_swept_and_others_kept() {
        if !require_root("namespaces_of_dead_processes_are_swept_and_others_kept") {
            return;
        }
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        // Whatever stops this test before the sweep, the next sweep removes it.
        let stale = format!("o7s-stale-{dead}-0");
        ip(&["netns", "add", &stale]).unwrap();
        let kept = [
            format!("o7s-live-{}-4000000000", std::process::id()),
            "o7s-foreign".to_owned(),
        ];
        let _guards: Vec<Netns> = kept
            .iter()
            .map(|name| {
                ip(&["netns", "add", name]).unwrap();
                Netns { name: name.clone() }
            })
            .collect();

        let removed = remove_stale().unwrap();
        // Another test may have swept it first: what counts is that it is gone.
        assert!(!listed(&stale), "{stale} is gone (this sweep removed {removed:?})");
        for name in &kept {
            assert!(listed(name), "{name} is kept");
            assert!(!removed.contains(name), "{name} is not reported");
        }
    }

    #[test]
    fn a_packet_socket_sends_whole_frames_and_receives_only_its_ethertype() {
        if !require_root("a_packet_socket_sends_whole_frames_and_receives_only_its_ethertype") {
            return;
        }
        let a = Netns::new("pkt").unwrap();
        let b = Netns::new("pkt").unwrap();
        veth((&a, "pa"), (&b, "pb")).unwrap();
        let sender = a.enter(|| PacketSocket::bind("pa", 0x88b5)).unwrap().unwrap();
        let wanted = b.enter(|| PacketSocket::bind("pb", 0x88b5)).unwrap().unwrap();
        let other = b.enter(|| PacketSocket::bind("pb", 0x88b6)).unwrap().unwrap();

        let mut frame = vec![0xff; 6];
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0x77, 0x01]);
        frame.extend_from_slice(&0x88b5u16.to_be_bytes());
        frame.extend_from_slice(b"o7s packet socket test");
        frame.resize(60, 0);
        sender.send_retrying(&frame).unwrap();

        let mut buf = [0u8; 2048];
        let len = wanted.recv_timeout(&mut buf, Duration::from_secs(2)).unwrap();
        assert_eq!(len.map(|n| &buf[..n]), Some(&frame[..]), "the frame arrives unchanged");
        assert_eq!(wanted.try_recv(&mut buf).unwrap(), None, "once");
        assert_eq!(
            other.recv_timeout(&mut buf, Duration::from_millis(100)).unwrap(),
            None,
            "not on a socket bound to another Ethertype"
        );
        let missing = a.enter(|| ifindex("pb")).unwrap().unwrap_err();
        assert!(missing.to_string().contains("no interface pb"), "{missing}");
    }

    #[test]
    fn a_private_namespace_and_its_veth_belong_to_one_thread() {
        if !require_capabilities(
            "a_private_namespace_and_its_veth_belong_to_one_thread",
            &[Capability::SysAdmin, Capability::NetAdmin],
        ) {
            return;
        }
        let here = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let (there, with_veth, without) = in_private_netns(|| {
            let net_dev = || std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
            let veth = LocalVeth::new("o7s-pva", "o7s-pvb").unwrap();
            assert_eq!((veth.a(), veth.b()), ("o7s-pva", "o7s-pvb"));
            let with_veth = net_dev();
            drop(veth);
            (
                std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
                with_veth,
                net_dev(),
            )
        })
        .unwrap();
        assert_ne!(here, there, "the thread ran in a namespace of its own");
        assert!(
            ["lo:", "o7s-pva:", "o7s-pvb:"].iter().all(|i| with_veth.contains(i)),
            "{with_veth}"
        );
        assert!(!without.contains("o7s-pv"), "deleted on drop: {without}");

        let caught = std::panic::catch_unwind(|| in_private_netns(|| panic!("raised in private")));
        let payload = caught.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"raised in private"));
    }
}
