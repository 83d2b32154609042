//! Pinned workers and the handle that starts, programs and stops them.
//!
//! ```text
//!  loop (one thread per worker, pinned to its core):
//!    tables = current snapshot (lock-free load)
//!    for each port: poll; rx burst ─► forward::process per frame ─► tx[port] / endpoint / punt / drop
//!    for each source ring (application flows, the control plane's frames):
//!        take up to a burst ─► shim header in the head room (forward::encapsulate) ─► tx[port]
//!    for each port with frames: tx burst (one kick per burst)
//!    hand deliveries to endpoint rings, management frames to the punt ring
//!    (each behind its punt header: o7s_seam::punt)
//!    idle: arm every source ring's kick, sleep on the eventfd and the ports' fds
//! ```
//!
//! A worker owns its ports, its endpoint, source and punt rings, and its
//! pool cache: nothing on this path is shared with another thread except
//! the tables (read-only, swapped whole) and the counters (written by this
//! worker only).
//!
//! Changes reach a worker between two bursts: tables at the next load,
//! commands when it next looks at its queue. [`Dataplane::sync`] is the
//! acknowledgement a caller waits for before counting on a change:
//!
//! ```text
//!  caller: set_tables / update / apply ... ; sync(): requested += 1 = g, kick, wait
//!  worker, top of each round:  r = requested; apply commands; load tables;
//!                              if r is new: publish its ports' counters
//!                              (syscalls, on request only); acked = r
//!  caller: every worker's acked >= g  ──► everything before sync() is in force
//! ```
//!
//! An idle worker sleeps, and three things wake it: a port's fd (a frame
//! arrived), its eventfd, and the end of its nap (at most [`MAX_NAP`]).
//! The eventfd is kicked by a source ring's producer (an application that
//! wrote an SDU, irmd that sends a management frame: they got it from
//! [`Dataplane::kick_fd`]) when the worker armed the ring before sleeping,
//! and by the handle itself for a command or a sync:
//!
//! ```text
//!  worker: for each source: ready |= ring.arm_kick()     producer: push; if armed: write(eventfd)
//!          if !ready: ppoll(eventfd, port fds, nap)  ◄──────────────────────┘
//!          for each source: ring.disarm_kick(); read(eventfd)
//! ```

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use o7s_mem::{Buf, Consumer, Pool, PoolCache, Producer};
use o7s_seam::command::CommandError;
use o7s_seam::counters::{DropReason, HOLD, Snapshot};
use o7s_seam::inject;
use o7s_seam::punt::{self, Punt};
use o7s_seam::tables::{DtDest, Egress, PortId, Tables};

use crate::counters::{Counters, PortCounters};
use crate::forward::{Arrival, Shim, Verdict, encapsulate, next_hop, originate_via, process};
use crate::port::{Port, PortInfo};

/// Frames taken from a port, or from a source ring, per receive call.
pub const BURST: usize = 64;

/// How a worker waits when there is no traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Idle {
    /// Spin forever: lowest latency, a whole core always busy.
    Busy,
    /// Spin, then after `IDLE_BEFORE_NAP` without traffic sleep until a
    /// port's fd turns readable or a source ring's producer kicks the
    /// worker's eventfd, at most a nap that doubles from 20 µs to
    /// [`MAX_NAP`] while nothing comes: the core goes to whatever shares it
    /// (the kernel's receive path for the XDP fast path, other programs),
    /// without the cache pollution of tens of thousands of wake-ups a
    /// second.
    #[default]
    Adaptive,
    /// As `Adaptive`, after this long without traffic instead of
    /// `IDLE_BEFORE_NAP`: short where the worker shares its cores with the
    /// programs it serves (a host running applications, a lab of many
    /// systems), so that its spinning does not take their time.
    Spin(Duration),
}

impl Idle {
    /// How long the worker polls without traffic before it sleeps; `None`:
    /// it never sleeps.
    pub fn spin(self) -> Option<Duration> {
        match self {
            Idle::Busy => None,
            Idle::Adaptive => Some(IDLE_BEFORE_NAP),
            Idle::Spin(spin) => Some(spin),
        }
    }
}

impl std::fmt::Display for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.spin() {
            None => f.write_str("busy polling"),
            Some(spin) => write!(f, "polls {spin:?} without traffic, then sleeps"),
        }
    }
}

/// How long a worker spins without traffic before it naps.
pub const IDLE_BEFORE_NAP: Duration = Duration::from_millis(5);
const MIN_NAP: Duration = Duration::from_micros(20);
/// The longest an idle worker sleeps between looks at ports without a
/// wait fd (local rings, io_uring), its commands and its stop flag.
pub const MAX_NAP: Duration = Duration::from_millis(1);
/// The longest an idle worker sleeps when every port has a wait fd and
/// nothing is in flight: its eventfd, kicked by every command, sync and
/// stop, and the ports' fds wake it; the bound only guards against a
/// wake-up the kernel never sends.
const DEEP_NAP: Duration = Duration::from_millis(100);
/// SDUs a worker holds for full application rings (for at most
/// [`HOLD`]) before it stops reading its ports: past the rings, a burst
/// waits in pool buffers rather than being lost, as long as the pool has
/// them to spare.
const HOLD_FRAMES: usize = 4096;
/// How long a worker holds SDUs for a flow whose application has not yet
/// attached its receive ring (the first SDUs of an accepted flow can come
/// before the application has taken it from irmd).
const ATTACH_HOLD: Duration = Duration::from_secs(2);
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

/// A command on its way to a worker, and where the worker answers.
type Queued = (Command, mpsc::Sender<Result<(), String>>);

/// Errors starting the dataplane.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start worker thread {name}: {source}")]
    Spawn {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make worker {name}'s eventfd: {source}")]
    Kick {
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
    commands: Vec<mpsc::Sender<Queued>>,
    /// Each worker's eventfd (the worker holds another fd of the same
    /// eventfd).
    kicks: Vec<OwnedFd>,
    /// The last generation [`sync`](Dataplane::sync) asked for.
    requested: Arc<AtomicU64>,
    /// The last generation each worker acknowledged.
    acked: Vec<Arc<AtomicU64>>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    /// The pool the workers' caches draw from (`None` with no worker).
    pool: Option<Pool>,
    /// The pool as AF_XDP UMEM, once a port needed it: every AF_XDP port
    /// shares it ([`crate::backend`]).
    pub(crate) umem: Mutex<Option<o7s_xsk::Umem>>,
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
            kicks: Vec::new(),
            requested: Arc::new(AtomicU64::new(0)),
            acked: Vec::new(),
            stop,
            workers: Vec::new(),
            pool: specs.first().map(|s| s.cache.pool().clone()),
            umem: Mutex::new(None),
        };
        for (w, spec) in specs.into_iter().enumerate() {
            if let Ok(mut ports) = dp.ports.lock() {
                for (id, port) in spec.ports.iter().enumerate() {
                    if let Some(port) = port {
                        ports.push((w, id as PortId, port.info().clone()));
                    }
                }
            }
            let name = spec.name.clone();
            let kick_err = |source| StartError::Kick {
                name: name.clone(),
                source,
            };
            let kick = o7s_mem::sys::eventfd().map_err(kick_err)?;
            dp.kicks.push(kick.try_clone().map_err(kick_err)?);
            let counters = Arc::new(Counters::default());
            dp.counters.push(Arc::clone(&counters));
            let (tx, rx) = mpsc::channel();
            dp.commands.push(tx);
            let acked = Arc::new(AtomicU64::new(0));
            dp.acked.push(Arc::clone(&acked));
            let sync = Acks {
                requested: Arc::clone(&dp.requested),
                acked,
            };
            let worker = Worker::new(
                spec,
                Arc::clone(&dp.tables),
                counters,
                kick,
                rx,
                sync,
                Arc::clone(&dp.stop),
            );
            let handle = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || worker.run())
                .map_err(|source| StartError::Spawn { name, source })?;
            dp.workers.push(handle);
        }
        Ok(dp)
    }

    /// The pool the workers' caches draw from (`None` with no worker).
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_ref()
    }

    /// How many workers run.
    pub fn workers(&self) -> usize {
        self.commands.len()
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

    /// A new file descriptor of worker `worker`'s eventfd, for the
    /// producer of a source ring that worker consumes
    /// ([`Producer::set_kick`]): the producer writes to it after a push
    /// into a ring the worker armed before sleeping, and the worker wakes
    /// within microseconds instead of at the end of its nap.
    pub fn kick_fd(&self, worker: usize) -> std::io::Result<OwnedFd> {
        self.kicks
            .get(worker)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("no worker {worker}")))?
            .try_clone()
    }

    /// Wakes worker `worker` if it sleeps.
    fn wake(&self, worker: usize) {
        if let Some(kick) = self.kicks.get(worker) {
            o7s_mem::sys::eventfd_kick(kick.as_fd());
        }
    }

    /// Applies `command` to worker `worker` between two of its bursts, and
    /// returns once it has (so tables that route to a new port can follow).
    /// `Refused` when the worker could not (nothing changed then).
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
        self.wake(worker);
        done_rx
            .recv()
            .map_err(|_| CommandError::Stopped(worker))?
            .map_err(|why| CommandError::Refused { worker, why })?;
        if let (Some((id, info)), Ok(mut ports)) = (change, self.ports.lock()) {
            ports.retain(|(w, p, _)| (*w, *p) != (worker, id));
            if let Some(info) = info {
                ports.push((worker, id, info));
            }
        }
        Ok(())
    }

    /// Stops polling port `id` on worker `worker` and closes it (its
    /// buffers back to the pool, its XDP program detached); what it counted
    /// stays in the worker's totals, and [`port_counters`](Self::port_counters)
    /// of `id` starts afresh.
    pub fn remove_port(&self, worker: usize, id: PortId) -> Result<(), CommandError> {
        self.apply(worker, Command::RemovePort { id })
    }

    /// Waits until every worker has taken in everything done through this
    /// handle before the call: the tables last set are the ones it forwards
    /// by, and the commands sent to it are applied. A frame a port receives
    /// after `sync` returns meets the new state. Returns the generation
    /// the workers acknowledged (it grows by one per call).
    ///
    /// A worker answers between two bursts, so this takes about one burst;
    /// an idle worker is woken for it.
    pub fn sync(&self, timeout: Duration) -> Result<u64, CommandError> {
        let generation = self.requested.fetch_add(1, Ordering::AcqRel) + 1;
        for worker in 0..self.kicks.len() {
            self.wake(worker);
        }
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

    /// Asks every worker for fresh port counters (they read their ports'
    /// and the kernel's counters when asked, so this takes about one burst).
    fn refresh(&self) {
        if let Err(e) = self.sync(COUNTERS_WAIT) {
            tracing::debug!(error = %e, "counters: a worker's port counters are not fresh");
        }
    }

    /// Counters summed over all workers and ports, with what their ports
    /// counted beneath them (read afresh).
    pub fn counters(&self) -> Snapshot {
        self.refresh();
        self.counters
            .iter()
            .map(|c| c.snapshot())
            .fold(Snapshot::default(), |a, b| a + b)
    }

    /// What port `port` counted (read afresh), over every worker: frames
    /// that arrived on it (`rx_*`, and what became of them: forwarded,
    /// delivered, punted, drops), frames that left by it (`tx_*`), frames
    /// source rings sent out of it (`sourced`, `sent`, their drops), and
    /// what the port, its XDP program and the kernel counted beneath the
    /// worker. For one port, `rx_packets + sourced` equals
    /// `forwarded + delivered + punted + sent + total_drops()` less the
    /// drops beneath the worker. An IPCP owns one port: this is its view.
    pub fn port_counters(&self, port: PortId) -> Snapshot {
        self.refresh();
        self.counters
            .iter()
            .map(|c| c.port(usize::from(port)))
            .fold(Snapshot::default(), |a, b| a + b)
    }

    /// Stops the workers and waits for them; each returns its buffers first.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in 0..self.kicks.len() {
            self.wake(worker);
        }
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

/// A ring of frames to send, and where they leave.
struct Source {
    ring: Consumer,
    to: SourceTo,
}

/// Where a source ring's SDUs go.
#[derive(Debug, Clone, Copy)]
enum SourceTo {
    /// Straight out of a port, with a shim header or none.
    Shim(Egress),
    /// Into the worker's unicast layer: a DT header, then the next hop.
    Layer(DtDest),
}

struct Worker {
    name: String,
    core: Option<core_affinity::CoreId>,
    cache: PoolCache,
    ports: Vec<Option<Box<dyn Port>>>,
    endpoints: Vec<Option<Producer>>,
    sources: Vec<Option<Source>>,
    punt: Option<Producer>,
    idle: Idle,
    tables: Arc<ArcSwap<Tables>>,
    counters: Arc<Counters>,
    /// `counters`' per-port counters, by port id (at least one per port).
    pc: Vec<Arc<PortCounters>>,
    /// The worker's eventfd: source producers, commands and syncs wake it.
    kick: OwnedFd,
    commands: mpsc::Receiver<Queued>,
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

/// Where a queued frame came from, for the counters: the port it arrived
/// on, or a source ring.
type Origin = u32;
const SOURCED: Origin = Origin::MAX;

/// Frames queued for one destination in a round, each with its origin.
struct Lane<T> {
    items: Vec<T>,
    origins: Vec<Origin>,
}

impl<T> Lane<T> {
    fn new() -> Lane<T> {
        Lane {
            items: Vec::with_capacity(2 * BURST),
            origins: Vec::with_capacity(2 * BURST),
        }
    }

    fn push(&mut self, item: T, origin: Origin) {
        self.items.push(item);
        self.origins.push(origin);
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Per-port and per-endpoint burst vectors of a worker, grown as ports and
/// endpoints are added (never on the packet path, save a burst larger than
/// any before).
struct Lanes {
    shims: Vec<Shim>,
    /// Longest frame each port sends (0: no port).
    max_frame: Vec<usize>,
    tx: Vec<Lane<Buf>>,
    tx_to: Vec<Lane<(Buf, SocketAddr)>>,
    /// Frames from source rings still queued for each port (the port had
    /// no room last round): no more are taken for it until they leave.
    carried: Vec<usize>,
    queued: Vec<usize>,
    deliver: Vec<Lane<Buf>>,
    /// Endpoints whose ring stayed full for [`HOLD`]: their SDUs are
    /// dropped at once until they read half their ring.
    stalled: Vec<bool>,
    /// Since when SDUs wait for a full endpoint ring.
    held_since: Option<Instant>,
    /// SDUs waiting for full endpoint rings; past [`HOLD_FRAMES`] the
    /// worker reads no port.
    held: usize,
    punt: Lane<Buf>,
    /// The burst being received, and its source addresses (UDP ports).
    rx: Vec<Buf>,
    rx_from: Vec<SocketAddr>,
}

/// Puts the punt header in the head room just in front of the frame, so
/// that the one descriptor sent says which port and N-1 flow (or UDP
/// sender) the frame came from ([`o7s_seam::punt`]); a buffer without the
/// room is dropped.
fn put_punt_header(pool: &Pool, buf: &mut Buf, header: &[u8; punt::HEADER_LEN]) -> Result<(), DropReason> {
    buf.prepend(punt::HEADER_LEN).map_err(|_| DropReason::NoHeadroom)?;
    pool.data_mut(buf)[..punt::HEADER_LEN].copy_from_slice(header);
    Ok(())
}

impl Lanes {
    /// Frames waiting to leave port `p`: in the port's own queue and in
    /// this round's lanes (mb-ECN marks by it).
    fn txq(&self, p: PortId) -> usize {
        let p = usize::from(p);
        self.queued.get(p).copied().unwrap_or(0)
            + self.tx.get(p).map_or(0, Lane::len)
            + self.tx_to.get(p).map_or(0, Lane::len)
    }

    /// Nothing waits in any lane for a port, an endpoint or the punt ring.
    fn is_idle(&self) -> bool {
        self.tx.iter().all(Lane::is_empty)
            && self.tx_to.iter().all(Lane::is_empty)
            && self.deliver.iter().all(Lane::is_empty)
            && self.punt.is_empty()
            && self.carried.iter().all(|&n| n == 0)
    }

    fn new(ports: &[Option<Box<dyn Port>>], endpoints: usize) -> Lanes {
        let mut lanes = Lanes {
            shims: Vec::new(),
            max_frame: Vec::new(),
            tx: Vec::new(),
            tx_to: Vec::new(),
            carried: Vec::new(),
            queued: Vec::new(),
            deliver: Vec::new(),
            stalled: Vec::new(),
            held_since: None,
            held: 0,
            punt: Lane::new(),
            rx: Vec::with_capacity(BURST),
            rx_from: Vec::with_capacity(BURST),
        };
        lanes.fit(ports, endpoints);
        lanes
    }

    /// Makes room for every port and endpoint.
    fn fit(&mut self, ports: &[Option<Box<dyn Port>>], endpoints: usize) {
        self.shims = ports
            .iter()
            .map(|p| p.as_ref().map_or(Shim::LOCAL, |p| p.info().shim))
            .collect();
        self.max_frame = ports
            .iter()
            .map(|p| p.as_ref().map_or(0, |p| p.info().max_frame()))
            .collect();
        self.tx.resize_with(ports.len(), Lane::new);
        self.tx_to.resize_with(ports.len(), Lane::new);
        self.carried.resize(ports.len(), 0);
        self.queued.resize(ports.len(), 0);
        if self.deliver.len() < endpoints {
            self.deliver.resize_with(endpoints, Lane::new);
            self.stalled.resize(endpoints, false);
        }
    }

    /// Queues a frame to leave by port `p` (to `to` on UDP ports), or says
    /// why it cannot.
    fn enqueue(
        &mut self,
        ports: &[Option<Box<dyn Port>>],
        p: usize,
        buf: Buf,
        to: Option<SocketAddr>,
        origin: Origin,
    ) -> Result<(), (Buf, DropReason)> {
        if ports.get(p).is_none_or(Option::is_none) {
            return Err((buf, DropReason::NoPort));
        }
        if buf.is_empty() {
            return Err((buf, DropReason::ShortFrame));
        }
        if buf.len() > self.max_frame[p] {
            return Err((buf, DropReason::TooBig));
        }
        match (to, self.shims[p]) {
            (None, Shim::EthDix { .. } | Shim::EthLlc { .. }) => self.tx[p].push(buf, origin),
            (Some(addr), Shim::Udp) => self.tx_to[p].push((buf, addr), origin),
            // A flow whose framing does not suit its port.
            _ => return Err((buf, DropReason::NoRoute)),
        }
        Ok(())
    }
}

/// Counts `n` frames of `origin` with `count`, on the origin port's
/// counters (or `dflt`'s for frames from source rings).
fn count_runs(
    origins: &[Origin],
    pc: &[Arc<PortCounters>],
    dflt: &PortCounters,
    mut count: impl FnMut(&PortCounters, bool, u64),
) {
    let mut run = (SOURCED, 0u64);
    let mut flush = |(origin, n): (Origin, u64)| {
        if n == 0 {
            return;
        }
        match pc.get(origin as usize) {
            Some(c) if origin != SOURCED => count(c, false, n),
            _ => count(dflt, origin == SOURCED, n),
        }
    };
    for &o in origins {
        if o == run.0 {
            run.1 += 1;
        } else {
            flush(run);
            run = (o, 1);
        }
    }
    flush(run);
}

/// Counts a flushed lane of port `out` (whose counters are `at_out`): the
/// first `sent` frames left by it — forwarded, counted at the port they
/// arrived on, or sent from a source ring, counted at `out` — and those
/// after them are `unsent`, drops of `reason` at their origin.
fn count_flush(
    origins: &[Origin],
    sent: usize,
    pc: &[Arc<PortCounters>],
    at_out: &PortCounters,
    mut as_sent: impl FnMut(&PortCounters, u64),
    reason: DropReason,
) {
    let sent = sent.min(origins.len());
    count_runs(&origins[..sent], pc, at_out, |c, sourced, n| {
        if sourced {
            c.sent(n);
        } else {
            as_sent(c, n);
        }
    });
    count_runs(&origins[sent..], pc, at_out, |c, _, n| c.count_drop(reason, n));
}

impl Worker {
    fn new(
        spec: WorkerSpec,
        tables: Arc<ArcSwap<Tables>>,
        counters: Arc<Counters>,
        kick: OwnedFd,
        commands: mpsc::Receiver<Queued>,
        sync: Acks,
        stop: Arc<AtomicBool>,
    ) -> Worker {
        let pc = counters.ports_upto(spec.ports.len());
        Worker {
            name: spec.name,
            core: spec.core,
            cache: spec.cache,
            ports: spec.ports,
            endpoints: spec.endpoints.into_iter().map(Some).collect(),
            sources: Vec::new(),
            punt: spec.punt,
            idle: spec.idle,
            tables,
            counters,
            pc,
            kick,
            commands,
            sync,
            stop,
        }
    }

    /// Lets go of port `id`: its buffers back to the pool, what it counted
    /// kept in the worker's sums, frames still queued for it dropped.
    fn retire(&mut self, id: usize, mut port: Box<dyn Port>, lanes: &mut Lanes) {
        let below = port.snapshot();
        port.drain(&mut self.cache);
        if let Some(at) = self.pc.get(id) {
            let drop_all = |c: &PortCounters, _, n| c.count_drop(DropReason::NoPort, n);
            if let Some(lane) = lanes.tx.get_mut(id) {
                count_runs(&lane.origins, &self.pc, at, drop_all);
                lane.origins.clear();
                self.cache.free_burst(&mut lane.items);
            }
            if let Some(lane) = lanes.tx_to.get_mut(id) {
                count_runs(&lane.origins, &self.pc, at, drop_all);
                lane.origins.clear();
                for (buf, _) in lane.items.drain(..) {
                    self.cache.free(buf);
                }
            }
        }
        if let Some(n) = lanes.carried.get_mut(id) {
            *n = 0;
        }
        self.counters.retire(id, below);
    }

    /// Publishes what the ports counted beneath the worker (system calls:
    /// only when asked).
    fn publish_below(&mut self) {
        for (port, c) in self.ports.iter_mut().zip(&self.pc) {
            if let Some(port) = port {
                c.set_below(port.snapshot());
            }
        }
    }

    /// Frees what is left in a source ring.
    /// Polls `ring` as source `index` from now on.
    fn add_source(&mut self, index: u32, ring: o7s_mem::Ring, to: SourceTo) -> Result<(), String> {
        let ring = ring
            .consumer(self.cache.slot())
            .map_err(|e| format!("source ring {index}: {e}"))?;
        let index = index as usize;
        if self.sources.len() <= index {
            self.sources.resize_with(index + 1, || None);
        }
        if let Some(old) = self.sources[index].replace(Source { ring, to }) {
            self.drain_source(old);
        }
        Ok(())
    }

    fn drain_source(&mut self, mut source: Source) {
        let mut bufs = Vec::with_capacity(BURST);
        let mut freed = 0;
        while self.cache.recv(&mut source.ring, &mut bufs, BURST) > 0 {
            freed += bufs.len();
            self.cache.free_burst(&mut bufs);
        }
        if freed > 0 {
            tracing::debug!(worker = %self.name, freed, "source ring closed with frames in it");
        }
    }

    /// Applies one command; `Err` says why the worker refused it.
    fn apply(&mut self, command: Command, lanes: &mut Lanes) -> Result<(), String> {
        match command {
            Command::AddPort { id, port } => {
                let id = usize::from(id);
                if self.ports.len() <= id {
                    self.ports.resize_with(id + 1, || None);
                }
                if self.pc.len() <= id {
                    self.pc = self.counters.ports_upto(id);
                }
                let info = port.info();
                tracing::info!(worker = %self.name, core = ?self.core.map(|c| c.id), port = %info.name, id, backend = %info.kind, mtu = info.mtu, "worker polls port");
                if let Some(old) = self.ports[id].replace(port) {
                    self.retire(id, old, lanes);
                }
            }
            Command::RemovePort { id } => {
                let id = usize::from(id);
                if let Some(old) = self.ports.get_mut(id).and_then(Option::take) {
                    self.retire(id, old, lanes);
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
            Command::AddSource { index, ring, egress } => self.add_source(index, ring, SourceTo::Shim(egress))?,
            Command::AddLayerSource { index, ring, to } => self.add_source(index, ring, SourceTo::Layer(to))?,
            Command::RemoveSource { index } => {
                if let Some(old) = self.sources.get_mut(index as usize).and_then(Option::take) {
                    self.drain_source(old);
                }
            }
        }
        Ok(())
    }

    /// Applies pending commands; only between bursts, so no frame is in
    /// one of the vectors a command resizes (bar frames of source rings
    /// carried over, which a removed port's retirement drops).
    fn apply_commands(&mut self, lanes: &mut Lanes) {
        while let Ok((command, done)) = self.commands.try_recv() {
            tracing::info!(worker = %self.name, ?command, "applying");
            let result = self.apply(command, lanes);
            if let Err(why) = &result {
                tracing::warn!(worker = %self.name, %why, "command refused");
            }
            lanes.fit(&self.ports, self.endpoints.len());
            let _ = done.send(result);
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
                // Back-pressure: once `HOLD_FRAMES` SDUs wait for full
                // application rings, frames wait in the ports' receive
                // rings.
                if lanes.held >= HOLD_FRAMES {
                    continue;
                }
                let n = port.rx_burst_addressed(&mut self.cache, &mut lanes.rx, &mut lanes.rx_from, BURST);
                if n == 0 {
                    continue;
                }
                busy = true;
                let pc = &self.pc[in_port];
                let bytes: usize = lanes.rx.iter().map(Buf::len).sum();
                pc.rx(n as u64, bytes as u64);
                let shim = lanes.shims[in_port];
                let mut rx = std::mem::take(&mut lanes.rx);
                for (i, mut buf) in rx.drain(..).enumerate() {
                    let (head, len) = (buf.head(), buf.len());
                    let at = Arrival {
                        port: in_port as PortId,
                        shim,
                        from: lanes.rx_from.get(i),
                    };
                    let verdict = process(&tables, at, pool.buffer_mut(&mut buf), head, len, |p| lanes.txq(p));
                    let origin = in_port as Origin;
                    let (buf, reason) = match verdict {
                        Verdict::Forward { port, head, len, to } => {
                            if buf.reset(head, len).is_err() {
                                (buf, DropReason::NoHeadroom)
                            } else {
                                match lanes.enqueue(&self.ports, usize::from(port), buf, to, origin) {
                                    Ok(()) => continue,
                                    Err(dropped) => dropped,
                                }
                            }
                        }
                        Verdict::Deliver { endpoint, head, len } => {
                            let e = endpoint as usize;
                            let live = self.endpoints.get(e).is_some_and(Option::is_some);
                            match lanes.deliver.get_mut(e) {
                                Some(out) if live && buf.reset(head, len).is_ok() => {
                                    out.push(buf, origin);
                                    continue;
                                }
                                _ => (buf, DropReason::NoEndpoint),
                            }
                        }
                        Verdict::Punt(_) if self.punt.is_none() => (buf, DropReason::NoPunt),
                        Verdict::Punt(cause) => {
                            let header = Punt::header(in_port as PortId, cause);
                            match put_punt_header(&pool, &mut buf, &header) {
                                Ok(()) => {
                                    lanes.punt.push(buf, origin);
                                    continue;
                                }
                                Err(reason) => (buf, reason),
                            }
                        }
                        Verdict::Drop(reason) => (buf, reason),
                    };
                    pc.count_drop(reason, 1);
                    self.cache.free(buf);
                }
                lanes.rx = rx;
                lanes.rx_from.clear();
            }
            busy |= self.take_sources(&pool, &tables, &mut lanes);
            self.flush_tx(&mut lanes);
            self.flush_local(&mut lanes);
            drop(tables);
            if busy {
                last_traffic = Instant::now();
                nap = MIN_NAP;
            } else if self.idle.spin().is_some_and(|spin| last_traffic.elapsed() > spin) {
                // With nothing in flight and every port able to wake it,
                // the worker sleeps until something does: an idle
                // dataplane costs no wake-ups at all.
                let woken = lanes.is_idle()
                    && self
                        .ports
                        .iter()
                        .flatten()
                        .all(|p| p.wait_fd().is_some() && p.tx_queue_len() == 0);
                self.sleep(if woken { DEEP_NAP } else { nap });
                nap = (nap * 2).min(MAX_NAP);
            } else {
                std::hint::spin_loop();
            }
        }
        self.shut_down(lanes);
    }

    /// Sleeps until a port's fd is readable, a source producer or the
    /// handle kicks the eventfd, or `nap` passes; not at all if a source
    /// ring already has frames.
    fn sleep(&mut self, nap: Duration) {
        let mut ready = false;
        for source in self.sources.iter_mut().flatten() {
            ready |= source.ring.arm_kick();
        }
        if !ready && !self.stop.load(Ordering::Relaxed) {
            let fds = std::iter::once(self.kick.as_fd()).chain(self.ports.iter().flatten().filter_map(|p| p.wait_fd()));
            crate::sys::wait_readable(fds, nap);
        }
        for source in self.sources.iter_mut().flatten() {
            source.ring.disarm_kick();
        }
        o7s_mem::sys::eventfd_drain(self.kick.as_fd());
    }

    /// Takes up to a burst from every source ring, frames each SDU for its
    /// egress (a shim header, or a DT header and the next hop's shim
    /// header for a flow of the unicast layer) and queues it on its port.
    /// Returns whether any came.
    fn take_sources(&mut self, pool: &Pool, tables: &Tables, lanes: &mut Lanes) -> bool {
        let mut busy = false;
        for s in 0..self.sources.len() {
            let Some(source) = self.sources[s].as_mut() else {
                continue;
            };
            let to = source.to;
            // A layer flow's burst goes to one destination: one next hop
            // for all of it (none: its SDUs are dropped as NoRoute or
            // NextHopDown, counted apart).
            let (port, next) = match &to {
                SourceTo::Shim(egress) => (Some(egress.port), None),
                SourceTo::Layer(dest) => match next_hop(tables, dest.cube, dest.dst, dest.eid) {
                    Ok(out) => (Some(out.port), Some(Ok(out))),
                    Err(reason) => (None, Some(Err(reason))),
                },
            };
            let p = port.map_or(usize::MAX, usize::from);
            // What the port could not take last round goes first; no more
            // until it has (the ring holds the rest: backpressure).
            let room = BURST.saturating_sub(lanes.carried.get(p).copied().unwrap_or(0));
            if room == 0 || self.cache.recv(&mut source.ring, &mut lanes.rx, room) == 0 {
                continue;
            }
            busy = true;
            // A port id the worker never had (or no route) is counted apart.
            let counters: &PortCounters = match self.pc.get(p) {
                Some(c) => c,
                None => self.counters.stray(),
            };
            counters.sourced(lanes.rx.len() as u64);
            let shim = lanes.shims.get(p).copied();
            let mut rx = std::mem::take(&mut lanes.rx);
            for mut buf in rx.drain(..) {
                let framed = match (&to, next) {
                    (SourceTo::Shim(egress), _) => frame_for(pool, buf, egress, shim),
                    (SourceTo::Layer(dest), Some(Ok(out))) => {
                        let (head, len) = (buf.head(), buf.len());
                        let queued = lanes.txq(out.port);
                        match originate_via(tables, out, pool.buffer_mut(&mut buf), head, len, dest, queued) {
                            Verdict::Forward { head, len, to, .. } if buf.reset(head, len).is_ok() => Ok((buf, to)),
                            Verdict::Forward { .. } => Err((buf, DropReason::NoHeadroom)),
                            Verdict::Drop(reason) => Err((buf, reason)),
                            Verdict::Deliver { .. } | Verdict::Punt(_) => Err((buf, DropReason::NoRoute)),
                        }
                    }
                    (SourceTo::Layer(_), Some(Err(reason))) => Err((buf, reason)),
                    (SourceTo::Layer(_), None) => Err((buf, DropReason::NoRoute)),
                }
                .and_then(|(buf, to)| lanes.enqueue(&self.ports, p, buf, to, SOURCED));
                if let Err((buf, reason)) = framed {
                    counters.count_drop(reason, 1);
                    self.cache.free(buf);
                }
            }
            lanes.rx = rx;
        }
        busy
    }

    fn flush_tx(&mut self, lanes: &mut Lanes) {
        let Lanes { tx, tx_to, carried, .. } = lanes;
        for (p, ((frames, addressed), port)) in tx
            .iter_mut()
            .zip(tx_to.iter_mut())
            .zip(self.ports.iter_mut())
            .enumerate()
        {
            let Some(port) = port.as_mut() else { continue };
            let at_out = &self.pc[p];
            let mut kept = 0;
            if !frames.is_empty() {
                let bytes = frames.items.iter().map(Buf::len).sum::<usize>();
                let sent = port.tx_burst(&mut self.cache, &mut frames.items);
                let unsent_bytes: usize = frames.items.iter().map(Buf::len).sum();
                at_out.tx(sent as u64, (bytes - unsent_bytes) as u64);
                kept += settle(frames, sent, &self.pc, at_out, &mut self.cache, |buf| buf);
            }
            if !addressed.is_empty() {
                let bytes = addressed.items.iter().map(|(b, _)| b.len()).sum::<usize>();
                let sent = port.tx_burst_to(&mut self.cache, &mut addressed.items);
                let unsent_bytes: usize = addressed.items.iter().map(|(b, _)| b.len()).sum();
                at_out.tx(sent as u64, (bytes - unsent_bytes) as u64);
                kept += settle(addressed, sent, &self.pc, at_out, &mut self.cache, |(buf, _)| buf);
            }
            carried[p] = kept;
        }
    }

    fn flush_local(&mut self, lanes: &mut Lanes) {
        let mut holding = false;
        lanes.held = 0;
        let give_up = lanes.held_since.is_some_and(|t| t.elapsed() >= HOLD);
        for (e, lane) in lanes.deliver.iter_mut().enumerate() {
            if lane.is_empty() {
                continue;
            }
            let Some(ring) = self.endpoints.get_mut(e).and_then(Option::as_mut) else {
                // The endpoint went while its SDUs were held.
                count_flush(
                    &lane.origins,
                    0,
                    &self.pc,
                    self.counters.stray(),
                    |_, _| {},
                    DropReason::NoEndpoint,
                );
                lane.origins.clear();
                self.cache.free_burst(&mut lane.items);
                continue;
            };
            let stalled = &mut lanes.stalled[e];
            if *stalled && ring.free_entries() >= ring.capacity() as usize / 2 {
                *stalled = false;
            }
            let sent = self.cache.send(ring, &mut lane.items);
            count_runs(&lane.origins[..sent], &self.pc, self.counters.stray(), |c, _, n| {
                c.delivered(n)
            });
            lane.origins.drain(..sent);
            if lane.items.is_empty() {
                continue;
            }
            // The application's ring is full: hold its SDUs (and read no
            // port meanwhile) unless it has already been held for `HOLD`;
            // then drop, and drop at once until it has read half its ring.
            // An application that has not attached its end yet (just
            // accepted, its flow still on the way) gets longer.
            let attaching = ring.consumer_slot() == 0;
            let gave_up = if attaching {
                lanes.held_since.is_some_and(|t| t.elapsed() >= ATTACH_HOLD)
            } else {
                give_up
            };
            if *stalled || gave_up {
                *stalled = true;
                count_runs(&lane.origins, &self.pc, self.counters.stray(), |c, _, n| {
                    c.count_drop(DropReason::EndpointFull, n)
                });
                lane.origins.clear();
                self.cache.free_burst(&mut lane.items);
            } else {
                holding = true;
                lanes.held += lane.items.len();
            }
        }
        lanes.held_since = match (holding, lanes.held_since) {
            (false, _) => None,
            (true, None) => Some(Instant::now()),
            (true, since) => since,
        };
        let lane = &mut lanes.punt;
        if let Some(ring) = self.punt.as_mut()
            && !lane.is_empty()
        {
            let sent = self.cache.send(ring, &mut lane.items);
            count_flush(
                &lane.origins,
                sent,
                &self.pc,
                self.counters.stray(),
                |c, n| c.punted(n),
                DropReason::TxFull,
            );
            lane.origins.clear();
            self.cache.free_burst(&mut lane.items);
        }
    }

    fn shut_down(mut self, lanes: Lanes) {
        for lane in lanes.tx.into_iter().chain(lanes.deliver).chain([lanes.punt]) {
            let mut bufs = lane.items;
            self.cache.free_burst(&mut bufs);
        }
        for (buf, _) in lanes.tx_to.into_iter().flat_map(|l| l.items) {
            self.cache.free(buf);
        }
        self.publish_below();
        for port in self.ports.iter_mut().flatten() {
            port.drain(&mut self.cache);
        }
        let sources: Vec<Source> = self.sources.iter_mut().filter_map(Option::take).collect();
        for source in sources {
            self.drain_source(source);
        }
        tracing::info!(worker = %self.name, counters = %self.counters.snapshot(), "worker stopped");
    }
}

/// Frames an SDU taken from a source ring for `egress`: its shim header
/// written in the head room in front of it, or, sent as it is, the
/// destination a UDP datagram carries in front of it read and stripped
/// ([`o7s_seam::inject`]). `shim` is the port's (`None`: no such port).
fn frame_for(
    pool: &Pool,
    mut buf: Buf,
    egress: &Egress,
    shim: Option<Shim>,
) -> Result<(Buf, Option<SocketAddr>), (Buf, DropReason)> {
    match (&egress.encap, shim) {
        (_, None) => Err((buf, DropReason::NoPort)),
        (Some(encap), Some(_)) => {
            let (head, len) = (buf.head(), buf.len());
            match encapsulate(pool.buffer_mut(&mut buf), head, len, encap) {
                Ok(f) if buf.reset(f.head, f.len).is_ok() => Ok((buf, f.to)),
                Ok(_) => Err((buf, DropReason::NoHeadroom)),
                Err(reason) => Err((buf, reason)),
            }
        }
        (None, Some(Shim::Udp)) => match inject::read_dest(pool.data(&buf)) {
            Ok(to) if buf.strip(inject::DEST_LEN).is_ok() => Ok((buf, Some(to))),
            // No destination: nowhere to send it.
            _ => Err((buf, DropReason::NoRoute)),
        },
        (None, Some(_)) => Ok((buf, None)),
    }
}

/// After a lane's burst took its first `sent` frames: counts them, keeps
/// (in order, at the front) the frames of source rings the port had no
/// room for, and drops the forwarded ones it had none for (`tx-full`, at
/// the port they arrived on). Returns how many it kept.
fn settle<T>(
    lane: &mut Lane<T>,
    sent: usize,
    pc: &[Arc<PortCounters>],
    at_out: &PortCounters,
    cache: &mut PoolCache,
    buf_of: impl Fn(T) -> Buf,
) -> usize {
    // The burst took `sent` frames from the front of the lane's items
    // (empty frames never reach a lane, so every frame taken is one sent).
    debug_assert_eq!(lane.origins.len() - lane.items.len(), sent);
    let taken = lane.origins.len() - lane.items.len();
    count_runs(&lane.origins[..taken], pc, at_out, |c, sourced, n| {
        if sourced {
            c.sent(n);
        } else {
            c.forwarded(n);
        }
    });
    lane.origins.drain(..taken);
    // Now the items are the frames not taken, in step with the origins.
    let mut kept = 0;
    for i in 0..lane.origins.len() {
        if lane.origins[i] == SOURCED {
            lane.items.swap(kept, i);
            lane.origins.swap(kept, i);
            kept += 1;
        }
    }
    count_runs(&lane.origins[kept..], pc, at_out, |c, _, n| {
        c.count_drop(DropReason::TxFull, n)
    });
    lane.origins.truncate(kept);
    for item in lane.items.drain(kept..) {
        cache.free(buf_of(item));
    }
    kept
}
