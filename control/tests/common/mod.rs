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
        let dir = std::env::temp_dir().join(format!("o7s-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("runtime directory");
        let log = dir.join("irmd.log");
        let logfile = std::fs::File::create(&log).expect("log file");
        let proc = KillOnDrop::spawn(
            Command::new(env!("CARGO_BIN_EXE_irmd"))
                .arg("--rundir")
                .arg(&dir)
                .args(["--buffers", "4096"])
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
        let out = Command::new(env!("CARGO_BIN_EXE_irm"))
            .args(args)
            .env("O7S_RUNDIR", &self.dir)
            .output()
            .expect("run irm");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
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
        let _ = std::fs::remove_dir_all(&self.dir);
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
