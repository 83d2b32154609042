//! irmd: the IPC Resource Manager daemon. It owns the shared packet pool,
//! listens on `<rundir>/irmd.sock`, turns the processes' requests into
//! calls on the sans-IO [`Irm`], carries out the IRM's events (IPCP tasks,
//! flow rings, program starts, replies) and cleans up after processes
//! that die.
//!
//! ```text
//!  acceptor thread ──Connected──┐
//!  one reader thread per conn ──Message/Closed──> main loop (owns Irm, pool, IPCP tasks)
//!                                                   │ replies + notices (SCM_RIGHTS fds)
//!                                                   v
//!                                                 processes
//! ```
//!
//! A process's connection is its life line: when it closes (exit, kill),
//! irmd releases the process's flows and, once the kernel says the process
//! is gone, returns its pool buffers. The IPCPs run as tasks here; of the
//! layer types only `local` has a task so far, and bootstrapping any other
//! type is refused with a message saying so.

pub mod exec;
pub mod local;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use o7s_app::msg::{self, Received, reply, request};
use o7s_app::{error::errno, rundir, sys};
use o7s_mem::{Pool, PoolCache, PoolConfig, Ring};
use o7s_wire::qos::QosSpec;

use crate::ipcp_config::IpcpType;
use crate::irm::{AllocFailure, FlowId, Irm, IrmEvent};
use crate::irm_cli::Command;
use crate::irmd_config::IrmdConfig;

use self::local::LocalIpcp;

/// Entries per flow ring (each direction).
pub const FLOW_RING_ENTRIES: u32 = 1024;

/// How often the main loop wakes with nothing to do: reaps started
/// programs, reclaims dead processes' buffers, checks for a stop signal.
const TICK: Duration = Duration::from_millis(100);

/// How long after a process's connection closed irmd keeps looking for
/// its buffers (the process may take a moment to be gone for the kernel).
const RECLAIM_WINDOW: Duration = Duration::from_secs(5);

/// Why irmd could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum IrmdError {
    #[error("cannot create the runtime directory {dir}: {source}")]
    Rundir { dir: PathBuf, source: io::Error },
    #[error("another irmd is listening on {0}")]
    AlreadyRunning(PathBuf),
    #[error("cannot listen on {path}: {source}")]
    Listen { path: PathBuf, source: io::Error },
    #[error("cannot create the packet pool: {0}")]
    Pool(#[from] o7s_mem::MemError),
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
}

impl Options {
    /// The defaults for `rundir`: a pool of 16 384 buffers of 2 KiB (32
    /// MiB, hugepages when reserved) with room for 1024 caches.
    pub fn new(rundir: PathBuf) -> Options {
        Options {
            rundir,
            config: None,
            pool: PoolConfig {
                max_slots: 1024,
                ..PoolConfig::default()
            },
        }
    }
}

type ConnId = u64;

enum Input {
    Connected(ConnId, u32, UnixStream),
    Message(ConnId, Received<msg::Request>),
    Closed(ConnId),
}

struct Conn {
    pid: u32,
    sock: UnixStream,
    /// Sent a Hello: an application the IRM tracks.
    announced: bool,
}

/// A running IPCP's control half.
enum Task {
    Local(LocalIpcp),
}

/// Where a reply goes.
#[derive(Debug, Clone, Copy)]
struct Caller {
    conn: ConnId,
    id: u64,
}

/// A flow end's rings: (receive, send), shared with the peer end (its
/// send and receive).
type Ends = (Arc<Ring>, Arc<Ring>);

struct Daemon {
    irm: Irm,
    pool: Pool,
    cache: PoolCache,
    rundir: PathBuf,
    conns: HashMap<ConnId, Conn>,
    by_pid: HashMap<u32, ConnId>,
    allocs: HashMap<FlowId, Caller>,
    accepts: HashMap<u32, VecDeque<Caller>>,
    tasks: BTreeMap<String, Task>,
    ends: HashMap<FlowId, Ends>,
    children: Vec<Child>,
    reclaim_until: Option<Instant>,
    /// Set while a command runs: why an IPCP it bootstrapped could not
    /// start.
    ipcp_failure: Option<String>,
}

/// Runs irmd until `stop` is set (SIGTERM/SIGINT in the binary).
pub fn run(options: &Options, stop: &AtomicBool) -> Result<(), IrmdError> {
    std::fs::create_dir_all(&options.rundir).map_err(|source| IrmdError::Rundir {
        dir: options.rundir.clone(),
        source,
    })?;
    let path = rundir::socket(&options.rundir);
    if path.exists() {
        if sys::seqpacket_connect(&path).is_ok() {
            return Err(IrmdError::AlreadyRunning(path));
        }
        // A socket left by an irmd that died.
        std::fs::remove_file(&path)?;
    }
    let listener = sys::seqpacket_listen(&path).map_err(|source| IrmdError::Listen {
        path: path.clone(),
        source,
    })?;
    let pool = Pool::create("o7s-irmd", options.pool)?;
    tracing::info!(
        buffers = pool.count(),
        buf_size = pool.buf_size(),
        pages = ?pool.pages(),
        "packet pool ready"
    );
    let cache = pool.cache()?;
    let mut daemon = Daemon {
        irm: Irm::new(),
        pool,
        cache,
        rundir: options.rundir.clone(),
        conns: HashMap::new(),
        by_pid: HashMap::new(),
        allocs: HashMap::new(),
        accepts: HashMap::new(),
        tasks: BTreeMap::new(),
        ends: HashMap::new(),
        children: Vec::new(),
        reclaim_until: None,
        ipcp_failure: None,
    };
    let result = daemon.start(options, listener, &path, stop);
    let _ = std::fs::remove_file(&path);
    daemon.shutdown();
    result
}

fn accept_loop(listener: std::os::unix::net::UnixListener, tx: Sender<Input>) {
    let mut next: ConnId = 0;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let pid = match sys::peer_pid(&stream) {
            Ok(pid) => pid,
            Err(e) => {
                tracing::warn!(error = %e, "connection without peer credentials refused");
                continue;
            }
        };
        next += 1;
        let id = next;
        let Ok(reader) = stream.try_clone() else { continue };
        // A process that stops reading must not stall irmd.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        if tx.send(Input::Connected(id, pid, stream)).is_err() {
            return;
        }
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("irmd-conn-{id}"))
            .spawn(move || read_loop(id, &reader, &tx));
        if spawned.is_err() {
            tracing::error!("cannot start a connection thread");
        }
    }
}

fn read_loop(id: ConnId, sock: &UnixStream, tx: &Sender<Input>) {
    let mut buf = vec![0u8; msg::MAX_MSG];
    loop {
        match msg::recv::<msg::Request>(sock, &mut buf) {
            Ok(Received::Closed) | Err(_) => {
                let _ = tx.send(Input::Closed(id));
                return;
            }
            Ok(m) => {
                if tx.send(Input::Message(id, m)).is_err() {
                    return;
                }
            }
        }
    }
}

fn error(code: i32, message: impl Into<String>) -> reply::Body {
    reply::Body::Error(msg::Error {
        code: -code,
        message: message.into(),
    })
}

impl Daemon {
    fn start(
        &mut self,
        options: &Options,
        listener: std::os::unix::net::UnixListener,
        path: &Path,
        stop: &AtomicBool,
    ) -> Result<(), IrmdError> {
        if let Some(config) = &options.config {
            self.load_config(config)?;
        }
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("irmd-accept".into())
            .spawn(move || accept_loop(listener, tx))?;
        tracing::info!(socket = %path.display(), "irmd running");
        self.main_loop(&rx, stop);
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
        let result = exec::apply_config(&mut self.irm, Instant::now(), &config);
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

    fn main_loop(&mut self, rx: &Receiver<Input>, stop: &AtomicBool) {
        let mut last_tick = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let wait = self
                .irm
                .poll_timeout()
                .map_or(TICK, |d| d.saturating_duration_since(now).min(TICK));
            match rx.recv_timeout(wait) {
                Ok(input) => self.handle(input),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = Instant::now();
            if self.irm.poll_timeout().is_some_and(|d| d <= now) {
                self.irm.handle_timeout(now);
                self.drain_events(now);
            }
            if now.duration_since(last_tick) >= TICK {
                last_tick = now;
                self.housekeeping(now);
            }
        }
    }

    fn handle(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Connected(id, pid, sock) => {
                tracing::debug!(conn = id, pid, "connection");
                self.conns.insert(
                    id,
                    Conn {
                        pid,
                        sock,
                        announced: false,
                    },
                );
            }
            Input::Message(id, Received::Message(req, fds)) => {
                // irmd takes no fds from processes.
                drop(fds);
                self.request(now, id, req);
            }
            Input::Message(id, Received::Malformed(e)) => {
                let pid = self.conns.get(&id).map_or(0, |c| c.pid);
                tracing::warn!(pid, error = %e, "malformed message refused");
                self.reply(
                    Caller { conn: id, id: 0 },
                    error(errno::EINVAL, format!("malformed message: {e}")),
                    &[],
                );
            }
            Input::Message(_, Received::Closed) => {}
            Input::Closed(id) => self.closed(now, id),
        }
        self.drain_events(now);
    }

    fn request(&mut self, now: Instant, conn: ConnId, req: msg::Request) {
        let caller = Caller { conn, id: req.id };
        let Some(pid) = self.conns.get(&conn).map(|c| c.pid) else {
            return;
        };
        let Some(body) = req.body else {
            self.reply(caller, error(errno::EINVAL, "request without a body"), &[]);
            return;
        };
        let announced = self.conns.get(&conn).is_some_and(|c| c.announced);
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
            request::Body::Command(c) => self.command(now, caller, &c.argv),
            request::Body::FlowAlloc(a) => self.flow_alloc(now, caller, pid, a),
            request::Body::FlowAccept(a) => {
                let timeout = a.timeout_ms.map(Duration::from_millis);
                match self.irm.flow_accept(now, pid, timeout) {
                    Ok(()) => self.accepts.entry(pid).or_default().push_back(caller),
                    Err(e) => self.reply(caller, error(errno::EPERM, e.to_string()), &[]),
                }
            }
            request::Body::FlowDealloc(d) => {
                let flow = FlowId(d.flow);
                match self.irm.flow_dealloc(pid, flow) {
                    Ok(()) => {
                        tracing::info!(%flow, pid, "flow deallocated by the process");
                        self.reply(caller, reply::Body::Done(msg::Done {}), &[]);
                    }
                    Err(e) => self.reply(caller, error(errno::EINVAL, e.to_string()), &[]),
                }
            }
            request::Body::FlowJoin(j) => {
                let message = if self
                    .irm
                    .ipcp_list(None, Some(&j.layer), Some(IpcpType::Broadcast))
                    .is_empty()
                {
                    format!("no broadcast IPCP is in layer {:?}", j.layer)
                } else {
                    format!("layer {:?}: broadcast IPCPs have no control logic in o7s yet", j.layer)
                };
                self.reply(caller, error(errno::ENOTSUP, message), &[]);
            }
            request::Body::Status(_) => {
                let status = self.status();
                self.reply(caller, reply::Body::Status(status), &[]);
            }
        }
    }

    fn hello(&mut self, caller: Caller, pid: u32, hello: &msg::Hello) {
        let program = (!hello.program.is_empty()).then(|| PathBuf::from(&hello.program));
        if self.by_pid.contains_key(&pid) {
            self.reply(
                caller,
                error(errno::EEXIST, format!("process {pid} is already announced")),
                &[],
            );
            return;
        }
        match self.irm.process_started(pid, program.as_deref()) {
            Ok(()) => {
                tracing::info!(pid, program = %hello.program, "process announced");
                self.by_pid.insert(pid, caller.conn);
                if let Some(c) = self.conns.get_mut(&caller.conn) {
                    c.announced = true;
                }
                let pool = self.pool.fd();
                self.reply(caller, reply::Body::Welcome(msg::Welcome { pid }), &[pool]);
            }
            Err(e) => self.reply(caller, error(errno::EPERM, e.to_string()), &[]),
        }
    }

    fn command(&mut self, now: Instant, caller: Caller, argv: &[String]) {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let cmd = match Command::parse(&words) {
            Ok(cmd) => cmd,
            Err(e) => {
                self.reply(caller, error(errno::EINVAL, e.to_string()), &[]);
                return;
            }
        };
        let before = self.irm.clone();
        let result = exec::execute(&mut self.irm, now, &cmd);
        self.drain_events(now);
        let body = match (result, self.ipcp_failure.take()) {
            (Err(e), _) => error(-e.errno(), e.to_string()),
            (Ok(_), Some(failure)) => {
                // The IPCP could not start: undo the whole command.
                self.irm = before;
                error(errno::ENOTSUP, failure)
            }
            (Ok(text), None) => {
                tracing::info!(command = %argv.join(" "), "irm command done");
                reply::Body::Output(msg::Output { text })
            }
        };
        self.reply(caller, body, &[]);
    }

    fn flow_alloc(&mut self, now: Instant, caller: Caller, pid: u32, a: msg::FlowAlloc) {
        let Some(qos) = a.qos.map_or(Some(QosSpec::RAW), |q| q.to_spec()) else {
            self.reply(caller, error(errno::EINVAL, "QoS field out of range"), &[]);
            return;
        };
        match self.irm.flow_alloc(now, pid, &a.name, qos) {
            Ok(flow) => {
                tracing::info!(%flow, pid, name = %a.name, "flow allocation requested");
                self.allocs.insert(flow, caller);
            }
            Err(e) => self.reply(caller, error(errno::EINVAL, e.to_string()), &[]),
        }
    }

    fn closed(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else { return };
        if !c.announced {
            return;
        }
        self.by_pid.remove(&c.pid);
        self.accepts.remove(&c.pid);
        self.allocs.retain(|_, caller| caller.conn != conn);
        match self.irm.process_exited(c.pid) {
            Ok(flows) => tracing::info!(pid = c.pid, flows = flows.len(), "process exited; releasing its flows"),
            Err(e) => tracing::warn!(pid = c.pid, error = %e, "process exit"),
        }
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

    fn reply(&self, caller: Caller, body: reply::Body, fds: &[std::os::fd::BorrowedFd<'_>]) {
        let Some(conn) = self.conns.get(&caller.conn) else {
            return;
        };
        let message = msg::Reply {
            id: caller.id,
            body: Some(body),
        };
        if let Err(e) = msg::send(&conn.sock, &message, fds) {
            tracing::warn!(pid = conn.pid, error = %e, "cannot answer; dropping the connection");
            let _ = conn.sock.shutdown(std::net::Shutdown::Both);
        }
    }

    fn reply_flow(&self, caller: Caller, flow: FlowId, qos: QosSpec, name: &str) {
        let Some((rx, tx)) = self.ends.get(&flow).cloned() else {
            self.reply(caller, error(errno::EIO, format!("flow {flow} has no rings")), &[]);
            return;
        };
        let up = reply::Body::FlowUp(msg::FlowUp {
            flow: flow.0,
            qos: Some(qos.into()),
            name: name.to_owned(),
        });
        self.reply(caller, up, &[rx.fd(), tx.fd()]);
    }

    /// Carries out everything the IRM asked for, until it asks nothing.
    fn drain_events(&mut self, now: Instant) {
        while let Some(event) = self.irm.poll_event() {
            self.event(now, event);
        }
    }

    fn event(&mut self, now: Instant, event: IrmEvent) {
        match event {
            IrmEvent::BootstrapIpcp { ipcp, layer, config } => {
                if config.ipcp_type() == IpcpType::Local {
                    tracing::info!(%ipcp, %layer, "local IPCP bootstrapped");
                    self.tasks.insert(ipcp, Task::Local(LocalIpcp::new()));
                } else {
                    let _ = self.irm.ipcp_bootstrap_failed(&ipcp);
                    let message = format!(
                        "cannot bootstrap IPCP {ipcp:?}: {} IPCPs have no control logic in o7s yet (only local)",
                        config.ipcp_type()
                    );
                    tracing::warn!("{message}");
                    self.ipcp_failure = Some(message);
                }
            }
            IrmEvent::EnrollIpcp { ipcp, dst } => {
                let _ = self.irm.ipcp_enroll_failed(&ipcp);
                let message = format!("cannot enrol IPCP {ipcp:?} with {dst:?}: enrolment is not in o7s yet");
                tracing::warn!("{message}");
                self.ipcp_failure = Some(message);
            }
            IrmEvent::RegisterOnIpcp { ipcp, name, hash } => {
                if let Some(Task::Local(lo)) = self.tasks.get_mut(&ipcp) {
                    lo.register(hash);
                    tracing::info!(%name, %ipcp, "name registered");
                }
            }
            IrmEvent::UnregisterOnIpcp { ipcp, name, hash } => {
                if let Some(Task::Local(lo)) = self.tasks.get_mut(&ipcp) {
                    lo.unregister(&hash);
                    tracing::info!(%name, %ipcp, "name unregistered");
                }
            }
            IrmEvent::QueryLayers { flow, hashes_per_ipcp } => {
                for (ipcp, hash) in hashes_per_ipcp {
                    let known = match self.tasks.get(&ipcp) {
                        Some(Task::Local(lo)) => lo.knows(&hash),
                        None => false,
                    };
                    // Once decided, later answers are refused; fine.
                    let _ = self.irm.query_answered(flow, &ipcp, known);
                }
            }
            IrmEvent::AllocateOnIpcp { flow, ipcp, hash, qos } => self.allocate_on(now, flow, &ipcp, hash, qos),
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
                    AllocFailure::Refused(code) => (-code, format!("the flow was refused ({code})")),
                    AllocFailure::TimedOut => (errno::ETIMEDOUT, "the flow allocation timed out".to_owned()),
                    AllocFailure::IpcpGone => (errno::EIO, "the IPCP went away".to_owned()),
                };
                tracing::info!(%flow, pid, %message, "flow allocation failed");
                self.ends.remove(&flow);
                if let Some(caller) = self.allocs.remove(&flow) {
                    self.reply(caller, error(code, message), &[]);
                }
            }
            IrmEvent::StartProgram { path, args } => self.start_program(&path, &args),
            IrmEvent::FlowAccepted { flow, pid, name, qos } => {
                tracing::info!(%flow, pid, %name, "flow accepted");
                let caller = self.accepts.get_mut(&pid).and_then(VecDeque::pop_front);
                if let Some(caller) = caller {
                    self.reply_flow(caller, flow, qos, &name);
                }
            }
            IrmEvent::RespondOnIpcp { flow, ipcp, accepted } => {
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
                        if let Some((rx, tx)) = self.ends.get(&flow) {
                            rx.close();
                            tx.close();
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
                if let Some((rx, tx)) = self.ends.get(&flow) {
                    // Wakes both ends' readers; the peer's reads end.
                    rx.close();
                    tx.close();
                }
                let peer = match self.tasks.get_mut(&ipcp) {
                    Some(Task::Local(lo)) => lo.release(flow),
                    None => None,
                };
                let _ = self.irm.ipcp_flow_dealloc(&ipcp, flow);
                if let Some(peer) = peer {
                    let _ = self.irm.ipcp_flow_dealloc(&ipcp, peer);
                }
            }
            IrmEvent::FlowDown { flow, pid } => {
                tracing::info!(%flow, pid, "flow down: the peer released it");
                if let Some(&conn) = self.by_pid.get(&pid) {
                    let notice = reply::Body::FlowDown(msg::FlowDown { flow: flow.0 });
                    self.reply(Caller { conn, id: 0 }, notice, &[]);
                }
            }
            IrmEvent::FlowGone { flow } => {
                tracing::debug!(%flow, "flow freed");
                self.ends.remove(&flow);
            }
        }
    }

    /// A flow request through `ipcp`: for the local layer, the request
    /// arrives at once at this same IRM, and the two ends get their rings.
    fn allocate_on(&mut self, now: Instant, flow: FlowId, ipcp: &str, hash: o7s_wire::hash::NameHash, qos: QosSpec) {
        if !matches!(self.tasks.get(ipcp), Some(Task::Local(_))) {
            let _ = self.irm.alloc_reply(flow, ipcp, Err(-errno::ENOTSUP));
            return;
        }
        let rings = (|| -> Result<(Ring, Ring), o7s_mem::MemError> {
            Ok((
                Ring::create("o7s-flow", FLOW_RING_ENTRIES)?,
                Ring::create("o7s-flow", FLOW_RING_ENTRIES)?,
            ))
        })();
        let (forward, back) = match rings {
            Ok((f, b)) => (Arc::new(f), Arc::new(b)),
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
                self.ends.insert(flow, (Arc::clone(&back), Arc::clone(&forward)));
                self.ends.insert(responder, (forward, back));
            }
            Err(e) => {
                tracing::info!(%flow, error = %e, "flow request refused");
                let _ = self.irm.alloc_reply(flow, ipcp, Err(-errno::ECONNREFUSED));
            }
        }
    }

    fn start_program(&mut self, path: &Path, args: &[String]) {
        let started = std::process::Command::new(path)
            .args(args)
            .env(rundir::ENV, &self.rundir)
            .stdin(std::process::Stdio::null())
            .spawn();
        match started {
            Ok(child) => {
                tracing::info!(pid = child.id(), program = %path.display(), ?args, "started program for a flow request");
                self.children.push(child);
            }
            Err(e) => tracing::warn!(program = %path.display(), error = %e, "cannot start program"),
        }
    }

    fn status(&self) -> msg::StatusReply {
        let stats = self.pool.stats();
        msg::StatusReply {
            flows: self
                .irm
                .flows()
                .into_iter()
                .map(|f| msg::FlowStatus {
                    flow: f.id.0,
                    state: f.state.to_string(),
                    pid: f.pid,
                    name: f.name,
                    ipcp: f.ipcp.unwrap_or_default(),
                })
                .collect(),
            processes: self.by_pid.keys().copied().collect(),
            pool: Some(msg::PoolStatus {
                buffers: stats.buffers,
                free: stats.free,
                slots: stats
                    .slots
                    .iter()
                    .map(|s| msg::SlotStatus {
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
            sys::terminate(child.id());
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
        for (rx, tx) in self.ends.values() {
            rx.close();
            tx.close();
        }
        for conn in self.conns.values() {
            let _ = conn.sock.shutdown(std::net::Shutdown::Both);
        }
    }
}
