//! `o7s-bench rtt`: round-trip time of oping over the local layer (irmd,
//! the application library and the shared rings, between two processes)
//! beside a UDP ping-pong over loopback between two processes, in the same
//! run and with the same message size and count.
//!
//! ```text
//!  oping client ──flow_write──► ring ──► oping -l ──► ring ──► oping client     (local layer)
//!  this process ──sendto──► 127.0.0.1 ──► udp-echo process ──► this process      (kernel UDP)
//! ```
//!
//! Two patterns each: ping-pong (one message in flight: oping `-f`) and
//! flood (send as fast as possible while replies come back: oping `-i 0`;
//! UDP keeps at most 256 in flight, as loopback drops what overflows the
//! echo's socket queue; a flow's ring holds 1024).
//! The oping figures are the percentiles oping itself prints.

use std::error::Error;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use o7s_netns::{KillOnDrop, workspace_bin};

use crate::fwd::Unprepared;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[derive(clap::Args)]
pub struct Args {
    /// Messages per measurement.
    #[arg(long, default_value_t = 100_000)]
    count: u32,
    /// Message size in octets (64..=1500, as oping's -s).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(64..=1500))]
    size: u16,
}

#[derive(clap::Args)]
pub struct EchoArgs {
    /// Where the benchmark waits for the echo's port number.
    #[arg(long)]
    report: PathBuf,
}

/// One measured pattern.
struct Row {
    transport: &'static str,
    pattern: &'static str,
    received: u64,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
    avg_us: f64,
}

impl Row {
    fn rate(&self) -> f64 {
        self.received as f64 / self.seconds
    }
}

/// Everything the local-layer half needs: an irmd in its own runtime
/// directory with the tutorial's setup and an oping server.
struct Local {
    dir: PathBuf,
    oping: PathBuf,
    // Dropped in this order: the server before its irmd.
    _server: KillOnDrop,
    _irmd: KillOnDrop,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binary(package: &str, bin: &str) -> Result<PathBuf> {
    workspace_bin(package, bin).map_err(|e| Unprepared(format!("cannot build {bin}: {e}")).into())
}

fn irm(irm: &Path, dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(irm).args(args).env("O7S_RUNDIR", dir).output()?;
    if !out.status.success() {
        return Err(format!(
            "irm {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(())
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("{what} did not come up within {timeout:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn start_local() -> Result<Local> {
    let irmd_bin = binary("o7s-control", "irmd")?;
    let irm_bin = binary("o7s-control", "irm")?;
    let oping = binary("o7s-oping", "oping")?;
    let dir = std::env::temp_dir().join(format!("o7s-bench-rtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let irmd = KillOnDrop::spawn(
        Command::new(&irmd_bin)
            .arg("--rundir")
            .arg(&dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?;
    wait_for("irmd", Duration::from_secs(10), || {
        o7s_app::Admin::connect(&dir).is_ok()
    })?;
    let oping_path = oping.to_str().ok_or("oping path is not UTF-8")?;
    irm(
        &irm_bin,
        &dir,
        &["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"],
    )?;
    irm(&irm_bin, &dir, &["bind", "program", oping_path, "name", "oping"])?;
    irm(&irm_bin, &dir, &["name", "register", "oping", "layer", "lo"])?;
    let server = KillOnDrop::spawn(
        Command::new(&oping)
            .arg("-l")
            .env("O7S_RUNDIR", &dir)
            .stdout(Stdio::null()),
    )?;
    wait_for("the oping server", Duration::from_secs(10), || {
        o7s_app::Admin::connect(&dir)
            .and_then(|mut a| a.status())
            .is_ok_and(|s| !s.processes.is_empty())
    })?;
    Ok(Local {
        dir,
        oping,
        _irmd: irmd,
        _server: server,
    })
}

/// Runs an oping client and reads its summary.
fn oping(local: &Local, pattern: &'static str, flag: &[&str], args: &Args) -> Result<Row> {
    let out = Command::new(&local.oping)
        .args([
            "-n",
            "oping",
            "-Q",
            "-c",
            &args.count.to_string(),
            "-s",
            &args.size.to_string(),
        ])
        .args(flag)
        .env("O7S_RUNDIR", &local.dir)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("oping failed: {text}{}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let field = |prefix: &str| -> Result<Vec<f64>> {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .ok_or_else(|| format!("no {prefix:?} line in oping's output:\n{text}"))?;
        let numbers = line
            .split_once(" = ")
            .map(|(_, v)| v.trim_end_matches(" ms"))
            .ok_or("malformed line")?;
        Ok(numbers.split('/').filter_map(|n| n.parse().ok()).collect())
    };
    let summary = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .ok_or("no summary")?;
    let received: u64 = summary
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .ok_or("no received count")?;
    let seconds = summary
        .rsplit_once("time: ")
        .and_then(|(_, t)| t.trim_end_matches(" ms").parse::<f64>().ok())
        .ok_or("no time")?
        / 1e3;
    let rtt = field("rtt min/avg/max/mdev")?;
    let pct = field("rtt p50/p99")?;
    Ok(Row {
        transport: "o7s local layer (oping)",
        pattern,
        received,
        seconds,
        p50_us: pct.first().copied().unwrap_or(f64::NAN) * 1e3,
        p99_us: pct.get(1).copied().unwrap_or(f64::NAN) * 1e3,
        avg_us: rtt.get(1).copied().unwrap_or(f64::NAN) * 1e3,
    })
}

/// The UDP echo process: answers every datagram with itself until killed.
pub fn echo(args: &EchoArgs) -> Result<()> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    std::fs::write(&args.report, sock.local_addr()?.port().to_string())?;
    let mut buf = [0u8; 2048];
    loop {
        let (n, from) = sock.recv_from(&mut buf)?;
        sock.send_to(&buf[..n], from)?;
    }
}

fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new(3)?)
}

fn row(pattern: &'static str, hist: &Histogram<u64>, received: u64, seconds: f64) -> Row {
    Row {
        transport: "UDP over loopback",
        pattern,
        received,
        seconds,
        p50_us: hist.value_at_quantile(0.5) as f64 / 1e3,
        p99_us: hist.value_at_quantile(0.99) as f64 / 1e3,
        avg_us: hist.mean() / 1e3,
    }
}

fn udp_pingpong(sock: &UdpSocket, args: &Args) -> Result<Row> {
    let mut hist = histogram()?;
    let mut msg = vec![0u8; usize::from(args.size)];
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let mut received = 0;
    for seq in 0..args.count {
        msg[..4].copy_from_slice(&seq.to_be_bytes());
        let t = Instant::now();
        sock.send(&msg)?;
        loop {
            let n = sock.recv(&mut buf)?;
            if n >= 4 && buf[..4] == seq.to_be_bytes() {
                break;
            }
        }
        hist.record(t.elapsed().as_nanos() as u64)?;
        received += 1;
    }
    Ok(row("ping-pong", &hist, received, start.elapsed().as_secs_f64()))
}

fn udp_flood(sock: &UdpSocket, args: &Args) -> Result<Row> {
    // Send times by sequence number; the reader measures against them.
    let start = Instant::now();
    let sent: Vec<std::sync::atomic::AtomicU64> = (0..args.count).map(|_| Default::default()).collect();
    let reader = sock.try_clone()?;
    let done = std::sync::atomic::AtomicU64::new(0);
    let (hist, received) = std::thread::scope(|s| -> Result<(Histogram<u64>, u64)> {
        let sent = &sent;
        let done = &done;
        let writer = s.spawn(move || -> std::io::Result<()> {
            let mut msg = vec![0u8; usize::from(args.size)];
            for seq in 0..args.count {
                // As many in flight as a flow ring holds, so that the echo's
                // socket queue does not overflow.
                while u64::from(seq).saturating_sub(done.load(std::sync::atomic::Ordering::Relaxed)) >= WINDOW {
                    std::thread::yield_now();
                }
                msg[..4].copy_from_slice(&seq.to_be_bytes());
                sent[seq as usize].store(start.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
                // Loopback drops when the echo's queue overflows: retry
                // after a pause rather than count it as loss.
                while let Err(e) = sock.send(&msg) {
                    if e.raw_os_error() != Some(libc::ENOBUFS) {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_micros(10));
                }
            }
            Ok(())
        });
        let mut hist = histogram()?;
        let mut buf = [0u8; 2048];
        let mut received = 0u64;
        reader.set_read_timeout(Some(Duration::from_secs(2)))?;
        while received < u64::from(args.count) {
            let Ok(n) = reader.recv(&mut buf) else { break };
            if n < 4 {
                continue;
            }
            let seq = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if let Some(at) = sent.get(seq) {
                let then = at.load(std::sync::atomic::Ordering::Relaxed);
                hist.record((start.elapsed().as_nanos() as u64).saturating_sub(then))?;
                received += 1;
                done.store(received, std::sync::atomic::Ordering::Relaxed);
            }
        }
        writer.join().map_err(|_| "writer panicked")??;
        Ok((hist, received))
    })?;
    Ok(row("flood", &hist, received, start.elapsed().as_secs_f64()))
}

/// Most messages in flight in the UDP flood: loopback drops what
/// overflows the echo's socket queue (about 300 datagrams of 64 octets with
/// the default 208 KiB receive buffer).
const WINDOW: u64 = 256;

fn udp(args: &Args) -> Result<Vec<Row>> {
    let report = std::env::temp_dir().join(format!("o7s-bench-udp-echo-{}", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let _echo = KillOnDrop::spawn(
        Command::new(std::env::current_exe()?)
            .arg("udp-echo")
            .arg("--report")
            .arg(&report),
    )?;
    let mut port = None;
    wait_for("the UDP echo", Duration::from_secs(10), || {
        port = std::fs::read_to_string(&report)
            .ok()
            .and_then(|p| p.parse::<u16>().ok());
        port.is_some()
    })?;
    let _ = std::fs::remove_file(&report);
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect(("127.0.0.1", port.ok_or("no port")?))?;
    Ok(vec![udp_pingpong(&sock, args)?, udp_flood(&sock, args)?])
}

pub fn run(args: &Args) -> Result<()> {
    eprintln!(
        "o7s-bench rtt: {} messages of {} octets per pattern; local layer first, then UDP",
        args.count, args.size
    );
    let local = start_local()?;
    let mut rows = vec![
        oping(&local, "ping-pong", &["-f"], args)?,
        oping(&local, "flood", &["-i", "0"], args)?,
    ];
    drop(local);
    rows.extend(udp(args)?);
    println!();
    println!(
        "{:<26} {:<10} {:>9} {:>10} {:>10} {:>10} {:>12}",
        "transport", "pattern", "received", "p50 µs", "p99 µs", "avg µs", "msgs/s"
    );
    for r in &rows {
        println!(
            "{:<26} {:<10} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>12.0}",
            r.transport,
            r.pattern,
            r.received,
            r.p50_us,
            r.p99_us,
            r.avg_us,
            r.rate()
        );
    }
    let find = |transport: &str, pattern: &str| {
        rows.iter()
            .find(|r| r.transport.starts_with(transport) && r.pattern == pattern)
    };
    let pp = (find("o7s", "ping-pong"), find("UDP", "ping-pong"));
    if let (Some(o), Some(u)) = pp {
        println!();
        println!(
            "ping-pong p50: o7s {:.1} µs vs UDP {:.1} µs ({:.2}× UDP's); p99: {:.1} vs {:.1} µs",
            o.p50_us,
            u.p50_us,
            o.p50_us / u.p50_us,
            o.p99_us,
            u.p99_us
        );
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            let key = format!(
                "{}_{}",
                if r.transport.starts_with("o7s") { "oping_local" } else { "udp_loopback" },
                r.pattern.replace('-', "")
            );
            format!(
                "\"{key}_p50_us\":{:.2},\"{key}_p99_us\":{:.2},\"{key}_avg_us\":{:.2},\"{key}_msgs_per_s\":{:.0},\"{key}_received\":{}",
                r.p50_us,
                r.p99_us,
                r.avg_us,
                r.rate(),
                r.received
            )
        })
        .collect();
    println!(
        "{{\"bench\":\"rtt\",\"count\":{},\"size\":{},{}}}",
        args.count,
        args.size,
        json.join(",")
    );
    Ok(())
}
