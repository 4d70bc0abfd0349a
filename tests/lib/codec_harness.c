/* Test-only codec harness; see codec_harness.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_harness.h"
#include "st_test.h"

struct st_ch {
	const struct st_codec *codec;
	const struct st_ch_rules *rules;
	void *state;
	struct st_codec_stats stats;
	uint8_t *carry[2];
	size_t carry_len[2];
	const uint8_t *feed;        /* the bytes offered by the feed in progress */
	size_t feed_len;
	struct st_ch_record *recs;
	size_t n_recs, cap_recs;
	struct st_latency *lats;
	size_t n_lats, cap_lats;
	unsigned bad_events;
};

/* Fails the running test with `what` as the message (as CU_ASSERT would). */
static void ch_fail(const struct st_ch *h, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s codec: %s", h->codec->name, what);
	CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
}

static void *ch_alloc(size_t bytes)
{
	void *p = malloc(bytes ? bytes : 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

/* A copy of `len` bytes, NUL-terminated; NULL for NULL. */
static uint8_t *ch_copy(const uint8_t *p, size_t len)
{
	uint8_t *q;

	if (!p)
		return NULL;
	q = ch_alloc(len + 1);
	if (len)
		memcpy(q, p, len);
	q[len] = '\0';
	return q;
}

/* `arr` (of *cap `size`-byte elements, n used), grown so one more fits. */
static void *ch_grow(void *arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? 2 * *cap : 64;
	arr = realloc(arr, *cap * size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(arr);
	return arr;
}

bool st_ch_bytes_are(const uint8_t *copy, const void *want, size_t len)
{
	return copy && (len == 0 || memcmp(copy, want, len) == 0);
}

bool st_ch_in_feed(const struct st_ch *h, const void *p, size_t len)
{
	const uint8_t *b = p;

	return b && h->feed && b >= h->feed && len <= h->feed_len &&
	       (size_t)(b - h->feed) <= h->feed_len - len;
}

bool st_ch_in_state(const struct st_ch *h, const void *p, size_t len)
{
	const uint8_t *b = p, *s = h->state;

	return b && b >= s && len <= h->codec->state_bytes &&
	       (size_t)(b - s) <= h->codec->state_bytes - len;
}

static bool ch_points_in(const struct st_ch *h, const void *p, size_t len)
{
	return st_ch_in_feed(h, p, len) || st_ch_in_state(h, p, len);
}

/* The promises of codec.h every codec keeps; NULL when kept. */
static const char *ch_record_broken(const struct st_ch *h, const struct st_record *r)
{
	if (r->proto != h->codec->proto)
		return "record of another protocol";
	if (r->kind > ST_REC_EGRESS)
		return "unknown record kind";
	if (r->value_len > r->value_bytes)
		return "value_len > value_bytes";
	if (!!(r->flags & ST_REC_F_VALUE_TRUNCATED) != (r->value_len < r->value_bytes))
		return "truncation flag disagrees with the lengths";
	if (r->stream && !ch_points_in(h, r->stream, r->stream_len))
		return "stream outside the bytes fed and the codec state";
	if (r->stream_len >= ST_CH_STREAM_MAX)
		return "stream name too long";
	if (r->key && !ch_points_in(h, r->key, r->key_len))
		return "key outside the bytes fed and the codec state";
	if (r->value && !ch_points_in(h, r->value, r->value_len))
		return "value outside the bytes fed and the codec state";
	if (r->headers && !ch_points_in(h, r->headers, r->headers_len))
		return "headers outside the bytes fed and the codec state";
	if (!r->headers && (r->headers_len || r->header_count))
		return "header length or count without a header block";
	return NULL;
}

static void ch_on_record(void *ctx, const struct st_record *r)
{
	struct st_ch *h = ctx;
	const char *broken = ch_record_broken(h, r);
	struct st_ch_record *o;

	if (!broken && h->rules && h->rules->record)
		broken = h->rules->record(h, r);
	if (broken) {
		h->bad_events++;
		ch_fail(h, broken);
	}
	h->recs = ch_grow(h->recs, &h->cap_recs, h->n_recs, sizeof(*h->recs));
	o = &h->recs[h->n_recs++];
	memset(o, 0, sizeof(*o));
	o->kind = r->kind;
	o->flags = r->flags;
	o->qos = r->qos;
	o->has_stream = r->stream != NULL;
	o->partition = r->partition;
	o->count = r->count;
	o->packet_id = r->packet_id;
	o->stream_len = r->stream_len;
	o->key_len = r->key_len;
	o->value_len = r->value_len;
	o->value_bytes = r->value_bytes;
	o->headers_len = r->headers_len;
	o->header_count = r->header_count;
	o->timestamp_ms = r->timestamp_ms;
	o->ts_ns = r->ts_ns;
	if (broken)
		return;         /* its pointers may not be followed */
	if (r->stream)
		memcpy(o->stream, r->stream, r->stream_len);
	o->key = ch_copy(r->key, r->key_len);
	o->value = ch_copy(r->value, r->value_len);
	o->headers = ch_copy(r->headers, r->headers_len);
}

static void ch_on_latency(void *ctx, const struct st_latency *l)
{
	struct st_ch *h = ctx;
	const char *broken = NULL;

	if (l->proto != h->codec->proto)
		broken = "latency sample of another protocol";
	else if (h->rules && h->rules->latency)
		broken = h->rules->latency(h, l);
	if (broken) {
		h->bad_events++;
		ch_fail(h, broken);
	}
	h->lats = ch_grow(h->lats, &h->cap_lats, h->n_lats, sizeof(*h->lats));
	h->lats[h->n_lats++] = *l;
}

const char *st_ch_no_latency(const struct st_ch *h, const struct st_latency *l)
{
	(void)h;
	(void)l;
	return "a latency sample from a codec that measures none";
}

struct st_ch *st_ch_create(const struct st_codec *codec, const struct st_ch_rules *rules)
{
	struct st_ch *h = calloc(1, sizeof(*h));

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_FATAL(codec->state_bytes <= ST_CODEC_STATE_MAX);
	h->codec = codec;
	h->rules = rules;
	h->state = aligned_alloc(8, (codec->state_bytes + 7) & ~(size_t)7);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h->state);
	codec->init(h->state);
	return h;
}

void st_ch_forget(struct st_ch *h)
{
	for (size_t i = 0; i < h->n_recs; i++) {
		free(h->recs[i].key);
		free(h->recs[i].value);
		free(h->recs[i].headers);
	}
	h->n_recs = 0;
	h->n_lats = 0;
}

void st_ch_destroy(struct st_ch *h)
{
	if (!h)
		return;
	st_ch_forget(h);
	free(h->recs);
	free(h->lats);
	free(h->carry[0]);
	free(h->carry[1]);
	free(h->state);
	free(h);
}

void st_ch_feed(struct st_ch *h, enum st_dir dir, const void *data, size_t len,
		uint64_t ts_ns)
{
	struct st_codec_sink sink = { ch_on_record, ch_on_latency, h };
	size_t n = h->carry_len[dir] + len, used;
	uint8_t *buf = ch_alloc(n);

	if (h->carry_len[dir])
		memcpy(buf, h->carry[dir], h->carry_len[dir]);
	if (len)
		memcpy(buf + h->carry_len[dir], data, len);
	h->feed = buf;
	h->feed_len = n;
	used = h->codec->feed(h->state, dir, buf, n, ts_ns, &sink, &h->stats);
	h->feed = NULL;
	CU_ASSERT_FATAL(used <= n);
	CU_ASSERT_FATAL(n - used <= ST_CODEC_HOLD_MAX);
	if (n > ST_CODEC_HOLD_MAX)
		CU_ASSERT_FATAL(used > 0);
	free(h->carry[dir]);
	h->carry[dir] = ch_alloc(n - used);
	memcpy(h->carry[dir], buf + used, n - used);
	h->carry_len[dir] = n - used;
	free(buf);
}

void st_ch_feed_chunks(struct st_ch *h, enum st_dir dir, const void *data, size_t len,
		       size_t chunk_bytes, uint64_t ts_ns)
{
	const uint8_t *p = data;

	CU_ASSERT_FATAL(chunk_bytes > 0);
	for (size_t off = 0; off < len; off += chunk_bytes)
		st_ch_feed(h, dir, p + off, len - off < chunk_bytes ? len - off : chunk_bytes,
			   ts_ns);
}

void st_ch_gap(struct st_ch *h, enum st_dir dir)
{
	h->carry_len[dir] = 0;
	h->codec->gap(h->state, dir, &h->stats);
}

void st_ch_datagram(struct st_ch *h, enum st_dir dir, const void *data, size_t len,
		    uint64_t ts_ns)
{
	struct st_codec_sink sink = { ch_on_record, ch_on_latency, h };
	uint8_t *buf = ch_alloc(len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h->codec->datagram);
	if (len)
		memcpy(buf, data, len);
	h->feed = buf;
	h->feed_len = len;
	h->codec->datagram(dir, buf, len, ts_ns, &sink, &h->stats);
	h->feed = NULL;
	free(buf);
}

const struct st_codec_stats *st_ch_stats(const struct st_ch *h)
{
	return &h->stats;
}

size_t st_ch_carry_bytes(const struct st_ch *h, enum st_dir dir)
{
	return h->carry_len[dir];
}

uint64_t st_ch_error_count(const struct st_ch *h, const char *name)
{
	for (unsigned i = 0; i < h->codec->n_errors; i++)
		if (strcmp(h->codec->error_names[i], name) == 0)
			return h->stats.errors[i];
	fprintf(stderr, "%s codec: no error named %s\n", h->codec->name, name);
	CU_FAIL_FATAL("no such error name");
	return 0;
}

uint64_t st_ch_errors_total(const struct st_ch *h)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < ST_CODEC_ERRORS_MAX; i++)
		total += h->stats.errors[i];
	return total;
}

unsigned st_ch_bad_events(const struct st_ch *h)
{
	return h->bad_events;
}

size_t st_ch_record_count(const struct st_ch *h)
{
	return h->n_recs;
}

const struct st_ch_record *st_ch_record(const struct st_ch *h, size_t i)
{
	return i < h->n_recs ? &h->recs[i] : NULL;
}

size_t st_ch_latency_count(const struct st_ch *h)
{
	return h->n_lats;
}

const struct st_latency *st_ch_latency(const struct st_ch *h, size_t i)
{
	return i < h->n_lats ? &h->lats[i] : NULL;
}

/* ---- a capture through one harness per flow ---- */

struct ch_ref {
	unsigned flow;
	size_t index;
};

struct st_ch_run {
	struct st_cap *cap;
	struct st_ch **flow;
	struct ch_ref *order;       /* records in capture order */
	size_t n_order, cap_order;
};

struct st_ch_run *st_ch_run_capture(const struct st_codec *codec,
				    const struct st_ch_rules *rules, const char *path,
				    uint16_t server_port, bool tcp_only)
{
	struct st_ch_run *run = calloc(1, sizeof(*run));

	CU_ASSERT_PTR_NOT_NULL_FATAL(run);
	run->cap = st_cap_load(path, server_port);
	CU_ASSERT_PTR_NOT_NULL_FATAL(run->cap);
	run->flow = calloc(run->cap->flows ? run->cap->flows : 1, sizeof(*run->flow));
	CU_ASSERT_PTR_NOT_NULL_FATAL(run->flow);
	for (unsigned f = 0; f < run->cap->flows; f++)
		run->flow[f] = st_ch_create(codec, rules);
	for (size_t i = 0; i < run->cap->n; i++) {
		const struct st_cap_chunk *c = &run->cap->chunks[i];
		struct st_ch *h = run->flow[c->flow];
		size_t before = h->n_recs;

		if (tcp_only && c->l4_proto != 6)
			continue;
		st_ch_feed(h, c->to_server ? ST_DIR_TO_SERVER : ST_DIR_TO_CLIENT,
			   c->data, c->len, c->ts_ns);
		for (size_t k = before; k < h->n_recs; k++) {
			run->order = ch_grow(run->order, &run->cap_order,
					     run->n_order, sizeof(*run->order));
			run->order[run->n_order++] = (struct ch_ref){ c->flow, k };
		}
	}
	return run;
}

void st_ch_run_destroy(struct st_ch_run *run)
{
	if (!run)
		return;
	for (unsigned f = 0; f < run->cap->flows; f++)
		st_ch_destroy(run->flow[f]);
	free(run->flow);
	free(run->order);
	st_cap_free(run->cap);
	free(run);
}

const struct st_cap *st_ch_run_cap(const struct st_ch_run *run)
{
	return run->cap;
}

unsigned st_ch_run_flows(const struct st_ch_run *run)
{
	return run->cap->flows;
}

const struct st_ch *st_ch_run_flow(const struct st_ch_run *run, unsigned flow)
{
	return flow < run->cap->flows ? run->flow[flow] : NULL;
}

size_t st_ch_run_record_count(const struct st_ch_run *run)
{
	return run->n_order;
}

const struct st_ch_record *st_ch_run_record(const struct st_ch_run *run, size_t i)
{
	if (i >= run->n_order)
		return NULL;
	return st_ch_record(run->flow[run->order[i].flow], run->order[i].index);
}

uint64_t st_ch_run_stat(const struct st_ch_run *run, size_t offset)
{
	uint64_t total = 0;

	for (unsigned f = 0; f < run->cap->flows; f++) {
		uint64_t v;

		memcpy(&v, (const uint8_t *)&run->flow[f]->stats + offset, sizeof(v));
		total += v;
	}
	return total;
}

uint64_t st_ch_run_errors_total(const struct st_ch_run *run)
{
	uint64_t total = 0;

	for (unsigned f = 0; f < run->cap->flows; f++)
		total += st_ch_errors_total(run->flow[f]);
	return total;
}

unsigned st_ch_run_bad_events(const struct st_ch_run *run)
{
	unsigned total = 0;

	for (unsigned f = 0; f < run->cap->flows; f++)
		total += run->flow[f]->bad_events;
	return total;
}

/* ---- reference oracles ---- */

size_t st_ch_split(char *s, char sep, char **fields, size_t max)
{
	size_t n = 0;

	if (*s == '\0')
		return 0;
	while (n < max) {
		char *c = strchr(s, sep);

		fields[n++] = s;
		if (!c)
			break;
		*c = '\0';
		s = c + 1;
	}
	return n;
}

size_t st_ch_tshark_rows(const char *pcap, const char *args, size_t max_fields,
			 void (*row)(char **fields, size_t n, void *ctx), void *ctx)
{
	static char line[65536];
	char cmd[4096], **fields = calloc(max_fields ? max_fields : 1, sizeof(*fields));
	size_t rows = 0;
	FILE *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fields);
	snprintf(cmd, sizeof(cmd), "tshark -r '%s' %s 2>/dev/null", pcap, args);
	p = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		row(fields, st_ch_split(line, '\t', fields, max_fields), ctx);
		rows++;
	}
	CU_ASSERT_EQUAL(pclose(p), 0);
	free(fields);
	return rows;
}

unsigned st_ch_for_each_capture(const char *dir,
				void (*each)(const char *pcap, const char *result, void *ctx),
				void *ctx, unsigned *with_result)
{
	char dir_copy[1024], pcap[1600], result[1600];
	unsigned pcaps = 0, results = 0;
	struct dirent *de;
	DIR *d;

	/* `dir` may be st_test_data_path()'s buffer, which each() may reuse */
	snprintf(dir_copy, sizeof(dir_copy), "%s", dir);
	d = opendir(dir_copy);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		FILE *rf;

		if (len < 5 || strcmp(de->d_name + len - 5, ".pcap") != 0)
			continue;
		pcaps++;
		snprintf(pcap, sizeof(pcap), "%s/%s", dir_copy, de->d_name);
		snprintf(result, sizeof(result), "%s/%.*s.result", dir_copy,
			 (int)(len - 5), de->d_name);
		rf = fopen(result, "r");
		if (rf) {
			fclose(rf);
			results++;
		}
		each(pcap, rf ? result : NULL, ctx);
	}
	closedir(d);
	if (with_result)
		*with_result = results;
	return pcaps;
}
