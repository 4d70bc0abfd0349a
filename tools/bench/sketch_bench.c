/*
 * shadowtap-sketch-bench: what each sketch costs per update and per merge,
 * and the heavy-hitter sketch against DPDK's rte_member sketch mode (a
 * count-min sketch with NitroSketch sampling and a top-k heap: Liu et al.,
 * "NitroSketch: Robust and General Sketch-based Monitoring in Software
 * Switches", SIGCOMM 2019) on the same key stream, in one run.
 *
 * Input.  A universe of U flow keys, 13-byte IPv4 5-tuples that are distinct
 * by construction, and streams of N updates over it: uniform, and Zipf(s) for
 * s = 0.8, 1.1, 1.5 (tools/lib/keygen.h, fixed seeds).  Everything an update
 * consumes (key, hash, record size, timestamp, field path) is generated into
 * arrays before any clock starts, and every sketch reads the same arrays.
 *
 * Speed.  clock_gettime(CLOCK_MONOTONIC) around a whole loop, never around
 * one update; each figure is the median of several repetitions; what a loop
 * computes ends in a volatile sink, so no loop is dead code.  The program
 * runs pinned to CPU 0 (DPDK's `-l 0` does it when the peer is present).
 *
 * HLL merge per SIMD level.  The level is fixed at start-up from
 * SHADOWTAP_SIMD (dataplane/cpu.h), so the program runs itself once per level
 * the CPU has, with SHADOWTAP_SIMD set, and reads the child's figure; the
 * child prints the level it really ran at and the parent checks it.
 *
 * Heavy hitters vs rte_member.  Both contenders get the key bytes, so both
 * hash: our figure includes st_hash64 of the key.  The contenders alternate
 * over rounds, the order reversed every other round.  Recall@K is the share
 * of the true top-K keys (exact counts per key; a key tied with the K-th
 * count counts as a true top-K key) that a contender lists in its own top K.
 * rte_member is tried with several settings, each printed with its
 * parameters, so that the comparison does not hinge on one choice.
 *
 * Every figure line starts with "figure:" and the command that reproduces
 * it is printed before the figures ("reproduce:").
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/compiler.h"
#include "dataplane/cpu.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/heavy.h"
#include "dataplane/sketch/hll.h"
#include "dataplane/sketch/quantile.h"
#include "dataplane/sketch/schema.h"
#include "dataplane/sketch/ticks.h"
#include "tools/bench/bench_util.h"
#include "tools/lib/keygen.h"

/* libdpdk found by meson: its include directory is on the path. */
#if defined(__has_include)
#if __has_include(<rte_member.h>)
#define BENCH_HAVE_DPDK 1
#define ALLOW_EXPERIMENTAL_API  /* the sketch calls are experimental in 22.11 */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_member.h>
#include <rte_random.h>
#include <rte_version.h>
#endif
#endif

extern char **environ;

#define KEY_BYTES 13   /* src addr, dst addr, src port, dst port, protocol */
#define KEY_STRIDE 16  /* keys sit 16 bytes apart in the key arrays */
#define HH_K ST_HH_K_DEFAULT
/*
 * Our heavy-hitter configurations against rte_member: the default k, and a
 * larger k; each has an rte_member setting whose table is as large.
 */
static const unsigned ours_k[] = { HH_K, 256, 1024 };
#define N_OURS ST_ARRAY_SIZE(ours_k)
#define OURS_K_MAX 1024
#define MAX_REPS 64
/*
 * rte_member 22.11 with top_k = 64 keeps at most 63 keys, and every later
 * update of an untracked key fails an insert and logs an error (its free
 * key-slot ring, sized to the power of two top_k, holds one slot less).
 * 65 works as documented and gives the peer one slot more than our 64.
 */
#define PEER_TOP_K 65
#define PEER_ROWS 5  /* rows of its count-min table in packet-count mode */
#define N_RECALL 2
static const unsigned recall_at[N_RECALL] = { 10, 32 };

#define SEED_STREAM 0x5ee0d5ea11ull
#define SEED_RECORDS 0x5ee0d5ec0dull
#define SEED_PEER 0x5ee0d9ee7ull

#define EPOCH_START_NS 1700000000000000000ull
#define EPOCH_NS 1000000000ull
#define RECORD_BYTES_MAX 65536u

/* Sink of every timed loop's result, so that none is optimised away. */
static volatile uint64_t bench_sink;

struct opts {
	uint64_t updates;     /* N */
	uint32_t universe;    /* U */
	unsigned reps;        /* repetitions of each update and merge figure */
	unsigned rounds;      /* alternating rounds, heavy hitters vs rte_member */
	unsigned merges;      /* merges per timed loop */
	bool quick;
	bool no_peer;
	bool hll_merge_child; /* internal: one SIMD level's HLL merge figure */
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints an error to stderr; returns -1. */
static int fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("shadowtap-sketch-bench: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}


/* ---------------------------------------------------------------- input */

/* splitmix64's finaliser: xor-shifts and odd multipliers, so a bijection. */
static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

struct hash_to_key {
	uint64_t hash;
	uint32_t key;
};

struct universe {
	uint32_t n_keys;
	uint8_t *keys;               /* key i at keys + i * KEY_STRIDE */
	uint64_t *key_hash;          /* st_hash64 of key i */
	struct hash_to_key *by_hash; /* sorted by hash: reports back to keys */
};

/* Key i: the addresses are a bijection of i, so keys are distinct. */
static void make_key(uint32_t i, uint8_t *key)
{
	static const uint16_t dports[] = { 9092, 1883, 4222, 443, 80 };
	uint64_t addrs = mix64(i);
	uint64_t rest = mix64(addrs ^ 0x243f6a8885a308d3ull);
	uint16_t sport = (uint16_t)(1024 + rest % 64512);
	uint16_t dport = dports[(rest >> 16) % ST_ARRAY_SIZE(dports)];

	memset(key, 0, KEY_STRIDE);
	memcpy(key, &addrs, 8);
	memcpy(key + 8, &sport, 2);
	memcpy(key + 10, &dport, 2);
	key[12] = (rest >> 40) & 1 ? 6 : 17;
}

static int cmp_hash_to_key(const void *a, const void *b)
{
	uint64_t x = ((const struct hash_to_key *)a)->hash;
	uint64_t y = ((const struct hash_to_key *)b)->hash;

	return (x > y) - (x < y);
}

static int universe_init(struct universe *u, uint32_t n_keys)
{
	u->n_keys = n_keys;
	u->keys = malloc((size_t)n_keys * KEY_STRIDE);
	u->key_hash = malloc((size_t)n_keys * sizeof(*u->key_hash));
	u->by_hash = malloc((size_t)n_keys * sizeof(*u->by_hash));
	if (!u->keys || !u->key_hash || !u->by_hash)
		return fail("out of memory for %" PRIu32 " keys", n_keys);
	for (uint32_t i = 0; i < n_keys; i++) {
		uint8_t *key = u->keys + (size_t)i * KEY_STRIDE;

		make_key(i, key);
		u->key_hash[i] = st_hash64(key, KEY_BYTES);
		u->by_hash[i] = (struct hash_to_key){ u->key_hash[i], i };
	}
	qsort(u->by_hash, n_keys, sizeof(*u->by_hash), cmp_hash_to_key);
	for (uint32_t i = 1; i < n_keys; i++)
		if (u->by_hash[i].hash == u->by_hash[i - 1].hash)
			return fail("two keys of the universe share a 64-bit hash; "
				    "choose another --universe");
	return 0;
}

static void universe_free(struct universe *u)
{
	free(u->keys);
	free(u->key_hash);
	free(u->by_hash);
}

/* Key index of a hash, or -1 if no key of the universe has it. */
static int64_t universe_find(const struct universe *u, uint64_t hash)
{
	size_t lo = 0, hi = u->n_keys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->by_hash[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < u->n_keys && u->by_hash[lo].hash == hash)
		return u->by_hash[lo].key;
	return -1;
}

static inline const uint8_t *key_bytes(const struct universe *u, uint32_t i)
{
	return u->keys + (size_t)i * KEY_STRIDE;
}

/*
 * JSON field paths of the schema-set workload: 4 objects x 12 fields, each
 * with its usual type; 2% of the updates see null instead.
 */
#define N_PATHS 48
#define NULL_PERCENT 2

struct field_path {
	char text[32];
	uint8_t len;
	uint8_t type;
	uint64_t hash;
};

static void paths_init(struct field_path *paths)
{
	static const char *const objects[] = { "user", "order", "device", "meta" };
	static const struct {
		const char *name;
		uint8_t type;
	} fields[] = {
		{ "id", ST_JSON_NUMBER },      { "ts", ST_JSON_NUMBER },
		{ "name", ST_JSON_STRING },    { "price", ST_JSON_NUMBER },
		{ "qty", ST_JSON_NUMBER },     { "tags", ST_JSON_ARRAY },
		{ "geo/lat", ST_JSON_NUMBER }, { "geo/lon", ST_JSON_NUMBER },
		{ "status", ST_JSON_STRING },  { "ver", ST_JSON_STRING },
		{ "ip", ST_JSON_STRING },      { "ok", ST_JSON_TRUE },
	};
	_Static_assert(ST_ARRAY_SIZE(objects) * ST_ARRAY_SIZE(fields) == N_PATHS,
		       "N_PATHS paths");
	_Static_assert(N_PATHS <= ST_SCHEMA_ENTRIES_DEFAULT, "the set holds every path");

	for (unsigned o = 0; o < ST_ARRAY_SIZE(objects); o++) {
		for (unsigned f = 0; f < ST_ARRAY_SIZE(fields); f++) {
			struct field_path *p = &paths[o * ST_ARRAY_SIZE(fields) + f];
			int len = snprintf(p->text, sizeof(p->text), "/%s/%s",
					   objects[o], fields[f].name);

			p->len = (uint8_t)len;
			p->type = fields[f].type;
			p->hash = st_hash64(p->text, p->len);
		}
	}
}

/* Per-record attributes that do not depend on the key distribution. */
struct records {
	double *size_bytes;   /* log-normal around 300 bytes, 20..65536 */
	uint64_t *ts_ns;      /* increasing over one 1 s epoch */
	double exact_p50;     /* exact median of size_bytes */
};

static int records_init(struct records *rec, size_t n)
{
	uint32_t *hist = calloc(RECORD_BYTES_MAX + 1, sizeof(*hist));
	struct st_rng r;
	uint64_t seen = 0;

	rec->size_bytes = malloc(n * sizeof(*rec->size_bytes));
	rec->ts_ns = malloc(n * sizeof(*rec->ts_ns));
	if (!hist || !rec->size_bytes || !rec->ts_ns) {
		free(hist);
		return fail("out of memory for %zu records", n);
	}
	st_rng_seed(&r, SEED_RECORDS);
	for (size_t i = 0; i < n; i++) {
		/* Box-Muller: one normal variate per record. */
		double u1 = 1.0 - st_rng_uniform(&r), u2 = st_rng_uniform(&r);
		double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
		double bytes = round(exp(log(300.0) + 0.8 * z));

		bytes = ST_MAX(20.0, ST_MIN((double)RECORD_BYTES_MAX, bytes));
		rec->size_bytes[i] = bytes;
		hist[(uint32_t)bytes]++;
		rec->ts_ns[i] = EPOCH_START_NS +
			(uint64_t)(((double)i + st_rng_uniform(&r)) * EPOCH_NS / (double)n);
	}
	/* The value of rank ceil(n/2) (1-based): the lower median. */
	for (uint32_t b = 0; b <= RECORD_BYTES_MAX; b++) {
		seen += hist[b];
		if (seen >= (n + 1) / 2) {
			rec->exact_p50 = b;
			break;
		}
	}
	free(hist);
	return 0;
}

static void records_free(struct records *rec)
{
	free(rec->size_bytes);
	free(rec->ts_ns);
}

struct stream {
	char name[16];
	double zipf_s;        /* 0: uniform */
	size_t n;
	uint32_t *key;        /* key index of update i */
	uint8_t *key_bytes;   /* its bytes at i * KEY_STRIDE, in arrival order
			       * as packets would bring them */
	uint64_t *hash;       /* its hash, gathered so that loops read one array */
	uint8_t *path;        /* field path of update i (derived from its key) */
	uint8_t *type;        /* JSON type seen at that path */
	uint32_t *exact;      /* exact count of each key of the universe */
	uint32_t distinct;    /* keys with a count > 0 */
	unsigned paths_seen;  /* distinct paths in the stream */
	uint32_t topk_min_count[N_RECALL]; /* exact count of the K-th key */
};

static int stream_alloc(struct stream *s, size_t n, uint32_t n_keys)
{
	s->n = n;
	s->key = malloc(n * sizeof(*s->key));
	s->key_bytes = malloc(n * KEY_STRIDE);
	s->hash = malloc(n * sizeof(*s->hash));
	s->path = malloc(n);
	s->type = malloc(n);
	s->exact = malloc((size_t)n_keys * sizeof(*s->exact));
	if (!s->key || !s->key_bytes || !s->hash || !s->path || !s->type || !s->exact)
		return fail("out of memory for a stream of %zu updates", n);
	return 0;
}

/* The bytes of update i's key. */
static inline const uint8_t *stream_key(const struct stream *s, size_t i)
{
	return s->key_bytes + i * KEY_STRIDE;
}

static void stream_free(struct stream *s)
{
	free(s->key);
	free(s->key_bytes);
	free(s->hash);
	free(s->path);
	free(s->type);
	free(s->exact);
}

static int cmp_u32_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y) - (x > y);
}

/* Fills s with a uniform (zipf_s == 0) or Zipf(zipf_s) stream. */
static int stream_generate(struct stream *s, double zipf_s,
			   const struct universe *u, const struct field_path *paths)
{
	bool path_seen[N_PATHS] = { false };
	struct st_zipf z;
	struct st_rng r;
	uint32_t *sorted;

	s->zipf_s = zipf_s;
	if (zipf_s > 0) {
		snprintf(s->name, sizeof(s->name), "zipf%.1f", zipf_s);
		if (st_zipf_init(&z, zipf_s, u->n_keys) != 0)
			return fail("bad Zipf parameters s=%g n=%u", zipf_s, u->n_keys);
	} else {
		snprintf(s->name, sizeof(s->name), "uniform");
	}
	st_rng_seed(&r, SEED_STREAM ^ (uint64_t)(zipf_s * 1000));
	memset(s->exact, 0, (size_t)u->n_keys * sizeof(*s->exact));
	s->distinct = 0;
	s->paths_seen = 0;
	for (size_t i = 0; i < s->n; i++) {
		uint32_t k = zipf_s > 0 ? (uint32_t)(st_zipf_next(&z, &r) - 1)
					: (uint32_t)(st_rng_next(&r) % u->n_keys);
		unsigned p = k % N_PATHS;

		s->key[i] = k;
		memcpy(s->key_bytes + i * KEY_STRIDE, key_bytes(u, k), KEY_STRIDE);
		s->hash[i] = u->key_hash[k];
		s->path[i] = (uint8_t)p;
		s->type[i] = st_rng_next(&r) % 100 < NULL_PERCENT ? ST_JSON_NULL
								   : paths[p].type;
		s->distinct += s->exact[k]++ == 0;
		s->paths_seen += !path_seen[p];
		path_seen[p] = true;
	}
	if (s->distinct < recall_at[N_RECALL - 1])
		return fail("%s: only %u distinct keys, fewer than top-%u",
			    s->name, s->distinct, recall_at[N_RECALL - 1]);
	sorted = malloc((size_t)u->n_keys * sizeof(*sorted));
	if (!sorted)
		return fail("out of memory");
	memcpy(sorted, s->exact, (size_t)u->n_keys * sizeof(*sorted));
	qsort(sorted, u->n_keys, sizeof(*sorted), cmp_u32_desc);
	for (unsigned j = 0; j < N_RECALL; j++)
		s->topk_min_count[j] = sorted[recall_at[j] - 1];
	free(sorted);
	return 0;
}

/* What an update loop reads. */
struct input {
	const struct universe *u;
	const struct stream *s;
	const struct records *rec;
	const struct field_path *paths;
};

/*
 * Recall@K of a top list given as key indices, best first: the share of the
 * true top-K keys among its first K entries.  *dups counts entries that
 * repeat an earlier key (a list must not have any).
 */
static double recall_of(const struct stream *s, unsigned j, const int64_t *top,
			size_t n_top, unsigned *dups)
{
	unsigned k = recall_at[j], hits = 0;

	*dups = 0;
	for (size_t i = 0; i < n_top && i < k; i++) {
		bool repeated = false;

		for (size_t e = 0; e < i; e++)
			repeated |= top[e] == top[i];
		if (repeated)
			(*dups)++;
		else if (s->exact[top[i]] >= s->topk_min_count[j])
			hits++;
	}
	return (double)hits / k;
}

/* ------------------------------------------------------- sketch adapters */

/*
 * One row of the update and merge tables.  feed() is the timed loop: it
 * applies updates [from, to) of the input to the sketch.  check() runs once,
 * after a feed of the whole stream: a coarse guard that the sketch really
 * saw the stream (not a test of its accuracy; the unit tests do that).
 */
struct sketch_case {
	const char *name;
	void *(*create)(void);
	void (*destroy)(void *sk);
	void (*reset)(void *sk);
	void (*feed)(void *sk, const struct input *in, size_t from, size_t to);
	int (*merge)(void *dst, const void *src);
	int (*check)(void *sk, const struct input *in);
	size_t (*memory_bytes)(const void *sk);
};

static void *hll12_create(void) { return st_hll_create(12); }
static void *hll14_create(void) { return st_hll_create(14); }
static void hll_destroy(void *sk) { st_hll_destroy(sk); }
static void hll_reset(void *sk) { st_hll_reset(sk); }
static int hll_merge(void *dst, const void *src) { return st_hll_merge(dst, src); }
static size_t hll_memory(const void *sk) { return st_hll_memory_bytes(sk); }

static void hll_feed(void *sk, const struct input *in, size_t from, size_t to)
{
	const uint64_t *hash = in->s->hash;

	for (size_t i = from; i < to; i++)
		st_hll_update(sk, hash[i]);
}

static int hll_check(void *sk, const struct input *in)
{
	double est = st_hll_estimate(sk), exact = in->s->distinct;

	bench_sink += (uint64_t)est;
	if (fabs(est - exact) > 0.10 * exact)
		return fail("hll p=%u: estimate %.0f for %.0f distinct keys",
			    st_hll_precision(sk), est, exact);
	return 0;
}

static void *hh_create(void) { return st_hh_create(HH_K); }
static void hh_destroy(void *sk) { st_hh_destroy(sk); }
static void hh_reset(void *sk) { st_hh_reset(sk); }
static int hh_merge(void *dst, const void *src) { return st_hh_merge(dst, src); }
static size_t hh_memory(const void *sk) { return st_hh_memory_bytes(sk); }

static void hh_feed(void *sk, const struct input *in, size_t from, size_t to)
{
	const uint64_t *hash = in->s->hash;

	for (size_t i = from; i < to; i++)
		st_hh_update(sk, hash[i], stream_key(in->s, i), KEY_BYTES, 1);
}

static int hh_check(void *sk, const struct input *in)
{
	bench_sink += st_hh_total(sk);
	if (st_hh_total(sk) != in->s->n)
		return fail("heavy hitters: total %" PRIu64 " after %zu updates",
			    st_hh_total(sk), in->s->n);
	return 0;
}

static void *qs_create(void)
{
	return st_qs_create(ST_QS_ALPHA_DEFAULT, ST_QS_BINS_DEFAULT, false);
}
static void qs_destroy(void *sk) { st_qs_destroy(sk); }
static void qs_reset(void *sk) { st_qs_reset(sk); }
static int qs_merge(void *dst, const void *src) { return st_qs_merge(dst, src); }
static size_t qs_memory(const void *sk) { return st_qs_memory_bytes(sk); }

static void qs_feed(void *sk, const struct input *in, size_t from, size_t to)
{
	const double *size_bytes = in->rec->size_bytes;

	for (size_t i = from; i < to; i++)
		st_qs_update(sk, size_bytes[i]);
}

static int qs_check(void *sk, const struct input *in)
{
	double p50 = st_qs_estimate(sk, 0.5), exact = in->rec->exact_p50;

	bench_sink += (uint64_t)p50;
	if (st_qs_count(sk) != in->s->n || !(fabs(p50 - exact) <= 0.05 * exact))
		return fail("quantiles: count %" PRIu64 " of %zu, p50 %.1f vs exact %.1f",
			    st_qs_count(sk), in->s->n, p50, exact);
	return 0;
}

static void *schema_create(void) { return st_schema_create(ST_SCHEMA_ENTRIES_DEFAULT); }
static void schema_destroy(void *sk) { st_schema_destroy(sk); }
static void schema_reset(void *sk) { st_schema_reset(sk); }
static int schema_merge(void *dst, const void *src) { return st_schema_merge(dst, src); }
static size_t schema_memory(const void *sk) { return st_schema_memory_bytes(sk); }

static void schema_feed(void *sk, const struct input *in, size_t from, size_t to)
{
	const uint8_t *path = in->s->path, *type = in->s->type;

	for (size_t i = from; i < to; i++) {
		const struct field_path *p = &in->paths[path[i]];

		st_schema_update(sk, p->hash, p->text, p->len, type[i]);
	}
}

static int schema_check(void *sk, const struct input *in)
{
	bench_sink += st_schema_size(sk);
	if (st_schema_size(sk) != in->s->paths_seen || st_schema_overflow(sk) != 0)
		return fail("schema set: %u entries, %" PRIu64 " overflow; %u paths seen",
			    st_schema_size(sk), st_schema_overflow(sk), in->s->paths_seen);
	return 0;
}

static void *ticks_create(void)
{
	struct st_ticks *t = st_ticks_create(ST_TICKS_DEFAULT, EPOCH_NS);

	if (t)
		st_ticks_reset(t, EPOCH_START_NS);
	return t;
}
static void ticks_destroy(void *sk) { st_ticks_destroy(sk); }
static void ticks_reset(void *sk) { st_ticks_reset(sk, EPOCH_START_NS); }
static int ticks_merge(void *dst, const void *src) { return st_ticks_merge(dst, src); }
static size_t ticks_memory(const void *sk) { return st_ticks_memory_bytes(sk); }

static void ticks_feed(void *sk, const struct input *in, size_t from, size_t to)
{
	const uint64_t *ts_ns = in->rec->ts_ns;

	for (size_t i = from; i < to; i++)
		st_ticks_update(sk, ts_ns[i], 1);
}

static int ticks_check(void *sk, const struct input *in)
{
	bench_sink += st_ticks_total(sk);
	if (st_ticks_total(sk) != in->s->n || st_ticks_early(sk) || st_ticks_late(sk))
		return fail("ticks: total %" PRIu64 " of %zu, early %" PRIu64 ", late %" PRIu64,
			    st_ticks_total(sk), in->s->n, st_ticks_early(sk),
			    st_ticks_late(sk));
	return 0;
}

static const struct sketch_case sketch_cases[] = {
	{ "hll p=12", hll12_create, hll_destroy, hll_reset, hll_feed, hll_merge,
	  hll_check, hll_memory },
	{ "hll p=14", hll14_create, hll_destroy, hll_reset, hll_feed, hll_merge,
	  hll_check, hll_memory },
	{ "heavy hitters k=64", hh_create, hh_destroy, hh_reset, hh_feed, hh_merge,
	  hh_check, hh_memory },
	{ "quantiles (record bytes)", qs_create, qs_destroy, qs_reset, qs_feed,
	  qs_merge, qs_check, qs_memory },
	{ "schema set (48 paths)", schema_create, schema_destroy, schema_reset,
	  schema_feed, schema_merge, schema_check, schema_memory },
	{ "rate ticks (100)", ticks_create, ticks_destroy, ticks_reset, ticks_feed,
	  ticks_merge, ticks_check, ticks_memory },
};
#define N_CASES ST_ARRAY_SIZE(sketch_cases)

/* ------------------------------------------------- 1. cost per update */

/* Median ns per st_hash64 of a 13-byte key, over the stream's keys (after
 * one untimed pass that warms the caches and the clock). */
static double time_hashing(const struct input *in, unsigned reps)
{
	double ns[MAX_REPS + 1];

	for (unsigned r = 0; r <= reps; r++) {
		uint64_t acc = 0, t0 = now_ns();

		for (size_t i = 0; i < in->s->n; i++)
			acc ^= st_hash64(stream_key(in->s, i), KEY_BYTES);
		ns[r] = (double)(now_ns() - t0) / (double)in->s->n;
		bench_sink += acc;
	}
	return st_bench_median(ns + 1, reps);
}

/* Median ns per update of one sketch over the whole stream, after one
 * untimed warm-up pass; then check(). */
static int time_updates(const struct sketch_case *c, const struct input *in,
			unsigned reps, double *ns_per_update, size_t *memory_bytes)
{
	double ns[MAX_REPS + 1];
	void *sk = c->create();
	int rc;

	if (!sk)
		return fail("%s: create: %s", c->name, strerror(errno));
	for (unsigned r = 0; r <= reps; r++) {
		uint64_t t0;

		c->reset(sk);
		t0 = now_ns();
		c->feed(sk, in, 0, in->s->n);
		ns[r] = (double)(now_ns() - t0) / (double)in->s->n;
	}
	*ns_per_update = st_bench_median(ns + 1, reps);
	*memory_bytes = c->memory_bytes(sk);
	rc = c->check(sk, in);
	c->destroy(sk);
	return rc;
}

struct update_table {
	double hash_ns[2];
	double ns[N_CASES][2];
	size_t memory_bytes[N_CASES];
	char stream_name[2][16];
};

static int section_updates_one(struct update_table *t, unsigned col,
			       const struct input *in, const struct opts *o)
{
	snprintf(t->stream_name[col], sizeof(t->stream_name[col]), "%s", in->s->name);
	t->hash_ns[col] = time_hashing(in, o->reps);
	for (unsigned c = 0; c < N_CASES; c++)
		if (time_updates(&sketch_cases[c], in, o->reps, &t->ns[c][col],
				 &t->memory_bytes[c]) != 0)
			return -1;
	return 0;
}

static void print_memory(size_t bytes)
{
	if (bytes >= 1024)
		printf("%7.1f KiB", bytes / 1024.0);
	else
		printf("%7zu B  ", bytes);
}

static void section_updates_print(const struct update_table *t, const struct opts *o)
{
	printf("\n== 1. cost per update: ns/update, median of %u runs (after a warm-up "
	       "run) of %" PRIu64 " updates over %" PRIu32 " keys; hashes precomputed ==\n",
	       o->reps, o->updates, o->universe);
	printf("%-26s %11s %12s %12s\n", "", "memory", t->stream_name[0], t->stream_name[1]);
	printf("%-26s %11s %12.2f %12.2f\n", "st_hash64, 13-byte key", "-",
	       t->hash_ns[0], t->hash_ns[1]);
	for (unsigned c = 0; c < N_CASES; c++) {
		printf("%-26s ", sketch_cases[c].name);
		print_memory(t->memory_bytes[c]);
		printf(" %12.2f %12.2f\n", t->ns[c][0], t->ns[c][1]);
	}
	for (unsigned col = 0; col < 2; col++)
		printf("figure: st_hash64 of a 13-byte key, %s: %.2f ns/key\n",
		       t->stream_name[col], t->hash_ns[col]);
	for (unsigned c = 0; c < N_CASES; c++)
		for (unsigned col = 0; col < 2; col++)
			printf("figure: %s update, %s, %" PRIu64 " updates: %.2f ns/update "
			       "(%.1f M updates/s, hash precomputed)\n",
			       sketch_cases[c].name, t->stream_name[col], o->updates,
			       t->ns[c][col], 1e3 / t->ns[c][col]);
}

/* --------------------------------------------------------- 2. merges */

/* Median ns per merge of a sketch of one half of the stream into a sketch
 * of the other half (merges per timed loop: o->merges). */
static int time_merges(const struct sketch_case *c, const struct input *in,
		       const struct opts *o, double *ns_per_merge)
{
	size_t half = in->s->n / 2;
	void *a = c->create(), *b = c->create(), *dst = NULL;
	double ns[MAX_REPS];
	int rc = -1;

	if (!a || !b) {
		fail("%s: create: %s", c->name, strerror(errno));
		goto out_destroy;
	}
	c->feed(a, in, 0, half);
	c->feed(b, in, half, in->s->n);
	for (unsigned r = 0; r < o->reps; r++) {
		int bad = 0;
		uint64_t t0;

		dst = c->create();
		if (!dst || c->merge(dst, a) != 0) {
			fail("%s: create or first merge failed", c->name);
			goto out_destroy;
		}
		t0 = now_ns();
		for (unsigned m = 0; m < o->merges; m++)
			bad |= c->merge(dst, b);
		ns[r] = (double)(now_ns() - t0) / o->merges;
		c->destroy(dst);
		dst = NULL;
		if (bad) {
			fail("%s: merge returned an error", c->name);
			goto out_destroy;
		}
	}
	*ns_per_merge = st_bench_median(ns, o->reps);
	rc = 0;
out_destroy:
	c->destroy(dst);
	c->destroy(b);
	c->destroy(a);
	return rc;
}

static int section_merges(const struct input *in, const struct opts *o)
{
	double ns[N_CASES];

	for (unsigned c = 0; c < N_CASES; c++)
		if (time_merges(&sketch_cases[c], in, o, &ns[c]) != 0)
			return -1;
	printf("\n== 2. merge: ns/merge, median of %u loops of %u merges; sketches of the "
	       "two halves of %s; SIMD level %s ==\n", o->reps, o->merges, in->s->name,
	       st_simd_level_name(st_cpu_simd_level()));
	for (unsigned c = 0; c < N_CASES; c++)
		printf("%-26s %12.1f\n", sketch_cases[c].name, ns[c]);
	for (unsigned c = 0; c < N_CASES; c++)
		printf("figure: %s merge (SIMD level %s): %.1f ns/merge\n",
		       sketch_cases[c].name, st_simd_level_name(st_cpu_simd_level()), ns[c]);
	return 0;
}

/*
 * HLL merge at the level this process was started with: sketches of the two
 * halves of the universe (every register set).  Prints one line per
 * precision that the parent parses: "hll_merge p=P level=L ns=X".
 */
static int hll_merge_child(const struct opts *o)
{
	static const unsigned precisions[] = { 12, 14 };
	struct universe u;
	int rc = -1;

	if (universe_init(&u, o->universe) != 0)
		goto out_universe;
	for (unsigned j = 0; j < ST_ARRAY_SIZE(precisions); j++) {
		struct st_hll *a = st_hll_create(precisions[j]);
		struct st_hll *b = st_hll_create(precisions[j]);
		double ns[MAX_REPS];
		int bad = 0;

		if (!a || !b) {
			st_hll_destroy(a);
			st_hll_destroy(b);
			fail("hll create: %s", strerror(errno));
			goto out_universe;
		}
		for (uint32_t i = 0; i < u.n_keys; i++)
			st_hll_update(i < u.n_keys / 2 ? a : b, u.key_hash[i]);
		for (unsigned r = 0; r < o->reps; r++) {
			uint64_t t0 = now_ns();

			for (unsigned m = 0; m < o->merges; m++)
				bad |= st_hll_merge(a, b);
			ns[r] = (double)(now_ns() - t0) / o->merges;
		}
		bench_sink += (uint64_t)st_hll_estimate(a);
		st_hll_destroy(a);
		st_hll_destroy(b);
		if (bad) {
			fail("hll merge returned an error");
			goto out_universe;
		}
		printf("hll_merge p=%u level=%s ns=%.2f\n", precisions[j],
		       st_simd_level_name(st_cpu_simd_level()), st_bench_median(ns, o->reps));
	}
	rc = 0;
out_universe:
	universe_free(&u);
	return rc;
}

/* environ without SHADOWTAP_SIMD, plus SHADOWTAP_SIMD=level.  NULL on ENOMEM. */
static char **env_with_level(const char *setting)
{
	size_t n = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "SHADOWTAP_SIMD=", 15) != 0)
			env[j++] = environ[i];
	env[j] = (char *)setting;
	return env;
}

/* Runs the HLL merge child at one level; ns[0] for p=12, ns[1] for p=14. */
static int hll_merge_at_level(const char *self, enum st_simd_level level,
			      const struct opts *o, double ns[2])
{
	char setting[32], universe[32], merges[32], reps[32], line[256];
	char *argv[] = { (char *)self, "--hll-merge-child", universe, merges, reps, NULL };
	posix_spawn_file_actions_t fa;
	int pipefd[2], status, got = 0, rc;
	char **env;
	pid_t pid;
	FILE *out;

	snprintf(setting, sizeof(setting), "SHADOWTAP_SIMD=%s", st_simd_level_name(level));
	snprintf(universe, sizeof(universe), "--universe=%" PRIu32, o->universe);
	snprintf(merges, sizeof(merges), "--merges=%u", o->merges);
	snprintf(reps, sizeof(reps), "--reps=%u", o->reps);
	printf("reproduce: %s %s %s %s %s %s\n", setting, self, argv[1], universe,
	       merges, reps);
	fflush(stdout);
	env = env_with_level(setting);
	if (!env || pipe(pipefd) != 0) {
		free(env);
		return fail("cannot start the HLL merge child: %s", strerror(errno));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	rc = posix_spawn(&pid, self, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		return fail("posix_spawn %s: %s", self, strerror(rc));
	}
	out = fdopen(pipefd[0], "r");
	while (out && fgets(line, sizeof(line), out)) {
		unsigned p;
		char lvl[16];
		double x;

		if (sscanf(line, "hll_merge p=%u level=%15s ns=%lf", &p, lvl, &x) != 3)
			continue;
		if (strcmp(lvl, st_simd_level_name(level)) != 0) {
			fclose(out);
			waitpid(pid, &status, 0);
			return fail("asked for SIMD level %s, the child ran at %s",
				    st_simd_level_name(level), lvl);
		}
		if (p == 12 || p == 14) {
			ns[p == 14] = x;
			got |= 1 << (p == 14);
		}
	}
	if (out)
		fclose(out);
	else
		close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return fail("the HLL merge child at level %s failed", st_simd_level_name(level));
	if (got != 3)
		return fail("the HLL merge child at level %s printed no figure",
			    st_simd_level_name(level));
	return 0;
}

static int section_hll_merge_levels(const char *self, const struct opts *o)
{
	double ns[3][2];
	bool have[3] = { false };

	for (int l = ST_SIMD_SCALAR; l <= ST_SIMD_AVX512; l++) {
		if (!st_cpu_has((enum st_simd_level)l))
			continue;
		if (hll_merge_at_level(self, (enum st_simd_level)l, o, ns[l]) != 0)
			return -1;
		have[l] = true;
	}
	printf("\n== 2b. HLL merge by SIMD level: ns/merge, median of %u loops of %u "
	       "merges; sketches of the two halves of the %" PRIu32 " keys ==\n",
	       o->reps, o->merges, o->universe);
	printf("%-10s %12s %12s\n", "level", "p=12", "p=14");
	for (int l = ST_SIMD_SCALAR; l <= ST_SIMD_AVX512; l++) {
		if (have[l])
			printf("%-10s %12.1f %12.1f\n", st_simd_level_name(l), ns[l][0], ns[l][1]);
		else
			printf("%-10s %12s %12s\n", st_simd_level_name(l), "(no CPU support)", "");
	}
	for (int l = ST_SIMD_SCALAR; l <= ST_SIMD_AVX512; l++)
		for (unsigned j = 0; have[l] && j < 2; j++)
			printf("figure: hll p=%u merge, SIMD level %s: %.1f ns/merge "
			       "(%.2fx scalar)\n", j ? 14 : 12, st_simd_level_name(l),
			       ns[l][j], ns[ST_SIMD_SCALAR][j] / ns[l][j]);
	return 0;
}

/* ------------------------------------- 3. heavy hitters vs rte_member */

/* One contender's result over the rounds. */
struct hh_result {
	char label[96];
	double ns[MAX_REPS];
	double recall[N_RECALL][MAX_REPS];
	size_t memory_bytes;
};

/* Ours: hash the key, then update.  Fills top[] with key indices. */
static int ours_round(struct st_hh *hh, const struct input *in, double *ns,
		      int64_t *top, size_t *n_top)
{
	struct st_hh_item items[OURS_K_MAX];
	uint64_t t0;
	size_t n;

	st_hh_reset(hh);
	t0 = now_ns();
	for (size_t i = 0; i < in->s->n; i++) {
		const uint8_t *k = stream_key(in->s, i);

		st_hh_update(hh, st_hash64(k, KEY_BYTES), k, KEY_BYTES, 1);
	}
	*ns = (double)(now_ns() - t0) / (double)in->s->n;
	n = st_hh_top(hh, items, OURS_K_MAX);
	if (n == 0)
		return fail("heavy hitters: empty top list after %zu updates", in->s->n);
	for (size_t i = 0; i < n; i++) {
		top[i] = universe_find(in->u, items[i].hash);
		if (top[i] < 0)
			return fail("heavy hitters: reported hash %016" PRIx64
				    " is no key of the stream", items[i].hash);
	}
	*n_top = n;
	return 0;
}

#ifdef BENCH_HAVE_DPDK

struct peer_setting {
	float error_rate;
	float sample_rate;
	uint32_t flags;
	const char *why;
};

static void peer_label(const struct peer_setting *ps, char *buf, size_t len)
{
	snprintf(buf, len, "rte_member error_rate=%.4g sample_rate=%.2g top_k=%u flags=%s",
		 ps->error_rate, ps->sample_rate, PEER_TOP_K,
		 ps->flags & RTE_MEMBER_SKETCH_ALWAYS_BOUNDED ? "ALWAYS_BOUNDED" : "0");
}

/* One rte_member round: create (seeded), time the adds, report, free. */
static int peer_round(const struct peer_setting *ps, const struct input *in,
		      double *ns, int64_t *top, size_t *n_top, size_t *memory_bytes)
{
	struct rte_member_parameters p;
	struct rte_member_setsum *ss;
	void *keys[PEER_TOP_K];
	uint64_t counts[PEER_TOP_K];
	int bad = 0, n, rc = -1;
	uint64_t t0;

	memset(&p, 0, sizeof(p));
	p.name = "shadowtap_bench_hh";
	p.type = RTE_MEMBER_TYPE_SKETCH;
	p.key_len = KEY_BYTES;
	p.prim_hash_seed = 1;  /* unused by the sketch; must differ */
	p.sec_hash_seed = 2;
	p.error_rate = ps->error_rate;
	p.sample_rate = ps->sample_rate;
	p.top_k = PEER_TOP_K;
	p.extra_flag = ps->flags;
	p.socket_id = (int)rte_socket_id();
	rte_srand(SEED_PEER);  /* same row seeds and sampling in every round */
	ss = rte_member_create(&p);
	if (!ss)
		return fail("rte_member_create: %s", rte_strerror(rte_errno));
	*memory_bytes = (size_t)ss->num_row * ss->num_col * sizeof(uint64_t);

	t0 = now_ns();
	for (size_t i = 0; i < in->s->n; i++)
		bad |= rte_member_add(ss, stream_key(in->s, i), 1);
	*ns = (double)(now_ns() - t0) / (double)in->s->n;
	if (bad) {
		fail("rte_member_add returned an error");
		goto out_free;
	}
	n = rte_member_report_heavyhitter(ss, keys, counts);
	if (n < 0 || n > PEER_TOP_K) {
		fail("rte_member_report_heavyhitter returned %d", n);
		goto out_free;
	}
	for (int i = 0; i < n; i++) {
		top[i] = universe_find(in->u, st_hash64(keys[i], KEY_BYTES));
		if (top[i] < 0 || memcmp(key_bytes(in->u, (uint32_t)top[i]), keys[i],
					 KEY_BYTES) != 0) {
			fail("rte_member reported a key that is not in the stream");
			goto out_free;
		}
	}
	*n_top = (size_t)n;
	rc = 0;
out_free:
	rte_member_free(ss);
	return rc;
}

static int eal_start(const char *prog)
{
	char *args[] = {
		(char *)prog, "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
		"-l", "0", "-m", "256", "--log-level=lib.eal:error",
		"--log-level=lib.member:warning", NULL,
	};
	int argc = (int)ST_ARRAY_SIZE(args) - 1;

	printf("eal:");
	for (int i = 1; i < argc; i++)
		printf(" %s", args[i]);
	printf("\n");
	fflush(stdout);
	if (rte_eal_init(argc, args) < 0)
		return fail("DPDK EAL init failed: %s", rte_strerror(rte_errno));
	return 0;
}

static void eal_stop(void)
{
	rte_eal_cleanup();
}

static const char *peer_version(void)
{
	return rte_version();
}
#endif /* BENCH_HAVE_DPDK */

/*
 * The heavy-hitter contenders: 0..N_OURS-1 ours (k = ours_k[c]), then one
 * per rte_member setting.
 */
#define MAX_CONTENDERS 10
struct hh_section {
	const struct input *in;
	struct st_hh *hh[N_OURS];
	unsigned n_contenders;
	struct hh_result res[MAX_CONTENDERS];
#ifdef BENCH_HAVE_DPDK
	struct peer_setting peer[MAX_CONTENDERS - N_OURS];
#endif
};

static int hh_contender_round(struct hh_section *hs, unsigned c, unsigned r)
{
	int64_t top[ST_MAX(OURS_K_MAX, PEER_TOP_K)];
	size_t n_top = 0;
	struct hh_result *res = &hs->res[c];
	int rc;

	if (c < N_OURS) {
		rc = ours_round(hs->hh[c], hs->in, &res->ns[r], top, &n_top);
		res->memory_bytes = st_hh_memory_bytes(hs->hh[c]);
	} else {
#ifdef BENCH_HAVE_DPDK
		rc = peer_round(&hs->peer[c - N_OURS], hs->in, &res->ns[r], top, &n_top,
				&res->memory_bytes);
#else
		rc = fail("no rte_member peer in this build");
#endif
	}
	if (rc != 0)
		return rc;
	for (unsigned j = 0; j < N_RECALL; j++) {
		unsigned dups;

		res->recall[j][r] = recall_of(hs->in->s, j, top, n_top, &dups);
		/* Our list must never repeat a key; the peer's shortcomings
		 * are its own and only lower its recall. */
		if (c < N_OURS && dups)
			return fail("heavy hitters: the top list repeats a key");
	}
	return 0;
}

#ifdef BENCH_HAVE_DPDK
/* The error_rate whose packet-mode table (PEER_ROWS rows of 4/error_rate
 * 8-byte counters at sample_rate 1) is at most `bytes`. */
static float peer_error_rate_for(size_t bytes)
{
	double cols = floor((double)bytes / (PEER_ROWS * sizeof(uint64_t)));

	return (float)(4.0 / ST_MAX(cols, 1.0));
}
#endif

/* Our sketches and the rte_member settings tried, in the legend's order. */
static int hh_section_init(struct hh_section *hs, const struct opts *o)
{
	for (unsigned c = 0; c < N_OURS; c++) {
		hs->hh[c] = st_hh_create(ours_k[c]);
		if (!hs->hh[c])
			return fail("st_hh_create(%u): %s", ours_k[c], strerror(errno));
		snprintf(hs->res[c].label, sizeof(hs->res[c].label),
			 "shadowtap SpaceSaving k=%u", ours_k[c]);
	}
	hs->n_contenders = N_OURS;
#ifdef BENCH_HAVE_DPDK
	if (!o->no_peer) {
		const struct peer_setting settings[] = {
			{ peer_error_rate_for(st_hh_memory_bytes(hs->hh[0])), 1.0f, 0,
			  "count-min table as large as our k=64 sketch, every update" },
			{ peer_error_rate_for(st_hh_memory_bytes(hs->hh[1])), 1.0f, 0,
			  "count-min table as large as our k=256 sketch, every update" },
			{ peer_error_rate_for(st_hh_memory_bytes(hs->hh[2])), 1.0f, 0,
			  "count-min table as large as our k=1024 sketch, every update" },
			{ 0.01f, 1.0f, 0, "count-min, every update" },
			{ 0.01f, 0.1f, 0, "NitroSketch sampling, 10% of rows" },
			{ 0.01f, 0.1f, RTE_MEMBER_SKETCH_ALWAYS_BOUNDED,
			  "sampling once converged" },
			{ 0.01f, 0.01f, 0, "NitroSketch sampling, 1% of rows" },
		};
		_Static_assert(ST_ARRAY_SIZE(settings) <= MAX_CONTENDERS - N_OURS,
			       "room for every setting");

		for (unsigned i = 0; i < ST_ARRAY_SIZE(settings); i++) {
			hs->peer[i] = settings[i];
			peer_label(&settings[i], hs->res[N_OURS + i].label,
				   sizeof(hs->res[N_OURS + i].label));
		}
		hs->n_contenders += ST_ARRAY_SIZE(settings);
	}
#else
	(void)o;
#endif
	return 0;
}

static void hh_section_free(struct hh_section *hs)
{
	for (unsigned c = 0; c < N_OURS; c++)
		st_hh_destroy(hs->hh[c]);
}

static const char *contender_why(const struct hh_section *hs, unsigned c)
{
	if (c < N_OURS)
		return c ? "more counters" : "the default";
#ifdef BENCH_HAVE_DPDK
	return hs->peer[c - N_OURS].why;
#else
	(void)hs;
	return "";
#endif
}

/* "ours k64", "ours k256", then "peer A", "peer B"... */
static const char *contender_name(unsigned c, char *buf, size_t len)
{
	if (c < N_OURS)
		snprintf(buf, len, "ours k%u", ours_k[c]);
	else
		snprintf(buf, len, "peer %c", (char)('A' + c - N_OURS));
	return buf;
}


/* Medians of one contender over the rounds. */
struct hh_summary {
	double ns;
	double recall[N_RECALL];
};

static void hh_summarise(const struct hh_result *res, unsigned rounds,
			 struct hh_summary *sum)
{
	sum->ns = st_bench_median(res->ns, rounds);
	for (unsigned j = 0; j < N_RECALL; j++)
		sum->recall[j] = st_bench_median(res->recall[j], rounds);
}

static bool recall_at_least(const struct hh_summary *a, const struct hh_summary *b)
{
	for (unsigned j = 0; j < N_RECALL; j++)
		if (a->recall[j] < b->recall[j])
			return false;
	return true;
}

static void hh_print_figures(const struct hh_section *hs, const struct hh_summary *sum)
{
	const struct stream *s = hs->in->s;

	for (unsigned o = 0; o < N_OURS; o++)
		for (unsigned c = N_OURS; c < hs->n_contenders; c++)
			printf("figure: heavy hitters, %s, %zu updates: shadowtap k=%u %.2f "
			       "ns/update (recall@10 %.2f, @32 %.2f, %zu B) vs %s %.2f "
			       "ns/update (recall@10 %.2f, @32 %.2f, table %zu B): speed "
			       "ours/rte_member %.2fx, recall ours >= rte_member: %s\n",
			       s->name, s->n, ours_k[o], sum[o].ns, sum[o].recall[0],
			       sum[o].recall[1], hs->res[o].memory_bytes, hs->res[c].label,
			       sum[c].ns, sum[c].recall[0], sum[c].recall[1],
			       hs->res[c].memory_bytes, sum[c].ns / sum[o].ns,
			       recall_at_least(&sum[o], &sum[c]) ? "yes" : "no");
}

/* Runs every contender over the rounds on one stream and prints its table. */
static int section_hh_stream(struct hh_section *hs, const struct opts *o,
			     struct hh_summary *sum)
{
	const struct stream *s = hs->in->s;
	unsigned n = hs->n_contenders;

	for (unsigned r = 0; r < o->rounds; r++)
		for (unsigned i = 0; i < n; i++)
			if (hh_contender_round(hs, r % 2 ? n - 1 - i : i, r) != 0)
				return -1;
	for (unsigned c = 0; c < n; c++)
		hh_summarise(&hs->res[c], o->rounds, &sum[c]);

	printf("\n-- %s: %zu updates, %u distinct keys; exact count of the 10th key %u, "
	       "of the 32nd %u%s\n", s->name, s->n, s->distinct, s->topk_min_count[0],
	       s->topk_min_count[1],
	       s->zipf_s > 0 ? "" : " (uniform: no heavy hitters, recall is chance)");
	printf("%-10s %11s %10s %9s %10s %10s", "", "memory", "ns/update", "M upd/s",
	       "recall@10", "recall@32");
	for (unsigned c = 0; c < N_OURS; c++)
		printf("  speed k%u/this", ours_k[c]);
	printf("\n");
	for (unsigned c = 0; c < n; c++) {
		char name[16];

		printf("%-10s ", contender_name(c, name, sizeof(name)));
		print_memory(hs->res[c].memory_bytes);
		printf(" %10.2f %9.2f %10.2f %10.2f", sum[c].ns, 1e3 / sum[c].ns,
		       sum[c].recall[0], sum[c].recall[1]);
		for (unsigned k = 0; c >= N_OURS && k < N_OURS; k++)
			printf(" %14.2fx", sum[c].ns / sum[k].ns);
		printf("\n");
	}
	hh_print_figures(hs, sum);
	return 0;
}

/* ----------------------------------------------------------- the run */

static const double stream_zipf_s[] = { 0.0, 0.8, 1.1, 1.5 };  /* 0: uniform */
#define N_STREAMS ST_ARRAY_SIZE(stream_zipf_s)

static int run_update_and_merge(struct input *in, struct stream *s,
				const struct opts *o, const char *self)
{
	static const double update_streams[] = { 0.0, 1.1 };
	struct update_table t;

	for (unsigned col = 0; col < 2; col++) {
		if (stream_generate(s, update_streams[col], in->u, in->paths) != 0)
			return -1;
		if (section_updates_one(&t, col, in, o) != 0)
			return -1;
		if (col == 1 && (section_updates_print(&t, o), section_merges(in, o)) != 0)
			return -1;
	}
	fflush(stdout);
	return section_hll_merge_levels(self, o);
}

/* For each of our configurations: speed and recall verdict against each peer. */
static void hh_print_summary(const struct hh_section *hs,
			     struct hh_summary sum[][MAX_CONTENDERS],
			     char names[][16])
{
	for (unsigned o = 0; o < N_OURS; o++) {
		printf("\n-- speed of ours k=%u / rte_member (updates/s ratio; > 1: ours "
		       "faster); recall: whether our recall@10 and @32 are both >= the "
		       "peer's\n%-9s", ours_k[o], "");
		for (unsigned i = 0; i < N_STREAMS; i++)
			printf(" %-18s", names[i]);
		printf("\n");
		for (unsigned c = N_OURS; c < hs->n_contenders; c++) {
			char name[16];

			printf("%-9s", contender_name(c, name, sizeof(name)));
			for (unsigned i = 0; i < N_STREAMS; i++)
				printf(" %8.2fx %-8s", sum[i][c].ns / sum[i][o].ns,
				       recall_at_least(&sum[i][o], &sum[i][c]) ? "recall>="
									       : "recall<");
			printf("\n");
		}
	}
}

static int run_heavy_hitters(struct input *in, struct stream *s, const struct opts *o)
{
	struct hh_summary sum[N_STREAMS][MAX_CONTENDERS];
	struct hh_section hs = { .in = in };
	char stream_names[N_STREAMS][16];
	int rc = -1;

	if (hh_section_init(&hs, o) != 0)
		goto out_free;
	printf("\n== 3. heavy hitters vs DPDK rte_member (sketch mode): medians of %u "
	       "alternating rounds ==\n", o->rounds);
	printf("keys: %d-byte flow keys; every contender hashes them (our times include "
	       "st_hash64);\nrecall@K: share of the true top-K keys in the contender's own "
	       "top K (ours: st_hh_top order)\n", KEY_BYTES);
	printf("memory: ours is the whole sketch (st_hh_memory_bytes); the peer's is "
	       "its count-min table alone\n(its top-k heap, key slots and heap index "
	       "come on top)\n");
	for (unsigned c = 0; c < hs.n_contenders; c++) {
		char name[16];

		printf("%-10s %s: %s\n", contender_name(c, name, sizeof(name)),
		       hs.res[c].label, contender_why(&hs, c));
	}
	for (unsigned i = 0; i < N_STREAMS; i++) {
		if (stream_generate(s, stream_zipf_s[i], in->u, in->paths) != 0)
			goto out_free;
		fflush(stdout);
		snprintf(stream_names[i], sizeof(stream_names[i]), "%s", s->name);
		if (section_hh_stream(&hs, o, sum[i]) != 0)
			goto out_free;
	}
	hh_print_summary(&hs, sum, stream_names);
	rc = 0;
out_free:
	hh_section_free(&hs);
	return rc;
}

static int run(const struct opts *o, const char *self)
{
	struct field_path paths[N_PATHS];
	struct universe u = { 0 };
	struct records rec = { 0 };
	struct stream s = { 0 };
	struct input in = { .u = &u, .s = &s, .rec = &rec, .paths = paths };
	int rc = -1;

	paths_init(paths);
	if (universe_init(&u, o->universe) != 0 || records_init(&rec, o->updates) != 0 ||
	    stream_alloc(&s, o->updates, o->universe) != 0)
		goto out_free;
	if (run_update_and_merge(&in, &s, o, self) != 0)
		goto out_free;
	if (run_heavy_hitters(&in, &s, o) != 0)
		goto out_free;
	rc = 0;
out_free:
	stream_free(&s);
	records_free(&rec);
	universe_free(&u);
	return rc;
}

/* ------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shadowtap-sketch-bench [--quick] [--updates=N] [--universe=N]\n"
		"           [--reps=N] [--rounds=N] [--merges=N] [--no-peer]\n"
		"  --quick       smoke run: 10^5 updates over 10^4 keys, 1 repetition,\n"
		"                1 round, 20 merges (explicit options still apply)\n"
		"  --updates=N   updates per stream (default 10^7)\n"
		"  --universe=N  distinct keys the streams draw from (default 10^6)\n"
		"  --reps=N      runs per update/merge figure, median kept (default 5)\n"
		"  --rounds=N    alternating rounds vs rte_member, median kept (default 5)\n"
		"  --merges=N    merges per timed merge loop (default 1000)\n"
		"  --no-peer     no DPDK: skip rte_member (figures are then ours only)\n"
		"Exits 0 when every measurement ran, 1 on any error, 2 on bad usage.\n");
}

static int parse_count(const char *arg, const char *what, uint64_t lo, uint64_t hi,
		       uint64_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);  /* accepts 1e7 as well as 10000000 */
	if (errno || end == arg || *end || v != floor(v) || v < (double)lo || v > (double)hi)
		return fail("--%s=%s: expected a whole number in %" PRIu64 "..%" PRIu64,
			    what, arg, lo, hi);
	*out = (uint64_t)v;
	return 0;
}

/* 0, 1 when --help was printed, or -1 on bad usage. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { OPT_UPDATES = 256, OPT_UNIVERSE, OPT_REPS, OPT_ROUNDS, OPT_MERGES,
	       OPT_NO_PEER, OPT_QUICK, OPT_CHILD };
	static const struct option longopts[] = {
		{ "updates", required_argument, NULL, OPT_UPDATES },
		{ "universe", required_argument, NULL, OPT_UNIVERSE },
		{ "reps", required_argument, NULL, OPT_REPS },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "merges", required_argument, NULL, OPT_MERGES },
		{ "no-peer", no_argument, NULL, OPT_NO_PEER },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "hll-merge-child", no_argument, NULL, OPT_CHILD },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t updates = 0, universe = 0, reps = 0, rounds = 0, merges = 0;
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	while (rc == 0 && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_UPDATES:
			rc = parse_count(optarg, "updates", 1000, 1000000000, &updates);
			break;
		case OPT_UNIVERSE:
			rc = parse_count(optarg, "universe", 1000, 100000000, &universe);
			break;
		case OPT_REPS:
			rc = parse_count(optarg, "reps", 1, MAX_REPS, &reps);
			break;
		case OPT_ROUNDS:
			rc = parse_count(optarg, "rounds", 1, MAX_REPS, &rounds);
			break;
		case OPT_MERGES:
			rc = parse_count(optarg, "merges", 1, 1000000, &merges);
			break;
		case OPT_NO_PEER:
			o->no_peer = true;
			break;
		case OPT_QUICK:
			o->quick = true;
			break;
		case OPT_CHILD:
			o->hll_merge_child = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (rc != 0 || optind != argc) {
		if (rc == 0)
			fail("unexpected argument %s", argv[optind]);
		return -1;
	}
	o->updates = updates ? updates : o->quick ? 100000 : 10000000;
	o->universe = (uint32_t)(universe ? universe : o->quick ? 10000 : 1000000);
	o->reps = (unsigned)(reps ? reps : o->quick ? 1 : 5);
	o->rounds = (unsigned)(rounds ? rounds : o->quick ? 1 : 5);
	o->merges = (unsigned)(merges ? merges : o->quick ? 20 : 1000);
	return 0;
}

static void print_header(int argc, char **argv, const char *self, const struct opts *o)
{
	printf("shadowtap-sketch-bench: %" PRIu64 " updates per stream over %" PRIu32
	       " keys; %u reps, %u rounds, %u merges per loop%s\n", o->updates,
	       o->universe, o->reps, o->rounds, o->merges, o->quick ? " (quick smoke run)" : "");
	st_bench_print_env(argc, argv, self, true);
#ifdef BENCH_HAVE_DPDK
	printf("peer: %s rte_member, sketch mode\n", peer_version());
#endif
}

static int pin_to_cpu0(void)
{
	int rc = st_bench_pin_cpu(0);

	return rc < 0 ? fail("cannot pin to CPU 0: %s", strerror(-rc)) : 0;
}

int main(int argc, char **argv)
{
	char self[4096];
	struct opts o;
	ssize_t len;
	int rc;

	rc = parse_opts(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? 0 : 2;  /* --help, or bad usage */
	if (o.hll_merge_child)
		return hll_merge_child(&o) == 0 ? 0 : 1;
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		fail("readlink /proc/self/exe: %s", strerror(errno));
		return 1;
	}
	self[len] = '\0';
	print_header(argc, argv, self, &o);
	if (pin_to_cpu0() != 0)
		return 1;
#ifdef BENCH_HAVE_DPDK
	if (!o.no_peer && eal_start(argv[0]) != 0)
		return 1;
#else
	if (!o.no_peer) {
		fail("built without libdpdk: no rte_member peer (run with --no-peer "
		     "for our figures alone)");
		return 1;
	}
#endif
	rc = run(&o, self);
#ifdef BENCH_HAVE_DPDK
	if (!o.no_peer)
		eal_stop();
#endif
	if (rc == 0)
		printf("\nall measurements ran (sink %" PRIu64 ")\n", (uint64_t)bench_sink);
	return rc == 0 ? 0 : 1;
}
