//! The per-packet decision, sans IO: what to do with one received frame.
//!
//! ```text
//!  eth-dix frame (18-octet header) ─► Ethertype, lengths; dst MAC = the port's?
//!     │                                 (broadcast: EID 0 only; else not-for-us / multicast-dst)
//!  UDP payload (4-octet EID word) ──┴─► demux (port, EID) ─► N-1 flow, cube
//!     │ EID 0: shim management ───────────────────────────────────────► Punt
//!     ▼                                 src MAC = the flow's peer? (else spoofed-src)
//!  DT header: 0 < TTL <= max_ttl? (else bad-ttl); TTL -= 1
//!     ─► DST = own? ─► EID < 64 ───────────────────────────────────────► Punt
//!     │          └──► EID ≥ 64 ───────────────────────────────────────► Deliver
//!     ▼
//!  TTL = 0 ─► drop; fib[cube][DST] ─► select next hop ─► ECN |= txq >> 4
//!     ─► write the next hop's shim header in front of the DT header ───► Forward
//! ```
//!
//! The DT packet never moves: the old shim header is overwritten by the new
//! one (eth-dix → eth-dix rewrites the same 18 octets), using the buffer's
//! head room when the new header is longer (UDP → eth-dix). Shim headers
//! are read and written through o7s-wire's views (`EthFrame`, `DixHeader`,
//! `UdpDatagram`) over fixed-size chunks, so the one length check is the
//! chunk's and the wire module stays the one place that knows a layout.
//! Every branch that refuses a frame names its [`DropReason`], and every
//! punt its [`PuntCause`].
//!
//! What a member never sends is refused rather than forwarded: a TTL of 0
//! (the C prototype's decrement wraps it to 255) or above the layer's
//! `max_ttl`, a frame for another station's MAC (or a group address, save
//! the broadcast name queries of the shim's management EID), and a frame
//! on an N-1 flow from any MAC but the flow's peer.

use std::net::SocketAddr;

use o7s_seam::counters::DropReason;
use o7s_seam::punt::PuntCause;
use o7s_seam::tables::{Encap, PortId, Tables, demux_key};
use o7s_wire::dix::{self, DixHeader, DixRepr};
use o7s_wire::dt::{DtHeader, FIRST_FLOW_EID};
use o7s_wire::eth::{self, EthFrame, EthRepr, MacAddr};
use o7s_wire::udp::{self, UdpDatagram, UdpRepr};

/// The shim a port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shim {
    /// Ethernet frames with the eth-dix inner header, for `mac`: the
    /// port's own address, or `None` on a link without one (a local port),
    /// where the destination is not checked.
    EthDix { mac: Option<MacAddr> },
    /// UDP payloads: a 4-octet EID, then the SDU.
    Udp,
}

/// Why a frame to `dst` with shim EID `eid` is not for the port whose
/// address is `own`, if it is not: the shim sends to a peer's own address,
/// and to broadcast only name queries on the management EID (PROTOCOL.md
/// §2.2).
#[inline]
fn not_for(own: MacAddr, dst: MacAddr, eid: u16) -> Option<DropReason> {
    if dst == own || (dst.is_broadcast() && eid == dix::MGMT_EID) {
        None
    } else if dst.is_group() {
        Some(DropReason::MulticastDst)
    } else {
        Some(DropReason::NotForUs)
    }
}

/// What to do with a frame. Offsets are within the whole buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send `len` octets from `head` out of `port`, to `to` on UDP ports.
    Forward {
        port: PortId,
        head: usize,
        len: usize,
        to: Option<SocketAddr>,
    },
    /// Hand the SDU at `head..head+len` to local endpoint `endpoint`.
    Deliver {
        endpoint: u32,
        head: usize,
        len: usize,
    },
    /// Give the whole frame to the control plane (management traffic),
    /// for the reason given.
    Punt(PuntCause),
    Drop(DropReason),
}

/// Decides the fate of the frame at `buf[head..head + len]`, received on
/// `in_port` carrying `shim`, and rewrites it for its next hop when it is
/// forwarded. `txq(port)` is the number of frames waiting to leave `port`,
/// for mb-ECN marking (PROTOCOL.md §9).
#[inline]
pub fn process(
    t: &Tables,
    in_port: PortId,
    shim: Shim,
    buf: &mut [u8],
    head: usize,
    len: usize,
    txq: impl Fn(PortId) -> usize,
) -> Verdict {
    use Verdict::Drop;
    let Some(frame) = head.checked_add(len).and_then(|end| buf.get(head..end)) else {
        return Drop(DropReason::ShortFrame);
    };
    // Where the SDU (the DT packet) lies, the shim EID it came with, and
    // the MAC it came from.
    let (shim_eid, sdu_start, sdu_len, src) = match shim {
        Shim::EthDix { mac } => {
            // Fixed-size views: their accessors need no bounds check.
            let Some(eth) = frame.first_chunk::<{ eth::HEADER_LEN }>().map(EthFrame::new_unchecked) else {
                return Drop(DropReason::ShortFrame);
            };
            if eth.ethertype() != t.ethertype {
                return Drop(DropReason::WrongEthertype);
            }
            let Some(dix) = frame[eth::HEADER_LEN..]
                .first_chunk::<{ dix::HEADER_LEN }>()
                .map(DixHeader::new_unchecked)
            else {
                return Drop(DropReason::ShortShimHeader);
            };
            if let Some(reason) = mac.and_then(|own| not_for(own, eth.dst_addr(), dix.eid())) {
                return Drop(reason);
            }
            if eth::HEADER_LEN + dix.total_len() > frame.len() {
                return Drop(DropReason::BadShimLength);
            }
            (
                u32::from(dix.eid()),
                head + dix::FRAME_HEADER_LEN,
                usize::from(dix.length()),
                Some(eth.src_addr()),
            )
        }
        Shim::Udp => {
            let Some(udp) = frame
                .first_chunk::<{ udp::HEADER_LEN }>()
                .map(UdpDatagram::new_unchecked)
            else {
                return Drop(DropReason::ShortShimHeader);
            };
            (udp.eid(), head + udp::HEADER_LEN, len - udp::HEADER_LEN, None)
        }
    };
    if shim_eid == 0 {
        return Verdict::Punt(PuntCause::ShimMgmt);
    }
    let Some(&flow_id) = t.demux.get(&demux_key(in_port, shim_eid)) else {
        return Drop(DropReason::UnknownFlow);
    };
    // In range: demux only holds ids of flows in the table.
    let flow = &t.flows[flow_id as usize];
    if let (Some(src), Encap::EthDix(e)) = (src, &flow.encap)
        && src != e.dst
    {
        return Drop(DropReason::SpoofedSrc);
    }
    let cube = flow.cube;

    let hl = t.layout.header_len();
    if sdu_len < hl {
        return Drop(DropReason::ShortDtHeader);
    }
    // In range: sdu_start + sdu_len <= head + len, checked above.
    let mut dt = DtHeader::new_unchecked(&mut buf[sdu_start..sdu_start + sdu_len], t.layout);
    // The C prototype decrements on every reception, for us or not (§7.5),
    // modulo 256. No member sends TTL 0 or more than max_ttl (§7.4): the
    // decremented TTL of a packet one did send is below max_ttl, and the
    // wrap of 0 to 255 is refused instead of giving the packet a new life.
    let ttl = dt.ttl().wrapping_sub(1);
    if ttl >= t.max_ttl {
        return Drop(DropReason::BadTtl);
    }
    dt.set_ttl(ttl);
    let dst = dt.dst();
    let dt_eid = dt.eid();
    if dst == t.address {
        if dt_eid < FIRST_FLOW_EID {
            return Verdict::Punt(PuntCause::LayerMgmt { flow: flow_id });
        }
        return match t.endpoints.get(&dt_eid) {
            Some(&endpoint) => Verdict::Deliver {
                endpoint,
                head: sdu_start + hl,
                len: sdu_len - hl,
            },
            None => Drop(DropReason::NoEndpoint),
        };
    }
    if ttl == 0 {
        return Drop(DropReason::TtlExpired);
    }
    let Some(hop) = t.fib[cube as usize].get(&dst) else {
        return Drop(DropReason::NoRoute);
    };
    let Some(next) = t.select(hop, dst, dt_eid) else {
        return Drop(DropReason::NextHopDown);
    };
    let Some(out) = t.flows.get(next as usize) else {
        return Drop(DropReason::NextHopDown);
    };
    let mark = (txq(out.port) >> 4).min(usize::from(u8::MAX)) as u8;
    if mark != 0 {
        dt.or_ecn(mark);
    }
    match &out.encap {
        Encap::EthDix(e) => {
            let Some(new_head) = sdu_start.checked_sub(dix::FRAME_HEADER_LEN) else {
                return Drop(DropReason::NoHeadroom);
            };
            let Ok(sdu_len16) = u16::try_from(sdu_len) else {
                return Drop(DropReason::TooBig);
            };
            // In range: new_head + 18 = sdu_start <= buf.len().
            let Some((eth_header, dix_header)) = buf[new_head..]
                .first_chunk_mut::<{ dix::FRAME_HEADER_LEN }>()
                .and_then(|h| h.split_first_chunk_mut::<{ eth::HEADER_LEN }>())
            else {
                return Drop(DropReason::NoHeadroom);
            };
            EthRepr {
                dst_addr: e.dst,
                src_addr: e.src,
                ethertype: e.ethertype,
            }
            .emit(&mut EthFrame::new_unchecked(eth_header));
            DixRepr {
                eid: e.eid,
                payload_len: sdu_len16,
            }
            .emit(&mut DixHeader::new_unchecked(dix_header));
            Verdict::Forward {
                port: out.port,
                head: new_head,
                len: dix::FRAME_HEADER_LEN + sdu_len,
                to: None,
            }
        }
        Encap::Udp(u) => {
            let Some(new_head) = sdu_start.checked_sub(udp::HEADER_LEN) else {
                return Drop(DropReason::NoHeadroom);
            };
            // In range: new_head + 4 = sdu_start <= buf.len().
            UdpRepr { eid: u.eid }.emit(&mut UdpDatagram::new_unchecked(&mut buf[new_head..sdu_start]));
            Verdict::Forward {
                port: out.port,
                head: new_head,
                len: udp::HEADER_LEN + sdu_len,
                to: Some(u.peer),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use o7s_seam::tables::{EthDixEncap, N1Flow, NextHop, UdpEncap};
    use o7s_wire::dt::{DtLayout, DtRepr};
    use o7s_wire::eth::ETHERTYPE_O7S;
    use o7s_wire::qos::QosCube;

    const ME: u64 = 0x0A00_0001;
    const FAR: u64 = 0x0A00_0009;
    const MAC_IN: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    /// Port 0: eth-dix, for MAC_IN.
    const ETH: Shim = Shim::EthDix { mac: Some(MAC_IN) };

    fn mac(n: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 1, n])
    }

    fn flow(name: &str, port: PortId, n: u8, cube: QosCube) -> N1Flow {
        let encap = Encap::EthDix(EthDixEncap {
            dst: mac(n),
            src: mac(100 + n),
            ethertype: 0xA000,
            eid: 1000 + u16::from(n),
        });
        N1Flow {
            name: name.into(),
            port,
            encap,
            cube,
            up: true,
        }
    }

    /// Flows: in (port 0, rx EID 7, cube 0), in-video (port 0, rx EID 8,
    /// cube 1), a/b/c out of ports 1..=3.
    fn tables() -> Tables {
        let mut t = Tables {
            address: ME,
            ..Tables::default()
        };
        t.add_flow(flow("in", 0, 0, QosCube::BestEffort), 7);
        t.add_flow(flow("in-video", 0, 9, QosCube::Video), 8);
        let a = t.add_flow(flow("a", 1, 1, QosCube::BestEffort), 101);
        let b = t.add_flow(flow("b", 2, 2, QosCube::BestEffort), 102);
        let c = t.add_flow(flow("c", 3, 3, QosCube::BestEffort), 103);
        t.set_route(QosCube::BestEffort, FAR, NextHop::Single(a));
        t.set_route(QosCube::Video, FAR, NextHop::Single(b));
        t.set_route(QosCube::BestEffort, 0x0A00_0010, NextHop::Ecmp([a, b, c].into()));
        t.set_route(
            QosCube::BestEffort,
            0x0A00_0011,
            NextHop::Lfa {
                primary: a,
                alternates: [b, c].into(),
            },
        );
        t.endpoints.insert(70, 0);
        t
    }

    /// The peer of the flow on port 0 with `shim_eid` (see `tables`).
    fn peer(shim_eid: u16) -> MacAddr {
        if shim_eid == 8 { mac(9) } else { mac(0) }
    }

    /// A frame from the peer of `shim_eid`'s flow to port 0.
    fn frame(shim_eid: u16, dst: u64, ttl: u8, dt_eid: u64, payload: &[u8]) -> Vec<u8> {
        let dt = DtRepr {
            dst,
            qos: 0,
            ttl,
            ecn: 0,
            eid: dt_eid,
        };
        let mut sdu = vec![0u8; DtLayout::DEFAULT.header_len() + payload.len()];
        dt.emit(&mut DtHeader::new_unchecked(&mut sdu[..], DtLayout::DEFAULT));
        sdu[DtLayout::DEFAULT.header_len()..].copy_from_slice(payload);
        let eth = EthRepr {
            dst_addr: MAC_IN,
            src_addr: peer(shim_eid),
            ethertype: ETHERTYPE_O7S,
        };
        let mut f = vec![0u8; dix::frame_len(sdu.len())];
        dix::emit_frame(&mut f, &eth, shim_eid, &sdu).expect("fits");
        f
    }

    /// The Ethernet and eth-dix headers of a frame.
    fn headers(f: &[u8]) -> (EthRepr, DixRepr) {
        let (eth, dix, _) = dix::parse_frame(f).expect("a whole eth-dix frame");
        (eth, dix)
    }

    fn run(t: &Tables, f: &mut [u8], txq: impl Fn(PortId) -> usize) -> Verdict {
        let len = f.len();
        process(t, 0, ETH, f, 0, len, txq)
    }

    fn dt_of(f: &[u8]) -> DtHeader<&[u8]> {
        DtHeader::new_unchecked(&f[18..], DtLayout::DEFAULT)
    }

    #[test]
    fn transit_packet_leaves_by_the_cube_table_with_ttl_decremented_and_header_rewritten() {
        let t = tables();
        let mut f = frame(7, FAR, 10, 0x4242, b"data");
        assert_eq!(
            run(&t, &mut f, |_| 0),
            Verdict::Forward {
                port: 1,
                head: 0,
                len: f.len(),
                to: None
            }
        );
        assert_eq!(dt_of(&f).ttl(), 9);
        let (eth, dix) = headers(&f);
        assert_eq!((eth.dst_addr, eth.src_addr, dix.eid), (mac(1), mac(101), 1001));
        assert_eq!(&f[f.len() - 4..], b"data");

        let mut v = frame(8, FAR, 10, 0x4242, b"data");
        assert!(
            matches!(run(&t, &mut v, |_| 0), Verdict::Forward { port: 2, .. }),
            "video cube table"
        );
    }

    #[test]
    fn ttl_reaching_zero_in_transit_is_dropped_but_delivery_ignores_ttl() {
        let t = tables();
        let mut f = frame(7, FAR, 1, 0x4242, b"x");
        assert_eq!(run(&t, &mut f, |_| 0), Verdict::Drop(DropReason::TtlExpired));
        let mut f = frame(7, ME, 1, 70, b"x");
        assert_eq!(
            run(&t, &mut f, |_| 0),
            Verdict::Deliver {
                endpoint: 0,
                head: 33,
                len: 1
            }
        );
    }

    #[test]
    fn a_ttl_no_member_sends_is_refused_on_arrival() {
        let t = tables();
        for (dst, eid) in [(FAR, 0x4242), (ME, 70)] {
            for ttl in [0, 61, 255] {
                let mut f = frame(7, dst, ttl, eid, b"x");
                assert_eq!(run(&t, &mut f, |_| 0), Verdict::Drop(DropReason::BadTtl), "TTL {ttl}");
                assert_eq!(dt_of(&f).ttl(), ttl, "left as it came");
            }
        }
        let mut f = frame(7, FAR, 60, 0x4242, b"x");
        assert!(
            matches!(run(&t, &mut f, |_| 0), Verdict::Forward { .. }),
            "max_ttl itself"
        );
        assert_eq!(dt_of(&f).ttl(), 59);
        let mut t = tables();
        t.max_ttl = 255;
        let mut f = frame(7, FAR, 255, 0x4242, b"x");
        assert!(
            matches!(run(&t, &mut f, |_| 0), Verdict::Forward { .. }),
            "a layer's own max_ttl"
        );
    }

    #[test]
    fn frames_for_other_stations_or_groups_are_refused_but_name_queries_punted() {
        let t = tables();
        let to = |dst: [u8; 6], shim_eid: u16| {
            let mut f = frame(shim_eid, FAR, 10, 1, b"x");
            EthFrame::new_unchecked(&mut f[..]).set_dst_addr(MacAddr(dst));
            f
        };
        let cases = [
            (to([2, 0, 0, 0, 0, 2], 7), Verdict::Drop(DropReason::NotForUs)),
            (to([1, 0, 0x5e, 0, 0, 1], 7), Verdict::Drop(DropReason::MulticastDst)),
            (to([0x33, 0x33, 0, 0, 0, 1], 0), Verdict::Drop(DropReason::MulticastDst)),
            (to([0xff; 6], 7), Verdict::Drop(DropReason::MulticastDst)),
            (to([0xff; 6], 0), Verdict::Punt(PuntCause::ShimMgmt)),
            (to(MAC_IN.0, 0), Verdict::Punt(PuntCause::ShimMgmt)),
        ];
        for (mut f, verdict) in cases {
            let dst = headers(&f).0.dst_addr;
            assert_eq!(run(&t, &mut f, |_| 0), verdict, "to {dst}");
        }
        // A link without an address of its own (a local port) takes all.
        let mut f = to([2, 0, 0, 0, 0, 2], 7);
        let len = f.len();
        assert!(matches!(
            process(&t, 0, Shim::EthDix { mac: None }, &mut f, 0, len, |_| 0),
            Verdict::Forward { .. }
        ));
    }

    #[test]
    fn a_frame_from_another_mac_than_the_flows_peer_is_refused() {
        let t = tables();
        let mut f = frame(7, FAR, 10, 1, b"x");
        EthFrame::new_unchecked(&mut f[..]).set_src_addr(peer(8));
        assert_eq!(run(&t, &mut f, |_| 0), Verdict::Drop(DropReason::SpoofedSrc));
        assert_eq!(dt_of(&f).ttl(), 10, "refused before the TTL is touched");
        let mut f = frame(8, FAR, 10, 1, b"x");
        assert!(matches!(run(&t, &mut f, |_| 0), Verdict::Forward { port: 2, .. }));
        // Management has no flow yet: anyone may ask.
        let mut f = frame(0, 0, 0, 0, b"");
        EthFrame::new_unchecked(&mut f[..]).set_src_addr(MacAddr([2, 9, 9, 9, 9, 9]));
        assert_eq!(run(&t, &mut f, |_| 0), Verdict::Punt(PuntCause::ShimMgmt));
    }

    #[test]
    fn local_traffic_goes_to_endpoints_or_the_control_plane() {
        let t = tables();
        let mut f = frame(7, ME, 5, 0, b"fa");
        assert_eq!(
            run(&t, &mut f, |_| 0),
            Verdict::Punt(PuntCause::LayerMgmt { flow: 0 }),
            "flow allocator EID, on flow 0 (\"in\")"
        );
        let mut f = frame(8, ME, 5, 1, b"dht");
        assert_eq!(
            run(&t, &mut f, |_| 0),
            Verdict::Punt(PuntCause::LayerMgmt { flow: 1 }),
            "DHT EID, on flow 1 (\"in-video\")"
        );
        let mut f = frame(0, 0, 0, 0, b"");
        assert_eq!(
            run(&t, &mut f, |_| 0),
            Verdict::Punt(PuntCause::ShimMgmt),
            "eth-dix management"
        );
        let mut f = frame(7, ME, 5, 71, b"x");
        assert_eq!(run(&t, &mut f, |_| 0), Verdict::Drop(DropReason::NoEndpoint));
    }

    #[test]
    fn malformed_frames_are_dropped_with_their_reason() {
        let t = tables();
        let good = frame(7, FAR, 10, 1, b"abcd");
        let cases: [(Vec<u8>, DropReason); 6] = [
            (good[..10].to_vec(), DropReason::ShortFrame),
            (good[..16].to_vec(), DropReason::ShortShimHeader),
            (good[..good.len() - 1].to_vec(), DropReason::BadShimLength),
            (frame(7, FAR, 10, 1, b"")[..25].to_vec(), DropReason::BadShimLength),
            (frame(99, FAR, 10, 1, b""), DropReason::UnknownFlow),
            (
                {
                    let mut f = good.clone();
                    f[12] = 0x08;
                    f
                },
                DropReason::WrongEthertype,
            ),
        ];
        for (mut f, reason) in cases {
            assert_eq!(run(&t, &mut f, |_| 0), Verdict::Drop(reason));
        }
        let mut short_dt = frame(7, FAR, 10, 1, b"");
        short_dt.truncate(18 + 10);
        DixHeader::new_unchecked(&mut short_dt[eth::HEADER_LEN..]).set_length(10);
        assert_eq!(run(&t, &mut short_dt, |_| 0), Verdict::Drop(DropReason::ShortDtHeader));
        let mut unknown = frame(7, 0x0B00_0000, 10, 1, b"");
        assert_eq!(run(&t, &mut unknown, |_| 0), Verdict::Drop(DropReason::NoRoute));
    }

    #[test]
    fn ecmp_keeps_each_flow_on_one_path_and_spreads_flows() {
        let t = tables();
        let mut used = std::collections::HashSet::new();
        for eid in 64..564u64 {
            let mut first = None;
            for _ in 0..5 {
                let mut f = frame(7, 0x0A00_0010, 10, eid, b"p");
                let Verdict::Forward { port, .. } = run(&t, &mut f, |_| 0) else {
                    panic!("forwarded")
                };
                assert_eq!(*first.get_or_insert(port), port, "flow {eid} changed path");
            }
            used.insert(first);
        }
        assert_eq!(used.len(), 3, "500 flows spread over all three paths");
    }

    #[test]
    fn lfa_falls_back_to_the_first_live_alternate() {
        let mut t = tables();
        let out = |t: &Tables| {
            let mut f = frame(7, 0x0A00_0011, 10, 99, b"p");
            run(t, &mut f, |_| 0)
        };
        assert!(matches!(out(&t), Verdict::Forward { port: 1, .. }));
        t.flows[2].up = false;
        assert!(matches!(out(&t), Verdict::Forward { port: 2, .. }));
        t.flows[3].up = false;
        assert!(matches!(out(&t), Verdict::Forward { port: 3, .. }));
        t.flows[4].up = false;
        assert_eq!(out(&t), Verdict::Drop(DropReason::NextHopDown));
    }

    #[test]
    fn ecn_marks_by_the_next_hops_queue_depth() {
        let t = tables();
        let mut f = frame(7, FAR, 10, 1, b"p");
        run(&t, &mut f, |p| if p == 1 { 15 } else { 0 });
        assert_eq!(dt_of(&f).ecn(), 0, "below 16 queued packets: no mark");
        let mut f = frame(7, FAR, 10, 1, b"p");
        run(&t, &mut f, |p| if p == 1 { 64 } else { 0 });
        assert_eq!(dt_of(&f).ecn(), 4);
        let mut f = frame(7, FAR, 10, 1, b"p");
        run(&t, &mut f, |_| 100_000);
        assert_eq!(dt_of(&f).ecn(), 255, "saturates");
    }

    #[test]
    fn padding_after_the_shim_length_is_not_forwarded() {
        let t = tables();
        let mut f = frame(7, FAR, 10, 1, b"p");
        let len = f.len();
        f.resize(60, 0);
        assert_eq!(
            run(&t, &mut f, |_| 0),
            Verdict::Forward {
                port: 1,
                head: 0,
                len,
                to: None
            }
        );
    }

    #[test]
    fn udp_and_eth_dix_shims_convert_in_both_directions() {
        let mut t = tables();
        let peer: SocketAddr = "10.9.9.9:3435".parse().unwrap();
        let u_in = t.add_flow(
            N1Flow {
                name: "u-in".into(),
                port: 5,
                encap: Encap::Udp(UdpEncap { peer, eid: 77 }),
                cube: QosCube::BestEffort,
                up: true,
            },
            0x0102_0304,
        );
        t.set_route(QosCube::BestEffort, 0x0A00_0020, NextHop::Single(u_in));

        // UDP in (EID word + DT packet at offset 64 of a buffer), eth-dix out.
        let eth = frame(7, FAR, 10, 9, b"over udp");
        let sdu = &eth[dix::FRAME_HEADER_LEN..];
        let mut buf = vec![0u8; 64 + 4 + sdu.len()];
        let mut datagram = UdpDatagram::new_unchecked(&mut buf[64..]);
        datagram.set_eid(0x0102_0304);
        datagram.payload_mut().copy_from_slice(sdu);
        let len = buf.len() - 64;
        let v = process(&t, 5, Shim::Udp, &mut buf, 64, len, |_| 0);
        assert_eq!(
            v,
            Verdict::Forward {
                port: 1,
                head: 68 - 18,
                len: 18 + sdu.len(),
                to: None
            }
        );
        let out = &buf[50..];
        let (eth, dix) = headers(out);
        assert_eq!(eth.dst_addr, mac(1));
        assert_eq!(usize::from(dix.payload_len), sdu.len(), "length field written");
        assert_eq!(dt_of(out).ttl(), 9);

        // eth-dix in, UDP out: the EID word sits just before the DT header.
        let mut f = frame(7, 0x0A00_0020, 10, 9, b"to udp");
        let len = f.len();
        let v = process(&t, 0, ETH, &mut f, 0, len, |_| 0);
        assert_eq!(
            v,
            Verdict::Forward {
                port: 5,
                head: 14,
                len: len - 14,
                to: Some(peer)
            }
        );
        assert_eq!(UdpDatagram::new_checked(&f[14..]).map(|d| d.eid()), Ok(77));

        // A UDP datagram too short for the EID word, and management (EID 0).
        let mut short = [0u8; 3];
        assert_eq!(
            process(&t, 5, Shim::Udp, &mut short, 0, 3, |_| 0),
            Verdict::Drop(DropReason::ShortShimHeader)
        );
        let mut mgmt = [0u8; 47];
        assert_eq!(
            process(&t, 5, Shim::Udp, &mut mgmt, 0, 47, |_| 0),
            Verdict::Punt(PuntCause::ShimMgmt)
        );
        // No head room for an Ethernet header in front of a UDP packet.
        let mut tight = vec![0u8; 4 + sdu.len()];
        let mut datagram = UdpDatagram::new_unchecked(&mut tight[..]);
        datagram.set_eid(0x0102_0304);
        datagram.payload_mut().copy_from_slice(sdu);
        let len = tight.len();
        assert_eq!(
            process(&t, 5, Shim::Udp, &mut tight, 0, len, |_| 0),
            Verdict::Drop(DropReason::NoHeadroom)
        );
    }

    #[test]
    fn a_frame_outside_its_buffer_is_refused() {
        let t = tables();
        let mut buf = [0u8; 32];
        assert_eq!(
            process(&t, 0, ETH, &mut buf, 20, 20, |_| 0),
            Verdict::Drop(DropReason::ShortFrame)
        );
        assert_eq!(
            process(&t, 0, ETH, &mut buf, usize::MAX, 2, |_| 0),
            Verdict::Drop(DropReason::ShortFrame)
        );
    }
}
