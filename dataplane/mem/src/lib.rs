//! Packet memory shared by every o7s process: a pool of fixed-size buffers
//! in one memfd (2 MiB hugepages when the system has them), rings that pass
//! buffers between processes without copying, and accounting of who holds
//! each buffer so that a dead process's buffers come back.
//!
//! | module | what it is |
//! |---|---|
//! | [`pool`] | the pool, per-thread caches, reclamation, statistics |
//! | [`free_ring`] | the shared free ring and the owner table (death-safe) |
//! | [`ring`] | SPSC descriptor rings with optional futex sleep |
//! | [`buf`] | buffer tokens and ring descriptors |
//! | [`handoff`] | passing a pool and rings to another process |
//! | [`shm`] | memfd regions and typed views into them |
//! | [`sys`] | the syscalls, all of them |
//!
//! ```text
//!  process A (owner)                        process B (attached)
//!  PoolCache ──alloc── Pool ◄─memfd fd──► Pool ──free── PoolCache
//!      │  send: owner word := B's slot          ▲ recv: checks index,
//!      └────────► Ring (memfd) ─────────────────┘ bounds and owner word
//! ```
//!
//! `unsafe` lives in `sys`, `shm` and `pool` only, each block with its
//! `// SAFETY:` reason.

pub mod buf;
mod free_ring;
pub mod handoff;
pub mod pool;
pub mod ring;
pub mod shm;
pub mod sys;

pub use buf::{Buf, Desc, NoRoom};
pub use free_ring::SlotId;
pub use pool::{
    CacheShape, CacheStats, DescError, MAX_SLOTS, Pool, PoolCache, PoolConfig, PoolStats, Reclaimed, SlotUsage,
};
pub use ring::{Consumer, Doorbell, Producer, Ring, Wait, wait_any};
pub use shm::{Backing, PageKind};

/// Errors of the packet memory.
#[derive(Debug, thiserror::Error)]
pub enum MemError {
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    #[error("shared memory: {0}")]
    Io(#[source] std::io::Error),
    #[error("not a valid region: {0}")]
    BadRegion(&'static str),
    #[error("no free pool slot (raise max_slots)")]
    NoSlot,
    #[error("that end of the ring is already taken")]
    RoleTaken,
}
