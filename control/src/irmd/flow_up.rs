//! What every IPCP task does the same way when a flow arrives or comes
//! up, whatever its layer (a shim, a unicast layer): OAP, the flow's
//! rings, and the IRM's part.
//!
//! ```text
//!  request arrived ─> arrival: OAP response, rings, Irm::flow_request_arrived ─> (flow, response) | refuse code
//!  reply arrived ──> ends_for_up: requester checks the OAP response, gets its rings ─> attach (the task's)
//!  attach failed ──> attach_failed: the IRM told, the rings closed
//! ```

use std::fmt::Display;
use std::time::Instant;

use o7s_wire::hash::NameHash;
use o7s_wire::qos::QosSpec;

use super::plane::{FlowRings, PlaneError};
use super::shim::{Ctx, Ends, now_ns};
use crate::irm::{FlowId, oap};

/// A flow request with OAP request `request` arrived at `ipcp` from
/// `peer`: the OAP response made, the accepting process's rings ready (with
/// the worker's kick: its writes must not wait for the worker to wake by
/// itself), the IRM told. The flow and the OAP response to send once
/// accepted, or the code to refuse the request with.
pub fn arrival(
    now: Instant,
    ctx: &mut Ctx<'_>,
    ipcp: &str,
    hash: NameHash,
    qos: QosSpec,
    request: &[u8],
    peer: &dyn Display,
) -> Result<(FlowId, Vec<u8>), i32> {
    let response = oap::respond(request, now_ns()).map_err(|e| {
        tracing::info!(%ipcp, %peer, error = %e, "flow request refused");
        -libc::EPERM
    })?;
    let rings = FlowRings::create().map_err(|e| {
        tracing::error!(error = %e, "cannot create flow rings");
        -libc::ENOMEM
    })?;
    match ctx.irm.flow_request_arrived(now, ipcp, hash, qos) {
        Ok(flow) => {
            tracing::info!(%ipcp, %flow, %peer, "flow request arrived");
            let mut ends = Ends::rings(rings);
            ends.kick = ctx.plane.worker_kick().ok();
            ctx.ends.insert(flow, ends);
            Ok((flow, response))
        }
        Err(e) => {
            tracing::info!(%ipcp, %peer, error = %e, "flow request refused");
            Err(-e.errno().abs())
        }
    }
}

/// `flow`'s reply arrived with OAP response `response`: a requester (which
/// sent `request`) checks it and gets its rings. Whether this is the
/// requester; `None` when the flow cannot come up (the IRM told): the task
/// releases it in its core.
pub fn ends_for_up(
    ctx: &mut Ctx<'_>,
    ipcp: &str,
    flow: FlowId,
    request: Option<Vec<u8>>,
    response: &[u8],
) -> Option<bool> {
    if let Some(request) = request
        && let Err(e) = oap::check_response(&request, response)
    {
        tracing::warn!(%ipcp, %flow, error = %e, "flow reply refused");
        let _ = ctx.irm.alloc_reply(flow, ipcp, Err(-libc::EPERM));
        return None;
    }
    let requester = !ctx.ends.contains_key(&flow);
    if requester {
        match FlowRings::create() {
            Ok(rings) => {
                ctx.ends.insert(flow, Ends::rings(rings));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot create flow rings");
                let _ = ctx.irm.alloc_reply(flow, ipcp, Err(-libc::ENOMEM));
                return None;
            }
        }
    }
    Some(requester)
}

/// The dataplane could not take `flow`: the requester's allocation fails,
/// the responder's ends close and the IPCP side releases it.
pub fn attach_failed(ctx: &mut Ctx<'_>, ipcp: &str, flow: FlowId, requester: bool, error: &PlaneError) {
    tracing::error!(%ipcp, %flow, %error, "the dataplane cannot take the flow");
    if requester {
        ctx.ends.remove(&flow);
        let _ = ctx.irm.alloc_reply(flow, ipcp, Err(-libc::ENOMEM));
    } else {
        if let Some(ends) = ctx.ends.get(&flow) {
            ends.rings.rx.close();
            ends.rings.tx.close();
        }
        let _ = ctx.irm.ipcp_flow_dealloc(ipcp, flow);
    }
}
