//! AF_XDP sockets whose UMEM is the o7s shared packet pool, so a frame is
//! received, forwarded and sent by moving a buffer index, never by copying
//! it in user space.
//!
//! | module | what it is |
//! |---|---|
//! | [`umem`] | the pool registered as UMEM, shared by every socket |
//! | [`socket`] | one socket on one (interface, queue): bursts over the four rings |
//! | `ring` | the rings as user space sees them (cached indices) |
//! | `lent` | which buffers the kernel holds, through which ring |
//! | `sys` | the syscalls, all of them |
//!
//! One worker thread owns a socket and one [`PoolCache`](o7s_mem::PoolCache);
//! the buffers travel like this:
//!
//! ```text
//!              user space (one worker)                 :  kernel
//!                                                      :
//!  PoolCache --alloc--> fill() ---> [ FILL ring ] -------> driver (zero-copy) or
//!     ^                                                :   the copy path: writes
//!     |                                                :   a frame into the chunk
//!     |  Vec<Buf> <-- rx_burst() <-- [ RX ring ] <---------+
//!     |     | forward / deliver / free                 :
//!     |     v                                          :
//!     |  tx_burst() ---> [ TX ring ] ----------------------> device reads the chunk
//!     |                                                :      |
//!     +--free-- complete() <-- [ COMPLETION ring ] <----------+
//! ```
//!
//! Who holds a buffer when:
//!
//! | where it is | who may touch its octets | pool owner word | socket's record |
//! |---|---|---|---|
//! | in the cache, or a `Buf` | the worker | `Held(cache slot)` | none |
//! | on the fill ring, or taken by the kernel for RX | the kernel | `Held(cache slot)` | fill bit |
//! | on the RX ring | the kernel wrote it; `rx_burst` makes it a `Buf` | `Held(cache slot)` | fill bit, cleared by `rx_burst` |
//! | on the TX ring, or in flight | the kernel reads it | `Held(cache slot)` | tx bit |
//! | on the completion ring | `complete` frees it to the cache | `Held(cache slot)` | tx bit, cleared by `complete` |
//!
//! The pool keeps counting every lent buffer as held by the cache's slot,
//! so the pool's accounting (and reclamation if the process dies) needs no
//! change; the socket's own record (`lent`) is what lets it refuse a
//! descriptor it never lent and return everything on
//! [`drain`](XskSocket::drain).
//!
//! Where a received frame lies in its chunk: the fill ring carries chunk
//! base addresses (`index * buf_size`); the kernel puts the frame after
//! `XDP_PACKET_HEADROOM` (256 octets, plus the UMEM head room, which is 0
//! here) and reports its address on the RX ring, so the frame's `Buf` has
//! `head = addr % buf_size` (256 in copy mode) and `index = addr / buf_size`.
//! The same 256 octets are the head room for the headers of lower layers.
//!
//! ```text
//!  one chunk = one pool buffer (2048 octets by default)
//! +---------------------------+------------------------------+-----------+
//! | XDP_PACKET_HEADROOM (256) | frame: RX addr points here   | tail room |
//! +---------------------------+------------------------------+-----------+
//!  ^ the address on the fill ring        max frame = 2048 - 256 = 1792
//! ```

pub mod socket;
pub mod umem;

mod lent;
mod ring;
mod sys;

pub use socket::{
    BindMode, Drained, Interface, KernelStats, Mode, XDP_PACKET_HEADROOM, XskConfig, XskInfo, XskSocket, XskStats,
};
pub use umem::Umem;

/// Errors of the AF_XDP layer.
#[derive(Debug, thiserror::Error)]
pub enum XskError {
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    #[error("interface {name}: {source}")]
    Interface {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// A kernel call failed; `hint` names the usual cause of that errno.
    #[error("AF_XDP {call} on {ifname} queue {queue}: {source}{hint}")]
    Kernel {
        call: &'static str,
        ifname: String,
        queue: u32,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl XskError {
    /// The errno of a failed kernel call, if that is what this is.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            XskError::Interface { source, .. } | XskError::Kernel { source, .. } => source.raw_os_error(),
            XskError::Config(_) => None,
        }
    }
}
