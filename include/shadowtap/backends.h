/*
 * The Backend Metrics record: what the data plane measured, for one epoch,
 * about every server endpoint ("backend": the broker or consumer a flow's
 * server side is) it saw traffic to or from: records and bytes, TCP
 * retransmissions and zero windows in each direction, and the latency of
 * requests matched with their responses (Kafka correlation id, MQTT
 * PUBLISH -> PUBACK; dataplane/codec/codec.h's st_latency).  These are the
 * control plane's reactive inputs (control/policy/policy.h,
 * st_policy_backend_metrics).  One record per epoch crosses the same
 * shared-memory ring as the Shadow Profiles (shadowtap/ring.h carries any
 * record; a reader tells the two apart by the magic), after the epoch's
 * profiles.  This header is the ABI between the two processes.
 *
 * Byte layout, ABI version 1.  Every integer is little-endian; every entry
 * starts at a multiple of 8 bytes from the record's start; readers assume
 * nothing about the buffer's own alignment (they copy fields with memcpy).
 *
 *   off   size  block
 *     0     64  header              struct st_backends_hdr
 *    64         entries, entry_count of them, back to back, to total size
 *
 * Header:
 *   off size field
 *     0    4 magic_le           ST_BACKENDS_MAGIC, the bytes "STBE"
 *     4    2 abi_version_le     ST_BACKENDS_ABI_VERSION
 *     6    2 hdr_bytes_le       64
 *     8    4 total_bytes_le     whole record, multiple of 8,
 *                               <= ST_BACKENDS_MAX_BYTES
 *    12    4 flags_le           ST_BACKENDS_F_*; unknown bits must be 0
 *    16    8 epoch_start_ns_le  ns since the Unix epoch
 *    24    8 epoch_ns_le        epoch length, > 0, start + length fits
 *    32    2 cores_merged_le    1..cores_expected
 *    34    2 cores_expected_le  PARTIAL is set iff merged < expected
 *    36    4 entry_count_le     0..ST_BACKENDS_ENTRIES_MAX
 *    40    8 overflow_le        packets and latency samples of endpoints
 *                               that found no room in a core's table (or
 *                               past ST_BACKENDS_ENTRIES_MAX at the merge):
 *                               counted here, in no entry
 *    48   16 reserved           0
 *
 * Entry: a fixed 128-byte part, then latency_len bytes of a quantile
 * sketch blob (shadowtap/sketch_blob.h, kind ST_SKETCH_QUANTILE, unsigned,
 * alpha ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS bins) of the
 * request -> response latencies in MICROSECONDS, then zeros up to the next
 * multiple of 8.  latency_len is 0 when the endpoint had no latency sample
 * this epoch.
 *   off size field
 *     0    1 family             4 or 6
 *     1    1 protocol           ST_PROFILE_PROTO_* (shadowtap/profile.h) of
 *                               the flows counted; UNKNOWN (0) allowed
 *     2    2 port_le            the server's TCP or UDP port, host number
 *     4    4 latency_len_le     bytes of the latency blob, 0..ST_BACKENDS_LATENCY_MAX_BYTES
 *     8   16 addr               the server's address, network byte order;
 *                               IPv4 in bytes 0..3, bytes 4..15 zero
 *    24    8 records_le         records decoded on flows to this endpoint
 *    32    8 record_bytes_le    their bytes
 *    40    8 packets_to_le      frames client -> server
 *    48    8 bytes_to_le        their frame bytes (st_pkt frame_len)
 *    56    8 packets_from_le    frames server -> client
 *    64    8 bytes_from_le
 *    72    8 retransmissions_to_le    TCP segments client -> server whose
 *                                     payload was entirely delivered or
 *                                     queued already (st_reasm duplicates)
 *    80    8 retransmissions_from_le  ... server -> client
 *    88    8 zero_windows_from_le     TCP segments from the server
 *                                     advertising a window of 0 (not SYN,
 *                                     FIN or RST, as Wireshark's
 *                                     tcp.analysis.zero_window): its
 *                                     receive buffer is full
 *    96    8 zero_windows_to_le       ... from the client
 *   104    8 flows_new_le       flows created in the epoch
 *   112    8 egress_records_le  deliveries to consumers (codec.h)
 *   120    8 reserved_le        0
 *   128      latency blob
 *
 * Entries are sorted strictly by (family, addr bytes, port, protocol),
 * no duplicates.  An entry may not be all zeros (every counter 0 and no
 * latency): an endpoint with nothing this epoch is left out.
 *
 * A record is canonical: for a given set of entries and meta there is
 * exactly one valid byte string; st_backends_build() of the entries that
 * st_backends_parse() returns gives the record back byte for byte.
 */
#ifndef SHADOWTAP_BACKENDS_H
#define SHADOWTAP_BACKENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ST_BACKENDS_MAGIC 0x45425453u  /* "STBE" as bytes, read little-endian */
#define ST_BACKENDS_ABI_VERSION 1u
#define ST_BACKENDS_HDR_BYTES 64u
#define ST_BACKENDS_ENTRY_BYTES 128u   /* fixed part of an entry */
#define ST_BACKENDS_ENTRIES_MAX 1024u
#define ST_BACKENDS_LATENCY_ALPHA 0.01
#define ST_BACKENDS_LATENCY_BINS 512u
#define ST_BACKENDS_LATENCY_MAX_BYTES 8192u
#define ST_BACKENDS_MAX_BYTES (1u << 22)

#define ST_BACKENDS_F_PARTIAL (1u << 0)  /* a core missed the merge */
#define ST_BACKENDS_F_KNOWN ST_BACKENDS_F_PARTIAL

struct st_backends_hdr {
	uint32_t magic_le;
	uint16_t abi_version_le;
	uint16_t hdr_bytes_le;
	uint32_t total_bytes_le;
	uint32_t flags_le;
	uint64_t epoch_start_ns_le;
	uint64_t epoch_ns_le;
	uint16_t cores_merged_le;
	uint16_t cores_expected_le;
	uint32_t entry_count_le;
	uint64_t overflow_le;
	uint8_t reserved[16];
};

_Static_assert(sizeof(struct st_backends_hdr) == ST_BACKENDS_HDR_BYTES, "header is 64 bytes");
_Static_assert(offsetof(struct st_backends_hdr, total_bytes_le) == 8, "total at 8");
_Static_assert(offsetof(struct st_backends_hdr, epoch_start_ns_le) == 16, "start at 16");
_Static_assert(offsetof(struct st_backends_hdr, cores_merged_le) == 32, "merged at 32");
_Static_assert(offsetof(struct st_backends_hdr, entry_count_le) == 36, "count at 36");
_Static_assert(offsetof(struct st_backends_hdr, overflow_le) == 40, "overflow at 40");

struct st_backends_entry_le {
	uint8_t family;
	uint8_t protocol;
	uint16_t port_le;
	uint32_t latency_len_le;
	uint8_t addr[16];
	uint64_t records_le;
	uint64_t record_bytes_le;
	uint64_t packets_to_le;
	uint64_t bytes_to_le;
	uint64_t packets_from_le;
	uint64_t bytes_from_le;
	uint64_t retransmissions_to_le;
	uint64_t retransmissions_from_le;
	uint64_t zero_windows_from_le;
	uint64_t zero_windows_to_le;
	uint64_t flows_new_le;
	uint64_t egress_records_le;
	uint64_t reserved_le;
};

_Static_assert(sizeof(struct st_backends_entry_le) == ST_BACKENDS_ENTRY_BYTES, "entry is 128 bytes");
_Static_assert(offsetof(struct st_backends_entry_le, addr) == 8, "addr at 8");
_Static_assert(offsetof(struct st_backends_entry_le, records_le) == 24, "records at 24");
_Static_assert(offsetof(struct st_backends_entry_le, retransmissions_to_le) == 72, "retx at 72");
_Static_assert(offsetof(struct st_backends_entry_le, zero_windows_from_le) == 88, "zwin at 88");
_Static_assert(offsetof(struct st_backends_entry_le, reserved_le) == 120, "reserved at 120");

/* One endpoint's figures, host order. */
struct st_backends_entry {
	uint8_t family;              /* 4 or 6 */
	uint8_t protocol;            /* ST_PROFILE_PROTO_* */
	uint16_t port;
	uint8_t addr[16];            /* network order; IPv4 in 0..3 */
	uint64_t records, record_bytes;
	uint64_t packets_to, bytes_to, packets_from, bytes_from;
	uint64_t retransmissions_to, retransmissions_from;
	uint64_t zero_windows_from, zero_windows_to;
	uint64_t flows_new, egress_records;
	/* The latency blob: into the parsed buffer after st_backends_parse;
	 * the caller's for st_backends_build.  NULL/0 when none. */
	const uint8_t *latency;
	uint32_t latency_len;
};

/* What the record says beyond its entries. */
struct st_backends_meta {
	uint64_t epoch_start_ns;
	uint64_t epoch_ns;
	uint16_t cores_merged;
	uint16_t cores_expected;
	uint32_t flags;              /* ST_BACKENDS_F_PARTIAL iff merged < expected */
	uint64_t overflow;
};

/*
 * A parsed record: the meta decoded, the entries reachable one by one
 * with st_backends_next() (their latency blobs point into buf, which
 * must outlive the view).
 */
struct st_backends_view {
	const uint8_t *buf;
	size_t len;
	struct st_backends_meta meta;
	uint32_t entry_count;
};

/* True when buf[0..len) starts with the record's magic (len >= 4); says
 * nothing of its validity.  For a ring reader telling records apart. */
bool st_backends_is_record(const void *buf, size_t len);

/*
 * Exact size of the record st_backends_build() would write, or -EINVAL
 * (meta invalid, an entry invalid, unsorted or repeated, more than
 * ST_BACKENDS_ENTRIES_MAX) or -E2BIG (over ST_BACKENDS_MAX_BYTES).
 */
ssize_t st_backends_size(const struct st_backends_entry *entries, size_t n,
			 const struct st_backends_meta *meta);

/*
 * Writes the record of entries[0..n) (sorted as the record wants them)
 * under meta into buf[0..cap).  Returns the bytes written
 * (== st_backends_size()), or -EINVAL (as st_backends_size, or a latency
 * blob that st_qs_validate() refuses or whose parameters are not the
 * record's), -E2BIG, -ENOSPC (cap too small; nothing useful written).
 * Thread safety: pure; any thread.
 */
ssize_t st_backends_build(const struct st_backends_entry *entries, size_t n,
			  const struct st_backends_meta *meta, void *buf, size_t cap);

/*
 * Validates the record in buf[0..len) completely (framing, header, every
 * entry, order, padding, reserved bytes, each latency blob) and fills
 * *view.  Returns 0, or -EINVAL (malformed), -EPROTO (right magic, another
 * ABI version), -E2BIG (over ST_BACKENDS_MAX_BYTES), with *why a static
 * reason in every error case; *view is zeroed on error.  Never reads
 * outside buf[0..len); len must equal the record's total size.
 * Thread safety: any thread; the buffer must not change during the call.
 */
int st_backends_parse(const void *buf, size_t len, struct st_backends_view *view,
		      const char **why);

/*
 * The entries of a view st_backends_parse() accepted, in record order:
 *     size_t pos = 0; struct st_backends_entry e;
 *     while (st_backends_next(view, &pos, &e) == 1) ...
 * Returns 1 with the next entry in *e (its latency points into the view's
 * buffer) and *pos moved past it, 0 at the end.  pos starts at 0 and is
 * the iterator's own.
 */
int st_backends_next(const struct st_backends_view *view, size_t *pos,
		     struct st_backends_entry *e);

#endif
