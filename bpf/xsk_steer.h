/*
 * What the AF_XDP steering program (xsk_steer.bpf.c) and user space
 * (dataplane/capture/xdp.c) exchange: the map names, their key and value
 * layouts, and the counter indices.  Included by both sides, so it uses
 * only the kernel's fixed-width types.
 *
 * Maps (one line each; names are what bpf_object__find_map_by_name() finds):
 *   st_xsk_sockets   XSKMAP, rx queue index -> the AF_XDP socket of that queue
 *   st_xsk_ports     HASH, struct st_xsk_port_key -> __u8 (1): the steered
 *                    (L4 protocol, port) pairs; a frame matches when its
 *                    source OR destination port is listed with its protocol
 *   st_xsk_counters  PERCPU_ARRAY, enum st_xsk_counter -> __u64 frames:
 *                    user space sums the CPUs
 */
#ifndef ST_XSK_STEER_H
#define ST_XSK_STEER_H

#include <linux/types.h>

#define ST_XSK_QUEUES_MAX 64      /* entries of st_xsk_sockets */
#define ST_XSK_PORTS_MAX 256      /* entries of st_xsk_ports */
#define ST_XSK_VLAN_TAGS_MAX 2    /* 802.1Q / 802.1ad tags parsed (QinQ) */
#define ST_XSK_IPV6_EXT_MAX 6     /* IPv6 extension headers skipped */

#define ST_XSK_MAP_SOCKETS "st_xsk_sockets"
#define ST_XSK_MAP_PORTS "st_xsk_ports"
#define ST_XSK_MAP_COUNTERS "st_xsk_counters"
#define ST_XSK_PROG_NAME "st_xsk_steer"

/* Key of st_xsk_ports: 4 bytes, the pad must be zero (it is hashed). */
struct st_xsk_port_key {
	__u8 l4_proto;            /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 pad;                 /* 0 */
	__be16 port_be;           /* network byte order, as on the wire */
};
_Static_assert(sizeof(struct st_xsk_port_key) == 4, "st_xsk_port_key is 4 bytes");

/*
 * Every frame the program sees ends in exactly one counter, so
 * redirected + the PASS_* counters == frames seen.
 */
enum st_xsk_counter {
	ST_XSK_REDIRECTED = 0,    /* handed to the queue's AF_XDP socket */
	ST_XSK_PASS_NOT_IP,       /* neither IPv4 nor IPv6 (ARP, LLDP, ...) */
	ST_XSK_PASS_FRAGMENT,     /* an IPv4 or IPv6 fragment (any offset) */
	ST_XSK_PASS_NOT_TCP_UDP,  /* IP, but the L4 protocol is neither */
	ST_XSK_PASS_UNMATCHED,    /* TCP/UDP, neither port steered */
	ST_XSK_PASS_PARSE_ERROR,  /* truncated or malformed header, or more
				   * IPv6 extension headers than we skip */
	ST_XSK_PASS_NO_SOCKET,    /* matched, but no socket on this rx queue */
	ST_XSK__COUNT
};

#endif
