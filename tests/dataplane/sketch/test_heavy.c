/*
 * Heavy hitters (SpaceSaving).  Oracles, all computed here: exact per-key
 * counts of Zipf streams (keys are the Zipf rank as 8 little-endian bytes,
 * hash = st_hash64 of them), a textbook SpaceSaving written out below, skew
 * figures from the exact count array, tail sums by direct summation, the
 * published bounds.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dataplane/sketch/heavy.c"
#include "dataplane/sketch/hash.h"
#include "st_test.h"
#include "tools/lib/keygen.h"

#define K 64

/* ---- Streams and their exact counts ---- */

struct universe {
	uint64_t n;            /* keys are ranks 1..n */
	uint64_t *hash;        /* [n + 1] hash of each rank */
	uint64_t *by_hash;     /* [n] (hash, rank) sorted by hash: hash, rank, ... */
};

static uint64_t rank_hash(uint64_t rank)
{
	uint8_t key[8];

	st_put_le64(key, rank);
	return st_hash64(key, sizeof(key));
}

static int cmp_pair(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void universe_init(struct universe *u, uint64_t n)
{
	u->n = n;
	u->hash = malloc((n + 1) * sizeof(uint64_t));
	u->by_hash = malloc(2 * n * sizeof(uint64_t));
	CU_ASSERT_FATAL(u->hash && u->by_hash);
	for (uint64_t r = 1; r <= n; r++) {
		u->hash[r] = rank_hash(r);
		u->by_hash[2 * (r - 1)] = u->hash[r];
		u->by_hash[2 * (r - 1) + 1] = r;
	}
	qsort(u->by_hash, n, 2 * sizeof(uint64_t), cmp_pair);
	for (uint64_t i = 1; i < n; i++)  /* the oracle needs distinct hashes */
		CU_ASSERT_FATAL(u->by_hash[2 * i] != u->by_hash[2 * (i - 1)]);
}

static void universe_free(struct universe *u)
{
	free(u->hash);
	free(u->by_hash);
}

/* The rank whose hash is h, or 0. */
static uint64_t universe_rank(const struct universe *u, uint64_t h)
{
	size_t lo = 0, hi = u->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (u->by_hash[2 * mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < u->n && u->by_hash[2 * lo] == h ? u->by_hash[2 * lo + 1] : 0;
}

static void update_rank(struct st_hh *hh, const struct universe *u, uint64_t rank)
{
	uint8_t key[8];

	st_put_le64(key, rank);
	st_hh_update(hh, u->hash[rank], key, sizeof(key), 1);
}

enum split { SPLIT_ROUND_ROBIN, SPLIT_BY_KEY };

/*
 * Feeds n Zipf(s) draws to sketches[0..parts): draw i goes to part i % parts
 * (SPLIT_ROUND_ROBIN) or to part hash % parts (SPLIT_BY_KEY, how RSS spreads
 * flows over cores).  exact[rank] counts every draw.
 */
static void feed_zipf(struct st_hh **sketches, unsigned parts, enum split split,
		      const struct universe *u, double s, uint64_t n,
		      uint64_t seed, uint64_t *exact)
{
	struct st_zipf z;
	struct st_rng rng;

	CU_ASSERT_EQUAL_FATAL(st_zipf_init(&z, s, u->n), 0);
	st_rng_seed(&rng, seed);
	memset(exact, 0, (u->n + 1) * sizeof(uint64_t));
	for (uint64_t i = 0; i < n; i++) {
		uint64_t rank = st_zipf_next(&z, &rng);
		unsigned part = split == SPLIT_BY_KEY ? u->hash[rank] % parts : i % parts;

		exact[rank]++;
		update_rank(sketches[part], u, rank);
	}
}

/* ---- Bounds ---- */

struct bound_stats {
	uint64_t max_error;
	unsigned reported;
	unsigned heavy;        /* keys with true count > N/k */
};

/*
 * Everything SpaceSaving promises for a stream of total n summarised by hh
 * (merged or not): heavy keys reported, true count within [count - error,
 * count], error <= m <= N/k, untracked keys <= m, counts summing to <= N.
 */
static void check_bounds(const struct st_hh *hh, const struct universe *u,
			 const uint64_t *exact, uint64_t n, bool merged,
			 struct bound_stats *st)
{
	unsigned k = st_hh_capacity(hh);
	struct st_hh_item *items = calloc(k, sizeof(*items));
	bool *reported = calloc(u->n + 1, sizeof(bool));
	uint64_t bound = st_hh_error_bound(hh), sum = 0;
	size_t got;

	CU_ASSERT_FATAL(items && reported);
	memset(st, 0, sizeof(*st));
	CU_ASSERT_EQUAL(st_hh_total(hh), n);
	CU_ASSERT(bound <= n / k);
	got = st_hh_top(hh, items, k);
	CU_ASSERT(got <= k);
	for (size_t i = 0; i < got; i++) {
		uint64_t rank = universe_rank(u, items[i].hash);

		CU_ASSERT_FATAL(rank != 0);
		reported[rank] = true;
		CU_ASSERT(items[i].error <= items[i].count);
		CU_ASSERT(items[i].count - items[i].error <= exact[rank]);
		CU_ASSERT(exact[rank] <= items[i].count);
		CU_ASSERT(items[i].error <= bound);
		CU_ASSERT(items[i].error * k <= n);
		if (i > 0) {
			CU_ASSERT(items[i].count <= items[i - 1].count);
		}
		st->max_error = ST_MAX(st->max_error, items[i].error);
		sum += items[i].count;
	}
	CU_ASSERT(sum <= n);
	if (!merged) {
		CU_ASSERT_EQUAL(sum, n);
	}
	for (uint64_t r = 1; r <= u->n; r++) {
		if (exact[r] * k > n) {
			st->heavy++;
			CU_ASSERT(reported[r]);
		}
		CU_ASSERT(st_hh_lower_bound(hh, u->hash[r]) <= exact[r]);
		CU_ASSERT(exact[r] <= st_hh_upper_bound(hh, u->hash[r]));
		if (!reported[r]) {
			CU_ASSERT(exact[r] <= bound);
		}
	}
	st->reported = (unsigned)got;
	free(reported);
	free(items);
}

static void test_bounds_single_stream(void)
{
	static const double skews[] = { 0.8, 1.1, 1.5 };
	static const unsigned ks[] = { K, 1024 };
	const uint64_t n = 1000000;
	struct universe u;
	uint64_t *exact;

	universe_init(&u, 100000);
	exact = malloc((u.n + 1) * sizeof(uint64_t));
	CU_ASSERT_FATAL(exact != NULL);
	printf("\n  bounds, one stream, N = %llu, universe %llu\n",
	       (unsigned long long)n, (unsigned long long)u.n);
	for (size_t ki = 0; ki < ST_ARRAY_SIZE(ks); ki++) {
		for (size_t i = 0; i < ST_ARRAY_SIZE(skews); i++) {
			struct st_hh *hh = st_hh_create(ks[ki]);
			struct bound_stats st;

			CU_ASSERT_FATAL(hh != NULL);
			feed_zipf(&hh, 1, SPLIT_ROUND_ROBIN, &u, skews[i], n, 11 + i, exact);
			check_bounds(hh, &u, exact, n, false, &st);
			printf("    k=%4u s=%.1f: %2u keys > N/k all reported; max error %llu <= m %llu <= N/k %llu\n",
			       ks[ki], skews[i], st.heavy, (unsigned long long)st.max_error,
			       (unsigned long long)st_hh_error_bound(hh),
			       (unsigned long long)(n / ks[ki]));
			st_hh_destroy(hh);
		}
	}
	free(exact);
	universe_free(&u);
}

/* Merges parts sketches of disjoint sub-streams and checks the merged bound. */
static void check_merged(const struct universe *u, uint64_t *exact, double s,
			 unsigned k, unsigned parts, enum split split, bool tree)
{
	const uint64_t n = 1000000;
	struct st_hh *sk[4];
	struct bound_stats st;

	for (unsigned p = 0; p < parts; p++) {
		sk[p] = st_hh_create(k);
		CU_ASSERT_FATAL(sk[p] != NULL);
	}
	feed_zipf(sk, parts, split, u, s, n, 100 + parts, exact);
	if (tree) {  /* (0 + 1) + (2 + 3) */
		CU_ASSERT_EQUAL(st_hh_merge(sk[0], sk[1]), 0);
		CU_ASSERT_EQUAL(st_hh_merge(sk[2], sk[3]), 0);
		CU_ASSERT_EQUAL(st_hh_merge(sk[0], sk[2]), 0);
	} else {
		for (unsigned p = 1; p < parts; p++)
			CU_ASSERT_EQUAL(st_hh_merge(sk[0], sk[p]), 0);
	}
	check_bounds(sk[0], u, exact, n, true, &st);
	printf("    k=%4u s=%.1f %u parts %-11s %-5s: %2u keys > N/k all reported; max error %llu <= (N1+..)/k %llu\n",
	       k, s, parts, split == SPLIT_BY_KEY ? "by key" : "round robin",
	       tree ? "tree" : "chain", st.heavy, (unsigned long long)st.max_error,
	       (unsigned long long)(n / k));
	for (unsigned p = 0; p < parts; p++)
		st_hh_destroy(sk[p]);
}

static void test_bounds_after_merge(void)
{
	static const double skews[] = { 0.8, 1.1, 1.5 };
	struct universe u;
	uint64_t *exact;

	universe_init(&u, 100000);
	exact = malloc((u.n + 1) * sizeof(uint64_t));
	CU_ASSERT_FATAL(exact != NULL);
	printf("\n  bounds after merging sketches of disjoint sub-streams, N = 10^6\n");
	for (size_t i = 0; i < ST_ARRAY_SIZE(skews); i++) {
		check_merged(&u, exact, skews[i], K, 2, SPLIT_ROUND_ROBIN, false);
		check_merged(&u, exact, skews[i], K, 2, SPLIT_BY_KEY, false);
		check_merged(&u, exact, skews[i], K, 4, SPLIT_ROUND_ROBIN, false);
		check_merged(&u, exact, skews[i], K, 4, SPLIT_BY_KEY, true);
	}
	check_merged(&u, exact, 1.1, 1024, 4, SPLIT_BY_KEY, false);
	check_merged(&u, exact, 0.8, 1024, 2, SPLIT_ROUND_ROBIN, false);
	free(exact);
	universe_free(&u);
}

/* Two sketches with room for every key merge into exact counts. */
static void test_merge_within_capacity_is_exact(void)
{
	struct st_hh *a = st_hh_create(K), *b = st_hh_create(K);
	struct st_hh_item items[K];
	uint64_t exact[41] = { 0 }, total_a = 0;
	size_t got;

	CU_ASSERT_FATAL(a && b);
	for (uint64_t i = 0; i < 400; i++) {
		uint64_t ka = 1 + i % 30, kb = 11 + i % 30;  /* 40 keys, 20 shared */

		st_hh_update(a, rank_hash(ka), NULL, 0, 1 + i % 3);
		st_hh_update(b, rank_hash(kb), NULL, 0, 2);
		exact[ka] += 1 + i % 3;
		exact[kb] += 2;
		total_a += 1 + i % 3;
	}
	CU_ASSERT_EQUAL(st_hh_merge(a, b), 0);
	got = st_hh_top(a, items, K);
	CU_ASSERT_EQUAL(got, 40);
	for (uint64_t r = 1; r <= 40; r++) {
		CU_ASSERT_EQUAL(st_hh_estimate(a, rank_hash(r)), exact[r]);
		CU_ASSERT_EQUAL(st_hh_lower_bound(a, rank_hash(r)), exact[r]);
	}
	CU_ASSERT_EQUAL(st_hh_error_bound(a), 0);
	CU_ASSERT_EQUAL(st_hh_total(a), total_a + 400 * 2);
	st_hh_destroy(a);
	st_hh_destroy(b);
}

/*
 * The construction by hand, k = 4.  A: x 100 times (free counters).  B: x 10
 * times, then y1, y2, y3 50 times each, then y4 50 times: y4 evicts x (10),
 * so B holds y1..y3 at 50 and y4 at 60 with error 10, and m_B = 50.  Merged,
 * x borrows m_B: count 100 + 50, error 0 + 50 (true 110); the y keys borrow
 * m_A = 0.  The four largest: x 150, y4 60, then y1..y3 by hash.
 */
static void test_merge_borrows_the_minimum(void)
{
	struct st_hh *a = st_hh_create(4), *b = st_hh_create(4);
	uint64_t x = rank_hash(1), y[4];
	uint64_t exact_x = 110;

	CU_ASSERT_FATAL(a && b);
	st_hh_update(a, x, NULL, 0, 100);
	for (int i = 0; i < 10; i++)
		st_hh_update(b, x, NULL, 0, 1);
	for (int j = 0; j < 4; j++) {
		y[j] = rank_hash(2 + j);
		for (int i = 0; i < 50; i++)
			st_hh_update(b, y[j], NULL, 0, 1);
	}
	CU_ASSERT_EQUAL(st_hh_estimate(b, y[3]), 60);
	CU_ASSERT_EQUAL(st_hh_lower_bound(b, y[3]), 50);
	CU_ASSERT_EQUAL(st_hh_estimate(b, x), 0);
	CU_ASSERT_EQUAL(st_hh_error_bound(b), 50);
	CU_ASSERT_EQUAL(st_hh_merge(a, b), 0);
	CU_ASSERT_EQUAL(st_hh_total(a), 100 + 10 + 200);
	CU_ASSERT_EQUAL(st_hh_estimate(a, x), 150);
	CU_ASSERT_EQUAL(st_hh_lower_bound(a, x), 100);
	CU_ASSERT(st_hh_lower_bound(a, x) <= exact_x && exact_x <= st_hh_upper_bound(a, x));
	CU_ASSERT_EQUAL(st_hh_estimate(a, y[3]), 60);
	CU_ASSERT_EQUAL(st_hh_lower_bound(a, y[3]), 50);
	CU_ASSERT_EQUAL(st_hh_error_bound(a), 50);
	for (int j = 0; j < 3; j++)  /* kept or not, 50 is within the bounds */
		CU_ASSERT(st_hh_lower_bound(a, y[j]) <= 50 && 50 <= st_hh_upper_bound(a, y[j]));
	st_hh_destroy(a);
	st_hh_destroy(b);
}

static void test_merge_rejects(void)
{
	struct st_hh *a = st_hh_create(K), *b = st_hh_create(K + 1);

	CU_ASSERT_FATAL(a && b);
	CU_ASSERT_EQUAL(st_hh_merge(a, b), -EINVAL);
	CU_ASSERT_EQUAL(st_hh_merge(a, a), -EINVAL);
	st_hh_update(a, 1, NULL, 0, UINT64_MAX - 1);
	st_hh_destroy(b);
	b = st_hh_create(K);
	CU_ASSERT_FATAL(b != NULL);
	st_hh_update(b, 2, NULL, 0, 2);
	CU_ASSERT_EQUAL(st_hh_merge(a, b), -EOVERFLOW);
	CU_ASSERT_EQUAL(st_hh_total(a), UINT64_MAX - 1);
	st_hh_destroy(a);
	st_hh_destroy(b);
}

/* ---- Skew figures ---- */

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y) - (x > y);
}

/* The figures from the exact counts; Gini from the ascending-order formula. */
static double exact_skew(const uint64_t *exact, uint64_t universe, uint64_t n,
			 unsigned k, struct st_skew *out)
{
	uint64_t *c = malloc(universe * sizeof(uint64_t));
	uint64_t d = 0;
	double h = 0, topk = 0, weighted = 0;

	CU_ASSERT_FATAL(c != NULL);
	memcpy(c, exact + 1, universe * sizeof(uint64_t));
	qsort(c, universe, sizeof(uint64_t), cmp_u64_desc);
	while (d < universe && c[d])
		d++;
	for (uint64_t i = 0; i < d; i++) {
		double p = (double)c[i] / (double)n;

		h -= p * log(p);
		if (i < k)
			topk += p;
		/* ascending position of c[i] is d - i */
		weighted += (2.0 * (double)(d - i) - (double)d - 1) * (double)c[i];
	}
	out->top1_share = (double)c[0] / (double)n;
	out->topk_share = topk;
	out->entropy_norm = d > 1 ? h / log((double)d) : 0;
	out->gini = weighted / ((double)d * (double)n);
	free(c);
	return (double)d;
}

static double rel(double est, double exact)
{
	return est / exact - 1;
}

struct skew_case {
	uint64_t universe;
	double s;
};

/*
 * Whether the sketch can resolve the top key at all: SpaceSaving's guarantee
 * covers keys above N/k only.  Below it (Zipf 0.8 over 10^6 keys: the top
 * key holds 1.3% < 1/64) the top-1 and top-k figures are documented as
 * upper estimates; the test then checks that and prints the miss.
 */
static bool top_resolvable(const struct st_skew *exact, unsigned k)
{
	return exact->top1_share * k > 1;
}

static void test_skew_against_exact(void)
{
	static const struct skew_case cases[] = {
		{ 100000, 0.8 }, { 100000, 1.1 }, { 100000, 1.5 },
		{ 1000000, 0.8 }, { 1000000, 1.1 }, { 1000000, 1.5 },
	};
	static const double d_factor[] = { 1.0, 0.98, 1.02 };
	const uint64_t n = 10000000;

	printf("\n  skew figures, k = %u, N = 10^7 (relative error of the estimate)\n", K);
	printf("    %-22s %-6s %17s %17s %17s %17s\n", "stream", "D", "top1", "topk",
	       "entropy/ln D", "gini");
	for (size_t c = 0; c < ST_ARRAY_SIZE(cases); c++) {
		struct universe u;
		uint64_t *exact;
		struct st_hh *hh = st_hh_create(K);
		struct st_skew ex;
		double d;

		universe_init(&u, cases[c].universe);
		exact = malloc((u.n + 1) * sizeof(uint64_t));
		CU_ASSERT_FATAL(exact && hh);
		feed_zipf(&hh, 1, SPLIT_ROUND_ROBIN, &u, cases[c].s, n, 7 + c, exact);
		d = exact_skew(exact, u.n, n, K, &ex);
		printf("    U=%-7llu s=%.1f exact  %-6.0f %17.5f %17.5f %17.5f %17.5f\n",
		       (unsigned long long)u.n, cases[c].s, d, ex.top1_share,
		       ex.topk_share, ex.entropy_norm, ex.gini);
		for (size_t f = 0; f < ST_ARRAY_SIZE(d_factor); f++) {
			struct st_skew est;

			CU_ASSERT_EQUAL_FATAL(st_hh_skew(hh, d * d_factor[f], &est), 0);
			printf("    %20s D*%.2f %8.5f %+7.2f%% %8.5f %+7.2f%% %8.5f %+7.2f%% %8.5f %+7.2f%%\n",
			       "", d_factor[f],
			       est.top1_share, 100 * rel(est.top1_share, ex.top1_share),
			       est.topk_share, 100 * rel(est.topk_share, ex.topk_share),
			       est.entropy_norm, 100 * rel(est.entropy_norm, ex.entropy_norm),
			       est.gini, 100 * rel(est.gini, ex.gini));
			CU_ASSERT(fabs(rel(est.entropy_norm, ex.entropy_norm)) <= 0.05);
			CU_ASSERT(fabs(rel(est.gini, ex.gini)) <= 0.05);
			if (top_resolvable(&ex, K)) {
				CU_ASSERT(fabs(rel(est.top1_share, ex.top1_share)) <= 0.05);
				CU_ASSERT(fabs(rel(est.topk_share, ex.topk_share)) <= 0.05);
			} else {
				CU_ASSERT(est.top1_share >= ex.top1_share);
				CU_ASSERT(est.topk_share >= ex.topk_share);
			}
		}
		st_hh_destroy(hh);
		free(exact);
		universe_free(&u);
	}
}

/* A sketch with a free counter knows every key: its figures are exact. */
static void test_skew_exact_below_capacity(void)
{
	struct st_hh *hh = st_hh_create(K);
	uint64_t exact[51] = { 0 }, n = 0;
	struct st_skew est, ex;

	CU_ASSERT_FATAL(hh != NULL);
	for (uint64_t r = 1; r <= 50; r++) {
		exact[r] = 1 + 1000 / (r * r);
		n += exact[r];
		st_hh_update(hh, rank_hash(r), NULL, 0, exact[r]);
	}
	exact_skew(exact, 50, n, K, &ex);
	CU_ASSERT_EQUAL(st_hh_skew(hh, 1e6, &est), 0);  /* D is not needed */
	CU_ASSERT_DOUBLE_EQUAL(est.top1_share, ex.top1_share, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(est.topk_share, ex.topk_share, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(est.entropy_norm, ex.entropy_norm, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(est.gini, ex.gini, 1e-12);
	CU_ASSERT_EQUAL(st_hh_skew(hh, NAN, &est), -EINVAL);
	CU_ASSERT_EQUAL(st_hh_skew(hh, -1, &est), -EINVAL);
	CU_ASSERT_EQUAL(st_hh_skew(hh, INFINITY, &est), -EINVAL);
	st_hh_reset(hh);
	CU_ASSERT_EQUAL(st_hh_skew(hh, 10, &est), -ENODATA);
	st_hh_destroy(hh);
}

/* The tail sums behind the model against direct summation. */
static void test_tail_sums(void)
{
	static const double ts[] = { -1, -0.2, 0, 0.5, 0.999999, 1, 1.1, 1.5, 2, 3.5, 20 };
	static const double ranges[][3] = {  /* a, b, x0 */
		{ 1, 10, 1 }, { 2, 1000, 1 }, { 65, 300000, 64 }, { 8, 123457, 7 },
		{ 1, 200000, 1 },
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(ts); i++) {
		for (size_t j = 0; j < ST_ARRAY_SIZE(ranges); j++) {
			double a = ranges[j][0], b = ranges[j][1], x0 = ranges[j][2];
			double plain = 0, logged = 0;

			for (double r = b; r >= a; r--) {  /* small terms first */
				double term = pow(r / x0, -ts[i]);

				plain += term;
				logged += term * log(r / x0);
			}
			CU_ASSERT(fabs(pow_sum(ts[i], false, a, b, x0) / plain - 1) < 1e-9);
			if (logged > 0) {
				CU_ASSERT(fabs(pow_sum(ts[i], true, a, b, x0) / logged - 1) < 1e-9);
			}
		}
	}
}

/* ---- SIMD kernels against the scalar reference ---- */

static void check_find(const struct st_hh_kernels *kern, struct st_rng *rng,
		       uint64_t *hash, unsigned n)
{
	unsigned padded = (unsigned)round_up(n, ST_HH_SIMD_PAD);
	uint64_t probe[4];

	for (unsigned i = 0; i < padded; i++)
		hash[i] = st_rng_next(rng) % 512;  /* duplicates on purpose */
	probe[0] = hash[n ? st_rng_next(rng) % n : 0];
	probe[1] = 1000;                           /* absent */
	probe[2] = 2000;                           /* only past n */
	probe[3] = n ? hash[n - 1] : 3000;
	for (unsigned i = n; i < padded; i++)
		hash[i] = 3000;
	if (padded > n)
		hash[padded - 1] = 2000;
	for (size_t p = 0; p < ST_ARRAY_SIZE(probe); p++)
		CU_ASSERT_EQUAL(kern->find(hash, n, probe[p]),
				st_hh_find_scalar(hash, n, probe[p]));
}

static void check_min_slots(const struct st_hh_kernels *kern, struct st_rng *rng,
			    uint64_t *count, unsigned n)
{
	uint64_t want[ST_HH_MIN_WORDS(ST_HH_K_MAX)], got[ST_HH_MIN_WORDS(ST_HH_K_MAX)];
	uint64_t want_near[ST_HH_MIN_WORDS(ST_HH_K_MAX)], got_near[ST_HH_MIN_WORDS(ST_HH_K_MAX)];
	unsigned padded = (unsigned)round_up(n, ST_HH_SIMD_PAD), words = ST_HH_MIN_WORDS(n);
	uint64_t base = st_rng_next(rng) >> (st_rng_next(rng) % 64);
	uint64_t want_min, got_min, want_n = 0;

	for (unsigned i = 0; i < n; i++)  /* few distinct values: many ties */
		count[i] = base + st_rng_next(rng) % 4;
	if (st_rng_next(rng) % 4 == 0)  /* the unsigned top half */
		for (unsigned i = 0; i < n; i++)
			count[i] |= 1ull << 63;
	for (unsigned i = n; i < padded; i++)  /* must be ignored: */
		count[i] = i % 2 ? 0 : count[n - 1];  /* below everything, or tied */
	memset(got, 0xa5, sizeof(got));
	memset(got_near, 0x5a, sizeof(got_near));
	st_hh_min_slots_scalar(count, n, want, want_near, &want_min);
	kern->min_slots(count, n, got, got_near, &got_min);
	CU_ASSERT_EQUAL(got_min, want_min);
	CU_ASSERT(memcmp(got, want, words * sizeof(uint64_t)) == 0);
	CU_ASSERT(memcmp(got_near, want_near, words * sizeof(uint64_t)) == 0);
	/* The scalar reference against the definition. */
	for (unsigned i = 0; i < n; i++) {
		bool in = want[i / 64] >> (i % 64) & 1;
		bool near = want_near[i / 64] >> (i % 64) & 1;

		CU_ASSERT(count[i] >= want_min);
		CU_ASSERT_EQUAL(in, count[i] == want_min);
		CU_ASSERT_EQUAL(near, count[i] - want_min <= 1);
		want_n += in;
	}
	CU_ASSERT(want_n >= 1);
	if (n % 64) {
		CU_ASSERT_EQUAL(want[words - 1] >> (n % 64), 0);
		CU_ASSERT_EQUAL(want_near[words - 1] >> (n % 64), 0);
	}
}

static void test_kernels_match_scalar(void)
{
	static const enum st_simd_level levels[] = { ST_SIMD_AVX2, ST_SIMD_AVX512 };
	uint64_t *a = aligned_alloc(64, (ST_HH_K_MAX + ST_HH_SIMD_PAD) * sizeof(uint64_t));
	struct st_rng rng;

	CU_ASSERT_FATAL(a != NULL);
	st_rng_seed(&rng, 5);
	for (size_t l = 0; l < ST_ARRAY_SIZE(levels); l++) {
		const struct st_hh_kernels *kern = st_hh_kernels_for(levels[l]);

		if (!st_cpu_has(levels[l])) {
			printf("\n  %s not on this CPU: its kernels are not compared\n",
			       st_simd_level_name(levels[l]));
			continue;
		}
		for (unsigned n = 0; n <= 300; n++) {
			check_find(kern, &rng, a, n);
			if (n)
				check_min_slots(kern, &rng, a, n);
		}
		for (unsigned i = 0; i < 200; i++) {
			unsigned n = 1 + (unsigned)(st_rng_next(&rng) % ST_HH_K_MAX);

			check_find(kern, &rng, a, n);
			check_min_slots(kern, &rng, a, n);
		}
	}
	free(a);
}

/*
 * Textbook SpaceSaving, written for clarity: a linear search for the key and
 * for the lowest slot holding the minimum.
 */
struct ref_ss {
	unsigned k, used;
	uint64_t hash[ST_HH_K_MAX], count[ST_HH_K_MAX], error[ST_HH_K_MAX];
};

static void ref_update(struct ref_ss *r, uint64_t h, uint64_t w)
{
	unsigned victim = 0;

	for (unsigned i = 0; i < r->used; i++) {
		if (r->hash[i] == h) {
			r->count[i] += w;
			return;
		}
	}
	if (r->used < r->k) {
		r->hash[r->used] = h;
		r->count[r->used] = w;
		r->error[r->used++] = 0;
		return;
	}
	for (unsigned i = 1; i < r->k; i++)
		if (r->count[i] < r->count[victim])
			victim = i;
	r->hash[victim] = h;
	r->error[victim] = r->count[victim];
	r->count[victim] += w;
}

/*
 * Every level gives the textbook state slot for slot, on hashes spread over
 * the buckets and on hashes that all share one bucket (top 14 bits zero),
 * where every lookup falls back to the scan.
 */
static void test_sketch_matches_textbook(void)
{
	static const enum st_simd_level levels[] = { ST_SIMD_SCALAR, ST_SIMD_AVX2, ST_SIMD_AVX512 };
	static const unsigned ks[] = { 4, 13, 64, 300, 1024 };
	static const uint64_t hash_masks[] = { UINT64_MAX, UINT64_MAX >> 14 };
	static struct ref_ss ref;
	struct st_zipf z;

	CU_ASSERT_EQUAL_FATAL(st_zipf_init(&z, 0.9, 20000), 0);
	for (size_t m = 0; m < ST_ARRAY_SIZE(hash_masks); m++) {
		for (size_t ki = 0; ki < ST_ARRAY_SIZE(ks); ki++) {
			for (size_t l = 0; l < ST_ARRAY_SIZE(levels); l++) {
				struct st_hh *hh;
				struct st_rng rng;

				if (!st_cpu_has(levels[l]))
					continue;
				hh = hh_alloc(ks[ki], st_hh_kernels_for(levels[l]));
				CU_ASSERT_FATAL(hh != NULL);
				memset(&ref, 0, sizeof(ref));
				ref.k = ks[ki];
				st_rng_seed(&rng, 99);
				for (unsigned i = 0; i < 50000; i++) {
					uint64_t h = rank_hash(st_zipf_next(&z, &rng)) & hash_masks[m];
					uint64_t w = 1 + (i % 7 == 0 ? st_rng_next(&rng) % 5 : 0);

					st_hh_update(hh, h, NULL, 0, w);
					ref_update(&ref, h, w);
				}
				CU_ASSERT_EQUAL(hh->used, ref.used);
				CU_ASSERT(memcmp(hh->hash, ref.hash, ref.used * sizeof(uint64_t)) == 0);
				CU_ASSERT(memcmp(hh->count, ref.count, ref.used * sizeof(uint64_t)) == 0);
				CU_ASSERT(memcmp(hh->error, ref.error, ref.used * sizeof(uint64_t)) == 0);
				for (unsigned slot = 0; slot < ref.used; slot++)
					CU_ASSERT_EQUAL(st_hh_estimate(hh, ref.hash[slot]), ref.count[slot]);
				st_hh_destroy(hh);
			}
		}
	}
}

/*
 * The same textbook, with the key samples: a new key's slot gets the key's
 * length and its first min(len, 32) bytes, copied byte by byte.
 */
struct ref_sample {
	uint32_t key_len;
	uint8_t len;
	uint8_t bytes[ST_HH_KEY_SAMPLE_BYTES];
};

static struct ref_sample ref_samples[ST_HH_K_MAX];

static void ref_update_sampled(struct ref_ss *r, uint64_t h, const uint8_t *key,
			       size_t key_len, uint64_t w)
{
	unsigned slot = r->used, before = r->used;
	struct ref_sample *s;

	for (unsigned i = 0; i < r->used; i++)
		if (r->hash[i] == h)
			slot = i;
	if (slot < r->used) {
		r->count[slot] += w;
		return;
	}
	ref_update(r, h, w);
	if (r->used > before) {
		slot = before;
	} else {
		slot = 0;
		for (unsigned i = 0; i < r->k; i++)
			if (r->hash[i] == h)
				slot = i;
	}
	s = &ref_samples[slot];
	memset(s, 0, sizeof(*s));
	s->key_len = (uint32_t)key_len;
	s->len = (uint8_t)(key_len < ST_HH_KEY_SAMPLE_BYTES ? key_len : ST_HH_KEY_SAMPLE_BYTES);
	for (unsigned i = 0; i < s->len; i++)
		s->bytes[i] = key[i];
}

/* Key of a rank: rank % 41 bytes (0..40), each a function of rank and place. */
static size_t rank_key(uint64_t rank, uint8_t *key)
{
	size_t len = rank % 41;

	for (size_t i = 0; i < len; i++)
		key[i] = (uint8_t)(rank * 131 + i * 7 + 1);
	return len;
}

/*
 * 40000 updates of uniform keys over 10000 ranks (almost every one evicts) or
 * of Zipf keys into hh and a fresh textbook, then the two slot for slot.
 * Each key is copied to a buffer of exactly its length, so that ASan sees
 * any read past it.
 */
static void feed_against_textbook(struct st_hh *hh, const struct st_zipf *z,
				  uint64_t seed)
{
	static struct ref_ss ref;
	struct st_rng rng;
	bool same = true;

	memset(&ref, 0, sizeof(ref));
	ref.k = st_hh_capacity(hh);
	st_rng_seed(&rng, seed);
	for (unsigned i = 0; i < 40000; i++) {
		uint64_t rank = z ? st_zipf_next(z, &rng) : 1 + st_rng_next(&rng) % 10000;
		uint64_t w = 1 + (i % 5 == 0 ? st_rng_next(&rng) % 3 : 0);
		uint8_t key[41], *exact;
		size_t len = rank_key(rank, key);

		exact = malloc(len ? len : 1);
		CU_ASSERT_FATAL(exact != NULL);
		memcpy(exact, key, len);
		st_hh_update(hh, rank_hash(rank), exact, len, w);
		ref_update_sampled(&ref, rank_hash(rank), exact, len, w);
		free(exact);
	}
	CU_ASSERT_EQUAL(hh->used, ref.used);
	CU_ASSERT(memcmp(hh->hash, ref.hash, ref.used * sizeof(uint64_t)) == 0);
	CU_ASSERT(memcmp(hh->count, ref.count, ref.used * sizeof(uint64_t)) == 0);
	CU_ASSERT(memcmp(hh->error, ref.error, ref.used * sizeof(uint64_t)) == 0);
	for (unsigned slot = 0; slot < ref.used; slot++) {
		const struct hh_sample *s = &hh->sample[slot];
		const struct ref_sample *r = &ref_samples[slot];

		same = same && s->key_len == r->key_len && s->len == r->len &&
		       memcmp(s->bytes, r->bytes, r->len) == 0;
	}
	CU_ASSERT(same);
}

/*
 * Every level, against the textbook with samples: uniform and Zipf keys of
 * every length 0..40 (each length class of the sample copy), k = 8, 64,
 * 256; then again after a reset, which must behave as a new sketch.
 */
static void test_sketch_matches_textbook_samples(void)
{
	static const enum st_simd_level levels[] = { ST_SIMD_SCALAR, ST_SIMD_AVX2, ST_SIMD_AVX512 };
	static const unsigned ks[] = { 8, 64, 256 };
	struct st_zipf z;

	CU_ASSERT_EQUAL_FATAL(st_zipf_init(&z, 1.1, 20000), 0);
	for (int zipf = 0; zipf < 2; zipf++) {
		for (size_t ki = 0; ki < ST_ARRAY_SIZE(ks); ki++) {
			for (size_t l = 0; l < ST_ARRAY_SIZE(levels); l++) {
				struct st_hh *hh;

				if (!st_cpu_has(levels[l]))
					continue;
				hh = hh_alloc(ks[ki], st_hh_kernels_for(levels[l]));
				CU_ASSERT_FATAL(hh != NULL);
				feed_against_textbook(hh, zipf ? &z : NULL, 7);
				st_hh_reset(hh);
				feed_against_textbook(hh, zipf ? &z : NULL, 8);
				st_hh_destroy(hh);
			}
		}
	}
}

/* ---- Serialized form ---- */

/* n draws of Zipf(s) over 5000 keys "key-<rank>-<padding>", weights 1..3. */
static void feed_sample(struct st_hh *hh, uint64_t n, double s)
{
	static const char pad[] = "0123456789012345678901234567890123456789";
	struct st_zipf z;
	struct st_rng rng;

	CU_ASSERT_EQUAL_FATAL(st_zipf_init(&z, s, 5000), 0);
	st_rng_seed(&rng, 3);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t rank = st_zipf_next(&z, &rng);
		char key[64];
		int len = snprintf(key, sizeof(key), "key-%llu-%.*s", (unsigned long long)rank,
				   (int)(rank % 40), pad);

		st_hh_update(hh, rank_hash(rank), key, (size_t)len, 1 + rank % 3);
	}
}

static struct st_hh *sample_sketch(unsigned k, uint64_t n, double s)
{
	struct st_hh *hh = st_hh_create(k);

	CU_ASSERT_FATAL(hh != NULL);
	feed_sample(hh, n, s);
	return hh;
}

static uint8_t *serialize(const struct st_hh *hh, size_t *len)
{
	uint8_t *buf;

	*len = st_hh_serialized_size(hh);
	buf = malloc(*len);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL_FATAL(st_hh_serialize(hh, buf, *len), (ssize_t)*len);
	return buf;
}

static void check_round_trip(const struct st_hh *hh)
{
	unsigned k = st_hh_capacity(hh);
	struct st_hh_item *a = calloc(k, sizeof(*a)), *b = calloc(k, sizeof(*b));
	size_t len, len2, na, nb;
	uint8_t *buf = serialize(hh, &len), *buf2;
	const char *why = NULL;
	struct st_hh *back;

	CU_ASSERT_FATAL(a && b);
	CU_ASSERT_EQUAL(st_hh_validate(buf, len, &why), 0);
	back = st_hh_deserialize(buf, len, &why);
	CU_ASSERT_FATAL(back != NULL);
	CU_ASSERT_EQUAL(st_hh_total(back), st_hh_total(hh));
	CU_ASSERT_EQUAL(st_hh_capacity(back), k);
	CU_ASSERT_EQUAL(st_hh_error_bound(back), st_hh_error_bound(hh));
	na = st_hh_top(hh, a, k);
	nb = st_hh_top(back, b, k);
	CU_ASSERT_EQUAL(na, nb);
	CU_ASSERT(memcmp(a, b, na * sizeof(*a)) == 0);
	for (size_t i = 0; i < na; i++)
		CU_ASSERT_EQUAL(st_hh_estimate(back, a[i].hash), a[i].count);
	buf2 = serialize(back, &len2);
	CU_ASSERT_EQUAL(len2, len);
	CU_ASSERT(memcmp(buf, buf2, len) == 0);
	CU_ASSERT_EQUAL(st_hh_serialize(hh, buf2, len - 1), -ENOSPC);
	st_hh_destroy(back);
	free(buf2);
	free(buf);
	free(a);
	free(b);
}

static void test_serialize_round_trip(void)
{
	struct st_hh *empty = st_hh_create(K), *partial = sample_sketch(K, 20, 1.0);
	struct st_hh *full = sample_sketch(K, 50000, 1.0), *big = sample_sketch(1024, 50000, 0.7);
	struct st_hh *merged = sample_sketch(K, 30000, 1.2);

	CU_ASSERT_FATAL(empty != NULL);
	CU_ASSERT_EQUAL_FATAL(st_hh_merge(merged, full), 0);
	check_round_trip(empty);
	check_round_trip(partial);
	check_round_trip(full);
	check_round_trip(big);
	check_round_trip(merged);
	st_hh_destroy(empty);
	st_hh_destroy(partial);
	st_hh_destroy(full);
	st_hh_destroy(big);
	st_hh_destroy(merged);
}

/* Offsets in the blob, from the layout in heavy.c. */
#define AT_K 16
#define AT_USED 20
#define AT_TOTAL 24
#define AT_ENTRY(i) (32 + 64 * (i))
#define E_HASH 0
#define E_COUNT 8
#define E_ERROR 16
#define E_KEY_LEN 24
#define E_SAMPLE_LEN 28
#define E_RESERVED 29
#define E_SAMPLE 32

/* buf with one change is rejected, for the expected reason. */
static void expect_rejected(const uint8_t *buf, size_t len, const char *reason)
{
	const char *why = NULL;

	CU_ASSERT_EQUAL(st_hh_validate(buf, len, &why), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(why);
	if (why) {
		CU_ASSERT_STRING_EQUAL(why, reason);
	}
	errno = 0;
	CU_ASSERT_PTR_NULL(st_hh_deserialize(buf, len, NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
}

/* Helpers that change one field of a copy. */
static uint8_t *copy_of(const uint8_t *buf, size_t len, size_t extra)
{
	uint8_t *c = calloc(1, len + extra);

	CU_ASSERT_FATAL(c != NULL);
	memcpy(c, buf, len);
	return c;
}

static void test_validate_rejects_header(void)
{
	struct st_hh *full = sample_sketch(K, 50000, 1.0);
	size_t len;
	uint8_t *good = serialize(full, &len), *b;

	CU_ASSERT_EQUAL(st_hh_validate(good, len, NULL), 0);

	b = copy_of(good, len, 0);
	b[0] = ST_SKETCH_HLL;
	expect_rejected(b, len, "blob of another sketch kind");
	free(b);

	b = copy_of(good, len, 0);
	b[1] = 2;
	expect_rejected(b, len, "unsupported blob version");
	free(b);

	b = copy_of(good, len, 0);
	b[3] = 1;
	expect_rejected(b, len, "blob reserved byte not zero");
	free(b);

	b = copy_of(good, len, 0);
	b[9] ^= 1;
	expect_rejected(b, len, "blob built with another hash or seed");
	free(b);

	expect_rejected(good, len - 1, "blob length does not match its container");
	expect_rejected(good, 10, "blob shorter than its header");

	b = copy_of(good, len, 0);
	st_put_le32(b + 4, 24);
	expect_rejected(b, 24, "heavy blob shorter than its header");
	free(b);

	b = copy_of(good, len, 0);
	st_put_le32(b + AT_K, ST_HH_K_MIN - 1);
	expect_rejected(b, len, "heavy k out of range");
	st_put_le32(b + AT_K, ST_HH_K_MAX + 1);
	expect_rejected(b, len, "heavy k out of range");
	free(b);

	b = copy_of(good, len, 0);
	st_put_le32(b + AT_USED, K + 1);
	expect_rejected(b, len, "heavy used above k");
	free(b);

	b = copy_of(good, len, 64);  /* one more entry than used says */
	st_put_le32(b + 4, (uint32_t)len + 64);
	expect_rejected(b, len + 64, "heavy blob length does not match its entries");
	free(b);

	b = copy_of(good, len, 0);
	st_put_le64(b + AT_TOTAL, 0);
	expect_rejected(b, len, "heavy total and entries disagree on emptiness");
	free(b);

	st_hh_destroy(full);
	free(good);

	{  /* an empty sketch that claims weight */
		struct st_hh *empty = st_hh_create(K);

		CU_ASSERT_FATAL(empty != NULL);
		good = serialize(empty, &len);
		st_put_le64(good + AT_TOTAL, 5);
		expect_rejected(good, len, "heavy total and entries disagree on emptiness");
		free(good);
		st_hh_destroy(empty);
	}
}

static void test_validate_rejects_entries(void)
{
	struct st_hh *full = sample_sketch(K, 50000, 1.0), *partial = sample_sketch(K, 20, 1.0);
	size_t len, plen;
	uint8_t *good = serialize(full, &len), *pgood = serialize(partial, &plen), *b;
	uint64_t last = AT_ENTRY(K - 1);

	CU_ASSERT_EQUAL(st_hh_validate(pgood, plen, NULL), 0);
	CU_ASSERT_FATAL(st_get_le32(pgood + AT_USED) < K);

	b = copy_of(good, len, 0);
	st_put_le64(b + last + E_COUNT, 0);
	st_put_le64(b + last + E_ERROR, 0);
	expect_rejected(b, len, "heavy entry with a zero count");
	free(b);

	b = copy_of(good, len, 0);
	st_put_le64(b + AT_ENTRY(0) + E_ERROR, st_get_le64(b + AT_ENTRY(0) + E_COUNT) + 1);
	expect_rejected(b, len, "heavy entry error above its count");
	free(b);

	b = copy_of(good, len, 0);
	b[AT_ENTRY(3) + E_SAMPLE_LEN] = 33;
	st_put_le32(b + AT_ENTRY(3) + E_KEY_LEN, 100);
	expect_rejected(b, len, "heavy entry sample longer than 32 bytes");
	free(b);

	b = copy_of(good, len, 0);
	st_put_le32(b + AT_ENTRY(3) + E_KEY_LEN, b[AT_ENTRY(3) + E_SAMPLE_LEN] - 1u);
	expect_rejected(b, len, "heavy entry sample longer than its key");
	free(b);

	b = copy_of(good, len, 0);
	b[AT_ENTRY(2) + E_RESERVED + 2] = 1;
	expect_rejected(b, len, "heavy entry reserved bytes not zero");
	free(b);

	b = copy_of(good, len, 0);
	CU_ASSERT_FATAL(b[AT_ENTRY(1) + E_SAMPLE_LEN] < 32);
	b[AT_ENTRY(1) + E_SAMPLE + 31] = 'x';
	expect_rejected(b, len, "heavy entry sample padding not zero");
	free(b);

	b = copy_of(good, len, 0);  /* entries 0 and 1 swapped */
	memcpy(b + AT_ENTRY(0), good + AT_ENTRY(1), 64);
	memcpy(b + AT_ENTRY(1), good + AT_ENTRY(0), 64);
	expect_rejected(b, len, "heavy entries not sorted by count, then hash");
	free(b);

	b = copy_of(good, len, 0);  /* equal counts, hashes descending */
	st_put_le64(b + AT_ENTRY(1) + E_COUNT, st_get_le64(b + AT_ENTRY(0) + E_COUNT));
	st_put_le64(b + AT_ENTRY(1) + E_HASH, st_get_le64(b + AT_ENTRY(0) + E_HASH) - 1);
	st_put_le64(b + AT_ENTRY(0) + E_HASH, st_get_le64(b + AT_ENTRY(1) + E_HASH) + 2);
	st_put_le64(b + AT_TOTAL, UINT64_MAX);
	expect_rejected(b, len, "heavy entries not sorted by count, then hash");
	free(b);

	{  /* the same hash as entry 0 on an entry whose count is its own */
		unsigned i = 2;

		while (i + 1 < K && !(st_get_le64(good + AT_ENTRY(i - 1) + E_COUNT) >
				      st_get_le64(good + AT_ENTRY(i) + E_COUNT) &&
				      st_get_le64(good + AT_ENTRY(i) + E_COUNT) >
				      st_get_le64(good + AT_ENTRY(i + 1) + E_COUNT)))
			i++;
		CU_ASSERT_FATAL(i + 1 < K);
		b = copy_of(good, len, 0);
		st_put_le64(b + AT_ENTRY(i) + E_HASH, st_get_le64(b + AT_ENTRY(0) + E_HASH));
		expect_rejected(b, len, "heavy entries with the same hash");
		free(b);
	}

	b = copy_of(good, len, 0);
	st_put_le64(b + AT_TOTAL, st_get_le64(b + AT_TOTAL) - 1);
	expect_rejected(b, len, "heavy counts sum above the total");
	free(b);

	b = copy_of(good, len, 0);  /* an error above the smallest count */
	st_put_le64(b + AT_ENTRY(0) + E_ERROR, st_get_le64(b + last + E_COUNT) + 1);
	expect_rejected(b, len, "heavy error above the smallest count");
	free(b);

	b = copy_of(pgood, plen, 0);  /* free counters: the counts are all of N */
	st_put_le64(b + AT_TOTAL, st_get_le64(b + AT_TOTAL) + 1);
	expect_rejected(b, plen, "heavy counts of a sketch with free counters do not sum to the total");
	free(b);

	b = copy_of(pgood, plen, 0);  /* free counters: nothing was evicted */
	st_put_le64(b + AT_ENTRY(0) + E_ERROR, 1);
	expect_rejected(b, plen, "heavy error in a sketch with free counters");
	free(b);

	st_hh_destroy(full);
	st_hh_destroy(partial);
	free(good);
	free(pgood);
}

/* Random corruption never crashes the validator; what passes deserializes. */
static void test_validate_survives_corruption(void)
{
	struct st_hh *full = sample_sketch(K, 50000, 1.0);
	size_t len;
	uint8_t *good = serialize(full, &len), *b = malloc(len);
	struct st_rng rng;
	unsigned accepted = 0;

	CU_ASSERT_FATAL(b != NULL);
	st_rng_seed(&rng, 17);
	for (unsigned i = 0; i < 3000; i++) {
		struct st_hh *back;

		memcpy(b, good, len);
		for (unsigned f = 0; f <= i % 3; f++)
			b[st_rng_next(&rng) % len] ^= (uint8_t)(1u << (st_rng_next(&rng) % 8));
		back = st_hh_deserialize(b, len, NULL);
		if (back) {
			accepted++;
			st_hh_destroy(back);
		}
	}
	/* Only flips in a sample's bytes or a non-minimal error can pass. */
	CU_ASSERT(accepted < 3000 / 2);
	st_hh_destroy(full);
	free(good);
	free(b);
}

/* ---- Life cycle ---- */

static void test_create_rejects_k(void)
{
	static const unsigned bad[] = { 0, ST_HH_K_MIN - 1, ST_HH_K_MAX + 1, UINT32_MAX };

	for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
		errno = 0;
		CU_ASSERT_PTR_NULL(st_hh_create(bad[i]));
		CU_ASSERT_EQUAL(errno, EINVAL);
	}
	st_hh_destroy(NULL);
}

static void test_sizes_and_accessors(void)
{
	struct st_hh *small = st_hh_create(ST_HH_K_MIN), *large = st_hh_create(ST_HH_K_MAX);

	CU_ASSERT_FATAL(small && large);
	CU_ASSERT_EQUAL(st_hh_capacity(small), ST_HH_K_MIN);
	CU_ASSERT_EQUAL(st_hh_capacity(large), ST_HH_K_MAX);
	CU_ASSERT(st_hh_memory_bytes(small) >= ST_HH_K_MIN * 3 * sizeof(uint64_t));
	CU_ASSERT(st_hh_memory_bytes(large) > st_hh_memory_bytes(small));
	CU_ASSERT_EQUAL(st_hh_serialized_size(small), 32);
	st_hh_update(small, 42, "abc", 3, 0);  /* weight 0: nothing */
	CU_ASSERT_EQUAL(st_hh_total(small), 0);
	CU_ASSERT_EQUAL(st_hh_top(small, NULL, 4), 0);
	st_hh_destroy(small);
	st_hh_destroy(large);
}

static void test_top_order_and_samples(void)
{
	struct st_hh *hh = st_hh_create(8);
	static const char long_key[] = "a key that is longer than thirty-two bytes";
	struct st_hh_item items[8];

	CU_ASSERT_FATAL(hh != NULL);
	st_hh_update(hh, 30, long_key, sizeof(long_key) - 1, 5);
	st_hh_update(hh, 20, "bb", 2, 5);
	st_hh_update(hh, 10, "c", 1, 9);
	st_hh_update(hh, 40, NULL, 7, 1);
	CU_ASSERT_EQUAL(st_hh_top(hh, items, 2), 2);
	CU_ASSERT_EQUAL(items[0].hash, 10);
	CU_ASSERT_EQUAL(items[1].hash, 20);  /* count tie: smaller hash first */
	CU_ASSERT_EQUAL(st_hh_top(hh, items, 8), 4);
	CU_ASSERT_EQUAL(items[2].hash, 30);
	CU_ASSERT_EQUAL(items[2].key_len, sizeof(long_key) - 1);
	CU_ASSERT_EQUAL(items[2].sample_len, ST_HH_KEY_SAMPLE_BYTES);
	CU_ASSERT(memcmp(items[2].key, long_key, ST_HH_KEY_SAMPLE_BYTES) == 0);
	CU_ASSERT_EQUAL(items[1].sample_len, 2);
	CU_ASSERT(memcmp(items[1].key, "bb\0\0", 4) == 0);
	CU_ASSERT_EQUAL(items[3].key_len, 7);
	CU_ASSERT_EQUAL(items[3].sample_len, 0);
	CU_ASSERT_EQUAL(st_hh_estimate(hh, 99), 0);
	CU_ASSERT_EQUAL(st_hh_upper_bound(hh, 99), 0);  /* free counters: exact */
	st_hh_destroy(hh);
}

static void test_reset(void)
{
	static const unsigned ks[] = { K, 1024 };

	for (size_t ki = 0; ki < ST_ARRAY_SIZE(ks); ki++) {
		struct st_hh *hh = sample_sketch(ks[ki], 20000, 0.8);
		struct st_hh *fresh = sample_sketch(ks[ki], 20000, 1.0);
		size_t la, lb;
		uint8_t *a, *b;

		st_hh_reset(hh);
		CU_ASSERT_EQUAL(st_hh_total(hh), 0);
		CU_ASSERT_EQUAL(st_hh_serialized_size(hh), 32);
		CU_ASSERT_EQUAL(st_hh_error_bound(hh), 0);
		CU_ASSERT_EQUAL(st_hh_estimate(hh, rank_hash(1)), 0);
		/* Refilled, it is the sketch of the new stream alone. */
		feed_sample(hh, 20000, 1.0);
		a = serialize(hh, &la);
		b = serialize(fresh, &lb);
		CU_ASSERT_EQUAL(la, lb);
		CU_ASSERT(la == lb && memcmp(a, b, la) == 0);
		free(a);
		free(b);
		st_hh_destroy(hh);
		st_hh_destroy(fresh);
	}
}

/* Every key distinct: nothing is heavy, and the error bound still holds. */
static void test_uniform_stream(void)
{
	static const unsigned ks[] = { K, 1024 };
	const uint64_t n = 100000;

	for (size_t ki = 0; ki < ST_ARRAY_SIZE(ks); ki++) {
		struct st_hh *hh = st_hh_create(ks[ki]);
		struct st_hh_item *items = calloc(ks[ki], sizeof(*items));
		size_t got;

		CU_ASSERT_FATAL(hh && items);
		for (uint64_t i = 1; i <= n; i++)
			st_hh_update(hh, rank_hash(i), NULL, 0, 1);
		CU_ASSERT(st_hh_error_bound(hh) <= n / ks[ki]);
		got = st_hh_top(hh, items, ks[ki]);
		CU_ASSERT_EQUAL(got, ks[ki]);
		for (size_t i = 0; i < got; i++) {
			CU_ASSERT(items[i].count - items[i].error <= 1);
			CU_ASSERT(items[i].count >= 1);
			CU_ASSERT(items[i].error <= n / ks[ki]);
		}
		for (uint64_t i = 1; i <= n; i += 97)
			CU_ASSERT(st_hh_upper_bound(hh, rank_hash(i)) >= 1);
		free(items);
		st_hh_destroy(hh);
	}
}

ST_TEST_MAIN("dataplane/sketch/heavy",
	ST_TEST(test_create_rejects_k),
	ST_TEST(test_sizes_and_accessors),
	ST_TEST(test_top_order_and_samples),
	ST_TEST(test_reset),
	ST_TEST(test_uniform_stream),
	ST_TEST(test_kernels_match_scalar),
	ST_TEST(test_sketch_matches_textbook),
	ST_TEST(test_sketch_matches_textbook_samples),
	ST_TEST(test_bounds_single_stream),
	ST_TEST(test_bounds_after_merge),
	ST_TEST(test_merge_within_capacity_is_exact),
	ST_TEST(test_merge_borrows_the_minimum),
	ST_TEST(test_merge_rejects),
	ST_TEST(test_tail_sums),
	ST_TEST(test_skew_exact_below_capacity),
	ST_TEST(test_skew_against_exact),
	ST_TEST(test_serialize_round_trip),
	ST_TEST(test_validate_rejects_header),
	ST_TEST(test_validate_rejects_entries),
	ST_TEST(test_validate_survives_corruption))
