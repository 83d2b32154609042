//! The tables a worker forwards by, replaced as a whole by the control plane.
//!
//! ```text
//!  (port, shim EID) ──demux──► N-1 flow ──cube──► fib[cube]: dst ──► next hop(s) ──► N-1 flow ──► port + encap
//!                   └─shim_flows──► application flow straight on the shim ──► endpoint ring
//! ```
//!
//! The Ethertype of an eth-dix layer is its port's (each eth-dix port is
//! opened for one), not the tables'.
//!
//! The control plane builds them; the engine's workers read the current
//! [`Tables`] through an `ArcSwap` once per burst, with no lock. A change
//! is a new `Tables` swapped in whole (RCU), so a worker sees either the
//! old tables or the new ones, never a mix.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;

use o7s_wire::dt::{DEFAULT_MAX_TTL, DtLayout};
use o7s_wire::eth::MacAddr;
use o7s_wire::qos::QosCube;

/// Index of a port in the dataplane.
pub type PortId = u16;
/// Index of an N-1 flow in [`Tables::flows`].
pub type FlowId = u32;

/// A multiplicative hash for integer keys (addresses, EIDs). SipHash's
/// DoS resistance buys nothing for keys the control plane chose, and costs
/// tens of ns per packet.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map of integer keys hashed by [`IntHasher`].
pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// Framing of an eth-dix N-1 flow (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthDixEncap {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub ethertype: u16,
    /// The EID the peer chose for this flow (put in frames we send).
    pub eid: u16,
}

/// Framing of a UDP-shim N-1 flow (§4.1): the peer's socket address and
/// EID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpEncap {
    pub peer: SocketAddr,
    pub eid: u32,
}

/// Framing of an eth-llc flow (§3): the peer's MAC, its SAP (the DSAP
/// of frames we send) and ours (their SSAP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthLlcEncap {
    pub dst: MacAddr,
    pub src: MacAddr,
    /// The SAP the peer chose for this flow.
    pub dsap: u8,
    /// The SAP this side chose.
    pub ssap: u8,
}

/// How packets of a flow are framed for its next hop (an N-1 flow of a
/// layer above) or its peer (an application flow straight on a shim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encap {
    EthDix(EthDixEncap),
    EthLlc(EthLlcEncap),
    Udp(UdpEncap),
}

/// An application flow straight on a shim layer (no layer above it):
/// frames arriving on its port with its EID (or SAP) carry its SDUs, which
/// go to local endpoint ring `endpoint`; frames that do not come from
/// `peer` are dropped as spoofed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShimFlow {
    pub endpoint: u32,
    pub peer: ShimPeer,
}

/// The sender a shim flow accepts frames from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShimPeer {
    /// eth-dix: the peer's MAC address.
    Mac(MacAddr),
    /// eth-llc: the peer's MAC address and its SAP (the frames' SSAP).
    MacSap(MacAddr, u8),
    /// UDP: the peer's socket address.
    Udp(SocketAddr),
}

/// Where the SDUs of a flow in a unicast layer go (see
/// `Command::AddLayerSource`): a DT header to `dst`'s `eid` in front of
/// each, routed by the table of `cube` (PROTOCOL.md §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtDest {
    /// The peer member's address.
    pub dst: u64,
    /// The flow's EID at the peer (or a component's: 0 the flow
    /// allocator, 1 the directory).
    pub eid: u64,
    /// The flow's cube: the table its packets are routed by.
    pub cube: QosCube,
}

/// Where a source ring's SDUs leave (see `Command::AddSource`): out of
/// `port`, framed with `encap`, or as they are when `encap` is `None`
/// (whole frames the control plane built: management messages; on a UDP
/// port each datagram behind its destination, [`crate::inject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Egress {
    pub port: PortId,
    pub encap: Option<Encap>,
}

/// An N-1 flow to a neighbour: where it leaves and how it is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct N1Flow {
    pub name: String,
    pub port: PortId,
    pub encap: Encap,
    /// The QoS cube of the flow: packets arriving on it are forwarded by
    /// this cube's table (PROTOCOL.md §7.5).
    pub cube: QosCube,
    pub up: bool,
}

/// Next hops for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextHop {
    /// One next hop.
    Single(FlowId),
    /// Equal-cost next hops; a flow (destination, EID) always takes the same
    /// one, chosen by hash, so it is never reordered.
    Ecmp(Box<[FlowId]>),
    /// A primary and loop-free alternates, tried in order when it is down.
    Lfa { primary: FlowId, alternates: Box<[FlowId]> },
}

/// Forwarding table of one cube: destination address → next hops.
pub type Fib = IntMap<u64, NextHop>;

/// Everything a worker forwards by.
#[derive(Debug, Clone)]
pub struct Tables {
    /// This member's address in the unicast layer.
    pub address: u64,
    pub layout: DtLayout,
    /// The layer's `max_ttl` (PROTOCOL.md §7.1): the TTL every member
    /// sends with, so packets arriving with more (or with 0) are refused.
    pub max_ttl: u8,
    pub flows: Vec<N1Flow>,
    /// (port, shim EID in received frames) → the flow they arrive on.
    pub demux: IntMap<u64, FlowId>,
    /// One table per cube (best effort, video, voice).
    pub fib: [Fib; 3],
    /// EID (≥ 64) of a local endpoint → its index among the worker's endpoints.
    pub endpoints: IntMap<u64, u32>,
    /// (port, EID or SAP in received frames) → an application flow straight
    /// on that shim ([`demux_key`]). Looked up for frames whose (port, EID)
    /// is not in `demux`, after the management EID; a key in both is an
    /// N-1 flow.
    pub shim_flows: IntMap<u64, ShimFlow>,
}

impl Default for Tables {
    fn default() -> Tables {
        Tables {
            address: 0,
            layout: DtLayout::DEFAULT,
            max_ttl: DEFAULT_MAX_TTL,
            flows: Vec::new(),
            demux: IntMap::default(),
            fib: Default::default(),
            endpoints: IntMap::default(),
            shim_flows: IntMap::default(),
        }
    }
}

/// The key of [`Tables::demux`]: a port and the shim EID frames arrive with.
#[inline]
pub fn demux_key(port: PortId, eid: u32) -> u64 {
    u64::from(port) << 32 | u64::from(eid)
}

impl Tables {
    /// Adds an N-1 flow that receives frames with `rx_eid` on its port.
    pub fn add_flow(&mut self, flow: N1Flow, rx_eid: u32) -> FlowId {
        let id = self.flows.len() as FlowId;
        self.demux.insert(demux_key(flow.port, rx_eid), id);
        self.flows.push(flow);
        id
    }

    /// Sets the route to `dst` in `cube`'s table.
    pub fn set_route(&mut self, cube: QosCube, dst: u64, via: NextHop) {
        self.fib[cube as usize].insert(dst, via);
    }

    /// The flow called `name`.
    pub fn flow_id(&self, name: &str) -> Option<FlowId> {
        self.flows.iter().position(|f| f.name == name).map(|i| i as FlowId)
    }

    /// Chooses the next hop for (dst, eid): hash-pinned among ECMP hops,
    /// first live one for LFA. `None` when every candidate is down.
    #[inline]
    pub fn select(&self, hop: &NextHop, dst: u64, eid: u64) -> Option<FlowId> {
        let up = |f: FlowId| self.flows.get(f as usize).is_some_and(|f| f.up);
        match hop {
            NextHop::Single(f) => up(*f).then_some(*f),
            NextHop::Ecmp(hops) => {
                if hops.is_empty() {
                    return None;
                }
                let h = (dst ^ eid.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                // Multiply-shift maps the hash onto 0..len without a division.
                let pick = hops[(((h >> 32) * hops.len() as u64) >> 32) as usize];
                // A down member of the set is skipped by rehashing over the
                // live ones, so only its own flows move.
                if up(pick) {
                    return Some(pick);
                }
                let live: usize = hops.iter().filter(|&&f| up(f)).count();
                if live == 0 {
                    return None;
                }
                let nth = (((h >> 32) * live as u64) >> 32) as usize;
                hops.iter().copied().filter(|&f| up(f)).nth(nth)
            }
            NextHop::Lfa { primary, alternates } => std::iter::once(*primary)
                .chain(alternates.iter().copied())
                .find(|&f| up(f)),
        }
    }
}
