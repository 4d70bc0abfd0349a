/*
 * JSON scanner, AVX2 build: the parser of json_scan.h with the block
 * classifier of json_block.h, each 64-byte block read as two 32-byte
 * vectors.  One signed compare with 0x20 catches both the bytes < 0x20 and
 * those >= 0x80.  The last partial block is read as the document's final 64
 * bytes, shifted; a document shorter than 64 bytes is copied once into a
 * padded block on the stack; so no byte outside [doc, end) is ever read.
 * May only run where st_cpu_has(ST_SIMD_AVX2).
 */
#include <immintrin.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/json/json_internal.h"
#include "dataplane/sketch/hash.h"

#define JSON_TARGET __attribute__((target("avx2,bmi,bmi2")))

JSON_TARGET static inline void classify32(const uint8_t *s, uint32_t *stop,
					  uint32_t *ws)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)s);
	__m256i quote = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('"'));
	__m256i bslash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'));
	__m256i ctl_or_high = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v);
	__m256i space = _mm256_or_si256(
		_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(' ')),
				_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t'))),
		_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n')),
				_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\r'))));

	*stop = (uint32_t)_mm256_movemask_epi8(
		_mm256_or_si256(_mm256_or_si256(quote, bslash), ctl_or_high));
	*ws = (uint32_t)_mm256_movemask_epi8(space);
}

JSON_TARGET static inline void classify64(const uint8_t *s, uint64_t *stop,
					  uint64_t *not_ws)
{
	uint32_t s0, s1, w0, w1;

	classify32(s, &s0, &w0);
	classify32(s + 32, &s1, &w1);
	*stop = (uint64_t)s1 << 32 | s0;
	*not_ws = ~((uint64_t)w1 << 32 | w0);
}

JSON_TARGET static inline void json_block_classify(const uint8_t *doc,
						   const uint8_t *end,
						   const uint8_t *base,
						   uint64_t *stop,
						   uint64_t *not_ws)
{
	size_t left = (size_t)(end - base);

	if (left >= 64) {
		classify64(base, stop, not_ws);
	} else if (end - doc >= 64) {
		unsigned shift = (unsigned)(64 - left);  /* 1..63 */

		classify64(end - 64, stop, not_ws);
		*stop >>= shift;
		*not_ws >>= shift;
	} else {
		uint8_t block[64];

		memcpy(block, base, left);
		memset(block + left, ' ', 64 - left);
		classify64(block, stop, not_ws);
		*not_ws &= (1ull << left) - 1;
	}
}

#include "dataplane/json/json_block.h"

#define JSON_SCAN_NAME st_json_scan_avx2
#define JSON_LAZY_NAME st_json_fields_avx2
#include "dataplane/json/json_scan.h"
