//! The UDP shim's socket over io_uring (PROTOCOL.md §4): datagrams of a
//! 4-octet EID and an SDU, received straight into pool buffers.
//!
//! ```text
//!  receive: one multishot RecvMsg, many completions (Linux 6.0+)
//!
//!  provided-buffer ring (IORING_REGISTER_PBUF_RING, group 0)
//!   entry: addr, len, bid ──────────┐         rx_bufs[bid] = the pool Buf
//!                                   v
//!  pool buffer  +---------------+-----+------+--------------------+------+
//!               | head room ... | out | name | payload: EID + SDU | tail |
//!               +---------------+-----+------+--------------------+------+
//!                               ^ registered  ^ pool head room (the Buf's head)
//!   out  = struct io_uring_recvmsg_out (16 octets), name = the source
//!          sockaddr (16 octets udp4, 28 udp6), both written by the kernel
//!          into the head room so that the payload lands where every
//!          other port puts a frame
//!
//!  send: one SendMsg SQE per datagram on a second ring, one
//!        io_uring_enter per burst; completions free the buffers
//! ```
//!
//! Receive and send use two rings so that each side reaps only its own
//! completions: `tx_burst` never meets a received datagram it has nowhere
//! to put, and `rx_burst` never waits behind sends.
//!
//! Buffer ids are 16 bits and pool indices 24, so a bid does not name a
//! pool buffer directly: it names a slot of `rx_bufs`, which holds the
//! `Buf` the kernel may fill. A completion carrying bid `b` hands
//! `rx_bufs[b]` up and refills slot `b` with a fresh buffer from the cache
//! (the same bid goes back into the ring with the new address).
//!
//! Both rings run with `COOP_TASKRUN | TASKRUN_FLAG`: the kernel does not
//! interrupt the polling worker to post completions, it raises a flag that
//! the next burst sees, and one `io_uring_enter` then posts all of them.
//! No syscall is made per datagram; a burst makes at most one per ring.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use io_uring::types::{BufRingEntry, Fd, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode};
use o7s_mem::{Buf, Pool, PoolCache};

use super::{Port, PortInfo, PortKind};
use crate::forward::Shim;
use o7s_seam::counters::{DropReason, KernelLoss, Snapshot};

/// The UDP shim's port unless configured otherwise.
pub const DEFAULT_PORT: u16 = o7s_wire::udp::DEFAULT_PORT;

/// user_data of the multishot receive.
const RECV: u64 = u64::MAX;
/// user_data of its cancellation.
const CANCEL: u64 = u64::MAX - 1;
/// The buffer group of the provided-buffer ring (one ring per port, each
/// on its own io_uring instance, so every port can use group 0).
const BGID: u16 = 0;
/// `struct io_uring_recvmsg_out`, in front of every received datagram.
const RECVMSG_OUT_LEN: usize = 16;
/// Completions reaped at a time.
const BURST: usize = 64;
/// How long `drain` waits for the kernel to give buffers back.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest io_uring (and provided-buffer ring) size the kernel accepts.
const MAX_ENTRIES: u32 = 32768;

/// How to open a [`UringUdpPort`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UringConfig {
    /// Local address and port (IPv4 or IPv6); default `0.0.0.0:3435`.
    pub bind: SocketAddr,
    /// Where [`Port::tx_burst`] sends: the shim's data path to a single
    /// peer. Without one, `tx_burst` takes nothing; [`UringUdpPort::tx_burst_to`]
    /// names a destination per datagram.
    pub peer: Option<SocketAddr>,
    /// Submission queue entries of the send ring, and so sends in flight.
    pub entries: u32,
    /// Receive buffers lent to the kernel: a power of two up to 32768.
    pub buffers: u32,
    /// SO_RCVBUF / SO_SNDBUF wanted (forced past rmem_max with
    /// CAP_NET_ADMIN, else capped by the kernel).
    pub socket_buffer: usize,
}

impl Default for UringConfig {
    fn default() -> UringConfig {
        UringConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            peer: None,
            entries: 256,
            buffers: 1024,
            socket_buffer: 4 << 20,
        }
    }
}

/// Why a [`UringUdpPort`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum UringError {
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> UringError {
    move |source| UringError::Io { what, source }
}

/// What the port did, counted by the worker that polls it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UringCounters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Datagrams larger than a buffer (MSG_TRUNC): dropped.
    pub rx_truncated: u64,
    /// Completions whose source address could not be read: dropped.
    pub rx_bad_source: u64,
    /// Times the kernel found no provided buffer and ended the multishot
    /// receive (ENOBUFS); it is re-armed once buffers are back.
    pub rx_no_buffer: u64,
    /// Times the pool had no buffer to lend the kernel.
    pub rx_alloc_fail: u64,
    /// Other receive errors.
    pub rx_errors: u64,
    /// Datagrams received while draining: dropped.
    pub rx_discarded: u64,
    /// Multishot receives submitted (the first and every re-arm).
    pub rx_arms: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Sends the kernel failed (the completion's errno).
    pub tx_errors: u64,
    /// Destinations of the other address family: dropped.
    pub tx_bad_dest: u64,
    /// io_uring_enter calls, both rings.
    pub submits: u64,
    pub submit_errors: u64,
}

/// The provided-buffer ring: `entries` 16-octet `struct io_uring_buf` in
/// page-aligned anonymous memory that the kernel reads. Its tail is the
/// `resv` field of entry 0; the kernel keeps the head to itself.
struct ProvidedRing {
    base: NonNull<BufRingEntry>,
    map_len: usize,
    entries: u16,
    tail: u16,
}

impl ProvidedRing {
    fn new(entries: u16) -> io::Result<ProvidedRing> {
        let map_len = usize::from(entries) * size_of::<BufRingEntry>();
        // SAFETY: a fresh anonymous private mapping; no existing memory is
        // affected, and the result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(ptr.cast::<BufRingEntry>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(ProvidedRing {
            base,
            map_len,
            entries,
            tail: 0,
        })
    }

    fn addr(&self) -> u64 {
        self.base.as_ptr() as u64
    }

    /// Writes an entry past the published tail; [`ProvidedRing::publish`]
    /// hands it to the kernel.
    fn push(&mut self, bid: u16, addr: u64, len: u32) {
        let i = usize::from(self.tail & (self.entries - 1));
        // SAFETY: i < entries, so the entry lies inside the mapping. The
        // kernel reads only entries between its head and the published
        // tail and this one is past the tail; the setters write addr, len
        // and bid and leave `resv` (the tail, in entry 0) alone.
        let entry = unsafe { &mut *self.base.as_ptr().add(i) };
        entry.set_addr(addr);
        entry.set_len(len);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail is the u16 at offset 14 of entry 0, inside the
        // mapping and 2-aligned (the mapping is page-aligned). The kernel
        // only reads it (with acquire semantics); this port is the only
        // writer.
        let tail = unsafe { AtomicU16::from_ptr(BufRingEntry::tail(self.base.as_ptr()).cast_mut()) };
        tail.store(self.tail, Ordering::Release);
    }

    /// Empties the ring (the kernel's head restarts at 0 on registration).
    fn reset(&mut self) {
        self.tail = 0;
        self.publish();
    }
}

impl Drop for ProvidedRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once. The kernel
        // pinned its pages when the ring was registered, so a ring torn
        // down after this does not read freed memory.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.map_len) };
    }
}

/// Receive side: its own io_uring, the provided-buffer ring, and the
/// buffers lent to the kernel.
struct RxSide {
    uring: IoUring,
    pbuf: ProvidedRing,
    registered: bool,
    /// Whether a multishot receive is in flight.
    armed: bool,
    /// The buffer behind each bid while the kernel may fill it.
    bufs: Box<[Option<Buf>]>,
    /// Bids without a buffer (the pool ran dry); refilled on the next
    /// burst.
    empty: Vec<u16>,
    /// The recvmsg template: only msg_namelen matters to the kernel.
    msg: Box<libc::msghdr>,
    /// Octets of out + name in front of the payload.
    prefix: usize,
    /// Buffer offset of the first payload octet (the Buf's head).
    land: usize,
    /// Registered length of each buffer (from `land - prefix` to its end).
    region_len: u32,
}

impl RxSide {
    fn register(&mut self) -> io::Result<()> {
        if self.registered {
            return Ok(());
        }
        self.pbuf.reset();
        // SAFETY: the ring memory lives in `pbuf`, which outlives the
        // registration: `quiesce` unregisters before buffers are reused,
        // and the io_uring instance is dropped (closing the registration)
        // before `pbuf` is unmapped.
        unsafe {
            self.uring
                .submitter()
                .register_buf_ring_with_flags(self.pbuf.addr(), self.pbuf.entries, BGID, 0)?;
        }
        self.registered = true;
        Ok(())
    }

    /// Lends `buf` to the kernel under `bid` (published by the caller).
    fn provide(&mut self, pool: &Pool, bid: u16, mut buf: Buf) {
        let start = pool.buffer_mut(&mut buf).as_mut_ptr() as u64 + (self.land - self.prefix) as u64;
        self.pbuf.push(bid, start, self.region_len);
        self.bufs[usize::from(bid)] = Some(buf);
    }

    /// Gives buffers to the bids that have none.
    fn refill(&mut self, cache: &mut PoolCache, c: &mut UringCounters) {
        while let Some(&bid) = self.empty.last() {
            let Some(buf) = cache.alloc() else {
                c.rx_alloc_fail += 1;
                break;
            };
            self.empty.pop();
            self.provide(cache.pool(), bid, buf);
        }
    }

    /// Submits the multishot receive unless one is in flight or the
    /// kernel has no buffer to put a datagram in.
    fn arm(&mut self, fd: RawFd, c: &mut UringCounters) {
        if self.armed || !self.registered || self.empty.len() == self.bufs.len() {
            return;
        }
        let sqe = opcode::RecvMsgMulti::new(Fd(fd), &raw const *self.msg, BGID)
            .build()
            .user_data(RECV);
        // SAFETY: `msg` is boxed and lives as long as the ring; the kernel
        // writes only into buffers of the registered provided-buffer ring,
        // which this port holds until the receive has ended.
        if unsafe { self.uring.submission().push(&sqe) }.is_ok() {
            self.armed = true;
            c.rx_arms += 1;
        }
    }

    fn kick(&mut self, c: &mut UringCounters) {
        kick(&mut self.uring, c);
    }

    /// Handles a completion of the multishot receive: a datagram (with its
    /// bid, to refill), or nothing (an error, a drop; the buffer, if any,
    /// went straight back into the ring).
    fn complete(&mut self, pool: &Pool, e: &cqueue::Entry, c: &mut UringCounters) -> Option<(u16, Buf, SocketAddr)> {
        let flags = e.flags();
        if !cqueue::more(flags) {
            self.armed = false;
        }
        let res = e.result();
        let Some(bid) = cqueue::buffer_select(flags) else {
            match -res {
                libc::ENOBUFS => c.rx_no_buffer += 1,
                0 | libc::ECANCELED => {}
                _ => c.rx_errors += 1,
            }
            return None;
        };
        let Some(mut buf) = self.bufs.get_mut(usize::from(bid)).and_then(Option::take) else {
            // A bid this port did not lend: nothing to give back.
            c.rx_errors += 1;
            return None;
        };
        let start = self.land - self.prefix;
        let parsed = usize::try_from(res).ok().and_then(|written| {
            let region = &pool.buffer_mut(&mut buf)[start..];
            let out = RecvMsgOut::parse(&region[..written.min(region.len())], &self.msg).ok()?;
            Some((
                out.is_payload_truncated(),
                out.payload_data().len(),
                sockaddr_from(out.name_data()),
            ))
        });
        match parsed {
            Some((false, len, Some(from))) if buf.reset(self.land, len).is_ok() => {
                c.rx_packets += 1;
                c.rx_bytes += len as u64;
                Some((bid, buf, from))
            }
            Some((true, ..)) => {
                c.rx_truncated += 1;
                self.provide(pool, bid, buf);
                None
            }
            Some((false, _, None)) => {
                c.rx_bad_source += 1;
                self.provide(pool, bid, buf);
                None
            }
            _ => {
                c.rx_errors += 1;
                self.provide(pool, bid, buf);
                None
            }
        }
    }
}

/// One datagram in flight: the msghdr and everything it points to stay
/// put (in a boxed slice) until the completion.
struct TxSlot {
    msg: libc::msghdr,
    iov: libc::iovec,
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
    buf: Option<Buf>,
}

impl TxSlot {
    fn new() -> TxSlot {
        TxSlot {
            // SAFETY: msghdr and the sockaddrs are plain C structs for
            // which all-zero is a valid value (null pointers, zero lengths).
            msg: unsafe { std::mem::zeroed() },
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            // SAFETY: as above.
            v4: unsafe { std::mem::zeroed() },
            // SAFETY: as above.
            v6: unsafe { std::mem::zeroed() },
            buf: None,
        }
    }
}

/// Send side: its own io_uring and the slots of datagrams in flight.
struct TxSide {
    uring: IoUring,
    slots: Box<[TxSlot]>,
    /// Free slot indices.
    free: Vec<u32>,
    in_flight: usize,
}

impl TxSide {
    /// Frees the buffers of completed sends (into `cache`; without one, as
    /// when the port is dropped undrained, they are leaked to the slot).
    fn reap(&mut self, mut cache: Option<&mut PoolCache>, c: &mut UringCounters) {
        let TxSide {
            uring,
            slots,
            free,
            in_flight,
        } = self;
        for e in uring.completion() {
            let i = e.user_data() as u32;
            let Some(buf) = slots.get_mut(i as usize).and_then(|s| s.buf.take()) else {
                continue;
            };
            match usize::try_from(e.result()) {
                Ok(n) => {
                    c.tx_packets += 1;
                    c.tx_bytes += n as u64;
                }
                Err(_) => c.tx_errors += 1,
            }
            match cache.as_deref_mut() {
                Some(cache) => cache.free(buf),
                None => drop(buf),
            }
            free.push(i);
            *in_flight -= 1;
        }
    }

    /// Datagrams that can be queued now.
    fn room(&mut self) -> usize {
        let sq = self.uring.submission();
        self.free.len().min(sq.capacity() - sq.len())
    }

    /// Queues one datagram; the caller checked [`TxSide::room`].
    fn queue(
        &mut self,
        cache: &mut PoolCache,
        mut buf: Buf,
        dest: SocketAddr,
        fd: RawFd,
        v6: bool,
        c: &mut UringCounters,
    ) {
        let Some(dest) = fit_family(dest, v6) else {
            c.tx_bad_dest += 1;
            cache.free(buf);
            return;
        };
        let Some(i) = self.free.pop() else {
            c.tx_errors += 1;
            cache.free(buf);
            return;
        };
        let slot = &mut self.slots[i as usize];
        let data = cache.pool().data_mut(&mut buf);
        slot.iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        match dest {
            SocketAddr::V4(a) => {
                slot.v4 = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                slot.msg.msg_name = (&raw mut slot.v4).cast();
                slot.msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                slot.v6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                slot.msg.msg_name = (&raw mut slot.v6).cast();
                slot.msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        slot.msg.msg_iov = &raw mut slot.iov;
        slot.msg.msg_iovlen = 1;
        slot.buf = Some(buf);
        let sqe = opcode::SendMsg::new(Fd(fd), &raw const slot.msg)
            .build()
            .user_data(u64::from(i));
        // SAFETY: the msghdr, its iovec and its address live in `slots`, a
        // boxed slice never moved or freed while a send is in flight
        // (`drain` and drop wait for the completions), and the octets in a
        // pool buffer the slot holds until the completion.
        if unsafe { self.uring.submission().push(&sqe) }.is_ok() {
            self.in_flight += 1;
        } else if let Some(buf) = slot.buf.take() {
            // Cannot happen after `room`; keep the accounting exact anyway.
            c.tx_errors += 1;
            cache.free(buf);
            self.free.push(i);
        }
    }

    fn kick(&mut self, c: &mut UringCounters) {
        kick(&mut self.uring, c);
    }
}

/// Enters the kernel if there is something to submit or completions wait
/// to be posted.
fn kick(uring: &mut IoUring, c: &mut UringCounters) {
    let sq = uring.submission();
    let needed = !sq.is_empty() || sq.taskrun();
    drop(sq);
    if needed {
        enter(uring, c);
    }
}

fn enter(uring: &IoUring, c: &mut UringCounters) {
    match uring.submit() {
        Ok(_) => c.submits += 1,
        // EBUSY/EAGAIN: the kernel is short of memory or completions; what
        // was not submitted stays queued and goes with the next burst.
        Err(_) => c.submit_errors += 1,
    }
}

/// The source address the kernel wrote in front of a datagram.
fn sockaddr_from(name: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes(name.get(0..2)?.try_into().ok()?);
    let port = u16::from_be_bytes(name.get(2..4)?.try_into().ok()?);
    match i32::from(family) {
        libc::AF_INET => {
            let ip: [u8; 4] = name.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(ip.into(), port)))
        }
        libc::AF_INET6 => {
            // flowinfo and scope id as the kernel stores them, which is
            // how std's SocketAddrV6 holds them too.
            let flowinfo = u32::from_ne_bytes(name.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = name.get(8..24)?.try_into().ok()?;
            let scope = u32::from_ne_bytes(name.get(24..28)?.try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(ip.into(), port, flowinfo, scope)))
        }
        _ => None,
    }
}

/// `dest` in the socket's family: IPv4 in IPv4-mapped form for an IPv6
/// socket, IPv4-mapped IPv6 unmapped for an IPv4 one.
fn fit_family(dest: SocketAddr, v6: bool) -> Option<SocketAddr> {
    match (dest, v6) {
        (SocketAddr::V4(_), false) | (SocketAddr::V6(_), true) => Some(dest),
        (SocketAddr::V4(a), true) => Some(SocketAddr::V6(SocketAddrV6::new(
            a.ip().to_ipv6_mapped(),
            a.port(),
            0,
            0,
        ))),
        (SocketAddr::V6(a), false) => a
            .ip()
            .to_ipv4_mapped()
            .map(|ip| SocketAddr::V4(SocketAddrV4::new(ip, a.port()))),
    }
}

fn set_socket_buffer(fd: RawFd, force: libc::c_int, plain: libc::c_int, size: usize) -> io::Result<()> {
    let val = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    for opt in [force, plain] {
        // SAFETY: setsockopt reads an int from a valid pointer of the
        // length given.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&raw const val).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return Ok(());
        }
    }
    Err(io::Error::last_os_error())
}

/// The UDP shim's port: a UDP socket whose datagrams land in pool buffers
/// through io_uring. Frames are UDP payloads (EID + SDU).
pub struct UringUdpPort {
    info: PortInfo,
    // The rings go before the socket and their memory: fields drop in
    // order, and the kernel lets go of a ring's buffers when its fd closes.
    rx: RxSide,
    tx: TxSide,
    socket: UdpSocket,
    local: SocketAddr,
    peer: Option<SocketAddr>,
    /// The pool the port was opened for (its buffer geometry is baked
    /// into the registered regions).
    pool: Pool,
    counters: UringCounters,
}

// SAFETY: the raw pointers inside (the recvmsg template, the send slots'
// msghdrs, the provided-buffer ring) point into memory the port owns or
// into pool buffers it holds; none is tied to a thread, so moving the whole
// port to another thread is sound. The port is not Sync (no shared use).
unsafe impl Send for UringUdpPort {}

impl std::fmt::Debug for UringUdpPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringUdpPort")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("kind", &self.info.kind)
            .field("armed", &self.rx.armed)
            .field("tx_in_flight", &self.tx.in_flight)
            .finish()
    }
}

impl UringUdpPort {
    /// Binds the socket and sets up both rings for buffers of `pool`.
    /// Buffers are lent to the kernel on the first `poll` or `rx_burst`
    /// (that is when a cache is at hand). Needs Linux 6.0.
    pub fn bind(config: &UringConfig, pool: &Pool) -> Result<UringUdpPort, UringError> {
        if !config.buffers.is_power_of_two() || config.buffers > MAX_ENTRIES {
            return Err(UringError::Config("buffers must be a power of two up to 32768"));
        }
        if config.buffers > pool.count() {
            return Err(UringError::Config("more receive buffers than the pool has"));
        }
        if config.entries == 0 || config.entries > MAX_ENTRIES {
            return Err(UringError::Config("entries must be between 1 and 32768"));
        }
        let socket = UdpSocket::bind(config.bind).map_err(io_err("binding the UDP socket"))?;
        socket
            .set_nonblocking(true)
            .map_err(io_err("making the socket non-blocking"))?;
        let local = socket.local_addr().map_err(io_err("reading the bound address"))?;
        let fd = socket.as_raw_fd();
        for (force, plain) in [
            (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
            (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
        ] {
            if let Err(e) = set_socket_buffer(fd, force, plain, config.socket_buffer) {
                tracing::warn!(%local, error = %e, "socket buffer size not set");
            }
        }

        let name_len = if local.is_ipv6() {
            size_of::<libc::sockaddr_in6>()
        } else {
            size_of::<libc::sockaddr_in>()
        };
        let prefix = RECVMSG_OUT_LEN + name_len;
        let land = pool.headroom().max(prefix);
        let region_len = (pool.buf_size() - (land - prefix)) as u32;
        // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
        let mut msg: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        msg.msg_namelen = name_len as libc::socklen_t;

        let buffers = config.buffers as u16; // checked <= 32768 above
        let rx_uring = IoUring::builder()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .setup_cqsize((2 * config.buffers).max(8))
            .build(4)
            .map_err(io_err("setting up the receive io_uring (needs Linux 6.0)"))?;
        let pbuf = ProvidedRing::new(buffers).map_err(io_err("mapping the provided-buffer ring"))?;
        let mut rx = RxSide {
            uring: rx_uring,
            pbuf,
            registered: false,
            armed: false,
            bufs: (0..buffers).map(|_| None).collect(),
            empty: (0..buffers).rev().collect(),
            msg,
            prefix,
            land,
            region_len,
        };
        rx.register()
            .map_err(io_err("registering the provided-buffer ring (needs Linux 5.19)"))?;

        let tx_uring = IoUring::builder()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(config.entries)
            .map_err(io_err("setting up the send io_uring"))?;
        let slots = tx_uring.params().sq_entries();
        let tx = TxSide {
            uring: tx_uring,
            slots: (0..slots).map(|_| TxSlot::new()).collect(),
            free: (0..slots).rev().collect(),
            in_flight: 0,
        };

        let info = PortInfo {
            name: format!("udp:{local}"),
            kind: PortKind::Uring {
                entries: slots,
                buffers: config.buffers,
            },
            // The largest payload a buffer holds, and a C peer reads.
            mtu: (pool.buf_size() - land).min(if local.is_ipv6() {
                o7s_wire::udp::MAX_DATAGRAM_UDP6
            } else {
                o7s_wire::udp::MAX_DATAGRAM_UDP4
            }),
            mac: None,
            shim: Shim::Udp,
        };
        tracing::info!(%local, kind = %info.kind, mtu = info.mtu, "io_uring UDP port bound");
        Ok(UringUdpPort {
            info,
            rx,
            tx,
            socket,
            local,
            peer: config.peer,
            pool: pool.clone(),
            counters: UringCounters::default(),
        })
    }

    /// The address the socket is bound to (the port chosen, if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Where [`Port::tx_burst`] sends.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    pub fn set_peer(&mut self, peer: Option<SocketAddr>) {
        self.peer = peer;
    }

    pub fn counters(&self) -> UringCounters {
        self.counters
    }

    /// The socket, for options the port does not set.
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// Datagrams the kernel dropped on this socket since it was bound (a
    /// full receive buffer, ...): SO_MEMINFO's `SK_MEMINFO_DROPS`. A
    /// syscall: not for the packet path.
    pub fn kernel_drops(&self) -> io::Result<u64> {
        // SK_MEMINFO_VARS is 9 since Linux 4.15; a longer array is fine,
        // the kernel writes what it has.
        let mut info = [0u32; 16];
        let mut len = size_of_val(&info) as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` octets into `info`.
        let rc = unsafe {
            libc::getsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MEMINFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(u64::from(info[libc::SK_MEMINFO_DROPS as usize]))
    }

    /// Receives up to `max` datagrams, appending each with its source
    /// address to `out` (the UDP shim answers a request at its source);
    /// returns how many. The Buf holds the UDP payload, at the pool's
    /// head room.
    pub fn rx_burst_from(&mut self, cache: &mut PoolCache, out: &mut Vec<(Buf, SocketAddr)>, max: usize) -> usize {
        self.receive(cache, max, |buf, from| out.push((buf, from)))
    }

    /// Queues datagrams from the front of `frames`, each to its own
    /// destination, and submits them with one syscall; returns how many it
    /// took (the rest stay in `frames`). Destinations of the other address
    /// family (and not mappable into it) are taken, counted and dropped.
    pub fn tx_burst_to(&mut self, cache: &mut PoolCache, frames: &mut Vec<(Buf, SocketAddr)>) -> usize {
        self.check_pool(cache);
        self.tx.reap(Some(cache), &mut self.counters);
        let n = self.tx.room().min(frames.len());
        let (fd, v6) = (self.socket.as_raw_fd(), self.local.is_ipv6());
        for (buf, dest) in frames.drain(..n) {
            self.tx.queue(cache, buf, dest, fd, v6, &mut self.counters);
        }
        self.tx.kick(&mut self.counters);
        n
    }

    fn check_pool(&self, cache: &PoolCache) {
        debug_assert!(
            cache.pool().buffer_area().0 == self.pool.buffer_area().0,
            "a port serves the pool it was opened for"
        );
    }

    fn receive(&mut self, cache: &mut PoolCache, max: usize, mut deliver: impl FnMut(Buf, SocketAddr)) -> usize {
        self.check_pool(cache);
        let fd = self.socket.as_raw_fd();
        let c = &mut self.counters;
        let rx = &mut self.rx;
        if !rx.registered && rx.register().is_err() {
            c.rx_errors += 1;
            return 0;
        }
        if !rx.empty.is_empty() {
            rx.refill(cache, c);
            rx.pbuf.publish();
        }
        rx.arm(fd, c);
        rx.kick(c);

        let mut got = 0;
        let mut cqes = [const { MaybeUninit::<cqueue::Entry>::uninit() }; BURST];
        while got < max {
            let want = (max - got).min(BURST);
            let batch = rx.uring.completion().fill(&mut cqes[..want]);
            if batch.is_empty() {
                break;
            }
            for e in batch.iter() {
                if e.user_data() != RECV {
                    continue;
                }
                let Some((bid, buf, from)) = rx.complete(cache.pool(), e, c) else {
                    continue;
                };
                match cache.alloc() {
                    Some(fresh) => rx.provide(cache.pool(), bid, fresh),
                    None => {
                        c.rx_alloc_fail += 1;
                        rx.empty.push(bid);
                    }
                }
                deliver(buf, from);
                got += 1;
            }
        }
        rx.pbuf.publish();
        if !rx.armed {
            rx.arm(fd, c);
            rx.kick(c);
        }
        got
    }

    /// Waits (up to [`DRAIN_TIMEOUT`]) until the kernel holds no buffer of
    /// this port: sends completed, the multishot receive cancelled, the
    /// provided-buffer ring unregistered. Returns whether it got there.
    fn quiesce(&mut self, mut cache: Option<&mut PoolCache>) -> bool {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let c = &mut self.counters;
        if self.rx.armed {
            let cancel = opcode::AsyncCancel::new(RECV).build().user_data(CANCEL);
            // SAFETY: a cancellation carries no pointer.
            let _ = unsafe { self.rx.uring.submission().push(&cancel) };
        }
        let wait = Timespec::new().nsec(1_000_000);
        loop {
            self.tx.reap(cache.as_deref_mut(), c);
            for e in self.rx.uring.completion() {
                if e.user_data() != RECV {
                    continue;
                }
                if !cqueue::more(e.flags()) {
                    self.rx.armed = false;
                }
                // The datagram's buffer stays in `bufs`: it is freed below.
                if cqueue::buffer_select(e.flags()).is_some() {
                    c.rx_discarded += 1;
                }
            }
            if !self.rx.armed && self.tx.in_flight == 0 {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    local = %self.local,
                    receiving = self.rx.armed,
                    sends = self.tx.in_flight,
                    "io_uring port did not quiesce; its buffers stay out of the pool"
                );
                return false;
            }
            let args = SubmitArgs::new().timespec(&wait);
            for uring in [&self.rx.uring, &self.tx.uring] {
                // ETIME (nothing completed in time) is the usual answer.
                let _ = uring.submitter().submit_with_args(1, &args);
            }
        }
        if self.rx.registered {
            if let Err(e) = self.rx.uring.submitter().unregister_buf_ring(BGID) {
                tracing::warn!(local = %self.local, error = %e, "provided-buffer ring not unregistered");
                return false;
            }
            self.rx.registered = false;
        }
        true
    }
}

impl Port for UringUdpPort {
    /// The UDP socket: readable while a datagram waits in its queue, which
    /// is until the armed receive takes it (the ring's own fd is no wake-up
    /// under `COOP_TASKRUN`: completions post only once the worker runs).
    fn wait_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(std::os::fd::AsFd::as_fd(&self.socket))
    }

    /// Receives datagrams; their source addresses are dropped (use
    /// [`UringUdpPort::rx_burst_from`] to keep them).
    fn rx_burst(&mut self, cache: &mut PoolCache, out: &mut Vec<Buf>, max: usize) -> usize {
        self.receive(cache, max, |buf, _| out.push(buf))
    }

    /// Receives datagrams with their source addresses, side by side.
    fn rx_burst_addressed(
        &mut self,
        cache: &mut PoolCache,
        out: &mut Vec<Buf>,
        from: &mut Vec<SocketAddr>,
        max: usize,
    ) -> usize {
        self.receive(cache, max, |buf, addr| {
            out.push(buf);
            from.push(addr);
        })
    }

    /// Sends every frame to the configured peer ([`UringConfig::peer`]);
    /// with none, takes nothing.
    fn tx_burst(&mut self, cache: &mut PoolCache, frames: &mut Vec<Buf>) -> usize {
        let Some(peer) = self.peer else {
            return 0;
        };
        self.check_pool(cache);
        self.tx.reap(Some(cache), &mut self.counters);
        let n = self.tx.room().min(frames.len());
        let (fd, v6) = (self.socket.as_raw_fd(), self.local.is_ipv6());
        for buf in frames.drain(..n) {
            self.tx.queue(cache, buf, peer, fd, v6, &mut self.counters);
        }
        self.tx.kick(&mut self.counters);
        n
    }

    fn tx_burst_to(&mut self, cache: &mut PoolCache, frames: &mut Vec<(Buf, SocketAddr)>) -> usize {
        UringUdpPort::tx_burst_to(self, cache, frames)
    }

    /// Frees completed sends, lends buffers to bids that lack one, re-arms
    /// the receive after the kernel ended it (ENOBUFS), and enters the
    /// kernel when a ring has work for it.
    fn poll(&mut self, cache: &mut PoolCache) {
        self.check_pool(cache);
        let c = &mut self.counters;
        self.tx.reap(Some(cache), c);
        self.tx.kick(c);
        let rx = &mut self.rx;
        if !rx.registered && rx.register().is_err() {
            c.rx_errors += 1;
            return;
        }
        if !rx.empty.is_empty() {
            rx.refill(cache, c);
            rx.pbuf.publish();
        }
        rx.arm(self.socket.as_raw_fd(), c);
        rx.kick(c);
    }

    fn tx_queue_len(&self) -> usize {
        self.tx.in_flight
    }

    /// Datagrams too long for a buffer, and the socket's kernel drops.
    fn snapshot(&mut self) -> Snapshot {
        let mut s = Snapshot::default();
        s.drops[DropReason::Oversize as usize] = self.counters.rx_truncated;
        match self.kernel_drops() {
            Ok(n) => s.kernel[KernelLoss::UdpRxDrops as usize] = n,
            Err(e) => tracing::debug!(local = %self.local, error = %e, "SO_MEMINFO"),
        }
        s
    }

    fn info(&self) -> &PortInfo {
        &self.info
    }

    /// Cancels the receive, waits for sends in flight, unregisters the
    /// provided-buffer ring and frees every buffer. Datagrams that arrive
    /// meanwhile are dropped (`rx_discarded`). A later `poll` or
    /// `rx_burst` starts the port again.
    fn drain(&mut self, cache: &mut PoolCache) {
        if !self.quiesce(Some(cache)) {
            return;
        }
        for slot in self.rx.bufs.iter_mut() {
            if let Some(buf) = slot.take() {
                cache.free(buf);
            }
        }
        self.rx.empty.clear();
        self.rx.empty.extend((0..self.rx.bufs.len() as u16).rev());
    }
}

impl Drop for UringUdpPort {
    fn drop(&mut self) {
        let held = self.rx.bufs.iter().filter(|b| b.is_some()).count() + self.tx.in_flight;
        if held > 0 {
            tracing::warn!(
                local = %self.local,
                buffers = held,
                "io_uring port dropped without drain: its buffers stay accounted to the worker's slot"
            );
            // Make sure the kernel writes no more into them before the
            // ring goes; the tokens themselves are dropped (leaked).
            self.quiesce(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn source_addresses_are_read_as_the_kernel_writes_them() {
        let mut v4 = [0u8; 16];
        v4[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&3435u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[10, 0, 0, 2]);
        assert_eq!(sockaddr_from(&v4), Some(SocketAddr::from(([10, 0, 0, 2], 3435))));

        let mut v6 = [0u8; 28];
        v6[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&9u16.to_be_bytes());
        v6[8..24].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6[24..28].copy_from_slice(&7u32.to_ne_bytes());
        assert_eq!(
            sockaddr_from(&v6),
            Some(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 9, 0, 7)))
        );

        assert_eq!(sockaddr_from(&v4[..7]), None, "short name");
        assert_eq!(sockaddr_from(&[0u8; 16]), None, "unknown family");
    }

    #[test]
    fn destinations_are_mapped_into_the_sockets_family() {
        let v4 = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 3435));
        let mapped = SocketAddr::V6(SocketAddrV6::new(
            Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped(),
            3435,
            0,
            0,
        ));
        assert_eq!(fit_family(v4, false), Some(v4));
        assert_eq!(fit_family(v4, true), Some(mapped));
        assert_eq!(fit_family(mapped, false), Some(v4));
        assert_eq!(fit_family(SocketAddr::from((Ipv6Addr::LOCALHOST, 1)), false), None);
    }
}
