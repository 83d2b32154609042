//! Who may use irmd, and for what.
//!
//! | who (kernel's word: SO_PEERCRED, SO_PEERGROUPS) | role | may |
//! |---|---|---|
//! | uid 0, irmd's own uid, a member of the operators group | [`Role::Operator`] | everything: every `irm` command, irmd's status, applications |
//! | a member of the users group | [`Role::User`] | applications (announce, flow_alloc/accept/dealloc/join) and the read-only commands `ipcp list`, `name list`, `help` |
//! | anyone else | none | nothing: the connection is closed at once |
//!
//! The file system says the same first: the runtime directory is irmd's
//! own, mode 0700, or 0710 with the users group (else the operators group)
//! as its group, so that only they reach the socket, itself 0600 or 0660.
//! Both modes are set explicitly, whatever the umask. The peer check then
//! holds even when someone loosens the modes by hand.
//!
//! A program irmd starts for a binding made with `auto` runs as the
//! account that bound it (uid, gid and groups), never as irmd's for
//! someone else; a process's program is what `/proc/<pid>/exe` says, not
//! what the process claims.

use std::fmt;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use o7s_app::sys::PeerCred;

use crate::irm::Account;

/// What a connected process may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Run applications and read irmd's tables.
    User,
    /// Everything.
    Operator,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::User => "user",
            Role::Operator => "operator",
        })
    }
}

/// The access policy: irmd's own account and the two optional groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// irmd's effective uid: the owner of the runtime directory.
    pub owner: u32,
    /// Members may do everything irmd's owner may.
    pub operators: Option<u32>,
    /// Members may run applications.
    pub users: Option<u32>,
}

impl Access {
    /// The role of a peer with these credentials, or `None` when it may
    /// not use irmd at all.
    pub fn role(&self, cred: &PeerCred, groups: &[u32]) -> Option<Role> {
        let member = |gid: Option<u32>| gid.is_some_and(|g| cred.gid == g || groups.contains(&g));
        if cred.uid == 0 || cred.uid == self.owner || member(self.operators) {
            Some(Role::Operator)
        } else if member(self.users) {
            Some(Role::User)
        } else {
            None
        }
    }

    /// The group that owns the runtime directory and the socket, if any:
    /// the users group (operators should be members of it too), else the
    /// operators group.
    pub fn socket_group(&self) -> Option<u32> {
        self.users.or(self.operators)
    }

    /// Mode of the runtime directory: owner only, or traversable by the
    /// socket's group.
    pub fn dir_mode(&self) -> u32 {
        if self.socket_group().is_some() { 0o710 } else { 0o700 }
    }

    /// Mode of the socket.
    pub fn socket_mode(&self) -> u32 {
        if self.socket_group().is_some() { 0o660 } else { 0o600 }
    }
}

/// A connected process, as the kernel describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its credentials when it connected.
    pub cred: PeerCred,
    /// Its supplementary groups.
    pub groups: Vec<u32>,
    /// The program it runs (`/proc/<pid>/exe`), if it could be read.
    pub program: Option<PathBuf>,
    /// What it may do.
    pub role: Role,
}

impl Peer {
    /// The account a binding it makes acts for.
    pub fn account(&self) -> Account {
        Account {
            uid: self.cred.uid,
            gid: self.cred.gid,
            groups: self.groups.clone(),
        }
    }
}

/// The program a process runs, from the kernel: `/proc/<pid>/exe`
/// (without the " (deleted)" the kernel appends once the file is replaced,
/// as a rebuilt binary is).
pub fn program_of(pid: u32) -> Option<PathBuf> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let text = exe.to_str()?;
    Some(PathBuf::from(text.strip_suffix(" (deleted)").unwrap_or(text)))
}

/// Why the runtime directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RundirError {
    #[error("cannot create {dir}: {source}")]
    Create { dir: PathBuf, source: io::Error },
    #[error("{dir} is not a directory (a symbolic link or a file is refused)")]
    NotADirectory { dir: PathBuf },
    #[error("{dir} belongs to uid {uid}, not to irmd's uid {owner}; give irmd a directory of its own")]
    NotOurs { dir: PathBuf, uid: u32, owner: u32 },
    #[error("{dir} is a directory shared by every user (mode {mode:o}); give irmd a directory of its own")]
    Shared { dir: PathBuf, mode: u32 },
    #[error("cannot set the owner or mode of {path}: {source}")]
    Secure { path: PathBuf, source: io::Error },
}

/// Creates the runtime directory if needed (parents with the default
/// mode) and makes it irmd's alone: refuses a directory another user owns,
/// a symbolic link, or a sticky directory (one shared by design, as `/tmp`
/// itself); sets its group and mode per `access`, which also closes a
/// directory of irmd's that a umask of 000 left open to all.
pub fn prepare_rundir(dir: &Path, access: &Access) -> Result<(), RundirError> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|source| RundirError::Create {
            dir: parent.to_owned(),
            source,
        })?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(RundirError::Create {
                dir: dir.to_owned(),
                source,
            });
        }
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|source| RundirError::Create {
        dir: dir.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(RundirError::NotADirectory { dir: dir.to_owned() });
    }
    if meta.uid() != access.owner {
        return Err(RundirError::NotOurs {
            dir: dir.to_owned(),
            uid: meta.uid(),
            owner: access.owner,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o1000 != 0 {
        return Err(RundirError::Shared {
            dir: dir.to_owned(),
            mode,
        });
    }
    secure(dir, access.socket_group(), access.dir_mode())
}

/// Gives `path` the group (if any) and the mode; the group first, so the
/// mode never opens the file to the group it had before.
pub fn secure(path: &Path, group: Option<u32>, mode: u32) -> Result<(), RundirError> {
    let failed = |source| RundirError::Secure {
        path: path.to_owned(),
        source,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700)).map_err(failed)?;
    if let Some(gid) = group {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(failed)?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(uid: u32, gid: u32) -> PeerCred {
        PeerCred { pid: 1, uid, gid }
    }

    #[test]
    fn roles_follow_uid_and_group_membership() {
        let open = Access {
            owner: 0,
            operators: Some(50),
            users: Some(60),
        };
        assert_eq!(open.role(&cred(0, 0), &[]), Some(Role::Operator));
        assert_eq!(open.role(&cred(1000, 50), &[]), Some(Role::Operator));
        assert_eq!(open.role(&cred(1000, 1000), &[60, 50]), Some(Role::Operator));
        assert_eq!(open.role(&cred(1000, 60), &[]), Some(Role::User));
        assert_eq!(open.role(&cred(1000, 1000), &[60]), Some(Role::User));
        assert_eq!(open.role(&cred(1000, 1000), &[61, 49]), None);

        let closed = Access {
            owner: 1000,
            operators: None,
            users: None,
        };
        assert_eq!(closed.role(&cred(1000, 1000), &[]), Some(Role::Operator));
        assert_eq!(closed.role(&cred(0, 0), &[]), Some(Role::Operator));
        assert_eq!(closed.role(&cred(1001, 1000), &[1000]), None);
        assert_eq!((closed.dir_mode(), closed.socket_mode()), (0o700, 0o600));
        assert_eq!((open.dir_mode(), open.socket_mode()), (0o710, 0o660));
        assert_eq!(open.socket_group(), Some(60));
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("o7s-access-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn mine() -> Access {
        Access {
            owner: crate::irmd::sys::euid(),
            operators: None,
            users: None,
        }
    }

    #[test]
    fn the_runtime_directory_is_made_owner_only_whatever_it_was() {
        let dir = scratch("mode");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        prepare_rundir(&dir, &mine()).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
        std::fs::remove_dir_all(&dir).unwrap();

        let fresh = scratch("fresh").join("deeper");
        prepare_rundir(&fresh, &mine()).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o7777, 0o700);
        std::fs::remove_dir_all(fresh.parent().unwrap()).unwrap();
    }

    #[test]
    fn shared_directories_links_and_files_are_refused() {
        let e = prepare_rundir(&std::env::temp_dir(), &mine()).unwrap_err();
        assert!(
            matches!(e, RundirError::Shared { .. } | RundirError::NotOurs { .. }),
            "{e}"
        );

        let base = scratch("link");
        std::fs::create_dir_all(&base).unwrap();
        let link = base.join("link");
        std::os::unix::fs::symlink(&base, &link).unwrap();
        let e = prepare_rundir(&link, &mine()).unwrap_err();
        assert!(matches!(e, RundirError::NotADirectory { .. }), "{e}");
        let file = base.join("file");
        std::fs::write(&file, b"").unwrap();
        let e = prepare_rundir(&file, &mine()).unwrap_err();
        assert!(matches!(e, RundirError::NotADirectory { .. }), "{e}");

        let other = Access {
            owner: mine().owner + 1,
            ..mine()
        };
        let e = prepare_rundir(&base, &other).unwrap_err();
        assert!(e.to_string().contains("not to irmd's uid"), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_process_program_is_what_the_kernel_says() {
        let me = program_of(std::process::id()).unwrap();
        assert_eq!(me, std::env::current_exe().unwrap().canonicalize().unwrap());
        assert_eq!(program_of(u32::MAX), None);
    }
}
