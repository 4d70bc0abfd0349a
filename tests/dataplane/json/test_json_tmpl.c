/*
 * Tests of the shape templates, st_json_tmpl_*() (json_tmpl.h).
 * Oracles, all outside the code under test:
 *   - values written out by hand for hand-written templates and documents
 *     (numbers compared with the C compiler's conversion of the same
 *     literal), and the hits and misses the file head promises.  Hits: a
 *     scalar slot takes any scalar, of its own kind or another (a string
 *     where the template had a number, false where it had true...; the
 *     value has the new type), strings with escapes and UTF-8 too, except
 *     that a captured string must hold no escape; an array slot (a
 *     non-empty array of scalars no pointer reaches into) takes an array
 *     of scalars of any length, 0 too, of any kinds, with any whitespace
 *     around its elements and commas; arrays of arrays of scalars vary in
 *     their inner lengths only.  Misses: other whitespace outside array
 *     slots, a container where a scalar or an array slot was, a scalar
 *     where an array slot was, an escape in a captured string, a control
 *     byte, invalid UTF-8, a bad escape or a lone surrogate in any string,
 *     an invalid number or literal, a bad array ("[1,]", "[1 2]", "[,1]",
 *     one not closed), another length of an array a pointer reaches into
 *     or of one the template had empty, an invalid or cut document, and a
 *     document past ST_JSON_WALK_FIELDS_MAX schema updates (counted by
 *     hand from the document: 256 hit, 257 miss);
 *   - schema counts and type masks after a flush, counted by hand: the
 *     elements of the array slots ("/tags/" "*" gets each document's
 *     length) and the types the slots saw, OR-ed in;
 *   - the learn refusals of the file head, on both sides of each bound
 *     (document bytes, slots with and without array slots, distinct paths,
 *     path bytes, nesting, the walk's field limit) and for member names
 *     with escapes, captured containers and captured escaped strings; a
 *     learnt document matches itself;
 *   - st_json_scan() (the full scan, tested in test_json.c) on every
 *     match: the document must be one it accepts, with the same values,
 *     and the match must add the stats the scan adds; a miss writes
 *     nothing;
 *   - st_json_scan() into a schema set for every document (the eager set)
 *     against a set fed by scans on misses and flushes of matches: the two
 *     sets (size, overflow, fingerprint, entries) and the stats must be
 *     equal, on hand-made streams (kind changes, array slots of other
 *     lengths, nested arrays, nested objects, arrays of objects, the walk
 *     limits, sets too small for the paths, a retire) and on a generated
 *     corpus whose groups share one shape (one structure seed) with other
 *     values (value seeds: the scalars, now and then of another kind, with
 *     an escape or UTF-8, and the length, element kinds and inner
 *     whitespace of the arrays of scalars), a third of them mutated, into
 *     sets of 64, 3 and 2 entries.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/json/json.h"
#include "dataplane/json/json_tmpl.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/schema.h"
#include "st_test.h"
#include "tests/fuzz/json/fuzz_json_values.h"

#define SCRATCH_BYTES (1u << 16)
static uint8_t scratch[SCRATCH_BYTES];        /* the scans under comparison */
static uint8_t oracle_scratch[SCRATCH_BYTES]; /* checked_match()'s own scan */

#define SET_MAX 64 /* the largest schema set compared here */

/* A string literal as (pointer, length): embedded bytes kept, no NUL. */
#define LIT(s) (s), (sizeof(s) - 1)

/* ---- comparisons ---------------------------------------------------------- */

static bool same_stats(const struct st_json_scan_stats *a,
		       const struct st_json_scan_stats *b)
{
	return a->walk_depth_limited == b->walk_depth_limited &&
	       a->walk_fields_limited == b->walk_fields_limited &&
	       a->walk_path_limited == b->walk_path_limited &&
	       a->schema_updates == b->schema_updates;
}

static void dump_set(const char *name, const struct st_schema *s)
{
	struct st_schema_entry e[SET_MAX];
	size_t n = st_schema_entries(s, e, SET_MAX);

	fprintf(stderr, "  %s: %u entries, overflow %llu, fingerprint %016llx\n",
		name, st_schema_size(s),
		(unsigned long long)st_schema_overflow(s),
		(unsigned long long)st_schema_fingerprint(s));
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "    %016llx %-24.*s types %02x count %llu\n",
			(unsigned long long)e[i].path_hash, (int)e[i].path_len,
			e[i].path, e[i].type_mask,
			(unsigned long long)e[i].count);
}

/* Size, overflow, fingerprint and every entry (hash, count, types, path). */
static bool same_sets(const struct st_schema *a, const struct st_schema *b)
{
	struct st_schema_entry ea[SET_MAX], eb[SET_MAX];
	size_t na, nb;

	if (st_schema_size(a) != st_schema_size(b) ||
	    st_schema_overflow(a) != st_schema_overflow(b) ||
	    st_schema_fingerprint(a) != st_schema_fingerprint(b))
		return false;
	na = st_schema_entries(a, ea, SET_MAX);
	nb = st_schema_entries(b, eb, SET_MAX);
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		if (ea[i].path_hash != eb[i].path_hash ||
		    ea[i].count != eb[i].count ||
		    ea[i].type_mask != eb[i].type_mask ||
		    ea[i].path_len != eb[i].path_len ||
		    memcmp(ea[i].path, eb[i].path, ea[i].path_len) != 0)
			return false;
	}
	return true;
}

/* A number value with this text, and the compiler's double for it. */
static bool is_number(const struct st_json_value *v, const char *text,
		      double d)
{
	size_t n = strlen(text);

	return v->found && v->type == ST_JSON_NUMBER && v->text_len == n &&
	       memcmp(v->text, text, n) == 0 &&
	       memcmp(&v->number, &d, sizeof(d)) == 0;
}

/* A string (decoded text) or literal (raw text) value. */
static bool is_text(const struct st_json_value *v, uint8_t type,
		    const char *text, size_t n)
{
	static const double zero = 0.0;

	return v->found && v->type == type && v->text_len == n &&
	       (n == 0 || memcmp(v->text, text, n) == 0) &&
	       memcmp(&v->number, &zero, sizeof(zero)) == 0;
}

/* Not found, written all-zero as st_json_scan() writes it. */
static bool is_absent(const struct st_json_value *v)
{
	static const double zero = 0.0;

	return !v->found && v->type == 0 && v->text == NULL &&
	       v->text_len == 0 && memcmp(&v->number, &zero, sizeof(zero)) == 0;
}

/* A value expected by hand: its type, text and (numbers) double. */
struct expect {
	uint8_t type;
	const char *text;
	double number;
};

static bool is_expected(const struct st_json_value *v, const struct expect *x)
{
	if (x->type == ST_JSON_NUMBER)
		return is_number(v, x->text, x->number);
	return is_text(v, x->type, x->text, strlen(x->text));
}

#define SCALAR_TYPES (ST_JSON_NULL | ST_JSON_FALSE | ST_JSON_TRUE | \
			 ST_JSON_NUMBER | ST_JSON_STRING)

static uint64_t count_of(const struct st_schema *set, const char *path)
{
	const struct st_schema_entry *e =
		st_schema_find(set, st_hash64(path, strlen(path)));

	return e ? e->count : 0;
}

static uint8_t types_of(const struct st_schema *set, const char *path)
{
	const struct st_schema_entry *e =
		st_schema_find(set, st_hash64(path, strlen(path)));

	return e ? e->type_mask : 0;
}

/* Appends `times` copies of `s` at *len. */
static void append(char *out, size_t cap, size_t *len, const char *s,
		   unsigned times)
{
	for (unsigned i = 0; i < times; i++)
		*len += (size_t)snprintf(out + *len, cap - *len, "%s", s);
	CU_ASSERT_FATAL(*len < cap);
}

/* Appends `n` copies of `unit` joined by ',' at *len. */
static void append_list(char *out, size_t cap, size_t *len, const char *unit,
			unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i)
			append(out, cap, len, ",", 1);
		append(out, cap, len, unit, 1);
	}
}

/* A document of `head`, then `n` times `unit` (joined by `sep`), then `tail`. */
static size_t repeat_doc(char *out, size_t cap, const char *head,
			 const char *unit, const char *sep, unsigned n,
			 const char *tail)
{
	size_t len = (size_t)snprintf(out, cap, "%s", head);

	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s",
					i ? sep : "", unit);
	len += (size_t)snprintf(out + len, cap - len, "%s", tail);
	CU_ASSERT_FATAL(len < cap);
	return len;
}

/* An eager scan of a valid document into `set`. */
static void scan_into(struct st_schema *set, const void *doc, size_t len)
{
	CU_ASSERT_EQUAL(st_json_scan(NULL, doc, len, NULL, NULL, 0, set, NULL), 0);
}

/* ---- a template with its plan, checked against the full scan -------------- */

struct rig {
	struct st_json_plan *plan;
	unsigned n;                   /* pointers */
	struct st_json_tmpl *t;
	struct st_schema *learn_set;  /* st_json_tmpl_scratch_create() */
	struct st_schema *walk_set;   /* the oracle scans walk into it */
	uint64_t hits;                /* checked matches since the last learn */
};

static void rig_open(struct rig *r, const char *const *ptrs, unsigned n)
{
	r->plan = st_json_plan_create(ptrs, n);
	r->n = n;
	r->t = st_json_tmpl_create();
	r->learn_set = st_json_tmpl_scratch_create();
	r->walk_set = st_schema_create(SET_MAX);
	r->hits = 0;
	CU_ASSERT_FATAL(r->plan && r->t && r->learn_set && r->walk_set);
}

static void rig_close(struct rig *r)
{
	st_schema_destroy(r->walk_set);
	st_schema_destroy(r->learn_set);
	st_json_tmpl_destroy(r->t);
	st_json_plan_destroy(r->plan);
}

/* Learns `doc` with the values a scan of it returned. */
static bool rig_learn_values(struct rig *r, const void *doc, size_t len,
			     const struct st_json_value *v)
{
	r->hits = 0;
	return st_json_tmpl_learn(r->t, r->plan, doc, len, v, r->learn_set);
}

/* Scans `doc` (into `set`, may be NULL), which must be valid, and learns it. */
static bool rig_learn(struct rig *r, const void *doc, size_t len,
		      struct st_schema *set)
{
	struct st_json_value v[ST_JSON_POINTERS_MAX];

	CU_ASSERT_EQUAL_FATAL(st_json_scan(r->plan, doc, len, v, scratch,
					   SCRATCH_BYTES, set, NULL), 0);
	return rig_learn_values(r, doc, len, v);
}

/*
 * st_json_tmpl_match(), checked: a hit is a document st_json_scan()
 * accepts, with the same values, and the match adds to the stats what the
 * scan adds (that is also added to *sum, which may be NULL); a miss writes
 * neither values nor stats.  The hit counter follows the hits.
 */
static bool checked_match(struct rig *r, const void *doc, size_t len,
			  struct st_json_value *v, struct st_json_scan_stats *sum)
{
	struct st_json_value ref[ST_JSON_POINTERS_MAX], untouched;
	struct st_json_scan_stats st, base, ref_st = { 0 };
	int rc;

	memset(v, 0xa5, r->n * sizeof(*v));
	memset(&untouched, 0xa5, sizeof(untouched));
	memset(&base, 0x5a, sizeof(base));
	st = base;
	if (!st_json_tmpl_match(r->t, r->plan, doc, len, v, &st)) {
		for (unsigned i = 0; i < r->n; i++)
			CU_ASSERT(memcmp(&v[i], &untouched, sizeof(untouched)) == 0);
		CU_ASSERT(same_stats(&st, &base));
		return false;
	}
	r->hits++;
	CU_ASSERT_EQUAL(st_json_tmpl_hits(r->t), r->hits);
	st.walk_depth_limited -= base.walk_depth_limited;
	st.walk_fields_limited -= base.walk_fields_limited;
	st.walk_path_limited -= base.walk_path_limited;
	st.schema_updates -= base.schema_updates;
	st_schema_reset(r->walk_set);
	rc = st_json_scan(r->plan, doc, len, ref, oracle_scratch, SCRATCH_BYTES,
			  r->walk_set, &ref_st);
	if (rc != 0 || !json_same_values(v, ref, r->n) || !same_stats(&st, &ref_st)) {
		fprintf(stderr, "match differs from the full scan (%s) on: %.*s\n",
			st_json_error_name(rc), (int)ST_MIN(len, 300),
			(const char *)doc);
		CU_FAIL("a match differs from st_json_scan()");
	}
	if (sum) {
		sum->walk_depth_limited += st.walk_depth_limited;
		sum->walk_fields_limited += st.walk_fields_limited;
		sum->walk_path_limited += st.walk_path_limited;
		sum->schema_updates += st.schema_updates;
	}
	return true;
}

/* checked_match() of a string expected to miss, naming it when it hits. */
static void expect_miss(struct rig *r, const char *doc, size_t len)
{
	struct st_json_value v[ST_JSON_POINTERS_MAX];

	if (checked_match(r, doc, len, v, NULL)) {
		fprintf(stderr, "unexpected match: %.*s\n", (int)ST_MIN(len, 300), doc);
		CU_FAIL("a document of another shape matched");
	}
}

/* ---- hand cases ----------------------------------------------------------- */

static void test_fresh_template_matches_nothing(void)
{
	static const char *const ptrs[] = { "/id" };
	struct st_schema *set = st_schema_create(8);
	struct st_json_value v[1];
	struct rig r;

	CU_ASSERT_FATAL(set != NULL);
	rig_open(&r, ptrs, 1);
	CU_ASSERT(!checked_match(&r, LIT("{}"), v, NULL));
	CU_ASSERT(!checked_match(&r, LIT("{\"id\":1}"), v, NULL));
	CU_ASSERT(!checked_match(&r, LIT(""), v, NULL));
	CU_ASSERT_EQUAL(st_json_tmpl_hits(r.t), 0);
	/* nothing owed: flush and retire leave the set as it is */
	st_json_tmpl_flush(r.t, set);
	st_json_tmpl_retire(r.t, set);
	CU_ASSERT_EQUAL(st_schema_size(set), 0);
	CU_ASSERT_EQUAL(st_schema_overflow(set), 0);
	st_json_tmpl_destroy(NULL);
	rig_close(&r);
	st_schema_destroy(set);
}

/* A hand-made document and the value its one pointer must get. */
struct hand_hit {
	const char *doc;
	struct expect want;
};

static void test_number_slot(void)
{
	static const char *const ptrs[] = { "/id" };
	static const struct hand_hit hits[] = {
		{ "{\"id\":42}", { ST_JSON_NUMBER, "42", 42 } },
		{ "{\"id\":1.5e3}", { ST_JSON_NUMBER, "1.5e3", 1.5e3 } },
		{ "{\"id\":-0}", { ST_JSON_NUMBER, "-0", -0.0 } },
		{ "{\"id\":-12.5E-2}", { ST_JSON_NUMBER, "-12.5E-2", -12.5E-2 } },
		{ "{\"id\":0.1}", { ST_JSON_NUMBER, "0.1", 0.1 } },
		{ "{\"id\":123456789012345678901}",
		  { ST_JSON_NUMBER, "123456789012345678901", 123456789012345678901.0 } },
		{ "{\"id\":9007199254740993}",
		  { ST_JSON_NUMBER, "9007199254740993", 9007199254740993.0 } },
		{ "{\"id\":1E+2}", { ST_JSON_NUMBER, "1E+2", 1E+2 } },
		/* any other scalar kind: the value has the new type */
		{ "{\"id\":\"x\"}", { ST_JSON_STRING, "x", 0 } },
		{ "{\"id\":\"\"}", { ST_JSON_STRING, "", 0 } },
		{ "{\"id\":\"42\"}", { ST_JSON_STRING, "42", 0 } },
		{ "{\"id\":\"caf\xc3\xa9\"}", { ST_JSON_STRING, "caf\xc3\xa9", 0 } },
		{ "{\"id\":true}", { ST_JSON_TRUE, "true", 0 } },
		{ "{\"id\":false}", { ST_JSON_FALSE, "false", 0 } },
		{ "{\"id\":null}", { ST_JSON_NULL, "null", 0 } },
	};
	static const char *const misses[] = {
		"{\"id\": 42}",        /* other whitespace */
		"{\"id\":42 }",
		"{\"id\":042}",        /* not a number */
		"{\"id\":42}x",        /* trailing data */
		"{\"id\":4",           /* cut */
		"{\"id\":-}",
		"{\"id\":1.}",
		"{\"id\":1e}",
		"{\"id\":+1}",
		"{\"id\":.5}",
		"{\"id\":42} ",        /* trailing whitespace: other skeleton */
		"{\"id\":tru}",        /* not a literal */
		"{\"id\":nulll}",
		"{\"id\":True}",
		"{\"id\":\"x}",        /* not closed */
		"{\"id\":\"x\\ty\"}",  /* an escape in a captured string */
		"{\"id\":\"x\x01\"}",    /* a control byte */
		"{\"id\":\"x\xc3\"}",    /* bad UTF-8 */
		"{\"id\":[1]}",        /* containers */
		"{\"id\":[]}",
		"{\"id\":{}}",
		"{\"ID\":42}",         /* another name */
		"{\"id\":42,\"x\":1}",
		"",                    /* empty document */
		" ",
	};
	struct st_schema *set = st_schema_create(8);
	struct st_json_value v[1];
	struct rig r;

	CU_ASSERT_FATAL(set != NULL);
	rig_open(&r, ptrs, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"id\":1}"), set));
	for (size_t i = 0; i < ST_ARRAY_SIZE(hits); i++) {
		bool hit = checked_match(&r, hits[i].doc, strlen(hits[i].doc), v, NULL);

		CU_ASSERT(hit && is_expected(&v[0], &hits[i].want));
		if (!hit || !is_expected(&v[0], &hits[i].want))
			fprintf(stderr, "number slot: %s\n", hits[i].doc);
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(misses); i++)
		expect_miss(&r, misses[i], strlen(misses[i]));
	CU_ASSERT_EQUAL(st_json_tmpl_hits(r.t), ST_ARRAY_SIZE(hits));

	/* whitespace is skeleton: the template's own is required */
	CU_ASSERT_FATAL(rig_learn(&r, LIT(" { \"id\" :\t1 }\n"), set));
	CU_ASSERT(checked_match(&r, LIT(" { \"id\" :\t-7 }\n"), v, NULL));
	CU_ASSERT(is_number(&v[0], "-7", -7));
	CU_ASSERT(checked_match(&r, LIT(" { \"id\" :\t\"-7\" }\n"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "-7", 2));
	expect_miss(&r, LIT("{\"id\":-7}"));
	expect_miss(&r, LIT(" { \"id\" :\t-7 }"));
	expect_miss(&r, LIT(" { \"id\" : -7 }\n"));

	/* a number root takes any scalar root, with no whitespace around */
	CU_ASSERT_FATAL(rig_learn(&r, LIT("1"), set));
	CU_ASSERT(checked_match(&r, LIT("\"s\""), v, NULL));
	CU_ASSERT(is_absent(&v[0]));
	CU_ASSERT(checked_match(&r, LIT("false"), v, NULL));
	CU_ASSERT(checked_match(&r, LIT("-2.5"), v, NULL));
	expect_miss(&r, LIT(" 1"));
	expect_miss(&r, LIT("1 "));
	expect_miss(&r, LIT("[1]"));
	expect_miss(&r, LIT("{}"));
	CU_ASSERT(checked_match(&r, LIT("\"s\\n\""), v, NULL));  /* not captured */
	expect_miss(&r, LIT("\"s\n\""));                         /* a control byte */
	rig_close(&r);
	st_schema_destroy(set);
}

static void test_string_and_literal_slots(void)
{
	static const char *const ptrs[] = { "/s", "/t", "/n", "/missing" };
	static const char long_s[] = "a plain string longer than forty bytes, 0123456789";
	static const char *const misses[] = {
		"{\"s\":\"a\\\"b\",\"n\":null,\"t\":true}",     /* escaped quote */
		"{\"s\":\"a\\u0041\",\"n\":null,\"t\":true}",   /* \u escape */
		"{\"s\":\"a\x01\",\"n\":null,\"t\":true}",      /* control byte */
		"{\"s\":\"a\xff\",\"n\":null,\"t\":true}",      /* bad UTF-8 */
		"{\"s\":\"a\xc3\",\"n\":null,\"t\":true}",
		"{\"s\":\"\xed\xa0\x80\",\"n\":null,\"t\":true}", /* a surrogate */
		"{\"s\":\"abc\",\"n\":\"a\\x\",\"t\":true}",   /* a bad escape */
		"{\"s\":\"abc\",\"n\":\"\\n\",\"t\":true}",    /* escapes, captured */
		"{\"s\":\"abc\",\"n\":nul,\"t\":true}",         /* bad literals */
		"{\"s\":\"abc\",\"n\":null,\"t\":truex}",
		"{\"s\":\"abc\",\"n\":null,\"t\":fals}",
		"{\"s\":\"abc\",\"n\":NULL,\"t\":true}",
		"{\"s\":\"abc\",\"n\":null,\"t\":[true]}",      /* containers */
		"{\"s\":{},\"n\":null,\"t\":true}",
		"{\"s\":\"abc\",\"n\":null,\"t\":true }",       /* other skeleton */
		"{\"s\":\"abc\",\"t\":true,\"n\":null}",
		"{\"s\":\"abc,\"n\":null,\"t\":true}",          /* quote lost */
		"{\"s\":\"abc\",\"n\":null,\"t\":true",         /* cut */
		"{\"s\":\"abc",
	};
	/* other kinds in every slot: the values have the new types */
	static const struct {
		const char *doc;
		struct expect s, t, n;
	} kinds[] = {
		{ "{\"s\":\"abc\",\"n\":null,\"t\":false}", { ST_JSON_STRING, "abc", 0 },
		  { ST_JSON_FALSE, "false", 0 }, { ST_JSON_NULL, "null", 0 } },
		{ "{\"s\":\"abc\",\"n\":\"null\",\"t\":true}", { ST_JSON_STRING, "abc", 0 },
		  { ST_JSON_TRUE, "true", 0 }, { ST_JSON_STRING, "null", 0 } },
		{ "{\"s\":1,\"n\":null,\"t\":true}", { ST_JSON_NUMBER, "1", 1 },
		  { ST_JSON_TRUE, "true", 0 }, { ST_JSON_NULL, "null", 0 } },
		{ "{\"s\":true,\"n\":-0.5,\"t\":\"yes\"}", { ST_JSON_TRUE, "true", 0 },
		  { ST_JSON_STRING, "yes", 0 }, { ST_JSON_NUMBER, "-0.5", -0.5 } },
		{ "{\"s\":null,\"n\":false,\"t\":null}", { ST_JSON_NULL, "null", 0 },
		  { ST_JSON_NULL, "null", 0 }, { ST_JSON_FALSE, "false", 0 } },
		{ "{\"s\":\"\",\"n\":1e2,\"t\":2}", { ST_JSON_STRING, "", 0 },
		  { ST_JSON_NUMBER, "2", 2 }, { ST_JSON_NUMBER, "1e2", 1e2 } },
		/* UTF-8 in a captured string: no escape, so no decoding */
		{ "{\"s\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\",\"n\":null,\"t\":true}",
		  { ST_JSON_STRING, "caf\xc3\xa9 \xf0\x9f\x98\x80", 0 },
		  { ST_JSON_TRUE, "true", 0 }, { ST_JSON_NULL, "null", 0 } },
	};
	char doc[256];
	struct st_json_value v[4], ref[4];
	struct rig r;
	int n;

	rig_open(&r, ptrs, 4);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"s\":\"abc\",\"n\":null,\"t\":true}"), NULL));
	n = snprintf(doc, sizeof(doc), "{\"s\":\"%s\",\"n\":null,\"t\":true}", long_s);
	CU_ASSERT(checked_match(&r, doc, (size_t)n, v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, long_s, strlen(long_s)));
	CU_ASSERT(v[0].text == (const uint8_t *)doc + 6);  /* zero copy */
	CU_ASSERT(is_text(&v[1], ST_JSON_TRUE, "true", 4));
	CU_ASSERT(is_text(&v[2], ST_JSON_NULL, "null", 4));
	CU_ASSERT(is_absent(&v[3]));
	CU_ASSERT_EQUAL_FATAL(st_json_scan(r.plan, (const uint8_t *)doc, (size_t)n,
					   ref, scratch, SCRATCH_BYTES, NULL, NULL), 0);
	CU_ASSERT(is_absent(&ref[3]));
	/* the empty string, and bytes that are plain: DEL, '~', '/', ' ' */
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"\",\"n\":null,\"t\":true}"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "", 0));
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"\x7f~/ }\",\"n\":null,\"t\":true}"),
				v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "\x7f~/ }", 5));
	for (size_t i = 0; i < ST_ARRAY_SIZE(kinds); i++) {
		bool hit = checked_match(&r, kinds[i].doc, strlen(kinds[i].doc), v, NULL);

		CU_ASSERT(hit && is_expected(&v[0], &kinds[i].s) &&
			  is_expected(&v[1], &kinds[i].t) &&
			  is_expected(&v[2], &kinds[i].n) && is_absent(&v[3]));
		if (!hit)
			fprintf(stderr, "kind change missed: %s\n", kinds[i].doc);
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(misses); i++)
		expect_miss(&r, misses[i], strlen(misses[i]));

	/* a template whose captured string is empty */
	CU_ASSERT(rig_learn(&r, LIT("{\"s\":\"\",\"n\":null,\"t\":true}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"xyz\",\"n\":null,\"t\":true}"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "xyz", 3));

	/* an escape in a string that is not captured: the template takes it,
	 * and any valid string (escapes too) or other scalar there matches */
	CU_ASSERT(rig_learn(&r, LIT("{\"s\":\"abc\",\"x\":\"a\\nb\",\"n\":null,\"t\":false}"),
			    NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"d\",\"x\":\"plain\",\"n\":null,\"t\":false}"),
				v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "d", 1));
	CU_ASSERT(is_text(&v[1], ST_JSON_FALSE, "false", 5));
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"d\",\"x\":7,\"n\":null,\"t\":true}"),
				v, NULL));
	CU_ASSERT(is_text(&v[1], ST_JSON_TRUE, "true", 4));
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"d\",\"x\":\"a\\nb\\u00e9\\ud83d\\ude00\","
					"\"n\":null,\"t\":false}"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "d", 1));
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"d\",\"x\":\"\xe2\x82\xac\\\"\","
					"\"n\":null,\"t\":false}"), v, NULL));
	expect_miss(&r, LIT("{\"s\":\"d\",\"x\":\"a\\qb\",\"n\":null,\"t\":false}"));
	expect_miss(&r, LIT("{\"s\":\"d\",\"x\":\"\\ud800\",\"n\":null,\"t\":false}"));
	expect_miss(&r, LIT("{\"s\":\"d\",\"x\":\"\\udc00\\ud800\",\"n\":null,\"t\":false}"));
	expect_miss(&r, LIT("{\"s\":\"d\",\"x\":\"\\u12G4\",\"n\":null,\"t\":false}"));
	expect_miss(&r, LIT("{\"s\":\"d\",\"x\":\"\xc0\xaf\",\"n\":null,\"t\":false}"));
	expect_miss(&r, LIT("{\"s\":\"d\",\"x\":\"a\tb\",\"n\":null,\"t\":false}"));
	expect_miss(&r, LIT("{\"s\":\"d\\n\",\"x\":\"a\",\"n\":null,\"t\":false}"));
	rig_close(&r);
}

/*
 * A string slot's end, around the 16-byte windows of the matcher's string
 * loop and its tail (the last 16 bytes of the document, or byte by byte in
 * a document shorter than that): a string of L = 0..80 plain bytes, with
 * one insertion at any offset.  Captured (the pointer "/s" or ""): plain
 * bytes and valid UTF-8 match with the exact text; a quote, an escape, a
 * control byte or invalid UTF-8 do not.  Not captured (the pointer "/k"):
 * valid escapes match too; bad escapes, lone surrogates, control bytes and
 * invalid UTF-8 do not.  The string comes first, last, and as the whole
 * document.
 */
static void test_string_stops_at_every_offset(void)
{
	static const struct {
		const char *ptr, *tmpl, *fmt; /* fmt: %.*s%s%.*s is the string */
		bool captured;
	} shapes[] = {
		{ "/s", "{\"s\":\"t\",\"k\":1}", "{\"s\":\"%.*s%s%.*s\",\"k\":2}", true },
		{ "/s", "{\"k\":1,\"s\":\"t\"}", "{\"k\":2,\"s\":\"%.*s%s%.*s\"}", true },
		{ "", "\"t\"", "\"%.*s%s%.*s\"", true },
		{ "/k", "{\"s\":\"t\",\"k\":1}", "{\"s\":\"%.*s%s%.*s\",\"k\":2}", false },
		{ "/k", "{\"k\":1,\"s\":\"t\"}", "{\"k\":2,\"s\":\"%.*s%s%.*s\"}", false },
	};
	static const char plain[] = "abcdefghijklm ~/{}[]:,\x7f" "0123456789";
	static const char *const utf8[] = { "\xc3\xa9", "\xe2\x82\xac",
					    "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf" };
	static const char *const escapes[] = { "\\t", "\\\"", "\\\\", "\\/",
					       "\\u00e9", "\\uD83D\\uDE00" };
	static const char *const invalid[] = { "\"", "\x01", "\x1f", "\x80",
		"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\\x", "\\u12G", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\ " };
	char text[128], doc[256];
	struct st_json_value v[1];
	unsigned hits = 0, misses = 0;

	for (size_t sh = 0; sh < ST_ARRAY_SIZE(shapes); sh++) {
		unsigned want_hits = 0;
		struct rig r;

		rig_open(&r, &shapes[sh].ptr, 1);
		CU_ASSERT_FATAL(rig_learn(&r, shapes[sh].tmpl,
					  strlen(shapes[sh].tmpl), NULL));
		for (unsigned len = 0; len <= 80; len++) {
			int n;

			for (unsigned i = 0; i < len; i++)
				text[i] = plain[(i * 7 + len) % (sizeof(plain) - 1)];
			n = snprintf(doc, sizeof(doc), shapes[sh].fmt, (int)len,
				     text, "", 0, "");
			hits += checked_match(&r, doc, (size_t)n, v, NULL);
			want_hits++;
			if (shapes[sh].captured)
				CU_ASSERT(is_text(&v[0], ST_JSON_STRING, text, len));
			for (unsigned at = 0; at < len; at++) {
				/* the insertion replaces text[at] */
				for (size_t k = 0; k < ST_ARRAY_SIZE(utf8); k++) {
					n = snprintf(doc, sizeof(doc), shapes[sh].fmt,
						     (int)at, text, utf8[k],
						     (int)(len - at - 1),
						     text + at + 1);
					CU_ASSERT(checked_match(&r, doc, (size_t)n, v, NULL));
					want_hits++;
					hits++;
				}
				for (size_t k = 0; k < ST_ARRAY_SIZE(escapes); k++) {
					n = snprintf(doc, sizeof(doc), shapes[sh].fmt,
						     (int)at, text, escapes[k],
						     (int)(len - at - 1),
						     text + at + 1);
					if (shapes[sh].captured) {
						expect_miss(&r, doc, (size_t)n);
						misses++;
					} else {
						CU_ASSERT(checked_match(&r, doc, (size_t)n,
									v, NULL));
						want_hits++;
						hits++;
					}
				}
				for (size_t k = 0; k < ST_ARRAY_SIZE(invalid); k++) {
					n = snprintf(doc, sizeof(doc), shapes[sh].fmt,
						     (int)at, text, invalid[k],
						     (int)(len - at - 1),
						     text + at + 1);
					expect_miss(&r, doc, (size_t)n);
					misses++;
				}
			}
		}
		CU_ASSERT_EQUAL(st_json_tmpl_hits(r.t), want_hits);
		rig_close(&r);
	}
	CU_ASSERT(hits > 5 * 81 + 3 * 10000);
	CU_ASSERT(misses > 5 * 40000);
}

static void test_duplicate_names(void)
{
	static const char *const ptrs[] = { "/a", "/b/c", "/b/d" };
	static const char doc[] = "{\"a\":1,\"a\":2,\"b\":{\"c\":3},\"b\":{\"c\":4,\"d\":5}}";
	struct st_json_value v[3];
	struct rig r;

	rig_open(&r, ptrs, 3);
	CU_ASSERT_EQUAL_FATAL(st_json_scan(r.plan, (const uint8_t *)doc,
					   sizeof(doc) - 1, v, scratch,
					   SCRATCH_BYTES, NULL, NULL), 0);
	CU_ASSERT(is_number(&v[0], "1", 1));  /* the first wins */
	CU_ASSERT(is_number(&v[1], "3", 3));
	CU_ASSERT(is_number(&v[2], "5", 5));
	CU_ASSERT_FATAL(rig_learn_values(&r, doc, sizeof(doc) - 1, v));
	CU_ASSERT(checked_match(&r, LIT("{\"a\":5,\"a\":6,\"b\":{\"c\":7},"
					"\"b\":{\"c\":8,\"d\":9}}"), v, NULL));
	CU_ASSERT(is_number(&v[0], "5", 5));
	CU_ASSERT(is_number(&v[1], "7", 7));
	CU_ASSERT(is_number(&v[2], "9", 9));
	expect_miss(&r, LIT("{\"a\":5,\"b\":6,\"b\":{\"c\":7},\"b\":{\"c\":8,\"d\":9}}"));
	rig_close(&r);
}

/*
 * An array a pointer reaches into is no array slot: its length and the
 * whitespace inside it are skeleton, its elements scalar slots.
 */
static void test_array_index(void)
{
	static const char *const ptrs[] = { "/tags/1", "/tags/0", "/tags/2" };
	static const char *const deep_ptrs[] = { "/tags/0/x", "/n" };
	static const char *const other_length[] = {
		"{\"tags\":[\"p\"],\"n\":2}",
		"{\"tags\":[\"p\",\"q\",\"r\"],\"n\":2}",
		"{\"tags\":[],\"n\":2}",
		"{\"tags\":[\"p\", \"q\"],\"n\":2}",     /* whitespace inside */
		"{\"tags\":[ \"p\",\"q\"],\"n\":2}",
		"{\"tags\":{\"0\":\"p\",\"1\":\"q\"},\"n\":2}",
	};
	struct st_json_value v[3];
	struct rig r;

	rig_open(&r, ptrs, 3);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"tags\":[\"x\",\"y\"],\"n\":1}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"tags\":[\"p\",\"q\"],\"n\":2}"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "q", 1));
	CU_ASSERT(is_text(&v[1], ST_JSON_STRING, "p", 1));
	CU_ASSERT(is_absent(&v[2]));
	/* other kinds in the elements */
	CU_ASSERT(checked_match(&r, LIT("{\"tags\":[\"p\",1],\"n\":2}"), v, NULL));
	CU_ASSERT(is_number(&v[0], "1", 1));
	CU_ASSERT(is_text(&v[1], ST_JSON_STRING, "p", 1));
	CU_ASSERT(checked_match(&r, LIT("{\"tags\":[null,false],\"n\":\"n\"}"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_FALSE, "false", 5));
	CU_ASSERT(is_text(&v[1], ST_JSON_NULL, "null", 4));
	CU_ASSERT(is_absent(&v[2]));
	for (size_t i = 0; i < ST_ARRAY_SIZE(other_length); i++)
		expect_miss(&r, other_length[i], strlen(other_length[i]));
	rig_close(&r);

	/* a pointer below an element reaches into the array too, found or not */
	rig_open(&r, deep_ptrs, 2);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"tags\":[\"x\",\"y\"],\"n\":1}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"tags\":[true,\"q\"],\"n\":2}"), v, NULL));
	CU_ASSERT(is_absent(&v[0]));
	CU_ASSERT(is_number(&v[1], "2", 2));
	for (size_t i = 0; i < ST_ARRAY_SIZE(other_length); i++)
		expect_miss(&r, other_length[i], strlen(other_length[i]));
	rig_close(&r);
}

/*
 * Array slots: {"tags":["a","b"],"id":1} with the plan {"/id"}.  Every
 * hit's value by hand; the schema set fed by the learn and one flush must
 * have, by hand, "/tags/" "*" counted once per element of every document
 * with the types they held, and equal the set of eager scans.
 */
static void test_array_slot(void)
{
	static const char *const ptrs[] = { "/id" };
	static const struct {
		const char *doc;
		unsigned elems;
		struct expect id;
	} hits[] = {
		{ "{\"tags\":[],\"id\":2}", 0, { ST_JSON_NUMBER, "2", 2 } },
		{ "{\"tags\":[\"x\"],\"id\":3}", 1, { ST_JSON_NUMBER, "3", 3 } },
		{ "{\"tags\":[\"a\",\"b\",\"c\",\"d\",\"e\"],\"id\":4}", 5,
		  { ST_JSON_NUMBER, "4", 4 } },
		{ "{\"tags\":[ 1 ,\n\"x\" , null ],\"id\":\"s\"}", 3,
		  { ST_JSON_STRING, "s", 0 } },
		{ "{\"tags\":[true,false,null,-1.5e3,\"\",\"\"],\"id\":true}", 6,
		  { ST_JSON_TRUE, "true", 0 } },
		{ "{\"tags\":[ ],\"id\":null}", 0, { ST_JSON_NULL, "null", 0 } },
		{ "{\"tags\":[\t\"x\"\r\n],\"id\":false}", 1,
		  { ST_JSON_FALSE, "false", 0 } },
		{ "{\"tags\":[\"a\",\"b\"],\"id\":-0.25}", 2,
		  { ST_JSON_NUMBER, "-0.25", -0.25 } },
		{ "{\"tags\":[0,1,2,3,4,5,6,7,8,9,10,11],\"id\":\"\"}", 12,
		  { ST_JSON_STRING, "", 0 } },
		{ "{\"tags\":[\"] , [\",\"{:}\"],\"id\":0}", 2,
		  { ST_JSON_NUMBER, "0", 0 } },
		/* elements are not captured: escapes and UTF-8 are fine */
		{ "{\"tags\":[\"a\\nb\"],\"id\":1}", 1, { ST_JSON_NUMBER, "1", 1 } },
		{ "{\"tags\":[\"x\",\"\\u0041\\\"\",\"caf\xc3\xa9\"],\"id\":1}", 3,
		  { ST_JSON_NUMBER, "1", 1 } },
	};
	static const char *const misses[] = {
		"{\"tags\":[{}],\"id\":1}",              /* containers inside */
		"{\"tags\":[\"a\",{\"b\":1}],\"id\":1}",
		"{\"tags\":[[1]],\"id\":1}",
		"{\"tags\":[1,[]],\"id\":1}",
		"{\"tags\":[\"a\\qb\"],\"id\":1}",       /* a bad escape */
		"{\"tags\":[\"x\",\"\\ud800\"],\"id\":1}", /* a lone surrogate */
		"{\"tags\":[\"caf\xc3\"],\"id\":1}",     /* bad UTF-8 */
		"{\"tags\":[\"\xff\"],\"id\":1}",
		"{\"tags\":[\"a\x01\"],\"id\":1}",       /* a control byte */
		"{\"tags\":[\"a\\\"],\"id\":1}",         /* an escaped quote */
		"{\"tags\":[1,],\"id\":1}",              /* a trailing comma */
		"{\"tags\":[,1],\"id\":1}",
		"{\"tags\":[,],\"id\":1}",
		"{\"tags\":[1,,2],\"id\":1}",
		"{\"tags\":[1 2],\"id\":1}",             /* a comma missing */
		"{\"tags\":[\"a\"\"b\"],\"id\":1}",
		"{\"tags\":[1:2],\"id\":1}",
		"{\"tags\":[1,\"id\":1}",                /* not closed */
		"{\"tags\":[1,2}",
		"{\"tags\":[1,",                         /* cut */
		"{\"tags\":[",
		"{\"tags\":[01],\"id\":1}",              /* bad scalars */
		"{\"tags\":[tru],\"id\":1}",
		"{\"tags\":[1.],\"id\":1}",
		"{\"tags\":[-],\"id\":1}",
		"{\"tags\":[\"a],\"id\":1}",
		"{\"tags\":\"ab\",\"id\":1}",            /* not an array */
		"{\"tags\":1,\"id\":1}",
		"{\"tags\":{},\"id\":1}",
		"{\"tags\": [\"a\"],\"id\":1}",          /* whitespace outside */
		"{\"tags\":[\"a\"] ,\"id\":1}",
		"{\"tags\":[\"a\"],\"id\":1,\"x\":2}",   /* another skeleton */
		"{\"id\":1,\"tags\":[\"a\"]}",
	};
	static const char zero_copy[] = "{\"tags\":[1],\"id\":\"zz\"}";
	struct st_schema *set = st_schema_create(8), *eager = st_schema_create(8);
	struct st_json_scan_stats sum = { 0 };
	struct st_json_value v[1];
	uint64_t elems = 2;  /* the template's own */
	struct rig r;

	CU_ASSERT_FATAL(set && eager);
	rig_open(&r, ptrs, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"tags\":[\"a\",\"b\"],\"id\":1}"), set));
	scan_into(eager, LIT("{\"tags\":[\"a\",\"b\"],\"id\":1}"));
	for (size_t i = 0; i < ST_ARRAY_SIZE(hits); i++) {
		size_t len = strlen(hits[i].doc);
		bool hit = checked_match(&r, hits[i].doc, len, v, &sum);

		CU_ASSERT(hit && is_expected(&v[0], &hits[i].id));
		if (!hit)
			fprintf(stderr, "array slot missed: %s\n", hits[i].doc);
		elems += hits[i].elems;
		scan_into(eager, hits[i].doc, len);
	}
	/* zero copy: the value points into the document */
	CU_ASSERT(checked_match(&r, LIT(zero_copy), v, &sum));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "zz", 2));
	CU_ASSERT(v[0].text == (const uint8_t *)zero_copy + 18);
	elems += 1;
	scan_into(eager, LIT(zero_copy));
	for (size_t i = 0; i < ST_ARRAY_SIZE(misses); i++)
		expect_miss(&r, misses[i], strlen(misses[i]));
	/* per document "/tags", "/id" and its elements */
	CU_ASSERT_EQUAL(sum.schema_updates, 2 * (ST_ARRAY_SIZE(hits) + 1) + elems - 2);
	CU_ASSERT_EQUAL(sum.walk_fields_limited, 0);

	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/tags/*"), elems);
	CU_ASSERT_EQUAL(elems, 2 + (0 + 1 + 5 + 3 + 6 + 0 + 1 + 2 + 12 + 2 + 1 + 3) + 1);
	CU_ASSERT_EQUAL(count_of(set, "/tags"), ST_ARRAY_SIZE(hits) + 2);
	CU_ASSERT_EQUAL(count_of(set, "/id"), ST_ARRAY_SIZE(hits) + 2);
	CU_ASSERT_EQUAL(types_of(set, "/tags/*"), SCALAR_TYPES);
	CU_ASSERT_EQUAL(types_of(set, "/tags"), ST_JSON_ARRAY);
	CU_ASSERT_EQUAL(types_of(set, "/id"), SCALAR_TYPES);
	CU_ASSERT_EQUAL(st_schema_size(set), 3);
	CU_ASSERT(same_sets(set, eager));
	rig_close(&r);
	st_schema_destroy(eager);
	st_schema_destroy(set);
}

/* Which arrays are slots: a pointer's path, an empty array, nesting. */
static void test_array_slot_bounds(void)
{
	static const char *const beside[][2] = {
		{ "/id", "/tag/0" },      /* another name */
		{ "/id", "/tagsx/1" },
		{ "/id", "/0/tags" },     /* tags under another token */
		{ "/id", "/id/0" },       /* below a scalar */
	};
	static const char *const b_ptr[] = { "/b" };
	static const char *const inner_ptr[] = { "/a/1/0" };
	static const char *const no_ptr[] = { "/unused" };
	static const char *const slash_ptr[] = { "/a~1b/1" };
	static const char *const other_slash_ptr[] = { "/a~1c/1" };
	struct st_json_value v[2];
	struct rig r;

	/* pointers that do not reach into "/tags" leave it a slot */
	for (size_t i = 0; i < ST_ARRAY_SIZE(beside); i++) {
		rig_open(&r, beside[i], 2);
		CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"tags\":[\"a\",\"b\"],\"id\":1}"), NULL));
		CU_ASSERT(checked_match(&r, LIT("{\"tags\":[\"a\",\"b\",3],\"id\":2}"),
					v, NULL));
		CU_ASSERT(is_number(&v[0], "2", 2) && is_absent(&v[1]));
		CU_ASSERT(checked_match(&r, LIT("{\"tags\":[],\"id\":3}"), v, NULL));
		CU_ASSERT(is_number(&v[0], "3", 3) && is_absent(&v[1]));
		rig_close(&r);
	}

	/* an array of strings with escapes and UTF-8 is a slot too */
	rig_open(&r, b_ptr, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"t\":[\"a\\n\",\"\xc3\xa9\"],\"b\":1}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"t\":[\"x\"],\"b\":2}"), v, NULL));
	CU_ASSERT(is_number(&v[0], "2", 2));
	CU_ASSERT(checked_match(&r, LIT("{\"t\":[],\"b\":3}"), v, NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"t\":[\"\\t\",1,\"\\ud83d\\ude00\"],\"b\":4}"),
				v, NULL));
	rig_close(&r);

	/* an empty array is skeleton: it takes no element, and its
	 * whitespace is the template's */
	rig_open(&r, b_ptr, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"t\":[],\"b\":1}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"t\":[],\"b\":\"x\"}"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "x", 1));
	expect_miss(&r, LIT("{\"t\":[1],\"b\":1}"));
	expect_miss(&r, LIT("{\"t\":[\"a\",\"b\"],\"b\":1}"));
	expect_miss(&r, LIT("{\"t\":[ ],\"b\":1}"));
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"t\":[ ],\"b\":1}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"t\":[ ],\"b\":2}"), v, NULL));
	expect_miss(&r, LIT("{\"t\":[],\"b\":1}"));
	expect_miss(&r, LIT("{\"t\":[ 1 ],\"b\":1}"));

	/* an array of arrays of scalars: the inner ones are slots, the outer
	 * one skeleton (its length fixed) */
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"a\":[[1,2],[3]],\"b\":0}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"a\":[[],[4,5,6]],\"b\":1}"), v, NULL));
	CU_ASSERT(is_number(&v[0], "1", 1));
	CU_ASSERT(checked_match(&r, LIT("{\"a\":[[ \"x\" ],[null, 1]],\"b\":2}"), v, NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"a\":[[true],[]],\"b\":\"z\"}"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "z", 1));
	expect_miss(&r, LIT("{\"a\":[[1,2]],\"b\":1}"));          /* outer length */
	expect_miss(&r, LIT("{\"a\":[[1],[2],[3]],\"b\":1}"));
	expect_miss(&r, LIT("{\"a\":[],\"b\":1}"));
	expect_miss(&r, LIT("{\"a\":[1,[2]],\"b\":1}"));          /* a scalar */
	expect_miss(&r, LIT("{\"a\":[[1],2],\"b\":1}"));
	expect_miss(&r, LIT("{\"a\":[[[1]],[2]],\"b\":1}"));      /* deeper */
	expect_miss(&r, LIT("{\"a\":[[{}],[2]],\"b\":1}"));
	expect_miss(&r, LIT("{\"a\":[ [1],[2]],\"b\":1}"));       /* whitespace */
	expect_miss(&r, LIT("{\"a\":[[1], [2]],\"b\":1}"));
	expect_miss(&r, LIT("{\"a\":[[1],[2] ],\"b\":1}"));
	/* an array of a slot and a scalar */
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"a\":[[1,2],3],\"b\":0}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"a\":[[],\"x\"],\"b\":1}"), v, NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"a\":[[7,8,9],null],\"b\":1}"), v, NULL));
	expect_miss(&r, LIT("{\"a\":[[],[]],\"b\":1}"));
	expect_miss(&r, LIT("{\"a\":[3,[1]],\"b\":1}"));
	rig_close(&r);

	/* a pointer into an inner array: the inner arrays are not slots */
	rig_open(&r, inner_ptr, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"a\":[[1,2],[3]],\"b\":0}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"a\":[[5,6],[\"x\"]],\"b\":1}"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "x", 1));
	expect_miss(&r, LIT("{\"a\":[[5],[6]],\"b\":1}"));
	expect_miss(&r, LIT("{\"a\":[[5,6],[]],\"b\":1}"));
	rig_close(&r);

	/* pointer tokens are compared decoded: "a~1b" is the member "a/b" */
	rig_open(&r, slash_ptr, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"a/b\":[1,2]}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"a/b\":[3,\"x\"]}"), v, NULL));
	CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "x", 1));
	expect_miss(&r, LIT("{\"a/b\":[3]}"));
	expect_miss(&r, LIT("{\"a/b\":[3,4,5]}"));
	rig_close(&r);
	rig_open(&r, other_slash_ptr, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"a/b\":[1,2]}"), NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"a/b\":[3]}"), v, NULL));
	CU_ASSERT(is_absent(&v[0]));
	CU_ASSERT(checked_match(&r, LIT("{\"a/b\":[3,4,5]}"), v, NULL));
	rig_close(&r);

	/* the root array as a slot; whitespace around it is skeleton */
	rig_open(&r, no_ptr, 0);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("[1,\"a\"]"), NULL));
	CU_ASSERT(checked_match(&r, LIT("[]"), v, NULL));
	CU_ASSERT(checked_match(&r, LIT("[ ]"), v, NULL));
	CU_ASSERT(checked_match(&r, LIT("[null,2,\"c\",true]"), v, NULL));
	expect_miss(&r, LIT(" []"));
	expect_miss(&r, LIT("[1] "));
	expect_miss(&r, LIT("[1]]"));
	expect_miss(&r, LIT("[[1]]"));
	expect_miss(&r, LIT("1"));
	rig_close(&r);
}

/* A document {"tags":[1,...],"id":5} with n elements (head and tail are
 * around the elements). */
static size_t tags_doc(char *out, size_t cap, const char *head, unsigned n,
		       const char *tail)
{
	return repeat_doc(out, cap, head, "1", ",", n, tail);
}

/*
 * ST_JSON_WALK_FIELDS_MAX: a document whose schema updates (counted by
 * hand: one per member and element outside the root) would pass 256 does
 * not match; one of exactly 256 does.
 */
static void test_array_slot_fields_limit(void)
{
	static const char *const id_ptr[] = { "/id" };
	static const char *const x_ptr[] = { "/x" };
	static const char *const c_ptr[] = { "/c" };
	static const unsigned two_slots[][3] = {
		/* elements of "/a", of "/b", whether it matches */
		{ 100, 153, 1 }, { 100, 154, 0 }, { 0, 253, 1 }, { 253, 0, 1 },
		{ 254, 0, 0 }, { 0, 254, 0 }, { 127, 127, 0 }, { 127, 126, 1 },
	};
	static char doc[1 << 20];
	struct st_json_scan_stats st = { 0 }, ref = { 0 };
	struct st_json_value v[1];
	struct rig r;
	size_t len;

	/* "/tags" 1, "/tags/" "*" n, "/id" 1: n + 2 */
	rig_open(&r, id_ptr, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"tags\":[\"a\",\"b\"],\"id\":1}"), NULL));
	len = tags_doc(doc, sizeof(doc), "{\"tags\":[", 254, "],\"id\":5}");
	CU_ASSERT(checked_match(&r, doc, len, v, &st));
	CU_ASSERT(is_number(&v[0], "5", 5));
	CU_ASSERT_EQUAL(st.schema_updates, 256);
	CU_ASSERT_EQUAL(st.walk_fields_limited, 0);
	len = tags_doc(doc, sizeof(doc), "{\"tags\":[", 255, "],\"id\":5}");
	expect_miss(&r, doc, len);
	/* (the full scan meets its limit there) */
	CU_ASSERT_EQUAL(st_json_scan(r.plan, (const uint8_t *)doc, len, v, scratch,
				     SCRATCH_BYTES, r.walk_set, &ref), 0);
	CU_ASSERT_EQUAL(ref.walk_fields_limited, 1);
	CU_ASSERT_EQUAL(ref.schema_updates, 256);
	len = tags_doc(doc, sizeof(doc), "{\"tags\":[", 100000, "],\"id\":5}");
	expect_miss(&r, doc, len);
	len = tags_doc(doc, sizeof(doc), "{\"tags\":[", 253, "],\"id\":5}");
	CU_ASSERT(checked_match(&r, doc, len, v, NULL));
	rig_close(&r);

	/* 200 objects (skeleton) and a slot: "/a" 1, "/a/" "*" 200, "/t" 1,
	 * "/t/" "*" n: 202 + n */
	rig_open(&r, x_ptr, 1);
	len = 0;
	append(doc, sizeof(doc), &len, "{\"a\":[", 1);
	append_list(doc, sizeof(doc), &len, "{}", 200);
	append(doc, sizeof(doc), &len, "],\"t\":[1]}", 1);
	CU_ASSERT_FATAL(len <= ST_JSON_TMPL_DOC_MAX);
	CU_ASSERT_FATAL(rig_learn(&r, doc, len, NULL));
	for (unsigned n = 53; n <= 55; n++) {
		size_t at = len - 4;  /* at the slot: "[1]}" */

		len = at;
		append(doc, sizeof(doc), &len, "[", 1);
		append_list(doc, sizeof(doc), &len, "true", n);
		append(doc, sizeof(doc), &len, "]}", 1);
		st = (struct st_json_scan_stats){ 0 };
		if (n <= 54) {
			CU_ASSERT(checked_match(&r, doc, len, v, &st));
			CU_ASSERT_EQUAL(st.schema_updates, 202 + n);
		} else {
			expect_miss(&r, doc, len);
		}
		len = at + 4;
		memcpy(doc + at, "[1]}", 4);
	}
	rig_close(&r);

	/* two slots: "/a" 1, "/b" 1, "/c" 1 and both slots' elements */
	rig_open(&r, c_ptr, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"a\":[1],\"b\":[2],\"c\":3}"), NULL));
	for (size_t i = 0; i < ST_ARRAY_SIZE(two_slots); i++) {
		len = 0;
		append(doc, sizeof(doc), &len, "{\"a\":[", 1);
		append_list(doc, sizeof(doc), &len, "\"e\"", two_slots[i][0]);
		append(doc, sizeof(doc), &len, "],\"b\":[", 1);
		append_list(doc, sizeof(doc), &len, "null", two_slots[i][1]);
		append(doc, sizeof(doc), &len, "],\"c\":\"c\"}", 1);
		st = (struct st_json_scan_stats){ 0 };
		if (two_slots[i][2]) {
			CU_ASSERT(checked_match(&r, doc, len, v, &st));
			CU_ASSERT_EQUAL(st.schema_updates,
					3 + two_slots[i][0] + two_slots[i][1]);
			CU_ASSERT(is_text(&v[0], ST_JSON_STRING, "c", 1));
		} else {
			expect_miss(&r, doc, len);
		}
	}
	rig_close(&r);
}

/* Numbers and strings far longer than the template's own. */
static void test_long_values(void)
{
	static const char *const ptrs[] = { "/s", "/n" };
	static char doc[8192], digits[1200];
	struct st_json_value v[2];
	struct rig r;
	int n;

	rig_open(&r, ptrs, 2);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"s\":\"a\",\"n\":1}"), NULL));
	n = sprintf(doc, "{\"s\":\"");
	memset(doc + n, 'z', 5000);
	n += 5000;
	n += sprintf(doc + n, "\",\"n\":7}");
	CU_ASSERT(checked_match(&r, doc, (size_t)n, v, NULL));
	CU_ASSERT(v[0].found && v[0].text_len == 5000);
	CU_ASSERT(is_number(&v[1], "7", 7));

	/* more than ST_JSON_NUMBER_TEXT_MAX digits: NAN */
	memset(digits, '9', 1100);
	n = sprintf(doc, "{\"s\":\"a\",\"n\":%.*s}", 1100, digits);
	CU_ASSERT(checked_match(&r, doc, (size_t)n, v, NULL));
	CU_ASSERT(v[1].found && v[1].type == ST_JSON_NUMBER &&
		  v[1].text_len == 1100 && isnan(v[1].number));
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"a\",\"n\":1e400}"), v, NULL));
	CU_ASSERT(is_number(&v[1], "1e400", HUGE_VAL));
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"a\",\"n\":-1e400}"), v, NULL));
	CU_ASSERT(is_number(&v[1], "-1e400", -HUGE_VAL));
	CU_ASSERT(checked_match(&r, LIT("{\"s\":\"a\",\"n\":2.5e-320}"), v, NULL));
	CU_ASSERT(is_number(&v[1], "2.5e-320", 2.5e-320));
	rig_close(&r);
}

/* ---- what cannot be learnt ------------------------------------------------ */

/* Learns `doc` with one pointer; the outcome must be `learnable`.  A
 * template learnt before is forgotten by a refused learn, and a learnt
 * document matches itself (its only escaped strings are not captured). */
static void check_learn(const char *ptr, const char *doc, size_t len,
			bool learnable)
{
	struct st_json_value v[1];
	struct rig r;
	bool learnt;

	rig_open(&r, &ptr, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("0"), NULL));
	CU_ASSERT(checked_match(&r, LIT("7"), v, NULL));
	learnt = rig_learn(&r, doc, len, NULL);
	if (learnt != learnable)
		fprintf(stderr, "learn %s (pointer \"%s\"): %.*s...\n",
			learnt ? "took" : "refused", ptr, (int)ST_MIN(len, 80), doc);
	CU_ASSERT_EQUAL(learnt, learnable);
	if (!learnable) {
		expect_miss(&r, doc, len);
		expect_miss(&r, LIT("7"));
	} else {
		CU_ASSERT(checked_match(&r, doc, len, v, NULL));
	}
	rig_close(&r);
}

/* n containers nested in one another: n - 1 times `open`, the innermost
 * `inner`, n - 1 times `close`. */
static size_t nest_doc(char *out, size_t cap, const char *open,
		       const char *inner, const char *close, unsigned n)
{
	size_t len = 0;

	append(out, cap, &len, open, n - 1);
	append(out, cap, &len, inner, 1);
	append(out, cap, &len, close, n - 1);
	return len;
}

static void test_learn_refusals(void)
{
	static const struct {
		const char *ptr, *doc;
		bool learnable;
	} cases[] = {
		{ "/user", "{\"user\":{\"id\":1}}", false },   /* an object */
		{ "/tags", "{\"tags\":[1,2]}", false },         /* an array */
		{ "/a/1", "{\"a\":[[1,2],[3]]}", false },       /* an array slot */
		{ "", "{\"a\":1}", false },                     /* the document */
		{ "", "[]", false },
		{ "", "[1,2]", false },
		{ "/id", "{\"id\":\"a\\nb\"}", false },         /* escapes */
		{ "/id", "{\"id\":\"\\u0041\"}", false },
		{ "/x", "{\"a\\u0062\":1}", false },            /* escaped names */
		{ "/id", "{\"id\":1,\"x\\\"y\":2}", false },
		{ "/id", "{\"id\":1,\"o\":{\"a\\/b\":[1]}}", false },
		{ "/id", "{\"id\":1,\"t\":[{\"\\n\":0}]}", false },
		{ "/user/id", "{\"user\":{\"id\":1}}", true },
		{ "/id", "{\"id\":\"ab\",\"n\":\"a\\nb\"}", true },
		{ "/id", "{\"id\":1,\"t\":[\"a\\nb\",2]}", true },
		{ "/id", "{\"id\":1,\"caf\xc3\xa9\":[0]}", true }, /* UTF-8 name */
		{ "/id", "{\"id\":1,\"a/b~\":[true]}", true },
		{ "/tags/0", "{\"tags\":[1,2]}", true },
		{ "/x", "{\"tags\":[1,2]}", true },
		{ "/b", "{\"a\":[[1,2],[3]]}", true },
		{ "", "42", true },                             /* scalar roots */
		{ "", "\"abc\"", true },
		{ "", "null", true },
		{ "/x", "{}", true },
	};
	static char doc[8192], name[128];
	size_t len;

	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++)
		check_learn(cases[i].ptr, cases[i].doc, strlen(cases[i].doc),
			    cases[i].learnable);

	/* document bytes: {"s":"xx...x"} of 1024 and 1025 bytes */
	for (unsigned extra = 0; extra <= 1; extra++) {
		len = (size_t)sprintf(doc, "{\"s\":\"");
		memset(doc + len, 'x', ST_JSON_TMPL_DOC_MAX - 8 + extra);
		len += ST_JSON_TMPL_DOC_MAX - 8 + extra;
		len += (size_t)sprintf(doc + len, "\"}");
		CU_ASSERT_EQUAL(len, ST_JSON_TMPL_DOC_MAX + extra);
		check_learn("/s", doc, len, extra == 0);
	}
	/*
	 * slots: 64 and 65 numbers in an array a pointer reaches into (a slot
	 * each), at the root or beside "/b" (63 or 64 elements and "/b"); the
	 * same array is one slot when no pointer reaches into it, however
	 * long; 64 and 65 array slots
	 */
	for (unsigned extra = 0; extra <= 1; extra++) {
		len = repeat_doc(doc, sizeof(doc), "[", "1", ",",
				 ST_JSON_TMPL_SLOTS_MAX + extra, "]");
		check_learn("/0", doc, len, extra == 0);
		len = repeat_doc(doc, sizeof(doc), "{\"a\":[", "1", ",",
				 ST_JSON_TMPL_SLOTS_MAX - 1 + extra, "],\"b\":1}");
		check_learn("/a/0", doc, len, extra == 0);
		check_learn("/b", doc, len, true);
		len = repeat_doc(doc, sizeof(doc), "{\"a\":[", "[1]", ",",
				 ST_JSON_TMPL_SLOTS_MAX + extra, "]}");
		check_learn("/b", doc, len, extra == 0);
	}
	len = repeat_doc(doc, sizeof(doc), "{\"a\":[", "1", ",",
			 ST_JSON_TMPL_SLOTS_MAX + 100, "],\"b\":1}");
	check_learn("/b", doc, len, true);
	/* distinct paths: 24 and 25 members */
	for (unsigned extra = 0; extra <= 1; extra++) {
		len = (size_t)sprintf(doc, "{");
		for (unsigned i = 0; i < ST_JSON_TMPL_PATHS_MAX + extra; i++)
			len += (size_t)sprintf(doc + len, "%s\"k%02u\":%u",
					       i ? "," : "", i, i);
		len += (size_t)sprintf(doc + len, "}");
		check_learn("/k00", doc, len, extra == 0);
	}
	/* path bytes: "/" and a name of 62 bytes is 63 bytes, 63 is too long;
	 * the same under a parent and for the elements of an array slot; a
	 * path far longer, and one past the walk's path limit
	 * (ST_JSON_PATH_MAX) */
	for (unsigned extra = 0; extra <= 1; extra++) {
		memset(name, 'n', sizeof(name));
		len = (size_t)sprintf(doc, "{\"%.*s\":1}",
				      ST_SCHEMA_PATH_MAX - 2 + (int)extra, name);
		check_learn("/x", doc, len, extra == 0);
		len = (size_t)sprintf(doc, "{\"a\":{\"%.*s\":1}}",
				      ST_SCHEMA_PATH_MAX - 4 + (int)extra, name);
		check_learn("/a/x", doc, len, extra == 0);
		/* the elements of an array slot: "/" name "/" "*" */
		len = (size_t)sprintf(doc, "{\"%.*s\":[1]}",
				      ST_SCHEMA_PATH_MAX - 4 + (int)extra, name);
		check_learn("/x", doc, len, extra == 0);
	}
	len = (size_t)sprintf(doc, "{\"%.*s\":1}", 100, name);
	check_learn("/x", doc, len, false);
	len = (size_t)sprintf(doc, "{\"x\":1,\"");
	memset(doc + len, 'p', 600);
	len += 600;
	len += (size_t)sprintf(doc + len, "\":2}");
	check_learn("/x", doc, len, false);
	/* more paths than a template holds, learnt with a scratch set big
	 * enough for them all: still refused */
	{
		const char *ptr = "/k00";
		struct st_json_plan *plan = st_json_plan_create(&ptr, 1);
		struct st_schema *big = st_schema_create(64);
		struct st_json_tmpl *t = st_json_tmpl_create();
		struct st_json_value v[1];

		CU_ASSERT_FATAL(plan && big && t);
		len = (size_t)sprintf(doc, "{");
		for (unsigned i = 0; i < 30; i++)
			len += (size_t)sprintf(doc + len, "%s\"k%02u\":%u", i ? "," : "", i, i);
		len += (size_t)sprintf(doc + len, "}");
		CU_ASSERT_EQUAL_FATAL(st_json_scan(plan, (const uint8_t *)doc, len, v,
						   scratch, SCRATCH_BYTES, NULL, NULL), 0);
		CU_ASSERT_FALSE(st_json_tmpl_learn(t, plan, (const uint8_t *)doc, len,
						   v, big));
		st_json_tmpl_destroy(t);
		st_schema_destroy(big);
		st_json_plan_destroy(plan);
	}
	/*
	 * Nesting: n containers in one another give n - 1 distinct paths, so
	 * 25 (24 paths) are learnt and 26 are not.  The depth bound
	 * (ST_JSON_WALK_DEPTH_MAX, 32) lies beyond that one, so 31, 32, 33
	 * and deeper are refused whichever bound says so first.
	 */
	{
		static const unsigned depths[] = { 24, 25, 26, 31, 32, 33, 40, 65 };

		for (size_t i = 0; i < ST_ARRAY_SIZE(depths); i++) {
			bool ok = depths[i] <= ST_JSON_TMPL_PATHS_MAX + 1;

			len = nest_doc(doc, sizeof(doc), "[", "[]", "]", depths[i]);
			check_learn("/x", doc, len, ok);
			len = nest_doc(doc, sizeof(doc), "{\"\":", "{}", "}", depths[i]);
			check_learn("/x", doc, len, ok);
		}
	}
	/* nesting 65 deep with a value (too many paths, too long ones,
	 * deeper than the walk) */
	len = repeat_doc(doc, sizeof(doc), "", "[", "", 65, "1");
	len += (size_t)sprintf(doc + len, "%.*s", 65,
			       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
			       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	check_learn("/x", doc, len, false);
	/*
	 * The walk's field limit met in the document (ST_JSON_WALK_FIELDS_MAX
	 * updates are not a limit met, one more is): "/a" and 255 or 256
	 * elements, in an array slot or in skeleton.
	 */
	for (unsigned extra = 0; extra <= 1; extra++) {
		len = repeat_doc(doc, sizeof(doc), "{\"a\":[", "1", ",",
				 ST_JSON_WALK_FIELDS_MAX - 1 + extra, "]}");
		CU_ASSERT_FATAL(len <= ST_JSON_TMPL_DOC_MAX);
		check_learn("/b", doc, len, extra == 0);
		len = repeat_doc(doc, sizeof(doc), "{\"a\":[", "{}", ",",
				 ST_JSON_WALK_FIELDS_MAX - 1 + extra, "]}");
		CU_ASSERT_FATAL(len <= ST_JSON_TMPL_DOC_MAX);
		check_learn("/b", doc, len, extra == 0);
	}
}

/* ---- owed updates by hand ------------------------------------------------- */

static void test_flush_learn_retire(void)
{
	static const char *const ptrs[] = { "/id" };
	struct st_schema *set = st_schema_create(8);
	const struct st_schema_entry *e;
	struct st_json_value v[1];
	struct rig r;

	CU_ASSERT_FATAL(set != NULL);
	rig_open(&r, ptrs, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"id\":1,\"ok\":true}"), set));
	CU_ASSERT_EQUAL(count_of(set, "/id"), 1);
	for (int i = 0; i < 3; i++)
		CU_ASSERT(checked_match(&r, LIT("{\"id\":2,\"ok\":true}"), v, NULL));
	CU_ASSERT_EQUAL(count_of(set, "/id"), 1);   /* owed until the flush */
	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/id"), 4);
	CU_ASSERT_EQUAL(count_of(set, "/ok"), 4);
	e = st_schema_find(set, st_hash64("/ok", 3));
	CU_ASSERT(e && e->type_mask == ST_JSON_TRUE);
	st_json_tmpl_flush(r.t, set);               /* nothing more owed */
	CU_ASSERT_EQUAL(count_of(set, "/id"), 4);
	CU_ASSERT_EQUAL(st_json_tmpl_hits(r.t), 3); /* kept by a flush */

	/* a learn drops what is owed and resets the hit count */
	CU_ASSERT(checked_match(&r, LIT("{\"id\":3,\"ok\":true}"), v, NULL));
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"id\":9,\"ok\":true}"), set));
	CU_ASSERT_EQUAL(st_json_tmpl_hits(r.t), 0);
	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/id"), 5);

	/* a retire flushes, then the template matches nothing */
	CU_ASSERT(checked_match(&r, LIT("{\"id\":3,\"ok\":true}"), v, NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"id\":4,\"ok\":true}"), v, NULL));
	st_json_tmpl_retire(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/id"), 7);
	expect_miss(&r, LIT("{\"id\":3,\"ok\":true}"));
	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/id"), 7);
	CU_ASSERT_EQUAL(st_schema_size(set), 2);
	CU_ASSERT_EQUAL(st_schema_overflow(set), 0);

	/* the types matches saw are OR-ed in at the flush, not before */
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"id\":1,\"ok\":true}"), set));
	CU_ASSERT(checked_match(&r, LIT("{\"id\":\"x\",\"ok\":false}"), v, NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"id\":null,\"ok\":false}"), v, NULL));
	CU_ASSERT_EQUAL(types_of(set, "/id"), ST_JSON_NUMBER);
	CU_ASSERT_EQUAL(types_of(set, "/ok"), ST_JSON_TRUE);
	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/id"), 10);
	CU_ASSERT_EQUAL(types_of(set, "/id"), ST_JSON_NUMBER | ST_JSON_STRING | ST_JSON_NULL);
	CU_ASSERT_EQUAL(count_of(set, "/ok"), 10);
	CU_ASSERT_EQUAL(types_of(set, "/ok"), ST_JSON_TRUE | ST_JSON_FALSE);
	rig_close(&r);
	st_schema_destroy(set);
}

/* The elements of array slots, owed until a flush, dropped by a learn. */
static void test_array_slot_owed(void)
{
	static const char *const ptrs[] = { "/id" };
	struct st_schema *set = st_schema_create(8);
	struct st_json_value v[1];
	struct rig r;

	CU_ASSERT_FATAL(set != NULL);
	rig_open(&r, ptrs, 1);
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"id\":1,\"t\":[\"a\"],\"u\":[[1],[2,3]]}"),
				  set));
	CU_ASSERT_EQUAL(count_of(set, "/t/*"), 1);
	CU_ASSERT_EQUAL(count_of(set, "/u/*"), 2);
	CU_ASSERT_EQUAL(count_of(set, "/u/*/*"), 3);
	CU_ASSERT(checked_match(&r, LIT("{\"id\":2,\"t\":[1,2,3],\"u\":[[],[null]]}"),
				v, NULL));
	CU_ASSERT(checked_match(&r, LIT("{\"id\":3,\"t\":[],\"u\":[[true,4],[]]}"),
				v, NULL));
	CU_ASSERT_EQUAL(count_of(set, "/t/*"), 1);  /* owed */
	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/t"), 3);
	CU_ASSERT_EQUAL(count_of(set, "/t/*"), 1 + 3 + 0);
	CU_ASSERT_EQUAL(types_of(set, "/t/*"), ST_JSON_STRING | ST_JSON_NUMBER);
	CU_ASSERT_EQUAL(count_of(set, "/u/*"), 6);
	CU_ASSERT_EQUAL(count_of(set, "/u/*/*"), 3 + 1 + 2);
	CU_ASSERT_EQUAL(types_of(set, "/u/*/*"),
			ST_JSON_NUMBER | ST_JSON_NULL | ST_JSON_TRUE);
	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/t/*"), 4);

	/* only empty arrays since the last flush: nothing for "/t/" "*" */
	CU_ASSERT(checked_match(&r, LIT("{\"id\":4,\"t\":[],\"u\":[[],[]]}"), v, NULL));
	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/t"), 4);
	CU_ASSERT_EQUAL(count_of(set, "/t/*"), 4);
	CU_ASSERT_EQUAL(count_of(set, "/u/*/*"), 6);

	/* a learn drops the owed elements; a retire flushes them */
	CU_ASSERT(checked_match(&r, LIT("{\"id\":5,\"t\":[false,false],\"u\":[[],[]]}"),
				v, NULL));
	CU_ASSERT_FATAL(rig_learn(&r, LIT("{\"id\":1,\"t\":[\"a\"],\"u\":[[1],[2,3]]}"),
				  NULL));
	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/t/*"), 4);
	CU_ASSERT_EQUAL(types_of(set, "/t/*"), ST_JSON_STRING | ST_JSON_NUMBER);
	CU_ASSERT(checked_match(&r, LIT("{\"id\":6,\"t\":[false,\"b\"],\"u\":[[],[]]}"),
				v, NULL));
	st_json_tmpl_retire(r.t, set);
	CU_ASSERT_EQUAL(count_of(set, "/t/*"), 6);
	CU_ASSERT_EQUAL(types_of(set, "/t/*"),
			ST_JSON_STRING | ST_JSON_NUMBER | ST_JSON_FALSE);
	expect_miss(&r, LIT("{\"id\":6,\"t\":[],\"u\":[[],[]]}"));
	CU_ASSERT_EQUAL(st_schema_size(set), 6);
	CU_ASSERT_EQUAL(st_schema_overflow(set), 0);
	rig_close(&r);
	st_schema_destroy(set);
}

/* ---- schema sets: eager scans against matches and flushes ----------------- */

struct stream {
	const char *name;
	const char *ptrs[4];
	unsigned n_ptrs;
	bool learnable;        /* the first document can be a template */
	const char *docs[16];  /* NULL-terminated */
};

struct stream_counts {
	unsigned hits, misses;
	bool first_learnt;
};

/*
 * The stream into two sets of `capacity` entries: `eager` gets a scan of
 * every document; `lazy` a scan of the first valid one, which is learnt,
 * then a match of each later one or, on a miss, a scan (when `relearn`,
 * an accepted scan is followed by a flush and a learn of that document).
 * Before document `retire_at` the template is retired, both sets are
 * compared and reset, and the next valid document is learnt anew.  At the
 * end, after a flush, the sets and stats must be equal.
 */
static void run_stream(const struct stream *s, unsigned capacity,
		       unsigned retire_at, bool relearn, struct stream_counts *c)
{
	struct st_schema *eager = st_schema_create(capacity);
	struct st_schema *lazy = st_schema_create(capacity);
	struct st_json_scan_stats se = { 0 }, sl = { 0 };
	struct st_json_value v[ST_JSON_POINTERS_MAX];
	bool first = true, equal;
	struct rig r;

	CU_ASSERT_FATAL(eager && lazy);
	rig_open(&r, s->ptrs, s->n_ptrs);
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; s->docs[i]; i++) {
		const char *d = s->docs[i];
		size_t len = strlen(d);
		int rc, rc_lazy;

		if (i == retire_at) {
			st_json_tmpl_retire(r.t, lazy);
			CU_ASSERT(same_sets(eager, lazy));
			st_schema_reset(eager);
			st_schema_reset(lazy);
			first = true;
		}
		rc = st_json_scan(r.plan, (const uint8_t *)d, len, v, scratch,
				  SCRATCH_BYTES, eager, &se);
		if (!first) {
			if (checked_match(&r, d, len, v, &sl)) {
				c->hits++;
				continue;
			}
			c->misses++;
		}
		rc_lazy = st_json_scan(r.plan, (const uint8_t *)d, len, v, scratch,
				       SCRATCH_BYTES, lazy, &sl);
		CU_ASSERT_EQUAL(rc_lazy, rc);
		if (rc_lazy == 0 && (first || relearn)) {
			bool learnt;

			st_json_tmpl_flush(r.t, lazy);
			learnt = rig_learn_values(&r, d, len, v);
			if (i == 0)
				c->first_learnt = learnt;
			first = false;
		}
	}
	st_json_tmpl_flush(r.t, lazy);
	equal = same_sets(eager, lazy) && same_stats(&se, &sl);
	if (!equal) {
		fprintf(stderr, "stream %s (capacity %u, retire at %u, relearn %d):\n",
			s->name, capacity, retire_at, relearn);
		dump_set("eager", eager);
		dump_set("templates", lazy);
	}
	CU_ASSERT(equal);
	rig_close(&r);
	st_schema_destroy(lazy);
	st_schema_destroy(eager);
}

/* Every stream at three capacities, with and without a retire halfway,
 * with and without relearning on a miss. */
static void run_stream_everyway(const struct stream *s)
{
	static const unsigned capacities[] = { SET_MAX, 3, 2 };
	unsigned ndocs = 0;

	while (s->docs[ndocs])
		ndocs++;
	for (size_t k = 0; k < ST_ARRAY_SIZE(capacities); k++) {
		for (unsigned mode = 0; mode < 4; mode++) {
			struct stream_counts c;

			run_stream(s, capacities[k], mode & 1 ? ndocs / 2 : UINT32_MAX,
				   mode & 2, &c);
			CU_ASSERT_EQUAL(c.first_learnt, s->learnable);
			if (s->learnable && c.hits == 0)
				fprintf(stderr, "stream %s: no hit\n", s->name);
			if (s->learnable)
				CU_ASSERT(c.hits > 0);
			CU_ASSERT(c.hits + c.misses > 0);
		}
	}
}

static void test_schema_equal_to_eager_scans(void)
{
	static char fields[4][2048], slot_fields[6][2048], long_path[4][1024];
	static char deep[3][512], wide[3][1024];
	static char name70[80], name600[620];
	static const unsigned slot_elems[6] = { 254, 255, 2, 300, 0, 253 };
	size_t n;

	/* the walk's field limit: 260 elements in a document no template
	 * takes */
	for (unsigned i = 0; i < 4; i++) {
		n = 0;
		append(fields[i], sizeof(fields[i]), &n, "{\"a\":[{}", 1);
		append(fields[i], sizeof(fields[i]), &n, ",{}", ST_JSON_WALK_FIELDS_MAX + 3);
		n += (size_t)snprintf(fields[i] + n, sizeof(fields[i]) - n,
				      "],\"b\":%u}", i * 37);
	}
	/* and in documents of one shape with an array slot: "/a", "/b" and
	 * the elements are 256, 257, 4, 302, 2 and 255 updates */
	for (unsigned i = 0; i < 6; i++) {
		n = 0;
		append(slot_fields[i], sizeof(slot_fields[i]), &n, "{\"a\":[", 1);
		append_list(slot_fields[i], sizeof(slot_fields[i]), &n,
			    i % 2 ? "\"s\"" : "7", slot_elems[i]);
		n += (size_t)snprintf(slot_fields[i] + n, sizeof(slot_fields[i]) - n,
				      "],\"b\":%u}", i);
	}
	/* the walk's path limit (a name of 600 bytes) and a path of 70
	 * bytes, in documents no template takes */
	memset(name600, 'p', 600);
	memset(name70, 'q', 70);
	for (unsigned i = 0; i < 4; i++) {
		snprintf(long_path[i], sizeof(long_path[i]),
			 "{\"%s\":%u,\"x\":\"v%u\"}", i < 2 ? name600 : name70, i, i);
	}
	/* deeper than the walk: 40 objects of empty names (32 walked paths,
	 * too many for a template), 40 arrays */
	for (unsigned i = 0; i < 2; i++) {
		n = 0;
		append(deep[i], sizeof(deep[i]), &n, "{\"a\":1,\"d\":", 1);
		append(deep[i], sizeof(deep[i]), &n, "{\"\":", 40);
		append(deep[i], sizeof(deep[i]), &n, i ? "\"x\"" : "2", 1);
		append(deep[i], sizeof(deep[i]), &n, "}", 41);
	}
	n = 0;
	append(deep[2], sizeof(deep[2]), &n, "[", 40);
	append(deep[2], sizeof(deep[2]), &n, "]", 40);
	/* 24, 25 and 24 distinct paths */
	for (unsigned w = 0; w < 3; w++) {
		n = 0;
		append(wide[w], sizeof(wide[w]), &n, "{", 1);
		for (unsigned i = 0; i < ST_JSON_TMPL_PATHS_MAX + (w == 1); i++)
			n += (size_t)snprintf(wide[w] + n, sizeof(wide[w]) - n,
					      "%s\"f%u\":%u", i ? "," : "", i,
					      i * (w + 1));
		append(wide[w], sizeof(wide[w]), &n, "}", 1);
	}

	const struct stream streams[] = {
		{ "flat", { "/id", "/name", "/ok" }, 3, true, {
			"{\"id\":1,\"name\":\"a\",\"ok\":true}",
			"{\"id\":2,\"name\":\"bob\",\"ok\":true}",
			"{\"id\":3,\"name\":\"carol\",\"ok\":true}",
			"{\"id\":4,\"name\":\"d\",\"ok\":false}",
			"{\"id\":5,\"name\":\"e\\u00e9\",\"ok\":true}",
			"{\"id\":6,\"name\":\"f\",\"ok\":true,\"x\":null}",
			"{\"id\":7,\"name\":\"g\",\"ok\":tru}",
			"{\"id\":8,\"name\":\"h\",\"ok\":true}",
			"{\"id\":\"9\",\"name\":\"i\",\"ok\":true}",
			"{\"id\":10,\"name\":\"j\",\"ok\":true}",
			"{\"id\":11,\"name\":\"k\",\"ok\":true}",
			"{\"id\":12,\"name\":\"l\",\"ok\":false}",
			"{\"id\":13,\"name\":\"m\",\"ok\":false}",
			NULL } },
		{ "nested", { "/user/id", "/items/1/sku", "/items/0/qty" }, 3, true, {
			"{\"user\":{\"id\":7,\"geo\":{\"lat\":1.5,\"lon\":-2}},"
			"\"items\":[{\"sku\":\"A\",\"qty\":1},{\"sku\":\"B\",\"qty\":2}]}",
			"{\"user\":{\"id\":8,\"geo\":{\"lat\":0,\"lon\":3e2}},"
			"\"items\":[{\"sku\":\"C\",\"qty\":5},{\"sku\":\"D\",\"qty\":6}]}",
			"{\"user\":{\"id\":9,\"geo\":null},"
			"\"items\":[{\"sku\":\"C\",\"qty\":5},{\"sku\":\"D\",\"qty\":6}]}",
			"{\"user\":{\"id\":10,\"geo\":{\"lat\":1,\"lon\":2}},"
			"\"items\":[{\"sku\":\"E\",\"qty\":1},{\"sku\":\"F\",\"qty\":2},"
			"{\"sku\":\"G\",\"qty\":3}]}",
			"{\"user\":{\"id\":11,\"geo\":{\"lat\":1,\"lon\":2}},"
			"\"items\":[{\"sku\":\"H\"},{\"sku\":\"I\",\"qty\":2,\"gift\":true}]}",
			"{\"user\":{\"id\":12,\"geo\":{\"lat\":-1,\"lon\":-2}},"
			"\"items\":[{\"sku\":\"J\",\"qty\":1},{\"sku\":\"K\",\"qty\":2}]}",
			"{\"user\":{\"id\":13,\"geo\":{\"lat\":1,\"lon\":2}},"
			"\"items\":[{\"sku\":\"L\",\"qty\":1},{\"sku\":\"M\",\"qty\":2}]",
			"{\"user\":{\"id\":\"u14\",\"geo\":{\"lat\":1,\"lon\":2}},"
			"\"items\":[{\"sku\":\"N\",\"qty\":1},{\"sku\":\"O\",\"qty\":2}]}",
			"{\"user\":{\"id\":15,\"geo\":{\"lat\":1,\"lon\":2}},"
			"\"items\":[{\"sku\":\"P\",\"qty\":1.5},{\"sku\":\"Q\",\"qty\":2}]}",
			"{\"user\":{\"id\":16,\"geo\":{\"lat\":1,\"lon\":2}},"
			"\"items\":[{\"sku\":\"R\",\"qty\":1},{\"sku\":\"S\",\"qty\":2}]}",
			NULL } },
		{ "fields limit first", { "/b" }, 1, false, {
			fields[0], fields[1], "{\"a\":[],\"b\":1}", fields[2],
			"{\"a\":[{}],\"b\":1}", fields[3], fields[1], NULL } },
		{ "fields limit", { "/b" }, 1, true, {
			"{\"a\":[1,2],\"b\":0}", slot_fields[0], slot_fields[1],
			slot_fields[2], slot_fields[3], slot_fields[4],
			slot_fields[5], slot_fields[1], slot_fields[0], NULL } },
		{ "path limit", { "/x" }, 1, true, {
			"{\"p\":0,\"x\":\"v\"}", long_path[0], "{\"p\":1,\"x\":\"w\"}",
			"{\"p\":2,\"x\":\"w\"}", long_path[1], long_path[2],
			"{\"p\":\"s\",\"x\":2}", "{\"p\":true,\"x\":3}", long_path[3],
			"{\"p\":3,\"x\":null}", "{\"p\":4,\"x\":\"z\"}", long_path[0],
			NULL } },
		{ "path limit first", { "/x" }, 1, false, {
			long_path[0], long_path[1], long_path[2], long_path[1],
			long_path[3], long_path[0], NULL } },
		{ "path too long first", { "/x" }, 1, false, {
			long_path[2], long_path[3], long_path[0], long_path[1],
			long_path[0], long_path[2], NULL } },
		{ "deep", { "/a" }, 1, true, {
			"{\"a\":1,\"d\":{}}", deep[0], "{\"a\":2,\"d\":{}}",
			"{\"a\":3,\"d\":{}}", deep[1], deep[2], "{\"a\":4,\"d\":{}}",
			"{\"a\":5,\"d\":{}}", deep[0], "{\"a\":6,\"d\":{}}", NULL } },
		{ "deep first", { "/a" }, 1, false, {
			deep[0], deep[1], "{\"a\":2,\"d\":{}}", deep[0],
			"{\"a\":3,\"d\":{}}", deep[2], "{\"a\":4,\"d\":{}}", NULL } },
		{ "24 paths", { "/f3" }, 1, true, {
			wide[0], wide[1], wide[2], wide[0], "{\"f0\":1}", wide[2],
			wide[0], wide[1], NULL } },
		{ "25 paths", { "/f3" }, 1, false, {
			wide[1], wide[0], wide[1], wide[2], "{\"f0\":1}", wide[1],
			NULL } },
		{ "scalar roots", { "" }, 1, true, {
			"1", "2", "\"s\"", "3.5", "true", "[1]", "4", "null", "5",
			NULL } },
		{ "kinds", { "/id", "/ok", "/v" }, 3, true, {
			"{\"id\":1,\"ok\":true,\"v\":null}",
			"{\"id\":\"a\",\"ok\":false,\"v\":1}",
			"{\"id\":2,\"ok\":null,\"v\":\"s\"}",
			"{\"id\":1,\"ok\":true,\"v\":{}}",
			"{\"id\":true,\"ok\":1.5,\"v\":\"x\\ny\"}",
			"{\"id\":3,\"ok\":\"t\",\"v\":[]}",
			"{\"id\":false,\"ok\":true,\"v\":-1}",
			"{\"id\":null,\"ok\":\"\",\"v\":false}",
			"{\"id\":\"caf\xc3\xa9\",\"ok\":true,\"v\":0}",
			"{\"id\":4,\"ok\":true,\"v\":1e5}",
			NULL } },
		{ "tags", { "/id" }, 1, true, {
			"{\"id\":1,\"tags\":[\"a\",\"b\"]}",
			"{\"id\":2,\"tags\":[]}",
			"{\"id\":3,\"tags\":[1,2,3,4,5]}",
			"{\"id\":4,\"tags\":[{}]}",
			"{\"id\":5,\"tags\":[ \"x\" , null ]}",
			"{\"id\":6,\"tags\":[\"a\\u0041\"]}",
			"{\"id\":7,\"tags\":[true]}",
			"{\"id\":8,\"tags\":[\"a\",\"b\"],\"x\":1}",
			"{\"id\":9,\"tags\":[[]]}",
			"{\"id\":\"10\",\"tags\":[false,false,false]}",
			"{\"id\":11,\"tags\":[]}",
			"{\"id\":12,\"tags\":[1,]}",
			"{\"id\":13,\"tags\":[\"q\",-0.5e-3,\"r\"]}",
			NULL } },
		{ "tags on the plan", { "/id", "/tags/1" }, 2, true, {
			"{\"id\":1,\"tags\":[\"a\",\"b\"]}",
			"{\"id\":2,\"tags\":[1,2]}",
			"{\"id\":3,\"tags\":[]}",
			"{\"id\":4,\"tags\":[]}",
			"{\"id\":5,\"tags\":[1,2,3]}",
			"{\"id\":6,\"tags\":[4,\"5\",6]}",
			"{\"id\":7,\"tags\":[ \"x\" , null ]}",
			"{\"id\":8,\"tags\":[ true , false ]}",
			"{\"id\":9,\"tags\":[null,\"x\"]}",
			"{\"id\":10,\"tags\":[false,\"b\"]}",
			"{\"id\":11,\"tags\":[\"c\\n\",\"b\"]}",
			NULL } },
		{ "nested arrays", { "/b" }, 1, true, {
			"{\"a\":[[1,2],[3]],\"b\":0}",
			"{\"a\":[[],[4,5,6]],\"b\":1}",
			"{\"a\":[[\"x\"],[null, 1]],\"b\":\"2\"}",
			"{\"a\":[[1,2]],\"b\":3}",
			"{\"a\":[[true],[]],\"b\":4}",
			"{\"a\":[[1],[2],[3]],\"b\":5}",
			"{\"a\":[[],[]],\"b\":6}",
			"{\"a\":[[{}],[]],\"b\":7}",
			"{\"a\":[[7,7,7,7,7,7,7,7],[false]],\"b\":8}",
			NULL } },
		{ "empty array first", { "/n" }, 1, true, {
			"{\"t\":[],\"n\":1}",
			"{\"t\":[1],\"n\":2}",
			"{\"t\":[],\"n\":\"3\"}",
			"{\"t\":[ ],\"n\":4}",
			"{\"t\":[\"a\",\"b\"],\"n\":5}",
			"{\"t\":[],\"n\":null}",
			NULL } },
		{ "root array", { "/x" }, 0, true, {
			"[1,\"a\"]", "[]", "[null,2,3]", " [1]", "[{}]", "[ true ]",
			"[\"\\n\"]", "[false,false]", NULL } },
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(streams); i++)
		run_stream_everyway(&streams[i]);
}

/* ---- generated corpus ----------------------------------------------------- */

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned pick(uint64_t *s, unsigned n)
{
	return (unsigned)(next(s) % n);
}

/*
 * Two generators: `shape` draws the structure (containers, member names,
 * whitespace outside arrays of scalars, the kind of each scalar) and
 * `value` the content of each scalar, so that one shape seed with other
 * value seeds gives documents of one shape with other values.  The value
 * generator also draws what an array slot may vary in: the length of an
 * array the shape made an array of scalars (0 too, now and then past the
 * walk's 256 fields), its elements' kinds and the whitespace around them;
 * and now and then a scalar of another kind than the shape's, a string
 * with an escape or UTF-8.  Every shape draw comes before and apart from
 * value draws, so the shape's sequence does not depend on the values.
 */
struct gen {
	uint64_t shape, value;
	char *p;
	size_t n, cap;
};

static void put(struct gen *g, const char *s, size_t k)
{
	if (g->n + k < g->cap) {
		memcpy(g->p + g->n, s, k);
		g->n += k;
	}
}

static void put_str(struct gen *g, const char *s)
{
	put(g, s, strlen(s));
}

static const char *const ws[] = { "", "", "", "", " ", "\n", "\t ", "\r\n  " };

static void gen_ws(struct gen *g)
{
	put_str(g, ws[pick(&g->shape, ST_ARRAY_SIZE(ws))]);
}

/* Whitespace inside an array of scalars: the value generator's, mostly
 * none. */
static void gen_value_ws(struct gen *g)
{
	if (pick(&g->value, 3) == 0)
		put_str(g, ws[pick(&g->value, ST_ARRAY_SIZE(ws))]);
}

/* Plain bytes of 0..60 (both sides of the 16-byte string loop), now and
 * then one escape or UTF-8 character among them. */
static void gen_string(struct gen *g)
{
	static const char plain[] = "abcXYZ019 _-.~/{}[]:,\x7f";
	static const char *const special[] = { "\\n", "\\\"", "\\\\", "\\/",
		"\\u00e9", "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80" };
	unsigned len = pick(&g->value, 61);
	unsigned at = pick(&g->value, 10) == 0 ? pick(&g->value, len + 1) : ~0u;

	put_str(g, "\"");
	for (unsigned i = 0; i <= len; i++) {
		if (i == at)
			put_str(g, special[pick(&g->value, ST_ARRAY_SIZE(special))]);
		if (i < len)
			put(g, &plain[pick(&g->value, sizeof(plain) - 1)], 1);
	}
	put_str(g, "\"");
}

static void gen_number(struct gen *g)
{
	static const char *const fixed[] = { "0", "-1", "12.5", "1e3", "-0.0",
		"1E+2", "-0", "0.5e-3", "123456789012345678901",
		"1.7976931348623157e308", "1e400", "-2.5E-320",
		"9007199254740993", "100000000000000000000000" };
	char text[64];
	/* one draw per statement: argument order is unspecified */
	unsigned form = pick(&g->value, 4);
	uint64_t bits = next(&g->value);
	unsigned a = pick(&g->value, 2001), b = pick(&g->value, 100000);
	int e = (int)pick(&g->value, 41) - 20;

	switch (form) {
	case 0:
		put_str(g, fixed[a % ST_ARRAY_SIZE(fixed)]);
		return;
	case 1:
		snprintf(text, sizeof(text), "%d", (int)a - 1000);
		break;
	case 2:
		snprintf(text, sizeof(text), "%llu",
			 (unsigned long long)(bits >> (b % 64)));
		break;
	default:
		snprintf(text, sizeof(text), "%s%u.%ue%d", bits & 1 ? "-" : "",
			 a % 1000, b, e);
		break;
	}
	put_str(g, text);
}

enum { KIND_STRING, KIND_NUMBER, KIND_TRUE, KIND_FALSE, KIND_NULL, KINDS };

/* A scalar of `kind` (the shape's), or 1 time in 8 of a kind the value
 * generator draws. */
static void gen_scalar(struct gen *g, unsigned kind)
{
	static const char *const lits[] = { "true", "false", "null" };

	if (pick(&g->value, 8) == 0)
		kind = pick(&g->value, KINDS);
	switch (kind) {
	case KIND_STRING:
		gen_string(g);
		break;
	case KIND_NUMBER:
		gen_number(g);
		break;
	default:
		put_str(g, lits[kind - KIND_TRUE]);
		break;
	}
}

/*
 * An array of scalars: the shape draws only its elements' usual kind; the
 * value generator its length (0..6; 1 time in 12, 225..260 short
 * elements, around the walk's 256 fields), each element's kind (mostly the
 * usual one) and the whitespace around elements and commas.
 */
static void gen_scalar_array(struct gen *g)
{
	unsigned kind = pick(&g->shape, KINDS);
	bool many = pick(&g->value, 12) == 0;
	unsigned n = many ? 225 + pick(&g->value, 36) : pick(&g->value, 7);

	put_str(g, "[");
	gen_value_ws(g);
	for (unsigned i = 0; i < n; i++) {
		if (i) {
			put_str(g, ",");
			gen_value_ws(g);
		}
		if (many)
			put_str(g, pick(&g->value, 2) ? "1" : "null");
		else
			gen_scalar(g, pick(&g->value, 4) ? kind : pick(&g->value, KINDS));
		gen_value_ws(g);
	}
	put_str(g, "]");
}

static void gen_value(struct gen *g, unsigned depth)
{
	static const char *const names[] = { "\"a\"", "\"b\"", "\"id\"", "\"0\"",
		"\"1\"", "\"tags\"", "\"a/b\"", "\"\"", "\"caf\xc3\xa9\"", "\"n\"",
		"\"ok\"", "\"ts\"", "\"t~s\"" };
	/* written with escapes, which no template takes: 1 name in 24 */
	static const char *const escaped[] = { "\"\\u0061\"", "\"x\\\"y\"" };
	unsigned kind, n;

	if (depth == 0)
		kind = pick(&g->shape, 10) < 8 ? 0 : pick(&g->shape, 9);
	else if (depth < 3)
		kind = pick(&g->shape, 9);
	else
		kind = 3 + pick(&g->shape, 6);
	switch (kind) {
	case 0:
	case 1:
		n = pick(&g->shape, 5);
		put_str(g, "{");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				put_str(g, ",");
			gen_ws(g);
			if (pick(&g->shape, 24) == 0)
				put_str(g, escaped[pick(&g->shape, ST_ARRAY_SIZE(escaped))]);
			else
				put_str(g, names[pick(&g->shape, ST_ARRAY_SIZE(names))]);
			gen_ws(g);
			put_str(g, ":");
			gen_ws(g);
			gen_value(g, depth + 1);
			gen_ws(g);
		}
		put_str(g, "}");
		break;
	case 2:
		/* an array of the shape's length, of any values */
		n = pick(&g->shape, 4);
		put_str(g, "[");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				put_str(g, ",");
			gen_ws(g);
			gen_value(g, depth + 1);
			gen_ws(g);
		}
		put_str(g, "]");
		break;
	case 3:
	case 8:
		gen_scalar_array(g);
		break;
	case 4:
	case 5:
		gen_scalar(g, KIND_STRING);
		break;
	case 6:
		gen_scalar(g, KIND_NUMBER);
		break;
	default:
		gen_scalar(g, KIND_TRUE + pick(&g->shape, 3));
		break;
	}
}

static size_t gen_doc(char *out, size_t cap, uint64_t shape, uint64_t value)
{
	struct gen g = { .shape = shape, .value = value, .p = out, .cap = cap };

	gen_ws(&g);
	gen_value(&g, 0);
	gen_ws(&g);
	return g.n;
}

/* A byte changed, dropped or doubled. */
static size_t mutate(char *doc, size_t len, size_t cap, uint64_t *rng)
{
	static const char bytes[] = "{}[],:\"\\0e-.tx \x01\x80\xff";
	size_t at;

	if (len == 0)
		return 0;
	at = pick(rng, (unsigned)len);
	switch (pick(rng, 3)) {
	case 0:
		doc[at] = bytes[pick(rng, sizeof(bytes) - 1)];
		return len;
	case 1:
		memmove(doc + at, doc + at + 1, len - at - 1);
		return len - 1;
	default:
		if (len + 1 >= cap)
			return len;
		memmove(doc + at + 1, doc + at, len - at);
		return len + 1;
	}
}

static const char *const corpus_ptrs[] = {
	"/a", "/b", "/id", "/0", "/1", "/tags", "/a~1b", "/x\"y", "/",
	"/caf\xc3\xa9", "/a/b", "/a/0", "/a/1", "/b/id", "/tags/0", "/tags/1",
	"/a/a", "/b/0/id", "/0/1", "/id/tags/1", "/a/b/0", "/n", "/ok", "/t~0s",
	"/tags/-", "/tags/01",
};

/*
 * A pointer for the plan: mostly a path the template's walk met, preferably
 * one of scalars (an array's "*" turned into an index 0..2), so that most
 * plans find values, and one outside arrays two times in three, so that
 * most arrays of scalars stay array slots; else one of corpus_ptrs, found
 * or not.
 */
static const char *corpus_ptr(uint64_t *rng, const struct st_schema_entry *e,
			      size_t n, char out[ST_SCHEMA_PATH_MAX + 1])
{
	const uint8_t containers = ST_JSON_OBJECT | ST_JSON_ARRAY;
	const struct st_schema_entry *pe = NULL;
	size_t o = 0;

	for (unsigned try = 0; n && try < 6; try++) {
		pe = &e[pick(rng, (unsigned)n)];
		if (pe->type_mask & containers)
			continue;
		if (memmem(pe->path, pe->path_len, "/*", 2) && pick(rng, 3) != 0)
			continue;
		break;
	}
	if (!pe || pe->path_len == ST_SCHEMA_PATH_MAX || pick(rng, 4) == 0)
		return corpus_ptrs[pick(rng, ST_ARRAY_SIZE(corpus_ptrs))];
	for (size_t i = 0; i < pe->path_len; i++) {
		bool star = i > 0 && pe->path[i] == '*' && pe->path[i - 1] == '/' &&
			    (i + 1 == pe->path_len || pe->path[i + 1] == '/');

		out[o++] = star ? (char)('0' + pick(rng, 3)) : pe->path[i];
	}
	out[o] = '\0';
	return out;
}

struct corpus_counts {
	unsigned variants, hits, valued_hits, misses, valid_misses, learns, refused;
	unsigned resized_hits;  /* schema updates other than the template's */
	unsigned kind_hits;     /* a found value of another type than learnt */
	unsigned long_hits;     /* more than 200 schema updates */
	unsigned fields_limited; /* variants past the walk's 256 fields */
};

static void add_stats(struct st_json_scan_stats *sum,
		      const struct st_json_scan_stats *one)
{
	sum->walk_depth_limited += one->walk_depth_limited;
	sum->walk_fields_limited += one->walk_fields_limited;
	sum->walk_path_limited += one->walk_path_limited;
	sum->schema_updates += one->schema_updates;
}

/* What a group remembers of its template: the learnt values' types and
 * the learnt document's schema updates. */
struct learnt {
	uint8_t type[ST_JSON_POINTERS_MAX];
	uint64_t updates;
};

static void corpus_learn(struct rig *r, const char *doc, size_t len,
			 const struct st_json_value *v,
			 const struct st_json_scan_stats *st, struct learnt *l,
			 struct corpus_counts *c)
{
	if (!rig_learn_values(r, doc, len, v)) {
		c->refused++;
		return;
	}
	c->learns++;
	for (unsigned i = 0; i < r->n; i++)
		l->type[i] = v[i].type;
	l->updates = st->schema_updates;
}

static void count_hit(const struct rig *r, const struct st_json_value *v,
		      const struct st_json_scan_stats *st,
		      const struct learnt *l, struct corpus_counts *c)
{
	bool found = false, kind = false;

	for (unsigned i = 0; i < r->n; i++) {
		found |= v[i].found;
		kind |= v[i].found && v[i].type != l->type[i];
	}
	c->hits++;
	c->valued_hits += found;
	c->kind_hits += kind;
	c->resized_hits += st->schema_updates != l->updates;
	c->long_hits += st->schema_updates > 200;
}

/*
 * One group: a template document A, a plan of 1..6 pointers (corpus_ptr(),
 * from A's paths walked into `paths`), and `variants` documents of A's
 * shape seed.  Every document goes to the eager set; A is scanned into the
 * template set and learnt; a variant is matched (checked_match) or, on a
 * miss, scanned into the template set and, when valid, learnt after a
 * flush.  The two sets and stats must end equal.
 */
static void corpus_group(uint64_t *rng, unsigned group, unsigned variants,
			 struct st_schema *paths, struct st_schema *eager,
			 struct st_schema *lazy, struct corpus_counts *c)
{
	static char doc[1 << 14];
	char ptr_text[6][ST_SCHEMA_PATH_MAX + 1];
	const char *ptrs[6];
	struct st_schema_entry e[SET_MAX];
	unsigned np = 1 + pick(rng, 6);
	uint64_t shape = next(rng);
	struct st_json_scan_stats se = { 0 }, sl = { 0 }, one = { 0 };
	struct st_json_value v[ST_JSON_POINTERS_MAX];
	struct learnt learnt = { { 0 }, 0 };
	size_t len, ne;
	struct rig r;
	int rc;

	len = gen_doc(doc, sizeof(doc), shape, next(rng));
	st_schema_reset(paths);
	CU_ASSERT_EQUAL_FATAL(st_json_scan(NULL, (const uint8_t *)doc, len, NULL,
					   NULL, 0, paths, NULL), 0);
	ne = st_schema_entries(paths, e, SET_MAX);
	for (unsigned i = 0; i < np; i++)
		ptrs[i] = corpus_ptr(rng, e, ne, ptr_text[i]);
	rig_open(&r, ptrs, np);
	st_schema_reset(eager);
	st_schema_reset(lazy);

	CU_ASSERT_EQUAL(st_json_scan(r.plan, (const uint8_t *)doc, len, v, scratch,
				     SCRATCH_BYTES, eager, &se), 0);
	rc = st_json_scan(r.plan, (const uint8_t *)doc, len, v, scratch,
			  SCRATCH_BYTES, lazy, &one);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	add_stats(&sl, &one);
	corpus_learn(&r, doc, len, v, &one, &learnt, c);

	for (unsigned k = 0; k < variants; k++) {
		uint64_t limited = se.walk_fields_limited;

		len = gen_doc(doc, sizeof(doc), shape, next(rng));
		if (pick(rng, 3) == 0)
			len = mutate(doc, len, sizeof(doc), rng);
		c->variants++;
		rc = st_json_scan(r.plan, (const uint8_t *)doc, len, v, scratch,
				  SCRATCH_BYTES, eager, &se);
		c->fields_limited += se.walk_fields_limited != limited;
		one = (struct st_json_scan_stats){ 0 };
		if (checked_match(&r, doc, len, v, &one)) {
			add_stats(&sl, &one);
			count_hit(&r, v, &one, &learnt, c);
			continue;
		}
		c->misses++;
		CU_ASSERT_EQUAL(st_json_scan(r.plan, (const uint8_t *)doc, len, v,
					     scratch, SCRATCH_BYTES, lazy, &one), rc);
		add_stats(&sl, &one);
		if (rc != 0)
			continue;
		c->valid_misses++;
		st_json_tmpl_flush(r.t, lazy);
		corpus_learn(&r, doc, len, v, &one, &learnt, c);
	}
	st_json_tmpl_flush(r.t, lazy);
	if (!same_sets(eager, lazy) || !same_stats(&se, &sl)) {
		fprintf(stderr, "corpus group %u: the sets or stats differ\n", group);
		dump_set("eager", eager);
		dump_set("templates", lazy);
		CU_FAIL("schema set of matches and flushes != eager scans");
	}
	rig_close(&r);
}

static void test_corpus_matches_equal_full_scan(void)
{
	const unsigned groups = 4000, variants = 8;
	struct st_schema *paths = st_schema_create(SET_MAX);
	struct st_schema *eager = st_schema_create(SET_MAX);
	struct st_schema *lazy = st_schema_create(SET_MAX);
	struct st_schema *small_eager[2] = { st_schema_create(3), st_schema_create(2) };
	struct st_schema *small_lazy[2] = { st_schema_create(3), st_schema_create(2) };
	struct corpus_counts c = { 0 };
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	CU_ASSERT_FATAL(paths && eager && lazy && small_eager[0] && small_lazy[0] &&
			small_eager[1] && small_lazy[1]);
	for (unsigned g = 0; g < groups; g++) {
		/* 1 group in 5 into sets of 3 or 2 entries, often full */
		unsigned small = g % 10 == 4 ? 1 : g % 10 == 9 ? 2 : 0;

		corpus_group(&rng, g, variants, paths,
			     small ? small_eager[small - 1] : eager,
			     small ? small_lazy[small - 1] : lazy, &c);
	}
	printf("\n  corpus: %u variants, %u hits (%u with values found, %u with "
	       "a value of another type, %u with other array lengths, %u past "
	       "200 fields), %u misses (%u valid, %u past 256 fields), "
	       "%u learns, %u refused\n", c.variants, c.hits, c.valued_hits,
	       c.kind_hits, c.resized_hits, c.long_hits, c.misses,
	       c.valid_misses, c.fields_limited, c.learns, c.refused);
	/* not vacuous: many hits, most with values, some with values of
	 * other types and arrays of other lengths, some near the walk's field
	 * limit; many misses of both kinds, many learns */
	CU_ASSERT(c.hits * 10 > c.variants * 3);
	CU_ASSERT(c.valued_hits * 3 > c.hits);
	CU_ASSERT(c.kind_hits * 20 > c.hits);
	CU_ASSERT(c.resized_hits * 10 > c.hits);
	CU_ASSERT(c.long_hits > 20);
	CU_ASSERT(c.fields_limited > 20);
	CU_ASSERT(c.misses * 10 > c.variants);
	CU_ASSERT(c.valid_misses * 20 > c.variants);
	CU_ASSERT(c.learns > groups);
	CU_ASSERT(c.refused > 0);
	for (unsigned i = 0; i < 2; i++) {
		st_schema_destroy(small_lazy[i]);
		st_schema_destroy(small_eager[i]);
	}
	st_schema_destroy(lazy);
	st_schema_destroy(eager);
	st_schema_destroy(paths);
}

/* ---- st_json_tmpl_scan(): the scanner's policy ---------------------------- */

/* One document through st_json_tmpl_scan(), its result against
 * st_json_scan() of the same document into a second set; the path taken. */
static enum st_json_tmpl_how policy_scan(struct rig *r, struct st_schema *set,
					 struct st_schema *eager, const char *doc)
{
	struct st_json_value v[4], ref[4];
	enum st_json_tmpl_how how;
	size_t len = strlen(doc);
	int rc = st_json_tmpl_scan(r->t, r->learn_set, r->plan, (const uint8_t *)doc,
				   len, v, scratch, SCRATCH_BYTES, set, NULL, &how);
	int want = st_json_scan(r->plan, (const uint8_t *)doc, len, ref,
				oracle_scratch, SCRATCH_BYTES, eager, NULL);

	CU_ASSERT_EQUAL(rc, want);
	if (rc == 0 && want == 0)
		CU_ASSERT(json_same_values(v, ref, r->n));
	return how;
}

static void test_scan_policy(void)
{
	static const char *const ptr[] = { "/id" };
	struct st_schema *set = st_schema_create(SET_MAX), *eager = st_schema_create(SET_MAX);
	unsigned learns = 0, matched = 0;
	struct rig r;
	char a[64], b[64];

	CU_ASSERT_FATAL(set && eager);
	rig_open(&r, ptr, 1);
	/* one shape: one learn, then matches; an invalid value: scanned */
	for (unsigned i = 0; i < 1000; i++) {
		enum st_json_tmpl_how how;

		snprintf(a, sizeof(a), "{\"id\":%u,\"s\":\"x%u\"}", i, i * 3);
		how = policy_scan(&r, set, eager, a);
		learns += how == ST_JSON_TMPL_LEARNT || how == ST_JSON_TMPL_REFUSED;
		matched += how == ST_JSON_TMPL_MATCHED;
	}
	CU_ASSERT_EQUAL(learns, 1);
	CU_ASSERT_EQUAL(matched, 999);
	CU_ASSERT_EQUAL(policy_scan(&r, set, eager, "{\"id\":01,\"s\":\"x\"}"),
			ST_JSON_TMPL_SCANNED);
	/* two shapes in turn: the learns thin out, 1, 2, 4 ... 1024 misses
	 * apart, so 4000 documents cost fewer than 20 of them */
	learns = 0;
	for (unsigned i = 0; i < 4000; i++) {
		enum st_json_tmpl_how how;

		snprintf(a, sizeof(a), "{\"id\":%u}", i);
		snprintf(b, sizeof(b), "{\"id\":%u,\"t\":true}", i);
		how = policy_scan(&r, set, eager, i % 2 ? a : b);
		learns += how == ST_JSON_TMPL_LEARNT || how == ST_JSON_TMPL_REFUSED;
	}
	CU_ASSERT(learns >= 2 && learns < 20);
	/* after a retire the next miss learns at once */
	st_json_tmpl_retire(r.t, set);
	CU_ASSERT_EQUAL(policy_scan(&r, set, eager, "{\"id\":1}"), ST_JSON_TMPL_LEARNT);
	CU_ASSERT_EQUAL(policy_scan(&r, set, eager, "{\"id\":2}"), ST_JSON_TMPL_MATCHED);
	/* a document the template cannot hold (its pointer takes an
	 * object): refused, and with one match behind it the template waits
	 * for two misses before the next learn */
	CU_ASSERT_EQUAL(policy_scan(&r, set, eager, "{\"id\":{\"deep\":1}}"),
			ST_JSON_TMPL_REFUSED);
	CU_ASSERT_EQUAL(policy_scan(&r, set, eager, "{\"id\":3}"), ST_JSON_TMPL_SCANNED);
	CU_ASSERT_EQUAL(policy_scan(&r, set, eager, "{\"id\":4}"), ST_JSON_TMPL_LEARNT);
	CU_ASSERT_EQUAL(policy_scan(&r, set, eager, "{\"id\":5}"), ST_JSON_TMPL_MATCHED);
	/* the sets fed both ways are the same */
	st_json_tmpl_flush(r.t, set);
	CU_ASSERT_EQUAL(st_schema_size(set), st_schema_size(eager));
	CU_ASSERT_EQUAL(st_schema_fingerprint(set), st_schema_fingerprint(eager));
	CU_ASSERT_EQUAL(count_of(set, "/id"), count_of(eager, "/id"));
	CU_ASSERT_EQUAL(count_of(set, "/s"), count_of(eager, "/s"));
	CU_ASSERT_EQUAL(count_of(set, "/t"), count_of(eager, "/t"));
	rig_close(&r);
	st_schema_destroy(set);
	st_schema_destroy(eager);
}

/* ---- the match's fast paths, byte by byte --------------------------------- */

/* "%s" in fmt replaced by num; the length of the document. */
static size_t number_doc(char *doc, size_t cap, const char *fmt, const char *num)
{
	int n = snprintf(doc, cap, fmt, num);

	CU_ASSERT_FATAL(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

/*
 * Numbers followed by at least 16 bytes (the match's one-compare number
 * scan) and not (the grammar's own scan), as a captured value and inside
 * an array slot: a document hits exactly when st_json_scan() accepts it,
 * with the scan's values (checked_match()); by hand, which of the listed
 * numbers are valid (RFC 8259 §6).  Then every string of up to 5 bytes
 * made of "019-.eE+" in their place, a hit exactly when the scan accepts.
 */
static void test_number_every_form(void)
{
	static const char *const ptrs[] = { "/id" };
	static const struct {
		const char *tmpl, *fmt;
	} shapes[] = {
		{ "{\"id\":1,\"pad\":\"0123456789abcdef\"}",
		  "{\"id\":%s,\"pad\":\"0123456789abcdef\"}" },
		{ "{\"a\":[1],\"pad\":\"0123456789abcdef\"}",
		  "{\"a\":[%s],\"pad\":\"0123456789abcdef\"}" },
		{ "{\"id\":1}", "{\"id\":%s}" },
		{ "1", "%s" },
	};
	static const char *const valid[] = {
		"0", "-0", "1", "-1", "9", "10", "0.5", "-0.5", "12.34", "99.99",
		"123456789012345", "-123456789012345", "1234567890123456",
		"12345678901234567890", "1.2345678901234", "1.23456789012345",
		"0.0000000000001", "1e5", "1E+5", "1.5e-3", "-0e0", "0.1e1",
		"0.12345678901234", "-9.87654321098765",
	};
	static const char *const invalid[] = {
		"01", "-01", "00", "1.", "-.", "-", "--1", "+1", ".5", "1.5.3",
		"1..5", "1e", "1e+", "1.e5", "1-2", "1+2", "0x1", "1.5-", "1.5+",
		"1.5e", "123456789012345.", "1.23456789012345.", "0.", "-a",
		"12345678901234a", "1.2345678901234.", "1.2345678901234e",
		"0123456789012345", "1.5E", "1.5e+",
	};
	static const char alphabet[] = "019-.eE+";
	char doc[256], num[8];
	struct st_json_value v[1];

	for (size_t sh = 0; sh < ST_ARRAY_SIZE(shapes); sh++) {
		unsigned forms = 0;
		struct rig r;

		rig_open(&r, ptrs, 1);
		CU_ASSERT_FATAL(rig_learn(&r, shapes[sh].tmpl,
					  strlen(shapes[sh].tmpl), NULL));
		for (size_t i = 0; i < ST_ARRAY_SIZE(valid); i++) {
			size_t n = number_doc(doc, sizeof(doc), shapes[sh].fmt,
					      valid[i]);

			CU_ASSERT(checked_match(&r, doc, n, v, NULL));
			if (sh == 0)
				CU_ASSERT(v[0].found && v[0].type == ST_JSON_NUMBER &&
					  v[0].text_len == strlen(valid[i]));
		}
		for (size_t i = 0; i < ST_ARRAY_SIZE(invalid); i++)
			expect_miss(&r, doc, number_doc(doc, sizeof(doc),
							 shapes[sh].fmt,
							 invalid[i]));
		for (unsigned len = 1; len <= 5; len++) {
			unsigned total = 1;

			for (unsigned k = 0; k < len; k++)
				total *= sizeof(alphabet) - 1;
			for (unsigned code = 0; code < total; code++) {
				unsigned c = code;
				size_t n;
				bool valid_doc;

				for (unsigned k = 0; k < len; k++) {
					num[k] = alphabet[c % (sizeof(alphabet) - 1)];
					c /= sizeof(alphabet) - 1;
				}
				num[len] = 0;
				n = number_doc(doc, sizeof(doc), shapes[sh].fmt, num);
				valid_doc = st_json_scan(r.plan, (const uint8_t *)doc,
							 n, v, scratch, SCRATCH_BYTES,
							 NULL, NULL) == 0;
				if (checked_match(&r, doc, n, v, NULL) != valid_doc) {
					fprintf(stderr, "number form %s: %s\n", num,
						valid_doc ? "missed" : "matched");
					CU_FAIL("a number form differs from the scan");
				}
				forms += valid_doc;
			}
		}
		/* by hand: 3 of 1 byte ("0", "1", "9"), 3 * 2 + 3 of 2 ("10",
		 * "11", "19", "90", "91", "99", "-0", "-1", "-9") ... at least */
		CU_ASSERT(forms > 1000);
		rig_close(&r);
	}
}

/*
 * Skeleton runs of every length around the one 16-byte compare (4 to 24
 * bytes before the second slot; tails of 1 to 17 bytes, with the document
 * long enough for the compare or not): changing any one byte of the
 * skeleton misses, also where the document stays valid (a letter of a
 * member name, a whitespace byte for another), and the document as learnt
 * hits.
 */
static void test_skeleton_every_byte(void)
{
	static const char *const ptrs[] = { "/k" };
	static const char *const pads[] = { "", "0123456789abcdefghij" };
	static const char *const tails[] = { "", "  \n", "              ",
					     "               ",
					     "                " };
	static const char name[] = "abcdefghijklmnopqrstu";
	char doc[256], mutated[256];
	struct st_json_value v[1];
	unsigned misses = 0;

	for (unsigned nl = 0; nl <= 20; nl++) {
		for (size_t pd = 0; pd < ST_ARRAY_SIZE(pads); pd++) {
			for (size_t tl = 0; tl < ST_ARRAY_SIZE(tails); tl++) {
				/* the slots: 1, 2 and the pad string */
				int n = snprintf(doc, sizeof(doc),
						 "{\"k\":1,\"%.*s\":2,\"p\":\"%s\"}%s",
						 (int)nl, name, pads[pd], tails[tl]);
				const char *slot1 = strchr(doc, '1');
				const char *slot2 = strchr(doc, '2');
				const char *pad = strstr(doc, "\"p\":") + 4;
				const char *pad_end = strchr(pad + 1, '"') + 1;
				struct rig r;

				CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof(doc));
				rig_open(&r, ptrs, 1);
				CU_ASSERT_FATAL(rig_learn(&r, doc, (size_t)n, NULL));
				CU_ASSERT(checked_match(&r, doc, (size_t)n, v, NULL));
				for (int at = 0; at < n; at++) {
					const char *c = doc + at;

					if (c == slot1 || c == slot2 ||
					    (c >= pad && c < pad_end))
						continue;
					memcpy(mutated, doc, (size_t)n);
					/* letters to letters, ' ' to '\t',
					 * '\n' to '\r', the rest made invalid */
					mutated[at] = *c == ' ' ? '\t' :
						      *c == '\n' ? '\r' :
						      *c >= 'a' && *c <= 'y' ? *c + 1 :
						      (char)(*c ^ 1);
					expect_miss(&r, mutated, (size_t)n);
					misses++;
				}
				rig_close(&r);
			}
		}
	}
	/* 21 names * 2 pads * 5 tails, each with at least 17 skeleton bytes */
	CU_ASSERT(misses >= 21 * 2 * 5 * 17);
}

/*
 * Every byte value at every offset of a 40-byte string (captured, and
 * not): a hit exactly when it is a plain string byte (0x20 to 0x7f, not
 * '"' nor '\\'; a lone byte >= 0x80 is not UTF-8 and "\a" is no escape),
 * checked against st_json_scan().
 */
static void test_string_every_byte(void)
{
	static const char *const ptrs[] = { "/s" };
	static const char *const tmpls[] = { "{\"s\":\"t\",\"k\":1}",
					     "{\"k\":1,\"t\":\"t\"}" };
	static const char *const fmts[] = { "{\"s\":\"%s\",\"k\":1}",
					    "{\"k\":1,\"t\":\"%s\"}" };
	char text[41], doc[128];
	struct st_json_value v[1];

	for (size_t sh = 0; sh < ST_ARRAY_SIZE(tmpls); sh++) {
		struct rig r;

		rig_open(&r, ptrs, 1);
		CU_ASSERT_FATAL(rig_learn(&r, tmpls[sh], strlen(tmpls[sh]), NULL));
		for (unsigned b = 1; b < 256; b++) {
			bool plain = b >= 0x20 && b < 0x80 && b != '"' && b != '\\';

			for (unsigned at = 0; at < 40; at++) {
				int n;

				memset(text, 'a', 40);
				text[40] = 0;
				text[at] = (char)b;
				n = snprintf(doc, sizeof(doc), fmts[sh], text);
				if (checked_match(&r, doc, (size_t)n, v, NULL) != plain) {
					fprintf(stderr, "byte %02x at %u\n", b, at);
					CU_FAIL("a string byte taken wrongly");
				}
			}
		}
		rig_close(&r);
	}
}

ST_TEST_MAIN("dataplane/json/json_tmpl",
	     ST_TEST(test_fresh_template_matches_nothing),
	     ST_TEST(test_number_slot),
	     ST_TEST(test_string_and_literal_slots),
	     ST_TEST(test_string_stops_at_every_offset),
	     ST_TEST(test_duplicate_names),
	     ST_TEST(test_array_index),
	     ST_TEST(test_array_slot),
	     ST_TEST(test_array_slot_bounds),
	     ST_TEST(test_array_slot_fields_limit),
	     ST_TEST(test_long_values),
	     ST_TEST(test_learn_refusals),
	     ST_TEST(test_flush_learn_retire),
	     ST_TEST(test_array_slot_owed),
	     ST_TEST(test_schema_equal_to_eager_scans),
	     ST_TEST(test_corpus_matches_equal_full_scan),
	     ST_TEST(test_scan_policy),
	     ST_TEST(test_number_every_form),
	     ST_TEST(test_skeleton_every_byte),
	     ST_TEST(test_string_every_byte))
