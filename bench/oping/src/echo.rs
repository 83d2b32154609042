//! oecho: one message there and back (`oecho.c`).
//!
//! ```text
//!   client                                   server (oecho --listen)
//!   flow_alloc("oecho", raw) ───────────────▶ flow_accept
//!   write "Client says hi!\0" (16 octets) ──▶ read ≤ 256 octets
//!                                             print "Message from client is …."
//!   read ≤ 256 octets ◀───────────────────── write the same octets
//!   print "Server replied with …"             flow_dealloc; accept the next
//!   flow_dealloc
//! ```
//!
//! The text is a C string: the NUL travels on the wire and the C tools
//! print up to it (`%.*s`). The server reads with a 256-octet buffer and
//! partial reads on, so of a longer SDU it echoes the first 256 octets.

use std::borrow::Cow;

use clap::Parser;

/// The name the oecho client allocates a flow to; not configurable in C.
pub const SERVER_NAME: &str = "oecho";

/// Buffer both C oecho sides read into (`BUF_SIZE`).
pub const BUF_SIZE: usize = 256;

/// What the client sends: its greeting with the terminating NUL.
pub const GREETING: &[u8] = b"Client says hi!\0";

/// oecho's command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "oecho", about = "Sends an echo between a server and a client")]
pub struct OechoArgs {
    /// Run in server mode
    #[arg(short = 'l', long)]
    pub listen: bool,
}

/// What the server sends back for an SDU it read: the octets its 256-octet
/// read returned, unchanged.
pub fn reply(received: &[u8]) -> &[u8] {
    &received[..received.len().min(BUF_SIZE)]
}

/// An SDU as the C tools print it: up to the first NUL, invalid UTF-8
/// replaced.
pub fn text(sdu: &[u8]) -> Cow<'_, str> {
    let end = sdu.iter().position(|&b| b == 0).unwrap_or(sdu.len());
    String::from_utf8_lossy(&sdu[..end])
}

/// The server's line for a message (`Message from client is %.*s.`).
pub fn server_line(received: &[u8]) -> String {
    format!("Message from client is {}.", text(reply(received)))
}

/// The client's line for the answer (`Server replied with %.*s`).
pub fn client_line(reply: &[u8]) -> String {
    format!("Server replied with {}", text(&reply[..reply.len().min(BUF_SIZE)]))
}
