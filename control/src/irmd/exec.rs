//! What irmd does with one parsed `irm` command and with its configuration
//! file (PROTOCOL.md §17.1–17.2, §17.4): each is turned into calls on the
//! sans-IO registry [`Irm`], exactly as the C irm tool and IRMd together
//! would. No sockets and no clock: `now` is passed in, the IPCP tasks are
//! driven by the events the calls queue ([`Irm::poll_event`]).
//!
//! | command | registry calls | prints |
//! |---|---|---|
//! | `ipcp create` | `ipcp_create` | — |
//! | `ipcp destroy` | `ipcp_destroy` | — |
//! | `ipcp bootstrap` | per IPCP matching the name (wildcards): `resolve` the options against its type, `ipcp_bootstrap`, with `autobind` `bind_ipcp` to its own and the layer's name; no match: `ipcp_create` first (`type` required) | — |
//! | `ipcp enroll` | per IPCP of the type matching the name: `ipcp_enroll`, with `autobind` `bind_ipcp` to its own name (and `layer`'s, if given); no match: `ipcp_create` first | — |
//! | `ipcp connect` / `disconnect` | `ipcp_connect` / `ipcp_disconnect` (unicast IPCPs in a layer; broadcast: [`ExecError::Unsupported`]) | — |
//! | `ipcp list` | `ipcp_list` | table: `NAME TYPE STATE LAYER HASH DEVICE`, or `no IPCPs` |
//! | `ipcp stats` | `ipcp_list`, then each IPCP's counters from its task | table: `IPCP COUNTER VALUE`, or `no counters` |
//! | `bind` / `unbind` | `bind_*` / `unbind_*` (`auto` keeps the arguments; no name unbinds all) | — |
//! | `name create` / `destroy` | `name_create` / `name_destroy` | — |
//! | `name register` / `unregister` | `name_register` (creates the name, spill-over) / `name_unregister` | — |
//! | `name list` | `name_list` | table: `NAME LB IPCPS LAYERS`, or `no names` |
//! | `help` | — | the usage text |
//!
//! **All or nothing.** A refused command leaves the registry exactly as it
//! was, events included. Single calls already guarantee that; the commands
//! that make several (create then bootstrap, a wildcard matching several
//! IPCPs, autobind) run on a snapshot that is put back on failure. The C
//! tool did each step as a separate request and left the earlier ones done.
//!
//! **Enrolment is asynchronous here.** The C tool waits for the enrolment
//! to finish before it checks the layer learned against `layer` and binds
//! the IPCP to the layer's name. [`Irm::ipcp_enroll`] only starts it (the
//! IPCP is [`IpcpState::Enrolling`](crate::irm::IpcpState::Enrolling)); the layer check, and the layer-name
//! binding when `layer` was not given, are for whoever completes the
//! enrolment ([`Irm::ipcp_enrolled`]).
//!
//! # The configuration file
//!
//! [`apply_config`] acts as the C IRMd at start: the `[name.*]` tables
//! first, in file order (create the name, bind its programs, with
//! auto-start arguments where `args` has an entry), then the IPCP tables
//! in [`IrmdConfig::ipcps`]' order, which is the file's as TOML groups it:
//! kinds in the order they first appear, each kind's tables in file order
//! (a `[local.b]` written after a `[unicast.a]` that follows `[local.a]`
//! comes before `[unicast.a]`; the C IRMd iterates the same way):
//!
//! ```text
//!  [<kind>.<ipcp>] ── create ─┬─ (neither) ─────────────────────────────── done
//!                             ├─ bootstrap ── autobind ── reg ──────────── done
//!                             └─ enrol ────── autobind (own name) ──────── done
//!                                              reg, conn: Unsupported (they need the enrolment's outcome)
//! ```
//!
//! Names come first so that a `reg` never creates a name that its own
//! `[name.*]` table, further down, would then fail to create (C acts on the
//! top-level tables in file order and fails there). The first error stops
//! the load and is returned, wrapped with its table
//! ([`ExecError::Config`]); what the earlier tables did stays, as in C,
//! where irmd then exits.

use std::fmt::Write as _;
use std::time::Instant;

use crate::ipcp_config::IpcpType;
use crate::irm::{Account, AutoStart, Irm, IrmError};
use crate::irm_cli::{CliError, Command, IpcpBootstrap, help};
use crate::irmd_config::{IpcpAction, IpcpConfig, IrmdConfig, NameConfig};

use o7s_app::error::errno::{EEXIST, EINVAL, EMFILE, ENOENT, ENOTSUP, EPERM};

/// Why a command, or a configuration file, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The registry refused an operation.
    #[error(transparent)]
    Irm(#[from] IrmError),
    /// `ipcp bootstrap` options that do not fit the existing IPCP's type.
    #[error(transparent)]
    Cli(#[from] CliError),
    /// `ipcp bootstrap` without `type` for a name that matches no IPCP.
    #[error("irm ipcp bootstrap: no IPCP matches {name:?}; give `type` to create it")]
    MissingType {
        /// The IPCP name or pattern.
        name: String,
    },
    /// `ipcp enroll` of an IPCP that exists with the other enrolling type.
    #[error("{command}: IPCP {ipcp:?} is a {existing} IPCP, not {requested} (give `type {existing}`)")]
    TypeMismatch {
        /// The command.
        command: &'static str,
        /// The IPCP.
        ipcp: String,
        /// Its type.
        existing: IpcpType,
        /// The type asked for.
        requested: IpcpType,
    },
    /// Something this irmd cannot do yet.
    #[error("{command} is not supported yet: {reason}")]
    Unsupported {
        /// The command or configuration key.
        command: &'static str,
        /// What is missing.
        reason: String,
    },
    /// A table of the configuration file failed.
    #[error("irmd configuration [{table}]: {error}")]
    Config {
        /// The table, as its header reads (`local.lo`).
        table: String,
        /// What went wrong in it.
        error: Box<ExecError>,
    },
}

impl ExecError {
    /// The negative C error code a C IRMd would reply with: -ENOENT for
    /// something unknown, -EEXIST for a duplicate, -EINVAL for a bad value
    /// or type, -ENOTSUP for what is not supported, -EPERM otherwise.
    pub fn errno(&self) -> i32 {
        match self {
            ExecError::Irm(e) => e.errno(),
            ExecError::Cli(_) | ExecError::TypeMismatch { .. } => -EINVAL,
            ExecError::MissingType { .. } => -ENOENT,
            ExecError::Unsupported { .. } => -ENOTSUP,
            ExecError::Config { error, .. } => error.errno(),
        }
    }
}

impl IrmError {
    /// The negative errno a refusal is reported with, as the C IRMd would.
    pub fn errno(&self) -> i32 {
        match self {
            IrmError::UnknownIpcp(_)
            | IrmError::UnknownName(_)
            | IrmError::UnknownProcess(_)
            | IrmError::UnknownProgram(_)
            | IrmError::NotBound { .. }
            | IrmError::NotRegistered { .. }
            | IrmError::NoMatch { .. }
            | IrmError::UnknownFlow(_)
            | IrmError::UnknownHash { .. }
            | IrmError::NoBroadcastLayer(_) => -ENOENT,
            IrmError::DuplicateIpcp(_)
            | IrmError::DuplicateName(_)
            | IrmError::DuplicateProcess(_)
            | IrmError::AlreadyBound { .. }
            | IrmError::AlreadyRegistered { .. } => -EEXIST,
            IrmError::InvalidName { .. } | IrmError::BadLayerType { .. } | IrmError::NoTarget(_) => -EINVAL,
            IrmError::AlreadyBootstrapped { .. }
            | IrmError::NotBootstrapped(_)
            | IrmError::NoLayer(_)
            | IrmError::NotFlowOwner { .. }
            | IrmError::NotFlowIpcp { .. }
            | IrmError::WrongFlowState { .. }
            | IrmError::NoAcceptor(_) => -EPERM,
            IrmError::TooManyFlows { .. } => -EMFILE,
        }
    }
}

/// Carries out one `irm` command for `caller` (a program it binds with
/// `auto` will run as that account); returns the text to print (empty for
/// most commands; tables and help end with a newline). A refused command
/// leaves `irm` unchanged. Whether `caller` may run it at all is irmd's
/// decision ([`Command::is_read_only`]), made before.
///
/// `stats` gives an IPCP's counters (name, value) for `ipcp stats`: they
/// live in its task and the dataplane, not in the registry.
pub fn execute(
    irm: &mut Irm,
    now: Instant,
    cmd: &Command,
    caller: &Account,
    stats: &dyn Fn(&str) -> Vec<(String, u64)>,
) -> Result<String, ExecError> {
    // Registry operations are timeless today; `now` is for the deadlines
    // enrolment and connection will carry.
    let _ = now;
    match cmd {
        Command::IpcpCreate { name, ipcp_type } => irm.ipcp_create(name, *ipcp_type)?,
        Command::IpcpDestroy { name } => irm.ipcp_destroy(name)?,
        Command::IpcpBootstrap(b) => atomically(irm, |irm| bootstrap(irm, b))?,
        Command::IpcpEnroll {
            name,
            layer,
            dst,
            ipcp_type,
            autobind,
        } => atomically(irm, |irm| {
            enroll(irm, name, layer.as_deref(), dst, *ipcp_type, *autobind)
        })?,
        Command::IpcpConnect {
            name,
            dst,
            component,
            qos,
        } => {
            irm.ipcp_connect(name, dst, *component, *qos)?;
        }
        Command::IpcpDisconnect { name, dst, component } => {
            irm.ipcp_disconnect(name, dst, *component)?;
        }
        Command::IpcpList { name, layer, ipcp_type } => {
            return Ok(ipcp_table(irm, name.as_deref(), layer.as_deref(), *ipcp_type));
        }
        Command::IpcpStats { name } => return stats_table(irm, name.as_deref(), stats),
        Command::BindProgram { path, name, auto, args } => {
            let auto = auto.then(|| AutoStart {
                args: args.clone(),
                account: caller.clone(),
            });
            irm.bind_program(path, name, auto)?;
        }
        Command::BindProcess { pid, name } => irm.bind_process(*pid, name)?,
        Command::BindIpcp { ipcp, name } => irm.bind_ipcp(ipcp, name)?,
        Command::UnbindProgram { path, name } => irm.unbind_program(path, name.as_deref())?,
        Command::UnbindProcess { pid, name } => irm.unbind_process(*pid, name.as_deref())?,
        Command::UnbindIpcp { ipcp, name } => irm.unbind_ipcp(ipcp, name.as_deref())?,
        Command::NameCreate { name, lb, paths } => irm.name_create(name, *lb, paths.clone())?,
        Command::NameDestroy { name } => irm.name_destroy(name)?,
        Command::NameRegister { name, ipcps, layers } => irm.name_register(name, ipcps, layers)?,
        Command::NameUnregister { name, ipcps, layers } => irm.name_unregister(name, ipcps, layers)?,
        Command::NameList => return Ok(name_table(irm)),
        Command::Help { topic } => return Ok(help(*topic)),
    }
    Ok(String::new())
}

/// Runs `f`, putting `irm` back as it was if `f` fails part-way.
fn atomically<T>(irm: &mut Irm, f: impl FnOnce(&mut Irm) -> Result<T, ExecError>) -> Result<T, ExecError> {
    let before = irm.clone();
    let result = f(irm);
    if result.is_err() {
        *irm = before;
    }
    result
}

/// The IPCPs whose name matches `pattern` (shell wildcards), in creation
/// order, with their types.
fn matching(irm: &Irm, pattern: &str) -> Vec<(String, IpcpType)> {
    irm.ipcp_list(Some(pattern), None, None)
        .into_iter()
        .map(|i| (i.name, i.ipcp_type))
        .collect()
}

fn bootstrap(irm: &mut Irm, b: &IpcpBootstrap) -> Result<(), ExecError> {
    let mut targets = matching(irm, &b.name);
    if targets.is_empty() {
        let ipcp_type = b
            .ipcp_type()
            .ok_or_else(|| ExecError::MissingType { name: b.name.clone() })?;
        irm.ipcp_create(&b.name, ipcp_type)?;
        targets.push((b.name.clone(), ipcp_type));
    }
    for (name, ipcp_type) in targets {
        let config = b.resolve(ipcp_type)?;
        irm.ipcp_bootstrap(&name, &b.layer, &config)?;
        if b.autobind {
            autobind(irm, &name, Some(&b.layer))?;
        }
    }
    Ok(())
}

fn enroll(
    irm: &mut Irm,
    name: &str,
    layer: Option<&str>,
    dst: &str,
    ipcp_type: IpcpType,
    autobind_to: bool,
) -> Result<(), ExecError> {
    let matches = matching(irm, name);
    let mut targets: Vec<String> = matches
        .iter()
        .filter(|(_, t)| *t == ipcp_type)
        .map(|(n, _)| n.clone())
        .collect();
    if targets.is_empty() {
        // C skips IPCPs of another type and then fails to create one with
        // the same name; say what is wrong with the one that is there.
        if let Some((other, existing)) = matches.into_iter().next() {
            return Err(if existing.enrols() {
                ExecError::TypeMismatch {
                    command: "irm ipcp enroll",
                    ipcp: other,
                    existing,
                    requested: ipcp_type,
                }
            } else {
                IrmError::BadLayerType {
                    ipcp: other,
                    ipcp_type: existing,
                    operation: "enrol".to_owned(),
                    expected: "unicast or broadcast",
                }
                .into()
            });
        }
        irm.ipcp_create(name, ipcp_type)?;
        targets.push(name.to_owned());
    }
    for ipcp in targets {
        irm.ipcp_enroll(&ipcp, dst)?;
        if autobind_to {
            autobind(irm, &ipcp, layer)?;
        }
    }
    Ok(())
}

/// Binds the IPCP to its own name and to the layer's name, so that peers
/// can enrol through either; a binding that exists already is fine (the
/// layer may be named as the IPCP).
fn autobind(irm: &mut Irm, ipcp: &str, layer: Option<&str>) -> Result<(), IrmError> {
    for name in std::iter::once(ipcp).chain(layer) {
        match irm.bind_ipcp(ipcp, name) {
            Ok(()) | Err(IrmError::AlreadyBound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

// ----- tables ----------------------------------------------------------------

/// Aligned columns, two spaces apart, widths from the content; the last
/// column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:w$}  ");
            }
        }
        out.push('\n');
    }
    out
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

fn ipcp_table(irm: &Irm, name: Option<&str>, layer: Option<&str>, ipcp_type: Option<IpcpType>) -> String {
    let rows: Vec<Vec<String>> = irm
        .ipcp_list(name, layer, ipcp_type)
        .into_iter()
        .map(|i| {
            vec![
                i.name,
                i.ipcp_type.keyword().to_owned(),
                i.state.keyword().to_owned(),
                i.layer.unwrap_or_else(|| "-".to_owned()),
                i.hash_algo.map_or("-", |h| h.keyword()).to_owned(),
                i.device.unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no IPCPs\n".to_owned();
    }
    table(&["NAME", "TYPE", "STATE", "LAYER", "HASH", "DEVICE"], &rows)
}

fn stats_table(irm: &Irm, name: Option<&str>, stats: &dyn Fn(&str) -> Vec<(String, u64)>) -> Result<String, ExecError> {
    let ipcps = irm.ipcp_list(name, None, None);
    if let Some(n) = name
        && ipcps.is_empty()
    {
        return Err(IrmError::UnknownIpcp(n.to_owned()).into());
    }
    let rows: Vec<Vec<String>> = ipcps
        .iter()
        .flat_map(|i| {
            stats(&i.name)
                .into_iter()
                .map(move |(counter, value)| vec![i.name.clone(), counter, value.to_string()])
        })
        .collect();
    if rows.is_empty() {
        return Ok("no counters\n".to_owned());
    }
    Ok(table(&["IPCP", "COUNTER", "VALUE"], &rows))
}

fn name_table(irm: &Irm) -> String {
    let rows: Vec<Vec<String>> = irm
        .name_list()
        .into_iter()
        .map(|n| {
            vec![
                n.name,
                n.lb.keyword().to_owned(),
                list_or_dash(&n.ipcps),
                list_or_dash(&n.layers),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no names\n".to_owned();
    }
    table(&["NAME", "LB", "IPCPS", "LAYERS"], &rows)
}

// ----- configuration file ----------------------------------------------------

/// Applies a parsed irmd configuration file as the C IRMd does at start
/// (see the module docs for the order). Stops at the first error and
/// returns it wrapped with its table ([`ExecError::Config`]); what the
/// tables before it did stays in `irm` (each single step is all or
/// nothing), as in C, after which irmd exits. Programs it binds with
/// arguments run as `owner` (irmd's own account: the file is irmd's).
pub fn apply_config(irm: &mut Irm, now: Instant, config: &IrmdConfig, owner: &Account) -> Result<(), ExecError> {
    let _ = now;
    for name in &config.names {
        apply_name(irm, name, owner).map_err(|e| in_table(format!("name.{}", name.name), e))?;
    }
    for ipcp in &config.ipcps {
        apply_ipcp(irm, ipcp).map_err(|e| in_table(format!("{}.{}", ipcp.ipcp_type.keyword(), ipcp.name), e))?;
    }
    Ok(())
}

fn in_table(table: String, error: ExecError) -> ExecError {
    ExecError::Config {
        table,
        error: Box::new(error),
    }
}

fn apply_name(irm: &mut Irm, name: &NameConfig, owner: &Account) -> Result<(), ExecError> {
    irm.name_create(&name.name, name.lb, name.security.clone())?;
    for program in &name.programs {
        let auto = program.auto_args.clone().map(|args| AutoStart {
            args,
            account: owner.clone(),
        });
        irm.bind_program(&program.path, &name.name, auto)?;
    }
    Ok(())
}

fn apply_ipcp(irm: &mut Irm, ipcp: &IpcpConfig) -> Result<(), ExecError> {
    let name = ipcp.name.as_str();
    if let IpcpAction::Enrol { dst } = &ipcp.action {
        // C waits for the enrolment and then acts on these; here it has
        // only started, and no unicast or broadcast IPCP task finishes it.
        let after = if !ipcp.reg.is_empty() {
            Some(("`reg` after `enrol`", format!("registering {:?}", ipcp.reg)))
        } else if !ipcp.conn.is_empty() {
            Some(("`conn`", format!("connecting to {:?}", ipcp.conn)))
        } else {
            None
        };
        if let Some((command, what)) = after {
            return Err(ExecError::Unsupported {
                command,
                reason: format!(
                    "{what} needs IPCP {name:?} enrolled through {dst:?}, and the {} IPCP's control logic is not available yet",
                    ipcp.ipcp_type
                ),
            });
        }
    }
    irm.ipcp_create(name, ipcp.ipcp_type)?;
    match &ipcp.action {
        IpcpAction::Create => {}
        IpcpAction::Bootstrap { layer, config } => {
            irm.ipcp_bootstrap(name, layer, config)?;
            if ipcp.autobind {
                autobind(irm, name, Some(layer))?;
            }
            for reg in &ipcp.reg {
                irm.name_register(reg, std::slice::from_ref(&ipcp.name), &[])?;
            }
        }
        IpcpAction::Enrol { dst } => {
            irm.ipcp_enroll(name, dst)?;
            if ipcp.autobind {
                // The layer's name is known once the enrolment completes.
                autobind(irm, name, None)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "exec_tests.rs"]
mod tests;
