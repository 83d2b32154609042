//! o7s-lab: labs of o7s systems on one host. Each system is a network
//! namespace with its own irmd and runtime directory; links are veth pairs
//! with optional netem; a scenario runs commands on the systems and checks
//! what they show.
//!
//! ```text
//!   lab.toml ──► Topology ──► Lab::up ──────────────► Scenario ──► teardown
//!               (topology,    namespaces, veths,      steps on       processes, namespaces,
//!                placeholder)  addresses, netem,       systems        runtime dirs, state
//!                              irmd per system         (scenario,     (lab; also down and
//!                              (network, process)       expect)        cleanup from state)
//! ```
//!
//! | module | job |
//! |---|---|
//! | [`topology`] | the lab file, parsed and checked without I/O |
//! | [`placeholder`] | `${link.ab.a.dev}` and friends in command lines |
//! | [`expect`] | a step's expectations checked against its outcome |
//! | [`state`] | what a lab instance has made, on disk, and its lock |
//! | [`network`] | namespaces, veth links, addresses, netem |
//! | [`process`] | commands in a namespace: process groups, output, irmd |
//! | [`scenario`] | running the steps |
//! | [`lab`] | up, down, run, status, cleanup |
//! | [`report`] | what the user sees as the lab runs |
//! | [`bins`] | where irmd, irm and oping are |

pub mod bins;
pub mod expect;
pub mod lab;
pub mod network;
pub mod placeholder;
pub mod process;
pub mod report;
pub mod scenario;
pub mod state;
pub mod topology;

pub use lab::{Lab, LabError, Options};
pub use topology::Topology;
