/*
 * The analysis seam (analysis.h).  This version keeps per-stream figures
 * and history and raises no signals; the lead replaces the inside of
 * st_analysis_process() (features -> store -> detectors -> thresholds)
 * without changing its callers.
 *
 * Layout: streams[] holds pointers in the order first seen; index[] is an
 * open-addressing table (linear probing, power-of-two size, twice the
 * stream limit, so it never fills) of positions in streams[] + 1, keyed by
 * the stream id (the profile's st_hash64 of the name), the name compared
 * too.  Nothing is ever removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/cp/analysis.h"
#include "dataplane/sketch/hash.h"

#define INDEX_SLOTS (2u * ST_ANALYSIS_STREAMS_MAX)

_Static_assert((INDEX_SLOTS & (INDEX_SLOTS - 1)) == 0, "index size is a power of two");

struct st_analysis {
	const struct st_config *cfg;
	size_t n_streams;
	uint64_t streams_refused;
	struct st_analysis_stream **streams;  /* ST_ANALYSIS_STREAMS_MAX */
	uint32_t *index;                      /* INDEX_SLOTS */
};

struct st_analysis *st_analysis_create(const struct st_config *cfg)
{
	struct st_analysis *a = calloc(1, sizeof(*a));

	if (!a)
		goto out_nomem;
	a->cfg = cfg;
	a->streams = calloc(ST_ANALYSIS_STREAMS_MAX, sizeof(*a->streams));
	if (!a->streams)
		goto out_free_a;
	a->index = calloc(INDEX_SLOTS, sizeof(*a->index));
	if (!a->index)
		goto out_free_streams;
	return a;

out_free_streams:
	free(a->streams);
out_free_a:
	free(a);
out_nomem:
	errno = ENOMEM;
	return NULL;
}

void st_analysis_destroy(struct st_analysis *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_streams; i++)
		free(a->streams[i]);
	free(a->index);
	free(a->streams);
	free(a);
}

int st_analysis_reconfigure(struct st_analysis *a, const struct st_config *cfg)
{
	a->cfg = cfg;
	return 0;
}

/* The slot of (id, name): the one holding it, or the empty one where it
 * would go. */
static uint32_t *lookup(const struct st_analysis *a, uint64_t id, const char *name)
{
	uint32_t mask = INDEX_SLOTS - 1, i = (uint32_t)(id ^ id >> 32) & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t pos = a->index[i];

		if (!pos || (a->streams[pos - 1]->stream_id == id &&
			     !strcmp(a->streams[pos - 1]->name, name)))
			return &a->index[i];
	}
}

static struct st_analysis_stream *stream_of(struct st_analysis *a,
					    const struct st_profile_view *v, int *err)
{
	uint32_t *slot = lookup(a, v->stream_id, v->meta.name);
	struct st_analysis_stream *s;

	if (*slot)
		return a->streams[*slot - 1];
	if (a->n_streams >= ST_ANALYSIS_STREAMS_MAX) {
		a->streams_refused++;
		*err = -ENOSPC;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	strncpy(s->name, v->meta.name, sizeof(s->name) - 1);
	s->stream_id = v->stream_id;
	a->streams[a->n_streams++] = s;
	*slot = (uint32_t)a->n_streams;
	return s;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

static void remember_profile(struct st_analysis_stream *s, const struct st_profile_view *v,
			     uint64_t now_ns)
{
	double epoch_s = (double)v->meta.epoch_ns / 1e9;

	if (s->epochs && s->schema_fingerprint != v->summary.schema_fingerprint)
		s->schema_changes++;
	s->protocol = v->meta.protocol;
	s->last_epoch_start_ns = v->meta.epoch_start_ns;
	s->last_epoch_ns = v->meta.epoch_ns;
	s->last_seen_ns = now_ns;
	s->records_per_s = (double)v->counters.records / epoch_s;
	s->bytes_per_s = (double)v->counters.bytes / epoch_s;
	s->cardinality = v->summary.cardinality[0];
	s->top1_share = v->summary.top1_share[0];
	s->schema_fingerprint = v->summary.schema_fingerprint;
	s->schema_entries = v->summary.schema_entries;
	s->flags = v->meta.flags;
	s->cores_merged = v->meta.cores_merged;
	s->cores_expected = v->meta.cores_expected;
	s->key_fields = v->key_fields;
	s->numeric_fields = v->numeric_fields;
	for (unsigned i = 0; i < ST_PROFILE_KEY_FIELDS_MAX; i++)
		copy_name(s->key_field_names[i], sizeof(s->key_field_names[i]),
			  i < v->key_fields ? v->meta.key_field_names[i] : NULL);
	for (unsigned i = 0; i < ST_PROFILE_NUMERIC_FIELDS_MAX; i++)
		copy_name(s->numeric_field_names[i], sizeof(s->numeric_field_names[i]),
			  i < v->numeric_fields ? v->meta.numeric_field_names[i] : NULL);
	s->counters = v->counters;
	s->summary = v->summary;
	s->epochs++;
	s->partial_epochs += (v->meta.flags & ST_PROFILE_F_PARTIAL) != 0;
	s->records_total += v->counters.records;
	s->bytes_total += v->counters.bytes;
	s->rate_history[s->history_next] = (float)s->records_per_s;
	s->cardinality_history[s->history_next] = (float)s->cardinality;
	s->history_next = (s->history_next + 1) % ST_ANALYSIS_HISTORY;
	if (s->history_len < ST_ANALYSIS_HISTORY)
		s->history_len++;
}

int st_analysis_process(struct st_analysis *a, const struct st_profile_view *v,
			uint64_t now_ns, struct st_signal *sig_out, bool *raised)
{
	struct st_analysis_stream *s;
	int err = 0;

	*raised = false;
	s = stream_of(a, v, &err);
	if (!s)
		return err;
	remember_profile(s, v, now_ns);
	/*
	 * Judgement goes here: features of v, the store, the detectors, the
	 * thresholds of the stream's criticality.  A raised signal fills
	 * *sig_out (stream id and name, now_ns, the epoch, score, horizon,
	 * causes, detectors, model version, severity), counts s->signals and
	 * sets *raised.  This version judges nothing.
	 */
	(void)sig_out;
	s->score = 0.0;
	s->severity = ST_SEVERITY_NONE;
	return 0;
}

size_t st_analysis_stream_count(const struct st_analysis *a)
{
	return a->n_streams;
}

const struct st_analysis_stream *st_analysis_stream_at(const struct st_analysis *a,
							size_t i)
{
	return i < a->n_streams ? a->streams[i] : NULL;
}

const struct st_analysis_stream *st_analysis_find(const struct st_analysis *a,
						  const char *name)
{
	size_t len = strnlen(name, ST_PROFILE_NAME_BYTES);
	uint32_t *slot;

	if (len == 0 || len >= ST_PROFILE_NAME_BYTES)
		return NULL;
	slot = lookup(a, st_hash64(name, len), name);
	return *slot ? a->streams[*slot - 1] : NULL;
}

uint64_t st_analysis_streams_refused(const struct st_analysis *a)
{
	return a->streams_refused;
}

int st_analysis_history(const struct st_analysis_stream *s, unsigned i,
			double *rate, double *cardinality)
{
	unsigned pos;

	if (i >= s->history_len)
		return -ERANGE;
	pos = (s->history_next + ST_ANALYSIS_HISTORY - s->history_len + i) %
	      ST_ANALYSIS_HISTORY;
	*rate = s->rate_history[pos];
	*cardinality = s->cardinality_history[pos];
	return 0;
}

size_t st_analysis_estimates(const struct st_analysis *a,
			     const struct st_analysis_stream *s,
			     struct st_analysis_estimate *out, size_t max)
{
	double rate_sum = 0, card_sum = 0, rate, card;
	size_t n = 0;

	(void)a;
	if (!s->history_len)
		return 0;
	for (unsigned i = 0; i < s->history_len; i++) {
		st_analysis_history(s, i, &rate, &card);
		rate_sum += rate;
		card_sum += card;
	}
	if (n < max)
		out[n++] = (struct st_analysis_estimate){ "window_epochs", s->history_len };
	if (n < max)
		out[n++] = (struct st_analysis_estimate){ "records_per_s_mean",
							  rate_sum / s->history_len };
	if (n < max)
		out[n++] = (struct st_analysis_estimate){ "cardinality_mean",
							  card_sum / s->history_len };
	return n;
}
