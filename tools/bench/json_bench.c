/*
 * shadowtap-json-bench: the JSON field scanner (dataplane/json) against
 * simdjson On-Demand on the same records, in the same process.
 *
 * Records.  N generated JSON lines of 100-300 bytes shaped like event
 * streams: a timestamp, an event name, a nested user object (id, name,
 * tier, a nested geo object), an amount, a currency, an array of tags, an
 * array of item objects, a boolean, a note that is null or a string; about
 * one record in eight has an escape (\", \n, \u00e9, a surrogate pair) in
 * its note or user name, one in sixteen in the user id.  Fixed seed; --write
 * saves them as a JSON-lines file, --read benchmarks any JSON-lines file
 * whose records are objects with the three fields.  All records sit in one
 * buffer, each followed by its newline and at least 64 readable bytes
 * (simdjson's padding, so simdjson needs no copy either).
 *
 * Work.  Both contenders extract "/user/id" as a string, "/amount" and
 * "/ts" as numbers (json_bench_peer.h), and fold them into sums that must
 * be equal; "schema" mode also walks every member and element into an
 * st_schema (same paths, same types: the two schema fingerprints must be
 * equal).  Our scanner also validates the whole record (simdjson On-Demand
 * validates what it visits: in "fields" mode it skips what it does not
 * need, and never converts the numbers it skips in either mode).
 *
 * Our lazy scan (st_json_scan_fields(), a stream's `schema = false`) runs
 * as one more contender, fields mode only: it reads a record up to the
 * last field asked for and checks only what it reads, as On-Demand does;
 * its values must agree with the others' before anything is timed.  And
 * so does what a worker runs for a stream with a schema: the scan through
 * a shape template (st_json_tmpl_scan(), dataplane/json/json_tmpl.h),
 * fields+schema mode only, a fresh template each pass; its schema must
 * have the others' fingerprint (its owed updates flushed before that is
 * read, inside the timed pass).
 *
 * Speed.  Each repetition times every contender once over all records
 * (clock_gettime() around the loop), the contenders in
 * rotating order; the figure is the median repetition.  Pinned to CPU 0.
 * Every figure line starts with "figure:"; "ratio" is simdjson's time over
 * ours (> 1: ours is faster).  simdjson's DOM parser runs too, as a second
 * peer that, like ours, validates every record whole.  Times are the
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a shared machine the
 * wall clock also counts the time other processes hold the core.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/compiler.h"
#include "dataplane/cpu.h"
#include "dataplane/json/json.h"
#include "dataplane/json/json_tmpl.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/schema.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/json_bench_peer.h"

#define PAD_BYTES 64
#define REPS_MAX 64

struct opts {
	uint64_t records;
	unsigned reps;
	bool quick, no_peer;
	const char *write_path, *read_path;
};

static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "shadowtap-json-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return -1;
}

/* ---- records ---- */

static uint64_t rng = 0x5eed;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((rng >> 33) % n);
}

static const char *pick(const char *const *list, size_t n)
{
	return list[rnd((uint32_t)n)];
}

#define PICK(list) pick(list, ST_ARRAY_SIZE(list))

static int gen_record(char *out, size_t cap)
{
	static const char *const events[] = { "purchase", "view", "click",
		"signup", "refund", "add_to_cart" };
	static const char *const names[] = { "Alice Martin", "Bob", "Chlo\\u00e9 D.",
		"Dmitri \\\"Dima\\\" K.", "Eve", "Fran\\u00e7ois", "G\xc3\xbcnther",
		"Hana \xe5\x8c\x97\xe5\xb7\x9d" };
	static const char *const currencies[] = { "EUR", "USD", "GBP", "JPY" };
	static const char *const tags[] = { "\"new\"", "\"promo\"", "\"mobile\"",
		"\"web\"", "\"vip\"", "\"beta\"" };
	static const char *const notes[] = { "null", "null", "null",
		"\"gift wrap\"", "\"leave at door\"", "\"call \\\"before\\\"\"",
		"\"line1\\nline2\"", "\"\\ud83d\\ude00 thanks\"" };
	size_t n = 0;
	unsigned items = rnd(3), ntags = rnd(4);

#define OUT(...) (n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__))
	OUT("{\"ts\":%" PRIu64 ",\"event\":\"%s\",\"user\":{\"id\":\"%s%u\"",
	    UINT64_C(1700000000000) + rnd(1000000000), PICK(events),
	    rnd(16) ? "u-" : "u\\u00e9-", rnd(100000));
	if (rnd(4))
		OUT(",\"name\":\"%s\"", PICK(names));
	OUT(",\"tier\":%u", rnd(4));
	if (rnd(2))
		OUT(",\"geo\":{\"lat\":%d.%04u,\"lon\":%d.%04u}",
		    (int)rnd(180) - 90, rnd(10000), (int)rnd(360) - 180, rnd(10000));
	OUT("},\"amount\":%u.%02u,\"currency\":\"%s\",\"tags\":[",
	    rnd(100000), rnd(100), PICK(currencies));
	for (unsigned i = 0; i < ntags; i++)
		OUT("%s%s", i ? "," : "", PICK(tags));
	OUT("],\"items\":[");
	for (unsigned i = 0; i < items; i++)
		OUT("%s{\"sku\":\"SKU-%05u\",\"qty\":%u,\"price\":%u.%02u}",
		    i ? "," : "", rnd(100000), 1 + rnd(5), rnd(500), rnd(100));
	OUT("],\"ok\":%s,\"note\":%s}", rnd(8) ? "true" : "false", PICK(notes));
#undef OUT
	return n < cap ? (int)n : -1;
}

struct corpus {
	uint8_t *buf;
	uint64_t *off;
	uint32_t *len;
	struct json_bench_records r;
};

static int corpus_generate(struct corpus *c, uint64_t n)
{
	size_t cap = n * 320 + PAD_BYTES, used = 0;

	c->buf = malloc(cap);
	c->off = malloc(n * sizeof(*c->off));
	c->len = malloc(n * sizeof(*c->len));
	if (!c->buf || !c->off || !c->len)
		return fail("out of memory for %" PRIu64 " records", n);
	for (uint64_t i = 0; i < n; i++) {
		int k = gen_record((char *)c->buf + used, cap - PAD_BYTES - used);

		if (k < 0)
			return fail("record %" PRIu64 " does not fit", i);
		c->off[i] = used;
		c->len[i] = (uint32_t)k;
		c->r.bytes += (uint64_t)k;
		used += (size_t)k;
		c->buf[used++] = '\n';
	}
	memset(c->buf + used, ' ', PAD_BYTES);
	c->r = (struct json_bench_records){ c->buf, c->off, c->len, n, c->r.bytes };
	return 0;
}

static int corpus_read(struct corpus *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	long size;
	size_t n = 0, cap_lines;

	if (!f)
		return fail("%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return fail("%s: cannot size it", path);
	}
	c->buf = malloc((size_t)size + PAD_BYTES);
	cap_lines = (size_t)size / 2 + 1;
	c->off = malloc(cap_lines * sizeof(*c->off));
	c->len = malloc(cap_lines * sizeof(*c->len));
	if (!c->buf || !c->off || !c->len ||
	    fread(c->buf, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		return fail("%s: cannot read it", path);
	}
	fclose(f);
	memset(c->buf + size, ' ', PAD_BYTES);
	for (size_t at = 0; at < (size_t)size;) {
		uint8_t *nl = memchr(c->buf + at, '\n', (size_t)size - at);
		size_t end = nl ? (size_t)(nl - c->buf) : (size_t)size;

		if (end > at) {
			c->off[n] = at;
			c->len[n] = (uint32_t)(end - at);
			c->r.bytes += end - at;
			n++;
		}
		at = end + 1;
	}
	c->r = (struct json_bench_records){ c->buf, c->off, c->len, n, c->r.bytes };
	return 0;
}

/* ---- contenders ---- */

static const char *const pointers[] = { "/user/id", "/amount", "/ts" };

struct ours {
	struct st_json_plan *plan;
	struct st_schema *learn_scratch;
	struct st_json_tmpl *tmpl;         /* OURS_SHAPES: fresh each pass */
	uint8_t scratch[1 << 16];
};

static void ours_pass(struct ours *o, enum st_simd_level level, bool lazy,
		      struct st_json_tmpl *tmpl, const struct json_bench_records *r,
		      struct st_schema *schema, struct json_bench_sums *out)
{
	struct st_json_value v[3];
	bool product = level == st_cpu_simd_level();

	*out = (struct json_bench_sums){ 0 };
	for (size_t i = 0; i < r->n; i++) {
		/* the product's entry point at its own level */
		int rc = tmpl ?
			st_json_tmpl_scan(tmpl, o->learn_scratch, o->plan,
					  r->buf + r->off[i], r->len[i], v, o->scratch,
					  sizeof(o->scratch), schema, NULL, NULL) :
			lazy ?
			st_json_scan_fields(o->plan, r->buf + r->off[i], r->len[i],
					    v, o->scratch, sizeof(o->scratch)) :
			product ?
			st_json_scan(o->plan, r->buf + r->off[i], r->len[i], v,
				     o->scratch, sizeof(o->scratch), schema, NULL) :
			st_json_scan_level(level, o->plan, r->buf + r->off[i],
					   r->len[i], v, o->scratch,
					   sizeof(o->scratch), schema, NULL);

		if (rc != 0) {
			out->failed++;
			continue;
		}
		if (v[0].type == ST_JSON_STRING && v[1].type == ST_JSON_NUMBER &&
		    v[2].type == ST_JSON_NUMBER) {
			uint64_t a, t;

			memcpy(&a, &v[1].number, 8);
			memcpy(&t, &v[2].number, 8);
			out->id_hash += st_hash64(v[0].text, v[0].text_len);
			out->number_bits += a + t;
			out->complete++;
		}
	}
	if (tmpl)
		st_json_tmpl_flush(tmpl, schema);
}

#ifndef BENCH_HAVE_SIMDJSON
struct json_peer *json_peer_create(void)
{
	return NULL;
}

const char *json_peer_implementation(void)
{
	return "none";
}

void json_peer_destroy(struct json_peer *peer)
{
	(void)peer;
}

int json_peer_pass(struct json_peer *peer, const struct json_bench_records *r,
		   struct st_schema *schema, struct json_bench_sums *out)
{
	(void)peer, (void)r, (void)schema, (void)out;
	return -1;
}

int json_peer_dom_pass(struct json_peer *peer,
		       const struct json_bench_records *r,
		       struct st_schema *schema, struct json_bench_sums *out)
{
	(void)peer, (void)r, (void)schema, (void)out;
	return -1;
}
#endif

/* ---- timing ---- */

enum { MODE_FIELDS, MODE_SCHEMA, MODE__COUNT };
static const char *const mode_names[MODE__COUNT] = { "fields", "fields+schema" };

enum { OURS, OURS_LAZY, OURS_SHAPES, PEER_ONDEMAND, PEER_DOM };

struct contender {
	const char *name;
	int kind;
	enum st_simd_level level;
	double sec[MODE__COUNT][REPS_MAX];
	struct json_bench_sums sums[MODE__COUNT];
	uint64_t fingerprint;
};

static int one_pass(struct contender *c, int mode, struct ours *o,
		    struct json_peer *peer, const struct json_bench_records *r,
		    struct st_schema *schema, double *sec)
{
	struct json_bench_sums sums;
	double t0;

	st_schema_reset(schema);
	if ((c->kind == OURS_LAZY && mode != MODE_FIELDS) ||
	    (c->kind == OURS_SHAPES && mode != MODE_SCHEMA))
		return 0;               /* one mode only */
	if (c->kind == OURS_SHAPES) {
		st_json_tmpl_destroy(o->tmpl);
		o->tmpl = st_json_tmpl_create();
		if (!o->tmpl)
			return fail("out of memory");
	}
	t0 = st_bench_cpu_seconds();
	if (c->kind == PEER_ONDEMAND || c->kind == PEER_DOM) {
		int (*pass)(struct json_peer *, const struct json_bench_records *,
			    struct st_schema *, struct json_bench_sums *) =
			c->kind == PEER_DOM ? json_peer_dom_pass : json_peer_pass;

		if (pass(peer, r, mode == MODE_SCHEMA ? schema : NULL, &sums) != 0)
			return fail("simdjson peer not built in");
	} else {
		ours_pass(o, c->level, c->kind == OURS_LAZY,
			  c->kind == OURS_SHAPES ? o->tmpl : NULL, r,
			  mode == MODE_SCHEMA ? schema : NULL, &sums);
	}
	*sec = st_bench_cpu_seconds() - t0;
	c->sums[mode] = sums;
	if (mode == MODE_SCHEMA)
		c->fingerprint = st_schema_fingerprint(schema);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shadowtap-json-bench [--records N] [--reps R] [--quick]\n"
		"                            [--write FILE] [--read FILE] [--no-peer]\n"
		"  --records N  generated records (default 1000000)\n"
		"  --reps R     repetitions, median reported (default 7, max %d)\n"
		"  --quick      smoke run: 20000 records, 3 reps\n"
		"  --write FILE write the generated records as JSON lines and go on\n"
		"  --read FILE  benchmark the JSON lines of FILE instead\n"
		"  --no-peer    our scanner only\n", REPS_MAX);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "reps", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'q' },
		{ "write", required_argument, NULL, 'w' },
		{ "read", required_argument, NULL, 'i' },
		{ "no-peer", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	*o = (struct opts){ .records = 1000000, .reps = 7 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->records = strtoull(optarg, &end, 10);
			if (*end || o->records == 0 || o->records > 100000000)
				return fail("--records: 1..100000000, not '%s'", optarg);
			break;
		case 'r':
			o->reps = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->reps == 0 || o->reps > REPS_MAX)
				return fail("--reps: 1..%d, not '%s'", REPS_MAX, optarg);
			break;
		case 'q':
			o->quick = true;
			o->records = 20000;
			o->reps = 3;
			break;
		case 'w':
			o->write_path = optarg;
			break;
		case 'i':
			o->read_path = optarg;
			break;
		case 'p':
			o->no_peer = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static void print_header(int argc, char **argv, const struct opts *o,
			 const struct json_bench_records *r)
{
	printf("shadowtap-json-bench: %zu records, %.1f MB (%.0f bytes/record "
	       "on average), %u reps%s\n", r->n, (double)r->bytes / 1e6,
	       (double)r->bytes / (double)r->n, o->reps,
	       o->quick ? " (quick smoke run)" : "");
	st_bench_print_env(argc, argv, NULL, true);
#ifdef BENCH_HAVE_SIMDJSON
	printf("peer: simdjson %s On-Demand, kernel \"%s\" (built with "
	       "-march=native, as simdjson recommends for On-Demand); %s\n",
	       BENCH_SIMDJSON_VERSION, json_peer_implementation(),
	       o->no_peer ? "not run: --no-peer" : "same process, same records");
#else
	printf("peer: none (built without libsimdjson or a C++ compiler)\n");
#endif
}

static int check_agreement(struct contender *c, unsigned nc,
			   const struct json_bench_records *r)
{
	for (int m = 0; m < MODE__COUNT; m++) {
		for (unsigned i = 0; i < nc; i++) {
			const struct json_bench_sums *a = &c[0].sums[m], *b = &c[i].sums[m];

			if ((c[i].kind == OURS_LAZY && m != MODE_FIELDS) ||
			    (c[i].kind == OURS_SHAPES && m != MODE_SCHEMA))
				continue;

			if (b->failed || b->complete != r->n)
				return fail("%s (%s): %" PRIu64 " records refused, %" PRIu64
					    " of %zu complete", c[i].name, mode_names[m],
					    b->failed, b->complete, r->n);
			if (a->id_hash != b->id_hash || a->number_bits != b->number_bits)
				return fail("%s and %s extracted different values (%s)",
					    c[0].name, c[i].name, mode_names[m]);
		}
	}
	for (unsigned i = 1; i < nc; i++)
		if (c[i].kind != OURS_LAZY && c[i].fingerprint != c[0].fingerprint)
			return fail("%s and %s walked different schemas", c[0].name,
				    c[i].name);
	return 0;
}

static int run(const struct opts *o, const struct json_bench_records *r)
{
	struct contender c[7];
	unsigned nc = 0;
	struct ours *ours = calloc(1, sizeof(*ours));
	struct json_peer *peer = NULL;
	struct st_schema *schema = st_schema_create(1024);
	int rc = -1;

	if (!ours || !schema)
		return fail("out of memory");
	ours->plan = st_json_plan_create(pointers, ST_ARRAY_SIZE(pointers));
	ours->learn_scratch = st_json_tmpl_scratch_create();
	if (!ours->plan || !ours->learn_scratch)
		goto out;
	for (int l = ST_SIMD_AVX512; l >= ST_SIMD_SCALAR; l--) {
		if ((enum st_simd_level)l > st_cpu_simd_level())
			continue;
		c[nc++] = (struct contender){ .name = l == ST_SIMD_AVX512 ?
			"shadowtap (avx512)" : l == ST_SIMD_AVX2 ?
			"shadowtap (avx2)" : "shadowtap (scalar)",
			.level = (enum st_simd_level)l };
	}
	c[nc++] = (struct contender){ .name = "shadowtap fields only, lazy (schema = false)",
				      .kind = OURS_LAZY, .level = st_cpu_simd_level() };
	c[nc++] = (struct contender){ .name = "shadowtap with shape templates (a worker's path)",
				      .kind = OURS_SHAPES, .level = st_cpu_simd_level() };
	if (!o->no_peer) {
		peer = json_peer_create();
		if (!peer) {
			fail("no simdjson peer in this build (use --no-peer)");
			goto out;
		}
		c[nc++] = (struct contender){ .name = "simdjson On-Demand",
					      .kind = PEER_ONDEMAND };
		c[nc++] = (struct contender){ .name = "simdjson DOM", .kind = PEER_DOM };
	}
	for (unsigned rep = 0; rep < o->reps; rep++) {
		for (unsigned k = 0; k < nc; k++) {
			unsigned i = (k + rep) % nc;   /* rotating order */

			for (int m = 0; m < MODE__COUNT; m++)
				if (one_pass(&c[i], m, ours, peer, r, schema,
					     &c[i].sec[m][rep]) != 0)
					goto out;
		}
		if (rep == 0 && check_agreement(c, nc, r) != 0)
			goto out;
	}
	printf("agreement: every contender extracted the same values from all %zu "
	       "records and walked the same schema (fingerprint %016" PRIx64 ")\n",
	       r->n, c[0].fingerprint);
	for (int m = 0; m < MODE__COUNT; m++) {
		for (unsigned i = 0; i < nc; i++) {
			double s = st_bench_median(c[i].sec[m], o->reps);

			if ((c[i].kind == OURS_LAZY && m != MODE_FIELDS) ||
			    (c[i].kind == OURS_SHAPES && m != MODE_SCHEMA))
				continue;

			printf("figure: %s, %s: %.1f ns/record, %.2f M records/s, "
			       "%.2f GB/s\n", mode_names[m], c[i].name,
			       s * 1e9 / (double)r->n, (double)r->n / s / 1e6,
			       (double)r->bytes / s / 1e9);
		}
		for (unsigned p = 0; peer && p < nc; p++) {
			double peer_s = st_bench_median(c[p].sec[m], o->reps);

			if (c[p].kind != PEER_ONDEMAND && c[p].kind != PEER_DOM)
				continue;
			for (unsigned i = 0; i < nc; i++)
				if (c[i].kind == OURS ||
				    (c[i].kind == OURS_LAZY && m == MODE_FIELDS) ||
				    (c[i].kind == OURS_SHAPES && m == MODE_SCHEMA))
					printf("figure: %s, ratio %s / %s: %.2fx\n",
					       mode_names[m], c[i].name, c[p].name,
					       peer_s / st_bench_median(c[i].sec[m], o->reps));
		}
	}
	rc = 0;
out:
	json_peer_destroy(peer);
	st_json_plan_destroy(ours->plan);
	st_json_tmpl_destroy(ours->tmpl);
	st_schema_destroy(ours->learn_scratch);
	st_schema_destroy(schema);
	free(ours);
	return rc;
}

static int write_records(const char *path, const struct json_bench_records *r)
{
	FILE *f = fopen(path, "wb");
	size_t total = r->n ? (size_t)(r->off[r->n - 1] + r->len[r->n - 1] + 1) : 0;

	if (!f)
		return fail("%s: %s", path, strerror(errno));
	if (fwrite(r->buf, 1, total, f) != total || fclose(f) != 0)
		return fail("%s: write failed", path);
	printf("wrote %zu records to %s\n", r->n, path);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct corpus c = { 0 };
	int rc = parse_opts(argc, argv, &o);

	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (o.read_path ? corpus_read(&c, o.read_path) :
			  corpus_generate(&c, o.records))
		return 1;
	if (c.r.n == 0)
		return fail("no records") ? 1 : 1;
	if (o.write_path && write_records(o.write_path, &c.r) != 0)
		return 1;
	print_header(argc, argv, &o, &c.r);
	rc = st_bench_pin_cpu(0);
	if (rc < 0)
		return fail("cannot pin to CPU 0: %s", strerror(-rc)) ? 1 : 1;
	rc = run(&o, &c.r);
	free(c.buf);
	free(c.off);
	free(c.len);
	return rc == 0 ? 0 : 1;
}
