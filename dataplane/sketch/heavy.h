/*
 * Heavy hitters: SpaceSaving (Metwally, Agrawal, El Abbadi 2005) with k
 * counters, each keeping the key's 64-bit hash, its count, its maximum
 * overestimation (error) and a sample of the key's first bytes for display.
 * Keys are identified by their hash.
 *
 * Guarantees for a stream of total weight N:
 *   - every key with true count > N/k is among the counters;
 *   - for a tracked key, count - error <= true count <= count;
 *   - error <= N/k (the minimum counter).
 * Merge follows the mergeable-summary construction for SpaceSaving (Agarwal
 * et al. 2012, "Mergeable Summaries"; Cafaro et al. 2016): the bound that
 * holds after merging summaries of N1 and N2 items is documented in heavy.c
 * and checked by the tests.
 *
 * Derived skew figures (st_hh_skew) use the counters, N and an estimate of
 * the number of distinct keys; heavy.c says how the untracked tail is
 * modelled.
 *
 * Serialized payload (after the 16-byte blob header, kind ST_SKETCH_HEAVY,
 * version 1, hashed): documented in heavy.c beside the serializer.
 *
 * Thread safety: a sketch is owned by one thread.  Only create/deserialize
 * allocate.
 */
#ifndef ST_SKETCH_HEAVY_H
#define ST_SKETCH_HEAVY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ST_HH_K_MIN 4
#define ST_HH_K_MAX 4096
#define ST_HH_K_DEFAULT 64
#define ST_HH_KEY_SAMPLE_BYTES 32

struct st_hh;

struct st_hh_item {
	uint64_t hash;
	uint64_t count;       /* upper bound of the key's true count */
	uint64_t error;       /* count - error is a lower bound */
	uint32_t key_len;     /* full length of the key as seen */
	uint8_t sample_len;   /* bytes of key[] that hold the key's prefix */
	uint8_t key[ST_HH_KEY_SAMPLE_BYTES];
};

struct st_skew {
	double top1_share;    /* estimated share of the most frequent key */
	double topk_share;    /* estimated share of the k most frequent keys */
	double entropy_norm;  /* Shannon entropy / ln(distinct), in [0,1] */
	double gini;          /* Gini coefficient of the key frequencies */
};

/* NULL with errno EINVAL (k outside ST_HH_K_MIN..MAX) or ENOMEM. */
struct st_hh *st_hh_create(unsigned k);
void st_hh_destroy(struct st_hh *hh);  /* NULL is a no-op */
void st_hh_reset(struct st_hh *hh);

/* Adds weight (>= 1) to the key whose hash is `hash`; key/key_len only feed
 * the sample.  Hot path: O(1) expected, no allocation. */
void st_hh_update(struct st_hh *hh, uint64_t hash, const void *key,
		  size_t key_len, uint64_t weight);

uint64_t st_hh_total(const struct st_hh *hh);     /* N */
unsigned st_hh_capacity(const struct st_hh *hh);  /* k */
/* Upper bound on any key's overestimation (the guarantee's N/k side). */
uint64_t st_hh_error_bound(const struct st_hh *hh);

/* Estimated count of a key (0 if untracked), and bounds on its true count. */
uint64_t st_hh_estimate(const struct st_hh *hh, uint64_t hash);
uint64_t st_hh_lower_bound(const struct st_hh *hh, uint64_t hash);
uint64_t st_hh_upper_bound(const struct st_hh *hh, uint64_t hash);

/* Up to max counters sorted by count (desc, then hash); returns how many. */
size_t st_hh_top(const struct st_hh *hh, struct st_hh_item *out, size_t max);

/* Skew figures given an estimate of the distinct keys (e.g. the HLL's).
 * 0, -ENODATA on an empty sketch, or -EINVAL if distinct is not finite and
 * >= 0. */
int st_hh_skew(const struct st_hh *hh, double distinct, struct st_skew *out);

/* dst := merge(dst, src).  0, -EINVAL if k differs or dst == src, or
 * -EOVERFLOW if N1 + N2 does not fit 64 bits (dst is then unchanged). */
int st_hh_merge(struct st_hh *dst, const struct st_hh *src);

size_t st_hh_memory_bytes(const struct st_hh *hh);
size_t st_hh_serialized_size(const struct st_hh *hh);
ssize_t st_hh_serialize(const struct st_hh *hh, void *buf, size_t cap);
int st_hh_validate(const void *buf, size_t len, const char **why);
struct st_hh *st_hh_deserialize(const void *buf, size_t len, const char **why);

#endif
