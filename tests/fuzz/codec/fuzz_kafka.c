/*
 * libFuzzer target for the Kafka codec (dataplane/codec/kafka.c).
 *
 * Input: a script of operations, each
 *	op (1 byte: bit 0 direction, 1 = to client; bit 1 gap before it)
 *	length (2 bytes, big-endian; clipped to what is left)
 *	that many bytes, fed as the next chunk of that direction.
 * The target plays the reassembler's part of the carry contract (codec.h):
 * it re-offers each direction's unconsumed bytes followed by the next
 * chunk, and a gap drops them.  It aborts when the codec breaks the
 * contract: consumed > offered, nothing consumed from more than
 * ST_CODEC_HOLD_MAX bytes, more than ST_CODEC_HOLD_MAX left; an event
 * pointer outside the offered bytes (stream: outside the codec state); a
 * length inconsistent with its flags; an event kind on the wrong
 * direction; counters that disagree with the events.  A second flow state
 * gets the same bytes with the fast record path off
 * (tests/dataplane/codec/kafka_hooked.h): the two must consume the same
 * bytes, give the same events and count the same.
 *
 * Seeds: tests/fuzz/codec/fuzz_kafka_seeds.c (fuzz-seeds-kafka).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/codec.h"
#include "tests/dataplane/codec/kafka_hooked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The events of one feed, in order. */
struct events {
	struct st_record *rec;
	struct st_latency *lat;
	size_t n_rec, cap_rec, n_lat, cap_lat;
};

struct fz {
	_Alignas(8) uint8_t state[ST_CODEC_STATE_MAX];
	const uint8_t *buf;
	size_t buf_len;
	enum st_dir dir;
	uint64_t records, opaque, egress, truncated, latencies;
	struct events ev;
};

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "kafka fuzz: %s (line %d)\n", #cond,  \
				__LINE__);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

static bool inside(const struct fz *z, const uint8_t *p, uint32_t n)
{
	return p >= z->buf && p <= z->buf + z->buf_len &&
	       n <= (size_t)(z->buf + z->buf_len - p);
}

static void on_record(void *ctx, const struct st_record *r)
{
	struct fz *z = ctx;

	CHECK(r->proto == ST_PROTO_KAFKA);
	CHECK(r->kind <= ST_REC_EGRESS);
	CHECK((r->kind == ST_REC_EGRESS) == (z->dir == ST_DIR_TO_CLIENT));
	CHECK(r->kind != ST_REC_RECORD || r->count == 1);
	if (r->stream) {
		CHECK((const uint8_t *)r->stream >= z->state);
		CHECK((const uint8_t *)r->stream + r->stream_len <=
		      z->state + st_codec_kafka.state_bytes);
		CHECK(r->stream_len <= 249);
	} else {
		CHECK(r->stream_len == 0);
	}
	if (r->key)
		CHECK(inside(z, r->key, r->key_len));
	else
		CHECK(r->key_len == 0);
	CHECK(!(r->flags & ST_REC_F_HAS_KEY) || r->key);
	if (r->value)
		CHECK(inside(z, r->value, r->value_len));
	else
		CHECK(r->value_len == 0 && r->value_bytes == 0);
	CHECK(r->value_len <= r->value_bytes);
	CHECK(!!(r->flags & ST_REC_F_VALUE_TRUNCATED) == (r->value_len < r->value_bytes));
	if (r->headers)
		CHECK(inside(z, r->headers, r->headers_len) && r->header_count > 0);
	else
		CHECK(r->headers_len == 0 && r->header_count == 0);
	switch (r->kind) {
	case ST_REC_RECORD:
		z->records++;
		break;
	case ST_REC_OPAQUE:
		z->opaque += r->count;
		break;
	default:
		z->egress += r->count;
		break;
	}
	z->truncated += !!(r->flags & ST_REC_F_VALUE_TRUNCATED);
	if (z->ev.n_rec == z->ev.cap_rec) {
		z->ev.cap_rec = z->ev.cap_rec ? 2 * z->ev.cap_rec : 64;
		z->ev.rec = realloc(z->ev.rec, z->ev.cap_rec * sizeof(*z->ev.rec));
		CHECK(z->ev.rec != NULL);
	}
	z->ev.rec[z->ev.n_rec++] = *r;
}

static void on_latency(void *ctx, const struct st_latency *l)
{
	struct fz *z = ctx;

	CHECK(z->dir == ST_DIR_TO_CLIENT);
	CHECK(l->proto == ST_PROTO_KAFKA && l->api_key >= 0);
	z->latencies++;
	if (z->ev.n_lat == z->ev.cap_lat) {
		z->ev.cap_lat = z->ev.cap_lat ? 2 * z->ev.cap_lat : 16;
		z->ev.lat = realloc(z->ev.lat, z->ev.cap_lat * sizeof(*z->ev.lat));
		CHECK(z->ev.lat != NULL);
	}
	z->ev.lat[z->ev.n_lat++] = *l;
}

/* The fast path's events of one feed against the cursor path's: key,
 * value and headers point into the same bytes, the topic into each flow's
 * own state. */
static void check_same_events(const struct events *a, const struct events *b)
{
	CHECK(a->n_rec == b->n_rec && a->n_lat == b->n_lat);
	for (size_t i = 0; i < a->n_rec; i++) {
		const struct st_record *x = &a->rec[i], *y = &b->rec[i];

		CHECK(x->kind == y->kind && x->proto == y->proto && x->flags == y->flags &&
		      x->qos == y->qos && x->partition == y->partition &&
		      x->count == y->count && x->packet_id == y->packet_id);
		CHECK(!x->stream == !y->stream && x->stream_len == y->stream_len &&
		      (!x->stream || memcmp(x->stream, y->stream, x->stream_len) == 0));
		CHECK(x->key == y->key && x->key_len == y->key_len);
		CHECK(x->value == y->value && x->value_len == y->value_len &&
		      x->value_bytes == y->value_bytes);
		CHECK(x->headers == y->headers && x->headers_len == y->headers_len &&
		      x->header_count == y->header_count);
		CHECK(x->timestamp_ms == y->timestamp_ms && x->ts_ns == y->ts_ns);
	}
	for (size_t i = 0; i < a->n_lat; i++) {
		const struct st_latency *x = &a->lat[i], *y = &b->lat[i];

		CHECK(x->proto == y->proto && x->api_key == y->api_key &&
		      x->api_version == y->api_version &&
		      x->correlation_id == y->correlation_id &&
		      x->request_ns == y->request_ns && x->response_ns == y->response_ns);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz z, zc;         /* fast path on; cursor path only */
	static uint8_t carry[2][ST_CODEC_HOLD_MAX];
	size_t carry_n[2] = { 0, 0 };
	struct st_codec_stats stats, stats_c;
	struct st_codec_sink sink = { on_record, on_latency, &z };
	struct st_codec_sink sink_c = { on_record, on_latency, &zc };
	const struct st_codec *k = &st_codec_kafka_hooked;
	size_t at = 0;

	CHECK(k->state_bytes <= ST_CODEC_STATE_MAX);
	free(z.ev.rec);
	free(z.ev.lat);
	free(zc.ev.rec);
	free(zc.ev.lat);
	memset(&z, 0, sizeof(z));
	memset(&zc, 0, sizeof(zc));
	memset(&stats, 0, sizeof(stats));
	memset(&stats_c, 0, sizeof(stats_c));
	k->init(z.state);
	k->init(zc.state);
	while (at + 3 <= size) {
		uint8_t op = data[at];
		size_t n = (size_t)data[at + 1] << 8 | data[at + 2];
		enum st_dir dir = (op & 1) ? ST_DIR_TO_CLIENT : ST_DIR_TO_SERVER;
		uint8_t *buf;
		size_t len, used, used_c;

		at += 3;
		if (n > size - at)
			n = size - at;
		if (op & 2) {
			carry_n[dir] = 0;
			k->gap(z.state, dir, &stats);
			k->gap(zc.state, dir, &stats_c);
		}
		len = carry_n[dir] + n;
		buf = malloc(len ? len : 1);
		CHECK(buf != NULL);
		memcpy(buf, carry[dir], carry_n[dir]);
		if (n)
			memcpy(buf + carry_n[dir], data + at, n);
		at += n;
		z.buf = zc.buf = buf;
		z.buf_len = zc.buf_len = len;
		z.dir = zc.dir = dir;
		z.ev.n_rec = z.ev.n_lat = zc.ev.n_rec = zc.ev.n_lat = 0;
		st_kafka_fast_off = false;
		used = k->feed(z.state, dir, buf, len, at, &sink, &stats);
		st_kafka_fast_off = true;
		used_c = k->feed(zc.state, dir, buf, len, at, &sink_c, &stats_c);
		st_kafka_fast_off = false;
		CHECK(used == used_c);
		check_same_events(&z.ev, &zc.ev);
		CHECK(used <= len);
		CHECK(len <= ST_CODEC_HOLD_MAX || used > 0);
		CHECK(len - used <= ST_CODEC_HOLD_MAX);
		carry_n[dir] = len - used;
		memcpy(carry[dir], buf + used, carry_n[dir]);
		free(buf);
	}
	CHECK(stats.records == z.records);
	CHECK(stats.opaque_records == z.opaque);
	CHECK(stats.egress_records == z.egress);
	CHECK(stats.truncated_values == z.truncated);
	for (unsigned i = k->n_errors; i < ST_CODEC_ERRORS_MAX; i++)
		CHECK(stats.errors[i] == 0);
	CHECK(memcmp(&stats, &stats_c, sizeof(stats)) == 0);
	return 0;
}
