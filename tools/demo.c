/*
 * shadowtap-demo: the sketch library end to end on a built-in stream, until
 * the record path (next issue) lets the main job read real captures.
 *
 * A deterministic stream of JSON-like records (Zipf-distributed user keys,
 * lognormal sizes and amounts, a field added half-way through the epoch) is
 * spread over simulated cores by key hash, as RSS would spread flows.  Each
 * core keeps its own sketch set; the sets merge into one Shadow Profile,
 * which is serialized, parsed back with the validating parser, and printed
 * beside the exact figures computed from the stream itself.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/sset.h"
#include "shadowtap/profile.h"
#include "tools/lib/keygen.h"

#define DEMO_CORES_MAX 16
#define DEMO_EPOCH_START_NS 1795000000000000000ull
#define DEMO_TOP 5

struct demo_opts {
	uint64_t records;
	uint64_t keys;
	double zipf_s;
	unsigned cores;
	uint64_t seed;
};

struct demo_truth {
	uint64_t *count_by_rank;   /* keys + 1 entries */
	double *sizes;             /* one per record */
	double *amounts;
	uint64_t records, bytes;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: shadowtap-demo [--records N] [--keys N] [--zipf S] [--cores N] [--seed N]\n"
		"\n"
		"Summarises a built-in, deterministic stream of records into one Shadow\n"
		"Profile and prints every estimate beside the exact figure.\n"
		"\n"
		"  --records N  records in the one-second epoch (default 1000000)\n"
		"  --keys N     key universe: user ids 1..N drawn Zipf (default 100000)\n"
		"  --zipf S     Zipf exponent of the key popularity, in (0, 10) (default 1.1)\n"
		"  --cores N    simulated worker cores, 1..%d (default 2)\n"
		"  --seed N     random seed (default 1)\n"
		"  --help       this text\n", DEMO_CORES_MAX);
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct demo_opts *o)
{
	static const struct option longopts[] = {
		{ "records", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },
		{ "zipf", required_argument, NULL, 'z' },
		{ "cores", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t cores = 2;
	char *end;
	int c, idx = 0;

	*o = (struct demo_opts){ 1000000, 100000, 1.1, 2, 1 };
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		int err = 0;

		switch (c) {
		case 'r': err = parse_u64(optarg, 1, 100000000, &o->records); break;
		case 'k': err = parse_u64(optarg, 1, 100000000, &o->keys); break;
		case 'c': err = parse_u64(optarg, 1, DEMO_CORES_MAX, &cores); break;
		case 's': err = parse_u64(optarg, 0, UINT64_MAX, &o->seed); break;
		case 'z':
			o->zipf_s = strtod(optarg, &end);
			if (*end || !(o->zipf_s > 0 && o->zipf_s < 10))
				err = -EINVAL;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (err) {
			fprintf(stderr, "shadowtap-demo: bad value '%s' for --%s\n",
				optarg, longopts[idx].name);
			return err;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "shadowtap-demo: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	o->cores = (unsigned)cores;
	return 0;
}

static double normal(struct st_rng *r)
{
	double u1 = st_rng_uniform(r), u2 = st_rng_uniform(r);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

static void schema_add(struct st_schema *s, const char *path, uint8_t type)
{
	size_t len = strlen(path);

	st_schema_update(s, st_hash64(path, len), path, len, type);
}

/* One record into one core's set: what a worker does after the codec. */
static void record_into(struct st_sset *set, uint64_t ts_ns, const char *key,
			size_t key_len, double size, double amount, bool coupon)
{
	uint64_t h = st_hash64(key, key_len);
	struct st_profile_counters *c = st_sset_counters(set);
	struct st_schema *schema = st_sset_schema(set);

	st_hll_update(st_sset_hll(set, 0), h);
	st_hh_update(st_sset_heavy(set, 0), h, key, key_len, 1);
	st_qs_update(st_sset_size_qs(set), size);
	st_qs_update(st_sset_numeric_qs(set, 0), amount);
	st_ticks_update(st_sset_ticks(set), ts_ns, 1);
	schema_add(schema, "/user", ST_JSON_OBJECT);
	schema_add(schema, "/user/id", ST_JSON_STRING);
	schema_add(schema, "/amount", ST_JSON_NUMBER);
	if (coupon)
		schema_add(schema, "/coupon", ST_JSON_STRING);
	c->records++;
	c->bytes += (uint64_t)size;
	c->packets++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y) - (x > y);
}

/* The same rank convention as the quantile sketch: element floor(q (n-1)). */
static double exact_quantile(const double *sorted, uint64_t n, double q)
{
	return sorted[(uint64_t)floor(q * (double)(n - 1))];
}

static void exact_skew(const struct demo_truth *t, uint64_t keys, unsigned k,
		       uint64_t *distinct, struct st_skew *out)
{
	uint64_t *c = malloc((keys + 1) * sizeof(*c));
	uint64_t n = 0, topk = 0;
	double h = 0, lorenz = 0, cum = 0;

	memcpy(c, t->count_by_rank, (keys + 1) * sizeof(*c));
	qsort(c + 1, keys, sizeof(*c), cmp_u64_desc);
	*distinct = 0;
	for (uint64_t i = 1; i <= keys && c[i]; i++) {
		(*distinct)++;
		n += c[i];
	}
	for (uint64_t i = 1; i <= *distinct; i++) {
		double p = (double)c[i] / (double)n;

		h -= p * log(p);
		if (i <= k)
			topk += c[i];
	}
	/* Gini over the observed keys, ascending order: 1 - 2 * Lorenz area. */
	for (uint64_t i = *distinct; i >= 1; i--) {
		double prev = cum;

		cum += (double)c[i] / (double)n;
		lorenz += (prev + cum) / 2.0 / (double)*distinct;
	}
	out->top1_share = (double)c[1] / (double)n;
	out->topk_share = (double)topk / (double)n;
	out->entropy_norm = *distinct > 1 ? h / log((double)*distinct) : 0;
	out->gini = 1.0 - 2.0 * lorenz;
	free(c);
}

/* Feeds the stream into one set per core and records the exact figures. */
static void run_stream(const struct demo_opts *o, struct st_sset **cores,
		       struct demo_truth *t)
{
	struct st_zipf z;
	struct st_rng r;
	char key[32];

	st_zipf_init(&z, o->zipf_s, o->keys);
	st_rng_seed(&r, o->seed);
	for (uint64_t i = 0; i < o->records; i++) {
		uint64_t rank = st_zipf_next(&z, &r);
		int key_len = snprintf(key, sizeof(key), "user-%" PRIu64, rank);
		uint64_t ts_ns = DEMO_EPOCH_START_NS + i * (1000000000ull / o->records);
		double size = floor(exp(6.0 + 0.5 * normal(&r)));
		double amount = round(exp(3.0 + 1.0 * normal(&r)) * 100.0) / 100.0;
		bool coupon = i >= o->records / 2;
		unsigned core = (unsigned)(st_hash64(key, (size_t)key_len) % o->cores);

		record_into(cores[core], ts_ns, key, (size_t)key_len, size, amount, coupon);
		t->count_by_rank[rank]++;
		t->sizes[i] = size;
		t->amounts[i] = amount;
		t->bytes += (uint64_t)size;
	}
	t->records = o->records;
}

static void print_quantiles(const char *what, const struct st_qs *q, double *exact,
			    uint64_t n)
{
	static const double ranks[] = { 0.5, 0.9, 0.99 };

	qsort(exact, n, sizeof(*exact), cmp_double);
	for (unsigned i = 0; i < 3; i++) {
		double e = st_qs_estimate(q, ranks[i]);
		double x = exact_quantile(exact, n, ranks[i]);

		printf("  %-7s p%-4g estimate %12.2f  exact %12.2f  rel.err %+.4f (bound %.2f)\n",
		       what, ranks[i] * 100, e, x, (e - x) / x, st_qs_alpha(q));
	}
}

static void print_profile(const struct demo_opts *o, const struct st_profile_view *v,
			  const struct st_sset *set, const struct demo_truth *t,
			  ssize_t bytes, size_t core_mem)
{
	const struct st_hll *hll = st_sset_hll_ro(set, 0);
	const struct st_hh *hh = st_sset_heavy_ro(set, 0);
	struct st_hh_item top[DEMO_TOP];
	struct st_schema_entry entries[8];
	struct st_skew est, exact;
	uint64_t distinct;
	size_t n_top, n_entries;
	const uint64_t *ticks = st_ticks_values(st_sset_ticks_ro(set));
	uint64_t tmin = UINT64_MAX, tmax = 0;

	exact_skew(t, o->keys, st_hh_capacity(hh), &distinct, &exact);
	st_hh_skew(hh, st_hll_estimate(hll), &est);
	printf("Shadow Profile of stream \"%s\" (id %016" PRIx64 ")\n", v->meta.name, v->stream_id);
	printf("  epoch start %" PRIu64 " ns, length %" PRIu64 " ns, cores merged %u of %u\n",
	       v->meta.epoch_start_ns, v->meta.epoch_ns, v->meta.cores_merged,
	       v->meta.cores_expected);
	printf("  record %zd bytes (validated), sketch memory per core %zu bytes\n",
	       bytes, core_mem);
	printf("  records %" PRIu64 " (exact %" PRIu64 "), bytes %" PRIu64 " (exact %" PRIu64 ")\n",
	       v->counters.records, t->records, v->counters.bytes, t->bytes);
	printf("\ndistinct keys (HyperLogLog p=%u)\n", st_hll_precision(hll));
	printf("  estimate %.0f  [%.0f, %.0f] at 3 sigma  exact %" PRIu64 "  rel.err %+.4f\n",
	       st_hll_estimate(hll), st_hll_lower_bound(hll, 3), st_hll_upper_bound(hll, 3),
	       distinct, (st_hll_estimate(hll) - (double)distinct) / (double)distinct);
	printf("\nheavy hitters (SpaceSaving k=%u, error bound %" PRIu64 ")\n",
	       st_hh_capacity(hh), st_hh_error_bound(hh));
	n_top = st_hh_top(hh, top, DEMO_TOP);
	for (size_t i = 0; i < n_top; i++) {
		uint64_t rank = strtoull((const char *)top[i].key + 5, NULL, 10);

		printf("  %-12.*s count %8" PRIu64 " - error %6" PRIu64 "  exact %8" PRIu64 "\n",
		       top[i].sample_len, (const char *)top[i].key, top[i].count,
		       top[i].error, rank <= o->keys ? t->count_by_rank[rank] : 0);
	}
	printf("  top-1 share   %.4f  exact %.4f\n", est.top1_share, exact.top1_share);
	printf("  top-k share   %.4f  exact %.4f\n", est.topk_share, exact.topk_share);
	printf("  entropy/ln D  %.4f  exact %.4f\n", est.entropy_norm, exact.entropy_norm);
	printf("  Gini          %.4f  exact %.4f\n", est.gini, exact.gini);
	printf("\nquantiles (DDSketch)\n");
	print_quantiles("size", st_sset_size_qs_ro(set), t->sizes, t->records);
	print_quantiles("amount", st_sset_numeric_qs_ro(set, 0), t->amounts, t->records);
	printf("\nschema (fingerprint %016" PRIx64 ", overflow %" PRIu64 ")\n",
	       st_schema_fingerprint(st_sset_schema_ro(set)),
	       st_schema_overflow(st_sset_schema_ro(set)));
	n_entries = st_schema_entries(st_sset_schema_ro(set), entries, 8);
	for (size_t i = 0; i < n_entries; i++)
		printf("  %-10s types 0x%02x  count %" PRIu64 "\n", entries[i].path,
		       entries[i].type_mask, entries[i].count);
	for (unsigned i = 0; i < st_ticks_count(st_sset_ticks_ro(set)); i++) {
		tmin = ticks[i] < tmin ? ticks[i] : tmin;
		tmax = ticks[i] > tmax ? ticks[i] : tmax;
	}
	printf("\nrate ticks: %u x %" PRIu64 " ms, records per tick min %" PRIu64
	       " max %" PRIu64 ", total %" PRIu64 "\n",
	       st_ticks_count(st_sset_ticks_ro(set)),
	       st_ticks_tick_ns(st_sset_ticks_ro(set)) / 1000000, tmin, tmax,
	       st_ticks_total(st_sset_ticks_ro(set)));
}

int main(int argc, char **argv)
{
	struct st_sset *cores[DEMO_CORES_MAX] = { NULL };
	struct st_sset *merged = NULL, *parsed = NULL;
	uint8_t *record = NULL;
	struct demo_truth t = { 0 };
	struct st_sset_config cfg;
	struct st_profile_meta meta;
	struct st_profile_view view;
	struct demo_opts o;
	const char *why = "";
	ssize_t bytes;
	int rc = 1;

	if (parse_opts(argc, argv, &o))
		return 2;
	st_sset_config_default(&cfg);
	t.count_by_rank = calloc(o.keys + 1, sizeof(*t.count_by_rank));
	t.sizes = malloc(o.records * sizeof(double));
	t.amounts = malloc(o.records * sizeof(double));
	record = malloc(ST_PROFILE_MAX_BYTES);
	merged = st_sset_create(&cfg);
	if (!t.count_by_rank || !t.sizes || !t.amounts || !record || !merged)
		goto out_free;
	for (unsigned c = 0; c < o.cores; c++) {
		cores[c] = st_sset_create(&cfg);
		if (!cores[c])
			goto out_free;
		st_sset_reset(cores[c], DEMO_EPOCH_START_NS);
	}
	st_sset_reset(merged, DEMO_EPOCH_START_NS);

	run_stream(&o, cores, &t);
	for (unsigned c = 0; c < o.cores; c++)
		if (st_sset_merge(merged, cores[c]))
			goto out_free;

	meta = (struct st_profile_meta){
		.name = "kafka/orders",
		.epoch_start_ns = DEMO_EPOCH_START_NS,
		.epoch_ns = cfg.epoch_ns,
		.cores_merged = (uint16_t)o.cores,
		.cores_expected = (uint16_t)o.cores,
		.key_field_names = { "/user/id" },
		.numeric_field_names = { "/amount" },
	};
	bytes = st_profile_build(merged, &meta, record, ST_PROFILE_MAX_BYTES);
	if (bytes < 0) {
		fprintf(stderr, "shadowtap-demo: building the profile: %s\n", strerror((int)-bytes));
		goto out_free;
	}
	if (st_profile_parse(record, (size_t)bytes, &view, &why) ||
	    !(parsed = st_sset_from_profile(&view, &why))) {
		fprintf(stderr, "shadowtap-demo: the profile did not parse back: %s\n", why);
		goto out_free;
	}
	print_profile(&o, &view, parsed, &t, bytes, st_sset_memory_bytes(cores[0]));
	rc = 0;

out_free:
	if (rc && errno == ENOMEM)
		fprintf(stderr, "shadowtap-demo: out of memory\n");
	st_sset_destroy(parsed);
	st_sset_destroy(merged);
	for (unsigned c = 0; c < DEMO_CORES_MAX; c++)
		st_sset_destroy(cores[c]);
	free(record);
	free(t.amounts);
	free(t.sizes);
	free(t.count_by_rank);
	return rc;
}
