//! A layer's directory in virtual time: each member a [`Dht`], every
//! message delivered to its address after a fixed delay (as if link-state
//! routing had converged). Deterministic for a seed; for tests and
//! `o7s-bench dht`.
//!
//! ```text
//!   join(i, peer) ─► member i starts, its own-id lookup at peer; run()
//!   register(i, h) ► STOREs; run()
//!   query(i, h) ───► values held, or a FIND_VALUE lookup; run() ─► the answer, its hops
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::core::{Dht, DhtConfig, DhtEvent, LookupStats, QueryId};
use crate::ipcp::unicast::lsr::Addr;

/// The address of member `i`.
pub const fn addr(i: usize) -> Addr {
    i as Addr + 1
}

/// The directory of a layer, run in virtual time.
#[derive(Debug)]
pub struct DhtSim {
    epoch: Instant,
    now: Duration,
    delay: Duration,
    members: Vec<Option<Dht>>,
    config: DhtConfig,
    seed: u64,
    queue: BinaryHeap<InFlight>,
    sent: u64,
    /// Messages delivered so far.
    pub delivered: u64,
    answers: Vec<(usize, QueryId, Option<Addr>)>,
}

/// A message in flight: when it arrives, its order, the member it goes
/// to, the encoded message.
type InFlight = Reverse<(Duration, u64, usize, Vec<u8>)>;

/// UNIX time at the simulation's start (any fixed value: only
/// differences matter).
const EPOCH_UNIX: u64 = 1_800_000_000;

impl DhtSim {
    /// Room for `members` members, none joined yet.
    pub fn new(members: usize, config: DhtConfig, delay: Duration, seed: u64) -> DhtSim {
        DhtSim {
            epoch: Instant::now(),
            now: Duration::ZERO,
            delay,
            members: (0..members).map(|_| None).collect(),
            config,
            seed,
            queue: BinaryHeap::new(),
            sent: 0,
            delivered: 0,
            answers: Vec::new(),
        }
    }

    /// A layer of `members` joined one by one, each by a random member
    /// already in, each registering one random name (returned, by
    /// member); messages take 1 ms; seeded. Also returns the generator,
    /// to draw queries from.
    pub fn layer(members: usize, config: DhtConfig, seed: u64) -> (DhtSim, Vec<Vec<u8>>, fastrand::Rng) {
        let mut sim = DhtSim::new(members, config, Duration::from_millis(1), seed);
        let mut rng = fastrand::Rng::with_seed(seed);
        sim.join(0, 0);
        for i in 1..members {
            let peer = rng.usize(..i);
            sim.join(i, peer);
        }
        let names: Vec<Vec<u8>> = (0..members)
            .map(|_| (0..config.hash_len).map(|_| rng.u8(..)).collect())
            .collect();
        for (i, name) in names.iter().enumerate() {
            sim.register(i, name);
        }
        (sim, names, rng)
    }

    pub fn member(&self, i: usize) -> Option<&Dht> {
        self.members[i].as_ref()
    }

    fn at(&self) -> Instant {
        self.epoch + self.now
    }

    fn pump(&mut self, i: usize) {
        let n = self.members.len();
        let Some(m) = self.members[i].as_mut() else {
            return;
        };
        while let Some(event) = m.poll_event() {
            match event {
                DhtEvent::Send { to, msg } => {
                    self.sent += 1;
                    let to = (to - 1) as usize;
                    if to < n {
                        self.queue.push(Reverse((self.now + self.delay, self.sent, to, msg)));
                    }
                }
                DhtEvent::Resolved { query, addr } => self.answers.push((i, query, addr)),
            }
        }
    }

    /// Member `i` joins by `peer` (itself for the first), and what it
    /// sends is delivered.
    pub fn join(&mut self, i: usize, peer: usize) {
        let at = self.at();
        let mut dht = Dht::new(
            self.config,
            addr(i),
            addr(peer),
            at,
            EPOCH_UNIX + self.now.as_secs(),
            self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        dht.start(at);
        self.members[i] = Some(dht);
        self.pump(i);
        self.run();
    }

    /// Member `i` registers `hash`.
    pub fn register(&mut self, i: usize, hash: &[u8]) {
        let at = self.at();
        if let Some(m) = self.members[i].as_mut() {
            m.register(at, hash);
        }
        self.pump(i);
        self.run();
    }

    /// Member `i` asks where `hash` is: the answer and, for an answer
    /// that needed a lookup, what it took.
    pub fn query(&mut self, i: usize, hash: &[u8]) -> (Option<Addr>, Option<LookupStats>) {
        let at = self.at();
        let Some(m) = self.members[i].as_mut() else {
            return (None, None);
        };
        let q = m.query(at, hash);
        self.pump(i);
        self.run();
        let stats = self.members[i]
            .as_mut()
            .and_then(|m| m.take_finished().into_iter().find(|(id, _)| *id == q).map(|(_, s)| s));
        let answer = self
            .answers
            .iter()
            .position(|&(m, id, _)| m == i && id == q)
            .and_then(|p| self.answers.remove(p).2);
        (answer, stats)
    }

    /// Delivers what is in flight, and what that sends, until nothing is.
    pub fn run(&mut self) {
        while let Some(Reverse((at, _, to, msg))) = self.queue.pop() {
            self.now = at;
            self.delivered += 1;
            let t = self.at();
            if let Some(m) = self.members[to].as_mut() {
                let _ = m.receive(t, &msg);
            }
            self.pump(to);
        }
    }

    /// Lets `by` pass, every member's timers running.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = self
                .members
                .iter()
                .enumerate()
                .filter_map(|(i, m)| m.as_ref().map(|m| (m.poll_timeout() - self.epoch, i)))
                .min();
            match next {
                Some((at, i)) if at <= end => {
                    self.now = self.now.max(at);
                    let t = self.at();
                    if let Some(m) = self.members[i].as_mut() {
                        m.handle_timeout(t);
                    }
                    self.pump(i);
                    self.run();
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
    }
}
