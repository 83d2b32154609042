//! The library's kernel boundary: irmd's SOCK_SEQPACKET socket (std has
//! only stream sockets) and the peer's credentials.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use o7s_mem::sys::cvt;

fn seqpacket_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a new fd we own.
    let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket() and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain old data; zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "socket path {} is longer than {} octets",
                path.display(),
                addr.sun_path.len() - 1
            ),
        ));
    }
    for (d, &s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

/// Connects to a SOCK_SEQPACKET socket at `path`. The stream type is only a
/// holder: every read and write on it moves one whole message.
pub fn seqpacket_connect(path: &Path) -> io::Result<UnixStream> {
    let fd = seqpacket_socket()?;
    let (addr, len) = sockaddr(path)?;
    // SAFETY: `addr` is a valid sockaddr_un of `len` octets.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    Ok(UnixStream::from(fd))
}

/// Binds and listens on a SOCK_SEQPACKET socket at `path` (which must not
/// exist).
pub fn seqpacket_listen(path: &Path) -> io::Result<UnixListener> {
    let fd = seqpacket_socket()?;
    let (addr, len) = sockaddr(path)?;
    // SAFETY: `addr` is a valid sockaddr_un of `len` octets.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    // SAFETY: plain syscall on our socket.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), 128) })?;
    Ok(UnixListener::from(fd))
}

/// Who is at the other end of a UNIX socket, as the kernel recorded it
/// when the peer connected (SO_PEERCRED): not what the peer claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// The peer's process id.
    pub pid: u32,
    /// Its effective user id.
    pub uid: u32,
    /// Its effective group id.
    pub gid: u32,
}

/// The peer's credentials (SO_PEERCRED).
pub fn peer_cred(sock: &impl AsRawFd) -> io::Result<PeerCred> {
    // SAFETY: ucred is plain old data; zero is a valid value.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid out-pointers of the right size.
    cvt(unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    })?;
    Ok(PeerCred {
        pid: u32::try_from(cred.pid).map_err(|_| io::Error::other("peer has no pid"))?,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// The pid of the process at the other end of `sock` when it connected
/// (SO_PEERCRED): what the kernel says, not what the peer claims.
pub fn peer_pid(sock: &UnixStream) -> io::Result<u32> {
    peer_cred(sock).map(|c| c.pid)
}

/// The peer's supplementary groups when it connected (SO_PEERGROUPS).
pub fn peer_groups(sock: &impl AsRawFd) -> io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = libc::socklen_t::try_from(groups.len() * std::mem::size_of::<libc::gid_t>())
            .map_err(|_| io::Error::other("too many groups"))?;
        // SAFETY: `groups` is writable for `len` octets; the kernel writes at
        // most that much and says how much it needs on ERANGE.
        let ret = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if ret == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= 1 << 16 {
            groups.resize(n, 0);
            continue;
        }
        return Err(err);
    }
}

/// A pidfd for the peer process (SO_PEERPIDFD, Linux 6.5): unlike the pid,
/// it cannot come to name another process once the peer is gone.
pub fn peer_pidfd(sock: &impl AsRawFd) -> io::Result<OwnedFd> {
    const SO_PEERPIDFD: libc::c_int = 77;
    let mut fd: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` and `len` are valid out-pointers of the right size.
    cvt(unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&raw mut fd).cast(),
            &mut len,
        )
    })?;
    // SAFETY: on success the kernel installed a new pidfd that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether the process a pidfd names is still running (signal 0).
pub fn pidfd_alive(pidfd: &OwnedFd) -> bool {
    // SAFETY: pidfd_send_signal with signal 0 only checks; no memory effects.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    ret == 0
}

/// Asks process `pid` to terminate (SIGTERM); false when it is gone.
pub fn terminate(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) has no memory effects.
    unsafe { libc::kill(pid, libc::SIGTERM) == 0 }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[test]
    fn messages_keep_their_boundaries_and_the_peer_is_known() {
        let dir = std::env::temp_dir().join(format!("o7s-sys-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let listener = seqpacket_listen(&path).unwrap();
        let mut client = seqpacket_connect(&path).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"one").unwrap();
        client.write_all(b"two!").unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(server.read(&mut buf).unwrap(), 3);
        assert_eq!(server.read(&mut buf).unwrap(), 4);
        assert_eq!(peer_pid(&server).unwrap(), std::process::id());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
