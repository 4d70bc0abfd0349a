/*
 * libFuzzer target for the Backend Metrics record parser
 * (shadowtap/backends.h, dataplane/backends/record.c).
 *
 * Every input: st_backends_parse() must return without reading outside the
 * input (ASan) or tripping UBSan, and a refusal must carry a documented
 * code and a reason.  Every input it ACCEPTS must be canonical: the entries
 * st_backends_next() yields (exactly entry_count of them), built again under
 * the parsed meta, must give the input back byte for byte.  Anything else
 * is a hole in the validator, and the target aborts.
 *
 * Seeds: tests/fuzz/backends/backends_seeds.c writes valid records.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadowtap/backends.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_backends_view view;
	struct st_backends_entry *entries;
	const char *why = NULL;
	uint8_t *again;
	size_t pos = 0, n = 0;
	ssize_t len;
	int rc;

	rc = st_backends_parse(data, size, &view, &why);
	if (rc) {
		if (!why || (rc != -EINVAL && rc != -EPROTO && rc != -E2BIG)) {
			fprintf(stderr, "refusal %d without a documented code or reason\n", rc);
			abort();
		}
		if (view.buf || view.entry_count) {
			fprintf(stderr, "refused, but the view is not zeroed\n");
			abort();
		}
		return 0;
	}
	if (!st_backends_is_record(data, size))
		abort();
	entries = calloc(view.entry_count + 1u, sizeof(*entries));
	again = malloc(size);
	if (!entries || !again)
		abort();
	while (n <= view.entry_count && st_backends_next(&view, &pos, &entries[n]) == 1)
		n++;
	if (n != view.entry_count) {
		fprintf(stderr, "iterator gave %zu entries of %u\n", n, view.entry_count);
		abort();
	}
	len = st_backends_build(entries, n, &view.meta, again, size);
	if (len != (ssize_t)size || memcmp(again, data, size) != 0) {
		size_t at = 0;

		while (len > 0 && at < size && at < (size_t)len && again[at] == data[at])
			at++;
		fprintf(stderr, "accepted record is not canonical: rebuilt %zd of %zu "
			"bytes, first difference at %zu\n", len, size, at);
		abort();
	}
	free(again);
	free(entries);
	return 0;
}
