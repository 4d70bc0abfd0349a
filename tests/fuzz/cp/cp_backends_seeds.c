/*
 * Writes valid Backend Metrics records into the directory given as argv[1]:
 * the seed corpus of fuzz_cp_backends.c, with endpoints at the fuzz
 * config's backend addresses (10.0.0.5, 2001:db8::7, 10.0.0.9) and others,
 * latency blobs, and more unmatched endpoints than shadowtap-cp keeps.
 * Deterministic.
 *
 *	fuzz-seeds-cp-backends <corpus dir>
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/quantile.h"
#include "shadowtap/backends.h"

static uint8_t *blob_of(double us, unsigned n, uint32_t *len)
{
	struct st_qs *q = st_qs_create(ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS, false);
	uint8_t *b;

	if (!q)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		st_qs_update(q, us * (1 + i % 7));
	*len = (uint32_t)st_qs_serialized_size(q);
	b = malloc(*len);
	if (b && st_qs_serialize(q, b, *len) != (ssize_t)*len) {
		free(b);
		b = NULL;
	}
	st_qs_destroy(q);
	return b;
}

static int write_record(const char *dir, const char *name, struct st_backends_entry *e,
			size_t n)
{
	struct st_backends_meta m = { .epoch_start_ns = 1700000000000000000ull,
				      .epoch_ns = 1000000000, .cores_merged = 1,
				      .cores_expected = 1 };
	ssize_t len = st_backends_size(e, n, &m);
	char path[4096];
	uint8_t *buf;
	FILE *f;
	int rc = 0;

	if (len < 0)
		return (int)len;
	buf = malloc((size_t)len);
	if (!buf)
		return -ENOMEM;
	if (st_backends_build(e, n, &m, buf, (size_t)len) != len) {
		free(buf);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, (size_t)len, f) != (size_t)len)
		rc = -EIO;
	if (f && fclose(f))
		rc = -EIO;
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	static struct st_backends_entry e[80];
	uint32_t len = 0;
	uint8_t *blob;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-cp-backends <corpus dir>\n");
		return 2;
	}
	blob = blob_of(300, 50, &len);
	if (!blob)
		return 1;
	/* matched: b0 on two ports (latency on both), b1, b2 */
	for (unsigned i = 0; i < 4; i++) {
		e[i].family = i == 3 ? 6 : 4;
		e[i].protocol = 1;
		e[i].port = (uint16_t)(9092 + i);
		e[i].records = 10 + i;
		e[i].packets_to = 3, e[i].packets_from = 2, e[i].zero_windows_from = i;
		if (i < 2)
			e[i].addr[0] = 10, e[i].addr[3] = 5, e[i].latency = blob, e[i].latency_len = len;
		else if (i == 2)
			e[i].addr[0] = 10, e[i].addr[3] = 9;
		else
			memcpy(e[i].addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07", 16);
	}
	rc = write_record(argv[1], "matched", e, 4);
	/* nothing this epoch */
	rc = rc ? rc : write_record(argv[1], "empty", e, 0);
	/* 80 endpoints that match nothing (more than cp keeps), one with latency */
	memset(e, 0, sizeof(e));
	for (unsigned i = 0; i < 80; i++) {
		e[i].family = 4;
		e[i].protocol = 2;
		e[i].addr[0] = 192, e[i].addr[2] = 2, e[i].addr[3] = 1;
		e[i].port = (uint16_t)(1000 + i);
		e[i].packets_to = 1;
	}
	e[5].latency = blob, e[5].latency_len = len;
	rc = rc ? rc : write_record(argv[1], "unmatched", e, 80);
	free(blob);
	if (rc)
		fprintf(stderr, "fuzz-seeds-cp-backends: %s\n", strerror(-rc));
	return rc ? 1 : 0;
}
