//! Link-state routing (PROTOCOL.md §12): what each member knows of the
//! layer's links and where it sends each destination's packets.
//!
//! ```text
//!  neighbours up/down, LSMs in, time ──► db::Lsdb ──► LSMs out, Recompute
//!                                           │
//!                       adjacencies ──► graph::Graph::routes(own, policy) ──► Routes
//! ```
//!
//! | module | job |
//! |---|---|
//! | [`db`] | the database and its flooding, sans IO |
//! | [`graph`] | the graph of the database; next hops by policy |
//! | [`sim`] | a layer of databases in virtual time (tests, `o7s-bench lsr`) |

pub mod db;
pub mod graph;
pub mod sim;

#[cfg(test)]
mod tests;

pub use db::{Lsdb, LsmDrop, LsrEvent, LsrTimers, MgmtNb};
pub use graph::{Addr, Graph, Policy, Routes};
