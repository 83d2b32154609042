//! Pinned workers and the handle that starts, programs and stops them.
//!
//! ```text
//!  loop (one thread per worker, pinned to its core):
//!    tables = current snapshot (lock-free load)
//!    for each port: poll; rx burst ─► forward::process per frame ─► tx[port] / endpoint / punt / drop
//!    for each port with frames: tx burst (one kick per burst)
//!    hand deliveries to endpoint rings, management frames to the punt ring
//!    (each behind its punt header: o7s_seam::punt)
//! ```
//!
//! A worker owns its ports, its endpoint and punt rings, and its pool cache:
//! nothing on this path is shared with another thread except the tables
//! (read-only, swapped whole) and the counters (written by this worker
//! only).
//!
//! Changes reach a worker between two bursts: tables at the next load,
//! commands when it next looks at its queue. [`Dataplane::sync`] is the
//! acknowledgement a caller waits for before counting on a change:
//!
//! ```text
//!  caller: set_tables / update / apply ... ; sync(): requested += 1 = g, wait
//!  worker, top of each round:  r = requested; apply commands; load tables;
//!                              if r is new: publish its ports' counters
//!                              (syscalls, on request only); acked = r
//!  caller: every worker's acked >= g  ──► everything before sync() is in force
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use o7s_mem::{Buf, Pool, PoolCache, Producer};
use o7s_seam::command::CommandError;
use o7s_seam::counters::{DropReason, Snapshot};
use o7s_seam::punt::{self, Punt};
use o7s_seam::tables::{PortId, Tables};

use crate::counters::Counters;
use crate::forward::{Shim, Verdict, process};
use crate::port::{Port, PortInfo, PortKind};

/// Frames taken from a port per receive call.
pub const BURST: usize = 64;

/// How a worker waits when there is no traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Idle {
    /// Spin forever: lowest latency, a whole core always busy.
    Busy,
    /// Spin, then after `IDLE_BEFORE_NAP` without traffic sleep until a
    /// port's fd turns readable, at most a nap that doubles from 20 µs to
    /// [`MAX_NAP`] while nothing comes: the core goes to whatever shares it
    /// (the kernel's receive path for the XDP fast path, other programs),
    /// without the cache pollution of tens of thousands of wake-ups a
    /// second.
    #[default]
    Adaptive,
}

const IDLE_BEFORE_NAP: Duration = Duration::from_millis(5);
const MIN_NAP: Duration = Duration::from_micros(20);
/// The longest an idle worker sleeps between looks at ports without a
/// wait fd (local rings, io_uring), its commands and its stop flag.
pub const MAX_NAP: Duration = Duration::from_millis(1);
/// How often [`Dataplane::sync`] looks at the workers' acknowledgements.
const SYNC_POLL: Duration = Duration::from_micros(20);
/// How long [`Dataplane::counters`] waits for fresh port counters.
const COUNTERS_WAIT: Duration = Duration::from_millis(200);

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

/// A change to what a running worker polls or delivers to, applied
/// between two bursts: the seam's command, with the engine's ports.
pub type Command = o7s_seam::Command<Box<dyn Port>>;

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
    /// What each worker polls: (worker, port id, info), kept in step with
    /// the commands applied.
    ports: Mutex<Vec<(usize, PortId, PortInfo)>>,
    counters: Vec<Arc<Counters>>,
    commands: Vec<mpsc::Sender<(Command, mpsc::Sender<()>)>>,
    /// The last generation [`sync`](Dataplane::sync) asked for.
    requested: Arc<AtomicU64>,
    /// The last generation each worker acknowledged.
    acked: Vec<Arc<AtomicU64>>,
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
            ports: Mutex::new(Vec::new()),
            counters: Vec::new(),
            commands: Vec::new(),
            requested: Arc::new(AtomicU64::new(0)),
            acked: Vec::new(),
            stop,
            workers: Vec::new(),
        };
        for (w, spec) in specs.into_iter().enumerate() {
            if let Ok(mut ports) = dp.ports.lock() {
                for (id, port) in spec.ports.iter().enumerate() {
                    if let Some(port) = port {
                        ports.push((w, id as PortId, port.info().clone()));
                    }
                }
            }
            let counters = Arc::new(Counters::default());
            dp.counters.push(Arc::clone(&counters));
            let (tx, rx) = mpsc::channel();
            dp.commands.push(tx);
            let acked = Arc::new(AtomicU64::new(0));
            dp.acked.push(Arc::clone(&acked));
            let name = spec.name.clone();
            let sync = Acks {
                requested: Arc::clone(&dp.requested),
                acked,
            };
            let worker = Worker::new(spec, Arc::clone(&dp.tables), counters, rx, sync, Arc::clone(&dp.stop));
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

    /// Replaces the tables; workers pick them up at their next burst
    /// ([`sync`](Dataplane::sync) waits for that).
    pub fn set_tables(&self, tables: Tables) {
        self.tables.store(Arc::new(tables));
    }

    /// Changes a copy of the tables and swaps it in (in force once
    /// [`sync`](Dataplane::sync) returns).
    pub fn update(&self, change: impl FnOnce(&mut Tables)) {
        let mut t = Tables::clone(&self.tables.load());
        change(&mut t);
        self.set_tables(t);
    }

    /// Applies `command` to worker `worker` between two of its bursts, and
    /// returns once it has (so tables that route to a new port can follow).
    pub fn apply(&self, worker: usize, command: Command) -> Result<(), CommandError> {
        let queue = self.commands.get(worker).ok_or(CommandError::NoWorker(worker))?;
        let change = match &command {
            Command::AddPort { id, port } => Some((*id, Some(port.info().clone()))),
            Command::RemovePort { id } => Some((*id, None)),
            _ => None,
        };
        let (done_tx, done_rx) = mpsc::channel();
        queue
            .send((command, done_tx))
            .map_err(|_| CommandError::Stopped(worker))?;
        done_rx.recv().map_err(|_| CommandError::Stopped(worker))?;
        if let (Some((id, info)), Ok(mut ports)) = (change, self.ports.lock()) {
            ports.retain(|(w, p, _)| (*w, *p) != (worker, id));
            if let Some(info) = info {
                ports.push((worker, id, info));
            }
        }
        Ok(())
    }

    /// Waits until every worker has taken in everything done through this
    /// handle before the call: the tables last set are the ones it forwards
    /// by, and the commands sent to it are applied. A frame a port receives
    /// after `sync` returns meets the new state. Returns the generation
    /// the workers acknowledged (it grows by one per call).
    ///
    /// A worker answers between two bursts, so this takes about one burst,
    /// or one nap (at most [`MAX_NAP`]) when the worker is idle.
    pub fn sync(&self, timeout: Duration) -> Result<u64, CommandError> {
        let generation = self.requested.fetch_add(1, Ordering::AcqRel) + 1;
        let deadline = Instant::now() + timeout;
        let mut stopped = None;
        for (worker, acked) in self.acked.iter().enumerate() {
            while acked.load(Ordering::Acquire) < generation {
                // A stopped worker has nothing more to take in; the others
                // are still waited for.
                if self.workers.get(worker).is_none_or(JoinHandle::is_finished) {
                    stopped = stopped.or(Some(CommandError::Stopped(worker)));
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(CommandError::Timeout {
                        worker,
                        waited: timeout,
                    });
                }
                std::thread::sleep(SYNC_POLL);
            }
        }
        stopped.map_or(Ok(generation), Err)
    }

    /// The ports each worker polls: (worker, port id, what it is).
    pub fn ports(&self) -> Vec<(usize, PortId, PortInfo)> {
        self.ports.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Counters summed over all workers, with what their ports counted
    /// beneath them (read afresh: each worker reads its ports' and the
    /// kernel's counters when asked, so this takes about one burst).
    pub fn counters(&self) -> Snapshot {
        if let Err(e) = self.sync(COUNTERS_WAIT) {
            tracing::debug!(error = %e, "counters: a worker's port counters are not fresh");
        }
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
    endpoints: Vec<Option<Producer>>,
    punt: Option<Producer>,
    idle: Idle,
    tables: Arc<ArcSwap<Tables>>,
    counters: Arc<Counters>,
    /// What ports the worker let go of had counted beneath it.
    retired: Snapshot,
    commands: mpsc::Receiver<(Command, mpsc::Sender<()>)>,
    sync: Acks,
    stop: Arc<AtomicBool>,
}

/// A worker's side of [`Dataplane::sync`].
struct Acks {
    /// The generation asked for (shared by all workers, read once a round).
    requested: Arc<AtomicU64>,
    /// The generation this worker has taken in (written when it changes).
    acked: Arc<AtomicU64>,
}

/// Per-port and per-endpoint burst vectors of a worker, grown as ports and
/// endpoints are added.
struct Lanes {
    shims: Vec<Shim>,
    tx: Vec<Vec<Buf>>,
    tx_to: Vec<Vec<(Buf, SocketAddr)>>,
    queued: Vec<usize>,
    deliver: Vec<Vec<Buf>>,
    punt: Vec<Buf>,
}

fn shim_of(port: Option<&dyn Port>) -> Shim {
    match port.map(|p| p.info()) {
        Some(PortInfo {
            kind: PortKind::Uring { .. },
            ..
        }) => Shim::Udp,
        info => Shim::EthDix {
            mac: info.and_then(|i| i.mac),
        },
    }
}

/// Puts the punt header in the head room just in front of the frame, so
/// that the one descriptor sent says which port and N-1 flow the frame
/// came from ([`o7s_seam::punt`]); a buffer without the room is dropped.
fn put_punt_header(pool: &Pool, buf: &mut Buf, header: &[u8; punt::HEADER_LEN]) -> Result<(), DropReason> {
    buf.prepend(punt::HEADER_LEN).map_err(|_| DropReason::NoHeadroom)?;
    pool.data_mut(buf)[..punt::HEADER_LEN].copy_from_slice(header);
    Ok(())
}

impl Lanes {
    fn new(ports: &[Option<Box<dyn Port>>], endpoints: usize) -> Lanes {
        let mut lanes = Lanes {
            shims: Vec::new(),
            tx: Vec::new(),
            tx_to: Vec::new(),
            queued: Vec::new(),
            deliver: Vec::new(),
            punt: Vec::with_capacity(2 * BURST),
        };
        lanes.fit(ports, endpoints);
        lanes
    }

    /// Makes room for every port and endpoint.
    fn fit(&mut self, ports: &[Option<Box<dyn Port>>], endpoints: usize) {
        self.shims = ports.iter().map(|p| shim_of(p.as_deref())).collect();
        self.tx.resize_with(ports.len(), || Vec::with_capacity(2 * BURST));
        self.tx_to.resize_with(ports.len(), || Vec::with_capacity(2 * BURST));
        self.queued.resize(ports.len(), 0);
        if self.deliver.len() < endpoints {
            self.deliver.resize_with(endpoints, || Vec::with_capacity(2 * BURST));
        }
    }
}

impl Worker {
    fn new(
        spec: WorkerSpec,
        tables: Arc<ArcSwap<Tables>>,
        counters: Arc<Counters>,
        commands: mpsc::Receiver<(Command, mpsc::Sender<()>)>,
        sync: Acks,
        stop: Arc<AtomicBool>,
    ) -> Worker {
        Worker {
            name: spec.name,
            core: spec.core,
            cache: spec.cache,
            ports: spec.ports,
            endpoints: spec.endpoints.into_iter().map(Some).collect(),
            punt: spec.punt,
            idle: spec.idle,
            tables,
            counters,
            retired: Snapshot::default(),
            commands,
            sync,
            stop,
        }
    }

    /// Lets go of a port: its buffers back to the pool, what it counted
    /// kept in the worker's sums.
    fn retire(&mut self, mut port: Box<dyn Port>) {
        self.retired = self.retired + port.snapshot();
        port.drain(&mut self.cache);
    }

    /// Publishes what the ports counted beneath the worker (system calls:
    /// only when asked).
    fn publish_below(&mut self) {
        let below = self
            .ports
            .iter_mut()
            .flatten()
            .fold(self.retired, |sum, port| sum + port.snapshot());
        self.counters.set_below(below);
    }

    /// Applies pending commands; only between bursts, so no frame is in
    /// one of the vectors a command resizes.
    fn apply_commands(&mut self, lanes: &mut Lanes) {
        while let Ok((command, done)) = self.commands.try_recv() {
            tracing::info!(worker = %self.name, ?command, "applying");
            match command {
                Command::AddPort { id, port } => {
                    let id = usize::from(id);
                    if self.ports.len() <= id {
                        self.ports.resize_with(id + 1, || None);
                    }
                    if let Some(old) = self.ports[id].replace(port) {
                        self.retire(old);
                    }
                }
                Command::RemovePort { id } => {
                    if let Some(old) = self.ports.get_mut(usize::from(id)).and_then(Option::take) {
                        self.retire(old);
                    }
                }
                Command::SetEndpoint { index, ring } => {
                    let index = index as usize;
                    if self.endpoints.len() <= index {
                        self.endpoints.resize_with(index + 1, || None);
                    }
                    self.endpoints[index] = ring;
                }
                Command::SetPunt(ring) => self.punt = ring,
            }
            lanes.fit(&self.ports, self.endpoints.len());
            let _ = done.send(());
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
        let mut lanes = Lanes::new(&self.ports, self.endpoints.len());
        let mut rx: Vec<Buf> = Vec::with_capacity(BURST);
        let mut last_traffic = Instant::now();
        let mut nap = MIN_NAP;
        let mut acked = 0;

        while !self.stop.load(Ordering::Relaxed) {
            // Read before the commands and the tables, so that what it
            // acknowledges covers everything done before it was asked.
            let requested = self.sync.requested.load(Ordering::Acquire);
            self.apply_commands(&mut lanes);
            let tables = self.tables.load();
            if requested != acked {
                self.publish_below();
                self.sync.acked.store(requested, Ordering::Release);
                acked = requested;
            }
            let mut busy = false;
            for (q, port) in lanes.queued.iter_mut().zip(&self.ports) {
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
                    let Lanes {
                        shims,
                        tx,
                        tx_to,
                        queued,
                        deliver,
                        punt,
                    } = &mut lanes;
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
                                (None, Some(Shim::EthDix { .. })) => {
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
                        Verdict::Deliver { endpoint, head, len } => {
                            let e = endpoint as usize;
                            let live = self.endpoints.get(e).is_some_and(Option::is_some);
                            match deliver.get_mut(e) {
                                Some(out) if live && buf.reset(head, len).is_ok() => {
                                    out.push(buf);
                                    continue;
                                }
                                _ => DropReason::NoEndpoint,
                            }
                        }
                        Verdict::Punt(_) if self.punt.is_none() => DropReason::NoPunt,
                        Verdict::Punt(cause) => {
                            let header = Punt::header(in_port as PortId, cause);
                            match put_punt_header(&pool, &mut buf, &header) {
                                Ok(()) => {
                                    punt.push(buf);
                                    continue;
                                }
                                Err(reason) => reason,
                            }
                        }
                        Verdict::Drop(reason) => reason,
                    };
                    self.counters.count_drop(reason, 1);
                    self.cache.free(buf);
                }
            }
            self.flush_tx(&mut lanes.tx, &mut lanes.tx_to);
            self.flush_local(&mut lanes.deliver, &mut lanes.punt);
            drop(tables);
            if busy {
                last_traffic = Instant::now();
                nap = MIN_NAP;
            } else if self.idle == Idle::Adaptive && last_traffic.elapsed() > IDLE_BEFORE_NAP {
                let fds = self.ports.iter().flatten().filter_map(|p| p.wait_fd());
                crate::sys::wait_readable(fds, nap);
                nap = (nap * 2).min(MAX_NAP);
            } else {
                std::hint::spin_loop();
            }
        }
        self.shut_down(lanes);
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
            let Some(ring) = ring.as_mut() else { continue };
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

    fn shut_down(mut self, lanes: Lanes) {
        for mut bufs in lanes.tx.into_iter().chain(lanes.deliver).chain([lanes.punt]) {
            self.cache.free_burst(&mut bufs);
        }
        for (buf, _) in lanes.tx_to.into_iter().flatten() {
            self.cache.free(buf);
        }
        self.publish_below();
        for port in self.ports.iter_mut().flatten() {
            port.drain(&mut self.cache);
        }
        tracing::info!(worker = %self.name, counters = %self.counters.snapshot(), "worker stopped");
    }
}
