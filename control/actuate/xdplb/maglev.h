/*
 * Maglev consistent hashing: the lookup table of an L4 load balancer, built
 * in user space (Eisenbud et al., "Maglev: A Fast and Reliable Software
 * Network Load Balancer", NSDI 2016, section 3.4).
 *
 * Each backend has a permutation of the M slots, from two hashes of its
 * name: offset = h1(name) mod M, skip = h2(name) mod (M - 1) + 1, and its
 * j-th preferred slot is (offset + j * skip) mod M.  With M prime, every
 * skip is coprime to M, so each permutation visits every slot.  Backends
 * take turns claiming their next preferred slot that is still empty, until
 * the table is full (the paper's Pseudocode 1).  h1 and h2 are XXH64 of the
 * name with seeds ST_MAGLEV_SEED_OFFSET and ST_MAGLEV_SEED_SKIP.
 *
 * Weights (the paper's section 3.4 says only that backends with more
 * weight take turns more often): in round r = 0, 1, 2, ... backend i takes
 * a turn when floor((r + 1) * w_i / w_max) > floor(r * w_i / w_max), so
 * over R rounds it takes floor(R * w_i / w_max) turns: proportional turns.
 * Each turn claims exactly one slot, so slot counts are proportional to the
 * weights up to one turn per backend.
 *
 * Determinism: the table depends only on the set of (name, weight) pairs
 * and M, not on the order they are given in: backends take turns in
 * byte-wise order of their names.  The table holds indices into the
 * caller's array.
 *
 * Thread safety: the functions keep no state; any thread may call them.
 */
#ifndef ST_CONTROL_ACTUATE_XDPLB_MAGLEV_H
#define ST_CONTROL_ACTUATE_XDPLB_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_MAGLEV_SEED_OFFSET 0x6d61676c65763031ull   /* "maglev01" */
#define ST_MAGLEV_SEED_SKIP 0x6d61676c65763032ull     /* "maglev02" */
#define ST_MAGLEV_SIZE_PER_BACKEND 100   /* the builder's floor: M >= 100 x backends */
#define ST_MAGLEV_SIZE_MAX 16777213u     /* the largest prime < 2^24 */

/*
 * The product's table size rule (actuators.xdp_lb.table_size, config.h):
 * M >= ST_MAGLEV_SIZE_PER_BACKEND_BOUNDED x backends, and "auto" (the
 * default) = the smallest prime >= max(ST_MAGLEV_SIZE_AUTO_MIN, that).
 * Measured (adding backend N to backends 0..N-1 named "b000".., M = the
 * rule's size for N + 1, 10^5 flows hashed as in test_maglev.c): the
 * excess over the minimal 1/(N + 1) reaches 3.5% at M ~ 100 N (N = 10),
 * and single tables still reach 0.9..1.2% at 300..1000 x N (N = 83 at
 * 1000 x N: 1.23%): Maglev's excess is a tail over backend names, not a
 * smooth function of M / N.  With 2000 x N, every N = 2..1000: at most
 * 0.81% (N = 15, M = 65537, under the floor), mean 0.19%; names
 * "backend-NNNN", every other N: at most 0.59%.  The price: M ~ 2 x 10^6 at 1000 backends, a whole apply() of
 * about a second (the swap itself stays microseconds).
 */
#define ST_MAGLEV_SIZE_PER_BACKEND_BOUNDED 2000u
#define ST_MAGLEV_SIZE_AUTO_MIN 65537u   /* the paper's production size */

/* One backend: its name (NUL-terminated, non-empty, unique) and weight >= 1. */
struct st_maglev_backend {
	const char *name;
	uint32_t weight;
};

/* True when m is prime (trial division; m < 2^32). */
bool st_maglev_is_prime(uint32_t m);

/*
 * 0 when table_size is a prime in [3, ST_MAGLEV_SIZE_MAX] and
 * >= ST_MAGLEV_SIZE_PER_BACKEND x n_backends; else -EINVAL.
 */
int st_maglev_check_size(uint32_t table_size, size_t n_backends);

/*
 * The "auto" table size for n_backends: the smallest prime >= max(
 * ST_MAGLEV_SIZE_AUTO_MIN, ST_MAGLEV_SIZE_PER_BACKEND_BOUNDED x n_backends);
 * 0 when that exceeds ST_MAGLEV_SIZE_MAX.
 */
uint32_t st_maglev_size_auto(size_t n_backends);

/*
 * 0 when table_size is a prime in [3, ST_MAGLEV_SIZE_MAX] and >=
 * ST_MAGLEV_SIZE_PER_BACKEND_BOUNDED x n_backends (the moved-flow bound);
 * else -EINVAL.
 */
int st_maglev_check_size_bounded(uint32_t table_size, size_t n_backends);

/*
 * Fills table[0..table_size) with indices into backends[0..n).
 * Returns 0; -EINVAL when n is 0, a name is NULL, empty or repeated, a
 * weight is 0, or table_size fails st_maglev_check_size(); -ENOMEM.
 * The caller owns both arrays; nothing is kept.
 */
int st_maglev_build(const struct st_maglev_backend *backends, size_t n,
		    uint32_t table_size, uint32_t *table);

/* The slot of a flow hash: hash mod table_size. */
static inline uint32_t st_maglev_slot(uint32_t flow_hash, uint32_t table_size)
{
	return flow_hash % table_size;
}

#endif
