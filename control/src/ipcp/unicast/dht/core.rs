//! One member's directory, sans IO (PROTOCOL.md §13.2–13.3): messages in
//! and time in; messages out and answered queries out.
//!
//! ```text
//!  register(hash) ──► local value (hash → own address); STORE to the k closest
//!  query(hash) ─────► values held here, else a FIND_VALUE lookup; Resolved
//!  receive(msg) ────► validated (else counted); src becomes a contact;
//!                     STORE kept until exp; requests answered with the k closest
//!                     contacts, the asker included (and up to 8 values);
//!                     responses feed their lookup
//!  lookup: α requests to the closest contacts not yet asked, one cookie each;
//!          each response adds its contacts and asks the closest unasked again,
//!          α in flight at most, until values come (FIND_VALUE) or nobody is left
//!  handle_timeout: requests older than 2 s dropped; values expire; STOREs
//!          replicated every t_replicate, local ones republished; stale
//!          buckets refreshed; no contacts: the bootstrap peer asked again
//! ```
//!
//! Randomness (node id, cookies) comes from a seeded generator: the same
//! seed and inputs give the same run. Time is a monotonic `Instant` plus
//! the UNIX time it stood for at the start (`exp` fields are UNIX seconds).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use o7s_wire::proto::{self, dht as pb};

use super::table::{Contact, Table, distance};
use crate::ipcp::unicast::lsr::Addr;
use crate::ipcp_config::DhtParams;

/// Message codes (`dht_msg.code`).
pub mod code {
    pub const STORE: u32 = 0;
    pub const FIND_NODE_REQ: u32 = 1;
    pub const FIND_NODE_RSP: u32 = 2;
    pub const FIND_VALUE_REQ: u32 = 3;
    pub const FIND_VALUE_RSP: u32 = 4;
}

/// How long a request waits for its response, and a query for values.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Values in a FIND_VALUE_RSP at most.
pub const MAX_VALUES: usize = 8;
/// Distinct keys stored for others at most: a bound on what STOREs from
/// the layer can make a member keep.
pub const MAX_KEYS: usize = 1 << 16;
/// Periodic work runs at least this often.
const TICK: Duration = Duration::from_secs(1);

/// The layer's directory parameters (`dht_*` bootstrap options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhtConfig {
    /// Requests in flight per lookup.
    pub alpha: usize,
    /// Contacts per bucket, and STORE copies.
    pub k: usize,
    pub t_expire: Duration,
    pub t_refresh: Duration,
    pub t_replicate: Duration,
    /// Octets of ids and keys: the layer's hash length.
    pub hash_len: usize,
}

impl DhtConfig {
    /// The directory of a layer configured with `params`, whose name
    /// hashes are `hash_len` octets.
    pub fn new(params: &DhtParams, hash_len: usize) -> DhtConfig {
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        DhtConfig {
            alpha: params.alpha as usize,
            k: params.k as usize,
            t_expire: secs(params.t_expire),
            t_refresh: secs(params.t_refresh),
            t_replicate: secs(params.t_replicate),
            hash_len,
        }
    }
}

impl Default for DhtConfig {
    /// The C prototype's defaults, SHA3-256 hashes.
    fn default() -> Self {
        DhtConfig::new(&DhtParams::default(), 32)
    }
}

/// A query's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// What the directory asks its task to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhtEvent {
    /// Send `msg` (an encoded `dht_msg`) to the directory of `to`.
    Send { to: Addr, msg: Vec<u8> },
    /// A query is answered: the address where the name is, or none.
    Resolved { query: QueryId, addr: Option<Addr> },
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DhtDrop {
    /// Not a `dht_msg` (bad protobuf, a required field missing).
    Malformed,
    /// An id or key not of the layer's hash length, address 0, an
    /// unknown code, or the part its code needs missing.
    Invalid,
    /// A response no outstanding request of this member's matches.
    Unmatched,
    /// A STORE already expired, or past the member's capacity.
    Refused,
}

impl DhtDrop {
    pub const ALL: [DhtDrop; 4] = [
        DhtDrop::Malformed,
        DhtDrop::Invalid,
        DhtDrop::Unmatched,
        DhtDrop::Refused,
    ];

    /// The reason's name in counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            DhtDrop::Malformed => "dht-malformed",
            DhtDrop::Invalid => "dht-invalid",
            DhtDrop::Unmatched => "dht-unmatched",
            DhtDrop::Refused => "dht-refused",
        }
    }
}

/// A value held for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Value {
    addr: Addr,
    /// UNIX seconds.
    exp: u64,
    /// Registered here (republished), or a copy for the layer (replicated).
    local: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Find {
    Node,
    Value,
}

#[derive(Debug)]
struct Lookup {
    key: Vec<u8>,
    find: Find,
    /// Members heard of, by distance to the key: the table's closest at
    /// the start, then every contact a response brings.
    shortlist: BTreeSet<(u64, Addr)>,
    /// A registration to STORE at the k closest found once the lookup ends.
    store: Option<Value>,
    asked: HashSet<Addr>,
    /// Cookies of the requests in flight.
    pending: HashSet<u64>,
    query: Option<QueryId>,
    started: Instant,
    /// Rounds: a request sent on a response at depth d is at d + 1.
    depth: u32,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    lookup: u64,
    to: Addr,
    sent: Instant,
    depth: u32,
}

/// What a finished lookup found, for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupStats {
    /// Rounds of requests until the answer (or the end).
    pub hops: u32,
    /// Requests sent.
    pub requests: u32,
}

/// One member's directory.
#[derive(Debug)]
pub struct Dht {
    config: DhtConfig,
    id: Vec<u8>,
    addr: Addr,
    /// The enroller's address (the own one for the first member).
    peer: Addr,
    epoch: Instant,
    epoch_unix: u64,
    rng: fastrand::Rng,
    table: Table,
    values: HashMap<Vec<u8>, Vec<Value>>,
    lookups: HashMap<u64, Lookup>,
    next_lookup: u64,
    cookies: HashMap<u64, Pending>,
    next_query: u64,
    events: VecDeque<DhtEvent>,
    drops: HashMap<DhtDrop, u64>,
    finished: Vec<(QueryId, LookupStats)>,
    next_tick: Instant,
    next_replicate: Instant,
    next_refresh: Instant,
}

impl Dht {
    /// The directory of the member at `addr` that enrolled with `peer`
    /// (its own address if it is the first), at `now`, which is
    /// `now_unix` seconds of UNIX time; `seed` seeds its id and cookies.
    pub fn new(config: DhtConfig, addr: Addr, peer: Addr, now: Instant, now_unix: u64, seed: u64) -> Dht {
        let mut rng = fastrand::Rng::with_seed(seed);
        let id: Vec<u8> = (0..config.hash_len).map(|_| rng.u8(..)).collect();
        Dht {
            table: Table::new(id.clone(), config.k),
            config,
            id,
            addr,
            peer,
            epoch: now,
            epoch_unix: now_unix,
            rng,
            values: HashMap::new(),
            lookups: HashMap::new(),
            next_lookup: 1,
            cookies: HashMap::new(),
            next_query: 1,
            events: VecDeque::new(),
            drops: HashMap::new(),
            finished: Vec::new(),
            next_tick: now + TICK,
            next_replicate: now + config.t_replicate,
            next_refresh: now + config.t_refresh,
        }
    }

    /// The same directory under node id `id`, before it starts: a member
    /// that keeps its id, or a test that plays a member it captured.
    pub fn with_id(mut self, id: Vec<u8>) -> Dht {
        self.table = Table::new(id.clone(), self.config.k);
        self.id = id;
        self
    }

    pub fn id(&self) -> &[u8] {
        &self.id
    }

    pub fn addr(&self) -> Addr {
        self.addr
    }

    /// Contacts known.
    pub fn contacts(&self) -> usize {
        self.table.len()
    }

    /// Messages refused so far, by reason.
    pub fn drops(&self) -> &HashMap<DhtDrop, u64> {
        &self.drops
    }

    /// Queries answered since the last call, with what their lookups took
    /// (none for a query answered from values held here).
    pub fn take_finished(&mut self) -> Vec<(QueryId, LookupStats)> {
        std::mem::take(&mut self.finished)
    }

    pub fn poll_event(&mut self) -> Option<DhtEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Instant {
        self.next_tick
    }

    fn unix(&self, now: Instant) -> u64 {
        self.epoch_unix + now.saturating_duration_since(self.epoch).as_secs()
    }

    fn cookie(&mut self) -> u64 {
        loop {
            let c = self.rng.u64(1..);
            if !self.cookies.contains_key(&c) {
                return c;
            }
        }
    }

    fn contact_msg(&self) -> pb::DhtContactMsg {
        pb::DhtContactMsg {
            id: self.id.clone(),
            addr: self.addr,
        }
    }

    fn send(&mut self, to: Addr, msg: pb::DhtMsg) {
        self.events.push_back(DhtEvent::Send {
            to,
            msg: proto::encode(&msg),
        });
    }

    fn message(&self, code: u32) -> pb::DhtMsg {
        pb::DhtMsg {
            code,
            src: self.contact_msg(),
            ..pb::DhtMsg::default()
        }
    }

    /// Starts: an enrolled member looks itself up at its peer, which
    /// seeds its contacts.
    pub fn start(&mut self, now: Instant) {
        if self.peer != self.addr && self.peer != 0 {
            let key = self.id.clone();
            let l = self.lookup(now, key, Find::Node, None);
            self.ask(now, l, self.peer, 1);
        }
    }

    fn lookup(&mut self, now: Instant, key: Vec<u8>, find: Find, query: Option<QueryId>) -> u64 {
        let l = self.next_lookup;
        self.next_lookup += 1;
        let shortlist = self
            .table
            .closest(&key, self.config.k)
            .into_iter()
            .map(|c| (distance(&c.id, &key), c.addr))
            .collect();
        self.lookups.insert(
            l,
            Lookup {
                key,
                find,
                shortlist,
                store: None,
                asked: HashSet::new(),
                pending: HashSet::new(),
                query,
                started: now,
                depth: 0,
            },
        );
        l
    }

    /// Sends lookup `l`'s request to `to`, at round `depth`.
    fn ask(&mut self, now: Instant, l: u64, to: Addr, depth: u32) {
        let cookie = self.cookie();
        let Some(lookup) = self.lookups.get_mut(&l) else {
            return;
        };
        lookup.asked.insert(to);
        lookup.pending.insert(cookie);
        lookup.depth = lookup.depth.max(depth);
        let code = match lookup.find {
            Find::Node => code::FIND_NODE_REQ,
            Find::Value => code::FIND_VALUE_REQ,
        };
        let key = lookup.key.clone();
        self.cookies.insert(
            cookie,
            Pending {
                lookup: l,
                to,
                sent: now,
                depth,
            },
        );
        let mut msg = self.message(code);
        msg.find = Some(pb::DhtFindReqMsg { cookie, key });
        self.send(to, msg);
    }

    /// Asks the closest contacts lookup `l` has not asked, up to α in
    /// flight; ends the lookup when none is in flight and none is left.
    fn advance(&mut self, now: Instant, l: u64, depth: u32) {
        let Some(lookup) = self.lookups.get(&l) else {
            return;
        };
        // The k closest heard of that were not asked yet, α in flight.
        let room = self.config.alpha.saturating_sub(lookup.pending.len());
        let next: Vec<Addr> = lookup
            .shortlist
            .iter()
            .take(self.config.k)
            .map(|&(_, a)| a)
            .filter(|a| *a != self.addr && !lookup.asked.contains(a))
            .take(room)
            .collect();
        for to in next {
            self.ask(now, l, to, depth);
        }
        if self.lookups.get(&l).is_some_and(|x| x.pending.is_empty()) {
            self.finish(l, None);
        }
    }

    fn finish(&mut self, l: u64, addr: Option<Addr>) {
        let Some(lookup) = self.lookups.remove(&l) else {
            return;
        };
        for c in &lookup.pending {
            self.cookies.remove(c);
        }
        if let Some(query) = lookup.query {
            self.events.push_back(DhtEvent::Resolved { query, addr });
            self.finished.push((
                query,
                LookupStats {
                    hops: lookup.depth,
                    requests: lookup.asked.len() as u32,
                },
            ));
        }
        if let Some(v) = lookup.store {
            let to: Vec<Addr> = lookup
                .shortlist
                .iter()
                .map(|&(_, a)| a)
                .filter(|&a| a != self.addr)
                .take(self.config.k)
                .collect();
            for addr in to {
                self.send_store(addr, &lookup.key, v);
            }
        }
        if lookup.find == Find::Node && lookup.key == self.id {
            // Bootstrapped: the own registrations go out.
            let local: Vec<(Vec<u8>, Value)> = self
                .values
                .iter()
                .flat_map(|(k, vs)| vs.iter().filter(|v| v.local).map(move |v| (k.clone(), *v)))
                .collect();
            for (key, v) in local {
                self.store_at_closest(&key, v);
            }
        }
    }

    fn store_at_closest(&mut self, key: &[u8], v: Value) {
        let to: Vec<Addr> = self
            .table
            .closest(key, self.config.k)
            .into_iter()
            .map(|c| c.addr)
            .collect();
        for addr in to {
            self.send_store(addr, key, v);
        }
    }

    fn send_store(&mut self, to: Addr, key: &[u8], v: Value) {
        let mut msg = self.message(code::STORE);
        msg.store = Some(pb::DhtStoreMsg {
            key: key.to_vec(),
            val: v.addr.to_be_bytes().to_vec(),
            exp: u32::try_from(v.exp).unwrap_or(u32::MAX),
        });
        self.send(to, msg);
    }

    /// Registers `hash` here: kept as a local value and stored at the k
    /// closest contacts.
    pub fn register(&mut self, now: Instant, hash: &[u8]) {
        let v = Value {
            addr: self.addr,
            exp: self.unix(now) + self.config.t_expire.as_secs(),
            local: true,
        };
        let values = self.values.entry(hash.to_vec()).or_default();
        values.retain(|x| !(x.local && x.addr == v.addr));
        values.push(v);
        // At the closest known now, as C does, and at the closest in the
        // layer once a lookup for the hash has found them.
        self.store_at_closest(hash, v);
        let l = self.lookup(now, hash.to_vec(), Find::Node, None);
        if let Some(lookup) = self.lookups.get_mut(&l) {
            lookup.store = Some(v);
        }
        self.advance(now, l, 1);
    }

    /// Unregisters `hash`: the local value goes; copies elsewhere expire.
    pub fn unregister(&mut self, hash: &[u8]) {
        if let Some(values) = self.values.get_mut(hash) {
            values.retain(|v| !v.local);
            if values.is_empty() {
                self.values.remove(hash);
            }
        }
    }

    /// Where `hash` is registered: answered at once from values held here,
    /// else by a lookup ([`DhtEvent::Resolved`]).
    pub fn query(&mut self, now: Instant, hash: &[u8]) -> QueryId {
        let query = QueryId(self.next_query);
        self.next_query += 1;
        if let Some(addr) = self.pick(hash) {
            self.events.push_back(DhtEvent::Resolved {
                query,
                addr: Some(addr),
            });
            return query;
        }
        let l = self.lookup(now, hash.to_vec(), Find::Value, Some(query));
        self.advance(now, l, 1);
        query
    }

    /// The value to use among those held: the first, or the second when
    /// the first is this member.
    fn pick(&self, hash: &[u8]) -> Option<Addr> {
        let values = self.values.get(hash)?;
        let mut addrs = values.iter().map(|v| v.addr);
        let first = addrs.next()?;
        if first != self.addr {
            Some(first)
        } else {
            addrs.next().or(Some(first))
        }
    }

    fn refuse(&mut self, why: DhtDrop) -> Result<(), DhtDrop> {
        *self.drops.entry(why).or_default() += 1;
        Err(why)
    }

    /// A message from the layer.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) -> Result<(), DhtDrop> {
        let Ok(msg) = proto::decode::<pb::DhtMsg>(bytes) else {
            return self.refuse(DhtDrop::Malformed);
        };
        let n = self.config.hash_len;
        let key_ok = |k: &[u8]| k.len() == n;
        let valid = key_ok(&msg.src.id)
            && msg.src.addr != 0
            && match msg.code {
                code::STORE => msg.store.as_ref().is_some_and(|s| key_ok(&s.key) && s.val.len() == 8),
                code::FIND_NODE_REQ | code::FIND_VALUE_REQ => msg.find.as_ref().is_some_and(|f| key_ok(&f.key)),
                code::FIND_NODE_RSP => msg.node.as_ref().is_some_and(|r| key_ok(&r.key)),
                code::FIND_VALUE_RSP => msg.node.as_ref().is_some_and(|r| key_ok(&r.key)) && msg.val.is_some(),
                _ => false,
            };
        if !valid {
            return self.refuse(DhtDrop::Invalid);
        }
        let src = msg.src.addr;
        match msg.code {
            code::FIND_NODE_RSP | code::FIND_VALUE_RSP => {
                let node = msg.node.as_ref().expect("validated");
                let matched = self
                    .cookies
                    .get(&node.cookie)
                    .is_some_and(|p| p.to == src && self.lookups.get(&p.lookup).is_some_and(|l| l.key == node.key));
                if !matched {
                    return self.refuse(DhtDrop::Unmatched);
                }
            }
            _ => {}
        }
        if msg.src.id != self.id {
            self.table.seen(&msg.src.id, src, now);
        }
        match msg.code {
            code::STORE => self.stored(now, msg.store.expect("validated")),
            code::FIND_NODE_REQ | code::FIND_VALUE_REQ => {
                let find = msg.find.expect("validated");
                self.answer(src, msg.code, find);
                Ok(())
            }
            _ => {
                self.response(now, msg);
                Ok(())
            }
        }
    }

    fn stored(&mut self, now: Instant, store: pb::DhtStoreMsg) -> Result<(), DhtDrop> {
        let addr = u64::from_be_bytes(store.val[..8].try_into().expect("8 octets"));
        let exp = u64::from(store.exp);
        if exp <= self.unix(now) || addr == 0 {
            return self.refuse(DhtDrop::Refused);
        }
        if !self.values.contains_key(&store.key) && self.values.len() >= MAX_KEYS {
            return self.refuse(DhtDrop::Refused);
        }
        let values = self.values.entry(store.key).or_default();
        let room = values.len() < MAX_VALUES;
        match values.iter_mut().find(|v| v.addr == addr) {
            Some(v) if v.local => {}
            Some(v) => v.exp = v.exp.max(exp),
            None if room => values.push(Value {
                addr,
                exp,
                local: false,
            }),
            None => {}
        }
        Ok(())
    }

    fn answer(&mut self, to: Addr, code: u32, find: pb::DhtFindReqMsg) {
        // The asker may be among them (as in C); the own id never is.
        let contacts = self
            .table
            .closest(&find.key, self.config.k)
            .into_iter()
            .map(|c: Contact| pb::DhtContactMsg { id: c.id, addr: c.addr })
            .collect();
        let values: Vec<Vec<u8>> = self
            .values
            .get(&find.key)
            .map(|vs| {
                vs.iter()
                    .take(MAX_VALUES)
                    .map(|v| v.addr.to_be_bytes().to_vec())
                    .collect()
            })
            .unwrap_or_default();
        let (rsp_code, val) = if code == code::FIND_VALUE_REQ {
            (code::FIND_VALUE_RSP, Some(pb::DhtFindValueRspMsg { values }))
        } else {
            (code::FIND_NODE_RSP, None)
        };
        let mut msg = self.message(rsp_code);
        msg.node = Some(pb::DhtFindNodeRspMsg {
            cookie: find.cookie,
            key: find.key,
            contacts,
        });
        msg.val = val;
        self.send(to, msg);
    }

    fn response(&mut self, now: Instant, msg: pb::DhtMsg) {
        let node = msg.node.expect("validated");
        let pending = self.cookies.remove(&node.cookie).expect("matched");
        let l = pending.lookup;
        if let Some(lookup) = self.lookups.get_mut(&l) {
            lookup.pending.remove(&node.cookie);
        }
        for c in &node.contacts {
            if c.id.len() == self.config.hash_len && c.addr != 0 && c.id != self.id {
                self.table.seen(&c.id, c.addr, now);
                if let Some(lookup) = self.lookups.get_mut(&l) {
                    lookup.shortlist.insert((distance(&c.id, &lookup.key), c.addr));
                }
            }
        }
        if let Some(lookup) = self.lookups.get_mut(&l) {
            lookup
                .shortlist
                .insert((distance(&msg.src.id, &lookup.key), msg.src.addr));
        }
        let found: Vec<Addr> = msg
            .val
            .map(|v| {
                v.values
                    .iter()
                    .filter_map(|x| x.as_slice().try_into().ok().map(u64::from_be_bytes))
                    .filter(|&a| a != 0)
                    .collect()
            })
            .unwrap_or_default();
        if !found.is_empty() {
            let pick = found.iter().copied().find(|&a| a != self.addr).unwrap_or(found[0]);
            self.finish(l, Some(pick));
            return;
        }
        self.advance(now, l, pending.depth + 1);
    }

    /// Timers: stale requests and queries, expired values, replication,
    /// refresh, and the bootstrap peer when no contact is left.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_tick {
            return;
        }
        self.next_tick = now + TICK;
        let stale: Vec<(u64, Pending)> = self
            .cookies
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.sent) >= REQUEST_TIMEOUT)
            .map(|(&c, &p)| (c, p))
            .collect();
        for (cookie, p) in stale {
            self.cookies.remove(&cookie);
            if let Some(lookup) = self.lookups.get_mut(&p.lookup) {
                lookup.pending.remove(&cookie);
            }
            self.advance(now, p.lookup, p.depth + 1);
        }
        let late: Vec<u64> = self
            .lookups
            .iter()
            .filter(|(_, l)| l.query.is_some() && now.saturating_duration_since(l.started) >= REQUEST_TIMEOUT)
            .map(|(&id, _)| id)
            .collect();
        for l in late {
            self.finish(l, None);
        }
        let unix = self.unix(now);
        for values in self.values.values_mut() {
            values.retain(|v| v.exp > unix);
        }
        self.values.retain(|_, v| !v.is_empty());

        if now >= self.next_replicate {
            self.next_replicate = now + self.config.t_replicate;
            let horizon = 5 * self.config.t_replicate.as_secs();
            let mut out = Vec::new();
            for (key, values) in &mut self.values {
                for v in values.iter_mut() {
                    if v.local && v.exp <= unix + horizon {
                        v.exp = unix + self.config.t_expire.as_secs();
                    }
                    out.push((key.clone(), *v));
                }
            }
            for (key, v) in out {
                self.store_at_closest(&key, v);
            }
        }
        if now >= self.next_refresh {
            self.next_refresh = now + self.config.t_refresh;
            let t_refresh = self.config.t_refresh;
            let stale: Vec<Vec<u8>> = self
                .table
                .oldest()
                .filter(|c| now.saturating_duration_since(c.seen) >= t_refresh)
                .map(|c| c.id.clone())
                .collect();
            for id in stale {
                let l = self.lookup(now, id, Find::Node, None);
                self.advance(now, l, 1);
            }
        }
        if self.table.is_empty() && self.lookups.is_empty() {
            self.start(now);
        }
    }

    /// The contacts closest to `key` this member knows (tests, status).
    pub fn closest(&self, key: &[u8], n: usize) -> Vec<(Addr, u64)> {
        self.table
            .closest(key, n)
            .into_iter()
            .map(|c| (c.addr, distance(&c.id, key)))
            .collect()
    }
}
