//! Why the IRM refused an operation. A refused operation changes nothing.

use std::path::PathBuf;

use crate::ipcp_config::{IpcpType, ValueProblem};

use super::{FlowId, FlowState};

/// A refused IRM operation; every message names the thing at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IrmError {
    /// A name, IPCP name or layer name that is empty, too long or has a NUL.
    #[error("invalid {what} {value:?}: {problem}")]
    InvalidName {
        /// "name", "IPCP name" or "layer name".
        what: &'static str,
        /// What was given.
        value: String,
        /// What is wrong with it.
        problem: ValueProblem,
    },
    /// No IPCP has this name.
    #[error("no IPCP named {0:?}")]
    UnknownIpcp(String),
    /// `ipcp create` with a name already taken.
    #[error("an IPCP named {0:?} already exists")]
    DuplicateIpcp(String),
    /// No name is called this.
    #[error("no name {0:?}; create or register it first")]
    UnknownName(String),
    /// `name create` with a name that exists.
    #[error("name {0:?} already exists")]
    DuplicateName(String),
    /// No living process has this pid.
    #[error("no process with pid {0} is known to the IRM")]
    UnknownProcess(u32),
    /// The process holds as many flows as irmd allows one process.
    #[error("process {pid} holds {limit} flows, the most irmd allows one process")]
    TooManyFlows {
        /// The process.
        pid: u32,
        /// The cap.
        limit: usize,
    },
    /// A process announced itself twice.
    #[error("process {0} is already known to the IRM")]
    DuplicateProcess(u32),
    /// `unbind program` for a program that has no binding.
    #[error("program {0:?} is not bound to any name")]
    UnknownProgram(PathBuf),
    /// The binding to add exists already.
    #[error("{who} is already bound to name {name:?}")]
    AlreadyBound {
        /// "program /usr/bin/oping", "process 42", "IPCP lo".
        who: String,
        /// The name.
        name: String,
    },
    /// The binding to remove does not exist.
    #[error("{who} is not bound to name {name:?}")]
    NotBound {
        /// As in [`IrmError::AlreadyBound`].
        who: String,
        /// The name.
        name: String,
    },
    /// Bootstrap or enrol of an IPCP that is in a layer (or enrolling).
    #[error("IPCP {ipcp:?} is already {state} (layer {layer:?})")]
    AlreadyBootstrapped {
        /// The IPCP.
        ipcp: String,
        /// Its state: "bootstrapped", "enrolled" or "enrolling".
        state: &'static str,
        /// The layer it is in or joining.
        layer: String,
    },
    /// An operation that needs an IPCP in a layer.
    #[error("IPCP {0:?} is not in a layer yet (bootstrap or enrol it first)")]
    NotBootstrapped(String),
    /// An operation that the IPCP's (layer's) type does not support.
    #[error("IPCP {ipcp:?} is a {ipcp_type} IPCP; {operation} needs {expected}")]
    BadLayerType {
        /// The IPCP.
        ipcp: String,
        /// Its type.
        ipcp_type: IpcpType,
        /// What was asked ("enrol", "a bootstrap configuration for udp4", …).
        operation: String,
        /// Which types would do.
        expected: &'static str,
    },
    /// No IPCP (or layer) matches a register/unregister target.
    #[error("no {what} matches {pattern:?}")]
    NoMatch {
        /// "IPCP" or "layer".
        what: &'static str,
        /// The name or pattern given.
        pattern: String,
    },
    /// `name register`/`unregister` without any `ipcp` or `layer`.
    #[error("name {0:?}: no ipcp or layer given")]
    NoTarget(String),
    /// The name is registered with that IPCP already.
    #[error("name {name:?} is already registered with IPCP {ipcp:?}")]
    AlreadyRegistered {
        /// The name.
        name: String,
        /// The IPCP.
        ipcp: String,
    },
    /// The name is not registered with that IPCP.
    #[error("name {name:?} is not registered with IPCP {ipcp:?}")]
    NotRegistered {
        /// The name.
        name: String,
        /// The IPCP.
        ipcp: String,
    },
    /// `flow_alloc` when no IPCP is in a layer that allocates flows.
    #[error("no layer to allocate a flow to {0:?} in (no bootstrapped or enrolled IPCP)")]
    NoLayer(String),
    /// `flow_join` of a layer no broadcast IPCP here is a member of.
    #[error("no broadcast IPCP here is a member of layer {0:?}")]
    NoBroadcastLayer(String),
    /// No flow has this id.
    #[error("no flow {0}")]
    UnknownFlow(FlowId),
    /// A process acting on a flow that is not its own.
    #[error("flow {flow} does not belong to process {pid}")]
    NotFlowOwner {
        /// The flow.
        flow: FlowId,
        /// The process that asked.
        pid: u32,
    },
    /// An IPCP acting on a flow that does not go through it.
    #[error("flow {flow} does not go through IPCP {ipcp:?}")]
    NotFlowIpcp {
        /// The flow.
        flow: FlowId,
        /// The IPCP that answered.
        ipcp: String,
    },
    /// An input that does not fit the flow's current state.
    #[error("flow {flow} is {state}; cannot {operation}")]
    WrongFlowState {
        /// The flow.
        flow: FlowId,
        /// Its state.
        state: FlowState,
        /// What was asked.
        operation: &'static str,
    },
    /// A flow request whose hash matches no known name.
    #[error("IPCP {ipcp:?} got a flow request for hash {hash}, which matches no known name")]
    UnknownHash {
        /// The IPCP.
        ipcp: String,
        /// The hash, lower-case hex.
        hash: String,
    },
    /// A flow request for a name no process can take: none accepting, none
    /// bound that could call `flow_accept`, no program to start.
    #[error("no process accepts flows for name {0:?} and no program bound to it can be started")]
    NoAcceptor(String),
}
