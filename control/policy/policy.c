/*
 * The reconfiguration policy (rules in policy.h).  Layout: the config's
 * pools and backends copied into arrays indexed as in the config, each
 * backend with its committed state (standby, provisioning, ready, ramp,
 * active); the streams in an open-addressing table keyed by name (FNV-1a,
 * no deletion, sized at create); the decisions in a ring of log_max slots,
 * each slot with its own table buffer grown to the largest table it held.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/policy/policy.h"

const unsigned ST_POLICY_RAMP_PCT[ST_POLICY_RAMP_STEPS] = { 25, 50, 100 };

#define NS_PER_S 1000000000ull

enum backend_state {
	B_STANDBY = 0,
	B_PROVISIONING,    /* its hook runs */
	B_READY,           /* the hook said ready: the ramp starts next epoch */
	B_RAMP,            /* in the table at ST_POLICY_RAMP_PCT[ramp_step] */
	B_ACTIVE,          /* in the table at full weight */
};

struct backend {
	struct st_config_backend cfg;
	enum backend_state state;
	unsigned ramp_step;
	uint64_t hook_decision;       /* the SCALE_UP that waits for its hook */
	struct st_policy_backend_metrics m;  /* this epoch's, NAN unknown */
};

struct pool {
	struct st_config_pool cfg;
	bool decided;                 /* a scaling decision was made */
	uint64_t last_decision_ns;
	bool retry;                   /* an apply failed: re-emit the table */
	bool adopt_hold;              /* adoption changed it: no drain ... */
	bool hold_started;            /* ... within cooldown_s of hold_from_ns, */
	uint64_t hold_from_ns;        /* the first epoch after the adoption */
	/* this epoch */
	double load_rps, forecast_rps, min_horizon_s;
};

struct stream {
	bool used;
	char name[ST_CONFIG_NAME_BYTES];
	int pool;                     /* -1: not assigned yet */
	bool high_cardinality, skewed;
	bool decided;
	uint64_t last_decision_ns;
};

struct slot {
	struct st_policy_decision d;
	struct st_actuator_backend *buf;
	size_t cap;
};

struct st_policy {
	struct st_config_policy knobs;
	struct st_policy_options opt;
	double target;
	bool dry_run, have_hook;
	struct pool *pools;
	size_t n_pools;
	struct backend *backends;
	size_t n_backends;
	struct stream *streams;
	size_t streams_mask, streams_used;
	struct slot *log;
	size_t log_head, log_len;     /* oldest slot, slots in use */
	uint64_t next_id;
	size_t epoch_made;            /* decisions this epoch */
	uint64_t now_ns;
	struct st_policy_stats stats;
};

void st_policy_options_init(struct st_policy_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->mode = ST_POLICY_COMBINED;
	opt->streams_max = ST_POLICY_STREAMS_DEFAULT;
	opt->log_max = ST_POLICY_LOG_DEFAULT;
}

static bool options_valid(const struct st_policy_options *o)
{
	return (o->mode == ST_POLICY_COMBINED || o->mode == ST_POLICY_REACTIVE_ONLY) &&
	       o->target_utilization >= 0 && o->target_utilization <= 1 &&
	       o->streams_max > 0 && o->streams_max <= (1u << 24) && o->log_max > 0 &&
	       o->log_max <= (1u << 20) && o->retransmissions_per_s_max >= 0 &&
	       o->zero_windows_per_s_max >= 0 && o->latency_p99_ms_max >= 0;
}

static int copy_config(struct st_policy *p, const struct st_config *cfg)
{
	p->n_pools = st_config_pool_count(cfg);
	p->n_backends = st_config_backend_count(cfg);
	p->pools = calloc(p->n_pools ? p->n_pools : 1, sizeof(*p->pools));
	p->backends = calloc(p->n_backends ? p->n_backends : 1, sizeof(*p->backends));
	if (!p->pools || !p->backends)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_pools; i++)
		p->pools[i].cfg = *st_config_pool_at(cfg, i);
	for (size_t i = 0; i < p->n_backends; i++) {
		struct backend *b = &p->backends[i];

		b->cfg = *st_config_backend_at(cfg, i);
		b->state = b->cfg.standby ? B_STANDBY : B_ACTIVE;
	}
	return 0;
}

struct st_policy *st_policy_create(const struct st_config *cfg,
				   const struct st_policy_options *opt)
{
	struct st_policy_options defaults;
	struct st_policy *p;
	size_t slots = 1;

	if (!opt) {
		st_policy_options_init(&defaults);
		opt = &defaults;
	}
	if (!cfg || !options_valid(opt)) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_nomem;
	p->knobs = *st_config_policy(cfg);
	p->opt = *opt;
	p->target = opt->target_utilization > 0 ? opt->target_utilization :
		    (p->knobs.scale_up_utilization + p->knobs.scale_down_utilization) / 2;
	p->dry_run = opt->dry_run || st_config_actuators(cfg)->dry_run;
	p->have_hook = st_config_actuators(cfg)->hook.argc > 0;
	p->next_id = 1;
	if (copy_config(p, cfg) < 0)
		goto out_free;
	while (slots < 2 * opt->streams_max)
		slots <<= 1;
	p->streams = calloc(slots, sizeof(*p->streams));
	p->log = calloc(opt->log_max, sizeof(*p->log));
	if (!p->streams || !p->log)
		goto out_free;
	p->streams_mask = slots - 1;
	return p;

out_free:
	st_policy_destroy(p);
out_nomem:
	errno = ENOMEM;
	return NULL;
}

void st_policy_destroy(struct st_policy *p)
{
	if (!p)
		return;
	if (p->log)
		for (size_t i = 0; i < p->opt.log_max; i++)
			free(p->log[i].buf);
	free(p->log);
	free(p->streams);
	free(p->backends);
	free(p->pools);
	free(p);
}

/* ---- the streams' table ---- */

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;    /* FNV-1a 64 */

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The stream named `name`, added when new; NULL when the table is full. */
static struct stream *stream_get(struct st_policy *p, const char *name)
{
	size_t i = name_hash(name) & p->streams_mask;

	for (;; i = (i + 1) & p->streams_mask) {
		struct stream *s = &p->streams[i];

		if (!s->used) {
			if (p->streams_used >= p->opt.streams_max)
				return NULL;
			s->used = true;
			snprintf(s->name, sizeof(s->name), "%s", name);
			s->pool = -1;
			p->streams_used++;
			return s;
		}
		if (strcmp(s->name, name) == 0)
			return s;
	}
}

/* ---- the log ---- */

static struct slot *slot_of(const struct st_policy *p, size_t i)
{
	return &p->log[(p->log_head + i) % p->opt.log_max];
}

static size_t budget_left(const struct st_policy *p)
{
	return p->opt.log_max - p->epoch_made;
}

/* A fresh decision at the end of the log (the caller checked the budget). */
static struct st_policy_decision *decision_new(struct st_policy *p,
					       enum st_policy_kind kind, size_t pool)
{
	struct slot *s;
	struct st_policy_decision *d;

	if (p->log_len == p->opt.log_max) {
		p->log_head = (p->log_head + 1) % p->opt.log_max;
		p->log_len--;
	}
	s = slot_of(p, p->log_len);
	p->log_len++;
	p->epoch_made++;
	p->stats.decisions++;
	d = &s->d;
	memset(d, 0, sizeof(*d));
	d->id = p->next_id++;
	d->time_ns = p->now_ns;
	d->kind = kind;
	d->pool_index = (unsigned)pool;
	snprintf(d->pool, sizeof(d->pool), "%s", p->pools[pool].cfg.name);
	d->backend_index = -1;
	d->dry_run = p->dry_run;
	d->result = ST_POLICY_RESULT_PENDING;
	d->inputs.records_per_s = d->inputs.forecast_rps = d->inputs.horizon_s = NAN;
	d->inputs.cardinality = d->inputs.top1_share = d->inputs.score = NAN;
	d->inputs.load_rps = d->inputs.forecast_load_rps = d->inputs.capacity_rps = NAN;
	d->inputs.utilization = d->inputs.forecast_utilization = NAN;
	d->inputs.min_horizon_s = -1;
	d->inputs.worst_latency_p99_ms = d->inputs.worst_retransmissions_per_s = NAN;
	d->inputs.worst_zero_windows_per_s = NAN;
	return d;
}

static void reason(struct st_policy_decision *d, uint32_t trigger, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reason(struct st_policy_decision *d, uint32_t trigger, const char *fmt, ...)
{
	va_list ap;

	d->triggers |= trigger;
	if (d->n_reasons == ST_POLICY_REASONS_MAX)
		return;
	d->reasons[d->n_reasons].trigger = trigger;
	va_start(ap, fmt);
	vsnprintf(d->reasons[d->n_reasons].text, ST_POLICY_REASON_BYTES, fmt, ap);
	va_end(ap);
	d->n_reasons++;
}

static struct slot *slot_of_id(const struct st_policy *p, uint64_t id)
{
	uint64_t oldest;

	if (p->log_len == 0)
		return NULL;
	oldest = slot_of(p, 0)->d.id;
	if (id < oldest || id - oldest >= p->log_len)
		return NULL;
	return slot_of(p, (size_t)(id - oldest));
}

const struct st_policy_decision *st_policy_find(const struct st_policy *p, uint64_t id)
{
	struct slot *s = slot_of_id(p, id);

	return s ? &s->d : NULL;
}

size_t st_policy_log_count(const struct st_policy *p)
{
	return p->log_len;
}

const struct st_policy_decision *st_policy_log_at(const struct st_policy *p, size_t i)
{
	return i < p->log_len ? &slot_of(p, i)->d : NULL;
}

/* ---- tables and weights (rule 5) ---- */

static bool in_table(const struct backend *b)
{
	return b->state == B_RAMP || b->state == B_ACTIVE;
}

static bool committed(const struct backend *b)
{
	return b->state != B_STANDBY;
}

static uint32_t full_weight(const struct backend *b, double max_cap)
{
	double w;

	if (max_cap <= 0)
		return b->cfg.weight;
	w = round(ST_POLICY_WEIGHT_SCALE * b->cfg.capacity_rps / max_cap);
	return w < 1 ? 1 : (uint32_t)w;
}

static uint32_t weight_now(const struct backend *b, double max_cap)
{
	uint32_t full = full_weight(b, max_cap);
	uint32_t w;

	if (b->state != B_RAMP)
		return full;
	w = (uint32_t)(((uint64_t)full * ST_POLICY_RAMP_PCT[b->ramp_step] + 99) / 100);
	return w < 1 ? 1 : w;
}

/* The largest capacity in the pool's table, or 0 when one has none. */
static double table_max_capacity(const struct st_policy *p, size_t pool)
{
	double max_cap = 0;

	for (size_t i = 0; i < p->n_backends; i++) {
		const struct backend *b = &p->backends[i];

		if (b->cfg.pool != pool || !in_table(b))
			continue;
		if (b->cfg.capacity_rps <= 0)
			return 0;
		if (b->cfg.capacity_rps > max_cap)
			max_cap = b->cfg.capacity_rps;
	}
	return max_cap;
}

/* Writes the pool's desired table into out[0..max); returns the count. */
static size_t build_table(const struct st_policy *p, size_t pool,
			  struct st_actuator_backend *out, size_t max)
{
	double max_cap = table_max_capacity(p, pool);
	size_t n = 0;

	for (size_t i = 0; i < p->n_backends && n < max; i++) {
		const struct backend *b = &p->backends[i];
		struct st_actuator_backend *t;

		if (b->cfg.pool != pool || !in_table(b))
			continue;
		t = &out[n++];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", b->cfg.name);
		t->id = (uint32_t)i;
		t->address = b->cfg.address;
		t->has_mac = b->cfg.has_mac;
		memcpy(t->mac, b->cfg.mac, sizeof(t->mac));
		t->weight = weight_now(b, max_cap);
	}
	return n;
}

/*
 * Fills decision d's table with the pool's desired table now.  Without
 * memory for it the decision is born FAILED (and the pool retries).
 */
static void fill_table(struct st_policy *p, struct st_policy_decision *d, size_t pool)
{
	struct slot *s = (struct slot *)d;   /* d is a slot's first member */
	size_t need = p->pools[pool].cfg.n_backends;

	if (s->cap < need) {
		struct st_actuator_backend *nb = realloc(s->buf, need * sizeof(*nb));

		if (!nb) {
			d->table = NULL;
			d->n_table = 0;
			d->result = ST_POLICY_RESULT_FAILED;
			snprintf(d->result_why, sizeof(d->result_why),
				 "out of memory for the table");
			p->pools[pool].retry = true;
			return;
		}
		s->buf = nb;
		s->cap = need;
	}
	d->table = s->buf;
	d->n_table = build_table(p, pool, s->buf, s->cap);
}

int st_policy_pool_table(const struct st_policy *p, unsigned pool,
			 struct st_actuator_backend *out, size_t max, size_t *n)
{
	if (pool >= p->n_pools || (!out && max))
		return -EINVAL;
	*n = build_table(p, pool, out, max);
	return 0;
}

/* ---- stream class and pool (rules 1 and 2) ---- */

static void judge_class(const struct st_policy *p, struct stream *s,
			const struct st_policy_stream_input *in)
{
	double keep = 1 - p->knobs.hysteresis;
	double card_hi = (double)p->knobs.high_cardinality;
	double skew_hi = p->knobs.skew_top1_share;

	if (in->cardinality >= card_hi)
		s->high_cardinality = true;
	else if (in->cardinality < card_hi * keep)
		s->high_cardinality = false;
	if (in->top1_share >= skew_hi)
		s->skewed = true;
	else if (in->top1_share < skew_hi * keep)
		s->skewed = false;
}

static int first_pool(const struct st_policy *p, bool high, bool skew, bool exact)
{
	for (size_t i = 0; i < p->n_pools; i++) {
		const struct st_config_pool *c = &p->pools[i].cfg;

		if (high && c->memory_class != ST_MEM_HIGH)
			continue;
		if (skew && !c->skew_handling)
			continue;
		if (exact && (c->memory_class != ST_MEM_NORMAL || c->skew_handling))
			continue;
		return (int)i;
	}
	return -1;
}

static int wanted_pool(const struct st_policy *p, const struct stream *s,
		       const struct st_policy_stream_input *in)
{
	int pool = -1;

	if (in->pinned_pool[0]) {
		for (size_t i = 0; i < p->n_pools; i++)
			if (strcmp(p->pools[i].cfg.name, in->pinned_pool) == 0)
				return (int)i;
	}
	if (s->high_cardinality && s->skewed)
		pool = first_pool(p, true, true, false);
	if (pool < 0 && s->high_cardinality)
		pool = first_pool(p, true, false, false);
	if (pool < 0 && s->skewed)
		pool = first_pool(p, false, true, false);
	if (pool < 0)
		pool = first_pool(p, false, false, true);
	if (pool < 0 && p->n_pools > 0)
		pool = 0;
	return pool;
}

static bool cooling(const struct st_policy *p, bool decided, uint64_t last_ns)
{
	return decided && p->now_ns - last_ns < (uint64_t)p->knobs.cooldown_s * NS_PER_S;
}

static void assign(struct st_policy *p, struct stream *s,
		   const struct st_policy_stream_input *in, int pool)
{
	struct st_policy_decision *d = decision_new(p, ST_POLICY_ASSIGN, (size_t)pool);

	snprintf(d->stream, sizeof(d->stream), "%s", s->name);
	if (s->pool >= 0)
		snprintf(d->from_pool, sizeof(d->from_pool), "%s",
			 p->pools[s->pool].cfg.name);
	d->inputs.records_per_s = in->records_per_s;
	d->inputs.forecast_rps = in->forecast_rps;
	d->inputs.horizon_s = in->horizon_s;
	d->inputs.cardinality = in->cardinality;
	d->inputs.top1_share = in->top1_share;
	d->inputs.score = in->score;
	d->inputs.severity = in->severity;
	d->inputs.causes = in->causes;
	d->inputs.high_cardinality = s->high_cardinality;
	d->inputs.skewed = s->skewed;
	if (in->pinned_pool[0] && strcmp(in->pinned_pool, p->pools[pool].cfg.name) == 0)
		reason(d, ST_POLICY_TRIGGER_PROFILE, "pinned to pool %s by its rule",
		       p->pools[pool].cfg.name);
	if (s->high_cardinality)
		reason(d, ST_POLICY_TRIGGER_PROFILE,
		       "high cardinality: %.0f keys (raised at %llu, cleared below %.0f)",
		       in->cardinality, (unsigned long long)p->knobs.high_cardinality,
		       (double)p->knobs.high_cardinality * (1 - p->knobs.hysteresis));
	if (s->skewed)
		reason(d, ST_POLICY_TRIGGER_PROFILE,
		       "skewed: top-1 share %.3f (raised at %.3f, cleared below %.3f)",
		       in->top1_share, p->knobs.skew_top1_share,
		       p->knobs.skew_top1_share * (1 - p->knobs.hysteresis));
	if (d->n_reasons == 0)
		reason(d, ST_POLICY_TRIGGER_PROFILE, "%s",
		       s->pool < 0 ? "new stream, ordinary profile" :
				     "profile back to ordinary");
	fill_table(p, d, (size_t)pool);
	s->pool = pool;
	s->decided = true;
	s->last_decision_ns = p->now_ns;
}

static void take_stream(struct st_policy *p, const struct st_policy_stream_input *in)
{
	struct stream *s = stream_get(p, in->name);
	struct pool *pl;
	int pool;

	if (!s) {
		p->stats.streams_refused++;
		return;
	}
	judge_class(p, s, in);
	pool = wanted_pool(p, s, in);
	if (pool >= 0 && pool != s->pool &&
	    (s->pool < 0 || !cooling(p, s->decided, s->last_decision_ns))) {
		if (p->epoch_made < (p->opt.log_max + 1) / 2)
			assign(p, s, in, pool);
		else
			p->stats.decisions_deferred++;
	}
	if (s->pool < 0)
		return;
	pl = &p->pools[s->pool];
	pl->load_rps += in->records_per_s > 0 ? in->records_per_s : 0;
	if (p->opt.mode == ST_POLICY_COMBINED && isfinite(in->forecast_rps))
		pl->forecast_rps += in->forecast_rps > 0 ? in->forecast_rps : 0;
	else
		pl->forecast_rps += in->records_per_s > 0 ? in->records_per_s : 0;
	if (p->opt.mode == ST_POLICY_COMBINED && in->horizon_s >= 0 &&
	    (pl->min_horizon_s < 0 || in->horizon_s < pl->min_horizon_s))
		pl->min_horizon_s = in->horizon_s;
}

/* ---- scaling (rules 3 and 4) ---- */

struct pool_view {
	unsigned committed, standby, in_flight;  /* in_flight: provisioning/ready/ramp */
	bool capacity_known;
	double capacity_rps;
	double util, futil;
	double worst_latency, worst_retrans, worst_zero_windows;
	uint32_t reactive_hits;                  /* backends over a reactive limit */
	char reactive_text[ST_POLICY_REASON_BYTES];
};

static double worse(double a, double b)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	return a > b ? a : b;
}

static void backend_reactive(const struct st_policy *p, const struct backend *b,
			     struct pool_view *v)
{
	const struct st_policy_backend_metrics *m = &b->m;
	double up = p->knobs.scale_up_utilization;
	const char *what = NULL;
	double value = 0, limit = 0;

	v->worst_latency = worse(v->worst_latency, m->latency_p99_ms);
	v->worst_retrans = worse(v->worst_retrans, m->retransmissions_per_s);
	v->worst_zero_windows = worse(v->worst_zero_windows, m->zero_windows_per_s);
	if (b->cfg.capacity_rps > 0 && m->records_per_s >= up * b->cfg.capacity_rps)
		what = "records/s", value = m->records_per_s, limit = up * b->cfg.capacity_rps;
	else if (p->opt.retransmissions_per_s_max > 0 &&
		 m->retransmissions_per_s > p->opt.retransmissions_per_s_max)
		what = "retransmissions/s", value = m->retransmissions_per_s,
		limit = p->opt.retransmissions_per_s_max;
	else if (p->opt.zero_windows_per_s_max > 0 &&
		 m->zero_windows_per_s > p->opt.zero_windows_per_s_max)
		what = "zero windows/s", value = m->zero_windows_per_s,
		limit = p->opt.zero_windows_per_s_max;
	else if (p->opt.latency_p99_ms_max > 0 && m->latency_p99_ms > p->opt.latency_p99_ms_max)
		what = "latency p99 ms", value = m->latency_p99_ms,
		limit = p->opt.latency_p99_ms_max;
	if (!what)
		return;
	if (v->reactive_hits++ == 0)
		snprintf(v->reactive_text, sizeof(v->reactive_text),
			 "backend %s: %s %.1f over %.1f", b->cfg.name, what, value, limit);
}

static void view_pool(const struct st_policy *p, size_t pool, struct pool_view *v)
{
	const struct pool *pl = &p->pools[pool];

	memset(v, 0, sizeof(*v));
	v->capacity_known = true;
	v->worst_latency = v->worst_retrans = v->worst_zero_windows = NAN;
	for (size_t i = 0; i < p->n_backends; i++) {
		const struct backend *b = &p->backends[i];

		if (b->cfg.pool != pool)
			continue;
		if (!committed(b)) {
			v->standby++;
			continue;
		}
		v->committed++;
		if (b->state != B_ACTIVE)
			v->in_flight++;
		if (b->cfg.capacity_rps <= 0)
			v->capacity_known = false;
		v->capacity_rps += b->cfg.capacity_rps;
		backend_reactive(p, b, v);
	}
	if (v->committed == 0 || v->capacity_rps <= 0)
		v->capacity_known = false;
	v->util = v->capacity_known ? pl->load_rps / v->capacity_rps : NAN;
	v->futil = v->capacity_known ? pl->forecast_rps / v->capacity_rps : NAN;
}

static void pool_inputs(const struct st_policy *p, size_t pool, const struct pool_view *v,
			struct st_policy_decision *d)
{
	const struct pool *pl = &p->pools[pool];
	struct st_policy_decision_inputs *in = &d->inputs;

	in->load_rps = pl->load_rps;
	in->forecast_load_rps = pl->forecast_rps;
	in->capacity_rps = v->capacity_known ? v->capacity_rps : NAN;
	in->utilization = v->util;
	in->forecast_utilization = v->futil;
	in->min_horizon_s = pl->min_horizon_s;
	in->committed = v->committed;
	in->standby = v->standby;
	in->worst_latency_p99_ms = v->worst_latency;
	in->worst_retransmissions_per_s = v->worst_retrans;
	in->worst_zero_windows_per_s = v->worst_zero_windows;
	if (v->capacity_known)
		in->ds2_needed = st_policy_ds2_backends(fmax(pl->load_rps, pl->forecast_rps),
							v->capacity_rps / v->committed,
							p->target);
}

unsigned st_policy_ds2_backends(double load_rps, double capacity_rps,
				double target_utilization)
{
	double n;

	if (!(capacity_rps > 0) || !(target_utilization > 0))
		return UINT32_MAX;
	if (!(load_rps > 0))
		return 0;
	n = ceil(load_rps / (capacity_rps * target_utilization));
	return n >= (double)UINT32_MAX ? UINT32_MAX : (unsigned)n;
}

/* Rule 3: ramps move one step; a failed apply is retried.  One REWEIGHT. */
static void step_ramps(struct st_policy *p, size_t pool)
{
	struct pool *pl = &p->pools[pool];
	char moved[ST_POLICY_REASON_BYTES] = "";
	size_t moved_len = 0;
	bool retry = pl->retry && !cooling(p, pl->decided, pl->last_decision_ns);
	struct st_policy_decision *d;
	struct pool_view v;

	if (budget_left(p) == 0)
		return;
	for (size_t i = 0; i < p->n_backends; i++) {
		struct backend *b = &p->backends[i];

		if (b->cfg.pool != pool)
			continue;
		if (b->state == B_READY) {
			b->state = B_RAMP;
			b->ramp_step = 0;
		} else if (b->state == B_RAMP) {
			if (++b->ramp_step == ST_POLICY_RAMP_STEPS - 1)
				b->state = B_ACTIVE;
		} else {
			continue;
		}
		if (moved_len < sizeof(moved))
			moved_len += (size_t)snprintf(moved + moved_len, sizeof(moved) - moved_len,
						      "%s%s at %u%%", moved_len ? ", " : "",
						      b->cfg.name,
						      ST_POLICY_RAMP_PCT[b->ramp_step]);
	}
	if (!moved_len && !retry)
		return;
	d = decision_new(p, ST_POLICY_REWEIGHT, pool);
	view_pool(p, pool, &v);
	pool_inputs(p, pool, &v, d);
	if (moved_len)
		reason(d, ST_POLICY_TRIGGER_RAMP, "weight ramp: %s", moved);
	if (retry) {
		reason(d, ST_POLICY_TRIGGER_RAMP, "retry: a previous apply failed");
		pl->retry = false;
		pl->decided = true;
		pl->last_decision_ns = p->now_ns;
	}
	fill_table(p, d, pool);
}

/* Standbys to activate: DS2's count (rule 4), at least one, within bounds. */
static unsigned scale_up_count(const struct st_policy *p, size_t pool,
			       const struct pool_view *v)
{
	const struct pool *pl = &p->pools[pool];
	double need = fmax(pl->load_rps, pl->forecast_rps) / p->target;
	double cap = v->capacity_rps;
	unsigned room = pl->cfg.max_backends > v->committed ?
			pl->cfg.max_backends - v->committed : 0;
	unsigned k = 0;

	if (room > v->standby)
		room = v->standby;
	if (!v->capacity_known)
		return room ? 1 : 0;
	for (size_t i = 0; i < p->n_backends && k < room && cap < need; i++) {
		const struct backend *b = &p->backends[i];

		if (b->cfg.pool == pool && b->state == B_STANDBY) {
			cap += b->cfg.capacity_rps;
			k++;
		}
	}
	return k == 0 && room > 0 ? 1 : k;
}

static void activate(struct st_policy *p, size_t pool, const struct pool_view *v,
		     const struct st_policy_reason *why, unsigned n_why, uint32_t triggers)
{
	for (size_t i = 0; i < p->n_backends; i++) {
		struct backend *b = &p->backends[i];
		struct st_policy_decision *d;

		if (b->cfg.pool != pool || b->state != B_STANDBY)
			continue;
		d = decision_new(p, ST_POLICY_SCALE_UP, pool);
		pool_inputs(p, pool, v, d);
		for (unsigned r = 0; r < n_why; r++)
			reason(d, why[r].trigger, "%s", why[r].text);
		d->triggers |= triggers;
		snprintf(d->backend, sizeof(d->backend), "%s", b->cfg.name);
		d->backend_index = (int)i;
		if (p->have_hook && !p->dry_run) {
			b->state = B_PROVISIONING;
			b->hook_decision = d->id;
			d->run_hook = true;
		} else {
			b->state = B_RAMP;
			b->ramp_step = 0;
		}
		fill_table(p, d, pool);
		return;
	}
}

static void scale_up(struct st_policy *p, size_t pool, const struct pool_view *v,
		     unsigned count, const struct st_policy_reason *why,
		     unsigned n_why, uint32_t triggers)
{
	struct pool *pl = &p->pools[pool];

	if (count == 0 || budget_left(p) < count) {
		p->stats.scale_up_blocked++;
		return;
	}
	for (unsigned k = 0; k < count; k++)
		activate(p, pool, v, why, n_why, triggers);
	pl->decided = true;
	pl->last_decision_ns = p->now_ns;
}

/* The last fully active backend in file order, or -1. */
static int drain_candidate(const struct st_policy *p, size_t pool)
{
	for (size_t i = p->n_backends; i-- > 0;)
		if (p->backends[i].cfg.pool == pool && p->backends[i].state == B_ACTIVE)
			return (int)i;
	return -1;
}

static void maybe_scale_down(struct st_policy *p, size_t pool, const struct pool_view *v)
{
	struct pool *pl = &p->pools[pool];
	double down = p->knobs.scale_down_utilization;
	struct st_policy_decision *d;
	struct backend *b;
	double rest, after;
	int victim;

	if (pl->hold_started &&
	    p->now_ns - pl->hold_from_ns < (uint64_t)p->knobs.cooldown_s * NS_PER_S)
		return;
	if (!v->capacity_known || v->reactive_hits || v->in_flight ||
	    v->committed <= pl->cfg.min_backends || !(v->util <= down) ||
	    !(v->futil <= down) || budget_left(p) == 0)
		return;
	victim = drain_candidate(p, pool);
	if (victim < 0)
		return;
	b = &p->backends[victim];
	rest = v->capacity_rps - b->cfg.capacity_rps;
	after = rest > 0 ? fmax(pl->load_rps, pl->forecast_rps) / rest : INFINITY;
	if (!(after < p->knobs.scale_up_utilization))
		return;
	d = decision_new(p, ST_POLICY_SCALE_DOWN, pool);
	pool_inputs(p, pool, v, d);
	reason(d, ST_POLICY_TRIGGER_REACTIVE, "utilization %.3f <= %.3f", v->util, down);
	if (p->opt.mode == ST_POLICY_COMBINED)
		reason(d, ST_POLICY_TRIGGER_PREDICTIVE, "forecast utilization %.3f <= %.3f",
		       v->futil, down);
	reason(d, ST_POLICY_TRIGGER_REACTIVE,
	       "without %s utilization would be %.3f (< %.3f)", b->cfg.name, after,
	       p->knobs.scale_up_utilization);
	snprintf(d->backend, sizeof(d->backend), "%s", b->cfg.name);
	d->backend_index = victim;
	b->state = B_STANDBY;
	fill_table(p, d, pool);
	pl->decided = true;
	pl->last_decision_ns = p->now_ns;
}

static void scale_pool(struct st_policy *p, size_t pool)
{
	struct pool *pl = &p->pools[pool];
	struct st_policy_reason why[ST_POLICY_REASONS_MAX];
	double up = p->knobs.scale_up_utilization;
	unsigned n_why = 0;
	uint32_t triggers = 0;
	struct pool_view v;

	view_pool(p, pool, &v);
	memset(why, 0, sizeof(why));
	if (v.committed < pl->cfg.min_backends) {
		snprintf(why[0].text, sizeof(why[0].text), "%u committed backends < min_backends %u",
			 v.committed, pl->cfg.min_backends);
		why[0].trigger = ST_POLICY_TRIGGER_BOUNDS;
		scale_up(p, pool, &v, pl->cfg.min_backends - v.committed > v.standby ?
			 v.standby : pl->cfg.min_backends - v.committed, why, 1,
			 ST_POLICY_TRIGGER_BOUNDS);
		return;
	}
	if (cooling(p, pl->decided, pl->last_decision_ns))
		return;
	if (v.capacity_known && v.util >= up) {
		why[n_why].trigger = ST_POLICY_TRIGGER_REACTIVE;
		snprintf(why[n_why++].text, ST_POLICY_REASON_BYTES,
			 "utilization %.3f >= %.3f (%.0f of %.0f records/s)", v.util, up,
			 pl->load_rps, v.capacity_rps);
	}
	if (v.reactive_hits) {
		why[n_why].trigger = ST_POLICY_TRIGGER_REACTIVE;
		snprintf(why[n_why++].text, ST_POLICY_REASON_BYTES, "%s", v.reactive_text);
	}
	if (p->opt.mode == ST_POLICY_COMBINED && v.capacity_known && v.futil >= up) {
		why[n_why].trigger = ST_POLICY_TRIGGER_PREDICTIVE;
		snprintf(why[n_why++].text, ST_POLICY_REASON_BYTES,
			 "forecast utilization %.3f >= %.3f (%.0f of %.0f records/s)",
			 v.futil, up, pl->forecast_rps, v.capacity_rps);
	}
	if (p->opt.mode == ST_POLICY_COMBINED && !v.capacity_known && pl->min_horizon_s >= 0) {
		why[n_why].trigger = ST_POLICY_TRIGGER_PREDICTIVE;
		snprintf(why[n_why++].text, ST_POLICY_REASON_BYTES,
			 "a stream crosses its capacity in %.1f s (pool capacity unknown)",
			 pl->min_horizon_s);
	}
	for (unsigned r = 0; r < n_why; r++)
		triggers |= why[r].trigger;
	if (n_why)
		scale_up(p, pool, &v, scale_up_count(p, pool, &v), why, n_why, triggers);
	else
		maybe_scale_down(p, pool, &v);
}

/* ---- the epoch ---- */

static int take_metrics(struct st_policy *p, const struct st_policy_input *in)
{
	for (size_t i = 0; i < p->n_backends; i++) {
		struct st_policy_backend_metrics *m = &p->backends[i].m;

		m->backend = (unsigned)i;
		m->records_per_s = m->bytes_per_s = m->retransmissions_per_s = NAN;
		m->zero_windows_per_s = m->latency_p99_ms = NAN;
	}
	for (size_t i = 0; i < in->n_metrics; i++)
		if (in->metrics[i].backend < p->n_backends)
			p->backends[in->metrics[i].backend].m = in->metrics[i];
	return 0;
}

int st_policy_evaluate(struct st_policy *p, const struct st_policy_input *in,
		       uint64_t *first_id, size_t *n)
{
	if (!in || (!in->streams && in->n_streams) || (!in->metrics && in->n_metrics))
		return -EINVAL;
	p->now_ns = in->now_ns;
	p->epoch_made = 0;
	p->stats.epochs++;
	*first_id = p->next_id;
	for (size_t i = 0; i < p->n_pools; i++) {
		struct pool *pl = &p->pools[i];

		pl->load_rps = pl->forecast_rps = 0;
		pl->min_horizon_s = -1;
		if (pl->adopt_hold && !pl->hold_started) {
			pl->hold_started = true;
			pl->hold_from_ns = p->now_ns;
		}
	}
	take_metrics(p, in);
	for (size_t i = 0; i < in->n_streams; i++)
		take_stream(p, &in->streams[i]);
	for (size_t i = 0; i < p->n_pools; i++) {
		step_ramps(p, i);
		scale_pool(p, i);
	}
	*n = p->epoch_made;
	return 0;
}

/* ---- adoption and carry-over (rule 8) ---- */

static int pool_by_name(const struct st_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_pools; i++)
		if (strcmp(p->pools[i].cfg.name, name) == 0)
			return (int)i;
	return -1;
}

int st_policy_match_entry(const struct st_policy *p, const struct st_actuator_backend *e)
{
	const struct backend *b;

	if (e->name[0]) {
		for (size_t i = 0; i < p->n_backends; i++)
			if (strcmp(p->backends[i].cfg.name, e->name) == 0)
				return (int)i;
		return -1;
	}
	if (e->id >= p->n_backends)
		return -1;
	b = &p->backends[e->id];
	if (e->address.af &&
	    (e->address.af != b->cfg.address.af ||
	     memcmp(e->address.bytes, b->cfg.address.bytes, sizeof(e->address.bytes))))
		return -1;
	return (int)e->id;
}

int st_policy_adopt(struct st_policy *p, const char *pool,
		    const struct st_actuator_backend *table, size_t n,
		    struct st_policy_adoption *out)
{
	struct st_policy_adoption a;
	bool held[ST_CONFIG_BACKENDS_MAX + 1];
	int pi;

	if (!p || !pool || (!table && n))
		return -EINVAL;
	pi = pool_by_name(p, pool);
	if (pi < 0)
		return -ENOENT;
	memset(&a, 0, sizeof(a));
	memset(held, 0, sizeof(held));
	a.pool = (unsigned)pi;
	for (size_t i = 0; i < n; i++) {
		int bi = st_policy_match_entry(p, &table[i]);

		if (bi < 0 || (size_t)bi >= sizeof(held)) {
			a.unknown++;
		} else if (p->backends[bi].cfg.pool != (unsigned)pi) {
			a.other_pool++;
		} else if (!held[bi]) {
			held[bi] = true;
			a.matched++;
		}
	}
	if (out)
		*out = a;
	if (a.matched == 0)
		return -ENODATA;
	for (size_t i = 0; i < p->n_backends; i++) {
		struct backend *b = &p->backends[i];
		enum backend_state was = b->state;

		if (b->cfg.pool != (unsigned)pi)
			continue;
		if (held[i])
			b->state = B_ACTIVE;
		else if (b->state != B_PROVISIONING && b->state != B_READY)
			b->state = B_STANDBY;
		b->ramp_step = 0;
		if (committed(b) != (was != B_STANDBY))
			a.changed = true;
		if (held[i] && b->cfg.standby)
			a.activated++;
		if (!held[i] && !b->cfg.standby)
			a.drained++;
	}
	if (a.changed)
		p->pools[pi].adopt_hold = true;
	if (out)
		*out = a;
	return 0;
}

int st_policy_carry(struct st_policy *to, const struct st_policy *from)
{
	int carried = 0;

	if (!to || !from)
		return -EINVAL;
	for (size_t i = 0; i < from->n_pools; i++) {
		const struct pool *f = &from->pools[i];
		int ti = pool_by_name(to, f->cfg.name);
		struct pool *t;

		if (ti < 0)
			continue;
		t = &to->pools[ti];
		t->decided = f->decided;
		t->last_decision_ns = f->last_decision_ns;
		t->retry = f->retry;
		t->adopt_hold = t->hold_started = false;
	}
	for (size_t i = 0; i <= from->streams_mask; i++) {
		const struct stream *f = &from->streams[i];
		struct stream *t;
		int ti;

		if (!f->used || f->pool < 0)
			continue;
		ti = pool_by_name(to, from->pools[f->pool].cfg.name);
		if (ti < 0)
			continue;
		t = stream_get(to, f->name);
		if (!t) {
			to->stats.streams_refused++;
			continue;
		}
		t->pool = ti;
		t->high_cardinality = f->high_cardinality;
		t->skewed = f->skewed;
		t->decided = f->decided;
		t->last_decision_ns = f->last_decision_ns;
		carried++;
	}
	return carried;
}

/* ---- results and hooks ---- */

int st_policy_set_result(struct st_policy *p, uint64_t id,
			 enum st_policy_result result, const char *why)
{
	struct slot *s = slot_of_id(p, id);

	if (!s)
		return -ENOENT;
	if (result != ST_POLICY_RESULT_APPLIED && result != ST_POLICY_RESULT_DRY_RUN &&
	    result != ST_POLICY_RESULT_FAILED)
		return -EINVAL;
	if (s->d.result != ST_POLICY_RESULT_PENDING)
		return -EALREADY;
	s->d.result = result;
	snprintf(s->d.result_why, sizeof(s->d.result_why), "%s", why ? why : "");
	if (result == ST_POLICY_RESULT_FAILED)
		p->pools[s->d.pool_index].retry = true;
	return 0;
}

int st_policy_hook_done(struct st_policy *p, uint64_t id, bool ready)
{
	/* by the backend, not the log: the decision may have left the log
	 * while its hook ran */
	for (size_t i = 0; i < p->n_backends; i++) {
		struct backend *b = &p->backends[i];

		if (b->state == B_PROVISIONING && b->hook_decision == id) {
			b->state = ready ? B_READY : B_STANDBY;
			return 0;
		}
	}
	return -ENOENT;
}

void st_policy_stats(const struct st_policy *p, struct st_policy_stats *out)
{
	*out = p->stats;
}

int st_policy_backend_state(const struct st_policy *p, unsigned backend,
			    const char **state, uint32_t *weight)
{
	static const char *const names[] = {
		[B_STANDBY] = "standby", [B_PROVISIONING] = "provisioning",
		[B_READY] = "provisioning", [B_RAMP] = "ramp", [B_ACTIVE] = "active",
	};
	const struct backend *b;

	if (backend >= p->n_backends)
		return -ENOENT;
	b = &p->backends[backend];
	*state = names[b->state];
	*weight = in_table(b) ? weight_now(b, table_max_capacity(p, b->cfg.pool)) : 0;
	return 0;
}

const char *st_policy_kind_name(enum st_policy_kind k)
{
	static const char *const names[] = { "assign", "scale_up", "scale_down", "reweight" };

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : NULL;
}

const char *st_policy_result_name(enum st_policy_result r)
{
	static const char *const names[] = { "pending", "applied", "dry_run", "failed" };

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : NULL;
}

const char *st_policy_trigger_name(uint32_t trigger_bit)
{
	switch (trigger_bit) {
	case ST_POLICY_TRIGGER_REACTIVE: return "reactive";
	case ST_POLICY_TRIGGER_PREDICTIVE: return "predictive";
	case ST_POLICY_TRIGGER_PROFILE: return "profile";
	case ST_POLICY_TRIGGER_BOUNDS: return "bounds";
	case ST_POLICY_TRIGGER_RAMP: return "ramp";
	default: return NULL;
	}
}
