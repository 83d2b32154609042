//! Pinned workers and the handle that starts, programs and stops them.
//!
//! ```text
//!  loop (one thread per worker, pinned to its core):
//!    tables = current snapshot (lock-free load)
//!    for each port: poll; rx burst ─► forward::process per frame ─► tx[port] / endpoint / punt / drop
//!    for each port with frames: tx burst (one kick per burst)
//!    hand deliveries to endpoint rings, management frames to the punt ring
//! ```
//!
//! A worker owns its ports, its endpoint and punt rings, and its pool cache:
//! nothing on this path is shared with another thread except the tables
//! (read-only, swapped whole) and the counters (written by this worker
//! only).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use o7s_mem::{Buf, PoolCache, Producer};

use crate::counters::{Counters, DropReason, Snapshot};
use crate::forward::{Shim, Verdict, process};
use crate::port::{Port, PortKind};
use crate::tables::{PortId, Tables};

/// Frames taken from a port per receive call.
pub const BURST: usize = 64;

/// How a worker waits when there is no traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Idle {
    /// Spin forever: lowest latency, a whole core always busy.
    Busy,
    /// Spin, then after `IDLE_BEFORE_NAP` without traffic take 20 µs naps:
    /// for shared machines and tests.
    #[default]
    Adaptive,
}

const IDLE_BEFORE_NAP: Duration = Duration::from_millis(5);
const NAP: Duration = Duration::from_micros(20);

/// Everything one worker runs.
pub struct WorkerSpec {
    pub name: String,
    pub core: Option<core_affinity::CoreId>,
    /// The cache the worker allocates and frees through; ports and rings
    /// that receive buffers were set up for its slot.
    pub cache: PoolCache,
    /// Ports by id; `None` for ids of ports other workers own.
    pub ports: Vec<Option<Box<dyn Port>>>,
    /// Rings to local endpoints, by the index `Tables::endpoints` gives.
    pub endpoints: Vec<Producer>,
    /// Ring to the control plane for management frames.
    pub punt: Option<Producer>,
    pub idle: Idle,
}

impl std::fmt::Debug for WorkerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSpec")
            .field("name", &self.name)
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

/// Errors starting the dataplane.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start worker thread {name}: {source}")]
    Spawn {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// The running dataplane.
#[derive(Debug)]
pub struct Dataplane {
    tables: Arc<ArcSwap<Tables>>,
    counters: Vec<Arc<Counters>>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Dataplane {
    /// Starts one thread per worker spec, forwarding by `tables`.
    pub fn start(tables: Tables, specs: Vec<WorkerSpec>) -> Result<Dataplane, StartError> {
        let tables = Arc::new(ArcSwap::from_pointee(tables));
        let stop = Arc::new(AtomicBool::new(false));
        let mut dp = Dataplane {
            tables,
            counters: Vec::new(),
            stop,
            workers: Vec::new(),
        };
        for spec in specs {
            let counters = Arc::new(Counters::default());
            dp.counters.push(Arc::clone(&counters));
            let name = spec.name.clone();
            let worker = Worker::new(spec, Arc::clone(&dp.tables), counters, Arc::clone(&dp.stop));
            let handle = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || worker.run())
                .map_err(|source| StartError::Spawn { name, source })?;
            dp.workers.push(handle);
        }
        Ok(dp)
    }

    /// The tables in force.
    pub fn tables(&self) -> Arc<Tables> {
        self.tables.load_full()
    }

    /// Replaces the tables; workers pick them up at their next burst.
    pub fn set_tables(&self, tables: Tables) {
        self.tables.store(Arc::new(tables));
    }

    /// Changes a copy of the tables and swaps it in.
    pub fn update(&self, change: impl FnOnce(&mut Tables)) {
        let mut t = Tables::clone(&self.tables.load());
        change(&mut t);
        self.set_tables(t);
    }

    /// Counters summed over all workers.
    pub fn counters(&self) -> Snapshot {
        self.counters
            .iter()
            .map(|c| c.snapshot())
            .fold(Snapshot::default(), |a, b| a + b)
    }

    /// Stops the workers and waits for them; each returns its buffers first.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers.drain(..) {
            if w.join().is_err() {
                tracing::error!("a dataplane worker panicked");
            }
        }
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Worker {
    name: String,
    core: Option<core_affinity::CoreId>,
    cache: PoolCache,
    ports: Vec<Option<Box<dyn Port>>>,
    endpoints: Vec<Producer>,
    punt: Option<Producer>,
    idle: Idle,
    tables: Arc<ArcSwap<Tables>>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn new(spec: WorkerSpec, tables: Arc<ArcSwap<Tables>>, counters: Arc<Counters>, stop: Arc<AtomicBool>) -> Worker {
        Worker {
            name: spec.name,
            core: spec.core,
            cache: spec.cache,
            ports: spec.ports,
            endpoints: spec.endpoints,
            punt: spec.punt,
            idle: spec.idle,
            tables,
            counters,
            stop,
        }
    }

    fn run(mut self) {
        if let Some(core) = self.core
            && !core_affinity::set_for_current(core)
        {
            tracing::warn!(worker = %self.name, core = core.id, "could not pin worker to its core");
        }
        for port in self.ports.iter().flatten() {
            let info = port.info();
            tracing::info!(worker = %self.name, core = ?self.core.map(|c| c.id), port = %info.name, backend = %info.kind, mtu = info.mtu, "worker polls port");
        }
        let pool = self.cache.pool().clone();
        let shims: Vec<Shim> = self
            .ports
            .iter()
            .map(|p| match p.as_ref().map(|p| &p.info().kind) {
                Some(PortKind::Uring { .. }) => Shim::Udp,
                _ => Shim::EthDix,
            })
            .collect();
        let mut rx: Vec<Buf> = Vec::with_capacity(BURST);
        let mut tx: Vec<Vec<Buf>> = self.ports.iter().map(|_| Vec::with_capacity(2 * BURST)).collect();
        let mut tx_to: Vec<Vec<(Buf, SocketAddr)>> = self.ports.iter().map(|_| Vec::with_capacity(2 * BURST)).collect();
        let mut queued: Vec<usize> = vec![0; self.ports.len()];
        let mut deliver: Vec<Vec<Buf>> = self.endpoints.iter().map(|_| Vec::with_capacity(2 * BURST)).collect();
        let mut punt: Vec<Buf> = Vec::with_capacity(2 * BURST);
        let mut last_traffic = Instant::now();

        while !self.stop.load(Ordering::Relaxed) {
            let tables = self.tables.load();
            let mut busy = false;
            for (q, port) in queued.iter_mut().zip(&self.ports) {
                *q = port.as_ref().map_or(0, |p| p.tx_queue_len());
            }
            for in_port in 0..self.ports.len() {
                let Some(port) = self.ports[in_port].as_mut() else {
                    continue;
                };
                port.poll(&mut self.cache);
                if port.rx_burst(&mut self.cache, &mut rx, BURST) == 0 {
                    continue;
                }
                busy = true;
                let bytes: usize = rx.iter().map(Buf::len).sum();
                self.counters.rx(rx.len() as u64, bytes as u64);
                for mut buf in rx.drain(..) {
                    let (head, len) = (buf.head(), buf.len());
                    let txq = |p: PortId| {
                        let p = usize::from(p);
                        queued.get(p).copied().unwrap_or(0)
                            + tx.get(p).map_or(0, Vec::len)
                            + tx_to.get(p).map_or(0, Vec::len)
                    };
                    let verdict = process(
                        &tables,
                        in_port as PortId,
                        shims[in_port],
                        pool.buffer_mut(&mut buf),
                        head,
                        len,
                        txq,
                    );
                    let reason = match verdict {
                        Verdict::Forward { port, head, len, to } => {
                            let p = usize::from(port);
                            let owned = self.ports.get(p).is_some_and(Option::is_some);
                            match (to, shims.get(p)) {
                                _ if !owned || buf.reset(head, len).is_err() => DropReason::NoRoute,
                                (None, Some(Shim::EthDix)) => {
                                    tx[p].push(buf);
                                    continue;
                                }
                                (Some(addr), Some(Shim::Udp)) => {
                                    tx_to[p].push((buf, addr));
                                    continue;
                                }
                                // A flow whose framing does not suit its port.
                                _ => DropReason::NoRoute,
                            }
                        }
                        Verdict::Deliver { endpoint, head, len } => match deliver.get_mut(endpoint as usize) {
                            Some(out) if buf.reset(head, len).is_ok() => {
                                out.push(buf);
                                continue;
                            }
                            _ => DropReason::NoEndpoint,
                        },
                        Verdict::Punt if self.punt.is_some() => {
                            punt.push(buf);
                            continue;
                        }
                        Verdict::Punt => DropReason::NoPunt,
                        Verdict::Drop(reason) => reason,
                    };
                    self.counters.count_drop(reason, 1);
                    self.cache.free(buf);
                }
            }
            self.flush_tx(&mut tx, &mut tx_to);
            self.flush_local(&mut deliver, &mut punt);
            drop(tables);
            if busy {
                last_traffic = Instant::now();
            } else if self.idle == Idle::Adaptive && last_traffic.elapsed() > IDLE_BEFORE_NAP {
                std::thread::sleep(NAP);
            } else {
                std::hint::spin_loop();
            }
        }
        self.shut_down(tx, tx_to, deliver, punt);
    }

    fn flush_tx(&mut self, tx: &mut [Vec<Buf>], tx_to: &mut [Vec<(Buf, SocketAddr)>]) {
        for ((frames, addressed), port) in tx.iter_mut().zip(tx_to.iter_mut()).zip(self.ports.iter_mut()) {
            let Some(port) = port.as_mut() else { continue };
            if !frames.is_empty() {
                let bytes = frames.iter().map(Buf::len).sum::<usize>();
                let sent = port.tx_burst(&mut self.cache, frames);
                let unsent_bytes: usize = frames.iter().map(Buf::len).sum();
                self.counters.tx(sent as u64, (bytes - unsent_bytes) as u64);
                self.counters.forwarded(sent as u64);
                if !frames.is_empty() {
                    self.counters.count_drop(DropReason::TxFull, frames.len() as u64);
                    self.cache.free_burst(frames);
                }
            }
            if !addressed.is_empty() {
                let bytes = addressed.iter().map(|(b, _)| b.len()).sum::<usize>();
                let sent = port.tx_burst_to(&mut self.cache, addressed);
                let unsent_bytes: usize = addressed.iter().map(|(b, _)| b.len()).sum();
                self.counters.tx(sent as u64, (bytes - unsent_bytes) as u64);
                self.counters.forwarded(sent as u64);
                if !addressed.is_empty() {
                    self.counters.count_drop(DropReason::TxFull, addressed.len() as u64);
                    for (buf, _) in addressed.drain(..) {
                        self.cache.free(buf);
                    }
                }
            }
        }
    }

    fn flush_local(&mut self, deliver: &mut [Vec<Buf>], punt: &mut Vec<Buf>) {
        for (bufs, ring) in deliver.iter_mut().zip(self.endpoints.iter_mut()) {
            if bufs.is_empty() {
                continue;
            }
            let sent = self.cache.send(ring, bufs);
            self.counters.delivered(sent as u64);
            if !bufs.is_empty() {
                self.counters.count_drop(DropReason::TxFull, bufs.len() as u64);
                self.cache.free_burst(bufs);
            }
        }
        if let Some(ring) = self.punt.as_mut()
            && !punt.is_empty()
        {
            let sent = self.cache.send(ring, punt);
            self.counters.punted(sent as u64);
            if !punt.is_empty() {
                self.counters.count_drop(DropReason::TxFull, punt.len() as u64);
                self.cache.free_burst(punt);
            }
        }
    }

    fn shut_down(
        mut self,
        tx: Vec<Vec<Buf>>,
        tx_to: Vec<Vec<(Buf, SocketAddr)>>,
        deliver: Vec<Vec<Buf>>,
        punt: Vec<Buf>,
    ) {
        for mut bufs in tx.into_iter().chain(deliver).chain([punt]) {
            self.cache.free_burst(&mut bufs);
        }
        for (buf, _) in tx_to.into_iter().flatten() {
            self.cache.free(buf);
        }
        for port in self.ports.iter_mut().flatten() {
            port.drain(&mut self.cache);
        }
        tracing::info!(worker = %self.name, counters = %self.counters.snapshot(), "worker stopped");
    }
}
