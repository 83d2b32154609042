//! What a running worker can be told, and how it says it has done it.
//!
//! ```text
//!  control plane                                   worker (between two bursts)
//!  apply(worker, Command) ──── command queue ────► AddPort / RemovePort /
//!      waits ◄──────────────── done ────────────── SetEndpoint / SetPunt
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

use o7s_mem::Producer;

use crate::tables::PortId;

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
}

impl<P: fmt::Debug> fmt::Debug for Command<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::AddPort { id, port } => write!(f, "AddPort({id}, {port:?})"),
            Command::RemovePort { id } => write!(f, "RemovePort({id})"),
            Command::SetEndpoint { index, ring } => write!(f, "SetEndpoint({index}, {})", ring.is_some()),
            Command::SetPunt(ring) => write!(f, "SetPunt({})", ring.is_some()),
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
}
