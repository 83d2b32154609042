//! The contacts a member knows, in Kademlia buckets by distance.
//!
//! ```text
//!  distance(a, b) = first 8 octets of a XOR b, big-endian (PROTOCOL.md §13.1)
//!  bucket of a contact = leading zeros of its distance to the own id (0..=63)
//!  each bucket: up to k contacts, least recently seen first, and up to k
//!  alternates that replace none (there is no PING to evict the silent)
//! ```
//!
//! The C prototype keeps a trie of 256-way buckets covering the own id;
//! this is the classic table of Kademlia. Both answer a lookup with the
//! contacts closest to the key they know, which is all the wire shows.

use std::collections::VecDeque;
use std::time::Instant;

use crate::ipcp::unicast::lsr::Addr;

/// The distance between two ids: their first 8 octets, XORed, as a
/// big-endian number (the rest is ignored, as in C).
pub fn distance(a: &[u8], b: &[u8]) -> u64 {
    let word = |x: &[u8]| {
        let mut w = [0u8; 8];
        let n = x.len().min(8);
        w[..n].copy_from_slice(&x[..n]);
        u64::from_be_bytes(w)
    };
    word(a) ^ word(b)
}

/// A member of the layer as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: Vec<u8>,
    pub addr: Addr,
    pub seen: Instant,
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    contacts: VecDeque<Contact>,
    alternates: VecDeque<Contact>,
}

/// The routing table of one member.
#[derive(Debug, Clone)]
pub struct Table {
    own: Vec<u8>,
    k: usize,
    buckets: Vec<Bucket>,
}

impl Table {
    /// The table of the member `own`, `k` contacts per bucket.
    pub fn new(own: Vec<u8>, k: usize) -> Table {
        Table {
            own,
            k: k.max(1),
            buckets: vec![Bucket::default(); 64],
        }
    }

    fn bucket(&self, id: &[u8]) -> Option<usize> {
        match distance(&self.own, id) {
            0 => None,
            d => Some(d.leading_zeros() as usize),
        }
    }

    /// Adds or refreshes a contact seen at `now`; none for the own id.
    pub fn seen(&mut self, id: &[u8], addr: Addr, now: Instant) {
        let Some(b) = self.bucket(id) else {
            return;
        };
        let k = self.k;
        let bucket = &mut self.buckets[b];
        if let Some(at) = bucket.contacts.iter().position(|c| c.id == id) {
            let mut c = bucket.contacts.remove(at).expect("present");
            c.addr = addr;
            c.seen = now;
            bucket.contacts.push_back(c);
            return;
        }
        let contact = Contact {
            id: id.to_vec(),
            addr,
            seen: now,
        };
        bucket.alternates.retain(|c| c.id != id);
        if bucket.contacts.len() < k {
            bucket.contacts.push_back(contact);
        } else {
            if bucket.alternates.len() >= k {
                bucket.alternates.pop_front();
            }
            bucket.alternates.push_back(contact);
        }
    }

    /// Contacts held (not counting alternates).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.contacts.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `n` contacts closest to `key`, closest first.
    pub fn closest(&self, key: &[u8], n: usize) -> Vec<Contact> {
        let mut all: Vec<&Contact> = self.buckets.iter().flat_map(|b| b.contacts.iter()).collect();
        all.sort_unstable_by_key(|c| (distance(&c.id, key), c.addr));
        all.into_iter().take(n).cloned().collect()
    }

    /// The least recently seen contact of each bucket that has one.
    pub fn oldest(&self) -> impl Iterator<Item = &Contact> {
        self.buckets.iter().filter_map(|b| b.contacts.front())
    }
}
