//! Packet buffers as tokens, and their ring descriptors.
//!
//! ```text
//!  one pool buffer (buf_size octets, default 2048)
//! +-----------+------------------------------+------------+
//! | head room |  packet data [head, head+len) | tail room  |
//! +-----------+------------------------------+------------+
//!  ^ headers of lower layers are prepended here   ^ CRC, AEAD tag
//! ```
//!
//! A [`Buf`] is the right to use one buffer: not `Clone`, so within a
//! process exactly one owner can reach its octets. It records where the
//! packet lies in the buffer; the octets themselves are reached through the
//! [`Pool`](crate::Pool). Between processes a buffer travels as a [`Desc`],
//! 8 octets in a ring entry, and becomes a `Buf` again only after the pool
//! checked it.

/// A buffer held by this process.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a Buf that is dropped instead of freed leaks until its slot is reclaimed"]
pub struct Buf {
    pub(crate) idx: u32,
    pub(crate) head: u16,
    pub(crate) len: u16,
    pub(crate) size: u16,
}

/// Not enough head or tail room for the requested change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no room in buffer: want {want} octets, {room} available")]
pub struct NoRoom {
    pub want: usize,
    pub room: usize,
}

impl Buf {
    /// Index of the buffer in its pool.
    pub fn index(&self) -> u32 {
        self.idx
    }

    /// Offset of the first packet octet within the buffer.
    pub fn head(&self) -> usize {
        usize::from(self.head)
    }

    /// Packet length in octets.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Free octets before the packet.
    pub fn headroom(&self) -> usize {
        usize::from(self.head)
    }

    /// Free octets after the packet.
    pub fn tailroom(&self) -> usize {
        usize::from(self.size) - usize::from(self.head) - usize::from(self.len)
    }

    /// Grows the packet by `n` octets at the front (room for a header).
    pub fn prepend(&mut self, n: usize) -> Result<(), NoRoom> {
        let n16 = u16::try_from(n).ok().filter(|&n| n <= self.head);
        let n16 = n16.ok_or(NoRoom {
            want: n,
            room: self.headroom(),
        })?;
        self.head -= n16;
        self.len += n16;
        Ok(())
    }

    /// Removes `n` octets from the front (a header that was consumed).
    pub fn strip(&mut self, n: usize) -> Result<(), NoRoom> {
        let n16 = u16::try_from(n).ok().filter(|&n| n <= self.len);
        let n16 = n16.ok_or(NoRoom {
            want: n,
            room: self.len(),
        })?;
        self.head += n16;
        self.len -= n16;
        Ok(())
    }

    /// Grows the packet by `n` octets at the end.
    pub fn append(&mut self, n: usize) -> Result<(), NoRoom> {
        let room = self.tailroom();
        let n16 = u16::try_from(n).ok().filter(|_| n <= room);
        let n16 = n16.ok_or(NoRoom { want: n, room })?;
        self.len += n16;
        Ok(())
    }

    /// Sets the packet to `len` octets from the current head.
    pub fn set_len(&mut self, len: usize) -> Result<(), NoRoom> {
        let room = usize::from(self.size) - usize::from(self.head);
        let len16 = u16::try_from(len).ok().filter(|_| len <= room);
        self.len = len16.ok_or(NoRoom { want: len, room })?;
        Ok(())
    }

    /// Places the packet at `head` with `len` octets (e.g. after a NIC wrote
    /// a frame at a known offset).
    pub fn reset(&mut self, head: usize, len: usize) -> Result<(), NoRoom> {
        let size = usize::from(self.size);
        if head > size || len > size - head {
            return Err(NoRoom {
                want: head.saturating_add(len),
                room: size,
            });
        }
        // Both fit in u16 because size does (buffer sizes are at most 32 KiB).
        self.head = head as u16;
        self.len = len as u16;
        Ok(())
    }

    pub(crate) fn desc(&self) -> Desc {
        Desc::new(self.idx, self.head, self.len)
    }

    /// Gives the buffer up as a descriptor, for handing it to a device (an
    /// AF_XDP ring, io_uring) that returns it later; the slot stays its
    /// holder, and [`PoolCache::claim`](crate::PoolCache::claim) turns the
    /// descriptor back into a `Buf`.
    pub fn into_desc(self) -> Desc {
        self.desc()
    }
}

/// A buffer in transit between processes: index, head offset and length
/// packed into one ring entry. Untrusted until the receiving pool checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Desc(pub u64);

impl Desc {
    pub fn new(idx: u32, head: u16, len: u16) -> Desc {
        Desc(u64::from(idx) | u64::from(head) << 32 | u64::from(len) << 48)
    }

    pub fn index(self) -> u32 {
        self.0 as u32
    }

    pub fn head(self) -> u16 {
        (self.0 >> 32) as u16
    }

    pub fn len(self) -> u16 {
        (self.0 >> 48) as u16
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf() -> Buf {
        Buf {
            idx: 3,
            head: 256,
            len: 0,
            size: 2048,
        }
    }

    #[test]
    fn prepend_and_strip_move_the_head_within_bounds() {
        let mut b = buf();
        b.append(100).unwrap();
        b.prepend(18).unwrap();
        assert_eq!((b.head(), b.len()), (238, 118));
        b.strip(18).unwrap();
        assert_eq!((b.head(), b.len()), (256, 100));
        assert_eq!(b.prepend(257), Err(NoRoom { want: 257, room: 256 }));
        assert_eq!(b.strip(101), Err(NoRoom { want: 101, room: 100 }));
        assert_eq!(
            (b.head(), b.len()),
            (256, 100),
            "failed changes leave the buffer as it was"
        );
    }

    #[test]
    fn append_stops_at_the_end_of_the_buffer() {
        let mut b = buf();
        assert!(b.append(2048 - 256).is_ok());
        assert_eq!(b.tailroom(), 0);
        assert_eq!(b.append(1), Err(NoRoom { want: 1, room: 0 }));
        assert!(b.set_len(2048 - 255).is_err());
        assert!(b.reset(2000, 49).is_err());
        assert!(b.reset(0, 2048).is_ok());
    }

    #[test]
    fn desc_packs_index_head_and_length() {
        let d = Desc::new(0xDEAD_BEEF, 0x1234, 0xFFFF);
        assert_eq!((d.index(), d.head(), d.len()), (0xDEAD_BEEF, 0x1234, 0xFFFF));
        let b = Buf {
            idx: 7,
            head: 100,
            len: 60,
            size: 2048,
        };
        assert_eq!(b.desc(), Desc::new(7, 100, 60));
    }
}
