//! The task of a unicast or broadcast IPCP in irmd: the sans-IO
//! [`Member`] wired to the IRM, to OAP, and to the dataplane.
//!
//! ```text
//!  enroll / connect (irm) ─> Irm::ipcp_flow_alloc ─> FlowAllocated ─> n1_up ─┐
//!  IpcpFlowArrived (a name bound to this IPCP) ─────────────────────> n1_arrived
//!  SDUs on those N-1 flows (irmd holds their rings) ────────────────> n1_sdu │
//!  punted DT packets to EID 0 (FA) and 1 (DHT) ─────────────────────> dt_received
//!  QueryLayers / AllocateOnIpcp / RespondOnIpcp / DeallocOnIpcp ────> query / alloc / respond / dealloc
//!                                                                     Member ─> events:
//!    Write / Dealloc ──────────> the N-1 flow's ring / Irm::flow_dealloc
//!    DtUp / DtDown ────────────> Plane::to_n1 / n1_down: the flow is a next hop in the tables
//!    Routes ───────────────────> Plane::set_fib (one table per cube, swapped whole)
//!    SendDt ───────────────────> Plane::send_dt (framed for the next hop, injected)
//!    Enrolled / EnrolFailed ───> Irm::ipcp_enrolled / ipcp_enroll_failed, Plane::set_layer
//!    Fa: RequestArrived, FlowUp, AllocFailed ─> the IRM; application flows as layer sources
//! ```
//!
//! One unicast layer per irmd for now: the dataplane's tables carry one
//! address.
//!
//! A broadcast member (PROTOCOL.md §14) has the same enrolment and
//! connections, and no components: irmd forwards every SDU read from a
//! data-transfer flow or a joined application (`flow_join`) to every other
//! one, as the C prototype's member does, with no duplicate suppression
//! (the member graph must be a tree). This runs in irmd's loop, not the
//! worker: broadcast is a control-rate service here.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use o7s_seam::tables::{DtDest, Fib, NextHop};
use o7s_wire::dt::{DtHeader, DtLayout};
use o7s_wire::hash::NameHash;
use o7s_wire::qos::{QosCube, QosSpec};

use crate::ipcp::unicast::cacep::Component;
use crate::ipcp::unicast::enroll::LayerConfig;
use crate::ipcp::unicast::fa::FaEvent;
use crate::ipcp::unicast::lsr::{Addr, Policy, Routes};
use crate::ipcp::unicast::member::{MGMT_CUBE, Member, MemberEvent};
use crate::irm::{FlowId, oap};

use super::flow_up;
use super::plane::{FlowRings, OwnEnds};
use super::shim::Ctx;

/// A reply irmd owes an operator's `irm ipcp enroll` or `connect`, due
/// when the flows it opened are up (or failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Enrolled { layer: String, addr: Addr },
    EnrolFailed(String),
    Connected(FlowId),
    ConnectFailed(FlowId, String),
}

/// One unicast IPCP.
#[derive(Debug)]
pub struct MemberTask {
    pub ipcp: String,
    broadcast: bool,
    member: Member,
    /// A broadcast member's neighbours: its data-transfer flows (in
    /// `own`) and the applications that joined (irmd's ends of their
    /// rings, reversed).
    bcast: Vec<FlowId>,
    joined: HashMap<FlowId, OwnEnds>,
    /// The N-1 flows irmd holds for this IPCP, and its ends of their rings.
    own: HashMap<FlowId, Option<OwnEnds>>,
    /// The data-transfer flows among them: the tables' index, the neighbour.
    dt: HashMap<FlowId, (u32, Addr)>,
    /// Management and data-transfer flows, by neighbour name (disconnect).
    connections: HashMap<FlowId, (String, Component)>,
    /// IRM flows waiting for a query's answer, by hash.
    queries: HashMap<NameHash, Vec<FlowId>>,
    oap_sent: HashMap<FlowId, Vec<u8>>,
    oap_replies: HashMap<FlowId, Vec<u8>>,
    /// What operators wait for.
    outcomes: Vec<Outcome>,
    /// DT packets to components here that did not parse.
    malformed: u64,
    /// Broadcast SDUs a neighbour's full ring (or an empty pool) did not
    /// take.
    flood_dropped: u64,
}

fn unix_now() -> (u64, u64) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    // A failing getrandom leaves a clock-based seed: addresses and EIDs
    // then still differ between systems.
    if getrandom::fill(&mut b).is_err() {
        return unix_now().1 ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_ne_bytes(b)
}

impl MemberTask {
    fn new(ipcp: &str, now: Instant, broadcast: bool) -> MemberTask {
        let member = Member::new(now, unix_now().0, seed());
        MemberTask {
            ipcp: ipcp.to_owned(),
            broadcast,
            member: if broadcast { member.broadcast() } else { member },
            bcast: Vec::new(),
            joined: HashMap::new(),
            own: HashMap::new(),
            dt: HashMap::new(),
            connections: HashMap::new(),
            queries: HashMap::new(),
            oap_sent: HashMap::new(),
            oap_replies: HashMap::new(),
            outcomes: Vec::new(),
            malformed: 0,
            flood_dropped: 0,
        }
    }

    /// The first member of `layer`.
    pub fn bootstrap(ipcp: &str, now: Instant, ctx: &mut Ctx<'_>, layer: LayerConfig) -> MemberTask {
        let broadcast = layer.ipcp_type == crate::ipcp_config::IpcpType::Broadcast;
        let mut task = MemberTask::new(ipcp, now, broadcast);
        let max_ttl = layer.unicast.map_or(o7s_wire::dt::DEFAULT_MAX_TTL, |u| u.max_ttl);
        let addr = task.member.bootstrap(now, layer, None);
        if broadcast {
            tracing::info!(ipcp, "broadcast layer bootstrapped");
        } else {
            ctx.plane.set_layer(addr, max_ttl);
            tracing::info!(ipcp, addr = format_args!("{addr:#x}"), "unicast layer bootstrapped");
        }
        task.pump(now, ctx);
        task
    }

    /// A member-to-be: enrols through `dst` (a name in a layer below).
    pub fn enrol(
        ipcp: &str,
        now: Instant,
        ctx: &mut Ctx<'_>,
        dst: &str,
        broadcast: bool,
    ) -> Result<MemberTask, String> {
        let mut task = MemberTask::new(ipcp, now, broadcast);
        task.open(now, ctx, dst, Component::Enrollment, QosSpec::RAW)?;
        tracing::info!(ipcp, dst, "enrolment started");
        Ok(task)
    }

    /// Opens an N-1 flow to `dst` for `component`.
    fn open(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        dst: &str,
        component: Component,
        qos: QosSpec,
    ) -> Result<FlowId, String> {
        let flow = ctx
            .irm
            .ipcp_flow_alloc(now, &self.ipcp, dst, qos)
            .map_err(|e| e.to_string())?;
        self.member.connect_requested(flow, component);
        self.own.insert(flow, None);
        if component != Component::Enrollment {
            self.connections.insert(flow, (dst.to_owned(), component));
        }
        Ok(flow)
    }

    /// `irm ipcp connect`: the flows opened, to wait for.
    pub fn connect(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        dst: &str,
        components: &[Component],
        qos: QosSpec,
    ) -> Result<Vec<FlowId>, String> {
        let mut flows = Vec::new();
        for &c in components {
            let qos = if c == Component::Management { QosSpec::RAW } else { qos };
            let c = match c {
                Component::DataTransfer if self.broadcast => Component::BroadcastData,
                Component::Management if self.broadcast => {
                    return Err("a broadcast layer has no management component: connect component dt".to_owned());
                }
                c => c,
            };
            flows.push(self.open(now, ctx, dst, c, qos)?);
        }
        Ok(flows)
    }

    /// `irm ipcp disconnect`.
    pub fn disconnect(&mut self, now: Instant, ctx: &mut Ctx<'_>, dst: &str, components: &[Component]) -> usize {
        let flows: Vec<FlowId> = self
            .connections
            .iter()
            .filter(|(_, (d, c))| d == dst && components.contains(c))
            .map(|(f, _)| *f)
            .collect();
        for &flow in &flows {
            self.release(ctx, flow);
            let _ = ctx.irm.flow_dealloc(self.own_pid(ctx), flow);
        }
        self.pump(now, ctx);
        flows.len()
    }

    fn own_pid(&self, ctx: &Ctx<'_>) -> u32 {
        ctx.irm.ipcp_process().unwrap_or_default()
    }

    /// Whether this is a broadcast layer's member.
    pub fn is_broadcast(&self) -> bool {
        self.broadcast
    }

    /// Whether this task holds `flow` as one of its N-1 flows.
    pub fn holds(&self, flow: FlowId) -> bool {
        self.own.contains_key(&flow)
    }

    /// What operators wait for, since the last call.
    pub fn take_outcomes(&mut self) -> Vec<Outcome> {
        std::mem::take(&mut self.outcomes)
    }

    /// An N-1 flow this task asked for is up (its rings in `ctx.ends`).
    pub fn n1_allocated(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId) {
        self.take_ends(ctx, flow);
        self.member.n1_up(now, flow);
        self.pump(now, ctx);
    }

    /// The IRM's allocation of an N-1 flow failed.
    pub fn n1_failed(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, why: &str) {
        tracing::info!(ipcp = %self.ipcp, %flow, why, "N-1 flow not allocated");
        self.own.remove(&flow);
        self.connections.remove(&flow);
        self.member.n1_gone(now, flow);
        self.pump(now, ctx);
    }

    /// A flow for a name bound to this IPCP arrived.
    pub fn n1_arrived(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId) {
        self.own.insert(flow, None);
        self.take_ends(ctx, flow);
        self.member.n1_arrived(now, flow);
        self.pump(now, ctx);
    }

    /// The peer (or the layer below) released N-1 flow `flow`.
    pub fn n1_down(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId) {
        self.release(ctx, flow);
        self.member.n1_gone(now, flow);
        let _ = ctx.irm.flow_dealloc(self.own_pid(ctx), flow);
        self.pump(now, ctx);
    }

    /// The link under `port` went down: every N-1 flow over it is down
    /// (the dataplane's alternates take over at once, the routes follow).
    pub fn port_down(&mut self, now: Instant, ctx: &mut Ctx<'_>, port: o7s_seam::tables::PortId) {
        let flows: Vec<FlowId> = self
            .own
            .keys()
            .copied()
            .filter(|f| ctx.ends.get(f).and_then(|e| e.handle).is_some_and(|h| h.port() == port))
            .collect();
        for flow in flows {
            tracing::warn!(ipcp = %self.ipcp, %flow, port, "N-1 flow lost with its link");
            self.n1_down(now, ctx, flow);
        }
    }

    fn release(&mut self, ctx: &mut Ctx<'_>, flow: FlowId) {
        self.own.remove(&flow);
        self.bcast.retain(|f| *f != flow);
        self.connections.remove(&flow);
        if let Some((id, nb)) = self.dt.remove(&flow) {
            ctx.plane.n1_down(id);
            tracing::info!(ipcp = %self.ipcp, %flow, nb = format_args!("{nb:#x}"), "data-transfer flow down");
        }
    }

    fn take_ends(&mut self, ctx: &mut Ctx<'_>, flow: FlowId) {
        let Some(ends) = ctx.ends.get(&flow) else { return };
        match ctx.plane.own_ends(&ends.rings) {
            Ok(e) => {
                self.own.insert(flow, Some(e));
            }
            Err(e) => tracing::error!(ipcp = %self.ipcp, %flow, error = %e, "cannot read the N-1 flow"),
        }
    }

    /// Reads what arrived on the N-1 flows irmd holds (and, for a
    /// broadcast member, what joined applications wrote).
    pub fn read_flows(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        if !self.joined.is_empty() {
            self.read_joined(ctx);
        }
        let mut sdus: Vec<(FlowId, Vec<u8>)> = Vec::new();
        for (&flow, ends) in &mut self.own {
            if let Some(ends) = ends {
                ctx.plane.read_own(ends, |sdu| sdus.push((flow, sdu.to_vec())));
            }
        }
        if sdus.is_empty() {
            return;
        }
        sdus.sort_by_key(|s| s.0);
        for (flow, sdu) in sdus {
            if self.bcast.contains(&flow) {
                self.flood(ctx, flow, &sdu);
            } else {
                self.member.n1_sdu(now, flow, &sdu);
            }
        }
        self.pump(now, ctx);
    }

    /// A broadcast member: `sdu` from neighbour `from` to every other.
    fn flood(&mut self, ctx: &mut Ctx<'_>, from: FlowId, sdu: &[u8]) {
        let mut lost = 0;
        for flow in self.bcast.iter().filter(|f| **f != from) {
            if let Some(Some(ends)) = self.own.get_mut(flow) {
                lost += u64::from(ctx.plane.write_own(ends, sdu).is_err());
            }
        }
        for (flow, ends) in &mut self.joined {
            if *flow != from {
                lost += u64::from(ctx.plane.write_own(ends, sdu).is_err());
            }
        }
        self.flood_dropped += lost;
    }

    /// An application joins this broadcast member's layer with `rings`
    /// (its own view: it reads `rx`, writes `tx`).
    pub fn join(&mut self, ctx: &mut Ctx<'_>, flow: FlowId, rings: &FlowRings) -> Result<(), String> {
        let reversed = FlowRings {
            rx: std::sync::Arc::clone(&rings.tx),
            tx: std::sync::Arc::clone(&rings.rx),
        };
        let ends = ctx.plane.own_ends(&reversed).map_err(|e| e.to_string())?;
        self.joined.insert(flow, ends);
        tracing::info!(ipcp = %self.ipcp, %flow, "application joined");
        Ok(())
    }

    /// SDUs the joined applications wrote.
    fn read_joined(&mut self, ctx: &mut Ctx<'_>) {
        let mut sdus: Vec<(FlowId, Vec<u8>)> = Vec::new();
        for (&flow, ends) in &mut self.joined {
            ctx.plane.read_own(ends, |sdu| sdus.push((flow, sdu.to_vec())));
        }
        sdus.sort_by_key(|s| s.0);
        for (flow, sdu) in sdus {
            self.flood(ctx, flow, &sdu);
        }
    }

    /// Before irmd sleeps: true when SDUs wait already.
    pub fn arm(&mut self) -> bool {
        let mut waiting = false;
        for ends in self.own.values_mut().flatten().chain(self.joined.values_mut()) {
            waiting |= ends.arm();
        }
        waiting
    }

    pub fn disarm(&mut self) {
        for ends in self.own.values_mut().flatten().chain(self.joined.values_mut()) {
            ends.disarm();
        }
    }

    /// A DT packet punted to this member (a component's), its shim
    /// header taken off.
    pub fn punted(&mut self, now: Instant, ctx: &mut Ctx<'_>, dt: Option<&[u8]>) {
        let parsed = dt.and_then(|dt| DtHeader::new_checked(dt, DtLayout::DEFAULT).ok());
        match parsed {
            Some(h) => self.member.dt_received(now, h.eid(), h.payload()),
            None => self.malformed += 1,
        }
        self.pump(now, ctx);
    }

    pub fn register(&mut self, now: Instant, ctx: &mut Ctx<'_>, hash: NameHash) {
        self.member.register(now, hash);
        self.pump(now, ctx);
    }

    pub fn unregister(&mut self, now: Instant, ctx: &mut Ctx<'_>, hash: &NameHash) {
        self.member.unregister(now, hash);
        self.pump(now, ctx);
    }

    pub fn query(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, hash: NameHash) {
        self.queries.entry(hash).or_default().push(flow);
        self.member.query(now, hash);
        self.pump(now, ctx);
    }

    pub fn allocate(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, hash: NameHash, qos: QosSpec) {
        let request = oap::request(oap::random_id(), unix_now().1);
        self.oap_sent.insert(flow, request.clone());
        self.member.alloc(now, flow, hash, qos, request);
        self.pump(now, ctx);
    }

    pub fn respond(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId, accepted: bool) {
        let oap = self.oap_replies.remove(&flow).unwrap_or_default();
        if accepted {
            self.member.respond(now, flow, 0, &oap);
        } else {
            self.member.respond(now, flow, -libc::ECONNREFUSED, &[]);
            ctx.ends.remove(&flow);
        }
        self.pump(now, ctx);
    }

    /// The application side released `flow`.
    pub fn dealloc(&mut self, now: Instant, ctx: &mut Ctx<'_>, flow: FlowId) {
        if self.joined.remove(&flow).is_some() {
            if let Some(ends) = ctx.ends.get(&flow) {
                ends.rings.rx.close();
                ends.rings.tx.close();
            }
            tracing::info!(ipcp = %self.ipcp, %flow, "application left");
        }
        self.member.dealloc(flow);
        self.oap_sent.remove(&flow);
        self.oap_replies.remove(&flow);
        if let Some(ends) = ctx.ends.get_mut(&flow)
            && let Some(h) = ends.layer.take()
        {
            ctx.plane.detach_layer_flow(h);
            ends.rings.rx.close();
            ends.rings.tx.close();
        }
        let _ = ctx.irm.ipcp_flow_dealloc(&self.ipcp, flow);
        self.pump(now, ctx);
    }

    pub fn tick(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        if self.member.poll_timeout().is_some_and(|t| t <= now) {
            self.member.handle_timeout(now);
        }
        self.pump(now, ctx);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.member.poll_timeout()
    }

    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut rows = self.member.counters();
        rows.push(("n1-flows".to_owned(), self.own.len() as u64));
        rows.push(("dt-neighbours".to_owned(), self.dt.len() as u64));
        if self.malformed > 0 {
            rows.push(("dt-malformed".to_owned(), self.malformed));
        }
        if self.flood_dropped > 0 {
            rows.push(("broadcast-dropped".to_owned(), self.flood_dropped));
        }
        rows
    }

    fn pump(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        while let Some(e) = self.member.poll_event() {
            self.event(now, ctx, e);
        }
    }

    fn event(&mut self, now: Instant, ctx: &mut Ctx<'_>, event: MemberEvent) {
        match event {
            MemberEvent::Write { flow, sdu } => {
                let sent = match self.own.get_mut(&flow) {
                    Some(Some(ends)) => ctx.plane.write_own(ends, &sdu).map_err(|e| e.to_string()),
                    _ => Err("the flow is not up".to_owned()),
                };
                if let Err(e) = sent {
                    tracing::debug!(ipcp = %self.ipcp, %flow, error = %e, "cannot write on an N-1 flow");
                }
            }
            MemberEvent::Dealloc { flow } => {
                self.release(ctx, flow);
                let _ = ctx.irm.flow_dealloc(self.own_pid(ctx), flow);
            }
            MemberEvent::Enrolled {
                layer,
                addr,
                clock_offset_ns,
            } => {
                if clock_offset_ns.abs() > crate::ipcp::unicast::enroll::CLOCK_WARNING_NS {
                    tracing::warn!(ipcp = %self.ipcp, offset_ms = clock_offset_ns / 1_000_000, "the member's clock is off");
                }
                let max_ttl = layer.unicast.map_or(o7s_wire::dt::DEFAULT_MAX_TTL, |u| u.max_ttl);
                if !self.broadcast {
                    ctx.plane.set_layer(addr, max_ttl);
                }
                let _ = ctx.irm.ipcp_enrolled(&self.ipcp, &layer.name, layer.hash);
                tracing::info!(
                    ipcp = %self.ipcp,
                    layer = %layer.name,
                    addr = format_args!("{addr:#x}"),
                    peer = format_args!("{:#x}", layer.peer),
                    "enrolled"
                );
                self.outcomes.push(Outcome::Enrolled {
                    layer: layer.name,
                    addr,
                });
            }
            MemberEvent::EnrolFailed { why } => {
                let _ = ctx.irm.ipcp_enroll_failed(&self.ipcp);
                tracing::warn!(ipcp = %self.ipcp, %why, "enrolment failed");
                self.outcomes.push(Outcome::EnrolFailed(why));
            }
            MemberEvent::Connected { flow, ok } => {
                let (dst, component) = self
                    .connections
                    .get(&flow)
                    .cloned()
                    .unwrap_or_else(|| (String::new(), Component::Management));
                if ok {
                    tracing::info!(ipcp = %self.ipcp, %flow, %dst, component = component.name(), "connected");
                    self.outcomes.push(Outcome::Connected(flow));
                } else {
                    tracing::warn!(ipcp = %self.ipcp, %flow, %dst, component = component.name(), "connection failed");
                    self.outcomes.push(Outcome::ConnectFailed(
                        flow,
                        format!("{} flow to {dst:?}: no answer of that component", component.name()),
                    ));
                }
            }
            MemberEvent::DtUp { flow, .. } if self.broadcast => {
                self.bcast.push(flow);
                tracing::info!(ipcp = %self.ipcp, %flow, "broadcast neighbour up");
            }
            MemberEvent::DtUp { flow, nb } => {
                let handle = ctx.ends.get(&flow).and_then(|e| e.handle);
                let Some(handle) = handle else {
                    tracing::warn!(ipcp = %self.ipcp, %flow, "a data-transfer flow that is not over a shim");
                    return;
                };
                let name = format!("{}:{:#x}", self.ipcp, nb);
                match ctx.plane.to_n1(handle, name, QosCube::BestEffort) {
                    Ok(id) => {
                        self.dt.insert(flow, (id, nb));
                        tracing::info!(ipcp = %self.ipcp, %flow, nb = format_args!("{nb:#x}"), n1 = id, "data-transfer flow up");
                    }
                    Err(e) => {
                        tracing::error!(ipcp = %self.ipcp, %flow, error = %e, "the dataplane cannot take the N-1 flow")
                    }
                }
            }
            MemberEvent::DtDown { flow, .. } => {
                self.bcast.retain(|f| *f != flow);
                if let Some((id, _)) = self.dt.remove(&flow) {
                    ctx.plane.n1_down(id);
                }
            }
            MemberEvent::Routes(routes) => {
                let fib = self.fib(&routes);
                tracing::debug!(ipcp = %self.ipcp, routes = routes.table.len(), "routes computed");
                ctx.plane.set_fib(fib);
            }
            MemberEvent::SendDt { dst, eid, payload } => {
                if Some(dst) == self.member.addr() {
                    self.member.dt_received(now, eid, &payload);
                } else if let Err(e) = ctx.plane.send_dt(dst, eid, MGMT_CUBE, &payload) {
                    tracing::debug!(ipcp = %self.ipcp, dst = format_args!("{dst:#x}"), eid, error = %e, "component message not sent");
                }
            }
            MemberEvent::QueryDone { hash, known } => {
                for flow in self.queries.remove(&hash).unwrap_or_default() {
                    let _ = ctx.irm.query_answered(flow, &self.ipcp, known);
                }
            }
            MemberEvent::Fa(fa) => self.fa_event(now, ctx, fa),
        }
    }

    /// The tables of `routes`: each next hop named by the data-transfer
    /// flow to it (the newest, when a neighbour reconnected: shims have no
    /// release message, so an older one may be dead at the other end), the
    /// same for every cube.
    fn fib(&self, routes: &Routes) -> [Fib; 3] {
        let mut by_nb: HashMap<Addr, u32> = HashMap::new();
        for &(id, nb) in self.dt.values() {
            by_nb.entry(nb).and_modify(|f| *f = (*f).max(id)).or_insert(id);
        }
        let mut fib = Fib::default();
        for (&dst, hops) in &routes.table {
            let ids: Vec<u32> = hops.iter().filter_map(|h| by_nb.get(h).copied()).collect();
            let Some((&first, rest)) = ids.split_first() else {
                continue;
            };
            let hop = match routes.policy {
                Policy::LinkState => NextHop::Single(first),
                Policy::Lfa if rest.is_empty() => NextHop::Single(first),
                Policy::Lfa => NextHop::Lfa {
                    primary: first,
                    alternates: rest.into(),
                },
                Policy::Ecmp if rest.is_empty() => NextHop::Single(first),
                Policy::Ecmp => NextHop::Ecmp(ids.into()),
            };
            fib.insert(dst, hop);
        }
        [fib.clone(), fib.clone(), fib]
    }

    fn fa_event(&mut self, now: Instant, ctx: &mut Ctx<'_>, event: FaEvent) {
        match event {
            FaEvent::Send { .. } | FaEvent::Congestion { .. } => {}
            FaEvent::AllocFailed { flow, code } => {
                self.oap_sent.remove(&flow);
                let _ = ctx.irm.alloc_reply(flow, &self.ipcp, Err(code));
            }
            FaEvent::RequestArrived {
                eid,
                hash,
                qos,
                peer,
                data,
            } => {
                let from = format!("{peer:#x}");
                match flow_up::arrival(now, ctx, &self.ipcp, hash, qos, &data, &from) {
                    Ok((flow, response)) => {
                        self.member.arrived_as(eid, flow);
                        self.oap_replies.insert(flow, response);
                    }
                    Err(code) => self.member.refuse_arrival(now, eid, code),
                }
            }
            FaEvent::FlowUp {
                flow,
                eid,
                peer,
                peer_eid,
                cube,
                data,
            } => self.flow_up(
                ctx,
                flow,
                eid,
                DtDest {
                    dst: peer,
                    eid: peer_eid,
                    cube,
                },
                &data,
            ),
        }
    }

    fn flow_up(&mut self, ctx: &mut Ctx<'_>, flow: FlowId, eid: u64, to: DtDest, response: &[u8]) {
        let request = self.oap_sent.remove(&flow);
        let Some(requester) = flow_up::ends_for_up(ctx, &self.ipcp, flow, request, response) else {
            self.member.dealloc(flow);
            return;
        };
        let Some(ends) = ctx.ends.get_mut(&flow) else { return };
        match ctx.plane.attach_layer_flow(eid, to, &ends.rings) {
            Ok((handle, kick)) => {
                ends.layer = Some(handle);
                ends.kick = Some(kick);
                tracing::info!(ipcp = %self.ipcp, %flow, eid, peer = format_args!("{:#x}", to.dst), peer_eid = to.eid, "flow up in the layer");
                if requester {
                    let _ = ctx.irm.alloc_reply(flow, &self.ipcp, Ok(()));
                }
            }
            Err(e) => {
                self.member.dealloc(flow);
                flow_up::attach_failed(ctx, &self.ipcp, flow, requester, &e);
            }
        }
    }
}
