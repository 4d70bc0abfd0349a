/*
 * libFuzzer target for TCP reassembly (dataplane/tcp/reasm.h).
 *
 * The input is a script of segments (reasm_script.h) over a known byte
 * stream whose every 15 bytes say where they are.  A consumer written here
 * parses "units" of that stream (boundaries at offsets the stream defines)
 * under the carry contract, and aborts when:
 *   - a byte it is offered differs from the stream at the offset it
 *     believes it is at (bytes skipped, repeated or misplaced without a
 *     gap() call), or an offer cannot be located in the stream at all;
 *   - after a gap() it finds itself earlier in the stream than where it was,
 *     while no restart (a SYN that restarts the direction, a RST, a
 *     release) happened: a gap only ever loses bytes;
 *   - it is offered zero bytes, or a copy longer than the reassembler's
 *     documented bounds.
 * With a header flag the consumer breaks its promise (never consumes from
 * a long unit): the reassembler must drop the unit, call gap() and go on.
 * After every operation the harness aborts when a direction holds more
 * than its caps (carry, queue segments, queue bytes), when the pool's
 * memory changes or its blocks in use exceed the arena, or when the gap()
 * calls the consumer saw differ from the counters (gaps + syn_restarts +
 * resets of synced directions).  At the end both directions are released
 * and the pool must have no block in use.
 *
 * Seeds: tests/fuzz/tcp/reasm_seeds.c (fuzz-seeds-reasm).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/pkt.h"
#include "dataplane/tcp/reasm.h"
#include "reasm_script.h"

#define LOCATE_BYTES 15  /* any 15 stream bytes hold one whole word */

static uint8_t stream[REASM_STREAM_BYTES];

struct fz_sink {
	size_t hold_max;
	size_t copy_max;          /* longest offer allowed from outside the segment */
	const uint8_t *seg;       /* the payload of the current call */
	size_t seg_len;
	bool located;
	size_t pos;               /* stream offset of the first unconsumed byte */
	size_t last_pos;          /* where it was before the last gap */
	bool may_go_back;         /* a restart since the last gap */
	bool lazy;                /* consumes one unit per offer at most */
	bool stubborn;            /* breaks the promise: never streams a long
				   * unit past, leaving it all unconsumed */
	uint64_t gaps;
};

static void fail(const char *why, size_t a, size_t b)
{
	fprintf(stderr, "reasm invariant violated: %s (%zu, %zu)\n", why, a, b);
	abort();
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool word_at(const uint8_t *p, uint32_t *index)
{
	uint32_t i = be32(p);

	if (i >= REASM_STREAM_BYTES / 8 || be32(p + 4) != reasm_word_check(i))
		return false;
	*index = i;
	return true;
}

/* Unit boundaries: offsets whose hash is 0 mod 37 (units of ~37 bytes,
 * some far longer than hold_max).  The consumer takes every whole unit
 * offered, or (lazy) only the first, leaving whole units in the carry:
 * the reassembler must cope with both. */
static bool is_boundary(size_t off)
{
	return reasm_word_check((uint32_t)off * 2654435761u) % 37 == 0;
}

static size_t fz_feed(void *ctx, const uint8_t *data, size_t len, uint64_t ts_ns)
{
	struct fz_sink *k = ctx;
	uintptr_t addr = (uintptr_t)data, seg = (uintptr_t)k->seg;
	bool in_place = k->seg && addr >= seg && addr + len <= seg + k->seg_len;
	size_t used = 0;

	(void)ts_ns;
	if (len == 0)
		fail("empty offer", 0, 0);
	if (!in_place && len > k->copy_max)
		fail("copied offer past the bounds", len, k->copy_max);
	if (!k->located) {
		uint32_t word;
		size_t at = 0;

		if (len < LOCATE_BYTES)
			return 0;
		while (at < 8 && !word_at(data + at, &word))
			at++;
		if (at == 8 || (size_t)word * 8 < at)
			fail("offer not found in the stream", len, at);
		k->pos = (size_t)word * 8 - at;
		if (k->pos < k->last_pos && !k->may_go_back)
			fail("a gap went backwards", k->pos, k->last_pos);
		k->located = true;
		k->may_go_back = false;
	}
	if (k->pos + len > REASM_STREAM_BYTES)
		fail("offer past the stream", k->pos, len);
	if (memcmp(data, stream + k->pos, len) != 0)
		fail("wrong bytes", k->pos, len);
	if (k->lazy) {
		for (size_t i = 1; i <= len && !used; i++)
			if (is_boundary(k->pos + i))
				used = i;
	} else {
		for (size_t i = len; i > 0 && !used; i--)
			if (is_boundary(k->pos + i))
				used = i;
	}
	if (used == 0 && len > k->hold_max && !k->stubborn)
		used = len;   /* a unit too long to hold streams past */
	k->pos += used;
	k->last_pos = k->pos;
	return used;
}

static void fz_gap(void *ctx)
{
	struct fz_sink *k = ctx;

	k->gaps++;
	k->located = false;
}

struct harness {
	struct st_reasm_pool *pool;
	struct st_reasm_dir dir[2];
	struct fz_sink sink[2];
	struct st_reasm_consumer consumer[2];
	uint32_t isn[2];
	uint64_t synced_resets;
	size_t memory;
	uint64_t ts_ns;
};

static void check(struct harness *h)
{
	const struct st_reasm_config *cfg = st_reasm_pool_config(h->pool);
	const struct st_reasm_stats *st = st_reasm_pool_stats(h->pool);

	for (int i = 0; i < 2; i++) {
		const struct st_reasm_dir *d = &h->dir[i];

		if (d->carry_len > cfg->carry_bytes_max || (d->carry_len == 0) != (d->carry == NULL))
			fail("carry past its cap", d->carry_len, cfg->carry_bytes_max);
		if (d->ooo_segs > cfg->ooo_segments_max || d->ooo_bytes > cfg->ooo_bytes_max ||
		    (d->ooo_segs == 0) != (d->ooo_head == NULL) ||
		    (d->ooo_segs == 0) != (d->ooo_bytes == 0))
			fail("queue past its cap", d->ooo_segs, d->ooo_bytes);
	}
	if (st_reasm_pool_bytes_in_use(h->pool) > st_reasm_pool_arena_bytes(h->pool))
		fail("blocks past the arena", st_reasm_pool_bytes_in_use(h->pool),
		     st_reasm_pool_arena_bytes(h->pool));
	if (st_reasm_pool_memory_bytes(h->pool) != h->memory)
		fail("pool memory changed", st_reasm_pool_memory_bytes(h->pool), h->memory);
	if (h->sink[0].gaps + h->sink[1].gaps != st->gaps + st->syn_restarts + h->synced_resets)
		fail("gap calls differ from the counters", h->sink[0].gaps + h->sink[1].gaps,
		     st->gaps + st->syn_restarts + h->synced_resets);
}

static void segment(struct harness *h, int i, uint32_t seq, uint8_t flags,
		    const uint8_t *payload, uint32_t len)
{
	h->sink[i].seg = payload;
	h->sink[i].seg_len = len;
	st_reasm_segment(h->pool, &h->dir[i], seq, flags, payload, len, h->ts_ns,
			 &h->consumer[i]);
	h->sink[i].seg = NULL;
	h->sink[i].seg_len = 0;
}

static void run_op(struct harness *h, const uint8_t *op)
{
	int i = (op[0] & REASM_OP_DIR1) ? 1 : 0;
	size_t off = ((size_t)op[1] << 8 | op[2]) + ((op[0] & REASM_OP_HIGH) ? 65536 : 0);
	size_t len = (size_t)op[3] << 8 | op[4];
	uint8_t flags = ST_TCP_ACK;
	bool syn_restart_possible = false, could_go_back = false;
	uint64_t restarts = st_reasm_pool_stats(h->pool)->syn_restarts;

	h->ts_ns += op[5] & 0x7f;
	if (!(op[5] & REASM_TS_JUMBO))
		len %= 2048;
	if (op[0] & REASM_OP_CALL) {
		if (op[0] & REASM_OP_RELEASE) {
			st_reasm_release(h->pool, &h->dir[i]);
			h->sink[i].located = false;   /* a new flow, a new consumer */
			h->sink[i].may_go_back = true;
		} else {
			st_reasm_flush_gap(h->pool, &h->dir[i], &h->consumer[i]);
		}
		return;
	}
	if (op[0] & REASM_OP_RST) {
		if (h->dir[i].flags & ST_REASM_F_SYNCED)
			h->synced_resets++;
		h->sink[i].may_go_back = true;
		segment(h, i, h->isn[i] + 1 + (uint32_t)off, ST_TCP_RST, NULL, 0);
		return;
	}
	if (op[0] & REASM_OP_SYN) {
		/* a SYN may restart the direction (a new ISN, or any SYN on a
		 * direction synced midstream): the stream starts over */
		if (op[0] & REASM_OP_NEW_ISN)
			h->isn[i] += 0x40000000u + (uint32_t)off * 977u + 1;
		syn_restart_possible = true;
		off = 0;
		flags |= ST_TCP_SYN;
	}
	if (op[0] & REASM_OP_FIN)
		flags |= ST_TCP_FIN;
	if (off > REASM_STREAM_BYTES)
		off = REASM_STREAM_BYTES;
	if (len > REASM_STREAM_BYTES - off)
		len = REASM_STREAM_BYTES - off;
	{
		/* the payload in its own buffer: ASan sees any read past it or
		 * any use after the call */
		uint8_t *payload = malloc(len ? len : 1);
		uint32_t seq = (flags & ST_TCP_SYN) ? h->isn[i] : h->isn[i] + 1 + (uint32_t)off;

		if (!payload)
			abort();
		memcpy(payload, stream + off, len);
		could_go_back = h->sink[i].may_go_back;
		if (syn_restart_possible)
			h->sink[i].may_go_back = true;
		segment(h, i, seq, flags, payload, (uint32_t)len);
		free(payload);
		/* no restart happened: the strict check applies again */
		if (syn_restart_possible && !could_go_back &&
		    st_reasm_pool_stats(h->pool)->syn_restarts == restarts)
			h->sink[i].may_go_back = false;
	}
}

static void stream_init(void)
{
	static bool done;
	uint32_t word;

	if (done)
		return;
	reasm_stream_fill(stream);
	/* the stream locates itself only if no unaligned window looks like
	 * a word: true of this stream, checked once */
	for (size_t at = 0; at + 8 <= REASM_STREAM_BYTES; at++)
		if (at % 8 && word_at(stream + at, &word))
			fail("the stream has an unaligned word", at, word);
	done = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_reasm_config cfg;
	struct harness h;
	size_t block_max;

	stream_init();
	if (size < REASM_HEADER_BYTES)
		return 0;
	memset(&h, 0, sizeof(h));
	cfg.carry_bytes_max = 16 + (data[0] & 63u) * 8;
	cfg.ooo_segments_max = data[1] % 10;
	cfg.ooo_bytes_max = 64u << (data[2] % 11);
	/* the largest block, as reasm.h documents it */
	block_max = cfg.carry_bytes_max + ST_REASM_APPEND_MIN_BYTES;
	if (cfg.ooo_segments_max && cfg.ooo_bytes_max + ST_REASM_SEG_HEADER_BYTES > block_max)
		block_max = cfg.ooo_bytes_max + ST_REASM_SEG_HEADER_BYTES;
	for (size_t b = ST_REASM_BLOCK_MIN_BYTES;; b *= 2) {
		if (b >= block_max) {
			block_max = b;
			break;
		}
	}
	cfg.budget_bytes = (uint64_t)block_max * (1 + data[3] % 8);
	h.pool = st_reasm_pool_create(&cfg);
	if (!h.pool)
		abort();
	if (st_reasm_pool_block_max_bytes(h.pool) != block_max)
		fail("largest block differs from the documented size",
		     st_reasm_pool_block_max_bytes(h.pool), block_max);
	h.memory = st_reasm_pool_memory_bytes(h.pool);
	h.isn[0] = be32(data + 4);
	h.isn[1] = ~h.isn[0];
	h.ts_ns = 1;
	for (int i = 0; i < 2; i++) {
		st_reasm_dir_init(&h.dir[i]);
		h.sink[i].hold_max = cfg.carry_bytes_max;
		h.sink[i].lazy = (data[0] & 0x80) != 0;
		h.sink[i].stubborn = (data[3] & 0x80) != 0;
		/* copies offered: the carry (hold_max + the append step) or a
		 * queued segment (at most ooo_bytes_max) */
		h.sink[i].copy_max = cfg.carry_bytes_max + ST_REASM_APPEND_MIN_BYTES;
		if (cfg.ooo_bytes_max > h.sink[i].copy_max)
			h.sink[i].copy_max = cfg.ooo_bytes_max;
		h.consumer[i].feed = fz_feed;
		h.consumer[i].gap = fz_gap;
		h.consumer[i].ctx = &h.sink[i];
	}
	for (size_t at = REASM_HEADER_BYTES; at + REASM_OP_BYTES <= size; at += REASM_OP_BYTES) {
		run_op(&h, data + at);
		check(&h);
	}
	for (int i = 0; i < 2; i++) {
		st_reasm_flush_gap(h.pool, &h.dir[i], &h.consumer[i]);
		check(&h);
		st_reasm_release(h.pool, &h.dir[i]);
	}
	if (st_reasm_pool_bytes_in_use(h.pool) != 0)
		fail("blocks left after release", st_reasm_pool_bytes_in_use(h.pool), 0);
	st_reasm_pool_destroy(h.pool);
	return 0;
}
