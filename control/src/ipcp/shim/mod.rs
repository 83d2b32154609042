//! The control half of the shim IPCPs (eth-dix, eth-llc, udp4, udp6): the
//! directory cache, flow allocation over management messages, and the
//! EIDs of the flows, as one sans-IO state machine shared by every shim
//! (PROTOCOL.md §2.3, §3, §4.3). Only the peer's address type differs: a
//! MAC address on Ethernet, a socket address over UDP.
//!
//! ```text
//!  IRM query ──> query(hash) ── cached ─────────────────────────> known
//!                   │ not cached: eth ─> Send NameQuery to broadcast ──> NameReply ─> cache, QueryDone
//!                   │             udp ─> Resolve(hash) ──> resolved(hash, addr) ──────> cache, QueryDone
//!  IRM allocate ─> alloc(flow) ─> Send FlowReq{requester: eid} to the cached peer
//!                                     FlowReply{requester: eid} from that peer ─> FlowUp / AllocFailed
//!  FlowReq{hash registered} ─> RequestArrived{eid} ─> IRM ─> arrived_as(eid, flow)
//!                                  respond(flow, ok) ─> Send FlowReply ─> FlowUp (if ok)
//!  dealloc(flow): local only; the peer learns of it end to end (§2.3)
//! ```
//!
//! Time comes in as `now`; the machine asks for its next deadline with
//! [`ShimCore::poll_timeout`]. Everything it wants done comes out of
//! [`ShimCore::poll_event`]. Messages that cannot be used are refused with
//! a [`MgmtDrop`] reason, counted, and change nothing.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use o7s_wire::hash::NameHash;
use o7s_wire::qos::QosSpec;
use o7s_wire::shim_mgmt::ShimMgmt;

use crate::irm::FlowId;

/// How long a name query waits for a reply (the C shims' 2 s).
pub const NAME_QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a flow request waits for its reply (`FLOW_ALLOC_TIMEOUT`).
pub const FLOW_REPLY_TIMEOUT: Duration = crate::irm::FLOW_ALLOC_TIMEOUT;

/// What a shim's peers are addressed by.
pub trait PeerAddr: Copy + Eq + Hash + Ord + Debug + Display {}
impl<T: Copy + Eq + Hash + Ord + Debug + Display> PeerAddr for T {}

/// How one kind of shim differs from the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimConfig {
    /// EIDs (SAPs) this IPCP gives its flows.
    pub eids: RangeInclusive<u32>,
    /// Octets of a name hash in this layer.
    pub hash_len: usize,
    /// Names are found by broadcast queries (Ethernet), else through an
    /// outside directory ([`ShimEvent::Resolve`], UDP).
    pub broadcast_queries: bool,
}

impl ShimConfig {
    /// eth-dix: 16-bit EIDs (the C shim uses its flow descriptors, 64 and
    /// up; any non-zero value is legal).
    pub fn eth_dix(hash_len: usize) -> ShimConfig {
        ShimConfig {
            eids: 64..=u32::from(u16::MAX),
            hash_len,
            broadcast_queries: true,
        }
    }

    /// eth-llc: SAPs 2–127 (§3): 0 is the null SAP, 1 management, and
    /// from 128 on the reversed octet on the wire would be a group DSAP.
    /// (The C shim keeps a pool of 64; the SAPs it gives are its own, so
    /// a wider range here only changes what a C peer is sent to.)
    pub fn eth_llc(hash_len: usize) -> ShimConfig {
        ShimConfig {
            eids: 2..=127,
            hash_len,
            broadcast_queries: true,
        }
    }

    /// udp4 / udp6: 32-bit EIDs, names resolved outside (MD5, 16 octets).
    pub fn udp() -> ShimConfig {
        ShimConfig {
            eids: 64..=u32::MAX,
            hash_len: 16,
            broadcast_queries: false,
        }
    }
}

/// Where a management message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest<A> {
    /// Every member of the layer (name queries).
    Broadcast,
    /// One peer.
    Peer(A),
}

/// A management message to send, owning its octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MgmtMsg {
    NameQuery {
        hash: NameHash,
    },
    NameReply {
        hash: NameHash,
    },
    FlowReq {
        requester: u32,
        qos: QosSpec,
        hash: NameHash,
        data: Vec<u8>,
    },
    FlowReply {
        requester: u32,
        responder: u32,
        response: i32,
        data: Vec<u8>,
    },
}

impl MgmtMsg {
    /// The wire meaning of this message, borrowing it.
    pub fn as_wire(&self) -> ShimMgmt<'_> {
        match self {
            MgmtMsg::NameQuery { hash } => ShimMgmt::NameQuery { hash: hash.as_bytes() },
            MgmtMsg::NameReply { hash } => ShimMgmt::NameReply { hash: hash.as_bytes() },
            MgmtMsg::FlowReq {
                requester,
                qos,
                hash,
                data,
            } => ShimMgmt::FlowReq {
                requester: *requester,
                qos: *qos,
                hash: hash.as_bytes(),
                data,
            },
            MgmtMsg::FlowReply {
                requester,
                responder,
                response,
                data,
            } => ShimMgmt::FlowReply {
                requester: *requester,
                responder: *responder,
                response: *response,
                data,
            },
        }
    }
}

/// What the shim asks of its task and of irmd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShimEvent<A> {
    /// Send this management message.
    Send { to: Dest<A>, msg: MgmtMsg },
    /// Look this hash up in the outside directory; answer with
    /// [`ShimCore::resolved`].
    Resolve { hash: NameHash },
    /// The answer to a [`ShimCore::query`] that could not be given at once.
    QueryDone { hash: NameHash, known: bool },
    /// A flow is up: program the dataplane (frames from `peer` with EID
    /// `eid` are the flow's; the flow's SDUs go to `peer` with `peer_eid`).
    FlowUp {
        flow: FlowId,
        eid: u32,
        peer: A,
        peer_eid: u32,
        /// The peer's piggybacked data (the OAP response, requester side).
        data: Vec<u8>,
    },
    /// The requester's allocation failed with this negative errno (the
    /// peer's response, or -ETIMEDOUT).
    AllocFailed { flow: FlowId, code: i32 },
    /// A peer asks for a flow to a name registered here: hand it to the
    /// IRM, then call [`ShimCore::arrived_as`] (or
    /// [`ShimCore::refuse_arrival`]).
    RequestArrived {
        eid: u32,
        hash: NameHash,
        qos: QosSpec,
        peer: A,
        /// The OAP request.
        data: Vec<u8>,
    },
}

/// Why a management message was not used (counted per reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MgmtDrop {
    /// It did not parse (bad length, unknown code, …).
    Malformed,
    /// A hash of another length than the layer's.
    BadHash,
    /// A flow request for a name not registered here (the C shims ignore
    /// these silently).
    UnknownName,
    /// A flow reply for no flow being allocated.
    UnknownEid,
    /// A flow reply from another peer than the request went to.
    WrongPeer,
    /// A message this shim does not take (a name query over UDP).
    Unexpected,
    /// No EID left for an arriving flow.
    NoEid,
}

impl MgmtDrop {
    pub const ALL: [MgmtDrop; 7] = [
        MgmtDrop::Malformed,
        MgmtDrop::BadHash,
        MgmtDrop::UnknownName,
        MgmtDrop::UnknownEid,
        MgmtDrop::WrongPeer,
        MgmtDrop::Unexpected,
        MgmtDrop::NoEid,
    ];

    /// The reason's name in counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            MgmtDrop::Malformed => "mgmt-malformed",
            MgmtDrop::BadHash => "mgmt-bad-hash",
            MgmtDrop::UnknownName => "mgmt-unknown-name",
            MgmtDrop::UnknownEid => "mgmt-unknown-eid",
            MgmtDrop::WrongPeer => "mgmt-wrong-peer",
            MgmtDrop::Unexpected => "mgmt-unexpected",
            MgmtDrop::NoEid => "mgmt-no-eid",
        }
    }
}

impl Display for MgmtDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an allocation could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("no peer of this layer is known to have the name; query it first")]
    Unreachable,
    #[error("every EID of this layer is in use")]
    NoEid,
    #[error("flow {0} is already allocated here")]
    Duplicate(FlowId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State<A> {
    /// Requester: the FlowReq went to `peer`.
    Requesting {
        peer: A,
        deadline: Instant,
    },
    /// Responder: the request was handed to the IRM (flow known once it
    /// took it).
    Arrived {
        peer: A,
        peer_eid: u32,
    },
    Up {
        peer: A,
        peer_eid: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Flow<A> {
    irm: Option<FlowId>,
    state: State<A>,
}

/// The shim IPCP's control state. See the module docs.
#[derive(Debug, Clone)]
pub struct ShimCore<A> {
    config: ShimConfig,
    registered: BTreeSet<NameHash>,
    /// Hash → the peer that answered for it (every answer is cached, the
    /// latest wins; entries do not expire, as in C).
    directory: HashMap<NameHash, A>,
    /// Queries in flight, by deadline.
    queries: BTreeMap<NameHash, Instant>,
    /// Flows by local EID.
    flows: BTreeMap<u32, Flow<A>>,
    by_irm: HashMap<FlowId, u32>,
    next_eid: u32,
    events: VecDeque<ShimEvent<A>>,
    drops: BTreeMap<MgmtDrop, u64>,
}

impl<A: PeerAddr> ShimCore<A> {
    pub fn new(config: ShimConfig) -> ShimCore<A> {
        let next_eid = *config.eids.start();
        ShimCore {
            config,
            registered: BTreeSet::new(),
            directory: HashMap::new(),
            queries: BTreeMap::new(),
            flows: BTreeMap::new(),
            by_irm: HashMap::new(),
            next_eid,
            events: VecDeque::new(),
            drops: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &ShimConfig {
        &self.config
    }

    /// The next thing to do, oldest first.
    pub fn poll_event(&mut self) -> Option<ShimEvent<A>> {
        self.events.pop_front()
    }

    /// Messages refused so far, by reason.
    pub fn drops(&self) -> &BTreeMap<MgmtDrop, u64> {
        &self.drops
    }

    /// Flows this shim holds (any state).
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    // ---- names -------------------------------------------------------

    /// A name registered here: this member answers queries and takes
    /// flow requests for it.
    pub fn register(&mut self, hash: NameHash) {
        self.registered.insert(hash);
    }

    pub fn unregister(&mut self, hash: &NameHash) {
        self.registered.remove(hash);
    }

    /// Whether a peer of the layer is known to have `hash`: `Some` at
    /// once from the cache, else `None` and the answer comes later as
    /// [`ShimEvent::QueryDone`] (after a broadcast query, or a lookup in
    /// the outside directory).
    pub fn query(&mut self, now: Instant, hash: NameHash) -> Option<bool> {
        if hash.len() != self.config.hash_len {
            return Some(false);
        }
        if self.directory.contains_key(&hash) {
            return Some(true);
        }
        if let std::collections::btree_map::Entry::Vacant(query) = self.queries.entry(hash) {
            query.insert(now + NAME_QUERY_TIMEOUT);
            self.events.push_back(if self.config.broadcast_queries {
                ShimEvent::Send {
                    to: Dest::Broadcast,
                    msg: MgmtMsg::NameQuery { hash },
                }
            } else {
                ShimEvent::Resolve { hash }
            });
        }
        None
    }

    /// The outside directory's answer to a [`ShimEvent::Resolve`] (or a
    /// static entry given at any time).
    pub fn resolved(&mut self, hash: NameHash, peer: Option<A>) {
        if let Some(peer) = peer {
            self.directory.insert(hash, peer);
        }
        if self.queries.remove(&hash).is_some() {
            self.events.push_back(ShimEvent::QueryDone {
                hash,
                known: peer.is_some(),
            });
        }
    }

    // ---- flows -------------------------------------------------------

    fn new_eid(&mut self) -> Option<u32> {
        let (lo, hi) = (*self.config.eids.start(), *self.config.eids.end());
        let span = u64::from(hi - lo) + 1;
        if self.flows.len() as u64 >= span {
            return None;
        }
        loop {
            let eid = self.next_eid;
            self.next_eid = if eid == hi { lo } else { eid + 1 };
            if !self.flows.contains_key(&eid) {
                return Some(eid);
            }
        }
    }

    /// Asks the peer known for `hash` for a flow (FLOW_REQ carrying
    /// `data`, the OAP request); the outcome comes as
    /// [`ShimEvent::FlowUp`] or [`ShimEvent::AllocFailed`].
    pub fn alloc(
        &mut self,
        now: Instant,
        flow: FlowId,
        hash: NameHash,
        qos: QosSpec,
        data: Vec<u8>,
    ) -> Result<(), AllocError> {
        if self.by_irm.contains_key(&flow) {
            return Err(AllocError::Duplicate(flow));
        }
        let peer = *self.directory.get(&hash).ok_or(AllocError::Unreachable)?;
        let eid = self.new_eid().ok_or(AllocError::NoEid)?;
        self.flows.insert(
            eid,
            Flow {
                irm: Some(flow),
                state: State::Requesting {
                    peer,
                    deadline: now + FLOW_REPLY_TIMEOUT,
                },
            },
        );
        self.by_irm.insert(flow, eid);
        self.events.push_back(ShimEvent::Send {
            to: Dest::Peer(peer),
            msg: MgmtMsg::FlowReq {
                requester: eid,
                qos,
                hash,
                data,
            },
        });
        Ok(())
    }

    /// The IRM took the request that arrived as `eid`: it is `flow` now.
    pub fn arrived_as(&mut self, eid: u32, flow: FlowId) {
        if let Some(f) = self.flows.get_mut(&eid)
            && f.irm.is_none()
        {
            f.irm = Some(flow);
            self.by_irm.insert(flow, eid);
        }
    }

    /// The IRM refused the request that arrived as `eid` at once (no
    /// process bound to the name): tell the peer with `code`.
    pub fn refuse_arrival(&mut self, eid: u32, code: i32) {
        if let Some(Flow {
            irm: None,
            state: State::Arrived { peer, peer_eid },
        }) = self.flows.remove(&eid)
        {
            self.send_reply(peer, peer_eid, 0, code, Vec::new());
        }
    }

    /// The responder side's answer for an arrived `flow`: accepted
    /// (`code` 0, `data` the OAP response) brings the flow up, otherwise
    /// the peer is told `code` and the flow is forgotten.
    pub fn respond(&mut self, flow: FlowId, code: i32, data: Vec<u8>) {
        let Some(&eid) = self.by_irm.get(&flow) else { return };
        let Some(Flow {
            state: State::Arrived { peer, peer_eid },
            ..
        }) = self.flows.get(&eid).cloned()
        else {
            return;
        };
        if code == 0 {
            if let Some(f) = self.flows.get_mut(&eid) {
                f.state = State::Up { peer, peer_eid };
            }
            // Up here first (the dataplane takes the flow), then the peer
            // is told: its first SDU finds the flow in place.
            self.events.push_back(ShimEvent::FlowUp {
                flow,
                eid,
                peer,
                peer_eid,
                data: Vec::new(),
            });
            self.send_reply(peer, peer_eid, eid, 0, data);
        } else {
            self.forget(eid);
            self.send_reply(peer, peer_eid, 0, code, data);
        }
    }

    fn send_reply(&mut self, peer: A, requester: u32, responder: u32, response: i32, data: Vec<u8>) {
        self.events.push_back(ShimEvent::Send {
            to: Dest::Peer(peer),
            msg: MgmtMsg::FlowReply {
                requester,
                responder,
                response,
                data,
            },
        });
    }

    /// Releases `flow` here (local only, as in C); returns its EID if it
    /// had one, for the dataplane to forget.
    pub fn dealloc(&mut self, flow: FlowId) -> Option<u32> {
        let eid = *self.by_irm.get(&flow)?;
        self.forget(eid);
        Some(eid)
    }

    fn forget(&mut self, eid: u32) {
        if let Some(f) = self.flows.remove(&eid)
            && let Some(flow) = f.irm
        {
            self.by_irm.remove(&flow);
        }
    }

    // ---- the wire ----------------------------------------------------

    fn drop(&mut self, reason: MgmtDrop) -> Result<(), MgmtDrop> {
        *self.drops.entry(reason).or_default() += 1;
        Err(reason)
    }

    /// A management message that did not parse: counted.
    pub fn malformed(&mut self) {
        let _ = self.drop(MgmtDrop::Malformed);
    }

    /// A management message from `from`.
    pub fn receive(&mut self, now: Instant, from: A, msg: &ShimMgmt<'_>) -> Result<(), MgmtDrop> {
        let hash_of = |octets: &[u8], len: usize| NameHash::from_bytes(octets).filter(|h| h.len() == len);
        match *msg {
            ShimMgmt::NameQuery { hash } => {
                if !self.config.broadcast_queries {
                    return self.drop(MgmtDrop::Unexpected);
                }
                let Some(hash) = hash_of(hash, self.config.hash_len) else {
                    return self.drop(MgmtDrop::BadHash);
                };
                if self.registered.contains(&hash) {
                    self.events.push_back(ShimEvent::Send {
                        to: Dest::Peer(from),
                        msg: MgmtMsg::NameReply { hash },
                    });
                }
                Ok(())
            }
            ShimMgmt::NameReply { hash } => {
                if !self.config.broadcast_queries {
                    return self.drop(MgmtDrop::Unexpected);
                }
                let Some(hash) = hash_of(hash, self.config.hash_len) else {
                    return self.drop(MgmtDrop::BadHash);
                };
                // Every reply is cached, asked for or not (C does too).
                self.resolved(hash, Some(from));
                Ok(())
            }
            ShimMgmt::FlowReq {
                requester,
                qos,
                hash,
                data,
            } => {
                let Some(hash) = hash_of(hash, self.config.hash_len) else {
                    return self.drop(MgmtDrop::BadHash);
                };
                // UDP takes requests for any name and lets the IRM decide
                // (C does); Ethernet answers only for its own names.
                if self.config.broadcast_queries && !self.registered.contains(&hash) {
                    return self.drop(MgmtDrop::UnknownName);
                }
                let Some(eid) = self.new_eid() else {
                    return self.drop(MgmtDrop::NoEid);
                };
                self.flows.insert(
                    eid,
                    Flow {
                        irm: None,
                        state: State::Arrived {
                            peer: from,
                            peer_eid: requester,
                        },
                    },
                );
                self.events.push_back(ShimEvent::RequestArrived {
                    eid,
                    hash,
                    qos,
                    peer: from,
                    data: data.to_vec(),
                });
                Ok(())
            }
            ShimMgmt::FlowReply {
                requester,
                responder,
                response,
                data,
            } => {
                let Some(Flow {
                    irm: Some(flow),
                    state: State::Requesting { peer, .. },
                }) = self.flows.get(&requester).cloned()
                else {
                    return self.drop(MgmtDrop::UnknownEid);
                };
                if peer != from {
                    return self.drop(MgmtDrop::WrongPeer);
                }
                if response == 0 {
                    if let Some(f) = self.flows.get_mut(&requester) {
                        f.state = State::Up {
                            peer,
                            peer_eid: responder,
                        };
                    }
                    self.events.push_back(ShimEvent::FlowUp {
                        flow,
                        eid: requester,
                        peer,
                        peer_eid: responder,
                        data: data.to_vec(),
                    });
                } else {
                    self.forget(requester);
                    // A positive response from a confused peer is still a
                    // refusal.
                    let code = if response < 0 { response } else { -response };
                    self.events.push_back(ShimEvent::AllocFailed { flow, code });
                }
                let _ = now;
                Ok(())
            }
        }
    }

    // ---- timers -------------------------------------------------------

    /// The earliest deadline, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let queries = self.queries.values().copied();
        let allocs = self.flows.values().filter_map(|f| match f.state {
            State::Requesting { deadline, .. } => Some(deadline),
            _ => None,
        });
        queries.chain(allocs).min()
    }

    /// Expires what is due at `now`: queries nobody answered, requests
    /// nobody replied to.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<NameHash> = self
            .queries
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(h, _)| *h)
            .collect();
        for hash in due {
            self.queries.remove(&hash);
            self.events.push_back(ShimEvent::QueryDone { hash, known: false });
        }
        let late: Vec<(u32, FlowId)> = self
            .flows
            .iter()
            .filter_map(|(&eid, f)| match (f.irm, &f.state) {
                (Some(flow), State::Requesting { deadline, .. }) if *deadline <= now => Some((eid, flow)),
                _ => None,
            })
            .collect();
        for (eid, flow) in late {
            self.forget(eid);
            self.events.push_back(ShimEvent::AllocFailed {
                flow,
                code: -libc::ETIMEDOUT,
            });
        }
    }
}
