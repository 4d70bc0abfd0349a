/*
 * The knobs of st_changepoints(), for the tests and for re-running the
 * parameter study; the product uses st_changepoints() and its one default
 * set (ST_CP_PARAMS_DEFAULT, described in changepoints.c).
 */
#ifndef ST_CONTROL_DETECT_CP_PARAMS_H
#define ST_CONTROL_DETECT_CP_PARAMS_H

#include <stddef.h>

struct st_cp_params {
	double hazard;        /* BOCPD hazard, 1 / expected segment length */
	double prior_kappa;   /* Normal-Gamma prior on the standardised series */
	double prior_alpha;
	double prior_beta;
	unsigned min_lag;     /* a start s is scored only once the run from s
			       * holds >= min_lag observations */
	unsigned spread;      /* start positions within +-spread pool their mass */
	double threshold;     /* peak probability needed for a change point */
	unsigned min_gap;     /* minimum distance between change points and from
			       * index 0 */
	double scale_mix;     /* scale = noise^(1-mix) * spread^mix: 0 = the
			       * noise level (MAD of differences), 1 = the
			       * series' spread (MAD about the median) */
	double merge_penalty; /* step 5: a change point stays only when
			       * splitting its two neighbouring segments gains
			       * more than merge_penalty * ln(n_obs) per
			       * dimension in Normal log-likelihood; 0 = off */
	double var_floor;     /* step 5: a segment's variance (standardised
			       * units) is taken as at least this */
	unsigned merge_trend; /* step 5: 1 = each segment is a line plus
			       * Normal noise (its cost is the residual
			       * variance), 0 = a level plus Normal noise */
	unsigned locate;      /* 1 = each peak moves to the most probable
			       * single start within +-spread of it (step 4
			       * pools the window, which puts a clean step up
			       * to spread late); 0 = off */
	unsigned merge_bayes; /* step 5: 1 = the split gain is the log Bayes
			       * factor of two segments against one under
			       * the prior above (each segment its own mean
			       * and variance; var_floor and merge_trend
			       * unused), and a change point stays when it
			       * exceeds merge_penalty * ln((1 - hazard) /
			       * hazard), the log prior odds against a change
			       * at one index: merge_penalty 1 is the
			       * posterior odds test, no knob of its own */
	unsigned merge_season; /* step 5: 1 = a dimension whose first
				* differences have a clear seasonal period
				* (an autocorrelation peak >= 0.5 at a lag
				* of 2 to min(n_obs / 4, 500)) is compared
				* less its seasonal profile (per-phase
				* median deviation from a centred moving
				* average), so that a season inside a
				* segment does not hide a change in level;
				* 0 = the series as standardised */
};

int st_changepoints_with(const struct st_cp_params *p, const double *values,
			 size_t n_obs, size_t n_dim, size_t *cps, size_t max_cps,
			 size_t *n_cps);

#endif
