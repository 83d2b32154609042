//! The engine's syscalls outside the port backends: interface facts by
//! ioctl on a throw-away socket, so they come from the calling thread's
//! network namespace (sysfs shows the namespace that mounted it, not the
//! thread's), and an idle worker's sleep on its ports' fds.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &b) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = b as libc::c_char;
    }
    Ok(req)
}

/// Runs one SIOCGIF* request for interface `name`.
fn ioctl(name: &str, request: libc::c_ulong) -> io::Result<libc::ifreq> {
    let mut req = ifreq(name)?;
    // SAFETY: a plain socket() call; the fd is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by the kernel and is ours alone.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: SIOCGIF* requests read the name and write into `req`, a
    // valid ifreq that outlives the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), request, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(req)
}

/// The MAC address of interface `name`.
pub fn interface_mac(name: &str) -> io::Result<[u8; 6]> {
    let req = ioctl(name, libc::SIOCGIFHWADDR)?;
    // SAFETY: SIOCGIFHWADDR filled the ifru_hwaddr member.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (m, &d) in mac.iter_mut().zip(&data) {
        *m = d as u8;
    }
    Ok(mac)
}

/// The MTU of interface `name`.
pub fn interface_mtu(name: &str) -> io::Result<usize> {
    let req = ioctl(name, libc::SIOCGIFMTU)?;
    // SAFETY: SIOCGIFMTU filled the ifru_mtu member.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    usize::try_from(mtu).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// Most fds [`wait_readable`] watches; the rest wake on the timeout.
pub const MAX_WAIT_FDS: usize = 32;

/// Sleeps until one of `fds` is readable or `timeout` passes (ppoll).
/// Errors (EINTR) end the sleep early; the caller polls its ports anyway.
pub fn wait_readable<'a>(fds: impl Iterator<Item = BorrowedFd<'a>>, timeout: Duration) {
    let mut set = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; MAX_WAIT_FDS];
    let mut n = 0;
    for (slot, fd) in set.iter_mut().zip(fds) {
        slot.fd = fd.as_raw_fd();
        slot.events = libc::POLLIN;
        n += 1;
    }
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `set` holds `n` initialised pollfds of live fds (borrowed
    // for the call), `ts` is a valid timespec on this frame, no signal
    // mask is given.
    unsafe { libc::ppoll(set.as_mut_ptr(), n as libc::nfds_t, &ts, std::ptr::null()) };
}
