/*
 * The analysis seam of shadowtap-cp: the ONE place where a parsed Shadow
 * Profile becomes what the control plane knows about its stream, and where
 * a predictive signal may be raised.  The daemon (control/cp/cp.c) calls
 * st_analysis_process() once per profile read from the ring and reads the
 * per-stream state back for shadowctl, Prometheus and the event log.
 *
 * THIS VERSION RAISES NO SIGNALS: every stream's score is 0 and its
 * severity ST_SEVERITY_NONE.  It keeps, per stream, the figures shadowctl
 * shows (records/s, bytes/s, cardinality and top-1 share of key field 0,
 * schema fingerprint, partial flags, last epoch), cumulative counters, the
 * latest profile's counters and summary, and a history of the last
 * ST_ANALYSIS_HISTORY epochs of rate and cardinality (sparklines).  The
 * features (control/features), the store, the detectors and the models are
 * integrated INSIDE st_analysis_process() later: the signature, the stream
 * state and st_analysis_estimates() are the interface the rest of the
 * daemon depends on.
 *
 * Memory: at most ST_ANALYSIS_STREAMS_MAX streams, each a fixed-size
 * struct allocated when the stream is first seen; a profile of a stream
 * past the limit is counted (streams_refused) and skipped.
 *
 * Thread safety: one thread owns a struct st_analysis (the daemon's loop);
 * no call may run concurrently with another on the same handle.
 */
#ifndef ST_CONTROL_CP_ANALYSIS_H
#define ST_CONTROL_CP_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shadowtap/profile.h"
#include "shadowtap/signal.h"

struct st_config;

#define ST_ANALYSIS_HISTORY 120        /* epochs of rate/cardinality kept */
#define ST_ANALYSIS_STREAMS_MAX 16384
#define ST_ANALYSIS_ESTIMATES_MAX 16   /* named estimates per stream */

/* One stream as the control plane sees it.  Read-only for callers. */
struct st_analysis_stream {
	char name[ST_PROFILE_NAME_BYTES];
	uint64_t stream_id;
	uint8_t protocol;                /* ST_PROFILE_PROTO_* */
	/* the latest epoch */
	uint64_t last_epoch_start_ns;
	uint64_t last_epoch_ns;
	uint64_t last_seen_ns;           /* now_ns of the latest process() */
	double records_per_s;
	double bytes_per_s;
	double cardinality;              /* key field 0's HLL estimate */
	double top1_share;               /* key field 0's top-1 share */
	uint64_t schema_fingerprint;
	uint32_t schema_entries;
	uint32_t flags;                  /* latest profile's ST_PROFILE_F_* */
	uint16_t cores_merged, cores_expected;
	unsigned key_fields, numeric_fields;
	char key_field_names[ST_PROFILE_KEY_FIELDS_MAX][ST_PROFILE_FIELD_NAME_MAX + 1];
	char numeric_field_names[ST_PROFILE_NUMERIC_FIELDS_MAX][ST_PROFILE_FIELD_NAME_MAX + 1];
	struct st_profile_counters counters;  /* latest profile's */
	struct st_profile_summary summary;    /* latest profile's */
	/* since the stream was first seen */
	uint64_t epochs;
	uint64_t partial_epochs;
	uint64_t records_total;
	uint64_t bytes_total;
	uint64_t schema_changes;         /* epochs whose fingerprint differed
					  * from the previous epoch's */
	uint64_t signals;                /* raised for this stream */
	/* the judgement (0 / NONE in this version) */
	double score;
	uint8_t severity;                /* enum st_severity */
	/* history, a ring: entry (history_next - history_len + i) mod N is
	 * the i-th oldest; use st_analysis_history() */
	unsigned history_len, history_next;
	float rate_history[ST_ANALYSIS_HISTORY];
	float cardinality_history[ST_ANALYSIS_HISTORY];
};

/* A named windowed estimate (e.g. "cardinality_5m"), for `profile STREAM`. */
struct st_analysis_estimate {
	const char *name;                /* static string */
	double value;
};

struct st_analysis;

/*
 * A new analysis with no streams, judging by cfg (thresholds, detectors;
 * the seam reads nothing from it in this version; cfg must outlive the
 * handle or be replaced with st_analysis_reconfigure).  NULL with errno
 * ENOMEM.
 */
struct st_analysis *st_analysis_create(const struct st_config *cfg);

/* Frees everything; NULL is a no-op. */
void st_analysis_destroy(struct st_analysis *a);

/* Uses cfg from now on (SIGHUP reload); the streams and their history are
 * kept.  Returns 0. */
int st_analysis_reconfigure(struct st_analysis *a, const struct st_config *cfg);

/*
 * Takes one parsed profile (v from a successful st_profile_parse; nothing
 * of it is kept after the call) at now_ns (CLOCK_REALTIME ns).  Sets
 * *raised, and when true fills *sig_out with the signal to log and push.
 * Returns 0, or -ENOSPC (a new stream past ST_ANALYSIS_STREAMS_MAX: skipped,
 * counted in streams_refused), -ENOMEM (a new stream's state could not be
 * allocated: skipped).  *raised is false on error.
 */
int st_analysis_process(struct st_analysis *a, const struct st_profile_view *v,
			uint64_t now_ns, struct st_signal *sig_out, bool *raised);

/* Streams known, in the order first seen; stream_at(i) is NULL past the end. */
size_t st_analysis_stream_count(const struct st_analysis *a);
const struct st_analysis_stream *st_analysis_stream_at(const struct st_analysis *a,
							size_t i);
/* The stream named `name`, or NULL. */
const struct st_analysis_stream *st_analysis_find(const struct st_analysis *a,
						  const char *name);

/* Profiles refused because the stream table was full. */
uint64_t st_analysis_streams_refused(const struct st_analysis *a);

/*
 * The i-th oldest history entry (i < s->history_len) of rate (records/s)
 * and cardinality.  Returns 0, -ERANGE when i is out of range.
 */
int st_analysis_history(const struct st_analysis_stream *s, unsigned i,
			double *rate, double *cardinality);

/*
 * The windowed estimates the analysis keeps for s, into out[0..max):
 * returns how many it wrote.  THE PLACE for windowed merges (cardinality
 * over 1 min / 5 min / 1 h from the store) once they exist; this version
 * gives the means of the history window ("records_per_s_mean",
 * "cardinality_mean") and the window's length in epochs.
 */
size_t st_analysis_estimates(const struct st_analysis *a,
			     const struct st_analysis_stream *s,
			     struct st_analysis_estimate *out, size_t max);

#endif
