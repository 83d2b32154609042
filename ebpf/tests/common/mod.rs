//! The XDP tests' hosts: namespaces and veth pairs from o7s-netns (deleted
//! by their guards, also when a test panics), addressed from 10.77.0.0/24
//! and fd77::/64 so that traffic reaches nothing outside the pair.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::thread;
use std::time::{Duration, Instant};

use o7s_netns::{Capability, Netns, veth};

/// Whether this process may create namespaces, load BPF and open raw
/// sockets. When not, prints why the test is skipped and returns false
/// (or fails, when privileged tests are required).
pub fn privileged(test: &str) -> bool {
    o7s_netns::require_capabilities(test, &[Capability::NetAdmin, Capability::NetRaw, Capability::SysAdmin])
}

/// The XDP program on `dev` in `netns` as `ip -d link` shows it: the mode
/// word of the first line ("xdp" for native, "xdpgeneric") and the id from
/// `prog/xdp id N`; None when no program is attached.
pub fn xdp_on(netns: &Netns, dev: &str) -> Option<(String, u32)> {
    let text = netns
        .run("ip", &["-d", "link", "show", "dev", dev])
        .unwrap_or_else(|e| panic!("{e}"));
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
        let a = Netns::new("xdp-a").expect("namespace a");
        let b = Netns::new("xdp-b").expect("namespace b");
        veth((&a, Self::DEV_A), (&b, Self::DEV_B)).expect("veth pair");
        for (ns, dev, v4, v6) in [
            (&a, Self::DEV_A, Self::IPV4_A, Self::IPV6_A),
            (&b, Self::DEV_B, Self::IPV4_B, Self::IPV6_B),
        ] {
            ns.run("ip", &["addr", "add", &format!("{v4}/24"), "dev", dev])
                .expect("IPv4 address");
            // nodad: usable at once, no 1 s duplicate address detection.
            ns.run("ip", &["-6", "addr", "add", &format!("{v6}/64"), "dev", dev, "nodad"])
                .expect("IPv6 address");
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
    ethernet_frame_to([0xff; 6], ethertype, payload)
}

/// [`ethernet_frame`] to `dst`.
pub fn ethernet_frame_to(dst: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(60.max(14 + payload.len()));
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0x77, 0x02]);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame.resize(frame.len().max(60), 0);
    frame
}
