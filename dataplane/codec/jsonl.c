/*
 * JSON Lines codec (https://jsonlines.org: one JSON text per line, lines
 * ended by "\n", a "\r" before it allowed).  The codec only frames lines;
 * the pipeline runs the JSON scanner (dataplane/json) on each value.
 *
 * Records.  Each non-empty line is one event, its value the line without
 * the "\n" and without one "\r" before it.  JSONL has no broker: lines
 * toward the server port are producer records (ST_REC_RECORD), lines toward
 * the client are deliveries (ST_REC_EGRESS, count 1).  `stream` is NULL:
 * the pipeline names a JSONL stream by its destination.  Empty lines (also
 * "\r\n" alone) are not records and not errors.
 *
 * TCP (feed).  Whole lines are emitted from `data` in place; the tail after
 * the last "\n" is left unconsumed for the reassembler's carry while it is
 * at most ST_CODEC_HOLD_MAX bytes.  A longer line cannot wait for its end:
 * the codec keeps a copy of its first JSONL_HEAD_BYTES in its own state,
 * consumes the rest as it streams past, and at the line's "\n" emits one
 * record with ST_REC_F_VALUE_TRUNCATED, the head as value (the one event
 * whose value points into codec state, valid during the callback like any
 * other) and value_bytes = the line's true length (saturated at
 * UINT32_MAX).  It counts as error "line_too_long".
 *
 * Gap: the partial line is lost (the reassembler drops its carry); the
 * codec skips to the next "\n" and starts over after it (stats->resyncs and
 * skipped_bytes count it).  A gap inside a line, or exactly at a line's end,
 * cannot be told apart: the first line after a gap is always skipped.  A
 * long line cut by a gap is dropped and counts as "long_line_cut_by_gap".
 *
 * UDP (datagram).  A datagram holds one or more lines; a last line without
 * "\n" is a record too.
 *
 * State per flow: one struct jsonl_dir per direction (mode, the long
 * line's length so far and its head).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/codec/codec.h"
#include "dataplane/compiler.h"

#define JSONL_HEAD_BYTES 256u

enum jsonl_error {
	JSONL_E_LINE_TOO_LONG = 0,
	JSONL_E_LONG_LINE_CUT_BY_GAP,
	JSONL_E__COUNT
};

static const char *const jsonl_error_names[JSONL_E__COUNT] = {
	[JSONL_E_LINE_TOO_LONG] = "line_too_long",
	[JSONL_E_LONG_LINE_CUT_BY_GAP] = "long_line_cut_by_gap",
};

enum jsonl_mode {
	JSONL_LINES = 0,     /* at the start of a line */
	JSONL_LONG,          /* inside a line longer than ST_CODEC_HOLD_MAX */
	JSONL_RESYNC,        /* after a gap: skipping to the next "\n" */
};

struct jsonl_dir {
	uint8_t mode;            /* enum jsonl_mode */
	bool last_cr;            /* JSONL_LONG: the last byte seen was "\r" */
	uint16_t head_len;
	uint64_t line_bytes;     /* JSONL_LONG: bytes of the line so far */
	uint8_t head[JSONL_HEAD_BYTES];
};

struct jsonl_state {
	struct jsonl_dir dir[2];
};

_Static_assert(sizeof(struct jsonl_state) <= ST_CODEC_STATE_MAX,
	       "JSONL state fits the per-flow budget");
_Static_assert(JSONL_E__COUNT <= ST_CODEC_ERRORS_MAX, "error table fits");

static void jsonl_init(void *state)
{
	memset(state, 0, sizeof(struct jsonl_state));
}

static void emit(enum st_dir dir, const uint8_t *value, size_t value_len,
		 uint64_t value_bytes, uint8_t flags, uint64_t ts_ns,
		 const struct st_codec_sink *sink, struct st_codec_stats *stats)
{
	struct st_record r = {
		.kind = dir == ST_DIR_TO_SERVER ? ST_REC_RECORD : ST_REC_EGRESS,
		.proto = ST_PROTO_JSONL,
		.flags = flags,
		.partition = -1,
		.count = 1,
		.value = value,
		.value_len = (uint32_t)value_len,
		.value_bytes = value_bytes > UINT32_MAX ? UINT32_MAX :
						       (uint32_t)value_bytes,
		.ts_ns = ts_ns,
	};

	stats->units[dir]++;
	if (dir == ST_DIR_TO_SERVER)
		stats->records++;
	else
		stats->egress_records++;
	sink->record(sink->ctx, &r);
}

/* One line [p, nl) without its "\n": emitted unless empty. */
static void line(enum st_dir dir, const uint8_t *p, const uint8_t *nl,
		 uint64_t ts_ns, const struct st_codec_sink *sink,
		 struct st_codec_stats *stats)
{
	size_t n = (size_t)(nl - p);

	if (n && p[n - 1] == '\r')
		n--;
	if (n)
		emit(dir, p, n, n, 0, ts_ns, sink, stats);
}

static size_t jsonl_feed(void *state, enum st_dir dir, const uint8_t *data,
			 size_t len, uint64_t ts_ns,
			 const struct st_codec_sink *sink,
			 struct st_codec_stats *stats)
{
	struct jsonl_dir *d = &((struct jsonl_state *)state)->dir[dir & 1];
	const uint8_t *p = data, *end = data + len;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		switch (d->mode) {
		case JSONL_RESYNC:
			stats->skipped_bytes += n + (nl != NULL);
			if (!nl)
				return len;
			d->mode = JSONL_LINES;
			break;
		case JSONL_LONG:
			if (n)
				d->last_cr = p[n - 1] == '\r';
			d->line_bytes += n;
			if (!nl)
				return len;
			stats->errors[JSONL_E_LINE_TOO_LONG]++;
			stats->truncated_values++;
			emit(dir, d->head, d->head_len, d->line_bytes - d->last_cr,
			     ST_REC_F_VALUE_TRUNCATED, ts_ns, sink, stats);
			d->mode = JSONL_LINES;
			break;
		default:
			if (nl) {
				line(dir, p, nl, ts_ns, sink, stats);
				break;
			}
			if (n <= ST_CODEC_HOLD_MAX)
				return (size_t)(p - data);  /* the carry */
			d->mode = JSONL_LONG;
			d->head_len = JSONL_HEAD_BYTES;
			memcpy(d->head, p, JSONL_HEAD_BYTES);
			d->line_bytes = n;
			d->last_cr = p[n - 1] == '\r';
			return len;
		}
		p = nl + 1;
	}
	return len;
}

static void jsonl_gap(void *state, enum st_dir dir,
		      struct st_codec_stats *stats)
{
	struct jsonl_dir *d = &((struct jsonl_state *)state)->dir[dir & 1];

	stats->resyncs++;
	if (d->mode == JSONL_LONG)
		stats->errors[JSONL_E_LONG_LINE_CUT_BY_GAP]++;
	d->mode = JSONL_RESYNC;
	d->line_bytes = 0;
}

static void jsonl_datagram(enum st_dir dir, const uint8_t *data, size_t len,
			   uint64_t ts_ns, const struct st_codec_sink *sink,
			   struct st_codec_stats *stats)
{
	const uint8_t *p = data, *end = data + len;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));

		line(dir, p, nl ? nl : end, ts_ns, sink, stats);
		if (!nl)
			break;
		p = nl + 1;
	}
}

const struct st_codec st_codec_jsonl = {
	.proto = ST_PROTO_JSONL,
	.name = "jsonl",
	.state_bytes = sizeof(struct jsonl_state),
	.init = jsonl_init,
	.feed = jsonl_feed,
	.gap = jsonl_gap,
	.datagram = jsonl_datagram,
	.error_names = jsonl_error_names,
	.n_errors = JSONL_E__COUNT,
};
