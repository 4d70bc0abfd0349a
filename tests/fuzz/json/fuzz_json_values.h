/*
 * Checks of extracted JSON values shared by the JSON fuzz targets and
 * tests:
 *   fuzz_json_check_values(): what every accepted scan's values must be: a
 *     value not found is all zero; a found one has exactly one JSON type
 *     and its text lies inside the document or inside the scan's scratch
 *     (scratch_bytes long).  Aborts otherwise.
 *   json_same_values(): two scans' values are the same: found, type, text
 *     bytes, length and number bits.
 */
#ifndef ST_FUZZ_JSON_VALUES_H
#define ST_FUZZ_JSON_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/json/json.h"

static inline void fuzz_json_check_values(const struct st_json_value *values,
					  unsigned n, const uint8_t *doc,
					  size_t len, const uint8_t *scr,
					  size_t scratch_bytes)
{
	for (unsigned i = 0; i < n; i++) {
		const struct st_json_value *v = &values[i];
		bool in_doc, in_scratch;

		if (!v->found) {
			if (v->type || v->text)
				abort();
			continue;
		}
		in_doc = v->text >= doc && v->text_len <= len &&
			 v->text <= doc + len - v->text_len;
		in_scratch = v->text >= scr && v->text_len <= scratch_bytes &&
			     v->text <= scr + scratch_bytes - v->text_len;
		if (!in_doc && !in_scratch)
			abort();
		if (__builtin_popcount(v->type) != 1 || v->type > ST_JSON_ARRAY)
			abort();
	}
}

static inline bool json_same_values(const struct st_json_value *a,
				    const struct st_json_value *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (a[i].found != b[i].found || a[i].type != b[i].type ||
		    a[i].text_len != b[i].text_len ||
		    memcmp(&a[i].number, &b[i].number, sizeof(double)) != 0)
			return false;
		if (a[i].found && a[i].text_len &&
		    memcmp(a[i].text, b[i].text, a[i].text_len) != 0)
			return false;
	}
	return true;
}

#endif
