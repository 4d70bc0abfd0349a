/*
 * Features: what the control plane reads from one stream's Shadow Profile
 * for one epoch, as a fixed vector of doubles.  The detectors, the models
 * and the store all see a stream through this vector, so its layout is
 * fixed here: a feature is added at the end (ST_FEATURES_VERSION goes up,
 * and models trained on an older vector are retrained).
 *
 * Every value is finite; a feature with no data in the epoch is 0 and its
 * bit in `missing` is set (the detectors skip it, not treat it as a drop to
 * zero).
 */
#ifndef ST_CONTROL_FEATURES_H
#define ST_CONTROL_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/sketch/schema.h"
#include "shadowtap/profile.h"

#define ST_FEATURES_VERSION 1u

enum st_feature_id {
	ST_FEAT_LOG_RECORD_RATE = 0, /* ln(1 + records/s) */
	ST_FEAT_LOG_BYTE_RATE,       /* ln(1 + record bytes/s) */
	ST_FEAT_LOG_CARD_0,          /* ln(1 + HLL estimate) of key field 0..3 */
	ST_FEAT_LOG_CARD_1,
	ST_FEAT_LOG_CARD_2,
	ST_FEAT_LOG_CARD_3,
	ST_FEAT_TOP1_SHARE_0,        /* top-1 share of key field 0..3, [0,1] */
	ST_FEAT_TOP1_SHARE_1,
	ST_FEAT_TOP1_SHARE_2,
	ST_FEAT_TOP1_SHARE_3,
	ST_FEAT_ENTROPY_0,           /* normalised entropy of key field 0, [0,1] */
	ST_FEAT_GINI_0,              /* Gini of key field 0, [0,1] */
	ST_FEAT_KAFKA_IMBALANCE,     /* max/mean over partitions, >= 1; 0 none */
	ST_FEAT_LOG_SIZE_P99,        /* ln(1 + p99 record size in bytes) */
	ST_FEAT_SCHEMA_CHANGED,      /* 1 when the fingerprint is not the baseline's
				      * (judged entry by entry: below) */
	ST_FEAT_SCHEMA_DRIFT,        /* (new + missing + type-changed) / fields in
				      * baseline and epoch together, [0,1] */
	ST_FEAT_PARSE_ERROR_RATE,    /* parse errors / (records + parse errors) */
	ST_FEAT_DOMINANT_PERIOD_S,   /* period of the strongest non-DC bin of
				      * the rate ticks' spectrum, seconds */
	ST_FEAT_SPECTRAL_FLATNESS,   /* geometric / arithmetic mean of the power
				      * spectrum (DC excluded), [0,1] */
	ST_FEAT_SPECTRAL_DISTANCE,   /* distance of the normalised spectrum to
				      * the stream's baseline spectrum, [0,1] */
	ST_FEAT_COUNT
};

#define ST_FEAT_F_PARTIAL (1u << 0)  /* from a PARTIAL profile */

/* One stream, one epoch. */
struct st_features {
	uint64_t stream_id;
	uint64_t epoch_start_ns;
	uint64_t epoch_ns;
	uint32_t flags;              /* ST_FEAT_F_* */
	uint32_t missing;            /* bit i: feature i had no data */
	double v[ST_FEAT_COUNT];
};

_Static_assert(ST_FEAT_COUNT <= 32, "missing is a 32-bit mask");

/* "log_record_rate", ...: a stable name per feature (JSON, Prometheus,
 * model files); NULL when id is out of range. */
const char *st_feature_name(enum st_feature_id id);

/*
 * ---- Per-stream feature state ----
 *
 * One stream's features need memory of its past: the baseline spectrum
 * and the learned schema.  A struct st_featstate holds it; the daemon keeps
 * one per stream and feeds it each epoch's parsed profile in epoch order.
 *
 * What each feature is, from one profile (epoch_s = epoch_ns / 1e9, R the
 * records counter):
 *   LOG_RECORD_RATE  ln(1 + R / epoch_s); never missing (0 records is data)
 *   LOG_BYTE_RATE    ln(1 + bytes / epoch_s); never missing
 *   LOG_CARD_i       ln(1 + summary cardinality[i]); missing for
 *                    i >= key_fields (an empty HLL of a present field is a
 *                    real 0 distinct keys, not missing)
 *   TOP1_SHARE_i     summary top1_share[i]; missing for i >= key_fields or
 *                    when field i's heavy-hitter sketch saw nothing (N = 0)
 *   ENTROPY_0, GINI_0  summary entropy_norm[0], gini[0]; missing when key
 *                    field 0's heavy-hitter sketch saw nothing
 *   KAFKA_IMBALANCE  summary kafka_imbalance; missing unless the protocol is
 *                    Kafka and the profile has a Kafka section
 *   LOG_SIZE_P99     ln(1 + summary size_p99); missing when the size sketch
 *                    holds no value
 *   SCHEMA_CHANGED, SCHEMA_DRIFT  against the learned schema (below);
 *                    missing while the baseline is learned and in epochs
 *                    with R = 0
 *   PARSE_ERROR_RATE E / (R + E), E the sum of parse_errors[]; missing when
 *                    R + E = 0
 *   DOMINANT_PERIOD_S, SPECTRAL_FLATNESS, SPECTRAL_DISTANCE  of the rate
 *                    ticks (control/features/spectrum.h: mean removed, FFT,
 *                    power; flatness over bands of 4 bins; Hellinger
 *                    distance).  All three missing when the profile has
 *                    fewer than ST_FEATURES_SPECTRUM_TICKS_MIN ticks or the
 *                    ticks hold fewer than spectrum_min_records records;
 *                    the period is missing when the spectrum is zero (a
 *                    constant rate; its flatness is then 1); the distance
 *                    is missing when the spectrum is zero or there is no
 *                    baseline yet (first usable epoch, or the tick count
 *                    changed, which restarts the baseline).
 * The stream's baseline spectrum b is the exponentially weighted mean of
 * its normalised tick spectra: the first usable epoch sets b = p, each
 * later one b = (1 - a) b + a p with a = spectrum_alpha, AFTER its distance
 * H(p, b) was taken (an epoch is compared with the past only).  A stream
 * whose rate is white noise does not sit at 0 but near H = 0.34: the raw
 * bins of a periodogram scatter as exponentials around a smooth baseline,
 * so H^2 tends to 1 - E[sqrt(Exp(1))] = 1 - sqrt(pi)/2 (0.335 measured on
 * Poisson ticks of 100 x 10 ms).  A steady periodic rate sits near 0, a
 * changed period near 1; the detectors judge changes of H, not its level.
 *
 * Schema drift.  The baseline is a table of JSON paths, each with a type
 * mask and a share (expected occurrences per record), kept sorted by path
 * hash beside the schema sketch's own order, so an epoch is judged in one
 * merge walk.
 *   Learning: the first schema_learn_epochs epochs with R > 0 build it:
 *   every path seen joins with the OR of its types; its share is the mean
 *   over those epochs of count / R.  Nothing is judged meanwhile.
 *   Judging (each later epoch with R > 0), for a path of the epoch or the
 *   baseline, with count its occurrences in the epoch:
 *     NEW      in the epoch, not in the baseline;
 *     RETYPED  in both, and the epoch's type mask has a bit the baseline's
 *              lacks (a type seen before and absent now is not judged: a
 *              low rate may just not show it);
 *     MISSING  in the baseline, absent from the epoch although
 *              share * R >= schema_min_expected and the epoch's schema
 *              sketch did not overflow.  Optional fields are why: a field
 *              in a fraction q of records is absent from R records with
 *              probability (1 - q)^R <= exp(-share R), so at the default
 *              12 a present field is wrongly called missing less than
 *              once in 160,000 epochs, and a field too rare to be expected
 *              is not judged at all (neither missing nor present).
 *   SCHEMA_CHANGED = 1 when at least one path is judged; SCHEMA_DRIFT =
 *   judged paths / (baseline paths + new paths), 0 when both are empty.
 *   Following: a path must disagree in schema_follow_epochs (M)
 *   consecutive judged epochs before the baseline follows, so a change is
 *   reported M times and then absorbed: a NEW path present in M epochs
 *   joins (its mask the OR of what was seen); a MISSING path judged missing
 *   M times leaves; a RETYPED path showing new types M times gets them
 *   added (types once learned are kept).  "Consecutive" skips epochs that
 *   say nothing: an absence that is not judged (too rare to expect) leaves
 *   the count as it is; an absence that is judged clears a NEW path, a
 *   presence clears MISSING, a presence with only known types clears
 *   RETYPED.  Shares follow every epoch with R > 0 as an exponentially
 *   weighted mean of count / R with weight schema_share_alpha (absences
 *   count 0); a path whose share falls below 1e-9 leaves without a report.
 *   (Known limit: a type that appears in some epochs only, at a high
 *   rate, is reported each time it reappears after an epoch without it.)
 *   Capacity: schema_paths_max tracked paths; a NEW path that finds the
 *   table full is still judged and counted but not tracked (it cannot be
 *   absorbed, and st_featstate_drift() does not list it: drift_unlisted).
 *
 * A PARTIAL profile (a core missed the merge) is flagged ST_FEAT_F_PARTIAL
 * and otherwise treated alike: the rules above compare counts with records
 * of the same profile, so a missing core lowers both.
 */

#define ST_FEATURES_SPECTRUM_TICKS_MIN 16u  /* 8 bins, 2 flatness bands */

/* Parameters of a feature state; st_features_config_default() fills the
 * defaults given per field. */
struct st_features_config {
	double spectrum_alpha;         /* weight of a new spectrum in the
					* baseline, (0,1], 0.05 */
	uint64_t spectrum_min_records; /* tick records needed for spectral
					* features, >= 1, 64 */
	unsigned schema_learn_epochs;  /* N, 1..100000, 10 */
	unsigned schema_follow_epochs; /* M, 1..100000, 5 */
	double schema_min_expected;    /* share * R at which an absence is
					* judged, > 0, 12 */
	double schema_share_alpha;     /* (0,1], 0.1 */
	unsigned schema_paths_max;     /* 1..2 * ST_SCHEMA_ENTRIES_MAX, 128 */
};

void st_features_config_default(struct st_features_config *cfg);

struct st_featstate;

/*
 * A new state for one stream, with cfg (NULL: the defaults).  It binds to
 * the stream of its first profile.  Allocates the schema table (about
 * 2 * 96 bytes per path of schema_paths_max); the spectrum workspace comes
 * with the first profile.  NULL with errno EINVAL (a cfg field out of
 * range) or ENOMEM.  The caller owns it.  Any thread.
 */
struct st_featstate *st_featstate_create(const struct st_features_config *cfg);

/* Frees the state; NULL is a no-op.  Any thread, not during an update. */
void st_featstate_destroy(struct st_featstate *st);

/*
 * The features of one parsed profile (a view from a successful
 * st_profile_parse(); its buffer must still be there) into *out, and the
 * state's baselines moved by it.  Returns 0, or
 *   -EINVAL  view is not this state's stream, its epoch length is 0 or its
 *            key_fields is out of range, or a section it needs (ticks,
 *            schema) is absent or malformed;
 *   -ERANGE  the epoch does not start after the last one fed;
 *   -ENOMEM  the spectrum workspace could not be made;
 * and on error neither *out nor the state changes.  Allocates (and plans,
 * under the spectrum module's mutex) only at the first profile and when
 * the stream's tick count changes; otherwise no allocation, no lock, no
 * system call: O(ticks log ticks + schema entries + tracked paths).
 * Thread safety: one thread per state at a time.
 */
int st_featstate_update(struct st_featstate *st,
			const struct st_profile_view *view,
			struct st_features *out);

/* What the last update judged about one JSON path. */
enum st_features_drift_kind {
	ST_FEATURES_DRIFT_NEW = 1,
	ST_FEATURES_DRIFT_MISSING = 2,
	ST_FEATURES_DRIFT_RETYPED = 3,
};

struct st_features_drift {
	uint64_t path_hash;         /* st_hash64 of the full path */
	uint64_t epoch_count;       /* occurrences in the epoch; 0 for MISSING */
	double expected_count;      /* share * R before the epoch; 0 for NEW */
	uint8_t kind;               /* enum st_features_drift_kind */
	uint8_t baseline_mask;      /* st_json_type bits; 0 for NEW */
	uint8_t epoch_mask;         /* st_json_type bits; 0 for MISSING */
	uint8_t absorbed;           /* 1: the baseline followed in this epoch */
	uint8_t reported;           /* epochs reported so far in this streak, 1..M */
	char path[ST_SCHEMA_PATH_MAX + 1]; /* the path text as the schema sketch
					    * kept it (first 64 bytes), "" if
					    * it had none */
};

/*
 * The paths judged by the last update, sorted by path hash, for a signal's
 * cause text: writes up to max of them to out and returns how many there
 * are (which may exceed max; NEW paths that found the table full are not
 * among them: see st_featstate_stats()).  0 before any judged epoch.
 * Thread safety: the thread that updates the state.
 */
size_t st_featstate_drift(const struct st_featstate *st,
			  struct st_features_drift *out, size_t max);

struct st_featstate_stats {
	uint64_t epochs;            /* profiles accepted */
	unsigned schema_learned;    /* learning epochs so far, <= N */
	unsigned schema_paths;      /* baseline paths */
	unsigned schema_candidates; /* NEW paths tracked, not yet absorbed */
	unsigned drift_new, drift_missing, drift_retyped; /* last epoch */
	unsigned drift_unlisted;    /* last epoch: NEW paths not tracked */
	uint64_t schema_table_full; /* NEW paths not tracked, all epochs */
	unsigned spectrum_ticks;    /* tick count of the baseline spectrum, 0 none */
	int spectrum_baseline;      /* 1 when a baseline spectrum exists */
};

/* Counters of the state, for shadowctl.  Same thread as the updates. */
void st_featstate_stats(const struct st_featstate *st,
			struct st_featstate_stats *out);

#endif
