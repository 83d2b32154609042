//! The packet pool registered as AF_XDP UMEM.
//!
//! ```text
//!  pool.buffer_area()  (page aligned, buf_size x count)
//! +-----------+-----------+-----------+-----     -----+-------------+
//! | chunk 0   | chunk 1   | chunk 2   |      ...      | chunk n-1   |
//! +-----------+-----------+-----------+-----     -----+-------------+
//!  UMEM address of buffer i = i * buf_size   (aligned mode, no UMEM head room)
//! ```
//!
//! The kernel has no UMEM object of its own: a UMEM is registered on one
//! socket (`XDP_UMEM_REG`) and other sockets share it by binding with
//! `XDP_SHARED_UMEM` and the fd of any bound socket that uses it, each with
//! its own fill and completion ring when it sits on another (interface,
//! queue) (Linux 5.10+). The registration lives as long as any socket
//! using it, so [`Umem`] keeps weak references to its sockets' fds and
//! registers afresh when none is left.
//!
//! A shared socket cannot choose its mode: the kernel binds it copy or
//! zero-copy as the UMEM's first socket was bound, and takes need-wakeup
//! from it too. A port on a NIC with zero-copy support that joined a UMEM
//! first bound on a veth would silently run in copy mode. So a `Umem`
//! holds up to two kernel registrations of the same pool memory, one per
//! mode, and a socket joins the one of the mode it binds in (pinning the
//! pages twice costs page-table references, not memory).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use o7s_mem::Pool;

use crate::XskError;
use crate::socket::Mode;
use crate::sys;

/// A packet pool usable as AF_XDP UMEM by any number of sockets; cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct Umem {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    groups: Mutex<Groups>,
}

/// The kernel registrations of the pool, by mode.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    copy: Group,
    zero_copy: Group,
}

/// The sockets sharing one kernel registration.
#[derive(Debug, Default)]
pub(crate) struct Group {
    members: Vec<Weak<OwnedFd>>,
    /// Whether the registering socket asked for need-wakeup; the kernel
    /// applies it to every socket that shares the registration.
    pub(crate) need_wakeup: bool,
}

impl Groups {
    pub(crate) fn get_mut(&mut self, mode: Mode) -> &mut Group {
        match mode {
            Mode::Copy => &mut self.copy,
            Mode::ZeroCopy => &mut self.zero_copy,
        }
    }
}

impl Group {
    /// A bound socket of this registration, to share it with a new one.
    pub(crate) fn live_member(&mut self) -> Option<Arc<OwnedFd>> {
        self.members.retain(|m| m.strong_count() > 0);
        self.members.iter().find_map(Weak::upgrade)
    }

    pub(crate) fn join(&mut self, fd: &Arc<OwnedFd>) {
        self.members.push(Arc::downgrade(fd));
    }

    fn is_live(&self) -> bool {
        self.members.iter().any(|m| m.strong_count() > 0)
    }
}

impl Umem {
    /// Prepares `pool` for AF_XDP: its buffers become UMEM chunks of
    /// `pool.buf_size()` octets. The kernel registration happens when the
    /// first socket binds.
    pub fn new(pool: &Pool) -> Result<Umem, XskError> {
        let (base, len) = pool.buffer_area();
        if !(base.as_ptr() as usize).is_multiple_of(4096) {
            return Err(XskError::Config("UMEM must start on a page boundary"));
        }
        if !pool.buf_size().is_power_of_two() || len != pool.buf_size() * pool.count() as usize {
            return Err(XskError::Config(
                "pool buffers must be power-of-two chunks filling the area",
            ));
        }
        Ok(Umem {
            inner: Arc::new(Inner {
                pool: pool.clone(),
                groups: Mutex::new(Groups::default()),
            }),
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Octets per chunk (the pool's buffer size).
    pub fn chunk_size(&self) -> u32 {
        self.inner.pool.buf_size() as u32
    }

    /// Kernel registrations in use: 0 before the first socket, then one per
    /// mode (copy, zero-copy) that live sockets are bound in.
    pub fn registrations(&self) -> usize {
        let groups = self.lock();
        usize::from(groups.copy.is_live()) + usize::from(groups.zero_copy.is_live())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Groups> {
        // The groups are consistent after every statement; a panic while
        // holding the lock leaves nothing half done.
        self.inner.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the pool's buffer area on `fd`, a socket not yet bound.
    pub(crate) fn register(&self, fd: &OwnedFd) -> std::io::Result<()> {
        let (base, len) = self.inner.pool.buffer_area();
        sys::register_umem(fd.as_fd(), base, len, self.chunk_size())
    }

    /// Closes a socket's fd now. The lock matters: new sockets clone a
    /// member's fd only while holding it, so ours is the last reference and
    /// the kernel releases the socket (and its hold on our buffers) before
    /// this returns.
    pub(crate) fn close(&self, fd: Arc<OwnedFd>) {
        let _groups = self.lock();
        debug_assert_eq!(Arc::strong_count(&fd), 1);
        drop(fd);
    }
}
