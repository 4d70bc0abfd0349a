/*
 * Spectrum of a real series with FFTW3 (definitions and thread safety in
 * spectrum.h).
 *
 * Layout.  A module-private list of plans, one per length, each with a
 * reference count, guarded by plan_lock: creating 1,000 streams' states
 * with 100 ticks makes one plan.  A workspace holds a pointer to its plan
 * and its own fftw_malloc'd arrays: the detrended input (n doubles), the
 * half-complex output (n/2 + 1 complex) and the power (n/2 + 1 doubles).
 * Planning uses FFTW_ESTIMATE, which neither measures nor overwrites the
 * arrays, so a plan can be made on any workspace's arrays.
 */
#include "control/features/spectrum.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include <fftw3.h>

struct spectrum_plan {
	struct spectrum_plan *next;
	unsigned n;
	unsigned refs;
	fftw_plan plan;
};

struct st_spectrum {
	unsigned n;
	unsigned bins;              /* n / 2 */
	struct spectrum_plan *plan;
	double *in;                 /* n, detrended input */
	fftw_complex *out;          /* n/2 + 1 */
	double *power;              /* n/2 + 1 */
	int zero;                   /* last compute: spectrum zero */
	double power_total;
};

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct spectrum_plan *plans;  /* guarded by plan_lock */

/* The shared plan for sp->n, made on sp's arrays if there is none yet.
 * Called with plan_lock held. */
static struct spectrum_plan *plan_get_locked(struct st_spectrum *sp)
{
	struct spectrum_plan *p;

	for (p = plans; p; p = p->next) {
		if (p->n == sp->n) {
			p->refs++;
			return p;
		}
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->plan = fftw_plan_dft_r2c_1d((int)sp->n, sp->in, sp->out,
				       FFTW_ESTIMATE);
	if (!p->plan) {
		free(p);
		return NULL;
	}
	p->n = sp->n;
	p->refs = 1;
	p->next = plans;
	plans = p;
	return p;
}

static void plan_put_locked(struct spectrum_plan *p)
{
	struct spectrum_plan **link;

	if (--p->refs)
		return;
	for (link = &plans; *link != p; link = &(*link)->next)
		;
	*link = p->next;
	fftw_destroy_plan(p->plan);
	free(p);
}

struct st_spectrum *st_spectrum_create(unsigned n)
{
	struct st_spectrum *sp;

	if (n < ST_SPECTRUM_N_MIN || n > ST_SPECTRUM_N_MAX) {
		errno = EINVAL;
		return NULL;
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		goto out_enomem;
	sp->n = n;
	sp->bins = n / 2;
	sp->in = fftw_malloc(sizeof(double) * n);
	sp->out = fftw_malloc(sizeof(fftw_complex) * (sp->bins + 1));
	sp->power = fftw_malloc(sizeof(double) * (sp->bins + 1));
	if (!sp->in || !sp->out || !sp->power)
		goto out_free_arrays;
	sp->zero = 1;
	pthread_mutex_lock(&plan_lock);
	sp->plan = plan_get_locked(sp);
	pthread_mutex_unlock(&plan_lock);
	if (!sp->plan)
		goto out_free_arrays;
	return sp;

out_free_arrays:
	fftw_free(sp->power);
	fftw_free(sp->out);
	fftw_free(sp->in);
	free(sp);
out_enomem:
	errno = ENOMEM;
	return NULL;
}

void st_spectrum_destroy(struct st_spectrum *sp)
{
	if (!sp)
		return;
	pthread_mutex_lock(&plan_lock);
	plan_put_locked(sp->plan);
	pthread_mutex_unlock(&plan_lock);
	fftw_free(sp->power);
	fftw_free(sp->out);
	fftw_free(sp->in);
	free(sp);
}

unsigned st_spectrum_length(const struct st_spectrum *sp)
{
	return sp->n;
}

const double *st_spectrum_power(const struct st_spectrum *sp)
{
	return sp->power;
}

/* Loads x detrended into sp->in; 0, or -EINVAL for a non-finite value.
 * *energy gets sum (x - mean)^2, *raw_energy sum x^2. */
static int load_detrended(struct st_spectrum *sp, const double *x,
			  double *energy, double *raw_energy)
{
	double sum = 0, raw = 0, detrended = 0, mean;

	for (unsigned j = 0; j < sp->n; j++) {
		if (!isfinite(x[j]))
			return -EINVAL;
		sum += x[j];
		raw += x[j] * x[j];
	}
	if (!isfinite(sum) || !isfinite(raw))
		return -EINVAL;
	mean = sum / sp->n;
	for (unsigned j = 0; j < sp->n; j++) {
		sp->in[j] = x[j] - mean;
		detrended += sp->in[j] * sp->in[j];
	}
	*energy = detrended;
	*raw_energy = raw;
	return 0;
}

static unsigned dominant_bin(const double *power, unsigned bins)
{
	unsigned best = 1;

	for (unsigned k = 2; k <= bins; k++)
		if (power[k] > power[best] * (1.0 + ST_SPECTRUM_TIE_REL))
			best = k;
	return best;
}

/* Geometric / arithmetic mean of the band powers (spectrum.h). */
static double band_flatness(const double *power, unsigned bins)
{
	unsigned bands = (bins + ST_SPECTRUM_BAND_BINS - 1) / ST_SPECTRUM_BAND_BINS;
	double arith = 0, log_sum = 0, eps, ratio;

	for (unsigned b = 0; b < bands; b++) {
		unsigned lo = 1 + b * ST_SPECTRUM_BAND_BINS, width = 0;
		double band = 0;

		for (unsigned k = lo; k <= bins && width < ST_SPECTRUM_BAND_BINS; k++, width++)
			band += power[k];
		arith += band / width;
	}
	arith /= bands;
	eps = ST_SPECTRUM_FLATNESS_EPS_REL * arith;
	for (unsigned b = 0; b < bands; b++) {
		unsigned lo = 1 + b * ST_SPECTRUM_BAND_BINS, width = 0;
		double band = 0;

		for (unsigned k = lo; k <= bins && width < ST_SPECTRUM_BAND_BINS; k++, width++)
			band += power[k];
		log_sum += log(band / width + eps);
	}
	ratio = exp(log_sum / bands) / (arith + eps);
	return ratio < 0 ? 0 : ratio > 1 ? 1 : ratio;
}

int st_spectrum_compute(struct st_spectrum *sp, const double *x, double step_s,
			struct st_spectrum_figures *out)
{
	double energy, raw_energy, total = 0;
	int err;

	if (!isfinite(step_s) || step_s <= 0)
		return -EINVAL;
	err = load_detrended(sp, x, &energy, &raw_energy);
	if (err)
		return err;
	fftw_execute_dft_r2c(sp->plan->plan, sp->in, sp->out);
	for (unsigned k = 0; k <= sp->bins; k++) {
		sp->power[k] = sp->out[k][0] * sp->out[k][0] +
			       sp->out[k][1] * sp->out[k][1];
		if (k)
			total += sp->power[k];
	}
	out->bins = sp->bins;
	sp->zero = energy == 0 || energy <= ST_SPECTRUM_ZERO_REL * raw_energy ||
		   total <= 0;
	if (sp->zero) {
		sp->power_total = 0;
		out->dominant_bin = 0;
		out->dominant_period_s = 0;
		out->flatness = 1;
		out->power_total = 0;
		out->zero = 1;
		return 0;
	}
	sp->power_total = total;
	out->dominant_bin = dominant_bin(sp->power, sp->bins);
	out->dominant_period_s = (double)sp->n * step_s / out->dominant_bin;
	out->flatness = band_flatness(sp->power, sp->bins);
	out->power_total = total;
	out->zero = 0;
	return 0;
}

int st_spectrum_normalized(const struct st_spectrum *sp, double *p,
			   unsigned bins)
{
	if (bins != sp->bins)
		return -EINVAL;
	if (sp->zero)
		return -ENODATA;
	for (unsigned k = 1; k <= bins; k++)
		p[k - 1] = sp->power[k] / sp->power_total;
	return 0;
}

double st_spectrum_hellinger(const double *p, const double *q, unsigned bins)
{
	double affinity = 0, h2;

	for (unsigned k = 0; k < bins; k++)
		affinity += sqrt(p[k] * q[k]);
	h2 = 1.0 - affinity;
	if (!(h2 > 0))
		return 0;
	return h2 >= 1 ? 1 : sqrt(h2);
}

int st_spectrum_analyze(const double *x, size_t n, double step_s,
			struct st_spectrum_figures *out)
{
	struct st_spectrum *sp;
	int err;

	if (n < ST_SPECTRUM_N_MIN || n > ST_SPECTRUM_N_MAX)
		return -EINVAL;
	sp = st_spectrum_create((unsigned)n);
	if (!sp)
		return -errno;
	err = st_spectrum_compute(sp, x, step_s, out);
	st_spectrum_destroy(sp);
	return err;
}
