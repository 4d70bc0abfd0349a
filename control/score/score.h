/*
 * The anomaly score: one number in [0,1] per stream per epoch, with its
 * cause, from everything the control plane's detectors say about the
 * stream.  This is the one documented way they combine.
 *
 * Inputs, each already in [0,1] (0: nothing unusual):
 *   - per feature (enum st_feature_id), the change-point evidence of that
 *     feature's online detectors (CUSUM/Page-Hinkley and BOCPD) and which
 *     of them fired;
 *   - the multivariate model's anomaly score (isolation forest, s in [0,1]
 *     where 0.5 is an ordinary point) and the feature that contributed most;
 *   - the forecast's horizon: seconds until the forecast record rate crosses
 *     the stream's capacity, within the forecast horizon, or none;
 *   - schema drift (fields new, missing or retyped against the baseline).
 *
 * Combination:
 *   1. Each feature belongs to one cause (st_score_cause_of: rates → RATE,
 *      cardinalities → CARDINALITY, top-1/entropy/Gini → SKEW, schema →
 *      SCHEMA, spectral → PATTERN, parse errors → ERRORS, size → SIZE,
 *      Kafka imbalance → PARTITIONS).  A cause's score is the largest score
 *      of its features.
 *   2. Schema: any drift scores 1 (a field appeared, vanished or changed
 *      type: a consumer will break, however few records carry it).
 *   3. The isolation forest scores, for the cause of its top feature,
 *      clamp((s - ORDINARY) / (FULL - ORDINARY), 0, 1) (ST_SCORE_IFOREST_*),
 *      when that is more than the cause has already.
 *   4. Capacity: a forecast crossing within the horizon H scores
 *      0.5 + 0.5 (1 - h/H) (a crossing now scores 1, one at the edge of
 *      the horizon 0.5), under the cause CAPACITY.
 *   5. The stream's score is the largest cause score (not a sum: twenty
 *      features each a little unusual are not an anomaly); the causes
 *      reported are every cause within ST_SCORE_CAUSE_RATIO of it.
 *   6. Severity from the stream's criticality thresholds (config
 *      `thresholds`): >= high → HIGH, >= medium → MEDIUM, >= low_floor →
 *      LOW, else NONE.
 *
 * Pure functions; any thread.
 */
#ifndef ST_CONTROL_SCORE_H
#define ST_CONTROL_SCORE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/config/config.h"
#include "control/features/features.h"
#include "shadowtap/signal.h"

/*
 * The forest's scores that count.  An isolation forest scores an ordinary
 * point near 0.5 or below, but with a score per epoch and twenty noisy
 * features its tail is long: over an hour of a stationary stream in the
 * lab (tests/integration/test_scenarios.py, case e) single epochs reached
 * 0.70.  So up to 0.6 is ordinary and 0.7 is only low evidence; a point
 * must score 0.78 to be medium at medium criticality, 0.9 to be certain.
 */
#define ST_SCORE_IFOREST_ORDINARY 0.6
#define ST_SCORE_IFOREST_FULL 0.9
#define ST_SCORE_CAUSE_RATIO 0.8       /* causes reported: within this of the top */
#define ST_SCORE_LOW_FLOOR 0.3         /* below it a score has no severity */

struct st_score_inputs {
	double feature[ST_FEAT_COUNT];     /* change evidence per feature, [0,1] */
	uint32_t feature_detectors[ST_FEAT_COUNT]; /* ST_SIGNAL_DET_* that fired */
	bool have_iforest;
	double iforest;                    /* [0,1] */
	int iforest_top_feature;           /* enum st_feature_id, -1 none */
	double horizon_s;                  /* < 0: no crossing within the horizon */
	double forecast_horizon_s;         /* H, > 0 */
	bool schema_drift;                 /* a field new, missing or retyped */
};

struct st_score {
	double score;                      /* [0,1] */
	uint32_t causes;                   /* ST_SIGNAL_CAUSE_* */
	uint32_t detectors;                /* ST_SIGNAL_DET_* behind those causes */
	enum st_severity severity;
	double cause_score[9];             /* by cause bit index, for views */
};

/* Zeroes *in and marks no forest and no crossing. */
void st_score_inputs_init(struct st_score_inputs *in, double forecast_horizon_s);

/* The ST_SIGNAL_CAUSE_* bit a feature belongs to (0 for an id out of range). */
uint32_t st_score_cause_of(enum st_feature_id id);

/* Combines *in as the file head says into *out. */
void st_score_combine(const struct st_score_inputs *in,
		      const struct st_config_threshold *thresholds,
		      struct st_score *out);

/* Severity of `score` under `thresholds` (rule 6). */
enum st_severity st_score_severity(double score,
				   const struct st_config_threshold *thresholds);

#endif
