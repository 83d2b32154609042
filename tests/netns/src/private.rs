//! Namespaces that belong to one thread: made with `unshare(CLONE_NEWNET)`
//! on a new thread, nameless, and gone when the thread ends and the last
//! socket made in them closes.
//!
//! ```text
//!   in_private_netns(|| { ... })           (a new thread, a namespace of its own)
//!  +--------------------------------------------------------------+
//!  |  LocalVeth::new("xa", "xb")      sockets, XDP programs        |
//!  |        [ xa ] <======= veth =======> [ xb ]                  |
//!  +--------------------------------------------------------------+
//! ```
//!
//! Unlike a named [`crate::Netns`], nothing here outlives a killed test
//! process; but only the one thread (and the commands it starts) can reach
//! the namespace.

use std::io;
use std::marker::PhantomData;

use crate::ip;

/// Runs `f` on a new thread in a network namespace of its own, which holds
/// only a loopback interface (down). The interfaces, sockets and XDP
/// programs `f` makes there, and what the commands it starts change, no
/// other thread sees. A panic in `f` is resumed on the calling thread; the
/// error is for a namespace that could not be made.
pub fn in_private_netns<T: Send>(f: impl FnOnce() -> T + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: unshare takes no pointers; CLONE_NEWNET moves only this
            // new thread, which ends with `f`, into a fresh namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(e.kind(), format!("unshare(CLONE_NEWNET): {e}")));
            }
            Ok(f())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A veth pair `a <-> b` in the calling thread's network namespace (as in
/// [`in_private_netns`]), both ends up, deleted when dropped (also when a
/// test panics) rather than whenever the namespace goes. It is not `Send`:
/// dropped on another thread it would delete an interface of that thread's
/// namespace.
#[derive(Debug)]
pub struct LocalVeth {
    a: String,
    b: String,
    _this_thread: PhantomData<*const ()>,
}

impl LocalVeth {
    pub fn new(a: &str, b: &str) -> io::Result<LocalVeth> {
        ip(&["link", "add", a, "type", "veth", "peer", "name", b])?;
        let veth = LocalVeth {
            a: a.to_owned(),
            b: b.to_owned(),
            _this_thread: PhantomData,
        };
        ip(&["link", "set", a, "up"])?;
        ip(&["link", "set", b, "up"])?;
        Ok(veth)
    }

    pub fn a(&self) -> &str {
        &self.a
    }

    pub fn b(&self) -> &str {
        &self.b
    }
}

impl Drop for LocalVeth {
    fn drop(&mut self) {
        // Deleting one end deletes the pair.
        if let Err(e) = ip(&["link", "del", &self.a]) {
            eprintln!("warning: could not remove veth {}: {e}", self.a);
        }
    }
}
