//! The pool's shared free ring and the per-buffer owner table.
//!
//! Per-core caches ([`PoolCache`](crate::PoolCache)) take and return
//! buffers here in batches, so the ring is touched once per 64 packets, not
//! per packet. Several processes use it at once, and any of them may be
//! killed at any instruction; the design lets the pool's owner repair the
//! ring and account for every buffer afterwards.
//!
//! ```text
//!  prod word (u64)                         cons word (u64)
//! +-----------+--------+--------+         +-----------+--------+--------+
//! | tail: u32 | n: u16 | slot   |         | head: u32 | n: u16 | slot   |
//! +-----------+--------+--------+         +-----------+--------+--------+
//!   committed   in-flight op: n entries     committed   in-flight op
//!   position    reserved by `slot`          position
//! ```
//!
//! Each side runs one operation at a time (head/tail synchronised, as in
//! DPDK's HTS rings): claim the side by CAS-ing `n` and `slot` into its
//! word, copy the entries, then publish the new position with `n = 0`. The
//! claim names the slot doing it, so when that slot's process dies mid-op
//! the reclaimer knows exactly which operation to roll back
//! ([`FreeRing::abort`]). The cost is one CAS and one store per batch.
//!
//! The owner table has one word per buffer:
//!
//! | state | meaning |
//! |---|---|
//! | `InRing` | in the free ring |
//! | `Held(slot)` | held by the cache or the process of `slot` (or in transit to it) |
//! | `Freeing(slot, tag)` | pushed by `slot` in the op that started at ring position `tag`: in the ring once that op committed |

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::shm::SharedSlice;

/// A pool slot id: 1..=max_slots; 0 means nobody.
pub type SlotId = u16;

const STATE_SHIFT: u32 = 62;
const HELD: u64 = 1 << STATE_SHIFT;
const FREEING: u64 = 2 << STATE_SHIFT;

/// Decoded owner word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    InRing,
    Held(SlotId),
    Freeing(SlotId, u32),
    /// A value no correct process writes (a peer scribbled on the table).
    Corrupt,
}

impl Owner {
    pub fn encode(self) -> u64 {
        match self {
            Owner::InRing => 0,
            Owner::Held(slot) => HELD | u64::from(slot) << 32,
            Owner::Freeing(slot, tag) => FREEING | u64::from(slot) << 32 | u64::from(tag),
            Owner::Corrupt => u64::MAX,
        }
    }

    pub fn decode(word: u64) -> Owner {
        let slot = (word >> 32) as u16;
        match word >> STATE_SHIFT {
            0 if word == 0 => Owner::InRing,
            1 if word as u32 == 0 && (word >> 48) & 0x3FFF == 0 => Owner::Held(slot),
            2 if (word >> 48) & 0x3FFF == 0 => Owner::Freeing(slot, word as u32),
            _ => Owner::Corrupt,
        }
    }
}

fn pack(pos: u32, n: u16, slot: SlotId) -> u64 {
    u64::from(pos) | u64::from(n) << 32 | u64::from(slot) << 48
}

fn unpack(word: u64) -> (u32, u16, SlotId) {
    (word as u32, (word >> 32) as u16, (word >> 48) as u16)
}

/// Offsets of the two words in the ring's control block (own cache lines,
/// so producers and consumers do not false-share).
pub const PROD_WORD: usize = 0;
pub const CONS_WORD: usize = 8;
/// Size of the control block, in u64 words.
pub const CONTROL_WORDS: usize = 16;

/// An operation left in flight by a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aborted {
    /// Ring position where the aborted push started, if a push was aborted.
    pub push_tag: Option<u32>,
    /// Entries an aborted pop had claimed (they stay in the ring).
    pub pop_entries: u16,
}

/// View of the free ring and owner table of one pool mapping.
#[derive(Debug)]
pub struct FreeRing {
    control: SharedSlice<AtomicU64>,
    cells: SharedSlice<AtomicU32>,
    owners: SharedSlice<AtomicU64>,
    mask: u32,
}

impl FreeRing {
    /// `cells.len()` must be a power of two at least `owners.len()`, so a
    /// push of buffers that are really held can never find the ring full.
    pub fn new(
        control: SharedSlice<AtomicU64>,
        cells: SharedSlice<AtomicU32>,
        owners: SharedSlice<AtomicU64>,
    ) -> FreeRing {
        debug_assert!(cells.len().is_power_of_two() && cells.len() >= owners.len());
        debug_assert!(control.len() >= CONTROL_WORDS);
        let mask = (cells.len() - 1) as u32;
        FreeRing {
            control,
            cells,
            owners,
            mask,
        }
    }

    fn prod(&self) -> &AtomicU64 {
        &self.control[PROD_WORD]
    }

    fn cons(&self) -> &AtomicU64 {
        &self.control[CONS_WORD]
    }

    fn cell(&self, pos: u32) -> &AtomicU32 {
        &self.cells[(pos & self.mask) as usize]
    }

    /// The owner word of buffer `idx`; `idx` must be below the buffer count.
    pub fn owner(&self, idx: u32) -> &AtomicU64 {
        &self.owners[idx as usize]
    }

    pub fn owners(&self) -> &[AtomicU64] {
        &self.owners
    }

    /// Fills the ring with every buffer; only for a freshly created pool.
    pub fn init_full(&self) {
        let n = self.owners.len() as u32;
        for idx in 0..n {
            self.cell(idx).store(idx, Ordering::Relaxed);
            self.owner(idx).store(Owner::InRing.encode(), Ordering::Relaxed);
        }
        self.cons().store(pack(0, 0, 0), Ordering::Relaxed);
        self.prod().store(pack(n, 0, 0), Ordering::Release);
    }

    /// Committed entries in the ring.
    pub fn len(&self) -> u32 {
        let (head, _, _) = unpack(self.cons().load(Ordering::Acquire));
        let (tail, _, _) = unpack(self.prod().load(Ordering::Acquire));
        tail.wrapping_sub(head)
    }

    /// Claims one side: waits while another op is in flight. Returns the
    /// committed position and the number of entries claimed (0 = nothing to
    /// do); `room` computes how many of `want` entries fit given the other
    /// side's committed position.
    fn claim(
        &self,
        side: &AtomicU64,
        other: &AtomicU64,
        slot: SlotId,
        want: u16,
        room: impl Fn(u32, u32) -> u32,
    ) -> (u32, u16) {
        let mut spins = 0u32;
        loop {
            let word = side.load(Ordering::Acquire);
            let (pos, busy, _) = unpack(word);
            if busy != 0 {
                // Another op is copying its entries: a few dozen ns unless
                // its process died, in which case the reclaimer rolls it
                // back. Yield so that the reclaimer gets the core.
                spins += 1;
                if spins < 128 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
                continue;
            }
            let (other_pos, _, _) = unpack(other.load(Ordering::Acquire));
            let n = room(pos, other_pos).min(u32::from(want)) as u16;
            if n == 0 {
                return (pos, 0);
            }
            if side
                .compare_exchange_weak(word, pack(pos, n, slot), Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return (pos, n);
            }
        }
    }

    /// Takes up to `out.len()` buffers for `slot`, marking them held by it.
    /// Returns how many were taken.
    pub fn pop(&self, slot: SlotId, out: &mut [u32]) -> usize {
        let want = out.len().min(usize::from(u16::MAX)) as u16;
        let (head, n) = self.claim(self.cons(), self.prod(), slot, want, |head, tail| {
            tail.wrapping_sub(head)
        });
        if n == 0 {
            return 0;
        }
        let held = Owner::Held(slot).encode();
        for (i, slot_out) in out.iter_mut().take(usize::from(n)).enumerate() {
            let idx = self.cell(head.wrapping_add(i as u32)).load(Ordering::Relaxed);
            *slot_out = idx;
            if let Some(owner) = self.owners.get(idx as usize) {
                owner.store(held, Ordering::Relaxed);
            }
        }
        self.cons()
            .store(pack(head.wrapping_add(u32::from(n)), 0, 0), Ordering::Release);
        usize::from(n)
    }

    /// Returns `bufs` (held by `slot`) to the ring. Always takes all of them:
    /// the ring has room for every buffer of the pool.
    pub fn push(&self, slot: SlotId, bufs: &[u32]) {
        let cap = self.mask + 1;
        for chunk in bufs.chunks(usize::from(u16::MAX)) {
            let want = chunk.len() as u16;
            let (tail, n) = self.claim(self.prod(), self.cons(), slot, want, |tail, head| {
                cap - tail.wrapping_sub(head)
            });
            // Room is short only if a buffer is pushed twice (a caller bug,
            // or a peer lying about what it holds): refuse the extra rather
            // than overwrite live entries.
            let n = usize::from(n);
            let freeing = Owner::Freeing(slot, tail).encode();
            for (i, &idx) in chunk.iter().take(n).enumerate() {
                if let Some(owner) = self.owners.get(idx as usize) {
                    owner.store(freeing, Ordering::Relaxed);
                }
                self.cell(tail.wrapping_add(i as u32)).store(idx, Ordering::Relaxed);
            }
            if n > 0 {
                self.prod()
                    .store(pack(tail.wrapping_add(n as u32), 0, 0), Ordering::Release);
            }
            if n < chunk.len() {
                tracing::error!(slot, refused = chunk.len() - n, "free ring full: buffers freed twice?");
            }
        }
    }

    /// Rolls back the operations `slot` left in flight when its process
    /// died. Must only be called for a dead slot.
    ///
    /// An aborted pop leaves its entries in the ring (their owner words go
    /// back to `InRing`); an aborted push is forgotten, and its buffers, now
    /// `Freeing(slot, tag)` or still `Held(slot)`, are for the caller to
    /// push again (see [`Self::is_orphan`]).
    pub fn abort(&self, slot: SlotId) -> Aborted {
        let mut aborted = Aborted {
            push_tag: None,
            pop_entries: 0,
        };
        let word = self.cons().load(Ordering::Acquire);
        let (head, n, owner) = unpack(word);
        if n != 0 && owner == slot {
            for i in 0..u32::from(n) {
                let idx = self.cell(head.wrapping_add(i)).load(Ordering::Relaxed);
                if let Some(o) = self.owners.get(idx as usize) {
                    o.store(Owner::InRing.encode(), Ordering::Relaxed);
                }
            }
            if self
                .cons()
                .compare_exchange(word, pack(head, 0, 0), Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                aborted.pop_entries = n;
            }
        }
        let word = self.prod().load(Ordering::Acquire);
        let (tail, n, owner) = unpack(word);
        if n != 0
            && owner == slot
            && self
                .prod()
                .compare_exchange(word, pack(tail, 0, 0), Ordering::Release, Ordering::Relaxed)
                .is_ok()
        {
            aborted.push_tag = Some(tail);
        }
        aborted
    }

    /// Whether a buffer with owner word `word` belongs to dead `slot` and is
    /// not in the ring: held by it, or part of its aborted push.
    pub fn is_orphan(word: u64, slot: SlotId, aborted_push: Option<u32>) -> bool {
        match Owner::decode(word) {
            Owner::Held(s) => s == slot,
            Owner::Freeing(s, tag) => s == slot && Some(tag) == aborted_push,
            Owner::InRing | Owner::Corrupt => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::{Backing, Region};
    use std::sync::Arc;

    fn ring(count: usize) -> FreeRing {
        let cap = count.next_power_of_two();
        let region = Arc::new(
            Region::create(
                "free-ring-test",
                64 * CONTROL_WORDS + cap * 4 + count * 8,
                Backing::Base,
            )
            .unwrap(),
        );
        let control = SharedSlice::new(&region, 0, CONTROL_WORDS).unwrap();
        let cells = SharedSlice::new(&region, 8 * CONTROL_WORDS, cap).unwrap();
        let owners = SharedSlice::new(&region, 8 * CONTROL_WORDS + 4 * cap, count).unwrap();
        let ring = FreeRing::new(control, cells, owners);
        ring.init_full();
        ring
    }

    fn owner(ring: &FreeRing, idx: u32) -> Owner {
        Owner::decode(ring.owner(idx).load(Ordering::Relaxed))
    }

    #[test]
    fn owner_words_round_trip_and_reject_garbage() {
        for o in [
            Owner::InRing,
            Owner::Held(1),
            Owner::Held(u16::MAX >> 2),
            Owner::Freeing(7, 0xFFFF_FFFF),
        ] {
            assert_eq!(Owner::decode(o.encode()), o);
        }
        assert_eq!(Owner::decode(u64::MAX), Owner::Corrupt);
        assert_eq!(Owner::decode(HELD | 5), Owner::Corrupt);
    }

    #[test]
    fn pop_marks_buffers_held_and_push_returns_them() {
        let r = ring(100);
        let mut out = [0u32; 64];
        assert_eq!(r.pop(3, &mut out), 64);
        assert_eq!(r.len(), 36);
        assert!(out.iter().all(|&i| owner(&r, i) == Owner::Held(3)));
        r.push(3, &out[..10]);
        assert_eq!(r.len(), 46);
        assert_eq!(owner(&r, out[0]), Owner::Freeing(3, 100));
        let mut rest = [0u32; 200];
        assert_eq!(r.pop(4, &mut rest), 46, "a pop takes what is there");
        assert_eq!(r.pop(4, &mut rest), 0);
    }

    #[test]
    fn a_push_of_more_than_the_ring_holds_is_refused_not_overwritten() {
        let r = ring(4);
        r.push(1, &[0, 1, 2, 3, 0]);
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn abort_of_a_dead_slots_pop_leaves_entries_in_the_ring() {
        let r = ring(16);
        // Slot 9 claims 5 entries and marks two of them, then dies.
        let (head, n) = r.claim(r.cons(), r.prod(), 9, 5, |h, t| t.wrapping_sub(h));
        assert_eq!((head, n), (0, 5));
        r.owner(0).store(Owner::Held(9).encode(), Ordering::Relaxed);
        r.owner(1).store(Owner::Held(9).encode(), Ordering::Relaxed);
        assert_eq!(
            r.abort(9),
            Aborted {
                push_tag: None,
                pop_entries: 5
            }
        );
        assert_eq!(owner(&r, 0), Owner::InRing);
        assert!(!FreeRing::is_orphan(r.owner(0).load(Ordering::Relaxed), 9, None));
        let mut out = [0u32; 16];
        assert_eq!(r.pop(2, &mut out), 16, "every buffer is still in the ring");
    }

    #[test]
    fn abort_of_a_dead_slots_push_makes_its_batch_orphans() {
        let r = ring(16);
        let mut out = [0u32; 8];
        assert_eq!(r.pop(9, &mut out), 8);
        // An earlier, committed push by slot 9.
        r.push(9, &out[..2]);
        // Slot 9 claims a push of 4, marks two, dies before committing.
        let (tail, n) = r.claim(r.prod(), r.cons(), 9, 4, |t, h| 16 - t.wrapping_sub(h));
        assert_eq!(n, 4);
        for &idx in &out[2..4] {
            r.owner(idx).store(Owner::Freeing(9, tail).encode(), Ordering::Relaxed);
        }
        let aborted = r.abort(9);
        assert_eq!(aborted.push_tag, Some(tail));
        let orphans: Vec<u32> = (0..16)
            .filter(|&i| FreeRing::is_orphan(r.owner(i).load(Ordering::Relaxed), 9, aborted.push_tag))
            .collect();
        let mut expect = out[2..].to_vec();
        expect.sort_unstable();
        assert_eq!(
            orphans, expect,
            "the aborted batch and the held rest, not the committed push"
        );
        assert_eq!(r.len(), 10);
    }
}
