/*
 * CPU feature dispatch.  SIMD kernels are chosen once, when the program is
 * loaded (a constructor runs before main and before any thread exists), from
 * what __builtin_cpu_supports() reports.  Every SIMD kernel has a scalar
 * reference beside it; the tests call both and compare them bit for bit.
 *
 * SHADOWTAP_SIMD=scalar|avx2|avx512 in the environment caps the level (for
 * benchmarks and for testing the fallbacks on a machine that has more).
 */
#ifndef ST_CPU_H
#define ST_CPU_H

#include <stdbool.h>

enum st_simd_level {
	ST_SIMD_SCALAR = 0,
	ST_SIMD_AVX2 = 1,    /* AVX2 */
	ST_SIMD_AVX512 = 2,  /* AVX-512 F + BW + VL */
};

/* The level chosen at start-up.  Any thread, any time. */
enum st_simd_level st_cpu_simd_level(void);

/* What the CPU itself supports, ignoring SHADOWTAP_SIMD.  Any thread. */
bool st_cpu_has(enum st_simd_level level);

/* "scalar", "avx2" or "avx512". */
const char *st_simd_level_name(enum st_simd_level level);

#endif
