/*
 * JSONL codec tests.  Expected records are the lines the test itself wrote
 * (exact values and counts by construction).  The test plays the TCP
 * reassembler: it keeps the bytes feed() leaves unconsumed in a carry and
 * offers them again with the next segment, and checks the carry contract
 * (consumed <= len; len > ST_CODEC_HOLD_MAX implies consumed > 0; the carry
 * never passes ST_CODEC_HOLD_MAX).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/codec.h"
#include "dataplane/compiler.h"
#include "st_test.h"

#define MAX_RECS 4096

struct got {
	unsigned n;
	uint8_t kind[MAX_RECS];
	uint8_t flags[MAX_RECS];
	uint32_t value_bytes[MAX_RECS];
	uint64_t ts_ns[MAX_RECS];
	char *value[MAX_RECS];
};

static void on_record(void *ctx, const struct st_record *r)
{
	struct got *g = ctx;

	CU_ASSERT_EQUAL(r->proto, ST_PROTO_JSONL);
	CU_ASSERT_PTR_NULL(r->stream);
	CU_ASSERT_EQUAL(r->count, 1);
	CU_ASSERT(r->value_len <= r->value_bytes);
	if (g->n == MAX_RECS)
		return;
	g->kind[g->n] = r->kind;
	g->flags[g->n] = r->flags;
	g->value_bytes[g->n] = r->value_bytes;
	g->ts_ns[g->n] = r->ts_ns;
	g->value[g->n] = strndup((const char *)r->value, r->value_len);
	g->n++;
}

static void on_latency(void *ctx, const struct st_latency *l)
{
	(void)ctx;
	(void)l;
	CU_FAIL("JSONL has no latency samples");
}

static void got_free(struct got *g)
{
	for (unsigned i = 0; i < g->n; i++)
		free(g->value[i]);
	g->n = 0;
}

/* The test's reassembler: one direction's carry. */
struct tcp {
	uint8_t state[ST_CODEC_STATE_MAX] __attribute__((aligned(8)));
	uint8_t carry[ST_CODEC_HOLD_MAX + 70000];
	size_t carry_len;
	struct st_codec_sink sink;
	struct st_codec_stats stats;
};

static void tcp_init(struct tcp *t, struct got *g)
{
	memset(t, 0, sizeof(*t));
	st_codec_jsonl.init(t->state);
	t->sink = (struct st_codec_sink){ on_record, on_latency, g };
}

static void tcp_segment(struct tcp *t, enum st_dir dir, const void *seg,
			size_t len, uint64_t ts_ns)
{
	const uint8_t *data = seg;
	size_t n = len, used;

	if (t->carry_len) {
		memcpy(t->carry + t->carry_len, seg, len);
		data = t->carry;
		n = t->carry_len + len;
	}
	used = st_codec_jsonl.feed(t->state, dir, data, n, ts_ns, &t->sink,
				   &t->stats);
	CU_ASSERT_FATAL(used <= n);
	if (n > ST_CODEC_HOLD_MAX)
		CU_ASSERT_FATAL(used > 0);
	memmove(t->carry, data + used, n - used);
	t->carry_len = n - used;
	CU_ASSERT_FATAL(t->carry_len <= ST_CODEC_HOLD_MAX);
}

static void tcp_gap(struct tcp *t, enum st_dir dir)
{
	t->carry_len = 0;
	st_codec_jsonl.gap(t->state, dir, &t->stats);
}

static void test_table(void)
{
	CU_ASSERT_EQUAL(st_codec_jsonl.proto, ST_PROTO_JSONL);
	CU_ASSERT_STRING_EQUAL(st_codec_jsonl.name, "jsonl");
	CU_ASSERT(st_codec_jsonl.state_bytes <= ST_CODEC_STATE_MAX);
	CU_ASSERT(st_codec_jsonl.n_errors <= ST_CODEC_ERRORS_MAX);
	CU_ASSERT_PTR_NOT_NULL(st_codec_jsonl.datagram);
	CU_ASSERT_STRING_EQUAL(st_codec_jsonl.error_names[0], "line_too_long");
	CU_ASSERT_STRING_EQUAL(st_codec_jsonl.error_names[1], "long_line_cut_by_gap");
}

static void test_datagrams(void)
{
	static const char dg[] = "{\"a\":1}\n\n{\"b\":\"x y\"}\r\n\r\n  \n{\"c\":[]}";
	struct got g = { 0 };
	struct st_codec_sink sink = { on_record, on_latency, &g };
	struct st_codec_stats stats = { 0 };

	st_codec_jsonl.datagram(ST_DIR_TO_SERVER, (const uint8_t *)dg,
				strlen(dg), 42, &sink, &stats);
	CU_ASSERT_EQUAL_FATAL(g.n, 4);
	CU_ASSERT_STRING_EQUAL(g.value[0], "{\"a\":1}");
	CU_ASSERT_STRING_EQUAL(g.value[1], "{\"b\":\"x y\"}");
	CU_ASSERT_STRING_EQUAL(g.value[2], "  ");      /* not empty: a record */
	CU_ASSERT_STRING_EQUAL(g.value[3], "{\"c\":[]}");
	for (unsigned i = 0; i < g.n; i++) {
		CU_ASSERT_EQUAL(g.kind[i], ST_REC_RECORD);
		CU_ASSERT_EQUAL(g.flags[i], 0);
		CU_ASSERT_EQUAL(g.ts_ns[i], 42);
		CU_ASSERT_EQUAL(g.value_bytes[i], strlen(g.value[i]));
	}
	CU_ASSERT_EQUAL(stats.records, 4);
	CU_ASSERT_EQUAL(stats.units[ST_DIR_TO_SERVER], 4);
	got_free(&g);

	/* toward the client: deliveries */
	st_codec_jsonl.datagram(ST_DIR_TO_CLIENT, (const uint8_t *)"1\n2\n", 4,
				7, &sink, &stats);
	CU_ASSERT_EQUAL(g.n, 2);
	CU_ASSERT(g.n == 2 && g.kind[0] == ST_REC_EGRESS && g.kind[1] == ST_REC_EGRESS);
	CU_ASSERT_EQUAL(stats.egress_records, 2);
	CU_ASSERT_EQUAL(stats.records, 4);
	got_free(&g);

	/* nothing but line ends, and nothing at all */
	st_codec_jsonl.datagram(ST_DIR_TO_SERVER, (const uint8_t *)"\n\r\n\n", 4,
				7, &sink, &stats);
	st_codec_jsonl.datagram(ST_DIR_TO_SERVER, (const uint8_t *)"", 0, 7,
				&sink, &stats);
	CU_ASSERT_EQUAL(g.n, 0);
}

/* Lines the test writes; the stream is their concatenation. */
static const char *const lines[] = {
	"{\"id\":1,\"user\":{\"id\":\"u1\"}}", "", "{\"id\":2}\r", "[1,2,3]",
	"\r", "{\"s\":\"a\\nb\"}", "x", "{\"id\":3,\"tags\":[\"a\",\"b\"]}",
};

static size_t build_stream(char *out, const char **want, unsigned *nwant)
{
	size_t len = 0;

	*nwant = 0;
	for (size_t i = 0; i < ST_ARRAY_SIZE(lines); i++) {
		size_t n = strlen(lines[i]);

		len += (size_t)sprintf(out + len, "%s\n", lines[i]);
		if (n && lines[i][n - 1] == '\r')
			n--;
		if (n)
			want[(*nwant)++] = lines[i];
	}
	return len;
}

static bool same_line(const char *got, const char *line)
{
	size_t n = strlen(line);

	if (n && line[n - 1] == '\r')
		n--;
	return strlen(got) == n && memcmp(got, line, n) == 0;
}

/* Every split point of the stream into two segments, then three. */
static void test_tcp_split_everywhere(void)
{
	char stream[512];
	const char *want[ST_ARRAY_SIZE(lines)];
	unsigned nwant;
	size_t len = build_stream(stream, want, &nwant);
	static struct tcp t;
	struct got g = { 0 };

	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b += (a % 7 == 0) ? 1 : len + 1) {
			tcp_init(&t, &g);
			tcp_segment(&t, ST_DIR_TO_SERVER, stream, a, 1);
			tcp_segment(&t, ST_DIR_TO_SERVER, stream + a, b - a, 2);
			tcp_segment(&t, ST_DIR_TO_SERVER, stream + b, len - b, 3);
			CU_ASSERT_EQUAL(g.n, nwant);
			for (unsigned i = 0; i < g.n && i < nwant; i++) {
				CU_ASSERT(same_line(g.value[i], want[i]));
				CU_ASSERT_EQUAL(g.kind[i], ST_REC_RECORD);
			}
			CU_ASSERT_EQUAL(t.carry_len, 0);
			CU_ASSERT_EQUAL(t.stats.records, nwant);
			got_free(&g);
		}
	}
	/* byte by byte */
	tcp_init(&t, &g);
	for (size_t i = 0; i < len; i++)
		tcp_segment(&t, ST_DIR_TO_CLIENT, stream + i, 1, i);
	CU_ASSERT_EQUAL(g.n, nwant);
	CU_ASSERT_EQUAL(t.stats.egress_records, nwant);
	CU_ASSERT(g.n > 0 && g.kind[0] == ST_REC_EGRESS);
	/* a record's time is that of the segment bringing its "\n" */
	CU_ASSERT(g.n > 0 && g.ts_ns[0] == strlen(lines[0]));
	got_free(&g);
}

static void test_long_line(void)
{
	static struct tcp t;
	static char big[70000];
	struct got g = { 0 };
	size_t line_len = 40000, len;

	for (size_t i = 0; i < line_len; i++)
		big[i] = (char)('a' + i % 26);
	len = line_len;
	len += (size_t)sprintf(big + len, "\r\n{\"after\":1}\n");
	for (size_t seg = 1000; seg <= 24000; seg += 23000) {
		tcp_init(&t, &g);
		for (size_t off = 0; off < len; off += seg)
			tcp_segment(&t, ST_DIR_TO_SERVER, big + off,
				    ST_MIN(seg, len - off), off);
		CU_ASSERT_EQUAL_FATAL(g.n, 2);
		CU_ASSERT_EQUAL(g.flags[0], ST_REC_F_VALUE_TRUNCATED);
		CU_ASSERT_EQUAL(g.value_bytes[0], line_len);
		CU_ASSERT(strlen(g.value[0]) > 0 && strlen(g.value[0]) < line_len &&
			  memcmp(g.value[0], big, strlen(g.value[0])) == 0);
		CU_ASSERT_STRING_EQUAL(g.value[1], "{\"after\":1}");
		CU_ASSERT_EQUAL(g.flags[1], 0);
		CU_ASSERT_EQUAL(t.stats.truncated_values, 1);
		CU_ASSERT_EQUAL(t.stats.errors[0], 1);
		CU_ASSERT_EQUAL(t.stats.records, 2);
		got_free(&g);
	}
	/* exactly ST_CODEC_HOLD_MAX bytes still fit the carry: not truncated */
	memset(big, 'q', ST_CODEC_HOLD_MAX);
	big[ST_CODEC_HOLD_MAX] = '\n';
	tcp_init(&t, &g);
	tcp_segment(&t, ST_DIR_TO_SERVER, big, ST_CODEC_HOLD_MAX, 1);
	tcp_segment(&t, ST_DIR_TO_SERVER, big + ST_CODEC_HOLD_MAX, 1, 2);
	CU_ASSERT_EQUAL_FATAL(g.n, 1);
	CU_ASSERT_EQUAL(g.flags[0], 0);
	CU_ASSERT_EQUAL(strlen(g.value[0]), ST_CODEC_HOLD_MAX);
	got_free(&g);
}

static void test_gap_resync(void)
{
	static struct tcp t;
	struct got g = { 0 };
	static char big[30000];

	tcp_init(&t, &g);
	tcp_segment(&t, ST_DIR_TO_SERVER, "{\"a\":1}\n{\"b\":2}\n{\"par", 21, 1);
	CU_ASSERT_EQUAL(g.n, 2);
	tcp_gap(&t, ST_DIR_TO_SERVER);
	/* lost: the rest of the cut line; then the stream goes on */
	tcp_segment(&t, ST_DIR_TO_SERVER, "tial\":3}\n{\"c\":4}\n", 17, 2);
	CU_ASSERT_EQUAL_FATAL(g.n, 3);
	CU_ASSERT_STRING_EQUAL(g.value[2], "{\"c\":4}");
	CU_ASSERT_EQUAL(t.stats.resyncs, 1);
	CU_ASSERT_EQUAL(t.stats.skipped_bytes, 9);
	CU_ASSERT_EQUAL(t.stats.records, 3);
	/* the other direction is not affected */
	tcp_segment(&t, ST_DIR_TO_CLIENT, "{\"d\":5}\n", 8, 3);
	CU_ASSERT_EQUAL(g.n, 4);
	got_free(&g);

	/* a gap inside a long line drops it */
	memset(big, 'z', sizeof(big));
	tcp_init(&t, &g);
	tcp_segment(&t, ST_DIR_TO_SERVER, big, 20000, 1);
	tcp_gap(&t, ST_DIR_TO_SERVER);
	tcp_segment(&t, ST_DIR_TO_SERVER, "zz\nok\n", 6, 2);
	CU_ASSERT_EQUAL_FATAL(g.n, 1);
	CU_ASSERT_STRING_EQUAL(g.value[0], "ok");
	CU_ASSERT_EQUAL(t.stats.errors[1], 1);
	CU_ASSERT_EQUAL(t.stats.truncated_values, 0);
	got_free(&g);
}

/* Random segmentation of many lines: every line comes out, in order. */
static void test_random_segments(void)
{
	static struct tcp t;
	static char stream[1 << 20];
	static char *want[3000];
	struct got g = { 0 };
	size_t len = 0;
	uint64_t x = 12345;
	unsigned nl = 0;

	for (unsigned i = 0; i < 3000 && len < sizeof(stream) - 400; i++) {
		unsigned n = 1 + i % 300;

		want[nl] = stream + len;
		for (unsigned k = 0; k < n; k++)
			stream[len++] = (char)('!' + (i * 7 + k) % 90);
		len += (size_t)sprintf(stream + len, i % 3 ? "\n" : "\r\n");
		nl++;
	}
	tcp_init(&t, &g);
	for (size_t off = 0; off < len;) {
		size_t seg;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		seg = 1 + (x >> 33) % 1500;
		seg = ST_MIN(seg, len - off);
		tcp_segment(&t, ST_DIR_TO_SERVER, stream + off, seg, off);
		off += seg;
	}
	CU_ASSERT_EQUAL_FATAL(g.n, nl);
	for (unsigned i = 0; i < nl; i++) {
		size_t n = strcspn(want[i], "\r\n");

		CU_ASSERT(strlen(g.value[i]) == n &&
			  memcmp(g.value[i], want[i], n) == 0);
	}
	got_free(&g);
}

ST_TEST_MAIN("dataplane/codec/jsonl",
	ST_TEST(test_table),
	ST_TEST(test_datagrams),
	ST_TEST(test_tcp_split_everywhere),
	ST_TEST(test_long_line),
	ST_TEST(test_gap_resync),
	ST_TEST(test_random_segments))
