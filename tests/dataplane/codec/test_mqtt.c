/*
 * MQTT codec tests.  Expected values come from outside mqtt.c: packets
 * built here byte by byte from the OASIS MQTT 3.1.1 and 5.0 texts (so the
 * test knows every topic, id and value it put in), DeepFlow's .result files
 * beside the reference captures, and tshark's MQTT dissector run at test
 * time.  The harness (tests/lib/codec_harness.h) implements the caller's
 * side of the carry contract and checks it on every feed: unconsumed bytes
 * <= ST_CODEC_HOLD_MAX, and progress whenever more than that is offered;
 * every event pointer must lie inside the bytes fed (mqtt_record_rule).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_harness.h"
#include "dataplane/codec/codec.h"
#include "st_test.h"

#define HOLD ST_CODEC_HOLD_MAX

static const struct st_codec *C = &st_codec_mqtt;

/* MQTT's promises beyond codec.h's: one PUBLISH per event, its topic and
 * payload in the bytes fed, no key, no header block, no partition. */
static const char *mqtt_record_rule(const struct st_ch *h, const struct st_record *r)
{
	if (!st_ch_in_feed(h, r->stream, r->stream_len) ||
	    !st_ch_in_feed(h, r->value, r->value_len))
		return "topic or payload outside the bytes fed";
	if (r->count != 1)
		return "count != 1";
	if (r->headers != NULL || (r->flags & ST_REC_F_HAS_KEY) || r->partition != -1)
		return "header block, key or partition on an MQTT record";
	return NULL;
}

static const char *mqtt_latency_rule(const struct st_ch *h, const struct st_latency *l)
{
	(void)h;
	return l->api_key != -1 ? "api_key != -1 on an MQTT sample" : NULL;
}

static const struct st_ch_rules mqtt_rules = { mqtt_record_rule, mqtt_latency_rule };

static struct st_ch *h_new(void)
{
	return st_ch_create(C, &mqtt_rules);
}

/* ---- packet builders, from the specification ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *src, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b->p);
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put16(struct buf *b, uint16_t v)
{
	put8(b, (uint8_t)(v >> 8));
	put8(b, (uint8_t)v);
}

/* 3.1.1 §2.2.3: 7 bits per byte, least significant first. */
static size_t put_varint(struct buf *b, uint32_t v)
{
	size_t n = 0;

	do {
		uint8_t d = v & 0x7f;

		v >>= 7;
		put8(b, v ? (uint8_t)(d | 0x80) : d);
		n++;
	} while (v);
	return n;
}

static void put_str(struct buf *b, const char *s)
{
	put16(b, (uint16_t)strlen(s));
	put(b, s, strlen(s));
}

static void connect_pkt(struct buf *b, uint8_t level)
{
	struct buf v = { 0 };

	put_str(&v, "MQTT");
	put8(&v, level);
	put8(&v, 0x02);     /* clean session */
	put16(&v, 60);      /* keep alive */
	if (level == 5)
		put8(&v, 0);  /* no properties */
	put_str(&v, "tester");
	put8(b, 0x10);
	put_varint(b, (uint32_t)v.len);
	put(b, v.p, v.len);
	free(v.p);
}

struct pub {
	const char *topic;
	unsigned qos;
	uint16_t id;
	const uint8_t *props;  /* 5.0 property bytes (without their length) */
	size_t props_len;
	bool v5;
	const void *payload;
	size_t payload_len;
};

static size_t publish_pkt(struct buf *b, const struct pub *p)
{
	size_t tl = strlen(p->topic), rl, start = b->len;
	struct buf pl = { 0 };

	if (p->v5)
		put_varint(&pl, (uint32_t)p->props_len);
	rl = 2 + tl + (p->qos ? 2 : 0) + pl.len + p->props_len + p->payload_len;
	put8(b, (uint8_t)(0x30 | p->qos << 1));
	put_varint(b, (uint32_t)rl);
	put_str(b, p->topic);
	if (p->qos)
		put16(b, p->id);
	put(b, pl.p, pl.len);
	put(b, p->props, p->props_len);
	put(b, p->payload, p->payload_len);
	free(pl.p);
	return b->len - start;
}

static void ack_pkt(struct buf *b, uint8_t type, uint16_t id)
{
	put8(b, (uint8_t)(type << 4 | (type == 6 ? 2 : 0)));
	put8(b, 2);
	put16(b, id);
}

/* NULL (no such record) is no match. */
static bool rec_is(const struct st_ch_record *r, uint8_t kind, const char *topic,
		   unsigned qos, uint32_t id, const void *value, size_t value_len)
{
	return r && r->value && r->kind == kind && r->stream_len == strlen(topic) &&
	       memcmp(r->stream, topic, r->stream_len) == 0 && r->qos == qos &&
	       r->packet_id == id && r->value_len == value_len &&
	       r->value_bytes == value_len && memcmp(r->value, value, value_len) == 0;
}

/* ---- hand-built streams ---- */

static void test_v311_qos_levels(void)
{
	struct st_ch *h = h_new();
	struct buf b = { 0 };
	struct pub p0 = { "a/b", 0, 0, NULL, 0, false, "{\"x\":1}", 7 };
	struct pub p1 = { "sensors/t", 1, 7, NULL, 0, false, "{\"x\":2}", 7 };
	struct pub p2 = { "sensors/h", 2, 8, NULL, 0, false, "", 0 };

	connect_pkt(&b, 4);
	publish_pkt(&b, &p0);
	publish_pkt(&b, &p1);
	publish_pkt(&b, &p2);
	st_ch_feed(h, ST_DIR_TO_SERVER, b.p, b.len, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 3);
	CU_ASSERT_EQUAL(st_ch_carry_bytes(h, ST_DIR_TO_SERVER), 0);
	if (st_ch_record_count(h) == 3) {
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "a/b", 0, 0, "{\"x\":1}", 7));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_RECORD, "sensors/t", 1, 7, "{\"x\":2}", 7));
		CU_ASSERT(rec_is(st_ch_record(h, 2), ST_REC_RECORD, "sensors/h", 2, 8, "", 0));
	}
	CU_ASSERT_EQUAL(st_ch_stats(h)->units[ST_DIR_TO_SERVER], 4);
	CU_ASSERT_EQUAL(st_ch_stats(h)->records, 3);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	free(b.p);
	st_ch_destroy(h);
}

static void test_v5_properties(void)
{
	static const uint8_t props[] = {
		0x01, 0x01,                          /* payload format: UTF-8 */
		0x02, 0x00, 0x00, 0x0e, 0x10,        /* message expiry 3600 s */
		0x23, 0x00, 0x03,                    /* topic alias 3 */
		0x03, 0x00, 0x04, 'j', 's', 'o', 'n', /* content type */
		0x26, 0x00, 0x01, 'k', 0x00, 0x02, 'v', 'v', /* user property */
		0x0b, 0x81, 0x01,                    /* subscription id 129 */
	};
	static const uint8_t alias_only[] = { 0x23, 0x00, 0x03 };
	struct st_ch *h = h_new();
	struct buf b = { 0 };
	struct pub p1 = { "dev/1", 1, 300, props, sizeof(props), true, "{\"t\":20}", 8 };
	struct pub p2 = { "", 0, 0, alias_only, sizeof(alias_only), true, "{\"t\":21}", 8 };
	struct pub p3 = { "dev/2", 0, 0, NULL, 0, true, "\x00hi", 3 };

	connect_pkt(&b, 5);
	publish_pkt(&b, &p1);
	publish_pkt(&b, &p2);
	publish_pkt(&b, &p3);
	st_ch_feed(h, ST_DIR_TO_SERVER, b.p, b.len, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
	if (st_ch_record_count(h) == 2) {
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "dev/1", 1, 300, "{\"t\":20}", 8));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_RECORD, "dev/2", 0, 0, "\x00hi", 3));
	}
	CU_ASSERT_EQUAL(st_ch_error_count(h, "topic_alias_unresolved"), 1);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 1);
	CU_ASSERT_EQUAL(st_ch_stats(h)->units[ST_DIR_TO_SERVER], 4);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	free(b.p);
	st_ch_destroy(h);
}

/* Remaining Length boundaries (3.1.1 §2.2.3 table 2.4) and the hold limit. */
static void test_remaining_length_boundaries(void)
{
	static const uint32_t rls[] = { 127, 128, 16383, 16384, 2097151, 2097152 };
	static const size_t varint_bytes[] = { 1, 2, 2, 3, 3, 4 };
	uint8_t *payload = malloc(2097152);

	CU_ASSERT_PTR_NOT_NULL_FATAL(payload);
	for (size_t i = 0; i < 2097152; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	for (size_t k = 0; k < sizeof(rls) / sizeof(rls[0]); k++) {
		struct st_ch *h = h_new();
		struct buf b = { 0 };
		size_t tl = 5, value = rls[k] - 2 - tl, total, hdr, expect_len;
		struct pub p = { "big/1", 0, 0, NULL, 0, false, payload, value };
		struct pub after = { "next", 1, 9, NULL, 0, false, "x", 1 };

		connect_pkt(&b, 4);
		total = publish_pkt(&b, &p);
		hdr = total - rls[k];
		CU_ASSERT_EQUAL(hdr - 1, varint_bytes[k]);
		publish_pkt(&b, &after);
		st_ch_feed_chunks(h, ST_DIR_TO_SERVER, b.p, b.len, 1460, 1);
		/* documented: the value's bytes within the first HOLD bytes */
		expect_len = total <= HOLD ? value : HOLD - hdr - 2 - tl;
		CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
		if (st_ch_record_count(h) == 2) {
			const struct st_ch_record *r = st_ch_record(h, 0);

			CU_ASSERT_EQUAL(r->value_bytes, value);
			CU_ASSERT_EQUAL(r->value_len, expect_len);
			CU_ASSERT(st_ch_bytes_are(r->value, payload, expect_len));
			CU_ASSERT_EQUAL(!!(r->flags & ST_REC_F_VALUE_TRUNCATED),
					expect_len < value);
			CU_ASSERT_EQUAL(r->stream_len, 5);
			CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_RECORD, "next", 1, 9, "x", 1));
		}
		CU_ASSERT_EQUAL(st_ch_stats(h)->truncated_values, expect_len < value ? 1u : 0u);
		CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
		CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
		free(b.p);
		st_ch_destroy(h);
	}
	free(payload);
}

/* The largest Remaining Length, 268,435,455 (0xff 0xff 0xff 0x7f), streamed. */
static void test_remaining_length_max(void)
{
	static const uint8_t head[] = { 0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 't' };
	uint8_t *zeros = calloc(1, 1 << 16);
	struct st_ch *h = h_new();
	size_t left = 268435455u - 3u;
	struct buf b = { 0 };
	struct pub after = { "after", 0, 0, NULL, 0, false, "ok", 2 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(zeros);
	st_ch_feed(h, ST_DIR_TO_SERVER, head, sizeof(head), 1);
	while (left) {
		size_t n = left < (1u << 16) ? left : (1u << 16);

		st_ch_feed(h, ST_DIR_TO_SERVER, zeros, n, 2);
		left -= n;
	}
	publish_pkt(&b, &after);
	st_ch_feed(h, ST_DIR_TO_SERVER, b.p, b.len, 3);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
	if (st_ch_record_count(h) == 2) {
		CU_ASSERT_EQUAL(st_ch_record(h, 0)->value_bytes, 268435455u - 3u);
		CU_ASSERT_EQUAL(st_ch_record(h, 0)->value_len, HOLD - sizeof(head));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_RECORD, "after", 0, 0, "ok", 2));
	}
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	free(b.p);
	free(zeros);
	st_ch_destroy(h);
}

/* A session toward the broker, and what it must yield. */
static struct pub session_pubs[] = {
	{ "home/kitchen/temp", 0, 0, NULL, 0, true, "{\"c\":21.5}", 10 },
	{ "home/kitchen/temp", 1, 1, (const uint8_t *)"\x01\x01", 2, true, "{\"c\":21.6}", 10 },
	{ "x", 2, 2, NULL, 0, true, "", 0 },
	{ "home/garden/rain", 1, 65535, (const uint8_t *)"\x03\x00\x01j", 4, true, "[1,2,3]", 7 },
};

static void session_stream(struct buf *b)
{
	/* 5.0 SUBSCRIBE: id 5, no properties, filter "a/#", options 1 */
	static const uint8_t subscribe[] = {
		0x82, 0x09, 0x00, 0x05, 0x00, 0x00, 0x03, 'a', '/', '#', 0x01 };
	static const uint8_t pingreq[] = { 0xc0, 0x00 };

	connect_pkt(b, 5);
	put(b, subscribe, sizeof(subscribe));
	publish_pkt(b, &session_pubs[0]);
	put(b, pingreq, sizeof(pingreq));
	publish_pkt(b, &session_pubs[1]);
	publish_pkt(b, &session_pubs[2]);
	publish_pkt(b, &session_pubs[3]);
	put(b, pingreq, sizeof(pingreq));
}

static void check_session(const struct st_ch *h)
{
	CU_ASSERT_EQUAL(st_ch_record_count(h), 4);
	for (size_t i = 0; i < 4 && i < st_ch_record_count(h); i++)
		CU_ASSERT(rec_is(st_ch_record(h, i), ST_REC_RECORD, session_pubs[i].topic,
				 session_pubs[i].qos, session_pubs[i].id,
				 session_pubs[i].payload, session_pubs[i].payload_len));
	CU_ASSERT_EQUAL(st_ch_stats(h)->units[ST_DIR_TO_SERVER], 8);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	CU_ASSERT_EQUAL(st_ch_stats(h)->resyncs, 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
}

static void test_split_at_every_offset(void)
{
	struct buf b = { 0 };
	struct st_ch *h;

	session_stream(&b);
	for (size_t cut = 0; cut <= b.len; cut++) {
		h = h_new();
		st_ch_feed(h, ST_DIR_TO_SERVER, b.p, cut, 1);
		st_ch_feed(h, ST_DIR_TO_SERVER, b.p + cut, b.len - cut, 2);
		check_session(h);
		CU_ASSERT_EQUAL(st_ch_carry_bytes(h, ST_DIR_TO_SERVER), 0);
		st_ch_destroy(h);
	}
	h = h_new();
	st_ch_feed_chunks(h, ST_DIR_TO_SERVER, b.p, b.len, 1, 1);
	check_session(h);
	st_ch_destroy(h);
	free(b.p);
}

static void test_egress_and_latency(void)
{
	struct st_ch *h = h_new();
	struct buf up = { 0 }, down = { 0 }, down2 = { 0 };
	struct pub q1 = { "t/1", 1, 5, NULL, 0, false, "a", 1 };
	struct pub q2 = { "t/2", 2, 6, NULL, 0, false, "b", 1 };
	struct pub from_broker = { "t/sub", 1, 40, NULL, 0, false, "c", 1 };

	connect_pkt(&up, 4);
	publish_pkt(&up, &q1);
	publish_pkt(&up, &q2);
	st_ch_feed(h, ST_DIR_TO_SERVER, up.p, up.len, 1000);
	put8(&down, 0x20);
	put8(&down, 0x02);
	put16(&down, 0);           /* CONNACK */
	ack_pkt(&down, 4, 5);      /* PUBACK 5 */
	ack_pkt(&down, 5, 6);      /* PUBREC 6 */
	ack_pkt(&down, 4, 99);     /* PUBACK nobody waits for */
	publish_pkt(&down, &from_broker);
	st_ch_feed(h, ST_DIR_TO_CLIENT, down.p, down.len, 2500);
	ack_pkt(&down2, 4, 40);    /* the client acknowledges the broker's */
	st_ch_feed(h, ST_DIR_TO_SERVER, down2.p, down2.len, 2600);

	CU_ASSERT_EQUAL(st_ch_record_count(h), 3);
	if (st_ch_record_count(h) == 3) {
		CU_ASSERT(rec_is(st_ch_record(h, 2), ST_REC_EGRESS, "t/sub", 1, 40, "c", 1));
		CU_ASSERT_EQUAL(st_ch_record(h, 2)->count, 1);
	}
	CU_ASSERT_EQUAL(st_ch_stats(h)->records, 2);
	CU_ASSERT_EQUAL(st_ch_stats(h)->egress_records, 1);
	CU_ASSERT_EQUAL(st_ch_latency_count(h), 3);
	if (st_ch_latency_count(h) == 3) {
		CU_ASSERT_EQUAL(st_ch_latency(h, 0)->correlation_id, 5);
		CU_ASSERT_EQUAL(st_ch_latency(h, 0)->request_ns, 1000);
		CU_ASSERT_EQUAL(st_ch_latency(h, 0)->response_ns, 2500);
		CU_ASSERT_EQUAL(st_ch_latency(h, 0)->api_version, 4);
		CU_ASSERT_EQUAL(st_ch_latency(h, 1)->correlation_id, 6);
		CU_ASSERT_EQUAL(st_ch_latency(h, 2)->correlation_id, 40);
		CU_ASSERT_EQUAL(st_ch_latency(h, 2)->request_ns, 2500);
		CU_ASSERT_EQUAL(st_ch_latency(h, 2)->response_ns, 2600);
	}
	CU_ASSERT_EQUAL(st_ch_stats(h)->latency_unmatched, 1);
	CU_ASSERT_EQUAL(st_ch_stats(h)->units[ST_DIR_TO_CLIENT], 5);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	free(up.p);
	free(down.p);
	free(down2.p);
	st_ch_destroy(h);
}

/* More outstanding PUBLISHes than the pending table: the oldest pushed out. */
static void test_pending_table_overflow(void)
{
	struct st_ch *h = h_new();
	struct buf up = { 0 }, down = { 0 };
	size_t n_lat;

	for (uint16_t id = 1; id <= 40; id++) {
		struct pub p = { "q", 1, id, NULL, 0, false, "v", 1 };

		publish_pkt(&up, &p);
	}
	st_ch_feed(h, ST_DIR_TO_SERVER, up.p, up.len, 10);
	for (uint16_t id = 1; id <= 40; id++)
		ack_pkt(&down, 4, id);
	st_ch_feed(h, ST_DIR_TO_CLIENT, down.p, down.len, 20);
	n_lat = st_ch_latency_count(h);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 40);
	/* 40 pending, room for fewer: each push-out and its later ack count */
	CU_ASSERT(n_lat >= 8 && n_lat < 40);
	CU_ASSERT_EQUAL(st_ch_stats(h)->latency_unmatched, 2 * (40 - n_lat));
	for (size_t i = 0; i < n_lat; i++)
		CU_ASSERT_EQUAL(st_ch_latency(h, i)->correlation_id, 40 - (int)n_lat + 1 + (int)i);
	free(up.p);
	free(down.p);
	st_ch_destroy(h);
}

static void json_pubs(struct buf *b, unsigned first, unsigned n, size_t *starts)
{
	for (unsigned i = 0; i < n; i++) {
		char topic[32], payload[64];
		struct pub p = { topic, 1, (uint16_t)(first + i), NULL, 0, false,
				 payload, 0 };

		snprintf(topic, sizeof(topic), "plant/line%u/speed", first + i);
		p.payload_len = (size_t)snprintf(payload, sizeof(payload),
						 "{\"id\":%u,\"rpm\":%u}", first + i,
						 1000 + 7 * (first + i));
		if (starts)
			starts[i] = b->len;
		publish_pkt(b, &p);
	}
}

static void test_gap_then_resync(void)
{
	size_t starts[40];
	struct buf b = { 0 };

	json_pubs(&b, 1, 40, starts);
	/* lose bytes from the middle of packet 10 to the middle of packet 12 */
	for (size_t lost_from = starts[9] + 3; lost_from < starts[10]; lost_from += 5) {
		struct st_ch *h = h_new();
		size_t resume = starts[11] + 7;
		size_t found_after = 0;

		st_ch_feed_chunks(h, ST_DIR_TO_SERVER, b.p, lost_from, 100, 1);
		st_ch_gap(h, ST_DIR_TO_SERVER);
		st_ch_feed_chunks(h, ST_DIR_TO_SERVER, b.p + resume, b.len - resume, 100, 1);
		CU_ASSERT_EQUAL(st_ch_stats(h)->resyncs, 1);
		CU_ASSERT(st_ch_stats(h)->skipped_bytes >= starts[12] - resume);
		CU_ASSERT(st_ch_record_count(h) >= 9 + 28);
		/* the first nine before the gap, then every packet from 13 on */
		for (size_t i = 0; i < st_ch_record_count(h); i++) {
			char topic[32];
			unsigned id = st_ch_record(h, i)->packet_id;

			snprintf(topic, sizeof(topic), "plant/line%u/speed", id);
			CU_ASSERT(id >= 1 && id <= 40 && (id < 10 || id >= 13));
			CU_ASSERT(strcmp(st_ch_record(h, i)->stream, topic) == 0);
			if (id >= 13)
				found_after++;
		}
		CU_ASSERT_EQUAL(found_after, 28);
		CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
		st_ch_destroy(h);
	}
	free(b.p);
}

/* Malformed packet, then valid ones: one error, one resync, the rest found. */
static void malformed_then_valid(const uint8_t *bad, size_t bad_len,
				 const char *error_name)
{
	struct st_ch *h = h_new();
	struct buf b = { 0 };

	connect_pkt(&b, 4);  /* a known level: 3.1.1 acknowledgements are 2 bytes */
	json_pubs(&b, 1, 2, NULL);
	put(&b, bad, bad_len);
	json_pubs(&b, 3, 3, NULL);
	st_ch_feed_chunks(h, ST_DIR_TO_SERVER, b.p, b.len, 7, 1);
	CU_ASSERT_EQUAL(st_ch_error_count(h, error_name), 1);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 1);
	CU_ASSERT_EQUAL(st_ch_stats(h)->resyncs, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 5);
	for (size_t i = 0; i < st_ch_record_count(h); i++)
		CU_ASSERT_EQUAL(st_ch_record(h, i)->packet_id, i + 1);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	free(b.p);
	st_ch_destroy(h);
}

static void test_malformed_remaining_length(void)
{
	static const uint8_t bad[] = { 0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 1, 'z' };

	malformed_then_valid(bad, sizeof(bad), "bad_remaining_length");
}

static void test_qos3(void)
{
	static const uint8_t bad[] = { 0x36, 0x05, 0x00, 0x01, 'z', 0x00, 0x01 };

	malformed_then_valid(bad, sizeof(bad), "qos_3");
}

static void test_topic_past_end(void)
{
	static const uint8_t bad[] = { 0x30, 0x04, 0x00, 0x09, 'a', 'b' };

	malformed_then_valid(bad, sizeof(bad), "topic_past_end");
}

static void test_bad_flags(void)
{
	static const uint8_t bad[] = { 0x41, 0x02, 0x00, 0x01 };  /* PUBACK, flags 1 */

	malformed_then_valid(bad, sizeof(bad), "bad_fixed_header_flags");
}

/* Capture started after CONNECT: the documented level inference. */
static void test_level_without_connect(void)
{
	static const uint8_t ct[] = { 0x03, 0x00, 0x04, 'j', 's', 'o', 'n' };
	struct pub v3 = { "a", 0, 0, NULL, 0, false, "{\"k\":1}", 7 };
	struct pub v5 = { "b", 1, 3, ct, sizeof(ct), true, "{\"k\":2}", 7 };
	struct pub v5_empty = { "c", 0, 0, NULL, 0, true, "{\"k\":3}", 7 };
	/* a 3.1.1 payload that also reads as a property block: 01 01 = PFI */
	struct pub v3_tricky = { "d", 0, 0, NULL, 0, false, "\x02\x01\x01zz", 5 };
	struct st_ch *h = h_new();
	struct buf b = { 0 }, ack = { 0 };

	/* no evidence yet: each PUBLISH by its own plausibility */
	publish_pkt(&b, &v3);
	publish_pkt(&b, &v5);
	st_ch_feed(h, ST_DIR_TO_SERVER, b.p, b.len, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
	if (st_ch_record_count(h) == 2) {
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "a", 0, 0, "{\"k\":1}", 7));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_RECORD, "b", 1, 3, "{\"k\":2}", 7));
	}
	st_ch_destroy(h);

	/* a 5.0 CONNACK (Remaining Length 3) settles it: empty properties */
	h = h_new();
	put(&ack, "\x20\x03\x00\x00\x00", 5);
	st_ch_feed(h, ST_DIR_TO_CLIENT, ack.p, ack.len, 1);
	b.len = 0;
	publish_pkt(&b, &v5_empty);
	st_ch_feed(h, ST_DIR_TO_SERVER, b.p, b.len, 2);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 1);
	if (st_ch_record_count(h) == 1)
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "c", 0, 0, "{\"k\":3}", 7));
	st_ch_destroy(h);

	/* a 3.1.1 CONNACK (Remaining Length 2): no properties, whatever it looks like */
	h = h_new();
	ack.len = 0;
	put(&ack, "\x20\x02\x00\x00", 4);
	st_ch_feed(h, ST_DIR_TO_CLIENT, ack.p, ack.len, 1);
	b.len = 0;
	publish_pkt(&b, &v3_tricky);
	st_ch_feed(h, ST_DIR_TO_SERVER, b.p, b.len, 2);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 1);
	if (st_ch_record_count(h) == 1)
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "d", 0, 0, "\x02\x01\x01zz", 5));
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	st_ch_destroy(h);
	free(b.p);
	free(ack.p);
}

/* ---- reference captures ---- */

struct expect {
	char topic[ST_CH_STREAM_MAX];
	int qos;
	int id;      /* -1: the oracle does not say */
	int kind;    /* -1: the oracle does not say */
};

/* Runs the codec over every TCP flow of a capture. */
static struct st_ch_run *run_capture(const char *path, uint16_t port)
{
	struct st_ch_run *run = st_ch_run_capture(C, &mqtt_rules, path, port, true);

	CU_ASSERT_FATAL(st_ch_run_flows(run) <= 64);
	CU_ASSERT_EQUAL(st_ch_run_bad_events(run), 0);
	return run;
}

/* DeepFlow's MqttInfo lines: `pkt_type: Publish { dup: .., qos: Q, ..}` and
 * `publish_topic: Some("T")`. */
static size_t deepflow_publishes(const char *path, struct expect *e, size_t max)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	size_t n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f) && n < max) {
		char *pub = strstr(line, "pkt_type: Publish {");
		char *t = strstr(line, "publish_topic: Some(\"");
		char *end;

		if (!pub)
			continue;
		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		t += strlen("publish_topic: Some(\"");
		end = strchr(t, '"');
		CU_ASSERT_PTR_NOT_NULL_FATAL(end);
		memset(&e[n], 0, sizeof(e[n]));
		memcpy(e[n].topic, t, (size_t)(end - t));
		e[n].qos = strstr(pub, "qos: AtMostOnce") ? 0 :
			   strstr(pub, "qos: AtLeastOnce") ? 1 :
			   strstr(pub, "qos: ExactlyOnce") ? 2 : -1;
		CU_ASSERT(e[n].qos >= 0);
		e[n].id = -1;
		e[n].kind = -1;
		n++;
	}
	fclose(f);
	return n;
}

struct expect_list {
	struct expect *e;
	size_t n, max;
};

/* One frame of tshark's MQTT fields: its PUBLISH messages. */
static void tshark_publish_row(char **col, size_t nc, void *ctx)
{
	struct expect_list *l = ctx;
	char *types[64], *topics[64], *ids[64], *qos[64];
	size_t nt, ntop, nid, nq, next_id = 0, pubs = 0;

	CU_ASSERT_FATAL(nc == 5);
	nt = st_ch_split(col[1], '|', types, 64);
	ntop = st_ch_split(col[2], '|', topics, 64);
	nid = st_ch_split(col[3], '|', ids, 64);
	nq = st_ch_split(col[4], '|', qos, 64);
	for (size_t i = 0; i < nt; i++)
		pubs += strcmp(types[i], "3") == 0;
	if (pubs == 0)
		return;
	/* mixed frames would make the columns ambiguous: none here */
	CU_ASSERT_FATAL(pubs == nt && ntop == nt && nq == nt);
	for (size_t i = 0; i < nt && l->n < l->max; i++, l->n++) {
		struct expect *e = &l->e[l->n];

		memset(e, 0, sizeof(*e));
		snprintf(e->topic, sizeof(e->topic), "%s", topics[i]);
		e->qos = atoi(qos[i]);
		e->id = 0;
		if (e->qos > 0) {
			CU_ASSERT_FATAL(next_id < nid);
			e->id = atoi(ids[next_id++]);
		}
		e->kind = atoi(col[0]) == 1883 ? ST_REC_RECORD : ST_REC_EGRESS;
	}
}

/* tshark's MQTT dissector: the PUBLISH messages of every frame. */
static size_t tshark_publishes(const char *path, struct expect *e, size_t max)
{
	struct expect_list l = { e, 0, max };

	st_ch_tshark_rows(path, "-Y mqtt -T fields -E aggregator='|' "
			  "-e tcp.dstport -e mqtt.msgtype -e mqtt.topic -e mqtt.msgid "
			  "-e mqtt.qos", 5, tshark_publish_row, &l);
	return l.n;
}

static void compare(const char *what, const struct st_ch_run *run,
		    const struct expect *e, size_t n_e)
{
	size_t n_got = st_ch_run_record_count(run);

	CU_ASSERT_EQUAL(n_got, n_e);
	if (n_got != n_e)
		fprintf(stderr, "%s: %zu PUBLISH found, oracle has %zu\n", what, n_got, n_e);
	for (size_t i = 0; i < n_got && i < n_e; i++) {
		const struct st_ch_record *got = st_ch_run_record(run, i);

		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		CU_ASSERT_STRING_EQUAL(got ? got->stream : "", e[i].topic);
		CU_ASSERT_EQUAL(got->qos, e[i].qos);
		if (e[i].id >= 0)
			CU_ASSERT_EQUAL(got->packet_id, (uint32_t)e[i].id);
		if (e[i].kind >= 0)
			CU_ASSERT_EQUAL(got->kind, e[i].kind);
	}
}

static void check_capture(const char *pcap, const char *result, void *ctx)
{
	static struct expect exp[256];
	struct st_ch_run *run = run_capture(pcap, 1883);
	size_t n_e;

	(void)ctx;
	CU_ASSERT_EQUAL(st_ch_run_errors_total(run), 0);
	n_e = tshark_publishes(pcap, exp, 256);
	compare(pcap, run, exp, n_e);
	if (!result)
		goto out_run;
	n_e = deepflow_publishes(result, exp, 256);
	if (st_ch_run_cap(run)->n == 0) {
		/* DeepFlow read a capture without port 1883 as MQTT
		 * (mqtt_error: one DNS segment on port 53, no PUBLISH
		 * in its .result): feed us those bytes as well */
		st_ch_run_destroy(run);
		run = run_capture(pcap, 0);
		CU_ASSERT(st_ch_run_cap(run)->n > 0);
	}
	compare(pcap, run, exp, n_e);
out_run:
	st_ch_run_destroy(run);
}

static void test_captures_against_deepflow_and_tshark(void)
{
	unsigned with_result, pcaps;

	pcaps = st_ch_for_each_capture(st_test_data_path("pcaps/mqtt"), check_capture,
				       NULL, &with_result);
	CU_ASSERT_EQUAL(pcaps, 6);
	CU_ASSERT_EQUAL(with_result, 4);
}

ST_TEST_MAIN("dataplane/codec/mqtt",
	ST_TEST(test_v311_qos_levels),
	ST_TEST(test_v5_properties),
	ST_TEST(test_remaining_length_boundaries),
	ST_TEST(test_remaining_length_max),
	ST_TEST(test_split_at_every_offset),
	ST_TEST(test_egress_and_latency),
	ST_TEST(test_pending_table_overflow),
	ST_TEST(test_gap_then_resync),
	ST_TEST(test_malformed_remaining_length),
	ST_TEST(test_qos3),
	ST_TEST(test_topic_past_end),
	ST_TEST(test_bad_flags),
	ST_TEST(test_level_without_connect),
	ST_TEST(test_captures_against_deepflow_and_tshark))
