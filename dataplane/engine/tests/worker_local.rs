//! A running worker, driven through local ports: no root, no network.
//!
//! ```text
//!   test side                 worker                       test side
//!   [in] ── local link ──► port 0 ─┬─ forward ─► port 1 ── local link ──► [out1]
//!                                  ├─ forward ─► port 2 ── local link ──► [out2]
//!                                  ├─ deliver ─► endpoint ring (EID 70) ► [app]
//!                                  └─ punt ────► punt ring ─────────────► [ctl]
//! ```

mod common;

use std::time::{Duration, Instant};

use o7s_dataplane::port::Port;
use o7s_dataplane::port::local::LocalPort;
use o7s_dataplane::{Dataplane, Idle, WorkerSpec};
use o7s_mem::{Backing, Buf, Consumer, Desc, Pool, PoolCache, PoolConfig, Ring};
use o7s_seam::counters::DropReason;
use o7s_seam::punt::{self, Punt, PuntCause};
use o7s_seam::tables::{Encap, EthDixEncap, N1Flow, NextHop, Tables};
use o7s_wire::eth::MacAddr;
use o7s_wire::qos::QosCube;

const ME: u64 = 0x0A00_0001;
const FAR: u64 = 0x0A00_0009;
/// How long a worker may take to acknowledge a change.
const ACK: Duration = Duration::from_secs(5);

fn mac(n: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0, n])
}

/// A frame from the neighbour of flow "in" (MAC 0) to the worker's end
/// of that flow (MAC 100).
fn frame(shim_eid: u16, dst: u64, ttl: u8, dt_eid: u64, payload: &[u8]) -> Vec<u8> {
    common::eth_dix(
        mac(100).0,
        mac(0).0,
        shim_eid,
        &common::dt_packet(dst, ttl, dt_eid, payload),
    )
}

/// A best-effort eth-dix flow to neighbour `n` out of `port`.
fn flow(name: &str, port: u16, n: u8) -> N1Flow {
    N1Flow {
        name: name.into(),
        port,
        encap: Encap::EthDix(EthDixEncap {
            dst: mac(n),
            src: mac(100 + n),
            ethertype: 0xA000,
            eid: 500 + u16::from(n),
        }),
        cube: QosCube::BestEffort,
        up: true,
    }
}

struct Rig {
    pool: Pool,
    cache: PoolCache,
    input: LocalPort,
    outs: Vec<LocalPort>,
    app: Consumer,
    ctl: Consumer,
    dp: Option<Dataplane>,
}

impl Rig {
    fn new() -> Rig {
        let pool = Pool::create(
            "worker-test",
            PoolConfig {
                count: 4096,
                backing: Backing::Base,
                ..PoolConfig::default()
            },
        )
        .expect("pool");
        let cache = pool.cache().expect("test cache");
        let worker_cache = pool.cache().expect("worker cache");
        let (ws, ts) = (worker_cache.slot(), cache.slot());
        let mut ports: Vec<Option<Box<dyn Port>>> = Vec::new();
        let mut outs = Vec::new();
        let (p0, input) = LocalPort::pair("in", 256, ws, ts, 2048).expect("link");
        ports.push(Some(Box::new(p0)));
        for name in ["out1", "out2"] {
            let (p, o) = LocalPort::pair(name, 256, ws, ts, 2048).expect("link");
            ports.push(Some(Box::new(p)));
            outs.push(o);
        }
        let app_ring = Ring::create("app", 256).expect("ring");
        let ctl_ring = Ring::create("ctl", 256).expect("ring");
        let app = app_ring.consumer(ts).expect("consumer");
        let ctl = ctl_ring.consumer(ts).expect("consumer");

        let mut t = Tables {
            address: ME,
            ..Tables::default()
        };
        t.add_flow(flow("in", 0, 0), 7);
        let a = t.add_flow(flow("a", 1, 1), 11);
        let b = t.add_flow(flow("b", 2, 2), 12);
        t.set_route(QosCube::BestEffort, FAR, NextHop::Single(a));
        t.set_route(QosCube::BestEffort, 0x0A00_0010, NextHop::Ecmp([a, b].into()));
        t.endpoints.insert(70, 0);

        let spec = WorkerSpec {
            name: "w0".into(),
            core: None,
            cache: worker_cache,
            ports,
            endpoints: vec![app_ring.producer().expect("producer")],
            punt: Some(ctl_ring.producer().expect("producer")),
            idle: Idle::Adaptive,
        };
        let dp = Dataplane::start(t, vec![spec]).expect("start");
        Rig {
            pool,
            cache,
            input,
            outs,
            app,
            ctl,
            dp: Some(dp),
        }
    }

    fn send(&mut self, frames: &[Vec<u8>]) {
        let mut bufs: Vec<Buf> = Vec::new();
        for f in frames {
            let mut b = self.cache.alloc().expect("buffer");
            b.set_len(f.len()).expect("fits");
            self.pool.data_mut(&mut b).copy_from_slice(f);
            bufs.push(b);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !bufs.is_empty() {
            assert!(Instant::now() < deadline, "worker does not take frames");
            self.input.tx_burst(&mut self.cache, &mut bufs);
        }
    }

    /// Receives from `port` until `n` frames arrived (or 5 s passed).
    fn recv(&mut self, which: Out, n: usize) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let mut bufs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < n && Instant::now() < deadline {
            match which {
                Out::Port(i) => self.outs[i].rx_burst(&mut self.cache, &mut bufs, 64),
                Out::App => self.cache.recv(&mut self.app, &mut bufs, 64),
                Out::Ctl => self.cache.recv(&mut self.ctl, &mut bufs, 64),
            };
            for b in bufs.drain(..) {
                got.push(self.pool.data(&b).to_vec());
                self.cache.free(b);
            }
        }
        got
    }

    fn stop(&mut self) -> o7s_seam::counters::Snapshot {
        let dp = self.dp.take().expect("running");
        let c = dp.counters();
        dp.stop();
        c
    }
}

#[derive(Clone, Copy)]
enum Out {
    Port(usize),
    App,
    Ctl,
}

#[test]
fn a_worker_forwards_delivers_punts_and_drops_with_reasons() {
    let mut rig = Rig::new();
    rig.send(&[
        frame(7, FAR, 10, 1234, b"transit"),
        frame(7, ME, 10, 70, b"for the app"),
        frame(7, ME, 10, 1, b"dht"),
        frame(7, FAR, 1, 1234, b"ttl 1"),
        frame(7, 0x0B00_0000, 10, 1, b"nowhere"),
        frame(99, FAR, 10, 1, b"unknown shim eid"),
        frame(0, 0, 0, 0, b"shim management"),
    ]);
    let out = rig.recv(Out::Port(0), 1);
    assert_eq!(out.len(), 1);
    let f = &out[0];
    assert_eq!(&f[0..6], &mac(1).0, "next hop MAC");
    assert_eq!(u16::from_be_bytes([f[14], f[15]]), 501, "next hop's EID");
    assert_eq!(common::dt_of(f).ttl(), 9);
    assert!(f.ends_with(b"transit"));
    assert_eq!(
        rig.recv(Out::App, 1),
        vec![b"for the app".to_vec()],
        "SDU without shim or DT header"
    );
    // Punted whole (TTL decremented), behind a header naming the port and
    // the N-1 flow; shim management on no flow.
    let punted = rig.recv(Out::Ctl, 2);
    let heard: Vec<(Punt, &[u8])> = punted
        .iter()
        .map(|p| {
            let desc = Desc::new(0, 0, p.len() as u16);
            let punt = Punt::read(desc, p).expect("a punt header");
            (punt, &p[punt::HEADER_LEN..])
        })
        .collect();
    assert_eq!(heard.len(), 2);
    assert_eq!(
        (heard[0].0.port, heard[0].0.cause, heard[0].1),
        (0, PuntCause::LayerMgmt { flow: 0 }, &frame(7, ME, 9, 1, b"dht")[..]),
        "component traffic, from flow \"in\""
    );
    assert_eq!(
        (heard[1].0.port, heard[1].0.cause, heard[1].1),
        (
            0,
            PuntCause::ShimMgmt { from: None },
            &frame(0, 0, 0, 0, b"shim management")[..]
        )
    );
    assert_eq!(
        heard[1].0.frame,
        Desc::new(0, punt::HEADER_LEN as u16, heard[1].1.len() as u16)
    );

    let c = rig.stop();
    assert_eq!((c.rx_packets, c.forwarded, c.delivered, c.punted), (7, 1, 1, 2));
    assert_eq!(c.dropped(DropReason::TtlExpired), 1);
    assert_eq!(c.dropped(DropReason::NoRoute), 1);
    assert_eq!(c.dropped(DropReason::UnknownFlow), 1);
}

#[test]
fn ecmp_through_a_worker_keeps_every_flow_on_one_port() {
    let mut rig = Rig::new();
    // 40 flows (EIDs), 5 packets each, interleaved.
    let frames: Vec<Vec<u8>> = (0..5)
        .flat_map(|_| (64..104u64).map(|eid| frame(7, 0x0A00_0010, 10, eid, &eid.to_be_bytes())))
        .collect();
    rig.send(&frames);
    let a = rig.recv(Out::Port(0), 200);
    let b = rig.recv(Out::Port(1), 200 - a.len());
    assert_eq!(a.len() + b.len(), 200);
    let eids = |v: &[Vec<u8>]| {
        v.iter()
            .map(|f| f[f.len() - 8..].to_vec())
            .collect::<std::collections::HashSet<_>>()
    };
    let (ea, eb) = (eids(&a), eids(&b));
    assert!(ea.is_disjoint(&eb), "a flow appeared on both paths");
    assert!(!ea.is_empty() && !eb.is_empty(), "both paths used");
    rig.stop();
}

#[test]
fn a_worker_survives_100_000_random_frames_and_keeps_forwarding() {
    let mut rig = Rig::new();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut sent = 0;
    while sent < 100_000 {
        let batch: Vec<Vec<u8>> = (0..200)
            .map(|i| {
                let len = (rnd() % 1600) as usize;
                let mut f: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
                // Make a third of them look like ours, so they get past the
                // first checks and exercise the later ones.
                if i % 3 == 0 && len >= 18 {
                    f[12..14].copy_from_slice(&0xA000u16.to_be_bytes());
                    f[14..16].copy_from_slice(&7u16.to_be_bytes());
                }
                f
            })
            .collect();
        rig.send(&batch);
        sent += batch.len();
        // Drain whatever was forwarded or delivered so rings never fill.
        for o in [Out::Port(0), Out::Port(1), Out::App, Out::Ctl] {
            let _ = rig.recv(o, 0);
        }
        let mut bufs = Vec::new();
        for i in 0..2 {
            while rig.outs[i].rx_burst(&mut rig.cache, &mut bufs, 64) > 0 {
                rig.cache.free_burst(&mut bufs);
            }
        }
        while rig.cache.recv(&mut rig.app, &mut bufs, 64) > 0 || rig.cache.recv(&mut rig.ctl, &mut bufs, 64) > 0 {
            rig.cache.free_burst(&mut bufs);
        }
    }
    rig.send(&[frame(7, FAR, 10, 1234, b"still alive")]);
    let out = rig.recv(Out::Port(0), 1);
    assert!(
        out.iter().any(|f| f.ends_with(b"still alive")),
        "valid traffic still forwarded"
    );
    let c = rig.stop();
    assert_eq!(c.rx_packets, 100_001);
    assert!(c.total_drops() > 90_000, "random frames are dropped and counted: {c}");
    assert_eq!(
        c.rx_packets,
        c.forwarded + c.delivered + c.punted + c.total_drops(),
        "every frame accounted: {c}"
    );
    let Rig { pool, cache, .. } = rig;
    drop(cache);
    let stats = pool.stats();
    assert_eq!((stats.free, stats.held()), (4096, 0), "no buffer leaked: {stats:?}");
}

#[test]
fn ports_endpoints_and_tables_can_be_changed_while_the_worker_runs() {
    let pool = Pool::create(
        "worker-cmd-test",
        PoolConfig {
            count: 2048,
            backing: Backing::Base,
            ..PoolConfig::default()
        },
    )
    .expect("pool");
    let mut cache = pool.cache().expect("cache");
    let worker_cache = pool.cache().expect("worker cache");
    let (ws, ts) = (worker_cache.slot(), cache.slot());
    let (p0, mut input) = LocalPort::pair("cmd-in", 64, ws, ts, 2048).expect("link");
    let mut t = Tables {
        address: ME,
        ..Tables::default()
    };
    t.add_flow(flow("in", 0, 0), 7);
    let spec = WorkerSpec {
        name: "w-cmd".into(),
        core: None,
        cache: worker_cache,
        ports: vec![Some(Box::new(p0))],
        endpoints: Vec::new(),
        punt: None,
        idle: Idle::Adaptive,
    };
    let dp = Dataplane::start(t, vec![spec]).expect("start");

    // A new port, an endpoint and the routes that use them, in that order.
    let (p1, mut out) = LocalPort::pair("cmd-out", 64, ws, ts, 2048).expect("link");
    dp.apply(
        0,
        o7s_dataplane::Command::AddPort {
            id: 1,
            port: Box::new(p1),
        },
    )
    .expect("add port");
    let app_ring = Ring::create("cmd-app", 64).expect("ring");
    let mut app = app_ring.consumer(ts).expect("consumer");
    dp.apply(
        0,
        o7s_dataplane::Command::SetEndpoint {
            index: 0,
            ring: Some(app_ring.producer().expect("producer")),
        },
    )
    .expect("endpoint");
    dp.update(|t| {
        let a = t.add_flow(flow("a", 1, 1), 11);
        t.set_route(QosCube::BestEffort, FAR, NextHop::Single(a));
        t.endpoints.insert(70, 0);
    });
    // The worker takes the tables in at its next burst: frames sent before
    // it acknowledges could still meet the old ones.
    dp.sync(ACK).expect("tables acknowledged");

    let send = |cache: &mut PoolCache, input: &mut LocalPort, f: Vec<u8>| {
        let mut b = cache.alloc().expect("buffer");
        b.set_len(f.len()).expect("fits");
        pool.data_mut(&mut b).copy_from_slice(&f);
        let mut v = vec![b];
        while !v.is_empty() {
            input.tx_burst(cache, &mut v);
        }
    };
    let recv = |cache: &mut PoolCache, from: &mut dyn FnMut(&mut PoolCache, &mut Vec<Buf>) -> usize| {
        let mut bufs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while bufs.is_empty() && Instant::now() < deadline {
            from(cache, &mut bufs);
        }
        let got: Vec<Vec<u8>> = bufs.iter().map(|b| pool.data(b).to_vec()).collect();
        cache.free_burst(&mut bufs);
        got
    };
    send(&mut cache, &mut input, frame(7, FAR, 10, 1, b"routed"));
    let got = recv(&mut cache, &mut |c, v| out.rx_burst(c, v, 8));
    assert!(
        got.len() == 1 && got[0].ends_with(b"routed"),
        "forwarded through the added port"
    );
    send(&mut cache, &mut input, frame(7, ME, 10, 70, b"local"));
    let got = recv(&mut cache, &mut |c, v| c.recv(&mut app, v, 8));
    assert_eq!(got, vec![b"local".to_vec()], "delivered to the added endpoint");

    let names = |dp: &Dataplane| {
        dp.ports()
            .into_iter()
            .map(|(_, id, info)| (id, info.name))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&dp),
        [(0, "cmd-in-a".to_string()), (1, "cmd-out-a".to_string())],
        "ports as the worker polls them"
    );
    dp.apply(0, o7s_dataplane::Command::RemovePort { id: 1 })
        .expect("remove port");
    assert_eq!(names(&dp), [(0, "cmd-in-a".to_string())]);
    send(&mut cache, &mut input, frame(7, FAR, 10, 1, b"nowhere now"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while dp.counters().dropped(DropReason::NoPort) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        dp.counters().dropped(DropReason::NoPort),
        1,
        "a removed port takes nothing"
    );
    dp.stop();
}

#[test]
fn a_table_update_is_in_force_once_the_worker_acknowledges_it() {
    let mut rig = Rig::new();
    let dp = rig.dp.take().expect("running");
    let mut last = 0;
    // Move FAR between the two output ports, and send one frame right
    // after each acknowledged swap: it must leave by the new route.
    for round in 0..40u8 {
        let port = usize::from(round % 2);
        dp.update(|t| {
            let via = t.flow_id(if port == 0 { "a" } else { "b" }).expect("flow");
            t.set_route(QosCube::BestEffort, FAR, NextHop::Single(via));
        });
        let generation = dp.sync(ACK).expect("acknowledged");
        assert!(generation > last, "each sync is a new generation");
        last = generation;
        rig.send(&[frame(7, FAR, 10, 1234, &[round])]);
        let got = rig.recv(Out::Port(port), 1);
        assert_eq!(got.len(), 1, "round {round}: not on port {port}");
        assert_eq!(got[0].last(), Some(&round));
    }
    let c = dp.counters();
    assert_eq!((c.forwarded, c.total_drops()), (40, 0), "{c}");
    dp.stop();
    assert!(
        matches!(
            Dataplane::start(Tables::default(), Vec::new())
                .expect("no workers")
                .sync(ACK),
            Ok(1)
        ),
        "with no worker there is nothing to wait for"
    );
}
