//! I/O backends behind one trait.
//!
//! A [`Port`] moves whole frames between the wire (or another process) and
//! pool buffers, in bursts. Frames arrive in buffers of the shared pool with
//! the frame's first octet at `buf.head()`; frames to send are handed over
//! the same way and the port frees their buffers once the device is done
//! with them. Every call does a bounded amount of work and never blocks:
//! the worker that owns the port polls it.
//!
//! | backend | module | frames it carries |
//! |---|---|---|
//! | AF_XDP (UMEM = the pool) | `xsk` | Ethernet frames steered by the XDP program |
//! | io_uring UDP socket | `uring` | UDP payloads (the UDP shim: 4-octet EID + SDU) |
//! | AF_PACKET with mmap rings | `packet` | Ethernet frames of one Ethertype (eth-dix's fallback), or 802.3 frames with an LLC header (eth-llc) |
//! | local | `local` | frames between ports of one system, over shared rings |

pub mod local;
pub mod packet;
pub mod uring;
pub mod xdp;

use std::net::SocketAddr;

use o7s_mem::{Buf, PoolCache};
use o7s_wire::eth::MacAddr;

use crate::forward::Shim;
use o7s_seam::counters::Snapshot;

/// What kind of backend a port is, and how it runs (for logs and `irm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortKind {
    AfXdp {
        zero_copy: bool,
        /// The steering program runs in the driver (else generic XDP).
        xdp_native: bool,
        rx_ring: u32,
        tx_ring: u32,
        fill_ring: u32,
        comp_ring: u32,
    },
    Uring {
        entries: u32,
        buffers: u32,
    },
    AfPacket {
        frames: u32,
        frame_size: u32,
    },
    Local,
}

impl std::fmt::Display for PortKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortKind::AfXdp {
                zero_copy,
                xdp_native,
                rx_ring,
                tx_ring,
                fill_ring,
                comp_ring,
            } => write!(
                f,
                "AF_XDP {} (rx {rx_ring}, tx {tx_ring}, fill {fill_ring}, comp {comp_ring}), XDP {}",
                if *zero_copy { "zero-copy" } else { "copy" },
                if *xdp_native { "native" } else { "generic" }
            ),
            PortKind::Uring { entries, buffers } => write!(f, "io_uring UDP ({entries} entries, {buffers} buffers)"),
            PortKind::AfPacket { frames, frame_size } => write!(f, "AF_PACKET mmap ({frames} x {frame_size} B)"),
            PortKind::Local => f.write_str("local"),
        }
    }
}

/// A port's identity and shape: what `irm ipcp list` and the logs show
/// of it, and what the worker needs to know to frame for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Interface or port name (`udp:<address>` for UDP ports).
    pub name: String,
    /// The backend in use, and how it runs (`Display`: for logs).
    pub kind: PortKind,
    /// The most octets the port carries after its link header: on
    /// Ethernet ports the interface's MTU (the Ethernet payload), capped
    /// by what the backend's buffers hold (and at 1500 on eth-llc); on UDP
    /// ports the largest datagram payload. A shim's largest SDU is this
    /// less its own header (eth-dix 4, eth-llc 3, UDP 4).
    pub mtu: usize,
    /// The port's own MAC address on Ethernet ports: frames for other
    /// stations are refused. `None` where there is none (local, UDP).
    pub mac: Option<MacAddr>,
    /// The shim its frames carry.
    pub shim: Shim,
}

impl PortInfo {
    /// The longest frame the port sends: the MTU and the link header.
    pub fn max_frame(&self) -> usize {
        self.mtu + self.shim.link_header_len()
    }
}

/// An I/O backend.
pub trait Port: Send {
    /// Receives up to `max` frames, appending them to `out`; returns how
    /// many. Buffers come from (and stay accounted to) `cache`'s slot.
    fn rx_burst(&mut self, cache: &mut PoolCache, out: &mut Vec<Buf>, max: usize) -> usize;

    /// Receives like [`rx_burst`](Port::rx_burst), and appends each
    /// frame's source address to `from`, in step with `out`, where frames
    /// come from an address (UDP ports; the UDP shim checks an
    /// application flow's sender and answers a request at its source).
    /// Ports whose frames name their sender themselves leave `from` alone.
    fn rx_burst_addressed(
        &mut self,
        cache: &mut PoolCache,
        out: &mut Vec<Buf>,
        _from: &mut Vec<SocketAddr>,
        max: usize,
    ) -> usize {
        self.rx_burst(cache, out, max)
    }

    /// Queues frames from the front of `frames` for transmission and
    /// returns how many it took; those it did not take stay in `frames`
    /// (the caller drops and counts them, or retries). Buffers of completed
    /// transmissions go back to `cache`.
    fn tx_burst(&mut self, cache: &mut PoolCache, frames: &mut Vec<Buf>) -> usize;

    /// Queues datagrams each with its own destination (UDP ports); same
    /// contract as [`tx_burst`](Port::tx_burst). Ports without addressing
    /// take nothing.
    fn tx_burst_to(&mut self, _cache: &mut PoolCache, _frames: &mut Vec<(Buf, SocketAddr)>) -> usize {
        0
    }

    /// Housekeeping between bursts: reap completions, refill receive
    /// buffers, kick the kernel when it asked to be woken.
    fn poll(&mut self, cache: &mut PoolCache);

    /// A file descriptor that turns readable when frames wait, so that an
    /// idle worker can sleep in `ppoll` and wake on the first frame;
    /// `None` when the backend has none (the worker then wakes on its nap
    /// timer, at most [`MAX_NAP`](crate::worker::MAX_NAP) late).
    fn wait_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }

    /// Frames queued for transmission and not yet sent: drives mb-ECN
    /// marking (PROTOCOL.md §9).
    fn tx_queue_len(&self) -> usize;

    fn info(&self) -> &PortInfo;

    /// What happened beneath the worker since the port was opened: frames
    /// the port, its XDP program or the kernel dropped, passed on or
    /// forwarded before they became a `Buf` (drops by reason,
    /// `fast_forwarded`, `passed_to_kernel`, kernel losses; the worker
    /// counts the rest). May call the kernel: the worker asks only on
    /// demand, never per packet.
    fn snapshot(&mut self) -> Snapshot {
        Snapshot::default()
    }

    /// Returns every buffer the port holds to `cache` (before the port is
    /// dropped, so none is left accounted to the worker's slot).
    fn drain(&mut self, cache: &mut PoolCache);
}

/// A port shows as its name (in the worker's command log).
impl std::fmt::Debug for dyn Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.info().name)
    }
}
