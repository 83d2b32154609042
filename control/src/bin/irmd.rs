//! irmd: the o7s IPC Resource Manager daemon.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use o7s_control::irmd::{self, Options};

/// The o7s IPC Resource Manager daemon: names, flows, IPCPs and the shared
/// packet pool of this system.
#[derive(Debug, Parser)]
#[command(name = "irmd", version)]
struct Args {
    /// Runtime directory for the socket (irmd.sock); every o7s program
    /// finds irmd through O7S_RUNDIR, which defaults to /run/o7s.
    #[arg(long, env = "O7S_RUNDIR", default_value = o7s_app::rundir::DEFAULT)]
    rundir: PathBuf,
    /// TOML configuration file applied at start (names, programs, IPCPs).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log to stdout instead of stderr (as the C irmd's --stdout).
    #[arg(long)]
    stdout: bool,
    /// Packet buffers in the shared pool (2 KiB each).
    #[arg(long, default_value_t = 16384, value_parser = clap::value_parser!(u32).range(64..=(1 << 24)))]
    buffers: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // Colours only for a terminal: logs written to a file stay plain text.
    if args.stdout {
        let ansi = std::io::stdout().is_terminal();
        builder.with_ansi(ansi).with_writer(std::io::stdout).init();
    } else {
        let ansi = std::io::stderr().is_terminal();
        builder.with_ansi(ansi).with_writer(std::io::stderr).init();
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            tracing::error!(error = %e, "cannot handle signal {signal}");
            return ExitCode::FAILURE;
        }
    }
    let mut options = Options::new(args.rundir);
    options.config = args.config;
    options.pool.count = args.buffers;
    match irmd::run(&options, &stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("irmd: {e}");
            ExitCode::FAILURE
        }
    }
}
