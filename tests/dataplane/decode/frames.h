/*
 * Test-only frame builder: writes link, VLAN, IPv4, IPv6 (+ extension
 * headers), TCP and UDP headers field by field from the RFC layouts, so
 * that the decode tests and the seed writer build their inputs without the
 * decoder's help.  Lengths are computed here from what the caller asks for;
 * nothing is checked (the point is to be able to build malformed frames).
 */
#ifndef ST_TEST_FRAMES_H
#define ST_TEST_FRAMES_H

#include <stdint.h>
#include <string.h>

struct frame {
	uint8_t b[4096];
	uint32_t n;
};

static inline void fr_u8(struct frame *f, uint8_t v)
{
	f->b[f->n++] = v;
}

static inline void fr_be16(struct frame *f, uint16_t v)
{
	fr_u8(f, (uint8_t)(v >> 8));
	fr_u8(f, (uint8_t)v);
}

static inline void fr_be32(struct frame *f, uint32_t v)
{
	fr_be16(f, (uint16_t)(v >> 16));
	fr_be16(f, (uint16_t)v);
}

static inline void fr_le32(struct frame *f, uint32_t v)
{
	fr_u8(f, (uint8_t)v);
	fr_u8(f, (uint8_t)(v >> 8));
	fr_u8(f, (uint8_t)(v >> 16));
	fr_u8(f, (uint8_t)(v >> 24));
}

static inline void fr_bytes(struct frame *f, const void *p, uint32_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static inline void fr_fill(struct frame *f, uint8_t v, uint32_t n)
{
	memset(f->b + f->n, v, n);
	f->n += n;
}

/* Payload bytes 'a', 'b', ... so that a shifted payload pointer shows. */
static inline void fr_payload(struct frame *f, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		fr_u8(f, (uint8_t)('a' + i % 26));
}

static inline void fr_eth(struct frame *f, uint16_t ethertype)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	fr_bytes(f, macs, sizeof(macs));
	fr_be16(f, ethertype);
}

static inline void fr_vlan(struct frame *f, uint16_t tci, uint16_t ethertype)
{
	fr_be16(f, tci);
	fr_be16(f, ethertype);
}

/* Linux cooked v1 (16 bytes): packet type, ARPHRD, address length,
 * address (8), protocol. */
static inline void fr_sll(struct frame *f, uint16_t protocol)
{
	fr_be16(f, 0);          /* sent to us */
	fr_be16(f, 1);          /* ARPHRD_ETHER */
	fr_be16(f, 6);
	fr_bytes(f, "\x02\x00\x00\x00\x00\x01\x00\x00", 8);
	fr_be16(f, protocol);
}

/* Linux cooked v2 (20 bytes): protocol, reserved, ifindex, ARPHRD,
 * packet type, address length, address (8). */
static inline void fr_sll2(struct frame *f, uint16_t protocol)
{
	fr_be16(f, protocol);
	fr_be16(f, 0);
	fr_be32(f, 3);
	fr_be16(f, 1);
	fr_u8(f, 0);
	fr_u8(f, 6);
	fr_bytes(f, "\x02\x00\x00\x00\x00\x01\x00\x00", 8);
}

/* IPv4 header of ihl_words (>= 5; options are NOPs then EOL) announcing
 * total = ihl_words * 4 + l4_bytes; frag_field is flags + offset. */
static inline void fr_ipv4(struct frame *f, uint32_t src, uint32_t dst, uint8_t proto,
			   unsigned ihl_words, uint32_t l4_bytes, uint16_t frag_field)
{
	uint32_t opt_bytes = ihl_words > 5 ? (ihl_words - 5) * 4 : 0;

	fr_u8(f, (uint8_t)(0x40 | (ihl_words & 0x0f)));
	fr_u8(f, 0);
	fr_be16(f, (uint16_t)(ihl_words * 4 + l4_bytes));
	fr_be16(f, 0x1234);     /* identification */
	fr_be16(f, frag_field);
	fr_u8(f, 64);
	fr_u8(f, proto);
	fr_be16(f, 0);          /* checksum: not verified by the decoder */
	fr_be32(f, src);
	fr_be32(f, dst);
	if (opt_bytes) {
		fr_fill(f, 1, opt_bytes - 1);
		fr_u8(f, 0);
	}
}

static inline void fr_ipv6(struct frame *f, const uint8_t src[16], const uint8_t dst[16],
			   uint8_t next, uint16_t payload_bytes)
{
	fr_be32(f, 0x60000000u);
	fr_be16(f, payload_bytes);
	fr_u8(f, next);
	fr_u8(f, 64);
	fr_bytes(f, src, 16);
	fr_bytes(f, dst, 16);
}

/* Hop-by-Hop or Destination Options header of (len8 + 1) * 8 bytes, the
 * rest one PadN option (RFC 8200 section 4.2). */
static inline void fr_ipv6_opts(struct frame *f, uint8_t next, uint8_t len8)
{
	uint32_t bytes = ((uint32_t)len8 + 1) * 8;

	fr_u8(f, next);
	fr_u8(f, len8);
	fr_u8(f, 1);            /* PadN */
	fr_u8(f, (uint8_t)(bytes - 4));
	fr_fill(f, 0, bytes - 4);
}

/* Routing header (RFC 8200 section 4.4), type 253 (RFC 4727
 * experimentation), segments left 0, (len8 + 1) * 8 bytes. */
static inline void fr_ipv6_routing(struct frame *f, uint8_t next, uint8_t len8)
{
	fr_u8(f, next);
	fr_u8(f, len8);
	fr_u8(f, 253);
	fr_u8(f, 0);
	fr_fill(f, 0, ((uint32_t)len8 + 1) * 8 - 4);
}

/* Fragment header (RFC 8200 section 4.5). */
static inline void fr_ipv6_frag(struct frame *f, uint8_t next, uint16_t offset8, int more)
{
	fr_u8(f, next);
	fr_u8(f, 0);
	fr_be16(f, (uint16_t)(offset8 << 3 | (more ? 1 : 0)));
	fr_be32(f, 0xabcdef01u);
}

/* TCP header of doff_words (options are NOPs); the caller appends the
 * payload. */
static inline void fr_tcp(struct frame *f, uint16_t sport, uint16_t dport, uint32_t seq,
			  uint32_t ack, uint8_t flags, unsigned doff_words, uint16_t window)
{
	fr_be16(f, sport);
	fr_be16(f, dport);
	fr_be32(f, seq);
	fr_be32(f, ack);
	fr_u8(f, (uint8_t)(doff_words << 4));
	fr_u8(f, flags);
	fr_be16(f, window);
	fr_be16(f, 0);          /* checksum */
	fr_be16(f, 0);          /* urgent pointer */
	if (doff_words > 5)
		fr_fill(f, 1, (doff_words - 5) * 4);
}

static inline void fr_udp(struct frame *f, uint16_t sport, uint16_t dport, uint16_t len)
{
	fr_be16(f, sport);
	fr_be16(f, dport);
	fr_be16(f, len);
	fr_be16(f, 0);
}

#endif
