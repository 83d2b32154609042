//! The flow-allocation broker: requester side (query the layers, allocate
//! on the lowest that knows the name), responder side (match a request to
//! an accepting process, or start one), two-step deallocation, process
//! death and timeouts. See the parent module for the state diagram.

use std::time::{Duration, Instant};

use o7s_wire::hash::{NameHash, hash_name};
use o7s_wire::qos::QosSpec;

use super::{
    AllocFailure, FLOW_ALLOC_TIMEOUT, FlowId, FlowInfo, FlowState, IpcpType, Irm, IrmError, IrmEvent, LoadBalance,
    QUERY_TIMEOUT, REQ_ARR_TIMEOUT, valid,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Flow {
    pid: Option<u32>,
    name: String,
    ipcp: Option<String>,
    hash: Option<NameHash>,
    qos: QosSpec,
    started: Instant,
    phase: Phase,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    ipcp: String,
    hash: NameHash,
    known: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Requester: waiting for the layers' answers (best first).
    Querying {
        candidates: Vec<Candidate>,
        deadline: Instant,
    },
    /// Requester: the IPCP is allocating.
    Allocating {
        deadline: Instant,
    },
    /// Responder: waiting for a process to accept.
    AwaitingAccept {
        deadline: Instant,
    },
    Allocated,
    /// One side released; `by_app` says which.
    Deallocated {
        by_app: bool,
    },
}

impl Flow {
    fn state(&self) -> FlowState {
        match self.phase {
            Phase::Querying { .. } | Phase::Allocating { .. } | Phase::AwaitingAccept { .. } => FlowState::Pending,
            Phase::Allocated => FlowState::Allocated,
            Phase::Deallocated { .. } => FlowState::Deallocated,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Querying { deadline, .. } | Phase::Allocating { deadline } | Phase::AwaitingAccept { deadline } => {
                Some(deadline)
            }
            Phase::Allocated | Phase::Deallocated { .. } => None,
        }
    }
}

/// What a querying flow's answers so far decide.
enum Decision {
    Wait,
    Use(String, NameHash),
    Unreachable,
}

fn decide(candidates: &[Candidate], timed_out: bool) -> Decision {
    for c in candidates {
        match c.known {
            Some(true) => return Decision::Use(c.ipcp.clone(), c.hash),
            Some(false) => {}
            None if timed_out => {}
            None => return Decision::Wait,
        }
    }
    Decision::Unreachable
}

impl Irm {
    fn new_flow_id(&mut self) -> FlowId {
        self.next_flow += 1;
        FlowId(self.next_flow)
    }

    fn flow(&self, flow: FlowId) -> Result<&Flow, IrmError> {
        self.flows.get(&flow).ok_or(IrmError::UnknownFlow(flow))
    }

    fn wrong_state(&self, flow: FlowId, operation: &'static str) -> IrmError {
        IrmError::WrongFlowState {
            flow,
            state: self.flows[&flow].state(),
            operation,
        }
    }

    /// What the IRM knows of one flow.
    pub fn flow_info(&self, flow: FlowId) -> Option<FlowInfo> {
        self.flows.get(&flow).map(|f| FlowInfo {
            id: flow,
            state: f.state(),
            pid: f.pid,
            name: f.name.clone(),
            ipcp: f.ipcp.clone(),
            qos: f.qos,
        })
    }

    /// Every flow, by id.
    pub fn flows(&self) -> Vec<FlowInfo> {
        self.flows.keys().filter_map(|&f| self.flow_info(f)).collect()
    }

    /// Caps the flows one process may hold, pending or allocated (each
    /// costs two rings); `None` lifts the cap. A process at the cap has
    /// its `flow_alloc` and `flow_accept` refused with
    /// [`IrmError::TooManyFlows`] and is passed over for arriving flows.
    pub fn set_flow_limit(&mut self, limit: Option<usize>) {
        self.flow_limit = limit;
    }

    fn check_flow_limit(&self, pid: u32) -> Result<(), IrmError> {
        let Some(limit) = self.flow_limit else { return Ok(()) };
        if self.ipcp_pid == Some(pid) {
            return Ok(());
        }
        let held = self.flows.values().filter(|f| f.pid == Some(pid)).count();
        if held >= limit {
            return Err(IrmError::TooManyFlows { pid, limit });
        }
        Ok(())
    }

    // ---- requester side ---------------------------------------------

    /// A process's `flow_alloc(dst, qos)`: hashes `dst` in every layer that
    /// allocates flows (every IPCP in a layer but broadcast ones), best
    /// first, and emits [`IrmEvent::QueryLayers`]. The outcome arrives as
    /// [`IrmEvent::FlowAllocated`] or [`IrmEvent::FlowAllocFailed`].
    pub fn flow_alloc(&mut self, now: Instant, pid: u32, dst: &str, qos: QosSpec) -> Result<FlowId, IrmError> {
        self.alloc_over(now, pid, dst, qos, None)
    }

    /// An N-1 flow for unicast or broadcast IPCP `ipcp` (enrolment, a
    /// connection) to `dst`, held by the IPCPs' process: as
    /// [`flow_alloc`](Self::flow_alloc), over every layer but the IPCP's
    /// own.
    pub fn ipcp_flow_alloc(&mut self, now: Instant, ipcp: &str, dst: &str, qos: QosSpec) -> Result<FlowId, IrmError> {
        let pid = self.ipcp_pid.ok_or_else(|| IrmError::UnknownIpcp(ipcp.to_owned()))?;
        let own = self.ipcp(ipcp)?;
        let layer = own.in_layer().then(|| own.layer.clone()).flatten();
        self.alloc_over(now, pid, dst, qos, Some((ipcp, layer.as_deref())))
    }

    fn alloc_over(
        &mut self,
        now: Instant,
        pid: u32,
        dst: &str,
        qos: QosSpec,
        exclude: Option<(&str, Option<&str>)>,
    ) -> Result<FlowId, IrmError> {
        valid("name", dst)?;
        if !self.process_alive(pid) {
            return Err(IrmError::UnknownProcess(pid));
        }
        self.check_flow_limit(pid)?;
        let excluded = |name: &str, i: &super::Ipcp| {
            exclude.is_some_and(|(ipcp, layer)| name == ipcp || (layer.is_some() && i.layer.as_deref() == layer))
        };
        let mut ranked: Vec<_> = self
            .ipcps
            .iter()
            .filter(|(n, i)| i.in_layer() && i.ipcp_type != IpcpType::Broadcast && !excluded(n, i))
            .map(|(n, i)| (i.rank(), n.clone(), i.hash_algo.unwrap_or_default()))
            .collect();
        if ranked.is_empty() {
            return Err(IrmError::NoLayer(dst.to_owned()));
        }
        ranked.sort();
        let candidates: Vec<Candidate> = ranked
            .into_iter()
            .map(|(_, ipcp, algo)| Candidate {
                ipcp,
                hash: hash_name(algo, dst),
                known: None,
            })
            .collect();
        let id = self.new_flow_id();
        self.events.push_back(IrmEvent::QueryLayers {
            flow: id,
            hashes_per_ipcp: candidates.iter().map(|c| (c.ipcp.clone(), c.hash)).collect(),
        });
        self.flows.insert(
            id,
            Flow {
                pid: Some(pid),
                name: dst.to_owned(),
                ipcp: None,
                hash: None,
                qos,
                started: now,
                phase: Phase::Querying {
                    candidates,
                    deadline: now + QUERY_TIMEOUT,
                },
            },
        );
        Ok(id)
    }

    /// An IPCP's answer to [`IrmEvent::QueryLayers`]. Late answers (the
    /// flow already decided) are refused with [`IrmError::WrongFlowState`].
    pub fn query_answered(&mut self, flow: FlowId, ipcp: &str, known: bool) -> Result<(), IrmError> {
        let entry = self.flow(flow)?;
        let Phase::Querying { candidates, .. } = &entry.phase else {
            return Err(self.wrong_state(flow, "take a query answer"));
        };
        let Some(index) = candidates.iter().position(|c| c.ipcp == ipcp) else {
            return Err(IrmError::NotFlowIpcp {
                flow,
                ipcp: ipcp.to_owned(),
            });
        };
        if let Some(Flow {
            phase: Phase::Querying { candidates, .. },
            ..
        }) = self.flows.get_mut(&flow)
        {
            candidates[index].known = Some(known);
        }
        self.advance_query(flow, false);
        Ok(())
    }

    fn advance_query(&mut self, flow: FlowId, timed_out: bool) {
        let Some(entry) = self.flows.get_mut(&flow) else {
            return;
        };
        let Phase::Querying { candidates, .. } = &entry.phase else {
            return;
        };
        let pid = entry.pid.unwrap_or_default();
        match decide(candidates, timed_out) {
            Decision::Wait => {}
            Decision::Use(ipcp, hash) => {
                entry.ipcp = Some(ipcp.clone());
                entry.hash = Some(hash);
                entry.phase = Phase::Allocating {
                    deadline: entry.started + FLOW_ALLOC_TIMEOUT,
                };
                let qos = entry.qos;
                self.events
                    .push_back(IrmEvent::AllocateOnIpcp { flow, ipcp, hash, qos });
            }
            Decision::Unreachable => self.fail_alloc(flow, pid, AllocFailure::Unreachable),
        }
    }

    fn fail_alloc(&mut self, flow: FlowId, pid: u32, reason: AllocFailure) {
        self.flows.remove(&flow);
        self.events.push_back(IrmEvent::FlowAllocFailed { flow, pid, reason });
    }

    /// The IPCP's answer to [`IrmEvent::AllocateOnIpcp`]: `Ok` when the
    /// peer accepted, else the negative result code (§1.4).
    pub fn alloc_reply(&mut self, flow: FlowId, ipcp: &str, result: Result<(), i32>) -> Result<(), IrmError> {
        let entry = self.flow(flow)?;
        if !matches!(entry.phase, Phase::Allocating { .. }) {
            return Err(self.wrong_state(flow, "take an allocation reply"));
        }
        if entry.ipcp.as_deref() != Some(ipcp) {
            return Err(IrmError::NotFlowIpcp {
                flow,
                ipcp: ipcp.to_owned(),
            });
        }
        let pid = entry.pid.unwrap_or_default();
        match result {
            Ok(()) => {
                let entry = self.flows.get_mut(&flow).expect("checked above");
                entry.phase = Phase::Allocated;
                let qos = entry.qos;
                self.events.push_back(IrmEvent::FlowAllocated { flow, pid, qos });
            }
            Err(code) => self.fail_alloc(flow, pid, AllocFailure::Refused(code)),
        }
        Ok(())
    }

    /// A process's `flow_join(layer)`: a flow to the broadcast IPCP of
    /// `layer`, allocated at once (no name, no OAP, PROTOCOL.md §14).
    /// Returns the flow and the IPCP.
    pub fn flow_join(&mut self, now: Instant, pid: u32, layer: &str) -> Result<(FlowId, String), IrmError> {
        valid("layer name", layer)?;
        if !self.process_alive(pid) {
            return Err(IrmError::UnknownProcess(pid));
        }
        self.check_flow_limit(pid)?;
        let ipcp = self
            .ipcps
            .iter()
            .find(|(_, i)| i.ipcp_type == IpcpType::Broadcast && i.in_layer() && i.layer.as_deref() == Some(layer))
            .map(|(n, _)| n.clone())
            .ok_or_else(|| IrmError::NoBroadcastLayer(layer.to_owned()))?;
        let id = self.new_flow_id();
        self.flows.insert(
            id,
            Flow {
                pid: Some(pid),
                name: layer.to_owned(),
                ipcp: Some(ipcp.clone()),
                hash: None,
                qos: QosSpec::RAW,
                started: now,
                phase: Phase::Allocated,
            },
        );
        Ok((id, ipcp))
    }

    // ---- responder side ---------------------------------------------

    /// A flow request arrived through `ipcp` for `hash`: finds the name
    /// (hashing every known name with the IPCP's algorithm) and hands the
    /// flow to an accepting process per the name's load balancing, or
    /// starts a program bound to the name with auto-start args and keeps
    /// the request pending for [`REQ_ARR_TIMEOUT`]. Refused (and nothing
    /// recorded) when no process could ever take it.
    pub fn flow_request_arrived(
        &mut self,
        now: Instant,
        ipcp: &str,
        hash: NameHash,
        qos: QosSpec,
    ) -> Result<FlowId, IrmError> {
        let entry = self.ipcp(ipcp)?;
        if !entry.in_layer() {
            return Err(IrmError::NotBootstrapped(ipcp.to_owned()));
        }
        let algo = entry.hash_algo.unwrap_or_default();
        let Some(name) = self.names.keys().find(|n| hash_name(algo, n.as_str()) == hash).cloned() else {
            return Err(IrmError::UnknownHash {
                ipcp: ipcp.to_owned(),
                hash: hash.to_string(),
            });
        };
        // A name bound to a unicast or broadcast IPCP in a layer (enrolment
        // and connections): that IPCP takes the flow, held by irmd.
        let ipcp_acceptor = self.ipcp_pid.and_then(|pid| {
            self.ipcps
                .iter()
                .find(|(n, i)| n.as_str() != ipcp && i.ipcp_type.enrols() && i.in_layer() && i.names.contains(&name))
                .map(|(n, _)| (pid, n.clone()))
        });
        if let Some((pid, acceptor)) = ipcp_acceptor {
            let id = self.new_flow_id();
            self.flows.insert(
                id,
                Flow {
                    pid: Some(pid),
                    name: name.clone(),
                    ipcp: Some(ipcp.to_owned()),
                    hash: Some(hash),
                    qos,
                    started: now,
                    phase: Phase::Allocated,
                },
            );
            self.events.push_back(IrmEvent::IpcpFlowArrived {
                flow: id,
                acceptor,
                name,
            });
            self.events.push_back(IrmEvent::RespondOnIpcp {
                flow: id,
                ipcp: ipcp.to_owned(),
                accepted: true,
            });
            return Ok(id);
        }
        let acceptor = self.pick_acceptor(&name);
        let auto = self.auto_start_program(&name);
        let bound_alive = self.processes.keys().any(|&pid| self.process_bound_to(pid, &name));
        if acceptor.is_none() && auto.is_none() && !bound_alive {
            return Err(IrmError::NoAcceptor(name));
        }
        let id = self.new_flow_id();
        let already_starting = self
            .flows
            .values()
            .any(|f| f.name == name && matches!(f.phase, Phase::AwaitingAccept { .. }));
        self.flows.insert(
            id,
            Flow {
                pid: None,
                name: name.clone(),
                ipcp: Some(ipcp.to_owned()),
                hash: Some(hash),
                qos,
                started: now,
                phase: Phase::AwaitingAccept {
                    deadline: now + REQ_ARR_TIMEOUT,
                },
            },
        );
        match acceptor {
            Some(index) => {
                let pid = self.acceptors.remove(index).pid;
                self.hand_to(id, pid);
            }
            None => {
                if let Some((path, auto)) = auto
                    && !already_starting
                {
                    self.events.push_back(IrmEvent::StartProgram {
                        path,
                        args: auto.args,
                        account: auto.account,
                    });
                }
            }
        }
        Ok(id)
    }

    fn auto_start_program(&self, name: &str) -> Option<(std::path::PathBuf, super::AutoStart)> {
        self.programs.iter().find_map(|(path, names)| {
            names
                .get(name)
                .and_then(|auto| auto.clone())
                .map(|auto| (path.clone(), auto))
        })
    }

    /// Index in `acceptors` of the process that gets the next flow for
    /// `name`: spill-over takes the process announced first; round-robin
    /// the first announced after the one served last (wrapping). Records
    /// the choice for round-robin.
    fn pick_acceptor(&mut self, name: &str) -> Option<usize> {
        let eligible: Vec<(u64, usize)> = self
            .acceptors
            .iter()
            .enumerate()
            .filter(|(_, a)| self.process_bound_to(a.pid, name) && self.check_flow_limit(a.pid).is_ok())
            .filter_map(|(i, a)| self.processes.get(&a.pid).map(|p| (p.seq, i)))
            .collect();
        let first = eligible.iter().min().copied();
        let entry = self.names.get_mut(name)?;
        let chosen = match (entry.lb, entry.last_served) {
            (LoadBalance::RoundRobin, Some(last)) => {
                eligible.iter().filter(|(seq, _)| *seq > last).min().copied().or(first)
            }
            _ => first,
        }?;
        entry.last_served = Some(chosen.0);
        Some(chosen.1)
    }

    fn hand_to(&mut self, flow: FlowId, pid: u32) {
        let Some(entry) = self.flows.get_mut(&flow) else {
            return;
        };
        entry.pid = Some(pid);
        entry.phase = Phase::Allocated;
        let (name, qos, ipcp) = (entry.name.clone(), entry.qos, entry.ipcp.clone());
        self.events.push_back(IrmEvent::FlowAccepted { flow, pid, name, qos });
        if let Some(ipcp) = ipcp {
            self.events.push_back(IrmEvent::RespondOnIpcp {
                flow,
                ipcp,
                accepted: true,
            });
        }
    }

    /// A process's `flow_accept(timeout)`: takes the oldest pending request
    /// for a name it is bound to, or waits (until `now + timeout` if
    /// given, then [`IrmEvent::AcceptTimedOut`]).
    pub fn flow_accept(&mut self, now: Instant, pid: u32, timeout: Option<Duration>) -> Result<(), IrmError> {
        if !self.process_alive(pid) {
            return Err(IrmError::UnknownProcess(pid));
        }
        self.check_flow_limit(pid)?;
        let pending = self
            .flows
            .iter()
            .find(|(_, f)| matches!(f.phase, Phase::AwaitingAccept { .. }) && self.process_bound_to(pid, &f.name))
            .map(|(&id, f)| (id, f.name.clone()));
        match pending {
            Some((id, name)) => {
                if let (Some(entry), Some(p)) = (self.names.get_mut(&name), self.processes.get(&pid)) {
                    entry.last_served = Some(p.seq);
                }
                self.hand_to(id, pid);
            }
            None => self.acceptors.push(super::Acceptor {
                pid,
                deadline: timeout.map(|t| now + t),
            }),
        }
        Ok(())
    }

    // ---- deallocation -----------------------------------------------

    /// The application side releases `flow` (`flow_dealloc`).
    pub fn flow_dealloc(&mut self, pid: u32, flow: FlowId) -> Result<(), IrmError> {
        let entry = self.flow(flow)?;
        if entry.pid != Some(pid) {
            return Err(IrmError::NotFlowOwner { flow, pid });
        }
        match entry.phase {
            Phase::Allocated => {
                let ipcp = entry.ipcp.clone().unwrap_or_default();
                self.set_phase(flow, Phase::Deallocated { by_app: true });
                self.events.push_back(IrmEvent::DeallocOnIpcp { flow, ipcp });
            }
            Phase::Deallocated { by_app: false } => self.gone(flow),
            _ => return Err(self.wrong_state(flow, "deallocate it from the application side")),
        }
        Ok(())
    }

    /// The IPCP side releases `flow` (`IPCP_FLOW_DEALLOC`).
    pub fn ipcp_flow_dealloc(&mut self, ipcp: &str, flow: FlowId) -> Result<(), IrmError> {
        let entry = self.flow(flow)?;
        if entry.ipcp.as_deref() != Some(ipcp) {
            return Err(IrmError::NotFlowIpcp {
                flow,
                ipcp: ipcp.to_owned(),
            });
        }
        match entry.phase {
            Phase::Allocated => {
                let pid = entry.pid.unwrap_or_default();
                self.set_phase(flow, Phase::Deallocated { by_app: false });
                self.events.push_back(IrmEvent::FlowDown { flow, pid });
            }
            Phase::Deallocated { by_app: true } => self.gone(flow),
            _ => return Err(self.wrong_state(flow, "deallocate it from the IPCP side")),
        }
        Ok(())
    }

    fn set_phase(&mut self, flow: FlowId, phase: Phase) {
        if let Some(entry) = self.flows.get_mut(&flow) {
            entry.phase = phase;
        }
    }

    fn gone(&mut self, flow: FlowId) {
        self.flows.remove(&flow);
        self.events.push_back(IrmEvent::FlowGone { flow });
    }

    /// The IPCP is being destroyed: its side of every flow is released.
    pub(super) fn release_flows_of_ipcp(&mut self, ipcp: &str) {
        let ids: Vec<FlowId> = self.flows.keys().copied().collect();
        for id in ids {
            let Some(entry) = self.flows.get_mut(&id) else {
                continue;
            };
            if let Phase::Querying { candidates, .. } = &mut entry.phase {
                candidates.retain(|c| c.ipcp != ipcp);
                self.advance_query(id, false);
                continue;
            }
            if entry.ipcp.as_deref() != Some(ipcp) {
                continue;
            }
            let pid = entry.pid.unwrap_or_default();
            match entry.phase {
                Phase::Allocating { .. } => self.fail_alloc(id, pid, AllocFailure::IpcpGone),
                Phase::AwaitingAccept { .. } => {
                    self.flows.remove(&id);
                }
                Phase::Allocated => {
                    self.set_phase(id, Phase::Deallocated { by_app: false });
                    self.events.push_back(IrmEvent::FlowDown { flow: id, pid });
                }
                Phase::Deallocated { by_app: true } => self.gone(id),
                Phase::Deallocated { by_app: false } | Phase::Querying { .. } => {}
            }
        }
    }

    /// A process died (or exited without deallocating): its pending
    /// allocations are dropped, its allocated flows released from the
    /// application side (the IPCPs are told), its `flow_accept`s and pid
    /// bindings dropped. Returns the flows it still held: their rings hold
    /// buffers only it would have read, which the caller frees now (the
    /// rings themselves go at [`IrmEvent::FlowGone`]).
    pub fn process_exited(&mut self, pid: u32) -> Result<Vec<FlowId>, IrmError> {
        if self.processes.remove(&pid).is_none() {
            return Err(IrmError::UnknownProcess(pid));
        }
        self.acceptors.retain(|a| a.pid != pid);
        let mine: Vec<FlowId> = self
            .flows
            .iter()
            .filter(|(_, f)| f.pid == Some(pid))
            .map(|(&id, _)| id)
            .collect();
        let mut held = Vec::new();
        for id in mine {
            let entry = &self.flows[&id];
            match entry.phase {
                Phase::Querying { .. } | Phase::Allocating { .. } | Phase::AwaitingAccept { .. } => {
                    self.flows.remove(&id);
                }
                Phase::Allocated => {
                    let ipcp = entry.ipcp.clone().unwrap_or_default();
                    self.set_phase(id, Phase::Deallocated { by_app: true });
                    self.events.push_back(IrmEvent::DeallocOnIpcp { flow: id, ipcp });
                    held.push(id);
                }
                Phase::Deallocated { by_app: false } => {
                    self.gone(id);
                    held.push(id);
                }
                Phase::Deallocated { by_app: true } => {}
            }
        }
        Ok(held)
    }

    // ---- timers -----------------------------------------------------

    /// The earliest deadline (query, allocation, arrived request, accept),
    /// if any: call [`Irm::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let flows = self.flows.values().filter_map(Flow::deadline);
        let accepts = self.acceptors.iter().filter_map(|a| a.deadline);
        flows.chain(accepts).min()
    }

    /// Expires everything due at `now`: unanswered queries count as "not
    /// known", allocations fail with [`AllocFailure::TimedOut`], arrived
    /// requests nobody accepted are refused to their IPCP, accepts with a
    /// timeout return [`IrmEvent::AcceptTimedOut`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<FlowId> = self
            .flows
            .iter()
            .filter(|(_, f)| f.deadline().is_some_and(|d| d <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            let entry = &self.flows[&id];
            let pid = entry.pid.unwrap_or_default();
            match entry.phase {
                Phase::Querying { .. } => self.advance_query(id, true),
                Phase::Allocating { .. } => self.fail_alloc(id, pid, AllocFailure::TimedOut),
                Phase::AwaitingAccept { .. } => {
                    let ipcp = entry.ipcp.clone().unwrap_or_default();
                    self.flows.remove(&id);
                    self.events.push_back(IrmEvent::RespondOnIpcp {
                        flow: id,
                        ipcp,
                        accepted: false,
                    });
                }
                Phase::Allocated | Phase::Deallocated { .. } => {}
            }
        }
        let mut kept = Vec::with_capacity(self.acceptors.len());
        for a in std::mem::take(&mut self.acceptors) {
            if a.deadline.is_some_and(|d| d <= now) {
                self.events.push_back(IrmEvent::AcceptTimedOut { pid: a.pid });
            } else {
                kept.push(a);
            }
        }
        self.acceptors = kept;
    }
}
