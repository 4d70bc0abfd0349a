/*
 * Per-core table of server endpoints ("backends") for the Backend Metrics
 * record (shadowtap/backends.h), and the merge of several cores' tables
 * into that record.
 *
 * A table has a fixed capacity chosen at create (entries) and never
 * allocates afterwards: open addressing with linear probing over twice as
 * many slots as entries (load <= 1/2), and one DDSketch per entry (unsigned,
 * ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS) taken from a pool
 * allocated at create, on the entry's first latency sample.  An endpoint
 * that finds no room is not lost silently: its packets and latency samples
 * are counted in `overflow` (the record's header field).
 *
 * Epochs: st_be_table_reset() empties the table (cost: the entries used) and
 * moves its generation on; a caller that caches an entry's index (the
 * worker keeps one per flow) keeps the generation with it and looks the
 * endpoint up again when they differ.
 *
 * The merger (st_be_merge_*) sums several tables' entries by key (counters
 * added, sketches merged: DDSketch merges are exact, so the merged sketch
 * is that of all the cores' samples), sorts them in record order and builds
 * the record.  Entries past ST_BACKENDS_ENTRIES_MAX go to overflow.
 *
 * Thread safety: a table is owned by one thread; a finished table may be
 * read (st_be_merge_add) by another thread once handed over with a release/
 * acquire pair (the worker's epoch publication).  A merger is owned by one
 * thread.
 */
#ifndef ST_BACKENDS_TABLE_H
#define ST_BACKENDS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "shadowtap/backends.h"

#define ST_BE_TABLE_ENTRIES_DEFAULT 256u
#define ST_BE_TABLE_ENTRIES_MAX ST_BACKENDS_ENTRIES_MAX

struct st_qs;

/* An endpoint in the record's form: IPv4 in addr[0..3], the rest zero. */
struct st_be_key {
	uint8_t family;             /* 4 or 6 */
	uint8_t protocol;           /* ST_PROFILE_PROTO_* */
	uint16_t port;              /* host order */
	uint8_t addr[16];
};

/* One endpoint's counters for the epoch (the record's fields). */
struct st_be_entry {
	struct st_be_key key;
	uint64_t records, record_bytes;
	uint64_t packets_to, bytes_to, packets_from, bytes_from;
	uint64_t retransmissions_to, retransmissions_from;
	uint64_t zero_windows_from, zero_windows_to;
	uint64_t flows_new, egress_records;
	struct st_qs *latency;      /* latency in microseconds; NULL: none yet */
};

struct st_be_table;

/* entries in 1..ST_BE_TABLE_ENTRIES_MAX.  NULL with errno EINVAL or ENOMEM. */
struct st_be_table *st_be_table_create(unsigned entries);
void st_be_table_destroy(struct st_be_table *t);   /* NULL is a no-op */

/* Empties the table and moves the generation on. */
void st_be_table_reset(struct st_be_table *t);
uint32_t st_be_table_generation(const struct st_be_table *t);

/*
 * Key from a packet's server side: addr is st_pkt's 16 bytes (IPv4 mapped
 * as ::ffff:a.b.c.d, pkt.h), family 4 or 6.
 */
static inline void st_be_key_from_pkt(struct st_be_key *k, uint8_t family,
				      const uint8_t addr[16], uint16_t port,
				      uint8_t protocol)
{
	memset(k, 0, sizeof(*k));
	k->family = family;
	k->protocol = protocol;
	k->port = port;
	if (family == 4)
		memcpy(k->addr, addr + 12, 4);
	else
		memcpy(k->addr, addr, 16);
}

/*
 * The index of k's entry, inserted (zeroed) when new; -1 when the table is
 * full (the caller counts what it had with st_be_table_overflow()).  Never
 * allocates.
 */
int32_t st_be_table_find(struct st_be_table *t, const struct st_be_key *k);

/* Entry `index` (from st_be_table_find in this generation). */
struct st_be_entry *st_be_table_entry(struct st_be_table *t, int32_t index);

/* Adds one latency sample (microseconds) to entry e of table t; counts it
 * in overflow when the sketch pool is empty (it never is: one per entry). */
void st_be_table_latency(struct st_be_table *t, struct st_be_entry *e, double us);

/* Adds n to the table's overflow (packets and samples without an entry). */
void st_be_table_overflow(struct st_be_table *t, uint64_t n);

unsigned st_be_table_used(const struct st_be_table *t);
uint64_t st_be_table_overflow_count(const struct st_be_table *t);
/* Entry i in 0..used-1 in insertion order, for readers (merge, tests). */
const struct st_be_entry *st_be_table_at(const struct st_be_table *t, unsigned i);

/* ---- merge into the record ---- */

struct st_be_merge;

/* A merger with room for ST_BACKENDS_ENTRIES_MAX endpoints; allocates all
 * it needs here.  NULL with errno ENOMEM. */
struct st_be_merge *st_be_merge_create(void);
void st_be_merge_destroy(struct st_be_merge *m);   /* NULL is a no-op */

/* Starts a record: empties the merger. */
void st_be_merge_begin(struct st_be_merge *m);

/* Adds every entry and the overflow of t.  0, or -EOVERFLOW when a sketch
 * count would wrap (that sample count goes to overflow). */
int st_be_merge_add(struct st_be_merge *m, const struct st_be_table *t);

/* Endpoints merged so far, and the overflow (cores' + the merger's own). */
unsigned st_be_merge_used(const struct st_be_merge *m);
uint64_t st_be_merge_overflow(const struct st_be_merge *m);

/*
 * Builds the record of what was added under the meta's epoch and cores
 * (meta->overflow and flags are set here) into buf[0..cap).  Returns the
 * bytes written, or -EINVAL, -E2BIG, -ENOSPC as st_backends_build().  The
 * exact size first: st_be_merge_size().
 */
ssize_t st_be_merge_size(struct st_be_merge *m, const struct st_backends_meta *meta);
ssize_t st_be_merge_build(struct st_be_merge *m, const struct st_backends_meta *meta,
			  void *buf, size_t cap);

#endif
