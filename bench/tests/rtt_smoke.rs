//! `o7s-bench rtt` from one command, shortened: irmd, irm and oping are
//! built and run, the UDP echo answers, and the final line is JSON with
//! every message of the ping-pongs accounted for and positive latencies.
//! The figures are not compared (shared machine, test profile).

use std::process::Command;

#[test]
fn rtt_measures_oping_and_udp_and_ends_with_one_line_of_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_o7s-bench"))
        .args(["rtt", "--count", "500"])
        .output()
        .expect("running o7s-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "o7s-bench rtt failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().expect("some output");
    let json: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"));
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
