//! The o7s application library: what a program links to allocate flows
//! by name and move SDUs over them (PROTOCOL.md §16), as an idiomatic Rust
//! API over irmd's socket (control) and shared-memory rings (data).
//!
//! | C call | here |
//! |---|---|
//! | (implicit init in `dev.c`) | [`Ipc::connect`] |
//! | `flow_alloc(dst, qs, timeo)` | [`Ipc::flow_alloc`]; `Some(Duration::ZERO)` allocates asynchronously |
//! | `flow_accept(qs, timeo)` | [`Ipc::flow_accept`]; the requester's QoS is [`Flow::qos`] |
//! | `flow_join(layer, timeo)` | [`Ipc::flow_join`] |
//! | `flow_dealloc(fd)` | dropping the [`Flow`], or [`Flow::dealloc`] |
//! | `flow_read` / `flow_write` | [`Flow::read`] / [`Flow::write`] |
//! | `fccntl(FLOWSRCVTIMEO…)` | [`Flow::set_rcv_timeout`], [`Flow::rcv_timeout`], [`Flow::set_snd_timeout`], [`Flow::snd_timeout`] |
//! | `fccntl(FLOWGQOSSPEC)` | [`Flow::qos`] |
//! | `fccntl(FLOWSFLAGS / FLOWGFLAGS)` | [`Flow::set_flags`], [`Flow::flags`] with [`FlowFlags`] |
//! | `fccntl(FLOWGRXQLEN / FLOWGTXQLEN)` | [`Flow::rx_queue_len`], [`Flow::tx_queue_len`] |
//! | `fset_*` | [`FlowSet`] |
//! | `fqueue_*`, `fqueue_next`, `fqueue_type` | [`FQueue`] (an iterator of `(fd, Event)`) |
//! | `fevent(set, fq, timeo)` | [`Ipc::fevent`] |
//! | `qos_raw`, `qos_best_effort`, … | [`QosSpec::RAW`], [`QosSpec::BEST_EFFORT`], [`QosSpec::VIDEO`], [`QosSpec::VOICE`], [`QosSpec::DATA`] |
//!
//! Errors are [`Error`]s; [`Error::code`] gives the C library's negative
//! return value. Not here yet: FRCP (reliable flows; `FRCTSFLAGS`), OAP
//! key exchange and encryption.
//!
//! ```text
//!  Ipc ── SOCK_SEQPACKET <rundir>/irmd.sock ── irmd   (requests, replies, notices; fds over SCM_RIGHTS)
//!   │ the messages: irmd's RPC schema, `o7s_seam::rpc`
//!   │ control thread: replies to waiting calls, async allocations, flow-down notices
//!  Flow ── rx ring (consumer) / tx ring (producer) ── peer  (descriptors of shared pool buffers)
//! ```

pub mod admin;
pub mod error;
pub mod event;
pub mod flow;
mod ipc;
pub mod rundir;
pub mod sys;

pub use admin::Admin;
pub use error::{Error, Result};
pub use event::{Event, FQueue, FlowSet};
pub use flow::{Flow, FlowFlags};
pub use ipc::Ipc;
pub use o7s_wire::qos::QosSpec;
