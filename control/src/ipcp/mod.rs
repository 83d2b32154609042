//! The control halves of the IPCPs, one folder per kind, each a sans-IO
//! core driven by a thin task in irmd.
//!
//! | module | IPCP kinds | PROTOCOL.md |
//! |---|---|---|
//! | [`shim`] | eth-dix, eth-llc, udp4, udp6: directory cache, flow allocation, EIDs | §2–§4 |

pub mod shim;
pub mod udp;
