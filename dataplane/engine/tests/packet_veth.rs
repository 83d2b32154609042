//! The AF_PACKET port on both ends of a veth pair, each end in a network
//! namespace of its own (root; skipped with a message otherwise).
//!
//! ```text
//!   netns o7s-pk-a-<pid>-<n>              netns o7s-pk-b-<pid>-<n>
//!  +------------------------+            +------------------------+
//!  | AfPacketPort a  0xA000 |            | AfPacketPort b  0xA000 |
//!  |   veth pk0             |============|   veth pk1             |
//!  +------------------------+            +------------------------+
//! ```

mod common;

use common::assert_all_buffers_back;
use std::time::{Duration, Instant};

use o7s_dataplane::port::Port;
use o7s_dataplane::port::packet::{AfPacketPort, PacketConfig};
use o7s_mem::{Buf, Pool, PoolCache};
use o7s_netns::{Netns, PacketSocket, require_root, veth};
use o7s_wire::dix::{self, DixHeader, DixRepr};
use o7s_wire::eth::{self, EthFrame, EthRepr, MacAddr};

/// Two network namespaces joined by a veth pair (both ends up), deleted
/// on drop (also when the test panics).
struct VethPair {
    ns: [Netns; 2],
}

impl VethPair {
    const IFNAME: [&str; 2] = ["pk0", "pk1"];

    /// The pair for `test`, or `None` when the test cannot run here
    /// (already reported).
    fn for_test(test: &str) -> Option<VethPair> {
        if !require_root(test) {
            return None;
        }
        let ns = [
            Netns::new("pk-a").expect("namespace a"),
            Netns::new("pk-b").expect("namespace b"),
        ];
        veth((&ns[0], Self::IFNAME[0]), (&ns[1], Self::IFNAME[1])).expect("veth pair");
        Some(VethPair { ns })
    }

    /// Opens an AF_PACKET port on one end, from inside its namespace.
    fn open(&self, side: usize, ethertype: u16) -> AfPacketPort {
        let config = PacketConfig {
            interface: Self::IFNAME[side].into(),
            ethertype,
            frames: 1024,
            frame_size: 2048,
        };
        self.ns[side]
            .enter(|| AfPacketPort::open(&config))
            .expect("entering the namespace")
            .expect("AF_PACKET port")
    }
}

fn pool(name: &str) -> Pool {
    common::pool(name, 8192)
}

/// Frame `seq` from `src` to `dst`: Ethernet, eth-dix header (EID from
/// the sequence number), a payload of the sequence number and a pattern,
/// sized 4..=1496 octets (18 + payload on the wire, runts included: a veth
/// does not pad).
fn frame(seq: u32, src: [u8; 6], dst: [u8; 6], ethertype: u16) -> Vec<u8> {
    let payload_len = 4 + (seq as usize * 7919) % 1493;
    let mut f = vec![0; dix::FRAME_HEADER_LEN + payload_len];
    EthRepr {
        dst_addr: MacAddr(dst),
        src_addr: MacAddr(src),
        ethertype,
    }
    .emit(&mut EthFrame::new_unchecked(&mut f[..]));
    DixRepr {
        eid: 64 + (seq % 4000) as u16,
        payload_len: payload_len as u16,
    }
    .emit(&mut DixHeader::new_unchecked(&mut f[eth::HEADER_LEN..]));
    let payload = &mut f[dix::FRAME_HEADER_LEN..];
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, o) in payload[4..].iter_mut().enumerate() {
        *o = (seq as u8).wrapping_mul(13).wrapping_add(i as u8);
    }
    f
}

fn to_buf(cache: &mut PoolCache, octets: &[u8]) -> Buf {
    let mut buf = cache.alloc().expect("pool buffer");
    buf.append(octets.len()).expect("fits");
    cache.pool().data_mut(&mut buf).copy_from_slice(octets);
    buf
}

#[test]
fn ten_thousand_eth_dix_frames_cross_a_veth_pair_byte_exact() {
    let Some(veth) = VethPair::for_test("ten_thousand_eth_dix_frames_cross_a_veth_pair_byte_exact") else {
        return;
    };
    let pool = pool("packet-exchange");
    const N: u32 = 10_000;
    const WINDOW: u32 = 256;
    const BURST: usize = 32;
    let mut a = veth.open(0, eth::ETHERTYPE_O7S);
    let mut b = veth.open(1, eth::ETHERTYPE_O7S);
    let (mac_a, mac_b) = (a.mac(), b.mac());
    let mut ca = pool.cache().unwrap();
    let mut cb = pool.cache().unwrap();
    assert_eq!(a.info().mtu, 1500, "the interface MTU");
    assert_eq!(a.info().max_frame(), 1514, "and the Ethernet header");

    // Every 50th burst a also sends a frame of another Ethertype, which b
    // must never see.
    let (mut made_ab, mut got_ab, mut made_ba, mut got_ba) = (0u32, 0u32, 0u32, 0u32);
    let mut foreign = 0u32;
    let mut to_b: Vec<Buf> = Vec::with_capacity(BURST + 1);
    let mut to_a: Vec<Buf> = Vec::with_capacity(BURST);
    let mut rx: Vec<Buf> = Vec::with_capacity(64);
    let mut bursts = 0u32;
    let deadline = Instant::now() + Duration::from_secs(60);
    while got_ab < N || got_ba < N {
        assert!(
            Instant::now() < deadline,
            "stalled: a->b {got_ab}/{N}, b->a {got_ba}/{N}; a {:?} {:?}; b {:?} {:?}",
            a.counters(),
            a.kernel_stats(),
            b.counters(),
            b.kernel_stats()
        );
        bursts += 1;
        if bursts.is_multiple_of(50) && to_b.is_empty() {
            to_b.push(to_buf(&mut ca, &frame(foreign, mac_a, mac_b, 0xA001)));
            foreign += 1;
        }
        while to_b.len() < BURST && made_ab < N && made_ab - got_ab < WINDOW {
            to_b.push(to_buf(&mut ca, &frame(made_ab, mac_a, mac_b, eth::ETHERTYPE_O7S)));
            made_ab += 1;
        }
        a.tx_burst(&mut ca, &mut to_b);
        while to_a.len() < BURST && made_ba < N && made_ba - got_ba < WINDOW {
            to_a.push(to_buf(&mut cb, &frame(made_ba, mac_b, mac_a, eth::ETHERTYPE_O7S)));
            made_ba += 1;
        }
        b.tx_burst(&mut cb, &mut to_a);

        b.rx_burst(&mut cb, &mut rx, 64);
        for buf in rx.drain(..) {
            let got = pool.data(&buf);
            assert_eq!(
                EthFrame::new_unchecked(got).ethertype(),
                eth::ETHERTYPE_O7S,
                "only the bound Ethertype"
            );
            assert!(
                got == &frame(got_ab, mac_a, mac_b, eth::ETHERTYPE_O7S)[..],
                "a->b frame {got_ab} differs"
            );
            got_ab += 1;
            cb.free(buf);
        }
        a.rx_burst(&mut ca, &mut rx, 64);
        for buf in rx.drain(..) {
            assert!(
                pool.data(&buf) == &frame(got_ba, mac_b, mac_a, eth::ETHERTYPE_O7S)[..],
                "b->a frame {got_ba} differs"
            );
            got_ba += 1;
            ca.free(buf);
        }
        a.poll(&mut ca);
        b.poll(&mut cb);
    }
    while a.tx_queue_len() + b.tx_queue_len() > 0 {
        assert!(Instant::now() < deadline, "TX ring never emptied");
        a.poll(&mut ca);
        b.poll(&mut cb);
    }
    // Nothing more arrives: no duplicate, no foreign frame late.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(b.rx_burst(&mut cb, &mut rx, 64) + a.rx_burst(&mut ca, &mut rx, 64), 0);
    assert!(foreign > 0);

    let (ka, kb) = (a.kernel_stats().unwrap(), b.kernel_stats().unwrap());
    assert_eq!((ka.drops, kb.drops), (0, 0), "no frame lost in the RX rings");
    assert_eq!(kb.packets, u64::from(N), "b's socket saw only its Ethertype");
    for (port, name) in [(&a, "a"), (&b, "b")] {
        let c = port.counters();
        assert_eq!(c.rx_packets, N as u64, "{name}: {c:?}");
        assert_eq!(
            (c.rx_truncated, c.rx_too_big, c.rx_other_host, c.rx_vlan, c.tx_bad_len),
            (0, 0, 0, 0, 0),
            "{name}: {c:?}"
        );
        assert!(
            c.tx_kicks < N as u64,
            "{name}: one sendto per burst, not per frame: {c:?}"
        );
    }
    a.drain(&mut ca);
    b.drain(&mut cb);
    drop((a, b, ca, cb));
    assert_all_buffers_back(&pool);
}

#[test]
fn each_port_receives_only_its_own_ethertype() {
    let Some(veth) = VethPair::for_test("each_port_receives_only_its_own_ethertype") else {
        return;
    };
    let pool = pool("packet-ethertype");
    let mut a = veth.open(0, eth::ETHERTYPE_O7S);
    let mut b_dix = veth.open(1, 0xA000);
    let mut b_other = veth.open(1, 0xA001);
    let (mac_a, mac_b) = (a.mac(), b_dix.mac());
    let mut cache = pool.cache().unwrap();

    // a's port sends both kinds: the bound Ethertype filters receive only.
    let mut tx: Vec<Buf> = (0..100u32)
        .map(|seq| {
            let ethertype = if seq.is_multiple_of(2) { 0xA000 } else { 0xA001 };
            to_buf(&mut cache, &frame(seq, mac_a, mac_b, ethertype))
        })
        .collect();
    while !tx.is_empty() {
        a.tx_burst(&mut cache, &mut tx);
        a.poll(&mut cache);
    }
    let mut seen = [Vec::new(), Vec::new()];
    let mut rx = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen[0].len() + seen[1].len() < 100 {
        assert!(
            Instant::now() < deadline,
            "{} + {} of 100",
            seen[0].len(),
            seen[1].len()
        );
        for (i, port) in [&mut b_dix, &mut b_other].into_iter().enumerate() {
            port.rx_burst(&mut cache, &mut rx, 64);
            for buf in rx.drain(..) {
                seen[i].push(EthFrame::new_unchecked(pool.data(&buf)).ethertype());
                cache.free(buf);
            }
        }
    }
    assert_eq!(seen[0], vec![0xA000; 50]);
    assert_eq!(seen[1], vec![0xA001; 50]);
    for port in [&mut a, &mut b_dix, &mut b_other] {
        port.drain(&mut cache);
    }
    drop((a, b_dix, b_other, cache));
    assert_all_buffers_back(&pool);
}

#[test]
fn frames_for_other_hosts_tagged_or_oversized_are_dropped_and_counted() {
    let Some(veth) = VethPair::for_test("frames_for_other_hosts_tagged_or_oversized_are_dropped_and_counted") else {
        return;
    };
    // Room on the wire for a frame longer than a ring frame (2048).
    for (ns, ifname) in veth.ns.iter().zip(VethPair::IFNAME) {
        ns.run("ip", &["link", "set", ifname, "mtu", "3000"]).expect("mtu");
    }
    let pool = pool("packet-refused");
    let mut b = veth.open(1, eth::ETHERTYPE_O7S);
    let mut cache = pool.cache().unwrap();
    let (mac_b, other) = (b.mac(), [2, 0, 0, 0, 0x77, 0x77]);
    let raw_a = veth.ns[0]
        .enter(|| PacketSocket::bind(VethPair::IFNAME[0], eth::ETHERTYPE_O7S))
        .expect("enter")
        .expect("raw socket");
    let src = [2, 0, 0, 0, 0x77, 0x01];
    let good = frame(1, src, mac_b, eth::ETHERTYPE_O7S);
    let broadcast = frame(2, src, [0xff; 6], eth::ETHERTYPE_O7S);
    let foreign = frame(3, src, other, eth::ETHERTYPE_O7S);
    // 802.1Q tag, VLAN 7, then the o7s Ethertype: the kernel strips it.
    let mut tagged = good.clone();
    tagged.splice(12..12, [0x81, 0x00, 0x00, 0x07]);
    let mut oversize = frame(4, src, mac_b, eth::ETHERTYPE_O7S);
    oversize.resize(2500, 0xAA);
    for f in [&good, &foreign, &tagged, &oversize, &broadcast] {
        raw_a.send_retrying(f).expect("send");
    }

    let mut got = Vec::new();
    let mut rx = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 2 || b.counters().rx_vlan + b.counters().rx_other_host + b.counters().rx_truncated < 3 {
        assert!(Instant::now() < deadline, "{} frames; {:?}", got.len(), b.counters());
        b.rx_burst(&mut cache, &mut rx, 64);
        for buf in rx.drain(..) {
            got.push(pool.data(&buf).to_vec());
            cache.free(buf);
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    b.rx_burst(&mut cache, &mut rx, 64);
    assert!(rx.is_empty(), "nothing more");
    assert_eq!(
        got,
        [good, broadcast],
        "only frames for b (the worker judges broadcasts)"
    );
    let c = b.counters();
    assert_eq!(
        (c.rx_other_host, c.rx_vlan, c.rx_truncated, c.rx_packets),
        (1, 1, 1, 2),
        "{c:?}"
    );
    assert_eq!(b.kernel_stats().expect("stats").drops, 0);
    b.drain(&mut cache);
    drop((b, cache));
    assert_all_buffers_back(&pool);
}

#[test]
fn bad_configuration_is_refused_before_touching_the_kernel() {
    for config in [
        PacketConfig {
            interface: "lo".into(),
            ethertype: 0x0500,
            ..PacketConfig::default()
        },
        PacketConfig {
            interface: "lo".into(),
            frame_size: 3000,
            ..PacketConfig::default()
        },
        PacketConfig {
            interface: "an-interface-name-too-long".into(),
            ..PacketConfig::default()
        },
    ] {
        let err = AfPacketPort::open(&config).expect_err("refused");
        assert!(err.to_string().starts_with("invalid configuration"), "{err}");
    }
}
