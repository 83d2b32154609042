//! The per-packet decision, sans IO: what to do with one received frame.
//!
//! ```text
//!  eth-dix frame (18-octet header) ─► the port's Ethertype, lengths; dst MAC = the port's?
//!  eth-llc frame (17-octet header) ─► 802.3 length, DSAP/SSAP; dst MAC = the port's?
//!     │                                 (broadcast: management only; else not-for-us / multicast-dst)
//!  UDP payload (4-octet EID word) ──┴─► EID 0 (eth-llc: DSAP 1): shim management ─────────► Punt
//!     ▼
//!  demux (port, EID) ─► N-1 flow, cube  (miss: shim_flows (port, EID) ─► application flow:
//!     │                                   sender = its peer? (else spoofed-src) ─────────► Deliver)
//!     ▼                                 src MAC (and SSAP) = the flow's peer? (else spoofed-src)
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
//! `LlcFrame`, `UdpDatagram`) over fixed-size chunks, so the one length
//! check is the chunk's and the wire module stays the one place that knows
//! a layout. [`encapsulate`] writes a shim header in front of an SDU: the
//! next hop's here, an application flow's for the worker's source rings.
//! Every branch that refuses a frame names its [`DropReason`], and every
//! punt its [`PuntCause`].
//!
//! What a member never sends is refused rather than forwarded: a TTL of 0
//! (the C prototype's decrement wraps it to 255) or above the layer's
//! `max_ttl`, a frame for another station's MAC (or a group address, save
//! the broadcast name queries of the shim's management EID), and a frame
//! on an N-1 flow or an application flow from any sender but the flow's
//! peer (its MAC, with its SAP on eth-llc; its socket address on UDP for
//! application flows).

use std::net::SocketAddr;

use o7s_seam::counters::DropReason;
use o7s_seam::punt::PuntCause;
use o7s_seam::tables::{DtDest, Encap, N1Flow, PortId, ShimFlow, ShimPeer, Tables, demux_key};
use o7s_wire::dix::{self, DixHeader, DixRepr};
use o7s_wire::dt::{DtHeader, FIRST_FLOW_EID};
use o7s_wire::eth::{self, ETHERTYPE_O7S, EthFrame, EthRepr, MacAddr};
use o7s_wire::llc::{self, LlcFrame, LlcRepr};
use o7s_wire::qos::QosCube;
use o7s_wire::udp::{self, UdpDatagram, UdpRepr};

/// The shim a port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shim {
    /// Ethernet II frames of `ethertype` with the eth-dix inner header, for
    /// `mac`: the port's own address, or `None` on a link without one (a
    /// local port), where the destination is not checked.
    EthDix { mac: Option<MacAddr>, ethertype: u16 },
    /// 802.3 frames with an LLC header (eth-llc), for `mac` as above.
    EthLlc { mac: Option<MacAddr> },
    /// UDP payloads: a 4-octet EID, then the SDU.
    Udp,
}

impl Shim {
    /// eth-dix with the o7s Ethertype (0xA000), on a link without an
    /// address of its own.
    pub const LOCAL: Shim = Shim::EthDix {
        mac: None,
        ethertype: ETHERTYPE_O7S,
    };

    /// Octets of link header in front of what the port's MTU counts: the
    /// Ethernet header, or nothing for UDP payloads.
    pub const fn link_header_len(self) -> usize {
        match self {
            Shim::EthDix { .. } | Shim::EthLlc { .. } => eth::HEADER_LEN,
            Shim::Udp => 0,
        }
    }
}

/// Where a frame came from: the port (and the shim it carries), and on UDP
/// ports the datagram's source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival<'a> {
    pub port: PortId,
    pub shim: Shim,
    /// The UDP source address (`None` on Ethernet ports, whose frames name
    /// their sender).
    pub from: Option<&'a SocketAddr>,
}

/// Why a frame to `dst` is not for the port whose address is `own`, if it
/// is not: the shim sends to a peer's own address, and to broadcast only
/// management (name queries, PROTOCOL.md §2.2).
#[inline]
fn not_for(own: MacAddr, dst: MacAddr, mgmt: bool) -> Option<DropReason> {
    if dst == own || (dst.is_broadcast() && mgmt) {
        None
    } else if dst.is_group() {
        Some(DropReason::MulticastDst)
    } else {
        Some(DropReason::NotForUs)
    }
}

/// Who sent a frame, as far as its shim says.
#[derive(Debug, Clone, Copy)]
enum Sender<'a> {
    /// eth-dix: the source MAC.
    Mac(MacAddr),
    /// eth-llc: the source MAC and SSAP.
    MacSap(MacAddr, u8),
    /// UDP: the source address, if the port gave it.
    Udp(Option<&'a SocketAddr>),
}

impl Sender<'_> {
    /// Whether this is the peer of an application flow.
    #[inline]
    fn is(self, peer: &ShimPeer) -> bool {
        match (self, peer) {
            (Sender::Mac(src), ShimPeer::Mac(p)) => src == *p,
            (Sender::MacSap(src, ssap), ShimPeer::MacSap(p, sap)) => src == *p && ssap == *sap,
            // Address and port; IPv6 flow information is no part of a peer.
            (Sender::Udp(Some(src)), ShimPeer::Udp(p)) => src.ip() == p.ip() && src.port() == p.port(),
            _ => false,
        }
    }

    /// Whether this is the neighbour at the other end of an N-1 flow
    /// framed with `encap`. UDP N-1 flows take any source, as the C
    /// prototype does (PROTOCOL.md §4.1).
    #[inline]
    fn sends_on(self, encap: &Encap) -> bool {
        match (self, encap) {
            (Sender::Mac(src), Encap::EthDix(e)) => src == e.dst,
            (Sender::MacSap(src, ssap), Encap::EthLlc(e)) => src == e.dst && ssap == e.dsap,
            (Sender::Udp(_), Encap::Udp(_)) => true,
            _ => false,
        }
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

/// A frame [`encapsulate`] wrote: where it lies in the buffer, and where
/// it goes on UDP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framed {
    pub head: usize,
    pub len: usize,
    pub to: Option<SocketAddr>,
}

/// Writes `encap`'s shim header in the octets just in front of the SDU at
/// `buf[sdu_start..sdu_start + sdu_len]` (which must lie inside `buf`):
/// the next hop's header in front of a forwarded DT packet, an application
/// flow's in front of its SDU. Refused when the head room is too short
/// (`NoHeadroom`) or the SDU longer than the shim's length field counts
/// (`TooBig`); the port's MTU is the caller's to check.
#[inline]
pub fn encapsulate(buf: &mut [u8], sdu_start: usize, sdu_len: usize, encap: &Encap) -> Result<Framed, DropReason> {
    match encap {
        Encap::EthDix(e) => {
            let new_head = sdu_start
                .checked_sub(dix::FRAME_HEADER_LEN)
                .ok_or(DropReason::NoHeadroom)?;
            let sdu_len16 = u16::try_from(sdu_len).map_err(|_| DropReason::TooBig)?;
            // In range: new_head + 18 = sdu_start <= buf.len().
            let (eth_header, dix_header) = buf[new_head..]
                .first_chunk_mut::<{ dix::FRAME_HEADER_LEN }>()
                .and_then(|h| h.split_first_chunk_mut::<{ eth::HEADER_LEN }>())
                .ok_or(DropReason::NoHeadroom)?;
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
            Ok(Framed {
                head: new_head,
                len: dix::FRAME_HEADER_LEN + sdu_len,
                to: None,
            })
        }
        Encap::EthLlc(e) => {
            let new_head = sdu_start.checked_sub(llc::HEADER_LEN).ok_or(DropReason::NoHeadroom)?;
            let payload_len = u16::try_from(sdu_len).map_err(|_| DropReason::TooBig)?;
            // In range: new_head + 17 = sdu_start <= buf.len().
            let header = buf[new_head..]
                .first_chunk_mut::<{ llc::HEADER_LEN }>()
                .ok_or(DropReason::NoHeadroom)?;
            LlcRepr {
                dst_addr: e.dst,
                src_addr: e.src,
                dsap: e.dsap,
                ssap: e.ssap,
                control: llc::CONTROL_UI,
                payload_len,
            }
            .emit(&mut LlcFrame::new_unchecked(header))
            // The one refusal left: more than an 802.3 length counts.
            .map_err(|_| DropReason::TooBig)?;
            Ok(Framed {
                head: new_head,
                len: llc::HEADER_LEN + sdu_len,
                to: None,
            })
        }
        Encap::Udp(u) => {
            let new_head = sdu_start.checked_sub(udp::HEADER_LEN).ok_or(DropReason::NoHeadroom)?;
            // In range: new_head + 4 = sdu_start <= buf.len().
            UdpRepr { eid: u.eid }.emit(&mut UdpDatagram::new_unchecked(&mut buf[new_head..sdu_start]));
            Ok(Framed {
                head: new_head,
                len: udp::HEADER_LEN + sdu_len,
                to: Some(u.peer),
            })
        }
    }
}

/// An application flow's SDU, if the frame comes from the flow's peer.
#[inline]
fn to_shim_flow(flow: &ShimFlow, sender: Sender<'_>, head: usize, len: usize) -> Verdict {
    if sender.is(&flow.peer) {
        Verdict::Deliver {
            endpoint: flow.endpoint,
            head,
            len,
        }
    } else {
        Verdict::Drop(DropReason::SpoofedSrc)
    }
}

/// Decides the fate of the frame at `buf[head..head + len]`, which arrived
/// as `at` says, and rewrites it for its next hop when it is forwarded.
/// `txq(port)` is the number of frames waiting to leave `port`, for mb-ECN
/// marking (PROTOCOL.md §9).
#[inline]
pub fn process(
    t: &Tables,
    at: Arrival<'_>,
    buf: &mut [u8],
    head: usize,
    len: usize,
    txq: impl Fn(PortId) -> usize,
) -> Verdict {
    use Verdict::Drop;
    let Some(frame) = head.checked_add(len).and_then(|end| buf.get(head..end)) else {
        return Drop(DropReason::ShortFrame);
    };
    // Where the SDU (the DT packet, or an application's SDU) lies, the
    // shim EID (or DSAP) it came with, whether that is the shim's
    // management, and who sent it.
    let (shim_eid, mgmt, sdu_start, sdu_len, sender) = match at.shim {
        Shim::EthDix { mac, ethertype } => {
            // Fixed-size views: their accessors need no bounds check.
            let Some(eth) = frame.first_chunk::<{ eth::HEADER_LEN }>().map(EthFrame::new_unchecked) else {
                return Drop(DropReason::ShortFrame);
            };
            if eth.ethertype() != ethertype {
                return Drop(DropReason::WrongEthertype);
            }
            let Some(dix) = frame[eth::HEADER_LEN..]
                .first_chunk::<{ dix::HEADER_LEN }>()
                .map(DixHeader::new_unchecked)
            else {
                return Drop(DropReason::ShortShimHeader);
            };
            let mgmt = dix.eid() == dix::MGMT_EID;
            if let Some(reason) = mac.and_then(|own| not_for(own, eth.dst_addr(), mgmt)) {
                return Drop(reason);
            }
            if eth::HEADER_LEN + dix.total_len() > frame.len() {
                return Drop(DropReason::BadShimLength);
            }
            (
                u32::from(dix.eid()),
                mgmt,
                head + dix::FRAME_HEADER_LEN,
                usize::from(dix.length()),
                Sender::Mac(eth.src_addr()),
            )
        }
        Shim::EthLlc { mac } => {
            if frame.len() < eth::HEADER_LEN {
                return Drop(DropReason::ShortFrame);
            }
            let Some(llc) = frame.first_chunk::<{ llc::HEADER_LEN }>().map(LlcFrame::new_unchecked) else {
                return Drop(DropReason::ShortShimHeader);
            };
            let length = llc.length();
            if length > llc::MAX_LENGTH {
                // An Ethertype, not an 802.3 length: not an eth-llc frame.
                return Drop(DropReason::WrongEthertype);
            }
            let dsap = llc.dsap();
            let mgmt = dsap == llc::MGMT_SAP;
            if let Some(reason) = mac.and_then(|own| not_for(own, llc.dst_addr(), mgmt)) {
                return Drop(reason);
            }
            if usize::from(length) < llc::LLC_LEN || eth::HEADER_LEN + usize::from(length) > frame.len() {
                return Drop(DropReason::BadShimLength);
            }
            (
                u32::from(dsap),
                mgmt,
                head + llc::HEADER_LEN,
                llc.payload_len(),
                Sender::MacSap(llc.src_addr(), llc.ssap()),
            )
        }
        Shim::Udp => {
            let Some(udp) = frame
                .first_chunk::<{ udp::HEADER_LEN }>()
                .map(UdpDatagram::new_unchecked)
            else {
                return Drop(DropReason::ShortShimHeader);
            };
            let eid = udp.eid();
            (
                eid,
                eid == udp::MGMT_EID,
                head + udp::HEADER_LEN,
                len - udp::HEADER_LEN,
                Sender::Udp(at.from),
            )
        }
    };
    if mgmt {
        let from = match sender {
            Sender::Udp(from) => from.copied(),
            Sender::Mac(_) | Sender::MacSap(..) => None,
        };
        return Verdict::Punt(PuntCause::ShimMgmt { from });
    }
    let key = demux_key(at.port, shim_eid);
    let Some(&flow_id) = t.demux.get(&key) else {
        // Not an N-1 flow: an application flow straight on the shim?
        return match t.shim_flows.get(&key) {
            Some(flow) => to_shim_flow(flow, sender, sdu_start, sdu_len),
            None => Drop(DropReason::UnknownFlow),
        };
    };
    // In range: demux only holds ids of flows in the table.
    let flow = &t.flows[flow_id as usize];
    if !sender.sends_on(&flow.encap) {
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
    let out = match next_hop(t, cube, dst, dt_eid) {
        Ok(out) => out,
        Err(reason) => return Drop(reason),
    };
    let mark = ecn_mark(txq(out.port));
    if mark != 0 {
        dt.or_ecn(mark);
    }
    leave_by(out, buf, sdu_start, sdu_len)
}

/// The N-1 flow a DT packet to `dst`'s `eid` leaves by, from `cube`'s
/// table: `NoRoute` without an entry, `NextHopDown` when no next hop of it
/// is up.
#[inline]
pub fn next_hop(t: &Tables, cube: QosCube, dst: u64, eid: u64) -> Result<&N1Flow, DropReason> {
    let hop = t.fib[cube as usize].get(&dst).ok_or(DropReason::NoRoute)?;
    let next = t.select(hop, dst, eid).ok_or(DropReason::NextHopDown)?;
    t.flows.get(next as usize).ok_or(DropReason::NextHopDown)
}

/// The mb-ECN mark of a next hop with `queued` frames waiting (§9): one
/// level per 16, at most 255.
#[inline]
fn ecn_mark(queued: usize) -> u8 {
    (queued >> 4).min(usize::from(u8::MAX)) as u8
}

/// The DT packet at `buf[start..start + len]` framed for `out` and sent
/// out of its port.
#[inline]
fn leave_by(out: &N1Flow, buf: &mut [u8], start: usize, len: usize) -> Verdict {
    match encapsulate(buf, start, len, &out.encap) {
        Ok(Framed { head, len, to }) => Verdict::Forward {
            port: out.port,
            head,
            len,
            to,
        },
        Err(reason) => Verdict::Drop(reason),
    }
}

/// Sends the SDU at `buf[sdu_start..sdu_start + sdu_len]` into the layer
/// (PROTOCOL.md §7.4): a DT header in front of it (TTL = the layer's
/// `max_ttl`, QoS = the cube, ECN from the next hop's queue), then the
/// next hop's shim header, as a forwarded packet gets it. The packet of
/// an application flow or of the layer's own components (EID 0 and 1,
/// from the control plane) leaves by the same code as transit, in the
/// same worker: a layer over a shim is function calls, not a hop between
/// processes. `txq` as for [`process`].
pub fn originate(
    t: &Tables,
    buf: &mut [u8],
    sdu_start: usize,
    sdu_len: usize,
    to: &DtDest,
    txq: impl Fn(PortId) -> usize,
) -> Verdict {
    if to.dst == t.address {
        // Local delivery never crosses DT (§7.4).
        return Verdict::Drop(DropReason::NoRoute);
    }
    match next_hop(t, to.cube, to.dst, to.eid) {
        Ok(out) => originate_via(t, out, buf, sdu_start, sdu_len, to, txq(out.port)),
        Err(reason) => Verdict::Drop(reason),
    }
}

/// [`originate`] by a next hop already chosen (a source ring's burst goes
/// to one destination: one lookup for all of it), `queued` frames waiting
/// on its port.
pub fn originate_via(
    t: &Tables,
    out: &N1Flow,
    buf: &mut [u8],
    sdu_start: usize,
    sdu_len: usize,
    to: &DtDest,
    queued: usize,
) -> Verdict {
    let hl = t.layout.header_len();
    let Some(header) = sdu_start.checked_sub(hl).and_then(|head| buf.get_mut(head..sdu_start)) else {
        return Verdict::Drop(DropReason::NoHeadroom);
    };
    let mut dt = DtHeader::new_unchecked(header, t.layout);
    dt.set_dst(to.dst);
    dt.set_qos(to.cube as u8);
    dt.set_ttl(t.max_ttl);
    dt.set_ecn(ecn_mark(queued));
    dt.set_eid(to.eid);
    leave_by(out, buf, sdu_start - hl, hl + sdu_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use o7s_seam::tables::{EthDixEncap, EthLlcEncap, NextHop, ShimFlow, ShimPeer, UdpEncap};
    use o7s_wire::dt::{DtLayout, DtRepr};
    use o7s_wire::eth::ETHERTYPE_O7S;

    const ME: u64 = 0x0A00_0001;
    const FAR: u64 = 0x0A00_0009;
    const MAC_IN: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    /// Port 0: eth-dix, for MAC_IN.
    const ETH: Shim = Shim::EthDix {
        mac: Some(MAC_IN),
        ethertype: ETHERTYPE_O7S,
    };

    /// Arrival on `port` carrying `shim`, with no UDP source.
    fn on(port: PortId, shim: Shim) -> Arrival<'static> {
        Arrival { port, shim, from: None }
    }

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
        process(t, on(0, ETH), f, 0, len, txq)
    }

    fn dt_of(f: &[u8]) -> DtHeader<&[u8]> {
        DtHeader::new_unchecked(&f[18..], DtLayout::DEFAULT)
    }

    #[test]
    fn an_originated_sdu_gets_a_dt_header_and_the_next_hop_s_shim_header() {
        let t = tables();
        let payload = b"hello";
        let head = 64;
        let mut buf = vec![0u8; head + payload.len()];
        buf[head..].copy_from_slice(payload);
        let to = DtDest {
            dst: FAR,
            eid: 0x1234_5678_0000_0040,
            cube: QosCube::BestEffort,
        };
        let v = originate(&t, &mut buf, head, payload.len(), &to, |_| 40);
        let Verdict::Forward {
            port,
            head: h,
            len,
            to: None,
        } = v
        else {
            panic!("{v:?}")
        };
        assert_eq!(port, 1, "the best-effort route to FAR");
        let f = &buf[h..h + len];
        let (eth, dix) = headers(f);
        assert_eq!((eth.dst_addr, dix.eid), (mac(1), 1001));
        let dt = DtRepr::parse(&dt_of(f)).expect("a DT header");
        assert_eq!(
            dt,
            DtRepr {
                dst: FAR,
                qos: 0,
                ttl: t.max_ttl,
                ecn: 2,
                eid: 0x1234_5678_0000_0040
            },
            "max TTL, the cube, ECN from 40 queued"
        );
        assert_eq!(&f[f.len() - payload.len()..], payload);
        // Through the forwarding path it is a transit packet like any other.
        let mut video = vec![0u8; head + 4];
        let to_video = DtDest {
            cube: QosCube::Video,
            ..to
        };
        assert!(matches!(
            originate(&t, &mut video, head, 4, &to_video, |_| 0),
            Verdict::Forward { port: 2, .. }
        ));
    }

    #[test]
    fn an_sdu_with_no_route_room_or_live_next_hop_is_dropped_by_reason() {
        let mut t = tables();
        let to = |dst| DtDest {
            dst,
            eid: 64,
            cube: QosCube::BestEffort,
        };
        let mut buf = vec![0u8; 80];
        assert_eq!(
            originate(&t, &mut buf, 64, 16, &to(0x0B00_0001), |_| 0),
            Verdict::Drop(DropReason::NoRoute)
        );
        assert_eq!(
            originate(&t, &mut buf, 64, 16, &to(ME), |_| 0),
            Verdict::Drop(DropReason::NoRoute),
            "never to itself"
        );
        assert_eq!(
            originate(&t, &mut buf, 10, 16, &to(FAR), |_| 0),
            Verdict::Drop(DropReason::NoHeadroom)
        );
        let a = t.flow_id("a").expect("flow a");
        t.flows[a as usize].up = false;
        assert_eq!(
            originate(&t, &mut buf, 64, 16, &to(FAR), |_| 0),
            Verdict::Drop(DropReason::NextHopDown)
        );
        // An LFA route takes its alternate.
        assert!(matches!(
            originate(&t, &mut buf, 64, 16, &to(0x0A00_0011), |_| 0),
            Verdict::Forward { port: 2, .. }
        ));
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
            (to([0xff; 6], 0), Verdict::Punt(PuntCause::ShimMgmt { from: None })),
            (to(MAC_IN.0, 0), Verdict::Punt(PuntCause::ShimMgmt { from: None })),
        ];
        for (mut f, verdict) in cases {
            let dst = headers(&f).0.dst_addr;
            assert_eq!(run(&t, &mut f, |_| 0), verdict, "to {dst}");
        }
        // A link without an address of its own (a local port) takes all.
        let mut f = to([2, 0, 0, 0, 0, 2], 7);
        let len = f.len();
        assert!(matches!(
            process(&t, on(0, Shim::LOCAL), &mut f, 0, len, |_| 0),
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
        assert_eq!(
            run(&t, &mut f, |_| 0),
            Verdict::Punt(PuntCause::ShimMgmt { from: None })
        );
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
            Verdict::Punt(PuntCause::ShimMgmt { from: None }),
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
        let v = process(&t, on(5, Shim::Udp), &mut buf, 64, len, |_| 0);
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
        let v = process(&t, on(0, ETH), &mut f, 0, len, |_| 0);
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
            process(&t, on(5, Shim::Udp), &mut short, 0, 3, |_| 0),
            Verdict::Drop(DropReason::ShortShimHeader)
        );
        let mut mgmt = [0u8; 47];
        assert_eq!(
            process(&t, on(5, Shim::Udp), &mut mgmt, 0, 47, |_| 0),
            Verdict::Punt(PuntCause::ShimMgmt { from: None })
        );
        // No head room for an Ethernet header in front of a UDP packet.
        let mut tight = vec![0u8; 4 + sdu.len()];
        let mut datagram = UdpDatagram::new_unchecked(&mut tight[..]);
        datagram.set_eid(0x0102_0304);
        datagram.payload_mut().copy_from_slice(sdu);
        let len = tight.len();
        assert_eq!(
            process(&t, on(5, Shim::Udp), &mut tight, 0, len, |_| 0),
            Verdict::Drop(DropReason::NoHeadroom)
        );
    }

    #[test]
    fn a_frame_outside_its_buffer_is_refused() {
        let t = tables();
        let mut buf = [0u8; 32];
        assert_eq!(
            process(&t, on(0, ETH), &mut buf, 20, 20, |_| 0),
            Verdict::Drop(DropReason::ShortFrame)
        );
        assert_eq!(
            process(&t, on(0, ETH), &mut buf, usize::MAX, 2, |_| 0),
            Verdict::Drop(DropReason::ShortFrame)
        );
    }

    /// Port 7: eth-llc, for MAC_IN.
    const LLC: Shim = Shim::EthLlc { mac: Some(MAC_IN) };
    /// Our SAP for the application flow on port 7, and the peer's.
    const SAP: u8 = 12;
    const PEER_SAP: u8 = 34;

    /// An eth-llc frame to MAC_IN from `src`, DSAP `dsap`, SSAP `ssap`.
    fn llc_frame(src: MacAddr, dsap: u8, ssap: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; llc::HEADER_LEN + payload.len()];
        LlcRepr {
            dst_addr: MAC_IN,
            src_addr: src,
            dsap,
            ssap,
            control: llc::CONTROL_UI,
            payload_len: payload.len() as u16,
        }
        .emit(&mut LlcFrame::new_unchecked(&mut f[..]))
        .expect("fits");
        f[llc::HEADER_LEN..].copy_from_slice(payload);
        f
    }

    /// The tables with application flows: eth-dix EID 40 on port 0 from
    /// mac(40); eth-llc SAP 12 on port 7 from (mac(41), SAP 34); UDP EID
    /// 42 on port 5 from 10.9.9.42:3435; and an eth-llc N-1 flow on port 7
    /// (SAP 13, from mac(43) SAP 35) routed like "in".
    fn with_shim_flows() -> (Tables, SocketAddr) {
        let mut t = tables();
        let udp_peer: SocketAddr = "10.9.9.42:3435".parse().unwrap();
        for (port, eid, endpoint, peer) in [
            (0, 40, 3, ShimPeer::Mac(mac(40))),
            (7, u32::from(SAP), 4, ShimPeer::MacSap(mac(41), PEER_SAP)),
            (5, 42, 5, ShimPeer::Udp(udp_peer)),
        ] {
            t.shim_flows.insert(demux_key(port, eid), ShimFlow { endpoint, peer });
        }
        t.add_flow(
            N1Flow {
                name: "llc-in".into(),
                port: 7,
                encap: Encap::EthLlc(EthLlcEncap {
                    dst: mac(43),
                    src: MAC_IN,
                    dsap: 35,
                    ssap: 13,
                }),
                cube: QosCube::BestEffort,
                up: true,
            },
            13,
        );
        (t, udp_peer)
    }

    fn on_llc(t: &Tables, f: &mut [u8]) -> Verdict {
        let len = f.len();
        process(t, on(7, LLC), f, 0, len, |_| 0)
    }

    #[test]
    fn eth_llc_frames_are_checked_and_demuxed_by_their_dsap() {
        let (t, _) = with_shim_flows();
        // Management (SAP 1, 0x80 on the wire), to us or broadcast: punted.
        let mut mgmt = llc_frame(mac(41), llc::MGMT_SAP, llc::MGMT_SAP, b"query");
        assert_eq!(mgmt[14..16], [0x80, 0x80]);
        assert_eq!(on_llc(&t, &mut mgmt), Verdict::Punt(PuntCause::ShimMgmt { from: None }));
        LlcFrame::new_unchecked(&mut mgmt[..]).set_dst_addr(MacAddr::BROADCAST);
        assert_eq!(on_llc(&t, &mut mgmt), Verdict::Punt(PuntCause::ShimMgmt { from: None }));
        // Data for our SAP, padded by the NIC: the payload the length counts.
        let mut data = llc_frame(mac(41), SAP, PEER_SAP, b"sdu");
        data.resize(60, 0);
        assert_eq!(
            on_llc(&t, &mut data),
            Verdict::Deliver {
                endpoint: 4,
                head: 17,
                len: 3
            }
        );
        let broadcast_data = {
            let mut f = llc_frame(mac(41), SAP, PEER_SAP, b"sdu");
            LlcFrame::new_unchecked(&mut f[..]).set_dst_addr(MacAddr::BROADCAST);
            f
        };
        let length = |f: &[u8], l: u16| {
            let mut f = f.to_vec();
            LlcFrame::new_unchecked(&mut f[..]).set_length(l);
            f
        };
        let good = llc_frame(mac(41), SAP, PEER_SAP, b"sdu");
        let cases: [(Vec<u8>, DropReason); 8] = [
            (good[..13].to_vec(), DropReason::ShortFrame),
            (good[..16].to_vec(), DropReason::ShortShimHeader),
            (length(&good, 0xA000), DropReason::WrongEthertype),
            (length(&good, 0x0600), DropReason::WrongEthertype),
            (length(&good, 2), DropReason::BadShimLength),
            (length(&good, 7), DropReason::BadShimLength),
            (broadcast_data, DropReason::MulticastDst),
            (llc_frame(mac(41), 50, PEER_SAP, b"sdu"), DropReason::UnknownFlow),
        ];
        for (mut f, reason) in cases {
            assert_eq!(on_llc(&t, &mut f), Verdict::Drop(reason), "{f:02x?}");
        }
        let mut other = good.clone();
        LlcFrame::new_unchecked(&mut other[..]).set_dst_addr(mac(99));
        assert_eq!(on_llc(&t, &mut other), Verdict::Drop(DropReason::NotForUs));
        // An eth-dix frame on the eth-llc port is not one of its frames.
        let mut dix = frame(7, FAR, 10, 1, b"x");
        assert_eq!(on_llc(&t, &mut dix), Verdict::Drop(DropReason::WrongEthertype));

        // A DT packet on an eth-llc N-1 flow: from its peer's MAC and SAP
        // only, then forwarded as any other.
        let dt = &frame(7, FAR, 10, 1, b"over llc")[dix::FRAME_HEADER_LEN..];
        // (Head room in front: the eth-dix header is one octet longer.)
        let mut buf = vec![0u8; 64];
        buf.extend(llc_frame(mac(43), 13, 35, dt));
        let len = buf.len() - 64;
        assert_eq!(
            process(&t, on(7, LLC), &mut buf, 64, len, |_| 0),
            Verdict::Forward {
                port: 1,
                head: 63,
                len: len + 1,
                to: None
            }
        );
        let (eth, dix) = headers(&buf[63..]);
        assert_eq!((eth.dst_addr, dix.eid), (mac(1), 1001));
        let mut f = llc_frame(mac(43), 13, 35, dt);
        assert_eq!(on_llc(&t, &mut f), Verdict::Drop(DropReason::NoHeadroom), "none");
        for (src, ssap) in [(mac(43), 36), (mac(44), 35)] {
            let mut f = llc_frame(src, 13, ssap, dt);
            assert_eq!(
                on_llc(&t, &mut f),
                Verdict::Drop(DropReason::SpoofedSrc),
                "{src} SAP {ssap}"
            );
        }
    }

    #[test]
    fn application_flows_on_a_shim_are_delivered_from_their_peer_only() {
        let (t, udp_peer) = with_shim_flows();
        // eth-dix: the SDU right after the 18-octet header.
        let mut f = vec![0u8; dix::frame_len(5)];
        let eth = |src| EthRepr {
            dst_addr: MAC_IN,
            src_addr: src,
            ethertype: ETHERTYPE_O7S,
        };
        dix::emit_frame(&mut f, &eth(mac(40)), 40, b"hello").expect("fits");
        assert_eq!(
            run(&t, &mut f, |_| 0),
            Verdict::Deliver {
                endpoint: 3,
                head: 18,
                len: 5
            }
        );
        dix::emit_frame(&mut f, &eth(mac(39)), 40, b"hello").expect("fits");
        assert_eq!(run(&t, &mut f, |_| 0), Verdict::Drop(DropReason::SpoofedSrc));

        // eth-llc: MAC and SSAP both.
        for (src, ssap, verdict) in [
            (
                mac(41),
                PEER_SAP,
                Verdict::Deliver {
                    endpoint: 4,
                    head: 17,
                    len: 2,
                },
            ),
            (mac(41), PEER_SAP + 1, Verdict::Drop(DropReason::SpoofedSrc)),
            (mac(42), PEER_SAP, Verdict::Drop(DropReason::SpoofedSrc)),
        ] {
            let mut f = llc_frame(src, SAP, ssap, b"hi");
            assert_eq!(on_llc(&t, &mut f), verdict, "{src} SAP {ssap}");
        }

        // UDP: the datagram's source address and port.
        let datagram = |eid: u32| {
            let mut d = vec![0u8; 64 + 4 + 3];
            UdpDatagram::new_unchecked(&mut d[64..]).set_eid(eid);
            d[68..].copy_from_slice(b"sdu");
            d
        };
        let other_port: SocketAddr = "10.9.9.42:3436".parse().unwrap();
        let other_host: SocketAddr = "10.9.9.43:3435".parse().unwrap();
        for (from, verdict) in [
            (
                Some(&udp_peer),
                Verdict::Deliver {
                    endpoint: 5,
                    head: 68,
                    len: 3,
                },
            ),
            (Some(&other_port), Verdict::Drop(DropReason::SpoofedSrc)),
            (Some(&other_host), Verdict::Drop(DropReason::SpoofedSrc)),
            (None, Verdict::Drop(DropReason::SpoofedSrc)),
        ] {
            let mut d = datagram(42);
            let at = Arrival {
                port: 5,
                shim: Shim::Udp,
                from,
            };
            assert_eq!(process(&t, at, &mut d, 64, 7, |_| 0), verdict, "from {from:?}");
        }
        // The same EID on another port is another flow (none here).
        let mut d = datagram(42);
        let at = Arrival {
            port: 6,
            shim: Shim::Udp,
            from: Some(&udp_peer),
        };
        assert_eq!(
            process(&t, at, &mut d, 64, 7, |_| 0),
            Verdict::Drop(DropReason::UnknownFlow)
        );
        // Management stays the control plane's, with the sender's address.
        let mut d = datagram(0);
        let at = Arrival {
            port: 5,
            shim: Shim::Udp,
            from: Some(&other_host),
        };
        assert_eq!(
            process(&t, at, &mut d, 64, 7, |_| 0),
            Verdict::Punt(PuntCause::ShimMgmt { from: Some(other_host) })
        );
        // A key in demux and shim_flows alike is the N-1 flow's.
        let mut both = t.clone();
        both.shim_flows.insert(
            demux_key(0, 7),
            ShimFlow {
                endpoint: 9,
                peer: ShimPeer::Mac(mac(0)),
            },
        );
        let mut f = frame(7, FAR, 10, 1, b"x");
        assert!(matches!(run(&both, &mut f, |_| 0), Verdict::Forward { port: 1, .. }));
    }

    #[test]
    fn each_eth_dix_port_has_its_own_ethertype() {
        let t = tables();
        let mut f = frame(7, FAR, 10, 1, b"x");
        EthFrame::new_unchecked(&mut f[..]).set_ethertype(0xA001);
        assert_eq!(run(&t, &mut f, |_| 0), Verdict::Drop(DropReason::WrongEthertype));
        let other = Shim::EthDix {
            mac: Some(MAC_IN),
            ethertype: 0xA001,
        };
        let len = f.len();
        assert!(matches!(
            process(&t, on(0, other), &mut f, 0, len, |_| 0),
            Verdict::Forward { port: 1, .. }
        ));
    }

    #[test]
    fn encapsulate_writes_each_shims_header_just_in_front_of_the_sdu() {
        let sdu = b"payload";
        let at = 64;
        let mut buf = vec![0u8; at + sdu.len()];
        buf[at..].copy_from_slice(sdu);
        let (a, b) = (mac(1), mac(2));

        let dix_encap = Encap::EthDix(EthDixEncap {
            dst: a,
            src: b,
            ethertype: 0xA00B,
            eid: 4000,
        });
        let framed = encapsulate(&mut buf, at, sdu.len(), &dix_encap).expect("room");
        assert_eq!((framed.head, framed.len, framed.to), (at - 18, 18 + sdu.len(), None));
        let (eth, dix, payload) = dix::parse_frame(&buf[framed.head..]).expect("an eth-dix frame");
        assert_eq!((eth.dst_addr, eth.src_addr, eth.ethertype), (a, b, 0xA00B));
        assert_eq!((dix.eid, payload), (4000, &sdu[..]));

        let llc_encap = Encap::EthLlc(EthLlcEncap {
            dst: a,
            src: b,
            dsap: 2,
            ssap: 63,
        });
        let framed = encapsulate(&mut buf, at, sdu.len(), &llc_encap).expect("room");
        assert_eq!((framed.head, framed.len), (at - 17, 17 + sdu.len()));
        let f = &buf[framed.head..];
        assert_eq!(
            f[12..17],
            [0, 10, 0x40, 0xfc, 0x03],
            "length 3 + 7, SAPs bit-reversed, UI"
        );
        let repr = LlcRepr::parse(&LlcFrame::new_checked(f).expect("valid")).expect("valid");
        assert_eq!((repr.dst_addr, repr.src_addr, repr.dsap, repr.ssap), (a, b, 2, 63));

        let peer: SocketAddr = "[2001:db8::9]:3435".parse().unwrap();
        let udp_encap = Encap::Udp(UdpEncap { peer, eid: 0x0A0B_0C0D });
        let framed = encapsulate(&mut buf, at, sdu.len(), &udp_encap).expect("room");
        assert_eq!(
            (framed.head, framed.len, framed.to),
            (at - 4, 4 + sdu.len(), Some(peer))
        );
        assert_eq!(buf[at - 4..at], [0x0A, 0x0B, 0x0C, 0x0D]);
        assert_eq!(&buf[at..], sdu, "the SDU is not touched");

        for encap in [dix_encap, llc_encap, udp_encap] {
            assert_eq!(
                encapsulate(&mut buf, 3, sdu.len(), &encap),
                Err(DropReason::NoHeadroom),
                "{encap:?}"
            );
        }
        let mut big = vec![0u8; 64 + 1600];
        assert_eq!(
            encapsulate(&mut big, 64, 1600, &llc_encap),
            Err(DropReason::TooBig),
            "more than an 802.3 length counts"
        );
        let mut huge = vec![0u8; 64 + 70_000];
        assert_eq!(
            encapsulate(&mut huge, 64, 70_000, &dix_encap),
            Err(DropReason::TooBig),
            "more than the eth-dix length field counts"
        );
    }
}
