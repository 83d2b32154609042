//! Running an `o7s-bench` command the way a user does and reading its
//! last line, the JSON figures.

use std::process::Command;

/// Runs `o7s-bench <args>`, checks it succeeded, and returns its stdout and
/// its last line parsed as JSON.
pub fn run(args: &[&str]) -> (String, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_o7s-bench"))
        .args(args)
        .output()
        .expect("running o7s-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "o7s-bench {} failed ({}):\n{stdout}\n{stderr}",
        args.join(" "),
        out.status
    );
    let last = stdout.lines().last().expect("some output").to_owned();
    let json = serde_json::from_str(&last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"));
    (stdout, json)
}
