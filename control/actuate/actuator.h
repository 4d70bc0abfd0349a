/*
 * One interface for every actuator: something that makes the kernel route a
 * pool's traffic over a given set of backends with given weights.  The
 * policy (control/cp) decides the desired table; an actuator makes the
 * kernel hold exactly that table, or nothing changes.
 *
 * Contract of every actuator:
 *   - apply() is idempotent: applying the table the kernel already holds
 *     changes nothing (and says so);
 *   - it reports success or failure with a one-line reason;
 *   - a change that fails part-way is rolled back, so that the kernel holds
 *     the previous table (the failure says whether the rollback worked);
 *   - dry_run computes and reports the change without touching the kernel;
 *   - read() gives back what the kernel holds now (shadowctl routes), not
 *     what was last applied.
 *
 * Thread safety: an actuator belongs to one thread (the daemon's loop).
 */
#ifndef ST_CONTROL_ACTUATE_ACTUATOR_H
#define ST_CONTROL_ACTUATE_ACTUATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/config/config.h"

#define ST_ACTUATOR_BACKENDS_MAX ST_CONFIG_BACKENDS_MAX
#define ST_ACTUATOR_WHY_BYTES 256

/* One backend of a desired (or read back) table. */
struct st_actuator_backend {
	char name[ST_CONFIG_NAME_BYTES];   /* the config's backend name ("" when read
					    * back and not known) */
	uint32_t id;                       /* the config's index (nexthop id offset) */
	struct st_config_addr address;
	bool has_mac;
	uint8_t mac[6];
	uint32_t weight;                   /* 1..ST_CONFIG_WEIGHT_MAX; a backend
					    * with weight 0 is not in the table */
};

/* What apply() did. */
struct st_actuator_result {
	bool changed;                      /* the kernel's table changed */
	bool rolled_back;                  /* a failure was undone */
	unsigned added, removed, reweighted;
	uint64_t duration_ns;              /* wall time of the kernel change */
	char why[ST_ACTUATOR_WHY_BYTES];   /* on failure (and on dry run: the plan) */
};

struct st_actuator;

struct st_actuator_ops {
	const char *name;                  /* "nexthop", "xdp_lb" */
	/*
	 * Makes the kernel hold backends[0..n) (n <= ST_ACTUATOR_BACKENDS_MAX,
	 * names unique, weights >= 1).  Returns 0, or -errno with res->why
	 * set (-EINVAL bad table, the netlink/bpf error otherwise).
	 */
	int (*apply)(struct st_actuator *a, const struct st_actuator_backend *backends,
		     size_t n, bool dry_run, struct st_actuator_result *res);
	/* The table the kernel holds now into out[0..max); *n the count there
	 * is (may exceed max).  0 or -errno. */
	int (*read)(struct st_actuator *a, struct st_actuator_backend *out, size_t max,
		    size_t *n);
	/* Frees the actuator; the kernel's table stays.  NULL is a no-op. */
	void (*destroy)(struct st_actuator *a);
};

/* Every actuator starts with this; its own state follows. */
struct st_actuator {
	const struct st_actuator_ops *ops;
};

#endif
