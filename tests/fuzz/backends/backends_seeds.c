/*
 * Writes valid Backend Metrics records into the directory given as argv[1]:
 * the seed corpus of fuzz_backends.c.  An empty record, a small one with a
 * latency blob, IPv4 and IPv6 endpoints of every protocol, a partial merge.
 * Deterministic: the same files on every run.
 *
 *	fuzz-seeds-backends <corpus dir>
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/quantile.h"
#include "shadowtap/backends.h"
#include "shadowtap/profile.h"

#define EPOCH0 1700000000000000000ull

static int write_file(const char *dir, const char *name, const void *b, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	if (fwrite(b, 1, len, f) != len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

/* n endpoints: half IPv4, half IPv6; every third one has latency values. */
static int seed(const char *dir, const char *name, unsigned n, unsigned samples,
		uint16_t merged, uint16_t expected)
{
	struct st_backends_entry *e = calloc(n + 1, sizeof(*e));
	uint8_t **blobs = calloc(n + 1, sizeof(*blobs));
	struct st_backends_meta m = { .epoch_start_ns = EPOCH0, .epoch_ns = 1000000000,
		.cores_merged = merged, .cores_expected = expected,
		.flags = merged < expected ? ST_BACKENDS_F_PARTIAL : 0, .overflow = n / 3 };
	uint8_t *buf = NULL;
	ssize_t len;
	int err = -ENOMEM;

	if (!e || !blobs)
		goto out_free;
	for (unsigned i = 0; i < n; i++) {
		bool v6 = i >= n / 2;

		e[i].family = v6 ? 6 : 4;
		e[i].protocol = (uint8_t)(i % (ST_PROFILE_PROTO_MAX + 1));
		e[i].port = (uint16_t)(1883 + i);
		if (v6) {
			e[i].addr[0] = 0xfd;
			e[i].addr[15] = (uint8_t)i;
		} else {
			e[i].addr[0] = 10;
			e[i].addr[3] = (uint8_t)(i + 1);
		}
		e[i].records = 10 * i;
		e[i].record_bytes = 1000 * i;
		e[i].packets_to = 5 + i;
		e[i].bytes_to = 300 + 7 * i;
		e[i].packets_from = i;
		e[i].bytes_from = 60 * i;
		e[i].retransmissions_to = i % 2;
		e[i].retransmissions_from = i % 3;
		e[i].zero_windows_from = i % 5 == 0;
		e[i].zero_windows_to = i % 7 == 0;
		e[i].flows_new = 1;
		e[i].egress_records = i / 2;
		if (i % 3 == 0 && samples) {
			struct st_qs *q = st_qs_create(ST_BACKENDS_LATENCY_ALPHA,
						       ST_BACKENDS_LATENCY_BINS, false);
			size_t sz;

			if (!q)
				goto out_free;
			for (unsigned s = 0; s < samples; s++)
				st_qs_update(q, (double)(50 + (s * 7919u + i) % 20000));
			sz = st_qs_serialized_size(q);
			blobs[i] = malloc(sz);
			if (!blobs[i] || st_qs_serialize(q, blobs[i], sz) != (ssize_t)sz) {
				st_qs_destroy(q);
				goto out_free;
			}
			st_qs_destroy(q);
			e[i].latency = blobs[i];
			e[i].latency_len = (uint32_t)sz;
		}
	}
	len = st_backends_size(e, n, &m);
	if (len < 0) {
		err = (int)len;
		goto out_free;
	}
	buf = malloc((size_t)len);
	if (!buf)
		goto out_free;
	len = st_backends_build(e, n, &m, buf, (size_t)len);
	err = len < 0 ? (int)len : write_file(dir, name, buf, (size_t)len);
out_free:
	free(buf);
	for (unsigned i = 0; blobs && i < n; i++)
		free(blobs[i]);
	free(blobs);
	free(e);
	return err;
}

int main(int argc, char **argv)
{
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-backends <corpus dir>\n");
		return 2;
	}
	err = err ? err : seed(argv[1], "empty", 0, 0, 1, 1);
	err = err ? err : seed(argv[1], "one", 1, 1, 1, 1);
	err = err ? err : seed(argv[1], "small", 4, 20, 2, 2);
	err = err ? err : seed(argv[1], "partial", 12, 200, 3, 4);
	if (err) {
		fprintf(stderr, "fuzz-seeds-backends: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
