/*
 * libFuzzer target for the JSONL codec (dataplane/codec/jsonl.c).
 *
 * The input's first byte seeds how the rest is cut into TCP segments (and
 * where gaps fall when its top bit is set); the rest is the byte stream of
 * one direction.  The target plays the reassembler (a carry of the
 * unconsumed bytes) and aborts when the carry contract breaks (consumed >
 * len; len > ST_CODEC_HOLD_MAX with nothing consumed; a carry above
 * ST_CODEC_HOLD_MAX), when an event is malformed (value_len > value_bytes,
 * a value outside the offered bytes and outside the codec's state), or when
 * the counts are wrong: without gaps, the records equal the non-empty
 * lines that end in "\n", counted here independently; datagram() of the
 * same bytes gives every non-empty line, the last one included.
 *
 * Seeds: fuzz-seeds-jsonl (jsonl_seeds.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
	const uint8_t *lo, *hi;          /* the bytes offered to this call */
	const uint8_t *state_lo, *state_hi;
	uint64_t events;
};

static void on_record(void *ctx, const struct st_record *r)
{
	struct check *c = ctx;
	bool in_data, in_state;

	if (r->value_len > r->value_bytes || r->value_len == 0 ||
	    r->proto != ST_PROTO_JSONL || r->count != 1 || r->stream)
		abort();
	in_data = r->value >= c->lo && r->value + r->value_len <= c->hi;
	in_state = r->value >= c->state_lo && r->value + r->value_len <= c->state_hi;
	if (!in_data && !in_state)
		abort();
	if ((r->flags & ST_REC_F_VALUE_TRUNCATED) != (r->value_len < r->value_bytes ?
						      ST_REC_F_VALUE_TRUNCATED : 0))
		abort();
	c->events++;
}

static void on_latency(void *ctx, const struct st_latency *l)
{
	(void)ctx;
	(void)l;
	abort();
}

/* Non-empty lines ("\r" before "\n" stripped); `last` counts an unended one. */
static uint64_t count_lines(const uint8_t *p, size_t n, bool last)
{
	uint64_t lines = 0;
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		size_t len;

		if (i < n && p[i] != '\n')
			continue;
		if (i == n && !last)
			break;
		len = i - start;
		if (len && p[start + len - 1] == '\r')
			len--;
		lines += len != 0;
		start = i + 1;
	}
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t state[ST_CODEC_STATE_MAX] __attribute__((aligned(8)));
	static uint8_t carry[ST_CODEC_HOLD_MAX + 65536];
	struct check c = { .state_lo = state, .state_hi = state + sizeof(state) };
	struct st_codec_sink sink = { on_record, on_latency, &c };
	struct st_codec_stats stats = { 0 };
	const struct st_codec *codec = &st_codec_jsonl;
	size_t carry_len = 0, off = 1;
	uint32_t x;
	bool gaps;

	if (size < 1 || size > 65536)
		return 0;
	x = data[0] * 2654435761u + 1;
	gaps = data[0] & 0x80;
	codec->init(state);
	while (off < size) {
		size_t seg, n, used;
		const uint8_t *p;

		x = x * 1103515245u + 12345u;
		seg = 1 + (x >> 16) % 3000;
		if (seg > size - off)
			seg = size - off;
		if (gaps && (x & 0x7) == 0) {
			carry_len = 0;
			codec->gap(state, ST_DIR_TO_SERVER, &stats);
		}
		memcpy(carry + carry_len, data + off, seg);
		n = carry_len + seg;
		p = carry;
		c.lo = p;
		c.hi = p + n;
		used = codec->feed(state, ST_DIR_TO_SERVER, p, n, 0, &sink, &stats);
		if (used > n || (n > ST_CODEC_HOLD_MAX && used == 0))
			abort();
		memmove(carry, carry + used, n - used);
		carry_len = n - used;
		if (carry_len > ST_CODEC_HOLD_MAX)
			abort();
		off += seg;
	}
	if (stats.records != c.events || stats.egress_records != 0)
		abort();
	if (!gaps && (c.events != count_lines(data + 1, size - 1, false) ||
		      stats.resyncs != 0))
		abort();
	c = (struct check){ data + 1, data + size, state, state + sizeof(state), 0 };
	memset(&stats, 0, sizeof(stats));
	codec->datagram(ST_DIR_TO_CLIENT, data + 1, size - 1, 0, &sink, &stats);
	if (c.events != count_lines(data + 1, size - 1, true) ||
	    stats.egress_records != c.events || stats.records != 0)
		abort();
	return 0;
}
