/*
 * libFuzzer target for the L2-L4 decoder (dataplane/decode).
 *
 * Input: byte 0 picks the link type (linktypes.h), the rest is the frame.
 * st_decode() must read nothing outside the frame (ASan: libFuzzer hands
 * over an exact-size heap copy) and every outcome must hold together:
 *   - the result is a named reason;
 *   - OK: family 4 or 6 (4: both addresses IPv4-mapped), TCP or UDP,
 *     at most two VLAN ids of 12 bits (unused ones 0), frame_len = caplen,
 *     payload inside the frame with payload_len bytes after it;
 *   - UDP: the 8 bytes before the payload are a UDP header with the same
 *     ports and length = payload_len + 8; TCP fields 0;
 *   - TCP: a TCP header with the same ports, seq, ack, flags and window
 *     ends right at the payload, its data offset saying so; and the
 *     frame cut right after the payload (the end of the IP datagram)
 *     still decodes to the same packet while one byte less is a
 *     truncation;
 *   - a second decode gives the same bytes of output.
 * Any violation aborts.
 *
 * Seeds: decode_seeds.c (fuzz-seeds-decode) writes a valid frame of each kind.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/decode/cursor.h"
#include "dataplane/decode/decode.h"
#include "linktypes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                               \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, \
				__LINE__);                                        \
			abort();                                                  \
		}                                                                 \
	} while (0)

static const uint8_t mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };

static void check_udp(const uint8_t *frame, const struct st_pkt *p)
{
	const uint8_t *h = p->payload - 8;

	CHECK(p->payload - frame >= 8);
	CHECK(st_load_be16(h) == p->sport && st_load_be16(h + 2) == p->dport);
	CHECK(st_load_be16(h + 4) == p->payload_len + 8);
	CHECK(p->tcp_seq == 0 && p->tcp_ack == 0 && p->tcp_flags == 0 && p->tcp_window == 0);
}

static bool tcp_header_at(const uint8_t *h, unsigned doff, const struct st_pkt *p)
{
	return h[12] >> 4 == doff && st_load_be16(h) == p->sport &&
	       st_load_be16(h + 2) == p->dport && st_load_be32(h + 4) == p->tcp_seq &&
	       st_load_be32(h + 8) == p->tcp_ack && h[13] == p->tcp_flags &&
	       st_load_be16(h + 14) == p->tcp_window;
}

static void check_tcp(const uint8_t *frame, int linktype, const struct st_pkt *p)
{
	uint32_t before = (uint32_t)(p->payload - frame);
	uint32_t end = before + p->payload_len;
	bool found = false;
	struct st_pkt q;
	uint8_t *cut;

	for (unsigned doff = 5; doff <= 15 && !found; doff++)
		found = before >= doff * 4 && tcp_header_at(p->payload - doff * 4, doff, p);
	CHECK(found);

	cut = malloc(end ? end : 1);
	CHECK(cut);
	memcpy(cut, frame, end);
	CHECK(st_decode(cut, end, linktype, p->ts_ns, &q) == ST_DECODE_OK);
	CHECK(q.payload - cut == p->payload - frame && q.payload_len == p->payload_len);
	CHECK(q.tcp_seq == p->tcp_seq && !memcmp(q.saddr, p->saddr, 16) &&
	      !memcmp(q.daddr, p->daddr, 16));
	if (end > 0) {
		enum st_decode_result r = st_decode(cut, end - 1, linktype, p->ts_ns, &q);

		CHECK(r == ST_DECODE_IPV4_TRUNCATED || r == ST_DECODE_IPV6_TRUNCATED);
	}
	free(cut);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_pkt p, again;
	const uint8_t *frame;
	uint32_t caplen;
	enum st_decode_result r;
	int linktype;

	if (size < 1 || size > UINT32_MAX)
		return 0;
	linktype = fuzz_linktypes[data[0] % FUZZ_LINKTYPES];
	frame = data + 1;
	caplen = (uint32_t)(size - 1);

	memset(&p, 0, sizeof(p));
	memset(&again, 0, sizeof(again));
	r = st_decode(frame, caplen, linktype, 77, &p);
	CHECK((unsigned)r < ST_DECODE__COUNT);
	CHECK(strcmp(st_decode_reason_name(r), "unknown") != 0);
	CHECK(st_decode(frame, caplen, linktype, 77, &again) == r);
	if (r != ST_DECODE_OK)
		return 0;
	CHECK(!memcmp(&p, &again, sizeof(p)));

	CHECK(p.ts_ns == 77 && p.frame_len == caplen);
	CHECK(p.family == 4 || p.family == 6);
	if (p.family == 4) {
		CHECK(!memcmp(p.saddr, mapped_prefix, 12) && !memcmp(p.daddr, mapped_prefix, 12));
	}
	CHECK(p.vlan_depth <= ST_PKT_VLAN_MAX);
	for (unsigned i = 0; i < ST_PKT_VLAN_MAX; i++)
		CHECK(p.vlan_id[i] <= 0x0fff && (i < p.vlan_depth || p.vlan_id[i] == 0));
	CHECK(p.payload >= frame && p.payload <= frame + caplen);
	CHECK(p.payload_len <= caplen - (uint32_t)(p.payload - frame));
	if (p.l4_proto == 17)
		check_udp(frame, &p);
	else if (p.l4_proto == 6)
		check_tcp(frame, linktype, &p);
	else
		CHECK(!"l4_proto is neither TCP nor UDP");
	return 0;
}
