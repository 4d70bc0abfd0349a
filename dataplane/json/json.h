/*
 * JSON field scanner: one pass over one JSON document (RFC 8259) that
 *   - validates it (the whole text: structure, strings, escapes, numbers,
 *     literals, UTF-8 inside strings),
 *   - extracts the values of up to ST_JSON_POINTERS_MAX configured JSON
 *     pointers (RFC 6901, e.g. "/user/id", "~0" for '~' and "~1" for '/'),
 *   - and, when given a schema set, walks the document's schema: the path
 *     and JSON type of every member and array element go to st_schema
 *     (dataplane/sketch/schema.h).
 *
 * The walk.  A member's path is its parent's path, '/', then the member name
 * decoded (escapes resolved) and re-escaped as a JSON-pointer token ('~' ->
 * "~0", '/' -> "~1"), so a path is a valid pointer and names that are equal
 * strings give equal paths whatever their escaping.  Array elements use the
 * component "*" (the elements of "/tags" are at "/tags/" "*", one path), so
 * the schema of an array does not grow with its length.  The root itself
 * is not a field.  Bounds per document: members
 * deeper than ST_JSON_WALK_DEPTH_MAX path components, paths longer than
 * ST_JSON_PATH_MAX bytes and fields past ST_JSON_WALK_FIELDS_MAX are not
 * walked; each case sets a counter in st_json_scan_stats and the document
 * stays valid (validation and extraction go on).  The schema is updated only
 * when the whole document is valid.
 *
 * Extraction.  The first occurrence of a pointer's path wins (RFC 8259 §4
 * leaves duplicate names to the implementation).  A token made of digits
 * without a leading zero (at most 9 of them) also selects that array
 * element (RFC 6901 §4); "-" selects nothing.  For each pointer, the value's JSON type, its text and
 * for numbers its double:
 *   string:  the decoded content.  Without escapes it points into the
 *            document (zero copy); with escapes it is decoded into the
 *            caller's scratch buffer (UTF-8, surrogate pairs joined).
 *   number:  the raw text as written (so that a numeric key hashes its
 *            text) and its value rounded to the nearest double (Clinger's
 *            exact fast path, else strtod_l in the C locale); +-HUGE_VAL past
 *            the double range; NAN when the text is longer than
 *            ST_JSON_NUMBER_TEXT_MAX bytes.
 *   true / false / null / object / array: the raw text of the value.
 *
 * Validation.  Exactly RFC 8259: whitespace is space, tab, LF and CR; no
 * trailing commas, no leading zeros, no '+', no NaN/Infinity, no comments;
 * control characters (< 0x20) in strings rejected; escapes limited to the
 * nine of §7; a \u escape of a UTF-16 surrogate must be a high surrogate
 * followed by a \u low surrogate (a lone one is refused, as it has no UTF-8
 * form).  UTF-8 IS validated, inside strings (RFC 3629 §4: no overlong
 * forms, no encoded surrogates, nothing above U+10FFFF); outside strings
 * every byte must be ASCII structure.  Nesting is limited to
 * ST_JSON_NESTING_MAX.  A rejected document gets one reason (enum
 * st_json_error) that does not depend on the SIMD level.
 *
 * SIMD.  The scan runs in one of three builds of the same parser that
 * differ only in their byte classifiers: where a string's run of plain
 * bytes ends (quote, backslash, control or non-ASCII byte) and where a
 * whitespace run ends.  The scalar build looks byte by byte; the AVX2 and
 * AVX-512BW builds classify the document in 64-byte blocks (two 32-byte
 * vectors, or one 64-byte vector) into bit masks, once per block, and find
 * a string's end with a shift and a count of trailing zeros.
 * st_json_scan() uses the build of st_cpu_simd_level() (SHADOWTAP_SIMD caps
 * it); all give identical results (the tests and the fuzz target compare
 * them).
 *
 * Thread safety: a plan is immutable after create and may be shared by any
 * number of threads; a scan uses only its arguments and its own stack
 * (about 23 KB), allocates nothing and makes no system calls.
 */
#ifndef ST_JSON_H
#define ST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/cpu.h"

struct st_schema;

#define ST_JSON_POINTERS_MAX 16       /* pointers per plan */
#define ST_JSON_TOKEN_MAX 255         /* bytes of one decoded pointer token */
#define ST_JSON_WALK_DEPTH_MAX 32     /* path components walked; also the
				       * most tokens a pointer may have */
#define ST_JSON_WALK_FIELDS_MAX 256   /* schema updates per document */
#define ST_JSON_PATH_MAX 512          /* bytes of a walked path */
#define ST_JSON_NESTING_MAX 1024      /* open containers; deeper is invalid */
#define ST_JSON_NUMBER_TEXT_MAX 1023  /* longer numbers convert to NAN */

/* Why a document was refused; st_json_scan() returns minus one of them. */
enum st_json_error {
	ST_JSON_OK = 0,
	ST_JSON_E_EMPTY,            /* nothing but whitespace */
	ST_JSON_E_UNEXPECTED,       /* a byte that cannot come here */
	ST_JSON_E_UNTERMINATED,     /* the text ends inside a value */
	ST_JSON_E_TRAILING_COMMA,   /* ",]" or ",}" */
	ST_JSON_E_TRAILING_DATA,    /* bytes after the document's value */
	ST_JSON_E_CONTROL_CHAR,     /* unescaped byte < 0x20 in a string */
	ST_JSON_E_BAD_ESCAPE,       /* backslash not followed by one of §7 */
	ST_JSON_E_BAD_SURROGATE,    /* lone or reversed \u surrogate */
	ST_JSON_E_BAD_UTF8,         /* invalid UTF-8 in a string */
	ST_JSON_E_BAD_NUMBER,       /* "01", "1.", "-", "1e" ... */
	ST_JSON_E_BAD_LITERAL,      /* not exactly true, false or null */
	ST_JSON_E_TOO_DEEP,         /* nesting > ST_JSON_NESTING_MAX */
	ST_JSON_E_SCRATCH_FULL,     /* the caller's scratch was too small */
	ST_JSON_E_BAD_CALL,         /* len >= 2^32, NULL doc, level absent */
	ST_JSON_E__COUNT
};

/* One extracted value.  `text` points into the document or the scratch
 * buffer of the scan that filled it. */
struct st_json_value {
	uint8_t type;               /* one enum st_json_type bit; 0 if !found */
	bool found;
	const uint8_t *text;        /* see the file head */
	uint32_t text_len;
	double number;              /* type ST_JSON_NUMBER only, else 0 */
};

/* Walk limits met, in documents; a scan adds to them (valid documents). */
struct st_json_scan_stats {
	uint64_t walk_depth_limited;   /* a container deeper than the walk */
	uint64_t walk_fields_limited;  /* more than ST_JSON_WALK_FIELDS_MAX */
	uint64_t walk_path_limited;    /* a path longer than ST_JSON_PATH_MAX */
	uint64_t schema_updates;       /* st_schema_update() calls made */
};

struct st_json_plan;

/*
 * A plan for `n` pointers (0..ST_JSON_POINTERS_MAX), in order: value i of a
 * scan belongs to pointers[i].  Each must be "" (the whole document) or
 * '/'-separated tokens, at most ST_JSON_WALK_DEPTH_MAX of them, each at most
 * ST_JSON_TOKEN_MAX bytes once "~0"/"~1" are decoded, with no other '~'
 * use.  The strings are copied.  Returns NULL with errno EINVAL (a
 * malformed pointer, n too big, pointers NULL with n > 0) or ENOMEM.
 */
struct st_json_plan *st_json_plan_create(const char *const *pointers,
					 unsigned n);
void st_json_plan_destroy(struct st_json_plan *plan);  /* NULL: no-op */
unsigned st_json_plan_size(const struct st_json_plan *plan);  /* NULL: 0 */

/*
 * Scans `doc` (len bytes, not NUL-terminated).  `plan` may be NULL (no
 * pointers: validate and walk only); `values` has st_json_plan_size(plan)
 * entries and is fully rewritten (meaningful only when 0 is returned).
 * Escaped strings are decoded into `scratch`; scratch_bytes >= len is always
 * enough (may be NULL/0 when no extracted string has escapes).  `schema`
 * NULL: no walk.  `stats` may be NULL.
 * Returns 0 for a valid document, else -enum st_json_error.
 */
int st_json_scan(const struct st_json_plan *plan, const uint8_t *doc,
		 size_t len, struct st_json_value *values, uint8_t *scratch,
		 size_t scratch_bytes, struct st_schema *schema,
		 struct st_json_scan_stats *stats);

/* The same with a given build (tests, fuzzing, benchmarks); a level the CPU
 * lacks (st_cpu_has() false) returns -ST_JSON_E_BAD_CALL. */
int st_json_scan_level(enum st_simd_level level,
		       const struct st_json_plan *plan, const uint8_t *doc,
		       size_t len, struct st_json_value *values,
		       uint8_t *scratch, size_t scratch_bytes,
		       struct st_schema *schema,
		       struct st_json_scan_stats *stats);

/* snake_case name of a reason, positive or negative ("ok" for 0);
 * "unknown" out of range. */
const char *st_json_error_name(int reason);

#endif
