/*
 * Equality of short byte runs without a call: topic names, skeleton runs of
 * JSON templates.  Loads stay inside [p, p + n) of both arguments.
 */
#ifndef ST_BYTES_H
#define ST_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t st_load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t st_load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* a[0..n) == b[0..n): two overlapping loads up to 16 bytes, memcmp past. */
static inline bool st_bytes_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (n >= 8) {
		if (n > 16)
			return memcmp(a, b, n) == 0;
		return st_load64(a) == st_load64(b) &&
		       st_load64(a + n - 8) == st_load64(b + n - 8);
	}
	if (n >= 4)
		return st_load32(a) == st_load32(b) &&
		       st_load32(a + n - 4) == st_load32(b + n - 4);
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

#endif
