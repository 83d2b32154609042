//! What a shim management message says, whatever the shim (placeholder
//! until the shared codec lands).

use crate::qos::QosSpec;

/// What a shim management message says, whatever the shim (PROTOCOL.md §2.2, §3, §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShimMgmt<'a> {
    /// Who has this name hash? (broadcast; eth shims only)
    NameQuery { hash: &'a [u8] },
    /// I have this name hash.
    NameReply { hash: &'a [u8] },
    /// Allocate a flow to `hash`; `requester` is the EID (or SAP) the requester chose.
    FlowReq {
        requester: u32,
        qos: QosSpec,
        hash: &'a [u8],
        data: &'a [u8],
    },
    /// The answer to a FlowReq: `responder` is the EID the responder chose (meaningless when response != 0).
    FlowReply {
        requester: u32,
        responder: u32,
        response: i32,
        data: &'a [u8],
    },
}
