//! The four AF_XDP rings as seen from user space: single-producer
//! single-consumer rings shared with the kernel, each a mapped area holding
//! a producer word, a consumer word, a flags word and the entries, at the
//! offsets `XDP_MMAP_OFFSETS` reported.
//!
//! | ring | we are | entry | carries |
//! |---|---|---|---|
//! | fill | producer | `u64` chunk address | empty buffers for the kernel to receive into |
//! | rx | consumer | `xdp_desc` (addr, len, options) | received frames |
//! | tx | producer | `xdp_desc` | frames to send |
//! | completion | consumer | `u64` address | sent frames' buffers, back to us |
//!
//! As in `o7s_mem::ring`, each side keeps a private copy of its own index
//! and a cached copy of the kernel's, so a burst costs one shared load
//! (only when the cache says the ring looks full or empty) and one release
//! store. Indices are free-running `u32`s compared with wrapping
//! arithmetic; an entry's slot is `index & (entries - 1)`.
#![allow(unsafe_code)]

use std::io;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::sys::RingMapping;

/// An RX or TX ring entry: `struct xdp_desc` of linux/if_xdp.h.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct XdpDesc {
    /// Offset of the first frame octet in the UMEM.
    pub(crate) addr: u64,
    pub(crate) len: u32,
    /// `XDP_PKT_CONTD` (multi-buffer) or TX metadata flags; zero here.
    pub(crate) options: u32,
}

/// The memory a ring lives in: the kernel's mapping, or (in unit tests)
/// plain heap memory standing in for it.
#[derive(Debug)]
pub(crate) enum Memory {
    Kernel(RingMapping),
    #[cfg(test)]
    Heap(Box<[u64]>),
}

impl Memory {
    fn base(&mut self) -> *mut u8 {
        match self {
            Memory::Kernel(m) => m.as_ptr(),
            #[cfg(test)]
            Memory::Heap(h) => h.as_mut_ptr().cast(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Memory::Kernel(m) => m.len(),
            #[cfg(test)]
            Memory::Heap(h) => h.len() * 8,
        }
    }
}

/// Pointers into one mapped ring, checked once at construction.
#[derive(Debug)]
struct View<T> {
    producer: NonNull<AtomicU32>,
    consumer: NonNull<AtomicU32>,
    flags: NonNull<AtomicU32>,
    entries: NonNull<T>,
    mask: u32,
    _mem: Memory,
    _entry: PhantomData<T>,
}

// SAFETY: the view owns its mapping; the kernel is the only other party and
// synchronises through the index words. Moving the view to another thread
// moves that ownership with it.
unsafe impl<T: Send> Send for View<T> {}

impl<T: Copy> View<T> {
    fn new(mut mem: Memory, off: &libc::xdp_ring_offset, entries: u32) -> io::Result<View<T>> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("AF_XDP ring {what}"));
        if !entries.is_power_of_two() {
            return Err(bad("size is not a power of two"));
        }
        let len = mem.len() as u64;
        let base = mem.base();
        let at = |offset: u64, size: u64, align: u64| -> io::Result<*mut u8> {
            if offset.checked_add(size).is_none_or(|end| end > len) || !offset.is_multiple_of(align) {
                return Err(bad("offsets lie outside its mapping"));
            }
            // SAFETY: offset + size <= len, checked just above, so the
            // result stays inside the mapping.
            Ok(unsafe { base.add(offset as usize) })
        };
        let word = |offset: u64| at(offset, 4, 4).map(|p| NonNull::new(p.cast::<AtomicU32>()));
        let size = std::mem::size_of::<T>() as u64 * u64::from(entries);
        let ring = at(off.desc, size, std::mem::align_of::<T>() as u64)?;
        let (Some(producer), Some(consumer), Some(flags), Some(ring)) = (
            word(off.producer)?,
            word(off.consumer)?,
            word(off.flags)?,
            NonNull::new(ring.cast::<T>()),
        ) else {
            return Err(bad("mapping is null"));
        };
        Ok(View {
            producer,
            consumer,
            flags,
            entries: ring,
            mask: entries - 1,
            _mem: mem,
            _entry: PhantomData,
        })
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: checked in bounds and aligned in `new`; the mapping lives
        // as long as `self`; the kernel writes the word only atomically.
        unsafe { self.producer.as_ref() }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as in `producer`.
        unsafe { self.consumer.as_ref() }
    }

    fn flags(&self) -> &AtomicU32 {
        // SAFETY: as in `producer`.
        unsafe { self.flags.as_ref() }
    }

    fn size(&self) -> u32 {
        self.mask + 1
    }

    fn slot(&self, pos: u32) -> *mut T {
        // SAFETY: `pos & mask` < entries, and `new` checked that `entries`
        // Ts lie inside the mapping.
        unsafe { self.entries.as_ptr().add((pos & self.mask) as usize) }
    }

    fn read(&self, pos: u32) -> T {
        // SAFETY: the slot is in bounds and aligned (see `slot`); callers
        // read only entries the kernel published (between our consumer and
        // its producer index, after an acquire load of the latter), which
        // it does not write until we release them.
        unsafe { self.slot(pos).read() }
    }

    fn write(&self, pos: u32, value: T) {
        // SAFETY: the slot is in bounds and aligned; callers write only
        // free entries (between our producer index and the kernel's
        // consumer index plus the size), which the kernel does not read
        // until we publish them with a release store.
        unsafe { self.slot(pos).write(value) }
    }
}

/// A ring we fill and the kernel drains: fill and tx.
#[derive(Debug)]
pub(crate) struct ProdRing<T> {
    view: View<T>,
    prod: u32,
    cons_cache: u32,
    /// Entries reserved by the last `reserve`, not yet submitted.
    reserved: u32,
}

impl<T: Copy> ProdRing<T> {
    pub(crate) fn new(mem: Memory, off: &libc::xdp_ring_offset, entries: u32) -> io::Result<ProdRing<T>> {
        let view = View::new(mem, off, entries)?;
        let prod = view.producer().load(Ordering::Relaxed);
        let cons_cache = view.consumer().load(Ordering::Acquire);
        Ok(ProdRing {
            view,
            prod,
            cons_cache,
            reserved: 0,
        })
    }

    pub(crate) fn size(&self) -> u32 {
        self.view.size()
    }

    fn free_cached(&self) -> u32 {
        // A kernel consumer index beyond our producer would be a kernel
        // bug; treat the ring as full rather than overwrite entries.
        self.view.size().saturating_sub(self.prod.wrapping_sub(self.cons_cache))
    }

    /// Reserves up to `want` free entries, to be written with `write(i, ..)`
    /// for `i < n` and published with `submit(n)`; returns `n`.
    pub(crate) fn reserve(&mut self, want: u32) -> u32 {
        if self.free_cached() < want {
            self.cons_cache = self.view.consumer().load(Ordering::Acquire);
        }
        self.reserved = self.free_cached().min(want);
        self.reserved
    }

    /// Writes the `i`th reserved entry.
    pub(crate) fn write(&mut self, i: u32, value: T) {
        debug_assert!(i < self.reserved, "write outside the reserved entries");
        self.view.write(self.prod.wrapping_add(i), value);
    }

    /// Publishes the first `n` reserved entries to the kernel.
    pub(crate) fn submit(&mut self, n: u32) {
        debug_assert!(n <= self.reserved);
        if n == 0 {
            return;
        }
        self.prod = self.prod.wrapping_add(n);
        self.reserved = 0;
        self.view.producer().store(self.prod, Ordering::Release);
    }

    /// Entries published but not yet taken by the kernel (reads the
    /// kernel's consumer index).
    pub(crate) fn kernel_pending(&mut self) -> u32 {
        self.cons_cache = self.view.consumer().load(Ordering::Acquire);
        self.prod.wrapping_sub(self.cons_cache).min(self.view.size())
    }

    /// The kernel's need-wakeup flag on this ring. A relaxed load: a flag
    /// set just after we look is seen on the next poll, and the dataplane
    /// polls continuously.
    pub(crate) fn needs_wakeup(&self) -> bool {
        self.view.flags().load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }
}

/// A ring the kernel fills and we drain: rx and completion.
#[derive(Debug)]
pub(crate) struct ConsRing<T> {
    view: View<T>,
    cons: u32,
    prod_cache: u32,
}

impl<T: Copy> ConsRing<T> {
    pub(crate) fn new(mem: Memory, off: &libc::xdp_ring_offset, entries: u32) -> io::Result<ConsRing<T>> {
        let view = View::new(mem, off, entries)?;
        let cons = view.consumer().load(Ordering::Relaxed);
        let prod_cache = view.producer().load(Ordering::Acquire);
        Ok(ConsRing { view, cons, prod_cache })
    }

    pub(crate) fn size(&self) -> u32 {
        self.view.size()
    }

    fn ready_cached(&self) -> u32 {
        let ready = self.prod_cache.wrapping_sub(self.cons);
        // A producer index more than a ring ahead would be a kernel bug:
        // read nothing rather than stale entries.
        if ready > self.view.size() { 0 } else { ready }
    }

    /// Entries ready to read, at most `max`; they are read with `read(i)`
    /// for `i < n` and handed back with `release(n)`.
    pub(crate) fn peek(&mut self, max: u32) -> u32 {
        if self.ready_cached() < max {
            self.prod_cache = self.view.producer().load(Ordering::Acquire);
        }
        self.ready_cached().min(max)
    }

    /// The `i`th entry of the last `peek`.
    pub(crate) fn read(&self, i: u32) -> T {
        debug_assert!(i < self.ready_cached(), "read past the published entries");
        self.view.read(self.cons.wrapping_add(i))
    }

    /// Gives the first `n` peeked entries back to the kernel.
    pub(crate) fn release(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        self.cons = self.cons.wrapping_add(n);
        self.view.consumer().store(self.cons, Ordering::Release);
    }
}

#[cfg(test)]
/// A heap ring laid out like the kernel's: producer, consumer, flags
/// words, then the entries at 64; both indices start at `start`.
pub(crate) fn heap(entries: u32, start: u32) -> (Memory, libc::xdp_ring_offset) {
    let mut words = vec![0u64; 8 + 2 * entries as usize];
    let mut index = [0u8; 8];
    index[..4].copy_from_slice(&start.to_ne_bytes());
    words[0] = u64::from_ne_bytes(index);
    words[1] = u64::from_ne_bytes(index);
    let off = libc::xdp_ring_offset {
        producer: 0,
        consumer: 8,
        flags: 16,
        desc: 64,
    };
    (Memory::Heap(words.into_boxed_slice()), off)
}

/// The kernel's side of the rings, for tests that play the kernel.
#[cfg(test)]
impl<T: Copy> ConsRing<T> {
    /// Publishes one entry, as the kernel does on RX and completion.
    pub(crate) fn kernel_produce(&self, value: T) {
        let p = self.view.producer().load(Ordering::Relaxed);
        self.view.write(p, value);
        self.view.producer().store(p.wrapping_add(1), Ordering::Release);
    }
}

#[cfg(test)]
impl<T: Copy> ProdRing<T> {
    /// Takes one published entry, as the kernel does on fill and TX.
    pub(crate) fn kernel_consume(&self) -> Option<T> {
        let c = self.view.consumer().load(Ordering::Relaxed);
        if c == self.view.producer().load(Ordering::Acquire) {
            return None;
        }
        let value = self.view.read(c);
        self.view.consumer().store(c.wrapping_add(1), Ordering::Release);
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_producer_ring_never_overwrites_entries_the_kernel_has_not_consumed() {
        let (mem, off) = heap(8, 0);
        let mut ring = ProdRing::<u64>::new(mem, &off, 8).unwrap();
        assert_eq!(ring.reserve(5), 5);
        for i in 0..5 {
            ring.write(i, u64::from(i) * 2048);
        }
        ring.submit(5);
        assert_eq!(ring.reserve(10), 3, "only three free until the kernel consumes");
        assert_eq!(ring.kernel_pending(), 5);
        // The kernel consumes four.
        ring.view.consumer().store(4, Ordering::Release);
        assert_eq!(ring.reserve(10), 7);
        assert_eq!(ring.kernel_pending(), 1);
        assert_eq!(ring.view.read(3), 3 * 2048);
    }

    #[test]
    fn a_consumer_ring_reads_across_the_index_wrap() {
        let start = u32::MAX - 1;
        let (mem, off) = heap(4, start);
        let mut ring = ConsRing::<u64>::new(mem, &off, 4).unwrap();
        assert_eq!(ring.peek(4), 0);
        // The kernel publishes three entries, wrapping its index.
        for i in 0..3u32 {
            ring.view.write(start.wrapping_add(i), u64::from(i) + 100);
        }
        ring.view.producer().store(start.wrapping_add(3), Ordering::Release);
        assert_eq!(ring.peek(8), 3);
        assert_eq!((ring.read(0), ring.read(2)), (100, 102));
        ring.release(3);
        assert_eq!(
            ring.view.consumer().load(Ordering::Relaxed),
            1,
            "index wrapped past u32::MAX"
        );
        // A producer index more than a ring ahead reads as nothing.
        ring.view.producer().store(100, Ordering::Release);
        assert_eq!(ring.peek(8), 0);
    }

    #[test]
    fn offsets_outside_the_mapping_are_refused() {
        let (mem, mut off) = heap(8, 0);
        off.desc = 8 * (8 + 2 * 8) - 8;
        assert!(View::<u64>::new(mem, &off, 8).is_err());
        let (mem, mut off) = heap(8, 0);
        off.flags = 2;
        assert!(View::<u64>::new(mem, &off, 8).is_err(), "misaligned word");
        let (mem, off) = heap(8, 0);
        assert!(View::<u64>::new(mem, &off, 6).is_err(), "not a power of two");
    }
}
