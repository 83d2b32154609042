//! `o7s-bench rtt` from one command, shortened: irmd, irm and oping are
//! built and run, the UDP echo answers, and the final line is JSON with
//! every message of the ping-pongs accounted for and positive latencies.
//! The figures are not compared (shared machine, test profile).
//!
//! ```text
//!   local, loopback:      oping ⇄ oping -l (local layer)      this process ⇄ udp-echo (127.0.0.1)
//!   eth-dix, udp4, veth:  a ══ veth ══ b   (the lab pair, bench/labs/rtt-pair.toml)
//! ```

mod common;

use std::time::{Duration, Instant};

fn figure(json: &serde_json::Value, key: &str) -> f64 {
    json[key].as_f64().unwrap_or_default()
}

#[test]
fn rtt_measures_oping_and_udp_and_ends_with_one_line_of_json() {
    let (stdout, json) = common::run(&[
        "rtt",
        "--count",
        "500",
        "--paced-count",
        "50",
        "--only",
        "local,loopback",
    ]);
    let last = stdout.lines().last().unwrap_or_default();
    for key in ["oping_local_pingpong", "oping_local_flood", "udp_loopback_pingpong"] {
        assert_eq!(json[format!("{key}_received")].as_u64(), Some(500), "{key}: {last}");
        let p99 = figure(&json, &format!("{key}_p99_us"));
        assert!(p99 > 0.0, "{key}_p99_us = {p99}: {last}");
    }
    for key in ["oping_local_paced", "udp_loopback_paced"] {
        assert_eq!(json[format!("{key}_received")].as_u64(), Some(50), "{key}: {last}");
        assert!(figure(&json, &format!("{key}_p50_us")) > 0.0, "{key}: {last}");
    }
    assert!(
        json["udp_loopback_flood_received"].as_u64().is_some_and(|n| n > 0),
        "{last}"
    );
    assert!(
        json.get("udp_veth_pingpong_received").is_none(),
        "--only is obeyed: {last}"
    );
}

/// The pair's oping ping-pongs may end at the time limit: a reply that
/// the server's worker is not woken for waits for its nap to end
/// (RESULTS.md, "Round-trip time across a pair"), so only their presence
/// is checked; kernel UDP over the veth must answer every ping.
#[test]
fn rtt_measures_the_lab_pair_and_tears_it_down() {
    if !o7s_netns::require_root("rtt_measures_the_lab_pair_and_tears_it_down") {
        return;
    }
    let start = Instant::now();
    let (stdout, stderr, json) = common::run_with_stderr(&[
        "rtt",
        "--count",
        "300",
        "--paced-count",
        "50",
        "--only",
        "veth,udp4,eth-dix",
        "--time-limit",
        "5",
    ]);
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(json["udp_veth_pingpong_received"].as_u64(), Some(300), "{last}");
    assert_eq!(json["udp_veth_paced_received"].as_u64(), Some(50), "{last}");
    for transport in ["udp_veth", "oping_udp4", "oping_ethdix"] {
        for pattern in ["pingpong", "paced", "flood"] {
            let key = format!("{transport}_{pattern}");
            assert!(
                json[format!("{key}_received")].as_u64().is_some_and(|n| n > 0),
                "{key}: {last}"
            );
            assert!(figure(&json, &format!("{key}_p99_us")) > 0.0, "{key}: {last}");
        }
    }
    assert!(
        stdout.contains("eth-dix port in a: "),
        "the port's backend is shown:\n{stdout}"
    );
    assert!(
        json.get("oping_local_pingpong_received").is_none(),
        "--only is obeyed: {last}"
    );
    // "==> bringing up lab rtt-pair (instance rtt-pair-<pid>)"
    let instance = stderr
        .split("(instance ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no lab instance in the progress lines:\n{stderr}"));
    assert!(
        !std::path::Path::new("/run/o7s-lab").join(instance).exists(),
        "instance {instance} was not torn down:\n{stderr}"
    );
    let namespaces = o7s_netns::ip(&["netns", "list"]).unwrap_or_default();
    assert!(
        !namespaces.contains(&format!("o7l-{instance}-")),
        "the namespaces of {instance} are left: {namespaces}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "took {:?}; keep the smoke run short",
        start.elapsed()
    );
}
