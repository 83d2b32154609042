//! One end of a flow: reading and writing SDUs through the shared rings,
//! and its settings (C `flow_read`, `flow_write`, `fccntl`).
//!
//! ```text
//!  flow_write: caller's bytes --copy--> pool buffer --desc--> tx ring --> peer
//!  flow_read:  rx ring --desc--> pool buffer --copy--> caller's buffer --> buffer freed
//! ```
//!
//! Each direction has its own pool cache (slot) and lock, so one thread can
//! block in `read` while another writes, as oping's reader and writer do.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use o7s_mem::{Buf, CacheShape, Consumer, Doorbell, PoolCache, Producer, Ring, Wait};
use o7s_wire::qos::QosSpec;

use crate::error::{Error, Result};
use crate::ipc::Inner;

/// Flow flags (C `FLOWF*`, same values); see [`Flow::set_flags`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowFlags(pub u32);

impl FlowFlags {
    /// Read only (`FLOWFRDONLY`).
    pub const RDONLY: FlowFlags = FlowFlags(0);
    /// Write only (`FLOWFWRONLY`).
    pub const WRONLY: FlowFlags = FlowFlags(0o1);
    /// Read and write (`FLOWFRDWR`).
    pub const RDWR: FlowFlags = FlowFlags(0o2);
    /// The access-mode bits (`FLOWFACCMODE`).
    pub const ACCMODE: FlowFlags = FlowFlags(0o3);
    /// Marked down (`FLOWFDOWN`); setting or clearing it raises
    /// [`Event::Down`](crate::Event::Down) / [`Event::Up`](crate::Event::Up).
    pub const DOWN: FlowFlags = FlowFlags(0o4);
    /// Reads do not block (`FLOWFRNOBLOCK`).
    pub const RNOBLOCK: FlowFlags = FlowFlags(0o1000);
    /// Writes do not block (`FLOWFWNOBLOCK`).
    pub const WNOBLOCK: FlowFlags = FlowFlags(0o2000);
    /// Neither blocks (`FLOWFNONBLOCK`).
    pub const NONBLOCK: FlowFlags = FlowFlags(0o3000);
    /// An SDU larger than the read buffer is an error, not read in pieces
    /// (`FLOWFRNOPART`).
    pub const RNOPART: FlowFlags = FlowFlags(0o10000);
    /// Writes are whole SDUs (`FLOWFWNOPART`; always so here).
    pub const WNOPART: FlowFlags = FlowFlags(0o20000);
    /// The C library's default: `FLOWFRDWR | FLOWFWNOPART`.
    pub const DEFAULT: FlowFlags = FlowFlags(0o2 | 0o20000);

    /// Whether every bit of `other` is set (the access mode compared as a
    /// value).
    pub fn contains(self, other: FlowFlags) -> bool {
        self.0 & other.0 == other.0
    }

    fn readable(self) -> bool {
        matches!(self.0 & 0o3, 0 | 2)
    }

    fn writable(self) -> bool {
        matches!(self.0 & 0o3, 1 | 2)
    }
}

impl core::ops::BitOr for FlowFlags {
    type Output = FlowFlags;
    fn bitor(self, rhs: FlowFlags) -> FlowFlags {
        FlowFlags(self.0 | rhs.0)
    }
}

pub(crate) struct Rx {
    pub(crate) cons: Consumer,
    pub(crate) cache: PoolCache,
    /// An SDU read in part: the buffer and how much of it went out.
    partial: Option<(Buf, usize)>,
    /// The last piece filled the caller's buffer exactly: the next read
    /// returns 0 to mark the end of the SDU (as the C library does).
    end_due: bool,
}

pub(crate) struct Tx {
    pub(crate) prod: Producer,
    pub(crate) cache: PoolCache,
    out: Vec<Buf>,
}

impl std::fmt::Debug for Rx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rx").field("partial", &self.partial.is_some()).finish()
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").finish_non_exhaustive()
    }
}

/// Where a flow end is in its life.
pub(crate) mod state {
    pub const PENDING: u8 = 0;
    pub const UP: u8 = 1;
    pub const FAILED: u8 = 2;
    pub const RELEASED: u8 = 3;
}

/// Pending-event bits the control thread sets for `fevent`.
pub(crate) mod bits {
    pub const ALLOC: u32 = 1;
    pub const ALLOC_FAILED: u32 = 2;
    pub const MARKED_DOWN: u32 = 4;
    pub const MARKED_UP: u32 = 8;
}

const NO_TIMEOUT: u64 = u64::MAX;

fn encode_timeout(t: Option<Duration>) -> u64 {
    t.map_or(NO_TIMEOUT, |t| u64::try_from(t.as_nanos()).unwrap_or(NO_TIMEOUT - 1))
}

fn decode_timeout(v: u64) -> Option<Duration> {
    (v != NO_TIMEOUT).then(|| Duration::from_nanos(v))
}

/// The flow's state shared by its handle, the control thread and the
/// event sets that watch it.
#[derive(Debug)]
pub(crate) struct FlowShared {
    pub(crate) fd: u32,
    pub(crate) ipc: Arc<Inner>,
    /// irmd's id, 0 while pending.
    pub(crate) id: AtomicU32,
    pub(crate) state: AtomicU8,
    pub(crate) rx: Mutex<Option<Rx>>,
    pub(crate) tx: Mutex<Option<Tx>>,
    pub(crate) rings: OnceLock<(Ring, Ring, Doorbell)>,
    pub(crate) qos: OnceLock<QosSpec>,
    pub(crate) name: String,
    /// Why an asynchronous allocation failed.
    pub(crate) failure: Mutex<Option<(i32, String)>>,
    pub(crate) events: AtomicU32,
    pub(crate) down_reported: AtomicBool,
    /// irmd said the layer released the flow.
    pub(crate) down: AtomicBool,
    flags: AtomicU32,
    rcv_timeo: AtomicU64,
    snd_timeo: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another reader leaves the data consistent (every update
    // is a single assignment); keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FlowShared {
    pub(crate) fn new(ipc: Arc<Inner>, fd: u32, name: &str) -> FlowShared {
        FlowShared {
            fd,
            ipc,
            id: AtomicU32::new(0),
            state: AtomicU8::new(state::PENDING),
            rx: Mutex::new(None),
            tx: Mutex::new(None),
            rings: OnceLock::new(),
            qos: OnceLock::new(),
            name: name.to_owned(),
            failure: Mutex::new(None),
            events: AtomicU32::new(0),
            down_reported: AtomicBool::new(false),
            down: AtomicBool::new(false),
            flags: AtomicU32::new(FlowFlags::DEFAULT.0),
            rcv_timeo: AtomicU64::new(NO_TIMEOUT),
            snd_timeo: AtomicU64::new(NO_TIMEOUT),
        }
    }

    /// Maps the flow's rings (receive, send) and brings it up.
    pub(crate) fn attach(
        &self,
        id: u32,
        qos: QosSpec,
        rx_ring: Ring,
        tx_ring: Ring,
        kick: Option<std::os::fd::OwnedFd>,
    ) -> Result<()> {
        let pool = &self.ipc.pool;
        // Caches of one buffer: what an idle flow holds, no other can use.
        let rx_cache = pool.cache_shaped(CacheShape::FLOW)?;
        let cons = rx_ring.consumer(rx_cache.slot())?;
        let tx_cache = pool.cache_shaped(CacheShape::FLOW)?;
        let mut prod = tx_ring.producer()?;
        if let Some(kick) = kick {
            prod.set_kick(kick);
        }
        let bell = cons.doorbell();
        *lock(&self.rx) = Some(Rx {
            cons,
            cache: rx_cache,
            partial: None,
            end_due: false,
        });
        *lock(&self.tx) = Some(Tx {
            prod,
            cache: tx_cache,
            out: Vec::with_capacity(1),
        });
        let _ = self.rings.set((rx_ring, tx_ring, bell));
        let _ = self.qos.set(qos);
        self.id.store(id, Ordering::Release);
        self.state.store(state::UP, Ordering::Release);
        Ok(())
    }

    pub(crate) fn fail(&self, code: i32, message: String) {
        *lock(&self.failure) = Some((code, message));
        self.state.store(state::FAILED, Ordering::Release);
    }

    /// Closes both rings: a blocked reader or writer of either end wakes.
    pub(crate) fn close_rings(&self) {
        if let Some((rx, tx, _)) = self.rings.get() {
            rx.close();
            tx.close();
        }
    }

    pub(crate) fn doorbell(&self) -> Option<&Doorbell> {
        self.rings.get().map(|(_, _, b)| b)
    }

    /// The flow is down: closed rings, or irmd said so.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire) || self.doorbell().is_some_and(Doorbell::is_closed)
    }

    fn not_up(&self) -> Error {
        match self.state.load(Ordering::Acquire) {
            state::PENDING => Error::Pending(self.fd),
            state::FAILED => match lock(&self.failure).clone() {
                Some((code, message)) => Error::from_reply(o7s_seam::rpc::Error { code, message }, &self.name),
                None => Error::FlowDown(self.fd),
            },
            _ => Error::FlowDown(self.fd),
        }
    }

    fn flags(&self) -> FlowFlags {
        FlowFlags(self.flags.load(Ordering::Relaxed))
    }

    fn read(&self, out: &mut [u8]) -> Result<usize> {
        let flags = self.flags();
        if !flags.readable() {
            return Err(Error::AccessMode(self.fd));
        }
        let mut guard = lock(&self.rx);
        let Some(rx) = guard.as_mut() else {
            return Err(self.not_up());
        };
        if rx.end_due {
            rx.end_due = false;
            return Ok(0);
        }
        let (buf, offset) = match rx.partial.take() {
            Some(p) => p,
            None => (self.next_sdu(rx, flags)?, 0),
        };
        let pool = rx.cache.pool();
        let data = &pool.data(&buf)[offset..];
        if data.len() > out.len() && flags.contains(FlowFlags::RNOPART) {
            let len = data.len();
            rx.cache.free(buf);
            return Err(Error::MessageSize { len, room: out.len() });
        }
        let n = data.len().min(out.len());
        out[..n].copy_from_slice(&data[..n]);
        if n < data.len() {
            rx.partial = Some((buf, offset + n));
        } else {
            rx.cache.free(buf);
        }
        rx.end_due = rx.partial.is_none() && n == out.len() && n > 0;
        Ok(n)
    }

    /// Waits for the next SDU per the flow's blocking mode and timeout.
    fn next_sdu(&self, rx: &mut Rx, flags: FlowFlags) -> Result<Buf> {
        let mut deadline = Deadline::new(decode_timeout(self.rcv_timeo.load(Ordering::Relaxed)));
        loop {
            if let Some(desc) = rx.cons.pop() {
                match rx.cache.claim(desc) {
                    Ok(buf) => return Ok(buf),
                    // A descriptor that does not check out is dropped
                    // (counted in the cache's stats); read the next.
                    Err(_) => continue,
                }
            }
            if self.down.load(Ordering::Acquire) || rx.cons.is_closed() {
                return Err(Error::FlowDown(self.fd));
            }
            if flags.contains(FlowFlags::RNOBLOCK) {
                return Err(Error::WouldBlock);
            }
            let left = deadline.left()?;
            if spin_for_entries(&mut rx.cons, left.map_or(SPIN, |l| l.min(SPIN))) {
                continue;
            }
            if rx.cons.wait(left) == Wait::TimedOut {
                return Err(Error::TimedOut);
            }
        }
    }

    fn write(&self, data: &[u8]) -> Result<usize> {
        let flags = self.flags();
        if !flags.writable() {
            return Err(Error::AccessMode(self.fd));
        }
        let mut guard = lock(&self.tx);
        let Some(tx) = guard.as_mut() else {
            return Err(self.not_up());
        };
        let mut backoff = Backoff {
            round: 0,
            nonblock: flags.contains(FlowFlags::WNOBLOCK),
            deadline: Deadline::new(decode_timeout(self.snd_timeo.load(Ordering::Relaxed))),
        };
        let mut buf = loop {
            if let Some(buf) = tx.cache.alloc() {
                break buf;
            }
            // The pool is exhausted: wait for readers to free buffers.
            backoff.wait()?;
        };
        let room = buf.tailroom();
        if data.len() > room {
            tx.cache.free(buf);
            return Err(Error::MessageSize { len: data.len(), room });
        }
        if buf.append(data.len()).is_err() {
            tx.cache.free(buf);
            return Err(Error::MessageSize { len: data.len(), room });
        }
        tx.cache.pool().data_mut(&mut buf).copy_from_slice(data);
        tx.out.push(buf);
        loop {
            if tx.prod.is_closed() || self.down.load(Ordering::Acquire) {
                tx.cache.free_burst(&mut tx.out);
                return Err(Error::FlowDown(self.fd));
            }
            // Nothing goes while the peer has not attached its end yet
            // (just after allocation) or its ring is full.
            if tx.cache.send(&mut tx.prod, &mut tx.out) == 1 {
                return Ok(data.len());
            }
            if let Err(e) = backoff.wait() {
                tx.cache.free_burst(&mut tx.out);
                return Err(e);
            }
        }
    }
}

/// How long a blocking read polls its ring before it sleeps. Waking a
/// sleeper costs both sides a syscall and, on a VM, tens of µs of
/// scheduling; an answer that comes within this time is taken without
/// either (the writer skips the wake-up of a reader that is not asleep).
const SPIN: Duration = Duration::from_micros(50);

/// Polls `cons` for up to `limit`; true when entries are ready or the ring
/// closed.
fn spin_for_entries(cons: &mut Consumer, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    loop {
        for _ in 0..32 {
            if cons.ready() > 0 || cons.is_closed() {
                return true;
            }
            std::hint::spin_loop();
        }
        if Instant::now() >= until {
            return false;
        }
    }
}

/// A timeout that starts when it is first asked about: a call that has no
/// need to wait reads no clock.
struct Deadline {
    timeout: Option<Duration>,
    at: Option<Instant>,
}

impl Deadline {
    fn new(timeout: Option<Duration>) -> Deadline {
        Deadline { timeout, at: None }
    }

    /// Time left (`None`: no timeout); `TimedOut` once it passed.
    fn left(&mut self) -> Result<Option<Duration>> {
        let Some(timeout) = self.timeout else {
            return Ok(None);
        };
        let at = *self.at.get_or_insert_with(|| Instant::now() + timeout);
        match at.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(Error::TimedOut),
        }
    }
}

/// Waiting for room with no one to wake us: spin briefly, then yield, then
/// sleep in growing steps up to 1 ms.
struct Backoff {
    round: u32,
    nonblock: bool,
    deadline: Deadline,
}

impl Backoff {
    fn wait(&mut self) -> Result<()> {
        if self.nonblock {
            return Err(Error::WouldBlock);
        }
        self.deadline.left()?;
        self.round += 1;
        match self.round {
            0..=64 => std::hint::spin_loop(),
            65..=128 => std::thread::yield_now(),
            r => std::thread::sleep(Duration::from_micros(u64::from((r - 128).min(100)) * 10)),
        }
        Ok(())
    }
}

/// One end of a flow. Dropping it deallocates the flow (C
/// `flow_dealloc`). Reads and writes take `&self`: share it between a
/// reading and a writing thread.
#[derive(Debug)]
pub struct Flow {
    pub(crate) shared: Arc<FlowShared>,
}

impl Flow {
    /// The flow's descriptor in this process (≥ 64, as C flow fds), as
    /// [`FQueue`](crate::FQueue) reports it.
    pub fn fd(&self) -> u32 {
        self.shared.fd
    }

    /// irmd's id for this flow end; `None` while allocation is pending.
    pub fn id(&self) -> Option<u32> {
        Some(self.shared.id.load(Ordering::Acquire)).filter(|&id| id != 0)
    }

    /// The name the flow was allocated to or accepted for.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Whether the flow is allocated (an asynchronous allocation may still
    /// be pending or have failed).
    pub fn is_up(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) == state::UP && !self.shared.is_down()
    }

    /// Reads one SDU, or the next piece of one (C `flow_read`). With
    /// partial reads (the default) an SDU larger than `buf` comes in
    /// pieces, and when a piece that ends an SDU exactly fills `buf` the
    /// next call returns 0 to mark the end, as in C; with
    /// [`FlowFlags::RNOPART`] an oversized SDU is an error and is dropped.
    /// Blocks per the flow's flags and receive timeout.
    ///
    /// # Errors
    /// [`Error::WouldBlock`], [`Error::TimedOut`], [`Error::FlowDown`] when
    /// the peer or the layer released the flow, [`Error::MessageSize`],
    /// [`Error::Pending`] while an asynchronous allocation is under way.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.shared.read(buf)
    }

    /// Sends `data` as one SDU (C `flow_write`): one copy into a pool
    /// buffer. Blocks, per the flow's flags and send timeout, while the
    /// pool or the peer's ring is full.
    ///
    /// # Errors
    /// As [`read`](Self::read); [`Error::MessageSize`] when `data` exceeds
    /// a packet buffer.
    pub fn write(&self, data: &[u8]) -> Result<usize> {
        self.shared.write(data)
    }

    /// Sets (or with `None` clears) the receive timeout (C `fccntl
    /// FLOWSRCVTIMEO`).
    pub fn set_rcv_timeout(&self, timeout: Option<Duration>) {
        self.shared.rcv_timeo.store(encode_timeout(timeout), Ordering::Relaxed);
    }

    /// The receive timeout (C `FLOWGRCVTIMEO`).
    pub fn rcv_timeout(&self) -> Option<Duration> {
        decode_timeout(self.shared.rcv_timeo.load(Ordering::Relaxed))
    }

    /// Sets (or clears) the send timeout (C `FLOWSSNDTIMEO`).
    pub fn set_snd_timeout(&self, timeout: Option<Duration>) {
        self.shared.snd_timeo.store(encode_timeout(timeout), Ordering::Relaxed);
    }

    /// The send timeout (C `FLOWGSNDTIMEO`).
    pub fn snd_timeout(&self) -> Option<Duration> {
        decode_timeout(self.shared.snd_timeo.load(Ordering::Relaxed))
    }

    /// The flow's QoS (C `FLOWGQOSSPEC`); `None` while pending.
    pub fn qos(&self) -> Option<QosSpec> {
        self.shared.qos.get().copied()
    }

    /// The flow's flags (C `FLOWGFLAGS`).
    pub fn flags(&self) -> FlowFlags {
        self.shared.flags()
    }

    /// Sets the flow's flags (C `FLOWSFLAGS`). Setting or clearing
    /// [`FlowFlags::DOWN`] raises a Down or Up event.
    pub fn set_flags(&self, flags: FlowFlags) {
        let old = FlowFlags(self.shared.flags.swap(flags.0, Ordering::Relaxed));
        if old.contains(FlowFlags::DOWN) != flags.contains(FlowFlags::DOWN) {
            let bit = if flags.contains(FlowFlags::DOWN) {
                bits::MARKED_DOWN
            } else {
                bits::MARKED_UP
            };
            self.shared.events.fetch_or(bit, Ordering::Release);
            self.shared.ipc.ring_bell();
        }
    }

    /// SDUs waiting to be read (C `FLOWGRXQLEN`).
    pub fn rx_queue_len(&self) -> usize {
        let mut guard = lock(&self.shared.rx);
        guard
            .as_mut()
            .map_or(0, |rx| rx.cons.ready() + usize::from(rx.partial.is_some()))
    }

    /// SDUs written and not yet taken by the peer (C `FLOWGTXQLEN`).
    pub fn tx_queue_len(&self) -> usize {
        let mut guard = lock(&self.shared.tx);
        guard.as_mut().map_or(0, |tx| {
            let cap = self.shared.rings.get().map_or(0, |(_, t, _)| t.capacity() as usize);
            cap - tx.prod.free_entries()
        })
    }

    /// Deallocates the flow now and says how it went (dropping the flow
    /// does the same, ignoring errors).
    pub fn dealloc(self) -> Result<()> {
        self.shared.ipc.flow_dealloc(&self.shared)
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        // Errors do not matter any more: irmd frees the flow when this
        // process exits anyway.
        let _ = self.shared.ipc.flow_dealloc(&self.shared);
    }
}

impl FlowShared {
    /// Releases what this process holds of the flow: buffers waiting in
    /// the receive ring or in a partial read go back to the pool.
    pub(crate) fn release(&self) {
        self.state.store(state::RELEASED, Ordering::Release);
        self.close_rings();
        if let Some(mut rx) = lock(&self.rx).take() {
            if let Some((buf, _)) = rx.partial.take() {
                rx.cache.free(buf);
            }
            while let Some(desc) = rx.cons.pop() {
                if let Ok(buf) = rx.cache.claim(desc) {
                    rx.cache.free(buf);
                }
            }
        }
        if let Some(mut tx) = lock(&self.tx).take() {
            tx.cache.free_burst(&mut tx.out);
        }
    }
}
