/*
 * AVX-512 kernels of the heavy-hitter sketch (see heavy_simd.h for their
 * contract; the scalar references are in heavy.c).  Eight 64-bit lanes per
 * compare: a k = 64 sketch is searched with eight compares and its minimum
 * found with eight unsigned mins; the slots holding it come out of eight
 * compares as one 64-bit mask.
 */
#include <immintrin.h>

#include "dataplane/sketch/heavy_simd.h"

#define ST_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

ST_AVX512 unsigned st_hh_find_avx512(const uint64_t *hash, unsigned n, uint64_t h)
{
	const __m512i key = _mm512_set1_epi64((long long)h);

	for (unsigned i = 0; i < n; i += 32) {
		/*
		 * The four 8-lane masks are joined in mask registers (kunpck)
		 * and moved out once.  Widening each __mmask8 with a C cast
		 * and shifting it was miscompiled by gcc 12 at -O1 with UBSan
		 * (a byte spill reloaded as 8 bytes), giving a wrong slot.
		 */
		__mmask16 lo = _mm512_kunpackb(
			_mm512_cmpeq_epi64_mask(key, _mm512_loadu_si512(hash + i + 8)),
			_mm512_cmpeq_epi64_mask(key, _mm512_loadu_si512(hash + i)));
		__mmask16 hi = _mm512_kunpackb(
			_mm512_cmpeq_epi64_mask(key, _mm512_loadu_si512(hash + i + 24)),
			_mm512_cmpeq_epi64_mask(key, _mm512_loadu_si512(hash + i + 16)));
		uint32_t hit = _cvtmask32_u32(_mm512_kunpackw(hi, lo));

		if (hit) {
			unsigned slot = i + (unsigned)__builtin_ctz(hit);

			return slot < n ? slot : n;
		}
	}
	return n;
}

/* Lanes of the block at i that lie below n. */
static inline __mmask8 lanes_below(unsigned i, unsigned n)
{
	return n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
}

/* Lanes of the 8 entries at p that are m (below 2 after subtracting m when
 * near: m or m + 1). */
static inline ST_AVX512 __mmask8 eq8(__m512i m, const uint64_t *p, int near)
{
	__m512i c = _mm512_loadu_si512(p);

	return near ? _mm512_cmplt_epu64_mask(_mm512_sub_epi64(c, m), _mm512_set1_epi64(2)) :
		      _mm512_cmpeq_epi64_mask(m, c);
}

/* The eight 8-lane masks of the 64 entries at p as one word, joined in mask
 * registers (as above). */
static inline ST_AVX512 uint64_t eq_word(__m512i m, const uint64_t *p, int near)
{
	__mmask16 a = _mm512_kunpackb(eq8(m, p + 8, near), eq8(m, p, near));
	__mmask16 b = _mm512_kunpackb(eq8(m, p + 24, near), eq8(m, p + 16, near));
	__mmask16 c = _mm512_kunpackb(eq8(m, p + 40, near), eq8(m, p + 32, near));
	__mmask16 d = _mm512_kunpackb(eq8(m, p + 56, near), eq8(m, p + 48, near));

	return _cvtmask64_u64(_mm512_kunpackd(_mm512_kunpackw(d, c), _mm512_kunpackw(b, a)));
}

ST_AVX512 void st_hh_min_slots_avx512(const uint64_t *count, unsigned n,
				      uint64_t *at_min, uint64_t *near_min, uint64_t *min)
{
	__m512i lowest = _mm512_set1_epi64(-1);
	unsigned i, words = ST_HH_MIN_WORDS(n);
	__m512i m;

	for (i = 0; i + 8 <= n; i += 8)
		lowest = _mm512_min_epu64(lowest, _mm512_loadu_si512(count + i));
	if (i < n) {
		__mmask8 live = lanes_below(i, n);

		lowest = _mm512_mask_min_epu64(lowest, live, lowest,
					       _mm512_maskz_loadu_epi64(live, count + i));
	}
	*min = _mm512_reduce_min_epu64(lowest);
	m = _mm512_set1_epi64((long long)*min);
	/* Whole words (the padding is read), the last one cut at n. */
	for (unsigned w = 0; w < words; w++) {
		at_min[w] = eq_word(m, count + 64 * w, 0);
		near_min[w] = eq_word(m, count + 64 * w, 1);
	}
	if (n % 64) {
		at_min[words - 1] &= (1ull << (n % 64)) - 1;
		near_min[words - 1] &= (1ull << (n % 64)) - 1;
	}
}
