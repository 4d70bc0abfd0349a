/*
 * Schema set tests.  Every expected value comes from outside schema.c: a
 * brute-force model keyed by the path text (linear search, no hashing of its
 * own), a hand-written table, the fingerprint formula as schema.c documents
 * it (re-implemented here), and a blob builder written from the documented
 * byte layout.  st_hash64 (XXH3) is the given key function, not under test.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/schema.h"
#include "shadowtap/hash_id.h"
#include "shadowtap/sketch_blob.h"
#include "st_test.h"
#include "tools/lib/keygen.h"

#define TYPES_KNOWN 0x7fu
#define BLOB_HDR 40u     /* blob header + schema payload header */
#define ENTRY_FIXED 20u  /* entry bytes before the path text */
#define NAME_BYTES 200

/* ---- the fingerprint formula documented in schema.c ---- */

static uint64_t oracle_fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t oracle_term(uint64_t path_hash, uint8_t type_mask)
{
	return oracle_fmix64(path_hash ^
			     oracle_fmix64((uint64_t)type_mask * 0x9e3779b97f4a7c15ull));
}

/* ---- brute-force model: paths keyed by their text ---- */

struct model_entry {
	char path[NAME_BYTES];
	size_t len;
	uint64_t hash;
	uint64_t count;
	uint8_t mask;
};

struct model {
	struct model_entry *e;
	size_t n, cap;
	uint64_t overflow;
};

static struct model *model_new(size_t cap)
{
	struct model *m = calloc(1, sizeof(*m));

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	m->e = calloc(cap, sizeof(*m->e));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->e);
	m->cap = cap;
	return m;
}

static void model_free(struct model *m)
{
	if (m)
		free(m->e);
	free(m);
}

static struct model_entry *model_find(struct model *m, const char *path,
				      size_t len)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].len == len && memcmp(m->e[i].path, path, len) == 0)
			return &m->e[i];
	return NULL;
}

static void model_add(struct model *m, const char *path, size_t len,
		      uint8_t mask, uint64_t count)
{
	struct model_entry *e = model_find(m, path, len);

	if (e) {
		e->count += count;
		e->mask |= mask;
	} else if (m->n < m->cap) {
		e = &m->e[m->n++];
		memcpy(e->path, path, len);
		e->len = len;
		e->hash = st_hash64(path, len);
		e->count = count;
		e->mask = mask;
	} else {
		m->overflow += count;
	}
}

static void model_update(struct model *m, const char *path, size_t len,
			 uint8_t type)
{
	type &= TYPES_KNOWN;
	if (type)
		model_add(m, path, len, type, 1);
}

static int cmp_model_hash(const void *a, const void *b)
{
	const struct model_entry *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static uint64_t model_fingerprint(const struct model *m)
{
	uint64_t fp = 0;

	for (size_t i = 0; i < m->n; i++)
		fp += oracle_term(m->e[i].hash, m->e[i].mask);
	return fp;
}

static uint64_t model_total(const struct model *m)
{
	uint64_t total = m->overflow;

	for (size_t i = 0; i < m->n; i++)
		total += m->e[i].count;
	return total;
}

/* The set equals the model: entries, sorting, counts, masks, text, fingerprint. */
static void check_against_model(const struct st_schema *s, struct model *m)
{
	struct st_schema_entry *got = calloc(m->n + 1, sizeof(*got));
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	n = st_schema_entries(s, got, m->n + 1);
	CU_ASSERT_EQUAL(n, m->n);
	CU_ASSERT_EQUAL(st_schema_size(s), m->n);
	CU_ASSERT_EQUAL(st_schema_overflow(s), m->overflow);
	CU_ASSERT_EQUAL(st_schema_fingerprint(s), model_fingerprint(m));

	qsort(m->e, m->n, sizeof(*m->e), cmp_model_hash);
	for (size_t i = 0; i < n && i < m->n; i++) {
		const struct model_entry *want = &m->e[i];
		size_t text = want->len < ST_SCHEMA_PATH_MAX ? want->len
							     : ST_SCHEMA_PATH_MAX;
		const struct st_schema_entry *found = st_schema_find(s, want->hash);

		if (i > 0) {
			CU_ASSERT(got[i - 1].path_hash < got[i].path_hash);
		}
		CU_ASSERT_EQUAL(got[i].path_hash, want->hash);
		CU_ASSERT_EQUAL(got[i].count, want->count);
		CU_ASSERT_EQUAL(got[i].type_mask, want->mask);
		CU_ASSERT_EQUAL(got[i].path_len, text);
		CU_ASSERT_EQUAL(memcmp(got[i].path, want->path, text), 0);
		CU_ASSERT_EQUAL(got[i].path[text], '\0');
		CU_ASSERT_PTR_NOT_NULL(found);
		if (found) {
			CU_ASSERT_EQUAL(found->count, want->count);
			CU_ASSERT_EQUAL(found->type_mask, want->mask);
		}
	}
	free(got);
}

#define ASSERT_REJECTED(buf, len, reason)                                     \
	do {                                                                  \
		const char *why_ = NULL;                                      \
		struct st_schema *d_;                                         \
		CU_ASSERT_EQUAL(st_schema_validate(buf, len, &why_), -EINVAL); \
		CU_ASSERT_PTR_NOT_NULL_FATAL(why_);                           \
		CU_ASSERT_STRING_EQUAL(why_, reason);                         \
		errno = 0;                                                    \
		d_ = st_schema_deserialize(buf, len, NULL);                   \
		CU_ASSERT_PTR_NULL(d_);                                       \
		CU_ASSERT_EQUAL(errno, EINVAL);                               \
		st_schema_destroy(d_);                                        \
	} while (0)

/* ---- path names and streams ---- */

static const char *path_name(unsigned i)
{
	static char names[8192][24];

	CU_ASSERT_FATAL(i < sizeof(names) / sizeof(names[0]));
	snprintf(names[i], sizeof(names[i]), "/rec/field_%u", i);
	return names[i];
}

static void update_both(struct st_schema *s, struct model *m, const char *path,
			size_t len, uint8_t type)
{
	st_schema_update(s, st_hash64(path, len), path, len, type);
	model_update(m, path, len, type);
}

/* One JSON type bit; each path mostly keeps its own type. */
static uint8_t stream_type(struct st_rng *r, unsigned path)
{
	if (st_rng_next(r) % 8 == 0)
		return (uint8_t)(1u << (st_rng_next(r) % 7));
	return (uint8_t)(1u << (path % 7));
}

/* Feeds `updates` Zipf-distributed updates over paths first..first+n-1. */
static void feed_zipf(struct st_schema *s, struct model *m, struct st_rng *r,
		      unsigned first, unsigned n, unsigned updates)
{
	struct st_zipf z;

	CU_ASSERT_EQUAL_FATAL(st_zipf_init(&z, 1.1, n), 0);
	for (unsigned i = 0; i < updates; i++) {
		unsigned p = first + (unsigned)st_zipf_next(&z, r) - 1;
		const char *name = path_name(p);

		update_both(s, m, name, strlen(name), stream_type(r, p));
	}
}

/* Every path of first..first+n-1 once, in a random order. */
static void feed_each_once(struct st_schema *s, struct model *m,
			   struct st_rng *r, unsigned first, unsigned n)
{
	unsigned *perm = malloc(n * sizeof(*perm));

	CU_ASSERT_PTR_NOT_NULL_FATAL(perm);
	for (unsigned i = 0; i < n; i++)
		perm[i] = first + i;
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)(st_rng_next(r) % i), t = perm[i - 1];

		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *name = path_name(perm[i]);

		update_both(s, m, name, strlen(name), stream_type(r, perm[i]));
	}
	free(perm);
}

static void upd(struct st_schema *s, const char *path, uint8_t type)
{
	st_schema_update(s, st_hash64(path, strlen(path)), path, strlen(path),
			 type);
}

/* ---- 1. counts and masks ---- */

struct expect {
	const char *path;
	uint64_t count;
	uint8_t mask;
	uint64_t hash;
};

static int cmp_expect_hash(const void *a, const void *b)
{
	const struct expect *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static void test_known_sequence_counts_masks_sorted(void)
{
	static const struct { const char *path; uint8_t type; } events[] = {
		{ "/user/id", ST_JSON_NUMBER },   { "/user/name", ST_JSON_STRING },
		{ "/user/id", ST_JSON_NUMBER },   { "/tags", ST_JSON_ARRAY },
		{ "/user/id", ST_JSON_STRING },   { "/active", ST_JSON_TRUE },
		{ "/active", ST_JSON_FALSE },     { "/user/name", ST_JSON_NULL },
		{ "/active", ST_JSON_TRUE },      { "", ST_JSON_OBJECT },
		{ "/tags", ST_JSON_ARRAY | ST_JSON_NULL },
		{ "/user/id", 0x80 | ST_JSON_NUMBER }, /* unknown bit stripped */
		{ "/ghost", 0 },                  /* no known bit: ignored */
		{ "/user/id", 0x80 },             /* no known bit: ignored */
	};
	/* Written by hand from the events above. */
	struct expect want[] = {
		{ "/user/id", 4, ST_JSON_NUMBER | ST_JSON_STRING, 0 },
		{ "/user/name", 2, ST_JSON_STRING | ST_JSON_NULL, 0 },
		{ "/tags", 2, ST_JSON_ARRAY | ST_JSON_NULL, 0 },
		{ "/active", 3, ST_JSON_TRUE | ST_JSON_FALSE, 0 },
		{ "", 1, ST_JSON_OBJECT, 0 },
	};
	struct st_schema_entry got[8];
	struct st_schema *s = st_schema_create(ST_SCHEMA_ENTRIES_DEFAULT);
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		upd(s, events[i].path, events[i].type);
	for (size_t i = 0; i < 5; i++)
		want[i].hash = st_hash64(want[i].path, strlen(want[i].path));
	qsort(want, 5, sizeof(want[0]), cmp_expect_hash);

	n = st_schema_entries(s, got, 8);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_EQUAL(st_schema_size(s), 5);
	CU_ASSERT_EQUAL(st_schema_overflow(s), 0);
	for (size_t i = 0; i < 5 && i < n; i++) {
		CU_ASSERT_EQUAL(got[i].path_hash, want[i].hash);
		CU_ASSERT_EQUAL(got[i].count, want[i].count);
		CU_ASSERT_EQUAL(got[i].type_mask, want[i].mask);
		CU_ASSERT_EQUAL(got[i].path_len, strlen(want[i].path));
		CU_ASSERT_STRING_EQUAL(got[i].path, want[i].path);
	}
	CU_ASSERT_PTR_NULL(st_schema_find(s, st_hash64("/ghost", 6)));
	CU_ASSERT_PTR_NULL(st_schema_find(s, st_hash64("/user", 5)));

	/* A short listing holds the smallest hashes, in order. */
	memset(got, 0, sizeof(got));
	CU_ASSERT_EQUAL(st_schema_entries(s, got, 2), 2);
	CU_ASSERT_EQUAL(got[0].path_hash, want[0].hash);
	CU_ASSERT_EQUAL(got[1].path_hash, want[1].hash);
	CU_ASSERT_EQUAL(got[2].path_hash, 0);
	CU_ASSERT_EQUAL(st_schema_entries(s, got, 0), 0);

	st_schema_destroy(s);
}

static void test_random_stream_matches_model(void)
{
	struct st_rng r;
	struct st_schema *s = st_schema_create(ST_SCHEMA_ENTRIES_MAX);
	struct model *m = model_new(ST_SCHEMA_ENTRIES_MAX);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	st_rng_seed(&r, 1);
	feed_zipf(s, m, &r, 0, 500, 20000);
	CU_ASSERT_EQUAL(m->overflow, 0);
	check_against_model(s, m);
	printf("\n    random stream: %u paths, 20000 updates, exact\n",
	       st_schema_size(s));

	/* reset gives an empty set that then behaves like a new one */
	st_schema_reset(s);
	CU_ASSERT_EQUAL(st_schema_size(s), 0);
	CU_ASSERT_EQUAL(st_schema_overflow(s), 0);
	CU_ASSERT_EQUAL(st_schema_fingerprint(s), 0);
	CU_ASSERT_PTR_NULL(st_schema_find(s, m->e[0].hash));
	model_free(m);
	m = model_new(ST_SCHEMA_ENTRIES_MAX);
	feed_zipf(s, m, &r, 100, 300, 5000);
	check_against_model(s, m);

	model_free(m);
	st_schema_destroy(s);
}

/* ---- 2. fingerprint ---- */

#define FP_PAIRS 40

struct fp_event {
	unsigned path;
	uint8_t type;
};

/* Feeds every pair's mask bit by bit, each bit repeated 1..3 times, shuffled. */
static uint64_t fingerprint_of_shuffle(const uint8_t *masks, unsigned npairs,
				       struct st_rng *r)
{
	struct fp_event ev[FP_PAIRS * 7 * 3 + 1];
	struct st_schema *s = st_schema_create(ST_SCHEMA_ENTRIES_DEFAULT);
	size_t n = 0;
	uint64_t fp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (unsigned p = 0; p < npairs; p++)
		for (unsigned bit = 0; bit < 7; bit++)
			if (masks[p] & (1u << bit))
				for (uint64_t k = 1 + st_rng_next(r) % 3; k; k--)
					ev[n++] = (struct fp_event){ p, (uint8_t)(1u << bit) };
	for (size_t i = n; i > 1; i--) {
		size_t j = st_rng_next(r) % i;
		struct fp_event t = ev[i - 1];

		ev[i - 1] = ev[j];
		ev[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		if (masks[ev[i].path])
			upd(s, path_name(ev[i].path), ev[i].type);
	CU_ASSERT_EQUAL(st_schema_overflow(s), 0);
	fp = st_schema_fingerprint(s);
	st_schema_destroy(s);
	return fp;
}

static uint64_t oracle_fingerprint(const uint8_t *masks, unsigned npairs)
{
	uint64_t fp = 0;

	for (unsigned p = 0; p < npairs; p++)
		if (masks[p])
			fp += oracle_term(st_hash64(path_name(p),
						    strlen(path_name(p))), masks[p]);
	return fp;
}

static void test_fingerprint_order_independent(void)
{
	uint8_t masks[FP_PAIRS + 1] = { 0 };
	uint64_t fp, oracle;
	struct st_rng r;

	st_rng_seed(&r, 2);
	for (unsigned p = 0; p < FP_PAIRS; p++)
		masks[p] = (uint8_t)(1 + st_rng_next(&r) % TYPES_KNOWN);
	oracle = oracle_fingerprint(masks, FP_PAIRS);
	CU_ASSERT_NOT_EQUAL(oracle, 0);

	/* Same pairs, 100 orders and different counts: one value. */
	fp = fingerprint_of_shuffle(masks, FP_PAIRS, &r);
	CU_ASSERT_EQUAL(fp, oracle);
	for (int i = 0; i < 100; i++) {
		CU_ASSERT_EQUAL(fingerprint_of_shuffle(masks, FP_PAIRS, &r), fp);
	}

	/* A field added. */
	masks[FP_PAIRS] = ST_JSON_STRING;
	CU_ASSERT_NOT_EQUAL(fingerprint_of_shuffle(masks, FP_PAIRS + 1, &r), fp);
	CU_ASSERT_EQUAL(fingerprint_of_shuffle(masks, FP_PAIRS + 1, &r),
			oracle_fingerprint(masks, FP_PAIRS + 1));
	masks[FP_PAIRS] = 0;

	/* A field removed (pair 7 never fed). */
	masks[7] = 0;
	CU_ASSERT_NOT_EQUAL(fingerprint_of_shuffle(masks, FP_PAIRS, &r), fp);
	CU_ASSERT_EQUAL(fingerprint_of_shuffle(masks, FP_PAIRS, &r),
			oracle_fingerprint(masks, FP_PAIRS));
	masks[7] = 1 + (uint8_t)(st_rng_next(&r) % TYPES_KNOWN);
	oracle = oracle_fingerprint(masks, FP_PAIRS);

	/* A type changed: pair 3 gains a bit, then pair 3 swaps bits. */
	masks[3] = ST_JSON_NUMBER;
	fp = fingerprint_of_shuffle(masks, FP_PAIRS, &r);
	masks[3] = ST_JSON_NUMBER | ST_JSON_NULL;
	CU_ASSERT_NOT_EQUAL(fingerprint_of_shuffle(masks, FP_PAIRS, &r), fp);
	masks[3] = ST_JSON_STRING;
	CU_ASSERT_NOT_EQUAL(fingerprint_of_shuffle(masks, FP_PAIRS, &r), fp);
	CU_ASSERT_EQUAL(fingerprint_of_shuffle(masks, FP_PAIRS, &r),
			oracle_fingerprint(masks, FP_PAIRS));
}

static void test_fingerprint_ignores_counts(void)
{
	struct st_schema *once = st_schema_create(8);
	struct st_schema *many = st_schema_create(8);

	CU_ASSERT_PTR_NOT_NULL_FATAL(once);
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	CU_ASSERT_EQUAL(st_schema_fingerprint(once), 0);  /* empty sum */
	upd(once, "/a", ST_JSON_NUMBER | ST_JSON_STRING);
	upd(once, "/b", ST_JSON_ARRAY);
	for (int i = 0; i < 1000; i++) {
		upd(many, "/b", ST_JSON_ARRAY);
		upd(many, "/a", i % 2 ? ST_JSON_NUMBER : ST_JSON_STRING);
	}
	CU_ASSERT_EQUAL(st_schema_fingerprint(once), st_schema_fingerprint(many));
	CU_ASSERT_EQUAL(st_schema_fingerprint(once),
			oracle_term(st_hash64("/a", 2), ST_JSON_NUMBER | ST_JSON_STRING) +
			oracle_term(st_hash64("/b", 2), ST_JSON_ARRAY));
	st_schema_destroy(once);
	st_schema_destroy(many);
}

/* ---- 3. overflow ---- */

static void test_overflow_counts_lost_updates(void)
{
	struct st_rng r;
	struct st_schema *s = st_schema_create(ST_SCHEMA_ENTRIES_DEFAULT);
	struct model *m = model_new(ST_SCHEMA_ENTRIES_DEFAULT);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	st_rng_seed(&r, 3);
	feed_each_once(s, m, &r, 0, 200);
	feed_zipf(s, m, &r, 0, 200, 5000);

	CU_ASSERT_EQUAL(st_schema_size(s), 64);
	CU_ASSERT_EQUAL(m->n, 64);
	CU_ASSERT(m->overflow >= 200 - 64);
	CU_ASSERT_EQUAL(model_total(m), 5200);
	check_against_model(s, m);
	printf("\n    200 paths into 64 entries: overflow %llu of 5200 updates "
	       "(model %llu)\n", (unsigned long long)st_schema_overflow(s),
	       (unsigned long long)m->overflow);

	/* A full set still counts known paths and loses only new ones. */
	update_both(s, m, m->e[0].path, m->e[0].len, ST_JSON_OBJECT);
	update_both(s, m, "/brand/new", 10, ST_JSON_OBJECT);
	check_against_model(s, m);

	model_free(m);
	st_schema_destroy(s);
}

/* ---- 4. merge ---- */

static void check_sets_equal(const struct st_schema *a, const struct st_schema *b)
{
	static struct st_schema_entry ea[ST_SCHEMA_ENTRIES_MAX];
	static struct st_schema_entry eb[ST_SCHEMA_ENTRIES_MAX];
	size_t na = st_schema_entries(a, ea, ST_SCHEMA_ENTRIES_MAX);
	size_t nb = st_schema_entries(b, eb, ST_SCHEMA_ENTRIES_MAX);

	CU_ASSERT_EQUAL(na, nb);
	CU_ASSERT_EQUAL(st_schema_overflow(a), st_schema_overflow(b));
	CU_ASSERT_EQUAL(st_schema_fingerprint(a), st_schema_fingerprint(b));
	for (size_t i = 0; i < na && i < nb; i++) {
		CU_ASSERT_EQUAL(ea[i].path_hash, eb[i].path_hash);
		CU_ASSERT_EQUAL(ea[i].count, eb[i].count);
		CU_ASSERT_EQUAL(ea[i].type_mask, eb[i].type_mask);
		CU_ASSERT_EQUAL(ea[i].path_len, eb[i].path_len);
		CU_ASSERT_STRING_EQUAL(ea[i].path, eb[i].path);
	}
}

static void test_merge_is_union(void)
{
	struct st_schema *a = st_schema_create(100);
	struct st_schema *b = st_schema_create(ST_SCHEMA_ENTRIES_DEFAULT);
	struct st_schema *whole = st_schema_create(128);
	struct model *ma = model_new(100), *mb = model_new(64);
	struct model *mwhole = model_new(128);
	struct st_rng ra, rb;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
	/* The same random streams fed to the parts and, concatenated, to whole. */
	st_rng_seed(&ra, 41);
	st_rng_seed(&rb, 42);
	feed_zipf(a, ma, &ra, 0, 50, 3000);
	feed_zipf(b, mb, &rb, 30, 50, 3000);
	st_rng_seed(&ra, 41);
	st_rng_seed(&rb, 42);
	feed_zipf(whole, mwhole, &ra, 0, 50, 3000);
	feed_zipf(whole, mwhole, &rb, 30, 50, 3000);
	CU_ASSERT_EQUAL(mwhole->overflow, 0);

	CU_ASSERT_EQUAL(st_schema_merge(a, b), 0);
	check_sets_equal(a, whole);
	check_against_model(a, mwhole);

	/* merging an empty set changes nothing */
	st_schema_reset(b);
	CU_ASSERT_EQUAL(st_schema_merge(a, b), 0);
	check_sets_equal(a, whole);

	/* a set merged with itself: same entries, counts doubled */
	for (size_t i = 0; i < mwhole->n; i++)
		mwhole->e[i].count *= 2;
	CU_ASSERT_EQUAL(st_schema_merge(a, a), 0);
	check_against_model(a, mwhole);

	model_free(ma);
	model_free(mb);
	model_free(mwhole);
	st_schema_destroy(a);
	st_schema_destroy(b);
	st_schema_destroy(whole);
}

static void test_merge_with_overflow(void)
{
	struct st_rng r;
	struct st_schema *dst = st_schema_create(ST_SCHEMA_ENTRIES_DEFAULT);
	struct st_schema *src = st_schema_create(40);
	struct model *mdst = model_new(64), *msrc = model_new(40);
	uint64_t total;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dst);
	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	st_rng_seed(&r, 5);
	feed_each_once(dst, mdst, &r, 0, 50);
	feed_zipf(dst, mdst, &r, 0, 50, 1000);
	feed_each_once(src, msrc, &r, 30, 60);     /* 60 paths, 40 kept */
	feed_zipf(src, msrc, &r, 30, 60, 1000);
	CU_ASSERT(msrc->overflow > 0);
	total = model_total(mdst) + model_total(msrc);

	/*
	 * Oracle, per schema.c's merge rule: src's entries in path-hash order;
	 * a known path adds up, a new one is admitted while dst has room, else
	 * its count is overflow; src's overflow is added.
	 */
	qsort(msrc->e, msrc->n, sizeof(*msrc->e), cmp_model_hash);
	for (size_t i = 0; i < msrc->n; i++)
		model_add(mdst, msrc->e[i].path, msrc->e[i].len, msrc->e[i].mask,
			  msrc->e[i].count);
	mdst->overflow += msrc->overflow;

	CU_ASSERT_EQUAL(st_schema_merge(dst, src), 0);
	CU_ASSERT_EQUAL(st_schema_size(dst), 64);
	CU_ASSERT_EQUAL(model_total(mdst), total);
	check_against_model(dst, mdst);
	printf("\n    merge into a full set: overflow %llu (src's own %llu), "
	       "%llu updates conserved\n",
	       (unsigned long long)st_schema_overflow(dst),
	       (unsigned long long)msrc->overflow, (unsigned long long)total);

	model_free(mdst);
	model_free(msrc);
	st_schema_destroy(dst);
	st_schema_destroy(src);
}

/* ---- 5. long paths ---- */

static void test_long_paths_truncated_keyed_by_full_hash(void)
{
	char long_a[150], long_b[150], exact[ST_SCHEMA_PATH_MAX];
	struct st_schema *s = st_schema_create(8);
	const struct st_schema_entry *ea, *eb, *ex;
	struct st_schema_entry all[8];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(long_a, 'a', sizeof(long_a));
	long_a[0] = '/';
	memcpy(long_b, long_a, sizeof(long_b));
	long_b[100] = 'b';                 /* same first 64 bytes */
	memcpy(exact, long_a, sizeof(exact));

	st_schema_update(s, st_hash64(long_a, 150), long_a, 150, ST_JSON_STRING);
	st_schema_update(s, st_hash64(long_b, 150), long_b, 150, ST_JSON_NUMBER);
	st_schema_update(s, st_hash64(long_a, 150), long_a, 150, ST_JSON_STRING);
	st_schema_update(s, st_hash64(exact, 64), exact, 64, ST_JSON_NULL);

	CU_ASSERT_EQUAL(st_schema_size(s), 3);
	ea = st_schema_find(s, st_hash64(long_a, 150));
	eb = st_schema_find(s, st_hash64(long_b, 150));
	ex = st_schema_find(s, st_hash64(exact, 64));
	CU_ASSERT_PTR_NOT_NULL_FATAL(ea);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
	CU_ASSERT(ea != eb && ea != ex && eb != ex);
	CU_ASSERT_EQUAL(ea->count, 2);
	CU_ASSERT_EQUAL(ea->type_mask, ST_JSON_STRING);
	CU_ASSERT_EQUAL(eb->count, 1);
	CU_ASSERT_EQUAL(eb->type_mask, ST_JSON_NUMBER);
	CU_ASSERT_EQUAL(ex->type_mask, ST_JSON_NULL);
	CU_ASSERT_EQUAL(ea->path_len, ST_SCHEMA_PATH_MAX);
	CU_ASSERT_EQUAL(eb->path_len, ST_SCHEMA_PATH_MAX);
	CU_ASSERT_EQUAL(ex->path_len, ST_SCHEMA_PATH_MAX);
	CU_ASSERT_EQUAL(memcmp(ea->path, long_a, ST_SCHEMA_PATH_MAX), 0);
	CU_ASSERT_EQUAL(memcmp(eb->path, long_b, ST_SCHEMA_PATH_MAX), 0);
	CU_ASSERT_EQUAL(ea->path[ST_SCHEMA_PATH_MAX], '\0');
	CU_ASSERT_EQUAL(ea->path_hash, st_hash64(long_a, 150));
	CU_ASSERT_NOT_EQUAL(ea->path_hash, st_hash64(ea->path, ea->path_len));
	CU_ASSERT_EQUAL(ex->path_hash, st_hash64(ex->path, ex->path_len));
	CU_ASSERT_EQUAL(st_schema_entries(s, all, 8), 3);

	/*
	 * Serialized, the truncated flag (byte 18 of an entry) is set exactly
	 * for the two long paths, all three texts are 64 bytes, and a copy
	 * keeps the keys.  Flipping the flag either way is rejected.
	 */
	{
		uint8_t blob[512], bad[512];
		struct st_schema *d;
		ssize_t len = st_schema_serialize(s, blob, sizeof(blob));
		size_t off = BLOB_HDR;

		CU_ASSERT_EQUAL_FATAL(len, (ssize_t)(BLOB_HDR + 3 * (ENTRY_FIXED + 64)));
		CU_ASSERT_EQUAL(st_schema_validate(blob, (size_t)len, NULL), 0);
		for (int i = 0; i < 3; i++, off += ENTRY_FIXED + 64) {
			bool is_exact = all[i].path_hash == st_hash64(exact, 64);

			CU_ASSERT_EQUAL(blob[off + 17], 64);
			CU_ASSERT_EQUAL(blob[off + 18], is_exact ? 0 : 1);
			memcpy(bad, blob, (size_t)len);
			bad[off + 18] ^= 1;
			ASSERT_REJECTED(bad, (size_t)len, is_exact ?
					"schema entry marked truncated but its path is whole" :
					"schema entry path hash does not match its path");
		}
		d = st_schema_deserialize(blob, (size_t)len, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		check_sets_equal(s, d);
		CU_ASSERT_PTR_NOT_NULL(st_schema_find(d, st_hash64(long_b, 150)));
		st_schema_destroy(d);
	}
	st_schema_destroy(s);
}

/* ---- 6. serialized form ---- */

/* A blob entry as the documented layout describes it. */
struct raw_entry {
	uint64_t hash, count;
	uint8_t mask, path_len, flags, reserved;
	const char *path;
};

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t raw_fingerprint(const struct raw_entry *e, size_t n)
{
	uint64_t fp = 0;

	for (size_t i = 0; i < n; i++)
		fp += oracle_term(e[i].hash, e[i].mask);
	return fp;
}

/* Writes a blob by hand; returns its length. */
static size_t build_blob(uint8_t *buf, uint32_t max, uint32_t used,
			 uint64_t overflow, uint64_t fp,
			 const struct raw_entry *e, size_t n)
{
	size_t len = BLOB_HDR;

	for (size_t i = 0; i < n; i++) {
		uint8_t *p = buf + len;

		put64(p, e[i].hash);
		put64(p + 8, e[i].count);
		p[16] = e[i].mask;
		p[17] = e[i].path_len;
		p[18] = e[i].flags;
		p[19] = e[i].reserved;
		memcpy(p + ENTRY_FIXED, e[i].path, e[i].path_len);
		len += ENTRY_FIXED + e[i].path_len;
	}
	buf[0] = ST_SKETCH_SCHEMA;
	buf[1] = 1;
	buf[2] = ST_HASH_ID;
	buf[3] = 0;
	put32(buf + 4, (uint32_t)len);
	put64(buf + 8, ST_HASH_SEED);
	put32(buf + 16, max);
	put32(buf + 20, used);
	put64(buf + 24, overflow);
	put64(buf + 32, fp);
	return len;
}

static int cmp_raw_hash(const void *a, const void *b)
{
	const struct raw_entry *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* Four valid entries sorted by hash: three short paths and a truncated one. */
static void raw_sample(struct raw_entry e[4], const char *long_path)
{
	static const char *short_paths[] = { "/id", "/user/name", "/ts" };
	static const uint8_t masks[] = { ST_JSON_NUMBER, ST_JSON_STRING | ST_JSON_NULL,
					 ST_JSON_NUMBER };

	for (int i = 0; i < 3; i++)
		e[i] = (struct raw_entry){
			.hash = st_hash64(short_paths[i], strlen(short_paths[i])),
			.count = 10u + (unsigned)i, .mask = masks[i],
			.path_len = (uint8_t)strlen(short_paths[i]),
			.path = short_paths[i],
		};
	e[3] = (struct raw_entry){
		.hash = st_hash64(long_path, strlen(long_path)), .count = 7,
		.mask = ST_JSON_ARRAY, .path_len = ST_SCHEMA_PATH_MAX,
		.flags = 1, .path = long_path,
	};
	qsort(e, 4, sizeof(e[0]), cmp_raw_hash);
}

static const char sample_long_path[] =
	"/very/deeply/nested/record/with/a/rather/long/field/name/that/goes/on";

static void test_serialize_matches_documented_layout(void)
{
	struct raw_entry e[4];
	uint8_t want[1024], got[1024];
	size_t want_len;
	struct st_schema *s = st_schema_create(4);
	ssize_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(strlen(sample_long_path) > ST_SCHEMA_PATH_MAX);
	raw_sample(e, sample_long_path);
	for (int i = 0; i < 4; i++) {
		const char *path = e[i].flags ? sample_long_path : e[i].path;

		for (uint64_t k = 0; k < e[i].count; k++)
			st_schema_update(s, e[i].hash, path, strlen(path), e[i].mask);
	}
	for (int i = 0; i < 3; i++)     /* the set is full: overflow 3 */
		upd(s, "/lost", ST_JSON_NUMBER);
	want_len = build_blob(want, 4, 4, 3, raw_fingerprint(e, 4), e, 4);
	CU_ASSERT_EQUAL(st_schema_validate(want, want_len, NULL), 0);

	len = st_schema_serialize(s, got, sizeof(got));
	CU_ASSERT_EQUAL(len, (ssize_t)want_len);
	CU_ASSERT_EQUAL(st_schema_serialized_size(s), want_len);
	CU_ASSERT_EQUAL(memcmp(got, want, want_len), 0);
	CU_ASSERT_EQUAL(st_schema_serialize(s, got, want_len - 1), -ENOSPC);
	st_schema_destroy(s);
}

static void test_serialize_roundtrip(void)
{
	static uint8_t blob[BLOB_HDR + ST_SCHEMA_ENTRIES_MAX * (ENTRY_FIXED + 64)];
	static uint8_t again[sizeof(blob)];
	static const unsigned caps[] = { 1, 64, ST_SCHEMA_ENTRIES_MAX };
	struct st_rng r;

	st_rng_seed(&r, 6);
	for (size_t c = 0; c < 3; c++) {
		struct st_schema *s = st_schema_create(caps[c]), *d;
		struct model *m = model_new(caps[c]);
		const char *why = NULL;
		ssize_t len, len2;

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		feed_zipf(s, m, &r, 0, 100, 3000);
		update_both(s, m, sample_long_path, strlen(sample_long_path),
			    ST_JSON_OBJECT);
		len = st_schema_serialize(s, blob, sizeof(blob));
		CU_ASSERT_FATAL(len > 0);
		CU_ASSERT_EQUAL((size_t)len, st_schema_serialized_size(s));
		CU_ASSERT_EQUAL(st_schema_validate(blob, (size_t)len, &why), 0);
		d = st_schema_deserialize(blob, (size_t)len, &why);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		check_sets_equal(s, d);
		check_against_model(d, m);
		len2 = st_schema_serialize(d, again, sizeof(again));
		CU_ASSERT_EQUAL(len2, len);
		CU_ASSERT_EQUAL(memcmp(blob, again, (size_t)len), 0);

		printf("\n    cap %u: %u entries, blob %zd bytes, memory %zu bytes",
		       caps[c], st_schema_size(s), len, st_schema_memory_bytes(s));
		/* the copy keeps working like the original, capacity included */
		for (unsigned i = 0; i < caps[c] + 5; i++) {
			const char *name = path_name(1000 + i);

			upd(s, name, ST_JSON_TRUE);
			upd(d, name, ST_JSON_TRUE);
		}
		check_sets_equal(s, d);
		model_free(m);
		st_schema_destroy(d);
		st_schema_destroy(s);
	}
	printf("\n");
}


static void test_validate_rejects_malformed(void)
{
	struct raw_entry good[4], e[5];
	uint8_t base[1024], b[1024];
	size_t base_len, len;
	char long65[ST_SCHEMA_PATH_MAX + 1];

	raw_sample(good, sample_long_path);
	base_len = build_blob(base, 8, 4, 3, raw_fingerprint(good, 4), good, 4);
	CU_ASSERT_EQUAL(st_schema_validate(base, base_len, NULL), 0);

#define FRESH() (memcpy(b, base, base_len), memcpy(e, good, sizeof(good)))
	/* short */
	FRESH();
	ASSERT_REJECTED(b, 0, "blob shorter than its header");
	ASSERT_REJECTED(b, 15, "blob shorter than its header");
	put32(b + 4, 39);
	ASSERT_REJECTED(b, 39, "blob shorter than the schema header");

	/* header: kind, version, hash id, seed, reserved, length */
	FRESH();
	b[0] = ST_SKETCH_HLL;
	ASSERT_REJECTED(b, base_len, "blob of another sketch kind");
	FRESH();
	b[1] = 2;
	ASSERT_REJECTED(b, base_len, "unsupported blob version");
	FRESH();
	b[2] = 0;
	ASSERT_REJECTED(b, base_len, "blob built with another hash or seed");
	FRESH();
	b[8] ^= 1;
	ASSERT_REJECTED(b, base_len, "blob built with another hash or seed");
	FRESH();
	b[3] = 1;
	ASSERT_REJECTED(b, base_len, "blob reserved byte not zero");
	FRESH();
	ASSERT_REJECTED(b, base_len - 1, "blob length does not match its container");

	/* payload header */
	FRESH();
	put32(b + 16, 0);
	ASSERT_REJECTED(b, base_len, "schema max_entries out of range");
	FRESH();
	put32(b + 16, ST_SCHEMA_ENTRIES_MAX + 1);
	ASSERT_REJECTED(b, base_len, "schema max_entries out of range");
	FRESH();
	put32(b + 16, 3);   /* used 4 > max 3 */
	ASSERT_REJECTED(b, base_len, "schema uses more entries than its maximum");

	/* entry order */
	FRESH();
	e[0] = good[1];
	e[1] = good[0];
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
	ASSERT_REJECTED(b, len, "schema entries not sorted by path hash");
	FRESH();
	e[1] = good[0];
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
	ASSERT_REJECTED(b, len, "schema entries repeat a path hash");

	/* entry fields */
	FRESH();
	e[2].mask |= 0x80;
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
	ASSERT_REJECTED(b, len, "schema entry with unknown type bits");
	FRESH();
	e[2].mask = 0;
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
	ASSERT_REJECTED(b, len, "schema entry with an empty type mask");
	FRESH();
	e[1].count = 0;
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
	ASSERT_REJECTED(b, len, "schema entry with a zero count");
	FRESH();
	memset(long65, 'x', sizeof(long65));
	e[0].path = long65;
	e[0].path_len = ST_SCHEMA_PATH_MAX + 1;
	e[0].hash = st_hash64(long65, sizeof(long65));
	qsort(e, 4, sizeof(e[0]), cmp_raw_hash);
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
	ASSERT_REJECTED(b, len, "schema entry path longer than the maximum");
	FRESH();
	e[3].reserved = 1;
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
	ASSERT_REJECTED(b, len, "schema entry reserved byte not zero");
	FRESH();
	e[0].flags |= 0x02;
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
	ASSERT_REJECTED(b, len, "schema entry with unknown flag bits");

	/* path text against the hash */
	for (int i = 0; i < 4; i++) {
		FRESH();
		if (good[i].flags) {
			e[i].flags = 0;  /* a truncated path claimed whole */
			len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
			ASSERT_REJECTED(b, len,
					"schema entry path hash does not match its path");
		} else {
			e[i].flags = 1;  /* a short path claimed truncated */
			len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
			ASSERT_REJECTED(b, len,
					"schema entry truncated but path shorter than the maximum");
			FRESH();
			e[i].path_len--;  /* text no longer the hashed path */
			len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4), e, 4);
			ASSERT_REJECTED(b, len,
					"schema entry path hash does not match its path");
		}
	}

	/* fingerprint */
	FRESH();
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 4) + 1, e, 4);
	ASSERT_REJECTED(b, len, "schema fingerprint does not match its entries");
	FRESH();
	len = build_blob(b, 8, 4, 0, raw_fingerprint(e, 3), e, 4);
	ASSERT_REJECTED(b, len, "schema fingerprint does not match its entries");

	/* length against the entries */
	FRESH();
	len = build_blob(b, 8, 3, 0, raw_fingerprint(e, 3), e, 4);  /* one extra */
	ASSERT_REJECTED(b, len, "bytes after the last schema entry");
	FRESH();
	len = build_blob(b, 8, 5, 0, raw_fingerprint(e, 4), e, 4);  /* one missing */
	ASSERT_REJECTED(b, len, "schema entry runs past the end of the blob");
	FRESH();
	put32(b + 4, (uint32_t)(base_len - 2));  /* cut inside the last path */
	ASSERT_REJECTED(b, base_len - 2, "schema entry runs past the end of the blob");
	FRESH();
	b[base_len] = 0;
	put32(b + 4, (uint32_t)(base_len + 1));  /* a trailing byte */
	ASSERT_REJECTED(b, base_len + 1, "bytes after the last schema entry");
#undef FRESH
}

/* Random corruption: never a crash; whatever is accepted is canonical. */
static void test_validate_random_corruption(void)
{
	uint8_t base[2048], b[2048], again[2048];
	struct st_schema *s = st_schema_create(16);
	unsigned accepted = 0;
	struct st_rng r;
	ssize_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (unsigned i = 0; i < 12; i++)
		upd(s, path_name(i), (uint8_t)(1u << (i % 7)));
	upd(s, sample_long_path, ST_JSON_OBJECT);
	len = st_schema_serialize(s, base, sizeof(base));
	CU_ASSERT_FATAL(len > 0);
	st_rng_seed(&r, 7);
	for (int t = 0; t < 5000; t++) {
		size_t n = (size_t)len;
		struct st_schema *d;

		memcpy(b, base, n);
		for (int k = 1 + (int)(st_rng_next(&r) % 3); k; k--)
			b[st_rng_next(&r) % n] ^= (uint8_t)(1u << (st_rng_next(&r) % 8));
		if (st_rng_next(&r) % 8 == 0)
			n = st_rng_next(&r) % n;
		d = st_schema_deserialize(b, n, NULL);
		if (!d) {
			continue;
		}
		accepted++;
		CU_ASSERT_EQUAL(st_schema_serialize(d, again, sizeof(again)), (ssize_t)n);
		CU_ASSERT_EQUAL(memcmp(again, b, n), 0);
		st_schema_destroy(d);
	}
	printf("\n    5000 corrupted blobs: %u accepted (all canonical)\n", accepted);
	st_schema_destroy(s);
}

/* Counts and overflow from a hostile blob saturate instead of wrapping to 0. */
static void test_counts_saturate(void)
{
	struct raw_entry e = {
		.hash = st_hash64("/x", 2), .count = UINT64_MAX - 1,
		.mask = ST_JSON_NUMBER, .path_len = 2, .path = "/x",
	};
	uint8_t blob[128];
	size_t len = build_blob(blob, 1, 1, UINT64_MAX - 1,
				raw_fingerprint(&e, 1), &e, 1);
	struct st_schema *s = st_schema_deserialize(blob, len, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int i = 0; i < 3; i++) {
		upd(s, "/x", ST_JSON_NUMBER);
		upd(s, "/y", ST_JSON_NUMBER);   /* set full: overflow */
	}
	CU_ASSERT_EQUAL(st_schema_find(s, e.hash)->count, UINT64_MAX);
	CU_ASSERT_EQUAL(st_schema_overflow(s), UINT64_MAX);
	CU_ASSERT_EQUAL(st_schema_merge(s, s), 0);
	CU_ASSERT_EQUAL(st_schema_find(s, e.hash)->count, UINT64_MAX);
	CU_ASSERT_EQUAL(st_schema_overflow(s), UINT64_MAX);
	CU_ASSERT_EQUAL(st_schema_serialize(s, blob, sizeof(blob)), (ssize_t)len);
	CU_ASSERT_EQUAL(st_schema_validate(blob, len, NULL), 0);
	st_schema_destroy(s);
}

/* ---- 7. create limits ---- */

static void test_create_limits(void)
{
	struct st_schema *s;

	errno = 0;
	CU_ASSERT_PTR_NULL(st_schema_create(0));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_schema_create(ST_SCHEMA_ENTRIES_MAX + 1));
	CU_ASSERT_EQUAL(errno, EINVAL);
	st_schema_destroy(NULL);

	s = st_schema_create(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	upd(s, "/a", ST_JSON_NULL);
	upd(s, "/b", ST_JSON_NULL);
	upd(s, "/a", ST_JSON_NULL);
	CU_ASSERT_EQUAL(st_schema_size(s), 1);
	CU_ASSERT_EQUAL(st_schema_overflow(s), 1);
	CU_ASSERT_EQUAL(st_schema_find(s, st_hash64("/a", 2))->count, 2);
	st_schema_destroy(s);

	s = st_schema_create(ST_SCHEMA_ENTRIES_MAX);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (unsigned i = 0; i < ST_SCHEMA_ENTRIES_MAX + 10; i++)
		upd(s, path_name(i), ST_JSON_STRING);
	CU_ASSERT_EQUAL(st_schema_size(s), ST_SCHEMA_ENTRIES_MAX);
	CU_ASSERT_EQUAL(st_schema_overflow(s), 10);
	st_schema_destroy(s);

	s = st_schema_create(ST_SCHEMA_ENTRIES_DEFAULT);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(st_schema_memory_bytes(s) >=
		  ST_SCHEMA_ENTRIES_DEFAULT * sizeof(struct st_schema_entry));
	CU_ASSERT(st_schema_memory_bytes(s) <= 64 * 1024);
	printf("\n    default set: %zu bytes\n", st_schema_memory_bytes(s));
	st_schema_destroy(s);
}

ST_TEST_MAIN("dataplane/sketch/schema",
	     ST_TEST(test_known_sequence_counts_masks_sorted),
	     ST_TEST(test_random_stream_matches_model),
	     ST_TEST(test_fingerprint_order_independent),
	     ST_TEST(test_fingerprint_ignores_counts),
	     ST_TEST(test_overflow_counts_lost_updates),
	     ST_TEST(test_merge_is_union),
	     ST_TEST(test_merge_with_overflow),
	     ST_TEST(test_long_paths_truncated_keyed_by_full_hash),
	     ST_TEST(test_serialize_matches_documented_layout),
	     ST_TEST(test_serialize_roundtrip),
	     ST_TEST(test_validate_rejects_malformed),
	     ST_TEST(test_validate_random_corruption),
	     ST_TEST(test_counts_saturate),
	     ST_TEST(test_create_limits))
