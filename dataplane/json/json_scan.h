/*
 * The JSON parser, one text for the three builds (scalar, AVX2, AVX-512).
 * Included once by json.c, json_avx2.c and json_avx512.c, each of which
 * first defines:
 *   JSON_TARGET     the function attribute of its build (empty for scalar);
 *   JSON_SCAN_NAME  the name of the scan function to define;
 *   struct json_cls the classifiers' state for one document, set up by
 *                   json_cls_init(cls, doc, end);
 *   json_string_run(p, end, cls)  first byte in [p, end) that is '"', '\\',
 *                   < 0x20 or >= 0x80, else end (st_json_string_stop);
 *   json_ws_run(p, end, cls)      first byte in [p, end) that is not JSON
 *                   whitespace, else end.
 * A classifier may read anywhere in [doc, end) and nowhere else; end is
 * always the document's end.  Nothing else differs between builds, so
 * values, schema updates and reasons are the same for every build as long
 * as the two classifiers are (the tests compare them on every offset).
 *
 * Shape: an iterative descent with gotos (value / member / element /
 * after_value / close), a bit stack of container kinds for validation up to
 * ST_JSON_NESTING_MAX, and per-level state (struct st_json_level) for the
 * first ST_JSON_WALK_DEPTH_MAX + 1 levels, where pointers can match and the
 * schema is walked.  Pointer matching costs nothing in subtrees where no
 * pointer is alive (the `alive` mask is 0).
 */
#ifndef JSON_SCAN_NAME
#error "json_scan.h is included by a build of the scanner only"
#endif

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define JSON_FN static inline JSON_TARGET __attribute__((always_inline))
#define JSON_LEVELS (ST_JSON_WALK_DEPTH_MAX + 1)

enum {
	JSON_LIMIT_DEPTH = 1u << 0,
	JSON_LIMIT_FIELDS = 1u << 1,
	JSON_LIMIT_PATH = 1u << 2,
};

JSON_FN bool json_is_ws(uint8_t c)
{
	return c <= ' ' && ((1ull << c) & ((1ull << ' ') | (1ull << '\t') |
					    (1ull << '\n') | (1ull << '\r')));
}

JSON_FN const uint8_t *json_skip_ws(const uint8_t *p, const uint8_t *end,
				    struct json_cls *cls)
{
	if (likely(p < end) && likely(*p > ' '))
		return p;
	if (p < end && p + 1 < end && json_is_ws(p[1]))
		return json_ws_run(p, end, cls);
	while (p < end && json_is_ws(*p))
		p++;
	return p;
}

/* p: after the opening quote.  The closing quote, or NULL with *reason. */
JSON_FN const uint8_t *json_scan_string(const uint8_t *p, const uint8_t *end,
					struct json_cls *cls, bool *escaped,
					int *reason)
{
	for (;;) {
		p = json_string_run(p, end, cls);
		if (unlikely(p >= end)) {
			*reason = ST_JSON_E_UNTERMINATED;
			return NULL;
		}
		if (likely(*p == '"'))
			return p;
		if (*p == '\\') {
			*escaped = true;
			p = st_json_check_escape(p, end, reason);
		} else if (*p < 0x20) {
			*reason = ST_JSON_E_CONTROL_CHAR;
			return NULL;
		} else {
			p = st_json_check_utf8(p, end, reason);
		}
		if (!p)
			return NULL;
	}
}

/* Marks the pointers of `capture` not yet found as found at p. */
JSON_FN uint16_t json_capture(struct st_json_value *values, uint16_t capture,
			      uint8_t type, const uint8_t *text, size_t len)
{
	uint16_t taken = 0;

	for (uint16_t m = capture; m; m &= (uint16_t)(m - 1)) {
		struct st_json_value *v = &values[__builtin_ctz(m)];

		if (v->found)
			continue;
		v->found = true;
		v->type = type;
		v->text = text;
		v->text_len = (uint32_t)len;
		taken |= (uint16_t)(m & -m);
	}
	return taken;
}

/* The literal at p (its first byte 't', 'f' or 'n'): its length, 4 or 5,
 * with *type set, or 0 when it is not exactly true, false or null.  The
 * first four bytes as one load; "false" has one more. */
JSON_FN size_t json_literal(const uint8_t *p, const uint8_t *end, uint8_t *type)
{
	static const char *const literal[3] = { "true", "fals", "null" };
	static const uint8_t literal_type[3] = { ST_JSON_TRUE, ST_JSON_FALSE,
		ST_JSON_NULL };
	unsigned k = *p == 't' ? 0 : *p == 'f' ? 1 : 2;
	size_t n = k == 1 ? 5 : 4;
	uint32_t got, want;

	if ((size_t)(end - p) < n)
		return 0;
	memcpy(&got, p, 4);
	memcpy(&want, literal[k], 4);
	if (got != want || (k == 1 && p[4] != 'e'))
		return 0;
	*type = literal_type[k];
	return n;
}

/* The content of the string [s, q) as an extracted value: in place, or
 * decoded into the scratch after *scratch_used when it has escapes.  0 with
 * *text and *len set, or -ST_JSON_E_SCRATCH_FULL. */
JSON_FN int json_string_text(const uint8_t *s, const uint8_t *q, bool escaped,
			     uint8_t *scratch, size_t scratch_bytes,
			     size_t *scratch_used, const uint8_t **text,
			     size_t *len)
{
	size_t n = (size_t)(q - s);

	*text = s;
	if (escaped) {
		if (!scratch)
			return -ST_JSON_E_SCRATCH_FULL;
		n = st_json_decode(s, q, scratch + *scratch_used,
				   scratch_bytes - *scratch_used);
		if (n == SIZE_MAX)
			return -ST_JSON_E_SCRATCH_FULL;
		*text = scratch + *scratch_used;
		*scratch_used += n;
	}
	*len = n;
	return 0;
}

/* memcmp(a, b, len) == 0; short names (the usual) without a call. */
JSON_FN bool json_same_bytes(const uint8_t *a, const uint8_t *b, size_t len)
{
	if (len > 16)
		return memcmp(a, b, len) == 0;
	for (size_t i = 0; i < len; i++) {
		if (a[i] != b[i])
			return false;
	}
	return true;
}

/* Pointers of `alive` whose token `depth` is the member name `key`. */
JSON_FN void json_match_key(const struct st_json_plan *plan, unsigned depth,
			    uint16_t alive, const uint8_t *key, size_t len,
			    uint16_t *child_alive, uint16_t *capture)
{
	const struct st_json_token *row = plan->tok[depth - 1];

	if (!(plan->name_filter[depth - 1] >> st_json_name_bit(key, len) & 1))
		return;
	for (uint16_t m = alive; m; m &= (uint16_t)(m - 1)) {
		unsigned i = (unsigned)__builtin_ctz(m);

		if (row[i].len != len ||
		    (len && (row[i].text[0] != key[0] ||
			     !json_same_bytes(row[i].text, key, len))))
			continue;
		if (plan->ntok[i] == depth)
			*capture |= (uint16_t)(1u << i);
		else
			*child_alive |= (uint16_t)(1u << i);
	}
}

JSON_FN void json_match_index(const struct st_json_plan *plan, unsigned depth,
			      uint16_t alive, uint32_t index,
			      uint16_t *child_alive, uint16_t *capture)
{
	const struct st_json_token *row = plan->tok[depth - 1];

	for (uint16_t m = alive; m; m &= (uint16_t)(m - 1)) {
		unsigned i = (unsigned)__builtin_ctz(m);

		if (row[i].index != (int64_t)index)
			continue;
		if (plan->ntok[i] == depth)
			*capture |= (uint16_t)(1u << i);
		else
			*child_alive |= (uint16_t)(1u << i);
	}
}

/* Appends '/' and `key` as a pointer token at path[at]; the new length, or
 * 0 when it would pass ST_JSON_PATH_MAX.  quoted16: key[-1] .. key[14] may
 * be read (key sits in the document after its opening quote). */
JSON_FN size_t json_path_append(char *path, size_t at, const uint8_t *key,
				size_t len, bool quoted16)
{
	size_t o = at;

	if (at + 1 + len > ST_JSON_PATH_MAX)
		return 0;
#ifdef __SSE2__
	if (quoted16 && len <= 15 && at + 16 <= ST_JSON_PATH_MAX) {
		/* "/key" as one 16-byte store (the quote before the key turned
		 * into '/', then the key and whatever follows it): the path
		 * hash's loads that fall inside it are forwarded from that one
		 * store, where a '/' store and a memcpy made them wait for the
		 * stores to retire.  Bytes past the path's end are never read. */
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(key - 1));

		__m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('~')),
					       _mm_cmpeq_epi8(v, _mm_set1_epi8('/')));

		v = _mm_or_si128(_mm_andnot_si128(_mm_cvtsi32_si128(0xff), v),
				 _mm_cvtsi32_si128('/'));
		_mm_storeu_si128((__m128i *)(void *)(path + at), v);
		/* no '~' or '/' in the key's bytes (lanes 1..len): done, with
		 * no loop over them */
		if (!(((unsigned)_mm_movemask_epi8(special) >> 1) & ((1u << len) - 1)))
			return at + 1 + len;
		o++;
	} else
#endif
	{
		(void)quoted16;
		path[o++] = '/';
		memcpy(path + o, key, len);
	}
	for (size_t i = 0; i < len; i++) {
		if (likely(key[i] != '~' && key[i] != '/'))
			continue;
		/* rare: re-escape from here on, with the bound rechecked */
		o += i;
		for (; i < len; i++) {
			uint8_t c = key[i];
			bool esc = c == '~' || c == '/';

			if (o + 1 + esc > ST_JSON_PATH_MAX)
				return 0;
			if (esc) {
				path[o++] = '~';
				path[o++] = c == '~' ? '0' : '1';
			} else {
				path[o++] = (char)c;
			}
		}
		return o;
	}
	return o + len;
}

JSON_FN void json_pend(struct st_json_pending *pend, const char *path,
		       size_t len, uint64_t hash, uint8_t type)
{
	pend->path_hash = hash;
	pend->path_len = (uint16_t)len;
	pend->type = type;
	/* always the whole ST_SCHEMA_PATH_MAX (path has ST_JSON_PATH_MAX >=
	 * that): a fixed size copies inline, where min(len, 64) was a call.
	 * The bytes past len (left from longer paths, or never written) are
	 * never read: st_schema_update() keeps min(len, ST_SCHEMA_PATH_MAX). */
	_Static_assert(ST_JSON_PATH_MAX >= ST_SCHEMA_PATH_MAX,
		       "json_pend copies ST_SCHEMA_PATH_MAX bytes of path");
	memcpy(pend->path, path, ST_SCHEMA_PATH_MAX);
}

JSON_TARGET
int JSON_SCAN_NAME(const struct st_json_plan *plan, const uint8_t *doc,
		   size_t len, struct st_json_value *values, uint8_t *scratch,
		   size_t scratch_bytes, struct st_schema *schema,
		   struct st_json_scan_stats *stats)
{
	const uint8_t *p = doc, *end = doc + len;
	struct st_json_level lv[JSON_LEVELS + 1];
	uint64_t is_array[ST_JSON_NESTING_MAX / 64 + 1];
	struct st_json_pending pend[ST_JSON_WALK_FIELDS_MAX];
	char path[ST_JSON_PATH_MAX];
	uint8_t key_buf[ST_JSON_PATH_MAX];
	size_t scratch_used = 0;
	unsigned depth = 0, npend = 0, limits = 0;
	uint16_t cur_alive = 0, cur_capture = 0;
	uint32_t cur_path_len = 0;
	bool cur_walk = schema != NULL;
	int reason = 0;
	struct json_cls cls;

	json_cls_init(&cls, doc, end);
	if (plan) {
		for (unsigned i = 0; i < plan->n; i++)
			values[i] = (struct st_json_value){ 0 };
		cur_alive = plan->root_alive;
		cur_capture = plan->root_capture;
	}
	p = json_skip_ws(p, end, &cls);
	if (p == end)
		return -ST_JSON_E_EMPTY;

value:
	switch (*p) {
	case '{':
	case '[': {
		bool array = *p == '[';

		if (unlikely(++depth > ST_JSON_NESTING_MAX))
			return -ST_JSON_E_TOO_DEEP;
		if (array)
			is_array[depth / 64] |= 1ull << (depth % 64);
		else
			is_array[depth / 64] &= ~(1ull << (depth % 64));
		if (depth <= JSON_LEVELS) {
			struct st_json_level *l = &lv[depth];

			l->alive = cur_alive;
			l->capture = cur_capture ?
				json_capture(values, cur_capture,
					     array ? ST_JSON_ARRAY : ST_JSON_OBJECT,
					     p, 0) : 0;
			l->path_len = cur_path_len;
			l->index = 0;
			l->walk = cur_walk && depth <= ST_JSON_WALK_DEPTH_MAX;
			if (cur_walk && depth > ST_JSON_WALK_DEPTH_MAX)
				limits |= JSON_LIMIT_DEPTH;
			if (l->walk && array) {
				if (cur_path_len + 2 > ST_JSON_PATH_MAX) {
					limits |= JSON_LIMIT_PATH;
					l->walk = false;
				} else {
					path[cur_path_len] = '/';
					path[cur_path_len + 1] = '*';
					l->elem_hash = st_hash64(path, cur_path_len + 2);
				}
			}
		}
		p = json_skip_ws(p + 1, end, &cls);
		if (p == end)
			return -ST_JSON_E_UNTERMINATED;
		if (*p == (array ? ']' : '}'))
			goto close;
		if (array)
			goto element;
		goto member;
	}
	case '"': {
		const uint8_t *s = p + 1;
		bool escaped = false;
		const uint8_t *q = json_scan_string(s, end, &cls, &escaped, &reason);

		if (!q)
			return -reason;
		if (unlikely(cur_capture)) {
			const uint8_t *text;
			size_t n;
			int rc = json_string_text(s, q, escaped, scratch, scratch_bytes,
						  &scratch_used, &text, &n);

			if (rc)
				return rc;
			json_capture(values, cur_capture, ST_JSON_STRING, text, n);
		}
		p = q + 1;
		goto after_value;
	}
	case 't':
	case 'f':
	case 'n': {
		uint8_t type;
		size_t n = json_literal(p, end, &type);

		if (!n)
			return -ST_JSON_E_BAD_LITERAL;
		if (unlikely(cur_capture))
			json_capture(values, cur_capture, type, p, n);
		p += n;
		goto after_value;
	}
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9': {
		const uint8_t *q = json_scan_number(p, end);

		if (!q)
			return -ST_JSON_E_BAD_NUMBER;
		if (unlikely(cur_capture)) {
			uint16_t taken = json_capture(values, cur_capture,
						      ST_JSON_NUMBER, p,
						      (size_t)(q - p));

			if (taken) {
				double d = st_json_number(plan, p,
							  (size_t)(q - p));

				for (uint16_t m = taken; m; m &= (uint16_t)(m - 1))
					values[__builtin_ctz(m)].number = d;
			}
		}
		p = q;
		goto after_value;
	}
	default:
		return -ST_JSON_E_UNEXPECTED;
	}

member:
	/* p at the first byte of a member (after '{' or ','), not at end */
	if (unlikely(*p != '"'))
		return *p == '}' ? -ST_JSON_E_TRAILING_COMMA : -ST_JSON_E_UNEXPECTED;
	{
		const uint8_t *key = p + 1;
		bool escaped = false;
		const uint8_t *q = json_scan_string(key, end, &cls, &escaped, &reason);
		size_t key_len;

		if (!q)
			return -reason;
		key_len = (size_t)(q - key);
		if (likely(end - q > 2) && likely(q[1] == ':') &&
		    likely(q[2] > ' ')) {
			p = q + 2;      /* "name":value, the common spelling */
		} else {
			p = json_skip_ws(q + 1, end, &cls);
			if (p == end)
				return -ST_JSON_E_UNTERMINATED;
			if (*p != ':')
				return -ST_JSON_E_UNEXPECTED;
			p = json_skip_ws(p + 1, end, &cls);
			if (p == end)
				return -ST_JSON_E_UNTERMINATED;
		}
		cur_alive = cur_capture = 0;
		cur_walk = false;
		if (depth <= JSON_LEVELS && (lv[depth].alive || lv[depth].walk)) {
			struct st_json_level *l = &lv[depth];
			bool fits = true;

			if (unlikely(escaped)) {
				key_len = st_json_decode(key, q, key_buf,
							 sizeof(key_buf));
				fits = key_len != SIZE_MAX;
				key = key_buf;
			}
			if (l->alive && fits && key_len <= ST_JSON_TOKEN_MAX)
				json_match_key(plan, depth, l->alive, key, key_len,
					       &cur_alive, &cur_capture);
			if (l->walk) {
				size_t n = fits ? json_path_append(path, l->path_len,
								   key, key_len,
								   !escaped && end - key >= 15) : 0;

				if (n == 0) {
					limits |= JSON_LIMIT_PATH;
				} else if (npend == ST_JSON_WALK_FIELDS_MAX) {
					limits |= JSON_LIMIT_FIELDS;
				} else {
					json_pend(&pend[npend++], path, n,
						  st_hash64(path, n),
						  st_json_value_type[*p]);
					cur_walk = true;
					cur_path_len = (uint32_t)n;
				}
			}
		}
		goto value;
	}

element:
	/* p at the first byte of an element (after '[' or ','), not at end */
	cur_alive = cur_capture = 0;
	cur_walk = false;
	if (depth <= JSON_LEVELS) {
		struct st_json_level *l = &lv[depth];
		uint32_t index = l->index++;

		if (l->alive)
			json_match_index(plan, depth, l->alive, index,
					 &cur_alive, &cur_capture);
		if (l->walk) {
			if (npend == ST_JSON_WALK_FIELDS_MAX) {
				limits |= JSON_LIMIT_FIELDS;
			} else {
				json_pend(&pend[npend++], path, l->path_len + 2,
					  l->elem_hash, st_json_value_type[*p]);
				cur_walk = true;
				cur_path_len = l->path_len + 2;
			}
		}
	}
	goto value;

after_value:
	if (likely(end - p > 1) && likely(*p == ',') && likely(p[1] > ' ') &&
	    likely(depth != 0)) {
		p++;                    /* value,next: no whitespace to skip */
		if (!(is_array[depth / 64] & (1ull << (depth % 64))))
			goto member;
		if (*p == ']')
			return -ST_JSON_E_TRAILING_COMMA;
		goto element;
	}
	p = json_skip_ws(p, end, &cls);
	if (depth == 0) {
		if (p != end)
			return -ST_JSON_E_TRAILING_DATA;
		goto done;
	}
	if (p == end)
		return -ST_JSON_E_UNTERMINATED;
	if (*p == ',') {
		p = json_skip_ws(p + 1, end, &cls);
		if (p == end)
			return -ST_JSON_E_UNTERMINATED;
		if (!(is_array[depth / 64] & (1ull << (depth % 64))))
			goto member;
		if (*p == ']')
			return -ST_JSON_E_TRAILING_COMMA;
		goto element;
	}
	if (*p != ((is_array[depth / 64] & (1ull << (depth % 64))) ? ']' : '}'))
		return -ST_JSON_E_UNEXPECTED;
close:
	/* p at the closing bracket of the container at `depth` */
	if (depth <= JSON_LEVELS && unlikely(lv[depth].capture)) {
		for (uint16_t m = lv[depth].capture; m; m &= (uint16_t)(m - 1)) {
			struct st_json_value *v = &values[__builtin_ctz(m)];

			v->text_len = (uint32_t)(p + 1 - v->text);
		}
	}
	depth--;
	p++;
	goto after_value;

done:
	if (schema) {
		for (unsigned i = 0; i < npend; i++)
			st_schema_update(schema, pend[i].path_hash, pend[i].path,
					 pend[i].path_len, pend[i].type);
	}
	if (stats) {
		stats->walk_depth_limited += !!(limits & JSON_LIMIT_DEPTH);
		stats->walk_fields_limited += !!(limits & JSON_LIMIT_FIELDS);
		stats->walk_path_limited += !!(limits & JSON_LIMIT_PATH);
		stats->schema_updates += npend;
	}
	return 0;
}

#ifdef JSON_LAZY_NAME
#include "dataplane/json/json_lazy.h"
#endif

#undef JSON_FN
#undef JSON_LEVELS
