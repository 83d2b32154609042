//! o7s-lab: brings up labs of o7s systems (network namespaces, each with
//! its own irmd, joined by veth links) and runs scenarios across them.

use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{Parser, Subcommand};
use o7s_lab::bins::Bins;
use o7s_lab::report::Console;
use o7s_lab::{LabError, Options, Topology, lab, state};

/// Labs of o7s systems on one host: each system is a network namespace
/// with its own irmd and runtime directory, links are veth pairs (with
/// optional netem delay, loss, reordering, rate), and a scenario runs
/// commands on the systems and checks their output. Needs root.
///
/// The lab file format is in deploy/README.md; the labs of the project
/// are deploy/labs/*.toml.
#[derive(Debug, Parser)]
#[command(name = "o7s-lab", version, after_help = EXAMPLES)]
struct Args {
    /// Where irmd, irm, oping and the other o7s programs are [default: the
    /// directory of o7s-lab itself, then PATH]. Steps run with it first in
    /// their PATH.
    #[arg(long, global = true, value_name = "DIR", env = "O7S_LAB_BIN_DIR")]
    bin_dir: Option<PathBuf>,
    /// More of o7s-lab's own log on stderr (-v: info, -vv: debug); the
    /// O7S_LAB_LOG filter overrides it. irmd logs with RUST_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Cmd,
}

const EXAMPLES: &str = "Examples:
  o7s-lab run deploy/labs/local-pair.toml       bring up, run the scenario, tear down
  o7s-lab up deploy/labs/local-pair.toml        bring up and leave it up
  o7s-lab exec deploy/labs/local-pair.toml a -- irm ipcp list
  o7s-lab exec deploy/labs/local-pair.toml a -- ping -c 1 '${link.ab.b.ipv4}'
  o7s-lab status deploy/labs/local-pair.toml
  o7s-lab down deploy/labs/local-pair.toml
  o7s-lab cleanup                               remove what crashed runs left behind";

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Bring the lab up, run its steps (each one's output prefixed by its
    /// system and step), tear everything down, also on a failed step or
    /// Ctrl-C. Exits 1 when a step failed, 130 when interrupted.
    Run {
        /// The lab file.
        file: PathBuf,
        /// The instance's name [default: <lab name>-<pid>, so the same lab
        /// may run twice at once].
        #[arg(long)]
        instance: Option<String>,
    },
    /// Bring the lab up (namespaces, links, an irmd per system, the
    /// systems' setup) and leave it up for `exec`, `status` and `down`.
    /// The steps are not run.
    Up {
        /// The lab file.
        file: PathBuf,
        /// The instance's name [default: the lab's name].
        #[arg(long)]
        instance: Option<String>,
    },
    /// Run a command on a system of a lab that is up: in its namespace,
    /// with its O7S_RUNDIR and the lab's PATH. Placeholders such as
    /// ${link.ab.b.ipv4} in the arguments are replaced (quote them from the
    /// shell). Exits with the command's status.
    Exec {
        /// The lab file.
        file: PathBuf,
        /// The system.
        system: String,
        /// The command and its arguments.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
        /// The instance's name [default: the lab's name].
        #[arg(long)]
        instance: Option<String>,
    },
    /// Tear down a lab brought up with `up`: irmds and every process in
    /// its namespaces stopped, namespaces (and veths) and runtime
    /// directories removed.
    Down {
        /// The lab file.
        file: PathBuf,
        /// The instance's name [default: the lab's name].
        #[arg(long)]
        instance: Option<String>,
    },
    /// Show a lab instance: its systems (namespace, irmd, runtime directory,
    /// log) and links. Without a file, list every instance on this host.
    Status {
        /// The lab file.
        file: Option<PathBuf>,
        /// The instance's name [default: the lab's name].
        #[arg(long)]
        instance: Option<String>,
    },
    /// Remove what crashed or killed o7s-lab runs left behind: their
    /// processes, namespaces, veths, runtime directories and records
    /// (found in /run/o7s-lab and by the namespace prefix `o7l-`). Labs
    /// that a live o7s-lab holds are kept, and so are labs left `up`
    /// unless --all.
    Cleanup {
        /// Also tear down labs brought `up` and not yet `down`.
        #[arg(long)]
        all: bool,
    },
    /// Check a lab file and print what it describes; needs no root.
    Check {
        /// The lab file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let default = match args.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("O7S_LAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let mut options = Options::new(Arc::new(Console));
    if let Some(dir) = &args.bin_dir {
        options.bins = Bins::in_dir(Some(dir.clone()));
    }
    match command(args.command, options) {
        Ok(code) => code,
        Err(LabError::Interrupted) => {
            eprintln!("o7s-lab: interrupted; the lab was torn down");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("o7s-lab: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Makes SIGINT, SIGTERM and SIGHUP set the stop flag (the lab is torn
/// down); a second one ends o7s-lab at once (`o7s-lab cleanup` then
/// removes what is left).
fn handle_signals(stop: &Arc<AtomicBool>) -> Result<(), LabError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(stop)))
            .map_err(|source| LabError::Io {
                what: format!("handling signal {signal}"),
                source,
            })?;
    }
    Ok(())
}

fn load(file: &Path) -> Result<Topology, LabError> {
    Ok(Topology::load(file)?)
}

fn instance_of(file: &Path, instance: Option<String>) -> Result<String, LabError> {
    match instance {
        Some(i) => Ok(i),
        None => Ok(load(file)?.name),
    }
}

fn command(cmd: Cmd, mut options: Options) -> Result<ExitCode, LabError> {
    match cmd {
        Cmd::Run { file, instance } => {
            let topology = load(&file)?;
            handle_signals(&options.stop)?;
            options.instance = instance;
            let steps = topology.steps.len();
            lab::run(topology, &file, options)?;
            println!("o7s-lab: all {steps} steps passed");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Up { file, instance } => {
            let topology = load(&file)?;
            handle_signals(&options.stop)?;
            options.instance = instance;
            let lab = o7s_lab::Lab::up(topology, &file, options)?;
            let name = lab.detach()?;
            println!(
                "o7s-lab: instance {name} is up; o7s-lab exec {} <system> -- <command>, then o7s-lab down {}",
                file.display(),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Exec {
            file,
            system,
            command,
            instance,
        } => {
            let topology = load(&file)?;
            let name = instance.unwrap_or_else(|| topology.name.clone());
            let state = state::read(&options.state_dir, &name)?;
            let s = state
                .system(&system)
                .ok_or_else(|| LabError::NoSystem(system.clone()))?;
            let bins = match &state.bin_dir {
                Some(dir) if options.bins.dir().is_none() => Bins::in_dir(Some(dir.clone())),
                _ => options.bins.clone(),
            };
            let words = command
                .iter()
                .map(|w| topology.expand(w, &state))
                .collect::<Result<Vec<_>, _>>()
                .map_err(LabError::Placeholder)?;
            let (program, rest) = words.split_first().ok_or(LabError::NoSystem(system))?;
            let error = lab::system_env(&state, s, &bins).command(program).args(rest).exec();
            Err(LabError::Io {
                what: format!("running {program}"),
                source: error,
            })
        }
        Cmd::Down { file, instance } => {
            let name = instance_of(&file, instance)?;
            lab::down(&name, &options)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Status { file, instance } => {
            let names = match (file, instance) {
                (_, Some(i)) => vec![i],
                (Some(f), None) => vec![load(&f)?.name],
                (None, None) => state::list(&options.state_dir)
                    .into_iter()
                    .filter(|n| !n.starts_with('.'))
                    .collect(),
            };
            if names.is_empty() {
                println!("no lab instances in {}", options.state_dir.display());
            }
            for name in names {
                print!("{}", lab::status(&name, &options)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Cleanup { all } => {
            let removed = lab::cleanup(&options, all)?;
            if removed.is_empty() {
                println!("o7s-lab: nothing to clean up");
            }
            for line in removed {
                println!("removed {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { file } => {
            let t = load(&file)?;
            println!(
                "lab {}: {} systems, {} links, {} steps",
                t.name,
                t.systems.len(),
                t.links.len(),
                t.steps.len()
            );
            if let Some(d) = &t.description {
                println!("  {d}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
