//! [`Steering`]: the `o7s_steer` program on an o7s port, which hands o7s
//! frames to the AF_XDP socket of the rx queue they arrived on and passes
//! the rest of the traffic to the kernel.
//!
//! ```text
//!   frame --> o7s Ethertype? --(for this port, fits?)--> xsks[rx_queue] --> dataplane (eth-dix shim)
//!         \-> IPv4/IPv6 UDP to the o7s port? ----------> xsks[rx_queue] --> dataplane (udp shim)
//!         \-> anything else (ARP, ND, TCP, VLAN, ...) --> kernel
//!   (an empty xsks[rx_queue] also means: kernel; o7s frames for another
//!    MAC or too long for an XSK frame are dropped and counted)
//! ```

use std::{
    fmt,
    os::fd::{AsFd, AsRawFd},
};

use aya::maps::{Array, DevMapHash, HashMap, MapData, PerCpuArray, XskMap};
use tracing::debug;

use crate::{
    AttachMode, EbpfError, Result,
    abi::{self, Stat},
    xdp::{self, ActiveMode, XdpAttachment},
};

/// The Ethertype o7s uses unless configured otherwise (as the reference
/// prototype's eth-dix shim does).
pub const DEFAULT_ETHERTYPE: u16 = abi::DEFAULT_ETHERTYPE;
/// The UDP port o7s uses unless configured otherwise.
pub const DEFAULT_UDP_PORT: u16 = abi::DEFAULT_UDP_PORT;
/// The AF_XDP socket map has a slot per rx queue `0..MAX_QUEUES`; frames on
/// higher queues always go to the kernel.
pub const MAX_QUEUES: u32 = abi::MAX_QUEUES;

const OBJECT: &str = "steer.bpf.o";
const PROGRAM: &str = "o7s_steer";
static BYTES: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/steer.bpf.o"));

/// What the steering program matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SteeringConfig {
    /// The eth-dix shim's Ethertype, `0x0600..=0xfffe`.
    pub ethertype: u16,
    /// The UDP shim's destination port (IPv4 and IPv6), not 0.
    pub udp_port: u16,
    /// Steer UDP to the port too; off when a kernel socket (the io_uring
    /// backend) serves the UDP shim on this interface.
    pub steer_udp: bool,
    /// The interface's own MAC: o7s Ethertype frames for any other address
    /// are dropped and counted ([`SteeringStats::not_for_us`],
    /// [`SteeringStats::multicast_dst`]), save broadcasts to the eth-dix
    /// management EID 0 (name queries). `None`: not checked.
    pub mac: Option<[u8; 6]>,
    /// Longest o7s Ethertype frame taken (what fits an AF_XDP frame); longer
    /// ones are dropped and counted ([`SteeringStats::oversize`]). 0: no
    /// limit.
    pub max_frame: u16,
    /// The port serves the eth-llc shim: 802.2 LLC frames (a length
    /// where the Ethertype would be) are steered and checked instead of
    /// `ethertype`'s, whose frames then go to the kernel like any other;
    /// the broadcasts let through are those to the management SAP.
    pub llc: bool,
    /// How to attach.
    pub mode: AttachMode,
}

impl Default for SteeringConfig {
    fn default() -> Self {
        Self {
            ethertype: DEFAULT_ETHERTYPE,
            udp_port: DEFAULT_UDP_PORT,
            steer_udp: true,
            mac: None,
            max_frame: 0,
            llc: false,
            mode: AttachMode::Auto,
        }
    }
}

impl SteeringConfig {
    /// Refuses values the program could not match meaningfully.
    pub fn validate(&self) -> Result<()> {
        if !(0x0600..=0xfffe).contains(&self.ethertype) {
            return Err(EbpfError::InvalidEthertype(self.ethertype));
        }
        if self.udp_port == 0 {
            return Err(EbpfError::InvalidUdpPort);
        }
        Ok(())
    }
}

/// The steering program's counters, summed over all CPUs since it was
/// attached. Every frame the program ran on is counted once.
///
/// A frame is *matched* when it is o7s (Ethertype or UDP port); a matched
/// frame is *redirected* when an AF_XDP socket is registered for its rx
/// queue, and counted under `no_xsk_*` (and passed to the kernel) when not,
/// unless the program forwarded or dropped it first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SteeringStats {
    /// o7s Ethertype frames delivered to an AF_XDP socket.
    pub redirected_eth: u64,
    /// o7s UDP datagrams delivered to an AF_XDP socket.
    pub redirected_udp: u64,
    /// o7s Ethertype frames passed to the kernel: no socket on their queue.
    pub no_xsk_eth: u64,
    /// o7s UDP datagrams passed to the kernel: no socket on their queue.
    pub no_xsk_udp: u64,
    /// Other traffic, passed to the kernel.
    pub passed: u64,
    /// Frames with truncated or invalid headers, passed to the kernel (which
    /// drops and counts them by its own rules).
    pub malformed: u64,
    /// Transit frames forwarded in XDP by the fast path (see
    /// [`Steering::set_fast_path`]).
    pub fast_forwarded: u64,
    /// VLAN-tagged frames (802.1Q, 802.1ad), passed to the kernel: o7s
    /// ports are untagged.
    pub vlan: u64,
    /// o7s frames for another station's MAC: dropped.
    pub not_for_us: u64,
    /// o7s frames for a group address other than a management broadcast:
    /// dropped.
    pub multicast_dst: u64,
    /// o7s frames longer than [`SteeringConfig::max_frame`]: dropped.
    pub oversize: u64,
    /// Fast path: frames on a known flow from another MAC than its peer's:
    /// dropped.
    pub spoofed_src: u64,
    /// Fast path: rewritten frames whose egress was not in the redirect
    /// map: dropped.
    pub fast_tx_errors: u64,
}

impl SteeringStats {
    /// o7s Ethertype frames seen, whatever became of them.
    pub fn matched_eth(&self) -> u64 {
        self.redirected_eth
            + self.no_xsk_eth
            + self.fast_forwarded
            + self.not_for_us
            + self.multicast_dst
            + self.oversize
            + self.spoofed_src
            + self.fast_tx_errors
    }

    /// o7s UDP datagrams seen, redirected or not.
    pub fn matched_udp(&self) -> u64 {
        self.redirected_udp + self.no_xsk_udp
    }

    /// Frames handed to the kernel (not o7s, tagged, malformed, or o7s with
    /// no socket to take them).
    pub fn passed_to_kernel(&self) -> u64 {
        self.passed + self.vlan + self.malformed + self.no_xsk_eth + self.no_xsk_udp
    }

    /// Every frame the program ran on.
    pub fn total(&self) -> u64 {
        self.matched_eth() + self.matched_udp() + self.passed + self.vlan + self.malformed
    }

    fn slot(&mut self, stat: Stat) -> &mut u64 {
        match stat {
            Stat::RedirectedEth => &mut self.redirected_eth,
            Stat::RedirectedUdp => &mut self.redirected_udp,
            Stat::NoXskEth => &mut self.no_xsk_eth,
            Stat::NoXskUdp => &mut self.no_xsk_udp,
            Stat::Passed => &mut self.passed,
            Stat::Malformed => &mut self.malformed,
            Stat::FastForwarded => &mut self.fast_forwarded,
            Stat::Vlan => &mut self.vlan,
            Stat::NotForUs => &mut self.not_for_us,
            Stat::MulticastDst => &mut self.multicast_dst,
            Stat::Oversize => &mut self.oversize,
            Stat::SpoofedSrc => &mut self.spoofed_src,
            Stat::FastTxError => &mut self.fast_tx_errors,
        }
    }
}

/// One single eth-dix next hop of the fast path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextHop {
    /// Egress interface (it must also be in [`FastPath::tx_ifindexes`]).
    pub ifindex: u32,
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    /// Shim EID put in forwarded frames.
    pub eid: u16,
}

/// An N-1 flow arriving on an XDP interface, for the fast path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastFlow {
    /// The interface it arrives on; each interface's program takes the
    /// flows of its own ifindex.
    pub ifindex: u32,
    /// Shim EID of its frames (16 bits on eth-dix).
    pub eid: u32,
    /// QoS cube whose routes its frames take.
    pub cube: u32,
    /// The neighbour's MAC: frames from another source are dropped.
    pub peer_mac: [u8; 6],
}

/// What the in-kernel transit fast path forwards by (a subset of the
/// worker's tables: single eth-dix next hops on XDP interfaces, DT layout
/// with 4-octet addresses and 8-octet EIDs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FastPath {
    /// This member's address; frames for it take the slow path. Not 0.
    pub address: u32,
    /// The layer's `max_ttl`: frames with more (or with a TTL of 0 or 1)
    /// take the slow path, where the worker drops and counts them.
    pub max_ttl: u8,
    /// The N-1 flows arriving here.
    pub demux: Vec<FastFlow>,
    /// (cube, destination, next hop).
    pub routes: Vec<(u32, u32, NextHop)>,
    /// Interfaces the fast path may redirect to.
    pub tx_ifindexes: Vec<u32>,
}

fn invalid(map: &'static str, why: &str) -> EbpfError {
    let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_owned());
    EbpfError::map(map, "set the fast path", aya::maps::MapError::IoError(e))
}

struct FastMaps {
    this: Array<MapData, abi::SelfValue>,
    /// Shim EID → cube + 1 and peer MAC, for this interface.
    demux: Array<MapData, abi::FlowValue>,
    /// EIDs set in `demux`, to clear them.
    demux_set: Vec<u32>,
    fib: HashMap<MapData, abi::FibKey, abi::NextHopValue>,
    tx: DevMapHash<MapData>,
}

/// The steering program attached to one interface. Dropping it detaches the
/// program (and releases the AF_XDP socket map, so registered sockets stop
/// receiving).
pub struct Steering {
    // First field: dropped (detached) before the maps it uses.
    xdp: XdpAttachment,
    config: SteeringConfig,
    xsks: XskMap<MapData>,
    stats: PerCpuArray<MapData, u64>,
    fast: FastMaps,
}

impl fmt::Debug for Steering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // aya's map handles have no Debug; the attachment says what matters.
        f.debug_struct("Steering")
            .field("xdp", &self.xdp)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Steering {
    /// Loads `o7s_steer`, writes `config` into it and attaches it to
    /// `ifname` (resolved in the calling thread's network namespace).
    pub fn attach(ifname: &str, config: SteeringConfig) -> Result<Self> {
        config.validate()?;
        let ifindex = xdp::ifindex(ifname)?;
        let mut bpf = xdp::load_object(OBJECT, BYTES)?;
        let mut take = |name: &'static str| {
            bpf.take_map(name).ok_or(EbpfError::Missing {
                object: OBJECT,
                kind: "map",
                name,
            })
        };
        let cfg = take(abi::MAP_CONFIG)?;
        let xsks = take(abi::MAP_XSKS)?;
        let stats = take(abi::MAP_STATS)?;
        let this = take(abi::MAP_SELF)?;
        let demux = take(abi::MAP_DEMUX)?;
        let fib = take(abi::MAP_FIB)?;
        let tx = take(abi::MAP_TX)?;
        let fast = FastMaps {
            this: Array::try_from(this).map_err(|e| EbpfError::map(abi::MAP_SELF, "open", e))?,
            demux: Array::try_from(demux).map_err(|e| EbpfError::map(abi::MAP_DEMUX, "open", e))?,
            demux_set: Vec::new(),
            fib: HashMap::try_from(fib).map_err(|e| EbpfError::map(abi::MAP_FIB, "open", e))?,
            tx: DevMapHash::try_from(tx).map_err(|e| EbpfError::map(abi::MAP_TX, "open", e))?,
        };

        let mut cfg: Array<MapData, abi::ConfigValue> =
            Array::try_from(cfg).map_err(|e| EbpfError::map(abi::MAP_CONFIG, "open", e))?;
        let flags = if config.steer_udp { 0 } else { abi::CFG_NO_UDP }
            | if config.mac.is_some() { abi::CFG_CHECK_DST } else { 0 }
            | if config.llc { abi::CFG_LLC } else { 0 };
        cfg.set(
            0,
            abi::config_value(
                config.ethertype,
                config.udp_port,
                flags,
                config.mac.unwrap_or_default(),
                config.max_frame,
            ),
            0,
        )
        .map_err(|e| EbpfError::map(abi::MAP_CONFIG, "write config", e))?;
        let xsks = XskMap::try_from(xsks).map_err(|e| EbpfError::map(abi::MAP_XSKS, "open", e))?;
        let stats = PerCpuArray::try_from(stats).map_err(|e| EbpfError::map(abi::MAP_STATS, "open", e))?;

        let xdp = XdpAttachment::attach(bpf, OBJECT, PROGRAM, (ifname, ifindex), config.mode)?;
        Ok(Self {
            xdp,
            config,
            xsks,
            stats,
            fast,
        })
    }

    /// The mode the program got (in [`AttachMode::Auto`]: native unless the
    /// driver refused it).
    pub fn mode(&self) -> ActiveMode {
        self.xdp.mode()
    }

    /// The configuration in force.
    pub fn config(&self) -> SteeringConfig {
        self.config
    }

    /// The interface the program is attached to.
    pub fn ifname(&self) -> &str {
        self.xdp.ifname()
    }

    /// Its index (in the namespace it was attached from).
    pub fn ifindex(&self) -> u32 {
        self.xdp.ifindex()
    }

    /// The kernel's id of the program (`ip link` shows `prog/xdp id N`).
    pub fn program_id(&self) -> Result<u32> {
        self.xdp.program_id()
    }

    /// Sends the o7s frames of rx `queue` to `socket`, an AF_XDP socket
    /// bound to this interface and queue (the kernel refuses anything else
    /// with `EOPNOTSUPP`). The map holds its own reference to the socket
    /// until [`unregister_xsk`](Self::unregister_xsk) or drop.
    pub fn register_xsk(&mut self, queue: u32, socket: impl AsFd) -> Result<()> {
        self.check_queue(queue)?;
        let fd = socket.as_fd();
        self.xsks
            .set(queue, fd, 0)
            .map_err(|e| EbpfError::map(abi::MAP_XSKS, format!("register the AF_XDP socket of queue {queue}"), e))?;
        debug!(ifname = %self.ifname(), queue, fd = fd.as_raw_fd(), "AF_XDP socket registered");
        Ok(())
    }

    /// Stops steering the frames of rx `queue` to a socket: they go to the
    /// kernel again. Unregistering an empty slot is not an error.
    pub fn unregister_xsk(&mut self, queue: u32) -> Result<()> {
        self.check_queue(queue)?;
        match self.xsks.unset(queue) {
            Ok(()) => {}
            Err(e) if crate::error::map_errno(&e) == Some(libc::ENOENT) => {}
            Err(e) => {
                return Err(EbpfError::map(
                    abi::MAP_XSKS,
                    format!("unregister the AF_XDP socket of queue {queue}"),
                    e,
                ));
            }
        }
        debug!(ifname = %self.ifname(), queue, "AF_XDP socket unregistered");
        Ok(())
    }

    /// Turns the in-kernel transit fast path on with `fast` (replacing what
    /// was there): matching transit frames are rewritten and redirected to
    /// their egress interface in XDP, without reaching the AF_XDP socket.
    /// The egress interfaces must accept XDP redirects (a veth needs an XDP
    /// program on its peer).
    pub fn set_fast_path(&mut self, fast: FastPath) -> Result<()> {
        if fast.address == 0 {
            return Err(invalid(abi::MAP_SELF, "own address 0 would mean off"));
        }
        if fast.max_ttl == 0 {
            return Err(invalid(abi::MAP_SELF, "max_ttl 0 would forward nothing"));
        }
        if fast
            .demux
            .iter()
            .any(|f| f.eid >= abi::DEMUX_EIDS || f.cube == u32::MAX)
        {
            return Err(invalid(
                abi::MAP_DEMUX,
                "an eth-dix EID above 65535 or a cube out of range",
            ));
        }
        if fast.routes.len() > abi::MAX_ROUTES as usize || fast.tx_ifindexes.len() > abi::MAX_TX as usize {
            return Err(invalid(abi::MAP_FIB, "more entries than the maps hold"));
        }
        // Off while the maps are rewritten, so no frame sees a mix.
        self.clear_fast_path()?;
        let m = &mut self.fast;
        for &ifindex in &fast.tx_ifindexes {
            m.tx.insert(ifindex, ifindex, None, 0)
                .map_err(|e| EbpfError::xdp_map(abi::MAP_TX, format!("add egress {ifindex}"), e))?;
        }
        let here = self.xdp.ifindex();
        for f in fast.demux.iter().filter(|f| f.ifindex == here) {
            m.demux
                .set(f.eid, abi::flow_value(f.cube, f.peer_mac), 0)
                .map_err(|e| EbpfError::map(abi::MAP_DEMUX, format!("add EID {}", f.eid), e))?;
            m.demux_set.push(f.eid);
        }
        for &(cube, dst, nh) in &fast.routes {
            let v = abi::next_hop_value(nh.ifindex, nh.dst_mac, nh.src_mac, nh.eid);
            m.fib
                .insert([cube, dst], v, 0)
                .map_err(|e| EbpfError::map(abi::MAP_FIB, format!("add route ({cube}, {dst:#x})"), e))?;
        }
        m.this
            .set(0, abi::self_value(fast.address, fast.max_ttl), 0)
            .map_err(|e| EbpfError::map(abi::MAP_SELF, "write own address", e))?;
        debug!(
            ifname = %self.ifname(),
            demux = fast.demux.len(),
            routes = fast.routes.len(),
            "XDP transit fast path on"
        );
        Ok(())
    }

    /// Turns the fast path off and empties its maps: every o7s frame goes to
    /// the AF_XDP socket again.
    pub fn clear_fast_path(&mut self) -> Result<()> {
        let m = &mut self.fast;
        m.this
            .set(0, abi::self_value(0, 0), 0)
            .map_err(|e| EbpfError::map(abi::MAP_SELF, "clear own address", e))?;
        let keys: Vec<_> = m.fib.keys().filter_map(std::result::Result::ok).collect();
        for k in keys {
            m.fib
                .remove(&k)
                .map_err(|e| EbpfError::map(abi::MAP_FIB, "remove route", e))?;
        }
        for eid in std::mem::take(&mut m.demux_set) {
            m.demux
                .set(eid, [0; 12], 0)
                .map_err(|e| EbpfError::map(abi::MAP_DEMUX, format!("remove EID {eid}"), e))?;
        }
        let keys: Vec<_> = m.tx.keys().filter_map(std::result::Result::ok).collect();
        for k in keys {
            m.tx.remove(k)
                .map_err(|e| EbpfError::map(abi::MAP_TX, "remove egress", e))?;
        }
        Ok(())
    }

    /// The counters, summed over CPUs.
    pub fn stats(&self) -> Result<SteeringStats> {
        let mut sum = SteeringStats::default();
        for stat in Stat::ALL {
            let per_cpu = self
                .stats
                .get(&(stat as u32), 0)
                .map_err(|e| EbpfError::map(abi::MAP_STATS, format!("read counter {stat:?}"), e))?;
            *sum.slot(stat) = per_cpu.iter().sum();
        }
        Ok(sum)
    }

    fn check_queue(&self, queue: u32) -> Result<()> {
        if queue >= MAX_QUEUES {
            return Err(EbpfError::QueueOutOfRange {
                queue,
                slots: MAX_QUEUES,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ethertype: u16, udp_port: u16) -> SteeringConfig {
        SteeringConfig {
            ethertype,
            udp_port,
            ..SteeringConfig::default()
        }
    }

    #[test]
    fn default_config_is_valid() {
        assert_eq!(SteeringConfig::default().validate().ok(), Some(()));
    }

    #[test]
    fn ethertypes_outside_ethernet_ii_are_refused() {
        for bad in [0x0000, 0x0100, 0x05ff, 0xffff] {
            assert!(matches!(config(bad, 3435).validate(), Err(EbpfError::InvalidEthertype(e)) if e == bad));
        }
        for good in [0x0600, 0x88b5, 0xa000, 0xfffe] {
            assert_eq!(config(good, 3435).validate().ok(), Some(()), "{good:#06x}");
        }
    }

    #[test]
    fn udp_port_zero_is_refused() {
        assert!(matches!(config(0xa000, 0).validate(), Err(EbpfError::InvalidUdpPort)));
    }

    #[test]
    fn embedded_object_holds_the_program_and_maps() {
        // Parsing the ELF needs no privileges; creating maps does, so only
        // the object's symbols are checked here.
        let text = String::from_utf8_lossy(BYTES);
        for name in [
            PROGRAM,
            abi::MAP_CONFIG,
            abi::MAP_XSKS,
            abi::MAP_STATS,
            abi::MAP_SELF,
            abi::MAP_DEMUX,
            abi::MAP_FIB,
            abi::MAP_TX,
        ] {
            assert!(text.contains(name), "{name} missing from {OBJECT}");
        }
    }
}
