//! The frames the generator sends: built once per measurement, then only
//! the stamp (sequence number and send time) changes per packet.
//!
//! ```text
//!  o7s (ours, xdp_redirect): 18 + 15 = 33 octets of headers, stamp at 33
//!  +-----+-----+--------+-----+--------+-------------------------------+--------+-------+-----+
//!  | dst | src | 0xA000 | EID | length | DT: dst, qos, ttl 60, ecn, eid | seq LE | ts LE | pad |
//!  +-----+-----+--------+-----+--------+-------------------------------+--------+-------+-----+
//!   Ethernet         eth-dix shim          DT header (addr 4, eid 8)      stamp (16)
//!
//!  IPv4/UDP (kernel): 14 + 20 + 8 = 42 octets of headers, stamp at 42
//!  +-----+-----+--------+-------------------------+----------------------+--------+-------+-----+
//!  | dst | src | 0x0800 | IPv4, TTL 64, proto UDP | UDP dport 3435, no csum | seq LE | ts LE | pad |
//!  +-----+-----+--------+-------------------------+----------------------+--------+-------+-----+
//! ```
//!
//! `len` is the frame on the wire without its FCS; the payload is padded to
//! it. The length fields (eth-dix `length`, IPv4 total length, UDP length)
//! cover the padding too, so that every hop forwards the whole frame.

use o7s_wire::dix;
use o7s_wire::dt::{DtHeader, DtLayout, DtRepr};
use o7s_wire::eth::{self, EthRepr, MacAddr};

/// Octets of the stamp: sequence number and send time, both little-endian.
pub const STAMP_LEN: usize = 16;
/// Shortest frame the generator builds (the Ethernet minimum without FCS).
pub const MIN_LEN: usize = eth::MIN_FRAME_LEN;
/// Longest: a 1500-octet MTU plus the Ethernet header.
pub const MAX_LEN: usize = 1514;

const ETHERTYPE_IPV4: u16 = 0x0800;
const IPV4_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;
const IPPROTO_UDP: u8 = 17;

/// What the frames carry, which decides where the stamp is and how a
/// receiver recognises them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// eth-dix shim + DT header: what o7s forwards.
    O7s,
    /// IPv4 + UDP: what Linux forwards.
    Ipv4Udp,
}

impl Format {
    /// Offset of the stamp in the frame (the same after every hop: the
    /// forwarders rewrite headers in place).
    pub const fn stamp_at(self) -> usize {
        match self {
            Format::O7s => dix::FRAME_HEADER_LEN + DtLayout::DEFAULT.header_len(),
            Format::Ipv4Udp => eth::HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN,
        }
    }

    /// Whether `frame` is one of ours, as far as its headers tell.
    pub fn matches(self, frame: &[u8], udp_port: u16) -> bool {
        if frame.len() < self.stamp_at() + STAMP_LEN {
            return false;
        }
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        match self {
            Format::O7s => ethertype == o7s_wire::eth::ETHERTYPE_O7S,
            Format::Ipv4Udp => {
                ethertype == ETHERTYPE_IPV4
                    && frame[14 + 9] == IPPROTO_UDP
                    && u16::from_be_bytes([frame[36], frame[37]]) == udp_port
            }
        }
    }
}

/// One frame, ready to be copied into every buffer of the generator's pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub format: Format,
    pub bytes: Vec<u8>,
}

/// Who a frame goes from and to, at each layer.
#[derive(Debug, Clone, Copy)]
pub struct O7sAddressing {
    pub dst_mac: MacAddr,
    pub src_mac: MacAddr,
    /// eth-dix EID of the N-1 flow the router receives on.
    pub shim_eid: u16,
    /// DT destination address (the sink's).
    pub dst: u64,
    /// DT endpoint id at the destination.
    pub eid: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Ipv4Addressing {
    pub dst_mac: MacAddr,
    pub src_mac: MacAddr,
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub udp_port: u16,
}

fn check_len(len: usize, format: Format) -> Result<(), String> {
    if !(MIN_LEN..=MAX_LEN).contains(&len) || len < format.stamp_at() + STAMP_LEN {
        return Err(format!("frame size {len} octets is outside {MIN_LEN}..={MAX_LEN}"));
    }
    Ok(())
}

impl Template {
    /// An eth-dix frame of `len` octets carrying a DT PDU (TTL 60, QoS 0).
    pub fn o7s(len: usize, a: &O7sAddressing) -> Result<Template, String> {
        check_len(len, Format::O7s)?;
        let layout = DtLayout::DEFAULT;
        let mut sdu = vec![0u8; len - dix::FRAME_HEADER_LEN];
        DtRepr {
            dst: a.dst,
            qos: 0,
            ttl: o7s_wire::dt::DEFAULT_MAX_TTL,
            ecn: 0,
            eid: a.eid,
        }
        .emit(&mut DtHeader::new_unchecked(&mut sdu[..layout.header_len()], layout));
        let mut bytes = vec![0u8; len];
        let eth = EthRepr {
            dst_addr: a.dst_mac,
            src_addr: a.src_mac,
            ethertype: o7s_wire::eth::ETHERTYPE_O7S,
        };
        let written = dix::emit_frame(&mut bytes, &eth, a.shim_eid, &sdu).map_err(|e| e.to_string())?;
        debug_assert_eq!(written, len);
        Ok(Template {
            format: Format::O7s,
            bytes,
        })
    }

    /// An IPv4/UDP frame of `len` octets (TTL 64, no UDP checksum, which
    /// IPv4 allows, so that the stamp can change without touching it).
    pub fn ipv4_udp(len: usize, a: &Ipv4Addressing) -> Result<Template, String> {
        check_len(len, Format::Ipv4Udp)?;
        let mut f = vec![0u8; len];
        f[0..6].copy_from_slice(&a.dst_mac.0);
        f[6..12].copy_from_slice(&a.src_mac.0);
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let ip_len = (len - eth::HEADER_LEN) as u16;
        let ip = &mut f[14..14 + IPV4_HEADER_LEN];
        ip[0] = 0x45; // version 4, 5 words
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
        ip[8] = 64;
        ip[9] = IPPROTO_UDP;
        ip[12..16].copy_from_slice(&a.src);
        ip[16..20].copy_from_slice(&a.dst);
        let sum = ipv4_checksum(ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let udp = &mut f[34..42];
        udp[0..2].copy_from_slice(&a.udp_port.to_be_bytes());
        udp[2..4].copy_from_slice(&a.udp_port.to_be_bytes());
        udp[4..6].copy_from_slice(&(ip_len - IPV4_HEADER_LEN as u16).to_be_bytes());
        Ok(Template {
            format: Format::Ipv4Udp,
            bytes: f,
        })
    }
}

/// The Internet checksum of an IPv4 header whose checksum field is zero.
fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes the stamp into a frame built from a template of `format`.
#[inline]
pub fn stamp(frame: &mut [u8], format: Format, seq: u64, sent_ns: u64) {
    let at = format.stamp_at();
    frame[at..at + 8].copy_from_slice(&seq.to_le_bytes());
    frame[at + 8..at + 16].copy_from_slice(&sent_ns.to_le_bytes());
}

/// The (sequence number, send time) of a received frame of `format`.
#[inline]
pub fn read_stamp(frame: &[u8], format: Format) -> Option<(u64, u64)> {
    let at = format.stamp_at();
    let seq = frame.get(at..at + 8)?.try_into().ok().map(u64::from_le_bytes)?;
    let ts = frame.get(at + 8..at + 16)?.try_into().ok().map(u64::from_le_bytes)?;
    Some((seq, ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn o7s(len: usize) -> Template {
        Template::o7s(
            len,
            &O7sAddressing {
                dst_mac: B,
                src_mac: A,
                shim_eid: 100,
                dst: 0x0A00_0003,
                eid: 64,
            },
        )
        .unwrap()
    }

    fn ipv4(len: usize) -> Template {
        Template::ipv4_udp(
            len,
            &Ipv4Addressing {
                dst_mac: B,
                src_mac: A,
                src: [10, 77, 1, 1],
                dst: [10, 77, 2, 2],
                udp_port: 3435,
            },
        )
        .unwrap()
    }

    #[test]
    fn o7s_frames_are_eth_dix_with_a_dt_header_whose_length_covers_the_padding() {
        for len in [60, 64, 1500, 1514] {
            let t = o7s(len);
            assert_eq!(t.bytes.len(), len);
            let (eth, shim, sdu) = dix::parse_frame(&t.bytes).unwrap();
            assert_eq!((eth.dst_addr, eth.src_addr, eth.ethertype), (B, A, 0xA000));
            assert_eq!(shim.eid, 100);
            assert_eq!(
                sdu.len(),
                len - dix::FRAME_HEADER_LEN,
                "length field covers the whole frame"
            );
            let dt = DtRepr::parse(&DtHeader::new_checked(sdu, DtLayout::DEFAULT).unwrap()).unwrap();
            assert_eq!((dt.dst, dt.ttl, dt.eid, dt.qos), (0x0A00_0003, 60, 64, 0));
            assert!(Format::O7s.matches(&t.bytes, 3435));
            assert!(!Format::Ipv4Udp.matches(&t.bytes, 3435));
        }
    }

    #[test]
    fn ipv4_frames_have_a_valid_header_checksum_and_lengths_to_the_frame_end() {
        let t = ipv4(64);
        assert_eq!(t.bytes.len(), 64);
        // A header with its checksum in place sums to 0xffff: the checksum of it is 0.
        assert_eq!(ipv4_checksum(&t.bytes[14..34]), 0);
        assert_eq!(u16::from_be_bytes([t.bytes[16], t.bytes[17]]), 50, "IPv4 total length");
        assert_eq!(u16::from_be_bytes([t.bytes[38], t.bytes[39]]), 30, "UDP length");
        assert!(Format::Ipv4Udp.matches(&t.bytes, 3435));
        assert!(!Format::Ipv4Udp.matches(&t.bytes, 3436));
        assert!(!Format::O7s.matches(&t.bytes, 3435));
    }

    #[test]
    fn checksum_matches_a_worked_example() {
        // The header from RFC 1071-style worked examples (Wikipedia's IPv4
        // header checksum example): checksum 0xb861.
        let header = hex_header("450000730000400040110000c0a80001c0a800c7");
        assert_eq!(ipv4_checksum(&header), 0xb861);
    }

    fn hex_header(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn the_stamp_round_trips_and_sits_after_the_headers() {
        for t in [o7s(64), ipv4(64), o7s(1500), ipv4(1500)] {
            let mut f = t.bytes.clone();
            stamp(&mut f, t.format, 0x0102_0304_0506_0708, 99_000_000_123);
            assert_eq!(read_stamp(&f, t.format), Some((0x0102_0304_0506_0708, 99_000_000_123)));
            let at = t.format.stamp_at();
            assert_eq!(&f[..at], &t.bytes[..at], "headers untouched");
            assert_eq!(&f[at + STAMP_LEN..], &t.bytes[at + STAMP_LEN..], "padding untouched");
        }
        assert_eq!(Format::O7s.stamp_at(), 33);
        assert_eq!(Format::Ipv4Udp.stamp_at(), 42);
    }

    #[test]
    fn sizes_outside_an_ethernet_frame_are_refused() {
        let a = O7sAddressing {
            dst_mac: B,
            src_mac: A,
            shim_eid: 1,
            dst: 1,
            eid: 64,
        };
        assert!(Template::o7s(59, &a).is_err());
        assert!(Template::o7s(1515, &a).is_err());
    }
}
