/*
 * The xdp_lb actuator: an XDP L4 load balancer (bpf/lb.bpf.c) whose Maglev
 * table (maglev.h) is built here and swapped into the kernel atomically,
 * behind the actuator interface (control/actuate/actuator.h).
 *
 * apply(): builds the Maglev table of the weighted backends, creates a new
 * inner table map and fills it, installs it with one update of the outer
 * map (st_lb_tables) at the key packets do not use, writes the backends
 * that are new into free indices of st_lb_backends, and swaps: one update
 * of st_lb_active names the new key.  Each packet sees either the old
 * table or the new one.  The kernel completes an outer-map update only
 * after an RCU grace period (it waits for running programs after any
 * map-in-map update), milliseconds; the flip has no such wait, so the swap
 * proper takes microseconds, and the grace period of the next install
 * guarantees no packet still uses the table it replaces.  Idempotent: when
 * the kernel already holds the same backends (name, address, MAC, weight),
 * nothing changes.  Dry run: reports the plan and the slots that would
 * move, touching nothing.  A failure before the flip leaves the old table
 * in use (and clears what it wrote).  res->duration_ns is the flip;
 * st_xdplb_last_timing() gives the outer-map update and the whole apply.
 *
 * read(): the table the kernel holds: the backends the installed inner map
 * names (their entries of st_lb_backends), in index order.
 *
 * Backend indices are stable: a backend keeps its index while its name,
 * address and MAC stay; a removed backend's entry stays (in_use) until its
 * index is given to a new backend, so a packet still on the old table never
 * finds it gone.
 *
 * Limits: IPv4 VIP and backends only (-EAFNOSUPPORT otherwise).  A backend
 * without a MAC takes the neighbour table's (/proc/net/arp) entry on the
 * interface frames leave by; -EHOSTUNREACH when there is none.
 *
 * Thread safety: an actuator belongs to one thread.  Needs CAP_BPF,
 * CAP_NET_ADMIN (root).  Built only with the af_xdp feature (ST_HAVE_XDP_LB).
 */
#ifndef ST_CONTROL_ACTUATE_XDPLB_XDPLB_H
#define ST_CONTROL_ACTUATE_XDPLB_XDPLB_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/lb.h"
#include "control/actuate/actuator.h"
#include "control/config/config.h"

/* Where the program goes. */
enum st_xdplb_attach {
	ST_XDPLB_ATTACH_AUTO = 0,  /* native, else SKB (generic) mode */
	ST_XDPLB_ATTACH_NATIVE,
	ST_XDPLB_ATTACH_SKB,
	ST_XDPLB_ATTACH_NONE,      /* loaded, not attached (BPF_PROG_TEST_RUN) */
};

extern const struct st_actuator_ops st_xdplb_ops;

/*
 * Loads the balancer for cfg (interface, vip, vip_port, transport,
 * table_size, forward, egress_interface, ipip_source; `enabled` is not
 * looked at) and attaches it to cfg->interface, with no table installed
 * (VIP packets pass until the first apply()).  Returns the actuator (free
 * with its ops->destroy, which detaches the program), or NULL with errno
 * set: EINVAL (bad settings; table_size not a prime in range), ENODEV (no
 * such interface), EAFNOSUPPORT (IPv6 VIP), EPERM, or libbpf/libxdp's
 * error; why (may be NULL) gets a one-line reason.
 */
struct st_actuator *st_xdplb_create(const struct st_config_xdp_lb *cfg,
				    enum st_xdplb_attach attach, char *why,
				    size_t why_bytes);

/* "native", "skb" or "none".  a must be an xdp_lb actuator (all below). */
const char *st_xdplb_attach_mode(const struct st_actuator *a);

/* The program's fd (owned by the actuator), for BPF_PROG_TEST_RUN. */
int st_xdplb_prog_fd(const struct st_actuator *a);

/* Maglev table size M of every table. */
uint32_t st_xdplb_table_size(const struct st_actuator *a);

/*
 * Copies the installed table, read back from the kernel, into
 * table[0..table_size) (backend indices; table_size ==
 * st_xdplb_table_size()).  0; -ENOENT no table installed; -EINVAL wrong
 * size; the bpf error.
 */
int st_xdplb_table_read(struct st_actuator *a, uint32_t *table, uint32_t table_size);

/* One backend of the installed table, as `shadowctl routes` shows it. */
struct st_xdplb_route {
	uint32_t index;                    /* in st_lb_backends */
	struct st_actuator_backend backend;/* name, address, MAC, weight */
	uint32_t slots;                    /* slots of the table naming it */
	uint64_t packets, bytes;           /* forwarded, summed over CPUs */
};

/*
 * The installed table's backends (slots > 0), in index order, read back
 * from the kernel, into out[0..max); *n the count there is (may exceed
 * max).  No table: 0 with *n = 0.  0 or -errno.
 */
int st_xdplb_routes(struct st_actuator *a, struct st_xdplb_route *out, size_t max,
		    size_t *n);

/* Per-CPU sums of st_lb_counters (enum st_lb_counter).  0 or -errno. */
int st_xdplb_counters(struct st_actuator *a, uint64_t counters[ST_LB__COUNT]);

/*
 * Timing of the last apply() that changed the kernel (CLOCK_MONOTONIC).
 * Packets see the new table from some instant between swap_start_ns and
 * swap_start_ns + swap_ns.
 */
struct st_xdplb_timing {
	uint64_t swap_start_ns;   /* the flip of st_lb_active began */
	uint64_t swap_ns;         /* the flip's syscall (res->duration_ns) */
	uint64_t install_ns;      /* the outer-map update before it (includes
				   * the kernel's RCU grace period) */
	uint64_t total_ns;        /* the whole apply: read back, build, fill,
				   * install, flip */
};
void st_xdplb_last_timing(const struct st_actuator *a, struct st_xdplb_timing *t);

#endif
