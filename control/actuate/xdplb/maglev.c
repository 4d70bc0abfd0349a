/*
 * Maglev table population (maglev.h; the paper's section 3.4, Pseudocode 1,
 * with weights by proportional turns).
 */
#include "control/actuate/xdplb/maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#define SLOT_EMPTY UINT32_MAX

/* A backend's permutation state: where its next preferred slot is. */
struct permutation {
	uint32_t index;       /* into the caller's array */
	uint32_t weight;
	uint32_t skip;
	uint32_t next_slot;   /* (offset + j * skip) mod M for the next j */
};

bool st_maglev_is_prime(uint32_t m)
{
	if (m < 2)
		return false;
	if (m % 2 == 0)
		return m == 2;
	for (uint32_t d = 3; (uint64_t)d * d <= m; d += 2)
		if (m % d == 0)
			return false;
	return true;
}

int st_maglev_check_size(uint32_t table_size, size_t n_backends)
{
	if (table_size < 3 || table_size > ST_MAGLEV_SIZE_MAX)
		return -EINVAL;
	if ((uint64_t)table_size < (uint64_t)ST_MAGLEV_SIZE_PER_BACKEND * n_backends)
		return -EINVAL;
	return st_maglev_is_prime(table_size) ? 0 : -EINVAL;
}

int st_maglev_check_size_bounded(uint32_t table_size, size_t n_backends)
{
	if ((uint64_t)table_size < (uint64_t)ST_MAGLEV_SIZE_PER_BACKEND_BOUNDED * n_backends)
		return -EINVAL;
	return st_maglev_check_size(table_size, n_backends);
}

uint32_t st_maglev_size_auto(size_t n_backends)
{
	uint64_t m = (uint64_t)ST_MAGLEV_SIZE_PER_BACKEND_BOUNDED * n_backends;

	if (m < ST_MAGLEV_SIZE_AUTO_MIN)
		m = ST_MAGLEV_SIZE_AUTO_MIN;
	for (; m <= ST_MAGLEV_SIZE_MAX; m++)
		if (st_maglev_is_prime((uint32_t)m))
			return (uint32_t)m;
	return 0;
}

/* Sorted by name, so that the caller's order does not matter. */
static int permutations_init(const struct st_maglev_backend *backends, size_t n,
			     uint32_t table_size, struct permutation *perm)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = backends[i].name;
		size_t len;

		if (!name || !*name || backends[i].weight == 0)
			return -EINVAL;
		len = strlen(name);
		perm[i].index = (uint32_t)i;
		perm[i].weight = backends[i].weight;
		perm[i].next_slot = (uint32_t)(XXH64(name, len, ST_MAGLEV_SEED_OFFSET) %
					       table_size);
		perm[i].skip = (uint32_t)(XXH64(name, len, ST_MAGLEV_SEED_SKIP) %
					  (table_size - 1)) + 1;
	}
	/* Insertion sort by name (qsort has no context argument): O(n^2) on
	 * <= 1024 names, small beside filling M slots. */
	for (size_t i = 1; i < n; i++) {
		struct permutation p = perm[i];
		size_t j = i;

		while (j > 0 && strcmp(backends[perm[j - 1].index].name,
				       backends[p.index].name) > 0) {
			perm[j] = perm[j - 1];
			j--;
		}
		perm[j] = p;
	}
	for (size_t i = 1; i < n; i++)
		if (strcmp(backends[perm[i - 1].index].name, backends[perm[i].index].name) == 0)
			return -EINVAL;
	return 0;
}

/* Claims p's next preferred empty slot (one is left when called, and the
 * permutation visits every slot). */
static void claim(struct permutation *p, uint32_t table_size, uint32_t *table)
{
	while (table[p->next_slot] != SLOT_EMPTY)
		p->next_slot = (uint32_t)(((uint64_t)p->next_slot + p->skip) % table_size);
	table[p->next_slot] = p->index;
	p->next_slot = (uint32_t)(((uint64_t)p->next_slot + p->skip) % table_size);
}

int st_maglev_build(const struct st_maglev_backend *backends, size_t n,
		    uint32_t table_size, uint32_t *table)
{
	struct permutation *perm;
	uint32_t weight_max = 0;
	uint64_t filled = 0;
	int err;

	if (n == 0 || !backends || !table || st_maglev_check_size(table_size, n))
		return -EINVAL;
	perm = calloc(n, sizeof(*perm));
	if (!perm)
		return -ENOMEM;
	err = permutations_init(backends, n, table_size, perm);
	if (err)
		goto out_free_perm;
	for (size_t i = 0; i < n; i++)
		if (perm[i].weight > weight_max)
			weight_max = perm[i].weight;
	for (uint32_t s = 0; s < table_size; s++)
		table[s] = SLOT_EMPTY;

	/* The heaviest backend takes a turn every round, so this ends within
	 * table_size rounds. */
	for (uint64_t round = 0; filled < table_size; round++) {
		for (size_t i = 0; i < n && filled < table_size; i++) {
			uint64_t w = perm[i].weight;

			if ((round + 1) * w / weight_max == round * w / weight_max)
				continue;
			claim(&perm[i], table_size, table);
			filled++;
		}
	}
out_free_perm:
	free(perm);
	return err;
}
