//! AF_XDP sockets over the shared pool, on a veth pair in a private
//! network namespace (see `common` for the bench). Needs root; skips with a
//! message otherwise.
//!
//! ```text
//!   XskSocket(xa, queue 0) --tx--> [xa] ==veth== [xb] --> AF_PACKET capture
//!   AF_PACKET sender ------------> [xa] ==veth== [xb] + XDP --> XSKMAP --> XskSocket(xb, queue 0)
//! ```
//!
//! Every test ends by draining its sockets and checking that the pool got
//! every buffer back.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{ETH_O7S, XdpMode, XdpRedirect, frame, frame_len, in_netns, seq_of};
use o7s_mem::{Buf, Pool, PoolCache, PoolConfig};
use o7s_netns::{LocalVeth, PacketSocket};
use o7s_xsk::{BindMode, Mode, Umem, XskConfig, XskError, XskSocket};

const BUFFERS: u32 = 8192;

fn pool() -> Pool {
    Pool::create(
        "xsk-test",
        PoolConfig {
            count: BUFFERS,
            ..PoolConfig::default()
        },
    )
    .unwrap()
}

/// A buffer holding test frame `seq`.
fn frame_buf(pool: &Pool, cache: &mut PoolCache, seq: u32) -> Buf {
    let f = frame(seq, frame_len(seq));
    let mut b = cache.alloc().expect("pool exhausted");
    b.append(f.len()).unwrap();
    pool.data_mut(&mut b).copy_from_slice(&f);
    b
}

/// After the sockets are drained and the cache dropped, every buffer is
/// back in the pool's free ring.
fn assert_all_buffers_back(pool: &Pool, cache: PoolCache) {
    drop(cache);
    let s = pool.stats();
    assert_eq!((s.free, s.held(), s.corrupt), (BUFFERS, 0, 0), "pool accounting: {s:?}");
}

fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// What most tests start from: the veth pair xa-xb (removed when dropped),
/// a pool, its UMEM and a cache.
fn rig() -> (LocalVeth, Pool, Umem, PoolCache) {
    let veth = LocalVeth::new("xa", "xb").unwrap();
    let pool = pool();
    let umem = Umem::new(&pool).unwrap();
    let cache = pool.cache().unwrap();
    (veth, pool, umem, cache)
}

/// An AF_XDP socket on xb, queue 0, that XDP in `mode` steers xb's o7s
/// frames to.
fn steered(umem: &Umem, mode: XdpMode) -> (XskSocket, XdpRedirect) {
    let xsk = XskSocket::new(umem, "xb", 0, XskConfig::default()).unwrap();
    let xdp = XdpRedirect::attach("xb", mode);
    xdp.register(0, xsk.fd());
    (xsk, xdp)
}

#[test]
fn ring_sizes_that_are_not_powers_of_two_are_refused_before_any_syscall() {
    let pool = pool();
    let umem = Umem::new(&pool).unwrap();
    let config = XskConfig {
        fill_size: 3000,
        ..XskConfig::default()
    };
    assert!(matches!(
        XskSocket::new(&umem, "lo", 0, config),
        Err(XskError::Config(_))
    ));
    let err = XskSocket::new(&umem, "no-such-if0", 0, XskConfig::default()).unwrap_err();
    assert!(matches!(err, XskError::Interface { .. }), "{err}");
    assert_eq!(umem.registrations(), 0);
}

#[test]
fn ten_thousand_frames_sent_by_af_xdp_reach_the_peer_byte_exact() {
    in_netns(|| {
        let (_veth, pool, umem, mut cache) = rig();
        let mut xsk = XskSocket::new(&umem, "xa", 0, XskConfig::default()).unwrap();
        // veth has no zero-copy support: Auto falls back to copy mode.
        assert_eq!(xsk.info().mode, Mode::Copy);
        assert!(!xsk.info().shared_umem);
        let capture = PacketSocket::bind("xb", ETH_O7S).unwrap();

        const N: u32 = 10_000;
        let mut seen = vec![false; N as usize];
        let (mut next, mut received) = (0u32, 0u32);
        let mut frames = Vec::with_capacity(64);
        let mut rx = vec![0u8; 2048];
        let end = deadline(20);
        while received < N {
            assert!(Instant::now() < end, "only {received} of {N} frames arrived");
            while next < N && frames.len() < 64 {
                frames.push(frame_buf(&pool, &mut cache, next));
                next += 1;
            }
            xsk.tx_burst(&mut cache, &mut frames);
            xsk.complete(&mut cache);
            while let Some(n) = capture.try_recv(&mut rx).unwrap() {
                let seq = seq_of(&rx[..n]);
                assert!(seq < N && !seen[seq as usize], "unexpected or repeated frame {seq}");
                assert_eq!(&rx[..n], &frame(seq, frame_len(seq))[..], "frame {seq} differs");
                seen[seq as usize] = true;
                received += 1;
            }
        }
        let end = deadline(5);
        while xsk.tx_pending() > 0 {
            assert!(Instant::now() < end, "{} frames never completed", xsk.tx_pending());
            xsk.complete(&mut cache);
        }
        let stats = xsk.stats();
        assert_eq!((stats.tx_packets, stats.tx_completed), (N.into(), N.into()));
        assert_eq!((stats.tx_invalid, stats.comp_invalid, stats.lost), (0, 0, 0));
        assert!(
            stats.tx_wakeups >= u64::from(N / 32),
            "copy mode sends only inside sendto"
        );
        let kernel = xsk.kernel_stats().unwrap();
        assert_eq!(kernel.tx_invalid_descs, 0);
        eprintln!("tx: {stats:?}\nkernel: {kernel:?}");
        let drained = xsk.drain(&mut cache);
        assert_eq!(drained.lost, 0);
        assert_all_buffers_back(&pool, cache);
    });
}

/// Sends `n` test frames from `sender` (starting at `first`) while
/// receiving on `xsk`; returns the received buffers' head offsets.
fn send_and_receive(
    pool: &Pool,
    cache: &mut PoolCache,
    xsk: &mut XskSocket,
    sender: &PacketSocket,
    first: u32,
    n: u32,
) -> BTreeSet<usize> {
    let mut seen = vec![false; n as usize];
    let mut heads = BTreeSet::new();
    let (mut sent, mut received) = (0u32, 0u32);
    let mut bufs = Vec::with_capacity(64);
    let end = deadline(20);
    while received < n {
        assert!(
            Instant::now() < end,
            "only {received} of {n} frames arrived: {:?}",
            xsk.stats()
        );
        for _ in 0..64.min(n - sent) {
            let seq = first + sent;
            sender.send_retrying(&frame(seq, frame_len(seq))).unwrap();
            sent += 1;
        }
        xsk.fill(cache, usize::MAX);
        xsk.wakeup_rx_if_needed();
        xsk.rx_burst(cache, &mut bufs, 64);
        for buf in bufs.drain(..) {
            let data = pool.data(&buf);
            let seq = seq_of(data);
            assert!((first..first + n).contains(&seq), "unexpected frame {seq}");
            assert!(!seen[(seq - first) as usize], "frame {seq} twice");
            assert_eq!(data, &frame(seq, frame_len(seq))[..], "frame {seq} differs");
            seen[(seq - first) as usize] = true;
            heads.insert(buf.head());
            received += 1;
            cache.free(buf);
        }
    }
    heads
}

fn rx_through_xdp(mode: XdpMode) {
    let (_veth, pool, umem, mut cache) = rig();
    let (mut xsk, xdp) = steered(&umem, mode);
    assert_eq!(xsk.fill(&mut cache, usize::MAX), 4096);
    let sender = PacketSocket::bind("xa", ETH_O7S).unwrap();

    let heads = send_and_receive(&pool, &mut cache, &mut xsk, &sender, 0, 10_000);
    // Copy mode writes the frame after XDP_PACKET_HEADROOM in the chunk
    // whose base address was on the fill ring.
    assert_eq!(heads, BTreeSet::from([256]), "RX head offsets ({mode:?})");
    // Copy mode never asks for RX wake-ups.
    assert!(!xsk.wakeup_rx_if_needed());

    // Frames of other Ethertypes go to the stack, not to the socket.
    let other = PacketSocket::bind("xa", 0x88B5).unwrap();
    let stack = PacketSocket::bind("xb", 0x88B5).unwrap();
    let mut f = frame(1, 60);
    f[12..14].copy_from_slice(&0x88B5u16.to_be_bytes());
    other.send_retrying(&f).unwrap();
    let mut rx = vec![0u8; 2048];
    let end = deadline(5);
    while stack.try_recv(&mut rx).unwrap().is_none() {
        assert!(Instant::now() < end, "passed frame never reached the stack");
        std::thread::sleep(Duration::from_millis(1));
    }
    let stats = xsk.stats();
    assert_eq!((stats.rx_packets, stats.rx_invalid, stats.lost), (10_000, 0, 0));
    eprintln!("rx ({mode:?}): {stats:?}\nkernel: {:?}", xsk.kernel_stats().unwrap());
    drop(xdp);
    let drained = xsk.drain(&mut cache);
    assert_eq!((drained.fill as usize, drained.lost), (4096, 0));
    assert_all_buffers_back(&pool, cache);
}

#[test]
fn frames_steered_by_native_xdp_land_256_octets_into_their_chunk() {
    in_netns(|| rx_through_xdp(XdpMode::Native));
}

#[test]
fn frames_steered_by_generic_xdp_land_256_octets_into_their_chunk() {
    in_netns(|| rx_through_xdp(XdpMode::Generic));
}

#[test]
fn two_sockets_share_one_umem_and_forward_a_frame_by_its_buffer_index() {
    // AF_XDP(xa) --> xb + XDP --> AF_XDP(xb) --tx, same buffers--> xa --> capture
    in_netns(|| {
        let (_veth, pool, umem, mut cache) = rig();
        let mut a = XskSocket::new(&umem, "xa", 0, XskConfig::default()).unwrap();
        let mut b = XskSocket::new(&umem, "xb", 0, XskConfig::default()).unwrap();
        assert!(!a.info().shared_umem && b.info().shared_umem);
        assert_eq!((a.info().mode, b.info().mode), (Mode::Copy, Mode::Copy));
        assert_eq!(umem.registrations(), 1);
        let xdp = XdpRedirect::attach("xb", XdpMode::Native);
        xdp.register(0, b.fd());
        b.fill(&mut cache, 1024);
        let capture = PacketSocket::bind("xa", ETH_O7S).unwrap();

        const N: u32 = 2000;
        let (mut next, mut back) = (0u32, 0u32);
        let mut out = Vec::with_capacity(64);
        let mut fwd = Vec::with_capacity(64);
        let mut forwarded_idx = BTreeSet::new();
        let mut rx = vec![0u8; 2048];
        let end = deadline(20);
        while back < N {
            assert!(
                Instant::now() < end,
                "{back} of {N} came back: a {:?} b {:?}",
                a.stats(),
                b.stats()
            );
            while next < N && out.len() < 32 {
                out.push(frame_buf(&pool, &mut cache, next));
                next += 1;
            }
            a.tx_burst(&mut cache, &mut out);
            a.complete(&mut cache);
            b.fill(&mut cache, usize::MAX);
            b.rx_burst(&mut cache, &mut fwd, 64);
            forwarded_idx.extend(fwd.iter().map(Buf::index));
            b.tx_burst(&mut cache, &mut fwd);
            b.complete(&mut cache);
            while let Some(n) = capture.try_recv(&mut rx).unwrap() {
                let seq = seq_of(&rx[..n]);
                assert_eq!(&rx[..n], &frame(seq, frame_len(seq))[..], "frame {seq} differs");
                back += 1;
            }
        }
        let end = deadline(5);
        while a.tx_pending() + b.tx_pending() > 0 {
            assert!(Instant::now() < end);
            a.complete(&mut cache);
            b.complete(&mut cache);
        }
        assert!(forwarded_idx.len() > 1);
        assert_eq!(b.stats().tx_completed, u64::from(N));
        drop(xdp);
        let (da, db) = (a.drain(&mut cache), b.drain(&mut cache));
        assert_eq!((da.lost, db.lost), (0, 0));
        assert_eq!(umem.registrations(), 0);
        assert_all_buffers_back(&pool, cache);
    });
}

#[test]
fn a_full_completion_ring_backs_up_tx_and_unsent_frames_stay_with_the_caller() {
    in_netns(|| {
        let (_veth, pool, umem, mut cache) = rig();
        let config = XskConfig {
            tx_size: 64,
            comp_size: 32,
            ..XskConfig::default()
        };
        let mut xsk = XskSocket::new(&umem, "xa", 0, config).unwrap();
        let capture = PacketSocket::bind("xb", ETH_O7S).unwrap();

        // With nobody reaping completions, the kernel stops taking frames
        // once 32 wait in the completion ring; the TX ring then fills.
        let mut frames: Vec<Buf> = (0..200).map(|s| frame_buf(&pool, &mut cache, s)).collect();
        // An empty frame would be swallowed by the kernel uncompleted.
        frames.insert(0, cache.alloc().unwrap());
        assert_eq!(xsk.tx_burst(&mut cache, &mut frames), 64);
        assert_eq!(xsk.stats().tx_invalid, 1);
        assert_eq!(frames.len(), 200 - 64, "frames beyond the ring stay with the caller");
        // The kick sent 32, then the kernel stopped: their completions fill
        // the completion ring. Their 32 TX entries are free again.
        assert_eq!(xsk.tx_burst(&mut cache, &mut frames), 32);
        assert_eq!(xsk.tx_burst(&mut cache, &mut frames), 0, "TX ring full");
        assert_eq!(xsk.tx_pending(), 32 + 64);
        assert_eq!(xsk.stats().tx_ring_full, (200 - 64) + 2 * (200 - 96));

        let mut seen = BTreeSet::new();
        let mut rx = vec![0u8; 2048];
        let end = deadline(10);
        while seen.len() < 200 {
            assert!(Instant::now() < end, "{} of 200 arrived: {:?}", seen.len(), xsk.stats());
            xsk.complete(&mut cache);
            xsk.tx_burst(&mut cache, &mut frames);
            while let Some(n) = capture.try_recv(&mut rx).unwrap() {
                assert!(seen.insert(seq_of(&rx[..n])), "a frame came twice");
            }
        }
        while xsk.tx_pending() > 0 {
            xsk.complete(&mut cache);
        }
        assert_eq!(xsk.stats().tx_completed, 200);
        assert_eq!(xsk.kernel_stats().unwrap().tx_invalid_descs, 0);
        xsk.drain(&mut cache);
        assert_all_buffers_back(&pool, cache);
    });
}

#[test]
fn drain_returns_the_buffers_the_kernel_held_in_every_ring() {
    in_netns(|| {
        let (_veth, pool, umem, mut cache) = rig();
        let (mut xsk, xdp) = steered(&umem, XdpMode::Native);
        xsk.fill(&mut cache, usize::MAX);
        let sender = PacketSocket::bind("xa", ETH_O7S).unwrap();
        for seq in 0..100 {
            sender.send_retrying(&frame(seq, 100)).unwrap();
        }
        // The kernel releases fill entries in the same flush that publishes
        // frames on the RX ring: once 100 could be refilled, all 100 frames
        // are there.
        let (mut refilled, end) = (0, deadline(5));
        while refilled < 100 {
            assert!(Instant::now() < end, "only {refilled} frames arrived");
            refilled += xsk.fill(&mut cache, usize::MAX);
        }
        // Read only ten; ninety stay on the RX ring.
        let mut bufs = Vec::with_capacity(10);
        assert_eq!(xsk.rx_burst(&mut cache, &mut bufs, 10), 10);
        // Ten frames go back out, on a TX ring nobody kicks again.
        xsk.tx_burst(&mut cache, &mut bufs);
        let drained = xsk.drain(&mut cache);
        assert_eq!(drained.rx_unread, 90);
        assert_eq!(
            drained.fill, 4096,
            "the fill ring's worth, whether the kernel took them or not"
        );
        assert_eq!(drained.tx_completed + drained.tx, 10);
        assert_eq!(drained.lost, 0);
        drop(xdp);
        assert_all_buffers_back(&pool, cache);
    });
}

#[test]
fn without_fill_buffers_the_kernel_drops_and_counts_until_the_ring_is_filled() {
    in_netns(|| {
        let (_veth, pool, umem, mut cache) = rig();
        let (mut xsk, xdp) = steered(&umem, XdpMode::Native);
        let sender = PacketSocket::bind("xa", ETH_O7S).unwrap();
        for seq in 0..10 {
            sender.send_retrying(&frame(seq, 100)).unwrap();
        }
        let end = deadline(5);
        while xsk.kernel_stats().unwrap().rx_dropped < 10 {
            assert!(Instant::now() < end, "{:?}", xsk.kernel_stats());
            std::thread::sleep(Duration::from_millis(1));
        }
        let kernel = xsk.kernel_stats().unwrap();
        eprintln!("no fill buffers: {kernel:?}");
        let mut bufs = Vec::with_capacity(64);
        assert_eq!(xsk.rx_burst(&mut cache, &mut bufs, 64), 0);

        xsk.fill(&mut cache, 64);
        send_and_receive(&pool, &mut cache, &mut xsk, &sender, 10, 10);
        drop(xdp);
        xsk.drain(&mut cache);
        assert_all_buffers_back(&pool, cache);
    });
}

#[test]
fn zero_copy_on_veth_fails_with_the_kernel_reason_and_auto_falls_back_to_copy() {
    in_netns(|| {
        let _veth = LocalVeth::new("xa", "xb").unwrap();
        let pool = pool();
        let umem = Umem::new(&pool).unwrap();
        let zc = XskConfig {
            bind: BindMode::ZeroCopy,
            ..XskConfig::default()
        };
        let err = XskSocket::new(&umem, "xa", 0, zc).unwrap_err();
        eprintln!("zero-copy on veth: {err}");
        assert!(matches!(err, XskError::Kernel { call: "bind", .. }), "{err}");
        assert_eq!(umem.registrations(), 0, "the failed socket is gone");
        let xsk = XskSocket::new(&umem, "xa", 0, XskConfig::default()).unwrap();
        assert_eq!(xsk.info().mode, Mode::Copy);
        // A second socket on the same queue is refused by the kernel.
        let err = XskSocket::new(&umem, "xa", 0, XskConfig::default()).unwrap_err();
        eprintln!("second socket on a queue: {err}");
        let mut cache = pool.cache().unwrap();
        xsk.drain(&mut cache);
        assert_all_buffers_back(&pool, cache);
    });
}
