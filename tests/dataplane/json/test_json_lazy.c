/*
 * Tests of the lazy fields-only scan, st_json_scan_fields() (json.h).
 * Oracles, all outside the code under test:
 *   - values written out by hand for hand-written documents (escapes in
 *     names and values, surrogate pairs, nested pointers, array indexes,
 *     duplicate names, missing pointers, object / array / literal values,
 *     deep nesting), numbers compared with the C compiler's conversion of
 *     the same literal;
 *   - reasons written out by hand (RFC 8259) for documents whose error lies
 *     in the part the lazy scan checks, and the documented acceptance of
 *     errors in the part it does not;
 *   - constructed documents whose skipped containers put quotes, escaped
 *     quotes and brackets inside strings at every offset around the 64-byte
 *     windows of the SIMD skipper, the wanted value known by construction;
 *   - st_json_scan() (the full scan, tested on its own in test_json.c) on a
 *     generated corpus of valid and mutated documents: wherever it accepts,
 *     the lazy scan must accept with the same values, at every SIMD level.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/cpu.h"
#include "dataplane/json/json.h"
#include "dataplane/sketch/schema.h"
#include "st_test.h"
#include "tests/fuzz/json/fuzz_json_values.h"

#define SCRATCH_BYTES (1u << 16)
static uint8_t scratch[SCRATCH_BYTES];
static uint8_t scratch2[SCRATCH_BYTES];

static unsigned levels(enum st_simd_level out[3])
{
	unsigned n = 0;

	for (int l = ST_SIMD_SCALAR; l <= ST_SIMD_AVX512; l++)
		if (st_cpu_has((enum st_simd_level)l))
			out[n++] = (enum st_simd_level)l;
	return n;
}

static int lazy(enum st_simd_level level, const struct st_json_plan *plan,
		const char *doc, size_t len, struct st_json_value *v)
{
	return st_json_scan_fields_level(level, plan, (const uint8_t *)doc, len,
					 v, scratch, SCRATCH_BYTES);
}

static int full(const struct st_json_plan *plan, const char *doc, size_t len,
		struct st_json_value *v)
{
	return st_json_scan_level(ST_SIMD_SCALAR, plan, (const uint8_t *)doc,
				  len, v, scratch2, SCRATCH_BYTES, NULL, NULL);
}

/* One expected value: type 0 = not found. */
struct want {
	uint8_t type;
	const char *text;      /* decoded string or raw text */
	size_t text_len;       /* 0: strlen(text) */
	double number;
};

struct hand_case {
	const char *doc;
	const char *ptrs[8];
	struct want want[8];
};

#define S(t) { ST_JSON_STRING, t, 0, 0 }
#define N(t, d) { ST_JSON_NUMBER, t, 0, d }
#define RAW(ty, t) { ty, t, 0, 0 }
#define NONE { 0, NULL, 0, 0 }

static const struct hand_case hand[] = {
	/* the bench's shape: the scan stops after "amount" */
	{ "{\"ts\":1700000000123,\"event\":\"view\",\"user\":{\"id\":\"u-42\","
	  "\"name\":\"Bob\",\"tier\":2,\"geo\":{\"lat\":-1.5,\"lon\":2}},"
	  "\"amount\":12.50,\"currency\":\"EUR\",\"tags\":[\"a\"],\"ok\":true}",
	  { "/ts", "/user/id", "/amount" },
	  { N("1700000000123", 1700000000123.0), S("u-42"), N("12.50", 12.5) } },
	/* escapes in names and values, a surrogate pair */
	{ "{\"a\\/b\":\"x\\\"y\",\"m~n\":\"\\u00e9t\\u00E9\","
	  "\"\\u0075ser\":{\"id\":\"\\ud83d\\ude00!\"},\"\\\\\":\"\\b\\f\\n\\r\\t\"}",
	  { "/a~1b", "/m~0n", "/user/id", "/\\" },
	  { S("x\"y"), S("\xc3\xa9t\xc3\xa9"), S("\xf0\x9f\x98\x80!"),
	    S("\b\f\n\r\t") } },
	/* array index tokens; "01" and "-" select nothing */
	{ "{\"tags\":[\"a\",{\"x\":[10,20]},\"c\"],"
	  "\"items\":[{\"sku\":\"S1\"},{\"sku\":\"S2\",\"qty\":3}]}",
	  { "/tags/0", "/tags/1/x/1", "/items/1/sku", "/tags/3", "/tags/01",
	    "/tags/-", "/items/0/qty" },
	  { S("a"), N("20", 20.0), S("S2"), NONE, NONE, NONE, NONE } },
	/* duplicate names: the first occurrence of each path wins, and a
	 * path missing in the first "b" is still found in the second */
	{ "{\"a\":1,\"a\":2,\"b\":{\"c\":1},\"b\":{\"c\":2,\"d\":3},\"a\":4}",
	  { "/a", "/b/c", "/b/d" },
	  { N("1", 1.0), N("1", 1.0), N("3", 3.0) } },
	/* object, array and literal values; "" is the whole document */
	{ " {\"o\":{\"k\":[1,{\"z\":null}]},\"t\":true,\"f\":false,\"n\":null,"
	  "\"e\":[ ]} ",
	  { "/o", "/o/k", "/t", "/f", "/n", "/e", "" },
	  { RAW(ST_JSON_OBJECT, "{\"k\":[1,{\"z\":null}]}"),
	    RAW(ST_JSON_ARRAY, "[1,{\"z\":null}]"), RAW(ST_JSON_TRUE, "true"),
	    RAW(ST_JSON_FALSE, "false"), RAW(ST_JSON_NULL, "null"),
	    RAW(ST_JSON_ARRAY, "[ ]"),
	    RAW(ST_JSON_OBJECT, "{\"o\":{\"k\":[1,{\"z\":null}]},\"t\":true,"
				"\"f\":false,\"n\":null,\"e\":[ ]}") } },
	/* pointers that are not there, or that go through a scalar */
	{ "{\"a\":{\"b\":\"s\"},\"c\":[1]}",
	  { "/missing", "/a/b/c", "/c/0/x", "/a/x", "/c/1" },
	  { NONE, NONE, NONE, NONE, NONE } },
	/* whitespace everywhere, numbers of every shape */
	{ " \t{ \"x\" :\n[ -0 , 1E+2 ,\r-1.5e-3 ] , \"y\" : 0.0 } \n",
	  { "/x/0", "/x/1", "/x/2", "/y" },
	  { N("-0", -0.0), N("1E+2", 1e2), N("-1.5e-3", -1.5e-3), N("0.0", 0.0) } },
	/* scalar roots */
	{ "\"r\\u00e9\"", { "" }, { S("r\xc3\xa9") } },
	{ "  42 ", { "", "/a" }, { N("42", 42.0), NONE } },
	/* a skipped container with brackets and escaped quotes in strings */
	{ "{\"s\":{\"a\":\"]}\\\"}\",\"b\":[\"[\",{\"c\":\"\\\\\"}]},\"w\":\"ok\"}",
	  { "/w" }, { S("ok") } },
	/* a captured container that also holds a pointer */
	{ "{\"u\":{\"id\":\"i\",\"more\":[1,2]},\"z\":0}",
	  { "/u", "/u/id" },
	  { RAW(ST_JSON_OBJECT, "{\"id\":\"i\",\"more\":[1,2]}"), S("i") } },
};

static void check_want(const struct st_json_value *v, const struct want *w)
{
	size_t len = w->text ? (w->text_len ? w->text_len : strlen(w->text)) : 0;

	if (!w->type) {
		CU_ASSERT(!v->found && v->type == 0);
		return;
	}
	CU_ASSERT(v->found);
	CU_ASSERT_EQUAL(v->type, w->type);
	CU_ASSERT_EQUAL(v->text_len, len);
	if (v->found && v->text_len == len) {
		CU_ASSERT(memcmp(v->text, w->text, len) == 0);
	}
	if (w->type == ST_JSON_NUMBER) {
		CU_ASSERT(memcmp(&v->number, &w->number, sizeof(double)) == 0);
	}
}

static void test_hand_values(void)
{
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);

	for (size_t c = 0; c < ST_ARRAY_SIZE(hand); c++) {
		const struct hand_case *h = &hand[c];
		unsigned n = 0;
		struct st_json_plan *plan;
		struct st_json_value v[8], ref[8];

		while (n < 8 && h->ptrs[n])
			n++;
		plan = st_json_plan_create(h->ptrs, n);
		CU_ASSERT_FATAL(plan != NULL);
		CU_ASSERT_EQUAL_FATAL(full(plan, h->doc, strlen(h->doc), ref), 0);
		for (unsigned l = 0; l < nl; l++) {
			int rc = lazy(lv[l], plan, h->doc, strlen(h->doc), v);

			CU_ASSERT_EQUAL(rc, 0);
			if (rc != 0) {
				fprintf(stderr, "case %zu (%s): %s\n", c,
					st_simd_level_name(lv[l]),
					st_json_error_name(rc));
				continue;
			}
			for (unsigned i = 0; i < n; i++)
				check_want(&v[i], &h->want[i]);
			CU_ASSERT(json_same_values(v, ref, n));
		}
		st_json_plan_destroy(plan);
	}
}

/* Nesting: a pointer 32 tokens deep under 1024 levels; a skipped container
 * 1024 deep is fine, 1025 is too deep, like the full scan. */
static void test_deep_nesting(void)
{
	static char doc[8192];
	char ptr[128] = "";
	const char *ptrs[2] = { ptr, "/w" };
	struct st_json_plan *plan;
	struct st_json_value v[2];
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);
	size_t n = 0;

	for (int i = 0; i < 32; i++)
		strcat(ptr, "/0");
	plan = st_json_plan_create(ptrs, 1);
	CU_ASSERT_FATAL(plan != NULL);
	for (int i = 0; i < ST_JSON_NESTING_MAX; i++)
		doc[n++] = '[';
	doc[n++] = '7';
	for (int i = 0; i < ST_JSON_NESTING_MAX; i++)
		doc[n++] = ']';
	for (unsigned l = 0; l < nl; l++) {
		CU_ASSERT_EQUAL(lazy(lv[l], plan, doc, n, v), 0);
		CU_ASSERT(v[0].found && v[0].type == ST_JSON_ARRAY);
		/* the value of 32 tokens: the array at depth 33, which holds
		 * 1024 - 33 more arrays around the 7 */
		CU_ASSERT_EQUAL(v[0].text_len, 2 * (ST_JSON_NESTING_MAX - 32) + 1);
	}
	st_json_plan_destroy(plan);

	/* {"s":[[[...]]],"w":1}: the skipped value is 1 + k deep */
	plan = st_json_plan_create(ptrs + 1, 1);
	CU_ASSERT_FATAL(plan != NULL);
	for (int k = ST_JSON_NESTING_MAX - 1; k <= ST_JSON_NESTING_MAX; k++) {
		n = 0;
		n += (size_t)sprintf(doc, "{\"s\":");
		for (int i = 0; i < k; i++)
			doc[n++] = '[';
		for (int i = 0; i < k; i++)
			doc[n++] = ']';
		n += (size_t)sprintf(doc + n, ",\"w\":1}");
		for (unsigned l = 0; l < nl; l++) {
			int want = k < ST_JSON_NESTING_MAX ? 0 : -ST_JSON_E_TOO_DEEP;

			CU_ASSERT_EQUAL(lazy(lv[l], plan, doc, n, v), want);
			CU_ASSERT_EQUAL(full(plan, doc, n, v), want);
		}
	}
	st_json_plan_destroy(plan);
}

struct refusal {
	const char *doc;
	int reason;
};

/* Errors in the part the lazy scan checks (pointers /ts, /user/id,
 * /amount): refused, with the reason RFC 8259 gives and the full scan. */
static const struct refusal refused[] = {
	{ "", ST_JSON_E_EMPTY }, { " \n", ST_JSON_E_EMPTY },
	{ "x", ST_JSON_E_UNEXPECTED },
	{ "{\"ts\":01,\"amount\":1}", ST_JSON_E_BAD_NUMBER },
	{ "{\"ts\":1e}", ST_JSON_E_BAD_NUMBER },
	{ "{\"x\":-,\"ts\":1}", ST_JSON_E_BAD_NUMBER },      /* skipped number */
	{ "{\"x\":tru,\"ts\":1}", ST_JSON_E_BAD_LITERAL },   /* skipped literal */
	{ "{\"ts\" 1}", ST_JSON_E_UNEXPECTED },
	{ "{\"x\":1,,\"ts\":1}", ST_JSON_E_UNEXPECTED },
	{ "{x:1}", ST_JSON_E_UNEXPECTED },
	{ "{\"x\":1,}", ST_JSON_E_TRAILING_COMMA },
	{ "{\"user\":[1,]}", ST_JSON_E_TRAILING_COMMA },    /* skipped: ok */
	{ "{\"x\":1} x", ST_JSON_E_TRAILING_DATA },
	{ "{\"user\":{\"id\":\"a\\qb\"}}", ST_JSON_E_BAD_ESCAPE },
	{ "{\"user\":{\"id\":\"\\ud800\"}}", ST_JSON_E_BAD_SURROGATE },
	{ "{\"user\":{\"id\":\"\xc3\"}}", ST_JSON_E_BAD_UTF8 },
	{ "{\"user\":{\"id\":\"a\x01\"}}", ST_JSON_E_CONTROL_CHAR },
	{ "{\"us\xff\":{}}", ST_JSON_E_BAD_UTF8 },          /* a name */
	{ "{\"a\\x\":1}", ST_JSON_E_BAD_ESCAPE },           /* a name */
	{ "{\"user\":{\"id\":\"a", ST_JSON_E_UNTERMINATED },
	{ "{\"x\":\"a,\"ts\":1", ST_JSON_E_UNEXPECTED },
	{ "{\"x\":{\"y\":[1,2]", ST_JSON_E_UNTERMINATED },  /* skipped, short */
	{ "{\"ts\":12", ST_JSON_E_UNTERMINATED },   /* maybe a cut number */
	{ "{\"ts\":1", ST_JSON_E_UNTERMINATED },
	{ "{\"user\":{\"id\"", ST_JSON_E_UNTERMINATED },
};

static void test_refused_in_visited_part(void)
{
	const char *ptrs[] = { "/ts", "/user/id", "/amount" };
	struct st_json_plan *plan = st_json_plan_create(ptrs, 3);
	struct st_json_value v[3];
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);

	CU_ASSERT_FATAL(plan != NULL);
	for (size_t c = 0; c < ST_ARRAY_SIZE(refused); c++) {
		const char *d = refused[c].doc;
		/* "[1,]" under "user" is skipped: the lazy scan accepts it */
		int want = strstr(d, "[1,]") ? 0 : -refused[c].reason;

		CU_ASSERT_EQUAL(full(plan, d, strlen(d), v), -refused[c].reason);
		for (unsigned l = 0; l < nl; l++) {
			int rc = lazy(lv[l], plan, d, strlen(d), v);

			CU_ASSERT_EQUAL(rc, want);
			if (rc != want)
				fprintf(stderr, "refusal %zu (%s): got %s\n", c,
					st_simd_level_name(lv[l]),
					st_json_error_name(rc));
		}
	}
	st_json_plan_destroy(plan);
}

/* The contract: errors the lazy scan does not look at (after the last
 * field, or inside skipped values) do not refuse the document, and the
 * values are those written out here.  The full scan refuses each. */
static void test_errors_outside_visited_part_accepted(void)
{
	static const struct refusal docs[] = {
		{ "{\"ts\":1,\"user\":{\"id\":\"u\"},\"amount\":2,\"note\":\"\xff\"}",
		  ST_JSON_E_BAD_UTF8 },
		{ "{\"ts\":1,\"user\":{\"id\":\"u\"},\"amount\":2,\"x\":01}",
		  ST_JSON_E_BAD_NUMBER },
		{ "{\"ts\":1,\"user\":{\"id\":\"u\"},\"amount\":2,",
		  ST_JSON_E_UNTERMINATED },
		{ "{\"ts\":1,\"user\":{\"id\":\"u\"},\"amount\":2}garbage",
		  ST_JSON_E_TRAILING_DATA },
		{ "{\"ts\":1,\"user\":{\"id\":\"u\"},\"amount\":2,\"a\":[}",
		  ST_JSON_E_UNEXPECTED },
		/* inside skipped values before the last field */
		{ "{\"x\":\"\\q\",\"ts\":1,\"user\":{\"id\":\"u\"},\"amount\":2}",
		  ST_JSON_E_BAD_ESCAPE },
		{ "{\"x\":{\"a\" 1],\"ts\":1,\"user\":{\"id\":\"u\"},\"amount\":2}",
		  ST_JSON_E_UNEXPECTED },
		{ "{\"ts\":1,\"user\":{\"id\":\"u\",\"n\":\"\x01\"},\"amount\":2}",
		  ST_JSON_E_CONTROL_CHAR },
		{ "{\"ts\":1,\"user\":{\"id\":\"u\",\"n\":01},\"amount\":2}",
		  ST_JSON_E_BAD_NUMBER },
		{ "{\"ts\":1,\"user\":{\"id\":\"u\"},\"x\":[\"\\ud800\"],\"amount\":2}",
		  ST_JSON_E_BAD_SURROGATE },
	};
	const char *ptrs[] = { "/ts", "/user/id", "/amount" };
	struct st_json_plan *plan = st_json_plan_create(ptrs, 3);
	struct st_json_value v[3];
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);

	CU_ASSERT_FATAL(plan != NULL);
	for (size_t c = 0; c < ST_ARRAY_SIZE(docs); c++) {
		const char *d = docs[c].doc;

		CU_ASSERT_EQUAL(full(plan, d, strlen(d), v), -docs[c].reason);
		for (unsigned l = 0; l < nl; l++) {
			CU_ASSERT_EQUAL(lazy(lv[l], plan, d, strlen(d), v), 0);
			CU_ASSERT(v[0].found && v[0].number == 1.0);
			CU_ASSERT(v[1].found && v[1].type == ST_JSON_STRING &&
				  v[1].text_len == 1 && v[1].text[0] == 'u');
			CU_ASSERT(v[2].found && v[2].number == 2.0);
		}
	}
	st_json_plan_destroy(plan);
}

static void test_calls(void)
{
	const char *ptrs[] = { "/s" };
	struct st_json_plan *plan = st_json_plan_create(ptrs, 1);
	static const char esc[] = "{\"s\":\"a\\nb\"}";
	struct st_json_value v[1];

	CU_ASSERT_FATAL(plan != NULL);
	/* no pointers: only the first value byte is looked at */
	CU_ASSERT_EQUAL(st_json_scan_fields(NULL, (const uint8_t *)"{", 1, NULL,
					    NULL, 0), 0);
	CU_ASSERT_EQUAL(st_json_scan_fields(NULL, (const uint8_t *)" x", 2, NULL,
					    NULL, 0), -ST_JSON_E_UNEXPECTED);
	CU_ASSERT_EQUAL(st_json_scan_fields(NULL, (const uint8_t *)" ", 1, NULL,
					    NULL, 0), -ST_JSON_E_EMPTY);
	CU_ASSERT_EQUAL(st_json_scan_fields(NULL, NULL, 0, NULL, NULL, 0),
			-ST_JSON_E_EMPTY);
	/* bad calls, scratch as the full scan */
	CU_ASSERT_EQUAL(st_json_scan_fields(plan, NULL, 1, v, NULL, 0),
			-ST_JSON_E_BAD_CALL);
	CU_ASSERT_EQUAL(st_json_scan_fields(plan, (const uint8_t *)esc,
					    strlen(esc), NULL, NULL, 0),
			-ST_JSON_E_BAD_CALL);
	CU_ASSERT_EQUAL(st_json_scan_fields(plan, (const uint8_t *)esc,
					    strlen(esc), v, NULL, 0),
			-ST_JSON_E_SCRATCH_FULL);
	CU_ASSERT_EQUAL(st_json_scan_fields(plan, (const uint8_t *)esc,
					    strlen(esc), v, scratch, 2),
			-ST_JSON_E_SCRATCH_FULL);
	CU_ASSERT_EQUAL(st_json_scan_fields(plan, (const uint8_t *)esc,
					    strlen(esc), v, scratch, 3), 0);
	CU_ASSERT(v[0].found && v[0].text_len == 3 &&
		  memcmp(v[0].text, "a\nb", 3) == 0 && v[0].text == scratch);
	for (int l = ST_SIMD_SCALAR; l <= ST_SIMD_AVX512; l++) {
		if (!st_cpu_has((enum st_simd_level)l)) {
			CU_ASSERT_EQUAL(st_json_scan_fields_level(
				(enum st_simd_level)l, plan, (const uint8_t *)esc,
				strlen(esc), v, scratch, SCRATCH_BYTES),
				-ST_JSON_E_BAD_CALL);
		}
	}
	st_json_plan_destroy(plan);
}

/*
 * The SIMD skipper's windows: {"p":"<pad>","s":<skipped>,"w":<k>} with pad
 * lengths 0..140, so that every byte of the skipped container falls on
 * every offset of a 64-byte window; the skipped containers hold quotes,
 * escaped quotes, backslash runs and brackets inside strings, and strings
 * that cross a window.  The value of "/w" is k by construction.
 */
static void test_skipper_windows(void)
{
	static const char *const skipped[] = {
		"{\"a\":\"]}\\\"}]\",\"b\":[\"[\",{\"c\":\"\\\\\"},\"\\\\\\\"]\"]}",
		"[[[[[]]]],{\"x\":[{}]},\"}}}}]]]]\"]",
		/* one string across a window (parenthesised: one element) */
		("{\"long\":\"................................................"
		 "...............................]}]}]}\"}"),
		"[\"\\\\\",\"\\\\\\\\\",\"a\\\"b\",{}]",
		"{\"\\\"\":{\"\\\\\":[\"\\u005d\"]}}",
		"[\"\xc3\xa9\xe2\x82\xac\",{\"k\":null},true,-1.5e3]",
		"{}", "[]",
		/* backslash runs of odd and even length before quotes */
		"[\"\\\\\\\\\\\\\\\"x\\\\\\\\\\\\\\\\\",{\"k\":\"]\\\\\"}]",
	};
	const char *ptrs[] = { "/w" };
	struct st_json_plan *plan = st_json_plan_create(ptrs, 1);
	enum st_simd_level lv[3];
	unsigned nl = levels(lv), checked = 0;
	static char doc[1024];

	CU_ASSERT_FATAL(plan != NULL);
	for (size_t s = 0; s < ST_ARRAY_SIZE(skipped); s++) {
		for (int pad = 0; pad <= 140; pad++) {
			int k = (int)(s * 1000) + pad;
			int n = sprintf(doc, "{\"p\":\"%.*s\",\"s\":%s,\"w\":%d}",
					pad, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
					"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
					"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
					"xxxxxxxxxxxxxxxxxxxx", skipped[s], k);
			struct st_json_value v[1];

			for (unsigned l = 0; l < nl; l++) {
				int rc = lazy(lv[l], plan, doc, (size_t)n, v);

				CU_ASSERT_EQUAL(rc, 0);
				CU_ASSERT(rc == 0 && v[0].found &&
					  v[0].number == (double)k);
				checked++;
			}
			/* the same document cut short: accepted only with
			 * the whole value (a number that runs into the end
			 * of the text inside a container may be cut) */
			for (int cut = n - 1; cut > 0; cut -= 3) {
				for (unsigned l = 0; l < nl; l++) {
					int rc = lazy(lv[l], plan, doc, (size_t)cut, v);

					CU_ASSERT(rc < 0 || (v[0].found &&
						  v[0].number == (double)k));
				}
			}
		}
	}
	CU_ASSERT(checked >= ST_ARRAY_SIZE(skipped) * 141);
	st_json_plan_destroy(plan);
}

/* ---- generated corpus: lazy == full wherever the full scan accepts ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static unsigned rn(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

struct buf {
	char *p;
	size_t n, cap;
};

static void put(struct buf *b, const char *s)
{
	size_t k = strlen(s);

	if (b->n + k < b->cap) {
		memcpy(b->p + b->n, s, k);
		b->n += k;
	}
}

static void gen_ws(struct buf *b)
{
	static const char *const w[] = { "", "", "", " ", "\n ", "\t" };

	put(b, w[rn(ST_ARRAY_SIZE(w))]);
}

static void gen_value(struct buf *b, int depth)
{
	static const char *const keys[] = { "\"a\"", "\"b\"", "\"id\"", "\"0\"",
		"\"1\"", "\"\\u0061\"", "\"a/b\"", "\"a~1b\"", "\"x\\\"y\"", "\"\"" };
	static const char *const strs[] = { "\"s\"", "\"\"", "\"\\n\\\"\"",
		"\"\\ud83d\\ude00\"", "\"caf\xc3\xa9\"", "\"]}[{\"", "\"\\\\\"",
		"\"\\u00e9\"" };
	static const char *const scalars[] = { "0", "-1", "12.5", "1e3",
		"-0.0", "123456789012345678901", "true", "false", "null" };
	unsigned kind = depth > 5 ? 2 + rn(2) : rn(5);

	switch (kind) {
	case 0:
	case 4: {
		unsigned n = rn(5);

		put(b, "{");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				put(b, ",");
			gen_ws(b);
			put(b, keys[rn(ST_ARRAY_SIZE(keys))]);
			gen_ws(b);
			put(b, ":");
			gen_ws(b);
			gen_value(b, depth + 1);
			gen_ws(b);
		}
		put(b, "}");
		break;
	}
	case 1: {
		unsigned n = rn(4);

		put(b, "[");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				put(b, ",");
			gen_ws(b);
			gen_value(b, depth + 1);
			gen_ws(b);
		}
		put(b, "]");
		break;
	}
	case 2:
		put(b, strs[rn(ST_ARRAY_SIZE(strs))]);
		break;
	default:
		put(b, scalars[rn(ST_ARRAY_SIZE(scalars))]);
		break;
	}
}

static const char *const corpus_ptrs[] = {
	"/a", "/b", "/id", "/0", "/1", "/a~1b", "/x\"y", "/", "/a/b",
	"/a/0", "/b/id", "/a/a/a", "/0/1", "/b/0/id", "", "/a/b/0/a",
};

static void test_equal_to_full_scan_on_corpus(void)
{
	enum st_simd_level lv[3];
	unsigned nl = levels(lv), docs = 30000, accepted = 0, lazy_only = 0;
	static char doc[1 << 14];
	struct st_json_value ref[ST_JSON_POINTERS_MAX], v[ST_JSON_POINTERS_MAX];

	for (unsigned d = 0; d < docs; d++) {
		struct buf b = { doc, 0, sizeof(doc) };
		const char *ptrs[ST_JSON_POINTERS_MAX];
		unsigned np = 1 + rn(6);
		struct st_json_plan *plan;
		int rc_full, rc0 = 0;

		for (unsigned i = 0; i < np; i++)
			ptrs[i] = corpus_ptrs[rn(ST_ARRAY_SIZE(corpus_ptrs))];
		plan = st_json_plan_create(ptrs, np);
		CU_ASSERT_FATAL(plan != NULL);
		gen_ws(&b);
		gen_value(&b, d % 4 == 0 ? 0 : 1 - (int)rn(2));
		gen_ws(&b);
		if (d % 3 == 2 && b.n) {
			/* mutate: a byte changed, dropped or doubled */
			size_t at = rn((unsigned)b.n);
			static const char bytes[] = "{}[],:\"\\0e-tx \x01\xff";

			switch (rn(3)) {
			case 0:
				doc[at] = bytes[rn(sizeof(bytes) - 1)];
				break;
			case 1:
				memmove(doc + at, doc + at + 1, b.n - at - 1);
				b.n--;
				break;
			default:
				if (b.n + 1 < b.cap) {
					memmove(doc + at + 1, doc + at, b.n - at);
					b.n++;
				}
				break;
			}
		}
		rc_full = full(plan, doc, b.n, ref);
		accepted += rc_full == 0;
		for (unsigned l = 0; l < nl; l++) {
			int rc = lazy(lv[l], plan, doc, b.n, v);

			if (l == 0)
				rc0 = rc;
			if (rc != rc0) {
				fprintf(stderr, "builds differ on: %.*s\n", (int)b.n, doc);
				CU_FAIL("lazy builds differ");
			}
			if (rc_full == 0 && (rc != 0 || !json_same_values(v, ref, np))) {
				fprintf(stderr, "lazy != full (%s, rc %d) on: %.*s\n",
					st_simd_level_name(lv[l]), rc, (int)b.n, doc);
				CU_FAIL("lazy differs from the full scan");
			}
		}
		lazy_only += rc_full != 0 && rc0 == 0;
		st_json_plan_destroy(plan);
	}
	/* both kinds of documents, and the lazy scan accepts some invalid ones */
	CU_ASSERT(accepted > docs / 2 && accepted < docs);
	CU_ASSERT(lazy_only > 0);
}

ST_TEST_MAIN("dataplane/json/json_lazy",
	     ST_TEST(test_hand_values),
	     ST_TEST(test_deep_nesting),
	     ST_TEST(test_refused_in_visited_part),
	     ST_TEST(test_errors_outside_visited_part_accepted),
	     ST_TEST(test_calls),
	     ST_TEST(test_skipper_windows),
	     ST_TEST(test_equal_to_full_scan_on_corpus))
