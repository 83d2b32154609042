//! The C prototype's unicast layer as a conformance test: the control
//! messages two C nodes exchanged (`dataplane/wire/tests/captures/
//! c023-unicast-control.pcap`: A enrols with B over eth-dix, connects
//! management and data transfer, allocates flows to B's oping), fed to
//! o7s's sans-IO cores in order. Each is accepted, and where o7s plays a
//! C node it answers with the message that node sent: the same octets
//! where nothing random or clock-bound is in it, else the same fields.
//!
//! ```text
//!  A (enrollee, client, address 0x361a66f1)      B (member, server, 0xa10ee46e)
//!  CACEP Enrollment / Management / Data Transfer ─► o7s cacep::accept  == B's answers
//!  OEP request ───────────────────────────────────► o7s enroll::answer == B's response
//!  o7s Enrollee ◄─ B's response; its ack ──────────────────────────────== A's ack
//!  LSMs ──────────────────────────────────────────► o7s Lsdb as B: B's LSMs
//!  DHT FIND_NODE_REQ (bootstrap), STORE ──────────► o7s Dht as B: B's FIND_NODE_RSP, STORE
//!  FA FLOW_REQ ───────────────────────────────────► o7s FaCore as B: B's FLOW_REPLY, FLOW_UPDATE
//! ```
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::path::PathBuf;
use std::time::Instant;

use o7s_control::ipcp::unicast::cacep::{self, Component};
use o7s_control::ipcp::unicast::dht::{Dht, DhtConfig, DhtEvent};
use o7s_control::ipcp::unicast::enroll::{self, Enrollee, LayerConfig};
use o7s_control::ipcp::unicast::fa::{FIRST_DESCRIPTOR, FaCore, FaEvent};
use o7s_control::ipcp::unicast::lsr::{Lsdb, LsrEvent, LsrTimers};
use o7s_control::ipcp_config::{IpcpType, UnicastConfig};
use o7s_control::irm::{FlowId, oap};
use o7s_wire::dix;
use o7s_wire::dt::{DtHeader, DtLayout};
use o7s_wire::fa::{FaCode, FaMessage, FaRepr};
use o7s_wire::hash::{HashAlgo, hash_name};
use o7s_wire::lsm::{Lsm, LsmRepr};
use o7s_wire::proto::{self, dht as pb, enroll::EnrollRespMsg};

const A: u64 = 0x361a_66f1;
const B: u64 = 0xa10e_e46e;
/// The eth-dix EIDs of the N-1 flows: enrolment then management on 64,
/// data transfer on 65.
const MGMT_FLOW: u16 = 64;
const DT_FLOW: u16 = 65;

/// One SDU on an N-1 flow, and who sent it.
#[derive(Debug, Clone)]
struct Sdu {
    from_a: bool,
    flow: u16,
    octets: Vec<u8>,
}

fn sdus() -> Vec<Sdu> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dataplane/wire/tests/captures/c023-unicast-control.pcap");
    let frames = o7s_netns::pcap::frames(&std::fs::read(path).expect("capture")).expect("pcap");
    let a_mac = dix::parse_frame(&frames[0]).expect("eth-dix").0.src_addr;
    frames
        .iter()
        .map(|f| {
            let (eth, hdr, payload) = dix::parse_frame(f).expect("every frame is eth-dix");
            Sdu {
                from_a: eth.src_addr == a_mac,
                flow: hdr.eid,
                octets: payload.to_vec(),
            }
        })
        .collect()
}

/// The DT packets on the data-transfer flow to component `eid`, from A or
/// B: (DT header's destination, the component's message).
fn dt_to(sdus: &[Sdu], from_a: bool, eid: u64) -> Vec<(u64, Vec<u8>)> {
    sdus.iter()
        .filter(|s| s.flow == DT_FLOW && s.from_a == from_a)
        .filter_map(|s| {
            let h = DtHeader::new_checked(&s.octets[..], DtLayout::DEFAULT).ok()?;
            (h.eid() == eid).then(|| (h.dst(), h.payload().to_vec()))
        })
        .collect()
}

/// The SDUs on the management flow (CACEP, OEP, LSMs) in order.
fn mgmt(sdus: &[Sdu], from_a: bool) -> Vec<Vec<u8>> {
    sdus.iter()
        .filter(|s| s.flow == MGMT_FLOW && s.from_a == from_a)
        .map(|s| s.octets.clone())
        .collect()
}

fn layer() -> LayerConfig {
    LayerConfig::unicast("uni", UnicastConfig::default())
}

#[test]
fn cacep_answers_are_b_s_octets_and_the_requests_a_s() {
    let all = sdus();
    let (a, b) = (mgmt(&all, true), mgmt(&all, false));
    let dt_cacep = |from_a| {
        all.iter()
            .find(|s| s.flow == DT_FLOW && s.from_a == from_a)
            .unwrap()
            .octets
            .clone()
    };
    let unicast = [Component::DataTransfer, Component::Management, Component::Enrollment];
    // Enrolment flow: A's request, B's answer; then the management flow.
    for (component, req, rsp) in [
        (Component::Enrollment, &a[0], &b[0]),
        (Component::Management, &a[3], &b[2]),
        (Component::DataTransfer, &dt_cacep(true), &dt_cacep(false)),
    ] {
        let own_a = if component == Component::Enrollment { 0 } else { A };
        assert_eq!(&cacep::request(component, own_a), req, "{component:?}: A's request");
        let acc = cacep::accept(req, &unicast, B).unwrap();
        assert_eq!(&acc.answer, rsp, "{component:?}: B's answer, octet for octet");
        assert_eq!(acc.to, Some((component, own_a)));
        assert_eq!(
            cacep::check_answer(component, rsp),
            Ok(if component == Component::Enrollment { 0 } else { B })
        );
    }
}

#[test]
fn enrolment_is_answered_with_b_s_response_and_acked_with_a_s_ack() {
    let all = sdus();
    let (a, b) = (mgmt(&all, true), mgmt(&all, false));
    let (req, c_resp, c_ack) = (&a[1], &b[1], &a[2]);
    let resp: EnrollRespMsg = proto::decode(c_resp).unwrap();
    let clock = i128::from(resp.t_sec) * 1_000_000_000 + i128::from(resp.t_nsec);
    let (ours, id) = enroll::answer(req, &layer(), B, clock).unwrap();
    assert_eq!(&ours, c_resp, "B's response, octet for octet (same clock)");

    let (enrollee, our_req) = Enrollee::new(id.clone().try_into().unwrap(), IpcpType::Unicast);
    assert_eq!(&our_req, req, "A's request");
    let got = enrollee.response(c_resp, clock).unwrap();
    assert_eq!(
        got.layer,
        LayerConfig { peer: B, ..layer() },
        "the layer, B as the DHT's peer"
    );
    assert_eq!(&enrollee.ack(), c_ack, "A's ack");
    enroll::check_ack(c_ack, &id).unwrap();
}

fn lsm_events(db: &mut Lsdb) -> Vec<LsmRepr> {
    std::iter::from_fn(|| db.poll_event())
        .filter_map(|e| match e {
            LsrEvent::Send { lsm, .. } => Some(lsm),
            LsrEvent::Recompute => None,
        })
        .collect()
}

fn lsm(octets: &[u8]) -> LsmRepr {
    LsmRepr::parse(&Lsm::new_checked(octets).unwrap()).unwrap()
}

#[test]
fn link_state_takes_a_s_announcements_and_announces_b_s_as_b_did() {
    let all = sdus();
    let lsms = |from_a| -> Vec<Vec<u8>> { mgmt(&all, from_a).into_iter().filter(|m| m.len() == 24).collect() };
    let (a, b) = (lsms(true), lsms(false));
    let t = Instant::now();
    let mut db = Lsdb::new(t, B, LsrTimers::default());
    db.mgmt_up(1);
    db.dt_up(t, A);
    let emit = |l: LsmRepr| {
        let mut buf = [0u8; 24];
        l.emit(&mut Lsm::new_unchecked(&mut buf[..]));
        buf.to_vec()
    };
    assert_eq!(
        lsm_events(&mut db).into_iter().map(emit).collect::<Vec<_>>(),
        [b[0].clone()]
    );
    for m in &a {
        db.receive_sdu(t, 1, m).unwrap();
    }
    assert!(
        lsm_events(&mut db).is_empty(),
        "nothing to forward: A is the only neighbour"
    );
    let graph = db.graph();
    assert_eq!(graph.neighbours(B).collect::<Vec<_>>(), [A], "A → B and B → A: a link");
    // Every update: the own adjacency with the next seqno, as B sent them.
    for (n, c) in b.iter().enumerate().skip(1) {
        let at = t + LsrTimers::default().t_update * n as u32;
        db.handle_timeout(at);
        assert_eq!(
            lsm_events(&mut db).into_iter().map(emit).collect::<Vec<_>>(),
            std::slice::from_ref(c),
            "update {n}"
        );
        assert_eq!(lsm(c).seqno, n as u64);
    }
}

fn dht_sent(d: &mut Dht) -> Vec<(u64, pb::DhtMsg)> {
    std::iter::from_fn(|| d.poll_event())
        .filter_map(|e| match e {
            DhtEvent::Send { to, msg } => Some((to, proto::decode(&msg).unwrap())),
            DhtEvent::Resolved { .. } => None,
        })
        .collect()
}

#[test]
fn the_dht_answers_a_s_bootstrap_and_stores_as_b_did() {
    let all = sdus();
    let [(to_b, find)] = &dt_to(&all, true, 1)[..1] else {
        panic!()
    };
    assert_eq!(*to_b, B);
    let from_b = dt_to(&all, false, 1);
    let c_rsp: pb::DhtMsg = proto::decode(&from_b[0].1).unwrap();
    let c_store: pb::DhtMsg = proto::decode(&from_b[1].1).unwrap();
    assert_eq!((c_rsp.code, c_store.code), (2, 0));
    let store = c_store.store.as_ref().unwrap();
    let unix = u64::from(store.exp) - 86_400;

    let t = Instant::now();
    let mut b = Dht::new(DhtConfig::default(), B, B, t, unix, 1).with_id(c_rsp.src.id.clone());
    b.start(t);
    b.receive(t, find).unwrap();
    let out = dht_sent(&mut b);
    assert_eq!(
        out,
        [(A, c_rsp.clone())],
        "B's FIND_NODE_RSP: A's cookie and key, A as the contact"
    );

    // B registers oping: a STORE to A with B's address, expiring in a day.
    assert_eq!(store.key, hash_name(HashAlgo::Sha3_256, "oping").as_ref());
    b.register(t, &store.key);
    let out = dht_sent(&mut b);
    assert!(out.contains(&(A, c_store.clone())), "B's STORE among {out:?}");
    // A's STORE of the same value (its replica) is taken.
    let a_store = dt_to(&all, true, 1).last().unwrap().1.clone();
    b.receive(t, &a_store).unwrap();
    assert!(b.drops().is_empty(), "{:?}", b.drops());
}

#[test]
fn the_flow_allocator_answers_a_s_requests_and_updates_as_b_did() {
    let all = sdus();
    let reqs = dt_to(&all, true, 0);
    let c_out = dt_to(&all, false, 0);
    let parse = |m: &[u8]| -> (FaCode, u64, u64, i32, u16, Vec<u8>) {
        let r = FaRepr::parse(&FaMessage::new_checked(m).unwrap(), 32).unwrap();
        (r.code, r.r_eid, r.s_eid, r.response, r.ece, r.data.to_vec())
    };
    let t = Instant::now();
    let mut b = FaCore::new(B, 32, 7);
    for (n, (dst, req)) in reqs.iter().enumerate() {
        assert_eq!(*dst, B);
        b.receive(t, req).unwrap();
        let ev: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
        let [
            FaEvent::RequestArrived {
                eid, hash, peer, data, ..
            },
        ] = &ev[..]
        else {
            panic!("{ev:?}")
        };
        assert_eq!((*hash, *peer), (hash_name(HashAlgo::Sha3_256, "oping"), A));
        let flow = FlowId(n as u32 + 1);
        b.arrived_as(*eid, flow);
        let response = oap::respond(data, 1).unwrap();
        b.respond(flow, 0, &response);
        let ev: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
        let [FaEvent::Send { to, msg }, FaEvent::FlowUp { .. }] = &ev[..] else {
            panic!("{ev:?}")
        };
        assert_eq!(*to, A);
        let (code, r_eid, s_eid, resp, _, ours) = parse(msg);
        let (c_code, c_r_eid, c_s_eid, c_resp, _, theirs) = parse(&c_out[n].1);
        assert_eq!(
            (code, r_eid, resp),
            (c_code, c_r_eid, c_resp),
            "B's FLOW_REPLY {n}: to A's EID, accepted"
        );
        assert_eq!(msg.len(), c_out[n].1.len(), "the layout of B's reply");
        assert_eq!(msg[24..58], c_out[n].1[24..58], "zero QoS and ece, as C writes them");
        assert!(s_eid as u32 >= FIRST_DESCRIPTOR && c_s_eid as u32 >= FIRST_DESCRIPTOR);
        assert_eq!(ours.len(), theirs.len());
        let FaRepr { data: c_request, .. } = FaRepr::parse(&FaMessage::new_checked(&req[..]).unwrap(), 32).unwrap();
        oap::check_response(c_request, &ours).expect("an OAP response A accepts");
    }
    // B's FLOW_UPDATE on the second flow: the same octets from o7s.
    let update = &c_out.last().unwrap().1;
    let (code, r_eid, _, _, ece, _) = parse(update);
    assert_eq!(code, FaCode::FlowUpdate);
    b.update(FlowId(2), ece);
    let ev: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
    assert_eq!(
        ev,
        [FaEvent::Send {
            to: A,
            msg: update.clone()
        }],
        "to A's EID {r_eid:#x}"
    );
}
