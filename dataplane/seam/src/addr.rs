//! A socket address in a fixed block of [`LEN`] octets, as the frames
//! that cross the seam carry it in front of themselves: a punt from a UDP
//! port names its sender ([`punt`](crate::punt)), a datagram the control
//! plane sends out of a UDP port names its destination
//! ([`inject`](crate::inject)).
//!
//! ```text
//!  0       1    2         4             8                           24
//! +--------+----+---------+-------------+----------------------------+
//! | family | 0  | port    | scope id    | address (IPv4: 4 octets,   |
//! | 0/4/6  |    | BE      | BE (IPv6)   |  then 12 zero octets)      |
//! +--------+----+---------+-------------+----------------------------+
//!  family 0: no address (a frame from an Ethernet port); the rest is zero
//! ```
//!
//! IPv6 flow information is not kept: a peer is its address, port and
//! scope.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Octets of an address block.
pub const LEN: usize = 24;

const NONE: u8 = 0;
const V4: u8 = 4;
const V6: u8 = 6;

/// An address block that names no address the seam knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown address family {0} in an address block")]
pub struct BadFamily(pub u8);

/// The block for `addr` (`None`: no address).
pub fn encode(addr: Option<SocketAddr>) -> [u8; LEN] {
    let mut b = [0; LEN];
    let Some(addr) = addr else {
        return b;
    };
    b[2..4].copy_from_slice(&addr.port().to_be_bytes());
    match addr {
        SocketAddr::V4(a) => {
            b[0] = V4;
            b[8..12].copy_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            b[0] = V6;
            b[4..8].copy_from_slice(&a.scope_id().to_be_bytes());
            b[8..24].copy_from_slice(&a.ip().octets());
        }
    }
    b
}

/// The address a block names (`None`: none).
pub fn decode(b: &[u8; LEN]) -> Result<Option<SocketAddr>, BadFamily> {
    let port = u16::from_be_bytes([b[2], b[3]]);
    let mut ip = [0; 16];
    ip.copy_from_slice(&b[8..24]);
    match b[0] {
        NONE => Ok(None),
        V4 => {
            let v4 = Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]);
            Ok(Some(SocketAddr::new(IpAddr::V4(v4), port)))
        }
        V6 => {
            let scope = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            Ok(Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                0,
                scope,
            ))))
        }
        other => Err(BadFamily(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_both_families_and_none_round_trip() {
        let cases: [Option<SocketAddr>; 4] = [
            None,
            Some("192.0.2.7:3435".parse().unwrap()),
            Some("[2001:db8::1]:9".parse().unwrap()),
            Some(SocketAddr::V6(SocketAddrV6::new(
                "fe80::2".parse().unwrap(),
                3435,
                0,
                7,
            ))),
        ];
        for addr in cases {
            assert_eq!(decode(&encode(addr)), Ok(addr), "{addr:?}");
        }
        let v4 = encode(Some("10.0.0.2:3435".parse().unwrap()));
        assert_eq!(
            v4,
            [
                4, 0, 0x0d, 0x6b, 0, 0, 0, 0, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        assert_eq!(encode(None), [0; LEN]);
    }

    #[test]
    fn an_unknown_family_is_refused() {
        let mut b = encode(None);
        b[0] = 5;
        assert_eq!(decode(&b), Err(BadFamily(5)));
    }
}
