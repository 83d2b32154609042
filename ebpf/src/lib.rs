//! The o7s XDP programs and their loader.
//!
//! The programs are C (`ebpf/bpf/*.bpf.c`), compiled for the BPF target by
//! `build.rs` and embedded in this crate; this side loads them with aya,
//! fills their maps and attaches them to interfaces.
//!
//! | object | program | attached to | what it does |
//! |---|---|---|---|
//! | `steer.bpf.o` | `o7s_steer` | every o7s port ([`Steering`]) | o7s Ethertype or UDP port → the rx queue's AF_XDP socket; the rest → kernel |
//! | `redirect.bpf.o` | `xdp_fwd` | benchmark ingress ([`RedirectForwarder`]) | every frame → `tx_port[0]` (the baseline XDP forwarder) |
//! | `redirect.bpf.o` | `xdp_pass` | the far veth peer ([`PassProgram`]) | `XDP_PASS`, so that veth accepts redirected frames |
//! | `redirect.bpf.o` | `xdp_count` | benchmark sink ([`CountingSink`]) | counts frames and octets per CPU, `XDP_DROP` |
//!
//! Interface names are resolved in the network namespace of the calling
//! thread, and the programs attach through BPF links owned by the returned
//! value: dropping it, or the process exiting for any reason, detaches them.

mod abi;
mod error;
mod redirect;
mod steer;
mod sys;
mod xdp;

pub use error::{EbpfError, Result};
pub use redirect::{CountingSink, PassProgram, RedirectForwarder};
pub use steer::{
    DEFAULT_ETHERTYPE, DEFAULT_UDP_PORT, FastFlow, FastPath, MAX_QUEUES, NextHop, Steering, SteeringConfig,
    SteeringStats,
};
pub use xdp::{ActiveMode, AttachMode};
