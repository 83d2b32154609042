//! What the dataplane counts, as the control plane reads it: why frames
//! were dropped, what the kernel lost beneath the ports, and a
//! [`Snapshot`] of every count at one moment.
//!
//! Every frame that reaches a port, and every frame a worker takes from a
//! source ring, ends in one of the counts of a [`Snapshot`]
//! ([`Snapshot::accounted`]), whoever decided its fate:
//!
//! ```text
//!  frame ─► kernel ──(lost: full ring, ...)──────────────────► kernel[KernelLoss]
//!     │  ─► XDP program ─(fast path)─────────────────────────► fast_forwarded
//!     │        ├─(not o7s, no socket, malformed)─────────────► passed_to_kernel
//!     │        └─(not for us, too long, tagged, spoofed)─────► drops[reason]
//!     │  ─► port (AF_PACKET: other host, tagged, too long)───► drops[reason]
//!     └──► worker: rx_packets ─► forwarded / delivered / punted / drops[reason]
//!  source ring (an application's flow, the control plane) ─► worker: sourced ─► sent / drops[reason]
//! ```
//!
//! The dataplane keeps these counts per port as well: a port's snapshot
//! holds what arrived on it (and became forwarded, delivered, punted or a
//! drop), what left by it (`tx_*`), and what source rings sent out of it
//! (`sourced`, `sent`, and their drops), so that for every port
//! `rx_packets + sourced` equals `forwarded + delivered + punted + sent`
//! plus the drops the worker counted.
//!
//! The counters themselves (per worker, written by that worker alone) are
//! the engine's; a snapshot is what crosses to `irm`, the benchmarks and
//! the tests.

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
    /// Transmit ring (or the punt ring) full.
    TxFull,
    /// The next hop's frame does not fit the buffer or the port's MTU.
    TooBig,
    /// No head room left in the buffer for the next hop's shim header, or
    /// for a punted frame's punt header.
    NoHeadroom,
    /// The port the frame was to leave by is not open (removed, never
    /// added, or polled by another worker).
    NoPort,
    /// The application's receive ring stayed full: it read nothing for
    /// [`HOLD`](crate::counters::HOLD) while the worker held its SDUs (a
    /// stopped or overloaded application).
    EndpointFull,
}

/// How long a worker holds SDUs for an application whose receive ring is
/// full, not reading its ports meanwhile (back-pressure, as the C
/// prototype's blocking write into the application's ring), before it
/// drops them as [`DropReason::EndpointFull`] and goes on.
pub const HOLD: std::time::Duration = std::time::Duration::from_millis(20);

impl DropReason {
    /// Every reason, in the order a frame meets the checks.
    pub const ALL: [DropReason; 22] = [
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
        DropReason::NoPort,
        DropReason::EndpointFull,
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
            DropReason::NoPort => "no-port",
            DropReason::EndpointFull => "endpoint-full",
        }
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A loss the kernel counted beneath a port, before any o7s code saw the
/// frame. Read on demand from the kernel's own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KernelLoss {
    /// AF_XDP: frames dropped for a reason other than a full RX ring or an
    /// empty fill ring, e.g. too long for a chunk (XDP_STATISTICS
    /// `rx_dropped`).
    XskRxDropped,
    /// AF_XDP: invalid descriptors on the fill ring (`rx_invalid_descs`).
    XskRxInvalidDescs,
    /// AF_XDP: frames dropped because the RX ring was full
    /// (`rx_ring_full`).
    XskRxRingFull,
    /// AF_XDP: times the kernel found the fill ring empty
    /// (`rx_fill_ring_empty_descs`).
    XskFillRingEmpty,
    /// AF_XDP: invalid descriptors on the TX ring (`tx_invalid_descs`).
    XskTxInvalidDescs,
    /// AF_PACKET: frames lost because the RX ring was full
    /// (PACKET_STATISTICS `tp_drops`).
    PacketRxDrops,
    /// UDP: datagrams the socket dropped (full receive buffer, ...;
    /// SO_MEMINFO `SK_MEMINFO_DROPS`).
    UdpRxDrops,
}

impl KernelLoss {
    pub const ALL: [KernelLoss; 7] = [
        KernelLoss::XskRxDropped,
        KernelLoss::XskRxInvalidDescs,
        KernelLoss::XskRxRingFull,
        KernelLoss::XskFillRingEmpty,
        KernelLoss::XskTxInvalidDescs,
        KernelLoss::PacketRxDrops,
        KernelLoss::UdpRxDrops,
    ];
    pub const COUNT: usize = KernelLoss::ALL.len();

    pub const fn as_str(self) -> &'static str {
        match self {
            KernelLoss::XskRxDropped => "xsk-rx-dropped",
            KernelLoss::XskRxInvalidDescs => "xsk-rx-invalid-descs",
            KernelLoss::XskRxRingFull => "xsk-rx-ring-full",
            KernelLoss::XskFillRingEmpty => "xsk-fill-ring-empty",
            KernelLoss::XskTxInvalidDescs => "xsk-tx-invalid-descs",
            KernelLoss::PacketRxDrops => "packet-rx-drops",
            KernelLoss::UdpRxDrops => "udp-rx-drops",
        }
    }
}

impl std::fmt::Display for KernelLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counter values at one moment, summable over workers and ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Frames the workers received from their ports.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Frames the workers forwarded.
    pub forwarded: u64,
    pub delivered: u64,
    pub punted: u64,
    /// Frames the workers took from source rings (application flows over a
    /// shim, frames the control plane sends).
    pub sourced: u64,
    /// Of those, the frames handed to their port.
    pub sent: u64,
    pub drops: [u64; DropReason::COUNT],
    /// Transit frames the XDP fast path forwarded (the workers never saw
    /// them).
    pub fast_forwarded: u64,
    /// Frames the XDP programs handed to the kernel: not o7s (ARP, IP,
    /// ...), malformed headers, or o7s with no AF_XDP socket to take them.
    pub passed_to_kernel: u64,
    /// What the kernel lost beneath the ports.
    pub kernel: [u64; KernelLoss::COUNT],
}

impl Snapshot {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    pub fn lost(&self, loss: KernelLoss) -> u64 {
        self.kernel[loss as usize]
    }

    /// Frames whose fate o7s counted: forwarded (by a worker or the XDP
    /// fast path), delivered, punted, sent from a source ring, dropped with
    /// a reason, or passed to the kernel. Every frame that reaches a port
    /// (unless the kernel lost it first, [`Snapshot::kernel`]) and every
    /// frame taken from a source ring is one of these.
    pub fn accounted(&self) -> u64 {
        self.forwarded
            + self.fast_forwarded
            + self.delivered
            + self.punted
            + self.sent
            + self.total_drops()
            + self.passed_to_kernel
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
        self.sourced += o.sourced;
        self.sent += o.sent;
        for (a, b) in self.drops.iter_mut().zip(o.drops) {
            *a += b;
        }
        self.fast_forwarded += o.fast_forwarded;
        self.passed_to_kernel += o.passed_to_kernel;
        for (a, b) in self.kernel.iter_mut().zip(o.kernel) {
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
        if self.sourced > 0 || self.sent > 0 {
            write!(f, ", sourced {}, sent {}", self.sourced, self.sent)?;
        }
        if self.fast_forwarded > 0 {
            write!(f, ", fast-forwarded {}", self.fast_forwarded)?;
        }
        if self.passed_to_kernel > 0 {
            write!(f, ", passed-to-kernel {}", self.passed_to_kernel)?;
        }
        for r in DropReason::ALL {
            if self.dropped(r) > 0 {
                write!(f, ", drop {} {}", r, self.dropped(r))?;
            }
        }
        for l in KernelLoss::ALL {
            if self.lost(l) > 0 {
                write!(f, ", kernel {} {}", l, self.lost(l))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_and_loss_is_listed_once_at_its_index_with_a_kebab_case_name() {
        let names: Vec<(usize, usize, &str)> = DropReason::ALL
            .iter()
            .enumerate()
            .map(|(i, r)| (i, *r as usize, r.as_str()))
            .chain(
                KernelLoss::ALL
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i, *l as usize, l.as_str())),
            )
            .collect();
        let mut seen = std::collections::HashSet::new();
        for (i, index, name) in names {
            assert_eq!(index, i, "{name}: ALL is in declaration order");
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{name} is kebab-case"
            );
        }
    }
}
