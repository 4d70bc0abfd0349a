/*
 * The Maglev table builder (control/actuate/xdplb/maglev.h) and the flow
 * hash of bpf/lb.h, without root.
 *
 * Oracles: the FNV-1a 32 test vectors of the FNV specification
 * (draft-eastlake-fnv, "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" ->
 * 0xbf9cf968) for this file's own hash implementation, written from the
 * spec in lb.h and compared with lb.h's; slot counts against the weight
 * shares (builder's proportional turns: each backend within n + 1 slots of
 * M * w / W); disruption measured over 10^5 synthetic flows, each looked up
 * here (hash mod M) in the old and the new table, against the minimum
 * 1/(N+1) (add) or the removed backend's share (remove), + 1%, at the
 * default table (65537), at the product's "auto" size for N = 2..1000 and,
 * pinned, at sizes below the product's bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "bpf/lb.h"
#include "control/actuate/xdplb/maglev.h"
#include "st_test.h"

#define FLOWS 100000

/* --- this test's own hash, from lb.h's spec ---------------------------- */

static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 16777619u;
	}
	return h;
}

static uint32_t fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Host-order arguments, laid out in wire order here. */
static uint32_t own_flow_hash(uint32_t saddr, uint32_t daddr, uint16_t sport,
			      uint16_t dport, uint8_t proto)
{
	uint8_t key[13] = {
		(uint8_t)(saddr >> 24), (uint8_t)(saddr >> 16), (uint8_t)(saddr >> 8),
		(uint8_t)saddr,
		(uint8_t)(daddr >> 24), (uint8_t)(daddr >> 16), (uint8_t)(daddr >> 8),
		(uint8_t)daddr,
		(uint8_t)(sport >> 8), (uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport,
		proto,
	};

	return fmix32(fnv1a(2166136261u, key, sizeof(key)));
}

/* The i-th synthetic flow: 10.x.y.z:port -> 192.0.2.1:9092 UDP. */
static uint32_t flow_hash(unsigned i)
{
	return own_flow_hash(0x0a000000u | (i / 7), 0xc0000201u,
			     (uint16_t)(1024 + (i % 7) * 9000 + i % 8191), 9092, 17);
}

static void test_fnv_vectors(void)
{
	CU_ASSERT_EQUAL(fnv1a(2166136261u, (const uint8_t *)"", 0), 0x811c9dc5u);
	CU_ASSERT_EQUAL(fnv1a(2166136261u, (const uint8_t *)"a", 1), 0xe40c292cu);
	CU_ASSERT_EQUAL(fnv1a(2166136261u, (const uint8_t *)"foobar", 6), 0xbf9cf968u);
	CU_ASSERT_EQUAL(fmix32(0), 0u);
}

static void test_flow_hash_matches_header(void)
{
	unsigned mismatches = 0;

	for (unsigned i = 0; i < 5000; i++) {
		uint32_t saddr = 0x0a000000u + i * 2654435761u % 16777216u;
		uint16_t sport = (uint16_t)(i * 40503u), dport = (uint16_t)(i * 7 + 80);
		uint8_t proto = i & 1 ? 6 : 17;
		uint32_t header = st_lb_flow_hash_v4(htonl(saddr), htonl(0xc0000201u),
						     htons(sport), htons(dport), proto);

		mismatches += header != own_flow_hash(saddr, 0xc0000201u, sport, dport,
						      proto);
	}
	CU_ASSERT_EQUAL(mismatches, 0);
}

static void test_primes_and_sizes(void)
{
	CU_ASSERT_TRUE(st_maglev_is_prime(2));
	CU_ASSERT_TRUE(st_maglev_is_prime(1009));
	CU_ASSERT_TRUE(st_maglev_is_prime(65537));
	CU_ASSERT_TRUE(st_maglev_is_prime(16777213));
	CU_ASSERT_FALSE(st_maglev_is_prime(0));
	CU_ASSERT_FALSE(st_maglev_is_prime(1));
	CU_ASSERT_FALSE(st_maglev_is_prime(1001));       /* 7 * 11 * 13 */
	CU_ASSERT_FALSE(st_maglev_is_prime(65536));
	CU_ASSERT_FALSE(st_maglev_is_prime(4294967291u - 2)); /* 3 * 1431655763 */
	CU_ASSERT_TRUE(st_maglev_is_prime(4294967291u)); /* largest prime < 2^32 */
	CU_ASSERT_EQUAL(st_maglev_check_size(1009, 10), 0);
	CU_ASSERT_EQUAL(st_maglev_check_size(1009, 11), -EINVAL);  /* < 100 x 11 */
	CU_ASSERT_EQUAL(st_maglev_check_size(1000, 10), -EINVAL);  /* not prime */
	CU_ASSERT_EQUAL(st_maglev_check_size(16777259, 1), -EINVAL); /* prime, too big */
}

/* n backends "b000".."b<n-1>" with the given weights (NULL: all 1). */
static struct st_maglev_backend *backends_make(size_t n, const uint32_t *weights,
					       char (*names)[16])
{
	struct st_maglev_backend *b = calloc(n, sizeof(*b));

	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], 16, "b%03u", (unsigned)(i % 100000));
		b[i].name = names[i];
		b[i].weight = weights ? weights[i] : 1;
	}
	return b;
}

static void test_errors(void)
{
	char names[3][16];
	struct st_maglev_backend *b = backends_make(3, NULL, names);
	uint32_t table[1009];

	CU_ASSERT_EQUAL(st_maglev_build(b, 0, 1009, table), -EINVAL);
	CU_ASSERT_EQUAL(st_maglev_build(b, 3, 1001, table), -EINVAL);
	CU_ASSERT_EQUAL(st_maglev_build(b, 3, 293, table), -EINVAL);  /* prime < 300 */
	b[1].weight = 0;
	CU_ASSERT_EQUAL(st_maglev_build(b, 3, 1009, table), -EINVAL);
	b[1].weight = 1;
	b[2].name = "b000";
	CU_ASSERT_EQUAL(st_maglev_build(b, 3, 1009, table), -EINVAL);
	b[2].name = "";
	CU_ASSERT_EQUAL(st_maglev_build(b, 3, 1009, table), -EINVAL);
	b[2].name = names[2];
	CU_ASSERT_EQUAL(st_maglev_build(b, 3, 1009, table), 0);
	free(b);
}

/* Every backend within n + 1 slots of its weight share of M. */
static void check_shares(size_t n, const uint32_t *weights, uint32_t m)
{
	char (*names)[16] = calloc(n, 16);
	struct st_maglev_backend *b = backends_make(n, weights, names);
	uint32_t *table = calloc(m, sizeof(*table));
	uint32_t *slots = calloc(n, sizeof(*slots));
	double total_weight = 0, worst = 0;

	CU_ASSERT_EQUAL_FATAL(st_maglev_build(b, n, m, table), 0);
	for (uint32_t s = 0; s < m; s++) {
		CU_ASSERT_FATAL(table[s] < n);
		slots[table[s]]++;
	}
	for (size_t i = 0; i < n; i++)
		total_weight += b[i].weight;
	for (size_t i = 0; i < n; i++) {
		double want = (double)m * b[i].weight / total_weight;
		double off = slots[i] > want ? slots[i] - want : want - slots[i];

		CU_ASSERT(slots[i] >= 1);
		if (off > worst)
			worst = off;
	}
	CU_ASSERT(worst <= (double)n + 1);
	printf("\n  shares: %zu backends, M %u: worst %.1f slots from the weight share "
	       "(tolerance %zu)", n, m, worst, n + 1);
	free(slots);
	free(table);
	free(b);
	free(names);
}

static void test_shares_equal_weights(void)
{
	check_shares(10, NULL, 1009);
	check_shares(100, NULL, 65537);
}

static void test_shares_weighted(void)
{
	static const uint32_t w4[] = {1, 2, 3, 4};
	uint32_t w100[100];

	for (int i = 0; i < 100; i++)
		w100[i] = 1 + (uint32_t)(i * 37 % 10);
	check_shares(4, w4, 1009);
	check_shares(100, w100, 65537);
}

static void test_order_independent(void)
{
	char names[5][16];
	struct st_maglev_backend *b = backends_make(5, NULL, names);
	struct st_maglev_backend reversed[5];
	uint32_t t1[1009], t2[1009];
	unsigned same = 0;

	for (int i = 0; i < 5; i++)
		reversed[i] = b[4 - i];
	CU_ASSERT_EQUAL_FATAL(st_maglev_build(b, 5, 1009, t1), 0);
	CU_ASSERT_EQUAL_FATAL(st_maglev_build(reversed, 5, 1009, t2), 0);
	for (int s = 0; s < 1009; s++)
		same += t1[s] == 4 - t2[s];
	CU_ASSERT_EQUAL(same, 1009);
	CU_ASSERT_EQUAL_FATAL(st_maglev_build(b, 5, 1009, t2), 0);
	CU_ASSERT_EQUAL(memcmp(t1, t2, sizeof(t1)), 0);
	free(b);
}

/*
 * Builds tables over backends[0..n_old) and over new_names; counts the
 * flows whose backend (by name) differs.  Returns the moved fraction.
 */
static double moved_fraction(const struct st_maglev_backend *old_b, size_t n_old,
			     const struct st_maglev_backend *new_b, size_t n_new,
			     uint32_t m)
{
	uint32_t *old_t = calloc(m, sizeof(*old_t)), *new_t = calloc(m, sizeof(*new_t));
	unsigned moved = 0;

	CU_ASSERT_EQUAL_FATAL(st_maglev_build(old_b, n_old, m, old_t), 0);
	CU_ASSERT_EQUAL_FATAL(st_maglev_build(new_b, n_new, m, new_t), 0);
	for (unsigned f = 0; f < FLOWS; f++) {
		uint32_t slot = flow_hash(f) % m;

		moved += strcmp(old_b[old_t[slot]].name, new_b[new_t[slot]].name) != 0;
	}
	free(old_t);
	free(new_t);
	return (double)moved / FLOWS;
}

static void check_add_one(size_t n, uint32_t m, double excess_max)
{
	char (*names)[16] = calloc(n + 1, 16);
	struct st_maglev_backend *b = backends_make(n + 1, NULL, names);
	double moved = moved_fraction(b, n, b, n + 1, m);
	double minimal = 1.0 / (double)(n + 1);

	CU_ASSERT(moved >= minimal - 0.005);  /* the new backend's share moves */
	CU_ASSERT(moved <= minimal + excess_max);
	printf("\n  add 1 to %zu (M %u): %.4f of %d flows moved, minimal %.4f, excess %.4f",
	       n, m, moved, FLOWS, minimal, moved - minimal);
	free(b);
	free(names);
}

/* M 65537 (the "auto" size up to 32 backends) up to 500 backends (M >= 131 N):
 * <= 1% here, but the product refuses M < 2000 N (maglev.h). */
static void test_add_one_backend(void)
{
	check_add_one(4, 65537, 0.01);
	check_add_one(10, 65537, 0.01);
	check_add_one(50, 65537, 0.01);
	check_add_one(100, 65537, 0.01);
	check_add_one(300, 65537, 0.01);
	check_add_one(500, 65537, 0.01);
}

/*
 * Maglev's excess disruption grows as M / N shrinks: at M ~ 100 N it is a
 * few percent, not 1% (measured: N 10, M 1103 -> 3.5%).  Pinned here so
 * that a change to the builder shows; the product refuses these sizes
 * (maglev.h: M >= 2000 N).
 */
static void test_add_one_backend_small_table(void)
{
	check_add_one(4, 1009, 0.01);
	check_add_one(10, 1103, 0.05);
	check_add_one(100, 10103, 0.05);
}

/*
 * The product's rule (maglev.h, actuators.xdp_lb.table_size = "auto"):
 * adding one backend to N, at the table size a pool of N + 1 backends gets,
 * moves at most 1/(N + 1) + 1% of 10^5 flows (the acceptance bound; the
 * oracle is the definition: flows whose backend differs between the two
 * tables).  The sizes themselves against primes found by hand.
 */
static void test_add_one_backend_auto_size(void)
{
	static const size_t ns[] = { 2, 4, 10, 100, 500, 1000 };

	CU_ASSERT_EQUAL(st_maglev_size_auto(1), 65537);
	CU_ASSERT_EQUAL(st_maglev_size_auto(32), 65537);      /* 64000 < 65537 */
	CU_ASSERT_EQUAL(st_maglev_size_auto(33), 66029);      /* first prime >= 66000 */
	CU_ASSERT_EQUAL(st_maglev_size_auto(101), 202001);
	CU_ASSERT_EQUAL(st_maglev_size_auto(1001), 2002001);
	CU_ASSERT_EQUAL(st_maglev_size_auto(1024), 2048003);
	CU_ASSERT_EQUAL(st_maglev_size_auto(9000), 0);        /* > ST_MAGLEV_SIZE_MAX */
	CU_ASSERT_EQUAL(st_maglev_check_size_bounded(66029, 33), 0);
	CU_ASSERT_EQUAL(st_maglev_check_size_bounded(65537, 33), -EINVAL); /* < 66000 */
	CU_ASSERT_EQUAL(st_maglev_check_size_bounded(66031, 33), -EINVAL); /* not prime */
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		uint32_t m = st_maglev_size_auto(ns[i] + 1);

		CU_ASSERT_EQUAL_FATAL(st_maglev_check_size_bounded(m, ns[i] + 1), 0);
		check_add_one(ns[i], m, 0.01);
	}
}

static void check_remove_one(size_t n, size_t removed, uint32_t m)
{
	char (*names)[16] = calloc(n, 16);
	struct st_maglev_backend *b = backends_make(n, NULL, names);
	struct st_maglev_backend *rest = calloc(n, sizeof(*rest));
	uint32_t *t = calloc(m, sizeof(*t));
	unsigned own = 0;
	size_t k = 0;
	double moved, share;

	for (size_t i = 0; i < n; i++)
		if (i != removed)
			rest[k++] = b[i];
	CU_ASSERT_EQUAL_FATAL(st_maglev_build(b, n, m, t), 0);
	for (unsigned f = 0; f < FLOWS; f++)
		own += t[flow_hash(f) % m] == removed;
	share = (double)own / FLOWS;
	moved = moved_fraction(b, n, rest, n - 1, m);
	CU_ASSERT(moved >= share);  /* its flows must all move */
	CU_ASSERT(moved <= share + 0.01);
	printf("\n  remove 1 of %zu (M %u): %.4f moved, its own share %.4f, excess %.4f",
	       n, m, moved, share, moved - share);
	free(t);
	free(rest);
	free(b);
	free(names);
}

static void test_remove_one_backend(void)
{
	check_remove_one(5, 2, 1009);
	check_remove_one(11, 0, 65537);
	check_remove_one(101, 50, 65537);
	check_remove_one(501, 250, 65537);
}

ST_TEST_MAIN("control/actuate/xdplb/maglev",
	ST_TEST(test_fnv_vectors),
	ST_TEST(test_flow_hash_matches_header),
	ST_TEST(test_primes_and_sizes),
	ST_TEST(test_errors),
	ST_TEST(test_shares_equal_weights),
	ST_TEST(test_shares_weighted),
	ST_TEST(test_order_independent),
	ST_TEST(test_add_one_backend),
	ST_TEST(test_add_one_backend_small_table),
	ST_TEST(test_add_one_backend_auto_size),
	ST_TEST(test_remove_one_backend))
