//! `o7s_steer` on a veth pair, each end in its own network namespace:
//!
//! ```text
//!   netns a                                        netns b
//!   o7s-a [o7s_steer]  10.77.0.1  <~~~veth~~~>  o7s-b  10.77.0.2
//!                      fd77::1                         fd77::2
//!                                                      (ping, UDP and raw
//!                                                       frames come from here)
//! ```
//!
//! No AF_XDP socket is registered, so every o7s frame the program matches
//! falls back to the kernel and is counted as `no_xsk_*`: that is how these
//! tests see what the program decided. (Delivery into a bound AF_XDP
//! socket is tested with the socket layer, in dataplane/xsk.)
//!
//! The tests need root (namespaces, BPF, raw sockets) and skip otherwise.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::{VethPair, eventually, xdp_on};
use o7s_ebpf::{
    ActiveMode, AttachMode, DEFAULT_ETHERTYPE, DEFAULT_UDP_PORT, EbpfError, MAX_QUEUES, Steering, SteeringConfig,
    SteeringStats,
};
use o7s_netns::{Netns, PacketSocket};

const SETTLE: Duration = Duration::from_secs(2);

fn config(mode: AttachMode) -> SteeringConfig {
    SteeringConfig {
        mode,
        ..SteeringConfig::default()
    }
}

/// Attaches steering to o7s-a (from inside netns a).
fn steer(pair: &VethPair, config: SteeringConfig) -> Steering {
    pair.a
        .enter(|| Steering::attach(VethPair::DEV_A, config))
        .expect("entering namespace a")
        .unwrap_or_else(|e| panic!("attach: {e}"))
}

fn stats(steering: &Steering) -> SteeringStats {
    steering.stats().unwrap_or_else(|e| panic!("stats: {e}"))
}

/// Waits until `done(stats)` holds, then returns the stats.
fn stats_when(steering: &Steering, what: &str, done: impl Fn(&SteeringStats) -> bool) -> SteeringStats {
    let reached = eventually(SETTLE, || done(&stats(steering)));
    let now = stats(steering);
    assert!(reached, "{what}: counters never got there: {now:?}");
    now
}

/// Sends `count` frames of `ethertype` from o7s-b towards o7s-a.
fn send_frames(pair: &VethPair, ethertype: u16, payload: &[u8], count: usize) {
    let frame = common::ethernet_frame(ethertype, payload);
    send_raw(pair, &vec![frame; count]);
}

/// Sends whole frames from o7s-b towards o7s-a.
fn send_raw(pair: &VethPair, frames: &[Vec<u8>]) {
    pair.b
        .enter(|| {
            let socket = PacketSocket::bind(VethPair::DEV_B, DEFAULT_ETHERTYPE).expect("AF_PACKET socket");
            for frame in frames {
                socket.send(frame).expect("send frame");
            }
        })
        .expect("entering namespace b");
}

/// Sends `count` UDP datagrams from netns b to `to`.
fn send_udp(pair: &VethPair, to: SocketAddr, count: usize) {
    pair.b
        .enter(|| {
            let bind: SocketAddr = if to.is_ipv4() {
                (Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let socket = UdpSocket::bind(bind).expect("UDP socket");
            for _ in 0..count {
                socket.send_to(b"o7s test datagram", to).expect("send datagram");
            }
        })
        .expect("entering namespace b");
}

/// Pings o7s-a from netns b, so that ARP / neighbour discovery is done
/// before a test counts frames.
fn ping(pair: &VethPair, to: &str) -> std::process::Output {
    pair.b
        .command("ping")
        .args(["-c", "3", "-i", "0.2", "-W", "2", to])
        .output()
        .expect("running ping")
}

#[test]
fn native_attach_is_reported_and_shown_until_drop() {
    if !common::privileged("native_attach_is_reported_and_shown_until_drop") {
        return;
    }
    let pair = VethPair::new();
    assert_eq!(xdp_on(&pair.a, VethPair::DEV_A), None);

    let steering = steer(&pair, config(AttachMode::Native));
    assert_eq!(steering.mode(), ActiveMode::Native);
    let id = steering.program_id().expect("program id");
    assert_eq!(xdp_on(&pair.a, VethPair::DEV_A), Some(("xdp".to_owned(), id)));

    drop(steering);
    assert_eq!(
        xdp_on(&pair.a, VethPair::DEV_A),
        None,
        "the program must be gone after drop"
    );
}

#[test]
fn auto_mode_is_native_on_veth() {
    if !common::privileged("auto_mode_is_native_on_veth") {
        return;
    }
    let pair = VethPair::new();
    let steering = steer(&pair, config(AttachMode::Auto));
    assert_eq!(steering.mode(), ActiveMode::Native);
}

#[test]
fn generic_mode_attaches_as_xdpgeneric_until_drop() {
    if !common::privileged("generic_mode_attaches_as_xdpgeneric_until_drop") {
        return;
    }
    let pair = VethPair::new();
    let steering = steer(&pair, config(AttachMode::Generic));
    assert_eq!(steering.mode(), ActiveMode::Generic);
    let id = steering.program_id().expect("program id");
    assert_eq!(xdp_on(&pair.a, VethPair::DEV_A), Some(("xdpgeneric".to_owned(), id)));
    drop(steering);
    assert_eq!(xdp_on(&pair.a, VethPair::DEV_A), None);
}

#[test]
fn auto_mode_falls_back_to_generic_where_the_driver_has_no_native_xdp() {
    if !common::privileged("auto_mode_falls_back_to_generic_where_the_driver_has_no_native_xdp") {
        return;
    }
    // The loopback driver implements no XDP of its own.
    let netns = Netns::new("lo").expect("namespace");
    let native = netns
        .enter(|| Steering::attach("lo", config(AttachMode::Native)))
        .expect("entering the namespace");
    match native {
        Err(EbpfError::Attach {
            ref ifname,
            mode: ActiveMode::Native,
            errno,
            ..
        }) => {
            assert_eq!(ifname, "lo");
            assert_eq!(errno, Some(libc::EOPNOTSUPP), "{}", native.as_ref().unwrap_err());
        }
        other => panic!("native XDP on lo should be refused, got {other:?}"),
    }

    let steering = netns
        .enter(|| Steering::attach("lo", config(AttachMode::Auto)))
        .expect("entering the namespace")
        .expect("auto attach on lo");
    assert_eq!(steering.mode(), ActiveMode::Generic);
    assert!(matches!(xdp_on(&netns, "lo"), Some((kind, _)) if kind == "xdpgeneric"));
}

#[test]
fn ipv4_ping_works_through_steering_and_counts_as_passed() {
    if !common::privileged("ipv4_ping_works_through_steering_and_counts_as_passed") {
        return;
    }
    let pair = VethPair::new();
    let steering = steer(&pair, config(AttachMode::Auto));
    let before = stats(&steering);

    let out = ping(&pair, VethPair::IPV4_A);
    assert!(
        out.status.success(),
        "ping through the steered veth failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // At least the ARP request or reply and the three echo requests.
    let after = stats_when(&steering, "ping", |s| s.passed >= before.passed + 4);
    assert_eq!(
        after.matched_eth() + after.matched_udp(),
        0,
        "ping is not o7s: {after:?}"
    );
}

#[test]
fn o7s_ethertype_frames_are_matched_and_go_to_the_kernel_without_an_xsk() {
    if !common::privileged("o7s_ethertype_frames_are_matched_and_go_to_the_kernel_without_an_xsk") {
        return;
    }
    let pair = VethPair::new();
    let steering = steer(&pair, config(AttachMode::Auto));
    let before = stats(&steering);

    send_frames(&pair, DEFAULT_ETHERTYPE, b"o7s eth-dix test frame", 5);

    let after = stats_when(&steering, "5 frames of 0xa000", |s| {
        s.no_xsk_eth >= before.no_xsk_eth + 5
    });
    assert_eq!(after.no_xsk_eth, before.no_xsk_eth + 5, "{after:?}");
    assert_eq!(after.redirected_eth, 0, "no XSK is registered: {after:?}");
    assert_eq!(after.matched_udp(), 0, "{after:?}");
}

#[test]
fn udp_to_the_o7s_port_is_matched_and_other_ports_pass() {
    if !common::privileged("udp_to_the_o7s_port_is_matched_and_other_ports_pass") {
        return;
    }
    let pair = VethPair::new();
    let steering = steer(&pair, config(AttachMode::Auto));
    // Resolve neighbours first, so that only our datagrams are in flight.
    assert!(ping(&pair, VethPair::IPV4_A).status.success());
    assert!(ping(&pair, VethPair::IPV6_A).status.success());
    let start = stats(&steering);

    let a4: Ipv4Addr = VethPair::IPV4_A.parse().expect("address");
    let a6: Ipv6Addr = VethPair::IPV6_A.parse().expect("address");
    send_udp(&pair, (a4, DEFAULT_UDP_PORT).into(), 3);
    send_udp(&pair, (a6, DEFAULT_UDP_PORT).into(), 4);
    let o7s = stats_when(&steering, "7 o7s datagrams", |s| s.no_xsk_udp >= start.no_xsk_udp + 7);
    assert_eq!(o7s.no_xsk_udp, start.no_xsk_udp + 7, "{o7s:?}");
    assert_eq!(o7s.redirected_udp, 0, "{o7s:?}");

    send_udp(&pair, (a4, DEFAULT_UDP_PORT + 1).into(), 3);
    send_udp(&pair, (a6, 53).into(), 3);
    let other = stats_when(&steering, "6 other datagrams", |s| s.passed >= o7s.passed + 6);
    assert_eq!(
        other.no_xsk_udp, o7s.no_xsk_udp,
        "other ports must not match: {other:?}"
    );
    assert_eq!(other.matched_eth(), 0, "{other:?}");
}

#[test]
fn with_udp_steering_off_the_o7s_port_goes_to_the_kernel() {
    if !common::privileged("with_udp_steering_off_the_o7s_port_goes_to_the_kernel") {
        return;
    }
    let pair = VethPair::new();
    let steering = steer(
        &pair,
        SteeringConfig {
            steer_udp: false,
            ..config(AttachMode::Auto)
        },
    );
    assert!(ping(&pair, VethPair::IPV4_A).status.success());
    let start = stats(&steering);
    let a4: Ipv4Addr = VethPair::IPV4_A.parse().expect("address");
    send_udp(&pair, (a4, DEFAULT_UDP_PORT).into(), 5);
    send_frames(&pair, DEFAULT_ETHERTYPE, b"still steered", 2);
    let after = stats_when(&steering, "5 datagrams and 2 frames", |s| {
        s.passed >= start.passed + 5 && s.no_xsk_eth >= start.no_xsk_eth + 2
    });
    assert_eq!(after.matched_udp(), start.matched_udp(), "UDP not matched: {after:?}");
    assert_eq!(
        after.no_xsk_eth,
        start.no_xsk_eth + 2,
        "the Ethertype still is: {after:?}"
    );
}

#[test]
fn configured_ethertype_and_port_replace_the_defaults() {
    if !common::privileged("configured_ethertype_and_port_replace_the_defaults") {
        return;
    }
    let pair = VethPair::new();
    let custom = SteeringConfig {
        ethertype: 0x88b5,
        udp_port: 4000,
        ..SteeringConfig::default()
    };
    let steering = steer(&pair, custom);
    assert_eq!(steering.config(), custom);
    assert!(ping(&pair, VethPair::IPV4_A).status.success());
    let start = stats(&steering);

    send_frames(&pair, 0x88b5, b"custom", 2);
    send_udp(
        &pair,
        (VethPair::IPV4_A.parse::<Ipv4Addr>().expect("address"), 4000).into(),
        2,
    );
    let matched = stats_when(&steering, "custom Ethertype and port", |s| {
        s.no_xsk_eth >= start.no_xsk_eth + 2 && s.no_xsk_udp >= start.no_xsk_udp + 2
    });

    // The defaults no longer match.
    send_frames(&pair, DEFAULT_ETHERTYPE, b"default", 2);
    send_udp(
        &pair,
        (VethPair::IPV4_A.parse::<Ipv4Addr>().expect("address"), DEFAULT_UDP_PORT).into(),
        2,
    );
    let after = stats_when(&steering, "defaults pass", |s| s.passed >= matched.passed + 4);
    assert_eq!(after.no_xsk_eth, start.no_xsk_eth + 2, "{after:?}");
    assert_eq!(after.no_xsk_udp, start.no_xsk_udp + 2, "{after:?}");
}

#[test]
fn o7s_frames_for_other_addresses_or_too_long_are_dropped_and_tagged_ones_passed() {
    if !common::privileged("o7s_frames_for_other_addresses_or_too_long_are_dropped_and_tagged_ones_passed") {
        return;
    }
    let pair = VethPair::new();
    let mac_a: Vec<u8> = pair
        .a
        .mac(VethPair::DEV_A)
        .expect("MAC of o7s-a")
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).expect("hex"))
        .collect();
    let mac_a: [u8; 6] = mac_a.try_into().expect("6 octets");
    let steering = steer(
        &pair,
        SteeringConfig {
            mac: Some(mac_a),
            max_frame: 200,
            ..config(AttachMode::Auto)
        },
    );
    let before = stats(&steering);
    // eth-dix: EID then length after the Ethernet header.
    let dix = |eid: u16| [(eid >> 8) as u8, eid as u8, 0, 4, b'o', b'7', b's', b'!'];
    let to = |dst: [u8; 6], eid: u16| common::ethernet_frame_to(dst, DEFAULT_ETHERTYPE, &dix(eid));
    let mut tagged = to(mac_a, 7);
    tagged.splice(12..12, [0x81, 0x00, 0x00, 0x07]);
    let mut long = to(mac_a, 7);
    long.resize(201, 0);
    send_raw(
        &pair,
        &[
            to(mac_a, 7),
            to([0x02, 0, 0, 0, 0x77, 0x09], 7),
            to([0x01, 0, 0x5e, 0, 0, 1], 7),
            to([0xff; 6], 0),
            to([0xff; 6], 7),
            long,
            tagged,
            to(mac_a, 0),
        ],
    );
    let after = stats_when(&steering, "8 frames", |s| s.total() >= before.total() + 8);
    let delta = |f: fn(&SteeringStats) -> u64| f(&after) - f(&before);
    assert_eq!(delta(|s| s.no_xsk_eth), 3, "for a, and a name query: {after:?}");
    assert_eq!(delta(|s| s.not_for_us), 1, "{after:?}");
    assert_eq!(
        delta(|s| s.multicast_dst),
        2,
        "multicast, and a data broadcast: {after:?}"
    );
    assert_eq!(delta(|s| s.oversize), 1, "{after:?}");
    assert_eq!(delta(|s| s.vlan), 1, "{after:?}");
    // (The kernel's own traffic from b, IPv6 neighbour discovery, may be
    // passed meanwhile.)
    assert_eq!(
        delta(|s| s.passed_to_kernel() - s.passed),
        4,
        "3 o7s without a socket, 1 tagged: {after:?}"
    );
}

#[test]
fn with_llc_the_802_2_frames_are_steered_and_checked_and_the_ethertype_passed() {
    if !common::privileged("with_llc_the_802_2_frames_are_steered_and_checked_and_the_ethertype_passed") {
        return;
    }
    let pair = VethPair::new();
    let mac_a: [u8; 6] = pair
        .a
        .mac(VethPair::DEV_A)
        .expect("MAC of o7s-a")
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).expect("hex"))
        .collect::<Vec<u8>>()
        .try_into()
        .expect("6 octets");
    let steering = steer(
        &pair,
        SteeringConfig {
            mac: Some(mac_a),
            llc: true,
            ..config(AttachMode::Auto)
        },
    );
    let before = stats(&steering);
    // 802.3 length, then DSAP, SSAP (bit-reversed: SAP 1 is 0x80) and UI.
    let llc = |dst: [u8; 6], dsap: u8, ssap: u8| {
        let mut f = common::ethernet_frame_to(dst, 7, &[dsap, ssap, 0x03, b'o', b'7', b's', b'!']);
        f.truncate(60);
        f
    };
    send_raw(
        &pair,
        &[
            llc(mac_a, 0x40, 0x20),
            llc(mac_a, 0x80, 0x80),
            llc([0xff; 6], 0x80, 0x80),
            llc([0xff; 6], 0x40, 0x20),
            llc([0x02, 0, 0, 0, 0x77, 0x09], 0x40, 0x20),
            common::ethernet_frame_to(mac_a, DEFAULT_ETHERTYPE, &[0, 7, 0, 4, b'o', b'7', b's', b'!']),
        ],
    );
    let after = stats_when(&steering, "6 frames", |s| s.total() >= before.total() + 6);
    let delta = |f: fn(&SteeringStats) -> u64| f(&after) - f(&before);
    assert_eq!(
        delta(|s| s.no_xsk_eth),
        3,
        "data and management for a, and a name query: {after:?}"
    );
    assert_eq!(delta(|s| s.multicast_dst), 1, "a data broadcast: {after:?}");
    assert_eq!(delta(|s| s.not_for_us), 1, "{after:?}");
    assert!(delta(|s| s.passed) >= 1, "eth-dix is not this port's: {after:?}");
}

/// An IPv4 + UDP packet (checksums left zero: the program does not read
/// them) from 10.77.0.2 to 10.77.0.1 with `options` after the fixed header
/// and the given fragment field.
fn ipv4_udp(options: &[u8], frag_off: u16, dport: u16) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let ihl = 5 + options.len() / 4;
    let udp_len = 8 + 4;
    let total = (ihl * 4 + udp_len) as u16;
    let mut packet = vec![0x40 | ihl as u8, 0];
    packet.extend_from_slice(&total.to_be_bytes());
    packet.extend_from_slice(&[0, 1]); // identification
    packet.extend_from_slice(&frag_off.to_be_bytes());
    packet.extend_from_slice(&[64, 17, 0, 0]); // TTL, UDP, checksum
    packet.extend_from_slice(&[10, 77, 0, 2, 10, 77, 0, 1]);
    packet.extend_from_slice(options);
    packet.extend_from_slice(&4321u16.to_be_bytes());
    packet.extend_from_slice(&dport.to_be_bytes());
    packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0, b'o', b'7', b's', b'!']);
    packet
}

#[test]
fn ipv4_options_are_skipped_and_fragments_go_to_the_kernel() {
    if !common::privileged("ipv4_options_are_skipped_and_fragments_go_to_the_kernel") {
        return;
    }
    let pair = VethPair::new();
    let steering = steer(&pair, config(AttachMode::Auto));
    let before = stats(&steering);

    // Four bytes of options (NOP NOP NOP EOL): the UDP header starts at
    // ihl * 4 = 24, where a fixed 20-byte assumption would read the options.
    send_frames(&pair, 0x0800, &ipv4_udp(&[1, 1, 1, 0], 0, DEFAULT_UDP_PORT), 1);
    let matched = stats_when(&steering, "datagram with options", |s| s.no_xsk_udp > before.no_xsk_udp);
    assert_eq!(matched.no_xsk_udp, before.no_xsk_udp + 1, "{matched:?}");

    // First fragment (MF) and a later one (offset 8): the kernel reassembles.
    send_frames(&pair, 0x0800, &ipv4_udp(&[], 0x2000, DEFAULT_UDP_PORT), 1);
    send_frames(&pair, 0x0800, &ipv4_udp(&[], 1, DEFAULT_UDP_PORT), 1);
    let after = stats_when(&steering, "two fragments", |s| s.passed >= matched.passed + 2);
    assert_eq!(
        after.no_xsk_udp, matched.no_xsk_udp,
        "fragments must not be steered: {after:?}"
    );
}

#[test]
fn truncated_or_invalid_ip_headers_count_as_malformed() {
    if !common::privileged("truncated_or_invalid_ip_headers_count_as_malformed") {
        return;
    }
    let pair = VethPair::new();
    let steering = steer(&pair, config(AttachMode::Auto));
    let before = stats(&steering);

    // IPv4 Ethertype, padded with zeros: version 0, no valid header.
    send_frames(&pair, 0x0800, &[], 2);
    // IPv6 Ethertype, version nibble 4.
    send_frames(&pair, 0x86dd, &[0x45], 1);

    let after = stats_when(&steering, "3 malformed frames", |s| s.malformed >= before.malformed + 3);
    assert_eq!(after.malformed, before.malformed + 3, "{after:?}");
}

#[test]
fn register_xsk_refuses_other_sockets_and_queues_beyond_the_map() {
    if !common::privileged("register_xsk_refuses_other_sockets_and_queues_beyond_the_map") {
        return;
    }
    let pair = VethPair::new();
    let mut steering = steer(&pair, config(AttachMode::Auto));
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("UDP socket");

    let error = steering
        .register_xsk(0, &udp)
        .expect_err("a UDP socket is not an AF_XDP socket");
    assert!(matches!(error, EbpfError::Map { map: "xsks", .. }), "{error}");
    assert_eq!(error.errno(), Some(libc::EOPNOTSUPP), "{error}");

    let error = steering
        .register_xsk(MAX_QUEUES, &udp)
        .expect_err("queue beyond the map");
    assert!(
        matches!(
            error,
            EbpfError::QueueOutOfRange {
                queue: MAX_QUEUES,
                slots: MAX_QUEUES
            }
        ),
        "{error}"
    );

    // Unregistering a queue that has no socket is not an error.
    steering.unregister_xsk(0).expect("unregister an empty slot");
}

#[test]
fn a_second_program_on_the_same_interface_is_refused_with_context() {
    if !common::privileged("a_second_program_on_the_same_interface_is_refused_with_context") {
        return;
    }
    let pair = VethPair::new();
    let first = steer(&pair, config(AttachMode::Native));
    // Auto mode must not hide "busy" behind a generic-mode retry.
    let second = pair
        .a
        .enter(|| Steering::attach(VethPair::DEV_A, config(AttachMode::Auto)))
        .expect("entering namespace a");
    let error = second.expect_err("the interface is taken");
    let text = error.to_string();
    assert!(
        matches!(
            error,
            EbpfError::Attach {
                mode: ActiveMode::Native,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("o7s_steer") && text.contains(VethPair::DEV_A) && text.contains("native"),
        "{text}"
    );
    assert_eq!(error.errno(), Some(libc::EBUSY), "{text}");
    // The first one is untouched.
    let id = first.program_id().expect("program id");
    assert_eq!(xdp_on(&pair.a, VethPair::DEV_A), Some(("xdp".to_owned(), id)));
}

#[test]
fn invalid_config_is_refused_naming_the_problem() {
    // Validation happens before any kernel call: no privileges needed.
    let error = Steering::attach(
        "lo",
        SteeringConfig {
            ethertype: 0x0100,
            ..SteeringConfig::default()
        },
    )
    .expect_err("0x0100 is an 802.3 length, not an Ethertype");
    assert!(matches!(error, EbpfError::InvalidEthertype(0x0100)));
    assert!(error.to_string().contains("Ethertype 0x0100"), "{error}");

    let error = Steering::attach(
        "lo",
        SteeringConfig {
            udp_port: 0,
            ..SteeringConfig::default()
        },
    )
    .expect_err("port 0 cannot be matched");
    assert!(matches!(error, EbpfError::InvalidUdpPort));
    assert!(error.to_string().contains("UDP port 0"), "{error}");
}

#[test]
fn unknown_interface_is_reported_by_name() {
    let error = Steering::attach("o7s-nonexistent", SteeringConfig::default()).expect_err("no such interface");
    assert!(matches!(error, EbpfError::UnknownInterface { ref ifname, .. } if ifname == "o7s-nonexistent"));
    assert_eq!(error.errno(), Some(libc::ENODEV), "{error}");
    assert!(error.to_string().contains("o7s-nonexistent"), "{error}");
}
