//! The AF_XDP backend: an XDP steering program on the interface sends o7s
//! frames to an AF_XDP socket whose UMEM is the shared pool; everything else
//! goes on to the kernel (ping, ARP and SSH keep working on the port).

use o7s_ebpf::{AttachMode, Steering, SteeringConfig};
use o7s_mem::{Buf, PoolCache};
use o7s_wire::eth::{self, MacAddr};
use o7s_xsk::{Mode, Umem, XskConfig, XskError, XskSocket};

use super::{Port, PortInfo, PortKind};
use crate::forward::Shim;
use o7s_seam::counters::{DropReason, KernelLoss, Snapshot};

/// Why an AF_XDP port could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum XdpPortError {
    #[error("XDP steering on {ifname}: {source}")]
    Steering {
        ifname: String,
        #[source]
        source: o7s_ebpf::EbpfError,
    },
    #[error(transparent)]
    Socket(#[from] XskError),
}

/// A port posts at most this fraction of the pool's buffers to its fill
/// ring (1/`MAX_FILL_SHARE`).
const MAX_FILL_SHARE: usize = 4;

/// One (interface, queue): steering program plus AF_XDP socket.
#[derive(Debug)]
pub struct XdpPort {
    info: PortInfo,
    queue: u32,
    steering: Steering,
    sock: Option<XskSocket>,
    fill_size: usize,
    /// What [`Port::snapshot`] last read beneath the worker.
    seen: Snapshot,
}

impl XdpPort {
    /// Attaches steering to `ifname` (in this thread's namespace) and binds
    /// a socket on `queue` over `umem`. Frames for other MAC addresses than
    /// the interface's are refused (see [`PortInfo::mac`]). The port
    /// carries eth-dix frames of `steer.ethertype`, or eth-llc frames with
    /// `steer.llc`; `mtu` is the
    /// interface's (the port's is that, or less if a UMEM chunk holds
    /// less).
    pub fn open(
        umem: &Umem,
        ifname: &str,
        queue: u32,
        steer: SteeringConfig,
        mtu: usize,
    ) -> Result<XdpPort, XdpPortError> {
        let mac = crate::sys::interface_mac(ifname).ok();
        let sock = XskSocket::new(umem, ifname, queue, XskConfig::default())?;
        // The program refuses what the worker would: frames for another
        // MAC, and frames the socket's chunks cannot hold.
        let steer = SteeringConfig {
            mac,
            max_frame: u16::try_from(sock.info().max_frame()).unwrap_or(u16::MAX),
            ..steer
        };
        let mut steering = Steering::attach(ifname, steer).map_err(|source| XdpPortError::Steering {
            ifname: ifname.into(),
            source,
        })?;
        steering
            .register_xsk(queue, sock.fd())
            .map_err(|source| XdpPortError::Steering {
                ifname: ifname.into(),
                source,
            })?;
        let xdp_native = steering.mode() == o7s_ebpf::ActiveMode::Native;
        let i = sock.info();
        let kind = PortKind::AfXdp {
            zero_copy: i.mode == Mode::ZeroCopy,
            xdp_native,
            rx_ring: i.rx_size,
            tx_ring: i.tx_size,
            fill_ring: i.fill_size,
            comp_ring: i.comp_size,
        };
        tracing::info!(ifname, queue, backend = %kind, "AF_XDP port open");
        // The kernel holds what is posted to the fill ring until frames
        // arrive: at most a quarter of the pool, so that a small pool
        // still has buffers for the applications' writes and the other
        // ports (with every buffer posted, writers wait for ever).
        let fill_size = (i.fill_size as usize).min(umem.pool().count() as usize / MAX_FILL_SHARE);
        if fill_size < i.fill_size as usize {
            tracing::info!(
                ifname,
                fill_size,
                pool = umem.pool().count(),
                "fill ring kept below its size: a quarter of the pool at most"
            );
        }
        let mac = mac.map(MacAddr);
        Ok(XdpPort {
            info: PortInfo {
                name: ifname.into(),
                kind,
                mtu: mtu
                    .min(if steer.llc {
                        crate::port::packet::LLC_MAX_MTU
                    } else {
                        usize::MAX
                    })
                    .min((i.max_frame() as usize).saturating_sub(eth::HEADER_LEN)),
                mac,
                shim: if steer.llc {
                    Shim::EthLlc { mac }
                } else {
                    Shim::EthDix {
                        mac,
                        ethertype: steer.ethertype,
                    }
                },
            },
            queue,
            steering,
            sock: Some(sock),
            fill_size,
            seen: Snapshot::default(),
        })
    }

    /// The XDP program's attach mode.
    pub fn xdp_mode(&self) -> o7s_ebpf::ActiveMode {
        self.steering.mode()
    }

    pub fn steering(&self) -> &Steering {
        &self.steering
    }

    /// The steering program, to program its fast path.
    pub fn steering_mut(&mut self) -> &mut Steering {
        &mut self.steering
    }

    /// The interface's index.
    pub fn ifindex(&self) -> u32 {
        self.steering.ifindex()
    }

    pub fn socket(&self) -> Option<&XskSocket> {
        self.sock.as_ref()
    }
}

/// `AttachMode` for a config word.
pub fn attach_mode(mode: crate::config::XdpMode) -> AttachMode {
    match mode {
        crate::config::XdpMode::Auto => AttachMode::Auto,
        crate::config::XdpMode::Native => AttachMode::Native,
        crate::config::XdpMode::Generic => AttachMode::Generic,
    }
}

impl Port for XdpPort {
    fn rx_burst(&mut self, cache: &mut PoolCache, out: &mut Vec<Buf>, max: usize) -> usize {
        self.sock.as_mut().map_or(0, |s| s.rx_burst(cache, out, max))
    }

    /// The AF_XDP socket: readable when its RX ring has frames.
    fn wait_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.sock.as_ref().map(|s| s.fd())
    }

    fn tx_burst(&mut self, cache: &mut PoolCache, frames: &mut Vec<Buf>) -> usize {
        self.sock.as_mut().map_or(0, |s| s.tx_burst(cache, frames))
    }

    fn poll(&mut self, cache: &mut PoolCache) {
        if let Some(s) = self.sock.as_mut() {
            s.complete(cache);
            // Keep `fill_size` buffers with the kernel: on the fill ring
            // or in its receive path, until they come back as frames.
            s.fill(cache, self.fill_size.saturating_sub(s.fill_held()));
            s.wakeup_rx_if_needed();
        }
    }

    fn tx_queue_len(&self) -> usize {
        self.sock.as_ref().map_or(0, XskSocket::tx_pending)
    }

    /// The steering program's per-CPU counters (what it forwarded, passed
    /// or dropped itself) and the socket's XDP_STATISTICS; the last values
    /// read if a read fails, so that sums never go back.
    fn snapshot(&mut self) -> Snapshot {
        match self.steering.stats() {
            Ok(x) => {
                let s = &mut self.seen;
                s.fast_forwarded = x.fast_forwarded;
                s.passed_to_kernel = x.passed_to_kernel() - x.vlan;
                for (reason, n) in [
                    (DropReason::VlanTagged, x.vlan),
                    (DropReason::NotForUs, x.not_for_us),
                    (DropReason::MulticastDst, x.multicast_dst),
                    (DropReason::Oversize, x.oversize),
                    (DropReason::SpoofedSrc, x.spoofed_src),
                    (DropReason::NextHopDown, x.fast_tx_errors),
                ] {
                    s.drops[reason as usize] = n;
                }
            }
            Err(e) => tracing::debug!(port = %self.info.name, error = %e, "reading the XDP counters"),
        }
        match self.sock.as_ref().map(XskSocket::kernel_stats) {
            Some(Ok(k)) => {
                for (loss, n) in [
                    (KernelLoss::XskRxDropped, k.rx_dropped),
                    (KernelLoss::XskRxInvalidDescs, k.rx_invalid_descs),
                    (KernelLoss::XskRxRingFull, k.rx_ring_full),
                    (KernelLoss::XskFillRingEmpty, k.rx_fill_ring_empty_descs),
                    (KernelLoss::XskTxInvalidDescs, k.tx_invalid_descs),
                ] {
                    self.seen.kernel[loss as usize] = n;
                }
            }
            Some(Err(e)) => tracing::debug!(port = %self.info.name, error = %e, "XDP_STATISTICS"),
            None => {}
        }
        self.seen
    }

    fn info(&self) -> &PortInfo {
        &self.info
    }

    fn drain(&mut self, cache: &mut PoolCache) {
        // Stop steering first, so the kernel passes frames instead of
        // redirecting them to a socket that is going away.
        if let Err(e) = self.steering.unregister_xsk(self.queue) {
            tracing::warn!(port = %self.info.name, error = %e, "could not unregister AF_XDP socket");
        }
        if let Some(sock) = self.sock.take() {
            let drained = sock.drain(cache);
            tracing::debug!(port = %self.info.name, ?drained, "AF_XDP port drained");
        }
    }
}
