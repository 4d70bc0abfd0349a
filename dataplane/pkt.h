/*
 * What the decoder (dataplane/decode) tells the rest of the record path
 * about one frame: its time, its L3/L4 identity and where its L4 payload is.
 * The payload points into the frame (zero copy); nothing here owns memory.
 *
 * Byte order: every integer field below is in HOST order (the decoder
 * converts); addresses are the 16 raw network-order bytes, IPv4 as the
 * IPv4-mapped IPv6 address ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2), so
 * one flow key serves both families.
 */
#ifndef ST_PKT_H
#define ST_PKT_H

#include <stdint.h>

#define ST_PKT_VLAN_MAX 2  /* 802.1Q and 802.1ad (QinQ) */

/* TCP flags (RFC 9293 section 3.1), as in the header's low byte. */
#define ST_TCP_FIN 0x01
#define ST_TCP_SYN 0x02
#define ST_TCP_RST 0x04
#define ST_TCP_PSH 0x08
#define ST_TCP_ACK 0x10
#define ST_TCP_URG 0x20

struct st_pkt {
	uint64_t ts_ns;             /* capture time, ns since the Unix epoch */
	const uint8_t *payload;     /* L4 payload, inside the frame */
	uint32_t payload_len;       /* bytes of L4 payload present */
	uint32_t frame_len;         /* bytes of the frame as captured */
	uint8_t saddr[16];          /* network-order bytes; IPv4 mapped */
	uint8_t daddr[16];
	uint16_t sport;             /* host order */
	uint16_t dport;
	uint8_t family;             /* 4 or 6 */
	uint8_t l4_proto;           /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t tcp_flags;          /* ST_TCP_*; 0 for UDP */
	uint8_t vlan_depth;         /* 0..ST_PKT_VLAN_MAX tags seen */
	uint16_t vlan_id[ST_PKT_VLAN_MAX]; /* outermost first, 12-bit VID */
	uint16_t tcp_window;        /* raw window field (unscaled) */
	uint32_t tcp_seq;           /* host order */
	uint32_t tcp_ack;
};

#endif
