//! The IPC Resource Manager's core: the registry and the flow-allocation
//! broker of irmd (PROTOCOL.md §1, §5, §16, §17), as a sans-IO state machine.
//!
//! [`Irm`] does no I/O and reads no clock: operations take `now`, results
//! come back as `Result<_, IrmError>` and as [`IrmEvent`]s the caller drains
//! with [`Irm::poll_event`] (as quinn's `poll_transmit`); timers are one
//! deadline the caller asks for with [`Irm::poll_timeout`] and reports with
//! [`Irm::handle_timeout`]. A refused operation changes nothing, events
//! included. irmd (the I/O layer) turns socket messages into calls and
//! events into messages, process spawns and ring set-up.
//!
//! # What the registry holds
//!
//! | table | key | holds |
//! |---|---|---|
//! | IPCPs | IPCP name | type, state, layer and its hash algorithm once in a layer, names bound to it, creation order |
//! | names | name | load balancing, OAP paths, IPCPs it is registered with |
//! | programs | path | names it is bound to, each with optional auto-start args and the account that bound it |
//! | processes | pid | program (if announced with one), names bound to the pid, announce order |
//! | acceptors | — | processes blocked in `flow_accept`, oldest first |
//! | flows | [`FlowId`] | owner pid, name, IPCP, hash, QoS, state, which sides released |
//!
//! Bindings are kept by name string and do not need the name to exist: the
//! paper's tutorial binds `oping` before `irm name register` creates it.
//!
//! # A flow's life
//!
//! ```text
//!  requester: flow_alloc ──> Pending(querying) ──query_answered/timeout──> Pending(allocating)
//!                                 │ no layer knows the hash                     │ alloc_reply(Ok)
//!                                 v                                             v
//!                          FlowAllocFailed (gone)        alloc_reply(Err)/timeout ─> FlowAllocFailed (gone)
//!  responder: flow_request_arrived ──> Pending(awaiting accept) ──accept──> Allocated
//!                                         │ timeout: RespondOnIpcp{accepted:false} (gone)
//!
//!  Allocated ──flow_dealloc (app side)──────> Deallocated ──ipcp_flow_dealloc──> gone (FlowGone)
//!  Allocated ──ipcp_flow_dealloc (IPCP side)─> Deallocated ──flow_dealloc──────> gone (FlowGone)
//! ```
//!
//! Deallocation takes two steps, as in the C IRMd: the application side
//! (`flow_dealloc`, or its process dying) and the IPCP side
//! (`ipcp_flow_dealloc`) must both release the flow before its id and rings
//! are freed.
//!
//! # Events
//!
//! | event | when | what irmd does |
//! |---|---|---|
//! | [`IrmEvent::BootstrapIpcp`] | `ipcp_bootstrap` | bootstraps the IPCP task; on failure calls `ipcp_bootstrap_failed` |
//! | [`IrmEvent::IpcpDestroyed`] | `ipcp_destroy` (after its names and flows were released) | stops the IPCP task, closes its port |
//! | [`IrmEvent::EnrollIpcp`] | `ipcp_enroll` | starts enrolment; then `ipcp_enrolled` or `ipcp_enroll_failed` |
//! | [`IrmEvent::RegisterOnIpcp`] / [`IrmEvent::UnregisterOnIpcp`] | name (un)registered, name or IPCP destroyed | tells the IPCP to (stop) advertise the hash |
//! | [`IrmEvent::QueryLayers`] | `flow_alloc` | asks each IPCP whether it can reach the hash; answers come back as `query_answered` |
//! | [`IrmEvent::AllocateOnIpcp`] | the preferred layer knows the hash | sends the flow request through that IPCP; its answer is `alloc_reply` |
//! | [`IrmEvent::FlowAllocated`] | the requester's flow is up | creates the flow's rings, replies to the process's `flow_alloc` |
//! | [`IrmEvent::FlowAllocFailed`] | unreachable, refused or timed out | replies to `flow_alloc` with the error |
//! | [`IrmEvent::StartProgram`] | a request arrived, no one accepts, a bound program has auto-start args | fork/execs the program; it announces itself and calls `flow_accept` |
//! | [`IrmEvent::FlowAccepted`] | a pending request met an accepting process | creates the rings, replies to the process's `flow_accept` |
//! | [`IrmEvent::RespondOnIpcp`] | a pending request was accepted or timed out | tells the IPCP to answer the peer |
//! | [`IrmEvent::AcceptTimedOut`] | a `flow_accept` with a timeout got nothing | replies -ETIMEDOUT |
//! | [`IrmEvent::DeallocOnIpcp`] | the application side released an allocated flow | tells the IPCP to release its side (it then calls `ipcp_flow_dealloc`) |
//! | [`IrmEvent::FlowDown`] | the IPCP side released a flow the process still holds | marks the flow down so reads return EFLOWDOWN |
//! | [`IrmEvent::ConnectIpcp`] / [`IrmEvent::DisconnectIpcp`] | `ipcp_connect` / `ipcp_disconnect` | the unicast task opens (closes) its management and data-transfer flows |
//! | [`IrmEvent::IpcpFlowArrived`] | a request for a name bound to a unicast or broadcast IPCP in a layer | hands the flow (held by irmd's own process, [`Irm::set_ipcp_process`]) to that IPCP's task |
//! | [`IrmEvent::FlowGone`] | both sides released | frees the flow's rings and id |
//!
//! # Layer preference
//!
//! `flow_alloc` queries every IPCP in a layer except broadcast ones (those
//! are joined with `flow_join`) and takes the *lowest* layer that knows the
//! hash: local first, then the shims (eth-llc, eth-dix, udp4, udp6), then
//! unicast; among equals, the IPCP created first. (The C IRMd orders by its
//! enum, which puts unicast before the shims; we prefer the layer closest to
//! the wire.) It decides as soon as every better-ranked IPCP said no and one
//! said yes, without waiting for the worse ones; an IPCP silent for
//! [`QUERY_TIMEOUT`] counts as a no.
//!
//! Not done here: direct IPC between two local processes without an IPCP
//! (§5), flow_join, OAP.

mod broker;
mod error;
pub mod oap;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use o7s_wire::hash::{HashAlgo, NameHash};
use o7s_wire::qos::QosSpec;

use crate::ipcp_config::{BootstrapConfig, IpcpType};
use crate::name_info::{LoadBalance, SecurityPaths, check_name};

pub use self::error::IrmError;

/// How long the IRM waits for the IPCPs' answers to a name query
/// (`QUERY_TIMEOUT`, §19.5).
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(200);
/// How long a requester waits for its IPCP to allocate the flow
/// (`FLOW_ALLOC_TIMEOUT`, §19.5).
pub const FLOW_ALLOC_TIMEOUT: Duration = Duration::from_secs(20);
/// How long an arrived request waits for an accepting process, started or
/// not (`IRMD_REQ_ARR_TIMEOUT`, §19.5): a listen backlog. The C IRMd
/// waits 1 s; a server that a thousand clients reach at once, or a
/// program the super-server starts on a loaded machine, takes longer to
/// come round to every request, and the requester waits for the answer up
/// to [`FLOW_ALLOC_TIMEOUT`] anyway (a C requester too), so irmd waits
/// 10 s before it refuses.
pub const REQ_ARR_TIMEOUT: Duration = Duration::from_secs(10);

/// irmd's id for one end of a flow (one per process end; a flow between two
/// local processes has two ids, one per side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u32);

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where an IPCP is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpcpState {
    /// Created, in no layer.
    Init,
    /// Enrolment under way (destination given).
    Enrolling,
    /// Bootstrapped a layer.
    Bootstrapped,
    /// Enrolled into a layer.
    Enrolled,
}

impl IpcpState {
    /// The word `irm ipcp list` shows.
    pub const fn keyword(self) -> &'static str {
        match self {
            IpcpState::Init => "init",
            IpcpState::Enrolling => "enrolling",
            IpcpState::Bootstrapped => "bootstrapped",
            IpcpState::Enrolled => "enrolled",
        }
    }
}

impl fmt::Display for IpcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// The public state of a flow (§16's pending → allocated → deallocated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowState {
    /// Being allocated (querying, allocating, or waiting for an acceptor).
    Pending,
    /// Both ends up.
    Allocated,
    /// One side released it; the other has not yet.
    Deallocated,
}

impl fmt::Display for FlowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlowState::Pending => "pending",
            FlowState::Allocated => "allocated",
            FlowState::Deallocated => "deallocated",
        })
    }
}

/// Why a requester's `flow_alloc` failed (reported in
/// [`IrmEvent::FlowAllocFailed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllocFailure {
    /// No layer knows the name's hash (C: -EHOSTUNREACH / -ENAME).
    Unreachable,
    /// The IPCP or the peer refused, with the negative result code (§1.4).
    Refused(i32),
    /// The IPCP did not answer within [`FLOW_ALLOC_TIMEOUT`].
    TimedOut,
    /// The IPCP was destroyed while allocating.
    IpcpGone,
}

/// What the IRM asks of the I/O layer; see the module's event table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IrmEvent {
    /// Bootstrap this IPCP task with this configuration.
    BootstrapIpcp {
        /// The IPCP.
        ipcp: String,
        /// The layer it creates.
        layer: String,
        /// Its configuration.
        config: BootstrapConfig,
    },
    /// The IPCP is gone: stop its task, free what it holds.
    IpcpDestroyed {
        /// The IPCP.
        ipcp: String,
    },
    /// Enrol this IPCP with `dst`.
    EnrollIpcp {
        /// The IPCP.
        ipcp: String,
        /// Whom to enrol with.
        dst: String,
    },
    /// Open the IPCP's management and/or data-transfer flows to `dst`
    /// (`irm ipcp connect`).
    ConnectIpcp {
        /// The IPCP.
        ipcp: String,
        /// The neighbour's name.
        dst: String,
        /// One component, or both (management first).
        component: Option<crate::irm_cli::Component>,
        /// QoS of the data-transfer flow.
        qos: QosSpec,
    },
    /// Close them (`irm ipcp disconnect`).
    DisconnectIpcp {
        /// The IPCP.
        ipcp: String,
        /// The neighbour's name.
        dst: String,
        /// One component, or both.
        component: Option<crate::irm_cli::Component>,
    },
    /// Make `hash` (of `name`) reachable through this IPCP.
    RegisterOnIpcp {
        /// The IPCP.
        ipcp: String,
        /// The name, for logs.
        name: String,
        /// The name's hash in the IPCP's layer.
        hash: NameHash,
    },
    /// Stop advertising `hash` through this IPCP.
    UnregisterOnIpcp {
        /// The IPCP.
        ipcp: String,
        /// The name, for logs.
        name: String,
        /// The name's hash in the IPCP's layer.
        hash: NameHash,
    },
    /// Ask every listed IPCP whether its layer knows the hash; answer with
    /// [`Irm::query_answered`].
    QueryLayers {
        /// The requester's flow.
        flow: FlowId,
        /// The IPCPs to ask, best first, each with the name hashed in its
        /// layer's algorithm.
        hashes_per_ipcp: Vec<(String, NameHash)>,
    },
    /// Send a flow request through this IPCP; answer with
    /// [`Irm::alloc_reply`].
    AllocateOnIpcp {
        /// The requester's flow.
        flow: FlowId,
        /// The IPCP.
        ipcp: String,
        /// The destination's hash in that layer.
        hash: NameHash,
        /// The requested QoS.
        qos: QosSpec,
    },
    /// The requester's flow is up: reply to its `flow_alloc`.
    FlowAllocated {
        /// The flow.
        flow: FlowId,
        /// The requesting process.
        pid: u32,
        /// The QoS it got.
        qos: QosSpec,
    },
    /// The requester's `flow_alloc` failed; the flow is gone.
    FlowAllocFailed {
        /// The flow.
        flow: FlowId,
        /// The requesting process.
        pid: u32,
        /// Why.
        reason: AllocFailure,
    },
    /// Start this program (super-server): a request for one of its names
    /// arrived and no process accepts.
    StartProgram {
        /// The program.
        path: PathBuf,
        /// Its arguments.
        args: Vec<String>,
        /// Whom it runs as: whoever bound it, never anyone else.
        account: Account,
    },
    /// An arrived request met an accepting process: reply to its
    /// `flow_accept`.
    FlowAccepted {
        /// The responder's flow.
        flow: FlowId,
        /// The accepting process.
        pid: u32,
        /// The name the flow is for.
        name: String,
        /// The requester's QoS.
        qos: QosSpec,
    },
    /// Tell the IPCP how the responder side answered.
    RespondOnIpcp {
        /// The responder's flow.
        flow: FlowId,
        /// The IPCP the request came through.
        ipcp: String,
        /// Accepted, or refused (no acceptor in time).
        accepted: bool,
    },
    /// A `flow_accept` with a timeout got no flow in time.
    AcceptTimedOut {
        /// The process.
        pid: u32,
    },
    /// The application side released the flow: the IPCP must release its
    /// side and then call [`Irm::ipcp_flow_dealloc`].
    DeallocOnIpcp {
        /// The flow.
        flow: FlowId,
        /// The IPCP.
        ipcp: String,
    },
    /// The IPCP side released a flow the process still holds.
    FlowDown {
        /// The flow.
        flow: FlowId,
        /// Its process.
        pid: u32,
    },
    /// A flow request for a name bound to a unicast or broadcast IPCP
    /// (its own name or its layer's) arrived and was accepted for it: the
    /// flow is held by the IPCPs' process ([`Irm::set_ipcp_process`]) on
    /// behalf of `acceptor`.
    IpcpFlowArrived {
        /// The responder's flow.
        flow: FlowId,
        /// The IPCP that takes it (not the one it came through).
        acceptor: String,
        /// The name it is for.
        name: String,
    },
    /// Both sides released the flow: free its rings and id.
    FlowGone {
        /// The flow.
        flow: FlowId,
    },
}

/// One line of `irm ipcp list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpcpInfo {
    /// IPCP name.
    pub name: String,
    /// Its type.
    pub ipcp_type: IpcpType,
    /// Its state.
    pub state: IpcpState,
    /// Its layer, once bootstrapped or enrolled (or the enrolment
    /// destination while enrolling).
    pub layer: Option<String>,
    /// The layer's hash algorithm, once in a layer.
    pub hash_algo: Option<HashAlgo>,
    /// Where it meets the layer below (interface, address), if it does.
    pub device: Option<String>,
}

/// One line of `irm name list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameInfo {
    /// The name.
    pub name: String,
    /// Its load balancing.
    pub lb: LoadBalance,
    /// OAP file paths given for it.
    pub paths: SecurityPaths,
    /// IPCPs it is registered with, in creation order.
    pub ipcps: Vec<String>,
    /// Their layers (deduplicated, same order).
    pub layers: Vec<String>,
}

/// A flow as the IRM sees it, for `irm` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowInfo {
    /// The flow.
    pub id: FlowId,
    /// Its state.
    pub state: FlowState,
    /// The local process (none yet for an unaccepted arrived request).
    pub pid: Option<u32>,
    /// The name: destination for a requester, local name for a responder.
    pub name: String,
    /// The IPCP it goes through, once chosen.
    pub ipcp: Option<String>,
    /// Its QoS.
    pub qos: QosSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Ipcp {
    ipcp_type: IpcpType,
    seq: u64,
    state: IpcpState,
    layer: Option<String>,
    hash_algo: Option<HashAlgo>,
    device: Option<String>,
    /// `bind ipcp`: names the IPCP (process) accepts flows for.
    names: BTreeSet<String>,
}

impl Ipcp {
    fn in_layer(&self) -> bool {
        matches!(self.state, IpcpState::Bootstrapped | IpcpState::Enrolled)
    }

    /// The layer preference rank (lower is preferred).
    fn rank(&self) -> (u8, u64) {
        let class = match self.ipcp_type {
            IpcpType::Local => 0,
            IpcpType::EthLlc | IpcpType::EthDix | IpcpType::Udp4 | IpcpType::Udp6 => 1,
            IpcpType::Unicast | IpcpType::Broadcast => 2,
        };
        (class, self.seq)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    lb: LoadBalance,
    paths: SecurityPaths,
    /// IPCPs the name is registered with.
    registered: BTreeSet<String>,
    /// Announce order of the process served last (round-robin).
    last_served: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Process {
    program: Option<PathBuf>,
    seq: u64,
    names: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Acceptor {
    pid: u32,
    deadline: Option<Instant>,
}

/// The IRM: registry plus flow-allocation broker. See the module docs.
///
/// `Clone` and `PartialEq` let tests check that a refused operation left
/// everything (events included) as it was.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Irm {
    ipcps: BTreeMap<String, Ipcp>,
    names: BTreeMap<String, Name>,
    /// program → name → auto-start (`None`: bound, not auto-started).
    programs: BTreeMap<PathBuf, BTreeMap<String, Option<AutoStart>>>,
    processes: BTreeMap<u32, Process>,
    acceptors: Vec<Acceptor>,
    flows: BTreeMap<FlowId, broker::Flow>,
    events: VecDeque<IrmEvent>,
    next_seq: u64,
    next_flow: u32,
    /// Most flows one process may hold ([`Irm::set_flow_limit`]).
    flow_limit: Option<usize>,
    /// The process that holds the IPCPs' own N-1 flows (irmd's), once
    /// set ([`Irm::set_ipcp_process`]).
    ipcp_pid: Option<u32>,
}

/// A user account as the kernel names it: whom a binding acts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Account {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids.
    pub groups: Vec<u32>,
}

/// How irmd starts a program bound with `auto` when a flow arrives for
/// one of its names and no process accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoStart {
    /// Its arguments.
    pub args: Vec<String>,
    /// The account that bound it: the program runs as that account.
    pub account: Account,
}

fn valid(what: &'static str, value: &str) -> Result<(), IrmError> {
    check_name(value).map_err(|problem| IrmError::InvalidName {
        what,
        value: value.to_owned(),
        problem,
    })
}

/// Shell-style match with `*` and `?` (the `irm` wildcards).
fn glob_match(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl Irm {
    /// An empty IRM.
    pub fn new() -> Irm {
        Irm::default()
    }

    /// The next output, oldest first.
    pub fn poll_event(&mut self) -> Option<IrmEvent> {
        self.events.pop_front()
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn ipcp(&self, name: &str) -> Result<&Ipcp, IrmError> {
        self.ipcps
            .get(name)
            .ok_or_else(|| IrmError::UnknownIpcp(name.to_owned()))
    }

    // ---- IPCPs -------------------------------------------------------

    /// `irm ipcp create name <n> type <t>`.
    pub fn ipcp_create(&mut self, name: &str, ipcp_type: IpcpType) -> Result<(), IrmError> {
        valid("IPCP name", name)?;
        if self.ipcps.contains_key(name) {
            return Err(IrmError::DuplicateIpcp(name.to_owned()));
        }
        let seq = self.seq();
        self.ipcps.insert(
            name.to_owned(),
            Ipcp {
                ipcp_type,
                seq,
                state: IpcpState::Init,
                layer: None,
                hash_algo: None,
                device: None,
                names: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// `irm ipcp destroy name <n>`: unregisters every name from it and
    /// releases the IPCP side of its flows (pending requests through it
    /// fail).
    pub fn ipcp_destroy(&mut self, name: &str) -> Result<(), IrmError> {
        self.ipcp(name)?;
        let registered: Vec<String> = self
            .names
            .iter()
            .filter(|(_, n)| n.registered.contains(name))
            .map(|(k, _)| k.clone())
            .collect();
        for n in registered {
            self.unregister_one(&n, name);
        }
        self.release_flows_of_ipcp(name);
        self.ipcps.remove(name);
        self.events.push_back(IrmEvent::IpcpDestroyed { ipcp: name.to_owned() });
        Ok(())
    }

    /// `irm ipcp bootstrap`: records the IPCP as bootstrapped in `layer`
    /// with the configuration's hash algorithm and emits
    /// [`IrmEvent::BootstrapIpcp`].
    pub fn ipcp_bootstrap(&mut self, name: &str, layer: &str, config: &BootstrapConfig) -> Result<(), IrmError> {
        valid("layer name", layer)?;
        let ipcp = self.ipcp(name)?;
        self.check_not_in_layer(name, ipcp)?;
        if config.ipcp_type() != ipcp.ipcp_type {
            return Err(IrmError::BadLayerType {
                ipcp: name.to_owned(),
                ipcp_type: ipcp.ipcp_type,
                operation: format!("a bootstrap configuration for {}", config.ipcp_type()),
                expected: "the IPCP's own type",
            });
        }
        let ipcp = self.ipcps.get_mut(name).expect("checked above");
        ipcp.state = IpcpState::Bootstrapped;
        ipcp.layer = Some(layer.to_owned());
        ipcp.hash_algo = Some(config.dir_hash_algo());
        ipcp.device = config.device();
        self.events.push_back(IrmEvent::BootstrapIpcp {
            ipcp: name.to_owned(),
            layer: layer.to_owned(),
            config: config.clone(),
        });
        Ok(())
    }

    /// The IPCP task failed to bootstrap: back to [`IpcpState::Init`].
    pub fn ipcp_bootstrap_failed(&mut self, name: &str) -> Result<(), IrmError> {
        let ipcp = self.ipcp(name)?;
        if ipcp.state != IpcpState::Bootstrapped {
            return Err(IrmError::NotBootstrapped(name.to_owned()));
        }
        self.leave_layer(name);
        Ok(())
    }

    fn leave_layer(&mut self, name: &str) {
        let registered: Vec<String> = self
            .names
            .iter()
            .filter(|(_, n)| n.registered.contains(name))
            .map(|(k, _)| k.clone())
            .collect();
        for n in registered {
            self.unregister_one(&n, name);
        }
        if let Some(ipcp) = self.ipcps.get_mut(name) {
            ipcp.state = IpcpState::Init;
            ipcp.layer = None;
            ipcp.device = None;
            ipcp.hash_algo = None;
        }
    }

    fn check_not_in_layer(&self, name: &str, ipcp: &Ipcp) -> Result<(), IrmError> {
        if ipcp.state == IpcpState::Init {
            return Ok(());
        }
        Err(IrmError::AlreadyBootstrapped {
            ipcp: name.to_owned(),
            state: ipcp.state.keyword(),
            layer: ipcp.layer.clone().unwrap_or_default(),
        })
    }

    /// `irm ipcp enroll`: only unicast and broadcast IPCPs enrol. Emits
    /// [`IrmEvent::EnrollIpcp`]; the result comes back as
    /// [`Irm::ipcp_enrolled`] or [`Irm::ipcp_enroll_failed`].
    pub fn ipcp_enroll(&mut self, name: &str, dst: &str) -> Result<(), IrmError> {
        valid("name", dst)?;
        let ipcp = self.ipcp(name)?;
        if !ipcp.ipcp_type.enrols() {
            return Err(IrmError::BadLayerType {
                ipcp: name.to_owned(),
                ipcp_type: ipcp.ipcp_type,
                operation: "enrol".to_owned(),
                expected: "unicast or broadcast",
            });
        }
        self.check_not_in_layer(name, ipcp)?;
        let ipcp = self.ipcps.get_mut(name).expect("checked above");
        ipcp.state = IpcpState::Enrolling;
        ipcp.layer = Some(dst.to_owned());
        self.events.push_back(IrmEvent::EnrollIpcp {
            ipcp: name.to_owned(),
            dst: dst.to_owned(),
        });
        Ok(())
    }

    /// `irm ipcp connect`: a unicast IPCP in a layer opens flows to `dst`
    /// ([`IrmEvent::ConnectIpcp`]).
    pub fn ipcp_connect(
        &mut self,
        name: &str,
        dst: &str,
        component: Option<crate::irm_cli::Component>,
        qos: QosSpec,
    ) -> Result<(), IrmError> {
        self.check_connects(name, dst, "connect")?;
        self.events.push_back(IrmEvent::ConnectIpcp {
            ipcp: name.to_owned(),
            dst: dst.to_owned(),
            component,
            qos,
        });
        Ok(())
    }

    /// `irm ipcp disconnect` ([`IrmEvent::DisconnectIpcp`]).
    pub fn ipcp_disconnect(
        &mut self,
        name: &str,
        dst: &str,
        component: Option<crate::irm_cli::Component>,
    ) -> Result<(), IrmError> {
        self.check_connects(name, dst, "disconnect")?;
        self.events.push_back(IrmEvent::DisconnectIpcp {
            ipcp: name.to_owned(),
            dst: dst.to_owned(),
            component,
        });
        Ok(())
    }

    fn check_connects(&self, name: &str, dst: &str, operation: &str) -> Result<(), IrmError> {
        valid("name", dst)?;
        let ipcp = self.ipcp(name)?;
        if !ipcp.ipcp_type.enrols() {
            return Err(IrmError::BadLayerType {
                ipcp: name.to_owned(),
                ipcp_type: ipcp.ipcp_type,
                operation: operation.to_owned(),
                expected: "unicast or broadcast",
            });
        }
        if !ipcp.in_layer() {
            return Err(IrmError::NotBootstrapped(name.to_owned()));
        }
        Ok(())
    }

    /// Enrolment finished: the IPCP is in `layer`, which names with `algo`.
    pub fn ipcp_enrolled(&mut self, name: &str, layer: &str, algo: HashAlgo) -> Result<(), IrmError> {
        valid("layer name", layer)?;
        let ipcp = self.ipcp(name)?;
        if ipcp.state != IpcpState::Enrolling {
            return Err(IrmError::NotBootstrapped(name.to_owned()));
        }
        let ipcp = self.ipcps.get_mut(name).expect("checked above");
        ipcp.state = IpcpState::Enrolled;
        ipcp.layer = Some(layer.to_owned());
        ipcp.hash_algo = Some(algo);
        Ok(())
    }

    /// Enrolment failed: back to [`IpcpState::Init`].
    pub fn ipcp_enroll_failed(&mut self, name: &str) -> Result<(), IrmError> {
        let ipcp = self.ipcp(name)?;
        if ipcp.state != IpcpState::Enrolling {
            return Err(IrmError::NotBootstrapped(name.to_owned()));
        }
        self.leave_layer(name);
        Ok(())
    }

    /// `irm ipcp list [name <n>] [layer <l>] [type <t>]`, in creation order;
    /// `name` and `layer` may hold wildcards.
    pub fn ipcp_list(&self, name: Option<&str>, layer: Option<&str>, ipcp_type: Option<IpcpType>) -> Vec<IpcpInfo> {
        let mut list: Vec<(&String, &Ipcp)> = self
            .ipcps
            .iter()
            .filter(|(n, i)| {
                name.is_none_or(|p| glob_match(p, n))
                    && layer.is_none_or(|p| i.layer.as_deref().is_some_and(|l| glob_match(p, l)))
                    && ipcp_type.is_none_or(|t| t == i.ipcp_type)
            })
            .collect();
        list.sort_by_key(|(_, i)| i.seq);
        list.into_iter()
            .map(|(n, i)| IpcpInfo {
                name: n.clone(),
                ipcp_type: i.ipcp_type,
                state: i.state,
                layer: i.layer.clone(),
                hash_algo: i.hash_algo,
                device: i.device.clone(),
            })
            .collect()
    }

    // ---- processes ---------------------------------------------------

    /// A process announced itself (`PROC_ANNOUNCE`), with the program it
    /// runs if known.
    pub fn process_started(&mut self, pid: u32, program: Option<&Path>) -> Result<(), IrmError> {
        if self.processes.contains_key(&pid) {
            return Err(IrmError::DuplicateProcess(pid));
        }
        let seq = self.seq();
        self.processes.insert(
            pid,
            Process {
                program: program.map(Path::to_path_buf),
                seq,
                names: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// Makes `pid` (irmd's own) the process that holds the unicast and
    /// broadcast IPCPs' N-1 flows: those they allocate
    /// ([`Irm::ipcp_flow_alloc`]) and those that arrive for names bound to
    /// them ([`IrmEvent::IpcpFlowArrived`]). It never exits, takes no part
    /// in `flow_accept`, and no flow limit applies to it.
    pub fn set_ipcp_process(&mut self, pid: u32) -> Result<(), IrmError> {
        self.process_started(pid, None)?;
        self.ipcp_pid = Some(pid);
        Ok(())
    }

    /// The process holding the IPCPs' own flows, if set.
    pub fn ipcp_process(&self) -> Option<u32> {
        self.ipcp_pid
    }

    /// Whether `pid` is a living process known to the IRM.
    pub fn process_alive(&self, pid: u32) -> bool {
        self.processes.contains_key(&pid)
    }

    // ---- bindings ----------------------------------------------------

    /// `irm bind program <path> name <n> [auto -- args]`: `auto` `Some`
    /// lets irmd start the program on an incoming flow, as the account
    /// that bound it.
    pub fn bind_program(&mut self, path: &Path, name: &str, auto: Option<AutoStart>) -> Result<(), IrmError> {
        valid("name", name)?;
        if self.programs.get(path).is_some_and(|b| b.contains_key(name)) {
            return Err(IrmError::AlreadyBound {
                who: format!("program {}", path.display()),
                name: name.to_owned(),
            });
        }
        self.programs
            .entry(path.to_path_buf())
            .or_default()
            .insert(name.to_owned(), auto);
        Ok(())
    }

    /// `irm unbind program <path> [name <n>]`.
    pub fn unbind_program(&mut self, path: &Path, name: Option<&str>) -> Result<(), IrmError> {
        let bindings = self
            .programs
            .get_mut(path)
            .ok_or_else(|| IrmError::UnknownProgram(path.to_path_buf()))?;
        match name {
            Some(n) => {
                if bindings.remove(n).is_none() {
                    return Err(IrmError::NotBound {
                        who: format!("program {}", path.display()),
                        name: n.to_owned(),
                    });
                }
                if bindings.is_empty() {
                    self.programs.remove(path);
                }
            }
            None => {
                self.programs.remove(path);
            }
        }
        Ok(())
    }

    /// `irm bind process <pid> name <n>`.
    pub fn bind_process(&mut self, pid: u32, name: &str) -> Result<(), IrmError> {
        valid("name", name)?;
        let process = self.processes.get_mut(&pid).ok_or(IrmError::UnknownProcess(pid))?;
        if !process.names.insert(name.to_owned()) {
            return Err(IrmError::AlreadyBound {
                who: format!("process {pid}"),
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// `irm unbind process <pid> [name <n>]`.
    pub fn unbind_process(&mut self, pid: u32, name: Option<&str>) -> Result<(), IrmError> {
        let process = self.processes.get_mut(&pid).ok_or(IrmError::UnknownProcess(pid))?;
        match name {
            Some(n) if !process.names.remove(n) => Err(IrmError::NotBound {
                who: format!("process {pid}"),
                name: n.to_owned(),
            }),
            Some(_) => Ok(()),
            None => {
                process.names.clear();
                Ok(())
            }
        }
    }

    /// `irm bind ipcp <ipcp> name <n>` (and `autobind`).
    pub fn bind_ipcp(&mut self, ipcp: &str, name: &str) -> Result<(), IrmError> {
        valid("name", name)?;
        let entry = self
            .ipcps
            .get_mut(ipcp)
            .ok_or_else(|| IrmError::UnknownIpcp(ipcp.to_owned()))?;
        if !entry.names.insert(name.to_owned()) {
            return Err(IrmError::AlreadyBound {
                who: format!("IPCP {ipcp}"),
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// `irm unbind ipcp <ipcp> [name <n>]`.
    pub fn unbind_ipcp(&mut self, ipcp: &str, name: Option<&str>) -> Result<(), IrmError> {
        let entry = self
            .ipcps
            .get_mut(ipcp)
            .ok_or_else(|| IrmError::UnknownIpcp(ipcp.to_owned()))?;
        match name {
            Some(n) if !entry.names.remove(n) => Err(IrmError::NotBound {
                who: format!("IPCP {ipcp}"),
                name: n.to_owned(),
            }),
            Some(_) => Ok(()),
            None => {
                entry.names.clear();
                Ok(())
            }
        }
    }

    /// Whether `pid` accepts flows for `name`: bound directly, or running
    /// a program bound to it.
    fn process_bound_to(&self, pid: u32, name: &str) -> bool {
        self.processes.get(&pid).is_some_and(|p| {
            p.names.contains(name)
                || p.program
                    .as_ref()
                    .and_then(|prog| self.programs.get(prog))
                    .is_some_and(|b| b.contains_key(name))
        })
    }

    // ---- names -------------------------------------------------------

    /// `irm name create <n> [lb …] [paths …]`.
    pub fn name_create(&mut self, name: &str, lb: LoadBalance, paths: SecurityPaths) -> Result<(), IrmError> {
        valid("name", name)?;
        if self.names.contains_key(name) {
            return Err(IrmError::DuplicateName(name.to_owned()));
        }
        self.names.insert(
            name.to_owned(),
            Name {
                lb,
                paths,
                registered: BTreeSet::new(),
                last_served: None,
            },
        );
        Ok(())
    }

    /// `irm name destroy <n>`: unregisters it from every IPCP first.
    pub fn name_destroy(&mut self, name: &str) -> Result<(), IrmError> {
        let entry = self
            .names
            .get(name)
            .ok_or_else(|| IrmError::UnknownName(name.to_owned()))?;
        for ipcp in entry.registered.clone() {
            self.unregister_one(name, &ipcp);
        }
        self.names.remove(name);
        Ok(())
    }

    /// The IPCPs `ipcps` (names or patterns) and `layers` (names or
    /// patterns) designate, in creation order; each pattern must match.
    fn targets(&self, ipcps: &[String], layers: &[String]) -> Result<Vec<String>, IrmError> {
        let mut found: BTreeSet<(u64, String)> = BTreeSet::new();
        for pattern in ipcps {
            let before = found.len();
            for (n, i) in &self.ipcps {
                if glob_match(pattern, n) {
                    if !i.in_layer() {
                        return Err(IrmError::NotBootstrapped(n.clone()));
                    }
                    found.insert((i.seq, n.clone()));
                }
            }
            if found.len() == before && !self.ipcps.keys().any(|n| glob_match(pattern, n)) {
                return Err(IrmError::NoMatch {
                    what: "IPCP",
                    pattern: pattern.clone(),
                });
            }
        }
        for pattern in layers {
            let mut any = false;
            for (n, i) in &self.ipcps {
                if i.in_layer() && i.layer.as_deref().is_some_and(|l| glob_match(pattern, l)) {
                    any = true;
                    found.insert((i.seq, n.clone()));
                }
            }
            if !any {
                return Err(IrmError::NoMatch {
                    what: "layer",
                    pattern: pattern.clone(),
                });
            }
        }
        Ok(found.into_iter().map(|(_, n)| n).collect())
    }

    /// `irm name register <n> (ipcp <i>)… (layer <l>)…`: creates the name
    /// with spill-over load balancing if unknown, registers it with every
    /// IPCP designated and emits [`IrmEvent::RegisterOnIpcp`] for each.
    pub fn name_register(&mut self, name: &str, ipcps: &[String], layers: &[String]) -> Result<(), IrmError> {
        valid("name", name)?;
        if ipcps.is_empty() && layers.is_empty() {
            return Err(IrmError::NoTarget(name.to_owned()));
        }
        let targets = self.targets(ipcps, layers)?;
        if let Some(entry) = self.names.get(name)
            && let Some(ipcp) = targets.iter().find(|t| entry.registered.contains(*t))
        {
            return Err(IrmError::AlreadyRegistered {
                name: name.to_owned(),
                ipcp: ipcp.clone(),
            });
        }
        if !self.names.contains_key(name) {
            self.name_create(name, LoadBalance::FILE_DEFAULT, SecurityPaths::default())?;
        }
        for ipcp in targets {
            let algo = self.ipcps[&ipcp].hash_algo.unwrap_or_default();
            let hash = o7s_wire::hash::hash_name(algo, name);
            if let Some(entry) = self.names.get_mut(name) {
                entry.registered.insert(ipcp.clone());
            }
            self.events.push_back(IrmEvent::RegisterOnIpcp {
                ipcp,
                name: name.to_owned(),
                hash,
            });
        }
        Ok(())
    }

    /// `irm name unregister <n> (ipcp <i>)… (layer <l>)…`.
    pub fn name_unregister(&mut self, name: &str, ipcps: &[String], layers: &[String]) -> Result<(), IrmError> {
        let entry = self
            .names
            .get(name)
            .ok_or_else(|| IrmError::UnknownName(name.to_owned()))?;
        if ipcps.is_empty() && layers.is_empty() {
            return Err(IrmError::NoTarget(name.to_owned()));
        }
        let targets = self.targets(ipcps, layers)?;
        if let Some(ipcp) = targets.iter().find(|t| !entry.registered.contains(*t)) {
            return Err(IrmError::NotRegistered {
                name: name.to_owned(),
                ipcp: ipcp.clone(),
            });
        }
        for ipcp in targets {
            self.unregister_one(name, &ipcp);
        }
        Ok(())
    }

    fn unregister_one(&mut self, name: &str, ipcp: &str) {
        let Some(entry) = self.names.get_mut(name) else {
            return;
        };
        if !entry.registered.remove(ipcp) {
            return;
        }
        let algo = self.ipcps.get(ipcp).and_then(|i| i.hash_algo).unwrap_or_default();
        self.events.push_back(IrmEvent::UnregisterOnIpcp {
            ipcp: ipcp.to_owned(),
            name: name.to_owned(),
            hash: o7s_wire::hash::hash_name(algo, name),
        });
    }

    /// `irm name list`, sorted by name.
    pub fn name_list(&self) -> Vec<NameInfo> {
        self.names
            .iter()
            .map(|(name, n)| {
                let mut regs: Vec<(u64, &String, Option<&String>)> = n
                    .registered
                    .iter()
                    .filter_map(|i| self.ipcps.get(i).map(|e| (e.seq, i, e.layer.as_ref())))
                    .collect();
                regs.sort();
                let mut layers: Vec<String> = Vec::new();
                for (_, _, l) in &regs {
                    if let Some(l) = l
                        && !layers.contains(l)
                    {
                        layers.push((*l).clone());
                    }
                }
                NameInfo {
                    name: name.clone(),
                    lb: n.lb,
                    paths: n.paths.clone(),
                    ipcps: regs.into_iter().map(|(_, i, _)| i.clone()).collect(),
                    layers,
                }
            })
            .collect()
    }
}
