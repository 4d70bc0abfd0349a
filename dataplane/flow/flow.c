/*
 * Per-core flow table: policy, layout and thread safety are described in
 * flow.h.  Index buckets follow the DPDK rte_hash idea of keeping short
 * signatures beside entry numbers in one cache line, with two candidate
 * buckets per key (two-choice hashing: Azar, Broder, Karlin, Upfal,
 * "Balanced Allocations", 1999); unlike cuckoo hashing nothing is ever
 * displaced, so an entry's slot is stable and stored in the entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/flow/flow.h"
#include "dataplane/sketch/hash.h"

#define BUCKET_SLOTS 8
#define SLOT_FREE UINT32_MAX
#define HAND_CANDIDATES 8

struct bucket {
	uint32_t sig[BUCKET_SLOTS];
	uint32_t entry[BUCKET_SLOTS];   /* entry number + 1; 0 = empty slot */
};
_Static_assert(sizeof(struct bucket) == ST_CACHE_LINE, "one bucket per cache line");

struct st_flow_table {
	struct st_flow_config cfg;
	uint8_t *entries;          /* max_flows * stride bytes */
	struct bucket *buckets;
	uint32_t *free_stack;      /* entry numbers; free_count of them valid */
	uint32_t free_count;
	uint32_t bucket_mask;
	size_t stride;
	uint32_t hand;             /* next entry the sweep visits */
	size_t memory_bytes;
	struct st_flow_stats stats;
};

static const char *const end_names[ST_FLOW_END__COUNT] = {
	[ST_FLOW_END_IDLE] = "idle",
	[ST_FLOW_END_EVICTED] = "evicted",
	[ST_FLOW_END_CLOSED] = "closed",
	[ST_FLOW_END_DESTROYED] = "destroyed",
};

const char *st_flow_end_name(enum st_flow_end why)
{
	if ((unsigned)why >= ST_FLOW_END__COUNT)
		return "unknown";
	return end_names[why];
}

enum st_flow_dir st_flow_key_make(const struct st_pkt *p, struct st_flow_key *key)
{
	int cmp = memcmp(p->saddr, p->daddr, 16);
	bool src_is_lo = cmp < 0 || (cmp == 0 && p->sport <= p->dport);

	if (src_is_lo) {
		memcpy(key->lo_addr, p->saddr, 16);
		memcpy(key->hi_addr, p->daddr, 16);
		key->lo_port = p->sport;
		key->hi_port = p->dport;
	} else {
		memcpy(key->lo_addr, p->daddr, 16);
		memcpy(key->hi_addr, p->saddr, 16);
		key->lo_port = p->dport;
		key->hi_port = p->sport;
	}
	key->l4_proto = p->l4_proto;
	key->family = p->family;
	key->zero[0] = 0;
	key->zero[1] = 0;
	return src_is_lo ? ST_FLOW_DIR_LO_TO_HI : ST_FLOW_DIR_HI_TO_LO;
}

uint64_t st_flow_key_hash(const struct st_flow_key *key)
{
	return st_hash64(key, sizeof(*key));
}

uint64_t st_flow_hash(const struct st_pkt *p)
{
	struct st_flow_key key;

	st_flow_key_make(p, &key);
	return st_flow_key_hash(&key);
}


static inline struct st_flow *entry_at(const struct st_flow_table *t, uint32_t n)
{
	return (struct st_flow *)(t->entries + (size_t)n * t->stride);
}

static inline void buckets_of(const struct st_flow_table *t, uint64_t hash, uint32_t b[2])
{
	uint64_t mixed = st_fmix64(hash);

	b[0] = (uint32_t)mixed & t->bucket_mask;
	b[1] = (uint32_t)(mixed >> 32) & t->bucket_mask;
	if (b[1] == b[0])
		b[1] = b[0] ^ 1;
}

static inline bool is_idle(const struct st_flow_table *t, const struct st_flow *f, uint64_t now_ns)
{
	return t->cfg.idle_timeout_ns && now_ns > f->last_seen_ns &&
	       now_ns - f->last_seen_ns > t->cfg.idle_timeout_ns;
}

/* Releases a live entry and returns it to the free stack. */
static void remove_entry(struct st_flow_table *t, struct st_flow *f, enum st_flow_end why)
{
	uint32_t slot = f->index_slot;
	uint32_t n = (uint32_t)(((uint8_t *)f - t->entries) / t->stride);

	if (t->cfg.release)
		t->cfg.release(t->cfg.release_ctx, f, why);
	t->buckets[slot / BUCKET_SLOTS].entry[slot % BUCKET_SLOTS] = 0;
	f->index_slot = SLOT_FREE;
	t->free_stack[t->free_count++] = n;
	t->stats.active--;
	switch (why) {
	case ST_FLOW_END_IDLE:
		t->stats.expired++;
		break;
	case ST_FLOW_END_EVICTED:
		t->stats.evicted++;
		break;
	case ST_FLOW_END_CLOSED:
		t->stats.closed++;
		break;
	default:
		break;
	}
}

static struct st_flow *lookup(const struct st_flow_table *t, const struct st_flow_key *key,
			      uint64_t hash, const uint32_t b[2])
{
	uint32_t sig = (uint32_t)hash;

	for (int i = 0; i < 2; i++) {
		const struct bucket *bk = &t->buckets[b[i]];

		for (int s = 0; s < BUCKET_SLOTS; s++) {
			struct st_flow *f;

			if (bk->sig[s] != sig || !bk->entry[s])
				continue;
			f = entry_at(t, bk->entry[s] - 1);
			if (f->hash == hash && !memcmp(&f->key, key, sizeof(*key)))
				return f;
		}
	}
	return NULL;
}

static unsigned empty_slots(const struct bucket *bk)
{
	unsigned n = 0;

	for (int s = 0; s < BUCKET_SLOTS; s++)
		n += !bk->entry[s];
	return n;
}

static struct st_flow *older(struct st_flow *a, struct st_flow *b)
{
	if (!a || b->last_seen_ns < a->last_seen_ns)
		return b;
	return a;
}

/* Frees one entry to make room for a key whose buckets are b[]. */
static void make_room(struct st_flow_table *t, const uint32_t b[2], uint64_t now_ns)
{
	struct st_flow *victim = NULL;
	unsigned live = 0;
	bool table_full = t->free_count == 0;

	for (int i = 0; i < 2; i++) {
		const struct bucket *bk = &t->buckets[b[i]];

		for (int s = 0; s < BUCKET_SLOTS; s++) {
			if (!bk->entry[s])
				continue;
			live++;
			victim = older(victim, entry_at(t, bk->entry[s] - 1));
		}
	}
	if (table_full && live < 2) {
		for (int k = 0; k < HAND_CANDIDATES; k++) {
			victim = older(victim, entry_at(t, t->hand));
			if (++t->hand == t->cfg.max_flows)
				t->hand = 0;
		}
	}
	if (is_idle(t, victim, now_ns)) {
		remove_entry(t, victim, ST_FLOW_END_IDLE);
		return;
	}
	if (!table_full)
		t->stats.bucket_full++;
	remove_entry(t, victim, ST_FLOW_END_EVICTED);
}

static struct st_flow *insert(struct st_flow_table *t, const struct st_flow_key *key,
			      uint64_t hash, const uint32_t b[2], uint64_t now_ns)
{
	struct bucket *bk;
	struct st_flow *f;
	unsigned e0, e1;
	uint32_t n;
	int s;

	e0 = empty_slots(&t->buckets[b[0]]);
	e1 = empty_slots(&t->buckets[b[1]]);
	if (t->free_count == 0 || (e0 == 0 && e1 == 0)) {
		make_room(t, b, now_ns);
		e0 = empty_slots(&t->buckets[b[0]]);
		e1 = empty_slots(&t->buckets[b[1]]);
	}
	bk = &t->buckets[e1 > e0 ? b[1] : b[0]];
	for (s = 0; bk->entry[s]; s++)
		;
	n = t->free_stack[--t->free_count];
	f = entry_at(t, n);
	bk->sig[s] = (uint32_t)hash;
	bk->entry[s] = n + 1;

	f->key = *key;
	f->hash = hash;
	f->first_seen_ns = now_ns;
	f->last_seen_ns = now_ns;
	f->packets[0] = f->packets[1] = 0;
	f->bytes[0] = f->bytes[1] = 0;
	f->index_slot = (uint32_t)(bk - t->buckets) * BUCKET_SLOTS + (uint32_t)s;
	t->stats.created++;
	t->stats.active++;
	return f;
}

struct st_flow *st_flow_get(struct st_flow_table *t, const struct st_pkt *p,
			    enum st_flow_dir *dir, bool *created)
{
	struct st_flow_key key;
	struct st_flow *f;
	uint64_t hash;
	uint32_t b[2];

	*dir = st_flow_key_make(p, &key);
	hash = st_flow_key_hash(&key);
	buckets_of(t, hash, b);
	t->stats.lookups++;
	f = lookup(t, &key, hash, b);
	if (f && unlikely(is_idle(t, f, p->ts_ns))) {
		remove_entry(t, f, ST_FLOW_END_IDLE);
		f = NULL;
	}
	if (likely(f)) {
		t->stats.hits++;
		*created = false;
		if (p->ts_ns > f->last_seen_ns)
			f->last_seen_ns = p->ts_ns;
	} else {
		f = insert(t, &key, hash, b, p->ts_ns);
		*created = true;
	}
	f->packets[*dir]++;
	f->bytes[*dir] += p->frame_len;
	return f;
}

struct st_flow *st_flow_find(struct st_flow_table *t, const struct st_flow_key *key)
{
	uint64_t hash = st_flow_key_hash(key);
	uint32_t b[2];

	buckets_of(t, hash, b);
	return lookup(t, key, hash, b);
}

static bool is_live_entry(const struct st_flow_table *t, const struct st_flow *f)
{
	const uint8_t *at = (const uint8_t *)f;
	size_t off;

	if (!f || at < t->entries)
		return false;
	off = (size_t)(at - t->entries);
	return off / t->stride < t->cfg.max_flows && off % t->stride == 0 &&
	       f->index_slot != SLOT_FREE;
}

int st_flow_close(struct st_flow_table *t, struct st_flow *f)
{
	if (!is_live_entry(t, f))
		return -EINVAL;
	remove_entry(t, f, ST_FLOW_END_CLOSED);
	return 0;
}

unsigned st_flow_expire(struct st_flow_table *t, uint64_t now_ns, unsigned max_visits)
{
	unsigned released = 0;

	if (!t->cfg.idle_timeout_ns)
		return 0;
	for (unsigned v = 0; v < max_visits; v++) {
		struct st_flow *f = entry_at(t, t->hand);

		if (++t->hand == t->cfg.max_flows)
			t->hand = 0;
		if (f->index_slot != SLOT_FREE && is_idle(t, f, now_ns)) {
			remove_entry(t, f, ST_FLOW_END_IDLE);
			released++;
		}
	}
	return released;
}

const struct st_flow_stats *st_flow_table_stats(const struct st_flow_table *t)
{
	return &t->stats;
}

size_t st_flow_memory_bytes(const struct st_flow_table *t)
{
	return t->memory_bytes;
}

uint32_t st_flow_capacity(const struct st_flow_table *t)
{
	return t->cfg.max_flows;
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

struct st_flow_table *st_flow_table_create(const struct st_flow_config *cfg)
{
	struct st_flow_table *t;
	size_t entries_bytes, buckets_bytes, free_bytes;
	uint32_t nbuckets = 2;

	if (!cfg || cfg->max_flows == 0 || cfg->max_flows > ST_FLOW_MAX_FLOWS ||
	    cfg->user_bytes > ST_FLOW_USER_MAX) {
		errno = EINVAL;
		return NULL;
	}
	while ((uint64_t)nbuckets * BUCKET_SLOTS < 2ull * cfg->max_flows)
		nbuckets *= 2;

	t = calloc(1, sizeof(*t));
	if (!t)
		goto out_enomem;
	t->cfg = *cfg;
	t->stride = round_up(ST_FLOW_USER_OFFSET + cfg->user_bytes, ST_CACHE_LINE);
	t->bucket_mask = nbuckets - 1;
	entries_bytes = t->stride * cfg->max_flows;
	buckets_bytes = sizeof(struct bucket) * nbuckets;
	free_bytes = round_up(sizeof(uint32_t) * cfg->max_flows, ST_CACHE_LINE);

	t->entries = aligned_alloc(ST_CACHE_LINE, entries_bytes);
	if (!t->entries)
		goto out_free_table;
	t->buckets = aligned_alloc(ST_CACHE_LINE, buckets_bytes);
	if (!t->buckets)
		goto out_free_entries;
	t->free_stack = aligned_alloc(ST_CACHE_LINE, free_bytes);
	if (!t->free_stack)
		goto out_free_buckets;

	/* Touch every byte now so that the budget is resident from the start. */
	memset(t->entries, 0, entries_bytes);
	memset(t->buckets, 0, buckets_bytes);
	for (uint32_t n = 0; n < cfg->max_flows; n++) {
		entry_at(t, n)->index_slot = SLOT_FREE;
		/* Popped from the top: entry 0 is handed out first. */
		t->free_stack[n] = cfg->max_flows - 1 - n;
	}
	t->free_count = cfg->max_flows;
	t->memory_bytes = sizeof(*t) + entries_bytes + buckets_bytes + free_bytes;
	return t;

out_free_buckets:
	free(t->buckets);
out_free_entries:
	free(t->entries);
out_free_table:
	free(t);
out_enomem:
	errno = ENOMEM;
	return NULL;
}

void st_flow_table_destroy(struct st_flow_table *t)
{
	if (!t)
		return;
	for (uint32_t n = 0; n < t->cfg.max_flows; n++) {
		struct st_flow *f = entry_at(t, n);

		if (f->index_slot != SLOT_FREE)
			remove_entry(t, f, ST_FLOW_END_DESTROYED);
	}
	free(t->free_stack);
	free(t->buckets);
	free(t->entries);
	free(t);
}
