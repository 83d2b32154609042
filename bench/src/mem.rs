//! `o7s-bench mem`: cross-process packet streaming over the shared pool.
//!
//! ```text
//!  this process (core A)                         mem-sink process (core B)
//!  alloc ─ copy payload in ─ send ──► ring ──► recv ─ read seq ─ free
//!     ▲                                                           │
//!     └──────────────── shared free ring (same memfd) ◄───────────┘
//! ```
//!
//! The figure is packets per second through the whole hand-over, which is
//! what bounds an application's flow_write rate into the dataplane.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use o7s_mem::{Backing, Buf, PageKind, Pool, PoolConfig, Ring, Wait, handoff};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[derive(clap::Args)]
pub struct Args {
    /// Packets to stream per payload size.
    #[arg(long, default_value_t = 5_000_000)]
    packets: u64,
    /// Payload sizes in octets, comma-separated (8..=1792).
    #[arg(long, value_delimiter = ',', default_values_t = [64usize, 1500])]
    sizes: Vec<usize>,
    /// Ring capacity in entries.
    #[arg(long, default_value_t = 1024)]
    ring: u32,
    /// Buffers moved per burst.
    #[arg(long, default_value_t = 64)]
    burst: usize,
}

#[derive(clap::Args)]
pub struct SinkArgs {
    #[arg(long)]
    sock: PathBuf,
    #[arg(long)]
    packets: u64,
    #[arg(long)]
    burst: usize,
    /// Core to pin to.
    #[arg(long)]
    core: Option<usize>,
}

struct Row {
    size: usize,
    pages: PageKind,
    packets: u64,
    seconds: f64,
}

impl Row {
    fn mpps(&self) -> f64 {
        self.packets as f64 / self.seconds / 1e6
    }

    fn gbps(&self) -> f64 {
        self.packets as f64 * self.size as f64 * 8.0 / self.seconds / 1e9
    }

    fn ns_per_packet(&self) -> f64 {
        self.seconds * 1e9 / self.packets as f64
    }
}

/// A sink process, killed if the benchmark stops early.
struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(args: &Args) -> Result<()> {
    if let Some(bad) = args.sizes.iter().find(|s| !(8..=1792).contains(*s)) {
        return Err(format!("payload size {bad} octets is outside 8..=1792").into());
    }
    if args.packets == 0 || args.burst == 0 || args.burst > 1024 {
        return Err("--packets must be positive and --burst between 1 and 1024".into());
    }
    // The core list is read once, before this thread pins itself.
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let (here, there) = match cores.as_slice() {
        [a, b, ..] => (Some(*a), Some(b.id)),
        [a] => (Some(*a), None),
        [] => (None, None),
    };
    // The pool as routers run it (hugepages when reserved) and, as the
    // baseline in the same run, the same pool on 4 KiB pages.
    let config = |backing| PoolConfig {
        count: 16384,
        backing,
        ..PoolConfig::default()
    };
    let mut pools = vec![Pool::create("o7s-bench-mem", config(Backing::Auto))?];
    if pools[0].pages() == PageKind::Huge2M {
        pools.push(Pool::create("o7s-bench-mem-4k", config(Backing::Base))?);
    } else {
        println!("no hugepages reserved (/proc/sys/vm/nr_hugepages): measuring 4 KiB pages only");
    }
    if let Some(core) = here {
        core_affinity::set_for_current(core);
    }
    println!(
        "o7s-bench mem: {} packets per size, pool {} x {} B, ring {} entries, burst {}, cores {:?} -> {:?}",
        args.packets,
        pools[0].count(),
        pools[0].buf_size(),
        args.ring,
        args.burst,
        here.map(|c| c.id),
        there
    );
    let mut rows = Vec::new();
    for &size in &args.sizes {
        for pool in &pools {
            let row = stream(pool, args, size, there)?;
            println!("  {size:>5} B on {}: {:.2} Mpps", row.pages, row.mpps());
            rows.push(row);
        }
    }

    println!();
    println!(
        "{:>8} {:>16} {:>10} {:>8} {:>8} {:>10} {:>12}",
        "payload", "pages", "packets", "Mpps", "Gbit/s", "ns/packet", "vs 4 KiB"
    );
    for r in &rows {
        let base = rows.iter().find(|b| b.size == r.size && b.pages == PageKind::Base4K);
        let ratio = base.map_or("-".to_string(), |b| format!("{:.2}x", r.mpps() / b.mpps()));
        println!(
            "{:>6} B {:>16} {:>10} {:>8.2} {:>8.2} {:>10.1} {:>12}",
            r.size,
            r.pages.to_string(),
            r.packets,
            r.mpps(),
            r.gbps(),
            r.ns_per_packet(),
            ratio
        );
    }
    let figures: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"payload\":{},\"pages\":\"{}\",\"packets\":{},\"mpps\":{:.3},\"gbps\":{:.3},\"ns_per_packet\":{:.2}}}",
                r.size,
                if r.pages == PageKind::Huge2M { "2M" } else { "4K" },
                r.packets,
                r.mpps(),
                r.gbps(),
                r.ns_per_packet()
            )
        })
        .collect();
    println!(
        "{{\"bench\":\"mem\",\"burst\":{},\"ring\":{},\"results\":[{}]}}",
        args.burst,
        args.ring,
        figures.join(",")
    );
    Ok(())
}

fn stream(pool: &Pool, args: &Args, size: usize, core: Option<usize>) -> Result<Row> {
    let ring = Ring::create("o7s-bench-mem-ring", args.ring)?;
    let mut producer = ring.producer()?;
    let path = std::env::temp_dir().join(format!("o7s-bench-mem-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("mem-sink")
        .arg("--sock")
        .arg(&path)
        .arg("--packets")
        .arg(args.packets.to_string())
        .arg("--burst")
        .arg(args.burst.to_string())
        .stdin(Stdio::null());
    if let Some(core) = core {
        cmd.arg("--core").arg(core.to_string());
    }
    let mut sink = Sink(cmd.spawn()?);
    let (sock, _) = listener.accept()?;
    let _ = std::fs::remove_file(&path);
    handoff::send(&sock, pool, &[&ring])?;
    let mut report = BufReader::new(sock);

    let mut cache = pool.cache()?;
    let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let mut burst: Vec<Buf> = Vec::with_capacity(args.burst);
    let mut seq = 0u64;
    let mut start = None;
    while seq < args.packets || !burst.is_empty() {
        if burst.is_empty() {
            let want = args.burst.min((args.packets - seq) as usize);
            cache.alloc_burst(&mut burst, want);
            for buf in &mut burst {
                // What flow_write does: one copy from the caller's buffer.
                buf.set_len(size)?;
                let data = pool.data_mut(buf);
                data.copy_from_slice(&payload);
                data[..8].copy_from_slice(&seq.to_le_bytes());
                seq += 1;
            }
        }
        if cache.send(&mut producer, &mut burst) > 0 {
            start.get_or_insert_with(Instant::now);
        } else if let Some(status) = sink.0.try_wait()? {
            return Err(format!("sink exited early: {status}").into());
        } else {
            std::hint::spin_loop();
        }
    }
    let mut line = String::new();
    report.read_line(&mut line)?;
    let elapsed = start.map_or(Duration::ZERO, |s| s.elapsed());
    let status = sink.0.wait()?;
    let received: u64 = line
        .trim()
        .strip_prefix("received ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("sink said {line:?}"))?;
    if !status.success() || received != args.packets {
        return Err(format!("sink {status}, received {received} of {}", args.packets).into());
    }
    Ok(Row {
        size,
        pages: pool.pages(),
        packets: args.packets,
        seconds: elapsed.as_secs_f64(),
    })
}

pub fn sink(args: &SinkArgs) -> Result<()> {
    if let Some(id) = args.core {
        core_affinity::set_for_current(core_affinity::CoreId { id });
    }
    let mut sock = UnixStream::connect(&args.sock)?;
    let (pool, mut rings) = handoff::receive(&sock)?;
    let ring = rings.pop().ok_or("no ring in the hand-off")?;
    let mut cache = pool.cache()?;
    let mut consumer = ring.consumer(cache.slot())?;
    let mut burst = Vec::with_capacity(args.burst);
    let mut seq = 0u64;
    while seq < args.packets {
        if cache.recv(&mut consumer, &mut burst, args.burst) == 0 {
            if consumer.wait(Some(Duration::from_secs(10))) != Wait::Ready {
                return Err(format!("stream stopped after {seq} packets").into());
            }
            continue;
        }
        for buf in burst.drain(..) {
            let got = pool
                .data(&buf)
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes);
            if got != Some(seq) {
                return Err(format!("packet {seq} arrived as {got:?}").into());
            }
            seq += 1;
            cache.free(buf);
        }
    }
    writeln!(sock, "received {seq}")?;
    Ok(())
}
