//! The router in network namespaces, on AF_XDP with XDP steering (and on
//! AF_PACKET, for hostile frames). Needs root (CI runs as root); skips with
//! a message otherwise.
//!
//! ```text
//!                           rtr (o7s-dataplane, AF_XDP on r0, r1, r2)
//!   gen:g0 ─── veth ─── r0 ─┤                          ├─ r1 ─── veth ─── sa:snkA
//!   (AF_PACKET sender,      │ address 0x0A000001        ├─ r2 ─── veth ─── sb:snkB
//!    ping 10.77.0.2)        └ 10.77.0.2/24 on r0        (AF_PACKET receivers)
//! ```
//!
//! Flows: gen→rtr with shim EID 100 (cube best effort) and 101 (cube
//! video); rtr→snkA "a" (EID 300), rtr→snkB "b" (EID 400).
//! Routes: FAR via a in best effort and via b in video; ECMP_DST via a and
//! b; nothing for NOWHERE. The veths have IPv6 off, so that no host sends
//! anything of its own: the router's counters add up to what a test sends.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use o7s_dataplane::Dataplane;
use o7s_dataplane::backend::start_router_in;
use o7s_dataplane::config::RouterConfig;
use o7s_dataplane::port::Port;
use o7s_dataplane::port::packet::{AfPacketPort, PacketConfig};
use o7s_ebpf::{AttachMode, PassProgram};
use o7s_mem::{Backing, Buf, Consumer, Pool, PoolCache, PoolConfig, Ring};
use o7s_netns::{Netns, require_root, veth};
use o7s_seam::counters::{DropReason, KernelLoss, Snapshot};
use o7s_wire::dt::{DtHeader, DtLayout, DtRepr};

const ME: u64 = 0x0A00_0001;
const FAR: u64 = 0x0A00_0009;
const ECMP_DST: u64 = 0x0A00_0010;
const NOWHERE: u64 = 0x0B00_0000;
const LOCAL_EID: u64 = 77;

struct Lab {
    src: Netns,
    rtr: Netns,
    a: Netns,
    b: Netns,
    pool: Pool,
    dp: Option<Dataplane>,
    app: Consumer,
    app_cache: PoolCache,
}

fn mac_octets(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s.split(':').map(|x| u8::from_str_radix(x, 16).expect("hex")).collect();
    v.try_into().expect("6 octets")
}

impl Lab {
    fn new() -> Lab {
        Lab::with_config("")
    }

    /// The lab with `top` added at the top of the router's configuration.
    fn with_config(top: &str) -> Lab {
        Lab::with("af_xdp", top)
    }

    /// The lab with the router's ports on `backend` and `top` added at the
    /// top of its configuration.
    fn with(backend: &str, top: &str) -> Lab {
        let src = Netns::new("gen").expect("netns");
        let rtr = Netns::new("rtr").expect("netns");
        let a = Netns::new("sa").expect("netns");
        let b = Netns::new("sb").expect("netns");
        // Before the veths exist: they never have IPv6, so no neighbour
        // discovery or MLD reaches the router's ports.
        for ns in [&src, &rtr, &a, &b] {
            ns.run("sysctl", &["-qw", "net.ipv6.conf.default.disable_ipv6=1"])
                .expect("IPv6 off");
        }
        veth((&src, "g0"), (&rtr, "r0")).expect("veth");
        veth((&rtr, "r1"), (&a, "a0")).expect("veth");
        veth((&rtr, "r2"), (&b, "b0")).expect("veth");
        src.run("ip", &["addr", "add", "10.77.0.1/24", "dev", "g0"])
            .expect("addr");
        rtr.run("ip", &["addr", "add", "10.77.0.2/24", "dev", "r0"])
            .expect("addr");
        let config = format!(
            r#"
            {top}
            address = {ME}
            [pool]
            buffers = 16384
            [[port]]
            name = "r0"
            backend = "{backend}"
            [[port]]
            name = "r1"
            backend = "{backend}"
            [[port]]
            name = "r2"
            backend = "{backend}"
            [[flow]]
            name = "from-gen"
            port = "r0"
            peer_mac = "{g}"
            rx_eid = 100
            tx_eid = 100
            [[flow]]
            name = "from-gen-video"
            port = "r0"
            peer_mac = "{g}"
            rx_eid = 101
            tx_eid = 101
            cube = "video"
            [[flow]]
            name = "a"
            port = "r1"
            peer_mac = "{ma}"
            rx_eid = 3
            tx_eid = 300
            [[flow]]
            name = "b"
            port = "r2"
            peer_mac = "{mb}"
            rx_eid = 4
            tx_eid = 400
            [[route]]
            dst = {FAR}
            via = ["a"]
            cube = "best"
            [[route]]
            dst = {FAR}
            via = ["b"]
            cube = "video"
            [[route]]
            dst = {ECMP_DST}
            via = ["a", "b"]
            "#,
            g = src.mac("g0").expect("mac"),
            ma = a.mac("a0").expect("mac"),
            mb = b.mac("b0").expect("mac"),
        );
        let cfg = RouterConfig::parse(&config).expect("config");
        let pool = Pool::create(
            "router-test",
            PoolConfig {
                count: 16384,
                backing: Backing::Auto,
                ..PoolConfig::default()
            },
        )
        .expect("pool");
        let app_cache = pool.cache().expect("cache");
        let ring = Ring::create("app", 1024).expect("ring");
        let app = ring.consumer(app_cache.slot()).expect("consumer");
        let producer = ring.producer().expect("producer");
        let dp = rtr
            .enter(|| start_router_in(&pool, &cfg, vec![(LOCAL_EID, producer)], None))
            .expect("enter rtr")
            .expect("router starts");
        Lab {
            src,
            rtr,
            a,
            b,
            pool,
            dp: Some(dp),
            app,
            app_cache,
        }
    }

    fn dp(&self) -> &Dataplane {
        self.dp.as_ref().expect("running")
    }

    fn gen_mac(&self) -> [u8; 6] {
        mac_octets(&self.src.mac("g0").expect("mac"))
    }

    fn r0_mac(&self) -> [u8; 6] {
        mac_octets(&self.rtr.mac("r0").expect("mac"))
    }

    /// 20 frames to FAR on the best-effort flow (payload 'e', n) and 20 on
    /// the video flow ('v', n), interleaved.
    fn cube_traffic(&self) -> Vec<Vec<u8>> {
        (0..20u8)
            .flat_map(|i| {
                [
                    self.frame(100, FAR, 10, 1000, &[b'e', i]),
                    self.frame(101, FAR, 10, 1000, &[b'v', i]),
                ]
            })
            .collect()
    }

    /// An eth-dix frame from gen to the router.
    fn frame(&self, shim_eid: u16, dst: u64, ttl: u8, dt_eid: u64, payload: &[u8]) -> Vec<u8> {
        common::eth_dix(
            self.r0_mac(),
            self.gen_mac(),
            shim_eid,
            &common::dt_packet(dst, ttl, dt_eid, payload),
        )
    }

    /// Has a and b accept the frames the XDP fast path redirects to r1
    /// and r2: a veth takes them only when its peer runs an XDP program
    /// (xdp_pass hands them on to the AF_PACKET receivers).
    fn accept_redirects(&self) -> [PassProgram; 2] {
        let pass = |ns: &Netns, ifname: &str| {
            ns.enter(|| PassProgram::attach(ifname, AttachMode::Auto))
                .expect("enter")
                .expect("xdp_pass")
        };
        [pass(&self.a, "a0"), pass(&self.b, "b0")]
    }

    /// Waits for the frame for the router's own address at its endpoint.
    fn delivered(&mut self) -> Vec<Vec<u8>> {
        let mut local = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while local.is_empty() && Instant::now() < deadline {
            self.app_cache.recv(&mut self.app, &mut local, 8);
        }
        let got = local.iter().map(|b| self.pool.data(b).to_vec()).collect();
        self.app_cache.free_burst(&mut local);
        got
    }

    fn stop(&mut self) -> Snapshot {
        let dp = self.dp.take().expect("running");
        let c = dp.counters();
        dp.stop();
        c
    }
}

/// Sends `frames` out of `ifname` in `ns` over AF_PACKET, through the
/// buffers of `pool` (frames longer than its buffers need one of its own).
fn send(pool: &Pool, ns: &Netns, ifname: &str, ethertype: u16, frames: &[Vec<u8>]) {
    ns.enter(|| {
        let mut cache = pool.cache().expect("cache");
        let mut port = AfPacketPort::open(&PacketConfig {
            interface: ifname.into(),
            ethertype,
            // Ring frames for the longest frame a pool buffer holds.
            frame_size: pool.buf_size().next_power_of_two() as u32,
            ..PacketConfig::default()
        })
        .expect("AF_PACKET sender");
        for chunk in frames.chunks(32) {
            let mut bufs: Vec<Buf> = chunk
                .iter()
                .map(|f| {
                    let mut b = cache.alloc().expect("buffer");
                    b.set_len(f.len()).expect("fits");
                    pool.data_mut(&mut b).copy_from_slice(f);
                    b
                })
                .collect();
            let deadline = Instant::now() + Duration::from_secs(5);
            while !bufs.is_empty() && Instant::now() < deadline {
                port.tx_burst(&mut cache, &mut bufs);
                port.poll(&mut cache);
            }
            cache.free_burst(&mut bufs);
            // Pace a little: veth queues are short and this is a test of
            // correctness, not of speed.
            std::thread::sleep(Duration::from_micros(200));
        }
        port.poll(&mut cache);
        port.drain(&mut cache);
    })
    .expect("enter sender namespace");
}

/// Starts a receiver on `ifname` in `ns`; it collects eth-dix frames until
/// `quiet` passes with nothing new after the first one (or 20 s pass with
/// none), and sends them back.
fn receiver(pool: &Pool, ns: &Netns, ifname: &'static str, quiet: Duration) -> mpsc::Receiver<Vec<Vec<u8>>> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let pool = pool.clone();
    let name = ns.name().to_string();
    std::thread::spawn(move || {
        o7s_netns::join_named(&name).expect("join namespace");
        let mut cache = pool.cache().expect("cache");
        let mut port = AfPacketPort::open(&PacketConfig {
            interface: ifname.into(),
            ..PacketConfig::default()
        })
        .expect("receiver");
        ready_tx.send(()).expect("ready");
        let mut got = Vec::new();
        let mut bufs = Vec::new();
        let start = Instant::now();
        let mut last: Option<Instant> = None;
        while last.map_or(start.elapsed() < Duration::from_secs(20), |t| t.elapsed() < quiet) {
            port.poll(&mut cache);
            if port.rx_burst(&mut cache, &mut bufs, 64) > 0 {
                last = Some(Instant::now());
                for b in bufs.drain(..) {
                    got.push(pool.data(&b).to_vec());
                    cache.free(b);
                }
            } else {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        port.drain(&mut cache);
        let _ = done_tx.send(got);
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).expect("receiver ready");
    done_rx
}

use common::dt_of as dt;

#[test]
fn the_router_forwards_by_cube_drops_with_reasons_and_delivers_locally() {
    if !require_root("the_router_forwards_by_cube_drops_with_reasons_and_delivers_locally") {
        return;
    }
    let mut lab = Lab::new();
    let at_a = receiver(&lab.pool, &lab.a, "a0", Duration::from_secs(2));
    let at_b = receiver(&lab.pool, &lab.b, "b0", Duration::from_secs(2));
    let mut frames = lab.cube_traffic();
    frames.push(lab.frame(100, FAR, 1, 1000, b"ttl runs out"));
    frames.push(lab.frame(100, NOWHERE, 10, 1000, b"no route"));
    frames.push(lab.frame(100, ME, 1, LOCAL_EID, b"for me"));
    frames.push(lab.frame(999, FAR, 10, 1000, b"unknown flow"));
    send(&lab.pool, &lab.src, "g0", 0xA000, &frames);

    let a: Vec<Vec<u8>> = at_a.recv_timeout(Duration::from_secs(30)).expect("a");
    let b: Vec<Vec<u8>> = at_b.recv_timeout(Duration::from_secs(30)).expect("b");
    assert_eq!(a.len(), 20, "best-effort cube to a");
    assert_eq!(b.len(), 20, "video cube to b");
    assert!(
        a.iter()
            .all(|f| f.ends_with(&[b'e', f[f.len() - 1]]) && f[f.len() - 2] == b'e')
    );
    assert!(b.iter().all(|f| f[f.len() - 2] == b'v'));
    for f in a.iter().chain(&b) {
        assert_eq!(dt(f).ttl(), 9, "TTL decremented once");
    }
    assert_eq!(u16::from_be_bytes([a[0][14], a[0][15]]), 300, "a's EID");
    assert_eq!(u16::from_be_bytes([b[0][14], b[0][15]]), 400, "b's EID");
    assert_eq!(&a[0][0..6], &mac_octets(&lab.a.mac("a0").expect("mac")), "a's MAC");
    assert_eq!(&a[0][6..12], &mac_octets(&lab.rtr.mac("r1").expect("mac")), "from r1");

    assert_eq!(
        lab.delivered(),
        [b"for me"],
        "the frame for the router's own address reached its endpoint"
    );

    let c = lab.stop();
    assert_eq!(c.forwarded, 40, "{c}");
    assert_eq!(c.delivered, 1, "{c}");
    assert_eq!(c.dropped(DropReason::TtlExpired), 1, "{c}");
    assert_eq!(c.dropped(DropReason::NoRoute), 1, "{c}");
    assert_eq!(c.dropped(DropReason::UnknownFlow), 1, "{c}");
}

#[test]
fn ecmp_keeps_each_flow_on_one_path_and_ping_still_works() {
    if !require_root("ecmp_keeps_each_flow_on_one_path_and_ping_still_works") {
        return;
    }
    let mut lab = Lab::new();
    // The kernel still owns everything that is not o7s: ARP and ICMP pass
    // the steering program.
    lab.src
        .run("ping", &["-c", "3", "-i", "0.2", "-W", "2", "10.77.0.2"])
        .expect("ping through the steered port");

    let at_a = receiver(&lab.pool, &lab.a, "a0", Duration::from_secs(2));
    let at_b = receiver(&lab.pool, &lab.b, "b0", Duration::from_secs(2));
    let frames: Vec<Vec<u8>> = (0..4)
        .flat_map(|_| (64..104u64).map(|eid| lab.frame(100, ECMP_DST, 10, eid, &eid.to_be_bytes())))
        .collect();
    send(&lab.pool, &lab.src, "g0", 0xA000, &frames);
    let a = at_a.recv_timeout(Duration::from_secs(30)).expect("a");
    let b = at_b.recv_timeout(Duration::from_secs(30)).expect("b");
    assert_eq!(a.len() + b.len(), 160, "{}", lab.dp().counters());
    let eids = |v: &[Vec<u8>]| v.iter().map(|f| dt(f).eid()).collect::<std::collections::HashSet<_>>();
    assert!(eids(&a).is_disjoint(&eids(&b)), "no flow on both paths");
    assert!(!a.is_empty() && !b.is_empty(), "both paths used");

    lab.src
        .run("ping", &["-c", "2", "-i", "0.2", "-W", "2", "10.77.0.2"])
        .expect("ping after o7s traffic");
    lab.stop();
}

#[test]
fn the_router_survives_100_000_random_frames_and_keeps_forwarding() {
    if !require_root("the_router_survives_100_000_random_frames_and_keeps_forwarding") {
        return;
    }
    let mut lab = Lab::new();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (dst, src) = (lab.r0_mac(), lab.gen_mac());
    let frames: Vec<Vec<u8>> = (0..100_000)
        .map(|i| {
            // Random lengths from 14 octets (just an Ethernet header) up;
            // every frame carries the o7s Ethertype so that it reaches the
            // dataplane, and a third claims a known flow to get further.
            let len = 14 + (rnd() % 300) as usize;
            let mut f: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            f[0..6].copy_from_slice(&dst);
            f[6..12].copy_from_slice(&src);
            f[12..14].copy_from_slice(&0xA000u16.to_be_bytes());
            if i % 3 == 0 && len >= 16 {
                f[14..16].copy_from_slice(&100u16.to_be_bytes());
            }
            f
        })
        .collect();
    send(&lab.pool, &lab.src, "g0", 0xA000, &frames);
    let seen = lab.dp().counters();
    assert!(
        seen.rx_packets > 90_000,
        "most random frames reached the dataplane: {seen}"
    );
    assert!(seen.total_drops() > 80_000, "and were dropped with a reason: {seen}");

    let at_a = receiver(&lab.pool, &lab.a, "a0", Duration::from_secs(1));
    let valid: Vec<Vec<u8>> = (0..10u8).map(|i| lab.frame(100, FAR, 10, 1000, &[b'k', i])).collect();
    send(&lab.pool, &lab.src, "g0", 0xA000, &valid);
    let a = at_a.recv_timeout(Duration::from_secs(30)).expect("a");
    assert!(
        a.iter().filter(|f| f[f.len() - 2] == b'k').count() == 10,
        "valid traffic still forwarded"
    );
    let c = lab.stop();
    assert_eq!(
        c.rx_packets,
        c.forwarded + c.delivered + c.punted + c.total_drops(),
        "every frame accounted: {c}"
    );
}

/// The UDP shim on io_uring, beside eth-dix on AF_XDP:
///
/// ```text
///   gen 10.78.0.1:3435 ── veth ── r0 10.78.0.2:3435 (udp0) ─ rtr ─ r1 (AF_XDP) ── veth ── sa:a0
///          UDP: [EID 5000][DT → FAR]  ──────────────────────►  eth-dix EID 300 ──►
///          ◄── UDP: [EID 6000][DT → BACK]  ◄─────────────────  eth-dix EID 3 ◄───
/// ```
#[test]
fn udp_and_eth_dix_neighbours_exchange_traffic_through_the_router() {
    if !require_root("udp_and_eth_dix_neighbours_exchange_traffic_through_the_router") {
        return;
    }
    const BACK: u64 = 0x0A00_0099;
    let src = Netns::new("ugen").expect("netns");
    let rtr = Netns::new("urtr").expect("netns");
    let a = Netns::new("usa").expect("netns");
    veth((&src, "g0"), (&rtr, "r0")).expect("veth");
    veth((&rtr, "r1"), (&a, "a0")).expect("veth");
    src.run("ip", &["addr", "add", "10.78.0.1/24", "dev", "g0"])
        .expect("addr");
    rtr.run("ip", &["addr", "add", "10.78.0.2/24", "dev", "r0"])
        .expect("addr");
    let cfg = RouterConfig::parse(&format!(
        r#"
        address = {ME}
        [[port]]
        name = "udp0"
        backend = "udp"
        bind = "10.78.0.2:3435"
        [[port]]
        name = "r1"
        backend = "af_xdp"
        [[flow]]
        name = "gen"
        port = "udp0"
        peer = "10.78.0.1:3435"
        rx_eid = 5000
        tx_eid = 6000
        [[flow]]
        name = "a"
        port = "r1"
        peer_mac = "{ma}"
        rx_eid = 3
        tx_eid = 300
        [[route]]
        dst = {FAR}
        via = ["a"]
        [[route]]
        dst = {BACK}
        via = ["gen"]
        "#,
        ma = a.mac("a0").expect("mac"),
    ))
    .expect("config");
    let pool = Pool::create(
        "udp-router-test",
        PoolConfig {
            count: 8192,
            backing: Backing::Auto,
            ..PoolConfig::default()
        },
    )
    .expect("pool");
    let dp = rtr
        .enter(|| start_router_in(&pool, &cfg, Vec::new(), None))
        .expect("enter")
        .expect("router starts");

    let at_a = receiver(&pool, &a, "a0", Duration::from_secs(1));
    let hl = DtLayout::DEFAULT.header_len();
    let dt_packet = |dst: u64, payload: &[u8]| {
        let mut p = vec![0u8; hl + payload.len()];
        DtRepr {
            dst,
            qos: 0,
            ttl: 10,
            ecn: 0,
            eid: 4242,
        }
        .emit(&mut DtHeader::new_unchecked(&mut p[..], DtLayout::DEFAULT));
        p[hl..].copy_from_slice(payload);
        p
    };
    let replies = src
        .enter(|| {
            let sock = std::net::UdpSocket::bind("10.78.0.1:3435").expect("bind");
            sock.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            for i in 0..20u8 {
                let mut d = 5000u32.to_be_bytes().to_vec();
                d.extend(dt_packet(FAR, &[b'u', i]));
                sock.send_to(&d, "10.78.0.2:3435").expect("send");
            }
            sock
        })
        .expect("enter gen");
    let frames = at_a.recv_timeout(Duration::from_secs(30)).expect("a");
    assert_eq!(frames.len(), 20, "UDP in, eth-dix out: {}", dp.counters());
    assert!(
        frames
            .iter()
            .all(|f| u16::from_be_bytes([f[14], f[15]]) == 300 && dt(f).ttl() == 9)
    );
    assert_eq!(frames[0][frames[0].len() - 2..], [b'u', 0]);

    // And back: eth-dix in from a, UDP out to gen.
    let mut back = Vec::new();
    let (r1, a0) = (
        mac_octets(&rtr.mac("r1").expect("mac")),
        mac_octets(&a.mac("a0").expect("mac")),
    );
    for i in 0..5u8 {
        back.push(common::eth_dix(r1, a0, 3, &dt_packet(BACK, &[b'b', i])));
    }
    send(&pool, &a, "a0", 0xA000, &back);
    let got: Vec<Vec<u8>> = (0..5)
        .map(|_| {
            let mut d = [0u8; 2048];
            let (n, from) = replies.recv_from(&mut d).expect("datagram back");
            assert_eq!(
                from,
                "10.78.0.2:3435".parse().expect("addr"),
                "sent from the router's shim socket"
            );
            d[..n].to_vec()
        })
        .collect();
    for (i, d) in got.iter().enumerate() {
        assert_eq!(&d[0..4], &6000u32.to_be_bytes(), "gen's EID");
        assert_eq!(DtHeader::new_unchecked(&d[4..], DtLayout::DEFAULT).ttl(), 9);
        assert_eq!(d[d.len() - 2..], [b'b', i as u8]);
    }
    let c = dp.counters();
    dp.stop();
    assert_eq!(c.forwarded, 25, "{c}");
}

#[test]
fn the_xdp_fast_path_forwards_transit_and_leaves_the_rest_to_the_worker() {
    if !require_root("the_xdp_fast_path_forwards_transit_and_leaves_the_rest_to_the_worker") {
        return;
    }
    let mut lab = Lab::with_config("fast_path = true");
    let _pass = lab.accept_redirects();
    let at_a = receiver(&lab.pool, &lab.a, "a0", Duration::from_secs(2));
    let at_b = receiver(&lab.pool, &lab.b, "b0", Duration::from_secs(2));
    let mut frames = lab.cube_traffic();
    // Slow path: TTL expiry, own address, ECMP.
    // Inconsistent shim length (longer than the frame): the worker's to
    // drop and count, not the fast path's to forward.
    let mut bad = lab.frame(100, FAR, 10, 1000, b"bad length");
    bad[16..18].copy_from_slice(&500u16.to_be_bytes());
    frames.push(bad);
    frames.push(lab.frame(100, FAR, 1, 1000, b"ttl runs out"));
    frames.push(lab.frame(100, ME, 1, LOCAL_EID, b"for me"));
    for eid in 64..68u64 {
        frames.push(lab.frame(100, ECMP_DST, 10, eid, b"x"));
    }
    send(&lab.pool, &lab.src, "g0", 0xA000, &frames);

    let a: Vec<Vec<u8>> = at_a.recv_timeout(Duration::from_secs(30)).expect("a");
    let b: Vec<Vec<u8>> = at_b.recv_timeout(Duration::from_secs(30)).expect("b");
    let marked = |v: &[Vec<u8>], m: u8| -> Vec<Vec<u8>> { v.iter().filter(|f| f[f.len() - 2] == m).cloned().collect() };
    let (fa, fb) = (marked(&a, b'e'), marked(&b, b'v'));
    assert_eq!(fa.len(), 20, "best-effort cube to a: {}", lab.dp().counters());
    assert_eq!(fb.len(), 20, "video cube to b: {}", lab.dp().counters());
    for f in fa.iter().chain(&fb) {
        assert_eq!(dt(f).ttl(), 9, "TTL decremented once");
        assert_eq!(dt(f).dst(), FAR);
    }
    assert!(fa.iter().all(|f| u16::from_be_bytes([f[14], f[15]]) == 300), "a's EID");
    assert!(fb.iter().all(|f| u16::from_be_bytes([f[14], f[15]]) == 400), "b's EID");
    assert_eq!(&fa[0][0..6], &mac_octets(&lab.a.mac("a0").expect("mac")), "a's MAC");
    assert_eq!(&fa[0][6..12], &mac_octets(&lab.rtr.mac("r1").expect("mac")), "from r1");
    assert_eq!(&fb[0][0..6], &mac_octets(&lab.b.mac("b0").expect("mac")), "b's MAC");
    assert_eq!(&fb[0][6..12], &mac_octets(&lab.rtr.mac("r2").expect("mac")), "from r2");
    let ecmp = a.iter().chain(&b).filter(|f| f.ends_with(b"x")).count();
    assert_eq!(ecmp, 4, "ECMP through the worker");

    assert_eq!(lab.delivered().len(), 1, "own address: delivered by the worker");

    let c = lab.stop();
    assert_eq!(c.forwarded, 4, "only ECMP forwarded by the worker: {c}");
    assert_eq!(c.delivered, 1, "{c}");
    assert_eq!(c.dropped(DropReason::TtlExpired), 1, "{c}");
    assert_eq!(c.dropped(DropReason::BadShimLength), 1, "{c}");
    assert_eq!(c.rx_packets, 7, "the 40 transit frames never reached the worker: {c}");
    assert_eq!(c.fast_forwarded, 40, "the XDP program counted them: {c}");
}

/// What the hostile-frames test sends besides valid traffic, and the
/// reason each must be dropped under.
fn hostile_frames(lab: &Lab) -> Vec<(Vec<u8>, DropReason)> {
    let valid = |payload: &[u8]| lab.frame(100, FAR, 10, 1000, payload);
    let with_dst = |dst: [u8; 6]| {
        let mut f = valid(b"to whom");
        f[0..6].copy_from_slice(&dst);
        f
    };
    let mut spoofed = valid(b"spoofed");
    spoofed[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0x66, 0x66]);
    let mut tagged = valid(b"tagged");
    tagged.splice(12..12, [0x81, 0x00, 0x00, 0x07]);
    // Longer than a pool buffer, an AF_XDP frame and an AF_PACKET ring
    // frame alike; valid otherwise (the shim length says so).
    let mut oversize = valid(&[b'o'; 2400]);
    let sdu = (oversize.len() - 18) as u16;
    oversize[16..18].copy_from_slice(&sdu.to_be_bytes());
    // A name query is the one broadcast the shim sends: it passes the
    // destination check (and, with no control plane attached, is counted
    // as no-punt).
    let mut query = with_dst([0xff; 6]);
    query[14..16].copy_from_slice(&0u16.to_be_bytes());
    vec![
        (lab.frame(100, FAR, 0, 1000, b"ttl 0"), DropReason::BadTtl),
        (lab.frame(100, FAR, 61, 1000, b"ttl over max"), DropReason::BadTtl),
        (lab.frame(100, ME, 0, LOCAL_EID, b"ttl 0 for me"), DropReason::BadTtl),
        (with_dst([0x02, 0, 0, 0, 0x99, 0x99]), DropReason::NotForUs),
        (with_dst([0xff; 6]), DropReason::MulticastDst),
        (with_dst([0x01, 0, 0x5e, 0, 0, 0x01]), DropReason::MulticastDst),
        (with_dst([0x33, 0x33, 0, 0, 0, 0x01]), DropReason::MulticastDst),
        (spoofed, DropReason::SpoofedSrc),
        (tagged, DropReason::VlanTagged),
        (oversize, DropReason::Oversize),
        (query, DropReason::NoPunt),
    ]
}

/// Sends valid frames with hostile ones between them into the router on
/// `backend` (with `top` in its configuration) and checks that only the
/// valid ones come out, that each hostile one is counted under its reason,
/// and that the counters add up to what was sent.
fn hostile_frames_are_counted_and_never_forwarded(backend: &str, top: &str) {
    let mut lab = Lab::with(backend, top);
    let _pass = top.contains("fast_path").then(|| lab.accept_redirects());
    // Room on the wire for frames longer than the router's buffers.
    lab.src.run("ip", &["link", "set", "g0", "mtu", "3000"]).expect("mtu");
    lab.rtr.run("ip", &["link", "set", "r0", "mtu", "3000"]).expect("mtu");
    let at_a = receiver(&lab.pool, &lab.a, "a0", Duration::from_secs(2));
    let hostile = hostile_frames(&lab);
    const ROUNDS: u8 = 3;
    let mut frames = Vec::new();
    for round in 0..ROUNDS {
        for (i, (bad, _)) in hostile.iter().enumerate() {
            frames.push(lab.frame(100, FAR, 10, 1000, &[b'k', round, i as u8]));
            frames.push(bad.clone());
        }
    }
    frames.push(lab.frame(100, ME, 60, LOCAL_EID, b"for me"));
    let valid = usize::from(ROUNDS) * hostile.len();
    // The oversized frames do not fit the lab's (the router's) buffers.
    let big = Pool::create(
        "hostile-sender",
        PoolConfig {
            count: 1024,
            buf_size: 4096,
            backing: Backing::Base,
            ..PoolConfig::default()
        },
    )
    .expect("sender pool");
    send(&big, &lab.src, "g0", 0xA000, &frames);

    let a: Vec<Vec<u8>> = at_a.recv_timeout(Duration::from_secs(30)).expect("a");
    let c = lab.dp().counters();
    assert_eq!(a.len(), valid, "{backend} {top}: exactly the valid frames: {c}");
    for (n, f) in a.iter().enumerate() {
        let (round, i) = ((n / hostile.len()) as u8, (n % hostile.len()) as u8);
        assert!(f.ends_with(&[b'k', round, i]), "{backend} {top}: frame {n} in order");
        assert_eq!(dt(f).ttl(), 9);
    }
    assert_eq!(lab.delivered(), [b"for me"], "{backend} {top}");

    let c = lab.stop();
    for reason in DropReason::ALL {
        let sent = hostile.iter().filter(|(_, r)| *r == reason).count() as u64 * u64::from(ROUNDS);
        assert_eq!(c.dropped(reason), sent, "{backend} {top}: {reason}: {c}");
    }
    // Forwarded anywhere (b included): only the valid frames.
    assert_eq!(c.forwarded + c.fast_forwarded, valid as u64, "{backend} {top}: {c}");
    if top.contains("fast_path") {
        assert_eq!(c.fast_forwarded, valid as u64, "in XDP: {c}");
    }
    assert_eq!(
        (c.delivered, c.punted, c.passed_to_kernel),
        (1, 0, 0),
        "{backend} {top}: {c}"
    );
    assert_eq!(c.kernel, [0; KernelLoss::COUNT], "{backend} {top}: no kernel loss: {c}");
    assert_eq!(
        c.accounted(),
        frames.len() as u64,
        "{backend} {top}: every frame sent is accounted for: {c}"
    );
}

#[test]
fn hostile_frames_are_counted_and_never_forwarded_on_af_xdp() {
    if !require_root("hostile_frames_are_counted_and_never_forwarded_on_af_xdp") {
        return;
    }
    hostile_frames_are_counted_and_never_forwarded("af_xdp", "");
}

#[test]
fn hostile_frames_are_counted_and_never_forwarded_on_af_packet() {
    if !require_root("hostile_frames_are_counted_and_never_forwarded_on_af_packet") {
        return;
    }
    hostile_frames_are_counted_and_never_forwarded("af_packet", "");
}

#[test]
fn hostile_frames_are_counted_and_never_forwarded_with_the_xdp_fast_path() {
    if !require_root("hostile_frames_are_counted_and_never_forwarded_with_the_xdp_fast_path") {
        return;
    }
    hostile_frames_are_counted_and_never_forwarded("af_xdp", "fast_path = true");
}
