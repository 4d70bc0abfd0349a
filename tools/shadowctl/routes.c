/*
 * shadowctl routes: the routing tables shadowtap's actuators write, read
 * back from the kernel (not from shadowtap-cp's memory): the nexthop group
 * of `actuators.nexthop` (its members, weights, buckets, and the route that
 * points at it), in the network namespace shadowctl runs in; and the XDP
 * Maglev balancer of `actuators.xdp_lb`, read from the maps shadowtap-cp
 * pins under /sys/fs/bpf/shadowtap/<instance>/xdp_lb (xdplb.h): its VIP,
 * table size, the active table, per-backend slots and share of the table,
 * per-backend and per-verdict packet counts summed over CPUs.  Reading the
 * nexthop group needs no privilege beyond a netlink socket; the pins need
 * access to bpffs (root, or CAP_BPF and the files' owner).  Nothing is
 * changed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "control/actuate/nexthop/nexthop.h"
#ifdef ST_HAVE_XDP_LB
#include "control/actuate/xdplb/xdplb.h"
#endif
#include "control/config/config.h"
#include "jsonw.h"
#include "shadowctl.h"

static void usage(FILE *out)
{
	fputs(
"usage: shadowctl routes --config FILE [--instance NAME] [--json]\n"
"\n"
"Reads back from the kernel the tables the config's actuators own:\n"
"actuators.nexthop's group (id, type, buckets, members with gateway and\n"
"kernel weight) and its route in its table; actuators.xdp_lb's Maglev\n"
"balancer from its maps pinned in /sys/fs/bpf/shadowtap/NAME/xdp_lb (VIP,\n"
"table size, active table, slots and share per backend, packets summed\n"
"over CPUs).  What is shown is what the kernel holds now, whatever\n"
"shadowtap-cp last decided.\n"
"\n"
"  --config FILE    the config shadowtap-cp runs with (required)\n"
"  --instance NAME  shadowtap-cp's --instance (default: the config's)\n"
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

#ifdef ST_HAVE_XDP_LB
static const char *const counter_names[ST_LB__COUNT] = {
	[ST_LB_FORWARDED] = "forwarded",
	[ST_LB_PASS_NOT_IPV4] = "pass_not_ipv4",
	[ST_LB_PASS_NOT_VIP] = "pass_not_vip",
	[ST_LB_PASS_FRAGMENT] = "pass_fragment",
	[ST_LB_PASS_PARSE_ERROR] = "pass_parse_error",
	[ST_LB_PASS_NO_TABLE] = "pass_no_table",
	[ST_LB_PASS_UNSUPPORTED] = "pass_unsupported",
	[ST_LB_DROP_NO_BACKEND] = "drop_no_backend",
	[ST_LB_DROP_HEADROOM] = "drop_headroom",
};

static const char *transport_text(uint8_t t)
{
	return t == (ST_LB_TCP | ST_LB_UDP) ? "both" : t == ST_LB_UDP ? "udp" : "tcp";
}

static void xdp_lb_print(const struct st_config_xdp_lb *x, const char *dir,
			 const struct st_lb_settings *s, uint32_t key, uint32_t map_id,
			 const struct st_xdplb_route *routes, size_t n,
			 const uint64_t counters[ST_LB__COUNT], bool json)
{
	static const char *const forward[] = { "tx", "redirect", "ipip" };
	char vip[INET_ADDRSTRLEN], addr[INET6_ADDRSTRLEN];
	uint32_t slots = 0;

	inet_ntop(AF_INET, &s->vip_be, vip, sizeof(vip));
	for (size_t i = 0; i < n; i++)
		slots += routes[i].slots;
	if (json) {
		printf("\"xdp_lb\":{\"enabled\":true,\"pool\":");
		st_jw_str(stdout, x->pool, strlen(x->pool));
		printf(",\"pin_dir\":");
		st_jw_str(stdout, dir, strlen(dir));
		printf(",\"pinned\":true,\"vip\":\"%s\",\"vip_port\":%u,\"transport\":\"%s\","
		       "\"forward\":\"%s\",\"table_size\":%u,\"installed\":%s,\"active_key\":%u,"
		       "\"table_map_id\":%u,\"slots\":%u,\"backends\":[",
		       vip, ntohs(s->vip_port_be), transport_text(s->transport),
		       s->forward < 3 ? forward[s->forward] : "?", s->table_size,
		       map_id ? "true" : "false", key, map_id, slots);
		for (size_t i = 0; i < n; i++) {
			const struct st_actuator_backend *b = &routes[i].backend;

			printf("%s{\"index\":%u,\"name\":", i ? "," : "", routes[i].index);
			st_jw_str(stdout, b->name, strlen(b->name));
			printf(",\"address\":\"%s\",\"mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\","
			       "\"weight\":%u,\"slots\":%u,\"share\":%.6f,\"packets\":%llu,"
			       "\"bytes\":%llu}", addr_text(&b->address, addr, sizeof(addr)),
			       b->mac[0], b->mac[1], b->mac[2], b->mac[3], b->mac[4], b->mac[5],
			       b->weight, routes[i].slots,
			       s->table_size ? (double)routes[i].slots / s->table_size : 0.0,
			       (unsigned long long)routes[i].packets,
			       (unsigned long long)routes[i].bytes);
		}
		printf("],\"counters\":{");
		for (int c = 0; c < ST_LB__COUNT; c++)
			printf("%s\"%s\":%llu", c ? "," : "", counter_names[c],
			       (unsigned long long)counters[c]);
		printf("}}");
		return;
	}
	printf("xdp_lb (pool %s, pinned in %s): VIP %s:%u %s, forward %s, Maglev table of "
	       "%u slots\n", x->pool, dir, vip, ntohs(s->vip_port_be),
	       transport_text(s->transport), s->forward < 3 ? forward[s->forward] : "?",
	       s->table_size);
	if (!map_id)
		printf("  no table installed (VIP packets go to the kernel's stack)\n");
	else
		printf("  active table: key %u (map id %u), %zu backends\n", key, map_id, n);
	for (size_t i = 0; i < n; i++) {
		const struct st_actuator_backend *b = &routes[i].backend;

		printf("  [%u] %-20s %-15s weight %-5u slots %8u (%6.2f%%)  packets %llu  "
		       "bytes %llu\n", routes[i].index, b->name,
		       addr_text(&b->address, addr, sizeof(addr)), b->weight, routes[i].slots,
		       s->table_size ? 100.0 * routes[i].slots / s->table_size : 0.0,
		       (unsigned long long)routes[i].packets, (unsigned long long)routes[i].bytes);
	}
	printf("  packets:");
	for (int c = 0; c < ST_LB__COUNT; c++)
		printf(" %s %llu", counter_names[c], (unsigned long long)counters[c]);
	printf("\n");
}
#endif

static int show_xdp_lb(const struct st_config *cfg, const char *instance, bool json)
{
	const struct st_config_xdp_lb *x = &st_config_actuators(cfg)->xdp_lb;
#ifdef ST_HAVE_XDP_LB
	static struct st_xdplb_route routes[ST_LB_BACKENDS_MAX];
	uint64_t counters[ST_LB__COUNT];
	struct st_lb_settings settings;
	struct st_actuator *a;
	char dir[256], why[256];
	uint32_t key = 0, map_id = 0;
	size_t n = 0;
	int rc;
#endif

	if (!x->enabled) {
		if (json)
			printf("\"xdp_lb\":{\"enabled\":false}");
		else
			printf("xdp_lb: not enabled in the config\n");
		return 0;
	}
#ifdef ST_HAVE_XDP_LB
	rc = st_xdplb_pin_dir(instance, dir, sizeof(dir));
	if (rc) {
		fprintf(stderr, "shadowctl routes: xdp_lb: instance '%s': %s\n", instance,
			strerror(-rc));
		return 1;
	}
	a = st_xdplb_observe(dir, why, sizeof(why));
	if (!a && errno == ENOENT) {
		if (json) {
			printf("\"xdp_lb\":{\"enabled\":true,\"pin_dir\":");
			st_jw_str(stdout, dir, strlen(dir));
			printf(",\"pinned\":false}");
		} else {
			printf("xdp_lb: nothing pinned in %s (shadowtap-cp not started with it?)\n",
			       dir);
		}
		return 0;
	}
	if (!a) {
		fprintf(stderr, "shadowctl routes: %s\n", why);
		return 1;
	}
	st_xdplb_settings(a, &settings);
	rc = st_xdplb_active_table(a, &key, &map_id);
	if (!rc)
		rc = st_xdplb_routes(a, routes, ST_LB_BACKENDS_MAX, &n);
	if (!rc)
		rc = st_xdplb_counters(a, counters);
	if (rc) {
		fprintf(stderr, "shadowctl routes: xdp_lb: reading the maps: %s\n", strerror(-rc));
		a->ops->destroy(a);
		return 1;
	}
	xdp_lb_print(x, dir, &settings, key, map_id, routes,
		     n < ST_LB_BACKENDS_MAX ? n : ST_LB_BACKENDS_MAX, counters, json);
	a->ops->destroy(a);
	return 0;
#else
	(void)instance;
	fprintf(stderr, "shadowctl routes: xdp_lb: this shadowctl is built without af_xdp\n");
	return 1;
#endif
}

int shadowctl_routes(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "instance", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *instance = NULL;
	struct st_config *cfg;
	char err[512];
	bool json = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'j': json = true; break;
		case 'i': instance = optarg; break;
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
		printf(",");
	rc |= show_xdp_lb(cfg, instance ? instance : st_config_control(cfg)->instance, json);
	if (json)
		printf("}\n");
	st_config_destroy(cfg);
	return rc;
}
