/*
 * Swap latency of the XDP load balancer's table (control/actuate/xdplb).
 *
 * For each (backends N, table size M), alternates apply() between N and
 * N + 1 backends (each apply builds a new Maglev table, fills a new inner
 * map and swaps it in), and reports p50/p99 of:
 *   swap     the flip of st_lb_active that makes packets use the new
 *            table (res.duration_ns);
 *   install  the outer-map update that puts the new inner map in place
 *            before the flip (the kernel returns from it only after an RCU
 *            grace period);
 *   visible  from the start of the flip to the first packet (a probe
 *            thread running BPF_PROG_TEST_RUN on a flow that changes
 *            backend, back to back) that comes out with the new backend:
 *            when packets see the new table;
 *   apply    the whole apply() (read back, build, fill, swap).
 * Target: swap <= 1 ms.  M is the product's "auto" size for N + 1
 * backends (maglev.h: the smallest prime >= max(65537, 2000 (N + 1))).
 * Also, without root: the flows that move when one backend is added to N
 * at that size, over 10^5 synthetic flows (st_lb_flow_hash_v4), and their
 * excess over the minimal 1/(N + 1) (target <= 1%).
 * Runs in a network namespace of its own, on a veth pair it creates; the
 * program is loaded, not attached.  Needs root.
 *
 *   shadowtap-xdplb-bench [--quick] [--swaps N]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "bpf/lb.h"
#include "control/actuate/xdplb/maglev.h"
#include "control/actuate/xdplb/xdplb.h"

#define VIP 0xc0000201u
#define VIP_PORT 9092

struct probe {
	struct st_actuator *a;
	uint8_t frame[64];
	size_t frame_bytes;
	atomic_int stop;
	atomic_uint_fast64_t changed_ns;   /* end of the first run that saw expect */
	atomic_int expect;                 /* the new table's MAC (last byte) */
};

/* Stores v in network order at p (any alignment). */
static void put_be32(void *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double percentile_us(uint64_t *v, unsigned n, double p)
{
	unsigned i;

	qsort(v, n, sizeof(*v), cmp_u64);
	i = (unsigned)(p * (n - 1) + 0.5);
	return v[i] / 1e3;
}

static size_t frame_build(uint8_t *f, uint32_t saddr, uint16_t sport)
{
	memset(f, 0, 60);
	f[12] = 0x08;
	f[14] = 0x45;
	f[17] = 20 + 8 + 18;
	f[22] = 64;
	f[23] = 17;
	put_be32(f + 26, saddr);
	put_be32(f + 30, VIP);
	f[34] = (uint8_t)(sport >> 8);
	f[35] = (uint8_t)sport;
	f[36] = VIP_PORT >> 8;
	f[37] = VIP_PORT & 0xff;
	f[39] = 8 + 18;
	return 60;
}

static int probe_mac(struct probe *p)
{
	uint8_t out[128];
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = p->frame,
		.data_size_in = (uint32_t)p->frame_bytes,
		.data_out = out,
		.data_size_out = sizeof(out),
		.repeat = 1,
	);

	if (bpf_prog_test_run_opts(st_xdplb_prog_fd(p->a), &opts) || opts.retval != XDP_TX)
		return -1;
	return out[5];
}

static void *probe_run(void *arg)
{
	struct probe *p = arg;

	while (!atomic_load(&p->stop)) {
		int mac = probe_mac(p);
		uint64_t t = now_ns();

		if (mac == atomic_load(&p->expect) && atomic_load(&p->changed_ns) == 0)
			atomic_store(&p->changed_ns, t);
	}
	return NULL;
}

static void backend_make(struct st_actuator_backend *b, unsigned i)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "backend-%04u", i);
	b->id = i;
	b->address.af = AF_INET;
	put_be32(b->address.bytes, 0x0a010000u + i);
	b->has_mac = true;
	b->mac[0] = 0x02;
	b->mac[4] = (uint8_t)(i >> 8);
	b->mac[5] = (uint8_t)i;
	b->weight = 1;
}

/* A flow whose backend differs between the N and N + 1 tables: found by
 * probing after each of the first two applies. */
#define PROBE_FLOWS 8192   /* ~0.1% move at N 1000: some 8 of these */

static int moving_flow(struct probe *p, struct st_actuator_backend *b, unsigned n)
{
	struct st_actuator_result res;
	static int before[PROBE_FLOWS];

	for (unsigned f = 0; f < PROBE_FLOWS; f++) {
		p->frame_bytes = frame_build(p->frame, 0x0a640000u + f, (uint16_t)(1024 + f));
		before[f] = probe_mac(p);
	}
	if (p->a->ops->apply(p->a, b, n + 1, false, &res))
		return -1;
	for (unsigned f = 0; f < PROBE_FLOWS; f++) {
		p->frame_bytes = frame_build(p->frame, 0x0a640000u + f, (uint16_t)(1024 + f));
		if (probe_mac(p) != before[f])
			return 0;  /* the frame of flow f stays in p->frame */
	}
	return -1;
}

static int scenario(unsigned n, uint32_t m, unsigned swaps)
{
	struct st_config_xdp_lb cfg;
	struct st_actuator_backend *b = calloc(n + 1, sizeof(*b));
	uint64_t *swap = calloc(swaps, 8), *visible = calloc(swaps, 8), *apply = calloc(swaps, 8);
	uint64_t *install = calloc(swaps, 8);
	struct probe p;
	pthread_t thread;
	char why[256];
	unsigned done = 0, unseen = 0;
	int err = 0;

	memset(&cfg, 0, sizeof(cfg));
	memset(&p, 0, sizeof(p));
	snprintf(cfg.interface, sizeof(cfg.interface), "stlbb0");
	cfg.vip.af = AF_INET;
	put_be32(cfg.vip.bytes, VIP);
	cfg.vip_port = VIP_PORT;
	cfg.transport = ST_CONFIG_UDP;
	cfg.table_size = m;
	cfg.forward = ST_XDP_FWD_TX;
	p.a = st_xdplb_create(&cfg, ST_XDPLB_ATTACH_NONE, why, sizeof(why));
	if (!p.a || !b || !swap || !visible || !apply || !install) {
		fprintf(stderr, "xdplb-bench: %s\n", p.a ? "out of memory" : why);
		return -1;
	}
	for (unsigned i = 0; i <= n; i++)
		backend_make(&b[i], i);
	{
		struct st_actuator_result res;

		if (p.a->ops->apply(p.a, b, n, false, &res) || moving_flow(&p, b, n)) {
			fprintf(stderr, "xdplb-bench: set-up failed (N %u, M %u: M must be a "
				"prime >= 100 (N + 1), or no probed flow moves)\n", n, m);
			err = -1;
			goto out;
		}
	}
	/* The probe flow's backend under N + 1 backends (installed now), and
	 * under N. */
	int mac_more = probe_mac(&p), mac_fewer;
	{
		struct st_actuator_result res;

		if (p.a->ops->apply(p.a, b, n, false, &res)) {
			err = -1;
			goto out;
		}
		mac_fewer = probe_mac(&p);
	}
	atomic_store(&p.expect, -1);
	pthread_create(&thread, NULL, probe_run, &p);
	for (unsigned s = 0; s < swaps; s++) {
		struct st_actuator_result res;
		struct st_xdplb_timing t;
		uint64_t deadline;

		atomic_store(&p.expect, -1);
		atomic_store(&p.changed_ns, 0);
		atomic_store(&p.expect, s % 2 == 0 ? mac_more : mac_fewer);
		if (p.a->ops->apply(p.a, b, s % 2 == 0 ? n + 1 : n, false, &res) || !res.changed) {
			fprintf(stderr, "xdplb-bench: apply: %s\n", res.why);
			err = -1;
			break;
		}
		st_xdplb_last_timing(p.a, &t);
		deadline = now_ns() + 100000000u;
		while (atomic_load(&p.changed_ns) == 0 && now_ns() < deadline)
			sched_yield();
		swap[done] = t.swap_ns;
		install[done] = t.install_ns;
		apply[done] = t.total_ns;
		if (atomic_load(&p.changed_ns) == 0) {
			unseen++;
			visible[done] = UINT64_MAX;
		} else {
			uint64_t c = atomic_load(&p.changed_ns);

			visible[done] = c > t.swap_start_ns ? c - t.swap_start_ns : 0;
		}
		done++;
	}
	atomic_store(&p.stop, 1);
	pthread_join(thread, NULL);
	if (done) {
		double swap50 = percentile_us(swap, done, 0.5), swap99 = percentile_us(swap, done, 0.99);

		printf("figure: N %4u  M %7u  swaps %4u  swap p50 %6.1f us p99 %6.1f us  "
		       "visible p50 %6.1f us p99 %6.1f us  install p50 %8.1f us p99 %8.1f us  "
		       "apply p50 %8.1f us p99 %8.1f us  target swap <= 1000 us: %s%s\n",
		       n, m, done, swap50, swap99, percentile_us(visible, done, 0.5),
		       percentile_us(visible, done, 0.99), percentile_us(install, done, 0.5),
		       percentile_us(install, done, 0.99), percentile_us(apply, done, 0.5),
		       percentile_us(apply, done, 0.99), swap99 <= 1000 ? "MET" : "NOT MET",
		       unseen ? " (some swaps never seen by the probe)" : "");
	}
out:
	p.a->ops->destroy(p.a);
	free(b);
	free(swap);
	free(visible);
	free(apply);
	free(install);
	return err;
}

#define MOVED_FLOWS 100000

/* Flows moved by adding backend N to backends 0..N-1 at the auto size. */
static int moved_flows(unsigned n)
{
	uint32_t m = st_maglev_size_auto(n + 1), moved = 0;
	struct st_maglev_backend *b = calloc(n + 1, sizeof(*b));
	char (*names)[24] = calloc(n + 1, sizeof(*names));
	uint32_t *before = calloc(m, sizeof(*before)), *after = calloc(m, sizeof(*after));
	int err = -1;

	if (!b || !names || !before || !after || !m)
		goto out;
	for (unsigned i = 0; i <= n; i++) {
		snprintf(names[i], sizeof(names[i]), "backend-%04u", i);
		b[i].name = names[i];
		b[i].weight = 1;
	}
	if (st_maglev_build(b, n, m, before) || st_maglev_build(b, n + 1, m, after))
		goto out;
	for (uint32_t f = 0; f < MOVED_FLOWS; f++) {
		uint32_t slot = st_lb_flow_hash_v4(htonl(0x0a000000u + f / 16), htonl(VIP),
						   htons((uint16_t)(1024 + f % 16 * 3000 + f % 997)),
						   htons(VIP_PORT), 6) % m;

		moved += before[slot] != after[slot];
	}
	printf("figure: moved  N %4u + 1  M %7u (auto)  %.4f of %d flows moved, minimal %.4f, "
	       "excess %.4f  target <= 0.01: %s\n", n, m, (double)moved / MOVED_FLOWS,
	       MOVED_FLOWS, 1.0 / (n + 1), (double)moved / MOVED_FLOWS - 1.0 / (n + 1),
	       (double)moved / MOVED_FLOWS - 1.0 / (n + 1) <= 0.01 ? "MET" : "NOT MET");
	err = 0;
out:
	free(b);
	free(names);
	free(before);
	free(after);
	return err;
}

int main(int argc, char **argv)
{
	static const unsigned moved_n[] = { 2, 4, 10, 100, 500, 1000 };
	static const struct { unsigned n; uint32_t m; } full[] = {
		{10, 0}, {100, 0}, {500, 0}, {1000, 0},   /* m 0: the auto size */
	};
	unsigned swaps = 200, scenarios = sizeof(full) / sizeof(full[0]);
	int err = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			swaps = 20;
			scenarios = 2;
		} else if (strcmp(argv[i], "--swaps") == 0 && i + 1 < argc) {
			swaps = (unsigned)atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--quick] [--swaps N]\n", argv[0]);
			return 2;
		}
	}
	if (swaps < 2 || unshare(CLONE_NEWNET) ||
	    system("ip link add stlbb0 type veth peer name stlbb1 && ip link set stlbb0 up")) {
		fprintf(stderr, "xdplb-bench: needs root (a network namespace and a veth pair)\n");
		return 1;
	}
	printf("xdplb swap latency: each apply alternates N and N+1 backends; swap = the flip "
	       "of st_lb_active,\nvisible = flip start to the first probe packet on the new "
	       "table, install = the outer-map\nupdate before the flip (returns after an RCU "
	       "grace period), apply = the whole apply()\n");
	for (unsigned s = 0; s < sizeof(moved_n) / sizeof(moved_n[0]) && !err; s++)
		err = moved_flows(moved_n[s]);
	for (unsigned s = 0; s < scenarios && !err; s++)
		err = scenario(full[s].n, full[s].m ? full[s].m : st_maglev_size_auto(full[s].n + 1),
			       swaps);
	return err ? 1 : 0;
}
