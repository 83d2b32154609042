//! Single-producer single-consumer rings of buffer descriptors, in shared
//! memory, usable across processes.
//!
//! ```text
//!  line 0: magic, capacity, consumer slot, roles, closed
//!  line 1: tail   (written by the producer; also the futex word)
//!  line 2: head   (written by the consumer)
//!  line 3: consumer_waiting
//!  then:   entries, u64 x capacity (capacity a power of two)
//! ```
//!
//! Each side keeps a private copy of its own index and a cached copy of the
//! other's, so a burst costs one shared load (only when the cache says the
//! ring looks full or empty) and one release store. A consumer that wants to
//! sleep announces it in `consumer_waiting` and sleeps on the tail word with
//! a futex; the producer wakes it only when that flag is set, so a polling
//! consumer costs the producer nothing but one load per burst.
//!
//! A consumer that polls many rings and file descriptors at once (a
//! dataplane worker) cannot sleep on a futex: it arms the ring's kick
//! ([`Consumer::arm_kick`]) and sleeps on an eventfd that its producers
//! were given ([`Producer::set_kick`]); a producer pushing into an armed
//! ring writes to that eventfd.
//!
//! The ring moves [`Desc`]s; [`PoolCache::send`](crate::PoolCache::send) and
//! [`PoolCache::recv`](crate::PoolCache::recv) turn buffers into descriptors
//! and back, handing ownership to the consumer's pool slot.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

use crate::buf::Desc;
use crate::free_ring::SlotId;
use crate::shm::{Backing, Region, SharedSlice};
use crate::{MemError, sys};

const MAGIC: u32 = u32::from_be_bytes(*b"o7sr");
const LINE: usize = 64;
const HEADER: usize = 4 * LINE;
/// Largest capacity (entries); positions are u32 and wrap.
pub const MAX_CAPACITY: u32 = 1 << 24;

/// The bit of `consumer_waiting` a kick-armed consumer sets; the bits
/// below count futex sleepers.
const KICK_ARMED: u32 = 1 << 24;

/// Header words (u32) in line 0.
mod w {
    pub const MAGIC: usize = 0;
    pub const CAPACITY: usize = 1;
    pub const CONSUMER_SLOT: usize = 2;
    pub const PRODUCER_PID: usize = 3;
    pub const CONSUMER_PID: usize = 4;
    pub const CLOSED: usize = 5;
}

/// The shared part of a ring, mapped in this process.
#[derive(Debug)]
struct Shared {
    region: Arc<Region>,
    line0: SharedSlice<AtomicU32>,
    tail: SharedSlice<AtomicU32>,
    head: SharedSlice<AtomicU32>,
    waiting: SharedSlice<AtomicU32>,
    entries: SharedSlice<AtomicU64>,
    mask: u32,
}

impl Shared {
    fn map(region: Arc<Region>, capacity: u32) -> Result<Shared, MemError> {
        let word = |line: usize| SharedSlice::<AtomicU32>::new(&region, line * LINE, LINE / 4);
        Ok(Shared {
            line0: word(0)?,
            tail: word(1)?,
            head: word(2)?,
            waiting: word(3)?,
            entries: SharedSlice::new(&region, HEADER, capacity as usize)?,
            mask: capacity - 1,
            region,
        })
    }

    fn tail(&self) -> &AtomicU32 {
        &self.tail[0]
    }

    fn head(&self) -> &AtomicU32 {
        &self.head[0]
    }

    fn waiting(&self) -> &AtomicU32 {
        &self.waiting[0]
    }

    fn capacity(&self) -> u32 {
        self.mask + 1
    }

    fn closed(&self) -> bool {
        self.line0[w::CLOSED].load(Ordering::Acquire) != 0
    }

    fn take_role(&self, word: usize) -> Result<(), MemError> {
        let pid = sys::getpid() as u32;
        self.line0[word]
            .compare_exchange(0, pid, Ordering::AcqRel, Ordering::Relaxed)
            .map(drop)
            .map_err(|_| MemError::RoleTaken)
    }
}

/// A ring in its own shared-memory region; hands out the two ends.
#[derive(Debug)]
pub struct Ring {
    shared: Arc<Shared>,
}

impl Ring {
    /// Creates a ring of `capacity` entries (rounded up to a power of two).
    pub fn create(name: &str, capacity: u32) -> Result<Ring, MemError> {
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(MemError::Config("ring capacity must be between 1 and 16777216 entries"));
        }
        let capacity = capacity.next_power_of_two();
        let len = HEADER + 8 * capacity as usize;
        let region = Arc::new(Region::create(name, len, Backing::Base)?);
        let shared = Shared::map(region, capacity)?;
        shared.line0[w::CAPACITY].store(capacity, Ordering::Relaxed);
        shared.line0[w::MAGIC].store(MAGIC, Ordering::Release);
        Ok(Ring {
            shared: Arc::new(shared),
        })
    }

    /// Maps a ring another process created.
    pub fn attach(fd: OwnedFd) -> Result<Ring, MemError> {
        let region = Arc::new(Region::attach(fd)?);
        let line0: SharedSlice<AtomicU32> = SharedSlice::new(&region, 0, LINE / 4)?;
        if line0[w::MAGIC].load(Ordering::Acquire) != MAGIC {
            return Err(MemError::BadRegion("not an o7s ring"));
        }
        let capacity = line0[w::CAPACITY].load(Ordering::Relaxed);
        if !capacity.is_power_of_two() || capacity > MAX_CAPACITY || region.len() < HEADER + 8 * capacity as usize {
            return Err(MemError::BadRegion("ring capacity does not match its region"));
        }
        Ok(Ring {
            shared: Arc::new(Shared::map(region, capacity)?),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.shared.region.fd()
    }

    pub fn capacity(&self) -> u32 {
        self.shared.capacity()
    }

    /// The producing end; only one may exist over all processes.
    pub fn producer(&self) -> Result<Producer, MemError> {
        self.shared.take_role(w::PRODUCER_PID)?;
        let tail = self.shared.tail().load(Ordering::Acquire);
        let head_cache = self.shared.head().load(Ordering::Acquire);
        Ok(Producer {
            shared: Arc::clone(&self.shared),
            tail,
            head_cache,
            kick: None,
        })
    }

    /// The consuming end, receiving buffers under pool slot `slot`; only one
    /// may exist over all processes.
    pub fn consumer(&self, slot: SlotId) -> Result<Consumer, MemError> {
        self.shared.take_role(w::CONSUMER_PID)?;
        self.shared.line0[w::CONSUMER_SLOT].store(u32::from(slot), Ordering::Release);
        let head = self.shared.head().load(Ordering::Acquire);
        let tail_cache = self.shared.tail().load(Ordering::Acquire);
        Ok(Consumer {
            shared: Arc::clone(&self.shared),
            head,
            tail_cache,
        })
    }

    /// Marks the ring closed: the producer stops sending and a sleeping
    /// consumer wakes. Either end, or the process that set the ring up, may
    /// close it.
    pub fn close(&self) {
        close(&self.shared);
    }
}

fn close(shared: &Shared) {
    shared.line0[w::CLOSED].store(1, Ordering::Release);
    // Change the futex word's neighbour state first, then wake: a consumer
    // about to sleep re-checks `closed` after setting its flag.
    sys::futex_wake(shared.tail());
}

/// The producing end.
#[derive(Debug)]
pub struct Producer {
    shared: Arc<Shared>,
    tail: u32,
    head_cache: u32,
    /// The eventfd a kick-armed consumer sleeps on.
    kick: Option<OwnedFd>,
}

impl Producer {
    /// Entries the ring holds.
    pub fn capacity(&self) -> u32 {
        self.shared.capacity()
    }

    /// Pool slot of the consumer, 0 if no consumer attached yet.
    pub fn consumer_slot(&self) -> SlotId {
        self.shared.line0[w::CONSUMER_SLOT].load(Ordering::Acquire) as SlotId
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed()
    }

    pub fn close(&self) {
        close(&self.shared);
    }

    /// The eventfd to write to when the consumer armed its kick (see
    /// [`Consumer::arm_kick`]).
    pub fn set_kick(&mut self, eventfd: OwnedFd) {
        self.kick = Some(eventfd);
    }

    /// Entries that can be pushed now.
    pub fn free_entries(&mut self) -> usize {
        let cap = self.shared.capacity();
        if self.tail.wrapping_sub(self.head_cache) == cap {
            self.head_cache = self.shared.head().load(Ordering::Acquire);
        }
        // A consumer that publishes a head beyond our tail is broken or
        // hostile; treat the ring as full rather than overwrite entries.
        let used = self.tail.wrapping_sub(self.head_cache);
        cap.saturating_sub(used) as usize
    }

    /// Pushes as many of `descs` as fit; returns how many.
    pub fn push_slice(&mut self, descs: &[Desc]) -> usize {
        let mut room = self.free_entries();
        if room < descs.len() {
            self.head_cache = self.shared.head().load(Ordering::Acquire);
            room = self.free_entries();
        }
        let n = room.min(descs.len());
        if n == 0 {
            return 0;
        }
        for (i, d) in descs[..n].iter().enumerate() {
            let pos = self.tail.wrapping_add(i as u32) & self.shared.mask;
            self.shared.entries[pos as usize].store(d.0, Ordering::Relaxed);
        }
        self.tail = self.tail.wrapping_add(n as u32);
        self.shared.tail().store(self.tail, Ordering::Release);
        // Dekker with the consumer: our tail store, then its flag; its flag
        // store, then our tail. One of the two sides sees the other.
        fence(Ordering::SeqCst);
        let waiting = self.shared.waiting().load(Ordering::Relaxed);
        if waiting & !KICK_ARMED != 0 {
            sys::futex_wake(self.shared.tail());
        }
        if waiting & KICK_ARMED != 0
            && let Some(kick) = &self.kick
        {
            sys::eventfd_kick(kick.as_fd());
        }
        n
    }

    /// Pushes one descriptor; false when the ring is full.
    pub fn push(&mut self, desc: Desc) -> bool {
        self.push_slice(&[desc]) == 1
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.shared.line0[w::PRODUCER_PID].store(0, Ordering::Release);
    }
}

/// What [`Consumer::wait`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Entries are ready.
    Ready,
    /// The timeout passed with the ring empty.
    TimedOut,
    /// The ring is closed and empty.
    Closed,
}

/// The consuming end.
#[derive(Debug)]
pub struct Consumer {
    shared: Arc<Shared>,
    head: u32,
    tail_cache: u32,
}

impl Consumer {
    /// Entries ready to pop.
    pub fn ready(&mut self) -> usize {
        if self.tail_cache == self.head {
            self.tail_cache = self.shared.tail().load(Ordering::Acquire);
        }
        let ready = self.tail_cache.wrapping_sub(self.head);
        // A producer that claims more than the capacity is broken or
        // hostile: read nothing rather than stale entries.
        if ready > self.shared.capacity() {
            0
        } else {
            ready as usize
        }
    }

    /// Pops up to `out.len()` descriptors; returns how many.
    pub fn pop_slice(&mut self, out: &mut [Desc]) -> usize {
        let mut ready = self.ready();
        if ready < out.len() {
            self.tail_cache = self.shared.tail().load(Ordering::Acquire);
            ready = self.ready();
        }
        let n = ready.min(out.len());
        for (i, d) in out[..n].iter_mut().enumerate() {
            let pos = self.head.wrapping_add(i as u32) & self.shared.mask;
            *d = Desc(self.shared.entries[pos as usize].load(Ordering::Relaxed));
        }
        if n > 0 {
            self.head = self.head.wrapping_add(n as u32);
            self.shared.head().store(self.head, Ordering::Release);
        }
        n
    }

    pub fn pop(&mut self) -> Option<Desc> {
        let mut d = [Desc(0)];
        (self.pop_slice(&mut d) == 1).then_some(d[0])
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed()
    }

    /// Sleeps until entries are ready, the ring is closed, or `timeout`
    /// (`None`: no limit) passes. For readers that do not poll.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Wait {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.ready() > 0 {
                return Wait::Ready;
            }
            if self.shared.closed() {
                return Wait::Closed;
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Wait::TimedOut,
                },
                None => None,
            };
            self.shared.waiting().fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            let tail = self.shared.tail().load(Ordering::Relaxed);
            if tail == self.head && !self.shared.closed() {
                sys::futex_wait(self.shared.tail(), tail, left);
            }
            self.shared.waiting().fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn close(&self) {
        close(&self.shared);
    }

    /// Before sleeping on the kick eventfd its producer was given: asks
    /// the producer to write to it at its next push. Returns whether
    /// entries are already there (then do not sleep). Call
    /// [`disarm_kick`](Self::disarm_kick) once awake.
    pub fn arm_kick(&mut self) -> bool {
        self.shared.waiting().fetch_or(KICK_ARMED, Ordering::Relaxed);
        // Dekker with the producer, as in `wait`.
        fence(Ordering::SeqCst);
        self.tail_cache = self.shared.tail().load(Ordering::Relaxed);
        self.tail_cache != self.head || self.shared.closed()
    }

    /// Stops the producer's kicks (polling again).
    pub fn disarm_kick(&mut self) {
        self.shared.waiting().fetch_and(!KICK_ARMED, Ordering::Relaxed);
    }

    /// A handle another thread can sleep on until this ring has entries
    /// (see [`wait_any`]).
    pub fn doorbell(&self) -> Doorbell {
        Doorbell {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Lets a thread that is not the consumer (an event loop watching many
/// flows) see whether a ring has entries and sleep until it does. It reads
/// the consumer's published head, so entries count as pending until the
/// consumer pops them.
#[derive(Debug, Clone)]
pub struct Doorbell {
    shared: Arc<Shared>,
}

impl Doorbell {
    /// Entries wait in the ring.
    pub fn pending(&self) -> bool {
        let tail = self.shared.tail().load(Ordering::Acquire);
        let head = self.shared.head().load(Ordering::Acquire);
        tail != head
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed()
    }
}

/// Most futexes one [`wait_any`] sleeps on (the kernel's limit).
pub const MAX_WAIT: usize = sys::FUTEX_WAITV_MAX;

/// Sleeps until one of `bells` has entries or is closed, one of the
/// `extra` words differs from the value given with it, or `timeout`
/// passes; returns at once if that already holds. Spurious returns are
/// possible: callers re-check what they wait for. At most [`MAX_WAIT`]
/// futexes in all; more are refused with `InvalidInput`. Allocates nothing.
pub fn wait_any<'a>(
    bells: impl Iterator<Item = &'a Doorbell> + Clone,
    extra: &[(&'a AtomicU32, u32)],
    timeout: Option<Duration>,
) -> io::Result<()> {
    for b in bells.clone() {
        b.shared.waiting().fetch_add(1, Ordering::Relaxed);
    }
    // Dekker with the producers, as in `Consumer::wait`: our flags, then
    // their tails. The tails we check are the values we sleep on, so an
    // entry pushed after the check changes the word and ends the sleep.
    fence(Ordering::SeqCst);
    let mut list = sys::WaitList::default();
    let mut ready = false;
    let mut result = Ok(());
    for b in bells.clone() {
        let tail = b.shared.tail().load(Ordering::Relaxed);
        ready |= tail != b.shared.head().load(Ordering::Relaxed) || b.shared.closed();
        result = result.and(list.push(b.shared.tail(), tail));
    }
    for &(word, expected) in extra {
        ready |= word.load(Ordering::Relaxed) != expected;
        result = result.and(list.push(word, expected));
    }
    if result.is_ok() && !ready {
        result = list.wait(timeout);
    }
    for b in bells {
        b.shared.waiting().fetch_sub(1, Ordering::Relaxed);
    }
    result
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.shared.line0[w::CONSUMER_SLOT].store(0, Ordering::Release);
        self.shared.line0[w::CONSUMER_PID].store(0, Ordering::Release);
    }
}

impl From<io::Error> for MemError {
    fn from(e: io::Error) -> MemError {
        MemError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_into_an_armed_ring_kicks_the_eventfd_and_only_then() {
        let ring = Ring::create("ring-test", 8).unwrap();
        let mut p = ring.producer().unwrap();
        let mut c = ring.consumer(1).unwrap();
        let kick = sys::eventfd().unwrap();
        p.set_kick(kick.try_clone().unwrap());
        // Not armed: the producer stays silent.
        assert!(p.push(Desc(1)));
        assert_eq!(sys::eventfd_drain(kick.as_fd()), 0);
        // Armed with an entry waiting: no sleep.
        assert!(c.arm_kick());
        c.disarm_kick();
        assert_eq!(c.pop(), Some(Desc(1)));
        assert!(!c.arm_kick());
        assert!(p.push(Desc(2)));
        assert!(p.push(Desc(3)));
        assert_eq!(sys::eventfd_drain(kick.as_fd()), 2);
        c.disarm_kick();
        assert!(p.push(Desc(4)));
        assert_eq!(sys::eventfd_drain(kick.as_fd()), 0);
        // A futex sleeper on the same ring is still woken (the flag bits
        // are apart).
        assert_eq!(c.pop_slice(&mut [Desc(0); 8]), 3);
        std::thread::scope(|s| {
            let waiter = s.spawn(move || c.wait(Some(Duration::from_secs(5))));
            std::thread::sleep(Duration::from_millis(50));
            assert!(p.push(Desc(5)));
            assert_eq!(waiter.join().unwrap(), Wait::Ready);
        });
    }

    #[test]
    fn entries_come_out_in_order_across_wrap_around() {
        let ring = Ring::create("ring-test", 8).unwrap();
        let mut p = ring.producer().unwrap();
        let mut c = ring.consumer(1).unwrap();
        let mut next = 0u64;
        let mut expect = 0u64;
        for round in 0..100 {
            let n = 1 + round % 8;
            let batch: Vec<Desc> = (0..n as u64).map(|i| Desc(next + i)).collect();
            let pushed = p.push_slice(&batch);
            next += pushed as u64;
            let mut out = [Desc(0); 8];
            let got = c.pop_slice(&mut out[..(round % 5) + 1]);
            for d in &out[..got] {
                assert_eq!(d.0, expect);
                expect += 1;
            }
        }
        while let Some(d) = c.pop() {
            assert_eq!(d.0, expect);
            expect += 1;
        }
        assert_eq!(expect, next);
    }

    #[test]
    fn a_full_ring_refuses_and_an_empty_one_yields_nothing() {
        let ring = Ring::create("ring-test", 4).unwrap();
        let mut p = ring.producer().unwrap();
        let mut c = ring.consumer(1).unwrap();
        assert_eq!(c.pop(), None);
        assert_eq!(p.push_slice(&[Desc(1); 6]), 4);
        assert!(!p.push(Desc(9)));
        assert_eq!(c.pop(), Some(Desc(1)));
        assert!(p.push(Desc(9)));
    }

    #[test]
    fn wait_any_wakes_on_the_ring_that_gets_an_entry() {
        let (a, b) = (Ring::create("wait-a", 8).unwrap(), Ring::create("wait-b", 8).unwrap());
        let (ca, cb) = (a.consumer(1).unwrap(), b.consumer(1).unwrap());
        let (da, db) = (ca.doorbell(), cb.doorbell());
        let mut pb = b.producer().unwrap();
        let bell = AtomicU32::new(0);
        // Nothing pending: the timeout ends the wait.
        let t = Instant::now();
        wait_any([&da, &db].into_iter(), &[(&bell, 0)], Some(Duration::from_millis(30))).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(25));
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                pb.push(Desc(7));
            });
            wait_any([&da, &db].into_iter(), &[(&bell, 0)], Some(Duration::from_secs(10))).unwrap();
        });
        assert!(db.pending() && !da.pending());
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn wait_any_wakes_on_a_word_and_on_close() {
        let a = Ring::create("wait-c", 8).unwrap();
        let ca = a.consumer(1).unwrap();
        let da = ca.doorbell();
        let bell = AtomicU32::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                bell.store(1, Ordering::Release);
                sys::futex_wake(&bell);
            });
            wait_any(std::iter::once(&da), &[(&bell, 0)], None).unwrap();
        });
        assert_eq!(bell.load(Ordering::Acquire), 1);
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                a.close();
            });
            wait_any(std::iter::once(&da), &[(&bell, 1)], None).unwrap();
        });
        assert!(da.is_closed() && !da.pending());
    }

    #[test]
    fn each_role_can_be_taken_once() {
        let ring = Ring::create("ring-test", 4).unwrap();
        let p = ring.producer().unwrap();
        assert!(matches!(ring.producer(), Err(MemError::RoleTaken)));
        drop(p);
        assert!(ring.producer().is_ok());
        let _c = ring.consumer(3).unwrap();
        assert!(matches!(ring.consumer(4), Err(MemError::RoleTaken)));
        assert_eq!(ring.producer().unwrap().consumer_slot(), 3);
    }

    #[test]
    fn a_sleeping_consumer_wakes_on_push_and_on_close() {
        let ring = Ring::create("ring-test", 4).unwrap();
        let mut p = ring.producer().unwrap();
        let mut c = ring.consumer(1).unwrap();
        assert_eq!(c.wait(Some(Duration::from_millis(20))), Wait::TimedOut);
        let t = std::thread::spawn(move || {
            let first = c.wait(Some(Duration::from_secs(10)));
            let d = c.pop();
            let second = c.wait(Some(Duration::from_secs(10)));
            (first, d, second)
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(p.push(Desc(42)));
        std::thread::sleep(Duration::from_millis(50));
        p.close();
        let (first, d, second) = t.join().unwrap();
        assert_eq!((first, d, second), (Wait::Ready, Some(Desc(42)), Wait::Closed));
    }

    #[test]
    fn attach_refuses_a_region_that_is_not_a_ring() {
        let junk = Region::create("junk", 4096, Backing::Base).unwrap();
        assert!(matches!(
            Ring::attach(junk.fd().try_clone_to_owned().unwrap()),
            Err(MemError::BadRegion(_))
        ));
        let ring = Ring::create("ring-test", 16).unwrap();
        let again = Ring::attach(ring.fd().try_clone_to_owned().unwrap()).unwrap();
        assert_eq!(again.capacity(), 16);
    }
}
