/*
 * NATS codec: the client protocol's messages (docs.nats.io, "Client
 * Protocol", reference/reference-protocols/nats-protocol) become records
 * (PUB, HPUB: a client publishing) or egress counts (MSG, HMSG: the server
 * delivering); every other operation is passed over.  The interface and
 * the carry contract are codec.h's.
 *
 * The protocol is text: a control line ended by CRLF, whose operation name
 * is case-insensitive and whose fields are separated by runs of spaces or
 * tabs ("Protocol conventions"), and for the four message operations a
 * payload of a stated size followed by CRLF:
 *
 *	PUB  <subject> [reply-to] <#bytes>␍␊[payload]␍␊
 *	HPUB <subject> [reply-to] <#header bytes> <#total bytes>␍␊[headers][payload]␍␊
 *	MSG  <subject> <sid> [reply-to] <#bytes>␍␊[payload]␍␊
 *	HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>␍␊...
 *
 * The header block of HPUB/HMSG is the first <#header bytes> of the
 * payload: a version line "NATS/1.0" (optionally a status), header lines
 * "Name: value", and an empty line.  The record carries the raw block and
 * the number of header lines in it (the version line and the empty line
 * not counted); the value is the payload after it.  INFO, CONNECT, SUB,
 * UNSUB, PING, PONG, +OK and -ERR are passed over whole (counted as units).
 * A bare LF ends a line as CRLF does (the server tolerates it too).
 *
 * Bounds.  A control line may be at most NATS_LINE_MAX bytes through its
 * LF (the server's default max_control_line is 4096); a longer one is an
 * error and a resync, except INFO and CONNECT, whose JSON is passed over
 * quietly up to its LF whatever its length.  A payload larger than
 * NATS_PAYLOAD_MAX (the server's upper limit for max_payload, 64 MiB) is an
 * error.  A message that fits ST_CODEC_HOLD_MAX is parsed whole; a larger
 * one is parsed once ST_CODEC_HOLD_MAX bytes of it are offered: the record
 * carries the headers (when the block lies in that window) and the
 * payload's first bytes, ST_REC_F_VALUE_TRUNCATED and the true size, and
 * the rest (with its CRLF, not checked) streams past in this state.
 *
 * Resync, after gap(), a malformed line, or a payload not followed by CRLF:
 * bytes are passed over up to the next LF (after a bad payload, parsing
 * restarts at the payload's first byte), and the line that follows is tried
 * as an operation; a line that does not parse is passed over quietly too,
 * until one does.  Passed-over bytes count in skipped_bytes; each resync
 * counts once, with its error.
 *
 * State: struct nats_flow, a few bytes per direction.
 */
#include <string.h>

#include "dataplane/codec/codec.h"
#include "dataplane/compiler.h"

#define NATS_LINE_MAX 4096u                 /* control line through its LF */
#define NATS_PAYLOAD_MAX (64u * 1024 * 1024) /* largest max_payload allowed */
#define NATS_FIELDS_MAX 6                   /* operation and up to 5 arguments */

_Static_assert(NATS_LINE_MAX < ST_CODEC_HOLD_MAX, "a line must fit the carry");

enum nats_error {
	NATS_E_UNKNOWN_OPERATION,
	NATS_E_LINE_TOO_LONG,
	NATS_E_BAD_ARGUMENTS,
	NATS_E_PAYLOAD_TOO_LARGE,
	NATS_E_HEADER_SIZE,
	NATS_E_PAYLOAD_MISSING_CRLF,
	NATS_E_BAD_HEADER_BLOCK,
	NATS_E_WRONG_DIRECTION,
	NATS_E__COUNT
};

static const char *const nats_error_names[NATS_E__COUNT] = {
	[NATS_E_UNKNOWN_OPERATION] = "unknown_operation",
	[NATS_E_LINE_TOO_LONG] = "control_line_too_long",
	[NATS_E_BAD_ARGUMENTS] = "bad_arguments",
	[NATS_E_PAYLOAD_TOO_LARGE] = "payload_too_large",
	[NATS_E_HEADER_SIZE] = "header_size_over_total",
	[NATS_E_PAYLOAD_MISSING_CRLF] = "payload_missing_crlf",
	[NATS_E_BAD_HEADER_BLOCK] = "bad_header_block",
	[NATS_E_WRONG_DIRECTION] = "message_wrong_direction",
};

_Static_assert(NATS_E__COUNT <= ST_CODEC_ERRORS_MAX, "too many error names");

enum nats_mode {
	MODE_LINE = 0,    /* at a control line */
	MODE_PROBE,       /* at a line after a resync: failures are quiet */
	MODE_SKIP,        /* streaming past the rest of a large message */
	MODE_SKIP_LINE,   /* passing over a long INFO/CONNECT up to its LF */
	MODE_RESYNC,      /* passing over bytes up to the next LF */
};

struct nats_dir {
	uint32_t skip_left_bytes;
	uint8_t mode;     /* enum nats_mode */
};

struct nats_flow {
	struct nats_dir dir[2];
};

_Static_assert(sizeof(struct nats_flow) <= ST_CODEC_STATE_MAX, "state too big");

enum op {
	OP_PUB, OP_HPUB, OP_MSG, OP_HMSG,
	OP_SUB, OP_UNSUB, OP_INFO, OP_CONNECT, OP_PING, OP_PONG, OP_OK, OP_ERR,
	OP__COUNT
};

static const char *const op_names[OP__COUNT] = {
	"PUB", "HPUB", "MSG", "HMSG", "SUB", "UNSUB", "INFO", "CONNECT",
	"PING", "PONG", "+OK", "-ERR",
};

enum result {
	R_DONE,       /* *used bytes consumed; d->mode set */
	R_NEED_MORE,  /* leave the bytes from here to the carry */
	R_ERROR,      /* *err; *used bytes are the bad part to pass over */
};

struct field {
	const uint8_t *p;
	size_t len;
};

/* One message control line, parsed. */
struct message {
	enum op op;
	struct field subject;
	uint32_t header_bytes;   /* 0 for PUB/MSG */
	uint32_t total_bytes;    /* headers and payload */
};

static void nats_init(void *state)
{
	memset(state, 0, sizeof(struct nats_flow));
}

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c;
}

/* Splits line[0..len) into fields; -1 when there are more than max. */
static int split_fields(const uint8_t *line, size_t len, struct field *f, int max)
{
	int n = 0;
	size_t i = 0;

	for (;;) {
		size_t start;

		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			return n;
		if (n == max)
			return -1;
		start = i;
		while (i < len && !is_blank(line[i]))
			i++;
		f[n].p = line + start;
		f[n].len = i - start;
		n++;
	}
}

/* The operation named by the line's first field, or OP__COUNT. */
static enum op operation(const uint8_t *line, size_t len)
{
	size_t n = 0;

	while (n < len && !is_blank(line[n]))
		n++;
	for (unsigned o = 0; o < OP__COUNT; o++) {
		const char *name = op_names[o];
		size_t k;

		if (strlen(name) != n)
			continue;
		for (k = 0; k < n && upper(line[k]) == (uint8_t)name[k]; k++)
			;
		if (k == n)
			return (enum op)o;
	}
	return OP__COUNT;
}

/* A byte count: 1-10 decimal digits.  Returns false when not a number. */
static bool parse_count(const struct field *f, uint64_t *value)
{
	uint64_t v = 0;

	if (f->len == 0 || f->len > 10)
		return false;
	for (size_t i = 0; i < f->len; i++) {
		if (f->p[i] < '0' || f->p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(f->p[i] - '0');
	}
	*value = v;
	return true;
}

/*
 * The arguments of PUB, HPUB, MSG, HMSG: a subject first; the last one or
 * two fields are sizes; MSG/HMSG have a sid second; a reply subject may
 * sit before the sizes.  Returns -1 or an enum nats_error.
 */
static int parse_message(const uint8_t *line, size_t len, struct message *m)
{
	struct field f[NATS_FIELDS_MAX];
	int n = split_fields(line, len, f, NATS_FIELDS_MAX);
	int sizes = (m->op == OP_HPUB || m->op == OP_HMSG) ? 2 : 1;
	int fixed = 1 + (m->op == OP_MSG || m->op == OP_HMSG) + sizes;
	uint64_t hdr = 0, total;

	/* fields: the operation, `fixed` arguments, an optional reply-to */
	if (n < 1 + fixed || n > 2 + fixed)
		return NATS_E_BAD_ARGUMENTS;
	if (!parse_count(&f[n - 1], &total) ||
	    (sizes == 2 && !parse_count(&f[n - 2], &hdr)))
		return NATS_E_BAD_ARGUMENTS;
	if (total > NATS_PAYLOAD_MAX)
		return NATS_E_PAYLOAD_TOO_LARGE;
	if (hdr > total)
		return NATS_E_HEADER_SIZE;
	m->subject = f[1];
	m->header_bytes = (uint32_t)hdr;
	m->total_bytes = (uint32_t)total;
	return -1;
}

/* Header lines in a NATS/1.0 block; false when it lacks the version line. */
static bool count_headers(const uint8_t *h, size_t len, uint32_t *count)
{
	size_t i = 0;
	bool first = true;

	*count = 0;
	if (len < 8 || memcmp(h, "NATS/1.0", 8) != 0)
		return false;
	while (i < len) {
		const uint8_t *lf = memchr(h + i, '\n', len - i);
		size_t end = lf ? (size_t)(lf - h) : len;
		size_t line_len = end - i;

		if (line_len > 0 && h[end - 1] == '\r' && lf)
			line_len--;
		if (!first && line_len > 0)
			(*count)++;
		first = false;
		i = end + 1;
	}
	return true;
}

static void emit_message(enum st_dir dir, const struct message *m,
			 const uint8_t *payload, size_t payload_avail,
			 uint64_t ts_ns, bool quiet, const struct st_codec_sink *sink,
			 struct st_codec_stats *stats)
{
	bool publish = m->op == OP_PUB || m->op == OP_HPUB;
	struct st_record r;

	memset(&r, 0, sizeof(r));
	r.proto = ST_PROTO_NATS;
	r.partition = -1;
	r.count = 1;
	r.stream = m->subject.p;
	r.stream_len = (uint32_t)m->subject.len;
	r.value_bytes = m->total_bytes - m->header_bytes;
	r.ts_ns = ts_ns;
	if (m->header_bytes <= payload_avail) {
		if (m->op == OP_HPUB || m->op == OP_HMSG) {
			r.headers = payload;
			r.headers_len = m->header_bytes;
			if (!count_headers(payload, m->header_bytes, &r.header_count) &&
			    !quiet)
				stats->errors[NATS_E_BAD_HEADER_BLOCK]++;
		}
		r.value = payload + m->header_bytes;
		r.value_len = (uint32_t)ST_MIN(payload_avail - m->header_bytes,
					       (size_t)r.value_bytes);
	} else {
		r.value = payload;  /* the header block alone overflows the window */
	}
	if (r.value_len < r.value_bytes) {
		r.flags |= ST_REC_F_VALUE_TRUNCATED;
		stats->truncated_values++;
	}
	if (publish != (dir == ST_DIR_TO_SERVER))
		stats->errors[NATS_E_WRONG_DIRECTION]++;
	if (publish) {
		r.kind = ST_REC_RECORD;
		stats->records++;
	} else {
		r.kind = ST_REC_EGRESS;
		stats->egress_records++;
	}
	sink->record(sink->ctx, &r);
}

/*
 * The message whose control line is p[0..line_len): waits for it whole
 * when it fits the carry, else for ST_CODEC_HOLD_MAX bytes of it.
 */
static enum result message(struct nats_dir *d, enum st_dir dir,
			   struct message *m, const uint8_t *p, size_t avail,
			   size_t line_len, uint64_t ts_ns, bool quiet,
			   const struct st_codec_sink *sink,
			   struct st_codec_stats *stats, size_t *used, int *err)
{
	size_t unit = line_len + m->total_bytes + 2u;
	size_t window = ST_MIN(unit, (size_t)ST_CODEC_HOLD_MAX);
	size_t end = line_len + m->total_bytes;

	if (avail < window)
		return R_NEED_MORE;
	if (unit <= window && (p[end] != '\r' || p[end + 1] != '\n')) {
		*err = NATS_E_PAYLOAD_MISSING_CRLF;
		*used = line_len;
		return R_ERROR;
	}
	stats->units[dir]++;
	emit_message(dir, m, p + line_len, ST_MIN(window - line_len,
						  (size_t)m->total_bytes),
		     ts_ns, quiet, sink, stats);
	*used = window;
	d->mode = MODE_LINE;
	if (unit > window) {
		d->skip_left_bytes = (uint32_t)(unit - window);
		d->mode = MODE_SKIP;
	}
	return R_DONE;
}

/* One operation at p (a line start). */
static enum result operation_unit(struct nats_dir *d, enum st_dir dir,
				  const uint8_t *p, size_t avail, uint64_t ts_ns,
				  bool quiet, const struct st_codec_sink *sink,
				  struct st_codec_stats *stats, size_t *used,
				  int *err)
{
	const uint8_t *lf = memchr(p, '\n', ST_MIN(avail, (size_t)NATS_LINE_MAX));
	size_t line_len, text_len;
	struct message m;
	enum op op;
	int e;

	if (!lf) {
		if (avail < NATS_LINE_MAX)
			return R_NEED_MORE;
		op = operation(p, NATS_LINE_MAX);
		if (op == OP_INFO || op == OP_CONNECT) {
			stats->units[dir]++;
			stats->skipped_bytes += NATS_LINE_MAX;
			*used = NATS_LINE_MAX;
			d->mode = MODE_SKIP_LINE;
			return R_DONE;
		}
		*err = NATS_E_LINE_TOO_LONG;
		*used = NATS_LINE_MAX;
		return R_ERROR;
	}
	line_len = (size_t)(lf - p) + 1;
	text_len = line_len - 1;
	if (text_len > 0 && p[text_len - 1] == '\r')
		text_len--;
	op = operation(p, text_len);
	*used = line_len;
	switch (op) {
	case OP__COUNT:
		*err = NATS_E_UNKNOWN_OPERATION;
		return R_ERROR;
	case OP_PUB:
	case OP_HPUB:
	case OP_MSG:
	case OP_HMSG:
		m.op = op;
		e = parse_message(p, text_len, &m);
		if (e >= 0) {
			*err = e;
			return R_ERROR;
		}
		return message(d, dir, &m, p, avail, line_len, ts_ns, quiet,
			       sink, stats, used, err);
	default:
		stats->units[dir]++;
		stats->skipped_bytes += line_len;
		d->mode = MODE_LINE;
		return R_DONE;
	}
}

/* Passes over bytes through the next LF; true when it was found. */
static bool skip_to_lf(const uint8_t *p, size_t avail,
		       struct st_codec_stats *stats, size_t *used)
{
	const uint8_t *lf = memchr(p, '\n', avail);

	*used = lf ? (size_t)(lf - p) + 1 : avail;
	stats->skipped_bytes += *used;
	return lf != NULL;
}

static size_t nats_feed(void *state, enum st_dir dir, const uint8_t *data,
			size_t len, uint64_t ts_ns,
			const struct st_codec_sink *sink,
			struct st_codec_stats *stats)
{
	struct nats_flow *fl = state;
	struct nats_dir *d = &fl->dir[dir];
	size_t off = 0, used;
	enum result r;
	bool quiet;
	int err;

	while (off < len) {
		switch (d->mode) {
		case MODE_SKIP:
			used = ST_MIN((size_t)d->skip_left_bytes, len - off);
			d->skip_left_bytes -= (uint32_t)used;
			stats->skipped_bytes += used;
			if (d->skip_left_bytes == 0)
				d->mode = MODE_LINE;
			off += used;
			continue;
		case MODE_SKIP_LINE:
		case MODE_RESYNC:
			if (skip_to_lf(data + off, len - off, stats, &used))
				d->mode = d->mode == MODE_RESYNC ? MODE_PROBE : MODE_LINE;
			off += used;
			continue;
		default:
			break;
		}
		quiet = d->mode == MODE_PROBE;
		r = operation_unit(d, dir, data + off, len - off, ts_ns, quiet,
				   sink, stats, &used, &err);
		if (r == R_NEED_MORE)
			break;
		if (r == R_ERROR) {
			if (!quiet) {
				stats->errors[err]++;
				stats->resyncs++;
			}
			stats->skipped_bytes += used;
			d->mode = err == NATS_E_LINE_TOO_LONG ? MODE_RESYNC : MODE_PROBE;
		}
		off += used;
	}
	return off;
}

static void nats_gap(void *state, enum st_dir dir, struct st_codec_stats *stats)
{
	struct nats_flow *fl = state;

	fl->dir[dir].mode = MODE_RESYNC;
	fl->dir[dir].skip_left_bytes = 0;
	stats->resyncs++;
}

const struct st_codec st_codec_nats = {
	.proto = ST_PROTO_NATS,
	.name = "nats",
	.state_bytes = sizeof(struct nats_flow),
	.init = nats_init,
	.feed = nats_feed,
	.gap = nats_gap,
	.datagram = NULL,
	.error_names = nats_error_names,
	.n_errors = NATS_E__COUNT,
};
