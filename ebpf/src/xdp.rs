//! Loading an embedded object and attaching one of its XDP programs to an
//! interface, native first, generic as the fallback:
//!
//! ```text
//!   AttachMode::Native  --> driver mode, or an error
//!   AttachMode::Generic --> skb mode, or an error
//!   AttachMode::Auto    --> driver mode --(refused)--> skb mode, or an error
//!                           (not when the interface is busy with another
//!                           program: that error is returned as it is)
//! ```
//!
//! The attachment is a BPF link (`bpf_link_create`), owned by
//! [`XdpAttachment`]: dropping it detaches the program, and so does the
//! kernel when the process dies, since the link lives only as long as its fd.

use std::fmt;

use aya::{
    Ebpf, EbpfLoader,
    programs::{Xdp, XdpMode, xdp::XdpLinkId},
};
use tracing::{debug, info, warn};

use crate::{EbpfError, Result, sys};

/// How to attach an XDP program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AttachMode {
    /// Native (driver) mode if the driver supports it, else generic.
    #[default]
    Auto,
    /// Native mode only: the program runs in the driver before any skb
    /// exists, and AF_XDP can use zero-copy. Fails on drivers without XDP.
    Native,
    /// Generic mode only: the program runs after the skb is built. Works on
    /// every interface, AF_XDP then copies.
    Generic,
}

/// The mode a program actually got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActiveMode {
    /// Driver mode (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// Generic mode (`XDP_FLAGS_SKB_MODE`).
    Generic,
}

impl ActiveMode {
    fn flags(self) -> XdpMode {
        match self {
            Self::Native => XdpMode::Driver,
            Self::Generic => XdpMode::Skb,
        }
    }
}

impl fmt::Display for ActiveMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Native => "native",
            Self::Generic => "generic",
        })
    }
}

/// Parses an embedded object and creates its maps (programs are loaded
/// into the kernel later, one by one, by [`XdpAttachment::attach`]).
pub(crate) fn load_object(object: &'static str, bytes: &[u8]) -> Result<Ebpf> {
    EbpfLoader::new().load(bytes).map_err(|source| EbpfError::Object {
        object,
        source: Box::new(source),
    })
}

/// Resolves `ifname` in the calling thread's network namespace.
pub(crate) fn ifindex(ifname: &str) -> Result<u32> {
    sys::if_nametoindex(ifname).map_err(|source| EbpfError::UnknownInterface {
        ifname: ifname.to_owned(),
        source,
    })
}

/// One XDP program of an object, loaded and attached to one interface;
/// detached on drop.
#[derive(Debug)]
pub(crate) struct XdpAttachment {
    bpf: Ebpf,
    object: &'static str,
    program: &'static str,
    ifname: String,
    ifindex: u32,
    mode: ActiveMode,
    link: Option<XdpLinkId>,
}

impl XdpAttachment {
    /// Loads `program` from `bpf` into the kernel and attaches it to
    /// `ifname` (whose index the caller resolved with [`ifindex`] before
    /// creating maps) in `mode`. The object's maps should be filled first,
    /// so that the first frame already sees the configuration.
    pub(crate) fn attach(
        mut bpf: Ebpf,
        object: &'static str,
        program: &'static str,
        (ifname, ifindex): (&str, u32),
        mode: AttachMode,
    ) -> Result<Self> {
        let xdp = xdp_program(&mut bpf, object, program)?;
        xdp.load().map_err(|e| EbpfError::load(program, e))?;

        let attempt = |xdp: &mut Xdp, mode: ActiveMode| {
            xdp.attach_to_if_index(ifindex, mode.flags())
                .map_err(|e| EbpfError::attach(program, ifname, mode, e))
        };
        let (link, mode) = match mode {
            AttachMode::Native => (attempt(xdp, ActiveMode::Native)?, ActiveMode::Native),
            AttachMode::Generic => (attempt(xdp, ActiveMode::Generic)?, ActiveMode::Generic),
            AttachMode::Auto => match attempt(xdp, ActiveMode::Native) {
                Ok(link) => (link, ActiveMode::Native),
                // Another program holds the interface: generic mode would be
                // refused too, and the native error is the one that explains.
                Err(native) if matches!(native.errno(), Some(libc::EBUSY | libc::EEXIST)) => return Err(native),
                Err(native) => {
                    warn!(%program, %ifname, error = %native, "native XDP refused, falling back to generic mode");
                    (attempt(xdp, ActiveMode::Generic)?, ActiveMode::Generic)
                }
            },
        };
        info!(%program, %ifname, ifindex, %mode, "XDP program attached");
        Ok(Self {
            bpf,
            object,
            program,
            ifname: ifname.to_owned(),
            ifindex,
            mode,
            link: Some(link),
        })
    }

    pub(crate) fn mode(&self) -> ActiveMode {
        self.mode
    }

    pub(crate) fn ifname(&self) -> &str {
        &self.ifname
    }

    pub(crate) fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The kernel's id of the attached program (what `ip link` shows as
    /// `prog/xdp id N`).
    pub(crate) fn program_id(&self) -> Result<u32> {
        let program = self.program;
        let xdp: &Xdp = self
            .bpf
            .program(program)
            .and_then(|p| p.try_into().ok())
            .ok_or(EbpfError::Missing {
                object: self.object,
                kind: "program",
                name: program,
            })?;
        xdp.info()
            .map(|info| info.id())
            .map_err(|e| EbpfError::load(program, e))
    }
}

impl Drop for XdpAttachment {
    fn drop(&mut self) {
        let Some(link) = self.link.take() else { return };
        // Detaching explicitly (rather than leaving it to aya's drop) is only
        // for the log line; either way the link fd closes and the kernel
        // removes the program from the interface.
        match xdp_program(&mut self.bpf, self.object, self.program).map(|xdp| xdp.detach(link)) {
            Ok(Ok(())) => debug!(program = self.program, ifname = %self.ifname, "XDP program detached"),
            Ok(Err(error)) => warn!(program = self.program, ifname = %self.ifname, %error, "detaching XDP program"),
            Err(error) => warn!(program = self.program, ifname = %self.ifname, %error, "detaching XDP program"),
        }
    }
}

fn xdp_program<'a>(bpf: &'a mut Ebpf, object: &'static str, program: &'static str) -> Result<&'a mut Xdp> {
    bpf.program_mut(program)
        .and_then(|p| p.try_into().ok())
        .ok_or(EbpfError::Missing {
            object,
            kind: "program",
            name: program,
        })
}
