/*
 * The shared-memory ring (include/shadowtap/ring.h), both sides in one
 * process over real shm objects.  The oracles are counts and offsets worked
 * out by hand from the documented layout (512-byte header, 24-byte slot
 * headers, slots rounded up to 8 bytes, no slot across a lap end), and the
 * test reads and scribbles the object through its OWN mapping of
 * /dev/shm/shadowtap-<instance>, at offsets written here as numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shadowtap/profile.h"
#include "shadowtap/ring.h"
#include "st_test.h"

/* Offsets in the object, from the layout comment of ring.h. */
#define OFF_RING_ID 32
#define OFF_PROD_POS 64
#define OFF_LAST_RECORD_POS 72
#define OFF_PRODUCER_PID 84
#define OFF_COMMITTED 192
#define OFF_DATA 512
#define SLOT_HDR 24

static unsigned instance_counter;

/* A fresh instance name for this process, with no object behind it. */
static const char *instance(void)
{
	static char buf[40];

	snprintf(buf, sizeof(buf), "t%d-%u", (int)getpid(), instance_counter++);
	st_ring_unlink(buf);
	return buf;
}

/* The test's own mapping of the object, independent of the ring's code. */
struct raw {
	uint8_t *m;
	size_t bytes;
	mode_t mode;
};

static bool raw_map(const char *inst, struct raw *raw)
{
	char name[64];
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), "/shadowtap-%s", inst);
	fd = shm_open(name, O_RDWR, 0);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return false;
	}
	raw->bytes = (size_t)st.st_size;
	raw->mode = st.st_mode & 0777;
	raw->m = mmap(NULL, raw->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return raw->m != MAP_FAILED;
}

static uint64_t raw_u64(const struct raw *raw, size_t off)
{
	uint64_t v;

	memcpy(&v, raw->m + off, 8);
	return v;
}

static uint32_t raw_u32(const struct raw *raw, size_t off)
{
	uint32_t v;

	memcpy(&v, raw->m + off, 4);
	return v;
}

static void raw_put_u64(struct raw *raw, size_t off, uint64_t v)
{
	memcpy(raw->m + off, &v, 8);
}

static struct st_ring *producer(const char *inst, uint64_t capacity_bytes, uint32_t max_record_bytes)
{
	struct st_ring_config cfg = { capacity_bytes, max_record_bytes };
	struct st_ring *p = st_ring_producer_open(inst, &cfg);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static uint8_t pattern(uint32_t key, uint32_t i)
{
	return (uint8_t)(key * 131u + i * 7u + 1u);
}

/* Reserves, fills with key's pattern, commits len bytes.  false on a drop. */
static bool put(struct st_ring *p, uint32_t len, uint32_t key)
{
	uint8_t *w = st_ring_reserve(p, len);

	if (!w)
		return false;
	for (uint32_t i = 0; i < len; i++)
		w[i] = pattern(key, i);
	st_ring_commit(p, len);
	return true;
}

/* Peeks one record: must be len bytes of key's pattern; releases it. */
static void take(struct st_ring *c, uint32_t len, uint32_t key)
{
	const uint8_t *rec = NULL;
	uint32_t got = UINT32_MAX;
	bool same = true;

	CU_ASSERT_EQUAL_FATAL(st_ring_peek(c, (const void **)&rec, &got), 0);
	CU_ASSERT_EQUAL(got, len);
	for (uint32_t i = 0; i < got && i < len; i++)
		same &= rec[i] == pattern(key, i);
	CU_ASSERT(same);
	st_ring_release(c);
}

static void expect_empty(struct st_ring *c)
{
	const void *rec;
	uint32_t len;

	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), -EAGAIN);
}

static void test_shm_names(void)
{
	char buf[ST_RING_SHM_NAME_MAX], small[8];
	const char *max32 = "abcdefghijklmnopqrstuvwxyz012345";

	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), "dp0"), 0);
	CU_ASSERT_STRING_EQUAL(buf, "/shadowtap-dp0");
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), "A-z_9"), 0);
	CU_ASSERT_STRING_EQUAL(buf, "/shadowtap-A-z_9");
	CU_ASSERT_EQUAL(strlen(max32), 32);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), max32), 0);
	CU_ASSERT_EQUAL(strlen(buf), 11 + 32);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), "abcdefghijklmnopqrstuvwxyz0123456"), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), ""), -EINVAL);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), "a/b"), -EINVAL);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), "a.b"), -EINVAL);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), "a b"), -EINVAL);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), "\xc3\xa9"), -EINVAL);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, sizeof(buf), NULL), -EINVAL);
	CU_ASSERT_EQUAL(st_ring_shm_name(NULL, 10, "x"), -EINVAL);
	/* "/shadowtap-" is 11 bytes: 8 cannot hold it, 13 holds "x" exactly */
	CU_ASSERT_EQUAL(st_ring_shm_name(small, sizeof(small), "x"), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, 12, "x"), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(st_ring_shm_name(buf, 13, "x"), 0);

	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_producer_open("bad/name", NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open("bad name"));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_producer_open("abcdefghijklmnopqrstuvwxyz0123456", NULL));
	CU_ASSERT_EQUAL(errno, ENAMETOOLONG);
	CU_ASSERT_EQUAL(st_ring_unlink("a.b"), -EINVAL);
	CU_ASSERT_EQUAL(st_ring_unlink(instance()), -ENOENT);
}

static void test_config(void)
{
	struct st_ring_config c, bad[] = {
		{ 4096 + 8, 100 },   /* not a power of two */
		{ 128, 16 },         /* below the minimum */
		{ 4096, 0 },         /* no record fits */
		{ 4096, 2048 - 23 }, /* slot 2048: more than half the capacity */
		{ 1ull << 41, 100 }, /* above the maximum */
	};
	const char *inst;
	struct st_ring *p;

	st_ring_config_default(&c);
	CU_ASSERT_EQUAL(c.capacity_bytes, 16ull << 20);
	CU_ASSERT(c.max_record_bytes >= ST_PROFILE_MAX_BYTES);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CU_ASSERT_PTR_NULL(st_ring_producer_open(instance(), &bad[i]));
		CU_ASSERT_EQUAL(errno, EINVAL);
	}
	/* slot of 2048 - 24 is 2024 rounded to 2024: exactly half, allowed */
	inst = instance();
	p = producer(inst, 4096, 2048 - 24);
	st_ring_close(p);
	CU_ASSERT_EQUAL(st_ring_unlink(inst), 0);
}

static void test_fill_drain(void)
{
	const char *inst = instance();
	struct st_ring *p = producer(inst, 4096, 1000);
	struct st_ring *c = st_ring_consumer_open(inst);
	struct st_ring_stats s;
	struct raw raw;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	/* 100 bytes + 24 = 124, rounded to 128: 4096 / 128 = 32 records */
	for (uint32_t i = 0; i < 32; i++)
		CU_ASSERT(put(p, 100, i));
	CU_ASSERT_FALSE(put(p, 100, 99));
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.committed, 32);
	CU_ASSERT_EQUAL(s.dropped_full, 1);
	CU_ASSERT_EQUAL(s.used_bytes, 4096);
	CU_ASSERT_EQUAL(s.capacity_bytes, 4096);
	CU_ASSERT_EQUAL(s.generation, 1);
	CU_ASSERT_EQUAL(s.producer_pid, getpid());
	for (uint32_t i = 0; i < 32; i++)
		take(c, 100, i);
	expect_empty(c);
	st_ring_stats(c, &s);
	CU_ASSERT_EQUAL(s.released, 32);
	CU_ASSERT_EQUAL(s.used_bytes, 0);
	CU_ASSERT_EQUAL(s.corrupt, 0);

	/* what ls -l /dev/shm shows */
	CU_ASSERT_FATAL(raw_map(inst, &raw));
	CU_ASSERT_EQUAL(raw.bytes, 512 + 4096);
	CU_ASSERT_EQUAL(raw.mode, 0660);
	CU_ASSERT_EQUAL(memcmp(raw.m, "STRING01", 8), 0);
	CU_ASSERT_EQUAL(raw_u64(&raw, OFF_PROD_POS), 4096);
	/* the first slot: length 100, kind "REC1", seq 0 */
	CU_ASSERT_EQUAL(raw_u32(&raw, OFF_DATA), 100);
	CU_ASSERT_EQUAL(memcmp(raw.m + OFF_DATA + 4, "REC1", 4), 0);
	CU_ASSERT_EQUAL(raw_u64(&raw, OFF_DATA + 128 + 8), 1);
	munmap(raw.m, raw.bytes);
	st_ring_close(c);
	st_ring_close(p);
	CU_ASSERT_EQUAL(st_ring_unlink(inst), 0);
}

/* Data offset where the next record lands from offset `at` of a 256-byte
 * ring, and the bytes it then takes from the free space (pad included). */
static void expected_place(uint32_t at, uint32_t len, uint32_t *lands, uint32_t *takes)
{
	uint32_t slot = (len + 24 + 7) / 8 * 8;

	if (slot <= 256 - at) {
		*lands = at;
		*takes = slot;
	} else {
		*lands = 0;
		*takes = 256 - at + slot;
	}
}

/* A 256-byte ring, records up to 104 bytes (a 128-byte slot): a slot can
 * start at 0 or at 24..248 (never 8 or 16: the smallest slot is 24). */
static void test_wrap_every_offset(void)
{
	static const uint32_t sizes[] = { 0, 1, 8, 50, 104 };
	struct st_ring_stats s;
	bool all_ok = true;

	for (uint32_t at = 0; at < 256; at += 8) {
		if (at == 8 || at == 16)
			continue;
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			const char *inst = instance();
			struct st_ring *p = producer(inst, 256, 104);
			struct st_ring *c = st_ring_consumer_open(inst);
			uint32_t len = sizes[k], lands, takes, rest = at, key = 0;
			struct raw raw;

			CU_ASSERT_PTR_NOT_NULL_FATAL(c);
			/* fillers of 24..128-byte slots up to `at`, consumed as we go */
			while (rest) {
				uint32_t slot = rest <= 128 ? rest : (rest - 128 >= 24 ? 128 : rest - 24);

				all_ok &= put(p, slot - 24, key);
				take(c, slot - 24, key++);
				rest -= slot;
			}
			expected_place(at, len, &lands, &takes);
			all_ok &= put(p, len, 1000);
			st_ring_stats(p, &s);
			all_ok &= s.used_bytes == takes;
			CU_ASSERT_FATAL(raw_map(inst, &raw));
			all_ok &= raw_u32(&raw, OFF_DATA + lands) == len;
			all_ok &= memcmp(raw.m + OFF_DATA + lands + 4, "REC1", 4) == 0;
			if (lands != at && 256 - at >= 24) {  /* a pad covers the rest of the lap */
				all_ok &= raw_u32(&raw, OFF_DATA + at) == 256 - at - 24;
				all_ok &= memcmp(raw.m + OFF_DATA + at + 4, "PAD1", 4) == 0;
			}
			munmap(raw.m, raw.bytes);
			take(c, len, 1000);
			expect_empty(c);
			st_ring_stats(c, &s);
			all_ok &= s.used_bytes == 0 && s.dropped_full == 0 && s.corrupt == 0;
			st_ring_close(c);
			st_ring_close(p);
			st_ring_unlink(inst);
		}
	}
	CU_ASSERT(all_ok);
}

/* Records of 200 bytes take 224: 18 fit in 4096 (4032), the 19th needs a
 * 64-byte pad plus 224 and finds 64 free. */
static void test_full_counts_exactly(void)
{
	const char *inst = instance();
	struct st_ring *p = producer(inst, 4096, 1000);
	struct st_ring *c = st_ring_consumer_open(inst);
	struct st_ring_stats s;
	uint32_t fitted = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (uint32_t i = 0; i < 25; i++)
		fitted += put(p, 200, i);
	CU_ASSERT_EQUAL(fitted, 18);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.dropped_full, 7);
	CU_ASSERT_EQUAL(s.dropped_oversize, 0);
	CU_ASSERT_EQUAL(s.used_bytes, 4032);

	/* one released frees 224 at the start: pad 64 + 224 fits exactly */
	take(c, 200, 0);
	CU_ASSERT(put(p, 200, 100));
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.used_bytes, 4096);
	CU_ASSERT_FALSE(put(p, 0, 101));
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.dropped_full, 8);
	for (uint32_t i = 1; i < 18; i++)
		take(c, 200, i);
	take(c, 200, 100);
	expect_empty(c);
	st_ring_stats(c, &s);
	CU_ASSERT_EQUAL(s.committed, 19);
	CU_ASSERT_EQUAL(s.released, 19);
	st_ring_close(c);
	st_ring_close(p);
	st_ring_unlink(inst);
}

static void test_oversize_zero_and_short_commits(void)
{
	const char *inst = instance();
	struct st_ring *p = producer(inst, 4096, 1000);
	struct st_ring *c = st_ring_consumer_open(inst);
	struct st_ring_stats s;
	const void *rec;
	uint8_t *w;
	uint32_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NULL(st_ring_reserve(p, 1001));
	CU_ASSERT_PTR_NULL(st_ring_reserve(p, UINT32_MAX));
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.dropped_oversize, 2);
	CU_ASSERT_EQUAL(s.dropped_full, 0);
	CU_ASSERT(put(p, 1000, 1));

	CU_ASSERT_PTR_NOT_NULL(st_ring_reserve(p, 0));
	st_ring_commit(p, 0);

	/* reserve 500, commit 123: 123 + 24 = 147, an 152-byte slot */
	w = st_ring_reserve(p, 500);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	for (uint32_t i = 0; i < 500; i++)
		w[i] = pattern(2, i);
	st_ring_commit(p, 123);
	/* used > reserved is cut to the reservation */
	w = st_ring_reserve(p, 40);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	for (uint32_t i = 0; i < 40; i++)
		w[i] = pattern(3, i);
	st_ring_commit(p, 4000);
	/* a commit without a reservation publishes nothing */
	st_ring_commit(p, 10);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.committed, 4);
	CU_ASSERT_EQUAL(s.used_bytes, 1024 + 24 + 152 + 64);

	take(c, 1000, 1);
	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_PTR_NOT_NULL(rec);
	/* a second peek without release gives the same record */
	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	st_ring_release(c);
	take(c, 123, 2);
	take(c, 40, 3);
	expect_empty(c);
	st_ring_release(c); /* nothing peeked: no-op */
	st_ring_stats(c, &s);
	CU_ASSERT_EQUAL(s.released, 4);
	st_ring_close(c);
	st_ring_close(p);
	st_ring_unlink(inst);
}

static void test_open_order_and_exclusion(void)
{
	const char *inst = instance();
	struct st_ring *p, *c, *c2;

	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, ENOENT);

	/* consumer first (after the object exists, before any record) */
	p = producer(inst, 4096, 1000);
	c = st_ring_consumer_open(inst);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	expect_empty(c);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, EBUSY);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_producer_open(inst, &(struct st_ring_config){ 4096, 1000 }));
	CU_ASSERT_EQUAL(errno, EBUSY);
	CU_ASSERT(put(p, 10, 1));
	take(c, 10, 1);
	st_ring_close(c);

	/* consumer after the producer wrote and left */
	CU_ASSERT(put(p, 11, 2));
	CU_ASSERT(put(p, 12, 3));
	st_ring_close(p);
	c2 = st_ring_consumer_open(inst);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
	take(c2, 11, 2);
	take(c2, 12, 3);
	expect_empty(c2);
	st_ring_close(c2);
	st_ring_close(NULL);
	CU_ASSERT_EQUAL(st_ring_unlink(inst), 0);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, ENOENT);
}

/* A producer restart keeps committed records; a consumer restart gets the
 * record its predecessor peeked again. */
static void test_takeover_keeps_records(void)
{
	const char *inst = instance();
	struct st_ring *p = producer(inst, 4096, 1000), *c;
	struct st_ring_stats s;
	const void *rec;
	uint32_t len;

	for (uint32_t i = 0; i < 5; i++)
		CU_ASSERT(put(p, 50 + i, i));
	CU_ASSERT_FALSE(put(p, 1001, 99)); /* one oversize, kept across the restart */
	c = st_ring_consumer_open(inst);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	take(c, 50, 0);
	take(c, 51, 1);
	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), 0); /* #2 peeked, not released */
	st_ring_close(c);
	st_ring_close(p);

	p = producer(inst, 4096, 1000);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.generation, 2);
	CU_ASSERT_EQUAL(s.committed, 5);
	CU_ASSERT_EQUAL(s.dropped_oversize, 1);
	CU_ASSERT_EQUAL(s.lost_on_reinit, 0);
	CU_ASSERT_EQUAL(s.released, 2);
	CU_ASSERT(put(p, 60, 5));
	CU_ASSERT(put(p, 61, 6));
	c = st_ring_consumer_open(inst);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (uint32_t i = 2; i < 7; i++)
		take(c, i < 5 ? 50 + i : 55 + i, i);
	expect_empty(c);
	st_ring_stats(c, &s);
	CU_ASSERT_EQUAL(s.committed, 7);
	CU_ASSERT_EQUAL(s.released, 7);
	st_ring_close(c);
	st_ring_close(p);
	st_ring_unlink(inst);
}

/* A producer killed between publishing a record and counting it: the next
 * one counts it from the slot's seq; killed while writing the next slot
 * (last_record_pos already moved on): nothing to catch up. */
static void test_takeover_catches_up_the_count(void)
{
	const char *inst = instance();
	struct st_ring *p = producer(inst, 4096, 1000);
	struct st_ring_stats s;
	struct raw raw;

	for (uint32_t i = 0; i < 3; i++)
		CU_ASSERT(put(p, 30, i));
	st_ring_close(p);
	CU_ASSERT_FATAL(raw_map(inst, &raw));
	CU_ASSERT_EQUAL(raw_u64(&raw, OFF_COMMITTED), 3);
	CU_ASSERT_EQUAL(raw_u64(&raw, OFF_LAST_RECORD_POS), 2 * 56);
	raw_put_u64(&raw, OFF_COMMITTED, 2);
	p = producer(inst, 4096, 1000);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.committed, 3);
	st_ring_close(p);

	/* counted already: the last slot's seq is 2, not 3 */
	p = producer(inst, 4096, 1000);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.committed, 3);
	st_ring_close(p);

	/* last_record_pos at prod_pos (a slot begun, never published): the
	 * counter is taken as it is */
	raw_put_u64(&raw, OFF_COMMITTED, 2);
	raw_put_u64(&raw, OFF_LAST_RECORD_POS, 3 * 56);
	p = producer(inst, 4096, 1000);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.committed, 2);
	st_ring_close(p);
	munmap(raw.m, raw.bytes);
	st_ring_unlink(inst);
}

/* Another geometry re-initialises: the records still held are counted lost
 * exactly, an attached consumer gets -ESTALE once and goes on. */
static void test_geometry_change_and_estale(void)
{
	const char *inst = instance();
	struct st_ring *p = producer(inst, 4096, 512), *c;
	struct st_ring_stats s;
	const void *rec;
	struct raw raw;
	uint32_t len;

	c = st_ring_consumer_open(inst);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (uint32_t i = 0; i < 7; i++)
		CU_ASSERT(put(p, 80, i));
	for (uint32_t i = 0; i < 3; i++)
		take(c, 80, i);
	st_ring_close(p);

	p = producer(inst, 8192, 512);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.lost_on_reinit, 4);
	CU_ASSERT_EQUAL(s.committed, 7);
	CU_ASSERT_EQUAL(s.generation, 2);
	CU_ASSERT_EQUAL(s.capacity_bytes, 8192);
	CU_ASSERT_EQUAL(s.used_bytes, 0);

	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), -ESTALE);
	st_ring_stats(c, &s);
	CU_ASSERT_EQUAL(s.resyncs, 1);
	CU_ASSERT_EQUAL(s.released, 3);
	CU_ASSERT_EQUAL(s.capacity_bytes, 8192);
	expect_empty(c);
	CU_ASSERT(put(p, 90, 7));
	take(c, 90, 7);
	expect_empty(c);

	CU_ASSERT_FATAL(raw_map(inst, &raw));
	CU_ASSERT_EQUAL(raw.bytes, 512 + 8192);
	CU_ASSERT_EQUAL(raw.mode, 0660);
	munmap(raw.m, raw.bytes);

	/* the same again with max_record_bytes only, and nothing left: 0 lost */
	st_ring_close(p);
	p = producer(inst, 8192, 256);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.lost_on_reinit, 4);
	CU_ASSERT_EQUAL(s.committed, 8);
	CU_ASSERT_EQUAL(s.generation, 3);
	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), -ESTALE);
	expect_empty(c);
	st_ring_stats(c, &s);
	CU_ASSERT_EQUAL(s.resyncs, 2);
	st_ring_close(c);
	st_ring_close(p);
	st_ring_unlink(inst);
}

/* A header that does not verify: consumers refuse it (EPROTO), a producer
 * replaces it and guesses the loss from the counters (committed - released). */
static void test_corrupt_header(void)
{
	const char *inst = instance();
	struct st_ring *p = producer(inst, 4096, 1000), *c;
	struct st_ring_stats s;
	const void *rec;
	struct raw raw;
	uint32_t len;

	c = st_ring_consumer_open(inst);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (uint32_t i = 0; i < 3; i++)
		CU_ASSERT(put(p, 20, i));
	take(c, 20, 0);
	st_ring_close(p);
	CU_ASSERT_FATAL(raw_map(inst, &raw));
	raw.m[OFF_RING_ID] ^= 0x40;       /* the identity check no longer holds */

	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, EBUSY);    /* c still holds the consumer lock */
	st_ring_close(c);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, EPROTO);
	raw.m[OFF_RING_ID] ^= 0x40;
	raw.m[8] = 2;                     /* ABI version 2 */
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, EPROTO);
	raw.m[8] = 1;
	raw.m[0] ^= 1;                    /* magic */
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, EPROTO);
	raw.m[0] ^= 1;
	raw.m[300] = 1;                   /* a reserved byte */
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, EPROTO);
	munmap(raw.m, raw.bytes);

	p = producer(inst, 4096, 1000);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.lost_on_reinit, 2);
	CU_ASSERT_EQUAL(s.committed, 0);
	CU_ASSERT_EQUAL(s.generation, 1);
	c = st_ring_consumer_open(inst);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), -EAGAIN);
	st_ring_close(c);
	st_ring_close(p);
	st_ring_unlink(inst);
}

/* Objects that are not rings at all: too small, or empty (being created). */
static void test_foreign_objects(void)
{
	const char *inst = instance();
	struct st_ring *p;
	struct st_ring_stats s;
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "/shadowtap-%s", inst);
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, EAGAIN);
	CU_ASSERT_EQUAL(ftruncate(fd, 100), 0);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, EPROTO);
	CU_ASSERT_EQUAL(ftruncate(fd, 512 + 4096), 0); /* zeros: magic 0 */
	errno = 0;
	CU_ASSERT_PTR_NULL(st_ring_consumer_open(inst));
	CU_ASSERT_EQUAL(errno, EAGAIN);
	close(fd);

	p = producer(inst, 4096, 1000);
	st_ring_stats(p, &s);
	CU_ASSERT_EQUAL(s.lost_on_reinit, 0);
	CU_ASSERT_EQUAL(s.generation, 1);
	st_ring_close(p);
	st_ring_unlink(inst);
}

/* Every byte of a slot's header and payload, flipped: never delivered.  The
 * 4 bytes of padding after a 100-byte payload are outside the check. */
static void test_corrupt_slot_never_accepted(void)
{
	uint32_t rejected = 0, recovered = 0;
	bool clean = true;

	for (uint32_t k = 0; k < SLOT_HDR + 100; k++) {
		const char *inst = instance();
		struct st_ring *p = producer(inst, 4096, 1000);
		struct st_ring *c = st_ring_consumer_open(inst);
		struct st_ring_stats s;
		const void *rec;
		struct raw raw;
		uint32_t len;

		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		for (uint32_t i = 0; i < 3; i++)
			CU_ASSERT(put(p, 100, i));
		CU_ASSERT_FATAL(raw_map(inst, &raw));
		raw.m[OFF_DATA + 128 + k] ^= (uint8_t)(1u << (k % 8)); /* slot #1 */
		munmap(raw.m, raw.bytes);
		take(c, 100, 0);
		/* the rest of the lap is skipped: #2 goes with #1 */
		rejected += st_ring_peek(c, &rec, &len) == -EBADMSG;
		expect_empty(c);
		st_ring_stats(c, &s);
		clean &= s.corrupt == 1 && s.released == 1;
		if (put(p, 100, 3)) {
			take(c, 100, 3);
			recovered++;
		}
		st_ring_close(c);
		st_ring_close(p);
		st_ring_unlink(inst);
	}
	CU_ASSERT_EQUAL(rejected, SLOT_HDR + 100);
	CU_ASSERT_EQUAL(recovered, SLOT_HDR + 100);
	CU_ASSERT(clean);
}

/* A corrupt slot before a lap end: the consumer resumes at the lap boundary
 * and gets what follows it.  4096-byte ring, 1000-byte records (1024-byte
 * slots): #0..#2 at 0, 1024, 2048; #3 at 3072 ends the lap; #4, #5 at 4096,
 * 5120.  #0..#1 consumed first to make room. */
static void test_corrupt_slot_skips_to_lap_end(void)
{
	const char *inst = instance();
	struct st_ring *p = producer(inst, 4096, 1000);
	struct st_ring *c = st_ring_consumer_open(inst);
	struct st_ring_stats s;
	const void *rec;
	struct raw raw;
	uint32_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (uint32_t i = 0; i < 4; i++)
		CU_ASSERT(put(p, 1000, i));
	take(c, 1000, 0);
	take(c, 1000, 1);
	CU_ASSERT(put(p, 1000, 4));
	CU_ASSERT(put(p, 1000, 5));
	CU_ASSERT_FATAL(raw_map(inst, &raw));
	raw.m[OFF_DATA + 2048 + 500] ^= 0xff; /* #2's payload */
	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), -EBADMSG);
	take(c, 1000, 4);
	take(c, 1000, 5);
	expect_empty(c);
	st_ring_stats(c, &s);
	CU_ASSERT_EQUAL(s.corrupt, 1);
	CU_ASSERT_EQUAL(s.released, 4);

	/* a producer index more than a lap ahead: counted, resynced to it */
	raw_put_u64(&raw, OFF_PROD_POS, 6144 + 8192);
	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), -EBADMSG);
	expect_empty(c);
	/* behind the consumer: the same */
	raw_put_u64(&raw, OFF_PROD_POS, 8);
	CU_ASSERT_EQUAL(st_ring_peek(c, &rec, &len), -EBADMSG);
	expect_empty(c);
	st_ring_stats(c, &s);
	CU_ASSERT_EQUAL(s.corrupt, 3);
	munmap(raw.m, raw.bytes);
	st_ring_close(c);
	st_ring_close(p);
	st_ring_unlink(inst);
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_producer_alive(void)
{
	const char *inst = instance();
	struct st_ring *p = producer(inst, 4096, 1000);
	struct st_ring *c = st_ring_consumer_open(inst);
	uint64_t now = monotonic_ns();
	struct raw raw;
	pid_t child;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT(st_ring_producer_alive(c, now, 1000000000ull)); /* open stamps it */
	st_ring_heartbeat(p, now + 5000000000ull);
	CU_ASSERT(st_ring_producer_alive(c, now + 5500000000ull, 1000000000ull));
	CU_ASSERT_FALSE(st_ring_producer_alive(c, now + 6500000000ull, 1000000000ull));

	/* a pid that has exited (and been reaped) */
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	CU_ASSERT_FATAL(raw_map(inst, &raw));
	memcpy(raw.m + OFF_PRODUCER_PID, &(int32_t){ child }, 4);
	CU_ASSERT_FALSE(st_ring_producer_alive(c, now + 5500000000ull, 1000000000ull));
	memcpy(raw.m + OFF_PRODUCER_PID, &(int32_t){ getpid() }, 4);
	CU_ASSERT(st_ring_producer_alive(c, now + 5500000000ull, 1000000000ull));
	/* a clean close says so at once */
	st_ring_close(p);
	CU_ASSERT_EQUAL(raw_u32(&raw, OFF_PRODUCER_PID), 0);
	CU_ASSERT_FALSE(st_ring_producer_alive(c, now + 5500000000ull, 1000000000ull));
	munmap(raw.m, raw.bytes);
	st_ring_close(c);
	st_ring_unlink(inst);
}

ST_TEST_MAIN("dataplane/ring/ring",
	ST_TEST(test_shm_names),
	ST_TEST(test_config),
	ST_TEST(test_fill_drain),
	ST_TEST(test_wrap_every_offset),
	ST_TEST(test_full_counts_exactly),
	ST_TEST(test_oversize_zero_and_short_commits),
	ST_TEST(test_open_order_and_exclusion),
	ST_TEST(test_takeover_keeps_records),
	ST_TEST(test_takeover_catches_up_the_count),
	ST_TEST(test_geometry_change_and_estale),
	ST_TEST(test_corrupt_header),
	ST_TEST(test_foreign_objects),
	ST_TEST(test_corrupt_slot_never_accepted),
	ST_TEST(test_corrupt_slot_skips_to_lap_end),
	ST_TEST(test_producer_alive),
)
