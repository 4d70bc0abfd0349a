/*
 * One core's record path (dataplane/worker.c) on frames built here byte by
 * byte: the counts every test expects are the records the test itself put
 * on the wire.  The classifier is a small one of the test's own (ports 1883
 * MQTT, 5140 JSON lines over UDP), so the config library is not involved.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/decode/decode.h"
#include "dataplane/decode/frames.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/heavy.h"
#include "dataplane/sketch/hll.h"
#include "dataplane/sketch/quantile.h"
#include "dataplane/sketch/schema.h"
#include "dataplane/worker.h"
#include "shadowtap/profile.h"
#include "st_test.h"

#define T0 (1767225600ull * 1000000000ull)   /* 2026-01-01, an epoch start */
#define CLIENT 0x0a010101u                    /* 10.1.1.1 */
#define BROKER 0x0a000014u                    /* 10.0.0.20 */
#define SINK 0x0a000028u                      /* 10.0.0.40 */

static enum st_proto port_proto(const void *ctx, uint8_t l4, uint16_t port)
{
	(void)ctx;
	if (l4 == IPPROTO_TCP && port == 1883)
		return ST_PROTO_MQTT;
	if (l4 == IPPROTO_UDP && port == 5140)
		return ST_PROTO_JSONL;
	return ST_PROTO_NONE;
}

static int stream_def(const void *ctx, enum st_proto proto, const uint8_t *topic,
		      size_t len, struct st_worker_stream_def *def)
{
	(void)ctx;
	snprintf(def->name, sizeof(def->name), "%s:%.*s", st_proto_name(proto),
		 (int)len, (const char *)topic);
	def->key_fields = 1;
	strcpy(def->key[0], "/user/id");
	def->numeric_fields = 1;
	strcpy(def->numeric[0], "/amount");
	/* the config's `schema = false`, here for topics "lazy/..." */
	def->no_schema = len >= 5 && memcmp(topic, "lazy/", 5) == 0;
	return 0;
}

static struct st_worker *worker(unsigned max_streams)
{
	struct st_worker_config wc;
	struct st_worker *w;

	st_worker_config_default(&wc);
	wc.classifier.port_proto = port_proto;
	wc.classifier.stream = stream_def;
	wc.max_streams = max_streams;
	wc.max_flows = 1024;
	wc.reasm_budget_bytes = 1u << 20;
	w = st_worker_create(&wc, T0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	return w;
}

/* An MQTT 3.1.1 PUBLISH, QoS 0 (section 3.3): fixed header, remaining
 * length (one byte here), topic, payload. */
static size_t mqtt_publish(uint8_t *out, const char *topic, const char *value)
{
	size_t tl = strlen(topic), vl = strlen(value), n = 0;

	CU_ASSERT_FATAL(2 + tl + vl < 128);
	out[n++] = 0x30;
	out[n++] = (uint8_t)(2 + tl + vl);
	out[n++] = 0;
	out[n++] = (uint8_t)tl;
	memcpy(out + n, topic, tl);
	n += tl;
	memcpy(out + n, value, vl);
	return n + vl;
}

static void tcp_frame(struct st_worker *w, uint16_t sport, uint32_t seq,
		      const uint8_t *payload, size_t len, uint64_t ts)
{
	struct frame f = { .n = 0 };

	fr_eth(&f, 0x0800);
	fr_ipv4(&f, CLIENT, BROKER, IPPROTO_TCP, 5, (uint32_t)(20 + len), 0);
	fr_tcp(&f, sport, 1883, seq, 1, 0x18, 5, 65535);
	fr_bytes(&f, payload, (uint32_t)len);
	st_worker_frame(w, f.b, f.n, ST_DLT_EN10MB, ts);
}

static void udp_frame(struct st_worker *w, uint16_t dport, const char *payload,
		      uint64_t ts)
{
	struct frame f = { .n = 0 };
	uint32_t len = (uint32_t)strlen(payload);

	fr_eth(&f, 0x0800);
	fr_ipv4(&f, CLIENT, SINK, IPPROTO_UDP, 5, 8 + len, 0);
	fr_udp(&f, 40000, dport, (uint16_t)(8 + len));
	fr_bytes(&f, payload, len);
	st_worker_frame(w, f.b, f.n, ST_DLT_EN10MB, ts);
}

/* What the epoch handed on, copied out of the callback. */
struct seen {
	unsigned n;
	char name[8][ST_PROFILE_NAME_BYTES];
	struct st_profile_counters c[8];
	double distinct[8];
	uint64_t top_count[8];
	char top_key[8][ST_HH_KEY_SAMPLE_BYTES + 1];
	uint64_t amounts[8];
	double amount_max[8];
	unsigned schema[8];
	bool has_user_id[8];
};

static void on_stream(void *ctx, const struct st_worker_stream *s)
{
	struct seen *seen = ctx;
	unsigned i = seen->n++;
	struct st_hh_item top;
	const struct st_schema *schema = st_sset_schema_ro(s->set);
	const char *path = "/user/id";

	CU_ASSERT_FATAL(i < 8);
	snprintf(seen->name[i], sizeof(seen->name[i]), "%s", s->def->name);
	seen->c[i] = *st_sset_counters_ro(s->set);
	/* no record key outside Kafka: /user/id is key field 0, the only one */
	CU_ASSERT_FATAL(s->key_field_names[0] != NULL);
	CU_ASSERT_STRING_EQUAL(s->key_field_names[0], "/user/id");
	CU_ASSERT_PTR_NULL(s->key_field_names[1]);
	CU_ASSERT_STRING_EQUAL(s->numeric_field_names[0], "/amount");
	seen->distinct[i] = st_hll_estimate(st_sset_hll_ro(s->set, 0));
	if (st_hh_top(st_sset_heavy_ro(s->set, 0), &top, 1) == 1) {
		seen->top_count[i] = top.count;
		memcpy(seen->top_key[i], top.key, top.sample_len);
		seen->top_key[i][top.sample_len] = '\0';
	}
	seen->amounts[i] = st_qs_count(st_sset_numeric_qs_ro(s->set, 0));
	seen->amount_max[i] = st_qs_max(st_sset_numeric_qs_ro(s->set, 0));
	seen->schema[i] = st_schema_size(schema);
	seen->has_user_id[i] = st_schema_find(schema, st_hash64(path, strlen(path))) != NULL;
}

static void test_mqtt_records_fields_and_errors(void)
{
	static const char *const values[] = {
		"{\"user\":{\"id\":\"u1\"},\"amount\":5}",
		"{\"user\":{\"id\":\"u2\"},\"amount\":7.5}",
		"{\"user\":{\"id\":\"u1\"},\"amount\":1}",
		"{\"user\":{\"id\":\"u3\"},\"amount\":2}",
		"{\"user\":{\"id\":\"u1\"},\"amount\":3}",
		"{\"user\":{\"id\":\"u4\"},\"amount\":}",   /* invalid JSON */
	};
	struct st_worker *w = worker(16);
	struct st_worker_totals t;
	struct seen seen = { 0 };
	uint32_t seq = 1000;
	uint8_t buf[256];

	for (unsigned i = 0; i < ST_ARRAY_SIZE(values); i++) {
		size_t n = mqtt_publish(buf, "t/a", values[i]);

		tcp_frame(w, 50000, seq, buf, n, T0 + i * 1000000u);
		seq += (uint32_t)n;
	}
	CU_ASSERT_EQUAL(st_worker_epoch_close(w, T0 + 1000000000u, on_stream, &seen), 1);
	CU_ASSERT_STRING_EQUAL(seen.name[0], "mqtt:t/a");
	CU_ASSERT_EQUAL(seen.c[0].records, 6);
	CU_ASSERT_EQUAL(seen.c[0].packets, 6);
	CU_ASSERT_EQUAL(seen.c[0].flows_active, 1);
	CU_ASSERT_EQUAL(seen.c[0].flows_new, 1);
	CU_ASSERT_EQUAL(seen.c[0].parse_errors[ST_WORKER_PERR_JSON_INVALID], 1);
	CU_ASSERT(seen.distinct[0] > 2.5 && seen.distinct[0] < 3.5);  /* u1 u2 u3 */
	CU_ASSERT_STRING_EQUAL(seen.top_key[0], "u1");
	CU_ASSERT_EQUAL(seen.top_count[0], 3);
	CU_ASSERT_EQUAL(seen.amounts[0], 5);
	CU_ASSERT_DOUBLE_EQUAL(seen.amount_max[0], 7.5, 0.1);
	CU_ASSERT_EQUAL(seen.schema[0], 3);  /* /user, /user/id, /amount */
	CU_ASSERT(seen.has_user_id[0]);
	st_worker_totals(w, &t);
	CU_ASSERT_EQUAL(t.frames, 6);
	CU_ASSERT_EQUAL(t.records, 6);
	CU_ASSERT_EQUAL(t.parse_errors, 1);
	CU_ASSERT_EQUAL(t.drops, 0);

	/* the next epoch: nothing happened, nothing handed on; then one record
	 * again, and the flow is active but no longer new */
	memset(&seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(st_worker_epoch_close(w, T0 + 2000000000u, on_stream, &seen), 0);
	tcp_frame(w, 50000, seq, buf, mqtt_publish(buf, "t/a", values[0]), T0 + 2000000000u);
	CU_ASSERT_EQUAL(st_worker_epoch_close(w, T0 + 3000000000u, on_stream, &seen), 1);
	CU_ASSERT_EQUAL(seen.c[0].records, 1);
	CU_ASSERT_EQUAL(seen.c[0].flows_active, 1);
	CU_ASSERT_EQUAL(seen.c[0].flows_new, 0);
	st_worker_destroy(w);
}

/*
 * A stream with no_schema (the config's schema = false): the fields come
 * from the lazy scan, no schema is walked, and only errors in the part it
 * reads make a value invalid.  The same values on a schema stream for
 * comparison: there both errors count.
 */
static void test_no_schema_stream_fields_only(void)
{
	static const char *const values[] = {
		"{\"user\":{\"id\":\"u1\"},\"amount\":5,\"x\":01}",  /* error after */
		"{\"user\":{\"id\":\"u2\"},\"amount\":7.5}",
		"{\"user\":{\"id\":\"u1\"},\"amount\":}",       /* error read */
	};
	static const char *const topics[] = { "lazy/a", "t/b" };
	struct st_worker *w = worker(16);
	struct seen seen = { 0 };
	uint32_t seq = 1000;
	uint8_t buf[256];

	for (unsigned t = 0; t < 2; t++) {
		for (unsigned i = 0; i < ST_ARRAY_SIZE(values); i++) {
			size_t n = mqtt_publish(buf, topics[t], values[i]);

			tcp_frame(w, 50000, seq, buf, n, T0 + i * 1000000u);
			seq += (uint32_t)n;
		}
	}
	CU_ASSERT_EQUAL_FATAL(st_worker_epoch_close(w, T0 + 1000000000u, on_stream,
						    &seen), 2);
	for (unsigned i = 0; i < 2; i++) {
		bool lazy = strcmp(seen.name[i], "mqtt:lazy/a") == 0;

		CU_ASSERT(lazy || strcmp(seen.name[i], "mqtt:t/b") == 0);
		CU_ASSERT_EQUAL(seen.c[i].records, 3);
		CU_ASSERT_EQUAL(seen.c[i].parse_errors[ST_WORKER_PERR_JSON_INVALID],
				lazy ? 1 : 2);
		CU_ASSERT_EQUAL(seen.amounts[i], lazy ? 2 : 1);
		CU_ASSERT_DOUBLE_EQUAL(seen.amount_max[i], 7.5, 0.1);
		CU_ASSERT(seen.distinct[i] > (lazy ? 1.5 : 0.5) &&
			  seen.distinct[i] < (lazy ? 2.5 : 1.5));
		/* no schema walked on the lazy stream; /user, /user/id,
		 * /amount on the other */
		CU_ASSERT_EQUAL(seen.schema[i], lazy ? 0 : 3);
		CU_ASSERT_EQUAL(seen.has_user_id[i], !lazy);
	}
	st_worker_destroy(w);
}

static void test_record_across_segments(void)
{
	struct st_worker *w = worker(16);
	struct seen seen = { 0 };
	uint8_t buf[256];
	size_t n = mqtt_publish(buf, "t/b", "{\"user\":{\"id\":\"u9\"},\"amount\":1}");

	/* cut inside the topic, then inside the value: the carry joins them */
	tcp_frame(w, 50001, 7, buf, 4, T0);
	tcp_frame(w, 50001, 11, buf + 4, 20, T0 + 1);
	tcp_frame(w, 50001, 31, buf + 24, n - 24, T0 + 2);
	st_worker_flush(w);
	CU_ASSERT_EQUAL(st_worker_epoch_close(w, T0 + 1000000000u, on_stream, &seen), 1);
	CU_ASSERT_EQUAL(seen.c[0].records, 1);
	CU_ASSERT_EQUAL(seen.c[0].bytes, n - 7);  /* value bytes: n - header - topic */
	CU_ASSERT_STRING_EQUAL(seen.top_key[0], "u9");
	CU_ASSERT_EQUAL(seen.c[0].reassembly_gaps, 0);
	st_worker_destroy(w);
}

static void test_jsonl_datagram_named_by_destination(void)
{
	struct st_worker *w = worker(16);
	struct seen seen = { 0 };
	struct st_worker_totals t;

	udp_frame(w, 5140, "{\"user\":{\"id\":\"a\"}}\n{\"user\":{\"id\":\"b\"}}\n"
			   "{\"user\":{\"id\":\"a\"},\"amount\":-4}", T0);
	udp_frame(w, 5141, "{\"user\":{\"id\":\"c\"}}\n", T0 + 1);  /* unmapped */
	CU_ASSERT_EQUAL(st_worker_epoch_close(w, T0 + 1000000000u, on_stream, &seen), 1);
	CU_ASSERT_STRING_EQUAL(seen.name[0], "jsonl:10.0.0.40:5140");
	CU_ASSERT_EQUAL(seen.c[0].records, 3);
	CU_ASSERT_EQUAL(seen.c[0].flows_active, 0);  /* UDP: no flow entry */
	CU_ASSERT_STRING_EQUAL(seen.top_key[0], "a");
	CU_ASSERT_EQUAL(seen.top_count[0], 2);
	CU_ASSERT_EQUAL(seen.amounts[0], 1);
	st_worker_totals(w, &t);
	CU_ASSERT_EQUAL(t.frames, 2);
	CU_ASSERT_EQUAL(t.records, 3);
	CU_ASSERT_EQUAL(t.drops, 1);  /* the datagram to port 5141 */
	st_worker_destroy(w);
}

/* ---- shape templates change nothing ---------------------------------- */

struct profiles {
	unsigned n;
	uint8_t *rec[8];
	size_t len[8];
};

static void keep_profile(void *ctx, const struct st_worker_stream *s)
{
	struct profiles *p = ctx;
	struct st_profile_meta m = {
		.name = s->def->name,
		.epoch_start_ns = st_sset_epoch_start_ns(s->set),
		.epoch_ns = st_sset_config(s->set)->epoch_ns,
		.cores_merged = 1, .cores_expected = 1,
	};
	ssize_t size = st_profile_size(s->set, &m);

	CU_ASSERT_FATAL(p->n < 8 && size > 0);
	p->rec[p->n] = malloc((size_t)size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->rec[p->n]);
	CU_ASSERT_EQUAL_FATAL(st_profile_build(s->set, &m, p->rec[p->n], (size_t)size),
			      size);
	p->len[p->n++] = (size_t)size;
}

static uint64_t shape_hits(const struct st_worker *w)
{
	char *text = NULL, *at;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	uint64_t hits = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	st_worker_stats_json(w, f);
	fclose(f);
	at = strstr(text, "\"shape_hits\":");
	CU_ASSERT_PTR_NOT_NULL(at);
	if (at)
		hits = strtoull(at + strlen("\"shape_hits\":"), NULL, 10);
	free(text);
	return hits;
}

/*
 * The same records through a worker with shape templates
 * (dataplane/json/json_tmpl.h) and one without: the profiles of every
 * epoch are the same bytes.  The records keep a shape for runs, change it
 * (another member, other whitespace, a string where a number was), carry
 * escapes and UTF-8, arrays of 0 to 4 scalars, and some are invalid; a schema set of 4 entries fills
 * up, so the order in which paths arrive matters too.
 */
static void test_shape_templates_change_no_profile(void)
{
	static const char *const shapes[] = {
		"{\"user\":{\"id\":\"u%u\"},\"amount\":%u.5,\"note\":\"abcdefghijklmnopqrstuvwxyz%u\"}",
		"{\"user\":{\"id\":\"u%u\"},\"amount\":%u,\"extra\":[%u,true]}",
		"{\"user\": {\"id\":\"u%u\"}, \"amount\":%u, \"n\":%u}",
		"{\"user\":{\"id\":%u},\"amount\":\"%u\",\"x\":{\"y\":{\"z\":%u}}}",
		"{\"user\":{\"id\":\"caf\xc3\xa9%u\"},\"amount\":%u,\"e\":\"\\n%u\"}",
		"{\"user\":{\"id\":\"u%u\"},\"amount\":0%u,\"bad\":%u}",
		"{\"user\":{\"id\":\"u%u\"},\"amount\":%u,\"n\":%u,\"tags\":[%s]}",
	};
	static const char *const tags[] = {
		"", "\"a\"", "1, \"b\\n\" ,null", "true,\"caf\xc3\xa9\",2,3",
	};
	struct st_worker *w[2];
	struct st_worker_config wc;
	struct profiles got[2][3] = { 0 };
	char doc[256];
	uint8_t frame[300];
	uint32_t seq = 1000;

	for (int i = 0; i < 2; i++) {
		st_worker_config_default(&wc);
		wc.classifier.port_proto = port_proto;
		wc.classifier.stream = stream_def;
		wc.max_streams = 8;
		wc.max_flows = 1024;
		wc.reasm_budget_bytes = 1u << 20;
		wc.sketch.schema_entries = 4;
		wc.no_shape_templates = i == 1;
		w[i] = st_worker_create(&wc, T0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(w[i]);
	}
	for (unsigned epoch = 0; epoch < 3; epoch++) {
		uint64_t t0 = T0 + epoch * 1000000000ull;

		for (unsigned r = 0; r < 600; r++) {
			/* runs of one shape, then another, more of the first */
			unsigned shape = (r / 37 + (r % 11 == 0)) % 7;
			int n = snprintf(doc, sizeof(doc), shapes[(shape + epoch) % 7],
					 r % 50, r, r * 7, tags[r % 4]);
			size_t len;

			CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof(doc));
			len = mqtt_publish(frame, r % 3 ? "t/a" : "t/b", doc);
			for (int i = 0; i < 2; i++) {
				tcp_frame(w[i], 50000, seq, frame, len, t0 + r);
				udp_frame(w[i], 5140, doc, t0 + r);
			}
			seq += (uint32_t)len;
		}
		for (int i = 0; i < 2; i++)
			st_worker_epoch_close(w[i], t0 + 1000000000ull, keep_profile,
					      &got[i][epoch]);
	}
	CU_ASSERT(shape_hits(w[0]) > 1000);
	CU_ASSERT_EQUAL(shape_hits(w[1]), 0);
	for (unsigned epoch = 0; epoch < 3; epoch++) {
		CU_ASSERT_EQUAL(got[0][epoch].n, 3);
		CU_ASSERT_EQUAL(got[0][epoch].n, got[1][epoch].n);
		for (unsigned k = 0; k < got[0][epoch].n && k < got[1][epoch].n; k++) {
			CU_ASSERT_EQUAL(got[0][epoch].len[k], got[1][epoch].len[k]);
			CU_ASSERT(got[0][epoch].len[k] == got[1][epoch].len[k] &&
				  !memcmp(got[0][epoch].rec[k], got[1][epoch].rec[k],
					  got[0][epoch].len[k]));
			free(got[0][epoch].rec[k]);
			free(got[1][epoch].rec[k]);
		}
	}
	st_worker_destroy(w[0]);
	st_worker_destroy(w[1]);
}

static void test_stream_table_full_is_counted(void)
{
	struct st_worker *w = worker(1);
	struct seen seen = { 0 };
	struct st_worker_totals t;
	uint32_t seq_a = 1, seq_b = 1;
	uint8_t buf[256];

	for (unsigned i = 0; i < 4; i++) {
		size_t n = mqtt_publish(buf, "first", "{\"amount\":1}");

		tcp_frame(w, 50010, seq_a, buf, n, T0 + i);
		seq_a += (uint32_t)n;
		n = mqtt_publish(buf, "second", "{\"amount\":2}");
		tcp_frame(w, 50011, seq_b, buf, n, T0 + i);
		seq_b += (uint32_t)n;
	}
	CU_ASSERT_EQUAL(st_worker_epoch_close(w, T0 + 1000000000u, on_stream, &seen), 1);
	CU_ASSERT_STRING_EQUAL(seen.name[0], "mqtt:first");
	CU_ASSERT_EQUAL(seen.c[0].records, 4);
	st_worker_totals(w, &t);
	CU_ASSERT_EQUAL(t.records, 4);
	CU_ASSERT_EQUAL(t.drops, 4);   /* every record of the second stream */
	CU_ASSERT_EQUAL(t.streams, 1);
	st_worker_destroy(w);
}

static void test_bad_config_refused(void)
{
	struct st_worker_config wc;

	st_worker_config_default(&wc);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_worker_create(&wc, T0));  /* no classifier */
	CU_ASSERT_EQUAL(errno, EINVAL);
	st_worker_destroy(NULL);
}

/* worker.h: a worker is cache-line aligned (its counters are; calloc's 16
 * bytes are not enough, and an aligned wide load of a member faults).
 * Workers made between allocations of odd sizes, so that the heap's next
 * free byte is at every offset. */
static void test_worker_is_cache_line_aligned(void)
{
	void *odd[8];

	for (unsigned i = 0; i < 8; i++) {
		struct st_worker *w;

		odd[i] = malloc(16 * i + 24);
		CU_ASSERT_PTR_NOT_NULL_FATAL(odd[i]);
		w = worker(4);
		CU_ASSERT_EQUAL((uintptr_t)w % 64, 0);
		st_worker_destroy(w);
	}
	for (unsigned i = 0; i < 8; i++)
		free(odd[i]);
}

ST_TEST_MAIN("dataplane/worker",
	     ST_TEST(test_worker_is_cache_line_aligned),
	     ST_TEST(test_mqtt_records_fields_and_errors),
	     ST_TEST(test_no_schema_stream_fields_only),
	     ST_TEST(test_record_across_segments),
	     ST_TEST(test_jsonl_datagram_named_by_destination),
	     ST_TEST(test_stream_table_full_is_counted),
	     ST_TEST(test_shape_templates_change_no_profile),
	     ST_TEST(test_bad_config_refused))
