/*
 * Rate ticks: counts per tick against a brute-force placement done here by
 * comparing each timestamp with the tick edges start + j * tick_ns (no
 * division), boundaries, merge, serialization and its rejections.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "st_test.h"
#include "dataplane/sketch/le.h"
#include "dataplane/sketch/ticks.h"
#include "tools/lib/keygen.h"

#define PAYLOAD 16   /* blob header bytes */
#define EPOCH_NS 1000000000ull
#define START_NS 1700000000000000000ull

static struct st_ticks *new_ticks(unsigned n, uint64_t epoch_ns, uint64_t start)
{
	struct st_ticks *t = st_ticks_create(n, epoch_ns);

	CU_ASSERT_FATAL(t != NULL);
	st_ticks_reset(t, start);
	return t;
}

static void test_boundaries(void)
{
	struct st_ticks *t = new_ticks(100, EPOCH_NS, START_NS);
	const uint64_t tick = EPOCH_NS / 100;
	const uint64_t *v = st_ticks_values(t);

	CU_ASSERT_EQUAL(st_ticks_count(t), 100);
	CU_ASSERT_EQUAL(st_ticks_tick_ns(t), 10000000);
	CU_ASSERT_EQUAL(st_ticks_epoch_start_ns(t), START_NS);
	st_ticks_update(t, START_NS, 1);                    /* tick 0 */
	st_ticks_update(t, START_NS + tick - 1, 2);         /* tick 0 */
	st_ticks_update(t, START_NS + tick, 4);             /* tick 1 */
	st_ticks_update(t, START_NS + 57 * tick + 3, 8);    /* tick 57 */
	st_ticks_update(t, START_NS + EPOCH_NS - 1, 16);    /* tick 99 */
	st_ticks_update(t, START_NS + EPOCH_NS, 32);        /* late */
	st_ticks_update(t, UINT64_MAX, 64);                 /* late */
	st_ticks_update(t, START_NS - 1, 128);              /* early */
	st_ticks_update(t, 0, 256);                         /* early */
	st_ticks_update(t, START_NS, 0);                    /* nothing */
	CU_ASSERT_EQUAL(v[0], 3);
	CU_ASSERT_EQUAL(v[1], 4);
	CU_ASSERT_EQUAL(v[57], 8);
	CU_ASSERT_EQUAL(v[99], 16);
	CU_ASSERT_EQUAL(v[2] + v[56] + v[58] + v[98], 0);
	CU_ASSERT_EQUAL(st_ticks_total(t), 31);
	CU_ASSERT_EQUAL(st_ticks_late(t), 96);
	CU_ASSERT_EQUAL(st_ticks_early(t), 384);
	st_ticks_update(t, START_NS, UINT32_MAX);
	CU_ASSERT_EQUAL(v[0], 3 + (uint64_t)UINT32_MAX);

	st_ticks_reset(t, 5);
	CU_ASSERT_EQUAL(st_ticks_total(t), 0);
	CU_ASSERT_EQUAL(st_ticks_early(t), 0);
	CU_ASSERT_EQUAL(st_ticks_late(t), 0);
	CU_ASSERT_EQUAL(st_ticks_epoch_start_ns(t), 5);
	st_ticks_update(t, 5, 1);
	CU_ASSERT_EQUAL(v[0], 1);
	st_ticks_destroy(t);
	st_ticks_destroy(NULL);
}

/* An epoch that ends past 2^64 ns: no wrap-around. */
static void test_epoch_at_end_of_time(void)
{
	const uint64_t start = UINT64_MAX - EPOCH_NS / 2;
	struct st_ticks *t = new_ticks(10, EPOCH_NS, start);

	st_ticks_update(t, UINT64_MAX, 1);       /* exactly 0.5 s in: tick 5 */
	st_ticks_update(t, start, 2);            /* tick 0 */
	st_ticks_update(t, start - 1, 4);        /* early */
	st_ticks_update(t, 0, 8);                /* early, not late */
	CU_ASSERT_EQUAL(st_ticks_values(t)[5], 1);
	CU_ASSERT_EQUAL(st_ticks_values(t)[0], 2);
	CU_ASSERT_EQUAL(st_ticks_early(t), 12);
	CU_ASSERT_EQUAL(st_ticks_late(t), 0);
	st_ticks_destroy(t);
}

struct expect {
	uint64_t ticks[ST_TICKS_MAX];
	uint64_t early, late;
};

/* The tick holding ts, by comparison with the edges; -1 early, n late. */
static long place(uint64_t ts, uint64_t start, uint64_t tick_ns, unsigned n)
{
	if (ts < start)
		return -1;
	for (unsigned j = 0; j < n; j++)
		if (ts < start + (j + 1) * tick_ns)
			return j;
	return n;
}

static void feed_random(struct st_ticks *t, struct expect *e, struct st_rng *r,
			unsigned count, uint64_t start, uint64_t epoch_ns, unsigned n)
{
	uint64_t tick_ns = epoch_ns / n;

	for (unsigned i = 0; i < count; i++) {
		/* from one tenth of an epoch before to one tenth after */
		uint64_t ts = start - epoch_ns / 10 + st_rng_next(r) % (epoch_ns * 12 / 10);
		uint32_t rec = 1 + (uint32_t)(st_rng_next(r) % 1000);
		long j;

		/* snap a quarter of them to a tick edge or one before it */
		if (st_rng_next(r) % 4 == 0) {
			ts = start + (st_rng_next(r) % (n + 1)) * tick_ns;
			ts -= st_rng_next(r) & 1;
		}
		j = place(ts, start, tick_ns, n);
		if (j < 0)
			e->early += rec;
		else if (j == (long)n)
			e->late += rec;
		else
			e->ticks[j] += rec;
		st_ticks_update(t, ts, rec);
	}
}

static void check_expect(const struct st_ticks *t, const struct expect *e, unsigned n)
{
	uint64_t total = 0;

	for (unsigned j = 0; j < n; j++)
		total += e->ticks[j];
	CU_ASSERT(!memcmp(st_ticks_values(t), e->ticks, n * sizeof(uint64_t)));
	CU_ASSERT_EQUAL(st_ticks_early(t), e->early);
	CU_ASSERT_EQUAL(st_ticks_late(t), e->late);
	CU_ASSERT_EQUAL(st_ticks_total(t), total);
}

static void test_counts_match_brute_force(void)
{
	static const struct { unsigned n; uint64_t epoch_ns; } cases[] = {
		{ 100, EPOCH_NS }, { 1, 1000 }, { 7, 7 * 1234567 }, { 10000, 10000 },
	};
	struct expect *e = malloc(sizeof(*e));
	struct st_rng r;

	CU_ASSERT_FATAL(e != NULL);
	st_rng_seed(&r, 11);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct st_ticks *t = new_ticks(cases[c].n, cases[c].epoch_ns, START_NS);

		memset(e, 0, sizeof(*e));
		feed_random(t, e, &r, 20000, START_NS, cases[c].epoch_ns, cases[c].n);
		check_expect(t, e, cases[c].n);
		CU_ASSERT(e->early > 0 && e->late > 0);
		st_ticks_destroy(t);
	}
	free(e);
}

static void test_merge_adds(void)
{
	struct expect *e = calloc(1, sizeof(*e));
	struct st_ticks *a = new_ticks(100, EPOCH_NS, START_NS);
	struct st_ticks *b = new_ticks(100, EPOCH_NS, START_NS);
	struct st_ticks *other;
	struct st_rng r;

	CU_ASSERT_FATAL(e != NULL);
	st_rng_seed(&r, 12);
	feed_random(a, e, &r, 5000, START_NS, EPOCH_NS, 100);
	feed_random(b, e, &r, 5000, START_NS, EPOCH_NS, 100);
	CU_ASSERT_EQUAL(st_ticks_merge(a, b), 0);
	check_expect(a, e, 100);

	other = new_ticks(100, EPOCH_NS, START_NS + 1);      /* another start */
	CU_ASSERT_EQUAL(st_ticks_merge(a, other), -EINVAL);
	st_ticks_destroy(other);
	other = new_ticks(100, 2 * EPOCH_NS, START_NS);      /* another tick length */
	CU_ASSERT_EQUAL(st_ticks_merge(a, other), -EINVAL);
	st_ticks_destroy(other);
	other = new_ticks(50, EPOCH_NS, START_NS);           /* another count */
	CU_ASSERT_EQUAL(st_ticks_merge(a, other), -EINVAL);
	st_ticks_destroy(other);
	other = new_ticks(200, 2 * EPOCH_NS, START_NS);      /* same tick, longer */
	CU_ASSERT_EQUAL(st_ticks_merge(a, other), -EINVAL);
	st_ticks_destroy(other);
	check_expect(a, e, 100);
	st_ticks_destroy(a);
	st_ticks_destroy(b);
	free(e);
}

static bool create_fails(unsigned n, uint64_t epoch_ns)
{
	struct st_ticks *t;

	errno = 0;
	t = st_ticks_create(n, epoch_ns);
	st_ticks_destroy(t);
	return t == NULL && errno == EINVAL;
}

static void test_create_rejects_bad_arguments(void)
{
	struct st_ticks *t;

	CU_ASSERT(create_fails(0, EPOCH_NS));
	CU_ASSERT(create_fails(ST_TICKS_MAX + 1, EPOCH_NS));
	CU_ASSERT(create_fails(100, 0));
	CU_ASSERT(create_fails(3, 1000));       /* not a multiple */
	CU_ASSERT(create_fails(100, 99));       /* shorter than a tick each */
	t = st_ticks_create(ST_TICKS_MAX, ST_TICKS_MAX);
	CU_ASSERT(t != NULL);
	if (t) {
		CU_ASSERT_EQUAL(st_ticks_tick_ns(t), 1);
		CU_ASSERT_EQUAL(st_ticks_epoch_start_ns(t), 0);
		CU_ASSERT(st_ticks_memory_bytes(t) >= ST_TICKS_MAX * sizeof(uint64_t));
	}
	st_ticks_destroy(t);
	t = st_ticks_create(1, UINT64_MAX);
	CU_ASSERT(t != NULL);
	st_ticks_destroy(t);
}

/* ---- serialization ----------------------------------------------------- */

struct blob {
	uint8_t b[PAYLOAD + 40 + 8 * 100 + 16];
	size_t len;
};

static void test_serialize_round_trip(void)
{
	struct expect *e = calloc(1, sizeof(*e));
	struct st_ticks *t = new_ticks(100, EPOCH_NS, START_NS), *d;
	struct blob bl, b2;
	const char *why = NULL;
	struct st_rng r;
	ssize_t len;

	CU_ASSERT_FATAL(e != NULL);
	st_rng_seed(&r, 13);
	feed_random(t, e, &r, 3000, START_NS, EPOCH_NS, 100);
	CU_ASSERT_EQUAL(st_ticks_serialized_size(t), PAYLOAD + 40 + 800);
	CU_ASSERT_EQUAL(st_ticks_serialize(t, bl.b, PAYLOAD + 40 + 799), -ENOSPC);
	len = st_ticks_serialize(t, bl.b, sizeof(bl.b));
	CU_ASSERT_EQUAL_FATAL(len, PAYLOAD + 40 + 800);
	/* the documented layout */
	CU_ASSERT_EQUAL(bl.b[0], 5);
	CU_ASSERT_EQUAL(st_get_le32(bl.b + PAYLOAD + 0), 100);
	CU_ASSERT_EQUAL(st_get_le64(bl.b + PAYLOAD + 8), EPOCH_NS / 100);
	CU_ASSERT_EQUAL(st_get_le64(bl.b + PAYLOAD + 16), START_NS);
	CU_ASSERT_EQUAL(st_get_le64(bl.b + PAYLOAD + 24), e->early);
	CU_ASSERT_EQUAL(st_get_le64(bl.b + PAYLOAD + 32), e->late);
	CU_ASSERT_EQUAL(st_get_le64(bl.b + PAYLOAD + 40 + 8 * 37), e->ticks[37]);
	CU_ASSERT_EQUAL(st_ticks_validate(bl.b, (size_t)len, &why), 0);
	d = st_ticks_deserialize(bl.b, (size_t)len, &why);
	CU_ASSERT_FATAL(d != NULL);
	check_expect(d, e, 100);
	CU_ASSERT_EQUAL(st_ticks_epoch_start_ns(d), START_NS);
	CU_ASSERT_EQUAL(st_ticks_tick_ns(d), EPOCH_NS / 100);
	CU_ASSERT_EQUAL(st_ticks_serialize(d, b2.b, sizeof(b2.b)), len);
	CU_ASSERT(!memcmp(bl.b, b2.b, (size_t)len));
	/* the copy keeps the epoch: a record at its last ns lands in tick 99 */
	st_ticks_update(d, START_NS + EPOCH_NS - 1, 1);
	CU_ASSERT_EQUAL(st_ticks_values(d)[99], e->ticks[99] + 1);
	st_ticks_destroy(d);
	st_ticks_destroy(t);
	free(e);
}

static bool refused(const struct blob *bl, const char *kw)
{
	const char *why = NULL;
	struct st_ticks *t;
	bool ok;

	ok = st_ticks_validate(bl->b, bl->len, &why) == -EINVAL && why && strstr(why, kw);
	errno = 0;
	t = st_ticks_deserialize(bl->b, bl->len, &why);
	ok = ok && !t && errno == EINVAL;
	st_ticks_destroy(t);
	return ok;
}

static bool refused_u8(struct blob bl, size_t off, uint8_t v, const char *kw)
{
	bl.b[off] = v;
	return refused(&bl, kw);
}

static bool refused_u32(struct blob bl, size_t off, uint32_t v, const char *kw)
{
	st_put_le32(bl.b + off, v);
	return refused(&bl, kw);
}

static bool refused_u64(struct blob bl, size_t off, uint64_t v, const char *kw)
{
	st_put_le64(bl.b + off, v);
	return refused(&bl, kw);
}

static bool refused_len(struct blob bl, size_t len, const char *kw)
{
	bl.len = len;
	st_put_le32(bl.b + 4, (uint32_t)len);
	return refused(&bl, kw);
}

static void test_validate_rejects_malformed(void)
{
	struct st_ticks *t = new_ticks(100, EPOCH_NS, START_NS);
	const size_t P = PAYLOAD;
	const char *why = NULL;
	struct blob bl;
	ssize_t len;

	st_ticks_update(t, START_NS, 5);
	st_ticks_update(t, START_NS + EPOCH_NS / 2, 7);
	len = st_ticks_serialize(t, bl.b, sizeof(bl.b));
	CU_ASSERT_FATAL(len > 0);
	bl.len = (size_t)len;
	CU_ASSERT_EQUAL(st_ticks_validate(bl.b, bl.len, &why), 0);

	CU_ASSERT(st_ticks_validate(bl.b, 8, &why) == -EINVAL);
	CU_ASSERT(st_ticks_validate(bl.b, bl.len - 1, &why) == -EINVAL);
	CU_ASSERT(refused_u8(bl, 0, 3, "kind"));
	CU_ASSERT(refused_u8(bl, 1, 2, "version"));
	CU_ASSERT(refused_u8(bl, 2, 1, "hash"));
	CU_ASSERT(refused_u8(bl, 3, 1, "reserved"));
	CU_ASSERT(refused_len(bl, P + 39, "fixed fields"));
	CU_ASSERT(refused_len(bl, bl.len - 8, "length"));
	CU_ASSERT(refused_len(bl, bl.len + 8, "length"));
	CU_ASSERT(refused_u32(bl, P + 0, 0, "tick count"));
	CU_ASSERT(refused_u32(bl, P + 0, ST_TICKS_MAX + 1, "tick count"));
	CU_ASSERT(refused_u32(bl, P + 0, 99, "length"));
	CU_ASSERT(refused_u32(bl, P + 4, 1, "reserved"));
	CU_ASSERT(refused_u64(bl, P + 8, 0, "tick length"));
	CU_ASSERT(refused_u64(bl, P + 8, UINT64_MAX / 100 + 1, "2^64"));
	CU_ASSERT(refused_u64(bl, P + 40 + 8 * 99, UINT64_MAX, "overflow"));
	st_ticks_destroy(t);
}

/* Whatever validate accepts after random bit flips round-trips exactly. */
static void test_corrupted_blobs_never_trusted(void)
{
	struct st_ticks *t = new_ticks(100, EPOCH_NS, START_NS);
	struct blob src, bl, b2;
	unsigned accepted = 0, refused_n = 0;
	struct st_rng r;
	ssize_t len;

	st_rng_seed(&r, 14);
	for (unsigned i = 0; i < 1000; i++)
		st_ticks_update(t, START_NS + st_rng_next(&r) % EPOCH_NS, 1);
	len = st_ticks_serialize(t, src.b, sizeof(src.b));
	CU_ASSERT_FATAL(len > 0);
	src.len = (size_t)len;
	for (unsigned i = 0; i < 20000; i++) {
		const char *why = NULL;
		struct st_ticks *d;

		bl = src;
		bl.b[st_rng_next(&r) % bl.len] ^= (uint8_t)(1u << (st_rng_next(&r) % 8));
		if (st_rng_next(&r) % 8 == 0)
			bl.len = (size_t)(st_rng_next(&r) % (bl.len + 1));
		d = st_ticks_deserialize(bl.b, bl.len, &why);
		CU_ASSERT((d != NULL) == (st_ticks_validate(bl.b, bl.len, &why) == 0));
		if (!d) {
			refused_n++;
			continue;
		}
		accepted++;
		CU_ASSERT(st_ticks_serialize(d, b2.b, sizeof(b2.b)) == (ssize_t)bl.len &&
			  !memcmp(b2.b, bl.b, bl.len));
		st_ticks_destroy(d);
	}
	CU_ASSERT(accepted > 0 && refused_n > 0);
	st_ticks_destroy(t);
}

/* A copy of t through its blob (so that merging it into t is not aliasing). */
static struct st_ticks *ticks_copy(const struct st_ticks *t)
{
	static uint8_t blob[1 << 16];
	ssize_t n = st_ticks_serialize(t, blob, sizeof(blob));

	return n > 0 ? st_ticks_deserialize(blob, (size_t)n, NULL) : NULL;
}

/* Doubling by merges reaches 2^63; one more would wrap: refused, dst kept. */
static void test_merge_refuses_overflow(void)
{
	struct st_ticks *t = st_ticks_create(10, 1000);
	struct st_ticks *copy;

	CU_ASSERT_FATAL(t != NULL);
	st_ticks_reset(t, 0);
	st_ticks_update(t, 0, 1);
	for (int i = 0; i < 63; i++) {
		copy = ticks_copy(t);
		CU_ASSERT_FATAL(copy != NULL);
		CU_ASSERT_EQUAL_FATAL(st_ticks_merge(t, copy), 0);
		st_ticks_destroy(copy);
	}
	CU_ASSERT_EQUAL(st_ticks_total(t), 1ull << 63);
	copy = ticks_copy(t);
	CU_ASSERT_FATAL(copy != NULL);
	CU_ASSERT_EQUAL(st_ticks_merge(t, copy), -EOVERFLOW);
	CU_ASSERT_EQUAL(st_ticks_total(t), 1ull << 63);
	CU_ASSERT_EQUAL(st_ticks_values(t)[0], 1ull << 63);
	st_ticks_destroy(copy);
	st_ticks_destroy(t);
}

ST_TEST_MAIN("dataplane/sketch/ticks",
	ST_TEST(test_boundaries),
	ST_TEST(test_epoch_at_end_of_time),
	ST_TEST(test_counts_match_brute_force),
	ST_TEST(test_merge_adds),
	ST_TEST(test_create_rejects_bad_arguments),
	ST_TEST(test_serialize_round_trip),
	ST_TEST(test_validate_rejects_malformed),
	ST_TEST(test_corrupted_blobs_never_trusted),
	ST_TEST(test_merge_refuses_overflow))
