//! The shim IPCPs answer the C prototype's node A as its node B did: fed
//! A's name query and flow request from the captures of two C nodes
//! (`dataplane/wire/tests/captures`), o7s's shim core and OAP reply with a
//! name reply and a flow reply that A accepts — the same fields, the same
//! hash, the OAP response over the request's SHA-384 — octet for octet
//! but for the OAP timestamp.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Instant;

use o7s_control::ipcp::shim::{Dest, MgmtMsg, ShimConfig, ShimCore, ShimEvent};
use o7s_control::irm::{FlowId, oap};
use o7s_wire::dix;
use o7s_wire::eth::{EthRepr, MacAddr};
use o7s_wire::hash::{HashAlgo, hash_name};
use o7s_wire::shim_mgmt::{Framing, ShimMgmt};

fn capture(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../dataplane/wire/tests/captures")
        .join(name);
    o7s_netns::pcap::frames(&std::fs::read(&path).expect("capture")).expect("a pcap file")
}

/// The OAP timestamp's octets in a flow message's data: the only field
/// that differs between two correct answers.
const OAP_TIMESTAMP: std::ops::Range<usize> = 16..24;

/// A's view of both replies: everything equal once the timestamps are.
fn same_but_timestamp(ours: &ShimMgmt<'_>, theirs: &ShimMgmt<'_>) {
    match (ours, theirs) {
        (
            ShimMgmt::FlowReply {
                requester,
                responder,
                response,
                data,
            },
            ShimMgmt::FlowReply {
                requester: r2,
                responder: s2,
                response: p2,
                data: d2,
            },
        ) => {
            assert_eq!((requester, responder, response), (r2, s2, p2));
            assert_eq!(data.len(), d2.len());
            let mut ours = data.to_vec();
            ours[OAP_TIMESTAMP].copy_from_slice(&d2[OAP_TIMESTAMP]);
            assert_eq!(ours, *d2, "the OAP response, timestamp aside");
        }
        other => panic!("{other:?}"),
    }
}

/// Our flow reply, emitted by `framing`, is `c_raw` octet for octet once
/// its OAP timestamp is C's.
fn same_octets_but_timestamp(framing: Framing, ours: &ShimMgmt<'_>, c_raw: &[u8]) {
    let mut buf = vec![0u8; 4096];
    let n = framing.emit(ours, &mut buf).expect("our reply emits");
    let at = framing.fixed_len();
    let ts = at + OAP_TIMESTAMP.start..at + OAP_TIMESTAMP.end;
    buf[ts.clone()].copy_from_slice(&c_raw[ts]);
    assert_eq!(buf[..n], c_raw[..]);
}

/// The one message `core` sends, with its destination; a flow it brings
/// up on the way must be the one given.
fn sent<A: o7s_control::ipcp::shim::PeerAddr>(core: &mut ShimCore<A>, up: Option<FlowId>) -> (Dest<A>, MgmtMsg) {
    let events: Vec<_> = std::iter::from_fn(|| core.poll_event()).collect();
    match (&events[..], up) {
        ([ShimEvent::Send { to, msg }], None) => (*to, msg.clone()),
        ([ShimEvent::FlowUp { flow, .. }, ShimEvent::Send { to, msg }], Some(f)) if *flow == f => (*to, msg.clone()),
        (other, _) => panic!("expected one message, got {other:?}"),
    }
}

#[test]
fn an_o7s_eth_dix_member_answers_a_c_node_as_the_c_peer_did() {
    let mgmt: Vec<(EthRepr, Vec<u8>)> = capture("c023-eth-dix-oping.pcap")
        .iter()
        .filter_map(|f| {
            let (eth, hdr, payload) = dix::parse_frame(f).ok()?;
            (hdr.eid == dix::MGMT_EID).then(|| (eth, payload.to_vec()))
        })
        .collect();
    fn parse(p: &[u8]) -> ShimMgmt<'_> {
        Framing::EthDix.parse(p, 32).expect("C's management message parses")
    }
    let find = |pred: &dyn Fn(&ShimMgmt<'_>) -> bool| {
        mgmt.iter()
            .find(|(_, p)| pred(&parse(p)))
            .cloned()
            .expect("the capture holds it")
    };
    let (query_eth, query) = find(&|m| matches!(m, ShimMgmt::NameQuery { .. }));
    let (reply_eth, reply) = find(&|m| matches!(m, ShimMgmt::NameReply { .. }));
    let (req_eth, req) = find(&|m| matches!(m, ShimMgmt::FlowReq { .. }));
    let (_, flow_reply) = find(&|m| matches!(m, ShimMgmt::FlowReply { .. }));
    let a: MacAddr = query_eth.src_addr;
    let b: MacAddr = reply_eth.src_addr;
    assert_eq!(query_eth.dst_addr, MacAddr::BROADCAST);

    let t = Instant::now();
    let mut node_b: ShimCore<MacAddr> = ShimCore::new(ShimConfig::eth_dix(32));
    node_b.register(hash_name(HashAlgo::Sha3_256, "oping"));

    // The name query: our reply frame is C's.
    node_b.receive(t, a, &parse(&query)).unwrap();
    let (to, msg) = sent(&mut node_b, None);
    assert_eq!(to, Dest::Peer(a));
    let eth = EthRepr {
        dst_addr: a,
        src_addr: b,
        ethertype: reply_eth.ethertype,
    };
    let mut frame = vec![0u8; 1514];
    let len = dix::emit_mgmt_frame(&mut frame, &eth, &msg.as_wire()).unwrap();
    assert_eq!(
        frame[dix::FRAME_HEADER_LEN..len],
        reply[..],
        "C's reply, octet for octet"
    );

    // The flow request: handed up with C's QoS, hash and OAP request;
    // answered with our EID and an OAP response over it.
    assert_eq!(req_eth.src_addr, a);
    node_b.receive(t, a, &parse(&req)).unwrap();
    let events: Vec<_> = std::iter::from_fn(|| node_b.poll_event()).collect();
    let [ShimEvent::RequestArrived { eid, data, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    let ShimMgmt::FlowReq { data: c_request, .. } = parse(&req) else {
        unreachable!()
    };
    assert_eq!(data.as_slice(), c_request);
    let response = oap::respond(data, 1).unwrap();
    node_b.arrived_as(*eid, FlowId(1));
    node_b.respond(FlowId(1), 0, response.clone());
    let (to, msg) = sent(&mut node_b, Some(FlowId(1)));
    assert_eq!(to, Dest::Peer(a));
    same_but_timestamp(&msg.as_wire(), &parse(&flow_reply));
    same_octets_but_timestamp(Framing::EthDix, &msg.as_wire(), &flow_reply);
    // What C's node A checks: the response answers its request.
    oap::check_response(c_request, &response).unwrap();
}

/// The UDP payload of an IPv4 frame, and its source.
fn udp4(frame: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let ip = frame.get(14..)?;
    if frame.get(12..14)? != [0x08, 0x00] || ip.first()? >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let udp = ip.get(ihl..)?;
    let port = u16::from_be_bytes([udp[0], udp[1]]);
    let len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    Some((SocketAddr::from((src, port)), udp.get(8..len)?))
}

#[test]
fn an_o7s_udp4_member_answers_a_c_node_as_the_c_peer_did() {
    let frames = capture("c023-udp4-oping.pcap");
    let mgmt: Vec<(SocketAddr, Vec<u8>)> = frames
        .iter()
        .filter_map(|f| udp4(f))
        .filter(|(_, p)| p.get(..4) == Some(&[0, 0, 0, 0]))
        .map(|(from, p)| (from, p.to_vec()))
        .collect();
    fn parse(p: &[u8]) -> ShimMgmt<'_> {
        Framing::Udp.parse(p, 16).expect("C's management datagram parses")
    }
    let (a, req) = mgmt
        .iter()
        .find(|(_, p)| matches!(parse(p), ShimMgmt::FlowReq { .. }))
        .cloned()
        .unwrap();
    let (_, c_reply) = mgmt
        .iter()
        .find(|(_, p)| matches!(parse(p), ShimMgmt::FlowReply { .. }))
        .cloned()
        .unwrap();

    let t = Instant::now();
    let mut node_b: ShimCore<SocketAddr> = ShimCore::new(ShimConfig::udp());
    node_b.receive(t, a, &parse(&req)).unwrap();
    let events: Vec<_> = std::iter::from_fn(|| node_b.poll_event()).collect();
    let [ShimEvent::RequestArrived { eid, hash, data, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(*hash, hash_name(HashAlgo::Md5, "oping"));
    let response = oap::respond(data, 1).unwrap();
    node_b.arrived_as(*eid, FlowId(1));
    node_b.respond(FlowId(1), 0, response);
    let (to, msg) = sent(&mut node_b, Some(FlowId(1)));
    assert_eq!(to, Dest::Peer(a), "the reply goes where the request came from");
    same_but_timestamp(&msg.as_wire(), &parse(&c_reply));
    same_octets_but_timestamp(Framing::Udp, &msg.as_wire(), &c_reply);
}
