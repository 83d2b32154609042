//! irmd's kernel and C-library boundary: its own uid, group and user
//! lookups, the open-file limit, and starting a program as another
//! account. Every `unsafe` block of irmd is here.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::irm::Account;

/// irmd's effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and has no memory effects.
    unsafe { libc::geteuid() }
}

/// irmd's effective group id.
pub fn egid() -> u32 {
    // SAFETY: getegid cannot fail and has no memory effects.
    unsafe { libc::getegid() }
}

/// A group given by name or number (`--operators wheel`, `--users 1001`).
pub fn group_id(group: &str) -> io::Result<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    let name = CString::new(group).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in group name"))?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // SAFETY: group is plain old data; zero is a valid value.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `buf` is writable for
        // its length and only read back through `grp` while it lives.
        let ret = unsafe { libc::getgrnam_r(name.as_ptr(), &mut grp, buf.as_mut_ptr().cast(), buf.len(), &mut found) };
        if ret == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        if found.is_null() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no group named {group:?}"),
            ));
        }
        return Ok(grp.gr_gid);
    }
}

/// The login name and home directory of `uid`, if the system knows it.
pub fn user_of(uid: u32) -> Option<(String, PathBuf)> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // SAFETY: passwd is plain old data; zero is a valid value.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `buf` is writable for
        // its length and only read back through `pw` while it lives.
        let ret = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut found) };
        if ret == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if ret != 0 || found.is_null() {
            return None;
        }
        // SAFETY: on success pw_name and pw_dir point to NUL-terminated
        // strings inside `buf`, which outlives these borrows.
        let (name, dir) = unsafe { (CStr::from_ptr(pw.pw_name), CStr::from_ptr(pw.pw_dir)) };
        return Some((
            name.to_string_lossy().into_owned(),
            PathBuf::from(dir.to_string_lossy().into_owned()),
        ));
    }
}

/// Raises the soft limit on open files to the hard limit (irmd holds a
/// socket per process and two rings per flow); returns (before, after).
pub fn raise_fd_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer.
    o7s_mem::sys::cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid in-pointer.
        o7s_mem::sys::cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok((before, lim.rlim_cur))
}

/// Starts `path` with `args` as `account`, with `env` added to irmd's
/// environment and stdin from /dev/null. For an account other than irmd's
/// own, the child takes the account's groups, gid and uid (in that order,
/// before exec, so it never runs a single instruction of `path` with more
/// privilege), the account's `HOME`, `USER` and `LOGNAME`, and `/` as its
/// working directory. Starting a program for another account needs irmd
/// to run as root; otherwise it fails (EPERM) and nothing runs.
pub fn spawn_as(path: &Path, args: &[String], env: &[(&str, &Path)], account: &Account) -> io::Result<Child> {
    let mut cmd = Command::new(path);
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if account.uid != euid() || account.gid != egid() {
        if let Some((name, home)) = user_of(account.uid) {
            cmd.env("HOME", home).env("USER", &name).env("LOGNAME", &name);
        }
        cmd.current_dir("/");
        let groups: Vec<libc::gid_t> = account.groups.clone();
        let (uid, gid) = (account.uid, account.gid);
        // SAFETY: the closure runs in the forked child before exec and
        // only makes async-signal-safe system calls on data prepared
        // before the fork (no allocation, no locks).
        unsafe {
            cmd.pre_exec(move || {
                o7s_mem::sys::cvt(libc::setgroups(groups.len(), groups.as_ptr()))?;
                o7s_mem::sys::cvt(libc::setgid(gid))?;
                o7s_mem::sys::cvt(libc::setuid(uid))?;
                Ok(())
            });
        }
    }
    cmd.spawn()
}

/// A netlink socket that becomes readable when a network interface of
/// this namespace changes (RTMGRP_LINK): irmd's cue to look at its ports'
/// links. Non-blocking; what it reads is only drained ([`drain`]).
pub fn link_watch() -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: socket(2) with constant arguments; the fd is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket no one else owns.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = libc::RTMGRP_LINK as u32;
    // SAFETY: addr is a sockaddr_nl of the size passed.
    let ret = unsafe {
        libc::bind(
            fd,
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    o7s_mem::sys::cvt(ret)?;
    Ok(owned)
}

/// Reads and forgets everything waiting on a non-blocking socket.
pub fn drain(fd: std::os::fd::BorrowedFd<'_>) {
    use std::os::fd::AsRawFd;
    let mut buf = [0u8; 8192];
    loop {
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n <= 0 {
            return;
        }
    }
}

/// Whether interface `dev` of this namespace is up with a carrier
/// (`operstate` up, or unknown for links that do not report one).
pub fn link_up(dev: &str) -> bool {
    let path = format!("/sys/class/net/{dev}/operstate");
    match std::fs::read_to_string(path) {
        Ok(state) => matches!(state.trim(), "up" | "unknown"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_found_by_name_or_number() {
        assert_eq!(group_id("0").unwrap(), 0);
        assert_eq!(group_id("root").unwrap(), 0);
        assert_eq!(group_id("4242").unwrap(), 4242);
        let e = group_id("no-such-group-o7s").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("no-such-group-o7s"), "{e}");
    }

    #[test]
    fn the_fd_limit_only_goes_up() {
        let (before, after) = raise_fd_limit().unwrap();
        assert!(after >= before);
    }
}
