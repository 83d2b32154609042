//! The narrow kernel boundary of the AF_XDP layer: every syscall the
//! sockets make goes through one function here, so `unsafe` and errno
//! handling live in one place.
//!
//! | call | used for |
//! |---|---|
//! | [`xdp_socket`] | `socket(AF_XDP, SOCK_RAW)` |
//! | [`register_umem`] | `XDP_UMEM_REG`: the pool's buffer area becomes a UMEM |
//! | [`set_ring_size`] | `XDP_{RX,TX}_RING`, `XDP_UMEM_{FILL,COMPLETION}_RING` |
//! | [`mmap_offsets`] | `XDP_MMAP_OFFSETS`: where the index words and descriptors lie |
//! | [`map_ring`] | mapping one ring (an `o7s_mem` mapping, unmapped on drop) |
//! | [`bind`] | binding to (ifindex, queue), own or shared UMEM |
//! | [`zero_copy`], [`statistics`] | `XDP_OPTIONS`, `XDP_STATISTICS` |
//! | [`kick_tx`], [`wakeup_rx`] | `sendto` / `recvfrom` with no data: the need-wakeup kicks |
//! | [`ifindex`], [`ifname`] | interface name and index |
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use o7s_mem::sys::cvt;

/// Kernel structures passed by pointer to `setsockopt`/`getsockopt`.
///
/// # Safety
/// Implementors must be plain data (`repr(C)`, no pointers, no padding the
/// kernel could read as meaningful) for which every bit pattern is valid,
/// so a zeroed or kernel-written value is a valid Rust value.
unsafe trait Plain: Copy {}
// SAFETY: an integer.
unsafe impl Plain for u32 {}
// SAFETY: repr(C) structs of u64/u32 fields from linux/if_xdp.h, no padding.
unsafe impl Plain for libc::xdp_umem_reg {}
// SAFETY: as above.
unsafe impl Plain for libc::xdp_mmap_offsets {}
// SAFETY: as above.
unsafe impl Plain for libc::xdp_options {}
// SAFETY: as above.
unsafe impl Plain for libc::xdp_statistics {}

fn setsockopt<T: Plain>(fd: BorrowedFd<'_>, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live, initialised T of the given size for
    // the call's duration; the kernel only reads it.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Reads a socket option; returns it and the length the kernel wrote.
fn getsockopt<T: Plain>(fd: BorrowedFd<'_>, name: libc::c_int) -> io::Result<(T, usize)> {
    // SAFETY: `T: Plain` is valid when zeroed.
    let mut value: T = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a writable T and `len` says its size, so the
    // kernel writes at most that many octets into it.
    cvt(unsafe { libc::getsockopt(fd.as_raw_fd(), libc::SOL_XDP, name, (&raw mut value).cast(), &mut len) })?;
    Ok((value, len as usize))
}

/// A new AF_XDP socket, close-on-exec.
pub(crate) fn xdp_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall, no memory passed.
    let fd = cvt(unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Registers `len` octets at `addr` as the socket's UMEM, cut into chunks
/// of `chunk_size` (aligned mode, no UMEM head room).
pub(crate) fn register_umem(fd: BorrowedFd<'_>, addr: NonNull<u8>, len: usize, chunk_size: u32) -> io::Result<()> {
    let reg = libc::xdp_umem_reg {
        addr: addr.as_ptr() as u64,
        len: len as u64,
        chunk_size,
        headroom: 0,
        flags: 0,
        tx_metadata_len: 0,
    };
    setsockopt(fd, libc::XDP_UMEM_REG, &reg)
}

/// Sets the entry count of one ring (`XDP_RX_RING`, `XDP_TX_RING`,
/// `XDP_UMEM_FILL_RING`, `XDP_UMEM_COMPLETION_RING`).
pub(crate) fn set_ring_size(fd: BorrowedFd<'_>, ring: libc::c_int, entries: u32) -> io::Result<()> {
    setsockopt(fd, ring, &entries)
}

/// Where the producer, consumer, flags words and descriptors of each ring
/// lie in its mapping. Refuses kernels older than 5.4, whose rings have no
/// flags word (and so no need-wakeup).
pub(crate) fn mmap_offsets(fd: BorrowedFd<'_>) -> io::Result<libc::xdp_mmap_offsets> {
    let (off, len) = getsockopt::<libc::xdp_mmap_offsets>(fd, libc::XDP_MMAP_OFFSETS)?;
    if len < std::mem::size_of::<libc::xdp_mmap_offsets>() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "kernel AF_XDP rings have no flags word (Linux < 5.4)",
        ));
    }
    Ok(off)
}

/// Whether the bound socket runs in zero-copy mode (`XDP_OPTIONS`).
pub(crate) fn zero_copy(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let (opts, _) = getsockopt::<libc::xdp_options>(fd, libc::XDP_OPTIONS)?;
    Ok(opts.flags & libc::XDP_OPTIONS_ZEROCOPY != 0)
}

/// The kernel's per-socket counters (`XDP_STATISTICS`). Fields a kernel
/// older than 5.9 does not report stay zero.
pub(crate) fn statistics(fd: BorrowedFd<'_>) -> io::Result<libc::xdp_statistics> {
    getsockopt::<libc::xdp_statistics>(fd, libc::XDP_STATISTICS).map(|(s, _)| s)
}

/// Binds to queue `queue` of interface `ifindex`. With `shared` the socket
/// uses the UMEM of that (bound) socket, and `flags` must not name a mode:
/// the kernel takes copy/zero-copy and need-wakeup from the UMEM's owner.
pub(crate) fn bind(
    fd: BorrowedFd<'_>,
    ifindex: u32,
    queue: u32,
    flags: u16,
    shared: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let addr = libc::sockaddr_xdp {
        sxdp_family: libc::AF_XDP as u16,
        sxdp_flags: flags | shared.map_or(0, |_| libc::XDP_SHARED_UMEM),
        sxdp_ifindex: ifindex,
        sxdp_queue_id: queue,
        sxdp_shared_umem_fd: shared.map_or(0, |s| s.as_raw_fd() as u32),
    };
    // SAFETY: `addr` is a valid sockaddr_xdp of the size passed.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Asks the kernel to process the TX ring: `sendto` with no data. The
/// kernel refuses blocking sends on AF_XDP, hence `MSG_DONTWAIT`.
pub(crate) fn kick_tx(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a zero-length send with null buffer and address, which the
    // kernel does not dereference.
    let ret = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            std::ptr::null(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null(),
            0,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Asks the driver to refill its RX queue from the fill ring: `recvfrom`
/// with no buffer.
pub(crate) fn wakeup_rx(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a zero-length receive with null buffer and address, which the
    // kernel does not dereference.
    let ret = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            std::ptr::null_mut(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Index of the interface called `name` in this thread's network namespace.
pub(crate) fn ifindex(name: &str) -> io::Result<u32> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `cname` is a valid NUL-terminated string for the call.
    match unsafe { libc::if_nametoindex(cname.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

/// Name of interface `index`.
pub(crate) fn ifname(index: u32) -> io::Result<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE octets if_indextoname writes at most.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the kernel wrote a NUL-terminated name into `buf`.
    Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned())
}

/// One ring mapped from the socket, unmapped on drop. The kernel keeps the
/// ring's pages alive while either the socket or the mapping exists.
pub(crate) type RingMapping = o7s_mem::sys::Mapping;

/// Maps `len` octets of the ring at page offset `pgoff` (one of the
/// `XDP_PGOFF_*` / `XDP_UMEM_PGOFF_*` constants), pre-faulted.
pub(crate) fn map_ring(fd: BorrowedFd<'_>, pgoff: u64, len: usize) -> io::Result<RingMapping> {
    RingMapping::map_at(fd, pgoff, len, true)
}
