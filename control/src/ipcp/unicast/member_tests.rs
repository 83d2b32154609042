//! Two and three members joined by N-1 flows in virtual time: enrolment,
//! connections, routes, the directory and a flow, as the task drives
//! them, with no sockets.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use o7s_wire::hash::{HashAlgo, hash_name};
use o7s_wire::qos::QosSpec;

use super::*;

/// Members, and N-1 flows between them: (member, flow) ↔ (member, flow).
struct Net {
    now: Instant,
    members: Vec<Member>,
    wires: HashMap<(usize, FlowId), (usize, FlowId)>,
    next_flow: u32,
    log: Vec<(usize, MemberEvent)>,
}

impl Net {
    fn new(n: usize) -> Net {
        let now = Instant::now();
        Net {
            now,
            members: (0..n).map(|i| Member::new(now, 1_800_000_000, i as u64 + 1)).collect(),
            wires: HashMap::new(),
            next_flow: 1,
            log: Vec::new(),
        }
    }

    /// An N-1 flow from `a` (for `component`) to `b`, up at once.
    fn connect(&mut self, a: usize, b: usize, component: Component) -> FlowId {
        let (fa, fb) = (FlowId(self.next_flow), FlowId(self.next_flow + 1));
        self.next_flow += 2;
        self.wires.insert((a, fa), (b, fb));
        self.wires.insert((b, fb), (a, fa));
        let now = self.now;
        self.members[b].n1_arrived(now, fb);
        self.members[a].connect_requested(fa, component);
        self.members[a].n1_up(now, fa);
        self.run();
        fa
    }

    fn addr(&self, i: usize) -> Addr {
        self.members[i].addr().unwrap()
    }

    /// Carries every event until none is left.
    fn run(&mut self) {
        let mut work: VecDeque<(usize, MemberEvent)> = VecDeque::new();
        loop {
            for i in 0..self.members.len() {
                while let Some(e) = self.members[i].poll_event() {
                    work.push_back((i, e));
                }
            }
            let Some((i, e)) = work.pop_front() else { return };
            let now = self.now;
            match &e {
                MemberEvent::Write { flow, sdu } => {
                    if let Some(&(j, g)) = self.wires.get(&(i, *flow)) {
                        self.members[j].n1_sdu(now, g, sdu);
                    }
                }
                MemberEvent::Dealloc { flow } => {
                    if let Some((j, g)) = self.wires.remove(&(i, *flow)) {
                        self.wires.remove(&(j, g));
                        self.members[j].n1_gone(now, g);
                    }
                }
                MemberEvent::SendDt { dst, eid, payload } => {
                    let j = (0..self.members.len())
                        .find(|&j| self.members[j].addr() == Some(*dst))
                        .unwrap();
                    self.members[j].dt_received(now, *eid, payload);
                }
                _ => {}
            }
            self.log.push((i, e));
        }
    }

    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = self.members.iter().filter_map(Member::poll_timeout).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for m in &mut self.members {
                        if m.poll_timeout().is_some_and(|d| d <= self.now) {
                            m.handle_timeout(self.now);
                        }
                    }
                    self.run();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn events(&self, i: usize) -> impl Iterator<Item = &MemberEvent> {
        self.log.iter().filter(move |(j, _)| *j == i).map(|(_, e)| e)
    }
}

/// The layer member `i` enrolled in.
fn enrolled_layer(net: &Net, i: usize) -> LayerConfig {
    net.events(i)
        .find_map(|e| match e {
            MemberEvent::Enrolled { layer, .. } => Some(layer.clone()),
            _ => None,
        })
        .unwrap()
}

fn layer() -> LayerConfig {
    LayerConfig::unicast("uni", UnicastConfig::default())
}

/// `0` bootstraps, the others enrol through `0` and connect both
/// components to their predecessor (a chain).
fn chain(n: usize) -> Net {
    let mut net = Net::new(n);
    let now = net.now;
    net.members[0].bootstrap(now, layer(), None);
    for i in 1..n {
        net.connect(i, i - 1, Component::Enrollment);
        assert!(
            net.events(i).any(|e| matches!(e, MemberEvent::Enrolled { .. })),
            "{i} enrolled: {:?}",
            net.events(i).collect::<Vec<_>>()
        );
        net.connect(i, i - 1, Component::Management);
        net.connect(i, i - 1, Component::DataTransfer);
    }
    net.advance(Duration::from_secs(1));
    net
}

#[test]
fn an_enrolled_member_learns_the_layer_and_draws_its_own_address() {
    let net = chain(2);
    let (a, b) = (net.addr(0), net.addr(1));
    assert_ne!(a, b);
    assert_ne!(b, 0);
    let enrolled = enrolled_layer(&net, 1);
    assert_eq!(
        enrolled,
        LayerConfig { peer: a, ..layer() },
        "the bootstrapper as the DHT's peer"
    );
    // The enrolment flow is released after the ack.
    assert!(net.events(1).any(|e| matches!(e, MemberEvent::Dealloc { .. })));
    assert!(
        net.wires.len() == 4,
        "management and data transfer stay: {:?}",
        net.wires
    );
}

#[test]
fn connected_members_route_to_each_other_along_a_chain() {
    let net = chain(4);
    let routes = |i: usize| {
        net.events(i)
            .filter_map(|e| match e {
                MemberEvent::Routes(r) => Some(r.clone()),
                _ => None,
            })
            .last()
            .unwrap()
    };
    for i in 0..4 {
        let r = routes(i);
        for j in (0..4).filter(|&j| j != i) {
            let first = if j > i { i + 1 } else { i - 1 };
            assert_eq!(r.primary(net.addr(j)), Some(net.addr(first)), "{i} to {j}");
        }
    }
    // Every DT flow was announced once per side.
    let dt_ups = net
        .log
        .iter()
        .filter(|(_, e)| matches!(e, MemberEvent::DtUp { .. }))
        .count();
    assert_eq!(dt_ups, 6);
}

#[test]
fn a_name_registered_at_one_end_of_a_chain_is_found_and_a_flow_allocated_from_the_other() {
    let mut net = chain(4);
    let hash = hash_name(HashAlgo::Sha3_256, "oping");
    let now = net.now;
    net.members[3].register(now, hash);
    net.run();
    net.advance(Duration::from_secs(1));
    let now = net.now;
    net.members[0].query(now, hash);
    net.run();
    net.advance(Duration::from_secs(3));
    assert!(
        net.events(0)
            .any(|e| *e == MemberEvent::QueryDone { hash, known: true }),
        "{:?}",
        net.events(0).collect::<Vec<_>>()
    );
    let now = net.now;
    net.members[0].alloc(now, FlowId(900), hash, QosSpec::UNSET, vec![1, 2, 3]);
    net.run();
    let (eid, peer) = net
        .events(3)
        .find_map(|e| match e {
            MemberEvent::Fa(FaEvent::RequestArrived { eid, peer, data, .. }) => {
                assert_eq!(data, &[1, 2, 3]);
                Some((*eid, *peer))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(peer, net.addr(0));
    net.members[3].arrived_as(eid, FlowId(901));
    let now = net.now;
    net.members[3].respond(now, FlowId(901), 0, &[4, 5]);
    net.run();
    let up = net
        .events(0)
        .find_map(|e| match e {
            MemberEvent::Fa(FaEvent::FlowUp {
                flow,
                peer,
                peer_eid,
                data,
                ..
            }) => Some((*flow, *peer, *peer_eid, data.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(up, (FlowId(900), net.addr(3), eid, vec![4, 5]));
}

#[test]
fn a_lost_data_transfer_flow_takes_the_adjacency_and_the_routes_through_it() {
    let mut net = chain(3);
    let dt = net
        .wires
        .keys()
        .copied()
        .find(|&(i, f)| {
            i == 2
                && net
                    .events(2)
                    .any(|e| matches!(e, MemberEvent::DtUp { flow, .. } if *flow == f))
        })
        .unwrap();
    let (j, g) = net.wires[&dt];
    net.wires.remove(&dt);
    net.wires.remove(&(j, g));
    let now = net.now;
    net.members[2].n1_gone(now, dt.1);
    net.members[j].n1_gone(now, g);
    net.run();
    let last = net
        .events(2)
        .filter_map(|e| match e {
            MemberEvent::Routes(r) => Some(r.clone()),
            _ => None,
        })
        .last()
        .unwrap();
    assert!(last.table.is_empty(), "2 reaches no one: {last:?}");
    assert!(net.events(2).any(|e| matches!(e, MemberEvent::DtDown { .. })));
}

#[test]
fn hostile_n1_input_is_refused_and_counted_never_acted_on() {
    let mut net = chain(2);
    let now = net.now;
    // Garbage as a CACEP request, and a silent acceptor.
    net.members[0].n1_arrived(now, FlowId(500));
    net.members[0].n1_sdu(now, FlowId(500), &[0xff; 40]);
    net.members[0].n1_arrived(now, FlowId(501));
    net.members[0].n1_sdu(now, FlowId(999), b"who");
    net.members[0].dt_received(now, 7, b"x");
    net.members[0].dt_received(now, FA_EID, &[1; 3]);
    net.run();
    net.advance(CACEP_TIMEOUT + Duration::from_millis(1));
    let counters: HashMap<String, u64> = net.members[0].counters().into_iter().collect();
    assert_eq!(counters.get("cacep-failed"), Some(&2), "{counters:?}");
    assert_eq!(counters.get("n1-unexpected-sdu"), Some(&1));
    assert_eq!(counters.get("unknown-component"), Some(&1));
    assert_eq!(counters.get("fa-malformed"), Some(&1));
    for f in [500, 501] {
        assert!(net.events(0).any(|e| *e == MemberEvent::Dealloc { flow: FlowId(f) }));
    }
}

#[test]
fn an_enrolment_through_a_member_that_does_not_answer_fails_in_time() {
    let mut net = Net::new(1);
    let now = net.now;
    net.members[0].connect_requested(FlowId(1), Component::Enrollment);
    net.members[0].n1_up(now, FlowId(1));
    net.run();
    net.advance(CACEP_TIMEOUT + Duration::from_millis(1));
    assert!(net.events(0).any(|e| matches!(e, MemberEvent::EnrolFailed { .. })));
    assert!(net.members[0].addr().is_none());
}

#[test]
fn a_broadcast_member_enrols_and_takes_data_transfer_flows_but_no_management() {
    let mut net = Net::new(2);
    net.members = net.members.drain(..).map(Member::broadcast).collect();
    let now = net.now;
    let bc = LayerConfig {
        name: "bc".to_owned(),
        ipcp_type: IpcpType::Broadcast,
        hash: o7s_wire::hash::HashAlgo::Sha3_256,
        unicast: None,
        peer: 0,
    };
    net.members[0].bootstrap(now, bc.clone(), None);
    net.connect(1, 0, Component::Enrollment);
    let layer = enrolled_layer(&net, 1);
    assert_eq!(
        (layer.name.as_str(), layer.ipcp_type, layer.unicast),
        ("bc", IpcpType::Broadcast, None)
    );
    let dt = net.connect(1, 0, Component::BroadcastData);
    assert!(net.events(1).any(|e| *e == MemberEvent::DtUp { flow: dt, nb: 0 }));
    assert!(net.events(0).any(|e| matches!(e, MemberEvent::DtUp { nb: 0, .. })));
    assert!(
        net.events(1)
            .any(|e| *e == MemberEvent::Connected { flow: dt, ok: true })
    );
    // A management flow finds no such component in a broadcast layer.
    let mgmt = net.connect(1, 0, Component::Management);
    assert!(
        net.events(1)
            .any(|e| *e == MemberEvent::Connected { flow: mgmt, ok: false })
    );
    assert!(
        !net.log
            .iter()
            .any(|(_, e)| matches!(e, MemberEvent::Routes(_) | MemberEvent::SendDt { .. }))
    );
}
