// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only
/*
 * The benchmark baseline: the plain in-kernel XDP_REDIRECT forwarder that o7s
 * is measured against (what a port-to-port XDP fast path costs without any
 * parsing or table lookup).
 *
 *   in_if --[xdp_fwd: redirect to tx_port[0]]--> out_if ~~veth~~> peer [xdp_pass]
 *
 * xdp_pass exists for veth: a veth only accepts XDP-redirected frames
 * (ndo_xdp_xmit) when its peer runs an XDP program, so the benchmark attaches
 * this no-op to the far end.
 *
 * xdp_count is the benchmark's sink: it counts frames and octets in a per-CPU
 * slot and drops them, so that receiving costs as little as the kernel allows
 * and never bounds the forwarder being measured.
 *
 *   forwarder ~~veth~~> sink_if [xdp_count: packets++, bytes += len; XDP_DROP]
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/*
 * The value is struct bpf_devmap_val (ifindex + optional chained program),
 * not a bare ifindex: aya's DevMap insists on that layout on kernels >= 5.8.
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} tx_port SEC(".maps");

SEC("xdp")
int xdp_fwd(struct xdp_md *ctx)
{
	/* An empty slot makes the helper return the flags' action: XDP_ABORTED. */
	return bpf_redirect_map(&tx_port, 0, 0);
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* What xdp_count has seen, per CPU; the loader sums the CPUs' slots. */
struct sink_count {
	__u64 packets;
	__u64 bytes; /* frame octets from the destination MAC on, no FCS */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sink_count);
} sink_counts SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	const __u32 zero = 0;
	struct sink_count *c = bpf_map_lookup_elem(&sink_counts, &zero);

	/* Per-CPU slot: no other CPU writes it, plain adds are enough. */
	if (c) {
		c->packets += 1;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
