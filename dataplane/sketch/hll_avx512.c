/*
 * HyperLogLog merge, AVX-512BW: 64 registers per _mm512_max_epu8, and one
 * masked load/max/store for a tail shorter than 64.  See hll_simd.h.
 */
#include <immintrin.h>

#include "dataplane/sketch/hll_simd.h"

__attribute__((target("avx512f,avx512bw")))
void st_hll_merge_avx512(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i = 0;

	for (; i + 64 <= n; i += 64) {
		__m512i a = _mm512_loadu_si512(dst + i);
		__m512i b = _mm512_loadu_si512(src + i);

		_mm512_storeu_si512(dst + i, _mm512_max_epu8(a, b));
	}
	if (i < n) {
		/* Masked-off bytes are neither read nor written. */
		__mmask64 k = (1ull << (n - i)) - 1;  /* n - i < 64 */
		__m512i a = _mm512_maskz_loadu_epi8(k, dst + i);
		__m512i b = _mm512_maskz_loadu_epi8(k, src + i);

		_mm512_mask_storeu_epi8(dst + i, k, _mm512_max_epu8(a, b));
	}
}
