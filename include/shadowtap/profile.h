/*
 * The Shadow Profile record: what the data plane knows about one stream for
 * one epoch, as it crosses the shared-memory ring to the control plane (and
 * as the control plane stores it).  It carries the seed's derived figures
 * (cardinality, skew, sizes, schema fingerprint) AND the mergeable sketches
 * they come from, so that profiles of several cores, epochs or hosts merge
 * exactly.  This header is the ABI between the two processes.
 *
 * Byte layout, ABI version 1.  Every integer is little-endian (the _le
 * suffix), every f64 an IEEE 754 binary64 stored little-endian.  Every
 * block and section starts at a multiple of 8 bytes from the record's
 * start; readers still assume nothing about the buffer's own alignment
 * (they copy fields out with memcpy).
 *
 *   off   size  block
 *     0    128  header             struct st_profile_hdr
 *   128    320  counters           struct st_profile_counters_le
 *   448    208  summary            struct st_profile_summary_le
 *   656         sections, section_count of them, back to back, to total size
 *
 * Header:
 *   off size field
 *     0    4 magic_le           ST_PROFILE_MAGIC, the bytes "STPF"
 *     4    2 abi_version_le     ST_PROFILE_ABI_VERSION
 *     6    2 hdr_bytes_le       128
 *     8    4 total_bytes_le     whole record, multiple of 8, <= ST_PROFILE_MAX_BYTES
 *    12    4 flags_le           ST_PROFILE_F_*; unknown bits must be 0
 *    16    8 stream_id_le       st_hash64() of the name's bytes (NUL excluded)
 *    24   64 stream_name        1..63 bytes of UTF-8, NUL, zeros to the end
 *    88    8 epoch_start_ns_le  ns since the Unix epoch
 *    96    8 epoch_ns_le        epoch length, > 0, start + length fits in 64 bits
 *   104    2 cores_merged_le    1..cores_expected
 *   106    2 cores_expected_le  PARTIAL is set iff merged < expected
 *   108    1 hash_id            ST_HASH_ID (shadowtap/hash_id.h)
 *   109    1 key_fields         1..ST_PROFILE_KEY_FIELDS_MAX
 *   110    1 numeric_fields     0..ST_PROFILE_NUMERIC_FIELDS_MAX
 *   111    1 protocol           ST_PROFILE_PROTO_*: what carried the stream
 *   112    8 hash_seed_le       ST_HASH_SEED
 *   120    2 section_count_le   sections that follow the summary
 *   122    6 reserved1          0
 *
 * Counters (u64 each; no cross-counter invariant is checked because none
 * holds in general: the data plane updates each one on its own path):
 *   off size field
 *     0    8 records_le
 *     8    8 bytes_le               record bytes
 *    16    8 packets_le
 *    24    8 flows_new_le
 *    32    8 flows_active_le
 *    40    8 reassembly_gaps_le
 *    48    8 kafka_overflow_le      Kafka records of a partition >= 64
 *    56    8 egress_records_le      records delivered to consumers (Kafka
 *                                 Fetch, MQTT PUBLISH from the broker,
 *                                 NATS MSG/HMSG): not in records_le
 *    64  128 parse_errors_le[16]    by reason (reasons: a later ABI note)
 *   192  128 drops_le[16]           by reason
 *
 * Summary (recomputed by the builder from the sketches; a reader checks
 * that it is exactly what the sketches give).  cardinality is
 * st_hll_estimate(); the four skew figures are st_hh_skew() of the key
 * field's heavy hitters given that estimate; the size quantiles are
 * st_qs_estimate() of the record-size sketch at ranks 0.5, 0.9, 0.99;
 * fingerprint and entries are st_schema_fingerprint() and st_schema_size().
 *   off size field
 *     0   32 cardinality_le[4]    HLL estimate of key field i, >= 0
 *    32   32 top1_share_le[4]     heavy hitters of key field i, [0,1]
 *    64   32 topk_share_le[4]     [0,1]
 *    96   32 entropy_norm_le[4]   [0,1]
 *   128   32 gini_le[4]           [0,1]
 *   160    8 kafka_imbalance_le   max/mean over partitions 0..n-1 of the
 *                                 Kafka section, in [1,n]; 0 with no section
 *   168    8 size_p50_le          record size quantiles, >= 0
 *   176    8 size_p90_le
 *   184    8 size_p99_le
 *   192    8 schema_fingerprint_le  (u64)
 *   200    4 schema_entries_le      (u32)
 *   204    4 reserved_le            0
 * Slots of key fields >= key_fields are 0.  A figure that has no data (an
 * empty sketch) is 0; NaN and infinities never appear.
 *
 * Section: an 8-byte header, `length` payload bytes, then zeros up to the
 * next multiple of 8 (so every section starts 8-byte aligned):
 *   off size field
 *     0    2 type_le     enum st_profile_section_type
 *     2    2 index_le    which one of that type (below)
 *     4    4 length_le   payload bytes, padding excluded
 *     8      payload
 * Sections are sorted by (type, index), strictly: no duplicates.  Which
 * must be present, with k = key_fields and q = numeric_fields:
 *   1 HLL      index 0..k-1           one per key field
 *   2 HEAVY    index 0..k-1           one per key field
 *   3 QUANTILE index 0 record size    unsigned sketch
 *              index 1..q             numeric field i-1, signed sketch
 *   4 SCHEMA   index 0                exactly once
 *   5 TICKS    index 0                exactly once
 *   6 KAFKA    index 0                optional: n = length/8 (1..64) u64
 *                                     record counts of partitions 0..n-1,
 *                                     the last one non-zero; absent when
 *                                     every partition count is 0
 *   7 NAMES    index 0                optional: k + q NUL-terminated names
 *                                     (key fields, then numeric fields),
 *                                     each a JSON pointer "/..." of
 *                                     1..ST_PROFILE_FIELD_NAME_MAX bytes
 *                                     of UTF-8 without control characters,
 *                                     or "@key": the protocol's own record
 *                                     key (the Kafka record key)
 * The payload of HLL..TICKS is a sketch blob (shadowtap/sketch_blob.h);
 * the section type equals the blob's kind.  All blobs of one type share
 * their parameters (precision, k, alpha, bins), and the ticks cover exactly
 * the header's epoch.
 *
 * A record is canonical: for a given sketch set and meta there is exactly
 * one valid byte string, and st_profile_build() of st_sset_from_profile()
 * of an accepted record gives the record back byte for byte.
 */
#ifndef SHADOWTAP_PROFILE_H
#define SHADOWTAP_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shadowtap/hash_id.h"

#define ST_PROFILE_MAGIC 0x46505453u  /* "STPF" as bytes, read little-endian */
#define ST_PROFILE_ABI_VERSION 1u
#define ST_PROFILE_MAX_BYTES (1u << 20)

/* Protocol codes (header byte 111); other values are rejected. */
#define ST_PROFILE_PROTO_UNKNOWN 0
#define ST_PROFILE_PROTO_KAFKA 1
#define ST_PROFILE_PROTO_MQTT 2
#define ST_PROFILE_PROTO_NATS 3
#define ST_PROFILE_PROTO_JSONL 4
#define ST_PROFILE_PROTO_MAX ST_PROFILE_PROTO_JSONL

#define ST_PROFILE_F_PARTIAL (1u << 0)  /* a core missed the merge */
#define ST_PROFILE_F_KNOWN ST_PROFILE_F_PARTIAL

#define ST_PROFILE_NAME_BYTES 64        /* the name field, NUL included */
#define ST_PROFILE_KEY_FIELDS_MAX 4
#define ST_PROFILE_NUMERIC_FIELDS_MAX 4
#define ST_PROFILE_REASONS 16           /* parse-error and drop reasons */
#define ST_PROFILE_KAFKA_PARTITIONS 64
#define ST_PROFILE_FIELD_NAME_MAX 255   /* bytes, NUL excluded */
#define ST_PROFILE_FIELD_RECORD_KEY "@key" /* key field name of the record key */
/* 1 ticks + 2k + (1 + q) + 1 schema + kafka + field names */
#define ST_PROFILE_SECTIONS_MAX                                               \
	(1 + 2 * ST_PROFILE_KEY_FIELDS_MAX + 1 +                              \
	 ST_PROFILE_NUMERIC_FIELDS_MAX + 1 + 1 + 1)

struct st_profile_hdr {
	uint32_t magic_le;
	uint16_t abi_version_le;
	uint16_t hdr_bytes_le;
	uint32_t total_bytes_le;
	uint32_t flags_le;
	uint64_t stream_id_le;
	char stream_name[ST_PROFILE_NAME_BYTES];
	uint64_t epoch_start_ns_le;
	uint64_t epoch_ns_le;
	uint16_t cores_merged_le;
	uint16_t cores_expected_le;
	uint8_t hash_id;
	uint8_t key_fields;
	uint8_t numeric_fields;
	uint8_t protocol;
	uint64_t hash_seed_le;
	uint16_t section_count_le;
	uint8_t reserved1[6];
};

_Static_assert(sizeof(struct st_profile_hdr) == 128, "header is 128 bytes");
_Static_assert(offsetof(struct st_profile_hdr, magic_le) == 0, "magic at 0");
_Static_assert(offsetof(struct st_profile_hdr, abi_version_le) == 4, "version at 4");
_Static_assert(offsetof(struct st_profile_hdr, hdr_bytes_le) == 6, "hdr size at 6");
_Static_assert(offsetof(struct st_profile_hdr, total_bytes_le) == 8, "total at 8");
_Static_assert(offsetof(struct st_profile_hdr, flags_le) == 12, "flags at 12");
_Static_assert(offsetof(struct st_profile_hdr, stream_id_le) == 16, "id at 16");
_Static_assert(offsetof(struct st_profile_hdr, stream_name) == 24, "name at 24");
_Static_assert(offsetof(struct st_profile_hdr, epoch_start_ns_le) == 88, "start at 88");
_Static_assert(offsetof(struct st_profile_hdr, epoch_ns_le) == 96, "length at 96");
_Static_assert(offsetof(struct st_profile_hdr, cores_merged_le) == 104, "merged at 104");
_Static_assert(offsetof(struct st_profile_hdr, cores_expected_le) == 106, "expected at 106");
_Static_assert(offsetof(struct st_profile_hdr, hash_id) == 108, "hash id at 108");
_Static_assert(offsetof(struct st_profile_hdr, key_fields) == 109, "key fields at 109");
_Static_assert(offsetof(struct st_profile_hdr, numeric_fields) == 110, "numeric at 110");
_Static_assert(offsetof(struct st_profile_hdr, protocol) == 111, "protocol at 111");
_Static_assert(offsetof(struct st_profile_hdr, hash_seed_le) == 112, "seed at 112");
_Static_assert(offsetof(struct st_profile_hdr, section_count_le) == 120, "sections at 120");
_Static_assert(offsetof(struct st_profile_hdr, reserved1) == 122, "reserved1 at 122");

struct st_profile_counters_le {
	uint64_t records_le;
	uint64_t bytes_le;
	uint64_t packets_le;
	uint64_t flows_new_le;
	uint64_t flows_active_le;
	uint64_t reassembly_gaps_le;
	uint64_t kafka_overflow_le;
	uint64_t egress_records_le;
	uint64_t parse_errors_le[ST_PROFILE_REASONS];
	uint64_t drops_le[ST_PROFILE_REASONS];
};

_Static_assert(sizeof(struct st_profile_counters_le) == 320, "counters are 320 bytes");
_Static_assert(offsetof(struct st_profile_counters_le, records_le) == 0, "records at 0");
_Static_assert(offsetof(struct st_profile_counters_le, bytes_le) == 8, "bytes at 8");
_Static_assert(offsetof(struct st_profile_counters_le, packets_le) == 16, "packets at 16");
_Static_assert(offsetof(struct st_profile_counters_le, flows_new_le) == 24, "flows new at 24");
_Static_assert(offsetof(struct st_profile_counters_le, flows_active_le) == 32, "active at 32");
_Static_assert(offsetof(struct st_profile_counters_le, reassembly_gaps_le) == 40, "gaps at 40");
_Static_assert(offsetof(struct st_profile_counters_le, kafka_overflow_le) == 48, "overflow at 48");
_Static_assert(offsetof(struct st_profile_counters_le, egress_records_le) == 56, "egress at 56");
_Static_assert(offsetof(struct st_profile_counters_le, parse_errors_le) == 64, "errors at 64");
_Static_assert(offsetof(struct st_profile_counters_le, drops_le) == 192, "drops at 192");

struct st_profile_summary_le {
	uint64_t cardinality_le[ST_PROFILE_KEY_FIELDS_MAX];
	uint64_t top1_share_le[ST_PROFILE_KEY_FIELDS_MAX];
	uint64_t topk_share_le[ST_PROFILE_KEY_FIELDS_MAX];
	uint64_t entropy_norm_le[ST_PROFILE_KEY_FIELDS_MAX];
	uint64_t gini_le[ST_PROFILE_KEY_FIELDS_MAX];
	uint64_t kafka_imbalance_le;
	uint64_t size_p50_le;
	uint64_t size_p90_le;
	uint64_t size_p99_le;
	uint64_t schema_fingerprint_le;
	uint32_t schema_entries_le;
	uint32_t reserved_le;
};

_Static_assert(sizeof(struct st_profile_summary_le) == 208, "summary is 208 bytes");
_Static_assert(offsetof(struct st_profile_summary_le, cardinality_le) == 0, "card at 0");
_Static_assert(offsetof(struct st_profile_summary_le, top1_share_le) == 32, "top1 at 32");
_Static_assert(offsetof(struct st_profile_summary_le, topk_share_le) == 64, "topk at 64");
_Static_assert(offsetof(struct st_profile_summary_le, entropy_norm_le) == 96, "entropy at 96");
_Static_assert(offsetof(struct st_profile_summary_le, gini_le) == 128, "gini at 128");
_Static_assert(offsetof(struct st_profile_summary_le, kafka_imbalance_le) == 160, "kafka at 160");
_Static_assert(offsetof(struct st_profile_summary_le, size_p50_le) == 168, "p50 at 168");
_Static_assert(offsetof(struct st_profile_summary_le, size_p90_le) == 176, "p90 at 176");
_Static_assert(offsetof(struct st_profile_summary_le, size_p99_le) == 184, "p99 at 184");
_Static_assert(offsetof(struct st_profile_summary_le, schema_fingerprint_le) == 192, "fp at 192");
_Static_assert(offsetof(struct st_profile_summary_le, schema_entries_le) == 200, "entries at 200");
_Static_assert(offsetof(struct st_profile_summary_le, reserved_le) == 204, "reserved at 204");

enum st_profile_section_type {
	ST_PROFILE_SEC_HLL = 1,          /* = ST_SKETCH_HLL */
	ST_PROFILE_SEC_HEAVY = 2,        /* = ST_SKETCH_HEAVY */
	ST_PROFILE_SEC_QUANTILE = 3,     /* = ST_SKETCH_QUANTILE */
	ST_PROFILE_SEC_SCHEMA = 4,       /* = ST_SKETCH_SCHEMA */
	ST_PROFILE_SEC_TICKS = 5,        /* = ST_SKETCH_TICKS */
	ST_PROFILE_SEC_KAFKA = 6,        /* u64 record counts per partition */
	ST_PROFILE_SEC_FIELD_NAMES = 7,  /* NUL-terminated JSON pointers */
};

struct st_profile_section {
	uint16_t type_le;
	uint16_t index_le;
	uint32_t length_le;
};

_Static_assert(sizeof(struct st_profile_section) == 8, "section header is 8 bytes");
_Static_assert(offsetof(struct st_profile_section, type_le) == 0, "type at 0");
_Static_assert(offsetof(struct st_profile_section, index_le) == 2, "index at 2");
_Static_assert(offsetof(struct st_profile_section, length_le) == 4, "length at 4");

#define ST_PROFILE_HDR_OFF 0u
#define ST_PROFILE_COUNTERS_OFF 128u
#define ST_PROFILE_SUMMARY_OFF 448u
#define ST_PROFILE_SECTIONS_OFF 656u

_Static_assert(ST_PROFILE_COUNTERS_OFF == sizeof(struct st_profile_hdr), "counters follow the header");
_Static_assert(ST_PROFILE_SUMMARY_OFF ==
	       ST_PROFILE_COUNTERS_OFF + sizeof(struct st_profile_counters_le),
	       "summary follows the counters");
_Static_assert(ST_PROFILE_SECTIONS_OFF ==
	       ST_PROFILE_SUMMARY_OFF + sizeof(struct st_profile_summary_le),
	       "sections follow the summary");
_Static_assert(ST_PROFILE_SECTIONS_OFF % 8 == 0, "sections start 8-byte aligned");
_Static_assert(ST_PROFILE_MAX_BYTES % 8 == 0, "maximum size is a multiple of 8");

/*
 * The API over the record (libshadowtap; both processes link it).
 */

struct st_sset;  /* dataplane/sketch/sset.h */

/* The plain counters, host order: the counters block plus the Kafka
 * section decoded.  The sketch set keeps one (st_sset_counters()). */
struct st_profile_counters {
	uint64_t records;
	uint64_t bytes;
	uint64_t packets;
	uint64_t flows_new;
	uint64_t flows_active;
	uint64_t reassembly_gaps;
	uint64_t parse_errors[ST_PROFILE_REASONS];
	uint64_t drops[ST_PROFILE_REASONS];
	uint64_t kafka_partition[ST_PROFILE_KAFKA_PARTITIONS];  /* records */
	uint64_t kafka_overflow;  /* records of partitions outside the table */
	uint64_t egress_records;  /* deliveries to consumers, not records */
};

/* The summary block, host order. */
struct st_profile_summary {
	double cardinality[ST_PROFILE_KEY_FIELDS_MAX];
	double top1_share[ST_PROFILE_KEY_FIELDS_MAX];
	double topk_share[ST_PROFILE_KEY_FIELDS_MAX];
	double entropy_norm[ST_PROFILE_KEY_FIELDS_MAX];
	double gini[ST_PROFILE_KEY_FIELDS_MAX];
	double kafka_imbalance;
	double size_p50, size_p90, size_p99;
	uint64_t schema_fingerprint;
	uint32_t schema_entries;
};

/* What the record says beyond the sketch set. */
struct st_profile_meta {
	const char *name;           /* 1..63 bytes of UTF-8, no control chars */
	uint64_t epoch_start_ns;    /* must equal the set's (st_sset_epoch_start_ns) */
	uint64_t epoch_ns;          /* must equal the set's configured epoch */
	uint16_t cores_merged;      /* 1..cores_expected */
	uint16_t cores_expected;
	uint32_t flags;             /* ST_PROFILE_F_PARTIAL iff merged < expected */
	uint8_t protocol;           /* ST_PROFILE_PROTO_* */
	/* Optional FIELD_NAMES section: all NULL for none, else one name per
	 * key field and per numeric field of the set (JSON pointers). */
	const char *key_field_names[ST_PROFILE_KEY_FIELDS_MAX];
	const char *numeric_field_names[ST_PROFILE_NUMERIC_FIELDS_MAX];
};

/* A payload inside the record: pointer into the parsed buffer, bytes. */
struct st_profile_blob {
	const uint8_t *data;        /* NULL when the section is absent */
	uint32_t len;
};

/*
 * A parsed record.  Header, counters and summary are decoded into host
 * order; the sketch blobs, the stream name and the field names point into
 * the caller's buffer, which must outlive the view.
 */
struct st_profile_view {
	const uint8_t *buf;
	size_t len;
	struct st_profile_meta meta;   /* name/field names point into buf */
	uint64_t stream_id;
	unsigned key_fields;
	unsigned numeric_fields;
	unsigned kafka_partitions;     /* entries of the Kafka section, 0 if none */
	struct st_profile_counters counters;
	struct st_profile_summary summary;
	struct st_profile_blob ticks;
	struct st_profile_blob hll[ST_PROFILE_KEY_FIELDS_MAX];
	struct st_profile_blob heavy[ST_PROFILE_KEY_FIELDS_MAX];
	struct st_profile_blob size_qs;
	struct st_profile_blob numeric_qs[ST_PROFILE_NUMERIC_FIELDS_MAX];
	struct st_profile_blob schema;
};

/*
 * Exact size of the record st_profile_build() would write for this set and
 * meta: bytes, or -EINVAL (meta invalid or inconsistent with the set) or
 * -E2BIG (the record would exceed ST_PROFILE_MAX_BYTES).
 * Thread safety: reads the set; call from the thread that owns it.
 */
ssize_t st_profile_size(const struct st_sset *set,
			const struct st_profile_meta *meta);

/*
 * Writes the record of `set` under `meta` into buf[0..cap).  Returns the
 * bytes written (== st_profile_size()), or
 *   -EINVAL  meta invalid (name, cores/flags, field names) or its epoch is
 *            not the set's,
 *   -E2BIG   the record would exceed ST_PROFILE_MAX_BYTES,
 *   -ENOSPC  cap is smaller than the record (nothing useful written),
 *   -ENOMEM  the transient heavy-hitter copies could not be allocated,
 *   -EIO     a sketch serializer disagreed with its own size or blob (a bug).
 * The summary block is recomputed here from the sketches, the skew figures
 * from heavy-hitter copies deserialized from the record's own blobs (the
 * state a reader will hold: a sketch's figures may depend, in their last
 * bits, on the order of its counters in memory, which a blob does not keep).
 * Allocates one transient heavy-hitter sketch per key field.
 * Thread safety: reads the set; call from the thread that owns it.
 */
ssize_t st_profile_build(const struct st_sset *set,
			 const struct st_profile_meta *meta,
			 void *buf, size_t cap);

/*
 * Validates the record in buf[0..len) completely and fills *view.
 * Returns 0, or
 *   -EINVAL  malformed (anything: framing, a field out of range, reserved
 *            bytes, padding, name, hash, section order, a bad blob, a
 *            summary that is not what the sketches give ...),
 *   -EPROTO  the magic is right but the ABI version is not ours,
 *   -E2BIG   len or the record's total size exceeds ST_PROFILE_MAX_BYTES,
 *   -ENOMEM  the transient sketches used to check the summary could not be
 *            allocated,
 * with *why set to a static reason string in every error case.  Never reads
 * outside buf[0..len); len must equal the record's total size.  On error
 * *view is zeroed.  Allocates transiently (the sketches are deserialized to
 * recompute the summary) and frees before returning.
 * Thread safety: any thread; the buffer must not change during the call.
 */
int st_profile_parse(const void *buf, size_t len, struct st_profile_view *view,
		     const char **why);

/*
 * A new sketch set holding the sketches, counters and epoch of a parsed
 * record (for the control plane to merge or query).  NULL with errno EINVAL
 * (and *why; the view was not from a successful st_profile_parse) or ENOMEM.
 * The set is independent of the buffer.  Destroy with st_sset_destroy().
 */
struct st_sset *st_sset_from_profile(const struct st_profile_view *view,
				     const char **why);

#endif
