/*
 * Packet decode: link header -> VLAN tags -> IPv4/IPv6 (+ extension
 * headers) -> TCP/UDP, each layer reading through one bounds-checked cursor
 * (cursor.h) and returning either the next layer's work or the reason the
 * frame stops here.  The specs followed and every decision about malformed
 * input are listed in decode.h.
 *
 * Layout of the work: st_decode() strips the link header and hands an
 * ethertype (or an IP version) to decode_ethertype(), which strips VLAN tags
 * and calls decode_ipv4()/decode_ipv6().  Those clip the cursor to the
 * datagram's own length (dropping link padding) and call decode_l4().
 */
#include <string.h>

#include "dataplane/decode/cursor.h"
#include "dataplane/decode/decode.h"

#define ETHERTYPE_IPV4   0x0800
#define ETHERTYPE_IPV6   0x86dd
#define ETHERTYPE_8021Q  0x8100
#define ETHERTYPE_8021AD 0x88a8
#define ETHERTYPE_QINQ   0x9100   /* pre-802.1ad QinQ, still seen on switches */

#define IPPROTO_HOPOPTS_  0
#define IPPROTO_TCP_      6
#define IPPROTO_UDP_      17
#define IPPROTO_ROUTING_  43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_       51
#define IPPROTO_DSTOPTS_  60

#define ETH_HDR_BYTES   14
#define VLAN_TAG_BYTES  4
#define NULL_HDR_BYTES  4
#define SLL_HDR_BYTES   16
#define SLL_PROTO_OFF   14
#define SLL2_HDR_BYTES  20
#define IPV4_HDR_MIN    20
#define IPV6_HDR_BYTES  40
#define TCP_HDR_MIN     20
#define UDP_HDR_BYTES   8

/* BSD loopback address families (DLT_NULL / DLT_LOOP). */
#define BSD_AF_INET          2
#define BSD_AF_INET6_NETBSD  24
#define BSD_AF_INET6_FREEBSD 28
#define BSD_AF_INET6_DARWIN  30

static const char *const reason_names[ST_DECODE__COUNT] = {
	[ST_DECODE_OK] = "ok",
	[ST_DECODE_LINKTYPE_UNSUPPORTED] = "linktype_unsupported",
	[ST_DECODE_L2_TRUNCATED] = "l2_truncated",
	[ST_DECODE_VLAN_TOO_DEEP] = "vlan_too_deep",
	[ST_DECODE_NOT_IP] = "not_ip",
	[ST_DECODE_IP_BAD_VERSION] = "ip_bad_version",
	[ST_DECODE_IPV4_TRUNCATED] = "ipv4_truncated",
	[ST_DECODE_IPV4_BAD_HEADER] = "ipv4_bad_header",
	[ST_DECODE_IPV6_TRUNCATED] = "ipv6_truncated",
	[ST_DECODE_IPV6_BAD_HEADER] = "ipv6_bad_header",
	[ST_DECODE_IPV6_EXT_TRUNCATED] = "ipv6_ext_truncated",
	[ST_DECODE_IPV6_EXT_TOO_MANY] = "ipv6_ext_too_many",
	[ST_DECODE_IP_FRAGMENT] = "ip_fragment",
	[ST_DECODE_NOT_TCP_UDP] = "not_tcp_udp",
	[ST_DECODE_TCP_TRUNCATED] = "tcp_truncated",
	[ST_DECODE_TCP_BAD_HEADER] = "tcp_bad_header",
	[ST_DECODE_UDP_TRUNCATED] = "udp_truncated",
	[ST_DECODE_UDP_BAD_LENGTH] = "udp_bad_length",
};

const char *st_decode_reason_name(enum st_decode_result result)
{
	if ((unsigned)result >= ST_DECODE__COUNT)
		return "unknown";
	return reason_names[result];
}

bool st_decode_linktype_supported(int linktype)
{
	switch (linktype) {
	case ST_DLT_NULL:
	case ST_DLT_EN10MB:
	case ST_DLT_RAW_BSD12:
	case ST_DLT_RAW_BSD14:
	case ST_DLT_RAW:
	case ST_DLT_LOOP:
	case ST_DLT_LINUX_SLL:
	case ST_DLT_IPV4:
	case ST_DLT_IPV6:
	case ST_DLT_LINUX_SLL2:
		return true;
	default:
		return false;
	}
}

static enum st_decode_result decode_tcp(struct st_cursor *c, struct st_pkt *out)
{
	const uint8_t *h = st_cursor_peek(c, TCP_HDR_MIN);
	uint32_t hdr_bytes;

	if (unlikely(!h))
		return ST_DECODE_TCP_TRUNCATED;
	hdr_bytes = (uint32_t)(h[12] >> 4) * 4;
	if (unlikely(hdr_bytes < TCP_HDR_MIN || !st_cursor_has(c, hdr_bytes)))
		return ST_DECODE_TCP_BAD_HEADER;
	out->sport = st_load_be16(h);
	out->dport = st_load_be16(h + 2);
	out->tcp_seq = st_load_be32(h + 4);
	out->tcp_ack = st_load_be32(h + 8);
	out->tcp_flags = h[13];
	out->tcp_window = st_load_be16(h + 14);
	st_cursor_skip(c, hdr_bytes);
	out->payload = st_cursor_pos(c);
	out->payload_len = st_cursor_left(c);
	return ST_DECODE_OK;
}

static enum st_decode_result decode_udp(struct st_cursor *c, struct st_pkt *out)
{
	const uint8_t *h = st_cursor_peek(c, UDP_HDR_BYTES);
	uint16_t udp_len;

	if (unlikely(!h))
		return ST_DECODE_UDP_TRUNCATED;
	udp_len = st_load_be16(h + 4);
	if (unlikely(udp_len < UDP_HDR_BYTES || !st_cursor_has(c, udp_len)))
		return ST_DECODE_UDP_BAD_LENGTH;
	out->sport = st_load_be16(h);
	out->dport = st_load_be16(h + 2);
	out->tcp_seq = 0;
	out->tcp_ack = 0;
	out->tcp_flags = 0;
	out->tcp_window = 0;
	st_cursor_skip(c, UDP_HDR_BYTES);
	out->payload = st_cursor_pos(c);
	out->payload_len = udp_len - UDP_HDR_BYTES;
	return ST_DECODE_OK;
}

static enum st_decode_result decode_l4(struct st_cursor *c, uint8_t proto, struct st_pkt *out)
{
	out->l4_proto = proto;
	if (likely(proto == IPPROTO_TCP_))
		return decode_tcp(c, out);
	if (proto == IPPROTO_UDP_)
		return decode_udp(c, out);
	return ST_DECODE_NOT_TCP_UDP;
}

static enum st_decode_result decode_ipv4(struct st_cursor *c, struct st_pkt *out)
{
	static const uint8_t mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *h = st_cursor_peek(c, IPV4_HDR_MIN);
	uint32_t hdr_bytes;
	uint16_t total_bytes;

	if (unlikely(!h))
		return ST_DECODE_IPV4_TRUNCATED;
	if (unlikely(h[0] >> 4 != 4))
		return ST_DECODE_IP_BAD_VERSION;
	hdr_bytes = (uint32_t)(h[0] & 0x0f) * 4;
	total_bytes = st_load_be16(h + 2);
	if (unlikely(hdr_bytes < IPV4_HDR_MIN || total_bytes < hdr_bytes))
		return ST_DECODE_IPV4_BAD_HEADER;
	if (unlikely(!st_cursor_limit(c, total_bytes)))
		return ST_DECODE_IPV4_TRUNCATED;
	/* Flags and fragment offset: MF is 0x2000, the offset the low 13 bits. */
	if (unlikely(st_load_be16(h + 6) & 0x3fff))
		return ST_DECODE_IP_FRAGMENT;
	out->family = 4;
	memcpy(out->saddr, mapped_prefix, sizeof(mapped_prefix));
	memcpy(out->saddr + 12, h + 12, 4);
	memcpy(out->daddr, mapped_prefix, sizeof(mapped_prefix));
	memcpy(out->daddr + 12, h + 16, 4);
	st_cursor_skip(c, hdr_bytes);
	return decode_l4(c, h[9], out);
}

static enum st_decode_result decode_ipv6(struct st_cursor *c, struct st_pkt *out)
{
	const uint8_t *h = st_cursor_peek(c, IPV6_HDR_BYTES);
	uint16_t payload_bytes;
	uint8_t next;

	if (unlikely(!h))
		return ST_DECODE_IPV6_TRUNCATED;
	if (unlikely(h[0] >> 4 != 6))
		return ST_DECODE_IP_BAD_VERSION;
	payload_bytes = st_load_be16(h + 4);
	if (unlikely(payload_bytes == 0))
		return ST_DECODE_IPV6_BAD_HEADER;
	st_cursor_skip(c, IPV6_HDR_BYTES);
	if (unlikely(!st_cursor_limit(c, payload_bytes)))
		return ST_DECODE_IPV6_TRUNCATED;
	out->family = 6;
	memcpy(out->saddr, h + 8, 16);
	memcpy(out->daddr, h + 24, 16);
	next = h[6];

	for (unsigned walked = 0;; walked++) {
		const uint8_t *ext;
		uint32_t ext_bytes;

		switch (next) {
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
		case IPPROTO_AH_:
			break;
		case IPPROTO_FRAGMENT_:
			return ST_DECODE_IP_FRAGMENT;
		default:
			return decode_l4(c, next, out);
		}
		if (unlikely(walked == ST_DECODE_IPV6_EXT_MAX))
			return ST_DECODE_IPV6_EXT_TOO_MANY;
		ext = st_cursor_peek(c, 2);
		if (unlikely(!ext))
			return ST_DECODE_IPV6_EXT_TRUNCATED;
		if (next == IPPROTO_AH_)
			ext_bytes = ((uint32_t)ext[1] + 2) * 4;
		else
			ext_bytes = ((uint32_t)ext[1] + 1) * 8;
		next = ext[0];
		if (unlikely(!st_cursor_skip(c, ext_bytes)))
			return ST_DECODE_IPV6_EXT_TRUNCATED;
	}
}

/* From an ethertype (VLAN tags still ahead of the cursor) to the result. */
static enum st_decode_result decode_ethertype(struct st_cursor *c, uint16_t type,
					      struct st_pkt *out)
{
	while (type == ETHERTYPE_8021Q || type == ETHERTYPE_8021AD || type == ETHERTYPE_QINQ) {
		const uint8_t *tag;

		if (unlikely(out->vlan_depth == ST_PKT_VLAN_MAX))
			return ST_DECODE_VLAN_TOO_DEEP;
		tag = st_cursor_take(c, VLAN_TAG_BYTES);
		if (unlikely(!tag))
			return ST_DECODE_L2_TRUNCATED;
		out->vlan_id[out->vlan_depth++] = st_load_be16(tag) & 0x0fff;
		type = st_load_be16(tag + 2);
	}
	if (likely(type == ETHERTYPE_IPV4))
		return decode_ipv4(c, out);
	if (type == ETHERTYPE_IPV6)
		return decode_ipv6(c, out);
	return ST_DECODE_NOT_IP;
}

/* Raw IP: the version nibble decides; `want` (4, 6 or 0 for either). */
static enum st_decode_result decode_raw(struct st_cursor *c, unsigned want, struct st_pkt *out)
{
	const uint8_t *v = st_cursor_peek(c, 1);
	unsigned version;

	if (unlikely(!v))
		return ST_DECODE_L2_TRUNCATED;
	version = v[0] >> 4;
	if (want && version != want)
		return ST_DECODE_IP_BAD_VERSION;
	if (version == 4)
		return decode_ipv4(c, out);
	if (version == 6)
		return decode_ipv6(c, out);
	return ST_DECODE_IP_BAD_VERSION;
}

/* BSD loopback: the family, in either byte order. */
static enum st_decode_result decode_null(struct st_cursor *c, struct st_pkt *out)
{
	const uint8_t *h = st_cursor_take(c, NULL_HDR_BYTES);
	uint32_t le, be;

	if (unlikely(!h))
		return ST_DECODE_L2_TRUNCATED;
	le = st_load_le32(h);
	be = st_load_be32(h);
	if (le == BSD_AF_INET || be == BSD_AF_INET)
		return decode_raw(c, 4, out);
	if (le == BSD_AF_INET6_NETBSD || be == BSD_AF_INET6_NETBSD ||
	    le == BSD_AF_INET6_FREEBSD || be == BSD_AF_INET6_FREEBSD ||
	    le == BSD_AF_INET6_DARWIN || be == BSD_AF_INET6_DARWIN)
		return decode_raw(c, 6, out);
	return ST_DECODE_NOT_IP;
}

enum st_decode_result st_decode(const uint8_t *frame, uint32_t caplen, int linktype,
				uint64_t ts_ns, struct st_pkt *out)
{
	struct st_cursor c;
	const uint8_t *h;

	st_cursor_init(&c, frame, caplen);
	out->ts_ns = ts_ns;
	out->frame_len = caplen;
	out->vlan_depth = 0;
	out->vlan_id[0] = 0;
	out->vlan_id[1] = 0;

	switch (linktype) {
	case ST_DLT_EN10MB:
		h = st_cursor_take(&c, ETH_HDR_BYTES);
		if (unlikely(!h))
			return ST_DECODE_L2_TRUNCATED;
		return decode_ethertype(&c, st_load_be16(h + 12), out);
	case ST_DLT_LINUX_SLL:
		h = st_cursor_take(&c, SLL_HDR_BYTES);
		if (unlikely(!h))
			return ST_DECODE_L2_TRUNCATED;
		return decode_ethertype(&c, st_load_be16(h + SLL_PROTO_OFF), out);
	case ST_DLT_LINUX_SLL2:
		h = st_cursor_take(&c, SLL2_HDR_BYTES);
		if (unlikely(!h))
			return ST_DECODE_L2_TRUNCATED;
		return decode_ethertype(&c, st_load_be16(h), out);
	case ST_DLT_NULL:
	case ST_DLT_LOOP:
		return decode_null(&c, out);
	case ST_DLT_RAW:
	case ST_DLT_RAW_BSD12:
	case ST_DLT_RAW_BSD14:
		return decode_raw(&c, 0, out);
	case ST_DLT_IPV4:
		return decode_raw(&c, 4, out);
	case ST_DLT_IPV6:
		return decode_raw(&c, 6, out);
	default:
		return ST_DECODE_LINKTYPE_UNSUPPORTED;
	}
}
