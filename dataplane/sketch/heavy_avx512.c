/*
 * AVX-512 kernels of the heavy-hitter sketch (see heavy_simd.h for their
 * contract; the scalar references are in heavy.c).  Eight 64-bit lanes per
 * compare: a k = 64 sketch is searched with eight compares and its minimum
 * found with eight unsigned mins.
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

ST_AVX512 unsigned st_hh_min_slots_avx512(const uint64_t *count, unsigned n,
					  uint16_t *slots, uint64_t *min)
{
	__m512i lowest = _mm512_set1_epi64(-1);
	unsigned found = 0;
	__m512i m;

	for (unsigned i = 0; i < n; i += 8) {
		__mmask8 live = lanes_below(i, n);

		lowest = _mm512_mask_min_epu64(lowest, live, lowest,
					       _mm512_maskz_loadu_epi64(live, count + i));
	}
	*min = _mm512_reduce_min_epu64(lowest);
	m = _mm512_set1_epi64((long long)*min);
	for (unsigned i = 0; i < n; i += 8) {
		__mmask8 live = lanes_below(i, n);
		unsigned eq = _mm512_mask_cmpeq_epi64_mask(live, m,
				_mm512_maskz_loadu_epi64(live, count + i));

		for (; eq; eq &= eq - 1)
			slots[found++] = (uint16_t)(i + (unsigned)__builtin_ctz(eq));
	}
	return found;
}
