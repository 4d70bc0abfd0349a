/*
 * The anomaly score's combination rules (control/score/score.h), checked on
 * inputs whose expected score, causes and severity are worked out by hand
 * from the rules in the header.
 */
#include <math.h>

#include "control/score/score.h"
#include "st_test.h"

static const struct st_config_threshold medium_crit = { .medium = 0.6, .high = 0.85 };
static const struct st_config_threshold high_crit = { .medium = 0.4, .high = 0.7 };

static void test_nothing_is_nothing(void)
{
	struct st_score_inputs in;
	struct st_score out;

	st_score_inputs_init(&in, 60);
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_EQUAL(out.score, 0);
	CU_ASSERT_EQUAL(out.causes, 0);
	CU_ASSERT_EQUAL(out.detectors, 0);
	CU_ASSERT_EQUAL(out.severity, ST_SEVERITY_NONE);
}

static void test_largest_cause_wins_and_near_ones_are_reported(void)
{
	struct st_score_inputs in;
	struct st_score out;

	st_score_inputs_init(&in, 60);
	in.feature[ST_FEAT_LOG_RECORD_RATE] = 0.9;
	in.feature_detectors[ST_FEAT_LOG_RECORD_RATE] = ST_SIGNAL_DET_CUSUM;
	in.feature[ST_FEAT_LOG_CARD_2] = 0.75;   /* 0.75 >= 0.8 * 0.9 = 0.72: reported */
	in.feature_detectors[ST_FEAT_LOG_CARD_2] = ST_SIGNAL_DET_BOCPD;
	in.feature[ST_FEAT_GINI_0] = 0.7;        /* < 0.72: not reported */
	in.feature_detectors[ST_FEAT_GINI_0] = ST_SIGNAL_DET_CUSUM | ST_SIGNAL_DET_BOCPD;
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_DOUBLE_EQUAL(out.score, 0.9, 1e-12);
	CU_ASSERT_EQUAL(out.causes, ST_SIGNAL_CAUSE_RATE | ST_SIGNAL_CAUSE_CARDINALITY);
	CU_ASSERT_EQUAL(out.detectors, ST_SIGNAL_DET_CUSUM | ST_SIGNAL_DET_BOCPD);
	CU_ASSERT_EQUAL(out.severity, ST_SEVERITY_HIGH);     /* 0.9 >= 0.85 */
	/* many small pieces of evidence stay small: the largest, not a sum */
	st_score_inputs_init(&in, 60);
	for (unsigned f = 0; f < ST_FEAT_COUNT; f++)
		in.feature[f] = 0.25;
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_DOUBLE_EQUAL(out.score, 0.25, 1e-12);
	CU_ASSERT_EQUAL(out.severity, ST_SEVERITY_NONE);     /* 0.25 < 0.3 */
}

static void test_schema_drift_is_certain(void)
{
	struct st_score_inputs in;
	struct st_score out;

	st_score_inputs_init(&in, 60);
	in.schema_drift = true;
	in.feature[ST_FEAT_LOG_RECORD_RATE] = 0.5;
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_EQUAL(out.score, 1.0);
	CU_ASSERT_EQUAL(out.causes, ST_SIGNAL_CAUSE_SCHEMA);
	CU_ASSERT_EQUAL(out.detectors, ST_SIGNAL_DET_SCHEMA);
	CU_ASSERT_EQUAL(out.severity, ST_SEVERITY_HIGH);
}

static void test_forest_rescaled_onto_its_top_feature(void)
{
	struct st_score_inputs in;
	struct st_score out;

	st_score_inputs_init(&in, 60);
	in.have_iforest = true;
	in.iforest = 0.75;                      /* (0.75 - 0.6) / 0.3 = 0.5 */
	in.iforest_top_feature = ST_FEAT_TOP1_SHARE_0;
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_DOUBLE_EQUAL(out.score, 0.5, 1e-12);
	CU_ASSERT_EQUAL(out.causes, ST_SIGNAL_CAUSE_SKEW);
	CU_ASSERT_EQUAL(out.detectors, ST_SIGNAL_DET_IFOREST);
	CU_ASSERT_EQUAL(out.severity, ST_SEVERITY_LOW);      /* 0.3 <= 0.5 < 0.6 */
	in.iforest = 0.55;                      /* below ordinary: nothing */
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_EQUAL(out.score, 0);
	in.iforest = 0.95;                      /* past FULL (0.9): 1 */
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_EQUAL(out.score, 1);
	in.iforest_top_feature = -1;            /* no top feature: no cause to give */
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_EQUAL(out.score, 0);
}

static void test_capacity_horizon(void)
{
	struct st_score_inputs in;
	struct st_score out;

	st_score_inputs_init(&in, 60);
	in.horizon_s = 30;                      /* 0.5 + 0.5 * (1 - 30/60) = 0.75 */
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_DOUBLE_EQUAL(out.score, 0.75, 1e-12);
	CU_ASSERT_EQUAL(out.causes, ST_SIGNAL_CAUSE_CAPACITY);
	CU_ASSERT_EQUAL(out.detectors, ST_SIGNAL_DET_FORECAST);
	CU_ASSERT_EQUAL(out.severity, ST_SEVERITY_MEDIUM);
	st_score_combine(&in, &high_crit, &out);
	CU_ASSERT_EQUAL(out.severity, ST_SEVERITY_HIGH);     /* 0.75 >= 0.7 */
	in.horizon_s = 0;
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_EQUAL(out.score, 1.0);
	in.horizon_s = 600;                     /* beyond H counts as at its edge */
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_DOUBLE_EQUAL(out.score, 0.5, 1e-12);
	in.horizon_s = -1;
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_EQUAL(out.score, 0);
}

static void test_bad_numbers_are_no_evidence(void)
{
	struct st_score_inputs in;
	struct st_score out;

	st_score_inputs_init(&in, 60);
	in.feature[ST_FEAT_LOG_RECORD_RATE] = NAN;
	in.feature[ST_FEAT_LOG_BYTE_RATE] = -3;
	in.feature[ST_FEAT_LOG_SIZE_P99] = INFINITY;   /* clamped to 1 */
	st_score_combine(&in, &medium_crit, &out);
	CU_ASSERT_EQUAL(out.score, 1.0);
	CU_ASSERT_EQUAL(out.causes, ST_SIGNAL_CAUSE_SIZE);
}

static void test_severity_edges_and_causes(void)
{
	CU_ASSERT_EQUAL(st_score_severity(0.85, &medium_crit), ST_SEVERITY_HIGH);
	CU_ASSERT_EQUAL(st_score_severity(0.8499, &medium_crit), ST_SEVERITY_MEDIUM);
	CU_ASSERT_EQUAL(st_score_severity(0.6, &medium_crit), ST_SEVERITY_MEDIUM);
	CU_ASSERT_EQUAL(st_score_severity(0.5999, &medium_crit), ST_SEVERITY_LOW);
	CU_ASSERT_EQUAL(st_score_severity(0.3, &medium_crit), ST_SEVERITY_LOW);
	CU_ASSERT_EQUAL(st_score_severity(0.2999, &medium_crit), ST_SEVERITY_NONE);
	CU_ASSERT_EQUAL(st_score_cause_of(ST_FEAT_SPECTRAL_FLATNESS), ST_SIGNAL_CAUSE_PATTERN);
	CU_ASSERT_EQUAL(st_score_cause_of(ST_FEAT_COUNT), 0);
	for (unsigned f = 0; f < ST_FEAT_COUNT; f++)
		CU_ASSERT(st_score_cause_of((enum st_feature_id)f) != 0);
}

ST_TEST_MAIN("control/score",
	ST_TEST(test_nothing_is_nothing),
	ST_TEST(test_largest_cause_wins_and_near_ones_are_reported),
	ST_TEST(test_schema_drift_is_certain),
	ST_TEST(test_forest_rescaled_onto_its_top_feature),
	ST_TEST(test_capacity_horizon),
	ST_TEST(test_bad_numbers_are_no_evidence),
	ST_TEST(test_severity_edges_and_causes))
