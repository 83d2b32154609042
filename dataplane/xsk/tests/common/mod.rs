//! Test bench for AF_XDP sockets: a private network namespace per test, a
//! veth pair in it, AF_PACKET sockets to send and capture frames, and a
//! minimal XDP program that steers o7s frames to an XSKMAP.
//!
//! ```text
//!  test thread, in a network namespace of its own (o7s_netns::in_private_netns)
//!  +--------------------------------------------------------------+
//!  |  XskSocket / PacketSocket           XskSocket / PacketSocket |
//!  |          |                                   |               |
//!  |        [ xa ] <========= veth =========> [ xb ] + XDP        |
//!  +--------------------------------------------------------------+
//! ```
//!
//! The namespace dies with the thread, so nothing leaks into the host even
//! if the test process is killed; the veth guard (`o7s_netns::LocalVeth`)
//! deletes the pair at once on drop (also when a test panics).
//!
//! The XDP program is hand-assembled BPF (no clang needed): frames of
//! Ethertype 0xA000 go to `xskmap[rx_queue_index]`, everything else to the
//! stack. It stands in for the o7s-ebpf steering program until that exists.
#![allow(unsafe_code)]
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use o7s_netns::Capability;

/// The Ethertype of o7s frames on Ethernet (eth-dix).
pub const ETH_O7S: u16 = 0xA000;

fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// What the tests need: namespaces and BPF (CAP_SYS_ADMIN covers BPF on
/// kernels without CAP_BPF), raw and AF_XDP sockets, and locked UMEM.
const NEEDS: [Capability; 4] = [
    Capability::NetAdmin,
    Capability::NetRaw,
    Capability::IpcLock,
    Capability::SysAdmin,
];

/// Runs `test` in a thread with a network namespace of its own. Skips
/// (prints why and returns) without the privileges or namespaces it
/// needs, or fails when privileged tests are required.
pub fn in_netns(test: impl FnOnce() + Send) {
    // libtest names each test's thread after the test.
    let name = std::thread::current().name().unwrap_or("test").to_owned();
    if !o7s_netns::require_capabilities(&name, &NEEDS) {
        return;
    }
    if let Err(e) = o7s_netns::in_private_netns(test) {
        o7s_netns::skip_or_fail(&name, &format!("cannot create a network namespace: {e}"));
    }
}

/// An o7s test frame: broadcast, Ethertype 0xA000, a sequence number, then
/// octets derived from it; `len` octets in all (at least 18).
pub fn frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&[0xFF; 6]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(&ETH_O7S.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend((0..len - 18).map(|i| (seq as usize * 31 + i) as u8));
    f
}

/// The length of test frame `seq`: 60 to 1514 octets.
pub fn frame_len(seq: u32) -> usize {
    60 + (seq as usize * 97) % (1514 - 60 + 1)
}

/// Sequence number of a test frame.
pub fn seq_of(f: &[u8]) -> u32 {
    u32::from_be_bytes(f[14..18].try_into().unwrap())
}

// --- a minimal XDP steering program, by raw bpf(2) ---

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_XDP: u32 = 37;
const XDP_PASS: i32 = 2;

/// Where the program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// In the driver (veth's NAPI).
    Native,
    /// On the skb, after the driver (generic XDP).
    Generic,
}

/// `union bpf_attr`, as bytes.
struct Attr([u8; 144]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 144])
    }
    fn u32(mut self, at: usize, v: u32) -> Attr {
        self.0[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(mut self, at: usize, v: u64) -> Attr {
        self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn call(&self, cmd: libc::c_long) -> io::Result<libc::c_long> {
        // SAFETY: the attr buffer is valid for its size; pointers stored in
        // it (by the callers) point to live buffers for the call.
        cvt(unsafe { libc::syscall(libc::SYS_bpf, cmd, self.0.as_ptr(), self.0.len()) })
    }
    fn call_fd(&self, cmd: libc::c_long) -> io::Result<OwnedFd> {
        let fd = self.call(cmd)?;
        // SAFETY: commands that return an fd give us a fresh one.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

/// One BPF instruction (little-endian register nibbles).
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut i = [0u8; 8];
    i[0] = code;
    i[1] = dst | src << 4;
    i[2..4].copy_from_slice(&off.to_le_bytes());
    i[4..8].copy_from_slice(&imm.to_le_bytes());
    i
}

/// An XSKMAP and the steering program attached to an interface (a BPF
/// link: detached when dropped).
pub struct XdpRedirect {
    map: OwnedFd,
    _prog: OwnedFd,
    _link: OwnedFd,
}

impl XdpRedirect {
    pub fn attach(ifname: &str, mode: XdpMode) -> XdpRedirect {
        let map = Attr::new()
            .u32(0, BPF_MAP_TYPE_XSKMAP)
            .u32(4, 4)
            .u32(8, 4)
            .u32(12, 64)
            .call_fd(BPF_MAP_CREATE)
            .expect("BPF_MAP_CREATE xskmap");
        let map_fd = map.as_raw_fd();
        #[rustfmt::skip]
        let prog: Vec<[u8; 8]> = vec![
            insn(0x61, 2, 1, 0, 0),       // r2 = ctx->data
            insn(0x61, 3, 1, 4, 0),       // r3 = ctx->data_end
            insn(0xbf, 4, 2, 0, 0),       // r4 = r2
            insn(0x07, 4, 0, 0, 14),      // r4 += 14
            insn(0x2d, 4, 3, 8, 0),       // if r4 > r3 goto pass
            insn(0x69, 5, 2, 12, 0),      // r5 = *(u16 *)(r2 + 12), the Ethertype
            insn(0x55, 5, 0, 6, 0x00A0),  // if r5 != htons(0xA000) goto pass
            insn(0x61, 2, 1, 16, 0),      // r2 = ctx->rx_queue_index
            insn(0x18, 1, 1, 0, map_fd),  // r1 = xskmap (ld_imm64, pseudo map fd)
            insn(0x00, 0, 0, 0, 0),
            insn(0xb7, 3, 0, 0, XDP_PASS),// r3 = XDP_PASS if the slot is empty
            insn(0x85, 0, 0, 0, 51),      // call bpf_redirect_map
            insn(0x95, 0, 0, 0, 0),       // exit
            insn(0xb7, 0, 0, 0, XDP_PASS),// pass: r0 = XDP_PASS
            insn(0x95, 0, 0, 0, 0),       // exit
        ];
        let license = b"GPL\0";
        let mut log = vec![0u8; 64 << 10];
        let prog_fd = Attr::new()
            .u32(0, BPF_PROG_TYPE_XDP)
            .u32(4, prog.len() as u32)
            .u64(8, prog.as_ptr() as u64)
            .u64(16, license.as_ptr() as u64)
            .u32(24, 1)
            .u32(28, log.len() as u32)
            .u64(32, log.as_mut_ptr() as u64)
            .u32(68, BPF_XDP)
            .call_fd(BPF_PROG_LOAD)
            .unwrap_or_else(|e| {
                let end = log.iter().position(|&b| b == 0).unwrap_or(0);
                panic!("BPF_PROG_LOAD: {e}\n{}", String::from_utf8_lossy(&log[..end]))
            });
        let flags = match mode {
            XdpMode::Native => 1 << 2,  // XDP_FLAGS_DRV_MODE
            XdpMode::Generic => 1 << 1, // XDP_FLAGS_SKB_MODE
        };
        let link = Attr::new()
            .u32(0, prog_fd.as_raw_fd() as u32)
            .u32(4, o7s_netns::ifindex(ifname).unwrap())
            .u32(8, BPF_XDP)
            .u32(12, flags)
            .call_fd(BPF_LINK_CREATE)
            .expect("BPF_LINK_CREATE xdp");
        XdpRedirect {
            map,
            _prog: prog_fd,
            _link: link,
        }
    }

    /// Steers frames of RX queue `queue` to the socket `xsk`.
    pub fn register(&self, queue: u32, xsk: BorrowedFd<'_>) {
        let value = xsk.as_raw_fd() as u32;
        Attr::new()
            .u32(0, self.map.as_raw_fd() as u32)
            .u64(8, &raw const queue as u64)
            .u64(16, &raw const value as u64)
            .call(BPF_MAP_UPDATE_ELEM)
            .expect("BPF_MAP_UPDATE_ELEM xskmap");
    }
}
