/*
 * A predictive signal: shadowtap-cp's judgement that one stream is heading
 * for trouble, with how sure it is, how bad, why, and how soon.  The seed's
 * PredictiveSignal {streamId, anomalyScore, severity} with the cause, the
 * horizon and the model that produced it.  It leaves shadowtap-cp as a JSON
 * line (event log, socket subscribers) and as Prometheus samples; this
 * fixed-width form is what the control plane keeps and hands between its
 * modules, built like a wire format so that it can cross a process as is.
 *
 *   off size field
 *     0    8 stream_id_le       st_hash64() of the name (as in the profile)
 *     8   64 stream_name        1..63 bytes of UTF-8, NUL, zeros
 *    72    8 timestamp_ns_le    when it was raised, ns since the Unix epoch
 *    80    8 epoch_start_ns_le  the epoch whose profile raised it
 *    88    8 score_le           f64 anomaly score in [0,1]
 *    96    8 horizon_s_le       f64 seconds until the rate forecast crosses
 *                               the stream's capacity; < 0 when it does not
 *                               within the forecast horizon (or no capacity)
 *   104    4 causes_le          ST_SIGNAL_CAUSE_* bits: which features
 *   108    4 detectors_le       ST_SIGNAL_DET_* bits: which detectors fired
 *   112    4 model_version_le   version of the multivariate model in use, 0 none
 *   116    1 severity           enum st_severity
 *   117    3 reserved           0
 *   120      (end)
 */
#ifndef SHADOWTAP_SIGNAL_H
#define SHADOWTAP_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

enum st_severity {
	ST_SEVERITY_NONE = 0,
	ST_SEVERITY_LOW = 1,
	ST_SEVERITY_MEDIUM = 2,
	ST_SEVERITY_HIGH = 3,
};

/* Causes: what about the stream changed. */
#define ST_SIGNAL_CAUSE_RATE (1u << 0)        /* record/byte rate level or trend */
#define ST_SIGNAL_CAUSE_CARDINALITY (1u << 1) /* distinct keys */
#define ST_SIGNAL_CAUSE_SKEW (1u << 2)        /* hot key: top-1 share, entropy, Gini */
#define ST_SIGNAL_CAUSE_SCHEMA (1u << 3)      /* fields added, removed, retyped */
#define ST_SIGNAL_CAUSE_PATTERN (1u << 4)     /* the rate's spectrum */
#define ST_SIGNAL_CAUSE_ERRORS (1u << 5)      /* parse errors */
#define ST_SIGNAL_CAUSE_SIZE (1u << 6)        /* record sizes */
#define ST_SIGNAL_CAUSE_PARTITIONS (1u << 7)  /* Kafka partition imbalance */
#define ST_SIGNAL_CAUSE_CAPACITY (1u << 8)    /* forecast crosses capacity */

/* Detectors: which judged it. */
#define ST_SIGNAL_DET_CUSUM (1u << 0)
#define ST_SIGNAL_DET_BOCPD (1u << 1)
#define ST_SIGNAL_DET_IFOREST (1u << 2)
#define ST_SIGNAL_DET_FORECAST (1u << 3)
#define ST_SIGNAL_DET_SCHEMA (1u << 4)
#define ST_SIGNAL_DET_SPECTRAL (1u << 5)

struct st_signal {
	uint64_t stream_id_le;
	char stream_name[64];
	uint64_t timestamp_ns_le;
	uint64_t epoch_start_ns_le;
	uint64_t score_le;       /* f64 bits */
	uint64_t horizon_s_le;   /* f64 bits */
	uint32_t causes_le;
	uint32_t detectors_le;
	uint32_t model_version_le;
	uint8_t severity;
	uint8_t reserved[3];
};

_Static_assert(sizeof(struct st_signal) == 120, "a signal is 120 bytes");
_Static_assert(offsetof(struct st_signal, stream_name) == 8, "name at 8");
_Static_assert(offsetof(struct st_signal, timestamp_ns_le) == 72, "timestamp at 72");
_Static_assert(offsetof(struct st_signal, epoch_start_ns_le) == 80, "epoch at 80");
_Static_assert(offsetof(struct st_signal, score_le) == 88, "score at 88");
_Static_assert(offsetof(struct st_signal, horizon_s_le) == 96, "horizon at 96");
_Static_assert(offsetof(struct st_signal, causes_le) == 104, "causes at 104");
_Static_assert(offsetof(struct st_signal, detectors_le) == 108, "detectors at 108");
_Static_assert(offsetof(struct st_signal, model_version_le) == 112, "model at 112");
_Static_assert(offsetof(struct st_signal, severity) == 116, "severity at 116");

#endif
