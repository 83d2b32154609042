//! The unicast IPCP's control half (PROTOCOL.md §7–§13), one folder per
//! protocol, each a sans-IO core. So far: link-state routing.
//!
//! | module | what | PROTOCOL.md |
//! |---|---|---|
//! | [`lsr`] | link-state database, flooding, routes by policy (simple, LFA, ECMP) | §12 |

pub mod lsr;
