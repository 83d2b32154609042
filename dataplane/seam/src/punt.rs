//! What a worker hands the control plane: frames it must not decide on.
//!
//! A frame is punted when it is management traffic — a shim management
//! message (shim EID 0 on eth-dix and UDP, SAP 1 on eth-llc: name queries,
//! flow requests and replies), or a DT packet to this member for one of
//! the layer's own components (EID < 64: flow allocator, DHT, enrolment,
//! link state). The worker sends the buffer on its punt ring (a descriptor
//! ring of the packet memory), the frame whole and untouched beyond the DT
//! TTL, with a [`Punt`] header in the octets just in front of it, taken
//! from the buffer's head room:
//!
//! ```text
//!  buffer:  head room ... | punt header (32) | frame as received (shim header, ...) | tail
//!                         ^ Desc head        ^ Punt::frame head
//!  punt header: port u16 | cause u8 | 0 u8 | flow u32 | sender: address block (24)   (big-endian)
//!               cause 0 = shim management (flow 0), 1 = layer management on N-1 flow `flow`
//!               sender: the UDP source address of a shim management datagram from a UDP
//!               port (crate::addr); family 0 (none) for everything else
//! ```
//!
//! So a punt is one descriptor ([`Desc`]): which buffer, where the header
//! starts, how long header and frame are; reading the header says which
//! port (hence which shim IPCP), which N-1 flow (hence which neighbour) or
//! which UDP peer the frame came from. No copy, no second ring, and the
//! control plane needs no table lookup to route it to the IPCP that takes
//! it. The header has one length whatever the cause: the frame always
//! starts [`HEADER_LEN`] octets after the descriptor's head.

use std::net::SocketAddr;

use o7s_mem::Desc;

use crate::addr;
use crate::tables::{FlowId, PortId};

/// Octets of the punt header in front of the frame.
pub const HEADER_LEN: usize = 8 + addr::LEN;

/// Why a frame came to the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PuntCause {
    /// A shim management message (shim EID 0, eth-llc SAP 1): for the shim
    /// IPCP of the port. `from` is the sender's address when the port is a
    /// UDP port (the UDP shim answers a request at its source address);
    /// `None` on Ethernet ports, whose frames name their sender.
    ShimMgmt { from: Option<SocketAddr> },
    /// A DT packet to this member for a layer component (EID < 64), which
    /// arrived on N-1 flow `flow`.
    LayerMgmt { flow: FlowId },
}

/// A punted frame: where it came from, why, and where it lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Punt {
    /// The port it arrived on.
    pub port: PortId,
    pub cause: PuntCause,
    /// The frame, as received: its buffer, and where it lies in it.
    pub frame: Desc,
}

/// Why a descriptor from a punt ring is not a [`Punt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PuntError {
    #[error("punted buffer of {0} octets is shorter than the punt header")]
    Short(usize),
    #[error("unknown punt cause {0}")]
    UnknownCause(u8),
    #[error(transparent)]
    BadSender(#[from] addr::BadFamily),
}

impl Punt {
    /// Writes the header for this punt (the frame's descriptor is not in
    /// it: the header sits just in front of the frame).
    pub fn header(port: PortId, cause: PuntCause) -> [u8; HEADER_LEN] {
        let (code, flow, from) = match cause {
            PuntCause::ShimMgmt { from } => (0, 0, from),
            PuntCause::LayerMgmt { flow } => (1, flow, None),
        };
        let mut h = [0; HEADER_LEN];
        h[0..2].copy_from_slice(&port.to_be_bytes());
        h[2] = code;
        h[4..8].copy_from_slice(&flow.to_be_bytes());
        h[8..].copy_from_slice(&addr::encode(from));
        h
    }

    /// Reads a punt from what came off the punt ring: the descriptor and
    /// the octets it covers (header, then frame).
    pub fn read(desc: Desc, octets: &[u8]) -> Result<Punt, PuntError> {
        let Some((h, _)) = octets.split_first_chunk::<HEADER_LEN>() else {
            return Err(PuntError::Short(octets.len()));
        };
        let Some(frame_len) = desc.len().checked_sub(HEADER_LEN as u16) else {
            return Err(PuntError::Short(desc.len().into()));
        };
        let port = PortId::from_be_bytes([h[0], h[1]]);
        let flow = FlowId::from_be_bytes([h[4], h[5], h[6], h[7]]);
        // In range: HEADER_LEN = 8 + addr::LEN.
        let sender = h[8..]
            .first_chunk::<{ addr::LEN }>()
            .ok_or(PuntError::Short(octets.len()))?;
        let from = addr::decode(sender)?;
        let cause = match h[2] {
            0 => PuntCause::ShimMgmt { from },
            1 => PuntCause::LayerMgmt { flow },
            other => return Err(PuntError::UnknownCause(other)),
        };
        let head = desc.head().saturating_add(HEADER_LEN as u16);
        let frame = Desc::new(desc.index(), head, frame_len);
        Ok(Punt { port, cause, frame })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_punt_header_round_trips_and_the_frame_follows_it() {
        let causes = [
            PuntCause::ShimMgmt { from: None },
            PuntCause::ShimMgmt {
                from: Some("10.0.0.2:3435".parse().unwrap()),
            },
            PuntCause::ShimMgmt {
                from: Some("[2001:db8::2]:3435".parse().unwrap()),
            },
            PuntCause::LayerMgmt { flow: 0x0102_0304 },
        ];
        for cause in causes {
            let mut octets = Punt::header(513, cause).to_vec();
            octets.extend(b"frame");
            let desc = Desc::new(7, 200, octets.len() as u16);
            assert_eq!(
                Punt::read(desc, &octets),
                Ok(Punt {
                    port: 513,
                    cause,
                    frame: Desc::new(7, 232, 5)
                }),
                "{cause:?}"
            );
        }
        let h = Punt::header(1, PuntCause::LayerMgmt { flow: 2 });
        assert_eq!(h[..8], [0, 1, 1, 0, 0, 0, 0, 2]);
        assert_eq!(h[8..], [0; addr::LEN], "no sender");
        let h = Punt::header(
            1,
            PuntCause::ShimMgmt {
                from: Some("192.0.2.1:3435".parse().unwrap()),
            },
        );
        assert_eq!(h[..12], [0, 1, 0, 0, 0, 0, 0, 0, 4, 0, 0x0d, 0x6b], "an IPv4 sender");
        assert_eq!(h[16..20], [192, 0, 2, 1]);
    }

    #[test]
    fn a_short_buffer_an_unknown_cause_or_sender_is_refused() {
        assert_eq!(Punt::read(Desc::new(0, 0, 31), &[0; 31]), Err(PuntError::Short(31)));
        let mut h = Punt::header(1, PuntCause::ShimMgmt { from: None });
        h[2] = 9;
        assert_eq!(Punt::read(Desc::new(0, 0, 32), &h), Err(PuntError::UnknownCause(9)));
        let mut h = Punt::header(1, PuntCause::ShimMgmt { from: None });
        h[8] = 5;
        assert_eq!(
            Punt::read(Desc::new(0, 0, 32), &h),
            Err(PuntError::BadSender(addr::BadFamily(5)))
        );
    }
}
