//! The benchmark baseline: the plain in-kernel XDP_REDIRECT forwarder that
//! the o7s dataplane is measured against, the no-op program its veth peer
//! needs, and the counting sink that receives what any forwarder sends.
//!
//! ```text
//!   in_if [xdp_fwd] --redirect--> out_if ~~~veth~~~> peer [xdp_pass] --> kernel
//!   forwarder --> out_if ~~~veth~~~> peer [xdp_count] --> counted, dropped
//! ```
//!
//! A veth accepts XDP-redirected frames only while its peer runs an XDP
//! program, hence [`PassProgram`] (or [`CountingSink`]) on the far end of
//! `out_if`.

use std::fmt;

use aya::maps::{DevMap, MapData, PerCpuArray};

use crate::{
    AttachMode, EbpfError, Result, abi,
    xdp::{self, ActiveMode, XdpAttachment},
};

const OBJECT: &str = "redirect.bpf.o";
const FORWARD: &str = "xdp_fwd";
const PASS: &str = "xdp_pass";
const COUNT: &str = "xdp_count";
static BYTES: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/redirect.bpf.o"));

/// `xdp_fwd` on one interface, sending every frame out of another; detached
/// on drop.
#[derive(Debug)]
pub struct RedirectForwarder {
    xdp: XdpAttachment,
    out_ifname: String,
    out_ifindex: u32,
}

impl RedirectForwarder {
    /// Attaches `xdp_fwd` to `in_ifname` with `out_ifname` as its only
    /// egress (both resolved in the calling thread's network namespace).
    pub fn attach(in_ifname: &str, out_ifname: &str, mode: AttachMode) -> Result<Self> {
        let in_ifindex = xdp::ifindex(in_ifname)?;
        let out_ifindex = xdp::ifindex(out_ifname)?;
        let mut bpf = xdp::load_object(OBJECT, BYTES)?;
        let tx_port = bpf.take_map(abi::MAP_TX_PORT).ok_or(EbpfError::Missing {
            object: OBJECT,
            kind: "map",
            name: abi::MAP_TX_PORT,
        })?;
        let mut tx_port = DevMap::try_from(tx_port).map_err(|e| EbpfError::map(abi::MAP_TX_PORT, "open", e))?;
        tx_port
            .set(0, out_ifindex, None, 0)
            .map_err(|e| EbpfError::xdp_map(abi::MAP_TX_PORT, format!("set egress to {out_ifname}"), e))?;
        let xdp = XdpAttachment::attach(bpf, OBJECT, FORWARD, (in_ifname, in_ifindex), mode)?;
        // The loaded program holds its own reference to the map: the egress
        // is fixed for the forwarder's life, so our handle can go.
        drop(tx_port);
        Ok(Self {
            xdp,
            out_ifname: out_ifname.to_owned(),
            out_ifindex,
        })
    }

    /// The mode `xdp_fwd` got on the ingress interface.
    pub fn mode(&self) -> ActiveMode {
        self.xdp.mode()
    }

    /// The ingress interface.
    pub fn in_ifname(&self) -> &str {
        self.xdp.ifname()
    }

    /// The egress interface and its index.
    pub fn out_interface(&self) -> (&str, u32) {
        (&self.out_ifname, self.out_ifindex)
    }

    /// The kernel's id of `xdp_fwd`.
    pub fn program_id(&self) -> Result<u32> {
        self.xdp.program_id()
    }
}

/// `xdp_pass` on one interface (the veth peer that receives redirected
/// frames); detached on drop.
#[derive(Debug)]
pub struct PassProgram {
    xdp: XdpAttachment,
}

impl PassProgram {
    /// Attaches `xdp_pass` to `ifname`.
    pub fn attach(ifname: &str, mode: AttachMode) -> Result<Self> {
        let ifindex = xdp::ifindex(ifname)?;
        let bpf = xdp::load_object(OBJECT, BYTES)?;
        Ok(Self {
            xdp: XdpAttachment::attach(bpf, OBJECT, PASS, (ifname, ifindex), mode)?,
        })
    }

    /// The mode it got.
    pub fn mode(&self) -> ActiveMode {
        self.xdp.mode()
    }

    /// The kernel's id of `xdp_pass`.
    pub fn program_id(&self) -> Result<u32> {
        self.xdp.program_id()
    }
}

/// `xdp_count` on one interface: every frame that arrives is counted
/// (packets and octets, per CPU) and dropped. The benchmark's sink, cheap
/// enough never to be what a measurement measures; detached on drop.
pub struct CountingSink {
    // First field: dropped (detached) before the map it writes.
    xdp: XdpAttachment,
    counts: PerCpuArray<MapData, abi::SinkCountValue>,
}

impl fmt::Debug for CountingSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // aya's map handles have no Debug; the attachment says what matters.
        f.debug_struct("CountingSink")
            .field("xdp", &self.xdp)
            .finish_non_exhaustive()
    }
}

impl CountingSink {
    /// Attaches `xdp_count` to `ifname` (resolved in the calling thread's
    /// network namespace).
    pub fn attach(ifname: &str, mode: AttachMode) -> Result<Self> {
        let ifindex = xdp::ifindex(ifname)?;
        let mut bpf = xdp::load_object(OBJECT, BYTES)?;
        let counts = bpf.take_map(abi::MAP_SINK_COUNTS).ok_or(EbpfError::Missing {
            object: OBJECT,
            kind: "map",
            name: abi::MAP_SINK_COUNTS,
        })?;
        let counts = PerCpuArray::try_from(counts).map_err(|e| EbpfError::map(abi::MAP_SINK_COUNTS, "open", e))?;
        Ok(Self {
            xdp: XdpAttachment::attach(bpf, OBJECT, COUNT, (ifname, ifindex), mode)?,
            counts,
        })
    }

    /// Frames and octets (Ethernet header on, no FCS) counted since attach,
    /// summed over CPUs.
    pub fn counts(&self) -> Result<(u64, u64)> {
        let per_cpu = self
            .counts
            .get(&0, 0)
            .map_err(|e| EbpfError::map(abi::MAP_SINK_COUNTS, "read the counts", e))?;
        Ok(per_cpu
            .iter()
            .fold((0, 0), |(packets, bytes), [p, b]| (packets + p, bytes + b)))
    }

    /// The mode it got.
    pub fn mode(&self) -> ActiveMode {
        self.xdp.mode()
    }

    /// The interface it counts on.
    pub fn ifname(&self) -> &str {
        self.xdp.ifname()
    }

    /// The kernel's id of `xdp_count`.
    pub fn program_id(&self) -> Result<u32> {
        self.xdp.program_id()
    }
}
