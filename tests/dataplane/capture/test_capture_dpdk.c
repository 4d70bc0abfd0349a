/*
 * DPDK capture backend (dataplane/capture/dpdk.h) on net_pcap, net_null
 * and net_af_packet vdevs, without hugepages or a NIC.
 *
 * The oracle is libpcap reading the same file (frame count, bytes, caplen,
 * timestamps), or the frames this suite writes itself with known contents.
 *
 * DPDK initialises its EAL once per process, so every case that opens a
 * capture runs in a forked child (the parent never touches DPDK); the
 * child reports each failed CU_ASSERT on stderr and exits 1, and the
 * parent asserts that it exited 0.  Children open the EAL with --no-huge
 * and, by the backend's default, --no-shconf, so suites may run at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "dataplane/capture/dpdk.h"
#include "st_test.h"

#define DRAIN_IDLE_POLLS_MAX 2000000u   /* a queue that never ends fails */
#define FRAMES_MAX 4096

/* ---- children ------------------------------------------------------- */

/* In a child: runs body, prints its failed assertions, exits 0 or 1. */
static void child_run(void (*body)(void))
{
	unsigned before = CU_get_number_of_failures();
	const CU_FailureRecord *r;
	unsigned failed;

	body();
	r = CU_get_failure_list();
	failed = CU_get_number_of_failures() - before;
	for (unsigned i = 0; r; r = r->pNext, i++)
		if (i >= before)
			fprintf(stderr, "  child: %s:%u: %s\n", r->strFileName,
				r->uiLineNumber, r->strCondition);
	/* exit(), not _exit(): LeakSanitizer checks the child too. */
	exit(failed ? 1 : 0);
}

static void run_in_child(void (*body)(void))
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		child_run(body);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
	if (WIFSIGNALED(status))
		fprintf(stderr, "  child killed by signal %d\n", WTERMSIG(status));
}

/* EAL arguments: the no-hugepage base plus `extra` (NULL-terminated). */
struct eal_args {
	int argc;
	char *argv[32];
};

static void eal_args(struct eal_args *a, const char *lcores,
		     const char *const *extra)
{
	static const char *const base[] = {
		"test-capture-dpdk", "--no-huge", "-m", "256", "--no-pci",
		"--no-telemetry",
	};

	a->argc = 0;
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		a->argv[a->argc++] = (char *)base[i];
	a->argv[a->argc++] = (char *)(lcores ? lcores : "--lcores=0@0");
	for (; extra && *extra; extra++)
		a->argv[a->argc++] = (char *)*extra;
	a->argv[a->argc] = NULL;
}

/* ---- the oracle: libpcap ---------------------------------------------- */

struct frame {
	uint32_t caplen;
	uint32_t wire_len;
	uint64_t ts_ns;
	uint8_t *data;
};

struct frames {
	struct frame f[FRAMES_MAX];
	size_t n;
	int linktype;
};

static void frames_free(struct frames *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->f[i].data);
	fs->n = 0;
}

static void frames_add(struct frames *fs, const uint8_t *data,
		       uint32_t caplen, uint32_t wire_len, uint64_t ts_ns)
{
	struct frame *f;

	CU_ASSERT(fs->n < FRAMES_MAX);
	if (fs->n >= FRAMES_MAX)
		return;
	f = &fs->f[fs->n++];
	f->caplen = caplen;
	f->wire_len = wire_len;
	f->ts_ns = ts_ns;
	f->data = malloc(caplen ? caplen : 1);
	memcpy(f->data, data, caplen);
}

/* Every frame of path, timestamps read at nanosecond precision. */
static int oracle_load(const char *path, struct frames *fs)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc;

	pc = pcap_open_offline_with_tstamp_precision(path,
			PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fprintf(stderr, "  %s: %s\n", path, errbuf);
		return -1;
	}
	fs->n = 0;
	fs->linktype = pcap_datalink(pc);
	while (pcap_next_ex(pc, &h, &data) == 1)
		frames_add(fs, data, h->caplen, h->len,
			   (uint64_t)h->ts.tv_sec * 1000000000u +
			   (uint64_t)h->ts.tv_usec);
	pcap_close(pc);
	return 0;
}

/* ---- files this suite writes ---------------------------------------- */

#define WRITTEN_FRAMES 120
#define WRITTEN_TS_SEC 1700000000u

/* Frame i: its length, what the file says was on the wire, its time. */
static uint32_t written_caplen(unsigned i)
{
	if (i == 7)
		return 9000;               /* larger than a default mbuf */
	return 60 + (i * 97) % 1455;       /* 60..1514 */
}

static uint32_t written_wire_len(unsigned i)
{
	return i == 11 ? 1514 : written_caplen(i); /* frame 11: truncated */
}

static uint32_t written_usec(unsigned i)
{
	return (i * 7919u) % 1000000u;
}

static void written_bytes(unsigned i, uint8_t *b, uint32_t len)
{
	for (uint32_t k = 0; k < len; k++)
		b[k] = (uint8_t)(i * 31 + k * 7);
	b[0] = (uint8_t)i;              /* a sequence number up front */
	b[1] = (uint8_t)(i >> 8);
}

/*
 * Writes frames [0, n) with libpcap; a nanosecond file (nano) carries 123
 * ns more than written_usec() in each timestamp.  0 or -1.
 */
static int pcap_write_prec(const char *path, unsigned n, bool nano)
{
	static uint8_t buf[9000];
	pcap_dumper_t *d;
	pcap_t *dead;

	dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, nano ?
			PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
	if (!dead)
		return -1;
	d = pcap_dump_open(dead, path);
	if (!d) {
		pcap_close(dead);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		struct pcap_pkthdr h = {
			.ts = { .tv_sec = WRITTEN_TS_SEC + i,
				.tv_usec = nano ? written_usec(i) * 1000 + 123 :
					written_usec(i) },
			.caplen = written_caplen(i),
			.len = written_wire_len(i),
		};

		written_bytes(i, buf, h.caplen);
		pcap_dump((u_char *)d, &h, buf);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return 0;
}

static int pcap_write(const char *path, unsigned n)
{
	return pcap_write_prec(path, n, false);
}

static void temp_path(char *out, size_t len, const char *what)
{
	snprintf(out, len, "/tmp/st-test-dpdk-%d-%s.pcap", (int)getpid(), what);
}

/* ---- draining ------------------------------------------------------- */

/*
 * Reads queue q until ST_CAPTURE_END into fs (copies).  Returns the count,
 * or -1 when the queue never ends or fails.
 */
static long drain(struct st_capture *c, unsigned q, struct frames *fs)
{
	struct st_frame f[ST_CAPTURE_BURST];
	unsigned idle = 0;
	long total = 0;

	for (;;) {
		int n = c->ops->rx_burst(c, q, f, ST_CAPTURE_BURST);

		if (n == ST_CAPTURE_END)
			return total;
		if (n < 0)
			return -1;
		if (n == 0 && ++idle > DRAIN_IDLE_POLLS_MAX)
			return -1;
		for (int i = 0; i < n; i++)
			if (fs)
				frames_add(fs, f[i].data, f[i].caplen,
					   f[i].wire_len, f[i].ts_ns);
		total += n;
		c->ops->rx_release(c, q);
	}
}

/* Every mbuf of the first port's queue 0 is back in its pool (net_pcap
 * keeps none between bursts): what rx_release() gave back, nothing lost. */
static void assert_pool_whole(void)
{
	struct rte_mempool *mp = rte_mempool_lookup("st_rx_0_0");

	CU_ASSERT_PTR_NOT_NULL_FATAL(mp);
	CU_ASSERT_EQUAL(rte_mempool_avail_count(mp), mp->size);
}

static struct st_capture *open_files(const char *const *paths, unsigned n,
				     const struct st_dpdk_config *cfg,
				     const char *lcores)
{
	static char vdev[8][600];
	const char *extra[20];
	struct eal_args a;
	char err[512];
	struct st_capture *c;
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		snprintf(vdev[i], sizeof(vdev[i]), "net_pcap%u,rx_pcap=%s", i,
			 paths[i]);
		extra[k++] = "--vdev";
		extra[k++] = vdev[i];
	}
	extra[k] = NULL;
	eal_args(&a, lcores, extra);
	c = st_capture_dpdk_open(a.argc, a.argv, cfg, err, sizeof(err));
	if (!c)
		fprintf(stderr, "  open: %s\n", err);
	return c;
}

/* The frames the capture gave equal the oracle's: bytes, lengths, time
 * (net_pcap reads at microsecond precision and copies caplen as the
 * length on the wire). */
static void assert_same_frames(const struct frames *got,
			       const struct frames *want)
{
	CU_ASSERT_EQUAL(got->n, want->n);
	for (size_t i = 0; i < got->n && i < want->n; i++) {
		const struct frame *g = &got->f[i], *w = &want->f[i];

		CU_ASSERT_EQUAL(g->caplen, w->caplen);
		CU_ASSERT_EQUAL(g->wire_len, w->caplen);
		CU_ASSERT_EQUAL(g->ts_ns, w->ts_ns - w->ts_ns % 1000);
		if (g->caplen == w->caplen)
			CU_ASSERT(memcmp(g->data, w->data, g->caplen) == 0);
		if (i > 0)
			CU_ASSERT(g->ts_ns >= got->f[i - 1].ts_ns ||
				  w->ts_ns < want->f[i - 1].ts_ns);
	}
}

/* ---- cases ---------------------------------------------------------- */

static const char *ref_path;

static void body_reference_file(void)
{
	static struct frames want, got;
	struct st_capture_queue_stats s;
	struct st_capture *c;
	uint64_t bytes = 0;

	if (oracle_load(ref_path, &want) != 0) {
		CU_FAIL("oracle cannot read the file");
		return;
	}
	c = open_files(&ref_path, 1, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		return;
	CU_ASSERT_STRING_EQUAL(c->backend, "dpdk");
	CU_ASSERT_EQUAL(c->queues, 1);
	CU_ASSERT(c->finite);
	CU_ASSERT(c->timestamps);
	CU_ASSERT(c->flow_affinity);
	CU_ASSERT_EQUAL(c->linktype, want.linktype);
	CU_ASSERT_EQUAL(drain(c, 0, &got), (long)want.n);
	assert_same_frames(&got, &want);
	for (size_t i = 0; i < want.n; i++)
		bytes += want.f[i].caplen;
	CU_ASSERT_EQUAL(c->ops->queue_stats(c, 0, &s), 0);
	CU_ASSERT_EQUAL(s.frames, want.n);
	CU_ASSERT_EQUAL(s.bytes, bytes);
	for (int d = 0; d < ST_CAPTURE_DROP__COUNT; d++)
		CU_ASSERT_EQUAL(s.drops[d], 0);
	/* The end stays the end. */
	CU_ASSERT_EQUAL(drain(c, 0, NULL), 0);
	st_capture_close(c);
	frames_free(&want);
	frames_free(&got);
}

static void test_reference_pcaps_match_libpcap(void)
{
	static const char *const files[] = {
		"pcaps/kafka/00-produce-v2.pcap",
		"pcaps/kafka/00-produce-v7-sw8.pcap",
		"pcaps/kafka/01-fetch-v12-unknown.pcap", /* nanosecond file */
		"pcaps/kafka/18-api-versions-v3.pcap",
		"pcaps/mqtt/mqtt_pub.pcap",
		"pcaps/mqtt/ndpi-mqtt.pcap",             /* pcapng */
		"pcaps/nats/nats-nrpc1.pcap",            /* modified pcap */
		"pcaps/nats/nats-skywalking.pcap",
		"pcaps/nats/ndpi-nats.pcap",             /* BSD loopback */
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		ref_path = st_test_data_path(files[i]);
		if (access(ref_path, R_OK) != 0) {
			fprintf(stderr, "  missing %s\n", ref_path);
			CU_FAIL("reference capture missing");
			continue;
		}
		run_in_child(body_reference_file);
	}
}

static bool written_nano;

static void body_written_file(void)
{
	static struct frames got;
	static uint8_t buf[9000];
	struct st_capture_queue_stats s;
	const char *paths[1];
	char path[128];
	struct st_capture *c;
	uint64_t bytes = 0;
	char *json = NULL;
	size_t json_len = 0;
	FILE *out;

	temp_path(path, sizeof(path), "written");
	CU_ASSERT_EQUAL(pcap_write_prec(path, WRITTEN_FRAMES, written_nano), 0);
	paths[0] = path;
	c = open_files(paths, 1, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out_unlink;
	CU_ASSERT_EQUAL(drain(c, 0, &got), WRITTEN_FRAMES);
	CU_ASSERT_EQUAL(got.n, WRITTEN_FRAMES);
	for (unsigned i = 0; i < got.n && i < WRITTEN_FRAMES; i++) {
		uint32_t len = written_caplen(i);

		written_bytes(i, buf, len);
		CU_ASSERT_EQUAL(got.f[i].caplen, len);
		/* net_pcap hands caplen as pkt_len: frame 11's 1514 is lost */
		CU_ASSERT_EQUAL(got.f[i].wire_len, len);
		CU_ASSERT_EQUAL(got.f[i].ts_ns,
				(uint64_t)(WRITTEN_TS_SEC + i) * 1000000000u +
				(uint64_t)written_usec(i) * 1000u);
		if (got.f[i].caplen == len)
			CU_ASSERT(memcmp(got.f[i].data, buf, len) == 0);
		bytes += len;
	}
	CU_ASSERT_EQUAL(c->ops->queue_stats(c, 0, &s), 0);
	CU_ASSERT_EQUAL(s.frames, WRITTEN_FRAMES);
	CU_ASSERT_EQUAL(s.bytes, bytes);
	CU_ASSERT_EQUAL(s.drops[ST_CAPTURE_DROP_INVALID], 0);
	assert_pool_whole();
	out = open_memstream(&json, &json_len);
	CU_ASSERT_EQUAL(c->ops->stats_json(c, out), 0);
	fclose(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"driver\":\"net_pcap\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"timestamps\":\"pcap_us\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"frames\":120,\"read\":true"));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"ipackets\":120,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"mbuf_data_room_bytes\":9000"));
	free(json);
	st_capture_close(c);
out_unlink:
	frames_free(&got);
	unlink(path);
}

/* Bursts kept out of the queue (rx_keep) stay valid while the queue is
 * polled on, and kept_free() gives their mbufs back: the file read a burst
 * at a time, every burst kept to the end, equals the oracle's frames, the
 * pool is short of exactly the kept mbufs, and whole after kept_free().
 * With two workers the default pool has room for what each may keep. */
static void body_kept_bursts(void)
{
	static struct frames want;
	static void *objs[WRITTEN_FRAMES][ST_CAPTURE_BURST];
	static unsigned kept[WRITTEN_FRAMES];
	static bool plain[WRITTEN_FRAMES];
	struct st_frame f[WRITTEN_FRAMES + ST_CAPTURE_BURST];
	const struct st_dpdk_config cfg = { .workers = 2 };
	const char *paths[1];
	char path[128];
	struct st_capture *c;
	struct rte_mempool *mp;
	unsigned got = 0, bursts = 0, idle = 0;
	int n;

	temp_path(path, sizeof(path), "kept");
	CU_ASSERT_EQUAL(pcap_write(path, WRITTEN_FRAMES), 0);
	CU_ASSERT_EQUAL(oracle_load(path, &want), 0);
	paths[0] = path;
	c = open_files(paths, 1, &cfg, "--lcores=(0-1)@0");
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out_unlink;
	CU_ASSERT_PTR_NOT_NULL_FATAL(c->ops->rx_keep);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c->ops->kept_free);
	mp = rte_mempool_lookup("st_rx_0_0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mp);
	CU_ASSERT_EQUAL(mp->size, ST_DPDK_PCAP_MBUFS_PER_QUEUE + 2 * ST_CAPTURE_KEEP_MAX);
	while (got < WRITTEN_FRAMES && idle < 1000 &&
	       (n = c->ops->rx_burst(c, 0, f + got, ST_CAPTURE_BURST)) >= 0) {
		if (n == 0) {
			idle++;
			continue;
		}
		kept[bursts] = c->ops->rx_keep(c, 0, objs[bursts], &plain[bursts]);
		CU_ASSERT_EQUAL(kept[bursts], (unsigned)n);
		CU_ASSERT_TRUE(plain[bursts]);
		got += (unsigned)n;
		bursts++;
	}
	CU_ASSERT_EQUAL(got, WRITTEN_FRAMES);
	CU_ASSERT_EQUAL(c->ops->rx_burst(c, 0, f, ST_CAPTURE_BURST), ST_CAPTURE_END);
	/* every burst still held: the pool is short of exactly them */
	CU_ASSERT_EQUAL(rte_mempool_avail_count(mp), mp->size - WRITTEN_FRAMES);
	for (unsigned i = 0; i < got && i < want.n; i++) {
		CU_ASSERT_EQUAL(f[i].caplen, want.f[i].caplen);
		if (f[i].caplen == want.f[i].caplen)
			CU_ASSERT(memcmp(f[i].data, want.f[i].data, f[i].caplen) == 0);
	}
	for (unsigned b = 0; b < bursts; b++)
		c->ops->kept_free(c, 0, objs[b], kept[b], plain[b]);
	assert_pool_whole();
	st_capture_close(c);
out_unlink:
	frames_free(&want);
	unlink(path);
}

static void test_kept_bursts_stay_valid(void)
{
	run_in_child(body_kept_bursts);
}

/* Frames built here: bytes, lengths (a 9000-byte frame, a truncated one),
 * times; a nanosecond file arrives at microsecond precision (net_pcap
 * opens files at the default precision). */
static void test_written_pcap_known_frames(void)
{
	written_nano = false;
	run_in_child(body_written_file);
	written_nano = true;
	run_in_child(body_written_file);
}

static void body_two_vdevs(void)
{
	static struct frames got0, got1, want0, want1;
	const char *paths[2];
	char p0[128], p1[128];
	struct st_capture *c;

	temp_path(p0, sizeof(p0), "two-a");
	CU_ASSERT_EQUAL(pcap_write(p0, 40), 0);
	paths[0] = p0;
	paths[1] = st_test_data_path("pcaps/nats/nats-err.pcap");
	snprintf(p1, sizeof(p1), "%s", paths[1]);
	paths[1] = p1;
	CU_ASSERT_EQUAL(oracle_load(p0, &want0), 0);
	CU_ASSERT_EQUAL(oracle_load(p1, &want1), 0);
	c = open_files(paths, 2, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out_unlink;
	CU_ASSERT_EQUAL(c->queues, 2);
	CU_ASSERT(c->flow_affinity);
	CU_ASSERT_EQUAL(drain(c, 1, &got1), (long)want1.n);
	CU_ASSERT_EQUAL(drain(c, 0, &got0), (long)want0.n);
	assert_same_frames(&got0, &want0);
	assert_same_frames(&got1, &want1);
	st_capture_close(c);
out_unlink:
	frames_free(&got0);
	frames_free(&got1);
	frames_free(&want0);
	frames_free(&want1);
	unlink(p0);
}

static void test_two_vdevs_two_queues(void)
{
	run_in_child(body_two_vdevs);
}

static void body_empty_file(void)
{
	struct st_frame f[ST_CAPTURE_BURST];
	const char *paths[1];
	char path[128];
	struct st_capture *c;

	temp_path(path, sizeof(path), "empty");
	CU_ASSERT_EQUAL(pcap_write(path, 0), 0);
	paths[0] = path;
	c = open_files(paths, 1, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (c) {
		CU_ASSERT(c->finite);
		CU_ASSERT_EQUAL(c->ops->rx_burst(c, 0, f, ST_CAPTURE_BURST),
				ST_CAPTURE_END);
		st_capture_close(c);
	}
	unlink(path);
}

static void test_empty_file_ends_at_once(void)
{
	run_in_child(body_empty_file);
}

/*
 * Fewer mbufs than frames: whatever the PMD could not deliver is counted
 * as no_buffer, exactly, and what it delivered is the file's frames in
 * order (by the sequence number each written frame carries).
 */
static void body_small_mempool(void)
{
	static struct frames got;
	const struct st_dpdk_config cfg = {
		.mbufs_per_queue = 8,
		.mempool_cache = 1,
	};
	struct st_capture_queue_stats s;
	const char *paths[1];
	char path[128];
	struct st_capture *c;
	long n;

	temp_path(path, sizeof(path), "small");
	CU_ASSERT_EQUAL(pcap_write(path, WRITTEN_FRAMES), 0);
	paths[0] = path;
	c = open_files(paths, 1, &cfg, NULL);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out_unlink;
	n = drain(c, 0, &got);
	CU_ASSERT(n > 0);
	CU_ASSERT_EQUAL(c->ops->queue_stats(c, 0, &s), 0);
	CU_ASSERT_EQUAL(s.frames, (uint64_t)n);
	CU_ASSERT(s.drops[ST_CAPTURE_DROP_NO_BUFFER] > 0);
	CU_ASSERT_EQUAL(s.frames + s.drops[ST_CAPTURE_DROP_NO_BUFFER] +
			s.drops[ST_CAPTURE_DROP_INVALID], WRITTEN_FRAMES);
	assert_pool_whole();
	for (size_t i = 0; i < got.n; i++) {
		unsigned seq = got.f[i].data[0] | got.f[i].data[1] << 8;

		CU_ASSERT_EQUAL(got.f[i].caplen, written_caplen(seq));
		if (i > 0) {
			unsigned prev = got.f[i - 1].data[0] |
				got.f[i - 1].data[1] << 8;

			CU_ASSERT(seq > prev);
		}
	}
	fprintf(stderr, "  small pool: %ld delivered, %" PRIu64 " no_buffer, %"
		PRIu64 " invalid of %u ... ", n,
		s.drops[ST_CAPTURE_DROP_NO_BUFFER],
		s.drops[ST_CAPTURE_DROP_INVALID], WRITTEN_FRAMES);
	st_capture_close(c);
out_unlink:
	frames_free(&got);
	unlink(path);
}

static void test_small_mempool_counts_the_missing(void)
{
	run_in_child(body_small_mempool);
}

/*
 * Frames larger than the mbuf data room arrive as chained mbufs: each is
 * skipped and counted invalid, the rest arrive whole, and the file still
 * ends exactly.
 */
static void body_multi_segment(void)
{
	static struct frames got;
	const struct st_dpdk_config cfg = { .mbuf_data_room_bytes = 1024 };
	struct st_capture_queue_stats s;
	const char *paths[1];
	char path[128];
	struct st_capture *c;
	unsigned small = 0, large = 0, k = 0;

	for (unsigned i = 0; i < WRITTEN_FRAMES; i++) {
		if (written_caplen(i) <= 1024)
			small++;
		else
			large++;
	}
	temp_path(path, sizeof(path), "multiseg");
	CU_ASSERT_EQUAL(pcap_write(path, WRITTEN_FRAMES), 0);
	paths[0] = path;
	c = open_files(paths, 1, &cfg, NULL);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out_unlink;
	CU_ASSERT(large > 0 && small > 0);
	CU_ASSERT_EQUAL(drain(c, 0, &got), (long)small);
	for (unsigned i = 0; i < WRITTEN_FRAMES && k < got.n; i++) {
		if (written_caplen(i) > 1024)
			continue;
		CU_ASSERT_EQUAL(got.f[k].caplen, written_caplen(i));
		CU_ASSERT_EQUAL(got.f[k].data[0], (uint8_t)i);
		k++;
	}
	CU_ASSERT_EQUAL(c->ops->queue_stats(c, 0, &s), 0);
	CU_ASSERT_EQUAL(s.drops[ST_CAPTURE_DROP_INVALID], large);
	CU_ASSERT_EQUAL(s.drops[ST_CAPTURE_DROP_NO_BUFFER], 0);
	st_capture_close(c);
out_unlink:
	frames_free(&got);
	unlink(path);
}

static void test_multi_segment_frames_are_counted_invalid(void)
{
	run_in_child(body_multi_segment);
}

/*
 * infinite_rx (the benchmark input): the file's frames again and again,
 * not finite, and without timestamps (the PMD replays copies).
 */
static void body_infinite(void)
{
	struct st_frame f[ST_CAPTURE_BURST];
	static char vdev[256];
	static uint8_t buf[9000];
	const char *extra[] = { "--vdev", vdev, NULL };
	char path[128], err[512];
	struct st_capture *c;
	struct eal_args a;
	unsigned seen = 0;

	temp_path(path, sizeof(path), "infinite");
	CU_ASSERT_EQUAL(pcap_write(path, WRITTEN_FRAMES), 0);
	snprintf(vdev, sizeof(vdev), "net_pcap0,rx_pcap=%s,infinite_rx=1",
		 path);
	eal_args(&a, NULL, extra);
	c = st_capture_dpdk_open(a.argc, a.argv, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c) {
		fprintf(stderr, "  open: %s\n", err);
		goto out_unlink;
	}
	CU_ASSERT(!c->finite);
	CU_ASSERT(!c->timestamps);
	while (seen < 3 * WRITTEN_FRAMES) {
		int n = c->ops->rx_burst(c, 0, f, ST_CAPTURE_BURST);

		CU_ASSERT(n > 0);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++, seen++) {
			unsigned want = seen % WRITTEN_FRAMES;
			uint32_t len = written_caplen(want);

			written_bytes(want, buf, len);
			CU_ASSERT_EQUAL(f[i].caplen, len);
			if (f[i].caplen == len)
				CU_ASSERT(memcmp(f[i].data, buf, len) == 0);
		}
		c->ops->rx_release(c, 0);
	}
	st_capture_close(c);
out_unlink:
	unlink(path);
}

static void test_infinite_rx_replays_the_file(void)
{
	run_in_child(body_infinite);
}

/* Error paths, each in its own EAL. */
static void expect_open_fails(const char *const *extra, int want_errno,
			      const char *want_in_err)
{
	struct eal_args a;
	char err[512] = "";
	struct st_capture *c;

	eal_args(&a, NULL, extra);
	errno = 0;
	c = st_capture_dpdk_open(a.argc, a.argv, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_EQUAL(errno, want_errno);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want_in_err));
	fprintf(stderr, "  err: %s\n", err);
	st_capture_close(c);
}

static void body_bad_option(void)
{
	static const char *const extra[] = { "--no-such-eal-option", NULL };

	expect_open_fails(extra, EINVAL, "EAL: initialisation failed");
}

static void body_no_ports(void)
{
	expect_open_fails(NULL, ENODEV, "EAL: no ports (did you pass --vdev");
}

static void body_missing_file(void)
{
	static const char *const extra[] = {
		"--vdev", "net_pcap0,rx_pcap=/nonexistent/st-test.pcap", NULL,
	};

	expect_open_fails(extra, ENODEV, "/nonexistent/st-test.pcap");
}

static void body_second_open(void)
{
	static const char *const extra[] = { "--vdev", "net_null0", NULL };
	struct st_capture *c;
	struct eal_args a;
	char err[512];

	eal_args(&a, NULL, extra);
	c = st_capture_dpdk_open(a.argc, a.argv, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(c);
	st_capture_close(c);
	expect_open_fails(extra, EALREADY, "already initialised");
}

/* Two worker cores, one lcore (--lcores=0@0): refused at the open, not
 * when the cores start. */
static void body_too_few_lcores(void)
{
	static const char *const extra[] = { "--vdev", "net_null0", NULL };
	const struct st_dpdk_config cfg = { .workers = 2 };
	struct eal_args a;
	char err[512] = "";

	eal_args(&a, NULL, extra);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_capture_dpdk_open(a.argc, a.argv, &cfg, err,
						sizeof(err)));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "2 worker cores need 2 lcores, "
				      "the EAL arguments give 1"));
	fprintf(stderr, "  err: %s\n", err);
}

static void test_bad_arguments_fail_with_a_message(void)
{
	static const struct st_dpdk_config too_many = {
		.rx_queues_per_port = ST_CAPTURE_QUEUES_MAX + 1,
	};
	struct eal_args a;
	char err[256] = "";

	/* Rejected before the EAL: no child needed. */
	eal_args(&a, NULL, NULL);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_capture_dpdk_open(a.argc, a.argv, &too_many,
						err, sizeof(err)));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "out of range"));

	run_in_child(body_bad_option);
	run_in_child(body_no_ports);
	run_in_child(body_missing_file);
	run_in_child(body_second_open);
	run_in_child(body_too_few_lcores);
}

/*
 * net_null emulates RSS (a 40-byte key it reads back): two queues wanted,
 * two granted, with the symmetric key.  Its frames are 64 zero bytes
 * without timestamps, and it never ends.
 */
static void body_null_rss(void)
{
	static const char *const extra[] = { "--vdev", "net_null0", NULL };
	const struct st_dpdk_config cfg = {
		.rx_queues_per_port = 2,
		.mbufs_per_queue = 512,
	};
	struct st_frame f[ST_CAPTURE_BURST];
	struct st_capture *c;
	struct eal_args a;
	char err[512], *json = NULL;
	size_t json_len = 0;
	FILE *out;
	int n;

	eal_args(&a, NULL, extra);
	c = st_capture_dpdk_open(a.argc, a.argv, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c) {
		fprintf(stderr, "  open: %s\n", err);
		return;
	}
	CU_ASSERT_EQUAL(c->queues, 2);
	CU_ASSERT(c->flow_affinity);
	CU_ASSERT(!c->timestamps);
	CU_ASSERT(!c->finite);
	for (unsigned q = 0; q < 2; q++) {
		n = c->ops->rx_burst(c, q, f, ST_CAPTURE_BURST);
		CU_ASSERT_EQUAL(n, ST_CAPTURE_BURST);
		for (int i = 0; i < n; i++) {
			CU_ASSERT_EQUAL(f[i].caplen, 64);
			CU_ASSERT_EQUAL(f[i].ts_ns, 0);
		}
		c->ops->rx_release(c, q);
	}
	out = open_memstream(&json, &json_len);
	CU_ASSERT_EQUAL(c->ops->stats_json(c, out), 0);
	fclose(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"driver\":\"net_null\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"mode\":\"symmetric_toeplitz\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"rx_queues\":2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"ipackets\":64"));
	fprintf(stderr, "  %s\n", json);
	free(json);
	st_capture_close(c);
}

static void test_null_two_queues_symmetric_rss(void)
{
	run_in_child(body_null_rss);
}

/* net_af_packet on lo has queues but no RSS: one queue, and why. */
static void body_af_packet_fallback(void)
{
	static const char *const extra[] = {
		"--vdev", "net_af_packet0,iface=lo,qpairs=2", NULL,
	};
	const struct st_dpdk_config cfg = {
		.rx_queues_per_port = 2,
		.mbufs_per_queue = 512,
	};
	struct st_capture *c;
	struct eal_args a;
	char err[512], *json = NULL;
	size_t json_len = 0;
	FILE *out;

	eal_args(&a, NULL, extra);
	c = st_capture_dpdk_open(a.argc, a.argv, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c) {
		fprintf(stderr, "  open: %s\n", err);
		return;
	}
	CU_ASSERT_EQUAL(c->queues, 1);
	CU_ASSERT(c->flow_affinity);
	out = open_memstream(&json, &json_len);
	CU_ASSERT_EQUAL(c->ops->stats_json(c, out), 0);
	fclose(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "hashes none of IP/TCP/UDP"));
	free(json);
	st_capture_close(c);
}

static void test_af_packet_falls_back_to_one_queue(void)
{
	run_in_child(body_af_packet_fallback);
}

/* start/join: the main lcore (in join) and a worker lcore each drain a
 * queue; more workers than the 3 lcores are refused. */
struct drained {
	struct st_capture *c;
	long frames[2];
};

static int drain_worker(void *arg, unsigned i)
{
	struct drained *d = arg;

	d->frames[i] = drain(d->c, i, NULL);
	return 0;
}

static void body_start_join(void)
{
	static struct frames want0, want1;
	struct drained d = { .frames = { -2, -2 } };
	const char *paths[2];
	char p0[128];

	temp_path(p0, sizeof(p0), "workers");
	CU_ASSERT_EQUAL(pcap_write(p0, WRITTEN_FRAMES), 0);
	paths[0] = p0;
	paths[1] = st_test_data_path("pcaps/mqtt/mqtt_pub.pcap");
	CU_ASSERT_EQUAL(oracle_load(paths[1], &want1), 0);
	CU_ASSERT_EQUAL(oracle_load(p0, &want0), 0);
	d.c = open_files(paths, 2, NULL, "--lcores=(0-2)@0");
	CU_ASSERT_PTR_NOT_NULL(d.c);
	if (!d.c)
		goto out_unlink;
	CU_ASSERT_EQUAL(d.c->ops->start(d.c, 4, drain_worker, &d), -EINVAL);
	CU_ASSERT_EQUAL(d.c->ops->start(d.c, 2, drain_worker, &d), 0);
	d.c->ops->join(d.c);
	CU_ASSERT_EQUAL(d.frames[0], (long)want0.n);
	CU_ASSERT_EQUAL(d.frames[1], (long)want1.n);
	st_capture_close(d.c);
out_unlink:
	frames_free(&want0);
	frames_free(&want1);
	unlink(p0);
}

static void test_start_join_on_worker_lcores(void)
{
	run_in_child(body_start_join);
}

/*
 * Two processes hold an EAL at the same time (the backend's default
 * --no-shconf with --no-huge): each opens and drains a file, says so, and
 * closes only once the parent has heard from both.
 */
static int opened_fd = -1, go_fd = -1;

static void body_concurrent(void)
{
	static struct frames want;
	const char *paths[1] = {
		st_test_data_path("pcaps/kafka/00-produce-v9.pcap"),
	};
	struct st_capture *c;
	char byte = 0;

	CU_ASSERT_EQUAL(oracle_load(paths[0], &want), 0);
	c = open_files(paths, 1, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (c)
		CU_ASSERT_EQUAL(drain(c, 0, NULL), (long)want.n);
	byte = c ? 'o' : 'x';
	CU_ASSERT_EQUAL(write(opened_fd, &byte, 1), 1);
	CU_ASSERT_EQUAL(read(go_fd, &byte, 1), 1);
	st_capture_close(c);
	frames_free(&want);
}

static void test_two_processes_at_once(void)
{
	int opened[2], go[2];
	pid_t pids[2];
	char byte;

	CU_ASSERT_FATAL(pipe(opened) == 0 && pipe(go) == 0);
	opened_fd = opened[1];
	go_fd = go[0];
	fflush(stdout);
	fflush(stderr);
	for (int k = 0; k < 2; k++) {
		pids[k] = fork();
		CU_ASSERT_FATAL(pids[k] >= 0);
		if (pids[k] == 0)
			child_run(body_concurrent);
	}
	for (int k = 0; k < 2; k++) {
		CU_ASSERT_EQUAL(read(opened[0], &byte, 1), 1);
		CU_ASSERT_EQUAL(byte, 'o');
	}
	CU_ASSERT_EQUAL(write(go[1], "gg", 2), 2);
	for (int k = 0; k < 2; k++) {
		int status = -1;

		CU_ASSERT_EQUAL(waitpid(pids[k], &status, 0), pids[k]);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(opened[0]);
	close(opened[1]);
	close(go[0]);
	close(go[1]);
}

ST_TEST_MAIN("dataplane/capture/dpdk",
	ST_TEST(test_reference_pcaps_match_libpcap),
	ST_TEST(test_written_pcap_known_frames),
	ST_TEST(test_kept_bursts_stay_valid),
	ST_TEST(test_two_vdevs_two_queues),
	ST_TEST(test_empty_file_ends_at_once),
	ST_TEST(test_small_mempool_counts_the_missing),
	ST_TEST(test_multi_segment_frames_are_counted_invalid),
	ST_TEST(test_infinite_rx_replays_the_file),
	ST_TEST(test_bad_arguments_fail_with_a_message),
	ST_TEST(test_null_two_queues_symmetric_rss),
	ST_TEST(test_af_packet_falls_back_to_one_queue),
	ST_TEST(test_start_join_on_worker_lcores),
	ST_TEST(test_two_processes_at_once),
)
