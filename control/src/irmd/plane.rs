//! irmd's embedded dataplane: the workers, the ports of the shim IPCPs,
//! the management frames to and from those IPCPs, and the flows that run
//! straight over a shim.
//!
//! ```text
//!            irmd's loop                                    worker(s), pinned
//!  shim task ── send(port, frame) ── inject ring of the port ──> AddSource(egress: port, as is) ──> port
//!  shim task <── punts() ─────────── punt ring (kicks irmd's eventfd, in irmd's epoll) <── EID 0 frames
//!  flow up  ── attach_flow ──> SetEndpoint(rx ring) + AddSource(tx ring, egress: port + encap)
//!                              + tables.shim_flows[(port, eid)], acknowledged (sync) before
//!                              the peer is told the flow is up
//!  application: reads its rx ring, writes its tx ring (and kicks the worker's eventfd)
//! ```
//!
//! Buffers move by index: a management frame irmd sends is written once
//! into a pool buffer and handed to the worker; a punted frame is read in
//! place and freed.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use o7s_dataplane::backend::{BackendError, ShimPortSpec};
use o7s_dataplane::forward::{self, Verdict};
use o7s_dataplane::port::PortInfo;
use o7s_dataplane::worker::Idle;
use o7s_dataplane::{Command, Dataplane};
use o7s_mem::{Buf, Consumer, Pool, PoolCache, Producer, Ring};
use o7s_seam::punt::{Punt, PuntCause};
use o7s_seam::tables::{DtDest, Egress, Encap, Fib, N1Flow, PortId, ShimFlow, ShimPeer, demux_key};
use o7s_seam::{Snapshot, Tables};
use o7s_wire::qos::QosCube;

/// Entries of the punt and injection rings.
const CONTROL_RING: u32 = 1024;
/// Entries of a flow's send ring (as a local flow's).
pub const FLOW_RING_ENTRIES: u32 = crate::irmd::FLOW_RING_ENTRIES;
/// Entries of a flow's receive ring: deeper than the send ring, since
/// nothing paces a peer across a shim but the application reading (the
/// worker holds SDUs for a full ring a while, then drops them), and an
/// entry costs 8 octets.
pub const FLOW_RX_RING_ENTRIES: u32 = 4 * FLOW_RING_ENTRIES;
/// How long irmd waits for the workers to take a change.
const SYNC: Duration = Duration::from_millis(500);
/// The worker irmd gives everything to (one worker for now).
const WORKER: usize = 0;

/// Why the dataplane could not do what irmd asked.
#[derive(Debug, thiserror::Error)]
pub enum PlaneError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("packet memory: {0}")]
    Mem(#[from] o7s_mem::MemError),
    #[error("the dataplane's worker did not take the change: {0}")]
    Command(#[from] o7s_seam::CommandError),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("no buffer free in the packet pool")]
    NoBuffer,
    #[error("the injection ring of port {0} is full")]
    RingFull(PortId),
    #[error("no port {0}")]
    NoPort(PortId),
    #[error("cannot send into the layer: {0}")]
    NoRoute(o7s_seam::DropReason),
}

/// A flow's two rings, seen from the application: it reads `rx` (the
/// worker fills it) and writes `tx` (the worker drains it).
#[derive(Debug)]
pub struct FlowRings {
    pub rx: Arc<Ring>,
    pub tx: Arc<Ring>,
}

impl FlowRings {
    pub fn create() -> Result<FlowRings, o7s_mem::MemError> {
        Ok(FlowRings {
            rx: Arc::new(Ring::create("o7s-flow", FLOW_RX_RING_ENTRIES)?),
            tx: Arc::new(Ring::create("o7s-flow", FLOW_RING_ENTRIES)?),
        })
    }
}

/// irmd's ends of a flow it holds itself ([`Plane::own_ends`]).
#[derive(Debug)]
pub struct OwnEnds {
    rx: Consumer,
    tx: Producer,
}

impl OwnEnds {
    /// Before irmd sleeps: a kick when SDUs arrive; true when some wait.
    pub fn arm(&mut self) -> bool {
        self.rx.arm_kick()
    }

    pub fn disarm(&mut self) {
        self.rx.disarm_kick();
    }
}

/// What the dataplane holds for one flow over a shim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowHandle {
    port: PortId,
    eid: u32,
    endpoint: u32,
    source: u32,
    peer: ShimPeer,
    encap: Encap,
}

impl FlowHandle {
    /// The port the flow runs over.
    pub fn port(&self) -> PortId {
        self.port
    }
}

/// What the dataplane holds for one flow of the unicast layer: its
/// endpoint (by EID) and its layer source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerFlowHandle {
    eid: u64,
    endpoint: u32,
    source: u32,
}

struct PortState {
    info: PortInfo,
    /// The source index of the port's injection ring, and its producer.
    inject: (u32, Producer),
}

/// The embedded dataplane and irmd's ends of its rings.
pub struct Plane {
    dp: Dataplane,
    pool: Pool,
    cache: PoolCache,
    punts: Consumer,
    kick: OwnedFd,
    ports: HashMap<PortId, PortState>,
    next_port: PortId,
    /// Free endpoint / source indexes (the worker grows its arrays to the
    /// highest in use).
    free_endpoints: Vec<u32>,
    next_endpoint: u32,
    free_sources: Vec<u32>,
    next_source: u32,
    burst: Vec<Buf>,
}

impl std::fmt::Debug for Plane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plane")
            .field("ports", &self.ports.len())
            .finish_non_exhaustive()
    }
}

impl Plane {
    /// Starts the worker(s) over `pool` with no port yet, and the punt ring
    /// that brings management frames to irmd.
    pub fn start(pool: &Pool, cores: &[usize], idle: Idle) -> Result<Plane, PlaneError> {
        let dp = Dataplane::start_embedded(pool, cores, idle)?;
        let cache = pool.cache()?;
        let ring = Ring::create("o7s-punt", CONTROL_RING)?;
        let punts = ring.consumer(cache.slot())?;
        let kick = o7s_mem::sys::eventfd()?;
        let mut producer = ring.producer()?;
        producer.set_kick(kick.try_clone()?);
        dp.apply(WORKER, Command::SetPunt(Some(producer)))?;
        Ok(Plane {
            dp,
            pool: pool.clone(),
            cache,
            punts,
            kick,
            ports: HashMap::new(),
            next_port: 0,
            free_endpoints: Vec::new(),
            next_endpoint: 0,
            free_sources: Vec::new(),
            next_source: 0,
            burst: Vec::with_capacity(64),
        })
    }

    /// The eventfd a punt wakes (for irmd's epoll).
    pub fn punt_fd(&self) -> BorrowedFd<'_> {
        self.kick.as_fd()
    }

    fn new_source(&mut self) -> u32 {
        self.free_sources.pop().unwrap_or_else(|| {
            self.next_source += 1;
            self.next_source - 1
        })
    }

    fn new_endpoint(&mut self) -> u32 {
        self.free_endpoints.pop().unwrap_or_else(|| {
            self.next_endpoint += 1;
            self.next_endpoint - 1
        })
    }

    /// Opens the port a shim IPCP runs over, and its injection ring.
    pub fn add_port(&mut self, spec: &ShimPortSpec) -> Result<(PortId, PortInfo), PlaneError> {
        let id = self.next_port;
        let info = self.dp.add_shim_port(WORKER, id, spec)?;
        self.next_port += 1;
        let ring = Ring::create("o7s-inject", CONTROL_RING)?;
        let mut producer = ring.producer()?;
        producer.set_kick(self.dp.kick_fd(WORKER)?);
        let index = self.new_source();
        let egress = Egress { port: id, encap: None };
        if let Err(e) = self.dp.apply(WORKER, Command::AddSource { index, ring, egress }) {
            let _ = self.dp.remove_port(WORKER, id);
            self.free_sources.push(index);
            return Err(e.into());
        }
        self.ports.insert(
            id,
            PortState {
                info: info.clone(),
                inject: (index, producer),
            },
        );
        Ok((id, info))
    }

    /// Closes a port; its flows must be detached first.
    pub fn remove_port(&mut self, port: PortId) {
        if let Some(p) = self.ports.remove(&port) {
            let _ = self.dp.apply(WORKER, Command::RemoveSource { index: p.inject.0 });
            self.free_sources.push(p.inject.0);
            let _ = self.dp.remove_port(WORKER, port);
        }
    }

    pub fn port_info(&self, port: PortId) -> Option<&PortInfo> {
        self.ports.get(&port).map(|p| &p.info)
    }

    /// Sends a frame out of `port`: `write` fills a pool buffer (as much
    /// of it as it needs) and returns the frame's length.
    pub fn send(
        &mut self,
        port: PortId,
        write: impl FnOnce(&mut [u8]) -> Result<usize, o7s_wire::WireError>,
    ) -> Result<(), PlaneError> {
        self.inject(port, &[], write)
    }

    /// Sends a datagram out of UDP port `port` to `to`: `write` fills the
    /// UDP payload and returns its length; the worker reads the
    /// destination from in front of it ([`o7s_seam::inject`]).
    pub fn send_to(
        &mut self,
        port: PortId,
        to: SocketAddr,
        write: impl FnOnce(&mut [u8]) -> Result<usize, o7s_wire::WireError>,
    ) -> Result<(), PlaneError> {
        self.inject(port, &o7s_seam::inject::dest_header(to), write)
    }

    /// Writes `prefix`, then what `write` writes, into a pool buffer and
    /// hands it to the worker on `port`'s inject ring.
    fn inject(
        &mut self,
        port: PortId,
        prefix: &[u8],
        write: impl FnOnce(&mut [u8]) -> Result<usize, o7s_wire::WireError>,
    ) -> Result<(), PlaneError> {
        let state = self.ports.get_mut(&port).ok_or(PlaneError::NoPort(port))?;
        let mut buf = self.cache.alloc().ok_or(PlaneError::NoBuffer)?;
        let room = buf.tailroom();
        let wrote = buf.append(room).ok().and_then(|()| {
            let data = self.pool.data_mut(&mut buf);
            let (head, body) = data.split_at_mut_checked(prefix.len())?;
            head.copy_from_slice(prefix);
            write(body).ok().map(|len| prefix.len() + len)
        });
        let Some(len) = wrote else {
            self.cache.free(buf);
            return Err(PlaneError::Io(io::Error::other(
                "management frame does not fit a buffer",
            )));
        };
        if buf.set_len(len).is_err() {
            self.cache.free(buf);
            return Err(PlaneError::NoBuffer);
        }
        self.burst.push(buf);
        if self.cache.send(&mut state.inject.1, &mut self.burst) == 1 {
            Ok(())
        } else {
            self.cache.free_burst(&mut self.burst);
            Err(PlaneError::RingFull(port))
        }
    }

    /// Takes every punted frame: `f(port, cause, frame)`, then frees it.
    /// Returns how many.
    pub fn punts(&mut self, mut f: impl FnMut(PortId, PuntCause, &[u8])) -> usize {
        let _ = o7s_mem::sys::eventfd_drain(self.kick.as_fd());
        let mut n = 0;
        loop {
            self.burst.clear();
            if self.cache.recv(&mut self.punts, &mut self.burst, 64) == 0 {
                return n;
            }
            for buf in self.burst.drain(..) {
                let octets = self.pool.data(&buf);
                let desc = o7s_mem::Desc::new(buf.index(), buf.head() as u16, buf.len() as u16);
                if let Ok(punt) = Punt::read(desc, octets) {
                    let frame = &octets[o7s_seam::punt::HEADER_LEN..];
                    f(punt.port, punt.cause, frame);
                    n += 1;
                }
                self.cache.free(buf);
            }
        }
    }

    /// irmd's ends of a flow it holds itself (an IPCP's N-1 flow): it
    /// reads `rings.rx` and writes `rings.tx`.
    pub fn own_ends(&self, rings: &FlowRings) -> Result<OwnEnds, PlaneError> {
        let rx = rings.rx.consumer(self.cache.slot())?;
        let mut tx = rings.tx.producer()?;
        tx.set_kick(self.dp.kick_fd(WORKER)?);
        Ok(OwnEnds { rx, tx })
    }

    /// Reads every SDU waiting on `ends`: `f(sdu)`. Returns how many.
    pub fn read_own(&mut self, ends: &mut OwnEnds, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        loop {
            self.burst.clear();
            if self.cache.recv(&mut ends.rx, &mut self.burst, 64) == 0 {
                return n;
            }
            for buf in self.burst.drain(..) {
                f(self.pool.data(&buf));
                self.cache.free(buf);
                n += 1;
            }
        }
    }

    /// Writes one SDU on `ends`.
    pub fn write_own(&mut self, ends: &mut OwnEnds, sdu: &[u8]) -> Result<(), PlaneError> {
        let mut buf = self.cache.alloc().ok_or(PlaneError::NoBuffer)?;
        if buf.append(sdu.len()).is_err() {
            self.cache.free(buf);
            return Err(PlaneError::Io(io::Error::other("SDU does not fit a buffer")));
        }
        self.pool.data_mut(&mut buf).copy_from_slice(sdu);
        self.burst.clear();
        self.burst.push(buf);
        if self.cache.send(&mut ends.tx, &mut self.burst) == 1 {
            Ok(())
        } else {
            self.cache.free_burst(&mut self.burst);
            Err(PlaneError::Io(io::Error::other("the flow's send ring is full")))
        }
    }

    /// Before irmd sleeps: asks the worker to kick irmd's eventfd at its
    /// next punt; true when punts already wait (do not sleep).
    pub fn arm(&mut self) -> bool {
        self.punts.arm_kick()
    }

    pub fn disarm(&mut self) {
        self.punts.disarm_kick();
    }

    /// A copy of the eventfd that wakes irmd's loop: the kick of a flow
    /// whose other end irmd serves itself (a joined broadcast flow).
    pub fn punt_kick(&self) -> std::io::Result<OwnedFd> {
        self.kick.try_clone()
    }

    /// The fd an application kicks the worker through, for a flow end
    /// handed out before its flow is attached (the accepting side: the
    /// IRM answers the accept before the shim's reply brings the flow up).
    pub fn worker_kick(&self) -> std::io::Result<OwnedFd> {
        self.dp.kick_fd(WORKER)
    }

    /// Makes `rings` the flow with EID `eid` on `port` to `peer`: frames
    /// from the peer with that EID go to `rings.rx`, what the application
    /// writes to `rings.tx` leaves framed with `encap`. Returns once the
    /// worker has taken it, with the fd the application kicks the worker
    /// through.
    pub fn attach_flow(
        &mut self,
        port: PortId,
        eid: u32,
        peer: ShimPeer,
        encap: Encap,
        rings: &FlowRings,
    ) -> Result<(FlowHandle, OwnedFd), PlaneError> {
        if !self.ports.contains_key(&port) {
            return Err(PlaneError::NoPort(port));
        }
        let endpoint = self.new_endpoint();
        let source = self.new_source();
        let handle = FlowHandle {
            port,
            eid,
            endpoint,
            source,
            peer,
            encap,
        };
        let egress = Egress {
            port,
            encap: Some(encap),
        };
        let attached = self.attach_rings(
            rings,
            endpoint,
            |ring| Command::AddSource {
                index: source,
                ring,
                egress,
            },
            |t| {
                t.shim_flows.insert(demux_key(port, eid), ShimFlow { endpoint, peer });
            },
        );
        match attached {
            Ok(kick) => Ok((handle, kick)),
            Err(e) => {
                self.detach_flow(handle);
                Err(e)
            }
        }
    }

    /// Gives the worker a flow's rings: what arrives for it goes to
    /// `rings.rx` as endpoint `endpoint`, `rings.tx` is polled by the
    /// source command `source_cmd` makes of the worker's end;
    /// `tables` then makes the flow findable. Returns once the worker has
    /// taken it, with the fd the application kicks the worker through.
    fn attach_rings(
        &mut self,
        rings: &FlowRings,
        endpoint: u32,
        source_cmd: impl FnOnce(Ring) -> Command,
        tables: impl FnOnce(&mut Tables),
    ) -> Result<OwnedFd, PlaneError> {
        let mut producer = rings.rx.producer()?;
        // A reader in irmd (an IPCP's own flow) sleeps in irmd's epoll on
        // the punt eventfd: the kick fires only for a consumer that armed
        // it, so applications' futex waits are untouched.
        producer.set_kick(self.kick.try_clone()?);
        self.dp.apply(
            WORKER,
            Command::SetEndpoint {
                index: endpoint,
                ring: Some(producer),
            },
        )?;
        let worker_end = Ring::attach(rings.tx.fd().try_clone_to_owned()?)?;
        self.dp.apply(WORKER, source_cmd(worker_end))?;
        self.dp.update(tables);
        self.dp.sync(SYNC)?;
        Ok(self.dp.kick_fd(WORKER)?)
    }

    /// Undoes [`attach_rings`](Self::attach_rings) once `tables` made the
    /// flow unfindable.
    fn release_rings(&mut self, endpoint: u32, source: u32, tables: impl FnOnce(&mut Tables)) {
        self.dp.update(tables);
        let _ = self.dp.apply(WORKER, Command::RemoveSource { index: source });
        let _ = self.dp.apply(
            WORKER,
            Command::SetEndpoint {
                index: endpoint,
                ring: None,
            },
        );
        self.free_sources.push(source);
        self.free_endpoints.push(endpoint);
    }

    /// Undoes [`attach_flow`](Self::attach_flow).
    pub fn detach_flow(&mut self, h: FlowHandle) {
        self.release_rings(h.endpoint, h.source, |t| {
            t.shim_flows.remove(&demux_key(h.port, h.eid));
        });
    }

    /// Makes the attached shim flow `h` an N-1 flow of the unicast layer
    /// called `name`, in `cube`: DT packets arriving on it are forwarded or
    /// delivered by the tables, and it is a next hop. Returns the flow's
    /// index in the tables.
    pub fn to_n1(&mut self, h: FlowHandle, name: String, cube: QosCube) -> Result<u32, PlaneError> {
        let mut id = 0;
        self.dp.update(|t: &mut Tables| {
            t.shim_flows.remove(&demux_key(h.port, h.eid));
            let flow = N1Flow {
                name,
                port: h.port,
                encap: h.encap,
                cube,
                up: true,
            };
            // Slots of flows that went down are not reused: the routes
            // may name them until they are computed again.
            id = t.add_flow(flow, h.eid);
        });
        // The flow's rings stay attached until it is released
        // (detach_flow): what was written on them last (the CACEP answer)
        // still leaves; nothing arrives on them any more, since the
        // demux takes the flow's frames first.
        self.dp.sync(SYNC)?;
        Ok(id)
    }

    /// N-1 flow `id` of the unicast layer is down: no next hop any more,
    /// and what arrives on its (port, EID) is no longer its.
    pub fn n1_down(&mut self, id: u32) {
        self.dp.update(|t: &mut Tables| {
            if let Some(f) = t.flows.get_mut(id as usize) {
                f.up = false;
            }
            t.demux.retain(|_, f| *f != id);
        });
    }

    /// This member's address and the layer's TTL, as enrolment or
    /// bootstrap set them.
    pub fn set_layer(&mut self, address: u64, max_ttl: u8) {
        self.dp.update(|t: &mut Tables| {
            t.address = address;
            t.max_ttl = max_ttl;
        });
    }

    /// New forwarding tables for the layer, one per cube, swapped in whole.
    pub fn set_fib(&mut self, fib: [Fib; 3]) {
        self.dp.update(|t: &mut Tables| t.fib = fib);
    }

    /// Makes `rings` a flow of the unicast layer with local EID `eid`: DT
    /// packets to `eid` here go to `rings.rx`, what the application writes
    /// to `rings.tx` leaves with a DT header to `to`. Returns once the
    /// worker has taken it, with the fd the application kicks the worker
    /// through.
    pub fn attach_layer_flow(
        &mut self,
        eid: u64,
        to: DtDest,
        rings: &FlowRings,
    ) -> Result<(LayerFlowHandle, OwnedFd), PlaneError> {
        let handle = LayerFlowHandle {
            eid,
            endpoint: self.new_endpoint(),
            source: self.new_source(),
        };
        let (endpoint, source) = (handle.endpoint, handle.source);
        let attached = self.attach_rings(
            rings,
            endpoint,
            |ring| Command::AddLayerSource {
                index: source,
                ring,
                to,
            },
            |t| {
                t.endpoints.insert(eid, endpoint);
            },
        );
        match attached {
            Ok(kick) => Ok((handle, kick)),
            Err(e) => {
                self.detach_layer_flow(handle);
                Err(e)
            }
        }
    }

    /// Undoes [`attach_layer_flow`](Self::attach_layer_flow).
    pub fn detach_layer_flow(&mut self, h: LayerFlowHandle) {
        self.release_rings(h.endpoint, h.source, |t| {
            t.endpoints.remove(&h.eid);
        });
    }

    /// Sends `payload` to component `eid` of member `dst` of the unicast
    /// layer: a DT packet, framed for the next hop the tables give, as the
    /// worker frames an application's (`forward::originate`), handed to
    /// the worker on that port's injection ring.
    pub fn send_dt(&mut self, dst: u64, eid: u64, cube: QosCube, payload: &[u8]) -> Result<(), PlaneError> {
        const ROOM: usize = 128;
        let tables = self.dp.tables();
        let mut buf = vec![0u8; ROOM + payload.len()];
        buf[ROOM..].copy_from_slice(payload);
        let to = DtDest { dst, eid, cube };
        match forward::originate(&tables, &mut buf, ROOM, payload.len(), &to, |_| 0) {
            Verdict::Forward { port, head, len, to } => {
                let frame = &buf[head..head + len];
                let copy = |b: &mut [u8]| {
                    let have = b.len();
                    let dst = b.get_mut(..frame.len()).ok_or(o7s_wire::WireError::Truncated {
                        need: frame.len(),
                        have,
                    })?;
                    dst.copy_from_slice(frame);
                    Ok(frame.len())
                };
                match to {
                    Some(to) => self.send_to(port, to, copy),
                    None => self.send(port, copy),
                }
            }
            Verdict::Drop(reason) => Err(PlaneError::NoRoute(reason)),
            _ => Err(PlaneError::NoRoute(o7s_seam::DropReason::NoRoute)),
        }
    }

    /// What the dataplane counted for `port`.
    pub fn counters(&self, port: PortId) -> Snapshot {
        self.dp.port_counters(port)
    }
}
