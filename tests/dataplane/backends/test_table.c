/*
 * The endpoint table and its merge into the Backend Metrics record
 * (dataplane/backends/table.h).
 *
 * Oracles: counts the test puts in and sums it works out by hand; the
 * record order written out by hand from the header's rule (family, address
 * bytes, port, protocol); the merged latency sketch compared with a sketch
 * of all the samples fed directly (the quantile module's exact-merge
 * property), byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/backends/table.h"
#include "dataplane/sketch/quantile.h"
#include "shadowtap/backends.h"
#include "shadowtap/profile.h"
#include "st_test.h"

#define EPOCH0 1700000000000000000ull

static struct st_be_key key4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port,
			     uint8_t proto)
{
	struct st_be_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	k.protocol = proto;
	k.port = port;
	k.addr[0] = a;
	k.addr[1] = b;
	k.addr[2] = c;
	k.addr[3] = d;
	return k;
}

static void test_key_from_pkt(void)
{
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 7 };
	static const uint8_t v6[16] = { 0xfd, 1, [15] = 9 };
	struct st_be_key k;

	st_be_key_from_pkt(&k, 4, mapped, 9092, ST_PROFILE_PROTO_KAFKA);
	CU_ASSERT_EQUAL(k.family, 4);
	CU_ASSERT_EQUAL(k.addr[0], 10);
	CU_ASSERT_EQUAL(k.addr[3], 7);
	for (unsigned i = 4; i < 16; i++)
		CU_ASSERT_EQUAL(k.addr[i], 0);
	CU_ASSERT_EQUAL(k.port, 9092);
	CU_ASSERT_EQUAL(k.protocol, ST_PROFILE_PROTO_KAFKA);
	st_be_key_from_pkt(&k, 6, v6, 1883, ST_PROFILE_PROTO_MQTT);
	CU_ASSERT_EQUAL(memcmp(k.addr, v6, 16), 0);
}

static void test_find_full_overflow_reset(void)
{
	struct st_be_table *t = st_be_table_create(4);
	struct st_be_key k[5];
	int32_t at[5];
	uint32_t gen;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (unsigned i = 0; i < 5; i++)
		k[i] = key4(10, 0, 0, (uint8_t)(i + 1), 9092, ST_PROFILE_PROTO_KAFKA);
	for (unsigned i = 0; i < 4; i++) {
		at[i] = st_be_table_find(t, &k[i]);
		CU_ASSERT_EQUAL(at[i], (int32_t)i);
	}
	/* full: the fifth is refused, the four are still found */
	CU_ASSERT_EQUAL(st_be_table_find(t, &k[4]), -1);
	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(st_be_table_find(t, &k[i]), at[i]);
	CU_ASSERT_EQUAL(st_be_table_used(t), 4);
	st_be_table_overflow(t, 3);
	CU_ASSERT_EQUAL(st_be_table_overflow_count(t), 3);
	st_be_table_entry(t, at[2])->packets_to = 5;

	gen = st_be_table_generation(t);
	st_be_table_reset(t);
	CU_ASSERT_NOT_EQUAL(st_be_table_generation(t), gen);
	CU_ASSERT_EQUAL(st_be_table_used(t), 0);
	CU_ASSERT_EQUAL(st_be_table_overflow_count(t), 0);
	/* the fifth fits now, as a zeroed entry; an old one comes back zeroed */
	at[4] = st_be_table_find(t, &k[4]);
	CU_ASSERT_EQUAL(at[4], 0);
	at[2] = st_be_table_find(t, &k[2]);
	CU_ASSERT_EQUAL(at[2], 1);
	CU_ASSERT_EQUAL(st_be_table_entry(t, at[2])->packets_to, 0);
	CU_ASSERT_EQUAL(memcmp(&st_be_table_entry(t, at[4])->key, &k[4], sizeof(k[4])), 0);
	st_be_table_destroy(t);
	st_be_table_destroy(NULL);
	CU_ASSERT_PTR_NULL(st_be_table_create(0));
	CU_ASSERT_PTR_NULL(st_be_table_create(ST_BE_TABLE_ENTRIES_MAX + 1));
}

/* 256 endpoints differing in address, port or protocol only: all distinct,
 * all found again, over several resets. */
static void test_many_keys(void)
{
	struct st_be_table *t = st_be_table_create(256);

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 256; i++) {
			struct st_be_key k = key4(10, 0, (uint8_t)(i % 4), (uint8_t)(i / 8),
						  (uint16_t)(9092 + i % 2),
						  (uint8_t)(i % 8 < 4 ? 1 : 2));

			CU_ASSERT_EQUAL(st_be_table_find(t, &k), (int32_t)i);
		}
		for (unsigned i = 256; i-- > 0;) {
			struct st_be_key k = key4(10, 0, (uint8_t)(i % 4), (uint8_t)(i / 8),
						  (uint16_t)(9092 + i % 2),
						  (uint8_t)(i % 8 < 4 ? 1 : 2));

			CU_ASSERT_EQUAL(st_be_table_find(t, &k), (int32_t)i);
		}
		st_be_table_reset(t);
	}
	st_be_table_destroy(t);
}

/* Two cores' tables merged: counters summed, sketches merged exactly,
 * entries in record order, an all-zero entry left out. */
static void test_merge_two_cores(void)
{
	static const double a_us[] = { 100, 200, 250 }, b_us[] = { 300, 5000 };
	struct st_be_table *a = st_be_table_create(8), *b = st_be_table_create(8);
	struct st_be_merge *m = st_be_merge_create();
	struct st_be_key kafka = key4(10, 0, 0, 9, 9092, ST_PROFILE_PROTO_KAFKA);
	struct st_be_key mqtt = key4(10, 0, 0, 2, 1883, ST_PROFILE_PROTO_MQTT);
	struct st_be_key idle = key4(10, 0, 0, 1, 80, 0);
	struct st_be_key v6 = { .family = 6, .protocol = 3, .port = 4222, .addr = { 0xfd } };
	struct st_be_entry *e;
	struct st_backends_meta meta = { .epoch_start_ns = EPOCH0, .epoch_ns = 1000000000,
					 .cores_merged = 2, .cores_expected = 2 };
	struct st_backends_view v;
	struct st_backends_entry got[4];
	struct st_qs *all = st_qs_create(ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS,
					 false);
	uint8_t *buf, want_blob[8192];
	ssize_t size, want_len;
	size_t pos = 0;
	unsigned n = 0;
	const char *why;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(all);
	/* core a: kafka (3 samples), mqtt, an endpoint with nothing counted */
	e = st_be_table_entry(a, st_be_table_find(a, &kafka));
	e->packets_to = 10; e->bytes_to = 1000; e->packets_from = 4; e->records = 7;
	e->retransmissions_to = 1; e->zero_windows_from = 2; e->flows_new = 1;
	for (unsigned i = 0; i < 3; i++)
		st_be_table_latency(a, e, a_us[i]);
	e = st_be_table_entry(a, st_be_table_find(a, &mqtt));
	e->packets_from = 3; e->egress_records = 9;
	(void)st_be_table_find(a, &idle);
	st_be_table_overflow(a, 4);
	/* core b: kafka (2 samples), the IPv6 NATS endpoint */
	e = st_be_table_entry(b, st_be_table_find(b, &v6));
	e->packets_to = 1;
	e = st_be_table_entry(b, st_be_table_find(b, &kafka));
	e->packets_to = 5; e->bytes_to = 500; e->records = 3; e->record_bytes = 33;
	e->retransmissions_from = 2; e->zero_windows_to = 1; e->flows_new = 2;
	for (unsigned i = 0; i < 2; i++)
		st_be_table_latency(b, e, b_us[i]);
	st_be_table_overflow(b, 1);

	st_be_merge_begin(m);
	CU_ASSERT_EQUAL(st_be_merge_add(m, a), 0);
	CU_ASSERT_EQUAL(st_be_merge_add(m, b), 0);
	CU_ASSERT_EQUAL(st_be_merge_overflow(m), 5);
	size = st_be_merge_size(m, &meta);
	CU_ASSERT_FATAL(size > 0);
	buf = malloc((size_t)size);
	CU_ASSERT_EQUAL(st_be_merge_build(m, &meta, buf, (size_t)size), size);
	CU_ASSERT_EQUAL(st_be_merge_build(m, &meta, buf, (size_t)size - 1), -ENOSPC);
	CU_ASSERT_EQUAL_FATAL(st_backends_parse(buf, (size_t)size, &v, &why), 0);
	CU_ASSERT_EQUAL(v.meta.overflow, 5);
	CU_ASSERT_EQUAL(v.meta.flags, 0);
	CU_ASSERT_EQUAL(v.entry_count, 3);   /* the idle endpoint is left out */
	while (n < 4 && st_backends_next(&v, &pos, &got[n]) == 1)
		n++;
	CU_ASSERT_EQUAL_FATAL(n, 3);
	/* record order: 10.0.0.2:1883, 10.0.0.9:9092, then [fd00::]:4222 */
	CU_ASSERT(got[0].family == 4 && got[0].addr[3] == 2 && got[0].port == 1883);
	CU_ASSERT(got[1].family == 4 && got[1].addr[3] == 9 && got[1].port == 9092);
	CU_ASSERT(got[2].family == 6 && got[2].port == 4222 && got[2].protocol == 3);
	CU_ASSERT_EQUAL(got[0].packets_from, 3);
	CU_ASSERT_EQUAL(got[0].egress_records, 9);
	CU_ASSERT_EQUAL(got[0].latency_len, 0);
	CU_ASSERT_EQUAL(got[1].packets_to, 15);
	CU_ASSERT_EQUAL(got[1].bytes_to, 1500);
	CU_ASSERT_EQUAL(got[1].packets_from, 4);
	CU_ASSERT_EQUAL(got[1].records, 10);
	CU_ASSERT_EQUAL(got[1].record_bytes, 33);
	CU_ASSERT_EQUAL(got[1].retransmissions_to, 1);
	CU_ASSERT_EQUAL(got[1].retransmissions_from, 2);
	CU_ASSERT_EQUAL(got[1].zero_windows_from, 2);
	CU_ASSERT_EQUAL(got[1].zero_windows_to, 1);
	CU_ASSERT_EQUAL(got[1].flows_new, 3);
	CU_ASSERT_EQUAL(got[2].packets_to, 1);
	/* the merged sketch is the sketch of all five samples */
	for (unsigned i = 0; i < 3; i++)
		st_qs_update(all, a_us[i]);
	for (unsigned i = 0; i < 2; i++)
		st_qs_update(all, b_us[i]);
	want_len = st_qs_serialize(all, want_blob, sizeof(want_blob));
	CU_ASSERT_EQUAL_FATAL(got[1].latency_len, (uint32_t)want_len);
	CU_ASSERT_EQUAL(memcmp(got[1].latency, want_blob, (size_t)want_len), 0);

	/* a partial merge says so */
	meta.cores_expected = 3;
	CU_ASSERT_EQUAL(st_be_merge_build(m, &meta, buf, (size_t)size), size);
	CU_ASSERT_EQUAL(st_backends_parse(buf, (size_t)size, &v, &why), 0);
	CU_ASSERT_EQUAL(v.meta.flags, ST_BACKENDS_F_PARTIAL);

	/* begin empties it: an empty record */
	st_be_merge_begin(m);
	meta.cores_expected = 2;
	CU_ASSERT_EQUAL(st_be_merge_size(m, &meta), (ssize_t)ST_BACKENDS_HDR_BYTES);
	free(buf);
	st_qs_destroy(all);
	st_be_merge_destroy(m);
	st_be_table_destroy(a);
	st_be_table_destroy(b);
}

/* Five cores of 256 endpoints each, 1280 distinct: the first 1024 added
 * are kept, the packets and samples of the other 256 are the overflow. */
static void test_merge_past_the_record_limit(void)
{
	struct st_be_merge *m = st_be_merge_create();
	struct st_be_table *t = st_be_table_create(256);
	struct st_backends_meta meta = { .epoch_start_ns = EPOCH0, .epoch_ns = 1000000000,
					 .cores_merged = 5, .cores_expected = 5 };
	uint8_t *buf = malloc(ST_BACKENDS_MAX_BYTES);
	struct st_backends_view v;
	const char *why;
	ssize_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	st_be_merge_begin(m);
	for (unsigned core = 0; core < 5; core++) {
		st_be_table_reset(t);
		for (unsigned i = 0; i < 256; i++) {
			struct st_be_key k = key4(10, (uint8_t)core, 0, (uint8_t)i, 9092, 1);
			struct st_be_entry *e = st_be_table_entry(t, st_be_table_find(t, &k));

			e->packets_to = 2;
			e->packets_from = 1;
			st_be_table_latency(t, e, 10.0);
		}
		CU_ASSERT_EQUAL(st_be_merge_add(m, t), 0);
	}
	CU_ASSERT_EQUAL(st_be_merge_used(m), ST_BACKENDS_ENTRIES_MAX);
	/* 256 endpoints x (2 + 1 packets + 1 sample) */
	CU_ASSERT_EQUAL(st_be_merge_overflow(m), 256u * 4);
	len = st_be_merge_build(m, &meta, buf, ST_BACKENDS_MAX_BYTES);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(st_backends_parse(buf, (size_t)len, &v, &why), 0);
	CU_ASSERT_EQUAL(v.entry_count, ST_BACKENDS_ENTRIES_MAX);
	CU_ASSERT_EQUAL(v.meta.overflow, 1024);
	free(buf);
	st_be_table_destroy(t);
	st_be_merge_destroy(m);
}

ST_TEST_MAIN("dataplane/backends/table",
	ST_TEST(test_key_from_pkt),
	ST_TEST(test_find_full_overflow_reset),
	ST_TEST(test_many_keys),
	ST_TEST(test_merge_two_cores),
	ST_TEST(test_merge_past_the_record_limit),
)
