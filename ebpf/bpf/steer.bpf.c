// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only
/*
 * o7s_steer: the XDP program on every o7s port. It sends o7s frames to the
 * AF_XDP socket of the rx queue they arrived on and passes everything else
 * to the kernel untouched.
 *
 *   frame --> Ethernet --+-- VLAN tag (802.1Q/802.1ad) ----------------> XDP_PASS (counted)
 *                        +-- Ethertype == cfg.ethertype --> checks ----> XSK (eth-dix shim)
 *                        |   (transit, when o7s_self != 0: rewritten --> o7s_tx[ifindex])
 *                        +-- 802.2 LLC, with O7S_CFG_LLC ---> checks ----> XSK (eth-llc shim)
 *                        +-- IPv4 / IPv6 --> UDP dport == cfg.udp_port -> XSK (udp shim)
 *                        +-- anything else (ARP, ND, TCP...) ----------> XDP_PASS
 *
 * The checks drop and count what an o7s port must not take: frames longer
 * than cfg.max_frame (an XSK frame), and with O7S_CFG_CHECK_DST frames for
 * another MAC than cfg.mac (group addresses included, save broadcasts to the
 * shim's management EID 0 or SAP 1, where name queries go). With
 * O7S_CFG_LLC the port serves eth-llc: its frames are the 802.2 ones (a
 * length below 0x0600 where the Ethertype would be), and cfg.ethertype's
 * are passed like any other. The fast path (eth-dix only) also drops
 * frames on an N-1 flow from another MAC than the flow's peer; what it does
 * not forward itself (TTL 0, 1 or above max_ttl, local delivery, ...) goes
 * to the XSK, where the worker judges and counts it.
 *
 * "XSK" is bpf_redirect_map(&xsks, rx_queue_index, XDP_PASS): with no socket
 * registered for that queue the helper returns XDP_PASS, so attaching the
 * program before the dataplane has opened its sockets loses nothing.
 *
 * Not supported, on purpose, and passed to the kernel:
 *  - 802.1Q/802.1ad VLAN tags: o7s ports are untagged (use a VLAN netdev and
 *    attach there; XDP on a VLAN netdev runs in generic mode);
 *  - IPv4 fragments: the first one carries the UDP port but the others do not,
 *    so steering it alone would tear the datagram; the kernel reassembles;
 *  - IPv6 extension headers: only the fixed header's next header is read.
 * Every frame is counted once in o7s_stats (see enum o7s_stat).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "o7s_abi.h"

/* IPv4 frag_off: "more fragments" flag and the 13-bit offset. */
#define O7S_IP_MF 0x2000
#define O7S_IP_OFFSET 0x1fff

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct o7s_cfg);
} o7s_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, O7S_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, O7S_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} o7s_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct o7s_self);
} o7s_self SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, O7S_DEMUX_EIDS);
	__type(key, __u32);
	__type(value, struct o7s_flow);
} o7s_demux SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, O7S_MAX_ROUTES);
	__type(key, struct o7s_fib_key);
	__type(value, struct o7s_nexthop);
} o7s_fib SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, O7S_MAX_TX);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} o7s_tx SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&o7s_stats, &stat);

	/* Per-CPU slot: no other CPU writes it, a plain add is enough. */
	if (n)
		*n += 1;
}

/* Redirects to the queue's XSK and counts whether a socket took it. */
static __always_inline int steer(struct xdp_md *ctx, __u32 redirected, __u32 no_xsk)
{
	long action = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);

	count(action == XDP_REDIRECT ? redirected : no_xsk);
	return (int)action;
}

/*
 * Returns the UDP destination port (network order) of an IPv4 or IPv6
 * datagram starting at l3, 0 when it is not UDP or is a fragment, -1 when
 * the headers are truncated or invalid.
 */
static __always_inline int udp_dport(void *l3, void *data_end, __u16 proto)
{
	struct udphdr *udp;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		__u32 ihl;

		if ((void *)(ip + 1) > data_end)
			return -1;
		ihl = ip->ihl;
		if (ip->version != 4 || ihl < 5)
			return -1;
		if (ip->protocol != IPPROTO_UDP)
			return 0;
		if (ip->frag_off & bpf_htons(O7S_IP_MF | O7S_IP_OFFSET))
			return 0;
		/* ihl is 4 bits, so the verifier knows the offset is <= 60. */
		udp = l3 + ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		if (ip6->version != 6)
			return -1;
		if (ip6->nexthdr != IPPROTO_UDP)
			return 0;
		udp = (void *)(ip6 + 1);
	} else {
		return 0;
	}

	if ((void *)(udp + 1) > data_end)
		return -1;
	return udp->dest;
}

/* eth-dix (PROTOCOL.md §2.1): Ethernet, then EID and length (BE u16s). */
#define O7S_SHIM_END 18
/* DT header (§7.2) with addr_size 4, eid_size 8: dst, qos, ttl, ecn, eid. */
#define O7S_DT_LEN 15
#define O7S_DT_TTL 5

/* Ethertypes of the VLAN tags (if_ether.h names the first two). */
#define O7S_ETH_P_QINQ 0x9100

/* eth-llc (§3): the management SAP 1, bit-reversed on the wire. */
#define O7S_LLC_MGMT_SAP_WIRE 0x80

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) |
		(a[5] ^ b[5])) == 0;
}

/*
 * Whether this port takes the o7s frame at data: the stat to drop it under,
 * or -1 to take it. Frames too short for the shim header are taken: the
 * worker counts them.
 */
static __always_inline int refused(void *data, void *data_end, const struct o7s_cfg *cfg, int llc)
{
	__u8 *p = data;

	if (cfg->max_frame && data_end - data > cfg->max_frame)
		return O7S_STAT_OVERSIZE;
	if (!(cfg->flags & O7S_CFG_CHECK_DST) || (void *)(p + O7S_SHIM_END) > data_end)
		return -1;
	if (mac_eq(p, cfg->mac))
		return -1;
	if (!(p[0] & 1))
		return O7S_STAT_NOT_FOR_US;
	/* A group address: only name queries are broadcast (EID 0, or the
	 * management SAP in both SAPs). */
	if ((p[0] & p[1] & p[2] & p[3] & p[4] & p[5]) == 0xff) {
		if (!llc && p[14] == 0 && p[15] == 0)
			return -1;
		if (llc && p[14] == O7S_LLC_MGMT_SAP_WIRE && p[15] == O7S_LLC_MGMT_SAP_WIRE)
			return -1;
	}
	return O7S_STAT_MULTICAST_DST;
}

/*
 * The transit fast path (§7.5 in the kernel): a frame on a known N-1 flow
 * from the flow's peer, for another member, with 1 < TTL <= max_ttl and a
 * single eth-dix next hop on an XDP port is rewritten here and redirected
 * to that port. A frame on a known flow from another source is dropped.
 * Everything else (local delivery, TTL expiry or a TTL no member sends,
 * unknown flows, ECMP, ...) returns -1 and goes to the XSK, where the
 * worker handles and counts it.
 *
 * ECN is not marked here: the fast path has no view of a queue depth.
 */
static __always_inline int fast_forward(struct xdp_md *ctx, const struct o7s_self *self)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	struct o7s_fib_key fk;
	__u32 demux_key;
	const struct o7s_nexthop *nh;
	const struct o7s_flow *flow;
	long action;
	__u16 eid, sdu_len;
	__u8 ttl;
	long frame_len;

	if ((void *)(p + O7S_SHIM_END + O7S_DT_LEN) > data_end)
		return -1;
	eid = ((__u16)p[14] << 8) | p[15];
	if (eid == 0)
		return -1;
	/*
	 * A length field that is shorter than a DT header or runs past the
	 * frame goes to the worker, which drops and counts it; padding after
	 * the SDU (runts padded to 60 octets) is cut before forwarding.
	 */
	sdu_len = ((__u16)p[16] << 8) | p[17];
	frame_len = data_end - data;
	if (sdu_len < O7S_DT_LEN || O7S_SHIM_END + sdu_len > frame_len)
		return -1;
	demux_key = eid;
	flow = bpf_map_lookup_elem(&o7s_demux, &demux_key);
	if (!flow || flow->cube1 == 0)
		return -1;
	if (!mac_eq(p + 6, flow->peer_mac)) {
		count(O7S_STAT_SPOOFED_SRC);
		return XDP_DROP;
	}
	fk.cube = flow->cube1 - 1;
	fk.dst = (__u32)p[18] | (__u32)p[19] << 8 | (__u32)p[20] << 16 | (__u32)p[21] << 24;
	if (fk.dst == self->address)
		return -1;
	/* The worker drops and counts TTL expiry and TTLs no member sends. */
	ttl = p[O7S_SHIM_END + O7S_DT_TTL];
	if (ttl <= 1 || ttl > self->max_ttl)
		return -1;
	nh = bpf_map_lookup_elem(&o7s_fib, &fk);
	if (!nh)
		return -1;

	/* Cut the padding before touching the frame: if that fails, the
	 * worker still gets the frame as it came. */
	if (frame_len > O7S_SHIM_END + sdu_len) {
		if (bpf_xdp_adjust_tail(ctx, -(int)(frame_len - O7S_SHIM_END - sdu_len)))
			return -1;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		p = data;
		if ((void *)(p + O7S_SHIM_END + O7S_DT_LEN) > data_end)
			return -1;
	}
	p[O7S_SHIM_END + O7S_DT_TTL] = ttl - 1;
	__builtin_memcpy(p, nh->dst_mac, 6);
	__builtin_memcpy(p + 6, nh->src_mac, 6);
	p[14] = nh->eid >> 8;
	p[15] = nh->eid & 0xff;
	/* An egress missing from o7s_tx drops the frame (the XDP_DROP flag). */
	action = bpf_redirect_map(&o7s_tx, nh->ifindex, XDP_DROP);
	count(action == XDP_REDIRECT ? O7S_STAT_FAST_FORWARDED : O7S_STAT_FAST_TX_ERROR);
	return (int)action;
}

SEC("xdp")
int o7s_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	const __u32 zero = 0;
	const struct o7s_cfg *cfg;
	__u16 ethertype = O7S_DEFAULT_ETHERTYPE;
	__u16 udp_port = O7S_DEFAULT_UDP_PORT;
	__u32 flags = 0;
	int dport;

	if ((void *)(eth + 1) > data_end) {
		count(O7S_STAT_MALFORMED);
		return XDP_PASS;
	}

	cfg = bpf_map_lookup_elem(&o7s_cfg, &zero);
	if (cfg) {
		if (cfg->ethertype)
			ethertype = cfg->ethertype;
		if (cfg->udp_port)
			udp_port = cfg->udp_port;
		flags = cfg->flags;
	}

	if (eth->h_proto == bpf_htons(ETH_P_8021Q) || eth->h_proto == bpf_htons(ETH_P_8021AD) ||
	    eth->h_proto == bpf_htons(O7S_ETH_P_QINQ)) {
		count(O7S_STAT_VLAN);
		return XDP_PASS;
	}

	if ((flags & O7S_CFG_LLC) && bpf_ntohs(eth->h_proto) < ETH_P_802_3_MIN) {
		int stat = cfg ? refused(data, data_end, cfg, 1) : -1;

		if (stat >= 0) {
			count(stat);
			return XDP_DROP;
		}
		return steer(ctx, O7S_STAT_REDIRECTED_ETH, O7S_STAT_NO_XSK_ETH);
	}

	if (!(flags & O7S_CFG_LLC) && eth->h_proto == bpf_htons(ethertype)) {
		const struct o7s_self *self = bpf_map_lookup_elem(&o7s_self, &zero);
		int stat = cfg ? refused(data, data_end, cfg, 0) : -1;

		if (stat >= 0) {
			count(stat);
			return XDP_DROP;
		}
		if (self && self->address) {
			int action = fast_forward(ctx, self);

			if (action >= 0)
				return action;
		}
		return steer(ctx, O7S_STAT_REDIRECTED_ETH, O7S_STAT_NO_XSK_ETH);
	}

	if (flags & O7S_CFG_NO_UDP) {
		count(O7S_STAT_PASSED);
		return XDP_PASS;
	}

	dport = udp_dport(eth + 1, data_end, eth->h_proto);
	if (dport < 0) {
		count(O7S_STAT_MALFORMED);
		return XDP_PASS;
	}
	if (dport == bpf_htons(udp_port))
		return steer(ctx, O7S_STAT_REDIRECTED_UDP, O7S_STAT_NO_XSK_UDP);

	count(O7S_STAT_PASSED);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
