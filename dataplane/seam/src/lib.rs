//! The seam between o7s's control plane and its dataplane: the one small
//! interface where they meet (ARCHITECTURE.md, "The seam between control
//! and dataplane"). Both depend on this crate; it depends on neither, only
//! on the wire formats (`o7s-wire`) and the packet memory (`o7s-mem`).
//!
//! ```text
//!  control (irmd, IPCP tasks)                         dataplane (engine workers)
//!    builds Tables ────────── tables ──────────────► forwards by them (swapped whole)
//!    Command<P> ──────────── command ──────────────► applies between bursts, acks
//!    reads Snapshot ◄──────── counters ───────────── counts, drops by DropReason
//!    takes Punt ◄──────────── punt ───────────────── management frames, on a ring
//!  applications ◄─── rpc (irmd's socket protocol) ───► irmd
//! ```
//!
//! | module | what crosses |
//! |---|---|
//! | [`tables`] | the forwarding tables: N-1 flows and their encapsulation, demux, per-cube FIBs with ECMP and LFA, local endpoints |
//! | [`command`] | the commands a worker takes (ports, endpoint rings, source rings, the punt ring) and their acknowledgement errors |
//! | [`counters`] | drop reasons, kernel-loss kinds, counter snapshots |
//! | [`punt`] | the punt descriptor: which port, which N-1 flow or UDP sender, which buffer |
//! | [`inject`] | frames the control plane sends as they are (UDP datagrams behind their destination) |
//! | [`addr`] | the socket address block punts and injected datagrams carry |
//! | [`rpc`] | irmd's RPC schema with applications (`proto/irmd.proto`) and its framing on the socket |
//!
//! Everything else is on one side: control never touches a port or a
//! ring directly; the engine never decides where a packet goes beyond
//! looking up the tables it was handed.
#![forbid(unsafe_code)]

pub mod addr;
pub mod command;
pub mod counters;
pub mod inject;
pub mod punt;
pub mod rpc;
pub mod tables;

pub use command::{Command, CommandError};
pub use counters::{DropReason, KernelLoss, Snapshot};
pub use punt::{Punt, PuntCause};
pub use tables::Tables;
