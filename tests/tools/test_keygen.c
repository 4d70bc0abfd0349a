/*
#include <errno.h>
 * Key generator: the Zipf sampler's rank frequencies against the exact Zipf
 * probabilities p(k) = k^-s / H(n, s), computed here by direct summation.
 */
#include <math.h>
#include <stdlib.h>

#include "st_test.h"
#include "tools/lib/keygen.h"

static void check_zipf(double s, uint64_t n, unsigned samples)
{
	struct st_zipf z;
	struct st_rng r;
	uint64_t *hist = calloc(n + 1, sizeof(*hist));
	double norm = 0;

	CU_ASSERT_FATAL(hist != NULL);
	CU_ASSERT_EQUAL_FATAL(st_zipf_init(&z, s, n), 0);
	st_rng_seed(&r, 42);
	for (unsigned i = 0; i < samples; i++) {
		uint64_t k = st_zipf_next(&z, &r);

		CU_ASSERT_FATAL(k >= 1 && k <= n);
		hist[k]++;
	}
	for (uint64_t k = 1; k <= n; k++)
		norm += pow((double)k, -s);
	/* The first ranks: observed within 5 binomial standard deviations. */
	for (uint64_t k = 1; k <= 10; k++) {
		double p = pow((double)k, -s) / norm;
		double sd = sqrt(samples * p * (1 - p));

		CU_ASSERT(fabs((double)hist[k] - samples * p) <= 5 * sd);
	}
	free(hist);
}

static void test_zipf_matches_exact_probabilities(void)
{
	check_zipf(0.8, 1000, 1000000);
	check_zipf(1.0, 1000, 1000000);
	check_zipf(1.1, 100000, 1000000);
	check_zipf(1.5, 100000, 1000000);
}

static void test_zipf_rejects_bad_parameters(void)
{
	struct st_zipf z;

	CU_ASSERT_EQUAL(st_zipf_init(&z, 0.0, 10), -EINVAL);
	CU_ASSERT_EQUAL(st_zipf_init(&z, 1.1, 0), -EINVAL);
	CU_ASSERT_EQUAL(st_zipf_init(&z, NAN, 10), -EINVAL);
}

static void test_rng_uniform_range_and_mean(void)
{
	struct st_rng r;
	double sum = 0;

	st_rng_seed(&r, 7);
	for (int i = 0; i < 1000000; i++) {
		double u = st_rng_uniform(&r);

		CU_ASSERT_FATAL(u >= 0.0 && u < 1.0);
		sum += u;
	}
	/* sd of the mean of 1e6 uniforms is 0.000289 */
	CU_ASSERT(fabs(sum / 1e6 - 0.5) < 0.0015);
}

ST_TEST_MAIN("tools/keygen",
	ST_TEST(test_zipf_matches_exact_probabilities),
	ST_TEST(test_zipf_rejects_bad_parameters),
	ST_TEST(test_rng_uniform_range_and_mean))
