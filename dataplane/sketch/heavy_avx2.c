/*
 * AVX2 kernels of the heavy-hitter sketch (see heavy_simd.h for their
 * contract; the scalar references are in heavy.c).  Four 64-bit lanes per
 * compare.  AVX2 has no unsigned 64-bit compare: counts are compared as
 * signed after flipping their top bit, which preserves unsigned order.
 */
#include <immintrin.h>

#include "dataplane/sketch/heavy_simd.h"

#define ST_AVX2 __attribute__((target("avx2")))

static inline ST_AVX2 unsigned eq_bits(__m256i key, const uint64_t *p)
{
	__m256i eq = _mm256_cmpeq_epi64(key, _mm256_loadu_si256((const __m256i *)p));

	return (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(eq));
}

ST_AVX2 unsigned st_hh_find_avx2(const uint64_t *hash, unsigned n, uint64_t h)
{
	const __m256i key = _mm256_set1_epi64x((long long)h);

	for (unsigned i = 0; i < n; i += 16) {
		unsigned hit = eq_bits(key, hash + i) |
			       eq_bits(key, hash + i + 4) << 4 |
			       eq_bits(key, hash + i + 8) << 8 |
			       eq_bits(key, hash + i + 12) << 12;

		if (hit) {
			unsigned slot = i + (unsigned)__builtin_ctz(hit);

			return slot < n ? slot : n;
		}
	}
	return n;
}

/* All-ones in the lanes of the block at i that lie below n. */
static inline ST_AVX2 __m256i lanes_below(unsigned i, unsigned n)
{
	const __m256i lane = _mm256_set_epi64x(3, 2, 1, 0);
	long long left = n - i >= 4 ? 4 : (long long)(n - i);

	return _mm256_cmpgt_epi64(_mm256_set1_epi64x(left), lane);
}

/* For the 64 entries at p: bit j of *at set when p[j] == m, of *near when
 * p[j] == m or m1. */
static inline ST_AVX2 void eq_words(__m256i m, __m256i m1, const uint64_t *p,
				    uint64_t *at, uint64_t *near)
{
	uint64_t at_bits = 0, near_bits = 0;

	for (unsigned j = 0; j < 64; j += 4) {
		__m256i c = _mm256_loadu_si256((const __m256i *)(p + j));
		__m256i eq = _mm256_cmpeq_epi64(c, m);
		__m256i eq1 = _mm256_or_si256(eq, _mm256_cmpeq_epi64(c, m1));

		at_bits |= (uint64_t)_mm256_movemask_pd(_mm256_castsi256_pd(eq)) << j;
		near_bits |= (uint64_t)_mm256_movemask_pd(_mm256_castsi256_pd(eq1)) << j;
	}
	*at = at_bits;
	*near = near_bits;
}

/* lowest := the lane-wise minimum of lowest and c (both flipped). */
static inline ST_AVX2 __m256i min_flipped(__m256i lowest, __m256i c)
{
	return _mm256_blendv_epi8(lowest, c, _mm256_cmpgt_epi64(lowest, c));
}

ST_AVX2 void st_hh_min_slots_avx2(const uint64_t *count, unsigned n,
				  uint64_t *at_min, uint64_t *near_min, uint64_t *min)
{
	const __m256i flip = _mm256_set1_epi64x(INT64_MIN);
	__m256i lo0 = _mm256_set1_epi64x(INT64_MAX);  /* UINT64_MAX, flipped */
	__m256i lo1 = lo0, m;
	unsigned i = 0, words = ST_HH_MIN_WORDS(n);

	/* Two accumulators, eight counts a step. */
	for (; i + 8 <= n; i += 8) {
		lo0 = min_flipped(lo0, _mm256_xor_si256(
				_mm256_loadu_si256((const __m256i *)(count + i)), flip));
		lo1 = min_flipped(lo1, _mm256_xor_si256(
				_mm256_loadu_si256((const __m256i *)(count + i + 4)), flip));
	}
	for (; i < n; i += 4) {
		__m256i live = lanes_below(i, n);
		__m256i c = _mm256_xor_si256(_mm256_maskload_epi64(
				(const long long *)(count + i), live), flip);

		lo1 = min_flipped(lo1, _mm256_blendv_epi8(lo1, c, live));
	}
	lo0 = min_flipped(lo0, lo1);
	/* Across lanes: swap the 128-bit halves, then the 64-bit ones. */
	lo0 = min_flipped(lo0, _mm256_permute4x64_epi64(lo0, 0x4e));
	lo0 = min_flipped(lo0, _mm256_shuffle_epi32(lo0, 0x4e));
	m = _mm256_xor_si256(lo0, flip);  /* the minimum in every lane */
	*min = (uint64_t)_mm256_extract_epi64(m, 0);
	/* Whole words (the padding is read), the last one cut at n. */
	for (unsigned w = 0; w < words; w++)
		eq_words(m, _mm256_add_epi64(m, _mm256_set1_epi64x(1)), count + 64 * w,
			 &at_min[w], &near_min[w]);
	if (n % 64) {
		at_min[words - 1] &= (1ull << (n % 64)) - 1;
		near_min[words - 1] &= (1ull << (n % 64)) - 1;
	}
}
