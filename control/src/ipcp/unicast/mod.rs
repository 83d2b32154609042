//! The unicast IPCP's control half (PROTOCOL.md §7–§13), one folder per
//! protocol, each a sans-IO core. So far: CACEP, enrolment, the flow
//! allocator, link-state routing and the directory.
//!
//! | module | what | PROTOCOL.md |
//! |---|---|---|
//! | [`cacep`] | the first message on a connection-manager flow: which component | §10 |
//! | [`enroll`] | enrolment: the layer's configuration to a new member | §11 |
//! | [`fa`] | the flow allocator: flow requests, replies and updates | §8, §9 |
//! | [`lsr`] | link-state database, flooding, routes by policy (simple, LFA, ECMP) | §12 |
//! | [`dht`] | the directory: Kademlia DHT of name hashes to addresses | §13 |

pub mod cacep;
pub mod dht;
pub mod enroll;
pub mod fa;
pub mod lsr;
pub mod member;
