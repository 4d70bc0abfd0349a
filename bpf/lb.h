/*
 * What the XDP L4 load balancer (lb.bpf.c) and its user-space actuator
 * (control/actuate/xdplb/) exchange: map names, key and value layouts, the
 * load-time settings, the counter indices, and the flow hash both sides
 * must compute identically.  Included by both sides: kernel fixed-width
 * types only.
 *
 * Maps (one line each; names are what bpf_object__find_map_by_name() finds):
 *   st_lb_tables    ARRAY_OF_MAPS, key 0 or 1 -> a Maglev table (an inner
 *                   mmapable ARRAY of table_size struct st_lb_slot); the
 *                   one st_lb_active names is current, the other is where
 *                   user space installs the next table
 *   st_lb_active    ARRAY, key 0 -> __u32, the st_lb_tables key that is
 *                   current; the swap is one update of it
 *   st_lb_backends  mmapable ARRAY, backend index -> struct st_lb_backend
 *                   (address, MAC, weight, name); user space writes an
 *                   index only while no table in use names it
 *   st_lb_backend_stats PERCPU_ARRAY, backend index -> struct
 *                   st_lb_backend_stats (packets, bytes forwarded)
 *   st_lb_counters  PERCPU_ARRAY, enum st_lb_counter -> __u64 packets
 * Settings: `const volatile struct st_lb_settings st_lb_settings` in
 * .rodata, written by user space between open and load.
 *
 * The flow hash (st_lb_flow_hash_v4), the one both sides use:
 *   key = the 13 bytes  saddr[4] daddr[4] sport[2] dport[2] proto[1],
 *         every field in network byte order exactly as on the wire;
 *   h   = FNV-1a 32 over key (offset basis 2166136261, prime 16777619:
 *         for each byte, h ^= byte; h *= prime; mod 2^32);
 *   then the MurmurHash3 fmix32 finalizer, so that the low digits (h mod M)
 *   depend on every input bit:  h ^= h >> 16; h *= 0x85ebca6b;
 *   h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16;
 *   slot = h mod table_size.
 */
#ifndef ST_BPF_LB_H
#define ST_BPF_LB_H

#include <linux/types.h>

#define ST_LB_BACKENDS_MAX 1024     /* entries of st_lb_backends (== config) */
#define ST_LB_NAME_BYTES 64         /* a backend's name, NUL included */
#define ST_LB_VLAN_TAGS_MAX 2       /* 802.1Q / 802.1ad tags parsed */

#define ST_LB_MAP_TABLES "st_lb_tables"
#define ST_LB_MAP_ACTIVE "st_lb_active"
#define ST_LB_TABLE_KEYS 2          /* entries of st_lb_tables */
#define ST_LB_MAP_BACKENDS "st_lb_backends"
#define ST_LB_MAP_BACKEND_STATS "st_lb_backend_stats"
#define ST_LB_MAP_COUNTERS "st_lb_counters"
#define ST_LB_PROG_NAME "st_lb"

/* Transports balanced (st_lb_settings.transport): a bit set. */
#define ST_LB_TCP 1
#define ST_LB_UDP 2

/* How a packet reaches its backend (st_lb_settings.forward). */
enum st_lb_forward {
	ST_LB_FWD_TX = 0,        /* dst MAC := backend's, src := ours, XDP_TX */
	ST_LB_FWD_REDIRECT = 1,  /* the same rewrite, bpf_redirect(egress) */
	ST_LB_FWD_IPIP = 2,      /* outer IPv4 (RFC 2003) to the backend, XDP_TX */
};

/* Load-time settings (.rodata).  Addresses and ports in network order. */
struct st_lb_settings {
	__be32 vip_be;           /* the virtual IPv4 address */
	__be16 vip_port_be;      /* its port */
	__u8 transport;          /* ST_LB_TCP | ST_LB_UDP */
	__u8 forward;            /* enum st_lb_forward */
	__u32 table_size;        /* Maglev M: every inner table has M entries */
	__u32 egress_ifindex;    /* redirect: where frames leave */
	__be32 ipip_source_be;   /* ipip: the outer source address */
	__u8 src_mac[6];         /* the MAC frames leave with */
	__u8 reserved[2];        /* 0 */
};
_Static_assert(sizeof(struct st_lb_settings) == 28, "st_lb_settings is 28 bytes");

/* Value of an inner table: 8 bytes, the kernel's array element stride, so
 * that user space fills a table through its mapping slot by slot. */
struct st_lb_slot {
	__u32 backend_index;     /* into st_lb_backends */
	__u32 reserved;          /* 0 */
};
_Static_assert(sizeof(struct st_lb_slot) == 8, "st_lb_slot is 8 bytes");

/* Value of st_lb_backends.  in_use 0: no table names this index. */
struct st_lb_backend {
	__be32 address_be;       /* IPv4 */
	__u8 mac[6];             /* the frame's destination MAC */
	__u8 in_use;             /* 1 when the entry is valid */
	__u8 reserved;           /* 0 */
	__u32 weight;            /* the weight applied (1..65535), for read back */
	char name[ST_LB_NAME_BYTES]; /* the config's name, NUL-terminated */
};
_Static_assert(sizeof(struct st_lb_backend) == 80, "st_lb_backend is 80 bytes");

/* Value of st_lb_backend_stats (one per CPU; user space sums them). */
struct st_lb_backend_stats {
	__u64 packets;
	__u64 bytes;             /* frame bytes as received */
};

/* Every packet the program sees ends in exactly one counter, so the sum of
 * all counters == packets seen. */
enum st_lb_counter {
	ST_LB_FORWARDED = 0,     /* sent to a backend (per backend: stats map) */
	ST_LB_PASS_NOT_IPV4,     /* not IPv4 (ARP, IPv6, ...) */
	ST_LB_PASS_NOT_VIP,      /* IPv4 not to VIP:port over a balanced transport */
	ST_LB_PASS_FRAGMENT,     /* an IPv4 fragment to the VIP (no ports) */
	ST_LB_PASS_PARSE_ERROR,  /* truncated or malformed header */
	ST_LB_PASS_NO_TABLE,     /* VIP packet, but no table is installed */
	ST_LB_PASS_UNSUPPORTED,  /* ipip of a VLAN-tagged frame */
	ST_LB_DROP_NO_BACKEND,   /* the slot names an index not in use */
	ST_LB_DROP_HEADROOM,     /* ipip: no room for the outer header */
	ST_LB__COUNT
};

#define ST_LB_FNV_BASIS 2166136261u
#define ST_LB_FNV_PRIME 16777619u

/* Inlined: the BPF side needs no subprogram call for it. */
#define ST_LB_INLINE static inline __attribute__((always_inline))

ST_LB_INLINE __u32 st_lb_fnv1a(__u32 h, const __u8 *bytes, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		h ^= bytes[i];
		h *= ST_LB_FNV_PRIME;
	}
	return h;
}

/* The flow hash of the header comment; the arguments in network order. */
ST_LB_INLINE __u32 st_lb_flow_hash_v4(__be32 saddr, __be32 daddr, __be16 sport,
				       __be16 dport, __u8 proto)
{
	__u32 h = ST_LB_FNV_BASIS;

	h = st_lb_fnv1a(h, (const __u8 *)&saddr, 4);
	h = st_lb_fnv1a(h, (const __u8 *)&daddr, 4);
	h = st_lb_fnv1a(h, (const __u8 *)&sport, 2);
	h = st_lb_fnv1a(h, (const __u8 *)&dport, 2);
	h = st_lb_fnv1a(h, &proto, 1);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

#endif
