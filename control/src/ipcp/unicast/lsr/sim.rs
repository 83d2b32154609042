//! A layer of link-state databases in virtual time: each member an
//! [`Lsdb`], each link a DT flow and a management flow that deliver after a
//! fixed delay. No sockets, no threads, no sleeping: the same input gives
//! the same run, at the speed of the computer. For tests of flooding and
//! convergence, and for `o7s-bench lsr`.
//!
//! ```text
//!   link_up(a, b) ──► a.dt_up(b), a.mgmt_up(b), b.dt_up(a), b.mgmt_up(a)
//!   run() ──► deliver the earliest queued LSM (at send time + delay),
//!             queue what the receiver sends on, until nothing is in flight
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::{Duration, Instant};

use o7s_wire::lsm::LsmRepr;

use super::db::{Lsdb, LsrEvent, LsrTimers, MgmtNb};
use super::graph::Addr;

/// Members and links, by member index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub members: usize,
    /// Undirected links, `(a, b)` with `a < b`, each once.
    pub links: Vec<(usize, usize)>,
}

impl Topology {
    /// A ring of `members` with `chords` more links from each member to
    /// members drawn at random (seeded): connected, of average degree
    /// about 2 + 2 × `chords`, with paths of a few hops across.
    pub fn ring_with_chords(members: usize, chords: usize, seed: u64) -> Topology {
        let mut links = BTreeSet::new();
        if members >= 2 {
            for i in 0..members {
                let j = (i + 1) % members;
                links.insert((i.min(j), i.max(j)));
            }
        }
        let mut rng = fastrand::Rng::with_seed(seed);
        if members >= 4 {
            for i in 0..members {
                for _ in 0..chords {
                    let j = rng.usize(..members);
                    if j != i {
                        links.insert((i.min(j), i.max(j)));
                    }
                }
            }
        }
        Topology {
            members,
            links: links.into_iter().collect(),
        }
    }
}

/// The address of member `i` (addresses are never 0).
pub const fn addr(i: usize) -> Addr {
    i as Addr + 1
}

fn index(a: Addr) -> usize {
    (a - 1) as usize
}

/// An LSM in flight: when it arrives, where, from whom.
type InFlight = Reverse<(Duration, u64, usize, usize, (u64, u64, u64))>;

/// The layer, run in virtual time.
#[derive(Debug)]
pub struct Sim {
    epoch: Instant,
    now: Duration,
    delay: Duration,
    members: Vec<Lsdb>,
    queue: BinaryHeap<InFlight>,
    sent: u64,
    /// LSMs delivered so far.
    pub delivered: u64,
    /// Route computations the members asked for.
    pub recomputes: u64,
    /// When a database last changed.
    pub last_change: Duration,
}

impl Sim {
    /// `members` databases with no link yet; every LSM takes `delay`.
    pub fn new(members: usize, delay: Duration) -> Sim {
        let epoch = Instant::now();
        Sim {
            epoch,
            now: Duration::ZERO,
            delay,
            members: (0..members)
                .map(|i| Lsdb::new(epoch, addr(i), LsrTimers::default()))
                .collect(),
            queue: BinaryHeap::new(),
            sent: 0,
            delivered: 0,
            recomputes: 0,
            last_change: Duration::ZERO,
        }
    }

    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.now
    }

    pub fn member(&self, i: usize) -> &Lsdb {
        &self.members[i]
    }

    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// Queues what member `i` asked for.
    fn pump(&mut self, i: usize) {
        while let Some(event) = self.members[i].poll_event() {
            match event {
                LsrEvent::Send { to, lsm } => {
                    self.sent += 1;
                    let at = self.now + self.delay;
                    self.queue.push(Reverse((
                        at,
                        self.sent,
                        to as usize,
                        i,
                        (lsm.d_addr, lsm.s_addr, lsm.seqno),
                    )));
                }
                LsrEvent::Recompute => {
                    self.recomputes += 1;
                    self.last_change = self.now;
                }
            }
        }
    }

    /// The link between members `a` and `b` comes up (both flows, both
    /// ends at once).
    pub fn link_up(&mut self, a: usize, b: usize) {
        let t = self.epoch + self.now;
        for (x, y) in [(a, b), (b, a)] {
            self.members[x].dt_up(t, addr(y));
            self.members[x].mgmt_up(y as MgmtNb);
            self.pump(x);
        }
    }

    /// The link between `a` and `b` goes down; what is in flight on it is
    /// delivered still (it left before the cut).
    pub fn link_down(&mut self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            self.members[x].dt_down(addr(y));
            self.members[x].mgmt_down(y as MgmtNb);
            self.pump(x);
        }
    }

    /// Delivers what is in flight, and what that sends on, until nothing
    /// is; returns the virtual time now.
    pub fn run(&mut self) -> Duration {
        while let Some(Reverse((at, _, to, from, (d_addr, s_addr, seqno)))) = self.queue.pop() {
            self.now = at;
            self.delivered += 1;
            let lsm = LsmRepr { d_addr, s_addr, seqno };
            let _ = self.members[to].receive(self.epoch + at, from as MgmtNb, lsm);
            self.pump(to);
        }
        self.now
    }

    /// Lets `by` pass: every member's timers run at each of its deadlines
    /// within it, and what they send is delivered.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = (0..self.members.len())
                .map(|i| (self.members[i].poll_timeout() - self.epoch, i))
                .min();
            match next {
                Some((at, i)) if at <= end => {
                    self.now = self.now.max(at);
                    self.members[i].handle_timeout(self.epoch + self.now);
                    self.pump(i);
                    self.run();
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
    }

    /// Whether every member holds exactly the adjacencies of `links`, both
    /// directions.
    pub fn converged(&self, links: &[(usize, usize)]) -> bool {
        let want: BTreeSet<(Addr, Addr)> = links
            .iter()
            .flat_map(|&(a, b)| [(addr(a), addr(b)), (addr(b), addr(a))])
            .collect();
        self.members
            .iter()
            .all(|m| m.len() == want.len() && m.adjacencies().all(|adj| want.contains(&adj)))
    }

    /// Follows primary next hops from `from` towards `to` through every
    /// member's own routes; the hops taken, or `None` for a loop or a dead
    /// end.
    pub fn walk(&self, routes: &[super::graph::Routes], from: usize, to: usize) -> Option<usize> {
        let mut at = from;
        for hops in 0..=self.members.len() {
            if at == to {
                return Some(hops);
            }
            at = index(routes[at].primary(addr(to))?);
        }
        None
    }
}
