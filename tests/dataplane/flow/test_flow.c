/*
 * Flow table tests.  Oracles from outside flow.c: the canonical order
 * re-derived here byte by byte, exact counts of the flows each test makes,
 * a ledger of serial numbers written into every entry's user area (each
 * must be released exactly once, with the reason the test caused), the
 * C library's own count of allocated bytes (mallinfo2) around a flood, and
 * the eviction policy as flow.h documents it.
 */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/flow/flow.h"
#include "st_test.h"

/* Internals (buckets_of) for the bucket-full test only; the library's
 * flow.o is then not linked in, this copy is. */
#include "dataplane/flow/flow.c"

#define TCP 6
#define UDP 17
#define NO_RELEASE 0xff

/* ---- the release ledger: user area = { serial, ..., canary } ---- */

struct ledger {
	uint8_t *why;          /* by serial: NO_RELEASE or enum st_flow_end */
	uint64_t cap, next_serial;
	uint64_t by_reason[ST_FLOW_END__COUNT];
	uint64_t twice, bad_canary;
	uint32_t user_bytes;
};

/* user_bytes >= 16: the serial at the start, the canary in the last 8. */
static struct ledger ledger_new(uint64_t cap, uint32_t user_bytes)
{
	struct ledger l = { .cap = cap, .user_bytes = user_bytes };

	l.why = malloc(cap);
	memset(l.why, NO_RELEASE, cap);
	return l;
}

static uint64_t canary_of(uint64_t serial)
{
	return serial * 0x9e3779b97f4a7c15ull ^ 0x5555;
}

static void on_release(void *ctx, struct st_flow *f, enum st_flow_end why)
{
	struct ledger *l = ctx;
	uint8_t *user = st_flow_user(f);
	uint64_t serial, canary;

	memcpy(&serial, user, 8);
	memcpy(&canary, user + l->user_bytes - 8, 8);
	if (canary != canary_of(serial))
		l->bad_canary++;
	if (serial >= l->cap || l->why[serial] != NO_RELEASE) {
		l->twice++;
		return;
	}
	l->why[serial] = (uint8_t)why;
	l->by_reason[why]++;
}

/* Called by the test on every created entry. */
static void stamp(struct ledger *l, struct st_flow *f)
{
	uint8_t *user = st_flow_user(f);
	uint64_t serial = l->next_serial++, canary = canary_of(serial);

	memcpy(user, &serial, 8);
	memcpy(user + l->user_bytes - 8, &canary, 8);
}

static uint64_t serial_of(struct st_flow *f)
{
	uint64_t serial;

	memcpy(&serial, st_flow_user(f), 8);
	return serial;
}

static struct st_flow_table *table_new(struct ledger *l, uint32_t max_flows,
				       uint64_t idle_timeout_ns)
{
	struct st_flow_config cfg = {
		.max_flows = max_flows,
		.user_bytes = l->user_bytes,
		.idle_timeout_ns = idle_timeout_ns,
		.release = on_release,
		.release_ctx = l,
	};

	return st_flow_table_create(&cfg);
}

/* ---- packets ---- */

static struct st_pkt pkt4(uint32_t s, uint16_t sport, uint32_t d, uint16_t dport, uint8_t proto,
			  uint64_t ts_ns, uint32_t frame_len)
{
	struct st_pkt p = { .ts_ns = ts_ns, .frame_len = frame_len, .family = 4,
			    .l4_proto = proto, .sport = sport, .dport = dport };

	p.saddr[10] = p.saddr[11] = p.daddr[10] = p.daddr[11] = 0xff;
	for (int i = 0; i < 4; i++) {
		p.saddr[12 + i] = (uint8_t)(s >> (24 - 8 * i));
		p.daddr[12 + i] = (uint8_t)(d >> (24 - 8 * i));
	}
	return p;
}

static struct st_pkt pkt6(const uint8_t *s, uint16_t sport, const uint8_t *d, uint16_t dport,
			  uint8_t proto, uint64_t ts_ns)
{
	struct st_pkt p = { .ts_ns = ts_ns, .frame_len = 100, .family = 6,
			    .l4_proto = proto, .sport = sport, .dport = dport };

	memcpy(p.saddr, s, 16);
	memcpy(p.daddr, d, 16);
	return p;
}

static struct st_pkt reversed(const struct st_pkt *p)
{
	struct st_pkt r = *p;

	memcpy(r.saddr, p->daddr, 16);
	memcpy(r.daddr, p->saddr, 16);
	r.sport = p->dport;
	r.dport = p->sport;
	return r;
}

/* The canonical order as flow.h states it, re-derived byte by byte. */
static bool src_is_lower(const struct st_pkt *p)
{
	for (int i = 0; i < 16; i++)
		if (p->saddr[i] != p->daddr[i])
			return p->saddr[i] < p->daddr[i];
	return p->sport <= p->dport;
}

static struct st_flow *get(struct st_flow_table *t, struct ledger *l, const struct st_pkt *p,
			   enum st_flow_dir *dir, bool *created)
{
	struct st_flow *f = st_flow_get(t, p, dir, created);

	if (*created)
		stamp(l, f);
	return f;
}

/* ---- tests ---- */

static void test_both_directions_one_entry(void)
{
	static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 };
	static const uint8_t b6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 3 };
	struct ledger l = ledger_new(16, 16);
	struct st_flow_table *t = table_new(&l, 64, 0);
	struct st_pkt fwd[2], rev[2];
	enum st_flow_dir d1, d2;
	bool c1, c2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	fwd[0] = pkt4(0x0a000009u, 40000, 0x0a000003u, 9092, TCP, 1000, 60);
	fwd[1] = pkt6(a6, 40000, b6, 9092, TCP, 1000);
	for (int k = 0; k < 2; k++) {
		struct st_flow *f1, *f2;

		rev[k] = reversed(&fwd[k]);
		rev[k].ts_ns = 2000;
		rev[k].frame_len = 1514;
		f1 = get(t, &l, &fwd[k], &d1, &c1);
		f2 = get(t, &l, &rev[k], &d2, &c2);
		CU_ASSERT_PTR_EQUAL(f1, f2);
		CU_ASSERT_TRUE(c1);
		CU_ASSERT_FALSE(c2);
		/* 10.0.0.9 > 10.0.0.3 (and ::9 > ::3): the first packet goes hi -> lo */
		CU_ASSERT_FALSE(src_is_lower(&fwd[k]));
		CU_ASSERT_EQUAL(d1, ST_FLOW_DIR_HI_TO_LO);
		CU_ASSERT_EQUAL(d2, ST_FLOW_DIR_LO_TO_HI);
		CU_ASSERT_EQUAL(f1->packets[ST_FLOW_DIR_HI_TO_LO], 1);
		CU_ASSERT_EQUAL(f1->packets[ST_FLOW_DIR_LO_TO_HI], 1);
		CU_ASSERT_EQUAL(f1->bytes[ST_FLOW_DIR_HI_TO_LO], fwd[k].frame_len);
		CU_ASSERT_EQUAL(f1->bytes[ST_FLOW_DIR_LO_TO_HI], 1514);
		CU_ASSERT_EQUAL(f1->first_seen_ns, 1000);
		CU_ASSERT_EQUAL(f1->last_seen_ns, 2000);
		CU_ASSERT_EQUAL(memcmp(f1->key.lo_addr, fwd[k].daddr, 16), 0);
		CU_ASSERT_EQUAL(memcmp(f1->key.hi_addr, fwd[k].saddr, 16), 0);
		CU_ASSERT_EQUAL(f1->key.lo_port, 9092);
		CU_ASSERT_EQUAL(f1->key.hi_port, 40000);
		CU_ASSERT_EQUAL(st_flow_hash(&fwd[k]), st_flow_hash(&rev[k]));
	}
	/* equal addresses: the port decides */
	fwd[0] = pkt4(0x7f000001u, 5000, 0x7f000001u, 4000, UDP, 3000, 60);
	rev[0] = reversed(&fwd[0]);
	CU_ASSERT_PTR_EQUAL(get(t, &l, &fwd[0], &d1, &c1), get(t, &l, &rev[0], &d2, &c2));
	CU_ASSERT_EQUAL(d1, ST_FLOW_DIR_HI_TO_LO);
	CU_ASSERT_EQUAL(d2, ST_FLOW_DIR_LO_TO_HI);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->created, 3);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->hits, 3);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->lookups, 6);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->active, 3);
	st_flow_table_destroy(t);
	CU_ASSERT_EQUAL(l.by_reason[ST_FLOW_END_DESTROYED], 3);
	CU_ASSERT_EQUAL(l.twice + l.bad_canary, 0);
	free(l.why);
}

/* Keys that must not meet: IPv4 vs its mapped IPv6 twin, TCP vs UDP, and
 * IPv6 addresses that differ only in their last byte or past 32 bits. */
static void test_keys_differ(void)
{
	static const uint8_t m1[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 };
	static const uint8_t m2[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 2 };
	static const uint8_t x[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t y[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static const uint8_t z[16] = { 0x20, 0x01, 0x0d, 0xb8, [8] = 1, [15] = 2 };
	struct ledger l = ledger_new(16, 16);
	struct st_flow_table *t = table_new(&l, 64, 0);
	struct st_pkt p[6];
	struct st_flow *f[6];
	enum st_flow_dir d;
	bool c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	p[0] = pkt4(0x0a000001u, 1, 0x0a000002u, 2, TCP, 1, 60);
	p[1] = pkt6(m1, 1, m2, 2, TCP, 1);
	p[2] = pkt4(0x0a000001u, 1, 0x0a000002u, 2, UDP, 1, 60);
	p[3] = pkt6(x, 1, y, 2, TCP, 1);
	p[4] = pkt6(x, 1, z, 2, TCP, 1);
	p[5] = pkt6(y, 1, z, 2, TCP, 1);
	for (int i = 0; i < 6; i++) {
		f[i] = get(t, &l, &p[i], &d, &c);
		CU_ASSERT_TRUE(c);
		for (int j = 0; j < i; j++)
			CU_ASSERT_PTR_NOT_EQUAL(f[i], f[j]);
	}
	for (int i = 0; i < 6; i++) {
		struct st_pkt r = reversed(&p[i]);

		CU_ASSERT_PTR_EQUAL(get(t, &l, &r, &d, &c), f[i]);
		CU_ASSERT_FALSE(c);
		CU_ASSERT_EQUAL(d, src_is_lower(&r) ? ST_FLOW_DIR_LO_TO_HI : ST_FLOW_DIR_HI_TO_LO);
	}
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->active, 6);
	st_flow_table_destroy(t);
	free(l.why);
}

static void test_idle_expiry_sweep_and_lazy(void)
{
	struct ledger l = ledger_new(64, 16);
	struct st_flow_table *t = table_new(&l, 32, 100);
	struct st_flow *f, *keep;
	enum st_flow_dir d;
	bool c;
	struct st_pkt p;
	unsigned released;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (uint32_t i = 0; i < 10; i++) {
		p = pkt4(0x0a000000u + i, 1000, 0x0a0000ffu, 80, TCP, 0, 60);
		get(t, &l, &p, &d, &c);
	}
	p = pkt4(0x0b000000u, 1000, 0x0a0000ffu, 80, TCP, 60, 60);
	keep = get(t, &l, &p, &d, &c);
	/* at 100 nothing is idle yet (idle means > timeout) */
	CU_ASSERT_EQUAL(st_flow_expire(t, 100, 32), 0);
	/* at 101 the ten flows of time 0 are; visiting 16 of 32 entries finds
	 * those among the first 16 (entries are handed out from 0 upward) */
	released = st_flow_expire(t, 101, 16);
	CU_ASSERT_EQUAL(released, 10);
	CU_ASSERT_EQUAL(l.by_reason[ST_FLOW_END_IDLE], 10);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->expired, 10);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->active, 1);
	CU_ASSERT_PTR_EQUAL(st_flow_find(t, &keep->key), keep);

	/* lazy: the kept flow's next packet comes after its timeout */
	p.ts_ns = 60 + 101;
	f = get(t, &l, &p, &d, &c);
	CU_ASSERT_TRUE(c);
	CU_ASSERT_EQUAL(f->packets[d], 1);
	CU_ASSERT_EQUAL(f->first_seen_ns, 161);
	CU_ASSERT_EQUAL(l.by_reason[ST_FLOW_END_IDLE], 11);
	CU_ASSERT_EQUAL(l.why[10], ST_FLOW_END_IDLE);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->expired, 11);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->created, 12);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->hits, 0);

	/* close, then close again: the second is refused */
	CU_ASSERT_EQUAL(st_flow_close(t, f), 0);
	CU_ASSERT_EQUAL(st_flow_close(t, f), -EINVAL);
	CU_ASSERT_EQUAL(st_flow_close(t, (struct st_flow *)((uint8_t *)f + 8)), -EINVAL);
	CU_ASSERT_EQUAL(st_flow_close(t, NULL), -EINVAL);
	CU_ASSERT_EQUAL(l.why[11], ST_FLOW_END_CLOSED);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->closed, 1);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->active, 0);
	CU_ASSERT_PTR_NULL(st_flow_find(t, &f->key));
	st_flow_table_destroy(t);
	CU_ASSERT_EQUAL(l.by_reason[ST_FLOW_END_DESTROYED], 0);
	for (uint64_t s = 0; s < l.next_serial; s++)
		CU_ASSERT_NOT_EQUAL(l.why[s], NO_RELEASE);
	CU_ASSERT_EQUAL(l.twice + l.bad_canary, 0);
	free(l.why);
}

/* max_flows 8 gives the smallest index (2 buckets): every key's
 * neighbourhood is the whole table, so the victim is the global LRU. */
static void test_eviction_takes_least_recent(void)
{
	struct ledger l = ledger_new(64, 16);
	struct st_flow_table *t = table_new(&l, 8, 0);
	struct st_flow *f[8];
	enum st_flow_dir d;
	bool c;
	struct st_pkt p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (uint32_t i = 0; i < 8; i++) {
		p = pkt4(0x0a000000u + i, 1000, 0x0a0000ffu, 80, UDP, 10 + i, 60);
		f[i] = get(t, &l, &p, &d, &c);
	}
	/* flow 0 is refreshed, so flow 1 is now the least recently seen */
	p = pkt4(0x0a000000u, 1000, 0x0a0000ffu, 80, UDP, 100, 60);
	CU_ASSERT_PTR_EQUAL(get(t, &l, &p, &d, &c), f[0]);
	p = pkt4(0x0c000000u, 1000, 0x0a0000ffu, 80, UDP, 101, 60);
	get(t, &l, &p, &d, &c);
	CU_ASSERT_TRUE(c);
	CU_ASSERT_EQUAL(l.why[1], ST_FLOW_END_EVICTED);
	CU_ASSERT_EQUAL(l.by_reason[ST_FLOW_END_EVICTED], 1);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->evicted, 1);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->bucket_full, 0);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->active, 8);
	st_flow_table_destroy(t);
	CU_ASSERT_EQUAL(l.by_reason[ST_FLOW_END_DESTROYED], 8);
	CU_ASSERT_EQUAL(l.twice + l.bad_canary, 0);
	free(l.why);
}

/* 16 keys whose two candidate buckets are the same pair fill both buckets
 * while 48 of 64 entries are free: the 17th such key evicts the least
 * recently seen of the 16 and counts as bucket_full. */
static void test_bucket_full_evicts_in_neighbourhood(void)
{
	struct ledger l = ledger_new(64, 16);
	struct st_flow_table *t = table_new(&l, 64, 0);
	struct st_pkt same[17];
	uint32_t want[2] = { 0, 0 };
	unsigned n = 0;
	enum st_flow_dir d;
	bool c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->bucket_mask, 15);
	for (uint32_t port = 1; port < 60000 && n < 17; port++) {
		struct st_pkt p = pkt4(0x0a000001u, (uint16_t)port, 0x0a000002u, 80, TCP, 0, 60);
		uint32_t b[2];

		buckets_of(t, st_flow_hash(&p), b);
		if (n == 0) {
			want[0] = b[0];
			want[1] = b[1];
		}
		if ((b[0] == want[0] && b[1] == want[1]) || (b[0] == want[1] && b[1] == want[0]))
			same[n++] = p;
	}
	CU_ASSERT_EQUAL_FATAL(n, 17);
	for (unsigned i = 0; i < 16; i++) {
		same[i].ts_ns = 100 + i;
		get(t, &l, &same[i], &d, &c);
		CU_ASSERT_TRUE(c);
	}
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->evicted, 0);
	same[0].ts_ns = 200;      /* refresh the oldest: key 1 becomes the LRU */
	get(t, &l, &same[0], &d, &c);
	CU_ASSERT_FALSE(c);
	same[16].ts_ns = 201;
	get(t, &l, &same[16], &d, &c);
	CU_ASSERT_TRUE(c);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->evicted, 1);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->bucket_full, 1);
	CU_ASSERT_EQUAL(st_flow_table_stats(t)->active, 16);
	CU_ASSERT_EQUAL(l.why[1], ST_FLOW_END_EVICTED);
	CU_ASSERT_EQUAL(l.by_reason[ST_FLOW_END_EVICTED], 1);
	st_flow_table_destroy(t);
	CU_ASSERT_EQUAL(l.by_reason[ST_FLOW_END_DESTROYED], 16);
	CU_ASSERT_EQUAL(l.twice + l.bad_canary, 0);
	free(l.why);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct st_pkt random_pkt(uint64_t *rng, uint64_t ts_ns)
{
	uint64_t a = rng_next(rng), b = rng_next(rng);
	struct st_pkt p;

	if (a & 1) {
		p = pkt4((uint32_t)(a >> 32), (uint16_t)(b >> 48), (uint32_t)b,
			 (uint16_t)(a >> 16), (a & 2) ? TCP : UDP, ts_ns, 64);
	} else {
		uint8_t s[16], d[16];

		memcpy(s, &a, 8);
		memcpy(s + 8, &b, 8);
		b = rng_next(rng);
		memcpy(d, &b, 8);
		memcpy(d + 8, &a, 8);
		p = pkt6(s, (uint16_t)(a >> 8), d, (uint16_t)(b >> 40), (a & 2) ? TCP : UDP, ts_ns);
	}
	return p;
}

/*
 * 10^6 random 5-tuples into 4096 flows of 2 KiB each, interleaved with a
 * flow that sends every other packet; a sweep now and then.  The table's
 * memory and the heap's allocated bytes stay exactly the same; every entry
 * is released once; evicted = created - capacity - expired; the busy flow
 * keeps its entry (flow.h: the most recently seen entry is never evicted).
 */
static void test_flood_fixed_memory(void)
{
	enum { CAPACITY = 4096, FLOOD = 1000000, USER = 2048 };
	struct ledger l = ledger_new(FLOOD + 16, USER);
	struct st_flow_table *t = table_new(&l, CAPACITY, 12000);
	const struct st_flow_stats *st;
	struct st_pkt busy = pkt4(0xc0a80001u, 443, 0xc0a80002u, 9092, TCP, 0, 1500);
	struct st_flow *busy_flow;
	uint64_t rng = 42, ts = 1, busy_serial, sweeps = 0;
	size_t mem_before, heap_before;
	enum st_flow_dir d;
	bool c, busy_moved = false;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	st = st_flow_table_stats(t);
	busy.ts_ns = ts++;
	busy_flow = get(t, &l, &busy, &d, &c);
	busy_serial = serial_of(busy_flow);
	mem_before = st_flow_memory_bytes(t);
	heap_before = mallinfo2().uordblks;

	for (uint64_t i = 0; i < FLOOD; i++) {
		struct st_pkt p = random_pkt(&rng, ts++);

		get(t, &l, &p, &d, &c);
		busy.ts_ns = ts++;
		if (i & 1)
			busy = reversed(&busy);
		if (get(t, &l, &busy, &d, &c) != busy_flow || c)
			busy_moved = true;
		if ((i & 1023) == 0)
			sweeps += st_flow_expire(t, ts, 64);
	}

	CU_ASSERT_EQUAL(st_flow_memory_bytes(t), mem_before);
	CU_ASSERT_EQUAL(mallinfo2().uordblks, heap_before);
	CU_ASSERT_FALSE(busy_moved);
	CU_ASSERT_EQUAL(serial_of(busy_flow), busy_serial);
	CU_ASSERT_EQUAL(busy_flow->packets[0] + busy_flow->packets[1], FLOOD + 1);
	CU_ASSERT_EQUAL(st->lookups, 2ull * FLOOD + 1);
	CU_ASSERT_EQUAL(st->created + st->hits, st->lookups);
	CU_ASSERT_EQUAL(st->created, l.next_serial);
	CU_ASSERT_EQUAL(st->active, CAPACITY);
	CU_ASSERT_EQUAL(st->evicted, st->created - CAPACITY - st->expired);
	CU_ASSERT_TRUE(st->evicted > FLOOD / 2);
	CU_ASSERT_TRUE(st->expired >= sweeps);
	CU_ASSERT_EQUAL(st->evicted, l.by_reason[ST_FLOW_END_EVICTED]);
	CU_ASSERT_EQUAL(st->expired, l.by_reason[ST_FLOW_END_IDLE]);
	CU_ASSERT_EQUAL(l.twice + l.bad_canary, 0);
	printf("\n  flood: created %llu, evicted %llu (bucket full %llu), expired %llu "
	       "(sweep %llu), %zu bytes\n", (unsigned long long)st->created,
	       (unsigned long long)st->evicted, (unsigned long long)st->bucket_full,
	       (unsigned long long)st->expired, (unsigned long long)sweeps, mem_before);

	st_flow_table_destroy(t);
	CU_ASSERT_EQUAL(l.by_reason[ST_FLOW_END_DESTROYED], CAPACITY);
	for (uint64_t s = 0; s < l.next_serial; s++)
		if (l.why[s] == NO_RELEASE)
			CU_FAIL("an entry left without its release callback");
	free(l.why);
}

static void test_create_errors(void)
{
	struct st_flow_config cfg = { .max_flows = 0, .user_bytes = 8 };

	errno = 0;
	CU_ASSERT_PTR_NULL(st_flow_table_create(&cfg));
	CU_ASSERT_EQUAL(errno, EINVAL);
	cfg.max_flows = 16;
	cfg.user_bytes = ST_FLOW_USER_MAX + 1;
	errno = 0;
	CU_ASSERT_PTR_NULL(st_flow_table_create(&cfg));
	CU_ASSERT_EQUAL(errno, EINVAL);
	cfg.max_flows = ST_FLOW_MAX_FLOWS + 1;
	cfg.user_bytes = 0;
	CU_ASSERT_PTR_NULL(st_flow_table_create(&cfg));
	CU_ASSERT_PTR_NULL(st_flow_table_create(NULL));
	st_flow_table_destroy(NULL);

	/* no release callback, no user area: still works */
	cfg.max_flows = 1;
	{
		struct st_flow_table *t = st_flow_table_create(&cfg);
		struct st_pkt a = pkt4(1, 1, 2, 2, TCP, 1, 60), b = pkt4(3, 3, 4, 4, TCP, 2, 60);
		enum st_flow_dir d;
		bool c;

		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		CU_ASSERT_EQUAL(st_flow_capacity(t), 1);
		CU_ASSERT_EQUAL((uintptr_t)st_flow_user(st_flow_get(t, &a, &d, &c)) % 8, 0);
		st_flow_get(t, &b, &d, &c);
		CU_ASSERT_TRUE(c);
		CU_ASSERT_EQUAL(st_flow_table_stats(t)->evicted, 1);
		CU_ASSERT_EQUAL(st_flow_table_stats(t)->active, 1);
		st_flow_table_destroy(t);
	}
	CU_ASSERT_STRING_EQUAL(st_flow_end_name(ST_FLOW_END_IDLE), "idle");
	CU_ASSERT_STRING_EQUAL(st_flow_end_name(ST_FLOW_END_EVICTED), "evicted");
	CU_ASSERT_STRING_EQUAL(st_flow_end_name(ST_FLOW_END__COUNT), "unknown");
}

ST_TEST_MAIN("dataplane/flow",
	ST_TEST(test_both_directions_one_entry),
	ST_TEST(test_keys_differ),
	ST_TEST(test_idle_expiry_sweep_and_lazy),
	ST_TEST(test_eviction_takes_least_recent),
	ST_TEST(test_bucket_full_evicts_in_neighbourhood),
	ST_TEST(test_flood_fixed_memory),
	ST_TEST(test_create_errors))
