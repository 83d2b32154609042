//! Which pool buffers a socket has lent to the kernel, and through which
//! ring: one bit per pool buffer for the fill side and one for the TX side
//! (4 KiB for the default 16 384 buffers), allocated once with the socket.
//!
//! The record is what makes the socket safe against the kernel. A buffer
//! the kernel names on the RX ring must be one we put on the fill ring,
//! and a completion must name one we sent; anything else (a kernel bug, a
//! second report of the same buffer) is counted and refused, so it can
//! never become a second [`Buf`](o7s_mem::Buf) for a buffer that already
//! has one. And when the socket closes, the record is the list of buffers
//! to take back: entries the kernel consumed from the fill ring but has not
//! used are not visible in any ring.

#[derive(Debug)]
pub(crate) struct Bits {
    words: Box<[u64]>,
    count: u32,
}

impl Bits {
    pub(crate) fn new(len: u32) -> Bits {
        Bits {
            words: vec![0; (len as usize).div_ceil(64)].into_boxed_slice(),
            count: 0,
        }
    }

    /// Sets bit `i`; false if it was already set.
    pub(crate) fn insert(&mut self, i: u32) -> bool {
        let (w, bit) = (i as usize / 64, 1u64 << (i % 64));
        let was = self.words[w] & bit != 0;
        self.words[w] |= bit;
        self.count += u32::from(!was);
        !was
    }

    /// Clears bit `i`; false if it was not set.
    pub(crate) fn remove(&mut self, i: u32) -> bool {
        let (w, bit) = (i as usize / 64, 1u64 << (i % 64));
        let was = self.words[w] & bit != 0;
        self.words[w] &= !bit;
        self.count -= u32::from(was);
        was
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// Clears every bit, returning the indices that were set.
    pub(crate) fn take_all(&mut self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.count as usize);
        for (w, word) in self.words.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                out.push(w as u32 * 64 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        self.count = 0;
        out
    }
}

/// Buffers in the kernel's hands, by the ring they went through.
#[derive(Debug)]
pub(crate) struct Lent {
    /// Put on the fill ring, not yet back on the RX ring.
    pub(crate) fill: Bits,
    /// Put on the TX ring, not yet back on the completion ring.
    pub(crate) tx: Bits,
}

impl Lent {
    pub(crate) fn new(buffers: u32) -> Lent {
        Lent {
            fill: Bits::new(buffers),
            tx: Bits::new(buffers),
        }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let (fill, tx) = (self.fill.count(), self.tx.count());
        if fill + tx > 0 {
            tracing::warn!(
                fill,
                tx,
                "AF_XDP socket dropped without drain(): its buffers stay held by its cache's pool slot \
                 until the process exits"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_count_and_refuse_double_insert_and_remove() {
        let mut b = Bits::new(130);
        assert!(b.insert(0) && b.insert(64) && b.insert(129));
        assert!(!b.insert(64), "a buffer cannot be lent twice");
        assert_eq!(b.count(), 3);
        assert!(b.remove(64));
        assert!(!b.remove(64), "nor returned twice");
        assert!(!b.remove(5));
        assert_eq!(b.count(), 2);
        assert_eq!(b.take_all(), vec![0, 129]);
        assert_eq!(b.count(), 0);
        assert!(b.take_all().is_empty());
    }
}
