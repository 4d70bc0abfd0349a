/*
 * The block classifier shared by the SIMD builds of the JSON scanner
 * (json_avx2.c, json_avx512.c); internal.  The document is cut into 64-byte
 * blocks from its first byte.  The first time the parser looks into a block
 * the build's json_block_classify() turns it into two bit masks (bit i for
 * byte i): `stop` (quote, backslash, or a byte < 0x20 or >= 0x80) and
 * `not_ws`, kept until the parser moves to another block.  Finding the end
 * of a string or of a whitespace run is then a shift and a count of
 * trailing zeros, however short the string: the cost of the SIMD compares
 * is paid once per 64 bytes, not once per string.  Bits past the end of
 * the document are 0 in both masks.
 *
 * The including file defines JSON_TARGET and
 *   json_block_classify(doc, end, base, &stop, &not_ws)
 * which must read only bytes inside [doc, end).
 */
#ifndef ST_JSON_BLOCK_H
#define ST_JSON_BLOCK_H

struct json_cls {
	const uint8_t *doc, *end;
	const uint8_t *base;     /* the block the masks describe, or NULL */
	uint64_t stop, not_ws;
};

static inline void json_cls_init(struct json_cls *cls, const uint8_t *doc,
				 const uint8_t *end)
{
	cls->doc = doc;
	cls->end = end;
	cls->base = NULL;
	cls->stop = cls->not_ws = 0;
}

/* The masks of the block holding p, shifted so that bit 0 is p. */
#define JSON_BLOCK_RUN(mask_field)                                            \
	do {                                                                  \
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

JSON_TARGET static inline const uint8_t *json_string_run(const uint8_t *p,
							 const uint8_t *end,
							 struct json_cls *cls)
{
	if (p >= end)
		return end;
	JSON_BLOCK_RUN(stop);
}

JSON_TARGET static inline const uint8_t *json_ws_run(const uint8_t *p,
						     const uint8_t *end,
						     struct json_cls *cls)
{
	if (p >= end)
		return end;
	JSON_BLOCK_RUN(not_ws);
}

#undef JSON_BLOCK_RUN

#endif
