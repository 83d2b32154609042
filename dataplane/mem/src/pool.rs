//! The packet pool: fixed-size buffers in one shared memfd.
//!
//! ```text
//!  offset 0      4 KiB                                         aligned to buf_size
//! +-------------+---------+-------------+-------------+-------+----------------------+
//! | header      | ring    | ring cells  | owner table | slot  | buffers              |
//! | (geometry)  | control | u32 x cap   | u64 x count | table | buf_size x count     |
//! +-------------+---------+-------------+-------------+-------+----------------------+
//! ```
//!
//! The creator (the dataplane, or irmd) owns the pool and passes its fd to
//! other processes, which [`Pool::attach`] it. Every thread that allocates
//! or frees takes a [`PoolCache`], which claims a *slot* in the slot table
//! naming its process. The buffer area doubles as the AF_XDP UMEM: its
//! base is aligned to the buffer size and every buffer is one UMEM chunk.
//!
//! An attaching process does not trust the header: it recomputes the
//! layout from the geometry fields and refuses the region unless offsets
//! and length agree, and it keeps its own copy of the geometry afterwards.
#![allow(unsafe_code)]

use std::os::fd::{BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::buf::{Buf, Desc};
use crate::free_ring::{CONTROL_WORDS, FreeRing, Owner, SlotId};
use crate::shm::{Backing, PageKind, Region, SharedSlice};
use crate::{MemError, sys};

const MAGIC: u64 = u64::from_be_bytes(*b"o7spool\0");
const VERSION: u64 = 1;
const HEADER_SIZE: usize = 4096;

/// Header word indices.
mod hdr {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 1;
    pub const BUF_SIZE: usize = 2;
    pub const COUNT: usize = 3;
    pub const HEADROOM: usize = 4;
    pub const MAX_SLOTS: usize = 5;
    pub const TOTAL_LEN: usize = 6;
    pub const CREATOR_PID: usize = 7;
    pub const WORDS: usize = 8;
}

/// Slot table: four words per slot.
mod slot {
    /// state in bits 0..8, pid in bits 32..64
    pub const STATE_PID: usize = 0;
    /// process start time, clock ticks since boot
    pub const START: usize = 1;
    /// when the reclaimer found the process dead, ms since the UNIX epoch
    pub const DEAD_SINCE: usize = 2;
    pub const WORDS: usize = 4;

    pub const FREE: u64 = 0;
    pub const CLAIMING: u64 = 1;
    pub const ACTIVE: u64 = 2;
    pub const DEAD: u64 = 3;
}

/// How long a dead slot stays reserved and rescanned, so that buffers a
/// live producer hands to a dead consumer just after the first scan are
/// still found.
const SLOT_QUARANTINE_MS: u64 = 1000;

/// Buffers a cache keeps, and moves to or from the shared ring at once.
pub const CACHE_SIZE: usize = 512;
pub const CACHE_BATCH: usize = 64;

/// The most caches a pool can have ([`PoolConfig::max_slots`]): slot ids
/// are 14 bits in a buffer's owner word.
pub const MAX_SLOTS: u16 = 0x3FFF;

/// Size and shape of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Octets per buffer: a power of two, 2048..=32768 (AF_XDP chunk sizes).
    pub buf_size: usize,
    /// Number of buffers.
    pub count: u32,
    /// Octets left free before a received or written packet, for the
    /// headers of the layers below.
    pub headroom: usize,
    /// Caches (threads) that can use the pool at once, over all processes.
    pub max_slots: u16,
    pub backing: Backing,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            buf_size: 2048,
            count: 16384,
            headroom: 256,
            max_slots: 256,
            backing: Backing::Auto,
        }
    }
}

/// Where everything lies in the region; a pure function of the config so
/// an attaching process can recompute and check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    buf_size: usize,
    count: usize,
    headroom: usize,
    max_slots: usize,
    ring_cap: usize,
    control: usize,
    cells: usize,
    owners: usize,
    slots: usize,
    bufs: usize,
    len: usize,
}

fn align_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

impl Layout {
    fn new(buf_size: usize, count: usize, headroom: usize, max_slots: usize) -> Result<Layout, MemError> {
        if !buf_size.is_power_of_two() || !(2048..=32768).contains(&buf_size) {
            return Err(MemError::Config(
                "buffer size must be a power of two from 2048 to 32768 octets",
            ));
        }
        if count == 0 || count > 1 << 24 {
            return Err(MemError::Config("buffer count must be between 1 and 16777216"));
        }
        if headroom >= buf_size {
            return Err(MemError::Config("head room must be smaller than the buffer size"));
        }
        if max_slots == 0 || max_slots > usize::from(MAX_SLOTS) {
            return Err(MemError::Config("slot count must be between 1 and 16383"));
        }
        let ring_cap = count.next_power_of_two();
        let control = HEADER_SIZE;
        let cells = control + 8 * CONTROL_WORDS;
        let owners = align_up(cells + 4 * ring_cap, 64);
        let slots = align_up(owners + 8 * count, 64);
        let bufs = align_up(slots + 8 * slot::WORDS * max_slots, buf_size.max(4096));
        let len = bufs + buf_size * count;
        Ok(Layout {
            buf_size,
            count,
            headroom,
            max_slots,
            ring_cap,
            control,
            cells,
            owners,
            slots,
            bufs,
            len,
        })
    }
}

struct Inner {
    region: Arc<Region>,
    layout: Layout,
    header: SharedSlice<AtomicU64>,
    ring: FreeRing,
    slots: SharedSlice<AtomicU64>,
    bufs: NonNull<u8>,
}

// SAFETY: `bufs` points into the mapping `region` keeps alive; access to a
// buffer's octets is governed by `Buf` tokens, which are not Clone, so
// sharing the pointer between threads creates no aliasing by itself.
unsafe impl Send for Inner {}
// SAFETY: as above.
unsafe impl Sync for Inner {}

/// A handle to a packet pool, cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = &self.inner.layout;
        f.debug_struct("Pool")
            .field("buf_size", &l.buf_size)
            .field("count", &l.count)
            .field("pages", &self.inner.region.pages())
            .finish()
    }
}

impl Pool {
    /// Creates a pool; its buffers all start free.
    pub fn create(name: &str, config: PoolConfig) -> Result<Pool, MemError> {
        let layout = Layout::new(
            config.buf_size,
            config.count as usize,
            config.headroom,
            usize::from(config.max_slots),
        )?;
        let region = Region::create(name, layout.len, config.backing)?;
        let pool = Pool::map(Arc::new(region), layout)?;
        let h = &pool.inner.header;
        for (i, v) in [
            (hdr::VERSION, VERSION),
            (hdr::BUF_SIZE, layout.buf_size as u64),
            (hdr::COUNT, layout.count as u64),
            (hdr::HEADROOM, layout.headroom as u64),
            (hdr::MAX_SLOTS, layout.max_slots as u64),
            (hdr::TOTAL_LEN, layout.len as u64),
            (hdr::CREATOR_PID, sys::getpid() as u64),
        ] {
            h[i].store(v, Ordering::Relaxed);
        }
        pool.inner.ring.init_full();
        h[hdr::MAGIC].store(MAGIC, Ordering::Release);
        tracing::info!(
            name,
            buffers = layout.count,
            buf_size = layout.buf_size,
            headroom = layout.headroom,
            mib = layout.len >> 20,
            pages = %pool.pages(),
            "packet pool created"
        );
        Ok(pool)
    }

    /// Maps a pool another process created, from its fd.
    pub fn attach(fd: OwnedFd) -> Result<Pool, MemError> {
        let region = Arc::new(Region::attach(fd)?);
        let header: SharedSlice<AtomicU64> = SharedSlice::new(&region, 0, hdr::WORDS)?;
        let word = |i: usize| header[i].load(Ordering::Acquire);
        if word(hdr::MAGIC) != MAGIC || word(hdr::VERSION) != VERSION {
            return Err(MemError::BadRegion("not an o7s packet pool of this version"));
        }
        let field = |i: usize| usize::try_from(word(i)).map_err(|_| MemError::BadRegion("geometry out of range"));
        let layout = Layout::new(
            field(hdr::BUF_SIZE)?,
            field(hdr::COUNT)?,
            field(hdr::HEADROOM)?,
            field(hdr::MAX_SLOTS)?,
        )
        .map_err(|_| MemError::BadRegion("invalid geometry"))?;
        if field(hdr::TOTAL_LEN)? != layout.len || region.len() < layout.len {
            return Err(MemError::BadRegion("region size does not match its geometry"));
        }
        let pool = Pool::map(region, layout)?;
        tracing::debug!(buffers = layout.count, pages = %pool.pages(), "packet pool attached");
        Ok(pool)
    }

    fn map(region: Arc<Region>, layout: Layout) -> Result<Pool, MemError> {
        let header = SharedSlice::new(&region, 0, hdr::WORDS)?;
        let ring = FreeRing::new(
            SharedSlice::new(&region, layout.control, CONTROL_WORDS)?,
            SharedSlice::new(&region, layout.cells, layout.ring_cap)?,
            SharedSlice::new(&region, layout.owners, layout.count)?,
        );
        let slots = SharedSlice::new(&region, layout.slots, slot::WORDS * layout.max_slots)?;
        if layout.len > region.len() {
            return Err(MemError::BadRegion("buffers outside the region"));
        }
        // SAFETY: layout.bufs + buf_size * count = layout.len <= region.len(),
        // checked just above, so the buffer area lies inside the mapping.
        let bufs = unsafe { region.as_ptr().add(layout.bufs) };
        let bufs = NonNull::new(bufs).ok_or(MemError::BadRegion("null mapping"))?;
        Ok(Pool {
            inner: Arc::new(Inner {
                region,
                layout,
                header,
                ring,
                slots,
                bufs,
            }),
        })
    }

    /// The fd to pass to a process that should attach.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.region.fd()
    }

    pub fn pages(&self) -> PageKind {
        self.inner.region.pages()
    }

    pub fn buf_size(&self) -> usize {
        self.inner.layout.buf_size
    }

    pub fn count(&self) -> u32 {
        self.inner.layout.count as u32
    }

    pub fn headroom(&self) -> usize {
        self.inner.layout.headroom
    }

    /// The buffer area (base, octets): what AF_XDP registers as UMEM.
    pub fn buffer_area(&self) -> (NonNull<u8>, usize) {
        (self.inner.bufs, self.inner.layout.buf_size * self.inner.layout.count)
    }

    /// Pid of the process that created the pool.
    pub fn creator_pid(&self) -> i32 {
        self.inner.header[hdr::CREATOR_PID].load(Ordering::Relaxed) as i32
    }

    pub(crate) fn ring(&self) -> &FreeRing {
        &self.inner.ring
    }

    fn buf_ptr(&self, idx: u32) -> *mut u8 {
        debug_assert!((idx as usize) < self.inner.layout.count);
        // SAFETY: idx < count (every Buf is made from a checked index), so
        // the offset stays inside the buffer area.
        unsafe { self.inner.bufs.as_ptr().add(idx as usize * self.inner.layout.buf_size) }
    }

    /// The packet octets of `buf`.
    pub fn data<'a>(&'a self, buf: &'a Buf) -> &'a [u8] {
        // SAFETY: the Buf token is this process's only handle to the
        // buffer, and [head, head+len) lies inside it (Buf keeps
        // head+len <= size = buf_size). Other processes do not write a
        // buffer they do not hold.
        unsafe { std::slice::from_raw_parts(self.buf_ptr(buf.idx).add(buf.head()), buf.len()) }
    }

    /// The packet octets of `buf`, writable.
    pub fn data_mut<'a>(&'a self, buf: &'a mut Buf) -> &'a mut [u8] {
        // SAFETY: as in `data`; `&mut Buf` makes this the only live
        // reference to the buffer in this process.
        unsafe { std::slice::from_raw_parts_mut(self.buf_ptr(buf.idx).add(buf.head()), buf.len()) }
    }

    /// The whole buffer of `buf`, head and tail room included.
    pub fn buffer_mut<'a>(&'a self, buf: &'a mut Buf) -> &'a mut [u8] {
        // SAFETY: as in `data_mut`, over the buffer's full size.
        unsafe { std::slice::from_raw_parts_mut(self.buf_ptr(buf.idx), self.inner.layout.buf_size) }
    }

    fn new_buf(&self, idx: u32) -> Buf {
        let l = &self.inner.layout;
        Buf {
            idx,
            head: l.headroom as u16,
            len: 0,
            size: l.buf_size as u16,
        }
    }

    /// Turns a descriptor from a ring into a buffer held by `slot`, if it
    /// names a real buffer, lies inside it, and was handed to `slot`.
    pub(crate) fn claim_desc(&self, desc: Desc, slot: SlotId) -> Result<Buf, DescError> {
        let l = &self.inner.layout;
        let idx = desc.index();
        if idx as usize >= l.count {
            return Err(DescError::BadIndex);
        }
        if usize::from(desc.head()) + usize::from(desc.len()) > l.buf_size {
            return Err(DescError::BadBounds);
        }
        if self.ring().owner(idx).load(Ordering::Acquire) != Owner::Held(slot).encode() {
            return Err(DescError::NotHanded);
        }
        Ok(Buf {
            idx,
            head: desc.head(),
            len: desc.len(),
            size: l.buf_size as u16,
        })
    }

    fn slot_word(&self, s: SlotId, w: usize) -> &AtomicU64 {
        &self.inner.slots[(usize::from(s) - 1) * slot::WORDS + w]
    }

    fn claim_slot(&self) -> Result<SlotId, MemError> {
        let pid = sys::getpid();
        let (start, _) = sys::process_identity(pid).ok_or(MemError::BadRegion("cannot read own /proc entry"))?;
        for s in 1..=self.inner.layout.max_slots as SlotId {
            let w = self.slot_word(s, slot::STATE_PID);
            let claiming = slot::CLAIMING | (pid as u64) << 32;
            if w.compare_exchange(slot::FREE, claiming, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.slot_word(s, slot::START).store(start, Ordering::Relaxed);
                w.store(slot::ACTIVE | (pid as u64) << 32, Ordering::Release);
                return Ok(s);
            }
        }
        Err(MemError::NoSlot)
    }

    fn release_slot(&self, s: SlotId) {
        self.slot_word(s, slot::STATE_PID).store(slot::FREE, Ordering::Release);
    }

    /// Buffers whose owner word names `s` as holder.
    fn held_by(&self, s: SlotId) -> usize {
        let held = Owner::Held(s).encode();
        self.ring()
            .owners()
            .iter()
            .filter(|o| o.load(Ordering::Relaxed) == held)
            .count()
    }

    /// A cache for the calling thread, shaped for a worker
    /// ([`CacheShape::WORKER`]); claims a slot.
    pub fn cache(&self) -> Result<PoolCache, MemError> {
        self.cache_shaped(CacheShape::WORKER)
    }

    /// A cache of the given shape; claims a slot.
    pub fn cache_shaped(&self, shape: CacheShape) -> Result<PoolCache, MemError> {
        let slot = self.claim_slot()?;
        let batch = shape.batch.clamp(1, CACHE_BATCH);
        Ok(PoolCache {
            pool: self.clone(),
            slot,
            stack: Vec::with_capacity(shape.keep.max(batch)),
            keep: shape.keep.max(batch),
            batch,
            stats: CacheStats::default(),
        })
    }

    /// Counts by owner, from a scan of the owner table (not for the packet
    /// path: O(buffers)).
    pub fn stats(&self) -> PoolStats {
        let mut by_slot = std::collections::BTreeMap::<SlotId, u32>::new();
        let mut corrupt = 0;
        for o in self.ring().owners() {
            match Owner::decode(o.load(Ordering::Relaxed)) {
                Owner::Held(s) => *by_slot.entry(s).or_default() += 1,
                Owner::Corrupt => corrupt += 1,
                Owner::InRing | Owner::Freeing(..) => {}
            }
        }
        let slots = by_slot
            .into_iter()
            .map(|(slot, held)| {
                let word = self.slot_word(slot, slot::STATE_PID).load(Ordering::Relaxed);
                SlotUsage {
                    slot,
                    pid: (word >> 32) as i32,
                    dead: word & 0xFF == slot::DEAD,
                    held,
                }
            })
            .collect();
        PoolStats {
            buffers: self.count(),
            free: self.ring().len(),
            corrupt,
            slots,
            pages: self.pages(),
            buf_size: self.buf_size(),
        }
    }
}

/// Why a ring descriptor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DescError {
    #[error("buffer index outside the pool")]
    BadIndex,
    #[error("packet extends past the end of its buffer")]
    BadBounds,
    #[error("buffer was not handed to this receiver")]
    NotHanded,
}

/// Pool occupancy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    pub buffers: u32,
    /// In the shared free ring (not counting buffers in caches).
    pub free: u32,
    /// Owner words no correct process writes.
    pub corrupt: u32,
    /// Slots that hold buffers (in caches, in use, or in flight to them).
    pub slots: Vec<SlotUsage>,
    pub pages: PageKind,
    pub buf_size: usize,
}

impl PoolStats {
    pub fn held(&self) -> u32 {
        self.slots.iter().map(|s| s.held).sum()
    }

    /// Buffers held by slots of process `pid`.
    pub fn held_by_pid(&self, pid: i32) -> u32 {
        self.slots.iter().filter(|s| s.pid == pid).map(|s| s.held).sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotUsage {
    pub slot: SlotId,
    pub pid: i32,
    pub dead: bool,
    pub held: u32,
}

/// What one reclamation pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reclaimed {
    /// Slots newly found dead.
    pub dead_slots: u32,
    /// Buffers returned to the free ring.
    pub buffers: u32,
    /// Free-ring operations rolled back.
    pub aborted_ops: u32,
    /// Dead slots released for reuse.
    pub released_slots: u32,
}

/// Per-cache counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub alloc_fail: u64,
    /// Descriptors refused on receive, by reason.
    pub bad_index: u64,
    pub bad_bounds: u64,
    pub not_handed: u64,
}

/// How many buffers a cache keeps in front of the shared free ring, and
/// how many it moves to or from the ring at once. What a cache keeps is
/// what no one else can use: a worker keeps many (it allocates and frees
/// at line rate), an application flow's end only one, so that a thousand
/// flows leave the pool to the flows that carry traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheShape {
    /// Most buffers kept.
    pub keep: usize,
    /// Buffers moved per ring operation (at most [`CACHE_BATCH`]).
    pub batch: usize,
}

impl CacheShape {
    /// A dataplane worker's: up to [`CACHE_SIZE`] kept, [`CACHE_BATCH`] at
    /// a time.
    pub const WORKER: CacheShape = CacheShape {
        keep: CACHE_SIZE,
        batch: CACHE_BATCH,
    };
    /// One direction of one application flow: one buffer at a time.
    pub const FLOW: CacheShape = CacheShape { keep: 1, batch: 1 };
}

/// One thread's allocator: a stack of buffers in front of the shared free
/// ring, so allocating and freeing touch no shared state except once per
/// batch of its [`CacheShape`].
#[derive(Debug)]
pub struct PoolCache {
    pool: Pool,
    slot: SlotId,
    stack: Vec<u32>,
    keep: usize,
    batch: usize,
    stats: CacheStats,
}

impl PoolCache {
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The slot this cache holds buffers under.
    pub fn slot(&self) -> SlotId {
        self.slot
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    fn refill(&mut self) -> bool {
        let mut batch = [0u32; CACHE_BATCH];
        let n = self.pool.ring().pop(self.slot, &mut batch[..self.batch]);
        self.stack.extend_from_slice(&batch[..n]);
        n > 0
    }

    fn flush(&mut self, keep: usize) {
        if self.stack.len() > keep {
            self.pool.ring().push(self.slot, &self.stack[keep..]);
            self.stack.truncate(keep);
        }
    }

    /// A free buffer with the pool's head room and no data, or `None` when
    /// the pool is exhausted.
    pub fn alloc(&mut self) -> Option<Buf> {
        if self.stack.is_empty() && !self.refill() {
            self.stats.alloc_fail += 1;
            return None;
        }
        self.stack.pop().map(|idx| self.pool.new_buf(idx))
    }

    /// Appends up to `n` buffers to `out`; returns how many.
    pub fn alloc_burst(&mut self, out: &mut Vec<Buf>, n: usize) -> usize {
        let mut got = 0;
        while got < n {
            if self.stack.is_empty() && !self.refill() {
                self.stats.alloc_fail += 1;
                break;
            }
            let take = (n - got).min(self.stack.len());
            let from = self.stack.len() - take;
            out.extend(self.stack.drain(from..).map(|idx| self.pool.new_buf(idx)));
            got += take;
        }
        got
    }

    /// Gives a buffer back.
    pub fn free(&mut self, buf: Buf) {
        // A buffer received from another cache of this process is accounted
        // to that cache's slot; take it over so the count stays exact.
        let owner = self.pool.ring().owner(buf.idx);
        let held = Owner::Held(self.slot).encode();
        if owner.load(Ordering::Relaxed) != held {
            owner.store(held, Ordering::Relaxed);
        }
        if self.stack.len() >= self.keep {
            self.flush(self.keep - self.batch);
        }
        self.stack.push(buf.idx);
    }

    /// Gives back every buffer in `bufs`, leaving it empty.
    pub fn free_burst(&mut self, bufs: &mut Vec<Buf>) {
        for buf in bufs.drain(..) {
            self.free(buf);
        }
    }

    /// Takes back a buffer this cache's slot handed to a device as a
    /// [`Desc`] (see [`Buf::into_desc`]), after checking that the device
    /// named a real buffer, within bounds, that this slot holds.
    pub fn claim(&mut self, desc: Desc) -> Result<Buf, DescError> {
        let claimed = self.pool.claim_desc(desc, self.slot);
        match claimed {
            Err(DescError::BadIndex) => self.stats.bad_index += 1,
            Err(DescError::BadBounds) => self.stats.bad_bounds += 1,
            Err(DescError::NotHanded) => self.stats.not_handed += 1,
            Ok(_) => {}
        }
        claimed
    }

    /// Gives `buf` to a device as a [`Desc`], like [`Buf::into_desc`], but
    /// first makes this cache's slot its holder if another cache of this
    /// process held it (a frame received on one worker and sent by
    /// another), so that [`claim`](Self::claim) on this cache takes it back
    /// when the device returns it.
    pub fn lend(&mut self, buf: Buf) -> Desc {
        let owner = self.pool.ring().owner(buf.idx);
        let held = Owner::Held(self.slot).encode();
        if owner.load(Ordering::Relaxed) != held {
            owner.store(held, Ordering::Relaxed);
        }
        buf.into_desc()
    }

    /// Buffers sitting in this cache.
    pub fn cached(&self) -> usize {
        self.stack.len()
    }

    /// Moves buffers from the front of `bufs` into the ring, handing each to
    /// the ring's consumer; returns how many went (the ring may be full, or
    /// have no consumer yet, or be closed).
    pub fn send(&mut self, ring: &mut crate::ring::Producer, bufs: &mut Vec<Buf>) -> usize {
        let to = ring.consumer_slot();
        if to == 0 || ring.is_closed() {
            return 0;
        }
        let held = Owner::Held(to).encode();
        let mut sent = 0;
        while sent < bufs.len() {
            let mut descs = [Desc(0); CACHE_BATCH];
            let chunk = &bufs[sent..bufs.len().min(sent + CACHE_BATCH)];
            let room = ring.free_entries().min(chunk.len());
            if room == 0 {
                break;
            }
            for (d, buf) in descs.iter_mut().zip(&chunk[..room]) {
                self.pool.ring().owner(buf.idx).store(held, Ordering::Relaxed);
                *d = buf.desc();
            }
            let pushed = ring.push_slice(&descs[..room]);
            debug_assert_eq!(pushed, room, "single producer: free entries cannot shrink");
            sent += pushed;
        }
        bufs.drain(..sent);
        sent
    }

    /// Receives up to `max` buffers from the ring into `out`. Descriptors
    /// that do not check out are dropped and counted by reason.
    pub fn recv(&mut self, ring: &mut crate::ring::Consumer, out: &mut Vec<Buf>, max: usize) -> usize {
        let mut got = 0;
        while got < max {
            let mut descs = [Desc(0); CACHE_BATCH];
            let want = (max - got).min(CACHE_BATCH);
            let n = ring.pop_slice(&mut descs[..want]);
            if n == 0 {
                break;
            }
            for &d in &descs[..n] {
                if let Ok(buf) = self.claim(d) {
                    out.push(buf);
                    got += 1;
                }
            }
        }
        got
    }

    /// Finds slots whose process died and returns their buffers to the free
    /// ring, rolling back any ring operation they left half done. Run it
    /// from the pool owner's control thread, periodically and whenever a
    /// process is known to have exited.
    pub fn reclaim_dead(&mut self) -> Reclaimed {
        let mut done = Reclaimed::default();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        for s in 1..=self.pool.inner.layout.max_slots as SlotId {
            if s == self.slot {
                continue;
            }
            let state_word = self.pool.slot_word(s, slot::STATE_PID);
            let word = state_word.load(Ordering::Acquire);
            let pid = (word >> 32) as i32;
            match word & 0xFF {
                slot::ACTIVE => {
                    let start = self.pool.slot_word(s, slot::START).load(Ordering::Relaxed);
                    if sys::process_alive(pid, start) {
                        continue;
                    }
                    let dead = slot::DEAD | (pid as u64) << 32;
                    if state_word
                        .compare_exchange(word, dead, Ordering::AcqRel, Ordering::Relaxed)
                        .is_err()
                    {
                        continue;
                    }
                    self.pool
                        .slot_word(s, slot::DEAD_SINCE)
                        .store(now_ms, Ordering::Relaxed);
                    done.dead_slots += 1;
                }
                slot::DEAD => {}
                _ => continue,
            }
            let found = self.reclaim_slot(s, &mut done);
            let since = self.pool.slot_word(s, slot::DEAD_SINCE).load(Ordering::Relaxed);
            if found == 0 && now_ms.saturating_sub(since) >= SLOT_QUARANTINE_MS {
                self.pool.release_slot(s);
                done.released_slots += 1;
            }
            if found > 0 {
                tracing::info!(slot = s, pid, buffers = found, "reclaimed buffers of a dead process");
            }
        }
        done
    }

    fn reclaim_slot(&mut self, s: SlotId, done: &mut Reclaimed) -> u32 {
        let ring = self.pool.ring();
        let aborted = ring.abort(s);
        done.aborted_ops += u32::from(aborted.push_tag.is_some()) + u32::from(aborted.pop_entries > 0);
        let mut batch = Vec::with_capacity(CACHE_BATCH);
        let mut found = 0;
        for (idx, owner) in ring.owners().iter().enumerate() {
            if FreeRing::is_orphan(owner.load(Ordering::Acquire), s, aborted.push_tag) {
                batch.push(idx as u32);
                if batch.len() == CACHE_BATCH {
                    ring.push(self.slot, &batch);
                    found += batch.len() as u32;
                    batch.clear();
                }
            }
        }
        ring.push(self.slot, &batch);
        found += batch.len() as u32;
        done.buffers += found;
        found
    }
}

impl Drop for PoolCache {
    fn drop(&mut self) {
        self.flush(0);
        // Buffers this slot still holds (Bufs moved to other threads, or in
        // flight to it) keep it claimed; the reclaimer frees them with the
        // process.
        if self.pool.held_by(self.slot) == 0 {
            self.pool.release_slot(self.slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PoolConfig {
        PoolConfig {
            count: 1000,
            backing: Backing::Base,
            ..PoolConfig::default()
        }
    }

    #[test]
    fn layout_refuses_bad_geometry_with_a_reason() {
        for (size, count, head) in [
            (3000, 10, 0),
            (1024, 10, 0),
            (65536, 10, 0),
            (2048, 0, 0),
            (2048, 10, 2048),
        ] {
            assert!(
                matches!(Layout::new(size, count, head, 4), Err(MemError::Config(_))),
                "{size} {count} {head}"
            );
        }
        let l = Layout::new(2048, 1000, 256, 8).unwrap();
        assert_eq!(l.bufs % 4096, 0, "UMEM chunks must be aligned");
        assert_eq!(l.ring_cap, 1024);
        assert_eq!(l.len, l.bufs + 2048 * 1000);
    }

    #[test]
    fn allocated_buffers_are_distinct_and_all_come_back() {
        let pool = Pool::create("pool-test", small()).unwrap();
        let mut cache = pool.cache().unwrap();
        let mut bufs = Vec::new();
        while let Some(b) = cache.alloc() {
            bufs.push(b);
        }
        assert_eq!(bufs.len(), 1000);
        assert_eq!(cache.stats().alloc_fail, 1);
        let mut idx: Vec<u32> = bufs.iter().map(Buf::index).collect();
        idx.sort_unstable();
        idx.dedup();
        assert_eq!(idx.len(), 1000);
        assert_eq!(pool.stats().held(), 1000);
        cache.free_burst(&mut bufs);
        drop(cache);
        let stats = pool.stats();
        assert_eq!((stats.free, stats.held()), (1000, 0));
    }

    #[test]
    fn many_flow_shaped_caches_keep_the_pool_for_the_one_that_works() {
        // 600 idle flow ends that each passed buffers through, and one
        // busy one: the busy one still gets every buffer but the few the
        // idle ones keep (one each at most).
        let pool = Pool::create(
            "pool-test",
            PoolConfig {
                max_slots: 1024,
                ..small()
            },
        )
        .unwrap();
        let mut idle: Vec<PoolCache> = (0..600).map(|_| pool.cache_shaped(CacheShape::FLOW).unwrap()).collect();
        for c in &mut idle {
            let a = c.alloc().unwrap();
            let b = c.alloc().unwrap();
            c.free(a);
            c.free(b);
            assert!(c.cached() <= 1, "{}", c.cached());
        }
        let mut busy = pool.cache_shaped(CacheShape::FLOW).unwrap();
        let mut got = Vec::new();
        while let Some(b) = busy.alloc() {
            got.push(b);
        }
        assert!(got.len() >= 1000 - 600, "{}", got.len());
        busy.free_burst(&mut got);
        assert!(busy.cached() <= 1);

        // A worker-shaped cache, by contrast, keeps what it frees.
        let mut worker = pool.cache().unwrap();
        let mut bufs = Vec::new();
        worker.alloc_burst(&mut bufs, 100);
        worker.free_burst(&mut bufs);
        assert_eq!(worker.cached(), 100 + (CACHE_BATCH - 100 % CACHE_BATCH) % CACHE_BATCH);
    }

    #[test]
    fn a_new_buffer_has_the_configured_head_room_and_writes_stay_inside() {
        let pool = Pool::create("pool-test", small()).unwrap();
        let mut cache = pool.cache().unwrap();
        let mut b = cache.alloc().unwrap();
        assert_eq!((b.head(), b.len(), b.tailroom()), (256, 0, 2048 - 256));
        b.append(5).unwrap();
        pool.data_mut(&mut b).copy_from_slice(b"hello");
        b.prepend(2).unwrap();
        pool.data_mut(&mut b)[..2].copy_from_slice(b"> ");
        assert_eq!(pool.data(&b), b"> hello");
        assert_eq!(pool.buffer_mut(&mut b).len(), 2048);
        cache.free(b);
    }

    #[test]
    fn attach_recomputes_the_layout_and_refuses_foreign_regions() {
        let pool = Pool::create("pool-test", small()).unwrap();
        let fd = pool.fd().try_clone_to_owned().unwrap();
        let other = Pool::attach(fd).unwrap();
        assert_eq!((other.count(), other.buf_size(), other.headroom()), (1000, 2048, 256));
        let junk = Region::create("junk", 1 << 20, Backing::Base).unwrap();
        let fd = junk.fd().try_clone_to_owned().unwrap();
        assert!(matches!(Pool::attach(fd), Err(MemError::BadRegion(_))));
    }

    #[test]
    fn caches_of_two_threads_share_the_pool_without_losing_buffers() {
        let pool = Pool::create("pool-test", small()).unwrap();
        std::thread::scope(|s| {
            for _ in 0..2 {
                let pool = pool.clone();
                s.spawn(move || {
                    let mut cache = pool.cache().unwrap();
                    let mut held = Vec::new();
                    for round in 0..2000 {
                        cache.alloc_burst(&mut held, 1 + round % 100);
                        let keep = held.len() / 3;
                        let mut rest = held.split_off(keep);
                        cache.free_burst(&mut rest);
                    }
                    cache.free_burst(&mut held);
                });
            }
        });
        let stats = pool.stats();
        assert_eq!((stats.free, stats.held(), stats.corrupt), (1000, 0, 0));
    }

    #[test]
    fn a_buffer_lent_to_a_device_comes_back_only_to_the_lending_cache() {
        let pool = Pool::create("pool-test", small()).unwrap();
        let mut rx_worker = pool.cache().unwrap();
        let mut tx_worker = pool.cache().unwrap();
        let mut b = rx_worker.alloc().unwrap();
        b.append(60).unwrap();
        let desc = tx_worker.lend(b);
        assert_eq!(rx_worker.claim(desc), Err(DescError::NotHanded));
        let back = tx_worker.claim(desc).unwrap();
        assert_eq!((back.head(), back.len()), (256, 60));
        tx_worker.free(back);
        drop((rx_worker, tx_worker));
        assert_eq!(pool.stats().free, 1000);
    }

    #[test]
    fn slots_run_out_with_a_clear_error() {
        let cfg = PoolConfig {
            max_slots: 2,
            ..small()
        };
        let pool = Pool::create("pool-test", cfg).unwrap();
        let _a = pool.cache().unwrap();
        let _b = pool.cache().unwrap();
        assert!(matches!(pool.cache(), Err(MemError::NoSlot)));
    }
}
