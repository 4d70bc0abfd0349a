/*
 * JSONL codec tests.  Expected records are the lines the test itself wrote
 * (exact values and counts by construction).  tests/lib/codec_harness.h
 * plays the TCP reassembler: it keeps the bytes feed() leaves unconsumed in
 * a carry and offers them again with the next segment, and checks the carry
 * contract (consumed <= len; len > ST_CODEC_HOLD_MAX implies consumed > 0;
 * the carry never passes ST_CODEC_HOLD_MAX) and every event.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/codec.h"
#include "dataplane/compiler.h"
#include "codec_harness.h"
#include "st_test.h"

static const struct st_codec *C = &st_codec_jsonl;

/* JSONL's promises beyond codec.h's: one line per event, no stream name
 * (the caller names the stream by destination). */
static const char *jsonl_record_rule(const struct st_ch *h, const struct st_record *r)
{
	(void)h;
	if (r->stream)
		return "a stream name on a JSONL record";
	return r->count != 1 ? "count != 1" : NULL;
}

static const struct st_ch_rules jsonl_rules = { jsonl_record_rule, st_ch_no_latency };

static struct st_ch *h_new(void)
{
	return st_ch_create(C, &jsonl_rules);
}

/* Record i's value as a string; "" when there is no such record (no line
 * written here is empty). */
static const char *value_of(const struct st_ch *h, size_t i)
{
	const struct st_ch_record *r = st_ch_record(h, i);

	return r && r->value ? (const char *)r->value : "";
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
	struct st_ch *h = h_new();
	const struct st_codec_stats *stats = st_ch_stats(h);

	st_ch_datagram(h, ST_DIR_TO_SERVER, dg, strlen(dg), 42);
	CU_ASSERT_EQUAL_FATAL(st_ch_record_count(h), 4);
	CU_ASSERT_STRING_EQUAL(value_of(h, 0), "{\"a\":1}");
	CU_ASSERT_STRING_EQUAL(value_of(h, 1), "{\"b\":\"x y\"}");
	CU_ASSERT_STRING_EQUAL(value_of(h, 2), "  ");      /* not empty: a record */
	CU_ASSERT_STRING_EQUAL(value_of(h, 3), "{\"c\":[]}");
	for (size_t i = 0; i < st_ch_record_count(h); i++) {
		const struct st_ch_record *r = st_ch_record(h, i);

		CU_ASSERT_EQUAL(r->kind, ST_REC_RECORD);
		CU_ASSERT_EQUAL(r->flags, 0);
		CU_ASSERT_EQUAL(r->ts_ns, 42);
		CU_ASSERT_EQUAL(r->value_bytes, strlen(value_of(h, i)));
	}
	CU_ASSERT_EQUAL(stats->records, 4);
	CU_ASSERT_EQUAL(stats->units[ST_DIR_TO_SERVER], 4);
	st_ch_forget(h);

	/* toward the client: deliveries */
	st_ch_datagram(h, ST_DIR_TO_CLIENT, "1\n2\n", 4, 7);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
	CU_ASSERT(st_ch_record_count(h) == 2 && st_ch_record(h, 0)->kind == ST_REC_EGRESS &&
		  st_ch_record(h, 1)->kind == ST_REC_EGRESS);
	CU_ASSERT_EQUAL(stats->egress_records, 2);
	CU_ASSERT_EQUAL(stats->records, 4);
	st_ch_forget(h);

	/* nothing but line ends, and nothing at all */
	st_ch_datagram(h, ST_DIR_TO_SERVER, "\n\r\n\n", 4, 7);
	st_ch_datagram(h, ST_DIR_TO_SERVER, "", 0, 7);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 0);
	st_ch_destroy(h);
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
	struct st_ch *h;

	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b += (a % 7 == 0) ? 1 : len + 1) {
			h = h_new();
			st_ch_feed(h, ST_DIR_TO_SERVER, stream, a, 1);
			st_ch_feed(h, ST_DIR_TO_SERVER, stream + a, b - a, 2);
			st_ch_feed(h, ST_DIR_TO_SERVER, stream + b, len - b, 3);
			CU_ASSERT_EQUAL(st_ch_record_count(h), nwant);
			for (unsigned i = 0; i < st_ch_record_count(h) && i < nwant; i++) {
				CU_ASSERT(same_line(value_of(h, i), want[i]));
				CU_ASSERT_EQUAL(st_ch_record(h, i)->kind, ST_REC_RECORD);
			}
			CU_ASSERT_EQUAL(st_ch_carry_bytes(h, ST_DIR_TO_SERVER), 0);
			CU_ASSERT_EQUAL(st_ch_stats(h)->records, nwant);
			st_ch_destroy(h);
		}
	}
	/* byte by byte */
	h = h_new();
	for (size_t i = 0; i < len; i++)
		st_ch_feed(h, ST_DIR_TO_CLIENT, stream + i, 1, i);
	CU_ASSERT_EQUAL(st_ch_record_count(h), nwant);
	CU_ASSERT_EQUAL(st_ch_stats(h)->egress_records, nwant);
	CU_ASSERT(st_ch_record_count(h) > 0 && st_ch_record(h, 0)->kind == ST_REC_EGRESS);
	/* a record's time is that of the segment bringing its "\n" */
	CU_ASSERT(st_ch_record_count(h) > 0 && st_ch_record(h, 0)->ts_ns == strlen(lines[0]));
	st_ch_destroy(h);
}

static void test_long_line(void)
{
	static char big[70000];
	size_t line_len = 40000, len;
	struct st_ch *h;

	for (size_t i = 0; i < line_len; i++)
		big[i] = (char)('a' + i % 26);
	len = line_len;
	len += (size_t)sprintf(big + len, "\r\n{\"after\":1}\n");
	for (size_t seg = 1000; seg <= 24000; seg += 23000) {
		const char *v0;

		h = h_new();
		st_ch_feed_chunks(h, ST_DIR_TO_SERVER, big, len, seg, 1);
		CU_ASSERT_EQUAL_FATAL(st_ch_record_count(h), 2);
		v0 = value_of(h, 0);
		CU_ASSERT_EQUAL(st_ch_record(h, 0)->flags, ST_REC_F_VALUE_TRUNCATED);
		CU_ASSERT_EQUAL(st_ch_record(h, 0)->value_bytes, line_len);
		CU_ASSERT(strlen(v0) > 0 && strlen(v0) < line_len &&
			  memcmp(v0, big, strlen(v0)) == 0);
		CU_ASSERT_STRING_EQUAL(value_of(h, 1), "{\"after\":1}");
		CU_ASSERT_EQUAL(st_ch_record(h, 1)->flags, 0);
		CU_ASSERT_EQUAL(st_ch_stats(h)->truncated_values, 1);
		CU_ASSERT_EQUAL(st_ch_error_count(h, "line_too_long"), 1);
		CU_ASSERT_EQUAL(st_ch_stats(h)->records, 2);
		st_ch_destroy(h);
	}
	/* exactly ST_CODEC_HOLD_MAX bytes still fit the carry: not truncated */
	memset(big, 'q', ST_CODEC_HOLD_MAX);
	big[ST_CODEC_HOLD_MAX] = '\n';
	h = h_new();
	st_ch_feed(h, ST_DIR_TO_SERVER, big, ST_CODEC_HOLD_MAX, 1);
	st_ch_feed(h, ST_DIR_TO_SERVER, big + ST_CODEC_HOLD_MAX, 1, 2);
	CU_ASSERT_EQUAL_FATAL(st_ch_record_count(h), 1);
	CU_ASSERT_EQUAL(st_ch_record(h, 0)->flags, 0);
	CU_ASSERT_EQUAL(strlen(value_of(h, 0)), ST_CODEC_HOLD_MAX);
	st_ch_destroy(h);
}

static void test_gap_resync(void)
{
	static char big[30000];
	struct st_ch *h = h_new();

	st_ch_feed(h, ST_DIR_TO_SERVER, "{\"a\":1}\n{\"b\":2}\n{\"par", 21, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
	st_ch_gap(h, ST_DIR_TO_SERVER);
	/* lost: the rest of the cut line; then the stream goes on */
	st_ch_feed(h, ST_DIR_TO_SERVER, "tial\":3}\n{\"c\":4}\n", 17, 2);
	CU_ASSERT_EQUAL_FATAL(st_ch_record_count(h), 3);
	CU_ASSERT_STRING_EQUAL(value_of(h, 2), "{\"c\":4}");
	CU_ASSERT_EQUAL(st_ch_stats(h)->resyncs, 1);
	CU_ASSERT_EQUAL(st_ch_stats(h)->skipped_bytes, 9);
	CU_ASSERT_EQUAL(st_ch_stats(h)->records, 3);
	/* the other direction is not affected */
	st_ch_feed(h, ST_DIR_TO_CLIENT, "{\"d\":5}\n", 8, 3);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 4);
	st_ch_destroy(h);

	/* a gap inside a long line drops it */
	memset(big, 'z', sizeof(big));
	h = h_new();
	st_ch_feed(h, ST_DIR_TO_SERVER, big, 20000, 1);
	st_ch_gap(h, ST_DIR_TO_SERVER);
	st_ch_feed(h, ST_DIR_TO_SERVER, "zz\nok\n", 6, 2);
	CU_ASSERT_EQUAL_FATAL(st_ch_record_count(h), 1);
	CU_ASSERT_STRING_EQUAL(value_of(h, 0), "ok");
	CU_ASSERT_EQUAL(st_ch_error_count(h, "long_line_cut_by_gap"), 1);
	CU_ASSERT_EQUAL(st_ch_stats(h)->truncated_values, 0);
	st_ch_destroy(h);
}

/* Random segmentation of many lines: every line comes out, in order. */
static void test_random_segments(void)
{
	static char stream[1 << 20];
	static char *want[3000];
	struct st_ch *h = h_new();
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
	for (size_t off = 0; off < len;) {
		size_t seg;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		seg = 1 + (x >> 33) % 1500;
		seg = ST_MIN(seg, len - off);
		st_ch_feed(h, ST_DIR_TO_SERVER, stream + off, seg, off);
		off += seg;
	}
	CU_ASSERT_EQUAL_FATAL(st_ch_record_count(h), nl);
	for (unsigned i = 0; i < nl; i++) {
		size_t n = strcspn(want[i], "\r\n");

		CU_ASSERT(strlen(value_of(h, i)) == n &&
			  memcmp(value_of(h, i), want[i], n) == 0);
	}
	st_ch_destroy(h);
}

ST_TEST_MAIN("dataplane/codec/jsonl",
	ST_TEST(test_table),
	ST_TEST(test_datagrams),
	ST_TEST(test_tcp_split_everywhere),
	ST_TEST(test_long_line),
	ST_TEST(test_gap_resync),
	ST_TEST(test_random_segments))
