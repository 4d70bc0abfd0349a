/*
 * The control plane's store (DESIGN.md, "Store"): per stream, the recent
 * Shadow Profiles in a compact form for windowed cardinality merges, and a
 * history of feature vectors (control/features/features.h) in two tiers in
 * checksummed append-only segment files (control/store/segment.h) that
 * survive a crash (only a torn tail is lost) and a restart.
 *
 * Time.  The store's clock is the end (start + length) of the newest epoch
 * it was given, by a profile or a feature vector, over all streams (on open:
 * the newest end in the history files).  One epoch stamped far in the future
 * moves it there and so expires everything older; the data plane's epochs
 * are what it trusts.  Windows and retention are measured
 * back from it, never from the wall clock, so that an offline replay keeps
 * the same data as the live daemon.
 *
 * Recent profiles.  A profile is kept as its HyperLogLogs only (one per key
 * field, deserialized from the record's HLL sections) plus its epoch and its
 * record count: at p = 12 that is 4 KiB per key field, where the record is
 * ~30 KiB.  Per stream the store keeps
 *   - one entry per profile for the current bucket and the one before it
 *     (a bucket is bucket_s of epoch time, aligned to multiples of it,
 *     default 60 s), so windows up to bucket_s are merged at epoch
 *     resolution;
 *   - older profiles pre-merged per bucket: when a profile of bucket b
 *     arrives, the entries of buckets < b - 1 are folded into one merged
 *     sketch per bucket (the first entry's sketches become the bucket's: no
 *     allocation).
 * A 1 h query at 1 s epochs and 60 s buckets merges at most 120 entries and
 * 59 buckets, not 3600 sketches.  A query over [clock - window, clock]
 * merges every entry whose epoch starts in the window and every bucket
 * whose oldest profile starts in it, so the window actually covered starts
 * at most one bucket after the window's start (reported).
 *   Retention: entries and buckets whose newest epoch ended before
 * clock - profiles_s are dropped; while the memory in use would pass
 * profiles_bytes, the item (bucket or entry) with the oldest start over all
 * streams is dropped first.  Both counted, in profiles.
 *   Recent profiles live in memory only: a restart starts them empty (the
 * feature history, below, is what survives).
 *   Per stream, profiles must come in non-decreasing epoch start; an older
 * one is refused (-ERANGE, counted).  A profile whose key-field count or HLL
 * precision differs from the stream's previous ones (the config changed)
 * drops the stream's recent profiles (counted as profiles_reset) and starts
 * afresh.
 *
 * Feature history.  st_store_append() writes the vector as a fine record at
 * once (one write(2); a crash loses at most a torn tail) and adds it to the
 * stream's coarse step (floor(epoch_start / coarse_step)): when a vector of
 * a later step arrives, or the clock passes the step's end by a whole step,
 * the step is written as one coarse record: per feature, the mean, min and
 * max over the epochs that had the feature (mean of the log record rate =
 * the step's typical rate, max = its peak, for the forecaster), the number
 * of epochs, the OR of their flags, and as missing the features none had.
 * On a restart the open steps are rebuilt from the fine records newer than
 * each stream's last coarse record, so a restart loses no step.
 *   Files: <dir>/fine-<seq>.seg and <dir>/coarse-<seq>.seg (seq: 16 hex
 * digits, one counter over both tiers).  The active segment of a tier is
 * rotated when a frame would take it past segment_bytes or when a record
 * starts more than span/8 after its first (span: fine_s or coarse_s), so
 * that retention deletes whole files: a segment (never an active one) is
 * deleted when its newest record ended before clock - span, and while the
 * files together would pass disk_bytes the segment with the oldest first
 * record, either tier, is deleted first.  So a tier keeps at least its span
 * (disk permitting) and at most span plus one segment.
 *   Open: every segment is read and checked.  A torn tail of a tier's last
 * segment is cut off (ftruncate, counted); a last segment whose header is
 * torn is deleted (counted as a torn tail).  A damaged stretch anywhere
 * else is skipped and counted (checksum_failures), never accepted, and the
 * file is left as it is.  A segment of another features version is kept on
 * disk (retention still deletes it) and its records are not read.
 *   Durability: records reach the kernel at once; st_store_sync() fsyncs
 * the active segments (rotation and close do too), for power loss.
 *
 * Memory.  Recent profiles: per stream (entries + buckets) x (96 + k x
 * st_hll_memory_bytes) bytes, at most 2 x bucket_s / epoch entries plus
 * profiles_s / bucket_s + 1 buckets, and over all streams never more than
 * profiles_bytes (the entries and buckets are what the bound counts; at 1 s
 * epochs, 60 s buckets, 1 h kept, one key field at p 12: ~180 x 4.2 KiB =
 * 750 KiB per stream).  Per stream known to the store: 96 bytes, plus
 * 576 bytes while it has an open coarse step; a stream with nothing kept
 * is freed once its last vector is older than fine_s.  Per segment file:
 * 48 bytes; there are about disk_bytes / segment_bytes + 16 of them (time
 * rotation makes at most 8 per span).  The feature history itself is not
 * held in memory: queries read the files, holding one segment
 * (<= segment_bytes, 16 MiB at most) per call or iterator at a time.  Open
 * holds one segment file at a time.
 *   Cost: st_store_history() reads every segment of the tier that holds
 * records ending after since_ns (no per-stream index), so a query over the
 * last hour of the fine tier reads that hour of every stream.
 *
 * Thread safety: every call may come from any thread; one mutex per store
 * serialises them, held for the in-memory work and the append's write(2)
 * only.  History queries and iterators take a snapshot of the segment list
 * under the mutex and read the files without it, so a long training scan
 * does not stall appends; a segment deleted by retention meanwhile is
 * skipped (st_store_iter_vanished()).  An iterator is used by one thread.
 * st_store_close() must not race with any other call on the store.
 */
#ifndef ST_CONTROL_STORE_H
#define ST_CONTROL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control/config/config.h"
#include "control/features/features.h"
#include "control/store/segment.h"
#include "shadowtap/profile.h"

struct st_hll;  /* dataplane/sketch/hll.h */

#define ST_STORE_BUCKET_S_DEFAULT 60u
#define ST_STORE_SEGMENT_MIN_BYTES 4096u
#define ST_STORE_SEGMENT_MAX_BYTES (16u << 20)

struct st_store_options {
	const char *dir;                      /* history directory; created
					       * (one level, 0750) if missing */
	struct st_config_retention retention; /* every field > 0 (the config's
					       * ranges are not re-checked, so
					       * tests may use small bounds) */
	uint32_t bucket_s;                    /* pre-merge bucket; 0: 60 */
	uint64_t segment_bytes;               /* 0: disk_bytes / 16 clamped to
					       * [MIN, MAX]; else in [MIN, MAX]
					       * and <= disk_bytes / 8 */
};

/* Fills *o with the retention defaults of control/config/config.c (the
 * documented ones: 3600 s, 256 MiB, 3600 s, 60 s, 604800 s, 1 GiB), bucket
 * and segment size 0 (automatic) and dir = `dir`. */
void st_store_options_default(struct st_store_options *o, const char *dir);

struct st_store;

/*
 * Opens the store over o->dir: reads and checks every segment there (see
 * the file head: torn tails cut, damaged stretches skipped and counted),
 * rebuilds the open coarse steps, applies retention.  NULL with errno:
 * EINVAL (an option out of range), ENOMEM, or the errno of mkdir, opendir,
 * open, read, ftruncate or unlink on the directory.  The caller owns the
 * store (st_store_close).  Two stores must not share a directory.
 */
struct st_store *st_store_open(const struct st_store_options *o);

/* Writes nothing more (an open coarse step is rebuilt on the next open),
 * fsyncs and closes the segments, frees everything; NULL is a no-op. */
void st_store_close(struct st_store *s);

/* fsync(2) of the active segments.  0 or -errno (the first failure). */
int st_store_sync(struct st_store *s);

/*
 * Recent profiles.
 *
 * st_store_add_profile: validates rec[0..len) with st_profile_parse() and
 * adds it.  st_store_add_profile_view: adds a record the caller parsed
 * already (view from a successful st_profile_parse; only its HLL blobs,
 * stream id, epoch and record count are read; nothing of it is kept).
 * Returns 0, or
 *   -EINVAL  the record is not valid (counted: profiles_invalid),
 *   -ERANGE  its epoch starts before the stream's newest (profiles_late),
 *   -E2BIG   its sketches alone pass profiles_bytes (profiles_too_big),
 *   -ENOMEM.
 */
int st_store_add_profile(struct st_store *s, const void *rec, size_t len);
int st_store_add_profile_view(struct st_store *s,
			      const struct st_profile_view *view);

/* A windowed cardinality (st_store_cardinality). */
struct st_store_card {
	double estimate;           /* HLL estimate of the merged sketches */
	double lower, upper;       /* estimate -/+ 3 sigma (st_hll_*_bound) */
	uint32_t profiles;         /* profiles merged */
	uint64_t records;          /* their records, summed */
	uint64_t covered_start_ns; /* oldest merged epoch start; 0 if none */
	uint64_t covered_end_ns;   /* newest merged epoch end; 0 if none */
};

/*
 * Cardinality of key field `key_field` of stream `stream_id` over the
 * window [clock - window_ns, clock]: the merge of the stream's kept
 * profiles inside it (see the file head).  Returns 0 with *out filled
 * (profiles 0 and estimate 0 when none falls inside), or -ENOENT (no
 * profile of that stream is kept), -EINVAL (key_field >= the stream's key
 * fields, window_ns 0), -ENOMEM (the merge sketch).
 */
int st_store_cardinality(struct st_store *s, uint64_t stream_id,
			 unsigned key_field, uint64_t window_ns,
			 struct st_store_card *out);

/*
 * The merged sketch behind st_store_cardinality(): a new HLL (precision of
 * the stream's profiles) owned by the caller (st_hll_destroy), for merging
 * further (other streams, hosts) or reading registers; *out as there.  NULL
 * with errno ENOENT, EINVAL or ENOMEM as st_store_cardinality() returns.
 */
struct st_hll *st_store_window_sketch(struct st_store *s, uint64_t stream_id,
				      unsigned key_field, uint64_t window_ns,
				      struct st_store_card *out);

/*
 * Feature history.
 *
 * Appends one stream's vector for one epoch: the fine record is written at
 * once, the coarse step updated (and written when a later step begins).
 * Returns 0, or
 *   -EINVAL  epoch_ns 0, the epoch's end past 2^64, or a value that is
 *            not finite (history_invalid),
 *   -ERANGE  its epoch starts before the stream's previous one
 *            (history_late),
 *   -ENOMEM, or the -errno of creating or writing a segment (write_errors;
 *            a short write is cut back, so the file stays well framed).
 */
int st_store_append(struct st_store *s, const struct st_features *f);

/*
 * The records of stream `stream_id` in tier `tier` whose start is >=
 * since_ns, oldest first: the first min(total, max) of them into out.
 * Returns total (which may exceed max), or -EINVAL (tier out of range,
 * out NULL with max > 0), -ENOMEM, or an -errno of reading a segment.
 * Reads the tier's segment files that hold records ending after since_ns.
 */
ssize_t st_store_history(struct st_store *s, uint64_t stream_id,
			 enum st_store_tier tier, uint64_t since_ns,
			 struct st_store_record *out, size_t max);

/*
 * Iterator over every record of one tier (all streams) starting at or
 * after since_ns, in file order (by segment, then append order): for
 * training a model on the whole stored history.  It sees the segments as
 * they were at create time, up to their size then.  NULL with errno EINVAL
 * or ENOMEM.  Owned by the caller, used by one thread.
 */
struct st_store_iter *st_store_iter_create(struct st_store *s,
					   enum st_store_tier tier,
					   uint64_t since_ns);
/* 1 with *out filled, 0 at the end, or -errno (reading a segment; the
 * iterator then moves on to the next segment). */
int st_store_iter_next(struct st_store_iter *it, struct st_store_record *out);
/* Segments that were deleted (retention) before the iterator read them. */
uint64_t st_store_iter_vanished(const struct st_store_iter *it);
/* Frees; NULL is a no-op.  May outlive the store's other calls but not
 * st_store_close(). */
void st_store_iter_destroy(struct st_store_iter *it);

/* Counters and gauges; st_store_stats() copies them under the mutex. */
struct st_store_stats {
	/* recent profiles (memory) */
	uint64_t streams;               /* gauge: streams with any state */
	uint64_t profiles_kept;         /* gauge: profiles in entries and buckets */
	uint64_t profile_entries;       /* gauge: per-profile entries */
	uint64_t profile_buckets;       /* gauge: pre-merged buckets */
	uint64_t profile_bytes;         /* gauge: memory counted against the bound */
	uint64_t profiles_added;
	uint64_t profiles_invalid;
	uint64_t profiles_late;
	uint64_t profiles_too_big;
	uint64_t profiles_evicted_time; /* profiles dropped past profiles_s */
	uint64_t profiles_evicted_bytes;/* profiles dropped for profiles_bytes */
	uint64_t profiles_reset;        /* profiles dropped on a config change */
	/* feature history (disk) */
	uint64_t history_appended;      /* fine records written */
	uint64_t coarse_appended;       /* coarse records written */
	uint64_t history_invalid;
	uint64_t history_late;
	uint64_t write_errors;
	uint64_t segments;              /* gauge: segment files, both tiers */
	uint64_t disk_bytes;            /* gauge: their bytes */
	uint64_t segments_created;
	uint64_t segments_deleted_time;
	uint64_t segments_deleted_bytes;
	uint64_t segments_foreign;      /* bad header or other features version */
	uint64_t records_loaded;        /* accepted on open */
	uint64_t torn_tails;            /* last segments cut (or removed) on open */
	uint64_t torn_bytes;            /* bytes cut */
	uint64_t checksum_failures;     /* damaged stretches skipped on open */
	uint64_t clock_ns;              /* gauge: the store's clock */
};

void st_store_stats(struct st_store *s, struct st_store_stats *out);

#endif
