//! The `irm` command language (PROTOCOL.md §17.1–17.2), parsed from the
//! words after `irm` into a typed [`Command`]. No I/O: what a command does
//! to irmd is irmd's business, and looking an IPCP up is irm's.
//!
//! ```text
//! irm ─┬─ ipcp ───┬─ create      name <n> type <t>
//!      │          ├─ destroy     name <n>
//!      │          ├─ bootstrap   name <n> layer <l> [type <t>] [autobind] [options by type]
//!      │          ├─ enroll      name <n> [layer <l>] [dst <d>] [type unicast|broadcast] [autobind]
//!      │          ├─ connect     name <n> dst <d> [component dt|mgmt] [qos <preset>]
//!      │          ├─ disconnect  name <n> dst <d> [component dt|mgmt]
//!      │          ├─ list        [name <n>] [layer <l>] [type <t>]
//!      │          └─ help
//!      ├─ bind ───┬─ program     <path> name <n> [auto] [-- <args>…]
//!      │          ├─ process     <pid> name <n>
//!      │          ├─ ipcp        <ipcp> name <n>
//!      │          └─ help
//!      ├─ unbind ─┬─ program | process | ipcp   <path|pid|ipcp> [name <n>]
//!      │          └─ help
//!      ├─ name ───┬─ create      <n> [lb round-robin|spillover] [sencpath|scrtpath|skeypath|cencpath|ccrtpath|ckeypath <path>]
//!      │          ├─ destroy     <n>
//!      │          ├─ register    <n> (ipcp <i>)… (layer <l>)…
//!      │          ├─ unregister  <n> (ipcp <i>)… (layer <l>)…
//!      │          ├─ list
//!      │          └─ help
//!      └─ help [<group> [<operation>]]
//! ```
//!
//! **Abbreviation.** Every keyword — group, operation, argument name — may be
//! cut to any non-empty prefix, and the first keyword of its level (in the
//! order above and in the tables of the parsers below, the C tool's order)
//! that the word begins wins: `irm i b` is `irm ipcp bootstrap`, `irm n r`
//! is `irm name register`, `irm b prog` is `irm bind program`, and in
//! `ipcp bootstrap` `d` is `dns` and `dev` is `device`. This is done once, by
//! the `keywords` module, for every level. Values (types, hashes, policies, QoS
//! presets) are not abbreviated: a type of `udp` must not quietly become
//! `udp4`.
//!
//! **Why not clap.** clap can infer unambiguous subcommand prefixes, but not
//! "first match in a fixed order wins" (it refuses `irm i c`, which C reads
//! as `ipcp create`), and it has no notion of `name <n> type <t>` keyword–
//! value arguments abbreviable by prefix, whose values may themselves look
//! like keywords (`irm name create name`). Bending clap to that would mean
//! rewriting argv before it sees it, which is the parser below with extra
//! steps; a table per level and one argument walker is smaller and says
//! exactly what the language is.
//!
//! **Checked here, not in C.** Unknown arguments, missing values, an option
//! given twice, every number and address, the options each IPCP type takes
//! (C silently ignored, e.g., `hash` on a udp4 layer, and only warned about
//! `autobind` on a shim), `qos` with `component mgmt` (C ignored it),
//! arguments after `--` without `auto` (they would never be used), and an
//! unknown QoS preset (C fell back to raw). Errors name the command, the
//! argument and the problem ([`CliError`]), and the binary can print
//! [`help()`] for [`CliError::topic`].
//!
//! A command that fails to parse with `help` as its only argument is a
//! request for that command's help (`irm ipcp bootstrap help`); where `help`
//! is a valid argument (`irm name create help` creates the name "help") it
//! keeps that meaning.

mod help;
mod keywords;

use std::path::PathBuf;

use o7s_wire::qos::QosSpec;

pub use self::help::{HelpTopic, help};
use self::keywords::{Given, Keywords, Opt, flag, parse_options, positional, repeated, value};
use crate::ipcp_config::{BootstrapConfig, BootstrapKey, BootstrapOptions, IpcpType, ValueProblem};
use crate::name_info::{LoadBalance, SecurityFile, SecurityPaths, check_name};

/// The most `ipcp` and the most `layer` arguments of `name register` and
/// `name unregister` (each).
pub const MAX_REGISTER_TARGETS: usize = 128;

/// A unicast or broadcast IPCP's component a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// `mgmt`: the management flow (enrolment, routing, directory).
    Mgmt,
    /// `dt`: the data-transfer flow.
    Dt,
}

impl Component {
    /// The keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            Component::Mgmt => "mgmt",
            Component::Dt => "dt",
        }
    }

    /// The component's name in CACEP and the C IRMd's messages
    /// (`MGMT_COMP`, `DT_COMP`).
    pub const fn protocol_name(self) -> &'static str {
        match self {
            Component::Mgmt => "Management",
            Component::Dt => "Data Transfer",
        }
    }
}

/// The configuration of `irm ipcp bootstrap`: complete when the type was
/// given, or the options as typed, to be resolved against the type of the
/// IPCP that already exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// `type` given: options checked against it, defaults filled in.
    Typed(BootstrapConfig),
    /// No `type`: the IPCP must exist; see [`IpcpBootstrap::resolve`].
    Untyped(BootstrapOptions),
}

/// `irm ipcp bootstrap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpcpBootstrap {
    /// The IPCP (shell wildcards allowed: every match is bootstrapped).
    pub name: String,
    /// The layer to create.
    pub layer: String,
    /// The configuration.
    pub config: Bootstrap,
    /// Bind the IPCP process to its name and to the layer name, so that
    /// peers can enrol through either.
    pub autobind: bool,
}

impl IpcpBootstrap {
    /// The type given on the command line, if any.
    pub fn ipcp_type(&self) -> Option<IpcpType> {
        match &self.config {
            Bootstrap::Typed(c) => Some(c.ipcp_type()),
            Bootstrap::Untyped(_) => None,
        }
    }

    /// The configuration for an IPCP that exists with type `existing`:
    /// refuses a `type` that differs, options the type does not take and
    /// `autobind` on a type that does not enrol.
    pub fn resolve(&self, existing: IpcpType) -> Result<BootstrapConfig, CliError> {
        let topic = HelpTopic::IpcpBootstrap;
        if self.autobind && !existing.enrols() {
            return Err(CliError::BadValue {
                topic,
                option: "autobind",
                problem: ValueProblem::NotForType(existing),
            });
        }
        match &self.config {
            Bootstrap::Typed(c) if c.ipcp_type() == existing => Ok(c.clone()),
            Bootstrap::Typed(c) => Err(CliError::TypeMismatch {
                name: self.name.clone(),
                given: c.ipcp_type(),
                existing,
            }),
            Bootstrap::Untyped(options) => options.resolve(existing).map_err(|e| CliError::BadValue {
                topic,
                option: e.key.cli_keyword(),
                problem: e.problem,
            }),
        }
    }
}

/// One `irm` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `irm ipcp create name <n> type <t>`.
    IpcpCreate {
        /// IPCP name.
        name: String,
        /// Its type.
        ipcp_type: IpcpType,
    },
    /// `irm ipcp destroy name <n>`.
    IpcpDestroy {
        /// IPCP name.
        name: String,
    },
    /// `irm ipcp bootstrap …`.
    IpcpBootstrap(IpcpBootstrap),
    /// `irm ipcp enroll …`: creates the IPCP if needed.
    IpcpEnroll {
        /// IPCP name (wildcards allowed).
        name: String,
        /// The layer the enrolment must yield, if given.
        layer: Option<String>,
        /// Whom to enrol with: `dst`, or the layer name.
        dst: String,
        /// unicast (default) or broadcast.
        ipcp_type: IpcpType,
        /// Bind the IPCP to its name and the layer name afterwards.
        autobind: bool,
    },
    /// `irm ipcp connect …`.
    IpcpConnect {
        /// IPCP name.
        name: String,
        /// The neighbour.
        dst: String,
        /// One component, or `None` for both: management first (always
        /// QoS raw), then data transfer with `qos`.
        component: Option<Component>,
        /// QoS of the data-transfer flow (default raw).
        qos: QosSpec,
    },
    /// `irm ipcp disconnect …`.
    IpcpDisconnect {
        /// IPCP name.
        name: String,
        /// The neighbour.
        dst: String,
        /// One component, or `None` for both (data transfer first).
        component: Option<Component>,
    },
    /// `irm ipcp list [filters]`.
    IpcpList {
        /// Only IPCPs of this name.
        name: Option<String>,
        /// Only IPCPs in this layer.
        layer: Option<String>,
        /// Only IPCPs of this type.
        ipcp_type: Option<IpcpType>,
    },
    /// `irm ipcp stats [name <ipcp>]`: counters (an o7s command).
    IpcpStats {
        /// Only this IPCP.
        name: Option<String>,
    },
    /// `irm bind program <path> name <n> [auto] [-- args]`.
    BindProgram {
        /// The program as typed (irm makes it absolute before sending it).
        path: PathBuf,
        /// The name its instances accept flows for.
        name: String,
        /// Let irmd start the program when a flow arrives for the name.
        auto: bool,
        /// Arguments irmd starts it with.
        args: Vec<String>,
    },
    /// `irm bind process <pid> name <n>`.
    BindProcess {
        /// Process id.
        pid: u32,
        /// Name.
        name: String,
    },
    /// `irm bind ipcp <ipcp> name <n>`.
    BindIpcp {
        /// IPCP name.
        ipcp: String,
        /// Name.
        name: String,
    },
    /// `irm unbind program <path> [name <n>]`.
    UnbindProgram {
        /// The program.
        path: PathBuf,
        /// One name, or `None` for all.
        name: Option<String>,
    },
    /// `irm unbind process <pid> [name <n>]`.
    UnbindProcess {
        /// Process id.
        pid: u32,
        /// One name, or `None` for all.
        name: Option<String>,
    },
    /// `irm unbind ipcp <ipcp> [name <n>]`.
    UnbindIpcp {
        /// IPCP name.
        ipcp: String,
        /// One name, or `None` for all.
        name: Option<String>,
    },
    /// `irm name create <n> …`.
    NameCreate {
        /// Name.
        name: String,
        /// Load balancing (default round-robin, as the C tool).
        lb: LoadBalance,
        /// OAP files given; the rest default under the security directory.
        paths: SecurityPaths,
    },
    /// `irm name destroy <n>`.
    NameDestroy {
        /// Name.
        name: String,
    },
    /// `irm name register <n> (ipcp <i>)… (layer <l>)…`: creates the name
    /// (spill-over) if unknown.
    NameRegister {
        /// Name.
        name: String,
        /// IPCP names or patterns, in the order given.
        ipcps: Vec<String>,
        /// Layer names or patterns, in the order given.
        layers: Vec<String>,
    },
    /// `irm name unregister <n> (ipcp <i>)… (layer <l>)…`.
    NameUnregister {
        /// Name.
        name: String,
        /// IPCP names or patterns.
        ipcps: Vec<String>,
        /// Layer names or patterns.
        layers: Vec<String>,
    },
    /// `irm name list`.
    NameList,
    /// `irm help …`, `irm <group> help`, `irm <group> <op> help`.
    Help {
        /// What to explain.
        topic: HelpTopic,
    },
}

/// Why a command line was refused. Every message names the command and,
/// where there is one, the argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// Nothing after the group (or after `irm`).
    #[error("{topic}: missing operation; expected one of {expected}")]
    MissingCommand {
        /// Where.
        topic: HelpTopic,
        /// What could follow.
        expected: String,
    },
    /// A group or operation that is not one.
    #[error("{topic}: unknown command {word:?}; expected one of {expected}")]
    UnknownCommand {
        /// Where.
        topic: HelpTopic,
        /// What was typed.
        word: String,
        /// What could have been.
        expected: String,
    },
    /// A word in argument position that is no argument of the command.
    #[error("{topic}: unknown argument {word:?}; expected one of {expected}")]
    UnknownArgument {
        /// The command.
        topic: HelpTopic,
        /// What was typed.
        word: String,
        /// The command's arguments.
        expected: String,
    },
    /// A required argument that was not given.
    #[error("{topic}: missing argument `{argument}`")]
    MissingArgument {
        /// The command.
        topic: HelpTopic,
        /// Which.
        argument: &'static str,
    },
    /// A keyword at the end of the line that needs a value.
    #[error("{topic}: `{option}` needs a value")]
    MissingValue {
        /// The command.
        topic: HelpTopic,
        /// The argument.
        option: &'static str,
    },
    /// An argument given twice.
    #[error("{topic}: `{option}` given twice")]
    Duplicate {
        /// The command.
        topic: HelpTopic,
        /// The argument.
        option: &'static str,
    },
    /// A repeated argument given too often.
    #[error("{topic}: at most {max} `{option}` arguments")]
    TooMany {
        /// The command.
        topic: HelpTopic,
        /// The argument.
        option: &'static str,
        /// The limit.
        max: usize,
    },
    /// A value that is refused.
    #[error("{topic}: `{option}` {problem}")]
    BadValue {
        /// The command.
        topic: HelpTopic,
        /// The argument.
        option: &'static str,
        /// What is wrong.
        problem: ValueProblem,
    },
    /// Arguments that make no sense together.
    #[error("{topic}: {reason}")]
    Conflict {
        /// The command.
        topic: HelpTopic,
        /// Why.
        reason: &'static str,
    },
    /// Words after a complete command.
    #[error("{topic}: unexpected argument {word:?}")]
    Unexpected {
        /// The command.
        topic: HelpTopic,
        /// The first extra word.
        word: String,
    },
    /// `irm ipcp bootstrap … type <t>` for an IPCP that exists with another
    /// type.
    #[error("irm ipcp bootstrap: IPCP {name:?} is a {existing} IPCP, not {given}")]
    TypeMismatch {
        /// The IPCP.
        name: String,
        /// The type on the command line.
        given: IpcpType,
        /// Its actual type.
        existing: IpcpType,
    },
}

impl CliError {
    /// The help to show beside the error.
    pub fn topic(&self) -> HelpTopic {
        match self {
            CliError::MissingCommand { topic, .. }
            | CliError::UnknownCommand { topic, .. }
            | CliError::UnknownArgument { topic, .. }
            | CliError::MissingArgument { topic, .. }
            | CliError::MissingValue { topic, .. }
            | CliError::Duplicate { topic, .. }
            | CliError::TooMany { topic, .. }
            | CliError::BadValue { topic, .. }
            | CliError::Conflict { topic, .. }
            | CliError::Unexpected { topic, .. } => *topic,
            CliError::TypeMismatch { .. } => HelpTopic::IpcpBootstrap,
        }
    }
}

/// The groups under `irm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    Ipcp,
    Bind,
    Unbind,
    Name,
    Help,
}

pub(crate) const GROUPS: Keywords<Group> = Keywords(&[
    ("ipcp", Group::Ipcp),
    ("bind", Group::Bind),
    ("unbind", Group::Unbind),
    ("name", Group::Name),
    ("help", Group::Help),
]);

/// The operations of each group, as the topic they lead to; `None` is the
/// group's `help`.
pub(crate) const IPCP_OPS: Keywords<Option<HelpTopic>> = Keywords(&[
    ("create", Some(HelpTopic::IpcpCreate)),
    ("destroy", Some(HelpTopic::IpcpDestroy)),
    ("bootstrap", Some(HelpTopic::IpcpBootstrap)),
    ("enroll", Some(HelpTopic::IpcpEnroll)),
    ("connect", Some(HelpTopic::IpcpConnect)),
    ("disconnect", Some(HelpTopic::IpcpDisconnect)),
    ("list", Some(HelpTopic::IpcpList)),
    ("stats", Some(HelpTopic::IpcpStats)),
    ("help", None),
]);

pub(crate) const BIND_OPS: Keywords<Option<HelpTopic>> = Keywords(&[
    ("program", Some(HelpTopic::BindProgram)),
    ("process", Some(HelpTopic::BindProcess)),
    ("ipcp", Some(HelpTopic::BindIpcp)),
    ("help", None),
]);

pub(crate) const UNBIND_OPS: Keywords<Option<HelpTopic>> = Keywords(&[
    ("program", Some(HelpTopic::UnbindProgram)),
    ("process", Some(HelpTopic::UnbindProcess)),
    ("ipcp", Some(HelpTopic::UnbindIpcp)),
    ("help", None),
]);

pub(crate) const NAME_OPS: Keywords<Option<HelpTopic>> = Keywords(&[
    ("create", Some(HelpTopic::NameCreate)),
    ("destroy", Some(HelpTopic::NameDestroy)),
    ("register", Some(HelpTopic::NameRegister)),
    ("unregister", Some(HelpTopic::NameUnregister)),
    ("list", Some(HelpTopic::NameList)),
    ("help", None),
]);

impl Group {
    fn topic(self) -> HelpTopic {
        match self {
            Group::Ipcp => HelpTopic::Ipcp,
            Group::Bind => HelpTopic::Bind,
            Group::Unbind => HelpTopic::Unbind,
            Group::Name => HelpTopic::Name,
            Group::Help => HelpTopic::Irm,
        }
    }

    pub(crate) fn ops(self) -> Option<&'static Keywords<Option<HelpTopic>>> {
        match self {
            Group::Ipcp => Some(&IPCP_OPS),
            Group::Bind => Some(&BIND_OPS),
            Group::Unbind => Some(&UNBIND_OPS),
            Group::Name => Some(&NAME_OPS),
            Group::Help => None,
        }
    }
}

impl Command {
    /// Whether the command only reads irmd's state (`ipcp list`, `name
    /// list`, `help`): what irmd lets users who are not operators run.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Command::IpcpList { .. } | Command::IpcpStats { .. } | Command::NameList | Command::Help { .. }
        )
    }

    /// Parses the words after `irm` (argv without the program name).
    pub fn parse(words: &[&str]) -> Result<Command, CliError> {
        let Some((first, rest)) = words.split_first() else {
            return Err(CliError::MissingCommand {
                topic: HelpTopic::Irm,
                expected: GROUPS.list(),
            });
        };
        let (_, group) = GROUPS.resolve(first).ok_or_else(|| CliError::UnknownCommand {
            topic: HelpTopic::Irm,
            word: (*first).to_owned(),
            expected: GROUPS.list(),
        })?;
        let Some(ops) = group.ops() else {
            return help_command(rest).map(|topic| Command::Help { topic });
        };
        let gtopic = group.topic();
        let Some((op, args)) = rest.split_first() else {
            return Err(CliError::MissingCommand {
                topic: gtopic,
                expected: ops.list(),
            });
        };
        let (_, op) = ops.resolve(op).ok_or_else(|| CliError::UnknownCommand {
            topic: gtopic,
            word: (*op).to_owned(),
            expected: ops.list(),
        })?;
        let Some(topic) = op else {
            // `irm <group> help [<op>]`
            return help_from(gtopic, args).map(|topic| Command::Help { topic });
        };
        match parse_operation(topic, args) {
            Err(_) if args == ["help"] => Ok(Command::Help { topic }),
            other => other,
        }
    }
}

/// `irm help [<group> [<op>]]`.
fn help_command(words: &[&str]) -> Result<HelpTopic, CliError> {
    let Some((first, rest)) = words.split_first() else {
        return Ok(HelpTopic::Irm);
    };
    let (_, group) = GROUPS.resolve(first).ok_or_else(|| CliError::UnknownCommand {
        topic: HelpTopic::Irm,
        word: (*first).to_owned(),
        expected: GROUPS.list(),
    })?;
    match group {
        Group::Help => no_more(HelpTopic::Irm, rest).map(|()| HelpTopic::Irm),
        _ => help_from(group.topic(), rest),
    }
}

/// The topic named by `words` below `group` (`irm ipcp help bootstrap`).
fn help_from(group: HelpTopic, words: &[&str]) -> Result<HelpTopic, CliError> {
    let Some((first, rest)) = words.split_first() else {
        return Ok(group);
    };
    let ops = match group {
        HelpTopic::Ipcp => &IPCP_OPS,
        HelpTopic::Bind => &BIND_OPS,
        HelpTopic::Unbind => &UNBIND_OPS,
        _ => &NAME_OPS,
    };
    let (_, op) = ops.resolve(first).ok_or_else(|| CliError::UnknownCommand {
        topic: group,
        word: (*first).to_owned(),
        expected: ops.list(),
    })?;
    no_more(group, rest)?;
    Ok(op.unwrap_or(group))
}

fn no_more(topic: HelpTopic, words: &[&str]) -> Result<(), CliError> {
    match words.first() {
        None => Ok(()),
        Some(w) => Err(CliError::Unexpected {
            topic,
            word: (*w).to_owned(),
        }),
    }
}

fn parse_operation(topic: HelpTopic, args: &[&str]) -> Result<Command, CliError> {
    match topic {
        HelpTopic::IpcpCreate => ipcp_create(args),
        HelpTopic::IpcpDestroy => ipcp_destroy(args),
        HelpTopic::IpcpBootstrap => ipcp_bootstrap(args),
        HelpTopic::IpcpEnroll => ipcp_enroll(args),
        HelpTopic::IpcpConnect => ipcp_connect(args, true),
        HelpTopic::IpcpDisconnect => ipcp_connect(args, false),
        HelpTopic::IpcpList => ipcp_list(args),
        HelpTopic::IpcpStats => ipcp_stats(args),
        HelpTopic::BindProgram => bind_program(args),
        HelpTopic::BindProcess | HelpTopic::BindIpcp => bind_other(topic, args),
        HelpTopic::UnbindProgram | HelpTopic::UnbindProcess | HelpTopic::UnbindIpcp => unbind(topic, args),
        HelpTopic::NameCreate => name_create(args),
        HelpTopic::NameDestroy => name_destroy(args),
        HelpTopic::NameRegister | HelpTopic::NameUnregister => name_register(topic, args),
        HelpTopic::NameList => no_more(topic, args).map(|()| Command::NameList),
        HelpTopic::Irm | HelpTopic::Ipcp | HelpTopic::Bind | HelpTopic::Unbind | HelpTopic::Name => {
            Ok(Command::Help { topic })
        }
    }
}

// ----- value helpers --------------------------------------------------------

fn bad(topic: HelpTopic, option: &'static str) -> impl Fn(ValueProblem) -> CliError {
    move |problem| CliError::BadValue { topic, option, problem }
}

/// A name-like value (IPCP, layer, name, destination), checked.
fn name_value(topic: HelpTopic, option: &'static str, value: &str) -> Result<String, CliError> {
    check_name(value).map_err(bad(topic, option))?;
    Ok(value.to_owned())
}

fn require<T>(topic: HelpTopic, argument: &'static str, value: Option<T>) -> Result<T, CliError> {
    value.ok_or(CliError::MissingArgument { topic, argument })
}

fn ipcp_type_value(topic: HelpTopic, value: &str) -> Result<IpcpType, CliError> {
    value.parse().map_err(bad(topic, "type"))
}

fn pid_value(topic: HelpTopic, value: &str) -> Result<u32, CliError> {
    let n = crate::ipcp_config::parse_decimal(value).map_err(bad(topic, "pid"))?;
    if !(1..=i64::from(i32::MAX)).contains(&n) {
        return Err(bad(topic, "pid")(ValueProblem::OutOfRange {
            value: n,
            min: 1,
            max: i64::from(i32::MAX),
        }));
    }
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

// ----- ipcp -----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameType {
    Type,
    Name,
}

const CREATE_ARGS: &[Opt<NameType>] = &[value("type", NameType::Type), value("name", NameType::Name)];

fn ipcp_create(args: &[&str]) -> Result<Command, CliError> {
    let topic = HelpTopic::IpcpCreate;
    let p = parse_options(topic, CREATE_ARGS, args, false)?;
    let (mut name, mut ipcp_type) = (None, None);
    for g in &p.given {
        match g.key {
            NameType::Type => ipcp_type = Some(ipcp_type_value(topic, g.value())?),
            NameType::Name => name = Some(name_value(topic, "name", g.value())?),
        }
    }
    Ok(Command::IpcpCreate {
        name: require(topic, "name", name)?,
        ipcp_type: require(topic, "type", ipcp_type)?,
    })
}

const DESTROY_ARGS: &[Opt<NameType>] = &[value("name", NameType::Name)];

fn ipcp_destroy(args: &[&str]) -> Result<Command, CliError> {
    let topic = HelpTopic::IpcpDestroy;
    let p = parse_options(topic, DESTROY_ARGS, args, false)?;
    let name = p
        .given
        .first()
        .map(|g| name_value(topic, "name", g.value()))
        .transpose()?;
    Ok(Command::IpcpDestroy {
        name: require(topic, "name", name)?,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BootArg {
    Type,
    Layer,
    Name,
    Autobind,
    Opt(BootstrapKey),
}

/// In the C tool's order, which decides abbreviations (`d` is `dns`, `e`
/// is `ethertype`, `a` is `addr`, `dht` is `dht_alpha`, `ls` is `ls_t_timeo`).
const BOOTSTRAP_ARGS: &[Opt<BootArg>] = &[
    value("type", BootArg::Type),
    value("layer", BootArg::Layer),
    value("name", BootArg::Name),
    value("hash", BootArg::Opt(BootstrapKey::Hash)),
    value("ip", BootArg::Opt(BootstrapKey::Ip)),
    value("dns", BootArg::Opt(BootstrapKey::Dns)),
    value("device", BootArg::Opt(BootstrapKey::Dev)),
    value("ethertype", BootArg::Opt(BootstrapKey::Ethertype)),
    value("addr", BootArg::Opt(BootstrapKey::AddrSize)),
    value("eid", BootArg::Opt(BootstrapKey::EidSize)),
    value("ttl", BootArg::Opt(BootstrapKey::MaxTtl)),
    value("port", BootArg::Opt(BootstrapKey::Port)),
    flag("autobind", BootArg::Autobind),
    value("addr_auth", BootArg::Opt(BootstrapKey::AddrAuth)),
    value("directory", BootArg::Opt(BootstrapKey::Directory)),
    value("dht_alpha", BootArg::Opt(BootstrapKey::DhtAlpha)),
    value("dht_k", BootArg::Opt(BootstrapKey::DhtK)),
    value("dht_t_expire", BootArg::Opt(BootstrapKey::DhtTExpire)),
    value("dht_t_refresh", BootArg::Opt(BootstrapKey::DhtTRefresh)),
    value("dht_t_replicate", BootArg::Opt(BootstrapKey::DhtTReplicate)),
    value("routing", BootArg::Opt(BootstrapKey::Routing)),
    value("ls_t_timeo", BootArg::Opt(BootstrapKey::LsTTimeo)),
    value("ls_t_update", BootArg::Opt(BootstrapKey::LsTUpdate)),
    value("ls_t_recalc", BootArg::Opt(BootstrapKey::LsTRecalc)),
    value("congestion", BootArg::Opt(BootstrapKey::Congestion)),
];

fn ipcp_bootstrap(args: &[&str]) -> Result<Command, CliError> {
    let topic = HelpTopic::IpcpBootstrap;
    let p = parse_options(topic, BOOTSTRAP_ARGS, args, false)?;
    let (mut name, mut layer, mut ipcp_type, mut autobind) = (None, None, None, false);
    let mut options = BootstrapOptions::default();
    for g in &p.given {
        match g.key {
            BootArg::Type => ipcp_type = Some(ipcp_type_value(topic, g.value())?),
            BootArg::Layer => layer = Some(name_value(topic, "layer", g.value())?),
            BootArg::Name => name = Some(name_value(topic, "name", g.value())?),
            BootArg::Autobind => autobind = true,
            BootArg::Opt(key) => {
                options
                    .set_str(key, g.value())
                    .map_err(|e| bad(topic, g.keyword)(e.problem))?;
                if key == BootstrapKey::EidSize && options.eid_size != Some(8) {
                    return Err(bad(topic, g.keyword)(ValueProblem::Invalid {
                        value: g.value().to_owned(),
                        reason: "is not supported: DT EIDs are 8 octets",
                    }));
                }
            }
        }
    }
    let name = require(topic, "name", name)?;
    let layer = require(topic, "layer", layer)?;
    let config = match ipcp_type {
        None => Bootstrap::Untyped(options),
        Some(t) => {
            if autobind && !t.enrols() {
                return Err(bad(topic, "autobind")(ValueProblem::NotForType(t)));
            }
            let config = options
                .resolve(t)
                .map_err(|e| bad(topic, e.key.cli_keyword())(e.problem))?;
            Bootstrap::Typed(config)
        }
    };
    Ok(Command::IpcpBootstrap(IpcpBootstrap {
        name,
        layer,
        config,
        autobind,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnrollArg {
    Name,
    Type,
    Layer,
    Dst,
    Autobind,
}

const ENROLL_ARGS: &[Opt<EnrollArg>] = &[
    value("name", EnrollArg::Name),
    value("type", EnrollArg::Type),
    value("layer", EnrollArg::Layer),
    value("dst", EnrollArg::Dst),
    flag("autobind", EnrollArg::Autobind),
];

fn ipcp_enroll(args: &[&str]) -> Result<Command, CliError> {
    let topic = HelpTopic::IpcpEnroll;
    let p = parse_options(topic, ENROLL_ARGS, args, false)?;
    let (mut name, mut layer, mut dst, mut autobind) = (None, None, None, false);
    let mut ipcp_type = IpcpType::Unicast;
    for g in &p.given {
        match g.key {
            EnrollArg::Name => name = Some(name_value(topic, "name", g.value())?),
            EnrollArg::Layer => layer = Some(name_value(topic, "layer", g.value())?),
            EnrollArg::Dst => dst = Some(name_value(topic, "dst", g.value())?),
            EnrollArg::Autobind => autobind = true,
            EnrollArg::Type => {
                ipcp_type = match g.value() {
                    "unicast" => IpcpType::Unicast,
                    "broadcast" => IpcpType::Broadcast,
                    other => {
                        return Err(bad(topic, "type")(ValueProblem::NotOneOf {
                            value: other.to_owned(),
                            expected: "unicast, broadcast",
                        }));
                    }
                }
            }
        }
    }
    let name = require(topic, "name", name)?;
    let dst = require(topic, "layer or dst", dst.or_else(|| layer.clone()))?;
    Ok(Command::IpcpEnroll {
        name,
        layer,
        dst,
        ipcp_type,
        autobind,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnectArg {
    Name,
    Dst,
    Component,
    Qos,
}

const CONNECT_ARGS: &[Opt<ConnectArg>] = &[
    value("name", ConnectArg::Name),
    value("dst", ConnectArg::Dst),
    value("component", ConnectArg::Component),
    value("qos", ConnectArg::Qos),
];

const DISCONNECT_ARGS: &[Opt<ConnectArg>] = &[
    value("name", ConnectArg::Name),
    value("dst", ConnectArg::Dst),
    value("component", ConnectArg::Component),
];

fn ipcp_connect(args: &[&str], connect: bool) -> Result<Command, CliError> {
    let (topic, table) = if connect {
        (HelpTopic::IpcpConnect, CONNECT_ARGS)
    } else {
        (HelpTopic::IpcpDisconnect, DISCONNECT_ARGS)
    };
    let p = parse_options(topic, table, args, false)?;
    let (mut name, mut dst, mut component, mut qos) = (None, None, None, None);
    for g in &p.given {
        match g.key {
            ConnectArg::Name => name = Some(name_value(topic, "name", g.value())?),
            ConnectArg::Dst => dst = Some(name_value(topic, "dst", g.value())?),
            ConnectArg::Component => {
                component = Some(match g.value() {
                    "dt" => Component::Dt,
                    "mgmt" => Component::Mgmt,
                    other => {
                        return Err(bad(topic, "component")(ValueProblem::NotOneOf {
                            value: other.to_owned(),
                            expected: "dt, mgmt",
                        }));
                    }
                })
            }
            ConnectArg::Qos => {
                qos = Some(g.value().parse::<QosSpec>().map_err(|e| {
                    bad(topic, "qos")(ValueProblem::NotOneOf {
                        value: e.0,
                        expected: "raw, best, video, voice, data",
                    })
                })?)
            }
        }
    }
    if component == Some(Component::Mgmt) && qos.is_some() {
        return Err(CliError::Conflict {
            topic,
            reason: "`qos` applies to the dt component only (management flows are always raw)",
        });
    }
    let name = require(topic, "name", name)?;
    let dst = require(topic, "dst", dst)?;
    Ok(if connect {
        Command::IpcpConnect {
            name,
            dst,
            component,
            qos: qos.unwrap_or(QosSpec::RAW),
        }
    } else {
        Command::IpcpDisconnect { name, dst, component }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListArg {
    Type,
    Name,
    Layer,
}

const LIST_ARGS: &[Opt<ListArg>] = &[
    value("type", ListArg::Type),
    value("name", ListArg::Name),
    value("layer", ListArg::Layer),
];

fn ipcp_list(args: &[&str]) -> Result<Command, CliError> {
    let topic = HelpTopic::IpcpList;
    let p = parse_options(topic, LIST_ARGS, args, false)?;
    let (mut name, mut layer, mut ipcp_type) = (None, None, None);
    for g in &p.given {
        match g.key {
            ListArg::Type => ipcp_type = Some(ipcp_type_value(topic, g.value())?),
            ListArg::Name => name = Some(name_value(topic, "name", g.value())?),
            ListArg::Layer => layer = Some(name_value(topic, "layer", g.value())?),
        }
    }
    Ok(Command::IpcpList { name, layer, ipcp_type })
}

const STATS_ARGS: &[Opt<ListArg>] = &[value("name", ListArg::Name)];

fn ipcp_stats(args: &[&str]) -> Result<Command, CliError> {
    let topic = HelpTopic::IpcpStats;
    let p = parse_options(topic, STATS_ARGS, args, false)?;
    let name = p
        .given
        .iter()
        .map(|g| name_value(topic, "name", g.value()))
        .next_back()
        .transpose()?;
    Ok(Command::IpcpStats { name })
}

// ----- bind / unbind --------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BindArg {
    Name,
    Auto,
}

const BIND_PROGRAM_ARGS: &[Opt<BindArg>] = &[value("name", BindArg::Name), flag("auto", BindArg::Auto)];
const NAME_ONLY: &[Opt<BindArg>] = &[value("name", BindArg::Name)];

fn the_name<K: Copy + PartialEq>(topic: HelpTopic, given: &[Given<'_, K>], key: K) -> Result<Option<String>, CliError> {
    given
        .iter()
        .find(|g| g.key == key)
        .map(|g| name_value(topic, "name", g.value()))
        .transpose()
}

fn program_path(topic: HelpTopic, path: &str) -> Result<PathBuf, CliError> {
    if path.is_empty() {
        return Err(bad(topic, "program")(ValueProblem::Invalid {
            value: String::new(),
            reason: "is empty",
        }));
    }
    Ok(PathBuf::from(path))
}

fn bind_program(args: &[&str]) -> Result<Command, CliError> {
    let topic = HelpTopic::BindProgram;
    let (path, args) = positional(topic, args, "program")?;
    let path = program_path(topic, path)?;
    let p = parse_options(topic, BIND_PROGRAM_ARGS, args, true)?;
    let name = require(topic, "name", the_name(topic, &p.given, BindArg::Name)?)?;
    let auto = p.given.iter().any(|g| g.key == BindArg::Auto);
    let args: Vec<String> = p.rest.unwrap_or_default().iter().map(|s| (*s).to_owned()).collect();
    if !auto && !args.is_empty() {
        return Err(CliError::Conflict {
            topic,
            reason: "arguments after `--` are only used with `auto` (irmd starts the program with them)",
        });
    }
    Ok(Command::BindProgram { path, name, auto, args })
}

fn bind_other(topic: HelpTopic, args: &[&str]) -> Result<Command, CliError> {
    let what = if topic == HelpTopic::BindProcess { "pid" } else { "ipcp" };
    let (first, args) = positional(topic, args, what)?;
    let p = parse_options(topic, NAME_ONLY, args, false)?;
    let name = require(topic, "name", the_name(topic, &p.given, BindArg::Name)?)?;
    Ok(if topic == HelpTopic::BindProcess {
        Command::BindProcess {
            pid: pid_value(topic, first)?,
            name,
        }
    } else {
        Command::BindIpcp {
            ipcp: name_value(topic, "ipcp", first)?,
            name,
        }
    })
}

fn unbind(topic: HelpTopic, args: &[&str]) -> Result<Command, CliError> {
    let what = match topic {
        HelpTopic::UnbindProgram => "program",
        HelpTopic::UnbindProcess => "pid",
        _ => "ipcp",
    };
    let (first, args) = positional(topic, args, what)?;
    let p = parse_options(topic, NAME_ONLY, args, false)?;
    let name = the_name(topic, &p.given, BindArg::Name)?;
    Ok(match topic {
        HelpTopic::UnbindProgram => Command::UnbindProgram {
            path: program_path(topic, first)?,
            name,
        },
        HelpTopic::UnbindProcess => Command::UnbindProcess {
            pid: pid_value(topic, first)?,
            name,
        },
        _ => Command::UnbindIpcp {
            ipcp: name_value(topic, "ipcp", first)?,
            name,
        },
    })
}

// ----- name -----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreateArg {
    Lb,
    Path(SecurityFile),
}

const NAME_CREATE_ARGS: &[Opt<CreateArg>] = &[
    value("lb", CreateArg::Lb),
    value("sencpath", CreateArg::Path(SecurityFile::ServerEnc)),
    value("scrtpath", CreateArg::Path(SecurityFile::ServerCrt)),
    value("skeypath", CreateArg::Path(SecurityFile::ServerKey)),
    value("cencpath", CreateArg::Path(SecurityFile::ClientEnc)),
    value("ccrtpath", CreateArg::Path(SecurityFile::ClientCrt)),
    value("ckeypath", CreateArg::Path(SecurityFile::ClientKey)),
];

fn name_create(args: &[&str]) -> Result<Command, CliError> {
    let topic = HelpTopic::NameCreate;
    let (name, args) = positional(topic, args, "name")?;
    let name = name_value(topic, "name", name)?;
    let p = parse_options(topic, NAME_CREATE_ARGS, args, false)?;
    let mut lb = LoadBalance::CLI_DEFAULT;
    let mut paths = SecurityPaths::default();
    for g in &p.given {
        match g.key {
            CreateArg::Lb => lb = g.value().parse().map_err(bad(topic, "lb"))?,
            CreateArg::Path(file) => {
                *paths.slot(file) = Some(program_path(topic, g.value()).map_err(|_| {
                    bad(topic, g.keyword)(ValueProblem::Invalid {
                        value: String::new(),
                        reason: "is empty",
                    })
                })?)
            }
        }
    }
    Ok(Command::NameCreate { name, lb, paths })
}

fn name_destroy(args: &[&str]) -> Result<Command, CliError> {
    let topic = HelpTopic::NameDestroy;
    let (name, rest) = positional(topic, args, "name")?;
    let name = name_value(topic, "name", name)?;
    no_more(topic, rest)?;
    Ok(Command::NameDestroy { name })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegArg {
    Layer,
    Ipcp,
}

const REGISTER_ARGS: &[Opt<RegArg>] = &[
    repeated("layer", RegArg::Layer, MAX_REGISTER_TARGETS),
    repeated("ipcp", RegArg::Ipcp, MAX_REGISTER_TARGETS),
];

fn name_register(topic: HelpTopic, args: &[&str]) -> Result<Command, CliError> {
    let (name, args) = positional(topic, args, "name")?;
    let name = name_value(topic, "name", name)?;
    let p = parse_options(topic, REGISTER_ARGS, args, false)?;
    let (mut ipcps, mut layers) = (Vec::new(), Vec::new());
    for g in &p.given {
        match g.key {
            RegArg::Ipcp => ipcps.push(name_value(topic, "ipcp", g.value())?),
            RegArg::Layer => layers.push(name_value(topic, "layer", g.value())?),
        }
    }
    if ipcps.is_empty() && layers.is_empty() {
        return Err(CliError::MissingArgument {
            topic,
            argument: "ipcp or layer",
        });
    }
    Ok(if topic == HelpTopic::NameRegister {
        Command::NameRegister { name, ipcps, layers }
    } else {
        Command::NameUnregister { name, ipcps, layers }
    })
}

#[cfg(test)]
mod tests;
