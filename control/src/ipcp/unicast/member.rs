//! A member of a unicast layer, sans IO: the connection manager and
//! enrolment over its N-1 flows, and its components (link-state routing,
//! the directory, the flow allocator) joined as the C unicast IPCP joins
//! them (PROTOCOL.md §7–§13, §19.3).
//!
//! ```text
//!  task (irmd)                         Member                                events
//!  connect_requested(flow, comp) ─┐
//!  n1_up(flow) (requester) ───────┼─► CACEP request ─────────────────────────► Write
//!  n1_arrived(flow) (acceptor) ───┤   answer / request read ─► Enrollment: OEP (either side)
//!  n1_sdu(flow, sdu) ─────────────┤                          ├ Management: Lsdb neighbour
//!  n1_gone(flow) ─────────────────┘                          └ Data Transfer: DtUp ─────► DtUp (a DT N-1 flow)
//!  dt_received(eid 0|1, payload) ───► FaCore / Dht ──────────────────────────► SendDt, Fa, QueryDone
//!  query / alloc / respond / dealloc (IRM) ─► Dht lookup, FaCore ──────────────► SendDt
//!  handle_timeout(now) ─────────────► Lsdb, Dht, FaCore timers; CACEP/OEP deadlines
//!  Lsdb says Recompute ─────────────► Graph::routes(policy) ─────────────────► Routes
//! ```
//!
//! The member keys its N-1 flows by the IRM's [`FlowId`] (the task
//! allocated or accepted them through the IRM); it never does I/O and
//! reads no clock: `now` comes in, UNIX time and randomness are given at
//! construction (the task seeds them from the system).
//!
//! DT packets for the components are sent only where a route exists:
//! those to a member not reachable yet wait (a bounded queue, up to
//! [`PENDING_FOR`]) and go out when the routes reach it. That is also how
//! an enrolled member's directory bootstraps: it starts once the routes
//! reach the member it enrolled with (C retries its first FIND_NODE until
//! it can be sent).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use o7s_wire::hash::NameHash;
use o7s_wire::qos::{QosCube, QosSpec};

use super::cacep::{self, Component};
use super::dht::{Dht, DhtConfig, DhtEvent, QueryId};
use super::enroll::{self, Enrollee, LayerConfig};
use super::fa::{FaCore, FaEvent};
use super::lsr::{Addr, Lsdb, LsrEvent, LsrTimers, Routes};
use crate::ipcp_config::{IpcpType, UnicastConfig};
use crate::irm::FlowId;

/// EID of the flow allocator, and of the directory (PROTOCOL.md §7.3).
pub const FA_EID: u64 = 0;
pub const DHT_EID: u64 = 1;
/// How long a CACEP message may take to arrive (C: 1 s; irmd's own loop
/// and a loaded lab host get some slack).
pub const CACEP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an enrolment may take once its flow is up.
pub const OEP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a component's message waits for a route to its destination.
pub const PENDING_FOR: Duration = Duration::from_secs(5);
/// Messages waiting for a route at most.
const MAX_PENDING: usize = 4096;

/// What the member asks its task to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// Write `sdu` on N-1 flow `flow`.
    Write { flow: FlowId, sdu: Vec<u8> },
    /// Release N-1 flow `flow`.
    Dealloc { flow: FlowId },
    /// Enrolment succeeded: the member runs in `layer` at `addr`.
    Enrolled {
        layer: LayerConfig,
        addr: Addr,
        clock_offset_ns: i128,
    },
    /// Enrolment failed; the member is back where it started.
    EnrolFailed { why: String },
    /// A connection this member requested (not an enrolment) is up, or
    /// failed.
    Connected { flow: FlowId, ok: bool },
    /// N-1 flow `flow` carries DT packets to and from neighbour `nb`.
    DtUp { flow: FlowId, nb: Addr },
    /// N-1 flow `flow` no longer does.
    DtDown { flow: FlowId, nb: Addr },
    /// The next hops changed.
    Routes(Routes),
    /// Send `payload` to component `eid` of member `dst` (a route exists).
    SendDt { dst: Addr, eid: u64, payload: Vec<u8> },
    /// The answer to [`Member::query`].
    QueryDone { hash: NameHash, known: bool },
    /// What the flow allocator reports (never its `Send`: that is
    /// `SendDt`).
    Fa(FaEvent),
}

/// Why an N-1 flow or a component's message was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberDrop {
    /// A CACEP exchange failed or timed out.
    Cacep,
    /// An enrolment message was refused, or an enrolment timed out.
    Oep,
    /// An SDU on a flow that expects none now.
    Unexpected,
    /// A component message to an EID no component has.
    UnknownEid,
    /// No route to the destination in time, or too many waiting.
    NoRoute,
}

impl MemberDrop {
    pub const ALL: [MemberDrop; 5] = [
        MemberDrop::Cacep,
        MemberDrop::Oep,
        MemberDrop::Unexpected,
        MemberDrop::UnknownEid,
        MemberDrop::NoRoute,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            MemberDrop::Cacep => "cacep-failed",
            MemberDrop::Oep => "oep-failed",
            MemberDrop::Unexpected => "n1-unexpected-sdu",
            MemberDrop::UnknownEid => "unknown-component",
            MemberDrop::NoRoute => "component-no-route",
        }
    }
}

/// What an N-1 flow of the member is doing.
#[derive(Debug, Clone)]
enum N1 {
    /// Requested through the IRM for `component`, not up yet.
    Requested { component: Component },
    /// Our CACEP request sent; the answer is due by `by`.
    Answering { component: Component, by: Instant },
    /// Accepted; the peer's CACEP request is due by `by`.
    Accepting { by: Instant },
    /// Enrolling through it: our OEP request sent.
    Enrolling { enrollee: Enrollee, by: Instant },
    /// Serving an enrolment: our response sent, the ack due.
    Serving { id: Vec<u8>, by: Instant },
    /// A management flow to a neighbour.
    Mgmt,
    /// A data-transfer flow to neighbour `nb`.
    Dt { nb: Addr },
}

/// The components of a member that is in its layer.
#[derive(Debug)]
struct Running {
    layer: LayerConfig,
    config: UnicastConfig,
    addr: Addr,
    lsdb: Lsdb,
    dht: Dht,
    /// The directory asked its peer for itself (enrolled members).
    dht_started: Option<Instant>,
    fa: FaCore,
    routes: Option<Routes>,
    queries: HashMap<QueryId, NameHash>,
    /// Where hashes were found, for the allocation that follows a query.
    found: HashMap<NameHash, Addr>,
    /// Allocations waiting for a lookup of their hash.
    lookups: HashMap<QueryId, (FlowId, QosSpec, Vec<u8>)>,
    /// Component messages waiting for a route.
    pending: VecDeque<(Instant, Addr, u64, Vec<u8>)>,
}

/// One member of a unicast layer (or one on its way in).
#[derive(Debug)]
pub struct Member {
    /// Unicast, or broadcast (enrolment and data-transfer flows only: its
    /// components stay idle).
    kind: IpcpType,
    rng: fastrand::Rng,
    unix_at_start: (Instant, u64),
    run: Option<Running>,
    /// Hashes registered here (kept across enrolment).
    registered: BTreeSet<NameHash>,
    n1: HashMap<FlowId, N1>,
    events: VecDeque<MemberEvent>,
    drops: HashMap<MemberDrop, u64>,
}

fn timers(config: &UnicastConfig) -> LsrTimers {
    let secs = |s: u32| Duration::from_secs(u64::from(s));
    LsrTimers {
        t_update: secs(config.routing.t_update),
        t_timeo: secs(config.routing.t_timeo),
        t_recalc: secs(config.routing.t_recalc),
    }
}

impl Member {
    /// A member not in a layer yet; `seed` feeds its addresses, ids and
    /// EIDs, `unix` is UNIX time (s) at `now`.
    pub fn new(now: Instant, unix: u64, seed: u64) -> Member {
        Member {
            kind: IpcpType::Unicast,
            rng: fastrand::Rng::with_seed(seed),
            unix_at_start: (now, unix),
            run: None,
            registered: BTreeSet::new(),
            n1: HashMap::new(),
            events: VecDeque::new(),
            drops: HashMap::new(),
        }
    }

    /// The same for a broadcast layer (PROTOCOL.md §14): enrolment and
    /// data-transfer flows (CACEP `Data Transfer`, empty protocol), no
    /// address, routing or directory.
    pub fn broadcast(mut self) -> Member {
        self.kind = IpcpType::Broadcast;
        self
    }

    /// Creates the layer: this member is its first, at a random address
    /// (or `addr`).
    pub fn bootstrap(&mut self, now: Instant, layer: LayerConfig, addr: Option<Addr>) -> Addr {
        let addr = addr.unwrap_or_else(|| self.random_addr());
        let layer = LayerConfig { peer: addr, ..layer };
        self.start(now, layer, addr);
        addr
    }

    fn random_addr(&mut self) -> Addr {
        u64::from(self.rng.u32(1..))
    }

    fn start(&mut self, now: Instant, layer: LayerConfig, addr: Addr) {
        let config = layer.unicast.unwrap_or_default();
        let hash_len = config.hash.digest_len();
        let unix = self.unix(now);
        let dht = Dht::new(
            DhtConfig::new(&config.dht, hash_len),
            addr,
            layer.peer,
            now,
            unix,
            self.rng.u64(..),
        );
        let fa = FaCore::new(addr, hash_len, self.rng.u64(..));
        let mut run = Running {
            lsdb: Lsdb::new(now, addr, timers(&config)),
            layer,
            config,
            addr,
            dht,
            dht_started: None,
            fa,
            routes: None,
            queries: HashMap::new(),
            found: HashMap::new(),
            lookups: HashMap::new(),
            pending: VecDeque::new(),
        };
        if run.layer.peer == addr {
            run.dht_started = Some(now);
        }
        for hash in &self.registered {
            run.dht.register(now, hash.as_ref());
        }
        self.run = Some(run);
        self.pump(now);
    }

    fn unix(&self, now: Instant) -> u64 {
        let (at, unix) = self.unix_at_start;
        unix + now.saturating_duration_since(at).as_secs()
    }

    /// This member's address, once in a layer.
    pub fn addr(&self) -> Option<Addr> {
        self.run.as_ref().map(|r| r.addr)
    }

    /// The layer, once in one.
    pub fn layer(&self) -> Option<&LayerConfig> {
        self.run.as_ref().map(|r| &r.layer)
    }

    pub fn poll_event(&mut self) -> Option<MemberEvent> {
        self.events.pop_front()
    }

    /// What was refused, by reason, with the components' own counts.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut rows: Vec<(String, u64)> = MemberDrop::ALL
            .iter()
            .map(|r| (r.name().to_owned(), self.drops.get(r).copied().unwrap_or(0)))
            .collect();
        if let Some(run) = &self.run {
            rows.push(("address".to_owned(), run.addr));
            rows.push(("lsdb-adjacencies".to_owned(), run.lsdb.len() as u64));
            rows.push(("dht-contacts".to_owned(), run.dht.contacts() as u64));
            rows.push(("flows".to_owned(), run.fa.flow_count() as u64));
            let routes = run.routes.as_ref().map_or(0, |r| r.table.len());
            rows.push(("routes".to_owned(), routes as u64));
            rows.extend(run.lsdb.drops().iter().map(|(r, n)| (r.name().to_owned(), *n)));
            rows.extend(run.dht.drops().iter().map(|(r, n)| (r.name().to_owned(), *n)));
            rows.extend(run.fa.drops().iter().map(|(r, n)| (r.name().to_owned(), *n)));
        }
        rows.retain(|(name, v)| *v > 0 || name == "address");
        rows
    }

    fn drop_for(&mut self, why: MemberDrop) {
        *self.drops.entry(why).or_default() += 1;
    }

    // ---- N-1 flows ---------------------------------------------------

    /// The task asked the IRM for a flow for `component` (enrolment or a
    /// connection); it comes up with [`n1_up`](Self::n1_up).
    pub fn connect_requested(&mut self, flow: FlowId, component: Component) {
        self.n1.insert(flow, N1::Requested { component });
    }

    /// A flow this member requested is up: CACEP goes first.
    pub fn n1_up(&mut self, now: Instant, flow: FlowId) {
        let Some(N1::Requested { component }) = self.n1.get(&flow).cloned() else {
            return;
        };
        let own = match component {
            Component::Enrollment | Component::BroadcastData => 0,
            _ => self.addr().unwrap_or(0),
        };
        self.events.push_back(MemberEvent::Write {
            flow,
            sdu: cacep::request(component, own),
        });
        self.n1.insert(
            flow,
            N1::Answering {
                component,
                by: now + CACEP_TIMEOUT,
            },
        );
    }

    /// A flow to this member arrived through the IRM: the peer's CACEP
    /// request comes first.
    pub fn n1_arrived(&mut self, now: Instant, flow: FlowId) {
        self.n1.insert(
            flow,
            N1::Accepting {
                by: now + CACEP_TIMEOUT,
            },
        );
    }

    /// The flow is gone (released by the peer, or never allocated).
    pub fn n1_gone(&mut self, now: Instant, flow: FlowId) {
        match self.n1.remove(&flow) {
            Some(N1::Requested {
                component: Component::Enrollment,
            })
            | Some(N1::Answering {
                component: Component::Enrollment,
                ..
            })
            | Some(N1::Enrolling { .. }) => {
                self.enrol_failed("the flow to the member went down".to_owned());
            }
            Some(N1::Requested { .. } | N1::Answering { .. }) => {
                self.events.push_back(MemberEvent::Connected { flow, ok: false });
            }
            Some(N1::Mgmt) => {
                if let Some(run) = &mut self.run {
                    run.lsdb.mgmt_down(u64::from(flow.0));
                }
            }
            Some(N1::Dt { nb }) => self.dt_down(flow, nb),
            _ => {}
        }
        self.pump(now);
    }

    fn dt_down(&mut self, flow: FlowId, nb: Addr) {
        self.events.push_back(MemberEvent::DtDown { flow, nb });
        // Another DT flow to the same neighbour keeps the adjacency.
        let still = self.n1.values().any(|s| matches!(s, N1::Dt { nb: n } if *n == nb));
        if !still
            && self.kind == IpcpType::Unicast
            && let Some(run) = &mut self.run
        {
            run.lsdb.dt_down(nb);
        }
    }

    fn close(&mut self, flow: FlowId, why: MemberDrop) {
        self.drop_for(why);
        self.n1.remove(&flow);
        self.events.push_back(MemberEvent::Dealloc { flow });
    }

    fn enrol_failed(&mut self, why: String) {
        self.events.push_back(MemberEvent::EnrolFailed { why });
    }

    /// An SDU read from N-1 flow `flow`.
    pub fn n1_sdu(&mut self, now: Instant, flow: FlowId, sdu: &[u8]) {
        let Some(state) = self.n1.get(&flow).cloned() else {
            return self.drop_for(MemberDrop::Unexpected);
        };
        match state {
            N1::Requested { .. } => self.drop_for(MemberDrop::Unexpected),
            N1::Answering { component, .. } => match cacep::check_answer(component, sdu) {
                Ok(nb) => {
                    self.component_up(now, flow, component, nb, true);
                    if component != Component::Enrollment {
                        self.events.push_back(MemberEvent::Connected { flow, ok: true });
                    }
                }
                Err(_) => {
                    if component == Component::Enrollment {
                        self.enrol_failed("the member has no enrolment component".to_owned());
                    } else {
                        self.events.push_back(MemberEvent::Connected { flow, ok: false });
                    }
                    self.close(flow, MemberDrop::Cacep);
                }
            },
            N1::Accepting { .. } => {
                let components: &[Component] = match (&self.run, self.kind) {
                    (None, _) => &[],
                    (Some(_), IpcpType::Broadcast) => &[Component::BroadcastData, Component::Enrollment],
                    (Some(_), _) => &[Component::DataTransfer, Component::Management, Component::Enrollment],
                };
                let own = self.addr().unwrap_or(0);
                match cacep::accept(sdu, components, own) {
                    Ok(acc) => {
                        self.events.push_back(MemberEvent::Write { flow, sdu: acc.answer });
                        match acc.to {
                            Some((component, nb)) => self.component_up(now, flow, component, nb, false),
                            None => self.close(flow, MemberDrop::Cacep),
                        }
                    }
                    Err(_) => self.close(flow, MemberDrop::Cacep),
                }
            }
            N1::Enrolling { enrollee, .. } => {
                let now_ns = i128::from(self.unix(now)) * 1_000_000_000;
                match enrollee.response(sdu, now_ns) {
                    Ok(enrolled) => {
                        let addr = self.random_addr();
                        let layer = enrolled.layer.clone();
                        self.start(now, layer.clone(), addr);
                        self.events.push_back(MemberEvent::Write {
                            flow,
                            sdu: enrollee.ack(),
                        });
                        self.n1.remove(&flow);
                        self.events.push_back(MemberEvent::Enrolled {
                            layer,
                            addr,
                            clock_offset_ns: enrolled.clock_offset_ns,
                        });
                        self.events.push_back(MemberEvent::Dealloc { flow });
                    }
                    Err(e) => {
                        self.enrol_failed(format!("the member's answer: {e}"));
                        self.close(flow, MemberDrop::Oep);
                    }
                }
            }
            N1::Serving { id, by } if id.is_empty() => {
                // The enrollee's request: answered with the layer.
                let Some(run) = &self.run else { return };
                let now_ns = i128::from(self.unix(now)) * 1_000_000_000;
                match enroll::answer(sdu, &run.layer, run.addr, now_ns) {
                    Ok((resp, id)) => {
                        self.events.push_back(MemberEvent::Write { flow, sdu: resp });
                        self.n1.insert(flow, N1::Serving { id, by });
                    }
                    Err(_) => self.close(flow, MemberDrop::Oep),
                }
            }
            N1::Serving { id, .. } => {
                // The enrollee releases the flow once it acked.
                if enroll::check_ack(sdu, &id).is_err() {
                    self.drop_for(MemberDrop::Oep);
                }
                self.n1.remove(&flow);
            }
            N1::Mgmt => {
                if let Some(run) = &mut self.run {
                    let _ = run.lsdb.receive_sdu(now, u64::from(flow.0), sdu);
                }
            }
            N1::Dt { .. } => self.drop_for(MemberDrop::Unexpected),
        }
        self.pump(now);
    }

    /// CACEP is done on `flow`: it belongs to `component`, to `nb`.
    fn component_up(&mut self, now: Instant, flow: FlowId, component: Component, nb: Addr, requester: bool) {
        match (component, requester) {
            (Component::Enrollment, true) => {
                let mut id = [0u8; enroll::ID_LEN];
                self.rng.fill(&mut id);
                let (enrollee, req) = Enrollee::new(id, self.kind);
                self.events.push_back(MemberEvent::Write { flow, sdu: req });
                self.n1.insert(
                    flow,
                    N1::Enrolling {
                        enrollee,
                        by: now + OEP_TIMEOUT,
                    },
                );
            }
            (Component::Enrollment, false) => {
                // The enrollee's request comes next.
                self.n1.insert(
                    flow,
                    N1::Serving {
                        id: Vec::new(),
                        by: now + OEP_TIMEOUT,
                    },
                );
            }
            (Component::Management, _) => {
                self.n1.insert(flow, N1::Mgmt);
                if let Some(run) = &mut self.run {
                    run.lsdb.mgmt_up(u64::from(flow.0));
                }
            }
            (Component::DataTransfer, _) => {
                self.n1.insert(flow, N1::Dt { nb });
                self.events.push_back(MemberEvent::DtUp { flow, nb });
                if let Some(run) = &mut self.run {
                    run.lsdb.dt_up(now, nb);
                }
            }
            (Component::BroadcastData, _) if self.kind == IpcpType::Broadcast => {
                // Broadcast neighbours have no address: packets go to all.
                self.n1.insert(flow, N1::Dt { nb: 0 });
                self.events.push_back(MemberEvent::DtUp { flow, nb: 0 });
            }
            (Component::BroadcastData, _) => self.close(flow, MemberDrop::Cacep),
        }
    }

    // ---- the layer's components ----------------------------------------

    /// The payload of a DT packet to component `eid` of this member.
    pub fn dt_received(&mut self, now: Instant, eid: u64, payload: &[u8]) {
        let Some(run) = &mut self.run else { return };
        match eid {
            FA_EID => {
                let _ = run.fa.receive(now, payload);
            }
            DHT_EID => {
                let _ = run.dht.receive(now, payload);
            }
            _ => self.drop_for(MemberDrop::UnknownEid),
        }
        self.pump(now);
    }

    /// Makes `hash` reachable at this member.
    pub fn register(&mut self, now: Instant, hash: NameHash) {
        self.registered.insert(hash);
        if let Some(run) = &mut self.run {
            run.dht.register(now, hash.as_ref());
        }
        self.pump(now);
    }

    pub fn unregister(&mut self, now: Instant, hash: &NameHash) {
        self.registered.remove(hash);
        if let Some(run) = &mut self.run {
            run.dht.unregister(hash.as_ref());
        }
        self.pump(now);
    }

    /// Whether the layer reaches `hash`: answered by
    /// [`MemberEvent::QueryDone`].
    pub fn query(&mut self, now: Instant, hash: NameHash) {
        let Some(run) = &mut self.run else {
            self.events.push_back(MemberEvent::QueryDone { hash, known: false });
            return;
        };
        let q = run.dht.query(now, hash.as_ref());
        run.queries.insert(q, hash);
        self.pump(now);
    }

    /// Allocates `flow` to where `hash` is (looked up again unless a query
    /// just found it), with the IRM's OAP request.
    pub fn alloc(&mut self, now: Instant, flow: FlowId, hash: NameHash, qos: QosSpec, oap: Vec<u8>) {
        let Some(run) = &mut self.run else {
            self.events.push_back(MemberEvent::Fa(FaEvent::AllocFailed {
                flow,
                code: -libc::EHOSTUNREACH,
            }));
            return;
        };
        match run.found.get(&hash) {
            Some(&dst) => run.fa.alloc(now, flow, dst, &hash, qos, &oap),
            None => {
                let q = run.dht.query(now, hash.as_ref());
                run.queries.insert(q, hash);
                run.lookups.insert(q, (flow, qos, oap));
            }
        }
        self.pump(now);
    }

    /// The IRM took arrival `eid` as `flow`.
    pub fn arrived_as(&mut self, eid: u64, flow: FlowId) {
        if let Some(run) = &mut self.run {
            run.fa.arrived_as(eid, flow);
        }
    }

    /// The IRM refused arrival `eid`.
    pub fn refuse_arrival(&mut self, now: Instant, eid: u64, code: i32) {
        if let Some(run) = &mut self.run {
            run.fa.refuse_arrival(eid, code);
        }
        self.pump(now);
    }

    /// The responder's answer for `flow`.
    pub fn respond(&mut self, now: Instant, flow: FlowId, code: i32, oap: &[u8]) {
        if let Some(run) = &mut self.run {
            run.fa.respond(flow, code, oap);
        }
        self.pump(now);
    }

    /// Forgets `flow`; its EID, to take out of the dataplane.
    pub fn dealloc(&mut self, flow: FlowId) -> Option<u64> {
        self.run.as_mut().and_then(|r| r.fa.dealloc(flow))
    }

    // ---- time ------------------------------------------------------------

    pub fn poll_timeout(&self) -> Option<Instant> {
        let n1 = self.n1.values().filter_map(|s| match s {
            N1::Answering { by, .. } | N1::Accepting { by } | N1::Enrolling { by, .. } | N1::Serving { by, .. } => {
                Some(*by)
            }
            _ => None,
        });
        let run = self.run.iter().flat_map(|r| {
            [
                Some(r.lsdb.poll_timeout()),
                Some(r.dht.poll_timeout()),
                r.fa.poll_timeout(),
                r.pending.front().map(|p| p.0 + PENDING_FOR),
            ]
            .into_iter()
            .flatten()
        });
        n1.chain(run).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        // (flow, enrolling, a connection this member asked for)
        let mut late: Vec<(FlowId, bool, bool)> = self
            .n1
            .iter()
            .filter_map(|(&f, s)| match s {
                N1::Answering { by, component } if *by <= now => {
                    let enrolling = *component == Component::Enrollment;
                    Some((f, enrolling, !enrolling))
                }
                N1::Enrolling { by, .. } if *by <= now => Some((f, true, false)),
                N1::Accepting { by } | N1::Serving { by, .. } if *by <= now => Some((f, false, false)),
                _ => None,
            })
            .collect();
        late.sort_by_key(|l| l.0);
        for (flow, enrolling, connecting) in late {
            if enrolling {
                self.enrol_failed("the member did not answer in time".to_owned());
            }
            if connecting {
                self.events.push_back(MemberEvent::Connected { flow, ok: false });
            }
            let why = if enrolling { MemberDrop::Oep } else { MemberDrop::Cacep };
            self.close(flow, why);
        }
        if let Some(run) = &mut self.run {
            if run.lsdb.poll_timeout() <= now {
                run.lsdb.handle_timeout(now);
            }
            if run.dht.poll_timeout() <= now {
                run.dht.handle_timeout(now);
            }
            if run.fa.poll_timeout().is_some_and(|t| t <= now) {
                run.fa.handle_timeout(now);
            }
            let mut expired = 0;
            while run.pending.front().is_some_and(|p| p.0 + PENDING_FOR <= now) {
                run.pending.pop_front();
                expired += 1;
            }
            for _ in 0..expired {
                self.drop_for(MemberDrop::NoRoute);
            }
        }
        self.pump(now);
    }

    // ---- the components' events ------------------------------------------

    /// Drains the components' events into the member's own.
    fn pump(&mut self, now: Instant) {
        let Some(run) = &mut self.run else { return };
        let mut recompute = false;
        let mut out: Vec<(Addr, u64, Vec<u8>)> = Vec::new();
        while let Some(e) = run.lsdb.poll_event() {
            match e {
                LsrEvent::Send { to, lsm } => {
                    let mut buf = vec![0u8; o7s_wire::lsm::LEN];
                    lsm.emit(&mut o7s_wire::lsm::Lsm::new_unchecked(&mut buf[..]));
                    self.events.push_back(MemberEvent::Write {
                        flow: FlowId(to as u32),
                        sdu: buf,
                    });
                }
                LsrEvent::Recompute => recompute = true,
            }
        }
        if recompute {
            let routes = run.lsdb.graph().routes(run.addr, run.config.routing.policy);
            run.routes = Some(routes.clone());
            self.events.push_back(MemberEvent::Routes(routes));
            // The directory of an enrolled member starts once it can reach
            // the member it enrolled with.
            let peer = run.layer.peer;
            let reach = run.routes.as_ref().is_some_and(|r| r.primary(peer).is_some());
            if run.dht_started.is_none() && reach {
                run.dht_started = Some(now);
                run.dht.start(now);
            }
            // What waited for a route.
            let waiting = std::mem::take(&mut run.pending);
            for (since, dst, eid, payload) in waiting {
                if run.routes.as_ref().is_some_and(|r| r.primary(dst).is_some()) {
                    out.push((dst, eid, payload));
                } else {
                    run.pending.push_back((since, dst, eid, payload));
                }
            }
        }
        while let Some(e) = run.dht.poll_event() {
            match e {
                DhtEvent::Send { to, msg } => out.push((to, DHT_EID, msg)),
                DhtEvent::Resolved { query, addr } => {
                    let Some(hash) = run.queries.remove(&query) else {
                        continue;
                    };
                    if let Some(a) = addr {
                        run.found.insert(hash, a);
                    }
                    match run.lookups.remove(&query) {
                        Some((flow, qos, oap)) => match addr {
                            Some(dst) => run.fa.alloc(now, flow, dst, &hash, qos, &oap),
                            None => self.events.push_back(MemberEvent::Fa(FaEvent::AllocFailed {
                                flow,
                                code: -libc::EHOSTUNREACH,
                            })),
                        },
                        None => self.events.push_back(MemberEvent::QueryDone {
                            hash,
                            known: addr.is_some(),
                        }),
                    }
                }
            }
        }
        while let Some(e) = run.fa.poll_event() {
            match e {
                FaEvent::Send { to, msg } => out.push((to, FA_EID, msg)),
                other => self.events.push_back(MemberEvent::Fa(other)),
            }
        }
        let mut dropped = 0;
        for (dst, eid, payload) in out {
            if dst == run.addr {
                // To this member itself (a name registered here): no hop.
                self.events.push_back(MemberEvent::SendDt { dst, eid, payload });
            } else if run.routes.as_ref().is_some_and(|r| r.primary(dst).is_some()) {
                self.events.push_back(MemberEvent::SendDt { dst, eid, payload });
            } else if run.pending.len() < MAX_PENDING {
                run.pending.push_back((now, dst, eid, payload));
            } else {
                dropped += 1;
            }
        }
        for _ in 0..dropped {
            self.drop_for(MemberDrop::NoRoute);
        }
    }
}

/// The cube component messages travel in.
pub const MGMT_CUBE: QosCube = QosCube::BestEffort;

#[cfg(test)]
#[path = "member_tests.rs"]
mod tests;
