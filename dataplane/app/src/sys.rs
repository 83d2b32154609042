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

/// The pid of the process at the other end of `sock` when it connected
/// (SO_PEERCRED): what the kernel says, not what the peer claims.
pub fn peer_pid(sock: &UnixStream) -> io::Result<u32> {
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
    u32::try_from(cred.pid).map_err(|_| io::Error::other("peer has no pid"))
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
