/*
 * The one 64-bit hash behind every sketch: XXH3-64 (libxxhash) with one fixed
 * seed.  Sketches take the hash, not the key, so that a key is hashed once per
 * record and the same hash feeds the distinct-count and heavy-hitter sketches.
 * The hash id and seed are written into every serialized sketch that depends
 * on them and into the profile header; a reader refuses any other.
 */
#ifndef ST_SKETCH_HASH_H
#define ST_SKETCH_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "shadowtap/hash_id.h"

static inline uint64_t st_hash64(const void *key, size_t len)
{
	return XXH3_64bits_withSeed(key, len, ST_HASH_SEED);
}

/* MurmurHash3's 64-bit finaliser (fmix64): a bijection that spreads every
 * input bit over the output, for mixing values that are already hashes or
 * small integers (flow buckets, dispatch buckets, schema fingerprints). */
static inline uint64_t st_fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

#endif
