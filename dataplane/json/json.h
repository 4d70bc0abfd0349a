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
 * Fields only.  st_json_scan_fields() is the lazy variant for streams whose
 * schema is not wanted: the same values, but it reads the document only up
 * to the last field and checks only what it reads (its contract below).
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

/*
 * The lazy fields-only scan: the values of `plan`'s pointers without
 * validating the whole document, for streams whose schema is not wanted
 * (a stream's `schema = false`).  Arguments, `values` and the scratch rule
 * as st_json_scan() with schema NULL.
 *
 * Result.  For a document st_json_scan() accepts, st_json_scan_fields()
 * returns 0 and the same values (found, type, text bytes and length,
 * number bits) as st_json_scan(plan, ..., schema NULL): same first
 * occurrence, same decoding, same conversion, same scratch use.
 *
 * What is read.  The scan walks the document from its start, like
 * simdjson On-Demand, and returns 0 as soon as every pointer is found
 * (a captured object or array once it is closed), without reading the
 * rest.  A pointer not yet found is searched until the root closes (a
 * later duplicate name may still hold it); with no pointer at all, only
 * the first value byte is looked at.  It descends only into the
 * containers on a wanted pointer's path; the others are skipped.
 *
 * Validation contract.  A document is refused (-enum st_json_error, the
 * reason st_json_scan() gives when that error is the document's first)
 * only for an error found in what the scan checks, which is:
 *   - the structure of the containers it descends into, up to where it
 *     stops: member names (in full: escapes, surrogates, UTF-8, control
 *     characters), colons, commas (trailing ones too), brackets, and the
 *     whitespace between them;
 *   - every number (RFC 8259 §6 grammar) and literal met there, and
 *     every extracted value in full (a string's escapes and UTF-8, an
 *     extracted container as skipped below);
 *   - when the root value is read to its end (a pointer not found, or
 *     "" the whole document): the trailing whitespace (TRAILING_DATA);
 *   - the nesting depth of everything it descends into or skips
 *     (TOO_DEEP), and that the text does not end inside what it reads
 *     (UNTERMINATED; so too a number inside a container that runs into
 *     the end of the text, which may have been cut), EMPTY, SCRATCH_FULL
 *     and BAD_CALL as st_json_scan().
 * A refusal is always a real error: st_json_scan() refuses that document
 * too (for the same reason when the error is its first).
 * Not checked: the content of a skipped string (it ends at the first '"'
 * not escaped by a backslash; escapes, UTF-8 and control characters are
 * not looked at); inside a skipped container anything but the count of
 * brackets outside strings (bracket kinds, commas, colons, names, numbers
 * and literals are not); and everything after the point where the scan
 * stops.  So a document with an error there is accepted with its values.
 *
 * Bounded: no recursion, no allocation, about 2 KB of stack.  Thread
 * safety as st_json_scan().
 */
int st_json_scan_fields(const struct st_json_plan *plan, const uint8_t *doc,
			size_t len, struct st_json_value *values,
			uint8_t *scratch, size_t scratch_bytes);

/* The same with a given build; a level the CPU lacks returns
 * -ST_JSON_E_BAD_CALL.  All builds give identical results. */
int st_json_scan_fields_level(enum st_simd_level level,
			      const struct st_json_plan *plan,
			      const uint8_t *doc, size_t len,
			      struct st_json_value *values, uint8_t *scratch,
			      size_t scratch_bytes);

/* snake_case name of a reason, positive or negative ("ok" for 0);
 * "unknown" out of range. */
const char *st_json_error_name(int reason);

#endif
