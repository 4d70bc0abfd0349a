/*
 * How long the nexthop actuator takes to change the kernel's group: N
 * applies whose weights alternate between two tables, so that every apply
 * replaces the resilient group (RTM_NEWNEXTHOP, NLM_F_REPLACE) and nothing
 * else.  Figures: p50/p99/max of res.duration_ns (the kernel change, from
 * the first change message to the last ack) and of the whole apply() (the
 * reads of the kernel's state included).  DESIGN target: a group update
 * <= 5 ms (checked on the p99 of the kernel change).
 *
 * The program moves itself into a network namespace of its own
 * (unshare(CLONE_NEWNET), root) with a veth pair, 10.0.0.1/16 on one end, on which
 * the backends' gateways 10.0.1.X are on-link; the namespace goes away
 * with the process.
 *
 *   shadowtap-nexthop-bench [--applies N] [--backends B] [--buckets K]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/actuate/nexthop/nexthop.h"
#include "tools/bench/bench_util.h"

#define TARGET_NS 5000000.0

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of v[0..n), sorted in place. */
static double quantile(double *v, unsigned n, double q)
{
	qsort(v, n, sizeof(v[0]), by_value);
	unsigned rank = (unsigned)(q * n + 0.999999);
	return v[rank == 0 ? 0 : rank - 1];
}

static void usage(void)
{
	fprintf(stderr, "usage: shadowtap-nexthop-bench [--applies N] [--backends B] "
			"[--buckets K]\n");
}

int main(int argc, char **argv)
{
	unsigned applies = 2000, backends = 16, buckets = 128;
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--applies") == 0)
			applies = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && strcmp(argv[i], "--backends") == 0)
			backends = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && strcmp(argv[i], "--buckets") == 0)
			buckets = (unsigned)strtoul(argv[++i], NULL, 10);
		else {
			usage();
			return 2;
		}
	}
	if (applies < 2 || backends < 2 || backends > 250 || buckets > 65535 ||
	    (buckets && buckets < backends)) {
		usage();
		return 2;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (needs root)\n", strerror(errno));
		return 1;
	}
	if (system("ip link set lo up && ip link add nhb0 type veth peer name nhb1 && "
		   "ip addr add 10.0.0.1/16 dev nhb0 && ip link set nhb0 up && ip link set nhb1 up") != 0) {
		fprintf(stderr, "could not make the veth pair (iproute2)\n");
		return 1;
	}

	struct st_config_nexthop cfg = {
		.enabled = true,
		.group_id = 4000,
		.resilient = { .buckets = buckets, .idle_timer_s = 0 },
		.route = { .af = AF_INET },
		.route_prefix_len = 32,
		.table = 254,
	};
	inet_pton(AF_INET, "10.200.0.1", cfg.route.bytes);
	struct st_actuator *a = st_nexthop_create(&cfg);
	if (!a) {
		fprintf(stderr, "st_nexthop_create: %s\n", strerror(errno));
		return 1;
	}
	struct st_actuator_backend t[250];
	memset(t, 0, sizeof(t));
	for (unsigned j = 0; j < backends; j++) {
		snprintf(t[j].name, sizeof(t[j].name), "b%u", j);
		t[j].id = j;
		t[j].address.af = AF_INET;
		char gw[32];
		snprintf(gw, sizeof(gw), "10.0.1.%u", j + 2);
		inet_pton(AF_INET, gw, t[j].address.bytes);
	}

	double *kernel = calloc(applies, sizeof(double));
	double *whole = calloc(applies, sizeof(double));
	if (!kernel || !whole)
		return 1;
	struct st_actuator_result res;
	int status = 0;
	/* the first apply makes objects, group and route: not counted */
	for (unsigned i = 0; i <= applies; i++) {
		for (unsigned j = 0; j < backends; j++)
			t[j].weight = i % 2 ? 1 + j % 4 : 4 - j % 4;
		double start = now_ns();
		int rc = a->ops->apply(a, t, backends, false, &res);
		double took = now_ns() - start;
		if (rc || !res.changed) {
			fprintf(stderr, "apply %u: rc %d changed %d: %s\n", i, rc, res.changed, res.why);
			status = 1;
			break;
		}
		if (i > 0) {
			kernel[i - 1] = (double)res.duration_ns;
			whole[i - 1] = took;
		}
	}
	if (status == 0) {
		double k50 = quantile(kernel, applies, 0.5), k99 = quantile(kernel, applies, 0.99);
		double w50 = quantile(whole, applies, 0.5), w99 = quantile(whole, applies, 0.99);
		printf("%u group replacements, %u backends, %s group of %u buckets\n", applies,
		       backends, buckets ? "resilient" : "hash-threshold", buckets);
		printf("figure: nexthop group update (kernel change) p50 %.3f ms p99 %.3f ms "
		       "max %.3f ms\n", k50 / 1e6, k99 / 1e6, kernel[applies - 1] / 1e6);
		printf("figure: nexthop apply() with reads p50 %.3f ms p99 %.3f ms max %.3f ms\n",
		       w50 / 1e6, w99 / 1e6, whole[applies - 1] / 1e6);
		printf("target: group update <= 5 ms (p99): %s\n",
		       k99 <= TARGET_NS ? "MET" : "NOT MET");
		st_bench_print_env(argc, argv, NULL, false);
	}
	free(kernel);
	free(whole);
	a->ops->destroy(a);
	return status;
}
