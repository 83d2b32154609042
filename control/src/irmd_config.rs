//! The irmd configuration file (PROTOCOL.md §17.4): TOML, read at start,
//! parsed here without I/O into names to create and IPCPs to set up.
//!
//! ```text
//! [name.oping]                 NameConfig   prog = [paths], args = [strings],
//!                                           lb = "spill" | "round-robin", six *_file paths
//! [<kind>.<ipcp>]              IpcpConfig   kind = local | eth-llc | eth-dix | udp4 | udp6 | broadcast | unicast
//!   bootstrap = "<layer>"  ─┐               IpcpAction::Bootstrap { layer, config: BootstrapConfig }
//!   enrol = "<member>"     ─┼─ action       IpcpAction::Enrol { dst }
//!   (neither)              ─┘               IpcpAction::Create
//!   autobind, reg = [..], conn = [..]       then, in this order: bind, register, connect
//!   <bootstrap keys of the kind>            see ipcp_config (file spelling: addr_size, max_ttl, addr-auth, dev, …)
//! ```
//!
//! Names and IPCPs are kept in file order (`toml` with `preserve_order`):
//! the C IRMd acts on the tables in the order written, and so should irmd,
//! which creates the names first (so `reg` and bindings find them) and then
//! the IPCPs in order (a shim before the unicast layer that enrols over it).
//!
//! Every key is checked: an unknown key is an error naming the table and the
//! key (with a suggestion when it is close to a known one), and so is a key
//! of another kind (`dev` in a unicast table), a value of the wrong TOML
//! type, or a value out of range. The C parser read only the keys it knew
//! and ignored every other, so a typo silently fell back to a default.
//!
//! # The C parser's quirks, decided
//!
//! A file the C irmd loads must load here (with the exceptions below, which
//! never gave a working layer), but where C does something surprising, irmd
//! does the sensible thing and says so with a [`ConfigWarning`] (logged with
//! `tracing::warn!` and kept in [`IrmdConfig::warnings`]).
//!
//! | C behaviour | here | warning |
//! |---|---|---|
//! | `hash` is not read for unicast (always SHA3-256) | read and honoured | when it is not SHA3_256 ([`ConfigWarning::UnicastHashHonoured`]) |
//! | `congestion = "lfa"` means mb-ecn; `"mb-ecn"` is refused | both accepted as mb-ecn, `"none"` as none | for `"lfa"` ([`ConfigWarning::CongestionLfa`]) |
//! | `autobind = false` binds all the same | `false` does not bind | yes ([`ConfigWarning::AutobindFalse`]) |
//! | `dht_t_expiry` (the example file's spelling) is ignored | read as `dht_t_expire`; both at once is an error | yes ([`ConfigWarning::DhtTExpiry`]) |
//! | `eid_size` other than 8: warned and forced to 8 by the IPCP | forced to 8 here | yes ([`ConfigWarning::EidSizeForced`]) |
//! | `bootstrap` and `enrol` both: enrols, logs an error | enrols | yes ([`ConfigWarning::BootstrapIgnored`]) |
//! | bootstrap keys in an enrolling table: ignored | ignored | yes ([`ConfigWarning::BootstrapKeysIgnored`]) |
//! | `conn` after `bootstrap`: ignored (only enrolment connects) | ignored | yes ([`ConfigWarning::ConnIgnored`]) |
//! | `reg`, `conn`, `autobind` without `bootstrap` or `enrol`: ignored (C returns early) | ignored | yes ([`ConfigWarning::IgnoredWithoutAction`]) |
//! | more `args` than `prog`: the extra ones ignored | ignored | yes ([`ConfigWarning::ExtraArgs`]) |
//! | `autobind` on a shim binds it | binds it | no (same behaviour) |
//! | `directory = "dht"` (lower case) accepted | accepted | no |
//! | `routing = "link-state"` (the CLI says `link_state`) | both accepted | no |
//! | `lb = "spill"` (the CLI says `spillover`) | both accepted | no |
//!
//! Refused although C loads the file (each fails later in C, or silently
//! does something else than written): `ip = "0.0.0.0"`, a `dns` that is not
//! an address (C's check of `inet_pton` was wrong), `port`, `max_ttl`,
//! `ethertype` beyond their fields (C let them wrap), `addr_size` other
//! than 4 (the IPCP refuses it at bootstrap), `enrol` or `conn` on a shim,
//! the same IPCP name under two kinds, and `hash` on broadcast or UDP
//! layers (their hash is forced).
//!
//! Paths (`prog`, `*_file`) are kept as written: the C parser resolved the
//! `*_file` paths with `realpath` at load time (so they had to exist then);
//! here nothing touches the file system, and irmd checks them when it
//! applies them.

use core::fmt;
use core::str::FromStr;
use std::path::PathBuf;

use o7s_wire::hash::HashAlgo;
use toml::Value;

use crate::ipcp_config::{
    BootstrapConfig, BootstrapKey, BootstrapOptions, CongestionAvoidance, IpcpType, ValueKind, ValueProblem,
    parse_ethertype,
};
use crate::name_info::{LoadBalance, SecurityFile, SecurityPaths, check_name};

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IrmdConfig {
    /// `[name.<n>]` tables, in file order.
    pub names: Vec<NameConfig>,
    /// `[<kind>.<ipcp>]` tables, in file order.
    pub ipcps: Vec<IpcpConfig>,
    /// What was accepted but differs from the C irmd, or is ignored.
    pub warnings: Vec<ConfigWarning>,
}

/// A `[name.<n>]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameConfig {
    /// The name.
    pub name: String,
    /// Load balancing; spill-over by default.
    pub lb: LoadBalance,
    /// Programs bound to the name.
    pub programs: Vec<ProgramConfig>,
    /// OAP files given; the rest default under the security directory.
    pub security: SecurityPaths,
}

/// One entry of `prog`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramConfig {
    /// The program.
    pub path: PathBuf,
    /// `Some` when `args` has an entry at the same index: irmd starts the
    /// program with these arguments (the entry split at spaces) when a flow
    /// arrives for the name. An empty entry starts it with none.
    pub auto_args: Option<Vec<String>>,
}

/// What irmd does with an IPCP after creating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpcpAction {
    /// Nothing more.
    Create,
    /// `bootstrap = "<layer>"`.
    Bootstrap {
        /// The layer.
        layer: String,
        /// Its configuration.
        config: BootstrapConfig,
    },
    /// `enrol = "<member>"`.
    Enrol {
        /// The member to enrol through.
        dst: String,
    },
}

/// A `[<kind>.<ipcp>]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpcpConfig {
    /// The IPCP's name.
    pub name: String,
    /// Its type (the table's kind).
    pub ipcp_type: IpcpType,
    /// Bootstrap, enrol, or only create.
    pub action: IpcpAction,
    /// Bind the IPCP to its name and its layer's name after the action.
    pub autobind: bool,
    /// Names to create (spill-over) if unknown and register with the IPCP.
    pub reg: Vec<String>,
    /// Members to connect to after enrolment: management, then data
    /// transfer, both with QoS raw.
    pub conn: Vec<String>,
    /// udp4 / udp6: names found without DNS (`hosts = { oping =
    /// "10.9.0.2" }`, an o7s key).
    pub hosts: Vec<(String, std::net::IpAddr)>,
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML.
    #[error("irmd configuration is not valid TOML: {0}")]
    Syntax(String),
    /// A top-level key that is neither `name` nor an IPCP kind.
    #[error("unknown top-level key `{0}`; expected tables [name.<name>] or [<kind>.<ipcp>] with kind one of {kinds}", kinds = IpcpType::KEYWORDS)]
    UnknownKind(String),
    /// Something that should be a table and is not.
    #[error("`{path}` must be a table, not {found}")]
    NotATable {
        /// Where.
        path: String,
        /// What the file has there.
        found: &'static str,
    },
    /// The name part of a table header is no valid name.
    #[error("[{table}]: the name {problem}")]
    BadName {
        /// The table.
        table: String,
        /// What is wrong.
        problem: ValueProblem,
    },
    /// A key the table does not have.
    #[error("[{table}]: unknown key `{key}`{hint}")]
    UnknownKey {
        /// The table.
        table: String,
        /// The key.
        key: String,
        /// ` (did you mean `…`?)`, or empty.
        hint: String,
    },
    /// A value that is refused.
    #[error("[{table}]: `{key}` {problem}")]
    BadValue {
        /// The table.
        table: String,
        /// The key.
        key: String,
        /// What is wrong.
        problem: ValueProblem,
    },
    /// Keys that contradict each other.
    #[error("[{table}]: {reason}")]
    Conflict {
        /// The table.
        table: String,
        /// Why.
        reason: &'static str,
    },
    /// One IPCP name under two kinds.
    #[error("IPCP {name:?} is defined twice, as [{first}] and [{second}]")]
    DuplicateIpcp {
        /// The name.
        name: String,
        /// The first table.
        first: String,
        /// The second.
        second: String,
    },
}

/// Something accepted that the C irmd would do differently, or that is
/// ignored; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigWarning {
    /// `autobind = false` is honoured; C binds when the key is present.
    AutobindFalse {
        /// The table.
        table: String,
    },
    /// `congestion = "lfa"` read as mb-ecn, as C does.
    CongestionLfa {
        /// The table.
        table: String,
    },
    /// A unicast `hash` other than SHA3-256 is used; C ignores it.
    UnicastHashHonoured {
        /// The table.
        table: String,
        /// The hash used.
        hash: HashAlgo,
    },
    /// `dht_t_expiry` read as `dht_t_expire`; C ignores it.
    DhtTExpiry {
        /// The table.
        table: String,
    },
    /// `eid_size` other than 8 forced to 8, as the C IPCP does.
    EidSizeForced {
        /// The table.
        table: String,
        /// What the file said.
        value: i64,
    },
    /// `bootstrap` ignored because `enrol` is given too.
    BootstrapIgnored {
        /// The table.
        table: String,
    },
    /// Bootstrap keys in a table that enrols.
    BootstrapKeysIgnored {
        /// The table.
        table: String,
        /// The keys, file spelling.
        keys: Vec<&'static str>,
    },
    /// `conn` in a table that bootstraps.
    ConnIgnored {
        /// The table.
        table: String,
    },
    /// Keys that act after `bootstrap` or `enrol`, in a table with neither.
    IgnoredWithoutAction {
        /// The table.
        table: String,
        /// The keys.
        keys: Vec<&'static str>,
    },
    /// `args` longer than `prog`.
    ExtraArgs {
        /// The table.
        table: String,
        /// How many entries have no program.
        extra: usize,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigWarning::AutobindFalse { table } => write!(
                f,
                "[{table}]: `autobind = false` does not bind the IPCP (the C irmd binds whenever the key is present)"
            ),
            ConfigWarning::CongestionLfa { table } => write!(
                f,
                "[{table}]: `congestion = \"lfa\"` is read as mb-ecn, as the C irmd does; write \"mb-ecn\""
            ),
            ConfigWarning::UnicastHashHonoured { table, hash } => write!(
                f,
                "[{table}]: the layer hashes names with {hash}; the C irmd ignores `hash` for unicast and uses SHA3_256"
            ),
            ConfigWarning::DhtTExpiry { table } => write!(
                f,
                "[{table}]: `dht_t_expiry` is read as `dht_t_expire`; the C irmd ignores it and keeps 86400"
            ),
            ConfigWarning::EidSizeForced { table, value } => {
                write!(f, "[{table}]: `eid_size = {value}` is forced to 8, as in the C IPCP")
            }
            ConfigWarning::BootstrapIgnored { table } => {
                write!(
                    f,
                    "[{table}]: both `bootstrap` and `enrol`: enrolling, `bootstrap` ignored"
                )
            }
            ConfigWarning::BootstrapKeysIgnored { table, keys } => write!(
                f,
                "[{table}]: the IPCP enrols, so the bootstrap-only {} ignored; the layer's configuration comes from the enroller",
                key_list(keys)
            ),
            ConfigWarning::ConnIgnored { table } => write!(
                f,
                "[{table}]: `conn` is acted on after enrolment only; ignored for an IPCP that bootstraps, as in C"
            ),
            ConfigWarning::IgnoredWithoutAction { table, keys } => write!(
                f,
                "[{table}]: neither `bootstrap` nor `enrol`, so {} ignored, as in C",
                key_list(keys)
            ),
            ConfigWarning::ExtraArgs { table, extra } => {
                write!(
                    f,
                    "[{table}]: {extra} `args` entries have no `prog` entry and are ignored"
                )
            }
        }
    }
}

fn key_list(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    let verb = if keys.len() == 1 { "is" } else { "are" };
    format!("{} {verb}", quoted.join(", "))
}

impl FromStr for IrmdConfig {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<IrmdConfig, ConfigError> {
        IrmdConfig::parse(text)
    }
}

impl IrmdConfig {
    /// Parses the text of a configuration file, logging each warning.
    pub fn parse(text: &str) -> Result<IrmdConfig, ConfigError> {
        let root: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        let mut config = IrmdConfig::default();
        for (kind, value) in &root {
            let ipcp_type = if kind == "name" {
                None
            } else {
                Some(
                    kind.parse::<IpcpType>()
                        .map_err(|_| ConfigError::UnknownKind(kind.clone()))?,
                )
            };
            let tables = as_table(kind, value)?;
            for (name, value) in tables {
                let table = table_path(kind, name);
                let body = as_table(&table, value)?;
                check_name(name).map_err(|problem| ConfigError::BadName {
                    table: table.clone(),
                    problem,
                })?;
                match ipcp_type {
                    None => config.names.push(name_table(&table, name, body, &mut config.warnings)?),
                    Some(t) => {
                        if let Some(first) = config.ipcps.iter().find(|i| i.name == *name) {
                            return Err(ConfigError::DuplicateIpcp {
                                name: name.clone(),
                                first: table_path(first.ipcp_type.keyword(), name),
                                second: table,
                            });
                        }
                        config
                            .ipcps
                            .push(ipcp_table(&table, t, name, body, &mut config.warnings)?);
                    }
                }
            }
        }
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        Ok(config)
    }
}

/// `kind.name` as a TOML header would write it (quoting names with dots).
fn table_path(kind: &str, name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        format!("{kind}.{name}")
    } else {
        format!("{kind}.{name:?}")
    }
}

fn as_table<'v>(path: &str, value: &'v Value) -> Result<&'v toml::Table, ConfigError> {
    value.as_table().ok_or_else(|| ConfigError::NotATable {
        path: path.to_owned(),
        found: article(value.type_str()),
    })
}

fn article(type_str: &'static str) -> &'static str {
    match type_str {
        "string" => "a string",
        "integer" => "an integer",
        "float" => "a float",
        "boolean" => "a boolean",
        "datetime" => "a datetime",
        "array" => "an array",
        _ => "a table",
    }
}

fn wrong_type(table: &str, key: &str, expected: &'static str, value: &Value) -> ConfigError {
    ConfigError::BadValue {
        table: table.to_owned(),
        key: key.to_owned(),
        problem: ValueProblem::WrongType {
            expected,
            found: article(value.type_str()),
        },
    }
}

fn string<'v>(table: &str, key: &str, value: &'v Value) -> Result<&'v str, ConfigError> {
    value.as_str().ok_or_else(|| wrong_type(table, key, "a string", value))
}

fn strings<'v>(table: &str, key: &str, value: &'v Value) -> Result<Vec<&'v str>, ConfigError> {
    let not_strings = || wrong_type(table, key, "an array of strings", value);
    value
        .as_array()
        .ok_or_else(not_strings)?
        .iter()
        .map(|v| v.as_str().ok_or_else(not_strings))
        .collect()
}

fn name_value(table: &str, key: &str, value: &str) -> Result<String, ConfigError> {
    check_name(value).map_err(|problem| ConfigError::BadValue {
        table: table.to_owned(),
        key: key.to_owned(),
        problem,
    })?;
    Ok(value.to_owned())
}

fn path_value(table: &str, key: &str, value: &str) -> Result<PathBuf, ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::BadValue {
            table: table.to_owned(),
            key: key.to_owned(),
            problem: ValueProblem::Invalid {
                value: String::new(),
                reason: "is empty",
            },
        });
    }
    Ok(PathBuf::from(value))
}

const NAME_KEYS: [&str; 9] = [
    "prog",
    "args",
    "lb",
    "server_enc_file",
    "server_crt_file",
    "server_key_file",
    "client_enc_file",
    "client_crt_file",
    "client_key_file",
];

fn name_table(
    table: &str,
    name: &str,
    body: &toml::Table,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<NameConfig, ConfigError> {
    let mut config = NameConfig {
        name: name.to_owned(),
        lb: LoadBalance::FILE_DEFAULT,
        programs: Vec::new(),
        security: SecurityPaths::default(),
    };
    let mut args: Option<Vec<&str>> = None;
    for (key, value) in body {
        match key.as_str() {
            "prog" => {
                for path in strings(table, key, value)? {
                    config.programs.push(ProgramConfig {
                        path: path_value(table, key, path)?,
                        auto_args: None,
                    });
                }
            }
            "args" => args = Some(strings(table, key, value)?),
            "lb" => {
                config.lb = string(table, key, value)?
                    .parse()
                    .map_err(|problem| ConfigError::BadValue {
                        table: table.to_owned(),
                        key: key.clone(),
                        problem,
                    })?
            }
            other => {
                let file = SecurityFile::ALL
                    .into_iter()
                    .find(|f| f.toml_key() == other)
                    .ok_or_else(|| unknown_key(table, other, &NAME_KEYS))?;
                *config.security.slot(file) = Some(path_value(table, key, string(table, key, value)?)?);
            }
        }
    }
    if let Some(args) = args {
        // C splits each entry at spaces, without quoting.
        for (program, line) in config.programs.iter_mut().zip(&args) {
            program.auto_args = Some(line.split(' ').filter(|w| !w.is_empty()).map(str::to_owned).collect());
        }
        if args.len() > config.programs.len() {
            warnings.push(ConfigWarning::ExtraArgs {
                table: table.to_owned(),
                extra: args.len() - config.programs.len(),
            });
        }
    }
    Ok(config)
}

const IPCP_KEYS: [&str; 5] = ["bootstrap", "enrol", "autobind", "reg", "conn"];

/// A key in an IPCP table, once recognised.
enum IpcpKey {
    Common(&'static str),
    /// `hosts`, the UDP layers' static directory (an o7s key).
    Hosts,
    Bootstrap(BootstrapKey),
    /// `dht_t_expiry`, the example file's spelling.
    DhtTExpiry,
}

fn ipcp_key(key: &str) -> Option<IpcpKey> {
    if let Some(common) = IPCP_KEYS.into_iter().find(|k| *k == key) {
        return Some(IpcpKey::Common(common));
    }
    if key == "dht_t_expiry" {
        return Some(IpcpKey::DhtTExpiry);
    }
    if key == "hosts" {
        return Some(IpcpKey::Hosts);
    }
    BootstrapKey::ALL
        .into_iter()
        .find(|k| k.toml_key() == key)
        .map(IpcpKey::Bootstrap)
}

fn ipcp_table(
    table: &str,
    ipcp_type: IpcpType,
    name: &str,
    body: &toml::Table,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<IpcpConfig, ConfigError> {
    let bad = |key: &str, problem| ConfigError::BadValue {
        table: table.to_owned(),
        key: key.to_owned(),
        problem,
    };
    let (mut bootstrap, mut enrol, mut autobind) = (None, None, None);
    let (mut reg, mut conn) = (Vec::new(), Vec::new());
    let mut hosts = Vec::new();
    let mut options = BootstrapOptions::default();
    let mut bootstrap_keys: Vec<&'static str> = Vec::new();
    let mut expiry_alias = false;

    for (key, value) in body {
        let known = ipcp_key(key).ok_or_else(|| unknown_key(table, key, &keys_of(ipcp_type)))?;
        let bkey = match known {
            IpcpKey::Common("bootstrap") => {
                bootstrap = Some(name_value(table, key, string(table, key, value)?)?);
                continue;
            }
            IpcpKey::Common("enrol") => {
                if !ipcp_type.enrols() {
                    return Err(bad(key, ValueProblem::NotForType(ipcp_type)));
                }
                enrol = Some(name_value(table, key, string(table, key, value)?)?);
                continue;
            }
            IpcpKey::Common("autobind") => {
                autobind = Some(
                    value
                        .as_bool()
                        .ok_or_else(|| wrong_type(table, key, "a boolean", value))?,
                );
                continue;
            }
            IpcpKey::Common("reg") => {
                for n in strings(table, key, value)? {
                    reg.push(name_value(table, key, n)?);
                }
                continue;
            }
            IpcpKey::Common(_) => {
                if !ipcp_type.enrols() {
                    return Err(bad(key, ValueProblem::NotForType(ipcp_type)));
                }
                for n in strings(table, key, value)? {
                    conn.push(name_value(table, key, n)?);
                }
                continue;
            }
            IpcpKey::DhtTExpiry => {
                expiry_alias = true;
                BootstrapKey::DhtTExpire
            }
            IpcpKey::Hosts => {
                if !matches!(ipcp_type, IpcpType::Udp4 | IpcpType::Udp6) {
                    return Err(bad(key, ValueProblem::NotForType(ipcp_type)));
                }
                hosts = hosts_table(table, key, value, ipcp_type)?;
                continue;
            }
            IpcpKey::Bootstrap(k) => k,
        };
        if !bkey.applies_to(ipcp_type) {
            return Err(bad(key, ValueProblem::NotForType(ipcp_type)));
        }
        if options.is_set(bkey) {
            return Err(ConfigError::Conflict {
                table: table.to_owned(),
                reason: "both `dht_t_expire` and `dht_t_expiry` are given; keep `dht_t_expire`",
            });
        }
        bootstrap_keys.push(bkey.toml_key());
        set_option(table, bkey, value, &mut options, warnings).map_err(|problem| bad(key, problem))?;
    }

    if expiry_alias {
        warnings.push(ConfigWarning::DhtTExpiry {
            table: table.to_owned(),
        });
    }
    // C binds for a present `autobind = false`, but only once it acts
    // (bootstrap or enrol); without an action nothing differs.
    if autobind == Some(false) && (bootstrap.is_some() || enrol.is_some()) {
        warnings.push(ConfigWarning::AutobindFalse {
            table: table.to_owned(),
        });
    }
    let mut autobind = autobind.unwrap_or(false);

    let action = match (bootstrap, enrol) {
        (bootstrap, Some(dst)) => {
            if bootstrap.is_some() {
                warnings.push(ConfigWarning::BootstrapIgnored {
                    table: table.to_owned(),
                });
            }
            if !bootstrap_keys.is_empty() {
                warnings.push(ConfigWarning::BootstrapKeysIgnored {
                    table: table.to_owned(),
                    keys: bootstrap_keys,
                });
            }
            IpcpAction::Enrol { dst }
        }
        (Some(layer), None) => {
            let config = options
                .resolve(ipcp_type)
                .map_err(|e| bad(e.key.toml_key(), e.problem))?;
            if let BootstrapConfig::Unicast(u) = &config
                && u.hash != HashAlgo::Sha3_256
            {
                warnings.push(ConfigWarning::UnicastHashHonoured {
                    table: table.to_owned(),
                    hash: u.hash,
                });
            }
            if !conn.is_empty() {
                warnings.push(ConfigWarning::ConnIgnored {
                    table: table.to_owned(),
                });
                conn.clear();
            }
            IpcpAction::Bootstrap { layer, config }
        }
        (None, None) => {
            let mut ignored: Vec<&'static str> = Vec::new();
            if autobind {
                ignored.push("autobind");
            }
            if !reg.is_empty() {
                ignored.push("reg");
            }
            if !conn.is_empty() {
                ignored.push("conn");
            }
            ignored.extend(bootstrap_keys);
            if !ignored.is_empty() {
                warnings.push(ConfigWarning::IgnoredWithoutAction {
                    table: table.to_owned(),
                    keys: ignored,
                });
            }
            autobind = false;
            reg.clear();
            conn.clear();
            IpcpAction::Create
        }
    };
    Ok(IpcpConfig {
        name: name.to_owned(),
        ipcp_type,
        action,
        autobind,
        reg,
        conn,
        hosts,
    })
}

/// `hosts = { <name> = "<address>", … }`: where a UDP layer finds names
/// without asking DNS; addresses of the layer's family.
fn hosts_table(
    table: &str,
    key: &str,
    value: &Value,
    ipcp_type: IpcpType,
) -> Result<Vec<(String, std::net::IpAddr)>, ConfigError> {
    let entries = value
        .as_table()
        .ok_or_else(|| wrong_type(table, key, "a table of name = \"address\"", value))?;
    let mut hosts = Vec::new();
    for (name, addr) in entries {
        let at = format!("{key}.{name}");
        let name = name_value(table, key, name)?;
        let text = string(table, &at, addr)?.to_owned();
        let ip: std::net::IpAddr = text.parse().map_err(|_| ConfigError::BadValue {
            table: table.to_owned(),
            key: at.clone(),
            problem: ValueProblem::Invalid {
                value: text.clone(),
                reason: "is not an IP address",
            },
        })?;
        if ip.is_ipv4() != (ipcp_type == IpcpType::Udp4) {
            return Err(ConfigError::BadValue {
                table: table.to_owned(),
                key: at,
                problem: ValueProblem::Invalid {
                    value: text,
                    reason: "is not an address of the layer's family",
                },
            });
        }
        hosts.push((name, ip));
    }
    Ok(hosts)
}

/// Reads one bootstrap key's value into `options`, applying the quirk
/// decisions that concern values.
fn set_option(
    table: &str,
    bkey: BootstrapKey,
    value: &Value,
    options: &mut BootstrapOptions,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ValueProblem> {
    let wrong = |expected| ValueProblem::WrongType {
        expected,
        found: article(value.type_str()),
    };
    match (bkey, value) {
        (BootstrapKey::Congestion, Value::String(s)) if s == "lfa" => {
            warnings.push(ConfigWarning::CongestionLfa {
                table: table.to_owned(),
            });
            options.congestion = Some(CongestionAvoidance::MbEcn);
            Ok(())
        }
        (BootstrapKey::EidSize, Value::Integer(n)) => {
            options.set_int(bkey, *n).map_err(|e| e.problem)?;
            if *n != 8 {
                warnings.push(ConfigWarning::EidSizeForced {
                    table: table.to_owned(),
                    value: *n,
                });
                options.eid_size = Some(8);
            }
            Ok(())
        }
        (BootstrapKey::Ethertype, Value::String(s)) => {
            let n = parse_ethertype(s)?;
            options.set_int(bkey, n).map_err(|e| e.problem)
        }
        (_, Value::Integer(n)) if bkey.value_kind() == ValueKind::Int => {
            options.set_int(bkey, *n).map_err(|e| e.problem)
        }
        (_, Value::String(s)) if bkey.value_kind() == ValueKind::Str => options.set_str(bkey, s).map_err(|e| e.problem),
        _ => Err(wrong(match bkey.value_kind() {
            ValueKind::Str => "a string",
            ValueKind::Int if bkey == BootstrapKey::Ethertype => "an integer (0xA000) or a hex string",
            ValueKind::Int => "an integer",
        })),
    }
}

/// The keys an IPCP table of `ipcp_type` takes, for suggestions.
fn keys_of(ipcp_type: IpcpType) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = IPCP_KEYS.to_vec();
    if matches!(ipcp_type, IpcpType::Udp4 | IpcpType::Udp6) {
        keys.push("hosts");
    }
    keys.extend(
        BootstrapKey::ALL
            .into_iter()
            .filter(|k| k.applies_to(ipcp_type))
            .map(BootstrapKey::toml_key),
    );
    keys
}

fn unknown_key(table: &str, key: &str, known: &[&'static str]) -> ConfigError {
    let hint = known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    ConfigError::UnknownKey {
        table: table.to_owned(),
        key: key.to_owned(),
        hint,
    }
}

/// Levenshtein distance, for "did you mean" on short keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != *cb)).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
