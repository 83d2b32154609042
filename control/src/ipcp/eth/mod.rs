//! What the Ethernet shims (eth-dix, eth-llc) add to the shared shim core:
//! their management frames (PROTOCOL.md §2.1–2.2, §3). Data frames are the
//! dataplane's; the control half only sends and receives management.
//!
//! ```text
//!  eth-dix: dst src ethertype | EID 0  length | management message
//!  eth-llc: dst src 802.3-len | DSAP 1 SSAP 1 UI | management message
//! ```

use o7s_wire::eth::{self, EthRepr, MacAddr};
use o7s_wire::llc::{self, LlcFrame, LlcRepr};
use o7s_wire::shim_mgmt::{Framing, ShimMgmt};
use o7s_wire::{Result, WireError, dix};

/// Which Ethernet shim, and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EthShim {
    /// eth-dix with this Ethertype.
    Dix { ethertype: u16 },
    /// eth-llc.
    Llc,
}

impl EthShim {
    /// How the management message is laid out.
    pub const fn framing(self) -> Framing {
        match self {
            EthShim::Dix { .. } => Framing::EthDix,
            EthShim::Llc => Framing::EthLlc,
        }
    }

    /// Writes a management frame from `src` to `dst` at the start of
    /// `buf`; returns its length (before the NIC's padding).
    pub fn emit_mgmt(self, buf: &mut [u8], dst: MacAddr, src: MacAddr, msg: &ShimMgmt<'_>) -> Result<usize> {
        match self {
            EthShim::Dix { ethertype } => {
                let eth = EthRepr {
                    dst_addr: dst,
                    src_addr: src,
                    ethertype,
                };
                dix::emit_mgmt_frame(buf, &eth, msg)
            }
            EthShim::Llc => {
                let body = Framing::EthLlc.buffer_len(msg);
                let len = llc::HEADER_LEN + body;
                if buf.len() < len {
                    return Err(WireError::Truncated {
                        need: len,
                        have: buf.len(),
                    });
                }
                let payload_len = u16::try_from(body).map_err(|_| WireError::TooLong {
                    len: body,
                    max: llc::MAX_PAYLOAD_LEN,
                })?;
                let repr = LlcRepr {
                    dst_addr: dst,
                    src_addr: src,
                    dsap: llc::MGMT_SAP,
                    ssap: llc::MGMT_SAP,
                    control: llc::CONTROL_UI,
                    payload_len,
                };
                Framing::EthLlc.emit(msg, &mut buf[llc::HEADER_LEN..len])?;
                repr.emit(&mut LlcFrame::new_unchecked(&mut buf[..len]))?;
                Ok(len)
            }
        }
    }

    /// Reads a management frame this shim's port received: its source and
    /// its message. Refuses frames of another shim or Ethertype, data
    /// frames, and messages that do not parse.
    pub fn parse_mgmt(self, frame: &[u8], hash_len: usize) -> Result<(MacAddr, ShimMgmt<'_>)> {
        match self {
            EthShim::Dix { ethertype } => {
                let (eth, hdr, payload) = dix::parse_frame(frame)?;
                if eth.ethertype != ethertype || hdr.eid != dix::MGMT_EID {
                    return Err(WireError::Invalid {
                        what: "not an eth-dix management frame of this layer",
                    });
                }
                Ok((eth.src_addr, Framing::EthDix.parse(payload, hash_len)?))
            }
            EthShim::Llc => {
                let view = LlcFrame::new_checked(frame)?;
                let repr = LlcRepr::parse(&view)?;
                if repr.dsap != llc::MGMT_SAP || repr.ssap != llc::MGMT_SAP {
                    return Err(WireError::Invalid {
                        what: "not an eth-llc management frame",
                    });
                }
                let payload = &frame[llc::HEADER_LEN..llc::HEADER_LEN + usize::from(repr.payload_len)];
                Ok((repr.src_addr, Framing::EthLlc.parse(payload, hash_len)?))
            }
        }
    }
}

/// The Ethernet header length every shim frame starts with.
pub const ETH_HEADER_LEN: usize = eth::HEADER_LEN;

#[cfg(test)]
mod tests {
    use o7s_wire::qos::QosSpec;

    use super::*;

    #[test]
    fn management_frames_of_both_shims_round_trip_and_refuse_the_other() {
        let (a, b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
        let hash = [7u8; 32];
        let msgs = [
            ShimMgmt::NameQuery { hash: &hash },
            ShimMgmt::FlowReq {
                requester: 9,
                qos: QosSpec::VOICE,
                hash: &hash,
                data: b"oap",
            },
            ShimMgmt::FlowReply {
                requester: 9,
                responder: 10,
                response: 0,
                data: b"oap response",
            },
        ];
        for shim in [EthShim::Dix { ethertype: 0xA000 }, EthShim::Llc] {
            for msg in &msgs {
                let mut buf = [0u8; 256];
                let n = shim.emit_mgmt(&mut buf, b, a, msg).unwrap();
                assert_eq!(shim.parse_mgmt(&buf[..n], 32).unwrap(), (a, *msg), "{shim:?}");
                // Padded to the Ethernet minimum, it still reads the same.
                let padded = &buf[..n.max(eth::MIN_FRAME_LEN)];
                assert_eq!(shim.parse_mgmt(padded, 32).unwrap().1, *msg);
            }
        }
        let mut buf = [0u8; 256];
        let n = EthShim::Dix { ethertype: 0xA000 }
            .emit_mgmt(&mut buf, b, a, &msgs[0])
            .unwrap();
        assert!(EthShim::Dix { ethertype: 0xA001 }.parse_mgmt(&buf[..n], 32).is_err());
        assert!(EthShim::Llc.parse_mgmt(&buf[..n], 32).is_err());
        assert!(EthShim::Dix { ethertype: 0xA000 }.parse_mgmt(&buf[..10], 32).is_err());
        // SAP 2 is a data SAP.
        let n = EthShim::Llc.emit_mgmt(&mut buf, b, a, &msgs[0]).unwrap();
        buf[14] = 0x40;
        assert!(EthShim::Llc.parse_mgmt(&buf[..n], 32).is_err());
    }
}
