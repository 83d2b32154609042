//! The o7s control plane. So far: the two languages an operator speaks to
//! irmd in, parsed without I/O into one set of typed configuration values.
//!
//! ```text
//!  argv after `irm` ──> irm_cli::Command::parse ──┐
//!                                                  ├─> ipcp_config::{IpcpType, BootstrapConfig, …}
//!  irmd.conf (TOML) ──> irmd_config::IrmdConfig ───┘   name_info::{LoadBalance, SecurityPaths}
//! ```
//!
//! | module | what | PROTOCOL.md |
//! |---|---|---|
//! | [`ipcp_config`] | IPCP types, bootstrap options, their defaults and ranges | §7.1, §17.2 |
//! | [`name_info`] | load balancing and OAP file paths of a name | §6.5, §17.1 |
//! | [`irm_cli`] | the `irm` command language and its help texts | §17.1–17.2 |
//! | [`irmd_config`] | the irmd configuration file, with the C parser's quirks decided | §17.4, §20.2 |
//! | [`irm`] | irmd's core: registry and flow-allocation broker, sans-IO | §1, §5, §16, §17, §19.5 |
//! | [`ipcp`] | the IPCPs' control halves (shims so far), sans-IO | §2–§4 |
//! | [`irmd`] | the daemon: socket, processes, IPCP tasks (local so far), flow rings | §16, §17.3 |
//!
//! Binaries: `irmd` (the daemon) and `irm` (the CLI, which checks a command
//! line with [`irm_cli`] and has irmd run it).
//!
//! `unsafe` is denied (workspace lints) except in [`irmd::sys`], irmd's
//! kernel and C-library boundary.

pub mod ipcp;
pub mod ipcp_config;
pub mod irm;
pub mod irm_cli;
pub mod irmd;
pub mod irmd_config;
pub mod name_info;
