//! Raw frames in and out of one interface: frames of any Ethertype put on
//! a veth, and a capture of what comes out of the other end.
//!
//! ```text
//!   PacketSocket::bind("in0", 0x88b6)               PacketSocket::bind("out1", 0x88b6)
//!        send(whole frame) ──> [in0] ══veth══ ... ══ [out1] ──> recv_timeout(buf, 200 ms)
//! ```
//!
//! A socket belongs to the network namespace of the thread that opened it
//! (open it inside [`crate::Netns::enter`]); it may be used from any
//! thread afterwards.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::thread;
use std::time::{Duration, Instant};

/// How long [`PacketSocket::send_retrying`] waits for room in a full
/// interface queue.
const SEND_PATIENCE: Duration = Duration::from_secs(5);

/// The receive buffer asked for: enough for the bursts tests send before
/// they read, so a slow reader sees every frame.
const RCVBUF: libc::c_int = 64 << 20;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An AF_PACKET socket bound to one interface and one Ethertype. Needs
/// `CAP_NET_RAW`, and `CAP_NET_ADMIN` for its large receive buffer.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    /// A socket on `ifname` (in the calling thread's namespace) that sends
    /// whole frames, Ethernet header included, and receives the frames of
    /// `ethertype` that arrive on or leave the interface.
    pub fn bind(ifname: &str, ethertype: u16) -> io::Result<PacketSocket> {
        let index = ifindex(ifname)?;
        let protocol = ethertype.to_be();
        // SAFETY: socket(2) takes no pointers; the result is checked before use.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::c_int::from(protocol),
            )
        })?;
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let rcvbuf = RCVBUF;
        // SAFETY: `rcvbuf` is a c_int of the length passed and outlives the call.
        cvt(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&raw const rcvbuf).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
        .map_err(|e| io::Error::new(e.kind(), format!("SO_RCVBUFFORCE on a packet socket: {e}")))?;

        // SAFETY: sockaddr_ll is plain old data; all zeroes is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = index as libc::c_int;
        // SAFETY: `addr` is a sockaddr_ll of the length passed and outlives the call.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })
        .map_err(|e| io::Error::new(e.kind(), format!("binding a packet socket to {ifname}: {e}")))?;
        Ok(PacketSocket { fd })
    }

    /// Sends one frame (Ethernet header included) out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is valid for reads of its length during the call.
        let sent = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        if sent as usize != frame.len() {
            return Err(io::Error::other(format!("sent {sent} of {} octets", frame.len())));
        }
        Ok(())
    }

    /// Sends one frame, retrying for a while when the interface's queue is
    /// full (`ENOBUFS`), as it is when a test sends faster than a veth
    /// drains.
    pub fn send_retrying(&self, frame: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + SEND_PATIENCE;
        loop {
            match self.send(frame) {
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) && Instant::now() < deadline => {
                    thread::sleep(Duration::from_micros(100));
                }
                done => return done,
            }
        }
    }

    /// Receives one waiting frame into `buf` and returns its length; `None`
    /// when none is waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: `buf` is valid for writes of its length during the call.
        let got = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if got >= 0 {
            return Ok(Some(got as usize));
        }
        match io::Error::last_os_error() {
            e if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            e => Err(e),
        }
    }

    /// Receives one frame into `buf`, waiting up to `timeout` for it;
    /// `None` when none came.
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(len) = self.try_recv(buf)? {
                return Ok(Some(len));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut waiting = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = libc::c_int::try_from(left.as_millis())
                .unwrap_or(libc::c_int::MAX)
                .max(1);
            // SAFETY: `waiting` is one pollfd, valid for writes during the call.
            if unsafe { libc::poll(&raw mut waiting, 1, ms) } < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// The index of interface `ifname` in the calling thread's network
/// namespace (`if_nametoindex(3)`).
pub fn ifindex(ifname: &str) -> io::Result<u32> {
    let name = CString::new(ifname)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("interface name {ifname:?}")))?;
    // SAFETY: `name` is NUL-terminated and outlives the call.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => {
            let e = io::Error::last_os_error();
            Err(io::Error::new(e.kind(), format!("no interface {ifname}: {e}")))
        }
        index => Ok(index),
    }
}
