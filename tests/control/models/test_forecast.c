/*
 * Rate forecaster against series built here: level + slope t + a seasonal
 * pattern (constant within each slot, the shape the model represents) is
 * forecast exactly after warm-up; a linear ramp crosses a capacity when the
 * arithmetic done here says; a flat series never crosses; refusals and the
 * memory bound.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "control/models/forecast.h"
#include "st_test.h"

#define NS 1000000000ull
#define T0_S 1700000400ull   /* a multiple of 600 (and of 60) */

static double pattern(uint64_t t_s)
{
	/* 10 slots of 60 s in a 600 s season, built here */
	static const double slot_value[10] = { 0, 40, 90, 120, 80, 10, -50, -110, -90, -30 };

	return slot_value[(t_s / 60) % 10];
}

static double seasonal_series(uint64_t t_s)
{
	return 1000.0 + 0.05 * (double)(t_s - T0_S) + pattern(t_s);
}

static void test_seasonal_trend_is_forecast_exactly(void)
{
	struct st_forecast *f = st_forecast_create(600, 60);
	uint64_t t = T0_S, last;
	double worst = 0;
	const double hs[] = { 0, 1, 17, 59, 60, 61, 120, 299, 300, 599, 600, 1234, 3000 };

	CU_ASSERT_FATAL(f != NULL);
	/* 100 seasons of 1 s epochs */
	for (; t < T0_S + 60000; t++)
		CU_ASSERT_EQUAL(st_forecast_update(f, t * NS, seasonal_series(t)), 0);
	last = t - 1;
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		double truth = seasonal_series(last + (uint64_t)hs[i]);
		double err = fabs(st_forecast_at(f, hs[i]) - truth);

		worst = err > worst ? err : worst;
	}
	printf("\n    worst |error| %.3g records/s over h up to 3000 s\n", worst);
	/* Tolerance: 1e-3 records/s on rates ~4000 (2.5e-7 relative). */
	CU_ASSERT(worst < 1e-3);
	st_forecast_destroy(f);
}

static void test_ramp_crosses_when_computed(void)
{
	struct st_forecast *f = st_forecast_create(0, 60);
	uint64_t t;
	double h;

	CU_ASSERT_FATAL(f != NULL);
	for (t = T0_S; t < T0_S + 600; t++)
		CU_ASSERT_EQUAL(st_forecast_update(f, t * NS, 100.0 + 2.0 * (t - T0_S)), 0);
	/* last: 100 + 2 * 599 = 1298; 3000 is (3000 - 1298) / 2 = 851 s later */
	h = st_forecast_horizon(f, 3000.0, 1000.0);
	printf("\n    horizon %.3f s (computed here: 851)\n", h);
	CU_ASSERT(fabs(h - 851.0) <= 1.0);
	/* not within a shorter horizon; at once when already there */
	CU_ASSERT(st_forecast_horizon(f, 3000.0, 800.0) < 0);
	CU_ASSERT_DOUBLE_EQUAL(st_forecast_horizon(f, 1000.0, 60.0), 0.0, 0.0);
	CU_ASSERT(st_forecast_horizon(f, 0.0, 60.0) < 0);
	CU_ASSERT_DOUBLE_EQUAL(st_forecast_at(f, 100.0), 1498.0, 1.0);
	st_forecast_destroy(f);
}

/* A ramp over a daily season: the crossing after the first buckets. */
static void test_surge_within_minutes_is_extrapolated(void)
{
	struct st_forecast *f = st_forecast_create(86400, 60);
	uint64_t t;
	double h;

	CU_ASSERT_FATAL(f != NULL);
	for (t = T0_S; t < T0_S + 3600; t++)
		CU_ASSERT_EQUAL(st_forecast_update(f, t * NS, 500.0), 0);
	/* a surge of +20 records/s every second for 30 s: 500 -> 1080 */
	for (uint64_t i = 1; i <= 30; i++, t++)
		CU_ASSERT_EQUAL(st_forecast_update(f, t * NS, 500.0 + 20.0 * i), 0);
	/* at that slope, 2000 is (2000 - 1100) / 20 = 45 s away; the
	 * short-term trend lags a surge, so a crossing within the 60 s
	 * horizon, and not much before the straight line, is required */
	h = st_forecast_horizon(f, 2000.0, 60.0);
	printf("\n    surge horizon %.2f s (a straight line: 45)\n", h);
	CU_ASSERT(h >= 35.0 && h <= 60.0);
	st_forecast_destroy(f);
}

static void test_flat_never_crosses(void)
{
	struct st_forecast *day = st_forecast_create(86400, st_forecast_step_for(86400));
	struct st_forecast *plain = st_forecast_create(0, 60);
	uint64_t t;

	CU_ASSERT_FATAL(day && plain);
	CU_ASSERT(st_forecast_horizon(plain, 1000.0, 60.0) < 0); /* no data yet */
	for (t = T0_S; t < T0_S + 7200; t++) {
		CU_ASSERT_EQUAL(st_forecast_update(day, t * NS, 500.0), 0);
		CU_ASSERT_EQUAL(st_forecast_update(plain, t * NS, 500.0), 0);
	}
	CU_ASSERT(st_forecast_horizon(day, 1000.0, 86400.0) < 0);
	CU_ASSERT(st_forecast_horizon(plain, 1000.0, 86400.0) < 0);
	CU_ASSERT_DOUBLE_EQUAL(st_forecast_at(day, 3600.0), 500.0, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(st_forecast_at(plain, 3600.0), 500.0, 1e-6);
	st_forecast_destroy(day);
	st_forecast_destroy(plain);
}

static void test_refusals_and_bounds(void)
{
	struct st_forecast *f = st_forecast_create(0, 60);
	struct st_forecast_state st;

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT(isnan(st_forecast_at(f, 0)));
	CU_ASSERT_EQUAL(st_forecast_update(f, 10 * NS, 5.0), 0);
	CU_ASSERT_EQUAL(st_forecast_update(f, 10 * NS, 5.0), -ERANGE);
	CU_ASSERT_EQUAL(st_forecast_update(f, 9 * NS, 5.0), -ERANGE);
	CU_ASSERT_EQUAL(st_forecast_update(f, 11 * NS, NAN), -EINVAL);
	CU_ASSERT_EQUAL(st_forecast_update(f, 11 * NS, -1.0), -EINVAL);
	CU_ASSERT_FALSE(st_forecast_ready(f));
	CU_ASSERT(isnan(st_forecast_at(f, -1.0)));
	st_forecast_state(f, &st);
	CU_ASSERT_EQUAL(st.updates, 1);
	CU_ASSERT_EQUAL(st.rejected, 4);
	CU_ASSERT_EQUAL(st.slots, 1);
	st_forecast_destroy(f);
	st_forecast_destroy(NULL);

	errno = 0;
	CU_ASSERT(st_forecast_create(600, 0) == NULL && errno == EINVAL);
	CU_ASSERT(st_forecast_create(610, 60) == NULL && errno == EINVAL);
	CU_ASSERT(st_forecast_create(ST_FORECAST_SLOTS_MAX * 60 + 60, 60) == NULL);
	CU_ASSERT_EQUAL(st_forecast_step_for(0), 60);
	CU_ASSERT_EQUAL(st_forecast_step_for(86400), 60);
	CU_ASSERT_EQUAL(st_forecast_step_for(7 * 86400), 60);
	CU_ASSERT_EQUAL(st_forecast_step_for(14 * 86400), 120);
	CU_ASSERT_EQUAL(st_forecast_step_for(30), 30);
	f = st_forecast_create(86400, 60);
	CU_ASSERT_FATAL(f != NULL);
	st_forecast_state(f, &st);
	CU_ASSERT_EQUAL(st.slots, 1440);
	CU_ASSERT(st_forecast_memory_bytes(f) >= 1440 * 8 &&
		  st_forecast_memory_bytes(f) < 1440 * 8 + 512);
	st_forecast_destroy(f);
}

ST_TEST_MAIN("control/models/forecast",
	ST_TEST(test_seasonal_trend_is_forecast_exactly),
	ST_TEST(test_ramp_crosses_when_computed),
	ST_TEST(test_surge_within_minutes_is_extrapolated),
	ST_TEST(test_flat_never_crosses),
	ST_TEST(test_refusals_and_bounds))
