/*
 * Shadow Profile record tests.
 *
 * Oracles come from outside profile.c: the byte layout as the header draws
 * it (a test-side section walker and record writer built from that text, not
 * from profile.c), brute-force counts of the streams fed in (distinct keys,
 * the top key's share, sorted record sizes, Kafka max/mean), and the sketch
 * modules' own published guarantees.  Every malformed record is built by
 * hand from a valid one and must be refused with its own reason; every
 * buffer handed to the parser is a malloc of exactly its length, so that
 * AddressSanitizer sees any read past the end.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/le.h"
#include "dataplane/sketch/sset.h"
#include "shadowtap/profile.h"
#include "st_test.h"
#include "tools/lib/keygen.h"

#define EPOCH0 1700000000000000000ull  /* a wall-clock second, in ns */
#define SEC 1000000000ull

/* ---- streams: realistic data, with a brute-force record of what went in ---- */

#define TRUTH_KEYS 200000

struct truth {
	unsigned records;
	unsigned distinct0;        /* distinct keys of key field 0 */
	uint64_t top0_count;       /* count of the most frequent key of field 0 */
	double *sizes;             /* every record size */
	uint64_t kafka[ST_PROFILE_KAFKA_PARTITIONS];
	unsigned paths_used;
	uint32_t *key_count;       /* [TRUTH_KEYS] counts of field-0 ranks */
};

static const char *const schema_paths[] = {
	"/id", "/user/id", "/user/name", "/amount", "/currency", "/tags",
	"/ts", "/session", "/geo/lat", "/geo/lon", "/items", "/ok",
};

static const uint8_t schema_types[] = {
	ST_JSON_NUMBER, ST_JSON_STRING, ST_JSON_STRING, ST_JSON_NUMBER,
	ST_JSON_STRING, ST_JSON_ARRAY, ST_JSON_NUMBER, ST_JSON_STRING,
	ST_JSON_NUMBER, ST_JSON_NUMBER, ST_JSON_ARRAY, ST_JSON_TRUE,
};

static double normal(struct st_rng *r)
{
	double u1 = st_rng_uniform(r), u2 = st_rng_uniform(r);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

/*
 * Feeds n records into s the way the data plane would: Zipf keys per key
 * field (field 0 skewed, the others less so), log-normal record sizes,
 * signed numeric fields, a dozen schema paths (one of them changing type),
 * timestamps over the epoch with a burst and a few out of it, Kafka
 * partitions by key.  Every value is integral so that sums are exact in
 * any order.  If truth is not NULL it records what went in.
 */
static void feed(struct st_sset *s, uint64_t seed, unsigned n,
		 struct truth *truth)
{
	const struct st_sset_config *cfg = st_sset_config(s);
	struct st_profile_counters *c = st_sset_counters(s);
	uint64_t epoch = st_sset_epoch_start_ns(s);
	struct st_zipf zipf[ST_SSET_KEY_FIELDS_MAX];
	struct st_rng r;

	st_rng_seed(&r, seed);
	for (unsigned f = 0; f < ST_SSET_KEY_FIELDS_MAX; f++)
		CU_ASSERT_EQUAL_FATAL(st_zipf_init(&zipf[f], 1.2 - 0.2 * f,
						   f == 0 ? TRUTH_KEYS : 1000), 0);
	for (unsigned i = 0; i < n; i++) {
		double size = floor(exp(6.0 + 0.8 * normal(&r)));
		unsigned path = (unsigned)(st_rng_next(&r) % ST_ARRAY_SIZE(schema_paths));
		uint8_t type = schema_types[path];
		uint64_t ts, rank0 = 0;

		for (unsigned f = 0; f < cfg->key_fields; f++) {
			uint64_t rank = st_zipf_next(&zipf[f], &r);
			char key[32];
			int len = snprintf(key, sizeof(key), "f%u-key-%llu", f,
					   (unsigned long long)rank);
			uint64_t h = st_hash64(key, (size_t)len);

			st_hll_update(st_sset_hll(s, f), h);
			st_hh_update(st_sset_heavy(s, f), h, key, (size_t)len, 1);
			if (f == 0)
				rank0 = rank;
		}
		st_qs_update(st_sset_size_qs(s), size);
		for (unsigned f = 0; f < cfg->numeric_fields; f++)
			st_qs_update(st_sset_numeric_qs(s, f),
				     floor(100.0 * normal(&r)) * (f + 1));
		if (path == 3 && st_rng_next(&r) % 10 == 0)
			type = ST_JSON_STRING;  /* "/amount" sometimes a string */
		st_schema_update(st_sset_schema(s),
				 st_hash64(schema_paths[path], strlen(schema_paths[path])),
				 schema_paths[path], strlen(schema_paths[path]), type);
		/* a burst in the middle tenth, 1 in 500 out of the epoch */
		if (st_rng_next(&r) % 500 == 0)
			ts = epoch + cfg->epoch_ns + st_rng_next(&r) % SEC;
		else if (st_rng_next(&r) % 3 == 0)
			ts = epoch + cfg->epoch_ns / 2 + st_rng_next(&r) % (cfg->epoch_ns / 10);
		else
			ts = epoch + st_rng_next(&r) % cfg->epoch_ns;
		st_ticks_update(st_sset_ticks(s), ts, 1);

		c->records++;
		c->bytes += (uint64_t)size;
		st_sset_kafka_add(c, (int32_t)(rank0 % 12), 1);
		if (truth) {
			truth->sizes[truth->records++] = size;
			truth->kafka[rank0 % 12]++;
			if (rank0 < TRUTH_KEYS && truth->key_count[rank0]++ == 0)
				truth->distinct0++;
		}
	}
	c->packets += n / 3 + 1;
	c->flows_new += 7;
	c->flows_active += 31;
	c->reassembly_gaps += 2;
	c->egress_records += 5;
	for (unsigned i = 0; i < ST_PROFILE_REASONS; i++) {
		c->parse_errors[i] += i;
		c->drops[i] += 2 * i + 1;
	}
	if (truth) {
		bool used[ST_ARRAY_SIZE(schema_paths)] = { false };

		for (unsigned i = 0; i < ST_ARRAY_SIZE(schema_paths); i++)
			used[i] = st_schema_find(st_sset_schema(s),
				st_hash64(schema_paths[i], strlen(schema_paths[i]))) != NULL;
		truth->paths_used = 0;
		for (unsigned i = 0; i < ST_ARRAY_SIZE(schema_paths); i++)
			truth->paths_used += used[i];
		truth->top0_count = 0;
		for (unsigned i = 0; i < TRUTH_KEYS; i++)
			if (truth->key_count[i] > truth->top0_count)
				truth->top0_count = truth->key_count[i];
	}
}

static struct st_sset *new_set(const struct st_sset_config *cfg, uint64_t epoch)
{
	struct st_sset *s = st_sset_create(cfg);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	st_sset_reset(s, epoch);
	return s;
}

static struct st_sset *new_default_set(void)
{
	struct st_sset_config cfg;

	st_sset_config_default(&cfg);
	return new_set(&cfg, EPOCH0);
}

static void meta_for(struct st_profile_meta *m, const struct st_sset *s,
		     const char *name)
{
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->epoch_start_ns = st_sset_epoch_start_ns(s);
	m->epoch_ns = st_sset_config(s)->epoch_ns;
	m->cores_merged = 2;
	m->cores_expected = 2;
}

/* Builds into an exactly sized malloc; *len gets the size. */
static uint8_t *build(const struct st_sset *s, const struct st_profile_meta *m,
		      size_t *len)
{
	ssize_t size = st_profile_size(s, m), wrote;
	uint8_t *buf;

	CU_ASSERT_FATAL(size > 0);
	buf = malloc((size_t)size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	wrote = st_profile_build(s, m, buf, (size_t)size);
	CU_ASSERT_EQUAL_FATAL(wrote, size);
	*len = (size_t)size;
	return buf;
}

/* Parses a private copy of exactly len bytes. */
static int parse_copy(const uint8_t *rec, size_t len, const char **why)
{
	struct st_profile_view v;
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	if (len)
		memcpy(copy, rec, len);
	*why = NULL;
	rc = st_profile_parse(copy, len, &v, why);
	free(copy);
	return rc;
}

/* build -> parse -> from_profile -> build must give the same bytes. */
static void check_identity(const struct st_sset *s, const struct st_profile_meta *m)
{
	struct st_profile_view v;
	struct st_sset *back;
	uint8_t *rec, *again;
	size_t len, len2;
	const char *why = NULL;
	int rc;

	rec = build(s, m, &len);
	rc = st_profile_parse(rec, len, &v, &why);
	if (rc)
		printf("\n  parse refused a built record: %s\n", why);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	back = st_sset_from_profile(&v, &why);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	again = build(back, &v.meta, &len2);
	CU_ASSERT_EQUAL(len2, len);
	CU_ASSERT(len2 == len && memcmp(rec, again, len) == 0);
	CU_ASSERT_EQUAL(memcmp(st_sset_counters_ro(back), st_sset_counters_ro(s),
			       sizeof(struct st_profile_counters)), 0);
	CU_ASSERT_EQUAL(st_sset_memory_bytes(back), st_sset_memory_bytes(s));
	free(again);
	free(rec);
	st_sset_destroy(back);
}

/* ---- a test-side reading of the layout, from the header's drawing ---- */

struct piece {
	uint16_t type, index;
	uint32_t len;
	const uint8_t *payload;
};

/* Walks a record the builder made (trusted) into its sections. */
static unsigned pieces_of(const uint8_t *rec, struct piece *out)
{
	unsigned n = st_get_le16(rec + 120);
	size_t at = 656;

	for (unsigned i = 0; i < n; i++) {
		out[i].type = st_get_le16(rec + at);
		out[i].index = st_get_le16(rec + at + 2);
		out[i].len = st_get_le32(rec + at + 4);
		out[i].payload = rec + at + 8;
		at += 8 + ((out[i].len + 7) & ~7u);
	}
	return n;
}

static int find_piece(const struct piece *p, unsigned n, uint16_t type,
		      uint16_t index)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i].type == type && p[i].index == index)
			return (int)i;
	return -1;
}

/* Writes the fixed 656 bytes of rec, then the pieces in the given order,
 * patching section count and total size. */
static uint8_t *assemble(const uint8_t *rec, const struct piece *p, unsigned n,
			 size_t *len)
{
	size_t total = 656;
	uint8_t *out;

	for (unsigned i = 0; i < n; i++)
		total += 8 + ((p[i].len + 7) & ~7u);
	out = calloc(1, total);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	memcpy(out, rec, 656);
	st_put_le32(out + 8, (uint32_t)total);
	st_put_le16(out + 120, (uint16_t)n);
	total = 656;
	for (unsigned i = 0; i < n; i++) {
		st_put_le16(out + total, p[i].type);
		st_put_le16(out + total + 2, p[i].index);
		st_put_le32(out + total + 4, p[i].len);
		memcpy(out + total + 8, p[i].payload, p[i].len);
		total += 8 + ((p[i].len + 7) & ~7u);
	}
	*len = total;
	return out;
}

/* ---- identity ---- */

static void test_identity_defaults(void)
{
	struct st_sset *s = new_default_set();
	struct st_profile_meta m;
	struct truth t = { 0 };

	t.sizes = calloc(20000, sizeof(double));
	t.key_count = calloc(TRUTH_KEYS, sizeof(uint32_t));
	feed(s, 1, 20000, &t);
	meta_for(&m, s, "orders");
	check_identity(s, &m);
	free(t.sizes);
	free(t.key_count);
	st_sset_destroy(s);
}

static void test_identity_all_fields_named_partial(void)
{
	struct st_sset_config cfg;
	struct st_profile_meta m;
	struct st_sset *s;

	st_sset_config_default(&cfg);
	cfg.key_fields = 4;
	cfg.numeric_fields = 4;
	s = new_set(&cfg, EPOCH0 + 17 * SEC);
	feed(s, 2, 30000, NULL);
	meta_for(&m, s, "sensors/β-building/temperature");
	m.cores_merged = 3;
	m.cores_expected = 4;
	m.flags = ST_PROFILE_F_PARTIAL;
	m.key_field_names[0] = "/user/id";
	m.key_field_names[1] = "/session";
	m.key_field_names[2] = "/geo/région";
	m.key_field_names[3] = "/a~1b";
	m.numeric_field_names[0] = "/amount";
	m.numeric_field_names[1] = "/latency_ms";
	m.numeric_field_names[2] = "/geo/lat";
	m.numeric_field_names[3] = "/geo/lon";
	check_identity(s, &m);
	st_sset_destroy(s);
}

static void test_identity_empty_and_small(void)
{
	struct st_sset_config cfg;
	struct st_profile_meta m;
	struct st_sset *s;

	s = new_default_set();  /* nothing fed: no Kafka section, zeros */
	meta_for(&m, s, "idle");
	check_identity(s, &m);
	st_sset_destroy(s);

	st_sset_config_default(&cfg);
	cfg.numeric_fields = 0;
	cfg.hll_p = ST_HLL_P_MIN;
	cfg.hh_k = ST_HH_K_MIN;
	cfg.qs_bins = 16;
	cfg.schema_entries = 3;
	cfg.n_ticks = 1;
	cfg.epoch_ns = 1000;
	s = new_set(&cfg, 12345);
	feed(s, 3, 2000, NULL);  /* overflows the schema and the quantile bins */
	meta_for(&m, s, "x");
	m.cores_merged = 1;
	m.cores_expected = 1;
	check_identity(s, &m);
	st_sset_destroy(s);
}

static void test_identity_of_merged_sets(void)
{
	struct st_sset *a = new_default_set(), *b = new_default_set();
	struct st_profile_meta m;

	feed(a, 4, 10000, NULL);
	feed(b, 5, 10000, NULL);
	CU_ASSERT_EQUAL_FATAL(st_sset_merge(a, b), 0);
	meta_for(&m, a, "payments.v2");
	check_identity(a, &m);
	st_sset_destroy(a);
	st_sset_destroy(b);
}

/* ---- what the parsed view says, against what went in ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void test_view_and_summary_against_brute_force(void)
{
	const unsigned n = 50000;
	struct st_sset *s = new_default_set();
	struct st_profile_meta m;
	struct st_profile_view v;
	struct truth t = { 0 };
	const char *why;
	uint8_t *rec;
	size_t len;
	double hll_se = 1.04 / sqrt(4096.0), max = 0, sum = 0;
	unsigned kafka_n = 0;

	t.sizes = calloc(n, sizeof(double));
	t.key_count = calloc(TRUTH_KEYS, sizeof(uint32_t));
	feed(s, 6, n, &t);
	meta_for(&m, s, "clicks");
	m.key_field_names[0] = "/user/id";
	m.numeric_field_names[0] = "/amount";
	rec = build(s, &m, &len);
	CU_ASSERT_EQUAL_FATAL(st_profile_parse(rec, len, &v, &why), 0);

	CU_ASSERT_STRING_EQUAL(v.meta.name, "clicks");
	CU_ASSERT_EQUAL(v.stream_id, st_hash64("clicks", 6));
	CU_ASSERT_EQUAL(v.meta.epoch_start_ns, EPOCH0);
	CU_ASSERT_EQUAL(v.meta.epoch_ns, SEC);
	CU_ASSERT_EQUAL(v.meta.cores_merged, 2);
	CU_ASSERT_EQUAL(v.meta.flags, 0);
	CU_ASSERT_EQUAL(v.key_fields, 1);
	CU_ASSERT_EQUAL(v.numeric_fields, 1);
	CU_ASSERT_STRING_EQUAL(v.meta.key_field_names[0], "/user/id");
	CU_ASSERT_STRING_EQUAL(v.meta.numeric_field_names[0], "/amount");
	CU_ASSERT_PTR_NULL(v.meta.key_field_names[1]);
	CU_ASSERT(v.meta.name >= (const char *)rec &&
		  v.meta.name < (const char *)rec + len);  /* no copy */
	CU_ASSERT(v.hll[0].data > rec && v.hll[0].data < rec + len);
	CU_ASSERT_EQUAL(v.counters.records, n);
	CU_ASSERT_EQUAL(v.counters.drops[15], 31);
	for (unsigned i = 0; i < ST_PROFILE_KAFKA_PARTITIONS; i++) {
		CU_ASSERT_EQUAL(v.counters.kafka_partition[i], t.kafka[i]);
		if (t.kafka[i]) {
			kafka_n = i + 1;
			sum += (double)t.kafka[i];
			max = fmax(max, (double)t.kafka[i]);
		}
	}
	CU_ASSERT_EQUAL(v.kafka_partitions, 12);
	CU_ASSERT_EQUAL(kafka_n, 12);

	/* cardinality within 4 standard errors of the true distinct count */
	printf("\n  distinct %u, estimate %.1f (rel. error %.4f, 4 sigma %.4f)",
	       t.distinct0, v.summary.cardinality[0],
	       fabs(v.summary.cardinality[0] / t.distinct0 - 1), 4 * hll_se);
	CU_ASSERT(fabs(v.summary.cardinality[0] / t.distinct0 - 1) <= 4 * hll_se);
	CU_ASSERT_EQUAL(v.summary.cardinality[1], 0.0);

	/* top-1 share: SpaceSaving overestimates a count by at most N/k */
	printf("\n  top-1 share %.5f, true %.5f (bound 1/k = %.5f)",
	       v.summary.top1_share[0], (double)t.top0_count / n, 1.0 / 64);
	CU_ASSERT(fabs(v.summary.top1_share[0] - (double)t.top0_count / n) <= 1.0 / 64);
	CU_ASSERT(v.summary.topk_share[0] >= v.summary.top1_share[0] - 1.0 / 64);
	CU_ASSERT(v.summary.entropy_norm[0] > 0 && v.summary.entropy_norm[0] < 1);
	CU_ASSERT(v.summary.gini[0] > 0 && v.summary.gini[0] < 1);

	/* size quantiles within alpha of the sorted truth (one rank of slack) */
	qsort(t.sizes, n, sizeof(double), cmp_double);
	{
		const double q[3] = { 0.50, 0.90, 0.99 };
		const double got[3] = { v.summary.size_p50, v.summary.size_p90,
					v.summary.size_p99 };

		for (unsigned i = 0; i < 3; i++) {
			size_t rank = (size_t)(q[i] * (n - 1));
			double lo = t.sizes[rank ? rank - 1 : 0] * (1 - 0.01);
			double hi = t.sizes[rank + 1] * (1 + 0.01);

			printf("\n  size p%.0f %.1f, true %.1f", q[i] * 100, got[i],
			       t.sizes[rank]);
			CU_ASSERT(got[i] >= lo && got[i] <= hi);
		}
	}

	/* Kafka max/mean over partitions 0..11 */
	printf("\n  kafka imbalance %.4f, true %.4f\n", v.summary.kafka_imbalance,
	       max / (sum / kafka_n));
	CU_ASSERT(fabs(v.summary.kafka_imbalance - max / (sum / kafka_n)) <= 1e-12);
	CU_ASSERT_EQUAL(v.summary.schema_entries, t.paths_used);
	CU_ASSERT_EQUAL(v.summary.schema_entries, ST_ARRAY_SIZE(schema_paths));
	CU_ASSERT_EQUAL(v.summary.schema_fingerprint,
			st_schema_fingerprint(st_sset_schema_ro(s)));
	free(rec);
	free(t.sizes);
	free(t.key_count);
	st_sset_destroy(s);
}

/* ---- merge ---- */

static const uint8_t *piece_payload(const uint8_t *rec, uint16_t type,
				    uint16_t index, uint32_t *len)
{
	struct piece p[ST_PROFILE_SECTIONS_MAX];
	unsigned n = pieces_of(rec, p);
	int i = find_piece(p, n, type, index);

	CU_ASSERT_FATAL(i >= 0);
	*len = p[i].len;
	return p[i].payload;
}

static void assert_same_section(const uint8_t *a, const uint8_t *b,
				uint16_t type, uint16_t index)
{
	uint32_t la, lb;
	const uint8_t *pa = piece_payload(a, type, index, &la);
	const uint8_t *pb = piece_payload(b, type, index, &lb);

	CU_ASSERT_EQUAL(la, lb);
	CU_ASSERT(la == lb && memcmp(pa, pb, la) == 0);
}

static void test_merge_then_build_equals_union_stream(void)
{
	struct st_sset_config cfg;
	struct st_sset *a, *b, *all;
	struct st_profile_meta m;
	struct st_profile_view va, vu;
	uint8_t *ra, *ru;
	size_t la, lu;
	const char *why;

	st_sset_config_default(&cfg);
	cfg.key_fields = 2;
	cfg.numeric_fields = 2;
	a = new_set(&cfg, EPOCH0);
	b = new_set(&cfg, EPOCH0);
	all = new_set(&cfg, EPOCH0);
	feed(a, 7, 12000, NULL);
	feed(b, 8, 9000, NULL);
	feed(all, 7, 12000, NULL);
	feed(all, 8, 9000, NULL);
	CU_ASSERT_EQUAL_FATAL(st_sset_merge(a, b), 0);
	meta_for(&m, a, "merged");
	ra = build(a, &m, &la);
	ru = build(all, &m, &lu);
	CU_ASSERT_EQUAL_FATAL(st_profile_parse(ra, la, &va, &why), 0);
	CU_ASSERT_EQUAL_FATAL(st_profile_parse(ru, lu, &vu, &why), 0);

	/* header and counters block */
	CU_ASSERT_EQUAL(memcmp(ra, ru, 120), 0);  /* all but the section count */
	CU_ASSERT_EQUAL(memcmp(ra + 128, ru + 128, 320), 0);
	for (unsigned i = 0; i < 2; i++)
		assert_same_section(ra, ru, ST_PROFILE_SEC_HLL, i);
	for (unsigned i = 0; i < 3; i++)
		assert_same_section(ra, ru, ST_PROFILE_SEC_QUANTILE, i);
	assert_same_section(ra, ru, ST_PROFILE_SEC_SCHEMA, 0);
	assert_same_section(ra, ru, ST_PROFILE_SEC_TICKS, 0);
	assert_same_section(ra, ru, ST_PROFILE_SEC_KAFKA, 0);
	/* the summary figures that come from exactly mergeable parts */
	for (unsigned i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(va.summary.cardinality[i], vu.summary.cardinality[i]);
	CU_ASSERT_EQUAL(va.summary.size_p50, vu.summary.size_p50);
	CU_ASSERT_EQUAL(va.summary.size_p90, vu.summary.size_p90);
	CU_ASSERT_EQUAL(va.summary.size_p99, vu.summary.size_p99);
	CU_ASSERT_EQUAL(va.summary.kafka_imbalance, vu.summary.kafka_imbalance);
	CU_ASSERT_EQUAL(va.summary.schema_fingerprint, vu.summary.schema_fingerprint);
	CU_ASSERT_EQUAL(va.summary.schema_entries, vu.summary.schema_entries);
	free(ra);
	free(ru);
	st_sset_destroy(a);
	st_sset_destroy(b);
	st_sset_destroy(all);
}

/* ---- builder errors ---- */

static void test_build_refuses_bad_meta_and_small_buffers(void)
{
	struct st_sset *s = new_default_set();
	struct st_profile_meta m, bad;
	ssize_t size;
	uint8_t *buf;
	char long_name[80];

	feed(s, 9, 1000, NULL);
	meta_for(&m, s, "ok");
	size = st_profile_size(s, &m);
	CU_ASSERT_FATAL(size > 0);
	buf = malloc((size_t)size);
	CU_ASSERT_EQUAL(st_profile_build(s, &m, buf, (size_t)size - 1), -ENOSPC);
	CU_ASSERT_EQUAL(st_profile_build(s, &m, buf, 0), -ENOSPC);
	CU_ASSERT_EQUAL(st_profile_build(s, &m, buf, (size_t)size), size);

	memset(long_name, 'a', sizeof(long_name));
	long_name[63] = 0;  /* 63 bytes: the longest name */
	bad = m;
	bad.name = long_name;
	CU_ASSERT(st_profile_size(s, &bad) > 0);
	long_name[63] = 'a';
	long_name[64] = 0;  /* 64 bytes: no room for the NUL */
	CU_ASSERT_EQUAL(st_profile_size(s, &bad), -EINVAL);

#define REFUSED(field, value)                                                  \
	do {                                                                   \
		bad = m;                                                       \
		bad.field = value;                                             \
		CU_ASSERT_EQUAL(st_profile_build(s, &bad, buf, (size_t)size),  \
				-EINVAL);                                      \
	} while (0)
	REFUSED(name, NULL);
	REFUSED(name, "");
	REFUSED(name, "tab\there");
	REFUSED(name, "bad\xc3(utf8");
	REFUSED(name, "\xed\xa0\x80surrogate");
	REFUSED(cores_merged, 0);
	REFUSED(cores_merged, 3);                  /* > expected */
	REFUSED(flags, ST_PROFILE_F_PARTIAL);      /* 2 of 2 is not partial */
	REFUSED(flags, 1u << 7);                   /* unknown flag */
	REFUSED(epoch_ns, 2 * SEC);                /* not the set's epoch */
	REFUSED(epoch_start_ns, EPOCH0 + SEC);
	REFUSED(key_field_names[1], "/two");       /* only one key field */
	REFUSED(numeric_field_names[0], "/amount");/* names but no key name */
	REFUSED(key_field_names[0], "no-slash");   /* numeric name missing too */
#undef REFUSED
	bad = m;
	bad.key_field_names[0] = "/k";  /* the numeric field's name missing */
	CU_ASSERT_EQUAL(st_profile_build(s, &bad, buf, (size_t)size), -EINVAL);
	bad.numeric_field_names[0] = "/n";
	CU_ASSERT(st_profile_size(s, &bad) > size);  /* one more section */
	bad.cores_merged = 1;
	bad.flags = ST_PROFILE_F_PARTIAL;
	CU_ASSERT(st_profile_size(s, &bad) > 0);
	free(buf);
	st_sset_destroy(s);
}

static void test_build_refuses_records_over_the_maximum(void)
{
	struct st_sset_config cfg;
	struct st_profile_meta m;
	struct st_sset *s;
	double gamma;

	/* one signed quantile sketch with 2 x 65536 occupied buckets holds
	 * more than 1 MiB of counts whatever its exact encoding */
	st_sset_config_default(&cfg);
	cfg.qs_alpha = 0.001;
	cfg.qs_bins = 65536;
	s = new_set(&cfg, EPOCH0);
	gamma = (1 + cfg.qs_alpha) / (1 - cfg.qs_alpha);
	for (unsigned i = 0; i < 65536; i++) {
		double v = pow(gamma, i + 0.5);

		st_qs_update(st_sset_numeric_qs(s, 0), v);
		st_qs_update(st_sset_numeric_qs(s, 0), -v);
	}
	meta_for(&m, s, "huge");
	CU_ASSERT_EQUAL(st_profile_size(s, &m), -E2BIG);
	CU_ASSERT_EQUAL(st_profile_build(s, &m, NULL, 0), -E2BIG);
	st_sset_destroy(s);
}

/* ---- the parser refuses every malformed record with its reason ---- */

struct fixture {
	struct st_sset *set;
	uint8_t *rec;
	size_t len;
	struct piece p[ST_PROFILE_SECTIONS_MAX];
	unsigned n;
};

/* Two key fields, one numeric field, named (26 bytes of names: padding),
 * 3 of 4 cores, Kafka counts. */
static void fixture_make(struct fixture *f)
{
	struct st_sset_config cfg;
	struct st_profile_meta m;

	st_sset_config_default(&cfg);
	cfg.key_fields = 2;
	f->set = new_set(&cfg, EPOCH0);
	feed(f->set, 10, 5000, NULL);
	meta_for(&m, f->set, "orders-eu");
	m.cores_merged = 3;
	m.cores_expected = 4;
	m.flags = ST_PROFILE_F_PARTIAL;
	m.key_field_names[0] = "/user/id";
	m.key_field_names[1] = "/session";
	m.numeric_field_names[0] = "/amount";
	f->rec = build(f->set, &m, &f->len);
	f->n = pieces_of(f->rec, f->p);
}

static void fixture_free(struct fixture *f)
{
	free(f->rec);
	st_sset_destroy(f->set);
}

/* A copy of the fixture's record for one mutation. */
static uint8_t *mut(const struct fixture *f)
{
	uint8_t *b = malloc(f->len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, f->rec, f->len);
	return b;
}

static void expect_reject(const uint8_t *rec, size_t len, int code,
			  const char *reason)
{
	const char *why;
	int rc = parse_copy(rec, len, &why);

	if (rc != code || (reason && (!why || strcmp(why, reason))))
		printf("\n  expected %d \"%s\", got %d \"%s\"", code,
		       reason ? reason : "(any)", rc, why ? why : "(null)");
	CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_PTR_NOT_NULL(why);
	if (reason && why) {
		CU_ASSERT_STRING_EQUAL(why, reason);
	}
}

static void test_fixture_is_valid(void)
{
	struct fixture f;
	const char *why;

	fixture_make(&f);
	CU_ASSERT_EQUAL(parse_copy(f.rec, f.len, &why), 0);
	CU_ASSERT_EQUAL(f.n, 2 + 2 + 2 + 1 + 1 + 1 + 1);
	CU_ASSERT(find_piece(f.p, f.n, ST_PROFILE_SEC_FIELD_NAMES, 0) >= 0);
	CU_ASSERT_EQUAL(f.p[f.n - 1].len, 26);
	fixture_free(&f);
}

static void test_truncated_records_all_refused(void)
{
	struct fixture f;
	const char *why;

	fixture_make(&f);
	/* a prefix: the total size no longer matches */
	for (size_t len = 0; len < f.len; len++)
		CU_ASSERT_NOT_EQUAL(parse_copy(f.rec, len, &why), 0);
	/* a prefix that claims to be whole: the framing must notice */
	for (size_t len = 0; len < f.len; len += 8) {
		uint8_t *b = mut(&f);

		if (len >= 12)
			st_put_le32(b + 8, (uint32_t)len);
		CU_ASSERT_NOT_EQUAL(parse_copy(b, len, &why), 0);
		free(b);
	}
	fixture_free(&f);
}

static void test_short_and_oversized_records_refused(void)
{
	struct fixture f;
	uint8_t *b;

	fixture_make(&f);
	expect_reject(f.rec, 0, -EINVAL, "shorter than the profile header");
	expect_reject(f.rec, 127, -EINVAL, "shorter than the profile header");
	b = mut(&f);
	st_put_le32(b + 8, 132);
	expect_reject(b, 132, -EINVAL, "total size not a multiple of 8");
	st_put_le32(b + 8, 648);
	expect_reject(b, 648, -EINVAL, "shorter than header, counters and summary");
	st_put_le32(b + 8, 656);  /* no sections at all, but it says it has */
	expect_reject(b, 656, -EINVAL, "section header past the end");
	free(b);
	/* a buffer over the maximum, whatever the record inside says */
	b = calloc(1, ST_PROFILE_MAX_BYTES + 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, f.rec, f.len);
	expect_reject(b, ST_PROFILE_MAX_BYTES + 8, -E2BIG,
		      "profile larger than ST_PROFILE_MAX_BYTES");
	free(b);
	fixture_free(&f);
}

/* One header (or counters/summary) mutation and the reason it must give. */
static void header_case(const struct fixture *f, size_t off, const void *bytes,
			size_t n, int code, const char *reason)
{
	uint8_t *b = mut(f);

	memcpy(b + off, bytes, n);
	expect_reject(b, f->len, code, reason);
	free(b);
}

static void put16(const struct fixture *f, size_t off, uint16_t v, int code,
		  const char *reason)
{
	uint8_t le[2];

	st_put_le16(le, v);
	header_case(f, off, le, 2, code, reason);
}

static void put32(const struct fixture *f, size_t off, uint32_t v, int code,
		  const char *reason)
{
	uint8_t le[4];

	st_put_le32(le, v);
	header_case(f, off, le, 4, code, reason);
}

static void put64(const struct fixture *f, size_t off, uint64_t v, int code,
		  const char *reason)
{
	uint8_t le[8];

	st_put_le64(le, v);
	header_case(f, off, le, 8, code, reason);
}

static void putf64(const struct fixture *f, size_t off, double d, int code,
		   const char *reason)
{
	uint8_t le[8];

	st_put_lef64(le, d);
	header_case(f, off, le, 8, code, reason);
}

static void put8(const struct fixture *f, size_t off, uint8_t v, int code,
		 const char *reason)
{
	header_case(f, off, &v, 1, code, reason);
}

static void test_header_fields_each_refused(void)
{
	struct fixture f;
	uint8_t name[64];

	fixture_make(&f);
	put32(&f, 0, 0x46505454, -EINVAL, "not a profile (bad magic)");
	put16(&f, 4, 2, -EPROTO, "unsupported profile ABI version");
	put16(&f, 4, 0, -EPROTO, "unsupported profile ABI version");
	put16(&f, 6, 136, -EINVAL, "header size is not that of this ABI version");
	put32(&f, 8, (uint32_t)f.len + 8, -EINVAL, "total size does not match the buffer");
	put32(&f, 8, ST_PROFILE_MAX_BYTES + 8, -E2BIG, "profile larger than ST_PROFILE_MAX_BYTES");
	put32(&f, 12, ST_PROFILE_F_PARTIAL | 2, -EINVAL, "unknown flag set");
	put32(&f, 12, 1u << 31, -EINVAL, "unknown flag set");
	put32(&f, 12, 0, -EINVAL, "partial flag disagrees with the cores merged");
	put64(&f, 16, st_get_le64(f.rec + 16) ^ 1, -EINVAL,
	      "stream id is not the hash of the name");
	put8(&f, 24, 'O', -EINVAL, "stream id is not the hash of the name");
	memset(name, 'a', sizeof(name));
	header_case(&f, 24, name, 64, -EINVAL, "stream name not NUL-terminated");
	put8(&f, 24, 0, -EINVAL, "stream name empty");
	put8(&f, 24 + 63, 'x', -EINVAL, "stream name padding not zero");
	put8(&f, 24 + 10, 1, -EINVAL, "stream name padding not zero");
	put8(&f, 24 + 2, 0x07, -EINVAL, "stream name not UTF-8 text");
	put8(&f, 24 + 2, 0xff, -EINVAL, "stream name not UTF-8 text");
	put8(&f, 24 + 8, 0xc3, -EINVAL, "stream name not UTF-8 text"); /* cut sequence */
	put64(&f, 88, EPOCH0 + 1, -EINVAL, "ticks start at another time than the epoch");
	put64(&f, 88, UINT64_MAX - 5, -EINVAL, "epoch ends past 2^64 ns");
	put64(&f, 96, 0, -EINVAL, "epoch length zero");
	put64(&f, 96, 2 * SEC, -EINVAL,
	      "sketches of one kind differ in parameters, or the ticks do not cover the epoch");
	put16(&f, 104, 0, -EINVAL, "cores merged not in 1..cores expected");
	put16(&f, 104, 5, -EINVAL, "cores merged not in 1..cores expected");
	put16(&f, 104, 4, -EINVAL, "partial flag disagrees with the cores merged");
	put8(&f, 108, 2, -EINVAL, "profile built with another hash or seed");
	put8(&f, 108, 0, -EINVAL, "profile built with another hash or seed");
	put8(&f, 109, 0, -EINVAL, "key field count out of range");
	put8(&f, 109, 5, -EINVAL, "key field count out of range");
	put8(&f, 109, 1, -EINVAL, "summary of an unused key field not zero");
	put8(&f, 109, 3, -EINVAL, "field names: fewer names than fields");
	put8(&f, 110, 5, -EINVAL, "numeric field count out of range");
	put8(&f, 110, 0, -EINVAL, "section index beyond the fields of the record");
	put8(&f, 111, ST_PROFILE_PROTO_MAX + 1, -EINVAL, "unknown protocol");
	put64(&f, 112, ST_HASH_SEED + 1, -EINVAL, "profile built with another hash or seed");
	for (size_t off = 122; off < 128; off++)
		put8(&f, off, 0x80, -EINVAL, "header reserved bytes not zero");
	put16(&f, 120, (uint16_t)(f.n - 1), -EINVAL, "bytes after the last section");
	put16(&f, 120, (uint16_t)(f.n + 1), -EINVAL, "section header past the end");
	put16(&f, 120, 0xffff, -EINVAL, "more sections than any record holds");
	fixture_free(&f);
}

static void test_counters_and_summary_fields_refused(void)
{
	struct fixture f;
	const char *why;
	uint8_t *b;
	double card;

	fixture_make(&f);
	/* no invariant ties the counters together: any value is accepted */
	b = mut(&f);
	st_put_le64(b + 128 + 64, UINT64_MAX);
	CU_ASSERT_EQUAL(parse_copy(b, f.len, &why), 0);
	free(b);
	/* egress_records (offset 56) is a plain counter too */
	b = mut(&f);
	st_put_le64(b + 128 + 56, 12345);
	{
		struct st_profile_view v;

		CU_ASSERT_EQUAL_FATAL(st_profile_parse(b, f.len, &v, &why), 0);
		CU_ASSERT_EQUAL(v.counters.egress_records, 12345);
	}
	free(b);

	card = st_get_lef64(f.rec + 448);
	putf64(&f, 448, card + 1, -EINVAL, "summary is not what the sketches give");
	putf64(&f, 448, NAN, -EINVAL, "cardinality not finite and >= 0");
	putf64(&f, 448, INFINITY, -EINVAL, "cardinality not finite and >= 0");
	putf64(&f, 448, -1.0, -EINVAL, "cardinality not finite and >= 0");
	putf64(&f, 448 + 16, 1.0, -EINVAL, "summary of an unused key field not zero");
	putf64(&f, 448 + 32 + 24, -0.0, -EINVAL, "summary of an unused key field not zero");
	putf64(&f, 448 + 32, 1.5, -EINVAL, "skew figure outside [0,1]");
	putf64(&f, 448 + 64, -0.1, -EINVAL, "skew figure outside [0,1]");
	putf64(&f, 448 + 96, NAN, -EINVAL, "skew figure outside [0,1]");
	putf64(&f, 448 + 128 + 8, 2.0, -EINVAL, "skew figure outside [0,1]");
	putf64(&f, 448 + 160, 0.5, -EINVAL, "Kafka imbalance neither 0 nor in [1,64]");
	putf64(&f, 448 + 160, 65, -EINVAL, "Kafka imbalance neither 0 nor in [1,64]");
	putf64(&f, 448 + 160, 1.0, -EINVAL, "summary is not what the sketches give");
	putf64(&f, 448 + 168, -1, -EINVAL, "size quantile not finite and >= 0");
	putf64(&f, 448 + 184, INFINITY, -EINVAL, "size quantile not finite and >= 0");
	putf64(&f, 448 + 176, 1e6, -EINVAL, "summary is not what the sketches give");
	put64(&f, 448 + 192, st_get_le64(f.rec + 448 + 192) + 1, -EINVAL,
	      "summary is not what the sketches give");
	put32(&f, 448 + 200, 5, -EINVAL, "summary is not what the sketches give");
	put32(&f, 448 + 204, 1, -EINVAL, "summary reserved field not zero");
	fixture_free(&f);
}

/* Re-lays the fixture with one piece list and expects a refusal. */
static void pieces_case(const struct fixture *f, const struct piece *p,
			unsigned n, int code, const char *reason)
{
	size_t len;
	uint8_t *b = assemble(f->rec, p, n, &len);

	expect_reject(b, len, code, reason);
	free(b);
}

static void test_section_framing_refused(void)
{
	struct fixture f;
	struct piece p[ST_PROFILE_SECTIONS_MAX + 1];
	uint8_t *b, *kafka;
	size_t len, last_at;
	int k;

	fixture_make(&f);
	/* the test-side writer reproduces the record exactly */
	b = assemble(f.rec, f.p, f.n, &len);
	CU_ASSERT(len == f.len && memcmp(b, f.rec, len) == 0);
	free(b);

	/* unsorted: swap the two HLL sections, then HLL 1 and HEAVY 0 */
	memcpy(p, f.p, sizeof(f.p));
	p[0] = f.p[1];
	p[1] = f.p[0];
	pieces_case(&f, p, f.n, -EINVAL, "sections not sorted by (type, index) or duplicated");
	memcpy(p, f.p, sizeof(f.p));
	p[1] = f.p[2];
	p[2] = f.p[1];
	pieces_case(&f, p, f.n, -EINVAL, "sections not sorted by (type, index) or duplicated");

	/* duplicate: the schema section twice */
	k = find_piece(f.p, f.n, ST_PROFILE_SEC_SCHEMA, 0);
	memcpy(p, f.p, (size_t)(k + 1) * sizeof(*p));
	p[k + 1] = f.p[k];
	memcpy(p + k + 2, f.p + k + 1, (f.n - (unsigned)k - 1) * sizeof(*p));
	pieces_case(&f, p, f.n + 1, -EINVAL, "sections not sorted by (type, index) or duplicated");

	/* missing: each required section removed in turn */
	for (unsigned drop = 0; drop < f.n; drop++) {
		unsigned n = 0;

		if (f.p[drop].type == ST_PROFILE_SEC_KAFKA ||
		    f.p[drop].type == ST_PROFILE_SEC_FIELD_NAMES)
			continue;
		for (unsigned i = 0; i < f.n; i++)
			if (i != drop)
				p[n++] = f.p[i];
		pieces_case(&f, p, n, -EINVAL, "a required section is missing");
	}

	/* an unknown type, an index past the fields */
	memcpy(p, f.p, sizeof(f.p));
	p[f.n - 1].type = 8;
	pieces_case(&f, p, f.n, -EINVAL, "unknown section type");
	memcpy(p, f.p, sizeof(f.p));
	p[1].index = 2;
	pieces_case(&f, p, f.n, -EINVAL, "section index beyond the fields of the record");
	memcpy(p, f.p, sizeof(f.p));
	k = find_piece(f.p, f.n, ST_PROFILE_SEC_QUANTILE, 1);
	p[k].index = 2;
	pieces_case(&f, p, f.n, -EINVAL, "section index beyond the fields of the record");

	/* padding: the names section has 26 bytes, 6 of padding */
	last_at = f.len - 40;
	CU_ASSERT_EQUAL(st_get_le16(f.rec + last_at), ST_PROFILE_SEC_FIELD_NAMES);
	for (size_t off = last_at + 8 + 26; off < f.len; off++)
		put8(&f, off, 0x20, -EINVAL, "section padding not zero");
	/* lengths */
	put32(&f, last_at + 4, 27, -EINVAL, "field names: bytes after the last name");
	put32(&f, last_at + 4, 33, -EINVAL, "section payload past the end");
	put32(&f, last_at + 4, UINT32_MAX, -EINVAL, "section payload past the end");
	put32(&f, last_at + 4, 24, -EINVAL, "field names: fewer names than fields");
	put32(&f, 656 + 4, st_get_le32(f.rec + 656 + 4) - 8, -EINVAL, NULL);

	/* an 8-byte tail after the last section, counted in the total */
	b = calloc(1, f.len + 8);
	memcpy(b, f.rec, f.len);
	st_put_le32(b + 8, (uint32_t)f.len + 8);
	expect_reject(b, f.len + 8, -EINVAL, "bytes after the last section");
	free(b);

	/* Kafka: untrimmed, empty, not whole u64s, more than 64 partitions */
	k = find_piece(f.p, f.n, ST_PROFILE_SEC_KAFKA, 0);
	CU_ASSERT_FATAL(k >= 0);
	CU_ASSERT_EQUAL(f.p[k].len, 12 * 8);
	kafka = calloc(1, 65 * 8);
	memcpy(kafka, f.p[k].payload, f.p[k].len);
	memcpy(p, f.p, sizeof(f.p));
	p[k].payload = kafka;
	p[k].len = 13 * 8;
	pieces_case(&f, p, f.n, -EINVAL, "Kafka section not trimmed after its last partition");
	p[k].len = 0;
	pieces_case(&f, p, f.n, -EINVAL, "Kafka section not 1..64 u64 counts");
	p[k].len = 12 * 8 + 4;
	pieces_case(&f, p, f.n, -EINVAL, "Kafka section not 1..64 u64 counts");
	st_put_le64(kafka + 64 * 8, 1);
	p[k].len = 65 * 8;
	pieces_case(&f, p, f.n, -EINVAL, "Kafka section not 1..64 u64 counts");
	/* a changed count: the imbalance no longer matches */
	st_put_le64(kafka, st_get_le64(f.p[k].payload) + 1);
	p[k].len = 12 * 8;
	pieces_case(&f, p, f.n, -EINVAL, "summary is not what the sketches give");
	/* the section dropped: the summary's imbalance has no counts behind it */
	memcpy(p, f.p, sizeof(f.p));
	memmove(p + k, p + k + 1, (f.n - (unsigned)k - 1) * sizeof(*p));
	pieces_case(&f, p, f.n - 1, -EINVAL, "summary is not what the sketches give");
	free(kafka);
	fixture_free(&f);
}

static void test_field_names_refused(void)
{
	static const struct {
		const char *bytes;
		uint32_t len;
		const char *reason;
	} cases[] = {
		{ "/user/id\0/session\0", 18, "field names: fewer names than fields" },
		{ "/user/id\0/session\0/amount", 25, "field names: fewer names than fields" },
		{ "/user/id\0/session\0/amount\0\0", 27, "field names: bytes after the last name" },
		{ "/user/id\0\0/session\0/amount\0", 27,
		  "field names: not @key or a JSON pointer of 1..255 bytes of text" },
		{ "user/id\0/session\0/amount\0", 25,
		  "field names: not @key or a JSON pointer of 1..255 bytes of text" },
		{ "/user/id\0/ses\nsion\0/amount\0", 27,
		  "field names: not @key or a JSON pointer of 1..255 bytes of text" },
		{ "/user/id\0/session\0/am\xc0\xafount\0", 28,
		  "field names: not @key or a JSON pointer of 1..255 bytes of text" },
		{ "@keys\0/session\0/amount\0", 23,
		  "field names: not @key or a JSON pointer of 1..255 bytes of text" },
	};
	struct fixture f;
	struct piece p[ST_PROFILE_SECTIONS_MAX];
	char long_names[300 + 20];

	fixture_make(&f);
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		memcpy(p, f.p, sizeof(f.p));
		p[f.n - 1].payload = (const uint8_t *)cases[i].bytes;
		p[f.n - 1].len = cases[i].len;
		pieces_case(&f, p, f.n, -EINVAL, cases[i].reason);
	}
	/* "@key" names the record key: accepted */
	{
		static const char names[] = "@key\0/session\0/amount\0";
		const char *why;
		struct st_profile_view v;
		size_t len;
		uint8_t *b;

		memcpy(p, f.p, sizeof(f.p));
		p[f.n - 1].payload = (const uint8_t *)names;
		p[f.n - 1].len = sizeof(names) - 1;
		b = assemble(f.rec, p, f.n, &len);
		CU_ASSERT_EQUAL(st_profile_parse(b, len, &v, &why), 0);
		CU_ASSERT_STRING_EQUAL(v.meta.key_field_names[0], "@key");
		free(b);
	}
	/* 256 bytes: one too many */
	long_names[0] = '/';
	memset(long_names + 1, 'n', 255);
	memcpy(long_names + 256, "\0/s\0/a\0", 7);
	memcpy(p, f.p, sizeof(f.p));
	p[f.n - 1].payload = (const uint8_t *)long_names;
	p[f.n - 1].len = 263;
	pieces_case(&f, p, f.n, -EINVAL,
		    "field names: not @key or a JSON pointer of 1..255 bytes of text");
	fixture_free(&f);
}

static void test_corrupt_blobs_refused(void)
{
	struct st_sset_config cfg;
	struct st_profile_meta m;
	struct st_sset *other;
	struct fixture f;
	struct piece p[ST_PROFILE_SECTIONS_MAX], q[ST_PROFILE_SECTIONS_MAX];
	uint8_t *rec2;
	size_t len2, at;
	int k;

	fixture_make(&f);
	/* inside each blob: its header's reserved byte, its length field, a
	 * payload byte set to 0xff (each validator must object) */
	at = 656;
	for (unsigned i = 0; i < f.n; i++) {
		if (f.p[i].type <= ST_PROFILE_SEC_TICKS) {
			put8(&f, at + 8 + 3, 1, -EINVAL, "blob reserved byte not zero");
			put32(&f, at + 8 + 4, f.p[i].len - 1, -EINVAL,
			      "blob length does not match its container");
			put8(&f, at + 8 + 0, (uint8_t)(f.p[i].type % 5 + 1), -EINVAL,
			      "blob of another sketch kind");
			put8(&f, at + 8 + 1, 9, -EINVAL, "unsupported blob version");
		}
		at += 8 + ((f.p[i].len + 7) & ~7u);
	}
	/* an HLL register beyond 65 - p */
	k = find_piece(f.p, f.n, ST_PROFILE_SEC_HLL, 1);
	put8(&f, (size_t)(f.p[k].payload - f.rec) + 16 + 8 + 100, 0xff, -EINVAL, NULL);
	/* a blob of one kind in a section of another */
	memcpy(p, f.p, sizeof(f.p));
	p[2] = f.p[0];
	p[2].type = ST_PROFILE_SEC_HEAVY;
	pieces_case(&f, p, f.n, -EINVAL, "blob of another sketch kind");

	/* valid blobs whose parameters disagree: HLL 1 of precision 14 */
	st_sset_config_default(&cfg);
	cfg.key_fields = 2;
	cfg.hll_p = 14;
	other = new_set(&cfg, EPOCH0);
	meta_for(&m, other, "other");
	rec2 = build(other, &m, &len2);
	pieces_of(rec2, q);
	memcpy(p, f.p, sizeof(f.p));
	p[1] = q[1];
	pieces_case(&f, p, f.n, -EINVAL,
		    "sketches of one kind differ in parameters, or the ticks do not cover the epoch");
	free(rec2);
	st_sset_destroy(other);

	/* quantile sketches: signedness by index, bins shared */
	k = find_piece(f.p, f.n, ST_PROFILE_SEC_QUANTILE, 0);
	memcpy(p, f.p, sizeof(f.p));
	p[k].payload = f.p[k + 1].payload;
	p[k].len = f.p[k + 1].len;
	pieces_case(&f, p, f.n, -EINVAL, "record size quantile sketch is signed");
	memcpy(p, f.p, sizeof(f.p));
	p[k + 1].payload = f.p[k].payload;
	p[k + 1].len = f.p[k].len;
	pieces_case(&f, p, f.n, -EINVAL, "numeric field quantile sketch is unsigned");
	st_sset_config_default(&cfg);
	cfg.key_fields = 2;
	cfg.qs_bins = 512;
	other = new_set(&cfg, EPOCH0);
	meta_for(&m, other, "other");
	rec2 = build(other, &m, &len2);
	pieces_of(rec2, q);
	memcpy(p, f.p, sizeof(f.p));
	p[k + 1] = q[k + 1];
	pieces_case(&f, p, f.n, -EINVAL, "quantile sketches differ in bins");
	free(rec2);
	fixture_free(&f);
	st_sset_destroy(other);
}

/* Any single-byte change is either refused, or is a record that survives the
 * round trip unchanged (what the fuzz target checks on random inputs). */
static void test_every_byte_flip_refused_or_canonical(void)
{
	struct fixture f;
	unsigned accepted = 0, refused = 0;

	fixture_make(&f);
	for (size_t off = 0; off < f.len; off++) {
		uint8_t *b = mut(&f);
		struct st_profile_view v;
		const char *why;

		b[off] ^= (uint8_t)(1u << (off % 8));
		if (st_profile_parse(b, f.len, &v, &why) == 0) {
			struct st_sset *s = st_sset_from_profile(&v, &why);
			uint8_t *again = malloc(f.len);

			CU_ASSERT_PTR_NOT_NULL_FATAL(s);
			CU_ASSERT_EQUAL(st_profile_build(s, &v.meta, again, f.len),
					(ssize_t)f.len);
			CU_ASSERT_EQUAL(memcmp(again, b, f.len), 0);
			free(again);
			st_sset_destroy(s);
			accepted++;
		} else {
			refused++;
		}
		free(b);
	}
	printf("\n  single-bit flips: %u refused, %u accepted (all canonical)\n",
	       refused, accepted);
	CU_ASSERT(refused > 0 && accepted > 0);
	fixture_free(&f);
}

static void test_from_profile_refuses_an_unparsed_view(void)
{
	struct st_profile_view v;
	const char *why = NULL;

	memset(&v, 0, sizeof(v));
	errno = 0;
	CU_ASSERT_PTR_NULL(st_sset_from_profile(&v, &why));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(why);
}

ST_TEST_MAIN("dataplane/sketch/profile",
	ST_TEST(test_identity_defaults),
	ST_TEST(test_identity_all_fields_named_partial),
	ST_TEST(test_identity_empty_and_small),
	ST_TEST(test_identity_of_merged_sets),
	ST_TEST(test_view_and_summary_against_brute_force),
	ST_TEST(test_merge_then_build_equals_union_stream),
	ST_TEST(test_build_refuses_bad_meta_and_small_buffers),
	ST_TEST(test_build_refuses_records_over_the_maximum),
	ST_TEST(test_fixture_is_valid),
	ST_TEST(test_truncated_records_all_refused),
	ST_TEST(test_short_and_oversized_records_refused),
	ST_TEST(test_header_fields_each_refused),
	ST_TEST(test_counters_and_summary_fields_refused),
	ST_TEST(test_section_framing_refused),
	ST_TEST(test_field_names_refused),
	ST_TEST(test_corrupt_blobs_refused),
	ST_TEST(test_every_byte_flip_refused_or_canonical),
	ST_TEST(test_from_profile_refuses_an_unparsed_view))
