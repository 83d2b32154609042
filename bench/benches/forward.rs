//! The per-packet decision alone: `forward::process` on one eth-dix frame,
//! with no port, ring or syscall around it.
//!
//! Run with `cargo bench -p o7s-bench --bench forward`. Each call gets a
//! fresh copy of the frame, made before the timing starts (in batches), so
//! that what is timed is the decision alone: no copy in the loop, and no
//! load waiting on a store just made (which real frames, written by the
//! NIC or the kernel long before, never do).
//!
//! | case | what the frame meets |
//! |---|---|
//! | transit | demux, DT checks, FIB lookup, next-hop rewrite: `Forward` |
//! | deliver | demux, DT checks, endpoint lookup: `Deliver` |
//! | unknown flow | the first refusal after the shim checks |
//! | udp to eth-dix | a UDP-shim datagram (EID word) in, an eth-dix frame out |
//! | eth-dix to udp | an eth-dix frame in, a UDP-shim datagram (EID word) out |
//! | application flow | an eth-dix frame on a flow straight on the shim (no DT): the shim-flow lookup, the peer check, `Deliver` |

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use o7s_dataplane::forward::{Arrival, Shim, Verdict, process};
use o7s_seam::tables::{Encap, EthDixEncap, N1Flow, NextHop, ShimFlow, ShimPeer, Tables, UdpEncap, demux_key};
use o7s_wire::dt::{DtHeader, DtLayout, DtRepr};
use o7s_wire::eth::MacAddr;
use o7s_wire::qos::QosCube;

const ME: u64 = 0x0A00_0001;
const FAR: u64 = 0x0A00_0009;
/// Reached over the UDP shim.
const FAR_UDP: u64 = 0x0A00_0042;
const PORT_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x10]);
const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x20]);
const NEXT_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x30]);
/// The port the frames arrive on.
const SHIM: Shim = Shim::EthDix {
    mac: Some(PORT_MAC),
    ethertype: 0xA000,
};
/// The UDP-shim port (2) datagrams arrive on, from its flow with EID 700.
const UDP_EID: u32 = 700;
/// Head room in front of the frame, as a pool buffer has.
const HEAD: usize = 256;
/// The EID of an application flow straight on the eth-dix shim of port 0.
const APP_EID: u16 = 4000;

fn tables() -> Tables {
    let mut t = Tables {
        address: ME,
        ..Tables::default()
    };
    let flow = |name: &str, port, dst, eid| N1Flow {
        name: name.into(),
        port,
        encap: Encap::EthDix(EthDixEncap {
            dst,
            src: PORT_MAC,
            ethertype: 0xA000,
            eid,
        }),
        cube: QosCube::BestEffort,
        up: true,
    };
    t.add_flow(flow("in", 0, PEER_MAC, 100), 100);
    let out = t.add_flow(flow("out", 1, NEXT_MAC, 300), 3);
    // A table of realistic size, not one entry.
    for dst in 0..1000u64 {
        t.set_route(QosCube::BestEffort, 0x0B00_0000 + dst, NextHop::Single(out));
    }
    t.set_route(QosCube::BestEffort, FAR, NextHop::Single(out));
    let udp = t.add_flow(
        N1Flow {
            name: "udp".into(),
            port: 2,
            encap: Encap::Udp(UdpEncap {
                peer: "10.0.0.2:3435".parse().expect("an address"),
                eid: 800,
            }),
            cube: QosCube::BestEffort,
            up: true,
        },
        UDP_EID,
    );
    t.set_route(QosCube::BestEffort, FAR_UDP, NextHop::Single(udp));
    t.endpoints.insert(70, 0);
    t.shim_flows.insert(
        demux_key(0, u32::from(APP_EID)),
        ShimFlow {
            endpoint: 1,
            peer: ShimPeer::Mac(PEER_MAC),
        },
    );
    t
}

/// The same DT packet as [`buffer`], behind the UDP shim's EID word.
fn udp_buffer(dst: u64, dt_eid: u64) -> (Vec<u8>, usize) {
    let (eth, _) = buffer(0, dst, dt_eid);
    let sdu = &eth[HEAD + 18..];
    let mut b = vec![0u8; HEAD + 4 + sdu.len()];
    b[HEAD..HEAD + 4].copy_from_slice(&UDP_EID.to_be_bytes());
    b[HEAD + 4..].copy_from_slice(sdu);
    let len = b.len() - HEAD;
    (b, len)
}

/// A buffer holding, at `HEAD`, an eth-dix frame on shim EID `shim_eid`
/// with a DT packet to `dst` for `dt_eid` and 64 octets of payload.
fn buffer(shim_eid: u16, dst: u64, dt_eid: u64) -> (Vec<u8>, usize) {
    let hl = DtLayout::DEFAULT.header_len();
    let sdu_len = hl + 64;
    let mut b = vec![0u8; HEAD + 18 + sdu_len];
    let f = &mut b[HEAD..];
    f[0..6].copy_from_slice(&PORT_MAC.0);
    f[6..12].copy_from_slice(&PEER_MAC.0);
    f[12..14].copy_from_slice(&0xA000u16.to_be_bytes());
    f[14..16].copy_from_slice(&shim_eid.to_be_bytes());
    f[16..18].copy_from_slice(&(sdu_len as u16).to_be_bytes());
    DtRepr {
        dst,
        qos: 0,
        ttl: 60,
        ecn: 0,
        eid: dt_eid,
    }
    .emit(&mut DtHeader::new_unchecked(&mut f[18..], DtLayout::DEFAULT));
    let len = b.len() - HEAD;
    (b, len)
}

fn decide(c: &mut Criterion) {
    let t = tables();
    let mut g = c.benchmark_group("forward::process");
    g.throughput(Throughput::Elements(1));
    for (name, port, shim, (pristine, len), expect) in [
        ("transit", 0, SHIM, buffer(100, FAR, 4242), "forward"),
        ("deliver", 0, SHIM, buffer(100, ME, 70), "deliver"),
        ("unknown flow", 0, SHIM, buffer(999, FAR, 4242), "drop"),
        ("udp to eth-dix", 2, Shim::Udp, udp_buffer(FAR, 4242), "forward"),
        ("eth-dix to udp", 0, SHIM, buffer(100, FAR_UDP, 4242), "forward"),
        ("application flow", 0, SHIM, buffer(APP_EID, ME, 70), "deliver"),
    ] {
        let at = Arrival { port, shim, from: None };
        let verdict = process(&t, at, &mut pristine.clone(), HEAD, len, |_| 0);
        let got = match verdict {
            Verdict::Forward { .. } => "forward",
            Verdict::Deliver { .. } => "deliver",
            Verdict::Punt(_) => "punt",
            Verdict::Drop(_) => "drop",
        };
        assert_eq!(got, expect, "{name}: {verdict:?}");
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || pristine.clone(),
                |buf| {
                    let at = Arrival {
                        shim: black_box(shim),
                        ..at
                    };
                    process(&t, at, black_box(buf), HEAD, len, |_| 0)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
