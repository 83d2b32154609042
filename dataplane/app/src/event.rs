//! The event system: [`FlowSet`] (C `fset`), [`FQueue`] (C `fqueue`) and
//! [`Ipc::fevent`](crate::Ipc::fevent) (C `fevent`).
//!
//! A set names the flows to watch; `fevent` fills a queue with what
//! happened on them and sleeps (on the flows' rings and on the process's
//! notice word, all at once with futex_waitv) while nothing did.

use std::sync::Arc;

use crate::flow::{Flow, FlowShared};

/// What happened on a flow (C `enum fqtype`, same values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Event {
    /// A packet is ready to read (`FLOW_PKT`).
    Pkt = 1,
    /// The flow went down (`FLOW_DOWN`).
    Down = 2,
    /// The flow is up again (`FLOW_UP`).
    Up = 4,
    /// An asynchronous `flow_alloc` completed (`FLOW_ALLOC`; the C
    /// library defines it but never raises it).
    Alloc = 8,
    /// The flow was deallocated locally (`FLOW_DEALLOC`).
    Dealloc = 16,
    /// The peer stopped answering (`FLOW_PEER`).
    Peer = 32,
    /// An asynchronous `flow_alloc` failed; reading the flow returns why.
    /// An o7s addition (the C library has no asynchronous allocation).
    AllocFailed = 64,
}

/// Most flows one set watches (futex_waitv's 128, less the notice word).
pub const MAX_FLOWS: usize = o7s_mem::ring::MAX_WAIT - 1;

/// A set of flows to watch (C `fset`).
#[derive(Debug, Default)]
pub struct FlowSet {
    pub(crate) flows: Vec<Arc<FlowShared>>,
}

impl FlowSet {
    /// An empty set (C `fset_create`).
    pub fn new() -> FlowSet {
        FlowSet::default()
    }

    /// Watches `flow` (C `fset_add`); false when the set is full
    /// ([`MAX_FLOWS`]). Adding a flow twice watches it once.
    pub fn add(&mut self, flow: &Flow) -> bool {
        if self.has(flow) {
            return true;
        }
        if self.flows.len() == MAX_FLOWS {
            return false;
        }
        self.flows.push(Arc::clone(&flow.shared));
        true
    }

    /// Stops watching `flow` (C `fset_del`).
    pub fn remove(&mut self, flow: &Flow) {
        self.flows.retain(|f| !Arc::ptr_eq(f, &flow.shared));
    }

    /// Whether `flow` is watched (C `fset_has`).
    pub fn has(&self, flow: &Flow) -> bool {
        self.flows.iter().any(|f| Arc::ptr_eq(f, &flow.shared))
    }

    /// Watches nothing (C `fset_zero`).
    pub fn clear(&mut self) {
        self.flows.clear();
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

/// Events one [`fevent`](crate::Ipc::fevent) found (C `fqueue`): pairs of
/// a flow's descriptor ([`Flow::fd`]) and what happened, read in order.
#[derive(Debug, Default)]
pub struct FQueue {
    pub(crate) events: Vec<(u32, Event)>,
    pub(crate) next: usize,
}

impl FQueue {
    /// An empty queue (C `fqueue_create`).
    pub fn new() -> FQueue {
        FQueue::default()
    }

    pub(crate) fn reset(&mut self) {
        self.events.clear();
        self.next = 0;
    }
}

impl Iterator for FQueue {
    type Item = (u32, Event);

    /// The next event (C `fqueue_next` + `fqueue_type`).
    fn next(&mut self) -> Option<(u32, Event)> {
        let e = self.events.get(self.next).copied();
        self.next += usize::from(e.is_some());
        e
    }
}
