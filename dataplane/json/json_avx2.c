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

/* For the lazy scan's container skipper (json_lazy.h): 64 bytes from
 * base (any byte of the document), bits past the end 0. */
JSON_TARGET static inline void skip32(const uint8_t *s, uint32_t *quote,
				      uint32_t *bslash, uint32_t *opens,
				      uint32_t *closes)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)s);
	__m256i folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));

	*quote = (uint32_t)_mm256_movemask_epi8(
		_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')));
	*bslash = (uint32_t)_mm256_movemask_epi8(
		_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
	/* '[' | 0x20 is '{', ']' | 0x20 is '}', and nothing else folds so */
	*opens = (uint32_t)_mm256_movemask_epi8(
		_mm256_cmpeq_epi8(folded, _mm256_set1_epi8('{')));
	*closes = (uint32_t)_mm256_movemask_epi8(
		_mm256_cmpeq_epi8(folded, _mm256_set1_epi8('}')));
}

JSON_TARGET static inline void json_skip_masks(const uint8_t *doc,
					       const uint8_t *end,
					       const uint8_t *base,
					       uint64_t m[4])
{
	size_t left = (size_t)(end - base);
	uint32_t lo[4], hi[4];
	unsigned shift = 0;
	const uint8_t *s = base;
	uint8_t block[64];

	if (left < 64 && end - doc >= 64) {
		shift = (unsigned)(64 - left);
		s = end - 64;
	} else if (left < 64) {
		memcpy(block, base, left);
		memset(block + left, ' ', 64 - left);
		s = block;
	}
	skip32(s, &lo[0], &lo[1], &lo[2], &lo[3]);
	skip32(s + 32, &hi[0], &hi[1], &hi[2], &hi[3]);
	for (int i = 0; i < 4; i++)
		m[i] = ((uint64_t)hi[i] << 32 | lo[i]) >> shift;
}
#define JSON_SKIP_SIMD 1

#include "dataplane/json/json_block.h"

#define JSON_SCAN_NAME st_json_scan_avx2
#define JSON_LAZY_NAME st_json_fields_avx2
#include "dataplane/json/json_scan.h"
