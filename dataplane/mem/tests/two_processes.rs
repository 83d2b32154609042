//! The pool and a ring shared by two real processes.
//!
//! ```text
//!   parent (pool owner)                         child (this binary again)
//!   PoolCache ── alloc, fill ──► Ring ──► recv, check, free ──► PoolCache
//!        ▲                                                          │
//!        └──────────────── shared free ring (same memfd) ◄──────────┘
//!   fds (pool, ring) go over a UNIX socket with SCM_RIGHTS, as irmd will
//!   hand them to applications.
//! ```
//!
//! The child is this test binary re-run on an `#[ignore]`d entry point, so no
//! extra program is needed; the entry points refuse to run on their own.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use o7s_mem::{Buf, Pool, PoolCache, PoolConfig, Ring, Wait, handoff, sys};

const ENV_SOCK: &str = "O7S_TEST_PEER_SOCK";
const TRANSFERS: u64 = 1_000_000;
const POOL_BUFFERS: u32 = 4096;

/// A child process and its socket path, killed and removed whatever happens.
struct Peer {
    child: Child,
    path: PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts this binary's `entry` test as a child that connects back, and
/// hands it the pool and ring fds.
fn spawn_peer(entry: &str, pool: &Pool, ring: &Ring) -> (Peer, UnixStream) {
    let path = std::env::temp_dir().join(format!("o7s-mem-{}-{entry}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind test socket");
    let child = Command::new(std::env::current_exe().expect("own path"))
        .args(["--exact", entry, "--ignored", "--nocapture", "--test-threads=1"])
        .env(ENV_SOCK, &path)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn peer");
    let peer = Peer { child, path };
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(30);
    let sock = loop {
        match listener.accept() {
            Ok((sock, _)) => break sock,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("peer did not connect: {e}"),
        }
    };
    sock.set_nonblocking(false).expect("blocking");
    sock.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
    handoff::send(&sock, pool, &[ring]).expect("hand off pool and ring");
    (peer, sock)
}

/// The child's side of `spawn_peer`: connect and map what the parent sent.
fn connect_to_parent() -> (UnixStream, Pool, Ring) {
    let path = std::env::var(ENV_SOCK).expect("this entry point is run by its parent test, not on its own");
    let sock = UnixStream::connect(path).expect("connect to parent");
    let (pool, mut rings) = handoff::receive(&sock).expect("receive pool and ring");
    assert_eq!(rings.len(), 1);
    (sock, pool, rings.remove(0))
}

fn read_line(sock: &mut UnixStream) -> String {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while sock.read(&mut byte).expect("read from peer") == 1 && byte[0] != b'\n' {
        out.push(byte[0]);
    }
    String::from_utf8(out).expect("utf-8")
}

/// Content of transfer `seq`: its number, then a pattern derived from it,
/// with a length that varies so that lengths are checked too.
fn fill(pool: &Pool, buf: &mut Buf, seq: u64) {
    let len = 8 + (seq % 1400) as usize;
    buf.set_len(len).expect("fits");
    let data = pool.data_mut(buf);
    data[..8].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in data[8..].iter_mut().enumerate() {
        *b = (seq as u8).wrapping_mul(31).wrapping_add(i as u8);
    }
}

fn check(pool: &Pool, buf: &Buf, seq: u64) {
    let data = pool.data(buf);
    assert_eq!(data.len(), 8 + (seq % 1400) as usize, "length of transfer {seq}");
    assert_eq!(
        u64::from_le_bytes(data[..8].try_into().expect("8 octets")),
        seq,
        "order"
    );
    for (i, &b) in data[8..].iter().enumerate() {
        assert_eq!(
            b,
            (seq as u8).wrapping_mul(31).wrapping_add(i as u8),
            "octet {i} of transfer {seq}"
        );
    }
}

fn pool() -> Pool {
    let cfg = PoolConfig {
        count: POOL_BUFFERS,
        ..PoolConfig::default()
    };
    let pool = Pool::create("o7s-test-pool", cfg).expect("create pool");
    eprintln!("pool backed by {}", pool.pages());
    pool
}

#[test]
fn a_million_buffers_cross_to_another_process_intact() {
    let pool = pool();
    let ring = Ring::create("o7s-test-ring", 1024).expect("ring");
    let mut producer = ring.producer().expect("producer");
    let (mut peer, mut sock) = spawn_peer("child_checks_a_million_buffers", &pool, &ring);
    let mut cache = pool.cache().expect("cache");

    let deadline = Instant::now() + Duration::from_secs(300);
    let mut burst: Vec<Buf> = Vec::with_capacity(64);
    let mut seq = 0u64;
    while seq < TRANSFERS || !burst.is_empty() {
        assert!(Instant::now() < deadline, "stalled at transfer {seq}");
        if burst.is_empty() {
            let want = 64.min((TRANSFERS - seq) as usize);
            cache.alloc_burst(&mut burst, want);
            for buf in &mut burst {
                fill(&pool, buf, seq);
                seq += 1;
            }
        }
        if cache.send(&mut producer, &mut burst) == 0 {
            // Ring full (or the child not attached yet): let it catch up.
            std::thread::yield_now();
        }
    }
    assert_eq!(read_line(&mut sock), format!("checked {TRANSFERS}"));
    let status = peer.child.wait().expect("child exit");
    assert!(status.success(), "child failed: {status}");

    drop(cache);
    let stats = pool.stats();
    assert_eq!(
        (stats.free, stats.held(), stats.corrupt),
        (POOL_BUFFERS, 0, 0),
        "every buffer back: {stats:?}"
    );
}

#[test]
#[ignore = "child process of a_million_buffers_cross_to_another_process_intact"]
fn child_checks_a_million_buffers() {
    let (mut sock, pool, ring) = connect_to_parent();
    let mut cache = pool.cache().expect("cache");
    let mut consumer = ring.consumer(cache.slot()).expect("consumer");
    let mut burst = Vec::with_capacity(64);
    let mut seq = 0u64;
    while seq < TRANSFERS {
        if cache.recv(&mut consumer, &mut burst, 64) == 0 {
            // Sleep on the ring instead of spinning: exercises the futex path.
            assert_eq!(
                consumer.wait(Some(Duration::from_secs(60))),
                Wait::Ready,
                "parent stopped at {seq}"
            );
            continue;
        }
        for buf in burst.drain(..) {
            check(&pool, &buf, seq);
            seq += 1;
            cache.free(buf);
        }
    }
    let stats = cache.stats();
    assert_eq!((stats.bad_index, stats.bad_bounds, stats.not_handed), (0, 0, 0));
    drop(cache);
    writeln!(sock, "checked {seq}").expect("report");
}

#[test]
fn buffers_of_a_killed_process_are_reclaimed() {
    let pool = pool();
    let ring = Ring::create("o7s-test-ring", 256).expect("ring");
    let mut producer = ring.producer().expect("producer");
    let (mut peer, mut sock) = spawn_peer("child_holds_buffers_until_killed", &pool, &ring);
    let mut cache: PoolCache = pool.cache().expect("cache");

    // 50 buffers for the child to take and keep, then 30 it never reads.
    let mut burst = Vec::new();
    for (count, note) in [(50, "received"), (30, "unread")] {
        assert_eq!(cache.alloc_burst(&mut burst, count), count);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !burst.is_empty() {
            assert!(Instant::now() < deadline, "child never attached");
            cache.send(&mut producer, &mut burst);
            std::thread::yield_now();
        }
        if note == "received" {
            assert_eq!(read_line(&mut sock), "holding");
        }
    }
    let pid = peer.child.id() as i32;
    let held = pool.stats().held_by_pid(pid);
    assert!(
        held >= 100 + 50 + 30,
        "child holds its own, received and unread buffers: {held}"
    );

    peer.child.kill().expect("kill child");
    peer.child.wait().expect("reap child");
    let reclaimed = cache.reclaim_dead();
    assert_eq!(reclaimed.dead_slots, 1);
    assert_eq!(reclaimed.buffers, held);

    drop(cache);
    let stats = pool.stats();
    assert_eq!(
        (stats.free, stats.held(), stats.corrupt),
        (POOL_BUFFERS, 0, 0),
        "nothing leaked: {stats:?}"
    );
}

#[test]
#[ignore = "child process of buffers_of_a_killed_process_are_reclaimed"]
fn child_holds_buffers_until_killed() {
    let (mut sock, pool, ring) = connect_to_parent();
    let mut cache = pool.cache().expect("cache");
    let mut own = Vec::new();
    assert_eq!(cache.alloc_burst(&mut own, 100), 100);
    let mut consumer = ring.consumer(cache.slot()).expect("consumer");
    let mut received = Vec::new();
    while received.len() < 50 {
        let want = 50 - received.len();
        if cache.recv(&mut consumer, &mut received, want) == 0 {
            consumer.wait(Some(Duration::from_secs(10)));
        }
    }
    writeln!(sock, "holding").expect("report");
    // Hold everything until the parent kills us.
    std::thread::sleep(Duration::from_secs(300));
    panic!("not killed in time: {} {}", own.len(), received.len());
}

#[test]
fn a_fd_passed_over_a_socket_maps_the_same_memory() {
    let pool = pool();
    let (a, b) = UnixStream::pair().expect("socket pair");
    sys::send_fds(&a, b"x", &[pool.fd().as_fd()]).expect("send");
    let mut msg = [0u8; 4];
    let (n, mut fds) = sys::recv_fds(&b, &mut msg).expect("recv");
    assert_eq!((n, fds.len()), (1, 1));
    let other = Pool::attach(fds.pop().expect("fd")).expect("attach");
    let mut cache = pool.cache().expect("cache");
    let mut buf = cache.alloc().expect("buffer");
    fill(&pool, &mut buf, 77);
    // The second mapping sees the octets the first one wrote.
    let (base, _) = other.buffer_area();
    let (mine, _) = pool.buffer_area();
    assert_ne!(base, mine, "two distinct mappings");
    check(&other, &buf, 77);
    cache.free(buf);
}
