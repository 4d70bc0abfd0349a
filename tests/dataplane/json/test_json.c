/*
 * JSON scanner tests.  Oracles, all outside json.c:
 *   - RFC 8259 / RFC 6901 / RFC 3629 cases written here by hand, each with
 *     the verdict the RFC gives (the classes of the well-known parser test
 *     suites: trailing commas, leading zeros, lone surrogates, control
 *     characters, deep nesting, odd numbers, big documents);
 *   - extracted values and schema walks written out by hand, numbers
 *     compared with the C compiler's own conversion of the same literal;
 *   - python3's json module, run at test time on a generated corpus (valid
 *     and mutated documents): validity, every pointer's type and value, and
 *     each document's set of (path, types, count);
 *   - the scalar build as the reference for the SIMD builds, on the same
 *     corpus and on strings whose quote / backslash / non-ASCII byte sits at
 *     every offset around the 32- and 64-byte block boundaries.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataplane/compiler.h"
#include "dataplane/cpu.h"
#include "dataplane/json/json.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/schema.h"
#include "st_test.h"

#define SCRATCH_BYTES (1u << 20)
static uint8_t scratch[SCRATCH_BYTES];

/* Levels this CPU has: always scalar, then AVX2 / AVX-512 when present. */
static unsigned levels(enum st_simd_level out[3])
{
	unsigned n = 0;

	for (int l = ST_SIMD_SCALAR; l <= ST_SIMD_AVX512; l++)
		if (st_cpu_has((enum st_simd_level)l))
			out[n++] = (enum st_simd_level)l;
	return n;
}

static int scan_str(enum st_simd_level level, const char *doc)
{
	return st_json_scan_level(level, NULL, (const uint8_t *)doc,
				  strlen(doc), NULL, scratch, SCRATCH_BYTES,
				  NULL, NULL);
}

struct verdict {
	const char *doc;
	int reason;        /* enum st_json_error */
};

/* RFC 8259 verdicts, by section. */
static const struct verdict verdicts[] = {
	/* §2 grammar: any value at the top, whitespace around */
	{ "{}", 0 }, { "[]", 0 }, { "0", 0 }, { "\"\"", 0 }, { "null", 0 },
	{ "true", 0 }, { "false", 0 }, { " \t\r\n[ 1 , 2 ]\n", 0 },
	{ "{\"a\" : [ {} , [ ] , { \"b\" : null } ] }", 0 },
	{ "", ST_JSON_E_EMPTY }, { " \n\t\r", ST_JSON_E_EMPTY },
	{ "\f[]", ST_JSON_E_UNEXPECTED },       /* form feed is not whitespace */
	{ "\xc2\xa0[]", ST_JSON_E_UNEXPECTED }, /* nor is U+00A0 */
	{ "[1] [2]", ST_JSON_E_TRAILING_DATA }, { "{}x", ST_JSON_E_TRAILING_DATA },
	{ "1 2", ST_JSON_E_TRAILING_DATA }, { "\"a\"\"b\"", ST_JSON_E_TRAILING_DATA },
	{ "[1,]", ST_JSON_E_TRAILING_COMMA }, { "{\"a\":1,}", ST_JSON_E_TRAILING_COMMA },
	{ "[1 , ]", ST_JSON_E_TRAILING_COMMA }, { "[,1]", ST_JSON_E_UNEXPECTED },
	{ "[1,,2]", ST_JSON_E_UNEXPECTED }, { "[1 2]", ST_JSON_E_UNEXPECTED },
	{ "{\"a\" 1}", ST_JSON_E_UNEXPECTED }, { "{\"a\":1 \"b\":2}", ST_JSON_E_UNEXPECTED },
	{ "{a:1}", ST_JSON_E_UNEXPECTED }, { "{'a':1}", ST_JSON_E_UNEXPECTED },
	{ "{\"a\":}", ST_JSON_E_UNEXPECTED }, { "{1:1}", ST_JSON_E_UNEXPECTED },
	{ "[}", ST_JSON_E_UNEXPECTED }, { "{]", ST_JSON_E_UNEXPECTED },
	{ "[1}", ST_JSON_E_UNEXPECTED }, { "]", ST_JSON_E_UNEXPECTED },
	{ "[", ST_JSON_E_UNTERMINATED }, { "{", ST_JSON_E_UNTERMINATED },
	{ "[1", ST_JSON_E_UNTERMINATED }, { "[1,", ST_JSON_E_UNTERMINATED },
	{ "{\"a\"", ST_JSON_E_UNTERMINATED }, { "{\"a\":", ST_JSON_E_UNTERMINATED },
	{ "\"abc", ST_JSON_E_UNTERMINATED }, { "[\"a\\", ST_JSON_E_UNTERMINATED },
	{ "/* c */ 1", ST_JSON_E_UNEXPECTED }, { "[1] // c", ST_JSON_E_TRAILING_DATA },
	/* §3 literals are lowercase and exact */
	{ "True", ST_JSON_E_UNEXPECTED }, { "nul", ST_JSON_E_BAD_LITERAL },
	{ "[tru]", ST_JSON_E_BAD_LITERAL }, { "nulll", ST_JSON_E_TRAILING_DATA },
	{ "[truex]", ST_JSON_E_UNEXPECTED }, { "NaN", ST_JSON_E_UNEXPECTED },
	{ "[Infinity]", ST_JSON_E_UNEXPECTED }, { "fals", ST_JSON_E_BAD_LITERAL },
	/* §6 numbers */
	{ "-0", 0 }, { "0.0", 0 }, { "1E+2", 0 }, { "1e-2", 0 }, { "1e400", 0 },
	{ "-1.5E-007", 0 }, { "123456789012345678901234567890", 0 },
	{ "01", ST_JSON_E_BAD_NUMBER }, { "-01", ST_JSON_E_BAD_NUMBER },
	{ "00", ST_JSON_E_BAD_NUMBER }, { "1.", ST_JSON_E_BAD_NUMBER },
	{ ".5", ST_JSON_E_UNEXPECTED }, { "+1", ST_JSON_E_UNEXPECTED },
	{ "-", ST_JSON_E_BAD_NUMBER }, { "[-]", ST_JSON_E_BAD_NUMBER },
	{ "1e", ST_JSON_E_BAD_NUMBER }, { "1e+", ST_JSON_E_BAD_NUMBER },
	{ "1.e5", ST_JSON_E_BAD_NUMBER }, { "1.2.3", ST_JSON_E_BAD_NUMBER },
	{ "0x10", ST_JSON_E_TRAILING_DATA }, { "- 1", ST_JSON_E_BAD_NUMBER },
	{ "[1e5e5]", ST_JSON_E_BAD_NUMBER }, { "--1", ST_JSON_E_BAD_NUMBER },
	/* §7 strings */
	{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0 }, { "\"\\u0000\"", 0 },
	{ "\"\\uD83D\\uDE00\"", 0 }, { "\"\\ud83d\\ude00\"", 0 },
	{ "\"\\a\"", ST_JSON_E_BAD_ESCAPE }, { "\"\\x41\"", ST_JSON_E_BAD_ESCAPE },
	{ "\"\\'\"", ST_JSON_E_BAD_ESCAPE }, { "\"\\u12\"", ST_JSON_E_BAD_ESCAPE },
	{ "\"\\u12G4\"", ST_JSON_E_BAD_ESCAPE }, { "\"\\U0041\"", ST_JSON_E_BAD_ESCAPE },
	{ "\"\\uD800\"", ST_JSON_E_BAD_SURROGATE }, { "\"\\uDC00\"", ST_JSON_E_BAD_SURROGATE },
	{ "\"\\uDE00\\uD83D\"", ST_JSON_E_BAD_SURROGATE },
	{ "\"\\uD83D\\u0041\"", ST_JSON_E_BAD_SURROGATE },
	{ "\"\\uD83Dx\\uDE00\"", ST_JSON_E_BAD_SURROGATE },
	{ "\"\\uD83D\\uZZZZ\"", ST_JSON_E_BAD_ESCAPE },
	{ "\"a\tb\"", ST_JSON_E_CONTROL_CHAR }, { "\"a\nb\"", ST_JSON_E_CONTROL_CHAR },
	{ "[\"\x1f\"]", ST_JSON_E_CONTROL_CHAR }, { "\"\x7f\"", 0 },
	/* RFC 3629 §4 UTF-8 inside strings */
	{ "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", 0 },
	{ "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"", 0 },        /* U+FFFF, U+10FFFF */
	{ "\"\xc3\"", ST_JSON_E_BAD_UTF8 }, { "\"\x80\"", ST_JSON_E_BAD_UTF8 },
	{ "\"\xc0\xaf\"", ST_JSON_E_BAD_UTF8 },            /* overlong '/' */
	{ "\"\xe0\x80\xaf\"", ST_JSON_E_BAD_UTF8 },        /* overlong */
	{ "\"\xed\xa0\x80\"", ST_JSON_E_BAD_UTF8 },        /* U+D800 */
	{ "\"\xf4\x90\x80\x80\"", ST_JSON_E_BAD_UTF8 },    /* > U+10FFFF */
	{ "\"\xf8\x88\x80\x80\x80\"", ST_JSON_E_BAD_UTF8 },
	{ "\"\xe2\x82\"", ST_JSON_E_BAD_UTF8 }, { "\"\xff\"", ST_JSON_E_BAD_UTF8 },
	{ "[\xc3\xa9]", ST_JSON_E_UNEXPECTED },            /* outside a string */
};

static void test_rfc8259_verdicts(void)
{
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);

	for (size_t i = 0; i < ST_ARRAY_SIZE(verdicts); i++) {
		for (unsigned l = 0; l < nl; l++) {
			int r = scan_str(lv[l], verdicts[i].doc);

			if (r != -verdicts[i].reason)
				fprintf(stderr, "doc %zu '%s' (%s): got %s want %s\n",
					i, verdicts[i].doc, st_simd_level_name(lv[l]),
					st_json_error_name(r),
					st_json_error_name(verdicts[i].reason));
			CU_ASSERT_EQUAL(r, -verdicts[i].reason);
		}
	}
	/* an embedded NUL is a control character, in a string or outside */
	CU_ASSERT_EQUAL(st_json_scan(NULL, (const uint8_t *)"\"a\0\"", 4, NULL,
				     NULL, 0, NULL, NULL), -ST_JSON_E_CONTROL_CHAR);
	CU_ASSERT_EQUAL(st_json_scan(NULL, (const uint8_t *)"[1]\0", 4, NULL,
				     NULL, 0, NULL, NULL), -ST_JSON_E_TRAILING_DATA);
	CU_ASSERT_STRING_EQUAL(st_json_error_name(-ST_JSON_E_BAD_UTF8), "bad_utf8");
	CU_ASSERT_STRING_EQUAL(st_json_error_name(0), "ok");
	CU_ASSERT_STRING_EQUAL(st_json_error_name(ST_JSON_E__COUNT), "unknown");
}

/* Nesting: ST_JSON_NESTING_MAX levels are valid, one more is not. */
static void test_nesting_limit(void)
{
	size_t n = ST_JSON_NESTING_MAX;
	char *doc = malloc(2 * n + 8);
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);

	CU_ASSERT_FATAL(doc != NULL);
	memset(doc, '[', n);
	memset(doc + n, ']', n);
	doc[2 * n] = '\0';
	for (unsigned l = 0; l < nl; l++)
		CU_ASSERT_EQUAL(scan_str(lv[l], doc), 0);
	memset(doc, '[', n + 1);
	memset(doc + n + 1, ']', n + 1);
	doc[2 * n + 2] = '\0';
	for (unsigned l = 0; l < nl; l++)
		CU_ASSERT_EQUAL(scan_str(lv[l], doc), -ST_JSON_E_TOO_DEEP);
	/* deep and one bracket short */
	memset(doc, '[', n);
	memset(doc + n, ']', n - 1);
	doc[2 * n - 1] = '\0';
	for (unsigned l = 0; l < nl; l++)
		CU_ASSERT_EQUAL(scan_str(lv[l], doc), -ST_JSON_E_UNTERMINATED);
	free(doc);
}

/* A 10 MB document: an array of 400000 small objects. */
static void test_big_document(void)
{
	const char *item = "{\"id\":12345,\"s\":\"abc\\n\"},";
	size_t item_len = strlen(item), n = 400000, len = 0;
	char *doc = malloc(n * item_len + 16);
	const char *ptrs[] = { "/399999/id", "/400000/id", "/0/s" };
	struct st_json_plan *plan = st_json_plan_create(ptrs, 3);
	struct st_json_value v[3];
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);

	CU_ASSERT_FATAL(doc != NULL && plan != NULL);
	doc[len++] = '[';
	for (size_t i = 0; i < n; i++, len += item_len)
		memcpy(doc + len, item, item_len);
	doc[len - 1] = ']';
	for (unsigned l = 0; l < nl; l++) {
		CU_ASSERT_EQUAL(st_json_scan_level(lv[l], plan, (uint8_t *)doc, len,
						   v, scratch, SCRATCH_BYTES,
						   NULL, NULL), 0);
		CU_ASSERT(v[0].found && v[0].number == 12345.0);
		CU_ASSERT(!v[1].found);
		CU_ASSERT(v[2].found && v[2].text_len == 4 &&
			  memcmp(v[2].text, "abc\n", 4) == 0);
	}
	st_json_plan_destroy(plan);
	free(doc);
}

static void expect_string(const struct st_json_value *v, const char *want)
{
	CU_ASSERT(v->found);
	CU_ASSERT_EQUAL(v->type, ST_JSON_STRING);
	CU_ASSERT_EQUAL(v->text_len, strlen(want));
	if (v->text_len == strlen(want)) {
		CU_ASSERT(memcmp(v->text, want, v->text_len) == 0);
	}
}

static void expect_number(const struct st_json_value *v, const char *text,
			  double want)
{
	CU_ASSERT(v->found);
	CU_ASSERT_EQUAL(v->type, ST_JSON_NUMBER);
	CU_ASSERT_EQUAL(v->text_len, strlen(text));
	if (v->text_len == strlen(text)) {
		CU_ASSERT(memcmp(v->text, text, v->text_len) == 0);
	}
	/* bit for bit: -0.0 and 0.0 differ */
	CU_ASSERT(memcmp(&v->number, &want, sizeof(want)) == 0);
}

static void test_extract_fields(void)
{
	static const char doc[] =
		"{ \"user\": {\"id\": \"u-17\", \"name\": \"Zo\\u00e9 \\\"Z\\\"\","
		" \"age\": 42},\n"
		"  \"amount\": -12.50e1, \"ts\": 1700000000123,\n"
		"  \"tags\": [\"a\", \"b\\/c\", {\"k\": true}], \"none\": null,"
		"  \"obj\": {\"x\": [1, 2]}, \"user\": {\"id\": \"dup\"} }";
	const char *ptrs[] = { "/user/id", "/user/name", "/amount", "/ts",
			       "/tags/1", "/tags/2/k", "/none", "/obj",
			       "/missing", "/tags/3", "/user/age", "/tags/01" };
	unsigned n = ST_ARRAY_SIZE(ptrs);
	struct st_json_plan *plan = st_json_plan_create(ptrs, n);
	struct st_json_value v[16];
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);

	CU_ASSERT_FATAL(plan != NULL);
	CU_ASSERT_EQUAL(st_json_plan_size(plan), n);
	for (unsigned l = 0; l < nl; l++) {
		int r = st_json_scan_level(lv[l], plan, (const uint8_t *)doc,
					   strlen(doc), v, scratch,
					   SCRATCH_BYTES, NULL, NULL);

		CU_ASSERT_EQUAL_FATAL(r, 0);
		expect_string(&v[0], "u-17");          /* the first "user" wins */
		CU_ASSERT(v[0].text > (const uint8_t *)doc &&
			  v[0].text < (const uint8_t *)doc + sizeof(doc)); /* zero copy */
		expect_string(&v[1], "Zo\xc3\xa9 \"Z\"");
		CU_ASSERT(v[1].text >= scratch && v[1].text < scratch + SCRATCH_BYTES);
		expect_number(&v[2], "-12.50e1", -125.0);
		expect_number(&v[3], "1700000000123", 1700000000123.0);
		expect_string(&v[4], "b/c");
		CU_ASSERT(v[5].found && v[5].type == ST_JSON_TRUE &&
			  v[5].text_len == 4 && memcmp(v[5].text, "true", 4) == 0);
		CU_ASSERT(v[6].found && v[6].type == ST_JSON_NULL);
		CU_ASSERT(v[7].found && v[7].type == ST_JSON_OBJECT &&
			  v[7].text_len == strlen("{\"x\": [1, 2]}") &&
			  memcmp(v[7].text, "{\"x\": [1, 2]}", v[7].text_len) == 0);
		CU_ASSERT(!v[8].found && v[8].type == 0);
		CU_ASSERT(!v[9].found);
		expect_number(&v[10], "42", 42.0);
		CU_ASSERT(!v[11].found);               /* "01" is no index */
	}
	/* scratch too small, or none, for the one escaped string */
	CU_ASSERT_EQUAL(st_json_scan(plan, (const uint8_t *)doc, strlen(doc), v,
				     scratch, 3, NULL, NULL),
			-ST_JSON_E_SCRATCH_FULL);
	CU_ASSERT_EQUAL(st_json_scan(plan, (const uint8_t *)doc, strlen(doc), v,
				     NULL, 0, NULL, NULL),
			-ST_JSON_E_SCRATCH_FULL);
	/* bad calls */
	CU_ASSERT_EQUAL(st_json_scan(plan, NULL, 1, v, NULL, 0, NULL, NULL),
			-ST_JSON_E_BAD_CALL);
	CU_ASSERT_EQUAL(st_json_scan(plan, (const uint8_t *)doc, strlen(doc),
				     NULL, NULL, 0, NULL, NULL),
			-ST_JSON_E_BAD_CALL);
	CU_ASSERT_EQUAL(st_json_scan(NULL, NULL, 0, NULL, NULL, 0, NULL, NULL),
			-ST_JSON_E_EMPTY);
	st_json_plan_destroy(plan);
}

static void test_numbers(void)
{
	static const struct {
		const char *text;
		double want;   /* the compiler's conversion of the literal */
	} cases[] = {
		{ "0", 0.0 }, { "-0", -0.0 }, { "-0.0", -0.0 }, { "1E+2", 1E+2 },
		{ "1e400", HUGE_VAL }, { "-1e400", -HUGE_VAL }, { "1e-400", 0.0 },
		{ "0.1", 0.1 }, { "3.141592653589793", 3.141592653589793 },
		{ "123456789012345678901234567890", 123456789012345678901234567890.0 },
		{ "9007199254740993", 9007199254740993.0 },
		{ "2.2250738585072014e-308", 2.2250738585072014e-308 },
		{ "4.9406564584124654e-324", 4.9406564584124654e-324 },
		{ "1.7976931348623157e308", 1.7976931348623157e308 },
		{ "0.000001234", 0.000001234 }, { "1e22", 1e22 }, { "1e23", 1e23 },
		{ "12345678901234567890e-5", 12345678901234567890e-5 },
		{ "0.30000000000000004", 0.30000000000000004 },
		{ "100e-2", 1.0 }, { "-2E-0", -2.0 },
		/* whole numbers: inline up to 15 digits, then the general
		 * path (json_internal.h st_json_number) */
		{ "7", 7.0 }, { "65535", 65535.0 },
		{ "999999999999999", 999999999999999.0 },
		{ "9999999999999999", 9999999999999999.0 },
		{ "18446744073709551616", 18446744073709551616.0 },
		{ "-999999999999999", -999999999999999.0 }, { "15.0", 15.0 },
	};
	const char *ptrs[] = { "" };
	struct st_json_plan *plan = st_json_plan_create(ptrs, 1);
	struct st_json_value v;

	CU_ASSERT_FATAL(plan != NULL);
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		CU_ASSERT_EQUAL(st_json_scan(plan, (const uint8_t *)cases[i].text,
					     strlen(cases[i].text), &v, NULL, 0,
					     NULL, NULL), 0);
		expect_number(&v, cases[i].text, cases[i].want);
	}
	st_json_plan_destroy(plan);
}

static void test_pointers(void)
{
	/* RFC 6901 §5's example document and pointers */
	static const char doc[] =
		"{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2,"
		" \"e^f\": 3, \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7,"
		" \"m~n\": 8, \"~01\": 9, \"\\u0078\\u002f\": 10}";
	const char *ptrs[] = { "/foo/0", "/", "/a~1b", "/c%d", "/e^f", "/g|h",
			       "/i\\j", "/k\"l", "/ ", "/m~0n", "/~001", "/x~1",
			       "", "/foo/-", "/foo/1" };
	static const char *bad[] = { "a", "/~", "/~2", "/a~", "//~x" };
	unsigned n = ST_ARRAY_SIZE(ptrs);
	struct st_json_plan *plan = st_json_plan_create(ptrs, n);
	struct st_json_value v[16];
	char many[40 * 2 + 1];
	const char *too_many[ST_JSON_POINTERS_MAX + 1];

	CU_ASSERT_FATAL(plan != NULL);
	CU_ASSERT_EQUAL_FATAL(st_json_scan(plan, (const uint8_t *)doc,
					   strlen(doc), v, scratch,
					   SCRATCH_BYTES, NULL, NULL), 0);
	expect_string(&v[0], "bar");
	for (unsigned i = 1; i <= 11; i++) {
		char want[4];

		snprintf(want, sizeof(want), "%u", i - 1);
		expect_number(&v[i], want, (double)(i - 1));
	}
	CU_ASSERT(v[12].found && v[12].type == ST_JSON_OBJECT &&
		  v[12].text_len == strlen(doc));
	CU_ASSERT(!v[13].found);
	expect_string(&v[14], "baz");
	st_json_plan_destroy(plan);

	for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
		errno = 0;
		CU_ASSERT(st_json_plan_create(&bad[i], 1) == NULL);
		CU_ASSERT_EQUAL(errno, EINVAL);
	}
	/* 32 tokens are allowed, 33 are not */
	for (int i = 0; i < 40; i++)
		memcpy(many + 2 * i, "/a", 2);
	many[64] = '\0';
	plan = st_json_plan_create((const char *[]){ many }, 1);
	CU_ASSERT(plan != NULL);
	st_json_plan_destroy(plan);
	many[64] = '/';
	many[66] = '\0';
	CU_ASSERT(st_json_plan_create((const char *[]){ many }, 1) == NULL);
	for (unsigned i = 0; i <= ST_JSON_POINTERS_MAX; i++)
		too_many[i] = "/a";
	CU_ASSERT(st_json_plan_create(too_many, ST_JSON_POINTERS_MAX + 1) == NULL);
	CU_ASSERT(st_json_plan_create(NULL, 1) == NULL);
	plan = st_json_plan_create(NULL, 0);
	CU_ASSERT(plan != NULL && st_json_plan_size(plan) == 0);
	st_json_plan_destroy(plan);
	st_json_plan_destroy(NULL);
}

/* A deep pointer (32 tokens) reaches a value at depth 32. */
static void test_deep_pointer(void)
{
	char doc[32 * 6 + 64], ptr[32 * 2 + 1];
	size_t len = 0;
	struct st_json_plan *plan;
	struct st_json_value v;

	for (int i = 0; i < 32; i++) {
		memcpy(doc + len, "{\"a\":", 5);
		len += 5;
		memcpy(ptr + 2 * i, "/a", 2);
	}
	ptr[64] = '\0';
	memcpy(doc + len, "[7]", 3);
	len += 3;
	memset(doc + len, '}', 32);
	len += 32;
	plan = st_json_plan_create((const char *[]){ ptr }, 1);
	CU_ASSERT_FATAL(plan != NULL);
	CU_ASSERT_EQUAL(st_json_scan(plan, (uint8_t *)doc, len, &v, NULL, 0,
				     NULL, NULL), 0);
	CU_ASSERT(v.found && v.type == ST_JSON_ARRAY && v.text_len == 3);
	st_json_plan_destroy(plan);
}

struct want_field {
	const char *path;
	uint8_t types;
	uint64_t count;
};

static void expect_schema(struct st_schema *s, const struct want_field *want,
			  size_t n)
{
	CU_ASSERT_EQUAL(st_schema_size(s), n);
	for (size_t i = 0; i < n; i++) {
		const struct st_schema_entry *e =
			st_schema_find(s, st_hash64(want[i].path, strlen(want[i].path)));

		CU_ASSERT_PTR_NOT_NULL(e);
		if (!e) {
			fprintf(stderr, "missing path %s\n", want[i].path);
			continue;
		}
		CU_ASSERT_STRING_EQUAL(e->path, want[i].path);
		CU_ASSERT_EQUAL(e->type_mask, want[i].types);
		CU_ASSERT_EQUAL(e->count, want[i].count);
	}
}

static void test_schema_walk(void)
{
	static const char *docs[] = {
		("{\"user\":{\"id\":\"u1\",\"geo\":{\"lat\":1.5}},\"tags\":[\"a\",2,null],"
		 "\"a/b\":true,\"t~\":false,\"\\u00e9\":{},\"m\":[[1],[]]}"),
		"{\"user\":{\"id\":7},\"tags\":[],\"caf\xc3\xa9\":[]}",
		"[{\"x\":1},{\"x\":\"y\"}]",
		"{\"bad\": [1,]}",                           /* invalid: no update */
		"\"just a string\"",
	};
	static const struct want_field want[] = {
		{ "/user", ST_JSON_OBJECT, 2 },
		{ "/user/id", ST_JSON_STRING | ST_JSON_NUMBER, 2 },
		{ "/user/geo", ST_JSON_OBJECT, 1 },
		{ "/user/geo/lat", ST_JSON_NUMBER, 1 },
		{ "/tags", ST_JSON_ARRAY, 2 },
		{ "/tags/*", ST_JSON_STRING | ST_JSON_NUMBER | ST_JSON_NULL, 3 },
		{ "/a~1b", ST_JSON_TRUE, 1 },
		{ "/t~0", ST_JSON_FALSE, 1 },
		{ "/\xc3\xa9", ST_JSON_OBJECT, 1 },
		{ "/m", ST_JSON_ARRAY, 1 },
		{ "/m/*", ST_JSON_ARRAY, 2 },
		{ "/m/*/*", ST_JSON_NUMBER, 1 },
		{ "/caf\xc3\xa9", ST_JSON_ARRAY, 1 },
		{ "/*", ST_JSON_OBJECT, 2 },
		{ "/*/x", ST_JSON_NUMBER | ST_JSON_STRING, 2 },
	};
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);

	for (unsigned l = 0; l < nl; l++) {
		struct st_schema *s = st_schema_create(64);
		struct st_json_scan_stats st = { 0 };

		CU_ASSERT_FATAL(s != NULL);
		for (size_t i = 0; i < ST_ARRAY_SIZE(docs); i++)
			CU_ASSERT_EQUAL(st_json_scan_level(lv[l], NULL,
				(const uint8_t *)docs[i], strlen(docs[i]), NULL,
				NULL, 0, s, &st), i == 3 ? -ST_JSON_E_TRAILING_COMMA : 0);
		expect_schema(s, want, ST_ARRAY_SIZE(want));
		CU_ASSERT_EQUAL(st.schema_updates, 15 + 4 + 4);
		CU_ASSERT_EQUAL(st.walk_depth_limited + st.walk_fields_limited +
				st.walk_path_limited, 0);
		st_schema_destroy(s);
	}
}

/*
 * Member names of every length 0..20, plain or holding '~' or '/' at each
 * position, at depth 1 and 2, in a document that ends right after the name
 * and in one with 40 more bytes after it (the scanner builds a short path
 * from the bytes around the name when the document has room): every schema
 * entry must be the RFC 6901 pointer built here, with st_hash64 of it.
 */
static void test_walk_paths_every_name_length(void)
{
	enum st_simd_level lv[3];
	unsigned nl = levels(lv), checked = 0, bad = 0;

	for (unsigned l = 0; l < nl; l++) {
		for (unsigned len = 0; len <= 20; len++) {
			for (unsigned special = 0; special <= 2 * len; special++) {
				char name[32], esc[64], doc[160], want[80], parent_want[8];
				size_t e = 0;

				for (unsigned i = 0; i < len; i++)
					name[i] = (char)('a' + i);
				if (special >= 1 && special <= len)
					name[special - 1] = '~';
				else if (special > len)
					name[special - len - 1] = '/';
				name[len] = '\0';
				for (unsigned i = 0; i < len; i++) {
					if (name[i] == '~' || name[i] == '/') {
						esc[e++] = '~';
						esc[e++] = name[i] == '~' ? '0' : '1';
					} else {
						esc[e++] = name[i];
					}
				}
				esc[e] = '\0';
				for (unsigned form = 0; form < 4; form++) {
					bool nested = form & 1, padded = form & 2;
					struct st_schema *sc = st_schema_create(16);
					const struct st_schema_entry *got;
					int n;

					CU_ASSERT_FATAL(sc != NULL);
					n = snprintf(doc, sizeof(doc), "%s{\"%s\":%s}%s",
						     nested ? "{\"p\":" : "", name,
						     padded ? "\"0123456789012345678901234567890123456789\"" : "1",
						     nested ? "}" : "");
					snprintf(want, sizeof(want), "%s/%s",
						 nested ? "/p" : "", esc);
					snprintf(parent_want, sizeof(parent_want), "/p");
					if (st_json_scan_level(lv[l], NULL, (const uint8_t *)doc,
							       (size_t)n, NULL, NULL, 0, sc,
							       NULL) != 0)
						bad++;
					got = st_schema_find(sc, st_hash64(want, strlen(want)));
					if (!got || strcmp(got->path, want) != 0 ||
					    st_schema_size(sc) != 1u + nested)
						bad++;
					if (nested && !st_schema_find(sc, st_hash64(parent_want, 2)))
						bad++;
					checked++;
					st_schema_destroy(sc);
				}
			}
		}
	}
	printf("\n  walk paths: %u documents, %u wrong\n", checked, bad);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(checked, nl * 4u * 441u);
}

static void test_walk_limits(void)
{
	char *doc = malloc(1 << 16);
	size_t len = 0;
	struct st_schema *s = st_schema_create(4096);
	struct st_json_scan_stats st = { 0 };
	char want_path[2 * 32 + 1];

	CU_ASSERT_FATAL(doc != NULL && s != NULL);
	/* depth: 40 nested objects {"a":...}: paths /a ... (/a)^32 walked */
	for (int i = 0; i < 40; i++) {
		memcpy(doc + len, "{\"a\":", 5);
		len += 5;
	}
	doc[len++] = '1';
	memset(doc + len, '}', 40);
	len += 40;
	CU_ASSERT_EQUAL(st_json_scan(NULL, (uint8_t *)doc, len, NULL, NULL, 0, s,
				     &st), 0);
	CU_ASSERT_EQUAL(st.walk_depth_limited, 1);
	CU_ASSERT_EQUAL(st.schema_updates, 32);
	CU_ASSERT_EQUAL(st_schema_size(s), 32);
	for (int i = 0; i < 32; i++)
		memcpy(want_path + 2 * i, "/a", 2);
	CU_ASSERT(st_schema_find(s, st_hash64(want_path, 64)) != NULL);
	CU_ASSERT(st_schema_find(s, st_hash64(want_path, 62))->type_mask ==
		  ST_JSON_OBJECT);

	/* fields: an object of 300 members: 256 walked */
	st_schema_reset(s);
	memset(&st, 0, sizeof(st));
	len = 0;
	doc[len++] = '{';
	for (int i = 0; i < 300; i++)
		len += (size_t)sprintf(doc + len, "%s\"k%d\":%d", i ? "," : "", i, i);
	doc[len++] = '}';
	CU_ASSERT_EQUAL(st_json_scan(NULL, (uint8_t *)doc, len, NULL, NULL, 0, s,
				     &st), 0);
	CU_ASSERT_EQUAL(st.walk_fields_limited, 1);
	CU_ASSERT_EQUAL(st.schema_updates, ST_JSON_WALK_FIELDS_MAX);
	CU_ASSERT(st_schema_find(s, st_hash64("/k255", 5)) != NULL);
	CU_ASSERT(st_schema_find(s, st_hash64("/k256", 5)) == NULL);

	/* path: a 600-byte key is not walked, its sibling is */
	st_schema_reset(s);
	memset(&st, 0, sizeof(st));
	len = 0;
	doc[len++] = '{';
	doc[len++] = '"';
	memset(doc + len, 'k', 600);
	len += 600;
	len += (size_t)sprintf(doc + len, "\":{\"x\":1},\"b\":2}");
	CU_ASSERT_EQUAL(st_json_scan(NULL, (uint8_t *)doc, len, NULL, NULL, 0, s,
				     &st), 0);
	CU_ASSERT_EQUAL(st.walk_path_limited, 1);
	CU_ASSERT_EQUAL(st.schema_updates, 1);
	CU_ASSERT(st_schema_find(s, st_hash64("/b", 2)) != NULL);

	/* a path just over the schema's 64 text bytes hashes the full path */
	st_schema_reset(s);
	len = (size_t)sprintf(doc, "{\"%070d\":1}", 0);
	CU_ASSERT_EQUAL(st_json_scan(NULL, (uint8_t *)doc, len, NULL, NULL, 0, s,
				     NULL), 0);
	doc[0] = '/';
	memset(doc + 1, '0', 70);
	CU_ASSERT(st_schema_find(s, st_hash64(doc, 71)) != NULL);
	st_schema_destroy(s);
	free(doc);
}

/* ---- generated corpus ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap)
		return;  /* the generator stays far below cap */
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void ws(struct buf *b)
{
	static const char *const w[] = { " ", "\n", "\t", "\r\n  ", "    " };

	if (rn(6) == 0)
		puts_(b, w[rn(5)]);
}

/* Distinct after decoding; escaped forms included on purpose. */
static const char *const keys[] = {
	"id", "user", "amount", "ts", "tags", "a/b", "t~x", "\\u00e9t\\u00e9",
	"na\xc3\xafve", "\\\"q\\\"", "sp ace", "", "nested", "v", "list",
	"\\ud83d\\ude00", "k\\\\", "x", "\\u0079",
};

static void gen_string(struct buf *b)
{
	static const char *const pieces[] = {
		"a", "hello", " ", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9",
		"\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"0123456789abcdef", "\\t", "\\u0000", "~", "/", "\\b\\f\\r",
	};
	unsigned n = rn(4) == 0 ? rn(40) : rn(6);

	put(b, "\"", 1);
	for (unsigned i = 0; i < n; i++)
		puts_(b, pieces[rn(ST_ARRAY_SIZE(pieces))]);
	put(b, "\"", 1);
}

static void gen_number(struct buf *b)
{
	static const char *const fixed[] = {
		"0", "-0", "1e400", "-1.5E-7", "0.1", "1E+2", "123456789012345678901234",
		"2.2250738585072014e-308", "9007199254740993", "-0.0e0", "1e-400",
	};
	char tmp[64];

	if (rn(5) == 0) {
		puts_(b, fixed[rn(ST_ARRAY_SIZE(fixed))]);
		return;
	}
	switch (rn(3)) {
	case 0:
		snprintf(tmp, sizeof(tmp), "%lld", (long long)(rnd() >> (1 + rn(63))) *
			 (rn(2) ? 1 : -1));
		break;
	case 1:
		snprintf(tmp, sizeof(tmp), "%u.%u", rn(100000), rn(1000));
		break;
	default:
		snprintf(tmp, sizeof(tmp), "%s%u.%ue%s%u", rn(2) ? "-" : "",
			 rn(10), rn(100000), rn(2) ? "-" : "+", rn(30));
		break;
	}
	puts_(b, tmp);
}

static void gen_value(struct buf *b, int depth)
{
	unsigned kind = depth >= 5 ? 2 + rn(4) : rn(6);

	switch (kind) {
	case 0: {                               /* object, distinct keys */
		bool used[ST_ARRAY_SIZE(keys)] = { false };
		unsigned n = rn(7);
		bool first = true;

		put(b, "{", 1);
		ws(b);
		for (unsigned i = 0; i < n; i++) {
			unsigned k = rn(ST_ARRAY_SIZE(keys));

			if (used[k])
				continue;
			used[k] = true;
			if (!first)
				put(b, ",", 1);
			first = false;
			ws(b);
			put(b, "\"", 1);
			puts_(b, keys[k]);
			put(b, "\"", 1);
			ws(b);
			put(b, ":", 1);
			ws(b);
			gen_value(b, depth + 1);
			ws(b);
		}
		put(b, "}", 1);
		break;
	}
	case 1: {
		unsigned n = rn(6);

		put(b, "[", 1);
		for (unsigned i = 0; i < n; i++) {
			if (i)
				put(b, ",", 1);
			ws(b);
			gen_value(b, depth + 1);
			ws(b);
		}
		put(b, "]", 1);
		break;
	}
	case 2:
		gen_string(b);
		break;
	case 3:
		gen_number(b);
		break;
	default: {
		static const char *const lit[] = { "true", "false", "null" };

		puts_(b, lit[rn(3)]);
		break;
	}
	}
}

/* A document: mostly objects; a third of them mutated (maybe invalid). */
static size_t gen_doc(char *out, size_t cap, bool mutate)
{
	struct buf b = { out, 0, cap };

	ws(&b);
	if (rn(8) == 0) {
		gen_value(&b, 0);
	} else {
		/* an object at the top, with keys the pointers name */
		static const char *const top[] = { "id", "user", "amount",
						   "tags", "a/b", "nested" };
		unsigned n = 1 + rn(ST_ARRAY_SIZE(top));

		put(&b, "{", 1);
		for (unsigned i = 0; i < n; i++) {
			if (i)
				put(&b, ",", 1);
			put(&b, "\"", 1);
			puts_(&b, top[i]);
			put(&b, "\":", 2);
			ws(&b);
			gen_value(&b, (int)rn(3));
		}
		put(&b, "}", 1);
	}
	ws(&b);
	if (mutate && b.len) {
		static const char junk[] = "{}[],:\"\\ 0-eE.tfn\x01\x80\xc3";
		size_t at = rn((unsigned)b.len);

		switch (rn(4)) {
		case 0:
			b.len = at;                    /* truncate */
			break;
		case 1:
			b.p[at] = junk[rn(sizeof(junk) - 1)];
			break;
		case 2:
			memmove(b.p + at, b.p + at + 1, b.len - at - 1);
			b.len--;
			break;
		default:
			memmove(b.p + at + 1, b.p + at, b.len - at);
			b.p[at] = junk[rn(sizeof(junk) - 1)];
			b.len++;
			break;
		}
	}
	return b.len;
}

static const char *const corpus_ptrs[] = {
	"/id", "/user/id", "/user", "/amount", "/tags/0", "/tags/1", "/a~1b",
	"/nested/v", "/user/t~0x", "/user/\xc3\xa9t\xc3\xa9", "", "/tags/2/x",
	"/nested/\"q\"", "/user/na\xc3\xafve", "/amount/0", "/user/\xf0\x9f\x98\x80",
};

struct result {
	int rc;
	struct st_json_value v[ST_JSON_POINTERS_MAX];
	uint8_t text[ST_JSON_POINTERS_MAX][256];
	struct st_schema_entry entries[256];
	size_t n_entries;
	struct st_json_scan_stats stats;
};

static void run(enum st_simd_level level, const struct st_json_plan *plan,
		const uint8_t *doc, size_t len, struct st_schema *s,
		struct result *r)
{
	memset(r, 0, sizeof(*r));
	st_schema_reset(s);
	r->rc = st_json_scan_level(level, plan, doc, len, r->v, scratch,
				   SCRATCH_BYTES, s, &r->stats);
	for (unsigned i = 0; i < st_json_plan_size(plan); i++) {
		if (r->v[i].text)
			memcpy(r->text[i], r->v[i].text,
			       r->v[i].text_len < 256 ? r->v[i].text_len : 256);
		/* texts must lie in the document or the scratch */
		if (r->v[i].found) {
			const uint8_t *t = r->v[i].text;
			bool in_doc = t >= doc && t + r->v[i].text_len <= doc + len;
			bool in_scratch = t >= scratch &&
					  t + r->v[i].text_len <= scratch + SCRATCH_BYTES;

			CU_ASSERT(in_doc || in_scratch);
		}
	}
	r->n_entries = st_schema_entries(s, r->entries, 256);
}

static bool same_result(const struct result *a, const struct result *b,
			unsigned n)
{
	if (a->rc != b->rc)
		return false;
	if (a->rc != 0)
		return true;
	for (unsigned i = 0; i < n; i++) {
		const struct st_json_value *x = &a->v[i], *y = &b->v[i];
		size_t t = x->text_len < 256 ? x->text_len : 256;

		if (x->found != y->found || x->type != y->type ||
		    x->text_len != y->text_len ||
		    memcmp(&x->number, &y->number, sizeof(double)) != 0 ||
		    memcmp(a->text[i], b->text[i], t) != 0)
			return false;
	}
	if (a->n_entries != b->n_entries ||
	    memcmp(&a->stats, &b->stats, sizeof(a->stats)) != 0)
		return false;
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct st_schema_entry *x = &a->entries[i], *y = &b->entries[i];

		if (x->path_hash != y->path_hash || x->count != y->count ||
		    x->type_mask != y->type_mask || x->path_len != y->path_len ||
		    memcmp(x->path, y->path, x->path_len) != 0)
			return false;
	}
	return true;
}

static void test_builds_identical_on_corpus(void)
{
	enum st_simd_level lv[3];
	unsigned nl = levels(lv), n = ST_ARRAY_SIZE(corpus_ptrs);
	struct st_json_plan *plan = st_json_plan_create(corpus_ptrs, n);
	struct st_schema *s = st_schema_create(4096);
	static struct result ref, got;
	static char doc[1 << 16];
	unsigned valid = 0, docs = 20000;

	CU_ASSERT_FATAL(plan != NULL && s != NULL);
	CU_ASSERT(nl >= 2);   /* this suite is meant to compare SIMD builds */
	rng_state = 1;
	for (unsigned d = 0; d < docs; d++) {
		size_t len = gen_doc(doc, sizeof(doc), d % 3 == 2);

		run(ST_SIMD_SCALAR, plan, (uint8_t *)doc, len, s, &ref);
		valid += ref.rc == 0;
		for (unsigned l = 1; l < nl; l++) {
			run(lv[l], plan, (uint8_t *)doc, len, s, &got);
			if (!same_result(&ref, &got, n)) {
				fprintf(stderr, "doc %u differs (%s): %.*s\n", d,
					st_simd_level_name(lv[l]), (int)len, doc);
				CU_FAIL("builds differ");
				goto out;
			}
		}
	}
	/* the corpus has both kinds in numbers */
	CU_ASSERT(valid > docs / 2 && valid < docs);
out:
	st_schema_destroy(s);
	st_json_plan_destroy(plan);
}

/*
 * Strings with a special byte at every offset around the block edges, in
 * documents of every length from 1 to 200 bytes: the value is known by
 * construction; all builds must find it.
 */
static void test_block_boundaries(void)
{
	static const struct {
		const char *raw, *decoded;
		int reason;
	} specials[] = {
		{ "\\\"", "\"", 0 }, { "\\\\", "\\", 0 }, { "\xc3\xa9", "\xc3\xa9", 0 },
		{ "\\u20ac", "\xe2\x82\xac", 0 }, { "\x01", NULL, ST_JSON_E_CONTROL_CHAR },
		{ "\xc3", NULL, ST_JSON_E_BAD_UTF8 }, { "", "", 0 },
	};
	const char *ptrs[] = { "/k" };
	struct st_json_plan *plan = st_json_plan_create(ptrs, 1);
	enum st_simd_level lv[3];
	unsigned nl = levels(lv);
	char doc[512], want[512];

	CU_ASSERT_FATAL(plan != NULL);
	for (size_t sp = 0; sp < ST_ARRAY_SIZE(specials); sp++) {
		for (unsigned before = 0; before < 140; before++) {
			for (unsigned after = 0; after < 70; after += 1 + (after > 10) * 7) {
				size_t len = 0, wl = 0;
				struct st_json_value v;

				for (unsigned w = 0; w < before % 5; w++)
					doc[len++] = ' ';
				len += (size_t)sprintf(doc + len, "{\"k\":\"");
				memset(doc + len, 'a', before);
				memset(want, 'a', before);
				len += before;
				wl = before;
				len += (size_t)sprintf(doc + len, "%s", specials[sp].raw);
				if (specials[sp].decoded)
					wl += (size_t)sprintf(want + wl, "%s",
							      specials[sp].decoded);
				memset(doc + len, 'b', after);
				memset(want + wl, 'b', after);
				len += after;
				wl += after;
				doc[len++] = '"';
				for (unsigned w = 0; w < after % 37; w++)
					doc[len++] = ' ';
				doc[len++] = '}';
				for (unsigned l = 0; l < nl; l++) {
					int r = st_json_scan_level(lv[l], plan,
						(uint8_t *)doc, len, &v, scratch,
						SCRATCH_BYTES, NULL, NULL);

					CU_ASSERT_EQUAL(r, -specials[sp].reason);
					if (r == 0 && specials[sp].reason == 0) {
						CU_ASSERT(v.found && v.text_len == wl &&
							  memcmp(v.text, want, wl) == 0);
					}
					/* unterminated at every cut */
					r = st_json_scan_level(lv[l], plan,
						(uint8_t *)doc, len - 2 - after % 37,
						&v, scratch, SCRATCH_BYTES, NULL, NULL);
					CU_ASSERT(r < 0);
				}
			}
		}
	}
	st_json_plan_destroy(plan);
}

/* ---- python3 json as the outside oracle ---- */

static const char oracle_py[] =
"import json, struct, sys\n"
"ptrs = [bytes.fromhex(p[2:]).decode('utf-8') for p in sys.argv[2:]]\n"
"def surrogate(s):\n"
"    return any(0xd800 <= ord(c) <= 0xdfff for c in s)\n"
"def clean(o):\n"
"    if isinstance(o, str): return not surrogate(o)\n"
"    if isinstance(o, list): return all(clean(x) for x in o)\n"
"    if isinstance(o, dict): return all(not surrogate(k) and clean(v) for k, v in o.items())\n"
"    return True\n"
"def typ(o):\n"
"    if o is None: return 1\n"
"    if o is False: return 2\n"
"    if o is True: return 4\n"
"    if isinstance(o, float): return 8\n"
"    if isinstance(o, str): return 16\n"
"    if isinstance(o, dict): return 32\n"
"    return 64\n"
"def esc(k): return k.replace('~', '~0').replace('/', '~1')\n"
"def walk(o, path, out):\n"
"    if isinstance(o, dict): items = [(path + '/' + esc(k), v) for k, v in o.items()]\n"
"    elif isinstance(o, list): items = [(path + '/*', v) for v in o]\n"
"    else: return\n"
"    for p, v in items:\n"
"        t, c = out.get(p, (0, 0))\n"
"        out[p] = (t | typ(v), c + 1)\n"
"        walk(v, p, out)\n"
"def resolve(o, ptr):\n"
"    if ptr == '': return True, o\n"
"    for tok in ptr[1:].split('/'):\n"
"        tok = tok.replace('~1', '/').replace('~0', '~')\n"
"        if isinstance(o, dict) and tok in o: o = o[tok]\n"
"        elif isinstance(o, list) and tok.isdigit() and (tok == '0' or tok[0] != '0') and int(tok) < len(o): o = o[int(tok)]\n"
"        else: return False, None\n"
"    return True, o\n"
"def bad_const(c): raise ValueError(c)\n"
"for line in open(sys.argv[1]):\n"
"    doc = bytes.fromhex(line.strip())\n"
"    try:\n"
"        o = json.loads(doc.decode('utf-8'), parse_int=float, parse_constant=bad_const)\n"
"        if not clean(o): raise ValueError('lone surrogate')\n"
"    except (ValueError, RecursionError):\n"
"        print('invalid'); continue\n"
"    fields = []\n"
"    for p in ptrs:\n"
"        found, v = resolve(o, p)\n"
"        if not found: fields.append('-')\n"
"        elif isinstance(v, str): fields.append('16:' + v.encode('utf-8').hex())\n"
"        elif isinstance(v, float): fields.append('8:' + struct.pack('<d', v).hex())\n"
"        else: fields.append('%d' % typ(v))\n"
"    out = {}\n"
"    walk(o, '', out)\n"
"    schema = sorted('%s=%d=%d' % (p.encode('utf-8')[:64].hex(), t, c) for p, (t, c) in out.items())\n"
"    print('valid ' + ' '.join(fields) + ' |' + ''.join(' ' + x for x in schema))\n";

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Our line for one document, in the oracle's format. */
static void our_line(const struct result *r, unsigned n, char *out)
{
	char *o = out;
	char *schema[256];
	static char schema_text[256][160];

	if (r->rc != 0) {
		strcpy(out, "invalid");
		return;
	}
	o += sprintf(o, "valid");
	for (unsigned i = 0; i < n; i++) {
		const struct st_json_value *v = &r->v[i];

		*o++ = ' ';
		if (!v->found) {
			*o++ = '-';
		} else if (v->type == ST_JSON_STRING) {
			o += sprintf(o, "16:");
			hex(r->text[i], v->text_len, o);
			o += strlen(o);
		} else if (v->type == ST_JSON_NUMBER) {
			o += sprintf(o, "8:");
			hex((const uint8_t *)&v->number, 8, o);  /* little-endian */
			o += strlen(o);
		} else {
			o += sprintf(o, "%d", v->type);
		}
	}
	o += sprintf(o, " |");
	for (size_t i = 0; i < r->n_entries; i++) {
		char h[2 * ST_SCHEMA_PATH_MAX + 1];

		hex((const uint8_t *)r->entries[i].path, r->entries[i].path_len, h);
		snprintf(schema_text[i], sizeof(schema_text[i]), "%s=%u=%llu", h,
			 r->entries[i].type_mask,
			 (unsigned long long)r->entries[i].count);
		schema[i] = schema_text[i];
	}
	/* the same order as the oracle's: by the formatted text */
	qsort(schema, r->n_entries, sizeof(schema[0]), cmp_str);
	for (size_t i = 0; i < r->n_entries; i++)
		o += sprintf(o, " %s", schema[i]);
	*o = '\0';
}

static void test_python_oracle(void)
{
	unsigned n = ST_ARRAY_SIZE(corpus_ptrs), docs = 3000;
	struct st_json_plan *plan = st_json_plan_create(corpus_ptrs, n);
	struct st_schema *s = st_schema_create(4096);
	char corpus[] = "/tmp/st-json-oracle-XXXXXX";
	char script[] = "/tmp/st-json-oracle-py-XXXXXX";
	static char doc[1 << 16], hexdoc[(1 << 17) + 2], ours[1 << 17],
		theirs[1 << 17], cmd[8192];
	static struct result r;
	int fd_c = mkstemp(corpus), fd_s = mkstemp(script);
	FILE *f, *py;
	unsigned matched = 0, valid = 0, limited = 0, found = 0, escaped = 0;
	size_t fields = 0;
	size_t o;

	CU_ASSERT_FATAL(plan != NULL && s != NULL && fd_c >= 0 && fd_s >= 0);
	CU_ASSERT_FATAL(write(fd_s, oracle_py, strlen(oracle_py)) ==
			(ssize_t)strlen(oracle_py));
	close(fd_s);
	f = fdopen(fd_c, "w");
	CU_ASSERT_FATAL(f != NULL);
	rng_state = 77;
	for (unsigned d = 0; d < docs; d++) {
		size_t len = gen_doc(doc, sizeof(doc), d % 4 == 3);

		hex((uint8_t *)doc, len, hexdoc);
		fprintf(f, "%s\n", hexdoc);
	}
	fclose(f);
	o = (size_t)snprintf(cmd, sizeof(cmd), "python3 %s %s", script, corpus);
	for (unsigned i = 0; i < n; i++) {
		cmd[o++] = ' ';
		cmd[o++] = '0';       /* "" must stay an argument: "0" + hex */
		cmd[o++] = '0';
		hex((const uint8_t *)corpus_ptrs[i], strlen(corpus_ptrs[i]), cmd + o);
		o += strlen(cmd + o);
	}
	py = popen(cmd, "r");
	CU_ASSERT_FATAL(py != NULL);
	rng_state = 77;
	for (unsigned d = 0; d < docs; d++) {
		size_t len = gen_doc(doc, sizeof(doc), d % 4 == 3);

		if (!fgets(theirs, sizeof(theirs), py)) {
			CU_FAIL("python3 oracle output ended early");
			break;
		}
		theirs[strcspn(theirs, "\n")] = '\0';
		run(st_cpu_simd_level(), plan, (uint8_t *)doc, len, s, &r);
		if (r.stats.walk_depth_limited + r.stats.walk_fields_limited +
		    r.stats.walk_path_limited) {
			limited++;       /* the oracle walks without limits */
			matched++;
			continue;
		}
		our_line(&r, n, ours);
		valid += r.rc == 0;
		for (unsigned i = 0; r.rc == 0 && i < n; i++) {
			found += r.v[i].found;
			escaped += r.v[i].found && r.v[i].text >= scratch &&
				   r.v[i].text < scratch + SCRATCH_BYTES;
		}
		fields += r.n_entries;
		if (strcmp(ours, theirs) == 0) {
			matched++;
		} else if (matched + 5 > d) {
			fprintf(stderr, "doc %u: %.*s\n ours:   %s\n python: %s\n",
				d, (int)len, doc, ours, theirs);
		}
	}
	CU_ASSERT_EQUAL(pclose(py), 0);
	CU_ASSERT_EQUAL(matched, docs);
	CU_ASSERT(valid > docs / 2 && valid < docs);
	CU_ASSERT(limited < docs / 50);
	/* the comparison had substance: values, decoded strings, fields */
	fprintf(stderr, "oracle: %u docs, %u valid, %u values found (%u decoded), "
		"%zu schema entries, %u walk-limited\n", docs, valid, found,
		escaped, fields, limited);
	CU_ASSERT(found > docs && escaped > docs / 20 && fields > 5 * (size_t)docs);
	unlink(corpus);
	unlink(script);
	st_schema_destroy(s);
	st_json_plan_destroy(plan);
}

ST_TEST_MAIN("dataplane/json/json",
	ST_TEST(test_rfc8259_verdicts),
	ST_TEST(test_nesting_limit),
	ST_TEST(test_big_document),
	ST_TEST(test_extract_fields),
	ST_TEST(test_numbers),
	ST_TEST(test_pointers),
	ST_TEST(test_deep_pointer),
	ST_TEST(test_schema_walk),
	ST_TEST(test_walk_limits),
	ST_TEST(test_walk_paths_every_name_length),
	ST_TEST(test_builds_identical_on_corpus),
	ST_TEST(test_block_boundaries),
	ST_TEST(test_python_oracle))
