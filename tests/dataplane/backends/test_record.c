/*
 * Backend Metrics record tests (shadowtap/backends.h, record.c).
 *
 * Oracle: the byte layout as the header draws it.  The expected records are
 * written here by a test-side writer that stores each field at the literal
 * offset the header's table gives (byte by byte, little-endian), not through
 * record.c or its structs; latency blobs come from the quantile module
 * (st_qs_serialize), which is not the code under test.  Every malformed
 * record is made by changing bytes of a hand-written valid one and must be
 * refused with its own reason; every buffer handed to the parser is a malloc
 * of exactly its length, so AddressSanitizer sees any read past the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/quantile.h"
#include "shadowtap/backends.h"
#include "shadowtap/profile.h"
#include "st_test.h"

#define EPOCH0 1700000000000000000ull
#define SEC 1000000000ull

/* ---- test-side writer, from the header's tables ---- */

static void w8(uint8_t *p, size_t off, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

struct hand_entry {
	uint8_t family, protocol;
	uint16_t port;
	uint8_t addr[16];
	uint64_t c[12];              /* records .. egress_records, table order */
	const uint8_t *blob;
	uint32_t blob_len;
};

static size_t hand_entry_bytes(const struct hand_entry *e)
{
	return 128 + ((e->blob_len + 7u) & ~7u);
}

/* Writes header + entries; returns the total size (buf big enough). */
static size_t hand_record(uint8_t *buf, const struct hand_entry *e, unsigned n,
			  uint16_t merged, uint16_t expected, uint64_t overflow)
{
	size_t at = 64;

	for (unsigned i = 0; i < n; i++)
		at += hand_entry_bytes(&e[i]);
	memset(buf, 0, at);
	memcpy(buf, "STBE", 4);
	w8(buf, 4, 1, 2);
	w8(buf, 6, 64, 2);
	w8(buf, 8, at, 4);
	w8(buf, 12, merged < expected ? 1 : 0, 4);
	w8(buf, 16, EPOCH0, 8);
	w8(buf, 24, SEC, 8);
	w8(buf, 32, merged, 2);
	w8(buf, 34, expected, 2);
	w8(buf, 36, n, 4);
	w8(buf, 40, overflow, 8);
	at = 64;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = buf + at;

		p[0] = e[i].family;
		p[1] = e[i].protocol;
		w8(p, 2, e[i].port, 2);
		w8(p, 4, e[i].blob_len, 4);
		memcpy(p + 8, e[i].addr, 16);
		for (unsigned k = 0; k < 12; k++)
			w8(p, 24 + 8 * k, e[i].c[k], 8);
		if (e[i].blob_len)
			memcpy(p + 128, e[i].blob, e[i].blob_len);
		at += hand_entry_bytes(&e[i]);
	}
	return at;
}

static uint8_t *dup_exact(const uint8_t *b, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	if (d && len)
		memcpy(d, b, len);
	return d;
}

/* ---- latency blobs from the quantile module ---- */

static uint8_t *qs_blob(double alpha, unsigned bins, bool is_signed,
			const double *v, unsigned n, uint32_t *len)
{
	struct st_qs *q = st_qs_create(alpha, bins, is_signed);
	uint8_t *b;

	if (!q)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		st_qs_update(q, v[i]);
	*len = (uint32_t)st_qs_serialized_size(q);
	b = malloc(*len);
	if (b && st_qs_serialize(q, b, *len) != (ssize_t)*len) {
		free(b);
		b = NULL;
	}
	st_qs_destroy(q);
	return b;
}

static const double lat_us[] = { 120, 250, 251, 900, 4000, 17 };

/* Three entries: IPv4 10.0.0.5:9092 Kafka with latency, IPv4 10.0.0.5:9093
 * without, IPv6 ::1:1883 MQTT with latency (odd blob length: padding). */
struct fixture {
	struct hand_entry h[3];
	struct st_backends_entry e[3];
	uint8_t *blob_a, *blob_b;
	uint8_t buf[65536];
	size_t len;
};

static void fixture_make(struct fixture *f)
{
	static const double one[] = { 3 };
	uint32_t la = 0, lb = 0;

	memset(f, 0, sizeof(*f));
	f->blob_a = qs_blob(ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS, false,
			    lat_us, 6, &la);
	f->blob_b = qs_blob(ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS, false,
			    one, 1, &lb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->blob_a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->blob_b);

	f->h[0] = (struct hand_entry){ .family = 4, .protocol = ST_PROFILE_PROTO_KAFKA,
		.port = 9092, .addr = { 10, 0, 0, 5 },
		.c = { 100, 20000, 50, 30000, 45, 9000, 2, 1, 3, 0, 4, 7 },
		.blob = f->blob_a, .blob_len = la };
	f->h[1] = (struct hand_entry){ .family = 4, .protocol = ST_PROFILE_PROTO_KAFKA,
		.port = 9093, .addr = { 10, 0, 0, 5 },
		.c = { 0, 0, 1, 60, 0, 0, 0, 0, 0, 0, 1, 0 } };
	f->h[2] = (struct hand_entry){ .family = 6, .protocol = ST_PROFILE_PROTO_MQTT,
		.port = 1883, .addr = { [15] = 1 },
		.c = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 },
		.blob = f->blob_b, .blob_len = lb };
	for (unsigned i = 0; i < 3; i++) {
		struct st_backends_entry *e = &f->e[i];
		const struct hand_entry *h = &f->h[i];

		e->family = h->family;
		e->protocol = h->protocol;
		e->port = h->port;
		memcpy(e->addr, h->addr, 16);
		e->records = h->c[0]; e->record_bytes = h->c[1];
		e->packets_to = h->c[2]; e->bytes_to = h->c[3];
		e->packets_from = h->c[4]; e->bytes_from = h->c[5];
		e->retransmissions_to = h->c[6]; e->retransmissions_from = h->c[7];
		e->zero_windows_from = h->c[8]; e->zero_windows_to = h->c[9];
		e->flows_new = h->c[10]; e->egress_records = h->c[11];
		e->latency = h->blob;
		e->latency_len = h->blob_len;
	}
	f->len = hand_record(f->buf, f->h, 3, 2, 3, 17);
}

static void fixture_free(struct fixture *f)
{
	free(f->blob_a);
	free(f->blob_b);
}

static const struct st_backends_meta meta_2_of_3 = {
	.epoch_start_ns = EPOCH0, .epoch_ns = SEC, .cores_merged = 2,
	.cores_expected = 3, .flags = ST_BACKENDS_F_PARTIAL, .overflow = 17,
};

static bool entry_eq(const struct st_backends_entry *a, const struct st_backends_entry *b)
{
	return a->family == b->family && a->protocol == b->protocol &&
	       a->port == b->port && !memcmp(a->addr, b->addr, 16) &&
	       a->records == b->records && a->record_bytes == b->record_bytes &&
	       a->packets_to == b->packets_to && a->bytes_to == b->bytes_to &&
	       a->packets_from == b->packets_from && a->bytes_from == b->bytes_from &&
	       a->retransmissions_to == b->retransmissions_to &&
	       a->retransmissions_from == b->retransmissions_from &&
	       a->zero_windows_from == b->zero_windows_from &&
	       a->zero_windows_to == b->zero_windows_to &&
	       a->flows_new == b->flows_new && a->egress_records == b->egress_records &&
	       a->latency_len == b->latency_len &&
	       (!a->latency_len || !memcmp(a->latency, b->latency, a->latency_len));
}

/* Parses b[0..len) from an exact-size copy; returns rc, *why set. */
static int parse_copy(const uint8_t *b, size_t len, const char **why)
{
	struct st_backends_view v;
	uint8_t *d = dup_exact(b, len);
	int rc;

	*why = NULL;
	rc = st_backends_parse(d, len, &v, why);
	if (rc) {
		CU_ASSERT_PTR_NULL(v.buf);
		CU_ASSERT_EQUAL(v.entry_count, 0);
	}
	free(d);
	return rc;
}

/* ---- tests ---- */

static void test_build_matches_the_drawn_layout(void)
{
	struct fixture f;
	uint8_t *out;
	ssize_t n;

	fixture_make(&f);
	CU_ASSERT_EQUAL(f.len % 8, 0);
	CU_ASSERT_EQUAL(st_backends_size(f.e, 3, &meta_2_of_3), (ssize_t)f.len);
	out = malloc(f.len);
	n = st_backends_build(f.e, 3, &meta_2_of_3, out, f.len);
	CU_ASSERT_EQUAL(n, (ssize_t)f.len);
	CU_ASSERT_EQUAL(memcmp(out, f.buf, f.len), 0);
	CU_ASSERT_EQUAL(st_backends_build(f.e, 3, &meta_2_of_3, out, f.len - 1), -ENOSPC);
	free(out);
	fixture_free(&f);
}

static void test_parse_gives_back_what_was_written(void)
{
	struct fixture f;
	struct st_backends_view v;
	struct st_backends_entry got[4];
	const char *why = NULL;
	size_t pos = 0;
	unsigned n = 0;
	uint8_t *d, *again;

	fixture_make(&f);
	d = dup_exact(f.buf, f.len);
	CU_ASSERT_EQUAL_FATAL(st_backends_parse(d, f.len, &v, &why), 0);
	CU_ASSERT_EQUAL(v.entry_count, 3);
	CU_ASSERT_EQUAL(v.meta.epoch_start_ns, EPOCH0);
	CU_ASSERT_EQUAL(v.meta.epoch_ns, SEC);
	CU_ASSERT_EQUAL(v.meta.cores_merged, 2);
	CU_ASSERT_EQUAL(v.meta.cores_expected, 3);
	CU_ASSERT_EQUAL(v.meta.flags, ST_BACKENDS_F_PARTIAL);
	CU_ASSERT_EQUAL(v.meta.overflow, 17);
	while (n < 4 && st_backends_next(&v, &pos, &got[n]) == 1)
		n++;
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(st_backends_next(&v, &pos, &got[3]), 0);
	for (unsigned i = 0; i < 3; i++) {
		CU_ASSERT(entry_eq(&got[i], &f.e[i]));
		if (got[i].latency_len) {
			/* points into the parsed buffer, not a copy */
			CU_ASSERT(got[i].latency > d && got[i].latency < d + f.len);
		}
	}
	CU_ASSERT_PTR_NULL(got[1].latency);

	/* canonical: rebuilding the parsed entries gives the bytes back */
	again = malloc(f.len);
	CU_ASSERT_EQUAL(st_backends_build(got, 3, &v.meta, again, f.len), (ssize_t)f.len);
	CU_ASSERT_EQUAL(memcmp(again, d, f.len), 0);
	free(again);
	free(d);
	fixture_free(&f);
}

static void test_empty_record(void)
{
	uint8_t buf[64];
	const struct st_backends_meta m = { .epoch_start_ns = EPOCH0, .epoch_ns = SEC,
		.cores_merged = 1, .cores_expected = 1 };
	uint8_t out[64];
	size_t len = hand_record(buf, NULL, 0, 1, 1, 0);
	const char *why;

	CU_ASSERT_EQUAL(len, 64);
	CU_ASSERT_EQUAL(st_backends_build(NULL, 0, &m, out, sizeof(out)), 64);
	CU_ASSERT_EQUAL(memcmp(out, buf, 64), 0);
	CU_ASSERT_EQUAL(parse_copy(buf, 64, &why), 0);
}

static void test_is_record(void)
{
	struct fixture f;

	fixture_make(&f);
	CU_ASSERT(st_backends_is_record(f.buf, f.len));
	CU_ASSERT(st_backends_is_record(f.buf, 4));
	CU_ASSERT_FALSE(st_backends_is_record(f.buf, 3));
	CU_ASSERT_FALSE(st_backends_is_record("STPR", 4));
	CU_ASSERT_FALSE(st_backends_is_record(NULL, 8));
	fixture_free(&f);
}

/* One mutation of the valid fixture and the reason it must get. */
struct bad {
	const char *what;
	size_t off;
	uint64_t value;
	unsigned bytes;
	int rc;
	const char *why;
};

static void test_every_header_rejection(void)
{
	/* Entry 0 starts at 64, entry 1 at 64 + 128 + pad8(blob_a). */
	const struct bad bads[] = {
		{ "magic", 0, 0x52505453, 4, -EINVAL, "magic" },
		{ "abi version", 4, 2, 2, -EPROTO, "ABI" },
		{ "header size", 6, 72, 2, -EINVAL, "header size" },
		{ "total over max", 8, ST_BACKENDS_MAX_BYTES + 8ull, 4, -E2BIG, "larger" },
		{ "total mismatch", 8, 64, 4, -EINVAL, "total size" },
		{ "unknown flag", 12, 3, 4, -EINVAL, "unknown flag" },
		{ "partial missing", 12, 0, 4, -EINVAL, "partial" },
		{ "epoch zero", 24, 0, 8, -EINVAL, "epoch length" },
		{ "epoch wraps", 24, ~0ull - EPOCH0 + 1, 8, -EINVAL, "2^64" },
		{ "merged zero", 32, 0, 2, -EINVAL, "cores merged" },
		{ "merged over expected", 32, 4, 2, -EINVAL, "cores merged" },
		{ "count over max", 36, ST_BACKENDS_ENTRIES_MAX + 1ull, 4, -EINVAL, "ENTRIES_MAX" },
		{ "count too big", 36, 4, 4, -EINVAL, "past the record" },
		{ "count too small", 36, 2, 4, -EINVAL, "after the last entry" },
		{ "reserved first", 48, 1, 1, -EINVAL, "reserved" },
		{ "reserved last", 63, 0x80, 1, -EINVAL, "reserved" },
	};
	struct fixture f;

	fixture_make(&f);
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		uint8_t copy[65536];
		const char *why = NULL;
		int rc;

		memcpy(copy, f.buf, f.len);
		w8(copy, bads[i].off, bads[i].value, bads[i].bytes);
		rc = parse_copy(copy, f.len, &why);
		if (rc != bads[i].rc || !why || !strstr(why, bads[i].why)) {
			fprintf(stderr, "  %s: rc %d why %s\n", bads[i].what, rc,
				why ? why : "(null)");
			CU_FAIL("header mutation not refused with its reason");
		}
	}
	/* merged == expected with the partial flag set */
	{
		uint8_t copy[65536];
		const char *why;

		memcpy(copy, f.buf, f.len);
		w8(copy, 32, 3, 2);
		CU_ASSERT_EQUAL(parse_copy(copy, f.len, &why), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "partial"));
	}
	fixture_free(&f);
}

static void test_every_entry_rejection(void)
{
	struct fixture f;
	size_t e0, e1, e2;

	fixture_make(&f);
	e0 = 64;
	e1 = e0 + hand_entry_bytes(&f.h[0]);
	e2 = e1 + hand_entry_bytes(&f.h[1]);
	{
		const struct bad bads[] = {
			{ "family 5", e0 + 0, 5, 1, -EINVAL, "family" },
			{ "family 0", e1 + 0, 0, 1, -EINVAL, "family" },
			{ "protocol", e0 + 1, ST_PROFILE_PROTO_MAX + 1, 1, -EINVAL, "protocol" },
			{ "ipv4 tail", e1 + 8 + 4, 1, 1, -EINVAL, "IPv4" },
			{ "ipv4 tail end", e1 + 8 + 15, 1, 1, -EINVAL, "IPv4" },
			{ "entry reserved", e1 + 120, 1, 8, -EINVAL, "reserved" },
			{ "duplicate port", e1 + 2, 9092, 2, -EINVAL, "ascending" },
			{ "port down", e1 + 2, 9000, 2, -EINVAL, "ascending" },
			{ "addr down", e1 + 8 + 3, 4, 1, -EINVAL, "ascending" },
			{ "family down", e2 + 0, 4, 1, -EINVAL, "" },
			{ "latency too long", e0 + 4, ST_BACKENDS_LATENCY_MAX_BYTES + 8ull, 4,
			  -EINVAL, "LATENCY_MAX" },
			{ "latency past end", e2 + 4, 4096, 4, -EINVAL, "past the record" },
			{ "blob kind", e0 + 128, 1, 1, -EINVAL, "quantile validator" },
			{ "blob length", e2 + 4, f.h[2].blob_len - 1ull, 4, -EINVAL, "" },
			{ "blob body", e0 + 128 + 16 + 9, 1, 1, -EINVAL, "quantile validator" },
		};

		for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
			uint8_t copy[65536];
			const char *why = NULL;
			int rc;

			memcpy(copy, f.buf, f.len);
			w8(copy, bads[i].off, bads[i].value, bads[i].bytes);
			rc = parse_copy(copy, f.len, &why);
			if (rc != bads[i].rc || !why || !strstr(why, bads[i].why)) {
				fprintf(stderr, "  %s: rc %d why %s\n", bads[i].what, rc,
					why ? why : "(null)");
				CU_FAIL("entry mutation not refused with its reason");
			}
		}
	}
	/* entry 1's counters all zero (it has no latency): refused */
	{
		uint8_t copy[65536];
		const char *why;

		memcpy(copy, f.buf, f.len);
		memset(copy + e1 + 24, 0, 96);
		CU_ASSERT_EQUAL(parse_copy(copy, f.len, &why), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "all zeros"));
		/* any one counter makes it valid again */
		for (unsigned k = 0; k < 12; k++) {
			memset(copy + e1 + 24, 0, 96);
			copy[e1 + 24 + 8 * k + 7] = 1;
			CU_ASSERT_EQUAL(parse_copy(copy, f.len, &why), 0);
		}
	}
	fixture_free(&f);
}

/*
 * Quantile blobs are multiples of 8 bytes, so padding only follows a blob
 * whose latency_len is not: one byte longer than the sketch's blob.  With
 * zero padding the quantile validator refuses the length; with a non-zero
 * padding byte the padding check speaks first.
 */
static void test_padding_after_a_blob(void)
{
	static const double v[] = { 42 };
	struct hand_entry h = { .family = 4, .port = 80, .addr = { 1, 2, 3, 4 } };
	uint8_t buf[4096], longer[4096];
	uint32_t len = 0;
	uint8_t *blob = qs_blob(ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS,
				false, v, 1, &len);
	const char *why;
	size_t total;

	CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
	CU_ASSERT_EQUAL(len % 8, 0);
	memset(longer, 0, sizeof(longer));
	memcpy(longer, blob, len);
	h.blob = longer;
	h.blob_len = len + 1;
	total = hand_record(buf, &h, 1, 1, 1, 0);
	CU_ASSERT_EQUAL(total, 64 + 128 + len + 8);
	CU_ASSERT_EQUAL(parse_copy(buf, total, &why), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "quantile validator"));
	for (size_t at = 64 + 128 + len + 1; at < total; at++) {
		buf[at] = 0x10;
		CU_ASSERT_EQUAL(parse_copy(buf, total, &why), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "padding"));
		buf[at] = 0;
	}
	/* the exact blob length parses */
	h.blob_len = len;
	total = hand_record(buf, &h, 1, 1, 1, 0);
	CU_ASSERT_EQUAL(parse_copy(buf, total, &why), 0);
	free(blob);
}

/* A blob that the quantile validator accepts but is not the record's kind
 * of sketch: each gets its own reason. */
static void test_latency_parameters_are_checked(void)
{
	static const double v[] = { 5, 50, 500 };
	struct {
		double alpha;
		unsigned bins;
		bool is_signed;
		unsigned n;
		const char *why;
	} cases[] = {
		{ 0.02, ST_BACKENDS_LATENCY_BINS, false, 3, "alpha" },
		{ ST_BACKENDS_LATENCY_ALPHA, 1024, false, 3, "bin count" },
		{ ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS, true, 3, "signed" },
		{ ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS, false, 0, "empty" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hand_entry h = { .family = 4, .port = 80, .addr = { 1, 2, 3, 4 },
					.c = { 1 } };
		struct st_backends_entry e = { .family = 4, .port = 80,
					       .addr = { 1, 2, 3, 4 }, .records = 1 };
		const struct st_backends_meta m = { .epoch_start_ns = EPOCH0,
			.epoch_ns = SEC, .cores_merged = 1, .cores_expected = 1 };
		uint8_t buf[16384], out[16384];
		const char *why = NULL;
		uint32_t len = 0;
		uint8_t *blob = qs_blob(cases[i].alpha, cases[i].bins, cases[i].is_signed,
					v, cases[i].n, &len);
		size_t total;

		CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
		h.blob = blob;
		h.blob_len = len;
		total = hand_record(buf, &h, 1, 1, 1, 0);
		CU_ASSERT_EQUAL(parse_copy(buf, total, &why), -EINVAL);
		if (!why || !strstr(why, cases[i].why)) {
			fprintf(stderr, "  case %zu: why %s\n", i, why ? why : "(null)");
			CU_FAIL("latency parameter not refused with its reason");
		}
		e.latency = blob;
		e.latency_len = len;
		CU_ASSERT_EQUAL(st_backends_build(&e, 1, &m, out, sizeof(out)), -EINVAL);
		free(blob);
	}
}

/* Every prefix is refused, both as is and with total_bytes patched to the
 * prefix length (so the framing check alone cannot be what refuses it). */
static void test_truncation_at_every_length(void)
{
	struct fixture f;
	unsigned refused = 0;

	fixture_make(&f);
	for (size_t len = 0; len < f.len; len++) {
		uint8_t copy[65536];
		const char *why;

		memcpy(copy, f.buf, f.len);
		if (parse_copy(copy, len, &why) != 0)
			refused++;
		if (len >= 12)
			w8(copy, 8, len, 4);
		if (parse_copy(copy, len, &why) != 0)
			refused++;
	}
	CU_ASSERT_EQUAL(refused, 2 * f.len);
	fixture_free(&f);
}

static void test_builder_refusals(void)
{
	struct fixture f;
	struct st_backends_entry e[3];
	struct st_backends_meta m = meta_2_of_3;
	uint8_t out[65536];

	fixture_make(&f);
	memcpy(e, f.e, sizeof(e));
	/* unsorted, duplicate */
	e[0] = f.e[1];
	e[1] = f.e[0];
	CU_ASSERT_EQUAL(st_backends_size(e, 3, &m), -EINVAL);
	memcpy(e, f.e, sizeof(e));
	e[1] = f.e[0];
	CU_ASSERT_EQUAL(st_backends_size(e, 3, &m), -EINVAL);
	/* entry problems */
	memcpy(e, f.e, sizeof(e));
	e[1].family = 5;
	CU_ASSERT_EQUAL(st_backends_size(e, 3, &m), -EINVAL);
	memcpy(e, f.e, sizeof(e));
	e[1].addr[9] = 1;
	CU_ASSERT_EQUAL(st_backends_size(e, 3, &m), -EINVAL);
	memcpy(e, f.e, sizeof(e));
	e[1].packets_to = 0;
	e[1].bytes_to = 0;
	e[1].flows_new = 0;
	CU_ASSERT_EQUAL(st_backends_size(e, 3, &m), -EINVAL);
	memcpy(e, f.e, sizeof(e));
	e[0].latency = NULL;
	CU_ASSERT_EQUAL(st_backends_size(e, 3, &m), -EINVAL);
	memcpy(e, f.e, sizeof(e));
	e[2].protocol = 200;
	CU_ASSERT_EQUAL(st_backends_size(e, 3, &m), -EINVAL);
	/* a corrupt blob is caught by build (size does not read blobs) */
	{
		uint8_t bad[4096];

		memcpy(e, f.e, sizeof(e));
		memcpy(bad, f.e[0].latency, f.e[0].latency_len);
		bad[3] = 1;  /* blob header reserved byte */
		e[0].latency = bad;
		CU_ASSERT_EQUAL(st_backends_build(e, 3, &m, out, sizeof(out)), -EINVAL);
	}
	/* meta problems */
	m.flags = 0;
	CU_ASSERT_EQUAL(st_backends_size(f.e, 3, &m), -EINVAL);
	m = meta_2_of_3;
	m.cores_merged = 0;
	CU_ASSERT_EQUAL(st_backends_size(f.e, 3, &m), -EINVAL);
	m = meta_2_of_3;
	m.epoch_ns = 0;
	CU_ASSERT_EQUAL(st_backends_size(f.e, 3, &m), -EINVAL);
	m = meta_2_of_3;
	m.flags |= 4;
	CU_ASSERT_EQUAL(st_backends_size(f.e, 3, &m), -EINVAL);
	CU_ASSERT_EQUAL(st_backends_size(f.e, 3, NULL), -EINVAL);
	CU_ASSERT_EQUAL(st_backends_size(f.e, ST_BACKENDS_ENTRIES_MAX + 1, &meta_2_of_3),
			-EINVAL);
	fixture_free(&f);
}

/* 1024 entries with 4 KiB blobs pass ST_BACKENDS_MAX_BYTES. */
static void test_too_big(void)
{
	struct st_backends_entry *e = calloc(ST_BACKENDS_ENTRIES_MAX, sizeof(*e));
	double v[480];
	uint32_t len = 0;
	uint8_t *blob;

	for (unsigned i = 0; i < 480; i++)
		v[i] = 10.0 * (1 + i) * (1 + i);  /* spread over many buckets */
	blob = qs_blob(ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS, false, v, 480,
		       &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
	CU_ASSERT_FATAL(64 + ST_BACKENDS_ENTRIES_MAX * (128ull + len) > ST_BACKENDS_MAX_BYTES);
	for (unsigned i = 0; i < ST_BACKENDS_ENTRIES_MAX; i++) {
		e[i].family = 4;
		e[i].addr[0] = 10;
		e[i].addr[2] = (uint8_t)(i >> 8);
		e[i].addr[3] = (uint8_t)i;
		e[i].port = 9092;
		e[i].records = 1;
		e[i].latency = blob;
		e[i].latency_len = len;
	}
	CU_ASSERT_EQUAL(st_backends_size(e, ST_BACKENDS_ENTRIES_MAX, &meta_2_of_3), -E2BIG);
	free(blob);
	free(e);
}

ST_TEST_MAIN("dataplane/backends/record",
	ST_TEST(test_build_matches_the_drawn_layout),
	ST_TEST(test_parse_gives_back_what_was_written),
	ST_TEST(test_empty_record),
	ST_TEST(test_is_record),
	ST_TEST(test_every_header_rejection),
	ST_TEST(test_every_entry_rejection),
	ST_TEST(test_padding_after_a_blob),
	ST_TEST(test_latency_parameters_are_checked),
	ST_TEST(test_truncation_at_every_length),
	ST_TEST(test_builder_refusals),
	ST_TEST(test_too_big),
)
