//! The traffic ends: an AF_XDP generator in gen and an AF_XDP latency sink
//! in snk, each a thread of this process joined to its namespace and pinned
//! to its core.
//!
//! ```text
//!  generator thread (gen, core 0)                       latency sink thread (snk, core 0)
//!  pool buffers pre-filled with the template            o7s_steer on s0 --> XSKMAP --> RX ring
//!  alloc burst -> stamp seq + time -> TX ring -> g0     rx burst -> read stamp -> now - sent
//!  (copy mode: the kernel copies each frame into an     -> hdrhistogram (ns)
//!   skb inside sendto, 32 per call)
//! ```
//!
//! Times are nanoseconds of CLOCK_MONOTONIC (what `Instant` reads on Linux)
//! since the run's epoch: both ends are threads of one process on one host
//! clock, so sent and received times compare directly.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use o7s_ebpf::{Steering, SteeringConfig};
use o7s_mem::{Buf, Pool, PoolCache, PoolConfig};
use o7s_netns::Netns;
use o7s_xsk::{Umem, XskConfig, XskSocket};

use super::frames::{self, Format, Template};

/// Now, in nanoseconds since the run's epoch (the first call).
pub fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn pin(core: Option<core_affinity::CoreId>) {
    if let Some(core) = core
        && !core_affinity::set_for_current(core)
    {
        tracing::warn!(core = core.id, "could not pin benchmark thread");
    }
}

/// What the generator sends until told to stop.
#[derive(Debug, Clone)]
pub struct Job {
    pub template: Template,
    /// Packets per second, or `None` for as fast as it can.
    pub rate: Option<u64>,
}

/// What a job did.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenReport {
    /// Frames the kernel completed (sent into the veth, or dropped there).
    pub completed: u64,
}

#[derive(Debug, Default)]
struct Control {
    running: AtomicBool,
    quit: AtomicBool,
    /// Frames completed since the job began, updated every burst.
    completed: AtomicU64,
}

/// The generator thread; stopped and its socket closed on drop.
#[derive(Debug)]
pub struct Generator {
    jobs: Option<mpsc::Sender<Job>>,
    reports: mpsc::Receiver<Result<GenReport, String>>,
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
    /// How the socket is bound ("AF_XDP copy, TX ring 2048, ...").
    pub socket: String,
}

const GEN_BUFFERS: u32 = 8192;

impl Generator {
    /// Opens an AF_XDP socket on `ifname` queue 0 in `ns` and waits for
    /// jobs on a thread pinned to `core`.
    pub fn start(
        ns: &Arc<Netns>,
        ifname: &str,
        core: Option<core_affinity::CoreId>,
        batch: usize,
    ) -> Result<Generator, String> {
        let ns = Arc::clone(ns);
        let ifname = ifname.to_owned();
        let control = Arc::new(Control::default());
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (report_tx, report_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let ctl = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name("o7s-bench-gen".into())
            .spawn(move || {
                let setup = || -> Result<(Pool, PoolCache, XskSocket), String> {
                    join(ns)?;
                    pin(core);
                    let pool = Pool::create(
                        "o7s-bench-fwd-gen",
                        PoolConfig {
                            count: GEN_BUFFERS,
                            ..PoolConfig::default()
                        },
                    )
                    .map_err(|e| format!("generator pool: {e}"))?;
                    let umem = Umem::new(&pool).map_err(|e| format!("generator UMEM: {e}"))?;
                    let cache = pool.cache().map_err(|e| format!("generator cache: {e}"))?;
                    let sock = XskSocket::new(&umem, ifname.as_str(), 0, XskConfig::default())
                        .map_err(|e| format!("generator AF_XDP socket on {ifname}: {e}"))?;
                    Ok((pool, cache, sock))
                };
                let (pool, mut cache, mut sock) = match setup() {
                    Ok(parts) => parts,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let i = sock.info();
                let _ = ready_tx.send(Ok(format!(
                    "AF_XDP {} on {} queue {} (tx ring {}, completion ring {}, {} buffers on {})",
                    i.mode,
                    i.ifname,
                    i.queue_id,
                    i.tx_size,
                    i.comp_size,
                    pool.count(),
                    pool.pages()
                )));
                let mut sender = GenLoop {
                    pool: &pool,
                    cache: &mut cache,
                    sock: &mut sock,
                    control: &ctl,
                    batch,
                };
                while !ctl.quit.load(Ordering::Relaxed) {
                    match job_rx.recv_timeout(Duration::from_millis(100)) {
                        Ok(job) => {
                            let report = sender.run(&job);
                            if report_tx.send(report).is_err() {
                                break;
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                sock.drain(&mut cache);
            })
            .map_err(|e| format!("starting the generator thread: {e}"))?;
        let socket = ready_rx
            .recv()
            .map_err(|_| "the generator thread died while starting".to_string())??;
        Ok(Generator {
            jobs: Some(job_tx),
            reports: report_rx,
            control,
            thread: Some(thread),
            socket,
        })
    }

    /// Starts sending; returns at once.
    pub fn begin(&self, job: Job) -> Result<(), String> {
        self.control.completed.store(0, Ordering::Relaxed);
        self.control.running.store(true, Ordering::Relaxed);
        self.jobs
            .as_ref()
            .and_then(|j| j.send(job).ok())
            .ok_or_else(|| "the generator thread is gone".to_string())
    }

    /// Frames completed since the job began.
    pub fn completed(&self) -> u64 {
        self.control.completed.load(Ordering::Relaxed)
    }

    /// Stops sending and waits for the job's report.
    pub fn end(&self) -> Result<GenReport, String> {
        self.control.running.store(false, Ordering::Relaxed);
        self.reports
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "the generator did not stop".to_string())?
    }
}

impl Drop for Generator {
    fn drop(&mut self) {
        self.control.running.store(false, Ordering::Relaxed);
        self.control.quit.store(true, Ordering::Relaxed);
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Moves the calling thread into `ns` for good, and lets go of the handle
/// (the namespace's owner removes it at the end).
fn join(ns: Arc<Netns>) -> Result<(), String> {
    ns.join_current_thread()
        .map_err(|e| format!("joining {}: {e}", ns.name()))
}

struct GenLoop<'a> {
    pool: &'a Pool,
    cache: &'a mut PoolCache,
    sock: &'a mut XskSocket,
    control: &'a Control,
    batch: usize,
}

impl GenLoop<'_> {
    fn run(&mut self, job: &Job) -> Result<GenReport, String> {
        self.settle();
        self.prefill(&job.template)?;
        let start = self.sock.stats();
        let mut frames: Vec<Buf> = Vec::with_capacity(self.batch);
        match job.rate {
            None => self.blast(job, &mut frames, &start),
            Some(rate) => self.paced(job, rate, &mut frames, &start),
        }
        self.cache.free_burst(&mut frames);
        self.settle();
        let end = self.sock.stats();
        Ok(GenReport {
            completed: end.tx_completed - start.tx_completed,
        })
    }

    /// Waits (up to a second) for the kernel to complete every frame.
    fn settle(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.sock.tx_pending() > 0 && Instant::now() < deadline {
            self.sock.complete(self.cache);
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    /// Copies the template into every free buffer once, so that sending
    /// only writes the stamp.
    fn prefill(&mut self, template: &Template) -> Result<(), String> {
        let mut all = Vec::with_capacity(GEN_BUFFERS as usize);
        self.cache.alloc_burst(&mut all, GEN_BUFFERS as usize);
        for b in &mut all {
            if b.set_len(template.bytes.len()).is_err() {
                self.cache.free_burst(&mut all);
                return Err(format!("a {} B frame does not fit a pool buffer", template.bytes.len()));
            }
            self.pool.data_mut(b).copy_from_slice(&template.bytes);
        }
        self.cache.free_burst(&mut all);
        Ok(())
    }

    /// Fills `frames` up to a burst with fresh buffers stamped from `seq` on.
    fn refill(
        &mut self,
        frames: &mut Vec<Buf>,
        want: usize,
        format: Format,
        len: usize,
        seq: &mut u64,
        per_packet_time: bool,
    ) {
        let from = frames.len();
        self.cache.alloc_burst(frames, want.saturating_sub(from));
        let mut now = now_ns();
        for b in &mut frames[from..] {
            // The buffer holds the template already: only its length is new.
            let _ = b.set_len(len);
            if per_packet_time {
                now = now_ns();
            }
            frames::stamp(self.pool.data_mut(b), format, *seq, now);
            *seq += 1;
        }
    }

    fn publish(&self, start: &o7s_xsk::XskStats) {
        let done = self.sock.stats().tx_completed - start.tx_completed;
        self.control.completed.store(done, Ordering::Relaxed);
    }

    fn blast(&mut self, job: &Job, frames: &mut Vec<Buf>, start: &o7s_xsk::XskStats) {
        let (format, len) = (job.template.format, job.template.bytes.len());
        let mut seq = 0;
        while self.control.running.load(Ordering::Relaxed) {
            // One time per burst: the bursts leave microseconds apart.
            self.refill(frames, self.batch, format, len, &mut seq, false);
            self.sock.tx_burst(self.cache, frames);
            self.sock.complete(self.cache);
            self.publish(start);
        }
    }

    /// Sends at `rate` on average: wakes every few tens of microseconds and
    /// sends what is due, each frame stamped as it is written. Sleeping
    /// (rather than spinning) leaves the core to the latency sink.
    fn paced(&mut self, job: &Job, rate: u64, frames: &mut Vec<Buf>, start: &o7s_xsk::XskStats) {
        let (format, len) = (job.template.format, job.template.bytes.len());
        let begin = Instant::now();
        let mut seq = 0;
        // Frames accounted for: sent, or skipped after a long stall (so
        // that a stall is not followed by a burst far above the rate).
        let mut accounted = 0u64;
        while self.control.running.load(Ordering::Relaxed) {
            let due = (begin.elapsed().as_nanos() * u128::from(rate) / 1_000_000_000) as u64;
            if due.saturating_sub(accounted) > 4 * self.batch as u64 {
                accounted = due - self.batch as u64;
            }
            let take = due.saturating_sub(accounted).min(self.batch as u64);
            accounted += take;
            if take > 0 {
                self.refill(frames, frames.len() + take as usize, format, len, &mut seq, true);
                self.sock.tx_burst(self.cache, frames);
            }
            self.sock.complete(self.cache);
            self.publish(start);
            std::thread::sleep(Duration::from_micros(10));
        }
    }
}

/// What the latency sink saw.
#[derive(Debug)]
pub struct SinkReport {
    /// One-way latency of each counted frame, nanoseconds.
    pub histogram: Histogram<u64>,
    /// Frames of the right format stamped after the sink's start time.
    pub counted: u64,
    /// Frames stamped before it (in flight from an earlier phase, or in
    /// the warm-up).
    pub early: u64,
    /// Frames of another format.
    pub foreign: u64,
    /// How the socket and program were bound.
    pub mode: String,
}

/// An AF_XDP receiver on `s0` recording one-way latency.
#[derive(Debug)]
pub struct LatencySink {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<SinkReport, String>>>,
}

const SINK_BUFFERS: u32 = 8192;

impl LatencySink {
    /// Attaches `o7s_steer` (Ethertype 0xA000, UDP port `udp_port`) to
    /// `ifname` in `ns`, binds a socket to its queue 0, and records frames
    /// of `format` stamped at or after `since_ns`. Returns once ready.
    pub fn start(
        ns: &Arc<Netns>,
        ifname: &str,
        core: Option<core_affinity::CoreId>,
        format: Format,
        udp_port: u16,
        since_ns: u64,
    ) -> Result<LatencySink, String> {
        let ns = Arc::clone(ns);
        let ifname = ifname.to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("o7s-bench-sink".into())
            .spawn(move || -> Result<SinkReport, String> {
                let setup = || -> Result<_, String> {
                    join(ns)?;
                    pin(core);
                    let pool = Pool::create(
                        "o7s-bench-fwd-sink",
                        PoolConfig {
                            count: SINK_BUFFERS,
                            ..PoolConfig::default()
                        },
                    )
                    .map_err(|e| format!("sink pool: {e}"))?;
                    let umem = Umem::new(&pool).map_err(|e| format!("sink UMEM: {e}"))?;
                    let cache = pool.cache().map_err(|e| format!("sink cache: {e}"))?;
                    let sock = XskSocket::new(&umem, ifname.as_str(), 0, XskConfig::default())
                        .map_err(|e| format!("sink AF_XDP socket on {ifname}: {e}"))?;
                    let config = SteeringConfig {
                        udp_port,
                        ..SteeringConfig::default()
                    };
                    let mut steering =
                        Steering::attach(&ifname, config).map_err(|e| format!("steering on {ifname}: {e}"))?;
                    steering
                        .register_xsk(0, sock.fd())
                        .map_err(|e| format!("registering the sink socket: {e}"))?;
                    Ok((pool, cache, sock, steering))
                };
                let (pool, mut cache, mut sock, steering) = match setup() {
                    Ok(parts) => parts,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                let fill = sock.info().fill_size as usize;
                sock.fill(&mut cache, fill);
                let mode = format!("AF_XDP {}, XDP {}", sock.info().mode, steering.mode());
                let _ = ready_tx.send(Ok(()));
                let mut report = SinkReport {
                    histogram: Histogram::new(3).map_err(|e| format!("histogram: {e}"))?,
                    counted: 0,
                    early: 0,
                    foreign: 0,
                    mode,
                };
                let mut bufs = Vec::with_capacity(64);
                while !stopped.load(Ordering::Relaxed) {
                    sock.fill(&mut cache, fill);
                    if sock.rx_burst(&mut cache, &mut bufs, 64) == 0 {
                        // Polling, but never ahead of a thread that has work
                        // on this core (the generator, a NAPI thread).
                        std::thread::yield_now();
                        continue;
                    }
                    for b in bufs.drain(..) {
                        let data = pool.data(&b);
                        match frames::read_stamp(data, format) {
                            Some((_, sent)) if format.matches(data, udp_port) => {
                                let now = now_ns();
                                if sent < since_ns || sent > now {
                                    report.early += 1;
                                } else {
                                    // Grows the histogram as needed (it was made with
                                    // `new`, which auto-resizes); cannot fail then.
                                    let _ = report.histogram.record(now - sent);
                                    report.counted += 1;
                                }
                            }
                            _ => report.foreign += 1,
                        }
                        cache.free(b);
                    }
                }
                drop(steering);
                sock.drain(&mut cache);
                Ok(report)
            })
            .map_err(|e| format!("starting the sink thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(LatencySink {
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(match thread.join() {
                Ok(Err(e)) => e,
                _ => "the sink thread died while starting".into(),
            }),
        }
    }

    /// Stops receiving and returns what was recorded.
    pub fn finish(mut self) -> Result<SinkReport, String> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(report)) => report,
            _ => Err("the sink thread panicked".into()),
        }
    }
}

impl Drop for LatencySink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
