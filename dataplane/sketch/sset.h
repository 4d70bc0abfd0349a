/*
 * Sketch set: everything one stream's Shadow Profile is built from, as one
 * worker core keeps it for one epoch (and as the merger and the control
 * plane hold it after merging).  It owns
 *   - per key field (1..4): a HyperLogLog and a heavy-hitter sketch;
 *   - a quantile sketch of the record size (unsigned) and one per numeric
 *     field (0..4, signed);
 *   - the schema set and the rate ticks of the epoch;
 *   - the plain counters of the profile, Kafka per-partition counts
 *     included (shadowtap/profile.h, struct st_profile_counters).
 * The data plane updates the sketches and counters directly through the
 * accessors below; the set adds no work to the hot path.  Every part merges
 * exactly or by its sketch's documented merge, so a merge of the per-core
 * sets is the stream's set (st_sset_merge).
 *
 * Memory at the defaults (one key field, one numeric field): see
 * st_sset_memory_bytes(); the target is <= 64 KiB per stream per core.
 *
 * Thread safety: a set is owned by one thread (its worker, then the merger
 * after the epoch flip).  Only create/from_profile allocate.
 */
#ifndef ST_SKETCH_SSET_H
#define ST_SKETCH_SSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/sketch/heavy.h"
#include "dataplane/sketch/hll.h"
#include "dataplane/sketch/quantile.h"
#include "dataplane/sketch/schema.h"
#include "dataplane/sketch/ticks.h"
#include "shadowtap/profile.h"

#define ST_SSET_KEY_FIELDS_MAX ST_PROFILE_KEY_FIELDS_MAX
#define ST_SSET_NUMERIC_FIELDS_MAX ST_PROFILE_NUMERIC_FIELDS_MAX
#define ST_SSET_KAFKA_PARTITIONS ST_PROFILE_KAFKA_PARTITIONS
#define ST_SSET_EPOCH_NS_DEFAULT 1000000000ull

struct st_sset_config {
	unsigned key_fields;      /* 1..ST_SSET_KEY_FIELDS_MAX */
	unsigned numeric_fields;  /* 0..ST_SSET_NUMERIC_FIELDS_MAX */
	unsigned hll_p;           /* ST_HLL_P_MIN..MAX */
	unsigned hh_k;            /* ST_HH_K_MIN..MAX */
	double qs_alpha;          /* relative error of every quantile sketch */
	unsigned qs_bins;         /* bucket budget per store */
	unsigned schema_entries;  /* 1..ST_SCHEMA_ENTRIES_MAX */
	unsigned n_ticks;         /* 1..ST_TICKS_MAX, dividing epoch_ns */
	uint64_t epoch_ns;        /* epoch length */
};

/* The defaults: 1 key field, 1 numeric field, p 12, k 64, alpha 0.01 with
 * 1024 bins, 64 schema entries, 100 ticks in a 1 s epoch. */
void st_sset_config_default(struct st_sset_config *cfg);

struct st_sset;

/*
 * New set, empty, epoch starting at 0 (call st_sset_reset() before use).
 * NULL with errno EINVAL (a field of cfg out of range) or ENOMEM.
 */
struct st_sset *st_sset_create(const struct st_sset_config *cfg);
/* Frees the set and its sketches; NULL is a no-op. */
void st_sset_destroy(struct st_sset *s);
/* Empties every sketch and counter and starts an epoch at epoch_start_ns. */
void st_sset_reset(struct st_sset *s, uint64_t epoch_start_ns);

/*
 * dst := merge(dst, src): sketches by their own merge, counters added
 * (saturating).  0, or -EINVAL when the configs or epochs differ or dst is
 * src, or -EOVERFLOW when a heavy-hitter, quantile or tick total would pass 2^64; on error
 * dst is unchanged.
 */
int st_sset_merge(struct st_sset *dst, const struct st_sset *src);

/* Bytes the set occupies in memory: the set itself plus every sketch's
 * st_*_memory_bytes(). */
size_t st_sset_memory_bytes(const struct st_sset *s);

const struct st_sset_config *st_sset_config(const struct st_sset *s);
uint64_t st_sset_epoch_start_ns(const struct st_sset *s);

/*
 * The parts, for the data plane to update in place (mutable) and for the
 * profile builder to read (_ro).  A field index out of range returns NULL.
 */
struct st_hll *st_sset_hll(struct st_sset *s, unsigned key_field);
struct st_hh *st_sset_heavy(struct st_sset *s, unsigned key_field);
struct st_qs *st_sset_size_qs(struct st_sset *s);
struct st_qs *st_sset_numeric_qs(struct st_sset *s, unsigned numeric_field);
struct st_schema *st_sset_schema(struct st_sset *s);
struct st_ticks *st_sset_ticks(struct st_sset *s);
struct st_profile_counters *st_sset_counters(struct st_sset *s);

const struct st_hll *st_sset_hll_ro(const struct st_sset *s, unsigned key_field);
const struct st_hh *st_sset_heavy_ro(const struct st_sset *s, unsigned key_field);
const struct st_qs *st_sset_size_qs_ro(const struct st_sset *s);
const struct st_qs *st_sset_numeric_qs_ro(const struct st_sset *s,
					  unsigned numeric_field);
const struct st_schema *st_sset_schema_ro(const struct st_sset *s);
const struct st_ticks *st_sset_ticks_ro(const struct st_sset *s);
const struct st_profile_counters *st_sset_counters_ro(const struct st_sset *s);

/* Counts `records` Kafka records of `partition`; partitions outside
 * 0..ST_SSET_KAFKA_PARTITIONS-1 go to kafka_overflow.  Hot path. */
static inline void st_sset_kafka_add(struct st_profile_counters *c,
				     int32_t partition, uint64_t records)
{
	if (partition >= 0 && partition < ST_SSET_KAFKA_PARTITIONS)
		c->kafka_partition[partition] += records;
	else
		c->kafka_overflow += records;
}

/*
 * Sketches made elsewhere (deserialized by the profile reader), for
 * st_sset_assemble().  Entries past the config's field counts are NULL.
 */
struct st_sset_parts {
	struct st_hll *hll[ST_SSET_KEY_FIELDS_MAX];
	struct st_hh *heavy[ST_SSET_KEY_FIELDS_MAX];
	struct st_qs *size_qs;
	struct st_qs *numeric_qs[ST_SSET_NUMERIC_FIELDS_MAX];
	struct st_schema *schema;
	struct st_ticks *ticks;
};

/*
 * A set made of existing sketches, with zero counters and the ticks' epoch.
 * The parts must match cfg in field counts, p, k, alpha, ticks and epoch;
 * the quantile sketches' bins and signedness and the schema's capacity are
 * not visible through the sketch APIs, so the caller vouches for them (the
 * profile reader checks them in the blobs).  On success the set owns the parts and *parts is zeroed; on
 * failure (NULL, errno EINVAL or ENOMEM) the caller still owns them.
 */
struct st_sset *st_sset_assemble(const struct st_sset_config *cfg,
				 struct st_sset_parts *parts);

/* Frees every non-NULL part and zeroes *parts. */
void st_sset_parts_destroy(struct st_sset_parts *parts);

#endif
