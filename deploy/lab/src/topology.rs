//! The lab file: TOML, read and checked here without I/O into a
//! [`Topology`] (see `deploy/README.md` for the format with an example).
//!
//! ```text
//! [lab]                name, description
//! [systems.<s>]        System     setup = [irm lines], config = "file", irmd_args = [..]
//! [[links]]            Link       name, mtu
//!   ends.<s> = {..}    LinkEnd    dev, ipv4, ipv6, netem = { delay, jitter, loss, reorder, duplicate, rate }
//! [[steps]]            Step       one of:
//!   run = "<sh line>"    Action::Run    on, background, timeout, eventually, interval, expect
//!   sleep = "2s"         Action::Sleep
//!   wait = "<step>"      Action::Wait   timeout, expect
//! ```
//!
//! Everything is checked before anything runs: an unknown key, a value of
//! the wrong type or out of range, a system or link that is not defined, a
//! placeholder that names nothing (see [`crate::placeholder`]). Each error
//! says the line, the table and the key.

pub mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::RegexBuilder;
use serde::Deserialize;
use toml::Spanned;

use crate::expect::{Expect, Pattern};
use crate::placeholder::{self, EndField, Placeholder};
use values::{Dur, IfAddr, Netem, OneOrMany, Percent, Rate, StatusExpect};

/// How long a step may run unless it says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two tries of an `eventually` step unless it says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(200);
/// Interface names are at most this long (IFNAMSIZ less the NUL).
pub const IFNAMSIZ: usize = 15;

/// A checked lab file.
#[derive(Debug, Clone)]
pub struct Topology {
    /// `[lab] name`, else the file's stem.
    pub name: String,
    /// `[lab] description`.
    pub description: Option<String>,
    /// The directory of the file: `config` paths are relative to it.
    pub dir: PathBuf,
    /// The systems, in file order.
    pub systems: Vec<System>,
    /// The links, in file order.
    pub links: Vec<Link>,
    /// The scenario.
    pub steps: Vec<Step>,
}

/// A `[systems.<name>]` table: a network namespace with its own irmd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// Its name.
    pub name: String,
    /// `irm` command lines run in order once irmd is up, each split into
    /// words (a leading `irm` dropped); placeholders not yet replaced.
    pub setup: Vec<Vec<String>>,
    /// An irmd TOML file (absolute, or made so against the lab's
    /// directory) given to irmd with `--config` after its placeholders are
    /// replaced.
    pub config: Option<PathBuf>,
    /// More irmd arguments.
    pub irmd_args: Vec<String>,
}

/// A `[[links]]` entry: a veth pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Its name, `name` or `<system>-<system>`.
    pub name: String,
    /// The MTU of both ends.
    pub mtu: Option<u32>,
    /// The two ends, in file order.
    pub ends: [LinkEnd; 2],
}

/// One end of a link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkEnd {
    /// The system it is in.
    pub system: String,
    /// The interface's name, `dev` or the link's name.
    pub dev: String,
    /// An IPv4 address.
    pub ipv4: Option<IfAddr>,
    /// An IPv6 address.
    pub ipv6: Option<IfAddr>,
    /// What netem does to what this end sends.
    pub netem: Option<Netem>,
}

/// A `[[steps]]` entry.
#[derive(Debug, Clone)]
pub struct Step {
    /// `name`, else its number from 1.
    pub label: String,
    /// What it does.
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Runs a shell command line on a system.
    Run(Run),
    /// Waits.
    Sleep(Duration),
    /// Waits for a background step to end, then checks its expectations.
    Wait {
        /// The background step's label.
        step: String,
        /// How long at most.
        timeout: Duration,
    },
}

/// A command line run on a system.
#[derive(Debug, Clone)]
pub struct Run {
    /// The system.
    pub on: String,
    /// The line for `sh -c`; placeholders not yet replaced.
    pub command: String,
    /// Kept running until the end of the scenario (or a `wait` step).
    pub background: bool,
    /// How long one run may take.
    pub timeout: Duration,
    /// Run again until the expectations hold, for at most this long.
    pub eventually: Option<Duration>,
    /// The pause between two tries.
    pub interval: Duration,
    /// What it must show.
    pub expect: Expect,
}

/// Why a lab file was refused: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default(), table.as_ref().map(|t| format!("{t}: ")).unwrap_or_default())]
pub struct TopologyError {
    /// The line, from 1.
    pub line: Option<usize>,
    /// The table, as its header writes it (`[systems.a]`, `[[steps]] #3`).
    pub table: Option<String>,
    /// What is wrong, naming the key.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    lab: Option<RawLab>,
    #[serde(default)]
    systems: BTreeMap<Spanned<String>, RawSystem>,
    #[serde(default)]
    links: Vec<Spanned<RawLink>>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLab {
    name: Option<Spanned<String>>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    #[serde(default)]
    setup: Vec<Spanned<String>>,
    config: Option<Spanned<String>>,
    #[serde(default)]
    irmd_args: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    name: Option<Spanned<String>>,
    mtu: Option<Spanned<u32>>,
    #[serde(default)]
    ends: BTreeMap<Spanned<String>, RawEnd>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnd {
    dev: Option<Spanned<String>>,
    ipv4: Option<Spanned<IfAddr>>,
    ipv6: Option<Spanned<IfAddr>>,
    netem: Option<Spanned<RawNetem>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetem {
    delay: Option<Dur>,
    jitter: Option<Dur>,
    loss: Option<Percent>,
    reorder: Option<Percent>,
    duplicate: Option<Percent>,
    rate: Option<Rate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<Spanned<String>>,
    on: Option<Spanned<String>>,
    run: Option<Spanned<String>>,
    background: Option<Spanned<bool>>,
    timeout: Option<Spanned<Dur>>,
    eventually: Option<Spanned<Dur>>,
    interval: Option<Spanned<Dur>>,
    expect: Option<Spanned<RawExpect>>,
    sleep: Option<Spanned<Dur>>,
    wait: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    status: Option<StatusExpect>,
    stdout_contains: Option<OneOrMany>,
    stdout_regex: Option<Spanned<OneOrMany>>,
    stderr_contains: Option<OneOrMany>,
    stderr_regex: Option<Spanned<OneOrMany>>,
}

/// Reports errors at places in the file's text.
struct Source<'t> {
    text: &'t str,
}

impl Source<'_> {
    /// An error at byte offset `at`, naming the table around it.
    fn error(&self, at: usize, message: impl Into<String>) -> TopologyError {
        let at = at.min(self.text.len());
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        TopologyError {
            line: Some(line),
            table: self.table_at(before),
            message: message.into(),
        }
    }

    fn at<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> TopologyError {
        self.error(spanned.span().start, message)
    }

    /// The last table header before the end of `before`, with the index of
    /// an array table's entry (`[[steps]] #3`).
    fn table_at(&self, before: &str) -> Option<String> {
        let header = |l: &str| {
            let l = l.trim();
            (l.starts_with('[') && l.contains(']')).then(|| l[..l.rfind(']').map_or(l.len(), |i| i + 1)].to_owned())
        };
        let current = before.lines().filter_map(header).next_back()?;
        if current.starts_with("[[") {
            let n = before.lines().filter_map(header).filter(|h| *h == current).count();
            Some(format!("{current} #{n}"))
        } else {
            Some(current)
        }
    }
}

/// Names of systems, links and steps: they appear in namespace names,
/// placeholders and output prefixes.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    check_word(what, name, 32).map_err(|m| format!("{m} (it is part of namespace names and placeholders)"))
}

/// `name` is 1 to `max` letters, digits, `-` or `_`.
pub(crate) fn check_word(what: &str, name: &str, max: usize) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {name:?} must be 1 to {max} letters, digits, `-` or `_`"
        ))
    }
}

/// An interface name the kernel takes.
fn check_dev(dev: &str) -> Result<(), String> {
    if dev.is_empty() || dev.len() > IFNAMSIZ {
        return Err(format!(
            "interface name {dev:?} must be 1 to {IFNAMSIZ} bytes (IFNAMSIZ); set `dev` or a shorter link `name`"
        ));
    }
    if dev == "." || dev == ".." || dev == "lo" || dev.contains(|c: char| c == '/' || c == ':' || c.is_whitespace()) {
        return Err(format!(
            "{dev:?} is not an interface name the kernel takes (no `/`, `:`, spaces, `lo`)"
        ));
    }
    Ok(())
}

impl Topology {
    /// Reads the lab file at `path`.
    pub fn load(path: &Path) -> Result<Topology, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let dir = path
            .parent()
            .map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p })
            .unwrap_or(Path::new("."));
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("lab");
        Topology::parse(&text, stem, &dir).map_err(|error| LoadError::Invalid {
            path: path.to_owned(),
            error,
        })
    }

    /// Parses the text of a lab file; `stem` names the lab when `[lab]`
    /// does not, `dir` is where relative paths start.
    pub fn parse(text: &str, stem: &str, dir: &Path) -> Result<Topology, TopologyError> {
        let src = Source { text };
        let raw: RawFile = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => src.error(span.start, e.message().trim_end()),
            None => TopologyError {
                line: None,
                table: None,
                message: e.message().trim_end().to_owned(),
            },
        })?;
        let top = |message: String| TopologyError {
            line: None,
            table: Some("[lab]".to_owned()),
            message,
        };
        let (name, description) = match raw.lab {
            Some(lab) => {
                let name = match lab.name {
                    Some(n) => {
                        check_name("the lab name", n.get_ref()).map_err(|m| src.at(&n, format!("`name`: {m}")))?;
                        n.into_inner()
                    }
                    None => stem.to_owned(),
                };
                (name, lab.description)
            }
            None => (stem.to_owned(), None),
        };
        check_name("the lab name", &name).map_err(|m| top(format!("{m}; set [lab] name")))?;

        let mut systems: Vec<(usize, System)> = Vec::new();
        for (key, raw) in raw.systems {
            check_name("system", key.get_ref()).map_err(|m| src.at(&key, m))?;
            systems.push((key.span().start, system(&src, key.get_ref(), raw, dir)?));
        }
        // File order: a system's irmd may have to come up before another's.
        systems.sort_by_key(|(at, _)| *at);
        let systems: Vec<System> = systems.into_iter().map(|(_, s)| s).collect();
        if systems.is_empty() {
            return Err(TopologyError {
                line: None,
                table: None,
                message: "the lab has no systems: add a [systems.<name>] table".to_owned(),
            });
        }

        let mut links = Vec::new();
        for raw in raw.links {
            let link = link(&src, raw, &systems, &links)?;
            links.push(link);
        }

        let mut topology = Topology {
            name,
            description,
            dir: dir.to_owned(),
            systems,
            links,
            steps: Vec::new(),
        };
        for (i, raw) in raw.steps.into_iter().enumerate() {
            let step = step(&src, i + 1, raw, &topology)?;
            topology.steps.push(step);
        }
        topology.check_placeholders()?;
        Ok(topology)
    }

    /// Whether a link shapes its traffic with netem.
    pub fn uses_netem(&self) -> bool {
        self.links
            .iter()
            .flat_map(|l| &l.ends)
            .any(|e| e.netem.as_ref().is_some_and(|n| !n.tc_args().is_empty()))
    }

    /// The system called `name`.
    pub fn system(&self, name: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.name == name)
    }

    /// The end of link `link` in system `system`.
    pub fn end(&self, link: &str, system: &str) -> Option<&LinkEnd> {
        self.links
            .iter()
            .find(|l| l.name == link)?
            .ends
            .iter()
            .find(|e| e.system == system)
    }

    /// The value of a placeholder that the file alone decides; for those
    /// only a running lab knows (`netns`, `rundir`, `mac`, `instance`),
    /// `runtime` is asked.
    pub fn resolve(&self, p: Placeholder<'_>, runtime: &dyn Runtime) -> Result<String, String> {
        use crate::placeholder::{LabField, SystemField};
        match p {
            Placeholder::Lab(LabField::Name) => Ok(self.name.clone()),
            Placeholder::Lab(LabField::Dir) => Ok(self.dir.display().to_string()),
            Placeholder::Lab(LabField::Instance) => Ok(runtime.instance()),
            Placeholder::System { system, field } => {
                if self.system(system).is_none() {
                    return Err(format!("no system {system:?} in [systems]"));
                }
                Ok(match field {
                    SystemField::Netns => runtime.netns(system),
                    SystemField::Rundir => runtime.rundir(system),
                })
            }
            Placeholder::Link { link, system, field } => {
                if !self.links.iter().any(|l| l.name == link) {
                    return Err(format!("no link {link:?} in [[links]]"));
                }
                let end = self
                    .end(link, system)
                    .ok_or_else(|| format!("link {link:?} has no end in system {system:?}"))?;
                let addr = |a: Option<IfAddr>, cidr: bool| {
                    a.map(|a| if cidr { a.to_string() } else { a.addr.to_string() })
                        .ok_or_else(|| format!("link {link:?} gives system {system:?} no {field} address"))
                };
                match field {
                    EndField::Dev => Ok(end.dev.clone()),
                    EndField::Ipv4 => addr(end.ipv4, false),
                    EndField::Ipv4Cidr => addr(end.ipv4, true),
                    EndField::Ipv6 => addr(end.ipv6, false),
                    EndField::Ipv6Cidr => addr(end.ipv6, true),
                    EndField::Mac => runtime
                        .mac(link, system)
                        .ok_or_else(|| format!("the MAC address of {link}/{system} is not known")),
                }
            }
        }
    }

    /// Replaces the placeholders in `text`.
    pub fn expand(&self, text: &str, runtime: &dyn Runtime) -> Result<String, String> {
        placeholder::expand(text, |p| self.resolve(p, runtime))
    }

    /// Every placeholder in setup lines, irmd arguments and steps names
    /// something that exists.
    fn check_placeholders(&self) -> Result<(), TopologyError> {
        let runtime = Unknown;
        let at = |table: String, message: String| TopologyError {
            line: None,
            table: Some(table),
            message,
        };
        for s in &self.systems {
            let table = format!("[systems.{}]", s.name);
            for (key, text) in s
                .setup
                .iter()
                .flatten()
                .map(|w| ("setup", w))
                .chain(s.irmd_args.iter().map(|a| ("irmd_args", a)))
            {
                self.expand(text, &runtime)
                    .map_err(|m| at(table.clone(), format!("`{key}`: {m}")))?;
            }
        }
        for (i, step) in self.steps.iter().enumerate() {
            if let Action::Run(run) = &step.action {
                let table = format!("[[steps]] #{}", i + 1);
                self.expand(&run.command, &runtime)
                    .map_err(|m| at(table.clone(), format!("`run`: {m}")))?;
                run.expect
                    .expand(|t| self.expand(t, &runtime))
                    .map_err(|m| at(table, format!("`expect`: {m}")))?;
            }
        }
        Ok(())
    }
}

/// What only a running lab knows, for placeholders.
pub trait Runtime {
    /// The instance.
    fn instance(&self) -> String;
    /// A system's namespace.
    fn netns(&self, system: &str) -> String;
    /// A system's runtime directory.
    fn rundir(&self, system: &str) -> String;
    /// The MAC address of a link's end, once the link is made.
    fn mac(&self, link: &str, system: &str) -> Option<String>;
}

/// A runtime that is not up yet: every value is a stand-in, for checking
/// that placeholders resolve.
#[derive(Debug, Clone, Copy)]
pub struct Unknown;

impl Runtime for Unknown {
    fn instance(&self) -> String {
        "<instance>".to_owned()
    }
    fn netns(&self, system: &str) -> String {
        format!("<netns of {system}>")
    }
    fn rundir(&self, system: &str) -> String {
        format!("<rundir of {system}>")
    }
    fn mac(&self, _: &str, _: &str) -> Option<String> {
        Some("<mac>".to_owned())
    }
}

/// Why a lab file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a valid lab.
    #[error("{}: {error}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: TopologyError,
    },
}

fn system(src: &Source<'_>, name: &str, raw: RawSystem, dir: &Path) -> Result<System, TopologyError> {
    let mut setup = Vec::new();
    for line in raw.setup {
        let mut words: Vec<String> = line.get_ref().split_whitespace().map(str::to_owned).collect();
        if words.first().is_some_and(|w| w == "irm") {
            words.remove(0);
        }
        if words.is_empty() {
            return Err(src.at(
                &line,
                "`setup`: an empty line; write irm commands such as \"irm ipcp list\"",
            ));
        }
        setup.push(words);
    }
    let config = match raw.config {
        Some(c) if c.get_ref().is_empty() => return Err(src.at(&c, "`config`: an empty path")),
        Some(c) => Some(dir.join(c.get_ref())),
        None => None,
    };
    let mut irmd_args = Vec::new();
    for arg in raw.irmd_args {
        if matches!(arg.get_ref().as_str(), "--rundir" | "--stdout") || arg.get_ref().starts_with("--rundir=") {
            return Err(src.at(
                &arg,
                format!(
                    "`irmd_args`: {} is set by o7s-lab (each system has its own runtime directory and log)",
                    arg.get_ref()
                ),
            ));
        }
        irmd_args.push(arg.into_inner());
    }
    Ok(System {
        name: name.to_owned(),
        setup,
        config,
        irmd_args,
    })
}

fn link(src: &Source<'_>, raw: Spanned<RawLink>, systems: &[System], earlier: &[Link]) -> Result<Link, TopologyError> {
    let whole = raw.span().start;
    let raw = raw.into_inner();
    let mut ends: Vec<(usize, &str, RawEnd, Spanned<String>)> = Vec::new();
    for (key, end) in raw.ends {
        let at = key.span().start;
        let system = systems.iter().find(|s| s.name == *key.get_ref()).ok_or_else(|| {
            let known: Vec<&str> = systems.iter().map(|s| s.name.as_str()).collect();
            src.at(
                &key,
                format!(
                    "`ends.{}`: no such system (systems: {})",
                    key.get_ref(),
                    known.join(", ")
                ),
            )
        })?;
        ends.push((at, system.name.as_str(), end, key));
    }
    ends.sort_by_key(|(at, ..)| *at);
    if ends.len() != 2 {
        return Err(src.error(
            whole,
            format!(
                "a link joins two different systems: write `ends.<a> = {{}}` and `ends.<b> = {{}}` (found {})",
                ends.len()
            ),
        ));
    }
    let name = match raw.name {
        Some(n) => {
            check_name("link", n.get_ref()).map_err(|m| src.at(&n, format!("`name`: {m}")))?;
            n.into_inner()
        }
        None => format!("{}-{}", ends[0].1, ends[1].1),
    };
    if earlier.iter().any(|l| l.name == name) {
        return Err(src.error(whole, format!("two links are called {name:?}: give one a `name`")));
    }
    let mtu = match raw.mtu {
        Some(m) if !(68..=65535).contains(m.get_ref()) => {
            return Err(src.at(&m, format!("`mtu`: {} is not from 68 to 65535", m.get_ref())));
        }
        m => m.map(Spanned::into_inner),
    };
    let mut made = Vec::new();
    for (_, system, end, key) in ends {
        let dev = match end.dev {
            Some(d) => {
                check_dev(d.get_ref()).map_err(|m| src.at(&d, format!("`ends.{system}.dev`: {m}")))?;
                d.into_inner()
            }
            None => {
                check_dev(&name).map_err(|m| {
                    src.at(
                        &key,
                        format!("`ends.{system}`: the interface is named after the link: {m}"),
                    )
                })?;
                name.clone()
            }
        };
        let taken = earlier
            .iter()
            .flat_map(|l| l.ends.iter().map(move |e| (l, e)))
            .find(|(_, e)| e.system == system && e.dev == dev);
        if let Some((other, _)) = taken {
            return Err(src.at(
                &key,
                format!(
                    "`ends.{system}`: link {:?} already has interface {dev:?} in {system}; set `dev`",
                    other.name
                ),
            ));
        }
        for (addr, v4) in [(&end.ipv4, true), (&end.ipv6, false)] {
            if let Some(a) = addr
                && a.get_ref().addr.is_ipv4() != v4
            {
                let key = if v4 { "ipv4" } else { "ipv6" };
                return Err(src.at(
                    a,
                    format!("`ends.{system}.{key}`: {} is not an {key} address", a.get_ref()),
                ));
            }
        }
        let netem = match end.netem {
            Some(n) => Some(netem(src, system, n)?),
            None => None,
        };
        made.push(LinkEnd {
            system: system.to_owned(),
            dev,
            ipv4: end.ipv4.map(Spanned::into_inner),
            ipv6: end.ipv6.map(Spanned::into_inner),
            netem,
        });
    }
    let [a, b]: [LinkEnd; 2] = made.try_into().map_err(|_| src.error(whole, "a link has two ends"))?;
    Ok(Link {
        name,
        mtu,
        ends: [a, b],
    })
}

fn netem(src: &Source<'_>, system: &str, raw: Spanned<RawNetem>) -> Result<Netem, TopologyError> {
    let n = raw.get_ref();
    let without_delay = [("jitter", n.jitter.is_some()), ("reorder", n.reorder.is_some())]
        .into_iter()
        .find(|(_, set)| *set);
    if let Some((key, _)) = without_delay
        && n.delay.is_none()
    {
        return Err(src.at(
            &raw,
            format!("`ends.{system}.netem`: `{key}` needs a `delay` (netem {key}s delayed packets)"),
        ));
    }
    let raw = raw.into_inner();
    Ok(Netem {
        delay: raw.delay,
        jitter: raw.jitter,
        loss: raw.loss,
        reorder: raw.reorder,
        duplicate: raw.duplicate,
        rate: raw.rate,
    })
}

fn patterns(
    src: &Source<'_>,
    contains: Option<OneOrMany>,
    regexes: Option<Spanned<OneOrMany>>,
    key: &str,
) -> Result<Vec<Pattern>, TopologyError> {
    let mut all: Vec<Pattern> = contains
        .map(|c| c.0.into_iter().map(Pattern::Contains).collect())
        .unwrap_or_default();
    if let Some(r) = regexes {
        for text in &r.get_ref().0 {
            let regex = RegexBuilder::new(text)
                .multi_line(true)
                .build()
                .map_err(|e| src.at(&r, format!("`expect.{key}`: {e}")))?;
            all.push(Pattern::Regex(regex));
        }
    }
    Ok(all)
}

fn expect(src: &Source<'_>, raw: Option<Spanned<RawExpect>>) -> Result<Expect, TopologyError> {
    let Some(raw) = raw else {
        return Ok(Expect::default());
    };
    let raw = raw.into_inner();
    Ok(Expect {
        status: raw.status.unwrap_or(StatusExpect::Code(0)),
        stdout: patterns(src, raw.stdout_contains, raw.stdout_regex, "stdout_regex")?,
        stderr: patterns(src, raw.stderr_contains, raw.stderr_regex, "stderr_regex")?,
    })
}

fn step(src: &Source<'_>, number: usize, raw: Spanned<RawStep>, lab: &Topology) -> Result<Step, TopologyError> {
    let whole = raw.span().start;
    let raw = raw.into_inner();
    let label = match &raw.name {
        Some(n) => {
            check_name("step", n.get_ref()).map_err(|m| src.at(n, format!("`name`: {m}")))?;
            if n.get_ref().bytes().all(|b| b.is_ascii_digit()) {
                return Err(src.at(n, "`name`: a number would read as another step's number"));
            }
            n.get_ref().clone()
        }
        None => number.to_string(),
    };
    if lab.steps.iter().any(|s| s.label == label) {
        return Err(src.error(whole, format!("two steps are called {label:?}")));
    }
    let kinds: Vec<&str> = [
        ("run", raw.run.is_some()),
        ("sleep", raw.sleep.is_some()),
        ("wait", raw.wait.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if kinds.len() != 1 {
        return Err(src.error(
            whole,
            format!(
                "a step has exactly one of `run`, `sleep` or `wait` (found {})",
                if kinds.is_empty() {
                    "none".to_owned()
                } else {
                    kinds.join(", ")
                }
            ),
        ));
    }
    // Keys that only some kinds of step take.
    let only = |key: &str, set: bool, kinds: &str| -> Result<(), TopologyError> {
        if set {
            Err(src.error(whole, format!("`{key}` is for {kinds} steps")))
        } else {
            Ok(())
        }
    };
    let timeout = raw.timeout.as_ref().map(|t| t.get_ref().0);
    if let Some(sleep) = raw.sleep {
        only("on", raw.on.is_some(), "`run`")?;
        only("timeout", raw.timeout.is_some(), "`run` and `wait`")?;
        only("expect", raw.expect.is_some(), "`run` and `wait`")?;
        only("background", raw.background.is_some(), "`run`")?;
        only("eventually", raw.eventually.is_some(), "`run`")?;
        only("interval", raw.interval.is_some(), "`run`")?;
        return Ok(Step {
            label,
            action: Action::Sleep(sleep.into_inner().0),
        });
    }
    if let Some(wait) = raw.wait {
        only("on", raw.on.is_some(), "`run`")?;
        only("background", raw.background.is_some(), "`run`")?;
        only("eventually", raw.eventually.is_some(), "`run`")?;
        only("interval", raw.interval.is_some(), "`run`")?;
        if raw.expect.is_some() {
            return Err(src.error(
                whole,
                "a `wait` step checks the `expect` of the background step it waits for; put it there",
            ));
        }
        let target = lab.steps.iter().find(|s| s.label == *wait.get_ref());
        match target.map(|s| &s.action) {
            Some(Action::Run(r)) if r.background => {}
            Some(_) => {
                return Err(src.at(
                    &wait,
                    format!("`wait`: step {:?} is not a background step", wait.get_ref()),
                ));
            }
            None => {
                return Err(src.at(&wait, format!("`wait`: no earlier step is called {:?}", wait.get_ref())));
            }
        }
        return Ok(Step {
            label,
            action: Action::Wait {
                step: wait.into_inner(),
                timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
            },
        });
    }
    let Some(run) = raw.run else {
        return Err(src.error(whole, "a step has one of `run`, `sleep` or `wait`"));
    };
    let on = raw
        .on
        .ok_or_else(|| src.at(&run, "`run` needs `on = \"<system>\"`: where it runs"))?;
    if lab.system(on.get_ref()).is_none() {
        let known: Vec<&str> = lab.systems.iter().map(|s| s.name.as_str()).collect();
        return Err(src.at(
            &on,
            format!("`on`: no system {:?} (systems: {})", on.get_ref(), known.join(", ")),
        ));
    }
    if run.get_ref().trim().is_empty() {
        return Err(src.at(&run, "`run`: an empty command line"));
    }
    let background = raw.background.as_ref().is_some_and(|b| *b.get_ref());
    if background {
        for (key, set) in [
            ("timeout", raw.timeout.is_some()),
            ("eventually", raw.eventually.is_some()),
        ] {
            if set {
                return Err(src.error(
                    whole,
                    format!("`{key}` is for steps that run to their end; a background step runs until the scenario ends or a `wait` step"),
                ));
            }
        }
    }
    if raw.interval.is_some() && raw.eventually.is_none() {
        return Err(src.error(whole, "`interval` is the pause between tries of an `eventually` step"));
    }
    Ok(Step {
        label,
        action: Action::Run(Run {
            on: on.into_inner(),
            command: run.into_inner(),
            background,
            timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
            eventually: raw.eventually.map(|e| e.into_inner().0),
            interval: raw.interval.map_or(DEFAULT_INTERVAL, |i| i.into_inner().0),
            expect: expect(src, raw.expect)?,
        }),
    })
}

#[cfg(test)]
mod tests;
