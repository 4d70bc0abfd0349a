/*
 * The control plane's latency benchmark: profile → decision for many
 * streams at 1 s epochs (DESIGN.md target: <= 1 ms p99 for 1,000 streams).
 *
 * It builds one realistic profile per stream per epoch with the sketch
 * library (a Zipf key stream into the HLL and the heavy hitters, sizes,
 * a numeric field, a schema of five paths, 100 rate ticks), then, per
 * profile, times what shadowtap-cp does with a record it takes from the
 * ring: st_profile_parse() (full validation) and st_analysis_process()
 * (features, store, detectors, forecast, forest, score).  The peer in the
 * same run, on the same records: st_profile_parse() alone, the floor any
 * consumer of the ring pays.  The store writes to a temporary directory.
 *
 *   shadowtap-cp-bench [--streams N] [--epochs E] [--records R]
 *
 * Prints p50/p99/max of each per profile, and the ratio of the decision's
 * p99 to the parse's p99.  Profiles are built before the clock runs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "control/config/config.h"
#include "control/cp/analysis.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/sset.h"
#include "shadowtap/profile.h"
#include "tools/lib/keygen.h"

#define EPOCH0 1800000000000000000ull
#define EPOCH_NS 1000000000ull

static const char *const paths[] = { "/id", "/user/id", "/amount", "/tags", "/ok" };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static double pct(uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return (double)v[i] / 1000.0;  /* µs */
}

/* One stream's profile of epoch e into a new buffer; *len its size. */
static uint8_t *build(struct st_sset *s, unsigned stream, unsigned e, unsigned records,
		      size_t *len)
{
	struct st_profile_counters *c;
	struct st_profile_meta m = { 0 };
	char name[32];
	struct st_zipf z;
	struct st_rng r;
	uint8_t *buf;
	ssize_t n;

	st_sset_reset(s, EPOCH0 + (uint64_t)e * EPOCH_NS);
	c = st_sset_counters(s);
	st_rng_seed(&r, (uint64_t)stream << 32 | e);
	st_zipf_init(&z, 1.1, 10000);
	for (unsigned i = 0; i < records; i++) {
		uint64_t rank = st_zipf_next(&z, &r);
		unsigned p = (unsigned)(st_rng_next(&r) % 5);
		char key[24];
		int kl = snprintf(key, sizeof(key), "u%llu", (unsigned long long)rank);
		uint64_t h = st_hash64(key, (size_t)kl);

		st_hll_update(st_sset_hll(s, 0), h);
		st_hh_update(st_sset_heavy(s, 0), h, key, (size_t)kl, 1);
		st_qs_update(st_sset_size_qs(s), (double)(120 + st_rng_next(&r) % 200));
		st_qs_update(st_sset_numeric_qs(s, 0), (double)(st_rng_next(&r) % 1000));
		st_schema_update(st_sset_schema(s), st_hash64(paths[p], strlen(paths[p])),
				 paths[p], strlen(paths[p]),
				 p == 2 ? ST_JSON_NUMBER : ST_JSON_STRING);
		st_ticks_update(st_sset_ticks(s), st_sset_epoch_start_ns(s) +
				st_rng_next(&r) % EPOCH_NS, 1);
		c->records++;
		c->bytes += 200;
	}
	snprintf(name, sizeof(name), "bench:stream-%u", stream);
	m.name = name;
	m.epoch_start_ns = EPOCH0 + (uint64_t)e * EPOCH_NS;
	m.epoch_ns = EPOCH_NS;
	m.cores_merged = m.cores_expected = 1;
	m.protocol = ST_PROFILE_PROTO_JSONL;
	n = st_profile_size(s, &m);
	if (n < 0 || !(buf = malloc((size_t)n)))
		return NULL;
	if (st_profile_build(s, &m, buf, (size_t)n) != n) {
		free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

int main(int argc, char **argv)
{
	unsigned streams = 1000, epochs = 40, records = 500;
	char dir[] = "/tmp/st-cp-bench-XXXXXX", err[256], cmd[300];
	struct st_sset_config sc;
	struct st_config *cfg;
	struct st_analysis *a;
	struct st_sset *s;
	uint8_t **recs;
	size_t *lens;
	uint64_t *t_parse, *t_all;
	size_t n, k = 0;
	int opt;

	static const struct option opts[] = {
		{ "streams", required_argument, NULL, 's' },
		{ "epochs", required_argument, NULL, 'e' },
		{ "records", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 's')
			streams = (unsigned)strtoul(optarg, NULL, 10);
		else if (opt == 'e')
			epochs = (unsigned)strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			records = (unsigned)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (!streams || !epochs) {
		fprintf(stderr, "--streams and --epochs must be > 0\n");
		return 2;
	}
	n = (size_t)streams * epochs;
	recs = calloc(n, sizeof(*recs));
	lens = calloc(n, sizeof(*lens));
	t_parse = calloc(n, sizeof(*t_parse));
	t_all = calloc(n, sizeof(*t_all));
	st_sset_config_default(&sc);
	sc.numeric_fields = 1;
	s = st_sset_create(&sc);
	cfg = st_config_default();
	if (!recs || !lens || !t_parse || !t_all || !s || !cfg || !mkdtemp(dir)) {
		fprintf(stderr, "setup: %s\n", strerror(errno));
		return 1;
	}
	/* epochs outer, streams inner: the order the ring delivers them */
	for (unsigned e = 0; e < epochs; e++)
		for (unsigned i = 0; i < streams; i++, k++)
			if (!(recs[k] = build(s, i, e, records, &lens[k]))) {
				fprintf(stderr, "building profile %zu failed\n", k);
				return 1;
			}
	/* before pinning: the forest's trainer thread keeps the other CPUs */
	a = st_analysis_create(cfg, dir, err, sizeof(err));
	if (!a) {
		fprintf(stderr, "analysis: %s\n", err);
		return 1;
	}
	st_bench_print_env(argc, argv, "shadowtap-cp-bench", st_bench_pin_cpu(0) == 0);
	/* the peer: parsing alone, every record */
	for (k = 0; k < n; k++) {
		struct st_profile_view v;
		const char *why;
		uint64_t t0 = now_ns();

		if (st_profile_parse(recs[k], lens[k], &v, &why)) {
			fprintf(stderr, "profile %zu: %s\n", k, why);
			return 1;
		}
		t_parse[k] = now_ns() - t0;
	}
	/* what shadowtap-cp does with each record */
	for (k = 0; k < n; k++) {
		struct st_profile_view v;
		struct st_signal sig;
		const char *why;
		bool raised;
		uint64_t t0 = now_ns();

		if (st_profile_parse(recs[k], lens[k], &v, &why) ||
		    st_analysis_process(a, &v, t0, &sig, &raised)) {
			fprintf(stderr, "profile %zu refused\n", k);
			return 1;
		}
		t_all[k] = now_ns() - t0;
	}
	qsort(t_parse, n, sizeof(*t_parse), cmp_u64);
	qsort(t_all, n, sizeof(*t_all), cmp_u64);
	printf("profiles: %u streams x %u epochs, %u records each, %zu bytes each\n",
	       streams, epochs, records, lens[0]);
	printf("figure: parse only (peer)      p50 %8.1f us  p99 %8.1f us  max %8.1f us\n",
	       pct(t_parse, n, 0.5), pct(t_parse, n, 0.99), (double)t_parse[n - 1] / 1000.0);
	printf("figure: profile -> decision    p50 %8.1f us  p99 %8.1f us  max %8.1f us\n",
	       pct(t_all, n, 0.5), pct(t_all, n, 0.99), (double)t_all[n - 1] / 1000.0);
	printf("figure: decision p99 / parse p99 = %.2f; target p99 <= 1000 us: %s\n",
	       pct(t_all, n, 0.99) / pct(t_parse, n, 0.99),
	       pct(t_all, n, 0.99) <= 1000.0 ? "met" : "NOT met");
	st_analysis_destroy(a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	for (k = 0; k < n; k++)
		free(recs[k]);
	free(recs);
	free(lens);
	free(t_parse);
	free(t_all);
	st_sset_destroy(s);
	st_config_destroy(cfg);
	return 0;
}
