/*
 * JSON scanner, AVX-512BW build: the parser of json_scan.h with byte
 * classifiers over 64-byte blocks, compares straight into 64-bit masks.
 * The last partial block is a masked load (_mm512_maskz_loadu_epi8), which
 * reads and faults on none of the masked-off bytes.  May only run where
 * st_cpu_has(ST_SIMD_AVX512).
 */
#include <immintrin.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/json/json_internal.h"
#include "dataplane/sketch/hash.h"

#define JSON_TARGET __attribute__((target("avx512f,avx512bw,bmi,bmi2")))

JSON_TARGET static inline uint64_t string_stop_mask(__m512i v)
{
	return _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"')) |
	       _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\\')) |
	       _mm512_cmplt_epi8_mask(v, _mm512_set1_epi8(0x20));
}

JSON_TARGET static inline uint64_t not_ws_mask(__m512i v)
{
	return ~(_mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' ')) |
		 _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\t')) |
		 _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n')) |
		 _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r')));
}

#define BLOCK_RUN(mask_of)                                                    \
	do {                                                                  \
		uint64_t m, live;                                             \
		(void)doc;                                                    \
		while (end - p >= 64) {                                       \
			m = mask_of(_mm512_loadu_si512((const void *)p));     \
			if (m)                                                \
				return p + __builtin_ctzll(m);                \
			p += 64;                                              \
		}                                                             \
		if (p == end)                                                 \
			return end;                                           \
		live = _bzhi_u64(~0ull, (unsigned)(end - p));                 \
		m = mask_of(_mm512_maskz_loadu_epi8(live, p)) & live;         \
		return m ? p + __builtin_ctzll(m) : end;                      \
	} while (0)

JSON_TARGET static inline const uint8_t *json_string_run(const uint8_t *p,
							 const uint8_t *end,
							 const uint8_t *doc)
{
	BLOCK_RUN(string_stop_mask);
}

JSON_TARGET static inline const uint8_t *json_ws_run(const uint8_t *p,
						     const uint8_t *end,
						     const uint8_t *doc)
{
	BLOCK_RUN(not_ws_mask);
}

#define JSON_SCAN_NAME st_json_scan_avx512
#include "dataplane/json/json_scan.h"
