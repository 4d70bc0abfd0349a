/*
 * Little-endian loads and stores for serialized forms.  Every stored format
 * is little-endian; these compile to plain moves on x86 and stay correct on a
 * big-endian host.  Unaligned access is allowed (memcpy).
 */
#ifndef ST_SKETCH_LE_H
#define ST_SKETCH_LE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline void st_put_le16(void *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static inline void st_put_le32(void *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static inline void st_put_le64(void *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

static inline uint16_t st_get_le16(const void *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static inline uint32_t st_get_le32(const void *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static inline uint64_t st_get_le64(const void *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

static inline void st_put_lef64(void *p, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	st_put_le64(p, v);
}

static inline double st_get_lef64(const void *p)
{
	uint64_t v = st_get_le64(p);
	double d;
	memcpy(&d, &v, 8);
	return d;
}

#endif
