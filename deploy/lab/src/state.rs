//! What a lab instance has made, recorded on disk before it is made, so
//! that `down`, `status`, `exec` and `cleanup` find it from another process
//! and after a crash.
//!
//! ```text
//! /run/o7s-lab/                       STATE_DIR
//!   <instance>/
//!     lock                            flock held by the o7s-lab bringing it up or running it
//!     state.toml                      LabState: phase, owner, namespaces, irmd pids, links
//!     <system>/rundir/                the system's O7S_RUNDIR (irmd.sock)
//!     <system>/irmd.log               its irmd's log
//!     <system>/irmd.toml              its config file, placeholders replaced
//!   .new-<instance>-<pid>/            an instance being claimed (renamed into place)
//! ```
//!
//! An instance whose lock nobody holds has no live owner: it was brought
//! `up` and left for later use (phase `up`), or its owner died (any other
//! phase), and then `cleanup` removes it. Namespaces are called
//! `o7l-<instance>-<system>`; one with that prefix that no state records
//! is left from a crash too.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::topology::Runtime;

/// Where instances are recorded (a tmpfs: nothing survives a reboot, and
/// neither do namespaces).
pub const STATE_DIR: &str = "/run/o7s-lab";
/// The first characters of every lab namespace's name.
pub const NETNS_PREFIX: &str = "o7l-";

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Being brought up.
    Starting,
    /// Up and running its scenario (`o7s-lab run`).
    Running,
    /// Up, left for `exec` and `down` (`o7s-lab up`).
    Up,
    /// Being torn down.
    Stopping,
}

/// One instance's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    /// The instance's name.
    pub instance: String,
    /// The lab's name.
    pub lab: String,
    /// The lab file.
    pub file: PathBuf,
    /// The o7s-lab process that made it.
    pub owner: u32,
    /// Where it is in its life.
    pub phase: Phase,
    /// Where its programs come from.
    pub bin_dir: Option<PathBuf>,
    /// Its systems, each recorded before its namespace is made.
    pub systems: Vec<SystemState>,
    /// Its links.
    pub links: Vec<LinkState>,
}

/// A system of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemState {
    /// The system's name.
    pub name: String,
    /// Its network namespace.
    pub netns: String,
    /// Its directory (runtime directory, irmd log and config inside).
    pub dir: PathBuf,
    /// Its irmd, once started.
    pub irmd_pid: Option<u32>,
}

impl SystemState {
    /// The system's `O7S_RUNDIR`.
    pub fn rundir(&self) -> PathBuf {
        self.dir.join("rundir")
    }

    /// Its irmd's log.
    pub fn log(&self) -> PathBuf {
        self.dir.join("irmd.log")
    }
}

/// A link of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// The link's name.
    pub name: String,
    /// Its ends.
    pub ends: Vec<EndState>,
}

/// A link end of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndState {
    /// The system.
    pub system: String,
    /// The interface.
    pub dev: String,
    /// Its MAC address, once made.
    pub mac: Option<String>,
}

impl LabState {
    /// The system called `name`.
    pub fn system(&self, name: &str) -> Option<&SystemState> {
        self.systems.iter().find(|s| s.name == name)
    }
}

impl Runtime for LabState {
    fn instance(&self) -> String {
        self.instance.clone()
    }
    fn netns(&self, system: &str) -> String {
        netns_name(&self.instance, system)
    }
    fn rundir(&self, system: &str) -> String {
        self.system(system)
            .map(|s| s.rundir().display().to_string())
            .unwrap_or_default()
    }
    fn mac(&self, link: &str, system: &str) -> Option<String> {
        self.links
            .iter()
            .find(|l| l.name == link)?
            .ends
            .iter()
            .find(|e| e.system == system)?
            .mac
            .clone()
    }
}

/// The namespace of `system` in `instance`.
pub fn netns_name(instance: &str, system: &str) -> String {
    format!("{NETNS_PREFIX}{instance}-{system}")
}

/// Checks an instance name given on the command line.
pub fn check_instance(name: &str) -> Result<(), String> {
    crate::topology::check_word("instance", name, 48)
}

/// Why an instance could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No such instance.
    #[error("lab instance {instance:?} is not up (nothing in {})", dir.display())]
    NotFound {
        /// The instance.
        instance: String,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// Another o7s-lab holds it.
    #[error("lab instance {instance:?} is held by a running o7s-lab (pid {owner}): it is being brought up or run")]
    Busy {
        /// The instance.
        instance: String,
        /// Its owner as recorded.
        owner: u32,
    },
    /// The name is taken.
    #[error(
        "lab instance {instance:?} already exists ({phase:?}, made by pid {owner}): `o7s-lab down` it, `o7s-lab cleanup` if its o7s-lab died, or choose another --instance"
    )]
    Exists {
        /// The instance.
        instance: String,
        /// Its phase.
        phase: Phase,
        /// Its owner.
        owner: u32,
    },
    /// File system trouble.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The record does not parse.
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StateError {
    let path = path.to_owned();
    move |source| StateError::Io { what, path, source }
}

/// An instance this process holds the lock of.
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
    _lock: File,
    /// Its record as last saved.
    pub state: LabState,
}

/// Whether the lock at `path` was taken.
enum Locked {
    Yes(File),
    ByAnother,
}

fn lock(path: &Path) -> Result<Locked, StateError> {
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_error("opening the lock", path))?;
    match file.try_lock() {
        Ok(()) => Ok(Locked::Yes(file)),
        Err(TryLockError::WouldBlock) => Ok(Locked::ByAnother),
        Err(TryLockError::Error(e)) => Err(io_error("locking", path)(e)),
    }
}

impl Instance {
    /// Claims `state.instance` under `root` and records `state`; fails if
    /// the name is taken.
    pub fn create(root: &Path, state: LabState) -> Result<Instance, StateError> {
        std::fs::create_dir_all(root).map_err(io_error("creating", root))?;
        let dir = root.join(&state.instance);
        // Made aside and renamed into place: the name is claimed with the
        // lock already held and the record already written.
        let new = root.join(format!(".new-{}-{}", state.instance, std::process::id()));
        let _ = std::fs::remove_dir_all(&new);
        std::fs::create_dir(&new).map_err(io_error("creating", &new))?;
        let Locked::Yes(lock_file) = lock(&new.join("lock"))? else {
            return Err(StateError::Busy {
                instance: state.instance,
                owner: 0,
            });
        };
        let mut instance = Instance {
            dir: new.clone(),
            _lock: lock_file,
            state,
        };
        instance.save()?;
        if let Err(e) = std::fs::rename(&new, &dir) {
            let _ = std::fs::remove_dir_all(&new);
            if dir.exists() {
                let existing = read(root, &instance.state.instance)?;
                return Err(StateError::Exists {
                    instance: existing.instance,
                    phase: existing.phase,
                    owner: existing.owner,
                });
            }
            return Err(io_error("claiming", &dir)(e));
        }
        instance.dir = dir;
        Ok(instance)
    }

    /// Takes the lock of an existing instance.
    pub fn open(root: &Path, name: &str) -> Result<Instance, StateError> {
        let dir = root.join(name);
        if !dir.join("state.toml").is_file() {
            return Err(StateError::NotFound {
                instance: name.to_owned(),
                dir: root.to_owned(),
            });
        }
        match lock(&dir.join("lock"))? {
            Locked::Yes(file) => Ok(Instance {
                state: read(root, name)?,
                dir,
                _lock: file,
            }),
            Locked::ByAnother => Err(StateError::Busy {
                instance: name.to_owned(),
                owner: read(root, name).map(|s| s.owner).unwrap_or(0),
            }),
        }
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the record (whole, then renamed over the old one).
    pub fn save(&mut self) -> Result<(), StateError> {
        let text = toml::to_string(&self.state).map_err(|e| StateError::Corrupt {
            path: self.dir.join("state.toml"),
            message: e.to_string(),
        })?;
        let tmp = self.dir.join("state.toml.new");
        std::fs::write(&tmp, text).map_err(io_error("writing", &tmp))?;
        let path = self.dir.join("state.toml");
        std::fs::rename(&tmp, &path).map_err(io_error("writing", &path))
    }

    /// Removes the instance's directory (its runtime directories, logs and
    /// record), and with it the claim on the name.
    pub fn remove(self) -> Result<(), StateError> {
        std::fs::remove_dir_all(&self.dir).map_err(io_error("removing", &self.dir))
    }
}

/// The record of instance `name`, without taking its lock.
pub fn read(root: &Path, name: &str) -> Result<LabState, StateError> {
    let path = root.join(name).join("state.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            StateError::NotFound {
                instance: name.to_owned(),
                dir: root.to_owned(),
            }
        } else {
            io_error("reading", &path)(e)
        }
    })?;
    toml::from_str(&text).map_err(|e| StateError::Corrupt {
        path,
        message: e.to_string(),
    })
}

/// The instances recorded under `root` (also those being claimed, as
/// `.new-…`), sorted.
pub fn list(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Whether nobody holds the lock of the instance directory `dir` (its
/// owner is gone, or it was left `up`).
pub fn unowned(dir: &Path) -> Result<bool, StateError> {
    if !dir.join("lock").exists() {
        return Ok(true);
    }
    Ok(matches!(lock(&dir.join("lock"))?, Locked::Yes(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(instance: &str) -> LabState {
        LabState {
            instance: instance.to_owned(),
            lab: "t".to_owned(),
            file: PathBuf::from("/x/t.toml"),
            owner: std::process::id(),
            phase: Phase::Starting,
            bin_dir: None,
            systems: vec![SystemState {
                name: "a".to_owned(),
                netns: netns_name(instance, "a"),
                dir: PathBuf::from("/x/a"),
                irmd_pid: Some(7),
            }],
            links: vec![LinkState {
                name: "ab".to_owned(),
                ends: vec![EndState {
                    system: "a".to_owned(),
                    dev: "ab".to_owned(),
                    mac: Some("02:00:00:00:00:01".to_owned()),
                }],
            }],
        }
    }

    fn root(test: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("o7s-lab-state-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        root
    }

    #[test]
    fn an_instance_is_recorded_claimed_once_and_removed() {
        let root = root("claim");
        let mut held = Instance::create(&root, state("i1")).unwrap();
        assert_eq!(read(&root, "i1").unwrap(), held.state, "recorded as made");
        assert!(!unowned(held.dir()).unwrap(), "held while this process has it");
        assert!(matches!(Instance::open(&root, "i1"), Err(StateError::Busy { .. })));
        assert!(matches!(
            Instance::create(&root, state("i1")),
            Err(StateError::Exists {
                phase: Phase::Starting,
                ..
            })
        ));
        held.state.phase = Phase::Up;
        held.save().unwrap();
        assert_eq!(list(&root), ["i1"]);
        drop(held);

        let reopened = Instance::open(&root, "i1").unwrap();
        assert_eq!(reopened.state.phase, Phase::Up);
        reopened.remove().unwrap();
        assert!(list(&root).is_empty());
        assert!(matches!(Instance::open(&root, "i1"), Err(StateError::NotFound { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn placeholders_read_what_the_record_holds() {
        let s = state("i2");
        assert_eq!(s.netns("a"), "o7l-i2-a");
        assert_eq!(s.rundir("a"), "/x/a/rundir");
        assert_eq!(s.mac("ab", "a").as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(s.mac("ab", "b"), None);
    }

    #[test]
    fn instance_names_are_checked() {
        assert!(check_instance("local-pair-1234").is_ok());
        for bad in ["", ".new", "a/b", "a b", &"x".repeat(49)] {
            assert!(check_instance(bad).is_err(), "{bad:?}");
        }
    }
}
