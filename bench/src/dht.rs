//! `o7s-bench dht`: the directory of a unicast layer, simulated in virtual
//! time (`o7s_control`'s DHT as irmd runs it; messages delivered as if
//! routing had converged).
//!
//! ```text
//!  N members join one by one, each by a random member already in (its own-id lookup)
//!  ─► each registers one name (STOREs at the k closest)
//!  ─► queries from random members for random names: found?, hops (rounds of requests), requests
//! ```

use o7s_control::ipcp::unicast::dht::DhtConfig;
use o7s_control::ipcp::unicast::dht::sim::{DhtSim, addr};
use std::error::Error;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[derive(clap::Args)]
pub struct Args {
    /// Layer sizes to simulate, in members (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 100, 1000])]
    nodes: Vec<usize>,
    /// Queries per size.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Seed of the ids, the joins and the queries.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

struct Row {
    nodes: usize,
    queries: usize,
    found: usize,
    lookups: usize,
    hops_max: u32,
    hops_mean: f64,
    requests_mean: f64,
    bound: u32,
    messages: u64,
}

fn one(args: &Args, n: usize) -> Row {
    let (mut sim, names, mut rng) = DhtSim::layer(n, DhtConfig::default(), args.seed);
    let (mut found, mut lookups, mut hops_max, mut hops_sum, mut requests) = (0, 0, 0, 0u64, 0u64);
    for _ in 0..args.queries {
        let (from, owner) = (rng.usize(..n), rng.usize(..n));
        let (answer, stats) = sim.query(from, &names[owner]);
        if answer == Some(addr(owner)) {
            found += 1;
        }
        if let Some(s) = stats {
            lookups += 1;
            hops_max = hops_max.max(s.hops);
            hops_sum += u64::from(s.hops);
            requests += u64::from(s.requests);
        }
    }
    let per = |x: u64| if lookups == 0 { 0.0 } else { x as f64 / lookups as f64 };
    Row {
        nodes: n,
        queries: args.queries,
        found,
        lookups,
        hops_max,
        hops_mean: per(hops_sum),
        requests_mean: per(requests),
        bound: (n as f64).log2().ceil() as u32 + 2,
        messages: sim.delivered,
    }
}

pub fn run(args: &Args) -> Result<()> {
    if args.nodes.iter().any(|&n| !(2..=20_000).contains(&n)) {
        return Err("--nodes takes sizes from 2 to 20000 members".into());
    }
    if args.queries == 0 {
        return Err("--queries must be positive".into());
    }
    println!(
        "directory DHT in virtual time: α 3, k 8, SHA3-256 ids, seed {}",
        args.seed
    );
    println!(
        "{:>7} {:>8} {:>9} {:>8} {:>9} {:>10} {:>15} {:>14} {:>10}",
        "members",
        "queries",
        "found (%)",
        "lookups",
        "hops max",
        "hops mean",
        "requests/lookup",
        "log2(n)+2",
        "messages"
    );
    let mut rows = Vec::new();
    for &n in &args.nodes {
        let r = one(args, n);
        println!(
            "{:>7} {:>8} {:>9.1} {:>8} {:>9} {:>10.2} {:>15.1} {:>14} {:>10}",
            r.nodes,
            r.queries,
            100.0 * r.found as f64 / r.queries as f64,
            r.lookups,
            r.hops_max,
            r.hops_mean,
            r.requests_mean,
            r.bound,
            r.messages
        );
        rows.push(r);
    }
    println!("(hops: rounds of requests until the answer; queries a member answers from what it holds need none)");
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"nodes\":{},\"queries\":{},\"found\":{},\"lookups\":{},\"hops_max\":{},\"hops_mean\":{:.3},\"hops_bound\":{},\"requests_mean\":{:.2},\"messages\":{}}}",
                r.nodes, r.queries, r.found, r.lookups, r.hops_max, r.hops_mean, r.bound, r.requests_mean, r.messages
            )
        })
        .collect();
    println!("{{\"bench\":\"dht\",\"rows\":[{}]}}", json.join(","));
    if let Some(r) = rows.iter().find(|r| r.found < r.queries || r.hops_max > r.bound) {
        return Err(format!(
            "{} members: {} of {} names found, at most {} hops (bound {})",
            r.nodes, r.found, r.queries, r.hops_max, r.bound
        )
        .into());
    }
    Ok(())
}
