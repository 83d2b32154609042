//! irmd: the IPC Resource Manager daemon. It owns the shared packet pool,
//! listens on `<rundir>/irmd.sock`, turns the processes' requests into
//! calls on the sans-IO [`Irm`], carries out the IRM's events (IPCP tasks,
//! flow rings, program starts, replies) and cleans up after processes
//! that die.
//!
//! ```text
//!                 ┌──────────── main loop (one thread, epoll) ─────────────┐
//!  listener ─────>│ accept: peer credentials ─> role, caps (conns.rs)      │
//!  connections <─>│ read ≤ 16 messages each in turn ─> authorise ─> Irm    │
//!                 │ Irm events ─> IPCP tasks, flow rings, programs, replies│
//!                 │ replies: sent at once or queued (bounded), never waited│
//!                 │ timers: Irm deadlines, 100 ms housekeeping             │
//!                 └────────────────────────────────────────────────────────┘
//! ```
//!
//! Nothing a process does can stall the loop: sockets are non-blocking, a
//! process that stops reading its replies is dropped once its queue is
//! full, and connections are capped in total and per user. Who may do what
//! is [`access`]'s table.
//!
//! A process's connection is its life line: when it closes (exit, kill),
//! irmd releases the process's flows and, once the kernel says the process
//! is gone, returns its pool buffers. The IPCPs run as tasks here: local,
//! the shims (eth-dix, eth-llc, udp4, udp6) and unicast ([`unicast`]: one
//! unicast layer per irmd, whose N-1 flows irmd holds itself as the IRM's
//! IPCP process) and broadcast (the same task: enrolment and
//! data-transfer flows, `flow_join`, SDUs flooded by irmd's loop).
//! `irm ipcp enroll` and `irm ipcp connect` are answered once the flows
//! they open are up, as the C tool waits for them.

pub mod access;
pub mod conns;
pub mod exec;
pub mod flow_up;
pub mod local;
pub mod log_budget;
pub mod member;
pub mod plane;
pub mod shim;
pub mod sys;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll};
use o7s_app::{error::errno, rundir};
use o7s_mem::{Pool, PoolCache, PoolConfig};
use o7s_seam::rpc::{self, Received, reply, request};
use o7s_wire::qos::QosSpec;

use crate::ipcp_config::IpcpType;
use crate::irm::{Account, AllocFailure, FlowId, Irm, IrmEvent};
use crate::irm_cli::Command;
use crate::irmd_config::IrmdConfig;

use std::net::{IpAddr, SocketAddr};

use o7s_dataplane::backend::ShimPortSpec;
use o7s_seam::punt::PuntCause;
use o7s_seam::tables::PortId;

use crate::ipcp::eth::EthShim;
use crate::ipcp::shim::ShimConfig;
use crate::ipcp::udp::directory::Directory;
use crate::ipcp_config::BootstrapConfig;

use self::access::{Access, Role};
use self::conns::{ConnId, Conns, LISTENER, Limits, Read};
use self::local::LocalIpcp;
use self::log_budget::LogBudget;
use self::member::{MemberTask, Outcome};
use self::plane::{FlowRings, Plane};
use self::shim::{Ends, EthLink, ShimIpcp, ShimTask, UdpLink};

/// Entries per flow ring (each direction).
pub const FLOW_RING_ENTRIES: u32 = 1024;

/// How often the main loop wakes with nothing to do: reaps started
/// programs, reclaims dead processes' buffers, checks for a stop signal.
const TICK: Duration = Duration::from_millis(100);

/// How long after a process's connection closed irmd keeps looking for
/// its buffers (the process may take a moment to be gone for the kernel).
const RECLAIM_WINDOW: Duration = Duration::from_secs(5);

/// `flow_accept` calls one process may have waiting at once.
const MAX_WAITING_ACCEPTS: usize = 1024;

/// Why irmd could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum IrmdError {
    #[error("runtime directory: {0}")]
    Rundir(#[from] access::RundirError),
    #[error("another irmd is listening on {0}")]
    AlreadyRunning(PathBuf),
    #[error("cannot listen on {path}: {source}")]
    Listen { path: PathBuf, source: io::Error },
    #[error("cannot create the packet pool: {0}")]
    Pool(#[from] o7s_mem::MemError),
    #[error("cannot start the dataplane: {0}")]
    Plane(String),
    #[error("cannot read the configuration file {path}: {source}")]
    ConfigRead { path: PathBuf, source: io::Error },
    #[error("configuration file {path}: {source}")]
    Config {
        path: PathBuf,
        source: crate::irmd_config::ConfigError,
    },
    #[error("configuration file {path}: {source}")]
    ConfigApply { path: PathBuf, source: exec::ExecError },
    #[error("configuration file {path}: {message}")]
    ConfigIpcp { path: PathBuf, message: String },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// How irmd runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The runtime directory (socket, and the place shared memory is
    /// announced from).
    pub rundir: PathBuf,
    /// A configuration file to apply at start.
    pub config: Option<PathBuf>,
    /// The packet pool's geometry.
    pub pool: PoolConfig,
    /// Who may connect, and for what.
    pub access: Access,
    /// Caps on connections.
    pub limits: Limits,
    /// Most flows one process may hold (`None`: no cap).
    pub flows_per_process: Option<usize>,
    /// Cores the dataplane's worker may be pinned to (indexes in this
    /// process's core list); empty: not pinned.
    pub cores: Vec<usize>,
    /// How the worker waits for traffic.
    pub idle: o7s_dataplane::worker::Idle,
}

/// How long irmd's worker polls without traffic before it sleeps, unless
/// told otherwise: irmd shares its host with the applications it serves,
/// and a worker that spins for milliseconds takes their time (on two
/// cores, two spinning systems starve their own applications).
pub const DEFAULT_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

impl Options {
    /// The defaults for `rundir`: a pool of 16 384 buffers of 2 KiB (32
    /// MiB, hugepages when reserved) with room for as many caches as a
    /// pool can have (each flow end takes two), owner-only access, the
    /// default connection caps, 4096 flows per process.
    pub fn new(rundir: PathBuf) -> Options {
        Options {
            rundir,
            config: None,
            pool: PoolConfig {
                max_slots: o7s_mem::MAX_SLOTS,
                ..PoolConfig::default()
            },
            access: Access {
                owner: sys::euid(),
                operators: None,
                users: None,
            },
            limits: Limits::default(),
            flows_per_process: Some(4096),
            cores: Vec::new(),
            idle: o7s_dataplane::worker::Idle::Spin(DEFAULT_SPIN),
        }
    }
}

/// A running IPCP's control half.
enum Task {
    Local(LocalIpcp),
    Eth(ShimTask<EthLink>),
    Udp(ShimTask<UdpLink>),
    Unicast(Box<MemberTask>),
}

/// How long an operator's `irm ipcp enroll` or `connect` waits for the
/// flows it opened.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// An operator's command that waits for a unicast IPCP's flows.
#[derive(Debug)]
struct Waiting {
    caller: Caller,
    ipcp: String,
    /// An enrolment (else: connections on `flows`).
    enrol: bool,
    flows: Vec<FlowId>,
    failed: Option<String>,
    deadline: Instant,
}

/// mio tokens besides the listener's and the connections' (which count up
/// from 1).
const PUNTS: mio::Token = mio::Token(usize::MAX - 1);
const WAKER: mio::Token = mio::Token(usize::MAX - 2);
const LINKS: mio::Token = mio::Token(usize::MAX - 3);

/// Where a reply goes.
#[derive(Debug, Clone, Copy)]
struct Caller {
    conn: ConnId,
    id: u64,
}

struct Daemon {
    irm: Irm,
    pool: Pool,
    cache: PoolCache,
    rundir: PathBuf,
    access: Access,
    poll: Poll,
    conns: Conns,
    by_pid: HashMap<u32, ConnId>,
    allocs: HashMap<FlowId, Caller>,
    accepts: HashMap<u32, VecDeque<Caller>>,
    tasks: BTreeMap<String, Task>,
    ends: HashMap<FlowId, Ends>,
    /// The embedded dataplane.
    plane: Plane,
    /// Wakes the loop for the shim tasks' directory threads.
    waker: Arc<mio::Waker>,
    /// Static name → address maps of the UDP IPCPs (irmd's file), by IPCP.
    udp_hosts: HashMap<String, Vec<(String, IpAddr)>>,
    children: Vec<Child>,
    reclaim_until: Option<Instant>,
    /// Set while a command runs: why an IPCP it bootstrapped could not
    /// start.
    ipcp_failure: Option<String>,
    /// Complaints about what processes send.
    malformed_log: LogBudget,
    /// Set while a command runs: what its reply waits for.
    waits_for: Option<Waiting>,
    /// Operators' commands waiting for IPCP flows.
    waiting: Vec<Waiting>,
    /// Readable when an interface changes (netlink), if it could open.
    links: Option<std::os::fd::OwnedFd>,
    /// The Ethernet ports' interfaces, and whether each was up.
    port_links: HashMap<PortId, (String, bool)>,
}

/// Runs irmd until `stop` is set (SIGTERM/SIGINT in the binary).
pub fn run(options: &Options, stop: &AtomicBool) -> Result<(), IrmdError> {
    access::prepare_rundir(&options.rundir, &options.access)?;
    let path = rundir::socket(&options.rundir);
    if path.exists() {
        if o7s_app::sys::seqpacket_connect(&path).is_ok() {
            return Err(IrmdError::AlreadyRunning(path));
        }
        // A socket left by an irmd that died.
        std::fs::remove_file(&path)?;
    }
    match sys::raise_fd_limit() {
        Ok((before, after)) if before != after => tracing::info!(before, after, "open-file limit raised"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let pool = Pool::create("o7s-irmd", options.pool)?;
    tracing::info!(
        buffers = pool.count(),
        buf_size = pool.buf_size(),
        pages = ?pool.pages(),
        "packet pool ready"
    );
    let cache = pool.cache()?;
    let mut irm = Irm::new();
    irm.set_flow_limit(options.flows_per_process);
    let plane = Plane::start(&pool, &options.cores, options.idle).map_err(|e| IrmdError::Plane(e.to_string()))?;
    let poll = Poll::new()?;
    let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
    let punt_fd = std::os::fd::AsRawFd::as_raw_fd(&plane.punt_fd());
    poll.registry()
        .register(&mut SourceFd(&punt_fd), PUNTS, Interest::READABLE)?;
    // Link changes: a link gone takes the N-1 flows over it down at once.
    let links = match sys::link_watch() {
        Ok(fd) => {
            let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
            poll.registry()
                .register(&mut SourceFd(&raw), LINKS, Interest::READABLE)?;
            Some(fd)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch links: a lost link is noticed by link state's timeout only");
            None
        }
    };
    // Listening last: a process that can connect finds irmd whole.
    let listener = o7s_app::sys::seqpacket_listen(&path).map_err(|source| IrmdError::Listen {
        path: path.clone(),
        source,
    })?;
    // The directory kept everyone else out until now.
    access::secure(&path, options.access.socket_group(), options.access.socket_mode())?;
    listener.set_nonblocking(true)?;
    let mut daemon = Daemon {
        irm,
        pool,
        cache,
        rundir: options.rundir.clone(),
        access: options.access.clone(),
        poll,
        conns: Conns::new(options.limits),
        by_pid: HashMap::new(),
        allocs: HashMap::new(),
        accepts: HashMap::new(),
        tasks: BTreeMap::new(),
        ends: HashMap::new(),
        plane,
        waker,
        udp_hosts: HashMap::new(),
        children: Vec::new(),
        reclaim_until: None,
        ipcp_failure: None,
        malformed_log: LogBudget::per_second(),
        waits_for: None,
        waiting: Vec::new(),
        links,
        port_links: HashMap::new(),
    };
    // irmd holds the unicast IPCPs' own N-1 flows.
    daemon
        .irm
        .set_ipcp_process(std::process::id())
        .map_err(|e| IrmdError::Plane(e.to_string()))?;
    let result = daemon.start(options, &listener, &path, stop);
    let _ = std::fs::remove_file(&path);
    daemon.shutdown();
    result
}

/// The connection-manager components of `irm ipcp connect` (management
/// first) or `disconnect` (data transfer first).
fn components(c: Option<crate::irm_cli::Component>, disconnect: bool) -> Vec<crate::ipcp::unicast::cacep::Component> {
    use crate::ipcp::unicast::cacep::Component as C;
    use crate::irm_cli::Component as K;
    match (c, disconnect) {
        (Some(K::Mgmt), _) => vec![C::Management],
        (Some(K::Dt), _) => vec![C::DataTransfer],
        (None, false) => vec![C::Management, C::DataTransfer],
        (None, true) => vec![C::DataTransfer, C::Management],
    }
}

fn error(code: i32, message: impl Into<String>) -> reply::Body {
    reply::Body::Error(rpc::Error {
        code: -code,
        message: message.into(),
    })
}

impl Daemon {
    fn start(
        &mut self,
        options: &Options,
        listener: &UnixListener,
        path: &Path,
        stop: &AtomicBool,
    ) -> Result<(), IrmdError> {
        if let Some(config) = &options.config {
            self.load_config(config)?;
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(listener);
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), LISTENER, Interest::READABLE)?;
        tracing::info!(
            socket = %path.display(),
            mode = format_args!("{:o}", options.access.socket_mode()),
            group = ?options.access.socket_group(),
            operators = ?options.access.operators,
            users = ?options.access.users,
            max_connections = options.limits.total,
            max_connections_per_user = options.limits.per_user,
            max_flows_per_process = ?options.flows_per_process,
            "irmd running"
        );
        self.main_loop(listener, stop)?;
        tracing::info!("irmd stopping");
        Ok(())
    }

    fn load_config(&mut self, path: &Path) -> Result<(), IrmdError> {
        let text = std::fs::read_to_string(path).map_err(|source| IrmdError::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        let config = IrmdConfig::parse(&text).map_err(|source| IrmdError::Config {
            path: path.to_owned(),
            source,
        })?;
        for w in &config.warnings {
            tracing::warn!(file = %path.display(), "{w}");
        }
        for ipcp in config.ipcps.iter().filter(|i| !i.hosts.is_empty()) {
            self.udp_hosts.insert(ipcp.name.clone(), ipcp.hosts.clone());
        }
        let owner = Account {
            uid: sys::euid(),
            gid: sys::egid(),
            groups: Vec::new(),
        };
        let result = exec::apply_config(&mut self.irm, Instant::now(), &config, &owner);
        self.drain_events(Instant::now());
        if let Some(message) = self.ipcp_failure.take() {
            return Err(IrmdError::ConfigIpcp {
                path: path.to_owned(),
                message,
            });
        }
        result.map_err(|source| IrmdError::ConfigApply {
            path: path.to_owned(),
            source,
        })?;
        tracing::info!(file = %path.display(), "configuration applied");
        Ok(())
    }

    fn main_loop(&mut self, listener: &UnixListener, stop: &AtomicBool) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut buf = vec![0u8; rpc::MAX_MSG];
        let mut last_tick = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            // Punts or SDUs on irmd's own flows already waiting: do not sleep.
            let mut punted = self.plane.arm();
            for t in self.tasks.values_mut() {
                if let Task::Unicast(u) = t {
                    punted |= u.arm();
                }
            }
            let wake = [self.irm.poll_timeout(), self.conns.wake_at(now), self.tasks_timeout()]
                .into_iter()
                .flatten()
                .min()
                .map_or(TICK, |t| t.saturating_duration_since(now).min(TICK));
            let wake = if punted { Duration::ZERO } else { wake };
            match self.poll.poll(&mut events, Some(wake)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.plane.disarm();
            for t in self.tasks.values_mut() {
                if let Task::Unicast(u) = t {
                    u.disarm();
                }
            }
            let now = Instant::now();
            let mut accept = false;
            let mut links_changed = false;
            for event in &events {
                if event.token() == LISTENER {
                    accept = true;
                    continue;
                }
                if event.token() == LINKS {
                    links_changed = true;
                    continue;
                }
                if event.token() == PUNTS || event.token() == WAKER {
                    continue;
                }
                let id = event.token().0;
                if event.is_writable() {
                    self.conns.writable(self.poll.registry(), id);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.conns.readable(id);
                }
            }
            if accept || self.conns.wake_at(now).is_some_and(|t| t <= now) {
                for id in self.conns.accept(self.poll.registry(), listener, &self.access, now) {
                    if let Some(c) = self.conns.get(id) {
                        let p = &c.peer;
                        tracing::debug!(conn = id, pid = p.cred.pid, uid = p.cred.uid, role = %p.role, "connection");
                    }
                }
            }
            self.conns.close_refused(now);
            if links_changed {
                self.check_links(now);
            }
            self.punts(now);
            self.serve_ready(now, &mut buf);
            self.tick_tasks(now);
            if self.irm.poll_timeout().is_some_and(|d| d <= now) {
                self.irm.handle_timeout(now);
                self.drain_events(now);
            }
            self.settle(now);
            self.close_doomed(now);
            if now.duration_since(last_tick) >= TICK {
                last_tick = now;
                self.housekeeping(now);
            }
        }
        Ok(())
    }

    /// Reads and handles messages of every connection that has some, each
    /// up to its budget in turn; one that has more goes to the back.
    fn serve_ready(&mut self, now: Instant, buf: &mut [u8]) {
        let mut turns = self.conns.len() + 1;
        while turns > 0
            && let Some((id, budget)) = self.conns.next_ready()
        {
            turns -= 1;
            let mut left = budget;
            loop {
                match self.conns.read(id, buf) {
                    Read::Message(m) => self.message(now, id, m),
                    Read::Drained => break,
                    Read::Closed => {
                        self.conns.doom(id, "it closed the connection");
                        break;
                    }
                }
                left -= 1;
                if left == 0 {
                    self.conns.requeue(id);
                    break;
                }
            }
            self.drain_events(now);
        }
    }

    fn close_doomed(&mut self, now: Instant) {
        for (id, why) in self.conns.take_doomed() {
            self.closed(now, id, why);
        }
    }

    fn message(&mut self, now: Instant, id: ConnId, m: Received<rpc::Request>) {
        match m {
            Received::Message(req, fds) => {
                // irmd takes no fds from processes.
                drop(fds);
                self.request(now, id, req);
            }
            Received::Malformed(e) => {
                if let Some(held_back) = self.malformed_log.allow(now) {
                    let pid = self.conns.get(id).map_or(0, |c| c.peer.cred.pid);
                    tracing::warn!(pid, error = %e, held_back, "malformed message refused");
                }
                self.reply(
                    Caller { conn: id, id: 0 },
                    error(errno::EINVAL, format!("malformed message: {e}")),
                    &[],
                );
            }
            Received::Closed => {}
        }
    }

    fn request(&mut self, now: Instant, conn: ConnId, req: rpc::Request) {
        let caller = Caller { conn, id: req.id };
        let Some((pid, role, announced)) = self
            .conns
            .get(conn)
            .map(|c| (c.peer.cred.pid, c.peer.role, c.announced))
        else {
            return;
        };
        let Some(body) = req.body else {
            self.reply(caller, error(errno::EINVAL, "request without a body"), &[]);
            return;
        };
        let needs_hello = matches!(
            body,
            request::Body::FlowAlloc(_) | request::Body::FlowAccept(_) | request::Body::FlowDealloc(_)
        );
        if needs_hello && !announced {
            self.reply(
                caller,
                error(errno::EPERM, "say hello first: this process is not announced"),
                &[],
            );
            return;
        }
        match body {
            request::Body::Hello(h) => self.hello(caller, pid, &h),
            request::Body::Command(c) => self.command(now, caller, role, &c.argv),
            request::Body::FlowAlloc(a) => self.flow_alloc(now, caller, pid, a),
            request::Body::FlowAccept(a) => {
                let waiting = self.accepts.get(&pid).map_or(0, VecDeque::len);
                if waiting >= MAX_WAITING_ACCEPTS {
                    let message = format!("{waiting} flow_accept calls of this process wait already");
                    self.reply(caller, error(errno::EBUSY, message), &[]);
                    return;
                }
                let timeout = a.timeout_ms.map(Duration::from_millis);
                match self.irm.flow_accept(now, pid, timeout) {
                    Ok(()) => self.accepts.entry(pid).or_default().push_back(caller),
                    Err(e) => self.reply(caller, error(-e.errno(), e.to_string()), &[]),
                }
            }
            request::Body::FlowDealloc(d) => {
                let flow = FlowId(d.flow);
                match self.irm.flow_dealloc(pid, flow) {
                    Ok(()) => {
                        tracing::info!(%flow, pid, "flow deallocated by the process");
                        self.reply(caller, reply::Body::Done(rpc::Done {}), &[]);
                    }
                    Err(e) => self.reply(caller, error(errno::EINVAL, e.to_string()), &[]),
                }
            }
            request::Body::FlowJoin(j) => self.flow_join(now, caller, pid, &j.layer),
            request::Body::Status(_) => {
                if role < Role::Operator {
                    let message = "irmd's status is for operators (irmd's owner or its operators group)";
                    self.reply(caller, error(errno::EACCES, message), &[]);
                    return;
                }
                let status = self.status();
                self.reply(caller, reply::Body::Status(status), &[]);
            }
        }
    }

    fn hello(&mut self, caller: Caller, pid: u32, hello: &rpc::Hello) {
        if self.by_pid.contains_key(&pid) {
            self.reply(
                caller,
                error(errno::EEXIST, format!("process {pid} is already announced")),
                &[],
            );
            return;
        }
        // The kernel's word, not the process's.
        let program = self.conns.get(caller.conn).and_then(|c| c.peer.program.clone());
        if !hello.program.is_empty() && program.as_deref() != Some(Path::new(&hello.program)) {
            tracing::info!(pid, claimed = ?hello.program, program = ?program, "a process named another program than it runs; the kernel's is used");
        }
        match self.irm.process_started(pid, program.as_deref()) {
            Ok(()) => {
                tracing::info!(pid, program = ?program, "process announced");
                self.by_pid.insert(pid, caller.conn);
                if let Some(c) = self.conns.get_mut(caller.conn) {
                    c.announced = true;
                }
                let welcome = reply::Body::Welcome(rpc::Welcome { pid });
                let message = rpc::Reply {
                    id: caller.id,
                    body: Some(welcome),
                };
                self.conns.send(
                    self.poll.registry(),
                    caller.conn,
                    &message,
                    &[self.pool.fd()],
                    Instant::now(),
                );
            }
            Err(e) => self.reply(caller, error(errno::EPERM, e.to_string()), &[]),
        }
    }

    fn command(&mut self, now: Instant, caller: Caller, role: Role, argv: &[String]) {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let cmd = match Command::parse(&words) {
            Ok(cmd) => cmd,
            Err(e) => {
                self.reply(caller, error(errno::EINVAL, e.to_string()), &[]);
                return;
            }
        };
        let Some(account) = self.conns.get(caller.conn).map(|c| c.peer.account()) else {
            return;
        };
        if role < Role::Operator && !cmd.is_read_only() {
            let shown: String = words.iter().take(2).copied().collect::<Vec<_>>().join(" ");
            let message = format!(
                "permission denied: `irm {shown}` needs irmd's owner or its operators group (uid {} is a user)",
                account.uid
            );
            tracing::info!(uid = account.uid, command = ?argv, "management command refused to a user");
            self.reply(caller, error(errno::EACCES, message), &[]);
            return;
        }
        // A command that may start an IPCP is undone whole if it fails.
        let before = (!cmd.is_read_only()).then(|| self.irm.clone());
        // The counters live in the tasks and the dataplane, not the IRM.
        let counted: HashMap<String, Vec<(String, u64)>> = if matches!(cmd, Command::IpcpStats { .. }) {
            self.tasks.keys().map(|n| (n.clone(), self.stats(n))).collect()
        } else {
            HashMap::new()
        };
        let stats = |ipcp: &str| counted.get(ipcp).cloned().unwrap_or_default();
        self.waits_for = None;
        let result = exec::execute(&mut self.irm, now, &cmd, &account, &stats);
        self.drain_events(now);
        if result.is_ok()
            && self.ipcp_failure.is_none()
            && let Some(mut w) = self.waits_for.take()
        {
            // Replied once the IPCP's flows are up (enrolment, connect).
            w.caller = caller;
            self.waiting.push(w);
            self.settle(now);
            return;
        }
        self.waits_for = None;
        let body = match (result, self.ipcp_failure.take()) {
            (Err(e), _) => error(-e.errno(), e.to_string()),
            (Ok(_), Some(failure)) => {
                // The IPCP could not start: undo the whole command.
                if let Some(before) = before {
                    self.irm = before;
                }
                error(errno::ENOTSUP, failure)
            }
            (Ok(text), None) => {
                if !cmd.is_read_only() {
                    tracing::info!(command = %argv.join(" "), uid = account.uid, "irm command done");
                }
                reply::Body::Output(rpc::Output { text })
            }
        };
        self.reply(caller, body, &[]);
    }

    /// Replies to the operators' commands whose IPCP flows came up or
    /// failed, or that waited too long.
    fn settle(&mut self, now: Instant) {
        let mut outcomes: Vec<(String, Outcome)> = Vec::new();
        for (name, t) in &mut self.tasks {
            if let Task::Unicast(u) = t {
                outcomes.extend(u.take_outcomes().into_iter().map(|o| (name.clone(), o)));
            }
        }
        for (ipcp, outcome) in outcomes {
            let Some(w) = self.waiting.iter_mut().find(|w| {
                w.ipcp == ipcp
                    && match &outcome {
                        Outcome::Enrolled { .. } | Outcome::EnrolFailed(_) => w.enrol,
                        Outcome::Connected(f) | Outcome::ConnectFailed(f, _) => w.flows.contains(f),
                    }
            }) else {
                continue;
            };
            match outcome {
                Outcome::Enrolled { .. } => w.enrol = false,
                Outcome::EnrolFailed(why) => {
                    w.enrol = false;
                    w.failed = Some(format!("enrolment of {ipcp:?} failed: {why}"));
                }
                Outcome::Connected(f) => w.flows.retain(|x| *x != f),
                Outcome::ConnectFailed(f, why) => {
                    w.flows.retain(|x| *x != f);
                    w.failed.get_or_insert(why);
                }
            }
        }
        let (done, left): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| (!w.enrol && w.flows.is_empty()) || w.deadline <= now);
        self.waiting = left;
        for w in done {
            let body = match (w.failed, !w.enrol && w.flows.is_empty()) {
                (Some(why), _) => error(errno::ECONNREFUSED, why),
                (None, true) => reply::Body::Output(rpc::Output { text: String::new() }),
                (None, false) => error(
                    errno::ETIMEDOUT,
                    format!("IPCP {:?}: no answer within {} s", w.ipcp, OPERATION_TIMEOUT.as_secs()),
                ),
            };
            self.reply(w.caller, body, &[]);
        }
    }

    /// `flow_join(layer)`: the process joins the broadcast layer through
    /// its member here; its SDUs reach every other member of the layer.
    fn flow_join(&mut self, now: Instant, caller: Caller, pid: u32, layer: &str) {
        let (flow, ipcp) = match self.irm.flow_join(now, pid, layer) {
            Ok(joined) => joined,
            Err(e) => {
                self.reply(caller, error(-e.errno(), e.to_string()), &[]);
                return;
            }
        };
        let rings = match FlowRings::create() {
            Ok(r) => r,
            Err(e) => {
                let _ = self.irm.flow_dealloc(pid, flow);
                self.drain_events(Instant::now());
                self.reply(
                    caller,
                    error(errno::ENOMEM, format!("cannot create flow rings: {e}")),
                    &[],
                );
                return;
            }
        };
        match self.with_unicast(&ipcp, |t, ctx| t.join(ctx, flow, &rings)) {
            Some(Ok(())) => {
                let mut ends = Ends::rings(rings);
                // The application's writes wake irmd, which forwards them.
                ends.kick = self.plane.punt_kick().ok();
                self.ends.insert(flow, ends);
                tracing::info!(%flow, pid, %layer, %ipcp, "flow joined");
                self.reply_flow(caller, flow, QosSpec::RAW, layer);
            }
            other => {
                let why = match other {
                    Some(Err(why)) => why,
                    _ => format!("IPCP {ipcp:?} has no task"),
                };
                let _ = self.irm.flow_dealloc(pid, flow);
                self.drain_events(Instant::now());
                self.reply(caller, error(errno::EIO, why), &[]);
            }
        }
    }

    fn flow_alloc(&mut self, now: Instant, caller: Caller, pid: u32, a: rpc::FlowAlloc) {
        let Some(qos) = a.qos.map_or(Some(QosSpec::RAW), |q| q.to_spec()) else {
            self.reply(caller, error(errno::EINVAL, "QoS field out of range"), &[]);
            return;
        };
        match self.irm.flow_alloc(now, pid, &a.name, qos) {
            Ok(flow) => {
                tracing::info!(%flow, pid, name = %a.name, "flow allocation requested");
                self.allocs.insert(flow, caller);
            }
            Err(e) => self.reply(caller, error(-e.errno(), e.to_string()), &[]),
        }
    }

    fn closed(&mut self, now: Instant, conn: ConnId, why: &str) {
        let Some(c) = self.conns.remove(self.poll.registry(), conn) else {
            return;
        };
        let pid = c.peer.cred.pid;
        tracing::debug!(conn, pid, why, "connection closed");
        if !c.announced {
            return;
        }
        self.by_pid.remove(&pid);
        self.accepts.remove(&pid);
        self.allocs.retain(|_, caller| caller.conn != conn);
        match self.irm.process_exited(pid) {
            Ok(flows) => tracing::info!(pid, flows = flows.len(), why, "process gone; releasing its flows"),
            Err(e) => tracing::warn!(pid, error = %e, "process exit"),
        }
        self.drain_events(now);
        self.reclaim_until = Some(now + RECLAIM_WINDOW);
    }

    fn housekeeping(&mut self, now: Instant) {
        self.children.retain_mut(|child| match child.try_wait() {
            Ok(Some(status)) => {
                tracing::info!(pid = child.id(), %status, "started program exited");
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
        if self.reclaim_until.is_some_and(|until| now < until) {
            let done = self.cache.reclaim_dead();
            if done != o7s_mem::Reclaimed::default() {
                tracing::info!(?done, "buffers of dead processes returned to the pool");
            }
        } else {
            self.reclaim_until = None;
        }
    }

    fn reply(&mut self, caller: Caller, body: reply::Body, fds: &[std::os::fd::BorrowedFd<'_>]) {
        let message = rpc::Reply {
            id: caller.id,
            body: Some(body),
        };
        self.conns
            .send(self.poll.registry(), caller.conn, &message, fds, Instant::now());
    }

    fn reply_flow(&mut self, caller: Caller, flow: FlowId, qos: QosSpec, name: &str) {
        let up = reply::Body::FlowUp(rpc::FlowUp {
            flow: flow.0,
            qos: Some(qos.into()),
            name: name.to_owned(),
        });
        let Some(ends) = self.ends.get(&flow) else {
            self.reply(caller, error(errno::EIO, format!("flow {flow} has no rings")), &[]);
            return;
        };
        let mut fds = vec![ends.rings.rx.fd(), ends.rings.tx.fd()];
        fds.extend(ends.kick.as_ref().map(std::os::fd::AsFd::as_fd));
        let message = rpc::Reply {
            id: caller.id,
            body: Some(up),
        };
        self.conns
            .send(self.poll.registry(), caller.conn, &message, &fds, Instant::now());
    }

    fn drain_events(&mut self, now: Instant) {
        while let Some(event) = self.irm.poll_event() {
            self.event(now, event);
        }
    }

    fn event(&mut self, now: Instant, event: IrmEvent) {
        match event {
            IrmEvent::BootstrapIpcp { ipcp, layer, config } => self.bootstrap(&ipcp, &layer, &config),
            IrmEvent::IpcpDestroyed { ipcp } => {
                if let Some(task) = self.tasks.remove(&ipcp) {
                    if let Task::Eth(t) = &task {
                        self.plane.remove_port(t.port);
                        self.port_links.remove(&t.port);
                    }
                    if let Task::Udp(t) = &task {
                        self.plane.remove_port(t.port);
                    }
                    tracing::info!(%ipcp, "IPCP destroyed");
                }
            }
            IrmEvent::EnrollIpcp { ipcp, dst } => self.enrol(now, &ipcp, &dst),
            IrmEvent::ConnectIpcp {
                ipcp,
                dst,
                component,
                qos,
            } => {
                let components = components(component, false);
                let opened = self.with_unicast(&ipcp, |t, ctx| t.connect(now, ctx, &dst, &components, qos));
                match opened {
                    Some(Ok(flows)) => {
                        self.waits_for = Some(Waiting {
                            caller: Caller { conn: 0, id: 0 },
                            ipcp,
                            enrol: false,
                            flows,
                            failed: None,
                            deadline: now + OPERATION_TIMEOUT,
                        });
                    }
                    Some(Err(why)) => self.ipcp_failure = Some(format!("cannot connect {ipcp:?} to {dst:?}: {why}")),
                    None => self.ipcp_failure = Some(format!("IPCP {ipcp:?} has no unicast task")),
                }
            }
            IrmEvent::DisconnectIpcp { ipcp, dst, component } => {
                let components = components(component, true);
                let n = self.with_unicast(&ipcp, |t, ctx| t.disconnect(now, ctx, &dst, &components));
                tracing::info!(%ipcp, %dst, flows = n.unwrap_or(0), "disconnected");
            }
            IrmEvent::IpcpFlowArrived { flow, acceptor, name } => {
                tracing::info!(%flow, %acceptor, %name, "N-1 flow arrived for an IPCP");
                if self
                    .with_unicast(&acceptor, |t, ctx| t.n1_arrived(now, ctx, flow))
                    .is_none()
                {
                    let _ = self.irm.flow_dealloc(std::process::id(), flow);
                }
            }
            IrmEvent::RegisterOnIpcp { ipcp, name, hash } => {
                match self.tasks.get_mut(&ipcp) {
                    Some(Task::Local(lo)) => lo.register(hash),
                    Some(Task::Eth(t)) => t.core.register(hash),
                    Some(Task::Udp(t)) => t.core.register(hash),
                    Some(Task::Unicast(_)) => {
                        self.with_unicast(&ipcp, |t, ctx| t.register(now, ctx, hash));
                    }
                    None => return,
                }
                tracing::info!(%name, %ipcp, "name registered");
            }
            IrmEvent::UnregisterOnIpcp { ipcp, name, hash } => {
                match self.tasks.get_mut(&ipcp) {
                    Some(Task::Local(lo)) => lo.unregister(&hash),
                    Some(Task::Eth(t)) => t.core.unregister(&hash),
                    Some(Task::Udp(t)) => t.core.unregister(&hash),
                    Some(Task::Unicast(_)) => {
                        self.with_unicast(&ipcp, |t, ctx| t.unregister(now, ctx, &hash));
                    }
                    None => return,
                }
                tracing::info!(%name, %ipcp, "name unregistered");
            }
            IrmEvent::QueryLayers { flow, hashes_per_ipcp } => {
                for (ipcp, hash) in hashes_per_ipcp {
                    let known = match self.tasks.get(&ipcp) {
                        Some(Task::Local(lo)) => lo.knows(&hash),
                        Some(Task::Eth(_) | Task::Udp(_)) => {
                            self.with_shim(&ipcp, |t, ctx| t.query(now, ctx, flow, hash));
                            continue;
                        }
                        Some(Task::Unicast(_)) => {
                            self.with_unicast(&ipcp, |t, ctx| t.query(now, ctx, flow, hash));
                            continue;
                        }
                        None => false,
                    };
                    // Once decided, later answers are refused; fine.
                    let _ = self.irm.query_answered(flow, &ipcp, known);
                }
            }
            IrmEvent::AllocateOnIpcp { flow, ipcp, hash, qos } => {
                if self.with_shim(&ipcp, |t, ctx| t.allocate(now, ctx, flow, hash, qos)) {
                    return;
                }
                if self
                    .with_unicast(&ipcp, |t, ctx| t.allocate(now, ctx, flow, hash, qos))
                    .is_none()
                {
                    self.allocate_on(now, flow, &ipcp, hash, qos);
                }
            }
            IrmEvent::FlowAllocated { flow, pid, .. } if self.irm.ipcp_process() == Some(pid) => {
                if let Some(ipcp) = self.unicast_holding(flow) {
                    self.with_unicast(&ipcp, |t, ctx| t.n1_allocated(now, ctx, flow));
                }
            }
            IrmEvent::FlowAllocFailed { flow, pid, reason } if self.irm.ipcp_process() == Some(pid) => {
                if let Some(ipcp) = self.unicast_holding(flow) {
                    let why = format!("{reason:?}");
                    self.ends.remove(&flow);
                    self.with_unicast(&ipcp, |t, ctx| t.n1_failed(now, ctx, flow, &why));
                }
            }
            IrmEvent::FlowAllocated { flow, pid, qos } => {
                let name = self.irm.flow_info(flow).map(|f| f.name).unwrap_or_default();
                tracing::info!(%flow, pid, %name, "flow allocated");
                if let Some(caller) = self.allocs.remove(&flow) {
                    self.reply_flow(caller, flow, qos, &name);
                }
            }
            IrmEvent::FlowAllocFailed { flow, pid, reason } => {
                let (code, message) = match reason {
                    AllocFailure::Unreachable => (errno::EHOSTUNREACH, "no layer knows the name".to_owned()),
                    AllocFailure::Refused(code) if code == -errno::ECONNREFUSED => (
                        errno::ECONNREFUSED,
                        format!(
                            "the flow was refused: no process accepted it within {} s",
                            crate::irm::REQ_ARR_TIMEOUT.as_secs()
                        ),
                    ),
                    AllocFailure::Refused(code) => (
                        -code,
                        format!("the flow was refused: {}", io::Error::from_raw_os_error(-code)),
                    ),
                    AllocFailure::TimedOut => (errno::ETIMEDOUT, "the flow allocation timed out".to_owned()),
                    AllocFailure::IpcpGone => (errno::EIO, "the IPCP went away".to_owned()),
                };
                tracing::info!(%flow, pid, %message, "flow allocation failed");
                self.ends.remove(&flow);
                if let Some(caller) = self.allocs.remove(&flow) {
                    self.reply(caller, error(code, message), &[]);
                }
            }
            IrmEvent::StartProgram { path, args, account } => self.start_program(&path, &args, &account),
            IrmEvent::FlowAccepted { flow, pid, name, qos } => {
                tracing::info!(%flow, pid, %name, "flow accepted");
                let caller = self.accepts.get_mut(&pid).and_then(VecDeque::pop_front);
                if let Some(caller) = caller {
                    self.reply_flow(caller, flow, qos, &name);
                }
            }
            IrmEvent::RespondOnIpcp { flow, ipcp, accepted } => {
                if self.with_shim(&ipcp, |t, ctx| t.respond(now, ctx, flow, accepted)) {
                    return;
                }
                if self
                    .with_unicast(&ipcp, |t, ctx| t.respond(now, ctx, flow, accepted))
                    .is_some()
                {
                    return;
                }
                if let Some(Task::Local(lo)) = self.tasks.get_mut(&ipcp) {
                    let Some(requester) = lo.peer(flow) else { return };
                    if !accepted {
                        lo.release(flow);
                        self.ends.remove(&flow);
                        let _ = self.irm.alloc_reply(requester, &ipcp, Err(-errno::ECONNREFUSED));
                    } else if self.irm.alloc_reply(requester, &ipcp, Ok(())).is_err() {
                        // The requester gave up (its process died) while the
                        // request waited: the accepted end has no peer.
                        lo.release(flow);
                        if let Some(ends) = self.ends.get(&flow) {
                            ends.rings.rx.close();
                            ends.rings.tx.close();
                        }
                        let _ = self.irm.ipcp_flow_dealloc(&ipcp, flow);
                    }
                }
            }
            IrmEvent::AcceptTimedOut { pid } => {
                let caller = self.accepts.get_mut(&pid).and_then(VecDeque::pop_front);
                if let Some(caller) = caller {
                    self.reply(caller, error(errno::ETIMEDOUT, "no flow arrived in time"), &[]);
                }
            }
            IrmEvent::DeallocOnIpcp { flow, ipcp } => {
                if self.with_shim(&ipcp, |t, ctx| t.dealloc(ctx, flow)) {
                    return;
                }
                if self.with_unicast(&ipcp, |t, ctx| t.dealloc(now, ctx, flow)).is_some() {
                    return;
                }
                if let Some(ends) = self.ends.get(&flow) {
                    // Wakes both ends' readers; the peer's reads end.
                    ends.rings.rx.close();
                    ends.rings.tx.close();
                }
                let peer = match self.tasks.get_mut(&ipcp) {
                    Some(Task::Local(lo)) => lo.release(flow),
                    _ => None,
                };
                let _ = self.irm.ipcp_flow_dealloc(&ipcp, flow);
                if let Some(peer) = peer {
                    let _ = self.irm.ipcp_flow_dealloc(&ipcp, peer);
                }
            }
            IrmEvent::FlowDown { flow, pid } if self.irm.ipcp_process() == Some(pid) => {
                match self.unicast_holding(flow) {
                    Some(ipcp) => {
                        self.with_unicast(&ipcp, |t, ctx| t.n1_down(now, ctx, flow));
                    }
                    None => {
                        let _ = self.irm.flow_dealloc(pid, flow);
                    }
                }
            }
            IrmEvent::FlowDown { flow, pid } => {
                tracing::info!(%flow, pid, "flow down: the peer released it");
                if let Some(&conn) = self.by_pid.get(&pid) {
                    self.conns.notify_down(self.poll.registry(), conn, flow.0);
                }
            }
            IrmEvent::FlowGone { flow } => {
                tracing::debug!(%flow, "flow freed");
                self.ends.remove(&flow);
            }
        }
    }

    /// Runs `f` on the shim task `ipcp`, if it is one, with what it needs
    /// of irmd; false when `ipcp` is not a shim.
    fn with_shim(&mut self, ipcp: &str, f: impl FnOnce(&mut dyn ShimIpcp, &mut shim::Ctx<'_>)) -> bool {
        let task: &mut dyn ShimIpcp = match self.tasks.get_mut(ipcp) {
            Some(Task::Eth(t)) => t,
            Some(Task::Udp(t)) => t,
            _ => return false,
        };
        let mut ctx = shim::Ctx {
            irm: &mut self.irm,
            plane: &mut self.plane,
            ends: &mut self.ends,
        };
        f(task, &mut ctx);
        true
    }

    /// Runs `f` on the unicast task `ipcp`, if it is one.
    fn with_unicast<R>(&mut self, ipcp: &str, f: impl FnOnce(&mut MemberTask, &mut shim::Ctx<'_>) -> R) -> Option<R> {
        let Some(Task::Unicast(task)) = self.tasks.get_mut(ipcp) else {
            return None;
        };
        let mut ctx = shim::Ctx {
            irm: &mut self.irm,
            plane: &mut self.plane,
            ends: &mut self.ends,
        };
        Some(f(task, &mut ctx))
    }

    /// Looks at the Ethernet ports' links after a netlink event: a link
    /// that went down takes the unicast layer's N-1 flows over it down.
    fn check_links(&mut self, now: Instant) {
        if let Some(fd) = &self.links {
            sys::drain(std::os::fd::AsFd::as_fd(fd));
        }
        let mut down = Vec::new();
        for (port, (dev, up)) in &mut self.port_links {
            let now_up = sys::link_up(dev);
            if now_up != *up {
                *up = now_up;
                if now_up {
                    tracing::info!(dev = %dev, port, "link up");
                } else {
                    tracing::warn!(dev = %dev, port, "link down");
                    down.push(*port);
                }
            }
        }
        for port in down {
            for name in self.unicast_names() {
                self.with_unicast(&name, |t, ctx| t.port_down(now, ctx, port));
            }
        }
        self.drain_events(now);
    }

    /// The unicast task holding N-1 flow `flow`.
    fn unicast_holding(&self, flow: FlowId) -> Option<String> {
        self.tasks.iter().find_map(|(name, t)| match t {
            Task::Unicast(u) if u.holds(flow) => Some(name.clone()),
            _ => None,
        })
    }

    /// Whether a unicast task runs: the dataplane's tables hold one layer.
    fn unicast_running(&self) -> Option<&str> {
        self.tasks.iter().find_map(|(name, t)| match t {
            Task::Unicast(_) => Some(name.as_str()),
            _ => None,
        })
    }

    /// `irm ipcp enroll`: a unicast IPCP's task starts enrolling through
    /// `dst`; the operator's reply waits for the outcome.
    fn enrol(&mut self, now: Instant, ipcp: &str, dst: &str) {
        let broadcast = !self
            .irm
            .ipcp_list(Some(ipcp), None, Some(IpcpType::Broadcast))
            .is_empty();
        let refused = if broadcast {
            None
        } else {
            self.unicast_running().map(|other| {
                format!(
                    "cannot enrol IPCP {ipcp:?}: unicast IPCP {other:?} runs already, and this irmd's dataplane holds one unicast layer"
                )
            })
        };
        if let Some(message) = refused {
            let _ = self.irm.ipcp_enroll_failed(ipcp);
            tracing::warn!("{message}");
            self.ipcp_failure = Some(message);
            return;
        }
        let mut ctx = shim::Ctx {
            irm: &mut self.irm,
            plane: &mut self.plane,
            ends: &mut self.ends,
        };
        match MemberTask::enrol(ipcp, now, &mut ctx, dst, broadcast) {
            Ok(task) => {
                self.tasks.insert(ipcp.to_owned(), Task::Unicast(Box::new(task)));
                self.waits_for = Some(Waiting {
                    caller: Caller { conn: 0, id: 0 },
                    ipcp: ipcp.to_owned(),
                    enrol: true,
                    flows: Vec::new(),
                    failed: None,
                    deadline: now + OPERATION_TIMEOUT,
                });
            }
            Err(why) => {
                let _ = self.irm.ipcp_enroll_failed(ipcp);
                let message = format!("cannot enrol IPCP {ipcp:?} through {dst:?}: {why}");
                tracing::warn!("{message}");
                self.ipcp_failure = Some(message);
            }
        }
    }

    /// Starts the task of a bootstrapped IPCP; on failure says why in
    /// `ipcp_failure` (the command is undone).
    fn bootstrap(&mut self, ipcp: &str, layer: &str, config: &BootstrapConfig) {
        let started = match config {
            BootstrapConfig::Local(_) => Ok(Task::Local(LocalIpcp::new())),
            BootstrapConfig::EthDix(c) => self.start_eth(ipcp, &c.dev, EthShim::Dix { ethertype: c.ethertype }, config),
            BootstrapConfig::EthLlc(c) => self.start_eth(ipcp, &c.dev, EthShim::Llc, config),
            BootstrapConfig::Udp4(c) => self.start_udp(ipcp, SocketAddr::from((c.ip, c.port)), c.dns.map(IpAddr::V4)),
            BootstrapConfig::Udp6(c) => self.start_udp(ipcp, SocketAddr::from((c.ip, c.port)), c.dns.map(IpAddr::V6)),
            BootstrapConfig::Unicast(c) => match self.unicast_running() {
                Some(other) => Err(format!(
                    "unicast IPCP {other:?} runs already, and this irmd's dataplane holds one unicast layer"
                )),
                None => {
                    let mut ctx = shim::Ctx {
                        irm: &mut self.irm,
                        plane: &mut self.plane,
                        ends: &mut self.ends,
                    };
                    let layer_config = crate::ipcp::unicast::enroll::LayerConfig::unicast(layer, *c);
                    let task = MemberTask::bootstrap(ipcp, Instant::now(), &mut ctx, layer_config);
                    Ok(Task::Unicast(Box::new(task)))
                }
            },
            BootstrapConfig::Broadcast => {
                let mut ctx = shim::Ctx {
                    irm: &mut self.irm,
                    plane: &mut self.plane,
                    ends: &mut self.ends,
                };
                let layer_config = crate::ipcp::unicast::enroll::LayerConfig {
                    name: layer.to_owned(),
                    ipcp_type: IpcpType::Broadcast,
                    hash: config.dir_hash_algo(),
                    unicast: None,
                    peer: 0,
                };
                let task = MemberTask::bootstrap(ipcp, Instant::now(), &mut ctx, layer_config);
                Ok(Task::Unicast(Box::new(task)))
            }
        };
        match started {
            Ok(task) => {
                tracing::info!(%ipcp, %layer, kind = %config.ipcp_type(), "IPCP bootstrapped");
                self.tasks.insert(ipcp.to_owned(), task);
            }
            Err(why) => {
                let _ = self.irm.ipcp_bootstrap_failed(ipcp);
                let message = format!("cannot bootstrap IPCP {ipcp:?}: {why}");
                tracing::warn!("{message}");
                self.ipcp_failure = Some(message);
            }
        }
    }

    fn start_eth(&mut self, ipcp: &str, dev: &str, shim: EthShim, config: &BootstrapConfig) -> Result<Task, String> {
        let spec = match shim {
            EthShim::Dix { ethertype } => ShimPortSpec::EthDix {
                dev: dev.to_owned(),
                ethertype,
            },
            EthShim::Llc => ShimPortSpec::EthLlc { dev: dev.to_owned() },
        };
        let (port, info) = self.plane.add_port(&spec).map_err(|e| e.to_string())?;
        let Some(mac) = info.mac else {
            self.plane.remove_port(port);
            return Err(format!("interface {dev} has no MAC address"));
        };
        tracing::info!(%ipcp, dev, %mac, mtu = info.mtu, backend = %info.kind, "eth port open");
        self.port_links.insert(port, (dev.to_owned(), sys::link_up(dev)));
        let hash_len = config.dir_hash_algo().digest_len();
        let shim_config = match shim {
            EthShim::Dix { .. } => ShimConfig::eth_dix(hash_len),
            EthShim::Llc => ShimConfig::eth_llc(hash_len),
        };
        let task = ShimTask::new(ipcp, port, EthLink { shim, mac }, shim_config);
        Ok(Task::Eth(task))
    }

    fn start_udp(&mut self, ipcp: &str, local: SocketAddr, dns: Option<IpAddr>) -> Result<Task, String> {
        let (port, info) = self
            .plane
            .add_port(&ShimPortSpec::Udp { bind: local })
            .map_err(|e| e.to_string())?;
        tracing::info!(%ipcp, %local, backend = %info.kind, "udp port open");
        let hosts = self.udp_hosts.get(ipcp).cloned().unwrap_or_default();
        let directory = Directory::new(hosts.iter().map(|(n, ip)| (n.as_str(), *ip)), dns);
        let link = UdpLink::start(local, directory, Arc::clone(&self.waker)).map_err(|e| {
            self.plane.remove_port(port);
            format!("cannot start its directory: {e}")
        })?;
        Ok(Task::Udp(ShimTask::new(ipcp, port, link, ShimConfig::udp())))
    }

    /// Hands every punted management frame to the shim task of its port,
    /// and every DT packet for a layer component to the unicast task.
    fn punts(&mut self, now: Instant) {
        let mut frames: Vec<(PortId, PuntCause, Vec<u8>)> = Vec::new();
        self.plane
            .punts(|port, cause, frame| frames.push((port, cause, frame.to_vec())));
        for (port, cause, frame) in frames {
            let shim = self.tasks.iter().find_map(|(name, t)| match t {
                Task::Eth(s) if s.port == port => Some((name.clone(), Some(s.link.shim))),
                Task::Udp(s) if s.port == port => Some((name.clone(), None)),
                _ => None,
            });
            let Some((ipcp, eth)) = shim else { continue };
            match cause {
                PuntCause::ShimMgmt { from } => {
                    self.with_shim(&ipcp, |t, ctx| t.receive(now, ctx, &frame, from));
                }
                PuntCause::LayerMgmt { .. } => {
                    let dt = match eth {
                        Some(EthShim::Dix { .. }) => o7s_wire::dix::parse_frame(&frame).ok().map(|(_, _, p)| p),
                        Some(EthShim::Llc) => o7s_wire::llc::LlcFrame::new_checked(&frame[..])
                            .ok()
                            .map(|f| &frame[o7s_wire::llc::HEADER_LEN..o7s_wire::llc::HEADER_LEN + f.payload().len()]),
                        None => frame.get(o7s_wire::udp::HEADER_LEN..),
                    };
                    if let Some(u) = self.unicast_running().map(str::to_owned) {
                        self.with_unicast(&u, |t, ctx| t.punted(now, ctx, dt));
                    }
                }
            }
        }
        for name in self.unicast_names() {
            self.with_unicast(&name, |t, ctx| t.read_flows(now, ctx));
        }
        self.drain_events(now);
    }

    fn unicast_names(&self) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|(_, t)| matches!(t, Task::Unicast(_)))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The shim tasks' deadlines and directory answers.
    fn tick_tasks(&mut self, now: Instant) {
        let names: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, t)| matches!(t, Task::Eth(_) | Task::Udp(_)))
            .map(|(n, _)| n.clone())
            .collect();
        for ipcp in names {
            self.with_shim(&ipcp, |t, ctx| t.tick(now, ctx));
        }
        for name in self.unicast_names() {
            self.with_unicast(&name, |t, ctx| t.tick(now, ctx));
        }
        self.drain_events(now);
    }

    fn tasks_timeout(&self) -> Option<Instant> {
        self.tasks
            .values()
            .filter_map(|t| match t {
                Task::Eth(s) => s.poll_timeout(),
                Task::Udp(s) => s.poll_timeout(),
                Task::Unicast(u) => u.poll_timeout(),
                Task::Local(_) => None,
            })
            .min()
    }

    /// `irm ipcp stats`: what the dataplane counted on the IPCP's port and
    /// what its control half refused.
    fn stats(&self, ipcp: &str) -> Vec<(String, u64)> {
        let (port, control) = match self.tasks.get(ipcp) {
            Some(Task::Eth(t)) => (t.port, t.counters()),
            Some(Task::Udp(t)) => (t.port, t.counters()),
            Some(Task::Unicast(u)) => return u.counters(),
            _ => return Vec::new(),
        };
        let snap = self.plane.counters(port);
        let mut rows: Vec<(String, u64)> = [
            ("rx-packets", snap.rx_packets),
            ("rx-octets", snap.rx_bytes),
            ("tx-packets", snap.tx_packets),
            ("tx-octets", snap.tx_bytes),
            ("delivered", snap.delivered),
            ("punted", snap.punted),
            ("passed-to-kernel", snap.passed_to_kernel),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
        let drops = o7s_seam::DropReason::ALL
            .iter()
            .map(|r| (r.to_string(), snap.dropped(*r)));
        let losses = o7s_seam::KernelLoss::ALL.iter().map(|l| (l.to_string(), snap.lost(*l)));
        rows.extend(drops.chain(losses).filter(|(_, v)| *v > 0));
        rows.extend(control);
        rows
    }

    /// A flow request through the local IPCP `ipcp`: the request arrives
    /// at once at this same IRM, and the two ends get their rings.
    fn allocate_on(&mut self, now: Instant, flow: FlowId, ipcp: &str, hash: o7s_wire::hash::NameHash, qos: QosSpec) {
        if !matches!(self.tasks.get(ipcp), Some(Task::Local(_))) {
            let _ = self.irm.alloc_reply(flow, ipcp, Err(-errno::ENOTSUP));
            return;
        }
        let rings = match FlowRings::create() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot create flow rings");
                let _ = self.irm.alloc_reply(flow, ipcp, Err(-errno::ENOMEM));
                return;
            }
        };
        match self.irm.flow_request_arrived(now, ipcp, hash, qos) {
            Ok(responder) => {
                tracing::info!(requester = %flow, %responder, %ipcp, "flow request arrived");
                if let Some(Task::Local(lo)) = self.tasks.get_mut(ipcp) {
                    lo.pair(flow, responder);
                }
                // One end's receive ring is the other's send ring.
                let swapped = FlowRings {
                    rx: Arc::clone(&rings.tx),
                    tx: Arc::clone(&rings.rx),
                };
                self.ends.insert(flow, Ends::rings(rings));
                self.ends.insert(responder, Ends::rings(swapped));
            }
            Err(e) => {
                tracing::info!(%flow, error = %e, "flow request refused");
                let _ = self.irm.alloc_reply(flow, ipcp, Err(-errno::ECONNREFUSED));
            }
        }
    }

    fn start_program(&mut self, path: &Path, args: &[String], account: &Account) {
        let env = [(rundir::ENV, self.rundir.as_path())];
        match sys::spawn_as(path, args, &env, account) {
            Ok(child) => {
                tracing::info!(pid = child.id(), program = %path.display(), ?args, uid = account.uid, gid = account.gid, "started program for a flow request");
                self.children.push(child);
            }
            Err(e) => tracing::warn!(program = %path.display(), uid = account.uid, error = %e, "cannot start program"),
        }
    }

    fn status(&self) -> rpc::StatusReply {
        let stats = self.pool.stats();
        rpc::StatusReply {
            flows: self
                .irm
                .flows()
                .into_iter()
                .map(|f| rpc::FlowStatus {
                    flow: f.id.0,
                    state: f.state.to_string(),
                    pid: f.pid,
                    name: f.name,
                    ipcp: f.ipcp.unwrap_or_default(),
                })
                .collect(),
            processes: self.by_pid.keys().copied().collect(),
            pool: Some(rpc::PoolStatus {
                buffers: stats.buffers,
                free: stats.free,
                slots: stats
                    .slots
                    .iter()
                    .map(|s| rpc::SlotStatus {
                        slot: u32::from(s.slot),
                        pid: s.pid,
                        held: s.held,
                    })
                    .collect(),
            }),
        }
    }

    fn shutdown(&mut self) {
        // The programs irmd started have no irmd left to serve them.
        for child in &mut self.children {
            o7s_app::sys::terminate(child.id());
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        for child in &mut self.children {
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        for ends in self.ends.values() {
            ends.rings.rx.close();
            ends.rings.tx.close();
        }
        let ids: Vec<ConnId> = self.conns.ids().collect();
        for id in ids {
            if let Some(conn) = self.conns.remove(self.poll.registry(), id) {
                let _ = conn.sock.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}
