/*
 * Writes valid Shadow Profile records into the directory given as argv[1]:
 * the seed corpus of fuzz_profile.c.  Small records (minimum parameters, a
 * few records, an empty set) let the fuzzer reach deep quickly; the
 * default-sized ones and the one with every field used cover the real
 * shapes.  Deterministic: the same files on every run.
 *
 *	fuzz-seeds-profile <corpus dir>
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/sset.h"
#include "shadowtap/profile.h"
#include "tools/lib/keygen.h"

#define EPOCH0 1700000000000000000ull

struct seed {
	const char *file;
	const char *stream;
	unsigned key_fields, numeric_fields;
	unsigned hll_p, hh_k, qs_bins, schema_entries, n_ticks;
	uint64_t epoch_ns;
	unsigned records;
	uint16_t cores_merged, cores_expected;
	int named;
};

static const struct seed seeds[] = {
	{ "small-empty", "e", 1, 0, 10, 4, 16, 1, 1, 1000, 0, 1, 1, 0 },
	{ "small", "s/1", 1, 1, 10, 4, 16, 4, 10, 1000, 40, 1, 2, 1 },
	{ "small-two-keys", "kv", 2, 2, 10, 8, 32, 8, 4, 4000, 300, 2, 2, 1 },
	{ "default", "orders", 1, 1, 12, 64, 1024, 64, 100, 1000000000, 5000, 4, 4, 0 },
	{ "default-all-fields", "sensors/temp", 4, 4, 12, 64, 1024, 64, 100,
	  1000000000, 3000, 3, 4, 1 },
};

static const char *const key_names[] = { "/user/id", "/session", "/ip", "/region" };
static const char *const num_names[] = { "/amount", "/latency_ms", "/lat", "/lon" };
static const char *const paths[] = { "/id", "/user/id", "/amount", "/tags", "/ok" };

static void feed(struct st_sset *s, const struct seed *sd, uint64_t seed)
{
	const struct st_sset_config *cfg = st_sset_config(s);
	struct st_profile_counters *c = st_sset_counters(s);
	struct st_zipf z;
	struct st_rng r;

	st_rng_seed(&r, seed);
	st_zipf_init(&z, 1.1, 10000);
	for (unsigned i = 0; i < sd->records; i++) {
		uint64_t rank = st_zipf_next(&z, &r);
		unsigned path = (unsigned)(st_rng_next(&r) % 5);

		for (unsigned f = 0; f < cfg->key_fields; f++) {
			char key[24];
			int len = snprintf(key, sizeof(key), "k%u-%llu", f,
					   (unsigned long long)(rank + f));
			uint64_t h = st_hash64(key, (size_t)len);

			st_hll_update(st_sset_hll(s, f), h);
			st_hh_update(st_sset_heavy(s, f), h, key, (size_t)len, 1);
		}
		st_qs_update(st_sset_size_qs(s), (double)(20 + st_rng_next(&r) % 2000));
		for (unsigned f = 0; f < cfg->numeric_fields; f++)
			st_qs_update(st_sset_numeric_qs(s, f),
				     (double)((int64_t)(st_rng_next(&r) % 2001) - 1000));
		st_schema_update(st_sset_schema(s),
				 st_hash64(paths[path], strlen(paths[path])),
				 paths[path], strlen(paths[path]),
				 path == 2 ? ST_JSON_NUMBER : ST_JSON_STRING);
		st_ticks_update(st_sset_ticks(s), st_sset_epoch_start_ns(s) +
				st_rng_next(&r) % (cfg->epoch_ns + cfg->epoch_ns / 50), 1);
		c->records++;
		c->bytes += 100;
		st_sset_kafka_add(c, (int32_t)(rank % 6), 1);
	}
	c->packets = sd->records / 2;
	c->drops[1] = sd->records / 100;
}

static int write_seed(const char *dir, const struct seed *sd, uint64_t seed)
{
	struct st_sset_config cfg;
	struct st_profile_meta m = { 0 };
	struct st_sset *s;
	char path[4096];
	ssize_t len;
	uint8_t *buf = NULL;
	FILE *f;
	int err = -ENOMEM;

	st_sset_config_default(&cfg);
	cfg.key_fields = sd->key_fields;
	cfg.numeric_fields = sd->numeric_fields;
	cfg.hll_p = sd->hll_p;
	cfg.hh_k = sd->hh_k;
	cfg.qs_bins = sd->qs_bins;
	cfg.schema_entries = sd->schema_entries;
	cfg.n_ticks = sd->n_ticks;
	cfg.epoch_ns = sd->epoch_ns;
	s = st_sset_create(&cfg);
	if (!s)
		return -errno;
	st_sset_reset(s, EPOCH0);
	feed(s, sd, seed);

	m.name = sd->stream;
	m.epoch_start_ns = EPOCH0;
	m.epoch_ns = sd->epoch_ns;
	m.cores_merged = sd->cores_merged;
	m.cores_expected = sd->cores_expected;
	m.flags = sd->cores_merged < sd->cores_expected ? ST_PROFILE_F_PARTIAL : 0;
	for (unsigned i = 0; sd->named && i < sd->key_fields; i++)
		m.key_field_names[i] = key_names[i];
	for (unsigned i = 0; sd->named && i < sd->numeric_fields; i++)
		m.numeric_field_names[i] = num_names[i];

	len = st_profile_size(s, &m);
	if (len < 0) {
		err = (int)len;
		goto out_destroy;
	}
	buf = malloc((size_t)len);
	if (!buf)
		goto out_destroy;
	len = st_profile_build(s, &m, buf, (size_t)len);
	if (len < 0) {
		err = (int)len;
		goto out_free;
	}
	snprintf(path, sizeof(path), "%s/profile-%s", dir, sd->file);
	f = fopen(path, "wb");
	if (!f) {
		err = -errno;
		goto out_free;
	}
	err = fwrite(buf, 1, (size_t)len, f) == (size_t)len ? 0 : -EIO;
	if (fclose(f) && !err)
		err = -errno;
out_free:
	free(buf);
out_destroy:
	st_sset_destroy(s);
	return err;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		int err = write_seed(argv[1], &seeds[i], 1000 + i);

		if (err) {
			fprintf(stderr, "%s: %s: %s\n", argv[0], seeds[i].file,
				strerror(-err));
			return 1;
		}
	}
	return 0;
}
