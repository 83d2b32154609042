//! Per-worker counters, kept per port: packets, bytes and drops by reason.
//!
//! ```text
//!  Counters (one per worker, shared with readers through an Arc)
//!   ├─ ports[id]: PortCounters   what arrived on port id (and became forwarded,
//!   │                            delivered, punted or a drop), what left by it,
//!   │                            what source rings sent out of it; what the port
//!   │                            itself, its XDP program and the kernel counted
//!   ├─ retired                   the counts of ports the worker let go of
//!   └─ stray                     frames of source rings bound for a port the
//!                                worker never had
//!  worker total = retired + stray + Σ ports
//! ```
//!
//! Each worker owns its counters and is their only writer, so an update is
//! a relaxed load and store (no locked instruction, nothing shared with
//! another worker); readers (`irm`, the benchmark, tests) sum over the
//! workers on demand, as [`Snapshot`]s (the seam's type: what frames
//! became, and why they were dropped, is what the control plane reads).
//! The list of ports grows when a port is added (a command, between
//! bursts), never on the packet path.
//!
//! The worker counts what it handles as it goes; what its ports, their XDP
//! programs and the kernel counted beneath it costs system calls to read
//! (getsockopt, BPF map lookups), so the worker reads those only when asked
//! ([`Dataplane::counters`](crate::Dataplane::counters)) and publishes them
//! beside its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use o7s_seam::counters::{DropReason, Snapshot};

fn bump(counter: &AtomicU64, n: u64) {
    // Single writer: a plain load and store, no lock prefix.
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One port's counts on one worker (single writer: the worker).
#[derive(Debug, Default)]
pub struct PortCounters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    forwarded: AtomicU64,
    delivered: AtomicU64,
    punted: AtomicU64,
    sourced: AtomicU64,
    sent: AtomicU64,
    drops: [AtomicU64; DropReason::COUNT],
    /// What the port counted beneath the worker, as of the worker's last
    /// look (written on request only, never per packet).
    below: Mutex<Snapshot>,
}

impl PortCounters {
    /// Frames received on the port.
    pub fn rx(&self, packets: u64, bytes: u64) {
        bump(&self.rx_packets, packets);
        bump(&self.rx_bytes, bytes);
    }

    /// Frames the port took to send.
    pub fn tx(&self, packets: u64, bytes: u64) {
        bump(&self.tx_packets, packets);
        bump(&self.tx_bytes, bytes);
    }

    /// Frames that arrived on the port and left by a port.
    pub fn forwarded(&self, n: u64) {
        bump(&self.forwarded, n);
    }

    /// Frames that arrived on the port and went to a local endpoint.
    pub fn delivered(&self, n: u64) {
        bump(&self.delivered, n);
    }

    /// Frames that arrived on the port and went to the control plane.
    pub fn punted(&self, n: u64) {
        bump(&self.punted, n);
    }

    /// Frames taken from source rings to leave by the port.
    pub fn sourced(&self, n: u64) {
        bump(&self.sourced, n);
    }

    /// Frames from source rings the port took to send.
    pub fn sent(&self, n: u64) {
        bump(&self.sent, n);
    }

    pub fn count_drop(&self, reason: DropReason, n: u64) {
        bump(&self.drops[reason as usize], n);
    }

    /// Replaces what the port counted beneath the worker (its
    /// [`Port::snapshot`](crate::port::Port::snapshot)).
    pub fn set_below(&self, below: Snapshot) {
        *lock(&self.below) = below;
    }

    /// A copy of the current values, the port's last published counts
    /// included.
    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut drops = [0; DropReason::COUNT];
        for (d, c) in drops.iter_mut().zip(&self.drops) {
            *d = get(c);
        }
        let own = Snapshot {
            rx_packets: get(&self.rx_packets),
            rx_bytes: get(&self.rx_bytes),
            tx_packets: get(&self.tx_packets),
            tx_bytes: get(&self.tx_bytes),
            forwarded: get(&self.forwarded),
            delivered: get(&self.delivered),
            punted: get(&self.punted),
            sourced: get(&self.sourced),
            sent: get(&self.sent),
            drops,
            ..Snapshot::default()
        };
        own + *lock(&self.below)
    }

    /// Back to zero (the writer only: a port id taken by a new port).
    fn reset(&self) {
        for c in [
            &self.rx_packets,
            &self.rx_bytes,
            &self.tx_packets,
            &self.tx_bytes,
            &self.forwarded,
            &self.delivered,
            &self.punted,
            &self.sourced,
            &self.sent,
        ]
        .into_iter()
        .chain(&self.drops)
        {
            c.store(0, Ordering::Relaxed);
        }
        self.set_below(Snapshot::default());
    }
}

/// One worker's counters: per port, and what no open port holds.
#[derive(Debug, Default)]
pub struct Counters {
    /// By port id; grown by the worker when it takes a port.
    ports: Mutex<Vec<Arc<PortCounters>>>,
    /// What ports the worker let go of had counted.
    retired: Mutex<Snapshot>,
    /// Frames of source rings bound for a port id the worker never had.
    stray: PortCounters,
}

impl Counters {
    /// The counters of every port id up to `id`, creating those missing
    /// (the worker, when it takes a port: never on the packet path).
    pub fn ports_upto(&self, id: usize) -> Vec<Arc<PortCounters>> {
        let mut ports = lock(&self.ports);
        if ports.len() <= id {
            ports.resize_with(id + 1, Arc::default);
        }
        ports.clone()
    }

    /// Folds port `id`'s counts (with `below`, what the port counted
    /// beneath the worker at the end) into the retired sums and starts the
    /// id afresh.
    pub fn retire(&self, id: usize, below: Snapshot) {
        let Some(port) = lock(&self.ports).get(id).cloned() else {
            return;
        };
        port.set_below(below);
        let mut retired = lock(&self.retired);
        *retired = *retired + port.snapshot();
        port.reset();
    }

    /// Where drops of frames for a port the worker never had are counted.
    pub fn stray(&self) -> &PortCounters {
        &self.stray
    }

    /// Port `id`'s counts on this worker (zero for a port it never had).
    pub fn port(&self, id: usize) -> Snapshot {
        lock(&self.ports).get(id).map(|p| p.snapshot()).unwrap_or_default()
    }

    /// The worker's totals: every port, open or retired, and the strays.
    pub fn snapshot(&self) -> Snapshot {
        let ports: Vec<Arc<PortCounters>> = lock(&self.ports).clone();
        ports
            .iter()
            .fold(*lock(&self.retired) + self.stray.snapshot(), |sum, p| {
                sum + p.snapshot()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use o7s_seam::counters::KernelLoss;

    #[test]
    fn a_snapshot_holds_the_ports_counts_beside_the_workers() {
        let c = Counters::default();
        let ports = c.ports_upto(1);
        ports[0].rx(3, 300);
        ports[0].forwarded(1);
        ports[0].count_drop(DropReason::BadTtl, 2);
        let mut below = Snapshot {
            fast_forwarded: 5,
            passed_to_kernel: 7,
            ..Snapshot::default()
        };
        below.drops[DropReason::NotForUs as usize] = 11;
        below.kernel[KernelLoss::PacketRxDrops as usize] = 13;
        ports[0].set_below(below);
        let s = c.snapshot();
        assert_eq!((s.rx_packets, s.forwarded, s.fast_forwarded), (3, 1, 5));
        assert_eq!(
            (s.dropped(DropReason::BadTtl), s.dropped(DropReason::NotForUs)),
            (2, 11)
        );
        assert_eq!(s.lost(KernelLoss::PacketRxDrops), 13);
        assert_eq!(s.accounted(), 1 + 5 + 2 + 11 + 7, "kernel losses apart");
        assert_eq!((s + s).accounted(), 2 * s.accounted());
        let text = s.to_string();
        for word in [
            "fast-forwarded 5",
            "passed-to-kernel 7",
            "drop not-for-us 11",
            "kernel packet-rx-drops 13",
        ] {
            assert!(text.contains(word), "{text}");
        }
    }

    #[test]
    fn ports_count_apart_and_a_retired_port_stays_in_the_totals_only() {
        let c = Counters::default();
        let ports = c.ports_upto(2);
        ports[0].rx(4, 400);
        ports[0].delivered(4);
        ports[2].sourced(3);
        ports[2].sent(2);
        ports[2].tx(2, 200);
        ports[2].count_drop(DropReason::TooBig, 1);
        c.stray().count_drop(DropReason::NoPort, 1);
        assert_eq!((c.port(0).rx_packets, c.port(0).delivered), (4, 4));
        assert_eq!((c.port(2).sourced, c.port(2).sent, c.port(2).tx_packets), (3, 2, 2));
        assert_eq!(c.port(1), Snapshot::default());
        assert_eq!(c.port(9), Snapshot::default(), "a port never had");
        let total = c.snapshot();
        assert_eq!((total.rx_packets, total.sourced, total.total_drops()), (4, 3, 2));

        let mut below = Snapshot::default();
        below.drops[DropReason::Oversize as usize] = 6;
        c.retire(2, below);
        assert_eq!(c.port(2), Snapshot::default(), "the id starts afresh");
        let after = c.snapshot();
        assert_eq!(after.sent, 2, "kept in the worker's totals");
        assert_eq!(
            after.dropped(DropReason::Oversize),
            6,
            "with what the port counted last"
        );
        assert_eq!(after.rx_packets, 4);
    }
}
