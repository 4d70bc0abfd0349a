/*
 * Writing and checking the common sketch blob header
 * (include/shadowtap/sketch_blob.h).  Used by every sketch's serializer and
 * validator so that all of them agree on the header's rules.
 */
#ifndef ST_SKETCH_BLOB_H
#define ST_SKETCH_BLOB_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/sketch/le.h"
#include "shadowtap/hash_id.h"
#include "shadowtap/sketch_blob.h"

/* Writes the header at buf (which has room for ST_SKETCH_BLOB_HDR_BYTES). */
static inline void st_blob_put_hdr(void *buf, enum st_sketch_kind kind,
				   uint8_t version, bool hashed, uint32_t length)
{
	uint8_t *p = buf;

	p[0] = (uint8_t)kind;
	p[1] = version;
	p[2] = hashed ? ST_HASH_ID : 0;
	p[3] = 0;
	st_put_le32(p + 4, length);
	st_put_le64(p + 8, hashed ? ST_HASH_SEED : 0);
}

/*
 * Checks the header of the blob at buf[0..len).  Returns 0, or -EINVAL with
 * *why set to a static reason.  On success the blob's length equals len.
 */
static inline int st_blob_check_hdr(const void *buf, size_t len,
				    enum st_sketch_kind kind, uint8_t version,
				    bool hashed, const char **why)
{
	const uint8_t *p = buf;

	if (len < ST_SKETCH_BLOB_HDR_BYTES)
		return *why = "blob shorter than its header", -EINVAL;
	if (p[0] != (uint8_t)kind)
		return *why = "blob of another sketch kind", -EINVAL;
	if (p[1] != version)
		return *why = "unsupported blob version", -EINVAL;
	if (p[3] != 0)
		return *why = "blob reserved byte not zero", -EINVAL;
	if (st_get_le32(p + 4) != len)
		return *why = "blob length does not match its container", -EINVAL;
	if (p[2] != (hashed ? ST_HASH_ID : 0) ||
	    st_get_le64(p + 8) != (hashed ? ST_HASH_SEED : 0))
		return *why = "blob built with another hash or seed", -EINVAL;
	return 0;
}

#endif
