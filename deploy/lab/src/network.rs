//! The lab's network: one namespace per system, a veth pair per link with
//! its MTU, addresses and netem, made and removed with iproute2.
//!
//! ```text
//!   o7l-<instance>-a                          o7l-<instance>-b
//!  +------------------+                      +------------------+
//!  | lo               |                      | lo               |
//!  | ab  10.9.0.1/24 ===== veth "ab" ========= ab  10.9.0.2/24 |
//!  |   netem a→b      |                      |   netem b→a      |
//!  +------------------+                      +------------------+
//! ```
//!
//! Each end of a veth pair is made inside its namespace at once (never in
//! the host's), so interface names need only be unique in their system,
//! and deleting the namespaces deletes the links.

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use o7s_netns::{ip, signal, veth_between};

use crate::topology::Link;

/// Makes namespace `name` with its loopback up.
pub fn add_netns(name: &str) -> io::Result<()> {
    ip(&["netns", "add", name])?;
    ip(&["-n", name, "link", "set", "lo", "up"])?;
    Ok(())
}

/// Deletes namespace `name`; one that is already gone is no error.
pub fn del_netns(name: &str) -> io::Result<()> {
    match ip(&["netns", "del", name]) {
        Ok(_) => Ok(()),
        Err(_) if !netns_exists(name) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The namespaces whose names start with `prefix`.
pub fn list_netns(prefix: &str) -> io::Result<Vec<String>> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect())
}

/// Whether namespace `name` exists.
pub fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

/// The processes in namespace `name` (none if it is gone).
pub fn netns_pids(name: &str) -> Vec<u32> {
    if !netns_exists(name) {
        return Vec::new();
    }
    ip(&["netns", "pids", name])
        .map(|out| out.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// Sends `sig` to every process in namespace `name`, then waits up to
/// `timeout` for the namespace to hold none; returns those still there.
pub fn signal_netns(name: &str, sig: i32, timeout: Duration) -> Vec<u32> {
    for pid in netns_pids(name) {
        signal(pid, sig);
    }
    let deadline = Instant::now() + timeout;
    loop {
        let left = netns_pids(name);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tc(args: &[&str]) -> io::Result<()> {
    let out = Command::new("tc").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "tc {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Whether this kernel has netem (`CONFIG_NET_SCH_NETEM`): tried on the
/// loopback of namespace `netns`, and undone.
pub fn has_netem(netns: &str) -> io::Result<bool> {
    match tc(&[
        "-n", netns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "0ms",
    ]) {
        Ok(()) => {
            tc(&["-n", netns, "qdisc", "del", "dev", "lo", "root"])?;
            Ok(true)
        }
        Err(e) if e.to_string().contains("qdisc kind is unknown") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Makes `link` between the namespaces `netns` names for its systems:
/// the pair, MTU, addresses (IPv6 without duplicate address detection, so
/// it is usable at once), netem, both ends up. Returns the ends' MAC
/// addresses.
pub fn add_link(link: &Link, netns: impl Fn(&str) -> String) -> io::Result<Vec<String>> {
    let [a, b] = &link.ends;
    let (ns_a, ns_b) = (netns(&a.system), netns(&b.system));
    veth_between((&ns_a, &a.dev), (&ns_b, &b.dev))?;
    let mut macs = Vec::with_capacity(2);
    for (end, ns) in [(a, &ns_a), (b, &ns_b)] {
        let dev = end.dev.as_str();
        if let Some(mtu) = link.mtu {
            ip(&["-n", ns, "link", "set", dev, "mtu", &mtu.to_string()])?;
        }
        if let Some(v4) = end.ipv4 {
            ip(&["-n", ns, "addr", "add", &v4.to_string(), "dev", dev])?;
        }
        if let Some(v6) = end.ipv6 {
            ip(&["-n", ns, "addr", "add", &v6.to_string(), "dev", dev, "nodad"])?;
        }
        if let Some(netem) = &end.netem {
            let args = netem.tc_args();
            if !args.is_empty() {
                let mut all = vec!["-n", ns, "qdisc", "add", "dev", dev, "root", "netem"];
                all.extend(args.iter().map(String::as_str));
                tc(&all)?;
            }
        }
        ip(&["-n", ns, "link", "set", dev, "up"])?;
        let mac = link_mac(&ip(&["-n", ns, "-o", "link", "show", "dev", dev])?)
            .ok_or_else(|| io::Error::other(format!("no MAC address for {dev} in {ns}")))?;
        macs.push(mac);
    }
    Ok(macs)
}

/// The MAC address in a line of `ip -o link show`.
fn link_mac(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == "link/ether")?;
    words.next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_address_is_read_from_ip_link_output() {
        let line = "7: ab@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc netem state UP mode DEFAULT \
                    group default qlen 1000\\    link/ether 9a:3c:5e:11:22:33 brd ff:ff:ff:ff:ff:ff link-netns o7l-x-b";
        assert_eq!(link_mac(line).as_deref(), Some("9a:3c:5e:11:22:33"));
        assert_eq!(
            link_mac("1: lo: <LOOPBACK> mtu 65536\\    link/loopback 00:00:00:00:00:00"),
            None
        );
    }
}
