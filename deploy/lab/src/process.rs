//! Processes in a lab: every command runs inside a system's namespace
//! (`ip netns exec`), with the system's `O7S_RUNDIR` and the lab's `PATH`,
//! as the leader of a process group of its own, so that a step and
//! whatever it started are stopped together, and a Ctrl-C at the terminal
//! reaches o7s-lab (which tears down in order) and not the lab's processes.
//!
//! | what | here |
//! |---|---|
//! | a command on a system | [`SystemEnv::shell`], [`SystemEnv::command`] |
//! | a running process group, killed when dropped | [`Group`] |
//! | its output, line by line, kept and shown live | [`Captured`] |
//! | a system's irmd, and waiting until it answers | [`start_irmd`], [`wait_ready`] |

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use o7s_netns::{KillOnDrop, signal_group};

use crate::expect::Outcome;
use crate::report::{Report, Stream};

/// What a command on one system runs with.
#[derive(Debug, Clone)]
pub struct SystemEnv {
    /// The system's name.
    pub system: String,
    /// Its namespace.
    pub netns: String,
    /// Its runtime directory.
    pub rundir: PathBuf,
    /// `PATH`, the lab's programs first.
    pub path: OsString,
    /// The lab instance.
    pub instance: String,
}

impl SystemEnv {
    /// `program` inside the system's namespace, with its environment.
    pub fn command(&self, program: impl Into<OsString>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns])
            .arg(program.into())
            .env("O7S_RUNDIR", &self.rundir)
            .env("PATH", &self.path)
            .env("O7S_LAB_SYSTEM", &self.system)
            .env("O7S_LAB_INSTANCE", &self.instance);
        cmd
    }

    /// A shell command line on the system, its output piped.
    pub fn shell(&self, line: &str) -> Command {
        let mut cmd = self.command("sh");
        cmd.args(["-c", line])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

/// A process group led by a child of ours: signalled as one, killed
/// (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct Group {
    child: Option<KillOnDrop>,
}

impl Group {
    /// Starts `cmd` as the leader of a new process group.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<Group> {
        let child = KillOnDrop::spawn(cmd.process_group(0))?;
        Ok(Group { child: Some(child) })
    }

    /// The leader's pid, which is the group's id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, KillOnDrop::id)
    }

    /// The leader.
    pub fn child(&mut self) -> Option<&mut Child> {
        self.child.as_mut().map(|c| &mut c.0)
    }

    /// The leader's exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child()?.try_wait().ok().flatten()
    }

    /// SIGTERM to the group, SIGKILL after `grace`; the leader's status.
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        let pgid = self.id();
        if let Some(status) = self.try_wait() {
            signal_group(pgid, libc_sig::KILL);
            return Some(status);
        }
        signal_group(pgid, libc_sig::TERM);
        let deadline = Instant::now() + grace;
        let status = loop {
            if let Some(status) = self.try_wait() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                signal_group(pgid, libc_sig::KILL);
                break self.child().and_then(|c| c.wait().ok());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // What the leader left behind in its group goes too.
        signal_group(pgid, libc_sig::KILL);
        status
    }

    /// Leaves the process running when this handle goes (`o7s-lab up`).
    pub fn release(mut self) {
        if let Some(child) = self.child.take() {
            std::mem::forget(child);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.child.is_some() {
            signal_group(self.id(), libc_sig::KILL);
        }
    }
}

/// Signal numbers, named.
pub mod libc_sig {
    /// SIGTERM.
    pub const TERM: i32 = signal_hook::consts::SIGTERM;
    /// SIGKILL.
    pub const KILL: i32 = signal_hook::consts::SIGKILL;
}

/// At most this much of a stream is kept (the rest is still shown live).
const KEEP: usize = 4 << 20;

/// A child's standard output and error, read line by line on two threads,
/// kept, and shown as they come when asked.
#[derive(Debug)]
pub struct Captured {
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    done: mpsc::Receiver<()>,
}

/// A child's output stream.
type Pipe = Box<dyn Read + Send>;
/// What is kept of one.
type Kept = Arc<Mutex<String>>;

/// Where live output goes: the report, and the prefix's system and step.
pub type Live = Option<(Arc<dyn Report>, String, String)>;

impl Captured {
    /// Starts reading `child`'s piped streams.
    pub fn start(child: &mut Child, live: Live) -> Captured {
        let (tx, done) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let streams: [(Option<Pipe>, Stream, &Kept); 2] = [
            (
                child.stdout.take().map(|s| Box::new(s) as Pipe),
                Stream::Stdout,
                &stdout,
            ),
            (
                child.stderr.take().map(|s| Box::new(s) as Pipe),
                Stream::Stderr,
                &stderr,
            ),
        ];
        for (pipe, stream, keep) in streams {
            let Some(pipe) = pipe else {
                let _ = tx.send(());
                continue;
            };
            let (tx, keep, live) = (tx.clone(), Arc::clone(keep), live.clone());
            std::thread::spawn(move || {
                read_lines(pipe, stream, &keep, live.as_ref());
                let _ = tx.send(());
            });
        }
        Captured { stdout, stderr, done }
    }

    /// Waits up to `timeout` for both streams to end (a process that
    /// escaped its group may hold them open) and returns what was kept.
    pub fn finish(self, timeout: Duration) -> (String, String) {
        let deadline = Instant::now() + timeout;
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.done.recv_timeout(left).is_err() {
                break;
            }
        }
        let take = |m: &Mutex<String>| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        (take(&self.stdout), take(&self.stderr))
    }
}

fn read_lines(
    pipe: Box<dyn Read + Send>,
    stream: Stream,
    keep: &Mutex<String>,
    live: Option<&(Arc<dyn Report>, String, String)>,
) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        if let Some((report, system, step)) = live {
            report.output(system, step, stream, line);
        }
        let mut kept = keep.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() < KEEP {
            kept.push_str(line);
            kept.push('\n');
        }
    }
}

/// How waiting for a process ended.
#[derive(Debug)]
pub enum Waited {
    /// It exited.
    Exited(ExitStatus),
    /// Its time was up.
    TimedOut,
    /// A signal asked o7s-lab to stop.
    Stopped,
}

/// Waits for `group`'s leader to exit, until `deadline` or `stop`.
pub fn wait(group: &mut Group, deadline: Instant, stop: &AtomicBool) -> Waited {
    loop {
        if let Some(status) = group.try_wait() {
            return Waited::Exited(status);
        }
        if stop.load(Ordering::Relaxed) {
            return Waited::Stopped;
        }
        if Instant::now() >= deadline {
            return Waited::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An [`Outcome`] from an exit status and the output.
pub fn outcome(status: Option<ExitStatus>, timed_out: bool, (stdout, stderr): (String, String)) -> Outcome {
    Outcome {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        timed_out,
        stdout,
        stderr,
    }
}

/// Starts irmd on a system: its runtime directory, `config` if any,
/// `args`, logging (`RUST_LOG` from the environment, else `info`) to
/// `log`.
pub fn start_irmd(
    env: &SystemEnv,
    irmd: &Path,
    config: Option<&Path>,
    args: &[String],
    log: &Path,
) -> std::io::Result<Group> {
    let file = std::fs::File::create(log)?;
    let mut cmd = env.command(irmd);
    cmd.arg("--rundir").arg(&env.rundir);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.args(args)
        .env(
            "RUST_LOG",
            std::env::var_os("RUST_LOG").unwrap_or_else(|| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    Group::spawn(&mut cmd)
}

/// Waits until irmd answers on its socket; an error says why not (it
/// exited, or did not answer in `timeout`).
pub fn wait_ready(irmd: &mut Group, rundir: &Path, timeout: Duration, stop: &AtomicBool) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if o7s_app::Admin::connect(rundir).is_ok() {
            return Ok(());
        }
        if let Some(status) = irmd.try_wait() {
            return Err(format!("irmd exited ({status}) before it answered"));
        }
        if stop.load(Ordering::Relaxed) {
            return Err("interrupted".to_owned());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "irmd did not answer on {} within {timeout:?}",
                rundir.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last `n` lines of a log file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether process `pid` exists.
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
