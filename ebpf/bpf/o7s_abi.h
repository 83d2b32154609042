/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only */
/*
 * Map layouts shared between the XDP programs and the Rust loader
 * (ebpf/src/abi.rs mirrors every definition here; its unit tests pin the
 * sizes and indices, so change both files together).
 *
 *   o7s_cfg    ARRAY[1]          struct o7s_cfg, host byte order
 *   o7s_stats  PERCPU_ARRAY[13]  __u64 per counter, indexed by enum o7s_stat
 *   xsks       XSKMAP[64]        rx queue index -> AF_XDP socket
 *   o7s_self   ARRAY[1]          struct o7s_self (address 0: transit fast path off)
 *   o7s_demux  ARRAY[65536]      shim EID on this interface -> struct o7s_flow (cube1 0: no flow)
 *   o7s_fib    HASH              struct o7s_fib_key -> struct o7s_nexthop
 *   o7s_tx     DEVMAP_HASH       egress ifindex -> struct bpf_devmap_val
 */
#ifndef O7S_ABI_H
#define O7S_ABI_H

#include <linux/types.h>

/* What the steering program uses when o7s_cfg holds zeros (not written). */
#define O7S_DEFAULT_ETHERTYPE 0xA000
#define O7S_DEFAULT_UDP_PORT 3435

/* One XSKMAP slot per rx queue; frames from a queue >= this are passed. */
#define O7S_MAX_QUEUES 64

/*
 * Written by the loader in *host* byte order, as plain numbers: the program
 * converts the packet's fields with bpf_ntohs() before comparing, so neither
 * side has to remember which fields are already swapped.
 */
struct o7s_cfg {
	__u16 ethertype;
	__u16 udp_port;
	__u32 flags; /* O7S_CFG_* */
	__u8 mac[6]; /* the port's own MAC, with O7S_CFG_CHECK_DST */
	__u16 max_frame; /* longest o7s frame taken; 0: no limit */
};

/*
 * Leave UDP to the kernel: for interfaces whose UDP shim traffic is served
 * by a kernel socket (the io_uring backend), not by the AF_XDP socket.
 */
#define O7S_CFG_NO_UDP 0x1
/*
 * Drop o7s frames for another MAC than cfg.mac: other stations' and group
 * addresses, save broadcasts to the shim's management EID 0 (name queries).
 */
#define O7S_CFG_CHECK_DST 0x2
/*
 * The port's Ethernet shim is eth-llc: steer 802.3 frames with an 802.2 LLC
 * header (a length, not an Ethertype, after the addresses) instead of
 * cfg.ethertype's frames. The checks are the same; the broadcasts let
 * through are those to the management SAP (0x80 on the wire, both SAPs).
 */
#define O7S_CFG_LLC 0x4

/*
 * Capacity of the fast-path maps. The demux is an array indexed by the
 * 16-bit eth-dix EID: every interface has its own program and maps, so the
 * EID alone names the N-1 flow, and an array lookup is inlined by the
 * verifier where a hash lookup costs a function call and a hash.
 */
#define O7S_DEMUX_EIDS 65536
#define O7S_MAX_ROUTES 65536
#define O7S_MAX_TX 64

/* The member itself, for the fast path. 8 bytes. */
struct o7s_self {
	__u32 address; /* 0: fast path off */
	__u8 max_ttl;  /* the layer's: a TTL above it goes to the worker */
	__u8 pad[3];
};

/* An N-1 flow arriving on this interface. 12 bytes. */
struct o7s_flow {
	__u32 cube1; /* cube + 1; 0: no flow */
	__u8 peer_mac[6]; /* frames from any other source are dropped */
	__u16 pad;
};

/* (cube, DT destination address) -> next hop. */
struct o7s_fib_key {
	__u32 cube;
	__u32 dst;
};

/* A single eth-dix next hop on an XDP interface. 20 bytes. */
struct o7s_nexthop {
	__u32 ifindex;
	__u8 dst_mac[6];
	__u8 src_mac[6];
	__u16 eid; /* host order; written big-endian into the shim */
	__u16 pad;
};

/*
 * "matched" frames are the o7s ones (Ethertype, 802.2 LLC with O7S_CFG_LLC,
 * or UDP port); they are handed
 * to bpf_redirect_map(). Whether the redirect happened depends on an AF_XDP
 * socket being registered for the frame's rx queue: if none is, the helper
 * returns the fallback XDP_PASS and the frame is counted as NO_XSK_*. So
 * matched = REDIRECTED_* + NO_XSK_* + FAST_* + the o7s frames dropped here
 * (NOT_FOR_US, MULTICAST_DST, OVERSIZE, SPOOFED_SRC). Every frame is
 * counted exactly once.
 */
enum o7s_stat {
	O7S_STAT_REDIRECTED_ETH = 0, /* o7s Ethertype (or LLC), sent to an XSK */
	O7S_STAT_REDIRECTED_UDP = 1, /* UDP to the o7s port, sent to an XSK */
	O7S_STAT_NO_XSK_ETH = 2,     /* o7s Ethertype (or LLC), no XSK on the queue: passed */
	O7S_STAT_NO_XSK_UDP = 3,     /* o7s UDP, no XSK on the queue: passed */
	O7S_STAT_PASSED = 4,         /* not o7s: passed to the kernel stack */
	O7S_STAT_MALFORMED = 5,      /* headers truncated or invalid: passed */
	O7S_STAT_FAST_FORWARDED = 6, /* transit, forwarded in XDP (o7s_tx) */
	O7S_STAT_VLAN = 7,           /* 802.1Q/802.1ad tagged: passed */
	O7S_STAT_NOT_FOR_US = 8,     /* o7s, to another station's MAC: dropped */
	O7S_STAT_MULTICAST_DST = 9,  /* o7s, to a group address: dropped */
	O7S_STAT_OVERSIZE = 10,      /* o7s, longer than max_frame: dropped */
	O7S_STAT_SPOOFED_SRC = 11,   /* fast path: not from the flow's peer: dropped */
	O7S_STAT_FAST_TX_ERROR = 12, /* fast path: egress not in o7s_tx: dropped */
	O7S_STAT_COUNT = 13,
};

#endif /* O7S_ABI_H */
