//! The oping server as a state machine over the flows it serves.
//!
//! ```text
//!   flow_accept ──▶ accept(flow, now)
//!   flow_read   ──▶ handle(flow, now, sdu) ──Ok──▶ flow_write(sdu)   (same length)
//!                                          └─Err─▶ answer nothing
//!   at poll_timeout() ──▶ poll_expired(now) ──Some(flow)──▶ flow_dealloc(flow)
//! ```
//!
//! As in the C server (`oping_server.c`):
//! * only echo requests (type 0) are answered, with the whole SDU echoed
//!   and the type set to 1 ([`reply_in_place`]);
//! * a flow is deallocated after 10 s without a request; accepting it
//!   starts the clock, a request restarts it, anything else does not.
//!
//! The C cleaner looks once a second and deallocates when more than 10 s
//! have passed, so a C flow lives 10–11 s after its last request; here the
//! deadline is exact: a flow expires 10 s after its last request.

use core::time::Duration;
use std::collections::HashMap;
use std::hash::Hash;

use crate::message::{MessageError, reply_in_place};

/// The flows an oping server serves, keyed by whatever the binary uses to
/// name a flow (a flow descriptor).
#[derive(Debug, Clone)]
pub struct Server<F> {
    last_request: HashMap<F, Duration>,
}

impl<F: Copy + Eq + Hash> Default for Server<F> {
    fn default() -> Server<F> {
        Server::new()
    }
}

impl<F: Copy + Eq + Hash> Server<F> {
    /// How long a flow may go without a request (C: `deadline_ms`).
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

    /// A server with no flows.
    pub fn new() -> Server<F> {
        Server {
            last_request: HashMap::new(),
        }
    }

    /// Starts serving `flow`, accepted at `now`.
    pub fn accept(&mut self, flow: F, now: Duration) {
        self.last_request.insert(flow, now);
    }

    /// Turns the SDU read from `flow` at `now` into the reply to send back
    /// on it, in place; on an error nothing is sent. A request on a flow
    /// not accepted before starts serving it.
    pub fn handle(&mut self, flow: F, now: Duration, sdu: &mut [u8]) -> Result<(), MessageError> {
        reply_in_place(sdu)?;
        self.last_request.insert(flow, now);
        Ok(())
    }

    /// When the next flow will have been idle too long; `None` without flows.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.last_request.values().min().map(|&last| last + Self::IDLE_TIMEOUT)
    }

    /// Removes and returns a flow idle for 10 s or more at `now`, for the
    /// caller to deallocate; call until `None`.
    pub fn poll_expired(&mut self, now: Duration) -> Option<F> {
        let flow = self
            .last_request
            .iter()
            .find(|&(_, &last)| now.saturating_sub(last) >= Self::IDLE_TIMEOUT)
            .map(|(&flow, _)| flow)?;
        self.last_request.remove(&flow);
        Some(flow)
    }

    /// Stops serving `flow` (it died or was deallocated); true if it was served.
    pub fn remove(&mut self, flow: F) -> bool {
        self.last_request.remove(&flow).is_some()
    }

    /// Whether `flow` is served.
    pub fn contains(&self, flow: F) -> bool {
        self.last_request.contains_key(&flow)
    }

    /// Number of flows served.
    pub fn len(&self) -> usize {
        self.last_request.len()
    }

    /// Whether no flow is served.
    pub fn is_empty(&self) -> bool {
        self.last_request.is_empty()
    }
}
