//! `o7s-bench fwd`: packets forwarded per second and one-way latency through
//! a router between two namespaces, for the o7s dataplane and two
//! baselines measured in the same run on the same topology.
//!
//! ```text
//!   gen (core 0)                rtr (router work on core 1)                 snk
//!   AF_XDP TX  g0 ~~~veth~~~ r0 [ ours | kernel | xdp_redirect ] r1 ~~~veth~~~ s0
//!   stamped frames                                                         throughput: xdp_count (count, drop)
//!                                                                          latency: o7s_steer -> AF_XDP, hdrhistogram
//! ```
//!
//! | forwarder | in rtr | frames |
//! |---|---|---|
//! | `ours` | o7s dataplane (`start_router`): AF_XDP on r0 and r1, one worker pinned to core 1 | eth-dix + DT |
//! | `kernel` | Linux IPv4 forwarding, static neighbour, RPS of r0 to core 1 | IPv4/UDP to port 3435 |
//! | `xdp_redirect` | `xdp_fwd` on r0: every frame to r1 through a DEVMAP | eth-dix + DT |
//!
//! Per forwarder and frame size: a throughput measurement (the generator
//! as fast as it can, the sink counting in XDP) and a latency measurement
//! (a fixed moderate rate, the sink receiving with AF_XDP). Before the
//! forwarders, the generator's own ceiling: the counting program on r0
//! itself, the router out of the path.

mod cpu;
mod frames;
mod topology;
mod traffic;

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use o7s_dataplane::backend::start_router;
use o7s_dataplane::config::RouterConfig;
use o7s_ebpf::{AttachMode, CountingSink, RedirectForwarder};

use cpu::CpuTimes;
use frames::{Ipv4Addressing, O7sAddressing, Template};
use topology::{KernelForwarding, Lab, Rps, ThreadedNapi, VethDrops};
use traffic::{Generator, Job, LatencySink, now_ns};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The eth-dix EID of the generator's N-1 flow into the router.
const GEN_SHIM_EID: u16 = 100;
/// The eth-dix EID of the router's N-1 flow to the sink.
const SINK_SHIM_EID: u16 = 300;
/// The DT endpoint the frames are addressed to at the sink.
const SINK_DT_EID: u64 = 64;
/// UDP port of the kernel's frames: the steering program's UDP shim port,
/// so that the latency sink receives them on its AF_XDP socket too.
const UDP_PORT: u16 = o7s_ebpf::DEFAULT_UDP_PORT;
/// Frames stamped in the first part of a latency measurement are not counted.
const LATENCY_WARMUP: Duration = Duration::from_millis(200);

#[derive(clap::Args)]
pub struct Args {
    /// Seconds each throughput measurement lasts (after the warm-up).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of traffic before each throughput measurement starts.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Frame sizes in octets on the wire without FCS, comma-separated (60..=1514).
    #[arg(long, value_delimiter = ',', default_values_t = [64usize, 1500])]
    sizes: Vec<usize>,
    /// Packets per second of the latency measurements.
    #[arg(long, default_value_t = 100_000)]
    latency_rate: u64,
    /// Seconds each latency measurement lasts (default: --duration).
    #[arg(long)]
    latency_duration: Option<f64>,
    /// Frames the generator puts on its TX ring per burst.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Forwarders to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values = ["ours", "kernel", "xdp_redirect"])]
    forwarders: Vec<Forwarder>,
    /// Where r0's receive NAPI (its XDP program, and for ours the copy into
    /// the AF_XDP socket) runs for the XDP forwarders and the ceiling:
    /// `router-core` = a NAPI kernel thread pinned to the router's core;
    /// `sender` = veth's default, the softirq of the sending (generator's)
    /// core.
    #[arg(long, value_enum, default_value_t = NapiPlacement::RouterCore)]
    r0_napi: NapiPlacement,
    /// Times the whole sequence of forwarders is measured, one after the
    /// other; the headline figures and ratios are the medians over rounds,
    /// so that a slow spell of the machine during one forwarder's turn does
    /// not decide a ratio.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    rounds: u32,
}

/// A router under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Forwarder {
    /// The o7s dataplane.
    Ours,
    /// Linux IPv4 forwarding.
    Kernel,
    /// The in-kernel XDP_REDIRECT forwarder.
    #[value(name = "xdp_redirect")]
    XdpRedirect,
}

impl Forwarder {
    fn name(self) -> &'static str {
        match self {
            Forwarder::Ours => "ours",
            Forwarder::Kernel => "kernel",
            Forwarder::XdpRedirect => "xdp_redirect",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NapiPlacement {
    RouterCore,
    Sender,
}

/// The machine lacks something the benchmark needs (exit code 2).
#[derive(Debug)]
pub struct Unprepared(pub String);

impl fmt::Display for Unprepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Unprepared {}

/// Ctrl-C or SIGTERM arrived; everything was undone on the way out.
#[derive(Debug)]
struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted; namespaces and programs removed")
    }
}

impl Error for Interrupted {}

/// Counted frames over one measurement window.
#[derive(Debug, Clone)]
struct Window {
    packets: u64,
    bytes: u64,
    seconds: f64,
    /// Frames the generator completed in the same window.
    offered: u64,
    /// Busy share of the generator's and the router's core.
    cpu: [Option<f64>; 2],
    /// Share of the router's core used by each watched thread.
    threads: Vec<(String, Option<f64>)>,
    /// Veth drops over the whole job (warm-up included), in words.
    drops: String,
}

impl Window {
    fn pps(&self) -> f64 {
        self.packets as f64 / self.seconds
    }

    fn gbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.seconds / 1e9
    }

    fn offered_pps(&self) -> f64 {
        self.offered as f64 / self.seconds
    }
}

/// One-way latency percentiles, microseconds.
#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    samples: u64,
}

#[derive(Debug)]
struct Row {
    round: u32,
    forwarder: Forwarder,
    size: usize,
    window: Window,
    latency: Option<Latency>,
    mode: String,
}

/// What every measurement uses.
struct Bench<'a> {
    args: &'a Args,
    lab: &'a Lab,
    generator: &'a Generator,
    stop: &'a AtomicBool,
    cores: [core_affinity::CoreId; 2],
    notes: Vec<String>,
}

pub fn run(args: &Args) -> Result<()> {
    check(args)?;
    // The core list is read once, before any thread pins itself.
    let cores = match core_affinity::get_core_ids().unwrap_or_default()[..] {
        [a, b, ..] => [a, b],
        _ => return Err(Unprepared("needs two cores: one for the generator, one for the router".into()).into()),
    };
    // First Ctrl-C: stop at the next check and undo everything; a second
    // one exits at once (a later run removes what was left).
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    now_ns();
    let latency_duration = args.latency_duration.unwrap_or(args.duration);
    println!(
        "o7s-bench fwd: generator on core {}, router on core {}; {} s per throughput measurement after {} s warm-up, \
         latency at {} pps for {} s; frame sizes {:?} B (no FCS)",
        cores[0].id, cores[1].id, args.duration, args.warmup, args.latency_rate, latency_duration, args.sizes
    );
    topology::remove_stale();
    // What else runs here: the CPU figures are the whole machine's.
    let quiet = CpuTimes::sample()?;
    std::thread::sleep(Duration::from_secs(1));
    let later = CpuTimes::sample()?;
    let background = [
        quiet.busy_until(&later, cores[0].id),
        quiet.busy_until(&later, cores[1].id),
    ];
    println!(
        "  background load before the run: core {} {}, core {} {}{}",
        cores[0].id,
        percent(background[0]),
        cores[1].id,
        percent(background[1]),
        if background.iter().flatten().any(|b| *b > 0.1) {
            " (other work is running: expect lower, noisier figures)"
        } else {
            ""
        }
    );
    let lab = Lab::build()?;
    println!(
        "  topology: {} g0 ~ r0 {} r1 ~ s0 {} (veth, IPv6 off)",
        lab.generator.name(),
        lab.router.name(),
        lab.sink.name()
    );
    let generator = Generator::start(&lab.generator, "g0", Some(cores[0]), args.batch)?;
    println!("  generator: {}", generator.socket);
    let mut bench = Bench {
        args,
        lab: &lab,
        generator: &generator,
        stop: &stop,
        cores,
        notes: Vec::new(),
    };

    let mut ceilings = Vec::new();
    for &size in &args.sizes {
        let w = bench.ceiling(size)?;
        println!(
            "  generator ceiling {size:>4} B: {:.3} Mpps into xdp_count on r0 of {:.3} Mpps sent (CPU core {} {}, core {} \
             {}{}{})",
            w.pps() / 1e6,
            w.offered_pps() / 1e6,
            cores[0].id,
            percent(w.cpu[0]),
            cores[1].id,
            percent(w.cpu[1]),
            if w.threads.is_empty() { "" } else { ": " },
            thread_words(&w.threads)
        );
        ceilings.push((size, w));
    }
    let mut rows = Vec::new();
    for round in 1..=args.rounds {
        if args.rounds > 1 {
            println!("  round {round} of {}", args.rounds);
        }
        for &forwarder in &args.forwarders {
            let mut measured = bench.forwarder(forwarder)?;
            for r in &mut measured {
                r.round = round;
            }
            rows.extend(measured);
        }
    }
    let notes = std::mem::take(&mut bench.notes);
    drop(bench);
    drop(generator);
    drop(lab);
    report(args, cores, background, &ceilings, &rows, &notes);
    Ok(())
}

/// Everything that can be checked before touching the system.
fn check(args: &Args) -> Result<()> {
    if let Some(bad) = args
        .sizes
        .iter()
        .find(|s| !(frames::MIN_LEN..=frames::MAX_LEN).contains(*s))
    {
        return Err(format!(
            "frame size {bad} is outside {}..={} octets",
            frames::MIN_LEN,
            frames::MAX_LEN
        )
        .into());
    }
    if args.sizes.is_empty() || args.forwarders.is_empty() {
        return Err("--sizes and --forwarders must name at least one".into());
    }
    if !(args.duration > 0.0 && args.warmup >= 0.0 && args.latency_duration.is_none_or(|d| d > 0.0)) {
        return Err("--duration and --latency-duration must be positive, --warmup not negative".into());
    }
    if args.batch == 0 || args.batch > 2048 || args.latency_rate == 0 {
        return Err("--batch must be 1..=2048 and --latency-rate positive".into());
    }
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(str::to_owned)))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|u| u.parse::<u32>().ok()));
    if euid != Some(0) {
        return Err(Unprepared(
            "needs root: it creates network namespaces, attaches XDP programs and opens AF_XDP sockets \
             (run it with sudo)"
                .into(),
        )
        .into());
    }
    let mut missing = Vec::new();
    let runs = |program: &str, arg: &str| std::process::Command::new(program).arg(arg).output().is_ok();
    if !runs("ip", "-V") {
        missing.push("`ip` (package iproute2)");
    }
    if args.r0_napi == NapiPlacement::RouterCore && !runs("taskset", "-V") {
        missing.push("`taskset` (package util-linux), to pin r0's NAPI thread (or pass --r0-napi sender)");
    }
    if !missing.is_empty() {
        return Err(Unprepared(format!("missing {}", missing.join(", "))).into());
    }
    Ok(())
}

impl Bench<'_> {
    /// Sleeps `seconds`, returning early with [`Interrupted`] on a signal.
    fn wait(&self, seconds: f64) -> Result<()> {
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        while Instant::now() < end {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Interrupted.into());
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
        }
        if self.stop.load(Ordering::Relaxed) {
            return Err(Interrupted.into());
        }
        Ok(())
    }

    fn o7s_frame(&self, size: usize) -> Result<Template> {
        Ok(Template::o7s(
            size,
            &O7sAddressing {
                dst_mac: self.lab.r0,
                src_mac: self.lab.g0,
                shim_eid: GEN_SHIM_EID,
                dst: topology::SINK_ADDR,
                eid: SINK_DT_EID,
            },
        )?)
    }

    fn ipv4_frame(&self, size: usize) -> Result<Template> {
        Ok(Template::ipv4_udp(
            size,
            &Ipv4Addressing {
                dst_mac: self.lab.r0,
                src_mac: self.lab.g0,
                src: topology::GEN_IP,
                dst: topology::SINK_IP,
                udp_port: UDP_PORT,
            },
        )?)
    }

    /// r0's NAPI in a thread on the router's core, if so placed.
    fn place_r0_napi(&self) -> Result<Option<ThreadedNapi<'_>>> {
        Ok(match self.args.r0_napi {
            NapiPlacement::RouterCore => Some(ThreadedNapi::pin(&self.lab.router, "r0", self.cores[1].id)?),
            NapiPlacement::Sender => None,
        })
    }

    fn napi_words(&self) -> String {
        match self.args.r0_napi {
            NapiPlacement::RouterCore => format!("r0 NAPI thread on core {}", self.cores[1].id),
            NapiPlacement::Sender => "r0 NAPI in the sender's softirq".into(),
        }
    }

    /// The generator as fast as it can; counts read at the start and end of
    /// the window after the warm-up, with the CPU share of each of `threads`
    /// (label, stat file) on the router's core.
    fn throughput(
        &self,
        template: &Template,
        counts: impl Fn() -> Result<(u64, u64)>,
        threads: &[(String, String)],
    ) -> Result<Window> {
        let drops_before = VethDrops::read(self.lab);
        self.generator.begin(Job {
            template: template.clone(),
            rate: None,
        })?;
        let router = self.cores[1].id;
        let thread_ticks = || -> Vec<Option<u64>> { threads.iter().map(|(_, path)| cpu::thread_ticks(path)).collect() };
        let sampled = (|| -> Result<_> {
            // Everything a window compares, read at its start and its end.
            let sample = || -> Result<_> {
                Ok((
                    counts()?,
                    CpuTimes::sample()?,
                    self.generator.completed(),
                    thread_ticks(),
                    Instant::now(),
                ))
            };
            self.wait(self.args.warmup)?;
            let (c0, cpu0, g0, th0, t0) = sample()?;
            self.wait(self.args.duration)?;
            let (c1, cpu1, g1, th1, t1) = sample()?;
            let ticks = cpu0.ticks_until(&cpu1, router);
            let shares = threads
                .iter()
                .zip(th0.iter().zip(th1))
                .map(|((label, _), (a, b))| {
                    let share = match (a, b, ticks) {
                        (Some(a), Some(b), Some(t)) => Some((b.saturating_sub(*a) as f64 / t as f64).min(1.0)),
                        _ => None,
                    };
                    (label.clone(), share)
                })
                .collect();
            Ok(Window {
                packets: c1.0 - c0.0,
                bytes: c1.1 - c0.1,
                seconds: (t1 - t0).as_secs_f64(),
                offered: g1.saturating_sub(g0),
                cpu: [cpu0.busy_until(&cpu1, self.cores[0].id), cpu0.busy_until(&cpu1, router)],
                threads: shares,
                drops: String::new(),
            })
        })();
        let ended = self.generator.end();
        let mut window = sampled?;
        let report = ended?;
        if report.completed == 0 {
            return Err("the generator sent nothing (is g0 up?)".into());
        }
        tracing::debug!(?report, "generator job");
        window.drops = drops_before.words_until(&VethDrops::read(self.lab));
        Ok(window)
    }

    /// The generator at the latency rate into an AF_XDP sink on s0.
    fn latency(&self, template: &Template) -> Result<(Option<Latency>, String)> {
        let since = now_ns() + LATENCY_WARMUP.as_nanos() as u64;
        let sink = LatencySink::start(
            &self.lab.sink,
            "s0",
            Some(self.cores[0]),
            template.format,
            UDP_PORT,
            since,
        )?;
        self.generator.begin(Job {
            template: template.clone(),
            rate: Some(self.args.latency_rate),
        })?;
        let waited = self.wait(LATENCY_WARMUP.as_secs_f64() + self.args.latency_duration.unwrap_or(self.args.duration));
        let ended = self.generator.end();
        waited?;
        ended?;
        // Frames still in the router's rings arrive within microseconds.
        std::thread::sleep(Duration::from_millis(20));
        let report = sink.finish()?;
        let h = &report.histogram;
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
        let latency = (report.counted > 0).then(|| Latency {
            p50: us(0.5),
            p99: us(0.99),
            p999: us(0.999),
            max: h.max() as f64 / 1e3,
            samples: report.counted,
        });
        if report.foreign > 0 {
            tracing::info!(foreign = report.foreign, "latency sink saw frames of another format");
        }
        Ok((latency, report.mode))
    }

    /// The generator into `xdp_count` on r0: what it can offer at all.
    fn ceiling(&self, size: usize) -> Result<Window> {
        let template = self.o7s_frame(size)?;
        let sink = self
            .lab
            .router
            .enter(|| CountingSink::attach("r0", AttachMode::Auto))??;
        let napi = self.place_r0_napi()?;
        let threads = napi_watch(napi.as_ref());
        let window = self.throughput(&template, || Ok(sink.counts()?), &threads)?;
        drop(napi);
        drop(sink);
        Ok(window)
    }

    /// Throughput then latency, one frame size.
    fn measure(
        &self,
        forwarder: Forwarder,
        template: &Template,
        mode: &str,
        threads: &[(String, String)],
    ) -> Result<Row> {
        let size = template.bytes.len();
        let sink = self.lab.sink.enter(|| CountingSink::attach("s0", AttachMode::Auto))??;
        let window = self.throughput(template, || Ok(sink.counts()?), threads)?;
        drop(sink);
        print!(
            "  {:<12} {size:>4} B: {:.3} Mpps forwarded of {:.3} Mpps offered (CPU core {} {}, core {} {})",
            forwarder.name(),
            window.pps() / 1e6,
            window.offered_pps() / 1e6,
            self.cores[0].id,
            percent(window.cpu[0]),
            self.cores[1].id,
            percent(window.cpu[1])
        );
        if !window.threads.is_empty() {
            print!("; core {}: {}", self.cores[1].id, thread_words(&window.threads));
        }
        if !window.drops.is_empty() {
            print!("; veth drops {}", window.drops);
        }
        let (latency, sink_mode) = self.latency(template)?;
        match &latency {
            Some(l) => println!(
                "; latency at {} pps: p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us ({} frames)",
                self.args.latency_rate, l.p50, l.p99, l.p999, l.samples
            ),
            None => println!("; latency: no frame reached the sink"),
        }
        tracing::debug!(%sink_mode, "latency sink");
        Ok(Row {
            round: 1,
            forwarder,
            size,
            window,
            latency,
            mode: mode.to_owned(),
        })
    }

    fn forwarder(&mut self, forwarder: Forwarder) -> Result<Vec<Row>> {
        println!("  {}: setting up in {}", forwarder.name(), self.lab.router.name());
        let mut rows = Vec::new();
        match forwarder {
            Forwarder::Ours => {
                let config = self.router_config()?;
                let dp = self
                    .lab
                    .router
                    .enter(|| start_router(&config))?
                    .map_err(|e| format!("starting the o7s router in {}: {e}", self.lab.router.name()))?;
                let napi = self.place_r0_napi()?;
                let mut threads = napi_watch(napi.as_ref());
                if let Some(worker) = cpu::own_thread("o7s-worker0") {
                    threads.insert(0, ("worker".into(), worker));
                }
                let ports: Vec<String> = dp
                    .ports()
                    .iter()
                    .map(|(_, _, port)| format!("{}: {}", port.name, port.kind))
                    .collect();
                let r0 = ports
                    .iter()
                    .find_map(|p| p.strip_prefix("r0: "))
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        format!(
                            "r0 not among the router's ports, XDP {}",
                            Lab::xdp_mode(&self.lab.router, "r0").unwrap_or("none")
                        )
                    });
                // Transit frames take the XDP fast path (config `fast_path = true`);
                // the AF_XDP socket and the worker carry the rest.
                let mode = format!(
                    "XDP fast path in o7s_steer; slow path {r0}, {}, worker on core {}",
                    self.napi_words(),
                    self.cores[1].id
                );

                for &size in &self.args.sizes {
                    rows.push(self.measure(forwarder, &self.o7s_frame(size)?, &mode, &threads)?);
                }
                let counters = dp.counters();
                drop(napi);
                dp.stop();
                if !ports.is_empty() {
                    self.notes.push(format!(
                        "ours: ports as the dataplane opened them: {}",
                        ports.join("; ")
                    ));
                }
                self.notes
                    .push(format!("ours: dataplane counters over the whole run: {counters}"));
            }
            Forwarder::Kernel => {
                let _forwarding = KernelForwarding::enable(self.lab)?;
                let _rps = Rps::steer(&self.lab.router, "r0", self.cores[1].id)?;
                let mode = format!("Linux IPv4 forwarding, RPS r0 -> core {}", self.cores[1].id);
                for &size in &self.args.sizes {
                    rows.push(self.measure(forwarder, &self.ipv4_frame(size)?, &mode, &[])?);
                }
            }
            Forwarder::XdpRedirect => {
                // s0 always runs a program while frames flow (xdp_count, or
                // o7s_steer for latency), which is what veth needs to accept
                // redirected frames: xdp_pass (PassProgram) would only be in
                // their way.
                let fwd = self
                    .lab
                    .router
                    .enter(|| RedirectForwarder::attach("r0", "r1", AttachMode::Auto))??;
                let napi = self.place_r0_napi()?;
                let threads = napi_watch(napi.as_ref());
                let mode = format!(
                    "XDP_REDIRECT devmap r0 -> r1, XDP {}, {}",
                    fwd.mode(),
                    self.napi_words()
                );
                for &size in &self.args.sizes {
                    rows.push(self.measure(forwarder, &self.o7s_frame(size)?, &mode, &threads)?);
                }
                drop(napi);
                drop(fwd);
            }
        }
        Ok(rows)
    }

    /// The static router: two N-1 flows (to-gen on r0, to-sink on r1) and
    /// one route, the sink's address via to-sink.
    fn router_config(&self) -> Result<RouterConfig> {
        let text = format!(
            r#"
            address = {router}
            core = 1
            fast_path = true
            [pool]
            buffers = 16384
            [[port]]
            name = "r0"
            backend = "af_xdp"
            [[port]]
            name = "r1"
            backend = "af_xdp"
            [[flow]]
            name = "to-gen"
            port = "r0"
            peer_mac = "{g0}"
            rx_eid = {GEN_SHIM_EID}
            tx_eid = {GEN_SHIM_EID}
            [[flow]]
            name = "to-sink"
            port = "r1"
            peer_mac = "{s0}"
            rx_eid = {SINK_SHIM_EID}
            tx_eid = {SINK_SHIM_EID}
            [[route]]
            dst = {sink}
            via = ["to-sink"]
            "#,
            router = topology::ROUTER_ADDR,
            sink = topology::SINK_ADDR,
            g0 = self.lab.g0,
            s0 = self.lab.s0,
        );
        Ok(RouterConfig::parse(&text)?)
    }
}

/// The NAPI thread, as a thread to watch.
fn napi_watch(napi: Option<&ThreadedNapi<'_>>) -> Vec<(String, String)> {
    napi.map(|n| vec![("r0 NAPI thread".to_owned(), n.stat_path())])
        .unwrap_or_default()
}

fn threads_json(threads: &[(String, Option<f64>)]) -> String {
    let fields: Vec<String> = threads
        .iter()
        .map(|(label, share)| format!("{}:{}", json_str(label), json_num(*share, 3)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn thread_words(threads: &[(String, Option<f64>)]) -> String {
    threads
        .iter()
        .map(|(label, share)| format!("{label} {}", percent(*share)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn percent(share: Option<f64>) -> String {
    share.map_or("-".into(), |s| format!("{:.0}%", s * 100.0))
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "null".into(),
    }
}

/// The table, the notes, and the one line of JSON.
/// A row's name in the table: the forwarder, and its round when there
/// are several.
fn label(args: &Args, r: &Row) -> String {
    if args.rounds > 1 {
        format!("{} #{}", r.forwarder.name(), r.round)
    } else {
        r.forwarder.name().to_owned()
    }
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

fn report(
    args: &Args,
    cores: [core_affinity::CoreId; 2],
    background: [Option<f64>; 2],
    ceilings: &[(usize, Window)],
    rows: &[Row],
    notes: &[String],
) {
    println!();
    println!(
        "{:<13} {:>6} {:>8} {:>7} {:>9} {:>9} {:>9} {:>11} {:>11}  backend and mode",
        "forwarder",
        "frame",
        "Mpps",
        "Gbit/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        format!("CPU core{}", cores[0].id),
        format!("CPU core{}", cores[1].id),
    );
    for r in rows {
        let lat = |f: fn(&Latency) -> f64| r.latency.as_ref().map_or("-".into(), |l| format!("{:.1}", f(l)));
        println!(
            "{:<13} {:>4} B {:>8.3} {:>7.2} {:>9} {:>9} {:>9} {:>11} {:>11}  {}",
            label(args, r),
            r.size,
            r.window.pps() / 1e6,
            r.window.gbps(),
            lat(|l| l.p50),
            lat(|l| l.p99),
            lat(|l| l.p999),
            percent(r.window.cpu[0]),
            percent(r.window.cpu[1]),
            r.mode
        );
    }
    println!();
    println!("Notes:");
    for (size, w) in ceilings {
        println!(
            "- generator ceiling {size} B: {:.3} Mpps ({:.2} Gbit/s), measured in this run with xdp_count on r0 \
             (router out of the path); CPU core {} {}, core {} {}",
            w.pps() / 1e6,
            w.gbps(),
            cores[0].id,
            percent(w.cpu[0]),
            cores[1].id,
            percent(w.cpu[1])
        );
    }
    for r in rows {
        if let Some((_, c)) = ceilings.iter().find(|(s, _)| *s == r.size) {
            let share = r.window.pps() / c.pps();
            if share > 0.9 {
                println!(
                    "- {} {} B reached {:.0}% of the generator ceiling: the generator, not the forwarder, may bound it",
                    label(args, r),
                    r.size,
                    share * 100.0
                );
            }
        }
    }
    for r in rows
        .iter()
        .filter(|r| !r.window.threads.is_empty() || !r.window.drops.is_empty())
    {
        println!(
            "- {} {} B: {}{}{}",
            label(args, r),
            r.size,
            if r.window.threads.is_empty() {
                String::new()
            } else {
                format!("core {}: {}", cores[1].id, thread_words(&r.window.threads))
            },
            if r.window.threads.is_empty() || r.window.drops.is_empty() {
                ""
            } else {
                "; "
            },
            if r.window.drops.is_empty() {
                String::new()
            } else {
                format!("veth drops over the run (warm-up included): {}", r.window.drops)
            }
        );
    }
    println!(
        "- placement: generator pinned to core {g}, everything the router does on core {r}: ours' worker (config \
         core = 1); the kernel's forwarding through RPS on r0 (chosen so that receive processing leaves the \
         generator's core: without it veth runs it in the sender's softirq, on core {g}); r0's NAPI for the XDP \
         forwarders and the ceiling {napi}. The sinks run in s0's NAPI on the core that transmits into r1, so \
         their cost lands on the router's core for every forwarder (more for skb-borne frames, ours and kernel, \
         which veth copies into a page for XDP, than for xdp_redirect's XDP frames).",
        g = cores[0].id,
        r = cores[1].id,
        napi = match args.r0_napi {
            NapiPlacement::RouterCore => format!(
                "in a threaded NAPI kernel thread pinned to core {} (--r0-napi sender: in the generator's softirq)",
                cores[1].id
            ),
            NapiPlacement::Sender => format!(
                "in the softirq of the sending core, {} (veth's default; --r0-napi router-core moves it)",
                cores[0].id
            ),
        }
    );
    println!(
        "- Mpps and Gbit/s are frames counted by xdp_count on s0 over {} s after {} s warm-up; Gbit/s counts frame \
         octets without FCS, preamble or gap. Latency: one-way, generator stamp to sink read, same clock, at {} \
         pps, frames of the first {} ms not counted.",
        args.duration,
        args.warmup,
        args.latency_rate,
        LATENCY_WARMUP.as_millis()
    );
    println!(
        "- background load in the second before the run (the CPU figures are the whole machine's): core {} {}, \
         core {} {}",
        cores[0].id,
        percent(background[0]),
        cores[1].id,
        percent(background[1])
    );
    for n in notes {
        println!("- {n}");
    }
    // Headline figures: medians over the rounds at 64 B.
    let pps = |f: Forwarder| {
        median(
            rows.iter()
                .filter(|r| r.forwarder == f && r.size == 64)
                .map(|r| r.window.pps()),
        )
    };
    let p99 = |f: Forwarder| {
        median(
            rows.iter()
                .filter(|r| r.forwarder == f && r.size == 64)
                .filter_map(|r| r.latency.map(|l| l.p99)),
        )
    };
    if args.rounds > 1 {
        let per_round = |a: Forwarder, b: Forwarder| -> String {
            (1..=args.rounds)
                .filter_map(|round| {
                    let at = |f: Forwarder| {
                        rows.iter()
                            .find(|r| r.round == round && r.forwarder == f && r.size == 64)
                            .map(|r| r.window.pps())
                    };
                    at(a).zip(at(b)).map(|(x, y)| format!("{:.2}", x / y))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "- per round at 64 B: ours/kernel {}; ours/xdp_redirect {}; the targets below use medians over {} rounds",
            per_round(Forwarder::Ours, Forwarder::Kernel),
            per_round(Forwarder::Ours, Forwarder::XdpRedirect),
            args.rounds
        );
    }
    let (ours, kernel, xdp) = (
        pps(Forwarder::Ours),
        pps(Forwarder::Kernel),
        pps(Forwarder::XdpRedirect),
    );
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).filter(|(_, b)| *b > 0.0).map(|(a, b)| a / b);
    let vs_kernel = ratio(ours, kernel);
    let vs_xdp = ratio(ours, xdp);
    let p99_ok = p99(Forwarder::Ours).zip(p99(Forwarder::Kernel)).map(|(o, k)| o <= k);
    if ours.is_some() {
        let met = |ok: Option<bool>| match ok {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "not measured",
        };
        println!(
            "- targets at 64 B: ours/kernel {}x (>= 2x: {}); ours/xdp_redirect {}x (>= 0.8x: {}); ours p99 {} us vs \
             kernel {} us (no worse: {})",
            json_num(vs_kernel, 2),
            met(vs_kernel.map(|r| r >= 2.0)),
            json_num(vs_xdp, 2),
            met(vs_xdp.map(|r| r >= 0.8)),
            json_num(p99(Forwarder::Ours), 1),
            json_num(p99(Forwarder::Kernel), 1),
            met(p99_ok)
        );
    }

    let ceiling_json: Vec<String> = ceilings
        .iter()
        .map(|(size, w)| {
            format!(
                "{{\"size\":{size},\"pps\":{:.0},\"gbps\":{:.3},\"offered_pps\":{:.0},\"cpu_gen\":{},\
                 \"cpu_router\":{},\"router_core_threads\":{}}}",
                w.pps(),
                w.gbps(),
                w.offered_pps(),
                json_num(w.cpu[0], 3),
                json_num(w.cpu[1], 3),
                threads_json(&w.threads)
            )
        })
        .collect();
    let rows_json: Vec<String> = rows
        .iter()
        .map(|r| {
            let l = r.latency;
            format!(
                "{{\"round\":{},\"forwarder\":\"{}\",\"size\":{},\"pps\":{:.0},\"gbps\":{:.3},\"offered_pps\":{:.0},\
                 \"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"latency_samples\":{},\
                 \"cpu_gen\":{},\"cpu_router\":{},\"router_core_threads\":{},\"veth_drops\":{},\"mode\":{}}}",
                r.round,
                r.forwarder.name(),
                r.size,
                r.window.pps(),
                r.window.gbps(),
                r.window.offered_pps(),
                json_num(l.map(|l| l.p50), 2),
                json_num(l.map(|l| l.p99), 2),
                json_num(l.map(|l| l.p999), 2),
                json_num(l.map(|l| l.max), 2),
                l.map_or(0, |l| l.samples),
                json_num(r.window.cpu[0], 3),
                json_num(r.window.cpu[1], 3),
                threads_json(&r.window.threads),
                json_str(&r.window.drops),
                json_str(&r.mode)
            )
        })
        .collect();
    println!(
        "{{\"bench\":\"fwd\",\"rounds\":{},\"duration_s\":{},\"warmup_s\":{},\"latency_rate_pps\":{},\"batch\":{},\
         \"cores\":{{\"generator\":{},\"router\":{}}},\"background_cpu\":[{},{}],\"r0_napi\":\"{}\",\"ceiling\":[{}],\"results\":[{}],\
         \"ours_pps\":{},\"kernel_pps\":{},\"xdp_redirect_pps\":{},\"ours_vs_kernel\":{},\"ours_vs_xdp_redirect\":{},\
         \"ours_p99_us\":{},\"kernel_p99_us\":{}}}",
        args.rounds,
        args.duration,
        args.warmup,
        args.latency_rate,
        args.batch,
        cores[0].id,
        cores[1].id,
        json_num(background[0], 3),
        json_num(background[1], 3),
        match args.r0_napi {
            NapiPlacement::RouterCore => "router-core",
            NapiPlacement::Sender => "sender",
        },
        ceiling_json.join(","),
        rows_json.join(","),
        json_num(ours, 0),
        json_num(kernel, 0),
        json_num(xdp, 0),
        json_num(vs_kernel, 3),
        json_num(vs_xdp, 3),
        json_num(p99(Forwarder::Ours), 2),
        json_num(p99(Forwarder::Kernel), 2),
    );
}
