/*
 * Feature-state tests: real Shadow Profiles built with the sketch library
 * (st_sset_create, the sketches updated with values chosen here,
 * st_profile_build, st_profile_parse), fed to a st_featstate.
 *
 * Oracles come from outside features.c: the numbers put into the sketches
 * (records / epoch seconds; the exact distinct count within the HLL's
 * published 3-sigma band 3 * 1.04 / sqrt(2^12); the top key's exact share
 * within SpaceSaving's N/k bound; Kafka max/mean worked by hand; sizes all
 * equal, so p99 is that size within the quantile sketch's alpha), series of
 * known period in the ticks, and the rules features.h states for schema
 * drift (N = 10 learning epochs, reported M = 5 times then absorbed, an
 * absence judged only when share * records >= 12), applied by hand to the
 * constructed epochs.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/features/features.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/sset.h"
#include "shadowtap/profile.h"
#include "st_test.h"
#include "tools/lib/keygen.h"

#define EPOCH0 1700000000000000000ull
#define SEC 1000000000ull

/* ---- building profiles ---- */

struct prof {
	uint8_t *buf;
	struct st_profile_view view;
};

static struct st_sset *new_set(unsigned key_fields, unsigned n_ticks,
			       uint64_t epoch_ns, uint64_t start_ns)
{
	struct st_sset_config cfg;
	struct st_sset *s;

	st_sset_config_default(&cfg);
	cfg.key_fields = key_fields;
	cfg.n_ticks = n_ticks;
	cfg.epoch_ns = epoch_ns;
	s = st_sset_create(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	st_sset_reset(s, start_ns);
	return s;
}

/* Builds and parses the profile of s; frees s. */
static void build_view(struct st_sset *s, const char *name, uint8_t protocol,
		       int partial, struct prof *p)
{
	struct st_profile_meta m;
	const char *why = NULL;
	ssize_t size;

	memset(&m, 0, sizeof(m));
	m.name = name;
	m.epoch_start_ns = st_sset_epoch_start_ns(s);
	m.epoch_ns = st_sset_config(s)->epoch_ns;
	m.cores_expected = 2;
	m.cores_merged = partial ? 1 : 2;
	m.flags = partial ? ST_PROFILE_F_PARTIAL : 0;
	m.protocol = protocol;
	size = st_profile_size(s, &m);
	CU_ASSERT_FATAL(size > 0);
	p->buf = malloc((size_t)size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->buf);
	CU_ASSERT_EQUAL_FATAL(st_profile_build(s, &m, p->buf, (size_t)size), size);
	CU_ASSERT_EQUAL_FATAL(st_profile_parse(p->buf, (size_t)size, &p->view, &why), 0);
	st_sset_destroy(s);
}

static void prof_free(struct prof *p)
{
	free(p->buf);
	p->buf = NULL;
}

/* Adds per_tick[j] records in tick j (and to the records counter). */
static void add_ticks(struct st_sset *s, const uint64_t *per_tick, unsigned n)
{
	const struct st_sset_config *cfg = st_sset_config(s);
	uint64_t tick_ns = cfg->epoch_ns / cfg->n_ticks;

	for (unsigned j = 0; j < n; j++) {
		st_ticks_update(st_sset_ticks(s), st_sset_epoch_start_ns(s) + j * tick_ns,
				(uint32_t)per_tick[j]);
		st_sset_counters(s)->records += per_tick[j];
	}
}

static void add_key(struct st_sset *s, unsigned field, const char *key, unsigned times)
{
	uint64_t h = st_hash64(key, strlen(key));

	for (unsigned i = 0; i < times; i++) {
		st_hll_update(st_sset_hll(s, field), h);
		st_hh_update(st_sset_heavy(s, field), h, key, strlen(key), 1);
	}
}

static void add_path(struct st_sset *s, const char *path, uint8_t type, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++)
		st_schema_update(st_sset_schema(s), st_hash64(path, strlen(path)),
				 path, strlen(path), type);
}

static int feed(struct st_featstate *st, struct st_sset *s, struct st_features *f)
{
	struct prof p;
	int err;

	build_view(s, "orders", ST_PROFILE_PROTO_JSONL, 0, &p);
	err = st_featstate_update(st, &p.view, f);
	prof_free(&p);
	return err;
}

static int missing(const struct st_features *f, enum st_feature_id id)
{
	return (int)(f->missing >> id & 1);
}

/* ---- names ---- */

static void test_names(void)
{
	CU_ASSERT_STRING_EQUAL(st_feature_name(ST_FEAT_LOG_RECORD_RATE), "log_record_rate");
	CU_ASSERT_STRING_EQUAL(st_feature_name(ST_FEAT_SPECTRAL_DISTANCE), "spectral_distance");
	CU_ASSERT_PTR_NULL(st_feature_name(ST_FEAT_COUNT));
	CU_ASSERT_PTR_NULL(st_feature_name((enum st_feature_id)-1));
	for (unsigned i = 0; i < ST_FEAT_COUNT; i++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(st_feature_name(i));
		for (unsigned j = 0; j < i; j++)
			CU_ASSERT(strcmp(st_feature_name(i), st_feature_name(j)) != 0);
	}
}

/* ---- plain features ---- */

/*
 * 2 s epoch, 2 key fields, 1,000 records of 200 bytes, 10 a tick:
 * field 0 uniform over 50 keys (20 each), field 1 a hot key (400) then 600
 * singletons, 10 parse errors.
 */
static void test_plain_features(void)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_sset *s = new_set(2, 100, 2 * SEC, EPOCH0);
	uint64_t ticks[100];
	struct st_features f;
	char key[32];
	uint32_t want_missing;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	for (unsigned j = 0; j < 100; j++)
		ticks[j] = 10;
	add_ticks(s, ticks, 100);
	st_sset_counters(s)->bytes = 1000 * 200;
	st_sset_counters(s)->parse_errors[3] = 10;
	for (unsigned i = 0; i < 1000; i++)
		st_qs_update(st_sset_size_qs(s), 200);
	for (unsigned i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "u%u", i);
		add_key(s, 0, key, 20);
	}
	add_key(s, 1, "hot", 400);
	for (unsigned i = 0; i < 600; i++) {
		snprintf(key, sizeof(key), "c%u", i);
		add_key(s, 1, key, 1);
	}
	CU_ASSERT_EQUAL_FATAL(feed(st, s, &f), 0);

	CU_ASSERT_EQUAL(f.epoch_start_ns, EPOCH0);
	CU_ASSERT_EQUAL(f.epoch_ns, 2 * SEC);
	CU_ASSERT_EQUAL(f.stream_id, st_hash64("orders", 6));
	CU_ASSERT_EQUAL(f.flags, 0);
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_LOG_RECORD_RATE], log1p(500.0), 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_LOG_BYTE_RATE], log1p(100000.0), 1e-12);
	/* HLL p = 12: within 3 sigma = 3 * 1.04 / 64 of the exact count */
	CU_ASSERT(fabs(f.v[ST_FEAT_LOG_CARD_0] - log1p(50)) <= log(1.05));
	CU_ASSERT(fabs(f.v[ST_FEAT_LOG_CARD_1] - log1p(601)) <= log(1.05));
	/* every key of field 0 tracked (50 < k = 64): exact 20 / 1000 */
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_TOP1_SHARE_0], 0.02, 1e-12);
	/* the hot key: 0.4 within SpaceSaving's N/k = 1000/64 */
	CU_ASSERT(f.v[ST_FEAT_TOP1_SHARE_1] >= 0.4 - 1e-12);
	CU_ASSERT(f.v[ST_FEAT_TOP1_SHARE_1] <= 0.4 + 1.0 / 64);
	/* a uniform key field: normalised entropy 1, Gini 0 (the distinct
	 * count comes from the HLL, hence the slack) */
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_ENTROPY_0], 1, 0.02);
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_GINI_0], 0, 0.02);
	/* all sizes 200: p99 within alpha = 1% */
	CU_ASSERT(fabs(f.v[ST_FEAT_LOG_SIZE_P99] - log1p(200)) <= log(1.0101));
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_PARSE_ERROR_RATE], 10.0 / 1010, 1e-15);
	/* constant ticks: zero spectrum, flatness 1, no period, no distance */
	CU_ASSERT_EQUAL(f.v[ST_FEAT_SPECTRAL_FLATNESS], 1);

	want_missing = 1u << ST_FEAT_LOG_CARD_2 | 1u << ST_FEAT_LOG_CARD_3 |
		       1u << ST_FEAT_TOP1_SHARE_2 | 1u << ST_FEAT_TOP1_SHARE_3 |
		       1u << ST_FEAT_KAFKA_IMBALANCE |
		       1u << ST_FEAT_SCHEMA_CHANGED | 1u << ST_FEAT_SCHEMA_DRIFT |
		       1u << ST_FEAT_DOMINANT_PERIOD_S | 1u << ST_FEAT_SPECTRAL_DISTANCE;
	CU_ASSERT_EQUAL(f.missing, want_missing);
	for (unsigned i = 0; i < ST_FEAT_COUNT; i++) {
		CU_ASSERT(isfinite(f.v[i]));
		if (f.missing >> i & 1) {
			CU_ASSERT_EQUAL(f.v[i], 0);
		}
	}
	st_featstate_destroy(st);
}

/* An epoch with nothing in it: rates 0 (data), the rest missing. */
static void test_empty_epoch(void)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_features f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(feed(st, new_set(1, 100, SEC, EPOCH0), &f), 0);
	CU_ASSERT_EQUAL(f.v[ST_FEAT_LOG_RECORD_RATE], 0);
	CU_ASSERT_FALSE(missing(&f, ST_FEAT_LOG_RECORD_RATE));
	CU_ASSERT_FALSE(missing(&f, ST_FEAT_LOG_BYTE_RATE));
	CU_ASSERT_FALSE(missing(&f, ST_FEAT_LOG_CARD_0));
	CU_ASSERT(missing(&f, ST_FEAT_TOP1_SHARE_0));
	CU_ASSERT(missing(&f, ST_FEAT_ENTROPY_0));
	CU_ASSERT(missing(&f, ST_FEAT_GINI_0));
	CU_ASSERT(missing(&f, ST_FEAT_LOG_SIZE_P99));
	CU_ASSERT(missing(&f, ST_FEAT_PARSE_ERROR_RATE));
	CU_ASSERT(missing(&f, ST_FEAT_SCHEMA_CHANGED));
	CU_ASSERT(missing(&f, ST_FEAT_DOMINANT_PERIOD_S));
	CU_ASSERT(missing(&f, ST_FEAT_SPECTRAL_FLATNESS));
	CU_ASSERT(missing(&f, ST_FEAT_SPECTRAL_DISTANCE));
	st_featstate_destroy(st);
}

/* Kafka partitions 100, 100, 100, 300: max/mean = 300 / 150 = 2. */
static void test_kafka_imbalance(void)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_sset *s = new_set(1, 100, SEC, EPOCH0);
	struct st_features f;
	struct prof p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	for (int part = 0; part < 4; part++)
		st_sset_kafka_add(st_sset_counters(s), part, part == 3 ? 300 : 100);
	st_sset_counters(s)->records = 600;
	build_view(s, "orders", ST_PROFILE_PROTO_KAFKA, 0, &p);
	CU_ASSERT_EQUAL_FATAL(st_featstate_update(st, &p.view, &f), 0);
	prof_free(&p);
	CU_ASSERT_FALSE(missing(&f, ST_FEAT_KAFKA_IMBALANCE));
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_KAFKA_IMBALANCE], 2.0, 1e-12);

	/* Kafka without partition counts: missing */
	s = new_set(1, 100, SEC, EPOCH0 + SEC);
	build_view(s, "orders", ST_PROFILE_PROTO_KAFKA, 0, &p);
	CU_ASSERT_EQUAL_FATAL(st_featstate_update(st, &p.view, &f), 0);
	prof_free(&p);
	CU_ASSERT(missing(&f, ST_FEAT_KAFKA_IMBALANCE));
	st_featstate_destroy(st);
}

static void test_partial_flag(void)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_features f;
	struct prof p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	build_view(new_set(1, 100, SEC, EPOCH0), "orders", ST_PROFILE_PROTO_JSONL, 1, &p);
	CU_ASSERT_EQUAL_FATAL(st_featstate_update(st, &p.view, &f), 0);
	prof_free(&p);
	CU_ASSERT_EQUAL(f.flags, ST_FEAT_F_PARTIAL);
	st_featstate_destroy(st);
}

/* Another stream, an epoch not after the last: refused, nothing changed. */
static void test_errors_leave_state(void)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_features_config cfg;
	struct st_featstate_stats stats;
	struct st_features f, g;
	struct prof p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(feed(st, new_set(1, 100, SEC, EPOCH0 + SEC), &f), 0);
	memset(&g, 0x5a, sizeof(g));
	build_view(new_set(1, 100, SEC, EPOCH0 + 2 * SEC), "payments",
		   ST_PROFILE_PROTO_JSONL, 0, &p);
	CU_ASSERT_EQUAL(st_featstate_update(st, &p.view, &g), -EINVAL);
	prof_free(&p);
	CU_ASSERT_EQUAL(feed(st, new_set(1, 100, SEC, EPOCH0 + SEC), &g), -ERANGE);
	CU_ASSERT_EQUAL(feed(st, new_set(1, 100, SEC, EPOCH0), &g), -ERANGE);
	CU_ASSERT_EQUAL(g.stream_id, 0x5a5a5a5a5a5a5a5aull);  /* untouched */
	st_featstate_stats(st, &stats);
	CU_ASSERT_EQUAL(stats.epochs, 1);
	CU_ASSERT_EQUAL(feed(st, new_set(1, 100, SEC, EPOCH0 + 2 * SEC), &g), 0);

	/* a view without its ticks section */
	build_view(new_set(1, 100, SEC, EPOCH0 + 3 * SEC), "orders",
		   ST_PROFILE_PROTO_JSONL, 0, &p);
	p.view.ticks.data = NULL;
	CU_ASSERT_EQUAL(st_featstate_update(st, &p.view, &g), -EINVAL);
	prof_free(&p);
	st_featstate_destroy(st);
	st_featstate_destroy(NULL);

	st_features_config_default(&cfg);
	cfg.spectrum_alpha = 0;
	errno = 0;
	CU_ASSERT_PTR_NULL(st_featstate_create(&cfg));
	CU_ASSERT_EQUAL(errno, EINVAL);
	st_features_config_default(&cfg);
	cfg.schema_paths_max = 0;
	CU_ASSERT_PTR_NULL(st_featstate_create(&cfg));
	st_features_config_default(&cfg);
	cfg.schema_min_expected = NAN;
	CU_ASSERT_PTR_NULL(st_featstate_create(&cfg));
}

/* ---- spectral features ---- */

static void square_ticks(uint64_t *t, unsigned n, unsigned half_period)
{
	for (unsigned j = 0; j < n; j++)
		t[j] = (j / half_period) % 2 ? 20 : 80;
}

static void tone_ticks(uint64_t *t, unsigned n, unsigned cycles)
{
	for (unsigned j = 0; j < n; j++)
		t[j] = (uint64_t)llround(50 + 40 * sin(2 * M_PI * cycles * j / (double)n));
}

static int feed_ticks(struct st_featstate *st, unsigned n, uint64_t epoch_ns,
		      uint64_t start, const uint64_t *ticks, struct st_features *f)
{
	struct st_sset *s = new_set(1, n, epoch_ns, start);

	add_ticks(s, ticks, n);
	return feed(st, s, f);
}

static void test_spectral_features(void)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_featstate_stats stats;
	struct st_features f;
	uint64_t t[100];
	double d3, d4;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	/* square wave, period 20 ticks of 10 ms: 0.2 s; no baseline yet */
	square_ticks(t, 100, 10);
	CU_ASSERT_EQUAL_FATAL(feed_ticks(st, 100, SEC, EPOCH0, t, &f), 0);
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_DOMINANT_PERIOD_S], 0.2, 1e-12);
	CU_ASSERT(f.v[ST_FEAT_SPECTRAL_FLATNESS] < 0.01);
	CU_ASSERT(missing(&f, ST_FEAT_SPECTRAL_DISTANCE));
	CU_ASSERT_FALSE(missing(&f, ST_FEAT_DOMINANT_PERIOD_S));
	/* the same spectrum again: distance 0 */
	CU_ASSERT_EQUAL_FATAL(feed_ticks(st, 100, SEC, EPOCH0 + SEC, t, &f), 0);
	CU_ASSERT_FALSE(missing(&f, ST_FEAT_SPECTRAL_DISTANCE));
	CU_ASSERT(f.v[ST_FEAT_SPECTRAL_DISTANCE] < 1e-6);
	/* a tone of period 0.1 s: no bin in common with the square wave's
	 * odd harmonics 5, 15, 25, ...: distance near 1 */
	tone_ticks(t, 100, 10);
	CU_ASSERT_EQUAL_FATAL(feed_ticks(st, 100, SEC, EPOCH0 + 2 * SEC, t, &f), 0);
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_DOMINANT_PERIOD_S], 0.1, 1e-12);
	d3 = f.v[ST_FEAT_SPECTRAL_DISTANCE];
	CU_ASSERT(d3 > 0.9);
	CU_ASSERT(d3 <= 1);
	/* the baseline moved alpha = 0.05 toward the tone:
	 * H = sqrt(1 - sqrt(0.05)) for a tone alone in its bin */
	CU_ASSERT_EQUAL_FATAL(feed_ticks(st, 100, SEC, EPOCH0 + 3 * SEC, t, &f), 0);
	d4 = f.v[ST_FEAT_SPECTRAL_DISTANCE];
	CU_ASSERT(d4 < d3);
	CU_ASSERT_DOUBLE_EQUAL(d4, sqrt(1 - sqrt(0.05)), 0.01);
	st_featstate_stats(st, &stats);
	CU_ASSERT_EQUAL(stats.spectrum_ticks, 100);
	CU_ASSERT_EQUAL(stats.spectrum_baseline, 1);

	/* a new tick count restarts the baseline: 200 ticks of 5 ms,
	 * square wave of period 40 ticks = 0.2 s */
	{
		uint64_t t200[200];

		square_ticks(t200, 200, 20);
		CU_ASSERT_EQUAL_FATAL(feed_ticks(st, 200, SEC, EPOCH0 + 4 * SEC, t200, &f), 0);
		CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_DOMINANT_PERIOD_S], 0.2, 1e-12);
		CU_ASSERT(missing(&f, ST_FEAT_SPECTRAL_DISTANCE));
	}
	st_featstate_destroy(st);
}

/* Too few records (63 < 64), too few ticks (8 < 16): all three missing. */
static void test_spectral_needs_data(void)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_features f;
	uint64_t t[100] = { 0 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	for (unsigned j = 0; j < 63; j++)
		t[j] = 1;
	CU_ASSERT_EQUAL_FATAL(feed_ticks(st, 100, SEC, EPOCH0, t, &f), 0);
	CU_ASSERT(missing(&f, ST_FEAT_DOMINANT_PERIOD_S));
	CU_ASSERT(missing(&f, ST_FEAT_SPECTRAL_FLATNESS));
	CU_ASSERT(missing(&f, ST_FEAT_SPECTRAL_DISTANCE));
	t[63] = 1;   /* 64: enough */
	CU_ASSERT_EQUAL_FATAL(feed_ticks(st, 100, SEC, EPOCH0 + SEC, t, &f), 0);
	CU_ASSERT_FALSE(missing(&f, ST_FEAT_DOMINANT_PERIOD_S));
	CU_ASSERT_FALSE(missing(&f, ST_FEAT_SPECTRAL_FLATNESS));
	square_ticks(t, 8, 2);
	CU_ASSERT_EQUAL_FATAL(feed_ticks(st, 8, SEC, EPOCH0 + 2 * SEC, t, &f), 0);
	CU_ASSERT_EQUAL(f.missing & (1u << ST_FEAT_DOMINANT_PERIOD_S |
				     1u << ST_FEAT_SPECTRAL_FLATNESS |
				     1u << ST_FEAT_SPECTRAL_DISTANCE),
			1u << ST_FEAT_DOMINANT_PERIOD_S |
			1u << ST_FEAT_SPECTRAL_FLATNESS |
			1u << ST_FEAT_SPECTRAL_DISTANCE);
	st_featstate_destroy(st);
}

/* ---- schema drift ---- */

struct path_spec {
	const char *path;
	uint8_t type;
	uint64_t count;
};

static int feed_schema(struct st_featstate *st, uint64_t epoch_i, uint64_t records,
		       const struct path_spec *paths, unsigned n_paths,
		       struct st_features *f)
{
	struct st_sset *s = new_set(1, 100, SEC, EPOCH0 + epoch_i * SEC);

	st_sset_counters(s)->records = records;
	for (unsigned i = 0; i < n_paths; i++)
		add_path(s, paths[i].path, paths[i].type, paths[i].count);
	return feed(st, s, f);
}

static void expect_one_drift(struct st_featstate *st, enum st_features_drift_kind kind,
			     const char *path, uint8_t baseline_mask, uint8_t epoch_mask,
			     unsigned reported)
{
	struct st_features_drift d[4];

	CU_ASSERT_EQUAL_FATAL(st_featstate_drift(st, d, 4), 1);
	CU_ASSERT_EQUAL(d[0].kind, kind);
	CU_ASSERT_STRING_EQUAL(d[0].path, path);
	CU_ASSERT_EQUAL(d[0].path_hash, st_hash64(path, strlen(path)));
	CU_ASSERT_EQUAL(d[0].baseline_mask, baseline_mask);
	CU_ASSERT_EQUAL(d[0].epoch_mask, epoch_mask);
	CU_ASSERT_EQUAL(d[0].reported, reported);
	CU_ASSERT_EQUAL(d[0].absorbed, reported == 5);
}

/*
 * 200 records an epoch, /a number and /b string in each.  Learn 10
 * epochs; add /c (NEW 5 times, then absorbed); drop /b (MISSING 5 times,
 * then gone); make /a a string (RETYPED 5 times, then learned).
 */
static void test_schema_drift_lifecycle(void)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_featstate_stats stats;
	struct st_features f;
	struct st_features_drift d[4];
	const struct path_spec base[] = {
		{ "/a", ST_JSON_NUMBER, 200 }, { "/b", ST_JSON_STRING, 200 },
	};
	const struct path_spec added[] = {
		{ "/a", ST_JSON_NUMBER, 200 }, { "/b", ST_JSON_STRING, 200 },
		{ "/c", ST_JSON_STRING, 200 },
	};
	const struct path_spec dropped[] = {
		{ "/a", ST_JSON_NUMBER, 200 }, { "/c", ST_JSON_STRING, 200 },
	};
	const struct path_spec retyped[] = {
		{ "/a", ST_JSON_STRING, 200 }, { "/c", ST_JSON_STRING, 200 },
	};
	uint64_t e = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	for (; e < 10; e++) {
		CU_ASSERT_EQUAL_FATAL(feed_schema(st, e, 200, base, 2, &f), 0);
		CU_ASSERT(missing(&f, ST_FEAT_SCHEMA_CHANGED));
		CU_ASSERT(missing(&f, ST_FEAT_SCHEMA_DRIFT));
	}
	st_featstate_stats(st, &stats);
	CU_ASSERT_EQUAL(stats.schema_learned, 10);
	CU_ASSERT_EQUAL(stats.schema_paths, 2);
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, e++, 200, base, 2, &f), 0);
	CU_ASSERT_FALSE(missing(&f, ST_FEAT_SCHEMA_CHANGED));
	CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 0);
	CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_DRIFT], 0);
	CU_ASSERT_EQUAL(st_featstate_drift(st, d, 4), 0);

	/* /c added: 1 judged of 2 baseline + 1 new */
	for (unsigned i = 1; i <= 5; i++, e++) {
		CU_ASSERT_EQUAL_FATAL(feed_schema(st, e, 200, added, 3, &f), 0);
		CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 1);
		CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_SCHEMA_DRIFT], 1.0 / 3, 1e-15);
		expect_one_drift(st, ST_FEATURES_DRIFT_NEW, "/c", 0, ST_JSON_STRING, i);
	}
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, e++, 200, added, 3, &f), 0);
	CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 0);
	CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_DRIFT], 0);
	st_featstate_stats(st, &stats);
	CU_ASSERT_EQUAL(stats.schema_paths, 3);
	CU_ASSERT_EQUAL(stats.schema_candidates, 0);

	/* /b gone although 200 were expected: 1 judged of 3 */
	for (unsigned i = 1; i <= 5; i++, e++) {
		CU_ASSERT_EQUAL_FATAL(feed_schema(st, e, 200, dropped, 2, &f), 0);
		CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 1);
		CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_SCHEMA_DRIFT], 1.0 / 3, 1e-15);
		expect_one_drift(st, ST_FEATURES_DRIFT_MISSING, "/b", ST_JSON_STRING, 0, i);
		CU_ASSERT_EQUAL_FATAL(st_featstate_drift(st, d, 1), 1);
		CU_ASSERT(d[0].expected_count >= 12);
		CU_ASSERT_EQUAL(d[0].epoch_count, 0);
	}
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, e++, 200, dropped, 2, &f), 0);
	CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 0);
	st_featstate_stats(st, &stats);
	CU_ASSERT_EQUAL(stats.schema_paths, 2);

	/* /a number -> string: 1 judged of 2 */
	for (unsigned i = 1; i <= 5; i++, e++) {
		CU_ASSERT_EQUAL_FATAL(feed_schema(st, e, 200, retyped, 2, &f), 0);
		CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 1);
		CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_SCHEMA_DRIFT], 0.5, 1e-15);
		expect_one_drift(st, ST_FEATURES_DRIFT_RETYPED, "/a",
				 ST_JSON_NUMBER, ST_JSON_STRING, i);
	}
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, e++, 200, retyped, 2, &f), 0);
	CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 0);
	/* types once learned stay: a number again is no change */
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, e++, 200, dropped, 2, &f), 0);
	CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 0);

	/* an epoch without records judges nothing */
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, e++, 0, NULL, 0, &f), 0);
	CU_ASSERT(missing(&f, ST_FEAT_SCHEMA_CHANGED));
	CU_ASSERT_EQUAL(st_featstate_drift(st, d, 4), 0);
	st_featstate_destroy(st);
}

/* A NEW path that goes away (judged absent) before M epochs is forgotten:
 * reported again from 1 when it comes back. */
static void test_schema_new_path_interrupted(void)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_features f;
	const struct path_spec base[] = { { "/a", ST_JSON_NUMBER, 100 } };
	const struct path_spec added[] = {
		{ "/a", ST_JSON_NUMBER, 100 }, { "/z", ST_JSON_OBJECT, 100 },
	};
	uint64_t e = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	for (; e < 10; e++)
		CU_ASSERT_EQUAL_FATAL(feed_schema(st, e, 100, base, 1, &f), 0);
	for (unsigned i = 1; i <= 3; i++, e++) {
		CU_ASSERT_EQUAL_FATAL(feed_schema(st, e, 100, added, 2, &f), 0);
		expect_one_drift(st, ST_FEATURES_DRIFT_NEW, "/z", 0, ST_JSON_OBJECT, i);
	}
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, e++, 100, base, 1, &f), 0);
	CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 0);
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, e++, 100, added, 2, &f), 0);
	expect_one_drift(st, ST_FEATURES_DRIFT_NEW, "/z", 0, ST_JSON_OBJECT, 1);
	st_featstate_destroy(st);
}

/*
 * An optional field in 50% of records (drawn per record, fixed seed) must
 * not flap: at 4 records an epoch it is absent in 1 epoch of 16 but never
 * expected (0.5 * 4 = 2 < 12); at 40 records it is expected (20) and
 * absent with probability 2^-40.  A required field at 4 records an epoch
 * that disappears is not judged either (4 < 12): the documented price.
 */
static void run_optional(unsigned records, unsigned epochs, uint64_t seed)
{
	struct st_featstate *st = st_featstate_create(NULL);
	struct st_features f;
	struct st_rng r;
	unsigned absent_epochs = 0, changed = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	st_rng_seed(&r, seed);
	for (unsigned e = 0; e < epochs; e++) {
		struct path_spec p[2] = {
			{ "/id", ST_JSON_NUMBER, records }, { "/opt", ST_JSON_STRING, 0 },
		};

		for (unsigned i = 0; i < records; i++)
			p[1].count += st_rng_next(&r) >> 63;
		absent_epochs += p[1].count == 0;
		CU_ASSERT_EQUAL_FATAL(feed_schema(st, e, records, p,
						  p[1].count ? 2 : 1, &f), 0);
		if (e >= 10) {
			CU_ASSERT_FALSE(missing(&f, ST_FEAT_SCHEMA_CHANGED));
			changed += f.v[ST_FEAT_SCHEMA_CHANGED] != 0;
		}
	}
	CU_ASSERT_EQUAL(changed, 0);
	if (records == 4) {
		struct path_spec only_opt[1] = { { "/opt", ST_JSON_STRING, 2 } };

		CU_ASSERT(absent_epochs >= 5);   /* the test saw absences */
		CU_ASSERT_EQUAL_FATAL(feed_schema(st, epochs, records, only_opt, 1, &f), 0);
		CU_ASSERT_EQUAL(f.v[ST_FEAT_SCHEMA_CHANGED], 0);
	}
	st_featstate_destroy(st);
}

static void test_schema_optional_field_does_not_flap(void)
{
	run_optional(4, 300, 11);
	run_optional(40, 300, 12);
}

/* The table holds 4 paths: 3 learned + 1 of 3 new ones; the other two are
 * judged and counted but not listed. */
static void test_schema_table_full(void)
{
	struct st_features_config cfg;
	struct st_featstate *st;
	struct st_featstate_stats stats;
	struct st_features f;
	struct st_features_drift d[8];
	const struct path_spec base[] = {
		{ "/a", ST_JSON_NUMBER, 50 }, { "/b", ST_JSON_NUMBER, 50 },
		{ "/c", ST_JSON_NUMBER, 50 },
	};
	const struct path_spec more[] = {
		{ "/a", ST_JSON_NUMBER, 50 }, { "/b", ST_JSON_NUMBER, 50 },
		{ "/c", ST_JSON_NUMBER, 50 }, { "/d", ST_JSON_NUMBER, 50 },
		{ "/e", ST_JSON_NUMBER, 50 }, { "/f", ST_JSON_NUMBER, 50 },
	};

	st_features_config_default(&cfg);
	cfg.schema_paths_max = 4;
	cfg.schema_learn_epochs = 1;
	st = st_featstate_create(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, 0, 50, base, 3, &f), 0);
	CU_ASSERT_EQUAL_FATAL(feed_schema(st, 1, 50, more, 6, &f), 0);
	CU_ASSERT_DOUBLE_EQUAL(f.v[ST_FEAT_SCHEMA_DRIFT], 3.0 / 6, 1e-15);
	CU_ASSERT_EQUAL(st_featstate_drift(st, d, 8), 1);
	st_featstate_stats(st, &stats);
	CU_ASSERT_EQUAL(stats.drift_new, 3);
	CU_ASSERT_EQUAL(stats.drift_unlisted, 2);
	CU_ASSERT_EQUAL(stats.schema_table_full, 2);
	CU_ASSERT_EQUAL(stats.schema_paths + stats.schema_candidates, 4);
	st_featstate_destroy(st);
}

ST_TEST_MAIN("control/features/features",
	ST_TEST(test_names),
	ST_TEST(test_plain_features),
	ST_TEST(test_empty_epoch),
	ST_TEST(test_kafka_imbalance),
	ST_TEST(test_partial_flag),
	ST_TEST(test_errors_leave_state),
	ST_TEST(test_spectral_features),
	ST_TEST(test_spectral_needs_data),
	ST_TEST(test_schema_drift_lifecycle),
	ST_TEST(test_schema_new_path_interrupted),
	ST_TEST(test_schema_optional_field_does_not_flap),
	ST_TEST(test_schema_table_full))
