/*
 * Features: one stream's Shadow Profile of one epoch → the fixed vector of
 * features.h, with the per-stream memory that some features need (the
 * baseline spectrum, the learned schema).  Every rule is documented in
 * features.h; this file says how it is laid out.
 *
 * Reading the profile.  The view's summary and counters are used as they
 * are.  The few sketch figures the summary lacks (a heavy-hitter sketch's
 * total N, the size sketch's count, the ticks, the schema entries) are read
 * straight from the blobs at the offsets their headers document
 * (dataplane/sketch/heavy.c, quantile.c, ticks.c, schema.c: "Serialized
 * form"), with every length checked, instead of deserializing the sketches:
 * that would allocate per profile and cost more than the features.
 *
 * Schema table.  Two arrays of schema_paths_max entries, sorted by path
 * hash; an epoch is one merge walk of the current array with the epoch's
 * entries (sorted by hash in the blob) into the other, then the two swap.
 * Inserting and dropping cost nothing extra, and no memory is allocated
 * after create.  A path that leaves the baseline stays one more epoch,
 * marked dead, so that st_featstate_drift() can still list it.
 */
#include "control/features/features.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "control/features/spectrum.h"
#include "dataplane/compiler.h"
#include "dataplane/sketch/le.h"
#include "dataplane/sketch/ticks.h"
#include "shadowtap/sketch_blob.h"

static const char *const feature_names[ST_FEAT_COUNT] = {
	[ST_FEAT_LOG_RECORD_RATE] = "log_record_rate",
	[ST_FEAT_LOG_BYTE_RATE] = "log_byte_rate",
	[ST_FEAT_LOG_CARD_0] = "log_card_0",
	[ST_FEAT_LOG_CARD_1] = "log_card_1",
	[ST_FEAT_LOG_CARD_2] = "log_card_2",
	[ST_FEAT_LOG_CARD_3] = "log_card_3",
	[ST_FEAT_TOP1_SHARE_0] = "top1_share_0",
	[ST_FEAT_TOP1_SHARE_1] = "top1_share_1",
	[ST_FEAT_TOP1_SHARE_2] = "top1_share_2",
	[ST_FEAT_TOP1_SHARE_3] = "top1_share_3",
	[ST_FEAT_ENTROPY_0] = "entropy_0",
	[ST_FEAT_GINI_0] = "gini_0",
	[ST_FEAT_KAFKA_IMBALANCE] = "kafka_imbalance",
	[ST_FEAT_LOG_SIZE_P99] = "log_size_p99",
	[ST_FEAT_SCHEMA_CHANGED] = "schema_changed",
	[ST_FEAT_SCHEMA_DRIFT] = "schema_drift",
	[ST_FEAT_PARSE_ERROR_RATE] = "parse_error_rate",
	[ST_FEAT_DOMINANT_PERIOD_S] = "dominant_period_s",
	[ST_FEAT_SPECTRAL_FLATNESS] = "spectral_flatness",
	[ST_FEAT_SPECTRAL_DISTANCE] = "spectral_distance",
};

_Static_assert(ST_ARRAY_SIZE(feature_names) == ST_FEAT_COUNT, "a name per feature");
_Static_assert(ST_FEAT_LOG_CARD_3 - ST_FEAT_LOG_CARD_0 + 1 == ST_PROFILE_KEY_FIELDS_MAX,
	       "a cardinality per key field");
_Static_assert(ST_FEAT_TOP1_SHARE_3 - ST_FEAT_TOP1_SHARE_0 + 1 == ST_PROFILE_KEY_FIELDS_MAX,
	       "a top-1 share per key field");

const char *st_feature_name(enum st_feature_id id)
{
	if ((unsigned)id >= ST_FEAT_COUNT)
		return NULL;
	return feature_names[id];
}

/* ---- blob offsets (the sketch files' "Serialized form" comments) ---- */

#define BLOB_HDR ST_SKETCH_BLOB_HDR_BYTES
#define HEAVY_TOTAL_OFF (BLOB_HDR + 8)        /* u64 N */
#define QS_COUNT_OFF (BLOB_HDR + 16)          /* u64 accepted values */
#define TICKS_N_OFF (BLOB_HDR + 0)            /* u32 */
#define TICKS_TICK_NS_OFF (BLOB_HDR + 8)      /* u64 */
#define TICKS_VALUES_OFF (BLOB_HDR + 40)      /* u64 per tick */
#define SCHEMA_USED_OFF (BLOB_HDR + 4)        /* u32 */
#define SCHEMA_OVERFLOW_OFF (BLOB_HDR + 8)    /* u64 */
#define SCHEMA_ENTRIES_OFF (BLOB_HDR + 24)
#define SCHEMA_ENTRY_HDR 20u                  /* hash, count, mask, len, flags, reserved */

#define SHARE_FLOOR 1e-9

/* A u64 at off of a blob of `kind`, or 0 when the blob is absent or too
 * short (st_profile_parse() has checked it; this is the belt to its
 * braces). */
static uint64_t blob_u64(const struct st_profile_blob *b, uint8_t kind, size_t off)
{
	if (!b->data || b->len < off + 8 || b->data[0] != kind)
		return 0;
	return st_get_le64(b->data + off);
}

/* ---- the state ---- */

struct schema_path {
	uint64_t path_hash;
	double share;              /* expected occurrences per record */
	double expected;           /* share * R before the last epoch */
	uint64_t epoch_count;
	uint16_t present_streak;   /* NEW: consecutive presences */
	uint16_t missing_streak;
	uint16_t retype_streak;
	uint16_t reported;         /* streak value reported last epoch */
	uint8_t in_baseline;
	uint8_t dead;              /* left the baseline last epoch */
	uint8_t mask;              /* baseline types, or types seen (NEW) */
	uint8_t pending_mask;      /* RETYPED: the new types seen */
	uint8_t prior_mask;        /* baseline types before the last epoch */
	uint8_t epoch_mask;
	uint8_t drift;             /* enum st_features_drift_kind, 0 none */
	uint8_t absorbed;
	uint8_t path_len;
	char path[ST_SCHEMA_PATH_MAX + 1];
};

struct st_featstate {
	struct st_features_config cfg;
	int bound;
	uint64_t stream_id;
	uint64_t last_epoch_start_ns;
	uint64_t epochs;

	/* spectrum */
	struct st_spectrum *spectrum;
	unsigned n_ticks;            /* of spectrum; 0 before the first */
	double *tick_values;         /* n_ticks, then norm[bins], baseline[bins] */
	double *norm;
	double *baseline;
	int have_baseline;

	/* schema */
	struct schema_path *paths, *paths_next;
	unsigned n_paths;
	unsigned learned;
	unsigned drift_new, drift_missing, drift_retyped, drift_unlisted;
	uint64_t table_full;
};

void st_features_config_default(struct st_features_config *cfg)
{
	cfg->spectrum_alpha = 0.05;
	cfg->spectrum_min_records = 64;
	cfg->schema_learn_epochs = 10;
	cfg->schema_follow_epochs = 5;
	cfg->schema_min_expected = 12;
	cfg->schema_share_alpha = 0.1;
	cfg->schema_paths_max = 128;
}

static int config_valid(const struct st_features_config *c)
{
	return c->spectrum_alpha > 0 && c->spectrum_alpha <= 1 &&
	       c->spectrum_min_records >= 1 &&
	       c->schema_learn_epochs >= 1 && c->schema_learn_epochs <= 100000 &&
	       c->schema_follow_epochs >= 1 && c->schema_follow_epochs <= 100000 &&
	       c->schema_min_expected > 0 && isfinite(c->schema_min_expected) &&
	       c->schema_share_alpha > 0 && c->schema_share_alpha <= 1 &&
	       c->schema_paths_max >= 1 &&
	       c->schema_paths_max <= 2 * ST_SCHEMA_ENTRIES_MAX;
}

struct st_featstate *st_featstate_create(const struct st_features_config *cfg)
{
	struct st_featstate *st;

	st = calloc(1, sizeof(*st));
	if (!st) {
		errno = ENOMEM;
		return NULL;
	}
	if (cfg)
		st->cfg = *cfg;
	else
		st_features_config_default(&st->cfg);
	if (!config_valid(&st->cfg)) {
		free(st);
		errno = EINVAL;
		return NULL;
	}
	st->paths = calloc(st->cfg.schema_paths_max, sizeof(*st->paths));
	st->paths_next = calloc(st->cfg.schema_paths_max, sizeof(*st->paths));
	if (!st->paths || !st->paths_next) {
		st_featstate_destroy(st);
		errno = ENOMEM;
		return NULL;
	}
	return st;
}

void st_featstate_destroy(struct st_featstate *st)
{
	if (!st)
		return;
	st_spectrum_destroy(st->spectrum);
	free(st->tick_values);
	free(st->paths_next);
	free(st->paths);
	free(st);
}

/* ---- the schema of one epoch, read from its blob ---- */

struct schema_epoch {
	const uint8_t *entries;      /* first entry */
	const uint8_t *end;
	unsigned used;
	uint64_t overflow;
};

struct schema_item {
	uint64_t path_hash;
	uint64_t count;
	uint8_t mask;
	uint8_t path_len;
	const char *path;
};

/* Reads the entry at *p (checked by schema_epoch_open) and advances. */
static void schema_item_next(const uint8_t **p, struct schema_item *it)
{
	it->path_hash = st_get_le64(*p);
	it->count = st_get_le64(*p + 8);
	it->mask = (*p)[16];
	it->path_len = (*p)[17];
	it->path = (const char *)*p + SCHEMA_ENTRY_HDR;
	*p += SCHEMA_ENTRY_HDR + it->path_len;
}

/* Checks the blob's framing: every entry inside it, hashes strictly
 * increasing, path lengths in range.  0 or -EINVAL. */
static int schema_epoch_open(const struct st_profile_blob *b, struct schema_epoch *ep)
{
	const uint8_t *p, *end;
	uint64_t prev = 0;

	if (!b->data || b->len < SCHEMA_ENTRIES_OFF || b->data[0] != ST_SKETCH_SCHEMA)
		return -EINVAL;
	p = b->data + SCHEMA_ENTRIES_OFF;
	end = b->data + b->len;
	ep->entries = p;
	ep->end = end;
	ep->used = st_get_le32(b->data + SCHEMA_USED_OFF);
	ep->overflow = st_get_le64(b->data + SCHEMA_OVERFLOW_OFF);
	for (unsigned i = 0; i < ep->used; i++) {
		struct schema_item it = { 0 };

		if ((size_t)(end - p) < SCHEMA_ENTRY_HDR ||
		    p[17] > ST_SCHEMA_PATH_MAX ||
		    (size_t)(end - p) < SCHEMA_ENTRY_HDR + p[17])
			return -EINVAL;
		schema_item_next(&p, &it);
		if (i && it.path_hash <= prev)
			return -EINVAL;
		prev = it.path_hash;
	}
	return p == end ? 0 : -EINVAL;
}

/* ---- schema judging: one merge walk (rules in features.h) ---- */

enum walk_mode { WALK_IDLE, WALK_LEARN, WALK_JUDGE };

struct walk {
	struct st_featstate *st;
	enum walk_mode mode;
	uint64_t records;
	int overflow;               /* the epoch's sketch overflowed */
	double weight;              /* of this epoch in the shares */
	unsigned out_n;
	unsigned baseline_paths;    /* before the epoch */
	unsigned new_paths;
};

static void share_update(struct schema_path *t, const struct walk *w, uint64_t count)
{
	double x = w->records ? (double)count / (double)w->records : 0;

	t->share += w->weight * (x - t->share);
}

static void emit(struct walk *w, const struct schema_path *t)
{
	w->st->paths_next[w->out_n++] = *t;
}

static void drift_mark(struct walk *w, struct schema_path *t, uint8_t kind,
		       uint16_t streak)
{
	t->drift = kind;
	t->reported = streak;
	t->prior_mask = kind == ST_FEATURES_DRIFT_NEW ? 0 : t->mask;
	if (kind == ST_FEATURES_DRIFT_NEW)
		w->st->drift_new++;
	else if (kind == ST_FEATURES_DRIFT_MISSING)
		w->st->drift_missing++;
	else
		w->st->drift_retyped++;
}

/* A path of the table absent from the epoch. */
static void walk_absent(struct walk *w, struct schema_path t)
{
	const struct st_features_config *c = &w->st->cfg;
	int judged;

	if (t.dead)
		return;
	t.drift = 0;
	t.absorbed = 0;
	t.epoch_count = 0;
	t.epoch_mask = 0;
	if (w->mode == WALK_IDLE)
		goto out_emit;
	if (w->mode == WALK_LEARN) {
		share_update(&t, w, 0);
		goto out_emit;
	}
	t.expected = t.share * (double)w->records;
	judged = t.expected >= c->schema_min_expected && !w->overflow;
	share_update(&t, w, 0);
	if (!t.in_baseline) {
		if (judged || t.share < SHARE_FLOOR)
			return;              /* a NEW path that went away */
		goto out_emit;
	}
	if (!judged) {
		if (t.share < SHARE_FLOOR)
			return;
		goto out_emit;
	}
	t.missing_streak++;
	drift_mark(w, &t, ST_FEATURES_DRIFT_MISSING, t.missing_streak);
	if (t.missing_streak >= c->schema_follow_epochs) {
		t.in_baseline = 0;
		t.dead = 1;
		t.absorbed = 1;
	}
out_emit:
	emit(w, &t);
}

static void path_from_item(struct schema_path *t, const struct schema_item *it)
{
	memset(t, 0, sizeof(*t));
	t->path_hash = it->path_hash;
	t->path_len = it->path_len;
	memcpy(t->path, it->path, it->path_len);
	t->path[it->path_len] = '\0';
}

/* A path of the epoch that the table does not hold (or holds dead).
 * `remaining` table entries still have to fit after it. */
static void walk_new(struct walk *w, const struct schema_item *it,
		     unsigned remaining)
{
	const struct st_features_config *c = &w->st->cfg;
	struct schema_path t;

	if (w->mode == WALK_IDLE)
		return;
	if (w->mode == WALK_JUDGE)
		w->new_paths++;
	if (w->out_n + remaining >= c->schema_paths_max) {
		if (w->mode == WALK_JUDGE) {
			w->st->drift_new++;
			w->st->drift_unlisted++;
			w->st->table_full++;
		}
		return;
	}
	path_from_item(&t, it);
	t.mask = it->mask;
	t.epoch_mask = it->mask;
	t.epoch_count = it->count;
	if (w->mode == WALK_LEARN) {
		t.in_baseline = 1;
		share_update(&t, w, it->count);
		emit(w, &t);
		return;
	}
	t.share = (double)it->count / (double)w->records;
	t.present_streak = 1;
	drift_mark(w, &t, ST_FEATURES_DRIFT_NEW, 1);
	if (t.present_streak >= c->schema_follow_epochs) {
		t.in_baseline = 1;
		t.present_streak = 0;
		t.absorbed = 1;
	}
	emit(w, &t);
}

/* A path in both the table (alive) and the epoch. */
static void walk_present(struct walk *w, struct schema_path t,
			 const struct schema_item *it)
{
	const struct st_features_config *c = &w->st->cfg;
	uint8_t new_types;

	t.drift = 0;
	t.absorbed = 0;
	if (w->mode == WALK_IDLE)
		goto out_emit;
	t.epoch_count = it->count;
	t.epoch_mask = it->mask;
	if (w->mode == WALK_LEARN) {
		t.mask |= it->mask;
		share_update(&t, w, it->count);
		goto out_emit;
	}
	t.expected = t.share * (double)w->records;
	share_update(&t, w, it->count);
	if (!t.in_baseline) {
		w->new_paths++;
		t.mask |= it->mask;
		t.present_streak++;
		drift_mark(w, &t, ST_FEATURES_DRIFT_NEW, t.present_streak);
		if (t.present_streak >= c->schema_follow_epochs) {
			t.in_baseline = 1;
			t.present_streak = 0;
			t.absorbed = 1;
		}
		goto out_emit;
	}
	t.missing_streak = 0;
	new_types = it->mask & (uint8_t)~t.mask;
	if (!new_types) {
		t.retype_streak = 0;
		t.pending_mask = 0;
		goto out_emit;
	}
	t.retype_streak++;
	t.pending_mask |= new_types;
	drift_mark(w, &t, ST_FEATURES_DRIFT_RETYPED, t.retype_streak);
	if (t.retype_streak >= c->schema_follow_epochs) {
		t.mask |= t.pending_mask;
		t.pending_mask = 0;
		t.retype_streak = 0;
		t.absorbed = 1;
	}
out_emit:
	emit(w, &t);
}

static void schema_walk(struct walk *w, const struct schema_epoch *ep)
{
	struct st_featstate *st = w->st;
	const uint8_t *p = ep->entries;
	unsigned i = 0, left = w->mode == WALK_IDLE ? 0 : ep->used;
	struct schema_item it = { 0 };
	int have_item = 0;

	for (unsigned j = 0; j < st->n_paths; j++)
		w->baseline_paths += st->paths[j].in_baseline && !st->paths[j].dead;
	while (i < st->n_paths || have_item || left) {
		if (!have_item && left) {
			schema_item_next(&p, &it);
			left--;
			have_item = 1;
		}
		if (i < st->n_paths &&
		    (!have_item || st->paths[i].path_hash < it.path_hash)) {
			walk_absent(w, st->paths[i++]);
		} else if (i < st->n_paths && st->paths[i].path_hash == it.path_hash) {
			if (st->paths[i].dead)
				walk_new(w, &it, st->n_paths - i - 1);
			else
				walk_present(w, st->paths[i], &it);
			i++;
			have_item = 0;
		} else {
			walk_new(w, &it, st->n_paths - i);
			have_item = 0;
		}
	}
}

/*
 * Judges the epoch's schema and moves the baseline; fills the two schema
 * features (or marks them missing).
 */
static void schema_update(struct st_featstate *st, const struct schema_epoch *ep,
			  uint64_t records, struct st_features *out)
{
	struct walk w = { .st = st, .records = records };
	struct schema_path *swap;
	unsigned judged;

	st->drift_new = st->drift_missing = st->drift_retyped = 0;
	st->drift_unlisted = 0;
	if (records == 0) {
		w.mode = WALK_IDLE;
	} else if (st->learned < st->cfg.schema_learn_epochs) {
		w.mode = WALK_LEARN;
		st->learned++;
		w.weight = 1.0 / st->learned;
	} else {
		w.mode = WALK_JUDGE;
		w.weight = st->cfg.schema_share_alpha;
	}
	w.overflow = ep->overflow != 0;
	schema_walk(&w, ep);
	swap = st->paths;
	st->paths = st->paths_next;
	st->paths_next = swap;
	st->n_paths = w.out_n;

	if (w.mode != WALK_JUDGE) {
		out->missing |= 1u << ST_FEAT_SCHEMA_CHANGED;
		out->missing |= 1u << ST_FEAT_SCHEMA_DRIFT;
		return;
	}
	judged = st->drift_new + st->drift_missing + st->drift_retyped;
	out->v[ST_FEAT_SCHEMA_CHANGED] = judged ? 1 : 0;
	out->v[ST_FEAT_SCHEMA_DRIFT] = w.baseline_paths + w.new_paths ?
		(double)judged / (double)(w.baseline_paths + w.new_paths) : 0;
}

size_t st_featstate_drift(const struct st_featstate *st,
			  struct st_features_drift *out, size_t max)
{
	size_t n = 0;

	for (unsigned j = 0; j < st->n_paths; j++) {
		const struct schema_path *t = &st->paths[j];
		struct st_features_drift *d;

		if (!t->drift)
			continue;
		if (n < max) {
			d = &out[n];
			memset(d, 0, sizeof(*d));
			d->path_hash = t->path_hash;
			d->kind = t->drift;
			d->epoch_count = t->epoch_count;
			d->epoch_mask = t->epoch_mask;
			d->absorbed = t->absorbed;
			d->reported = (uint8_t)(t->reported > 255 ? 255 : t->reported);
			d->baseline_mask = t->prior_mask;
			if (t->drift != ST_FEATURES_DRIFT_NEW)
				d->expected_count = t->expected;
			memcpy(d->path, t->path, sizeof(d->path));
		}
		n++;
	}
	return n;
}

void st_featstate_stats(const struct st_featstate *st,
			struct st_featstate_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->epochs = st->epochs;
	out->schema_learned = st->learned;
	for (unsigned j = 0; j < st->n_paths; j++) {
		const struct schema_path *t = &st->paths[j];

		if (t->dead)
			continue;
		if (t->in_baseline)
			out->schema_paths++;
		else
			out->schema_candidates++;
	}
	out->drift_new = st->drift_new;
	out->drift_missing = st->drift_missing;
	out->drift_retyped = st->drift_retyped;
	out->drift_unlisted = st->drift_unlisted;
	out->schema_table_full = st->table_full;
	out->spectrum_ticks = st->have_baseline ? st->n_ticks : 0;
	out->spectrum_baseline = st->have_baseline;
}

/* ---- spectrum of the rate ticks ---- */

struct ticks_blob {
	unsigned n;
	uint64_t tick_ns;
	const uint8_t *values;
	uint64_t total;
};

static int ticks_open(const struct st_profile_blob *b, struct ticks_blob *tb)
{
	if (!b->data || b->len < TICKS_VALUES_OFF || b->data[0] != ST_SKETCH_TICKS)
		return -EINVAL;
	tb->n = st_get_le32(b->data + TICKS_N_OFF);
	tb->tick_ns = st_get_le64(b->data + TICKS_TICK_NS_OFF);
	if (tb->n < 1 || tb->n > ST_TICKS_MAX || tb->tick_ns == 0 ||
	    b->len != TICKS_VALUES_OFF + 8 * (size_t)tb->n)
		return -EINVAL;
	tb->values = b->data + TICKS_VALUES_OFF;
	tb->total = 0;
	for (unsigned j = 0; j < tb->n; j++)
		tb->total += st_get_le64(tb->values + 8 * (size_t)j);
	return 0;
}

/* A workspace for n ticks with its arrays, for st->spectrum to become. */
struct spectrum_ws {
	struct st_spectrum *sp;
	double *arrays;
};

static int spectrum_ws_make(unsigned n, struct spectrum_ws *ws)
{
	ws->sp = st_spectrum_create(n);
	if (!ws->sp)
		return -errno;
	ws->arrays = malloc(sizeof(double) * (n + 2 * (size_t)(n / 2)));
	if (!ws->arrays) {
		st_spectrum_destroy(ws->sp);
		return -ENOMEM;
	}
	return 0;
}

static void spectrum_ws_install(struct st_featstate *st, struct spectrum_ws *ws,
				unsigned n)
{
	st_spectrum_destroy(st->spectrum);
	free(st->tick_values);
	st->spectrum = ws->sp;
	st->tick_values = ws->arrays;
	st->norm = ws->arrays + n;
	st->baseline = st->norm + n / 2;
	st->n_ticks = n;
	st->have_baseline = 0;
}

#define SPECTRAL_MISSING ((1u << ST_FEAT_DOMINANT_PERIOD_S) |                 \
			  (1u << ST_FEAT_SPECTRAL_FLATNESS) |                 \
			  (1u << ST_FEAT_SPECTRAL_DISTANCE))

static void spectrum_update(struct st_featstate *st, const struct ticks_blob *tb,
			    struct st_features *out)
{
	struct st_spectrum_figures fig;
	unsigned bins = tb->n / 2;
	double a = st->cfg.spectrum_alpha;

	if (tb->n < ST_FEATURES_SPECTRUM_TICKS_MIN ||
	    tb->total < st->cfg.spectrum_min_records) {
		out->missing |= SPECTRAL_MISSING;
		return;
	}
	for (unsigned j = 0; j < tb->n; j++)
		st->tick_values[j] = (double)st_get_le64(tb->values + 8 * (size_t)j);
	/* integral values and a positive step: cannot fail */
	(void)st_spectrum_compute(st->spectrum, st->tick_values,
				  (double)tb->tick_ns / 1e9, &fig);
	out->v[ST_FEAT_SPECTRAL_FLATNESS] = fig.flatness;
	if (fig.zero) {
		out->missing |= (1u << ST_FEAT_DOMINANT_PERIOD_S) |
				(1u << ST_FEAT_SPECTRAL_DISTANCE);
		return;
	}
	out->v[ST_FEAT_DOMINANT_PERIOD_S] = fig.dominant_period_s;
	(void)st_spectrum_normalized(st->spectrum, st->norm, bins);
	if (!st->have_baseline) {
		out->missing |= 1u << ST_FEAT_SPECTRAL_DISTANCE;
		memcpy(st->baseline, st->norm, sizeof(double) * bins);
		st->have_baseline = 1;
		return;
	}
	out->v[ST_FEAT_SPECTRAL_DISTANCE] =
		st_spectrum_hellinger(st->norm, st->baseline, bins);
	for (unsigned k = 0; k < bins; k++)
		st->baseline[k] += a * (st->norm[k] - st->baseline[k]);
}

/* ---- one profile ---- */

static void plain_features(const struct st_profile_view *v, struct st_features *out)
{
	const struct st_profile_summary *s = &v->summary;
	const struct st_profile_counters *c = &v->counters;
	double epoch_s = (double)v->meta.epoch_ns / 1e9;
	uint64_t errors = 0;

	out->v[ST_FEAT_LOG_RECORD_RATE] = log1p((double)c->records / epoch_s);
	out->v[ST_FEAT_LOG_BYTE_RATE] = log1p((double)c->bytes / epoch_s);
	for (unsigned i = 0; i < ST_PROFILE_KEY_FIELDS_MAX; i++) {
		if (i >= v->key_fields) {
			out->missing |= 1u << (ST_FEAT_LOG_CARD_0 + i);
			out->missing |= 1u << (ST_FEAT_TOP1_SHARE_0 + i);
			continue;
		}
		out->v[ST_FEAT_LOG_CARD_0 + i] = log1p(s->cardinality[i]);
		if (blob_u64(&v->heavy[i], ST_SKETCH_HEAVY, HEAVY_TOTAL_OFF))
			out->v[ST_FEAT_TOP1_SHARE_0 + i] = s->top1_share[i];
		else
			out->missing |= 1u << (ST_FEAT_TOP1_SHARE_0 + i);
	}
	if (blob_u64(&v->heavy[0], ST_SKETCH_HEAVY, HEAVY_TOTAL_OFF)) {
		out->v[ST_FEAT_ENTROPY_0] = s->entropy_norm[0];
		out->v[ST_FEAT_GINI_0] = s->gini[0];
	} else {
		out->missing |= (1u << ST_FEAT_ENTROPY_0) | (1u << ST_FEAT_GINI_0);
	}
	if (v->meta.protocol == ST_PROFILE_PROTO_KAFKA && v->kafka_partitions)
		out->v[ST_FEAT_KAFKA_IMBALANCE] = s->kafka_imbalance;
	else
		out->missing |= 1u << ST_FEAT_KAFKA_IMBALANCE;
	if (blob_u64(&v->size_qs, ST_SKETCH_QUANTILE, QS_COUNT_OFF))
		out->v[ST_FEAT_LOG_SIZE_P99] = log1p(s->size_p99);
	else
		out->missing |= 1u << ST_FEAT_LOG_SIZE_P99;
	for (unsigned r = 0; r < ST_PROFILE_REASONS; r++)
		errors += c->parse_errors[r];
	if (c->records + errors)
		out->v[ST_FEAT_PARSE_ERROR_RATE] =
			(double)errors / ((double)c->records + (double)errors);
	else
		out->missing |= 1u << ST_FEAT_PARSE_ERROR_RATE;
}

/* Zero the values of the missing features (features.h: a missing value
 * is 0) and make sure every value is finite. */
static void features_finish(struct st_features *out)
{
	for (unsigned i = 0; i < ST_FEAT_COUNT; i++)
		if ((out->missing >> i & 1) || !isfinite(out->v[i]))
			out->v[i] = 0;
}

int st_featstate_update(struct st_featstate *st,
			const struct st_profile_view *view,
			struct st_features *out)
{
	struct spectrum_ws ws = { 0 };
	struct schema_epoch ep;
	struct ticks_blob tb;
	struct st_features f;
	int err;

	if (st->bound && view->stream_id != st->stream_id)
		return -EINVAL;
	if (view->meta.epoch_ns == 0 || view->key_fields < 1 ||
	    view->key_fields > ST_PROFILE_KEY_FIELDS_MAX)
		return -EINVAL;
	if (st->epochs && view->meta.epoch_start_ns <= st->last_epoch_start_ns)
		return -ERANGE;
	if (ticks_open(&view->ticks, &tb) || schema_epoch_open(&view->schema, &ep))
		return -EINVAL;
	if (tb.n >= ST_FEATURES_SPECTRUM_TICKS_MIN && tb.n != st->n_ticks) {
		err = spectrum_ws_make(tb.n, &ws);
		if (err)
			return err;
		spectrum_ws_install(st, &ws, tb.n);
	}

	memset(&f, 0, sizeof(f));
	f.stream_id = view->stream_id;
	f.epoch_start_ns = view->meta.epoch_start_ns;
	f.epoch_ns = view->meta.epoch_ns;
	if (view->meta.flags & ST_PROFILE_F_PARTIAL)
		f.flags |= ST_FEAT_F_PARTIAL;
	plain_features(view, &f);
	schema_update(st, &ep, view->counters.records, &f);
	spectrum_update(st, &tb, &f);
	features_finish(&f);

	st->bound = 1;
	st->stream_id = view->stream_id;
	st->last_epoch_start_ns = view->meta.epoch_start_ns;
	st->epochs++;
	*out = f;
	return 0;
}
