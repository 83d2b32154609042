//! Errors of the loader: what was asked (interface, program, map, mode) and
//! what the kernel answered (errno, verifier log), so that a failed attach
//! reads as one complete sentence in irmd's log.

use std::{fmt, io};

use aya::{
    maps::{MapError, xdp::XdpMapError},
    programs::{ProgramError, xdp::XdpError},
};

use crate::xdp::ActiveMode;

/// Shorthand for results of this crate.
pub type Result<T, E = EbpfError> = std::result::Result<T, E>;

/// What went wrong loading, configuring or attaching an XDP program.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EbpfError {
    /// The configured Ethertype cannot be an Ethernet II type.
    #[error(
        "Ethertype {0:#06x} cannot carry o7s: it must be in 0x0600..=0xfffe \
         (below 0x0600 the field is an 802.3 length, 0xffff is reserved)"
    )]
    InvalidEthertype(u16),

    /// The configured UDP port is 0.
    #[error("UDP port 0 cannot carry o7s: the steering program matches a fixed destination port")]
    InvalidUdpPort,

    /// An rx queue beyond the AF_XDP socket map.
    #[error("rx queue {queue} is beyond the AF_XDP socket map, which has slots for queues 0..{slots}")]
    QueueOutOfRange {
        /// The queue asked for.
        queue: u32,
        /// How many queues the map has room for.
        slots: u32,
    },

    /// The interface does not exist in the calling thread's network namespace.
    #[error("network interface {ifname:?} not found in this network namespace ({source})")]
    UnknownInterface {
        /// The name asked for.
        ifname: String,
        /// What `if_nametoindex` reported.
        #[source]
        source: io::Error,
    },

    /// The embedded object could not be parsed or its maps created.
    #[error("loading the BPF object {object}: {source}")]
    Object {
        /// Which object (`steer.bpf.o`, `redirect.bpf.o`).
        object: &'static str,
        /// aya's error.
        #[source]
        source: Box<aya::EbpfError>,
    },

    /// The object lacks a program or map this crate expects (a build mismatch).
    #[error("the BPF object {object} has no {kind} named {name}")]
    Missing {
        /// Which object.
        object: &'static str,
        /// `"program"` or `"map"`.
        kind: &'static str,
        /// The name looked for.
        name: &'static str,
    },

    /// The kernel's verifier refused the program.
    #[error("the kernel refused program {program} ({}); verifier log:\n{verifier_log}", Errno(*.errno))]
    Verifier {
        /// The program.
        program: &'static str,
        /// What `BPF_PROG_LOAD` returned.
        errno: Option<i32>,
        /// The verifier's explanation.
        verifier_log: String,
    },

    /// Loading the program failed for another reason.
    #[error("loading program {program} ({}): {source}", Errno(*.errno))]
    Load {
        /// The program.
        program: &'static str,
        /// The errno, when the failure was a syscall.
        errno: Option<i32>,
        /// aya's error.
        #[source]
        source: Box<ProgramError>,
    },

    /// Attaching the program to the interface failed.
    #[error("attaching {program} to {ifname} in {mode} mode ({}): {source}", Errno(*.errno))]
    Attach {
        /// The program.
        program: &'static str,
        /// The interface.
        ifname: String,
        /// The mode tried last (after a native failure in auto mode: generic).
        mode: ActiveMode,
        /// What the kernel returned (`EOPNOTSUPP`: no native XDP in the
        /// driver; `EBUSY`/`EEXIST`: another program is attached).
        errno: Option<i32>,
        /// aya's error.
        #[source]
        source: Box<ProgramError>,
    },

    /// A map operation failed.
    #[error("{op} on map {map} ({}): {source}", Errno(*.errno))]
    Map {
        /// The map.
        map: &'static str,
        /// What was being done (`"write config"`, `"register XSK for queue 3"`, ...).
        op: String,
        /// What the kernel returned (for the XSK map, `EOPNOTSUPP` means
        /// the fd is not a bound AF_XDP socket).
        errno: Option<i32>,
        /// aya's error.
        #[source]
        source: Box<MapError>,
    },
}

impl EbpfError {
    /// The errno the kernel returned, when the failure came from a syscall.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::UnknownInterface { source, .. } => source.raw_os_error(),
            Self::Verifier { errno, .. }
            | Self::Load { errno, .. }
            | Self::Attach { errno, .. }
            | Self::Map { errno, .. } => *errno,
            _ => None,
        }
    }

    /// Builds the error for a failed program load, lifting the verifier log
    /// out of aya's error when the verifier was the one that said no.
    pub(crate) fn load(program: &'static str, source: ProgramError) -> Self {
        match source {
            ProgramError::LoadError { io_error, verifier_log } => Self::Verifier {
                program,
                errno: io_error.raw_os_error(),
                verifier_log: verifier_log.to_string(),
            },
            source => Self::Load {
                program,
                errno: program_errno(&source),
                source: Box::new(source),
            },
        }
    }

    pub(crate) fn attach(program: &'static str, ifname: &str, mode: ActiveMode, source: ProgramError) -> Self {
        Self::Attach {
            program,
            ifname: ifname.to_owned(),
            mode,
            errno: program_errno(&source),
            source: Box::new(source),
        }
    }

    pub(crate) fn map(map: &'static str, op: impl Into<String>, source: MapError) -> Self {
        Self::Map {
            map,
            op: op.into(),
            errno: map_errno(&source),
            source: Box::new(source),
        }
    }

    pub(crate) fn xdp_map(map: &'static str, op: impl Into<String>, source: XdpMapError) -> Self {
        match source {
            XdpMapError::MapError(source) => Self::map(map, op, source),
            // Only raised when a chained program is passed; this crate passes none.
            other => Self::map(map, op, MapError::IoError(io::Error::other(other.to_string()))),
        }
    }
}

/// The errno inside an aya program error, if it came from the kernel.
pub(crate) fn program_errno(error: &ProgramError) -> Option<i32> {
    match error {
        ProgramError::SyscallError(e) => e.io_error.raw_os_error(),
        ProgramError::LoadError { io_error, .. } => io_error.raw_os_error(),
        ProgramError::XdpError(XdpError::NetlinkError(e)) => e.raw_os_error(),
        ProgramError::MapError(e) => map_errno(e),
        _ => None,
    }
}

pub(crate) fn map_errno(error: &MapError) -> Option<i32> {
    match error {
        MapError::SyscallError(e) => e.io_error.raw_os_error(),
        MapError::IoError(e) => e.raw_os_error(),
        MapError::CreateError { io_error, .. } => io_error.raw_os_error(),
        _ => None,
    }
}

/// Formats an optional errno as the kernel's words and number:
/// "Operation not supported, errno 95" or "no errno".
struct Errno(Option<i32>);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(errno) => {
                let text = io::Error::from_raw_os_error(errno).to_string();
                // io::Error appends " (os error N)"; say it our way.
                let text = text.split(" (os error").next().unwrap_or(&text);
                write!(f, "{text}, errno {errno}")
            }
            None => f.write_str("no errno"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_reads_as_words_and_number() {
        assert_eq!(
            Errno(Some(libc::EOPNOTSUPP)).to_string(),
            "Operation not supported, errno 95"
        );
        assert_eq!(Errno(None).to_string(), "no errno");
    }

    #[test]
    fn invalid_config_errors_name_the_problem() {
        let e = EbpfError::InvalidEthertype(0x0100).to_string();
        assert!(e.contains("0x0100") && e.contains("0x0600"), "{e}");
        let e = EbpfError::InvalidUdpPort.to_string();
        assert!(e.contains("UDP port 0"), "{e}");
    }
}
