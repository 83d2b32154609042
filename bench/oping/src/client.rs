//! The oping client as a state machine: told the time, it says when to send
//! the next request, what each reply means and when the run is over. The
//! binary owns the flow and the clock and loops:
//!
//! ```text
//!          ┌─────────────────────────────────────────────────────┐
//!          ▼                                                     │
//!   poll_transmit(now, buf) ──Some(len)──▶ flow_write(buf[..len]) ┤
//!          │ None                                                │
//!          ▼                                                     │
//!   wait for an SDU until poll_timeout()                         │
//!          ├── SDU ──▶ handle_reply(now, sdu) ──▶ print a line ──┤
//!          └── deadline ──▶ handle_timeout(now) ─────────────────┘
//!   until outcome() is Some; then print stats()
//! ```
//!
//! | state | C prototype | here |
//! |---|---|---|
//! | pacing | writer thread: sleep `interval`, then send | request k leaves at start + k × interval, the first at once; never a burst to catch up after a stall |
//! | interval 0 | back to back, not waiting for replies | the same |
//! | flood (`-f`, `-F`) | send, read one SDU, repeat | the next request waits for any SDU |
//! | end | all `count` replies, or a read waited `interval_s + 2` s | the same; in flood mode (where C waits forever) 2 s |
//! | stop | SIGINT/SIGTERM | [`Client::stop`] |
//!
//! Ids are the request's sequence number from 0; a run sends at most
//! 2^32 requests (without `-c` the run is otherwise unlimited).

use core::time::Duration;

use crate::message::{Message, MessageError, MessageType, SduSize};
use crate::stats::{ReplyKind, Stats, UnknownId};

/// How requests are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// One request per interval whatever the replies; zero sends as fast as
    /// the flow takes them.
    Every(Duration),
    /// The next request when an SDU came back for the previous one (`-f`).
    Flood,
}

impl Default for Pacing {
    /// The C tool's default, one request a second.
    fn default() -> Pacing {
        Pacing::Every(Duration::from_secs(1))
    }
}

/// What a run does, independent of the flow it runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientParams {
    /// Octets of every request.
    pub size: SduSize,
    /// Spacing of the requests.
    pub pacing: Pacing,
    /// Requests to send; `None` = until stopped.
    pub count: Option<u32>,
}

impl ClientParams {
    /// How long the client waits for an SDU before it declares the server
    /// gone: the C reader's receive timeout, `interval / 1000 + 2` seconds
    /// with the interval in whole ms.
    pub fn receive_timeout(&self) -> Duration {
        let interval = match self.pacing {
            Pacing::Every(interval) => interval,
            Pacing::Flood => Duration::ZERO,
        };
        Duration::from_secs(interval.as_secs() + 2)
    }
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every request of the count was answered.
    Complete,
    /// No SDU arrived within the receive timeout ("Server timed out.").
    ServerTimedOut,
    /// The caller stopped the run (a signal, a dead flow).
    Stopped,
}

/// A reply that counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Its request's id.
    pub id: u32,
    /// Octets of the SDU, as the C tool prints them.
    pub len: usize,
    /// From its request's send time to `now`.
    pub rtt: Duration,
    /// How it counted.
    pub kind: ReplyKind,
}

/// An SDU the client did not count as a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Not an oping message.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A request instead of a reply ("Invalid message").
    #[error("received an echo request, expected a reply")]
    NotAReply,
    /// A reply to an id that was never sent ("Invalid id.").
    #[error(transparent)]
    UnknownId(#[from] UnknownId),
    /// The echoed send time is later than now: the server changed it, or
    /// the caller's clock is not the one the request was stamped with.
    #[error("reply to id {id} carries a send time {ahead:?} in the future")]
    SentInFuture {
        /// The reply's id.
        id: u32,
        /// How far past `now` the echoed time lies.
        ahead: Duration,
    },
    /// The run is over; late SDUs are not counted.
    #[error("reply after the end of the run")]
    Finished,
}

/// One oping run against one server.
#[derive(Debug, Clone)]
pub struct Client {
    params: ClientParams,
    stats: Stats,
    start: Duration,
    next_send: Duration,
    last_rx: Duration,
    awaiting: bool,
    outcome: Option<Outcome>,
}

impl Client {
    /// A run against the server `name` that starts at `now`.
    pub fn new(name: impl Into<String>, params: ClientParams, now: Duration) -> Client {
        Client {
            params,
            stats: Stats::new(name),
            start: now,
            next_send: now,
            last_rx: now,
            awaiting: false,
            outcome: if params.count == Some(0) {
                Some(Outcome::Complete)
            } else {
                None
            },
        }
    }

    /// The parameters of the run.
    pub fn params(&self) -> &ClientParams {
        &self.params
    }

    /// If a request is due at `now`, writes it over `buf[..size]` and
    /// returns its length, the configured size; the caller sends those
    /// octets. Call again until `None`: with interval 0 every call yields a
    /// request.
    ///
    /// # Panics
    /// When `buf` is shorter than the configured size.
    pub fn poll_transmit(&mut self, now: Duration, buf: &mut [u8]) -> Option<usize> {
        if self.outcome.is_some() || self.all_sent() {
            return None;
        }
        match self.params.pacing {
            Pacing::Flood if self.awaiting => return None,
            Pacing::Flood => self.awaiting = true,
            Pacing::Every(interval) => {
                if now < self.next_send {
                    return None;
                }
                let next = self.next_send + interval;
                // After a stall, resume the rhythm from now rather than
                // sending the missed requests back to back.
                self.next_send = if next < now { now + interval } else { next };
            }
        }
        let len = self.params.size.get();
        let id = u32::try_from(self.stats.transmitted()).unwrap_or(u32::MAX);
        Message::request(id, now)
            .encode(&mut buf[..len])
            .unwrap_or_else(|_| unreachable!("an SduSize is always a valid length"));
        self.stats.record_transmit();
        Some(len)
    }

    /// Counts an SDU received at `now`. Any SDU, counted or not, restarts
    /// the receive timeout and, in flood mode, releases the next request.
    pub fn handle_reply(&mut self, now: Duration, sdu: &[u8]) -> Result<Reply, ClientError> {
        if self.outcome.is_some() {
            return Err(ClientError::Finished);
        }
        self.last_rx = now;
        self.awaiting = false;
        let message = Message::decode(sdu)?;
        if message.kind != MessageType::EchoReply {
            return Err(ClientError::NotAReply);
        }
        let rtt = now.checked_sub(message.sent).ok_or_else(|| ClientError::SentInFuture {
            id: message.id,
            ahead: message.sent - now,
        })?;
        let kind = self.stats.record_reply(message.id, rtt)?;
        if self
            .params
            .count
            .is_some_and(|count| self.stats.received() >= u64::from(count))
        {
            self.finish(now, Outcome::Complete);
        }
        Ok(Reply {
            id: message.id,
            len: sdu.len(),
            rtt,
            kind,
        })
    }

    /// The next instant something is due: a request, or the end of the
    /// wait for an SDU. `None` once the run is over.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.outcome.is_some() {
            return None;
        }
        let receive_deadline = self.last_rx + self.params.receive_timeout();
        let send_deadline = match self.params.pacing {
            Pacing::Every(_) if !self.all_sent() => Some(self.next_send),
            Pacing::Flood if !self.all_sent() && !self.awaiting => Some(self.last_rx),
            _ => None,
        };
        Some(send_deadline.map_or(receive_deadline, |send| send.min(receive_deadline)))
    }

    /// Ends the run when the wait for an SDU is over at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.outcome.is_none() && now >= self.last_rx + self.params.receive_timeout() {
            self.finish(now, Outcome::ServerTimedOut);
        }
    }

    /// Ends the run at `now` (a signal, a flow error). No effect once over.
    pub fn stop(&mut self, now: Duration) {
        if self.outcome.is_none() {
            self.finish(now, Outcome::Stopped);
        }
    }

    /// Why the run ended; `None` while it goes on.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// The figures so far; the elapsed time is set when the run ends.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn all_sent(&self) -> bool {
        let limit = self.params.count.map_or(1 << 32, u64::from);
        self.stats.transmitted() >= limit
    }

    fn finish(&mut self, now: Duration, outcome: Outcome) {
        self.outcome = Some(outcome);
        self.stats.set_elapsed(now.saturating_sub(self.start));
    }
}

impl Reply {
    /// The line the client prints for this reply, as C does but always in
    /// ms: `64 bytes from oping: seq=3 time=0.031 ms`, then
    /// ` [out-of-order]` or ` [duplicate]` when it is one.
    pub fn line<'a>(&'a self, server: &'a str) -> ReplyLine<'a> {
        ReplyLine { reply: self, server }
    }
}

/// [`Reply::line`]: a reply printed without allocating.
#[derive(Debug, Clone, Copy)]
pub struct ReplyLine<'a> {
    reply: &'a Reply,
    server: &'a str,
}

impl core::fmt::Display for ReplyLine<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let r = self.reply;
        write!(
            f,
            "{} bytes from {}: seq={} time={:.3} ms",
            r.len,
            self.server,
            r.id,
            r.rtt.as_secs_f64() * 1e3
        )?;
        match r.kind {
            ReplyKind::InOrder => Ok(()),
            ReplyKind::OutOfOrder => f.write_str(" [out-of-order]"),
            ReplyKind::Duplicate => f.write_str(" [duplicate]"),
        }
    }
}
