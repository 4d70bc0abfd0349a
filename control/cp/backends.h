/*
 * Per-backend reactive metrics in shadowtap-cp: what the data plane's
 * Backend Metrics record (shadowtap/backends.h, one per epoch on the ring,
 * after the epoch's profiles) says about each backend of the config.
 *
 * Mapping.  An entry of the record is a server endpoint (family, address,
 * port, protocol).  It belongs to the config's backend whose `address` has
 * the same family and address (the config gives no port, so every port of
 * that address counts; two backends with one address: the first in file
 * order).  The entries of one backend are summed; an endpoint that matches
 * no backend is kept apart, for display only ("unmatched"), at most
 * ST_CP_BACKENDS_UNMATCHED_MAX of them (the rest are counted in
 * unmatched_dropped).
 *
 * Figures of the latest epoch, per backend (the record's epoch_ns is the
 * time base; E = epoch_ns / 1e9 s):
 *   records_per_s          = records / E
 *   bytes_per_s            = (bytes_to + bytes_from) / E   (frame bytes)
 *   retransmissions_per_s  = (retransmissions_to + retransmissions_from) / E
 *   zero_windows_per_s     = zero_windows_from / E  (the backend's own zero
 *                            windows: its receive buffer is full)
 *   latency_p99_ms         = the 0.99 quantile of the merged latency
 *                            sketches (DDSketch merges are exact), µs / 1000;
 *                            NAN when the epoch had no latency sample.
 * A backend with no entry in the epoch's record had no traffic: its
 * figures are 0 (latency NAN).  Totals since start are kept beside, per
 * backend (across a config change, for a backend of the same name).
 *
 * Use: st_cp_backends_take() of a parsed record, or by hand
 * st_cp_backends_begin() with the record's meta, st_cp_backends_add() for
 * every entry (in any order), st_cp_backends_end(); then the latest epoch
 * is published (readers see the previous one until end).
 *
 * Memory: fixed at create (ST_CONFIG_BACKENDS_MAX backend rows and
 * ST_CP_BACKENDS_UNMATCHED_MAX endpoint rows, twice: building and
 * published) plus, while an epoch is being built, one latency sketch per
 * row that has samples, freed at end.  Nothing grows from epoch to epoch.
 *
 * Thread safety: the daemon's loop only (one thread).
 */
#ifndef ST_CONTROL_CP_BACKENDS_H
#define ST_CONTROL_CP_BACKENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/config/config.h"
#include "control/policy/policy.h"
#include "shadowtap/backends.h"

#define ST_CP_BACKENDS_UNMATCHED_MAX 64u

/* What one epoch says of a backend or an endpoint. */
struct st_cp_backend_figures {
	unsigned entries;               /* endpoints summed */
	uint64_t records, record_bytes;
	uint64_t packets_to, bytes_to, packets_from, bytes_from;
	uint64_t retransmissions_to, retransmissions_from;
	uint64_t zero_windows_from, zero_windows_to;
	uint64_t flows_new, egress_records;
	uint64_t latency_samples;       /* in the merged sketch */
	double records_per_s, bytes_per_s, retransmissions_per_s, zero_windows_per_s;
	double latency_p99_ms;          /* NAN: no sample */
};

/* Sums since start, kept across st_cp_backends_reconfigure() for a
 * backend of the same name; a late core's PARTIAL record counts here
 * (not in the epoch's figures, which were judged without it). */
struct st_cp_backend_totals {
	uint64_t epochs;                /* records that listed it */
	uint64_t records, record_bytes, packets_to, packets_from, bytes_to, bytes_from;
	uint64_t retransmissions, zero_windows_from, latency_samples;
};

/* A backend of the config. */
struct st_cp_backend_row {
	char name[ST_CONFIG_NAME_BYTES];
	char pool[ST_CONFIG_NAME_BYTES];
	struct st_config_addr address;
	struct st_cp_backend_figures latest;
	struct st_cp_backend_totals totals;
};

/* An endpoint that matched no backend. */
struct st_cp_endpoint_row {
	uint8_t family, protocol;       /* 4 or 6; ST_PROFILE_PROTO_* */
	uint16_t port;
	uint8_t addr[16];               /* network order, IPv4 in 0..3 */
	struct st_cp_backend_figures latest;
};

/* The latest epoch's record. */
struct st_cp_backends_epoch {
	bool valid;                     /* false until a first record ended */
	struct st_backends_meta meta;
	uint32_t entries;               /* entries of the record */
};

struct st_cp_backends_stats {
	uint64_t epochs;                /* records taken (end called) */
	uint64_t entries, entries_matched;
	uint64_t unmatched_dropped;     /* endpoints past the unmatched rows */
	uint64_t latency_bad;           /* blobs that would not deserialize or
					 * merge: the entry counts, its latency
					 * not */
	uint64_t out_of_order;          /* add outside begin/end, or an epoch
					 * not after the latest: ignored */
	uint64_t late_partial;          /* PARTIAL records of an epoch already
					 * taken (a late core's share): into
					 * the totals only */
};

struct st_cp_backends;

/* The module over cfg's backends (copied).  NULL with errno ENOMEM. */
struct st_cp_backends *st_cp_backends_create(const struct st_config *cfg);
/* NULL is a no-op. */
void st_cp_backends_destroy(struct st_cp_backends *b);
/* A new config: its backends replace the old (the figures start over). */
void st_cp_backends_reconfigure(struct st_cp_backends *b, const struct st_config *cfg);

/*
 * Starts an epoch with the record's meta (st_backends_parse's).  Returns
 * 0, or -EINVAL (epoch_ns 0, or meta NULL), -EALREADY (its epoch does not
 * start after the latest published one: a duplicate or an older record,
 * counted in out_of_order and ignored until the next begin).
 */
int st_cp_backends_begin(struct st_cp_backends *b, const struct st_backends_meta *meta);

/*
 * Adds one entry of the epoch begun (its latency blob is read during the
 * call only).  Returns 0, -ENOENT (unmatched and no endpoint row left:
 * counted), -EBADMSG (a latency blob refused: counted, the rest of the
 * entry counts), -ESRCH (no epoch begun), -EINVAL (family not 4 or 6).
 */
int st_cp_backends_add(struct st_cp_backends *b, const struct st_backends_entry *e);

/* Ends the epoch: computes the rates and publishes it.  No-op without a
 * begun epoch. */
void st_cp_backends_end(struct st_cp_backends *b);

/*
 * begin, add of every entry, end, for a record st_backends_parse()
 * accepted.  Returns begin's result (0, -EINVAL, -EALREADY: nothing
 * taken); an entry's add error is counted and the others are taken.
 * A PARTIAL record of an epoch already taken (a late core's share) goes
 * into the totals only, counted in late_partial, and returns -EALREADY.
 */
int st_cp_backends_take(struct st_cp_backends *b, const struct st_backends_view *v);

/* The latest published epoch, and its rows (valid until the next end or
 * reconfigure). */
const struct st_cp_backends_epoch *st_cp_backends_latest(const struct st_cp_backends *b);
size_t st_cp_backends_count(const struct st_cp_backends *b);
const struct st_cp_backend_row *st_cp_backends_at(const struct st_cp_backends *b, size_t i);
size_t st_cp_backends_unmatched_count(const struct st_cp_backends *b);
const struct st_cp_endpoint_row *st_cp_backends_unmatched_at(const struct st_cp_backends *b,
							     size_t i);
void st_cp_backends_stats(const struct st_cp_backends *b, struct st_cp_backends_stats *out);

/*
 * The policy's reactive inputs: when the latest published epoch starts in
 * [from_ns, to_ns), fills out[0..max) with one entry per config backend
 * (backend = its index) and returns the count; else 0 (no figures for
 * that span: the policy gets none).  Pure read.
 */
size_t st_cp_backends_policy_metrics(const struct st_cp_backends *b, uint64_t from_ns,
				     uint64_t to_ns, struct st_policy_backend_metrics *out,
				     size_t max);

/* "192.0.2.1" or "2001:db8::1" of family 4/6 and addr; "?" otherwise. */
void st_cp_backends_addr_text(uint8_t family, const uint8_t addr[16], char *out,
			      size_t out_len);

#endif
