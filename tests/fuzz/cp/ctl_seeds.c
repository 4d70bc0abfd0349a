/*
 * Writes valid control-socket requests (shadowtap/ctl.h), one per file,
 * into the directory given as argv[1]: the seed corpus of fuzz_ctl.c.
 * Deterministic.
 *
 *	fuzz-seeds-ctl <corpus dir>
 */
#include <stdio.h>
#include <string.h>

#include "shadowtap/ctl.h"

int main(int argc, char **argv)
{
	static const struct st_ctl_request seeds[] = {
		{ .type = ST_CTL_STATUS, .request_id = 1, .count = 50 },
		{ .type = ST_CTL_STREAMS, .request_id = 2, .count = 50 },
		{ .type = ST_CTL_STREAMS, .request_id = 3, .count = 50, .history = true },
		{ .type = ST_CTL_PROFILE, .request_id = 4, .count = 50, .stream = "kafka:orders" },
		{ .type = ST_CTL_PROFILE, .request_id = 5, .count = 50, .stream = "mqtt:a/b/\xc3\xa9" },
		{ .type = ST_CTL_SIGNALS, .request_id = 6, .count = 50 },
		{ .type = ST_CTL_SIGNALS, .request_id = 7, .count = 1024 },
		{ .type = ST_CTL_SIGNALS_FOLLOW, .request_id = 8, .count = 50 },
		{ .type = ST_CTL_MODELS, .request_id = 9, .count = 50 },
		{ .type = ST_CTL_MODELS_RETRAIN, .request_id = 10, .count = 50 },
		{ .type = ST_CTL_DECISIONS, .request_id = 11, .count = 20 },
		{ .type = ST_CTL_BACKENDS, .request_id = 12, .count = 50 },
	};
	uint8_t buf[ST_CTL_HDR_BYTES + ST_CTL_REQUEST_BODY_MAX];

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-ctl <corpus dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char path[4096];
		long len = st_ctl_request_encode(&seeds[i], buf, sizeof(buf));
		FILE *f;

		if (len < 0) {
			fprintf(stderr, "fuzz-seeds-ctl: seed %zu does not encode\n", i);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/request-%02zu", argv[1], i);
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, (size_t)len, f) != (size_t)len || fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
