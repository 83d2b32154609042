//! Opening ports and starting the dataplane: the glue between the
//! backends and the workers, for the static router ([`config`](crate::config))
//! and for irmd, which embeds the dataplane and opens the port of each
//! shim IPCP it bootstraps.
//!
//! ```text
//!  irmd:    Dataplane::start_embedded(pool, cores, idle) workers, no port yet
//!           dp.add_shim_port(worker, id, &ShimPortSpec)  open ─► AddPort ─► PortInfo (MAC, MTU, backend)
//!             EthDix { dev, ethertype }  AF_XDP + XDP steering (AF_PACKET if XDP cannot attach
//!                                        or the socket cannot bind: logged with the reason)
//!             EthLlc { dev }             the same, steering 802.2 LLC frames (AF_PACKET
//!                                        bound to them as the fallback)
//!             Udp { bind }               io_uring UDP socket
//!           dp.remove_port(worker, id)
//!  router:  start_router(&RouterConfig)                  every port of the file, one worker
//! ```
//!
//! Every port opens over the dataplane's one pool; AF_XDP ports share one
//! UMEM (the pool's memory, registered once per mode), so a frame received
//! on one port leaves by another, or reaches an application, as the same
//! buffer. Backend choice per configured router port: `af_xdp`,
//! `af_packet` (mmap rings, one copy per frame), or `auto`: AF_XDP, and
//! AF_PACKET when XDP cannot attach or the socket cannot bind (logged).

use std::net::SocketAddr;

use o7s_ebpf::SteeringConfig;
use o7s_mem::{Pool, PoolConfig, Producer};
use o7s_seam::command::CommandError;
use o7s_seam::tables::PortId;
use o7s_xsk::Umem;

use crate::config::{Backend, ConfigError, PortConfig, RouterConfig, XdpMode, interface_mac, interface_mtu};
use crate::port::packet::{AfPacketPort, LLC_FRAMES, PacketConfig, PacketError};
use crate::port::uring::{UringConfig, UringUdpPort};
use crate::port::xdp::{XdpPort, XdpPortError, attach_mode};
use crate::port::{Port, PortInfo};
use crate::worker::{Dataplane, Idle, StartError, WorkerSpec};
use o7s_seam::tables::{Encap, NextHop, Tables};

/// Why the router, or a port, could not start.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("packet pool: {0}")]
    Pool(#[from] o7s_mem::MemError),
    #[error("port {port}: {source}")]
    Xdp {
        port: String,
        #[source]
        source: XdpPortError,
    },
    #[error("port {port}: AF_PACKET: {source}")]
    Packet {
        port: String,
        #[source]
        source: PacketError,
    },
    #[error("port {port}: {why}")]
    Port { port: String, why: String },
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("core {index} is not in this process's core list ({available} cores)")]
    NoSuchCore { index: usize, available: usize },
    #[error("the dataplane has no worker, so no pool to open ports over")]
    NoWorker,
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// The port of a shim IPCP, as irmd asks for it
/// ([`Dataplane::add_shim_port`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShimPortSpec {
    /// eth-dix on interface `dev`, frames of `ethertype` (each eth-dix
    /// port has its own).
    EthDix { dev: String, ethertype: u16 },
    /// eth-llc on interface `dev`.
    EthLlc { dev: String },
    /// A UDP shim (udp4 or udp6, as `bind` is) on the socket bound to
    /// `bind`.
    Udp { bind: SocketAddr },
}

/// The default UDP shim port the steering program also passes to AF_XDP.
const UDP_SHIM_PORT: u16 = 3435;

/// A port just opened: AF_XDP ports stay concrete until their steering
/// program has been given the fast path.
enum Opened {
    Xdp(Box<XdpPort>),
    Other(Box<dyn Port>),
}

impl Opened {
    fn boxed(self) -> Box<dyn Port> {
        match self {
            Opened::Xdp(p) => p,
            Opened::Other(p) => p,
        }
    }
}

/// The frames of an Ethernet shim port.
#[derive(Debug, Clone, Copy)]
enum EthFrames {
    /// eth-dix, of this Ethertype.
    Dix(u16),
    /// eth-llc: 802.2 LLC frames.
    Llc,
}

impl EthFrames {
    /// The protocol an AF_PACKET socket binds to for them.
    fn packet_protocol(self) -> u16 {
        match self {
            EthFrames::Dix(ethertype) => ethertype,
            EthFrames::Llc => LLC_FRAMES,
        }
    }
}

/// Opens an Ethernet shim port for `frames` on `ifname` (in the calling
/// thread's namespace) with `backend`: AF_XDP on queue `queue` over the
/// dataplane's UMEM (made from `pool` when no port has yet), AF_PACKET, or
/// AF_XDP and AF_PACKET if that fails.
fn open_eth(
    ifname: &str,
    frames: EthFrames,
    backend: Backend,
    xdp_mode: XdpMode,
    queue: u32,
    umem: &mut Option<Umem>,
    pool: &Pool,
) -> Result<Opened, BackendError> {
    let mtu = interface_mtu(ifname).ok_or_else(|| BackendError::Port {
        port: ifname.into(),
        why: "no such interface".into(),
    })?;
    let xdp = |umem: &mut Option<Umem>| -> Result<Opened, BackendError> {
        let umem = match umem {
            Some(u) => u.clone(),
            None => umem
                .insert(Umem::new(pool).map_err(|e| BackendError::Xdp {
                    port: ifname.into(),
                    source: e.into(),
                })?)
                .clone(),
        };
        // UDP shim traffic is served by kernel sockets (the io_uring
        // backend): leave it to the kernel.
        // The port sets the MAC and frame length it takes.
        let steer = SteeringConfig {
            ethertype: match frames {
                EthFrames::Dix(ethertype) => ethertype,
                EthFrames::Llc => SteeringConfig::default().ethertype,
            },
            udp_port: UDP_SHIM_PORT,
            steer_udp: false,
            llc: matches!(frames, EthFrames::Llc),
            mode: attach_mode(xdp_mode),
            ..SteeringConfig::default()
        };
        let port = XdpPort::open(&umem, ifname, queue, steer, mtu).map_err(|source| BackendError::Xdp {
            port: ifname.into(),
            source,
        })?;
        Ok(Opened::Xdp(Box::new(port)))
    };
    let packet =
        || -> Result<Opened, BackendError> { open_packet(ifname, frames.packet_protocol()).map(Opened::Other) };
    match backend {
        Backend::AfXdp => xdp(umem),
        Backend::AfPacket => packet(),
        Backend::Auto => xdp(umem).or_else(|e| {
            tracing::warn!(port = %ifname, error = %e, "AF_XDP unavailable, falling back to AF_PACKET");
            packet()
        }),
        Backend::Udp => Err(BackendError::Port {
            port: ifname.into(),
            why: "a UDP backend for an Ethernet port".into(),
        }),
    }
}

/// An AF_PACKET port on `ifname` for `ethertype` ([`LLC_FRAMES`] for
/// eth-llc).
fn open_packet(ifname: &str, ethertype: u16) -> Result<Box<dyn Port>, BackendError> {
    let pc = PacketConfig {
        interface: ifname.into(),
        ethertype,
        ..PacketConfig::default()
    };
    let port = AfPacketPort::open(&pc).map_err(|source| BackendError::Packet {
        port: ifname.into(),
        source,
    })?;
    Ok(Box::new(port))
}

/// A UDP shim port bound to `bind`, over `pool`.
fn open_udp(name: &str, bind: SocketAddr, pool: &Pool) -> Result<Box<dyn Port>, BackendError> {
    let uc = UringConfig {
        bind,
        ..UringConfig::default()
    };
    let port = UringUdpPort::bind(&uc, pool).map_err(|e| BackendError::Port {
        port: name.into(),
        why: e.to_string(),
    })?;
    Ok(Box::new(port))
}

fn open_port(p: &PortConfig, cfg: &RouterConfig, umem: &mut Option<Umem>, pool: &Pool) -> Result<Opened, BackendError> {
    match p.backend {
        Backend::Udp => {
            let bind = p
                .bind
                .as_deref()
                .and_then(|b| b.parse().ok())
                .ok_or_else(|| BackendError::Port {
                    port: p.name.clone(),
                    why: "udp port without a valid bind address".into(),
                })?;
            open_udp(&p.name, bind, pool).map(Opened::Other)
        }
        backend => open_eth(
            &p.name,
            EthFrames::Dix(cfg.ethertype),
            backend,
            p.xdp_mode,
            p.queue,
            umem,
            pool,
        ),
    }
}

/// The indices in this process's core list of `cores`, read once, before
/// any thread pins itself (a pinned thread only sees its own core).
fn core_ids(cores: &[usize]) -> Result<Vec<core_affinity::CoreId>, BackendError> {
    let all = core_affinity::get_core_ids().unwrap_or_default();
    cores
        .iter()
        .map(|&index| {
            all.get(index).copied().ok_or(BackendError::NoSuchCore {
                index,
                available: all.len(),
            })
        })
        .collect()
}

impl Dataplane {
    /// Starts the dataplane embedded in the calling process (irmd), over
    /// `pool`, with no port yet: one worker per entry of `cores` (indices
    /// in the process's core list), each pinned to that core, or one
    /// unpinned worker when `cores` is empty. Workers wait for traffic as
    /// `idle` says. Ports come with
    /// [`add_shim_port`](Self::add_shim_port). Logs the cores and the page
    /// size of the pool.
    pub fn start_embedded(pool: &Pool, cores: &[usize], idle: Idle) -> Result<Dataplane, BackendError> {
        let pinned = core_ids(cores)?;
        let places: Vec<Option<core_affinity::CoreId>> = if pinned.is_empty() {
            vec![None]
        } else {
            pinned.into_iter().map(Some).collect()
        };
        let mut specs = Vec::with_capacity(places.len());
        for (w, core) in places.iter().enumerate() {
            specs.push(WorkerSpec {
                name: format!("o7s-worker{w}"),
                core: *core,
                cache: pool.cache()?,
                ports: Vec::new(),
                endpoints: Vec::new(),
                punt: None,
                idle,
            });
        }
        tracing::info!(
            workers = places.len(),
            cores = ?places.iter().map(|c| c.map(|c| c.id)).collect::<Vec<_>>(),
            pages = %pool.pages(),
            buffers = pool.count(),
            buf_size = pool.buf_size(),
            idle = %idle,
            "dataplane started, embedded (cores: None = not pinned)"
        );
        Ok(Dataplane::start(Tables::default(), specs)?)
    }

    /// Opens the port `spec` describes (in the calling thread's network
    /// namespace) over the dataplane's pool and has worker `worker` poll it
    /// as port `id`; returns what it is (interface MAC, MTU, the backend in
    /// use). eth-dix runs on AF_XDP with the XDP steering program for its
    /// Ethertype, and falls back to AF_PACKET (logged, with the reason)
    /// when XDP cannot attach or the socket cannot bind; eth-llc the same,
    /// its steering program matching 802.2 LLC frames (an interface has
    /// one XDP program: a second Ethernet shim on it runs on AF_PACKET);
    /// UDP on io_uring. Every AF_XDP port shares the dataplane's one UMEM.
    pub fn add_shim_port(&self, worker: usize, id: PortId, spec: &ShimPortSpec) -> Result<PortInfo, BackendError> {
        let pool = self.pool().ok_or(BackendError::NoWorker)?;
        if worker >= self.workers() {
            return Err(CommandError::NoWorker(worker).into());
        }
        let port = match spec {
            ShimPortSpec::EthDix { dev, ethertype } => {
                let mut umem = self.umem.lock().unwrap_or_else(|e| e.into_inner());
                open_eth(
                    dev,
                    EthFrames::Dix(*ethertype),
                    Backend::Auto,
                    XdpMode::Auto,
                    0,
                    &mut umem,
                    pool,
                )?
                .boxed()
            }
            ShimPortSpec::EthLlc { dev } => {
                let mut umem = self.umem.lock().unwrap_or_else(|e| e.into_inner());
                open_eth(dev, EthFrames::Llc, Backend::Auto, XdpMode::Auto, 0, &mut umem, pool)?.boxed()
            }
            ShimPortSpec::Udp { bind } => open_udp(&format!("udp:{bind}"), *bind, pool)?,
        };
        let info = port.info().clone();
        tracing::info!(id, worker, port = %info.name, backend = %info.kind, mtu = info.mtu, mac = ?info.mac.map(|m| m.to_string()), "shim port open");
        self.apply(worker, crate::Command::AddPort { id, port })?;
        Ok(info)
    }
}

/// Opens every port of `cfg` (in the calling thread's network namespace),
/// builds the tables and starts one worker, pinned to `cfg.core` if set.
pub fn start_router(cfg: &RouterConfig) -> Result<Dataplane, BackendError> {
    let pool_cfg = cfg.pool.as_ref();
    let pool = Pool::create(
        "o7s-dataplane",
        PoolConfig {
            count: pool_cfg.map_or(16384, |p| p.buffers),
            buf_size: pool_cfg.map_or(2048, |p| p.buf_size),
            ..PoolConfig::default()
        },
    )?;
    start_router_in(&pool, cfg, Vec::new(), None)
}

/// [`start_router`] over an existing pool, with local endpoints (EID ≥ 64
/// → ring, listed in `Tables::endpoints` order) and a punt ring for
/// management traffic: how irmd, or a test, attaches to the router.
pub fn start_router_in(
    pool: &Pool,
    cfg: &RouterConfig,
    endpoints: Vec<(u64, Producer)>,
    punt: Option<Producer>,
) -> Result<Dataplane, BackendError> {
    let core = core_ids(cfg.core.as_slice())?.first().copied();
    let pool = pool.clone();
    let cache = pool.cache()?;
    let mut umem = None;
    let mut opened = Vec::with_capacity(cfg.ports.len());
    for p in &cfg.ports {
        opened.push(open_port(p, cfg, &mut umem, &pool)?);
    }
    let index = |name: &str| cfg.ports.iter().position(|p| p.name == name).map(|i| i as u16);
    let mut tables = cfg.tables(index, interface_mac)?;
    let mut rings = Vec::with_capacity(endpoints.len());
    for (i, (eid, ring)) in endpoints.into_iter().enumerate() {
        tables.endpoints.insert(eid, i as u32);
        rings.push(ring);
    }
    tracing::info!(
        address = format_args!("{:#x}", tables.address),
        flows = tables.flows.len(),
        routes = tables.fib.iter().map(|f| f.len()).sum::<usize>(),
        core = ?core.map(|c| c.id),
        pages = %pool.pages(),
        "router tables built"
    );
    if cfg.fast_path {
        program_fast_path(&tables, cfg.ethertype, &mut opened)?;
    }
    let ports: Vec<Option<Box<dyn Port>>> = opened.into_iter().map(|p| Some(p.boxed())).collect();
    let spec = WorkerSpec {
        name: "o7s-worker0".into(),
        core,
        cache,
        ports,
        endpoints: rings,
        punt,
        idle: cfg.idle.into(),
    };
    let dp = Dataplane::start(tables, vec![spec])?;
    // Ports added later share the UMEM of those opened here.
    *dp.umem.lock().unwrap_or_else(|e| e.into_inner()) = umem;
    Ok(dp)
}

/// The in-kernel transit fast path of `tables`: what the steering program
/// of every AF_XDP port can forward by itself. Only single eth-dix next hops
/// (or an LFA's primary while it is up) between AF_XDP ports; ECMP and
/// everything else stay on the worker; the program keeps a frame's
/// Ethertype, so only next hops of the ports' `ethertype`. `None` when the
/// tables do not fit the program (DT layout other than the default,
/// addresses wider than 32 bits).
fn fast_path(tables: &Tables, ethertype: u16, ifindexes: &[Option<u32>]) -> Option<o7s_ebpf::FastPath> {
    if tables.layout != o7s_wire::dt::DtLayout::DEFAULT {
        return None;
    }
    let address = u32::try_from(tables.address).ok().filter(|&a| a != 0)?;
    let port_ifindex = |port: u16| ifindexes.get(usize::from(port)).copied().flatten();
    let mut fast = o7s_ebpf::FastPath {
        address,
        max_ttl: tables.max_ttl,
        tx_ifindexes: ifindexes.iter().flatten().copied().collect(),
        ..Default::default()
    };
    for (&key, &flow) in &tables.demux {
        let (port, eid) = ((key >> 32) as u16, key as u32);
        if let (Some(ifindex), Some(f)) = (port_ifindex(port), tables.flows.get(flow as usize))
            && let Encap::EthDix(e) = f.encap
        {
            fast.demux.push(o7s_ebpf::FastFlow {
                ifindex,
                eid,
                cube: f.cube as u32,
                peer_mac: e.dst.0,
            });
        }
    }
    for (cube, fib) in tables.fib.iter().enumerate() {
        for (&dst, hop) in fib {
            let flow = match hop {
                NextHop::Single(f) => *f,
                NextHop::Lfa { primary, .. } => *primary,
                NextHop::Ecmp(_) => continue,
            };
            let (Ok(dst), Some(f)) = (u32::try_from(dst), tables.flows.get(flow as usize)) else {
                continue;
            };
            let (true, Encap::EthDix(e), Some(ifindex)) = (f.up, f.encap, port_ifindex(f.port)) else {
                continue;
            };
            if e.ethertype != ethertype {
                continue;
            }
            let nh = o7s_ebpf::NextHop {
                ifindex,
                dst_mac: e.dst.0,
                src_mac: e.src.0,
                eid: e.eid,
            };
            fast.routes.push((cube as u32, dst, nh));
        }
    }
    Some(fast)
}

/// Programs the fast path of every AF_XDP port from `tables`. Static: it is
/// written once at start, and table swaps at run time
/// ([`Dataplane::set_tables`]) do not update it yet.
fn program_fast_path(tables: &Tables, ethertype: u16, ports: &mut [Opened]) -> Result<(), BackendError> {
    let ifindexes: Vec<Option<u32>> = ports
        .iter()
        .map(|p| match p {
            Opened::Xdp(x) => Some(x.ifindex()),
            Opened::Other(_) => None,
        })
        .collect();
    let Some(fast) = fast_path(tables, ethertype, &ifindexes) else {
        tracing::warn!("fast_path: the tables do not fit the XDP fast path (DT layout or address size); off");
        return Ok(());
    };
    tracing::info!(
        demux = fast.demux.len(),
        routes = fast.routes.len(),
        "XDP transit fast path on"
    );
    for p in ports.iter_mut() {
        if let Opened::Xdp(x) = p {
            let name = x.info().name.clone();
            x.steering_mut()
                .set_fast_path(fast.clone())
                .map_err(|e| BackendError::Port {
                    port: name,
                    why: format!("XDP fast path: {e}"),
                })?;
        }
    }
    Ok(())
}
