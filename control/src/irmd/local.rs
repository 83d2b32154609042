//! The local IPCP's control half: the loopback layer of one system
//! (PROTOCOL.md §1, the paper's `local` layer). It knows which name hashes
//! are registered with it and pairs the two ends of each flow; the data
//! half is the pair of shared rings irmd creates for the pair, which the
//! two processes use directly (no hop through another process: a local
//! flow adds no header).

use std::collections::{BTreeMap, BTreeSet};

use o7s_wire::hash::NameHash;

use crate::irm::FlowId;

/// One local IPCP's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LocalIpcp {
    registered: BTreeSet<NameHash>,
    /// Each flow end and the end it is paired with.
    peers: BTreeMap<FlowId, FlowId>,
}

impl LocalIpcp {
    pub fn new() -> LocalIpcp {
        LocalIpcp::default()
    }

    /// A name is registered: flows to its hash arrive here.
    pub fn register(&mut self, hash: NameHash) {
        self.registered.insert(hash);
    }

    pub fn unregister(&mut self, hash: &NameHash) {
        self.registered.remove(hash);
    }

    /// Whether a flow to `hash` can be allocated in this layer.
    pub fn knows(&self, hash: &NameHash) -> bool {
        self.registered.contains(hash)
    }

    /// Pairs the requester's end with the responder's.
    pub fn pair(&mut self, requester: FlowId, responder: FlowId) {
        self.peers.insert(requester, responder);
        self.peers.insert(responder, requester);
    }

    /// The other end of `flow`, if paired.
    pub fn peer(&self, flow: FlowId) -> Option<FlowId> {
        self.peers.get(&flow).copied()
    }

    /// Forgets `flow`; returns its peer if that one was still paired.
    pub fn release(&mut self, flow: FlowId) -> Option<FlowId> {
        let peer = self.peers.remove(&flow)?;
        self.peers.remove(&peer).map(|_| peer)
    }

    /// Flow ends paired here.
    pub fn flows(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests {
    use o7s_wire::hash::{HashAlgo, hash_name};

    use super::*;

    #[test]
    fn knows_only_registered_hashes() {
        let mut lo = LocalIpcp::new();
        let h = hash_name(HashAlgo::Sha3_256, "oping");
        assert!(!lo.knows(&h));
        lo.register(h);
        assert!(lo.knows(&h));
        lo.unregister(&h);
        assert!(!lo.knows(&h));
    }

    #[test]
    fn releasing_one_end_hands_back_the_other_once() {
        let mut lo = LocalIpcp::new();
        lo.pair(FlowId(1), FlowId(2));
        assert_eq!(lo.peer(FlowId(2)), Some(FlowId(1)));
        assert_eq!(lo.release(FlowId(1)), Some(FlowId(2)));
        assert_eq!(lo.release(FlowId(2)), None);
        assert_eq!(lo.flows(), 0);
    }
}
