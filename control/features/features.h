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

#include <stdint.h>

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
	ST_FEAT_SCHEMA_CHANGED,      /* 1 when the fingerprint is not the baseline's */
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

#endif
