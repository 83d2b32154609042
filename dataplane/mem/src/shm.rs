//! Shared-memory regions: a memfd mapped read-write, that another process
//! maps from the passed fd.
//!
//! A region asks for 2 MiB hugepages first (fewer TLB misses on the packet
//! path, and what AF_XDP UMEM wants) and falls back to 4 KiB pages when the
//! system has none reserved; it logs which one it got.
//!
//! [`SharedSlice`] is the one way the rest of the crate looks at the
//! region's control structures: an array of atomics at a checked offset.
#![allow(unsafe_code)]

use std::io;
use std::ops::Deref;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64};

use crate::sys::{self, Mapping};

/// 2 MiB, the hugepage size the pool asks for.
pub const HUGE_PAGE: usize = 2 << 20;
/// The base page size.
pub const BASE_PAGE: usize = 4096;

/// Which pages back a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// 2 MiB hugepages (hugetlbfs memfd).
    Huge2M,
    /// 4 KiB pages.
    Base4K,
}

impl PageKind {
    pub fn size(self) -> usize {
        match self {
            PageKind::Huge2M => HUGE_PAGE,
            PageKind::Base4K => BASE_PAGE,
        }
    }
}

impl std::fmt::Display for PageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PageKind::Huge2M => "2 MiB hugepages",
            PageKind::Base4K => "4 KiB pages",
        })
    }
}

/// What backing a new region may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backing {
    /// Hugepages when the system has them free, base pages otherwise.
    #[default]
    Auto,
    /// Hugepages or fail.
    Huge,
    /// Base pages only.
    Base,
}

/// A mapped memfd.
#[derive(Debug)]
pub struct Region {
    fd: OwnedFd,
    map: Mapping,
    pages: PageKind,
}

impl Region {
    /// Creates and maps a region of at least `len` octets (rounded up to the
    /// page size), zero-filled.
    pub fn create(name: &str, len: usize, backing: Backing) -> io::Result<Region> {
        if backing != Backing::Base {
            match Region::create_with(name, len, PageKind::Huge2M) {
                Ok(region) => return Ok(region),
                Err(e) if backing == Backing::Huge => return Err(e),
                Err(e) => tracing::debug!(name, error = %e, "no hugepages for region, using 4 KiB pages"),
            }
        }
        Region::create_with(name, len, PageKind::Base4K)
    }

    fn create_with(name: &str, len: usize, pages: PageKind) -> io::Result<Region> {
        let len = len.div_ceil(pages.size()) * pages.size();
        let fd = sys::memfd_create(name, pages == PageKind::Huge2M)?;
        sys::ftruncate(fd.as_fd(), len)?;
        // Populating commits the hugepages now: a shortage fails here with
        // ENOMEM instead of killing a worker with SIGBUS later.
        let map = Mapping::map(fd.as_fd(), len, true)?;
        Ok(Region { fd, map, pages })
    }

    /// Maps a region another process created, from its fd.
    pub fn attach(fd: OwnedFd) -> io::Result<Region> {
        let (len, blksize) = sys::fstat(fd.as_fd())?;
        let pages = if blksize >= HUGE_PAGE {
            PageKind::Huge2M
        } else {
            PageKind::Base4K
        };
        let map = Mapping::map(fd.as_fd(), len, false)?;
        Ok(Region { fd, map, pages })
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// Base address of the mapping in this process.
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_ptr()
    }

    pub fn pages(&self) -> PageKind {
        self.pages
    }

    /// The fd to pass to another process.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Types that may be viewed in memory shared with other processes: every
/// bit pattern is a valid value and all mutation goes through atomics, so a
/// peer writing concurrently cannot break Rust's rules for them.
///
/// # Safety
/// Implementors must be valid for every bit pattern and mutate only through
/// atomic operations.
pub(crate) unsafe trait Shared: Sync {}
// SAFETY: atomics are valid for every bit pattern and mutate atomically.
unsafe impl Shared for AtomicU32 {}
// SAFETY: as above.
unsafe impl Shared for AtomicU64 {}

/// An array of `T` inside a region, keeping the region mapped.
#[derive(Debug)]
pub(crate) struct SharedSlice<T: Shared> {
    _region: Arc<Region>,
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: the slice points into a mapping kept alive by the Arc; `T: Shared`
// makes concurrent access from any thread (or process) sound.
unsafe impl<T: Shared> Send for SharedSlice<T> {}
// SAFETY: as above.
unsafe impl<T: Shared> Sync for SharedSlice<T> {}

impl<T: Shared> SharedSlice<T> {
    /// `len` elements of `T` at `offset` octets into `region`. Fails if the
    /// range leaves the region or is misaligned; checked once here so that
    /// every later access is a plain index.
    pub(crate) fn new(region: &Arc<Region>, offset: usize, len: usize) -> io::Result<SharedSlice<T>> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "shared structure outside its region");
        let end = std::mem::size_of::<T>()
            .checked_mul(len)
            .and_then(|size| size.checked_add(offset))
            .ok_or_else(bad)?;
        if end > region.len() || !offset.is_multiple_of(std::mem::align_of::<T>()) {
            return Err(bad());
        }
        // SAFETY: offset is within the mapping (checked above), and the
        // mapping's base is page-aligned, so the result is aligned for T.
        let ptr = unsafe { region.as_ptr().add(offset) }.cast::<T>();
        let ptr = NonNull::new(ptr).ok_or_else(bad)?;
        Ok(SharedSlice {
            _region: Arc::clone(region),
            ptr,
            len,
        })
    }
}

impl<T: Shared> Deref for SharedSlice<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `new` checked that `len` elements at `ptr` lie inside the
        // mapping, which `_region` keeps alive; `T: Shared` tolerates
        // concurrent writers.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}
