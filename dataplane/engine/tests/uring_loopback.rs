//! The io_uring UDP port on loopback, each test inside a network namespace
//! of its own (root; skipped with a message otherwise).
//!
//! ```text
//!   netns o7s-ur-<pid>-<n>
//!  +-------------------------------------------------------------+
//!  |  UringUdpPort a 127.0.0.1:3435  <== lo ==>  b 127.0.0.1:3436 |
//!  |  (tx_burst_to, per datagram)                (tx_burst, peer) |
//!  +-------------------------------------------------------------+
//! ```

mod common;

use common::assert_all_buffers_back;
use std::net::{Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use o7s_dataplane::port::Port;
use o7s_dataplane::port::uring::{DEFAULT_PORT, UringConfig, UringUdpPort};
use o7s_mem::{Buf, Pool, PoolCache, PoolConfig};
use o7s_netns::{Netns, require_root};

/// A namespace of its own for `test` (loopback up, deleted on drop), or
/// `None` when the test cannot run here (already reported).
fn netns_for(test: &str) -> Option<Netns> {
    require_root(test).then(|| Netns::new("ur").expect("namespace"))
}

fn pool(name: &str) -> Pool {
    common::pool(name, 4096)
}

/// Datagram `seq`: a 4-octet EID (the sequence number), then a pattern
/// that differs per datagram; `max` octets at most.
fn datagram_len(seq: u32, max: usize) -> usize {
    4 + (seq as usize * 7919) % (max - 3)
}

fn fill(seq: u32, data: &mut [u8]) {
    data[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, o) in data[4..].iter_mut().enumerate() {
        *o = (seq as u8).wrapping_mul(31).wrapping_add(i as u8);
    }
}

fn make(cache: &mut PoolCache, seq: u32, max: usize) -> Buf {
    let mut buf = cache.alloc().expect("pool buffer");
    buf.append(datagram_len(seq, max)).expect("fits");
    fill(seq, cache.pool().data_mut(&mut buf));
    buf
}

fn check(pool: &Pool, buf: &Buf, seq: u32, max: usize) {
    let mut want = vec![0; datagram_len(seq, max)];
    fill(seq, &mut want);
    let got = pool.data(buf);
    assert_eq!(got.len(), want.len(), "datagram {seq}: length");
    assert!(got == &want[..], "datagram {seq}: contents differ");
}

#[test]
fn ten_thousand_datagrams_cross_loopback_byte_exact_with_their_sources() {
    let Some(ns) = netns_for("ten_thousand_datagrams_cross_loopback_byte_exact_with_their_sources") else {
        return;
    };
    let pool = pool("uring-exchange");
    const N: u32 = 10_000;
    const WINDOW: u32 = 256;
    const BURST: usize = 32;
    ns.enter(|| {
        let a_addr = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT));
        let b_addr = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT + 1));
        let config = |bind, peer| UringConfig {
            bind,
            peer,
            buffers: 512,
            ..UringConfig::default()
        };
        let mut a = UringUdpPort::bind(&config(a_addr, None), &pool).expect("port a");
        let mut b = UringUdpPort::bind(&config(b_addr, Some(a_addr)), &pool).expect("port b");
        let mut ca = pool.cache().unwrap();
        let mut cb = pool.cache().unwrap();
        let max = a.info().mtu;
        assert_eq!(
            max,
            pool.buf_size() - pool.headroom(),
            "a datagram fills a buffer past the head room"
        );

        // a -> b names each destination; b -> a goes to b's configured peer.
        let (mut made_ab, mut got_ab, mut made_ba, mut got_ba) = (0u32, 0u32, 0u32, 0u32);
        let mut to_b: Vec<(Buf, SocketAddr)> = Vec::with_capacity(BURST);
        let mut to_a: Vec<Buf> = Vec::with_capacity(BURST);
        let mut rx: Vec<(Buf, SocketAddr)> = Vec::with_capacity(64);
        let deadline = Instant::now() + Duration::from_secs(60);
        while got_ab < N || got_ba < N {
            assert!(
                Instant::now() < deadline,
                "stalled: a->b {got_ab}/{N}, b->a {got_ba}/{N}; a {:?}; b {:?}",
                a.counters(),
                b.counters()
            );
            while to_b.len() < BURST && made_ab < N && made_ab - got_ab < WINDOW {
                to_b.push((make(&mut ca, made_ab, max), b_addr));
                made_ab += 1;
            }
            a.tx_burst_to(&mut ca, &mut to_b);
            while to_a.len() < BURST && made_ba < N && made_ba - got_ba < WINDOW {
                to_a.push(make(&mut cb, made_ba, max));
                made_ba += 1;
            }
            b.tx_burst(&mut cb, &mut to_a);

            b.rx_burst_from(&mut cb, &mut rx, 64);
            for (buf, from) in rx.drain(..) {
                assert_eq!(from, a_addr, "b hears a's address");
                check(&pool, &buf, got_ab, max);
                got_ab += 1;
                cb.free(buf);
            }
            a.rx_burst_from(&mut ca, &mut rx, 64);
            for (buf, from) in rx.drain(..) {
                assert_eq!(from, b_addr, "a hears b's address");
                check(&pool, &buf, got_ba, max);
                got_ba += 1;
                ca.free(buf);
            }
            a.poll(&mut ca);
            b.poll(&mut cb);
        }
        while a.tx_queue_len() + b.tx_queue_len() > 0 {
            assert!(Instant::now() < deadline, "sends never completed");
            a.poll(&mut ca);
            b.poll(&mut cb);
        }
        for (port, name) in [(&a, "a"), (&b, "b")] {
            let c = port.counters();
            assert_eq!((c.rx_packets, c.tx_packets), (N as u64, N as u64), "{name}: {c:?}");
            assert_eq!((c.rx_truncated, c.rx_errors, c.tx_errors), (0, 0, 0), "{name}: {c:?}");
            assert!(
                c.submits < 2 * N as u64,
                "{name}: syscalls are amortised per burst, not made per datagram: {c:?}"
            );
        }
        a.drain(&mut ca);
        b.drain(&mut cb);
    })
    .expect("entering the namespace");
    assert_all_buffers_back(&pool);
}

#[test]
fn a_datagram_larger_than_a_buffer_is_counted_and_dropped() {
    let Some(ns) = netns_for("a_datagram_larger_than_a_buffer_is_counted_and_dropped") else {
        return;
    };
    let pool = pool("uring-trunc");
    ns.enter(|| {
        let config = UringConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            buffers: 16,
            ..UringConfig::default()
        };
        let mut port = UringUdpPort::bind(&config, &pool).expect("port");
        let mut cache = pool.cache().unwrap();
        port.poll(&mut cache);
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let big = vec![0xAB; port.info().mtu + 1];
        peer.send_to(&big, port.local_addr()).unwrap();
        peer.send_to(b"\0\0\0\x40small", port.local_addr()).unwrap();

        let mut rx = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while rx.is_empty() {
            assert!(Instant::now() < deadline, "nothing received: {:?}", port.counters());
            port.rx_burst_from(&mut cache, &mut rx, 8);
            port.poll(&mut cache);
        }
        assert_eq!(rx.len(), 1, "only the datagram that fits is delivered");
        let (buf, from) = rx.pop().unwrap();
        assert_eq!(pool.data(&buf), b"\0\0\0\x40small");
        assert_eq!(from, peer.local_addr().unwrap());
        cache.free(buf);
        let c = port.counters();
        assert_eq!((c.rx_truncated, c.rx_packets), (1, 1), "{c:?}");
        port.drain(&mut cache);
    })
    .expect("entering the namespace");
    assert_all_buffers_back(&pool);
}

#[test]
fn when_the_buffer_ring_runs_dry_the_receive_ends_and_is_rearmed() {
    let Some(ns) = netns_for("when_the_buffer_ring_runs_dry_the_receive_ends_and_is_rearmed") else {
        return;
    };
    let pool = pool("uring-rearm");
    const N: u32 = 200;
    ns.enter(|| {
        let config = UringConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            buffers: 8,
            ..UringConfig::default()
        };
        let mut port = UringUdpPort::bind(&config, &pool).expect("port");
        let mut cache = pool.cache().unwrap();
        port.poll(&mut cache);
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        for seq in 0..N {
            let mut d = vec![0; datagram_len(seq, 256)];
            fill(seq, &mut d);
            peer.send_to(&d, port.local_addr()).unwrap();
        }
        // All of them wait in the socket; the kernel has 8 buffers.
        let mut rx = Vec::new();
        let mut got = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while got < N {
            assert!(Instant::now() < deadline, "{got}/{N}: {:?}", port.counters());
            port.rx_burst_from(&mut cache, &mut rx, 4);
            for (buf, _) in rx.drain(..) {
                check(&pool, &buf, got, 256);
                got += 1;
                cache.free(buf);
            }
            port.poll(&mut cache);
        }
        let c = port.counters();
        assert!(c.rx_no_buffer >= 1 && c.rx_arms >= 2, "{c:?}");
        port.drain(&mut cache);

        // A drained port starts again on the next poll.
        peer.send_to(b"\0\0\0\x41again", port.local_addr()).unwrap();
        while rx.is_empty() {
            assert!(Instant::now() < deadline, "not restarted: {:?}", port.counters());
            port.poll(&mut cache);
            port.rx_burst_from(&mut cache, &mut rx, 4);
        }
        let (buf, _) = rx.pop().unwrap();
        assert_eq!(pool.data(&buf), b"\0\0\0\x41again");
        cache.free(buf);
        port.drain(&mut cache);
    })
    .expect("entering the namespace");
    assert_all_buffers_back(&pool);
}

/// Whether ::1 works in the calling thread's namespace: two plain UDP
/// sockets bound to it exchange a datagram. `Err` says what failed (no
/// IPv6 in the kernel, IPv6 disabled on lo, nothing arriving).
fn ipv6_loopback_works() -> Result<(), String> {
    let bind = || UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).map_err(|e| format!("binding [::1]:0: {e}"));
    let (a, b) = (bind()?, bind()?);
    let to = b.local_addr().map_err(|e| e.to_string())?;
    a.send_to(b"probe", to).map_err(|e| format!("sending to {to}: {e}"))?;
    b.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut got = [0; 8];
    match b.recv_from(&mut got) {
        Ok((5, from)) if got[..5] == *b"probe" && Some(from) == a.local_addr().ok() => Ok(()),
        Ok((len, from)) => Err(format!("{len} unexpected octets from {from}")),
        Err(e) => Err(format!("no datagram over ::1 within 2 s: {e}")),
    }
}

#[test]
fn ipv6_datagrams_carry_ipv6_sources() {
    const TEST: &str = "ipv6_datagrams_carry_ipv6_sources";
    let Some(ns) = netns_for(TEST) else {
        return;
    };
    let pool = pool("uring-v6");
    const N: u32 = 1000;
    ns.enter(|| {
        if let Err(why) = ipv6_loopback_works() {
            // A kernel feature, not a privilege: no failure under
            // REQUIRE_ENV either. Only then: once ::1 works, a port that
            // cannot use it is a failure.
            o7s_netns::skip(TEST, &format!("IPv6 loopback (::1) is not usable here: {why}"));
            return;
        }
        let config = |port| UringConfig {
            bind: SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
            buffers: 64,
            ..UringConfig::default()
        };
        let mut a = UringUdpPort::bind(&config(0), &pool).expect("port a on [::1]");
        let mut b = UringUdpPort::bind(&config(0), &pool).expect("port b on [::1]");
        let mut cache = pool.cache().unwrap();
        let max = a.info().mtu;
        let mut tx = Vec::with_capacity(16);
        let mut rx = Vec::with_capacity(16);
        let (mut made, mut got) = (0, 0);
        let deadline = Instant::now() + Duration::from_secs(30);
        while got < N {
            assert!(Instant::now() < deadline, "{got}/{N}: {:?}", b.counters());
            while tx.len() < 16 && made < N && made - got < 32 {
                tx.push((make(&mut cache, made, max), b.local_addr()));
                made += 1;
            }
            a.tx_burst_to(&mut cache, &mut tx);
            b.rx_burst_from(&mut cache, &mut rx, 16);
            for (buf, from) in rx.drain(..) {
                assert_eq!(from, a.local_addr());
                check(&pool, &buf, got, max);
                got += 1;
                cache.free(buf);
            }
            a.poll(&mut cache);
            b.poll(&mut cache);
        }
        while a.tx_queue_len() > 0 {
            a.poll(&mut cache);
        }
        a.drain(&mut cache);
        b.drain(&mut cache);
    })
    .expect("entering the namespace");
    assert_all_buffers_back(&pool);
}

#[test]
fn ipv6_loopback_is_unusable_when_lo_has_ipv6_disabled() {
    // The other half of the skip above: the probe tells a namespace
    // whose lo has no IPv6 apart from one where ::1 works.
    const TEST: &str = "ipv6_loopback_is_unusable_when_lo_has_ipv6_disabled";
    let Some(ns) = netns_for(TEST) else {
        return;
    };
    ns.enter(|| {
        if let Err(e) = std::fs::write("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "1") {
            o7s_netns::skip(
                TEST,
                &format!("cannot disable IPv6 on lo (a kernel without IPv6?): {e}"),
            );
            return;
        }
        let why = ipv6_loopback_works().expect_err("::1 unusable with IPv6 disabled on lo");
        assert!(why.contains("::1"), "{why}");
    })
    .expect("entering the namespace");
}

#[test]
fn bad_geometry_is_refused_with_a_reason() {
    let pool = Pool::create(
        "uring-config",
        PoolConfig {
            count: 64,
            backing: o7s_mem::Backing::Base,
            ..PoolConfig::default()
        },
    )
    .unwrap();
    for (buffers, entries) in [(100, 256), (128, 256), (0, 256), (32, 0)] {
        let config = UringConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            buffers,
            entries,
            ..UringConfig::default()
        };
        let err = UringUdpPort::bind(&config, &pool).expect_err("refused");
        assert!(err.to_string().starts_with("invalid configuration"), "{err}");
    }
}
