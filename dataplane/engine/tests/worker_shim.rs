//! A running worker with flows straight on a shim (no DT), driven through
//! local ports and a UDP port without a socket: no root, no network.
//!
//! ```text
//!   test side                                worker
//!   [dix] ── local link, eth-dix ─────────► port 0 ─┐                 ┌─► endpoint rings ─► [app]
//!   [llc] ── local link, eth-llc ─────────► port 1 ─┼─ shim_flows ────┤
//!   [udp] ── FakeUdp (datagrams + sources) ► port 2 ─┘                 └─► punt ring ──────► [ctl]
//!   [app] ─► source rings ─► shim header in the head room ─► port 0 / 1 / 2 ─► [dix] [llc] [udp]
//! ```
//!
//! Each port's counters are checked against what the test sent through
//! it, and the idle worker's wake-up by a source ring's kick is measured.

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ACK, AppFlow, FlowAt, attach_app_flow, inject_ring, push, take};
use o7s_dataplane::forward::Shim;
use o7s_dataplane::port::local::LocalPort;
use o7s_dataplane::port::{Port, PortInfo, PortKind};
use o7s_dataplane::worker::{IDLE_BEFORE_NAP, MAX_NAP};
use o7s_dataplane::{Dataplane, Idle, WorkerSpec};
use o7s_mem::{Backing, Buf, Consumer, Desc, Pool, PoolCache, PoolConfig, Ring};
use o7s_seam::counters::{DropReason, Snapshot};
use o7s_seam::inject;
use o7s_seam::punt::{Punt, PuntCause};
use o7s_seam::tables::{Egress, Encap, EthDixEncap, EthLlcEncap, PortId, ShimPeer, Tables, UdpEncap};
use o7s_wire::dix;
use o7s_wire::eth::{ETHERTYPE_O7S, MacAddr};
use o7s_wire::llc::{LlcFrame, LlcRepr};
use o7s_wire::udp::UdpDatagram;

/// A datagram and its peer address.
type Datagram = (Vec<u8>, SocketAddr);
/// Datagrams shared between a test and its fake port.
type Datagrams<T> = Arc<Mutex<T>>;
const DIX: PortId = 0;
const LLC: PortId = 1;
const UDP: PortId = 2;
/// The worker's MAC on its Ethernet ports.
const OWN: MacAddr = MacAddr([2, 0, 0, 0, 0, 100]);
/// MTU of the local links.
const MTU: usize = 1400;

fn mac(n: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0, n])
}

fn udp_peer() -> SocketAddr {
    "192.0.2.7:3435".parse().expect("address")
}

/// A UDP port without a socket: what the worker sends is kept with its
/// destination, what the test puts in `inbox` arrives from the source it
/// names. (It copies octets: a test device.)
struct FakeUdp {
    info: PortInfo,
    inbox: Datagrams<VecDeque<Datagram>>,
    sent: Datagrams<Vec<Datagram>>,
}

impl Port for FakeUdp {
    fn rx_burst(&mut self, cache: &mut PoolCache, out: &mut Vec<Buf>, max: usize) -> usize {
        self.rx_burst_addressed(cache, out, &mut Vec::new(), max)
    }

    fn rx_burst_addressed(
        &mut self,
        cache: &mut PoolCache,
        out: &mut Vec<Buf>,
        from: &mut Vec<SocketAddr>,
        max: usize,
    ) -> usize {
        let mut inbox = self.inbox.lock().expect("inbox");
        let mut n = 0;
        while n < max {
            let Some((datagram, source)) = inbox.pop_front() else {
                break;
            };
            let mut buf = cache.alloc().expect("buffer");
            buf.append(datagram.len()).expect("fits");
            cache.pool().data_mut(&mut buf).copy_from_slice(&datagram);
            out.push(buf);
            from.push(source);
            n += 1;
        }
        n
    }

    fn tx_burst(&mut self, _cache: &mut PoolCache, _frames: &mut Vec<Buf>) -> usize {
        0
    }

    fn tx_burst_to(&mut self, cache: &mut PoolCache, frames: &mut Vec<(Buf, SocketAddr)>) -> usize {
        let n = frames.len();
        let mut sent = self.sent.lock().expect("sent");
        for (buf, to) in frames.drain(..) {
            sent.push((cache.pool().data(&buf).to_vec(), to));
            cache.free(buf);
        }
        n
    }

    fn poll(&mut self, _cache: &mut PoolCache) {}

    fn tx_queue_len(&self) -> usize {
        0
    }

    fn info(&self) -> &PortInfo {
        &self.info
    }

    fn drain(&mut self, _cache: &mut PoolCache) {}
}

/// A worker with an eth-dix, an eth-llc and a UDP port, and a flow
/// straight on each shim (endpoints and sources 0, 1, 2).
struct Rig {
    pool: Pool,
    cache: PoolCache,
    /// The test's ends of the local links of ports 0 and 1.
    dix: LocalPort,
    llc: LocalPort,
    udp_inbox: Datagrams<VecDeque<Datagram>>,
    udp_sent: Datagrams<Vec<Datagram>>,
    flows: Vec<AppFlow>,
    ctl: Consumer,
    dp: Option<Dataplane>,
}

/// The flows of the rig: on eth-dix (we receive EID 40, send EID 41 to
/// mac(1)), eth-llc (our SAP 12, the peer's 34 at mac(2)), UDP (we receive
/// EID 42, send EID 43 to 192.0.2.7:3435).
fn flows() -> [FlowAt; 3] {
    let at = |port, rx_eid, peer, index, encap| FlowAt {
        port,
        rx_eid,
        peer,
        endpoint: index,
        source: index,
        egress: Egress {
            port,
            encap: Some(encap),
        },
    };
    [
        at(
            DIX,
            40,
            ShimPeer::Mac(mac(1)),
            0,
            Encap::EthDix(EthDixEncap {
                dst: mac(1),
                src: OWN,
                ethertype: ETHERTYPE_O7S,
                eid: 41,
            }),
        ),
        at(
            LLC,
            12,
            ShimPeer::MacSap(mac(2), 34),
            1,
            Encap::EthLlc(EthLlcEncap {
                dst: mac(2),
                src: OWN,
                dsap: 34,
                ssap: 12,
            }),
        ),
        at(
            UDP,
            42,
            ShimPeer::Udp(udp_peer()),
            2,
            Encap::Udp(UdpEncap {
                peer: udp_peer(),
                eid: 43,
            }),
        ),
    ]
}

impl Rig {
    /// The rig; port 0's link holds `link_capacity` frames each way.
    fn new(link_capacity: u32) -> Rig {
        let pool = Pool::create(
            "worker-shim-test",
            PoolConfig {
                count: 8192,
                backing: Backing::Base,
                ..PoolConfig::default()
            },
        )
        .expect("pool");
        let cache = pool.cache().expect("test cache");
        let worker_cache = pool.cache().expect("worker cache");
        let (ws, ts) = (worker_cache.slot(), cache.slot());
        let (p0, dix) = LocalPort::pair("dix", link_capacity, ws, ts, MTU).expect("link");
        let (p1, llc) = LocalPort::pair("llc", 256, ws, ts, MTU).expect("link");
        let p0 = p0.with_shim(Shim::EthDix {
            mac: Some(OWN),
            ethertype: ETHERTYPE_O7S,
        });
        let p1 = p1.with_shim(Shim::EthLlc { mac: Some(OWN) });
        let udp_inbox = Arc::new(Mutex::new(VecDeque::new()));
        let udp_sent = Arc::new(Mutex::new(Vec::new()));
        let p2 = FakeUdp {
            info: PortInfo {
                name: "fake-udp".into(),
                kind: PortKind::Local,
                mtu: MTU,
                mac: None,
                shim: Shim::Udp,
            },
            inbox: Arc::clone(&udp_inbox),
            sent: Arc::clone(&udp_sent),
        };
        let ctl_ring = Ring::create("ctl", 256).expect("ring");
        let ctl = ctl_ring.consumer(ts).expect("consumer");
        let spec = WorkerSpec {
            name: "w-shim".into(),
            core: None,
            cache: worker_cache,
            ports: vec![Some(Box::new(p0)), Some(Box::new(p1)), Some(Box::new(p2))],
            endpoints: Vec::new(),
            punt: Some(ctl_ring.producer().expect("producer")),
            idle: Idle::Adaptive,
        };
        let dp = Dataplane::start(Tables::default(), vec![spec]).expect("start");
        let flows = flows()
            .into_iter()
            .map(|at| attach_app_flow(&dp, &cache, at, 4096, true))
            .collect();
        Rig {
            pool,
            cache,
            dix,
            llc,
            udp_inbox,
            udp_sent,
            flows,
            ctl,
            dp: Some(dp),
        }
    }

    fn dp(&self) -> &Dataplane {
        self.dp.as_ref().expect("running")
    }

    /// Writes `payloads` on flow `i`, all of them (waiting for room).
    fn write(&mut self, i: usize, payloads: &[Vec<u8>]) {
        let mut left: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !left.is_empty() {
            assert!(Instant::now() < deadline, "the worker does not take SDUs");
            let n = push(&mut self.cache, &mut self.flows[i].tx, &left);
            left.drain(..n);
        }
    }

    /// Frames out of local port `port`'s link until `n` came (or 5 s).
    fn frames_out(&mut self, port: PortId, n: usize) -> Vec<Vec<u8>> {
        let link = if port == DIX { &mut self.dix } else { &mut self.llc };
        let mut got = Vec::new();
        let mut bufs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < n && Instant::now() < deadline {
            link.rx_burst(&mut self.cache, &mut bufs, 64);
            if bufs.is_empty() {
                // Sleep, as a reader of a real link would: a spinning
                // test thread keeps the worker it just woke off the core
                // it was woken on (wake-affine) for a whole time slice.
                std::thread::sleep(Duration::from_micros(20));
            }
            for b in bufs.drain(..) {
                got.push(self.pool.data(&b).to_vec());
                self.cache.free(b);
            }
        }
        got
    }

    /// Datagrams out of the UDP port until `n` came (or 5 s).
    fn datagrams_out(&self, n: usize) -> Vec<(Vec<u8>, SocketAddr)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.udp_sent.lock().expect("sent").len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::mem::take(&mut *self.udp_sent.lock().expect("sent"))
    }

    /// Frames into local port `port`'s link.
    fn frames_in(&mut self, port: PortId, frames: &[Vec<u8>]) {
        let link = if port == DIX { &mut self.dix } else { &mut self.llc };
        let mut bufs: Vec<Buf> = frames
            .iter()
            .map(|f| {
                let mut b = self.cache.alloc().expect("buffer");
                b.append(f.len()).expect("fits");
                self.pool.data_mut(&mut b).copy_from_slice(f);
                b
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !bufs.is_empty() {
            assert!(Instant::now() < deadline, "the worker does not take frames");
            link.tx_burst(&mut self.cache, &mut bufs);
        }
    }

    /// What reached flow `i`'s application, waiting until `n` came (or 5 s).
    fn read(&mut self, i: usize, n: usize) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < n && Instant::now() < deadline {
            got.extend(take(&mut self.cache, &mut self.flows[i].rx));
        }
        got
    }

    /// The worker's counters, each port's, with the totals.
    fn counters(&self) -> ([Snapshot; 3], Snapshot) {
        let dp = self.dp();
        ([DIX, LLC, UDP].map(|p| dp.port_counters(p)), dp.counters())
    }

    /// Stops the worker and checks that every buffer came back.
    fn stop(mut self) {
        self.dp.take().expect("running").stop();
        let Rig {
            pool,
            cache,
            dix,
            llc,
            flows,
            ctl,
            ..
        } = self;
        drop((dix, llc, flows, ctl));
        drop(cache);
        common::assert_all_buffers_back(&pool);
    }
}

fn seq(i: u32) -> Vec<u8> {
    let mut p = i.to_be_bytes().to_vec();
    p.extend(std::iter::repeat_n(i as u8, (i % 50) as usize));
    p
}

#[test]
fn sdus_of_source_rings_leave_framed_for_their_shim_in_order_and_counted_at_their_port() {
    let mut rig = Rig::new(256);
    const N: u32 = 300;
    let sdus: Vec<Vec<u8>> = (0..N).map(seq).collect();
    for i in 0..3 {
        rig.write(i, &sdus);
    }

    let dix_out = rig.frames_out(DIX, N as usize);
    assert_eq!(dix_out.len(), N as usize, "{}", rig.dp().counters());
    for (f, sdu) in dix_out.iter().zip(&sdus) {
        let (eth, dix, payload) = dix::parse_frame(f).expect("an eth-dix frame");
        assert_eq!(
            (eth.dst_addr, eth.src_addr, eth.ethertype),
            (mac(1), OWN, ETHERTYPE_O7S)
        );
        assert_eq!((dix.eid, payload), (41, &sdu[..]), "the peer's EID, the SDU, in order");
    }
    let llc_out = rig.frames_out(LLC, N as usize);
    assert_eq!(llc_out.len(), N as usize);
    for (f, sdu) in llc_out.iter().zip(&sdus) {
        let frame = LlcFrame::new_checked(&f[..]).expect("an eth-llc frame");
        let repr = LlcRepr::parse(&frame).expect("valid");
        assert_eq!(
            (repr.dst_addr, repr.src_addr, repr.dsap, repr.ssap),
            (mac(2), OWN, 34, 12)
        );
        assert_eq!(frame.payload(), &sdu[..]);
    }
    let udp_out = rig.datagrams_out(N as usize);
    assert_eq!(udp_out.len(), N as usize);
    for ((d, to), sdu) in udp_out.iter().zip(&sdus) {
        let datagram = UdpDatagram::new_checked(&d[..]).expect("a UDP-shim datagram");
        assert_eq!((datagram.eid(), datagram.payload(), *to), (43, &sdu[..], udp_peer()));
    }

    // Frames sent as they are: a whole Ethernet frame, and a UDP datagram
    // behind its destination.
    let raw_eth = inject_ring(
        rig.dp(),
        Ring::create("raw-eth", 64).expect("ring"),
        3,
        Egress { port: DIX, encap: None },
        true,
    );
    let raw_udp = inject_ring(
        rig.dp(),
        Ring::create("raw-udp", 64).expect("ring"),
        4,
        Egress { port: UDP, encap: None },
        true,
    );
    let mgmt = common::eth_dix([0xff; 6], OWN.0, 0, b"name query");
    let elsewhere: SocketAddr = "[2001:db8::5]:3435".parse().expect("address");
    let mut datagram = inject::dest_header(elsewhere).to_vec();
    datagram.extend([0, 0, 0, 0, 9, 9]);
    let (mut raw_eth, mut raw_udp) = (raw_eth, raw_udp);
    assert_eq!(push(&mut rig.cache, &mut raw_eth, &[&mgmt]), 1);
    assert_eq!(push(&mut rig.cache, &mut raw_udp, &[&datagram, &[1, 2, 3]]), 2);
    assert_eq!(rig.frames_out(DIX, 1), [mgmt], "as it was built");
    assert_eq!(
        rig.datagrams_out(1),
        [(vec![0, 0, 0, 0, 9, 9], elsewhere)],
        "to its destination, without it; one without a destination is dropped"
    );

    // What cannot leave: too big for the link, no head room, no such port.
    let mut no_room = rig.cache.alloc().expect("buffer");
    no_room.reset(0, 8).expect("fits");
    let too_big = vec![7u8; MTU];
    let mut bufs = vec![no_room];
    assert_eq!(rig.cache.send(&mut rig.flows[0].tx, &mut bufs), 1);
    rig.write(0, &[too_big]);
    let mut nowhere = inject_ring(
        rig.dp(),
        Ring::create("nowhere", 64).expect("ring"),
        5,
        Egress { port: 9, encap: None },
        true,
    );
    assert_eq!(push(&mut rig.cache, &mut nowhere, &[b"x"]), 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while rig.dp().counters().total_drops() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }

    let ([d, l, u], total) = rig.counters();
    let n = u64::from(N);
    assert_eq!((d.sourced, d.sent, d.tx_packets), (n + 3, n + 1, n + 1), "eth-dix: {d}");
    assert_eq!(
        (d.dropped(DropReason::TooBig), d.dropped(DropReason::NoHeadroom)),
        (1, 1),
        "{d}"
    );
    assert_eq!((l.sourced, l.sent, l.total_drops()), (n, n, 0), "eth-llc: {l}");
    assert_eq!((u.sourced, u.sent, u.tx_packets), (n + 2, n + 1, n + 1), "udp: {u}");
    assert_eq!(u.dropped(DropReason::NoRoute), 1, "no destination: {u}");
    assert_eq!(total.dropped(DropReason::NoPort), 1, "port 9 is none of them: {total}");
    assert_eq!(total.sourced, 3 * n + 6);
    assert_eq!(
        total.accounted(),
        total.rx_packets + total.sourced,
        "every frame: {total}"
    );
    drop((raw_eth, raw_udp, nowhere));
    rig.stop();
}

#[test]
fn frames_on_a_flow_straight_on_a_shim_reach_its_application_from_its_peer_only() {
    let mut rig = Rig::new(256);
    let dix_frame = |src: u8, eid: u16, sdu: &[u8]| common::eth_dix(OWN.0, mac(src).0, eid, sdu);
    rig.frames_in(
        DIX,
        &[
            dix_frame(1, 40, b"dix 1"),
            dix_frame(3, 40, b"spoofed"),
            dix_frame(1, 44, b"unknown EID"),
            dix_frame(1, 40, b"dix 2"),
        ],
    );
    let llc_frame = |src: u8, ssap: u8, sdu: &[u8]| common::eth_llc(OWN.0, mac(src).0, 12, ssap, sdu);
    rig.frames_in(
        LLC,
        &[
            llc_frame(2, 34, b"llc 1"),
            llc_frame(2, 35, b"wrong SAP"),
            llc_frame(4, 34, b"wrong MAC"),
            common::eth_llc([0xff; 6], mac(4).0, 1, 1, b"management"),
        ],
    );
    let datagram = |eid: u32, sdu: &[u8]| {
        let mut d = eid.to_be_bytes().to_vec();
        d.extend(sdu);
        d
    };
    let stranger: SocketAddr = "192.0.2.7:4000".parse().expect("address");
    rig.udp_inbox.lock().expect("inbox").extend([
        (datagram(42, b"udp 1"), udp_peer()),
        (datagram(42, b"other port"), stranger),
        (datagram(0, b"flow request"), stranger),
    ]);

    assert_eq!(rig.read(0, 2), [b"dix 1".to_vec(), b"dix 2".to_vec()], "the SDUs alone");
    assert_eq!(rig.read(1, 1), [b"llc 1".to_vec()]);
    assert_eq!(rig.read(2, 1), [b"udp 1".to_vec()]);
    let mut punts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while punts.len() < 2 && Instant::now() < deadline {
        punts.extend(take(&mut rig.cache, &mut rig.ctl));
    }
    let mut heard: Vec<(PortId, PuntCause)> = punts
        .iter()
        .map(|p| {
            let punt = Punt::read(Desc::new(0, 0, p.len() as u16), p).expect("a punt");
            (punt.port, punt.cause)
        })
        .collect();
    heard.sort_by_key(|(port, _)| *port);
    assert_eq!(
        heard,
        [
            (LLC, PuntCause::ShimMgmt { from: None }),
            (UDP, PuntCause::ShimMgmt { from: Some(stranger) })
        ],
        "management, with the UDP sender's address"
    );

    let ([d, l, u], total) = rig.counters();
    assert_eq!((d.rx_packets, d.delivered), (4, 2), "{d}");
    assert_eq!(
        (d.dropped(DropReason::SpoofedSrc), d.dropped(DropReason::UnknownFlow)),
        (1, 1),
        "{d}"
    );
    assert_eq!((l.rx_packets, l.delivered, l.punted), (4, 1, 1), "{l}");
    assert_eq!(l.dropped(DropReason::SpoofedSrc), 2, "{l}");
    assert_eq!((u.rx_packets, u.delivered, u.punted), (3, 1, 1), "{u}");
    assert_eq!(u.dropped(DropReason::SpoofedSrc), 1, "{u}");
    assert_eq!(total.accounted(), total.rx_packets, "every frame: {total}");
    rig.stop();
}

#[test]
fn sdus_a_port_has_no_room_for_wait_in_their_source_ring_none_lost() {
    // Port 0's link holds 16 frames; the application writes 3000 at once
    // and the far end reads slowly.
    let mut rig = Rig::new(16);
    const N: u32 = 3000;
    let sdus: Vec<Vec<u8>> = (0..N).map(seq).collect();
    rig.write(0, &sdus);
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < N as usize && Instant::now() < deadline {
        out.extend(rig.frames_out(DIX, 1));
        std::thread::sleep(Duration::from_micros(50));
    }
    assert_eq!(out.len(), N as usize, "{}", rig.dp().counters());
    for (f, sdu) in out.iter().zip(&sdus) {
        assert_eq!(dix::parse_frame(f).expect("eth-dix").2, &sdu[..], "in order");
    }
    let ([d, ..], _) = rig.counters();
    assert_eq!(
        (d.sourced, d.sent, d.total_drops()),
        (u64::from(N), u64::from(N), 0),
        "{d}"
    );
    rig.stop();
}

/// The median and 90th percentile of `samples`.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

#[test]
fn a_push_into_an_armed_source_ring_wakes_an_idle_worker_before_its_nap_ends() {
    let mut rig = Rig::new(256);
    // Flow 0 kicks the worker (set up by the rig); a second source to the
    // same port does not, for comparison.
    let mut quiet = inject_ring(
        rig.dp(),
        Ring::create("quiet", 64).expect("ring"),
        3,
        flows()[0].egress,
        false,
    );
    const ROUNDS: usize = 150;
    let (mut kicked, mut napping) = (Vec::new(), Vec::new());
    for round in 0..2 * ROUNDS {
        // Idle long past IDLE_BEFORE_NAP: the worker sleeps, its nap grown
        // to MAX_NAP.
        std::thread::sleep(IDLE_BEFORE_NAP + 10 * MAX_NAP);
        let kick = round % 2 == 0;
        let ring = if kick { &mut rig.flows[0].tx } else { &mut quiet };
        let start = Instant::now();
        assert_eq!(push(&mut rig.cache, ring, &[b"wake up"]), 1);
        let got = rig.frames_out(DIX, 1);
        let took = start.elapsed();
        assert_eq!(got.len(), 1, "round {round}: the SDU left");
        if kick { &mut kicked } else { &mut napping }.push(took);
    }
    let (k50, k90) = percentiles(kicked);
    let (n50, n90) = percentiles(napping);
    eprintln!(
        "wake-up of a worker idle {:?}+ (nap {MAX_NAP:?}), {ROUNDS} SDUs each: kicked p50 {k50:?} p90 {k90:?}; \
         without the kick p50 {n50:?} p90 {n90:?}",
        IDLE_BEFORE_NAP
    );
    assert!(
        k50 * 2 < n50,
        "the kick, not the nap's end, wakes it: kicked p50 {k50:?}, not kicked {n50:?}"
    );
    drop(quiet);
    rig.stop();
}

#[test]
fn a_source_ring_whose_consumer_end_is_taken_is_refused() {
    let rig = Rig::new(256);
    let ring = Ring::create("taken", 64).expect("ring");
    let _other = ring.consumer(1).expect("a consumer already");
    let refused = rig.dp().apply(
        0,
        o7s_dataplane::Command::AddSource {
            index: 7,
            ring,
            egress: flows()[0].egress,
        },
    );
    assert!(
        matches!(refused, Err(o7s_seam::CommandError::Refused { worker: 0, .. })),
        "{refused:?}"
    );
    rig.dp().sync(ACK).expect("still running");
    rig.stop();
}

#[test]
fn sdus_of_a_layer_source_leave_with_a_dt_header_by_the_next_hop() {
    use o7s_seam::tables::{DtDest, N1Flow, NextHop};
    use o7s_wire::dt::{DtHeader, DtLayout, DtRepr};
    use o7s_wire::qos::QosCube;

    const ME: u64 = 0x0A00_0001;
    const FAR: u64 = 0x0A00_0099;
    let mut rig = Rig::new(256);
    let peer = MacAddr([2, 0, 0, 0, 0, 7]);
    rig.dp().update(|t: &mut Tables| {
        t.address = ME;
        let next = t.add_flow(
            N1Flow {
                name: "to-b".into(),
                port: DIX,
                encap: Encap::EthDix(EthDixEncap {
                    dst: peer,
                    src: OWN,
                    ethertype: ETHERTYPE_O7S,
                    eid: 77,
                }),
                cube: QosCube::BestEffort,
                up: true,
            },
            65,
        );
        t.set_route(QosCube::BestEffort, FAR, NextHop::Single(next));
    });
    rig.dp().sync(ACK).expect("tables in force");
    let ring = Ring::create("layer", 64).expect("ring");
    let mut tx = ring.producer().expect("producer");
    tx.set_kick(rig.dp().kick_fd(0).expect("kick"));
    let to = DtDest {
        dst: FAR,
        eid: 0x1234_5678_0000_0040,
        cube: QosCube::BestEffort,
    };
    rig.dp()
        .apply(0, o7s_dataplane::Command::AddLayerSource { index: 9, ring, to })
        .expect("layer source");
    let sdus: Vec<Vec<u8>> = (0..20).map(seq).collect();
    let refs: Vec<&[u8]> = sdus.iter().map(Vec::as_slice).collect();
    assert_eq!(push(&mut rig.cache, &mut tx, &refs), 20);
    let out = rig.frames_out(DIX, 20);
    assert_eq!(out.len(), 20, "{}", rig.dp().counters());
    for (f, sdu) in out.iter().zip(&sdus) {
        let (eth, hdr, payload) = dix::parse_frame(f).expect("eth-dix");
        assert_eq!(
            (eth.dst_addr, eth.src_addr, hdr.eid),
            (peer, OWN, 77),
            "the next hop's framing"
        );
        let dt = DtRepr::parse(&DtHeader::new_checked(payload, DtLayout::DEFAULT).expect("DT")).expect("DT");
        assert_eq!((dt.dst, dt.qos, dt.ttl, dt.eid), (FAR, 0, 60, to.eid));
        assert_eq!(&payload[DtLayout::DEFAULT.header_len()..], &sdu[..], "in order, whole");
    }

    // Without a route the SDUs are dropped and counted, not queued.
    rig.dp().update(|t: &mut Tables| t.fib[0].clear());
    rig.dp().sync(ACK).expect("tables in force");
    assert_eq!(push(&mut rig.cache, &mut tx, &refs[..5]), 5);
    let deadline = Instant::now() + Duration::from_secs(5);
    while rig.dp().counters().dropped(DropReason::NoRoute) < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        rig.dp().counters().dropped(DropReason::NoRoute),
        5,
        "{}",
        rig.dp().counters()
    );
    drop(tx);
    rig.stop();
}
