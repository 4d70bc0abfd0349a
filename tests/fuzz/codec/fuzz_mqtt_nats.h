/*
 * The driver the MQTT and NATS fuzz targets share: it plays the caller of
 * a codec (the TCP reassembler) under fuzzer control and abort()s on any
 * broken promise of codec.h.
 *
 * Input: a sequence of operations, each starting with one byte `op`:
 *	op & 0x80            gap() on direction op & 1
 *	(op >> 1 & 3) == 0   a chunk of next byte + 1 literal bytes
 *	(op >> 1 & 3) == 1   a chunk of (2 bytes, little-endian) literal bytes
 *	(op >> 1 & 3) == 2   filler: byte f, then a byte c: (c + 1) * 512
 *	                     copies of f, fed in 1460-byte chunks (reaches
 *	                     payloads past ST_CODEC_HOLD_MAX with small inputs;
 *	                     at most FUZZ_FILLER_MAX bytes per input)
 *	(op >> 1 & 3) == 3   next byte + 1 literal bytes, fed one at a time
 * each on direction op & 1.  A chunk is offered after the bytes the codec
 * left unconsumed (the carry), in a fresh allocation of exactly that size.
 *
 * Checked: consumed <= offered; unconsumed <= ST_CODEC_HOLD_MAX; progress
 * whenever more than that is offered; every pointer of every event inside
 * the offered bytes; value_len <= value_bytes and the truncation flag
 * agrees; kinds, counts and protocol as documented; no error counted past
 * n_errors; state_bytes <= ST_CODEC_STATE_MAX.
 */
#ifndef FUZZ_MQTT_NATS_H
#define FUZZ_MQTT_NATS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/codec.h"

struct fuzz_ctx {
	const struct st_codec *codec;
	void *state;
	struct st_codec_stats stats;
	uint8_t *carry[2];
	size_t carry_len[2];
	const uint8_t *buf;
	size_t buf_len;
};

#define FUZZ_FILLER_MAX (256u * 1024)

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

static int fuzz_inside(const struct fuzz_ctx *f, const uint8_t *p, size_t len)
{
	return p >= f->buf && len <= f->buf_len &&
	       (size_t)(p - f->buf) <= f->buf_len - len;
}

static void fuzz_on_record(void *ctx, const struct st_record *r)
{
	const struct fuzz_ctx *f = ctx;

	FUZZ_CHECK(r->proto == f->codec->proto);
	FUZZ_CHECK(r->kind == ST_REC_RECORD || r->kind == ST_REC_EGRESS);
	FUZZ_CHECK(r->count == 1);
	FUZZ_CHECK(r->partition == -1);
	FUZZ_CHECK(r->qos <= 2);
	FUZZ_CHECK(r->stream != NULL && r->stream_len > 0);
	FUZZ_CHECK(fuzz_inside(f, r->stream, r->stream_len));
	FUZZ_CHECK(r->value != NULL && fuzz_inside(f, r->value, r->value_len));
	FUZZ_CHECK(r->value_len <= r->value_bytes);
	FUZZ_CHECK(!!(r->flags & ST_REC_F_VALUE_TRUNCATED) ==
		   (r->value_len < r->value_bytes));
	FUZZ_CHECK(!(r->flags & ST_REC_F_HAS_KEY));
	if (r->headers)
		FUZZ_CHECK(fuzz_inside(f, r->headers, r->headers_len) &&
			   r->header_count <= r->headers_len);
	else
		FUZZ_CHECK(r->headers_len == 0 && r->header_count == 0);
}

static void fuzz_on_latency(void *ctx, const struct st_latency *l)
{
	const struct fuzz_ctx *f = ctx;

	FUZZ_CHECK(l->proto == f->codec->proto && l->api_key == -1);
	FUZZ_CHECK(l->request_ns <= l->response_ns);
}

static void fuzz_feed(struct fuzz_ctx *f, unsigned dir, const uint8_t *data,
		      size_t len, uint64_t ts_ns)
{
	struct st_codec_sink sink = { fuzz_on_record, fuzz_on_latency, f };
	size_t n = f->carry_len[dir] + len, used;
	uint8_t *buf = malloc(n ? n : 1);

	FUZZ_CHECK(buf != NULL);
	if (f->carry_len[dir])
		memcpy(buf, f->carry[dir], f->carry_len[dir]);
	memcpy(buf + f->carry_len[dir], data, len);
	f->buf = buf;
	f->buf_len = n;
	used = f->codec->feed(f->state, (enum st_dir)dir, buf, n, ts_ns, &sink,
			      &f->stats);
	FUZZ_CHECK(used <= n);
	FUZZ_CHECK(n - used <= ST_CODEC_HOLD_MAX);
	if (n > ST_CODEC_HOLD_MAX)
		FUZZ_CHECK(used > 0);
	memmove(f->carry[dir], buf + used, n - used);
	f->carry_len[dir] = n - used;
	free(buf);
}

static int fuzz_codec_run(const struct st_codec *codec, const uint8_t *in,
			  size_t size)
{
	static uint8_t filler[1460];
	struct fuzz_ctx f;
	uint64_t ts = 1;
	size_t i = 0, filler_bytes = 0;

	memset(&f, 0, sizeof(f));
	f.codec = codec;
	FUZZ_CHECK(codec->state_bytes <= ST_CODEC_STATE_MAX);
	f.state = aligned_alloc(8, (codec->state_bytes + 7) & ~(size_t)7);
	f.carry[0] = malloc(ST_CODEC_HOLD_MAX);
	f.carry[1] = malloc(ST_CODEC_HOLD_MAX);
	FUZZ_CHECK(f.state && f.carry[0] && f.carry[1]);
	memset(f.state, 0xa5, codec->state_bytes);
	codec->init(f.state);

	while (i < size) {
		uint8_t op = in[i++];
		unsigned dir = op & 1;
		size_t n;

		ts += 1000;
		if (op & 0x80) {
			f.carry_len[dir] = 0;
			codec->gap(f.state, (enum st_dir)dir, &f.stats);
			continue;
		}
		switch (op >> 1 & 3) {
		case 0:
		case 3:
			if (i >= size)
				goto out;
			n = (size_t)in[i++] + 1;
			break;
		case 1:
			if (size - i < 2)
				goto out;
			n = (size_t)in[i] | (size_t)in[i + 1] << 8;
			i += 2;
			break;
		default:
			if (size - i < 2)
				goto out;
			memset(filler, in[i], sizeof(filler));
			n = ((size_t)in[i + 1] + 1) * 512;
			i += 2;
			if (filler_bytes + n > FUZZ_FILLER_MAX)
				continue;
			filler_bytes += n;
			while (n) {
				size_t k = n < sizeof(filler) ? n : sizeof(filler);

				fuzz_feed(&f, dir, filler, k, ts);
				n -= k;
			}
			continue;
		}
		if (n > size - i)
			n = size - i;
		if ((op >> 1 & 3) == 3) {
			for (size_t k = 0; k < n; k++)
				fuzz_feed(&f, dir, in + i + k, 1, ts);
		} else {
			fuzz_feed(&f, dir, in + i, n, ts);
		}
		i += n;
	}
out:
	for (unsigned e = codec->n_errors; e < ST_CODEC_ERRORS_MAX; e++)
		FUZZ_CHECK(f.stats.errors[e] == 0);
	FUZZ_CHECK(f.stats.records + f.stats.egress_records >=
		   f.stats.truncated_values);
	free(f.carry[0]);
	free(f.carry[1]);
	free(f.state);
	return 0;
}

#endif
