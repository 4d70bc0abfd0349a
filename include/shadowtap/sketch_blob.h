/*
 * The serialized form of one sketch ("blob"), as it travels inside a Shadow
 * Profile and as the control plane stores it.  Every blob opens with this
 * 16-byte header; the payload that follows is documented in the sketch's own
 * header (dataplane/sketch/<name>.h).  All integers little-endian.
 *
 *   off size field
 *     0    1 kind         enum st_sketch_kind
 *     1    1 version      payload layout version of that kind
 *     2    1 hash_id      ST_HASH_ID for sketches fed by the hash, else 0
 *     3    1 reserved     must be 0
 *     4    4 length_le    total blob length in bytes, header included
 *     8    8 hash_seed_le ST_HASH_SEED for hashed sketches, else 0
 *    16      payload
 *
 * A reader rejects a blob whose kind, version, hash id, seed, reserved byte
 * or length is not exactly what it expects.
 */
#ifndef SHADOWTAP_SKETCH_BLOB_H
#define SHADOWTAP_SKETCH_BLOB_H

#include <stddef.h>
#include <stdint.h>

enum st_sketch_kind {
	ST_SKETCH_HLL = 1,       /* HyperLogLog distinct count */
	ST_SKETCH_HEAVY = 2,     /* SpaceSaving heavy hitters */
	ST_SKETCH_QUANTILE = 3,  /* DDSketch relative-error quantiles */
	ST_SKETCH_SCHEMA = 4,    /* bounded schema set */
	ST_SKETCH_TICKS = 5,     /* records per sub-epoch tick */
};

struct st_sketch_blob_hdr {
	uint8_t kind;
	uint8_t version;
	uint8_t hash_id;
	uint8_t reserved;
	uint32_t length_le;
	uint64_t hash_seed_le;
};

_Static_assert(sizeof(struct st_sketch_blob_hdr) == 16, "blob header is 16 bytes");
_Static_assert(offsetof(struct st_sketch_blob_hdr, length_le) == 4, "length at 4");
_Static_assert(offsetof(struct st_sketch_blob_hdr, hash_seed_le) == 8, "seed at 8");

#define ST_SKETCH_BLOB_HDR_BYTES 16u

#endif
