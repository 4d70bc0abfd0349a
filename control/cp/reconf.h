/*
 * Reconfiguration in shadowtap-cp: once per epoch the policy
 * (control/policy) reads every stream's state from the analysis and
 * decides; each decision runs the pre-provisioning hook when it asks for
 * one (control/policy/hook.h) and the enabled actuators (control/actuate)
 * with the pool's desired table, and goes to the event log with its inputs,
 * reasons, action and result; `shadowctl decisions` reads the recent ones.
 *
 * The epoch: the policy runs when a profile of a later epoch than the last
 * one judged arrives, on the streams' state as the earlier epoch left it
 * (every core's profile of an epoch comes before any of the next: the
 * merger writes them in epoch order).  The policy's clock (cooldowns, a
 * decision's time_ns) is the data's: the start of the epoch that opened
 * the judgement, i.e. the end of the judged one — trace time on a replayed
 * capture, the wall clock live.  A decision's JSON carries it as
 * data_time_ns (its time_ns in the event log is when the log wrote it).
 *
 * Reactive metrics per backend (backends.h): the Backend Metrics record of
 * epoch E comes after E's profiles and before any profile of E+1, so when
 * a profile of E+1 opens the judgement of E, the latest record is E's.
 * The policy gets the figures of the latest record whose epoch starts in
 * [judged epoch start, new epoch start), none when there is no such record
 * (a data plane that does not send them, or a lost record), and the
 * limits of policy.{retransmissions_per_s_max, zero_windows_per_s_max,
 * latency_p99_ms_max}.
 *
 * Actuators: actuators.nexthop when enabled (a nexthop group over
 * rtnetlink in shadowtap-cp's network namespace: every decision's table),
 * and actuators.xdp_lb when enabled (the XDP Maglev balancer, pinned for
 * the instance, control/actuate/xdplb/xdplb.h: the decisions of its pool,
 * actuators.xdp_lb.pool).  A decision applies to every enabled actuator
 * that serves its pool, all or nothing, xdp_lb first: when nexthop then
 * fails, xdp_lb gets back the table it held before (read back from the
 * kernel; none if it held none), and the result says so.  A dry run touches neither.  A decision with no such
 * actuator is recorded as FAILED "no actuator is enabled for pool P"
 * unless it is a dry run: nothing would route the traffic.  Destroying
 * the reconfiguration (exit, reload) leaves the kernel's tables as they
 * are; a new one adopts the running XDP balancer when its settings match.
 *
 * Adoption (issue 6; policy.h rule 8): a new reconfiguration (start,
 * SIGHUP) reads what the enabled actuators hold, also in a dry run
 * (read, never written), and hands it to the policy as its starting
 * state, pool by pool: the nexthop group's table when it holds backends of
 * the pool (applied last, so a table there is one every actuator took),
 * else the XDP balancer's for its pool; a pool neither holds keeps the
 * config's state.  Each adopted pool gives a "policy_adopted" event
 * (pool, actuator, backends with the weights read back, changed,
 * activated, drained, unknown, other_pool); a failed read gives one with
 * "actuator" and "error".  On SIGHUP st_cp_reconf_carry() also carries the
 * streams' assignments and the pools' cooldowns over ("policy_carried").
 * These events are logged at the next st_cp_reconf_tick() or _profile().
 *
 * Thread safety: the daemon's loop only.
 */
#ifndef ST_CONTROL_CP_RECONF_H
#define ST_CONTROL_CP_RECONF_H

#include <stdint.h>

#include <jansson.h>

#include "control/config/config.h"
#include "control/cp/analysis.h"
#include "control/cp/backends.h"

struct st_cp_reconf;

/* Receives each event-log object (a new reference it takes over). */
typedef void (*st_cp_log_fn)(void *ctx, json_t *event);

/*
 * The reconfiguration of cfg, or NULL with errno 0 when the config has no
 * pools (nothing to reconfigure), or NULL with errno (ENOMEM, an
 * actuator's socket or bpf error, ENOTSUP: xdp_lb enabled in a build
 * without it) and a reason in err.  reactive_only: the policy ignores the
 * predictive inputs.  instance: the data plane's instance (the XDP
 * balancer's pins are under /sys/fs/bpf/shadowtap/<instance>).  The
 * policy starts from the tables the actuators read back (Adoption, above);
 * a read that fails is logged and leaves the config's state, it does not
 * fail the create.
 */
struct st_cp_reconf *st_cp_reconf_create(const struct st_config *cfg, bool reactive_only,
					 const char *instance, char *err, size_t err_len);
void st_cp_reconf_destroy(struct st_cp_reconf *r);

/*
 * A SIGHUP's new reconfiguration `to` takes over the streams' pool
 * assignments and the pools' cooldowns of `from` (st_policy_carry), by
 * name; call it before destroying `from`.  Returns the streams carried
 * (0 when either is NULL), or -errno.
 */
int st_cp_reconf_carry(struct st_cp_reconf *to, const struct st_cp_reconf *from);

/* A profile of epoch epoch_start_ns was analysed (see the file head). */
void st_cp_reconf_profile(struct st_cp_reconf *r, const struct st_analysis *a,
			  uint64_t epoch_start_ns, uint64_t now_ns,
			  st_cp_log_fn log, void *ctx);

/* The per-backend metrics the policy reads (kept, not owned; NULL: none);
 * set it again after a new reconf or backends module.  r NULL: no-op. */
void st_cp_reconf_set_backends(struct st_cp_reconf *r, const struct st_cp_backends *b);

/* Polls running hooks (never blocks); call it every loop turn. */
void st_cp_reconf_tick(struct st_cp_reconf *r, st_cp_log_fn log, void *ctx);

/* The latest `count` decisions, oldest first, as a JSON array (new
 * reference, NULL on ENOMEM). */
json_t *st_cp_reconf_decisions(const struct st_cp_reconf *r, size_t count);

/* Counters for cp-status. */
struct st_cp_reconf_stats {
	uint64_t epochs, decisions, applied, dry_runs, failed, hooks_started,
		 hooks_ready, hooks_failed;
};
void st_cp_reconf_stats(const struct st_cp_reconf *r, struct st_cp_reconf_stats *out);

#endif
