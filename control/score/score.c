/*
 * The anomaly score (see score.h for the combination it implements).
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "control/score/score.h"

#define CAUSES 9  /* ST_SIGNAL_CAUSE_RATE .. ST_SIGNAL_CAUSE_CAPACITY */

_Static_assert(ST_SIGNAL_CAUSE_CAPACITY == 1u << (CAUSES - 1), "CAPACITY is the last cause");
_Static_assert(sizeof(((struct st_score *)0)->cause_score) / sizeof(double) == CAUSES, "a score per cause");

static const uint32_t cause_of_feature[ST_FEAT_COUNT] = {
	[ST_FEAT_LOG_RECORD_RATE] = ST_SIGNAL_CAUSE_RATE,
	[ST_FEAT_LOG_BYTE_RATE] = ST_SIGNAL_CAUSE_RATE,
	[ST_FEAT_LOG_CARD_0] = ST_SIGNAL_CAUSE_CARDINALITY,
	[ST_FEAT_LOG_CARD_1] = ST_SIGNAL_CAUSE_CARDINALITY,
	[ST_FEAT_LOG_CARD_2] = ST_SIGNAL_CAUSE_CARDINALITY,
	[ST_FEAT_LOG_CARD_3] = ST_SIGNAL_CAUSE_CARDINALITY,
	[ST_FEAT_TOP1_SHARE_0] = ST_SIGNAL_CAUSE_SKEW,
	[ST_FEAT_TOP1_SHARE_1] = ST_SIGNAL_CAUSE_SKEW,
	[ST_FEAT_TOP1_SHARE_2] = ST_SIGNAL_CAUSE_SKEW,
	[ST_FEAT_TOP1_SHARE_3] = ST_SIGNAL_CAUSE_SKEW,
	[ST_FEAT_ENTROPY_0] = ST_SIGNAL_CAUSE_SKEW,
	[ST_FEAT_GINI_0] = ST_SIGNAL_CAUSE_SKEW,
	[ST_FEAT_KAFKA_IMBALANCE] = ST_SIGNAL_CAUSE_PARTITIONS,
	[ST_FEAT_LOG_SIZE_P99] = ST_SIGNAL_CAUSE_SIZE,
	[ST_FEAT_SCHEMA_CHANGED] = ST_SIGNAL_CAUSE_SCHEMA,
	[ST_FEAT_SCHEMA_DRIFT] = ST_SIGNAL_CAUSE_SCHEMA,
	[ST_FEAT_PARSE_ERROR_RATE] = ST_SIGNAL_CAUSE_ERRORS,
	[ST_FEAT_DOMINANT_PERIOD_S] = ST_SIGNAL_CAUSE_PATTERN,
	[ST_FEAT_SPECTRAL_FLATNESS] = ST_SIGNAL_CAUSE_PATTERN,
	[ST_FEAT_SPECTRAL_DISTANCE] = ST_SIGNAL_CAUSE_PATTERN,
};

static unsigned bit_index(uint32_t bit)
{
	return (unsigned)__builtin_ctz(bit);
}

/* x clamped to [0,1]; NaN counts as 0 (no evidence). */
static double unit(double x)
{
	if (!(x > 0))
		return 0;
	return x > 1 ? 1 : x;
}

void st_score_inputs_init(struct st_score_inputs *in, double forecast_horizon_s)
{
	memset(in, 0, sizeof(*in));
	in->iforest_top_feature = -1;
	in->horizon_s = -1;
	in->forecast_horizon_s = forecast_horizon_s;
}

uint32_t st_score_cause_of(enum st_feature_id id)
{
	return (unsigned)id < ST_FEAT_COUNT ? cause_of_feature[id] : 0;
}

enum st_severity st_score_severity(double score,
				   const struct st_config_threshold *t)
{
	if (score >= t->high)
		return ST_SEVERITY_HIGH;
	if (score >= t->medium)
		return ST_SEVERITY_MEDIUM;
	if (score >= ST_SCORE_LOW_FLOOR)
		return ST_SEVERITY_LOW;
	return ST_SEVERITY_NONE;
}

/* Raises cause `bit` to `s` when s is larger, with the detectors behind it. */
static void raise_cause(struct st_score *out, uint32_t dets[CAUSES], uint32_t bit,
			double s, uint32_t detectors)
{
	unsigned i = bit_index(bit);

	if (s > out->cause_score[i]) {
		out->cause_score[i] = s;
		dets[i] = detectors;
	} else if (s > 0 && s == out->cause_score[i]) {
		dets[i] |= detectors;
	}
}

void st_score_combine(const struct st_score_inputs *in,
		      const struct st_config_threshold *thresholds,
		      struct st_score *out)
{
	uint32_t dets[CAUSES] = { 0 };
	double top = 0;

	memset(out, 0, sizeof(*out));
	for (unsigned f = 0; f < ST_FEAT_COUNT; f++)
		raise_cause(out, dets, cause_of_feature[f], unit(in->feature[f]),
			    in->feature_detectors[f]);
	if (in->schema_drift)
		raise_cause(out, dets, ST_SIGNAL_CAUSE_SCHEMA, 1.0, ST_SIGNAL_DET_SCHEMA);
	if (in->have_iforest && in->iforest_top_feature >= 0 &&
	    in->iforest_top_feature < ST_FEAT_COUNT) {
		double s = unit((in->iforest - ST_SCORE_IFOREST_ORDINARY) /
				(ST_SCORE_IFOREST_FULL - ST_SCORE_IFOREST_ORDINARY));

		raise_cause(out, dets, cause_of_feature[in->iforest_top_feature], s,
			    ST_SIGNAL_DET_IFOREST);
	}
	if (in->horizon_s >= 0 && in->forecast_horizon_s > 0) {
		double s = 0.5 + 0.5 * (1.0 - unit(in->horizon_s / in->forecast_horizon_s));

		raise_cause(out, dets, ST_SIGNAL_CAUSE_CAPACITY, s, ST_SIGNAL_DET_FORECAST);
	}
	for (unsigned i = 0; i < CAUSES; i++)
		if (out->cause_score[i] > top)
			top = out->cause_score[i];
	out->score = top;
	if (top > 0)
		for (unsigned i = 0; i < CAUSES; i++)
			if (out->cause_score[i] >= ST_SCORE_CAUSE_RATIO * top) {
				out->causes |= 1u << i;
				out->detectors |= dets[i];
			}
	out->severity = st_score_severity(top, thresholds);
}
