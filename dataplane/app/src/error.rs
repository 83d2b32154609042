//! What the library's calls return on failure, with the C library's
//! negative error code for each (PROTOCOL.md §16).

use std::io;

/// The errno values the C library's calls return (negated).
pub mod errno {
    pub const EPERM: i32 = libc::EPERM;
    pub const ENOENT: i32 = libc::ENOENT;
    pub const EIO: i32 = libc::EIO;
    pub const EAGAIN: i32 = libc::EAGAIN;
    pub const ENOMEM: i32 = libc::ENOMEM;
    pub const EEXIST: i32 = libc::EEXIST;
    pub const EINVAL: i32 = libc::EINVAL;
    pub const EACCES: i32 = libc::EACCES;
    pub const EMFILE: i32 = libc::EMFILE;
    pub const EBUSY: i32 = libc::EBUSY;
    pub const EMSGSIZE: i32 = libc::EMSGSIZE;
    pub const ENOTSUP: i32 = libc::ENOTSUP;
    pub const ECONNREFUSED: i32 = libc::ECONNREFUSED;
    pub const EHOSTUNREACH: i32 = libc::EHOSTUNREACH;
    pub const ETIMEDOUT: i32 = libc::ETIMEDOUT;
    /// The C library's own codes (PROTOCOL.md §1.4).
    pub const ENOTALLOC: i32 = 1000;
    pub const EFLOWDOWN: i32 = 1005;
    pub const EFLOWPEER: i32 = 1006;
}

/// A failed library call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// irmd's socket is not there: no irmd runs for this runtime directory.
    #[error("cannot reach irmd at {path}: {source} (is irmd running, and is O7S_RUNDIR the same for both?)")]
    NoIrmd {
        /// The socket path tried.
        path: std::path::PathBuf,
        /// Why.
        source: io::Error,
    },
    /// irmd went away while this process used it.
    #[error("irmd closed the connection")]
    IrmdGone,
    /// irmd refused the request (its message says why).
    #[error("{message}")]
    Refused {
        /// The negative errno irmd gave.
        code: i32,
        /// irmd's explanation.
        message: String,
    },
    /// No layer knows the destination name.
    #[error("no layer can reach {0:?}")]
    Unreachable(String),
    /// The timeout passed (C: -ETIMEDOUT).
    #[error("timed out")]
    TimedOut,
    /// Non-blocking and nothing to read, or no room to write (C: -EAGAIN).
    #[error("would block")]
    WouldBlock,
    /// The flow is still being allocated (asynchronous `flow_alloc`).
    #[error("flow {0} is not allocated yet")]
    Pending(u32),
    /// The flow (its [`Flow::fd`](crate::Flow::fd)) is down: the peer or
    /// the layer released it (C: -EFLOWDOWN).
    #[error("flow {0} is down")]
    FlowDown(u32),
    /// An SDU larger than the buffer with partial reads off, or a write
    /// larger than a packet buffer (C: -EMSGSIZE).
    #[error("message of {len} octets does not fit {room}")]
    MessageSize {
        /// The SDU's length.
        len: usize,
        /// Room there was.
        room: usize,
    },
    /// A write on a read-only flow or a read on a write-only one (C: -EPERM).
    #[error("flow {0} is not open for this direction")]
    AccessMode(u32),
    /// irmd sent something this library cannot use.
    #[error("irmd protocol error: {0}")]
    Protocol(String),
    /// Shared memory could not be mapped.
    #[error(transparent)]
    Mem(#[from] o7s_mem::MemError),
    /// A socket error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// The C library's (negative) return code for this error.
    pub fn code(&self) -> i32 {
        -match self {
            Error::NoIrmd { .. } | Error::IrmdGone => errno::EIO,
            Error::Refused { code, .. } => return *code,
            Error::Unreachable(_) => errno::EHOSTUNREACH,
            Error::TimedOut => errno::ETIMEDOUT,
            Error::WouldBlock => errno::EAGAIN,
            Error::Pending(_) => errno::ENOTALLOC,
            Error::FlowDown(_) => errno::EFLOWDOWN,
            Error::MessageSize { .. } => errno::EMSGSIZE,
            Error::AccessMode(_) => errno::EPERM,
            Error::Protocol(_) | Error::Io(_) => errno::EIO,
            Error::Mem(_) => errno::ENOMEM,
        }
    }

    pub(crate) fn from_reply(e: o7s_seam::rpc::Error, name: &str) -> Error {
        match -e.code {
            errno::EHOSTUNREACH => Error::Unreachable(name.to_owned()),
            errno::ETIMEDOUT => Error::TimedOut,
            _ => Error::Refused {
                code: e.code,
                message: e.message,
            },
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
