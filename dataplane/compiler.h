/*
 * Small compiler helpers shared by every module: branch hints, alignment,
 * array sizes.  Nothing here allocates or has state.
 */
#ifndef ST_COMPILER_H
#define ST_COMPILER_H

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ST_CACHE_LINE 64
#define ST_CACHE_ALIGNED __attribute__((aligned(ST_CACHE_LINE)))

#define ST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ST_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ST_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
