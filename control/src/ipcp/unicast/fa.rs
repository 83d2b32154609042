//! The flow allocator of a unicast layer (PROTOCOL.md §8, §9's
//! FLOW_UPDATE), sans IO: requests from the IRM and FA messages in;
//! FA messages to (address, EID 0) and flows to program out.
//!
//! ```text
//!  requester                                        responder
//!  alloc(flow, A, hash, qos, oap) ── FLOW_REQ ─────► RequestArrived → IRM → arrived_as(eid, flow)
//!     (20 s without a reply: AllocFailed -ETIMEDOUT)  respond(flow, 0, oap) ──┐  FlowUp
//!  FlowUp (or AllocFailed) ◄────── FLOW_REPLY ──────────────────────────────────┘
//!  dealloc(flow): local only, no message (the peer learns it by keepalive)
//!  update(flow, ece) ─────────── FLOW_UPDATE ──────► Congestion { flow, ece }
//! ```
//!
//! A flow's EID here is (32 random bits << 32) | descriptor, the
//! descriptor the lowest free one from 64, as the C flow allocator
//! chooses it; a reply or update must name an EID exactly, the random
//! half guarding against a stale peer.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use o7s_wire::fa::{FaCode, FaMessage, FaRepr};
use o7s_wire::hash::NameHash;
use o7s_wire::qos::{QosCube, QosSpec};

use crate::ipcp::unicast::lsr::Addr;
use crate::irm::FlowId;

/// How long a request waits for its reply (C: 20 s).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// The lowest flow descriptor; below are the layer's components.
pub const FIRST_DESCRIPTOR: u32 = 64;
/// Flows one member keeps at most.
pub const MAX_FLOWS: usize = 1 << 16;

/// What the flow allocator asks its task to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaEvent {
    /// Send this FA message to (`to`, EID 0), cube 0.
    Send { to: Addr, msg: Vec<u8> },
    /// A flow is up: DT packets to `eid` here are its; its SDUs go to
    /// (`peer`, `peer_eid`) in `cube`.
    FlowUp {
        flow: FlowId,
        eid: u64,
        peer: Addr,
        peer_eid: u64,
        cube: QosCube,
        /// The responder's OAP response (requester side).
        data: Vec<u8>,
    },
    /// The allocation failed: the peer's negative response, or
    /// -ETIMEDOUT.
    AllocFailed { flow: FlowId, code: i32 },
    /// A peer asks for a flow to a name registered here: hand it to the
    /// IRM, then [`FaCore::arrived_as`] or [`FaCore::refuse_arrival`].
    RequestArrived {
        eid: u64,
        hash: NameHash,
        qos: QosSpec,
        peer: Addr,
        data: Vec<u8>,
    },
    /// The peer of a flow reports congestion (mb-ECN).
    Congestion { flow: FlowId, ece: u16 },
}

/// Why an FA message was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaDrop {
    /// It did not parse.
    Malformed,
    /// A request from address 0 or for a hash of another length.
    Invalid,
    /// A reply or update for no flow with that EID.
    UnknownEid,
    /// No room for another flow.
    Full,
}

impl FaDrop {
    pub const ALL: [FaDrop; 4] = [FaDrop::Malformed, FaDrop::Invalid, FaDrop::UnknownEid, FaDrop::Full];

    /// The reason's name in counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            FaDrop::Malformed => "fa-malformed",
            FaDrop::Invalid => "fa-invalid",
            FaDrop::UnknownEid => "fa-unknown-eid",
            FaDrop::Full => "fa-full",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Requested, waiting for the reply since then.
    Requested {
        since: Instant,
        cube: QosCube,
    },
    /// Arrived from the peer, with the IRM.
    Arrived {
        peer_eid: u64,
        cube: QosCube,
    },
    Up {
        peer_eid: u64,
        cube: QosCube,
    },
}

#[derive(Debug, Clone)]
struct Flow {
    peer: Addr,
    irm: Option<FlowId>,
    state: State,
}

/// One member's flow allocator.
#[derive(Debug)]
pub struct FaCore {
    own: Addr,
    hash_len: usize,
    rng: fastrand::Rng,
    flows: HashMap<u64, Flow>,
    by_irm: HashMap<FlowId, u64>,
    free: BTreeSet<u32>,
    next_descriptor: u32,
    events: VecDeque<FaEvent>,
    drops: HashMap<FaDrop, u64>,
}

impl FaCore {
    /// The flow allocator of member `own` in a layer of `hash_len`-octet
    /// hashes; `seed` seeds the EIDs' random halves.
    pub fn new(own: Addr, hash_len: usize, seed: u64) -> FaCore {
        FaCore {
            own,
            hash_len,
            rng: fastrand::Rng::with_seed(seed),
            flows: HashMap::new(),
            by_irm: HashMap::new(),
            free: BTreeSet::new(),
            next_descriptor: FIRST_DESCRIPTOR,
            events: VecDeque::new(),
            drops: HashMap::new(),
        }
    }

    pub fn poll_event(&mut self) -> Option<FaEvent> {
        self.events.pop_front()
    }

    /// Messages refused so far, by reason.
    pub fn drops(&self) -> &HashMap<FaDrop, u64> {
        &self.drops
    }

    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    fn new_eid(&mut self) -> Option<u64> {
        if self.flows.len() >= MAX_FLOWS {
            return None;
        }
        let descriptor = match self.free.pop_first() {
            Some(d) => d,
            None => {
                let d = self.next_descriptor;
                self.next_descriptor = d.checked_add(1)?;
                d
            }
        };
        Some(u64::from(self.rng.u32(..)) << 32 | u64::from(descriptor))
    }

    fn release(&mut self, eid: u64) {
        if self.flows.remove(&eid).is_some() {
            self.free.insert(eid as u32);
        }
    }

    fn send(&mut self, to: Addr, repr: &FaRepr<'_>) {
        let mut buf = vec![0u8; repr.buffer_len()];
        if repr.emit(&mut FaMessage::new_unchecked(&mut buf[..])).is_ok() {
            self.events.push_back(FaEvent::Send { to, msg: buf });
        }
    }

    fn repr(code: FaCode) -> FaRepr<'static> {
        FaRepr {
            code,
            s_addr: 0,
            r_eid: 0,
            s_eid: 0,
            // Zeros, as the C sender writes the QoS of a reply or update.
            qos: QosSpec::UNSET,
            response: 0,
            ece: 0,
            hash: &[],
            data: &[],
        }
    }

    /// Allocates `flow` to the member at `dst` (where the directory says
    /// `hash` is registered), with the IRM's OAP request.
    pub fn alloc(&mut self, now: Instant, flow: FlowId, dst: Addr, hash: &NameHash, qos: QosSpec, oap: &[u8]) {
        let Some(eid) = self.new_eid() else {
            self.events.push_back(FaEvent::AllocFailed {
                flow,
                code: -libc::ENOMEM,
            });
            return;
        };
        self.flows.insert(
            eid,
            Flow {
                peer: dst,
                irm: Some(flow),
                state: State::Requested {
                    since: now,
                    cube: qos.cube(),
                },
            },
        );
        self.by_irm.insert(flow, eid);
        let repr = FaRepr {
            s_addr: self.own,
            s_eid: eid,
            qos,
            hash: hash.as_ref(),
            data: oap,
            ..Self::repr(FaCode::FlowReq)
        };
        self.send(dst, &repr);
    }

    /// The IRM took the arrival `eid` as `flow`.
    pub fn arrived_as(&mut self, eid: u64, flow: FlowId) {
        if let Some(f) = self.flows.get_mut(&eid)
            && matches!(f.state, State::Arrived { .. })
        {
            f.irm = Some(flow);
            self.by_irm.insert(flow, eid);
        }
    }

    /// The IRM refused the arrival `eid` (no process accepts, an OAP
    /// failure): answered with `code`, the flow forgotten.
    pub fn refuse_arrival(&mut self, eid: u64, code: i32) {
        let Some(f) = self.flows.get(&eid) else { return };
        let (peer, State::Arrived { peer_eid, .. }) = (f.peer, f.state.clone()) else {
            return;
        };
        let repr = FaRepr {
            r_eid: peer_eid,
            s_eid: eid,
            response: code,
            ..Self::repr(FaCode::FlowReply)
        };
        self.send(peer, &repr);
        self.release(eid);
    }

    /// The responder's answer for `flow`: `code` 0 and the OAP response
    /// bring it up.
    pub fn respond(&mut self, flow: FlowId, code: i32, data: &[u8]) {
        let Some(&eid) = self.by_irm.get(&flow) else { return };
        let Some(f) = self.flows.get(&eid) else { return };
        let State::Arrived { peer_eid, cube } = f.state else {
            return;
        };
        let peer = f.peer;
        let repr = FaRepr {
            r_eid: peer_eid,
            s_eid: eid,
            response: code,
            data,
            ..Self::repr(FaCode::FlowReply)
        };
        self.send(peer, &repr);
        if code == 0 {
            if let Some(f) = self.flows.get_mut(&eid) {
                f.state = State::Up { peer_eid, cube };
            }
            self.events.push_back(FaEvent::FlowUp {
                flow,
                eid,
                peer,
                peer_eid,
                cube,
                data: Vec::new(),
            });
        } else {
            self.by_irm.remove(&flow);
            self.release(eid);
        }
    }

    /// Forgets `flow` (no message: the peer finds out by keepalive);
    /// returns its EID to take out of the dataplane.
    pub fn dealloc(&mut self, flow: FlowId) -> Option<u64> {
        let eid = self.by_irm.remove(&flow)?;
        self.release(eid);
        Some(eid)
    }

    /// Tells the peer of `flow` the congestion level its packets met.
    pub fn update(&mut self, flow: FlowId, ece: u16) {
        let Some(f) = self.by_irm.get(&flow).and_then(|e| self.flows.get(e)) else {
            return;
        };
        let State::Up { peer_eid, .. } = f.state else { return };
        let peer = f.peer;
        let repr = FaRepr {
            r_eid: peer_eid,
            ece,
            ..Self::repr(FaCode::FlowUpdate)
        };
        self.send(peer, &repr);
    }

    fn refuse(&mut self, why: FaDrop) -> Result<(), FaDrop> {
        *self.drops.entry(why).or_default() += 1;
        Err(why)
    }

    /// An FA message (the payload of a DT packet to EID 0).
    pub fn receive(&mut self, now: Instant, msg: &[u8]) -> Result<(), FaDrop> {
        let Ok(repr) = FaMessage::new_checked(msg).and_then(|m| FaRepr::parse(&m, self.hash_len)) else {
            return self.refuse(FaDrop::Malformed);
        };
        let _ = now;
        match repr.code {
            FaCode::FlowReq => {
                let Some(hash) = NameHash::from_bytes(repr.hash).filter(|h| h.len() == self.hash_len) else {
                    return self.refuse(FaDrop::Invalid);
                };
                if repr.s_addr == 0 {
                    return self.refuse(FaDrop::Invalid);
                }
                let Some(eid) = self.new_eid() else {
                    return self.refuse(FaDrop::Full);
                };
                let cube = repr.qos.cube();
                self.flows.insert(
                    eid,
                    Flow {
                        peer: repr.s_addr,
                        irm: None,
                        state: State::Arrived {
                            peer_eid: repr.s_eid,
                            cube,
                        },
                    },
                );
                self.events.push_back(FaEvent::RequestArrived {
                    eid,
                    hash,
                    qos: repr.qos,
                    peer: repr.s_addr,
                    data: repr.data.to_vec(),
                });
            }
            FaCode::FlowReply => {
                let Some(f) = self.flows.get_mut(&repr.r_eid) else {
                    return self.refuse(FaDrop::UnknownEid);
                };
                let (State::Requested { cube, .. }, Some(flow)) = (f.state.clone(), f.irm) else {
                    return self.refuse(FaDrop::UnknownEid);
                };
                if repr.response == 0 {
                    f.state = State::Up {
                        peer_eid: repr.s_eid,
                        cube,
                    };
                    let peer = f.peer;
                    self.events.push_back(FaEvent::FlowUp {
                        flow,
                        eid: repr.r_eid,
                        peer,
                        peer_eid: repr.s_eid,
                        cube,
                        data: repr.data.to_vec(),
                    });
                } else {
                    self.by_irm.remove(&flow);
                    self.release(repr.r_eid);
                    self.events.push_back(FaEvent::AllocFailed {
                        flow,
                        code: repr.response.min(-1),
                    });
                }
            }
            FaCode::FlowUpdate => {
                let Some(flow) = self
                    .flows
                    .get(&repr.r_eid)
                    .filter(|f| matches!(f.state, State::Up { .. }))
                    .and_then(|f| f.irm)
                else {
                    return self.refuse(FaDrop::UnknownEid);
                };
                self.events.push_back(FaEvent::Congestion { flow, ece: repr.ece });
            }
        }
        Ok(())
    }

    /// When the oldest request times out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.flows
            .values()
            .filter_map(|f| match f.state {
                State::Requested { since, .. } => Some(since + REPLY_TIMEOUT),
                _ => None,
            })
            .min()
    }

    /// Requests without a reply for 20 s fail.
    pub fn handle_timeout(&mut self, now: Instant) {
        let late: Vec<(u64, FlowId)> = self
            .flows
            .iter()
            .filter_map(|(&eid, f)| match f.state {
                State::Requested { since, .. } if now >= since + REPLY_TIMEOUT => f.irm.map(|i| (eid, i)),
                _ => None,
            })
            .collect();
        for (eid, flow) in late {
            self.by_irm.remove(&flow);
            self.release(eid);
            self.events.push_back(FaEvent::AllocFailed {
                flow,
                code: -libc::ETIMEDOUT,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use o7s_wire::hash::{HashAlgo, hash_name};

    fn events(fa: &mut FaCore) -> Vec<FaEvent> {
        std::iter::from_fn(|| fa.poll_event()).collect()
    }

    fn sent(fa: &mut FaCore) -> (Addr, Vec<u8>) {
        match &events(fa)[..] {
            [FaEvent::Send { to, msg }] => (*to, msg.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_flow_is_requested_answered_and_up_at_both_ends_and_updates_reach_the_sender() {
        let t = Instant::now();
        let hash = hash_name(HashAlgo::Sha3_256, "oping");
        let (mut a, mut b) = (FaCore::new(0xa10e_e46e, 32, 1), FaCore::new(0x361a_66f1, 32, 2));
        a.alloc(t, FlowId(7), 0x361a_66f1, &hash, QosSpec::RAW, b"oap-req");
        let (to, req) = sent(&mut a);
        assert_eq!(to, 0x361a_66f1);
        b.receive(t, &req).unwrap();
        let [
            FaEvent::RequestArrived {
                eid,
                hash: h,
                peer,
                data,
                ..
            },
        ] = &events(&mut b)[..]
        else {
            panic!()
        };
        assert_eq!((h, *peer, &data[..]), (&hash, 0xa10e_e46e, &b"oap-req"[..]));
        assert_eq!(*eid as u32, FIRST_DESCRIPTOR, "the first descriptor");
        let b_eid = *eid;
        b.arrived_as(b_eid, FlowId(9));
        b.respond(FlowId(9), 0, b"oap-rsp");
        let ev = events(&mut b);
        let [
            FaEvent::Send { to, msg: reply },
            FaEvent::FlowUp {
                flow, eid, peer_eid, ..
            },
        ] = &ev[..]
        else {
            panic!("{ev:?}")
        };
        assert_eq!((*to, *flow, *eid), (0xa10e_e46e, FlowId(9), b_eid));
        a.receive(t, reply).unwrap();
        let ev = events(&mut a);
        let [
            FaEvent::FlowUp {
                flow,
                eid: a_eid,
                peer,
                peer_eid: pe,
                cube,
                data,
            },
        ] = &ev[..]
        else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (*flow, *peer, *pe, *cube, &data[..]),
            (FlowId(7), 0x361a_66f1, b_eid, QosCube::BestEffort, &b"oap-rsp"[..])
        );
        assert_eq!(peer_eid, a_eid, "each end knows the other's EID");

        b.update(FlowId(9), 42);
        let (_, update) = sent(&mut b);
        a.receive(t, &update).unwrap();
        assert_eq!(
            events(&mut a),
            [FaEvent::Congestion {
                flow: FlowId(7),
                ece: 42
            }]
        );
        // Deallocation is local: the EID is gone and its descriptor free.
        assert_eq!(a.dealloc(FlowId(7)), Some(*a_eid));
        assert_eq!(a.receive(t, &update), Err(FaDrop::UnknownEid));
    }

    #[test]
    fn a_refusal_or_silence_fails_the_allocation() {
        let t = Instant::now();
        let hash = hash_name(HashAlgo::Sha3_256, "x");
        let (mut a, mut b) = (FaCore::new(1, 32, 1), FaCore::new(2, 32, 2));
        a.alloc(t, FlowId(1), 2, &hash, QosSpec::RAW, &[]);
        let (_, req) = sent(&mut a);
        b.receive(t, &req).unwrap();
        let [FaEvent::RequestArrived { eid, .. }] = &events(&mut b)[..] else {
            panic!()
        };
        b.refuse_arrival(*eid, -libc::ECONNREFUSED);
        let (_, reply) = sent(&mut b);
        assert_eq!(b.flow_count(), 0);
        a.receive(t, &reply).unwrap();
        assert_eq!(
            events(&mut a),
            [FaEvent::AllocFailed {
                flow: FlowId(1),
                code: -libc::ECONNREFUSED
            }]
        );

        a.alloc(t, FlowId(2), 2, &hash, QosSpec::RAW, &[]);
        let _ = events(&mut a);
        assert_eq!(a.poll_timeout(), Some(t + REPLY_TIMEOUT));
        a.handle_timeout(t + REPLY_TIMEOUT);
        assert_eq!(
            events(&mut a),
            [FaEvent::AllocFailed {
                flow: FlowId(2),
                code: -libc::ETIMEDOUT
            }]
        );
    }

    #[test]
    fn replies_for_other_eids_and_garbage_are_refused_by_reason() {
        let t = Instant::now();
        let mut a = FaCore::new(1, 32, 1);
        let hash = hash_name(HashAlgo::Sha3_256, "x");
        a.alloc(t, FlowId(1), 2, &hash, QosSpec::RAW, &[]);
        let (_, req) = sent(&mut a);
        let mut b = FaCore::new(2, 32, 2);
        b.receive(t, &req).unwrap();
        let [FaEvent::RequestArrived { eid, .. }] = &events(&mut b)[..] else {
            panic!()
        };
        b.arrived_as(*eid, FlowId(5));
        b.respond(FlowId(5), 0, &[]);
        let reply = match &events(&mut b)[0] {
            FaEvent::Send { msg, .. } => msg.clone(),
            e => panic!("{e:?}"),
        };
        // The requester's EID with another random half: stale.
        let mut stale = reply.clone();
        stale[8] ^= 0xff;
        assert_eq!(a.receive(t, &stale), Err(FaDrop::UnknownEid));
        assert_eq!(a.receive(t, &reply[..40]), Err(FaDrop::Malformed));
        let mut from_nowhere = req.clone();
        from_nowhere[..8].fill(0);
        assert_eq!(
            FaCore::new(3, 32, 3).receive(t, &from_nowhere),
            Err(FaDrop::Invalid),
            "s_addr 0"
        );
        assert_eq!(a.drops()[&FaDrop::UnknownEid], 1);
        a.receive(t, &reply).unwrap();
    }
}
