//! The local backend: a port whose "wire" is a pair of shared-memory rings
//! to another port on the same system (another worker, the control plane,
//! or an application process). Frames move as buffer descriptors; nothing
//! is copied.

use o7s_mem::{Buf, Consumer, MemError, PoolCache, Producer, Ring};

use super::{Port, PortInfo, PortKind};
use crate::forward::Shim;

/// One end of a local link.
#[derive(Debug)]
pub struct LocalPort {
    info: PortInfo,
    tx: Producer,
    rx: Consumer,
    /// Buffers received on the ring but refused (bad descriptors).
    pub refused: u64,
}

impl LocalPort {
    /// An end that sends on `tx` and receives on `rx` under `rx_slot` (the
    /// pool slot of the cache that will poll it). It carries eth-dix frames
    /// of the o7s Ethertype with no MAC address of its own
    /// ([`Shim::LOCAL`]) unless [`with_shim`](Self::with_shim) says
    /// otherwise.
    pub fn new(name: &str, tx: Producer, rx: Consumer, mtu: usize) -> LocalPort {
        LocalPort {
            info: PortInfo {
                name: name.into(),
                kind: PortKind::Local,
                mtu,
                mac: None,
                shim: Shim::LOCAL,
            },
            tx,
            rx,
            refused: 0,
        }
    }

    /// The same end carrying `shim` (eth-llc, another Ethertype, an own
    /// MAC address to check). A local link has no addresses: a UDP shim
    /// needs a UDP port.
    pub fn with_shim(mut self, shim: Shim) -> LocalPort {
        self.info.mac = match shim {
            Shim::EthDix { mac, .. } | Shim::EthLlc { mac } => mac,
            Shim::Udp => None,
        };
        self.info.shim = shim;
        self
    }

    /// Two ends linked to each other, polled by caches with slots `slot_a`
    /// and `slot_b`.
    pub fn pair(
        name: &str,
        capacity: u32,
        slot_a: u16,
        slot_b: u16,
        mtu: usize,
    ) -> Result<(LocalPort, LocalPort), MemError> {
        let ab = Ring::create(&format!("{name}-ab"), capacity)?;
        let ba = Ring::create(&format!("{name}-ba"), capacity)?;
        let a = LocalPort::new(&format!("{name}-a"), ab.producer()?, ba.consumer(slot_a)?, mtu);
        let b = LocalPort::new(&format!("{name}-b"), ba.producer()?, ab.consumer(slot_b)?, mtu);
        Ok((a, b))
    }
}

impl Port for LocalPort {
    fn rx_burst(&mut self, cache: &mut PoolCache, out: &mut Vec<Buf>, max: usize) -> usize {
        let before = cache.stats();
        let n = cache.recv(&mut self.rx, out, max);
        let after = cache.stats();
        self.refused += (after.bad_index + after.bad_bounds + after.not_handed)
            - (before.bad_index + before.bad_bounds + before.not_handed);
        n
    }

    fn tx_burst(&mut self, cache: &mut PoolCache, frames: &mut Vec<Buf>) -> usize {
        cache.send(&mut self.tx, frames)
    }

    fn poll(&mut self, _cache: &mut PoolCache) {}

    fn tx_queue_len(&self) -> usize {
        0
    }

    fn info(&self) -> &PortInfo {
        &self.info
    }

    fn drain(&mut self, cache: &mut PoolCache) {
        let mut bufs = Vec::with_capacity(64);
        while cache.recv(&mut self.rx, &mut bufs, 64) > 0 {
            cache.free_burst(&mut bufs);
        }
    }
}
