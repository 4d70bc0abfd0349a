/*
 * HyperLogLog distinct counting over 64-bit hashes, precision p = 10..16
 * (m = 2^p registers, one byte each so that merge is a byte-wise max that
 * vectorises).  Estimator: Ertl 2017, "New cardinality estimation algorithms
 * for HyperLogLog sketches" (the improved raw estimator with its sigma/tau
 * small- and large-range corrections; no empirical bias tables).
 *
 * Serialized payload (after the 16-byte blob header, kind ST_SKETCH_HLL,
 * version 1, hashed):
 *   off size
 *     0    1 precision p (10..16)
 *     1    7 reserved, must be 0
 *     8  2^p registers, each 0..65-p
 *
 * Thread safety: a sketch is owned by one thread; distinct sketches may be
 * used concurrently.  No call allocates except create/deserialize.
 */
#ifndef ST_SKETCH_HLL_H
#define ST_SKETCH_HLL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ST_HLL_P_MIN 10
#define ST_HLL_P_MAX 16
#define ST_HLL_P_DEFAULT 12

struct st_hll;

/* New empty sketch.  NULL with errno EINVAL (p out of range) or ENOMEM. */
struct st_hll *st_hll_create(unsigned p);
/* Frees; NULL is a no-op. */
void st_hll_destroy(struct st_hll *h);
/* Back to empty. */
void st_hll_reset(struct st_hll *h);

/* Adds one hashed key (see hash.h).  Hot path: no allocation, no branch on p. */
void st_hll_update(struct st_hll *h, uint64_t hash);

/* Estimated number of distinct keys. */
double st_hll_estimate(const struct st_hll *h);
/* estimate -/+ num_sigma * 1.04/sqrt(m) relative standard error (lower >= 0). */
double st_hll_lower_bound(const struct st_hll *h, double num_sigma);
double st_hll_upper_bound(const struct st_hll *h, double num_sigma);

/* dst := dst ∪ src, register-wise max (SIMD).  0, or -EINVAL if p differs. */
int st_hll_merge(struct st_hll *dst, const struct st_hll *src);

unsigned st_hll_precision(const struct st_hll *h);
/* The 2^p registers, read-only. */
const uint8_t *st_hll_registers(const struct st_hll *h);
/* Bytes this sketch occupies in memory, handle included. */
size_t st_hll_memory_bytes(const struct st_hll *h);

/* Exact size of the blob st_hll_serialize() writes. */
size_t st_hll_serialized_size(const struct st_hll *h);
/* Writes the blob; bytes written, or -ENOSPC if cap is too small. */
ssize_t st_hll_serialize(const struct st_hll *h, void *buf, size_t cap);
/* Checks a blob completely: 0, or -EINVAL and a static reason in *why. */
int st_hll_validate(const void *buf, size_t len, const char **why);
/* New sketch from a blob; NULL with errno EINVAL (and *why) or ENOMEM. */
struct st_hll *st_hll_deserialize(const void *buf, size_t len, const char **why);

#endif
