/*
 * libFuzzer target for the lazy fields-only scan, st_json_scan_fields()
 * (dataplane/json/json.h), against the full scan st_json_scan().
 *
 * Input: byte 0 picks the plan (its bits choose among eight pointers, 0
 * meaning all of them, so plans with one pointer and with many occur); the
 * rest is the document.  Aborts when:
 *   - the full scan accepts the document and the lazy scan refuses it, or
 *     extracts anything different (found / type / text bytes / length /
 *     number bits) at any SIMD level;
 *   - the lazy scan refuses a document the full scan accepts, or refuses
 *     one for a reason out of the enum (a lazy refusal is always a real
 *     error, so the full scan must refuse too);
 *   - two builds of the lazy scan differ in the reason or the values;
 *   - an accepted value's text lies outside the document and the scratch,
 *     or its type is not one JSON type.
 * ASan catches any read outside the input (libFuzzer's copy is exactly
 * `size` bytes long), which matters most here: the lazy scan stops inside
 * the document and its skipper reads 64-byte windows.
 *
 * Seeds: fuzz-seeds-json_lazy (json_lazy_seeds.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/cpu.h"
#include "dataplane/json/json.h"
#include "dataplane/sketch/schema.h"
#include "tests/fuzz/json/fuzz_json_values.h"

#define SCRATCH_BYTES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pointers[] = {
	"/ts", "/user/id", "/amount", "/tags/1", "", "/a~1b/0", "/items/0/sku",
	"/user",
};
#define NPTR 8

struct outcome {
	int rc;
	struct st_json_value v[NPTR];
};

static struct st_json_plan *plans[256];
static uint8_t scratch[4][SCRATCH_BYTES];

static void check(const struct outcome *o, unsigned n, const uint8_t *doc,
		  size_t len, const uint8_t *scr)
{
	if (o->rc > 0 || o->rc <= -ST_JSON_E__COUNT)
		abort();
	if (o->rc == 0)
		fuzz_json_check_values(o->v, n, doc, len, scr, SCRATCH_BYTES);
}

static bool same(const struct outcome *a, const struct outcome *b, unsigned n)
{
	if (a->rc != b->rc)
		return false;
	for (unsigned i = 0; a->rc == 0 && i < n; i++) {
		const struct st_json_value *x = &a->v[i], *y = &b->v[i];

		if (x->found != y->found || x->type != y->type ||
		    x->text_len != y->text_len ||
		    memcmp(&x->number, &y->number, sizeof(double)) != 0 ||
		    (x->text_len && memcmp(x->text, y->text, x->text_len) != 0))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome full, got, first;
	const struct st_json_plan *plan;
	const uint8_t *doc;
	size_t len;
	unsigned pick, n;

	if (size < 1 || size - 1 > SCRATCH_BYTES)  /* scratch >= len suffices */
		return 0;
	pick = data[0] ? data[0] : 0xff;
	if (!plans[pick]) {
		const char *chosen[NPTR];

		n = 0;
		for (unsigned i = 0; i < NPTR; i++)
			if (pick >> i & 1)
				chosen[n++] = pointers[i];
		plans[pick] = st_json_plan_create(chosen, n);
		if (!plans[pick])
			abort();
	}
	plan = plans[pick];
	n = st_json_plan_size(plan);
	doc = data + 1;
	len = size - 1;
	memset(&full, 0, sizeof(full));
	full.rc = st_json_scan_level(ST_SIMD_SCALAR, plan, doc, len, full.v,
				     scratch[0], SCRATCH_BYTES, NULL, NULL);
	for (int l = ST_SIMD_SCALAR; l <= ST_SIMD_AVX512; l++) {
		struct outcome *o = l == ST_SIMD_SCALAR ? &first : &got;

		if (!st_cpu_has((enum st_simd_level)l))
			continue;
		memset(o, 0, sizeof(*o));
		o->rc = st_json_scan_fields_level((enum st_simd_level)l, plan, doc,
						  len, o->v, scratch[1 + l],
						  SCRATCH_BYTES);
		check(o, n, doc, len, scratch[1 + l]);
		if (full.rc == 0 && !same(&full, o, n))
			abort();
		if (o->rc != 0 && full.rc == 0)
			abort();
		if (o != &first && !same(&first, o, n))
			abort();
	}
	return 0;
}
