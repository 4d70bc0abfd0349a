/*
 * libFuzzer target for shape templates (dataplane/json/json_tmpl.h) against
 * the full scan st_json_scan().
 *
 * Input: byte 0 picks the plan (its bits choose among eight pointers, 0
 * meaning all of them) and, by its top bit, a schema set of 2 entries
 * instead of 64 (so that full sets occur); the rest is document A, a NUL
 * byte, then document B (NUL is never valid JSON, so A holds none).  When
 * the full scan accepts A, the template learns A and B is matched.
 * Aborts when:
 *   - the match says B has A's shape but the full scan refuses B, or
 *     extracts anything different (found / type / text bytes / length /
 *     number bits), or adds different walk counters;
 *   - the schema set made by scanning A then B differs (size, overflow,
 *     fingerprint, any entry) from the one made by scanning A, learning
 *     it, matching B and flushing;
 *   - a matched value's text lies outside B.
 * ASan catches any read outside B (libFuzzer's copy of the input is
 * exactly `size` bytes long and B is its tail).
 *
 * Seeds: fuzz-seeds-json_tmpl (json_tmpl_seeds.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/json/json.h"
#include "dataplane/json/json_tmpl.h"
#include "dataplane/sketch/schema.h"
#include "tests/fuzz/json/fuzz_json_values.h"

#define SCRATCH_BYTES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pointers[] = {
	"/ts", "/user/id", "/amount", "/tags/1", "/id", "/a~1b/0", "/items/0/sku",
	"/ok",
};
#define NPTR 8

static struct st_json_plan *plans[128];
static uint8_t scratch[SCRATCH_BYTES];

static struct st_json_plan *plan_of(uint8_t sel)
{
	unsigned bits = sel & 0x7f;

	if (!plans[bits]) {
		const char *p[NPTR];
		unsigned n = 0;

		for (unsigned i = 0; i < NPTR; i++)
			if (bits == 0 || (bits & (1u << i)))
				p[n++] = pointers[i];
		plans[bits] = st_json_plan_create(p, n);
		if (!plans[bits])
			abort();
	}
	return plans[bits];
}

static void same_schema(const struct st_schema *a, const struct st_schema *b)
{
	static struct st_schema_entry ea[64], eb[64];
	size_t na, nb;

	if (st_schema_size(a) != st_schema_size(b) ||
	    st_schema_overflow(a) != st_schema_overflow(b) ||
	    st_schema_fingerprint(a) != st_schema_fingerprint(b))
		abort();
	na = st_schema_entries(a, ea, 64);
	nb = st_schema_entries(b, eb, 64);
	if (na != nb)
		abort();
	for (size_t i = 0; i < na; i++)
		if (ea[i].path_hash != eb[i].path_hash || ea[i].count != eb[i].count ||
		    ea[i].type_mask != eb[i].type_mask ||
		    ea[i].path_len != eb[i].path_len ||
		    memcmp(ea[i].path, eb[i].path, ea[i].path_len) != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct st_json_tmpl *t;
	static struct st_schema *learn_scratch, *small[2], *big[2];
	struct st_json_value va[ST_JSON_POINTERS_MAX], vb[ST_JSON_POINTERS_MAX];
	struct st_json_value vm[ST_JSON_POINTERS_MAX];
	struct st_json_scan_stats s_eager = { 0 }, s_tmpl = { 0 };
	struct st_schema *eager, *tmpl;
	const uint8_t *a, *b, *nul;
	struct st_json_plan *plan;
	size_t alen, blen;
	unsigned n;
	int rc;

	if (!t) {
		t = st_json_tmpl_create();
		learn_scratch = st_json_tmpl_scratch_create();
		for (int i = 0; i < 2; i++) {
			small[i] = st_schema_create(2);
			big[i] = st_schema_create(64);
		}
		if (!t || !learn_scratch || !small[0] || !small[1] || !big[0] || !big[1])
			abort();
	}
	if (size < 2)
		return 0;
	plan = plan_of(data[0]);
	n = st_json_plan_size(plan);
	a = data + 1;
	nul = memchr(a, 0, size - 1);
	if (!nul)
		return 0;
	alen = (size_t)(nul - a);
	b = nul + 1;
	blen = size - 1 - alen - 1;
	eager = data[0] & 0x80 ? small[0] : big[0];
	tmpl = data[0] & 0x80 ? small[1] : big[1];
	st_schema_reset(eager);
	st_schema_reset(tmpl);

	/* A, scanned into both sets; a template learnt from it */
	if (st_json_scan(plan, a, alen, va, scratch, SCRATCH_BYTES, eager,
			 &s_eager) != 0)
		return 0;
	if (st_json_scan(plan, a, alen, va, scratch, SCRATCH_BYTES, tmpl,
			 &s_tmpl) != 0)
		abort();
	if (!st_json_tmpl_learn(t, plan, a, alen, va, learn_scratch))
		return 0;

	/* B: matched, or scanned like a caller would */
	rc = st_json_scan(plan, b, blen, vb, scratch, SCRATCH_BYTES, eager, &s_eager);
	if (st_json_tmpl_match(t, plan, b, blen, vm, &s_tmpl)) {
		if (rc != 0 || !json_same_values(vm, vb, n))
			abort();
		fuzz_json_check_values(vm, n, b, blen, b, 0);
	} else {
		st_json_scan(plan, b, blen, vb, scratch, SCRATCH_BYTES, tmpl, &s_tmpl);
	}
	st_json_tmpl_flush(t, tmpl);
	same_schema(eager, tmpl);
	if (memcmp(&s_eager, &s_tmpl, sizeof(s_eager)) != 0)
		abort();
	return 0;
}
