/*
 * HyperLogLog merge kernels (internal to the sketch library).  Each computes
 * the byte-wise unsigned maximum dst[i] = max(dst[i], src[i]) for i < n, for
 * any n and any alignment; dst may equal src.  The scalar one is the
 * reference; the AVX2 and AVX-512BW ones live in their own files, compiled
 * with __attribute__((target(...))), and may only be called when
 * st_cpu_has() reports that level.  st_hll_merge() picks one from
 * st_cpu_simd_level(); the tests call all of them and compare bit for bit.
 */
#ifndef ST_SKETCH_HLL_SIMD_H
#define ST_SKETCH_HLL_SIMD_H

#include <stddef.h>
#include <stdint.h>

void st_hll_merge_scalar(uint8_t *dst, const uint8_t *src, size_t n);
void st_hll_merge_avx2(uint8_t *dst, const uint8_t *src, size_t n);
void st_hll_merge_avx512(uint8_t *dst, const uint8_t *src, size_t n);

#endif
