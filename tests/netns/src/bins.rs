//! Programs of other workspace packages for end-to-end tests, and child
//! processes that cannot outlive the test.
//!
//! Cargo gives a test only its own package's binaries
//! (`CARGO_BIN_EXE_<name>`); [`workspace_bin`] builds another package's
//! binary with the same profile (a no-op when it is fresh) and returns its
//! path.

use std::io;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;

/// The path of binary `bin` of workspace package `package`, built (or
/// brought up to date) now with the profile the calling test or binary
/// was built with.
pub fn workspace_bin(package: &str, bin: &str) -> io::Result<PathBuf> {
    // One build at a time from this process: cargo would serialise them on
    // its lock anyway, with noise on stderr.
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // target/<profile>/deps/<test> or target/<profile>/<binary> → target/<profile>
    let exe = std::env::current_exe()?;
    let parent = exe
        .parent()
        .ok_or_else(|| io::Error::other("executable has no directory"))?;
    let profile_dir = if parent.file_name().is_some_and(|n| n == "deps") {
        parent
            .parent()
            .ok_or_else(|| io::Error::other("no profile directory"))?
    } else {
        parent
    }
    .to_owned();
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::other("no profile directory"))?
        .to_owned();
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| io::Error::other("no target directory"))?
        .to_owned();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, "--bin", bin])
        .arg("--target-dir")
        .arg(&target_dir);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "cargo build -p {package} --bin {bin}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let path = profile_dir.join(bin);
    if path.is_file() {
        Ok(path)
    } else {
        Err(io::Error::other(format!("{} was not built", path.display())))
    }
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing
/// test leaves no daemon behind.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// Starts `cmd`.
    pub fn spawn(cmd: &mut Command) -> io::Result<KillOnDrop> {
        cmd.spawn().map(KillOnDrop)
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit; SIGKILL after.
    pub fn terminate(&mut self, timeout: std::time::Duration) -> io::Result<std::process::ExitStatus> {
        signal(self.0.id(), libc::SIGTERM);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() >= deadline {
                self.0.kill()?;
                return self.0.wait();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `sig` to process `pid` (errors ignored: it may be gone).
pub fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory effects.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Sends `sig` to every process of the process group `pgid` (a child
/// started with `CommandExt::process_group(0)` leads a group whose id is
/// its pid); errors ignored: the group may be gone.
pub fn signal_group(pgid: u32, sig: i32) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid)
        && pgid > 1
    {
        // SAFETY: kill(2) has no memory effects; a negative pid names a group.
        unsafe { libc::kill(-pgid, sig) };
    }
}
