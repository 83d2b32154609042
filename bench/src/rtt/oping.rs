//! One oping client run, read from the summary it prints:
//!
//! ```text
//! 100000 packets transmitted, 100000 received, 0 out-of-order, 0% packet loss, time: 1234.567 ms
//! rtt min/avg/max/mdev = 0.001/0.001/0.050/0.000 ms
//! rtt p50/p99 = 0.001/0.003 ms
//! ```
//!
//! A run still going at the time limit (or at a Ctrl-C) gets SIGINT, on
//! which oping stops and prints the same summary for what it received.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Bench, Pattern, Result, Row, Transport};

/// Runs `client` (oping with its server's name and environment) in
/// `pattern` and reads its summary. oping's exit status 1 (some replies
/// lost) still gives a row: the received column says how many came.
pub(super) fn measure(mut client: Command, transport: Transport, pattern: Pattern, bench: &Bench) -> Result<Row> {
    let count = bench.count(pattern);
    let interval = format!("{}ms", bench.args.paced_interval_ms);
    let flags: &[&str] = match pattern {
        Pattern::PingPong => &["-f"],
        Pattern::Paced => &["-i", &interval],
        Pattern::Flood => &["-i", "0"],
    };
    let mut child = client
        .args(["-Q", "-c", &count.to_string(), "-s", &bench.args.size.to_string()])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let (done, finished) = mpsc::channel::<()>();
    let limit = bench.time_limit();
    let (text, errors, limited) = std::thread::scope(|s| {
        // The child is reaped only after this thread is done with its pid.
        let watchdog = s.spawn(move || {
            let deadline = Instant::now() + limit;
            loop {
                if finished.recv_timeout(Duration::from_millis(100)) != Err(mpsc::RecvTimeoutError::Timeout) {
                    return false;
                }
                if bench.stopped() || Instant::now() >= deadline {
                    o7s_netns::signal(pid, libc::SIGINT);
                    return true;
                }
            }
        });
        let mut text = String::new();
        let mut errors = String::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.read_to_string(&mut text);
        }
        if let Some(err) = stderr.as_mut() {
            let _ = err.read_to_string(&mut errors);
        }
        drop(done);
        (text, errors, watchdog.join().unwrap_or(false))
    });
    let status = child.wait()?;
    bench.check_stop()?;
    let summary = text.lines().find(|l| l.contains("packets transmitted"));
    let (Some(summary), Some(0 | 1)) = (summary, status.code()) else {
        return Err(format!("oping over {transport} ({pattern}) failed ({status}): {text}{errors}").into());
    };
    parse(summary, &text, transport, pattern, count, limited)
}

fn parse(summary: &str, text: &str, transport: Transport, pattern: Pattern, count: u32, limited: bool) -> Result<Row> {
    let field = |prefix: &str| -> Vec<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_once(" = "))
            .map(|(_, v)| {
                v.trim_end_matches(" ms")
                    .split('/')
                    .map(|n| n.parse().unwrap_or(f64::NAN))
                    .collect()
            })
            .unwrap_or_default()
    };
    let received: u64 = summary
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no received count in {summary:?}"))?;
    let seconds = summary
        .rsplit_once("time: ")
        .and_then(|(_, t)| t.trim_end_matches(" ms").parse::<f64>().ok())
        .ok_or_else(|| format!("no time in {summary:?}"))?
        / 1e3;
    // No reply at all: no rtt lines, NaN figures (null in the JSON).
    let us = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(f64::NAN) * 1e3;
    let (rtt, pct) = (field("rtt min/avg/max/mdev"), field("rtt p50/p99"));
    Ok(Row {
        transport,
        pattern,
        count,
        received,
        seconds,
        p50_us: us(&pct, 0),
        p99_us: us(&pct, 1),
        avg_us: us(&rtt, 1),
        limited,
    })
}
