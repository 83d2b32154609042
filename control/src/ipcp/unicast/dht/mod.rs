//! The directory of a unicast layer: a Kademlia DHT that maps a name hash
//! to the addresses of the members where the name is registered
//! (PROTOCOL.md §13), spoken as the C prototype speaks it.
//!
//! ```text
//!  register / query / DHT messages (EID 1), time ──► core::Dht ──► messages, answers
//!                                                        │
//!                                          table::Table (contacts by XOR distance)
//! ```
//!
//! | module | job |
//! |---|---|
//! | [`table`] | contacts in buckets by distance |
//! | [`core`] | messages, lookups, values and timers, sans IO |
//! | [`sim`] | a layer's directory in virtual time (tests, `o7s-bench dht`) |

pub mod core;
pub mod sim;
pub mod table;

#[cfg(test)]
mod tests;

pub use self::core::{Dht, DhtConfig, DhtDrop, DhtEvent, LookupStats, QueryId};
