/*
 * Change-point detectors of the control plane.
 *
 * Two online detectors, each over one stream of numbers (one feature of one
 * stream, epoch after epoch), and one offline function over a whole series:
 *
 *   st_cusum_   two-sided CUSUM (Page 1954; Page-Hinkley form) on a
 *               standardised stream.  Mean and variance come from a warm-up
 *               (Welford), then follow the stream slowly and robustly.
 *   st_bocpd_   Bayesian online change-point detection (Adams & MacKay 2007,
 *               arXiv:0710.3742) with a Normal-Gamma prior per dimension
 *               (Student-t predictive), a constant hazard and a run-length
 *               cap R_max: O(R_max * n_dim) work per step, memory fixed at
 *               create.
 *   st_changepoints()  offline: BOCPD over the whole series plus peak picking
 *               on the probability that a segment starts at each index; one
 *               fixed parameter set (detect.c's head comment says how it was
 *               chosen).
 *
 * Conventions: actions return 0 or -errno, constructors NULL + errno,
 * destroy(NULL) is a no-op.  An instance belongs to one thread at a time
 * (no locks inside); different instances are independent.  update() never
 * allocates, never blocks.  A NaN or infinite input is rejected: counted in
 * `rejected`, the state is left as it was, -EINVAL.
 */
#ifndef ST_CONTROL_DETECT_H
#define ST_CONTROL_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- CUSUM -- */

struct st_cusum_params {
	double drift_sd;      /* k: slack per step, in standard deviations (0.5) */
	double threshold_sd;  /* h: alarm when a sum exceeds h (5) */
	unsigned warmup;      /* observations that estimate mean/variance (30) */
	double sd_floor;      /* smallest standard deviation the baseline may
			       * have, in the input's units (0: only a
			       * relative 1e-6 of |mean|): the least change
			       * that matters, so that a feature steady to
			       * the last bit does not alarm on its first
			       * wobble */
};

/* Defaults matching config.h's `detectors` section. */
#define ST_CUSUM_PARAMS_DEFAULT { .drift_sd = 0.5, .threshold_sd = 5.0, .warmup = 30 }

struct st_cusum_result {
	bool warming;         /* still estimating the baseline: no alarm possible */
	bool alarm;           /* a sum crossed h at this step */
	int direction;        /* +1 upward shift, -1 downward, 0 none (alarm only) */
	double score;         /* max(S+, S-) / h, clamped to [0, 1]; 1 at alarm */
	double z;             /* the standardised input (0 while warming) */
};

struct st_cusum_stats {
	uint64_t accepted;    /* finite inputs taken */
	uint64_t rejected;    /* NaN/inf inputs skipped */
	uint64_t alarms;
};

struct st_cusum;

/*
 * Creates a detector.  Returns NULL with errno EINVAL (drift_sd < 0,
 * threshold_sd <= 0, warmup < 2, sd_floor < 0, a NaN) or ENOMEM.
 */
struct st_cusum *st_cusum_create(const struct st_cusum_params *p);
void st_cusum_destroy(struct st_cusum *c);
/* Forgets the baseline and the sums; counters are kept. */
void st_cusum_reset(struct st_cusum *c);
/*
 * Takes one observation.  Returns 0 and fills *out, or -EINVAL (x not
 * finite: counted, skipped, *out untouched).  After an alarm the sums are
 * cleared and the baseline is learnt again from the next `warmup`
 * observations (the stream's new regime).
 */
int st_cusum_update(struct st_cusum *c, double x, struct st_cusum_result *out);
void st_cusum_stats(const struct st_cusum *c, struct st_cusum_stats *out);

/* ---------------------------------------------------------------- BOCPD -- */

struct st_bocpd_params {
	unsigned n_dim;       /* dimensions, independent given the run (1..64) */
	double hazard;        /* P(change) per step, (0, 1): 1/250 */
	unsigned max_run;     /* R_max, 2..100000: 500 */
	unsigned warmup;      /* observations for the standardisation (mean, sd
			       * per dimension, then frozen); 0 = use the input
			       * as it is (already standardised) */
	unsigned short_run;   /* change probability = P(run length <= short_run) */
	double prior_mean;    /* Normal-Gamma prior, on the standardised scale */
	double prior_kappa;
	double prior_alpha;
	double prior_beta;
};

#define ST_BOCPD_PARAMS_DEFAULT { .n_dim = 1, .hazard = 1.0 / 250, .max_run = 500, \
	.warmup = 30, .short_run = 5, .prior_mean = 0, .prior_kappa = 0.1,          \
	.prior_alpha = 1, .prior_beta = 1 }

struct st_bocpd_result {
	bool warming;         /* standardisation not yet fixed: nothing computed */
	double change_prob;   /* P(run length <= short_run | data so far), the
			       * run that spans every observation since the
			       * start excluded (it is no change): 0 on the
			       * first step */
	unsigned map_run;     /* most probable run length (observations in the
			       * current segment, including this one), 1..R_max */
	double score;         /* change_prob, in [0, 1] */
	double log_evidence;  /* ln p(x_t | x_1..t-1) under the model */
};

struct st_bocpd_stats {
	uint64_t accepted;
	uint64_t rejected;    /* vectors with a NaN/inf component, skipped */
	uint64_t capped;      /* steps at which the R_max slot absorbed a longer run */
};

struct st_bocpd;

/*
 * Creates a detector with memory for max_run run lengths (allocated here,
 * never again).  Returns NULL with errno EINVAL (a parameter out of range)
 * or ENOMEM.
 */
struct st_bocpd *st_bocpd_create(const struct st_bocpd_params *p);
void st_bocpd_destroy(struct st_bocpd *b);
/* Back to no data (and no standardisation); counters are kept. */
void st_bocpd_reset(struct st_bocpd *b);
/*
 * Takes one observation of n_dim values.  Returns 0 and fills *out (when
 * out is not NULL), or -EINVAL (a component not finite: counted, skipped).
 */
int st_bocpd_update(struct st_bocpd *b, const double *x, struct st_bocpd_result *out);
void st_bocpd_stats(const struct st_bocpd *b, struct st_bocpd_stats *out);
/*
 * P(run length = r | data) for r = 1..n, written to probs[0..n-1]; returns
 * how many run lengths are live (<= max_run).  Tests and the offline pass
 * read it; not for the hot path.
 */
size_t st_bocpd_run_probs(const struct st_bocpd *b, double *probs, size_t n);

/* -------------------------------------------------------------- offline -- */

/*
 * Change points of one series: values[i * n_dim + d] is observation i of
 * dimension d, all finite.  Writes the 0-based index of the first
 * observation of each new segment (TCPD's convention; never 0), ascending,
 * to cps[0..max_cps-1] and their number to *n_cps.
 * Returns 0, -EINVAL (n_dim 0 or > 64, a value not finite, NULL), -ENOBUFS
 * (more than max_cps found: *n_cps says how many, the first max_cps are
 * written) or -ENOMEM.  Thread-safe (no shared state).
 */
int st_changepoints(const double *values, size_t n_obs, size_t n_dim,
		    size_t *cps, size_t max_cps, size_t *n_cps);

#endif
