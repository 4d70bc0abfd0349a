/*
 * The per-core endpoint table and the merge into the Backend Metrics record
 * (table.h).
 *
 * Layout: `entries` holds the used entries in insertion order (index =
 * what st_be_table_find returns); `slots` is the open-addressing index over
 * them (entry index + 1, 0 empty), a power of two at least twice the
 * capacity so that probes stay short and a full table still has empty
 * slots to end a probe.  Reset zeroes only the used entries and their
 * slots.  Sketches come from `pool`, allocated at create, handed out in
 * order and reset with the table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/backends/table.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/quantile.h"

struct st_be_table {
	unsigned capacity, used;
	uint32_t generation;
	uint32_t slot_mask;
	uint32_t *slots;            /* entry index + 1; 0 empty */
	uint32_t *slot_of;          /* each used entry's slot, for reset */
	struct st_be_entry *entries;
	struct st_qs **pool;
	unsigned pool_used;
	uint64_t overflow;
};

struct st_be_table *st_be_table_create(unsigned entries)
{
	struct st_be_table *t;
	uint32_t slots = 16;

	if (entries == 0 || entries > ST_BE_TABLE_ENTRIES_MAX) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	while (slots < 2 * entries)
		slots *= 2;
	t->capacity = entries;
	t->slot_mask = slots - 1;
	t->generation = 1;
	t->slots = calloc(slots, sizeof(*t->slots));
	t->entries = calloc(entries, sizeof(*t->entries));
	t->slot_of = calloc(entries, sizeof(*t->slot_of));
	t->pool = calloc(entries, sizeof(*t->pool));
	if (!t->slots || !t->entries || !t->slot_of || !t->pool)
		goto out_free;
	for (unsigned i = 0; i < entries; i++) {
		t->pool[i] = st_qs_create(ST_BACKENDS_LATENCY_ALPHA,
					  ST_BACKENDS_LATENCY_BINS, false);
		if (!t->pool[i])
			goto out_free;
	}
	return t;
out_free:
	st_be_table_destroy(t);
	errno = ENOMEM;
	return NULL;
}

void st_be_table_destroy(struct st_be_table *t)
{
	if (!t)
		return;
	if (t->pool)
		for (unsigned i = 0; i < t->capacity; i++)
			st_qs_destroy(t->pool[i]);
	free(t->pool);
	free(t->entries);
	free(t->slot_of);
	free(t->slots);
	free(t);
}

static uint64_t key_hash(const struct st_be_key *k)
{
	return st_hash64(k, sizeof(*k));
}

void st_be_table_reset(struct st_be_table *t)
{
	for (unsigned i = 0; i < t->used; i++)
		t->slots[t->slot_of[i]] = 0;
	memset(t->entries, 0, t->used * sizeof(*t->entries));
	for (unsigned i = 0; i < t->pool_used; i++)
		st_qs_reset(t->pool[i]);
	t->used = 0;
	t->pool_used = 0;
	t->overflow = 0;
	t->generation++;
	if (t->generation == 0)
		t->generation = 1;   /* 0 means "never looked up" to a cache */
}

uint32_t st_be_table_generation(const struct st_be_table *t)
{
	return t->generation;
}

int32_t st_be_table_find(struct st_be_table *t, const struct st_be_key *k)
{
	uint32_t s = (uint32_t)key_hash(k) & t->slot_mask;

	for (;;) {
		uint32_t at = t->slots[s];

		if (!at)
			break;
		if (!memcmp(&t->entries[at - 1].key, k, sizeof(*k)))
			return (int32_t)(at - 1);
		s = (s + 1) & t->slot_mask;
	}
	if (t->used == t->capacity)
		return -1;
	t->entries[t->used].key = *k;
	t->slot_of[t->used] = s;
	t->slots[s] = ++t->used;
	return (int32_t)(t->used - 1);
}

struct st_be_entry *st_be_table_entry(struct st_be_table *t, int32_t index)
{
	return &t->entries[index];
}

static struct st_qs *sketch_of(struct st_be_table *t, struct st_be_entry *e)
{
	if (!e->latency && t->pool_used < t->capacity)
		e->latency = t->pool[t->pool_used++];
	return e->latency;
}

void st_be_table_latency(struct st_be_table *t, struct st_be_entry *e, double us)
{
	struct st_qs *q = sketch_of(t, e);

	if (q)
		st_qs_update(q, us);
	else
		t->overflow++;
}

void st_be_table_overflow(struct st_be_table *t, uint64_t n)
{
	t->overflow += n;
}

unsigned st_be_table_used(const struct st_be_table *t)
{
	return t->used;
}

uint64_t st_be_table_overflow_count(const struct st_be_table *t)
{
	return t->overflow;
}

const struct st_be_entry *st_be_table_at(const struct st_be_table *t, unsigned i)
{
	return i < t->used ? &t->entries[i] : NULL;
}

/* ---- merge ---------------------------------------------------------------- */

/* Scratch for every latency blob of one record: at most one per entry. */
#define BLOB_SCRATCH_BYTES ((size_t)ST_BACKENDS_ENTRIES_MAX * ST_BACKENDS_LATENCY_MAX_BYTES)

struct st_be_merge {
	struct st_be_table *sum;
	uint64_t overflow;           /* the merger's own: entries past its table */
	struct st_backends_entry *out;
	const struct st_be_entry **order;
	uint8_t *blobs;
	size_t n_out;
	int prepared;                /* 0: no; 1: out/blobs valid; <0: -errno */
};

struct st_be_merge *st_be_merge_create(void)
{
	struct st_be_merge *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->sum = st_be_table_create(ST_BACKENDS_ENTRIES_MAX);
	m->out = calloc(ST_BACKENDS_ENTRIES_MAX, sizeof(*m->out));
	m->order = calloc(ST_BACKENDS_ENTRIES_MAX, sizeof(*m->order));
	m->blobs = malloc(BLOB_SCRATCH_BYTES);
	if (!m->sum || !m->out || !m->order || !m->blobs) {
		st_be_merge_destroy(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

void st_be_merge_destroy(struct st_be_merge *m)
{
	if (!m)
		return;
	st_be_table_destroy(m->sum);
	free(m->out);
	free(m->order);
	free(m->blobs);
	free(m);
}

void st_be_merge_begin(struct st_be_merge *m)
{
	st_be_table_reset(m->sum);
	m->overflow = 0;
	m->prepared = 0;
}

int st_be_merge_add(struct st_be_merge *m, const struct st_be_table *t)
{
	int rc = 0;

	m->prepared = 0;
	m->overflow += t->overflow;
	for (unsigned i = 0; i < t->used; i++) {
		const struct st_be_entry *src = &t->entries[i];
		int32_t at = st_be_table_find(m->sum, &src->key);
		struct st_be_entry *dst;

		if (at < 0) {
			m->overflow += src->packets_to + src->packets_from +
				       (src->latency ? st_qs_count(src->latency) : 0);
			continue;
		}
		dst = st_be_table_entry(m->sum, at);
		dst->records += src->records;
		dst->record_bytes += src->record_bytes;
		dst->packets_to += src->packets_to;
		dst->bytes_to += src->bytes_to;
		dst->packets_from += src->packets_from;
		dst->bytes_from += src->bytes_from;
		dst->retransmissions_to += src->retransmissions_to;
		dst->retransmissions_from += src->retransmissions_from;
		dst->zero_windows_from += src->zero_windows_from;
		dst->zero_windows_to += src->zero_windows_to;
		dst->flows_new += src->flows_new;
		dst->egress_records += src->egress_records;
		if (src->latency && st_qs_count(src->latency)) {
			struct st_qs *q = sketch_of(m->sum, dst);

			if (!q || st_qs_merge(q, src->latency) != 0) {
				m->overflow += st_qs_count(src->latency);
				rc = -EOVERFLOW;
			}
		}
	}
	return rc;
}

unsigned st_be_merge_used(const struct st_be_merge *m)
{
	return m->sum->used;
}

uint64_t st_be_merge_overflow(const struct st_be_merge *m)
{
	return m->overflow;
}

static int key_cmp(const void *pa, const void *pb)
{
	const struct st_be_key *a = &(*(const struct st_be_entry *const *)pa)->key;
	const struct st_be_key *b = &(*(const struct st_be_entry *const *)pb)->key;
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return (int)a->protocol - (int)b->protocol;
}

static bool entry_empty(const struct st_be_entry *e)
{
	return !(e->records | e->record_bytes | e->packets_to | e->bytes_to |
		 e->packets_from | e->bytes_from | e->retransmissions_to |
		 e->retransmissions_from | e->zero_windows_from | e->zero_windows_to |
		 e->flows_new | e->egress_records) &&
	       !(e->latency && st_qs_count(e->latency));
}

/* Sorted entries with their serialized sketches, in m->out[0..n_out). */
static int prepare(struct st_be_merge *m)
{
	size_t n = 0, blob_at = 0;

	if (m->prepared)
		return m->prepared < 0 ? m->prepared : 0;
	for (unsigned i = 0; i < m->sum->used; i++)
		if (!entry_empty(&m->sum->entries[i]))
			m->order[n++] = &m->sum->entries[i];
	qsort(m->order, n, sizeof(*m->order), key_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct st_be_entry *e = m->order[i];
		struct st_backends_entry *o = &m->out[i];

		memset(o, 0, sizeof(*o));
		o->family = e->key.family;
		o->protocol = e->key.protocol;
		o->port = e->key.port;
		memcpy(o->addr, e->key.addr, sizeof(o->addr));
		o->records = e->records;
		o->record_bytes = e->record_bytes;
		o->packets_to = e->packets_to;
		o->bytes_to = e->bytes_to;
		o->packets_from = e->packets_from;
		o->bytes_from = e->bytes_from;
		o->retransmissions_to = e->retransmissions_to;
		o->retransmissions_from = e->retransmissions_from;
		o->zero_windows_from = e->zero_windows_from;
		o->zero_windows_to = e->zero_windows_to;
		o->flows_new = e->flows_new;
		o->egress_records = e->egress_records;
		if (e->latency && st_qs_count(e->latency)) {
			ssize_t len = st_qs_serialize(e->latency, m->blobs + blob_at,
						      ST_BACKENDS_LATENCY_MAX_BYTES);

			if (len <= 0) {
				m->prepared = len < 0 ? (int)len : -EINVAL;
				return m->prepared;
			}
			o->latency = m->blobs + blob_at;
			o->latency_len = (uint32_t)len;
			blob_at += (size_t)len;
		}
	}
	m->n_out = n;
	m->prepared = 1;
	return 0;
}

static void meta_fill(const struct st_be_merge *m, const struct st_backends_meta *in,
		      struct st_backends_meta *out)
{
	*out = *in;
	out->overflow = m->overflow;
	out->flags = in->cores_merged < in->cores_expected ? ST_BACKENDS_F_PARTIAL : 0;
}

ssize_t st_be_merge_size(struct st_be_merge *m, const struct st_backends_meta *meta)
{
	struct st_backends_meta full;
	int rc = prepare(m);

	if (rc)
		return rc;
	meta_fill(m, meta, &full);
	return st_backends_size(m->out, m->n_out, &full);
}

ssize_t st_be_merge_build(struct st_be_merge *m, const struct st_backends_meta *meta,
			  void *buf, size_t cap)
{
	struct st_backends_meta full;
	int rc = prepare(m);

	if (rc)
		return rc;
	meta_fill(m, meta, &full);
	return st_backends_build(m->out, m->n_out, &full, buf, cap);
}
