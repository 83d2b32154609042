//! The narrow kernel boundary of the packet memory: every syscall the pool
//! and the rings make goes through one function here, so `unsafe` and errno
//! handling live in one place.
//!
//! | call | used for |
//! |---|---|
//! | [`memfd_create`] + [`ftruncate`] | the pool and ring regions, passable to other processes |
//! | [`Mapping::map`] / `munmap` on drop | mapping a region (shared, optionally populated) |
//! | [`futex_wait`] / [`WaitList`] (futex_waitv) / [`futex_wake`] | a ring reader that chooses to sleep, alone or on many rings |
//! | [`send_fds`] / [`recv_fds`] | handing region fds to another process (SCM_RIGHTS) |
//! | [`hung_up`] | telling an empty message from a closed connection on such a socket |
//! | [`process_alive`] | telling whether the process behind a pool slot still runs |
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// `MFD_HUGE_2MB`: log2(2 MiB) in the MFD_HUGE_SHIFT (26) position.
const MFD_HUGE_2MB: libc::c_uint = 21 << 26;

/// A libc return value as a `Result`: negative means `errno` says why.
/// The sibling crates' kernel boundaries (o7s-xsk, o7s-app) use it too.
pub fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Creates an anonymous memory file, backed by 2 MiB hugepages if `huge`.
/// Close-on-exec: a child gets the fd only by explicit passing.
pub fn memfd_create(name: &str, huge: bool) -> io::Result<OwnedFd> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut flags = libc::MFD_CLOEXEC;
    if huge {
        flags |= libc::MFD_HUGETLB | MFD_HUGE_2MB;
    }
    // SAFETY: `cname` is a valid NUL-terminated string for the call's duration.
    let fd = cvt(unsafe { libc::memfd_create(cname.as_ptr(), flags) })?;
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets the size of a memory file.
pub fn ftruncate(fd: BorrowedFd<'_>, len: usize) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: plain syscall on a valid fd; no memory is passed.
    cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), len) }).map(drop)
}

/// Size and block size (the hugepage size for hugetlb files) of a file.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<(usize, usize)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is a writable stat buffer of the right type.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    let size = usize::try_from(st.st_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    let blksize = usize::try_from(st.st_blksize).unwrap_or(4096);
    Ok((size, blksize))
}

/// A shared, read-write mapping of a file, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Mapping is just an address range; all access to the memory goes
// through atomics or through the pool's ownership discipline, never through
// the Mapping itself.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only exposes the address and length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` octets of `fd` shared. `populate` pre-faults the pages so
    /// that hugepage shortage shows up here rather than as SIGBUS later.
    pub fn map(fd: BorrowedFd<'_>, len: usize, populate: bool) -> io::Result<Mapping> {
        Mapping::map_at(fd, 0, len, populate)
    }

    /// As [`map`](Self::map), from octet `offset` of `fd` (a kernel ring's
    /// page offset, for sockets that expose several rings).
    pub fn map_at(fd: BorrowedFd<'_>, offset: u64, len: usize, populate: bool) -> io::Result<Mapping> {
        let offset = libc::off_t::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        if len == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let mut flags = libc::MAP_SHARED;
        if populate {
            flags |= libc::MAP_POPULATE;
        }
        // SAFETY: a fresh mapping at a kernel-chosen address; it aliases no
        // Rust object.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::from(io::ErrorKind::Other))?;
        Ok(Mapping { ptr, len })
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we own this mapping, created by `map` with this length;
        // every borrow of it is tied to the owner's lifetime, which ends here.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Sleeps while `*word == expected`, at most `timeout`. Works across
/// processes because the word lives in a MAP_SHARED mapping (no
/// FUTEX_PRIVATE_FLAG). Spurious wake-ups are possible; callers re-check.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned u32; `ts_ptr` is null or points to a
    // timespec on this stack frame. EAGAIN/EINTR/ETIMEDOUT are all fine.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, ts_ptr) };
}

/// The kernel's `struct futex_waitv`.
#[repr(C)]
#[derive(Clone, Copy)]
struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

/// `FUTEX2_SIZE_U32`.
const FUTEX2_SIZE_U32: u32 = 0x02;

/// Most futexes one futex_waitv sleeps on (`FUTEX_WAITV_MAX`).
pub const FUTEX_WAITV_MAX: usize = 128;

/// The futexes of one futex_waitv call, built on the stack (no allocation
/// per wait): words and the values they are expected to hold.
pub struct WaitList<'a> {
    waiters: [FutexWaitv; FUTEX_WAITV_MAX],
    len: usize,
    _words: std::marker::PhantomData<&'a AtomicU32>,
}

impl std::fmt::Debug for WaitList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitList").field("len", &self.len).finish()
    }
}

impl Default for WaitList<'_> {
    fn default() -> Self {
        WaitList {
            waiters: [FutexWaitv {
                val: 0,
                uaddr: 0,
                flags: 0,
                reserved: 0,
            }; FUTEX_WAITV_MAX],
            len: 0,
            _words: std::marker::PhantomData,
        }
    }
}

impl<'a> WaitList<'a> {
    /// Adds `word`, expected to hold `expected`; `InvalidInput` past
    /// [`FUTEX_WAITV_MAX`].
    pub fn push(&mut self, word: &'a AtomicU32, expected: u32) -> io::Result<()> {
        let slot = self
            .waiters
            .get_mut(self.len)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        *slot = FutexWaitv {
            val: u64::from(expected),
            uaddr: word.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32,
            reserved: 0,
        };
        self.len += 1;
        Ok(())
    }

    /// Sleeps until one of the words differs from its expected value or is
    /// woken, at most `timeout` (futex_waitv, Linux 5.16+). Shared futexes,
    /// as [`futex_wait`]. Timing out, a changed value and EINTR are all
    /// `Ok`; so is an empty list (nothing to wait for).
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        // futex_waitv takes an absolute deadline on the given clock.
        let deadline = timeout.map(|t| {
            let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: `now` is a valid out-pointer for the call.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
            let nanos = now.tv_nsec as u64 + u64::from(t.subsec_nanos());
            libc::timespec {
                tv_sec: now
                    .tv_sec
                    .saturating_add(libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX))
                    .saturating_add((nanos / 1_000_000_000) as libc::time_t),
                tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
            }
        });
        let ts_ptr = deadline
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: the first `len` waiters are kernel-layout entries naming
        // u32s borrowed for 'a, which outlives `self`; `ts_ptr` is null or
        // points to a timespec on this stack frame.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_futex_waitv,
                self.waiters.as_ptr(),
                self.len as libc::c_uint,
                0,
                ts_ptr,
                libc::CLOCK_MONOTONIC,
            )
        };
        if ret < 0 {
            let e = io::Error::last_os_error();
            if !matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR | libc::ETIMEDOUT)) {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Wakes every sleeper on `word`.
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32; waking has no memory effects.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
}

/// A new eventfd (non-blocking, close-on-exec): the kick a polling
/// consumer (a dataplane worker) sleeps on.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a new fd we own.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
    // SAFETY: `fd` was just returned by eventfd() and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds one to an eventfd: its reader wakes. Errors are ignored: a full
/// counter (2^64 − 2 kicks unread) still wakes the reader.
pub fn eventfd_kick(fd: BorrowedFd<'_>) {
    let one: u64 = 1;
    // SAFETY: writes 8 octets from a live u64 to an fd we borrow.
    unsafe { libc::write(fd.as_raw_fd(), (&raw const one).cast(), 8) };
}

/// Reads (and so resets) an eventfd's counter; 0 when nothing kicked it.
pub fn eventfd_drain(fd: BorrowedFd<'_>) -> u64 {
    let mut n: u64 = 0;
    // SAFETY: reads at most 8 octets into a live u64 from an fd we borrow.
    let got = unsafe { libc::read(fd.as_raw_fd(), (&raw mut n).cast(), 8) };
    if got == 8 { n } else { 0 }
}

const MAX_FDS: usize = 8;

/// Sends `data` with `fds` attached (SCM_RIGHTS) over a UNIX stream.
pub fn send_fds(sock: &UnixStream, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.len() > MAX_FDS || data.is_empty() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let fd_bytes = std::mem::size_of_val(raw.as_slice());
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut _,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain old data; zero is a valid initial value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points to `space` writable, 8-aligned octets, so
    // CMSG_FIRSTHDR yields a header inside it with room for `fd_bytes` of
    // data (CMSG_SPACE), which the copy fills; sendmsg reads iov and control
    // buffers that outlive the call.
    let sent = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
        std::ptr::copy_nonoverlapping(raw.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), fd_bytes);
        libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives up to `buf.len()` octets and the fds attached to them.
/// Returns the octet count and the received fds (owned, close-on-exec).
pub fn recv_fds(sock: &UnixStream, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let fd_bytes = MAX_FDS * std::mem::size_of::<RawFd>();
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; zero is a valid initial value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: iov and control buffers are valid and writable for the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: the kernel filled msg_control with msg_controllen octets of
    // well-formed cmsg headers; CMSG_FIRSTHDR/NXTHDR stay within them, and
    // each SCM_RIGHTS payload holds `(cmsg_len - CMSG_LEN(0)) / 4` fds that
    // the kernel installed for us, so we take ownership of each exactly once.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, fds))
}

/// Whether the peer of a connected socket hung up. A read of 0 octets on
/// a SOCK_SEQPACKET socket is either the end of the connection or an
/// empty message; this tells them apart without reading.
pub fn hung_up(sock: &impl AsRawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&raw mut pfd, 1, 0) };
    n > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// The calling process's id.
pub fn getpid() -> i32 {
    std::process::id() as i32
}

/// Start time of a process in clock ticks since boot (field 22 of
/// /proc/<pid>/stat) and whether it is a zombie. Together with the pid it
/// names a process uniquely, so a reused pid is not mistaken for the
/// process that held a pool slot.
pub fn process_identity(pid: i32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is parenthesised and may contain spaces or
    // parentheses: fields after it start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    // `rest` starts at field 3 (state); field 22 is 19 further on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

/// Whether the process (pid, start time) still runs. Zombies count as dead:
/// their memory, and so their hold on pool buffers, is gone.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    matches!(process_identity(pid), Some((start, zombie)) if start == start_time && !zombie)
}
