//! Opening the ports a configuration names and starting the router: the
//! glue between [`config`](crate::config), the backends and the workers.
//!
//! Backend choice per port: `af_xdp` (XDP steering + AF_XDP socket over the
//! pool), `af_packet` (mmap rings, one copy per frame), or `auto`: AF_XDP,
//! and AF_PACKET when XDP cannot attach or the socket cannot bind (logged).

use o7s_ebpf::SteeringConfig;
use o7s_mem::{Pool, PoolConfig, Producer};
use o7s_xsk::Umem;

use crate::config::{Backend, ConfigError, PortConfig, RouterConfig, interface_mac, interface_mtu};
use crate::port::Port;
use crate::port::packet::{AfPacketPort, PacketConfig, PacketError};
use crate::port::uring::{UringConfig, UringUdpPort};
use crate::port::xdp::{XdpPort, XdpPortError, attach_mode};
use crate::worker::{Dataplane, StartError, WorkerSpec};
use o7s_seam::tables::{Encap, NextHop, Tables};

/// Why the router could not start.
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

fn open_port(p: &PortConfig, cfg: &RouterConfig, umem: &mut Option<Umem>, pool: &Pool) -> Result<Opened, BackendError> {
    let mtu = match p.backend {
        Backend::Udp => o7s_wire::udp::MAX_DATAGRAM_UDP4,
        _ => interface_mtu(&p.name).ok_or_else(|| BackendError::Port {
            port: p.name.clone(),
            why: "no such interface".into(),
        })?,
    };
    let xdp = |umem: &mut Option<Umem>| -> Result<Opened, BackendError> {
        let umem = match umem {
            Some(u) => u.clone(),
            None => umem
                .insert(Umem::new(pool).map_err(|e| BackendError::Xdp {
                    port: p.name.clone(),
                    source: e.into(),
                })?)
                .clone(),
        };
        // UDP shim traffic is served by kernel sockets (the io_uring
        // backend): leave it to the kernel.
        // The port sets the MAC and frame length it takes.
        let steer = SteeringConfig {
            ethertype: cfg.ethertype,
            udp_port: UDP_SHIM_PORT,
            steer_udp: false,
            mode: attach_mode(p.xdp_mode),
            ..SteeringConfig::default()
        };
        let port = XdpPort::open(&umem, &p.name, p.queue, steer, mtu).map_err(|source| BackendError::Xdp {
            port: p.name.clone(),
            source,
        })?;
        Ok(Opened::Xdp(Box::new(port)))
    };
    let packet = || -> Result<Opened, BackendError> {
        let pc = PacketConfig {
            interface: p.name.clone(),
            ethertype: cfg.ethertype,
            ..PacketConfig::default()
        };
        let port = AfPacketPort::open(&pc).map_err(|source| BackendError::Packet {
            port: p.name.clone(),
            source,
        })?;
        Ok(Opened::Other(Box::new(port)))
    };
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
            let uc = UringConfig {
                bind,
                ..UringConfig::default()
            };
            let port = UringUdpPort::bind(&uc, pool).map_err(|e| BackendError::Port {
                port: p.name.clone(),
                why: e.to_string(),
            })?;
            Ok(Opened::Other(Box::new(port)))
        }
        Backend::AfXdp => xdp(umem),
        Backend::AfPacket => packet(),
        Backend::Auto => xdp(umem).or_else(|e| {
            tracing::warn!(port = %p.name, error = %e, "AF_XDP unavailable, falling back to AF_PACKET");
            packet()
        }),
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
    // Read once, before any thread pins itself: a pinned thread only sees
    // its own core.
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let core = match cfg.core {
        Some(index) => Some(*cores.get(index).ok_or(BackendError::NoSuchCore {
            index,
            available: cores.len(),
        })?),
        None => None,
    };
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
        "router tables built"
    );
    if cfg.fast_path {
        program_fast_path(&tables, &mut opened)?;
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
    Ok(Dataplane::start(tables, vec![spec])?)
}

/// The in-kernel transit fast path of `tables`: what the steering program
/// of every AF_XDP port can forward by itself. Only single eth-dix next hops
/// (or an LFA's primary while it is up) between AF_XDP ports; ECMP and
/// everything else stay on the worker. `None` when the tables do not fit
/// the program (DT layout other than the default, addresses wider than 32
/// bits).
fn fast_path(tables: &Tables, ifindexes: &[Option<u32>]) -> Option<o7s_ebpf::FastPath> {
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
            if e.ethertype != tables.ethertype {
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
fn program_fast_path(tables: &Tables, ports: &mut [Opened]) -> Result<(), BackendError> {
    let ifindexes: Vec<Option<u32>> = ports
        .iter()
        .map(|p| match p {
            Opened::Xdp(x) => Some(x.ifindex()),
            Opened::Other(_) => None,
        })
        .collect();
    let Some(fast) = fast_path(tables, &ifindexes) else {
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
