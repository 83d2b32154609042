//! An irmd of its own for each test: a fresh runtime directory, the daemon
//! started from this package's binary, stopped and cleaned up on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use o7s_app::Admin;
use o7s_netns::KillOnDrop;

pub struct Irmd {
    pub dir: PathBuf,
    pub log: PathBuf,
    proc: Option<KillOnDrop>,
}

impl Irmd {
    /// Starts irmd in a new runtime directory named after `test`.
    pub fn start(test: &str) -> Irmd {
        Irmd::start_with(test, &[])
    }

    /// As [`start`], with extra irmd arguments.
    pub fn start_with(test: &str, args: &[&str]) -> Irmd {
        Irmd::start_wrapped(test, args, &[])
    }

    /// As [`start_with`], run through `wrapper` (a command that ends by
    /// running the program and arguments that follow it) if given. The
    /// runtime directory is `rundir` in a directory of the test's; the
    /// log beside it.
    pub fn start_wrapped(test: &str, args: &[&str], wrapper: &[&str]) -> Irmd {
        let base = std::env::temp_dir().join(format!("o7s-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("test directory");
        let dir = base.join("rundir");
        let log = base.join("irmd.log");
        let logfile = std::fs::File::create(&log).expect("log file");
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(env!("CARGO_BIN_EXE_irmd"));
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_irmd")),
        };
        if !args.contains(&"--buffers") {
            cmd.args(["--buffers", "4096"]);
        }
        let proc = KillOnDrop::spawn(
            cmd.arg("--rundir")
                .arg(&dir)
                .args(args)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(logfile),
        )
        .expect("start irmd");
        let mut irmd = Irmd {
            dir,
            log,
            proc: Some(proc),
        };
        irmd.wait_ready();
        irmd
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Admin::connect(&self.dir).is_err() {
            if let Some(p) = self.proc.as_mut()
                && let Ok(Some(status)) = p.0.try_wait()
            {
                panic!("irmd exited with {status}:\n{}", self.log_text());
            }
            assert!(Instant::now() < deadline, "irmd did not start:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn admin(&self) -> Admin {
        Admin::connect(&self.dir).expect("admin connection")
    }

    /// Runs the irm binary with this runtime directory.
    pub fn irm(&self, args: &[&str]) -> Result<String, String> {
        outcome(
            Command::new(env!("CARGO_BIN_EXE_irm"))
                .args(args)
                .env("O7S_RUNDIR", &self.dir)
                .output()
                .expect("run irm"),
        )
    }

    /// `irm` that must succeed.
    pub fn irm_ok(&self, args: &[&str]) -> String {
        self.irm(args)
            .unwrap_or_else(|e| panic!("irm {}: {e}\nirmd log:\n{}", args.join(" "), self.log_text()))
    }

    /// A command running against this irmd.
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("O7S_RUNDIR", &self.dir);
        cmd
    }

    /// Stops irmd (SIGTERM) and returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        self.proc
            .take()
            .map(|mut p| p.terminate(Duration::from_secs(5)).is_ok_and(|s| s.success()))
            .unwrap_or(false)
    }
}

impl Drop for Irmd {
    fn drop(&mut self) {
        self.stop();
        if let Some(base) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

/// A finished command: Ok(stdout) when it succeeded, else Err(stderr).
fn outcome(out: std::process::Output) -> Result<String, String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Polls `f` until it returns `Some`, for at most `timeout`.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Irmd {
    /// irmd's pid.
    pub fn pid(&self) -> u32 {
        self.proc.as_ref().map_or(0, KillOnDrop::id)
    }

    /// `program` run as user and group nobody (65534), without root's
    /// supplementary groups, against this irmd.
    pub fn command_as_nobody(&self, program: &Path) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program)
            .env("O7S_RUNDIR", &self.dir);
        cmd
    }

    /// The irm binary run as nobody: Ok(stdout) or Err(stderr).
    pub fn irm_as_nobody(&self, args: &[&str]) -> Result<String, String> {
        outcome(
            self.command_as_nobody(Path::new(env!("CARGO_BIN_EXE_irm")))
                .args(args)
                .output()
                .expect("run irm through setpriv"),
        )
    }

    /// Open file descriptors and threads of irmd, and its resident set in
    /// KiB, from /proc.
    pub fn usage(&self) -> (usize, usize, u64) {
        let pid = self.pid();
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
        // irmd's own threads; the dataplane's workers it embeds are
        // counted apart (they do not serve clients).
        let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                    !comm.starts_with("o7s-worker")
                })
                .count()
        });
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        (fds, threads, rss)
    }
}

/// Starts irmd as [`Irmd::start_with`] does, under `umask 000`.
pub fn start_under_umask_000(test: &str, args: &[&str]) -> Irmd {
    Irmd::start_wrapped(test, args, &["sh", "-c", "umask 000; exec \"$0\" \"$@\""])
}

/// A raw connection to irmd speaking its protocol by hand: for tests of
/// what a misbehaving process can do.
pub struct Raw {
    pub sock: std::os::unix::net::UnixStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(irmd: &Irmd) -> std::io::Result<Raw> {
        let sock = o7s_app::sys::seqpacket_connect(&o7s_app::rundir::socket(&irmd.dir))?;
        Ok(Raw {
            sock,
            buf: vec![0; o7s_seam::rpc::MAX_MSG],
        })
    }

    /// Sends one request.
    pub fn send(&self, id: u64, body: o7s_seam::rpc::request::Body) -> std::io::Result<()> {
        let req = o7s_seam::rpc::Request { id, body: Some(body) };
        o7s_seam::rpc::send(&self.sock, &req, &[])
    }

    /// The next reply, if one comes within `timeout`; `Err` when irmd
    /// closed the connection.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<o7s_seam::rpc::Reply>, ()> {
        self.sock.set_read_timeout(Some(timeout)).map_err(drop)?;
        match o7s_seam::rpc::recv::<o7s_seam::rpc::Reply>(&self.sock, &mut self.buf) {
            Ok(o7s_seam::rpc::Received::Message(r, _)) => Ok(Some(r)),
            Ok(o7s_seam::rpc::Received::Malformed(_)) => Ok(None),
            Ok(o7s_seam::rpc::Received::Closed) => Err(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(_) => Err(()),
        }
    }
}
