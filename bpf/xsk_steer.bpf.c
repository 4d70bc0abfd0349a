/*
 * XDP steering for the native AF_XDP capture backend (dataplane/capture/xdp.c).
 *
 * Every frame goes one of two ways: to the AF_XDP socket of the rx queue it
 * arrived on, when its source OR destination TCP/UDP port is listed with its
 * protocol in st_xsk_ports; otherwise on to the kernel stack (XDP_PASS), so
 * that a monitoring host keeps its ARP, SSH and everything else.  Each frame
 * ends in exactly one counter of enum st_xsk_counter (xsk_steer.h).
 *
 * Headers parsed, each only after checking it lies inside the frame:
 *   Ethernet II (IEEE 802.3 clause 3.2.6 length/type), then up to
 *   ST_XSK_VLAN_TAGS_MAX tags of 802.1Q (0x8100) or 802.1ad (0x88a8);
 *   IPv4 (RFC 791 section 3.1): IHL >= 5 and options skipped; a frame with
 *   MF set or a non-zero fragment offset is a fragment and passes (only the
 *   first carries the ports, and the record path skips fragments anyway);
 *   IPv6 (RFC 8200 section 4): up to ST_XSK_IPV6_EXT_MAX extension headers
 *   among Hop-by-Hop (0), Routing (43), Destination Options (60) — length
 *   (Hdr Ext Len + 1) * 8 — and AH (51, RFC 4302 section 2.2: (Payload Len
 *   + 2) * 4); a Fragment header (44) makes the frame a fragment;
 *   TCP (RFC 9293 section 3.1: 20 bytes at least) and UDP (RFC 768: 8 bytes)
 *   headers must be whole for a match.
 *
 * bpf_redirect_map() with XDP_PASS as its flags falls back to XDP_PASS when
 * the queue has no socket in st_xsk_sockets, which is counted apart.
 * Every loop has a constant bound, so the verifier accepts the program.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xsk_steer.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, ST_XSK_QUEUES_MAX);
	__type(key, __u32);
	__type(value, __u32);
} st_xsk_sockets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_XSK_PORTS_MAX);
	__type(key, struct st_xsk_port_key);
	__type(value, __u8);
} st_xsk_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_XSK__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} st_xsk_counters SEC(".maps");

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88a8)
#define ETH_P_IP_BE bpf_htons(0x0800)
#define ETH_P_IPV6_BE bpf_htons(0x86dd)
#define IPV4_MF_OFFSET_MASK 0x3fff   /* MF flag and 13-bit fragment offset */

struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* The 2 bytes every IPv6 extension header we skip starts with. */
struct ipv6_ext {
	__u8 next_header;
	__u8 length;
};

/* The parse position: the next header starts at pos, the frame ends at end. */
struct cursor {
	void *pos;
	void *end;
};

static __always_inline int count(enum st_xsk_counter c, int verdict)
{
	__u32 key = c;
	__u64 *n = bpf_map_lookup_elem(&st_xsk_counters, &key);

	if (n)
		*n += 1;  /* per-CPU slot: no other writer */
	return verdict;
}

/* Skips Ethernet and up to two VLAN tags; returns the EtherType (network
 * order) or 0 when the frame is too short. */
static __always_inline __be16 parse_ethernet(struct cursor *c)
{
	struct ethhdr *eth = c->pos;
	__be16 type;

	if ((void *)(eth + 1) > c->end)
		return 0;
	type = eth->h_proto;
	c->pos = eth + 1;
#pragma unroll
	for (int i = 0; i < ST_XSK_VLAN_TAGS_MAX; i++) {
		struct vlan_tag *tag = c->pos;

		if (type != ETH_P_8021Q_BE && type != ETH_P_8021AD_BE)
			break;
		if ((void *)(tag + 1) > c->end)
			return 0;
		type = tag->encapsulated_proto;
		c->pos = tag + 1;
	}
	return type;
}

/* Returns the L4 protocol after the IPv4 header, or a negative counter. */
static __always_inline int parse_ipv4(struct cursor *c)
{
	struct iphdr *ip = c->pos;
	__u32 header_bytes;

	if ((void *)(ip + 1) > c->end)
		return -ST_XSK_PASS_PARSE_ERROR;
	if (ip->version != 4 || ip->ihl < 5)
		return -ST_XSK_PASS_PARSE_ERROR;
	if (ip->frag_off & bpf_htons(IPV4_MF_OFFSET_MASK))
		return -ST_XSK_PASS_FRAGMENT;
	header_bytes = ip->ihl * 4;  /* 20..60 */
	if (c->pos + header_bytes > c->end)
		return -ST_XSK_PASS_PARSE_ERROR;
	c->pos += header_bytes;
	return ip->protocol;
}

/* Returns the L4 protocol after the IPv6 header and the extension headers
 * we skip, or a negative counter. */
static __always_inline int parse_ipv6(struct cursor *c)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 next;

	if ((void *)(ip6 + 1) > c->end)
		return -ST_XSK_PASS_PARSE_ERROR;
	if (ip6->version != 6)
		return -ST_XSK_PASS_PARSE_ERROR;
	next = ip6->nexthdr;
	c->pos = ip6 + 1;
	for (int i = 0; i < ST_XSK_IPV6_EXT_MAX; i++) {
		struct ipv6_ext *ext = c->pos;
		__u32 ext_bytes;

		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
			break;
		case IPPROTO_FRAGMENT:
			return -ST_XSK_PASS_FRAGMENT;
		default:
			return next;
		}
		if ((void *)(ext + 1) > c->end)
			return -ST_XSK_PASS_PARSE_ERROR;
		if (next == IPPROTO_AH)
			ext_bytes = ((__u32)ext->length + 2) * 4;
		else
			ext_bytes = ((__u32)ext->length + 1) * 8;
		if (c->pos + ext_bytes > c->end)
			return -ST_XSK_PASS_PARSE_ERROR;
		next = ext->next_header;
		c->pos += ext_bytes;
	}
	/* The bound ran out while headers still needed skipping. */
	switch (next) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
		return -ST_XSK_PASS_PARSE_ERROR;
	case IPPROTO_FRAGMENT:
		return -ST_XSK_PASS_FRAGMENT;
	default:
		return next;
	}
}

static __always_inline int port_is_steered(__u8 l4_proto, __be16 port_be)
{
	struct st_xsk_port_key key = {
		.l4_proto = l4_proto, .pad = 0, .port_be = port_be,
	};

	return bpf_map_lookup_elem(&st_xsk_ports, &key) != NULL;
}

SEC("xdp")
int st_xsk_steer(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__be16 sport, dport;
	__be16 ether_type;
	int l4_proto;
	long verdict;

	ether_type = parse_ethernet(&c);
	if (ether_type == 0)
		return count(ST_XSK_PASS_PARSE_ERROR, XDP_PASS);
	if (ether_type == ETH_P_IP_BE)
		l4_proto = parse_ipv4(&c);
	else if (ether_type == ETH_P_IPV6_BE)
		l4_proto = parse_ipv6(&c);
	else
		return count(ST_XSK_PASS_NOT_IP, XDP_PASS);
	if (l4_proto < 0)
		return count(-l4_proto, XDP_PASS);

	if (l4_proto == IPPROTO_TCP) {
		struct tcphdr *tcp = c.pos;

		if ((void *)(tcp + 1) > c.end)
			return count(ST_XSK_PASS_PARSE_ERROR, XDP_PASS);
		sport = tcp->source;
		dport = tcp->dest;
	} else if (l4_proto == IPPROTO_UDP) {
		struct udphdr *udp = c.pos;

		if ((void *)(udp + 1) > c.end)
			return count(ST_XSK_PASS_PARSE_ERROR, XDP_PASS);
		sport = udp->source;
		dport = udp->dest;
	} else {
		return count(ST_XSK_PASS_NOT_TCP_UDP, XDP_PASS);
	}

	if (!port_is_steered(l4_proto, dport) && !port_is_steered(l4_proto, sport))
		return count(ST_XSK_PASS_UNMATCHED, XDP_PASS);

	verdict = bpf_redirect_map(&st_xsk_sockets, ctx->rx_queue_index, XDP_PASS);
	if (verdict == XDP_REDIRECT)
		return count(ST_XSK_REDIRECTED, XDP_REDIRECT);
	return count(ST_XSK_PASS_NO_SOCKET, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
