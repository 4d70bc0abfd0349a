/*
 * Two-sided CUSUM on a standardised stream (E. S. Page, "Continuous
 * inspection schemes", Biometrika 41, 1954; the tabular form of Montgomery,
 * "Introduction to Statistical Quality Control", ch. 9):
 *
 *	z_t  = (x_t - mu) / sigma
 *	S+_t = max(0, S+_{t-1} + z_t - k)     upward shift
 *	S-_t = max(0, S-_{t-1} - z_t - k)     downward shift
 *	alarm when S+ > h (direction +1) or S- > h (direction -1)
 *
 * mu and sigma: Welford's mean and variance over the first `warmup`
 * observations; afterwards, only while the stream is in control, an
 * exponentially weighted update with weight ST_CUSUM_LAMBDA of the
 * Huber-clipped z (|z| <= 2), the variance corrected for the clipping
 * (E[min(z^2, 4)] = 0.9206 for a standard normal).  "In control" is decided
 * on the sums before the step (both below h/2), never on the step's own z,
 * which would bias the variance down.  A slow drift is thus followed, an
 * outlier moves the baseline by little, and a shift well under way does not
 * move it.  After an alarm the sums restart at 0 and the
 * baseline is learnt again from the next `warmup` observations.
 *
 * Score: max(S+, S-) / h clamped to [0, 1] — how far the evidence is
 * towards an alarm.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "control/detect/detect.h"

#define ST_CUSUM_LAMBDA 0.01
#define ST_CUSUM_HUBER 2.0
#define ST_CUSUM_HUBER_VAR 0.9206

struct st_cusum {
	struct st_cusum_params p;
	uint64_t warm_n;        /* observations in the current warm-up */
	double warm_mean;
	double warm_m2;
	bool warm;              /* baseline fixed */
	double mu;
	double var;
	double s_pos;
	double s_neg;
	struct st_cusum_stats stats;
};

struct st_cusum *st_cusum_create(const struct st_cusum_params *p)
{
	struct st_cusum *c;

	if (!p || !(p->drift_sd >= 0) || !(p->threshold_sd > 0) || p->warmup < 2 ||
	    !isfinite(p->drift_sd) || !isfinite(p->threshold_sd) ||
	    !(p->sd_floor >= 0) || !isfinite(p->sd_floor)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->p = *p;
	st_cusum_reset(c);
	return c;
}

void st_cusum_destroy(struct st_cusum *c)
{
	free(c);
}

static void restart_warmup(struct st_cusum *c)
{
	c->warm_n = 0;
	c->warm_mean = 0;
	c->warm_m2 = 0;
	c->warm = false;
	c->s_pos = 0;
	c->s_neg = 0;
}

void st_cusum_reset(struct st_cusum *c)
{
	if (!c)
		return;
	restart_warmup(c);
	c->mu = 0;
	c->var = 1;
}

/* A variance of 0 (a constant warm-up) would make every later value an
 * infinite z; the relative floor keeps z finite and still huge for any real
 * change, the caller's sd_floor says which changes are too small to count. */
static double variance_floor(const struct st_cusum *c, double mu)
{
	double scale = fabs(mu) > 1 ? fabs(mu) : 1;
	double relative = 1e-12 * scale * scale;
	double given = c->p.sd_floor * c->p.sd_floor;

	return given > relative ? given : relative;
}

static void warm_step(struct st_cusum *c, double x, struct st_cusum_result *out)
{
	double delta = x - c->warm_mean;

	c->warm_n++;
	c->warm_mean += delta / (double)c->warm_n;
	c->warm_m2 += delta * (x - c->warm_mean);
	if (c->warm_n >= c->p.warmup) {
		c->mu = c->warm_mean;
		c->var = c->warm_m2 / (double)(c->warm_n - 1);
		if (c->var < variance_floor(c, c->mu))
			c->var = variance_floor(c, c->mu);
		c->warm = true;
	}
	*out = (struct st_cusum_result){ .warming = true };
}

static void follow_baseline(struct st_cusum *c, double z)
{
	double zc = z > ST_CUSUM_HUBER ? ST_CUSUM_HUBER :
		    z < -ST_CUSUM_HUBER ? -ST_CUSUM_HUBER : z;
	double sigma = sqrt(c->var);

	c->mu += ST_CUSUM_LAMBDA * sigma * zc;
	c->var = (1 - ST_CUSUM_LAMBDA) * c->var +
		 ST_CUSUM_LAMBDA * c->var * zc * zc / ST_CUSUM_HUBER_VAR;
	if (c->var < variance_floor(c, c->mu))
		c->var = variance_floor(c, c->mu);
}

int st_cusum_update(struct st_cusum *c, double x, struct st_cusum_result *out)
{
	double z, h = c->p.threshold_sd, k = c->p.drift_sd, top;
	bool calm;

	if (!isfinite(x)) {
		c->stats.rejected++;
		return -EINVAL;
	}
	c->stats.accepted++;
	if (!c->warm) {
		warm_step(c, x, out);
		return 0;
	}
	z = (x - c->mu) / sqrt(c->var);
	calm = fmax(c->s_pos, c->s_neg) < h / 2;
	c->s_pos = fmax(0, c->s_pos + z - k);
	c->s_neg = fmax(0, c->s_neg - z - k);
	*out = (struct st_cusum_result){ .z = z };
	if (c->s_pos > h || c->s_neg > h) {
		out->alarm = true;
		out->direction = c->s_pos >= c->s_neg ? 1 : -1;
		out->score = 1;
		c->stats.alarms++;
		restart_warmup(c);
		return 0;
	}
	top = fmax(c->s_pos, c->s_neg);
	out->score = top / h;
	if (calm)
		follow_baseline(c, z);
	return 0;
}

void st_cusum_stats(const struct st_cusum *c, struct st_cusum_stats *out)
{
	*out = c->stats;
}
