/*
 * Record codecs: the one interface between a flow's byte stream (TCP, after
 * reassembly, or UDP datagrams) and the records shadowtap profiles.
 *
 * A codec turns the bytes of one direction of one flow into events:
 *   - ST_REC_RECORD: one record a producer sends toward the broker (a Kafka
 *     Produce record, an MQTT PUBLISH to the broker, a NATS PUB/HPUB, a JSON
 *     line);
 *   - ST_REC_OPAQUE: `count` producer records whose contents cannot be read
 *     (a compressed Kafka batch): they count as records of the stream but
 *     feed no key or value sketch;
 *   - ST_REC_EGRESS: `count` records delivered to a consumer (Kafka Fetch
 *     response batches, MQTT PUBLISH from the broker, NATS MSG/HMSG):
 *     counted per stream as egress, never as records;
 *   - a latency sample: a request matched with its response (Kafka
 *     correlation id).
 *
 * Zero copy and the carry contract.  feed() gets the next in-order bytes of
 * one direction and returns how many it consumed.  Every pointer in an event
 * points into `data` (or, for a name that must outlive the bytes it came in,
 * such as the Kafka topic, into the flow's codec state) and is valid only
 * during the callback.  Bytes it does
 * not consume are the head of an incomplete unit; the caller (the TCP
 * reassembler) keeps them in a carry buffer and offers them again, followed
 * by the bytes that arrive next.  A codec never leaves more than
 * ST_CODEC_HOLD_MAX bytes unconsumed: a unit that cannot fit (a huge
 * record) is handled by the codec itself — it emits what it can from the
 * unit's head (a record with ST_REC_F_VALUE_TRUNCATED and the true
 * value_bytes) and skips the rest as it streams past, in its own state.  So
 * "len > ST_CODEC_HOLD_MAX implies consumed > 0" always holds, and the
 * reassembler's memory per direction is bounded by ST_CODEC_HOLD_MAX.
 *
 * gap() says bytes of this direction were lost: the codec drops its partial
 * unit and resynchronises on the bytes that follow (each protocol has its
 * own way: a plausible Kafka request header, an MQTT fixed header, the next
 * NATS line, the next newline).  Every resync is counted.
 *
 * Thread safety: a codec's state belongs to one flow and the flow to one
 * worker core; codecs keep no global state, allocate nothing, make no
 * system calls.
 */
#ifndef ST_CODEC_H
#define ST_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_CODEC_HOLD_MAX 16384u   /* bytes a codec may leave unconsumed */
#define ST_CODEC_ERRORS_MAX 16     /* error reasons per codec */
#define ST_CODEC_STATE_MAX 1024u   /* bytes of codec state per flow */

enum st_proto {
	ST_PROTO_NONE = 0,
	ST_PROTO_KAFKA,
	ST_PROTO_MQTT,
	ST_PROTO_NATS,
	ST_PROTO_JSONL,
	ST_PROTO__COUNT
};

/* Direction of the bytes, from the server port of the port map. */
enum st_dir {
	ST_DIR_TO_SERVER = 0,
	ST_DIR_TO_CLIENT = 1,
};

enum st_rec_kind {
	ST_REC_RECORD = 0,
	ST_REC_OPAQUE,
	ST_REC_EGRESS,
};

#define ST_REC_F_HAS_KEY         (1u << 0)  /* key (possibly empty) present */
#define ST_REC_F_VALUE_TRUNCATED (1u << 1)  /* value_len < value_bytes */
#define ST_REC_F_HAS_TIMESTAMP   (1u << 2)  /* timestamp_ms is the record's */

/* Kafka batch compression (attributes & 7), for the per-codec counters. */
enum st_kafka_compression {
	ST_KAFKA_COMP_NONE = 0,
	ST_KAFKA_COMP_GZIP,
	ST_KAFKA_COMP_SNAPPY,
	ST_KAFKA_COMP_LZ4,
	ST_KAFKA_COMP_ZSTD,
	ST_KAFKA_COMP__COUNT
};

struct st_record {
	uint8_t kind;               /* enum st_rec_kind */
	uint8_t proto;              /* enum st_proto */
	uint8_t flags;              /* ST_REC_F_* */
	uint8_t qos;                /* MQTT QoS 0..2; 0 elsewhere */
	int32_t partition;          /* Kafka partition; -1 elsewhere */
	uint32_t count;             /* records this event stands for: 1 for
				     * RECORD, n for OPAQUE and EGRESS */
	uint32_t packet_id;         /* MQTT packet identifier (QoS > 0), else 0 */
	const uint8_t *stream;      /* topic / subject bytes; NULL for JSONL
				     * (the caller names it by destination) */
	uint32_t stream_len;
	uint32_t key_len;           /* with ST_REC_F_HAS_KEY */
	const uint8_t *key;
	const uint8_t *value;       /* value bytes present (may be truncated) */
	uint32_t value_len;
	uint32_t value_bytes;       /* the value's true size on the wire */
	const uint8_t *headers;     /* raw header block as on the wire, or NULL */
	uint32_t headers_len;
	uint32_t header_count;
	int64_t timestamp_ms;       /* with ST_REC_F_HAS_TIMESTAMP (Kafka) */
	uint64_t ts_ns;             /* capture time of the bytes that ended it */
};

/* A request matched with its response on the same flow. */
struct st_latency {
	uint8_t proto;              /* enum st_proto */
	int16_t api_key;            /* Kafka api key; -1 elsewhere */
	int16_t api_version;
	int32_t correlation_id;
	uint64_t request_ns;        /* capture time of the request's last byte */
	uint64_t response_ns;       /* ... and of the response's first byte */
};

/* Where a codec sends its events; the callbacks must not be NULL. */
struct st_codec_sink {
	void (*record)(void *ctx, const struct st_record *r);
	void (*latency)(void *ctx, const struct st_latency *l);
	void *ctx;
};

/* Per-core, per-codec counters (the worker owns them; the codec adds). */
struct st_codec_stats {
	uint64_t units[2];          /* protocol units parsed, by enum st_dir */
	uint64_t records;           /* RECORD events */
	uint64_t opaque_records;    /* records inside OPAQUE events */
	uint64_t egress_records;
	uint64_t resyncs;           /* entries into resync: after gap(), a
				     * malformed unit, or a flow picked up
				     * mid-stream */
	uint64_t skipped_bytes;     /* bytes passed over while resyncing or
				     * skipping units the codec does not read */
	uint64_t truncated_values;  /* records emitted with a truncated value */
	uint64_t errors[ST_CODEC_ERRORS_MAX]; /* by the codec's error_names */
	uint64_t kafka_batches[ST_KAFKA_COMP__COUNT];  /* Kafka only */
	uint64_t kafka_batch_records[ST_KAFKA_COMP__COUNT];
	uint64_t latency_unmatched; /* responses without a pending request, or
				     * requests pushed out of the pending table */
};

struct st_codec {
	enum st_proto proto;
	const char *name;           /* "kafka", "mqtt", "nats", "jsonl" */
	size_t state_bytes;         /* per flow, both directions, <= ST_CODEC_STATE_MAX */
	/* Makes `state` (state_bytes, 8-byte aligned) a fresh flow. */
	void (*init)(void *state);
	/*
	 * The next in-order stream bytes of one direction.  Returns bytes
	 * consumed, 0..len; see the carry contract above.  `ts_ns` is the
	 * capture time of the segment that brought the last of these bytes.
	 */
	size_t (*feed)(void *state, enum st_dir dir, const uint8_t *data,
		       size_t len, uint64_t ts_ns, const struct st_codec_sink *sink,
		       struct st_codec_stats *stats);
	/* Bytes of direction `dir` were lost; resync on what follows. */
	void (*gap)(void *state, enum st_dir dir, struct st_codec_stats *stats);
	/* One whole UDP datagram (JSONL); NULL for TCP-only codecs. */
	void (*datagram)(enum st_dir dir, const uint8_t *data, size_t len,
			 uint64_t ts_ns, const struct st_codec_sink *sink,
			 struct st_codec_stats *stats);
	const char *const *error_names; /* n_errors names, snake_case */
	unsigned n_errors;              /* <= ST_CODEC_ERRORS_MAX */
};

extern const struct st_codec st_codec_kafka;
extern const struct st_codec st_codec_mqtt;
extern const struct st_codec st_codec_nats;
extern const struct st_codec st_codec_jsonl;

/* The codec of `proto`, or NULL for ST_PROTO_NONE or out of range. */
const struct st_codec *st_codec_get(enum st_proto proto);
/* "kafka" ... ; "none" for ST_PROTO_NONE; NULL when out of range. */
const char *st_proto_name(enum st_proto proto);
/* The protocol named `name` (as st_proto_name), or ST_PROTO_NONE. */
enum st_proto st_proto_from_name(const char *name);

#endif
