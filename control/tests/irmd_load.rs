//! irmd under load and under processes that misbehave: connections that
//! never read their replies, more connections than the caps, and a
//! thousand concurrent flows; irmd keeps answering, holds its caps, and
//! gives back every thread, descriptor and page afterwards.

mod common;

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Irmd, Raw, eventually};
use o7s_netns::{KillOnDrop, workspace_bin};
use o7s_seam::rpc::{self, reply, request};

fn oping() -> PathBuf {
    workspace_bin("o7s-oping", "oping").expect("build oping")
}

fn list_command() -> request::Body {
    request::Body::Command(rpc::Command {
        argv: vec!["ipcp".into(), "list".into()],
    })
}

/// How long `irm ipcp list` takes, connection included.
fn time_ipcp_list(irmd: &Irmd) -> Duration {
    let t = Instant::now();
    let mut admin = irmd.admin();
    admin
        .command(&["ipcp".into(), "list".into()])
        .unwrap_or_else(|e| panic!("ipcp list: {e}\n{}", irmd.log_text()));
    t.elapsed()
}

/// Keeps `n` connections that send requests and never read a reply:
/// when irmd drops one, another takes its place; until `stop`. Returns
/// how many irmd dropped.
fn flood_without_reading(irmd: &Irmd, n: usize, stop: &AtomicBool) -> usize {
    let open = || {
        let raw = Raw::connect(irmd).expect("connect");
        raw.sock.set_nonblocking(true).expect("non-blocking");
        raw
    };
    let mut conns: Vec<Raw> = (0..n).map(|_| open()).collect();
    let mut dropped = 0;
    let mut id = 0;
    while !stop.load(Ordering::Relaxed) {
        for raw in &mut conns {
            loop {
                id += 1;
                match raw.send(id, list_command()) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        dropped += 1;
                        *raw = open();
                        break;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    dropped
}

#[test]
fn a_hundred_connections_that_never_read_do_not_stall_irmd() {
    let irmd = Irmd::start("load-stalled");
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    let (fds0, threads0, _) = irmd.usage();
    assert_eq!(threads0, 1, "irmd serves from one thread");

    let stop = AtomicBool::new(false);
    let dropped = std::thread::scope(|s| {
        let flood = s.spawn(|| flood_without_reading(&irmd, 100, &stop));
        std::thread::sleep(Duration::from_millis(200));
        for round in 0..5 {
            let took = time_ipcp_list(&irmd);
            assert!(
                took < Duration::from_millis(100),
                "round {round}: irm ipcp list took {took:?} beside 100 connections that never read"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!flood.is_finished());
        stop.store(true, Ordering::Relaxed);
        flood.join().unwrap()
    });
    // Once their queues were full irmd dropped them, and said so, but not
    // once per connection and message.
    assert!(
        dropped >= 100,
        "irmd dropped only {dropped} connections that never read"
    );
    let log = irmd.log_text();
    let lines = log.matches("dropping a connection that stopped reading").count();
    assert!(
        (1..=60).contains(&lines),
        "{lines} lines about {dropped} dropped connections:\n{log}"
    );
    let back = eventually(Duration::from_secs(5), || (irmd.usage().0 <= fds0).then_some(()));
    assert!(
        back.is_some(),
        "irmd holds {:?} (fds, threads, RSS) against {fds0} fds",
        irmd.usage()
    );
    assert_eq!(irmd.usage().1, 1, "no thread was added");
    assert!(time_ipcp_list(&irmd) < Duration::from_millis(100));
}

/// Connects and says whether irmd kept the connection (answered a
/// request) or refused it, with its reason.
fn try_connect(irmd: &Irmd) -> Result<Raw, String> {
    let mut raw = Raw::connect(irmd).map_err(|e| e.to_string())?;
    raw.send(1, list_command()).map_err(|e| e.to_string())?;
    match raw.recv(Duration::from_secs(5)) {
        Ok(Some(rpc::Reply {
            id: 1,
            body: Some(reply::Body::Output(_)),
        })) => Ok(raw),
        Ok(Some(rpc::Reply {
            body: Some(reply::Body::Error(e)),
            ..
        })) => Err(e.message),
        other => Err(format!("unexpected: {other:?}")),
    }
}

#[test]
fn connection_caps_hold_and_irmd_serves_again_once_they_close() {
    for (args, cap, why) in [
        (
            ["--max-connections-per-user", "40", "--max-connections", "1000"],
            40,
            "the limit per user",
        ),
        (
            ["--max-connections-per-user", "1000", "--max-connections", "30"],
            30,
            "its limit",
        ),
    ] {
        let irmd = Irmd::start_with("load-caps", &args);
        let (fds0, _, _) = irmd.usage();
        let mut held: Vec<Raw> = (0..cap)
            .map(|i| try_connect(&irmd).unwrap_or_else(|e| panic!("connection {i} of {cap} refused: {e}")))
            .collect();
        for _ in 0..200 {
            let refused = try_connect(&irmd).map(drop).expect_err("a connection beyond the cap");
            assert!(refused.contains(why), "{refused}");
        }
        // Refused connections stay open a moment for their processes to
        // read why: at most 256 of them.
        let (fds, threads, _) = irmd.usage();
        assert!(
            fds <= fds0 + cap + 256,
            "{fds} fds for {cap} connections (started with {fds0})"
        );
        assert_eq!(threads, 1);
        let err = irmd.irm(&["ipcp", "list"]).expect_err("irm beyond the cap");
        assert!(err.contains(why), "{err}");
        assert!(
            irmd.log_text().matches("connection refused").count() <= 40,
            "refusals are logged within a budget"
        );
        held.truncate(cap - 5);
        let ok = eventually(Duration::from_secs(5), || irmd.irm(&["ipcp", "list"]).ok());
        assert!(ok.is_some(), "irmd does not serve after connections closed");
        drop(held);
        let back = eventually(Duration::from_secs(5), || (irmd.usage().0 <= fds0).then_some(()));
        assert!(
            back.is_some(),
            "fds {:?} vs {fds0} at start: {:?}",
            irmd.usage(),
            std::fs::read_dir(format!("/proc/{}/fd", irmd.pid())).map(|d| d
                .flatten()
                .map(|e| std::fs::read_link(e.path()).unwrap_or_default())
                .collect::<Vec<_>>())
        );
    }
}

/// A client pinging `count` times, every `interval`.
fn client(irmd: &Irmd, oping: &std::path::Path, count: u32, interval: &str) -> Child {
    irmd.command(oping)
        .args(["-n", "oping", "-c", &count.to_string(), "-i", interval, "-Q"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start an oping client")
}

#[test]
fn a_thousand_concurrent_flows_are_all_answered_and_everything_is_given_back() {
    const FLOWS: usize = 1000;
    let oping = oping();
    let irmd = Irmd::start_with("load-flows", &["--buffers", "16384"]);
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    irmd.irm_ok(&["bind", "program", oping.to_str().unwrap(), "name", "oping"]);
    irmd.irm_ok(&["name", "register", "oping", "layer", "lo"]);
    let server_log = std::env::temp_dir().join(format!("o7s-load-flows-server-{}.log", std::process::id()));
    let mut server = KillOnDrop::spawn(
        irmd.command(&oping)
            .arg("-l")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&server_log).unwrap()),
    )
    .unwrap();
    let mut admin = irmd.admin();
    let up = eventually(Duration::from_secs(10), || {
        (admin.status().ok()?.processes.len() == 1).then_some(())
    });
    assert!(up.is_some(), "{}", irmd.log_text());
    // One short exchange first, so that what irmd holds from then on is
    // its steady state.
    let warm = client(&irmd, &oping, 1, "0").wait_with_output().unwrap();
    assert!(warm.status.success(), "{warm:?}");
    let (fds0, threads0, rss0) = irmd.usage();

    let started = Instant::now();
    let clients: Vec<Child> = (0..FLOWS).map(|_| client(&irmd, &oping, 20, "500ms")).collect();
    let spawned = started.elapsed();
    // All up at once: each flow has an id at each end.
    let all_up = eventually(Duration::from_secs(60), || {
        (admin.status().ok()?.flows.len() >= 2 * FLOWS).then_some(())
    });
    assert!(
        all_up.is_some(),
        "never {FLOWS} flows at once (clients started in {spawned:?})"
    );
    let mut failed = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !stdout.contains("20 packets transmitted, 20 received") {
            failed.push(format!(
                "client {i}: {}\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {FLOWS} clients failed; first:\n{}\nlast:\n{}\nserver: {:?}, {}\nirmd log, end:\n{}",
        failed.len(),
        failed[0],
        failed[failed.len() - 1],
        server.0.try_wait(),
        std::fs::read_to_string(&server_log).unwrap_or_default(),
        irmd.log_text()
            .lines()
            .filter(|l| !l.contains(" INFO ") || l.contains(&format!("pid={} ", server.id())))
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Everything comes back once the clients are gone.
    let released = eventually(Duration::from_secs(30), || {
        let s = admin.status().ok()?;
        (s.flows.is_empty() && s.processes.len() == 1).then_some(())
    });
    assert!(
        released.is_some(),
        "flows left: {:?}",
        admin.status().map(|s| s.flows.len())
    );
    let settled = eventually(Duration::from_secs(10), || {
        let (fds, threads, rss) = irmd.usage();
        (fds <= fds0 + 1 && threads == threads0 && rss <= rss0 + 16 * 1024).then_some(())
    });
    assert!(
        settled.is_some(),
        "irmd holds (fds, threads, RSS KiB) {:?}, against {:?} before",
        irmd.usage(),
        (fds0, threads0, rss0)
    );
    drop(admin);
    drop(server);
}

/// CPU time (user + system, clock ticks) process `pid` has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    // Fields 14 and 15 (utime, stime); `rest` starts at field 3.
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

#[test]
fn out_of_descriptors_irmd_pauses_accepting_says_so_and_recovers() {
    // 64 descriptors and no way to raise them: irmd runs out after a few
    // dozen connections.
    let irmd = Irmd::start_wrapped("load-nofile", &[], &["prlimit", "--nofile=64:64", "--"]);
    let mut held: Vec<Raw> = (0..100).filter_map(|_| Raw::connect(&irmd).ok()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(irmd.pid());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(irmd.pid()) - before;
    // A spinning accept loop would use the whole second (100 ticks).
    assert!(
        used <= 20,
        "irmd used {used} ticks of CPU in 1 s with connections it cannot accept"
    );
    let log = irmd.log_text();
    assert!(log.contains("cannot accept connections"), "{log}");
    assert!(
        log.matches("cannot accept connections").count() <= 20,
        "the pause is logged within a budget"
    );
    held.clear();
    let ok = eventually(Duration::from_secs(5), || irmd.irm(&["ipcp", "list"]).ok());
    assert!(
        ok.is_some(),
        "irmd does not serve once descriptors are free:\n{}",
        irmd.log_text()
    );
}
