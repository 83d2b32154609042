//! irmd: the o7s IPC Resource Manager daemon.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use o7s_control::irmd::{self, Options};
use o7s_dataplane::worker::Idle;

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
    /// Group (name or gid) whose members may manage irmd as its owner does:
    /// bootstrap, destroy, bind, register, enrol. Without it, only irmd's
    /// own user (and root) may.
    #[arg(long, value_name = "GROUP")]
    operators: Option<String>,
    /// Group (name or gid) whose members may run applications (allocate
    /// and accept flows) and list IPCPs and names, but not manage irmd.
    /// The runtime directory and socket get this group (else the operators
    /// group); give operators both groups.
    #[arg(long, value_name = "GROUP")]
    users: Option<String>,
    /// Connections irmd serves at once (each process holds one).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Connections one user may hold at once.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections_per_user: u32,
    /// Flows one process may hold at once (each costs two rings); 0: no cap.
    #[arg(long, default_value_t = 4096)]
    max_flows_per_process: u32,
    /// Cores the dataplane worker may run on, by index in this process's
    /// core list (comma-separated, e.g. `1` or `2,3`); without it the
    /// worker is not pinned. The log says where it runs.
    #[arg(long, value_delimiter = ',', value_name = "CORE,...")]
    cores: Vec<usize>,
    /// How long the dataplane worker polls without traffic before it
    /// sleeps until a frame or an application wakes it: a duration
    /// (`50us`, `5ms`), or `busy` to poll without pause (lowest latency, a
    /// whole core always busy: give it its own with --cores).
    #[arg(long, value_name = "DURATION|busy", default_value = "50us", value_parser = parse_spin)]
    spin: Idle,
}

fn parse_spin(text: &str) -> Result<Idle, String> {
    if text == "busy" {
        return Ok(Idle::Busy);
    }
    let spin = humantime::parse_duration(text).map_err(|e| format!("{e} (a duration such as 50us or 5ms, or busy)"))?;
    if spin > std::time::Duration::from_secs(1) {
        return Err(format!("{text} is longer than 1 s: use busy to never sleep"));
    }
    Ok(Idle::Spin(spin))
}

/// A group given by name or number, or an error naming it.
fn group(option: &str, value: Option<&str>) -> Result<Option<u32>, String> {
    value
        .map(|g| o7s_control::irmd::sys::group_id(g).map_err(|e| format!("--{option} {g}: {e}")))
        .transpose()
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
    options.limits.total = args.max_connections as usize;
    options.limits.per_user = args.max_connections_per_user as usize;
    options.flows_per_process = (args.max_flows_per_process > 0).then_some(args.max_flows_per_process as usize);
    options.cores = args.cores;
    options.idle = args.spin;
    match (
        group("operators", args.operators.as_deref()),
        group("users", args.users.as_deref()),
    ) {
        (Ok(operators), Ok(users)) => {
            options.access.operators = operators;
            options.access.users = users;
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("irmd: {e}");
            return ExitCode::FAILURE;
        }
    }
    match irmd::run(&options, &stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("irmd: {e}");
            ExitCode::FAILURE
        }
    }
}
