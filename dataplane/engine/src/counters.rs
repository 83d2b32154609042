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
    /// Longer than the port's receive buffers (cut short by the kernel, or
    /// beyond a pool buffer): dropped by the port or its XDP program.
    Oversize,
    /// Carries an 802.1Q/802.1ad tag: o7s ports are untagged. AF_PACKET
    /// drops them; on AF_XDP the XDP program passes them on to the kernel
    /// (for VLAN devices on the port), and they are counted here all the
    /// same.
    VlanTagged,
    /// Ethertype other than the layer's (the XDP program should not pass it).
    WrongEthertype,
    /// To another station's unicast MAC (AF_PACKET: PACKET_OTHERHOST).
    NotForUs,
    /// To a group address: multicast, or broadcast other than the shim's
    /// management (EID 0, where name queries go).
    MulticastDst,
    /// Shorter than Ethernet + eth-dix inner header.
    ShortShimHeader,
    /// The eth-dix length field exceeds the frame.
    BadShimLength,
    /// No N-1 flow for this (port, shim EID).
    UnknownFlow,
    /// From a MAC other than the N-1 flow's peer.
    SpoofedSrc,
    /// Payload shorter than a DT header.
    ShortDtHeader,
    /// Arrived with TTL 0, or above the layer's `max_ttl`: no member sends
    /// that.
    BadTtl,
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
    /// Every reason, in the order a frame meets the checks.
    pub const ALL: [DropReason; 20] = [
        DropReason::ShortFrame,
        DropReason::Oversize,
        DropReason::VlanTagged,
        DropReason::WrongEthertype,
        DropReason::NotForUs,
        DropReason::MulticastDst,
        DropReason::ShortShimHeader,
        DropReason::BadShimLength,
        DropReason::UnknownFlow,
        DropReason::SpoofedSrc,
        DropReason::ShortDtHeader,
        DropReason::BadTtl,
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
            DropReason::Oversize => "oversize",
            DropReason::VlanTagged => "vlan-tagged",
            DropReason::WrongEthertype => "wrong-ethertype",
            DropReason::NotForUs => "not-for-us",
            DropReason::MulticastDst => "multicast-dst",
            DropReason::ShortShimHeader => "short-shim-header",
            DropReason::BadShimLength => "bad-shim-length",
            DropReason::UnknownFlow => "unknown-flow",
            DropReason::SpoofedSrc => "spoofed-src",
            DropReason::ShortDtHeader => "short-dt-header",
            DropReason::BadTtl => "bad-ttl",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed_once_at_its_index_with_a_kebab_case_name() {
        let mut names = std::collections::HashSet::new();
        for (i, r) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(r as usize, i, "{r}: ALL is in declaration order");
            assert!(names.insert(r.as_str()), "{r} twice");
            assert!(
                r.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{r} is kebab-case"
            );
        }
    }
}
