//! `o7s-bench <what>`: o7s's benchmarks as commands. Each prints a readable
//! table and ends with one line of JSON holding its figures.
//!
//! | command | measures |
//! |---|---|
//! | `mem` | packets streamed from one process to another through the shared pool and a ring |
//! | `fwd` | packets forwarded per second and one-way latency through a router in a namespace: ours, Linux, XDP_REDIRECT |
//! | `lsr` | link-state routing of 10 to 1000 members in virtual time: convergence, SPF + LFA time, LFA coverage |
//! | `dht` | the directory DHT of 10 to 1000 members in virtual time: names found, lookup hops |
//! | `rtt` | oping's round-trip time over the local layer and between two lab systems (eth-dix, udp4) beside kernel UDP over the same path; ping-pong, paced, flood |
//!
//! Micro-benchmarks of single operations are criterion benches
//! (`cargo bench -p o7s-bench`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod dht;
mod fwd;
mod lsr;
mod mem;
mod rtt;

#[derive(Parser)]
#[command(
    name = "o7s-bench",
    version,
    about = "o7s benchmarks: each prints a table, then one line of JSON"
)]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Stream packets from a producer process to a consumer process through
    /// the shared packet pool and an SPSC ring, as an application's flow
    /// writes reach the dataplane: copy the payload into a pool buffer, hand
    /// the buffer over, read it on the other side, free it.
    Mem(mem::Args),
    /// The consumer side of `mem` (started by `mem` itself).
    #[command(hide = true)]
    MemSink(mem::SinkArgs),
    /// Forward frames from a generator namespace through a router namespace
    /// to a sink namespace over veth: the o7s dataplane, Linux IPv4
    /// forwarding and an XDP_REDIRECT forwarder, one after the other on one
    /// topology; packets/s at each frame size, one-way latency, CPU per
    /// core. Needs root; exits with 2 when something it needs is missing.
    Fwd(fwd::Args),
    /// Round-trip time, oping's against kernel UDP over the same path, in
    /// one run: oping over the local layer and UDP over loopback; then, on
    /// a lab pair of two systems (network namespaces, each with its own
    /// irmd, joined by one veth: bench/labs/rtt-pair.toml), UDP over the
    /// veth and oping over a udp4 and an eth-dix layer. Each ping-pong (one
    /// message in flight: oping -f), paced (one every --paced-interval-ms,
    /// as users run oping: -i 1ms) and flood (oping -i 0). Builds irmd, irm
    /// and oping if needed; the pair needs root (exit 2 without it: use
    /// --only local,loopback). The lab is torn down at the end, on an
    /// error and on Ctrl-C.
    Rtt(rtt::Args),
    /// Link-state routing of a layer in virtual time: members joined by a
    /// ring and random chords flood their adjacencies until every database
    /// holds them all; then SPF + LFA of one member (real time, one core),
    /// every member's routes walked for loops, and the share of
    /// destinations an LFA protects. Fails on a loop.
    Lsr(lsr::Args),
    /// The directory DHT of a layer in virtual time: members join one by
    /// one, each registers a name, then random members look random names
    /// up; names found and lookup hops against log2(n) + 2. Fails when a
    /// name is not found or a lookup takes more hops.
    Dht(dht::Args),
    /// The echo side of `rtt`'s UDP measurement (started by `rtt` itself).
    #[command(hide = true)]
    UdpEcho(rtt::EchoArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.what {
        What::Mem(args) => mem::run(&args),
        What::MemSink(args) => mem::sink(&args),
        What::Fwd(args) => fwd::run(&args),
        What::Rtt(args) => rtt::run(&args),
        What::Lsr(args) => lsr::run(&args),
        What::Dht(args) => dht::run(&args),
        What::UdpEcho(args) => rtt::echo(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<fwd::Unprepared>() => {
            eprintln!("o7s-bench: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("o7s-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
