/*
 * The analysis of shadowtap-cp: the ONE place where a parsed Shadow Profile
 * becomes what the control plane knows about its stream, and where a
 * predictive signal is raised.  The daemon (control/cp/main.c) calls
 * st_analysis_process() once per profile read from the ring and reads the
 * per-stream state back for shadowctl, Prometheus and the event log.
 *
 * Per profile, in order:
 *   1. the stream's figures and history for the views (records/s, bytes/s,
 *      cardinality and top-1 share of key field 0, sparklines);
 *   2. features (control/features): the fixed vector, schema drift against
 *      the learnt baseline, the rate ticks' spectrum;
 *   3. the store (control/store): the profile's HLLs for windowed
 *      cardinalities, the vector into the feature history on disk;
 *   4. change evidence per watched feature: a CUSUM (control/detect) on
 *      every watched feature, a BOCPD on the record rate, the cardinality
 *      and the top-1 share of key field 0 (see evidence() for the mapping);
 *   5. the rate forecaster (control/models/forecast.h) and the horizon to
 *      the stream's capacity (config capacity_rps);
 *   6. the isolation forest (control/models), trained in the background on
 *      the stored history of every stream, scoring the vector;
 *   7. control/score: one score in [0,1], its causes and severity by the
 *      stream's criticality; a signal when the stream enters an episode
 *      (severity above none after ST_ANALYSIS_QUIET_EPOCHS quiet epochs),
 *      or within one when the severity rises or a cause is added.
 *
 * Memory: at most ST_ANALYSIS_STREAMS_MAX streams, each a fixed-size view
 * struct plus its detectors (about 60 KiB at the default R_max of 500 and
 * a day's season); a profile of a stream past the limit is counted
 * (streams_refused) and skipped.
 *
 * Thread safety: one thread owns a struct st_analysis (the daemon's loop);
 * no call may run concurrently with another on the same handle.  The
 * forest's trainer runs its own thread, which reads only the store.
 */
#ifndef ST_CONTROL_CP_ANALYSIS_H
#define ST_CONTROL_CP_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/config/config.h"
#include "shadowtap/profile.h"
#include "shadowtap/signal.h"

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
	/* the judgement of the latest epoch */
	double score;
	uint8_t severity;                /* enum st_severity */
	uint32_t causes;                 /* ST_SIGNAL_CAUSE_* */
	uint32_t detectors;              /* ST_SIGNAL_DET_* */
	double horizon_s;                /* < 0: no crossing within the horizon */
	double forecast_rps;             /* forecast at the horizon, NAN none */
	double iforest_score;            /* NAN: no model yet */
	uint8_t criticality;             /* enum st_criticality */
	double capacity_rps;             /* 0: none configured */
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

#define ST_ANALYSIS_QUIET_EPOCHS 5     /* epochs at severity none that end an episode */

/*
 * A new analysis with no streams, judging by cfg (thresholds, detectors,
 * retention; cfg must outlive the handle or be replaced with
 * st_analysis_reconfigure).  Its store lives in state_dir/history and its
 * model file is state_dir/iforest.model; the trainer thread starts here.
 * NULL with errno (ENOMEM, or the store's open errors) and a one-line
 * reason in err.
 */
struct st_analysis *st_analysis_create(const struct st_config *cfg,
				       const char *state_dir, char *err,
				       size_t err_len);

/* Frees everything; NULL is a no-op. */
void st_analysis_destroy(struct st_analysis *a);

/* Uses cfg from now on (SIGHUP reload): thresholds, criticality and
 * capacity apply from the next profile; the streams, their detectors, the
 * store and the model are kept (a retention or detector parameter change
 * takes effect at the next start).  Returns 0. */
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
 * The windowed estimates of s into out[0..max): returns how many it wrote.
 * cardinality_1m / _5m / _1h (key field 0: the store's merge of the
 * profiles in the window) with their lower and upper 3-sigma bounds and
 * the profiles merged, forecast_rps (the forecast at the horizon),
 * horizon_s, iforest_score, and the means of the history window.
 */
size_t st_analysis_estimates(const struct st_analysis *a,
			     const struct st_analysis_stream *s,
			     struct st_analysis_estimate *out, size_t max);

/* The multivariate model, for `shadowctl models`. */
struct st_analysis_model {
	uint32_t version;                /* 0: none yet */
	uint64_t trainings, failures;
	uint64_t last_train_ns, last_rows;
	uint32_t refresh_s;
	unsigned trees, sample;
	char last_error[160];            /* "" none */
	char load_error[160];            /* "" loaded or none to load */
	char path[ST_CONFIG_PATH_MAX + 32];
};

void st_analysis_model(const struct st_analysis *a, struct st_analysis_model *out);

/* Asks the trainer for a training now (asynchronous).  0 or -ESRCH. */
int st_analysis_retrain(struct st_analysis *a);

/* The store's statistics (shadowctl cp-status, Prometheus). */
struct st_store_stats;
void st_analysis_store_stats(const struct st_analysis *a, struct st_store_stats *out);

#endif
