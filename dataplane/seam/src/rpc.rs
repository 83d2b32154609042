//! irmd's RPC schema with applications (`proto/irmd.proto`): the
//! generated messages, QoS conversion, and sending or receiving one
//! message with its fds.
//!
//! A protocol of irmd's, not of the application library: the library
//! (`o7s-app`: `Ipc`, `Admin`) speaks it from one end, irmd from the
//! other, and both take it from here.
//!
//! ```text
//!  process ── Request { id, body } ──► irmd      one message per SOCK_SEQPACKET packet,
//!          ◄── Reply { id, body } ───            shared-memory fds attached (SCM_RIGHTS);
//!          ◄── Reply { id: 0, .. } ──            id 0: a notice (a flow went down)
//! ```

use std::io::{self, Write};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use o7s_wire::qos::QosSpec;

#[allow(missing_docs, clippy::all)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/o7s.irmd.rs"));
}

pub use generated::*;

/// Largest message either side accepts. Requests are a few hundred octets;
/// replies carry `irm` tables.
pub const MAX_MSG: usize = 256 * 1024;

impl From<QosSpec> for Qos {
    fn from(q: QosSpec) -> Qos {
        Qos {
            delay: q.delay,
            bandwidth: q.bandwidth,
            availability: u32::from(q.availability),
            loss: q.loss,
            ber: q.ber,
            in_order: u32::from(q.in_order),
            max_gap: q.max_gap,
            timeout: q.timeout,
        }
    }
}

impl Qos {
    /// The spec, or `None` when a field is out of its range.
    pub fn to_spec(&self) -> Option<QosSpec> {
        Some(QosSpec {
            delay: self.delay,
            bandwidth: self.bandwidth,
            availability: u8::try_from(self.availability).ok()?,
            loss: self.loss,
            ber: self.ber,
            in_order: u8::try_from(self.in_order).ok()?,
            max_gap: self.max_gap,
            timeout: self.timeout,
        })
    }
}

/// Sends one message, with `fds` attached.
pub fn send(sock: &UnixStream, msg: &impl prost::Message, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    send_bytes(sock, &encode(msg)?, fds)
}

/// A message's bytes, refused when longer than [`MAX_MSG`].
pub fn encode(msg: &impl prost::Message) -> io::Result<Vec<u8>> {
    let bytes = msg.encode_to_vec();
    if bytes.len() > MAX_MSG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "message longer than MAX_MSG",
        ));
    }
    Ok(bytes)
}

/// Sends one encoded message, with `fds` attached. On a non-blocking
/// socket whose buffer is full this is `WouldBlock` and nothing was sent
/// (a seqpacket write is one message, never partial).
pub fn send_bytes(sock: &UnixStream, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.is_empty() {
        let mut sock = sock;
        let n = sock.write(bytes)?;
        if n != bytes.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "message cut short"));
        }
        Ok(())
    } else {
        o7s_mem::sys::send_fds(sock, bytes, fds)
    }
}

/// What [`recv`] got.
#[derive(Debug)]
pub enum Received<M> {
    /// A message and the fds that came with it.
    Message(M, Vec<OwnedFd>),
    /// Bytes that do not decode as the message (the fds are closed).
    Malformed(prost::DecodeError),
    /// The peer closed the connection.
    Closed,
}

/// Receives one message into `buf` (at least [`MAX_MSG`] long). An empty
/// message decodes as the message's defaults; only a hang-up is `Closed`.
pub fn recv<M: prost::Message + Default>(sock: &UnixStream, buf: &mut [u8]) -> io::Result<Received<M>> {
    let (n, fds) = o7s_mem::sys::recv_fds(sock, buf)?;
    if n == 0 && fds.is_empty() && o7s_mem::sys::hung_up(sock) {
        return Ok(Received::Closed);
    }
    match M::decode(&buf[..n]) {
        Ok(m) => Ok(Received::Message(m, fds)),
        Err(e) => Ok(Received::Malformed(e)),
    }
}

/// After a failed send: irmd's reason, if it refused the connection (an
/// error notice, id 0, sent before it closed).
pub fn refusal(sock: &UnixStream, buf: &mut [u8]) -> Option<Error> {
    match recv::<Reply>(sock, buf) {
        Ok(Received::Message(
            Reply {
                id: 0,
                body: Some(reply::Body::Error(e)),
            },
            _,
        )) => Some(e),
        _ => None,
    }
}
