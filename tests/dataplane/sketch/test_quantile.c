/*
 * DDSketch quantiles against an exact sort of the same data, done here.
 *
 * The guarantee checked is the one quantile.c states: at rank r the element
 * v of 0-based rank floor(r (n-1)) of the sorted data is estimated within
 * alpha |v| (plus 1e-12 |v| for floating rounding), the bounds contain v,
 * rank 0 and 1 are the exact min and max; after collapsing, positive v at
 * or above max / gamma^(max_bins-1) and negative v at or above
 * u gamma^(max_bins-1) (u: the negative value closest to zero) keep it.
 *
 * Every data set is quantized to multiples of 2^-16: each partial sum is
 * then an exact double, so the sum, like every other field, does not depend
 * on the order of the updates, and a merge must equal the sketch of the
 * whole stream byte for byte (quantile.c explains why arbitrary doubles
 * would leave the sums differing by rounding).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_test.h"
#include "dataplane/sketch/le.h"
#include "dataplane/sketch/quantile.h"
#include "tools/lib/keygen.h"

#define N_ACCURACY 1000000
#define N_MERGE 300000
#define REL_TOL 1e-12     /* floating rounding allowance, relative */
#define PAYLOAD 16        /* blob header bytes */

enum dataset {
	DS_UNIFORM,          /* uniform(1, 1000) */
	DS_LOGNORMAL,        /* lognormal(mu 5, sigma 1.5) */
	DS_BIMODAL,          /* 70% normal(100, 10), 30% normal(5000, 500) */
	DS_NORMAL,           /* normal(0, 100), signed */
	DS_LOGUNIFORM,       /* 10^uniform(-2, 6) */
	DS_SIGNED_LOGNORMAL, /* +- lognormal(5, 1.5), signed */
};

static const char *const ds_name[] = {
	[DS_UNIFORM] = "uniform(1,1000)",
	[DS_LOGNORMAL] = "lognormal(5,1.5)",
	[DS_BIMODAL] = "bimodal 100/5000",
	[DS_NORMAL] = "normal(0,100)",
	[DS_LOGUNIFORM] = "log-uniform 1e-2..1e6",
	[DS_SIGNED_LOGNORMAL] = "+-lognormal(5,1.5)",
};

static const double ranks[] = {
	0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8,
	0.9, 0.95, 0.99, 0.999, 0.9999, 0.99999, 0.0, 1.0,
};

/* Box-Muller; u1 in (0, 1] keeps the log finite. */
static double gaussian(struct st_rng *r)
{
	double u1 = 1.0 - st_rng_uniform(r);
	double u2 = st_rng_uniform(r);

	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static double draw(enum dataset ds, struct st_rng *r)
{
	switch (ds) {
	case DS_UNIFORM:
		return 1 + 999 * st_rng_uniform(r);
	case DS_LOGNORMAL:
		return exp(5 + 1.5 * gaussian(r));
	case DS_BIMODAL:
		if (st_rng_uniform(r) < 0.7)
			return 100 + 10 * gaussian(r);
		return 5000 + 500 * gaussian(r);
	case DS_NORMAL:
		return 100 * gaussian(r);
	case DS_LOGUNIFORM:
		return pow(10, -2 + 8 * st_rng_uniform(r));
	case DS_SIGNED_LOGNORMAL:
		return (st_rng_next(r) & 1 ? -1 : 1) * exp(5 + 1.5 * gaussian(r));
	}
	return NAN;
}

static bool ds_signed(enum dataset ds)
{
	return ds == DS_NORMAL || ds == DS_SIGNED_LOGNORMAL;
}

static double *make_data(enum dataset ds, size_t n, uint64_t seed)
{
	double *x = malloc(n * sizeof(*x));
	struct st_rng r;

	CU_ASSERT_FATAL(x != NULL);
	st_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] = ldexp(nearbyint(ldexp(draw(ds, &r), 16)), -16);
	return x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double *sorted_copy(const double *x, size_t n)
{
	double *s = malloc(n * sizeof(*s));

	CU_ASSERT_FATAL(s != NULL);
	memcpy(s, x, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return s;
}

/* The documented rank convention. */
static double exact_at(const double *sorted, size_t n, double rank)
{
	return sorted[(size_t)floor(rank * (double)(n - 1))];
}

static struct st_qs *sketch_of(const double *x, size_t n, double alpha,
			       unsigned bins, bool is_signed)
{
	struct st_qs *q = st_qs_create(alpha, bins, is_signed);

	CU_ASSERT_FATAL(q != NULL);
	for (size_t i = 0; i < n; i++)
		st_qs_update(q, x[i]);
	return q;
}

/* Values the alpha guarantee covers: 0, v >= pos_from > 0, 0 > v >= neg_from. */
struct claim {
	double pos_from;
	double neg_from;
};

static const struct claim everywhere = { 0.0, -INFINITY };

struct outcome {
	unsigned checked_pos, checked_neg, checked_zero;
	unsigned beyond_alpha;  /* uncovered ranks whose error exceeds alpha */
	double worst;           /* largest relative error over covered v != 0 */
};

static bool covered(const struct claim *c, double v)
{
	return v == 0 || (v > 0 && v >= c->pos_from) || (v < 0 && v >= c->neg_from);
}

/* The listed ranks, then every 0.001 (for the collapsed sketches' claims). */
#define N_DENSE 999
#define N_RANKS (sizeof(ranks) / sizeof(ranks[0]) + N_DENSE)

static double rank_at(size_t i)
{
	size_t listed = sizeof(ranks) / sizeof(ranks[0]);

	return i < listed ? ranks[i] : (double)(i - listed + 1) / (N_DENSE + 1);
}

static struct outcome check_ranks(const struct st_qs *q, const double *sorted,
				  size_t n, const struct claim *c)
{
	double alpha = st_qs_alpha(q);
	struct outcome o = { 0 };

	for (size_t i = 0; i < N_RANKS; i++) {
		double r = rank_at(i);
		double exact = exact_at(sorted, n, r);
		double est = st_qs_estimate(q, r);
		double lo = st_qs_lower_bound(q, r), hi = st_qs_upper_bound(q, r);
		double err = fabs(est - exact);
		bool ok;

		CU_ASSERT(lo <= exact && exact <= hi);
		CU_ASSERT(lo <= est && est <= hi);
		if (r == 0 || r == 1) {
			CU_ASSERT_EQUAL(est, exact);
			continue;
		}
		if (!covered(c, exact)) {
			o.beyond_alpha += err > alpha * fabs(exact);
			continue;
		}
		ok = err <= (alpha + REL_TOL) * fabs(exact);
		CU_ASSERT(ok);
		if (exact != 0 && err / fabs(exact) > o.worst)
			o.worst = err / fabs(exact);
		if (!ok || !(lo <= exact && exact <= hi))
			fprintf(stderr, "rank %g: exact %.17g est %.17g [%.17g, %.17g]\n",
				r, exact, est, lo, hi);
		if (exact > 0)
			o.checked_pos++;
		else if (exact < 0)
			o.checked_neg++;
		else
			o.checked_zero++;
	}
	return o;
}

static unsigned n_checkable_ranks(void)
{
	return N_RANKS - 2;  /* less rank 0 and 1 */
}

/* ---- 1. accuracy ------------------------------------------------------- */

static void print_row(const struct st_qs *q, const double *sorted, size_t n,
		      enum dataset ds)
{
	static const double shown[] = { 0.5, 0.9, 0.99 };

	printf("\n  %-18s", ds_name[ds]);
	for (size_t i = 0; i < 3; i++) {
		double exact = exact_at(sorted, n, shown[i]);
		double est = st_qs_estimate(q, shown[i]);

		printf("  p%g %10.4f/%10.4f %.2e", shown[i] * 100, est, exact,
		       exact ? fabs(est - exact) / fabs(exact) : fabs(est));
	}
}

static void test_accuracy_against_sort(void)
{
	static const enum dataset sets[] = {
		DS_UNIFORM, DS_LOGNORMAL, DS_BIMODAL, DS_NORMAL,
	};

	printf("\n  alpha %.2f, n %d; est/exact relative error per quantile (bound %.2f)",
	       ST_QS_ALPHA_DEFAULT, N_ACCURACY, ST_QS_ALPHA_DEFAULT);
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		enum dataset ds = sets[s];
		double *x = make_data(ds, N_ACCURACY, 1000 + ds);
		double *sorted = sorted_copy(x, N_ACCURACY);
		struct st_qs *q = sketch_of(x, N_ACCURACY, ST_QS_ALPHA_DEFAULT,
					    ST_QS_BINS_DEFAULT, ds_signed(ds));
		struct outcome o = check_ranks(q, sorted, N_ACCURACY, &everywhere);
		double sum = 0;

		for (size_t i = 0; i < N_ACCURACY; i++)
			sum += x[i];
		CU_ASSERT_EQUAL(o.checked_pos + o.checked_neg + o.checked_zero,
				n_checkable_ranks());
		CU_ASSERT_EQUAL(st_qs_count(q), N_ACCURACY);
		CU_ASSERT_EQUAL(st_qs_rejected(q), 0);
		CU_ASSERT_EQUAL(st_qs_min(q), sorted[0]);
		CU_ASSERT_EQUAL(st_qs_max(q), sorted[N_ACCURACY - 1]);
		CU_ASSERT_EQUAL(st_qs_sum(q), sum);
		print_row(q, sorted, N_ACCURACY, ds);
		printf("  worst of %u ranks %.12f", n_checkable_ranks(), o.worst);
		st_qs_destroy(q);
		free(sorted);
		free(x);
	}
	printf("\n");
}

static void test_memory_at_defaults(void)
{
	struct st_qs *q = st_qs_create(ST_QS_ALPHA_DEFAULT, ST_QS_BINS_DEFAULT, false);
	struct st_qs *s = st_qs_create(ST_QS_ALPHA_DEFAULT, ST_QS_BINS_DEFAULT, true);
	size_t before;

	CU_ASSERT_FATAL(q != NULL && s != NULL);
	before = st_qs_memory_bytes(q);
	printf("\n  memory at defaults: unsigned %zu bytes, signed %zu bytes\n",
	       before, st_qs_memory_bytes(s));
	/* at least the counters, at most 9 KiB (unsigned) */
	CU_ASSERT(before >= ST_QS_BINS_DEFAULT * sizeof(uint64_t));
	CU_ASSERT(before <= 9 * 1024);
	CU_ASSERT(st_qs_memory_bytes(s) >= 2 * ST_QS_BINS_DEFAULT * sizeof(uint64_t));
	CU_ASSERT(st_qs_memory_bytes(s) <= 17 * 1024);
	for (int i = 0; i < 1000; i++)
		st_qs_update(q, ldexp(1.0, i - 500));  /* far wider than 1024 bins */
	CU_ASSERT_EQUAL(st_qs_memory_bytes(q), before);
	st_qs_destroy(s);
	st_qs_destroy(q);
}

/* ---- 2. merge ---------------------------------------------------------- */

static uint8_t *blob_of(const struct st_qs *q, size_t *len)
{
	size_t size = st_qs_serialized_size(q);
	uint8_t *b = malloc(size);

	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_FATAL(st_qs_serialize(q, b, size) == (ssize_t)size);
	*len = size;
	return b;
}

static bool same_blob(const struct st_qs *a, const struct st_qs *b)
{
	size_t la, lb;
	uint8_t *ba = blob_of(a, &la), *bb = blob_of(b, &lb);
	bool same = la == lb && !memcmp(ba, bb, la);

	free(ba);
	free(bb);
	return same;
}

/*
 * Splits x into `parts` sketches (interleaved or at random), merges them in
 * forward and reverse order, and checks both against the whole and the sort.
 */
static void check_merge(const double *x, const double *sorted, size_t n,
			double alpha, unsigned bins, bool is_signed,
			unsigned parts, bool random_split, const struct claim *c)
{
	struct st_qs *part[8], *whole, *fwd, *rev;
	struct st_rng r;

	CU_ASSERT_FATAL(parts <= 8);
	st_rng_seed(&r, 77 + parts);
	for (unsigned p = 0; p < parts; p++) {
		part[p] = st_qs_create(alpha, bins, is_signed);
		CU_ASSERT_FATAL(part[p] != NULL);
	}
	for (size_t i = 0; i < n; i++)
		st_qs_update(part[random_split ? st_rng_next(&r) % parts : i % parts], x[i]);
	whole = sketch_of(x, n, alpha, bins, is_signed);
	fwd = st_qs_create(alpha, bins, is_signed);
	rev = st_qs_create(alpha, bins, is_signed);
	CU_ASSERT_FATAL(fwd != NULL && rev != NULL);
	for (unsigned p = 0; p < parts; p++) {
		CU_ASSERT_EQUAL(st_qs_merge(fwd, part[p]), 0);
		CU_ASSERT_EQUAL(st_qs_merge(rev, part[parts - 1 - p]), 0);
	}
	CU_ASSERT_EQUAL(st_qs_count(fwd), n);
	CU_ASSERT(same_blob(fwd, whole));
	CU_ASSERT(same_blob(rev, whole));
	check_ranks(fwd, sorted, n, c);
	for (unsigned p = 0; p < parts; p++)
		st_qs_destroy(part[p]);
	st_qs_destroy(rev);
	st_qs_destroy(fwd);
	st_qs_destroy(whole);
}

static void test_merge_equals_whole(void)
{
	static const enum dataset sets[] = {
		DS_UNIFORM, DS_LOGNORMAL, DS_BIMODAL, DS_NORMAL,
	};

	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		enum dataset ds = sets[s];
		double *x = make_data(ds, N_MERGE, 2000 + ds);
		double *sorted = sorted_copy(x, N_MERGE);
		double abs_sum = 0;

		for (size_t i = 0; i < N_MERGE; i++)
			abs_sum += fabs(x[i]);
		/* on the 2^-16 grid below 2^37, every partial sum is exact */
		CU_ASSERT_FATAL(abs_sum < 0x1p37);
		for (unsigned parts = 2; parts <= 8; parts *= 4) {
			check_merge(x, sorted, N_MERGE, ST_QS_ALPHA_DEFAULT,
				    ST_QS_BINS_DEFAULT, ds_signed(ds), parts,
				    false, &everywhere);
			check_merge(x, sorted, N_MERGE, ST_QS_ALPHA_DEFAULT,
				    ST_QS_BINS_DEFAULT, ds_signed(ds), parts,
				    true, &everywhere);
		}
		free(sorted);
		free(x);
	}
}

/* ---- 3. collapsing ----------------------------------------------------- */

/* The documented claim for a sketch with `bins` bins over sorted data. */
static struct claim collapse_claim(const double *sorted, size_t n, double alpha,
				   unsigned bins)
{
	double span = pow((1 + alpha) / (1 - alpha), bins - 1);
	struct claim c = { INFINITY, 0.0 };
	double u = 0;

	if (sorted[n - 1] > 0)
		c.pos_from = sorted[n - 1] / span * (1 + 1e-9);
	for (size_t i = 0; i < n && sorted[i] < 0; i++)
		u = sorted[i];  /* the negative value closest to zero */
	c.neg_from = u * span * (1 - 1e-9);
	return c;
}

static void test_collapse_keeps_high_quantiles(void)
{
	static const struct {
		enum dataset ds;
		double alpha;
		unsigned bins;
	} cases[] = {
		{ DS_UNIFORM, 0.01, 64 },
		{ DS_LOGNORMAL, 0.01, 256 },
		{ DS_LOGNORMAL, 0.05, 64 },
		{ DS_LOGUNIFORM, 0.01, 128 },
		{ DS_SIGNED_LOGNORMAL, 0.05, 64 },
		{ DS_SIGNED_LOGNORMAL, 0.01, 256 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum dataset ds = cases[i].ds;
		double alpha = cases[i].alpha;
		unsigned bins = cases[i].bins;
		double *x = make_data(ds, N_MERGE, 3000 + i);
		double *sorted = sorted_copy(x, N_MERGE);
		struct claim c = collapse_claim(sorted, N_MERGE, alpha, bins);
		struct st_qs *q = st_qs_create(alpha, bins, ds_signed(ds));
		size_t mem;
		struct outcome o;

		CU_ASSERT_FATAL(q != NULL);
		mem = st_qs_memory_bytes(q);
		for (size_t k = 0; k < N_MERGE; k++)
			st_qs_update(q, x[k]);
		o = check_ranks(q, sorted, N_MERGE, &c);
		printf("\n  %-20s alpha %.2f bins %3u: guaranteed from %.4g (pos)"
		       " / %.4g (neg); ranks checked %u pos %u neg, %u folded ranks"
		       " beyond alpha", ds_name[ds], alpha, bins, c.pos_from,
		       c.neg_from, o.checked_pos, o.checked_neg, o.beyond_alpha);
		/* the claim was exercised, and the collapse really happened */
		CU_ASSERT(o.checked_pos >= 2);
		if (ds_signed(ds)) {
			CU_ASSERT(o.checked_neg >= 1);
		}
		CU_ASSERT(o.beyond_alpha >= 1);
		CU_ASSERT_EQUAL(st_qs_memory_bytes(q), mem);
		/* merging collapsed parts gives the collapsed whole */
		check_merge(x, sorted, N_MERGE, alpha, bins, ds_signed(ds), 8, true, &c);
		st_qs_destroy(q);
		free(sorted);
		free(x);
	}
	printf("\n");
}

/* ---- 4. rejected values, empty sketches, bad arguments ------------------ */

static void test_rejects_non_finite_and_negatives(void)
{
	struct st_qs *u = st_qs_create(0.01, 64, false);
	struct st_qs *s = st_qs_create(0.01, 64, true);

	CU_ASSERT_FATAL(u != NULL && s != NULL);
	st_qs_update(u, NAN);
	st_qs_update(u, INFINITY);
	st_qs_update(u, -INFINITY);
	st_qs_update(u, -1.0);
	st_qs_update(u, -1e-310);
	CU_ASSERT_EQUAL(st_qs_rejected(u), 5);
	CU_ASSERT_EQUAL(st_qs_count(u), 0);
	CU_ASSERT(isnan(st_qs_estimate(u, 0.5)));
	st_qs_update(u, 3.0);
	CU_ASSERT_EQUAL(st_qs_count(u), 1);
	CU_ASSERT_EQUAL(st_qs_estimate(u, 0.5), 3.0);  /* clamped to min = max */
	CU_ASSERT_EQUAL(st_qs_sum(u), 3.0);

	st_qs_update(s, NAN);
	st_qs_update(s, -INFINITY);
	st_qs_update(s, -2.0);
	CU_ASSERT_EQUAL(st_qs_rejected(s), 2);
	CU_ASSERT_EQUAL(st_qs_count(s), 1);
	CU_ASSERT_EQUAL(st_qs_min(s), -2.0);
	st_qs_reset(s);
	CU_ASSERT_EQUAL(st_qs_count(s), 0);
	CU_ASSERT_EQUAL(st_qs_rejected(s), 0);
	CU_ASSERT(isnan(st_qs_min(s)));
	st_qs_destroy(s);
	st_qs_destroy(u);
}

static void test_tiny_values_count_as_zero(void)
{
	struct st_qs *s = st_qs_create(0.01, 64, true);
	size_t len;
	uint8_t *b;

	CU_ASSERT_FATAL(s != NULL);
	st_qs_update(s, -0.0);
	CU_ASSERT_EQUAL(st_qs_min(s), 0.0);
	CU_ASSERT(!signbit(st_qs_min(s)));  /* recorded as +0.0 */
	st_qs_update(s, 1e-310);
	st_qs_update(s, -1e-310);
	st_qs_update(s, DBL_MIN / 2);
	CU_ASSERT_EQUAL(st_qs_count(s), 4);
	CU_ASSERT_EQUAL(st_qs_min(s), -1e-310);
	CU_ASSERT_EQUAL(st_qs_max(s), DBL_MIN / 2);
	CU_ASSERT_EQUAL(st_qs_estimate(s, 0.5), 0.0);
	b = blob_of(s, &len);
	CU_ASSERT_EQUAL(st_get_le64(b + PAYLOAD + 32), 4);  /* zero_count */
	free(b);
	st_qs_update(s, DBL_MIN);  /* the smallest normal is not zero */
	b = blob_of(s, &len);
	CU_ASSERT_EQUAL(st_get_le64(b + PAYLOAD + 32), 4);
	CU_ASSERT_EQUAL(st_get_le32(b + PAYLOAD + 64 + 8), 1);  /* one positive bin */
	free(b);
	st_qs_destroy(s);
}

/* The ends of the double range: bucket values past DBL_MAX, deep negatives. */
static void test_extreme_magnitudes(void)
{
	static const double v[] = {
		DBL_MAX, DBL_MAX / 3, 5e307, 1e300, 1.0, DBL_MIN, 3 * DBL_MIN,
		1e-300, -1e-300, -DBL_MIN, -1.0, -1e307, -DBL_MAX, 0.0, 7.0,
	};
	const size_t n = sizeof(v) / sizeof(v[0]);
	struct st_qs *q = sketch_of(v, n, 0.05, 65536, true);  /* no collapse */
	double *sorted = sorted_copy(v, n);
	struct outcome o = check_ranks(q, sorted, n, &everywhere);
	size_t len;
	uint8_t *b = blob_of(q, &len);
	const char *why = NULL;

	CU_ASSERT_EQUAL(o.checked_pos + o.checked_neg + o.checked_zero,
			n_checkable_ranks());
	CU_ASSERT(isinf(st_qs_sum(q)));  /* overflowed, kept, still valid */
	CU_ASSERT_EQUAL(st_qs_validate(b, len, &why), 0);
	free(b);
	free(sorted);
	st_qs_destroy(q);
}

static void test_empty_and_bad_ranks(void)
{
	struct st_qs *q = st_qs_create(0.01, 64, true);

	CU_ASSERT_FATAL(q != NULL);
	CU_ASSERT_EQUAL(st_qs_count(q), 0);
	CU_ASSERT(isnan(st_qs_estimate(q, 0.5)));
	CU_ASSERT(isnan(st_qs_estimate(q, 0.0)));
	CU_ASSERT(isnan(st_qs_lower_bound(q, 0.5)));
	CU_ASSERT(isnan(st_qs_upper_bound(q, 0.5)));
	CU_ASSERT(isnan(st_qs_min(q)));
	CU_ASSERT(isnan(st_qs_max(q)));
	CU_ASSERT_EQUAL(st_qs_sum(q), 0.0);
	st_qs_update(q, 1.0);
	CU_ASSERT(isnan(st_qs_estimate(q, -0.1)));
	CU_ASSERT(isnan(st_qs_estimate(q, 1.1)));
	CU_ASSERT(isnan(st_qs_estimate(q, NAN)));
	CU_ASSERT(isnan(st_qs_upper_bound(q, NAN)));
	CU_ASSERT_EQUAL(st_qs_estimate(q, 0.5), 1.0);
	st_qs_destroy(q);
	st_qs_destroy(NULL);
}

static bool create_fails(double alpha, unsigned bins)
{
	struct st_qs *q;

	errno = 0;
	q = st_qs_create(alpha, bins, false);
	st_qs_destroy(q);
	return q == NULL && errno == EINVAL;
}

static void test_create_rejects_bad_arguments(void)
{
	struct st_qs *q;

	CU_ASSERT(create_fails(0.0, 1024));
	CU_ASSERT(create_fails(-0.01, 1024));
	CU_ASSERT(create_fails(0.5000001, 1024));
	CU_ASSERT(create_fails(1.0, 1024));
	CU_ASSERT(create_fails(NAN, 1024));
	CU_ASSERT(create_fails(INFINITY, 1024));
	CU_ASSERT(create_fails(1e-10, 1024));
	CU_ASSERT(create_fails(0.01, 0));
	CU_ASSERT(create_fails(0.01, 15));
	CU_ASSERT(create_fails(0.01, 65537));
	q = st_qs_create(0.5, 16, true);
	CU_ASSERT(q != NULL);
	st_qs_destroy(q);
	q = st_qs_create(1e-9, 65536, true);
	CU_ASSERT(q != NULL);
	st_qs_destroy(q);
}

static void test_merge_rejects_mismatch(void)
{
	struct st_qs *a = st_qs_create(0.01, 64, false);
	struct st_qs *b_alpha = st_qs_create(0.02, 64, false);
	struct st_qs *b_bins = st_qs_create(0.01, 128, false);
	struct st_qs *b_sign = st_qs_create(0.01, 64, true);

	CU_ASSERT_FATAL(a && b_alpha && b_bins && b_sign);
	st_qs_update(b_alpha, 1.0);
	st_qs_update(b_bins, 1.0);
	st_qs_update(b_sign, 1.0);
	CU_ASSERT_EQUAL(st_qs_merge(a, b_alpha), -EINVAL);
	CU_ASSERT_EQUAL(st_qs_merge(a, b_bins), -EINVAL);
	CU_ASSERT_EQUAL(st_qs_merge(a, b_sign), -EINVAL);
	CU_ASSERT_EQUAL(st_qs_merge(b_sign, a), -EINVAL);
	CU_ASSERT_EQUAL(st_qs_count(a), 0);
	st_qs_destroy(a);
	st_qs_destroy(b_alpha);
	st_qs_destroy(b_bins);
	st_qs_destroy(b_sign);
}

/* ---- 5. serialization -------------------------------------------------- */

static void check_round_trip(const struct st_qs *q)
{
	size_t len, len2;
	uint8_t *b = blob_of(q, &len), *b2;
	const char *why = NULL;
	struct st_qs *d;

	CU_ASSERT_EQUAL(st_qs_validate(b, len, &why), 0);
	CU_ASSERT_EQUAL(st_qs_serialize(q, b, len - 1), -ENOSPC);
	d = st_qs_deserialize(b, len, &why);
	CU_ASSERT_FATAL(d != NULL);
	b2 = blob_of(d, &len2);
	CU_ASSERT(len2 == len && !memcmp(b, b2, len));
	CU_ASSERT_EQUAL(st_qs_count(d), st_qs_count(q));
	CU_ASSERT_EQUAL(st_qs_rejected(d), st_qs_rejected(q));
	CU_ASSERT_EQUAL(st_qs_sum(d), st_qs_sum(q));
	CU_ASSERT_EQUAL(st_qs_memory_bytes(d), st_qs_memory_bytes(q));
	for (size_t i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++) {
		double r = ranks[i], e = st_qs_estimate(q, r);

		CU_ASSERT(e == st_qs_estimate(d, r) || (isnan(e) && isnan(st_qs_estimate(d, r))));
		if (!isnan(e)) {
			CU_ASSERT_EQUAL(st_qs_lower_bound(d, r), st_qs_lower_bound(q, r));
			CU_ASSERT_EQUAL(st_qs_upper_bound(d, r), st_qs_upper_bound(q, r));
		}
	}
	/* the copy keeps working like the original */
	st_qs_update(d, 12345.0);
	CU_ASSERT_EQUAL(st_qs_count(d), st_qs_count(q) + 1);
	st_qs_destroy(d);
	free(b2);
	free(b);
}

static void test_serialize_round_trip(void)
{
	double *x = make_data(DS_SIGNED_LOGNORMAL, 100000, 4000);
	double *y = make_data(DS_LOGNORMAL, 100000, 4001);
	struct st_qs *q;

	q = st_qs_create(0.01, 1024, false);   /* empty */
	check_round_trip(q);
	st_qs_destroy(q);
	q = st_qs_create(0.01, 1024, true);    /* empty, signed */
	check_round_trip(q);
	st_qs_destroy(q);
	q = sketch_of(y, 100000, 0.01, 1024, false);
	st_qs_update(q, NAN);
	check_round_trip(q);
	st_qs_destroy(q);
	q = sketch_of(x, 100000, 0.01, 1024, true);
	check_round_trip(q);
	st_qs_destroy(q);
	q = sketch_of(x, 100000, 0.05, 32, true);  /* both stores collapsed */
	check_round_trip(q);
	st_qs_destroy(q);
	free(x);
	free(y);
}

/* A small blob to corrupt, and checks that each corruption is refused. */
struct blob {
	uint8_t b[1024];
	size_t len;
};

static void make_blob(struct blob *bl, const double *v, size_t n, bool is_signed)
{
	struct st_qs *q = st_qs_create(0.01, 32, is_signed);
	ssize_t len;

	CU_ASSERT_FATAL(q != NULL);
	for (size_t i = 0; i < n; i++)
		st_qs_update(q, v[i]);
	len = st_qs_serialize(q, bl->b, sizeof(bl->b));
	CU_ASSERT_FATAL(len > 0);
	bl->len = (size_t)len;
	st_qs_destroy(q);
}

/* Refused by validate (reason containing kw) and by deserialize. */
static bool refused(const struct blob *bl, const char *kw)
{
	const char *why = NULL;
	struct st_qs *q;
	bool ok;

	ok = st_qs_validate(bl->b, bl->len, &why) == -EINVAL && why && strstr(why, kw);
	if (!ok)
		fprintf(stderr, "expected a refusal about '%s', got '%s'\n", kw,
			why ? why : "(none)");
	errno = 0;
	q = st_qs_deserialize(bl->b, bl->len, &why);
	ok = ok && !q && errno == EINVAL;
	st_qs_destroy(q);
	return ok;
}

static bool refused_u8(struct blob bl, size_t off, uint8_t v, const char *kw)
{
	bl.b[off] = v;
	return refused(&bl, kw);
}

static bool refused_u32(struct blob bl, size_t off, uint32_t v, const char *kw)
{
	st_put_le32(bl.b + off, v);
	return refused(&bl, kw);
}

static bool refused_u64(struct blob bl, size_t off, uint64_t v, const char *kw)
{
	st_put_le64(bl.b + off, v);
	return refused(&bl, kw);
}

static bool refused_f64(struct blob bl, size_t off, double v, const char *kw)
{
	st_put_lef64(bl.b + off, v);
	return refused(&bl, kw);
}

/* The blob's length changed to len, header length field kept in step. */
static bool refused_len(struct blob bl, size_t len, const char *kw)
{
	bl.len = len;
	st_put_le32(bl.b + 4, (uint32_t)len);
	return refused(&bl, kw);
}

static void test_validate_rejects_malformed(void)
{
	/* signed: 4 positives over keys 0..21, a zero, 2 negatives over keys -46..-35 */
	static const double v_signed[] = { 1.0, 1.2, 1.5, 1.5, 0.0, -2.0, -2.5, NAN };
	static const double v_unsigned[] = { 1.0, 1.2, 1.5 };
	static const double v_no_neg[] = { 1.0 };
	struct blob s, u, e, nn;
	const size_t P = PAYLOAD, pos = P + 64, pos_counts = pos + 16;
	size_t neg, n_pos;
	const char *why = NULL;

	make_blob(&s, v_signed, 8, true);
	make_blob(&u, v_unsigned, 3, false);
	make_blob(&e, NULL, 0, false);
	make_blob(&nn, v_no_neg, 1, true);
	n_pos = st_get_le32(s.b + pos + 8);
	neg = pos_counts + 8 * n_pos;
	/* the layout quantile.c documents */
	CU_ASSERT_EQUAL_FATAL(n_pos, 22);
	CU_ASSERT_EQUAL_FATAL(st_get_le32(s.b + neg + 8), 12);
	CU_ASSERT_EQUAL_FATAL(s.len, neg + 16 + 8 * 12);
	CU_ASSERT_EQUAL(st_get_le64(s.b + P + 16), 7);       /* count */
	CU_ASSERT_EQUAL(st_get_le64(s.b + P + 24), 1);       /* rejected */
	CU_ASSERT_EQUAL(st_get_le64(s.b + P + 32), 1);       /* zero */
	CU_ASSERT_EQUAL(st_get_lef64(s.b + P + 40), -2.5);   /* min */
	CU_ASSERT_EQUAL(st_get_lef64(s.b + P + 48), 1.5);    /* max */
	CU_ASSERT_EQUAL((int64_t)st_get_le64(s.b + pos), 0); /* first key */
	CU_ASSERT_EQUAL((int64_t)st_get_le64(s.b + neg), -46);
	CU_ASSERT_EQUAL(st_qs_validate(s.b, s.len, &why), 0);
	CU_ASSERT_EQUAL(st_qs_validate(u.b, u.len, &why), 0);
	CU_ASSERT_EQUAL(st_qs_validate(e.b, e.len, &why), 0);
	CU_ASSERT_EQUAL(st_qs_validate(nn.b, nn.len, &why), 0);

	/* header and lengths */
	CU_ASSERT(st_qs_validate(s.b, 8, &why) == -EINVAL);
	CU_ASSERT(st_qs_validate(s.b, s.len - 1, &why) == -EINVAL);
	CU_ASSERT(refused_u8(s, 0, 1, "kind"));
	CU_ASSERT(refused_u8(s, 1, 2, "version"));
	CU_ASSERT(refused_u8(s, 2, 1, "hash"));
	CU_ASSERT(refused_u8(s, 3, 1, "reserved"));
	CU_ASSERT(refused_len(s, P + 40, "fixed fields"));
	CU_ASSERT(refused_len(s, s.len - 8, "truncated"));
	CU_ASSERT(refused_len(s, neg + 8, "truncated"));
	CU_ASSERT(refused_len(s, s.len + 8, "longer"));
	/* fixed fields */
	CU_ASSERT(refused_f64(s, P + 0, NAN, "alpha"));
	CU_ASSERT(refused_f64(s, P + 0, INFINITY, "alpha"));
	CU_ASSERT(refused_f64(s, P + 0, 0.6, "alpha"));
	CU_ASSERT(refused_f64(s, P + 0, 0.0, "alpha"));
	CU_ASSERT(refused_f64(s, P + 0, -0.01, "alpha"));
	CU_ASSERT(refused_f64(s, P + 0, 1e-10, "alpha"));
	CU_ASSERT(refused_u8(s, P + 8, 0x09, "flag"));
	CU_ASSERT(refused_u8(s, P + 8, 0x80, "flag"));
	CU_ASSERT(refused_u8(s, P + 8, 0x00, "longer"));  /* signed bit lost */
	CU_ASSERT(refused_u8(u, P + 8, 0x04, "collapsed negative"));
	CU_ASSERT(refused_u8(s, P + 8, 0x03, "span"));     /* 22 bins, not 32 */
	CU_ASSERT(refused_u8(s, P + 8, 0x05, "span"));
	CU_ASSERT(refused_u8(s, P + 9, 1, "reserved"));
	CU_ASSERT(refused_u8(s, P + 10, 1, "reserved"));
	CU_ASSERT(refused_u8(s, P + 11, 1, "reserved"));
	CU_ASSERT(refused_u32(s, P + 12, 15, "max_bins"));
	CU_ASSERT(refused_u32(s, P + 12, 65537, "max_bins"));
	CU_ASSERT(refused_u32(s, P + 12, 16, "more bins"));
	CU_ASSERT(refused_u64(s, P + 16, 8, "add up"));
	CU_ASSERT(refused_u64(s, P + 16, 6, "add up"));
	CU_ASSERT(refused_u64(s, P + 32, 2, "add up"));
	CU_ASSERT(refused_u64(s, P + 32, UINT64_MAX, "add up"));
	/* min, max, sum */
	CU_ASSERT(refused_f64(s, P + 40, NAN, "finite"));
	CU_ASSERT(refused_f64(s, P + 40, -INFINITY, "finite"));
	CU_ASSERT(refused_f64(s, P + 48, INFINITY, "finite"));
	CU_ASSERT(refused_f64(s, P + 56, NAN, "NaN"));
	CU_ASSERT(refused_f64(s, P + 40, 5.0, "min above max"));
	CU_ASSERT(refused_f64(s, P + 40, -2.0, "lowest negative"));
	CU_ASSERT(refused_f64(s, P + 40, -1e6, "lowest negative"));
	CU_ASSERT(refused_f64(s, P + 48, 100.0, "highest positive"));
	CU_ASSERT(refused_f64(s, P + 48, 1e-320, "highest positive"));
	CU_ASSERT(refused_f64(s, P + 56, 1e6, "sum"));
	CU_ASSERT(refused_f64(s, P + 56, -INFINITY, "sum"));
	CU_ASSERT(refused_f64(u, P + 40, -1.0, "negative min"));
	CU_ASSERT(refused_f64(u, P + 40, 0.5, "lowest positive"));
	CU_ASSERT(refused_f64(nn, P + 40, 0.0, "lowest positive"));
	CU_ASSERT(refused_f64(e, P + 40, 1.0, "empty"));
	CU_ASSERT(refused_f64(e, P + 48, -0.0, "empty"));
	CU_ASSERT(refused_f64(e, P + 56, 1.0, "empty"));
	/* stores */
	CU_ASSERT(refused_u32(s, pos + 12, 1, "store reserved"));
	CU_ASSERT(refused_u32(s, neg + 12, 1, "store reserved"));
	CU_ASSERT(refused_u64(s, pos_counts, 0, "trimmed"));
	CU_ASSERT(refused_u64(s, neg - 8, 0, "trimmed"));
	CU_ASSERT(refused_u64(s, neg + 16, 0, "trimmed"));
	CU_ASSERT(refused_u64(s, pos_counts, UINT64_MAX, "overflow"));
	CU_ASSERT(refused_u64(s, pos, (uint64_t)1 << 40, "outside"));
	CU_ASSERT(refused_u64(s, pos, (uint64_t)INT64_MIN, "outside"));
	CU_ASSERT(refused_u64(s, neg, (uint64_t)-((int64_t)1 << 40), "outside"));
	CU_ASSERT(refused_u64(s, pos, 2, "highest positive"));  /* shifted keys */
	CU_ASSERT(refused_u64(nn, pos + 16 + 8, 1, "non-zero key"));
	CU_ASSERT(refused_u32(s, pos + 8, 21, "trimmed"));
}

/*
 * Random corruptions of valid blobs: whatever validate accepts deserializes,
 * answers inside its own bounds and serializes back to the same bytes (the
 * encoding is canonical); whatever it refuses, deserialize refuses too.
 */
static void test_corrupted_blobs_never_trusted(void)
{
	static const double v_signed[] = { 1.0, 1.2, 1.5, 1.5, 0.0, -2.0, -2.5, NAN };
	double *x = make_data(DS_SIGNED_LOGNORMAL, 2000, 5000);
	struct blob src[3], bl;
	unsigned accepted = 0, refused_n = 0;
	struct st_rng r;

	make_blob(&src[0], v_signed, 8, true);
	make_blob(&src[1], x, 2000, true);         /* both stores collapsed */
	make_blob(&src[2], NULL, 0, false);
	st_rng_seed(&r, 6000);
	for (unsigned i = 0; i < 30000; i++) {
		const char *why = NULL;
		struct st_qs *q;
		unsigned flips = 1 + (unsigned)(st_rng_next(&r) % 3);

		bl = src[i % 3];
		for (unsigned f = 0; f < flips; f++)
			bl.b[st_rng_next(&r) % bl.len] ^= (uint8_t)(1u << (st_rng_next(&r) % 8));
		if (st_rng_next(&r) % 8 == 0)
			bl.len = (size_t)(st_rng_next(&r) % (bl.len + 1));
		q = st_qs_deserialize(bl.b, bl.len, &why);
		CU_ASSERT((q != NULL) == (st_qs_validate(bl.b, bl.len, &why) == 0));
		if (!q) {
			refused_n++;
			continue;
		}
		accepted++;
		{
			size_t len;
			uint8_t *b = blob_of(q, &len);
			double e = st_qs_estimate(q, 0.5);

			CU_ASSERT(len == bl.len && !memcmp(b, bl.b, len));
			CU_ASSERT(!st_qs_count(q) || (st_qs_lower_bound(q, 0.5) <= e &&
						e <= st_qs_upper_bound(q, 0.5)));
			free(b);
		}
		st_qs_destroy(q);
	}
	printf("\n  corrupted blobs: %u accepted (round-trip identical), %u refused\n",
	       accepted, refused_n);
	CU_ASSERT(accepted > 0 && refused_n > 0);
	free(x);
}

static struct st_qs *qs_copy(const struct st_qs *q)
{
	static uint8_t blob[1 << 16];
	ssize_t n = st_qs_serialize(q, blob, sizeof(blob));

	return n > 0 ? st_qs_deserialize(blob, (size_t)n, NULL) : NULL;
}

/* Doubling by merges reaches 2^63 values; one more would wrap: refused. */
static void test_merge_refuses_overflow(void)
{
	struct st_qs *q = st_qs_create(0.01, 64, false);
	struct st_qs *copy;

	CU_ASSERT_FATAL(q != NULL);
	st_qs_update(q, 5.0);
	for (int i = 0; i < 63; i++) {
		copy = qs_copy(q);
		CU_ASSERT_FATAL(copy != NULL);
		CU_ASSERT_EQUAL_FATAL(st_qs_merge(q, copy), 0);
		st_qs_destroy(copy);
	}
	CU_ASSERT_EQUAL(st_qs_count(q), 1ull << 63);
	copy = qs_copy(q);
	CU_ASSERT_FATAL(copy != NULL);
	CU_ASSERT_EQUAL(st_qs_merge(q, copy), -EOVERFLOW);
	CU_ASSERT_EQUAL(st_qs_count(q), 1ull << 63);
	CU_ASSERT(fabs(st_qs_estimate(q, 0.5) - 5.0) <= 0.01 * 5.0);
	st_qs_destroy(copy);
	st_qs_destroy(q);
}

/* ---- integer key table ------------------------------------------------- */

/*
 * The bucket key of one value, as the serialization shows it: the first key
 * of the positive store (x > 0: ceil(log_gamma x)) or of the negative store
 * (x < 0: keyed by -ceil(log_gamma |x|)).
 */
static int64_t key_of_one_value(struct st_qs *q, double x)
{
	uint8_t buf[256];
	ssize_t n;

	st_qs_reset(q);
	st_qs_update(q, x);
	n = st_qs_serialize(q, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0 && (size_t)n <= sizeof(buf));
	if (x > 0)
		return (int64_t)st_get_le64(buf + PAYLOAD + 64);
	/* empty positive store: 16 header bytes, then the negative one */
	return (int64_t)st_get_le64(buf + PAYLOAD + 64 + 16);
}

/*
 * quantile.c reads the keys of the integers 1..4096 from a table.  Oracle:
 * the mapping as quantile.c's head comment defines it, ceil(ln x / ln
 * gamma) with ln gamma = log1p(2 alpha / (1 - alpha)), evaluated here with
 * the same double operations for every integer of the table's range and
 * past it, for both signs, next to non-integers (which must not take the
 * table), and for more distinct alphas than there are tables (the rest
 * compute with log()) including alpha 1e-9, whose keys pass int32.
 */
static void test_integer_keys_equal_the_mapping(void)
{
	static const double alphas[] = { ST_QS_ALPHA_DEFAULT, 0.001, 0.05,
		0.5, 1e-9, 0.02, 0.0125, 0.3 };
	uint64_t mismatches = 0, checked = 0;

	for (size_t a = 0; a < sizeof(alphas) / sizeof(alphas[0]); a++) {
		double alpha = alphas[a];
		double inv_ln_gamma = 1 / log1p(2 * alpha / (1 - alpha));
		struct st_qs *q = st_qs_create(alpha, ST_QS_BINS_DEFAULT, true);

		CU_ASSERT_FATAL(q != NULL);
		for (uint32_t i = 1; i <= 4200; i++) {
			const double xs[3] = { (double)i, nextafter((double)i, 0),
					       nextafter((double)i, 1e9) };

			for (int k = 0; k < 3; k++) {
				double x = xs[k];
				int64_t want = (int64_t)ceil(log(x) * inv_ln_gamma);

				checked += 2;
				if (key_of_one_value(q, x) != want)
					mismatches++;
				if (key_of_one_value(q, -x) != -want)
					mismatches++;
			}
		}
		st_qs_destroy(q);
	}
	printf("\n  integer keys: %llu values checked, %llu mismatches\n",
	       (unsigned long long)checked, (unsigned long long)mismatches);
	CU_ASSERT_EQUAL(mismatches, 0);
	CU_ASSERT_EQUAL(checked, 8ull * 4200 * 3 * 2);
}

ST_TEST_MAIN("dataplane/sketch/quantile",
	ST_TEST(test_accuracy_against_sort),
	ST_TEST(test_memory_at_defaults),
	ST_TEST(test_merge_equals_whole),
	ST_TEST(test_collapse_keeps_high_quantiles),
	ST_TEST(test_rejects_non_finite_and_negatives),
	ST_TEST(test_tiny_values_count_as_zero),
	ST_TEST(test_extreme_magnitudes),
	ST_TEST(test_empty_and_bad_ranks),
	ST_TEST(test_create_rejects_bad_arguments),
	ST_TEST(test_merge_rejects_mismatch),
	ST_TEST(test_serialize_round_trip),
	ST_TEST(test_validate_rejects_malformed),
	ST_TEST(test_corrupted_blobs_never_trusted),
	ST_TEST(test_merge_refuses_overflow),
	ST_TEST(test_integer_keys_equal_the_mapping))
