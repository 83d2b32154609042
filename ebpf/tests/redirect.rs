//! The benchmark baseline forwarder, in one namespace with two veth pairs:
//!
//! ```text
//!   sender                                                      receiver
//!   (AF_PACKET) in0 <~~veth~~> in1 [xdp_fwd] --redirect--> out0 <~~veth~~> out1 [xdp_pass] (AF_PACKET)
//! ```
//!
//! Frames put on in0 must come out of out1 unchanged. The counting sink is
//! tested on the same pairs:
//!
//! ```text
//!   sender (AF_PACKET) in0 <~~veth~~> in1 [xdp_count] --> counted, dropped
//! ```
//!
//! The tests need root and skip otherwise.

mod common;

use std::time::{Duration, Instant};

use common::xdp_on;
use o7s_ebpf::{ActiveMode, AttachMode, CountingSink, PassProgram, RedirectForwarder};
use o7s_netns::{Netns, PacketSocket, veth};

/// An Ethertype no stack in the namespace listens to.
const TEST_ETHERTYPE: u16 = 0x88b6;

fn forwarding_namespace() -> Netns {
    let netns = Netns::new("fwd").expect("namespace");
    // No IPv6 here: links coming up send router solicitations and MLD
    // reports, which the counting sink would count beside the test's frames.
    netns
        .run(
            "sh",
            &["-c", "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6"],
        )
        .expect("IPv6 off");
    for (a, b) in [("in0", "in1"), ("out0", "out1")] {
        veth((&netns, a), (&netns, b)).expect("veth pair");
    }
    netns
}

fn forwards_every_frame(mode: AttachMode, expected: ActiveMode) {
    let netns = forwarding_namespace();
    netns
        .enter(|| {
            let pass = PassProgram::attach("out1", mode).expect("xdp_pass on out1");
            let forwarder = RedirectForwarder::attach("in1", "out0", mode).expect("xdp_fwd on in1");
            assert_eq!(pass.mode(), expected);
            assert_eq!(forwarder.mode(), expected);
            assert_eq!(forwarder.in_ifname(), "in1");
            assert_eq!(forwarder.out_interface().0, "out0");

            let receiver = PacketSocket::bind("out1", TEST_ETHERTYPE).expect("receiver");
            let sender = PacketSocket::bind("in0", TEST_ETHERTYPE).expect("sender");

            const FRAMES: u8 = 10;
            for n in 0..FRAMES {
                sender
                    .send(&common::ethernet_frame(TEST_ETHERTYPE, &[b'o', b'7', b's', n]))
                    .expect("send");
            }
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut buf = [0u8; 2048];
            while seen.len() < usize::from(FRAMES) && Instant::now() < deadline {
                if let Some(len) = receiver
                    .recv_timeout(&mut buf, Duration::from_millis(200))
                    .expect("recv")
                {
                    let frame = &buf[..len];
                    if frame.len() >= 18 && frame[14..17] == *b"o7s" {
                        assert_eq!(
                            frame,
                            common::ethernet_frame(TEST_ETHERTYPE, &frame[14..18]),
                            "frame changed"
                        );
                        seen.push(frame[17]);
                    }
                }
            }
            assert_eq!(
                seen,
                (0..FRAMES).collect::<Vec<_>>(),
                "frames sent into in0 must all leave out1, in order"
            );

            // Detach on drop: nothing stays attached.
            drop(forwarder);
            drop(pass);
        })
        .expect("entering the namespace");
    assert_eq!(xdp_on(&netns, "in1"), None);
    assert_eq!(xdp_on(&netns, "out1"), None);
}

#[test]
fn native_forwarder_sends_every_frame_out_of_the_egress_veth() {
    if !common::privileged("native_forwarder_sends_every_frame_out_of_the_egress_veth") {
        return;
    }
    forwards_every_frame(AttachMode::Native, ActiveMode::Native);
}

#[test]
fn generic_forwarder_sends_every_frame_out_of_the_egress_veth() {
    if !common::privileged("generic_forwarder_sends_every_frame_out_of_the_egress_veth") {
        return;
    }
    forwards_every_frame(AttachMode::Generic, ActiveMode::Generic);
}

#[test]
fn forwarder_and_pass_program_are_shown_by_ip_link_while_attached() {
    if !common::privileged("forwarder_and_pass_program_are_shown_by_ip_link_while_attached") {
        return;
    }
    let netns = forwarding_namespace();
    let (forwarder, pass) = netns
        .enter(|| {
            (
                RedirectForwarder::attach("in1", "out0", AttachMode::Auto).expect("xdp_fwd"),
                PassProgram::attach("out1", AttachMode::Auto).expect("xdp_pass"),
            )
        })
        .expect("entering the namespace");
    assert_eq!(
        xdp_on(&netns, "in1"),
        Some(("xdp".to_owned(), forwarder.program_id().expect("id")))
    );
    assert_eq!(
        xdp_on(&netns, "out1"),
        Some(("xdp".to_owned(), pass.program_id().expect("id")))
    );
    assert_eq!(xdp_on(&netns, "out0"), None);
}

fn counts_and_drops_every_frame(mode: AttachMode, expected: ActiveMode) {
    let netns = forwarding_namespace();
    netns
        .enter(|| {
            let sink = CountingSink::attach("in1", mode).expect("xdp_count on in1");
            assert_eq!(sink.mode(), expected);
            assert_eq!(sink.ifname(), "in1");
            assert_eq!(sink.counts().expect("counts"), (0, 0));
            // Nothing may reach the stack behind the sink.
            let behind = PacketSocket::bind("in1", TEST_ETHERTYPE).expect("behind");
            let sender = PacketSocket::bind("in0", TEST_ETHERTYPE).expect("sender");

            const FRAMES: u64 = 100;
            let long = vec![0x5a; 1000];
            for n in 0..FRAMES {
                // Half minimum-size frames (padded to 60 octets), half 1014 octets.
                let payload: &[u8] = if n % 2 == 0 { b"o7s" } else { &long };
                sender
                    .send_retrying(&common::ethernet_frame(TEST_ETHERTYPE, payload))
                    .expect("send");
                // veth's receive ring holds 256 frames: on a busy machine
                // an unpaced burst can overflow it before the sink's NAPI
                // runs, and a frame lost there is not the sink's to count.
                std::thread::sleep(Duration::from_micros(200));
            }
            let expected_counts = (FRAMES, FRAMES / 2 * 60 + FRAMES / 2 * 1014);
            let counted = common::eventually(Duration::from_secs(10), || {
                sink.counts().expect("counts") == expected_counts
            });
            assert!(
                counted,
                "counted {:?}, expected {expected_counts:?} (packets, octets)",
                sink.counts().expect("counts")
            );
            let mut buf = [0u8; 2048];
            assert_eq!(
                behind.recv_timeout(&mut buf, Duration::from_millis(100)).expect("recv"),
                None,
                "a counted frame reached the stack"
            );
            drop(sink);
        })
        .expect("entering the namespace");
    assert_eq!(xdp_on(&netns, "in1"), None, "detached on drop");
}

#[test]
fn native_counting_sink_counts_packets_and_octets_and_drops_them() {
    if !common::privileged("native_counting_sink_counts_packets_and_octets_and_drops_them") {
        return;
    }
    counts_and_drops_every_frame(AttachMode::Native, ActiveMode::Native);
}

#[test]
fn generic_counting_sink_counts_packets_and_octets_and_drops_them() {
    if !common::privileged("generic_counting_sink_counts_packets_and_octets_and_drops_them") {
        return;
    }
    counts_and_drops_every_frame(AttachMode::Generic, ActiveMode::Generic);
}
