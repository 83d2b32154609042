//! Per-worker counters: packets, bytes and drops by reason.
//!
//! Each worker owns one [`Counters`] and is its only writer, so an update is
//! a relaxed load and store (no locked instruction); readers (`irm`, the
//! benchmark, tests) sum all workers' counters on demand, as
//! [`Snapshot`]s (the seam's type: what frames became, and why they were
//! dropped, is what the control plane reads).
//!
//! The worker counts what it handles as it goes; what its ports, their XDP
//! programs and the kernel counted beneath it costs system calls to read
//! (getsockopt, BPF map lookups), so the worker reads those only when asked
//! ([`Dataplane::counters`](crate::Dataplane::counters)) and publishes them
//! beside its own.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use o7s_seam::counters::{DropReason, Snapshot};

/// One worker's counters (single writer).
#[derive(Debug, Default)]
pub struct Counters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    forwarded: AtomicU64,
    delivered: AtomicU64,
    punted: AtomicU64,
    drops: [AtomicU64; DropReason::COUNT],
    /// What the worker's ports counted beneath it, as of its last look
    /// (written on request only, never per packet).
    below: Mutex<Snapshot>,
}

fn bump(counter: &AtomicU64, n: u64) {
    // Single writer: a plain load and store, no lock prefix.
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl Counters {
    pub fn rx(&self, packets: u64, bytes: u64) {
        bump(&self.rx_packets, packets);
        bump(&self.rx_bytes, bytes);
    }

    pub fn tx(&self, packets: u64, bytes: u64) {
        bump(&self.tx_packets, packets);
        bump(&self.tx_bytes, bytes);
    }

    pub fn forwarded(&self, n: u64) {
        bump(&self.forwarded, n);
    }

    pub fn delivered(&self, n: u64) {
        bump(&self.delivered, n);
    }

    pub fn punted(&self, n: u64) {
        bump(&self.punted, n);
    }

    pub fn count_drop(&self, reason: DropReason, n: u64) {
        bump(&self.drops[reason as usize], n);
    }

    /// Replaces what the ports beneath the worker counted (their
    /// [`Port::snapshot`](crate::port::Port::snapshot)s, summed).
    pub fn set_below(&self, below: Snapshot) {
        *self.below.lock().unwrap_or_else(|e| e.into_inner()) = below;
    }

    /// A copy of the current values, the ports' last published counts
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
            drops,
            ..Snapshot::default()
        };
        own + *self.below.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use o7s_seam::counters::KernelLoss;

    #[test]
    fn a_snapshot_holds_the_ports_counts_beside_the_workers() {
        let c = Counters::default();
        c.rx(3, 300);
        c.forwarded(1);
        c.count_drop(DropReason::BadTtl, 2);
        let mut below = Snapshot {
            fast_forwarded: 5,
            passed_to_kernel: 7,
            ..Snapshot::default()
        };
        below.drops[DropReason::NotForUs as usize] = 11;
        below.kernel[KernelLoss::PacketRxDrops as usize] = 13;
        c.set_below(below);
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
}
