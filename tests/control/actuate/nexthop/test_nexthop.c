/*
 * The nexthop actuator against a real kernel, in network namespaces (root).
 *
 * Topology (names carry the test's pid):
 *
 *   client ns  eth0 10.99.0.2 ---- c0 10.99.0.1   switch ns
 *                                  bI 10.99.(I+1).1 ---- eth0 10.99.(I+1).2  backend ns I
 *                                                        lo 10.200.0.1 (the VIP)
 *
 * for I in 0..4 (backend 4 is the standby).  The switch forwards, hashes
 * multipath on L4 (fib_multipath_hash_policy=1) and looks the VIP up in
 * table 100 (ip rule), where the actuator's route points at group 4000
 * (table 100 also holds an IPv6 route of someone else's).
 * The client sends UDP datagrams to 10.200.0.1:5000 from FLOWS source ports
 * (one flow each); every backend namespace has a UDP socket on port 5000
 * that records, per flow, that it got it.  Sockets and the actuators are
 * made inside their namespace (setns) and stay there.
 *
 * Oracles, all outside the actuator: iproute2's own view of the kernel
 * (`ip -j nexthop show`, `ip -j nexthop bucket show`, `ip -j route show
 * table 100`); which backend socket a flow's datagrams reached; bucket
 * counts worked out by hand from the weights (128 buckets: weights 1:1:1:1
 * give 32 each, 3:1:1:1:2 give 48:16:16:16:32, exact, so no rounding
 * question); the kernel's extack texts, quoted from net/ipv4/nexthop.c.
 *
 * 1. Four backends, weight 1: group, objects, route as asked; 32 buckets
 *    each; every flow lands on exactly one backend, every backend gets some.
 * 2. The same table again: no message sent, nothing changed.
 * 3. A dry run of the next table: nexthops, buckets and table 100 the same
 *    before and after, no message sent, the plan reported.
 * 4. Re-weight (3,1,1,1) plus the standby (weight 2): ip shows it; buckets
 *    48/16/16/16/32; exactly 48 buckets changed owner (the fewest that can
 *    make 32x4 into 48/16/16/16/32), each from a loser to a gainer; every
 *    flow that moved went from a loser to a gainer, no flow of a gainer
 *    moved, and no more flows moved than the changed buckets' share (+0.1).
 * 5. Failures, each leaving `ip -j nexthop show` (and table 100) as it
 *    was, with the kernel's reason quoted and rolled_back set:
 *    a gateway behind another gateway (the object step), a bucket count
 *    change (the group step, after an object was created), an IPv6 route
 *    to an IPv4 group (the route step, after the group was replaced: the
 *    previous group is restored), the same with a new group (deleted).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "control/actuate/nexthop/nexthop.h"
#include "st_test.h"

#define BACKENDS 5          /* 4 active + the standby */
#define FLOWS 480
#define VIP "10.200.0.1"
#define VIP_PORT 5000
#define FLOW_PORT0 30000
#define GROUP 4000u
#define TABLE 100u
#define BUCKETS 128u

static char ns_switch[32], ns_client[32], ns_backend[BACKENDS][32];
static int home_ns = -1;
static bool topology_made;
static int backend_sock[BACKENDS] = { -1, -1, -1, -1, -1 };
static int flow_sock[FLOWS];
static struct st_actuator *act;

/* ---- shell and namespaces ------------------------------------------------- */

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* Output of a command into a malloc'd string (NULL on failure). */
static char *capture(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	size_t got;
	while (out && (got = fread(out + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (cap - len < 2) {
			char *bigger = realloc(out, cap * 2);
			if (!bigger) {
				free(out);
				out = NULL;
				break;
			}
			out = bigger;
			cap *= 2;
		}
	}
	int rc = pclose(f);
	if (!out)
		return NULL;
	out[len] = '\0';
	if (rc != 0) {
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
		free(out);
		return NULL;
	}
	return out;
}

static int enter_ns(const char *name)
{
	char path[96];
	snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static void leave_ns(void)
{
	if (setns(home_ns, CLONE_NEWNET) < 0)
		abort();
}

static void teardown(void)
{
	if (act)
		act->ops->destroy(act);
	act = NULL;
	if (!topology_made)
		return;
	sh("ip netns del %s 2>/dev/null", ns_switch);
	sh("ip netns del %s 2>/dev/null", ns_client);
	for (int i = 0; i < BACKENDS; i++)
		sh("ip netns del %s 2>/dev/null", ns_backend[i]);
	topology_made = false;
}

static int make_topology(void)
{
	int pid = (int)getpid();
	snprintf(ns_switch, sizeof(ns_switch), "stnh%d-sw", pid);
	snprintf(ns_client, sizeof(ns_client), "stnh%d-cl", pid);
	for (int i = 0; i < BACKENDS; i++)
		snprintf(ns_backend[i], sizeof(ns_backend[i]), "stnh%d-b%d", pid, i);
	home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home_ns < 0)
		return -1;
	topology_made = true;
	atexit(teardown);

	const char *sw = ns_switch, *cl = ns_client;
	int rc = sh("ip netns add %s && ip netns add %s", sw, cl);
	rc |= sh("ip -n %s link set lo up && ip -n %s link set lo up", sw, cl);
	rc |= sh("ip -n %s link add c0 type veth peer name eth0 netns %s", sw, cl);
	rc |= sh("ip -n %s addr add 10.99.0.1/24 dev c0 && ip -n %s link set c0 up", sw, sw);
	rc |= sh("ip -n %s addr add 10.99.0.2/24 dev eth0 && ip -n %s link set eth0 up", cl, cl);
	rc |= sh("ip -n %s route add default via 10.99.0.1", cl);
	for (int i = 0; i < BACKENDS && rc == 0; i++) {
		const char *b = ns_backend[i];
		rc |= sh("ip netns add %s && ip -n %s link set lo up", b, b);
		rc |= sh("ip -n %s link add b%d type veth peer name eth0 netns %s", sw, i, b);
		rc |= sh("ip -n %s addr add 10.99.%d.1/24 dev b%d && ip -n %s link set b%d up",
			 sw, i + 1, i, sw, i);
		rc |= sh("ip -n %s addr add 10.99.%d.2/24 dev eth0 && ip -n %s link set eth0 up",
			 b, i + 1, b);
		rc |= sh("ip -n %s addr add " VIP "/32 dev lo", b);
		rc |= sh("ip -n %s route add default via 10.99.%d.1", b, i + 1);
	}
	rc |= sh("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1 "
		 "net.ipv4.fib_multipath_hash_policy=1", sw);
	rc |= sh("ip -n %s rule add to " VIP "/32 table %u pref 100", sw, TABLE);
	/* table 100 exists for IPv6 too (a dump of a missing table fails) and
	 * holds a route of someone else's that must stay */
	rc |= sh("ip -n %s -6 route add unreachable 2001:db8:ffff::/64 table %u", sw, TABLE);
	return rc;
}

/* A UDP socket bound to port in namespace ns (or -1). */
static int udp_socket_in(const char *ns, uint16_t port, bool nonblocking)
{
	if (enter_ns(ns) < 0)
		return -1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
	leave_ns();
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int rcvbuf = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int make_sockets(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < FLOWS + 64) {
		rl.rlim_cur = rl.rlim_max < FLOWS + 64 ? rl.rlim_max : FLOWS + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < BACKENDS; i++) {
		backend_sock[i] = udp_socket_in(ns_backend[i], VIP_PORT, true);
		if (backend_sock[i] < 0)
			return -1;
	}
	for (int f = 0; f < FLOWS; f++) {
		flow_sock[f] = udp_socket_in(ns_client, (uint16_t)(FLOW_PORT0 + f), false);
		if (flow_sock[f] < 0)
			return -1;
	}
	return 0;
}

/* ---- traffic -------------------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/*
 * Sends `per_flow` datagrams per flow and collects them: owner[f] = the
 * backend that got flow f (-1 none).  Returns the flows seen on more than
 * one backend; *received the flows seen at all.
 */
static int traffic(int per_flow, int owner[FLOWS], int *received)
{
	struct sockaddr_in vip = { .sin_family = AF_INET, .sin_port = htons(VIP_PORT) };
	inet_pton(AF_INET, VIP, &vip.sin_addr);
	for (int r = 0; r < per_flow; r++) {
		for (int f = 0; f < FLOWS; f++) {
			uint32_t payload = (uint32_t)f;
			sendto(flow_sock[f], &payload, sizeof(payload), 0, (struct sockaddr *)&vip,
			       sizeof(vip));
		}
		sleep_ms(5);
	}
	for (int f = 0; f < FLOWS; f++)
		owner[f] = -1;
	int split = 0;
	struct pollfd pfd[BACKENDS];
	for (int i = 0; i < BACKENDS; i++)
		pfd[i] = (struct pollfd){ .fd = backend_sock[i], .events = POLLIN };
	while (poll(pfd, BACKENDS, 300) > 0) {
		for (int i = 0; i < BACKENDS; i++) {
			struct sockaddr_in from;
			socklen_t from_len = sizeof(from);
			uint32_t payload;
			while (recvfrom(backend_sock[i], &payload, sizeof(payload), 0,
					(struct sockaddr *)&from, &from_len) == (ssize_t)sizeof(payload)) {
				int f = ntohs(from.sin_port) - FLOW_PORT0;
				from_len = sizeof(from);
				if (f < 0 || f >= FLOWS)
					continue;
				if (owner[f] >= 0 && owner[f] != i)
					split++;
				owner[f] = i;
			}
		}
	}
	*received = 0;
	for (int f = 0; f < FLOWS; f++)
		*received += owner[f] >= 0;
	return split;
}

/* ---- the kernel through iproute2 ------------------------------------------- */

static json_t *ip_json(const char *what)
{
	char *out = capture("ip -n %s -j %s", ns_switch, what);
	if (!out)
		return NULL;
	json_t *j = json_loads(out, 0, NULL);
	free(out);
	return j;
}

static json_t *find_nexthop(json_t *all, uint32_t id)
{
	size_t i;
	json_t *nh;
	json_array_foreach(all, i, nh) {
		if (json_integer_value(json_object_get(nh, "id")) == (json_int_t)id)
			return nh;
	}
	return NULL;
}

/* ip -j omits a member's weight when it is 1. */
static int member_weight(json_t *group, uint32_t id)
{
	size_t i;
	json_t *m;
	json_array_foreach(group, i, m) {
		if (json_integer_value(json_object_get(m, "id")) != (json_int_t)id)
			continue;
		json_t *w = json_object_get(m, "weight");
		return w ? (int)json_integer_value(w) : 1;
	}
	return 0;
}

/* bucket index -> nexthop id, from `ip nexthop bucket show`; count returned. */
static int buckets_of(uint32_t group, uint32_t owner[BUCKETS])
{
	char what[64];
	snprintf(what, sizeof(what), "nexthop bucket show id %u", group);
	json_t *all = ip_json(what);
	if (!all)
		return -1;
	int n = 0;
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e) {
		json_t *b = json_object_get(e, "bucket");
		json_int_t index = json_integer_value(json_object_get(b, "index"));
		if (index >= 0 && index < (json_int_t)BUCKETS) {
			owner[index] = (uint32_t)json_integer_value(json_object_get(b, "nhid"));
			n++;
		}
	}
	json_decref(all);
	return n;
}

static int bucket_count(const uint32_t owner[BUCKETS], uint32_t id)
{
	int n = 0;
	for (unsigned i = 0; i < BUCKETS; i++)
		n += owner[i] == id;
	return n;
}

static char *nexthop_text(void)
{
	return capture("ip -n %s -j nexthop show", ns_switch);
}

static char *table_text(void)
{
	return capture("ip -n %s -j route show table %u; ip -n %s -6 -j route show table %u",
		       ns_switch, TABLE, ns_switch, TABLE);
}

/* ---- the actuator ------------------------------------------------------------ */

static struct st_config_nexthop config(uint32_t group, unsigned buckets, const char *route,
				       unsigned prefix_len)
{
	struct st_config_nexthop c = {
		.enabled = true,
		.group_id = group,
		.resilient = { .buckets = buckets, .idle_timer_s = 0 },
		.route_prefix_len = prefix_len,
		.table = TABLE,
	};
	c.route.af = strchr(route, ':') ? AF_INET6 : AF_INET;
	inet_pton(c.route.af, route, c.route.bytes);
	return c;
}

static struct st_actuator *actuator_in_switch(const struct st_config_nexthop *c)
{
	if (enter_ns(ns_switch) < 0)
		return NULL;
	struct st_actuator *a = st_nexthop_create(c);
	leave_ns();
	return a;
}

static struct st_actuator_backend backend(uint32_t id, const char *addr, uint32_t weight)
{
	struct st_actuator_backend b = { .id = id, .weight = weight };
	snprintf(b.name, sizeof(b.name), "b%u", id);
	b.address.af = AF_INET;
	inet_pton(AF_INET, addr, b.address.bytes);
	return b;
}

static size_t first_table(struct st_actuator_backend *t)
{
	t[0] = backend(0, "10.99.1.2", 1);
	t[1] = backend(1, "10.99.2.2", 1);
	t[2] = backend(2, "10.99.3.2", 1);
	t[3] = backend(3, "10.99.4.2", 1);
	return 4;
}

static size_t second_table(struct st_actuator_backend *t)
{
	first_table(t);
	t[0].weight = 3;
	t[4] = backend(4, "10.99.5.2", 2);
	return 5;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_kernel_weight_scaling(void)
{
	/* worked by hand from the rule in nexthop.h */
	CU_ASSERT_EQUAL(st_nexthop_kernel_weight(1, 1), 1);
	CU_ASSERT_EQUAL(st_nexthop_kernel_weight(3, 200), 3);
	CU_ASSERT_EQUAL(st_nexthop_kernel_weight(256, 256), 256);
	CU_ASSERT_EQUAL(st_nexthop_kernel_weight(65535, 65535), 256);
	CU_ASSERT_EQUAL(st_nexthop_kernel_weight(1, 65535), 1);        /* 0.004 -> 1 */
	CU_ASSERT_EQUAL(st_nexthop_kernel_weight(32768, 65535), 128);  /* 128.002 */
	CU_ASSERT_EQUAL(st_nexthop_kernel_weight(100, 1000), 26);      /* 25.6 */
	CU_ASSERT_EQUAL(st_nexthop_kernel_weight(257, 257), 256);
	CU_ASSERT_EQUAL(st_nexthop_kernel_weight(128, 257), 128);      /* 127.50 -> 128 */
}

static void test_create_refuses_bad_settings(void)
{
	struct st_config_nexthop c = config(0, BUCKETS, VIP, 32);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_nexthop_create(&c));
	CU_ASSERT_EQUAL(errno, EINVAL);
	c = config(GROUP, BUCKETS, VIP, 33);
	CU_ASSERT_PTR_NULL(st_nexthop_create(&c));
	c = config(GROUP, BUCKETS, VIP, 32);
	c.route.af = 0;
	CU_ASSERT_PTR_NULL(st_nexthop_create(&c));
}

static void test_group_over_four_backends(void)
{
	CU_ASSERT_FATAL(make_topology() == 0);
	CU_ASSERT_FATAL(make_sockets() == 0);
	struct st_config_nexthop c = config(GROUP, BUCKETS, VIP, 32);
	act = actuator_in_switch(&c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(act);

	struct st_actuator_backend t[BACKENDS + 2];
	size_t n = first_table(t);
	struct st_actuator_result res;
	int rc = act->ops->apply(act, t, n, false, &res);
	if (rc)
		fprintf(stderr, "apply: %s\n", res.why);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_TRUE(res.changed);
	CU_ASSERT_EQUAL(res.added, 4);
	CU_ASSERT_TRUE(res.duration_ns > 0);

	json_t *all = ip_json("nexthop show");
	CU_ASSERT_PTR_NOT_NULL_FATAL(all);
	json_t *g = find_nexthop(all, GROUP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(g, "type")), "resilient");
	json_t *args = json_object_get(g, "resilient_args");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(args, "buckets")), BUCKETS);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(args, "idle_timer")), 0);
	json_t *members = json_object_get(g, "group");
	CU_ASSERT_EQUAL(json_array_size(members), 4);
	for (uint32_t i = 0; i < 4; i++) {
		char gw[16], dev[8];
		snprintf(gw, sizeof(gw), "10.99.%u.2", i + 1);
		snprintf(dev, sizeof(dev), "b%u", i);
		CU_ASSERT_EQUAL(member_weight(members, GROUP + 1 + i), 1);
		json_t *o = find_nexthop(all, GROUP + 1 + i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "gateway")), gw);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "dev")), dev);
	}
	json_decref(all);

	char what[64];
	snprintf(what, sizeof(what), "route show table %u", TABLE);
	json_t *routes = ip_json(what);
	CU_ASSERT_PTR_NOT_NULL_FATAL(routes);
	CU_ASSERT_EQUAL(json_array_size(routes), 1);
	json_t *r = json_array_get(routes, 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "dst")), VIP);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "nhid")), GROUP);
	json_decref(routes);

	uint32_t owner[BUCKETS];
	CU_ASSERT_EQUAL(buckets_of(GROUP, owner), (int)BUCKETS);
	for (uint32_t i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(bucket_count(owner, GROUP + 1 + i), 32);

	/* read() gives back what ip shows */
	struct st_actuator_backend back[BACKENDS];
	size_t got = 0;
	CU_ASSERT_EQUAL(act->ops->read(act, back, BACKENDS, &got), 0);
	CU_ASSERT_EQUAL_FATAL(got, 4);
	for (size_t i = 0; i < got; i++) {
		CU_ASSERT_TRUE(back[i].id < 4);
		if (back[i].id >= 4)
			continue;
		CU_ASSERT_EQUAL(back[i].weight, 1);
		CU_ASSERT_EQUAL(back[i].address.af, AF_INET);
		CU_ASSERT_EQUAL(memcmp(back[i].address.bytes, t[back[i].id].address.bytes, 4), 0);
		CU_ASSERT_STRING_EQUAL(back[i].name, t[back[i].id].name);
	}
	struct st_nexthop_state st;
	CU_ASSERT_EQUAL(st_nexthop_read_state(act, &st), 0);
	CU_ASSERT_TRUE(st.group_exists && st.resilient && st.route_exists);
	CU_ASSERT_EQUAL(st.buckets, BUCKETS);
	CU_ASSERT_EQUAL(st.members, 4);
	CU_ASSERT_EQUAL(st.route_nh_id, GROUP);
}

static int flows_before[FLOWS];

static void test_flows_land_on_one_backend(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(act);
	int received, warm[FLOWS];
	traffic(1, warm, &received);    /* resolves the switch's neighbours */
	int split = traffic(3, flows_before, &received);
	CU_ASSERT_EQUAL(split, 0);
	CU_ASSERT_EQUAL(received, FLOWS);
	int per_backend[BACKENDS] = {0};
	for (int f = 0; f < FLOWS; f++)
		if (flows_before[f] >= 0)
			per_backend[flows_before[f]]++;
	printf("\n  flows per backend (weights 1:1:1:1): %d %d %d %d %d\n", per_backend[0],
	       per_backend[1], per_backend[2], per_backend[3], per_backend[4]);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_TRUE(per_backend[i] > FLOWS / 8);
	CU_ASSERT_EQUAL(per_backend[4], 0);
}

static void test_same_table_sends_nothing(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(act);
	struct st_actuator_backend t[BACKENDS];
	size_t n = first_table(t);
	char *before = nexthop_text();
	uint64_t sent = st_nexthop_change_messages(act);
	struct st_actuator_result res;
	CU_ASSERT_EQUAL(act->ops->apply(act, t, n, false, &res), 0);
	CU_ASSERT_FALSE(res.changed);
	CU_ASSERT_EQUAL(res.added + res.removed + res.reweighted, 0);
	CU_ASSERT_EQUAL(st_nexthop_change_messages(act), sent);
	char *after = nexthop_text();
	CU_ASSERT_PTR_NOT_NULL_FATAL(before);
	CU_ASSERT_PTR_NOT_NULL_FATAL(after);
	CU_ASSERT_STRING_EQUAL(before, after);
	free(before);
	free(after);
}

static void test_dry_run_changes_nothing(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(act);
	struct st_actuator_backend t[BACKENDS];
	size_t n = second_table(t);
	char *nh_before = nexthop_text(), *tbl_before = table_text();
	uint32_t owner_before[BUCKETS], owner_after[BUCKETS];
	CU_ASSERT_EQUAL(buckets_of(GROUP, owner_before), (int)BUCKETS);
	uint64_t sent = st_nexthop_change_messages(act);

	struct st_actuator_result res;
	CU_ASSERT_EQUAL(act->ops->apply(act, t, n, true, &res), 0);
	printf("\n  %s\n", res.why);
	CU_ASSERT_FALSE(res.changed);
	CU_ASSERT_EQUAL(res.added, 1);
	CU_ASSERT_EQUAL(res.reweighted, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.why, "dry run"));
	CU_ASSERT_EQUAL(st_nexthop_change_messages(act), sent);

	char *nh_after = nexthop_text(), *tbl_after = table_text();
	CU_ASSERT_PTR_NOT_NULL_FATAL(nh_before);
	CU_ASSERT_PTR_NOT_NULL_FATAL(nh_after);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tbl_before);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tbl_after);
	CU_ASSERT_STRING_EQUAL(nh_before, nh_after);
	CU_ASSERT_STRING_EQUAL(tbl_before, tbl_after);
	CU_ASSERT_EQUAL(buckets_of(GROUP, owner_after), (int)BUCKETS);
	CU_ASSERT_EQUAL(memcmp(owner_before, owner_after, sizeof(owner_before)), 0);
	free(nh_before);
	free(nh_after);
	free(tbl_before);
	free(tbl_after);
}

static void test_reweight_and_standby_move_only_what_they_must(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(act);
	struct st_actuator_backend t[BACKENDS];
	size_t n = second_table(t);
	uint32_t owner_before[BUCKETS], owner_after[BUCKETS];
	CU_ASSERT_EQUAL_FATAL(buckets_of(GROUP, owner_before), (int)BUCKETS);

	struct st_actuator_result res;
	int rc = act->ops->apply(act, t, n, false, &res);
	if (rc)
		fprintf(stderr, "apply: %s\n", res.why);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_TRUE(res.changed);
	CU_ASSERT_EQUAL(res.added, 1);
	CU_ASSERT_EQUAL(res.reweighted, 1);
	CU_ASSERT_EQUAL(res.removed, 0);
	printf("\n  re-weight + standby: %.3f ms in the kernel\n", res.duration_ns / 1e6);

	json_t *all = ip_json("nexthop show");
	CU_ASSERT_PTR_NOT_NULL_FATAL(all);
	json_t *members = json_object_get(find_nexthop(all, GROUP), "group");
	CU_ASSERT_EQUAL(json_array_size(members), 5);
	const int weight[BACKENDS] = { 3, 1, 1, 1, 2 };
	for (uint32_t i = 0; i < BACKENDS; i++)
		CU_ASSERT_EQUAL(member_weight(members, GROUP + 1 + i), weight[i]);
	json_t *standby = find_nexthop(all, GROUP + 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(standby);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(standby, "gateway")), "10.99.5.2");
	json_decref(all);

	/* 128 buckets over weights 3:1:1:1:2 (total 8) */
	CU_ASSERT_EQUAL_FATAL(buckets_of(GROUP, owner_after), (int)BUCKETS);
	const int want[BACKENDS] = { 48, 16, 16, 16, 32 };
	for (uint32_t i = 0; i < BACKENDS; i++)
		CU_ASSERT_EQUAL(bucket_count(owner_after, GROUP + 1 + i), want[i]);
	/* gainers: b0 (+16), b4 (+32); losers: b1, b2, b3 (-16 each) */
	const bool gainer[BACKENDS] = { true, false, false, false, true };
	int changed = 0;
	for (unsigned i = 0; i < BUCKETS; i++) {
		if (owner_before[i] == owner_after[i])
			continue;
		changed++;
		CU_ASSERT_FALSE(gainer[owner_before[i] - GROUP - 1]);
		CU_ASSERT_TRUE(gainer[owner_after[i] - GROUP - 1]);
	}
	CU_ASSERT_EQUAL(changed, 48);

	int received, warm[FLOWS], flows_after[FLOWS];
	traffic(1, warm, &received);    /* the standby's neighbour entry */
	int split = traffic(3, flows_after, &received);
	CU_ASSERT_EQUAL(split, 0);
	CU_ASSERT_EQUAL(received, FLOWS);
	int moved = 0, bad_moves = 0, per_backend[BACKENDS] = {0};
	for (int f = 0; f < FLOWS; f++) {
		if (flows_after[f] < 0 || flows_before[f] < 0)
			continue;
		per_backend[flows_after[f]]++;
		if (flows_after[f] == flows_before[f])
			continue;
		moved++;
		bad_moves += gainer[flows_before[f]] || !gainer[flows_after[f]];
	}
	printf("  flows per backend (3:1:1:1:2): %d %d %d %d %d; moved %d of %d "
	       "(%.3f; buckets changed %.3f)\n", per_backend[0], per_backend[1],
	       per_backend[2], per_backend[3], per_backend[4], moved, FLOWS,
	       (double)moved / FLOWS, changed / (double)BUCKETS);
	CU_ASSERT_EQUAL(bad_moves, 0);
	CU_ASSERT_TRUE((double)moved / FLOWS <= changed / (double)BUCKETS + 0.1);
	CU_ASSERT_TRUE(per_backend[4] > 0);
	CU_ASSERT_TRUE(per_backend[0] > per_backend[1]);
}

/* Applies t with a; checks the failure and that the kernel is as before. */
static void check_failure_leaves_kernel(struct st_actuator *a, const struct st_actuator_backend *t,
					size_t n, const char *kernel_says)
{
	char *nh_before = nexthop_text(), *tbl_before = table_text();
	uint32_t owner_before[BUCKETS], owner_after[BUCKETS];
	CU_ASSERT_EQUAL(buckets_of(GROUP, owner_before), (int)BUCKETS);
	uint64_t sent = st_nexthop_change_messages(a);

	struct st_actuator_result res;
	int rc = a->ops->apply(a, t, n, false, &res);
	printf("\n  rc %d: %s\n", rc, res.why);
	CU_ASSERT_TRUE(rc < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.why, kernel_says));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.why, "rolled back"));
	CU_ASSERT_TRUE(res.rolled_back);
	CU_ASSERT_FALSE(res.changed);
	CU_ASSERT_TRUE(st_nexthop_change_messages(a) > sent);

	char *nh_after = nexthop_text(), *tbl_after = table_text();
	CU_ASSERT_PTR_NOT_NULL_FATAL(nh_before);
	CU_ASSERT_PTR_NOT_NULL_FATAL(nh_after);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tbl_before);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tbl_after);
	CU_ASSERT_STRING_EQUAL(nh_before, nh_after);
	CU_ASSERT_STRING_EQUAL(tbl_before, tbl_after);
	/* the restored weights give each nexthop the buckets it had */
	CU_ASSERT_EQUAL(buckets_of(GROUP, owner_after), (int)BUCKETS);
	for (uint32_t i = 0; i < BACKENDS; i++)
		CU_ASSERT_EQUAL(bucket_count(owner_after, GROUP + 1 + i),
				bucket_count(owner_before, GROUP + 1 + i));
	free(nh_before);
	free(nh_after);
	free(tbl_before);
	free(tbl_after);
}

static void test_failed_object_is_rolled_back(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(act);
	/* 10.98.0.0/24 is behind backend 0: not a gateway a nexthop can use */
	CU_ASSERT_EQUAL_FATAL(sh("ip -n %s route add 10.98.0.0/24 via 10.99.1.2", ns_switch), 0);
	struct st_actuator_backend t[BACKENDS + 2];
	size_t n = second_table(t);
	t[0].weight = 4;
	t[n++] = backend(5, "10.99.2.3", 1);   /* on-link: created, then undone */
	t[n++] = backend(6, "10.98.0.5", 1);   /* refused by the kernel */
	check_failure_leaves_kernel(act, t, n, "Nexthop has invalid gateway");
}

static void test_failed_group_is_rolled_back(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(act);
	struct st_config_nexthop c = config(GROUP, BUCKETS / 2, VIP, 32);
	struct st_actuator *other = actuator_in_switch(&c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	struct st_actuator_backend t[BACKENDS + 1];
	size_t n = second_table(t);
	t[n++] = backend(5, "10.99.2.3", 1);
	check_failure_leaves_kernel(other, t, n,
				    "Can not change number of buckets of a resilient nexthop group");
	other->ops->destroy(other);
}

static void test_failed_route_restores_group(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(act);
	struct st_config_nexthop c = config(GROUP, BUCKETS, "2001:db8::", 64);
	struct st_actuator *other = actuator_in_switch(&c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	struct st_actuator_backend t[BACKENDS + 1];
	size_t n = first_table(t);             /* back to 1:1:1:1, without b4 */
	t[n++] = backend(5, "10.99.2.3", 7);
	check_failure_leaves_kernel(other, t, n, "IPv6 routes can not use an IPv4 nexthop");
	other->ops->destroy(other);
}

static void test_failed_route_deletes_new_group(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(act);
	struct st_config_nexthop c = config(GROUP + 2000, BUCKETS, "2001:db8::", 64);
	struct st_actuator *other = actuator_in_switch(&c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	struct st_actuator_backend t[BACKENDS];
	size_t n = first_table(t);
	check_failure_leaves_kernel(other, t, n, "IPv6 routes can not use an IPv4 nexthop");
	other->ops->destroy(other);
	/* and the first actuator still reads its own table */
	struct st_actuator_backend back[BACKENDS];
	size_t got = 0;
	CU_ASSERT_EQUAL(act->ops->read(act, back, BACKENDS, &got), 0);
	CU_ASSERT_EQUAL(got, 5);
	teardown();
}

ST_TEST_MAIN("control/actuate/nexthop",
	ST_TEST(test_kernel_weight_scaling),
	ST_TEST(test_create_refuses_bad_settings),
	ST_TEST(test_group_over_four_backends),
	ST_TEST(test_flows_land_on_one_backend),
	ST_TEST(test_same_table_sends_nothing),
	ST_TEST(test_dry_run_changes_nothing),
	ST_TEST(test_reweight_and_standby_move_only_what_they_must),
	ST_TEST(test_failed_object_is_rolled_back),
	ST_TEST(test_failed_group_is_rolled_back),
	ST_TEST(test_failed_route_restores_group),
	ST_TEST(test_failed_route_deletes_new_group))
