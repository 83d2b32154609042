//! `o7s-bench fwd` from one command, shortened to one frame size and one
//! second per measurement: the three forwarders run on their topology and
//! the final line is JSON with a positive rate for each.
//!
//! ```text
//!   gen: g0 ~~veth~~ r0 [ours | kernel | xdp_redirect] r1 ~~veth~~ s0 :snk
//! ```
//!
//! The figures themselves are not checked (the machine is shared and the
//! test profile is not the release one): that they exist and are positive
//! is what says every path forwarded. Needs root; skips with a message
//! otherwise.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn fwd_measures_every_forwarder_and_ends_with_one_line_of_json() {
    if !o7s_netns::require_root("fwd_measures_every_forwarder_and_ends_with_one_line_of_json") {
        return;
    }
    let start = Instant::now();
    let (stdout, json) = common::run(&[
        "fwd",
        "--duration",
        "1",
        "--warmup",
        "0.5",
        "--sizes",
        "64",
        "--rounds",
        "1",
    ]);
    let last = stdout.lines().last().unwrap_or_default();
    for key in ["ours_pps", "kernel_pps", "xdp_redirect_pps"] {
        let pps = json[key].as_f64().unwrap_or_else(|| panic!("{key} missing in {last}"));
        assert!(pps > 0.0, "{key} = {pps}:\n{stdout}");
    }
    let results = json["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "one row per forwarder at 64 B: {last}");
    for row in results {
        assert!(
            row["p99_us"].as_f64().is_some_and(|p| p > 0.0),
            "latency measured: {row}"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(90),
        "took {:?}; keep the smoke run short",
        start.elapsed()
    );
}

#[test]
fn fwd_refuses_a_frame_size_outside_ethernet() {
    let out = Command::new(env!("CARGO_BIN_EXE_o7s-bench"))
        .args(["fwd", "--sizes", "20"])
        .output()
        .expect("running o7s-bench");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("frame size 20"), "{stderr}");
}
