//! oping: the flow I/O around [`o7s_oping::Client`] and [`o7s_oping::Server`]
//! (C `oping_client.c`, `oping_server.c`).
//!
//! ```text
//!  client, -i pacing                       client, -f / -F
//!  ┌ writer ──────────────────────┐        ┌ one thread ───────────────────┐
//!  │ poll_transmit ─▶ flow.write  │        │ poll_transmit ─▶ flow.write   │
//!  │ sleep until poll_timeout     │        │ flow.read (-F: spin)          │
//!  └──────────┬───────────────────┘        │   ─▶ handle_reply / _timeout  │
//!       Mutex<Client>                      └───────────────────────────────┘
//!  ┌ reader ──┴───────────────────┐
//!  │ flow.read ─▶ handle_reply    │        server
//!  │ timeout   ─▶ handle_timeout  │        main: flow_accept ─▶ spawn serve(flow)
//!  └──────────────────────────────┘        serve: read ─▶ Server::handle ─▶ write
//!   until outcome(); then stats                   idle 10 s ─▶ drop (dealloc)
//! ```
//!
//! Blocking calls wait at most [`TICK`] at a time so that a signal (the
//! client's SIGINT/SIGTERM/SIGHUP flag) or the end of the run is seen
//! promptly; the [`Client`] decides when the wait for a reply is really
//! over. The server installs no handler: as in C, a signal ends it, and
//! irmd frees the flows of a process that exits.
//!
//! The server serves each flow in a thread of its own rather than one
//! `fevent` loop as C does: a flow accepted while the event loop sleeps
//! could only join its set when the loop wakes (up to 100 ms later), a
//! delay the new client would see as its first RTT.

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{CommandFactory, Parser};
use o7s_app::{Error, Flow, FlowFlags, Ipc};
use o7s_oping::{
    Client, ClientConfig, ClientError, Mode, OpingArgs, Outcome, Pacing, Reply, Server, ServerConfig, ServerWait,
};

/// Read buffer: larger than the largest SDU (1500), so that an SDU never
/// fills it exactly and is never read in pieces.
const RX_BUF: usize = 4096;

/// Exit status of a client run that lost requests (ping's).
const LOST: u8 = 1;
/// Exit status of any other failure (ping's).
const ERROR: u8 = 2;

/// Longest a blocking call waits before the loop looks at the stop flag
/// and the run's state again.
const TICK: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let args = OpingArgs::parse();
    let mode = match args.mode() {
        Ok(mode) => mode,
        Err(e) => OpingArgs::command()
            .error(clap::error::ErrorKind::ValueValidation, e)
            .exit(),
    };
    o7s_oping::log_to_stderr();
    let ipc = match Ipc::connect() {
        Ok(ipc) => ipc,
        Err(e) => {
            eprintln!("oping: {e}");
            return ExitCode::from(ERROR);
        }
    };
    match mode {
        Mode::Client(cfg) => client_main(&ipc, &cfg),
        Mode::Server(cfg) => server_main(&ipc, cfg),
    }
}

/// One line on stdout. A closed stdout (`oping | head`) is not a reason
/// to stop serving or to lose the statistics' exit status.
fn say(line: impl Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn lock<'a, T>(m: &'a Mutex<T>) -> MutexGuard<'a, T> {
    // Every update of the client is one call; a panicking thread leaves it usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------- client

fn client_main(ipc: &Ipc, cfg: &ClientConfig) -> ExitCode {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        // The first signal ends the run (statistics still printed); a
        // second one, while the run winds down, ends the process.
        let registered = signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)));
        if let Err(e) = registered {
            eprintln!("oping: cannot install a signal handler: {e}");
            return ExitCode::from(ERROR);
        }
    }
    let flow = match ipc.flow_alloc(&cfg.server_name, cfg.qos, None) {
        Ok(flow) => flow,
        Err(e) => {
            eprintln!("oping: {e}");
            return ExitCode::from(ERROR);
        }
    };
    flow.set_flags(FlowFlags::RDWR | FlowFlags::RNOPART);
    flow.set_snd_timeout(Some(TICK));
    if !cfg.quiet {
        say(format_args!("{}\n", cfg.banner()));
    }
    let run = Run {
        flow: &flow,
        cfg,
        stop: &stop,
        epoch: Instant::now(),
    };
    let mut client = Client::new(cfg.server_name.clone(), cfg.params, Duration::ZERO);
    match cfg.params.pacing {
        Pacing::Every(_) => run.threaded(&mut client),
        Pacing::Flood => run.lockstep(&mut client),
    }
    if client.outcome() == Some(Outcome::ServerTimedOut) {
        say("Server timed out.");
    }
    let stats = client.stats();
    let _ = write!(std::io::stdout().lock(), "\n{stats}");
    drop(flow);
    // As ping: a run that lost requests, or got no reply at all, failed.
    if stats.transmitted() == 0 || stats.lost() > 0 {
        ExitCode::from(LOST)
    } else {
        ExitCode::SUCCESS
    }
}

/// One client run over an allocated flow.
struct Run<'a> {
    flow: &'a Flow,
    cfg: &'a ClientConfig,
    stop: &'a AtomicBool,
    /// The client's clock: its times are durations since this instant.
    epoch: Instant,
}

impl Run<'_> {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// `-i`: requests leave on the client's schedule whatever the replies,
    /// so a writer and a reader run at once; with interval 0 the writer
    /// fills the flow while the reader drains the replies.
    fn threaded(&self, client: &mut Client) {
        let client = Mutex::new(client);
        std::thread::scope(|s| {
            s.spawn(|| self.write_requests(&client));
            self.read_replies(&client);
        });
    }

    fn write_requests(&self, client: &Mutex<&mut Client>) {
        let mut sdu = vec![0; self.cfg.params.size.get()];
        loop {
            let mut c = lock(client);
            let now = self.now();
            if self.stopped() {
                c.stop(now);
            }
            if c.outcome().is_some() || all_sent(&c) {
                return;
            }
            if let Some(len) = c.poll_transmit(now, &mut sdu) {
                drop(c);
                let over = || {
                    let mut c = lock(client);
                    if self.stopped() {
                        c.stop(self.now());
                    }
                    c.outcome().is_some()
                };
                if let Err(e) = self.send(&sdu[..len], over) {
                    let mut c = lock(client);
                    report_failure(&c, "failed to send a request", &e);
                    c.stop(self.now());
                }
                continue;
            }
            let wake = c.poll_timeout();
            drop(c);
            let wait = wake.map_or(TICK, |w| w.saturating_sub(self.now())).min(TICK);
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
    }

    fn read_replies(&self, client: &Mutex<&mut Client>) {
        let mut buf = [0; RX_BUF];
        self.flow
            .set_rcv_timeout(Some(TICK.min(self.cfg.params.receive_timeout())));
        loop {
            {
                let mut c = lock(client);
                if self.stopped() {
                    c.stop(self.now());
                }
                if c.outcome().is_some() {
                    return;
                }
            }
            let got = self.flow.read(&mut buf);
            let now = self.now();
            match got {
                // The end of an SDU that filled the buffer (cannot happen
                // with RX_BUF above any SDU size, but costs nothing).
                Ok(0) => {}
                Ok(n) => {
                    let reply = lock(client).handle_reply(now, &buf[..n]);
                    self.print_reply(reply);
                }
                Err(Error::TimedOut) => lock(client).handle_timeout(now),
                Err(e @ Error::MessageSize { .. }) => self.print_invalid(&e),
                Err(e) => {
                    let mut c = lock(client);
                    report_failure(&c, "failed to read a reply", &e);
                    c.stop(now);
                }
            }
        }
    }

    /// `-f`, `-F`: one request, then its reply, in one thread. `-F` spins
    /// on non-blocking reads instead of sleeping in the flow.
    fn lockstep(&self, client: &mut Client) {
        let busy = self.cfg.busy_poll;
        if busy {
            self.flow
                .set_flags(FlowFlags::RDWR | FlowFlags::RNOPART | FlowFlags::RNOBLOCK);
        }
        let mut sdu = vec![0; self.cfg.params.size.get()];
        let mut buf = [0; RX_BUF];
        loop {
            let now = self.now();
            if self.stopped() {
                client.stop(now);
            }
            if let Some(len) = client.poll_transmit(now, &mut sdu)
                && let Err(e) = self.send(&sdu[..len], || {
                    if self.stopped() {
                        client.stop(self.now());
                    }
                    client.outcome().is_some()
                })
            {
                report_failure(client, "failed to send a request", &e);
                client.stop(self.now());
            }
            let Some(deadline) = client.poll_timeout() else {
                return;
            };
            if !busy {
                self.flow
                    .set_rcv_timeout(Some(deadline.saturating_sub(self.now()).min(TICK)));
            }
            let got = self.flow.read(&mut buf);
            let now = self.now();
            match got {
                Ok(0) => {}
                Ok(n) => self.print_reply(client.handle_reply(now, &buf[..n])),
                Err(Error::TimedOut | Error::WouldBlock) => client.handle_timeout(now),
                Err(e @ Error::MessageSize { .. }) => self.print_invalid(&e),
                Err(e) => {
                    report_failure(client, "failed to read a reply", &e);
                    client.stop(now);
                }
            }
        }
    }

    /// Writes one request, waiting while the flow has no room until `over`
    /// says the run ended (then `TimedOut`).
    fn send(&self, sdu: &[u8], mut over: impl FnMut() -> bool) -> Result<(), Error> {
        loop {
            match self.flow.write(sdu) {
                Ok(_) => return Ok(()),
                Err(Error::TimedOut) if !over() => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn print_reply(&self, reply: Result<Reply, ClientError>) {
        match reply {
            Ok(reply) if !self.cfg.quiet => {
                say(format_args!(
                    "{}{}",
                    TimeOfDay(self.cfg.timeofday),
                    reply.line(&self.cfg.server_name)
                ));
            }
            Ok(_) | Err(ClientError::Finished) => {}
            Err(e) => self.print_invalid(&e),
        }
    }

    fn print_invalid(&self, e: &dyn Display) {
        say(format_args!("Invalid message on fd {}: {e}.", self.flow.fd()));
    }
}

/// Reports the flow error that ends the run, once: when the writer and the
/// reader both hit the dead flow, the second says nothing.
fn report_failure(client: &Client, what: &str, e: &Error) {
    if client.outcome().is_none() {
        eprintln!("oping: {what}: {e}");
    }
}

/// Whether the run's count of requests has gone out.
fn all_sent(client: &Client) -> bool {
    client
        .params()
        .count
        .is_some_and(|count| client.stats().transmitted() >= u64::from(count))
}

/// `-D`: the wall-clock time before a reply line, `[seconds.micros] ` as C
/// prints it; nothing when off.
struct TimeOfDay(bool);

impl Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.0 {
            return Ok(());
        }
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        write!(f, "[{}.{:06}] ", t.as_secs(), t.subsec_micros())
    }
}

// ---------------------------------------------------------------- server

fn server_main(ipc: &Ipc, cfg: ServerConfig) -> ExitCode {
    let epoch = Instant::now();
    let busy = cfg.wait == ServerWait::Busy;
    say(if busy {
        "Ouroboros ping server started. [busy-poll]"
    } else {
        "Ouroboros ping server started."
    });
    loop {
        let flow = match ipc.flow_accept(None) {
            Ok(flow) => flow,
            Err(e) => {
                eprintln!("oping: failed to accept a flow: {e}");
                // Refusals (not bound to a name) and a lost irmd do not
                // go away by asking again.
                if matches!(
                    e,
                    Error::IrmdGone | Error::NoIrmd { .. } | Error::Refused { .. } | Error::Protocol(_)
                ) {
                    return ExitCode::from(ERROR);
                }
                continue;
            }
        };
        let fd = flow.fd();
        if busy {
            // As C: one flow, served until it fails, then the server ends.
            say(format_args!("New flow {fd} (busy-poll)."));
            serve(&flow, cfg, epoch);
            return ExitCode::SUCCESS;
        }
        say(format_args!("New flow {fd}."));
        let spawned = std::thread::Builder::new()
            .name(format!("oping-fd{fd}"))
            .spawn(move || serve(&flow, cfg, epoch));
        // On failure the closure, and the flow with it, is dropped: deallocated.
        if let Err(e) = spawned {
            eprintln!("oping: cannot serve flow {fd}: {e}");
        }
    }
}

/// Answers the requests on one flow until it goes down or, except with
/// `--busy`, stays 10 s without one; the caller's drop deallocates it.
fn serve(flow: &Flow, cfg: ServerConfig, epoch: Instant) {
    let fd = flow.fd();
    let spin = cfg.wait != ServerWait::Events;
    // C's busy server neither expires its flow nor prints per SDU; `-Q`
    // silences the line per SDU, not the complaints.
    let expires = cfg.wait != ServerWait::Busy;
    let complain = cfg.wait != ServerWait::Busy;
    let verbose = complain && !cfg.quiet;
    flow.set_flags(if spin {
        FlowFlags::RDWR | FlowFlags::RNOPART | FlowFlags::RNOBLOCK
    } else {
        FlowFlags::RDWR | FlowFlags::RNOPART
    });
    let mut server = Server::new();
    server.accept(fd, epoch.elapsed());
    let mut buf = [0; RX_BUF];
    loop {
        if expires {
            let now = epoch.elapsed();
            if server.poll_expired(now).is_some() {
                say(format_args!("Flow {fd} timed out."));
                return;
            }
            if !spin {
                let deadline = server.poll_timeout().unwrap_or(now);
                flow.set_rcv_timeout(Some(deadline.saturating_sub(now)));
            }
        }
        match flow.read(&mut buf) {
            Ok(0) | Err(Error::TimedOut) => {}
            Err(Error::WouldBlock) => std::hint::spin_loop(),
            Ok(n) => {
                let sdu = &mut buf[..n];
                if verbose {
                    say(format_args!("Received {n} bytes on fd {fd}."));
                }
                match server.handle(fd, epoch.elapsed(), sdu) {
                    Ok(()) => match flow.write(sdu) {
                        Ok(_) => {}
                        Err(Error::FlowDown(_)) => {
                            say(format_args!("Flow {fd} is down."));
                            return;
                        }
                        Err(e) => say(format_args!("Error writing to flow (fd {fd}): {e}.")),
                    },
                    Err(e) if complain => say(format_args!("Invalid message on fd {fd}: {e}.")),
                    Err(_) => {}
                }
            }
            Err(e @ Error::MessageSize { .. }) => {
                if complain {
                    say(format_args!("Invalid message on fd {fd}: {e}."));
                }
            }
            Err(Error::FlowDown(_)) => {
                say(format_args!("Flow {fd} is down."));
                return;
            }
            Err(e) => {
                eprintln!("oping: flow {fd}: {e}");
                return;
            }
        }
    }
}
