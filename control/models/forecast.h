/*
 * Rate forecaster: one per stream, online, bounded memory.  It predicts the
 * stream's record rate h seconds ahead and the first time the forecast
 * crosses the stream's capacity (the signal's horizon_s).
 *
 * Model: two additive layers whose sum is the forecast.
 *
 *  1. A seasonal Holt-Winters model (Winters 1960, additive form as in
 *     Hyndman & Athanasopoulos, "Forecasting: Principles and Practice",
 *     section 8.3) on coarse buckets of step_s seconds: the mean rate of
 *     the updates in a bucket, stamped with their mean time.  Level l,
 *     trend b (per second), m = season_s / step_s seasonal slots s[]; when
 *     bucket y (time t, slot j) closes, with dt the time since the last
 *     bucket:
 *         l' = a (y - s[j]) + (1 - a)(l + b dt)
 *         b' = c (l' - l) / dt + (1 - c) b
 *         s[j] = g (y - l') + (1 - g) s[j]
 *     a = 0.2, c = 0.05, g = 0.3 (fixed; in HW's stability region, g <=
 *     1 - a).  After slot m - 1 the seasonal slots are re-centred on zero
 *     (their mean moves into l, which changes no forecast).  A slot covers
 *     step_s seconds and the seasonal shape is constant within it; slots
 *     are aligned to the Unix epoch, so a day's season starts at 00:00 UTC.
 *     season_s = 0: no season (Holt's linear trend only).
 *
 *  2. A short-term Holt linear model of the residual e = rate - layer 1,
 *     updated on every call (every epoch), so that a surge within minutes
 *     is extrapolated before any bucket closes: level u, trend v (per
 *     second), with per-second constants 0.3 and 0.1 made time-aware, k =
 *     1 - (1 - 0.3)^dt for an update dt seconds after the previous one.
 *     When a bucket closes, u and v are moved by the change of layer 1's
 *     level and trend, so that the sum is continuous and the surge is not
 *     counted twice.
 *
 * Forecast at the last update time t plus h:
 *     F(h) = l + b (t + h - t_l) + s[slot(t + h)] + u + v h,  clamped at 0,
 * a line within each slot.  The horizon is found slot by slot exactly: the
 * first h in [0, max_h] where F(h) >= capacity.
 *
 * Memory: sizeof the handle plus 8 bytes per slot; m <= ST_FORECAST_SLOTS_MAX
 * (a day at 60 s: 1440 slots, 11.5 KiB a stream).  No allocation after
 * create.
 *
 * Thread safety: a forecaster belongs to one thread at a time (the daemon's
 * scoring thread); the const calls may run concurrently with each other.
 */
#ifndef ST_CONTROL_MODELS_FORECAST_H
#define ST_CONTROL_MODELS_FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_FORECAST_SLOTS_MAX 10080u   /* a week at 60 s */
#define ST_FORECAST_STEP_S 60u         /* the usual bucket */
#define ST_FORECAST_WARMUP 3u          /* updates before a horizon is given */

/* Fixed smoothing constants (file head). */
#define ST_FORECAST_ALPHA 0.2          /* layer 1 level, per bucket */
#define ST_FORECAST_BETA 0.05          /* layer 1 trend, per bucket */
#define ST_FORECAST_GAMMA 0.3          /* layer 1 season, per bucket */
#define ST_FORECAST_SHORT_ALPHA 0.3    /* layer 2 level, per second */
#define ST_FORECAST_SHORT_BETA 0.1     /* layer 2 trend, per second */

struct st_forecast;

/* What shadowctl shows of a forecaster. */
struct st_forecast_state {
	uint64_t updates;            /* accepted */
	uint64_t rejected;           /* out of order or not a rate */
	uint64_t buckets;            /* layer 1 buckets closed */
	uint64_t last_ns;            /* time of the last accepted update */
	double level;                /* F(0) without the clamp */
	double trend_per_s;          /* b + v */
	double season_now;           /* s[slot(t)] */
	unsigned slots;              /* m (1 without a season) */
	uint32_t step_s;
};

/*
 * The bucket for a season: the smallest divisor of season_s that is >=
 * ST_FORECAST_STEP_S and leaves at most ST_FORECAST_SLOTS_MAX slots (or
 * season_s itself); ST_FORECAST_STEP_S when season_s is 0.  So a config's
 * season_s (1 day: 60 s, 1440 slots) always has a step.  Any thread.
 */
uint32_t st_forecast_step_for(uint32_t season_s);

/*
 * A forecaster for a season of season_s seconds (config `season_s`; 0 for
 * none) in buckets of step_s seconds.  NULL with errno EINVAL (step_s 0,
 * season_s not a multiple of step_s, more than ST_FORECAST_SLOTS_MAX
 * slots), ENOMEM.  The caller owns it (st_forecast_destroy).
 */
struct st_forecast *st_forecast_create(uint32_t season_s, uint32_t step_s);

/* Frees it; NULL is a no-op. */
void st_forecast_destroy(struct st_forecast *f);

/*
 * One observation: `rate` records/s (finite, >= 0) over the epoch at
 * t_ns (ns since the Unix epoch; the daemon passes the epoch start).
 * Returns 0, or -EINVAL (rate not finite or < 0) or -ERANGE (t_ns not
 * after the last accepted update); a refused update is counted and
 * changes nothing else.  O(1) (O(m) once a season).
 */
int st_forecast_update(struct st_forecast *f, uint64_t t_ns, double rate);

/* At least ST_FORECAST_WARMUP updates accepted. */
bool st_forecast_ready(const struct st_forecast *f);

/*
 * The forecast rate (records/s, >= 0) h_s >= 0 seconds after the last
 * accepted update; NAN before any update or for h_s < 0 or not finite.
 */
double st_forecast_at(const struct st_forecast *f, double h_s);

/*
 * Seconds after the last update at which the forecast first reaches
 * capacity_rps: 0 when it is there already, and < 0 (-1.0) when it does
 * not within max_h_s (config forecast_horizon_s), when capacity_rps <= 0
 * (no capacity configured), or before st_forecast_ready().  Exact within
 * the piecewise-linear forecast (file head).  O(max_h_s / step_s).
 */
double st_forecast_horizon(const struct st_forecast *f, double capacity_rps,
			   double max_h_s);

/* Copies the forecaster's state into *out (for shadowctl).  Owner thread. */
void st_forecast_state(const struct st_forecast *f, struct st_forecast_state *out);

/* Bytes the forecaster holds (handle and slots). */
size_t st_forecast_memory_bytes(const struct st_forecast *f);

#endif
