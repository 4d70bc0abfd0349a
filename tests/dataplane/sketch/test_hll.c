/*
 * HyperLogLog.  Oracles: exact distinct counts (keys distinct by
 * construction) and the published error 1.04/sqrt(m); the sketch of a union
 * built directly; a byte-wise max computed here; the byte layout written in
 * hll.h; the hash split and the estimator formula worked out by hand.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/cpu.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/hll.h"
#include "dataplane/sketch/hll_simd.h"
#include "dataplane/sketch/le.h"
#include "shadowtap/hash_id.h"
#include "shadowtap/sketch_blob.h"
#include "st_test.h"
#include "tools/lib/keygen.h"

/* Key groups, so that no two tests share a key range (accuracy uses 2..8). */
enum {
	GROUP_MERGE = 20,
	GROUP_SERIALIZE = 21,
	GROUP_RESET = 22,
};

/*
 * Hash of the 64-bit integer group:8 | trial:16 | index:40.  Keys with the
 * same group and trial and different indexes are distinct, so a stream of n
 * indexes has exactly n distinct keys.
 */
static uint64_t key_hash(uint64_t group, uint64_t trial, uint64_t index)
{
	uint64_t key = group << 56 | trial << 40 | index;

	return st_hash64(&key, sizeof(key));
}

static void add_range(struct st_hll *h, uint64_t group, uint64_t trial,
		      uint64_t first, uint64_t end)
{
	for (uint64_t i = first; i < end; i++)
		st_hll_update(h, key_hash(group, trial, i));
}

static size_t registers_of(unsigned p)
{
	return (size_t)1 << p;
}

/* ---- accuracy ---------------------------------------------------------- */

struct accuracy_case {
	unsigned exp10;         /* n = 10^exp10 distinct keys */
	unsigned trials;
	unsigned allowed_out3;  /* trials allowed outside 3 sigma, see below */
};

/*
 * sigma = 1.04/sqrt(m).  Even a perfect estimator lands outside 3 sigma in
 * some trials: 0.27% of them for a normal error, and more at n = 100, where
 * the error counts whole keys lost to index collisions (about Poisson with
 * mean n^2/2m, skewed): for p = 14, 3 sigma is 3 collisions where 0.3 are
 * expected, P = 0.37%.  So, with 0.4% per trial:
 *   - no trial, ever, outside 5 sigma (P < 2e-5 per trial at n = 100, p = 14);
 *   - outside 3 sigma at most k of T trials, k the smallest count that
 *     Binomial(T, 0.004) exceeds with probability < 0.1%: 3 of 100 (7e-4),
 *     2 of 30 (2.4e-4), 1 of 10 (7e-4); none when T < 10;
 *   - with T >= 10, the mean relative error (bias) within 3 sigma/sqrt(T).
 */
static const struct accuracy_case accuracy_cases[] = {
	{ 2, 100, 3 }, { 3, 100, 3 }, { 4, 100, 3 }, { 5, 30, 2 },
	{ 6, 10, 1 }, { 7, 3, 0 }, { 8, 1, 0 },
};

static void check_accuracy(unsigned p)
{
	struct st_hll *h = st_hll_create(p);
	double sigma = 1.04 / sqrt((double)registers_of(p));

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	printf("\n  %10s %3s %6s %12s %12s %12s %9s %6s %9s\n", "n", "p", "trials",
	       "mean relerr", "rms relerr", "max |relerr|", "3 sigma", "out3s", "bias lim");
	for (size_t c = 0; c < ST_ARRAY_SIZE(accuracy_cases); c++) {
		const struct accuracy_case *ac = &accuracy_cases[c];
		uint64_t n = 1;
		double sum = 0, sum_sq = 0, max_abs = 0, mean;
		double bias_limit = 3 * sigma / sqrt((double)ac->trials);
		unsigned out3 = 0;

		for (unsigned e = 0; e < ac->exp10; e++)
			n *= 10;
		for (unsigned t = 0; t < ac->trials; t++) {
			double rel;

			st_hll_reset(h);
			add_range(h, ac->exp10, t, 0, n);
			rel = st_hll_estimate(h) / (double)n - 1.0;
			sum += rel;
			sum_sq += rel * rel;
			max_abs = fmax(max_abs, fabs(rel));
			if (fabs(rel) > 3 * sigma) {
				out3++;
				printf("  outside 3 sigma: n=%llu p=%u trial=%u relerr=%+.5f\n",
				       (unsigned long long)n, p, t, rel);
			}
		}
		mean = sum / ac->trials;
		printf("  %10llu %3u %6u %+12.5f %12.5f %12.5f %9.5f %3u/%-2u ",
		       (unsigned long long)n, p, ac->trials, mean,
		       sqrt(sum_sq / ac->trials), max_abs, 3 * sigma, out3,
		       ac->allowed_out3);
		if (ac->trials >= 10)
			printf("%9.5f\n", bias_limit);
		else
			printf("%9s\n", "-");
		CU_ASSERT(max_abs <= 5 * sigma);
		CU_ASSERT(out3 <= ac->allowed_out3);
		if (ac->trials >= 10) {
			CU_ASSERT(fabs(mean) <= bias_limit);
		}
	}
	fflush(stdout);
	st_hll_destroy(h);
}

static void test_accuracy_p12(void)
{
	check_accuracy(12);
}

static void test_accuracy_p14(void)
{
	check_accuracy(14);
}

/* ---- update: the hash split -------------------------------------------- */

/* Only register idx is set, to rank. */
static bool only_register(const struct st_hll *h, size_t idx, unsigned rank)
{
	const uint8_t *regs = st_hll_registers(h);

	for (size_t i = 0; i < registers_of(st_hll_precision(h)); i++)
		if (regs[i] != (i == idx ? rank : 0))
			return false;
	return true;
}

/*
 * Index = top p bits; rank = leading zeros of the low q = 64 - p bits + 1,
 * q + 1 when they are all zero; a register keeps its maximum.
 */
static void test_update_hash_split(void)
{
	for (unsigned p = ST_HLL_P_MIN; p <= ST_HLL_P_MAX; p++) {
		struct st_hll *h = st_hll_create(p);
		unsigned q = 64 - p;
		size_t idxs[] = { 0, 5, registers_of(p) - 1 };

		CU_ASSERT_PTR_NOT_NULL_FATAL(h);
		for (size_t j = 0; j < ST_ARRAY_SIZE(idxs); j++) {
			uint64_t top = (uint64_t)idxs[j] << q;

			for (unsigned zeros = 0; zeros < q; zeros++) {
				st_hll_reset(h);
				/* Set bits below the first one must not matter. */
				st_hll_update(h, top | 1ull << (q - 1 - zeros) |
						 ((1ull << (q - 1 - zeros)) - 1));
				CU_ASSERT(only_register(h, idxs[j], zeros + 1));
			}
			st_hll_reset(h);
			st_hll_update(h, top);
			CU_ASSERT(only_register(h, idxs[j], q + 1));

			st_hll_reset(h);
			st_hll_update(h, top | 1ull << (q - 5));  /* rank 5 */
			st_hll_update(h, top | 1ull << (q - 3));  /* rank 3 */
			CU_ASSERT(only_register(h, idxs[j], 5));
		}
		st_hll_destroy(h);
	}
}

/* ---- estimator and bounds on hand-made registers ----------------------- */

/* A valid blob for precision p with every register set to value. */
static uint8_t *uniform_blob(unsigned p, uint8_t value, size_t *len)
{
	size_t m = registers_of(p);
	uint8_t *blob = calloc(1, 24 + m);

	if (!blob)
		return NULL;
	blob[0] = ST_SKETCH_HLL;
	blob[1] = 1;
	blob[2] = ST_HASH_ID;
	st_put_le32(blob + 4, (uint32_t)(24 + m));
	st_put_le64(blob + 8, ST_HASH_SEED);
	blob[16] = (uint8_t)p;
	memset(blob + 24, value, m);
	*len = 24 + m;
	return blob;
}

/*
 * All m registers equal to k, 1 <= k <= q: C[0] = C[q+1] = 0, so sigma(0) =
 * tau(1) = 0 and the estimate is alpha_inf m^2 / (m 2^-k) = m 2^k / (2 ln 2).
 * All registers at q + 1: the denominator is 0, the estimate infinite.
 */
static void test_estimate_closed_forms(void)
{
	for (unsigned p = ST_HLL_P_MIN; p <= ST_HLL_P_MAX; p++) {
		for (unsigned k = 1; k <= 65 - p; k++) {
			size_t len = 0;
			uint8_t *blob = uniform_blob(p, (uint8_t)k, &len);
			struct st_hll *h;
			double est, want;

			CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
			h = st_hll_deserialize(blob, len, NULL);
			CU_ASSERT_PTR_NOT_NULL_FATAL(h);
			est = st_hll_estimate(h);
			want = ldexp((double)registers_of(p), (int)k) / (2 * log(2.0));
			if (k <= 64 - p) {
				CU_ASSERT(fabs(est / want - 1) < 1e-12);
			} else {
				CU_ASSERT(isinf(est));
			}
			st_hll_destroy(h);
			free(blob);
		}
	}
}

/* Ertl's sigma and tau, summed here term by term from their definitions. */
static long double series_sigma(long double x)
{
	long double sum = x;

	for (int k = 1; k < 64; k++)
		sum += powl(x, ldexpl(1, k)) * ldexpl(1, k - 1);
	return sum;
}

static long double series_tau(long double x)
{
	long double sum = 1 - x;

	for (int k = 1; k < 64; k++)
		sum -= powl(1 - powl(x, ldexpl(1, -k)), 2) * ldexpl(1, -k);
	return sum / 3;
}

/* Registers: the first half at `low`, the second half at `high`. */
static struct st_hll *two_level_sketch(unsigned p, uint8_t low, uint8_t high)
{
	size_t len = 0, m = registers_of(p);
	uint8_t *blob = uniform_blob(p, low, &len);
	struct st_hll *h;

	if (!blob)
		return NULL;
	memset(blob + 24 + m / 2, high, m / 2);
	h = st_hll_deserialize(blob, len, NULL);
	free(blob);
	return h;
}

/*
 * The two correction terms on their own.  Half the registers 0 and half 1:
 * E = alpha_inf m^2 / (m sigma(1/2) + (m/2) 2^-1).  Half q and half q + 1:
 * E = alpha_inf m^2 / ((m/2) 2^-q + m tau(1/2) 2^-q).
 */
static void test_estimate_sigma_and_tau_terms(void)
{
	for (unsigned p = ST_HLL_P_MIN; p <= ST_HLL_P_MAX; p++) {
		long double m = registers_of(p), alpha_inf = 1 / (2 * logl(2));
		unsigned q = 64 - p;
		struct st_hll *small = two_level_sketch(p, 0, 1);
		struct st_hll *large = two_level_sketch(p, (uint8_t)q, (uint8_t)(q + 1));
		long double want_small, want_large;

		CU_ASSERT_FATAL(small && large);
		want_small = alpha_inf * m * m / (m * series_sigma(0.5L) + m / 4);
		want_large = alpha_inf * m * m /
			     (ldexpl(m / 2, -(int)q) + ldexpl(m * series_tau(0.5L), -(int)q));
		CU_ASSERT(fabsl(st_hll_estimate(small) / want_small - 1) < 1e-12L);
		CU_ASSERT(fabsl(st_hll_estimate(large) / want_large - 1) < 1e-12L);
		st_hll_destroy(large);
		st_hll_destroy(small);
	}
}

static void test_bounds_follow_the_formula(void)
{
	struct st_hll *h = st_hll_create(12);
	double est, rse = 1.04 / 64.0;  /* m = 4096 */

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(st_hll_estimate(h), 0.0);
	CU_ASSERT_EQUAL(st_hll_lower_bound(h, 2), 0.0);
	CU_ASSERT_EQUAL(st_hll_upper_bound(h, 2), 0.0);
	add_range(h, GROUP_RESET, 1, 0, 50000);
	est = st_hll_estimate(h);
	CU_ASSERT(est > 0);
	CU_ASSERT(fabs(st_hll_lower_bound(h, 2) - est * (1 - 2 * rse)) <= 1e-9 * est);
	CU_ASSERT(fabs(st_hll_upper_bound(h, 2) - est * (1 + 2 * rse)) <= 1e-9 * est);
	CU_ASSERT_EQUAL(st_hll_lower_bound(h, 0), est);
	CU_ASSERT_EQUAL(st_hll_upper_bound(h, 0), est);
	/* 1 - 100 * 0.01625 < 0: clamped. */
	CU_ASSERT_EQUAL(st_hll_lower_bound(h, 100), 0.0);
	st_hll_destroy(h);
}

/* ---- merge ------------------------------------------------------------- */

/* A = keys [0, 3m), B = keys [2m, 5m): merge(A, B) and merge(B, A) = sketch of [0, 5m). */
static void test_merge_equals_union(void)
{
	for (unsigned p = ST_HLL_P_MIN; p <= ST_HLL_P_MAX; p++) {
		size_t m = registers_of(p);
		struct st_hll *a = st_hll_create(p), *b = st_hll_create(p);
		struct st_hll *b_copy = st_hll_create(p), *u = st_hll_create(p);
		struct st_hll *empty = st_hll_create(p);

		CU_ASSERT_FATAL(a && b && b_copy && u && empty);
		add_range(a, GROUP_MERGE, p, 0, 3 * m);
		add_range(b, GROUP_MERGE, p, 2 * m, 5 * m);
		add_range(b_copy, GROUP_MERGE, p, 2 * m, 5 * m);
		add_range(u, GROUP_MERGE, p, 0, 5 * m);
		/* The overlap is real: the inputs differ from the union. */
		CU_ASSERT(memcmp(st_hll_registers(a), st_hll_registers(u), m) != 0);
		CU_ASSERT(memcmp(st_hll_registers(b), st_hll_registers(u), m) != 0);

		CU_ASSERT_EQUAL(st_hll_merge(b, a), 0);
		CU_ASSERT(memcmp(st_hll_registers(b), st_hll_registers(u), m) == 0);
		CU_ASSERT_EQUAL(st_hll_merge(a, b_copy), 0);
		CU_ASSERT(memcmp(st_hll_registers(a), st_hll_registers(u), m) == 0);
		CU_ASSERT_EQUAL(st_hll_estimate(a), st_hll_estimate(u));

		/* Idempotent, with itself and with the empty sketch. */
		CU_ASSERT_EQUAL(st_hll_merge(a, a), 0);
		CU_ASSERT_EQUAL(st_hll_merge(a, empty), 0);
		CU_ASSERT(memcmp(st_hll_registers(a), st_hll_registers(u), m) == 0);
		CU_ASSERT_EQUAL(st_hll_merge(empty, u), 0);
		CU_ASSERT(memcmp(st_hll_registers(empty), st_hll_registers(u), m) == 0);

		st_hll_destroy(empty);
		st_hll_destroy(u);
		st_hll_destroy(b_copy);
		st_hll_destroy(b);
		st_hll_destroy(a);
	}
}

static void test_merge_other_precision_is_einval(void)
{
	struct st_hll *a = st_hll_create(12), *b = st_hll_create(13);
	uint8_t before[4096];

	CU_ASSERT_FATAL(a && b);
	add_range(a, GROUP_MERGE, 100, 0, 1000);
	add_range(b, GROUP_MERGE, 101, 0, 1000);
	memcpy(before, st_hll_registers(a), sizeof(before));
	CU_ASSERT_EQUAL(st_hll_merge(a, b), -EINVAL);
	CU_ASSERT_EQUAL(st_hll_merge(b, a), -EINVAL);
	CU_ASSERT(memcmp(before, st_hll_registers(a), sizeof(before)) == 0);
	st_hll_destroy(b);
	st_hll_destroy(a);
}

/* ---- SIMD kernels against the scalar reference ------------------------- */

struct merge_kernel {
	const char *name;
	void (*fn)(uint8_t *dst, const uint8_t *src, size_t n);
	enum st_simd_level level;
};

static const struct merge_kernel merge_kernels[] = {
	{ "scalar", st_hll_merge_scalar, ST_SIMD_SCALAR },
	{ "avx2", st_hll_merge_avx2, ST_SIMD_AVX2 },
	{ "avx512", st_hll_merge_avx512, ST_SIMD_AVX512 },
};

#define GUARD_BYTES 64
#define GUARD_VALUE 0xa5

/*
 * Random arrays of n bytes in 0..max_value at dst/src offsets `misalign`
 * from a cache line: every kernel the CPU has gives the byte-wise max
 * computed here, and the scalar reference's bytes exactly, and writes
 * nothing past n.
 */
static void check_kernels(struct st_rng *r, size_t n, unsigned max_value, size_t misalign)
{
	size_t alloc = misalign + n + GUARD_BYTES;
	uint8_t *a = malloc(n + 1), *src_base = aligned_alloc(64, (alloc + 63) / 64 * 64);
	uint8_t *want = malloc(n + 1), *scalar_out = malloc(n + 1);
	uint8_t *dst_base = aligned_alloc(64, (alloc + 63) / 64 * 64);
	uint8_t *src, *dst;

	CU_ASSERT_FATAL(a && src_base && want && scalar_out && dst_base);
	src = src_base + misalign;
	dst = dst_base + misalign;
	for (size_t i = 0; i < n; i++) {
		a[i] = (uint8_t)(st_rng_next(r) % (max_value + 1));
		src[i] = (uint8_t)(st_rng_next(r) % (max_value + 1));
		want[i] = a[i] > src[i] ? a[i] : src[i];
	}
	for (size_t k = 0; k < ST_ARRAY_SIZE(merge_kernels); k++) {
		if (!st_cpu_has(merge_kernels[k].level))
			continue;
		memset(dst_base, GUARD_VALUE, alloc);
		memcpy(dst, a, n);
		merge_kernels[k].fn(dst, src, n);
		CU_ASSERT(memcmp(dst, want, n) == 0);
		for (size_t g = 0; g < GUARD_BYTES; g++)
			CU_ASSERT_EQUAL(dst[n + g], GUARD_VALUE);
		if (k == 0) {
			memcpy(scalar_out, dst, n);
		} else {
			CU_ASSERT(memcmp(dst, scalar_out, n) == 0);
		}
	}
	free(dst_base);
	free(scalar_out);
	free(want);
	free(src_base);
	free(a);
}

static void test_simd_merge_matches_scalar(void)
{
	static const size_t odd_lengths[] = { 0, 1, 31, 32, 33, 63, 64, 65, 127, 1031 };
	struct st_rng r;

	st_rng_seed(&r, 0x4c4c48);
	for (size_t k = 0; k < ST_ARRAY_SIZE(merge_kernels); k++)
		printf("\n  kernel %-6s %s", merge_kernels[k].name,
		       st_cpu_has(merge_kernels[k].level) ? "tested" : "not supported here, skipped");
	printf("\n");
	/* Register arrays of every precision, with their real value range. */
	for (unsigned p = ST_HLL_P_MIN; p <= ST_HLL_P_MAX; p++)
		for (int rep = 0; rep < 4; rep++)
			check_kernels(&r, registers_of(p), 65 - p, 0);
	/* Tails, misalignment and the full unsigned byte range. */
	for (size_t i = 0; i < ST_ARRAY_SIZE(odd_lengths); i++)
		for (size_t misalign = 0; misalign < 4; misalign++)
			check_kernels(&r, odd_lengths[i], 255, misalign);
}

/* ---- serialized form --------------------------------------------------- */

static void test_serialize_round_trip(void)
{
	for (unsigned p = ST_HLL_P_MIN; p <= ST_HLL_P_MAX; p++) {
		size_t m = registers_of(p), len = 16 + 8 + m;
		struct st_hll *h = st_hll_create(p), *d;
		uint8_t *buf = malloc(len);
		const char *why = NULL;

		CU_ASSERT_FATAL(h && buf);
		add_range(h, GROUP_SERIALIZE, p, 0, 4 * m);
		CU_ASSERT_EQUAL(st_hll_serialized_size(h), len);
		CU_ASSERT_EQUAL(st_hll_serialize(h, buf, len - 1), -ENOSPC);
		CU_ASSERT_EQUAL(st_hll_serialize(h, buf, len), (ssize_t)len);

		/* The layout of sketch_blob.h and hll.h, byte by byte. */
		CU_ASSERT_EQUAL(buf[0], ST_SKETCH_HLL);
		CU_ASSERT_EQUAL(buf[1], 1);
		CU_ASSERT_EQUAL(buf[2], ST_HASH_ID);
		CU_ASSERT_EQUAL(buf[3], 0);
		CU_ASSERT_EQUAL(st_get_le32(buf + 4), len);
		CU_ASSERT_EQUAL(st_get_le64(buf + 8), ST_HASH_SEED);
		CU_ASSERT_EQUAL(buf[16], p);
		for (size_t i = 17; i < 24; i++)
			CU_ASSERT_EQUAL(buf[i], 0);
		CU_ASSERT(memcmp(buf + 24, st_hll_registers(h), m) == 0);

		CU_ASSERT_EQUAL(st_hll_validate(buf, len, &why), 0);
		d = st_hll_deserialize(buf, len, &why);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		CU_ASSERT_EQUAL(st_hll_precision(d), p);
		CU_ASSERT(memcmp(st_hll_registers(d), st_hll_registers(h), m) == 0);
		CU_ASSERT_EQUAL(st_hll_estimate(d), st_hll_estimate(h));
		st_hll_destroy(d);
		free(buf);
		st_hll_destroy(h);
	}
}

/* Validation fails with -EINVAL and exactly this reason. */
static bool rejected_for(const void *blob, size_t len, const char *reason)
{
	const char *why = NULL;
	int err = st_hll_validate(blob, len, &why);

	if (err == -EINVAL && why && strcmp(why, reason) == 0)
		return true;
	printf("\n  expected \"%s\", got %d \"%s\"", reason, err, why ? why : "(none)");
	return false;
}

static void test_validate_rejects_each_field(void)
{
	struct st_hll *h = st_hll_create(12);
	size_t len = 16 + 8 + 4096;
	uint8_t *good = malloc(len), *bad = malloc(len + 4096);
	const char *why = NULL;

	CU_ASSERT_FATAL(h && good && bad);
	add_range(h, GROUP_SERIALIZE, 1000, 0, 20000);
	CU_ASSERT_EQUAL_FATAL(st_hll_serialize(h, good, len), (ssize_t)len);
	CU_ASSERT_EQUAL(st_hll_validate(good, len, NULL), 0);

	/* Shorter than the header; container shorter than the stated length. */
	CU_ASSERT(rejected_for(good, 15, "blob shorter than its header"));
	CU_ASSERT(rejected_for(good, len - 1, "blob length does not match its container"));
	/* Header and stated length agree, but no room for the payload header. */
	memcpy(bad, good, len);
	st_put_le32(bad + 4, 20);
	CU_ASSERT(rejected_for(bad, 20, "hll blob shorter than its payload header"));

	memcpy(bad, good, len);
	bad[0] = ST_SKETCH_HEAVY;
	CU_ASSERT(rejected_for(bad, len, "blob of another sketch kind"));
	memcpy(bad, good, len);
	bad[1] = 2;
	CU_ASSERT(rejected_for(bad, len, "unsupported blob version"));
	memcpy(bad, good, len);
	bad[2] = 0;
	CU_ASSERT(rejected_for(bad, len, "blob built with another hash or seed"));
	memcpy(bad, good, len);
	st_put_le64(bad + 8, ST_HASH_SEED ^ 1);
	CU_ASSERT(rejected_for(bad, len, "blob built with another hash or seed"));
	memcpy(bad, good, len);
	bad[3] = 1;
	CU_ASSERT(rejected_for(bad, len, "blob reserved byte not zero"));
	for (size_t i = 17; i < 24; i++) {
		memcpy(bad, good, len);
		bad[i] = 0x80;
		CU_ASSERT(rejected_for(bad, len, "hll reserved byte not zero"));
	}
	memcpy(bad, good, len);
	bad[16] = 9;
	CU_ASSERT(rejected_for(bad, len, "hll precision out of range"));
	memcpy(bad, good, len);
	bad[16] = 17;
	CU_ASSERT(rejected_for(bad, len, "hll precision out of range"));
	/* p = 13 in a blob sized for p = 12, header length consistent. */
	memcpy(bad, good, len);
	bad[16] = 13;
	CU_ASSERT(rejected_for(bad, len, "hll blob length is not that of 2^p registers"));
	/* One register too many. */
	memset(bad, 0, len + 1);
	memcpy(bad, good, len);
	st_put_le32(bad + 4, (uint32_t)(len + 1));
	CU_ASSERT(rejected_for(bad, len + 1, "hll blob length is not that of 2^p registers"));

	/* Registers: q + 1 = 53 is the largest value allowed, first or last. */
	memcpy(bad, good, len);
	bad[24] = 53;
	bad[len - 1] = 53;
	CU_ASSERT_EQUAL(st_hll_validate(bad, len, NULL), 0);
	bad[24] = 54;
	CU_ASSERT(rejected_for(bad, len, "hll register above 65 - p"));
	bad[24] = 0;
	bad[len - 1] = 255;
	CU_ASSERT(rejected_for(bad, len, "hll register above 65 - p"));

	/* deserialize refuses what validate refuses. */
	errno = 0;
	CU_ASSERT_PTR_NULL(st_hll_deserialize(bad, len, &why));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(why && strcmp(why, "hll register above 65 - p") == 0);

	free(bad);
	free(good);
	st_hll_destroy(h);
}

/* Every truncation of a valid blob, in a buffer of exactly that size
 * (ASan would report any read past it), is rejected. */
static void test_validate_truncations_in_bounds(void)
{
	struct st_hll *h = st_hll_create(10);
	size_t len = 16 + 8 + 1024;
	uint8_t *good = malloc(len);

	CU_ASSERT_FATAL(h && good);
	add_range(h, GROUP_SERIALIZE, 2000, 0, 5000);
	CU_ASSERT_EQUAL_FATAL(st_hll_serialize(h, good, len), (ssize_t)len);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *t = malloc(cut ? cut : 1);
		const char *why = NULL;

		CU_ASSERT_FATAL(t != NULL);
		memcpy(t, good, cut);
		/* Also with the stated length made to match the cut. */
		if (cut >= 8)
			st_put_le32(t + 4, (uint32_t)cut);
		CU_ASSERT_EQUAL(st_hll_validate(t, cut, &why), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(why);
		free(t);
	}
	free(good);
	st_hll_destroy(h);
}

/* ---- life cycle -------------------------------------------------------- */

static void test_create_rejects_bad_precision(void)
{
	static const unsigned bad[] = { 0, 9, 17, 64, UINT_MAX };

	for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
		errno = 0;
		CU_ASSERT_PTR_NULL(st_hll_create(bad[i]));
		CU_ASSERT_EQUAL(errno, EINVAL);
	}
	st_hll_destroy(NULL);
}

static void test_create_layout_and_reset(void)
{
	for (unsigned p = ST_HLL_P_MIN; p <= ST_HLL_P_MAX; p++) {
		size_t m = registers_of(p);
		struct st_hll *h = st_hll_create(p);
		const uint8_t *regs;
		size_t nonzero = 0;

		CU_ASSERT_PTR_NOT_NULL_FATAL(h);
		regs = st_hll_registers(h);
		CU_ASSERT_EQUAL(st_hll_precision(h), p);
		CU_ASSERT_EQUAL((uintptr_t)regs % 64, 0);
		CU_ASSERT(st_hll_memory_bytes(h) >= m);
		CU_ASSERT(st_hll_memory_bytes(h) <= m + 128);
		for (size_t i = 0; i < m; i++)
			CU_ASSERT_EQUAL_FATAL(regs[i], 0);
		CU_ASSERT_EQUAL(st_hll_estimate(h), 0.0);

		add_range(h, GROUP_RESET, p, 0, m);
		for (size_t i = 0; i < m; i++)
			nonzero += regs[i] != 0;
		CU_ASSERT(nonzero > m / 2);
		CU_ASSERT(st_hll_estimate(h) > 0);
		st_hll_reset(h);
		for (size_t i = 0; i < m; i++)
			CU_ASSERT_EQUAL_FATAL(regs[i], 0);
		CU_ASSERT_EQUAL(st_hll_estimate(h), 0.0);
		st_hll_destroy(h);
	}
}

ST_TEST_MAIN("dataplane/sketch/hll",
	ST_TEST(test_create_rejects_bad_precision),
	ST_TEST(test_create_layout_and_reset),
	ST_TEST(test_update_hash_split),
	ST_TEST(test_estimate_closed_forms),
	ST_TEST(test_estimate_sigma_and_tau_terms),
	ST_TEST(test_bounds_follow_the_formula),
	ST_TEST(test_merge_equals_union),
	ST_TEST(test_merge_other_precision_is_einval),
	ST_TEST(test_simd_merge_matches_scalar),
	ST_TEST(test_serialize_round_trip),
	ST_TEST(test_validate_rejects_each_field),
	ST_TEST(test_validate_truncations_in_bounds),
	ST_TEST(test_accuracy_p12),
	ST_TEST(test_accuracy_p14))
