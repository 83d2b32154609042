//! The layer's graph as the link-state database describes it, and the
//! next hops each routing policy takes from it (PROTOCOL.md §12.3).
//!
//! ```text
//!  adjacencies (s → d) ──► Graph: an undirected link {a, b} where both a → b
//!                          and b → a are announced; members as dense indices,
//!                          neighbours in address order (CSR)
//!  Graph::routes(own, policy) ──► BFS from own (every link weighs 1)
//!                                 + BFS from each neighbour (lfa, ecmp)
//!                                 ──► Routes: destination → next hops
//! ```
//!
//! | policy | next hops of destination d |
//! |---|---|
//! | link_state | the lowest-address neighbour on a shortest path |
//! | lfa | that primary, then each other neighbour n with dist(n, d) < dist(n, own) + dist(own, d) |
//! | ecmp | every neighbour n with dist(n, d) + 1 = dist(own, d), in address order |
//!
//! Every link has weight 1 (the C prototype's LSM carries no metric), so
//! the shortest paths are breadth-first searches: on 1000 members with a
//! few links each, a search is a few microseconds.

use std::collections::{BTreeMap, HashMap, HashSet};

/// A member's address in the layer.
pub type Addr = u64;

/// How next hops are chosen: the `routing` bootstrap option.
pub use crate::ipcp_config::RoutingPolicy as Policy;

/// Hops from a member to each other, by dense index; `UNREACHED` where
/// there is no path.
const UNREACHED: u32 = u32::MAX;

/// The undirected graph of the links both of whose ends announced them.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Dense index → address, ascending.
    addrs: Vec<Addr>,
    index: HashMap<Addr, u32>,
    /// Neighbours of member `i`: `edges[offsets[i]..offsets[i + 1]]`,
    /// ascending.
    offsets: Vec<u32>,
    edges: Vec<u32>,
}

impl Graph {
    /// The graph of `adjacencies` (announced s → d): a link where both
    /// directions are announced, none from a member to itself.
    pub fn new(adjacencies: impl IntoIterator<Item = (Addr, Addr)>) -> Graph {
        let announced: HashSet<(Addr, Addr)> = adjacencies.into_iter().filter(|(s, d)| s != d).collect();
        let mut directed: Vec<(Addr, Addr)> = announced
            .iter()
            .filter(|(s, d)| announced.contains(&(*d, *s)))
            .copied()
            .collect();
        directed.sort_unstable();
        let mut addrs: Vec<Addr> = directed.iter().map(|&(s, _)| s).collect();
        addrs.dedup();
        let index: HashMap<Addr, u32> = addrs.iter().enumerate().map(|(i, &a)| (a, i as u32)).collect();
        let mut offsets = Vec::with_capacity(addrs.len() + 1);
        let mut edges = Vec::with_capacity(directed.len());
        // `directed` is sorted by source, then destination: each member's
        // neighbours come out in a run, ascending.
        let mut at = 0;
        for &a in &addrs {
            offsets.push(edges.len() as u32);
            while at < directed.len() && directed[at].0 == a {
                edges.push(index[&directed[at].1]);
                at += 1;
            }
        }
        offsets.push(edges.len() as u32);
        Graph {
            addrs,
            index,
            offsets,
            edges,
        }
    }

    /// Members with at least one link.
    pub fn members(&self) -> usize {
        self.addrs.len()
    }

    /// Undirected links.
    pub fn links(&self) -> usize {
        self.edges.len() / 2
    }

    /// The neighbours of `addr`, ascending.
    pub fn neighbours(&self, addr: Addr) -> impl Iterator<Item = Addr> + '_ {
        let i = self.index.get(&addr).copied();
        i.into_iter()
            .flat_map(move |i| self.adjacent(i).iter().map(move |&j| self.addrs[j as usize]))
    }

    fn adjacent(&self, i: u32) -> &[u32] {
        &self.edges[self.offsets[i as usize] as usize..self.offsets[i as usize + 1] as usize]
    }

    /// Hops from member `from` to every member into `dist`, and the
    /// members in the order reached into `order`.
    fn bfs(&self, from: u32, dist: &mut Vec<u32>, order: &mut Vec<u32>) {
        dist.clear();
        dist.resize(self.addrs.len(), UNREACHED);
        order.clear();
        dist[from as usize] = 0;
        order.push(from);
        let mut head = 0;
        while head < order.len() {
            let u = order[head];
            head += 1;
            let next = dist[u as usize] + 1;
            for &v in self.adjacent(u) {
                if dist[v as usize] == UNREACHED {
                    dist[v as usize] = next;
                    order.push(v);
                }
            }
        }
    }

    /// The next hops from `own` to every member it reaches, by `policy`.
    pub fn routes(&self, own: Addr, policy: Policy) -> Routes {
        let mut table = BTreeMap::new();
        let Some(&me) = self.index.get(&own) else {
            return Routes { own, policy, table };
        };
        let n = self.addrs.len();
        let (mut dist, mut order) = (Vec::new(), Vec::new());
        self.bfs(me, &mut dist, &mut order);
        // The first hop towards each member: the lowest of those of its
        // neighbours one hop closer (all set before it, in search order),
        // so the lowest-address neighbour on any shortest path; the same
        // primary whatever the policy.
        let mut first = vec![UNREACHED; n];
        for &u in &order[1..] {
            first[u as usize] = if dist[u as usize] == 1 {
                u
            } else {
                self.adjacent(u)
                    .iter()
                    .filter(|&&p| dist[p as usize] + 1 == dist[u as usize])
                    .map(|&p| first[p as usize])
                    .min()
                    .unwrap_or(UNREACHED)
            };
        }
        let nbs = self.adjacent(me);
        // Hops from each neighbour, for the alternates and equal costs.
        let from_nb: Vec<Vec<u32>> = match policy {
            Policy::LinkState => Vec::new(),
            Policy::Lfa | Policy::Ecmp => nbs
                .iter()
                .map(|&nb| {
                    let mut d = Vec::new();
                    self.bfs(nb, &mut d, &mut order);
                    d
                })
                .collect(),
        };
        for d in 0..n as u32 {
            let to_d = dist[d as usize];
            if d == me || to_d == UNREACHED {
                continue;
            }
            let primary = first[d as usize];
            let hops: Vec<Addr> = match policy {
                Policy::LinkState => vec![self.addrs[primary as usize]],
                Policy::Lfa => std::iter::once(primary)
                    .chain(
                        nbs.iter()
                            .zip(&from_nb)
                            .filter(|&(&nb, nd)| nb != primary && nd[d as usize] < 1 + to_d)
                            .map(|(&nb, _)| nb),
                    )
                    .map(|i| self.addrs[i as usize])
                    .collect(),
                Policy::Ecmp => nbs
                    .iter()
                    .zip(&from_nb)
                    .filter(|&(_, nd)| nd[d as usize] != UNREACHED && nd[d as usize] + 1 == to_d)
                    .map(|(&nb, _)| self.addrs[nb as usize])
                    .collect(),
            };
            table.insert(self.addrs[d as usize], hops);
        }
        Routes { own, policy, table }
    }
}

/// Where a member sends what is addressed to each other member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    /// The member these are the routes of.
    pub own: Addr,
    /// The policy that chose them.
    pub policy: Policy,
    /// Destination → next hops, never empty: the one next hop (link_state),
    /// the primary then its alternates (lfa), the equal-cost next hops in
    /// address order (ecmp).
    pub table: BTreeMap<Addr, Vec<Addr>>,
}

impl Routes {
    /// The next hop a packet to `dst` takes while every link is up.
    pub fn primary(&self, dst: Addr) -> Option<Addr> {
        self.table.get(&dst).and_then(|h| h.first().copied())
    }

    /// The next hops to `dst`.
    pub fn hops(&self, dst: Addr) -> &[Addr] {
        self.table.get(&dst).map_or(&[], Vec::as_slice)
    }
}
