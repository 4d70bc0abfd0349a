/*
 * Shape templates (json_tmpl.h): learning a document's skeleton and value
 * slots, matching later documents against them, and the owed schema
 * updates.
 *
 * The match is the hot path (one call per record of a stream), so the
 * learn prepares what it compares (struct step): each skeleton run of at
 * most 16 bytes as a 16-byte vector and a mask of the bytes past it, the
 * tail as the last 16 bytes of a document.  Where 16 bytes are not left to
 * read, the same runs are compared byte-exactly from the learnt document.
 * The scalars keep the full grammar: a short number without exponent is
 * found by one digit compare and checked bit by bit, anything else goes
 * through json_scan_number(); a string is read 16 plain bytes at a time
 * and any stop byte other than its closing quote (an escape, UTF-8, a
 * control byte) goes out of line to the scanner's own checks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dataplane/bytes.h"
#include "dataplane/compiler.h"
#include "dataplane/json/json_internal.h"
#include "dataplane/json/json_tmpl.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/schema.h"

enum slot_kind {
	SLOT_SCALAR,               /* any string, number or literal */
	SLOT_ARRAY,                /* an array of such values, any length */
};

struct slot {
	uint16_t start, end;       /* [start, end) in the learnt document */
	uint8_t kind;              /* enum slot_kind */
	int8_t path;               /* paths[] of the value (of the elements
				    * for an array), -1 for the root */
};

/*
 * What a match checks before and at slot i, made at the learn: the
 * skeleton run before the slot, by one 16-byte compare where it has at
 * most 16 bytes and 16 bytes are left to read (the usual case), and the
 * slot.
 */
struct step {
	_Alignas(16) uint8_t run_head[16]; /* the run's first bytes (16 at
				    * most), zeros after */
	uint32_t fast_left;        /* bytes left (at the run's start) from
				    * which run_head is compared: more than
				    * the run, and 16 at least */
	uint16_t run;              /* the run's bytes */
	uint16_t from;             /* its offset in doc */
	uint16_t run_skip;         /* the compare's bits past the run */
	uint8_t kind;              /* enum slot_kind */
	bool no_escape;            /* a found value's slot: an escape
				    * refuses the document */
};

struct path {
	uint64_t hash;
	uint32_t count;            /* updates one document makes outside
				    * array slots */
	uint8_t type;              /* the types the learnt document gave it */
	uint8_t len;
	char text[ST_SCHEMA_PATH_MAX];
};

/* A byte per slot (its types), OR-ed into the template a word at a time. */
union slot_types {
	uint64_t w[ST_JSON_TMPL_SLOTS_MAX / 8];
	uint8_t b[ST_JSON_TMPL_SLOTS_MAX];
};

struct st_json_tmpl {
	bool ready;
	uint16_t len;              /* bytes of doc */
	uint16_t n_slots;
	uint8_t n_paths;
	uint16_t fixed_updates;    /* schema updates outside array slots */
	uint8_t n_found;           /* values found */
	uint8_t found_value[ST_JSON_POINTERS_MAX]; /* each: its index */
	uint8_t found_slot[ST_JSON_POINTERS_MAX];  /* and its slot */
	uint16_t absent;           /* bit i: value i not found */
	uint8_t type_words;        /* words of slot_types the slots use */
	uint64_t captured;         /* bit s: slot s holds a found value */
	uint64_t owed;             /* documents matched, not yet flushed */
	uint64_t hits;             /* documents matched since the learn */
	uint32_t misses, gap;      /* st_json_tmpl_scan(): misses since the
				    * learn, and how many it waits for */
	uint64_t owed_elems[ST_JSON_TMPL_PATHS_MAX]; /* array slots' updates */
	bool has_arrays;           /* an array slot among the slots */
	union slot_types owed_types;  /* the types each slot saw */
	struct slot slots[ST_JSON_TMPL_SLOTS_MAX];
	struct step steps[ST_JSON_TMPL_SLOTS_MAX];
	/* the skeleton after the last slot, compared as the last 16 bytes
	 * of the document when it has that many and the tail is no longer */
	_Alignas(16) uint8_t tail_bytes[16]; /* ends with the tail */
	uint32_t tail_fast_len;    /* document bytes from which it is */
	uint16_t tail;             /* the tail's bytes */
	uint16_t tail_from;        /* its offset in doc */
	uint16_t tail_skip;        /* the compare's bits before the tail */
	struct path paths[ST_JSON_TMPL_PATHS_MAX];
	uint8_t doc[ST_JSON_TMPL_DOC_MAX];
};

_Static_assert(ST_JSON_TMPL_DOC_MAX <= UINT16_MAX, "slot offsets are 16-bit");
_Static_assert(ST_JSON_POINTERS_MAX <= 16, "absent values fit a uint16_t");
_Static_assert(ST_JSON_TMPL_SLOTS_MAX <= INT8_MAX && ST_JSON_TMPL_SLOTS_MAX <= 64,
	       "value slots fit an int8_t and `captured`");
_Static_assert(ST_JSON_TMPL_SLOTS_MAX % 8 == 0, "slot types pack into words");
_Static_assert(ST_JSON_TMPL_PATHS_MAX <= INT8_MAX, "paths fit an int8_t");
_Static_assert(ST_SCHEMA_PATH_MAX <= UINT8_MAX, "path lengths are 8-bit");
_Static_assert(ST_JSON_WALK_FIELDS_MAX <= UINT16_MAX, "updates fit 16 bits");

struct st_json_tmpl *st_json_tmpl_create(void)
{
	return calloc(1, sizeof(struct st_json_tmpl));
}

void st_json_tmpl_destroy(struct st_json_tmpl *t)
{
	free(t);
}

struct st_schema *st_json_tmpl_scratch_create(void)
{
	return st_schema_create(ST_JSON_TMPL_PATHS_MAX);
}

uint64_t st_json_tmpl_hits(const struct st_json_tmpl *t)
{
	return t->hits;
}

/* ---- scalars, for learning and matching ---------------------------------- */

static inline bool json_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
	while (p < end && json_ws(*p))
		p++;
	return p;
}

#ifdef __SSE2__
/* Bit i clear: byte at[i] is '"', '\\', < 0x20 or >= 0x80. */
static inline unsigned plain_mask(const uint8_t *at)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)at);
	/* x ^ 2 keeps < 0x20 and >= 0x80 (negative: signed compare) where
	 * they are and turns '"' into 0x20; nothing else falls to <= 0x20 */
	__m128i above = _mm_cmpgt_epi8(_mm_xor_si128(x, _mm_set1_epi8(2)),
				       _mm_set1_epi8(0x20));
	__m128i bslash = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));

	return (unsigned)_mm_movemask_epi8(_mm_andnot_si128(bslash, above));
}
#endif

/* The first byte in [p, end) that is '"', '\\', < 0x20 or >= 0x80, or end.
 * lo: the document's start; bytes in [lo, p) may be loaded, not used. */
static inline const uint8_t *string_stop(const uint8_t *lo, const uint8_t *p,
					 const uint8_t *end)
{
#ifdef __SSE2__
	unsigned m;

	for (size_t blocks = (size_t)(end - p) / 16; blocks; blocks--) {
		m = plain_mask(p) ^ 0xffff;
		if (m)
			return p + __builtin_ctz(m);
		p += 16;
	}
	if (p < end && end - lo >= 16) {
		/* the document's last 16 bytes, those before p dropped */
		m = (plain_mask(end - 16) ^ 0xffff) >> (16 - (end - p));
		return m ? p + __builtin_ctz(m) : end;
	}
#else
	(void)lo;
#endif
	while (p < end && !st_json_string_stop[*p])
		p++;
	return p;
}

static inline bool same4(const uint8_t *p, const char *lit)
{
	return memcmp(p, lit, 4) == 0;
}

/* string_end() past p, the string's first bytes, all plain. */
static __attribute__((noinline)) const uint8_t *
string_end_slow(const uint8_t *lo, const uint8_t *p, const uint8_t *end,
		bool no_escape)
{
	int reason;

	for (;;) {
		p = string_stop(lo, p, end);
		if (p == end)
			return NULL;
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			if (no_escape)
				return NULL;
			p = st_json_check_escape(p, end, &reason);
		} else if (*p >= 0x80) {
			p = st_json_check_utf8(p, end, &reason);
		} else {
			return NULL;    /* a control byte */
		}
		if (!p)
			return NULL;
	}
}

/* A string at p ('"'): its end, or NULL when it is not valid (RFC 8259
 * §7, UTF-8 as the scanner checks it, with its own out-of-line checks) or
 * holds an escape while `no_escape`. */
static inline __attribute__((always_inline)) const uint8_t *
string_end(const uint8_t *lo, const uint8_t *p, const uint8_t *end,
	   bool no_escape)
{
	p++;
#ifdef __SSE2__
	/* 16 bytes at a time while plain; most strings end in the first */
	for (size_t blocks = (size_t)(end - p) / 16; blocks; blocks--) {
		unsigned m = plain_mask(p) ^ 0xffff;

		if (likely(m)) {
			p += __builtin_ctz(m);
			if (likely(*p == '"'))
				return p + 1;
			goto slow;
		}
		p += 16;
	}
	if (p < end && end - lo >= 16) {
		/* the document's last 16 bytes, those before p dropped */
		unsigned m = (plain_mask(end - 16) ^ 0xffff) >> (16 - (end - p));

		if (m) {
			p += __builtin_ctz(m);
			if (likely(*p == '"'))
				return p + 1;
		}
	}
slow:
#endif
	return string_end_slow(lo, p, end, no_escape);
}

/* Bit c - '+': a byte c that may go on a number after its digits. */
#define NUMBER_GOES_ON (1ull << 0 | 1ull << ('-' - '+') | 1ull << ('.' - '+') | \
			1ull << ('E' - '+') | 1ull << ('e' - '+'))

#ifdef __SSE2__
/* Bit i: byte at[i] is a digit. */
static inline unsigned digit_mask(const uint8_t *at)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)at);
	/* x + 0x50 takes '0'..'9' to 0x80..0x89, the ten lowest signed
	 * bytes, and every other byte above them */
	__m128i shifted = _mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - '0')));

	return (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(shifted,
							  _mm_set1_epi8(-128 + 10)));
}
#endif

/*
 * json_scan_number(p, end), p at '-' or a digit: the same result, sooner
 * for a number without exponent of at most 15 bytes (after its sign)
 * followed by the byte that ends it, all within 16 readable bytes; any
 * other case is left to json_scan_number().  The digits are found by one
 * 16-byte compare; what the grammar asks of them is checked bit by bit.
 */
static inline __attribute__((always_inline)) const uint8_t *
number_end(const uint8_t *p, const uint8_t *end)
{
#ifdef __SSE2__
	const uint8_t *q = p + (*p == '-');
	unsigned other, int_end, num_end, after;

	if (likely(end - q >= 16)) {
		other = digit_mask(q) ^ 0xffff;
		int_end = (unsigned)__builtin_ctz(other | 1u << 16);
		/* no digit, or a leading zero not alone (the grammar's NULL),
		 * or the end not in sight */
		if (unlikely(int_end == 0 || int_end == 16 ||
			     (q[0] == '0' && int_end != 1)))
			goto full;
		num_end = int_end;
		if (q[int_end] == '.') {
			other &= other - 1;
			num_end = (unsigned)__builtin_ctz(other | 1u << 16);
			/* no digit after the point, or the end not in sight */
			if (unlikely(num_end == int_end + 1 || num_end == 16))
				goto full;
		}
		/* an exponent, or a number that goes on invalidly (the last
		 * check of json_scan_number()) */
		after = (unsigned)q[num_end] - '+';
		if (unlikely(after < 64 && (NUMBER_GOES_ON >> after & 1)))
			goto full;
		return q + num_end;
	}
full:
#endif
	return json_scan_number(p, end);
}

/*
 * A scalar at p (p < end): a string, a number (RFC 8259 §6) or a literal.
 * Its end, or NULL; *type its enum st_json_type.  A string with an escape
 * (the scan would decode it into the scratch) is NULL when `no_escape`.
 */
static inline __attribute__((always_inline)) const uint8_t *
any_scalar(const uint8_t *lo, const uint8_t *p, const uint8_t *end, uint8_t *type,
	   bool no_escape)
{
	uint8_t c = *p;

	if (c == '"') {
		*type = ST_JSON_STRING;
		return string_end(lo, p, end, no_escape);
	}
	if (json_is_digit(c) || c == '-') {
		*type = ST_JSON_NUMBER;
		return number_end(p, end);
	}
	switch (c) {
	case 't':
		*type = ST_JSON_TRUE;
		return end - p >= 4 && same4(p, "true") ? p + 4 : NULL;
	case 'n':
		*type = ST_JSON_NULL;
		return end - p >= 4 && same4(p, "null") ? p + 4 : NULL;
	case 'f':
		*type = ST_JSON_FALSE;
		return end - p >= 5 && same4(p + 1, "alse") ? p + 5 : NULL;
	default:
		*type = ST_JSON_NUMBER;
		return NULL;
	}
}

/* The elements of an array of scalars at p ('['): its end or NULL; *n
 * their count, *types their types OR-ed. */
static inline const uint8_t *scalar_array(const uint8_t *lo, const uint8_t *p,
					  const uint8_t *end, uint32_t *n,
					  uint8_t *types)
{
	uint8_t type;

	*n = 0;
	*types = 0;
	if (*p != '[')
		return NULL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == ']')
		return p + 1;
	for (;;) {
		if (p == end || !(p = any_scalar(lo, p, end, &type, false)))
			return NULL;
		++*n;
		*types |= type;
		p = skip_ws(p, end);
		if (p == end)
			return NULL;
		if (*p == ']')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1, end);
	}
}

/* ---- learning ------------------------------------------------------------ */

/*
 * What the walk of the learnt document should give, computed by
 * find_slots() and compared with the walk st_json_scan() really made:
 * the slots are used only when the two agree on every path, count and
 * type, so an error in this model refuses templates, never matches wrongly.
 */
struct model {
	unsigned n;
	uint64_t hash[ST_JSON_TMPL_PATHS_MAX];
	uint32_t count[ST_JSON_TMPL_PATHS_MAX];
	uint32_t elems[ST_JSON_TMPL_PATHS_MAX];  /* of them in array slots */
	uint8_t type[ST_JSON_TMPL_PATHS_MAX];
};

/* Index of hash in m, added if new; -1 when m is full. */
static int model_path(struct model *m, uint64_t hash)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->hash[i] == hash)
			return (int)i;
	if (m->n == ST_JSON_TMPL_PATHS_MAX)
		return -1;
	m->hash[m->n] = hash;
	m->count[m->n] = m->elems[m->n] = 0;
	m->type[m->n] = 0;
	return (int)m->n++;
}

/* One open container of the learnt document. */
struct level {
	uint16_t path_len;         /* its own path's bytes */
	bool object;
	const uint8_t *name;       /* the member name that holds it (raw), or
				    * NULL for an array element or the root */
	uint16_t name_len;
};

/* Does a pointer of `plan` reach into the array opened at lv[d]?  lv[1]
 * is the root; lv[k] for k >= 2 was entered by the path's token k - 1 (a
 * member name, or an array element, which any token may select). */
static bool pointer_below(const struct st_json_plan *plan,
			  const struct level *lv, unsigned d)
{
	for (unsigned i = 0; plan && i < plan->n; i++) {
		bool same = plan->ntok[i] >= d;

		for (unsigned k = 2; same && k <= d; k++) {
			const struct st_json_token *tok = &plan->tok[k - 2][i];

			if (lv[k].name)
				same = tok->len == lv[k].name_len &&
				       memcmp(tok->text, lv[k].name, tok->len) == 0;
		}
		if (same)
			return true;
	}
	return false;
}

static bool add_slot(struct st_json_tmpl *t, size_t start, size_t end,
		     enum slot_kind kind, int path)
{
	if (t->n_slots == ST_JSON_TMPL_SLOTS_MAX)
		return false;
	t->slots[t->n_slots++] = (struct slot){
		.start = (uint16_t)start, .end = (uint16_t)end,
		.kind = (uint8_t)kind, .path = (int8_t)path,
	};
	return true;
}

/*
 * The value slots of a document st_json_scan() accepted, and the model of
 * its walk: every string that is not a member name, every number and
 * literal is a slot, except that an array holding only such values, not on
 * a pointer's path, is one slot of any length.  Member names with escapes,
 * a container ST_JSON_WALK_DEPTH_MAX deep and paths of ST_SCHEMA_PATH_MAX
 * bytes are refused.
 * The checks also keep an invalid document from being read out of bounds.
 */
static bool find_slots(struct st_json_tmpl *t, const struct st_json_plan *plan,
		       const uint8_t *doc, size_t len, struct model *m)
{
	const uint8_t *end = doc + len, *name = NULL;
	struct level lv[ST_JSON_WALK_DEPTH_MAX + 1];
	char path[ST_SCHEMA_PATH_MAX];
	unsigned depth = 0;
	uint16_t name_len = 0;
	bool name_next = false;
	size_t i = 0;

	t->n_slots = 0;
	m->n = 0;
	lv[0] = (struct level){ .path_len = 0 };
	while (i < len) {
		uint8_t c = doc[i], type = 0;
		size_t plen = 0, j;
		int at = -1;

		switch (c) {
		case ' ': case '\t': case '\n': case '\r': case ':':
			i++;
			continue;
		case ',':
			name_next = depth && lv[depth].object;
			i++;
			continue;
		case '}': case ']':
			if (depth == 0)
				return false;
			depth--;
			name_next = false;
			i++;
			continue;
		case '"':
			if (!name_next)
				break;
			/* a member name: plain bytes only */
			j = i + 1;
			while (j < len && doc[j] != '"' && doc[j] != '\\')
				j++;
			if (j >= len || doc[j] != '"')
				return false;
			name = doc + i + 1;
			name_len = (uint16_t)(j - i - 1);
			name_next = false;
			i = j + 1;
			continue;
		default:
			break;
		}

		/* a value inside `depth` containers (at most
		 * ST_JSON_WALK_DEPTH_MAX: deeper ones are refused when opened):
		 * its path, then its update */
		if (depth) {
			plen = lv[depth].path_len;
			if (plen + 2 > sizeof(path))
				return false;
			path[plen++] = '/';
			if (lv[depth].object) {
				for (uint16_t k = 0; k < name_len; k++) {
					uint8_t b = name[k];
					bool esc = b == '~' || b == '/';

					if (plen + 1 + esc > sizeof(path) - 1)
						return false;
					path[plen++] = esc ? '~' : (char)b;
					if (esc)
						path[plen++] = b == '~' ? '0' : '1';
				}
			} else {
				path[plen++] = '*';
			}
			if (plen >= ST_SCHEMA_PATH_MAX)
				return false;
			at = model_path(m, st_hash64(path, plen));
			if (at < 0)
				return false;
		}
		if (c == '{' || c == '[') {
			uint32_t n;
			uint8_t types;
			const uint8_t *q;

			if (at >= 0) {
				m->count[at]++;
				m->type[at] |= c == '{' ? ST_JSON_OBJECT : ST_JSON_ARRAY;
			}
			if (depth == ST_JSON_WALK_DEPTH_MAX)
				return false;
			lv[depth + 1] = (struct level){
				.path_len = (uint16_t)plen, .object = c == '{',
				.name = depth && lv[depth].object ? name : NULL,
				.name_len = depth && lv[depth].object ? name_len : 0,
			};
			q = c == '[' ? scalar_array(doc, doc + i, end, &n, &types) : NULL;
			if (q && n && !pointer_below(plan, lv, depth + 1)) {
				/* one slot for the elements, at path "/" "*" */
				int e;

				if (plen + 2 >= ST_SCHEMA_PATH_MAX)
					return false;
				path[plen] = '/';
				path[plen + 1] = '*';
				e = model_path(m, st_hash64(path, plen + 2));
				if (e < 0 || !add_slot(t, i, (size_t)(q - doc), SLOT_ARRAY, e))
					return false;
				m->count[e] += n;
				m->elems[e] += n;
				m->type[e] |= types;
				i = (size_t)(q - doc);
				continue;
			}
			depth++;
			name_next = c == '{';
			i++;
			continue;
		}
		{
			const uint8_t *q = any_scalar(doc, doc + i, end, &type, false);

			if (!q || !add_slot(t, i, (size_t)(q - doc), SLOT_SCALAR, at))
				return false;
			if (at >= 0) {
				m->count[at]++;
				m->type[at] |= type;
			}
			i = (size_t)(q - doc);
		}
	}
	return depth == 0;
}

/* found_value[], found_slot[]: the slot each found value was captured
 * from; absent: the values not found. */
static bool map_values(struct st_json_tmpl *t, const uint8_t *doc,
		       const struct st_json_value *values, unsigned n)
{
	t->captured = 0;
	t->n_found = 0;
	t->absent = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct st_json_value *v = &values[i];
		int found = -1;

		if (!v->found) {
			t->absent |= (uint16_t)(1u << i);
			continue;
		}
		if (v->type == ST_JSON_OBJECT || v->type == ST_JSON_ARRAY)
			return false;
		for (unsigned s = 0; s < t->n_slots; s++) {
			const struct slot *sl = &t->slots[s];
			size_t at = sl->start + (v->type == ST_JSON_STRING);

			if (sl->kind == SLOT_SCALAR && v->text == doc + at) {
				found = (int)s;
				break;
			}
		}
		/* a string decoded into the scratch (it had escapes) */
		if (found < 0)
			return false;
		t->captured |= 1ull << found;
		t->found_value[t->n_found] = (uint8_t)i;
		t->found_slot[t->n_found++] = (uint8_t)found;
	}
	return true;
}

/* paths[]: the schema updates one document makes, from a scan into
 * `scratch`, which must be what the model says. */
static bool learn_paths(struct st_json_tmpl *t, const uint8_t *doc, size_t len,
			struct st_schema *scratch, const struct model *m)
{
	struct st_schema_entry e[ST_JSON_TMPL_PATHS_MAX];
	struct st_json_scan_stats stats = { 0 };
	uint32_t elems = 0;
	size_t n;

	st_schema_reset(scratch);
	if (st_json_scan(NULL, doc, len, NULL, NULL, 0, scratch, &stats) != 0 ||
	    st_schema_overflow(scratch) != 0 ||
	    st_schema_size(scratch) != m->n || stats.walk_depth_limited ||
	    stats.walk_fields_limited || stats.walk_path_limited)
		return false;
	n = st_schema_entries(scratch, e, ST_JSON_TMPL_PATHS_MAX);
	for (size_t i = 0; i < n; i++) {
		int k = -1;

		for (unsigned j = 0; j < m->n; j++)
			if (m->hash[j] == e[i].path_hash)
				k = (int)j;
		if (k < 0 || e[i].count != m->count[k] || e[i].type_mask != m->type[k] ||
		    e[i].path_len >= ST_SCHEMA_PATH_MAX)
			return false;
	}
	/* paths[] in the model's order: slots name them by that index */
	for (unsigned j = 0; j < m->n; j++) {
		const struct st_schema_entry *x = NULL;

		for (size_t i = 0; i < n; i++)
			if (e[i].path_hash == m->hash[j])
				x = &e[i];
		t->paths[j] = (struct path){
			.hash = x->path_hash, .count = m->count[j] - m->elems[j],
			.type = x->type_mask, .len = x->path_len,
		};
		memcpy(t->paths[j].text, x->path, x->path_len);
		elems += m->elems[j];
	}
	t->n_paths = (uint8_t)m->n;
	t->fixed_updates = (uint16_t)(stats.schema_updates - elems);
	return true;
}

/* steps[] and the tail, from slots[] and doc. */
static void make_steps(struct st_json_tmpl *t)
{
	size_t from = 0, tail;

	for (unsigned i = 0; i < t->n_slots; i++) {
		struct step *st = &t->steps[i];
		size_t run = t->slots[i].start - from;

		*st = (struct step){
			.fast_left = UINT32_MAX, .run = (uint16_t)run,
			.from = (uint16_t)from, .kind = t->slots[i].kind,
			.no_escape = t->captured >> i & 1,
		};
#ifdef __SSE2__
		if (run <= 16) {
			memcpy(st->run_head, t->doc + from, run);
			st->fast_left = run < 16 ? 16 : 17;
			st->run_skip = (uint16_t)(0xffffu << run);
		}
#endif
		from = t->slots[i].end;
	}
	tail = t->len - from;
	t->tail = (uint16_t)tail;
	t->tail_from = (uint16_t)from;
	t->tail_fast_len = UINT32_MAX;
	memset(t->tail_bytes, 0, sizeof(t->tail_bytes));
	t->tail_skip = 0;
#ifdef __SSE2__
	if (tail <= 16) {
		memcpy(t->tail_bytes + 16 - tail, t->doc + from, tail);
		t->tail_fast_len = 16;
		t->tail_skip = (uint16_t)((1u << (16 - tail)) - 1);
	}
#endif
}

bool st_json_tmpl_learn(struct st_json_tmpl *t, const struct st_json_plan *plan,
			const uint8_t *doc, size_t len,
			const struct st_json_value *values,
			struct st_schema *scratch)
{
	struct model m;

	t->ready = false;
	t->owed = 0;
	t->hits = 0;
	memset(t->owed_elems, 0, sizeof(t->owed_elems));
	memset(&t->owed_types, 0, sizeof(t->owed_types));
	if (len == 0 || len > ST_JSON_TMPL_DOC_MAX ||
	    !find_slots(t, plan, doc, len, &m) ||
	    !map_values(t, doc, values, st_json_plan_size(plan)) ||
	    !learn_paths(t, doc, len, scratch, &m))
		return false;
	memcpy(t->doc, doc, len);
	t->len = (uint16_t)len;
	t->has_arrays = false;
	for (unsigned i = 0; i < t->n_slots; i++)
		t->has_arrays |= t->slots[i].kind == SLOT_ARRAY;
	make_steps(t);
	t->type_words = (uint8_t)((t->n_slots + 7) / 8);
	t->ready = true;
	return true;
}

/* ---- matching ------------------------------------------------------------ */

#ifdef __SSE2__
/* The 16 bytes at p against want[], the bits of `skip` not compared. */
static inline bool same16(const uint8_t *p, const uint8_t *want, unsigned skip)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i w = _mm_load_si128((const __m128i *)(const void *)want);

	return ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, w)) | skip) == 0xffff;
}
#endif

/* The skeleton run of step st at d, and at least one byte after it. */
static inline bool same_run(const struct st_json_tmpl *t, const struct step *st,
			    const uint8_t *d, const uint8_t *end)
{
	size_t left = (size_t)(end - d);

#ifdef __SSE2__
	if (likely(left >= st->fast_left))
		return same16(d, st->run_head, st->run_skip);
#endif
	return left > st->run && st_bytes_equal(d, t->doc + st->from, st->run);
}

/* The skeleton after the last slot at d, and nothing after it. */
static inline bool same_tail(const struct st_json_tmpl *t, const uint8_t *d,
			     const uint8_t *end, size_t len)
{
	if ((size_t)(end - d) != t->tail)
		return false;
#ifdef __SSE2__
	if (likely(len >= t->tail_fast_len))
		return same16(end - 16, t->tail_bytes, t->tail_skip);
#endif
	(void)len;
	return st_bytes_equal(d, t->doc + t->tail_from, t->tail);
}

bool st_json_tmpl_match(struct st_json_tmpl *t, const struct st_json_plan *plan,
			const uint8_t *doc, size_t len,
			struct st_json_value *values,
			struct st_json_scan_stats *stats)
{
	const uint8_t *d = doc, *end = doc + len;
	const uint8_t *ends[ST_JSON_TMPL_SLOTS_MAX]; /* of each slot's value */
	uint32_t elems[ST_JSON_TMPL_SLOTS_MAX];
	union slot_types types;
	unsigned n_slots = t->n_slots, words = t->type_words;
	uint32_t updates;

	/* st_json_scan() refuses 4 GiB (BAD_CALL); a value's length is 32-bit */
	if (!t->ready || len >= UINT32_MAX)
		return false;
	if (words)
		types.w[words - 1] = 0;    /* the bytes past the last slot */
	updates = t->fixed_updates;
	for (unsigned i = 0; i < n_slots; i++) {
		const struct step *st = &t->steps[i];
		const uint8_t *q;

		if (!same_run(t, st, d, end))
			return false;
		d += st->run;
		if (likely(st->kind == SLOT_SCALAR)) {
			/* a found string with escapes is decoded: the scan's job */
			q = any_scalar(doc, d, end, &types.b[i], st->no_escape);
		} else {
			q = scalar_array(doc, d, end, &elems[i], &types.b[i]);
			updates += elems[i];
			/* (learn_paths() refuses more fixed updates than that) */
			if (updates > ST_JSON_WALK_FIELDS_MAX)
				return false;
		}
		if (!q)
			return false;
		ends[i] = q;
		d = q;
	}
	if (!same_tail(t, d, end, len))
		return false;

	for (unsigned absent = t->absent; absent; absent &= absent - 1)
		values[__builtin_ctz(absent)] = (struct st_json_value){ 0 };
	for (unsigned k = 0; k < t->n_found; k++) {
		unsigned s = t->found_slot[k];
		struct st_json_value *v = &values[t->found_value[k]];
		/* the value starts where the run after the previous one ends */
		const uint8_t *at = (s ? ends[s - 1] : doc) + t->steps[s].run;
		uint32_t at_len = (uint32_t)(ends[s] - at);

		v->type = types.b[s];
		v->found = true;
		v->number = 0;
		if (v->type == ST_JSON_STRING) {
			v->text = at + 1;
			v->text_len = at_len - 2;
		} else {
			v->text = at;
			v->text_len = at_len;
			if (v->type == ST_JSON_NUMBER)
				v->number = st_json_number(plan, at, at_len);
		}
	}
	/* a root scalar's slot has no path: its byte is never read */
	for (unsigned w = 0; w < words; w++)
		t->owed_types.w[w] |= types.w[w];
	if (t->has_arrays)
		for (unsigned i = 0; i < n_slots; i++)
			if (t->slots[i].kind == SLOT_ARRAY && t->slots[i].path >= 0)
				t->owed_elems[t->slots[i].path] += elems[i];
	t->owed++;
	t->hits++;
	if (stats)
		stats->schema_updates += updates;
	return true;
}

/* ---- the owed updates ---------------------------------------------------- */

void st_json_tmpl_flush(struct st_json_tmpl *t, struct st_schema *schema)
{
	uint8_t types[ST_JSON_TMPL_PATHS_MAX] = { 0 };

	if (!t->owed)
		return;
	for (unsigned i = 0; i < t->n_slots; i++)
		if (t->slots[i].path >= 0)
			types[t->slots[i].path] |= t->owed_types.b[i];
	for (unsigned i = 0; i < t->n_paths; i++) {
		const struct path *p = &t->paths[i];
		uint64_t n = p->count && t->owed > UINT64_MAX / p->count ? UINT64_MAX
									 : t->owed * p->count;

		n = t->owed_elems[i] > UINT64_MAX - n ? UINT64_MAX : n + t->owed_elems[i];
		st_schema_add(schema, p->hash, p->text, p->len, p->type | types[i], n);
		t->owed_elems[i] = 0;
	}
	memset(&t->owed_types, 0, sizeof(t->owed_types));
	t->owed = 0;
}

void st_json_tmpl_retire(struct st_json_tmpl *t, struct st_schema *schema)
{
	st_json_tmpl_flush(t, schema);
	t->ready = false;
	t->misses = 0;
	t->gap = 1;
}

/* ---- the scanner's policy ------------------------------------------------ */

int st_json_tmpl_scan(struct st_json_tmpl *t, struct st_schema *learn_scratch,
		      const struct st_json_plan *plan, const uint8_t *doc,
		      size_t len, struct st_json_value *values, uint8_t *scratch,
		      size_t scratch_bytes, struct st_schema *schema,
		      struct st_json_scan_stats *stats, enum st_json_tmpl_how *how)
{
	enum st_json_tmpl_how did = ST_JSON_TMPL_SCANNED;
	int rc = 0;

	if (st_json_tmpl_match(t, plan, doc, len, values, stats)) {
		did = ST_JSON_TMPL_MATCHED;
		goto out;
	}
	rc = st_json_scan(plan, doc, len, values, scratch, scratch_bytes, schema,
			  stats);
	if (rc != 0 || ++t->misses < t->gap)
		goto out;
	/* it served most documents: the stream changed shape, follow it */
	t->gap = t->gap == 0 || (t->hits >= ST_JSON_TMPL_PAID &&
				 t->hits >= 4 * (uint64_t)t->misses) ? 1 :
		 ST_MIN(2 * t->gap, ST_JSON_TMPL_GAP_MAX);
	st_json_tmpl_flush(t, schema);
	t->misses = 0;
	did = st_json_tmpl_learn(t, plan, doc, len, values, learn_scratch) ?
	      ST_JSON_TMPL_LEARNT : ST_JSON_TMPL_REFUSED;
out:
	if (how)
		*how = did;
	return rc;
}
