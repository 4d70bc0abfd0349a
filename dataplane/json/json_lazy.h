/*
 * The lazy fields-only scan (st_json_scan_fields(), contract in json.h),
 * one text for the three builds like json_scan.h, which includes it at its
 * end: it reuses that file's cursor pieces (json_skip_ws, json_scan_string,
 * json_scan_number, json_capture, json_match_key, json_match_index) and the
 * build's classifiers.  JSON_LAZY_NAME names the function to define.
 *
 * No stage 1: the scan walks the document from its first byte with the
 * same cursor as the full scan, but
 *   - it descends only into containers that hold a pointer still wanted
 *     (alive and not yet found); there every member name, colon, comma and
 *     bracket is checked exactly as the full scan does;
 *   - it parses in full (validation, decoding, number conversion) only the
 *     values it extracts, and numbers and literals (as cheap to check as to
 *     skip); every other string is skipped to its closing quote (a
 *     backslash skips the byte after it), every other container by
 *     counting brackets outside strings, without reading anything else;
 *   - once every pointer is found and no captured container is open, it
 *     returns without reading the rest; a container whose pointers are all
 *     found is left the same way, by counting brackets to its end.
 * A pointer not found can still match until the root closes (a later
 * duplicate name at an outer level), so only "all found" stops early.
 *
 * The classifiers are the full scan's (a document of up to 2 KiB has its
 * 64-byte blocks classified when the scan starts: 4 blocks for a 242-byte
 * record, a few ns; classifying each block when first looked into was
 * measured slower, 127 against 122 ns per bench record).  The SIMD builds
 * skip a container 64 bytes at a time (json_skip_masks() of the build:
 * quotes, backslashes, opening and closing brackets); the scalar build and
 * windows with a backslash go byte by byte.
 *
 * Per open descended container: struct json_lazy_level, at most
 * ST_JSON_WALK_DEPTH_MAX of them (a container deeper than a pointer's
 * tokens holds no alive pointer, so it is skipped, not descended).  The
 * skipper counts its own nesting against ST_JSON_NESTING_MAX.
 */
#ifndef JSON_LAZY_NAME
#error "json_lazy.h is included by json_scan.h in a build of the scanner only"
#endif

struct json_lazy_level {
	uint32_t index;        /* arrays: index of the next element */
	uint16_t alive;        /* pointers whose tokens matched this path */
	uint16_t capture;      /* pointers whose value is this container */
	bool array;
};

/* p: after a string's opening quote.  Its closing quote, or NULL with
 * *reason (the text ends first); the content is not checked. */
JSON_FN const uint8_t *json_lazy_skip_string(const uint8_t *p,
					     const uint8_t *end,
					     struct json_cls *cls, int *reason)
{
	for (;;) {
		p = json_string_run(p, end, cls);
		if (unlikely(p >= end))
			break;
		if (likely(*p == '"'))
			return p;
		if (*p == '\\') {
			if (end - p < 2)
				break;
			p += 2;
		} else {
			p++;            /* a control or non-ASCII byte: not checked */
		}
	}
	*reason = ST_JSON_E_UNTERMINATED;
	return NULL;
}

/* p: inside a container that is `nest` deep (1: the root), after its
 * opening bracket or any complete value in it, with `open` containers
 * (itself included) to close.  The byte after its closing bracket, or NULL
 * with *reason: the text ends first, or the nesting passes
 * ST_JSON_NESTING_MAX.  Only brackets outside strings are counted (their
 * kinds are not matched) and strings skipped. */
JSON_FN const uint8_t *json_lazy_skip_bytes(const uint8_t *p,
					    const uint8_t *end,
					    struct json_cls *cls, unsigned nest,
					    unsigned open, int *reason)
{
	for (;;) {
		while (p < end && !st_json_skip_class[*p])
			p++;
		if (unlikely(p == end)) {
			*reason = ST_JSON_E_UNTERMINATED;
			return NULL;
		}
		switch (st_json_skip_class[*p]) {
		case 1:
			p = json_lazy_skip_string(p + 1, end, cls, reason);
			if (!p)
				return NULL;
			p++;
			break;
		case 4:
			/* a backslash outside a string (invalid JSON): it
			 * escapes the next byte here too, as in the SIMD
			 * skipper, so that every build skips alike */
			p += end - p >= 2 ? 2 : 1;
			break;
		case 2:
			if (unlikely(nest + open > ST_JSON_NESTING_MAX)) {
				*reason = ST_JSON_E_TOO_DEEP;
				return NULL;
			}
			open++;
			p++;
			break;
		default:
			p++;
			if (--open == 0)
				return p;
			break;
		}
	}
}

#ifdef JSON_SKIP_SIMD
/* Bit i: the XOR of bits 0..i of x. */
JSON_FN uint64_t json_prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

/* The bytes of a window that a backslash escapes: each run of backslashes
 * escapes the byte after it when its length is odd (the run pairs off from
 * its start, as the byte loop reads it).  Adding a run's lowest bit to the
 * mask carries through the run and leaves a bit just past its end; the
 * length is odd when start and end differ in parity, so runs are taken in
 * two sets by the parity of their start.  A run reaching bit 63 carries
 * out of the window: the caller hands such windows to the byte loop. */
JSON_FN uint64_t json_escaped(uint64_t bs)
{
	const uint64_t even = 0x5555555555555555ull;
	uint64_t starts = bs & ~(bs << 1);
	uint64_t ends_from_even = (bs + (starts & even)) & ~bs;
	uint64_t ends_from_odd = (bs + (starts & ~even)) & ~bs;

	return (ends_from_even & ~even) | (ends_from_odd & even);
}

/* The same, 64 bytes at a time: the bytes inside strings are the prefix
 * XOR of the window's unescaped quotes (p is never inside a string), so
 * the brackets outside strings are two masks.  A string that runs past the
 * window is skipped by json_lazy_skip_string(); a window whose last byte is
 * a backslash hands the rest to the byte loop. */
JSON_FN const uint8_t *json_lazy_skip_container(const uint8_t *p,
						const uint8_t *end,
						struct json_cls *cls,
						unsigned nest, int *reason)
{
	unsigned open = 1;

	while (p < end) {
		uint64_t m[4], in, opens, closes, brackets, esc;
		unsigned last = 64;

		json_skip_masks(cls->doc, end, p, m);
		if (unlikely(m[1])) {
			if (unlikely(m[1] >> 63))
				return json_lazy_skip_bytes(p, end, cls, nest, open,
							    reason);
			/* an escaped bracket is always inside a string in
			 * JSON; outside one it is skipped like the byte loop
			 * skips it */
			esc = json_escaped(m[1]);
			m[0] &= ~esc;
			m[2] &= ~esc;
			m[3] &= ~esc;
		}
		in = json_prefix_xor(m[0]);
		opens = m[2] & ~in;
		closes = m[3] & ~in;
		if (in >> 63) {
			/* a string opens at `last` and goes on past the window
			 * (or past the end: bits there are 0) */
			last = 63u - (unsigned)__builtin_clzll(m[0]);
			opens &= (1ull << last) - 1;
			closes &= (1ull << last) - 1;
		}
		if (!closes) {
			open += (unsigned)__builtin_popcountll(opens);
			if (unlikely(nest + open - 1 > ST_JSON_NESTING_MAX)) {
				*reason = ST_JSON_E_TOO_DEEP;
				return NULL;
			}
		} else {
			for (brackets = opens | closes; brackets;
			     brackets &= brackets - 1) {
				uint64_t bit = brackets & -brackets;

				if (opens & bit) {
					if (unlikely(nest + open >
						     ST_JSON_NESTING_MAX)) {
						*reason = ST_JSON_E_TOO_DEEP;
						return NULL;
					}
					open++;
				} else if (--open == 0) {
					return p + __builtin_ctzll(bit) + 1;
				}
			}
		}
		if (last < 64) {
			p = json_lazy_skip_string(p + last + 1, end, cls, reason);
			if (!p)
				return NULL;
			p++;
		} else {
			p += 64;
		}
	}
	*reason = ST_JSON_E_UNTERMINATED;
	return NULL;
}
#else
JSON_FN const uint8_t *json_lazy_skip_container(const uint8_t *p,
						const uint8_t *end,
						struct json_cls *cls,
						unsigned nest, int *reason)
{
	return json_lazy_skip_bytes(p, end, cls, nest, 1, reason);
}
#endif

JSON_TARGET
int JSON_LAZY_NAME(const struct st_json_plan *plan, const uint8_t *doc,
		   size_t len, struct st_json_value *values, uint8_t *scratch,
		   size_t scratch_bytes)
{
	const uint8_t *p, *end = doc + len;
	struct json_lazy_level lv[ST_JSON_WALK_DEPTH_MAX + 1];
	uint8_t key_buf[ST_JSON_PATH_MAX];
	size_t scratch_used = 0;
	unsigned depth = 0, open_captures = 0;
	uint16_t all = 0, found = 0, cur_alive = 0, cur_capture = 0;
	int reason = 0;
	struct json_cls cls;

	json_cls_init(&cls, doc, end);
	if (plan) {
		for (unsigned i = 0; i < plan->n; i++)
			values[i] = (struct st_json_value){ 0 };
		all = (uint16_t)((1u << plan->n) - 1);
		cur_alive = plan->root_alive;
		cur_capture = plan->root_capture;
	}
	p = json_skip_ws(doc, end, &cls);
	if (p == end)
		return -ST_JSON_E_EMPTY;
	if (!all)
		return st_json_value_type[*p] ? 0 : -ST_JSON_E_UNEXPECTED;

value:
	/* cur_alive / cur_capture: the pointers, none found yet, that go on
	 * into this value / whose value it is */
	switch (*p) {
	case '{':
	case '[': {
		bool array = *p == '[';
		uint16_t alive = cur_alive, taken = 0;

		if (unlikely(depth + 1 > ST_JSON_NESTING_MAX))
			return -ST_JSON_E_TOO_DEEP;
		if (array && alive)
			alive &= plan->index_tokens[depth];
		if (unlikely(cur_capture)) {
			taken = json_capture(values, cur_capture,
					     array ? ST_JSON_ARRAY : ST_JSON_OBJECT,
					     p, 0);
			found |= taken;
		}
		if (!alive || depth >= ST_JSON_WALK_DEPTH_MAX) {
			const uint8_t *q = json_lazy_skip_container(p + 1, end, &cls,
								    depth + 1,
								    &reason);

			if (!q)
				return -reason;
			for (uint16_t m = taken; m; m &= (uint16_t)(m - 1))
				values[__builtin_ctz(m)].text_len = (uint32_t)(q - p);
			p = q;
			goto after_value;
		}
		depth++;
		lv[depth] = (struct json_lazy_level){ .alive = alive,
						      .capture = taken,
						      .array = array };
		open_captures += taken != 0;
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
		const uint8_t *s = p + 1, *q;
		bool escaped = false;
		const uint8_t *text;
		size_t n;
		int rc;

		if (likely(!cur_capture)) {
			q = json_lazy_skip_string(s, end, &cls, &reason);
			if (!q)
				return -reason;
			p = q + 1;
			goto after_value;
		}
		q = json_scan_string(s, end, &cls, &escaped, &reason);
		if (!q)
			return -reason;
		rc = json_string_text(s, q, escaped, scratch, scratch_bytes,
				      &scratch_used, &text, &n);
		if (rc)
			return rc;
		found |= json_capture(values, cur_capture, ST_JSON_STRING, text, n);
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
			found |= json_capture(values, cur_capture, type, p, n);
		p += n;
		goto after_value;
	}
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9': {
		const uint8_t *q = json_scan_number(p, end);

		if (!q)
			return -ST_JSON_E_BAD_NUMBER;
		/* inside a container a number cannot end the text: the text
		 * may have been cut inside it (the full scan says the same) */
		if (unlikely(q == end) && depth)
			return -ST_JSON_E_UNTERMINATED;
		if (cur_capture) {
			uint16_t taken = json_capture(values, cur_capture,
						      ST_JSON_NUMBER, p,
						      (size_t)(q - p));

			if (taken) {
				double d = st_json_number(plan, p,
							  (size_t)(q - p));

				for (uint16_t m = taken; m; m &= (uint16_t)(m - 1))
					values[__builtin_ctz(m)].number = d;
				found |= taken;
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
		uint16_t alive = lv[depth].alive & (uint16_t)~found;
		size_t key_len;

		if (!q)
			return -reason;
		key_len = (size_t)(q - key);
		if (likely(end - q > 2) && likely(q[1] == ':') &&
		    likely(q[2] > ' ')) {
			p = q + 2;
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
		if (alive) {
			bool fits = true;

			if (unlikely(escaped)) {
				key_len = st_json_decode(key, q, key_buf,
							 sizeof(key_buf));
				fits = key_len != SIZE_MAX;
				key = key_buf;
			}
			if (fits && key_len <= ST_JSON_TOKEN_MAX)
				json_match_key(plan, depth, alive, key, key_len,
					       &cur_alive, &cur_capture);
		}
		goto value;
	}

element:
	/* p at the first byte of an element (after '[' or ','), not at end */
	{
		struct json_lazy_level *l = &lv[depth];
		uint16_t alive = l->alive & (uint16_t)~found;
		uint32_t index = l->index++;

		cur_alive = cur_capture = 0;
		if (alive)
			json_match_index(plan, depth, alive, index, &cur_alive,
					 &cur_capture);
	}
	goto value;

after_value:
	if (depth == 0) {
		p = json_skip_ws(p, end, &cls);
		return p == end ? 0 : -ST_JSON_E_TRAILING_DATA;
	}
	if (found == all && open_captures == 0)
		return 0;               /* nothing more to extract */
	if (!(lv[depth].alive & (uint16_t)~found)) {
		/* nothing more to find in this container: to its end unread */
		const uint8_t *q = json_lazy_skip_container(p, end, &cls, depth,
							    &reason);

		if (!q)
			return -reason;
		p = q - 1;
		goto close;
	}
	if (likely(end - p > 1) && likely(*p == ',') && likely(p[1] > ' ')) {
		p++;
		if (!lv[depth].array)
			goto member;
		if (*p == ']')
			return -ST_JSON_E_TRAILING_COMMA;
		goto element;
	}
	p = json_skip_ws(p, end, &cls);
	if (p == end)
		return -ST_JSON_E_UNTERMINATED;
	if (*p == ',') {
		p = json_skip_ws(p + 1, end, &cls);
		if (p == end)
			return -ST_JSON_E_UNTERMINATED;
		if (!lv[depth].array)
			goto member;
		if (*p == ']')
			return -ST_JSON_E_TRAILING_COMMA;
		goto element;
	}
	if (*p != (lv[depth].array ? ']' : '}'))
		return -ST_JSON_E_UNEXPECTED;
close:
	/* p at the closing bracket of the container at `depth` */
	if (unlikely(lv[depth].capture)) {
		for (uint16_t m = lv[depth].capture; m; m &= (uint16_t)(m - 1)) {
			struct st_json_value *v = &values[__builtin_ctz(m)];

			v->text_len = (uint32_t)(p + 1 - v->text);
		}
		open_captures--;
	}
	depth--;
	p++;
	goto after_value;
}
