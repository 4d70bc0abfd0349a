/*
 * Kafka codec: Produce requests into records, Fetch responses into egress
 * counts, every request matched with its response for latency.
 *
 * Spec: the Kafka protocol guide (kafka.apache.org/protocol): "Preliminaries"
 * (size-delimited messages, primitive types, unsigned/zigzag varints,
 * compact strings, arrays and bytes, tagged fields), "Headers" (request
 * header v0..v2, response header v0..v1), "The Messages" (Produce key 0,
 * Fetch key 1, ApiVersions key 18), and the message-format part of the
 * design docs ("Record Batch", "Record", "Record Header", and the legacy
 * "Message Set" of magic 0 and 1).
 *
 * Stream units.  Every request and response is an int32 big-endian size
 * then that many bytes.  The codec never needs a whole request in memory:
 * it walks each one as a state machine over small units and consumes each
 * unit as soon as it is complete:
 *
 *   request header   size, api_key, api_version, correlation_id,
 *                    client_id (int16 nullable string; absent only in
 *                    ControlledShutdown v0, header v0), tagged fields
 *                    (header v2, the flexible Produce versions v9+)
 *   produce body     transactional_id (v3+), acks, timeout_ms, topic count
 *   topic            name (copied into the flow state: it must outlive the
 *                    buffer; <= 249 bytes, Kafka's legal maximum), partition
 *                    count
 *   partition        index, records size
 *   batch header     61 bytes of RecordBatch (magic 2): baseOffset,
 *                    batchLength, partitionLeaderEpoch, magic, crc,
 *                    attributes, lastOffsetDelta, baseTimestamp,
 *                    maxTimestamp, producerId, producerEpoch, baseSequence,
 *                    record count
 *   record           varint length, attributes, timestampDelta (varlong),
 *                    offsetDelta, key, value, headers: all zigzag varints
 *   message          magic 0/1 (Produce v0..v2): offset, message_size, crc,
 *                    magic, attributes, [timestamp], key, value (int32
 *                    lengths)
 *   tails            the tagged fields closing partition, topic and body in
 *                    flexible versions (uvarint count, then tag, size, data)
 *
 * In flexible versions (Produce v9+, Fetch v12+) strings, arrays and bytes
 * are compact: an unsigned varint holding length + 1, 0 meaning null.
 *
 * Events.  An uncompressed batch gives one ST_REC_RECORD per record (stream
 * = topic, partition, key, value, raw headers after the header count,
 * timestamp = baseTimestamp + timestampDelta).  A compressed batch
 * (attributes & 7) gives one ST_REC_OPAQUE of `record count` records; it is
 * not decompressed here.  A control batch (attributes bit 5) is skipped and
 * counted ("control_batch").  A magic 0/1 message counts as a batch of one:
 * uncompressed it is a RECORD, compressed an OPAQUE of count 1 (the inner
 * count would need decompression).  Batch CRCs are not verified.
 *
 * Carry contract (codec.h).  A unit that is not complete in the buffer is
 * left unconsumed.  Only records and messages may be larger than
 * ST_CODEC_HOLD_MAX: once ST_CODEC_HOLD_MAX bytes of such a unit are
 * present, the codec emits it from its first ST_CODEC_HOLD_MAX bytes (key
 * and head must fit there, else "record_too_large"), marks the value
 * truncated, and skips the rest in its own state; headers past that point
 * are not reported (headers NULL, header_count 0).  Any other unit larger
 * than ST_CODEC_HOLD_MAX ("unit_too_large") ends the parse of its request,
 * whose remaining bytes are skipped by length.
 *
 * Errors.  A malformed unit is counted by name and skipped with the
 * smallest container whose length is known: a bad record skips that record
 * (its length is sound) or the rest of its batch; a bad batch or message
 * the rest of the partition's records; anything else the rest of the
 * request.  Skipping by length keeps the stream in sync, so only a bad size
 * or header (or gap()) needs a resync.
 *
 * Resync.  gap(), an implausible header, and the first unit of a flow (the
 * capture may start mid-stream) are handled alike: the request direction
 * scans byte by byte for a plausible request header, namely
 *   - size 10 .. 100 MiB,
 *   - api_key in the known table (0..92) and api_version 0..max known for
 *     that key,
 *   - correlation_id >= 0,
 *   - client_id of 1..512 printable ASCII bytes inside the size (runs of
 *     zero bytes inside batches look like a null or empty client id).
 * A request whose client id is null or empty, or ControlledShutdown v0
 * (header v0, no client id), is therefore never a resync point: it is
 * skipped with the bytes before the next plausible header.  A Produce
 * request found by the scan stays unverified until it parses to its end:
 * a malformed unit inside it resumes the scan where the parse stopped
 * instead of trusting its size.  The response direction cannot tell a header from
 * data by its shape alone: after a gap it takes a position whose size is
 * 4 .. 100 MiB and whose correlation id is pending in this flow; the first
 * response of a flow needs only a sane size and a correlation id >= 0.  A
 * header found in sync is held to looser limits (api_key in the table,
 * version 0..63) so that versions newer than the table still parse.  Every
 * resync counts stats->resyncs (gaps and implausible headers alike; a flow
 * whose first header is plausible counts none) and the bytes passed over
 * count skipped_bytes.
 *
 * Latency.  A request whose last byte has been seen enters a table of
 * KAFKA_PENDING entries (correlation id, api key and version, time); a
 * Produce with acks = 0 gets no response and is not entered.  A full table
 * pushes out its oldest entry (latency_unmatched).  The response header
 * (correlation id; header v1 adds tagged fields in flexible versions except
 * ApiVersions, whose response header is always v0) is looked up: found, it
 * gives an st_latency event; not found, latency_unmatched, and the response
 * is skipped by length.
 *
 * Fetch responses (v0..v17) are parsed down to record batch headers:
 * one ST_REC_EGRESS per batch with count = its record count (stream =
 * topic; partition set).  A magic 0/1 message counts 1.  A batch cut off at
 * the end of a partition's records (brokers do that) is skipped silently.
 * From v13 on the topic is a 16-byte id, not a name: those egress events
 * have stream NULL and each counts "fetch_topic_id".  Fetch batches do not
 * enter kafka_batches (those count Produce batches).
 *
 * Fast paths.  The common shapes are also read without the cursor: a
 * Produce v3..v8 request's prefix up to its first partition's records, a
 * batch header whole in the window, and runs of records without headers
 * (one st_record per run, only each record's own fields rewritten).  Each
 * takes only input on which it gives what the cursor path gives, and
 * leaves anything else, untouched, to it; the test hooks below switch all
 * three off so that the tests and the fuzz target compare the two.
 *
 * Stream pointers.  Record pointers (key, value, headers) point into the fed
 * bytes; `stream` points at the topic copy in the flow's codec state, valid
 * during the callback.
 *
 * State: struct kafka_state, both directions plus the pending table, well
 * under ST_CODEC_STATE_MAX (static assert below).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/codec/codec.h"
#include "dataplane/compiler.h"
#include "dataplane/decode/cursor.h"

#define KAFKA_FRAME_MAX (100u << 20)    /* sanity limit of a size prefix */
#define KAFKA_TOPIC_MAX 249u            /* legal topic names are <= 249 */
#define KAFKA_PENDING 8u
#define KAFKA_RESYNC_CLIENT_ID_MAX 512
#define KAFKA_SYNCED_VERSION_MAX 63
#define KAFKA_REQUEST_HEADER_MIN 10u    /* key, version, correlation, client id */
#define KAFKA_BATCH_HEADER 61u          /* RecordBatch fields up to the count */
#define KAFKA_BATCH_LENGTH_MIN 49u      /* batchLength counts from the epoch on */
#define KAFKA_MAGIC_PEEK 17u            /* offset 16 holds magic in both formats */
#define KAFKA_RECORD_MIN 6u             /* attributes + five 1-byte varints */
#define KAFKA_UUID_BYTES 16u

#define KAFKA_API_PRODUCE 0
#define KAFKA_API_FETCH 1
#define KAFKA_API_CONTROLLED_SHUTDOWN 7
#define KAFKA_API_VERSIONS 18

#define KAFKA_PRODUCE_VERSION_MAX 12    /* v13 names topics by id */
#define KAFKA_PRODUCE_FLEXIBLE 9
#define KAFKA_PRODUCE_TXN_ID 3
#define KAFKA_FETCH_VERSION_MAX 17
#define KAFKA_FETCH_FLEXIBLE 12
#define KAFKA_FETCH_TOPIC_ID 13

#define KAFKA_ATTR_COMPRESSION 0x07
#define KAFKA_ATTR_CONTROL 0x20

enum kafka_error {
	KERR_BAD_SIZE,
	KERR_BAD_HEADER,
	KERR_BAD_PRODUCE,
	KERR_BAD_TOPIC,
	KERR_BAD_BATCH,
	KERR_BAD_RECORD,
	KERR_BAD_MESSAGE,
	KERR_BAD_VARINT,
	KERR_UNSUPPORTED_MAGIC,
	KERR_UNSUPPORTED_VERSION,
	KERR_UNIT_TOO_LARGE,
	KERR_RECORD_TOO_LARGE,
	KERR_CONTROL_BATCH,
	KERR_BAD_RESPONSE,
	KERR_FETCH_TOPIC_ID,
	KERR__COUNT
};

static const char *const kafka_error_names[KERR__COUNT] = {
	[KERR_BAD_SIZE] = "bad_size",
	[KERR_BAD_HEADER] = "bad_header",
	[KERR_BAD_PRODUCE] = "bad_produce",
	[KERR_BAD_TOPIC] = "bad_topic",
	[KERR_BAD_BATCH] = "bad_batch",
	[KERR_BAD_RECORD] = "bad_record",
	[KERR_BAD_MESSAGE] = "bad_message",
	[KERR_BAD_VARINT] = "bad_varint",
	[KERR_UNSUPPORTED_MAGIC] = "unsupported_magic",
	[KERR_UNSUPPORTED_VERSION] = "unsupported_version",
	[KERR_UNIT_TOO_LARGE] = "unit_too_large",
	[KERR_RECORD_TOO_LARGE] = "record_too_large",
	[KERR_CONTROL_BATCH] = "control_batch",
	[KERR_BAD_RESPONSE] = "bad_response",
	[KERR_FETCH_TOPIC_ID] = "fetch_topic_id",
};
_Static_assert(KERR__COUNT <= ST_CODEC_ERRORS_MAX, "too many error names");

/*
 * Highest api_version per api key, as in the protocol guide's key table
 * (Kafka 4.0 era); only the resync test uses it.
 */
static const uint8_t kafka_version_max[] = {
	12, 17, 10, 13, 7, 4, 8, 3, 9, 9,       /* 0..9 */
	6, 9, 4, 5, 5, 6, 5, 1, 4, 7,           /* 10..19 */
	6, 2, 5, 4, 5, 4, 5, 1, 5, 3,           /* 20..29 */
	3, 3, 4, 2, 2, 4, 2, 3, 3, 2,           /* 30..39 */
	2, 3, 2, 2, 1, 1, 0, 0, 1, 1,           /* 40..49 */
	0, 0, 2, 1, 1, 2, 3, 1, 0, 1,           /* 50..59 */
	1, 0, 4, 1, 0, 0, 1, 0, 1, 1,           /* 60..69 */
	0, 0, 0, 0, 0, 0, 1, 1, 1, 1,           /* 70..79 */
	1, 1, 1, 0, 0, 0, 0, 0, 1, 1,           /* 80..89 */
	0, 0, 0,                                /* 90..92 */
};
#define KAFKA_API_KEYS ((int)ST_ARRAY_SIZE(kafka_version_max))

enum kafka_phase {
	PH_HEADER,          /* next: a request or response header */
	PH_HUNT,            /* resync: scanning for a plausible header */
	PH_SKIP,            /* passing over skip_left bytes, then after_skip */
	PH_PRODUCE,         /* produce body prefix */
	PH_FETCH,           /* fetch response body prefix */
	PH_TOPIC,
	PH_PARTITION,
	PH_RECORDS,         /* at a batch or message boundary in records */
	PH_RECORD,          /* at a record boundary inside a batch */
	PH_BATCH_END,
	PH_PARTITION_END,
	PH_TOPIC_END,
	PH_BODY_END,
	PH_FRAME_END,
};

/* How deep the parse is; consume() shrinks every open container. */
enum kafka_nest {
	NEST_NONE,          /* between requests (header, hunt) */
	NEST_FRAME,         /* inside a request/response: frame_left */
	NEST_RECORDS,       /* inside a partition's records: records_left */
	NEST_BATCH,         /* inside a record batch: batch_left */
};

struct kafka_pending {
	uint64_t request_ns;
	int32_t correlation_id;
	int16_t api_key;            /* -1: free slot */
	int16_t api_version;
};

struct kafka_dir {
	int64_t base_timestamp_ms;
	uint32_t frame_bytes;       /* size prefix + size of the current frame */
	uint32_t frame_left;
	uint32_t records_left;
	uint32_t batch_left;
	uint32_t skip_left;
	uint32_t topics_left;
	uint32_t partitions_left;
	uint32_t batch_records_left;
	int32_t partition;
	int32_t correlation_id;
	int16_t api_key;
	int16_t api_version;
	int16_t acks;
	uint8_t phase;              /* enum kafka_phase */
	uint8_t after_skip;         /* enum kafka_phase */
	uint8_t nest;               /* enum kafka_nest */
	uint8_t flexible;
	uint8_t fetch;              /* a Fetch response, not a Produce request */
	uint8_t strict;             /* the next header is a flow's first */
	uint8_t unverified;         /* this frame's header came from a resync */
	uint8_t topic_named;        /* 0: Fetch v13+ topic id */
	uint8_t topic_len;
	uint8_t topic[KAFKA_TOPIC_MAX];
};

struct kafka_state {
	struct kafka_dir dir[2];
	struct kafka_pending pending[KAFKA_PENDING];
};
_Static_assert(sizeof(struct kafka_state) <= ST_CODEC_STATE_MAX,
	       "kafka state exceeds ST_CODEC_STATE_MAX");

/*
 * Test hooks: tests/dataplane/codec/kafka_hooked.c builds this file with
 * ST_KAFKA_TEST_HOOKS, which names the codec st_codec_kafka_hooked, lets a
 * test turn the fast paths (records, batch headers, request prefixes) off
 * and counts what each took.
 */
#ifdef ST_KAFKA_TEST_HOOKS
extern bool st_kafka_fast_off;
extern uint64_t st_kafka_fast_taken;
extern uint64_t st_kafka_fast_batches;
extern uint64_t st_kafka_fast_requests;
#define KAFKA_FAST_ON() (!st_kafka_fast_off)
#define KAFKA_FAST_TAKEN() (st_kafka_fast_taken++)
#define KAFKA_FAST_BATCH_TAKEN() (st_kafka_fast_batches++)
#define KAFKA_FAST_REQUEST_TAKEN() (st_kafka_fast_requests++)
#define st_codec_kafka st_codec_kafka_hooked
#else
#define KAFKA_FAST_ON() true
#define KAFKA_FAST_TAKEN() ((void)0)
#define KAFKA_FAST_BATCH_TAKEN() ((void)0)
#define KAFKA_FAST_REQUEST_TAKEN() ((void)0)
#endif

/* One feed() call. */
struct kafka_ctx {
	struct kafka_state *st;
	struct kafka_dir *d;
	enum st_dir dir;
	const uint8_t *data;
	size_t len;
	size_t pos;
	uint64_t ts_ns;
	const struct st_codec_sink *sink;
	struct st_codec_stats *stats;
};

enum step { STEP_STOP, STEP_MORE };

/* ---- bounds-checked cursor over one unit ---- */

struct cur {
	const uint8_t *p;
	uint32_t n;
	uint32_t off;
	bool shortfall;             /* a read ran past n: the unit is incomplete */
	int err;                    /* first enum kafka_error, or -1 */
};

static struct cur cur_make(const uint8_t *p, uint32_t n)
{
	return (struct cur){ .p = p, .n = n, .err = -1 };
}

static bool cur_stopped(const struct cur *c)
{
	return c->shortfall || c->err >= 0;
}

/* An error counts only when the values that led to it were really read. */
static void cur_fail(struct cur *c, enum kafka_error e)
{
	if (!c->shortfall && c->err < 0)
		c->err = (int)e;
}

static bool cur_need(struct cur *c, uint32_t bytes)
{
	if (cur_stopped(c))
		return false;
	if (c->n - c->off < bytes) {
		c->shortfall = true;
		return false;
	}
	return true;
}

static const uint8_t *cur_take(struct cur *c, uint32_t bytes)
{
	const uint8_t *at;

	if (!cur_need(c, bytes))
		return NULL;
	at = c->p + c->off;
	c->off += bytes;
	return at;
}

static uint64_t cur_be(struct cur *c, uint32_t bytes)
{
	const uint8_t *at = cur_take(c, bytes);
	uint64_t v = 0;

	if (!at)
		return 0;
	for (uint32_t i = 0; i < bytes; i++)
		v = v << 8 | at[i];
	return v;
}

static int8_t cur_i8(struct cur *c) { return (int8_t)cur_be(c, 1); }
static int16_t cur_i16(struct cur *c) { return (int16_t)cur_be(c, 2); }
static int32_t cur_i32(struct cur *c) { return (int32_t)cur_be(c, 4); }
static int64_t cur_i64(struct cur *c) { return (int64_t)cur_be(c, 8); }

/* Unsigned LEB128 of at most max_bytes; longer is "bad_varint". */
static inline uint64_t cur_uvarint(struct cur *c, unsigned max_bytes)
{
	uint64_t v = 0;

	/* one byte (lengths, deltas and counts below 64): what the loop's
	 * first turn does, without the loop */
	if (likely(!cur_stopped(c) && c->off < c->n && c->p[c->off] < 0x80))
		return c->p[c->off++];
	for (unsigned i = 0; i < max_bytes; i++) {
		const uint8_t *b = cur_take(c, 1);

		if (!b)
			return 0;
		v |= (uint64_t)(*b & 0x7f) << (7 * i);
		if (!(*b & 0x80))
			return v;
	}
	cur_fail(c, KERR_BAD_VARINT);
	return 0;
}

/* Unsigned varint that must fit 32 bits (compact lengths, counts). */
static inline uint32_t cur_uvarint32(struct cur *c)
{
	uint64_t v = cur_uvarint(c, 5);

	if (v > UINT32_MAX) {
		cur_fail(c, KERR_BAD_VARINT);
		return 0;
	}
	return (uint32_t)v;
}

/* Zigzag varint (record fields): int32. */
static int32_t cur_varint(struct cur *c)
{
	uint32_t v = cur_uvarint32(c);

	return (int32_t)((v >> 1) ^ (0u - (v & 1)));
}

/* Zigzag varlong: int64. */
static int64_t cur_varlong(struct cur *c)
{
	uint64_t v = cur_uvarint(c, 10);

	return (int64_t)((v >> 1) ^ (0u - (v & 1)));
}

/*
 * Length of a string, bytes or array: int32/int16 classic, or compact
 * (uvarint of length + 1).  -1 means null.  Values below -1 are `bad`.
 */
static int64_t cur_len(struct cur *c, bool compact, unsigned classic_bytes,
		       enum kafka_error bad)
{
	int64_t v;

	if (compact)
		v = (int64_t)cur_uvarint32(c) - 1;
	else if (classic_bytes == 2)
		v = cur_i16(c);
	else
		v = cur_i32(c);
	if (v < -1)
		cur_fail(c, bad);
	return v;
}

/* Tagged fields: uvarint count, then (uvarint tag, uvarint size, data). */
static void cur_tagged_fields(struct cur *c)
{
	uint32_t n = cur_uvarint32(c);

	for (uint32_t i = 0; i < n && !cur_stopped(c); i++) {
		(void)cur_uvarint32(c);
		(void)cur_take(c, cur_uvarint32(c));
	}
}

/* ---- consuming, skipping, failing ---- */

static uint32_t container_left(const struct kafka_dir *d)
{
	switch (d->nest) {
	case NEST_BATCH:
		return d->batch_left;
	case NEST_RECORDS:
		return d->records_left;
	case NEST_FRAME:
		return d->frame_left;
	default:
		return UINT32_MAX;
	}
}

/* Bytes a unit may span now: what is fed, bounded by its container. */
static uint32_t window(const struct kafka_ctx *x)
{
	size_t fed = x->len - x->pos;
	uint32_t left = container_left(x->d);

	return fed < left ? (uint32_t)fed : left;
}

static void consume(struct kafka_ctx *x, uint32_t bytes)
{
	struct kafka_dir *d = x->d;

	x->pos += bytes;
	if (d->nest >= NEST_FRAME)
		d->frame_left -= bytes;
	if (d->nest >= NEST_RECORDS)
		d->records_left -= bytes;
	if (d->nest >= NEST_BATCH)
		d->batch_left -= bytes;
}

static void skip_then(struct kafka_dir *d, uint32_t bytes, enum kafka_phase next)
{
	d->skip_left = bytes;
	d->after_skip = (uint8_t)next;
	d->phase = PH_SKIP;
}

static void count_error(struct kafka_ctx *x, enum kafka_error e)
{
	x->stats->errors[e]++;
}

static void enter_hunt(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;

	d->phase = PH_HUNT;
	d->nest = NEST_NONE;
	d->strict = 0;
	x->stats->resyncs++;
}

/* Abandon the current request or response: skip it by its length. */
static void fail_frame(struct kafka_ctx *x, enum kafka_error e)
{
	struct kafka_dir *d = x->d;

	count_error(x, e);
	if (d->unverified) {
		/* resume the scan past this header's first byte at least */
		if (d->frame_left == d->frame_bytes) {
			x->pos++;
			x->stats->skipped_bytes++;
		}
		enter_hunt(x);
		return;
	}
	d->nest = NEST_FRAME;
	skip_then(d, d->frame_left, PH_FRAME_END);
}

/* Abandon the rest of a partition's records. */
static void fail_records(struct kafka_ctx *x, enum kafka_error e)
{
	struct kafka_dir *d = x->d;

	if (d->unverified) {
		fail_frame(x, e);
		return;
	}
	count_error(x, e);
	d->nest = NEST_RECORDS;
	skip_then(d, d->records_left, PH_RECORDS);
}

/* Abandon the rest of a record batch. */
static void fail_batch(struct kafka_ctx *x, enum kafka_error e)
{
	struct kafka_dir *d = x->d;

	if (d->unverified) {
		fail_frame(x, e);
		return;
	}
	count_error(x, e);
	d->batch_records_left = 0;
	skip_then(d, d->batch_left, PH_BATCH_END);
}

enum unit_status { UNIT_OK, UNIT_HOLD, UNIT_FAILED };

/*
 * After parsing one unit from a window of the fed bytes: complete (UNIT_OK,
 * the caller consumes c->off), incomplete but may still arrive (UNIT_HOLD),
 * or malformed / overrunning its container / too large to hold
 * (UNIT_FAILED, counted and skipped by fail()).
 */
static enum unit_status unit_status(struct kafka_ctx *x, const struct cur *c,
				    enum kafka_error bad,
				    void (*fail)(struct kafka_ctx *, enum kafka_error))
{
	if (c->err >= 0) {
		fail(x, (enum kafka_error)c->err);
		return UNIT_FAILED;
	}
	if (!c->shortfall)
		return UNIT_OK;
	if (c->n == container_left(x->d)) {
		fail(x, bad);
		return UNIT_FAILED;
	}
	if (c->n >= ST_CODEC_HOLD_MAX) {
		fail(x, KERR_UNIT_TOO_LARGE);
		return UNIT_FAILED;
	}
	return UNIT_HOLD;
}

static enum step unit_step(enum unit_status u)
{
	return u == UNIT_HOLD ? STEP_STOP : STEP_MORE;
}

/* ---- pending requests ---- */

static void pending_add(struct kafka_ctx *x)
{
	struct kafka_pending *slot = &x->st->pending[0];
	struct kafka_dir *d = x->d;

	for (unsigned i = 0; i < KAFKA_PENDING; i++) {
		struct kafka_pending *p = &x->st->pending[i];

		if (p->api_key < 0) {
			slot = p;
			break;
		}
		if (p->request_ns < slot->request_ns)
			slot = p;
	}
	if (slot->api_key >= 0)
		x->stats->latency_unmatched++;
	slot->request_ns = x->ts_ns;
	slot->correlation_id = d->correlation_id;
	slot->api_key = d->api_key;
	slot->api_version = d->api_version;
}

static struct kafka_pending *pending_find(struct kafka_state *st, int32_t correlation_id)
{
	for (unsigned i = 0; i < KAFKA_PENDING; i++) {
		struct kafka_pending *p = &st->pending[i];

		if (p->api_key >= 0 && p->correlation_id == correlation_id)
			return p;
	}
	return NULL;
}

/* ---- events ---- */

static struct st_record record_base(const struct kafka_ctx *x,
				    enum st_rec_kind kind, uint32_t count)
{
	const struct kafka_dir *d = x->d;
	struct st_record r = {
		.kind = (uint8_t)kind,
		.proto = ST_PROTO_KAFKA,
		.partition = d->partition,
		.count = count,
		.ts_ns = x->ts_ns,
	};

	if (d->topic_named) {
		r.stream = d->topic;
		r.stream_len = d->topic_len;
	}
	return r;
}

static void emit(struct kafka_ctx *x, const struct st_record *r)
{
	struct st_codec_stats *s = x->stats;

	switch (r->kind) {
	case ST_REC_RECORD:
		s->records++;
		break;
	case ST_REC_OPAQUE:
		s->opaque_records += r->count;
		break;
	default:
		s->egress_records += r->count;
		break;
	}
	if (r->flags & ST_REC_F_VALUE_TRUNCATED)
		s->truncated_values++;
	x->sink->record(x->sink->ctx, r);
}

/* ---- resync tests ---- */

enum verdict { V_NO, V_YES, V_NEED };

static struct cur cur_over(const uint8_t *p, size_t fed, uint32_t cap)
{
	return cur_make(p, fed < cap ? (uint32_t)fed : cap);
}

/* The strict request-header test of the file-head comment. */
static enum verdict request_plausible(const uint8_t *p, size_t fed)
{
	struct cur c = cur_over(p, fed, ST_CODEC_HOLD_MAX);
	int32_t size = cur_i32(&c);
	int16_t key, version, client_id_len;
	const uint8_t *client_id;

	if (c.shortfall)
		return V_NEED;
	if (size < (int32_t)KAFKA_REQUEST_HEADER_MIN || (uint32_t)size > KAFKA_FRAME_MAX)
		return V_NO;
	key = cur_i16(&c);
	version = cur_i16(&c);
	if (c.shortfall)
		return V_NEED;
	if (key < 0 || key >= KAFKA_API_KEYS || version < 0 ||
	    version > kafka_version_max[key])
		return V_NO;
	if (cur_i32(&c) < 0)
		return c.shortfall ? V_NEED : V_NO;
	client_id_len = cur_i16(&c);
	if (c.shortfall)
		return V_NEED;
	if (client_id_len < 1 || client_id_len > KAFKA_RESYNC_CLIENT_ID_MAX ||
	    client_id_len > size - (int32_t)KAFKA_REQUEST_HEADER_MIN)
		return V_NO;
	client_id = cur_take(&c, (uint32_t)client_id_len);
	if (!client_id)
		return V_NEED;
	for (int i = 0; i < client_id_len; i++)
		if (client_id[i] < 0x20 || client_id[i] > 0x7e)
			return V_NO;
	return V_YES;
}

static bool frame_size_ok(int32_t size, uint32_t min)
{
	return size >= (int32_t)min && (uint32_t)size <= KAFKA_FRAME_MAX;
}

/* After a gap a response is only recognised by a pending correlation id. */
static enum verdict response_plausible(struct kafka_state *st, const uint8_t *p,
				       size_t fed)
{
	struct cur c = cur_over(p, fed, 8);
	int32_t size = cur_i32(&c);
	int32_t correlation_id = cur_i32(&c);

	if (c.shortfall)
		return V_NEED;
	if (!frame_size_ok(size, 4) || !pending_find(st, correlation_id))
		return V_NO;
	return V_YES;
}

static enum step hunt(struct kafka_ctx *x)
{
	for (size_t i = x->pos; i < x->len; i++) {
		enum verdict v = x->dir == ST_DIR_TO_SERVER ?
			request_plausible(x->data + i, x->len - i) :
			response_plausible(x->st, x->data + i, x->len - i);

		if (v == V_NO)
			continue;
		x->stats->skipped_bytes += i - x->pos;
		x->pos = i;
		if (v == V_NEED)
			return STEP_STOP;
		x->d->phase = PH_HEADER;
		x->d->unverified = 1;
		return STEP_MORE;
	}
	x->stats->skipped_bytes += x->len - x->pos;
	x->pos = x->len;
	return STEP_STOP;
}

static enum step skip(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	size_t fed = x->len - x->pos;
	uint32_t n = fed < d->skip_left ? (uint32_t)fed : d->skip_left;

	consume(x, n);
	d->skip_left -= n;
	x->stats->skipped_bytes += n;
	if (d->skip_left)
		return STEP_STOP;
	d->phase = d->after_skip;
	return STEP_MORE;
}

/* ---- headers ---- */

static void frame_start(struct kafka_ctx *x, int32_t size, int16_t key,
			int16_t version, int32_t correlation_id)
{
	struct kafka_dir *d = x->d;

	x->stats->units[x->dir]++;
	d->api_key = key;
	d->api_version = version;
	d->correlation_id = correlation_id;
	d->acks = 1;
	d->fetch = 0;
	d->flexible = 0;
	d->topic_named = 1;
	d->topic_len = 0;
	d->partition = -1;
	d->nest = NEST_FRAME;
	d->frame_bytes = 4u + (uint32_t)size;
	d->frame_left = d->frame_bytes;
}

/*
 * A Produce request of versions 3..8 (header v1, classic strings, a
 * transactional id) whose prefix up to its first partition's records is
 * in the fed bytes and sound: header, body, first topic and first
 * partition read in place, leaving the state that request_header(),
 * produce_body(), topic() and partition() leave.  Anything else (a null
 * or empty topic or partition array, null records, any field the steps
 * would fail or wait for) returns false with nothing changed, and the
 * steps read the same bytes.
 */
static bool fast_request(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	const uint8_t *at = x->data + x->pos;
	size_t fed = x->len - x->pos;
	uint32_t n, off = 12, frame_bytes;
	int32_t size, topics, partitions, records_len;
	int16_t version, client_id_len, txn_len, name_len;

	if (fed < 12)
		return false;
	size = (int32_t)st_load_be32(at);
	version = (int16_t)st_load_be16(at + 6);
	if (!frame_size_ok(size, 8) || st_load_be16(at + 4) != KAFKA_API_PRODUCE ||
	    version < KAFKA_PRODUCE_TXN_ID || version >= KAFKA_PRODUCE_FLEXIBLE)
		return false;
	frame_bytes = 4u + (uint32_t)size;
	n = fed < frame_bytes ? (uint32_t)fed : frame_bytes;
	if (n < off + 2 || (client_id_len = (int16_t)st_load_be16(at + off)) < -1)
		return false;
	off += 2u + (client_id_len > 0 ? (uint32_t)client_id_len : 0);
	if (n < off + 2 || (txn_len = (int16_t)st_load_be16(at + off)) < -1)
		return false;
	off += 2u + (txn_len > 0 ? (uint32_t)txn_len : 0);
	/* acks, timeout_ms, topic count, topic name length */
	if (n < off + 12)
		return false;
	topics = (int32_t)st_load_be32(at + off + 6);
	name_len = (int16_t)st_load_be16(at + off + 10);
	if (topics < 1 || name_len < 0 || name_len > (int16_t)KAFKA_TOPIC_MAX)
		return false;
	/* topic name, partition count, index, records size */
	if (n < off + 12 + (uint32_t)name_len + 12)
		return false;
	partitions = (int32_t)st_load_be32(at + off + 12 + name_len);
	records_len = (int32_t)st_load_be32(at + off + 12 + name_len + 8);
	if (partitions < 1 || records_len < 0 ||
	    (uint32_t)records_len > frame_bytes - (off + 12 + name_len + 12))
		return false;

	KAFKA_FAST_REQUEST_TAKEN();
	frame_start(x, size, KAFKA_API_PRODUCE, version,
		    (int32_t)st_load_be32(at + 8));
	d->acks = (int16_t)st_load_be16(at + off);
	d->topics_left = (uint32_t)topics;
	d->topic_len = (uint8_t)name_len;
	memcpy(d->topic, at + off + 12, (size_t)name_len);
	d->partitions_left = (uint32_t)partitions;
	off += 12 + (uint32_t)name_len;
	d->partition = (int32_t)st_load_be32(at + off + 4);
	off += 12;
	consume(x, off);
	d->records_left = (uint32_t)records_len;
	d->nest = NEST_RECORDS;
	d->phase = PH_RECORDS;
	return true;
}

static enum step request_header(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	const uint8_t *at = x->data + x->pos;
	size_t fed = x->len - x->pos;
	struct cur c = cur_over(at, fed, 12);
	uint32_t frame_bytes, header_bytes = 12;
	int16_t key, version;
	int32_t size, correlation_id;
	int bad = -1;

	if (fed == 0)
		return STEP_STOP;
	if (d->strict) {
		enum verdict v = request_plausible(at, fed);

		if (v == V_NEED)
			return STEP_STOP;
		if (v == V_NO) {
			enter_hunt(x);
			return STEP_MORE;
		}
		d->strict = 0;
		d->unverified = 1;
	}
	if (KAFKA_FAST_ON() && fast_request(x))
		return STEP_MORE;
	size = cur_i32(&c);
	if (c.shortfall)
		return STEP_STOP;
	if (!frame_size_ok(size, 8)) {
		count_error(x, KERR_BAD_SIZE);
		enter_hunt(x);
		return STEP_MORE;
	}
	key = cur_i16(&c);
	version = cur_i16(&c);
	correlation_id = cur_i32(&c);
	if (c.shortfall)
		return STEP_STOP;
	if (key < 0 || key >= KAFKA_API_KEYS || version < 0 ||
	    version > KAFKA_SYNCED_VERSION_MAX) {
		count_error(x, KERR_BAD_HEADER);
		enter_hunt(x);
		return STEP_MORE;
	}

	frame_bytes = 4u + (uint32_t)size;
	if (key == KAFKA_API_PRODUCE && version <= KAFKA_PRODUCE_VERSION_MAX) {
		/* Header v1 (v0..v8) or v2 (v9+): client id, tagged fields. */
		c = cur_over(at, fed, frame_bytes);
		c.off = 12;
		int64_t client_id_len = cur_len(&c, false, 2, KERR_BAD_HEADER);

		if (client_id_len > 0)
			(void)cur_take(&c, (uint32_t)client_id_len);
		if (version >= KAFKA_PRODUCE_FLEXIBLE)
			cur_tagged_fields(&c);
		if (c.err >= 0)
			bad = c.err;
		else if (c.shortfall && c.n == frame_bytes)
			bad = KERR_BAD_HEADER;
		else if (c.shortfall && c.n >= ST_CODEC_HOLD_MAX)
			bad = KERR_UNIT_TOO_LARGE;
		else if (c.shortfall)
			return STEP_STOP;
		header_bytes = c.off;
	}

	frame_start(x, size, key, version, correlation_id);
	if (key != KAFKA_API_PRODUCE) {
		consume(x, 12);
		skip_then(d, d->frame_left, PH_FRAME_END);
	} else if (version > KAFKA_PRODUCE_VERSION_MAX) {
		consume(x, 12);
		fail_frame(x, KERR_UNSUPPORTED_VERSION);
	} else if (bad >= 0) {
		fail_frame(x, (enum kafka_error)bad);
	} else {
		consume(x, header_bytes);
		d->flexible = version >= KAFKA_PRODUCE_FLEXIBLE;
		d->phase = PH_PRODUCE;
	}
	return STEP_MORE;
}

static void latency_event(struct kafka_ctx *x, const struct kafka_pending *p)
{
	struct st_latency l = {
		.proto = ST_PROTO_KAFKA,
		.api_key = p->api_key,
		.api_version = p->api_version,
		.correlation_id = p->correlation_id,
		.request_ns = p->request_ns,
		.response_ns = x->ts_ns,
	};

	x->sink->latency(x->sink->ctx, &l);
}

static enum step response_header(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	const uint8_t *at = x->data + x->pos;
	size_t fed = x->len - x->pos;
	struct cur c = cur_over(at, fed, 8);
	int32_t size = cur_i32(&c);
	int32_t correlation_id = cur_i32(&c);
	struct kafka_pending *p;
	uint32_t frame_bytes, header_bytes = 8;
	bool fetch;
	int bad = -1;

	if (c.shortfall)
		return STEP_STOP;
	if (!frame_size_ok(size, 4)) {
		count_error(x, KERR_BAD_SIZE);
		enter_hunt(x);
		return STEP_MORE;
	}
	if (d->strict && correlation_id < 0) {
		enter_hunt(x);
		return STEP_MORE;
	}
	frame_bytes = 4u + (uint32_t)size;
	p = pending_find(x->st, correlation_id);
	fetch = p && p->api_key == KAFKA_API_FETCH &&
		p->api_version <= KAFKA_FETCH_VERSION_MAX;
	if (fetch && p->api_version >= KAFKA_FETCH_FLEXIBLE) {
		/* Response header v1: tagged fields after the correlation id. */
		c = cur_over(at, fed, frame_bytes);
		c.off = 8;
		cur_tagged_fields(&c);
		if (c.err >= 0)
			bad = c.err;
		else if (c.shortfall && c.n == frame_bytes)
			bad = KERR_BAD_RESPONSE;
		else if (c.shortfall && c.n >= ST_CODEC_HOLD_MAX)
			bad = KERR_UNIT_TOO_LARGE;
		else if (c.shortfall)
			return STEP_STOP;
		header_bytes = c.off;
	}

	d->strict = 0;
	frame_start(x, size, p ? p->api_key : -1, p ? p->api_version : -1,
		    correlation_id);
	if (!p) {
		x->stats->latency_unmatched++;
		consume(x, 8);
		skip_then(d, d->frame_left, PH_FRAME_END);
		return STEP_MORE;
	}
	latency_event(x, p);
	p->api_key = -1;
	if (!fetch) {
		consume(x, 8);
		skip_then(d, d->frame_left, PH_FRAME_END);
	} else if (bad >= 0) {
		fail_frame(x, (enum kafka_error)bad);
	} else {
		consume(x, header_bytes);
		d->fetch = 1;
		d->flexible = d->api_version >= KAFKA_FETCH_FLEXIBLE;
		d->phase = PH_FETCH;
	}
	return STEP_MORE;
}

/* ---- request and response bodies ---- */

static enum kafka_error body_error(const struct kafka_dir *d)
{
	return d->fetch ? KERR_BAD_RESPONSE : KERR_BAD_PRODUCE;
}

/* An array count: compact or int32; null or negative is `bad`. */
static uint32_t cur_count(struct cur *c, bool compact, enum kafka_error bad)
{
	int64_t n = cur_len(c, compact, 4, bad);

	if (n < 0) {
		cur_fail(c, bad);
		return 0;
	}
	return (uint32_t)n;
}

static enum step produce_body(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	struct cur c = cur_make(x->data + x->pos, window(x));
	enum unit_status u;
	int16_t acks;
	uint32_t topics;

	if (d->api_version >= KAFKA_PRODUCE_TXN_ID) {
		int64_t txn_len = cur_len(&c, d->flexible, 2, KERR_BAD_PRODUCE);

		if (txn_len > 0)
			(void)cur_take(&c, (uint32_t)txn_len);
	}
	acks = cur_i16(&c);
	(void)cur_i32(&c);              /* timeout_ms */
	topics = cur_count(&c, d->flexible, KERR_BAD_PRODUCE);
	u = unit_status(x, &c, KERR_BAD_PRODUCE, fail_frame);
	if (u != UNIT_OK)
		return unit_step(u);
	consume(x, c.off);
	d->acks = acks;
	d->topics_left = topics;
	d->phase = PH_TOPIC;
	return STEP_MORE;
}

static enum step fetch_body(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	struct cur c = cur_make(x->data + x->pos, window(x));
	enum unit_status u;
	uint32_t topics;

	if (d->api_version >= 1)
		(void)cur_i32(&c);      /* throttle_time_ms */
	if (d->api_version >= 7) {
		(void)cur_i16(&c);      /* error_code */
		(void)cur_i32(&c);      /* session_id */
	}
	topics = cur_count(&c, d->flexible, KERR_BAD_RESPONSE);
	u = unit_status(x, &c, KERR_BAD_RESPONSE, fail_frame);
	if (u != UNIT_OK)
		return unit_step(u);
	consume(x, c.off);
	d->topics_left = topics;
	d->phase = PH_TOPIC;
	return STEP_MORE;
}

/*
 * A step whose unit ends a container goes on with the next phase's step
 * itself instead of through step(): record (at its batch's end), batch
 * end, records, partition end, partition, topic end, topic, body end,
 * frame end, in that order only, so that no chain comes back to where it
 * began and the nesting stays bounded.
 */
static enum step topic_end(struct kafka_ctx *x);
static enum step body_end(struct kafka_ctx *x);
static enum step frame_end(struct kafka_ctx *x);
static enum step batch_end(struct kafka_ctx *x);
static enum step records(struct kafka_ctx *x);
static enum step partition_end(struct kafka_ctx *x);

static enum step topic(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	struct cur c = cur_make(x->data + x->pos, window(x));
	bool named = !(d->fetch && d->api_version >= KAFKA_FETCH_TOPIC_ID);
	const uint8_t *name = NULL;
	int64_t name_len = 0;
	enum unit_status u;
	uint32_t partitions;

	if (d->topics_left == 0) {
		d->phase = PH_BODY_END;
		return body_end(x);
	}
	if (named) {
		name_len = cur_len(&c, d->flexible, 2, KERR_BAD_TOPIC);
		if (name_len < 0 || name_len > KAFKA_TOPIC_MAX)
			cur_fail(&c, KERR_BAD_TOPIC);
		else
			name = cur_take(&c, (uint32_t)name_len);
	} else {
		(void)cur_take(&c, KAFKA_UUID_BYTES);
	}
	partitions = cur_count(&c, d->flexible, body_error(d));
	u = unit_status(x, &c, body_error(d), fail_frame);
	if (u != UNIT_OK)
		return unit_step(u);
	d->topic_named = named;
	d->topic_len = (uint8_t)name_len;
	if (name_len > 0)
		memcpy(d->topic, name, (size_t)name_len);
	consume(x, c.off);
	d->partitions_left = partitions;
	d->phase = PH_PARTITION;
	return STEP_MORE;
}

/* Fetch partition fields before the records, by version. */
static void fetch_partition_fields(struct cur *c, const struct kafka_dir *d)
{
	int16_t v = d->api_version;

	(void)cur_i16(c);               /* error_code */
	(void)cur_i64(c);               /* high_watermark */
	if (v >= 4)
		(void)cur_i64(c);       /* last_stable_offset */
	if (v >= 5)
		(void)cur_i64(c);       /* log_start_offset */
	if (v >= 4) {
		int64_t aborted = cur_len(c, d->flexible, 4, KERR_BAD_RESPONSE);

		for (int64_t i = 0; i < aborted && !cur_stopped(c); i++) {
			(void)cur_i64(c);       /* producer_id */
			(void)cur_i64(c);       /* first_offset */
			if (d->flexible)
				cur_tagged_fields(c);
		}
	}
	if (v >= 11)
		(void)cur_i32(c);       /* preferred_read_replica */
}

static enum step partition(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	struct cur c = cur_make(x->data + x->pos, window(x));
	enum kafka_error bad = body_error(d);
	enum unit_status u;
	int32_t index;
	int64_t records_len;

	if (d->partitions_left == 0) {
		d->phase = PH_TOPIC_END;
		return topic_end(x);
	}
	index = cur_i32(&c);
	if (d->fetch)
		fetch_partition_fields(&c, d);
	records_len = cur_len(&c, d->flexible, 4, bad);
	u = unit_status(x, &c, bad, fail_frame);
	if (u != UNIT_OK)
		return unit_step(u);
	if (records_len > (int64_t)(d->frame_left - c.off)) {
		fail_frame(x, bad);
		return STEP_MORE;
	}
	consume(x, c.off);
	d->partition = index;
	d->records_left = records_len > 0 ? (uint32_t)records_len : 0;
	d->nest = NEST_RECORDS;
	d->phase = PH_RECORDS;
	return STEP_MORE;
}

/* ---- Produce: batches, records, legacy messages ---- */

enum fit { FIT_WHOLE, FIT_HOLD, FIT_HEAD };

/*
 * A record or message of `total` bytes at x->pos (its container holds it):
 * parse it whole when fed, wait while it may still come within
 * ST_CODEC_HOLD_MAX, else parse its head from the first ST_CODEC_HOLD_MAX.
 */
static enum fit sized_fit(const struct kafka_ctx *x, uint32_t total)
{
	size_t fed = x->len - x->pos;

	if (total <= fed)
		return FIT_WHOLE;
	if (total <= ST_CODEC_HOLD_MAX || fed < ST_CODEC_HOLD_MAX)
		return FIT_HOLD;
	return FIT_HEAD;
}

/* Value of `value_len` bytes (-1 null) at the cursor; cut short in a head. */
static void take_value(struct cur *c, struct st_record *r, int64_t value_len,
		       bool whole)
{
	uint32_t present;

	if (value_len < 0 || cur_stopped(c))
		return;
	present = (uint32_t)value_len;
	if (!whole && present > c->n - c->off)
		present = c->n - c->off;
	r->value = cur_take(c, present);
	r->value_len = present;
	r->value_bytes = (uint32_t)value_len;
	if (present < (uint32_t)value_len)
		r->flags |= ST_REC_F_VALUE_TRUNCATED;
}

/* Length `len` must fit in what is left of a unit ending at `end`. */
static bool fits(struct cur *c, int64_t len, uint32_t end, enum kafka_error bad)
{
	if (len < -1 || (len > 0 && (uint64_t)len > (uint64_t)end - c->off)) {
		cur_fail(c, bad);
		return false;
	}
	return !cur_stopped(c);
}

/* Record headers: varint count, each (varint key length, key, varint value
 * length (-1 null), value). */
static void take_headers(struct cur *c, struct st_record *r, uint32_t end)
{
	int32_t count = cur_varint(c);
	uint32_t start = c->off;

	if (count < 0)
		cur_fail(c, KERR_BAD_RECORD);
	for (int32_t i = 0; i < count && !cur_stopped(c); i++) {
		int32_t key_len = cur_varint(c);

		if (key_len < 0)
			cur_fail(c, KERR_BAD_RECORD);
		if (fits(c, key_len, end, KERR_BAD_RECORD))
			(void)cur_take(c, (uint32_t)key_len);
		int32_t value_len = cur_varint(c);

		if (fits(c, value_len, end, KERR_BAD_RECORD) && value_len > 0)
			(void)cur_take(c, (uint32_t)value_len);
	}
	if (count > 0 && !cur_stopped(c)) {
		r->headers = c->p + start;
		r->headers_len = c->off - start;
		r->header_count = (uint32_t)count;
	}
}

/* RecordBatch record body after its length varint; `end` is its last byte + 1. */
static void parse_record(struct cur *c, const struct kafka_dir *d,
			 struct st_record *r, uint32_t end, bool whole)
{
	int64_t timestamp_delta;
	int32_t key_len, value_len;

	(void)cur_i8(c);                /* attributes (unused) */
	timestamp_delta = cur_varlong(c);
	(void)cur_varint(c);            /* offsetDelta */
	key_len = cur_varint(c);
	if (fits(c, key_len, end, KERR_BAD_RECORD) && key_len >= 0) {
		r->key = cur_take(c, (uint32_t)key_len);
		r->key_len = (uint32_t)key_len;
		r->flags |= ST_REC_F_HAS_KEY;
	}
	value_len = cur_varint(c);
	if (fits(c, value_len, end, KERR_BAD_RECORD))
		take_value(c, r, value_len, whole);
	r->timestamp_ms = (int64_t)((uint64_t)d->base_timestamp_ms +
				    (uint64_t)timestamp_delta);
	r->flags |= ST_REC_F_HAS_TIMESTAMP;
	if (!whole)
		return;
	take_headers(c, r, end);
	if (!cur_stopped(c) && c->off != end)
		cur_fail(c, KERR_BAD_RECORD);
}

/*
 * Emits the record or message parsed in `c` (or counts why not) and moves
 * past its `total` bytes: what was read is consumed, the rest skipped.
 */
static void sized_done(struct kafka_ctx *x, struct cur *c, struct st_record *r,
		       uint32_t total, enum kafka_error bad, enum kafka_phase next)
{
	struct kafka_dir *d = x->d;

	if (cur_stopped(c)) {
		count_error(x, c->err >= 0 ? (enum kafka_error)c->err :
			    c->n == total ? bad : KERR_RECORD_TOO_LARGE);
		skip_then(d, total, next);
		return;
	}
	emit(x, r);
	consume(x, c->off);
	if (c->off < total)
		skip_then(d, total - c->off, next);
	else
		d->phase = next;
}

/*
 * The common record, parsed without the cursor: whole in the fed bytes and
 * in its batch, every varint of at most 5 bytes, no headers.  Anything else
 * (a record cut by the segment end, headers, a long timestamp delta, any
 * malformed field) stops the run with nothing changed for that record, and
 * the cursor path below parses the same bytes, emits or counts.  Where both
 * accept a record they give the same event (tests/dataplane/codec/
 * test_kafka.c runs both on every capture; the Kafka fuzz target compares
 * them on every input).  Where a check on the record's length already
 * shows the bytes are there, the varints are read without a check per
 * byte ("roomy").
 *
 * Unsigned varint of at most 5 bytes before `end`, by the loop (the forms
 * of 3..5 bytes; the inline readers below take the short ones).
 */
static bool fast_uvarint_loop(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *p;
	uint64_t x = 0;

	for (unsigned i = 0; i < 5; i++) {
		if (q == end)
			return false;
		x |= (uint64_t)(*q & 0x7f) << (7 * i);
		if (!(*q++ & 0x80)) {
			*p = q;
			*v = x;
			return true;
		}
	}
	return false;
}

/* ... the 1- and 2-byte forms (lengths below 8 KiB) checked inline. */
static inline bool fast_uvarint(const uint8_t **p, const uint8_t *end,
				uint64_t *v)
{
	const uint8_t *q = *p;

	if (likely(q < end && q[0] < 0x80)) {
		*v = q[0];
		*p = q + 1;
		return true;
	}
	if (likely(end - q >= 2 && q[1] < 0x80)) {
		*v = (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
		*p = q + 2;
		return true;
	}
	return fast_uvarint_loop(p, end, v);
}

/* ... where the caller has checked that 2 bytes are left before `end`. */
static inline bool fast_uvarint_roomy(const uint8_t **p, const uint8_t *end,
				      uint64_t *v)
{
	const uint8_t *q = *p;

	if (likely(q[0] < 0x80)) {
		*v = q[0];
		*p = q + 1;
		return true;
	}
	if (likely(q[1] < 0x80)) {
		*v = (uint64_t)q[0] - 0x80 + ((uint64_t)q[1] << 7);
		*p = q + 2;
		return true;
	}
	return fast_uvarint_loop(p, end, v);
}

/*
 * The zigzag key length that cur_varint() reads and fits() accepts, -1
 * (null) or 0.., with 2 bytes left after the key: the value length and
 * the header count need them in any sound record.
 */
static inline bool fast_key_len(uint64_t u, const uint8_t *q, const uint8_t *end,
				int32_t *len)
{
	if (u & 1) {            /* zigzag odd: negative, only -1 is sound */
		*len = -1;
		return u == 1 && end - q >= 2;
	}
	*len = (int32_t)(u >> 1);
	return (u >> 1) + 2 <= (uint64_t)(end - q);
}

/* The zigzag value length, -1 or 0..the bytes left before `end`. */
static inline bool fast_value_len(const uint8_t **p, const uint8_t *end,
				  int32_t *len)
{
	uint64_t u;

	if (!fast_uvarint_roomy(p, end, &u))
		return false;
	if (u & 1) {
		*len = -1;
		return u == 1;
	}
	*len = (int32_t)(u >> 1);
	return (u >> 1) <= (uint64_t)(end - *p);
}

/* Bytes from a record's attributes on that hold attributes, timestamp
 * delta, offset delta and key length in their longest fast forms. */
#define KAFKA_FAST_HEAD 16

/*
 * The run of fast records from x->pos: one st_record built for the run
 * (kind, stream, partition, capture time stay), only each record's own
 * fields rewritten; the bytes of the run consumed at its end.
 */
static void fast_records(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	const uint8_t *start = x->data + x->pos, *p = start, *lim;
	uint32_t records_left = d->batch_records_left;
	size_t fed = x->len - x->pos;
	uint32_t run;
	struct st_record r;

	if (records_left == 0 || d->batch_left == 0)
		return;
	/* the run stops at lim: the batch's end, or the fed bytes' where the
	 * next record would not be whole anyway */
	lim = start + (fed < d->batch_left ? fed : d->batch_left);
	r = record_base(x, ST_REC_RECORD, 1);
	/* a record needs KAFKA_RECORD_MIN bytes after its length: fewer
	 * than 2 bytes left hold none */
	while (records_left != 0 && lim - p >= 2) {
		const uint8_t *q = p, *end;
		int32_t key_len, value_len;
		uint64_t record_u, ts_u, offset_u, key_u;
		bool ok;

		if (!fast_uvarint_roomy(&q, lim, &record_u) ||
		    (record_u & 1) || record_u < 2 * KAFKA_RECORD_MIN ||
		    (record_u >> 1) > (uint64_t)(lim - q))
			break;
		end = q + (record_u >> 1);
		if (likely(end - q >= KAFKA_FAST_HEAD)) {
			q++;            /* attributes (unused) */
			ok = fast_uvarint_roomy(&q, end, &ts_u) &&
			     fast_uvarint_roomy(&q, end, &offset_u) &&
			     fast_uvarint_roomy(&q, end, &key_u);
		} else {
			q++;
			ok = fast_uvarint(&q, end, &ts_u) &&
			     fast_uvarint(&q, end, &offset_u) &&
			     fast_uvarint(&q, end, &key_u);
		}
		if (!ok || offset_u > UINT32_MAX || !fast_key_len(key_u, q, end, &key_len))
			break;
		if (key_len >= 0) {
			r.flags = ST_REC_F_HAS_KEY | ST_REC_F_HAS_TIMESTAMP;
			r.key = q;
			r.key_len = (uint32_t)key_len;
			q += key_len;
		} else {
			r.flags = ST_REC_F_HAS_TIMESTAMP;
			r.key = NULL;
			r.key_len = 0;
		}
		if (!fast_value_len(&q, end, &value_len))
			break;
		if (value_len >= 0) {
			r.value = q;
			r.value_len = r.value_bytes = (uint32_t)value_len;
			q += value_len;
		} else {
			r.value = NULL;
			r.value_len = r.value_bytes = 0;
		}
		/* header count 0 in one byte, the record's last */
		if (q + 1 != end || *q != 0)
			break;
		r.timestamp_ms = (int64_t)((uint64_t)d->base_timestamp_ms +
					   ((ts_u >> 1) ^ (0 - (ts_u & 1))));
		KAFKA_FAST_TAKEN();
		records_left--;
		p = end;
		x->stats->records++;
		x->sink->record(x->sink->ctx, &r);
	}
	/* consume() at the known nesting (a batch's): its calls cost 0.3 %
	 * of the Kafka path's instructions */
	run = (uint32_t)(p - start);
	d->batch_records_left = records_left;
	x->pos += run;
	d->frame_left -= run;
	d->records_left -= run;
	d->batch_left -= run;
}

static enum step produce_record(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	const uint8_t *at;
	struct cur c;
	struct st_record r;
	enum unit_status u;
	int32_t record_len;
	uint32_t total;
	enum fit fit;

	if (KAFKA_FAST_ON())
		fast_records(x);
	if (d->batch_records_left == 0 || d->batch_left == 0) {
		if (d->batch_records_left != 0 || d->batch_left != 0) {
			fail_batch(x, KERR_BAD_BATCH);
			return STEP_MORE;
		}
		d->phase = PH_BATCH_END;
		return batch_end(x);
	}
	at = x->data + x->pos;
	c = cur_make(at, window(x));
	record_len = cur_varint(&c);
	if (!cur_stopped(&c) && (record_len < (int32_t)KAFKA_RECORD_MIN ||
				 (uint64_t)c.off + (uint32_t)record_len > d->batch_left))
		cur_fail(&c, KERR_BAD_RECORD);
	u = unit_status(x, &c, KERR_BAD_RECORD, fail_batch);
	if (u != UNIT_OK)
		return unit_step(u);
	total = c.off + (uint32_t)record_len;
	fit = sized_fit(x, total);
	if (fit == FIT_HOLD)
		return STEP_STOP;
	r = record_base(x, ST_REC_RECORD, 1);
	c = cur_make(at, fit == FIT_WHOLE ? total : ST_CODEC_HOLD_MAX);
	c.off = total - (uint32_t)record_len;
	parse_record(&c, d, &r, total, fit == FIT_WHOLE);
	d->batch_records_left--;
	sized_done(x, &c, &r, total, KERR_BAD_RECORD, PH_RECORD);
	return STEP_MORE;
}

/* A batch header read and found sound: its records follow at x->pos. */
static enum step batch_begin(struct kafka_ctx *x, int32_t batch_len,
			     int16_t attributes, int64_t base_timestamp_ms,
			     int32_t count)
{
	struct kafka_dir *d = x->d;
	unsigned compression = (unsigned)attributes & KAFKA_ATTR_COMPRESSION;
	uint32_t body_bytes = (uint32_t)batch_len - KAFKA_BATCH_LENGTH_MIN;

	if (attributes & KAFKA_ATTR_CONTROL) {
		count_error(x, KERR_CONTROL_BATCH);
		skip_then(d, body_bytes, PH_RECORDS);
		return STEP_MORE;
	}
	x->stats->kafka_batches[compression]++;
	x->stats->kafka_batch_records[compression] += (uint32_t)count;
	if (compression != ST_KAFKA_COMP_NONE) {
		struct st_record r = record_base(x, ST_REC_OPAQUE, (uint32_t)count);

		emit(x, &r);
		skip_then(d, body_bytes, PH_RECORDS);
		return STEP_MORE;
	}
	d->nest = NEST_BATCH;
	d->batch_left = body_bytes;
	d->batch_records_left = (uint32_t)count;
	d->base_timestamp_ms = base_timestamp_ms;
	d->phase = PH_RECORD;
	return STEP_MORE;
}

static bool batch_header_ok(const struct kafka_dir *d, int32_t batch_len,
			    int16_t attributes, int32_t count)
{
	return batch_len >= (int32_t)KAFKA_BATCH_LENGTH_MIN &&
	       12u + (uint64_t)batch_len <= d->records_left &&
	       ((unsigned)attributes & KAFKA_ATTR_COMPRESSION) < ST_KAFKA_COMP__COUNT &&
	       count >= 0;
}

/*
 * The batch header whole in the window (`at`, KAFKA_BATCH_HEADER bytes
 * checked by the caller): its fields loaded in place, the errors of the
 * cursor path below (all "bad_batch").
 */
static enum step fast_batch(struct kafka_ctx *x, const uint8_t *at)
{
	int32_t batch_len = (int32_t)st_load_be32(at + 8);
	int16_t attributes = (int16_t)st_load_be16(at + 21);
	int64_t base_timestamp_ms = (int64_t)((uint64_t)st_load_be32(at + 27) << 32 |
					      st_load_be32(at + 31));
	int32_t count = (int32_t)st_load_be32(at + 57);

	if (!batch_header_ok(x->d, batch_len, attributes, count)) {
		fail_records(x, KERR_BAD_BATCH);
		return STEP_MORE;
	}
	KAFKA_FAST_BATCH_TAKEN();
	consume(x, KAFKA_BATCH_HEADER);
	return batch_begin(x, batch_len, attributes, base_timestamp_ms, count);
}

static enum step produce_batch(struct kafka_ctx *x)
{
	struct cur c = cur_make(x->data + x->pos, window(x));
	enum unit_status u;
	int32_t batch_len, count;
	int64_t base_timestamp_ms;
	int16_t attributes;

	(void)cur_i64(&c);              /* baseOffset */
	batch_len = cur_i32(&c);
	if (!cur_stopped(&c) && (batch_len < (int32_t)KAFKA_BATCH_LENGTH_MIN ||
				 12u + (uint64_t)batch_len > x->d->records_left))
		cur_fail(&c, KERR_BAD_BATCH);
	(void)cur_i32(&c);              /* partitionLeaderEpoch */
	(void)cur_i8(&c);               /* magic, already peeked */
	(void)cur_be(&c, 4);            /* crc (CRC-32C, not verified) */
	attributes = cur_i16(&c);
	(void)cur_i32(&c);              /* lastOffsetDelta */
	base_timestamp_ms = cur_i64(&c);
	(void)cur_i64(&c);              /* maxTimestamp */
	(void)cur_i64(&c);              /* producerId */
	(void)cur_i16(&c);              /* producerEpoch */
	(void)cur_i32(&c);              /* baseSequence */
	count = cur_i32(&c);
	if (((unsigned)attributes & KAFKA_ATTR_COMPRESSION) >= ST_KAFKA_COMP__COUNT ||
	    count < 0)
		cur_fail(&c, KERR_BAD_BATCH);
	u = unit_status(x, &c, KERR_BAD_BATCH, fail_records);
	if (u != UNIT_OK)
		return unit_step(u);
	consume(x, KAFKA_BATCH_HEADER);
	return batch_begin(x, batch_len, attributes, base_timestamp_ms, count);
}

/* Magic 0/1 message body after offset and message_size. */
static void parse_message(struct cur *c, struct st_record *r, uint32_t end,
			  bool whole, unsigned *compression)
{
	int8_t magic, attributes;
	int64_t timestamp_ms = -1;
	int32_t key_len, value_len;

	(void)cur_be(c, 4);             /* crc (CRC-32, not verified) */
	magic = cur_i8(c);
	attributes = cur_i8(c);
	if (magic == 1)
		timestamp_ms = cur_i64(c);
	*compression = (unsigned)attributes & KAFKA_ATTR_COMPRESSION;
	if (*compression >= ST_KAFKA_COMP__COUNT)
		cur_fail(c, KERR_BAD_MESSAGE);
	key_len = cur_i32(c);
	if (fits(c, key_len, end, KERR_BAD_MESSAGE) && key_len >= 0) {
		r->key = cur_take(c, (uint32_t)key_len);
		r->key_len = (uint32_t)key_len;
		r->flags |= ST_REC_F_HAS_KEY;
	}
	value_len = cur_i32(c);
	if (fits(c, value_len, end, KERR_BAD_MESSAGE))
		take_value(c, r, value_len, whole);
	if (timestamp_ms >= 0) {
		r->timestamp_ms = timestamp_ms;
		r->flags |= ST_REC_F_HAS_TIMESTAMP;
	}
	if (whole && !cur_stopped(c) && c->off != end)
		cur_fail(c, KERR_BAD_MESSAGE);
}

static enum step produce_message(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	const uint8_t *at = x->data + x->pos;
	struct cur c = cur_make(at, window(x));
	unsigned compression = 0;
	struct st_record r;
	enum unit_status u;
	int32_t message_len;
	uint32_t total;
	enum fit fit;

	(void)cur_i64(&c);              /* offset */
	message_len = cur_i32(&c);
	if (!cur_stopped(&c) && (message_len < 14 ||
				 12u + (uint64_t)message_len > d->records_left))
		cur_fail(&c, KERR_BAD_MESSAGE);
	u = unit_status(x, &c, KERR_BAD_MESSAGE, fail_records);
	if (u != UNIT_OK)
		return unit_step(u);
	total = 12u + (uint32_t)message_len;
	fit = sized_fit(x, total);
	if (fit == FIT_HOLD)
		return STEP_STOP;
	r = record_base(x, ST_REC_RECORD, 1);
	c = cur_make(at, fit == FIT_WHOLE ? total : ST_CODEC_HOLD_MAX);
	c.off = 12;
	parse_message(&c, &r, total, fit == FIT_WHOLE, &compression);
	if (!cur_stopped(&c)) {
		x->stats->kafka_batches[compression]++;
		x->stats->kafka_batch_records[compression]++;
		if (compression != ST_KAFKA_COMP_NONE) {
			/* A wrapper of compressed messages: contents unread. */
			r = record_base(x, ST_REC_OPAQUE, 1);
			emit(x, &r);
			skip_then(d, total, PH_RECORDS);
			return STEP_MORE;
		}
	}
	sized_done(x, &c, &r, total, KERR_BAD_MESSAGE, PH_RECORDS);
	return STEP_MORE;
}

static enum step produce_records(struct kafka_ctx *x)
{
	const uint8_t *at = x->data + x->pos;
	uint32_t avail = window(x);
	struct cur c = cur_make(at, avail);
	enum unit_status u;

	if (KAFKA_FAST_ON() && avail >= KAFKA_BATCH_HEADER &&
	    at[KAFKA_MAGIC_PEEK - 1] == 2)
		return fast_batch(x, at);
	(void)cur_take(&c, KAFKA_MAGIC_PEEK);
	u = unit_status(x, &c, KERR_BAD_BATCH, fail_records);
	if (u != UNIT_OK)
		return unit_step(u);
	switch (at[KAFKA_MAGIC_PEEK - 1]) {
	case 2:
		return produce_batch(x);
	case 0:
	case 1:
		return produce_message(x);
	default:
		fail_records(x, KERR_UNSUPPORTED_MAGIC);
		return STEP_MORE;
	}
}

/* ---- Fetch: batch headers into egress counts ---- */

static void egress(struct kafka_ctx *x, uint32_t count)
{
	struct st_record r = record_base(x, ST_REC_EGRESS, count);

	if (!x->d->topic_named)
		count_error(x, KERR_FETCH_TOPIC_ID);
	emit(x, &r);
}

static enum step fetch_records(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;
	struct cur c = cur_make(x->data + x->pos, window(x));
	int32_t size, count;
	int16_t attributes;
	int8_t magic;

	/* A batch cut off at the end of the records is normal in Fetch. */
	if (d->records_left < KAFKA_MAGIC_PEEK) {
		skip_then(d, d->records_left, PH_RECORDS);
		return STEP_MORE;
	}
	(void)cur_i64(&c);              /* base offset */
	size = cur_i32(&c);
	(void)cur_i32(&c);              /* leader epoch / crc */
	magic = cur_i8(&c);
	(void)cur_be(&c, 4);            /* crc (magic 2) */
	attributes = cur_i16(&c);
	(void)cur_take(&c, KAFKA_BATCH_HEADER - 4 - c.off);
	count = cur_i32(&c);
	if (c.off < KAFKA_MAGIC_PEEK && c.shortfall)
		return STEP_STOP;
	if (magic < 0 || magic > 2) {
		fail_records(x, KERR_UNSUPPORTED_MAGIC);
		return STEP_MORE;
	}
	if (size < 0 || 12u + (uint64_t)size > d->records_left) {
		skip_then(d, d->records_left, PH_RECORDS);
		return STEP_MORE;
	}
	if (magic < 2) {
		egress(x, 1);
	} else if (size < (int32_t)KAFKA_BATCH_LENGTH_MIN || count < 0) {
		fail_records(x, KERR_BAD_BATCH);
		return STEP_MORE;
	} else if (c.shortfall) {
		return STEP_STOP;
	} else if (attributes & KAFKA_ATTR_CONTROL) {
		count_error(x, KERR_CONTROL_BATCH);
	} else {
		egress(x, (uint32_t)count);
	}
	skip_then(d, 12u + (uint32_t)size, PH_RECORDS);
	return STEP_MORE;
}

/* ---- closing tagged fields, frame end ---- */

/* Tagged fields that close a partition, topic or body (flexible only). */
static enum unit_status tagged_tail(struct kafka_ctx *x)
{
	struct cur c = cur_make(x->data + x->pos, window(x));
	enum unit_status u;

	cur_tagged_fields(&c);
	u = unit_status(x, &c, body_error(x->d), fail_frame);
	if (u == UNIT_OK)
		consume(x, c.off);
	return u;
}

static inline enum unit_status tail(struct kafka_ctx *x)
{
	return x->d->flexible ? tagged_tail(x) : UNIT_OK;
}

static enum step partition_end(struct kafka_ctx *x)
{
	enum unit_status u = tail(x);

	if (u != UNIT_OK)
		return unit_step(u);
	x->d->partitions_left--;
	x->d->phase = PH_PARTITION;
	return partition(x);
}

static enum step topic_end(struct kafka_ctx *x)
{
	enum unit_status u = tail(x);

	if (u != UNIT_OK)
		return unit_step(u);
	x->d->topics_left--;
	x->d->phase = PH_TOPIC;
	return topic(x);
}

static enum step body_end(struct kafka_ctx *x)
{
	enum unit_status u = tail(x);

	if (u != UNIT_OK)
		return unit_step(u);
	if (x->d->frame_left) {
		fail_frame(x, body_error(x->d));    /* bytes after the body */
		return STEP_MORE;
	}
	x->d->phase = PH_FRAME_END;
	return frame_end(x);
}

static enum step frame_end(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;

	if (x->dir == ST_DIR_TO_SERVER &&
	    !(d->api_key == KAFKA_API_PRODUCE && d->acks == 0))
		pending_add(x);
	d->unverified = 0;
	d->nest = NEST_NONE;
	d->phase = PH_HEADER;
	return STEP_MORE;
}

static enum step records(struct kafka_ctx *x)
{
	struct kafka_dir *d = x->d;

	if (d->records_left == 0) {
		d->nest = NEST_FRAME;
		d->phase = PH_PARTITION_END;
		return partition_end(x);
	}
	return d->fetch ? fetch_records(x) : produce_records(x);
}

static enum step batch_end(struct kafka_ctx *x)
{
	x->d->nest = NEST_RECORDS;
	x->d->phase = PH_RECORDS;
	return records(x);
}

static enum step step(struct kafka_ctx *x)
{
	switch ((enum kafka_phase)x->d->phase) {
	case PH_HEADER:
		return x->dir == ST_DIR_TO_SERVER ? request_header(x) :
						    response_header(x);
	case PH_HUNT:
		return hunt(x);
	case PH_SKIP:
		return skip(x);
	case PH_PRODUCE:
		return produce_body(x);
	case PH_FETCH:
		return fetch_body(x);
	case PH_TOPIC:
		return topic(x);
	case PH_PARTITION:
		return partition(x);
	case PH_RECORDS:
		return records(x);
	case PH_RECORD:
		return produce_record(x);
	case PH_BATCH_END:
		return batch_end(x);
	case PH_PARTITION_END:
		return partition_end(x);
	case PH_TOPIC_END:
		return topic_end(x);
	case PH_BODY_END:
		return body_end(x);
	case PH_FRAME_END:
		return frame_end(x);
	}
	return STEP_STOP;
}

/* ---- the codec ---- */

static void kafka_init(void *state)
{
	struct kafka_state *st = state;

	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < KAFKA_PENDING; i++)
		st->pending[i].api_key = -1;
	for (unsigned i = 0; i < 2; i++) {
		st->dir[i].phase = PH_HEADER;
		st->dir[i].strict = 1;
		st->dir[i].topic_named = 1;
		st->dir[i].partition = -1;
	}
}

static size_t kafka_feed(void *state, enum st_dir dir, const uint8_t *data,
			 size_t len, uint64_t ts_ns,
			 const struct st_codec_sink *sink,
			 struct st_codec_stats *stats)
{
	struct kafka_state *st = state;
	struct kafka_ctx x = {
		.st = st,
		.dir = dir == ST_DIR_TO_SERVER ? ST_DIR_TO_SERVER : ST_DIR_TO_CLIENT,
		.data = data,
		.len = len,
		.ts_ns = ts_ns,
		.sink = sink,
		.stats = stats,
	};

	x.d = &st->dir[x.dir];
	while (step(&x) == STEP_MORE)
		;
	return x.pos;
}

static void kafka_gap(void *state, enum st_dir dir, struct st_codec_stats *stats)
{
	struct kafka_state *st = state;
	struct kafka_dir *d = &st->dir[dir == ST_DIR_TO_SERVER ? 0 : 1];

	d->phase = PH_HUNT;
	d->nest = NEST_NONE;
	d->strict = 0;
	stats->resyncs++;
}

const struct st_codec st_codec_kafka = {
	.proto = ST_PROTO_KAFKA,
	.name = "kafka",
	.state_bytes = sizeof(struct kafka_state),
	.init = kafka_init,
	.feed = kafka_feed,
	.gap = kafka_gap,
	.datagram = NULL,
	.error_names = kafka_error_names,
	.n_errors = KERR__COUNT,
};
