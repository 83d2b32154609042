//! Frames a source ring carries to be sent as they are: what the control
//! plane builds itself (shim management messages) and hands a worker on a
//! ring whose [`Egress`](crate::tables::Egress) has no encapsulation.
//!
//! ```text
//!  Ethernet port (eth-dix, eth-llc):   Desc ─► | whole frame, Ethernet header first |
//!  UDP port:                           Desc ─► | destination (24) | UDP payload (EID word, ...) |
//!                                                └ an address block (crate::addr)
//! ```
//!
//! A UDP datagram needs a destination that the frame does not hold, so it
//! comes in front of it, inside the descriptor, as a punt's header does
//! ([`punt`](crate::punt)): the worker reads it, strips it and sends the
//! rest to that address. The octets are the control plane's own, written
//! once into the pool buffer; nothing is copied on the way out.

use std::net::SocketAddr;

use crate::addr;

/// Octets of the destination in front of a datagram injected on a UDP
/// port.
pub const DEST_LEN: usize = addr::LEN;

/// Why an injected datagram names no destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    #[error("injected datagram of {0} octets is shorter than its destination")]
    Short(usize),
    #[error("injected datagram names no destination")]
    NoAddress,
    #[error(transparent)]
    BadFamily(#[from] addr::BadFamily),
}

/// The octets to write in front of a datagram for `to`.
pub fn dest_header(to: SocketAddr) -> [u8; DEST_LEN] {
    addr::encode(Some(to))
}

/// The destination at the front of `octets` (an injected datagram as the
/// descriptor covers it); the datagram follows it.
pub fn read_dest(octets: &[u8]) -> Result<SocketAddr, InjectError> {
    let block = octets
        .first_chunk::<DEST_LEN>()
        .ok_or(InjectError::Short(octets.len()))?;
    addr::decode(block)?.ok_or(InjectError::NoAddress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_is_read_back_from_in_front_of_the_datagram() {
        let to: SocketAddr = "[2001:db8::2]:3435".parse().unwrap();
        let mut octets = dest_header(to).to_vec();
        octets.extend([0, 0, 0, 0, 1, 2, 3]);
        assert_eq!(read_dest(&octets), Ok(to));
        assert_eq!(read_dest(&octets[..23]), Err(InjectError::Short(23)));
        assert_eq!(read_dest(&addr::encode(None)), Err(InjectError::NoAddress));
        let mut bad = dest_header(to);
        bad[0] = 9;
        assert_eq!(read_dest(&bad), Err(InjectError::BadFamily(addr::BadFamily(9))));
    }
}
