//! The link-state database and its flooding (PROTOCOL.md §12.2), sans IO:
//! inputs are neighbours coming and going, messages from management
//! neighbours, and time; outputs are messages to send and "recompute the
//! routes".
//!
//! ```text
//!  dt_up(N) ─────► own → N, seqno 0; LSM to every management neighbour; Recompute
//!  dt_down(N) ───► own → N removed (no withdrawal exists); Recompute
//!  mgmt_up(M) ───► the whole database to M, one LSM per adjacency
//!  receive(M, L) ► unknown: insert, Recompute; newer seqno: refresh;
//!                  either way the same LSM to every management neighbour but M;
//!                  older or equal: dropped
//!  every t_update (15 s): adjacencies older than t_timeo (60 s) removed;
//!                  own adjacencies seqno + 1, flooded
//!  every t_recalc (4 s), when a removal is pending: Recompute
//! ```
//!
//! Beyond the C prototype, for a neighbour that is not to be trusted:
//! an LSM about this member's own adjacencies, about a member and itself,
//! or past the database's capacity is refused and counted
//! ([`LsmDrop`]), and a local change (a neighbour up or down) recomputes
//! at once instead of at the next t_recalc.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use o7s_wire::lsm::{Lsm, LsmRepr};

use super::graph::{Addr, Graph};

/// A management neighbour: the flow the messages come and go on.
pub type MgmtNb = u64;

/// Timers, as the C prototype's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LsrTimers {
    /// Own adjacencies re-flooded, stale ones removed.
    pub t_update: Duration,
    /// An adjacency not refreshed this long is removed.
    pub t_timeo: Duration,
    /// Routes recomputed after a removal at most this late.
    pub t_recalc: Duration,
}

impl Default for LsrTimers {
    fn default() -> Self {
        LsrTimers {
            t_update: Duration::from_secs(15),
            t_timeo: Duration::from_secs(60),
            t_recalc: Duration::from_secs(4),
        }
    }
}

/// Adjacencies one database holds at most: what a member of a layer of
/// thousands announces, with room, and a bound on what a flooding
/// neighbour can make it keep.
pub const MAX_ADJACENCIES: usize = 1 << 20;

/// What the database asks its task to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LsrEvent {
    /// Send `lsm` on management flow `to`.
    Send { to: MgmtNb, lsm: LsmRepr },
    /// The graph changed: compute the routes again.
    Recompute,
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LsmDrop {
    /// Not 24 octets.
    Malformed,
    /// About an adjacency of this member's own: only it announces those.
    Own,
    /// From a member to itself.
    SelfLoop,
    /// The database is full.
    Full,
    /// A seqno not newer than the one held (a copy of a flood already
    /// seen: the normal end of flooding, counted apart).
    Stale,
}

impl LsmDrop {
    pub const ALL: [LsmDrop; 5] = [
        LsmDrop::Malformed,
        LsmDrop::Own,
        LsmDrop::SelfLoop,
        LsmDrop::Full,
        LsmDrop::Stale,
    ];

    /// The reason's name in counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            LsmDrop::Malformed => "lsm-malformed",
            LsmDrop::Own => "lsm-own-adjacency",
            LsmDrop::SelfLoop => "lsm-self-loop",
            LsmDrop::Full => "lsm-database-full",
            LsmDrop::Stale => "lsm-stale",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Adjacency {
    seqno: u64,
    updated: Instant,
}

/// One member's link-state database.
#[derive(Debug)]
pub struct Lsdb {
    own: Addr,
    timers: LsrTimers,
    /// (s_addr, d_addr) → seqno and last update.
    adjacencies: HashMap<(Addr, Addr), Adjacency>,
    dt: BTreeSet<Addr>,
    mgmt: BTreeSet<MgmtNb>,
    events: VecDeque<LsrEvent>,
    next_update: Instant,
    /// A removal waits for this recomputation.
    recalc_at: Option<Instant>,
    drops: HashMap<LsmDrop, u64>,
}

impl Lsdb {
    /// The database of member `own`, its first update due `t_update` after
    /// `now`.
    pub fn new(now: Instant, own: Addr, timers: LsrTimers) -> Lsdb {
        Lsdb {
            own,
            timers,
            adjacencies: HashMap::new(),
            dt: BTreeSet::new(),
            mgmt: BTreeSet::new(),
            events: VecDeque::new(),
            next_update: now + timers.t_update,
            recalc_at: None,
            drops: HashMap::new(),
        }
    }

    pub fn own(&self) -> Addr {
        self.own
    }

    /// Adjacencies held.
    pub fn len(&self) -> usize {
        self.adjacencies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.adjacencies.is_empty()
    }

    /// Every adjacency held, s → d.
    pub fn adjacencies(&self) -> impl Iterator<Item = (Addr, Addr)> + '_ {
        self.adjacencies.keys().copied()
    }

    /// The graph the database describes.
    pub fn graph(&self) -> Graph {
        Graph::new(self.adjacencies())
    }

    /// Messages refused so far, by reason.
    pub fn drops(&self) -> &HashMap<LsmDrop, u64> {
        &self.drops
    }

    /// The next thing to do.
    pub fn poll_event(&mut self) -> Option<LsrEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    pub fn poll_timeout(&self) -> Instant {
        self.recalc_at.map_or(self.next_update, |r| r.min(self.next_update))
    }

    fn flood(&mut self, lsm: LsmRepr, except: Option<MgmtNb>) {
        let to = self.mgmt.iter().filter(|&&m| Some(m) != except);
        self.events.extend(to.map(|&to| LsrEvent::Send { to, lsm }));
    }

    /// A data-transfer neighbour is up (after CACEP on its DT flow).
    pub fn dt_up(&mut self, now: Instant, neighbour: Addr) {
        if neighbour == self.own || !self.dt.insert(neighbour) {
            return;
        }
        let lsm = LsmRepr {
            d_addr: neighbour,
            s_addr: self.own,
            seqno: 0,
        };
        self.adjacencies
            .insert((self.own, neighbour), Adjacency { seqno: 0, updated: now });
        self.flood(lsm, None);
        self.events.push_back(LsrEvent::Recompute);
    }

    /// A data-transfer neighbour is gone: its adjacency is removed here;
    /// the others drop it when it times out.
    pub fn dt_down(&mut self, neighbour: Addr) {
        if self.dt.remove(&neighbour) {
            self.adjacencies.remove(&(self.own, neighbour));
            self.events.push_back(LsrEvent::Recompute);
        }
    }

    /// A management neighbour is up: it gets the whole database.
    pub fn mgmt_up(&mut self, neighbour: MgmtNb) {
        if !self.mgmt.insert(neighbour) {
            return;
        }
        let mut all: Vec<LsmRepr> = self
            .adjacencies
            .iter()
            .map(|(&(s_addr, d_addr), a)| LsmRepr {
                d_addr,
                s_addr,
                seqno: a.seqno,
            })
            .collect();
        all.sort_unstable_by_key(|l| (l.s_addr, l.d_addr));
        self.events
            .extend(all.into_iter().map(|lsm| LsrEvent::Send { to: neighbour, lsm }));
    }

    /// A management neighbour is gone.
    pub fn mgmt_down(&mut self, neighbour: MgmtNb) {
        self.mgmt.remove(&neighbour);
    }

    fn refuse(&mut self, why: LsmDrop) -> Result<(), LsmDrop> {
        *self.drops.entry(why).or_default() += 1;
        Err(why)
    }

    /// An SDU from management neighbour `from`.
    pub fn receive_sdu(&mut self, now: Instant, from: MgmtNb, sdu: &[u8]) -> Result<(), LsmDrop> {
        match Lsm::new_checked(sdu).and_then(|l| LsmRepr::parse(&l)) {
            Ok(lsm) => self.receive(now, from, lsm),
            Err(_) => self.refuse(LsmDrop::Malformed),
        }
    }

    /// A link-state message from management neighbour `from`.
    pub fn receive(&mut self, now: Instant, from: MgmtNb, lsm: LsmRepr) -> Result<(), LsmDrop> {
        if lsm.s_addr == self.own {
            return self.refuse(LsmDrop::Own);
        }
        if lsm.s_addr == lsm.d_addr {
            return self.refuse(LsmDrop::SelfLoop);
        }
        let key = (lsm.s_addr, lsm.d_addr);
        let full = self.adjacencies.len() >= MAX_ADJACENCIES;
        match self.adjacencies.get_mut(&key) {
            Some(a) if lsm.seqno > a.seqno => {
                a.seqno = lsm.seqno;
                a.updated = now;
            }
            Some(_) => return self.refuse(LsmDrop::Stale),
            None if full => return self.refuse(LsmDrop::Full),
            None => {
                self.adjacencies.insert(
                    key,
                    Adjacency {
                        seqno: lsm.seqno,
                        updated: now,
                    },
                );
                self.events.push_back(LsrEvent::Recompute);
            }
        }
        self.flood(lsm, Some(from));
        Ok(())
    }

    /// Timers: the periodic update (expiry and own re-flooding) and a
    /// pending recomputation.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_update {
            self.next_update = now + self.timers.t_update;
            let timeo = self.timers.t_timeo;
            let own = self.own;
            let before = self.adjacencies.len();
            self.adjacencies
                .retain(|&(s, _), a| s == own || now.saturating_duration_since(a.updated) <= timeo);
            if self.adjacencies.len() < before && self.recalc_at.is_none() {
                self.recalc_at = Some(now + self.timers.t_recalc);
            }
            let mut mine: Vec<LsmRepr> = Vec::new();
            for (&(s_addr, d_addr), a) in self.adjacencies.iter_mut().filter(|((s, _), _)| *s == own) {
                a.seqno += 1;
                a.updated = now;
                mine.push(LsmRepr {
                    d_addr,
                    s_addr,
                    seqno: a.seqno,
                });
            }
            mine.sort_unstable_by_key(|l| l.d_addr);
            for lsm in mine {
                self.flood(lsm, None);
            }
        }
        if self.recalc_at.is_some_and(|r| now >= r) {
            self.recalc_at = None;
            self.events.push_back(LsrEvent::Recompute);
        }
    }
}
