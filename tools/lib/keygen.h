/*
 * Deterministic key streams for tests, benchmarks and the demo: a small PRNG
 * (splitmix64 seeding xoshiro256**, Blackman & Vigna 2018) and a Zipf(s, n)
 * sampler over ranks 1..n by rejection-inversion (Hörmann & Derflinger 1996,
 * "Rejection-inversion to generate variates from monotone discrete
 * distributions"), O(1) expected per sample for any s > 0, no tables.
 */
#ifndef ST_TOOLS_KEYGEN_H
#define ST_TOOLS_KEYGEN_H

#include <stdint.h>

struct st_rng {
	uint64_t s[4];
};

void st_rng_seed(struct st_rng *r, uint64_t seed);
uint64_t st_rng_next(struct st_rng *r);
/* Uniform double in [0, 1). */
double st_rng_uniform(struct st_rng *r);

struct st_zipf {
	double s;
	uint64_t n;
	double h_x1, h_n, sv;
};

/* s > 0, n >= 1.  Returns 0 or -EINVAL. */
int st_zipf_init(struct st_zipf *z, double s, uint64_t n);
/* A rank in 1..n; rank 1 is the most frequent. */
uint64_t st_zipf_next(const struct st_zipf *z, struct st_rng *r);

#endif
