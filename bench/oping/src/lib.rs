//! oping and oecho without the flows: everything the two tools do that does
//! not depend on how SDUs travel, so the flow-based binaries are thin loops
//! and the behaviour is tested here in virtual time.
//!
//! | module | what it is | C prototype |
//! |---|---|---|
//! | [`message`] | the oping message (PROTOCOL.md §19.4), encode/decode, the server's in-place reply | `struct oping_msg` |
//! | [`stats`] | the client's bookkeeping and its summary lines | `update_rtt_stats`, `print_stats` |
//! | [`args`] | the oping command line | `main()` in `oping.c` |
//! | [`client`] | sans-IO client: when to send, what a reply means, when to give up | `oping_client.c` |
//! | [`server`] | sans-IO server: which SDUs get an answer, which flows are idle | `oping_server.c` |
//! | [`echo`] | oecho: its command line and its one-message exchange | `oecho.c` |
//!
//! Time is passed in as a [`Duration`](core::time::Duration) since an epoch
//! the caller chooses (a monotonic clock for the client, as the C tool's
//! `CLOCK_MONOTONIC`); nothing here reads a clock or touches a flow.
#![forbid(unsafe_code)]

pub mod args;
pub mod client;
pub mod echo;
pub mod message;
pub mod server;
pub mod stats;

pub use args::{ArgError, ClientConfig, Mode, OpingArgs, ServerConfig, ServerWait};
pub use client::{Client, ClientError, ClientParams, Outcome, Pacing, Reply, ReplyLine};
pub use message::{HEADER_LEN, Message, MessageError, MessageType, SduSize, SduSizeError, reply_in_place};
pub use server::Server;
pub use stats::{ReplyKind, RttSummary, Stats, UnknownId};
