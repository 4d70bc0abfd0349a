/*
 * The analysis (analysis.h): per stream, the view figures, the features,
 * the detectors, the forecaster; per daemon, the store and the forest's
 * trainer; and the one way they become a signal.
 *
 * Layout: streams[] holds pointers in the order first seen; index[] is an
 * open-addressing table (linear probing, power-of-two size, twice the
 * stream limit, so it never fills) of positions in streams[] + 1, keyed by
 * the stream id (the profile's st_hash64 of the name), the name compared
 * too.  judges[i] is stream i's private detector state.  Nothing is ever
 * removed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <endian.h>

#include "control/cp/analysis.h"
#include "control/detect/detect.h"
#include "control/features/features.h"
#include "control/models/forecast.h"
#include "control/models/iforest.h"
#include "control/models/trainer.h"
#include "control/score/score.h"
#include "control/store/store.h"
#include "dataplane/compiler.h"
#include "dataplane/sketch/hash.h"

#define INDEX_SLOTS (2u * ST_ANALYSIS_STREAMS_MAX)

_Static_assert((INDEX_SLOTS & (INDEX_SLOTS - 1)) == 0, "index size is a power of two");

/*
 * The watched features and the least change that matters in each (the
 * CUSUM's sd_floor, in the feature's units): 5% of a rate, a cardinality
 * or a size (they are logarithms), 2 points of a share, 0.1 of Kafka
 * imbalance, 1 point of parse errors, 0.05 of spectral distance.  The
 * dominant period and the flatness are not watched on their own (they jump
 * between bins on noise); the spectral distance carries the pattern.  The
 * schema features are judged by the drift rules, not by a detector.
 */
static const double watch_floor[ST_FEAT_COUNT] = {
	[ST_FEAT_LOG_RECORD_RATE] = 0.05,
	[ST_FEAT_LOG_BYTE_RATE] = 0.05,
	[ST_FEAT_LOG_CARD_0] = 0.05,
	[ST_FEAT_LOG_CARD_1] = 0.05,
	[ST_FEAT_LOG_CARD_2] = 0.05,
	[ST_FEAT_LOG_CARD_3] = 0.05,
	[ST_FEAT_TOP1_SHARE_0] = 0.02,
	[ST_FEAT_TOP1_SHARE_1] = 0.02,
	[ST_FEAT_TOP1_SHARE_2] = 0.02,
	[ST_FEAT_TOP1_SHARE_3] = 0.02,
	[ST_FEAT_ENTROPY_0] = 0.02,
	[ST_FEAT_GINI_0] = 0.02,
	[ST_FEAT_KAFKA_IMBALANCE] = 0.1,
	[ST_FEAT_LOG_SIZE_P99] = 0.05,
	[ST_FEAT_PARSE_ERROR_RATE] = 0.01,
	[ST_FEAT_SPECTRAL_DISTANCE] = 0.05,
};

/* Features with a BOCPD beside their CUSUM. */
static const enum st_feature_id bocpd_features[] = {
	ST_FEAT_LOG_RECORD_RATE, ST_FEAT_LOG_CARD_0, ST_FEAT_TOP1_SHARE_0,
};
#define N_BOCPD ST_ARRAY_SIZE(bocpd_features)

/*
 * Evidence of one watched feature (evidence()): a CUSUM alarm scores
 * EVIDENCE_ALARM plus the rest of [0,1] in proportion to how far the
 * epoch's z lies beyond Z_LOW, reaching 1 at Z_FULL: an alarm built from
 * many small steps stays under the low severity (0.3; a CUSUM at h = 5,
 * k = 0.5 alarms on stationary data every few hundred epochs), a jump of
 * four standard deviations is low, one of ten or more is certain.
 * A BOCPD whose change probability reaches BOCPD_LEVEL (its own tests show
 * stationary data stays below 0.8) scores half that probability and
 * confirms the CUSUM.
 */
#define EVIDENCE_ALARM 0.2
#define Z_LOW 3.0
#define Z_FULL 10.0
#define BOCPD_LEVEL 0.8

#define TRAIN_MIN_ROWS 256           /* a forest needs a sample's worth */
#define TRAIN_MAX_ROWS 200000
#define TRAIN_FIRST_ROWS 512         /* fine records stored before asking for the first forest */

struct judge {
	struct st_featstate *features;
	struct st_cusum *cusum[ST_FEAT_COUNT];   /* NULL: not watched */
	struct st_bocpd *bocpd[N_BOCPD];
	struct st_forecast *forecast;
	bool episode;                 /* severity above none lately */
	unsigned quiet;               /* epochs at none since */
	uint8_t episode_severity;     /* highest signalled in the episode */
	uint32_t episode_causes;      /* causes signalled in the episode */
};

struct st_analysis {
	const struct st_config *cfg;
	size_t n_streams;
	uint64_t streams_refused;
	struct st_analysis_stream **streams;  /* ST_ANALYSIS_STREAMS_MAX */
	struct judge **judges;                /* ST_ANALYSIS_STREAMS_MAX */
	uint32_t *index;                      /* INDEX_SLOTS */
	struct st_store *store;
	struct st_trainer *trainer;
	struct st_iforest *forest;            /* the scorer's reference */
	uint64_t appended_since_ask;          /* fine records since the last
					       * first-model request */
	char model_path[ST_CONFIG_PATH_MAX + 32];
	struct st_trainer_conf trainer_conf;
};

/* The trainer's rows: every fine record the store holds, as rows. */
static int fill_rows(void *ctx, struct st_trainer_rows *rows)
{
	struct st_analysis *a = ctx;
	struct st_store_iter *it = st_store_iter_create(a->store, ST_STORE_FINE, 0);
	struct st_store_record rec;
	double row[ST_FEAT_COUNT];
	int rc;

	if (!it)
		return -errno;
	while ((rc = st_store_iter_next(it, &rec)) != 0) {
		if (rc < 0)
			continue;  /* that segment is skipped; the next one follows */
		if (rec.f.flags & ST_FEAT_F_PARTIAL)
			continue;
		st_iforest_row_from_features(&rec.f, row);
		if (st_trainer_rows_add(rows, row) == -ENOSPC)
			break;
	}
	st_store_iter_destroy(it);
	return 0;
}

static int open_models(struct st_analysis *a, const char *state_dir, char *err,
		       size_t err_len)
{
	const struct st_config_detectors *d = st_config_detectors(a->cfg);
	struct st_trainer_conf *tc = &a->trainer_conf;
	const char *names[ST_FEAT_COUNT];
	int rc;

	for (unsigned i = 0; i < ST_FEAT_COUNT; i++)
		names[i] = st_feature_name((enum st_feature_id)i);
	snprintf(a->model_path, sizeof(a->model_path), "%s/iforest.model", state_dir);
	memset(tc, 0, sizeof(*tc));
	rc = st_iforest_schema_init(&tc->schema, ST_FEATURES_VERSION, names, ST_FEAT_COUNT);
	if (rc)
		return rc;
	tc->params.trees = d->iforest_trees;
	tc->params.sample = d->iforest_sample;
	tc->params.seed = 0x5348414457544150ull;  /* "SHADWTAP" */
	tc->model_path = a->model_path;
	tc->refresh_s = d->model_refresh_s;
	tc->min_rows = TRAIN_MIN_ROWS;
	tc->max_rows = TRAIN_MAX_ROWS;
	tc->fill = fill_rows;
	tc->ctx = a;
	a->trainer = st_trainer_create(tc);
	if (!a->trainer) {
		rc = -errno;
		snprintf(err, err_len, "model trainer: %s", strerror(-rc));
		return rc;
	}
	rc = st_trainer_start(a->trainer);
	if (rc)
		snprintf(err, err_len, "model trainer thread: %s", strerror(-rc));
	return rc;
}

struct st_analysis *st_analysis_create(const struct st_config *cfg,
				       const char *state_dir, char *err,
				       size_t err_len)
{
	struct st_analysis *a = calloc(1, sizeof(*a));
	struct st_store_options so;
	char dir[ST_CONFIG_PATH_MAX + 16];
	int rc = -ENOMEM;

	if (!a)
		goto out_nomem;
	a->cfg = cfg;
	a->streams = calloc(ST_ANALYSIS_STREAMS_MAX, sizeof(*a->streams));
	a->judges = calloc(ST_ANALYSIS_STREAMS_MAX, sizeof(*a->judges));
	a->index = calloc(INDEX_SLOTS, sizeof(*a->index));
	if (!a->streams || !a->judges || !a->index)
		goto out_free;
	snprintf(dir, sizeof(dir), "%s/history", state_dir);
	st_store_options_default(&so, dir);
	so.retention = *st_config_retention(cfg);
	a->store = st_store_open(&so);
	if (!a->store) {
		rc = -errno;
		snprintf(err, err_len, "store %s: %s", dir, strerror(-rc));
		goto out_free;
	}
	rc = open_models(a, state_dir, err, err_len);
	if (rc)
		goto out_store;
	return a;

out_store:
	st_trainer_destroy(a->trainer);
	st_store_close(a->store);
out_free:
	free(a->index);
	free(a->judges);
	free(a->streams);
	free(a);
	errno = -rc;
	return NULL;
out_nomem:
	snprintf(err, err_len, "%s", strerror(ENOMEM));
	errno = ENOMEM;
	return NULL;
}

static void judge_destroy(struct judge *j)
{
	if (!j)
		return;
	st_featstate_destroy(j->features);
	for (unsigned f = 0; f < ST_FEAT_COUNT; f++)
		st_cusum_destroy(j->cusum[f]);
	for (unsigned b = 0; b < N_BOCPD; b++)
		st_bocpd_destroy(j->bocpd[b]);
	st_forecast_destroy(j->forecast);
	free(j);
}

void st_analysis_destroy(struct st_analysis *a)
{
	if (!a)
		return;
	/* the trainer's thread reads the store: stop it first */
	st_trainer_destroy(a->trainer);
	st_iforest_destroy(a->forest);
	st_store_close(a->store);
	for (size_t i = 0; i < a->n_streams; i++) {
		free(a->streams[i]);
		judge_destroy(a->judges[i]);
	}
	free(a->index);
	free(a->judges);
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

/* The stream's rule: the one whose name is the stream's, or none. */
static const struct st_config_stream *rule_of(const struct st_config *cfg, const char *name)
{
	for (size_t i = 0; i < st_config_stream_count(cfg); i++) {
		const struct st_config_stream *r = st_config_stream_at(cfg, i);

		if (!strcmp(r->name, name))
			return r;
	}
	return NULL;
}

static struct judge *judge_create(const struct st_config *cfg)
{
	const struct st_config_detectors *d = st_config_detectors(cfg);
	struct st_cusum_params cp = {
		.drift_sd = d->cusum_drift,
		.threshold_sd = d->cusum_threshold,
		.warmup = d->warmup_epochs < 2 ? 2 : d->warmup_epochs,
	};
	struct st_bocpd_params bp = ST_BOCPD_PARAMS_DEFAULT;
	struct judge *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->features = st_featstate_create(NULL);
	if (!j->features)
		goto out_destroy;
	for (unsigned f = 0; f < ST_FEAT_COUNT; f++) {
		if (watch_floor[f] <= 0)
			continue;
		cp.sd_floor = watch_floor[f];
		j->cusum[f] = st_cusum_create(&cp);
		if (!j->cusum[f])
			goto out_destroy;
	}
	bp.hazard = d->bocpd_hazard;
	bp.max_run = d->bocpd_max_run < 2 ? 2 : d->bocpd_max_run;
	bp.warmup = cp.warmup;
	for (unsigned b = 0; b < N_BOCPD; b++) {
		j->bocpd[b] = st_bocpd_create(&bp);
		if (!j->bocpd[b])
			goto out_destroy;
	}
	j->forecast = st_forecast_create(d->season_s, st_forecast_step_for(d->season_s));
	if (!j->forecast)
		goto out_destroy;
	return j;

out_destroy:
	judge_destroy(j);
	errno = ENOMEM;
	return NULL;
}

static struct st_analysis_stream *stream_of(struct st_analysis *a,
					    const struct st_profile_view *v,
					    struct judge **judge, int *err)
{
	uint32_t *slot = lookup(a, v->stream_id, v->meta.name);
	struct st_analysis_stream *s;
	struct judge *j;

	if (*slot) {
		*judge = a->judges[*slot - 1];
		return a->streams[*slot - 1];
	}
	if (a->n_streams >= ST_ANALYSIS_STREAMS_MAX) {
		a->streams_refused++;
		*err = -ENOSPC;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	j = judge_create(a->cfg);
	if (!s || !j) {
		free(s);
		judge_destroy(j);
		*err = -ENOMEM;
		return NULL;
	}
	strncpy(s->name, v->meta.name, sizeof(s->name) - 1);
	s->stream_id = v->stream_id;
	s->horizon_s = -1;
	s->forecast_rps = NAN;
	s->iforest_score = NAN;
	a->judges[a->n_streams] = j;
	a->streams[a->n_streams++] = s;
	*slot = (uint32_t)a->n_streams;
	*judge = j;
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

/* x clamped to [0,1]. */
static double unit(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* Change evidence of the watched features into in (see EVIDENCE_ALARM). */
static void evidence(struct judge *j, const struct st_features *f,
		     struct st_score_inputs *in)
{
	for (unsigned k = 0; k < ST_FEAT_COUNT; k++) {
		struct st_cusum_result r;

		if (!j->cusum[k] || (f->missing & (1u << k)) ||
		    st_cusum_update(j->cusum[k], f->v[k], &r) || !r.alarm)
			continue;
		in->feature[k] = EVIDENCE_ALARM + (1 - EVIDENCE_ALARM) *
				 unit((fabs(r.z) - Z_LOW) / (Z_FULL - Z_LOW));
		in->feature_detectors[k] |= ST_SIGNAL_DET_CUSUM;
	}
	for (unsigned b = 0; b < N_BOCPD; b++) {
		enum st_feature_id k = bocpd_features[b];
		struct st_bocpd_result r;

		if ((f->missing & (1u << k)) || st_bocpd_update(j->bocpd[b], &f->v[k], &r) ||
		    r.warming || r.change_prob < BOCPD_LEVEL)
			continue;
		if (0.5 * r.change_prob > in->feature[k])
			in->feature[k] = 0.5 * r.change_prob;
		in->feature_detectors[k] |= ST_SIGNAL_DET_BOCPD;
	}
}

/* The forest's score of f and its top feature into in; s->iforest_score. */
static void forest(struct st_analysis *a, const struct st_features *f,
		   struct st_analysis_stream *s, struct st_score_inputs *in)
{
	double row[ST_FEAT_COUNT], share[ST_FEAT_COUNT];
	uint32_t version = st_trainer_version(a->trainer);

	if (version && (!a->forest || st_iforest_version(a->forest) != version)) {
		st_iforest_destroy(a->forest);
		a->forest = st_trainer_model(a->trainer);
	}
	s->iforest_score = NAN;
	if (!a->forest)
		return;
	st_iforest_row_from_features(f, row);
	in->have_iforest = true;
	in->iforest = st_iforest_explain(a->forest, row, share);
	in->iforest_top_feature = (int)st_iforest_top_feature(share, ST_FEAT_COUNT);
	s->iforest_score = in->iforest;
}

/* The first forest is asked for once enough history is stored. */
static void maybe_first_training(struct st_analysis *a)
{
	if (st_trainer_version(a->trainer) || ++a->appended_since_ask < TRAIN_FIRST_ROWS)
		return;
	a->appended_since_ask = 0;
	st_trainer_retrain(a->trainer);
}

/* Whether this epoch's judgement is signalled (the episode rules). */
static bool worth_a_signal(struct judge *j, const struct st_score *sc)
{
	if (sc->severity == ST_SEVERITY_NONE) {
		if (j->episode && ++j->quiet >= ST_ANALYSIS_QUIET_EPOCHS) {
			j->episode = false;
			j->episode_severity = ST_SEVERITY_NONE;
			j->episode_causes = 0;
		}
		return false;
	}
	j->quiet = 0;
	if (j->episode && sc->severity <= j->episode_severity &&
	    !(sc->causes & ~j->episode_causes))
		return false;
	j->episode = true;
	if (sc->severity > j->episode_severity)
		j->episode_severity = (uint8_t)sc->severity;
	j->episode_causes |= sc->causes;
	return true;
}

static void put_f64(uint64_t *le, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	*le = htole64(bits);
}

static void fill_signal(const struct st_analysis_stream *s, const struct st_score *sc,
			uint64_t epoch_start_ns, uint64_t now_ns, uint32_t model_version,
			struct st_signal *sig)
{
	memset(sig, 0, sizeof(*sig));
	sig->stream_id_le = htole64(s->stream_id);
	memcpy(sig->stream_name, s->name, sizeof(sig->stream_name));
	sig->timestamp_ns_le = htole64(now_ns);
	sig->epoch_start_ns_le = htole64(epoch_start_ns);
	put_f64(&sig->score_le, sc->score);
	put_f64(&sig->horizon_s_le, s->horizon_s);
	sig->causes_le = htole32(sc->causes);
	sig->detectors_le = htole32(sc->detectors);
	sig->model_version_le = htole32(model_version);
	sig->severity = (uint8_t)sc->severity;
}

int st_analysis_process(struct st_analysis *a, const struct st_profile_view *v,
			uint64_t now_ns, struct st_signal *sig_out, bool *raised)
{
	const struct st_config_detectors *d = st_config_detectors(a->cfg);
	const struct st_config_stream *rule;
	struct st_analysis_stream *s;
	struct st_score_inputs in;
	struct st_features f;
	struct st_score sc;
	struct judge *j = NULL;
	int err = 0;

	*raised = false;
	s = stream_of(a, v, &j, &err);
	if (!s)
		return err;
	remember_profile(s, v, now_ns);
	rule = rule_of(a->cfg, s->name);
	s->criticality = (uint8_t)st_config_stream_criticality(rule);
	s->capacity_rps = st_config_stream_capacity_rps(a->cfg, rule);
	st_store_add_profile_view(a->store, v);  /* refusals are counted there */
	st_score_inputs_init(&in, d->forecast_horizon_s);
	if (st_featstate_update(j->features, v, &f) == 0) {
		if (st_store_append(a->store, &f) == 0)
			maybe_first_training(a);
		if (!(f.flags & ST_FEAT_F_PARTIAL)) {
			evidence(j, &f, &in);
			forest(a, &f, s, &in);
		}
		in.schema_drift = f.v[ST_FEAT_SCHEMA_CHANGED] > 0;
	}
	if (!(v->meta.flags & ST_PROFILE_F_PARTIAL) &&
	    st_forecast_update(j->forecast, v->meta.epoch_start_ns, s->records_per_s) == 0) {
		s->horizon_s = st_forecast_horizon(j->forecast, s->capacity_rps,
						   d->forecast_horizon_s);
		s->forecast_rps = st_forecast_at(j->forecast, d->forecast_horizon_s);
		in.horizon_s = s->horizon_s;
	}
	st_score_combine(&in, st_config_threshold(a->cfg, (enum st_criticality)s->criticality),
			 &sc);
	s->score = sc.score;
	s->severity = (uint8_t)sc.severity;
	s->causes = sc.causes;
	s->detectors = sc.detectors;
	if (worth_a_signal(j, &sc)) {
		fill_signal(s, &sc, v->meta.epoch_start_ns, now_ns,
			    a->forest ? st_iforest_version(a->forest) : 0, sig_out);
		s->signals++;
		*raised = true;
	}
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
	static const struct {
		const char *name, *lower, *upper, *profiles;
		uint64_t window_ns;
	} windows[] = {
		{ "cardinality_1m", "cardinality_1m_lower", "cardinality_1m_upper",
		  "cardinality_1m_profiles", 60000000000ull },
		{ "cardinality_5m", "cardinality_5m_lower", "cardinality_5m_upper",
		  "cardinality_5m_profiles", 300000000000ull },
		{ "cardinality_1h", "cardinality_1h_lower", "cardinality_1h_upper",
		  "cardinality_1h_profiles", 3600000000000ull },
	};
	double rate_sum = 0, card_sum = 0, rate, card;
	size_t n = 0;

#define PUT(nm, val)                                                            \
	do {                                                                    \
		if (n < max)                                                    \
			out[n++] = (struct st_analysis_estimate){ (nm), (val) };  \
	} while (0)
	for (size_t w = 0; w < ST_ARRAY_SIZE(windows); w++) {
		struct st_store_card c;

		if (st_store_cardinality(a->store, s->stream_id, 0, windows[w].window_ns, &c))
			continue;
		PUT(windows[w].name, c.estimate);
		PUT(windows[w].lower, c.lower);
		PUT(windows[w].upper, c.upper);
		PUT(windows[w].profiles, c.profiles);
	}
	if (!isnan(s->forecast_rps))
		PUT("forecast_rps", s->forecast_rps);
	PUT("horizon_s", s->horizon_s);
	if (!isnan(s->iforest_score))
		PUT("iforest_score", s->iforest_score);
	if (s->history_len) {
		for (unsigned i = 0; i < s->history_len; i++) {
			st_analysis_history(s, i, &rate, &card);
			rate_sum += rate;
			card_sum += card;
		}
		PUT("window_epochs", s->history_len);
		PUT("records_per_s_mean", rate_sum / s->history_len);
		PUT("cardinality_mean", card_sum / s->history_len);
	}
#undef PUT
	return n;
}

void st_analysis_model(const struct st_analysis *a, struct st_analysis_model *out)
{
	struct st_trainer_stats ts;

	memset(out, 0, sizeof(*out));
	st_trainer_stats(a->trainer, &ts);
	out->version = ts.version;
	out->trainings = ts.trainings;
	out->failures = ts.failures;
	out->last_train_ns = ts.last_train_ns;
	out->last_rows = ts.last_rows;
	out->refresh_s = a->trainer_conf.refresh_s;
	out->trees = a->trainer_conf.params.trees;
	out->sample = a->trainer_conf.params.sample;
	if (ts.last_error)
		snprintf(out->last_error, sizeof(out->last_error), "%s", ts.last_error_why);
	if (ts.load_error && ts.load_error != -ENOENT)
		snprintf(out->load_error, sizeof(out->load_error), "%s", ts.load_why);
	snprintf(out->path, sizeof(out->path), "%s", a->model_path);
}

int st_analysis_retrain(struct st_analysis *a)
{
	return st_trainer_retrain(a->trainer);
}

void st_analysis_store_stats(const struct st_analysis *a, struct st_store_stats *out)
{
	st_store_stats(a->store, out);
}
