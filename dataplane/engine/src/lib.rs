//! The o7s dataplane: ports, forwarding, workers.
//!
//! What the control plane hands it and reads back — the forwarding
//! tables, the commands its workers take, drop reasons and counter
//! snapshots, punted frames — are the seam's types (`o7s_seam`), which
//! this crate implements; it decides nothing the tables do not say.
//!
//! | module | what it is |
//! |---|---|
//! | [`backend`] | opening the configured ports and starting the router |
//! | [`config`] | standalone mode: a static router from a TOML file |
//! | [`port`] | the I/O backend trait and its backends (AF_XDP, io_uring UDP, AF_PACKET, local) |
//! | [`forward`] | the per-packet decision, sans IO |
//! | [`mbecn`] | mb-ECN congestion avoidance at a flow's ends, sans IO |
//! | [`counters`] | per-worker counters, and what the ports, XDP programs and kernel counted beneath the workers: every frame accounted for |
//! | [`worker`] | pinned worker loops and the [`Dataplane`] handle that programs them and waits for their acknowledgement ([`Dataplane::sync`]) |

pub mod backend;
pub mod config;
pub mod counters;
pub mod forward;
pub mod mbecn;
pub mod port;
mod sys;
pub mod worker;

pub use worker::{Command, Dataplane, Idle, WorkerSpec};
