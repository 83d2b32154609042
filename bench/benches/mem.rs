//! Packet-memory costs: buffer alloc+free and ring enqueue+dequeue, single
//! and batched, on one core and across two cores.
//!
//! Run with `cargo bench -p o7s-bench --bench mem`. Results and the machine
//! they came from go into bench/RESULTS.md.
//!
//! Cross-core cases pin the measuring thread to the first core and a peer
//! thread to the second; each reports the cost per buffer of the whole
//! hand-over (the peer works concurrently, so this is throughput, not
//! latency).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use o7s_mem::{Buf, Desc, Pool, PoolConfig, Ring};

const BATCH: usize = 64;

fn pool() -> Pool {
    let pool = Pool::create(
        "o7s-bench-pool",
        PoolConfig {
            count: 16384,
            ..PoolConfig::default()
        },
    )
    .expect("pool");
    eprintln!("pool backed by {}", pool.pages());
    pool
}

/// Two cores to pin to. The list is read once, before any thread is
/// pinned: once pinned, a thread sees only its own core.
fn cores() -> Option<(core_affinity::CoreId, core_affinity::CoreId)> {
    static CORES: std::sync::OnceLock<Option<(core_affinity::CoreId, core_affinity::CoreId)>> =
        std::sync::OnceLock::new();
    *CORES.get_or_init(|| match core_affinity::get_core_ids()?.as_slice() {
        [a, b, ..] => Some((*a, *b)),
        _ => None,
    })
}

fn alloc_free(c: &mut Criterion) {
    let pool = pool();
    let mut g = c.benchmark_group("alloc+free");
    let mut cache = pool.cache().expect("cache");

    g.throughput(Throughput::Elements(1));
    g.bench_function("single, same core", |b| {
        b.iter(|| {
            let buf = cache.alloc().expect("buffer");
            cache.free(black_box(buf));
        })
    });

    g.throughput(Throughput::Elements(BATCH as u64));
    let mut burst: Vec<Buf> = Vec::with_capacity(BATCH);
    g.bench_function("batch 64, same core", |b| {
        b.iter(|| {
            cache.alloc_burst(&mut burst, BATCH);
            cache.free_burst(black_box(&mut burst));
        })
    });

    // Baseline: the system allocator (glibc malloc) for a 2 KiB buffer.
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline: malloc+free 2 KiB, same core", |b| {
        b.iter(|| drop(black_box(Vec::<u8>::with_capacity(black_box(2048)))))
    });

    // Working set larger than a cache: every burst goes through the shared
    // free ring.
    let mut big: Vec<Buf> = Vec::with_capacity(4096);
    g.throughput(Throughput::Elements(4096));
    g.bench_function("batch 4096 via shared ring, same core", |b| {
        b.iter(|| {
            cache.alloc_burst(&mut big, 4096);
            cache.free_burst(black_box(&mut big));
        })
    });

    if let Some((here, there)) = cores() {
        core_affinity::set_for_current(here);
        // Allocated on this core, freed on the other: the buffers' owner
        // words and the free ring's lines move between cores, as when the
        // receiving worker is not the transmitting one.
        for (name, batch) in [
            ("single, alloc here, free on the other core", 1),
            ("batch 64, alloc here, free on the other core", BATCH),
        ] {
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_function(name, |b| {
                b.iter_custom(|iters| cross_core_alloc_free(&pool, &mut cache, there, batch, iters))
            });
        }
    }
    g.finish();
}

fn cross_core_alloc_free(
    pool: &Pool,
    cache: &mut o7s_mem::PoolCache,
    there: core_affinity::CoreId,
    batch: usize,
    iters: u64,
) -> Duration {
    let ring = Ring::create("o7s-bench-ring", 1024).expect("ring");
    let mut producer = ring.producer().expect("producer");
    let stop = Arc::new(AtomicBool::new(false));
    let peer = {
        let pool = pool.clone();
        let stop = Arc::clone(&stop);
        let (tx, rx) = std::sync::mpsc::channel();
        let ring_fd = ring.fd().try_clone_to_owned().expect("fd");
        let handle = std::thread::spawn(move || {
            core_affinity::set_for_current(there);
            let mut cache = pool.cache().expect("cache");
            let ring = Ring::attach(ring_fd).expect("ring");
            let mut consumer = ring.consumer(cache.slot()).expect("consumer");
            tx.send(()).expect("ready");
            let mut burst = Vec::with_capacity(BATCH);
            while !stop.load(Ordering::Relaxed) {
                if cache.recv(&mut consumer, &mut burst, batch) > 0 {
                    cache.free_burst(&mut burst);
                }
            }
            while cache.recv(&mut consumer, &mut burst, BATCH) > 0 {
                cache.free_burst(&mut burst);
            }
        });
        rx.recv().expect("peer ready");
        handle
    };
    let mut burst = Vec::with_capacity(BATCH);
    let start = Instant::now();
    for _ in 0..iters {
        while cache.alloc_burst(&mut burst, batch) == 0 {
            std::hint::spin_loop();
        }
        while !burst.is_empty() {
            cache.send(&mut producer, &mut burst);
        }
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    peer.join().expect("peer");
    elapsed
}

fn ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring enqueue+dequeue");
    let ring = Ring::create("o7s-bench-ring", 1024).expect("ring");
    {
        let mut p = ring.producer().expect("producer");
        let mut q = ring.consumer(1).expect("consumer");
        g.throughput(Throughput::Elements(1));
        g.bench_function("single, same core", |b| {
            b.iter(|| {
                p.push(black_box(Desc(7)));
                black_box(q.pop());
            })
        });
        let descs = [Desc(7); BATCH];
        let mut out = [Desc(0); BATCH];
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_function("batch 64, same core", |b| {
            b.iter(|| {
                p.push_slice(black_box(&descs));
                black_box(q.pop_slice(&mut out));
            })
        });
    }
    // Baseline: crossbeam's bounded queue (in-process only; it cannot live
    // in shared memory, which is why the rings are our own).
    let queue = Arc::new(ArrayQueue::<u64>::new(1024));
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline: crossbeam ArrayQueue single, same core", |b| {
        b.iter(|| {
            let _ = queue.push(black_box(7));
            black_box(queue.pop());
        })
    });
    if let Some((here, there)) = cores() {
        core_affinity::set_for_current(here);
        for (name, batch) in [("single, cross core", 1), ("batch 64, cross core", BATCH)] {
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_function(name, |b| {
                b.iter_custom(|iters| cross_core_ring(&ring, there, batch, iters))
            });
        }
        g.throughput(Throughput::Elements(1));
        g.bench_function("baseline: crossbeam ArrayQueue single, cross core", |b| {
            b.iter_custom(|iters| cross_core_queue(&queue, there, iters))
        });
    }
    g.finish();
}

fn cross_core_queue(queue: &Arc<ArrayQueue<u64>>, there: core_affinity::CoreId, iters: u64) -> Duration {
    let peer = {
        let queue = Arc::clone(queue);
        std::thread::spawn(move || {
            core_affinity::set_for_current(there);
            let mut seen = 0;
            while seen < iters {
                seen += u64::from(queue.pop().is_some());
            }
            Instant::now()
        })
    };
    let start = Instant::now();
    for i in 0..iters {
        while queue.push(i).is_err() {
            std::hint::spin_loop();
        }
    }
    peer.join().expect("peer") - start
}

/// Pushes `iters` batches from this core; a peer on the other core pops
/// them. Time until the peer has seen the last entry.
fn cross_core_ring(ring: &Ring, there: core_affinity::CoreId, batch: usize, iters: u64) -> Duration {
    let total = iters * batch as u64;
    let fd = ring.fd().try_clone_to_owned().expect("fd");
    let mut p = ring.producer().expect("producer");
    let (tx, rx) = std::sync::mpsc::channel();
    let peer = std::thread::spawn(move || {
        core_affinity::set_for_current(there);
        let ring = Ring::attach(fd).expect("ring");
        let mut q = ring.consumer(1).expect("consumer");
        tx.send(()).expect("ready");
        let mut out = [Desc(0); BATCH];
        let mut seen = 0u64;
        while seen < total {
            seen += q.pop_slice(&mut out[..batch]) as u64;
        }
        Instant::now()
    });
    rx.recv().expect("peer ready");
    let descs = [Desc(7); BATCH];
    let start = Instant::now();
    for _ in 0..iters {
        let mut sent = 0;
        while sent < batch {
            sent += p.push_slice(&descs[sent..batch]);
        }
    }
    let end = peer.join().expect("peer");
    end - start
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = alloc_free, ring
}
criterion_main!(benches);
