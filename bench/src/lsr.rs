//! `o7s-bench lsr`: link-state routing of a unicast layer, simulated in
//! virtual time (no sockets, no sleeping; `o7s_control`'s databases and
//! graph, as irmd runs them).
//!
//! ```text
//!  ring of N members + random chords (seeded) ─► every link up at t = 0
//!  ─► LSMs flooded until every database holds every adjacency   (virtual ms, messages)
//!  ─► SPF + LFA of one member on its full database              (real ms, one core)
//!  ─► routes of every member: loop-free walks, LFA coverage     (% destinations with an alternate)
//! ```

use std::error::Error;
use std::time::{Duration, Instant};

use o7s_control::ipcp::unicast::lsr::sim::{Sim, Topology, addr};
use o7s_control::ipcp::unicast::lsr::{Graph, Policy, Routes};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[derive(clap::Args)]
pub struct Args {
    /// Layer sizes to simulate, in members (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 100, 1000])]
    nodes: Vec<usize>,
    /// Random links per member beyond the ring: an average degree of
    /// about 2 + 2 × this.
    #[arg(long, default_value_t = 1)]
    chords: usize,
    /// Seed of the topology.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One-way delay of every link, in virtual microseconds.
    #[arg(long, default_value_t = 1000)]
    delay_us: u64,
    /// Timed SPF + LFA computations per size (the median is reported).
    #[arg(long, default_value_t = 21)]
    runs: usize,
}

struct Row {
    nodes: usize,
    links: usize,
    lsms: u64,
    converge_ms: f64,
    spf_ms: f64,
    spf_lfa_ms: f64,
    lfa_coverage_pct: f64,
    loop_free: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Milliseconds of the median of `runs` computations of `f`.
fn timed(runs: usize, mut f: impl FnMut() -> usize) -> f64 {
    let mut sink = 0;
    let times = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            sink += f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    std::hint::black_box(sink);
    median(times)
}

fn one(args: &Args, n: usize) -> Result<Row> {
    let topo = Topology::ring_with_chords(n, args.chords, args.seed);
    let mut sim = Sim::new(n, Duration::from_micros(args.delay_us));
    for &(a, b) in &topo.links {
        sim.link_up(a, b);
    }
    let settled = sim.run();
    if !sim.converged(&topo.links) {
        return Err(format!("{n} members: the databases did not converge").into());
    }
    let adjacencies: Vec<(u64, u64)> = sim.member(0).adjacencies().collect();
    let spf_ms = timed(args.runs, || {
        Graph::new(adjacencies.iter().copied())
            .routes(addr(0), Policy::LinkState)
            .table
            .len()
    });
    let spf_lfa_ms = timed(args.runs, || {
        Graph::new(adjacencies.iter().copied())
            .routes(addr(0), Policy::Lfa)
            .table
            .len()
    });
    // Every member's LFA routes from its own database.
    let routes: Vec<Routes> = (0..n)
        .map(|i| sim.member(i).graph().routes(addr(i), Policy::Lfa))
        .collect();
    let (mut protected, mut total) = (0usize, 0usize);
    for r in &routes {
        total += r.table.len();
        protected += r.table.values().filter(|h| h.len() > 1).count();
    }
    // Loop-free: a sample of pairs walked along the primaries.
    let step = (n / 50).max(1);
    let loop_free = (0..n)
        .step_by(step)
        .all(|from| (0..n).step_by(step).all(|to| sim.walk(&routes, from, to).is_some()));
    Ok(Row {
        nodes: n,
        links: topo.links.len(),
        lsms: sim.delivered,
        converge_ms: settled.as_secs_f64() * 1e3,
        spf_ms,
        spf_lfa_ms,
        lfa_coverage_pct: if total == 0 {
            0.0
        } else {
            100.0 * protected as f64 / total as f64
        },
        loop_free,
    })
}

pub fn run(args: &Args) -> Result<()> {
    if args.nodes.iter().any(|&n| !(2..=100_000).contains(&n)) {
        return Err("--nodes takes sizes from 2 to 100000 members".into());
    }
    println!(
        "link-state routing in virtual time: ring + {} random chords per member (seed {}), {} µs per link",
        args.chords, args.seed, args.delay_us
    );
    println!(
        "{:>7} {:>7} {:>10} {:>14} {:>10} {:>14} {:>13} {:>10}",
        "members", "links", "LSMs", "converged (ms)", "SPF (ms)", "SPF+LFA (ms)", "LFA cover (%)", "loop-free"
    );
    let mut rows = Vec::new();
    for &n in &args.nodes {
        let r = one(args, n)?;
        println!(
            "{:>7} {:>7} {:>10} {:>14.1} {:>10.3} {:>14.3} {:>13.1} {:>10}",
            r.nodes,
            r.links,
            r.lsms,
            r.converge_ms,
            r.spf_ms,
            r.spf_lfa_ms,
            r.lfa_coverage_pct,
            if r.loop_free { "yes" } else { "NO" }
        );
        rows.push(r);
    }
    println!(
        "(converged: virtual time until every database holds every adjacency; SPF: real time, one core, median of {})",
        args.runs
    );
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"nodes\":{},\"links\":{},\"lsm_messages\":{},\"converge_ms\":{:.3},\"spf_ms\":{:.4},\"spf_lfa_ms\":{:.4},\"lfa_coverage_pct\":{:.1},\"loop_free\":{}}}",
                r.nodes, r.links, r.lsms, r.converge_ms, r.spf_ms, r.spf_lfa_ms, r.lfa_coverage_pct, r.loop_free
            )
        })
        .collect();
    println!("{{\"bench\":\"lsr\",\"rows\":[{}]}}", json.join(","));
    if rows.iter().any(|r| !r.loop_free) {
        return Err("routes with a loop".into());
    }
    Ok(())
}
