/*
 * Bayesian online change-point detection: R. P. Adams and D. J. C. MacKay,
 * "Bayesian Online Changepoint Detection", arXiv:0710.3742 (2007), with the
 * conjugate Normal-Gamma model of its section 2 (K. P. Murphy, "Conjugate
 * Bayesian analysis of the Gaussian distribution", 2007, eq. 86-110).
 *
 * Run length r after observation x_t = number of observations in the current
 * segment, x_t included (1..R_max).  Per dimension d and live run length the
 * posterior is NG(mu, kappa, alpha, beta); the predictive of the next value
 * is Student-t with 2 alpha degrees of freedom, location mu and squared
 * scale beta (kappa + 1) / (alpha kappa).  Dimensions are independent given
 * the run, so their log predictives add.  One step (hazard H):
 *
 *	P(r_t = r + 1, x_1:t) = P(r_{t-1} = r, x_1:t-1) p(x_t | run r) (1 - H)
 *	P(r_t = 1,     x_1:t) = P(x_1:t-1) p(x_t | prior) H
 *
 * (x_t opens the new segment and is scored under the prior, so P(r_t = 1) is
 * informative rather than H.)  Everything is in log space and normalised
 * each step.  Cap: run lengths live in R_max slots; the run that would grow
 * past R_max is merged with the one growing into the last slot (masses
 * added with log-sum-exp, the heavier one's statistics kept), so memory and
 * work stay O(R_max * n_dim) and nothing is lost from the distribution.
 *
 * Standardisation: with warmup > 0 the first `warmup` vectors give each
 * dimension's mean and standard deviation (Welford), which then stay fixed;
 * BOCPD starts on the next vector.  kappa and alpha depend only on how many
 * observations a run holds, so per slot only mu and beta are stored per
 * dimension, with one count per slot.
 *
 * Layout (one allocation): slots' logp[R], count[R], then mu[R * n_dim],
 * beta[R * n_dim]; warm-up mean/m2/sd per dimension.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "control/detect/detect.h"

#define ST_BOCPD_MAX_DIM 64

struct st_bocpd {
	struct st_bocpd_params p;
	double log_h;
	double log_1mh;
	size_t live;            /* slots in use, 0..max_run */
	uint64_t steps;         /* BOCPD steps since the start or reset */
	uint64_t warm_n;
	double *logp;           /* [max_run] ln P(r = slot + 1 | x_1:t) */
	uint32_t *count;        /* [max_run] observations in the run */
	double *mu;             /* [max_run * n_dim] */
	double *beta;           /* [max_run * n_dim] */
	double *warm_mean;      /* [n_dim] */
	double *warm_m2;        /* [n_dim] */
	double *sd;             /* [n_dim] frozen standardisation */
	double *z;              /* [n_dim] scratch: the standardised input */
	struct st_bocpd_stats stats;
};

static bool params_valid(const struct st_bocpd_params *p)
{
	return p && p->n_dim >= 1 && p->n_dim <= ST_BOCPD_MAX_DIM &&
	       p->hazard > 0 && p->hazard < 1 && p->max_run >= 2 &&
	       p->max_run <= 100000 && p->short_run >= 1 &&
	       isfinite(p->prior_mean) && p->prior_kappa > 0 && isfinite(p->prior_kappa) &&
	       p->prior_alpha > 0 && isfinite(p->prior_alpha) &&
	       p->prior_beta > 0 && isfinite(p->prior_beta);
}

struct st_bocpd *st_bocpd_create(const struct st_bocpd_params *p)
{
	struct st_bocpd *b;
	size_t r, d;

	if (!params_valid(p)) {
		errno = EINVAL;
		return NULL;
	}
	r = p->max_run;
	d = p->n_dim;
	b = calloc(1, sizeof(*b));
	if (!b)
		goto out_nomem;
	b->logp = calloc(r, sizeof(double));
	b->count = calloc(r, sizeof(uint32_t));
	b->mu = calloc(r * d, sizeof(double));
	b->beta = calloc(r * d, sizeof(double));
	b->warm_mean = calloc(4 * d, sizeof(double));
	if (!b->logp || !b->count || !b->mu || !b->beta || !b->warm_mean)
		goto out_free;
	b->warm_m2 = b->warm_mean + d;
	b->sd = b->warm_mean + 2 * d;
	b->z = b->warm_mean + 3 * d;
	b->p = *p;
	b->log_h = log(p->hazard);
	b->log_1mh = log1p(-p->hazard);
	st_bocpd_reset(b);
	return b;

out_free:
	st_bocpd_destroy(b);
out_nomem:
	errno = ENOMEM;
	return NULL;
}

void st_bocpd_destroy(struct st_bocpd *b)
{
	if (!b)
		return;
	free(b->logp);
	free(b->count);
	free(b->mu);
	free(b->beta);
	free(b->warm_mean);
	free(b);
}

void st_bocpd_reset(struct st_bocpd *b)
{
	size_t d;

	if (!b)
		return;
	b->live = 0;
	b->steps = 0;
	b->warm_n = 0;
	for (d = 0; d < b->p.n_dim; d++) {
		b->warm_mean[d] = 0;
		b->warm_m2[d] = 0;
		b->sd[d] = 1;
	}
}

/* lgamma() writes the global signgam: lgamma_r keeps instances thread-safe. */
static double log_gamma(double a)
{
	int sign;

	return lgamma_r(a, &sign);
}

/* ln Student-t predictive of z under NG(mu, kappa, alpha, beta). */
static double log_pred(double z, double mu, double kappa, double alpha,
		       double beta, double lgamma_ratio)
{
	double nu = 2 * alpha;
	double s2 = beta * (kappa + 1) / (alpha * kappa);
	double dz = z - mu;

	return lgamma_ratio - 0.5 * log(nu * M_PI * s2) -
	       (alpha + 0.5) * log1p(dz * dz / (nu * s2));
}

/* Sum over dimensions of ln p(z | slot's run, or the prior when slot < 0). */
static double slot_log_pred(const struct st_bocpd *b, long slot)
{
	const struct st_bocpd_params *p = &b->p;
	double n = slot < 0 ? 0 : b->count[slot];
	double kappa = p->prior_kappa + n, alpha = p->prior_alpha + n / 2;
	double lg = log_gamma(alpha + 0.5) - log_gamma(alpha), sum = 0;
	size_t d;

	for (d = 0; d < p->n_dim; d++) {
		double mu = slot < 0 ? p->prior_mean : b->mu[slot * p->n_dim + d];
		double beta = slot < 0 ? p->prior_beta : b->beta[slot * p->n_dim + d];

		sum += log_pred(b->z[d], mu, kappa, alpha, beta, lg);
	}
	return sum;
}

/* Posterior update of slot `from`'s statistics with z, written to `to`. */
static void slot_grow(struct st_bocpd *b, size_t from, size_t to)
{
	size_t d, nd = b->p.n_dim;
	double kappa = b->p.prior_kappa + b->count[from];

	for (d = 0; d < nd; d++) {
		double mu = b->mu[from * nd + d], dz = b->z[d] - mu;

		b->beta[to * nd + d] = b->beta[from * nd + d] +
				       kappa * dz * dz / (2 * (kappa + 1));
		b->mu[to * nd + d] = (kappa * mu + b->z[d]) / (kappa + 1);
	}
	b->count[to] = b->count[from] + 1;
}

static void slot_open(struct st_bocpd *b)
{
	size_t d, nd = b->p.n_dim;
	double k0 = b->p.prior_kappa, m0 = b->p.prior_mean;

	for (d = 0; d < nd; d++) {
		double dz = b->z[d] - m0;

		b->beta[d] = b->p.prior_beta + k0 * dz * dz / (2 * (k0 + 1));
		b->mu[d] = (k0 * m0 + b->z[d]) / (k0 + 1);
	}
	b->count[0] = 1;
}

static double log_add(double a, double c)
{
	if (a == -INFINITY)
		return c;
	if (c == -INFINITY)
		return a;
	return a > c ? a + log1p(exp(c - a)) : c + log1p(exp(a - c));
}

/* True while the standardisation is still being learnt. */
static bool warm_step(struct st_bocpd *b, const double *x)
{
	size_t d;

	if (b->warm_n >= b->p.warmup)
		return false;
	b->warm_n++;
	for (d = 0; d < b->p.n_dim; d++) {
		double delta = x[d] - b->warm_mean[d];

		b->warm_mean[d] += delta / (double)b->warm_n;
		b->warm_m2[d] += delta * (x[d] - b->warm_mean[d]);
	}
	if (b->warm_n == b->p.warmup) {
		for (d = 0; d < b->p.n_dim; d++) {
			double var = b->p.warmup > 1 ?
				     b->warm_m2[d] / (double)(b->p.warmup - 1) : 0;
			double scale = fmax(1, fabs(b->warm_mean[d]));

			b->sd[d] = sqrt(fmax(var, 1e-12 * scale * scale));
		}
	}
	return true;
}

/*
 * Moves every live run one step longer (from the top down, in place) and
 * opens the new run in slot 0.  Returns ln p(x_t | x_1:t-1) before
 * normalisation.
 */
static double grow_runs(struct st_bocpd *b)
{
	size_t cap = b->p.max_run, j;
	double evidence = -INFINITY, top = -INFINITY;
	bool merge = b->live == cap;

	if (merge) {
		/* the top slot grows onto itself */
		top = b->logp[cap - 1] + slot_log_pred(b, (long)cap - 1) + b->log_1mh;
		slot_grow(b, cap - 1, cap - 1);
		b->stats.capped++;
	}
	for (j = b->live - (merge ? 1 : 0); j-- > 0;) {
		double g = b->logp[j] + slot_log_pred(b, (long)j) + b->log_1mh;

		if (j + 1 == cap - 1 && merge) {
			if (g > top)
				slot_grow(b, j, j + 1);
			b->logp[j + 1] = log_add(top, g);
		} else {
			slot_grow(b, j, j + 1);
			b->logp[j + 1] = g;
		}
	}
	/* the first observation opens the only run: no hazard factor */
	b->logp[0] = (b->live ? b->log_h : 0) + slot_log_pred(b, -1);
	slot_open(b);
	if (b->live < cap)
		b->live++;
	for (j = 0; j < b->live; j++)
		evidence = log_add(evidence, b->logp[j]);
	for (j = 0; j < b->live; j++)
		b->logp[j] -= evidence;
	return evidence;
}

int st_bocpd_update(struct st_bocpd *b, const double *x, struct st_bocpd_result *out)
{
	size_t d, j, best = 0;
	double evidence, change = 0;

	for (d = 0; d < b->p.n_dim; d++) {
		if (!isfinite(x[d])) {
			b->stats.rejected++;
			return -EINVAL;
		}
	}
	b->stats.accepted++;
	if (warm_step(b, x)) {
		if (out)
			*out = (struct st_bocpd_result){ .warming = true };
		return 0;
	}
	for (d = 0; d < b->p.n_dim; d++)
		b->z[d] = b->p.warmup ? (x[d] - b->warm_mean[d]) / b->sd[d] : x[d];
	evidence = grow_runs(b);
	b->steps++;
	if (!out)
		return 0;
	for (j = 0; j < b->live; j++) {
		/* the run holding every observation so far is no change */
		if (j < b->p.short_run && j + 1 < b->steps)
			change += exp(b->logp[j]);
		if (b->logp[j] > b->logp[best])
			best = j;
	}
	change = fmin(1, fmax(0, change));
	*out = (struct st_bocpd_result){
		.change_prob = change,
		.map_run = (unsigned)best + 1,
		.score = change,
		.log_evidence = evidence,
	};
	return 0;
}

void st_bocpd_stats(const struct st_bocpd *b, struct st_bocpd_stats *out)
{
	*out = b->stats;
}

size_t st_bocpd_run_probs(const struct st_bocpd *b, double *probs, size_t n)
{
	size_t j;

	for (j = 0; j < n; j++)
		probs[j] = j < b->live ? exp(b->logp[j]) : 0;
	return b->live;
}
