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
//! is gone, returns its pool buffers. The IPCPs run as tasks here; of the
//! layer types only `local` has a task so far, and bootstrapping any other
//! type is refused with a message saying so.

pub mod access;
pub mod conns;
pub mod exec;
pub mod local;
pub mod log_budget;
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
use o7s_mem::{Pool, PoolCache, PoolConfig, Ring};
use o7s_seam::rpc::{self, Received, reply, request};
use o7s_wire::qos::QosSpec;

use crate::ipcp_config::IpcpType;
use crate::irm::{Account, AllocFailure, FlowId, Irm, IrmEvent};
use crate::irm_cli::Command;
use crate::irmd_config::IrmdConfig;

use self::access::{Access, Role};
use self::conns::{ConnId, Conns, LISTENER, Limits, Read};
use self::local::LocalIpcp;
use self::log_budget::LogBudget;

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
}

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
        }
    }
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
    access: Access,
    poll: Poll,
    conns: Conns,
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
    /// Complaints about what processes send.
    malformed_log: LogBudget,
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
    let listener = o7s_app::sys::seqpacket_listen(&path).map_err(|source| IrmdError::Listen {
        path: path.clone(),
        source,
    })?;
    // The directory kept everyone else out until now.
    access::secure(&path, options.access.socket_group(), options.access.socket_mode())?;
    listener.set_nonblocking(true)?;
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
    let mut daemon = Daemon {
        irm,
        pool,
        cache,
        rundir: options.rundir.clone(),
        access: options.access.clone(),
        poll: Poll::new()?,
        conns: Conns::new(options.limits),
        by_pid: HashMap::new(),
        allocs: HashMap::new(),
        accepts: HashMap::new(),
        tasks: BTreeMap::new(),
        ends: HashMap::new(),
        children: Vec::new(),
        reclaim_until: None,
        ipcp_failure: None,
        malformed_log: LogBudget::per_second(),
    };
    let result = daemon.start(options, &listener, &path, stop);
    let _ = std::fs::remove_file(&path);
    daemon.shutdown();
    result
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
            let wake = [self.irm.poll_timeout(), self.conns.wake_at(now)]
                .into_iter()
                .flatten()
                .min()
                .map_or(TICK, |t| t.saturating_duration_since(now).min(TICK));
            match self.poll.poll(&mut events, Some(wake)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            let mut accept = false;
            for event in &events {
                if event.token() == LISTENER {
                    accept = true;
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
            self.serve_ready(now, &mut buf);
            if self.irm.poll_timeout().is_some_and(|d| d <= now) {
                self.irm.handle_timeout(now);
                self.drain_events(now);
            }
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
        let result = exec::execute(&mut self.irm, now, &cmd, &account, &|_| Vec::new());
        self.drain_events(now);
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
        let Some((rx, tx)) = self.ends.get(&flow).cloned() else {
            self.reply(caller, error(errno::EIO, format!("flow {flow} has no rings")), &[]);
            return;
        };
        let up = reply::Body::FlowUp(rpc::FlowUp {
            flow: flow.0,
            qos: Some(qos.into()),
            name: name.to_owned(),
        });
        self.reply(caller, up, &[rx.fd(), tx.fd()]);
    }

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
                    self.conns.notify_down(self.poll.registry(), conn, flow.0);
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
        for (rx, tx) in self.ends.values() {
            rx.close();
            tx.close();
        }
        let ids: Vec<ConnId> = self.conns.ids().collect();
        for id in ids {
            if let Some(conn) = self.conns.remove(self.poll.registry(), id) {
                let _ = conn.sock.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}
