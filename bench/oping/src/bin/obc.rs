//! obc: messages over a broadcast layer (C `obc.c`): joins the layer with
//! `flow_join` and either sends one message or prints what arrives.
//!
//! ```text
//!  obc -n LAYER -m MESSAGE        join ─▶ write MESSAGE ─▶ leave
//!  obc -n LAYER -r [-c N] [-t S]  join ─▶ read ≤ 1400 ─▶ "New message (L bytes): TEXT" ─▶ …
//! ```
//!
//! Every member of the layer gets each message once (the member graph is
//! a tree, as in C). The reader stops after `-c` messages, or when none
//! came for `-t` seconds (exit 1); without them it reads for ever.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use o7s_app::Ipc;

/// Largest message read (C reads into 1400 octets).
const BUF_SIZE: usize = 1400;

/// Sends a message to a broadcast layer, or reads what its members send.
#[derive(Debug, Parser)]
#[command(name = "obc", version)]
struct Args {
    /// The broadcast layer to join.
    #[arg(short = 'n', long = "name", value_name = "LAYER")]
    name: String,
    /// The message to send (at most 1400 octets).
    #[arg(short = 'm', long = "message", value_name = "MESSAGE", conflicts_with = "reader")]
    message: Option<String>,
    /// Read messages instead of sending one.
    #[arg(short = 'r', long = "reader")]
    reader: bool,
    /// Reader: stop after this many messages.
    #[arg(short = 'c', long = "count", value_name = "N", requires = "reader")]
    count: Option<u64>,
    /// Reader: give up when nothing arrived for this many seconds.
    #[arg(short = 't', long = "timeout", value_name = "SECONDS", requires = "reader")]
    timeout: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    o7s_oping::log_to_stderr();
    if !args.reader && args.message.is_none() {
        eprintln!("obc: say what to send (-m MESSAGE) or read (-r); see --help");
        return ExitCode::from(2);
    }
    if let Some(m) = &args.message
        && m.len() > BUF_SIZE
    {
        eprintln!(
            "obc: the message is {} octets; at most {BUF_SIZE} cross a broadcast layer whole",
            m.len()
        );
        return ExitCode::from(2);
    }
    let timeout = match args.timeout.map(Duration::try_from_secs_f64) {
        Some(Err(_)) => {
            eprintln!("obc: --timeout must be a non-negative number of seconds");
            return ExitCode::from(2);
        }
        Some(Ok(t)) => Some(t),
        None => None,
    };
    let ipc = match Ipc::connect() {
        Ok(ipc) => ipc,
        Err(e) => {
            eprintln!("obc: {e}");
            return ExitCode::FAILURE;
        }
    };
    let flow = match ipc.flow_join(&args.name, None) {
        Ok(flow) => flow,
        Err(e) => {
            eprintln!("obc: cannot join layer {:?}: {e}", args.name);
            return ExitCode::FAILURE;
        }
    };
    if let Some(message) = &args.message {
        return match flow.write(message.as_bytes()) {
            Ok(_) => {
                // Leaving at once could take the message with the flow.
                std::thread::sleep(Duration::from_millis(50));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("obc: cannot send: {e}");
                ExitCode::FAILURE
            }
        };
    }
    flow.set_rcv_timeout(timeout);
    let mut buf = [0u8; BUF_SIZE];
    let mut got = 0u64;
    while args.count.is_none_or(|c| got < c) {
        match flow.read(&mut buf) {
            Ok(n) => {
                got += 1;
                let text = String::from_utf8_lossy(&buf[..n]);
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "New message ({n} bytes): {text}");
                let _ = out.flush();
            }
            Err(e) => {
                eprintln!("obc: {got} messages read, then: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
