//! `o7s-dataplane`: the forwarding engine as a static router, from a TOML
//! file (see `o7s_dataplane::config`), without irmd.
//!
//! Runs until SIGINT or SIGTERM, logging counters every `--stats` seconds,
//! and prints the final counters as one line of JSON on exit: the workers'
//! (rx, tx, forwarded, delivered, punted, drops by reason) with what the
//! ports counted beneath them (the XDP fast path's `fast_forwarded`,
//! `passed_to_kernel`, their drops, and the kernel's losses by backend).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use o7s_dataplane::backend;
use o7s_dataplane::config::RouterConfig;
use o7s_seam::counters::{DropReason, KernelLoss, Snapshot};

#[derive(Parser)]
#[command(
    name = "o7s-dataplane",
    version,
    about = "The o7s forwarding engine as a static router, configured by a TOML file"
)]
struct Cli {
    /// Router configuration (TOML): address, ports, N-1 flows, routes.
    #[arg(long, short)]
    config: PathBuf,
    /// Seconds between counter logs (0: none).
    #[arg(long, default_value_t = 5)]
    stats: u64,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    duration: Option<u64>,
}

fn json(c: &Snapshot) -> String {
    let drops: Vec<String> = DropReason::ALL
        .iter()
        .map(|r| format!("\"{}\":{}", r, c.dropped(*r)))
        .collect();
    let kernel: Vec<String> = KernelLoss::ALL
        .iter()
        .map(|l| format!("\"{}\":{}", l, c.lost(*l)))
        .collect();
    format!(
        "{{\"rx_packets\":{},\"rx_bytes\":{},\"tx_packets\":{},\"tx_bytes\":{},\"forwarded\":{},\"fast_forwarded\":{},\"delivered\":{},\"punted\":{},\"passed_to_kernel\":{},\"drops\":{{{}}},\"kernel\":{{{}}}}}",
        c.rx_packets,
        c.rx_bytes,
        c.tx_packets,
        c.tx_bytes,
        c.forwarded,
        c.fast_forwarded,
        c.delivered,
        c.punted,
        c.passed_to_kernel,
        drops.join(","),
        kernel.join(",")
    )
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = match RouterConfig::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("o7s-dataplane: {}: {e}", cli.config.display());
            return ExitCode::from(2);
        }
    };
    let dp = match backend::start_router(&config) {
        Ok(dp) => dp,
        Err(e) => {
            eprintln!("o7s-dataplane: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("o7s-dataplane: cannot handle signal {sig}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let start = Instant::now();
    let mut last_log = Instant::now();
    let mut last = Snapshot::default();
    while !stop.load(Ordering::Relaxed) && cli.duration.is_none_or(|d| start.elapsed() < Duration::from_secs(d)) {
        std::thread::sleep(Duration::from_millis(100));
        if cli.stats > 0 && last_log.elapsed() >= Duration::from_secs(cli.stats) {
            let now = dp.counters();
            let secs = last_log.elapsed().as_secs_f64();
            tracing::info!(
                rx_pps = ((now.rx_packets - last.rx_packets) as f64 / secs) as u64,
                fwd_pps = ((now.forwarded - last.forwarded) as f64 / secs) as u64,
                drops = now.total_drops(),
                "{now}"
            );
            last = now;
            last_log = Instant::now();
        }
    }
    let counters = dp.counters();
    dp.stop();
    println!("{}", json(&counters));
    ExitCode::SUCCESS
}
