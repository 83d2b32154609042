//! The three namespaces and what each forwarder needs set in them; every
//! change is a guard that undoes itself on drop (on error and Ctrl-C too).
//!
//! ```text
//!   gen                      rtr                          snk
//!   g0 10.77.1.1 ~~veth~~ r0 10.77.1.2 | r1 10.77.2.1 ~~veth~~ s0 10.77.2.2
//!   o7s address -            0x0A4D0001                   0x0A4D0002
//! ```
//!
//! IPv6 is off in all three, so that no router solicitation or neighbour
//! discovery frame is counted by a sink.

use std::collections::BTreeSet;
use std::io;
use std::process::Command;
use std::sync::Arc;

use o7s_netns::{Netns, veth};
use o7s_wire::eth::MacAddr;

/// The generator's IPv4 address (on g0).
pub const GEN_IP: [u8; 4] = [10, 77, 1, 1];
pub const R0_IP: [u8; 4] = [10, 77, 1, 2];
pub const R1_IP: [u8; 4] = [10, 77, 2, 1];
/// The sink's IPv4 address (on s0), where the kernel forwards to.
pub const SINK_IP: [u8; 4] = [10, 77, 2, 2];
/// The router's address in the o7s unicast layer.
pub const ROUTER_ADDR: u64 = 0x0A4D_0001;
/// The sink's address in the o7s unicast layer, where ours forwards to.
pub const SINK_ADDR: u64 = 0x0A4D_0002;

/// Role names of the namespaces (`o7s-<role>-<pid>-<n>`).
const ROLES: [&str; 3] = ["gen", "rtr", "snk"];

fn dotted(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

/// The topology, removed on drop (deleting a namespace deletes its veths).
/// The namespaces are shared with the traffic threads only while they join.
#[derive(Debug)]
pub struct Lab {
    pub generator: Arc<Netns>,
    pub router: Arc<Netns>,
    pub sink: Arc<Netns>,
    pub g0: MacAddr,
    pub r0: MacAddr,
    pub s0: MacAddr,
}

impl Lab {
    pub fn build() -> io::Result<Lab> {
        let generator = Netns::new("gen")?;
        let router = Netns::new("rtr")?;
        let sink = Netns::new("snk")?;
        for ns in [&generator, &router, &sink] {
            // Before the veths exist, so that they never get an IPv6 address.
            write_sysctl(ns, "net/ipv6/conf/all/disable_ipv6", "1")?;
            write_sysctl(ns, "net/ipv6/conf/default/disable_ipv6", "1")?;
        }
        veth((&generator, "g0"), (&router, "r0"))?;
        veth((&router, "r1"), (&sink, "s0"))?;
        for (ns, dev, ip) in [
            (&generator, "g0", GEN_IP),
            (&router, "r0", R0_IP),
            (&router, "r1", R1_IP),
            (&sink, "s0", SINK_IP),
        ] {
            ns.run("ip", &["addr", "add", &format!("{}/24", dotted(ip)), "dev", dev])?;
        }
        let mac = |ns: &Netns, dev: &str| -> io::Result<MacAddr> {
            let text = ns.mac(dev)?;
            text.parse()
                .map_err(|_| io::Error::other(format!("{dev} in {}: MAC address {text:?}", ns.name())))
        };
        Ok(Lab {
            g0: mac(&generator, "g0")?,
            r0: mac(&router, "r0")?,
            s0: mac(&sink, "s0")?,
            generator: Arc::new(generator),
            router: Arc::new(router),
            sink: Arc::new(sink),
        })
    }

    /// The XDP program on `dev` in rtr or snk as `ip -d link` shows it:
    /// "native", "generic", or None.
    pub fn xdp_mode(ns: &Netns, dev: &str) -> Option<&'static str> {
        let text = ns.run("ip", &["-d", "link", "show", "dev", dev]).ok()?;
        let first = text.lines().next().unwrap_or_default();
        if first.contains(" xdpgeneric") {
            Some("generic")
        } else if first.contains(" xdp ") || text.contains("prog/xdp") {
            Some("native")
        } else {
            None
        }
    }
}

/// Frames the veths dropped so far, by where: g0 tx, r0 rx, r1 tx, s0 rx
/// (a veth counts a frame its full peer ring refused as a tx drop of the
/// sender; XDP_DROP is not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VethDrops(pub [u64; 4]);

impl VethDrops {
    pub const PLACES: [&str; 4] = ["g0 tx", "r0 rx", "r1 tx", "s0 rx"];

    pub fn read(lab: &Lab) -> VethDrops {
        let read = |ns: &Netns, files: &[String]| -> Vec<u64> {
            let args: Vec<&str> = files.iter().map(String::as_str).collect();
            ns.run("cat", &args)
                .map(|t| t.lines().map(|l| l.trim().parse().unwrap_or(0)).collect())
                .unwrap_or_default()
        };
        let stat = |dev: &str, what: &str| format!("/sys/class/net/{dev}/statistics/{what}_dropped");
        let g = read(&lab.generator, &[stat("g0", "tx")]);
        let r = read(&lab.router, &[stat("r0", "rx"), stat("r1", "tx")]);
        let k = read(&lab.sink, &[stat("s0", "rx")]);
        let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
        VethDrops([at(&g, 0), at(&r, 0), at(&r, 1), at(&k, 0)])
    }

    /// What was dropped between `self` and `later`, in words ("" if nothing).
    pub fn words_until(&self, later: &VethDrops) -> String {
        Self::PLACES
            .iter()
            .zip(self.0.iter().zip(later.0))
            .filter(|(_, (a, b))| b > *a)
            .map(|(place, (a, b))| format!("{place} {}", b - a))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Writes `/proc/sys/<key>` inside `ns` (network sysctls are per namespace).
fn write_sysctl(ns: &Netns, key: &str, value: &str) -> io::Result<()> {
    let path = format!("/proc/sys/{key}");
    ns.enter(|| std::fs::write(&path, value))?
        .map_err(|e| io::Error::other(format!("writing {value} to {path} in {}: {e}", ns.name())))
}

/// Writes a file of `/sys/class/net/<dev>/` as seen inside `ns` (sysfs is
/// per namespace only for processes that mounted it there, so this goes
/// through `ip netns exec`, which does).
fn write_sysfs(ns: &Netns, dev: &str, file: &str, value: &str) -> io::Result<()> {
    ns.run("sh", &["-c", &format!("echo {value} > /sys/class/net/{dev}/{file}")])
        .map(drop)
}

/// Deletes the namespaces of earlier runs whose process is gone (killed
/// before its guards ran, or stopped by a second Ctrl-C).
pub fn remove_stale() {
    let Ok(list) = o7s_netns::ip(&["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let mut parts = name.split('-');
        let (Some("o7s"), Some(role), Some(pid)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let dead = pid
            .parse::<u32>()
            .is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
        if ROLES.contains(&role) && dead {
            println!("  removing namespace {name} left by a run that no longer exists");
            let _ = o7s_netns::ip(&["netns", "del", name]);
        }
    }
}

/// Linux IPv4 forwarding on in rtr, with the sink's address resolved
/// statically (no ARP in the measured path); off again on drop.
#[derive(Debug)]
pub struct KernelForwarding<'a> {
    router: &'a Netns,
}

impl<'a> KernelForwarding<'a> {
    pub fn enable(lab: &'a Lab) -> io::Result<KernelForwarding<'a>> {
        let guard = KernelForwarding { router: &lab.router };
        write_sysctl(&lab.router, "net/ipv4/ip_forward", "1")?;
        lab.router.run(
            "ip",
            &[
                "neigh",
                "replace",
                &dotted(SINK_IP),
                "lladdr",
                &lab.s0.to_string(),
                "dev",
                "r1",
                "nud",
                "permanent",
            ],
        )?;
        Ok(guard)
    }
}

impl Drop for KernelForwarding<'_> {
    fn drop(&mut self) {
        let _ = write_sysctl(self.router, "net/ipv4/ip_forward", "0");
        let _ = self.router.run("ip", &["neigh", "del", &dotted(SINK_IP), "dev", "r1"]);
    }
}

/// Receive packet steering on `dev`'s only rx queue: the kernel's receive
/// processing of its frames (IP forwarding included) moves to `cpu`,
/// instead of running in the softirq of the sending CPU; off on drop.
#[derive(Debug)]
pub struct Rps<'a> {
    ns: &'a Netns,
    dev: &'static str,
}

impl<'a> Rps<'a> {
    pub fn steer(ns: &'a Netns, dev: &'static str, cpu: usize) -> io::Result<Rps<'a>> {
        write_sysfs(ns, dev, "queues/rx-0/rps_cpus", &cpu_mask(cpu))?;
        Ok(Rps { ns, dev })
    }
}

impl Drop for Rps<'_> {
    fn drop(&mut self) {
        let _ = write_sysfs(self.ns, self.dev, "queues/rx-0/rps_cpus", "0");
    }
}

/// The hexadecimal CPU mask sysfs takes, in 32-bit groups separated by commas.
fn cpu_mask(cpu: usize) -> String {
    let groups = cpu / 32 + 1;
    (0..groups)
        .rev()
        .map(|g| format!("{:08x}", if g == cpu / 32 { 1u32 << (cpu % 32) } else { 0 }))
        .collect::<Vec<_>>()
        .join(",")
}

/// A veth's receive NAPI (where its XDP program runs) in a kernel thread of
/// its own, pinned to `cpu`, instead of the softirq of whichever CPU sent
/// the frame into the veth. Needs an XDP program on the device (that is
/// when veth has a NAPI instance); back to softirq on drop, which must
/// come before the program is detached.
#[derive(Debug)]
pub struct ThreadedNapi<'a> {
    ns: &'a Netns,
    dev: &'static str,
    pid: u32,
}

impl<'a> ThreadedNapi<'a> {
    pub fn pin(ns: &'a Netns, dev: &'static str, cpu: usize) -> io::Result<ThreadedNapi<'a>> {
        let before = napi_threads(dev);
        write_sysfs(ns, dev, "threaded", "1")
            .map_err(|e| io::Error::other(format!("threaded NAPI on {dev} (is an XDP program attached?): {e}")))?;
        let mut guard = ThreadedNapi { ns, dev, pid: 0 };
        let new: Vec<u32> = napi_threads(dev).difference(&before).copied().collect();
        let [pid] = new[..] else {
            return Err(io::Error::other(format!(
                "threaded NAPI on {dev}: expected one new napi/{dev}-* kernel thread, found {new:?}"
            )));
        };
        let out = Command::new("taskset")
            .args(["-p", "-c", &cpu.to_string(), &pid.to_string()])
            .output()
            .map_err(|e| io::Error::other(format!("running taskset (util-linux): {e}")))?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "taskset -p -c {cpu} {pid}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        tracing::info!(dev, pid, cpu, "NAPI thread pinned");
        guard.pid = pid;
        Ok(guard)
    }
}

impl ThreadedNapi<'_> {
    /// The `stat` file of the NAPI kernel thread.
    pub fn stat_path(&self) -> String {
        format!("/proc/{}/stat", self.pid)
    }
}

impl Drop for ThreadedNapi<'_> {
    fn drop(&mut self) {
        let _ = write_sysfs(self.ns, self.dev, "threaded", "0");
    }
}

/// Pids of the kernel threads named `napi/<dev>-<id>` (in any namespace:
/// kernel threads have no network namespace, hence the before/after diff).
fn napi_threads(dev: &str) -> BTreeSet<u32> {
    let prefix = format!("napi/{dev}-");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.starts_with(&prefix)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_masks_are_hex_in_32_bit_groups() {
        assert_eq!(cpu_mask(0), "00000001");
        assert_eq!(cpu_mask(1), "00000002");
        assert_eq!(cpu_mask(33), "00000002,00000000");
    }
}
