//! The control halves of the IPCPs, one folder per kind, each a sans-IO
//! core driven by a thin task in irmd.
//!
//! | module | IPCP kinds | PROTOCOL.md |
//! |---|---|---|
//! | [`shim`] | eth-dix, eth-llc, udp4, udp6: directory cache, flow allocation, EIDs | §2–§4 |
//! | [`eth`] | eth-dix and eth-llc management frames | §2.1–2.2, §3 |
//! | [`udp`] | udp4 and udp6: the directory (static hosts, DNS) | §4.3 |
//! | [`unicast`] | the unicast layer: link-state routing so far | §7–§13 |

pub mod eth;
pub mod shim;
pub mod udp;
pub mod unicast;
