/*
 * Reconfiguration in shadowtap-cp (reconf.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/actuate/nexthop/nexthop.h"
#ifdef ST_HAVE_XDP_LB
#include "control/actuate/xdplb/xdplb.h"
#endif
#include "control/cp/reconf.h"
#include "control/policy/hook.h"
#include "control/policy/policy.h"

#define HOOKS_MAX 64                /* running at once; more are refused */
#define DECISION_JSON_MAX (1u << 20)

struct running_hook {
	struct st_hook *hook;
	uint64_t decision;
};

struct st_cp_reconf {
	const struct st_config *cfg;
	struct st_policy *policy;
	struct st_actuator *nexthop;          /* NULL when not enabled */
	struct st_actuator *xdp_lb;           /* NULL when not enabled */
	unsigned xdp_lb_pool;                 /* the pool its VIP serves */
	struct st_actuator_backend *previous; /* ST_ACTUATOR_BACKENDS_MAX: a
					       * table to roll back to */
	uint64_t last_epoch_ns;
	bool have_epoch;
	struct st_policy_stream_input *inputs; /* ST_ANALYSIS_STREAMS_MAX */
	const struct st_cp_backends *backends; /* NULL: no reactive metrics */
	struct st_policy_backend_metrics *metrics; /* one per config backend */
	struct running_hook hooks[HOOKS_MAX];
	char *json;                            /* DECISION_JSON_MAX */
	json_t *pending;                       /* events of create/carry, logged at
						* the next tick or profile */
	struct st_cp_reconf_stats n;
};

static void set_reactive_limits(struct st_policy_options *opt,
				const struct st_config_policy *pol)
{
	opt->retransmissions_per_s_max = pol->retransmissions_per_s_max;
	opt->zero_windows_per_s_max = pol->zero_windows_per_s_max;
	opt->latency_p99_ms_max = pol->latency_p99_ms_max;
}

/* actuators.xdp_lb, pinned for the instance; 0 or -errno with err set. */
static int xdp_lb_create(struct st_cp_reconf *r, const char *instance, char *err,
			 size_t err_len)
{
	const struct st_config_xdp_lb *x = &st_config_actuators(r->cfg)->xdp_lb;

	for (size_t i = 0; i < st_config_pool_count(r->cfg); i++)
		if (!strcmp(st_config_pool_at(r->cfg, i)->name, x->pool))
			r->xdp_lb_pool = (unsigned)i;
#ifdef ST_HAVE_XDP_LB
	{
		char dir[256], why[256];
		int rc = st_xdplb_pin_dir(instance, dir, sizeof(dir));

		if (rc) {
			snprintf(err, err_len, "xdp_lb actuator: instance '%s': %s", instance,
				 strerror(-rc));
			return rc;
		}
		r->xdp_lb = st_xdplb_open(x, dir, ST_XDPLB_ATTACH_AUTO, why, sizeof(why));
		if (!r->xdp_lb) {
			rc = -errno;
			snprintf(err, err_len, "xdp_lb actuator: %s", why);
			return rc;
		}
		return 0;
	}
#else
	(void)instance;
	snprintf(err, err_len, "xdp_lb actuator: built without af_xdp (libbpf, libxdp)");
	return -ENOTSUP;
#endif
}

/* An event for the log once a log function is at hand (tick, profile). */
static void pend(struct st_cp_reconf *r, json_t *ev)
{
	if (ev)
		json_array_append_new(r->pending, ev);   /* takes ev, even on failure */
}

static void flush_pending(struct st_cp_reconf *r, st_cp_log_fn log, void *ctx)
{
	size_t n = json_array_size(r->pending);

	for (size_t i = 0; i < n; i++)
		log(ctx, json_incref(json_array_get(r->pending, i)));
	json_array_clear(r->pending);
}

/* What actuator `a` holds, into buf[0..ST_ACTUATOR_BACKENDS_MAX); a
 * failure is logged.  0 or -errno. */
static int read_table(struct st_cp_reconf *r, struct st_actuator *a,
		      struct st_actuator_backend *buf, size_t *n)
{
	int rc = a->ops->read(a, buf, ST_ACTUATOR_BACKENDS_MAX, n);

	if (!rc && *n > ST_ACTUATOR_BACKENDS_MAX)
		rc = -E2BIG;
	if (rc) {
		*n = 0;
		pend(r, json_pack("{s:s, s:s, s:s}", "event", "policy_adopted", "actuator",
				  a->ops->name, "error", strerror(-rc)));
	}
	return rc;
}

/* The event of one pool's adoption: the entries read back that matched. */
static json_t *adopted_event(const struct st_cp_reconf *r, const char *source,
			     const struct st_actuator_backend *t, size_t n,
			     const struct st_policy_adoption *a)
{
	json_t *backends = json_array();

	for (size_t i = 0; backends && i < n; i++) {
		int b = st_policy_match_entry(r->policy, &t[i]);

		if (b < 0 || st_config_backend_at(r->cfg, (size_t)b)->pool != a->pool)
			continue;
		json_array_append_new(backends, json_pack("{s:s, s:I}", "name",
				      st_config_backend_at(r->cfg, (size_t)b)->name,
				      "weight", (json_int_t)t[i].weight));
	}
	return json_pack("{s:s, s:s, s:s, s:o*, s:b, s:I, s:I, s:I, s:I}",
			 "event", "policy_adopted",
			 "pool", st_config_pool_at(r->cfg, a->pool)->name,
			 "actuator", source, "backends", backends, "changed", a->changed,
			 "activated", (json_int_t)a->activated,
			 "drained", (json_int_t)a->drained,
			 "unknown", (json_int_t)a->unknown,
			 "other_pool", (json_int_t)a->other_pool);
}

/*
 * The policy's starting state from the kernel (policy.h rule 8), pool by
 * pool: the nexthop group's table when it holds backends of the pool (it
 * is applied last: when it holds a table, every actuator took it), else
 * the XDP balancer's for its pool.  Read even in a dry run (never
 * written).  Failures to read leave the config's state and are logged.
 */
static void adopt_kernel(struct st_cp_reconf *r)
{
	struct st_actuator_backend *nh = NULL, *xdp = NULL;
	size_t n_nh = 0, n_xdp = 0;
	bool nh_ok = false, xdp_ok = false;

	if (r->nexthop && (nh = calloc(ST_ACTUATOR_BACKENDS_MAX, sizeof(*nh))))
		nh_ok = read_table(r, r->nexthop, nh, &n_nh) == 0 && n_nh;
	if (r->xdp_lb && (xdp = calloc(ST_ACTUATOR_BACKENDS_MAX, sizeof(*xdp))))
		xdp_ok = read_table(r, r->xdp_lb, xdp, &n_xdp) == 0 && n_xdp;
	for (size_t i = 0; i < st_config_pool_count(r->cfg); i++) {
		const char *pool = st_config_pool_at(r->cfg, i)->name;
		struct st_policy_adoption a;
		const char *source = NULL;
		const struct st_actuator_backend *t = NULL;
		size_t n = 0;

		if (nh_ok && st_policy_adopt(r->policy, pool, nh, n_nh, &a) == 0)
			source = "nexthop", t = nh, n = n_nh;
		else if (xdp_ok && i == r->xdp_lb_pool &&
			 st_policy_adopt(r->policy, pool, xdp, n_xdp, &a) == 0)
			source = "xdp_lb", t = xdp, n = n_xdp;
		if (source)
			pend(r, adopted_event(r, source, t, n, &a));
	}
	free(xdp);
	free(nh);
}

struct st_cp_reconf *st_cp_reconf_create(const struct st_config *cfg, bool reactive_only,
					 const char *instance, char *err, size_t err_len)
{
	struct st_policy_options opt;
	struct st_cp_reconf *r;

	if (!st_config_pool_count(cfg)) {
		errno = 0;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out_nomem;
	r->cfg = cfg;
	r->inputs = calloc(ST_ANALYSIS_STREAMS_MAX, sizeof(*r->inputs));
	r->json = malloc(DECISION_JSON_MAX);
	r->previous = calloc(ST_ACTUATOR_BACKENDS_MAX, sizeof(*r->previous));
	r->metrics = calloc(st_config_backend_count(cfg) + 1, sizeof(*r->metrics));
	r->pending = json_array();
	if (!r->inputs || !r->json || !r->previous || !r->metrics || !r->pending)
		goto out_free;
	st_policy_options_init(&opt);
	opt.mode = reactive_only ? ST_POLICY_REACTIVE_ONLY : ST_POLICY_COMBINED;
	set_reactive_limits(&opt, st_config_policy(cfg));
	r->policy = st_policy_create(cfg, &opt);
	if (!r->policy)
		goto out_free;
	if (st_config_actuators(cfg)->nexthop.enabled) {
		r->nexthop = st_nexthop_create(&st_config_actuators(cfg)->nexthop);
		if (!r->nexthop) {
			int e = errno;

			snprintf(err, err_len, "nexthop actuator: %s", strerror(e));
			st_cp_reconf_destroy(r);
			errno = e;
			return NULL;
		}
	}
	if (st_config_actuators(cfg)->xdp_lb.enabled) {
		int rc = xdp_lb_create(r, instance, err, err_len);

		if (rc) {
			st_cp_reconf_destroy(r);
			errno = -rc;
			return NULL;
		}
	}
	adopt_kernel(r);
	return r;

out_free:
	json_decref(r->pending);
	st_policy_destroy(r->policy);
	free(r->metrics);
	free(r->previous);
	free(r->json);
	free(r->inputs);
	free(r);
out_nomem:
	snprintf(err, err_len, "%s", strerror(ENOMEM));
	errno = ENOMEM;
	return NULL;
}

void st_cp_reconf_destroy(struct st_cp_reconf *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < HOOKS_MAX; i++)
		st_hook_destroy(r->hooks[i].hook);
	if (r->nexthop)
		r->nexthop->ops->destroy(r->nexthop);
	if (r->xdp_lb)
		r->xdp_lb->ops->destroy(r->xdp_lb);  /* its table stays (actuator.h) */
	st_policy_destroy(r->policy);
	json_decref(r->pending);
	free(r->metrics);
	free(r->previous);
	free(r->json);
	free(r->inputs);
	free(r);
}

int st_cp_reconf_carry(struct st_cp_reconf *to, const struct st_cp_reconf *from)
{
	int n;

	if (!to || !from)
		return 0;
	n = st_policy_carry(to->policy, from->policy);
	if (n >= 0)
		pend(to, json_pack("{s:s, s:i}", "event", "policy_carried", "streams", n));
	return n;
}

void st_cp_reconf_set_backends(struct st_cp_reconf *r, const struct st_cp_backends *b)
{
	if (r)
		r->backends = b;
}

/*
 * The decision as a JSON object, or NULL.  The policy's time_ns (the data's
 * clock, reconf.h) becomes data_time_ns: an event's time_ns is when the
 * event log wrote it.
 */
static json_t *decision_object(char *buf, const struct st_policy_decision *d)
{
	json_t *o, *t;

	if (st_policy_decision_json(d, buf, DECISION_JSON_MAX) < 0)
		return NULL;
	o = json_loads(buf, 0, NULL);
	t = o ? json_object_get(o, "time_ns") : NULL;
	if (t && (json_object_set(o, "data_time_ns", t) || json_object_del(o, "time_ns"))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The decision as an event-log object, or NULL. */
static json_t *decision_event(struct st_cp_reconf *r, const struct st_policy_decision *d)
{
	json_t *o = decision_object(r->json, d);

	if (o && json_object_set_new(o, "event", json_string("decision"))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void log_to(st_cp_log_fn log, void *ctx, json_t *ev)
{
	if (ev)
		log(ctx, ev);
}

static void start_hook(struct st_cp_reconf *r, const struct st_policy_decision *d,
		       st_cp_log_fn log, void *ctx)
{
	const struct st_config_hook *hc = &st_config_actuators(r->cfg)->hook;
	int len = st_policy_decision_json(d, r->json, DECISION_JSON_MAX);
	struct running_hook *slot = NULL;

	for (size_t i = 0; i < HOOKS_MAX && !slot; i++)
		if (!r->hooks[i].hook)
			slot = &r->hooks[i];
	if (len >= 0 && slot)
		slot->hook = st_hook_start(hc, r->json, (size_t)len);
	if (!slot || !slot->hook) {
		/* the backend cannot be made ready: back to standby */
		st_policy_hook_done(r->policy, d->id, false);
		r->n.hooks_failed++;
		log_to(log, ctx, json_pack("{s:s, s:I, s:s}", "event", "hook", "decision",
					   (json_int_t)d->id, "outcome",
					   slot ? strerror(errno) : "too many hooks running"));
		return;
	}
	slot->decision = d->id;
	r->n.hooks_started++;
}

/* The enabled actuators that route d's pool, in the order they apply:
 * xdp_lb (its own pool's decisions) first, as it can be rolled back to any
 * table, even none (a nexthop group cannot be empty); then nexthop (every
 * pool's). */
static size_t serving(const struct st_cp_reconf *r, const struct st_policy_decision *d,
		      struct st_actuator *out[2])
{
	size_t n = 0;

	if (r->xdp_lb && d->pool_index == r->xdp_lb_pool)
		out[n++] = r->xdp_lb;
	if (r->nexthop)
		out[n++] = r->nexthop;
	return n;
}

static void why_append(char *why, size_t bytes, const char *name, const char *text)
{
	size_t len = strlen(why);
	int n;

	if (!text[0] || len + 1 >= bytes)
		return;
	n = snprintf(why + len, bytes - len, "%s%s: %s", len ? "; " : "", name, text);
	if (n < 0 || (size_t)n >= bytes - len)
		why[bytes - 1] = '\0';  /* cut to fit: the field's size is the limit */
}

/*
 * All or nothing over the serving actuators: each one's table before the
 * change is read back; when one fails, those already changed get their
 * previous table again (newest first).  0 or the failure's -errno; why
 * says what each did (empty when every one changed the kernel).
 */
static int apply_all(struct st_cp_reconf *r, const struct st_policy_decision *d,
		     struct st_actuator **acts, size_t n, char *why, size_t why_bytes)
{
	struct st_actuator_result res;
	bool first_changed = false;
	size_t n_prev = 0;
	int err = 0;

	why[0] = '\0';
	for (size_t i = 0; i < n && !err; i++) {
		/* only the first can need a roll back (at most 2 actuators) */
		if (i == 0 && n > 1 &&
		    (err = acts[0]->ops->read(acts[0], r->previous, ST_ACTUATOR_BACKENDS_MAX,
					      &n_prev)) == 0 && n_prev > ST_ACTUATOR_BACKENDS_MAX)
			err = -E2BIG;
		if (err) {
			why_append(why, why_bytes, acts[0]->ops->name,
				   "cannot read the table to roll back to; nothing changed");
			break;
		}
		err = acts[i]->ops->apply(acts[i], d->table, d->n_table, false, &res);
		if (err) {
			why_append(why, why_bytes, acts[i]->ops->name, res.why);
			if (i == 1 && first_changed) {
				int rb = acts[0]->ops->apply(acts[0], r->previous, n_prev, false, &res);

				why_append(why, why_bytes, acts[0]->ops->name, rb ?
					   "the roll back to the previous table FAILED" :
					   "rolled back to the previous table");
			}
		} else {
			if (i == 0)
				first_changed = res.changed;
			if (!res.changed)
				why_append(why, why_bytes, acts[i]->ops->name,
					   "the kernel held this table already");
		}
	}
	return err;
}

static void act(struct st_cp_reconf *r, uint64_t id, st_cp_log_fn log, void *ctx)
{
	const struct st_policy_decision *d = st_policy_find(r->policy, id);
	struct st_actuator *acts[2];
	struct st_actuator_result res;
	enum st_policy_result result;
	char why[ST_ACTUATOR_WHY_BYTES];
	size_t n;

	if (!d)
		return;
	why[0] = '\0';
	n = serving(r, d, acts);
	if (d->run_hook && !d->dry_run)
		start_hook(r, d, log, ctx);
	if (d->dry_run) {
		for (size_t i = 0; i < n; i++) {
			memset(&res, 0, sizeof(res));
			acts[i]->ops->apply(acts[i], d->table, d->n_table, true, &res);
			why_append(why, sizeof(why), acts[i]->ops->name, res.why);
		}
		result = ST_POLICY_RESULT_DRY_RUN;
		if (!why[0])
			snprintf(why, sizeof(why), "dry run");
		r->n.dry_runs++;
	} else if (n == 0) {
		result = ST_POLICY_RESULT_FAILED;
		snprintf(why, sizeof(why), "no actuator is enabled for pool %s", d->pool);
		r->n.failed++;
	} else if (apply_all(r, d, acts, n, why, sizeof(why))) {
		result = ST_POLICY_RESULT_FAILED;
		r->n.failed++;
	} else {
		result = ST_POLICY_RESULT_APPLIED;
		r->n.applied++;
	}
	st_policy_set_result(r->policy, id, result, why);
	d = st_policy_find(r->policy, id);
	if (d)
		log_to(log, ctx, decision_event(r, d));
}

static void fill_inputs(struct st_cp_reconf *r, const struct st_analysis *a, size_t *n)
{
	size_t count = st_analysis_stream_count(a);

	for (size_t i = 0; i < count; i++) {
		const struct st_analysis_stream *s = st_analysis_stream_at(a, i);
		struct st_policy_stream_input *in = &r->inputs[i];
		const struct st_config_stream *rule = NULL;

		memset(in, 0, sizeof(*in));
		snprintf(in->name, sizeof(in->name), "%s", s->name);
		for (size_t k = 0; k < st_config_stream_count(r->cfg); k++)
			if (!strcmp(st_config_stream_at(r->cfg, k)->name, s->name))
				rule = st_config_stream_at(r->cfg, k);
		if (rule)
			snprintf(in->pinned_pool, sizeof(in->pinned_pool), "%s", rule->pool);
		in->records_per_s = s->records_per_s;
		in->forecast_rps = s->forecast_rps;
		in->horizon_s = s->horizon_s;
		in->cardinality = s->cardinality;
		in->top1_share = s->top1_share;
		in->score = s->score;
		in->severity = s->severity;
		in->causes = s->causes;
	}
	*n = count;
}

void st_cp_reconf_profile(struct st_cp_reconf *r, const struct st_analysis *a,
			  uint64_t epoch_start_ns, uint64_t now_ns,
			  st_cp_log_fn log, void *ctx)
{
	(void)now_ns;
	/* the policy's clock is the data's: the judged epoch ends where this
	 * one starts (a capture's time on a replay, the wall clock live) */
	struct st_policy_input in = { .now_ns = epoch_start_ns };
	uint64_t first = 0;
	size_t n = 0;

	if (!r)
		return;
	flush_pending(r, log, ctx);
	if (r->have_epoch && epoch_start_ns <= r->last_epoch_ns)
		return;
	if (!r->have_epoch) {
		/* the first epoch seen: judge when the next one begins */
		r->have_epoch = true;
		r->last_epoch_ns = epoch_start_ns;
		return;
	}
	/* the judged epoch's backend metrics, when its record came */
	in.n_metrics = st_cp_backends_policy_metrics(r->backends, r->last_epoch_ns,
						     epoch_start_ns, r->metrics,
						     st_config_backend_count(r->cfg));
	in.metrics = in.n_metrics ? r->metrics : NULL;
	r->last_epoch_ns = epoch_start_ns;
	fill_inputs(r, a, &in.n_streams);
	in.streams = r->inputs;
	r->n.epochs++;
	if (st_policy_evaluate(r->policy, &in, &first, &n))
		return;
	r->n.decisions += n;
	for (size_t i = 0; i < n; i++)
		act(r, first + i, log, ctx);
}

void st_cp_reconf_tick(struct st_cp_reconf *r, st_cp_log_fn log, void *ctx)
{
	if (!r)
		return;
	flush_pending(r, log, ctx);
	for (size_t i = 0; i < HOOKS_MAX; i++) {
		struct running_hook *h = &r->hooks[i];
		struct st_hook_status st;

		if (!h->hook || st_hook_poll(h->hook, &st))
			continue;
		st_policy_hook_done(r->policy, h->decision, st.ready);
		if (st.ready)
			r->n.hooks_ready++;
		else
			r->n.hooks_failed++;
		log_to(log, ctx, json_pack("{s:s, s:I, s:s, s:b, s:i}", "event", "hook",
					   "decision", (json_int_t)h->decision,
					   "outcome", st_hook_outcome_name(st.outcome),
					   "ready", st.ready, "exit_status", st.exit_status));
		st_hook_destroy(h->hook);
		h->hook = NULL;
	}
}

json_t *st_cp_reconf_decisions(const struct st_cp_reconf *r, size_t count)
{
	json_t *a = json_array();
	size_t total, from;

	if (!a || !r)
		return a;
	total = st_policy_log_count(r->policy);
	from = total > count ? total - count : 0;
	for (size_t i = from; i < total; i++) {
		const struct st_policy_decision *d = st_policy_log_at(r->policy, i);
		json_t *o;

		if (!d || !(o = decision_object(r->json, d)))
			continue;
		if (json_array_append_new(a, o)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

void st_cp_reconf_stats(const struct st_cp_reconf *r, struct st_cp_reconf_stats *out)
{
	if (r)
		*out = r->n;
	else
		memset(out, 0, sizeof(*out));
}
