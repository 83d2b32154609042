//! Standalone mode: the dataplane as a static router, driven by a TOML file
//! instead of irmd (used by the benchmark and the tests).
//!
//! ```toml
//! address = 0x0A000002          # this member's address in the unicast layer
//! ethertype = 0xA000            # of the eth-dix layer below (default): every Ethernet port's
//! max_ttl = 60                  # the layer's (default 60): more on arrival is refused
//! core = 1                      # index in the core list to pin the worker to (optional)
//! idle = "adaptive"             # or "busy"
//!
//! [pool]                        # optional
//! buffers = 16384
//! buf_size = 2048
//!
//! [[port]]
//! name = "eth1"                 # interface
//! backend = "auto"              # "af_xdp", "af_packet"; auto = AF_XDP, else AF_PACKET
//! xdp_mode = "auto"             # "native", "generic"
//!
//! [[port]]                      # a UDP shim socket (io_uring)
//! name = "udp0"
//! backend = "udp"
//! bind = "192.0.2.1:3435"
//!
//! [[flow]]                      # an N-1 flow to a neighbour
//! name = "to-b"
//! port = "eth1"
//! peer_mac = "02:00:00:00:00:02"  # on UDP ports: peer = "192.0.2.2:3435"
//! rx_eid = 200                  # EID in frames the neighbour sends us on this flow
//! tx_eid = 100                  # EID we put in frames to the neighbour
//! cube = "best"                 # "video", "voice"
//!
//! [[route]]
//! dst = 0x0A000003
//! via = ["to-b"]                # several: ECMP (or LFA with policy = "lfa")
//! cube = "all"                  # or "best", "video", "voice"
//! ```
//!
//! Every mistake is reported with what is wrong and where; nothing is
//! half-applied.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use o7s_wire::dt::DEFAULT_MAX_TTL;
use o7s_wire::eth::{ETHERTYPE_O7S, ETHERTYPE_VALID, MacAddr};
use o7s_wire::qos::QosCube;
use serde::Deserialize;

use crate::worker::Idle;
use o7s_seam::tables::{Encap, EthDixEncap, FlowId, N1Flow, NextHop, Tables, UdpEncap};

/// A configuration problem, naming what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid(msg.into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    #[default]
    Auto,
    AfXdp,
    AfPacket,
    /// The UDP shim over io_uring.
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum XdpMode {
    #[default]
    Auto,
    Native,
    Generic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    pub name: String,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub xdp_mode: XdpMode,
    #[serde(default)]
    pub queue: u32,
    /// Local address and port of a `udp` port.
    pub bind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    pub name: String,
    pub port: String,
    /// The neighbour's MAC, on Ethernet ports.
    pub peer_mac: Option<String>,
    /// The neighbour's address and port, on UDP ports.
    pub peer: Option<String>,
    /// Source MAC of frames we send; the interface's own by default.
    pub local_mac: Option<String>,
    pub rx_eid: u32,
    pub tx_eid: u32,
    #[serde(default = "best")]
    pub cube: String,
    #[serde(default = "yes")]
    pub up: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub dst: u64,
    pub via: Vec<String>,
    #[serde(default = "all")]
    pub cube: String,
    /// "single", "ecmp" or "lfa"; by default single for one next hop and
    /// ECMP for several.
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSection {
    #[serde(default = "default_buffers")]
    pub buffers: u32,
    #[serde(default = "default_buf_size")]
    pub buf_size: usize,
}

fn best() -> String {
    "best".into()
}
fn all() -> String {
    "all".into()
}
fn yes() -> bool {
    true
}
fn default_buffers() -> u32 {
    16384
}
fn default_buf_size() -> usize {
    2048
}
fn default_ethertype() -> u16 {
    ETHERTYPE_O7S
}
fn default_max_ttl() -> u8 {
    DEFAULT_MAX_TTL
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    pub address: u64,
    #[serde(default = "default_ethertype")]
    pub ethertype: u16,
    /// The unicast layer's `max_ttl` (PROTOCOL.md §7.1).
    #[serde(default = "default_max_ttl")]
    pub max_ttl: u8,
    pub core: Option<usize>,
    #[serde(default)]
    pub idle: IdleConfig,
    /// Forward transit packets in the XDP steering program of the AF_XDP
    /// ports (single eth-dix next hops between AF_XDP ports); the rest
    /// still goes through the worker.
    #[serde(default)]
    pub fast_path: bool,
    pub pool: Option<PoolSection>,
    #[serde(default, rename = "port")]
    pub ports: Vec<PortConfig>,
    #[serde(default, rename = "flow")]
    pub flows: Vec<FlowConfig>,
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IdleConfig {
    Busy,
    #[default]
    Adaptive,
}

impl From<IdleConfig> for Idle {
    fn from(i: IdleConfig) -> Idle {
        match i {
            IdleConfig::Busy => Idle::Busy,
            IdleConfig::Adaptive => Idle::Adaptive,
        }
    }
}

fn cube(word: &str, context: &str) -> Result<QosCube, ConfigError> {
    match word {
        "best" | "best_effort" | "0" => Ok(QosCube::BestEffort),
        "video" | "1" => Ok(QosCube::Video),
        "voice" | "2" => Ok(QosCube::Voice),
        _ => invalid(format!("{context}: cube {word:?} is not one of best, video, voice")),
    }
}

impl RouterConfig {
    pub fn load(path: &Path) -> Result<RouterConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        RouterConfig::parse(&text)
    }

    /// Parses and checks a configuration.
    pub fn parse(text: &str) -> Result<RouterConfig, ConfigError> {
        let cfg: RouterConfig = toml::from_str(text)?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.address == 0 || self.address > u64::from(u32::MAX) {
            return invalid(format!(
                "address {:#x}: must be a non-zero 32-bit address",
                self.address
            ));
        }
        if self.max_ttl == 0 {
            return invalid("max_ttl 0: must be 1..=255");
        }
        if !ETHERTYPE_VALID.contains(&self.ethertype) {
            return invalid(format!(
                "ethertype {:#06x}: must be within 0x0600..=0xFFFE",
                self.ethertype
            ));
        }
        let mut ports = HashSet::new();
        let mut udp_ports = HashSet::new();
        for p in &self.ports {
            if p.name.is_empty() || !ports.insert(p.name.as_str()) {
                return invalid(format!("port {:?}: empty or duplicate name", p.name));
            }
            match (&p.backend, &p.bind) {
                (Backend::Udp, Some(bind)) => {
                    bind.parse::<SocketAddr>().map_err(|_| {
                        ConfigError::Invalid(format!("port {:?}: bind {bind:?} is not an address:port", p.name))
                    })?;
                    udp_ports.insert(p.name.as_str());
                }
                (Backend::Udp, None) => {
                    return invalid(format!("port {:?}: a udp port needs bind = \"address:port\"", p.name));
                }
                (_, Some(_)) => return invalid(format!("port {:?}: bind is only for udp ports", p.name)),
                (_, None) => {}
            }
        }
        let mut flows = HashSet::new();
        let mut rx = HashSet::new();
        for f in &self.flows {
            let at = format!("flow {:?}", f.name);
            if !flows.insert(f.name.as_str()) {
                return invalid(format!("{at}: duplicate name"));
            }
            if !ports.contains(f.port.as_str()) {
                return invalid(format!("{at}: port {:?} is not a [[port]]", f.port));
            }
            if udp_ports.contains(f.port.as_str()) {
                let Some(peer) = &f.peer else {
                    return invalid(format!("{at}: a flow on a udp port needs peer = \"address:port\""));
                };
                peer.parse::<SocketAddr>()
                    .map_err(|_| ConfigError::Invalid(format!("{at}: bad peer {peer:?}")))?;
                if f.peer_mac.is_some() || f.local_mac.is_some() {
                    return invalid(format!("{at}: MAC addresses are for Ethernet ports, not udp"));
                }
            } else {
                let Some(mac) = &f.peer_mac else {
                    return invalid(format!("{at}: a flow on an Ethernet port needs peer_mac"));
                };
                mac.parse::<MacAddr>()
                    .map_err(|_| ConfigError::Invalid(format!("{at}: bad peer_mac {mac:?}")))?;
                if let Some(m) = &f.local_mac {
                    m.parse::<MacAddr>()
                        .map_err(|_| ConfigError::Invalid(format!("{at}: bad local_mac {m:?}")))?;
                }
                if f.rx_eid > u32::from(u16::MAX) || f.tx_eid > u32::from(u16::MAX) {
                    return invalid(format!("{at}: eth-dix EIDs are 16 bits"));
                }
                if f.peer.is_some() {
                    return invalid(format!("{at}: peer is for udp ports; use peer_mac"));
                }
            }
            if f.rx_eid == 0 || f.tx_eid == 0 {
                return invalid(format!("{at}: EID 0 is the shim's management EID"));
            }
            if !rx.insert((f.port.as_str(), f.rx_eid)) {
                return invalid(format!("{at}: rx_eid {} already used on port {}", f.rx_eid, f.port));
            }
            cube(&f.cube, &at)?;
        }
        for r in &self.routes {
            let at = format!("route to {:#x}", r.dst);
            if r.via.is_empty() {
                return invalid(format!("{at}: via is empty"));
            }
            if let Some(bad) = r.via.iter().find(|v| !flows.contains(v.as_str())) {
                return invalid(format!("{at}: via {bad:?} is not a [[flow]]"));
            }
            if r.cube != "all" {
                cube(&r.cube, &at)?;
            }
            match r.policy.as_deref() {
                None | Some("ecmp" | "lfa") => {}
                Some("single") if r.via.len() == 1 => {}
                Some(p) => return invalid(format!("{at}: policy {p:?} with {} next hops", r.via.len())),
            }
        }
        Ok(())
    }

    /// Builds the forwarding tables, given the index of each port and a
    /// way to learn an interface's MAC address.
    pub fn tables(
        &self,
        port_index: impl Fn(&str) -> Option<u16>,
        port_mac: impl Fn(&str) -> Option<MacAddr>,
    ) -> Result<Tables, ConfigError> {
        let mut t = Tables {
            address: self.address,
            max_ttl: self.max_ttl,
            ..Tables::default()
        };
        for f in &self.flows {
            let at = format!("flow {:?}", f.name);
            let port = port_index(&f.port).ok_or_else(|| ConfigError::Invalid(format!("{at}: no port {}", f.port)))?;
            let encap = match (&f.peer, &f.peer_mac) {
                (Some(peer), _) => Encap::Udp(UdpEncap {
                    peer: peer
                        .parse()
                        .map_err(|_| ConfigError::Invalid(format!("{at}: bad peer")))?,
                    eid: f.tx_eid,
                }),
                (None, Some(mac)) => {
                    let src = match &f.local_mac {
                        Some(m) => m
                            .parse()
                            .map_err(|_| ConfigError::Invalid(format!("{at}: bad local_mac")))?,
                        None => port_mac(&f.port)
                            .ok_or_else(|| ConfigError::Invalid(format!("{at}: cannot read the MAC of {}", f.port)))?,
                    };
                    let dst = mac
                        .parse()
                        .map_err(|_| ConfigError::Invalid(format!("{at}: bad peer_mac")))?;
                    let eid =
                        u16::try_from(f.tx_eid).map_err(|_| ConfigError::Invalid(format!("{at}: EID over 16 bits")))?;
                    Encap::EthDix(EthDixEncap {
                        dst,
                        src,
                        ethertype: self.ethertype,
                        eid,
                    })
                }
                (None, None) => return invalid(format!("{at}: no peer")),
            };
            let flow = N1Flow {
                name: f.name.clone(),
                port,
                encap,
                cube: cube(&f.cube, &at)?,
                up: f.up,
            };
            t.add_flow(flow, f.rx_eid);
        }
        for r in &self.routes {
            let via: Vec<FlowId> = r.via.iter().filter_map(|v| t.flow_id(v)).collect();
            let hop = match (r.policy.as_deref(), via.as_slice()) {
                (_, [one]) => NextHop::Single(*one),
                (Some("lfa"), [first, rest @ ..]) => NextHop::Lfa {
                    primary: *first,
                    alternates: rest.into(),
                },
                _ => NextHop::Ecmp(via.into()),
            };
            let cubes = if r.cube == "all" {
                vec![QosCube::BestEffort, QosCube::Video, QosCube::Voice]
            } else {
                vec![cube(&r.cube, "route")?]
            };
            for c in cubes {
                t.set_route(c, r.dst, hop.clone());
            }
        }
        Ok(t)
    }
}

/// An interface's MAC address, in the calling thread's namespace.
pub fn interface_mac(name: &str) -> Option<MacAddr> {
    crate::sys::interface_mac(name).ok().map(MacAddr)
}

/// An interface's MTU, in the calling thread's namespace.
pub fn interface_mtu(name: &str) -> Option<usize> {
    crate::sys::interface_mtu(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        address = 0x0A000002
        core = 1
        [[port]]
        name = "r0"
        [[port]]
        name = "r1"
        backend = "af_packet"
        [[flow]]
        name = "to-gen"
        port = "r0"
        peer_mac = "02:00:00:00:00:01"
        rx_eid = 100
        tx_eid = 200
        [[flow]]
        name = "to-sink"
        port = "r1"
        peer_mac = "02:00:00:00:00:03"
        local_mac = "02:00:00:00:00:22"
        rx_eid = 300
        tx_eid = 400
        cube = "video"
        [[route]]
        dst = 0x0A000003
        via = ["to-sink"]
    "#;

    #[test]
    fn the_example_in_deploy_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/static-router.toml");
        let cfg = RouterConfig::load(&path).unwrap();
        assert_eq!((cfg.ports.len(), cfg.flows.len(), cfg.routes.len()), (2, 2, 2));
    }

    #[test]
    fn a_good_file_becomes_tables() {
        let cfg = RouterConfig::parse(GOOD).unwrap();
        assert_eq!(cfg.ports[1].backend, Backend::AfPacket);
        let t = cfg
            .tables(
                |p| cfg.ports.iter().position(|x| x.name == p).map(|i| i as u16),
                |_| Some(MacAddr([2, 0, 0, 0, 0, 0x11])),
            )
            .unwrap();
        assert_eq!(t.address, 0x0A00_0002);
        assert_eq!(t.max_ttl, 60, "the C prototype's default");
        let src = |i: usize| match t.flows[i].encap {
            Encap::EthDix(e) => e.src,
            Encap::EthLlc(_) | Encap::Udp(_) => panic!("eth-dix flow"),
        };
        assert_eq!(src(1), MacAddr([2, 0, 0, 0, 0, 0x22]));
        assert_eq!(t.flows[1].cube, QosCube::Video);
        assert_eq!(src(0), MacAddr([2, 0, 0, 0, 0, 0x11]));
        for c in 0..3 {
            assert_eq!(t.fib[c].get(&0x0A00_0003), Some(&NextHop::Single(1)));
        }
    }

    #[test]
    fn fast_path_is_off_unless_asked_for() {
        assert!(!RouterConfig::parse(GOOD).unwrap().fast_path);
        let on = format!("fast_path = true\n{GOOD}");
        assert!(RouterConfig::parse(&on).unwrap().fast_path);
    }

    #[test]
    fn udp_ports_and_flows_take_socket_addresses() {
        let text = GOOD
            .replace(
                "backend = \"af_packet\"",
                "backend = \"udp\"\nbind = \"127.0.0.1:3435\"",
            )
            .replace(
                "peer_mac = \"02:00:00:00:00:03\"\n        local_mac = \"02:00:00:00:00:22\"",
                "peer = \"127.0.0.2:3435\"",
            );
        let cfg = RouterConfig::parse(&text).unwrap();
        let t = cfg
            .tables(
                |p| cfg.ports.iter().position(|x| x.name == p).map(|i| i as u16),
                |_| Some(MacAddr([2; 6])),
            )
            .unwrap();
        assert_eq!(
            t.flows[1].encap,
            Encap::Udp(UdpEncap {
                peer: "127.0.0.2:3435".parse().unwrap(),
                eid: 400
            })
        );
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                GOOD.replace("address = 0x0A000002", "address = 0"),
                "non-zero 32-bit address",
            ),
            (
                GOOD.replace("via = [\"to-sink\"]", "via = [\"to-mars\"]"),
                "\"to-mars\" is not a [[flow]]",
            ),
            (
                GOOD.replace("port = \"r1\"", "port = \"r9\""),
                "port \"r9\" is not a [[port]]",
            ),
            (GOOD.replace("rx_eid = 300", "rx_eid = 0"), "EID 0"),
            (GOOD.replace("cube = \"video\"", "cube = \"gold\""), "cube \"gold\""),
            (GOOD.replace("02:00:00:00:00:03", "02:00:zz"), "bad peer_mac"),
            (GOOD.replace("rx_eid = 300", "rx_eid = 70000"), "16 bits"),
            (
                GOOD.replace("backend = \"af_packet\"", "backend = \"udp\""),
                "needs bind",
            ),
            (
                GOOD.replace(
                    "backend = \"af_packet\"",
                    "backend = \"udp\"\nbind = \"127.0.0.1:3435\"",
                ),
                "needs peer",
            ),
            (GOOD.replace("core = 1", "core = 1\ncolor = 3"), "unknown field `color`"),
            (GOOD.replace("core = 1", "core = 1\nmax_ttl = 0"), "max_ttl 0"),
            (GOOD.replace("core = 1", "core = 1\nmax_ttl = 256"), "max_ttl"),
            (
                GOOD.replace("backend = \"af_packet\"", "backend = \"dpdk\""),
                "unknown variant `dpdk`",
            ),
            (GOOD.replace("rx_eid = 300", "rx_eid = 100\nport2 = 1"), "unknown field"),
        ];
        for (text, expect) in cases {
            let err = RouterConfig::parse(&text).expect_err(expect).to_string();
            assert!(err.contains(expect), "{err:?} should mention {expect:?}");
        }
    }
}
