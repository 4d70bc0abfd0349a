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

/*
 * Keys of 4..8 bytes (ids, the common case) take XXH3's own 4-to-8-byte path
 * inline, as XXH3_64bits_withSeed() does for them in xxhash 0.8 (an input of
 * at most 16 bytes is hashed with the default secret and the seed as given):
 * the same hash without the call and the length dispatch.  The tests compare
 * the two for every length 0..300.
 */
static inline uint64_t st_hash64(const void *key, size_t len)
{
#if XXH_VERSION_NUMBER >= 800 && XXH_VERSION_NUMBER < 900
	if (len - 4 <= 4)
		return XXH3_len_4to8_64b((const xxh_u8 *)key, len, XXH3_kSecret, ST_HASH_SEED);
#endif
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
