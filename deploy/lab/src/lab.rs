//! A lab instance's life: brought up from its [`Topology`], its scenario
//! run, torn down; or found again from its record to be torn down, shown,
//! or cleaned up after a crash.
//!
//! ```text
//!  Lab::up ── record ── namespaces ── links ── irmds ── setup ─┐
//!     │  (each thing recorded in state.toml before it is made)  │
//!     │                                                          ▼
//!     │                           Lab::run_scenario / Lab::detach (o7s-lab up)
//!     ▼                                                          │
//!  Lab::teardown (also on drop: an error, a failed step, a signal)
//!     background steps ── irmds (SIGTERM) ── every process left in the
//!     namespaces (SIGKILL) ── namespaces (and their veths) ── runtime dirs, record
//!
//!  down(instance) and cleanup() do the same from the record alone.
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::bins::{Bins, Missing};
use crate::network;
use crate::process::{self, Group, SystemEnv, libc_sig};
use crate::report::Report;
use crate::scenario::{Scenario, Stopped};
use crate::state::{self, EndState, Instance, LabState, LinkState, Phase, StateError, SystemState};
use crate::topology::{LoadError, Topology};

/// How long irmd has to answer after it starts.
const IRMD_READY: Duration = Duration::from_secs(15);
/// How long irmd has to exit after SIGTERM.
const IRMD_GRACE: Duration = Duration::from_secs(5);
/// Lines of an irmd log shown with a failure.
const LOG_TAIL: usize = 25;

/// How a lab is run.
#[derive(Clone)]
pub struct Options {
    /// Where irmd, irm and the programs of the steps are.
    pub bins: Bins,
    /// The instance's name; by default the lab's name for `up`, and the
    /// lab's name and this process's id for `run`.
    pub instance: Option<String>,
    /// Where instances are recorded.
    pub state_dir: PathBuf,
    /// Where progress and output go.
    pub report: Arc<dyn Report>,
    /// Set (by a signal handler) to stop and tear down.
    pub stop: Arc<AtomicBool>,
}

impl core::fmt::Debug for Options {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Options")
            .field("bins", &self.bins)
            .field("instance", &self.instance)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// Programs beside this executable, the default state directory, no
    /// instance name, a stop flag nobody sets yet.
    pub fn new(report: Arc<dyn Report>) -> Options {
        Options {
            bins: Bins::beside_current_exe(),
            instance: None,
            state_dir: PathBuf::from(state::STATE_DIR),
            report,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Why a lab did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab file.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The instance's record.
    #[error(transparent)]
    State(#[from] StateError),
    /// A program is missing.
    #[error(transparent)]
    Missing(#[from] Missing),
    /// Not root.
    #[error("o7s-lab needs root: it makes network namespaces and veth pairs")]
    NotRoot,
    /// Something could not be made.
    #[error("{what}: {source}")]
    Io {
        /// What.
        what: String,
        /// Why.
        source: io::Error,
    },
    /// A system's irmd did not come up.
    #[error("system {system}: {reason}; the end of its log ({log}):\n{tail}")]
    Irmd {
        /// The system.
        system: String,
        /// Why.
        reason: String,
        /// Its log file.
        log: String,
        /// The log's last lines.
        tail: String,
    },
    /// A setup line failed.
    #[error("system {system}: setup `irm {line}` failed: {reason}")]
    Setup {
        /// The system.
        system: String,
        /// The line, placeholders replaced.
        line: String,
        /// What irm said.
        reason: String,
    },
    /// A placeholder could not be replaced.
    #[error("{0}")]
    Placeholder(String),
    /// A step failed.
    #[error("step {step}{} failed: {reason}", system.as_ref().map(|s| format!(" on {s}")).unwrap_or_default())]
    Step {
        /// The step's label.
        step: String,
        /// Its system.
        system: Option<String>,
        /// Why.
        reason: String,
    },
    /// A signal asked o7s-lab to stop.
    #[error("interrupted by a signal")]
    Interrupted,
    /// The lab shapes links with netem, which this kernel lacks.
    #[error(
        "the lab's links use netem, which this kernel lacks (CONFIG_NET_SCH_NETEM is not set): \
         run it on a kernel with sch_netem, or remove `netem` from its links"
    )]
    NoNetem,
    /// The system named is not in the lab.
    #[error("the lab has no system {0:?}")]
    NoSystem(String),
    /// Teardown could not remove everything.
    #[error("teardown left: {}", .0.join("; "))]
    Teardown(Vec<String>),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// A lab instance that this process brought up: torn down when dropped,
/// unless detached.
pub struct Lab {
    topology: Topology,
    instance: Option<Instance>,
    irmds: Vec<Group>,
    options: Options,
}

impl core::fmt::Debug for Lab {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lab")
            .field("lab", &self.topology.name)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The environment of a system of an instance.
pub fn system_env(state: &LabState, system: &SystemState, bins: &Bins) -> SystemEnv {
    SystemEnv {
        system: system.name.clone(),
        netns: system.netns.clone(),
        rundir: system.rundir(),
        path: bins.path_env(),
        instance: state.instance.clone(),
    }
}

impl Lab {
    /// Brings `topology` (read from `file`) up: namespaces, links, an irmd
    /// per system, the systems' setup. Whatever fails, what was made is
    /// torn down before the error returns.
    pub fn up(topology: Topology, file: &Path, options: Options) -> Result<Lab, LabError> {
        if !is_root() {
            return Err(LabError::NotRoot);
        }
        let started = Instant::now();
        let irmd = options.bins.find("irmd")?;
        let irm = if topology.systems.iter().any(|s| !s.setup.is_empty()) {
            Some(options.bins.find("irm")?)
        } else {
            None
        };
        let name = options.instance.clone().unwrap_or_else(|| topology.name.clone());
        state::check_instance(&name).map_err(LabError::Placeholder)?;
        let dir = options.state_dir.join(&name);
        // Everything is recorded before it is made, so that a crash at any
        // point leaves a record that `cleanup` follows.
        let record = LabState {
            instance: name.clone(),
            lab: topology.name.clone(),
            file: std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned()),
            owner: std::process::id(),
            phase: Phase::Starting,
            bin_dir: options.bins.dir().map(Path::to_path_buf),
            systems: topology
                .systems
                .iter()
                .map(|s| SystemState {
                    name: s.name.clone(),
                    netns: state::netns_name(&name, &s.name),
                    dir: dir.join(&s.name),
                    irmd_pid: None,
                })
                .collect(),
            links: topology
                .links
                .iter()
                .map(|l| LinkState {
                    name: l.name.clone(),
                    ends: l
                        .ends
                        .iter()
                        .map(|e| EndState {
                            system: e.system.clone(),
                            dev: e.dev.clone(),
                            mac: None,
                        })
                        .collect(),
                })
                .collect(),
        };
        let instance = Instance::create(&options.state_dir, record)?;
        options
            .report
            .progress(&format!("==> bringing up lab {} (instance {name})", topology.name));
        let mut lab = Lab {
            topology,
            instance: Some(instance),
            irmds: Vec::new(),
            options,
        };
        lab.make(&irmd, irm.as_deref())?;
        lab.options.report.progress(&format!(
            "<== lab {} is up ({})",
            lab.topology.name,
            secs(started.elapsed())
        ));
        Ok(lab)
    }

    /// The record.
    pub fn state(&self) -> Option<&LabState> {
        self.instance.as_ref().map(|i| &i.state)
    }

    fn instance(&mut self) -> Result<&mut Instance, LabError> {
        self.instance
            .as_mut()
            .ok_or_else(|| LabError::Teardown(vec!["the lab is already down".to_owned()]))
    }

    fn make(&mut self, irmd: &Path, irm: Option<&Path>) -> Result<(), LabError> {
        let report = Arc::clone(&self.options.report);
        let systems = self.instance()?.state.systems.clone();
        for s in &systems {
            std::fs::create_dir_all(&s.dir).map_err(io_err(format!("creating {}", s.dir.display())))?;
            network::add_netns(&s.netns).map_err(io_err(format!("system {}: namespace {}", s.name, s.netns)))?;
            tracing::info!(system = %s.name, netns = %s.netns, "namespace made");
            report.progress(&format!("    system {}: namespace {}", s.name, s.netns));
        }
        if self.topology.uses_netem()
            && let Some(first) = systems.first()
            && !network::has_netem(&first.netns).map_err(io_err("looking for netem"))?
        {
            return Err(LabError::NoNetem);
        }
        let links = self.topology.links.clone();
        for (i, link) in links.iter().enumerate() {
            let instance_name = self.instance()?.state.instance.clone();
            let macs = network::add_link(link, |sys| state::netns_name(&instance_name, sys))
                .map_err(io_err(format!("link {}", link.name)))?;
            let instance = self.instance()?;
            for (end, mac) in instance.state.links[i].ends.iter_mut().zip(macs) {
                end.mac = Some(mac);
            }
            instance.save()?;
            tracing::info!(link = %link.name, "link made");
            report.progress(&format!("    link {}: {}", link.name, describe_link(link)));
        }
        // Every irmd started, then each waited for: they come up together.
        for s in &systems {
            let config = self.system_config(&s.name, &s.dir)?;
            let args = self
                .topology
                .system(&s.name)
                .map(|t| t.irmd_args.clone())
                .unwrap_or_default();
            let args = args
                .iter()
                .map(|a| self.expand(a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(LabError::Placeholder)?;
            let env = self.env(&s.name)?;
            let group = process::start_irmd(&env, irmd, config.as_deref(), &args, &s.log())
                .map_err(io_err(format!("system {}: starting {}", s.name, irmd.display())))?;
            let pid = group.id();
            tracing::info!(system = %s.name, pid, log = %s.log().display(), "irmd started");
            self.irmds.push(group);
            let instance = self.instance()?;
            if let Some(rec) = instance.state.systems.iter_mut().find(|r| r.name == s.name) {
                rec.irmd_pid = Some(pid);
            }
            instance.save()?;
        }
        for (s, group) in systems.iter().zip(self.irmds.iter_mut()) {
            process::wait_ready(group, &s.rundir(), IRMD_READY, &self.options.stop).map_err(|reason| {
                if self.options.stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return LabError::Interrupted;
                }
                LabError::Irmd {
                    system: s.name.clone(),
                    reason,
                    log: s.log().display().to_string(),
                    tail: process::log_tail(&s.log(), LOG_TAIL),
                }
            })?;
            report.progress(&format!(
                "    system {}: irmd pid {} (log {})",
                s.name,
                group.id(),
                s.log().display()
            ));
        }
        if let Some(irm) = irm {
            for s in &systems {
                self.setup(irm, s)?;
            }
        }
        let instance = self.instance()?;
        instance.state.phase = Phase::Running;
        instance.save()?;
        Ok(())
    }

    /// The system's irmd config file with its placeholders replaced,
    /// written beside its log; none if it has none.
    fn system_config(&self, system: &str, dir: &Path) -> Result<Option<PathBuf>, LabError> {
        let Some(path) = self.topology.system(system).and_then(|s| s.config.clone()) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&path).map_err(io_err(format!(
            "system {system}: reading its config {}",
            path.display()
        )))?;
        let text = self
            .expand(&text)
            .map_err(|e| LabError::Placeholder(format!("{}: {e}", path.display())))?;
        let out = dir.join("irmd.toml");
        std::fs::write(&out, text).map_err(io_err(format!("writing {}", out.display())))?;
        Ok(Some(out))
    }

    fn setup(&mut self, irm: &Path, s: &SystemState) -> Result<(), LabError> {
        let Some(system) = self.topology.system(&s.name).cloned() else {
            return Ok(());
        };
        let env = self.env(&s.name)?;
        for words in &system.setup {
            let words = words
                .iter()
                .map(|w| self.expand(w))
                .collect::<Result<Vec<_>, _>>()
                .map_err(LabError::Placeholder)?;
            let line = words.join(" ");
            self.options
                .report
                .progress(&format!("    system {}: irm {line}", s.name));
            let out = env
                .command(irm)
                .args(&words)
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(io_err(format!("system {}: running {}", s.name, irm.display())))?;
            if !out.status.success() {
                return Err(LabError::Setup {
                    system: s.name.clone(),
                    line,
                    reason: format!(
                        "{}{}\nthe end of irmd's log ({}):\n{}",
                        String::from_utf8_lossy(&out.stderr).trim(),
                        String::from_utf8_lossy(&out.stdout).trim(),
                        s.log().display(),
                        process::log_tail(&s.log(), LOG_TAIL)
                    ),
                });
            }
        }
        Ok(())
    }

    fn expand(&self, text: &str) -> Result<String, String> {
        match &self.instance {
            Some(i) => self.topology.expand(text, &i.state),
            None => Err("the lab is down".to_owned()),
        }
    }

    fn env(&self, system: &str) -> Result<SystemEnv, LabError> {
        let state = self.state().ok_or_else(|| LabError::NoSystem(system.to_owned()))?;
        let s = state
            .system(system)
            .ok_or_else(|| LabError::NoSystem(system.to_owned()))?;
        Ok(system_env(state, s, &self.options.bins))
    }

    /// Runs the scenario; background steps are stopped at its end. On a
    /// failed step, the end of that system's irmd log is reported.
    pub fn run_scenario(&mut self) -> Result<(), LabError> {
        let state = self.state().cloned().ok_or(LabError::Interrupted)?;
        let bins = self.options.bins.clone();
        let env = |name: &str| {
            let s = state.system(name).cloned().unwrap_or_else(|| SystemState {
                name: name.to_owned(),
                netns: String::new(),
                dir: PathBuf::new(),
                irmd_pid: None,
            });
            system_env(&state, &s, &bins)
        };
        let expand = |text: &str| self.topology.expand(text, &state);
        let mut scenario = Scenario::new(
            &self.topology.steps,
            &env,
            &expand,
            Arc::clone(&self.options.report),
            &self.options.stop,
        );
        let result = scenario.run();
        scenario.stop_background();
        drop(scenario);
        match result {
            Ok(()) => Ok(()),
            Err(Stopped::Interrupted) => Err(LabError::Interrupted),
            Err(Stopped::Failed { step, system, reason }) => {
                if let Some(s) = system.as_deref().and_then(|s| state.system(s)) {
                    self.options.report.progress(&format!(
                        "    the end of {}'s irmd log ({}):\n{}",
                        s.name,
                        s.log().display(),
                        indent(&process::log_tail(&s.log(), LOG_TAIL))
                    ));
                }
                Err(LabError::Step { step, system, reason })
            }
        }
    }

    /// Leaves the lab up for `exec` and `down` (`o7s-lab up`): its irmds
    /// keep running and its record says `up`.
    pub fn detach(mut self) -> Result<String, LabError> {
        let instance = self.instance()?;
        instance.state.phase = Phase::Up;
        instance.save()?;
        let name = instance.state.instance.clone();
        for group in self.irmds.drain(..) {
            group.release();
        }
        self.instance = None;
        Ok(name)
    }

    /// Tears the lab down: irmds stopped, every process left in its
    /// namespaces killed, namespaces and runtime directories removed.
    pub fn teardown(&mut self) -> Result<(), LabError> {
        let Some(mut instance) = self.instance.take() else {
            return Ok(());
        };
        let started = Instant::now();
        self.options.report.progress("==> tearing down");
        instance.state.phase = Phase::Stopping;
        let _ = instance.save();
        let instance_name = instance.state.instance.clone();
        for group in &mut self.irmds {
            group.terminate(IRMD_GRACE);
        }
        self.irmds.clear();
        let mut problems = remove_recorded(&instance.state);
        if let Err(e) = instance.remove() {
            problems.push(e.to_string());
        }
        tracing::info!(instance = %instance_name, elapsed = ?started.elapsed(), ?problems, "torn down");
        if problems.is_empty() {
            self.options
                .report
                .progress(&format!("<== torn down ({})", secs(started.elapsed())));
            Ok(())
        } else {
            Err(LabError::Teardown(problems))
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            tracing::error!("{e}");
            self.options.report.progress(&format!("teardown: {e}"));
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

fn describe_link(link: &crate::topology::Link) -> String {
    let end = |e: &crate::topology::LinkEnd| {
        let addrs: Vec<String> = [e.ipv4, e.ipv6].iter().flatten().map(ToString::to_string).collect();
        let mut s = format!("{}:{}", e.system, e.dev);
        if !addrs.is_empty() {
            s.push_str(&format!(" {}", addrs.join(" ")));
        }
        s
    };
    let [a, b] = &link.ends;
    let mut text = format!("{} <-> {}", end(a), end(b));
    if let Some(mtu) = link.mtu {
        text.push_str(&format!(", mtu {mtu}"));
    }
    for (from, to) in [(a, b), (b, a)] {
        if let Some(n) = &from.netem {
            text.push_str(&format!(", netem {}->{}: {n}", from.system, to.system));
        }
    }
    text
}

/// Removes what a record says exists: each system's irmd (SIGTERM, then
/// SIGKILL), every other process in its namespace (SIGKILL), the namespace
/// with its veths. Returns what could not be removed.
pub fn remove_recorded(state: &LabState) -> Vec<String> {
    let mut problems = Vec::new();
    for s in state.systems.iter().rev() {
        if !network::netns_exists(&s.netns) {
            continue;
        }
        tracing::info!(system = %s.name, netns = %s.netns, "removing");
        // Only a pid that is in the namespace is ours: a recorded pid may
        // have been reused since a crash.
        let pids = network::netns_pids(&s.netns);
        if let Some(pid) = s.irmd_pid.filter(|p| pids.contains(p)) {
            o7s_netns::signal(pid, libc_sig::TERM);
            let deadline = Instant::now() + IRMD_GRACE;
            while process::alive(pid) && network::netns_pids(&s.netns).contains(&pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let left = network::signal_netns(&s.netns, libc_sig::KILL, Duration::from_secs(3));
        if !left.is_empty() {
            problems.push(format!("processes {left:?} in namespace {}", s.netns));
        }
        if let Err(e) = network::del_netns(&s.netns) {
            problems.push(format!("namespace {}: {e}", s.netns));
        }
    }
    problems
}

/// Tears down the instance `name` from its record (`o7s-lab down`).
pub fn down(name: &str, options: &Options) -> Result<(), LabError> {
    if !is_root() {
        return Err(LabError::NotRoot);
    }
    let mut instance = Instance::open(&options.state_dir, name)?;
    options.report.progress(&format!("==> tearing down instance {name}"));
    instance.state.phase = Phase::Stopping;
    instance.save()?;
    let mut problems = remove_recorded(&instance.state);
    if let Err(e) = instance.remove() {
        problems.push(e.to_string());
    }
    if problems.is_empty() {
        options.report.progress("<== torn down");
        Ok(())
    } else {
        Err(LabError::Teardown(problems))
    }
}

/// Removes what crashed runs left: instances whose owner is gone (and, with
/// `all`, those left `up`), half-claimed instance directories, and
/// namespaces with the lab prefix that no record holds. Returns what was
/// removed, a line each.
pub fn cleanup(options: &Options, all: bool) -> Result<Vec<String>, LabError> {
    if !is_root() {
        return Err(LabError::NotRoot);
    }
    let root = &options.state_dir;
    // Namespaces first: one made after this listing belongs to a record
    // written before it was made, which the walk below sees.
    let namespaces = network::list_netns(state::NETNS_PREFIX).map_err(io_err("listing namespaces"))?;
    let mut known: Vec<String> = Vec::new();
    let mut removed = Vec::new();
    let mut problems = Vec::new();
    for name in state::list(root) {
        let dir = root.join(&name);
        if let Some(rest) = name.strip_prefix(".new-") {
            // `.new-<instance>-<pid>`: kept while the process claiming it lives.
            let claimer = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
            if claimer.is_none_or(|pid| !process::alive(pid)) && state::unowned(&dir)? {
                std::fs::remove_dir_all(&dir).map_err(io_err(format!("removing {}", dir.display())))?;
                removed.push(format!("half-made instance directory {}", dir.display()));
            }
            continue;
        }
        let record = state::read(root, &name);
        if let Ok(r) = &record {
            known.extend(r.systems.iter().map(|s| s.netns.clone()));
        }
        if !state::unowned(&dir)? {
            continue;
        }
        match record {
            Ok(r) if r.phase == Phase::Up && !all => continue,
            Ok(_) => match Instance::open(root, &name) {
                Ok(instance) => {
                    let left = remove_recorded(&instance.state);
                    let what = format!(
                        "instance {name} (lab {}, {:?}, made by pid {}): {}",
                        instance.state.lab,
                        instance.state.phase,
                        instance.state.owner,
                        instance
                            .state
                            .systems
                            .iter()
                            .map(|s| s.netns.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    problems.extend(left);
                    if let Err(e) = instance.remove() {
                        problems.push(e.to_string());
                    }
                    removed.push(what);
                }
                Err(StateError::Busy { .. }) => continue,
                Err(e) => problems.push(e.to_string()),
            },
            Err(e) => {
                // No readable record: its namespaces are found by prefix below.
                tracing::warn!("{e}");
                std::fs::remove_dir_all(&dir).map_err(io_err(format!("removing {}", dir.display())))?;
                removed.push(format!(
                    "instance directory {} without a readable record",
                    dir.display()
                ));
            }
        }
    }
    for ns in namespaces.iter().filter(|n| !known.contains(n)) {
        let left = network::signal_netns(ns, libc_sig::KILL, Duration::from_secs(3));
        if !left.is_empty() {
            problems.push(format!("processes {left:?} in namespace {ns}"));
        }
        match network::del_netns(ns) {
            Ok(()) => removed.push(format!("namespace {ns} (no record)")),
            Err(e) => problems.push(format!("namespace {ns}: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(removed)
    } else {
        Err(LabError::Teardown(problems))
    }
}

/// What an instance's record says, and whether its parts are alive.
pub fn status(name: &str, options: &Options) -> Result<String, LabError> {
    let dir = options.state_dir.join(name);
    let s = state::read(&options.state_dir, name)?;
    let owner = if state::unowned(&dir)? {
        "no o7s-lab holds it".to_owned()
    } else {
        format!("held by o7s-lab pid {}", s.owner)
    };
    let mut out = format!(
        "instance {} of lab {} ({}): {:?}, {owner}\n",
        s.instance,
        s.lab,
        s.file.display(),
        s.phase
    );
    for sys in &s.systems {
        let ns = if network::netns_exists(&sys.netns) {
            ""
        } else {
            " (missing)"
        };
        let pids = network::netns_pids(&sys.netns);
        let irmd = match sys.irmd_pid {
            Some(p) if pids.contains(&p) => format!("irmd pid {p}"),
            Some(p) => format!("irmd pid {p} (gone)"),
            None => "no irmd".to_owned(),
        };
        out.push_str(&format!(
            "  system {}: namespace {}{ns}, {irmd}, {} processes, O7S_RUNDIR={}, log {}\n",
            sys.name,
            sys.netns,
            pids.len(),
            sys.rundir().display(),
            sys.log().display()
        ));
    }
    for link in &s.links {
        let ends: Vec<String> = link
            .ends
            .iter()
            .map(|e| format!("{}:{} {}", e.system, e.dev, e.mac.as_deref().unwrap_or("(not made)")))
            .collect();
        out.push_str(&format!("  link {}: {}\n", link.name, ends.join(" <-> ")));
    }
    Ok(out)
}

/// Brings the lab up, runs its scenario, tears it down whatever happens
/// (`o7s-lab run`). The instance is the lab's name and this process's id
/// unless `options` names one, so the same lab may run twice at once.
pub fn run(topology: Topology, file: &Path, mut options: Options) -> Result<(), LabError> {
    let report = Arc::clone(&options.report);
    if options.instance.is_none() {
        options.instance = Some(format!("{}-{}", topology.name, std::process::id()));
    }
    let mut lab = Lab::up(topology, file, options)?;
    let result = lab.run_scenario();
    let down = lab.teardown();
    match (&result, down) {
        (Ok(()), Err(e)) => Err(e),
        (_, Err(e)) => {
            report.progress(&format!("teardown: {e}"));
            result
        }
        _ => result,
    }
}
