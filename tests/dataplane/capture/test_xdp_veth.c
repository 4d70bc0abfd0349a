/*
 * The native AF_XDP backend end to end, on a veth pair: tcpreplay sends a
 * generated capture into stxA, the backend captures on stxB (steering
 * 9092/tcp and 5140/udp) and one thread polls its queue as the engine will.
 *
 * Isolation and cleanup: the process first moves itself into a network
 * namespace of its own (unshare(CLONE_NEWNET)); the veth pair lives there
 * and disappears with the namespace when the process exits, however it
 * exits.  Children (ip, tcpreplay) inherit the namespace.  IPv6 is turned
 * off in the namespace so that no router or neighbour solicitation adds
 * frames of its own.
 *
 * Oracles, all outside the backend: the frame counts and byte sums of the
 * captures come from tshark (-Y "tcp.port==9092 || udp.port==5140");
 * tcpreplay's own count of packets sent; the veth's tx_dropped (netlink
 * link statistics through getifaddrs); and a port check of every captured
 * frame written here.
 *
 * 1. Moderate rate (--pps 2000), default rings, IPv4 then IPv6 capture:
 *    frames and bytes captured == tshark's steered frames and bytes, no
 *    frame outside the steered ports, no drop, and the program's counters
 *    say redirected == steered, pass_unmatched == the rest.
 * 2. Overload (--topspeed, 64 frames, an rx ring of 64 then 32 slots, a
 *    poller that sleeps 2 ms per burst): drops happen (no_buffer with 64
 *    rx slots, missed with 32), and two exact balances hold:
 *      sent == stxA tx_dropped + every frame the program saw (all counters)
 *      redirected == captured + missed + no_buffer + invalid
 *    (capture.h drop reasons from XDP_STATISTICS, see xdp.h).
 * Needs root, tcpreplay and tshark; SHADOWTAP_GEN names the generator.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "dataplane/capture/xdp.h"
#include "st_test.h"

#define SEND_IF "stxA"
#define CAPTURE_IF "stxB"
#define STEERED_FILTER "tcp.port==9092 || udp.port==5140"

static char workdir[64];
static char pcap_v4[128], pcap_v6[128];

static const struct st_xdp_port steered[] = {
	{ .l4_proto = 6, .port = 9092 },
	{ .l4_proto = 17, .port = 5140 },
};

/* ---- helpers: commands, oracles, counters -------------------------- */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	if (status != 0)
		fprintf(stderr, "\n  command failed (%d): %s\n", status, cmd);
	return status;
}

/* tshark's frame count and byte sum of the frames of `path` that match
 * `filter` (an empty filter: all). */
static void tshark_count(const char *path, const char *filter, uint64_t *frames,
			 uint64_t *bytes)
{
	char cmd[512], line[64];
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "tshark -r '%s' %s%s%s -T fields -e frame.len 2>/dev/null", path,
		 *filter ? "-Y '" : "", filter, *filter ? "'" : "");
	p = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	*frames = *bytes = 0;
	while (fgets(line, sizeof(line), p)) {
		*frames += 1;
		*bytes += strtoull(line, NULL, 10);
	}
	CU_ASSERT_EQUAL_FATAL(pclose(p), 0);
}

/* tcpreplay's "Successful packets" (the frames it handed to the socket);
 * its "Failed packets" go to *failed. */
static uint64_t tcpreplay(const char *args, const char *path, uint64_t *failed)
{
	char cmd[512], line[256];
	uint64_t ok = UINT64_MAX;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "tcpreplay -i " SEND_IF " %s '%s' 2>&1", args, path);
	p = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	*failed = 0;
	while (fgets(line, sizeof(line), p)) {
		unsigned long long v;

		if (sscanf(line, " Successful packets: %llu", &v) == 1)
			ok = v;
		else if (sscanf(line, " Failed packets: %llu", &v) == 1)
			*failed = v;
	}
	CU_ASSERT_EQUAL(pclose(p), 0);
	CU_ASSERT_NOT_EQUAL_FATAL(ok, UINT64_MAX);
	return ok;
}

/* The interface's netlink counters (struct rtnl_link_stats, 32-bit). */
static struct rtnl_link_stats link_stats(const char *ifname)
{
	struct rtnl_link_stats s = { 0 };
	struct ifaddrs *all, *i;
	bool found = false;

	CU_ASSERT_EQUAL_FATAL(getifaddrs(&all), 0);
	for (i = all; i; i = i->ifa_next) {
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET && i->ifa_data &&
		    strcmp(i->ifa_name, ifname) == 0) {
			s = *(struct rtnl_link_stats *)i->ifa_data;
			found = true;
		}
	}
	freeifaddrs(all);
	CU_ASSERT_FATAL(found);
	return s;
}

static json_t *stats_json(struct st_capture *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	json_error_t jerr;
	json_t *j;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	CU_ASSERT_EQUAL(c->ops->stats_json(c, mem), 0);
	fclose(mem);
	j = json_loads(text, 0, &jerr);
	if (!j)
		fprintf(stderr, "\n  stats_json is not JSON (%s): %s\n", jerr.text, text);
	free(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	return j;
}

static uint64_t program_counter(json_t *stats, const char *name)
{
	json_t *v = json_object_get(json_object_get(stats, "program"), name);

	CU_ASSERT_FATAL(json_is_integer(v));
	return (uint64_t)json_integer_value(v);
}

static uint64_t program_frames_seen(json_t *stats)
{
	const char *name;
	json_t *v;
	uint64_t sum = 0;

	json_object_foreach(json_object_get(stats, "program"), name, v)
		sum += (uint64_t)json_integer_value(v);
	return sum;
}

/* ---- the poller: one thread on queue 0, as the engine runs it ------- */

struct poller {
	struct st_capture *c;
	unsigned sleep_us_per_burst;
	atomic_bool stop;
	atomic_uint_fast64_t frames, bytes;
	atomic_uint_fast64_t outside_ports;   /* frames that should not be here */
	pthread_t thread;
};

/* True when f is Ethernet + IPv4/IPv6 (no extension headers: the
 * generator writes none) + TCP/UDP with a steered port. */
static bool frame_is_steered(const struct st_frame *f)
{
	const uint8_t *p = f->data;
	uint32_t l3 = 14, l4;
	uint8_t proto;
	uint16_t sport, dport;

	if (f->caplen < l3)
		return false;
	if (p[12] == 0x08 && p[13] == 0x00) {
		if (f->caplen < l3 + 20)
			return false;
		proto = p[l3 + 9];
		l4 = l3 + (p[l3] & 0x0f) * 4u;
	} else if (p[12] == 0x86 && p[13] == 0xdd) {
		if (f->caplen < l3 + 40)
			return false;
		proto = p[l3 + 6];
		l4 = l3 + 40;
	} else {
		return false;
	}
	if (f->caplen < l4 + 4)
		return false;
	sport = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
	dport = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
	for (size_t i = 0; i < sizeof(steered) / sizeof(steered[0]); i++)
		if (proto == steered[i].l4_proto &&
		    (sport == steered[i].port || dport == steered[i].port))
			return true;
	return false;
}

static void *poll_queue(void *arg)
{
	struct poller *pl = arg;
	struct st_frame f[ST_CAPTURE_BURST];

	while (!atomic_load(&pl->stop)) {
		int n = pl->c->ops->rx_burst(pl->c, 0, f, ST_CAPTURE_BURST);
		uint64_t bytes = 0, outside = 0;

		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			bytes += f[i].caplen;
			outside += !frame_is_steered(&f[i]) || f[i].ts_ns != 0 ||
				   f[i].caplen != f[i].wire_len;
		}
		pl->c->ops->rx_release(pl->c, 0);
		atomic_fetch_add(&pl->frames, (uint64_t)n);
		atomic_fetch_add(&pl->bytes, bytes);
		atomic_fetch_add(&pl->outside_ports, outside);
		if (pl->sleep_us_per_burst)
			usleep(pl->sleep_us_per_burst);
	}
	return NULL;
}

static void poller_start(struct poller *pl, struct st_capture *c, unsigned sleep_us)
{
	memset(pl, 0, sizeof(*pl));
	pl->c = c;
	pl->sleep_us_per_burst = sleep_us;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&pl->thread, NULL, poll_queue, pl), 0);
}

/* Waits until the count has not moved for 300 ms (at most 10 s), then
 * stops the thread. */
static void poller_drain_and_stop(struct poller *pl)
{
	uint64_t last = UINT64_MAX;

	for (int quiet_ms = 0, total_ms = 0; quiet_ms < 300 && total_ms < 10000;
	     total_ms += 50) {
		uint64_t now = atomic_load(&pl->frames);

		quiet_ms = now == last ? quiet_ms + 50 : 0;
		last = now;
		usleep(50 * 1000);
	}
	atomic_store(&pl->stop, true);
	pthread_join(pl->thread, NULL);
}

/* ---- set-up -------------------------------------------------------- */

/* At exit, whatever failed: the namespace goes with the process, the
 * captures with this. */
static void remove_workdir(void)
{
	char cmd[128];

	if (workdir[0] && snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir) < (int)sizeof(cmd))
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", workdir);
}

static void test_namespace_veth_and_captures(void)
{
	const char *gen = getenv("SHADOWTAP_GEN");
	const char *streams = "--stream kafka:t,rate=200 --stream jsonl:udp:5140,rate=300 "
			      "--stream mqtt:m,rate=200 --stream jsonl:udp:5141,rate=200 "
			      "--stream nats:s,rate=100";

	CU_ASSERT_PTR_NOT_NULL_FATAL(gen);
	CU_ASSERT_EQUAL_FATAL(unshare(CLONE_NEWNET), 0);
	CU_ASSERT_EQUAL_FATAL(run("echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && "
				  "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"), 0);
	CU_ASSERT_EQUAL_FATAL(run("ip link add " SEND_IF " type veth peer name " CAPTURE_IF
				  " && ip link set " SEND_IF " up && ip link set "
				  CAPTURE_IF " up"), 0);

	snprintf(workdir, sizeof(workdir), "/tmp/st-xdp-veth-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(workdir));
	atexit(remove_workdir);
	snprintf(pcap_v4, sizeof(pcap_v4), "%s/v4.pcap", workdir);
	snprintf(pcap_v6, sizeof(pcap_v6), "%s/v6.pcap", workdir);
	CU_ASSERT_EQUAL_FATAL(run("'%s' -q -s 7 -d 2s %s -o %s", gen, streams, pcap_v4), 0);
	CU_ASSERT_EQUAL_FATAL(run("'%s' -q -s 8 -d 2s --ipv6 %s -o %s", gen, streams,
				  pcap_v6), 0);
}

static void test_open_errors(void)
{
	char err[256] = "";
	struct st_xdp_config cfg = {
		.ifname = "st-no-such0", .queues = 1,
		.ports = steered, .n_ports = 2,
		.err = err, .err_size = sizeof(err),
	};

	errno = 0;
	CU_ASSERT_PTR_NULL(st_capture_xdp_open(&cfg));
	CU_ASSERT_EQUAL(errno, ENODEV);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "st-no-such0"));

	cfg.ifname = CAPTURE_IF;
	cfg.n_ports = 0;
	errno = 0;
	CU_ASSERT_PTR_NULL(st_capture_xdp_open(&cfg));
	CU_ASSERT_EQUAL(errno, EINVAL);

	cfg.n_ports = 2;
	cfg.queues = 2;           /* a veth has one rx queue */
	errno = 0;
	CU_ASSERT_PTR_NULL(st_capture_xdp_open(&cfg));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "has 1 rx queues"));
}

/* Without privileges (user nobody, in a child): EPERM and a message. */
static void test_open_without_privilege_is_eperm(void)
{
	pid_t child = fork();
	int status;

	CU_ASSERT_FATAL(child >= 0);
	if (child == 0) {
		char err[256] = "";
		struct st_xdp_config cfg = {
			.ifname = CAPTURE_IF, .queues = 1,
			.ports = steered, .n_ports = 2,
			.err = err, .err_size = sizeof(err),
		};
		bool ok;

		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		errno = 0;
		ok = !st_capture_xdp_open(&cfg) && errno == EPERM &&
		     strstr(err, "not allowed") != NULL;
		_exit(ok ? 0 : 1);
	}
	CU_ASSERT_EQUAL_FATAL(waitpid(child, &status, 0), child);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- 1. moderate rate: exact ---------------------------------------- */

static void moderate_rate(enum st_xdp_attach_mode mode, const char *want_mode)
{
	char err[256] = "";
	struct st_xdp_config cfg = {
		.ifname = CAPTURE_IF, .queues = 1,
		.ports = steered, .n_ports = 2,
		.attach_mode = mode,
		.busy_poll = true,
		.err = err, .err_size = sizeof(err),
	};
	uint64_t steered_frames = 0, steered_bytes = 0, all_frames = 0, unused;
	uint64_t sent = 0, failed;
	struct st_capture_queue_stats qs;
	struct st_capture *c;
	struct poller pl;
	json_t *stats;

	for (int v = 0; v < 2; v++) {
		uint64_t frames, bytes;

		tshark_count(v ? pcap_v6 : pcap_v4, STEERED_FILTER, &frames, &bytes);
		steered_frames += frames;
		steered_bytes += bytes;
		tshark_count(v ? pcap_v6 : pcap_v4, "", &frames, &unused);
		all_frames += frames;
	}
	CU_ASSERT_FATAL(steered_frames > 0 && steered_frames < all_frames);

	c = st_capture_xdp_open(&cfg);
	if (!c)
		fprintf(stderr, "\n  open: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->backend, "af_xdp");
	CU_ASSERT_EQUAL(c->queues, 1);
	CU_ASSERT_EQUAL(c->linktype, 1);
	CU_ASSERT(c->flow_affinity && !c->timestamps && !c->finite);
	stats = stats_json(c);
	fprintf(stderr, "\n  chosen: attach %s, %s, busy poll %s; notes: %s\n",
		json_string_value(json_object_get(stats, "attach_mode")),
		json_string_value(json_object_get(stats, "copy_mode")),
		json_is_true(json_object_get(json_array_get(json_object_get(stats, "queues"), 0),
					     "busy_poll")) ? "on" : "off",
		json_string_value(json_object_get(stats, "notes")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(stats, "attach_mode")),
			       want_mode);
	json_decref(stats);

	poller_start(&pl, c, 0);
	sent += tcpreplay("--pps 2000", pcap_v4, &failed);
	CU_ASSERT_EQUAL(failed, 0);
	sent += tcpreplay("--pps 2000", pcap_v6, &failed);
	CU_ASSERT_EQUAL(failed, 0);
	poller_drain_and_stop(&pl);

	CU_ASSERT_EQUAL(sent, all_frames);
	CU_ASSERT_EQUAL(atomic_load(&pl.frames), steered_frames);
	CU_ASSERT_EQUAL(atomic_load(&pl.bytes), steered_bytes);
	CU_ASSERT_EQUAL(atomic_load(&pl.outside_ports), 0);
	CU_ASSERT_EQUAL_FATAL(c->ops->queue_stats(c, 0, &qs), 0);
	CU_ASSERT_EQUAL(qs.frames, steered_frames);
	CU_ASSERT_EQUAL(qs.bytes, steered_bytes);
	for (int d = 0; d < ST_CAPTURE_DROP__COUNT; d++)
		CU_ASSERT_EQUAL(qs.drops[d], 0);
	stats = stats_json(c);
	CU_ASSERT_EQUAL(program_counter(stats, "redirected"), steered_frames);
	CU_ASSERT_EQUAL(program_counter(stats, "pass_unmatched"), all_frames - steered_frames);
	CU_ASSERT_EQUAL(program_frames_seen(stats), all_frames);
	fprintf(stderr, "  sent %llu frames (tshark: %llu, %llu steered); captured %llu\n",
		(unsigned long long)sent, (unsigned long long)all_frames,
		(unsigned long long)steered_frames,
		(unsigned long long)atomic_load(&pl.frames));
	json_decref(stats);
	st_capture_close(c);
}

/* Automatic choice: a veth runs XDP in its driver (native). */
static void test_moderate_rate_native_captures_exactly_the_steered_frames(void)
{
	moderate_rate(ST_XDP_ATTACH_AUTO, "native");
}

static void test_moderate_rate_skb_captures_exactly_the_steered_frames(void)
{
	moderate_rate(ST_XDP_ATTACH_SKB, "skb");
}

/* ---- 2. overload: drops, and the balances --------------------------- */

/* One overload run with the given rings; returns the capture's drops. */
static struct st_capture_queue_stats overload(uint32_t rx_ring, uint32_t frames)
{
	char err[256] = "";
	struct st_xdp_config cfg = {
		.ifname = CAPTURE_IF, .queues = 1,
		.ports = steered, .n_ports = 2,
		.rx_ring_size = rx_ring, .fill_ring_size = frames, .frame_count = frames,
		.err = err, .err_size = sizeof(err),
	};
	struct st_capture_queue_stats qs = { 0 };
	struct rtnl_link_stats before, after;
	uint64_t sent, failed, seen, redirected, tx_dropped, drops = 0;
	struct st_capture *c;
	struct poller pl;
	json_t *stats;
	char *text;

	c = st_capture_xdp_open(&cfg);
	if (!c)
		fprintf(stderr, "\n  open: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	before = link_stats(SEND_IF);
	poller_start(&pl, c, 2000);
	sent = tcpreplay("--topspeed --loop 4", pcap_v4, &failed);
	poller_drain_and_stop(&pl);
	after = link_stats(SEND_IF);

	CU_ASSERT_EQUAL_FATAL(c->ops->queue_stats(c, 0, &qs), 0);
	stats = stats_json(c);
	seen = program_frames_seen(stats);
	redirected = program_counter(stats, "redirected");
	tx_dropped = after.tx_dropped - before.tx_dropped;
	for (int d = 0; d < ST_CAPTURE_DROP__COUNT; d++)
		drops += qs.drops[d];
	fprintf(stderr, "\n  rx ring %u, %u frames: sent %llu (failed %llu), %s tx_dropped %llu, "
		"program saw %llu, redirected %llu, captured %llu, missed %llu, "
		"no_buffer %llu, invalid %llu\n", rx_ring, frames,
		(unsigned long long)sent, (unsigned long long)failed, SEND_IF,
		(unsigned long long)tx_dropped, (unsigned long long)seen,
		(unsigned long long)redirected, (unsigned long long)qs.frames,
		(unsigned long long)qs.drops[ST_CAPTURE_DROP_MISSED],
		(unsigned long long)qs.drops[ST_CAPTURE_DROP_NO_BUFFER],
		(unsigned long long)qs.drops[ST_CAPTURE_DROP_INVALID]);
	text = json_dumps(stats, JSON_COMPACT);
	fprintf(stderr, "  %s\n", text);
	free(text);

	CU_ASSERT(drops > 0);
	CU_ASSERT_EQUAL(atomic_load(&pl.outside_ports), 0);
	CU_ASSERT_EQUAL(qs.frames, atomic_load(&pl.frames));
	CU_ASSERT_EQUAL(sent, tx_dropped + seen);
	CU_ASSERT_EQUAL(redirected, qs.frames + drops);
	json_decref(stats);
	st_capture_close(c);
	return qs;
}

/* As many frames as rx slots: the fill ring runs dry first (no_buffer). */
static void test_overload_fill_ring_empty_is_accounted(void)
{
	struct st_capture_queue_stats qs = overload(64, 64);

	CU_ASSERT(qs.drops[ST_CAPTURE_DROP_NO_BUFFER] > 0);
}

/* Twice as many frames as rx slots: the rx ring fills first (missed). */
static void test_overload_rx_ring_full_is_accounted(void)
{
	struct st_capture_queue_stats qs = overload(32, 64);

	CU_ASSERT(qs.drops[ST_CAPTURE_DROP_MISSED] > 0);
}

ST_TEST_MAIN("dataplane/capture/xdp_veth",
	ST_TEST(test_namespace_veth_and_captures),
	ST_TEST(test_open_errors),
	ST_TEST(test_open_without_privilege_is_eperm),
	ST_TEST(test_moderate_rate_native_captures_exactly_the_steered_frames),
	ST_TEST(test_moderate_rate_skb_captures_exactly_the_steered_frames),
	ST_TEST(test_overload_fill_ring_empty_is_accounted),
	ST_TEST(test_overload_rx_ring_full_is_accounted))
