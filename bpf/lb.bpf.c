/*
 * XDP L4 load balancer: VIP:port -> Maglev table -> backend.
 *
 * A frame to the VIP (IPv4, TCP and/or UDP to vip_port, st_lb_settings) is
 * hashed on its 5-tuple (st_lb_flow_hash_v4, lb.h), the hash modulo the
 * table size picks a slot of the current Maglev table (inner map of
 * st_lb_tables, key 0), the slot names a backend index, and st_lb_backends
 * gives that backend's address and MAC.  The frame then leaves by one of:
 *   tx        destination MAC := the backend's, source := ours; XDP_TX;
 *   redirect  the same rewrite; bpf_redirect() to egress_ifindex;
 *   ipip      an outer IPv4 header (RFC 2003 section 3.1: protocol 4, the
 *             inner datagram unchanged) from ipip_source to the backend is
 *             pushed in front of the inner IPv4 header, the Ethernet header
 *             rewritten as for tx; XDP_TX.  Untagged frames only.
 * Everything else passes to the kernel stack.  Each frame ends in exactly
 * one counter of enum st_lb_counter; forwarded frames are also counted per
 * backend in st_lb_backend_stats.
 *
 * The table swap is atomic for packets: the program reads st_lb_active
 * once per packet and looks up that key's inner map once.  User space
 * installs a new table in the other key of st_lb_tables (an update the
 * kernel completes only after an RCU grace period, so no packet is still
 * on the table it replaces), then flips st_lb_active with one update of a
 * plain array: the swap proper, microseconds, with no grace period.
 *
 * Headers parsed, each only after checking it lies inside the frame:
 * Ethernet II, up to ST_LB_VLAN_TAGS_MAX tags of 802.1Q (0x8100) or
 * 802.1ad (0x88a8); IPv4 (RFC 791 section 3.1: IHL >= 5, options skipped,
 * MF or a non-zero offset make a fragment, which passes); TCP (RFC 9293
 * section 3.1, 20 bytes) or UDP (RFC 768, 8 bytes) whole.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lb.h"

const volatile struct st_lb_settings st_lb_settings = {};

/* Template of the inner Maglev table.  User space creates every table with
 * these flags and M entries: BPF_F_INNER_MAP lets M differ from the
 * template's, BPF_F_MMAPABLE lets it be filled through a mapping. */
struct st_lb_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct st_lb_slot));  /* struct st_lb_slot */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, ST_LB_TABLE_KEYS);
	__type(key, __u32);
	__array(values, struct st_lb_table);
} st_lb_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} st_lb_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, ST_LB_BACKENDS_MAX);
	__type(key, __u32);
	__type(value, struct st_lb_backend);
} st_lb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_LB_BACKENDS_MAX);
	__type(key, __u32);
	__type(value, struct st_lb_backend_stats);
} st_lb_backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_LB__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} st_lb_counters SEC(".maps");

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88a8)
#define ETH_P_IP_BE bpf_htons(0x0800)
#define IPV4_MF_OFFSET_MASK 0x3fff   /* MF flag and 13-bit fragment offset */
#define IPIP_TTL 64

struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

static __always_inline int count(enum st_lb_counter c, int verdict)
{
	__u32 key = c;
	__u64 *n = bpf_map_lookup_elem(&st_lb_counters, &key);

	if (n)
		*n += 1;  /* per-CPU slot: no other writer */
	return verdict;
}

static __always_inline void count_backend(__u32 index, __u64 bytes)
{
	struct st_lb_backend_stats *s = bpf_map_lookup_elem(&st_lb_backend_stats, &index);

	if (s) {
		s->packets += 1;
		s->bytes += bytes;
	}
}

static __always_inline void set_macs(struct ethhdr *eth, const __u8 *dst)
{
	__builtin_memcpy(eth->h_dest, dst, ETH_ALEN);
	/* Byte by byte: a memcpy would cast the volatile away and let the
	 * compiler fold in the zero initializer. */
#pragma unroll
	for (int i = 0; i < ETH_ALEN; i++)
		eth->h_source[i] = st_lb_settings.src_mac[i];
}

/* RFC 791 section 3.1 header checksum of a 20-byte header whose check is 0. */
static __always_inline __u16 ipv4_checksum(const struct iphdr *ip)
{
	const __u16 *word = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += word[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Pushes the outer IPv4 header; the frame is then eth | outer | inner. */
static __always_inline int encapsulate(struct xdp_md *ctx, const struct iphdr *inner,
				       const struct st_lb_backend *b)
{
	struct iphdr outer = {
		.version = 4,
		.ihl = 5,
		.tos = inner->tos,
		.tot_len = bpf_htons(bpf_ntohs(inner->tot_len) + sizeof(struct iphdr)),
		.id = 0,
		.frag_off = bpf_htons(0x4000),  /* DF */
		.ttl = IPIP_TTL,
		.protocol = IPPROTO_IPIP,
		.check = 0,
		.saddr = st_lb_settings.ipip_source_be,
		.daddr = b->address_be,
	};
	struct ethhdr *eth;
	void *data, *data_end;

	outer.check = ipv4_checksum(&outer);
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if (data + sizeof(*eth) + sizeof(outer) > data_end)
		return -1;
	eth->h_proto = ETH_P_IP_BE;
	set_macs(eth, b->mac);
	__builtin_memcpy(data + sizeof(*eth), &outer, sizeof(outer));
	return 0;
}

SEC("xdp")
int st_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	/* not data_end - data: pointer subtraction is refused without
	 * CAP_PERFMON (see the IP options case below) */
	__u64 frame_bytes = bpf_xdp_get_buff_len(ctx);
	struct ethhdr *eth = data;
	const struct st_lb_backend *b;
	struct iphdr *ip;
	__be16 sport, dport, type;
	__u32 index, slot, zero = 0, key;
	__u32 *active;
	struct st_lb_slot *entry;
	void *table, *l4;
	__u32 l3_off = sizeof(*eth);     /* bytes before the IPv4 header */
	int tagged = 0;
	__u8 bit;

	if ((void *)(eth + 1) > data_end)
		return count(ST_LB_PASS_PARSE_ERROR, XDP_PASS);
	type = eth->h_proto;
	l4 = eth + 1;
#pragma unroll
	for (int i = 0; i < ST_LB_VLAN_TAGS_MAX; i++) {
		struct vlan_tag *tag = l4;

		if (type != ETH_P_8021Q_BE && type != ETH_P_8021AD_BE)
			break;
		if ((void *)(tag + 1) > data_end)
			return count(ST_LB_PASS_PARSE_ERROR, XDP_PASS);
		type = tag->encapsulated_proto;
		l4 = tag + 1;
		l3_off += sizeof(*tag);
		tagged = 1;
	}
	if (type != ETH_P_IP_BE)
		return count(ST_LB_PASS_NOT_IPV4, XDP_PASS);

	ip = l4;
	if ((void *)(ip + 1) > data_end)
		return count(ST_LB_PASS_PARSE_ERROR, XDP_PASS);
	if (ip->version != 4 || ip->ihl < 5)
		return count(ST_LB_PASS_PARSE_ERROR, XDP_PASS);
	if (ip->protocol == IPPROTO_TCP)
		bit = ST_LB_TCP;
	else if (ip->protocol == IPPROTO_UDP)
		bit = ST_LB_UDP;
	else
		bit = 0;
	if (ip->daddr != st_lb_settings.vip_be || !(bit & st_lb_settings.transport))
		return count(ST_LB_PASS_NOT_VIP, XDP_PASS);
	if (ip->frag_off & bpf_htons(IPV4_MF_OFFSET_MASK))
		return count(ST_LB_PASS_FRAGMENT, XDP_PASS);
	if (ip->ihl == 5) {
		l4 = ip + 1;
		if (bit == ST_LB_TCP) {
			struct tcphdr *tcp = l4;

			if ((void *)(tcp + 1) > data_end)
				return count(ST_LB_PASS_PARSE_ERROR, XDP_PASS);
			sport = tcp->source;
			dport = tcp->dest;
		} else {
			struct udphdr *udp = l4;

			if ((void *)(udp + 1) > data_end)
				return count(ST_LB_PASS_PARSE_ERROR, XDP_PASS);
			sport = udp->source;
			dport = udp->dest;
		}
	} else {
		/* IP options (RFC 791 section 3.1): the transport header's
		 * offset is not a constant, and the verifier refuses a
		 * variable offset on a packet pointer to a loader without
		 * CAP_PERFMON (shadowtap-cp keeps CAP_BPF and CAP_NET_ADMIN
		 * only), so the header is copied out by offset instead. */
		__u32 off = l3_off + ip->ihl * 4;

		if (bit == ST_LB_TCP) {
			struct tcphdr tcp;

			if (bpf_xdp_load_bytes(ctx, off, &tcp, sizeof(tcp)))
				return count(ST_LB_PASS_PARSE_ERROR, XDP_PASS);
			sport = tcp.source;
			dport = tcp.dest;
		} else {
			struct udphdr udp;

			if (bpf_xdp_load_bytes(ctx, off, &udp, sizeof(udp)))
				return count(ST_LB_PASS_PARSE_ERROR, XDP_PASS);
			sport = udp.source;
			dport = udp.dest;
		}
	}
	if (dport != st_lb_settings.vip_port_be)
		return count(ST_LB_PASS_NOT_VIP, XDP_PASS);

	active = bpf_map_lookup_elem(&st_lb_active, &zero);
	if (!active)
		return count(ST_LB_PASS_NO_TABLE, XDP_PASS);
	key = *active & (ST_LB_TABLE_KEYS - 1);
	table = bpf_map_lookup_elem(&st_lb_tables, &key);
	if (!table || st_lb_settings.table_size == 0)
		return count(ST_LB_PASS_NO_TABLE, XDP_PASS);
	slot = st_lb_flow_hash_v4(ip->saddr, ip->daddr, sport, dport, ip->protocol) %
	       st_lb_settings.table_size;
	entry = bpf_map_lookup_elem(table, &slot);
	if (!entry)
		return count(ST_LB_DROP_NO_BACKEND, XDP_DROP);
	index = entry->backend_index;
	b = bpf_map_lookup_elem(&st_lb_backends, &index);
	if (!b || !b->in_use)
		return count(ST_LB_DROP_NO_BACKEND, XDP_DROP);

	switch (st_lb_settings.forward) {
	case ST_LB_FWD_IPIP:
		if (tagged)
			return count(ST_LB_PASS_UNSUPPORTED, XDP_PASS);
		if (encapsulate(ctx, ip, b))
			return count(ST_LB_DROP_HEADROOM, XDP_DROP);
		count_backend(index, frame_bytes);
		return count(ST_LB_FORWARDED, XDP_TX);
	case ST_LB_FWD_REDIRECT:
		set_macs(eth, b->mac);
		count_backend(index, frame_bytes);
		count(ST_LB_FORWARDED, 0);
		return bpf_redirect(st_lb_settings.egress_ifindex, 0);
	default:
		set_macs(eth, b->mac);
		count_backend(index, frame_bytes);
		return count(ST_LB_FORWARDED, XDP_TX);
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
