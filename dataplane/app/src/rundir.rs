//! Where irmd and the programs that use it meet: the runtime directory,
//! set by `O7S_RUNDIR` for every o7s program (irmd also takes
//! `--rundir`), so that several irmds (one per network namespace, in
//! tests) run side by side on one host.

use std::path::{Path, PathBuf};

/// The environment variable naming the runtime directory.
pub const ENV: &str = "O7S_RUNDIR";

/// The runtime directory when `O7S_RUNDIR` is not set (the C prototype
/// uses `/var/run/ouroboros`).
pub const DEFAULT: &str = "/run/o7s";

/// irmd's socket inside the runtime directory.
pub const SOCKET: &str = "irmd.sock";

/// The runtime directory: `O7S_RUNDIR`, or [`DEFAULT`].
pub fn dir() -> PathBuf {
    std::env::var_os(ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT), PathBuf::from)
}

/// irmd's socket in `dir`.
pub fn socket(dir: &Path) -> PathBuf {
    dir.join(SOCKET)
}
