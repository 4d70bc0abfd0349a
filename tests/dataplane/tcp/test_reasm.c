/*
 * TCP reassembly tests.  Every expected value comes from the test's own
 * construction: the test builds a byte stream of records it knows (framed
 * as a 4-byte big-endian length + body, or as newline-terminated lines),
 * cuts it into segments, delivers them in an order it chooses, and two toy
 * consumers written here (following the carry contract of reasm.h) parse
 * what they are fed.  Each record they see is compared byte for byte with
 * the record the test put in the stream; counters are compared with the
 * exact numbers of segments, bytes and holes the test created.  Where a
 * count depends on a documented constant (the 256-byte minimum block, the
 * append step), the test says so.
 *
 * Every payload is passed in a buffer malloc'd for that one call and freed
 * right after it, so a reassembler that kept a pointer to it would be
 * caught by ASan, and a record whose bytes lie in that buffer was delivered
 * in place (zero copy).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/pkt.h"
#include "dataplane/tcp/reasm.h"
#include "st_test.h"

#define STREAM_MAX 8192
#define RECS_MAX 1024
#define TS_NS 1700000000000000000ull

/* ---- the streams the test builds ---- */

struct stream {
	uint8_t bytes[STREAM_MAX];
	size_t len;
	size_t n;                 /* records */
	size_t body_off[RECS_MAX];  /* where each record's reported bytes start */
	size_t body_len[RECS_MAX];
	size_t end[RECS_MAX];     /* offset just past the record's framing */
};

static uint8_t body_byte(size_t rec, size_t j)
{
	return (uint8_t)('a' + (rec * 7 + j * 3) % 26);
}

/* Length-prefixed records: [u32 be n][n bytes: 'R' 'C' + lowercase]. */
static void stream_add_lp(struct stream *s, size_t body_len)
{
	size_t n = body_len + 2, at = s->len, rec = s->n;

	CU_ASSERT_FATAL(at + 4 + n <= STREAM_MAX && rec < RECS_MAX);
	s->bytes[at] = (uint8_t)(n >> 24);
	s->bytes[at + 1] = (uint8_t)(n >> 16);
	s->bytes[at + 2] = (uint8_t)(n >> 8);
	s->bytes[at + 3] = (uint8_t)n;
	s->bytes[at + 4] = 'R';
	s->bytes[at + 5] = 'C';
	for (size_t j = 0; j < body_len; j++)
		s->bytes[at + 6 + j] = body_byte(rec, j);
	s->body_off[rec] = at + 4;
	s->body_len[rec] = n;
	s->end[rec] = at + 4 + n;
	s->len = at + 4 + n;
	s->n++;
}

/* Newline-terminated lines of lowercase letters. */
static void stream_add_line(struct stream *s, size_t body_len)
{
	size_t at = s->len, rec = s->n;

	CU_ASSERT_FATAL(at + body_len + 1 <= STREAM_MAX && rec < RECS_MAX);
	for (size_t j = 0; j < body_len; j++)
		s->bytes[at + j] = body_byte(rec, j);
	s->bytes[at + body_len] = '\n';
	s->body_off[rec] = at;
	s->body_len[rec] = body_len;
	s->end[rec] = at + body_len + 1;
	s->len = at + body_len + 1;
	s->n++;
}

static const size_t small_sizes[] = { 0, 5, 1, 17, 3, 9, 0, 22, 2, 11, 6, 14 };

static void stream_small(struct stream *s, bool lines)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(small_sizes) / sizeof(small_sizes[0]); i++) {
		if (lines)
			stream_add_line(s, small_sizes[i] + 1);
		else
			stream_add_lp(s, small_sizes[i]);
	}
}

static void stream_sized(struct stream *s, bool lines, size_t records, size_t mod)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < records; i++) {
		size_t len = 1 + (i * 13) % mod;

		if (lines)
			stream_add_line(s, len);
		else
			stream_add_lp(s, len);
	}
}

/* ---- toy consumers ---- */

struct sink {
	bool lines;               /* newline consumer, else length-prefixed */
	size_t hold_max;
	const uint8_t *seg;       /* the payload buffer of the current call */
	size_t seg_len;
	/* what was received */
	uint8_t got[STREAM_MAX];
	size_t got_len;
	size_t n;
	size_t rec_off[RECS_MAX];
	size_t rec_len[RECS_MAX];
	bool rec_in_place[RECS_MAX];
	unsigned gaps;
	unsigned truncated;
	unsigned contract_violations;  /* offers the reassembler must not make */
	size_t max_copied_offer;  /* longest offer from outside the segment */
	/* parser state */
	bool resync;              /* after gap(): find the next unit */
	size_t skip;              /* lp: bytes of a unit too big to hold */
	bool always_zero;         /* a broken consumer: never consumes */
	bool lazy;                /* lp: one record per offer at most, leaving
				   * whole records behind (the reassembler
				   * must not care) */
	/* count mode (many flows): records are compared with `expect`, not kept */
	const uint8_t *expect;
	size_t expect_len;
	size_t matched, mismatched;
};

static void sink_init(struct sink *k, bool lines, size_t hold_max)
{
	memset(k, 0, sizeof(*k));
	k->lines = lines;
	k->hold_max = hold_max;
}

/* Whether [p, p + len) lies in the payload buffer of the current call. */
static bool in_segment(const struct sink *k, const uint8_t *p, size_t len)
{
	uintptr_t at = (uintptr_t)p, seg = (uintptr_t)k->seg;

	return k->seg && at >= seg && at + len <= seg + k->seg_len;
}

static void sink_record(struct sink *k, const uint8_t *p, size_t len)
{
	if (k->expect) {
		if (len == k->expect_len && memcmp(p, k->expect, len) == 0)
			k->matched++;
		else
			k->mismatched++;
		return;
	}
	if (k->n >= RECS_MAX || k->got_len + len > STREAM_MAX) {
		k->contract_violations++;
		return;
	}
	memcpy(k->got + k->got_len, p, len);
	k->rec_off[k->n] = k->got_len;
	k->rec_len[k->n] = len;
	k->rec_in_place[k->n] = in_segment(k, p, len);
	k->got_len += len;
	k->n++;
}

static size_t be32(const uint8_t *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

static size_t lp_feed(struct sink *k, const uint8_t *data, size_t len)
{
	size_t pos = 0;

	for (;;) {
		size_t n;

		if (k->skip) {
			size_t step = k->skip < len - pos ? k->skip : len - pos;

			pos += step;
			k->skip -= step;
			if (k->skip)
				return pos;
		}
		if (k->resync) {
			/* a unit starts where bytes 4..5 are "RC" */
			while (pos + 6 <= len && !(data[pos + 4] == 'R' && data[pos + 5] == 'C'))
				pos++;
			if (pos + 6 > len)
				return len > 5 && len - 5 > pos ? len - 5 : pos;
			k->resync = false;
		}
		if (len - pos < 4)
			return pos;
		n = be32(data + pos);
		if (4 + n > k->hold_max) {
			/* too big to hold: count it, skip it as it streams past */
			k->truncated++;
			k->skip = 4 + n;
			continue;
		}
		if (len - pos < 4 + n)
			return pos;
		sink_record(k, data + pos + 4, n);
		pos += 4 + n;
		if (k->lazy && len - pos <= k->hold_max)
			return pos;
	}
}

static size_t nl_feed(struct sink *k, const uint8_t *data, size_t len)
{
	size_t pos = 0;
	const uint8_t *nl;

	if (k->resync) {
		nl = memchr(data, '\n', len);
		if (!nl)
			return len;
		pos = (size_t)(nl - data) + 1;
		k->resync = false;
	}
	while ((nl = memchr(data + pos, '\n', len - pos)) != NULL) {
		sink_record(k, data + pos, (size_t)(nl - data) - pos);
		pos = (size_t)(nl - data) + 1;
	}
	if (len - pos > k->hold_max) {
		k->truncated++;
		k->resync = true;
		return len;
	}
	return pos;
}

static size_t sink_feed(void *ctx, const uint8_t *data, size_t len, uint64_t ts_ns)
{
	struct sink *k = ctx;

	bool in_place = in_segment(k, data, len);

	if (len == 0 || ts_ns < TS_NS)
		k->contract_violations++;
	if (!in_place && len > k->max_copied_offer)
		k->max_copied_offer = len;
	if (k->always_zero)
		return 0;
	return k->lines ? nl_feed(k, data, len) : lp_feed(k, data, len);
}

static void sink_gap(void *ctx)
{
	struct sink *k = ctx;

	k->gaps++;
	k->resync = true;
	k->skip = 0;
}

/* Records [first, last) of s, received as k's records [at, at + last - first). */
static bool sink_has(const struct sink *k, size_t at, const struct stream *s,
		     size_t first, size_t last)
{
	if (at + (last - first) > k->n)
		return false;
	for (size_t r = first; r < last; r++) {
		size_t i = at + r - first;

		if (k->rec_len[i] != s->body_len[r] ||
		    memcmp(k->got + k->rec_off[i], s->bytes + s->body_off[r], s->body_len[r]))
			return false;
	}
	return true;
}

static bool sink_has_all(const struct sink *k, const struct stream *s)
{
	return k->n == s->n && sink_has(k, 0, s, 0, s->n);
}

/* ---- the harness: one pool, one direction, one consumer ---- */

struct harness {
	struct st_reasm_pool *pool;
	struct st_reasm_dir dir;
	struct sink sink;
	struct st_reasm_consumer consumer;
	unsigned bound_violations;  /* carry or queue past its cap after a call */
};

static struct st_reasm_config config(uint32_t carry, uint32_t segs, uint32_t ooo_bytes,
				     uint64_t budget)
{
	struct st_reasm_config cfg = {
		.carry_bytes_max = carry,
		.ooo_segments_max = segs,
		.ooo_bytes_max = ooo_bytes,
		.budget_bytes = budget,
	};
	return cfg;
}

static struct harness *harness_new(bool lines, uint32_t carry, uint32_t segs,
				   uint32_t ooo_bytes, uint64_t budget)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct st_reasm_config cfg = config(carry, segs, ooo_bytes, budget);

	CU_ASSERT_FATAL(h != NULL);
	h->pool = st_reasm_pool_create(&cfg);
	CU_ASSERT_FATAL(h->pool != NULL);
	st_reasm_dir_init(&h->dir);
	sink_init(&h->sink, lines, carry);
	h->consumer.feed = sink_feed;
	h->consumer.gap = sink_gap;
	h->consumer.ctx = &h->sink;
	return h;
}

static void harness_free(struct harness *h)
{
	st_reasm_release(h->pool, &h->dir);
	CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(h->pool), 0);
	st_reasm_pool_destroy(h->pool);
	free(h);
}

/* A fresh direction and consumer on the same pool, counters zeroed. */
static void harness_restart(struct harness *h)
{
	st_reasm_release(h->pool, &h->dir);
	st_reasm_pool_stats_reset(h->pool);
	sink_init(&h->sink, h->sink.lines, h->sink.hold_max);
	h->bound_violations = 0;
}

static void check_bounds(struct harness *h)
{
	const struct st_reasm_config *cfg = st_reasm_pool_config(h->pool);
	const struct st_reasm_dir *d = &h->dir;

	if (d->carry_len > cfg->carry_bytes_max || (d->carry_len == 0) != (d->carry == NULL) ||
	    d->ooo_segs > cfg->ooo_segments_max || d->ooo_bytes > cfg->ooo_bytes_max ||
	    st_reasm_pool_bytes_in_use(h->pool) > st_reasm_pool_arena_bytes(h->pool))
		h->bound_violations++;
}

static void send_seg(struct harness *h, uint32_t seq, uint8_t flags,
		     const uint8_t *payload, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	CU_ASSERT_FATAL(copy != NULL);
	if (len)
		memcpy(copy, payload, len);
	h->sink.seg = copy;
	h->sink.seg_len = len;
	st_reasm_segment(h->pool, &h->dir, seq, flags, copy, (uint32_t)len, TS_NS, &h->consumer);
	h->sink.seg = NULL;
	free(copy);
	check_bounds(h);
}

/* Stream bytes [from, to) as one segment of the connection whose ISN is isn. */
static void send_range(struct harness *h, uint32_t isn, const struct stream *s,
		       size_t from, size_t to, uint8_t flags)
{
	send_seg(h, isn + 1 + (uint32_t)from, flags | ST_TCP_ACK, s->bytes + from, to - from);
}

static void send_syn(struct harness *h, uint32_t isn)
{
	send_seg(h, isn, ST_TCP_SYN, NULL, 0);
}

static const struct st_reasm_stats *stats(const struct harness *h)
{
	return st_reasm_pool_stats(h->pool);
}

/* Stream cut every `size` bytes: segment i is [i*size, min((i+1)*size, len)). */
static size_t seg_count(const struct stream *s, size_t size)
{
	return (s->len + size - 1) / size;
}

static void send_piece(struct harness *h, uint32_t isn, const struct stream *s,
		       size_t size, size_t i, uint8_t flags)
{
	size_t to = (i + 1) * size < s->len ? (i + 1) * size : s->len;

	send_range(h, isn, s, i * size, to, flags);
}

/* ---- splits: every cut point ---- */

/* A lazy consumer may end a stream with whole records still in the carry:
 * one-byte segments of a filler (a length field of 0xff.. that never
 * completes) make the reassembler offer the carry again until it is empty
 * of records. */
static void drain_lazy(struct harness *h, uint32_t isn, const struct stream *s)
{
	static const uint8_t filler[1] = { 0x7f };
	uint32_t seq = isn + 1 + (uint32_t)s->len;

	for (size_t i = 0; i < s->n && h->sink.n < s->n; i++)
		send_seg(h, seq++, ST_TCP_ACK, filler, 1);
}

static bool is_boundary(const struct stream *s, size_t at)
{
	if (at == 0 || at == s->len)
		return true;
	for (size_t r = 0; r < s->n; r++)
		if (s->end[r] == at)
			return true;
	return false;
}

/* The records that end at or before `at` must have been parsed in place. */
static bool head_in_place(const struct harness *h, const struct stream *s, size_t at)
{
	for (size_t r = 0; r < s->n && s->end[r] <= at; r++)
		if (r >= h->sink.n || !h->sink.rec_in_place[r])
			return false;
	return true;
}

static void check_split(struct harness *h, const struct stream *s, const size_t *cuts,
			size_t n_cuts, unsigned *failures)
{
	const struct st_reasm_stats *st = stats(h);
	bool all_boundaries = true, ok;

	for (size_t i = 0; i < n_cuts; i++)
		all_boundaries = all_boundaries && is_boundary(s, cuts[i]);
	ok = sink_has_all(&h->sink, s) && h->sink.gaps == 0 && st->gaps == 0 &&
	     h->bound_violations == 0 && h->sink.contract_violations == 0;
	if (h->sink.lazy) {
		/* the filler is in the carry, and whole records were carried */
		ok = ok && st->bytes_in_order > s->len;
	} else {
		ok = ok && st->bytes_in_order == s->len && h->dir.carry_len == 0 &&
		     st_reasm_pool_bytes_in_use(h->pool) == 0 && head_in_place(h, s, cuts[0]);
		if (all_boundaries)
			ok = ok && st->bytes_carried == 0 && st->bytes_zero_copy == s->len;
		else
			ok = ok && st->bytes_carried > 0;
	}
	if (!ok && (*failures)++ < 5) {
		fprintf(stderr, "split failed at cuts");
		for (size_t i = 0; i < n_cuts; i++)
			fprintf(stderr, " %zu", cuts[i]);
		fprintf(stderr, " (%zu records of %zu, carried %llu)\n", h->sink.n, s->n,
			(unsigned long long)st->bytes_carried);
	}
}

/* Every cut x (2 segments) and every pair x < y (3 segments), with the
 * sequence numbers placed so that 2^32 falls at a different byte each time. */
static void split_all(bool lines, bool lazy, uint32_t hold_max)
{
	static struct stream s;
	struct harness *h = harness_new(lines, hold_max, 8, 4096, 1 << 20);
	unsigned failures = 0, cases = 0;

	stream_small(&s, lines);
	for (size_t x = 1; x < s.len; x++) {
		uint32_t isn = 0xffffff00u + (uint32_t)x;
		size_t cut[1] = { x };

		harness_restart(h);
		h->sink.lazy = lazy;
		send_syn(h, isn);
		send_range(h, isn, &s, 0, x, 0);
		send_range(h, isn, &s, x, s.len, 0);
		if (lazy)
			drain_lazy(h, isn, &s);
		check_split(h, &s, cut, 1, &failures);
		cases++;
	}
	for (size_t x = 1; x < s.len; x++) {
		for (size_t y = x + 1; y < s.len; y++) {
			uint32_t isn = 0u - (uint32_t)y;
			size_t cuts[2] = { x, y };

			harness_restart(h);
			h->sink.lazy = lazy;
			send_syn(h, isn);
			send_range(h, isn, &s, 0, x, 0);
			send_range(h, isn, &s, x, y, 0);
			send_range(h, isn, &s, y, s.len, 0);
			if (lazy)
				drain_lazy(h, isn, &s);
			check_split(h, &s, cuts, 2, &failures);
			cases++;
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
	CU_ASSERT_EQUAL(cases, (s.len - 1) + (s.len - 1) * (s.len - 2) / 2);
	harness_free(h);
}

static void test_split_every_offset_length_prefixed(void)
{
	split_all(false, false, 64);
}

static void test_split_every_offset_lines(void)
{
	split_all(true, false, 64);
}

/* A consumer that takes one record per offer leaves whole records in the
 * carry; each later segment must offer them again, in order, once. */
static void test_split_every_offset_lazy_consumer(void)
{
	split_all(false, true, 64);
}

/* A record that fits in one segment is parsed in place: whole records per
 * segment, no byte copied. */
static void test_whole_records_zero_copy(void)
{
	static struct stream s;
	struct harness *h = harness_new(false, 1024, 8, 4096, 1 << 20);

	stream_sized(&s, false, 200, 40);
	send_syn(h, 5000);
	for (size_t r = 0; r < s.n; r++)
		send_range(h, 5000, &s, r ? s.end[r - 1] : 0, s.end[r], 0);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->bytes_zero_copy, s.len);
	CU_ASSERT_EQUAL(stats(h)->bytes_carried, 0);
	CU_ASSERT_EQUAL(stats(h)->segments, s.n + 1);
	for (size_t r = 0; r < h->sink.n; r++)
		CU_ASSERT_TRUE(h->sink.rec_in_place[r]);
	harness_free(h);
}

/* ---- reordering, duplication, wrap ---- */

static void test_swap_adjacent_segments(void)
{
	static struct stream s;
	struct harness *h = harness_new(false, 256, 8, 4096, 1 << 20);
	size_t n;

	stream_sized(&s, false, 40, 23);
	n = seg_count(&s, 10);
	CU_ASSERT_FATAL(n % 2 == 0);
	send_syn(h, 77);
	for (size_t i = 0; i < n; i += 2) {
		send_piece(h, 77, &s, 10, i + 1, 0);
		send_piece(h, 77, &s, 10, i, 0);
	}
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->ooo_queued, n / 2);
	CU_ASSERT_EQUAL(stats(h)->ooo_delivered, n / 2);
	/* the second of each pair arrived first: read from its queued copy
	 * or through the carry, never in the captured segment */
	CU_ASSERT_TRUE(stats(h)->bytes_zero_copy <= s.len - (n / 2 - 1) * 10);
	CU_ASSERT_EQUAL(stats(h)->gaps, 0);
	CU_ASSERT_EQUAL(stats(h)->bytes_in_order, s.len);
	CU_ASSERT_EQUAL(h->bound_violations, 0);
	CU_ASSERT_EQUAL(h->sink.contract_violations, 0);
	harness_free(h);
}

static void test_reverse_windows(void)
{
	static struct stream s;
	struct harness *h = harness_new(true, 256, 8, 4096, 1 << 20);
	size_t n, windows = 0;

	stream_sized(&s, true, 60, 31);
	n = seg_count(&s, 9);
	send_syn(h, 0x7ffffff0u);
	for (size_t w = 0; w < n; w += 5) {
		size_t last = w + 5 < n ? w + 5 : n;

		for (size_t i = last; i-- > w;)
			send_piece(h, 0x7ffffff0u, &s, 9, i, 0);
		CU_ASSERT_EQUAL(h->dir.ooo_segs, 0);
		windows += last - w - 1;
	}
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->ooo_queued, windows);
	CU_ASSERT_EQUAL(stats(h)->ooo_delivered, windows);
	CU_ASSERT_EQUAL(stats(h)->gaps, 0);
	CU_ASSERT_EQUAL(h->sink.gaps, 0);
	CU_ASSERT_EQUAL(h->bound_violations, 0);

	/* 600-byte segments, all reversed: once the carried line is done,
	 * the rest of a queued segment is read in place in its queued copy */
	harness_restart(h);
	stream_sized(&s, true, 120, 31);
	n = seg_count(&s, 600);
	CU_ASSERT_FATAL(n >= 3 && n <= 8);
	send_syn(h, 31);
	for (size_t i = n; i-- > 0;)
		send_piece(h, 31, &s, 600, i, 0);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->ooo_queued, n - 1);
	CU_ASSERT_TRUE(stats(h)->bytes_from_queue > 0);
	CU_ASSERT_EQUAL(h->bound_violations, 0);
	harness_free(h);
}

static void test_exact_duplicates(void)
{
	static struct stream s;
	struct harness *h = harness_new(false, 256, 8, 4096, 1 << 20);
	size_t n;

	stream_sized(&s, false, 30, 40);
	n = seg_count(&s, 13);
	send_syn(h, 1);
	for (size_t i = 0; i < n; i++) {
		send_piece(h, 1, &s, 13, i, 0);
		send_piece(h, 1, &s, 13, i, 0);
	}
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->duplicates, n);
	CU_ASSERT_EQUAL(stats(h)->duplicate_bytes, s.len);
	CU_ASSERT_EQUAL(stats(h)->overlaps_trimmed, 0);
	CU_ASSERT_EQUAL(stats(h)->bytes_in_order, s.len);
	harness_free(h);
}

/* Retransmissions that overlap what was delivered, and what is queued. */
static void test_overlapping_retransmissions(void)
{
	static struct stream s;
	struct harness *h = harness_new(true, 256, 8, 4096, 1 << 20);
	size_t n;

	stream_sized(&s, true, 30, 19);
	s.len -= s.len % 10;   /* whole 10-byte strides; the tail record is cut */
	while (s.n && s.end[s.n - 1] > s.len)
		s.n--;
	n = s.len / 10;
	send_syn(h, 900);
	/* segment i is [10i, 10i + 15): 5 bytes already delivered, 10 new */
	for (size_t i = 0; i < n; i++)
		send_range(h, 900, &s, 10 * i, 10 * i + 15 < s.len ? 10 * i + 15 : s.len, 0);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->overlaps_trimmed, n - 1);
	CU_ASSERT_EQUAL(stats(h)->duplicates, 0);
	CU_ASSERT_EQUAL(stats(h)->bytes_in_order, s.len);

	/* overlaps against the queue: [30,45) [25,40) [20,50) queued, then
	 * [0,30) fills the hole */
	harness_restart(h);
	send_syn(h, 900);
	send_range(h, 900, &s, 30, 45, 0);
	send_range(h, 900, &s, 25, 40, 0);
	send_range(h, 900, &s, 20, 50, 0);
	send_range(h, 900, &s, 35, 45, 0);   /* entirely queued already */
	CU_ASSERT_EQUAL(h->sink.n, 0);
	CU_ASSERT_EQUAL(stats(h)->duplicates, 1);
	/* covered by two adjacent queued segments together */
	send_range(h, 900, &s, 50, 60, 0);
	send_range(h, 900, &s, 45, 55, 0);
	CU_ASSERT_EQUAL(stats(h)->duplicates, 2);
	CU_ASSERT_EQUAL(h->dir.ooo_segs, 2);
	CU_ASSERT_EQUAL(h->dir.ooo_bytes, 40);
	send_range(h, 900, &s, 0, 30, 0);
	send_range(h, 900, &s, 60, s.len, 0);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->bytes_in_order, s.len);
	CU_ASSERT_EQUAL(stats(h)->gaps, 0);
	CU_ASSERT_TRUE(stats(h)->overlaps_trimmed >= 2);
	CU_ASSERT_EQUAL(h->dir.ooo_segs, 0);
	CU_ASSERT_EQUAL(h->bound_violations, 0);
	harness_free(h);
}

static void test_sequence_wrap(void)
{
	static struct stream s;
	struct harness *h = harness_new(false, 128, 8, 4096, 1 << 20);
	size_t n;

	stream_sized(&s, false, 20, 30);
	n = seg_count(&s, 7);
	/* in order, the SYN at 2^32 - 16: data crosses 2^32 */
	send_syn(h, 0xfffffff0u);
	for (size_t i = 0; i < n; i++)
		send_piece(h, 0xfffffff0u, &s, 7, i, 0);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(h->dir.next_seq, (uint32_t)(0xfffffff1u + s.len));

	/* out of order and duplicated across the wrap: segments 1 and 2 hold
	 * sequence numbers on both sides of 2^32 */
	harness_restart(h);
	send_syn(h, 0xfffffff0u);
	send_piece(h, 0xfffffff0u, &s, 7, 3, 0);
	send_piece(h, 0xfffffff0u, &s, 7, 2, 0);
	send_piece(h, 0xfffffff0u, &s, 7, 1, 0);
	send_piece(h, 0xfffffff0u, &s, 7, 2, 0);
	send_piece(h, 0xfffffff0u, &s, 7, 0, 0);
	send_piece(h, 0xfffffff0u, &s, 7, 1, 0);
	for (size_t i = 4; i < n; i++)
		send_piece(h, 0xfffffff0u, &s, 7, i, 0);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->ooo_queued, 3);
	CU_ASSERT_EQUAL(stats(h)->duplicates, 2);
	CU_ASSERT_EQUAL(stats(h)->gaps, 0);

	/* midstream, first byte 6 below 2^32 */
	harness_restart(h);
	for (size_t i = 0; i < n; i++)
		send_seg(h, 0xfffffffau + (uint32_t)(i * 7), ST_TCP_ACK, s.bytes + i * 7,
			 (i + 1) * 7 < s.len ? 7 : s.len - i * 7);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->midstream_starts, 1);
	harness_free(h);
}

/* ---- loss ---- */

/* The records the newline consumer must report when the bytes
 * [hole_from, hole_to) never reach it: the lines that ended before the
 * hole; after the gap it discards through the first '\n' at or past
 * hole_to, then reports every later line. */
static void expect_after_hole(const struct stream *s, size_t hole_from, size_t hole_to,
			      size_t *before, size_t *resume)
{
	size_t r = 0;

	while (r < s->n && s->end[r] <= hole_from)
		r++;
	*before = r;
	while (r < s->n && s->end[r] - 1 < hole_to)
		r++;
	*resume = r + 1;   /* line r holds the '\n' the consumer resyncs on */
}

static void test_dropped_segment_window_full(void)
{
	static struct stream s;
	struct harness *h = harness_new(true, 256, 8, 4096, 1 << 20);
	size_t n, before, resume, drop = 10;

	stream_sized(&s, true, 60, 17);
	n = seg_count(&s, 10);
	CU_ASSERT_FATAL(n > drop + 12);
	send_syn(h, 4242);
	for (size_t i = 0; i < n; i++) {
		if (i == drop)
			continue;
		send_piece(h, 4242, &s, 10, i, 0);
		if (i > drop && i <= drop + 8)
			CU_ASSERT_EQUAL(h->dir.ooo_segs, i - drop);
	}
	expect_after_hole(&s, drop * 10, drop * 10 + 10, &before, &resume);
	CU_ASSERT_EQUAL(h->sink.gaps, 1);
	CU_ASSERT_EQUAL(stats(h)->gaps, 1);
	CU_ASSERT_EQUAL(stats(h)->ooo_full, 1);
	CU_ASSERT_EQUAL(stats(h)->gap_bytes, 10);
	CU_ASSERT_EQUAL(stats(h)->ooo_queued, 8);
	CU_ASSERT_EQUAL(stats(h)->ooo_delivered, 8);
	CU_ASSERT_EQUAL(stats(h)->bytes_in_order, s.len - 10);
	CU_ASSERT_EQUAL(h->dir.gaps, 1);
	CU_ASSERT_EQUAL(h->sink.n, before + (s.n - resume));
	CU_ASSERT_TRUE(sink_has(&h->sink, 0, &s, 0, before));
	CU_ASSERT_TRUE(sink_has(&h->sink, before, &s, resume, s.n));
	CU_ASSERT_EQUAL(h->bound_violations, 0);
	harness_free(h);
}

static void test_dropped_segment_flushed(void)
{
	static struct stream s;
	struct harness *h = harness_new(false, 256, 8, 4096, 1 << 20);
	size_t n, drop;

	/* length-prefixed: the consumer resyncs on the next "RC" unit */
	stream_sized(&s, false, 40, 9);
	n = seg_count(&s, 8);
	drop = n - 4;
	send_syn(h, 10);
	for (size_t i = 0; i < n; i++)
		if (i != drop)
			send_piece(h, 10, &s, 8, i, 0);
	CU_ASSERT_EQUAL(h->dir.ooo_segs, 3);
	CU_ASSERT_EQUAL(h->sink.gaps, 0);
	st_reasm_flush_gap(h->pool, &h->dir, &h->consumer);
	CU_ASSERT_EQUAL(h->dir.ooo_segs, 0);
	CU_ASSERT_EQUAL(h->sink.gaps, 1);
	CU_ASSERT_EQUAL(stats(h)->gaps, 1);
	CU_ASSERT_EQUAL(stats(h)->gap_bytes, 8);
	CU_ASSERT_EQUAL(stats(h)->ooo_delivered, 3);
	{
		/* before: records ending before the hole; after: the records
		 * whose length field starts at or after the hole's end */
		size_t before = 0, resume;

		while (before < s.n && s.end[before] <= drop * 8)
			before++;
		resume = before;
		while (resume < s.n && s.body_off[resume] - 4 < drop * 8 + 8)
			resume++;
		CU_ASSERT_EQUAL(h->sink.n, before + (s.n - resume));
		CU_ASSERT_TRUE(sink_has(&h->sink, 0, &s, 0, before));
		CU_ASSERT_TRUE(sink_has(&h->sink, before, &s, resume, s.n));
	}
	st_reasm_flush_gap(h->pool, &h->dir, &h->consumer);  /* nothing queued: no-op */
	CU_ASSERT_EQUAL(h->sink.gaps, 1);
	harness_free(h);
}

/* ---- caps ---- */

/* Units bigger than the consumer's hold_max stream past; the carry never
 * holds more than hold_max between calls and no offer exceeds
 * hold_max + ST_REASM_APPEND_MIN_BYTES. */
static void test_carry_cap(void)
{
	static struct stream s;
	static const size_t sizes[] = { 10, 200, 3, 58, 59, 60, 500, 1, 120, 7, 64, 2 };
	static const size_t seg_sizes[] = { 1, 7, 50, 100, 333, 4096 };
	unsigned big = 0;

	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		stream_add_lp(&s, sizes[i]);
	for (size_t r = 0; r < s.n; r++)
		big += 4 + s.body_len[r] > 64;
	for (size_t k = 0; k < sizeof(seg_sizes) / sizeof(seg_sizes[0]); k++) {
		struct harness *h = harness_new(false, 64, 8, 4096, 1 << 20);
		size_t n = seg_count(&s, seg_sizes[k]);

		send_syn(h, 3);
		for (size_t i = 0; i < n; i++)
			send_piece(h, 3, &s, seg_sizes[k], i, 0);
		/* the expected records: those the consumer can hold, in order */
		{
			size_t got = 0;
			bool same = true;

			for (size_t r = 0; r < s.n; r++) {
				if (4 + s.body_len[r] > 64)
					continue;
				same = same && sink_has(&h->sink, got, &s, r, r + 1);
				got++;
			}
			CU_ASSERT_TRUE(same);
			CU_ASSERT_EQUAL(h->sink.n, got);
		}
		CU_ASSERT_EQUAL(h->sink.truncated, big);
		CU_ASSERT_EQUAL(h->sink.gaps, 0);
		CU_ASSERT_EQUAL(h->bound_violations, 0);
		CU_ASSERT_EQUAL(h->sink.contract_violations, 0);
		/* no OOO here: every offer not in the segment is the carry */
		CU_ASSERT_TRUE(h->sink.max_copied_offer <= 64 + ST_REASM_APPEND_MIN_BYTES);
		CU_ASSERT_EQUAL(stats(h)->carry_overflow, 0);
		harness_free(h);
	}
}

/* A consumer that never consumes breaks its promise: counted, no loop. */
static void test_broken_consumer(void)
{
	static struct stream s;
	struct harness *h = harness_new(false, 64, 8, 4096, 1 << 20);
	size_t n;

	stream_sized(&s, false, 50, 30);
	h->sink.always_zero = true;
	send_syn(h, 0);
	/* 100-byte segments: each one offered in place, nothing consumed */
	n = seg_count(&s, 100);
	for (size_t i = 0; i < n; i++)
		send_piece(h, 0, &s, 100, i, 0);
	CU_ASSERT_EQUAL(stats(h)->carry_overflow, n - (s.len % 100 && s.len % 100 <= 64));
	CU_ASSERT_EQUAL(h->sink.gaps, stats(h)->gaps);
	CU_ASSERT_EQUAL(h->bound_violations, 0);

	/* 30-byte segments go through the carry until it passes hold_max */
	harness_restart(h);
	h->sink.always_zero = true;
	send_syn(h, 0);
	n = seg_count(&s, 30);
	for (size_t i = 0; i < n; i++)
		send_piece(h, 0, &s, 30, i, 0);
	CU_ASSERT_TRUE(stats(h)->carry_overflow >= n / 3);
	CU_ASSERT_EQUAL(stats(h)->gaps, stats(h)->carry_overflow);
	CU_ASSERT_EQUAL(h->bound_violations, 0);
	CU_ASSERT_EQUAL(h->sink.contract_violations, 0);
	CU_ASSERT_EQUAL(stats(h)->bytes_in_order, s.len);
	CU_ASSERT_EQUAL(stats(h)->carry_dropped_bytes + h->dir.carry_len, s.len);
	harness_free(h);
}

/* Window full by segment count is in test_dropped_segment_window_full; by
 * bytes here: 50 bytes of queue hold five 10-byte segments. */
static void test_ooo_bytes_cap(void)
{
	static struct stream s;
	struct harness *h = harness_new(true, 256, 8, 50, 1 << 20);

	stream_sized(&s, true, 40, 11);
	CU_ASSERT_FATAL(s.len >= 200);
	send_syn(h, 100);
	send_piece(h, 100, &s, 10, 0, 0);
	for (size_t i = 2; i <= 6; i++)
		send_piece(h, 100, &s, 10, i, 0);
	CU_ASSERT_EQUAL(h->dir.ooo_segs, 5);
	CU_ASSERT_EQUAL(h->dir.ooo_bytes, 50);
	CU_ASSERT_EQUAL(stats(h)->ooo_full, 0);
	send_piece(h, 100, &s, 10, 7, 0);
	CU_ASSERT_EQUAL(stats(h)->ooo_full, 1);
	CU_ASSERT_EQUAL(stats(h)->gap_bytes, 10);
	CU_ASSERT_EQUAL(h->sink.gaps, 1);
	CU_ASSERT_EQUAL(h->dir.ooo_segs, 0);
	CU_ASSERT_EQUAL(h->dir.next_seq, 101u + 80u);
	/* a segment larger than the whole window: the hole before it is
	 * declared and it is delivered in place */
	send_range(h, 100, &s, 90, 200, 0);
	CU_ASSERT_EQUAL(stats(h)->ooo_full, 2);
	CU_ASSERT_EQUAL(stats(h)->gap_bytes, 20);
	CU_ASSERT_EQUAL(h->dir.next_seq, 101u + 200u);
	CU_ASSERT_EQUAL(h->bound_violations, 0);
	harness_free(h);
}

/* 10^4 directions each holding a carry on a 1 MiB pool.  With a 200-byte
 * carry cap, 1024-byte queue and 256-byte minimum blocks, each carry of
 * 100 bytes takes one 256-byte block: exactly 4096 fit. */
static void test_pool_budget_many_flows(void)
{
	enum { DIRS = 10000 };
	struct st_reasm_config cfg = config(200, 8, 1024, 1 << 20);
	struct st_reasm_pool *pool = st_reasm_pool_create(&cfg);
	struct st_reasm_dir *dirs = calloc(DIRS, sizeof(*dirs));
	struct sink *k = malloc(sizeof(*k));
	struct st_reasm_consumer c = { sink_feed, sink_gap, k };
	static const uint8_t unit6[] = { 0, 0, 0, 2, 'R', 'C' };
	static struct stream s;
	size_t memory, fit = (1u << 20) / ST_REASM_BLOCK_MIN_BYTES;
	unsigned over_budget = 0;

	CU_ASSERT_FATAL(pool && dirs && k);
	CU_ASSERT_EQUAL(st_reasm_pool_block_max_bytes(pool), 2048);
	CU_ASSERT_EQUAL(st_reasm_pool_arena_bytes(pool), 1u << 20);
	sink_init(k, false, 200);
	memset(&s, 0, sizeof(s));
	stream_add_lp(&s, 148);   /* one 154-byte unit: [len][RC][148 bytes] */
	memory = st_reasm_pool_memory_bytes(pool);
	for (unsigned i = 0; i < DIRS; i++) {
		st_reasm_dir_init(&dirs[i]);
		st_reasm_segment(pool, &dirs[i], 1000 * i, ST_TCP_SYN, NULL, 0, TS_NS, &c);
		st_reasm_segment(pool, &dirs[i], 1000 * i + 1, ST_TCP_ACK, s.bytes, 100, TS_NS, &c);
		over_budget += st_reasm_pool_bytes_in_use(pool) > (1u << 20);
	}
	CU_ASSERT_EQUAL(over_budget, 0);
	CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(pool), 1u << 20);
	CU_ASSERT_EQUAL(st_reasm_pool_stats(pool)->pool_exhausted, DIRS - fit);
	CU_ASSERT_EQUAL(st_reasm_pool_stats(pool)->gaps, DIRS - fit);
	CU_ASSERT_EQUAL(k->gaps, DIRS - fit);
	CU_ASSERT_EQUAL(dirs[fit - 1].carry_len, 100);
	CU_ASSERT_EQUAL(dirs[fit].carry_len, 0);
	CU_ASSERT_EQUAL(st_reasm_pool_memory_bytes(pool), memory);

	/* an out-of-order segment on a full pool: treated as lost, the hole
	 * before it declared, the segment (one whole 6-byte unit) delivered in
	 * place */
	k->n = 0;
	k->got_len = 0;
	st_reasm_segment(pool, &dirs[DIRS - 1], 1000 * (DIRS - 1) + 1 + 500, ST_TCP_ACK,
			 unit6, sizeof(unit6), TS_NS, &c);
	CU_ASSERT_EQUAL(st_reasm_pool_stats(pool)->pool_exhausted, DIRS - fit + 1);
	CU_ASSERT_EQUAL(st_reasm_pool_stats(pool)->gap_bytes, 400);
	CU_ASSERT_EQUAL(dirs[DIRS - 1].ooo_segs, 0);
	CU_ASSERT_EQUAL(k->n, 1);

	/* the rest of each carried unit: all 4096 complete and free their
	 * block */
	k->expect = s.bytes + s.body_off[0];
	k->expect_len = s.body_len[0];
	k->resync = false;
	for (unsigned i = 0; i < fit; i++)
		st_reasm_segment(pool, &dirs[i], 1000 * i + 101, ST_TCP_ACK, s.bytes + 100,
				 (uint32_t)(s.len - 100), TS_NS, &c);
	CU_ASSERT_EQUAL(k->matched, fit);
	CU_ASSERT_EQUAL(k->mismatched, 0);
	CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(pool), 0);
	for (unsigned i = 0; i < DIRS; i++)
		st_reasm_release(pool, &dirs[i]);
	CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(pool), 0);
	CU_ASSERT_EQUAL(st_reasm_pool_memory_bytes(pool), memory);

	/* freed blocks merge back: the arena now holds 512 largest blocks,
	 * each taken by one queued 1024-byte segment (+ 32-byte descriptor) */
	{
		static uint8_t big[1024];
		uint64_t exhausted = st_reasm_pool_stats(pool)->pool_exhausted;
		unsigned queued = 0;

		for (unsigned i = 0; i < 512; i++) {
			st_reasm_dir_init(&dirs[i]);
			st_reasm_segment(pool, &dirs[i], 7, ST_TCP_SYN, NULL, 0, TS_NS, &c);
			st_reasm_segment(pool, &dirs[i], 100, ST_TCP_ACK, big, sizeof(big),
					 TS_NS, &c);
			queued += dirs[i].ooo_segs;
		}
		CU_ASSERT_EQUAL(queued, 512);
		CU_ASSERT_EQUAL(st_reasm_pool_stats(pool)->pool_exhausted, exhausted);
		CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(pool), 1u << 20);
		for (unsigned i = 0; i < 512; i++)
			st_reasm_release(pool, &dirs[i]);
		CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(pool), 0);
	}
	CU_ASSERT_EQUAL(k->contract_violations, 0);
	free(k);
	free(dirs);
	st_reasm_pool_destroy(pool);
}

/* ---- connection events ---- */

static void test_syn_takes_one_sequence_number(void)
{
	static struct stream s;
	struct harness *h = harness_new(false, 256, 8, 4096, 1 << 20);

	stream_sized(&s, false, 10, 20);
	send_syn(h, 500);
	CU_ASSERT_EQUAL(h->dir.flags, ST_REASM_F_SYNCED | ST_REASM_F_ISN);
	CU_ASSERT_EQUAL(h->dir.isn, 500);
	CU_ASSERT_EQUAL(h->dir.next_seq, 501);
	send_seg(h, 501, ST_TCP_ACK, s.bytes, s.len);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->overlaps_trimmed, 0);
	CU_ASSERT_EQUAL(stats(h)->midstream_starts, 0);

	/* data on the SYN (TCP Fast Open) starts at isn + 1; a retransmitted
	 * SYN with the same ISN changes nothing */
	harness_restart(h);
	send_seg(h, 9000, ST_TCP_SYN, s.bytes, 30);
	send_seg(h, 9000, ST_TCP_SYN, s.bytes, 30);
	send_seg(h, 9031, ST_TCP_ACK, s.bytes + 30, s.len - 30);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->syn_duplicates, 1);
	CU_ASSERT_EQUAL(stats(h)->duplicates, 1);
	CU_ASSERT_EQUAL(stats(h)->syn_restarts, 0);
	CU_ASSERT_EQUAL(h->sink.gaps, 0);
	harness_free(h);
}

static void test_isn_change_restarts(void)
{
	static struct stream s;
	struct harness *h = harness_new(false, 256, 8, 4096, 1 << 20);

	stream_sized(&s, false, 10, 20);
	send_syn(h, 100);
	send_range(h, 100, &s, 0, s.end[3] + 2, 0);        /* a carry of 2 bytes */
	send_range(h, 100, &s, s.end[6], s.end[7], 0);     /* one queued */
	CU_ASSERT_EQUAL(h->dir.carry_len, 2);
	CU_ASSERT_EQUAL(h->dir.ooo_segs, 1);
	CU_ASSERT_EQUAL(h->sink.n, 4);
	send_syn(h, 777777);
	CU_ASSERT_EQUAL(stats(h)->syn_restarts, 1);
	CU_ASSERT_EQUAL(h->sink.gaps, 1);
	CU_ASSERT_EQUAL(h->dir.carry_len, 0);
	CU_ASSERT_EQUAL(h->dir.ooo_segs, 0);
	CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(h->pool), 0);
	CU_ASSERT_EQUAL(h->dir.next_seq, 777778);
	/* the new connection's stream from its start */
	h->sink.n = 0;
	h->sink.got_len = 0;
	send_range(h, 777777, &s, 0, s.len, 0);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	harness_free(h);
}

static void test_fin_closes(void)
{
	static struct stream s;
	struct harness *h = harness_new(true, 256, 8, 4096, 1 << 20);
	uint32_t fin;

	stream_sized(&s, true, 12, 20);
	send_syn(h, 40);
	send_range(h, 40, &s, 0, 20, 0);
	send_range(h, 40, &s, 20, s.len, ST_TCP_FIN);
	fin = 41 + (uint32_t)s.len;
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_TRUE(st_reasm_dir_closed(&h->dir));
	CU_ASSERT_EQUAL(h->dir.fin_seq, fin);
	CU_ASSERT_EQUAL(h->dir.next_seq, fin + 1);
	CU_ASSERT_EQUAL(stats(h)->fins, 1);
	/* a retransmission, and bytes past the FIN */
	send_range(h, 40, &s, 20, s.len, ST_TCP_FIN);
	send_seg(h, fin + 1, ST_TCP_ACK, s.bytes, 9);
	CU_ASSERT_EQUAL(stats(h)->duplicates, 1);
	CU_ASSERT_EQUAL(stats(h)->after_fin_bytes, 9);
	CU_ASSERT_EQUAL(h->sink.n, s.n);
	CU_ASSERT_EQUAL(h->sink.gaps, 0);

	/* a FIN with a unit unfinished: the carry is dropped at close */
	harness_restart(h);
	send_syn(h, 40);
	send_range(h, 40, &s, 0, s.end[2] + 3, 0);
	CU_ASSERT_EQUAL(h->dir.carry_len, 3);
	send_seg(h, 41 + (uint32_t)s.end[2] + 3, ST_TCP_FIN, NULL, 0);
	CU_ASSERT_TRUE(st_reasm_dir_closed(&h->dir));
	CU_ASSERT_EQUAL(stats(h)->carry_dropped_bytes, 3);
	CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(h->pool), 0);
	CU_ASSERT_EQUAL(h->sink.n, 3);
	harness_free(h);
}

static void test_fin_out_of_order(void)
{
	static struct stream s;
	struct harness *h = harness_new(true, 256, 8, 4096, 1 << 20);

	stream_sized(&s, true, 12, 20);
	send_syn(h, 0);
	send_range(h, 0, &s, 0, 30, 0);
	send_range(h, 0, &s, 60, s.len, ST_TCP_FIN);
	CU_ASSERT_FALSE(st_reasm_dir_closed(&h->dir));
	CU_ASSERT_EQUAL(h->dir.ooo_segs, 1);
	send_range(h, 0, &s, 30, 60, 0);
	CU_ASSERT_TRUE(st_reasm_dir_closed(&h->dir));
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));

	/* the hole never fills: the flow times out, flush declares it */
	harness_restart(h);
	send_syn(h, 0);
	send_range(h, 0, &s, 0, 30, 0);
	send_seg(h, 1 + (uint32_t)s.len, ST_TCP_FIN, NULL, 0);
	CU_ASSERT_FALSE(st_reasm_dir_closed(&h->dir));
	st_reasm_flush_gap(h->pool, &h->dir, &h->consumer);
	CU_ASSERT_TRUE(st_reasm_dir_closed(&h->dir));
	CU_ASSERT_EQUAL(stats(h)->gap_bytes, s.len - 30);
	CU_ASSERT_EQUAL(h->sink.gaps, 1);
	harness_free(h);
}

static void test_rst_drops_buffers(void)
{
	static struct stream s;
	struct harness *h = harness_new(false, 256, 8, 4096, 1 << 20);

	stream_sized(&s, false, 10, 20);
	send_syn(h, 1);
	send_range(h, 1, &s, 0, s.end[1] + 5, 0);
	send_range(h, 1, &s, s.end[4], s.end[5], 0);
	CU_ASSERT_TRUE(st_reasm_pool_bytes_in_use(h->pool) > 0);
	send_seg(h, 2 + (uint32_t)s.end[1] + 5, ST_TCP_RST, (const uint8_t *)"reset", 5);
	CU_ASSERT_EQUAL(stats(h)->resets, 1);
	CU_ASSERT_EQUAL(h->sink.gaps, 1);
	CU_ASSERT_EQUAL(h->dir.flags, 0);
	CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(h->pool), 0);
	CU_ASSERT_EQUAL(stats(h)->carry_dropped_bytes, 5);
	CU_ASSERT_EQUAL(stats(h)->released_bytes, s.end[5] - s.end[4]);
	CU_ASSERT_EQUAL(h->sink.n, 2);
	/* a RST on a direction never synced calls nothing */
	harness_restart(h);
	send_seg(h, 5, ST_TCP_RST, NULL, 0);
	CU_ASSERT_EQUAL(h->sink.gaps, 0);
	/* data after the RST syncs midstream */
	send_range(h, 1, &s, s.end[2], s.len, 0);
	CU_ASSERT_EQUAL(stats(h)->midstream_starts, 1);
	CU_ASSERT_EQUAL(h->sink.n, s.n - 3);
	CU_ASSERT_TRUE(sink_has(&h->sink, 0, &s, 3, s.n));
	harness_free(h);
}

static void test_midstream_start(void)
{
	static struct stream s;
	struct harness *h = harness_new(true, 256, 8, 4096, 1 << 20);

	stream_sized(&s, true, 20, 20);
	/* pure ACKs before any data do not sync */
	send_seg(h, 123456, ST_TCP_ACK, NULL, 0);
	CU_ASSERT_EQUAL(h->dir.flags, 0);
	send_seg(h, 123456, ST_TCP_ACK | ST_TCP_PSH, s.bytes, 50);
	send_seg(h, 123506, ST_TCP_ACK, s.bytes + 50, s.len - 50);
	CU_ASSERT_TRUE(sink_has_all(&h->sink, &s));
	CU_ASSERT_EQUAL(stats(h)->midstream_starts, 1);
	CU_ASSERT_EQUAL(h->sink.gaps, 0);
	CU_ASSERT_EQUAL(h->dir.flags, ST_REASM_F_SYNCED);
	/* a SYN on a direction synced midstream is a new connection */
	send_syn(h, 5);
	CU_ASSERT_EQUAL(stats(h)->syn_restarts, 1);
	CU_ASSERT_EQUAL(h->sink.gaps, 1);
	harness_free(h);
}

/* ---- the API around it ---- */

static void test_create_refuses_bad_config(void)
{
	struct st_reasm_config cfg;
	struct st_reasm_pool *p;

	cfg = config(0, 8, 4096, 1 << 20);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_reasm_pool_create(&cfg));
	CU_ASSERT_EQUAL(errno, EINVAL);
	cfg = config(64, 256, 4096, 1 << 20);
	CU_ASSERT_PTR_NULL(st_reasm_pool_create(&cfg));
	cfg = config(ST_REASM_CARRY_BYTES_MAX_LIMIT + 1, 8, 4096, 1ull << 30);
	CU_ASSERT_PTR_NULL(st_reasm_pool_create(&cfg));
	/* budget below the largest block (64 KiB + 32 -> 128 KiB) */
	cfg = config(16384, 8, 65536, 131071);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_reasm_pool_create(&cfg));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(st_reasm_pool_create(NULL));
	cfg = config(16384, 8, 65536, 131072 * 3 + 5);
	p = st_reasm_pool_create(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(st_reasm_pool_block_max_bytes(p), 131072);
	CU_ASSERT_EQUAL(st_reasm_pool_arena_bytes(p), 131072 * 3);
	CU_ASSERT_TRUE(st_reasm_pool_memory_bytes(p) >= 131072 * 3);
	CU_ASSERT_EQUAL(st_reasm_pool_bytes_in_use(p), 0);
	st_reasm_pool_destroy(p);
	st_reasm_pool_destroy(NULL);
}

static void test_stat_names(void)
{
	struct st_reasm_stats st;

	memset(&st, 0, sizeof(st));
	st.segments = 11;
	st.gaps = 22;
	st.released_bytes = 33;
	CU_ASSERT_STRING_EQUAL(st_reasm_stat_names[0], "segments");
	CU_ASSERT_STRING_EQUAL(st_reasm_stat_names[10], "gaps");
	CU_ASSERT_STRING_EQUAL(st_reasm_stat_names[ST_REASM_STATS_COUNT - 1], "released_bytes");
	CU_ASSERT_EQUAL(st_reasm_stat(&st, 0), 11);
	CU_ASSERT_EQUAL(st_reasm_stat(&st, 10), 22);
	CU_ASSERT_EQUAL(st_reasm_stat(&st, ST_REASM_STATS_COUNT - 1), 33);
	CU_ASSERT_EQUAL(st_reasm_stat(&st, ST_REASM_STATS_COUNT), 0);
	CU_ASSERT_EQUAL(sizeof(struct st_reasm_dir), 48);
}

ST_TEST_MAIN("dataplane/tcp/reasm",
	ST_TEST(test_split_every_offset_length_prefixed),
	ST_TEST(test_split_every_offset_lines),
	ST_TEST(test_split_every_offset_lazy_consumer),
	ST_TEST(test_whole_records_zero_copy),
	ST_TEST(test_swap_adjacent_segments),
	ST_TEST(test_reverse_windows),
	ST_TEST(test_exact_duplicates),
	ST_TEST(test_overlapping_retransmissions),
	ST_TEST(test_sequence_wrap),
	ST_TEST(test_dropped_segment_window_full),
	ST_TEST(test_dropped_segment_flushed),
	ST_TEST(test_carry_cap),
	ST_TEST(test_broken_consumer),
	ST_TEST(test_ooo_bytes_cap),
	ST_TEST(test_pool_budget_many_flows),
	ST_TEST(test_syn_takes_one_sequence_number),
	ST_TEST(test_isn_change_restarts),
	ST_TEST(test_fin_closes),
	ST_TEST(test_fin_out_of_order),
	ST_TEST(test_rst_drops_buffers),
	ST_TEST(test_midstream_start),
	ST_TEST(test_create_refuses_bad_config),
	ST_TEST(test_stat_names),
)
