/*
 * Test-only Kafka wire builder: writes requests, responses, record batches
 * and legacy messages byte by byte from the protocol guide
 * (kafka.apache.org/protocol: "Protocol Primitive Types", "Headers", "The
 * Messages"; the "Record Batch" / "Record" / "Message Set" formats), so that
 * the codec tests and the fuzz seed writer get their inputs from something
 * other than the code under test.  Shared by tests/dataplane/codec and
 * tests/fuzz/codec; everything is static inline.
 */
#ifndef ST_TEST_KAFKA_WIRE_H
#define ST_TEST_KAFKA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct kw_buf {
	uint8_t *p;
	size_t n, cap;
};

static inline void kw_put(struct kw_buf *b, const void *src, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, src, n);
	b->n += n;
}

static inline void kw_free(struct kw_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static inline void kw_be(struct kw_buf *b, uint64_t v, unsigned bytes)
{
	uint8_t tmp[8];

	for (unsigned i = 0; i < bytes; i++)
		tmp[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	kw_put(b, tmp, bytes);
}

static inline void kw_u8(struct kw_buf *b, uint8_t v) { kw_be(b, v, 1); }
static inline void kw_be16(struct kw_buf *b, int16_t v) { kw_be(b, (uint16_t)v, 2); }
static inline void kw_be32(struct kw_buf *b, int32_t v) { kw_be(b, (uint32_t)v, 4); }
static inline void kw_be64(struct kw_buf *b, int64_t v) { kw_be(b, (uint64_t)v, 8); }

static inline void kw_patch32(struct kw_buf *b, size_t at, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		b->p[at + i] = (uint8_t)(v >> (24 - 8 * i));
}

/* Unsigned varint (LEB128 groups of 7 bits, low first). */
static inline void kw_uvarint(struct kw_buf *b, uint64_t v)
{
	while (v >= 0x80) {
		kw_u8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	kw_u8(b, (uint8_t)v);
}

/* Signed varint/varlong: zigzag, then unsigned varint. */
static inline void kw_varint(struct kw_buf *b, int64_t v)
{
	kw_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* STRING / NULLABLE_STRING (int16 length) or COMPACT_* (uvarint len+1). */
static inline void kw_string(struct kw_buf *b, bool compact, const void *s, int len)
{
	if (compact)
		kw_uvarint(b, (uint64_t)(len + 1));
	else
		kw_be16(b, (int16_t)len);
	if (len > 0)
		kw_put(b, s, (size_t)len);
}

/* BYTES / RECORDS (int32 length) or compact (uvarint len+1); len -1 null. */
static inline void kw_bytes(struct kw_buf *b, bool compact, const void *p, long len)
{
	if (compact)
		kw_uvarint(b, (uint64_t)(len + 1));
	else
		kw_be32(b, (int32_t)len);
	if (len > 0)
		kw_put(b, p, (size_t)len);
}

static inline void kw_array_len(struct kw_buf *b, bool compact, int n)
{
	if (compact)
		kw_uvarint(b, (uint64_t)(n + 1));
	else
		kw_be32(b, n);
}

/* Tagged fields (flexible versions only): `n` fields with 2-byte data. */
static inline void kw_tags(struct kw_buf *b, bool flexible, int n)
{
	if (!flexible)
		return;
	kw_uvarint(b, (uint64_t)n);
	for (int i = 0; i < n; i++) {
		kw_uvarint(b, (uint64_t)(i * 3));      /* tag */
		kw_uvarint(b, 2);                      /* size */
		kw_put(b, "TG", 2);
	}
}

/* Request header v1 (client id) or v2 (+ tagged fields); returns where the
 * size goes, for kw_frame_end(). */
static inline size_t kw_request_begin(struct kw_buf *b, int16_t key, int16_t version,
				      int32_t correlation_id, const char *client_id,
				      bool header_v2, int tags)
{
	size_t at = b->n;

	kw_be32(b, 0);
	kw_be16(b, key);
	kw_be16(b, version);
	kw_be32(b, correlation_id);
	kw_string(b, false, client_id, client_id ? (int)strlen(client_id) : -1);
	kw_tags(b, header_v2, tags);
	return at;
}

/* Response header v0 or v1 (+ tagged fields). */
static inline size_t kw_response_begin(struct kw_buf *b, int32_t correlation_id,
				       bool header_v1, int tags)
{
	size_t at = b->n;

	kw_be32(b, 0);
	kw_be32(b, correlation_id);
	kw_tags(b, header_v1, tags);
	return at;
}

static inline void kw_frame_end(struct kw_buf *b, size_t at)
{
	kw_patch32(b, at, (uint32_t)(b->n - at - 4));
}

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), bit by bit. */
static inline uint32_t kw_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

struct kw_record {
	const char *key;        /* NULL: null key */
	int key_len;
	const char *value;      /* NULL: null value */
	long value_len;
	int n_headers;
	const char *header_key[3];
	const char *header_value[3];   /* NULL: null header value */
	int64_t timestamp_delta;
};

/* One record of a RecordBatch (magic 2), all fields zigzag varints. */
static inline void kw_record(struct kw_buf *b, const struct kw_record *r, int offset_delta)
{
	struct kw_buf body = { 0 };

	kw_u8(&body, 0);                               /* attributes */
	kw_varint(&body, r->timestamp_delta);
	kw_varint(&body, offset_delta);
	kw_varint(&body, r->key ? r->key_len : -1);
	if (r->key)
		kw_put(&body, r->key, (size_t)r->key_len);
	kw_varint(&body, r->value ? r->value_len : -1);
	if (r->value)
		kw_put(&body, r->value, (size_t)r->value_len);
	kw_varint(&body, r->n_headers);
	for (int i = 0; i < r->n_headers; i++) {
		size_t kl = strlen(r->header_key[i]);

		kw_varint(&body, (int64_t)kl);
		kw_put(&body, r->header_key[i], kl);
		if (r->header_value[i]) {
			size_t vl = strlen(r->header_value[i]);

			kw_varint(&body, (int64_t)vl);
			kw_put(&body, r->header_value[i], vl);
		} else {
			kw_varint(&body, -1);
		}
	}
	kw_varint(b, (int64_t)body.n);
	kw_put(b, body.p, body.n);
	kw_free(&body);
}

/*
 * RecordBatch v2: baseOffset, batchLength, partitionLeaderEpoch, magic,
 * crc (CRC-32C of attributes..end), attributes, lastOffsetDelta,
 * baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence,
 * record count, then `payload` (the records, or compressed bytes).
 */
static inline void kw_batch_raw(struct kw_buf *b, int16_t attributes, int32_t count,
				int64_t base_timestamp, const uint8_t *payload, size_t payload_len)
{
	size_t start = b->n, crc_at, crc_from;

	kw_be64(b, 0);                                 /* baseOffset */
	kw_be32(b, 0);                                 /* batchLength, patched */
	kw_be32(b, 0);                                 /* partitionLeaderEpoch */
	kw_u8(b, 2);                                   /* magic */
	crc_at = b->n;
	kw_be32(b, 0);
	crc_from = b->n;
	kw_be16(b, attributes);
	kw_be32(b, count > 0 ? count - 1 : 0);         /* lastOffsetDelta */
	kw_be64(b, base_timestamp);
	kw_be64(b, base_timestamp);                    /* maxTimestamp */
	kw_be64(b, -1);                                /* producerId */
	kw_be16(b, -1);                                /* producerEpoch */
	kw_be32(b, -1);                                /* baseSequence */
	kw_be32(b, count);
	kw_put(b, payload, payload_len);
	kw_patch32(b, start + 8, (uint32_t)(b->n - start - 12));
	kw_patch32(b, crc_at, kw_crc32c(b->p + crc_from, b->n - crc_from));
}

static inline void kw_batch(struct kw_buf *b, const struct kw_record *r, int n,
			    int64_t base_timestamp)
{
	struct kw_buf records = { 0 };

	for (int i = 0; i < n; i++)
		kw_record(&records, &r[i], i);
	kw_batch_raw(b, 0, n, base_timestamp, records.p, records.n);
	kw_free(&records);
}

/* A Produce request of `version` (acks 1) with one topic and one
 * partition whose records field is `records`; `tags` tagged fields in the
 * header and in every flexible struct. */
static inline void kw_produce_one(struct kw_buf *b, int version, int32_t correlation_id,
				  const char *client_id, const char *topic,
				  int32_t partition, const struct kw_buf *records, int tags)
{
	bool flex = version >= 9;
	size_t at = kw_request_begin(b, 0, (int16_t)version, correlation_id, client_id,
				     flex, tags);

	if (version >= 3)
		kw_string(b, flex, NULL, -1);
	kw_be16(b, 1);
	kw_be32(b, 1000);
	kw_array_len(b, flex, 1);
	kw_string(b, flex, topic, (int)strlen(topic));
	kw_array_len(b, flex, 1);
	kw_be32(b, partition);
	kw_bytes(b, flex, records->p, (long)records->n);
	kw_tags(b, flex, tags);
	kw_tags(b, flex, tags);
	kw_tags(b, flex, tags);
	kw_frame_end(b, at);
}

/* Legacy message (magic 0 or 1): offset, message_size, crc, magic,
 * attributes, [timestamp], key, value (int32 lengths, -1 null). */
static inline void kw_message(struct kw_buf *b, int8_t magic, int8_t attributes,
			      int64_t timestamp, const struct kw_record *r)
{
	size_t start = b->n;

	kw_be64(b, 0);
	kw_be32(b, 0);                                 /* message_size, patched */
	kw_be32(b, 0);                                 /* crc (not checked) */
	kw_u8(b, (uint8_t)magic);
	kw_u8(b, (uint8_t)attributes);
	if (magic == 1)
		kw_be64(b, timestamp);
	kw_bytes(b, false, r->key, r->key ? r->key_len : -1);
	kw_bytes(b, false, r->value, r->value ? r->value_len : -1);
	kw_patch32(b, start + 8, (uint32_t)(b->n - start - 12));
}

#endif
