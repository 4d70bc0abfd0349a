/* Deterministic key streams: see keygen.h. */
#include <errno.h>
#include <math.h>

#include "tools/lib/keygen.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void st_rng_seed(struct st_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t st_rng_next(struct st_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double st_rng_uniform(struct st_rng *r)
{
	return (double)(st_rng_next(r) >> 11) * 0x1.0p-53;
}

/* log1p(x)/x and expm1(x)/x, continuous at 0. */
static double log1p_over_x(double x)
{
	return fabs(x) > 1e-8 ? log1p(x) / x : 1.0 - x / 2.0;
}

static double expm1_over_x(double x)
{
	return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x / 2.0;
}

/* H(x) = integral of x^-s, shifted so that the formulas hold for s = 1. */
static double zipf_h_integral(double s, double x)
{
	double lx = log(x);

	return expm1_over_x((1.0 - s) * lx) * lx;
}

static double zipf_h(double s, double x)
{
	return exp(-s * log(x));
}

static double zipf_h_integral_inverse(double s, double x)
{
	double t = x * (1.0 - s);

	if (t < -1.0)
		t = -1.0;
	return exp(log1p_over_x(t) * x);
}

int st_zipf_init(struct st_zipf *z, double s, uint64_t n)
{
	if (!(s > 0.0) || n < 1)
		return -EINVAL;
	z->s = s;
	z->n = n;
	z->h_x1 = zipf_h_integral(s, 1.5) - 1.0;
	z->h_n = zipf_h_integral(s, (double)n + 0.5);
	z->sv = 2.0 - zipf_h_integral_inverse(s, zipf_h_integral(s, 2.5) - zipf_h(s, 2.0));
	return 0;
}

uint64_t st_zipf_next(const struct st_zipf *z, struct st_rng *r)
{
	for (;;) {
		double u = z->h_n + st_rng_uniform(r) * (z->h_x1 - z->h_n);
		double x = zipf_h_integral_inverse(z->s, u);
		double kd = floor(x + 0.5);
		uint64_t k;

		if (kd < 1.0)
			kd = 1.0;
		else if (kd > (double)z->n)
			kd = (double)z->n;
		k = (uint64_t)kd;
		if (kd - x <= z->sv ||
		    u >= zipf_h_integral(z->s, kd + 0.5) - zipf_h(z->s, kd))
			return k;
	}
}
