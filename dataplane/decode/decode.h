/*
 * Packet decode: one captured frame in, its L3/L4 identity and the place of
 * its TCP or UDP payload out (struct st_pkt, dataplane/pkt.h), or a named
 * reason why the frame is of no use to the record path.  Every frame gets
 * exactly one outcome; st_decode_count() turns outcomes into per-core
 * counters so that nothing is dropped silently.
 *
 * Link types (the pcap LINKTYPE_/DLT_ numbers, tcpdump.org linktypes):
 *   ST_DLT_EN10MB (1)      Ethernet II; up to ST_PKT_VLAN_MAX tags of
 *                          802.1Q (0x8100), 802.1ad (0x88a8) or the older
 *                          QinQ 0x9100; a deeper stack is "vlan_too_deep".
 *   ST_DLT_NULL (0), ST_DLT_LOOP (108)
 *                          BSD loopback: a 4-byte address family, which
 *                          DLT_NULL writes in the capturing host's order and
 *                          DLT_LOOP in network order.  Both orders are
 *                          accepted for both types: 2 is IPv4; 24, 28 and 30
 *                          (NetBSD/OpenBSD, FreeBSD, macOS) are IPv6.
 *   ST_DLT_LINUX_SLL (113) Linux cooked v1: 16-byte header, protocol
 *                          (ethertype, big-endian) at offset 14.
 *   ST_DLT_LINUX_SLL2 (276) Linux cooked v2: 20-byte header, protocol at
 *                          offset 0.
 *   ST_DLT_RAW (101, and its aliases 12 and 14), ST_DLT_IPV4 (228),
 *   ST_DLT_IPV6 (229)      no link header; the version nibble picks IPv4
 *                          or IPv6 (228/229 insist on theirs).
 * The cooked types may carry VLAN tags after their header; they are
 * handled as on Ethernet.
 *
 * L3: IPv4 (RFC 791 section 3.1): version 4, IHL >= 5, total length >= IHL
 * words; options are skipped; the header checksum is NOT verified (mirrored
 * frames often carry offloaded, unfilled checksums).  The total length ends
 * the datagram: bytes after it (Ethernet padding to 60 bytes) are ignored.
 * IPv6 (RFC 8200 sections 3, 4): version 6; the payload length ends the
 * datagram likewise; extension headers Hop-by-Hop (0), Routing (43) and
 * Destination Options (60) ((len + 1) * 8 bytes, section 4.3-4.6) and
 * AH (51, (len + 2) * 4 bytes, RFC 4302 section 2.2) are walked, at most
 * ST_DECODE_IPV6_EXT_MAX of them; their order is not policed.  A payload
 * length of 0 (a jumbogram, RFC 2675) is "ipv6_bad_header".
 *
 * Fragments are counted ("ip_fragment") and skipped, the first one too:
 * nothing is reassembled.  IPv4: MF set or fragment offset != 0 (RFC 791).
 * IPv6: any Fragment header (44), atomic fragments included.
 *
 * Truncation: the captured bytes must hold the whole IP datagram its header
 * announces.  A frame cut short by the snap length is dropped as
 * "ipv4_truncated"/"ipv6_truncated" rather than handed on with a partial
 * payload, so payload_len is always the true L4 payload length and the TCP
 * reassembler sees a missing segment as a sequence gap.
 *
 * L4: TCP (RFC 9293 section 3.1): data offset >= 5 words and within the
 * segment; options skipped.  UDP (RFC 768): 8 <= length <= the IP payload;
 * the UDP length ends the payload.
 *
 * Byte order of the output: see dataplane/pkt.h.  Ports, sequence and
 * acknowledgement numbers and the window are converted to HOST order;
 * saddr/daddr keep the 16 address bytes in NETWORK order, IPv4 as the
 * IPv4-mapped address ::ffff:a.b.c.d.  payload points into the frame.
 *
 * Thread safety: st_decode() and st_decode_reason_name() are pure functions
 * of their arguments (any thread); a struct st_decode_stats belongs to one
 * core and is written by that core only.  Nothing here allocates.
 */
#ifndef ST_DECODE_H
#define ST_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/compiler.h"
#include "dataplane/pkt.h"

/* pcap link types (LINKTYPE_* values; DLT_* where they differ: 12, 14). */
#define ST_DLT_NULL        0
#define ST_DLT_EN10MB      1
#define ST_DLT_RAW_BSD12   12   /* DLT_RAW on most BSDs and Linux */
#define ST_DLT_RAW_BSD14   14   /* DLT_RAW on OpenBSD */
#define ST_DLT_RAW         101  /* LINKTYPE_RAW */
#define ST_DLT_LOOP        108
#define ST_DLT_LINUX_SLL   113
#define ST_DLT_IPV4        228
#define ST_DLT_IPV6        229
#define ST_DLT_LINUX_SLL2  276

#define ST_DECODE_IPV6_EXT_MAX 8   /* extension headers walked per packet */

/* The outcome of st_decode(): OK or the one reason the frame is dropped. */
enum st_decode_result {
	ST_DECODE_OK = 0,               /* "ok": *out describes a TCP/UDP packet */
	ST_DECODE_LINKTYPE_UNSUPPORTED, /* "linktype_unsupported" */
	ST_DECODE_L2_TRUNCATED,         /* "l2_truncated": ends inside the link
					   header or a VLAN tag (raw IP: empty) */
	ST_DECODE_VLAN_TOO_DEEP,        /* "vlan_too_deep": > ST_PKT_VLAN_MAX tags */
	ST_DECODE_NOT_IP,               /* "not_ip": ARP, LLC, MPLS, other family */
	ST_DECODE_IP_BAD_VERSION,       /* "ip_bad_version": version nibble is not
					   the one the link header announced */
	ST_DECODE_IPV4_TRUNCATED,       /* "ipv4_truncated": < 20 bytes, or fewer
					   than the total length */
	ST_DECODE_IPV4_BAD_HEADER,      /* "ipv4_bad_header": IHL < 5 or total
					   length < header length */
	ST_DECODE_IPV6_TRUNCATED,       /* "ipv6_truncated": < 40 bytes, or fewer
					   than 40 + payload length */
	ST_DECODE_IPV6_BAD_HEADER,      /* "ipv6_bad_header": payload length 0 */
	ST_DECODE_IPV6_EXT_TRUNCATED,   /* "ipv6_ext_truncated": an extension
					   header runs past the payload */
	ST_DECODE_IPV6_EXT_TOO_MANY,    /* "ipv6_ext_too_many" */
	ST_DECODE_IP_FRAGMENT,          /* "ip_fragment" */
	ST_DECODE_NOT_TCP_UDP,          /* "not_tcp_udp": ICMP, ESP, SCTP, ... */
	ST_DECODE_TCP_TRUNCATED,        /* "tcp_truncated": < 20 bytes of segment */
	ST_DECODE_TCP_BAD_HEADER,       /* "tcp_bad_header": data offset < 5 or
					   past the segment's end */
	ST_DECODE_UDP_TRUNCATED,        /* "udp_truncated": < 8 bytes of datagram */
	ST_DECODE_UDP_BAD_LENGTH,       /* "udp_bad_length": length < 8 or past
					   the IP payload */
	ST_DECODE__COUNT
};

/* Per-core counters.  frames = ok + sum(drops); drops[ST_DECODE_OK] stays 0. */
struct st_decode_stats {
	uint64_t frames;
	uint64_t bytes;                     /* sum of frame_len (captured) */
	uint64_t ok;
	uint64_t drops[ST_DECODE__COUNT];   /* indexed by enum st_decode_result */
} ST_CACHE_ALIGNED;

/*
 * Decodes one frame of `caplen` captured bytes of link type `linktype`.
 * Reads only bytes in [frame, frame + caplen).  On ST_DECODE_OK every field
 * of *out is set (ts_ns = ts_ns, frame_len = caplen, payload inside the
 * frame, payload + payload_len <= frame + caplen; tcp_* are 0 for UDP;
 * vlan_id[i] is 0 for i >= vlan_depth).  On any other result *out is
 * partly written and means nothing.  Never allocates; any thread.
 */
enum st_decode_result st_decode(const uint8_t *frame, uint32_t caplen, int linktype,
				uint64_t ts_ns, struct st_pkt *out);

/* True when st_decode() knows `linktype`.  Any thread. */
bool st_decode_linktype_supported(int linktype);

/* The snake_case name of a result ("ok", "not_ip", ...); "unknown" for a
 * value outside the enum.  Static strings; any thread. */
const char *st_decode_reason_name(enum st_decode_result result);

/* Counts one outcome for a frame of frame_len captured bytes.  Owner core
 * only.  A result outside the enum counts as linktype_unsupported: it
 * cannot come from st_decode(). */
static inline void st_decode_count(struct st_decode_stats *s, enum st_decode_result result,
				   uint32_t frame_len)
{
	s->frames++;
	s->bytes += frame_len;
	if (likely(result == ST_DECODE_OK))
		s->ok++;
	else if ((unsigned)result < ST_DECODE__COUNT)
		s->drops[result]++;
	else
		s->drops[ST_DECODE_LINKTYPE_UNSUPPORTED]++;
}

#endif
