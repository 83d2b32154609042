//! What a running worker can be told, and how it says it has done it.
//!
//! ```text
//!  control plane                                   worker (between two bursts)
//!  apply(worker, Command) ──── command queue ────► AddPort / RemovePort /
//!      (kicks the worker)                          SetEndpoint / SetPunt /
//!      waits ◄──────────────── done or refused ─── AddSource / RemoveSource
//!  sync() ── generation g ──► every worker acks g at the top of a round:
//!                             everything sent before sync() is in force
//! ```
//!
//! A port is the engine's business (an AF_XDP socket, an io_uring UDP
//! socket, a ring pair): the vocabulary here is generic over it, and the
//! engine names its own instance (`o7s_dataplane::Command`, a command
//! whose port is a `Box<dyn Port>`). Rings are the packet memory's
//! [`Producer`]s: an application flow's or the control plane's punt ring.

use std::fmt;
use std::time::Duration;

use o7s_mem::{Producer, Ring};

use crate::tables::{DtDest, Egress, PortId};

/// A change to what a running worker polls or delivers to, applied
/// between two bursts. `P` is the engine's port.
pub enum Command<P> {
    /// Starts polling `port` under `id` (the id flows in the tables use).
    AddPort { id: PortId, port: P },
    /// Stops polling port `id` and returns its buffers to the pool.
    RemovePort { id: PortId },
    /// Sets (or clears) the ring of local endpoint `index`, the index
    /// `Tables::endpoints` maps EIDs to.
    SetEndpoint { index: u32, ring: Option<Producer> },
    /// Sets (or clears) the ring to the control plane, which carries
    /// [`Punt`](crate::punt::Punt)s.
    SetPunt(Option<Producer>),
    /// Starts polling source ring `index`: an application flow's send
    /// ring, or the control plane's ring of management frames to send.
    /// The worker becomes the ring's consumer (under its own pool slot)
    /// and sends what it takes out of `egress`. Its producer sleeps on
    /// nothing: it kicks the worker's eventfd
    /// (`Dataplane::kick_fd`) when the worker armed the ring.
    AddSource { index: u32, ring: Ring, egress: Egress },
    /// Starts polling source ring `index` as a flow of the worker's
    /// unicast layer: each SDU gets a DT header to `to` and leaves by the
    /// next hop the tables give (the same index space as `AddSource`).
    AddLayerSource { index: u32, ring: Ring, to: DtDest },
    /// Stops polling source ring `index`; what is still in it is freed.
    RemoveSource { index: u32 },
}

impl<P: fmt::Debug> fmt::Debug for Command<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::AddPort { id, port } => write!(f, "AddPort({id}, {port:?})"),
            Command::RemovePort { id } => write!(f, "RemovePort({id})"),
            Command::SetEndpoint { index, ring } => write!(f, "SetEndpoint({index}, {})", ring.is_some()),
            Command::SetPunt(ring) => write!(f, "SetPunt({})", ring.is_some()),
            Command::AddSource { index, egress, .. } => write!(f, "AddSource({index}, {egress:?})"),
            Command::AddLayerSource { index, to, .. } => write!(f, "AddLayerSource({index}, {to:?})"),
            Command::RemoveSource { index } => write!(f, "RemoveSource({index})"),
        }
    }
}

/// Why a command or an acknowledgement did not come through.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("no worker {0}")]
    NoWorker(usize),
    #[error("worker {0} has stopped")]
    Stopped(usize),
    #[error("worker {worker} did not acknowledge within {waited:?}")]
    Timeout { worker: usize, waited: Duration },
    /// The worker could not do it (e.g. a source ring whose consumer end
    /// is already taken); nothing changed.
    #[error("worker {worker} refused the command: {why}")]
    Refused { worker: usize, why: String },
}
