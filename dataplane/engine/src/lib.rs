//! The o7s dataplane: ports, forwarding, workers.
//!
//! | module | what it is |
//! |---|---|
//! | [`backend`] | opening the configured ports and starting the router |
//! | [`config`] | standalone mode: a static router from a TOML file |
//! | [`port`] | the I/O backend trait and its backends (AF_XDP, io_uring UDP, AF_PACKET, local) |
//! | [`tables`] | N-1 flows, forwarding tables per cube, local endpoints (swapped atomically) |
//! | [`forward`] | the per-packet decision, sans IO |
//! | [`counters`] | per-worker counters, drops by reason, and what the ports, XDP programs and kernel counted beneath the workers: every frame accounted for |
//! | [`worker`] | pinned worker loops and the [`Dataplane`] handle that programs them and waits for their acknowledgement ([`Dataplane::sync`]) |

pub mod backend;
pub mod config;
pub mod counters;
pub mod forward;
pub mod port;
mod sys;
pub mod tables;
pub mod worker;

pub use worker::{Command, CommandError, Dataplane, Idle, WorkerSpec};
