/*
 * Sketch set tests: config checks, accessors, reset, merge (counters by
 * brute-force sums, sketches against a set fed the whole stream), the
 * all-or-nothing merge, assemble's ownership rules, and the memory figure at
 * the defaults against the 64 KiB per stream per core target.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/sset.c"
#include "st_test.h"
#include "tools/lib/keygen.h"

#define EPOCH0 1700000000000000000ull  /* a wall-clock second, in ns */

static struct st_sset *new_default(void)
{
	struct st_sset_config cfg;
	struct st_sset *s;

	st_sset_config_default(&cfg);
	s = st_sset_create(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	st_sset_reset(s, EPOCH0);
	return s;
}

static void test_defaults_are_the_documented_ones(void)
{
	struct st_sset_config cfg;

	st_sset_config_default(&cfg);
	CU_ASSERT_EQUAL(cfg.key_fields, 1);
	CU_ASSERT_EQUAL(cfg.numeric_fields, 1);
	CU_ASSERT_EQUAL(cfg.hll_p, 12);
	CU_ASSERT_EQUAL(cfg.hh_k, 64);
	CU_ASSERT_EQUAL(cfg.qs_alpha, 0.01);
	CU_ASSERT_EQUAL(cfg.qs_bins, 1024);
	CU_ASSERT_EQUAL(cfg.schema_entries, 64);
	CU_ASSERT_EQUAL(cfg.n_ticks, 100);
	CU_ASSERT_EQUAL(cfg.epoch_ns, 1000000000ull);
}

static void test_memory_at_defaults_within_target(void)
{
	struct st_sset *s = new_default();
	size_t bytes = st_sset_memory_bytes(s), parts;

	/* the true allocation: the handle plus each sketch's own figure */
	parts = sizeof(struct st_sset) +
		st_hll_memory_bytes(st_sset_hll(s, 0)) +
		st_hh_memory_bytes(st_sset_heavy(s, 0)) +
		st_qs_memory_bytes(st_sset_size_qs(s)) +
		st_qs_memory_bytes(st_sset_numeric_qs(s, 0)) +
		st_schema_memory_bytes(st_sset_schema(s)) +
		st_ticks_memory_bytes(st_sset_ticks(s));
	printf("\n  sset memory at defaults: %zu bytes (%.1f KiB; target 64 KiB)"
	       "\n    set %zu, hll %zu, heavy %zu, size qs %zu, numeric qs %zu,"
	       " schema %zu, ticks %zu\n",
	       bytes, bytes / 1024.0, sizeof(struct st_sset),
	       st_hll_memory_bytes(st_sset_hll(s, 0)),
	       st_hh_memory_bytes(st_sset_heavy(s, 0)),
	       st_qs_memory_bytes(st_sset_size_qs(s)),
	       st_qs_memory_bytes(st_sset_numeric_qs(s, 0)),
	       st_schema_memory_bytes(st_sset_schema(s)),
	       st_ticks_memory_bytes(st_sset_ticks(s)));
	CU_ASSERT_EQUAL(bytes, parts);
	CU_ASSERT(bytes <= 64 * 1024);
	st_sset_destroy(s);
}

static void test_create_rejects_bad_configs(void)
{
	struct st_sset_config base, cfg;

	st_sset_config_default(&base);
	cfg = base;
	cfg.key_fields = 0;
	errno = 0;
	CU_ASSERT_PTR_NULL(st_sset_create(&cfg));
	CU_ASSERT_EQUAL(errno, EINVAL);
	cfg = base;
	cfg.key_fields = ST_SSET_KEY_FIELDS_MAX + 1;
	CU_ASSERT_PTR_NULL(st_sset_create(&cfg));
	cfg = base;
	cfg.numeric_fields = ST_SSET_NUMERIC_FIELDS_MAX + 1;
	CU_ASSERT_PTR_NULL(st_sset_create(&cfg));
	/* the sketch constructors' own checks come through */
	cfg = base;
	cfg.hll_p = ST_HLL_P_MAX + 1;
	errno = 0;
	CU_ASSERT_PTR_NULL(st_sset_create(&cfg));
	CU_ASSERT_EQUAL(errno, EINVAL);
	cfg = base;
	cfg.hh_k = ST_HH_K_MIN - 1;
	CU_ASSERT_PTR_NULL(st_sset_create(&cfg));
	cfg = base;
	cfg.n_ticks = 7;  /* does not divide 1 s */
	CU_ASSERT_PTR_NULL(st_sset_create(&cfg));
	cfg = base;
	cfg.schema_entries = 0;
	CU_ASSERT_PTR_NULL(st_sset_create(&cfg));
	st_sset_destroy(NULL);
}

static void test_accessors_bounded_by_the_config(void)
{
	struct st_sset_config cfg;
	struct st_sset *s;

	st_sset_config_default(&cfg);
	cfg.key_fields = 3;
	cfg.numeric_fields = 0;
	s = st_sset_create(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (unsigned i = 0; i < 3; i++) {
		CU_ASSERT_PTR_NOT_NULL(st_sset_hll(s, i));
		CU_ASSERT_PTR_NOT_NULL(st_sset_heavy(s, i));
		CU_ASSERT_PTR_EQUAL(st_sset_hll_ro(s, i), st_sset_hll(s, i));
		CU_ASSERT_PTR_EQUAL(st_sset_heavy_ro(s, i), st_sset_heavy(s, i));
	}
	CU_ASSERT_PTR_NOT_EQUAL(st_sset_hll(s, 0), st_sset_hll(s, 1));
	CU_ASSERT_PTR_NULL(st_sset_hll(s, 3));
	CU_ASSERT_PTR_NULL(st_sset_heavy_ro(s, 3));
	CU_ASSERT_PTR_NULL(st_sset_numeric_qs(s, 0));
	CU_ASSERT_PTR_NOT_NULL(st_sset_size_qs(s));
	CU_ASSERT_PTR_NOT_NULL(st_sset_schema(s));
	CU_ASSERT_PTR_NOT_NULL(st_sset_ticks(s));
	CU_ASSERT_EQUAL(st_sset_config(s)->key_fields, 3);
	st_sset_destroy(s);
}

static void test_kafka_partitions_and_overflow(void)
{
	struct st_sset *s = new_default();
	struct st_profile_counters *c = st_sset_counters(s);

	st_sset_kafka_add(c, 0, 5);
	st_sset_kafka_add(c, 63, 7);
	st_sset_kafka_add(c, 63, 1);
	st_sset_kafka_add(c, 64, 11);
	st_sset_kafka_add(c, -1, 13);
	st_sset_kafka_add(c, INT32_MAX, 17);
	CU_ASSERT_EQUAL(c->kafka_partition[0], 5);
	CU_ASSERT_EQUAL(c->kafka_partition[63], 8);
	CU_ASSERT_EQUAL(c->kafka_overflow, 11 + 13 + 17);
	for (unsigned i = 1; i < 63; i++)
		CU_ASSERT_EQUAL(c->kafka_partition[i], 0);
	st_sset_destroy(s);
}

/* Feeds n records of a Zipf key stream into s: everything the set holds. */
static void feed(struct st_sset *s, uint64_t seed, unsigned n)
{
	static const char *const paths[] = { "/id", "/user/id", "/amount", "/tags" };
	struct st_profile_counters *c = st_sset_counters(s);
	struct st_zipf z;
	struct st_rng r;

	st_rng_seed(&r, seed);
	CU_ASSERT_EQUAL_FATAL(st_zipf_init(&z, 1.1, 50000), 0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t key = st_zipf_next(&z, &r);
		uint64_t h = st_hash64(&key, sizeof(key));
		double size = 50 + 1000 * st_rng_uniform(&r);
		unsigned path = (unsigned)(st_rng_next(&r) % 4);

		st_hll_update(st_sset_hll(s, 0), h);
		st_hh_update(st_sset_heavy(s, 0), h, &key, sizeof(key), 1);
		st_qs_update(st_sset_size_qs(s), size);
		st_qs_update(st_sset_numeric_qs(s, 0), st_rng_uniform(&r) * 200 - 100);
		st_schema_update(st_sset_schema(s),
				 st_hash64(paths[path], strlen(paths[path])),
				 paths[path], strlen(paths[path]),
				 path == 2 ? ST_JSON_NUMBER : ST_JSON_STRING);
		st_ticks_update(st_sset_ticks(s),
				EPOCH0 + st_rng_next(&r) % 1000000000ull, 1);
		c->records++;
		c->bytes += (uint64_t)size;
		st_sset_kafka_add(c, (int32_t)(key % 8), 1);
	}
	c->packets += n / 3;
	c->parse_errors[2] += 1;
	c->drops[15] += 2;
}

static void test_merge_counters_add_and_sketches_merge(void)
{
	struct st_sset *a = new_default(), *b = new_default(), *all = new_default();
	struct st_profile_counters ca, cb;

	feed(a, 1, 3000);
	feed(b, 2, 5000);
	feed(all, 1, 3000);
	feed(all, 2, 5000);
	ca = *st_sset_counters_ro(a);
	cb = *st_sset_counters_ro(b);
	CU_ASSERT_EQUAL_FATAL(st_sset_merge(a, b), 0);

	const struct st_profile_counters *m = st_sset_counters_ro(a);
	CU_ASSERT_EQUAL(m->records, ca.records + cb.records);
	CU_ASSERT_EQUAL(m->records, 8000);
	CU_ASSERT_EQUAL(m->bytes, ca.bytes + cb.bytes);
	CU_ASSERT_EQUAL(m->packets, 1000 + 1666);
	CU_ASSERT_EQUAL(m->parse_errors[2], 2);
	CU_ASSERT_EQUAL(m->drops[15], 4);
	for (unsigned i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(m->kafka_partition[i],
				ca.kafka_partition[i] + cb.kafka_partition[i]);
	CU_ASSERT_EQUAL(memcmp(m, st_sset_counters_ro(all), sizeof(*m)), 0);

	/* exactly mergeable parts equal those of the union stream */
	CU_ASSERT_EQUAL(memcmp(st_hll_registers(st_sset_hll(a, 0)),
			       st_hll_registers(st_sset_hll(all, 0)), 4096), 0);
	CU_ASSERT_EQUAL(st_qs_count(st_sset_size_qs(a)), 8000);
	CU_ASSERT_EQUAL(st_ticks_total(st_sset_ticks(a)), 8000);
	CU_ASSERT_EQUAL(memcmp(st_ticks_values(st_sset_ticks(a)),
			       st_ticks_values(st_sset_ticks(all)),
			       100 * sizeof(uint64_t)), 0);
	CU_ASSERT_EQUAL(st_schema_fingerprint(st_sset_schema(a)),
			st_schema_fingerprint(st_sset_schema(all)));
	CU_ASSERT_EQUAL(st_hh_total(st_sset_heavy(a, 0)), 8000);
	st_sset_destroy(a);
	st_sset_destroy(b);
	st_sset_destroy(all);
}

static void test_merge_saturates(void)
{
	struct st_sset *a = new_default(), *b = new_default();

	st_sset_counters(a)->records = UINT64_MAX - 1;
	st_sset_counters(b)->records = 5;
	st_sset_counters(b)->bytes = 5;
	CU_ASSERT_EQUAL(st_sset_merge(a, b), 0);
	CU_ASSERT_EQUAL(st_sset_counters(a)->records, UINT64_MAX);
	CU_ASSERT_EQUAL(st_sset_counters(a)->bytes, 5);
	st_sset_destroy(a);
	st_sset_destroy(b);
}

static void test_merge_mismatch_leaves_dst_unchanged(void)
{
	struct st_sset_config cfg;
	struct st_sset *a = new_default(), *b = new_default(), *other;
	struct st_profile_counters before;

	feed(a, 3, 500);
	feed(b, 4, 500);
	before = *st_sset_counters_ro(a);

	st_sset_reset(b, EPOCH0 + 1000000000ull);  /* next epoch */
	feed(b, 4, 10);
	CU_ASSERT_EQUAL(st_sset_merge(a, b), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(st_sset_counters_ro(a), &before, sizeof(before)), 0);
	CU_ASSERT_EQUAL(st_qs_count(st_sset_size_qs(a)), 500);

	st_sset_config_default(&cfg);
	cfg.hll_p = 14;
	other = st_sset_create(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	st_sset_reset(other, EPOCH0);
	CU_ASSERT_EQUAL(st_sset_merge(a, other), -EINVAL);
	CU_ASSERT_EQUAL(st_hh_total(st_sset_heavy(a, 0)), 500);
	st_sset_destroy(other);
	st_sset_destroy(a);
	st_sset_destroy(b);
}

static void test_reset_empties_everything(void)
{
	struct st_sset *s = new_default();
	static const struct st_profile_counters zero;

	feed(s, 5, 2000);
	st_sset_reset(s, EPOCH0 + 2000000000ull);
	CU_ASSERT_EQUAL(st_sset_epoch_start_ns(s), EPOCH0 + 2000000000ull);
	CU_ASSERT_EQUAL(st_ticks_epoch_start_ns(st_sset_ticks(s)),
			EPOCH0 + 2000000000ull);
	CU_ASSERT_EQUAL(memcmp(st_sset_counters_ro(s), &zero, sizeof(zero)), 0);
	CU_ASSERT_EQUAL(st_hll_estimate(st_sset_hll(s, 0)), 0.0);
	CU_ASSERT_EQUAL(st_hh_total(st_sset_heavy(s, 0)), 0);
	CU_ASSERT_EQUAL(st_qs_count(st_sset_size_qs(s)), 0);
	CU_ASSERT_EQUAL(st_qs_count(st_sset_numeric_qs(s, 0)), 0);
	CU_ASSERT_EQUAL(st_schema_size(st_sset_schema(s)), 0);
	CU_ASSERT_EQUAL(st_ticks_total(st_sset_ticks(s)), 0);
	st_sset_destroy(s);
}

static void test_assemble_checks_parts_and_ownership(void)
{
	struct st_sset_config cfg;
	struct st_sset_parts parts = { 0 };
	struct st_sset *s;

	st_sset_config_default(&cfg);
	CU_ASSERT_EQUAL_FATAL(parts_create(&parts, &cfg), 0);
	st_ticks_reset(parts.ticks, EPOCH0);

	/* a part of another precision: refused, the caller still owns all */
	st_hll_destroy(parts.hll[0]);
	parts.hll[0] = st_hll_create(14);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_sset_assemble(&cfg, &parts));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(parts.hll[0]);

	/* a part beyond the config's fields: refused */
	st_hll_destroy(parts.hll[0]);
	parts.hll[0] = st_hll_create(cfg.hll_p);
	parts.hll[1] = st_hll_create(cfg.hll_p);
	CU_ASSERT_PTR_NULL(st_sset_assemble(&cfg, &parts));
	st_hll_destroy(parts.hll[1]);
	parts.hll[1] = NULL;

	/* ticks of another epoch length: refused */
	cfg.epoch_ns = 2000000000ull;
	CU_ASSERT_PTR_NULL(st_sset_assemble(&cfg, &parts));
	cfg.epoch_ns = 1000000000ull;

	s = st_sset_assemble(&cfg, &parts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NULL(parts.hll[0]);  /* moved into the set */
	CU_ASSERT_PTR_NULL(parts.ticks);
	CU_ASSERT_EQUAL(st_sset_epoch_start_ns(s), EPOCH0);
	st_sset_destroy(s);
	st_sset_parts_destroy(&parts);
}

ST_TEST_MAIN("dataplane/sketch/sset",
	ST_TEST(test_defaults_are_the_documented_ones),
	ST_TEST(test_memory_at_defaults_within_target),
	ST_TEST(test_create_rejects_bad_configs),
	ST_TEST(test_accessors_bounded_by_the_config),
	ST_TEST(test_kafka_partitions_and_overflow),
	ST_TEST(test_merge_counters_add_and_sketches_merge),
	ST_TEST(test_merge_saturates),
	ST_TEST(test_merge_mismatch_leaves_dst_unchanged),
	ST_TEST(test_reset_empties_everything),
	ST_TEST(test_assemble_checks_parts_and_ownership))
