/*
 * The reconfiguration policy (control/policy/policy.h) on hand-built
 * configs and inputs.  Every expected decision, count and weight below is
 * worked out by hand from the rules in the header (the arithmetic is in
 * the comments); the decision's JSON is checked with jansson, a parser
 * that is not under test.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/policy/hook.h"
#include "control/policy/policy.h"
#include "st_test.h"

#define S 1000000000ull

/* ---- helpers ---- */

static struct st_config *load_text(const char *text)
{
	char path[] = "/tmp/st-policy-test-XXXXXX";
	char err[512];
	struct st_config *cfg;
	int fd = mkstemp(path);
	size_t len = strlen(text);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	close(fd);
	cfg = st_config_load(path, err, sizeof(err));
	if (!cfg)
		fprintf(stderr, "(load error: %s)\n", err);
	unlink(path);
	CU_ASSERT_FATAL(cfg != NULL);
	return cfg;
}

static struct st_policy *policy_from(const char *text, const struct st_policy_options *opt)
{
	struct st_config *cfg = load_text(text);
	struct st_policy *p = st_policy_create(cfg, opt);

	st_config_destroy(cfg);      /* the policy keeps its own copy */
	CU_ASSERT_FATAL(p != NULL);
	return p;
}

static struct st_policy_stream_input stream(const char *name, double rate, double forecast)
{
	struct st_policy_stream_input s;

	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.records_per_s = rate;
	s.forecast_rps = forecast;
	s.horizon_s = -1;
	return s;
}

/* One epoch over `n` streams; returns the number of decisions. */
static size_t epoch(struct st_policy *p, uint64_t now_ns,
		    const struct st_policy_stream_input *streams, size_t n,
		    uint64_t *first_id)
{
	struct st_policy_input in = { .now_ns = now_ns, .streams = streams, .n_streams = n };
	uint64_t first = 0;
	size_t made = 0;

	CU_ASSERT_EQUAL_FATAL(st_policy_evaluate(p, &in, &first, &made), 0);
	if (first_id)
		*first_id = first;
	return made;
}

static const struct st_policy_decision *only(struct st_policy *p, uint64_t now_ns,
					     const struct st_policy_stream_input *s)
{
	uint64_t first;
	size_t n = epoch(p, now_ns, s, 1, &first);

	CU_ASSERT_EQUAL_FATAL(n, 1);
	return st_policy_find(p, first);
}

/* The weight of backend `name` in d's table, 0 when absent. */
static uint32_t weight_of(const struct st_policy_decision *d, const char *name)
{
	for (size_t i = 0; i < d->n_table; i++)
		if (strcmp(d->table[i].name, name) == 0)
			return d->table[i].weight;
	return 0;
}

/*
 * Four pools with capacity unknown (no scaling): general (normal), bigmem
 * (high), bigmem2 (high, to check that ties go to the first), skew (skew
 * handling), bigskew (high and skew handling).
 */
static const char *class_conf =
	"pools = (\n"
	" { name = \"general\"; },\n"
	" { name = \"bigmem\"; memory_class = \"high\"; },\n"
	" { name = \"bigmem2\"; memory_class = \"high\"; },\n"
	" { name = \"skew\"; skew_handling = true; },\n"
	" { name = \"bigskew\"; memory_class = \"high\"; skew_handling = true; }\n"
	");\n"
	"backends = (\n"
	" { name = \"g1\"; pool = \"general\"; address = \"10.0.0.1\"; },\n"
	" { name = \"m1\"; pool = \"bigmem\"; address = \"10.0.0.2\"; },\n"
	" { name = \"n1\"; pool = \"bigmem2\"; address = \"10.0.0.3\"; },\n"
	" { name = \"s1\"; pool = \"skew\"; address = \"10.0.0.4\"; },\n"
	" { name = \"x1\"; pool = \"bigskew\"; address = \"10.0.0.5\"; }\n"
	");\n"
	"policy = { cooldown_s = 0; hysteresis = 0.1; high_cardinality = 1000;\n"
	"           skew_top1_share = 0.5; };\n";

/* ---- class and pool ---- */

static void test_cardinality_class_with_hysteresis(void)
{
	struct st_policy *p = policy_from(class_conf, NULL);
	struct st_policy_stream_input s = stream("orders", 10, NAN);
	const struct st_policy_decision *d;

	s.cardinality = 999;                     /* < 1000: ordinary */
	d = only(p, 1 * S, &s);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_ASSIGN);
	CU_ASSERT_STRING_EQUAL(d->stream, "orders");
	CU_ASSERT_STRING_EQUAL(d->pool, "general");
	CU_ASSERT_STRING_EQUAL(d->from_pool, "");
	CU_ASSERT_EQUAL(d->triggers, ST_POLICY_TRIGGER_PROFILE);
	s.cardinality = 1000;                    /* >= 1000: high, first high pool */
	d = only(p, 2 * S, &s);
	CU_ASSERT_STRING_EQUAL(d->pool, "bigmem");
	CU_ASSERT_STRING_EQUAL(d->from_pool, "general");
	CU_ASSERT_TRUE(d->inputs.high_cardinality);
	CU_ASSERT_EQUAL(d->inputs.cardinality, 1000);
	s.cardinality = 900;                     /* 1000 x 0.9 = 900, not below: stays */
	CU_ASSERT_EQUAL(epoch(p, 3 * S, &s, 1, NULL), 0);
	s.cardinality = 950;
	CU_ASSERT_EQUAL(epoch(p, 4 * S, &s, 1, NULL), 0);
	s.cardinality = 899.5;                   /* below 900: leaves */
	d = only(p, 5 * S, &s);
	CU_ASSERT_STRING_EQUAL(d->pool, "general");
	CU_ASSERT_FALSE(d->inputs.high_cardinality);
	s.cardinality = 999.9;                   /* back up, not to 1000: stays */
	CU_ASSERT_EQUAL(epoch(p, 6 * S, &s, 1, NULL), 0);
	st_policy_destroy(p);
}

static void test_skew_class_and_ties(void)
{
	struct st_policy *p = policy_from(class_conf, NULL);
	struct st_policy_stream_input s = stream("clicks", 10, NAN);
	const struct st_policy_decision *d;

	s.top1_share = 0.5;                      /* >= 0.5: skewed */
	d = only(p, 1 * S, &s);
	CU_ASSERT_STRING_EQUAL(d->pool, "skew");
	CU_ASSERT_TRUE(d->inputs.skewed);
	s.top1_share = 0.45;                     /* 0.5 x 0.9 = 0.45: stays */
	CU_ASSERT_EQUAL(epoch(p, 2 * S, &s, 1, NULL), 0);
	s.top1_share = 0.44;                     /* below: leaves */
	d = only(p, 3 * S, &s);
	CU_ASSERT_STRING_EQUAL(d->pool, "general");
	/* both: high wins, and the pool with both capabilities is preferred */
	s.top1_share = 0.9;
	s.cardinality = 5000;
	d = only(p, 4 * S, &s);
	CU_ASSERT_STRING_EQUAL(d->pool, "bigskew");
	/* pinned by its rule: that pool, whatever the profile */
	s = stream("pinned", 10, NAN);
	s.cardinality = 5000;
	snprintf(s.pinned_pool, sizeof(s.pinned_pool), "skew");
	d = only(p, 5 * S, &s);
	CU_ASSERT_STRING_EQUAL(d->pool, "skew");
	st_policy_destroy(p);
}

static void test_first_normal_pool_is_the_default(void)
{
	/* no pool is "normal without skew handling" but the second: it is
	 * the default; a high stream with no high pool falls back to it */
	struct st_policy *p = policy_from(
		"pools = ( { name = \"sk\"; skew_handling = true; }, { name = \"plain\"; } );\n"
		"backends = ( { name = \"a\"; pool = \"sk\"; address = \"10.0.0.1\"; },\n"
		"             { name = \"b\"; pool = \"plain\"; address = \"10.0.0.2\"; } );\n"
		"policy = { high_cardinality = 10; };\n", NULL);
	struct st_policy_stream_input s = stream("x", 1, NAN);

	s.cardinality = 50;
	CU_ASSERT_STRING_EQUAL(only(p, 1 * S, &s)->pool, "plain");
	st_policy_destroy(p);
}

static void test_stream_cooldown(void)
{
	char conf[2048];
	struct st_policy *p;
	struct st_policy_stream_input s = stream("orders", 10, NAN);
	const struct st_policy_decision *d;

	snprintf(conf, sizeof(conf), "%s", class_conf);
	*strstr(conf, "cooldown_s = 0") = '\0';
	strcat(conf, "cooldown_s = 10; hysteresis = 0.1; high_cardinality = 1000;\n"
		     "skew_top1_share = 0.5; };\n");
	p = policy_from(conf, NULL);
	CU_ASSERT_STRING_EQUAL(only(p, 100 * S, &s)->pool, "general");  /* new: at once */
	s.cardinality = 2000;
	CU_ASSERT_EQUAL(epoch(p, 101 * S, &s, 1, NULL), 0);     /* 1 s < 10 s */
	CU_ASSERT_EQUAL(epoch(p, 110 * S - 1, &s, 1, NULL), 0); /* 9.999999999 s */
	d = only(p, 110 * S, &s);                               /* 10 s: moves */
	CU_ASSERT_STRING_EQUAL(d->pool, "bigmem");
	s.cardinality = 0;
	CU_ASSERT_EQUAL(epoch(p, 115 * S, &s, 1, NULL), 0);
	CU_ASSERT_STRING_EQUAL(only(p, 120 * S, &s)->pool, "general");
	st_policy_destroy(p);
}

/* ---- scaling ---- */

/* One pool of backends of 1000 records/s: b1 active, b2 and b3 standby.
 * up 0.8, down 0.3: DS2's target is their midpoint 0.55. */
static const char *scale_conf =
	"pools = ( { name = \"p\"; backend_capacity_rps = 1000.0; min_backends = 1; } );\n"
	"backends = (\n"
	" { name = \"b1\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
	" { name = \"b2\"; pool = \"p\"; address = \"10.0.0.2\"; standby = true; },\n"
	" { name = \"b3\"; pool = \"p\"; address = \"10.0.0.3\"; standby = true; }\n"
	");\n"
	"policy = { cooldown_s = 0; scale_up_utilization = 0.8;\n"
	"           scale_down_utilization = 0.3; };\n";

static void test_predictive_fires_before_reactive(void)
{
	struct st_policy_options reactive;
	struct st_policy *p = policy_from(scale_conf, NULL);
	struct st_policy *r;
	struct st_policy_stream_input s = stream("orders", 500, 900);
	const struct st_policy_decision *d;
	uint64_t first;

	/* actual 500/1000 = 0.5 < 0.8; forecast 900/1000 = 0.9 >= 0.8 */
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);    /* assign, scale up */
	d = st_policy_find(p, first + 1);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_UP);
	CU_ASSERT_STRING_EQUAL(d->backend, "b2");
	CU_ASSERT_EQUAL(d->backend_index, 1);
	CU_ASSERT_EQUAL(d->triggers, ST_POLICY_TRIGGER_PREDICTIVE);
	CU_ASSERT_EQUAL(d->n_reasons, 1);
	CU_ASSERT_EQUAL(d->reasons[0].trigger, ST_POLICY_TRIGGER_PREDICTIVE);
	CU_ASSERT_DOUBLE_EQUAL(d->inputs.utilization, 0.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(d->inputs.forecast_utilization, 0.9, 1e-12);
	CU_ASSERT_EQUAL(d->inputs.committed, 1);
	CU_ASSERT_EQUAL(d->inputs.standby, 2);
	/* DS2: ceil(900 / (1000 x 0.55)) = ceil(1.64) = 2 backends */
	CU_ASSERT_EQUAL(d->inputs.ds2_needed, 2);

	st_policy_options_init(&reactive);
	reactive.mode = ST_POLICY_REACTIVE_ONLY;
	r = policy_from(scale_conf, &reactive);
	CU_ASSERT_EQUAL(epoch(r, 1 * S, &s, 1, &first), 1);    /* assign only */
	CU_ASSERT_EQUAL(st_policy_find(r, first)->kind, ST_POLICY_ASSIGN);
	/* the surge arrives: actual 850/1000 = 0.85 >= 0.8, reactive fires */
	s.records_per_s = 850;
	CU_ASSERT_EQUAL(epoch(r, 2 * S, &s, 1, &first), 1);
	d = st_policy_find(r, first);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_UP);
	CU_ASSERT_EQUAL(d->triggers, ST_POLICY_TRIGGER_REACTIVE);
	CU_ASSERT_TRUE(isnan(d->inputs.forecast_rps));   /* pool decision */
	CU_ASSERT_DOUBLE_EQUAL(d->inputs.forecast_utilization, 0.85, 1e-12); /* = actual */
	st_policy_destroy(r);
	st_policy_destroy(p);
}

/* The epoch (from 0) of the first SCALE_UP over a linear surge, or -1. */
static int first_scale_up(struct st_policy *p)
{
	for (int t = 0; t <= 10; t++) {
		/* actual 500 + 50 t; a forecast 5 s ahead: 500 + 50 (t + 5) */
		struct st_policy_stream_input s = stream("surge", 500 + 50.0 * t,
							 500 + 50.0 * (t + 5));
		uint64_t first;
		size_t n = epoch(p, (uint64_t)(t + 1) * S, &s, 1, &first);

		for (size_t i = 0; i < n; i++)
			if (st_policy_find(p, first + i)->kind == ST_POLICY_SCALE_UP)
				return t;
	}
	return -1;
}

static void test_lead_time_side_by_side(void)
{
	/* capacity 1000, up 0.8: the forecast reaches 800 when 750 + 50 t
	 * >= 800, t = 1; the actual rate when 500 + 50 t >= 800, t = 6 */
	struct st_policy_options reactive;
	struct st_policy *p = policy_from(scale_conf, NULL);
	struct st_policy *r;

	st_policy_options_init(&reactive);
	reactive.mode = ST_POLICY_REACTIVE_ONLY;
	r = policy_from(scale_conf, &reactive);
	CU_ASSERT_EQUAL(first_scale_up(p), 1);
	CU_ASSERT_EQUAL(first_scale_up(r), 6);
	st_policy_destroy(r);
	st_policy_destroy(p);
}

static void test_both_triggers_and_ds2_jump(void)
{
	struct st_policy *p = policy_from(scale_conf, NULL);
	struct st_policy_stream_input s = stream("orders", 850, 2000);
	const struct st_policy_decision *d;
	uint64_t first;

	/* need 2000 / 0.55 = 3636 records/s of capacity: b1 1000 + b2 1000 +
	 * b3 1000 = 3000 is short, and no standby is left: both activated */
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 3);
	for (unsigned i = 1; i <= 2; i++) {
		d = st_policy_find(p, first + i);
		CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_UP);
		CU_ASSERT_EQUAL(d->triggers,
				ST_POLICY_TRIGGER_REACTIVE | ST_POLICY_TRIGGER_PREDICTIVE);
		CU_ASSERT_EQUAL(d->inputs.ds2_needed, 4);  /* ceil(2000 / 550) = 4 */
	}
	CU_ASSERT_STRING_EQUAL(st_policy_find(p, first + 1)->backend, "b2");
	CU_ASSERT_STRING_EQUAL(st_policy_find(p, first + 2)->backend, "b3");
	CU_ASSERT_EQUAL(st_policy_find(p, first + 2)->n_table, 3);
	st_policy_destroy(p);
}

static void test_ds2_backends(void)
{
	CU_ASSERT_EQUAL(st_policy_ds2_backends(10000, 20000, 0.5), 1);   /* 10000/10000 */
	CU_ASSERT_EQUAL(st_policy_ds2_backends(10001, 20000, 0.5), 2);
	CU_ASSERT_EQUAL(st_policy_ds2_backends(75000, 20000, 0.75), 5);  /* 75000/15000 */
	CU_ASSERT_EQUAL(st_policy_ds2_backends(75001, 20000, 0.75), 6);
	CU_ASSERT_EQUAL(st_policy_ds2_backends(0, 20000, 0.5), 0);
	CU_ASSERT_EQUAL(st_policy_ds2_backends(5, 0, 0.5), UINT32_MAX);
	CU_ASSERT_EQUAL(st_policy_ds2_backends(5, 100, 0), UINT32_MAX);
}

static void test_ds2_with_unequal_capacities(void)
{
	/* target 0.5: a load of 2000 needs 4000 of capacity.  a (1000) +
	 * big (3000) = 4000 reaches it: only big, not small after it */
	struct st_policy_options opt;
	struct st_policy *p;
	struct st_policy_stream_input s = stream("x", 2000, NAN);
	uint64_t first;

	st_policy_options_init(&opt);
	opt.target_utilization = 0.5;
	p = policy_from(
		"pools = ( { name = \"p\"; } );\n"
		"backends = (\n"
		" { name = \"a\"; pool = \"p\"; address = \"10.0.0.1\"; capacity_rps = 1000.0; },\n"
		" { name = \"big\"; pool = \"p\"; address = \"10.0.0.2\"; standby = true;\n"
		"   capacity_rps = 3000.0; },\n"
		" { name = \"small\"; pool = \"p\"; address = \"10.0.0.3\"; standby = true;\n"
		"   capacity_rps = 500.0; }\n"
		");\n"
		"policy = { cooldown_s = 0; };\n", &opt);
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);
	CU_ASSERT_STRING_EQUAL(st_policy_find(p, first + 1)->backend, "big");
	st_policy_destroy(p);
}

static void test_same_input_decides_once(void)
{
	struct st_policy *p = policy_from(scale_conf, NULL);
	struct st_policy_stream_input s = stream("orders", 500, 900);
	uint64_t first;

	/* epoch 1: assign + scale up (b2 at 25 %); 2: ramp 50 %; 3: ramp
	 * 100 %; then capacity 2000, forecast 0.45 < 0.8 and > 0.3: nothing */
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);
	CU_ASSERT_EQUAL(epoch(p, 2 * S, &s, 1, &first), 1);
	CU_ASSERT_EQUAL(st_policy_find(p, first)->kind, ST_POLICY_REWEIGHT);
	CU_ASSERT_EQUAL(epoch(p, 3 * S, &s, 1, &first), 1);
	CU_ASSERT_EQUAL(st_policy_find(p, first)->kind, ST_POLICY_REWEIGHT);
	for (uint64_t t = 4; t < 10; t++)
		CU_ASSERT_EQUAL(epoch(p, t * S, &s, 1, NULL), 0);
	st_policy_destroy(p);
}

static void test_scale_down_needs_actual_and_forecast_low(void)
{
	const char *conf =
		"pools = ( { name = \"p\"; backend_capacity_rps = 1000.0; min_backends = 1; } );\n"
		"backends = (\n"
		" { name = \"b1\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		" { name = \"b2\"; pool = \"p\"; address = \"10.0.0.2\"; }\n"
		");\n"
		"policy = { cooldown_s = 0; scale_up_utilization = 0.8;\n"
		"           scale_down_utilization = 0.3; };\n";
	struct st_policy_options reactive;
	struct st_policy *p = policy_from(conf, NULL);
	struct st_policy *r;
	struct st_policy_stream_input s = stream("x", 500, 700);
	const struct st_policy_decision *d;
	uint64_t first;

	/* capacity 2000: actual 0.25 <= 0.3 but forecast 0.35 > 0.3: keep */
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, NULL), 1);      /* assign */
	CU_ASSERT_EQUAL(epoch(p, 2 * S, &s, 1, NULL), 0);
	/* actual 0.35, forecast 0.05: keep */
	s.records_per_s = 700;
	s.forecast_rps = 100;
	CU_ASSERT_EQUAL(epoch(p, 3 * S, &s, 1, NULL), 0);
	/* both 0.3 or less: drain the last active (b2); without it
	 * max(500, 600) / 1000 = 0.6 < 0.8 */
	s.records_per_s = 500;
	s.forecast_rps = 600;
	CU_ASSERT_EQUAL(epoch(p, 4 * S, &s, 1, &first), 1);
	d = st_policy_find(p, first);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_DOWN);
	CU_ASSERT_STRING_EQUAL(d->backend, "b2");
	CU_ASSERT_EQUAL(d->n_table, 1);
	CU_ASSERT_STRING_EQUAL(d->table[0].name, "b1");
	/* min_backends 1 holds: no further drain however low */
	s.records_per_s = s.forecast_rps = 1;
	CU_ASSERT_EQUAL(epoch(p, 5 * S, &s, 1, NULL), 0);
	st_policy_destroy(p);

	/* reactive only: the forecast 700 is ignored, actual 0.25 drains */
	st_policy_options_init(&reactive);
	reactive.mode = ST_POLICY_REACTIVE_ONLY;
	r = policy_from(conf, &reactive);
	s = stream("x", 500, 700);
	CU_ASSERT_EQUAL(epoch(r, 1 * S, &s, 1, &first), 2);
	CU_ASSERT_EQUAL(st_policy_find(r, first + 1)->kind, ST_POLICY_SCALE_DOWN);
	st_policy_destroy(r);
}

static void test_drain_that_would_overload_is_refused(void)
{
	/* capacity 2000, load 590: 0.295 <= 0.3; without a backend 0.59 <
	 * 0.6 = up: drained.  With up 0.55: 0.59 >= 0.55: kept. */
	const char *fmt =
		"pools = ( { name = \"p\"; backend_capacity_rps = 1000.0; min_backends = 1; } );\n"
		"backends = ( { name = \"b1\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		"             { name = \"b2\"; pool = \"p\"; address = \"10.0.0.2\"; } );\n"
		"policy = { cooldown_s = 0; scale_up_utilization = %s;\n"
		"           scale_down_utilization = 0.3; };\n";
	char conf[1024];
	struct st_policy *p;
	struct st_policy_stream_input s = stream("x", 590, 590);

	snprintf(conf, sizeof(conf), fmt, "0.6");
	p = policy_from(conf, NULL);
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, NULL), 2);
	st_policy_destroy(p);
	snprintf(conf, sizeof(conf), fmt, "0.55");
	p = policy_from(conf, NULL);
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, NULL), 1);
	st_policy_destroy(p);
}

static void test_min_and_max_backends(void)
{
	struct st_policy *p = policy_from(
		"pools = ( { name = \"p\"; backend_capacity_rps = 1000.0;\n"
		"            min_backends = 2; max_backends = 2; } );\n"
		"backends = (\n"
		" { name = \"b1\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		" { name = \"b2\"; pool = \"p\"; address = \"10.0.0.2\"; standby = true; },\n"
		" { name = \"b3\"; pool = \"p\"; address = \"10.0.0.3\"; standby = true; }\n"
		");\n"
		"policy = { cooldown_s = 0; };\n", NULL);
	struct st_policy_stream_input s = stream("x", 0, NAN);
	const struct st_policy_decision *d;
	struct st_policy_stats stats;
	uint64_t first;

	/* no load at all, yet 1 committed < min 2: b2 joins (bounds) */
	CU_ASSERT_EQUAL(epoch(p, 1 * S, NULL, 0, &first), 1);
	d = st_policy_find(p, first);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_UP);
	CU_ASSERT_STRING_EQUAL(d->backend, "b2");
	CU_ASSERT_EQUAL(d->triggers, ST_POLICY_TRIGGER_BOUNDS);
	CU_ASSERT_EQUAL(epoch(p, 2 * S, NULL, 0, NULL), 1);     /* ramp 50 % */
	CU_ASSERT_EQUAL(epoch(p, 3 * S, NULL, 0, NULL), 1);     /* ramp 100 % */
	/* 2000 of 2000: utilization 1 >= 0.8, but max_backends 2: blocked */
	s.records_per_s = 2000;
	CU_ASSERT_EQUAL(epoch(p, 4 * S, &s, 1, NULL), 1);       /* the assign only */
	st_policy_stats(p, &stats);
	CU_ASSERT_EQUAL(stats.scale_up_blocked, 1);
	/* idle: 0 <= 0.3 but 2 committed = min 2: no drain */
	s.records_per_s = 0;
	CU_ASSERT_EQUAL(epoch(p, 5 * S, &s, 1, NULL), 0);
	st_policy_destroy(p);
}

static void test_pool_cooldown(void)
{
	struct st_policy *p = policy_from(
		"pools = ( { name = \"p\"; backend_capacity_rps = 1000.0; } );\n"
		"backends = (\n"
		" { name = \"b1\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		" { name = \"b2\"; pool = \"p\"; address = \"10.0.0.2\"; standby = true; },\n"
		" { name = \"b3\"; pool = \"p\"; address = \"10.0.0.3\"; standby = true; }\n"
		");\n"
		"policy = { cooldown_s = 10; };\n", NULL);
	struct st_policy_stream_input s = stream("x", 850, NAN);
	uint64_t first;

	/* 850/1000 = 0.85: b2 (need 850/0.55 = 1545: 2000 suffices) */
	CU_ASSERT_EQUAL(epoch(p, 100 * S, &s, 1, NULL), 2);
	/* the surge doubles: 1700/2000 = 0.85 again, but within 10 s */
	s.records_per_s = 1700;
	CU_ASSERT_EQUAL(epoch(p, 101 * S, &s, 1, NULL), 1);     /* ramp 50 % */
	CU_ASSERT_EQUAL(epoch(p, 102 * S, &s, 1, NULL), 1);     /* ramp 100 % */
	CU_ASSERT_EQUAL(epoch(p, 109 * S, &s, 1, NULL), 0);
	CU_ASSERT_EQUAL(epoch(p, 110 * S, &s, 1, &first), 1);   /* 10 s: b3 */
	CU_ASSERT_STRING_EQUAL(st_policy_find(p, first)->backend, "b3");
	st_policy_destroy(p);
}

static void test_reactive_metrics_trigger(void)
{
	struct st_policy_options opt;
	struct st_policy *p;
	struct st_policy_stream_input s = stream("x", 100, 100);
	struct st_policy_backend_metrics m = {
		.backend = 0, .records_per_s = NAN, .bytes_per_s = NAN,
		.retransmissions_per_s = NAN, .zero_windows_per_s = NAN,
		.latency_p99_ms = 250,
	};
	struct st_policy_input in = { .now_ns = 1 * S, .streams = &s, .n_streams = 1,
				      .metrics = &m, .n_metrics = 1 };
	const struct st_policy_decision *d;
	uint64_t first;
	size_t n;

	st_policy_options_init(&opt);
	opt.latency_p99_ms_max = 200;
	p = policy_from(scale_conf, &opt);
	/* utilization 0.1, yet b1's p99 250 ms > 200 ms: reactive */
	CU_ASSERT_EQUAL(st_policy_evaluate(p, &in, &first, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	d = st_policy_find(p, first + 1);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_UP);
	CU_ASSERT_EQUAL(d->triggers, ST_POLICY_TRIGGER_REACTIVE);
	CU_ASSERT_EQUAL(d->inputs.worst_latency_p99_ms, 250);
	CU_ASSERT_PTR_NOT_NULL(strstr(d->reasons[0].text, "latency"));
	st_policy_destroy(p);
	/* a backend's own records/s at 0.8 of its capacity is reactive too */
	p = policy_from(scale_conf, NULL);
	m.latency_p99_ms = NAN;
	m.records_per_s = 850;                   /* >= 0.8 x 1000 */
	CU_ASSERT_EQUAL(st_policy_evaluate(p, &in, &first, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(st_policy_find(p, first + 1)->triggers, ST_POLICY_TRIGGER_REACTIVE);
	st_policy_destroy(p);
}

static void test_horizon_when_capacity_unknown(void)
{
	const char *conf =
		"pools = ( { name = \"p\"; } );\n"
		"backends = ( { name = \"b1\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		"             { name = \"b2\"; pool = \"p\"; address = \"10.0.0.2\"; standby = true; } );\n"
		"policy = { cooldown_s = 0; };\n";
	struct st_policy_options reactive;
	struct st_policy *p = policy_from(conf, NULL);
	struct st_policy_stream_input s = stream("x", 100, 150);
	const struct st_policy_decision *d;
	uint64_t first;

	s.horizon_s = 42;
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);
	d = st_policy_find(p, first + 1);
	CU_ASSERT_EQUAL(d->triggers, ST_POLICY_TRIGGER_PREDICTIVE);
	CU_ASSERT_EQUAL(d->inputs.min_horizon_s, 42);
	CU_ASSERT_TRUE(isnan(d->inputs.capacity_rps));
	st_policy_destroy(p);
	st_policy_options_init(&reactive);
	reactive.mode = ST_POLICY_REACTIVE_ONLY;
	p = policy_from(conf, &reactive);
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, NULL), 1);
	st_policy_destroy(p);
}

/* ---- ramp, hook, dry run, results ---- */

static const char *ramp_conf_fmt =
	"pools = ( { name = \"general\"; backend_capacity_rps = 20000.0; } );\n"
	"backends = (\n"
	" { name = \"b1\"; pool = \"general\"; address = \"10.0.0.2\"; },\n"
	" { name = \"b2\"; pool = \"general\"; address = \"10.0.0.3\"; standby = true;\n"
	"   capacity_rps = 30000.0; }\n"
	");\n"
	"actuators = { dry_run = %s; hook = { command = [ %s ]; }; };\n"
	"policy = { cooldown_s = 0; };\n";

static struct st_policy *ramp_policy(const char *dry, const char *hook)
{
	char conf[1024];

	snprintf(conf, sizeof(conf), ramp_conf_fmt, dry, hook);
	return policy_from(conf, NULL);
}

static void test_weight_ramp(void)
{
	struct st_policy *p = ramp_policy("false", "");
	struct st_policy_stream_input s = stream("x", 18000, NAN);
	const struct st_policy_decision *d;
	struct st_actuator_backend t[4];
	uint64_t first;
	size_t n;

	/* alone, b1 is the largest: 1000 */
	CU_ASSERT_EQUAL(st_policy_pool_table(p, 0, t, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(t[0].weight, 1000);
	/* 18000/20000 = 0.9: b2 joins.  Weights by capacity: b1
	 * round(1000 x 20000/30000) = 667, b2 1000; b2 ramps 250, 500, 1000 */
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);
	d = st_policy_find(p, first + 1);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_UP);
	CU_ASSERT_FALSE(d->run_hook);
	CU_ASSERT_EQUAL(d->n_table, 2);
	CU_ASSERT_EQUAL(weight_of(d, "b1"), 667);
	CU_ASSERT_EQUAL(weight_of(d, "b2"), 250);
	CU_ASSERT_EQUAL(d->table[1].id, 1);
	d = only(p, 2 * S, &s);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_REWEIGHT);
	CU_ASSERT_EQUAL(d->triggers, ST_POLICY_TRIGGER_RAMP);
	CU_ASSERT_EQUAL(weight_of(d, "b1"), 667);
	CU_ASSERT_EQUAL(weight_of(d, "b2"), 500);
	d = only(p, 3 * S, &s);
	CU_ASSERT_EQUAL(weight_of(d, "b2"), 1000);
	/* 18000/50000 = 0.36: between the thresholds, nothing more */
	CU_ASSERT_EQUAL(epoch(p, 4 * S, &s, 1, NULL), 0);
	st_policy_destroy(p);
}

static void test_ramp_waits_for_the_hook(void)
{
	struct st_policy *p = ramp_policy("false", "\"/bin/true\"");
	struct st_policy_stream_input s = stream("x", 18000, NAN);
	const struct st_policy_decision *d;
	uint64_t first, up_id;
	const char *state;
	uint32_t w;

	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);
	d = st_policy_find(p, first + 1);
	up_id = d->id;
	CU_ASSERT_TRUE(d->run_hook);
	CU_ASSERT_EQUAL(d->n_table, 1);                    /* b2 not yet in */
	CU_ASSERT_EQUAL(weight_of(d, "b1"), 1000);
	CU_ASSERT_EQUAL(st_policy_backend_state(p, 1, &state, &w), 0);
	CU_ASSERT_STRING_EQUAL(state, "provisioning");
	CU_ASSERT_EQUAL(w, 0);
	/* the hook runs: nothing moves, and no second scale-up (committed
	 * capacity counts b2: 18000/50000) */
	CU_ASSERT_EQUAL(epoch(p, 2 * S, &s, 1, NULL), 0);
	CU_ASSERT_EQUAL(st_policy_hook_done(p, up_id, true), 0);
	CU_ASSERT_EQUAL(st_policy_hook_done(p, up_id, true), -ENOENT);  /* once */
	d = only(p, 3 * S, &s);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_REWEIGHT);
	CU_ASSERT_EQUAL(weight_of(d, "b2"), 250);
	CU_ASSERT_EQUAL(weight_of(only(p, 4 * S, &s), "b2"), 500);
	CU_ASSERT_EQUAL(weight_of(only(p, 5 * S, &s), "b2"), 1000);
	st_policy_destroy(p);

	/* a hook that fails: b2 back to standby, and the trigger tries again */
	p = ramp_policy("false", "\"/bin/true\"");
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);
	up_id = first + 1;
	CU_ASSERT_EQUAL(st_policy_hook_done(p, up_id, false), 0);
	CU_ASSERT_EQUAL(st_policy_backend_state(p, 1, &state, &w), 0);
	CU_ASSERT_STRING_EQUAL(state, "standby");
	d = only(p, 2 * S, &s);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_UP);
	CU_ASSERT_NOT_EQUAL(d->id, up_id);
	st_policy_destroy(p);
}

static void test_hook_done_after_the_log_moved_on(void)
{
	char conf[1024];
	struct st_policy_options opt;
	struct st_policy *p;
	struct st_policy_stream_input s[3] = {
		stream("x", 18000, NAN), stream("y", 0, NAN), stream("z", 0, NAN),
	};
	const struct st_policy_decision *d;
	uint64_t first;

	st_policy_options_init(&opt);
	opt.log_max = 2;                          /* 1 assignment an epoch */
	snprintf(conf, sizeof(conf), ramp_conf_fmt, "false", "\"/bin/true\"");
	p = policy_from(conf, &opt);
	CU_ASSERT_EQUAL(epoch(p, 1 * S, s, 1, &first), 2);   /* assign x, b2 up */
	CU_ASSERT_TRUE(st_policy_find(p, first + 1)->run_hook);
	CU_ASSERT_EQUAL(epoch(p, 2 * S, s, 2, NULL), 1);     /* assign y */
	CU_ASSERT_EQUAL(epoch(p, 3 * S, s, 3, NULL), 1);     /* assign z */
	CU_ASSERT_PTR_NULL(st_policy_find(p, first + 1));    /* left the log */
	CU_ASSERT_EQUAL(st_policy_hook_done(p, first + 1, true), 0);
	d = only(p, 4 * S, s);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_REWEIGHT);
	CU_ASSERT_EQUAL(weight_of(d, "b2"), 250);
	st_policy_destroy(p);
}

static void test_dry_run_marked(void)
{
	struct st_policy *p = ramp_policy("true", "\"/bin/true\"");
	struct st_policy_stream_input s = stream("x", 18000, NAN);
	const struct st_policy_decision *d;
	uint64_t first;

	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);
	for (unsigned i = 0; i < 2; i++) {
		d = st_policy_find(p, first + i);
		CU_ASSERT_TRUE(d->dry_run);
		CU_ASSERT_EQUAL(d->result, ST_POLICY_RESULT_PENDING);
		CU_ASSERT_EQUAL(st_policy_set_result(p, d->id, ST_POLICY_RESULT_DRY_RUN,
						     "plan: add b2"), 0);
		CU_ASSERT_EQUAL(d->result, ST_POLICY_RESULT_DRY_RUN);
	}
	d = st_policy_find(p, first + 1);
	CU_ASSERT_FALSE(d->run_hook);                     /* no hook in dry run */
	CU_ASSERT_EQUAL(weight_of(d, "b2"), 250);         /* ramp at once */
	CU_ASSERT_STRING_EQUAL(d->result_why, "plan: add b2");
	CU_ASSERT_EQUAL(st_policy_set_result(p, d->id, ST_POLICY_RESULT_APPLIED, NULL),
			-EALREADY);
	CU_ASSERT_EQUAL(st_policy_set_result(p, 999, ST_POLICY_RESULT_APPLIED, NULL), -ENOENT);
	st_policy_destroy(p);
}

static void test_failed_apply_is_retried(void)
{
	struct st_policy *p = ramp_policy("false", "");
	struct st_policy_stream_input s = stream("x", 18000, NAN);
	const struct st_policy_decision *d;
	uint64_t first;

	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);
	CU_ASSERT_EQUAL(st_policy_set_result(p, first, ST_POLICY_RESULT_APPLIED, ""), 0);
	CU_ASSERT_EQUAL(st_policy_set_result(p, first + 1, ST_POLICY_RESULT_FAILED,
					     "netlink: EPERM"), 0);
	/* next epoch: the ramp step and the retry, one REWEIGHT */
	d = only(p, 2 * S, &s);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_REWEIGHT);
	CU_ASSERT_EQUAL(d->n_reasons, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(d->reasons[1].text, "retry"));
	CU_ASSERT_EQUAL(weight_of(d, "b2"), 500);
	st_policy_destroy(p);
}

static void test_decision_json_parses(void)
{
	struct st_policy *p = ramp_policy("false", "");
	struct st_policy_stream_input s = stream("we\"ird\\name\n", 18000, 25000);
	const struct st_policy_decision *d;
	char buf[8192];
	json_error_t jerr;
	json_t *root, *table, *trig;
	uint64_t first;
	int len;

	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 2);
	d = st_policy_find(p, first);
	len = st_policy_decision_json(d, buf, sizeof(buf));
	CU_ASSERT_FATAL(len > 0);
	root = json_loads(buf, 0, &jerr);
	CU_ASSERT_FATAL(root != NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(root, "kind")), "assign");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(root, "stream")),
			       "we\"ird\\name\n");
	CU_ASSERT_TRUE(json_is_null(json_object_get(json_object_get(root, "inputs"),
						    "utilization")));
	json_decref(root);

	d = st_policy_find(p, first + 1);
	len = st_policy_decision_json(d, buf, sizeof(buf));
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL((size_t)len, strlen(buf));
	root = json_loads(buf, 0, &jerr);
	CU_ASSERT_FATAL(root != NULL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(root, "id")), (json_int_t)d->id);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(root, "kind")), "scale_up");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(root, "backend")), "b2");
	trig = json_object_get(root, "triggers");
	CU_ASSERT_EQUAL(json_array_size(trig), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(trig, 0)), "reactive");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(trig, 1)), "predictive");
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_object_get(root, "inputs"),
							       "forecast_utilization")),
			       1.25, 1e-12);      /* 25000 / 20000 */
	table = json_object_get(root, "table");
	CU_ASSERT_EQUAL(json_array_size(table), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(table, 1),
								 "address")), "10.0.0.3");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(table, 1),
							   "weight")), 250);
	json_decref(root);
	CU_ASSERT_EQUAL(st_policy_decision_json(d, buf, 64), -ENOSPC);
	st_policy_destroy(p);
}

static void test_log_ring_and_bad_calls(void)
{
	struct st_policy_options opt;
	struct st_policy *p;
	struct st_policy_stream_input s[6];
	struct st_policy_input bad = { .now_ns = 1, .streams = NULL, .n_streams = 1 };
	struct st_policy_stats stats;
	struct st_config *cfg;
	uint64_t first;
	size_t n;

	st_policy_options_init(&opt);
	opt.log_max = 4;
	opt.streams_max = 5;
	p = policy_from(class_conf, &opt);
	for (unsigned i = 0; i < 6; i++) {
		char name[8];

		snprintf(name, sizeof(name), "s%u", i);
		s[i] = stream(name, 1, NAN);
	}
	/* log_max 4: at most 2 assignments an epoch; 5 streams fit, the 6th
	 * is refused every epoch */
	CU_ASSERT_EQUAL(epoch(p, 1 * S, s, 6, &first), 2);
	CU_ASSERT_EQUAL(epoch(p, 2 * S, s, 6, NULL), 2);
	CU_ASSERT_EQUAL(epoch(p, 3 * S, s, 6, NULL), 1);
	CU_ASSERT_EQUAL(epoch(p, 4 * S, s, 6, NULL), 0);
	CU_ASSERT_EQUAL(st_policy_log_count(p), 4);
	CU_ASSERT_PTR_NULL(st_policy_find(p, first));         /* evicted */
	CU_ASSERT_EQUAL(st_policy_log_at(p, 3)->id, first + 4);
	CU_ASSERT_PTR_NULL(st_policy_log_at(p, 4));
	st_policy_stats(p, &stats);
	CU_ASSERT_EQUAL(stats.streams_refused, 4);
	CU_ASSERT_EQUAL(stats.decisions, 5);
	CU_ASSERT_EQUAL(st_policy_evaluate(p, &bad, &first, &n), -EINVAL);
	st_policy_destroy(p);
	st_policy_destroy(NULL);
	opt.target_utilization = 1.5;
	cfg = load_text("");
	errno = 0;
	CU_ASSERT_PTR_NULL(st_policy_create(cfg, &opt));
	CU_ASSERT_EQUAL(errno, EINVAL);
	st_config_destroy(cfg);
}

/* ---- adoption (rule 8) ---- */

/*
 * Pool p: b1 active, b2 and b3 standbys, 1000 records/s each, min 1,
 * cooldown 10 s, up 0.8, down 0.3 (target 0.55).
 */
static const char *adopt_conf =
	"pools = ( { name = \"p\"; backend_capacity_rps = 1000.0; min_backends = 1; } );\n"
	"backends = (\n"
	" { name = \"b1\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
	" { name = \"b2\"; pool = \"p\"; address = \"10.0.0.2\"; standby = true; },\n"
	" { name = \"b3\"; pool = \"p\"; address = \"10.0.0.3\"; standby = true; }\n"
	");\n"
	"policy = { cooldown_s = 10; scale_up_utilization = 0.8;\n"
	"           scale_down_utilization = 0.3; };\n";

static struct st_actuator_backend entry(const char *name, uint32_t id, uint32_t weight)
{
	struct st_actuator_backend e;

	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", name);
	e.id = id;
	e.weight = weight;
	return e;
}

/* True when no decision of [first, first + n) takes `name` out of the
 * table or drains it. */
static bool keeps(const struct st_policy *p, uint64_t first, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		const struct st_policy_decision *d = st_policy_find(p, first + i);

		if (!d || weight_of(d, name) == 0 ||
		    (d->kind == ST_POLICY_SCALE_DOWN && !strcmp(d->backend, name)))
			return false;
	}
	return true;
}

static void test_adopt_keeps_an_activated_standby(void)
{
	struct st_policy *p = policy_from(adopt_conf, NULL);
	/* what the nexthop group holds after a restart: no names, ids = the
	 * config's indexes, weights scaled (256 each) */
	struct st_actuator_backend t[2] = { entry("", 0, 256), entry("", 1, 256) };
	struct st_policy_stream_input s = stream("x", 1200, NAN);
	struct st_policy_adoption a;
	const struct st_policy_decision *d;
	const char *state;
	uint32_t w;
	uint64_t first;
	size_t n;

	CU_ASSERT_EQUAL(st_policy_adopt(p, "p", t, 2, &a), 0);
	CU_ASSERT_EQUAL(a.pool, 0);
	CU_ASSERT_EQUAL(a.matched, 2);
	CU_ASSERT_EQUAL(a.activated, 1);       /* b2 */
	CU_ASSERT_EQUAL(a.drained, 0);
	CU_ASSERT_EQUAL(a.unknown, 0);
	CU_ASSERT_TRUE(a.changed);
	/* no decision from the adoption itself */
	CU_ASSERT_EQUAL(st_policy_log_count(p), 0);
	CU_ASSERT_EQUAL(st_policy_backend_state(p, 1, &state, &w), 0);
	CU_ASSERT_STRING_EQUAL(state, "active");
	CU_ASSERT_EQUAL(w, 1000);              /* the policy's weight (rule 5) */
	/* 1200 of 2000 = 0.6: between down 0.3 and up 0.8: the assign only,
	 * its table {b1, b2} at full weight (1000 each) */
	n = epoch(p, 100 * S, &s, 1, &first);
	CU_ASSERT_EQUAL(n, 1);
	d = st_policy_find(p, first);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_ASSIGN);
	CU_ASSERT_EQUAL(d->n_table, 2);
	CU_ASSERT_EQUAL(weight_of(d, "b1"), 1000);
	CU_ASSERT_EQUAL(weight_of(d, "b2"), 1000);
	/* the load keeps needing b2, past the cooldown: no decision at all */
	for (uint64_t t_s = 101; t_s < 130; t_s++) {
		n = epoch(p, t_s * S, &s, 1, &first);
		CU_ASSERT_EQUAL(n, 0);
		CU_ASSERT_TRUE(keeps(p, first, n, "b2"));
	}
	/* 1700 of 2000 = 0.85 >= 0.8: a scale-up of b3 (the next standby),
	 * not of b2 again; b2 stays in its table */
	s.records_per_s = 1700;
	n = epoch(p, 130 * S, &s, 1, &first);
	CU_ASSERT_EQUAL(n, 1);
	d = st_policy_find(p, first);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_UP);
	CU_ASSERT_STRING_EQUAL(d->backend, "b3");
	CU_ASSERT_TRUE(keeps(p, first, n, "b2"));
	st_policy_destroy(p);
}

static void test_adopt_then_scale_down_after_cooldown(void)
{
	struct st_policy *p = policy_from(adopt_conf, NULL);
	struct st_actuator_backend t[2] = { entry("b1", 0, 1000), entry("b2", 7, 1000) };
	struct st_policy_stream_input s = stream("x", 100, NAN);
	const struct st_policy_decision *d;
	uint64_t first;

	CU_ASSERT_EQUAL(st_policy_adopt(p, "p", t, 2, NULL), 0);
	/* 100 of 2000 = 0.05 <= 0.3, without b2 0.1 < 0.8: a drain, but the
	 * adoption changed the pool: none within 10 s of the first epoch
	 * (100 s): at 100 s the assign only, none up to 109 s */
	CU_ASSERT_EQUAL(epoch(p, 100 * S, &s, 1, &first), 1);
	CU_ASSERT_EQUAL(st_policy_find(p, first)->kind, ST_POLICY_ASSIGN);
	for (uint64_t t_s = 101; t_s < 110; t_s++)
		CU_ASSERT_EQUAL(epoch(p, t_s * S, &s, 1, NULL), 0);
	/* 110 s: the last active in file order (b2) is drained */
	CU_ASSERT_EQUAL(epoch(p, 110 * S, &s, 1, &first), 1);
	d = st_policy_find(p, first);
	CU_ASSERT_EQUAL(d->kind, ST_POLICY_SCALE_DOWN);
	CU_ASSERT_STRING_EQUAL(d->backend, "b2");
	CU_ASSERT_EQUAL(d->n_table, 1);
	CU_ASSERT_STRING_EQUAL(d->table[0].name, "b1");
	/* min_backends 1: no further drain */
	CU_ASSERT_EQUAL(epoch(p, 130 * S, &s, 1, NULL), 0);
	st_policy_destroy(p);
}

static void test_adopt_ignores_and_counts_unknown_entries(void)
{
	struct st_policy *p = policy_from(
		"pools = ( { name = \"p\"; backend_capacity_rps = 1000.0; },\n"
		"          { name = \"q\"; backend_capacity_rps = 1000.0; } );\n"
		"backends = (\n"
		" { name = \"b1\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		" { name = \"b2\"; pool = \"p\"; address = \"10.0.0.2\"; standby = true; },\n"
		" { name = \"c1\"; pool = \"q\"; address = \"10.0.1.1\"; }\n"
		");\n"
		"policy = { cooldown_s = 0; };\n", NULL);
	struct st_actuator_backend t[5] = {
		entry("ghost", 0, 5),        /* a name the config lacks */
		entry("", 9, 5),             /* an id past the config's 3 */
		entry("", 1, 5),             /* b2 by id, but another address */
		entry("c1", 2, 5),           /* pool q's */
		entry("b2", 1, 5),           /* b2 */
	};
	struct st_policy_stream_input s = stream("x", 100, NAN);
	struct st_policy_adoption a;
	const struct st_policy_decision *d;
	const char *state;
	uint32_t w;
	uint64_t first;

	t[2].address.af = AF_INET;   /* 10.9.9.9, not b2's 10.0.0.2 */
	t[2].address.bytes[0] = 10;
	t[2].address.bytes[1] = t[2].address.bytes[2] = t[2].address.bytes[3] = 9;
	CU_ASSERT_EQUAL(st_policy_adopt(p, "p", t, 5, &a), 0);
	CU_ASSERT_EQUAL(a.matched, 1);
	CU_ASSERT_EQUAL(a.unknown, 3);
	CU_ASSERT_EQUAL(a.other_pool, 1);
	CU_ASSERT_EQUAL(a.activated, 1);       /* b2 */
	CU_ASSERT_EQUAL(a.drained, 1);         /* b1, absent from the table */
	CU_ASSERT_EQUAL(st_policy_backend_state(p, 0, &state, &w), 0);
	CU_ASSERT_STRING_EQUAL(state, "standby");
	CU_ASSERT_EQUAL(st_policy_backend_state(p, 1, &state, &w), 0);
	CU_ASSERT_STRING_EQUAL(state, "active");
	/* pool q: only unknown and other pools' entries: -ENODATA, q keeps
	 * the config's state (c1 active) */
	CU_ASSERT_EQUAL(st_policy_adopt(p, "q", t, 2, &a), -ENODATA);
	CU_ASSERT_EQUAL(a.unknown, 2);
	CU_ASSERT_EQUAL(st_policy_backend_state(p, 2, &state, &w), 0);
	CU_ASSERT_STRING_EQUAL(state, "active");
	/* an empty table (nothing installed yet): -ENODATA as well */
	CU_ASSERT_EQUAL(st_policy_adopt(p, "p", NULL, 0, &a), -ENODATA);
	CU_ASSERT_EQUAL(st_policy_adopt(p, "nope", t, 5, &a), -ENOENT);
	CU_ASSERT_EQUAL(st_policy_adopt(p, NULL, t, 5, &a), -EINVAL);
	CU_ASSERT_EQUAL(st_policy_adopt(p, "p", NULL, 2, &a), -EINVAL);
	/* the assign carries the adopted table: {b2} */
	CU_ASSERT_EQUAL(epoch(p, 1 * S, &s, 1, &first), 1);
	d = st_policy_find(p, first);
	CU_ASSERT_EQUAL(d->n_table, 1);
	CU_ASSERT_STRING_EQUAL(d->table[0].name, "b2");
	st_policy_destroy(p);
}

static void test_adopt_unchanged_table_holds_nothing(void)
{
	/* the config's own table: nothing changed, no drain hold: cooldown 10
	 * s, yet the drain of an idle b2 (a non-standby) comes at once */
	struct st_policy *p = policy_from(
		"pools = ( { name = \"p\"; backend_capacity_rps = 1000.0; min_backends = 1; } );\n"
		"backends = ( { name = \"b1\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		"             { name = \"b2\"; pool = \"p\"; address = \"10.0.0.2\"; } );\n"
		"policy = { cooldown_s = 10; scale_down_utilization = 0.3; };\n", NULL);
	struct st_actuator_backend t[2] = { entry("b1", 0, 1), entry("b2", 1, 1) };
	struct st_policy_stream_input s = stream("x", 100, NAN);
	struct st_policy_adoption a;
	uint64_t first;

	CU_ASSERT_EQUAL(st_policy_adopt(p, "p", t, 2, &a), 0);
	CU_ASSERT_FALSE(a.changed);
	CU_ASSERT_EQUAL(epoch(p, 100 * S, &s, 1, &first), 2);
	CU_ASSERT_EQUAL(st_policy_find(p, first + 1)->kind, ST_POLICY_SCALE_DOWN);
	st_policy_destroy(p);
}

static void test_carry_streams_and_cooldown(void)
{
	struct st_policy *old = policy_from(adopt_conf, NULL);
	struct st_policy *p;
	struct st_policy_stream_input s = stream("x", 850, NAN);
	struct st_actuator_backend t[2] = { entry("b1", 0, 1000), entry("b2", 1, 1000) };
	uint64_t first;

	/* the old policy: assign x, scale b2 up at 100 s (850 / 1000 = 0.85) */
	CU_ASSERT_EQUAL(epoch(old, 100 * S, &s, 1, NULL), 2);
	/* a SIGHUP: a new policy adopts {b1, b2} and carries x and the
	 * pool's cooldown (last scaling at 100 s) */
	p = policy_from(adopt_conf, NULL);
	CU_ASSERT_EQUAL(st_policy_adopt(p, "p", t, 2, NULL), 0);
	CU_ASSERT_EQUAL(st_policy_carry(p, old), 1);
	CU_ASSERT_EQUAL(st_policy_carry(NULL, old), -EINVAL);
	st_policy_destroy(old);
	/* x is known: no assign; 1700 / 2000 = 0.85 but within 10 s of 100 s */
	s.records_per_s = 1700;
	CU_ASSERT_EQUAL(epoch(p, 105 * S, &s, 1, NULL), 0);
	/* 110 s: the carried cooldown is over: b3 */
	CU_ASSERT_EQUAL(epoch(p, 110 * S, &s, 1, &first), 1);
	CU_ASSERT_STRING_EQUAL(st_policy_find(p, first)->backend, "b3");
	st_policy_destroy(p);
}

ST_TEST_MAIN("control/policy/policy",
	ST_TEST(test_cardinality_class_with_hysteresis),
	ST_TEST(test_skew_class_and_ties),
	ST_TEST(test_first_normal_pool_is_the_default),
	ST_TEST(test_stream_cooldown),
	ST_TEST(test_predictive_fires_before_reactive),
	ST_TEST(test_lead_time_side_by_side),
	ST_TEST(test_both_triggers_and_ds2_jump),
	ST_TEST(test_ds2_backends),
	ST_TEST(test_ds2_with_unequal_capacities),
	ST_TEST(test_same_input_decides_once),
	ST_TEST(test_scale_down_needs_actual_and_forecast_low),
	ST_TEST(test_drain_that_would_overload_is_refused),
	ST_TEST(test_min_and_max_backends),
	ST_TEST(test_pool_cooldown),
	ST_TEST(test_reactive_metrics_trigger),
	ST_TEST(test_horizon_when_capacity_unknown),
	ST_TEST(test_weight_ramp),
	ST_TEST(test_ramp_waits_for_the_hook),
	ST_TEST(test_hook_done_after_the_log_moved_on),
	ST_TEST(test_dry_run_marked),
	ST_TEST(test_failed_apply_is_retried),
	ST_TEST(test_decision_json_parses),
	ST_TEST(test_log_ring_and_bad_calls),
	ST_TEST(test_adopt_keeps_an_activated_standby),
	ST_TEST(test_adopt_then_scale_down_after_cooldown),
	ST_TEST(test_adopt_ignores_and_counts_unknown_entries),
	ST_TEST(test_adopt_unchanged_table_holds_nothing),
	ST_TEST(test_carry_streams_and_cooldown))
