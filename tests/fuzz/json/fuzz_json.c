/*
 * libFuzzer target for the JSON field scanner (dataplane/json/json.h).
 *
 * Every input is one document, scanned with a fixed plan (pointers that the
 * seeds' documents contain, escapes and array indexes included) and a
 * schema, by every build the CPU has (scalar, AVX2, AVX-512).  Aborts when:
 *   - two builds differ in anything: the reason, a value's found / type /
 *     text bytes / length / number bits, the schema's entries, the stats;
 *   - an extracted text lies outside the document and the scratch buffer;
 *   - a valid document updated the schema more than ST_JSON_WALK_FIELDS_MAX
 *     times, or an invalid one updated it at all;
 *   - a reason is out of the enum.
 * ASan catches any read outside the input (libFuzzer's copy is exactly
 * `size` bytes long).
 *
 * Seeds: fuzz-seeds-json (json_seeds.c).
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
#define ENTRIES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pointers[] = {
	"/user/id", "/amount", "/ts", "/tags/0", "/tags/1/x", "/a~1b", "/m~0n",
	"", "/user", "/\xc3\xa9", "/items/0/sku", "/0",
};
#define NPTR (sizeof(pointers) / sizeof(pointers[0]))

struct outcome {
	int rc;
	struct st_json_value v[NPTR];
	struct st_schema_entry e[ENTRIES];
	size_t n_entries;
	uint64_t overflow;
	struct st_json_scan_stats stats;
};

static struct st_json_plan *plan;
static struct st_schema *schema;
static uint8_t scratch[3][SCRATCH_BYTES];

static void scan(enum st_simd_level level, const uint8_t *doc, size_t len,
		 uint8_t *scr, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	st_schema_reset(schema);
	o->rc = st_json_scan_level(level, plan, doc, len, o->v, scr,
				   SCRATCH_BYTES, schema, &o->stats);
	if (o->rc > 0 || o->rc <= -ST_JSON_E__COUNT)
		abort();
	o->n_entries = st_schema_entries(schema, o->e, ENTRIES);
	o->overflow = st_schema_overflow(schema);
	if (o->rc != 0 && (o->n_entries || o->overflow || o->stats.schema_updates))
		abort();
	if (o->stats.schema_updates > ST_JSON_WALK_FIELDS_MAX)
		abort();
	if (o->rc == 0)
		fuzz_json_check_values(o->v, NPTR, doc, len, scr, SCRATCH_BYTES);
}

static bool same(const struct outcome *a, const struct outcome *b)
{
	if (a->rc != b->rc || a->n_entries != b->n_entries ||
	    a->overflow != b->overflow ||
	    memcmp(&a->stats, &b->stats, sizeof(a->stats)) != 0)
		return false;
	for (size_t i = 0; a->rc == 0 && i < NPTR; i++) {
		const struct st_json_value *x = &a->v[i], *y = &b->v[i];

		if (x->found != y->found || x->type != y->type ||
		    x->text_len != y->text_len ||
		    memcmp(&x->number, &y->number, sizeof(double)) != 0 ||
		    (x->text_len && memcmp(x->text, y->text, x->text_len) != 0))
			return false;
	}
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct st_schema_entry *x = &a->e[i], *y = &b->e[i];

		if (x->path_hash != y->path_hash || x->count != y->count ||
		    x->type_mask != y->type_mask || x->path_len != y->path_len ||
		    memcmp(x->path, y->path, x->path_len) != 0)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome ref, got;

	if (!plan) {
		plan = st_json_plan_create(pointers, NPTR);
		schema = st_schema_create(ENTRIES);
		if (!plan || !schema)
			abort();
	}
	if (size > SCRATCH_BYTES)   /* scratch >= len is the documented bound */
		return 0;
	scan(ST_SIMD_SCALAR, data, size, scratch[0], &ref);
	for (int l = ST_SIMD_AVX2; l <= ST_SIMD_AVX512; l++) {
		if (!st_cpu_has((enum st_simd_level)l))
			continue;
		scan((enum st_simd_level)l, data, size, scratch[l], &got);
		if (!same(&ref, &got))
			abort();
	}
	return 0;
}
