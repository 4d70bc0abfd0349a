/*
 * The two kernels behind the heavy-hitter sketch's update (heavy.c), each
 * with a scalar reference (heavy.c) and AVX2 / AVX-512 variants
 * (heavy_avx2.c, heavy_avx512.c).  The tests compare every variant with the
 * scalar reference bit for bit.
 *
 *   find:      the first slot i < n whose hash equals h, or n.
 *   min_slots: the minimum m of count[0..n), the set of slots i < n with
 *              count[i] == m and the set of those with count[i] == m or
 *              m + 1 (mod 2^64), as bitmaps: bit i % 64 of word i / 64.  It
 *              writes all ST_HH_MIN_WORDS(n) words of both; bits n and above
 *              are 0.
 *
 * Both may read (never write) up to ST_HH_SIMD_PAD - 1 entries past n, so
 * the arrays they scan are allocated rounded up to ST_HH_SIMD_PAD entries;
 * what those extra entries hold never changes the result.  n >= 1 for
 * min_slots, n <= ST_HH_K_MAX for both.
 *
 * A sketch picks its kernel set once, at create/deserialize, from
 * st_cpu_simd_level().
 */
#ifndef ST_SKETCH_HEAVY_SIMD_H
#define ST_SKETCH_HEAVY_SIMD_H

#include <stdint.h>

#include "dataplane/cpu.h"

/* 64: min_slots compares whole 64-slot words of the bitmap it fills. */
#define ST_HH_SIMD_PAD 64u
#define ST_HH_MIN_WORDS(n) (((n) + 63u) / 64u)

typedef unsigned (*st_hh_find_fn)(const uint64_t *hash, unsigned n, uint64_t h);
typedef void (*st_hh_min_slots_fn)(const uint64_t *count, unsigned n,
				   uint64_t *at_min, uint64_t *near_min,
				   uint64_t *min);

struct st_hh_kernels {
	st_hh_find_fn find;
	st_hh_min_slots_fn min_slots;
};

unsigned st_hh_find_scalar(const uint64_t *hash, unsigned n, uint64_t h);
unsigned st_hh_find_avx2(const uint64_t *hash, unsigned n, uint64_t h);
unsigned st_hh_find_avx512(const uint64_t *hash, unsigned n, uint64_t h);

void st_hh_min_slots_scalar(const uint64_t *count, unsigned n, uint64_t *at_min,
			    uint64_t *near_min, uint64_t *min);
void st_hh_min_slots_avx2(const uint64_t *count, unsigned n, uint64_t *at_min,
			  uint64_t *near_min, uint64_t *min);
void st_hh_min_slots_avx512(const uint64_t *count, unsigned n, uint64_t *at_min,
			    uint64_t *near_min, uint64_t *min);

/* The kernel set for a level; the CPU must support that level. */
const struct st_hh_kernels *st_hh_kernels_for(enum st_simd_level level);

#endif
