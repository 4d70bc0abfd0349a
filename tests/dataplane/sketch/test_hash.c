/*
 * st_hash64 (dataplane/sketch/hash.h).  Oracle: libxxhash's own
 * XXH3_64bits_withSeed() with the fixed seed, which st_hash64 must equal for
 * every input, whatever inline path it takes for some lengths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/hash.h"
#include "st_test.h"
#include "tools/lib/keygen.h"

/* Every length 0..300, keys at every alignment 0..7, random bytes; each key
 * in a buffer of exactly its length (ASan sees any read past it). */
static void test_hash_is_xxh3_with_seed(void)
{
	struct st_rng rng;
	unsigned differ = 0, checked = 0;

	st_rng_seed(&rng, 11);
	for (size_t len = 0; len <= 300; len++) {
		for (unsigned round = 0; round < 64; round++) {
			size_t align = round % 8;
			uint8_t *buf = malloc(align + len + (len ? 0 : 1)), *key = buf + align;

			CU_ASSERT_FATAL(buf != NULL);
			for (size_t i = 0; i < len; i++)
				key[i] = (uint8_t)st_rng_next(&rng);
			if (st_hash64(key, len) != XXH3_64bits_withSeed(key, len, ST_HASH_SEED))
				differ++;
			checked++;
			free(buf);
		}
	}
	CU_ASSERT_EQUAL(differ, 0);
	CU_ASSERT_EQUAL(checked, 301 * 64);
}

/* The short path reads the key's first and last 4 bytes: keys that differ
 * only in their first or only in their last byte hash apart. */
static void test_hash_short_keys_use_every_byte(void)
{
	for (size_t len = 4; len <= 8; len++) {
		uint8_t a[8] = "abcdefgh", b[8];

		memcpy(b, a, sizeof(b));
		b[0] ^= 1;
		CU_ASSERT(st_hash64(a, len) != st_hash64(b, len));
		memcpy(b, a, sizeof(b));
		b[len - 1] ^= 1;
		CU_ASSERT(st_hash64(a, len) != st_hash64(b, len));
		CU_ASSERT(st_hash64(a, len) != st_hash64(a, len - 1));
	}
}

ST_TEST_MAIN("dataplane/sketch/hash",
	ST_TEST(test_hash_is_xxh3_with_seed),
	ST_TEST(test_hash_short_keys_use_every_byte))
