/*
 * Kafka codec tests.  Oracles, all outside kafka.c:
 *   - the reference captures in ../shared/data/pcaps/kafka, against
 *     DeepFlow's `.result` file beside each one and against tshark's Kafka
 *     dissector run here through popen();
 *   - requests and responses built byte by byte in kafka_wire.h from the
 *     protocol guide, whose expected records are the table they are built
 *     from.
 * Every test runs twice (ST_TEST_MAIN at the end): with the fast path for
 * whole plain records and with the cursor path alone, and
 * test_fast_path_agrees compares the two event for event on captures.
 * Every feed goes through st_ch_feed() (tests/lib/codec_harness.h), which
 * implements the carry contract of codec.h (re-offers the unconsumed bytes
 * followed by the next chunk) and asserts its bounds; kafka_record_rule
 * asserts that every pointer lies in the bytes offered (stream: in the
 * flow's codec state).
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_harness.h"
#include "dataplane/codec/codec.h"
#include "dataplane/compiler.h"
#include "st_test.h"
#include "tests/dataplane/codec/kafka_hooked.h"
#include "tests/dataplane/codec/kafka_wire.h"

#define HOLD ST_CODEC_HOLD_MAX

/* The codec with its test hooks (kafka_hooked.h): every test runs twice,
 * with the fast record path on and with only the cursor path. */
static const struct st_codec *K = &st_codec_kafka_hooked;

/* Kafka's promises beyond codec.h's: a topic name lives in the flow's codec
 * state (it outlives the request header it came in); keys, values and
 * header blocks lie in the bytes fed. */
static const char *kafka_record_rule(const struct st_ch *h, const struct st_record *r)
{
	if (r->stream && !st_ch_in_state(h, r->stream, r->stream_len))
		return "topic outside the flow's codec state";
	if ((r->key && !st_ch_in_feed(h, r->key, r->key_len)) ||
	    (r->value && !st_ch_in_feed(h, r->value, r->value_len)) ||
	    (r->headers && !st_ch_in_feed(h, r->headers, r->headers_len)))
		return "key, value or headers outside the bytes fed";
	return NULL;
}

static const struct st_ch_rules kafka_rules = { kafka_record_rule, NULL };

static struct st_ch *flow_new(void)
{
	return st_ch_create(K, &kafka_rules);
}

/* ---- the standard produce content: two topics, three partitions ---- */

static const struct kw_record recs[] = {
	{ "k0", 2, "{\"user\":1}", 10, 2, { "h1", "h2" }, { "x", NULL }, 0 },
	{ NULL, 0, "v-null-key", 10, 0, { 0 }, { 0 }, 10 },
	{ "k2", 2, "", 0, 0, { 0 }, { 0 }, 20 },
	{ "", 0, "v3", 2, 1, { "trace" }, { "abc" }, 5 },
	{ "k4", 2, "v4", 2, 0, { 0 }, { 0 }, 7 },
	{ "k5", 2, NULL, 0, 3, { "a", "b", "c" }, { "1", "", "3" }, 9 },
};

struct part_spec {
	const char *topic;
	int32_t index;
	int first, n;           /* into recs[] */
	int split;              /* v3+: records [first, first+split) in a first batch */
};

static const struct part_spec parts[] = {
	{ "alpha", 0, 0, 3, 2 },
	{ "alpha", 3, 3, 1, 0 },
	{ "beta", 7, 4, 2, 0 },
};

#define BASE_TS 1700000000000ll

static int64_t base_ts_of(const struct part_spec *p)
{
	return BASE_TS + p->index * 1000;
}

/* The records field of one partition in Produce version `version`. */
static void put_partition_records(struct kw_buf *b, int version, const struct part_spec *p)
{
	if (version >= 3) {
		int split = p->split ? p->split : p->n;

		kw_batch(b, &recs[p->first], split, base_ts_of(p));
		if (split < p->n)
			kw_batch(b, &recs[p->first + split], p->n - split, base_ts_of(p));
		return;
	}
	for (int i = 0; i < p->n; i++)
		kw_message(b, version == 2 ? 1 : 0, 0,
			   base_ts_of(p) + recs[p->first + i].timestamp_delta,
			   &recs[p->first + i]);
}

/* A Produce request of `version` carrying parts[]; `tags` tagged fields in
 * every flexible struct. */
static void put_produce(struct kw_buf *b, int version, int32_t correlation_id,
			int16_t acks, int tags)
{
	bool flex = version >= 9;
	size_t at = kw_request_begin(b, 0, (int16_t)version, correlation_id, "test-client",
				     flex, tags);

	if (version >= 3)
		kw_string(b, flex, NULL, -1);
	kw_be16(b, acks);
	kw_be32(b, 1500);
	kw_array_len(b, flex, 2);
	for (int t = 0; t < 2; t++) {
		const char *name = t ? "beta" : "alpha";
		int n = 0;

		for (size_t i = 0; i < ST_ARRAY_SIZE(parts); i++)
			n += strcmp(parts[i].topic, name) == 0;
		kw_string(b, flex, name, (int)strlen(name));
		kw_array_len(b, flex, n);
		for (size_t i = 0; i < ST_ARRAY_SIZE(parts); i++) {
			struct kw_buf records = { 0 };

			if (strcmp(parts[i].topic, name))
				continue;
			kw_be32(b, parts[i].index);
			put_partition_records(&records, version, &parts[i]);
			kw_bytes(b, flex, records.p, (long)records.n);
			kw_free(&records);
			kw_tags(b, flex, tags);
		}
		kw_tags(b, flex, tags);
	}
	kw_tags(b, flex, tags);
	kw_frame_end(b, at);
}

/* The first `n` events of parts[] must be exactly f->ev[from..from+n). */
static void check_standard_prefix(const struct st_ch *f, size_t from, int version, size_t n)
{
	size_t k = from;

	CU_ASSERT_FATAL(st_ch_record_count(f) >= from + n);
	for (size_t i = 0; i < ST_ARRAY_SIZE(parts); i++) {
		const struct part_spec *p = &parts[i];

		for (int j = 0; j < p->n && k < from + n; j++, k++) {
			const struct kw_record *r = &recs[p->first + j];
			const struct st_ch_record *e = st_ch_record(f, k);

			CU_ASSERT_EQUAL(e->kind, ST_REC_RECORD);
			CU_ASSERT_EQUAL(e->count, 1);
			CU_ASSERT_STRING_EQUAL(e->stream, p->topic);
			CU_ASSERT_EQUAL(e->partition, p->index);
			CU_ASSERT_EQUAL(!!(e->flags & ST_REC_F_HAS_KEY), r->key != NULL);
			if (r->key) {
				CU_ASSERT_EQUAL(e->key_len, (uint32_t)r->key_len);
				CU_ASSERT(st_ch_bytes_are(e->key, r->key, (size_t)r->key_len));
			}
			CU_ASSERT_EQUAL(e->value == NULL, r->value == NULL);
			if (r->value) {
				CU_ASSERT_EQUAL(e->value_len, (uint32_t)r->value_len);
				CU_ASSERT_EQUAL(e->value_bytes, (uint32_t)r->value_len);
				CU_ASSERT(st_ch_bytes_are(e->value, r->value, (size_t)r->value_len));
			}
			CU_ASSERT_FALSE(e->flags & ST_REC_F_VALUE_TRUNCATED);
			if (version >= 2) {
				CU_ASSERT(e->flags & ST_REC_F_HAS_TIMESTAMP);
				CU_ASSERT_EQUAL(e->timestamp_ms, base_ts_of(p) + r->timestamp_delta);
			} else {
				CU_ASSERT_FALSE(e->flags & ST_REC_F_HAS_TIMESTAMP);
			}
			if (version >= 3) {
				CU_ASSERT_EQUAL(e->header_count, (uint32_t)r->n_headers);
				if (r->n_headers) {
					/* the raw block starts with the first key's length */
					size_t kl = strlen(r->header_key[0]);

					CU_ASSERT_FATAL(e->headers != NULL);
					CU_ASSERT_EQUAL(e->headers[0], (uint8_t)(kl << 1));
					CU_ASSERT(st_ch_bytes_are(e->headers + 1, r->header_key[0], kl));
				}
			} else {
				CU_ASSERT_EQUAL(e->header_count, 0);
			}
		}
	}
}

static void check_standard_records(const struct st_ch *f, size_t from, int version)
{
	check_standard_prefix(f, from, version, ST_ARRAY_SIZE(recs));
}

/* ---- hand-built requests ---- */

static void test_produce_every_version(void)
{
	for (int version = 0; version <= 12; version++) {
		struct kw_buf b = { 0 };
		struct st_ch *f = flow_new();
		unsigned batches = version >= 3 ? 4 : 6;

		put_produce(&b, version, 100 + version, 1, version % 2 ? 2 : 1);
		st_ch_feed(f, ST_DIR_TO_SERVER, b.p, b.n, 1000);
		CU_ASSERT_EQUAL(st_ch_carry_bytes(f, ST_DIR_TO_SERVER), 0);
		CU_ASSERT_EQUAL(st_ch_record_count(f), ST_ARRAY_SIZE(recs));
		check_standard_records(f, 0, version);
		CU_ASSERT_EQUAL(st_ch_stats(f)->records, ST_ARRAY_SIZE(recs));
		CU_ASSERT_EQUAL(st_ch_stats(f)->units[ST_DIR_TO_SERVER], 1);
		CU_ASSERT_EQUAL(st_ch_stats(f)->kafka_batches[ST_KAFKA_COMP_NONE], batches);
		CU_ASSERT_EQUAL(st_ch_stats(f)->kafka_batch_records[ST_KAFKA_COMP_NONE],
				ST_ARRAY_SIZE(recs));
		CU_ASSERT_EQUAL(st_ch_errors_total(f), 0);
		CU_ASSERT_EQUAL(st_ch_stats(f)->resyncs, 0);
		CU_ASSERT_EQUAL(st_ch_bad_events(f), 0);
		if (st_ch_errors_total(f) || st_ch_record_count(f) != ST_ARRAY_SIZE(recs))
			fprintf(stderr, "produce v%d: %zu events\n", version, st_ch_record_count(f));
		st_ch_destroy(f);
		kw_free(&b);
	}
}

/* One partition whose records are `records`, in a Produce of `version`. */
static void put_produce_raw(struct kw_buf *b, int version, int32_t correlation_id,
			    const char *topic, int topic_len, const uint8_t *records,
			    size_t records_len)
{
	bool flex = version >= 9;
	size_t at = kw_request_begin(b, 0, (int16_t)version, correlation_id, "c", flex, 0);

	if (version >= 3)
		kw_string(b, flex, "txn", 3);
	kw_be16(b, -1);
	kw_be32(b, 1500);
	kw_array_len(b, flex, 1);
	kw_string(b, flex, topic, topic_len);
	kw_array_len(b, flex, 1);
	kw_be32(b, 2);
	kw_bytes(b, flex, records, (long)records_len);
	kw_tags(b, flex, 0);
	kw_tags(b, flex, 0);
	kw_tags(b, flex, 0);
	kw_frame_end(b, at);
}

static void test_compressed_and_control_batches(void)
{
	struct kw_buf rec = { 0 }, b = { 0 };
	struct st_ch *f = flow_new();
	uint8_t junk[300];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	kw_batch_raw(&rec, 1, 5, BASE_TS, junk, sizeof(junk));         /* gzip */
	kw_batch_raw(&rec, 4, 9, BASE_TS, junk, 100);                  /* zstd */
	kw_batch_raw(&rec, 0x20, 1, BASE_TS, junk, 20);                /* control */
	kw_batch(&rec, &recs[4], 1, BASE_TS);
	put_produce_raw(&b, 9, 1, "zip", 3, rec.p, rec.n);
	st_ch_feed_chunks(f, ST_DIR_TO_SERVER, b.p, b.n, 97, 1);

	CU_ASSERT_EQUAL_FATAL(st_ch_record_count(f), 3);
	CU_ASSERT_EQUAL(st_ch_record(f, 0)->kind, ST_REC_OPAQUE);
	CU_ASSERT_EQUAL(st_ch_record(f, 0)->count, 5);
	CU_ASSERT_STRING_EQUAL(st_ch_record(f, 0)->stream, "zip");
	CU_ASSERT_EQUAL(st_ch_record(f, 0)->partition, 2);
	CU_ASSERT_EQUAL(st_ch_record(f, 1)->kind, ST_REC_OPAQUE);
	CU_ASSERT_EQUAL(st_ch_record(f, 1)->count, 9);
	CU_ASSERT_EQUAL(st_ch_record(f, 2)->kind, ST_REC_RECORD);
	CU_ASSERT_EQUAL(st_ch_record(f, 2)->key_len, 2);
	CU_ASSERT(st_ch_bytes_are(st_ch_record(f, 2)->key, "k4", 2));
	CU_ASSERT_EQUAL(st_ch_stats(f)->kafka_batches[ST_KAFKA_COMP_GZIP], 1);
	CU_ASSERT_EQUAL(st_ch_stats(f)->kafka_batch_records[ST_KAFKA_COMP_GZIP], 5);
	CU_ASSERT_EQUAL(st_ch_stats(f)->kafka_batches[ST_KAFKA_COMP_ZSTD], 1);
	CU_ASSERT_EQUAL(st_ch_stats(f)->kafka_batch_records[ST_KAFKA_COMP_ZSTD], 9);
	CU_ASSERT_EQUAL(st_ch_stats(f)->kafka_batches[ST_KAFKA_COMP_NONE], 1);
	CU_ASSERT_EQUAL(st_ch_stats(f)->opaque_records, 14);
	CU_ASSERT_EQUAL(st_ch_stats(f)->records, 1);
	CU_ASSERT_EQUAL(st_ch_error_count(f, "control_batch"), 1);
	CU_ASSERT_EQUAL(st_ch_errors_total(f), 1);
	st_ch_destroy(f);
	kw_free(&rec);
	kw_free(&b);
}

/* A legacy gzip wrapper message counts as one opaque record. */
static void test_compressed_message(void)
{
	struct kw_buf rec = { 0 }, b = { 0 };
	struct st_ch *f = flow_new();
	struct kw_record wrapper = { NULL, 0, "\x1f\x8b compressed set", 18, 0, { 0 }, { 0 }, 0 };

	kw_message(&rec, 1, 1, BASE_TS, &wrapper);
	kw_message(&rec, 1, 0, BASE_TS, &recs[4]);
	put_produce_raw(&b, 2, 1, "old", 3, rec.p, rec.n);
	st_ch_feed(f, ST_DIR_TO_SERVER, b.p, b.n, 1);
	CU_ASSERT_EQUAL_FATAL(st_ch_record_count(f), 2);
	CU_ASSERT_EQUAL(st_ch_record(f, 0)->kind, ST_REC_OPAQUE);
	CU_ASSERT_EQUAL(st_ch_record(f, 0)->count, 1);
	CU_ASSERT_EQUAL(st_ch_record(f, 1)->kind, ST_REC_RECORD);
	CU_ASSERT_EQUAL(st_ch_record(f, 1)->timestamp_ms, BASE_TS);
	CU_ASSERT_EQUAL(st_ch_stats(f)->kafka_batches[ST_KAFKA_COMP_GZIP], 1);
	CU_ASSERT_EQUAL(st_ch_errors_total(f), 0);
	st_ch_destroy(f);
	kw_free(&rec);
	kw_free(&b);
}

/* A record far above ST_CODEC_HOLD_MAX: emitted truncated, the next one whole. */
static void test_huge_record_truncated(void)
{
	const long value_bytes = 100000;
	char *value = malloc((size_t)value_bytes);
	struct kw_record big[2] = {
		{ "bigkey", 6, value, value_bytes, 1, { "h" }, { "v" }, 3 },
		{ "small", 5, "tail", 4, 0, { 0 }, { 0 }, 4 },
	};
	struct kw_buf rec = { 0 }, b = { 0 };
	size_t chunks[] = { 1, 1460, 9000, 65536 };

	if (!value)
		abort();
	for (long i = 0; i < value_bytes; i++)
		value[i] = (char)('a' + i % 26);
	kw_batch(&rec, big, 2, BASE_TS);
	put_produce_raw(&b, 11, 5, "huge", 4, rec.p, rec.n);
	for (size_t c = 0; c < ST_ARRAY_SIZE(chunks); c++) {
		struct st_ch *f = flow_new();
		/* record: length varint (3 bytes for ~100 KB), attributes,
		 * timestampDelta, offsetDelta, key length, key, value length
		 * (3 bytes): the value starts 16 bytes in. */
		uint32_t head = 3 + 1 + 1 + 1 + 1 + 6 + 3;
		const struct st_ch_record *first, *second;

		st_ch_feed_chunks(f, ST_DIR_TO_SERVER, b.p, b.n, chunks[c], 1);
		CU_ASSERT_EQUAL_FATAL(st_ch_record_count(f), 2);
		first = st_ch_record(f, 0);
		second = st_ch_record(f, 1);
		CU_ASSERT(first->flags & ST_REC_F_VALUE_TRUNCATED);
		CU_ASSERT_EQUAL(first->value_bytes, (uint32_t)value_bytes);
		CU_ASSERT_EQUAL(first->value_len, HOLD - head);
		CU_ASSERT(st_ch_bytes_are(first->value, value, first->value_len));
		CU_ASSERT_EQUAL(first->key_len, 6);
		CU_ASSERT(st_ch_bytes_are(first->key, "bigkey", 6));
		CU_ASSERT_EQUAL(first->timestamp_ms, BASE_TS + 3);
		CU_ASSERT_FALSE(second->flags & ST_REC_F_VALUE_TRUNCATED);
		CU_ASSERT_EQUAL(second->value_len, 4);
		CU_ASSERT(st_ch_bytes_are(second->value, "tail", 4));
		CU_ASSERT_EQUAL(st_ch_stats(f)->truncated_values, 1);
		CU_ASSERT_EQUAL(st_ch_errors_total(f), 0);
		CU_ASSERT_EQUAL(st_ch_carry_bytes(f, ST_DIR_TO_SERVER), 0);
		st_ch_destroy(f);
	}
	free(value);
	kw_free(&rec);
	kw_free(&b);
}

/* A key larger than ST_CODEC_HOLD_MAX cannot be reported: counted, skipped. */
static void test_huge_key_skipped(void)
{
	const int key_bytes = 40000;
	char *key = malloc((size_t)key_bytes);
	struct kw_record big[2] = {
		{ key, key_bytes, "v", 1, 0, { 0 }, { 0 }, 0 },
		{ "after", 5, "ok", 2, 0, { 0 }, { 0 }, 1 },
	};
	struct kw_buf rec = { 0 }, b = { 0 };
	struct st_ch *f = flow_new();

	if (!key)
		abort();
	memset(key, 'k', (size_t)key_bytes);
	kw_batch(&rec, big, 2, BASE_TS);
	put_produce_raw(&b, 7, 5, "hk", 2, rec.p, rec.n);
	st_ch_feed_chunks(f, ST_DIR_TO_SERVER, b.p, b.n, 3000, 1);
	CU_ASSERT_EQUAL_FATAL(st_ch_record_count(f), 1);
	CU_ASSERT(st_ch_bytes_are(st_ch_record(f, 0)->key, "after", 5));
	CU_ASSERT_EQUAL(st_ch_error_count(f, "record_too_large"), 1);
	st_ch_destroy(f);
	free(key);
	kw_free(&rec);
	kw_free(&b);
}

static void put_opaque_request(struct kw_buf *b, int16_t key, int16_t version,
			       int32_t correlation_id, size_t body_bytes)
{
	size_t at = kw_request_begin(b, key, version, correlation_id, "other", false, 0);

	for (size_t i = 0; i < body_bytes; i++)
		kw_u8(b, (uint8_t)(i * 7));
	kw_frame_end(b, at);
}

static void test_other_api_keys_skipped(void)
{
	struct kw_buf b = { 0 };
	struct st_ch *f = flow_new();

	put_opaque_request(&b, 3, 12, 1, 5000);          /* Metadata */
	put_opaque_request(&b, 18, 3, 2, 40000);         /* ApiVersions, > HOLD */
	put_produce(&b, 8, 3, 1, 0);
	st_ch_feed_chunks(f, ST_DIR_TO_SERVER, b.p, b.n, 1024, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(f), ST_ARRAY_SIZE(recs));
	check_standard_records(f, 0, 8);
	CU_ASSERT_EQUAL(st_ch_stats(f)->units[ST_DIR_TO_SERVER], 3);
	/* the bodies after key, version, correlation id */
	CU_ASSERT_EQUAL(st_ch_stats(f)->skipped_bytes, (5000 + 7) + (40000 + 7));
	CU_ASSERT_EQUAL(st_ch_errors_total(f), 0);
	st_ch_destroy(f);
	kw_free(&b);
}

/* An api key outside the table loses sync: resync finds the next request. */
static void test_unknown_api_key_resyncs(void)
{
	struct kw_buf b = { 0 };
	struct st_ch *f = flow_new();

	put_opaque_request(&b, 3, 1, 1, 10);
	put_opaque_request(&b, 999, 0, 2, 300);
	put_produce(&b, 5, 3, 1, 0);
	st_ch_feed(f, ST_DIR_TO_SERVER, b.p, b.n, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(f), ST_ARRAY_SIZE(recs));
	check_standard_records(f, 0, 5);
	CU_ASSERT_EQUAL(st_ch_error_count(f, "bad_header"), 1);
	CU_ASSERT_EQUAL(st_ch_stats(f)->resyncs, 1);
	st_ch_destroy(f);
	kw_free(&b);
}

/* ---- Fetch responses and latency ---- */

static void put_fetch_response(struct kw_buf *b, int version, int32_t correlation_id)
{
	bool flex = version >= 12;
	struct kw_buf rec = { 0 }, partial = { 0 };
	size_t at = kw_response_begin(b, correlation_id, flex, 1);
	uint8_t junk[64] = { 0 };

	kw_batch(&rec, recs, 3, BASE_TS);                       /* 3 records */
	kw_batch_raw(&rec, 2, 4, BASE_TS, junk, sizeof(junk));  /* snappy, 4 */
	kw_batch_raw(&rec, 0x20, 1, BASE_TS, junk, 10);         /* control */
	kw_batch(&partial, recs, 2, BASE_TS);
	kw_put(&rec, partial.p, partial.n - 9);                 /* cut off */
	if (version >= 1)
		kw_be32(b, 0);                  /* throttle_time_ms */
	if (version >= 7) {
		kw_be16(b, 0);
		kw_be32(b, 77);                 /* session_id */
	}
	kw_array_len(b, flex, 1);
	if (version >= 13)
		kw_put(b, "0123456789abcdef", 16);
	else
		kw_string(b, flex, "alpha", 5);
	kw_array_len(b, flex, 2);
	for (int p = 0; p < 2; p++) {
		kw_be32(b, p ? 9 : 4);          /* partition_index */
		kw_be16(b, 0);
		kw_be64(b, 100);                /* high_watermark */
		if (version >= 4)
			kw_be64(b, 100);        /* last_stable_offset */
		if (version >= 5)
			kw_be64(b, 0);          /* log_start_offset */
		if (version >= 4) {
			kw_array_len(b, flex, 1);
			kw_be64(b, 5);
			kw_be64(b, 3);
			kw_tags(b, flex, 1);
		}
		if (version >= 11)
			kw_be32(b, -1);
		if (p == 0)
			kw_bytes(b, flex, rec.p, (long)rec.n);
		else
			kw_bytes(b, flex, NULL, -1);
		kw_tags(b, flex, 1);
	}
	kw_tags(b, flex, 1);
	kw_tags(b, flex, 1);
	kw_frame_end(b, at);
	kw_free(&rec);
	kw_free(&partial);
}

static void test_fetch_egress(void)
{
	int versions[] = { 0, 4, 5, 7, 11, 12, 13, 16 };

	for (size_t i = 0; i < ST_ARRAY_SIZE(versions); i++) {
		int v = versions[i];
		struct kw_buf req = { 0 }, resp = { 0 };
		struct st_ch *f = flow_new();
		const struct st_latency *l;

		put_opaque_request(&req, 1, (int16_t)v, 40 + v, 30);
		put_fetch_response(&resp, v, 40 + v);
		st_ch_feed(f, ST_DIR_TO_SERVER, req.p, req.n, 1000);
		st_ch_feed_chunks(f, ST_DIR_TO_CLIENT, resp.p, resp.n, 50, 2500);
		CU_ASSERT_EQUAL(st_ch_latency_count(f), 1);
		if ((l = st_ch_latency(f, 0)) != NULL) {
			CU_ASSERT_EQUAL(l->api_key, 1);
			CU_ASSERT_EQUAL(l->api_version, v);
			CU_ASSERT_EQUAL(l->correlation_id, 40 + v);
		}
		CU_ASSERT_EQUAL_FATAL(st_ch_record_count(f), 2);
		for (int k = 0; k < 2; k++) {
			const struct st_ch_record *e = st_ch_record(f, (size_t)k);

			CU_ASSERT_EQUAL(e->kind, ST_REC_EGRESS);
			CU_ASSERT_EQUAL(e->partition, 4);
			if (v >= 13) {
				CU_ASSERT_FALSE(e->has_stream);
			} else {
				CU_ASSERT_STRING_EQUAL(e->stream, "alpha");
			}
		}
		CU_ASSERT_EQUAL(st_ch_record(f, 0)->count, 3);
		CU_ASSERT_EQUAL(st_ch_record(f, 1)->count, 4);
		CU_ASSERT_EQUAL(st_ch_stats(f)->egress_records, 7);
		CU_ASSERT_EQUAL(st_ch_stats(f)->records, 0);
		CU_ASSERT_EQUAL(st_ch_error_count(f, "control_batch"), 1);
		CU_ASSERT_EQUAL(st_ch_error_count(f, "fetch_topic_id"), v >= 13 ? 2 : 0);
		CU_ASSERT_EQUAL(st_ch_errors_total(f), 1 + (v >= 13 ? 2 : 0));
		CU_ASSERT_EQUAL(st_ch_stats(f)->units[ST_DIR_TO_CLIENT], 1);
		CU_ASSERT_EQUAL(st_ch_carry_bytes(f, ST_DIR_TO_CLIENT), 0);
		if (st_ch_record_count(f) != 2 || st_ch_errors_total(f) != 1 + (v >= 13 ? 2u : 0u))
			fprintf(stderr, "fetch v%d: %zu events\n", v, st_ch_record_count(f));
		st_ch_destroy(f);
		kw_free(&req);
		kw_free(&resp);
	}
}

static void test_latency_matching(void)
{
	struct kw_buf b = { 0 }, r = { 0 };
	struct st_ch *f = flow_new();
	size_t at;

	put_produce(&b, 9, 77, 1, 0);
	put_produce(&b, 9, 78, 0, 0);           /* acks 0: no response comes */
	put_opaque_request(&b, 18, 3, 79, 20);
	st_ch_feed(f, ST_DIR_TO_SERVER, b.p, b.n, 1000);
	at = kw_response_begin(&r, 79, false, 0);       /* ApiVersions: header v0 */
	kw_be16(&r, 0);
	kw_frame_end(&r, at);
	at = kw_response_begin(&r, 77, true, 0);
	kw_be32(&r, 0);
	kw_frame_end(&r, at);
	at = kw_response_begin(&r, 12345, true, 0);     /* nobody asked */
	kw_be32(&r, 0);
	kw_frame_end(&r, at);
	st_ch_feed_chunks(f, ST_DIR_TO_CLIENT, r.p, r.n, 3, 5000);

	CU_ASSERT_EQUAL_FATAL(st_ch_latency_count(f), 2);
	CU_ASSERT_EQUAL(st_ch_latency(f, 0)->correlation_id, 79);
	CU_ASSERT_EQUAL(st_ch_latency(f, 0)->api_key, 18);
	CU_ASSERT_EQUAL(st_ch_latency(f, 0)->api_version, 3);
	CU_ASSERT_EQUAL(st_ch_latency(f, 1)->correlation_id, 77);
	CU_ASSERT_EQUAL(st_ch_latency(f, 1)->api_key, 0);
	CU_ASSERT_EQUAL(st_ch_latency(f, 1)->api_version, 9);
	CU_ASSERT_EQUAL(st_ch_latency(f, 1)->request_ns, 1000);
	CU_ASSERT_EQUAL(st_ch_latency(f, 1)->response_ns, 5000);
	CU_ASSERT_EQUAL(st_ch_stats(f)->latency_unmatched, 1);
	CU_ASSERT_EQUAL(st_ch_stats(f)->units[ST_DIR_TO_CLIENT], 3);
	st_ch_destroy(f);
	kw_free(&b);
	kw_free(&r);
}

/* Nine requests without responses: the oldest is pushed out of the table. */
static void test_pending_table_overflow(void)
{
	struct kw_buf b = { 0 };
	struct st_ch *f = flow_new();

	for (int i = 0; i < 9; i++) {
		b.n = 0;
		put_opaque_request(&b, 3, 1, i, 4);
		st_ch_feed(f, ST_DIR_TO_SERVER, b.p, b.n, 100 + (uint64_t)i);
	}
	CU_ASSERT_EQUAL(st_ch_stats(f)->latency_unmatched, 1);
	b.n = 0;
	size_t at = kw_response_begin(&b, 0, false, 0);  /* the pushed-out one */
	kw_frame_end(&b, at);
	at = kw_response_begin(&b, 8, false, 0);
	kw_frame_end(&b, at);
	st_ch_feed(f, ST_DIR_TO_CLIENT, b.p, b.n, 500);
	CU_ASSERT_EQUAL(st_ch_stats(f)->latency_unmatched, 2);
	CU_ASSERT_EQUAL_FATAL(st_ch_latency_count(f), 1);
	CU_ASSERT_EQUAL(st_ch_latency(f, 0)->correlation_id, 8);
	CU_ASSERT_EQUAL(st_ch_latency(f, 0)->request_ns, 108);
	st_ch_destroy(f);
	kw_free(&b);
}

/* ---- splits, gaps, mid-stream starts ---- */

/* Produce v9 (tagged fields), v3 (two batches), v0 (messages), Metadata. */
static void put_mixed_stream(struct kw_buf *b)
{
	put_produce(b, 9, 1, 1, 2);
	put_produce(b, 3, 2, 1, 0);
	put_opaque_request(b, 3, 9, 3, 40);
	put_produce(b, 0, 4, 1, 0);
}

static void check_mixed(const struct st_ch *f)
{
	CU_ASSERT_EQUAL_FATAL(st_ch_record_count(f), 3 * ST_ARRAY_SIZE(recs));
	check_standard_records(f, 0, 9);
	check_standard_records(f, ST_ARRAY_SIZE(recs), 3);
	check_standard_records(f, 2 * ST_ARRAY_SIZE(recs), 0);
	CU_ASSERT_EQUAL(st_ch_stats(f)->units[ST_DIR_TO_SERVER], 4);
	CU_ASSERT_EQUAL(st_ch_errors_total(f), 0);
	CU_ASSERT_EQUAL(st_ch_stats(f)->resyncs, 0);
	CU_ASSERT_EQUAL(st_ch_carry_bytes(f, ST_DIR_TO_SERVER), 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(f), 0);
}

static void test_split_at_every_offset(void)
{
	struct kw_buf b = { 0 };
	unsigned failures = 0;

	put_mixed_stream(&b);
	for (size_t cut = 0; cut <= b.n; cut++) {
		struct st_ch *f = flow_new();
		unsigned before = CU_get_number_of_failures();

		st_ch_feed(f, ST_DIR_TO_SERVER, b.p, cut, 1);
		st_ch_feed(f, ST_DIR_TO_SERVER, b.p + cut, b.n - cut, 2);
		check_mixed(f);
		if (CU_get_number_of_failures() != before && failures++ < 3)
			fprintf(stderr, "split at %zu of %zu differs\n", cut, b.n);
		st_ch_destroy(f);
	}
	/* and one byte at a time */
	struct st_ch *f = flow_new();

	st_ch_feed_chunks(f, ST_DIR_TO_SERVER, b.p, b.n, 1, 1);
	check_mixed(f);
	st_ch_destroy(f);
	kw_free(&b);
}

static void test_gap_resyncs(void)
{
	struct kw_buf first = { 0 }, second = { 0 }, third = { 0 };

	put_produce(&first, 9, 1, 1, 1);
	put_produce(&second, 7, 2, 1, 0);
	put_produce(&third, 10, 3, 1, 1);
	/* lose the middle of the second request, at every third offset */
	for (size_t cut = 1; cut + 1 < second.n; cut += 3) {
		struct st_ch *f = flow_new();

		st_ch_feed(f, ST_DIR_TO_SERVER, first.p, first.n, 1);
		st_ch_feed(f, ST_DIR_TO_SERVER, second.p, cut, 1);
		st_ch_gap(f, ST_DIR_TO_SERVER);
		st_ch_feed(f, ST_DIR_TO_SERVER, second.p + cut + 1, second.n - cut - 1, 2);
		st_ch_feed(f, ST_DIR_TO_SERVER, third.p, third.n, 3);
		CU_ASSERT_EQUAL(st_ch_stats(f)->resyncs, 1);
		if (st_ch_stats(f)->resyncs != 1 || st_ch_record_count(f) < 2 * ST_ARRAY_SIZE(recs))
			fprintf(stderr, "gap at %zu: %lu resyncs, %zu events, errors %lu\n", cut,
				(unsigned long)st_ch_stats(f)->resyncs, st_ch_record_count(f),
				(unsigned long)st_ch_errors_total(f));
		CU_ASSERT_FATAL(st_ch_record_count(f) >= 2 * ST_ARRAY_SIZE(recs));
		check_standard_records(f, 0, 9);
		/* records of the second request emitted before the gap are
		 * genuine; none may follow it but the third request's */
		CU_ASSERT_FATAL(st_ch_record_count(f) <= 3 * ST_ARRAY_SIZE(recs));
		check_standard_prefix(f, ST_ARRAY_SIZE(recs), 7,
				      st_ch_record_count(f) - 2 * ST_ARRAY_SIZE(recs));
		check_standard_records(f, st_ch_record_count(f) - ST_ARRAY_SIZE(recs), 10);
		CU_ASSERT(st_ch_stats(f)->skipped_bytes > 0);
		st_ch_destroy(f);
	}
	kw_free(&first);
	kw_free(&second);
	kw_free(&third);
}

static void test_mid_stream_start(void)
{
	struct kw_buf b = { 0 };

	put_produce(&b, 9, 1, 1, 0);
	size_t second = b.n;

	put_produce(&b, 9, 2, 1, 0);
	for (size_t start = 1; start < second; start += 5) {
		struct st_ch *f = flow_new();

		st_ch_feed_chunks(f, ST_DIR_TO_SERVER, b.p + start, b.n - start, 700, 1);
		CU_ASSERT_EQUAL(st_ch_stats(f)->resyncs, 1);
		if (st_ch_stats(f)->resyncs != 1 || st_ch_record_count(f) != ST_ARRAY_SIZE(recs))
			fprintf(stderr, "start at %zu: %lu resyncs, %zu events, errors %lu\n",
				start, (unsigned long)st_ch_stats(f)->resyncs, st_ch_record_count(f),
				(unsigned long)st_ch_errors_total(f));
		CU_ASSERT_EQUAL_FATAL(st_ch_record_count(f), ST_ARRAY_SIZE(recs));
		check_standard_records(f, 0, 9);
		CU_ASSERT_EQUAL(st_ch_stats(f)->skipped_bytes, second - start);
		st_ch_destroy(f);
	}
	kw_free(&b);
}

/* ---- malformed units: counted, skipped, the next request still parsed ---- */

static void check_recovers(const uint8_t *bad, size_t bad_len, const char *error,
			   uint64_t records_before)
{
	struct kw_buf b = { 0 };
	struct st_ch *f = flow_new();

	put_opaque_request(&b, 3, 1, 49, 10);   /* a sound first request */
	kw_put(&b, bad, bad_len);
	put_produce(&b, 9, 50, 1, 0);
	st_ch_feed_chunks(f, ST_DIR_TO_SERVER, b.p, b.n, 64, 1);
	CU_ASSERT_EQUAL(st_ch_error_count(f, error), 1);
	CU_ASSERT_EQUAL(st_ch_stats(f)->records, records_before + ST_ARRAY_SIZE(recs));
	CU_ASSERT_FATAL(st_ch_record_count(f) >= ST_ARRAY_SIZE(recs));
	check_standard_records(f, st_ch_record_count(f) - ST_ARRAY_SIZE(recs), 9);
	if (st_ch_error_count(f, error) != 1)
		fprintf(stderr, "expected one %s\n", error);
	st_ch_destroy(f);
	kw_free(&b);
}

static void test_malformed_units(void)
{
	struct kw_buf rec = { 0 }, b = { 0 };
	char long_topic[300];

	/* record length past its batch */
	kw_batch(&rec, recs, 2, BASE_TS);
	rec.p[61] = 0x7e;                       /* first record length: 63 */
	put_produce_raw(&b, 9, 1, "t", 1, rec.p, rec.n);
	check_recovers(b.p, b.n, "bad_record", 0);

	/* overlong varint as a record length */
	rec.n = 0;
	b.n = 0;
	kw_batch(&rec, recs, 1, BASE_TS);
	memset(rec.p + 61, 0xff, 6);
	put_produce_raw(&b, 9, 1, "t", 1, rec.p, rec.n);
	check_recovers(b.p, b.n, "bad_varint", 0);

	/* batch length past the partition's records */
	rec.n = 0;
	b.n = 0;
	kw_batch(&rec, recs, 1, BASE_TS);
	kw_patch32(&rec, 8, 100000);
	put_produce_raw(&b, 9, 1, "t", 1, rec.p, rec.n);
	check_recovers(b.p, b.n, "bad_batch", 0);

	/* magic 3, then a good batch is lost with it (rest of partition) */
	rec.n = 0;
	b.n = 0;
	kw_batch(&rec, recs, 1, BASE_TS);
	rec.p[16] = 3;
	put_produce_raw(&b, 9, 1, "t", 1, rec.p, rec.n);
	check_recovers(b.p, b.n, "unsupported_magic", 0);

	/* a topic name longer than Kafka allows */
	rec.n = 0;
	b.n = 0;
	memset(long_topic, 't', sizeof(long_topic));
	kw_batch(&rec, recs, 1, BASE_TS);
	put_produce_raw(&b, 9, 1, long_topic, 250, rec.p, rec.n);
	check_recovers(b.p, b.n, "bad_topic", 0);

	/* a record count larger than the batch holds: the records present count */
	rec.n = 0;
	b.n = 0;
	kw_batch(&rec, recs, 2, BASE_TS);
	kw_patch32(&rec, 57, 3);
	put_produce_raw(&b, 9, 1, "t", 1, rec.p, rec.n);
	check_recovers(b.p, b.n, "bad_batch", 2);

	/* unsupported Produce version: skipped by length */
	b.n = 0;
	put_opaque_request(&b, 0, 13, 1, 100);
	check_recovers(b.p, b.n, "unsupported_version", 0);

	/* a size prefix beyond 100 MiB */
	b.n = 0;
	kw_be32(&b, 0x7fffffff);
	kw_put(&b, "garbage!", 8);
	check_recovers(b.p, b.n, "bad_size", 0);
	kw_free(&rec);
	kw_free(&b);
}

static void test_contract_constants(void)
{
	CU_ASSERT(K->state_bytes <= ST_CODEC_STATE_MAX);
	CU_ASSERT(K->n_errors <= ST_CODEC_ERRORS_MAX);
	CU_ASSERT_EQUAL(K->proto, ST_PROTO_KAFKA);
	CU_ASSERT_STRING_EQUAL(K->name, "kafka");
	CU_ASSERT_PTR_NULL(K->datagram);
	for (unsigned i = 0; i < K->n_errors; i++) {
		const char *n = K->error_names[i];

		CU_ASSERT_PTR_NOT_NULL_FATAL(n);
		for (const char *c = n; *c; c++)
			CU_ASSERT(islower((unsigned char)*c) || *c == '_');
	}
}

/* ---- reference captures: DeepFlow's .result files and tshark ---- */

struct pcap_case {
	const char *name;
	uint16_t server_port;   /* read off each capture's first request */
	bool has_result;        /* 01-fetch-v12-perf has none: tshark only */
};

static const struct pcap_case pcap_cases[] = {
	{ "00-produce-v2", 9092, true },
	{ "00-produce-v7-sw8", 36333, true },
	{ "00-produce-v9", 36333, true },
	{ "01-fetch-v12-ok", 36333, true },
	{ "01-fetch-v12-perf", 9092, false },
	{ "01-fetch-v12-unknown", 9092, true },
	{ "11-join-group-v7", 36333, true },
	{ "13-leave-group-v4", 36333, true },
	{ "14-sync-group-v5", 36333, true },
	{ "18-api-versions-v3", 9092, true },
};

#define FLOWS_MAX 8

static struct st_ch_run *run_capture(const struct pcap_case *pc)
{
	char rel[128];
	struct st_ch_run *run;

	snprintf(rel, sizeof(rel), "pcaps/kafka/%s.pcap", pc->name);
	run = st_ch_run_capture(K, &kafka_rules, st_test_data_path(rel), pc->server_port,
				false);
	CU_ASSERT_FATAL(st_ch_run_flows(run) <= FLOWS_MAX);
	return run;
}

static const struct st_latency *find_latency(const struct st_ch_run *run,
					     int32_t correlation_id)
{
	for (unsigned i = 0; i < st_ch_run_flows(run); i++) {
		const struct st_ch *f = st_ch_run_flow(run, i);

		for (size_t k = 0; k < st_ch_latency_count(f); k++)
			if (st_ch_latency(f, k)->correlation_id == correlation_id)
				return st_ch_latency(f, k);
	}
	return NULL;
}

/* Every producer event of the run must name `topic` and `partition`. */
static unsigned check_record_streams(const struct st_ch_run *run, const char *topic,
				     int partition)
{
	unsigned n = 0;

	for (size_t k = 0; k < st_ch_run_record_count(run); k++) {
		const struct st_ch_record *e = st_ch_run_record(run, k);

		if (e->kind == ST_REC_EGRESS)
			continue;
		CU_ASSERT_STRING_EQUAL(e->stream, topic);
		CU_ASSERT_EQUAL(e->partition, partition);
		n++;
	}
	return n;
}

static int api_key_of_name(const char *name)
{
	static const struct { const char *name; int key; } names[] = {
		{ "Produce", 0 }, { "Fetch", 1 }, { "JoinGroup", 11 },
		{ "LeaveGroup", 13 }, { "SyncGroup", 14 }, { "ApiVersions", 18 },
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(names); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].key;
	return -1;
}

/* DeepFlow: `KafkaInfo { msg_type: Request, correlation_id: Some(47),
 * api_key: Produce, api_version: 9, ... topic_name: "zqy-test",
 * partition: 0, ... }`, one line per message it found. */
static void check_against_result(const struct pcap_case *pc, const struct st_ch_run *run)
{
	char rel[128], line[4096];
	unsigned requests = 0, responses = 0;
	FILE *fp;

	snprintf(rel, sizeof(rel), "pcaps/kafka/%s.result", pc->name);
	fp = fopen(st_test_data_path(rel), "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	while (fgets(line, sizeof(line), fp)) {
		char api[64] = "", topic[256] = "";
		int corr = -1, version = -1, partition = -1, key;
		const char *s;
		bool request;
		const struct st_latency *l;

		if (!strstr(line, "KafkaInfo {"))
			continue;
		request = strstr(line, "msg_type: Request") != NULL;
		CU_ASSERT(request || strstr(line, "msg_type: Response"));
		s = strstr(line, "correlation_id: Some(");
		CU_ASSERT_FATAL(s && sscanf(s, "correlation_id: Some(%d)", &corr) == 1);
		s = strstr(line, "api_key: ");
		CU_ASSERT_FATAL(s && sscanf(s, "api_key: %63[A-Za-z]", api) == 1);
		s = strstr(line, "api_version: ");
		CU_ASSERT_FATAL(s && sscanf(s, "api_version: %d", &version) == 1);
		s = strstr(line, "topic_name: \"");
		CU_ASSERT_FATAL(s != NULL);
		(void)sscanf(s, "topic_name: \"%255[^\"]", topic);
		s = strstr(line, "partition: ");
		CU_ASSERT_FATAL(s && sscanf(s, "partition: %d", &partition) == 1);
		key = api_key_of_name(api);
		CU_ASSERT_FATAL(key >= 0);

		requests += request;
		responses += !request;
		/* each message DeepFlow pairs must be one latency event */
		l = find_latency(run, corr);
		CU_ASSERT_PTR_NOT_NULL_FATAL(l);
		CU_ASSERT_EQUAL(l->api_key, key);
		CU_ASSERT_EQUAL(l->api_version, version);
		if (l->api_key != key || l->api_version != version)
			fprintf(stderr, "%s: corr %d: %d v%d, result %d v%d\n", pc->name,
				corr, l->api_key, l->api_version, key, version);
		/* topic and partition of a Produce request are those of its
		 * records (Fetch requests are not parsed: their topics are not
		 * compared) */
		if (request && key == 0)
			CU_ASSERT(check_record_streams(run, topic, partition) > 0);
	}
	fclose(fp);
	CU_ASSERT_EQUAL(ST_CH_RUN_STAT(run, units[ST_DIR_TO_SERVER]), requests);
	CU_ASSERT_EQUAL(ST_CH_RUN_STAT(run, units[ST_DIR_TO_CLIENT]), responses);
}

enum tf { TF_FRAME, TF_REQUEST_KEY, TF_VERSION, TF_CORR, TF_TOPIC, TF_PARTITION,
	  TF_BATCH_SIZE, TF_MAGIC, TF_UNSUPPORTED, TF_KEY, TF_VALUE, TF_HEADER_KEY,
	  TF__COUNT };

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* Does `hex` (tshark's bytes field) spell `p`, `n`? */
static bool hex_equal(const char *hex, const uint8_t *p, uint32_t n)
{
	if (strlen(hex) != 2 * (size_t)n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if ((hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1])) != p[i])
			return false;
	return true;
}

/* The run's producer events in order (one flow carries requests here). */
static const struct st_ch_record *nth_record(const struct st_ch_run *run, size_t nth)
{
	for (size_t k = 0; k < st_ch_run_record_count(run); k++) {
		const struct st_ch_record *e = st_ch_run_record(run, k);

		if (e->kind == ST_REC_RECORD && nth-- == 0)
			return e;
	}
	return NULL;
}

static void check_tshark_request(const struct pcap_case *pc, const struct st_ch_run *run,
				 char **f, uint64_t *tshark_records)
{
	int key = atoi(f[TF_REQUEST_KEY]);
	const struct st_latency *l = find_latency(run, atoi(f[TF_CORR]));
	size_t nth = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(l->api_key, key);
	CU_ASSERT_EQUAL(l->api_version, atoi(f[TF_VERSION]));
	if (key != 0)
		return;
	if (*f[TF_TOPIC])
		CU_ASSERT(check_record_streams(run, f[TF_TOPIC], atoi(f[TF_PARTITION])) > 0);
	if (*f[TF_UNSUPPORTED]) {
		/* tshark 4.0 dissects Produce v0..v8 only: no record count */
		fprintf(stderr, "  %s: tshark does not dissect Produce v%s; "
			"records compared with the .result topic only\n",
			pc->name, f[TF_VERSION]);
		*tshark_records = UINT64_MAX;
		return;
	}
	/* records: each v2 batch's count, plus one per magic 0/1 message */
	for (char *s = f[TF_BATCH_SIZE], *t; (t = strsep(&s, ",")) != NULL;)
		*tshark_records += *t ? strtoull(t, NULL, 10) : 0;
	for (char *s = f[TF_MAGIC], *t; (t = strsep(&s, ",")) != NULL;)
		*tshark_records += (strcmp(t, "0") == 0 || strcmp(t, "1") == 0);
	/* keys and values where tshark could decode them */
	for (char *s = f[TF_KEY], *t; (t = strsep(&s, ",")) != NULL; nth++) {
		const struct st_ch_record *e = nth_record(run, nth);

		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		if (*t && *t != '<')
			CU_ASSERT(hex_equal(t, e->key, e->key_len));
	}
	nth = 0;
	for (char *s = f[TF_VALUE], *t; (t = strsep(&s, ",")) != NULL; nth++) {
		const struct st_ch_record *e = nth_record(run, nth);

		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		if (*t && *t != '<')
			CU_ASSERT(hex_equal(t, e->value, e->value_len));
	}
	if (*f[TF_HEADER_KEY]) {
		unsigned headers = 1;

		for (const char *c = f[TF_HEADER_KEY]; *c; c++)
			headers += *c == ',';
		CU_ASSERT_EQUAL(nth_record(run, 0)->header_count, headers);
	}
}

struct tshark_tally {
	const struct pcap_case *pc;
	const struct st_ch_run *run;
	unsigned requests, responses;
	uint64_t records;
};

/* One frame of tshark's Kafka fields. */
static void tshark_kafka_row(char **f, size_t n, void *ctx)
{
	struct tshark_tally *t = ctx;

	CU_ASSERT_EQUAL_FATAL(n, TF__COUNT);
	if (!*f[TF_CORR])
		return;         /* no Kafka PDU in this frame */
	CU_ASSERT(strchr(f[TF_CORR], ',') == NULL);
	if (*f[TF_REQUEST_KEY]) {
		t->requests++;
		check_tshark_request(t->pc, t->run, f, &t->records);
	} else {
		t->responses++;
		CU_ASSERT_PTR_NOT_NULL(find_latency(t->run, atoi(f[TF_CORR])));
	}
}

static void check_against_tshark(const struct pcap_case *pc, const struct st_ch_run *run)
{
	char args[1024], rel[128];
	struct tshark_tally t = { pc, run, 0, 0, 0 };

	snprintf(rel, sizeof(rel), "pcaps/kafka/%s.pcap", pc->name);
	snprintf(args, sizeof(args),
		 "-d tcp.port==%u,kafka -T fields -E separator=/t "
		 "-E occurrence=a -E aggregator=, -e frame.number -e kafka.request_key "
		 "-e kafka.api_version -e kafka.correlation_id -e kafka.topic_name "
		 "-e kafka.partition_id -e kafka.batch_size -e kafka.message_magic "
		 "-e kafka.unsupported_api_version -e kafka.message_key "
		 "-e kafka.message_value -e kafka.header_key", pc->server_port);
	st_ch_tshark_rows(st_test_data_path(rel), args, TF__COUNT, tshark_kafka_row, &t);
	CU_ASSERT(t.requests > 0);
	CU_ASSERT_EQUAL(ST_CH_RUN_STAT(run, units[ST_DIR_TO_SERVER]), t.requests);
	CU_ASSERT_EQUAL(ST_CH_RUN_STAT(run, units[ST_DIR_TO_CLIENT]), t.responses);
	if (t.records != UINT64_MAX)
		CU_ASSERT_EQUAL(ST_CH_RUN_STAT(run, records) +
				ST_CH_RUN_STAT(run, opaque_records), t.records);
	/* none of these Fetch responses carries a batch tshark could show */
	CU_ASSERT_EQUAL(ST_CH_RUN_STAT(run, egress_records), 0);
}

static void test_reference_captures(void)
{
	for (size_t i = 0; i < ST_ARRAY_SIZE(pcap_cases); i++) {
		const struct pcap_case *pc = &pcap_cases[i];
		unsigned before = CU_get_number_of_failures();
		struct st_ch_run *run = run_capture(pc);
		const struct st_ch *first = st_ch_run_flow(run, 0);

		if (pc->has_result)
			check_against_result(pc, run);
		check_against_tshark(pc, run);
		for (unsigned k = 0; k < st_ch_run_flows(run); k++) {
			const struct st_ch *f = st_ch_run_flow(run, k);

			CU_ASSERT_EQUAL(st_ch_errors_total(f), 0);
			CU_ASSERT_EQUAL(st_ch_stats(f)->resyncs, 0);
			CU_ASSERT_EQUAL(st_ch_bad_events(f), 0);
		}
		fprintf(stderr, "  %s: %lu requests, %lu responses, %lu records, "
			"%lu latency samples\n", pc->name,
			(unsigned long)ST_CH_RUN_STAT(run, units[ST_DIR_TO_SERVER]),
			(unsigned long)ST_CH_RUN_STAT(run, units[ST_DIR_TO_CLIENT]),
			(unsigned long)ST_CH_RUN_STAT(run, records),
			(unsigned long)(first ? st_ch_latency_count(first) : 0));
		if (CU_get_number_of_failures() != before)
			fprintf(stderr, "  %s: FAILED\n", pc->name);
		st_ch_run_destroy(run);
	}
}

/* The Produce v2 capture's one message, read off its bytes with xxd: null
 * key, value "Message without compression", magic 1 timestamp. */
static void test_produce_v2_message_content(void)
{
	const struct pcap_case pc = { "00-produce-v2", 9092, true };
	struct st_ch_run *run = run_capture(&pc);
	const struct st_ch_record *e = nth_record(run, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_FALSE(!!(e->flags & ST_REC_F_HAS_KEY));
	CU_ASSERT_EQUAL(e->value_len, 27);
	CU_ASSERT(st_ch_bytes_are(e->value, "Message without compression", 27));
	CU_ASSERT(e->flags & ST_REC_F_HAS_TIMESTAMP);
	CU_ASSERT_EQUAL(e->timestamp_ms, 0x158741cd909ll);
	st_ch_run_destroy(run);
}

/* ---- the fast record path against the cursor path ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool same_copy(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	return (!a && !b) || (a && b && memcmp(a, b, n) == 0);
}

static bool same_record(const struct st_ch_record *a, const struct st_ch_record *b)
{
	return a->kind == b->kind && a->flags == b->flags && a->qos == b->qos &&
	       a->has_stream == b->has_stream && a->partition == b->partition &&
	       a->count == b->count && a->packet_id == b->packet_id &&
	       a->stream_len == b->stream_len && strcmp(a->stream, b->stream) == 0 &&
	       a->key_len == b->key_len && same_copy(a->key, b->key, a->key_len) &&
	       a->value_len == b->value_len && a->value_bytes == b->value_bytes &&
	       same_copy(a->value, b->value, a->value_len) &&
	       a->headers_len == b->headers_len && a->header_count == b->header_count &&
	       same_copy(a->headers, b->headers, a->headers_len) &&
	       a->timestamp_ms == b->timestamp_ms && a->ts_ns == b->ts_ns;
}

/* Same events, counters and carries; `what` names the input on failure. */
static void check_same_flows(const struct st_ch *fast, const struct st_ch *cursor,
			     const char *what)
{
	size_t n = st_ch_record_count(fast), differ = n;

	CU_ASSERT_EQUAL(n, st_ch_record_count(cursor));
	for (size_t i = 0; i < n && i < st_ch_record_count(cursor); i++) {
		if (!same_record(st_ch_record(fast, i), st_ch_record(cursor, i))) {
			differ = i;
			break;
		}
	}
	CU_ASSERT_EQUAL(differ, n);
	CU_ASSERT(memcmp(st_ch_stats(fast), st_ch_stats(cursor),
			 sizeof(struct st_codec_stats)) == 0);
	for (int d = 0; d < 2; d++)
		CU_ASSERT_EQUAL(st_ch_carry_bytes(fast, (enum st_dir)d),
				st_ch_carry_bytes(cursor, (enum st_dir)d));
	CU_ASSERT_EQUAL(st_ch_latency_count(fast), st_ch_latency_count(cursor));
	for (size_t i = 0; i < st_ch_latency_count(fast) &&
			   i < st_ch_latency_count(cursor); i++) {
		const struct st_latency *a = st_ch_latency(fast, i);
		const struct st_latency *b = st_ch_latency(cursor, i);

		CU_ASSERT(a->proto == b->proto && a->api_key == b->api_key &&
			  a->api_version == b->api_version &&
			  a->correlation_id == b->correlation_id &&
			  a->request_ns == b->request_ns && a->response_ns == b->response_ns);
	}
	if (n != st_ch_record_count(cursor) || differ != n)
		fprintf(stderr, "  %s: the paths differ at record %zu of %zu\n", what,
			differ, n);
}

/* One random record: keys and values null, empty or up to 3-byte varint
 * lengths, 0-3 headers, timestamp deltas of 1 to 6 varint bytes. */
static struct kw_record random_record(uint64_t *rng, const char *pool, size_t pool_n)
{
	static const char *const hk[] = { "trace", "h", "" };
	static const long lens[] = { 0, 1, 5, 63, 64, 100, 300, 8191, 8192, 20000 };
	struct kw_record r = { 0 };
	uint64_t x = rng_next(rng);
	long len;

	if (x % 8) {
		len = (x >> 8) % 40;
		r.key = pool + (x >> 16) % (pool_n - 40);
		r.key_len = (int)len;
	}
	x = rng_next(rng);
	if (x % 16) {
		len = lens[(x >> 4) % ST_ARRAY_SIZE(lens)];
		len = len ? len - (long)((x >> 12) % 2) : 0;
		r.value = pool + (x >> 20) % ((uint64_t)pool_n - (uint64_t)len);
		r.value_len = len;
	}
	x = rng_next(rng);
	r.n_headers = x % 4 == 0 ? (int)(x >> 2) % 4 : 0;
	for (int i = 0; i < r.n_headers; i++) {
		r.header_key[i] = hk[(x >> (8 + 2 * i)) % 3];
		r.header_value[i] = (x >> (16 + i)) & 1 ? "v" : NULL;
	}
	x = rng_next(rng);
	r.timestamp_delta = (int64_t)(x >> 24) % ((int64_t)1 << (7 * (1 + x % 6) - 1));
	if (x & 0x40)
		r.timestamp_delta = -r.timestamp_delta;
	return r;
}

/* A Produce request (v3..v12) of one topic, one partition, 1-3 batches of
 * 1-12 random records. */
static void put_random_produce(struct kw_buf *b, uint64_t *rng, int32_t correlation_id,
			       const char *pool, size_t pool_n)
{
	int version = 3 + (int)(rng_next(rng) % 10);
	struct kw_buf records = { 0 };
	int batches = 1 + (int)(rng_next(rng) % 3);

	for (int i = 0; i < batches; i++) {
		struct kw_record r[12];
		int n = 1 + (int)(rng_next(rng) % 12);

		for (int k = 0; k < n; k++)
			r[k] = random_record(rng, pool, pool_n);
		kw_batch(&records, r, n, BASE_TS + i);
	}
	kw_produce_one(b, version, correlation_id, "fast-test", "fast", 2, &records, 0);
	kw_free(&records);
}

/* Feeds the same chunks to a flow with the fast path and to one without. */
static void feed_both(struct st_ch *fast, struct st_ch *cursor, const uint8_t *p,
		      size_t n, uint64_t ts)
{
	st_kafka_fast_off = false;
	st_ch_feed(fast, ST_DIR_TO_SERVER, p, n, ts);
	st_kafka_fast_off = true;
	st_ch_feed(cursor, ST_DIR_TO_SERVER, p, n, ts);
	st_kafka_fast_off = false;
}

/*
 * The cursor path is the oracle (the rest of this suite holds it to the
 * protocol guide, DeepFlow's .result files and tshark): the fast path must
 * give the same events, counters and carries, on the reference captures
 * and on 400 random streams of Produce requests fed in random chunks, a
 * quarter of them with a byte changed in every request.  Both paths must
 * have been taken for records and request prefixes; most batch headers
 * take the fast one.
 */
static void test_fast_path_agrees(void)
{
	static char pool[24000];
	uint64_t rng = 7, fast_before = st_kafka_fast_taken, records = 0;
	uint64_t batches_before = st_kafka_fast_batches, batches = 0;
	uint64_t requests_before = st_kafka_fast_requests, requests = 0;
	unsigned mutated = 0;

	for (size_t i = 0; i < sizeof(pool); i++)
		pool[i] = (char)(' ' + rng_next(&rng) % 95);
	for (size_t i = 0; i < ST_ARRAY_SIZE(pcap_cases); i++) {
		struct st_ch_run *run[2];

		for (int off = 0; off < 2; off++) {
			st_kafka_fast_off = off;
			run[off] = run_capture(&pcap_cases[i]);
		}
		st_kafka_fast_off = false;
		CU_ASSERT_EQUAL_FATAL(st_ch_run_flows(run[0]), st_ch_run_flows(run[1]));
		for (unsigned k = 0; k < st_ch_run_flows(run[0]); k++)
			check_same_flows(st_ch_run_flow(run[0], k), st_ch_run_flow(run[1], k),
					 pcap_cases[i].name);
		st_ch_run_destroy(run[0]);
		st_ch_run_destroy(run[1]);
	}
	for (int s = 0; s < 400; s++) {
		struct st_ch *fast = flow_new(), *cursor = flow_new();
		struct kw_buf b = { 0 };
		char what[32];
		size_t at = 0;

		for (int q = 0; q < 6; q++) {
			size_t from = b.n;

			put_random_produce(&b, &rng, q, pool, sizeof(pool));
			if (s % 4 == 3) {
				b.p[from + 4 + rng_next(&rng) % (b.n - from - 4)] ^=
					(uint8_t)(1 + rng_next(&rng) % 255);
				mutated++;
			}
		}
		while (at < b.n) {
			size_t n = ST_MIN(b.n - at, 1 + rng_next(&rng) % 3000);

			feed_both(fast, cursor, b.p + at, n, at);
			at += n;
		}
		snprintf(what, sizeof(what), "random stream %d", s);
		check_same_flows(fast, cursor, what);
		records += st_ch_stats(cursor)->records;
		requests += st_ch_stats(cursor)->units[ST_DIR_TO_SERVER];
		for (int k = 0; k < ST_KAFKA_COMP__COUNT; k++)
			batches += st_ch_stats(cursor)->kafka_batches[k];
		st_ch_destroy(fast);
		st_ch_destroy(cursor);
		kw_free(&b);
	}
	fprintf(stderr, "  %lu records, %lu by the fast path; %lu batches, %lu headers "
		"by the fast path; %lu requests, %lu prefixes by the fast path; "
		"%u requests with a changed byte\n",
		(unsigned long)records,
		(unsigned long)(st_kafka_fast_taken - fast_before),
		(unsigned long)batches,
		(unsigned long)(st_kafka_fast_batches - batches_before),
		(unsigned long)requests,
		(unsigned long)(st_kafka_fast_requests - requests_before), mutated);
	CU_ASSERT(st_kafka_fast_taken - fast_before > records / 4);
	CU_ASSERT(st_kafka_fast_taken - fast_before < records);
	/* a batch header cut by the chunk end waits for its bytes, so nearly
	 * all take the fast path; the cursor path reads them with it off */
	CU_ASSERT(st_kafka_fast_batches - batches_before > batches / 2);
	/* versions 3..8 of the random 3..12, whole in the chunk */
	CU_ASSERT(st_kafka_fast_requests - requests_before > requests / 4);
	CU_ASSERT(st_kafka_fast_requests - requests_before < requests);
}

/*
 * Every byte of a small Produce request (v2..v9: the versions of the fast
 * request prefix and their neighbours; the standard records, with a null
 * key, an empty value and headers) set in turn to values at the edges of
 * the fields it may belong to (lengths -1 and -2, counts 0 and 1, varint
 * continuation bits, the topic length limit): the fast paths must give
 * what the cursor path gives on each.  A sound request follows the changed
 * one, so a different idea of where it ends shows too.
 */
static void test_fast_path_byte_edges(void)
{
	static const uint8_t values[] = { 0x00, 0x01, 0x02, 0x7f, 0x80, 0xf9, 0xfa,
					  0xfe, 0xff };
	uint64_t prefixes_before = st_kafka_fast_requests;
	unsigned inputs = 0;

	for (int version = 2; version <= 9; version++) {
		struct kw_buf records = { 0 }, b = { 0 };
		size_t first;

		kw_batch(&records, recs, (int)ST_ARRAY_SIZE(recs), BASE_TS);
		kw_produce_one(&b, version, 1, "edge", "topic-e", 3, &records, 0);
		first = b.n;
		kw_produce_one(&b, version, 2, "edge", "topic-e", 3, &records, 0);
		for (size_t i = 0; i < first; i++) {
			uint8_t was = b.p[i];

			for (size_t v = 0; v < ST_ARRAY_SIZE(values); v++) {
				struct st_ch *fast, *cursor;
				char what[48];

				if (values[v] == was)
					continue;
				fast = flow_new();
				cursor = flow_new();
				b.p[i] = values[v];
				feed_both(fast, cursor, b.p, b.n, 1);
				b.p[i] = was;
				snprintf(what, sizeof(what), "v%d, byte %zu = 0x%02x", version,
					 i, values[v]);
				check_same_flows(fast, cursor, what);
				st_ch_destroy(fast);
				st_ch_destroy(cursor);
				inputs++;
			}
		}
		kw_free(&records);
		kw_free(&b);
	}
	fprintf(stderr, "  %u changed requests, %lu prefixes by the fast path\n", inputs,
		(unsigned long)(st_kafka_fast_requests - prefixes_before));
	CU_ASSERT(st_kafka_fast_requests - prefixes_before > inputs);
}

/* Each test again with the fast record path off; these run after all the
 * others, so a fatal failure inside one leaves no test in the wrong mode. */
#define CURSOR_ONLY(fn)                                                       \
	static void fn##_cursor_only(void)                                    \
	{                                                                     \
		st_kafka_fast_off = true;                                     \
		fn();                                                         \
	}
CURSOR_ONLY(test_contract_constants)
CURSOR_ONLY(test_produce_every_version)
CURSOR_ONLY(test_compressed_and_control_batches)
CURSOR_ONLY(test_compressed_message)
CURSOR_ONLY(test_huge_record_truncated)
CURSOR_ONLY(test_huge_key_skipped)
CURSOR_ONLY(test_other_api_keys_skipped)
CURSOR_ONLY(test_unknown_api_key_resyncs)
CURSOR_ONLY(test_fetch_egress)
CURSOR_ONLY(test_latency_matching)
CURSOR_ONLY(test_pending_table_overflow)
CURSOR_ONLY(test_split_at_every_offset)
CURSOR_ONLY(test_gap_resyncs)
CURSOR_ONLY(test_mid_stream_start)
CURSOR_ONLY(test_malformed_units)
CURSOR_ONLY(test_reference_captures)
CURSOR_ONLY(test_produce_v2_message_content)

ST_TEST_MAIN("dataplane/codec/kafka",
	ST_TEST(test_contract_constants),
	ST_TEST(test_produce_every_version),
	ST_TEST(test_compressed_and_control_batches),
	ST_TEST(test_compressed_message),
	ST_TEST(test_huge_record_truncated),
	ST_TEST(test_huge_key_skipped),
	ST_TEST(test_other_api_keys_skipped),
	ST_TEST(test_unknown_api_key_resyncs),
	ST_TEST(test_fetch_egress),
	ST_TEST(test_latency_matching),
	ST_TEST(test_pending_table_overflow),
	ST_TEST(test_split_at_every_offset),
	ST_TEST(test_gap_resyncs),
	ST_TEST(test_mid_stream_start),
	ST_TEST(test_malformed_units),
	ST_TEST(test_reference_captures),
	ST_TEST(test_produce_v2_message_content),
	ST_TEST(test_fast_path_agrees),
	ST_TEST(test_fast_path_byte_edges),
	ST_TEST(test_contract_constants_cursor_only),
	ST_TEST(test_produce_every_version_cursor_only),
	ST_TEST(test_compressed_and_control_batches_cursor_only),
	ST_TEST(test_compressed_message_cursor_only),
	ST_TEST(test_huge_record_truncated_cursor_only),
	ST_TEST(test_huge_key_skipped_cursor_only),
	ST_TEST(test_other_api_keys_skipped_cursor_only),
	ST_TEST(test_unknown_api_key_resyncs_cursor_only),
	ST_TEST(test_fetch_egress_cursor_only),
	ST_TEST(test_latency_matching_cursor_only),
	ST_TEST(test_pending_table_overflow_cursor_only),
	ST_TEST(test_split_at_every_offset_cursor_only),
	ST_TEST(test_gap_resyncs_cursor_only),
	ST_TEST(test_mid_stream_start_cursor_only),
	ST_TEST(test_malformed_units_cursor_only),
	ST_TEST(test_reference_captures_cursor_only),
	ST_TEST(test_produce_v2_message_content_cursor_only),
)
