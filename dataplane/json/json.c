/*
 * JSON field scanner (API, rules and limits in json.h): plans, the byte
 * tables and rare paths shared by the three builds, number conversion, the
 * dispatch by SIMD level, and the scalar build of the parser (json_scan.h).
 *
 * RFC 6901 (JSON Pointer) §3-4: a pointer is "" or a sequence of "/" token;
 * in a token "~1" is '/', "~0" is '~', decoded in that order (so "~01" is
 * "~1"); any other '~' is malformed.  A token selects an object member by
 * name (compared after both sides are unescaped) or an array element when it
 * is a decimal index without leading zeros.
 *
 * RFC 8259 §7 (strings), with RFC 3629 §4 for UTF-8 and §7's surrogate-pair
 * rule for \u escapes above the BMP: see st_json_check_escape(),
 * st_json_check_utf8(), st_json_decode().
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/cpu.h"
#include "dataplane/json/json_internal.h"
#include "dataplane/sketch/hash.h"

const uint8_t st_json_value_type[256] = {
	['{'] = ST_JSON_OBJECT, ['['] = ST_JSON_ARRAY, ['"'] = ST_JSON_STRING,
	['t'] = ST_JSON_TRUE, ['f'] = ST_JSON_FALSE, ['n'] = ST_JSON_NULL,
	['-'] = ST_JSON_NUMBER, ['0'] = ST_JSON_NUMBER, ['1'] = ST_JSON_NUMBER,
	['2'] = ST_JSON_NUMBER, ['3'] = ST_JSON_NUMBER, ['4'] = ST_JSON_NUMBER,
	['5'] = ST_JSON_NUMBER, ['6'] = ST_JSON_NUMBER, ['7'] = ST_JSON_NUMBER,
	['8'] = ST_JSON_NUMBER, ['9'] = ST_JSON_NUMBER,
};

#define R4(x) x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)
const uint8_t st_json_string_stop[256] = {
	R16(1), R16(1),                          /* 0x00-0x1f */
	[0x22] = 1, [0x5c] = 1,                  /* '"', '\\' */
	[0x80] = R16(1), R16(1), R16(1), R16(1), /* 0x80-0xff */
	R16(1), R16(1), R16(1), R16(1),
};
#undef R16
#undef R4

const uint8_t st_json_skip_class[256] = {
	['"'] = 1, ['{'] = 2, ['['] = 2, ['}'] = 3, [']'] = 3, ['\\'] = 4,
};

static const char *const error_names[ST_JSON_E__COUNT] = {
	[ST_JSON_OK] = "ok",
	[ST_JSON_E_EMPTY] = "empty",
	[ST_JSON_E_UNEXPECTED] = "unexpected_char",
	[ST_JSON_E_UNTERMINATED] = "unterminated",
	[ST_JSON_E_TRAILING_COMMA] = "trailing_comma",
	[ST_JSON_E_TRAILING_DATA] = "trailing_data",
	[ST_JSON_E_CONTROL_CHAR] = "control_char",
	[ST_JSON_E_BAD_ESCAPE] = "bad_escape",
	[ST_JSON_E_BAD_SURROGATE] = "bad_surrogate",
	[ST_JSON_E_BAD_UTF8] = "bad_utf8",
	[ST_JSON_E_BAD_NUMBER] = "bad_number",
	[ST_JSON_E_BAD_LITERAL] = "bad_literal",
	[ST_JSON_E_TOO_DEEP] = "too_deep",
	[ST_JSON_E_SCRATCH_FULL] = "scratch_full",
	[ST_JSON_E_BAD_CALL] = "bad_call",
};

const char *st_json_error_name(int reason)
{
	unsigned r = reason < 0 ? (unsigned)-(long)reason : (unsigned)reason;

	return r < ST_JSON_E__COUNT ? error_names[r] : "unknown";
}

static int hex4(const uint8_t *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		uint8_t c = p[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	return v;
}

const uint8_t *st_json_check_escape(const uint8_t *p, const uint8_t *end,
				    int *reason)
{
	int cp, low;

	if (end - p < 2) {
		*reason = ST_JSON_E_UNTERMINATED;
		return NULL;
	}
	switch (p[1]) {
	case '"': case '\\': case '/': case 'b':
	case 'f': case 'n': case 'r': case 't':
		return p + 2;
	case 'u':
		break;
	default:
		*reason = ST_JSON_E_BAD_ESCAPE;
		return NULL;
	}
	if (end - p < 6 || (cp = hex4(p + 2)) < 0) {
		*reason = ST_JSON_E_BAD_ESCAPE;
		return NULL;
	}
	if (cp < 0xd800 || cp > 0xdfff)
		return p + 6;
	/* §7: a high surrogate, then "\u" and a low one; nothing else */
	if (cp >= 0xdc00 || end - p < 12 || p[6] != '\\' || p[7] != 'u') {
		*reason = ST_JSON_E_BAD_SURROGATE;
		return NULL;
	}
	low = hex4(p + 8);
	if (low < 0) {
		*reason = ST_JSON_E_BAD_ESCAPE;
		return NULL;
	}
	if (low < 0xdc00 || low > 0xdfff) {
		*reason = ST_JSON_E_BAD_SURROGATE;
		return NULL;
	}
	return p + 12;
}

/* RFC 3629 §4, the UTF8-2/3/4 rules with their second-byte ranges. */
const uint8_t *st_json_check_utf8(const uint8_t *p, const uint8_t *end,
				  int *reason)
{
	uint8_t c = p[0];
	size_t n;
	uint8_t lo = 0x80, hi = 0xbf;

	if (c < 0xc2 || c > 0xf4)
		goto bad;
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (c == 0xe0)
		lo = 0xa0;          /* overlong */
	else if (c == 0xed)
		hi = 0x9f;          /* U+D800-DFFF */
	else if (c == 0xf0)
		lo = 0x90;          /* overlong */
	else if (c == 0xf4)
		hi = 0x8f;          /* > U+10FFFF */
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		goto bad;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			goto bad;
	return p + n;
bad:
	*reason = ST_JSON_E_BAD_UTF8;
	return NULL;
}

static size_t put_utf8(uint8_t *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

size_t st_json_decode(const uint8_t *p, const uint8_t *close, uint8_t *out,
		      size_t cap)
{
	size_t n = 0;

	while (p < close) {
		uint8_t tmp[4];
		size_t k;

		if (*p != '\\') {
			if (n == cap)
				return SIZE_MAX;
			out[n++] = *p++;
			continue;
		}
		switch (p[1]) {
		case 'b': tmp[0] = '\b'; k = 1; break;
		case 'f': tmp[0] = '\f'; k = 1; break;
		case 'n': tmp[0] = '\n'; k = 1; break;
		case 'r': tmp[0] = '\r'; k = 1; break;
		case 't': tmp[0] = '\t'; k = 1; break;
		case 'u': {
			uint32_t cp = (uint32_t)hex4(p + 2);

			if (cp >= 0xd800 && cp <= 0xdbff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     ((uint32_t)hex4(p + 8) - 0xdc00);
				p += 6;
			}
			k = put_utf8(tmp, cp);
			p += 4;
			break;
		}
		default: tmp[0] = p[1]; k = 1; break;  /* '"' '\\' '/' */
		}
		p += 2;
		if (cap - n < k)
			return SIZE_MAX;
		memcpy(out + n, tmp, k);
		n += k;
	}
	return n;
}

/* 10^0 .. 10^22 are exact doubles. */
static const double exact_pow10[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Eight ASCII digits (the first in the lowest byte) as their value:
 * neighbours combined in lanes of 2, 4, then 8 digits. */
static inline uint64_t eight_digits(uint64_t x)
{
	x -= 0x3030303030303030ull;
	x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffull;
	x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffull;
	return (x * 10000 + (x >> 32)) & 0xffffffffull;
}

/* Appends the run of digits at p to *w (w * 10 + d each, modulo 2^64),
 * counting them in *n; returns the first non-digit (or end).  Bytes are
 * read in words of eight, inside [start, end) only: a run shorter than
 * eight is read from p when eight bytes remain, else from end - 8. */
static inline __attribute__((always_inline)) const uint8_t *
digits_into(const uint8_t *start, const uint8_t *p, const uint8_t *end,
	    uint64_t *w, int *n)
{
	static const uint64_t pow10[8] = { 1, 10, 100, 1000, 10000, 100000,
		1000000, 10000000 };
	uint64_t v = *w;
	int count = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (;;) {
		uint64_t x, bad;
		unsigned k;

		if (end - p >= 8) {
			memcpy(&x, p, 8);
		} else if (p < end && end - start >= 8) {
			/* the last eight bytes, p's byte moved to the bottom;
			 * the bytes shifted in (zero) are no digits */
			memcpy(&x, end - 8, 8);
			x >>= 8 * (unsigned)(p - (end - 8));
		} else {
			break;
		}
		bad = ((x & 0xf0f0f0f0f0f0f0f0ull) ^ 0x3030303030303030ull) |
		      (((x + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) ^
		       0x3030303030303030ull);
		if (!bad) {
			v = v * 100000000 + eight_digits(x);
			count += 8;
			p += 8;
			continue;
		}
		k = (unsigned)__builtin_ctzll(bad) >> 3;   /* digits, 0..7 */
		if (k) {
			/* the k digits to the top, '0's below them */
			x = x << (8 * (8 - k)) |
			    0x3030303030303030ull >> (8 * k);
			v = v * pow10[k] + eight_digits(x);
			count += (int)k;
			p += k;
		}
		*w = v;
		*n += count;
		return p;
	}
#else
	(void)start;
#endif
	for (; p < end && (uint8_t)(*p - '0') < 10; p++, count++)
		v = v * 10 + (uint64_t)(*p - '0');
	*w = v;
	*n += count;
	return p;
}

/*
 * W. D. Clinger, "How to read floating point numbers accurately" (PLDI
 * 1990): when the decimal significand w < 2^53 and |e| <= 22, w * 10^e (or
 * w / 10^-e) is one correctly rounded operation on exact operands.  Every
 * other number goes to strtod_l(), which rounds correctly (glibc).
 */
double st_json_number_value(const struct st_json_plan *plan,
			    const uint8_t *text, size_t len)
{
	const uint8_t *p = text, *end = text + len;
	bool neg = *p == '-', inexact;
	uint64_t w = 0;
	int sig = 0, e = 0, e_sign = 1, e_given = 0;
	char buf[ST_JSON_NUMBER_TEXT_MAX + 1];

	p += neg;
	/* w: all the digits, while there are at most 19 of them (a leading
	 * zero counts: it only makes the fast path a little rarer); e: the
	 * power of ten of w's last digit */
	p = digits_into(text, p, end, &w, &sig);
	if (p < end && *p == '.') {
		int int_digits = sig;

		p = digits_into(text, p + 1, end, &w, &sig);
		e -= sig - int_digits;
	}
	inexact = sig > 19;
	if (p < end) {                  /* 'e' or 'E' */
		p++;
		if (*p == '+' || *p == '-')
			e_sign = *p++ == '-' ? -1 : 1;
		for (; p < end && e_given < 100000; p++)
			e_given = e_given * 10 + (*p - '0');
	}
	e += e_sign * e_given;
	if (!inexact && w < (1ull << 53) && e >= -22 && e <= 22) {
		double d = e < 0 ? (double)w / exact_pow10[-e] :
				   (double)w * exact_pow10[e];

		return neg ? -d : d;
	}
	if (len > ST_JSON_NUMBER_TEXT_MAX)
		return NAN;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return strtod_l(buf, NULL, plan->c_locale);
}

/* One pointer into plan->tok[*][i]; the arena has room for its bytes. */
static int parse_pointer(struct st_json_plan *plan, unsigned i,
			 const char *ptr, uint8_t **arena)
{
	unsigned ntok = 0;

	if (*ptr == '\0')
		return 0;
	if (*ptr != '/')
		return -EINVAL;
	while (*ptr == '/') {
		struct st_json_token *t;
		uint8_t *out = *arena;
		size_t n = 0;
		bool digits = true;

		if (ntok == ST_JSON_WALK_DEPTH_MAX)
			return -EINVAL;
		t = &plan->tok[ntok++][i];
		for (ptr++; *ptr && *ptr != '/'; ptr++) {
			uint8_t c = (uint8_t)*ptr;

			if (c == '~') {
				if (ptr[1] != '0' && ptr[1] != '1')
					return -EINVAL;
				c = *++ptr == '0' ? '~' : '/';
			}
			if (n == ST_JSON_TOKEN_MAX)
				return -EINVAL;
			digits &= (uint8_t)(c - '0') < 10;
			out[n++] = c;
		}
		t->text = out;
		t->len = (uint16_t)n;
		plan->name_filter[ntok - 1] |= 1ull << st_json_name_bit(out, n);
		t->index = -1;
		if (digits && n > 0 && n <= 9 && (n == 1 || out[0] != '0')) {
			t->index = 0;
			for (size_t k = 0; k < n; k++)
				t->index = t->index * 10 + (out[k] - '0');
			plan->index_tokens[ntok - 1] |= (uint16_t)(1u << i);
		}
		*arena += n;
	}
	plan->ntok[i] = (uint8_t)ntok;
	return 0;
}

struct st_json_plan *st_json_plan_create(const char *const *pointers,
					 unsigned n)
{
	struct st_json_plan *plan;
	size_t arena_bytes = 1;
	uint8_t *cursor;

	if (n > ST_JSON_POINTERS_MAX || (n && !pointers)) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!pointers[i]) {
			errno = EINVAL;
			return NULL;
		}
		arena_bytes += strlen(pointers[i]);
	}
	plan = calloc(1, sizeof(*plan));
	if (!plan)
		goto err_nomem;
	plan->arena = malloc(arena_bytes);
	if (!plan->arena)
		goto err_free_plan;
	plan->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!plan->c_locale)
		goto err_free_arena;
	plan->n = n;
	cursor = plan->arena;
	for (unsigned i = 0; i < n; i++) {
		if (parse_pointer(plan, i, pointers[i], &cursor) < 0) {
			st_json_plan_destroy(plan);
			errno = EINVAL;
			return NULL;
		}
		if (plan->ntok[i] == 0)
			plan->root_capture |= (uint16_t)(1u << i);
		else
			plan->root_alive |= (uint16_t)(1u << i);
	}
	return plan;

err_free_arena:
	free(plan->arena);
err_free_plan:
	free(plan);
err_nomem:
	errno = ENOMEM;
	return NULL;
}

void st_json_plan_destroy(struct st_json_plan *plan)
{
	if (!plan)
		return;
	freelocale(plan->c_locale);
	free(plan->arena);
	free(plan);
}

unsigned st_json_plan_size(const struct st_json_plan *plan)
{
	return plan ? plan->n : 0;
}

static bool call_ok(const struct st_json_plan *plan, const uint8_t *doc,
		    size_t len, const struct st_json_value *values)
{
	return len < UINT32_MAX && (doc || len == 0) &&
	       (values || st_json_plan_size(plan) == 0);
}

/* The build of `level`; the caller knows the CPU has it. */
static st_json_scan_fn *build_of(enum st_simd_level level)
{
	switch (level) {
	case ST_SIMD_AVX512:
		return st_json_scan_avx512;
	case ST_SIMD_AVX2:
		return st_json_scan_avx2;
	case ST_SIMD_SCALAR:
		break;
	}
	return st_json_scan_scalar;
}

static int scan_with(st_json_scan_fn *build, const struct st_json_plan *plan,
		     const uint8_t *doc, size_t len, struct st_json_value *values,
		     uint8_t *scratch, size_t scratch_bytes,
		     struct st_schema *schema, struct st_json_scan_stats *stats)
{
	static const uint8_t empty_doc[1];

	if (unlikely(!call_ok(plan, doc, len, values)))
		return -ST_JSON_E_BAD_CALL;
	if (!doc)
		doc = empty_doc;
	if (!scratch)
		scratch_bytes = 0;
	return build(plan, doc, len, values, scratch, scratch_bytes, schema,
		     stats);
}

int st_json_scan_level(enum st_simd_level level,
		       const struct st_json_plan *plan, const uint8_t *doc,
		       size_t len, struct st_json_value *values,
		       uint8_t *scratch, size_t scratch_bytes,
		       struct st_schema *schema,
		       struct st_json_scan_stats *stats)
{
	if (!st_cpu_has(level))
		return -ST_JSON_E_BAD_CALL;
	return scan_with(build_of(level), plan, doc, len, values, scratch,
			 scratch_bytes, schema, stats);
}

int st_json_scan(const struct st_json_plan *plan, const uint8_t *doc,
		 size_t len, struct st_json_value *values, uint8_t *scratch,
		 size_t scratch_bytes, struct st_schema *schema,
		 struct st_json_scan_stats *stats)
{
	/* st_cpu_simd_level() only ever names a level the CPU has */
	return scan_with(build_of(st_cpu_simd_level()), plan, doc, len, values,
			 scratch, scratch_bytes, schema, stats);
}

static st_json_fields_fn *fields_build_of(enum st_simd_level level)
{
	switch (level) {
	case ST_SIMD_AVX512:
		return st_json_fields_avx512;
	case ST_SIMD_AVX2:
		return st_json_fields_avx2;
	case ST_SIMD_SCALAR:
		break;
	}
	return st_json_fields_scalar;
}

static int fields_with(st_json_fields_fn *build,
		       const struct st_json_plan *plan, const uint8_t *doc,
		       size_t len, struct st_json_value *values,
		       uint8_t *scratch, size_t scratch_bytes)
{
	static const uint8_t empty_doc[1];

	if (unlikely(!call_ok(plan, doc, len, values)))
		return -ST_JSON_E_BAD_CALL;
	if (!doc)
		doc = empty_doc;
	if (!scratch)
		scratch_bytes = 0;
	return build(plan, doc, len, values, scratch, scratch_bytes);
}

int st_json_scan_fields_level(enum st_simd_level level,
			      const struct st_json_plan *plan,
			      const uint8_t *doc, size_t len,
			      struct st_json_value *values, uint8_t *scratch,
			      size_t scratch_bytes)
{
	if (!st_cpu_has(level))
		return -ST_JSON_E_BAD_CALL;
	return fields_with(fields_build_of(level), plan, doc, len, values,
			   scratch, scratch_bytes);
}

int st_json_scan_fields(const struct st_json_plan *plan, const uint8_t *doc,
			size_t len, struct st_json_value *values,
			uint8_t *scratch, size_t scratch_bytes)
{
	return fields_with(fields_build_of(st_cpu_simd_level()), plan, doc, len,
			   values, scratch, scratch_bytes);
}

/* The scalar build: the reference for the classifiers of the others. */
struct json_cls {
	char unused;
};

static inline void json_cls_init(struct json_cls *cls, const uint8_t *doc,
				 const uint8_t *end)
{
	(void)cls, (void)doc, (void)end;
}

static inline const uint8_t *json_string_run(const uint8_t *p,
					     const uint8_t *end,
					     struct json_cls *cls)
{
	(void)cls;
	while (p < end && !st_json_string_stop[*p])
		p++;
	return p;
}

static inline const uint8_t *json_ws_run(const uint8_t *p, const uint8_t *end,
					 struct json_cls *cls)
{
	(void)cls;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

#define JSON_TARGET
#define JSON_SCAN_NAME st_json_scan_scalar
#define JSON_LAZY_NAME st_json_fields_scalar
#include "dataplane/json/json_scan.h"
