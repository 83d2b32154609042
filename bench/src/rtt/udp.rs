//! Kernel UDP between two processes: an echo (`o7s-bench udp-echo`, which
//! answers every datagram with itself) and this process's connected
//! socket, in the three patterns. Each message carries its sequence number
//! in its first four octets; a reply to an earlier one is skipped.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use o7s_netns::KillOnDrop;

use super::local::wait_for;
use super::{Bench, Pattern, Result, Row, Transport};

#[derive(clap::Args)]
pub struct EchoArgs {
    /// Where the benchmark waits for the echo's port number.
    #[arg(long)]
    report: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
}

/// The UDP echo process: answers every datagram with itself until killed.
pub fn echo(args: &EchoArgs) -> Result<()> {
    let sock = UdpSocket::bind((args.bind, 0))?;
    std::fs::write(&args.report, sock.local_addr()?.port().to_string())?;
    let mut buf = [0u8; 2048];
    loop {
        let (n, from) = sock.recv_from(&mut buf)?;
        sock.send_to(&buf[..n], from)?;
    }
}

/// Starts `echo` (`o7s-bench`, perhaps under `ip netns exec`) as
/// `udp-echo` on `bind` and returns it with its port.
pub(super) fn start_echo(mut echo: Command, bind: IpAddr, bench: &Bench) -> Result<(KillOnDrop, u16)> {
    let report = std::env::temp_dir().join(format!("o7s-bench-udp-echo-{}-{bind}", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let child = KillOnDrop::spawn(
        echo.arg("udp-echo")
            .arg("--report")
            .arg(&report)
            .arg("--bind")
            .arg(bind.to_string()),
    )?;
    let mut port = None;
    wait_for("the UDP echo", Duration::from_secs(10), bench, || {
        port = read_port(&report);
        port.is_some()
    })?;
    let _ = std::fs::remove_file(&report);
    Ok((child, port.ok_or("no port")?))
}

fn read_port(report: &Path) -> Option<u16> {
    std::fs::read_to_string(report).ok().and_then(|p| p.parse().ok())
}

/// A socket on 127.0.0.1 connected to an echo there.
pub(super) fn loopback(bench: &Bench) -> Result<(UdpSocket, KillOnDrop)> {
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let (echo, port) = start_echo(Command::new(std::env::current_exe()?), localhost, bench)?;
    let sock = UdpSocket::bind((localhost, 0))?;
    sock.connect((localhost, port))?;
    Ok((sock, echo))
}

/// Most messages in flight in the UDP flood: the kernel drops what
/// overflows the echo's socket queue (about 300 datagrams of 64 octets with
/// the default 208 KiB receive buffer).
const WINDOW: u64 = 256;
/// How long a ping-pong or paced message waits for its reply before it
/// counts as lost, and the flood for the next reply before it ends.
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// Measures `pattern` over `sock`, connected to an echo.
pub(super) fn measure(sock: &UdpSocket, transport: Transport, pattern: Pattern, bench: &Bench) -> Result<Row> {
    let count = bench.count(pattern);
    let (hist, limited, seconds) = match pattern {
        Pattern::PingPong => lockstep(sock, count, None, bench)?,
        Pattern::Paced => lockstep(sock, count, Some(bench.interval()), bench)?,
        Pattern::Flood => flood(sock, count, bench)?,
    };
    bench.check_stop()?;
    Ok(Row {
        transport,
        pattern,
        count,
        received: hist.len(),
        seconds,
        p50_us: hist.value_at_quantile(0.5) as f64 / 1e3,
        p99_us: hist.value_at_quantile(0.99) as f64 / 1e3,
        avg_us: hist.mean() / 1e3,
        limited,
    })
}

/// Round-trip times in ns, whether the time limit cut the run short, and
/// the seconds it took.
type Measured = (Histogram<u64>, bool, f64);

fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new(3)?)
}

/// One message in flight: each sent when the previous reply came (ping-pong)
/// or, with `interval`, at start + k × interval, sleeping until then as
/// oping does (a late one goes at once, never a burst).
fn lockstep(sock: &UdpSocket, count: u32, interval: Option<Duration>, bench: &Bench) -> Result<Measured> {
    sock.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut hist = histogram()?;
    let mut msg = vec![0u8; bench.size()];
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let deadline = start + bench.time_limit();
    for seq in 0..count {
        if bench.stopped() {
            break;
        }
        if Instant::now() >= deadline {
            return Ok((hist, true, start.elapsed().as_secs_f64()));
        }
        if let Some(interval) = interval {
            let due = start + interval * seq;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        msg[..4].copy_from_slice(&seq.to_be_bytes());
        let sent = Instant::now();
        sock.send(&msg)?;
        loop {
            match sock.recv(&mut buf) {
                Ok(n) if n >= 4 && buf[..4] == seq.to_be_bytes() => {
                    hist.record(sent.elapsed().as_nanos() as u64)?;
                    break;
                }
                Ok(_) => {}
                // Lost: the next message goes.
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok((hist, false, start.elapsed().as_secs_f64()))
}

/// A writer sends as fast as the window allows while a reader measures
/// the replies against the send times. Ends with all replies, a second
/// without one, or the time limit; the time is until the last reply.
fn flood(sock: &UdpSocket, count: u32, bench: &Bench) -> Result<Measured> {
    let start = Instant::now();
    let deadline = start + bench.time_limit();
    // Send times by sequence number, in ns since `start`.
    let sent: Vec<AtomicU64> = (0..count).map(|_| AtomicU64::new(0)).collect();
    let received = AtomicU64::new(0);
    let over = AtomicBool::new(false);
    let reader = sock.try_clone()?;
    reader.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let size = bench.size();
    std::thread::scope(|s| -> Result<Measured> {
        let (sent, received, over) = (&sent, &received, &over);
        let writer = s.spawn(move || -> std::io::Result<()> {
            let mut msg = vec![0u8; size];
            for seq in 0..count {
                // The window: no more in flight than the echo's queue holds.
                while u64::from(seq).saturating_sub(received.load(Ordering::Relaxed)) >= WINDOW {
                    if over.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    std::thread::yield_now();
                }
                msg[..4].copy_from_slice(&seq.to_be_bytes());
                sent[seq as usize].store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                // The kernel refuses a datagram when a queue is full:
                // retry after a pause rather than count it as loss.
                while let Err(e) = sock.send(&msg) {
                    if e.raw_os_error() != Some(libc::ENOBUFS) || over.load(Ordering::Relaxed) {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_micros(10));
                }
            }
            Ok(())
        });
        let mut hist = histogram()?;
        let mut buf = [0u8; 2048];
        let mut limited = false;
        let mut last = 0;
        while hist.len() < u64::from(count) && !bench.stopped() {
            if Instant::now() >= deadline {
                limited = true;
                break;
            }
            let Ok(n) = reader.recv(&mut buf) else { break };
            if n < 4 {
                continue;
            }
            let seq = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if let Some(at) = sent.get(seq) {
                let then = at.load(Ordering::Relaxed);
                last = start.elapsed().as_nanos() as u64;
                hist.record(last.saturating_sub(then))?;
                received.store(hist.len(), Ordering::Relaxed);
            }
        }
        over.store(true, Ordering::Relaxed);
        writer.join().map_err(|_| "the UDP writer panicked")??;
        Ok((hist, limited, last as f64 / 1e9))
    })
}
