//! AF_PACKET with mmap rings: the portable fallback when the XDP program
//! cannot attach (old kernels, drivers without XDP, containers).
//!
//! ```text
//!  one socket, bound to one interface and one Ethertype (default 0xA000),
//!  or to 802.2 LLC (ETH_P_802_2: every 802.3 frame with an LLC header, eth-llc)
//!
//!  mmap:  [ RX ring: frames x frame_size ][ TX ring: frames x frame_size ]
//!
//!  RX frame  +--------------+-------------+-----+------------------------+
//!            | tpacket2_hdr | sockaddr_ll | pad | frame (at tp_mac)      |
//!            +--------------+-------------+-----+------------------------+
//!  TX frame  +--------------+------------------------------------------+
//!            | tpacket2_hdr | frame (at 32)                            |
//!            +--------------+------------------------------------------+
//!
//!  tp_status  RX: KERNEL -> USER (kernel wrote it) -> KERNEL (copied out)
//!             TX: AVAILABLE -> SEND_REQUEST (filled) -> SENDING -> AVAILABLE
//! ```
//!
//! The rings are the kernel's memory, not the pool, so every frame is
//! copied once: ring to pool buffer on receive, pool buffer to ring on
//! send. That copy is the price of the fallback (AF_XDP avoids it). No
//! syscall is made on receive (the status words are polled); a send burst
//! costs one `sendto(fd, NULL, 0, MSG_DONTWAIT)`.
//!
//! TPACKET_V2 rather than V3: V3 hands received frames over a block at a
//! time, when the block fills or its retire timer (at least 1 ms) fires,
//! which adds up to a millisecond of latency at low rates; V2 hands each
//! frame over as soon as it is written, and a polling worker wants that.
//!
//! Frames reach the Buf exactly as on the wire, Ethernet header first.
//! What an o7s port must not take is dropped here and counted
//! ([`PacketCounters`]), before it costs a pool buffer:
//!
//! | frame | how the socket sees it | counted as |
//! |---|---|---|
//! | for another station's MAC | `sll_pkttype` PACKET_OTHERHOST | `rx_other_host` |
//! | VLAN-tagged, no VLAN device claims it | tag stripped by the kernel, PACKET_OTHERHOST although for our MAC | `rx_vlan` |
//! | VLAN-tagged, tag kept | TP_STATUS_VLAN_VALID, or a TPID in the type field | `rx_vlan` |
//! | longer than a ring frame | `tp_snaplen < tp_len` (cut by the kernel) | `rx_truncated` |
//! | longer than a pool buffer | | `rx_too_big` |
//!
//! A socket bound to one Ethertype is handed a tagged frame only after the
//! kernel took the tag off (no VLAN device claimed it); eth-dix over a VLAN
//! binds to the VLAN's interface.
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

use o7s_mem::sys::Mapping;
use o7s_mem::{Buf, PoolCache};
use o7s_wire::eth::{self, EthFrame, MacAddr};

use super::{Port, PortInfo, PortKind};
use crate::forward::Shim;
use o7s_seam::counters::{DropReason, KernelLoss, Snapshot};

/// Where the kernel takes a TX frame from (TPACKET2_HDRLEN less the
/// sockaddr_ll, without PACKET_TX_HAS_OFF).
const TX_DATA: usize = libc::TPACKET2_HDRLEN - size_of::<libc::sockaddr_ll>();
/// Where the kernel puts the `sockaddr_ll` of an RX frame (after the
/// aligned `tpacket2_hdr`).
const RX_SLL: usize = TX_DATA;

/// The socket protocol of eth-llc ports (ETH_P_802_2): the kernel hands
/// it every 802.3 frame (a length, not an Ethertype, after the MACs) that
/// carries an LLC header. The XDP steering program matches Ethertypes, so
/// eth-llc runs on AF_PACKET.
pub const LLC_FRAMES: u16 = libc::ETH_P_802_2 as u16;

/// Largest MTU of an eth-llc layer (PROTOCOL.md §3).
pub const LLC_MAX_MTU: usize = 1500;

/// How to open an [`AfPacketPort`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketConfig {
    /// Interface name.
    pub interface: String,
    /// The only Ethertype received (0x0600..=0xFFFE); default 0xA000. Or
    /// [`LLC_FRAMES`]: 802.3 frames with an LLC header, for eth-llc.
    pub ethertype: u16,
    /// Frames per ring (rounded up to whole blocks).
    pub frames: u32,
    /// Octets per ring frame: a power of two, 2048..=65536. Frames longer
    /// than `frame_size - 66` are dropped on receive.
    pub frame_size: u32,
}

impl Default for PacketConfig {
    fn default() -> PacketConfig {
        PacketConfig {
            interface: String::new(),
            ethertype: eth::ETHERTYPE_O7S,
            frames: 1024,
            frame_size: 2048,
        }
    }
}

/// Why an [`AfPacketPort`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    #[error("interface {name}: {source}")]
    Interface {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> PacketError {
    move |source| PacketError::Io { what, source }
}

/// What the port did, counted by the worker that polls it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketCounters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Frames longer than a ring frame (cut by the kernel): dropped.
    pub rx_truncated: u64,
    /// Frames longer than a pool buffer's room: dropped.
    pub rx_too_big: u64,
    /// Frames for another station (PACKET_OTHERHOST): dropped.
    pub rx_other_host: u64,
    /// VLAN-tagged frames (or frames whose tag the kernel stripped): dropped.
    pub rx_vlan: u64,
    /// Bursts cut short because the pool had no buffer (the frame waits
    /// in the ring).
    pub rx_no_buffer: u64,
    /// Frames queued in the TX ring.
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Frames shorter than an Ethernet header or longer than the interface
    /// takes: dropped.
    pub tx_bad_len: u64,
    /// `sendto` calls that start the kernel on the TX ring.
    pub tx_kicks: u64,
    pub tx_kick_errors: u64,
}

/// The kernel's own counters for the socket (PACKET_STATISTICS), since
/// the port was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Frames the socket saw.
    pub packets: u64,
    /// Frames lost because the RX ring was full.
    pub drops: u64,
}

/// A port over an AF_PACKET socket with TPACKET_V2 RX and TX rings.
pub struct AfPacketPort {
    info: PortInfo,
    /// The two rings, RX then TX.
    map: Mapping,
    fd: OwnedFd,
    ifindex: i32,
    mac: [u8; 6],
    ethertype: u16,
    frame_size: usize,
    frames: usize,
    /// Longest frame accepted for sending (interface MTU + Ethernet header,
    /// within a ring frame).
    max_tx: usize,
    /// Next RX frame to look at.
    rx_next: usize,
    /// Next TX frame to fill.
    tx_head: usize,
    /// Oldest TX frame not yet seen sent.
    tx_tail: usize,
    /// Frames between tail and head.
    tx_pending: usize,
    counters: PacketCounters,
    /// The kernel's counters read so far (it resets them on every read).
    kernel: KernelStats,
}

impl std::fmt::Debug for AfPacketPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfPacketPort")
            .field("interface", &self.info.name)
            .field("ifindex", &self.ifindex)
            .field("ethertype", &format_args!("{:#06x}", self.ethertype))
            .field("kind", &self.info.kind)
            .field("tx_pending", &self.tx_pending)
            .finish()
    }
}

fn set_opt<T>(fd: RawFd, level: c_int, name: c_int, val: &T) -> io::Result<()> {
    // SAFETY: setsockopt reads size_of::<T>() octets from a valid reference.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (val as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn ifreq(name: &str) -> Option<libc::ifreq> {
    let octets = name.as_bytes();
    if octets.is_empty() || octets.len() >= libc::IFNAMSIZ || octets.contains(&0) {
        return None;
    }
    // SAFETY: ifreq is a plain C struct (a name and a union of integers,
    // sockaddrs and a pointer) for which all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, &s) in ifr.ifr_name.iter_mut().zip(octets) {
        *d = s as libc::c_char;
    }
    Some(ifr)
}

fn ioctl_ifreq(fd: RawFd, request: libc::Ioctl, ifr: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: the SIOCGIF* requests used here read the name from and write
    // one union member of a valid ifreq.
    let rc = unsafe { libc::ioctl(fd, request, ifr as *mut libc::ifreq) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl AfPacketPort {
    /// Opens the socket on `config.interface` in the caller's network
    /// namespace. Needs CAP_NET_RAW.
    pub fn open(config: &PacketConfig) -> Result<AfPacketPort, PacketError> {
        let llc = config.ethertype == LLC_FRAMES;
        if !llc && !eth::ETHERTYPE_VALID.contains(&config.ethertype) {
            return Err(PacketError::Config("Ethertype must be 0x0600..=0xFFFE (or LLC_FRAMES)"));
        }
        if !config.frame_size.is_power_of_two() || !(2048..=65536).contains(&config.frame_size) {
            return Err(PacketError::Config(
                "frame size must be a power of two from 2048 to 65536",
            ));
        }
        if config.frames == 0 || config.frames > 1 << 20 {
            return Err(PacketError::Config("frames must be between 1 and 1048576"));
        }
        let mut ifr = ifreq(&config.interface).ok_or(PacketError::Config("interface name must be 1 to 15 octets"))?;

        // Protocol 0: the socket receives nothing until `bind` names the
        // Ethertype, after the rings exist.
        // SAFETY: plain socket(2); the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io_err("opening the AF_PACKET socket (needs CAP_NET_RAW)")(
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sock = fd.as_raw_fd();

        let iface_err = |source| PacketError::Interface {
            name: config.interface.clone(),
            source,
        };
        ioctl_ifreq(sock, libc::SIOCGIFINDEX, &mut ifr).map_err(iface_err)?;
        // SAFETY: SIOCGIFINDEX wrote ifru_ifindex.
        let ifindex = unsafe { ifr.ifr_ifru.ifru_ifindex };
        ioctl_ifreq(sock, libc::SIOCGIFMTU, &mut ifr).map_err(iface_err)?;
        // SAFETY: SIOCGIFMTU wrote ifru_mtu.
        let if_mtu = unsafe { ifr.ifr_ifru.ifru_mtu }.max(0) as usize;
        ioctl_ifreq(sock, libc::SIOCGIFHWADDR, &mut ifr).map_err(iface_err)?;
        // SAFETY: SIOCGIFHWADDR wrote ifru_hwaddr.
        let hw = unsafe { ifr.ifr_ifru.ifru_hwaddr };
        if hw.sa_family != libc::ARPHRD_ETHER {
            return Err(PacketError::Config("interface is not Ethernet"));
        }
        let mut mac = [0u8; 6];
        for (d, &s) in mac.iter_mut().zip(&hw.sa_data) {
            *d = s as u8;
        }

        let version = libc::tpacket_versions::TPACKET_V2 as c_int;
        set_opt(sock, libc::SOL_PACKET, libc::PACKET_VERSION, &version).map_err(io_err("PACKET_VERSION V2"))?;
        let on: c_int = 1;
        set_opt(sock, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &on).map_err(io_err("PACKET_QDISC_BYPASS"))?;
        set_opt(sock, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &on)
            .map_err(io_err("PACKET_IGNORE_OUTGOING (needs Linux 4.20)"))?;
        // A malformed TX frame is skipped instead of stopping the ring.
        set_opt(sock, libc::SOL_PACKET, libc::PACKET_LOSS, &on).map_err(io_err("PACKET_LOSS"))?;

        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let frame_size = config.frame_size as usize;
        let block_size = frame_size.max(page);
        let per_block = block_size / frame_size;
        let frames = (config.frames as usize).div_ceil(per_block) * per_block;
        let req = libc::tpacket_req {
            tp_block_size: block_size as u32,
            tp_block_nr: (frames / per_block) as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: frames as u32,
        };
        set_opt(sock, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(io_err("PACKET_RX_RING"))?;
        set_opt(sock, libc::SOL_PACKET, libc::PACKET_TX_RING, &req).map_err(io_err("PACKET_TX_RING"))?;

        // The socket's two rings, RX then TX, as the kernel lays them out.
        let map =
            Mapping::map(fd.as_fd(), 2 * frames * frame_size, true).map_err(io_err("mapping the packet rings"))?;

        let sll = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: config.ethertype.to_be(),
            sll_ifindex: ifindex,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 0,
            sll_addr: [0; 8],
        };
        // SAFETY: bind reads a sockaddr_ll of the length given.
        let rc = unsafe {
            libc::bind(
                sock,
                (&raw const sll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io_err("binding to the interface")(io::Error::last_os_error()));
        }

        let if_mtu = if llc { if_mtu.min(LLC_MAX_MTU) } else { if_mtu };
        let max_tx = (if_mtu + eth::HEADER_LEN).min(frame_size - TX_DATA);
        let shim = if llc {
            Shim::EthLlc {
                mac: Some(MacAddr(mac)),
            }
        } else {
            Shim::EthDix {
                mac: Some(MacAddr(mac)),
                ethertype: config.ethertype,
            }
        };
        let info = PortInfo {
            name: config.interface.clone(),
            kind: PortKind::AfPacket {
                frames: frames as u32,
                frame_size: frame_size as u32,
            },
            mtu: max_tx - eth::HEADER_LEN,
            mac: Some(MacAddr(mac)),
            shim,
        };
        if llc {
            tracing::info!(
                interface = %config.interface,
                kind = %info.kind,
                mtu = info.mtu,
                "AF_PACKET port open for eth-llc: 802.2 LLC frames (the XDP steering program matches Ethertypes, \
                 so eth-llc runs on AF_PACKET; frames are copied once each way)"
            );
        } else {
            tracing::info!(
                interface = %config.interface,
                ethertype = format_args!("{:#06x}", config.ethertype),
                kind = %info.kind,
                mtu = info.mtu,
                "AF_PACKET port open (frames are copied once each way)"
            );
        }
        Ok(AfPacketPort {
            info,
            map,
            fd,
            ifindex,
            mac,
            ethertype: config.ethertype,
            frame_size,
            frames,
            max_tx,
            rx_next: 0,
            tx_head: 0,
            tx_tail: 0,
            tx_pending: 0,
            counters: PacketCounters::default(),
            kernel: KernelStats::default(),
        })
    }

    /// The interface's MAC address (the source of frames this port sends).
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    pub fn ethertype(&self) -> u16 {
        self.ethertype
    }

    pub fn counters(&self) -> PacketCounters {
        self.counters
    }

    /// The kernel's counters since the port was opened (a syscall: not
    /// for the packet path).
    pub fn kernel_stats(&mut self) -> io::Result<KernelStats> {
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` octets into `st`.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&raw mut st).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // The read reset them: keep the sums.
        self.kernel.packets += u64::from(st.tp_packets);
        self.kernel.drops += u64::from(st.tp_drops);
        Ok(self.kernel)
    }

    /// The header of frame `i` of the RX (`tx = false`) or TX ring.
    fn frame(&self, tx: bool, i: usize) -> *mut libc::tpacket2_hdr {
        debug_assert!(i < self.frames);
        let offset = (usize::from(tx) * self.frames + i) * self.frame_size;
        // SAFETY: i < frames, so the frame lies inside the mapping of
        // 2 * frames * frame_size octets.
        unsafe { self.map.as_ptr().add(offset).cast() }
    }

    /// The status word of frame `i` of the RX (`tx = false`) or TX ring.
    fn status(&self, tx: bool, i: usize) -> &AtomicU32 {
        let hdr = self.frame(tx, i);
        // SAFETY: tp_status is the first, 4-aligned word of a ring frame
        // (frames are 16-aligned) that stays mapped as long as the port;
        // the kernel and this port touch it only with atomic accesses.
        unsafe { AtomicU32::from_ptr(&raw mut (*hdr).tp_status) }
    }

    /// Copies the frame the kernel handed over in RX frame `hdr` into a
    /// pool buffer. `Err(true)`: no buffer (keep the frame); `Err(false)`:
    /// dropped and counted.
    fn copy_in(&mut self, cache: &mut PoolCache, hdr: *mut libc::tpacket2_hdr, status: u32) -> Result<Buf, bool> {
        // SAFETY: the kernel set TP_STATUS_USER (read with acquire), so it
        // wrote the header and the sockaddr_ll after it before, and leaves
        // the frame alone until the status goes back to TP_STATUS_KERNEL.
        let (len, snap, mac, pkttype) = unsafe {
            let sll = hdr.cast::<u8>().add(RX_SLL).cast::<libc::sockaddr_ll>();
            ((*hdr).tp_len, (*hdr).tp_snaplen, (*hdr).tp_mac, (*sll).sll_pkttype)
        };
        let (snap, mac) = (snap as usize, usize::from(mac));
        if snap < len as usize || mac + snap > self.frame_size {
            self.counters.rx_truncated += 1;
            return Err(false);
        }
        // SAFETY: [mac, mac + snap) lies inside the frame (checked above),
        // which the kernel handed over (see above).
        let wire = unsafe { std::slice::from_raw_parts(hdr.cast::<u8>().add(mac), snap) };
        let frame = EthFrame::new_unchecked(wire);
        let tagged = status & libc::TP_STATUS_VLAN_VALID != 0
            || (frame.check_len().is_ok() && eth::is_vlan_tpid(frame.ethertype()));
        if pkttype == libc::PACKET_OTHERHOST || tagged {
            // The kernel marks a tagged frame no VLAN device took as for
            // another host, and strips its tag: one for our own MAC is that.
            let ours = frame.check_len().is_ok() && frame.dst_addr().0 == self.mac;
            if tagged || ours {
                self.counters.rx_vlan += 1;
            } else {
                self.counters.rx_other_host += 1;
            }
            return Err(false);
        }
        let Some(mut buf) = cache.alloc() else {
            self.counters.rx_no_buffer += 1;
            return Err(true);
        };
        if buf.append(snap).is_err() {
            self.counters.rx_too_big += 1;
            cache.free(buf);
            return Err(false);
        }
        cache.pool().data_mut(&mut buf).copy_from_slice(wire);
        self.counters.rx_packets += 1;
        self.counters.rx_bytes += snap as u64;
        Ok(buf)
    }

    /// Moves the TX tail past frames the kernel has sent.
    fn reap_tx(&mut self) {
        while self.tx_pending > 0 {
            let status = self.status(true, self.tx_tail);
            // WRONG_FORMAT only without PACKET_LOSS; clear it anyway.
            match status.load(Ordering::Acquire) {
                libc::TP_STATUS_AVAILABLE => {}
                libc::TP_STATUS_WRONG_FORMAT => status.store(libc::TP_STATUS_AVAILABLE, Ordering::Release),
                _ => break,
            }
            self.tx_tail = if self.tx_tail + 1 == self.frames {
                0
            } else {
                self.tx_tail + 1
            };
            self.tx_pending -= 1;
        }
    }

    /// Has the kernel transmit every frame marked SEND_REQUEST.
    fn kick(&mut self) {
        // SAFETY: sendto with no data and no address: the kernel walks the
        // TX ring instead of reading a buffer.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        self.counters.tx_kicks += 1;
        if rc < 0 {
            // EAGAIN/ENOBUFS: the frames stay requested; `poll` kicks again.
            self.counters.tx_kick_errors += 1;
        }
    }
}

impl Port for AfPacketPort {
    /// The packet socket: readable when its RX ring has frames.
    fn wait_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }

    fn rx_burst(&mut self, cache: &mut PoolCache, out: &mut Vec<Buf>, max: usize) -> usize {
        let mut got = 0;
        while got < max {
            let st = self.status(false, self.rx_next).load(Ordering::Acquire);
            if st & libc::TP_STATUS_USER == 0 {
                break;
            }
            match self.copy_in(cache, self.frame(false, self.rx_next), st) {
                Ok(buf) => {
                    out.push(buf);
                    got += 1;
                }
                Err(true) => break,
                Err(false) => {}
            }
            self.status(false, self.rx_next)
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.rx_next = if self.rx_next + 1 == self.frames {
                0
            } else {
                self.rx_next + 1
            };
        }
        got
    }

    fn tx_burst(&mut self, cache: &mut PoolCache, frames: &mut Vec<Buf>) -> usize {
        self.reap_tx();
        let n = frames.len().min(self.frames - self.tx_pending);
        let mut queued = 0;
        for buf in frames.drain(..n) {
            let len = buf.len();
            if len < eth::HEADER_LEN || len > self.max_tx {
                self.counters.tx_bad_len += 1;
                cache.free(buf);
                continue;
            }
            let hdr = self.frame(true, self.tx_head);
            // Frames outside [tail, head) are AVAILABLE: the kernel reads
            // this one only after SEND_REQUEST is stored below.
            debug_assert_eq!(
                self.status(true, self.tx_head).load(Ordering::Acquire),
                libc::TP_STATUS_AVAILABLE
            );
            // SAFETY: [TX_DATA, TX_DATA + len) lies inside the frame
            // (len <= max_tx <= frame_size - TX_DATA), which the kernel does
            // not touch while it is AVAILABLE; the pool buffer is another
            // mapping, so the two do not overlap.
            unsafe {
                let to = hdr.cast::<u8>().add(TX_DATA);
                std::ptr::copy_nonoverlapping(cache.pool().data(&buf).as_ptr(), to, len);
                (*hdr).tp_len = len as u32;
            }
            self.status(true, self.tx_head)
                .store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
            self.tx_head = if self.tx_head + 1 == self.frames {
                0
            } else {
                self.tx_head + 1
            };
            self.tx_pending += 1;
            self.counters.tx_packets += 1;
            self.counters.tx_bytes += len as u64;
            cache.free(buf);
            queued += 1;
        }
        if queued > 0 {
            self.kick();
        }
        n
    }

    /// Reaps sent frames, and kicks the kernel again if frames it was
    /// asked to send are still waiting (it stopped on an error).
    fn poll(&mut self, _cache: &mut PoolCache) {
        self.reap_tx();
        if self.tx_pending > 0
            && self.status(true, self.tx_tail).load(Ordering::Acquire) == libc::TP_STATUS_SEND_REQUEST
        {
            self.kick();
        }
    }

    fn tx_queue_len(&self) -> usize {
        self.tx_pending
    }

    /// The frames refused before they took a buffer, and the kernel's ring
    /// overflows.
    fn snapshot(&mut self) -> Snapshot {
        let mut s = Snapshot::default();
        let c = self.counters;
        s.drops[DropReason::Oversize as usize] = c.rx_truncated + c.rx_too_big;
        s.drops[DropReason::NotForUs as usize] = c.rx_other_host;
        s.drops[DropReason::VlanTagged as usize] = c.rx_vlan;
        match self.kernel_stats() {
            Ok(k) => s.kernel[KernelLoss::PacketRxDrops as usize] = k.drops,
            Err(e) => tracing::debug!(port = %self.info.name, error = %e, "PACKET_STATISTICS"),
        }
        s
    }

    fn info(&self) -> &PortInfo {
        &self.info
    }

    /// The port holds no pool buffer (frames are copied), so there is
    /// nothing to give back; frames still in the TX ring are sent.
    fn drain(&mut self, cache: &mut PoolCache) {
        self.poll(cache);
    }
}
