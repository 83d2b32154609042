//! Running an `o7s-bench` command the way a user does and reading its
//! last line, the JSON figures.

#![allow(dead_code)] // each test binary uses its own part

use std::process::Command;

/// Runs `o7s-bench <args>`, checks it succeeded, and returns its stdout and
/// its last line parsed as JSON.
pub fn run(args: &[&str]) -> (String, serde_json::Value) {
    let (stdout, _, json) = run_with_stderr(args);
    (stdout, json)
}

/// As [`run`], with its stderr (progress lines) too.
pub fn run_with_stderr(args: &[&str]) -> (String, String, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_o7s-bench"))
        .args(args)
        .output()
        .expect("running o7s-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "o7s-bench {} failed ({}):\n{stdout}\n{stderr}",
        args.join(" "),
        out.status
    );
    let last = stdout.lines().last().expect("some output").to_owned();
    let json = serde_json::from_str(&last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"));
    (stdout, stderr, json)
}
