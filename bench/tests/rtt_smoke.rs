//! `o7s-bench rtt` from one command, shortened: irmd, irm and oping are
//! built and run, the UDP echo answers, and the final line is JSON with
//! every message of the ping-pongs accounted for and positive latencies.
//! The figures are not compared (shared machine, test profile).

mod common;

#[test]
fn rtt_measures_oping_and_udp_and_ends_with_one_line_of_json() {
    let (stdout, json) = common::run(&["rtt", "--count", "500"]);
    let last = stdout.lines().last().unwrap_or_default();
    for key in ["oping_local_pingpong", "oping_local_flood", "udp_loopback_pingpong"] {
        assert_eq!(json[format!("{key}_received")].as_u64(), Some(500), "{key}: {last}");
        let p99 = json[format!("{key}_p99_us")].as_f64().unwrap_or_default();
        assert!(p99 > 0.0, "{key}_p99_us = {p99}: {last}");
    }
    assert!(
        json["udp_loopback_flood_received"].as_u64().is_some_and(|n| n > 0),
        "{last}"
    );
}
