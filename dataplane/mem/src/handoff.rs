//! Handing a pool and its rings to another process over a UNIX socket.
//!
//! The pool owner sends one message carrying the fds (SCM_RIGHTS): the pool
//! first, then the rings in order. The receiver maps them with
//! [`Pool::attach`] and [`Ring::attach`], which check what they map.

use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;

use crate::{MemError, Pool, Ring, sys};

/// Most rings one hand-off carries.
pub const MAX_RINGS: usize = 7;

const TAG: &[u8] = b"o7s-shm";

/// Sends `pool` and `rings` to the process at the other end of `sock`.
pub fn send(sock: &UnixStream, pool: &Pool, rings: &[&Ring]) -> Result<(), MemError> {
    if rings.len() > MAX_RINGS {
        return Err(MemError::Config("too many rings for one hand-off"));
    }
    let fds: Vec<BorrowedFd<'_>> = std::iter::once(pool.fd()).chain(rings.iter().map(|r| r.fd())).collect();
    sys::send_fds(sock, TAG, &fds)?;
    Ok(())
}

/// Receives what [`send`] sent and maps it.
pub fn receive(sock: &UnixStream) -> Result<(Pool, Vec<Ring>), MemError> {
    let mut msg = [0u8; 16];
    let (n, fds) = sys::recv_fds(sock, &mut msg)?;
    if msg.get(..n) != Some(TAG) || fds.is_empty() {
        return Err(MemError::BadRegion("hand-off message is not a pool and its rings"));
    }
    let mut fds = fds.into_iter();
    let pool = fds
        .next()
        .map(Pool::attach)
        .ok_or(MemError::BadRegion("no pool fd"))??;
    let rings = fds.map(Ring::attach).collect::<Result<Vec<_>, _>>()?;
    Ok((pool, rings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backing, PoolConfig};

    #[test]
    fn a_pool_and_rings_arrive_mapped() {
        let pool = Pool::create(
            "handoff-test",
            PoolConfig {
                count: 64,
                backing: Backing::Base,
                ..PoolConfig::default()
            },
        )
        .unwrap();
        let r1 = Ring::create("r1", 8).unwrap();
        let r2 = Ring::create("r2", 32).unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        send(&a, &pool, &[&r1, &r2]).unwrap();
        let (p, rings) = receive(&b).unwrap();
        assert_eq!(p.count(), 64);
        assert_eq!(rings.iter().map(Ring::capacity).collect::<Vec<_>>(), [8, 32]);
    }

    #[test]
    fn a_stray_message_is_refused() {
        let (a, b) = UnixStream::pair().unwrap();
        let region = crate::shm::Region::create("stray", 4096, Backing::Base).unwrap();
        sys::send_fds(&a, b"hello", &[region.fd()]).unwrap();
        assert!(matches!(receive(&b), Err(MemError::BadRegion(_))));
    }
}
