//! Frame builders and pool helpers shared by the dataplane's integration
//! tests.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use o7s_mem::{Pool, PoolConfig};
use o7s_wire::dix;
use o7s_wire::dt::{DtHeader, DtLayout, DtRepr};
use o7s_wire::eth::{ETHERTYPE_O7S, EthRepr, MacAddr};

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
