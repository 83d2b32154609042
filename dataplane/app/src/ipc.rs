//! The process's link to irmd: one SOCK_SEQPACKET connection, announced
//! with the program's path, and a control thread that reads irmd's replies
//! and notices so that calls from several threads and asynchronous
//! allocations share it.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use o7s_mem::{Pool, Ring};
use o7s_wire::qos::QosSpec;

use crate::error::{Error, Result, errno};
use crate::event::{Event, FQueue, FlowSet};
use crate::flow::{Flow, FlowShared, bits, state};
use crate::{rundir, sys};
use o7s_seam::rpc::{self, Received, reply, request};

/// Calls in flight and what the control thread has for them.
#[derive(Debug, Default)]
struct Calls {
    /// Replies to blocking calls, by request id.
    replies: HashMap<u64, (reply::Body, Vec<OwnedFd>)>,
    /// Request ids a thread is waiting on.
    waiting: HashSet<u64>,
    /// Asynchronous allocations, by request id.
    async_allocs: HashMap<u64, Weak<FlowShared>>,
    /// Flows that are up, by irmd's id (for notices).
    flows: HashMap<u32, Weak<FlowShared>>,
    /// irmd closed the connection.
    gone: bool,
}

#[derive(Debug)]
pub(crate) struct Inner {
    sock: UnixStream,
    pub(crate) pool: Pool,
    pid: u32,
    next_id: AtomicU64,
    next_fd: AtomicU32,
    calls: Mutex<Calls>,
    cond: Condvar,
    /// Bumped (and futex-woken) whenever something `fevent` may report
    /// happens outside the rings.
    bell: AtomicU32,
    reader: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn millis(t: Duration) -> u64 {
    u64::try_from(t.as_millis()).unwrap_or(u64::MAX)
}

/// A process's connection to irmd: the entry point of every call
/// (C: the library's implicit init in `dev.c`). Cheap to clone; flows keep
/// it alive.
#[derive(Debug, Clone)]
pub struct Ipc {
    inner: Arc<Inner>,
}

impl Ipc {
    /// Connects to the irmd of the runtime directory (`O7S_RUNDIR`, see
    /// [`rundir`]) and announces this process with its program's path, so
    /// that `irm bind program` bindings apply to it.
    pub fn connect() -> Result<Ipc> {
        Ipc::connect_to(&rundir::dir())
    }

    /// As [`connect`](Self::connect), to the irmd of runtime directory
    /// `dir`.
    pub fn connect_to(dir: &Path) -> Result<Ipc> {
        let path = rundir::socket(dir);
        let sock = sys::seqpacket_connect(&path).map_err(|source| Error::NoIrmd {
            path: path.clone(),
            source,
        })?;
        let program = std::env::current_exe()
            .ok()
            .and_then(|p| p.canonicalize().ok())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hello = rpc::Request {
            id: 1,
            body: Some(request::Body::Hello(rpc::Hello { program })),
        };
        let mut buf = vec![0u8; rpc::MAX_MSG];
        if let Err(e) = rpc::send(&sock, &hello, &[]) {
            return Err(rpc::refusal(&sock, &mut buf).map_or(e.into(), |r| Error::from_reply(r, "")));
        }
        let (pid, pool) = match rpc::recv::<rpc::Reply>(&sock, &mut buf)? {
            Received::Message(
                rpc::Reply {
                    id: 1,
                    body: Some(reply::Body::Welcome(w)),
                },
                mut fds,
            ) if fds.len() == 1 => (w.pid, Pool::attach(fds.remove(0))?),
            Received::Message(
                rpc::Reply {
                    body: Some(reply::Body::Error(e)),
                    ..
                },
                _,
            ) => return Err(Error::from_reply(e, "")),
            Received::Closed => return Err(Error::IrmdGone),
            other => return Err(Error::Protocol(format!("unexpected answer to hello: {other:?}"))),
        };
        let reader_sock = sock.try_clone()?;
        let inner = Arc::new(Inner {
            sock,
            pool,
            pid,
            next_id: AtomicU64::new(2),
            next_fd: AtomicU32::new(64),
            calls: Mutex::default(),
            cond: Condvar::new(),
            bell: AtomicU32::new(0),
            reader: Mutex::new(None),
        });
        let weak = Arc::downgrade(&inner);
        let handle = std::thread::Builder::new()
            .name("o7s-irmd-link".into())
            .spawn(move || control_thread(reader_sock, weak, buf))?;
        *lock(&inner.reader) = Some(handle);
        Ok(Ipc { inner })
    }

    /// This process's pid as irmd knows it.
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// The shared packet pool (for statistics).
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Allocates a flow to `name` (C `flow_alloc`). `timeout`: `None` is
    /// irmd's default (20 s); `Some(Duration::ZERO)` returns at once with a
    /// pending flow whose outcome arrives as [`Event::Alloc`] or
    /// [`Event::AllocFailed`] on a [`FlowSet`] that holds it.
    ///
    /// # Errors
    /// [`Error::Unreachable`] when no layer knows the name,
    /// [`Error::TimedOut`], [`Error::Refused`] with irmd's reason.
    pub fn flow_alloc(&self, name: &str, qos: QosSpec, timeout: Option<Duration>) -> Result<Flow> {
        let body = |timeout: Option<Duration>| {
            request::Body::FlowAlloc(rpc::FlowAlloc {
                name: name.to_owned(),
                qos: Some(qos.into()),
                timeout_ms: timeout.map(millis),
            })
        };
        let shared = Arc::new(FlowShared::new(Arc::clone(&self.inner), self.inner.new_fd(), name));
        if timeout == Some(Duration::ZERO) {
            let id = self.inner.new_id();
            lock(&self.inner.calls).async_allocs.insert(id, Arc::downgrade(&shared));
            let req = rpc::Request {
                id,
                body: Some(body(None)),
            };
            if let Err(e) = rpc::send(&self.inner.sock, &req, &[]) {
                lock(&self.inner.calls).async_allocs.remove(&id);
                return Err(e.into());
            }
            return Ok(Flow { shared });
        }
        let (reply, fds) = self.inner.call(body(timeout))?;
        self.inner.bring_up(&shared, reply, fds)?;
        Ok(Flow { shared })
    }

    /// Waits for the next flow to any name this process is bound to (C
    /// `flow_accept`); `None` waits for ever. The requester's QoS is the
    /// flow's [`qos`](Flow::qos).
    ///
    /// A process bound to no name waits until it is bound and a flow
    /// arrives, as in C.
    ///
    /// # Errors
    /// [`Error::TimedOut`], or irmd's refusal.
    pub fn flow_accept(&self, timeout: Option<Duration>) -> Result<Flow> {
        let (reply, fds) = self.inner.call(request::Body::FlowAccept(rpc::FlowAccept {
            timeout_ms: timeout.map(millis),
        }))?;
        let name = match &reply {
            reply::Body::FlowUp(up) => up.name.clone(),
            _ => String::new(),
        };
        let shared = Arc::new(FlowShared::new(Arc::clone(&self.inner), self.inner.new_fd(), &name));
        self.inner.bring_up(&shared, reply, fds)?;
        Ok(Flow { shared })
    }

    /// Joins the broadcast layer `layer` (C `flow_join`).
    ///
    /// # Errors
    /// irmd's refusal: no broadcast IPCP serves the layer here.
    pub fn flow_join(&self, layer: &str, timeout: Option<Duration>) -> Result<Flow> {
        let (reply, fds) = self.inner.call(request::Body::FlowJoin(rpc::FlowJoin {
            layer: layer.to_owned(),
            timeout_ms: timeout.map(millis),
        }))?;
        let shared = Arc::new(FlowShared::new(Arc::clone(&self.inner), self.inner.new_fd(), layer));
        self.inner.bring_up(&shared, reply, fds)?;
        Ok(Flow { shared })
    }

    /// Waits until something happens on a flow of `set` and puts what
    /// happened in `queue`, replacing its contents (C `fevent`); returns
    /// how many events. `None` waits for ever.
    ///
    /// # Errors
    /// [`Error::TimedOut`].
    pub fn fevent(&self, set: &FlowSet, queue: &mut FQueue, timeout: Option<Duration>) -> Result<usize> {
        let deadline = timeout.map(|t| Instant::now() + t);
        queue.reset();
        loop {
            let bell = self.inner.bell.load(Ordering::Acquire);
            for f in &set.flows {
                collect(f, &mut queue.events);
            }
            if !queue.events.is_empty() {
                return Ok(queue.events.len());
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(Error::TimedOut),
                },
                None => None,
            };
            // Flows already reported down would wake us at once.
            let bells = set
                .flows
                .iter()
                .filter(|f| !f.down_reported.load(Ordering::Relaxed))
                .filter_map(|f| f.doorbell());
            o7s_mem::wait_any(bells, &[(&self.inner.bell, bell)], left)?;
        }
    }
}

impl Ipc {
    /// Wakes every thread of this process sleeping in
    /// [`fevent`](Self::fevent), which then re-reads its set: for a thread
    /// that added a flow to a set another thread waits on, or wants it to
    /// look at something else.
    pub fn wake(&self) {
        self.inner.ring_bell();
    }
}

/// Appends the events `f` has to report.
fn collect(f: &FlowShared, out: &mut Vec<(u32, Event)>) {
    let pending = f.events.swap(0, Ordering::AcqRel);
    for (bit, event) in [
        (bits::ALLOC, Event::Alloc),
        (bits::ALLOC_FAILED, Event::AllocFailed),
        (bits::MARKED_DOWN, Event::Down),
        (bits::MARKED_UP, Event::Up),
    ] {
        if pending & bit != 0 {
            out.push((f.fd, event));
        }
    }
    if f.doorbell().is_some_and(o7s_mem::Doorbell::pending) {
        out.push((f.fd, Event::Pkt));
    }
    if f.is_down() && !f.down_reported.swap(true, Ordering::AcqRel) {
        out.push((f.fd, Event::Down));
    }
}

impl Inner {
    fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn new_fd(&self) -> u32 {
        self.next_fd.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn ring_bell(&self) {
        self.bell.fetch_add(1, Ordering::Release);
        o7s_mem::sys::futex_wake(&self.bell);
    }

    /// Sends a request and waits for its reply. An error reply becomes
    /// `Err`.
    fn call(&self, body: request::Body) -> Result<(reply::Body, Vec<OwnedFd>)> {
        let id = self.new_id();
        let name = match &body {
            request::Body::FlowAlloc(a) => a.name.clone(),
            _ => String::new(),
        };
        let mut calls = lock(&self.calls);
        if calls.gone {
            return Err(Error::IrmdGone);
        }
        calls.waiting.insert(id);
        drop(calls);
        if let Err(e) = rpc::send(&self.sock, &rpc::Request { id, body: Some(body) }, &[]) {
            lock(&self.calls).waiting.remove(&id);
            return Err(e.into());
        }
        let mut calls = lock(&self.calls);
        loop {
            if let Some((reply, fds)) = calls.replies.remove(&id) {
                calls.waiting.remove(&id);
                return match reply {
                    reply::Body::Error(e) => Err(Error::from_reply(e, &name)),
                    other => Ok((other, fds)),
                };
            }
            if calls.gone {
                calls.waiting.remove(&id);
                return Err(Error::IrmdGone);
            }
            calls = self.cond.wait(calls).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Maps the rings a FlowUp reply carries into `shared`.
    fn bring_up(&self, shared: &Arc<FlowShared>, reply: reply::Body, mut fds: Vec<OwnedFd>) -> Result<()> {
        let reply::Body::FlowUp(up) = reply else {
            return Err(Error::Protocol(format!("expected a flow, got {reply:?}")));
        };
        // The receive ring, the send ring, and, when the send ring's
        // consumer is a dataplane worker, the eventfd that wakes it.
        if !(2..=3).contains(&fds.len()) {
            return Err(Error::Protocol(format!(
                "a flow needs 2 rings (and a wake-up fd), irmd sent {} fds",
                fds.len()
            )));
        }
        let qos = up.qos.and_then(|q| q.to_spec()).unwrap_or_default();
        let kick = (fds.len() == 3).then(|| fds.remove(2));
        let tx = Ring::attach(fds.remove(1))?;
        let rx = Ring::attach(fds.remove(0))?;
        shared.attach(up.flow, qos, rx, tx, kick)?;
        lock(&self.calls).flows.insert(up.flow, Arc::downgrade(shared));
        Ok(())
    }

    /// Deallocates `shared` in irmd (once) and frees what it holds.
    pub(crate) fn flow_dealloc(&self, shared: &FlowShared) -> Result<()> {
        let was = shared.state.swap(state::RELEASED, Ordering::AcqRel);
        let id = shared.id.load(Ordering::Acquire);
        shared.release();
        if was == state::RELEASED || id == 0 {
            return Ok(());
        }
        lock(&self.calls).flows.remove(&id);
        self.call(request::Body::FlowDealloc(rpc::FlowDealloc { flow: id }))
            .map(drop)
    }

    /// Handles one message from irmd (control thread).
    fn dispatch(&self, reply: rpc::Reply, fds: Vec<OwnedFd>) {
        let Some(body) = reply.body else {
            tracing::warn!(id = reply.id, "irmd sent an empty reply; ignored");
            return;
        };
        if reply.id == 0 {
            if let reply::Body::FlowDown(down) = body {
                let flow = lock(&self.calls).flows.get(&down.flow).and_then(Weak::upgrade);
                if let Some(f) = flow {
                    f.down.store(true, Ordering::Release);
                    f.close_rings();
                    self.ring_bell();
                }
            } else {
                tracing::warn!(?body, "irmd sent an unknown notice; ignored");
            }
            return;
        }
        let mut calls = lock(&self.calls);
        if let Some(weak) = calls.async_allocs.remove(&reply.id) {
            drop(calls);
            self.finish_async(weak, body, fds);
            return;
        }
        if calls.waiting.contains(&reply.id) {
            calls.replies.insert(reply.id, (body, fds));
            self.cond.notify_all();
        } else {
            tracing::warn!(id = reply.id, "irmd answered a request no one waits for; ignored");
        }
    }

    fn finish_async(&self, weak: Weak<FlowShared>, body: reply::Body, fds: Vec<OwnedFd>) {
        let up = match &body {
            reply::Body::FlowUp(up) => Some(up.flow),
            _ => None,
        };
        match weak.upgrade() {
            Some(shared) => {
                let bit = match body {
                    reply::Body::Error(e) => {
                        shared.fail(e.code, e.message);
                        bits::ALLOC_FAILED
                    }
                    other => match self.bring_up(&shared, other, fds) {
                        Ok(()) => bits::ALLOC,
                        Err(e) => {
                            shared.fail(e.code(), e.to_string());
                            bits::ALLOC_FAILED
                        }
                    },
                };
                shared.events.fetch_or(bit, Ordering::Release);
                self.ring_bell();
            }
            // The flow was dropped before it came up: give it back.
            None => {
                if let Some(flow) = up {
                    let req = rpc::Request {
                        id: self.new_id(),
                        body: Some(request::Body::FlowDealloc(rpc::FlowDealloc { flow })),
                    };
                    let _ = rpc::send(&self.sock, &req, &[]);
                }
            }
        }
    }

    /// irmd is gone: fail every call, close every flow.
    fn irmd_gone(&self) {
        let mut calls = lock(&self.calls);
        calls.gone = true;
        let flows: Vec<_> = calls.flows.values().filter_map(Weak::upgrade).collect();
        let pending: Vec<_> = calls.async_allocs.drain().filter_map(|(_, w)| w.upgrade()).collect();
        drop(calls);
        self.cond.notify_all();
        for f in flows {
            f.down.store(true, Ordering::Release);
            f.close_rings();
        }
        for f in pending {
            f.fail(-errno::EIO, "irmd closed the connection".into());
            f.events.fetch_or(bits::ALLOC_FAILED, Ordering::Release);
        }
        self.ring_bell();
    }
}

fn control_thread(sock: UnixStream, inner: Weak<Inner>, mut buf: Vec<u8>) {
    loop {
        let got = rpc::recv::<rpc::Reply>(&sock, &mut buf);
        let Some(inner) = inner.upgrade() else { return };
        match got {
            Ok(Received::Message(reply, fds)) => inner.dispatch(reply, fds),
            Ok(Received::Malformed(e)) => tracing::warn!(error = %e, "malformed message from irmd; ignored"),
            Ok(Received::Closed) | Err(_) => {
                inner.irmd_gone();
                return;
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Wakes the control thread (its recv returns 0); it finds no Inner
        // and ends. Not joined when the last reference goes in that thread.
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        if let Some(handle) = lock(&self.reader).take()
            && handle.thread().id() != std::thread::current().id()
        {
            let _ = handle.join();
        }
        let _ = self.sock.as_fd();
    }
}
