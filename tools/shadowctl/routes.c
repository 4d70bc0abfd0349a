/*
 * shadowctl routes: the routing tables shadowtap's actuators write, read
 * back from the kernel (not from shadowtap-cp's memory): the nexthop group
 * of `actuators.nexthop` (its members, weights, buckets, and the route that
 * points at it), in the network namespace shadowctl runs in.  Reading needs
 * no privilege beyond a netlink socket; nothing is changed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "control/actuate/nexthop/nexthop.h"
#include "control/config/config.h"
#include "jsonw.h"
#include "shadowctl.h"

static void usage(FILE *out)
{
	fputs(
"usage: shadowctl routes --config FILE [--json]\n"
"\n"
"Reads back from the kernel the tables the config's actuators own:\n"
"actuators.nexthop's group (id, type, buckets, members with gateway and\n"
"kernel weight) and its route in its table.  What is shown is what the\n"
"kernel holds now, whatever shadowtap-cp last decided.\n"
"\n"
"  --config FILE  the config shadowtap-cp runs with (required)\n"
"  --json         one JSON object\n"
"  -h, --help     this help\n"
"\n"
"Exit status: 0 read (an actuator that is off is said so); 1 the config or\n"
"the kernel could not be read; 2 bad usage.\n",
	      out);
}

static const char *addr_text(const struct st_config_addr *a, char *buf, size_t n)
{
	if (!a->af || !inet_ntop(a->af, a->bytes, buf, (socklen_t)n))
		snprintf(buf, n, "-");
	return buf;
}

static int show_nexthop(const struct st_config *cfg, bool json)
{
	const struct st_config_nexthop *nh = &st_config_actuators(cfg)->nexthop;
	struct st_actuator_backend members[ST_ACTUATOR_BACKENDS_MAX];
	struct st_nexthop_state st;
	struct st_actuator *a;
	char route[INET6_ADDRSTRLEN], gw[INET6_ADDRSTRLEN];
	size_t n = 0;
	int rc;

	if (!nh->enabled) {
		if (json)
			printf("\"nexthop\":{\"enabled\":false}");
		else
			printf("nexthop: not enabled in the config\n");
		return 0;
	}
	a = st_nexthop_create(nh);
	if (!a) {
		fprintf(stderr, "shadowctl routes: nexthop: %s\n", strerror(errno));
		return 1;
	}
	rc = st_nexthop_read_state(a, &st);
	if (!rc)
		rc = a->ops->read(a, members, ST_ACTUATOR_BACKENDS_MAX, &n);
	if (rc) {
		fprintf(stderr, "shadowctl routes: nexthop: reading the kernel: %s\n",
			strerror(-rc));
		a->ops->destroy(a);
		return 1;
	}
	if (n > ST_ACTUATOR_BACKENDS_MAX)
		n = ST_ACTUATOR_BACKENDS_MAX;
	/* the kernel keeps ids, the config names them */
	for (size_t i = 0; i < n; i++)
		if (!members[i].name[0] && members[i].id < st_config_backend_count(cfg))
			snprintf(members[i].name, sizeof(members[i].name), "%s",
				 st_config_backend_at(cfg, members[i].id)->name);
	addr_text(&nh->route, route, sizeof(route));
	if (json) {
		printf("\"nexthop\":{\"enabled\":true,\"group_id\":%u,\"exists\":%s,"
		       "\"resilient\":%s,\"buckets\":%u,\"idle_timer_s\":%u,"
		       "\"route\":\"%s/%u\",\"table\":%u,\"route_exists\":%s,"
		       "\"route_nh_id\":%u,\"members\":[",
		       nh->group_id, st.group_exists ? "true" : "false",
		       st.resilient ? "true" : "false", st.buckets, st.idle_timer_s, route,
		       nh->route_prefix_len, nh->table, st.route_exists ? "true" : "false",
		       st.route_nh_id);
		for (size_t i = 0; i < n; i++) {
			printf("%s{\"id\":%u,\"name\":", i ? "," : "",
			       nh->group_id + 1 + members[i].id);
			st_jw_str(stdout, members[i].name, strlen(members[i].name));
			printf(",\"gateway\":\"%s\",\"weight\":%u}",
			       addr_text(&members[i].address, gw, sizeof(gw)), members[i].weight);
		}
		printf("]}");
	} else {
		printf("nexthop group %u: %s", nh->group_id,
		       st.group_exists ? (st.resilient ? "resilient" : "multipath") : "absent");
		if (st.group_exists && st.resilient)
			printf(", %u buckets, idle timer %u s", st.buckets, st.idle_timer_s);
		printf("\n");
		for (size_t i = 0; i < n; i++)
			printf("  nexthop %u %-20s via %-39s weight %u\n",
			       nh->group_id + 1 + members[i].id,
			       members[i].name[0] ? members[i].name : "-",
			       addr_text(&members[i].address, gw, sizeof(gw)), members[i].weight);
		printf("route %s/%u table %u: %s", route, nh->route_prefix_len, nh->table,
		       st.route_exists ? "present" : "absent");
		if (st.route_exists)
			printf(", nexthop id %u%s", st.route_nh_id,
			       st.route_nh_id == nh->group_id ? " (the group)" : " (NOT the group)");
		printf("\n");
	}
	a->ops->destroy(a);
	return 0;
}

int shadowctl_routes(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	struct st_config *cfg;
	char err[512];
	bool json = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	cfg = st_config_load(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "shadowctl routes: %s\n", err);
		return 1;
	}
	if (json)
		printf("{");
	rc = show_nexthop(cfg, json);
	if (json)
		printf("}\n");
	st_config_destroy(cfg);
	return rc;
}
