/*
 * The block classifier shared by the SIMD builds of the JSON scanner
 * (json_avx2.c, json_avx512.c); internal.  The document is cut into 64-byte
 * blocks from its first byte, and the build's json_block_classify() turns a
 * block into two bit masks (bit i for byte i): `stop` (quote, backslash, or
 * a byte < 0x20 or >= 0x80) and `not_ws`.  Finding the end of a string or
 * of a whitespace run is then a shift and a count of trailing zeros,
 * however short the string.  Bits past the end of the document are 0 in
 * both masks.
 *
 * A document of at most JSON_EAGER_BLOCKS blocks (all the records of a
 * stream, in practice) is classified whole when the scan starts: the
 * blocks are independent, so the vector work of one overlaps that of the
 * others instead of waiting for the parser to reach each block, and a run
 * is then a load, a shift and a count with no block bookkeeping.  Longer
 * documents keep the masks of one block at a time, classified the first
 * time the parser looks into it.
 *
 * The including file defines JSON_TARGET and
 *   json_block_classify(doc, end, base, &stop, &not_ws)
 * which must read only bytes inside [doc, end).
 */
#ifndef ST_JSON_BLOCK_H
#define ST_JSON_BLOCK_H

#define JSON_EAGER_BLOCKS 32   /* documents up to 2 KiB: all blocks at once */

struct json_cls {
	const uint8_t *doc, *end;
	bool eager;              /* every block classified, in *_all */
	const uint8_t *base;     /* !eager: the block the masks describe, or NULL */
	uint64_t stop, not_ws;
	uint64_t stop_all[JSON_EAGER_BLOCKS], not_ws_all[JSON_EAGER_BLOCKS];
};

JSON_TARGET static inline void json_cls_init(struct json_cls *cls,
					     const uint8_t *doc,
					     const uint8_t *end)
{
	cls->doc = doc;
	cls->end = end;
	cls->base = NULL;
	cls->stop = cls->not_ws = 0;
	cls->eager = end - doc <= 64 * JSON_EAGER_BLOCKS;
	if (cls->eager) {
		unsigned b = 0;

		for (const uint8_t *base = doc; base < end; base += 64, b++)
			json_block_classify(doc, end, base, &cls->stop_all[b],
					    &cls->not_ws_all[b]);
	}
}

/* The masks of the block holding p, shifted so that bit 0 is p; the first
 * set bit from p on, across blocks, else end. */
#define JSON_BLOCK_RUN(mask_field)                                            \
	do {                                                                  \
		while (cls->eager) {                                          \
			size_t off = (size_t)(p - cls->doc);                  \
			uint64_t m = cls->mask_field##_all[off >> 6] >>       \
				     (off & 63);                              \
									      \
			if (m)                                                \
				return p + __builtin_ctzll(m);                \
			p = cls->doc + (off | 63) + 1;                        \
			if (p >= end)                                         \
				return end;                                   \
		}                                                             \
		for (;;) {                                                    \
			size_t off = (size_t)(p - cls->doc);                  \
			const uint8_t *base = cls->doc + (off & ~(size_t)63); \
			uint64_t m;                                           \
									      \
			if (base != cls->base) {                              \
				cls->base = base;                             \
				json_block_classify(cls->doc, cls->end, base, \
						    &cls->stop, &cls->not_ws); \
			}                                                     \
			m = cls->mask_field >> (off & 63);                    \
			if (m)                                                \
				return p + __builtin_ctzll(m);                \
			p = base + 64;                                        \
			if (p >= end)                                         \
				return end;                                   \
		}                                                             \
	} while (0)

JSON_TARGET static inline __attribute__((always_inline)) const uint8_t *
json_string_run(const uint8_t *p, const uint8_t *end, struct json_cls *cls)
{
	if (p >= end)
		return end;
	JSON_BLOCK_RUN(stop);
}

JSON_TARGET static inline __attribute__((always_inline)) const uint8_t *
json_ws_run(const uint8_t *p, const uint8_t *end, struct json_cls *cls)
{
	if (p >= end)
		return end;
	JSON_BLOCK_RUN(not_ws);
}

#undef JSON_BLOCK_RUN

#endif
