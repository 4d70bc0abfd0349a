/* HyperLogLog merge, AVX2: 32 registers per _mm256_max_epu8.  See hll_simd.h. */
#include <immintrin.h>

#include "dataplane/sketch/hll_simd.h"

__attribute__((target("avx2")))
void st_hll_merge_avx2(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i = 0;

	for (; i + 32 <= n; i += 32) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(dst + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(src + i));

		_mm256_storeu_si256((__m256i *)(dst + i), _mm256_max_epu8(a, b));
	}
	/* Registers come in multiples of 1024; the tail serves other lengths. */
	for (; i < n; i++)
		dst[i] = dst[i] > src[i] ? dst[i] : src[i];
}
