/*
 * Which hash the sketches were built with.  Part of the ABI: serialized
 * sketches and profile headers carry both values and readers reject others.
 */
#ifndef SHADOWTAP_HASH_ID_H
#define SHADOWTAP_HASH_ID_H

/* 1 = XXH3-64 (xxHash 0.8 "XXH3_64bits_withSeed"). */
#define ST_HASH_ID 1u
/* The fixed seed: the first 64 bits of the fractional part of pi. */
#define ST_HASH_SEED 0x243f6a8885a308d3ull

#endif
