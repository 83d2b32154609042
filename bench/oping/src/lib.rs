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
//!
//! The package's two binaries are those loops, over `o7s-app` flows:
//!
//! | binary | what it runs | threads |
//! |---|---|---|
//! | `oping` (`src/bin/oping.rs`) | [`Client`]: `-i` pacing, or `-f`/`-F` flood | a writer and a reader sharing the client behind a mutex; flood in one thread, send then read |
//! | `oping --listen` | [`Server`] on every accepted flow | an accept loop and one thread per flow (blocking reads with the idle deadline as timeout; `--poll` spins on non-blocking reads); `--busy` serves one flow in the main thread |
//! | `oecho` / `oecho --listen` | [`echo`] | one |
//!
//! Both find irmd through `O7S_RUNDIR`, print what these modules format
//! on stdout and errors as `oping: …` / `oecho: …` on stderr, and exit 1
//! when no flow could be had.
#![forbid(unsafe_code)]

pub mod args;
pub mod client;
pub mod echo;
pub mod message;
pub mod server;
pub mod stats;

pub use args::{ArgError, ClientConfig, Mode, OpingArgs, ServerConfig, ServerWait};

/// The binaries' logging: the library's warnings (odd messages from irmd)
/// on stderr; `RUST_LOG` overrides the level.
pub fn log_to_stderr() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
pub use client::{Client, ClientError, ClientParams, Outcome, Pacing, Reply, ReplyLine};
pub use message::{HEADER_LEN, Message, MessageError, MessageType, SduSize, SduSizeError, reply_in_place};
pub use server::Server;
pub use stats::{ReplyKind, RttSummary, Stats, UnknownId};
