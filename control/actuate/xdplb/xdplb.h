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
 * Lifetime (actuator.h: destroy leaves the kernel's table): destroy()
 * closes this process's handles only; the program stays attached and goes
 * on balancing with the table it holds (an attached program holds its
 * maps).  st_xdplb_remove() is what takes the balancer away.
 *
 * Pins (st_xdplb_open): the program and its maps are pinned in bpffs under
 * ST_XDPLB_BPFFS/shadowtap/<instance>/xdp_lb (st_xdplb_pin_dir()): prog,
 * settings (the program's .rodata: VIP, port, transport, M, forwarding),
 * tables, active, backends, backend_stats, counters, and table0/table1 (the
 * inner tables installed under each key of st_lb_tables).  A shadowtap-cp
 * that starts (or reloads its config) while a balancer with the same
 * settings runs on the interface adopts it: no reload, no detach, the
 * table keeps serving; other settings replace it (the old program is
 * detached first; VIP packets then pass until the first apply()).
 * `shadowctl routes` reads the pins (st_xdplb_observe()).  Reading an
 * installed table goes through the fds this process installed or the
 * table pins, so shadowtap-cp needs no CAP_SYS_ADMIN (map fd by id).
 *
 * Thread safety: an actuator belongs to one thread.  Needs CAP_BPF,
 * CAP_NET_ADMIN (root).  Built only with the af_xdp feature (ST_HAVE_XDP_LB).
 */
#ifndef ST_CONTROL_ACTUATE_XDPLB_XDPLB_H
#define ST_CONTROL_ACTUATE_XDPLB_XDPLB_H

#include <stdbool.h>
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
 * with its ops->destroy, which leaves the program attached), or NULL with
 * errno set: EINVAL (bad settings; table_size not a prime in range), ENODEV (no
 * such interface), EAFNOSUPPORT (IPv6 VIP), EPERM, or libbpf/libxdp's
 * error; why (may be NULL) gets a one-line reason.  Nothing is pinned (the
 * tests' and the benchmark's balancers); its destroy leaves the program
 * attached like any other (st_xdplb_remove() detaches it).
 */
struct st_actuator *st_xdplb_create(const struct st_config_xdp_lb *cfg,
				    enum st_xdplb_attach attach, char *why,
				    size_t why_bytes);

#define ST_XDPLB_BPFFS "/sys/fs/bpf"

/* ST_XDPLB_BPFFS/shadowtap/<instance>/xdp_lb into out.  0; -EINVAL (empty
 * instance or one with '/'); -ENAMETOOLONG. */
int st_xdplb_pin_dir(const char *instance, char *out, size_t out_bytes);

/* Mounts a bpffs on ST_XDPLB_BPFFS unless one is there (needs
 * CAP_SYS_ADMIN: shadowtap-cp calls it before dropping it).  0 or -errno. */
int st_xdplb_bpffs_ensure(void);

/*
 * Like st_xdplb_create() (attach not ST_XDPLB_ATTACH_NONE), pinned under
 * pin_dir (see the file head): adopts the balancer pinned there when it
 * runs on cfg->interface with the same settings, else loads, attaches and
 * pins a new one (detaching the pinned one from the interface first).  The
 * why text says which.  NULL with errno as st_xdplb_create().
 */
struct st_actuator *st_xdplb_open(const struct st_config_xdp_lb *cfg, const char *pin_dir,
				  enum st_xdplb_attach attach, char *why, size_t why_bytes);

/* True when st_xdplb_open() adopted a running balancer. */
bool st_xdplb_adopted(const struct st_actuator *a);

/*
 * A read-only view of the balancer pinned under pin_dir (for shadowctl):
 * read(), st_xdplb_routes(), st_xdplb_counters(), st_xdplb_table_read(),
 * st_xdplb_settings() work; apply() is -EPERM.  NULL with errno: ENOENT
 * (nothing pinned), EACCES, the bpf error; why gets a reason.
 */
struct st_actuator *st_xdplb_observe(const char *pin_dir, char *why, size_t why_bytes);

/* Detaches the program and removes the pins: the balancer is gone (VIP
 * packets go to the stack).  Not for a view.  0 or -errno. */
int st_xdplb_remove(struct st_actuator *a);

/* The settings the program runs with (a view: as pinned). */
void st_xdplb_settings(const struct st_actuator *a, struct st_lb_settings *out);

/* The st_lb_tables key packets use now (0 or 1) and the id of the inner
 * map installed there (0: none).  0 or -errno. */
int st_xdplb_active_table(struct st_actuator *a, uint32_t *key, uint32_t *table_map_id);

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
