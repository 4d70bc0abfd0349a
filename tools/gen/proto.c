/*
 * Wire encodings of shadowtap-gen, each written from its specification.
 *
 * Kafka (protocol guide, kafka.apache.org/protocol; message schemas
 * ProduceRequest.json / ProduceResponse.json; RecordBatch in "Message
 * format", kafka.apache.org/documentation/#recordbatch):
 *	request  = int32 size, header, body
 *	header   = api_key int16, api_version int16, correlation_id int32,
 *	           client_id nullable int16 string (v1), + tagged fields (v2)
 *	Produce v3-v8 (header v1): transactional_id nullable string, acks int16,
 *	  timeout_ms int32, [topic string, [partition int32, records bytes]]
 *	Produce v9 (flexible, header v2): the same with compact strings, compact
 *	  arrays (uvarint N+1), compact bytes, a tagged-field section after each
 *	  struct.
 *	Response header v0 (correlation_id) up to v8, v1 (+ tagged fields) at v9:
 *	  [topic, [partition, error_code int16, base_offset int64,
 *	  log_append_time_ms int64 (v2+), log_start_offset int64 (v5+),
 *	  record_errors [] and error_message nullable string (v8+)]],
 *	  throttle_time_ms int32.
 *	RecordBatch v2: baseOffset int64, batchLength int32 (bytes after it),
 *	  partitionLeaderEpoch int32, magic int8 = 2, crc uint32 = CRC-32C
 *	  (Castagnoli) of attributes..end, attributes int16, lastOffsetDelta
 *	  int32, baseTimestamp int64, maxTimestamp int64, producerId int64,
 *	  producerEpoch int16, baseSequence int32, records int32 count, then
 *	  records: length varint, attributes int8, timestampDelta varlong,
 *	  offsetDelta varint, key (varint length), value (varint length),
 *	  headers varint count of (key, value) with varint lengths.  Varints
 *	  are zigzag (protobuf), the lengths of compact types unsigned.
 *	ApiVersions v0: empty request; response error_code, [key, min, max].
 *
 * MQTT 3.1.1 (OASIS, 2014) and 5.0 (OASIS, 2019): fixed header byte, then
 * the Remaining Length varint (§2.2.3 / §1.5.5); CONNECT §3.1 with protocol
 * name "MQTT", level 4 or 5, v5 properties (§3.1.2.11); CONNACK §3.2;
 * PUBLISH §3.3 (packet id only for QoS > 0, v5 properties §3.3.2.3);
 * PUBACK/PUBREC/PUBREL/PUBCOMP with remaining length 2 (v5 §3.4.2.1: the
 * reason code may be omitted when it is Success and there are no
 * properties); DISCONNECT §3.14.
 *
 * NATS client protocol (docs.nats.io, "Client Protocol"): INFO {json},
 * CONNECT {json}, PUB <subject> <#bytes>, HPUB <subject> <#header bytes>
 * <#total bytes> with a "NATS/1.0" header block ending in an empty line,
 * PING/PONG, +OK; every line ends in CRLF, every payload is followed by CRLF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gen/gen.h"

int st_gen_buf_reserve(struct st_gen_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	uint8_t *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void st_gen_buf_free(struct st_gen_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* CRC-32C, reflected polynomial 0x82F63B78 (RFC 3720 appendix B.4),
 * slicing by 8 over tables built on first use by the one thread. */
static uint32_t crc_table[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t st_gen_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (!crc_table[0][1])
		crc_init();
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][p[4]] ^ crc_table[2][p[5]] ^
		      crc_table[1][p[6]] ^ crc_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* MurmurHash2 (Austin Appleby), 32-bit, seed 0x9747b28c: the hash of the
 * Kafka Java client's default partitioner, (hash & 0x7fffffff) % partitions. */
int32_t st_gen_kafka_murmur2(const void *data, size_t len)
{
	const uint32_t m = 0x5bd1e995;
	const uint8_t *p = data;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;

	while (len >= 4) {
		uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

		k *= m;
		k ^= k >> 24;
		k *= m;
		h = h * m ^ k;
		p += 4;
		len -= 4;
	}
	switch (len) {
	case 3:
		h ^= (uint32_t)p[2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)p[1] << 8;
		/* fall through */
	case 1:
		h ^= p[0];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t)h;
}

size_t st_gen_put_uvarint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t st_gen_put_varint(uint8_t *p, int64_t v)
{
	return st_gen_put_uvarint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* Appenders on a buffer whose room the caller reserved. */

static void be16(struct st_gen_buf *b, uint16_t v)
{
	b->data[b->len++] = (uint8_t)(v >> 8);
	b->data[b->len++] = (uint8_t)v;
}

static void be32(struct st_gen_buf *b, uint32_t v)
{
	be16(b, (uint16_t)(v >> 16));
	be16(b, (uint16_t)v);
}

static void be64(struct st_gen_buf *b, uint64_t v)
{
	be32(b, (uint32_t)(v >> 32));
	be32(b, (uint32_t)v);
}

static void bytes(struct st_gen_buf *b, const void *p, size_t n)
{
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void uvarint(struct st_gen_buf *b, uint64_t v)
{
	b->len += st_gen_put_uvarint(b->data + b->len, v);
}

static void varint(struct st_gen_buf *b, int64_t v)
{
	b->len += st_gen_put_varint(b->data + b->len, v);
}

static void patch_be32(struct st_gen_buf *b, size_t at, uint32_t v)
{
	b->data[at] = (uint8_t)(v >> 24);
	b->data[at + 1] = (uint8_t)(v >> 16);
	b->data[at + 2] = (uint8_t)(v >> 8);
	b->data[at + 3] = (uint8_t)v;
}

/* A string in the flexible (compact, uvarint N+1) or classic (int16) form. */
static void kstring(struct st_gen_buf *b, bool compact, const char *s)
{
	size_t n = strlen(s);

	if (compact)
		uvarint(b, n + 1);
	else
		be16(b, (uint16_t)n);
	bytes(b, s, n);
}

static void karray(struct st_gen_buf *b, bool compact, uint32_t n)
{
	if (compact)
		uvarint(b, (uint64_t)n + 1);
	else
		be32(b, n);
}

static const char client_id[] = "shadowtap-gen";

static void kafka_request_header(struct st_gen_buf *b, int16_t api_key, int16_t version,
				 int32_t corr, bool flexible)
{
	be16(b, (uint16_t)api_key);
	be16(b, (uint16_t)version);
	be32(b, (uint32_t)corr);
	kstring(b, false, client_id);   /* client_id stays int16 even in header v2 */
	if (flexible)
		uvarint(b, 0);          /* no tagged fields */
}

int st_gen_kafka_api_versions_request(struct st_gen_buf *b, int32_t corr)
{
	size_t start = b->len;

	if (st_gen_buf_reserve(b, 64))
		return -ENOMEM;
	be32(b, 0);
	kafka_request_header(b, 18, 0, corr, false);
	patch_be32(b, start, (uint32_t)(b->len - start - 4));
	return 0;
}

int st_gen_kafka_api_versions_response(struct st_gen_buf *b, int32_t corr, unsigned produce_max)
{
	/* Produce up to the stream's version; Metadata and ApiVersions as a
	 * 2.x broker.  (api_key, min, max) */
	const int16_t keys[][3] = { { 0, 3, (int16_t)produce_max }, { 3, 0, 9 }, { 18, 0, 3 } };
	size_t start = b->len;

	if (st_gen_buf_reserve(b, 64))
		return -ENOMEM;
	be32(b, 0);
	be32(b, (uint32_t)corr);
	be16(b, 0);
	be32(b, 3);
	for (unsigned i = 0; i < 3; i++)
		for (unsigned j = 0; j < 3; j++)
			be16(b, (uint16_t)keys[i][j]);
	patch_be32(b, start, (uint32_t)(b->len - start - 4));
	return 0;
}

/* Room for one record at most: varint headers plus key, value, headers. */
static size_t record_room(const struct st_gen_pending *r)
{
	return 64 + r->key_len + r->value_len + 64;
}

static void kafka_record(struct st_gen_buf *b, const struct st_gen_batch *batch, unsigned i,
			 int64_t base_ms, bool headers, uint64_t record_no)
{
	const struct st_gen_pending *r = &batch->recs[i];
	uint8_t body[128];
	char seq[24];
	size_t n = 0, seq_len = 0;

	/* Everything before the value, to know the record's length up front. */
	body[n++] = 0;  /* attributes */
	n += st_gen_put_varint(body + n, r->created_ns / ST_GEN_NS_PER_MS - base_ms);
	n += st_gen_put_varint(body + n, i);
	n += st_gen_put_varint(body + n, r->key_len);
	memcpy(body + n, r->key, r->key_len);
	n += r->key_len;
	n += st_gen_put_varint(body + n, r->value_len);
	if (headers)
		seq_len = (size_t)snprintf(seq, sizeof(seq), "%llu", (unsigned long long)record_no);
	size_t tail = headers ? 1 + 1 + 6 + 1 + 13 + 1 + 3 + 1 + seq_len : 1;

	varint(b, (int64_t)(n + r->value_len + tail));
	bytes(b, body, n);
	bytes(b, batch->values.data + r->value_off, r->value_len);
	if (!headers) {
		varint(b, 0);
		return;
	}
	varint(b, 2);
	varint(b, 6);
	bytes(b, "source", 6);
	varint(b, 13);
	bytes(b, "shadowtap-gen", 13);
	varint(b, 3);
	bytes(b, "seq", 3);
	varint(b, (int64_t)seq_len);
	bytes(b, seq, seq_len);
}

static int kafka_record_batch(struct st_gen_buf *b, const struct st_gen_batch *batch, bool headers,
			      uint64_t *record_no)
{
	int64_t base_ms = batch->recs[0].created_ns / ST_GEN_NS_PER_MS, max_ms = base_ms;
	size_t room = 61, start, crc_from;

	for (unsigned i = 0; i < batch->n; i++)
		room += record_room(&batch->recs[i]);
	if (st_gen_buf_reserve(b, room))
		return -ENOMEM;
	for (unsigned i = 0; i < batch->n; i++)
		if (batch->recs[i].created_ns / ST_GEN_NS_PER_MS > max_ms)
			max_ms = batch->recs[i].created_ns / ST_GEN_NS_PER_MS;
	start = b->len;
	be64(b, 0);                       /* baseOffset: the broker assigns */
	be32(b, 0);                       /* batchLength, patched */
	be32(b, 0xffffffffu);             /* partitionLeaderEpoch -1 */
	b->data[b->len++] = 2;            /* magic */
	be32(b, 0);                       /* crc, patched */
	crc_from = b->len;
	be16(b, 0);                       /* attributes: no compression, CreateTime */
	be32(b, batch->n - 1);            /* lastOffsetDelta */
	be64(b, (uint64_t)base_ms);
	be64(b, (uint64_t)max_ms);
	be64(b, UINT64_MAX);              /* producerId -1: not idempotent */
	be16(b, 0xffff);                  /* producerEpoch -1 */
	be32(b, 0xffffffffu);             /* baseSequence -1 */
	be32(b, batch->n);
	for (unsigned i = 0; i < batch->n; i++)
		kafka_record(b, batch, i, base_ms, headers, (*record_no)++);
	patch_be32(b, start + 8, (uint32_t)(b->len - start - 12));
	patch_be32(b, crc_from - 4, st_gen_crc32c(0, b->data + crc_from, b->len - crc_from));
	return 0;
}

int st_gen_kafka_produce_request(struct st_gen_buf *b, unsigned version, int32_t corr,
				 int acks, const char *topic, const struct st_gen_kafka_part *parts,
				 unsigned n_parts, bool headers, uint64_t *record_no)
{
	bool flex = version >= 9;
	size_t start = b->len;

	if (st_gen_buf_reserve(b, 64 + strlen(topic)))
		return -ENOMEM;
	be32(b, 0);
	kafka_request_header(b, 0, (int16_t)version, corr, flex);
	if (flex)
		uvarint(b, 0);            /* transactional_id: null */
	else
		be16(b, 0xffff);
	be16(b, (uint16_t)acks);
	be32(b, 30000);                   /* timeout_ms */
	karray(b, flex, 1);
	kstring(b, flex, topic);
	karray(b, flex, n_parts);
	for (unsigned i = 0; i < n_parts; i++) {
		size_t len_at, batch_at;
		int rc;

		if (st_gen_buf_reserve(b, 16))
			return -ENOMEM;
		be32(b, parts[i].partition);
		/* Records length: 4 bytes, or a uvarint whose size depends on
		 * the length; build the batch first, then move it if needed. */
		len_at = b->len;
		b->len += flex ? 5 : 4;
		batch_at = b->len;
		rc = kafka_record_batch(b, parts[i].batch, headers, record_no);
		if (rc)
			return rc;
		size_t batch_len = b->len - batch_at;
		if (flex) {
			uint8_t tmp[10];
			size_t n = st_gen_put_uvarint(tmp, batch_len + 1);

			memmove(b->data + len_at + n, b->data + batch_at, batch_len);
			memcpy(b->data + len_at, tmp, n);
			b->len = len_at + n + batch_len;
			if (st_gen_buf_reserve(b, 1))
				return -ENOMEM;
			uvarint(b, 0);    /* partition tagged fields */
		} else {
			patch_be32(b, len_at, (uint32_t)batch_len);
		}
	}
	if (st_gen_buf_reserve(b, 4))
		return -ENOMEM;
	if (flex) {
		uvarint(b, 0);            /* topic tagged fields */
		uvarint(b, 0);            /* request tagged fields */
	}
	patch_be32(b, start, (uint32_t)(b->len - start - 4));
	return 0;
}

int st_gen_kafka_produce_response(struct st_gen_buf *b, unsigned version, int32_t corr,
				  const char *topic, const struct st_gen_kafka_part *parts,
				  unsigned n_parts)
{
	bool flex = version >= 9;
	size_t start = b->len;

	if (st_gen_buf_reserve(b, 64 + strlen(topic) + 40 * (size_t)n_parts))
		return -ENOMEM;
	be32(b, 0);
	be32(b, (uint32_t)corr);
	if (flex)
		uvarint(b, 0);
	karray(b, flex, 1);
	kstring(b, flex, topic);
	karray(b, flex, n_parts);
	for (unsigned i = 0; i < n_parts; i++) {
		be32(b, parts[i].partition);
		be16(b, 0);                                 /* error_code */
		be64(b, (uint64_t)parts[i].base_offset);
		be64(b, UINT64_MAX);                        /* log_append_time_ms -1 (v2+) */
		if (version >= 5)
			be64(b, 0);                         /* log_start_offset */
		if (version >= 8) {
			karray(b, flex, 0);                 /* record_errors */
			if (flex)
				uvarint(b, 0);              /* error_message null */
			else
				be16(b, 0xffff);
		}
		if (flex)
			uvarint(b, 0);
	}
	if (flex)
		uvarint(b, 0);                              /* topic tagged fields */
	be32(b, 0);                                         /* throttle_time_ms */
	if (flex)
		uvarint(b, 0);
	patch_be32(b, start, (uint32_t)(b->len - start - 4));
	return 0;
}

/* MQTT */

static void mqtt_remaining_length(struct st_gen_buf *b, size_t n)
{
	do {
		uint8_t d = n % 128;

		n /= 128;
		b->data[b->len++] = (uint8_t)(d | (n ? 0x80 : 0));
	} while (n);
}

static void mqtt_string(struct st_gen_buf *b, const char *s, size_t n)
{
	be16(b, (uint16_t)n);
	bytes(b, s, n);
}

int st_gen_mqtt_connect(struct st_gen_buf *b, unsigned level, const char *cid)
{
	size_t cid_len = strlen(cid);
	size_t props = level == 5 ? 1 + 8 : 0;    /* length byte + properties */

	if (st_gen_buf_reserve(b, 32 + cid_len))
		return -ENOMEM;
	b->data[b->len++] = 0x10;
	mqtt_remaining_length(b, 10 + props + 2 + cid_len);
	mqtt_string(b, "MQTT", 4);
	b->data[b->len++] = (uint8_t)level;
	b->data[b->len++] = 0x02;                 /* Clean Session / Clean Start */
	be16(b, 60);                              /* keep alive, s */
	if (level == 5) {
		b->data[b->len++] = 8;
		b->data[b->len++] = 0x11;         /* Session Expiry Interval */
		be32(b, 0);
		b->data[b->len++] = 0x21;         /* Receive Maximum */
		be16(b, 1024);
	}
	mqtt_string(b, cid, cid_len);
	return 0;
}

int st_gen_mqtt_connack(struct st_gen_buf *b, unsigned level)
{
	if (st_gen_buf_reserve(b, 8))
		return -ENOMEM;
	b->data[b->len++] = 0x20;
	b->data[b->len++] = level == 5 ? 3 : 2;
	b->data[b->len++] = 0;                    /* session present: no */
	b->data[b->len++] = 0;                    /* accepted / Success */
	if (level == 5)
		b->data[b->len++] = 0;            /* no properties */
	return 0;
}

static const char content_type[] = "application/json";

int st_gen_mqtt_publish(struct st_gen_buf *b, unsigned level, unsigned qos, uint16_t packet_id,
			const char *topic, const uint8_t *payload, size_t len)
{
	size_t topic_len = strlen(topic);
	/* v5: Payload Format Indicator (0x01) = 1 (UTF-8), Content Type (0x03). */
	size_t props = level == 5 ? 2 + 3 + sizeof(content_type) - 1 : 0;
	size_t rl = 2 + topic_len + (qos ? 2 : 0) + (level == 5 ? 1 + props : 0) + len;

	if (st_gen_buf_reserve(b, 5 + rl))
		return -ENOMEM;
	b->data[b->len++] = (uint8_t)(0x30 | qos << 1);
	mqtt_remaining_length(b, rl);
	mqtt_string(b, topic, topic_len);
	if (qos)
		be16(b, packet_id);
	if (level == 5) {
		b->data[b->len++] = (uint8_t)props;
		b->data[b->len++] = 0x01;
		b->data[b->len++] = 1;
		b->data[b->len++] = 0x03;
		mqtt_string(b, content_type, sizeof(content_type) - 1);
	}
	bytes(b, payload, len);
	return 0;
}

int st_gen_mqtt_ack(struct st_gen_buf *b, uint8_t first_byte, uint16_t packet_id)
{
	if (st_gen_buf_reserve(b, 4))
		return -ENOMEM;
	b->data[b->len++] = first_byte;
	b->data[b->len++] = 2;
	be16(b, packet_id);
	return 0;
}

int st_gen_mqtt_disconnect(struct st_gen_buf *b)
{
	if (st_gen_buf_reserve(b, 2))
		return -ENOMEM;
	b->data[b->len++] = 0xe0;
	b->data[b->len++] = 0;
	return 0;
}

/* NATS */

int st_gen_put_text(struct st_gen_buf *b, const char *text)
{
	size_t n = strlen(text);

	if (st_gen_buf_reserve(b, n))
		return -ENOMEM;
	bytes(b, text, n);
	return 0;
}

int st_gen_nats_info(struct st_gen_buf *b, uint16_t port)
{
	char line[400];

	snprintf(line, sizeof(line),
		 "INFO {\"server_id\":\"NSHADOWTAPGEN0000000000000000000000000000000000000000\","
		 "\"server_name\":\"gen\",\"version\":\"2.10.7\",\"proto\":1,\"go\":\"go1.21.5\","
		 "\"host\":\"0.0.0.0\",\"port\":%u,\"headers\":true,\"max_payload\":1048576}\r\n",
		 port);
	return st_gen_put_text(b, line);
}

int st_gen_nats_connect(struct st_gen_buf *b, bool verbose)
{
	char line[300];

	snprintf(line, sizeof(line),
		 "CONNECT {\"verbose\":%s,\"pedantic\":false,\"tls_required\":false,"
		 "\"name\":\"shadowtap-gen\",\"lang\":\"c\",\"version\":\"0.1.0\",\"protocol\":1,"
		 "\"echo\":true,\"headers\":true,\"no_responders\":true}\r\n",
		 verbose ? "true" : "false");
	return st_gen_put_text(b, line);
}

int st_gen_nats_pub(struct st_gen_buf *b, const char *subject, bool headers, uint64_t msg_no,
		    const char *key, size_t key_len, const uint8_t *payload, size_t len)
{
	char hdr[160], line[ST_GEN_NAME_MAX + 64];
	int hdr_len = 0, line_len;

	if (headers) {
		hdr_len = snprintf(hdr, sizeof(hdr), "NATS/1.0\r\nNats-Msg-Id: gen-%llu\r\nX-Key: %.*s\r\n\r\n",
				   (unsigned long long)msg_no, (int)key_len, key);
		line_len = snprintf(line, sizeof(line), "HPUB %s %d %zu\r\n", subject, hdr_len,
				    (size_t)hdr_len + len);
	} else {
		line_len = snprintf(line, sizeof(line), "PUB %s %zu\r\n", subject, len);
	}
	if (st_gen_buf_reserve(b, (size_t)line_len + (size_t)hdr_len + len + 2))
		return -ENOMEM;
	bytes(b, line, (size_t)line_len);
	bytes(b, hdr, (size_t)hdr_len);
	bytes(b, payload, len);
	bytes(b, "\r\n", 2);
	return 0;
}
