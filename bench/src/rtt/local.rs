//! The local layer as the README's tutorial sets it up: an irmd in a
//! runtime directory of its own, a local IPCP, oping bound and registered,
//! an oping server; all removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use o7s_netns::{KillOnDrop, workspace_bin};

use super::{Bench, Result};
use crate::fwd::Unprepared;

/// An irmd with the local layer and an oping server.
pub(super) struct Local {
    dir: PathBuf,
    oping: PathBuf,
    // Dropped in this order: the server before its irmd.
    _server: KillOnDrop,
    _irmd: KillOnDrop,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A program of the workspace, built now if it is missing or stale.
pub(super) fn binary(package: &str, bin: &str) -> Result<PathBuf> {
    workspace_bin(package, bin).map_err(|e| Unprepared(format!("cannot build {bin}: {e}")).into())
}

/// Calls `ready` every 20 ms until it says yes, for at most `timeout`.
pub(super) fn wait_for(what: &str, timeout: Duration, bench: &Bench, mut ready: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !ready() {
        bench.check_stop()?;
        if Instant::now() > deadline {
            return Err(format!("{what} did not come up within {timeout:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn irm(irm: &Path, dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(irm).args(args).env("O7S_RUNDIR", dir).output()?;
    if !out.status.success() {
        return Err(format!(
            "irm {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(())
}

impl Local {
    pub(super) fn start(bench: &Bench) -> Result<Local> {
        let irmd_bin = binary("o7s-control", "irmd")?;
        let irm_bin = binary("o7s-control", "irm")?;
        let oping = binary("o7s-oping", "oping")?;
        let dir = std::env::temp_dir().join(format!("o7s-bench-rtt-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut cmd = Command::new(&irmd_bin);
        cmd.arg("--rundir").arg(&dir);
        if let Some(spin) = &bench.args.spin {
            cmd.args(["--spin", spin]);
        }
        let irmd = KillOnDrop::spawn(cmd.env("RUST_LOG", "warn").stdout(Stdio::null()))?;
        wait_for("irmd", Duration::from_secs(10), bench, || {
            o7s_app::Admin::connect(&dir).is_ok()
        })?;
        let oping_path = oping.to_str().ok_or("oping path is not UTF-8")?;
        irm(
            &irm_bin,
            &dir,
            &["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"],
        )?;
        irm(&irm_bin, &dir, &["bind", "program", oping_path, "name", "oping"])?;
        irm(&irm_bin, &dir, &["name", "register", "oping", "layer", "lo"])?;
        let server = KillOnDrop::spawn(
            Command::new(&oping)
                .args(["-l", "-Q"])
                .env("O7S_RUNDIR", &dir)
                .stdout(Stdio::null()),
        )?;
        wait_for("the oping server", Duration::from_secs(10), bench, || {
            o7s_app::Admin::connect(&dir)
                .and_then(|mut a| a.status())
                .is_ok_and(|s| !s.processes.is_empty())
        })?;
        Ok(Local {
            dir,
            oping,
            _irmd: irmd,
            _server: server,
        })
    }

    /// An oping client of this irmd, to the server's name.
    pub(super) fn oping(&self) -> Command {
        let mut cmd = Command::new(&self.oping);
        cmd.args(["-n", "oping"]).env("O7S_RUNDIR", &self.dir);
        cmd
    }
}
