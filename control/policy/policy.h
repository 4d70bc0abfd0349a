/*
 * The reconfiguration policy: once per epoch it takes what the control plane
 * knows about every stream (actual rate, forecast, horizon, cardinality,
 * top-1 share, the latest signal) and, optionally, reactive metrics per
 * backend, and decides where each stream goes and how many backends each
 * pool runs with which weights.  It decides only: the caller (shadowtap-cp)
 * runs the pre-provisioning hook (control/policy/hook.h) and the actuator
 * (control/actuate/actuator.h) for each decision, then hands the result
 * back, so that every decision carries its inputs, reasons, action and
 * result into the event log and `shadowctl decisions`.
 *
 * Config knobs (control/config/config.h, examples/shadowtap.conf):
 * policy.{cooldown_s, hysteresis, high_cardinality, skew_top1_share,
 * scale_up_utilization, scale_down_utilization}; pools[].{memory_class,
 * skew_handling, backend_capacity_rps, min_backends, max_backends};
 * backends[].{pool, weight, standby, capacity_rps}; actuators.dry_run;
 * actuators.hook.argc (whether a hook runs before a standby joins);
 * streams.rules[].pool (a stream pinned to a pool).
 *
 * Rules, evaluated in this order each epoch (st_policy_evaluate):
 *
 * 1. Stream class, with hysteresis h (policy.hysteresis).  A stream is
 *    "high cardinality" from cardinality >= high_cardinality and stays so
 *    until cardinality < high_cardinality * (1 - h); it is "skewed" from
 *    top1_share >= skew_top1_share until top1_share < skew_top1_share *
 *    (1 - h).  Between the two edges a stream keeps its class.  Both flags
 *    are judged on actual values (predictive inputs play no part in the
 *    class, whatever the mode).
 *
 * 2. Stream -> pool (ties: the first pool in file order that fits):
 *      pinned by its rule (st_policy_stream_input.pinned_pool)  -> that pool;
 *      high cardinality and skewed  -> a pool with memory_class high and
 *                                      skew_handling, else a high one;
 *      high cardinality             -> a pool with memory_class high;
 *      skewed                       -> a pool with skew_handling;
 *      otherwise (or when no pool has the capability wanted)
 *                                   -> the first "normal" pool (memory
 *                                      class normal, no skew handling),
 *                                      else the first pool.
 *    High cardinality wins over skew: running out of memory is the harder
 *    failure.  A stream seen for the first time is assigned at once; a
 *    stream that wants another pool moves only when its last decision is
 *    at least cooldown_s old (per-stream cooldown).  Each move is an ASSIGN
 *    decision whose table is the target pool's current table.
 *
 * 3. Weight ramp.  A backend that joins a pool (a standby activated)
 *    enters at ST_POLICY_RAMP_PCT[0] of its full weight and moves one step
 *    per epoch (25 %, 50 %, 100 %).  Its ramp starts in the epoch of the
 *    scale-up decision when no hook is configured (or in dry run), else in
 *    the first epoch after st_policy_hook_done() reported it ready (exit
 *    status 0); a hook that fails puts the backend back to standby.  Each
 *    epoch in which a ramp moves gives one REWEIGHT decision for the pool
 *    (with a pending retry, rule 7, folded in); ramp steps are not subject
 *    to cooldown and do not start one.
 *
 * 4. Scaling, per pool, with its streams' load (streams of this epoch's
 *    input only):
 *      actual load   = sum of the streams' records_per_s (reactive);
 *      forecast load = sum of the streams' forecast_rps (predictive; a
 *                      stream with no forecast, NAN, counts its actual
 *                      rate); in mode ST_POLICY_REACTIVE_ONLY it is the
 *                      actual load (predictive inputs ignored);
 *      capacity      = sum of capacity_rps over the pool's committed
 *                      backends (active, ramping or provisioning);
 *                      unknown when one of them has capacity 0;
 *      utilization   = load / capacity.
 *    Scale up (combined trigger, reactive OR predictive; the decision says
 *    which fired, both when both did):
 *      reactive:   actual utilization >= scale_up_utilization, or a
 *                  backend's measured records/s >= scale_up_utilization x
 *                  its capacity, or a backend's retransmissions/s, zero
 *                  windows/s or latency p99 above the limits of
 *                  st_policy_options (0 = that metric is not a trigger);
 *      predictive: forecast utilization >= scale_up_utilization; or, when
 *                  the pool's capacity is unknown, a stream with
 *                  horizon_s >= 0 (its forecast will cross its own
 *                  capacity within the forecast horizon).
 *    How many: DS2 (Kalavri et al., "Three steps is all you need: fast,
 *    accurate, automatic scaling decisions for distributed streaming
 *    dataflows", OSDI 2018).  The model there treats each operator
 *    instance as having a true processing rate; the parallelism an
 *    operator needs is the rate it must sustain divided by what one
 *    instance can truly process, rounded up, and one decision jumps
 *    straight to that count instead of adding one instance at a time.
 *    Here the rate to sustain is max(actual, forecast) load, one backend's
 *    rate is its capacity_rps times a target utilization (st_policy_options
 *    .target_utilization, default the midpoint of scale_down and scale_up,
 *    so that the result sits between the two thresholds), and the count
 *    is st_policy_ds2_backends(): ceil(load / (capacity x target)) for
 *    equal capacities; with unequal ones, the fewest committed backends
 *    plus next standbys (file order) whose capacities sum to >= load /
 *    target.  The pool activates standbys until that count (at least one
 *    on a trigger), never past max_backends nor past the standbys it has;
 *    when the capacity is unknown it activates one.  One SCALE_UP decision
 *    per backend activated.
 *    Scale down: actual utilization <= scale_down_utilization AND forecast
 *    utilization <= scale_down_utilization (in reactive-only mode the
 *    forecast is the actual), no reactive trigger, no ramp or hook in
 *    progress, more than min_backends committed, and without the backend
 *    the max(actual, forecast) utilization stays below
 *    scale_up_utilization (so the drain does not call for a scale-up).
 *    The last fully active backend in file order is drained: it leaves the
 *    table at once (weight 0) and becomes a standby again.
 *    Bounds: a pool with fewer committed backends than min_backends
 *    activates standbys up to it (trigger ST_POLICY_TRIGGER_BOUNDS),
 *    whatever the cooldown.  Scale up and down are subject to the pool's
 *    cooldown: no scaling decision for a pool within cooldown_s of its
 *    last scaling (or bounds, or retry) decision; assignments do not
 *    start a pool's cooldown.
 *
 * 5. Weights: proportional to capacity.  When every backend in the table
 *    has a capacity, its full weight is max(1, round(ST_POLICY_WEIGHT_SCALE
 *    x capacity / largest capacity in the pool's table)); otherwise each
 *    backend keeps its config weight.  A ramping backend has ceil(full x
 *    pct / 100), at least 1.
 *
 * 6. Dry run (actuators.dry_run or st_policy_options.dry_run): the same
 *    decisions, each marked dry_run; the policy's state moves as though
 *    they were applied (so the log shows what a live run would do), no
 *    hook is expected (ramps start at once), and the caller must not touch
 *    the kernel (actuator apply with dry_run true) and records
 *    ST_POLICY_RESULT_DRY_RUN.
 *
 * 7. Results.  A decision is PENDING until st_policy_set_result().  A
 *    FAILED decision marks its pool: in the first epoch past the pool's
 *    cooldown the policy emits a REWEIGHT with the pool's desired table
 *    (reason "retry").  The policy's own state keeps the desired table.
 *
 * 8. Adoption (st_policy_adopt).  A new policy starts from the config
 *    (standbys standby, the others active), but the kernel may already
 *    route over another table: the one an earlier policy left (before a
 *    restart or a SIGHUP, which both create a new policy).  Before its
 *    first epoch the caller hands the policy what the actuators read back,
 *    and the policy takes it as its committed state, pool by pool:
 *      - an entry is matched to a config backend by name, or, when read
 *        back without one (the nexthop group after a restart), by id (the
 *        config index) provided the address read back is the backend's;
 *        entries that match no backend of the pool (unknown names, other
 *        pools' backends, ids out of range or with another address) are
 *        ignored and counted;
 *      - when no entry matches a backend of the pool, nothing is adopted:
 *        the kernel holds no table of this pool yet (a first start), and
 *        the pool keeps the config's state;
 *      - otherwise the table is the truth: a backend in it is active (a
 *        standby in it has been scaled up), one not in it is a standby (a
 *        non-standby has been drained), so that the policy's table is the
 *        kernel's and capacities count only backends that take traffic;
 *        min_backends and the other rules then act as usual;
 *      - weights stay the policy's (rule 5): the kernel's may be scaled
 *        (the nexthop group holds 1..256), so the read weight is reported,
 *        not kept; a ramp in progress is adopted as complete;
 *      - adoption makes no decision.  When it changed the pool's state (a
 *        backend's committed state is not the config's), the pool is not
 *        drained within cooldown_s of the first epoch after it (when the
 *        table last changed is unknown); scale-ups are not held back.
 *    st_policy_carry() then may carry a previous policy's streams and
 *    pools' cooldowns over (a SIGHUP), which replaces that hold.
 *
 * The same input epoch after epoch gives each decision once: every rule
 * compares with the policy's state (the stream's pool, the pool's
 * committed backends), not with the previous input.
 *
 * Memory: fixed at create: the streams table (opt.streams_max), the pools
 * and backends of the config, and a ring of opt.log_max decisions, each
 * with a table of at most its pool's backends.  A stream past
 * streams_max is counted (streams_refused) and not assigned.
 *
 * Thread safety: a policy belongs to one thread (the daemon's loop); no
 * two calls on one handle may run at once.  Pointers it returns stay
 * valid until the next st_policy_evaluate() or st_policy_destroy().
 */
#ifndef ST_CONTROL_POLICY_H
#define ST_CONTROL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/actuate/actuator.h"
#include "control/config/config.h"

#define ST_POLICY_REASONS_MAX 4
#define ST_POLICY_REASON_BYTES 160
#define ST_POLICY_WEIGHT_SCALE 1000u      /* full weight of the largest backend */
#define ST_POLICY_RAMP_STEPS 3
extern const unsigned ST_POLICY_RAMP_PCT[ST_POLICY_RAMP_STEPS]; /* 25, 50, 100 */

enum st_policy_mode {
	ST_POLICY_COMBINED = 0,      /* reactive OR predictive triggers */
	ST_POLICY_REACTIVE_ONLY,     /* predictive inputs ignored */
};

/* Options beyond the config; st_policy_options_init() gives the defaults. */
struct st_policy_options {
	enum st_policy_mode mode;        /* ST_POLICY_COMBINED */
	bool dry_run;                    /* OR'ed with actuators.dry_run; false */
	double target_utilization;       /* DS2's target, (0, 1]; 0 = midpoint of
					  * scale_down and scale_up (default) */
	double retransmissions_per_s_max;/* reactive limits per backend, 0 = off */
	double zero_windows_per_s_max;   /* 0 = off */
	double latency_p99_ms_max;       /* 0 = off */
	size_t streams_max;              /* ST_POLICY_STREAMS_DEFAULT */
	size_t log_max;                  /* decisions kept, ST_POLICY_LOG_DEFAULT */
};
#define ST_POLICY_STREAMS_DEFAULT 16384
#define ST_POLICY_LOG_DEFAULT 1024

/* One stream as the policy sees it this epoch (control/cp/analysis.h's
 * st_analysis_stream gives each figure). */
struct st_policy_stream_input {
	char name[ST_CONFIG_NAME_BYTES];       /* NUL-terminated, unique */
	char pinned_pool[ST_CONFIG_NAME_BYTES];/* its rule's pool; "" = by profile */
	double records_per_s;                  /* actual */
	double forecast_rps;                   /* at the forecast horizon; NAN none */
	double horizon_s;                      /* to the stream's capacity; < 0 none */
	double cardinality;                    /* distinct keys per epoch */
	double top1_share;                     /* [0, 1] */
	double score;                          /* latest signal's, [0, 1] */
	uint8_t severity;                      /* enum st_severity */
	uint32_t causes;                       /* ST_SIGNAL_CAUSE_* */
};

/* Reactive metrics of one backend; NAN = unknown. */
struct st_policy_backend_metrics {
	unsigned backend;                      /* the config's backend index */
	double records_per_s;
	double bytes_per_s;
	double retransmissions_per_s;
	double zero_windows_per_s;
	double latency_p99_ms;                 /* request -> response */
};

/* The snapshot st_policy_evaluate() takes; nothing of it is kept. */
struct st_policy_input {
	uint64_t now_ns;                       /* CLOCK_REALTIME */
	const struct st_policy_stream_input *streams;
	size_t n_streams;
	const struct st_policy_backend_metrics *metrics;  /* may be NULL */
	size_t n_metrics;
};

enum st_policy_kind {
	ST_POLICY_ASSIGN = 0,        /* stream -> pool */
	ST_POLICY_SCALE_UP,          /* activate a standby */
	ST_POLICY_SCALE_DOWN,        /* drain a backend */
	ST_POLICY_REWEIGHT,          /* weights of the pool's table (ramp, retry) */
};

/* Trigger bits. */
#define ST_POLICY_TRIGGER_REACTIVE (1u << 0)
#define ST_POLICY_TRIGGER_PREDICTIVE (1u << 1)
#define ST_POLICY_TRIGGER_PROFILE (1u << 2)   /* stream class (assign) */
#define ST_POLICY_TRIGGER_BOUNDS (1u << 3)    /* min_backends */
#define ST_POLICY_TRIGGER_RAMP (1u << 4)      /* weight ramp, hook, retry */

enum st_policy_result {
	ST_POLICY_RESULT_PENDING = 0,
	ST_POLICY_RESULT_APPLIED,
	ST_POLICY_RESULT_DRY_RUN,
	ST_POLICY_RESULT_FAILED,
};

struct st_policy_reason {
	uint32_t trigger;                       /* one ST_POLICY_TRIGGER_* bit */
	char text[ST_POLICY_REASON_BYTES];
};

/* The values a decision was made on (NAN: not applicable or unknown). */
struct st_policy_decision_inputs {
	/* the stream (ASSIGN) */
	double records_per_s, forecast_rps, horizon_s, cardinality, top1_share;
	double score;
	uint8_t severity;
	uint32_t causes;
	bool high_cardinality, skewed;          /* the class after hysteresis */
	/* the pool (all kinds) */
	double load_rps, forecast_load_rps;     /* forecast: = load in reactive-only */
	double capacity_rps;                    /* NAN: unknown */
	double utilization, forecast_utilization;
	double min_horizon_s;                   /* of its streams; < 0 none */
	unsigned committed, standby;            /* backends before the decision */
	unsigned ds2_needed;                    /* 0: not computed */
	double worst_latency_p99_ms, worst_retransmissions_per_s,
	       worst_zero_windows_per_s;        /* over its backends; NAN unknown */
};

struct st_policy_decision {
	uint64_t id;                            /* 1, 2, ... per policy */
	uint64_t time_ns;                       /* the input's now_ns */
	enum st_policy_kind kind;
	char stream[ST_CONFIG_NAME_BYTES];      /* ASSIGN; "" otherwise */
	char from_pool[ST_CONFIG_NAME_BYTES];   /* ASSIGN: previous; "" first */
	char pool[ST_CONFIG_NAME_BYTES];
	unsigned pool_index;                    /* the config's */
	char backend[ST_CONFIG_NAME_BYTES];     /* SCALE_UP/DOWN; "" otherwise */
	int backend_index;                      /* the config's; -1 none */
	uint32_t triggers;                      /* ST_POLICY_TRIGGER_* bits */
	unsigned n_reasons;
	struct st_policy_reason reasons[ST_POLICY_REASONS_MAX];
	struct st_policy_decision_inputs inputs;
	/* the action: the pool's desired table, for the actuator */
	const struct st_actuator_backend *table;
	size_t n_table;
	bool run_hook;                          /* SCALE_UP that waits for the hook */
	bool dry_run;
	/* the result, set by st_policy_set_result() */
	enum st_policy_result result;
	char result_why[ST_ACTUATOR_WHY_BYTES];
};

struct st_policy;

/* Fills *opt with the defaults above. */
void st_policy_options_init(struct st_policy_options *opt);

/*
 * A policy over cfg's pools, backends, policy and actuator settings (copied:
 * cfg may be freed afterwards; a reloaded config needs a new policy).
 * opt NULL = defaults.  The caller owns the result (st_policy_destroy).
 * NULL with errno: EINVAL (opt out of range: target_utilization outside
 * [0, 1], streams_max or log_max 0, a negative limit), ENOMEM.
 */
struct st_policy *st_policy_create(const struct st_config *cfg,
				   const struct st_policy_options *opt);

/* Frees the policy and its decisions; NULL is a no-op. */
void st_policy_destroy(struct st_policy *p);

/*
 * One epoch: applies the rules (file head) to `in` and appends this
 * epoch's decisions to the log.  *first_id is the id of the first of them
 * and *n their count (0: nothing to do); read them with st_policy_find().
 * An epoch makes at most log_max decisions, of which at most
 * (log_max + 1) / 2 assignments (more wait for the next epoch).
 * Returns 0, or -EINVAL (in NULL, streams NULL with n_streams > 0,
 * metrics NULL with n_metrics > 0).
 */
int st_policy_evaluate(struct st_policy *p, const struct st_policy_input *in,
		       uint64_t *first_id, size_t *n);

/* The decision `id` while it is in the log, else NULL. */
const struct st_policy_decision *st_policy_find(const struct st_policy *p,
						uint64_t id);

/* The log, oldest first: i in [0, st_policy_log_count()). */
size_t st_policy_log_count(const struct st_policy *p);
const struct st_policy_decision *st_policy_log_at(const struct st_policy *p, size_t i);

/*
 * Records what the caller did with decision `id`: APPLIED, DRY_RUN or
 * FAILED with `why` (may be NULL; copied, cut to fit).  FAILED marks the
 * pool for a retry (rule 7).  Returns 0, -ENOENT (not in the log), -EINVAL
 * (result PENDING or out of range), -EALREADY (result set before).
 */
int st_policy_set_result(struct st_policy *p, uint64_t id,
			 enum st_policy_result result, const char *why);

/*
 * The hook of SCALE_UP decision `id` finished: ready (exit status 0)
 * starts the backend's ramp in the next st_policy_evaluate(); not ready
 * puts it back to standby.  Works after the decision has left the log.
 * Returns 0, -ENOENT (no backend waits for the hook of decision `id`).
 */
int st_policy_hook_done(struct st_policy *p, uint64_t id, bool ready);

/*
 * DS2's backend count: the fewest backends of `capacity_rps` each, run at
 * `target_utilization`, that take `load_rps`: ceil(load / (capacity x
 * target)); 0 for load <= 0; UINT32_MAX when capacity or target is not
 * positive.  Pure.
 */
unsigned st_policy_ds2_backends(double load_rps, double capacity_rps,
				double target_utilization);

/*
 * The desired table of config pool `pool` now (e.g. to install at start,
 * before the first decision) into out[0..max), *n the count written.
 * Returns 0, or -EINVAL (no such pool).
 */
int st_policy_pool_table(const struct st_policy *p, unsigned pool,
			 struct st_actuator_backend *out, size_t max, size_t *n);

/* What st_policy_adopt() did with one pool's table. */
struct st_policy_adoption {
	unsigned pool;             /* the config's pool index */
	unsigned matched;          /* entries matched to the pool's backends */
	unsigned activated;        /* config standbys the table holds: now active */
	unsigned drained;          /* config non-standbys the table lacks: now standby */
	unsigned unknown;          /* entries ignored: no backend of the config */
	unsigned other_pool;       /* entries ignored: another pool's backend */
	bool changed;              /* a backend's committed state moved */
};

/*
 * Takes `table` (read back from an actuator; table[i].name may be "",
 * then table[i].id is the config index, checked against the address read
 * back when it has one) as pool `pool`'s committed state (rule 8).  Call
 * it before the first st_policy_evaluate(); a later call works too (a
 * ramp or hook in progress of the pool is then ended: backends in the
 * table become active, the others standby, except those whose hook
 * runs).  Makes no decision.  *out (may be NULL) says what it did.
 * Returns 0; -ENODATA when no entry matches a backend of the pool (the
 * pool's state is unchanged, *out still counts the entries ignored);
 * -ENOENT (no such pool); -EINVAL (p or pool NULL, table NULL with n > 0).
 */
int st_policy_adopt(struct st_policy *p, const char *pool,
		    const struct st_actuator_backend *table, size_t n,
		    struct st_policy_adoption *out);

/*
 * The config index of the backend read-back entry `e` names (rule 8's
 * match: by name, else by id with the address checked), or -1 (none).
 * Pure.
 */
int st_policy_match_entry(const struct st_policy *p, const struct st_actuator_backend *e);

/*
 * Carries state from `from` (the policy of the previous config) into
 * `to` (a new one, before its first epoch): each stream assigned to a pool
 * whose name `to` has keeps that pool, its class and the time of its last
 * decision (so it is not assigned again, and its cooldown runs on); each
 * pool of the same name keeps its last scaling decision's time (its
 * cooldown) and a pending retry, which replaces adoption's drain hold.
 * Backends' states are not carried (adoption reads them from the kernel).
 * Returns the number of streams carried (<= streams_max of `to`; more are
 * counted in streams_refused), or -EINVAL (a NULL argument).
 */
int st_policy_carry(struct st_policy *to, const struct st_policy *from);

/* Counters. */
struct st_policy_stats {
	uint64_t epochs;
	uint64_t decisions;
	uint64_t streams_refused;      /* past streams_max */
	uint64_t scale_up_blocked;     /* a trigger with no standby left or at max */
	uint64_t decisions_deferred;   /* assignments put off to a later epoch
					* (at most log_max / 2 an epoch) */
};
void st_policy_stats(const struct st_policy *p, struct st_policy_stats *out);

/* Names for logs: "assign", "scale_up", "scale_down", "reweight";
 * "pending", "applied", "dry_run", "failed"; "reactive", "predictive",
 * "profile", "bounds", "ramp" (one bit); NULL when out of range. */
const char *st_policy_kind_name(enum st_policy_kind k);
const char *st_policy_result_name(enum st_policy_result r);
const char *st_policy_trigger_name(uint32_t trigger_bit);

/* The config index of `pool`'s backend i for views: committed state
 * "active", "ramp", "provisioning", "standby"; weight now (0 out of the
 * table).  Returns 0 or -ENOENT (no such backend). */
int st_policy_backend_state(const struct st_policy *p, unsigned backend,
			    const char **state, uint32_t *weight);

#endif
