//! `o7s-bench rtt`: round-trip time of oping over o7s layers beside a
//! kernel UDP ping-pong over the same path, in one run, with the same
//! message size and count.
//!
//! ```text
//!  one process:  oping ──ring──► oping -l ──ring──► oping                        o7s local layer
//!                this process ──► 127.0.0.1 ──► udp-echo ──► this process        UDP over loopback
//!
//!  lab rtt-pair (bench/labs/rtt-pair.toml): two systems, each a namespace with its own irmd
//!     a 10.79.0.1 ════════ veth ab ════════ 10.79.0.2 b
//!     oping ─► a's worker ─eth-dix─► b's worker ─► oping -l (oping.eth)         o7s eth-dix
//!     oping ─► a's worker ──udp4───► b's worker ─► oping -l (oping.udp)         o7s udp4
//!     this process (socket in a) ──kernel UDP──► udp-echo in b                  UDP over veth
//! ```
//!
//! | pattern | oping | UDP pinger | count |
//! |---|---|---|---|
//! | ping-pong | `-f`: the next request when the reply came | send, wait for the reply, repeat | `--count` |
//! | paced | `-i 1ms`: one request a millisecond, as users run it | the same, sleeping until each one's time | `--paced-count` |
//! | flood | `-i 0`: as fast as the flow takes them | as fast as possible, at most 256 in flight | `--count` |
//!
//! The UDP flood keeps at most 256 in flight because the kernel drops what
//! overflows the echo's socket queue; a flow's ring holds 1024. The oping
//! figures are the percentiles oping itself prints (milliseconds with three
//! decimals: whole µs). The pair's kernel UDP runs on the bare veth, before
//! the eth-dix shim attaches its XDP program to it.
//!
//! | module | job |
//! |---|---|
//! | [`local`] | an irmd with the local layer and an oping server, in a runtime directory of its own |
//! | [`pair`] | the lab pair: up, the eth-dix layer, the oping server and the UDP echo in b |
//! | [`oping`] | one oping client run, read from its summary |
//! | [`udp`] | the UDP echo and the three patterns over a connected socket |

mod local;
mod oping;
mod pair;
mod udp;

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use udp::{EchoArgs, echo};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[derive(clap::Args)]
pub struct Args {
    /// Messages per ping-pong and per flood measurement.
    #[arg(long, default_value_t = 100_000)]
    count: u32,
    /// Messages per paced measurement (one every --paced-interval-ms).
    #[arg(long, default_value_t = 2000)]
    paced_count: u32,
    /// Milliseconds between two paced messages (oping's -i takes whole
    /// milliseconds).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    paced_interval_ms: u32,
    /// Message size in octets (64..=1500, as oping's -s).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(64..=1500))]
    size: u16,
    /// The transports to measure, comma-separated: local (oping over the
    /// local layer), loopback (kernel UDP over 127.0.0.1), eth-dix and udp4
    /// (oping between the lab's two systems over that layer), veth (kernel
    /// UDP between the two systems). eth-dix, udp4 and veth bring the lab
    /// pair up, which needs root.
    #[arg(long, value_delimiter = ',', default_values_t = Transport::ALL)]
    only: Vec<Transport>,
    /// The patterns to measure, comma-separated: ping-pong, paced, flood.
    #[arg(long, value_delimiter = ',', default_values_t = Pattern::ALL)]
    patterns: Vec<Pattern>,
    /// Longest one measurement may take, in seconds: a run still going
    /// then stops (oping with SIGINT) and reports what it received.
    #[arg(long, default_value_t = 30)]
    time_limit: u64,
    /// How long the workers of the irmds this benchmark starts poll
    /// without traffic before they sleep, as irmd's --spin (a duration such
    /// as 50us or 5ms, or busy) [default: irmd's own].
    #[arg(long, value_name = "DURATION|busy")]
    spin: Option<String>,
}

/// What carries the messages: a row's first column and its JSON key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// oping over the local layer.
    Local,
    /// Kernel UDP over 127.0.0.1.
    Loopback,
    /// oping across the lab pair over an eth-dix layer.
    EthDix,
    /// oping across the lab pair over a udp4 layer.
    Udp4,
    /// Kernel UDP across the lab pair's veth.
    Veth,
}

impl Transport {
    /// In the order they are measured.
    const ALL: [Transport; 5] = [
        Transport::Local,
        Transport::Loopback,
        Transport::Veth,
        Transport::Udp4,
        Transport::EthDix,
    ];

    fn label(self) -> &'static str {
        match self {
            Transport::Local => "o7s local layer (oping)",
            Transport::Loopback => "UDP over loopback",
            Transport::EthDix => "o7s eth-dix (oping)",
            Transport::Udp4 => "o7s udp4 (oping)",
            Transport::Veth => "UDP over veth",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Transport::Local => "oping_local",
            Transport::Loopback => "udp_loopback",
            Transport::EthDix => "oping_ethdix",
            Transport::Udp4 => "oping_udp4",
            Transport::Veth => "udp_veth",
        }
    }

    /// Runs between the lab's two systems.
    fn on_pair(self) -> bool {
        matches!(self, Transport::EthDix | Transport::Udp4 | Transport::Veth)
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        let value = self.to_possible_value().ok_or(std::fmt::Error)?;
        f.write_str(value.get_name())
    }
}

/// How messages are sent (see the module's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Pattern {
    /// One message in flight.
    PingPong,
    /// One message every --paced-interval-ms.
    Paced,
    /// As fast as possible.
    Flood,
}

impl Pattern {
    const ALL: [Pattern; 3] = [Pattern::PingPong, Pattern::Paced, Pattern::Flood];

    fn key(self) -> &'static str {
        match self {
            Pattern::PingPong => "pingpong",
            Pattern::Paced => "paced",
            Pattern::Flood => "flood",
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        let value = self.to_possible_value().ok_or(std::fmt::Error)?;
        f.write_str(value.get_name())
    }
}

/// What every measurement is given.
struct Bench<'a> {
    args: &'a Args,
    /// Set by the first Ctrl-C or SIGTERM.
    stop: Arc<AtomicBool>,
}

impl Bench<'_> {
    fn count(&self, pattern: Pattern) -> u32 {
        match pattern {
            Pattern::Paced => self.args.paced_count,
            Pattern::PingPong | Pattern::Flood => self.args.count,
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.args.paced_interval_ms))
    }

    fn size(&self) -> usize {
        usize::from(self.args.size)
    }

    fn time_limit(&self) -> Duration {
        Duration::from_secs(self.args.time_limit)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// An error once a signal asked to stop: what was set up is undone on
    /// the way out.
    fn check_stop(&self) -> Result<()> {
        if self.stopped() {
            return Err("interrupted; everything the run set up was removed".into());
        }
        Ok(())
    }

    fn patterns(&self) -> impl Iterator<Item = Pattern> + '_ {
        Pattern::ALL.into_iter().filter(|p| self.args.patterns.contains(p))
    }

    fn wants(&self, transport: Transport) -> bool {
        self.args.only.contains(&transport)
    }
}

/// One measured transport and pattern.
struct Row {
    transport: Transport,
    pattern: Pattern,
    /// Messages the run was to send.
    count: u32,
    received: u64,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
    avg_us: f64,
    /// Stopped by --time-limit.
    limited: bool,
}

impl Row {
    fn rate(&self) -> f64 {
        self.received as f64 / self.seconds
    }
}

pub fn run(args: &Args) -> Result<()> {
    if args.only.is_empty() || args.patterns.is_empty() {
        return Err("--only and --patterns must name at least one".into());
    }
    if args.count == 0 || args.paced_count == 0 || args.time_limit == 0 {
        return Err("--count, --paced-count and --time-limit must be positive".into());
    }
    let on_pair = Transport::ALL.iter().any(|t| t.on_pair() && args.only.contains(t));
    if on_pair {
        pair::check()?;
    }
    // First Ctrl-C or SIGTERM: stop at the next check and tear down (the
    // lab too); a second one exits at once (`o7s-lab cleanup` then removes
    // what is left).
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let bench = Bench { args, stop };
    eprintln!(
        "o7s-bench rtt: {} messages of {} octets per ping-pong and flood, {} paced every {} ms; \
         at most {} s each; {}",
        args.count,
        args.size,
        args.paced_count,
        args.paced_interval_ms,
        args.time_limit,
        Transport::ALL
            .iter()
            .filter(|t| bench.wants(**t))
            .map(|t| t.label())
            .collect::<Vec<_>>()
            .join(", then ")
    );
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if bench.wants(Transport::Local) {
        let local = local::Local::start(&bench)?;
        for pattern in bench.patterns() {
            rows.push(oping::measure(local.oping(), Transport::Local, pattern, &bench)?);
            bench.check_stop()?;
        }
    }
    if bench.wants(Transport::Loopback) {
        let (sock, _echo) = udp::loopback(&bench)?;
        for pattern in bench.patterns() {
            rows.push(udp::measure(&sock, Transport::Loopback, pattern, &bench)?);
            bench.check_stop()?;
        }
    }
    if on_pair {
        pair::measure(&bench, &mut rows, &mut notes)?;
    }
    print(&bench, &rows, &notes);
    Ok(())
}

fn print(bench: &Bench, rows: &[Row], notes: &[String]) {
    let args = bench.args;
    println!();
    println!(
        "{:<26} {:<10} {:>9} {:>10} {:>10} {:>10} {:>12}",
        "transport", "pattern", "received", "p50 µs", "p99 µs", "avg µs", "msgs/s"
    );
    for r in rows {
        println!(
            "{:<26} {:<10} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>12.0}",
            r.transport.label(),
            r.pattern.to_string(),
            r.received,
            r.p50_us,
            r.p99_us,
            r.avg_us,
            r.rate()
        );
    }
    println!();
    for note in notes {
        println!("{note}");
    }
    for r in rows.iter().filter(|r| r.limited) {
        println!(
            "{} {}: stopped by the {} s time limit after {} of {} messages",
            r.transport.label(),
            r.pattern,
            args.time_limit,
            r.received,
            r.count
        );
    }
    let find = |t: Transport, p: Pattern| rows.iter().find(|r| r.transport == t && r.pattern == p);
    for (o7s, kernel) in [
        (Transport::Local, Transport::Loopback),
        (Transport::EthDix, Transport::Veth),
        (Transport::Udp4, Transport::Veth),
    ] {
        for pattern in [Pattern::PingPong, Pattern::Paced] {
            if let (Some(o), Some(u)) = (find(o7s, pattern), find(kernel, pattern)) {
                println!(
                    "{pattern} p50: {} {:.1} µs vs {} {:.1} µs ({:.2}× UDP's); p99: {:.1} vs {:.1} µs",
                    o.transport.label(),
                    o.p50_us,
                    u.transport.label(),
                    u.p50_us,
                    o.p50_us / u.p50_us,
                    o.p99_us,
                    u.p99_us
                );
            }
        }
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            let key = format!("{}_{}", r.transport.key(), r.pattern.key());
            format!(
                "\"{key}_p50_us\":{},\"{key}_p99_us\":{},\"{key}_avg_us\":{},\"{key}_msgs_per_s\":{},\"{key}_received\":{}",
                number(r.p50_us, 2),
                number(r.p99_us, 2),
                number(r.avg_us, 2),
                number(r.rate(), 0),
                r.received
            )
        })
        .collect();
    println!(
        "{{\"bench\":\"rtt\",\"count\":{},\"size\":{},\"paced_count\":{},\"paced_interval_ms\":{},{}}}",
        args.count,
        args.size,
        args.paced_count,
        args.paced_interval_ms,
        json.join(",")
    );
}

/// A JSON number with `decimals`, or `null` for what JSON cannot hold (a
/// run that received nothing has no percentiles).
fn number(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "null".to_owned()
    }
}
