//! The shim core driven in virtual time: two members of a layer wired to
//! each other by the tests, which carry each `Send` to its destination.

use std::time::{Duration, Instant};

use o7s_wire::eth::MacAddr;
use o7s_wire::hash::{HashAlgo, NameHash, hash_name};
use o7s_wire::qos::QosSpec;

use super::*;

type Mac = MacAddr;
const A: Mac = MacAddr([2, 0, 0, 0, 0, 0xa]);
const B: Mac = MacAddr([2, 0, 0, 0, 0, 0xb]);
const C: Mac = MacAddr([2, 0, 0, 0, 0, 0xc]);

/// A mac-addressed core for member `me` (the address is for reading the
/// tests only; the core does not know its own).
fn eth() -> ShimCore<Mac> {
    ShimCore::new(ShimConfig::eth_dix(32))
}

fn oping() -> NameHash {
    hash_name(HashAlgo::Sha3_256, "oping")
}

fn drain<P: PeerAddr>(core: &mut ShimCore<P>) -> Vec<ShimEvent<P>> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

/// Carries every message `from` sends to `to` (broadcasts included);
/// returns the other events of `from`.
fn deliver(now: Instant, from: (Mac, &mut ShimCore<Mac>), to: (Mac, &mut ShimCore<Mac>)) -> Vec<ShimEvent<Mac>> {
    let mut rest = Vec::new();
    for e in drain(from.1) {
        match e {
            ShimEvent::Send { to: dest, msg } if dest == Dest::Broadcast || dest == Dest::Peer(to.0) => {
                to.1.receive(now, from.0, &msg.as_wire()).expect("the message is taken");
            }
            other => rest.push(other),
        }
    }
    rest
}

/// A knows where oping is (B answered its query), B has it registered.
fn known_pair(now: Instant) -> (ShimCore<Mac>, ShimCore<Mac>) {
    let (mut a, mut b) = (eth(), eth());
    b.register(oping());
    assert_eq!(a.query(now, oping()), None);
    assert!(deliver(now, (A, &mut a), (B, &mut b)).is_empty());
    assert!(deliver(now, (B, &mut b), (A, &mut a)).is_empty());
    assert_eq!(
        drain(&mut a),
        [ShimEvent::QueryDone {
            hash: oping(),
            known: true
        }]
    );
    (a, b)
}

#[test]
fn a_name_query_is_broadcast_answered_by_the_member_that_has_the_name_and_cached() {
    let t = Instant::now();
    let (mut a, mut b) = (eth(), eth());
    b.register(oping());
    assert_eq!(a.query(t, oping()), None);
    // Asking again while the query is out sends nothing more.
    assert_eq!(a.query(t, oping()), None);
    let sent = drain(&mut a);
    assert_eq!(
        sent,
        [ShimEvent::Send {
            to: Dest::Broadcast,
            msg: MgmtMsg::NameQuery { hash: oping() }
        }]
    );
    let ShimEvent::Send { msg, .. } = &sent[0] else {
        unreachable!()
    };
    b.receive(t, A, &msg.as_wire()).unwrap();
    assert_eq!(
        drain(&mut b),
        [ShimEvent::Send {
            to: Dest::Peer(A),
            msg: MgmtMsg::NameReply { hash: oping() }
        }]
    );
    a.receive(
        t,
        B,
        &ShimMgmt::NameReply {
            hash: oping().as_bytes(),
        },
    )
    .unwrap();
    assert_eq!(
        drain(&mut a),
        [ShimEvent::QueryDone {
            hash: oping(),
            known: true
        }]
    );
    assert_eq!(a.query(t, oping()), Some(true));
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn a_member_without_the_name_stays_silent_and_the_query_fails_after_two_seconds() {
    let t = Instant::now();
    let (mut a, mut b) = (eth(), eth());
    assert_eq!(a.query(t, oping()), None);
    assert!(deliver(t, (A, &mut a), (B, &mut b)).is_empty());
    assert!(drain(&mut b).is_empty());
    assert_eq!(a.poll_timeout(), Some(t + NAME_QUERY_TIMEOUT));
    a.handle_timeout(t + NAME_QUERY_TIMEOUT - Duration::from_millis(1));
    assert!(drain(&mut a).is_empty());
    a.handle_timeout(t + NAME_QUERY_TIMEOUT);
    assert_eq!(
        drain(&mut a),
        [ShimEvent::QueryDone {
            hash: oping(),
            known: false
        }]
    );
    // A reply that comes late is still cached.
    a.receive(
        t + Duration::from_secs(3),
        C,
        &ShimMgmt::NameReply {
            hash: oping().as_bytes(),
        },
    )
    .unwrap();
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.query(t, oping()), Some(true));
}

#[test]
fn a_flow_comes_up_on_both_sides_with_each_side_s_eid() {
    let t = Instant::now();
    let (mut a, mut b) = known_pair(t);
    let qos = QosSpec::VOICE;
    a.alloc(t, FlowId(1), oping(), qos, b"oap request".to_vec()).unwrap();
    assert!(deliver(t, (A, &mut a), (B, &mut b)).is_empty());
    let arrived = drain(&mut b);
    let [
        ShimEvent::RequestArrived {
            eid: b_eid,
            hash,
            qos: got_qos,
            peer,
            data,
        },
    ] = &arrived[..]
    else {
        panic!("{arrived:?}")
    };
    assert_eq!(
        (*hash, *got_qos, *peer, data.as_slice()),
        (oping(), qos, A, &b"oap request"[..])
    );
    b.arrived_as(*b_eid, FlowId(7));
    b.respond(FlowId(7), 0, b"oap response".to_vec());
    let events = deliver(t, (B, &mut b), (A, &mut a));
    let [
        ShimEvent::FlowUp {
            flow: FlowId(7),
            eid,
            peer: A,
            peer_eid: a_eid,
            ..
        },
    ] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(eid, b_eid);
    assert_eq!(
        drain(&mut a),
        [ShimEvent::FlowUp {
            flow: FlowId(1),
            eid: *a_eid,
            peer: B,
            peer_eid: *b_eid,
            data: b"oap response".to_vec()
        }]
    );
    assert!(a.config().eids.contains(a_eid) && b.config().eids.contains(b_eid));
    assert_eq!(a.poll_timeout(), None);
    // Deallocation is local and frees the EID.
    assert_eq!(a.dealloc(FlowId(1)), Some(*a_eid));
    assert_eq!(a.dealloc(FlowId(1)), None);
    assert_eq!(a.flow_count(), 0);
}

#[test]
fn a_refusal_reaches_the_requester_with_its_code_and_nothing_stays() {
    let t = Instant::now();
    let (mut a, mut b) = known_pair(t);
    a.alloc(t, FlowId(1), oping(), QosSpec::RAW, Vec::new()).unwrap();
    deliver(t, (A, &mut a), (B, &mut b));
    let [ShimEvent::RequestArrived { eid, .. }] = drain(&mut b)[..] else {
        panic!()
    };
    b.arrived_as(eid, FlowId(7));
    b.respond(FlowId(7), -libc::ECONNREFUSED, Vec::new());
    deliver(t, (B, &mut b), (A, &mut a));
    assert_eq!(
        drain(&mut a),
        [ShimEvent::AllocFailed {
            flow: FlowId(1),
            code: -libc::ECONNREFUSED
        }]
    );
    assert_eq!((a.flow_count(), b.flow_count()), (0, 0));

    // Refused by the IRM before it became a flow.
    a.alloc(t, FlowId(2), oping(), QosSpec::RAW, Vec::new()).unwrap();
    deliver(t, (A, &mut a), (B, &mut b));
    let [ShimEvent::RequestArrived { eid, .. }] = drain(&mut b)[..] else {
        panic!()
    };
    b.refuse_arrival(eid, -libc::EPERM);
    deliver(t, (B, &mut b), (A, &mut a));
    assert_eq!(
        drain(&mut a),
        [ShimEvent::AllocFailed {
            flow: FlowId(2),
            code: -libc::EPERM
        }]
    );
}

#[test]
fn a_request_nobody_answers_fails_after_the_flow_allocation_timeout() {
    let t = Instant::now();
    let (mut a, _) = known_pair(t);
    a.alloc(t, FlowId(1), oping(), QosSpec::RAW, Vec::new()).unwrap();
    drain(&mut a);
    assert_eq!(a.poll_timeout(), Some(t + FLOW_REPLY_TIMEOUT));
    a.handle_timeout(t + FLOW_REPLY_TIMEOUT);
    assert_eq!(
        drain(&mut a),
        [ShimEvent::AllocFailed {
            flow: FlowId(1),
            code: -libc::ETIMEDOUT
        }]
    );
    assert_eq!(a.flow_count(), 0);
}

#[test]
fn allocation_needs_a_known_peer() {
    let t = Instant::now();
    let mut a = eth();
    assert_eq!(
        a.alloc(t, FlowId(1), oping(), QosSpec::RAW, Vec::new()),
        Err(AllocError::Unreachable)
    );
    let (mut a, _) = known_pair(t);
    a.alloc(t, FlowId(1), oping(), QosSpec::RAW, Vec::new()).unwrap();
    assert_eq!(
        a.alloc(t, FlowId(1), oping(), QosSpec::RAW, Vec::new()),
        Err(AllocError::Duplicate(FlowId(1)))
    );
}

#[test]
fn messages_that_cannot_be_used_are_counted_and_change_nothing() {
    let t = Instant::now();
    let (mut a, mut b) = known_pair(t);
    a.alloc(t, FlowId(1), oping(), QosSpec::RAW, Vec::new()).unwrap();
    let ShimEvent::Send {
        msg: MgmtMsg::FlowReq { requester, .. },
        ..
    } = drain(&mut a)[0].clone()
    else {
        panic!()
    };
    let reply = |requester| ShimMgmt::FlowReply {
        requester,
        responder: 99,
        response: 0,
        data: &[],
    };
    // From a station that was not asked, and for no flow.
    assert_eq!(a.receive(t, C, &reply(requester)), Err(MgmtDrop::WrongPeer));
    assert_eq!(a.receive(t, B, &reply(requester + 1)), Err(MgmtDrop::UnknownEid));
    // Hashes of another length, names not here.
    let short = [0u8; 16];
    assert_eq!(
        b.receive(t, A, &ShimMgmt::NameQuery { hash: &short }),
        Err(MgmtDrop::BadHash)
    );
    let other = hash_name(HashAlgo::Sha3_256, "nobody");
    let req = ShimMgmt::FlowReq {
        requester: 70,
        qos: QosSpec::RAW,
        hash: other.as_bytes(),
        data: &[],
    };
    assert_eq!(b.receive(t, A, &req), Err(MgmtDrop::UnknownName));
    a.malformed();
    assert!(drain(&mut a).is_empty() && drain(&mut b).is_empty());
    assert_eq!(a.flow_count(), 1, "the pending flow is unharmed");
    let counted: Vec<_> = a.drops().iter().map(|(r, n)| (*r, *n)).collect();
    assert_eq!(
        counted,
        [
            (MgmtDrop::Malformed, 1),
            (MgmtDrop::UnknownEid, 1),
            (MgmtDrop::WrongPeer, 1)
        ]
    );
    // The real reply still brings it up.
    a.receive(t, B, &reply(requester)).unwrap();
    assert!(matches!(drain(&mut a)[..], [ShimEvent::FlowUp { peer_eid: 99, .. }]));
}

#[test]
fn eids_stay_in_the_shim_s_range_are_reused_and_run_out_with_an_error() {
    let t = Instant::now();
    let mut a: ShimCore<Mac> = ShimCore::new(ShimConfig::eth_llc(32));
    a.resolved(oping(), Some(B));
    let mut eids = std::collections::BTreeSet::new();
    for i in 0..126 {
        a.alloc(t, FlowId(i), oping(), QosSpec::RAW, Vec::new()).unwrap();
        let Some(ShimEvent::Send {
            msg: MgmtMsg::FlowReq { requester, .. },
            ..
        }) = a.poll_event()
        else {
            panic!()
        };
        assert!((2..=127).contains(&requester));
        assert!(eids.insert(requester));
    }
    assert_eq!(
        a.alloc(t, FlowId(1000), oping(), QosSpec::RAW, Vec::new()),
        Err(AllocError::NoEid)
    );
    let freed = a.dealloc(FlowId(5)).unwrap();
    a.alloc(t, FlowId(1000), oping(), QosSpec::RAW, Vec::new()).unwrap();
    assert!(matches!(
        a.poll_event(),
        Some(ShimEvent::Send { msg: MgmtMsg::FlowReq { requester, .. }, .. }) if requester == freed
    ));
}

#[test]
fn udp_resolves_names_outside_takes_requests_for_any_name_and_refuses_name_queries() {
    use std::net::SocketAddr;
    let t = Instant::now();
    let peer: SocketAddr = "10.9.0.2:3435".parse().unwrap();
    let md5 = hash_name(HashAlgo::Md5, "oping");
    let mut a: ShimCore<SocketAddr> = ShimCore::new(ShimConfig::udp());
    assert_eq!(a.query(t, md5), None);
    assert_eq!(drain(&mut a), [ShimEvent::Resolve { hash: md5 }]);
    a.resolved(md5, Some(peer));
    assert_eq!(drain(&mut a), [ShimEvent::QueryDone { hash: md5, known: true }]);
    let nobody = hash_name(HashAlgo::Md5, "nobody");
    assert_eq!(a.query(t, nobody), None);
    drain(&mut a);
    a.resolved(nobody, None);
    assert_eq!(
        drain(&mut a),
        [ShimEvent::QueryDone {
            hash: nobody,
            known: false
        }]
    );

    let mut b: ShimCore<SocketAddr> = ShimCore::new(ShimConfig::udp());
    let req = ShimMgmt::FlowReq {
        requester: 64,
        qos: QosSpec::RAW,
        hash: md5.as_bytes(),
        data: &[],
    };
    b.receive(t, peer, &req).unwrap();
    assert!(matches!(drain(&mut b)[..], [ShimEvent::RequestArrived { .. }]));
    assert_eq!(
        b.receive(t, peer, &ShimMgmt::NameQuery { hash: md5.as_bytes() }),
        Err(MgmtDrop::Unexpected)
    );
}
