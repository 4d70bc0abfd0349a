/*
 * Spectrum of a real series with FFTW3: the spectral features of a stream's
 * rate (dominant period, spectral flatness, distance of the normalised
 * spectrum to a baseline).  The per-epoch features run it over the rate
 * ticks of one profile (100 ticks of 10 ms by default); the daemon may run
 * the same code over a longer history of per-epoch rates to find periods of
 * minutes or hours (st_spectrum_analyze()).
 *
 * Definitions, for a series x[0..n) sampled every step_s seconds:
 *   - the mean is removed first: y[j] = x[j] - mean(x) (so the DC bin
 *     carries no power and a level shift does not move the features);
 *   - X[k] = sum_j y[j] exp(-2 pi i j k / n), the unnormalised DFT that
 *     FFTW's r2c transform computes (FFTW manual, "What FFTW Really
 *     Computes", section 4.8.3), and the power P[k] = |X[k]|^2 for
 *     k = 0..n/2; the non-DC bins are k = 1..n/2 ("bins" below);
 *   - the spectrum is zero when the detrended energy sum_j y[j]^2 is 0 or
 *     at most ST_SPECTRUM_ZERO_REL times sum_j x[j]^2 (round-off of a
 *     constant series): then there is no dominant period, the flatness is
 *     1 (every bin equal) and there is no normalised spectrum;
 *   - the dominant bin is the non-DC bin of largest power; scanning from
 *     k = 1 upwards a bin replaces the best only when its power exceeds the
 *     best by more than a relative ST_SPECTRUM_TIE_REL, so ties (to
 *     round-off) go to the lower frequency; dominant period = n step_s / k;
 *   - flatness (Wiener entropy) is the geometric over the arithmetic mean
 *     of the power averaged in bands of ST_SPECTRUM_BAND_BINS adjacent bins
 *     (bins 1..4, 5..8, ...; the last band may be narrower), each band
 *     power plus eps = ST_SPECTRUM_FLATNESS_EPS_REL times the mean band
 *     power, clamped to [0,1].  Bands, not single bins, because a raw
 *     periodogram bin of white noise is exponentially distributed and its
 *     geometric/arithmetic ratio tends to exp(-gamma) = 0.56 however long
 *     the series; averaging 4 bins gives Gamma(4)-distributed bands, whose
 *     ratio tends to exp(psi(4) - ln 4) = 0.878.  A pure tone gives about
 *     eps^((b-1)/b) (below 1e-9 for b >= 4 bands), white noise about 0.88;
 *   - the normalised spectrum is p[k-1] = P[k] / sum of the non-DC power,
 *     k = 1..bins (it sums to 1);
 *   - the distance of two normalised spectra p, q is the Hellinger distance
 *     H = sqrt(1 - sum_k sqrt(p_k q_k)), in [0,1]: 0 for equal spectra, 1
 *     for spectra with no bin in common (a tone that moved to another bin).
 *
 * Thread safety.  FFTW's planner is not thread-safe; only fftw_execute*
 * is.  Plans are therefore made once per length and shared: a
 * module-private cache, guarded by a mutex, holds one FFTW_ESTIMATE plan
 * per length with a reference count; st_spectrum_create() and
 * st_spectrum_destroy() take the mutex, st_spectrum_compute() does not (it
 * executes the shared plan on the workspace's own arrays with the
 * new-array function fftw_execute_dft_r2c(); the arrays come from
 * fftw_malloc, so their alignment is the planning arrays').  Nothing else
 * in the process may call the FFTW planner concurrently with create or
 * destroy (shadowtap has no other FFTW user).  A workspace is owned by one
 * thread at a time; distinct workspaces compute concurrently.
 */
#ifndef ST_CONTROL_SPECTRUM_H
#define ST_CONTROL_SPECTRUM_H

#include <stddef.h>

#define ST_SPECTRUM_N_MIN 2u                 /* one non-DC bin */
#define ST_SPECTRUM_N_MAX (1u << 22)         /* e.g. 48 days of 1 s rates */
#define ST_SPECTRUM_BAND_BINS 4u
#define ST_SPECTRUM_ZERO_REL 1e-20
#define ST_SPECTRUM_TIE_REL 1e-9
#define ST_SPECTRUM_FLATNESS_EPS_REL 1e-12

/* What st_spectrum_compute() finds in one series. */
struct st_spectrum_figures {
	unsigned bins;              /* non-DC bins, n / 2 */
	unsigned dominant_bin;      /* 1..bins; 0 when the spectrum is zero */
	double dominant_period_s;   /* n step_s / dominant_bin; 0 when none */
	double flatness;            /* [0,1]; 1 when the spectrum is zero */
	double power_total;         /* sum of P[1..bins]; 0 when zero */
	int zero;                   /* 1 when the spectrum is zero (above) */
};

struct st_spectrum;

/*
 * A workspace for series of exactly n values, n in ST_SPECTRUM_N_MIN..
 * ST_SPECTRUM_N_MAX: the shared plan for n (made on first use, under the
 * module mutex) and the arrays it runs on (about 4 n doubles).  NULL with
 * errno EINVAL (n out of range) or ENOMEM (arrays or plan).  The caller
 * owns it.  Any thread (serialised with the other creates and destroys).
 */
struct st_spectrum *st_spectrum_create(unsigned n);

/* Frees the workspace and drops its plan reference; the last reference
 * destroys the plan.  NULL is a no-op.  Any thread (serialised as above). */
void st_spectrum_destroy(struct st_spectrum *sp);

/* The length n the workspace was made for. */
unsigned st_spectrum_length(const struct st_spectrum *sp);

/*
 * Computes the spectrum of x[0..n) (n = st_spectrum_length()) sampled every
 * step_s seconds and fills *out.  Returns 0, or -EINVAL when step_s is not
 * finite and > 0 or a value of x is not finite (*out and the workspace's
 * spectrum are then unspecified).  No allocation, no lock, O(n log n).
 * Thread safety: the thread that owns sp.
 */
int st_spectrum_compute(struct st_spectrum *sp, const double *x, double step_s,
			struct st_spectrum_figures *out);

/* The power P[0..n/2] of the last successful compute (P[0], the DC bin, is
 * round-off only).  Points into the workspace; valid until the next compute
 * or destroy. */
const double *st_spectrum_power(const struct st_spectrum *sp);

/*
 * Writes the normalised spectrum of the last compute into p[0..bins),
 * bins = n/2 (p[k-1] for bin k).  Returns 0, or -ENODATA when that
 * spectrum was zero (p untouched), or -EINVAL when bins is not n/2.
 */
int st_spectrum_normalized(const struct st_spectrum *sp, double *p,
			   unsigned bins);

/* Hellinger distance of two normalised spectra of `bins` values each
 * (non-negative, each summing to 1), in [0,1].  Pure function. */
double st_spectrum_hellinger(const double *p, const double *q, unsigned bins);

/*
 * One-shot: st_spectrum_compute() of x[0..n) in a workspace made and freed
 * for the call, for occasional long series (the daemon over the store's
 * history of per-epoch rates, step_s = the epoch).  Returns 0, -EINVAL (n,
 * step_s or a value out of range) or -ENOMEM.  Allocates and may plan:
 * not for a per-epoch path.  Any thread.
 */
int st_spectrum_analyze(const double *x, size_t n, double step_s,
			struct st_spectrum_figures *out);

#endif
