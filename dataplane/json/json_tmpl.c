/*
 * Shape templates (json_tmpl.h): learning a document's skeleton and value
 * slots, matching later documents against them, and the owed schema
 * updates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dataplane/compiler.h"
#include "dataplane/json/json_internal.h"
#include "dataplane/json/json_tmpl.h"
#include "dataplane/sketch/schema.h"

enum slot_kind { SLOT_STRING, SLOT_NUMBER, SLOT_LITERAL };

struct slot {
	uint16_t start, end;       /* [start, end) in the learnt document */
	uint8_t kind;              /* enum slot_kind */
};

struct path {
	uint64_t hash;
	uint32_t count;            /* updates one document makes */
	uint8_t type;              /* the types they carry, OR-ed */
	uint8_t len;
	char text[ST_SCHEMA_PATH_MAX];
};

struct st_json_tmpl {
	bool ready;
	uint16_t len;              /* bytes of doc */
	uint16_t n_slots;
	uint8_t n_paths;
	uint8_t n_values;
	int8_t value_slot[ST_JSON_POINTERS_MAX]; /* slot of a found value, -1 */
	uint64_t owed;             /* documents matched, not yet flushed */
	uint64_t hits;             /* documents matched since the learn */
	struct st_json_scan_stats stats;    /* what one document adds */
	struct st_json_value values[ST_JSON_POINTERS_MAX]; /* as learnt */
	struct slot slots[ST_JSON_TMPL_SLOTS_MAX];
	struct path paths[ST_JSON_TMPL_PATHS_MAX];
	uint8_t doc[ST_JSON_TMPL_DOC_MAX];
};

_Static_assert(ST_JSON_TMPL_DOC_MAX <= UINT16_MAX, "slot offsets are 16-bit");
_Static_assert(ST_JSON_POINTERS_MAX <= 64, "value slots fit an int8_t");
_Static_assert(ST_JSON_TMPL_SLOTS_MAX <= INT8_MAX, "value slots fit an int8_t");
_Static_assert(ST_SCHEMA_PATH_MAX <= UINT8_MAX, "path lengths are 8-bit");

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

/* ---- learning ------------------------------------------------------------ */

static bool add_slot(struct st_json_tmpl *t, size_t start, size_t end,
		     enum slot_kind kind)
{
	if (t->n_slots == ST_JSON_TMPL_SLOTS_MAX)
		return false;
	t->slots[t->n_slots++] = (struct slot){
		.start = (uint16_t)start, .end = (uint16_t)end, .kind = (uint8_t)kind,
	};
	return true;
}

/* The value slots of a document st_json_scan() accepted: every string that
 * is not a member name, every number and literal.  The checks only keep a
 * document that is not valid from being read out of bounds. */
static bool find_slots(struct st_json_tmpl *t, const uint8_t *doc, size_t len)
{
	uint64_t in_object = 0;    /* bit d: the container at depth d + 1 */
	unsigned depth = 0;
	bool name_next = false;
	size_t i = 0;

	t->n_slots = 0;
	while (i < len) {
		switch (doc[i]) {
		case ' ': case '\t': case '\n': case '\r': case ':':
			i++;
			continue;
		case '{': case '[':
			if (depth == 64)
				return false;
			if (doc[i] == '{')
				in_object |= 1ull << depth;
			else
				in_object &= ~(1ull << depth);
			depth++;
			name_next = doc[i] == '{';
			i++;
			continue;
		case '}': case ']':
			if (depth == 0)
				return false;
			depth--;
			name_next = false;
			i++;
			continue;
		case ',':
			name_next = depth && (in_object >> (depth - 1) & 1);
			i++;
			continue;
		case '"': {
			size_t j = i + 1;

			while (j < len && doc[j] != '"')
				j += doc[j] == '\\' ? 2 : 1;
			if (j >= len)
				return false;
			j++;
			if (!name_next && !add_slot(t, i, j, SLOT_STRING))
				return false;
			name_next = false;
			i = j;
			continue;
		}
		case 't': case 'n': case 'f': {
			size_t n = doc[i] == 'f' ? 5 : 4;

			if (len - i < n || !add_slot(t, i, i + n, SLOT_LITERAL))
				return false;
			i += n;
			continue;
		}
		default: {
			const uint8_t *q = json_scan_number(doc + i, doc + len);

			if (!q || !add_slot(t, i, (size_t)(q - doc), SLOT_NUMBER))
				return false;
			i = (size_t)(q - doc);
			continue;
		}
		}
	}
	return depth == 0;
}

/* value_slot[]: the slot each found value was captured from. */
static bool map_values(struct st_json_tmpl *t, const uint8_t *doc,
		       const struct st_json_value *values, unsigned n)
{
	t->n_values = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		const struct st_json_value *v = &values[i];
		int found = -1;

		t->values[i] = *v;
		t->value_slot[i] = -1;
		if (!v->found)
			continue;
		if (v->type == ST_JSON_OBJECT || v->type == ST_JSON_ARRAY)
			return false;
		for (unsigned s = 0; s < t->n_slots; s++) {
			const struct slot *sl = &t->slots[s];
			size_t at = sl->start + (sl->kind == SLOT_STRING);

			if (v->text == doc + at) {
				found = (int)s;
				break;
			}
		}
		/* a string decoded into the scratch (it had escapes) */
		if (found < 0)
			return false;
		t->value_slot[i] = (int8_t)found;
	}
	return true;
}

/* paths[]: the schema updates one document makes, from a scan into
 * `scratch`, and the walk counters it adds. */
static bool learn_paths(struct st_json_tmpl *t, const uint8_t *doc, size_t len,
			struct st_schema *scratch)
{
	struct st_schema_entry e[ST_JSON_TMPL_PATHS_MAX];
	size_t n;

	st_schema_reset(scratch);
	memset(&t->stats, 0, sizeof(t->stats));
	if (st_json_scan(NULL, doc, len, NULL, NULL, 0, scratch, &t->stats) != 0 ||
	    st_schema_overflow(scratch) != 0 ||
	    st_schema_size(scratch) > ST_JSON_TMPL_PATHS_MAX)
		return false;
	n = st_schema_entries(scratch, e, ST_JSON_TMPL_PATHS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (e[i].path_len >= ST_SCHEMA_PATH_MAX || e[i].count > UINT32_MAX)
			return false;
		t->paths[i] = (struct path){
			.hash = e[i].path_hash, .count = (uint32_t)e[i].count,
			.type = e[i].type_mask, .len = e[i].path_len,
		};
		memcpy(t->paths[i].text, e[i].path, e[i].path_len);
	}
	t->n_paths = (uint8_t)n;
	return true;
}

bool st_json_tmpl_learn(struct st_json_tmpl *t, const struct st_json_plan *plan,
			const uint8_t *doc, size_t len,
			const struct st_json_value *values,
			struct st_schema *scratch)
{
	t->ready = false;
	t->owed = 0;
	t->hits = 0;
	if (len == 0 || len > ST_JSON_TMPL_DOC_MAX || !find_slots(t, doc, len) ||
	    !map_values(t, doc, values, st_json_plan_size(plan)) ||
	    !learn_paths(t, doc, len, scratch))
		return false;
	memcpy(t->doc, doc, len);
	t->len = (uint16_t)len;
	t->ready = true;
	return true;
}

/* ---- matching ------------------------------------------------------------ */

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* a[0..n) == b[0..n); skeleton runs are mostly a few bytes. */
static inline bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (n >= 8) {
		if (n > 16)
			return memcmp(a, b, n) == 0;
		return load64(a) == load64(b) &&
		       load64(a + n - 8) == load64(b + n - 8);
	}
	if (n >= 4)
		return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

#ifdef __SSE2__
/* Bit i: byte at[i] is '"', '\\', < 0x20 or >= 0x80. */
static inline unsigned stop_mask(const uint8_t *at)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)at);
	__m128i quote = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
	__m128i bslash = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
	/* signed: bytes >= 0x80 are negative, so below 0x20 too */
	__m128i low = _mm_cmplt_epi8(x, _mm_set1_epi8(0x20));

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, bslash), low));
}
#endif

/* The first byte in [p, end) that is '"', '\\', < 0x20 or >= 0x80, or end.
 * lo: the document's start; bytes in [lo, p) may be loaded, not used. */
static inline const uint8_t *string_stop(const uint8_t *lo, const uint8_t *p,
					 const uint8_t *end)
{
#ifdef __SSE2__
	unsigned m;

	while (end - p >= 16) {
		m = stop_mask(p);
		if (m)
			return p + __builtin_ctz(m);
		p += 16;
	}
	if (p < end && end - lo >= 16) {
		/* the document's last 16 bytes, those before p dropped */
		m = stop_mask(end - 16) >> (16 - (end - p));
		return m ? p + __builtin_ctz(m) : end;
	}
#else
	(void)lo;
#endif
	while (p < end && !st_json_string_stop[*p])
		p++;
	return p;
}

bool st_json_tmpl_match(struct st_json_tmpl *t, const struct st_json_plan *plan,
			const uint8_t *doc, size_t len,
			struct st_json_value *values,
			struct st_json_scan_stats *stats)
{
	const uint8_t *d = doc, *end = doc + len, *k = t->doc;
	const uint8_t *at[ST_JSON_TMPL_SLOTS_MAX];
	uint32_t at_len[ST_JSON_TMPL_SLOTS_MAX];
	size_t from = 0;

	/* st_json_scan() refuses 4 GiB (BAD_CALL); a value's length is 32-bit */
	if (!t->ready || len >= UINT32_MAX)
		return false;
	for (unsigned i = 0; i < t->n_slots; i++) {
		const struct slot *sl = &t->slots[i];
		size_t run = sl->start - from;
		const uint8_t *q;

		/* the skeleton before the slot, and at least one byte after */
		if ((size_t)(end - d) <= run || !same_bytes(d, k + from, run))
			return false;
		d += run;
		switch (sl->kind) {
		case SLOT_STRING:
			if (*d != '"')
				return false;
			q = string_stop(doc, d + 1, end);
			if (q == end || *q != '"')
				return false;
			q++;
			break;
		case SLOT_NUMBER:
			q = json_scan_number(d, end);
			if (!q)
				return false;
			break;
		default: {
			size_t n = (size_t)(sl->end - sl->start);

			if ((size_t)(end - d) < n || !same_bytes(d, k + sl->start, n))
				return false;
			q = d + n;
			break;
		}
		}
		at[i] = d;
		at_len[i] = (uint32_t)(q - d);
		d = q;
		from = sl->end;
	}
	if ((size_t)(end - d) != t->len - from || !same_bytes(d, k + from, t->len - from))
		return false;

	for (unsigned i = 0; i < t->n_values; i++) {
		int s = t->value_slot[i];

		values[i] = t->values[i];
		if (s < 0)
			continue;
		if (t->slots[s].kind == SLOT_STRING) {
			values[i].text = at[s] + 1;
			values[i].text_len = at_len[s] - 2;
		} else {
			values[i].text = at[s];
			values[i].text_len = at_len[s];
			if (t->slots[s].kind == SLOT_NUMBER)
				values[i].number = st_json_number(plan, at[s], at_len[s]);
		}
	}
	t->owed++;
	t->hits++;
	if (stats) {
		stats->walk_depth_limited += t->stats.walk_depth_limited;
		stats->walk_fields_limited += t->stats.walk_fields_limited;
		stats->walk_path_limited += t->stats.walk_path_limited;
		stats->schema_updates += t->stats.schema_updates;
	}
	return true;
}

/* ---- the owed updates ---------------------------------------------------- */

void st_json_tmpl_flush(struct st_json_tmpl *t, struct st_schema *schema)
{
	if (!t->owed)
		return;
	for (unsigned i = 0; i < t->n_paths; i++) {
		const struct path *p = &t->paths[i];

		uint64_t n = t->owed > UINT64_MAX / p->count ? UINT64_MAX
							      : t->owed * p->count;

		st_schema_add(schema, p->hash, p->text, p->len, p->type, n);
	}
	t->owed = 0;
}

void st_json_tmpl_retire(struct st_json_tmpl *t, struct st_schema *schema)
{
	st_json_tmpl_flush(t, schema);
	t->ready = false;
}
