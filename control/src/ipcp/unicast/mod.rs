//! The unicast IPCP's control half (PROTOCOL.md §7–§13), one folder per
//! protocol, each a sans-IO core. So far: link-state routing and the
//! directory.
//!
//! | module | what | PROTOCOL.md |
//! |---|---|---|
//! | [`lsr`] | link-state database, flooding, routes by policy (simple, LFA, ECMP) | §12 |
//! | [`dht`] | the directory: Kademlia DHT of name hashes to addresses | §13 |

pub mod dht;
pub mod lsr;
