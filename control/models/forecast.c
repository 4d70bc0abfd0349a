/*
 * Rate forecaster: seasonal Holt-Winters on coarse buckets plus a
 * short-term Holt model of the residual.  The model, its constants and its
 * sources are in forecast.h.  Times are seconds since the Unix epoch as
 * doubles (resolution ~0.2 us today); buckets and slots are counted in
 * integer nanoseconds so that their edges are exact.
 */
#include "control/models/forecast.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

struct st_forecast {
	uint64_t step_ns;
	uint32_t step_s;
	unsigned slots;

	/* the open bucket */
	bool bucket_open;
	uint64_t bucket_index;       /* t_ns / step_ns */
	double bucket_rate_sum;
	double bucket_time_sum;
	uint64_t bucket_n;

	/* layer 1: Holt-Winters on buckets */
	bool coarse;                 /* a bucket has closed */
	double level, trend;         /* at level_t; trend per second */
	double level_t;

	/* layer 2: Holt on the residual */
	double short_level, short_trend;
	double last_t;
	uint64_t last_ns;

	uint64_t updates, rejected, buckets;
	double season[];             /* slots */
};

static double seconds(uint64_t t_ns)
{
	return (double)t_ns / 1e9;
}

uint32_t st_forecast_step_for(uint32_t season_s)
{
	if (season_s == 0)
		return ST_FORECAST_STEP_S;
	for (uint32_t step = ST_FORECAST_STEP_S; step < season_s; step++)
		if (season_s % step == 0 && season_s / step <= ST_FORECAST_SLOTS_MAX)
			return step;
	return season_s;
}

struct st_forecast *st_forecast_create(uint32_t season_s, uint32_t step_s)
{
	struct st_forecast *f;
	unsigned slots;

	if (step_s == 0 || season_s % step_s != 0 ||
	    season_s / step_s > ST_FORECAST_SLOTS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	slots = season_s ? season_s / step_s : 1;
	f = calloc(1, sizeof(*f) + slots * sizeof(f->season[0]));
	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	f->step_s = step_s;
	f->step_ns = (uint64_t)step_s * 1000000000ull;
	f->slots = slots;
	return f;
}

void st_forecast_destroy(struct st_forecast *f)
{
	free(f);
}

static unsigned slot_of(const struct st_forecast *f, double t)
{
	return (unsigned)((uint64_t)floor(t / f->step_s) % f->slots);
}

/* Layer 1 without its season: the deseasonalised level at t. */
static double coarse_line(const struct st_forecast *f, double t)
{
	return f->coarse ? f->level + f->trend * (t - f->level_t) : 0.0;
}

static double coarse_at(const struct st_forecast *f, double t)
{
	return f->coarse ? coarse_line(f, t) + f->season[slot_of(f, t)] : 0.0;
}

static void recentre_season(struct st_forecast *f)
{
	double mean = 0.0;

	for (unsigned j = 0; j < f->slots; j++)
		mean += f->season[j];
	mean /= f->slots;
	for (unsigned j = 0; j < f->slots; j++)
		f->season[j] -= mean;
	f->level += mean;
}

/* Feeds the open bucket to layer 1 and keeps the sum of the layers continuous. */
static void close_bucket(struct st_forecast *f)
{
	double y = f->bucket_rate_sum / f->bucket_n;
	double t = f->bucket_time_sum / f->bucket_n;
	unsigned j = (unsigned)(f->bucket_index % f->slots);
	double before = coarse_line(f, f->last_t), trend_before = f->trend;
	bool seasonal = f->slots > 1;

	if (!f->coarse) {
		f->level = y - f->season[j];
		f->trend = 0.0;
		f->coarse = true;
	} else {
		double dt = t - f->level_t, level = f->level;

		f->level = ST_FORECAST_ALPHA * (y - f->season[j]) +
			   (1 - ST_FORECAST_ALPHA) * (level + f->trend * dt);
		if (dt > 0)
			f->trend = ST_FORECAST_BETA * (f->level - level) / dt +
				   (1 - ST_FORECAST_BETA) * f->trend;
	}
	f->level_t = t;
	if (seasonal)
		f->season[j] = ST_FORECAST_GAMMA * (y - f->level) +
			       (1 - ST_FORECAST_GAMMA) * f->season[j];
	f->short_level -= coarse_line(f, f->last_t) - before;
	f->short_trend -= f->trend - trend_before;
	if (seasonal && j == f->slots - 1)
		recentre_season(f);
	f->buckets++;
}

int st_forecast_update(struct st_forecast *f, uint64_t t_ns, double rate)
{
	uint64_t index = t_ns / f->step_ns;
	double t = seconds(t_ns), e;

	if (!isfinite(rate) || rate < 0) {
		f->rejected++;
		return -EINVAL;
	}
	if (f->updates > 0 && t_ns <= f->last_ns) {
		f->rejected++;
		return -ERANGE;
	}
	if (f->bucket_open && index != f->bucket_index) {
		close_bucket(f);
		f->bucket_open = false;
	}
	if (!f->bucket_open) {
		f->bucket_open = true;
		f->bucket_index = index;
		f->bucket_rate_sum = f->bucket_time_sum = 0.0;
		f->bucket_n = 0;
	}
	f->bucket_rate_sum += rate;
	f->bucket_time_sum += t;
	f->bucket_n++;

	e = rate - coarse_at(f, t);
	if (f->updates == 0) {
		f->short_level = e;
		f->short_trend = 0.0;
	} else {
		double dt = t - f->last_t;
		double a = 1 - pow(1 - ST_FORECAST_SHORT_ALPHA, dt);
		double c = 1 - pow(1 - ST_FORECAST_SHORT_BETA, dt);
		double level = f->short_level;

		f->short_level = a * e + (1 - a) * (level + f->short_trend * dt);
		f->short_trend = c * (f->short_level - level) / dt +
				 (1 - c) * f->short_trend;
	}
	f->last_t = t;
	f->last_ns = t_ns;
	f->updates++;
	return 0;
}

bool st_forecast_ready(const struct st_forecast *f)
{
	return f->updates >= ST_FORECAST_WARMUP;
}

/* F(h) before the clamp. */
static double forecast_raw(const struct st_forecast *f, double h)
{
	return coarse_at(f, f->last_t + h) + f->short_level + f->short_trend * h;
}

double st_forecast_at(const struct st_forecast *f, double h_s)
{
	double rate;

	if (f->updates == 0 || !isfinite(h_s) || h_s < 0)
		return NAN;
	rate = forecast_raw(f, h_s);
	return rate > 0 ? rate : 0.0;
}

double st_forecast_horizon(const struct st_forecast *f, double capacity_rps,
			   double max_h_s)
{
	double slope = (f->coarse ? f->trend : 0.0) + f->short_trend;
	double h = 0.0;

	if (!st_forecast_ready(f) || !(capacity_rps > 0) || !(max_h_s >= 0))
		return -1.0;
	/* One line per slot: [h, end) where the season is one value. */
	while (h <= max_h_s) {
		double t = f->last_t + h;
		double end = f->slots > 1 && f->coarse
			? (floor(t / f->step_s) + 1) * f->step_s - f->last_t
			: max_h_s;
		double value = forecast_raw(f, h), cross;

		if (value >= capacity_rps)
			return h;
		if (slope > 0) {
			cross = h + (capacity_rps - value) / slope;
			if (cross <= end && cross <= max_h_s)
				return cross;
		}
		if (end >= max_h_s)
			break;
		h = end > h ? end : h + f->step_s;
	}
	return -1.0;
}

void st_forecast_state(const struct st_forecast *f, struct st_forecast_state *out)
{
	*out = (struct st_forecast_state){
		.updates = f->updates, .rejected = f->rejected,
		.buckets = f->buckets, .last_ns = f->last_ns,
		.level = f->updates ? forecast_raw(f, 0.0) : 0.0,
		.trend_per_s = (f->coarse ? f->trend : 0.0) + f->short_trend,
		.season_now = f->coarse ? f->season[slot_of(f, f->last_t)] : 0.0,
		.slots = f->slots, .step_s = f->step_s,
	};
}

size_t st_forecast_memory_bytes(const struct st_forecast *f)
{
	return sizeof(*f) + f->slots * sizeof(f->season[0]);
}
