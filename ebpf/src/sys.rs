//! The one libc call the loader makes itself: resolving an interface name.
//! Everything else (bpf(2), netlink) goes through aya.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;

/// `if_nametoindex(3)` in the calling thread's network namespace.
pub(crate) fn if_nametoindex(ifname: &str) -> io::Result<u32> {
    let cname = CString::new(ifname)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name contains a NUL byte"))?;
    // SAFETY: `cname` is a valid NUL-terminated string that outlives the call;
    // if_nametoindex only reads it.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(index)
    }
}
