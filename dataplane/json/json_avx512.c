/*
 * JSON scanner, AVX-512BW build: the parser of json_scan.h with the block
 * classifier of json_block.h, one 64-byte vector per block, compares
 * straight into 64-bit masks.  The last partial block is a masked load
 * (_mm512_maskz_loadu_epi8), which reads and faults on none of the
 * masked-off bytes.  May only run where st_cpu_has(ST_SIMD_AVX512).
 */
#include <immintrin.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/json/json_internal.h"
#include "dataplane/sketch/hash.h"

#define JSON_TARGET __attribute__((target("avx512f,avx512bw,bmi,bmi2")))

JSON_TARGET static inline void json_block_classify(const uint8_t *doc,
						   const uint8_t *end,
						   const uint8_t *base,
						   uint64_t *stop,
						   uint64_t *not_ws)
{
	size_t left = (size_t)(end - base);
	uint64_t live = left >= 64 ? ~0ull : _bzhi_u64(~0ull, (unsigned)left);
	__m512i v = left >= 64 ? _mm512_loadu_si512((const void *)base) :
				 _mm512_maskz_loadu_epi8(live, base);

	(void)doc;
	*stop = (_mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"')) |
		 _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\\')) |
		 _mm512_cmplt_epi8_mask(v, _mm512_set1_epi8(0x20))) & live;
	*not_ws = ~(_mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' ')) |
		    _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\t')) |
		    _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n')) |
		    _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r'))) & live;
}

/* For the lazy scan's container skipper (json_lazy.h): 64 bytes from
 * base (any byte of the document), bits past the end 0.  '[' | 0x20 is
 * '{', ']' | 0x20 is '}', and no other byte folds so. */
JSON_TARGET static inline void json_skip_masks(const uint8_t *doc,
					       const uint8_t *end,
					       const uint8_t *base,
					       uint64_t m[4])
{
	size_t left = (size_t)(end - base);
	uint64_t live = left >= 64 ? ~0ull : _bzhi_u64(~0ull, (unsigned)left);
	__m512i v = left >= 64 ? _mm512_loadu_si512((const void *)base) :
				 _mm512_maskz_loadu_epi8(live, base);
	__m512i folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));

	(void)doc;
	m[0] = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"')) & live;
	m[1] = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\\')) & live;
	m[2] = _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8('{')) & live;
	m[3] = _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8('}')) & live;
}
#define JSON_SKIP_SIMD 1

#include "dataplane/json/json_block.h"

#define JSON_SCAN_NAME st_json_scan_avx512
#define JSON_LAZY_NAME st_json_fields_avx512
#include "dataplane/json/json_scan.h"
