//! The task of a shim IPCP (eth-dix, eth-llc, udp4, udp6) in irmd: the
//! sans-IO [`ShimCore`] wired to the IRM, to OAP, and to the dataplane.
//!
//! ```text
//!  IRM events ─> query / allocate / respond / dealloc ─┐
//!  punted management frames ─> receive ───────────────┤─> ShimCore ─> events:
//!  timers, directory answers (UDP) ───────────────────┘     Send ─────────> Plane::send (injection ring)
//!                                                            Resolve ──────> directory thread (UDP)
//!                                                            QueryDone ────> Irm::query_answered
//!                                                            RequestArrived > OAP response, Irm::flow_request_arrived, rings
//!                                                            FlowUp ───────> Plane::attach_flow, Irm::alloc_reply
//!                                                            AllocFailed ──> Irm::alloc_reply(Err)
//! ```

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use o7s_seam::tables::{Encap, EthDixEncap, EthLlcEncap, PortId, ShimPeer, UdpEncap};
use o7s_wire::eth::MacAddr;
use o7s_wire::hash::NameHash;
use o7s_wire::qos::QosSpec;
use o7s_wire::shim_mgmt::{Framing, ShimMgmt};

use crate::ipcp::eth::EthShim;
use crate::ipcp::shim::{Dest, MgmtDrop, MgmtMsg, PeerAddr, ShimConfig, ShimCore, ShimEvent};
use crate::ipcp::udp::directory::{Directory, Family};
use crate::irm::{FlowId, Irm, oap};

use super::flow_up;
use super::plane::{FlowHandle, FlowRings, LayerFlowHandle, Plane, PlaneError};

/// How a shim meets its peers: addressing, framing of management
/// messages, and the encapsulation of its flows.
pub trait ShimLink: Debug {
    type Addr: PeerAddr;

    /// Sends a management message.
    fn send(&self, plane: &mut Plane, port: PortId, to: Dest<Self::Addr>, msg: &ShimMgmt<'_>)
    -> Result<(), PlaneError>;

    /// Reads a punted management frame (with the sender's address when the
    /// port knows it).
    fn parse<'a>(
        &self,
        frame: &'a [u8],
        from: Option<SocketAddr>,
        hash_len: usize,
    ) -> Option<(Self::Addr, ShimMgmt<'a>)>;

    /// Whose frames a flow takes.
    fn peer(&self, addr: Self::Addr, peer_eid: u32) -> ShimPeer;

    /// How a flow's SDUs are framed.
    fn encap(&self, addr: Self::Addr, eid: u32, peer_eid: u32) -> Encap;

    /// Directory answers that came in since the last call (UDP).
    fn resolved(&self) -> Vec<(NameHash, Option<Self::Addr>)> {
        Vec::new()
    }

    /// Asks the directory for `hash` (UDP).
    fn resolve(&self, hash: NameHash) {
        let _ = hash;
    }
}

/// An Ethernet shim's link: its framing and the port's MAC.
#[derive(Debug, Clone, Copy)]
pub struct EthLink {
    pub shim: EthShim,
    pub mac: MacAddr,
}

impl ShimLink for EthLink {
    type Addr = MacAddr;

    fn send(&self, plane: &mut Plane, port: PortId, to: Dest<MacAddr>, msg: &ShimMgmt<'_>) -> Result<(), PlaneError> {
        let dst = match to {
            Dest::Broadcast => MacAddr::BROADCAST,
            Dest::Peer(mac) => mac,
        };
        plane.send(port, |buf| self.shim.emit_mgmt(buf, dst, self.mac, msg))
    }

    fn parse<'a>(&self, frame: &'a [u8], _: Option<SocketAddr>, hash_len: usize) -> Option<(MacAddr, ShimMgmt<'a>)> {
        self.shim.parse_mgmt(frame, hash_len).ok()
    }

    fn peer(&self, addr: MacAddr, peer_eid: u32) -> ShimPeer {
        match self.shim {
            EthShim::Dix { .. } => ShimPeer::Mac(addr),
            // In range: the core gives SAPs within 2..=63 and takes the
            // peer's from an 8-bit field.
            EthShim::Llc => ShimPeer::MacSap(addr, peer_eid as u8),
        }
    }

    fn encap(&self, addr: MacAddr, eid: u32, peer_eid: u32) -> Encap {
        match self.shim {
            EthShim::Dix { ethertype } => Encap::EthDix(EthDixEncap {
                dst: addr,
                src: self.mac,
                ethertype,
                eid: peer_eid as u16,
            }),
            EthShim::Llc => Encap::EthLlc(EthLlcEncap {
                dst: addr,
                src: self.mac,
                dsap: peer_eid as u8,
                ssap: eid as u8,
            }),
        }
    }
}

/// A UDP shim's link: its own address and port, and its directory, whose
/// lookups run on a thread of their own.
#[derive(Debug)]
pub struct UdpLink {
    pub local: SocketAddr,
    pub requests: Sender<NameHash>,
    pub answers: Receiver<(NameHash, Option<IpAddr>)>,
}

impl UdpLink {
    /// The link of a UDP IPCP at `local`, with its directory thread, which
    /// wakes irmd's loop through `waker` when it has an answer.
    pub fn start(local: SocketAddr, directory: Directory, waker: Arc<mio::Waker>) -> std::io::Result<UdpLink> {
        let (requests, wanted) = std::sync::mpsc::channel::<NameHash>();
        let (found, answers) = std::sync::mpsc::channel();
        let family = if local.is_ipv4() { Family::V4 } else { Family::V6 };
        std::thread::Builder::new()
            .name(format!("irmd-dir-{local}"))
            .spawn(move || {
                for hash in wanted {
                    let ip = directory.resolve(&hash, family);
                    if found.send((hash, ip)).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            })?;
        Ok(UdpLink {
            local,
            requests,
            answers,
        })
    }
}

impl ShimLink for UdpLink {
    type Addr = SocketAddr;

    fn send(
        &self,
        plane: &mut Plane,
        port: PortId,
        to: Dest<SocketAddr>,
        msg: &ShimMgmt<'_>,
    ) -> Result<(), PlaneError> {
        let Dest::Peer(to) = to else {
            return Ok(());
        };
        plane.send_to(port, to, |buf| Framing::Udp.emit(msg, buf))
    }

    fn parse<'a>(
        &self,
        frame: &'a [u8],
        from: Option<SocketAddr>,
        hash_len: usize,
    ) -> Option<(SocketAddr, ShimMgmt<'a>)> {
        Some((from?, Framing::Udp.parse(frame, hash_len).ok()?))
    }

    fn peer(&self, addr: SocketAddr, _: u32) -> ShimPeer {
        ShimPeer::Udp(addr)
    }

    fn encap(&self, addr: SocketAddr, _: u32, peer_eid: u32) -> Encap {
        Encap::Udp(UdpEncap {
            peer: addr,
            eid: peer_eid,
        })
    }

    fn resolved(&self) -> Vec<(NameHash, Option<SocketAddr>)> {
        let port = self.local.port();
        self.answers
            .try_iter()
            .map(|(hash, ip)| (hash, ip.map(|ip| SocketAddr::new(ip, port))))
            .collect()
    }

    fn resolve(&self, hash: NameHash) {
        let _ = self.requests.send(hash);
    }
}

/// What irmd keeps of a flow's data path: its rings (handed to the
/// process), and for a flow over a shim the eventfd that wakes the worker
/// and what the dataplane holds.
#[derive(Debug)]
pub struct Ends {
    pub rings: FlowRings,
    pub kick: Option<OwnedFd>,
    pub handle: Option<FlowHandle>,
    /// For a flow of a unicast layer: what the dataplane holds of it.
    pub layer: Option<LayerFlowHandle>,
}

impl Ends {
    /// A flow's end before the dataplane holds anything of it (a local
    /// flow's, for good): its rings only.
    pub fn rings(rings: FlowRings) -> Ends {
        Ends {
            rings,
            kick: None,
            handle: None,
            layer: None,
        }
    }
}

/// What the task needs of irmd to act.
pub struct Ctx<'a> {
    pub irm: &'a mut Irm,
    pub plane: &'a mut Plane,
    pub ends: &'a mut HashMap<FlowId, Ends>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("flow_ends", &self.ends.len())
            .finish_non_exhaustive()
    }
}

/// One shim IPCP.
#[derive(Debug)]
pub struct ShimTask<L: ShimLink> {
    pub ipcp: String,
    pub port: PortId,
    pub link: L,
    pub core: ShimCore<L::Addr>,
    /// IRM flows waiting for a query's answer, by hash.
    queries: HashMap<NameHash, Vec<FlowId>>,
    /// OAP requests sent, by requester flow (to check the responses).
    oap_sent: HashMap<FlowId, Vec<u8>>,
    /// OAP responses to send once the IRM accepted, by responder flow.
    oap_replies: HashMap<FlowId, Vec<u8>>,
    /// Mgmt frames this task could not read (not counted by the core).
    unreadable: u64,
}

pub(super) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl<L: ShimLink> ShimTask<L> {
    pub fn new(ipcp: &str, port: PortId, link: L, config: ShimConfig) -> ShimTask<L> {
        ShimTask {
            ipcp: ipcp.to_owned(),
            port,
            link,
            core: ShimCore::new(config),
            queries: HashMap::new(),
            oap_sent: HashMap::new(),
            oap_replies: HashMap::new(),
            unreadable: 0,
        }
    }

    /// The IRM asks whether this layer reaches `hash` for `flow`.
    pub fn query(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, hash: NameHash) {
        match self.core.query(now, hash) {
            Some(known) => {
                let _ = ctx.irm.query_answered(flow, &self.ipcp, known);
            }
            None => self.queries.entry(hash).or_default().push(flow),
        }
        self.pump(now, ctx);
    }

    /// The IRM allocates `flow` through this IPCP.
    pub fn allocate(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, hash: NameHash, qos: QosSpec) {
        let request = oap::request(oap::random_id(), now_ns());
        match self.core.alloc(now, flow, hash, qos, request.clone()) {
            Ok(()) => {
                self.oap_sent.insert(flow, request);
            }
            Err(e) => {
                tracing::info!(ipcp = %self.ipcp, %flow, error = %e, "flow request not sent");
                let _ = ctx.irm.alloc_reply(flow, &self.ipcp, Err(-libc::EHOSTUNREACH));
            }
        }
        self.pump(now, ctx);
    }

    /// The IRM's answer for an arrived `flow`.
    pub fn respond(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, accepted: bool) {
        let oap = self.oap_replies.remove(&flow).unwrap_or_default();
        if accepted {
            self.core.respond(flow, 0, oap);
        } else {
            self.core.respond(flow, -libc::ECONNREFUSED, Vec::new());
            ctx.ends.remove(&flow);
        }
        self.pump(now, ctx);
    }

    /// The application side released `flow`: release it here and in the
    /// dataplane (the peer learns of it end to end).
    pub fn dealloc(&mut self, ctx: &mut Ctx<'_>, flow: FlowId) {
        self.core.dealloc(flow);
        self.oap_sent.remove(&flow);
        self.oap_replies.remove(&flow);
        if let Some(ends) = ctx.ends.get_mut(&flow)
            && let Some(h) = ends.handle.take()
        {
            ctx.plane.detach_flow(h);
            ends.rings.rx.close();
            ends.rings.tx.close();
        }
        let _ = ctx.irm.ipcp_flow_dealloc(&self.ipcp, flow);
    }

    /// A punted management frame.
    pub fn receive(&mut self, now: Instant, ctx: &mut Ctx<'_>, frame: &[u8], from: Option<SocketAddr>) {
        let hash_len = self.core.config().hash_len;
        match self.link.parse(frame, from, hash_len) {
            Some((addr, msg)) => {
                if let Err(reason) = self.core.receive(now, addr, &msg) {
                    tracing::debug!(ipcp = %self.ipcp, %addr, %reason, "management message refused");
                }
            }
            None => {
                self.core.malformed();
                self.unreadable += 1;
            }
        }
        self.pump(now, ctx);
    }

    /// Deadlines and directory answers.
    pub fn tick(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        for (hash, addr) in self.link.resolved() {
            self.core.resolved(hash, addr);
        }
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now);
        }
        self.pump(now, ctx);
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// Counters of the control half, by name.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let drops = MgmtDrop::ALL
            .iter()
            .map(|r| (r.name().to_owned(), self.core.drops().get(r).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0);
        std::iter::once(("flows".to_owned(), self.core.flow_count() as u64))
            .chain(drops)
            .collect()
    }

    /// Carries out what the core asked for, until it asks nothing.
    fn pump(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        while let Some(event) = self.core.poll_event() {
            self.event(now, ctx, event);
        }
    }

    fn event(&mut self, now: Instant, ctx: &mut Ctx<'_>, event: ShimEvent<L::Addr>) {
        match event {
            ShimEvent::Send { to, msg } => {
                if let Err(e) = self.link.send(ctx.plane, self.port, to, &msg.as_wire()) {
                    tracing::warn!(ipcp = %self.ipcp, error = %e, "cannot send a management message");
                }
                if let MgmtMsg::FlowReq { .. } = msg {
                    tracing::debug!(ipcp = %self.ipcp, "flow request sent");
                }
            }
            ShimEvent::Resolve { hash } => self.link.resolve(hash),
            ShimEvent::QueryDone { hash, known } => {
                for flow in self.queries.remove(&hash).unwrap_or_default() {
                    let _ = ctx.irm.query_answered(flow, &self.ipcp, known);
                }
            }
            ShimEvent::RequestArrived {
                eid,
                hash,
                qos,
                peer,
                data,
            } => self.arrived(now, ctx, eid, hash, qos, peer, &data),
            ShimEvent::FlowUp {
                flow,
                eid,
                peer,
                peer_eid,
                data,
            } => self.flow_up(ctx, flow, eid, peer, peer_eid, &data),
            ShimEvent::AllocFailed { flow, code } => {
                self.oap_sent.remove(&flow);
                let _ = ctx.irm.alloc_reply(flow, &self.ipcp, Err(code));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn arrived(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        eid: u32,
        hash: NameHash,
        qos: QosSpec,
        peer: L::Addr,
        request: &[u8],
    ) {
        match flow_up::arrival(now, ctx, &self.ipcp, hash, qos, request, &peer) {
            Ok((flow, response)) => {
                self.core.arrived_as(eid, flow);
                self.oap_replies.insert(flow, response);
            }
            Err(code) => self.core.refuse_arrival(eid, code),
        }
    }

    fn flow_up(&mut self, ctx: &mut Ctx<'_>, flow: FlowId, eid: u32, peer: L::Addr, peer_eid: u32, response: &[u8]) {
        let request = self.oap_sent.remove(&flow);
        let Some(requester) = flow_up::ends_for_up(ctx, &self.ipcp, flow, request, response) else {
            self.core.dealloc(flow);
            return;
        };
        let Some(ends) = ctx.ends.get_mut(&flow) else { return };
        let attached = ctx.plane.attach_flow(
            self.port,
            eid,
            self.link.peer(peer, peer_eid),
            self.link.encap(peer, eid, peer_eid),
            &ends.rings,
        );
        match attached {
            Ok((handle, kick)) => {
                ends.handle = Some(handle);
                ends.kick = Some(kick);
                tracing::info!(ipcp = %self.ipcp, %flow, eid, %peer, peer_eid, "flow up in the dataplane");
                if requester {
                    let _ = ctx.irm.alloc_reply(flow, &self.ipcp, Ok(()));
                }
            }
            Err(e) => {
                self.core.dealloc(flow);
                flow_up::attach_failed(ctx, &self.ipcp, flow, requester, &e);
            }
        }
    }
}

/// A shim task whatever its link: what irmd's event loop calls.
pub trait ShimIpcp {
    fn port(&self) -> PortId;
    fn register(&mut self, hash: NameHash);
    fn unregister(&mut self, hash: &NameHash);
    fn query(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, hash: NameHash);
    fn allocate(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, hash: NameHash, qos: QosSpec);
    fn respond(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, accepted: bool);
    fn dealloc(&mut self, ctx: &mut Ctx<'_>, flow: FlowId);
    fn receive(&mut self, now: Instant, ctx: &mut Ctx<'_>, frame: &[u8], from: Option<SocketAddr>);
    fn tick(&mut self, now: Instant, ctx: &mut Ctx<'_>);
    fn poll_timeout(&self) -> Option<Instant>;
    fn counters(&self) -> Vec<(String, u64)>;
}

impl<L: ShimLink> ShimIpcp for ShimTask<L> {
    fn port(&self) -> PortId {
        self.port
    }
    fn register(&mut self, hash: NameHash) {
        self.core.register(hash);
    }
    fn unregister(&mut self, hash: &NameHash) {
        self.core.unregister(hash);
    }
    fn query(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, hash: NameHash) {
        ShimTask::query(self, now, ctx, flow, hash);
    }
    fn allocate(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, hash: NameHash, qos: QosSpec) {
        ShimTask::allocate(self, now, ctx, flow, hash, qos);
    }
    fn respond(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, accepted: bool) {
        ShimTask::respond(self, now, ctx, flow, accepted);
    }
    fn dealloc(&mut self, ctx: &mut Ctx<'_>, flow: FlowId) {
        ShimTask::dealloc(self, ctx, flow);
    }
    fn receive(&mut self, now: Instant, ctx: &mut Ctx<'_>, frame: &[u8], from: Option<SocketAddr>) {
        ShimTask::receive(self, now, ctx, frame, from);
    }
    fn tick(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        ShimTask::tick(self, now, ctx);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ShimTask::poll_timeout(self)
    }
    fn counters(&self) -> Vec<(String, u64)> {
        ShimTask::counters(self)
    }
}
