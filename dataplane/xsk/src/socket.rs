//! One AF_XDP socket bound to one (interface, queue), moving pool buffers
//! through its four rings in bursts.
//!
//! Every call on the packet path (`fill`, `rx_burst`, `tx_burst`,
//! `complete`) touches each ring's shared index words at most twice,
//! allocates nothing (beyond pushing into the caller's `Vec`), and makes a
//! syscall only when the kernel asked for one through a ring's
//! need-wakeup flag, or in copy mode, where the kernel sends only from
//! inside `sendto`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use o7s_mem::{Buf, Desc, PoolCache, SlotId};

use crate::XskError;
use crate::lent::Lent;
use crate::ring::{ConsRing, Memory, ProdRing, XdpDesc};
use crate::sys;
use crate::umem::Umem;

/// How to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindMode {
    /// Zero-copy if the driver supports it, copy otherwise.
    #[default]
    Auto,
    /// Copy mode (any interface with an XDP program, veth included).
    Copy,
    /// Zero-copy or fail.
    ZeroCopy,
}

/// The mode a socket is bound in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The kernel copies frames between its own buffers and the UMEM.
    Copy,
    /// The NIC reads and writes the UMEM directly.
    ZeroCopy,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Copy => "copy",
            Mode::ZeroCopy => "zero-copy",
        })
    }
}

/// Ring sizes and binding options of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XskConfig {
    /// Entries per ring, each a power of two.
    pub rx_size: u32,
    pub tx_size: u32,
    pub fill_size: u32,
    pub comp_size: u32,
    pub bind: BindMode,
    /// Let the kernel say when it needs a syscall to make progress
    /// (`XDP_USE_NEED_WAKEUP`), instead of kicking it on every burst. A
    /// socket sharing a UMEM registration gets the setting of the socket
    /// that registered it.
    pub need_wakeup: bool,
}

impl Default for XskConfig {
    fn default() -> XskConfig {
        XskConfig {
            rx_size: 2048,
            tx_size: 2048,
            fill_size: 4096,
            comp_size: 2048,
            bind: BindMode::Auto,
            need_wakeup: true,
        }
    }
}

impl XskConfig {
    fn validate(&self) -> Result<(), XskError> {
        for size in [self.rx_size, self.tx_size, self.fill_size, self.comp_size] {
            if !size.is_power_of_two() || size > 1 << 24 {
                return Err(XskError::Config("ring sizes must be powers of two up to 16777216"));
            }
        }
        Ok(())
    }
}

/// An interface, by name or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interface {
    Name(String),
    Index(u32),
}

impl From<&str> for Interface {
    fn from(name: &str) -> Interface {
        Interface::Name(name.to_owned())
    }
}

impl From<String> for Interface {
    fn from(name: String) -> Interface {
        Interface::Name(name)
    }
}

impl From<u32> for Interface {
    fn from(index: u32) -> Interface {
        Interface::Index(index)
    }
}

impl Interface {
    /// (index, name) in this thread's network namespace.
    fn resolve(self) -> Result<(u32, String), XskError> {
        match self {
            Interface::Name(name) => match sys::ifindex(&name) {
                Ok(index) => Ok((index, name)),
                Err(source) => Err(XskError::Interface { name, source }),
            },
            Interface::Index(index) => match sys::ifname(index) {
                Ok(name) => Ok((index, name)),
                Err(source) => Err(XskError::Interface {
                    name: format!("#{index}"),
                    source,
                }),
            },
        }
    }
}

/// What a socket is bound to and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XskInfo {
    pub ifname: String,
    pub ifindex: u32,
    pub queue_id: u32,
    pub mode: Mode,
    pub need_wakeup: bool,
    /// Bound with `XDP_SHARED_UMEM` to an existing registration.
    pub shared_umem: bool,
    pub rx_size: u32,
    pub tx_size: u32,
    pub fill_size: u32,
    pub comp_size: u32,
    pub chunk_size: u32,
}

/// Octets the kernel keeps in front of a received frame in its chunk
/// (`XDP_PACKET_HEADROOM`; the UMEM adds no head room of its own here).
pub const XDP_PACKET_HEADROOM: u32 = 256;

impl XskInfo {
    /// Longest frame a chunk takes: the chunk less the head room. The
    /// kernel drops longer ones (counted in [`KernelStats::rx_dropped`]).
    pub fn max_frame(&self) -> u32 {
        self.chunk_size.saturating_sub(XDP_PACKET_HEADROOM)
    }
}

/// Counters of one socket, kept by the socket (the kernel's own are
/// [`KernelStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XskStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// TX buffers the kernel gave back through the completion ring.
    pub tx_completed: u64,
    /// Buffers put on the fill ring.
    pub filled: u64,
    /// RX descriptors naming no buffer this socket put on the fill ring,
    /// or lying outside their chunk: dropped and counted.
    pub rx_invalid: u64,
    /// Completion entries naming no buffer this socket sent.
    pub comp_invalid: u64,
    /// Frames `tx_burst` refused because the kernel would reject them
    /// without ever completing them (zero length); freed.
    pub tx_invalid: u64,
    /// `fill` calls that found the kernel had taken every buffer given so
    /// far: it may have run dry (the kernel's count of frames dropped for
    /// that is [`KernelStats::rx_fill_ring_empty_descs`]).
    pub fill_ring_empty: u64,
    /// Frames `tx_burst` left with the caller because the TX ring was full.
    pub tx_ring_full: u64,
    pub rx_wakeups: u64,
    pub tx_wakeups: u64,
    /// Wake-up syscalls that failed other than by backpressure (EAGAIN,
    /// EBUSY, ENOBUFS), e.g. ENETDOWN.
    pub wakeup_errors: u64,
    /// Buffers the kernel returned whose pool owner word no longer named
    /// this socket's cache: not delivered, not freed.
    pub lost: u64,
}

/// The kernel's counters for a socket (`XDP_STATISTICS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelStats {
    /// Frames dropped for a reason other than a full RX or empty fill ring
    /// (e.g. too long for a chunk).
    pub rx_dropped: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
    /// Frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the kernel found the fill ring empty.
    pub rx_fill_ring_empty_descs: u64,
    /// Times the kernel found the TX ring empty when woken.
    pub tx_ring_empty_descs: u64,
}

/// What [`XskSocket::drain`] gave back to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drained {
    /// Received frames nobody had read.
    pub rx_unread: u32,
    /// TX buffers completed while draining.
    pub tx_completed: u32,
    /// Buffers still on the fill ring or inside the kernel's RX path when
    /// the socket closed.
    pub fill: u32,
    /// Frames still on the TX ring (never sent), or sent without a
    /// completion before the socket closed.
    pub tx: u32,
    /// Buffers that could not be claimed back (see [`XskStats::lost`]).
    pub lost: u32,
}

/// How long `drain` waits for the kernel to complete frames it already
/// took from the TX ring (they may still be read by the device).
const DRAIN_TX_WAIT: Duration = Duration::from_millis(200);

/// In zero-copy mode the driver stops using the fill buffers in a kernel
/// work item that closing the socket schedules (`xp_release_deferred`),
/// with no completion user space can wait for; `drain` gives it this long.
const ZERO_COPY_SETTLE: Duration = Duration::from_millis(50);

/// Frames the kernel sends per `sendto` in copy mode (`TX_BATCH_SIZE` in
/// net/xdp/xsk.c).
const COPY_TX_BATCH: u32 = 32;

/// An AF_XDP socket whose UMEM is the packet pool.
///
/// Use it from one thread with one [`PoolCache`]: buffers lent to the
/// kernel stay held by that cache's pool slot, and come back through it.
#[derive(Debug)]
pub struct XskSocket {
    fill: ProdRing<u64>,
    rx: ConsRing<XdpDesc>,
    tx: ProdRing<XdpDesc>,
    comp: ConsRing<u64>,
    fd: Arc<OwnedFd>,
    umem: Umem,
    /// log2 of the chunk size: UMEM address = index << shift | offset.
    shift: u32,
    buffers: u32,
    need_wakeup: bool,
    /// The pool slot of the cache this socket works with, fixed by first use.
    slot: Option<SlotId>,
    lent: Lent,
    info: XskInfo,
    stats: XskStats,
}

/// A socket with its rings mapped and bound.
struct Opened {
    fd: Arc<OwnedFd>,
    fill: ProdRing<u64>,
    rx: ConsRing<XdpDesc>,
    tx: ProdRing<XdpDesc>,
    comp: ConsRing<u64>,
    mode: Mode,
}

fn mode_flag(mode: Mode) -> u16 {
    match mode {
        Mode::Copy => libc::XDP_COPY,
        Mode::ZeroCopy => libc::XDP_ZEROCOPY,
    }
}

/// Why a call may have failed, for the error message.
fn hint(call: &str, err: &std::io::Error) -> &'static str {
    match (call, err.raw_os_error().unwrap_or(0)) {
        ("socket(AF_XDP)", libc::EAFNOSUPPORT) => " (kernel built without CONFIG_XDP_SOCKETS)",
        ("socket(AF_XDP)", libc::EPERM) => " (needs CAP_NET_RAW)",
        ("XDP_UMEM_REG", libc::ENOBUFS | libc::ENOMEM | libc::EPERM | libc::EAGAIN) => {
            " (pinning the pool needs CAP_IPC_LOCK or RLIMIT_MEMLOCK above the pool size)"
        }
        ("XDP_UMEM_REG", libc::EINVAL) => {
            " (the kernel takes chunks of 2048 or 4096 octets: pool buf_size above the page size)"
        }
        ("bind", libc::EBUSY) => " (the queue already has an AF_XDP socket)",
        ("bind", libc::EOPNOTSUPP) => " (the driver has no zero-copy AF_XDP support)",
        ("bind", libc::EINVAL) => " (no such queue, or a socket of this UMEM is bound to it already)",
        ("bind", libc::ENODEV) => " (no such interface in this network namespace)",
        _ => "",
    }
}

impl Opened {
    /// Creates a socket, sets up and maps its rings, and binds it in
    /// `mode`: to a fresh registration of the pool, or sharing that of
    /// `shared`, a bound socket registered in the same mode.
    fn open(
        umem: &Umem,
        (ifname, ifindex, queue): (&str, u32, u32),
        config: &XskConfig,
        mode: Mode,
        shared: Option<&OwnedFd>,
    ) -> Result<Opened, XskError> {
        let err = |call: &'static str| {
            move |source: std::io::Error| XskError::Kernel {
                call,
                ifname: ifname.to_owned(),
                queue,
                hint: hint(call, &source),
                source,
            }
        };
        let fd = sys::xdp_socket().map_err(err("socket(AF_XDP)"))?;
        if shared.is_none() {
            umem.register(&fd).map_err(err("XDP_UMEM_REG"))?;
        }
        // Every socket gets its own fill and completion ring: one per
        // (interface, queue) is what the kernel requires of sharers too.
        for (opt, size) in [
            (libc::XDP_UMEM_FILL_RING, config.fill_size),
            (libc::XDP_UMEM_COMPLETION_RING, config.comp_size),
            (libc::XDP_RX_RING, config.rx_size),
            (libc::XDP_TX_RING, config.tx_size),
        ] {
            sys::set_ring_size(fd.as_fd(), opt, size).map_err(err("setsockopt(ring size)"))?;
        }
        let off = sys::mmap_offsets(fd.as_fd()).map_err(err("XDP_MMAP_OFFSETS"))?;
        let map = |pgoff: u64, ring: &libc::xdp_ring_offset, entries: u32, entry: usize| {
            let len = usize::try_from(ring.desc)
                .ok()
                .and_then(|d| d.checked_add(entries as usize * entry))
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidData));
            len.and_then(|len| sys::map_ring(fd.as_fd(), pgoff, len))
                .map(Memory::Kernel)
                .map_err(err("mmap(ring)"))
        };
        let desc = std::mem::size_of::<XdpDesc>();
        let fill = ProdRing::new(
            map(libc::XDP_UMEM_PGOFF_FILL_RING, &off.fr, config.fill_size, 8)?,
            &off.fr,
            config.fill_size,
        );
        let comp = ConsRing::new(
            map(libc::XDP_UMEM_PGOFF_COMPLETION_RING, &off.cr, config.comp_size, 8)?,
            &off.cr,
            config.comp_size,
        );
        let rx = ConsRing::new(
            map(libc::XDP_PGOFF_RX_RING as u64, &off.rx, config.rx_size, desc)?,
            &off.rx,
            config.rx_size,
        );
        let tx = ProdRing::new(
            map(libc::XDP_PGOFF_TX_RING as u64, &off.tx, config.tx_size, desc)?,
            &off.tx,
            config.tx_size,
        );
        let rings_err = err("ring offsets");
        let (fill, comp, rx, tx) = (
            fill.map_err(&rings_err)?,
            comp.map_err(&rings_err)?,
            rx.map_err(&rings_err)?,
            tx.map_err(&rings_err)?,
        );
        // Sharers must not name a mode: the kernel takes it, and
        // need-wakeup, from the registration.
        let flags = match shared {
            Some(_) => 0,
            None => {
                mode_flag(mode)
                    | if config.need_wakeup {
                        libc::XDP_USE_NEED_WAKEUP
                    } else {
                        0
                    }
            }
        };
        sys::bind(fd.as_fd(), ifindex, queue, flags, shared.map(|s| s.as_fd())).map_err(err("bind"))?;
        let bound = match sys::zero_copy(fd.as_fd()).map_err(err("XDP_OPTIONS"))? {
            true => Mode::ZeroCopy,
            false => Mode::Copy,
        };
        if bound != mode {
            return Err(XskError::Config("kernel bound the socket in another mode than asked"));
        }
        Ok(Opened {
            fd: Arc::new(fd),
            fill,
            rx,
            tx,
            comp,
            mode,
        })
    }
}

impl XskSocket {
    /// Opens a socket on queue `queue_id` of `iface` (in this thread's
    /// network namespace) over `umem`, and logs what it bound.
    ///
    /// The first socket of a mode registers the pool with the kernel; later
    /// ones share that registration. With [`BindMode::Auto`] zero-copy is
    /// tried first, then copy.
    pub fn new(
        umem: &Umem,
        iface: impl Into<Interface>,
        queue_id: u32,
        config: XskConfig,
    ) -> Result<XskSocket, XskError> {
        config.validate()?;
        let (ifindex, ifname) = iface.into().resolve()?;
        let tries: &[Mode] = match config.bind {
            BindMode::Auto => &[Mode::ZeroCopy, Mode::Copy],
            BindMode::Copy => &[Mode::Copy],
            BindMode::ZeroCopy => &[Mode::ZeroCopy],
        };
        let mut groups = umem.lock();
        let mut opened = Err(XskError::Config("no bind mode to try"));
        let mut shared_umem = false;
        for &mode in tries {
            let owner = groups.get_mut(mode).live_member();
            shared_umem = owner.is_some();
            opened = Opened::open(umem, (&ifname, ifindex, queue_id), &config, mode, owner.as_deref());
            match &opened {
                Ok(_) => break,
                Err(e) => tracing::debug!(ifname, queue_id, %mode, error = %e, "AF_XDP bind attempt failed"),
            }
        }
        let Opened {
            fd,
            fill,
            rx,
            tx,
            comp,
            mode,
        } = opened?;
        let group = groups.get_mut(mode);
        if !shared_umem {
            group.need_wakeup = config.need_wakeup;
        } else if group.need_wakeup != config.need_wakeup {
            tracing::warn!(
                ifname,
                queue_id,
                need_wakeup = group.need_wakeup,
                "shared UMEM: need-wakeup follows the socket that registered it"
            );
        }
        let need_wakeup = group.need_wakeup;
        group.join(&fd);
        drop(groups);

        let chunk_size = umem.chunk_size();
        let info = XskInfo {
            ifname,
            ifindex,
            queue_id,
            mode,
            need_wakeup,
            shared_umem,
            rx_size: rx.size(),
            tx_size: tx.size(),
            fill_size: fill.size(),
            comp_size: comp.size(),
            chunk_size,
        };
        tracing::info!(
            ifname = info.ifname,
            ifindex,
            queue = queue_id,
            mode = %mode,
            need_wakeup,
            shared_umem,
            rx = info.rx_size,
            tx = info.tx_size,
            fill = info.fill_size,
            comp = info.comp_size,
            chunk = chunk_size,
            "AF_XDP socket bound"
        );
        let buffers = umem.pool().count();
        Ok(XskSocket {
            fill,
            rx,
            tx,
            comp,
            fd,
            umem: umem.clone(),
            shift: chunk_size.trailing_zeros(),
            buffers,
            need_wakeup,
            slot: None,
            lent: Lent::new(buffers),
            info,
            stats: XskStats::default(),
        })
    }

    /// The socket, for the XSKMAP of the steering program (and for `poll`).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn info(&self) -> &XskInfo {
        &self.info
    }

    pub fn stats(&self) -> XskStats {
        self.stats
    }

    /// The kernel's counters for this socket.
    pub fn kernel_stats(&self) -> Result<KernelStats, XskError> {
        let s = sys::statistics(self.fd.as_fd()).map_err(|source| XskError::Kernel {
            call: "XDP_STATISTICS",
            ifname: self.info.ifname.clone(),
            queue: self.info.queue_id,
            hint: "",
            source,
        })?;
        Ok(KernelStats {
            rx_dropped: s.rx_dropped,
            rx_invalid_descs: s.rx_invalid_descs,
            tx_invalid_descs: s.tx_invalid_descs,
            rx_ring_full: s.rx_ring_full,
            rx_fill_ring_empty_descs: s.rx_fill_ring_empty_descs,
            tx_ring_empty_descs: s.tx_ring_empty_descs,
        })
    }

    /// Frames handed to the TX ring and not yet completed (for ECN marking
    /// and backpressure).
    pub fn tx_pending(&self) -> usize {
        self.lent.tx.count() as usize
    }

    /// Buffers on the fill ring or inside the kernel's RX path.
    pub fn fill_held(&self) -> usize {
        self.lent.fill.count() as usize
    }

    /// Checks that `cache` is the one this socket works with (the first
    /// one used), since buffers lent to the kernel come back to its slot.
    fn use_cache(&mut self, cache: &PoolCache) {
        match self.slot {
            Some(slot) => assert!(
                slot == cache.slot(),
                "an XskSocket must always be used with the same PoolCache"
            ),
            None => {
                assert!(
                    cache.pool().buffer_area().0 == self.umem.pool().buffer_area().0,
                    "the PoolCache belongs to another pool than the socket's UMEM"
                );
                self.slot = Some(cache.slot());
            }
        }
    }

    /// Splits a UMEM address into (buffer index, offset in the buffer).
    fn chunk(&self, addr: u64) -> Option<(u32, u16)> {
        let idx = addr >> self.shift;
        if idx >= u64::from(self.buffers) {
            return None;
        }
        // Below the chunk size, which is at most 32 KiB.
        let offset = (addr & ((1 << self.shift) - 1)) as u16;
        Some((idx as u32, offset))
    }

    /// Takes back a buffer the kernel returned, as an empty `Buf`.
    fn reclaim(&mut self, cache: &mut PoolCache, idx: u32) -> Option<Buf> {
        match cache.claim(Desc::new(idx, 0, 0)) {
            Ok(buf) => Some(buf),
            Err(_) => {
                self.stats.lost += 1;
                None
            }
        }
    }

    /// Moves up to `max` free buffers from `cache` to the fill ring, for
    /// the kernel to receive into; returns how many. Call it every poll:
    /// a kernel without fill buffers drops frames.
    ///
    /// # Panics
    /// If `cache` is not the cache this socket was first used with.
    pub fn fill(&mut self, cache: &mut PoolCache, max: usize) -> usize {
        self.use_cache(cache);
        if self.stats.filled > 0 && self.fill.kernel_pending() == 0 {
            self.stats.fill_ring_empty += 1;
        }
        let n = self.fill.reserve(max.min(u32::MAX as usize) as u32);
        let mut placed = 0;
        while placed < n {
            let Some(buf) = cache.alloc() else { break };
            let idx = buf.index();
            // The buffer stays held by the cache's slot while the kernel
            // has it; the fill bit records where it went.
            let _ = buf.into_desc();
            self.fill.write(placed, u64::from(idx) << self.shift);
            let fresh = self.lent.fill.insert(idx);
            debug_assert!(fresh, "buffer {idx} lent twice");
            placed += 1;
        }
        self.fill.submit(placed);
        self.stats.filled += u64::from(placed);
        placed as usize
    }

    /// Appends up to `max` received frames to `out` (which should have the
    /// capacity); returns how many. A descriptor that does not name a
    /// buffer this socket put on the fill ring, or does not fit its chunk,
    /// is counted in [`XskStats::rx_invalid`] and never delivered.
    ///
    /// # Panics
    /// If `cache` is not the cache this socket was first used with.
    pub fn rx_burst(&mut self, cache: &mut PoolCache, out: &mut Vec<Buf>, max: usize) -> usize {
        self.use_cache(cache);
        let n = self.rx.peek(max.min(u32::MAX as usize) as u32);
        let mut got = 0;
        for i in 0..n {
            let d = self.rx.read(i);
            let Some((idx, head)) = self.chunk(d.addr) else {
                self.stats.rx_invalid += 1;
                continue;
            };
            // Only a buffer we lent may become a Buf: anything else could
            // alias one the process already holds.
            if !self.lent.fill.remove(idx) {
                self.stats.rx_invalid += 1;
                continue;
            }
            let room = (1usize << self.shift) - usize::from(head);
            if d.len as usize > room || d.options != 0 {
                // Ours, but nonsense: take the buffer back, drop the frame.
                self.stats.rx_invalid += 1;
                if let Some(buf) = self.reclaim(cache, idx) {
                    cache.free(buf);
                }
                continue;
            }
            // len <= room <= 32 KiB, so it fits a u16.
            match cache.claim(Desc::new(idx, head, d.len as u16)) {
                Ok(buf) => {
                    self.stats.rx_bytes += u64::from(d.len);
                    out.push(buf);
                    got += 1;
                }
                Err(_) => self.stats.lost += 1,
            }
        }
        self.rx.release(n);
        self.stats.rx_packets += got as u64;
        got
    }

    /// Moves frames from the front of `frames` to the TX ring, as many as
    /// fit, and kicks the kernel if it needs it; returns how many went on
    /// the ring. Frames that did not fit stay in `frames` (counted in
    /// [`XskStats::tx_ring_full`]); empty frames, which the kernel would
    /// swallow without completing, are freed and counted as
    /// [`XskStats::tx_invalid`]. The buffers come back through
    /// [`complete`](Self::complete).
    ///
    /// # Panics
    /// If `cache` is not the cache this socket was first used with.
    pub fn tx_burst(&mut self, cache: &mut PoolCache, frames: &mut Vec<Buf>) -> usize {
        self.use_cache(cache);
        let room = self.tx.reserve(frames.len().min(u32::MAX as usize) as u32);
        // Empty frames take no ring entry: find how far into `frames` the
        // reserved entries reach.
        let (mut take, mut fit) = (0, 0);
        while fit < room && take < frames.len() {
            fit += u32::from(!frames[take].is_empty());
            take += 1;
        }
        let mut placed = 0;
        for buf in frames.drain(..take) {
            if buf.is_empty() {
                self.stats.tx_invalid += 1;
                cache.free(buf);
                continue;
            }
            let (idx, head, len) = (buf.index(), buf.head(), buf.len());
            // The frame may come from another cache of this process; the
            // completion must find it held by ours.
            let _ = cache.lend(buf);
            let addr = (u64::from(idx) << self.shift) + head as u64;
            self.tx.write(
                placed,
                XdpDesc {
                    addr,
                    len: len as u32,
                    options: 0,
                },
            );
            let fresh = self.lent.tx.insert(idx);
            debug_assert!(fresh, "buffer {idx} lent twice");
            self.stats.tx_bytes += len as u64;
            placed += 1;
        }
        self.tx.submit(placed);
        self.stats.tx_packets += u64::from(placed);
        self.stats.tx_ring_full += frames.len() as u64;
        if placed > 0 {
            self.kick_tx();
        }
        placed as usize
    }

    /// Takes back the buffers of sent frames from the completion ring and
    /// frees them to `cache`; returns how many. Also kicks the kernel again
    /// if it left frames on the TX ring (in copy mode it sends at most 32
    /// per kick, and none while the completion ring is full), so call it
    /// every poll while [`tx_pending`](Self::tx_pending) is non-zero.
    ///
    /// # Panics
    /// If `cache` is not the cache this socket was first used with.
    pub fn complete(&mut self, cache: &mut PoolCache) -> usize {
        self.use_cache(cache);
        let n = self.reap_completions(cache);
        if self.lent.tx.count() > 0 {
            self.kick_tx();
        }
        n
    }

    fn reap_completions(&mut self, cache: &mut PoolCache) -> usize {
        let n = self.comp.peek(u32::MAX);
        for i in 0..n {
            let addr = self.comp.read(i);
            match self.chunk(addr) {
                Some((idx, _)) if self.lent.tx.remove(idx) => {
                    if let Some(buf) = self.reclaim(cache, idx) {
                        cache.free(buf);
                    }
                }
                _ => self.stats.comp_invalid += 1,
            }
        }
        self.comp.release(n);
        self.stats.tx_completed += u64::from(n);
        n as usize
    }

    /// Makes the kernel process the TX ring, if it has entries the kernel
    /// has not taken and the kernel wants a kick for them.
    fn kick_tx(&mut self) {
        if self.need_wakeup && !self.tx.needs_wakeup() {
            return;
        }
        let mut pending = self.tx.kernel_pending();
        if pending == 0 {
            return;
        }
        match self.info.mode {
            // The driver sends from its own context once woken.
            Mode::ZeroCopy => self.sendto(),
            // The kernel sends inside sendto, COPY_TX_BATCH frames at a
            // time: kick until the ring is empty or a kick makes no
            // progress (completion ring full, device busy).
            Mode::Copy => {
                for _ in 0..pending.div_ceil(COPY_TX_BATCH) + 1 {
                    self.sendto();
                    let left = self.tx.kernel_pending();
                    if left == 0 || left >= pending {
                        break;
                    }
                    pending = left;
                }
            }
        }
    }

    fn sendto(&mut self) {
        self.stats.tx_wakeups += 1;
        if let Err(e) = sys::kick_tx(self.fd.as_fd()) {
            // EAGAIN: batch limit or device busy; EBUSY: the device
            // dropped a frame (it still completes); ENOBUFS: out of skbs.
            if !matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EBUSY | libc::ENOBUFS)) {
                self.stats.wakeup_errors += 1;
            }
        }
    }

    /// Wakes the driver if it stopped receiving for want of fill buffers
    /// (the fill ring's need-wakeup flag); returns whether it did. Copy
    /// mode never sets the flag. Call it after [`fill`](Self::fill).
    pub fn wakeup_rx_if_needed(&mut self) -> bool {
        if !self.need_wakeup || !self.fill.needs_wakeup() {
            return false;
        }
        self.stats.rx_wakeups += 1;
        if let Err(e) = sys::wakeup_rx(self.fd.as_fd())
            && !matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EBUSY))
        {
            self.stats.wakeup_errors += 1;
        }
        true
    }

    /// Closes the socket and gives every buffer it held back to `cache`:
    /// unread received frames, completed and uncompleted TX buffers, and
    /// the fill ring's buffers, including those the kernel took from the
    /// ring but had not used (no ring shows them; the socket's own record
    /// of what it lent does).
    ///
    /// Before closing, it waits up to 200 ms for the kernel to complete
    /// frames it already took from the TX ring, which a device may still
    /// be reading. Frames still on the TX ring are not sent. Closing
    /// releases the kernel's hold on the rest: at once in copy mode; in
    /// zero-copy mode the driver lets go of its fill buffers in deferred
    /// kernel work, which `drain` gives 50 ms.
    ///
    /// # Panics
    /// If `cache` is not the cache this socket was first used with.
    pub fn drain(mut self, cache: &mut PoolCache) -> Drained {
        self.use_cache(cache);
        let lost_at_start = self.stats.lost;
        let mut d = Drained::default();
        loop {
            let n = self.rx.peek(u32::MAX);
            if n == 0 {
                break;
            }
            for i in 0..n {
                let desc = self.rx.read(i);
                match self.chunk(desc.addr) {
                    Some((idx, _)) if self.lent.fill.remove(idx) => {
                        if let Some(buf) = self.reclaim(cache, idx) {
                            cache.free(buf);
                            d.rx_unread += 1;
                        }
                    }
                    _ => self.stats.rx_invalid += 1,
                }
            }
            self.rx.release(n);
        }
        let deadline = Instant::now() + DRAIN_TX_WAIT;
        loop {
            d.tx_completed += self.reap_completions(cache) as u32;
            let in_flight = self.lent.tx.count().saturating_sub(self.tx.kernel_pending());
            if in_flight == 0 || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }

        let XskSocket {
            fill,
            rx,
            tx,
            comp,
            fd,
            umem,
            mut lent,
            info,
            stats,
            ..
        } = self;
        drop((fill, rx, tx, comp));
        umem.close(fd);
        if info.mode == Mode::ZeroCopy {
            std::thread::sleep(ZERO_COPY_SETTLE);
        }
        let mut stats = stats;
        d.fill = lent.fill.count();
        d.tx = lent.tx.count();
        for idx in lent.fill.take_all().into_iter().chain(lent.tx.take_all()) {
            match cache.claim(Desc::new(idx, 0, 0)) {
                Ok(buf) => cache.free(buf),
                Err(_) => stats.lost += 1,
            }
        }
        d.lost = (stats.lost - lost_at_start) as u32;
        tracing::info!(
            ifname = info.ifname,
            queue = info.queue_id,
            rx_unread = d.rx_unread,
            tx_completed = d.tx_completed,
            fill = d.fill,
            tx = d.tx,
            lost = d.lost,
            "AF_XDP socket drained and closed"
        );
        d
    }
}

#[cfg(test)]
mod tests {
    //! The socket's bookkeeping against a simulated kernel: the rings live
    //! on the heap and the test plays the kernel's side of each, so the
    //! paths real kernels never take (bad descriptors) run without root.

    use super::*;
    use crate::ring::heap;
    use o7s_mem::{Backing, Pool, PoolConfig};

    const RING: u32 = 64;

    fn pool() -> Pool {
        let config = PoolConfig {
            count: 256,
            backing: Backing::Base,
            ..PoolConfig::default()
        };
        Pool::create("xsk-unit", config).unwrap()
    }

    /// A socket over heap rings; its fd is /dev/null (never used: the TX
    /// ring's need-wakeup flag stays clear, so nothing kicks).
    fn simulated(umem: &Umem) -> XskSocket {
        let (fill, comp, rx, tx) = (heap(RING, 0), heap(RING, 0), heap(RING, 0), heap(RING, 0));
        let null = std::fs::File::open("/dev/null").unwrap();
        XskSocket {
            fill: ProdRing::new(fill.0, &fill.1, RING).unwrap(),
            rx: ConsRing::new(rx.0, &rx.1, RING).unwrap(),
            tx: ProdRing::new(tx.0, &tx.1, RING).unwrap(),
            comp: ConsRing::new(comp.0, &comp.1, RING).unwrap(),
            fd: Arc::new(OwnedFd::from(null)),
            umem: umem.clone(),
            shift: 11,
            buffers: umem.pool().count(),
            need_wakeup: true,
            slot: None,
            lent: Lent::new(umem.pool().count()),
            info: XskInfo {
                ifname: "sim0".into(),
                ifindex: 0,
                queue_id: 0,
                mode: Mode::Copy,
                need_wakeup: true,
                shared_umem: false,
                rx_size: RING,
                tx_size: RING,
                fill_size: RING,
                comp_size: RING,
                chunk_size: 2048,
            },
            stats: XskStats::default(),
        }
    }

    fn all_back(pool: &Pool, cache: PoolCache) {
        drop(cache);
        let s = pool.stats();
        assert_eq!((s.free, s.held(), s.corrupt), (256, 0, 0), "{s:?}");
    }

    #[test]
    fn a_socket_can_move_to_a_worker_thread() {
        fn send<T: Send>() {}
        send::<XskSocket>();
        send::<Umem>();
    }

    #[test]
    fn rx_delivers_only_buffers_it_lent_and_counts_every_other_descriptor() {
        let pool = pool();
        let umem = Umem::new(&pool).unwrap();
        let mut cache = pool.cache().unwrap();
        let mut xsk = simulated(&umem);
        assert_eq!(xsk.fill(&mut cache, 4), 4);
        let lent: Vec<u64> = std::iter::from_fn(|| xsk.fill.kernel_consume()).collect();
        assert_eq!(lent.len(), 4);
        assert!(lent.iter().all(|a| a % 2048 == 0), "the fill ring carries chunk bases");
        let not_lent = cache.alloc().unwrap();
        let foreign = u64::from(not_lent.index()) * 2048 + 256;

        for d in [
            XdpDesc {
                addr: lent[0] + 256,
                len: 100,
                options: 0,
            }, // good
            XdpDesc {
                addr: lent[0] + 256,
                len: 100,
                options: 0,
            }, // the same buffer again
            XdpDesc {
                addr: foreign,
                len: 100,
                options: 0,
            }, // a buffer the process holds
            XdpDesc {
                addr: 256 * 2048 + 5,
                len: 10,
                options: 0,
            }, // beyond the pool
            XdpDesc {
                addr: lent[1] + 256,
                len: 1793,
                options: 0,
            }, // past the chunk's end
            XdpDesc {
                addr: lent[2] + 256,
                len: 60,
                options: 1,
            }, // multi-buffer, not asked for
            XdpDesc {
                addr: lent[3],
                len: 2048,
                options: 0,
            }, // a whole chunk: good
        ] {
            xsk.rx.kernel_produce(d);
        }
        let mut out = Vec::with_capacity(8);
        assert_eq!(xsk.rx_burst(&mut cache, &mut out, 64), 2);
        assert_eq!(
            out.iter().map(|b| (b.head(), b.len())).collect::<Vec<_>>(),
            [(256, 100), (0, 2048)]
        );
        let stats = xsk.stats();
        assert_eq!((stats.rx_packets, stats.rx_invalid, stats.lost), (2, 5, 0));
        // The two nonsense descriptors of our own buffers gave them back.
        assert_eq!(xsk.fill_held(), 0);
        cache.free_burst(&mut out);
        cache.free(not_lent);
        let d = xsk.drain(&mut cache);
        assert_eq!(d, Drained::default());
        all_back(&pool, cache);
    }

    #[test]
    fn tx_writes_buffer_addresses_and_completion_frees_each_buffer_once() {
        let pool = pool();
        let umem = Umem::new(&pool).unwrap();
        let mut cache = pool.cache().unwrap();
        let mut other_worker = pool.cache().unwrap();
        let mut xsk = simulated(&umem);
        let mut frames = Vec::with_capacity(4);
        for len in [60, 1500] {
            let mut b = other_worker.alloc().unwrap();
            b.append(len).unwrap();
            frames.push(b);
        }
        let idx: Vec<u32> = frames.iter().map(Buf::index).collect();
        assert_eq!(xsk.tx_burst(&mut cache, &mut frames), 2);
        assert_eq!(xsk.tx_pending(), 2);
        let sent: Vec<XdpDesc> = std::iter::from_fn(|| xsk.tx.kernel_consume()).collect();
        assert_eq!(
            sent,
            [
                XdpDesc {
                    addr: u64::from(idx[0]) * 2048 + 256,
                    len: 60,
                    options: 0
                },
                XdpDesc {
                    addr: u64::from(idx[1]) * 2048 + 256,
                    len: 1500,
                    options: 0
                },
            ]
        );
        for addr in [sent[0].addr, sent[0].addr, 99 * 2048, sent[1].addr] {
            xsk.comp.kernel_produce(addr);
        }
        assert_eq!(xsk.complete(&mut cache), 4);
        let stats = xsk.stats();
        assert_eq!((stats.tx_packets, stats.comp_invalid, stats.lost), (2, 2, 0));
        assert_eq!(xsk.tx_pending(), 0);
        // Both buffers came back to this socket's cache, though another
        // cache had allocated them.
        assert_eq!(cache.cached(), 2);
        drop(other_worker);
        xsk.drain(&mut cache);
        all_back(&pool, cache);
    }

    #[test]
    fn drain_returns_what_the_kernel_took_from_the_fill_ring_but_never_used() {
        let pool = pool();
        let umem = Umem::new(&pool).unwrap();
        let mut cache = pool.cache().unwrap();
        let mut xsk = simulated(&umem);
        assert_eq!(xsk.fill(&mut cache, usize::MAX), RING as usize);
        // The kernel takes ten (no ring shows them any more), uses one.
        let taken: Vec<u64> = (0..10).filter_map(|_| xsk.fill.kernel_consume()).collect();
        xsk.rx.kernel_produce(XdpDesc {
            addr: taken[0] + 256,
            len: 64,
            options: 0,
        });
        // Two frames on the TX ring the kernel never takes.
        let mut frames = Vec::with_capacity(2);
        cache.alloc_burst(&mut frames, 2);
        for f in &mut frames {
            f.append(64).unwrap();
        }
        xsk.tx_burst(&mut cache, &mut frames);
        let d = xsk.drain(&mut cache);
        assert_eq!(
            d,
            Drained {
                rx_unread: 1,
                tx_completed: 0,
                fill: RING - 1,
                tx: 2,
                lost: 0
            }
        );
        all_back(&pool, cache);
    }

    #[test]
    #[should_panic(expected = "same PoolCache")]
    fn using_a_second_cache_is_refused() {
        let pool = pool();
        let umem = Umem::new(&pool).unwrap();
        let (mut a, mut b) = (pool.cache().unwrap(), pool.cache().unwrap());
        let mut xsk = simulated(&umem);
        xsk.fill(&mut a, 1);
        xsk.fill(&mut b, 1);
    }
}
