//! irmd's connections: one non-blocking SOCK_SEQPACKET socket per process,
//! all polled by the main loop (epoll, through mio), none of them able to
//! stall it.
//!
//! ```text
//!  listener ──accept (until WouldBlock; fd exhaustion: back off)──┐
//!     peer credentials, groups, /proc/<pid>/exe ─> role or refuse  │ caps: total, per uid
//!                                                                  v
//!  Conn ── readable ─> recv ≤ READ_BUDGET messages, then the next connection (fairness)
//!       <─ send: at once, or queued when the socket is full; queue over its bound
//!          (a process that stopped reading) ─> the connection is dropped
//!       <─ flow-down notices: at once, or kept as a set of flows (one entry per
//!          flow the process holds) sent when the socket takes them
//! ```
//!
//! Replies answer requests, so a process that lets 64 of them queue up has
//! stopped reading. Notices come unasked, a burst of them when many flows
//! end at once (a thousand clients leaving a server): they are state, not
//! messages — the set of flows to report down — bounded by the flows the
//! process holds, and never a reason to drop it.
//!
//! A dropped or refused connection is logged through a [`LogBudget`], so a
//! flood of them cannot flood the log.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use o7s_app::sys;
use o7s_seam::rpc::{self, Received};

use super::access::{Access, Peer, program_of};
use super::log_budget::LogBudget;

/// irmd's id for a connection; its mio token is the same number.
pub type ConnId = usize;

/// The listener's token; connections count up from the one after.
pub const LISTENER: Token = Token(0);

/// Messages read from one connection before the others get a turn.
const READ_BUDGET: usize = 16;

/// Replies queued for a process that does not read them, at most.
pub const MAX_QUEUED: usize = 64;
/// Octets queued for one process, at most.
const MAX_QUEUED_BYTES: usize = 1 << 20;

/// How long accepting pauses when irmd is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a refused connection stays open for its process to read why.
const REFUSAL_GRACE: Duration = Duration::from_millis(200);
/// Refused connections kept open at once, at most; more are closed at
/// once (their processes see only the closed connection).
const MAX_REFUSED: usize = 256;

/// Caps on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections in all.
    pub total: usize,
    /// Connections of one uid.
    pub per_user: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            total: 4096,
            per_user: 2048,
        }
    }
}

/// One process's connection.
#[derive(Debug)]
pub struct Conn {
    pub sock: UnixStream,
    /// Who is at the other end.
    pub peer: Peer,
    /// Sent a Hello: an application the IRM tracks.
    pub announced: bool,
    out: VecDeque<(Vec<u8>, Vec<OwnedFd>)>,
    out_bytes: usize,
    /// Flows to report down once the queue is empty.
    down: BTreeSet<u32>,
    /// To be closed at the end of this turn of the main loop.
    doomed: bool,
    /// In the ready queue.
    ready: bool,
}

/// What one read gave.
#[derive(Debug)]
pub enum Read {
    Message(Received<rpc::Request>),
    /// Nothing more to read now.
    Drained,
    /// The process hung up, or its connection is being dropped.
    Closed,
}

/// Every connection, their caps and the complaints they cause.
#[derive(Debug)]
pub struct Conns {
    map: HashMap<ConnId, Conn>,
    per_uid: HashMap<u32, usize>,
    next: ConnId,
    limits: Limits,
    /// Connections that may have messages left to read.
    ready: VecDeque<ConnId>,
    /// Connections to drop at the end of this turn, with why.
    doomed: Vec<(ConnId, &'static str)>,
    /// Accepting pauses until then (out of fds).
    accept_paused_until: Option<Instant>,
    /// Refused connections, told why, closed after [`REFUSAL_GRACE`].
    refused: VecDeque<(Instant, UnixStream)>,
    refused_log: LogBudget,
    dropped_log: LogBudget,
    accept_log: LogBudget,
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// Reads and drops whatever a non-blocking socket holds.
fn drain(sock: &UnixStream) {
    let mut buf = [0u8; 512];
    let mut sock = sock;
    for _ in 0..1024 {
        if !matches!(std::io::Read::read(&mut sock, &mut buf), Ok(n) if n > 0) {
            break;
        }
    }
}

impl Conns {
    pub fn new(limits: Limits) -> Conns {
        Conns {
            map: HashMap::new(),
            per_uid: HashMap::new(),
            next: LISTENER.0,
            limits,
            ready: VecDeque::new(),
            doomed: Vec::new(),
            accept_paused_until: None,
            refused: VecDeque::new(),
            refused_log: LogBudget::per_second(),
            dropped_log: LogBudget::per_second(),
            accept_log: LogBudget::per_second(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, id: ConnId) -> Option<&Conn> {
        self.map.get(&id)
    }

    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.map.get_mut(&id)
    }

    pub fn ids(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.map.keys().copied()
    }

    /// When the main loop must wake without an event: at once while some
    /// connection has messages left, or when accepting resumes.
    pub fn wake_at(&self, now: Instant) -> Option<Instant> {
        if !self.ready.is_empty() {
            return Some(now);
        }
        let closing = self.refused.front().map(|(t, _)| *t + REFUSAL_GRACE);
        [self.accept_paused_until, closing].into_iter().flatten().min()
    }

    /// Closes the refused connections whose grace has passed, first
    /// reading what they sent: a socket closed with unread messages
    /// resets the peer's, which would lose the refusal it has not read.
    pub fn close_refused(&mut self, now: Instant) {
        while let Some((at, _)) = self.refused.front()
            && (now.saturating_duration_since(*at) >= REFUSAL_GRACE || self.refused.len() > MAX_REFUSED)
        {
            if let Some((_, sock)) = self.refused.pop_front() {
                drain(&sock);
            }
        }
    }

    /// Accepts every waiting connection (unless paused), checks who it is
    /// and registers it; returns the new connections.
    pub fn accept(
        &mut self,
        registry: &Registry,
        listener: &UnixListener,
        access: &Access,
        now: Instant,
    ) -> Vec<ConnId> {
        if self.accept_paused_until.is_some_and(|t| now < t) {
            return Vec::new();
        }
        self.accept_paused_until = None;
        let mut new = Vec::new();
        loop {
            let sock = match listener.accept() {
                Ok((sock, _)) => sock,
                Err(e) if would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted || e.raw_os_error() == Some(libc::ECONNABORTED) => {
                    continue;
                }
                Err(e) => {
                    // Out of fds or memory: the waiting connection stays in
                    // the backlog; try again later instead of spinning.
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    if let Some(held_back) = self.accept_log.allow(now) {
                        tracing::error!(error = %e, connections = self.map.len(), held_back, "cannot accept connections; pausing 100 ms");
                    }
                    break;
                }
            };
            if let Some(id) = self.admit(registry, sock, access, now) {
                new.push(id);
            }
        }
        new
    }

    fn admit(&mut self, registry: &Registry, sock: UnixStream, access: &Access, now: Instant) -> Option<ConnId> {
        let cred = match sys::peer_cred(&sock) {
            Ok(c) => c,
            Err(e) => {
                self.refuse(sock, now, format!("no peer credentials: {e}"), None);
                return None;
            }
        };
        let groups = sys::peer_groups(&sock).unwrap_or_default();
        let Some(role) = access.role(&cred, &groups) else {
            let why = format!(
                "uid {} is neither irmd's owner nor in its operators or users group",
                cred.uid
            );
            self.refuse(sock, now, why, Some(cred.uid));
            return None;
        };
        let of_uid = self.per_uid.get(&cred.uid).copied().unwrap_or(0);
        if self.map.len() >= self.limits.total {
            let why = format!("irmd serves {} connections, its limit", self.limits.total);
            self.refuse(sock, now, why, Some(cred.uid));
            return None;
        }
        if of_uid >= self.limits.per_user {
            let why = format!(
                "uid {} has {} connections, the limit per user",
                cred.uid, self.limits.per_user
            );
            self.refuse(sock, now, why, Some(cred.uid));
            return None;
        }
        // The program the kernel says the process runs; read while the
        // pidfd proves the pid still names the process that connected.
        let pidfd = sys::peer_pidfd(&sock).ok();
        let program = program_of(cred.pid).filter(|_| pidfd.as_ref().is_none_or(sys::pidfd_alive));
        if sock.set_nonblocking(true).is_err() {
            return None;
        }
        self.next += 1;
        let id = self.next;
        let fd = sock.as_raw_fd();
        if let Err(e) = registry.register(&mut SourceFd(&fd), Token(id), Interest::READABLE) {
            tracing::error!(error = %e, "cannot poll a new connection");
            return None;
        }
        *self.per_uid.entry(cred.uid).or_default() += 1;
        self.map.insert(
            id,
            Conn {
                sock,
                peer: Peer {
                    cred,
                    groups,
                    program,
                    role,
                },
                announced: false,
                out: VecDeque::new(),
                out_bytes: 0,
                down: BTreeSet::new(),
                doomed: false,
                ready: false,
            },
        );
        // It may have sent before we registered it.
        self.readable(id);
        Some(id)
    }

    /// Tells a refused peer why (if its socket takes it); the connection
    /// closes after [`REFUSAL_GRACE`].
    fn refuse(&mut self, sock: UnixStream, now: Instant, why: String, uid: Option<u32>) {
        if let Some(held_back) = self.refused_log.allow(now) {
            tracing::warn!(uid, held_back, "connection refused: {why}");
        }
        let _ = sock.set_nonblocking(true);
        drain(&sock);
        let reply = rpc::Reply {
            id: 0,
            body: Some(rpc::reply::Body::Error(rpc::Error {
                code: -o7s_app::error::errno::EACCES,
                message: format!("irmd refused the connection: {why}"),
            })),
        };
        if let Ok(bytes) = rpc::encode(&reply) {
            let _ = rpc::send_bytes(&sock, &bytes, &[]);
        }
        let _ = sock.shutdown(std::net::Shutdown::Write);
        self.refused.push_back((now, sock));
        self.close_refused(now);
    }

    /// A connection became readable.
    pub fn readable(&mut self, id: ConnId) {
        if let Some(conn) = self.map.get_mut(&id)
            && !conn.ready
        {
            conn.ready = true;
            self.ready.push_back(id);
        }
    }

    /// The next connection with messages to read and its budget, round
    /// robin.
    pub fn next_ready(&mut self) -> Option<(ConnId, usize)> {
        while let Some(id) = self.ready.pop_front() {
            if let Some(conn) = self.map.get_mut(&id) {
                conn.ready = false;
                return Some((id, READ_BUDGET));
            }
        }
        None
    }

    /// Reads one message of `id` into `buf`.
    pub fn read(&mut self, id: ConnId, buf: &mut [u8]) -> Read {
        let Some(conn) = self.map.get(&id) else {
            return Read::Closed;
        };
        if conn.doomed {
            return Read::Closed;
        }
        loop {
            return match rpc::recv::<rpc::Request>(&conn.sock, buf) {
                Ok(Received::Closed) => Read::Closed,
                Ok(m) => Read::Message(m),
                Err(e) if would_block(&e) => Read::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => Read::Closed,
            };
        }
    }

    /// `id` used its budget with messages left: it reads again after the
    /// others.
    pub fn requeue(&mut self, id: ConnId) {
        self.readable(id);
    }

    /// Sends `message` (with `fds`) to `id` without waiting: at once, or
    /// queued behind what is already waiting. A process that lets its queue
    /// grow past [`MAX_QUEUED`] replies is dropped.
    pub fn send(
        &mut self,
        registry: &Registry,
        id: ConnId,
        message: &rpc::Reply,
        fds: &[BorrowedFd<'_>],
        now: Instant,
    ) {
        let Some(conn) = self.map.get_mut(&id) else { return };
        if conn.doomed {
            return;
        }
        let bytes = match rpc::encode(message) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "reply too long; not sent");
                return;
            }
        };
        if conn.out.is_empty() {
            match rpc::send_bytes(&conn.sock, &bytes, fds) {
                Ok(()) => return,
                Err(e) if would_block(&e) => {}
                Err(_) => {
                    self.doom(id, "its socket failed");
                    return;
                }
            }
        }
        if conn.out.len() >= MAX_QUEUED || conn.out_bytes + bytes.len() > MAX_QUEUED_BYTES {
            if let Some(held_back) = self.dropped_log.allow(now) {
                let p = &conn.peer.cred;
                tracing::warn!(
                    pid = p.pid,
                    uid = p.uid,
                    queued = conn.out.len(),
                    held_back,
                    "dropping a connection that stopped reading its replies"
                );
            }
            self.doom(id, "it stopped reading its replies");
            return;
        }
        let owned: io::Result<Vec<OwnedFd>> = fds.iter().map(|f| f.try_clone_to_owned()).collect();
        let Ok(owned) = owned else {
            self.doom(id, "irmd is out of file descriptors");
            return;
        };
        let first = conn.out.is_empty();
        conn.out_bytes += bytes.len();
        conn.out.push_back((bytes, owned));
        if first {
            let fd = conn.sock.as_raw_fd();
            let _ = registry.reregister(&mut SourceFd(&fd), Token(id), Interest::READABLE | Interest::WRITABLE);
        }
    }

    /// Tells `id` that `flow` is down: at once, or once what is queued
    /// has gone.
    pub fn notify_down(&mut self, registry: &Registry, id: ConnId, flow: u32) {
        let Some(conn) = self.map.get_mut(&id) else { return };
        if conn.doomed {
            return;
        }
        let first = conn.out.is_empty() && conn.down.is_empty();
        conn.down.insert(flow);
        if first {
            self.writable(registry, id);
        }
    }

    /// `id` can take more: sends what is queued, then the flow-down
    /// notices, as far as they go.
    pub fn writable(&mut self, registry: &Registry, id: ConnId) {
        let Some(conn) = self.map.get_mut(&id) else { return };
        let mut failed = false;
        while let Some((bytes, fds)) = conn.out.front() {
            let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(std::os::fd::AsFd::as_fd).collect();
            match rpc::send_bytes(&conn.sock, bytes, &borrowed) {
                Ok(()) => {
                    conn.out_bytes -= bytes.len();
                    conn.out.pop_front();
                }
                Err(e) if would_block(&e) => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        while conn.out.is_empty()
            && !failed
            && let Some(&flow) = conn.down.first()
        {
            let notice = rpc::Reply {
                id: 0,
                body: Some(rpc::reply::Body::FlowDown(rpc::FlowDown { flow })),
            };
            let sent = rpc::encode(&notice).and_then(|bytes| rpc::send_bytes(&conn.sock, &bytes, &[]));
            match sent {
                Ok(()) => {
                    conn.down.remove(&flow);
                }
                Err(e) if would_block(&e) => break,
                Err(_) => failed = true,
            }
        }
        if failed {
            self.doom(id, "its socket failed");
            return;
        }
        let interest = if conn.out.is_empty() && conn.down.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        let fd = conn.sock.as_raw_fd();
        let _ = registry.reregister(&mut SourceFd(&fd), Token(id), interest);
    }

    /// Marks `id` to be closed at the end of this turn.
    pub fn doom(&mut self, id: ConnId, why: &'static str) {
        if let Some(conn) = self.map.get_mut(&id)
            && !conn.doomed
        {
            conn.doomed = true;
            let _ = conn.sock.shutdown(std::net::Shutdown::Both);
            self.doomed.push((id, why));
        }
    }

    /// The connections doomed this turn, with why.
    pub fn take_doomed(&mut self) -> Vec<(ConnId, &'static str)> {
        std::mem::take(&mut self.doomed)
    }

    /// Forgets `id` and stops polling it; returns it.
    pub fn remove(&mut self, registry: &Registry, id: ConnId) -> Option<Conn> {
        let conn = self.map.remove(&id)?;
        let fd = conn.sock.as_raw_fd();
        let _ = registry.deregister(&mut SourceFd(&fd));
        if let Some(n) = self.per_uid.get_mut(&conn.peer.cred.uid) {
            *n -= 1;
            if *n == 0 {
                self.per_uid.remove(&conn.peer.cred.uid);
            }
        }
        Some(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irmd::sys::euid;

    /// A connection table with one accepted connection, and the peer's end.
    fn one_connection(name: &str) -> (mio::Poll, Conns, ConnId, UnixStream, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("o7s-conns-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let listener = sys::seqpacket_listen(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let peer = sys::seqpacket_connect(&path).unwrap();
        let poll = mio::Poll::new().unwrap();
        let mut conns = Conns::new(Limits::default());
        let access = Access {
            owner: euid(),
            operators: None,
            users: None,
        };
        let ids = conns.accept(poll.registry(), &listener, &access, Instant::now());
        assert_eq!(ids.len(), 1);
        (poll, conns, ids[0], peer, dir)
    }

    fn reply(id: u64) -> rpc::Reply {
        rpc::Reply {
            id,
            body: Some(rpc::reply::Body::Done(rpc::Done {})),
        }
    }

    #[test]
    fn a_burst_of_flow_down_notices_waits_for_a_slow_reader() {
        let (poll, mut conns, id, peer, dir) = one_connection("notices");
        // Far more than the socket holds.
        for flow in 1..=5000 {
            conns.notify_down(poll.registry(), id, flow);
        }
        assert!(conns.take_doomed().is_empty(), "notices must not drop a slow reader");
        // The reader wakes up and reads; irmd sends the rest as it can.
        let mut seen = BTreeSet::new();
        let mut buf = vec![0u8; rpc::MAX_MSG];
        peer.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        while seen.len() < 5000 {
            match rpc::recv::<rpc::Reply>(&peer, &mut buf) {
                Ok(Received::Message(
                    rpc::Reply {
                        body: Some(rpc::reply::Body::FlowDown(d)),
                        ..
                    },
                    _,
                )) => assert!(seen.insert(d.flow), "flow {} reported twice", d.flow),
                Ok(other) => panic!("unexpected {other:?}"),
                // The socket is empty: irmd's loop would get a writable event.
                Err(_) => conns.writable(poll.registry(), id),
            }
        }
        assert!(conns.take_doomed().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_process_that_lets_replies_queue_up_is_dropped() {
        let (poll, mut conns, id, _peer, dir) = one_connection("replies");
        let mut n = 0;
        while conns.take_doomed().is_empty() {
            n += 1;
            assert!(n < 100_000, "never dropped");
            conns.send(poll.registry(), id, &reply(n), &[], Instant::now());
        }
        // What the socket holds, then MAX_QUEUED more.
        let queued_at_drop = conns.get(id).map_or(0, |c| c.out.len());
        assert_eq!(queued_at_drop, MAX_QUEUED);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
