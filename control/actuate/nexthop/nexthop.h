/*
 * The nexthop actuator: makes the Linux kernel route a pool's prefix over a
 * nexthop group whose members are the pool's backends, over rtnetlink
 * (NETLINK_ROUTE, through libmnl).  It meets control/actuate/actuator.h.
 *
 * What it holds in the kernel (ids from `actuators.nexthop`, config.h):
 *   - one nexthop object per backend: id group_id + 1 + backend.id, gateway
 *     = the backend's address, output device = the one the kernel's own
 *     route lookup (RTM_GETROUTE) of the gateway gives.  The gateway must be
 *     on a connected network: the kernel refuses a gateway reached through
 *     another gateway ("Nexthop has invalid gateway"), and that refusal is
 *     what apply() reports.  No onlink flag is set.
 *   - the group group_id: resilient (NEXTHOP_GRP_TYPE_RES) with
 *     `resilient.buckets` buckets and `resilient.idle_timer_s`, or a
 *     hash-threshold multipath group (NEXTHOP_GRP_TYPE_MPATH) when buckets
 *     is 0.  The unbalanced timer is left at the kernel's (0: a group is
 *     rebalanced only as buckets go idle).  A re-weight replaces the group
 *     in place (RTM_NEWNEXTHOP, NLM_F_REPLACE); in a resilient group the
 *     kernel then moves only the buckets it must, each once it has been idle
 *     for idle_timer (Documentation/networking/nexthop-group-resilient.rst).
 *   - the route `route`/`route_prefix_len` in table `table` with RTA_NH_ID =
 *     group_id.
 * Objects in the id range group_id + 1 .. group_id + ST_CONFIG_BACKENDS_MAX
 * that the table does not name are deleted: the range is the actuator's.
 *
 * Weights.  struct nexthop_grp carries an 8-bit weight, the kernel's weight
 * minus 1, so the kernel holds 1..256.  Config weights are 1..65535: when
 * the table's largest weight is <= 256 they are passed unchanged; otherwise
 * every weight w becomes max(1, round(w * 256 / largest)) (ratios kept to
 * the nearest 1/256 of the largest).  read() reports the kernel's weights.
 *
 * An apply() is: one RTM_GETNEXTHOP dump and one RTM_GETROUTE dump (the
 * kernel's state), a gateway lookup per object to create, then the change,
 * one message at a time, each with NLM_F_ACK and its extended ack
 * (NLMSGERR_ATTR_MSG) quoted in the reason on failure:
 *   1. create missing objects, replace objects whose gateway changed;
 *   2. create or replace the group (skipped when equal);
 *   3. delete our objects no longer in the table;
 *   4. create (or replace) the route when it does not point at the group.
 * A failure undoes steps done, newest first (objects re-created, the
 * previous group restored or a new one deleted, created objects deleted).
 * Nothing is sent when the kernel already holds the table (res->changed =
 * false); a dry run stops after the reads and puts the plan in res->why.
 *
 * Thread safety: one actuator per thread; it owns its netlink socket, bound
 * to the network namespace of the thread that created it.
 */
#ifndef ST_CONTROL_ACTUATE_NEXTHOP_H
#define ST_CONTROL_ACTUATE_NEXTHOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/actuate/actuator.h"
#include "control/config/config.h"

/*
 * Opens a NETLINK_ROUTE socket in the caller's network namespace and
 * returns the actuator (a->ops->apply/read/destroy), configured by a copy of
 * *cfg (cfg->enabled is not looked at).  Sends nothing to the kernel.
 * Returns NULL with errno: EINVAL (group_id 0 or its id range overflows,
 * route af not AF_INET/AF_INET6, prefix too long, buckets > 65535,
 * table 0), ENOMEM, or the socket's error.  Free with a->ops->destroy().
 */
struct st_actuator *st_nexthop_create(const struct st_config_nexthop *cfg);

/* The operations st_nexthop_create() installs (name "nexthop"). */
extern const struct st_actuator_ops st_nexthop_ops;

/*
 * The kernel weight (1..256) of config weight `weight` in a table whose
 * largest weight is `largest` (both 1..ST_CONFIG_WEIGHT_MAX, weight <=
 * largest); see the head comment.  Pure.
 */
uint32_t st_nexthop_kernel_weight(uint32_t weight, uint32_t largest);

/* What the kernel holds besides the members (shadowctl routes). */
struct st_nexthop_state {
	bool group_exists;
	bool resilient;           /* NEXTHOP_GRP_TYPE_RES */
	uint32_t buckets;         /* resilient only */
	uint32_t idle_timer_s;    /* resilient only, rounded down */
	uint32_t unbalanced_timer_s;
	size_t members;           /* nexthops in the group */
	bool route_exists;        /* route/prefix in table, any target */
	uint32_t route_nh_id;     /* its RTA_NH_ID, 0 when it has none */
};

/*
 * Reads the group and the route from the kernel into *out.  0 or -errno
 * (the netlink error).  `a` must come from st_nexthop_create().
 */
int st_nexthop_read_state(struct st_actuator *a, struct st_nexthop_state *out);

/*
 * Change messages (anything but reads) this actuator has sent to the kernel
 * since it was created, rollbacks included.  For tests and the benchmark:
 * an idempotent apply or a dry run leaves it unchanged.
 */
uint64_t st_nexthop_change_messages(const struct st_actuator *a);

#endif
