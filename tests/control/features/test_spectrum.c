/*
 * Spectrum tests.
 *
 * Oracles come from outside spectrum.c: a naive O(n^2) DFT written here
 * from the definition in spectrum.h (twiddles reduced mod n, summed in long
 * double), series built with a known period (a tone of exactly c cycles
 * puts all its power in bin c; a square wave of period P ticks has its
 * fundamental, the strongest harmonic, in bin n / P), the distribution
 * theory of a white-noise periodogram (each bin exponential, a band of 4
 * bins Gamma(4, 1/4) after dividing by its mean, so the band flatness tends
 * to exp(psi(4) - ln 4) = 0.8779), and Hellinger distances worked by hand.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/features/spectrum.h"
#include "st_test.h"
#include "tools/lib/keygen.h"

static double gaussian(struct st_rng *r)
{
	double u1 = st_rng_uniform(r), u2 = st_rng_uniform(r);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

/* |sum_j (x_j - mean) e^{-2 pi i j k / n}|^2, from the definition. */
static double naive_power(const double *x, unsigned n, unsigned k)
{
	long double mean = 0, re = 0, im = 0;

	for (unsigned j = 0; j < n; j++)
		mean += x[j];
	mean /= n;
	for (unsigned j = 0; j < n; j++) {
		unsigned long long phase = (unsigned long long)j * k % n;
		long double a = 2.0L * M_PI * (long double)phase / n;

		re += (x[j] - mean) * cosl(a);
		im -= (x[j] - mean) * sinl(a);
	}
	return (double)(re * re + im * im);
}

static void check_against_naive(unsigned n, uint64_t seed)
{
	struct st_spectrum *sp = st_spectrum_create(n);
	struct st_spectrum_figures fig;
	double *x = malloc(sizeof(double) * n), max_p = 0, worst = 0;
	const double *p;
	struct st_rng r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	st_rng_seed(&r, seed);
	for (unsigned j = 0; j < n; j++)
		x[j] = floor(100 + 30 * gaussian(&r) + 20 * sin(2 * M_PI * j / 7.3));
	CU_ASSERT_EQUAL_FATAL(st_spectrum_compute(sp, x, 0.01, &fig), 0);
	p = st_spectrum_power(sp);
	for (unsigned k = 1; k <= n / 2; k++) {
		double ref = naive_power(x, n, k);

		max_p = fmax(max_p, ref);
		worst = fmax(worst, fabs(p[k] - ref));
	}
	/* relative to the spectrum's scale: 1e-9 */
	CU_ASSERT(worst <= 1e-9 * max_p);
	CU_ASSERT(fabs(p[0]) <= 1e-9 * max_p);
	CU_ASSERT_EQUAL(fig.bins, n / 2);
	free(x);
	st_spectrum_destroy(sp);
}

static void test_power_matches_naive_dft(void)
{
	check_against_naive(100, 1);
	check_against_naive(97, 2);    /* odd: no Nyquist bin */
	check_against_naive(64, 3);
	check_against_naive(1000, 4);
	check_against_naive(2, 5);
}

/* A tone of exactly 4 cycles in 100 ticks of 10 ms: bin 4, 0.25 s. */
static void test_sinusoid_dominant_period(void)
{
	double x[100];
	struct st_spectrum_figures fig;

	for (unsigned j = 0; j < 100; j++)
		x[j] = 50 + 40 * sin(2 * M_PI * 4 * j / 100.0);
	CU_ASSERT_EQUAL_FATAL(st_spectrum_analyze(x, 100, 0.01, &fig), 0);
	CU_ASSERT_EQUAL(fig.dominant_bin, 4);
	CU_ASSERT_DOUBLE_EQUAL(fig.dominant_period_s, 0.25, 1e-12);
	CU_ASSERT_EQUAL(fig.zero, 0);
	CU_ASSERT(fig.flatness < 1e-6);   /* one band holds the power */

	/* the same tone rounded to whole records per tick */
	for (unsigned j = 0; j < 100; j++)
		x[j] = round(50 + 40 * sin(2 * M_PI * 4 * j / 100.0));
	CU_ASSERT_EQUAL_FATAL(st_spectrum_analyze(x, 100, 0.01, &fig), 0);
	CU_ASSERT_EQUAL(fig.dominant_bin, 4);
	CU_ASSERT_DOUBLE_EQUAL(fig.dominant_period_s, 0.25, 1e-12);
}

/* Period 20 ticks (10 high, 10 low) in 100 ticks: bin 5, 0.2 s.  Period 8
 * ticks in 96: bin 12, 0.08 s. */
static void test_square_wave_dominant_period(void)
{
	double x[100];
	struct st_spectrum_figures fig;

	for (unsigned j = 0; j < 100; j++)
		x[j] = (j / 10) % 2 ? 20 : 80;
	CU_ASSERT_EQUAL_FATAL(st_spectrum_analyze(x, 100, 0.01, &fig), 0);
	CU_ASSERT_EQUAL(fig.dominant_bin, 5);
	CU_ASSERT_DOUBLE_EQUAL(fig.dominant_period_s, 0.2, 1e-12);
	for (unsigned j = 0; j < 96; j++)
		x[j] = (j / 4) % 2 ? 3 : 9;
	CU_ASSERT_EQUAL_FATAL(st_spectrum_analyze(x, 96, 0.01, &fig), 0);
	CU_ASSERT_EQUAL(fig.dominant_bin, 12);
	CU_ASSERT_DOUBLE_EQUAL(fig.dominant_period_s, 0.08, 1e-12);
}

/* Two tones of equal amplitude: the lower frequency wins. */
static void test_tie_goes_to_lower_frequency(void)
{
	double x[100];
	struct st_spectrum_figures fig;

	for (unsigned j = 0; j < 100; j++)
		x[j] = 10 * cos(2 * M_PI * 7 * j / 100.0) +
		       10 * cos(2 * M_PI * 3 * j / 100.0);
	CU_ASSERT_EQUAL_FATAL(st_spectrum_analyze(x, 100, 0.01, &fig), 0);
	CU_ASSERT_EQUAL(fig.dominant_bin, 3);
	CU_ASSERT_DOUBLE_EQUAL(fig.dominant_period_s, 1.0 / 3, 1e-12);
}

/* A constant: zero spectrum, flatness 1 by definition, no period, no
 * normalised spectrum. */
static void test_constant_is_zero_spectrum(void)
{
	double x[100], p[50];
	struct st_spectrum *sp = st_spectrum_create(100);
	struct st_spectrum_figures fig;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	for (unsigned j = 0; j < 100; j++)
		x[j] = 37;
	CU_ASSERT_EQUAL_FATAL(st_spectrum_compute(sp, x, 0.01, &fig), 0);
	CU_ASSERT_EQUAL(fig.zero, 1);
	CU_ASSERT_EQUAL(fig.dominant_bin, 0);
	CU_ASSERT_EQUAL(fig.dominant_period_s, 0);
	CU_ASSERT_EQUAL(fig.flatness, 1);
	CU_ASSERT_EQUAL(st_spectrum_normalized(sp, p, 50), -ENODATA);
	/* all zero too */
	for (unsigned j = 0; j < 100; j++)
		x[j] = 0;
	CU_ASSERT_EQUAL_FATAL(st_spectrum_compute(sp, x, 0.01, &fig), 0);
	CU_ASSERT_EQUAL(fig.zero, 1);
	CU_ASSERT_EQUAL(fig.flatness, 1);
	st_spectrum_destroy(sp);
}

/* White noise: band flatness near exp(psi(4) - ln 4) = 0.8779; a pure tone
 * of the same length near 0. */
static void test_white_noise_flat_tone_not(void)
{
	enum { N = 8192 };
	double *x = malloc(sizeof(double) * N);
	const double expected = exp(1.0 + 1.0 / 2 + 1.0 / 3 - 0.57721566490153286 - log(4.0));
	struct st_spectrum_figures fig;
	struct st_rng r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	st_rng_seed(&r, 42);
	for (unsigned j = 0; j < N; j++)
		x[j] = 1000 + 10 * gaussian(&r);
	CU_ASSERT_EQUAL_FATAL(st_spectrum_analyze(x, N, 0.001, &fig), 0);
	CU_ASSERT_DOUBLE_EQUAL(fig.flatness, expected, 0.03);
	CU_ASSERT(fig.flatness > 0.8);
	for (unsigned j = 0; j < N; j++)
		x[j] = 1000 + 10 * sin(2 * M_PI * 100 * j / (double)N);
	CU_ASSERT_EQUAL_FATAL(st_spectrum_analyze(x, N, 0.001, &fig), 0);
	CU_ASSERT(fig.flatness < 1e-6);
	CU_ASSERT_EQUAL(fig.dominant_bin, 100);
	free(x);
}

/* Hellinger: 0 for equal, 1 for disjoint, sqrt(1 - sqrt(1/2)) for
 * (1/2, 1/2) against (1, 0). */
static void test_hellinger_by_hand(void)
{
	double p[4] = { 0.25, 0.25, 0.25, 0.25 };
	double q[4] = { 1, 0, 0, 0 }, r[4] = { 0, 0, 0.5, 0.5 };
	double h[2] = { 0.5, 0.5 }, g[2] = { 1, 0 };

	CU_ASSERT_DOUBLE_EQUAL(st_spectrum_hellinger(p, p, 4), 0, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(st_spectrum_hellinger(q, r, 4), 1, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(st_spectrum_hellinger(h, g, 2),
			       sqrt(1 - sqrt(0.5)), 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(st_spectrum_hellinger(p, q, 4),
			       sqrt(1 - 0.5), 1e-12);
}

/* The normalised spectrum sums to 1 and is the power over its total. */
static void test_normalized_spectrum(void)
{
	double x[64], p[32], sum = 0, total = 0;
	struct st_spectrum *sp = st_spectrum_create(64);
	struct st_spectrum_figures fig;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	for (unsigned j = 0; j < 64; j++)
		x[j] = (j * 7919) % 13;
	CU_ASSERT_EQUAL_FATAL(st_spectrum_compute(sp, x, 1, &fig), 0);
	CU_ASSERT_EQUAL(st_spectrum_normalized(sp, p, 31), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(st_spectrum_normalized(sp, p, 32), 0);
	for (unsigned k = 1; k <= 32; k++)
		total += naive_power(x, 64, k);
	for (unsigned k = 0; k < 32; k++) {
		sum += p[k];
		CU_ASSERT_DOUBLE_EQUAL(p[k], naive_power(x, 64, k + 1) / total, 1e-12);
	}
	CU_ASSERT_DOUBLE_EQUAL(sum, 1, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(fig.power_total, total, 1e-9 * total);
	st_spectrum_destroy(sp);
}

/* A long series: one hour of 1 s rates with a 5-minute cycle. */
static void test_long_window_period(void)
{
	enum { N = 3600 };
	double *x = malloc(sizeof(double) * N);
	struct st_spectrum_figures fig;
	struct st_rng r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	st_rng_seed(&r, 7);
	for (unsigned j = 0; j < N; j++)
		x[j] = 5000 + 800 * sin(2 * M_PI * j / 300.0) + 50 * gaussian(&r);
	CU_ASSERT_EQUAL_FATAL(st_spectrum_analyze(x, N, 1.0, &fig), 0);
	CU_ASSERT_EQUAL(fig.dominant_bin, 12);
	CU_ASSERT_DOUBLE_EQUAL(fig.dominant_period_s, 300, 1e-9);
	free(x);
}

static void test_bad_arguments(void)
{
	double x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct st_spectrum_figures fig;
	struct st_spectrum *sp;

	errno = 0;
	CU_ASSERT_PTR_NULL(st_spectrum_create(1));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_spectrum_create(ST_SPECTRUM_N_MAX + 1));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(st_spectrum_analyze(x, 1, 1, &fig), -EINVAL);
	CU_ASSERT_EQUAL(st_spectrum_analyze(x, 8, 0, &fig), -EINVAL);
	CU_ASSERT_EQUAL(st_spectrum_analyze(x, 8, NAN, &fig), -EINVAL);
	sp = st_spectrum_create(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_EQUAL(st_spectrum_length(sp), 8);
	x[3] = NAN;
	CU_ASSERT_EQUAL(st_spectrum_compute(sp, x, 1, &fig), -EINVAL);
	x[3] = INFINITY;
	CU_ASSERT_EQUAL(st_spectrum_compute(sp, x, 1, &fig), -EINVAL);
	x[3] = 4;
	CU_ASSERT_EQUAL(st_spectrum_compute(sp, x, -1, &fig), -EINVAL);
	CU_ASSERT_EQUAL(st_spectrum_compute(sp, x, 1, &fig), 0);
	st_spectrum_destroy(sp);
	st_spectrum_destroy(NULL);
}

/* Workspaces made, used and freed by several threads at once share plans
 * and still give what one thread alone gives. */
struct worker {
	pthread_t tid;
	unsigned n;
	unsigned dominant_bin;
	int err;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	double x[240];
	struct st_spectrum_figures fig;

	for (unsigned round = 0; round < 50; round++) {
		struct st_spectrum *sp = st_spectrum_create(w->n);

		if (!sp) {
			w->err = -errno;
			return NULL;
		}
		for (unsigned j = 0; j < w->n; j++)
			x[j] = 10 + sin(2 * M_PI * 6 * j / (double)w->n);
		w->err = st_spectrum_compute(sp, x, 0.01, &fig);
		w->dominant_bin = fig.dominant_bin;
		st_spectrum_destroy(sp);
		if (w->err || w->dominant_bin != 6)
			return NULL;
	}
	return NULL;
}

static void test_threads_share_plans(void)
{
	struct worker w[4] = { { .n = 100 }, { .n = 100 }, { .n = 240 }, { .n = 128 } };

	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&w[i].tid, NULL, worker_run, &w[i]), 0);
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(w[i].tid, NULL);
		CU_ASSERT_EQUAL(w[i].err, 0);
		CU_ASSERT_EQUAL(w[i].dominant_bin, 6);
	}
}

ST_TEST_MAIN("control/features/spectrum",
	ST_TEST(test_power_matches_naive_dft),
	ST_TEST(test_sinusoid_dominant_period),
	ST_TEST(test_square_wave_dominant_period),
	ST_TEST(test_tie_goes_to_lower_frequency),
	ST_TEST(test_constant_is_zero_spectrum),
	ST_TEST(test_white_noise_flat_tone_not),
	ST_TEST(test_hellinger_by_hand),
	ST_TEST(test_normalized_spectrum),
	ST_TEST(test_long_window_period),
	ST_TEST(test_bad_arguments),
	ST_TEST(test_threads_share_plans))
