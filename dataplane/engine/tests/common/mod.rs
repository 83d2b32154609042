//! Frame builders, pool helpers and application flows over a worker,
//! shared by the dataplane's integration tests.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

use o7s_dataplane::{Command, Dataplane};
use o7s_mem::{Buf, Consumer, Pool, PoolCache, PoolConfig, Producer, Ring};
use o7s_seam::tables::{Egress, PortId, ShimFlow, ShimPeer, demux_key};
use o7s_wire::dix;
use o7s_wire::dt::{DtHeader, DtLayout, DtRepr};
use o7s_wire::eth::{ETHERTYPE_O7S, EthRepr, MacAddr};
use o7s_wire::llc::{self, LlcFrame, LlcRepr};

/// A DT packet (default layout) to `dst` with `ttl` and `eid`, then `payload`.
pub fn dt_packet(dst: u64, ttl: u8, eid: u64, payload: &[u8]) -> Vec<u8> {
    let hl = DtLayout::DEFAULT.header_len();
    let mut p = vec![0u8; hl + payload.len()];
    DtRepr {
        dst,
        qos: 0,
        ttl,
        ecn: 0,
        eid,
    }
    .emit(&mut DtHeader::new_unchecked(&mut p[..], DtLayout::DEFAULT));
    p[hl..].copy_from_slice(payload);
    p
}

/// An eth-dix frame (Ethertype 0xA000) carrying `sdu` with shim EID `eid`.
pub fn eth_dix(dst_mac: [u8; 6], src_mac: [u8; 6], eid: u16, sdu: &[u8]) -> Vec<u8> {
    let eth = EthRepr {
        dst_addr: MacAddr(dst_mac),
        src_addr: MacAddr(src_mac),
        ethertype: ETHERTYPE_O7S,
    };
    let mut f = vec![0; dix::frame_len(sdu.len())];
    dix::emit_frame(&mut f, &eth, eid, sdu).expect("an SDU an eth-dix frame holds");
    f
}

/// The DT header of an eth-dix frame.
pub fn dt_of(frame: &[u8]) -> DtHeader<&[u8]> {
    DtHeader::new_unchecked(&frame[dix::FRAME_HEADER_LEN..], DtLayout::DEFAULT)
}

/// A pool of `count` buffers of the default size for one test.
pub fn pool(name: &str, count: u32) -> Pool {
    Pool::create(
        name,
        PoolConfig {
            count,
            ..PoolConfig::default()
        },
    )
    .expect("pool")
}

/// Panics unless every buffer of `pool` is back in its free ring.
pub fn assert_all_buffers_back(pool: &Pool) {
    let stats = pool.stats();
    assert_eq!(
        (stats.free, stats.held(), stats.corrupt),
        (stats.buffers, 0, 0),
        "every pool buffer is back in the free ring"
    );
}

/// An eth-llc frame from `src_mac` to `dst_mac` (SAPs as they are, the
/// view reverses them on the wire) carrying `payload`.
pub fn eth_llc(dst_mac: [u8; 6], src_mac: [u8; 6], dsap: u8, ssap: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0; llc::HEADER_LEN + payload.len()];
    LlcRepr {
        dst_addr: MacAddr(dst_mac),
        src_addr: MacAddr(src_mac),
        dsap,
        ssap,
        control: llc::CONTROL_UI,
        payload_len: payload.len() as u16,
    }
    .emit(&mut LlcFrame::new_unchecked(&mut f[..]))
    .expect("a payload an eth-llc frame holds");
    f[llc::HEADER_LEN..].copy_from_slice(payload);
    f
}

/// How long a worker may take to acknowledge a change.
pub const ACK: Duration = Duration::from_secs(5);

/// Where a flow straight on a shim runs in worker 0, as irmd sets it up:
/// frames arriving on `port` with `rx_eid` from `peer` go to endpoint
/// ring `endpoint`; what the application writes leaves by `egress`,
/// through source ring `source`.
#[derive(Debug, Clone, Copy)]
pub struct FlowAt {
    pub port: PortId,
    pub rx_eid: u32,
    pub peer: ShimPeer,
    pub endpoint: u32,
    pub source: u32,
    pub egress: Egress,
}

/// An application's ends of a flow straight on a shim: it writes SDUs to
/// `tx` (the worker's source ring) and reads them from `rx` (the worker's
/// endpoint ring).
#[derive(Debug)]
pub struct AppFlow {
    pub tx: Producer,
    pub rx: Consumer,
}

/// Sets up the flow `at` in worker 0 of `dp` for an application whose
/// buffers come from `cache` (rings of `capacity` entries); with `kick`,
/// its writes wake the worker. Returns once the worker took it.
pub fn attach_app_flow(dp: &Dataplane, cache: &PoolCache, at: FlowAt, capacity: u32, kick: bool) -> AppFlow {
    let rx_ring = Ring::create("test-flow-rx", capacity).expect("ring");
    let tx_ring = Ring::create("test-flow-tx", capacity).expect("ring");
    let rx = rx_ring.consumer(cache.slot()).expect("consumer");
    dp.apply(
        0,
        Command::SetEndpoint {
            index: at.endpoint,
            ring: Some(rx_ring.producer().expect("producer")),
        },
    )
    .expect("endpoint");
    let tx = inject_ring(dp, tx_ring, at.source, at.egress, kick);
    dp.update(|t| {
        t.shim_flows.insert(
            demux_key(at.port, at.rx_eid),
            ShimFlow {
                endpoint: at.endpoint,
                peer: at.peer,
            },
        );
    });
    dp.sync(ACK).expect("tables acknowledged");
    AppFlow { tx, rx }
}

/// Has worker 0 of `dp` send what comes on `ring` (source `source`) out
/// of `egress`; returns the producer, which kicks the worker if `kick`.
pub fn inject_ring(dp: &Dataplane, ring: Ring, source: u32, egress: Egress, kick: bool) -> Producer {
    let mut tx = ring.producer().expect("producer");
    if kick {
        tx.set_kick(dp.kick_fd(0).expect("the worker's eventfd"));
    }
    dp.apply(
        0,
        Command::AddSource {
            index: source,
            ring,
            egress,
        },
    )
    .expect("source");
    tx
}

/// Writes each of `payloads` into a buffer of `cache` with the pool's head
/// room in front and pushes it on `ring`; returns how many went (the ring
/// may be full).
pub fn push(cache: &mut PoolCache, ring: &mut Producer, payloads: &[&[u8]]) -> usize {
    let mut bufs: Vec<Buf> = payloads
        .iter()
        .map(|p| {
            let mut b = cache.alloc().expect("buffer");
            b.append(p.len()).expect("fits");
            cache.pool().data_mut(&mut b).copy_from_slice(p);
            b
        })
        .collect();
    let sent = cache.send(ring, &mut bufs);
    cache.free_burst(&mut bufs);
    sent
}

/// Takes whatever waits on `ring`, as octets.
pub fn take(cache: &mut PoolCache, ring: &mut Consumer) -> Vec<Vec<u8>> {
    let mut bufs = Vec::new();
    let mut got = Vec::new();
    while cache.recv(ring, &mut bufs, 64) > 0 {
        for b in bufs.drain(..) {
            got.push(cache.pool().data(&b).to_vec());
            cache.free(b);
        }
    }
    got
}
