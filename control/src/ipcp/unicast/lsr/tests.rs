use std::time::{Duration, Instant};

use o7s_wire::lsm::LsmRepr;

use super::db::{Lsdb, LsmDrop, LsrEvent, LsrTimers};
use super::graph::{Graph, Policy};
use super::sim::{Sim, Topology, addr};

/// Both directions of each link.
fn both(links: &[(u64, u64)]) -> Vec<(u64, u64)> {
    links.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).collect()
}

/// The square 1 - 2 - 3 - 4 - 1.
fn square() -> Graph {
    Graph::new(both(&[(1, 2), (2, 3), (3, 4), (4, 1)]))
}

#[test]
fn a_link_counts_once_both_ends_announce_it() {
    let g = Graph::new([(1, 2), (2, 1), (2, 3), (3, 3), (4, 4)]);
    assert_eq!(
        (g.members(), g.links()),
        (2, 1),
        "2 → 3 alone, and self-loops, are no links"
    );
    assert_eq!(g.neighbours(1).collect::<Vec<_>>(), [2]);
    assert_eq!(g.neighbours(3).count(), 0);
    let r = g.routes(1, Policy::LinkState);
    assert_eq!(r.table.len(), 1);
    assert_eq!(r.primary(2), Some(2));
    assert_eq!(r.primary(3), None);
    assert!(
        g.routes(9, Policy::Lfa).table.is_empty(),
        "a member with no links routes nothing"
    );
}

#[test]
fn simple_takes_one_shortest_first_hop_the_lowest_on_a_tie() {
    let r = square().routes(1, Policy::LinkState);
    assert_eq!(r.hops(2), [2]);
    assert_eq!(r.hops(4), [4]);
    assert_eq!(r.hops(3), [2], "2 and 4 tie: the lower");
    assert_eq!(r.policy, Policy::LinkState);
}

#[test]
fn lfa_adds_the_neighbours_whose_path_does_not_come_back() {
    let r = square().routes(1, Policy::Lfa);
    // To 3: 4 reaches 3 in 1 < dist(4, 1) + dist(1, 3) = 3.
    assert_eq!(r.hops(3), [2, 4]);
    // To 2: 4 needs 2 hops, not < 1 + 1: its path could come back through 1.
    assert_eq!(r.hops(2), [2]);
    assert_eq!(r.hops(4), [4]);
    // A triangle protects each link.
    let t = Graph::new(both(&[(1, 2), (2, 3), (3, 1)])).routes(1, Policy::Lfa);
    assert_eq!((t.hops(2), t.hops(3)), (&[2, 3][..], &[3, 2][..]));
}

#[test]
fn ecmp_takes_every_equal_cost_next_hop() {
    let r = square().routes(1, Policy::Ecmp);
    assert_eq!(r.hops(3), [2, 4]);
    assert_eq!(r.hops(2), [2]);
    assert_eq!(r.hops(4), [4]);
}

fn events(db: &mut Lsdb) -> Vec<LsrEvent> {
    std::iter::from_fn(|| db.poll_event()).collect()
}

fn lsm(s_addr: u64, d_addr: u64, seqno: u64) -> LsmRepr {
    LsmRepr { d_addr, s_addr, seqno }
}

fn send(to: u64, l: LsmRepr) -> LsrEvent {
    LsrEvent::Send { to, lsm: l }
}

#[test]
fn a_new_dt_neighbour_is_announced_to_every_management_neighbour() {
    let t = Instant::now();
    let mut db = Lsdb::new(t, 1, LsrTimers::default());
    db.mgmt_up(20);
    db.mgmt_up(30);
    assert!(events(&mut db).is_empty(), "an empty database has nothing to send");
    db.dt_up(t, 2);
    assert_eq!(
        events(&mut db),
        [send(20, lsm(1, 2, 0)), send(30, lsm(1, 2, 0)), LsrEvent::Recompute]
    );
    db.dt_up(t, 2);
    db.dt_up(t, 1);
    assert!(events(&mut db).is_empty(), "twice, or itself: nothing");
    // A management neighbour that comes later gets the whole database.
    db.receive(t, 20, lsm(5, 6, 3)).unwrap();
    let _ = events(&mut db);
    db.mgmt_up(40);
    assert_eq!(events(&mut db), [send(40, lsm(1, 2, 0)), send(40, lsm(5, 6, 3))]);
    db.dt_down(2);
    assert_eq!(events(&mut db), [LsrEvent::Recompute]);
    assert_eq!(db.adjacencies().collect::<Vec<_>>(), [(5, 6)]);
}

#[test]
fn received_lsms_are_taken_when_new_or_newer_and_flooded_to_the_others() {
    let t = Instant::now();
    let mut db = Lsdb::new(t, 1, LsrTimers::default());
    for m in [20, 30, 40] {
        db.mgmt_up(m);
    }
    db.receive(t, 30, lsm(7, 8, 5)).unwrap();
    assert_eq!(
        events(&mut db),
        [LsrEvent::Recompute, send(20, lsm(7, 8, 5)), send(40, lsm(7, 8, 5))],
        "inserted: routes recomputed, and flooded to all but the sender"
    );
    db.receive(t, 20, lsm(7, 8, 6)).unwrap();
    assert_eq!(
        events(&mut db),
        [send(30, lsm(7, 8, 6)), send(40, lsm(7, 8, 6))],
        "a newer seqno: taken and flooded, no recomputation"
    );
    for (l, why) in [
        (lsm(7, 8, 6), LsmDrop::Stale),
        (lsm(7, 8, 2), LsmDrop::Stale),
        (lsm(1, 8, 9), LsmDrop::Own),
        (lsm(8, 8, 9), LsmDrop::SelfLoop),
    ] {
        assert_eq!(db.receive(t, 20, l), Err(why), "{l}");
    }
    assert_eq!(db.receive_sdu(t, 20, &[0; 23]), Err(LsmDrop::Malformed));
    let mut sdu = [0u8; 24];
    sdu[7] = 9; // d_addr 9
    sdu[15] = 7; // s_addr 7
    db.receive_sdu(t, 20, &sdu).unwrap();
    assert!(events(&mut db).contains(&LsrEvent::Recompute));
    assert!(events(&mut db).is_empty(), "nothing more for the refused ones");
    assert_eq!(db.drops()[&LsmDrop::Stale], 2);
    assert_eq!(db.len(), 2);
}

#[test]
fn updates_refresh_and_reflood_own_adjacencies_and_expire_silent_ones() {
    let t0 = Instant::now();
    let timers = LsrTimers::default();
    let mut db = Lsdb::new(t0, 1, timers);
    db.mgmt_up(20);
    db.dt_up(t0, 2);
    db.receive(t0, 20, lsm(2, 1, 0)).unwrap();
    db.receive(t0, 20, lsm(3, 4, 0)).unwrap();
    let _ = events(&mut db);
    assert_eq!(db.poll_timeout(), t0 + timers.t_update);

    // Each update floods the own adjacency with the next seqno; 3 → 4 is
    // refreshed by its announcer, 2 → 1 is not.
    for n in 1..=4 {
        let t = db.poll_timeout();
        db.receive(t, 20, lsm(3, 4, n)).unwrap();
        let _ = events(&mut db);
        db.handle_timeout(t);
        assert_eq!(events(&mut db), [send(20, lsm(1, 2, n))], "update {n}");
    }
    // 60 s after its last refresh, at the update after that: gone, and the
    // routes follow t_recalc later.
    let t = db.poll_timeout();
    assert!(t - t0 > timers.t_timeo);
    db.handle_timeout(t);
    let mut adj: Vec<_> = db.adjacencies().collect();
    adj.sort_unstable();
    assert_eq!(adj, [(1, 2), (3, 4)]);
    assert_eq!(events(&mut db), [send(20, lsm(1, 2, 5))], "no recomputation yet");
    assert_eq!(db.poll_timeout(), t + timers.t_recalc);
    db.handle_timeout(t + timers.t_recalc);
    assert_eq!(events(&mut db), [LsrEvent::Recompute]);
}

/// Every member's routes by `policy`.
fn all_routes(sim: &Sim, policy: Policy) -> Vec<super::graph::Routes> {
    (0..sim.members())
        .map(|i| sim.member(i).graph().routes(addr(i), policy))
        .collect()
}

#[test]
fn a_layer_converges_on_its_topology_and_every_member_reaches_every_other_loop_free() {
    let topo = Topology::ring_with_chords(60, 1, 7);
    let mut sim = Sim::new(topo.members, Duration::from_millis(1));
    for &(a, b) in &topo.links {
        sim.link_up(a, b);
    }
    let settled = sim.run();
    assert!(sim.converged(&topo.links));
    assert!(
        settled < Duration::from_millis(60),
        "a flood crosses the layer in its diameter: {settled:?}"
    );
    let graph = Graph::new(
        topo.links
            .iter()
            .flat_map(|&(a, b)| [(addr(a), addr(b)), (addr(b), addr(a))]),
    );
    for policy in [Policy::LinkState, Policy::Lfa, Policy::Ecmp] {
        let routes = all_routes(&sim, policy);
        for from in 0..topo.members {
            let spf = graph.routes(addr(from), Policy::LinkState);
            for to in 0..topo.members {
                let hops = sim.walk(&routes, from, to);
                assert!(hops.is_some(), "{policy:?}: {from} → {to} loops or dead-ends");
                if from != to {
                    assert!(!routes[from].hops(addr(to)).is_empty());
                    assert_eq!(
                        spf.primary(addr(to)),
                        routes[from].primary(addr(to)),
                        "{policy:?}: the same primary"
                    );
                }
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = || {
        let topo = Topology::ring_with_chords(40, 2, 11);
        let mut sim = Sim::new(topo.members, Duration::from_micros(300));
        for &(a, b) in &topo.links {
            sim.link_up(a, b);
        }
        (topo, sim.run(), sim.delivered)
    };
    assert_eq!(run(), run());
}

#[test]
fn after_a_cut_the_ends_route_around_at_once_and_the_rest_when_the_adjacency_times_out() {
    let topo = Topology::ring_with_chords(30, 1, 3);
    let mut sim = Sim::new(topo.members, Duration::from_millis(1));
    for &(a, b) in &topo.links {
        sim.link_up(a, b);
    }
    sim.run();
    let before = all_routes(&sim, Policy::Lfa);
    let (a, b) = topo.links[topo.links.len() / 2];

    // The loop-free alternates at a: where b was the primary, following
    // an alternate and then the others' unchanged primaries arrives
    // without crossing a - b.
    let mut protected = 0;
    for (&dst, hops) in &before[a].table {
        if hops[0] != addr(b) || hops.len() < 2 {
            continue;
        }
        let mut at = (hops[1] - 1) as usize;
        let mut prev = a;
        for _ in 0..topo.members {
            assert!((prev, at) != (a, b) && (prev, at) != (b, a), "crossed the cut");
            if addr(at) == dst {
                break;
            }
            prev = at;
            at = (before[at].primary(dst).unwrap() - 1) as usize;
        }
        assert_eq!(addr(at), dst, "the alternate arrives");
        protected += 1;
    }
    assert!(
        protected > 0,
        "this topology protects some destinations of the cut link"
    );

    sim.link_down(a, b);
    sim.run();
    let ends = sim.member(a).graph();
    assert_eq!(
        ends.neighbours(addr(a)).filter(|&n| n == addr(b)).count(),
        0,
        "a routes around at once"
    );
    assert!(!sim.converged(&topo.links), "the others still hold b → a and a → b");
    let remaining: Vec<_> = topo.links.iter().copied().filter(|&l| l != (a, b)).collect();
    sim.advance(LsrTimers::default().t_timeo + 2 * LsrTimers::default().t_update);
    assert!(sim.converged(&remaining), "every member dropped the cut link");
    let after = all_routes(&sim, Policy::LinkState);
    for from in 0..topo.members {
        for to in 0..topo.members {
            assert!(sim.walk(&after, from, to).is_some(), "{from} → {to}");
        }
    }
}
