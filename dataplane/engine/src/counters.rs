//! Per-worker counters: packets, bytes and drops by reason.
//!
//! Each worker owns one [`Counters`] and is its only writer, so an update is
//! a relaxed load and store (no locked instruction); readers (`irm`, the
//! benchmark, tests) sum all workers' counters on demand.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a packet was dropped. Small and `Copy`: counted on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// Shorter than an Ethernet header.
    ShortFrame,
    /// Ethertype other than the layer's (the XDP program should not pass it).
    WrongEthertype,
    /// Shorter than Ethernet + eth-dix inner header.
    ShortShimHeader,
    /// The eth-dix length field exceeds the frame.
    BadShimLength,
    /// No N-1 flow for this (port, shim EID).
    UnknownFlow,
    /// Payload shorter than a DT header.
    ShortDtHeader,
    /// TTL reached 0 at a member that is not the destination.
    TtlExpired,
    /// No forwarding entry for the destination in the flow's cube.
    NoRoute,
    /// The next hop's flow, and every alternate, is down.
    NextHopDown,
    /// Addressed to this member, EID of no local endpoint.
    NoEndpoint,
    /// Management traffic with no control plane attached to take it.
    NoPunt,
    /// Transmit ring (or endpoint ring) full.
    TxFull,
    /// The next hop's frame does not fit the buffer or the port's MTU.
    TooBig,
    /// No head room left in the buffer for the next hop's shim header.
    NoHeadroom,
}

impl DropReason {
    pub const ALL: [DropReason; 14] = [
        DropReason::ShortFrame,
        DropReason::WrongEthertype,
        DropReason::ShortShimHeader,
        DropReason::BadShimLength,
        DropReason::UnknownFlow,
        DropReason::ShortDtHeader,
        DropReason::TtlExpired,
        DropReason::NoRoute,
        DropReason::NextHopDown,
        DropReason::NoEndpoint,
        DropReason::NoPunt,
        DropReason::TxFull,
        DropReason::TooBig,
        DropReason::NoHeadroom,
    ];
    pub const COUNT: usize = DropReason::ALL.len();

    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::ShortFrame => "short-frame",
            DropReason::WrongEthertype => "wrong-ethertype",
            DropReason::ShortShimHeader => "short-shim-header",
            DropReason::BadShimLength => "bad-shim-length",
            DropReason::UnknownFlow => "unknown-flow",
            DropReason::ShortDtHeader => "short-dt-header",
            DropReason::TtlExpired => "ttl-expired",
            DropReason::NoRoute => "no-route",
            DropReason::NextHopDown => "next-hop-down",
            DropReason::NoEndpoint => "no-endpoint",
            DropReason::NoPunt => "no-punt",
            DropReason::TxFull => "tx-full",
            DropReason::TooBig => "too-big",
            DropReason::NoHeadroom => "no-headroom",
        }
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

    /// A copy of the current values.
    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut drops = [0; DropReason::COUNT];
        for (d, c) in drops.iter_mut().zip(&self.drops) {
            *d = get(c);
        }
        Snapshot {
            rx_packets: get(&self.rx_packets),
            rx_bytes: get(&self.rx_bytes),
            tx_packets: get(&self.tx_packets),
            tx_bytes: get(&self.tx_bytes),
            forwarded: get(&self.forwarded),
            delivered: get(&self.delivered),
            punted: get(&self.punted),
            drops,
        }
    }
}

/// Counter values at one moment, summable over workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub forwarded: u64,
    pub delivered: u64,
    pub punted: u64,
    pub drops: [u64; DropReason::COUNT],
}

impl Snapshot {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

impl std::ops::Add for Snapshot {
    type Output = Snapshot;

    fn add(mut self, o: Snapshot) -> Snapshot {
        self.rx_packets += o.rx_packets;
        self.rx_bytes += o.rx_bytes;
        self.tx_packets += o.tx_packets;
        self.tx_bytes += o.tx_bytes;
        self.forwarded += o.forwarded;
        self.delivered += o.delivered;
        self.punted += o.punted;
        for (a, b) in self.drops.iter_mut().zip(o.drops) {
            *a += b;
        }
        self
    }
}

impl std::fmt::Display for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rx {} pkt {} B, tx {} pkt {} B, forwarded {}, delivered {}, punted {}",
            self.rx_packets, self.rx_bytes, self.tx_packets, self.tx_bytes, self.forwarded, self.delivered, self.punted
        )?;
        for r in DropReason::ALL {
            if self.dropped(r) > 0 {
                write!(f, ", drop {} {}", r, self.dropped(r))?;
            }
        }
        Ok(())
    }
}
