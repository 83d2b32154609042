//! Where the o7s programs a lab runs are: in one directory (the one
//! o7s-lab itself was built into, or one a test names), else in `PATH`.
//! Steps run with that directory first in their `PATH`, so `oping` in a
//! command line is the build the lab's irmd belongs to.

use std::path::{Path, PathBuf};

/// The programs' directory.
#[derive(Debug, Clone)]
pub struct Bins {
    dir: Option<PathBuf>,
}

/// A program that is nowhere to be found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{program} is not {where_}: build it (cargo build --release --workspace) or put it in PATH")]
pub struct Missing {
    /// The program.
    pub program: String,
    /// Where it was looked for.
    pub where_: String,
}

impl Bins {
    /// Programs in `dir`, else in `PATH`.
    pub fn in_dir(dir: Option<PathBuf>) -> Bins {
        Bins { dir }
    }

    /// Programs next to the running executable (the same target
    /// directory), else in `PATH`.
    pub fn beside_current_exe() -> Bins {
        let dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf));
        Bins { dir }
    }

    /// The directory, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The path of `program`.
    pub fn find(&self, program: &str) -> Result<PathBuf, Missing> {
        let beside = self.dir.as_ref().map(|d| d.join(program));
        if let Some(path) = beside.as_ref().filter(|p| p.is_file()) {
            return Ok(path.clone());
        }
        let in_path = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join(program))
            .find(|p| p.is_file());
        in_path.ok_or_else(|| Missing {
            program: program.to_owned(),
            where_: match &self.dir {
                Some(d) => format!("in {} nor in PATH", d.display()),
                None => "in PATH".to_owned(),
            },
        })
    }

    /// `PATH` for the lab's commands: the directory first.
    pub fn path_env(&self) -> std::ffi::OsString {
        let rest = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into());
        match &self.dir {
            Some(d) => {
                let mut all = vec![d.clone()];
                all.extend(std::env::split_paths(&rest));
                std::env::join_paths(all).unwrap_or(rest)
            }
            None => rest,
        }
    }
}
