/*
 * History segment files: the on-disk format of the store's feature history
 * (control/store/store.h), built like a wire format.  One file holds the
 * records of one tier (fine: one per stream per epoch; coarse: one per
 * stream per downsampling step), of every stream, in append order.
 *
 * Every integer is little-endian, every f64 an IEEE 754 binary64 stored
 * little-endian (the _le fields); checksums are XXH3-64 (libxxhash, no
 * seed) stored little-endian.
 *
 * File header, 64 bytes:
 *   off size field
 *     0    4 magic             ST_STORE_SEG_MAGIC, the bytes "STHS"
 *     4    2 version           ST_STORE_SEG_VERSION (1)
 *     6    2 hdr_bytes         64
 *     8    1 tier              0 fine, 1 coarse
 *     9    1 reserved          0
 *    10    2 features_version  ST_FEATURES_VERSION of the vectors inside
 *    12    2 feature_count     ST_FEAT_COUNT of the vectors inside (1..32)
 *    14    2 reserved          0
 *    16    8 seq               segment number, unique over both tiers
 *    24   32 reserved          0
 *    56    8 hdr_xxh3          XXH3-64 of bytes 0..55
 *
 * Record frame, back to back after the header:
 *   off    size field
 *     0       4 sync          ST_STORE_SEG_SYNC, the bytes "STHR"
 *     4       4 length        payload bytes: exactly what the header's tier
 *                             and feature_count give (below)
 *     8  length payload
 *   8+length  8 xxh3          XXH3-64 of the frame's bytes 0..8+length
 *
 * Fine payload, n = feature_count, 32 + 8n bytes (192 at n = 20):
 *     0 8 stream_id   8 8 epoch_start_ns   16 8 epoch_ns
 *    24 4 flags      28 4 missing          32 8n v[n]
 * Coarse payload, 40 + 24n bytes (520 at n = 20):
 *     0 8 stream_id   8 8 step_start_ns    16 8 step_ns
 *    24 4 flags (OR over the step's epochs)   28 4 missing (no epoch had it)
 *    32 4 epochs (aggregated, >= 1)           36 4 reserved 0
 *    40 8n mean[n]   40+8n 8n min[n]   40+16n 8n max[n]
 *
 * Reading.  A frame is accepted only when its sync, its length and its
 * checksum are right and its values are sane (span > 0, every f64 finite,
 * reserved 0).  After a frame that is not, the reader looks for the next
 * offset where a whole frame is accepted and resumes there (the checksum
 * covers the length, so a false sync is rejected with probability 2^-64):
 * each such damaged stretch counts one checksum failure.  Bytes after the
 * last accepted frame that hold no accepted frame are the tail: on the
 * segment being appended to when the process died, a torn write.
 *
 * Thread safety: pure functions over caller memory; any thread.
 */
#ifndef ST_CONTROL_STORE_SEGMENT_H
#define ST_CONTROL_STORE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/features/features.h"

#define ST_STORE_SEG_MAGIC 0x53485453u   /* "STHS" read little-endian */
#define ST_STORE_SEG_SYNC 0x52485453u    /* "STHR" read little-endian */
#define ST_STORE_SEG_VERSION 1u
#define ST_STORE_SEG_HDR_BYTES 64u
#define ST_STORE_SEG_FRAME_OVERHEAD 16u  /* sync + length + xxh3 */
#define ST_STORE_SEG_FINE_PAYLOAD (32u + 8u * ST_FEAT_COUNT)
#define ST_STORE_SEG_COARSE_PAYLOAD (40u + 24u * ST_FEAT_COUNT)

enum st_store_tier {
	ST_STORE_FINE = 0,    /* one record per stream per epoch */
	ST_STORE_COARSE = 1,  /* one record per stream per coarse step */
};

/*
 * One history record of either tier.  `f` is the epoch (fine) or the
 * step's means (coarse: f.epoch_start_ns is the step start, f.epoch_ns
 * the step, f.v the mean of each feature over the epochs that had it,
 * f.missing the features no epoch had, f.flags the OR of the epochs').
 * min and max are the extremes over the same epochs (fine: both f.v);
 * epochs is how many epochs the record stands for (fine: 1).
 */
struct st_store_record {
	enum st_store_tier tier;
	uint32_t epochs;
	struct st_features f;
	double min[ST_FEAT_COUNT];
	double max[ST_FEAT_COUNT];
};

/* What a segment's header says. */
struct st_store_seg_hdr {
	enum st_store_tier tier;
	uint16_t features_version;
	uint16_t feature_count;
	uint64_t seq;
};

/* Writes the 64-byte header of a segment of ours (our feature version and
 * count) into out. */
void st_store_seg_hdr_write(uint8_t out[ST_STORE_SEG_HDR_BYTES],
			    enum st_store_tier tier, uint64_t seq);

/*
 * Reads a header from buf[0..len).  0, or -EINVAL (short, bad magic,
 * version, size, tier, reserved bytes, feature count 0 or > 32, or
 * checksum).  A header of another features version or count is valid:
 * the caller compares it with ours (st_store_seg_hdr_ours).
 */
int st_store_seg_hdr_read(const uint8_t *buf, size_t len,
			  struct st_store_seg_hdr *hdr);

/* Whether a valid header's records are of our feature vector. */
bool st_store_seg_hdr_ours(const struct st_store_seg_hdr *hdr);

/* Bytes of a whole frame of `tier` with our feature count. */
size_t st_store_seg_frame_bytes(enum st_store_tier tier);

/*
 * Encodes `rec` (its tier says which payload) as a frame into out, which
 * holds st_store_seg_frame_bytes(rec->tier) bytes; returns that size.
 */
size_t st_store_seg_frame_write(const struct st_store_record *rec, uint8_t *out);

/* What a scan found. */
struct st_store_seg_scan {
	uint64_t records;            /* frames accepted */
	uint64_t checksum_failures;  /* damaged stretches skipped before a good frame */
	uint64_t skipped_bytes;      /* bytes of those stretches */
	size_t valid_end;            /* offset just past the last accepted frame
				      * (the header's end when none) */
	size_t tail_bytes;           /* bytes after valid_end (no frame in them) */
};

/*
 * Called for each accepted frame, in file order: `off` is where the frame
 * starts in the buffer.  Return 0 to go on, anything else to stop the scan
 * (the scan then returns that value).
 */
typedef int (*st_store_seg_fn)(const struct st_store_record *rec, size_t off,
			       void *arg);

/*
 * The next accepted frame at or after *off (start at ST_STORE_SEG_HDR_BYTES)
 * in a segment whose header (already read into *hdr, one of ours) starts
 * buf[0..len): 1 with *rec filled, *frame_off where it starts and *off just
 * past it; 0 when none is left (*off is then len).  A damaged stretch
 * skipped before the frame adds one to *checksum_failures and its length
 * to *skipped_bytes.  Never reads outside buf[0..len); allocates nothing.
 */
int st_store_seg_next(const uint8_t *buf, size_t len,
		      const struct st_store_seg_hdr *hdr, size_t *off,
		      struct st_store_record *rec, size_t *frame_off,
		      uint64_t *checksum_failures, uint64_t *skipped_bytes);

/*
 * Scans the records of a segment whose header (already read into *hdr,
 * one of ours) starts buf[0..len).  Fills *out and calls fn (may be NULL)
 * for every accepted frame.  Returns 0, or what fn returned to stop.
 * Never reads outside buf[0..len); allocates nothing.
 */
int st_store_seg_scan(const uint8_t *buf, size_t len,
		      const struct st_store_seg_hdr *hdr, st_store_seg_fn fn,
		      void *arg, struct st_store_seg_scan *out);

#endif
