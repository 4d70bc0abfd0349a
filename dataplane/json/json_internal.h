/*
 * Internals shared by the three builds of the JSON scanner (json.c, scalar;
 * json_avx2.c; json_avx512.c): the plan layout and the scan entry points.
 * Each build includes json_scan.h, the one parser, with its own byte
 * classifiers; json.c dispatches.
 */
#ifndef ST_JSON_INTERNAL_H
#define ST_JSON_INTERNAL_H

#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/json/json.h"
#include "dataplane/sketch/schema.h"

struct st_json_token {
	uint16_t len;          /* decoded bytes */
	int64_t index;         /* array index it selects, or -1 */
	const uint8_t *text;   /* decoded, inside the plan's token arena */
};

struct st_json_plan {
	unsigned n;
	uint16_t root_alive;   /* pointers with >= 1 token */
	uint16_t root_capture; /* pointers "" (the whole document) */
	uint8_t ntok[ST_JSON_POINTERS_MAX];
	/* name_filter[depth - 1]: bit st_json_name_bit(name) set for the
	 * token `depth` of every pointer; a member whose bit is clear matches
	 * none of them, and the per-pointer compares are skipped */
	uint64_t name_filter[ST_JSON_WALK_DEPTH_MAX];
	/* index_tokens[depth - 1]: pointers whose token `depth` is an array
	 * index (the only ones an array element can match) */
	uint16_t index_tokens[ST_JSON_WALK_DEPTH_MAX];
	/* tok[depth - 1][i]: token `depth` of pointer i */
	struct st_json_token tok[ST_JSON_WALK_DEPTH_MAX][ST_JSON_POINTERS_MAX];
	locale_t c_locale;     /* for strtod_l: '.' whatever the process locale */
	uint8_t *arena;
};

/* Per open container, for the first ST_JSON_WALK_DEPTH_MAX + 1 levels. */
struct st_json_level {
	uint64_t elem_hash;    /* arrays being walked: hash of the path of its elements */
	uint32_t path_len;     /* bytes of the container's own path */
	uint32_t index;        /* arrays: index of the next element */
	uint16_t alive;        /* pointers whose tokens matched this path */
	uint16_t capture;      /* pointers whose value is this container */
	bool walk;             /* the members are walked */
};

/* A schema update held back until the document proves valid. */
struct st_json_pending {
	uint64_t path_hash;
	uint16_t path_len;     /* the full path's length */
	uint8_t type;
	char path[ST_SCHEMA_PATH_MAX]; /* its first bytes, all st_schema keeps */
};

/* Classes of a byte (json.c). */
extern const uint8_t st_json_value_type[256]; /* st_json_type of a value
					       * starting with it, or 0 */
extern const uint8_t st_json_string_stop[256]; /* '"', '\\', < 0x20, >= 0x80 */
/* For skipping a value unread (the lazy scan): 1 for '"', 2 for '{' and
 * '[', 3 for '}' and ']', 4 for '\\', 0 for every other byte. */
extern const uint8_t st_json_skip_class[256];

/*
 * Shared by the builds, out of line (rare paths, one definition so that the
 * builds cannot differ): each returns the byte after what it checked, or
 * NULL with *reason set (enum st_json_error).
 *   check_escape: p at a backslash inside a string.
 *   check_utf8:   p at a byte >= 0x80 inside a string.
 */
const uint8_t *st_json_check_escape(const uint8_t *p, const uint8_t *end,
				    int *reason);
const uint8_t *st_json_check_utf8(const uint8_t *p, const uint8_t *end,
				  int *reason);
/* Decodes the validated string content [p, close) into out (cap bytes);
 * returns the decoded length or SIZE_MAX when it does not fit. */
size_t st_json_decode(const uint8_t *p, const uint8_t *close, uint8_t *out,
		      size_t cap);

/* The number grammar, shared by the builds (no SIMD in it) and the shape
 * templates (json_tmpl.c). */
#define JSON_SHARED static inline __attribute__((always_inline))

JSON_SHARED bool json_is_digit(uint8_t c)
{
	return (uint8_t)(c - '0') < 10;
}

/* The first non-digit in [p, end), or end; eight bytes at a time. */
JSON_SHARED const uint8_t *json_skip_digits(const uint8_t *p,
					 const uint8_t *end)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t high = 0xf0f0f0f0f0f0f0f0ull, d0 = 0x3030303030303030ull;

	while (end - p >= 8) {
		uint64_t x, not_digit;

		memcpy(&x, p, 8);
		/* a byte is a digit when it is 0x3_ and adding 6 keeps it 0x3_;
		 * a carry out of a byte >= 0xfa only disturbs bytes after it,
		 * and that byte is itself a non-digit */
		not_digit = ((x & high) ^ d0) |
			    (((x + 0x0606060606060606ull) & high) ^ d0);
		if (not_digit)
			return p + (__builtin_ctzll(not_digit) >> 3);
		p += 8;
	}
#endif
	while (p < end && json_is_digit(*p))
		p++;
	return p;
}

/* RFC 8259 §6: [ minus ] int [ frac ] [ exp ].  p at '-' or a digit. */
JSON_SHARED const uint8_t *json_scan_number(const uint8_t *p,
					 const uint8_t *end)
{
	if (*p == '-' && ++p == end)
		return NULL;
	if (*p == '0')
		p++;
	else if (json_is_digit(*p))
		p = json_skip_digits(p + 1, end);
	else
		return NULL;
	if (p < end && *p == '.') {
		if (++p == end || !json_is_digit(*p))
			return NULL;
		p = json_skip_digits(p + 1, end);
	}
	if (p < end && (*p | 0x20) == 'e') {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !json_is_digit(*p))
			return NULL;
		p = json_skip_digits(p + 1, end);
	}
	/* "01", "1.2.3", "1e5e5", "-+1": a number cannot go on like this */
	if (p < end && (json_is_digit(*p) || *p == '.' || *p == '+' ||
			*p == '-' || (*p | 0x20) == 'e'))
		return NULL;
	return p;
}

/* A 6-bit digest of a decoded name: its length and first byte. */
static inline unsigned st_json_name_bit(const uint8_t *name, size_t len)
{
	return (unsigned)((len ? name[0] : 0) * 7u + len) & 63u;
}

typedef int st_json_scan_fn(const struct st_json_plan *plan,
			    const uint8_t *doc, size_t len,
			    struct st_json_value *values, uint8_t *scratch,
			    size_t scratch_bytes, struct st_schema *schema,
			    struct st_json_scan_stats *stats);

st_json_scan_fn st_json_scan_scalar;
st_json_scan_fn st_json_scan_avx2;
st_json_scan_fn st_json_scan_avx512;

typedef int st_json_fields_fn(const struct st_json_plan *plan,
			      const uint8_t *doc, size_t len,
			      struct st_json_value *values, uint8_t *scratch,
			      size_t scratch_bytes);

st_json_fields_fn st_json_fields_scalar;
st_json_fields_fn st_json_fields_avx2;
st_json_fields_fn st_json_fields_avx512;

/* The value of a number's text (validated by the scan), per json.h. */
double st_json_number_value(const struct st_json_plan *plan,
			    const uint8_t *text, size_t len);

/* The same, inline for a whole number of at most 15 digits (an id, a
 * count: below 2^53, so (double) of it is exact, and bit for bit what
 * st_json_number_value() gives), else that call. */
static inline double st_json_number(const struct st_json_plan *plan,
				    const uint8_t *text, size_t len)
{
	uint64_t v = 0;

	if (len > 15)
		return st_json_number_value(plan, text, len);
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)text[i] - '0';

		if (d > 9)
			return st_json_number_value(plan, text, len);
		v = v * 10 + d;
	}
	return (double)v;
}

#endif
