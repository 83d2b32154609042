// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only
/*
 * o7s_steer: the XDP program on every o7s port. It sends o7s frames to the
 * AF_XDP socket of the rx queue they arrived on and passes everything else
 * to the kernel untouched.
 *
 *   frame --> Ethernet --+-- Ethertype == cfg.ethertype ------------> XSK (eth-dix shim)
 *                        +-- IPv4 / IPv6 --> UDP dport == cfg.udp_port -> XSK (udp shim)
 *                        +-- anything else (ARP, ND, TCP, VLAN...) --> XDP_PASS
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

	if (eth->h_proto == bpf_htons(ethertype))
		return steer(ctx, O7S_STAT_REDIRECTED_ETH, O7S_STAT_NO_XSK_ETH);

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
