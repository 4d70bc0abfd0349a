/*
 * libFuzzer target for the Shadow Profile parser (shadowtap/profile.h).
 *
 * Every input: st_profile_parse() must return without reading outside the
 * input (ASan) or tripping UBSan.  Every input it ACCEPTS must be the
 * canonical record of its own content: st_sset_from_profile() must succeed
 * and st_profile_build() of that set under the parsed meta must give the
 * input back byte for byte.  An accepted input that does not is a hole in a
 * validator (profile.c or a sketch's st_*_validate), and the target aborts.
 *
 * Seeds: tests/fuzz/profile_seeds.c writes valid records to mutate.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/sset.h"
#include "shadowtap/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_profile_view view;
	struct st_sset *set;
	const char *why = NULL;
	uint8_t *again;
	ssize_t len;
	int rc;

	rc = st_profile_parse(data, size, &view, &why);
	if (rc == -ENOMEM)
		return 0;
	if (rc) {
		if (!why || (rc != -EINVAL && rc != -EPROTO && rc != -E2BIG)) {
			fprintf(stderr, "refusal %d without a documented code or reason\n", rc);
			abort();
		}
		return 0;
	}

	set = st_sset_from_profile(&view, &why);
	if (!set) {
		if (errno == ENOMEM)
			return 0;
		fprintf(stderr, "accepted, but from_profile refused: %s\n", why);
		abort();
	}
	again = malloc(size);
	if (!again)
		abort();
	len = st_profile_build(set, &view.meta, again, size);
	if (len != (ssize_t)size || memcmp(again, data, size) != 0) {
		size_t at = 0;

		while (len > 0 && at < size && at < (size_t)len && again[at] == data[at])
			at++;
		fprintf(stderr, "accepted record is not canonical: rebuilt %zd of %zu "
			"bytes, first difference at %zu\n", len, size, at);
		abort();
	}
	free(again);
	st_sset_destroy(set);
	return 0;
}
