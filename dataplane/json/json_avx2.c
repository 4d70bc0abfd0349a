/*
 * JSON scanner, AVX2 build: the parser of json_scan.h with byte classifiers
 * over 32-byte blocks.  A block's stop mask (quote, backslash, or a byte
 * that is < 0x20 or >= 0x80, both caught by one signed compare with 0x20)
 * becomes a bit mask; the first set bit is the next byte the parser must
 * look at.  The last partial block is read as the final 32 bytes of the
 * document, shifted, so no byte outside [doc, doc + len) is ever read;
 * documents shorter than 32 bytes use the scalar loop.  May only run where
 * st_cpu_has(ST_SIMD_AVX2).
 */
#include <immintrin.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/json/json_internal.h"
#include "dataplane/sketch/hash.h"

#define JSON_TARGET __attribute__((target("avx2,bmi,bmi2")))

JSON_TARGET static inline uint32_t string_stop_mask(const uint8_t *s)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)s);
	__m256i quote = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('"'));
	__m256i bslash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'));
	__m256i ctl_or_high = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v);

	return (uint32_t)_mm256_movemask_epi8(
		_mm256_or_si256(_mm256_or_si256(quote, bslash), ctl_or_high));
}

JSON_TARGET static inline uint32_t not_ws_mask(const uint8_t *s)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)s);
	__m256i ws = _mm256_or_si256(
		_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(' ')),
				_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t'))),
		_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n')),
				_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\r'))));

	return ~(uint32_t)_mm256_movemask_epi8(ws);
}

/* The first p' in [p, end) whose bit is set in `mask_of`'s blocks. */
#define BLOCK_RUN(mask_of, scalar_stop)                                       \
	do {                                                                  \
		uint32_t m;                                                   \
		while (end - p >= 32) {                                       \
			m = mask_of(p);                                       \
			if (m)                                                \
				return p + __builtin_ctz(m);                  \
			p += 32;                                              \
		}                                                             \
		if (p == end)                                                 \
			return end;                                           \
		if (end - doc >= 32) {                                        \
			const uint8_t *base = end - 32;                       \
			m = mask_of(base) >> (p - base);                      \
			return m ? p + __builtin_ctz(m) : end;                \
		}                                                             \
		while (p < end && !(scalar_stop))                             \
			p++;                                                  \
		return p;                                                     \
	} while (0)

JSON_TARGET static inline const uint8_t *json_string_run(const uint8_t *p,
							 const uint8_t *end,
							 const uint8_t *doc)
{
	BLOCK_RUN(string_stop_mask, st_json_string_stop[*p]);
}

JSON_TARGET static inline const uint8_t *json_ws_run(const uint8_t *p,
						     const uint8_t *end,
						     const uint8_t *doc)
{
	BLOCK_RUN(not_ws_mask,
		  *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r');
}

#define JSON_SCAN_NAME st_json_scan_avx2
#include "dataplane/json/json_scan.h"
