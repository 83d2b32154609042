//! oecho: one message there and back over a flow to "oecho" (C `oecho.c`);
//! the exchange and its lines are [`o7s_oping::echo`].
//!
//! ```text
//!  oecho --listen: flow_accept ─▶ read ≤ 256 ─▶ print ─▶ write it back ─▶ drop (dealloc) ─┐
//!                      ▲──────────────────────────────────────────────────────────────────┘
//!  oecho:          flow_alloc("oecho") ─▶ write greeting ─▶ read ≤ 256 ─▶ print ─▶ exit
//! ```
//!
//! Errors go to stderr as `oecho: …`; the client exits 1 on any, the
//! server only when it cannot accept flows at all.

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use o7s_app::{Ipc, QosSpec};
use o7s_oping::echo::{BUF_SIZE, GREETING, OechoArgs, SERVER_NAME, client_line, reply, server_line};

fn main() -> ExitCode {
    let args = OechoArgs::parse();
    o7s_oping::log_to_stderr();
    let ipc = match Ipc::connect() {
        Ok(ipc) => ipc,
        Err(e) => {
            eprintln!("oecho: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.listen { server(&ipc) } else { client(&ipc) }
}

/// One line on stdout; a closed stdout does not stop the server.
fn say(line: impl Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn server(ipc: &Ipc) -> ExitCode {
    say("Starting the server.");
    loop {
        let flow = match ipc.flow_accept(None) {
            Ok(flow) => flow,
            Err(e) => {
                eprintln!("oecho: failed to accept a flow: {e}");
                return ExitCode::FAILURE;
            }
        };
        say("New flow.");
        // Partial reads on, as in C: of a longer SDU the first 256 octets.
        let mut buf = [0; BUF_SIZE];
        let n = match flow.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("oecho: failed to read a packet: {e}");
                continue;
            }
        };
        say(server_line(&buf[..n]));
        if let Err(e) = flow.write(reply(&buf[..n])) {
            eprintln!("oecho: failed to write a packet: {e}");
        }
        // Dropping the flow deallocates it, as C's flow_dealloc after the reply.
    }
}

fn client(ipc: &Ipc) -> ExitCode {
    let flow = match ipc.flow_alloc(SERVER_NAME, QosSpec::RAW, None) {
        Ok(flow) => flow,
        Err(e) => {
            eprintln!("oecho: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = flow.write(GREETING) {
        eprintln!("oecho: failed to write a packet: {e}");
        return ExitCode::FAILURE;
    }
    let mut buf = [0; BUF_SIZE];
    match flow.read(&mut buf) {
        Ok(n) => {
            say(client_line(&buf[..n]));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oecho: failed to read a packet: {e}");
            ExitCode::FAILURE
        }
    }
}
