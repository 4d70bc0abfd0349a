/*
 * The XDP balancer with real traffic (needs root): network namespaces
 * joined by veth pairs on a bridge, the program attached to the balancer's
 * veth in SKB (generic) mode, and a table swap while the traffic flows.
 *
 *   client ns  c0 --+
 *   lb ns      l0 --+-- br0 (switch ns) --+-- b0 of backend ns 0..K
 *
 * The client writes UDP frames (AF_PACKET) to the VIP with the balancer's
 * MAC; the program rewrites the destination MAC to the chosen backend's and
 * sends the frame back out l0 (XDP_TX); the bridge (static FDB entries)
 * hands it to that backend, whose AF_PACKET socket counts the frames
 * addressed to it per flow, with the first and last sequence number.
 * Native XDP_TX on a veth needs an XDP program on the peer as well, so the
 * test attaches in SKB mode, where XDP_TX goes out through the device's
 * transmit path.
 *
 * Oracles: the frames sent here (flows x rounds, sequence numbers), and the
 * tables read back from the kernel before and after the swap, looked up
 * with this file's own hash (written from the spec in bpf/lb.h).
 * Checked: no frame lost or duplicated; every frame of a flow at its old
 * backend before the switch and its new one after, the switch happening
 * once (old backend's last sequence < new backend's first); the flows that
 * moved are exactly those whose table entry changed, and they are no more
 * than the flows of the new backend + 1% of the flows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "bpf/lb.h"
#include "control/actuate/xdplb/xdplb.h"
#include "st_test.h"

#define VIP 0xc0000201u          /* 192.0.2.1 */
#define VIP_PORT 9092
#define TABLE_SIZE 65537u
#define BACKENDS_BEFORE 4
#define BACKENDS_AFTER 5
#define FLOWS 400
#define ROUNDS 40
#define SWAP_ROUND 20
#define ROUND_GAP_NS 4000000     /* between rounds: 100k frames/s at most */
#define MAGIC 0x53544c42u        /* "STLB" */

static const uint8_t lb_mac[6] = {0x02, 0, 0, 0, 0, 0xaa};
static const uint8_t client_mac[6] = {0x02, 0, 0, 0, 0, 0xcc};

struct per_backend {
	uint32_t frames;
	uint32_t first_seq, last_seq;
};

/* Shared by the parent and the children (MAP_SHARED before fork). */
struct shared {
	atomic_int stop;
	atomic_int ready;                 /* receivers with a bound socket */
	atomic_int round;                 /* rounds the client has sent */
	struct per_backend got[FLOWS][BACKENDS_AFTER];
	uint32_t foreign[BACKENDS_AFTER]; /* frames to a backend not ours */
};

/* Stores v in network order at p (any alignment). */
static void put_be32(void *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static char prefix[32];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int netns_enter(const char *suffix)
{
	char path[128];
	int fd, err;

	snprintf(path, sizeof(path), "/run/netns/%s-%s", prefix, suffix);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	return err;
}

static void topology_destroy(void)
{
	sh("for n in sw cli lb b0 b1 b2 b3 b4; do ip netns del %s-$n 2>/dev/null; done",
	   prefix);
}

static int topology_create(void)
{
	int err = 0;

	err |= sh("set -e; p=%s; for n in sw cli lb b0 b1 b2 b3 b4; do ip netns add $p-$n; done; "
		  "ip -n $p-sw link add br0 type bridge; ip -n $p-sw link set br0 up; "
		  "ip -n $p-sw link add sw-c type veth peer name c0 netns $p-cli; "
		  "ip -n $p-sw link add sw-l type veth peer name l0 netns $p-lb; "
		  "for i in 0 1 2 3 4; do "
		  "  ip -n $p-sw link add sw-b$i type veth peer name b0 netns $p-b$i; "
		  "  ip -n $p-b$i link set b0 address 02:00:00:00:01:0$i up; "
		  "done; "
		  "for s in sw-c sw-l sw-b0 sw-b1 sw-b2 sw-b3 sw-b4; do "
		  "  ip -n $p-sw link set $s master br0 up; done; "
		  "for i in 0 1 2 3 4; do "
		  "  bridge -n $p-sw fdb replace 02:00:00:00:01:0$i dev sw-b$i master static; "
		  "done; "
		  "bridge -n $p-sw fdb replace 02:00:00:00:00:aa dev sw-l master static; "
		  "ip -n $p-cli link set c0 address 02:00:00:00:00:cc up; "
		  "ip -n $p-lb link set l0 address 02:00:00:00:00:aa up; "
		  "for n in sw cli lb b0 b1 b2 b3 b4; do "
		  "  ip netns exec $p-$n sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done",
		  prefix);
	return err ? -EIO : 0;
}

static uint32_t own_flow_hash(uint32_t saddr, uint32_t daddr, uint16_t sport,
			      uint16_t dport, uint8_t proto)
{
	uint8_t key[13] = {
		(uint8_t)(saddr >> 24), (uint8_t)(saddr >> 16), (uint8_t)(saddr >> 8),
		(uint8_t)saddr, (uint8_t)(daddr >> 24), (uint8_t)(daddr >> 16),
		(uint8_t)(daddr >> 8), (uint8_t)daddr, (uint8_t)(sport >> 8),
		(uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport, proto,
	};
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(key); i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static uint32_t flow_saddr(unsigned f)
{
	return 0x0a640000u + f / 16;
}

static uint16_t flow_sport(unsigned f)
{
	return (uint16_t)(20000 + f * 7);
}

static int packet_socket(const char *ifname)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)if_nametoindex(ifname),
	};
	int buf = 16 << 20;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	if (sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Backend i: counts frames addressed to it, per flow. */
static void receiver(struct shared *s, int i)
{
	char ns[8];
	uint8_t frame[2048];
	int fd;

	snprintf(ns, sizeof(ns), "b%d", i);
	if (netns_enter(ns) || (fd = packet_socket("b0")) < 0)
		_exit(2);
	atomic_fetch_add(&s->ready, 1);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct sockaddr_ll from;
		socklen_t from_len = sizeof(from);
		ssize_t n;
		uint32_t magic, flow, seq;

		if (poll(&p, 1, 50) == 0) {
			if (atomic_load(&s->stop))
				break;
			continue;
		}
		n = recvfrom(fd, frame, sizeof(frame), 0, (struct sockaddr *)&from, &from_len);
		if (n < 14 + 20 + 8 + 12 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (frame[12] != 0x08 || frame[13] != 0x00 || frame[14 + 9] != 17)
			continue;
		memcpy(&magic, frame + 42, 4);
		memcpy(&flow, frame + 46, 4);
		memcpy(&seq, frame + 50, 4);
		if (ntohl(magic) != MAGIC)
			continue;
		flow = ntohl(flow);
		seq = ntohl(seq);
		if (from.sll_pkttype != PACKET_HOST || flow >= FLOWS) {
			s->foreign[i]++;
			continue;
		}
		struct per_backend *pb = &s->got[flow][i];

		if (pb->frames == 0 || seq < pb->first_seq)
			pb->first_seq = seq;
		if (pb->frames == 0 || seq > pb->last_seq)
			pb->last_seq = seq;
		pb->frames++;
	}
	close(fd);
	_exit(0);
}

static size_t frame_build(uint8_t *f, unsigned flow, uint32_t seq)
{
	uint32_t saddr = flow_saddr(flow), words[3] = {htonl(MAGIC), htonl(flow), htonl(seq)};
	uint16_t sport = flow_sport(flow);
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint32_t sum = 0;

	memset(f, 0, 54);
	memcpy(f, lb_mac, 6);
	memcpy(f + 6, client_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 12;
	ip[8] = 64;
	ip[9] = 17;
	put_be32(ip + 12, saddr);
	put_be32(ip + 16, VIP);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = VIP_PORT >> 8;
	udp[3] = VIP_PORT & 0xff;
	udp[5] = 8 + 12;
	memcpy(udp + 8, words, sizeof(words));
	return 54;
}

/* The client: ROUNDS rounds, each one frame of every flow. */
static void client(struct shared *s)
{
	struct timespec gap = {.tv_sec = 0, .tv_nsec = ROUND_GAP_NS};
	uint8_t frame[64];
	int fd;

	if (netns_enter("cli") || (fd = packet_socket("c0")) < 0)
		_exit(2);
	for (uint32_t r = 0; r < ROUNDS; r++) {
		for (unsigned f = 0; f < FLOWS; f++) {
			size_t n = frame_build(frame, f, r);

			if (send(fd, frame, n, 0) != (ssize_t)n)
				_exit(3);
		}
		atomic_store(&s->round, (int)r + 1);
		/* Hold at the swap round until the parent has swapped. */
		while (r + 1 == SWAP_ROUND && atomic_load(&s->round) == SWAP_ROUND)
			nanosleep(&gap, NULL);
		nanosleep(&gap, NULL);
	}
	close(fd);
	_exit(0);
}

/* Waits (10 s at most) until *v >= at_least; false on the deadline. */
static bool wait_for(atomic_int *v, int at_least)
{
	for (int waited_ms = 0; waited_ms < 10000; waited_ms++) {
		if (atomic_load(v) >= at_least)
			return true;
		usleep(1000);
	}
	return false;
}

/* Ends the children this test started (by their pids) and its namespaces. */
static void abandon(struct shared *s, const pid_t *pids, int n)
{
	atomic_store(&s->stop, 1);
	for (int i = 0; i < n; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
	topology_destroy();
}

static void backend_make(struct st_actuator_backend *b, unsigned i)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "b%u", i);
	b->id = i;
	b->address.af = AF_INET;
	put_be32(b->address.bytes, 0x0a010001u + i);
	b->has_mac = true;
	memcpy(b->mac, "\x02\x00\x00\x00\x01", 5);
	b->mac[5] = (uint8_t)i;
	b->weight = 1;
}

/* Expected backend (0..4, by MAC) of every flow under the installed table. */
static int expected_backends(struct st_actuator *a, int *backend_of_flow)
{
	static uint32_t table[TABLE_SIZE];
	struct st_xdplb_route routes[8];
	int by_index[ST_LB_BACKENDS_MAX];
	size_t n;

	if (st_xdplb_table_read(a, table, TABLE_SIZE) || st_xdplb_routes(a, routes, 8, &n))
		return -1;
	for (size_t k = 0; k < n; k++)
		by_index[routes[k].index] = routes[k].backend.mac[5];
	for (unsigned f = 0; f < FLOWS; f++)
		backend_of_flow[f] = by_index[table[own_flow_hash(flow_saddr(f), VIP,
							     flow_sport(f), VIP_PORT, 17) %
						    TABLE_SIZE]];
	return 0;
}

static void test_swap_under_traffic(void)
{
	struct st_actuator_backend b[BACKENDS_AFTER];
	struct st_actuator_result res;
	struct st_config_xdp_lb cfg;
	int before[FLOWS], after[FLOWS];
	pid_t pids[BACKENDS_AFTER + 1] = {0};
	struct shared *s;
	struct st_actuator *a;
	char why[256];
	unsigned lost = 0, misplaced = 0, unordered = 0, moved = 0, expected_moved = 0;
	unsigned to_new = 0, foreign = 0;
	int status, self_fd;

	snprintf(prefix, sizeof(prefix), "stlb%d", (int)getpid());
	topology_destroy();
	if (topology_create()) {
		topology_destroy();
		CU_FAIL_FATAL("cannot build the namespaces");
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(s != MAP_FAILED);
	memset(s, 0, sizeof(*s));

	self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	CU_ASSERT_EQUAL_FATAL(netns_enter("lb"), 0);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.interface, sizeof(cfg.interface), "l0");
	cfg.vip.af = AF_INET;
	put_be32(cfg.vip.bytes, VIP);
	cfg.vip_port = VIP_PORT;
	cfg.transport = ST_CONFIG_UDP;
	cfg.table_size = TABLE_SIZE;
	cfg.forward = ST_XDP_FWD_TX;
	a = st_xdplb_create(&cfg, ST_XDPLB_ATTACH_SKB, why, sizeof(why));
	if (!a)
		fprintf(stderr, "\n  st_xdplb_create: %s\n", why);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(st_xdplb_attach_mode(a), "skb");
	for (unsigned i = 0; i < BACKENDS_AFTER; i++)
		backend_make(&b[i], i);
	CU_ASSERT_EQUAL_FATAL(a->ops->apply(a, b, BACKENDS_BEFORE, false, &res), 0);
	CU_ASSERT_EQUAL_FATAL(expected_backends(a, before), 0);

	for (int i = 0; i < BACKENDS_AFTER; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			receiver(s, i);
	}
	if (!wait_for(&s->ready, BACKENDS_AFTER)) {
		abandon(s, pids, BACKENDS_AFTER);
		CU_FAIL_FATAL("the receivers did not start");
	}
	pids[BACKENDS_AFTER] = fork();
	if (pids[BACKENDS_AFTER] == 0)
		client(s);

	/* Swap (add b4) while the client waits between rounds 20 and 21. */
	if (!wait_for(&s->round, SWAP_ROUND)) {
		abandon(s, pids, BACKENDS_AFTER + 1);
		CU_FAIL_FATAL("the client did not reach the swap round");
	}
	CU_ASSERT_EQUAL(a->ops->apply(a, b, BACKENDS_AFTER, false, &res), 0);
	CU_ASSERT_TRUE(res.changed);
	printf("\n  swap under traffic: the flip took %.1f us", res.duration_ns / 1e3);
	atomic_store(&s->round, SWAP_ROUND + 1);  /* let the client go on */
	CU_ASSERT_EQUAL(expected_backends(a, after), 0);

	waitpid(pids[BACKENDS_AFTER], &status, 0);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	usleep(300000);  /* the last frames reach the receivers */
	atomic_store(&s->stop, 1);
	for (int i = 0; i < BACKENDS_AFTER; i++) {
		waitpid(pids[i], &status, 0);
		CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}

	for (unsigned f = 0; f < FLOWS; f++) {
		const struct per_backend *old_b = &s->got[f][before[f]];
		const struct per_backend *new_b = &s->got[f][after[f]];
		uint32_t total = 0;

		for (int i = 0; i < BACKENDS_AFTER; i++) {
			total += s->got[f][i].frames;
			if (i != before[f] && i != after[f])
				misplaced += s->got[f][i].frames;
		}
		lost += total < ROUNDS ? ROUNDS - total : 0;
		CU_ASSERT(total <= ROUNDS);
		to_new += after[f] == BACKENDS_AFTER - 1;
		expected_moved += before[f] != after[f];
		if (before[f] == after[f])
			continue;
		/* Moved: rounds < SWAP_ROUND at the old one, the rest at the new. */
		moved += new_b->frames > 0;
		unordered += old_b->frames && new_b->frames && old_b->last_seq >= new_b->first_seq;
		unordered += old_b->frames != SWAP_ROUND || new_b->frames != ROUNDS - SWAP_ROUND;
	}
	for (int i = 0; i < BACKENDS_AFTER; i++)
		foreign += s->foreign[i];
	printf("\n  %u flows x %u frames: lost %u, misplaced %u, moved %u (expected %u, "
	       "to the new backend %u, minimal + 1%% = %.1f), out of order %u, foreign %u",
	       FLOWS, ROUNDS, lost, misplaced, moved, expected_moved, to_new,
	       to_new + 0.01 * FLOWS, unordered, foreign);
	CU_ASSERT_EQUAL(lost, 0);
	CU_ASSERT_EQUAL(misplaced, 0);
	CU_ASSERT_EQUAL(unordered, 0);
	CU_ASSERT_EQUAL(moved, expected_moved);
	CU_ASSERT(to_new > 0);
	CU_ASSERT((double)moved <= to_new + 0.01 * FLOWS);
	{
		uint64_t c[ST_LB__COUNT];

		CU_ASSERT_EQUAL(st_xdplb_counters(a, c), 0);
		CU_ASSERT_EQUAL(c[ST_LB_FORWARDED], (uint64_t)FLOWS * ROUNDS);
	}

	a->ops->destroy(a);
	if (self_fd >= 0) {
		setns(self_fd, CLONE_NEWNET);
		close(self_fd);
	}
	munmap(s, sizeof(*s));
	topology_destroy();
}

ST_TEST_MAIN("control/actuate/xdplb/veth",
	ST_TEST(test_swap_under_traffic))
