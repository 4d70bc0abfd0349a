/*
 * Heavy hitters: SpaceSaving (Metwally, Agrawal, El Abbadi 2005, "Efficient
 * computation of frequent and top-k elements in data streams") over 64-bit
 * key hashes, with weighted updates, mergeable summaries and derived skew
 * figures.
 *
 * Algorithm.  k counters {hash, count, error, key sample}.  A key that holds
 * a counter adds its weight to it.  A new key takes a free counter (count =
 * weight, error = 0) or, when all k are taken, the counter with the minimum
 * count m: count = m + weight, error = m, and its key sample is replaced.
 * Ties for the minimum go to the lowest slot, so the state after a stream is
 * a function of the stream alone, whatever SIMD level ran it.
 *
 * Layout and speed.  Slots are a structure of arrays: hash[] and count[] are
 * separate cache-aligned arrays (what every update reads), error[] and the
 * samples are touched only when a key enters.
 *   - Finding a key's slot: a bucket table, 16 buckets per counter indexed
 *     by the hash's top bits, holds for each bucket how many tracked keys
 *     fall in it and a hint, the slot of the last one seen there.  An empty
 *     bucket is a miss; a hinted slot holding the hash is a hit; a bucket
 *     with one key whose hinted slot still belongs to the bucket but holds
 *     another hash is a miss.  Only the rest (a bucket shared by two keys,
 *     about 1 key in 16, or a hint left behind by an eviction) falls back to
 *     a SIMD compare of the whole hash array (AVX-512: 8 lanes a compare, a
 *     k = 64 sketch in 8 compares; AVX2: 4 lanes).  Expected cost: O(1)
 *     plus O(k) vector compares with probability about 1/16 per update.
 *   - Finding the minimum: a SIMD pass returns the minimum m and every slot
 *     holding it, as a bitmap (one 64-bit word per 64 slots, so that the
 *     pass emits a word per 64 compares, not a store per slot).  Those
 *     slots are handed out one per eviction, lowest bit first; a
 *     slot whose count moved since is skipped (counts only grow, so a slot
 *     still at m holds the global minimum, and taking them in ascending
 *     order gives exactly "the lowest slot holding the minimum").  On a
 *     heavy-tailed stream most counters share the minimum, so one pass
 *     serves many evictions.  The pass also returns the slots at m or
 *     m + 1: once none is left at m, those hold every slot at m + 1 and are
 *     walked the same way before the next pass (on a near-uniform stream,
 *     where each round of evictions lifts the minimum by one, that halves
 *     the passes).
 *   The kernels (heavy_simd.h) are picked once per sketch, at create, from
 *   st_cpu_simd_level(); the scalar references are below and the tests
 *   compare every variant with them, and the whole sketch with a textbook
 *   SpaceSaving, bit for bit.
 *
 *   Chosen by measurement: a throwaway program, each layout inlined in the
 *   loop, 10^7 updates of Zipf(s) over 10^6 keys, hashes precomputed, AMD
 *   EPYC (Zen 4), one core, best of 5, million updates/s:
 *                                  k=64 s=0.8  s=1.1  s=1.5   k=1024 s=0.8  s=1.1  s=1.5
 *     SIMD scan + SIMD argmin           28     32     86             6     11     54
 *     SIMD scan + min list              85     68    116            15     21     63
 *     probed index + min list           28     37    116            29     52    213
 *     probed index + min-heap           18     25     73            14     28    109
 *     buckets + SIMD scan + min list   170    116    231           131    120    273
 *   (the probed index: linear probing, load 1/2, backward-shift deletion.)
 *   Through st_hh_update() as then built, with a list of the minimum's
 *   slots in place of today's bitmaps (k=64: 129, 97, 202; k=1024: 102,
 *   101, 150; k=4096: 84, 102, 177), the SIMD level mattered little: the
 *   scan had become the rare path.  Not measured again since.
 *
 * Guarantees (heavy.h) for a stream of total weight N; with m the minimum
 * count when all k counters are taken, else 0:
 *   (a) sum of counts <= N, with equality for a sketch never merged and for
 *       any sketch with a free counter;
 *   (b) a tracked key: count - error <= true count <= count, error <= m;
 *   (c) an untracked key: true count <= m;
 *   (d) m <= (sum of counts) / k <= N / k.
 * So every key with true count > N/k is tracked and every error is <= N/k.
 * An eviction sets error = m and counts only grow, hence (b); (c) and (d)
 * are the classic argument.  A sketch with a free counter has never
 * evicted: its counts are exact and its errors zero.
 *
 * Merge (Agarwal et al. 2012, "Mergeable summaries"; Cafaro, Pulimeno,
 * Tempesta 2016, "A parallel space saving algorithm for frequent items and
 * the Hurwitz zeta distribution").  Summaries A (N1) and B (N2) with minima
 * m1, m2 as above: every key of either gets count cA + cB and error eA + eB,
 * where a summary lacking the key contributes its m to both; the k largest
 * counts are kept (ties: smaller hash first).  Bound after the merge, with
 * N = N1 + N2, the same as for one stream of weight N:
 *   - (b): lower bounds add, a missing side adds m - m = 0 to the lower
 *     bound and m >= its true count to the upper bound;
 *   - every merged count is >= m1 + m2, so the new minimum m' >= m1 + m2 >=
 *     every merged error, and a key left out (dropped or in neither
 *     summary) has true count <= m1 + m2 <= m' (c);
 *   - (a): the kept counts sum to at most N1 + N2 (each kept key's borrowed
 *     m is paid for by a counter of the other summary that was left out,
 *     itself >= m), hence m' <= N/k (d): error <= (N1 + N2)/k.
 * These are the invariants the validator checks.
 *
 * Skew figures (st_hh_skew).  The head: every counter whose lower bound
 * count - error exceeds m holds a key that is certainly above m, and every
 * key above m is tracked, so these h keys are ranks 1..h; each is valued at
 * the middle of its bounds (its error is < its lower bound, so within a
 * factor 2 and in practice far less).  The tail: ranks h+1..D (D = the
 * distinct estimate, at least the tracked keys) carry the remaining mass
 * R = N - head mass and are modelled by a power law f(r) = C (r/h)^-s,
 * continuous with the h-th head value (C = f(h)) and carrying exactly R:
 *     sum_{r=h+1}^{D} (r/h)^-s = R / f(h)
 * is decreasing in s and is solved by bisection (s = 0, flat, when R is too
 * large even for a flat tail below f(h); s <= 64).  C is then set from the
 * mass so that the figures always add up to N.  With h = 0 (no key resolved
 * above m) the law runs from rank 1, anchored at the largest count, which is
 * then only an upper bound of the top key: the top-1 and top-k figures are
 * upper estimates on streams with no key above N/k.
 * The tail sums of r^-s, r^-s ln r (entropy) and r^(1-s) (the Lorenz area,
 * Gini) use their first terms exactly and the Euler-Maclaurin formula for
 * the rest, so their cost does not depend on D.
 *   top1_share  = largest head value / N
 *   topk_share  = (head mass + modelled ranks h+1..k) / N
 *   entropy     = -sum p ln p / ln D,   p = f / N
 *   gini        = (D + 1)/D - 2 sum_r r f(r) / (D N)   (ranks descending)
 * A sketch with a free counter knows every key exactly: the figures are
 * then exact and the distinct estimate is not used.
 *
 * Serialized payload: see the comment above st_hh_serialize().
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/cpu.h"
#include "dataplane/sketch/blob.h"
#include "dataplane/sketch/heavy.h"
#include "dataplane/sketch/heavy_simd.h"

/* Buckets per counter: a key shares its bucket with another 1 time in 16. */
#define ST_HH_BUCKETS_PER_SLOT 16u

struct hh_sample {
	uint32_t key_len;
	uint8_t len;
	uint8_t bytes[ST_HH_KEY_SAMPLE_BYTES];
};

struct st_hh {
	/* Read by every update. */
	uint64_t *hash;           /* [k, padded] slot hashes */
	uint64_t *count;          /* [k, padded] slot counts; 0 in free slots */
	uint16_t *bucket_keys;    /* [1 << bucket_bits] keys whose hash falls here */
	uint16_t *bucket_hint;    /* [1 << bucket_bits] a slot that held such a key */
	st_hh_find_fn find;       /* kern->find, one load closer */
	const struct st_hh_kernels *kern;
	uint64_t total;           /* N */
	unsigned k;
	unsigned used;            /* slots 0..used-1 hold keys */
	unsigned bucket_shift;    /* bucket = hash >> bucket_shift */
	unsigned bucket_bits;

	/* Read when a key enters. */
	uint64_t *error;          /* [k] */
	struct hh_sample *sample; /* [k] */
	uint64_t min_count;
	uint64_t min_left;        /* slots of word min_next - 1 not handed out */
	size_t min_base;          /* the slot of min_left's bit 0 */
	unsigned min_next;        /* next word of min_walk[]; >= words: done */
	bool min_near_next;       /* min_near[] is to be walked at min_count + 1 */
	const uint64_t *min_walk; /* min_bits or min_near */
	uint64_t *min_bits;       /* [words] slots at the minimum m at the scan */
	uint64_t *min_near;       /* [words] slots at m or m + 1 at the scan */

	/* Merge scratch, so that merge does not allocate. */
	uint16_t *order;          /* [2k] */
	uint64_t *taken;          /* [k bits] src slots matched in dst */
	uint64_t *dropped;        /* [k bits] dst slots left out */
	size_t bytes;
};

/* ---- Kernels: scalar references and the per-level sets ---- */

unsigned st_hh_find_scalar(const uint64_t *hash, unsigned n, uint64_t h)
{
	for (unsigned i = 0; i < n; i++)
		if (hash[i] == h)
			return i;
	return n;
}

void st_hh_min_slots_scalar(const uint64_t *count, unsigned n, uint64_t *at_min,
			    uint64_t *near_min, uint64_t *min)
{
	uint64_t lowest = UINT64_MAX;

	for (unsigned i = 0; i < n; i++)
		if (count[i] < lowest)
			lowest = count[i];
	memset(at_min, 0, ST_HH_MIN_WORDS(n) * sizeof(uint64_t));
	memset(near_min, 0, ST_HH_MIN_WORDS(n) * sizeof(uint64_t));
	for (unsigned i = 0; i < n; i++) {
		if (count[i] == lowest)
			at_min[i / 64] |= 1ull << (i % 64);
		if (count[i] == lowest || count[i] == lowest + 1)
			near_min[i / 64] |= 1ull << (i % 64);
	}
	*min = lowest;
}

static const struct st_hh_kernels hh_kernels[] = {
	[ST_SIMD_SCALAR] = { st_hh_find_scalar, st_hh_min_slots_scalar },
	[ST_SIMD_AVX2] = { st_hh_find_avx2, st_hh_min_slots_avx2 },
	[ST_SIMD_AVX512] = { st_hh_find_avx512, st_hh_min_slots_avx512 },
};

const struct st_hh_kernels *st_hh_kernels_for(enum st_simd_level level)
{
	if ((unsigned)level >= ST_ARRAY_SIZE(hh_kernels))
		level = ST_SIMD_SCALAR;
	return &hh_kernels[level];
}

/* ---- Allocation: one cache-aligned block ---- */

/* The eviction candidates no longer describe the counts. */
static void hh_forget_min(struct st_hh *hh)
{
	hh->min_left = 0;
	hh->min_next = UINT_MAX;
	hh->min_near_next = false;
}

struct hh_layout {
	size_t hash, count, bucket_keys, bucket_hint, error, sample, min_bits, min_near,
	       order, taken, dropped, total;
	unsigned bucket_bits;
};

static size_t round_up(size_t x, size_t to)
{
	return (x + to - 1) / to * to;
}

/* Reserves size bytes at *at, cache-line aligned; returns their offset. */
static size_t place(size_t *at, size_t size)
{
	size_t offset = *at;

	*at = round_up(offset + size, ST_CACHE_LINE);
	return offset;
}

static void hh_layout(unsigned k, struct hh_layout *l)
{
	size_t padded = round_up(k, ST_HH_SIMD_PAD);
	size_t bitmap = round_up(k, 64) / 8;
	size_t at = round_up(sizeof(struct st_hh), ST_CACHE_LINE);

	l->bucket_bits = 0;
	while ((1u << l->bucket_bits) < ST_HH_BUCKETS_PER_SLOT * k)
		l->bucket_bits++;
	l->hash = place(&at, padded * sizeof(uint64_t));
	l->count = place(&at, padded * sizeof(uint64_t));
	l->bucket_keys = place(&at, sizeof(uint16_t) << l->bucket_bits);
	l->bucket_hint = place(&at, sizeof(uint16_t) << l->bucket_bits);
	l->error = place(&at, k * sizeof(uint64_t));
	l->sample = place(&at, k * sizeof(struct hh_sample));
	l->min_bits = place(&at, bitmap);
	l->min_near = place(&at, bitmap);
	l->order = place(&at, 2 * k * sizeof(uint16_t));
	l->taken = place(&at, bitmap);
	l->dropped = place(&at, bitmap);
	l->total = at;
}

static struct st_hh *hh_alloc(unsigned k, const struct st_hh_kernels *kern)
{
	struct hh_layout l;
	struct st_hh *hh;
	uint8_t *base;

	if (k < ST_HH_K_MIN || k > ST_HH_K_MAX) {
		errno = EINVAL;
		return NULL;
	}
	hh_layout(k, &l);
	base = aligned_alloc(ST_CACHE_LINE, l.total);
	if (!base) {
		errno = ENOMEM;
		return NULL;
	}
	memset(base, 0, l.total);
	hh = (struct st_hh *)base;
	hh->hash = (uint64_t *)(base + l.hash);
	hh->count = (uint64_t *)(base + l.count);
	hh->error = (uint64_t *)(base + l.error);
	hh->sample = (struct hh_sample *)(base + l.sample);
	hh->min_bits = (uint64_t *)(base + l.min_bits);
	hh->min_near = (uint64_t *)(base + l.min_near);
	hh->bucket_keys = (uint16_t *)(base + l.bucket_keys);
	hh->bucket_hint = (uint16_t *)(base + l.bucket_hint);
	hh->bucket_bits = l.bucket_bits;
	hh->bucket_shift = 64 - l.bucket_bits;
	hh->order = (uint16_t *)(base + l.order);
	hh->taken = (uint64_t *)(base + l.taken);
	hh->dropped = (uint64_t *)(base + l.dropped);
	hh->kern = kern;
	hh->find = kern->find;
	hh->k = k;
	hh->bytes = l.total;
	hh_forget_min(hh);
	return hh;
}

struct st_hh *st_hh_create(unsigned k)
{
	return hh_alloc(k, st_hh_kernels_for(st_cpu_simd_level()));
}

void st_hh_destroy(struct st_hh *hh)
{
	free(hh);
}


void st_hh_reset(struct st_hh *hh)
{
	memset(hh->count, 0, hh->k * sizeof(uint64_t));
	hh->total = 0;
	hh->used = 0;
	hh_forget_min(hh);
	memset(hh->bucket_keys, 0, sizeof(uint16_t) << hh->bucket_bits);
}

/* ---- Buckets: finding a key's slot ---- */

static inline unsigned bucket_of(const struct st_hh *hh, uint64_t h)
{
	return (unsigned)(h >> hh->bucket_shift);
}

static void bucket_add(struct st_hh *hh, uint64_t h, unsigned slot)
{
	unsigned b = bucket_of(hh, h);

	hh->bucket_keys[b]++;
	hh->bucket_hint[b] = (uint16_t)slot;
}

static void buckets_rebuild(struct st_hh *hh)
{
	memset(hh->bucket_keys, 0, sizeof(uint16_t) << hh->bucket_bits);
	for (unsigned slot = 0; slot < hh->used; slot++)
		bucket_add(hh, hh->hash[slot], slot);
}

/*
 * The slot holding h, or hh->used.  An empty bucket, or a bucket whose one
 * key is the hinted slot's, answers without a scan; the scan is for shared
 * buckets and hints left behind by an eviction.
 */
static inline unsigned hh_find(const struct st_hh *hh, uint64_t h)
{
	unsigned b = bucket_of(hh, h), keys = hh->bucket_keys[b], hint;

	if (keys == 0)
		return hh->used;
	hint = hh->bucket_hint[b];
	if (hh->hash[hint] == h)
		return hint;
	if (keys == 1 && bucket_of(hh, hh->hash[hint]) == b)
		return hh->used;
	return hh->find(hh->hash, hh->used, h);
}

/* ---- Update ---- */

/*
 * Copies len <= 32 bytes as two fixed-size, possibly overlapping, moves:
 * this runs on every eviction and a call to memcpy() costs more than that.
 * Short keys (ids) are the common case, so their classes are tested first.
 */
static inline void copy_upto32(uint8_t *dst, const uint8_t *src, size_t len)
{
	if (len < 8) {
		if (len >= 4) {
			memcpy(dst, src, 4);
			memcpy(dst + len - 4, src + len - 4, 4);
		} else if (len >= 2) {
			memcpy(dst, src, 2);
			memcpy(dst + len - 2, src + len - 2, 2);
		} else if (len) {
			dst[0] = src[0];
		}
	} else if (len < 16) {
		memcpy(dst, src, 8);
		memcpy(dst + len - 8, src + len - 8, 8);
	} else {
		memcpy(dst, src, 16);
		memcpy(dst + len - 16, src + len - 16, 16);
	}
}

static inline void sample_set(struct hh_sample *s, const void *key, size_t key_len)
{
	size_t len = ST_MIN(key_len, (size_t)ST_HH_KEY_SAMPLE_BYTES);

	if (unlikely(!key))
		len = 0;
	s->key_len = key_len > UINT32_MAX ? UINT32_MAX : (uint32_t)key_len;
	s->len = (uint8_t)len;
	copy_upto32(s->bytes, key, len);
}

/*
 * The next word of eviction candidates, after a fresh scan when they are
 * all handed out (the minimum has moved on).  Once per 64 slots at most.
 */
static __attribute__((noinline)) uint64_t hh_min_refill(struct st_hh *hh)
{
	if (hh->used < hh->k) {
		/*
		 * A free slot, the lowest: its count is 0, so the caller's
		 * eviction gives it count = weight and error = 0.  The caller
		 * also debits the bucket of the hash the slot holds (stale):
		 * credited here.  Once full, the next call scans.
		 */
		unsigned slot = hh->used++;

		hh->bucket_keys[bucket_of(hh, hh->hash[slot])]++;
		hh->min_count = 0;
		hh->min_base = slot;
		hh->min_next = UINT_MAX;
		hh->min_near_next = false;
		return 1;
	}
	for (;;) {
		uint64_t bits;

		if (hh->min_next >= ST_HH_MIN_WORDS(hh->k)) {
			/*
			 * No slot is at m any more.  Every slot at m + 1 now
			 * was at m or m + 1 at the scan (counts only grow), so
			 * min_near holds them all: walk it before scanning.
			 */
			if (hh->min_near_next) {
				hh->min_count++;
				hh->min_walk = hh->min_near;
				hh->min_near_next = false;
			} else {
				hh->kern->min_slots(hh->count, hh->k, hh->min_bits,
						    hh->min_near, &hh->min_count);
				hh->min_walk = hh->min_bits;
				hh->min_near_next = true;
			}
			hh->min_next = 0;
		}
		bits = hh->min_walk[hh->min_next];
		hh->min_base = 64 * hh->min_next++;
		if (bits)
			return bits;
	}
}

/*
 * The lowest slot holding the minimum count, a free slot's 0 included; the
 * minimum is then hh->min_count.  Candidates go out in ascending order and
 * one whose count has moved is dropped: counts only grow.
 */
static inline size_t hh_take_min(struct st_hh *hh, const uint64_t *count)
{
	uint64_t bits = hh->min_left;

	for (;;) {
		while (likely(bits)) {
			size_t slot = hh->min_base + (size_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			if (likely(count[slot] == hh->min_count)) {
				hh->min_left = bits;
				return slot;
			}
		}
		bits = hh_min_refill(hh);
	}
}

void st_hh_update(struct st_hh *hh, uint64_t hash, const void *key,
		  size_t key_len, uint64_t weight)
{
	uint64_t *hashes = hh->hash, *count = hh->count;
	uint16_t *bucket_keys = hh->bucket_keys;
	unsigned shift = hh->bucket_shift, keys;
	size_t b = hash >> shift, slot;  /* size_t: no zero-extension to index */

	if (unlikely(weight == 0))
		return;
	hh->total += weight;
	keys = bucket_keys[b];
	/* hh_find(), with the bucket already at hand. */
	if (keys != 0) {
		slot = hh->bucket_hint[b];
		if (hashes[slot] != hash) {
			if (keys == 1 && hashes[slot] >> shift == b)
				slot = hh->used;
			else
				slot = hh->find(hashes, hh->used, hash);
		}
		if (slot < hh->used) {
			hh->bucket_hint[b] = (uint16_t)slot;
			count[slot] += weight;
			return;
		}
	}
	/* A new key: the minimum's slot (a free one while there is one). */
	slot = hh_take_min(hh, count);
	bucket_keys[hashes[slot] >> shift]--;
	hh->error[slot] = hh->min_count;
	count[slot] = hh->min_count + weight;
	hashes[slot] = hash;
	bucket_keys[b]++;
	hh->bucket_hint[b] = (uint16_t)slot;
	sample_set(&hh->sample[slot], key, key_len);
}

/* ---- Queries ---- */

uint64_t st_hh_total(const struct st_hh *hh)
{
	return hh->total;
}

unsigned st_hh_capacity(const struct st_hh *hh)
{
	return hh->k;
}

/* m of the guarantees: the minimum count when all k slots are taken, else 0. */
static uint64_t hh_floor(const struct st_hh *hh)
{
	uint64_t lowest = UINT64_MAX;

	if (hh->used < hh->k)
		return 0;
	for (unsigned slot = 0; slot < hh->k; slot++)
		lowest = ST_MIN(lowest, hh->count[slot]);
	return lowest;
}

uint64_t st_hh_error_bound(const struct st_hh *hh)
{
	return hh_floor(hh);
}

/* Untracked keys: estimate 0, lower bound 0, upper bound m. */
uint64_t st_hh_estimate(const struct st_hh *hh, uint64_t hash)
{
	unsigned slot = hh_find(hh, hash);

	return slot < hh->used ? hh->count[slot] : 0;
}

uint64_t st_hh_lower_bound(const struct st_hh *hh, uint64_t hash)
{
	unsigned slot = hh_find(hh, hash);

	return slot < hh->used ? hh->count[slot] - hh->error[slot] : 0;
}

uint64_t st_hh_upper_bound(const struct st_hh *hh, uint64_t hash)
{
	unsigned slot = hh_find(hh, hash);

	return slot < hh->used ? hh->count[slot] : hh_floor(hh);
}

size_t st_hh_memory_bytes(const struct st_hh *hh)
{
	return hh->bytes;
}

/*
 * ---- Sorting without allocation ----
 * Heapsort through two callbacks; after(i, j) says that element i goes after
 * element j in the output.  The heap keeps the element that goes last at its
 * root, so that it also serves to keep "the best n seen so far".
 */
struct hh_sort {
	bool (*after)(const void *ctx, size_t i, size_t j);
	void (*swap)(void *ctx, size_t i, size_t j);
	void *ctx;
};

static void sort_sift_down(const struct hh_sort *s, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;

		if (child >= n)
			return;
		if (child + 1 < n && s->after(s->ctx, child + 1, child))
			child++;
		if (!s->after(s->ctx, child, root))
			return;
		s->swap(s->ctx, root, child);
		root = child;
	}
}

static void sort_heapify(const struct hh_sort *s, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sort_sift_down(s, i, n);
}

static void sort_run(const struct hh_sort *s, size_t n)
{
	sort_heapify(s, n);
	for (size_t end = n; end > 1; end--) {
		s->swap(s->ctx, 0, end - 1);
		sort_sift_down(s, 0, end - 1);
	}
}

/* Output order everywhere: count descending, then hash ascending. */
static bool goes_after(uint64_t count_a, uint64_t hash_a, uint64_t count_b,
		       uint64_t hash_b)
{
	return count_a < count_b || (count_a == count_b && hash_a > hash_b);
}

static bool item_after(const void *ctx, size_t i, size_t j)
{
	const struct st_hh_item *it = ctx;

	return goes_after(it[i].count, it[i].hash, it[j].count, it[j].hash);
}

static void item_swap(void *ctx, size_t i, size_t j)
{
	struct st_hh_item *it = ctx, t = it[i];

	it[i] = it[j];
	it[j] = t;
}

static void item_fill(const struct st_hh *hh, unsigned slot, struct st_hh_item *it)
{
	const struct hh_sample *s = &hh->sample[slot];

	memset(it, 0, sizeof(*it));
	it->hash = hh->hash[slot];
	it->count = hh->count[slot];
	it->error = hh->error[slot];
	it->key_len = s->key_len;
	it->sample_len = s->len;
	memcpy(it->key, s->bytes, s->len);
}

size_t st_hh_top(const struct st_hh *hh, struct st_hh_item *out, size_t max)
{
	struct hh_sort sort = { item_after, item_swap, out };
	size_t n = 0;

	if (!out || max == 0)
		return 0;
	for (unsigned slot = 0; slot < hh->used; slot++) {
		if (n < max) {
			item_fill(hh, slot, &out[n++]);
			if (n == max)
				sort_heapify(&sort, n);
		} else if (goes_after(out[0].count, out[0].hash,
				      hh->count[slot], hh->hash[slot])) {
			item_fill(hh, slot, &out[0]);
			sort_sift_down(&sort, 0, n);
		}
	}
	sort_run(&sort, n);
	return n;
}

/* ---- Merge ---- */

static bool bit_test(const uint64_t *bits, unsigned i)
{
	return bits[i / 64] >> (i % 64) & 1;
}

static void bit_set(uint64_t *bits, unsigned i)
{
	bits[i / 64] |= 1ull << (i % 64);
}

/* order[] entries: a dst slot, or k + a src slot (a key only src has). */
struct merge_ctx {
	const struct st_hh *dst, *src;
	uint64_t dst_floor;
	uint16_t *order;
};

static void merge_key(const struct merge_ctx *c, unsigned e, uint64_t *count,
		      uint64_t *hash)
{
	if (e < c->dst->k) {
		*count = c->dst->count[e];
		*hash = c->dst->hash[e];
	} else {
		*count = c->src->count[e - c->dst->k] + c->dst_floor;
		*hash = c->src->hash[e - c->dst->k];
	}
}

static bool merge_after(const void *ctx, size_t i, size_t j)
{
	const struct merge_ctx *c = ctx;
	uint64_t ci, hi, cj, hj;

	merge_key(c, c->order[i], &ci, &hi);
	merge_key(c, c->order[j], &cj, &hj);
	return goes_after(ci, hi, cj, hj);
}

static void merge_swap(void *ctx, size_t i, size_t j)
{
	struct merge_ctx *c = ctx;
	uint16_t t = c->order[i];

	c->order[i] = c->order[j];
	c->order[j] = t;
}

/* Puts src's slot j (with dst_floor added) into dst's slot. */
static void merge_copy_in(struct st_hh *dst, unsigned slot, const struct st_hh *src,
			  unsigned j, uint64_t dst_floor)
{
	dst->hash[slot] = src->hash[j];
	dst->count[slot] = src->count[j] + dst_floor;
	dst->error[slot] = src->error[j] + dst_floor;
	dst->sample[slot] = src->sample[j];
}

/*
 * The keys only src has go into dst's free slots and the slots of dst keys
 * left out, lowest slot first, in output order.
 */
static void merge_place(struct st_hh *dst, const struct st_hh *src,
			const struct merge_ctx *c, unsigned n)
{
	unsigned keep = ST_MIN(n, dst->k), slot = 0;

	memset(dst->dropped, 0, round_up(dst->k, 64) / 8);
	for (unsigned i = keep; i < n; i++)
		if (c->order[i] < dst->k)
			bit_set(dst->dropped, c->order[i]);
	for (unsigned i = 0; i < keep; i++) {
		if (c->order[i] < dst->k)
			continue;
		while (slot < dst->used && !bit_test(dst->dropped, slot))
			slot++;
		merge_copy_in(dst, slot++, src, c->order[i] - dst->k, c->dst_floor);
	}
	dst->used = keep;
}

int st_hh_merge(struct st_hh *dst, const struct st_hh *src)
{
	uint64_t src_floor = hh_floor(src);
	struct merge_ctx c = { dst, src, hh_floor(dst), dst->order };
	struct hh_sort sort = { merge_after, merge_swap, &c };
	unsigned n = 0;

	if (dst == src || dst->k != src->k)
		return -EINVAL;
	if (src->total > UINT64_MAX - dst->total)
		return -EOVERFLOW;
	memset(dst->taken, 0, round_up(dst->k, 64) / 8);
	for (unsigned slot = 0; slot < dst->used; slot++) {
		unsigned j = hh_find(src, dst->hash[slot]);

		if (j < src->used) {
			dst->count[slot] += src->count[j];
			dst->error[slot] += src->error[j];
			bit_set(dst->taken, j);
		} else {
			dst->count[slot] += src_floor;
			dst->error[slot] += src_floor;
		}
		c.order[n++] = (uint16_t)slot;
	}
	for (unsigned j = 0; j < src->used; j++)
		if (!bit_test(dst->taken, j))
			c.order[n++] = (uint16_t)(dst->k + j);
	/* Within capacity every key stays: no need to rank them. */
	if (n > dst->k)
		sort_run(&sort, n);
	merge_place(dst, src, &c, n);
	dst->total += src->total;
	hh_forget_min(dst);
	buckets_rebuild(dst);
	return 0;
}

/* ---- Skew figures ---- */

#define EM_DIRECT 16     /* terms summed one by one before Euler-Maclaurin */
#define EM_RATIO 8.0     /* ... and until r >= EM_RATIO * |t| */
#define TAIL_S_MAX 64.0

/* (e^w (w - 1) + 1) / w^2, continuous at 0. */
static double phi(double w)
{
	if (fabs(w) < 1e-2)
		return 1.0 / 2 + w * (1.0 / 3 + w * (1.0 / 8 + w * (1.0 / 30 +
		       w * (1.0 / 144 + w / 840))));
	return (exp(w) * (w - 1) + 1) / (w * w);
}

static double expm1_over_x(double x)
{
	return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x / 2.0;
}

/* Integral over [a, b] of y^-t, and of y^-t ln y (0 < a <= b). */
static double int_pow(double t, double a, double b)
{
	double l = log(b / a), u = 1.0 - t;

	return exp(u * log(a)) * l * expm1_over_x(u * l);
}

static double int_pow_log(double t, double a, double b)
{
	double la = log(a), lb = log(b), u = 1.0 - t;

	return lb * lb * phi(u * lb) - la * la * phi(u * la);
}

/*
 * Euler-Maclaurin for sum_{r=a}^{b} f(r), f(x) = (x/x0)^-t, optionally
 * times ln(x/x0), with a >= EM_RATIO |t| so that the correction terms
 * (B2 f', B4 f''') shrink fast.
 */
static double em_rest(double t, bool with_log, double a, double b, double x0)
{
	double fa = exp(-t * log(a / x0)), fb = exp(-t * log(b / x0));
	double la = log(a / x0), lb = log(b / x0);
	double d1a, d1b, d3a, d3b, ends, body;

	if (!with_log) {
		ends = (fa + fb) / 2;
		body = x0 * int_pow(t, a / x0, b / x0);
		d1a = -t * fa / a;
		d1b = -t * fb / b;
		d3a = -t * (t + 1) * (t + 2) * fa / (a * a * a);
		d3b = -t * (t + 1) * (t + 2) * fb / (b * b * b);
	} else {
		ends = (fa * la + fb * lb) / 2;
		body = x0 * int_pow_log(t, a / x0, b / x0);
		d1a = fa / a * (1 - t * la);
		d1b = fb / b * (1 - t * lb);
		d3a = fa / (a * a * a) * (t * (t + 1) - (t + 2) * (t * (t + 1) * la - (2 * t + 1)));
		d3b = fb / (b * b * b) * (t * (t + 1) - (t + 2) * (t * (t + 1) * lb - (2 * t + 1)));
	}
	return body + ends + (d1b - d1a) / 12 - (d3b - d3a) / 720;
}

/* sum_{r=a}^{b} (r/x0)^-t [ln(r/x0)] for integers 1 <= a <= b, x0 <= a. */
static double pow_sum(double t, bool with_log, double a, double b, double x0)
{
	double sum = 0, r;

	for (r = a; r <= b; r++) {
		double l = log(r / x0), term = exp(-t * l);

		if (r >= a + EM_DIRECT && r >= EM_RATIO * fabs(t))
			break;
		sum += with_log ? term * l : term;
		/* What is left is below term * r / (t - 1) (times ln(b/x0)). */
		if (t > 2 && term * r / (t - 1) * (1 + log(b / x0)) < 1e-17 * sum)
			return sum;
	}
	if (r > b)
		return sum;
	if (r == b)
		return sum + exp(-t * log(b / x0)) * (with_log ? log(b / x0) : 1);
	return sum + em_rest(t, with_log, r, b, x0);
}

/* The s >= 0 with sum_{r=a}^{b} (r/x0)^-s = q (decreasing in s). */
static double tail_exponent(double q, double a, double b, double x0)
{
	double lo = 0, hi = 1;

	if (q >= b - a + 1)
		return 0;
	while (pow_sum(hi, false, a, b, x0) > q) {
		lo = hi;
		hi *= 2;
		if (hi > TAIL_S_MAX)
			return TAIL_S_MAX;
	}
	for (int i = 0; i < 64 && hi - lo > 1e-12 * hi; i++) {
		double mid = (lo + hi) / 2;

		if (pow_sum(mid, false, a, b, x0) > q)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

struct skew_head {
	unsigned h;           /* keys resolved above m: ranks 1..h */
	double mass;          /* sum of their values */
	double top;           /* the largest value */
	double last;          /* the smallest value: f(h) */
	double plogp;         /* sum of p ln p */
	double rank_mass;     /* sum of rank * value */
	uint64_t count_max;   /* largest count of any counter */
};

static double head_value(const struct st_hh *hh, unsigned slot)
{
	return (double)hh->count[slot] - (double)hh->error[slot] / 2;
}

static void skew_head(const struct st_hh *hh, uint64_t floor, struct skew_head *hd)
{
	double n = (double)hh->total;

	memset(hd, 0, sizeof(*hd));
	hd->last = INFINITY;
	for (unsigned i = 0; i < hh->used; i++) {
		double v = head_value(hh, i);

		hd->count_max = ST_MAX(hd->count_max, hh->count[i]);
		if (hh->count[i] - hh->error[i] <= floor)
			continue;
		hd->h++;
		hd->mass += v;
		hd->top = fmax(hd->top, v);
		hd->last = fmin(hd->last, v);
		hd->plogp += v / n * log(v / n);
		/*
		 * sum_r r v_r over values in descending order equals
		 * sum_i v_i + sum_{i<j} min(v_i, v_j), whatever the ties.
		 */
		hd->rank_mass += v;
		for (unsigned j = 0; j < i; j++)
			if (hh->count[j] - hh->error[j] > floor)
				hd->rank_mass += fmin(v, head_value(hh, j));
	}
}

int st_hh_skew(const struct st_hh *hh, double distinct, struct st_skew *out)
{
	uint64_t floor = hh_floor(hh);
	double n = (double)hh->total, d, rest, plogp, rank_mass, topk;
	struct skew_head hd;

	if (hh->total == 0)
		return -ENODATA;
	if (!(distinct >= 0) || isinf(distinct))
		return -EINVAL;
	skew_head(hh, floor, &hd);
	rest = fmax(n - hd.mass, 0);
	/* With a free counter every key is known: D is the tracked count. */
	d = hh->used < hh->k ? hh->used : fmax(round(distinct), hh->used);
	if (rest > 0 && d <= hd.h)
		d = hd.h + 1;
	plogp = hd.plogp;
	rank_mass = hd.rank_mass;
	topk = hd.mass;
	out->top1_share = hd.top / n;
	if (rest > 0 && d > hd.h) {
		double x0 = hd.h ? hd.h : 1, a = hd.h + 1;
		double anchor = hd.h ? hd.last : (double)hd.count_max;
		double s = tail_exponent(rest / anchor, a, d, x0);
		double s0 = pow_sum(s, false, a, d, x0);
		double c = rest / s0;  /* f(r) = c (r/x0)^-s, carrying exactly rest */

		plogp += c / n * (log(c / n) * s0 - s * pow_sum(s, true, a, d, x0));
		rank_mass += c * x0 * pow_sum(s - 1, false, a, d, x0);
		if (hh->k >= a)
			topk += c * pow_sum(s, false, a, fmin(hh->k, d), x0);
		if (hd.h == 0)
			out->top1_share = c / n;
	}
	out->topk_share = fmin(topk / n, 1);
	out->entropy_norm = d > 1 ? fmin(fmax(-plogp / log(d), 0), 1) : 0;
	out->gini = fmin(fmax((d + 1) / d - 2 * rank_mass / (d * n), 0), 1);
	out->top1_share = fmin(out->top1_share, 1);
	return 0;
}

/*
 * ---- Serialized form ----
 * After the 16-byte blob header (kind ST_SKETCH_HEAVY, version 1, hashed),
 * all integers little-endian:
 *
 *   off size
 *     0    4 k           ST_HH_K_MIN..ST_HH_K_MAX
 *     4    4 used        counters that hold a key, 0..k
 *     8    8 total       N, the stream weight summarised (0 iff used is 0)
 *    16      used entries of 64 bytes, count descending then hash ascending:
 *            0  8 hash
 *            8  8 count       >= 1
 *           16  8 error       <= count
 *           24  4 key_len     full length of the key
 *           28  1 sample_len  <= 32 and <= key_len
 *           29  3 reserved    0
 *           32 32 sample      the key's first sample_len bytes, then zeros
 *
 * The length is exactly 16 + 16 + 64 * used.  Hashes are distinct.  What the
 * guarantees at the top of this file make true of every sketch is checked
 * too: the counts sum to at most N, and exactly N when used < k; with a free
 * counter every error is 0; with none, every error is <= the smallest count.
 * A deserialized sketch holds the entries in this order (slot 0 the largest).
 */
#define HH_VERSION 1
#define HH_HDR_BYTES 16u
#define HH_ENTRY_BYTES 64u
#define HH_PAYLOAD_AT ST_SKETCH_BLOB_HDR_BYTES
#define HH_ENTRIES_AT (HH_PAYLOAD_AT + HH_HDR_BYTES)

size_t st_hh_serialized_size(const struct st_hh *hh)
{
	return HH_ENTRIES_AT + (size_t)HH_ENTRY_BYTES * hh->used;
}

static bool entry_after(const void *ctx, size_t i, size_t j)
{
	const uint8_t *e = ctx;
	const uint8_t *a = e + i * HH_ENTRY_BYTES, *b = e + j * HH_ENTRY_BYTES;

	return goes_after(st_get_le64(a + 8), st_get_le64(a),
			  st_get_le64(b + 8), st_get_le64(b));
}

static void entry_swap(void *ctx, size_t i, size_t j)
{
	uint8_t *e = ctx, t[HH_ENTRY_BYTES];

	memcpy(t, e + i * HH_ENTRY_BYTES, HH_ENTRY_BYTES);
	memcpy(e + i * HH_ENTRY_BYTES, e + j * HH_ENTRY_BYTES, HH_ENTRY_BYTES);
	memcpy(e + j * HH_ENTRY_BYTES, t, HH_ENTRY_BYTES);
}

ssize_t st_hh_serialize(const struct st_hh *hh, void *buf, size_t cap)
{
	size_t len = st_hh_serialized_size(hh);
	uint8_t *p = buf, *e = p + HH_ENTRIES_AT;
	struct hh_sort sort = { entry_after, entry_swap, e };

	if (cap < len)
		return -ENOSPC;
	st_blob_put_hdr(p, ST_SKETCH_HEAVY, HH_VERSION, true, (uint32_t)len);
	st_put_le32(p + HH_PAYLOAD_AT, hh->k);
	st_put_le32(p + HH_PAYLOAD_AT + 4, hh->used);
	st_put_le64(p + HH_PAYLOAD_AT + 8, hh->total);
	memset(e, 0, (size_t)HH_ENTRY_BYTES * hh->used);
	for (unsigned slot = 0; slot < hh->used; slot++) {
		uint8_t *r = e + (size_t)slot * HH_ENTRY_BYTES;
		const struct hh_sample *s = &hh->sample[slot];

		st_put_le64(r, hh->hash[slot]);
		st_put_le64(r + 8, hh->count[slot]);
		st_put_le64(r + 16, hh->error[slot]);
		st_put_le32(r + 24, s->key_len);
		r[28] = s->len;
		memcpy(r + 32, s->bytes, s->len);
	}
	sort_run(&sort, hh->used);
	return (ssize_t)len;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* One entry on its own; *why set when it is rejected. */
static bool entry_ok(const uint8_t *r, const char **why)
{
	uint64_t count = st_get_le64(r + 8);
	uint32_t key_len = st_get_le32(r + 24);
	uint8_t sample_len = r[28];

	if (count == 0)
		return *why = "heavy entry with a zero count", false;
	if (st_get_le64(r + 16) > count)
		return *why = "heavy entry error above its count", false;
	if (sample_len > ST_HH_KEY_SAMPLE_BYTES)
		return *why = "heavy entry sample longer than 32 bytes", false;
	if (sample_len > key_len)
		return *why = "heavy entry sample longer than its key", false;
	if (!all_zero(r + 29, 3))
		return *why = "heavy entry reserved bytes not zero", false;
	if (!all_zero(r + 32 + sample_len, ST_HH_KEY_SAMPLE_BYTES - sample_len))
		return *why = "heavy entry sample padding not zero", false;
	return true;
}

/* Open addressing over the entries' hashes, on the stack: 2 * K_MAX slots. */
#define HH_SEEN_BITS 13

static bool hashes_distinct(const uint8_t *e, unsigned used)
{
	uint16_t seen[1u << HH_SEEN_BITS];
	unsigned mask = (1u << HH_SEEN_BITS) - 1;

	_Static_assert(2 * ST_HH_K_MAX <= (1u << HH_SEEN_BITS), "seen table load <= 1/2");
	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < used; i++) {
		uint64_t h = st_get_le64(e + (size_t)i * HH_ENTRY_BYTES);
		unsigned p = (unsigned)(h >> (64 - HH_SEEN_BITS));

		for (; seen[p]; p = (p + 1) & mask)
			if (st_get_le64(e + (size_t)(seen[p] - 1) * HH_ENTRY_BYTES) == h)
				return false;
		seen[p] = (uint16_t)(i + 1);
	}
	return true;
}

/* The entries against each other and against k, used and N. */
static int entries_ok(const uint8_t *e, unsigned k, unsigned used, uint64_t total,
		      const char **why)
{
	uint64_t sum = 0, floor;

	for (unsigned i = 0; i < used; i++) {
		const uint8_t *r = e + (size_t)i * HH_ENTRY_BYTES;
		uint64_t count = st_get_le64(r + 8);

		if (!entry_ok(r, why))
			return -EINVAL;
		if (i > 0 && !goes_after(count, st_get_le64(r),
					 st_get_le64(r - HH_ENTRY_BYTES + 8),
					 st_get_le64(r - HH_ENTRY_BYTES)))
			return *why = "heavy entries not sorted by count, then hash", -EINVAL;
		if (count > total - sum)
			return *why = "heavy counts sum above the total", -EINVAL;
		sum += count;
	}
	if (used < k && sum != total)
		return *why = "heavy counts of a sketch with free counters do not sum to the total", -EINVAL;
	floor = used < k ? 0 : st_get_le64(e + (size_t)(used - 1) * HH_ENTRY_BYTES + 8);
	for (unsigned i = 0; i < used; i++)
		if (st_get_le64(e + (size_t)i * HH_ENTRY_BYTES + 16) > floor)
			return *why = used < k ? "heavy error in a sketch with free counters" :
				      "heavy error above the smallest count", -EINVAL;
	if (!hashes_distinct(e, used))
		return *why = "heavy entries with the same hash", -EINVAL;
	return 0;
}

int st_hh_validate(const void *buf, size_t len, const char **why)
{
	const uint8_t *p = buf;
	const char *ignored;
	unsigned k, used;
	uint64_t total;
	int err;

	if (!why)
		why = &ignored;
	err = st_blob_check_hdr(buf, len, ST_SKETCH_HEAVY, HH_VERSION, true, why);
	if (err)
		return err;
	if (len < HH_ENTRIES_AT)
		return *why = "heavy blob shorter than its header", -EINVAL;
	k = st_get_le32(p + HH_PAYLOAD_AT);
	used = st_get_le32(p + HH_PAYLOAD_AT + 4);
	total = st_get_le64(p + HH_PAYLOAD_AT + 8);
	if (k < ST_HH_K_MIN || k > ST_HH_K_MAX)
		return *why = "heavy k out of range", -EINVAL;
	if (used > k)
		return *why = "heavy used above k", -EINVAL;
	if (len != HH_ENTRIES_AT + (size_t)HH_ENTRY_BYTES * used)
		return *why = "heavy blob length does not match its entries", -EINVAL;
	if ((used == 0) != (total == 0))
		return *why = "heavy total and entries disagree on emptiness", -EINVAL;
	return entries_ok(p + HH_ENTRIES_AT, k, used, total, why);
}

struct st_hh *st_hh_deserialize(const void *buf, size_t len, const char **why)
{
	const uint8_t *p = buf, *e = p + HH_ENTRIES_AT;
	struct st_hh *hh;

	if (st_hh_validate(buf, len, why)) {
		errno = EINVAL;
		return NULL;
	}
	hh = st_hh_create(st_get_le32(p + HH_PAYLOAD_AT));
	if (!hh)
		return NULL;
	hh->used = st_get_le32(p + HH_PAYLOAD_AT + 4);
	hh->total = st_get_le64(p + HH_PAYLOAD_AT + 8);
	for (unsigned slot = 0; slot < hh->used; slot++) {
		const uint8_t *r = e + (size_t)slot * HH_ENTRY_BYTES;
		struct hh_sample *s = &hh->sample[slot];

		hh->hash[slot] = st_get_le64(r);
		hh->count[slot] = st_get_le64(r + 8);
		hh->error[slot] = st_get_le64(r + 16);
		s->key_len = st_get_le32(r + 24);
		s->len = r[28];
		memcpy(s->bytes, r + 32, s->len);
	}
	buckets_rebuild(hh);
	return hh;
}
