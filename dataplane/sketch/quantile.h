/*
 * Quantiles: DDSketch (Masson, Rim, Lee 2019, "DDSketch: a fast and fully-
 * mergeable quantile sketch with relative-error guarantees").  Values map to
 * logarithmic buckets of ratio gamma = (1+alpha)/(1-alpha); any quantile is
 * returned within relative error alpha of the true value at that rank, and
 * merging is exact (bucket-wise addition), so a merge of per-core sketches
 * equals the sketch of the whole stream.  Chosen over KLL because merges are
 * exact and deterministic, updates are one log and one increment, and record
 * sizes and latencies are read as relative figures.
 *
 * Positive values, negative values (a second store) and zero are kept; NaN
 * and infinities are rejected and counted.  The stores have a fixed bucket
 * budget; past it the lowest buckets collapse (the guarantee then holds for
 * quantiles above the collapsed range, see quantile.c).
 *
 * Serialized payload: documented in quantile.c beside the serializer (kind
 * ST_SKETCH_QUANTILE, version 1, not hashed).
 *
 * Thread safety: a sketch is owned by one thread.  Only create/deserialize
 * allocate.
 */
#ifndef ST_SKETCH_QUANTILE_H
#define ST_SKETCH_QUANTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ST_QS_ALPHA_DEFAULT 0.01
#define ST_QS_BINS_DEFAULT 1024  /* per store (positive, negative) */

struct st_qs;

/* alpha in [1e-9, 0.5] (below 1e-9 floating rounding in the mapping is no
 * longer small against alpha), max_bins in 16..65536; signed: keep a
 * negative store.  NULL with errno EINVAL or ENOMEM. */
struct st_qs *st_qs_create(double alpha, unsigned max_bins, bool is_signed);
void st_qs_destroy(struct st_qs *q);  /* NULL is a no-op */
void st_qs_reset(struct st_qs *q);

/* Adds a value.  NaN, ±inf, and negatives in an unsigned sketch are counted
 * as rejected and not added. */
void st_qs_update(struct st_qs *q, double value);

uint64_t st_qs_count(const struct st_qs *q);
uint64_t st_qs_rejected(const struct st_qs *q);
double st_qs_min(const struct st_qs *q);  /* exact; NaN when empty */
double st_qs_max(const struct st_qs *q);
double st_qs_sum(const struct st_qs *q);

/* Value at rank q in [0,1] (NaN when empty).  Bounds: the interval the true
 * value at that rank lies in, given alpha. */
double st_qs_estimate(const struct st_qs *q, double rank);
double st_qs_lower_bound(const struct st_qs *q, double rank);
double st_qs_upper_bound(const struct st_qs *q, double rank);
double st_qs_alpha(const struct st_qs *q);

/* dst := dst + src.  0, or -EINVAL if alpha, bins or signedness differ, or
 * -EOVERFLOW if the count or the rejected count would pass 2^64 - 1; dst is
 * unchanged on error. */
int st_qs_merge(struct st_qs *dst, const struct st_qs *src);

size_t st_qs_memory_bytes(const struct st_qs *q);
size_t st_qs_serialized_size(const struct st_qs *q);
ssize_t st_qs_serialize(const struct st_qs *q, void *buf, size_t cap);
int st_qs_validate(const void *buf, size_t len, const char **why);
struct st_qs *st_qs_deserialize(const void *buf, size_t len, const char **why);

#endif
