//! The shim IPCPs on a real link: what they put on it, and what they make
//! of what arrives.
//!
//! ```text
//!   two o7s systems            [a: irmd]──[bridge]──[b: irmd]  every frame of a's and b's, captured at
//!   (eth-dix, eth-llc, udp4)              capture               the bridge, parses as PROTOCOL.md lays it out
//!
//!   an o7s system and a        [o7s: irmd, oping -l]──veth──[peer: this test, a packet socket]
//!   peer speaking C's frames    C's name query, FLOW_REQ and pings  ──►  answered as C's node B did
//!                               hostile frames                      ──►  dropped, counted by reason,
//!                                                                        the flow in progress unharmed
//! ```
//!
//! The peer's frames are those of the C prototype's node A
//! (`dataplane/wire/tests/captures`), with the link's MAC addresses and
//! the EID our IPCP chose written in. IPv6 is off in every namespace, so
//! that nothing but the o7s IPCPs speaks on the link.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Irmd, eventually};
use o7s_control::ipcp::eth::EthShim;
use o7s_control::irm::oap;
use o7s_netns::{KillOnDrop, Netns, PacketSocket, require_root, veth, workspace_bin};
use o7s_wire::dix;
use o7s_wire::eth::{ETHERTYPE_O7S, EthRepr, MacAddr};
use o7s_wire::hash::{HashAlgo, hash_name};
use o7s_wire::llc::{self, LlcFrame, LlcRepr};
use o7s_wire::shim_mgmt::{Framing, ShimMgmt};
use o7s_wire::udp::{self, UdpDatagram};

/// Every frame, whatever its Ethertype.
const ETH_P_ALL: u16 = 0x0003;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
/// Octets of an eth-dix layer's name hash (SHA3-256, the default).
const DIX_HASH_LEN: usize = 32;

fn oping() -> PathBuf {
    workspace_bin("o7s-oping", "oping").expect("build oping")
}

fn capture(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../dataplane/wire/tests/captures")
        .join(name);
    o7s_netns::pcap::frames(&std::fs::read(&path).expect("capture")).expect("a pcap file")
}

/// A namespace of its own with IPv6 off (no router solicitations or MLD
/// reports on the link).
fn quiet_netns(role: &str) -> Netns {
    let ns = Netns::new(role).expect("namespace");
    for key in [
        "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1",
    ] {
        ns.run("sysctl", &["-qw", key]).expect("sysctl");
    }
    ns
}

/// An irmd in `ns`. Declared before its namespace in a struct, so that it
/// stops first.
fn irmd_in(test: &str, ns: &Netns, args: &[&str]) -> Irmd {
    Irmd::start_wrapped(test, args, &["ip", "netns", "exec", ns.name()])
}

/// Every frame the socket holds, waiting `quiet` for the last.
fn drain(sock: &PacketSocket, quiet: Duration) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Some(n) = sock.recv_timeout(&mut buf, quiet).expect("capture") {
        frames.push(buf[..n].to_vec());
    }
    frames
}

/// A counter of `irm ipcp stats name <ipcp>`; 0 when not listed.
fn counter(irmd: &Irmd, ipcp: &str, name: &str) -> u64 {
    let table = irmd.irm_ok(&["ipcp", "stats", "name", ipcp]);
    table
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [i, c, v] if i == ipcp && c == name => v.parse().ok(),
            _ => None,
        })
        .next()
        .unwrap_or(0)
}

/// Runs oping against `name` until one ping comes back (the first name
/// query may miss irmd's wait), then with `args`; returns its output.
fn ping(irmd: &Irmd, name: &str, args: &[&str]) -> String {
    let oping = oping();
    let reached = eventually(Duration::from_secs(10), || {
        let out = irmd
            .command(&oping)
            .args(["-n", name, "-c", "1"])
            .output()
            .expect("run oping");
        (out.status.success()).then_some(())
    });
    assert!(reached.is_some(), "no ping came back\nirmd log:\n{}", irmd.log_text());
    let out = irmd
        .command(&oping)
        .args(["-n", name])
        .args(args)
        .output()
        .expect("run oping");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains(" 0% packet loss"),
        "oping {args:?}: {stdout}\n{}\nirmd log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        irmd.log_text()
    );
    stdout
}

// ----- two o7s systems, and what they put on the link ------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shim {
    EthDix,
    EthLlc,
    Udp4,
}

/// What the capture held, by kind, for the checks at the end.
#[derive(Debug, Default)]
struct Seen {
    mgmt: Vec<&'static str>,
    data: u64,
    /// EIDs (or SAPs) the flow messages named.
    eids: BTreeSet<u32>,
    /// EIDs data frames went to.
    data_eids: BTreeSet<u32>,
}

impl Seen {
    fn mgmt(&mut self, msg: &ShimMgmt<'_>) {
        self.mgmt.push(msg.name());
        match *msg {
            ShimMgmt::FlowReq { requester, .. } => {
                self.eids.insert(requester);
            }
            ShimMgmt::FlowReply {
                requester, responder, ..
            } => {
                self.eids.extend([requester, responder]);
            }
            ShimMgmt::NameQuery { .. } | ShimMgmt::NameReply { .. } => {}
        }
    }

    fn data(&mut self, eid: u32, sdu: &[u8]) {
        // An oping message: 24 octets of header at least, type 0 or 1.
        assert!(sdu.len() >= 24, "an oping message of {} octets", sdu.len());
        assert!(
            sdu[..4] == [0, 0, 0, 0] || sdu[..4] == [0, 0, 0, 1],
            "{:02x?}",
            &sdu[..4]
        );
        self.data += 1;
        self.data_eids.insert(eid);
    }
}

/// An eth-dix frame, as PROTOCOL.md §2 has it.
fn check_dix(frame: &[u8], seen: &mut Seen) {
    let (eth, hdr, payload) = dix::parse_frame(frame).unwrap_or_else(|e| panic!("eth-dix frame: {e}: {frame:02x?}"));
    assert_eq!(eth.ethertype, ETHERTYPE_O7S);
    assert_eq!(
        usize::from(hdr.payload_len),
        payload.len(),
        "the length field counts the payload"
    );
    if hdr.eid == dix::MGMT_EID {
        let (src, msg) = EthShim::Dix {
            ethertype: ETHERTYPE_O7S,
        }
        .parse_mgmt(frame, DIX_HASH_LEN)
        .unwrap_or_else(|e| panic!("management frame: {e}: {frame:02x?}"));
        assert_eq!(src, eth.src_addr);
        assert_eq!(
            eth.dst_addr.is_broadcast(),
            matches!(msg, ShimMgmt::NameQuery { .. }),
            "only name queries are broadcast"
        );
        seen.mgmt(&msg);
    } else {
        assert!(!eth.dst_addr.is_broadcast(), "data goes to one peer");
        seen.data(u32::from(hdr.eid), payload);
    }
}

/// An eth-llc frame, as PROTOCOL.md §3 has it.
fn check_llc(frame: &[u8], seen: &mut Seen) {
    let view = LlcFrame::new_checked(frame).unwrap_or_else(|e| panic!("eth-llc frame: {e}: {frame:02x?}"));
    let repr = LlcRepr::parse(&view).unwrap_or_else(|e| panic!("eth-llc header: {e}: {frame:02x?}"));
    assert_eq!(repr.control, llc::CONTROL_UI);
    let payload = &frame[llc::HEADER_LEN..repr.total_len()];
    assert!(
        frame[repr.total_len()..].iter().all(|&b| b == 0),
        "nothing but padding after the length"
    );
    if repr.dsap == llc::MGMT_SAP || repr.ssap == llc::MGMT_SAP {
        let (_, msg) = EthShim::Llc
            .parse_mgmt(frame, DIX_HASH_LEN)
            .unwrap_or_else(|e| panic!("management frame: {e}: {frame:02x?}"));
        seen.mgmt(&msg);
    } else {
        assert!(
            (2..=127).contains(&repr.dsap) && (2..=127).contains(&repr.ssap),
            "{repr}"
        );
        seen.data(u32::from(repr.dsap), payload);
        seen.data_eids.insert(u32::from(repr.ssap));
    }
}

/// An IPv4 frame carrying a UDP shim datagram between the layer's ports,
/// as PROTOCOL.md §4 has it.
fn check_udp4(frame: &[u8], seen: &mut Seen) {
    let ip = &frame[14..];
    assert_eq!(ip[0] >> 4, 4, "IPv4");
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    assert!(ihl >= 20 && ip.len() >= ihl + 8, "{frame:02x?}");
    assert_eq!(
        usize::from(u16::from_be_bytes([ip[2], ip[3]])),
        ip.len(),
        "IPv4 total length"
    );
    assert_eq!(ip[9], 17, "UDP");
    let sum = ip[..ihl]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let folded = (sum & 0xffff) + (sum >> 16);
    assert_eq!((folded & 0xffff) + (folded >> 16), 0xffff, "IPv4 header checksum");
    let u = &ip[ihl..];
    let (sport, dport) = (u16::from_be_bytes([u[0], u[1]]), u16::from_be_bytes([u[2], u[3]]));
    assert_eq!(
        (sport, dport),
        (udp::DEFAULT_PORT, udp::DEFAULT_PORT),
        "the layer's port, both ends"
    );
    assert_eq!(usize::from(u16::from_be_bytes([u[4], u[5]])), u.len(), "UDP length");
    let datagram = UdpDatagram::new_checked(&u[8..]).expect("the EID word");
    if datagram.eid() == udp::MGMT_EID {
        let msg = Framing::Udp
            .parse(&u[8..], udp::HASH_LEN)
            .unwrap_or_else(|e| panic!("management datagram: {e}: {frame:02x?}"));
        seen.mgmt(&msg);
    } else {
        seen.data(datagram.eid(), datagram.payload());
    }
}

/// Two systems on one link and a layer of `shim` between them; b serves
/// oping, a pings it (a thousand pings of 64 octets and twenty of 1400)
/// while the link is captured. Every frame either system sent
/// parses as PROTOCOL.md lays it out.
fn two_systems_frames_parse(test: &str, shim: Shim) {
    if !require_root(test) {
        return;
    }
    // a ── bridge ── b: frames the systems send on AF_XDP bypass packet
    // sockets on their own interfaces, and those XDP steers to AF_XDP
    // never reach one; the bridge's port towards a sees every frame of
    // both directions.
    let (a_ns, br_ns, b_ns) = (quiet_netns("lka"), quiet_netns("lkw"), quiet_netns("lkb"));
    veth((&a_ns, "ab0"), (&br_ns, "wa0")).expect("veth");
    veth((&br_ns, "wb0"), (&b_ns, "ba0")).expect("veth");
    for cmd in [
        &["link", "add", "br0", "type", "bridge"][..],
        &["link", "set", "wa0", "master", "br0"],
        &["link", "set", "wb0", "master", "br0"],
        &["link", "set", "br0", "up"],
    ] {
        br_ns.run("ip", cmd).expect("bridge");
    }
    let sock = br_ns
        .enter(|| PacketSocket::bind("wa0", ETH_P_ALL))
        .expect("namespace")
        .expect("capture socket");
    let dir = std::env::temp_dir().join(format!("o7s-{test}-{}-conf", std::process::id()));
    std::fs::create_dir_all(&dir).expect("config directory");
    let (layer_type, layer) = match shim {
        Shim::EthDix => ("eth-dix", "eth"),
        Shim::EthLlc => ("eth-llc", "eth"),
        Shim::Udp4 => ("udp4", "udp"),
    };
    let start = |ns: &Netns, me: &str, dev: &str, ip: &str, other: &str| {
        if shim == Shim::Udp4 {
            ns.run("ip", &["addr", "add", &format!("{ip}/24"), "dev", dev])
                .expect("address");
            let conf = dir.join(format!("{me}.toml"));
            std::fs::write(
                &conf,
                format!(
                    "[udp4.\"udp.{me}\"]\nbootstrap = \"{layer}\"\nip = \"{ip}\"\nhosts = {{ oping = \"{other}\" }}\n"
                ),
            )
            .expect("irmd file");
            irmd_in(
                &format!("{test}-{me}"),
                ns,
                &["--config", conf.to_str().expect("utf-8")],
            )
        } else {
            let irmd = irmd_in(&format!("{test}-{me}"), ns, &[]);
            irmd.irm_ok(&[
                "ipcp",
                "bootstrap",
                "type",
                layer_type,
                "name",
                &format!("{layer_type}.{me}"),
                "layer",
                layer,
                "dev",
                dev,
            ]);
            irmd
        }
    };
    let a = start(&a_ns, "a", "ab0", "10.79.0.1", "10.79.0.2");
    let b = start(&b_ns, "b", "ba0", "10.79.0.2", "10.79.0.1");
    if shim != Shim::Udp4 {
        for irmd in [&a, &b] {
            let log = irmd.log_text();
            assert!(
                log.lines()
                    .any(|l| l.contains("eth port open") && l.contains("backend=AF_XDP")),
                "the Ethernet shims run on AF_XDP with XDP steering:\n{log}"
            );
        }
    }
    b.irm_ok(&["bind", "program", oping().to_str().expect("utf-8"), "name", "oping"]);
    b.irm_ok(&["name", "register", "oping", "layer", layer]);
    let _server = KillOnDrop::spawn(
        b.command(&oping())
            .args(["-l", "-Q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("oping server");

    ping(&a, "oping", &["-c", "1000", "-i", "0", "-Q"]);
    ping(&a, "oping", &["-c", "20", "-i", "0", "-s", "1400", "-Q"]);

    let (a_mac, b_mac): (MacAddr, MacAddr) = (
        a_ns.mac("ab0").expect("mac").parse().expect("a MAC"),
        b_ns.mac("ba0").expect("mac").parse().expect("a MAC"),
    );
    let frames = drain(&sock, Duration::from_millis(300));
    let mut seen = Seen::default();
    let mut others = 0;
    for frame in &frames {
        let eth = EthRepr::parse(&o7s_wire::eth::EthFrame::new_checked(&frame[..]).expect("Ethernet"))
            .expect("Ethernet header");
        if ![a_mac, b_mac].contains(&eth.src_addr) {
            // The bridge's own (IGMP of its multicast snooping).
            continue;
        }
        match (shim, eth.ethertype) {
            (Shim::EthDix, ETHERTYPE_O7S) => check_dix(frame, &mut seen),
            (Shim::EthLlc, t) if t < 0x0600 => check_llc(frame, &mut seen),
            (Shim::Udp4, ETHERTYPE_IPV4) => check_udp4(frame, &mut seen),
            (Shim::Udp4, ETHERTYPE_ARP) => others += 1,
            _ => panic!("a frame no {shim:?} layer sends: {eth:?}: {frame:02x?}"),
        }
    }
    eprintln!(
        "{shim:?}: {} frames captured: {} data, management {:?}, {others} ARP",
        frames.len(),
        seen.data,
        seen.mgmt.iter().collect::<BTreeSet<_>>()
    );
    // Both directions of every ping and the flows set up for them.
    assert!(seen.data >= 2 * 1020, "{} data frames", seen.data);
    for kind in ["FLOW_REQ", "FLOW_REPLY"] {
        assert!(seen.mgmt.contains(&kind), "a {kind} among {:?}", seen.mgmt);
    }
    if shim != Shim::Udp4 {
        assert!(
            seen.mgmt.iter().any(|m| m.contains("QUERY"))
                && seen.mgmt.iter().any(|m| m.contains("REPLY") && *m != "FLOW_REPLY"),
            "a name query and its reply among {:?}",
            seen.mgmt
        );
    }
    assert!(
        seen.data_eids.is_subset(&seen.eids),
        "data only on EIDs the flow messages gave: {:?} ⊄ {:?}",
        seen.data_eids,
        seen.eids
    );
    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eth_dix_frames_of_two_o7s_systems_on_the_link_parse_as_protocol_md_has_them() {
    two_systems_frames_parse("lnk-dix", Shim::EthDix);
}

#[test]
fn eth_llc_frames_of_two_o7s_systems_on_the_link_parse_as_protocol_md_has_them() {
    two_systems_frames_parse("lnk-llc", Shim::EthLlc);
}

#[test]
fn udp4_datagrams_of_two_o7s_systems_on_the_link_parse_as_protocol_md_has_them() {
    two_systems_frames_parse("lnk-udp", Shim::Udp4);
}

// ----- an o7s system and a peer that speaks C's frames -----------------------

/// An o7s system with an eth-dix layer and an oping server, and a peer
/// on the other end of its link that sends and receives raw frames.
struct DixRig {
    irmd: Irmd,
    server: KillOnDrop,
    sock: PacketSocket,
    o7s_mac: MacAddr,
    peer_mac: MacAddr,
    _ns: (Netns, Netns),
}

/// The C node A's frames of the capture: its name query, flow request and
/// first echo request, and node B's name reply and flow reply.
struct CNodeA {
    query: Vec<u8>,
    name_reply: Vec<u8>,
    flow_req: Vec<u8>,
    flow_reply: Vec<u8>,
    /// An oping echo request A sent on the flow (the SDU).
    ping: Vec<u8>,
}

impl CNodeA {
    fn from_capture() -> CNodeA {
        let frames = capture("c023-eth-dix-oping.pcap");
        let parsed: Vec<_> = frames
            .iter()
            .filter_map(|f| dix::parse_frame(f).ok())
            .map(|(eth, hdr, p)| (eth, hdr.eid, p.to_vec()))
            .collect();
        let a = parsed
            .iter()
            .find(|(eth, eid, _)| *eid == dix::MGMT_EID && eth.dst_addr.is_broadcast())
            .expect("A's name query")
            .0
            .src_addr;
        let mgmt = |pred: &dyn Fn(&ShimMgmt<'_>) -> bool| {
            parsed
                .iter()
                .filter(|(_, eid, _)| *eid == dix::MGMT_EID)
                .map(|(_, _, p)| p.clone())
                .find(|p| pred(&Framing::EthDix.parse(p, DIX_HASH_LEN).expect("C's message parses")))
                .expect("the capture holds it")
        };
        CNodeA {
            query: mgmt(&|m| matches!(m, ShimMgmt::NameQuery { .. })),
            name_reply: mgmt(&|m| matches!(m, ShimMgmt::NameReply { .. })),
            flow_req: mgmt(&|m| matches!(m, ShimMgmt::FlowReq { .. })),
            flow_reply: mgmt(&|m| matches!(m, ShimMgmt::FlowReply { .. })),
            ping: parsed
                .iter()
                .find(|(eth, eid, p)| *eid != dix::MGMT_EID && eth.src_addr == a && p.get(..4) == Some(&[0; 4]))
                .expect("an echo request of A's")
                .2
                .clone(),
        }
    }
}

impl DixRig {
    fn new(test: &str) -> Option<DixRig> {
        if !require_root(test) {
            return None;
        }
        let (o7s_ns, peer_ns) = (quiet_netns("lko"), quiet_netns("lkp"));
        veth((&o7s_ns, "o7s0"), (&peer_ns, "peer0")).expect("veth");
        let sock = peer_ns
            .enter(|| PacketSocket::bind("peer0", ETH_P_ALL))
            .expect("namespace")
            .expect("peer socket");
        let irmd = irmd_in(test, &o7s_ns, &[]);
        irmd.irm_ok(&[
            "ipcp",
            "bootstrap",
            "type",
            "eth-dix",
            "name",
            "dix",
            "layer",
            "eth",
            "dev",
            "o7s0",
        ]);
        irmd.irm_ok(&["bind", "program", oping().to_str().expect("utf-8"), "name", "oping"]);
        irmd.irm_ok(&["name", "register", "oping", "layer", "eth"]);
        let server = KillOnDrop::spawn(
            irmd.command(&oping())
                .args(["-l", "-Q"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("oping server");
        // Registered once irmd lists the server's process for the name.
        let o7s_mac = o7s_ns.mac("o7s0").expect("mac").parse().expect("MAC");
        let peer_mac = peer_ns.mac("peer0").expect("mac").parse().expect("MAC");
        let rig = DixRig {
            irmd,
            server,
            sock,
            o7s_mac,
            peer_mac,
            _ns: (o7s_ns, peer_ns),
        };
        // The server is up once it accepts flows: wait for its listen.
        std::thread::sleep(Duration::from_millis(200));
        Some(rig)
    }

    /// Sends an eth-dix frame from the peer.
    fn send(&self, dst: MacAddr, src: MacAddr, eid: u16, payload: &[u8]) {
        let mut frame = vec![0u8; dix::frame_len(payload.len()).max(60)];
        let eth = EthRepr {
            dst_addr: dst,
            src_addr: src,
            ethertype: ETHERTYPE_O7S,
        };
        let len = dix::emit_frame(&mut frame, &eth, eid, payload).expect("frame");
        self.send_raw(&frame[..len.max(60)]);
    }

    fn send_raw(&self, frame: &[u8]) {
        self.sock.send_retrying(frame).expect("send");
    }

    /// The eth-dix frames o7s sent to the peer within `wait` after the
    /// first, until `enough` of them came.
    fn receive(&self, enough: usize, wait: Duration) -> Vec<(EthRepr, u16, Vec<u8>)> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while got.len() < enough {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(n) = self.sock.recv_timeout(&mut buf, left).expect("receive") else {
                break;
            };
            if let Ok((eth, hdr, payload)) = dix::parse_frame(&buf[..n])
                && eth.src_addr == self.o7s_mac
            {
                got.push((eth, hdr.eid, payload.to_vec()));
            }
        }
        got
    }

    /// Brings a flow up as C's node A did; returns (A's EID, our EID).
    fn allocate_as_c(&self, c: &CNodeA) -> (u16, u16) {
        // The name query: answered to the peer with C's own reply.
        self.send(MacAddr::BROADCAST, self.peer_mac, dix::MGMT_EID, &c.query);
        let got = self.receive(1, Duration::from_secs(5));
        let [(eth, eid, reply)] = &got[..] else {
            panic!("one name reply, got {got:?}\nirmd log:\n{}", self.irmd.log_text())
        };
        assert_eq!((eth.dst_addr, *eid), (self.peer_mac, dix::MGMT_EID));
        assert_eq!(reply, &c.name_reply, "C's name reply, octet for octet");

        // The flow request: a reply that A accepts.
        self.send(self.o7s_mac, self.peer_mac, dix::MGMT_EID, &c.flow_req);
        let got = self.receive(1, Duration::from_secs(5));
        let [(eth, dix::MGMT_EID, reply)] = &got[..] else {
            panic!("one flow reply, got {got:?}\nirmd log:\n{}", self.irmd.log_text())
        };
        assert_eq!(eth.dst_addr, self.peer_mac);
        let ShimMgmt::FlowReq {
            requester,
            data: request,
            ..
        } = Framing::EthDix.parse(&c.flow_req, DIX_HASH_LEN).expect("C's request")
        else {
            unreachable!()
        };
        let ShimMgmt::FlowReply {
            requester: r,
            responder,
            response,
            data,
        } = Framing::EthDix.parse(reply, DIX_HASH_LEN).expect("our reply parses")
        else {
            panic!("not a flow reply: {reply:02x?}")
        };
        let ShimMgmt::FlowReply { data: c_data, .. } =
            Framing::EthDix.parse(&c.flow_reply, DIX_HASH_LEN).expect("C's reply")
        else {
            unreachable!()
        };
        assert_eq!((r, response), (requester, 0), "A's EID, accepted");
        assert_eq!(
            (reply.len(), data.len()),
            (c.flow_reply.len(), c_data.len()),
            "the layout of C's reply"
        );
        oap::check_response(request, data).expect("an OAP response A accepts");
        let ours = u16::try_from(responder).expect("a 16-bit EID");
        assert_ne!(ours, dix::MGMT_EID);
        (u16::try_from(requester).expect("a 16-bit EID"), ours)
    }

    /// Sends `n` of C's echo requests on the flow and checks that `n`
    /// replies come back to A's EID.
    fn ping(&self, c: &CNodeA, (theirs, ours): (u16, u16), n: usize) {
        for _ in 0..n {
            self.send(self.o7s_mac, self.peer_mac, ours, &c.ping);
        }
        let got = self.receive(n, Duration::from_secs(5));
        assert_eq!(
            got.len(),
            n,
            "echo replies\nstats:\n{}\nirmd log:\n{}",
            self.irmd.irm_ok(&["ipcp", "stats"]),
            self.irmd.log_text()
        );
        for (eth, eid, sdu) in &got {
            assert_eq!((eth.dst_addr, *eid), (self.peer_mac, theirs));
            assert_eq!(sdu[..4], [0, 0, 0, 1], "an echo reply");
            assert_eq!(sdu[4..], c.ping[4..], "the request's id, time and payload");
        }
    }
}

#[test]
fn a_c_node_on_the_link_is_answered_as_its_c_peer_answered_and_its_pings_echoed() {
    let Some(rig) = DixRig::new("lnk-cpeer") else {
        return;
    };
    let c = CNodeA::from_capture();
    assert_eq!(
        Framing::EthDix.parse(&c.query, DIX_HASH_LEN).expect("query").hash(),
        hash_name(HashAlgo::Sha3_256, "oping").as_ref(),
        "C asked for oping"
    );
    let kicks_before = eventfds(rig.server.0.id());
    let flow = rig.allocate_as_c(&c);
    rig.ping(&c, flow, 100);
    assert_eq!(counter(&rig.irmd, "dix", "delivered"), 100);
    // The accepting server got the worker's eventfd with its flow: its
    // replies wake the worker instead of waiting for it to wake by itself.
    assert_eq!(
        eventfds(rig.server.0.id()),
        kicks_before + 1,
        "the worker's kick came with the flow"
    );
}

/// The eventfds process `pid` holds.
fn eventfds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter(|l| l.to_string_lossy() == "anon_inode:[eventfd]")
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn hostile_frames_on_the_link_are_dropped_and_counted_by_reason_and_the_flow_lives() {
    let Some(rig) = DixRig::new("lnk-hostile") else {
        return;
    };
    let c = CNodeA::from_capture();
    let flow = rig.allocate_as_c(&c);
    let (_, ours) = flow;
    rig.ping(&c, flow, 10);
    let stranger: MacAddr = "02:00:00:00:0b:ad".parse().expect("MAC");
    let before = |name: &str| counter(&rig.irmd, "dix", name);
    let start: Vec<(&str, u64)> = [
        "short-shim-header",
        "bad-shim-length",
        "unknown-flow",
        "not-for-us",
        "spoofed-src",
        "mgmt-malformed",
    ]
    .into_iter()
    .map(|n| (n, before(n)))
    .collect();

    const EACH: u64 = 5;
    for _ in 0..EACH {
        // Truncated: the eth-dix header cut short.
        let mut short = vec![0u8; 16];
        short[..6].copy_from_slice(&rig.o7s_mac.0);
        short[6..12].copy_from_slice(&rig.peer_mac.0);
        short[12..14].copy_from_slice(&ETHERTYPE_O7S.to_be_bytes());
        short[14..16].copy_from_slice(&ours.to_be_bytes());
        rig.send_raw(&short);
        // A length field longer than the frame.
        let mut frame = vec![0u8; 128];
        let eth = EthRepr {
            dst_addr: rig.o7s_mac,
            src_addr: rig.peer_mac,
            ethertype: ETHERTYPE_O7S,
        };
        let len = dix::emit_frame(&mut frame, &eth, ours, &c.ping).expect("frame");
        frame[16..18].copy_from_slice(&2000u16.to_be_bytes());
        rig.send_raw(&frame[..len]);
        // An EID no flow has.
        rig.send(rig.o7s_mac, rig.peer_mac, 0x7777, &c.ping);
        // Another station's frame, on the flow's EID.
        rig.send(stranger, rig.peer_mac, ours, &c.ping);
        // The flow's EID from a station that is not its peer.
        rig.send(rig.o7s_mac, stranger, ours, &c.ping);
        // A management message with a code no shim has.
        let mut garbage = c.flow_req.clone();
        garbage[37] = 0x7f;
        rig.send(rig.o7s_mac, rig.peer_mac, dix::MGMT_EID, &garbage);
    }
    // None of that reached the server: only the pings' replies come.
    rig.ping(&c, flow, 10);
    let stats = rig.irmd.irm_ok(&["ipcp", "stats", "name", "dix"]);
    for (name, was) in start {
        let now = counter(&rig.irmd, "dix", name);
        assert_eq!(now - was, EACH, "{name}: {was} → {now}\n{stats}");
    }
    eprintln!("{stats}");
}
