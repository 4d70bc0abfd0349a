/*
 * shadowtap-dp: the data plane.  Opens one capture (DPDK ethdev ports, the
 * native AF_XDP sockets, or libpcap), runs N worker cores over it
 * (dataplane/engine.h), and writes every epoch's merged Shadow Profiles to
 * the shared-memory ring of its instance (shadowtap/ring.h), where
 * shadowtap-cp (or `shadowctl profiles`) reads them.  While it runs, its
 * counters are on the status page (shadowtap/status.h) that `shadowctl
 * status` reads.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/config/classify.h"
#include "control/config/config.h"
#include "dataplane/compiler.h"
#include "dataplane/capture/pcap.h"
#include "dataplane/engine.h"
#include "shadowtap/ring.h"
#include "shadowtap/status.h"
#ifdef ST_HAVE_DPDK
#include "dataplane/capture/dpdk.h"
#endif
#ifdef ST_HAVE_AF_XDP
#include "dataplane/capture/xdp.h"
#endif

#define STATUS_PERIOD_NS 250000000ull

enum input { IN_NONE, IN_PCAP, IN_LIVE, IN_DPDK, IN_AF_XDP };

struct dp {
	struct st_engine *engine;
	struct st_ring *ring;
	struct st_status_writer *status;
	const char *instance;
	void *reserved;
	uint32_t reserved_len;
	_Atomic bool finished;
};

static struct st_engine *volatile running_engine;

static void on_signal(int sig)
{
	(void)sig;
	if (running_engine)
		st_engine_stop(running_engine);
}

/* ---- the engine's output: the ring ------------------------------------- */

static void *ring_reserve(void *ctx, size_t max)
{
	struct dp *d = ctx;

	if (max > UINT32_MAX)
		return NULL;
	d->reserved_len = (uint32_t)max;
	return st_ring_reserve(d->ring, (uint32_t)max);
}

static void ring_commit(void *ctx, size_t used)
{
	struct dp *d = ctx;

	st_ring_commit(d->ring, (uint32_t)used);
}

/* ---- the status page ---------------------------------------------------- */

static void status_publish(struct dp *d)
{
	struct st_ring_stats rs;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	st_ring_stats(d->ring, &rs);
	fprintf(f, "{\"instance\":\"%s\",\"pid\":%d,\"workers\":%u,\"engine\":",
		d->instance, (int)getpid(), st_engine_workers(d->engine));
	st_engine_stats_json(d->engine, f, false);
	fprintf(f, ",\"ring\":{\"committed\":%" PRIu64 ",\"dropped_full\":%" PRIu64
		",\"dropped_oversize\":%" PRIu64 ",\"capacity_bytes\":%" PRIu64
		",\"used_bytes\":%" PRIu64 ",\"generation\":%" PRIu64 "}}",
		rs.committed, rs.dropped_full, rs.dropped_oversize, rs.capacity_bytes,
		rs.used_bytes, rs.generation);
	fclose(f);
	if (len < ST_STATUS_TEXT_MAX)
		st_status_write(d->status, text, len);
	free(text);
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Rewrites the status page and beats the ring's heartbeat until the
 * engine has finished. */
static void *status_main(void *arg)
{
	struct dp *d = arg;
	const struct timespec period = { 0, (long)STATUS_PERIOD_NS };

	while (!atomic_load_explicit(&d->finished, memory_order_acquire)) {
		/* The heartbeat is the producer's: the merger writes the
		 * ring, this thread only stores the time (an atomic word). */
		st_ring_heartbeat(d->ring, monotonic_ns());
		status_publish(d);
		nanosleep(&period, NULL);
	}
	return NULL;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *out)
{
	fputs(
"usage: shadowtap-dp INPUT [OPTIONS] [-- EAL-ARGS]\n"
"\n"
"The shadowtap data plane: decodes the Kafka, MQTT, NATS and JSON-lines traffic\n"
"of one input on N worker cores, keeps per-core sketches per stream, and every\n"
"epoch writes each stream's merged Shadow Profile to the shared-memory ring\n"
"/dev/shm/shadowtap-INSTANCE, read by shadowtap-cp or `shadowctl profiles`.\n"
"\n"
"INPUT, one of:\n"
"  --pcap FILE          a pcap or pcapng capture file, read with libpcap; ends at\n"
"                       the end of the file\n"
"  --pace X             with --pcap: replay at X times the capture's own pace\n"
"                       (1: real time); default: as fast as the cores go\n"
"  --live IFACE         libpcap on a live interface (the fallback when neither\n"
"                       DPDK nor AF_XDP can be used)\n"
#ifdef ST_HAVE_DPDK
"  --dpdk               DPDK ethdev ports named by the EAL arguments after `--`\n"
"                       (a PCI NIC, or --vdev net_pcap0,rx_pcap=FILE, net_af_xdp,\n"
"                       net_af_packet); worker 0 runs on the main lcore, the\n"
"                       others on worker lcores: -l/--lcores must give at least\n"
"                       as many lcores as --workers\n"
#endif
#ifdef ST_HAVE_DPDK
"  --mbufs N            DPDK: mbufs in each queue's pool (default 4096 for a NIC,\n"
"                       512 for a net_pcap file, the file's frames and then some\n"
"                       for infinite_rx, which holds the whole file; with several\n"
"                       workers, 256 more per worker: on one queue each may keep\n"
"                       that many)\n"
#endif
#ifdef ST_HAVE_AF_XDP
"  --af-xdp IFACE       native AF_XDP sockets on IFACE (root); our XDP program\n"
"                       steers only the configured ports' traffic to them\n"
"  --queues N           AF_XDP: receive queues to open (default: --workers)\n"
"  --xdp-ring N         AF_XDP: each queue's rx ring slots and UMEM frames, a\n"
"                       power of two in 32..65536 (default 2048 slots, 4096\n"
"                       frames); small rings drop sooner, and count it\n"
#endif
"\n"
"OPTIONS:\n"
"  --workers N          worker cores, 1..64 (default 1).  With one input queue,\n"
"                       the cores take turns receiving and hand each TCP segment\n"
"                       to its core by a symmetric flow hash, through a table\n"
"                       rebalanced on a live input; a live input's datagrams\n"
"                       stay with the core that received them (a file's go by\n"
"                       the hash too)\n"
"  --dispatch-move-tcp  let that rebalancing move TCP flows too (each move: the\n"
"                       flow counts as new on its new core, a possible gap)\n"
"  --config F           the shadowtap config file (port map, streams, key and\n"
"                       numeric fields, sketch sizes); default: built-in defaults\n"
"  --key PATH           add a JSON-pointer key field to every stream; repeatable\n"
"  --proto PORT=PROTO   map a port to kafka, mqtt, nats or jsonl; repeatable\n"
"  --epoch-ms N         epoch length in ms (default: the config's, 1000)\n"
"  --clock packet|wall  epochs by the frames' own timestamps or by the clock;\n"
"                       default: packet for inputs that carry timestamps (files,\n"
"                       net_pcap), wall otherwise.  Epochs are aligned to\n"
"                       multiples of their length since the Unix epoch\n"
"  --grace-ms N         how long the merger waits for a late core (default 200)\n"
"  --instance NAME      the ring and status page to write (default: default)\n"
"  --ring-mib N         ring capacity in MiB, a power of two >= 4 (default 64);\n"
"                       an existing ring of another size is replaced\n"
"  --stats              at the end, print every counter as one JSON object\n"
"  -h, --help           this help\n"
"\n"
"SIGINT or SIGTERM stops the input; the open epoch is closed and written.\n"
"Exit status: 0; 1 on an input or runtime error; 2 on bad usage.\n", out);
}

static int parse_uint(const char *opt, const char *text, unsigned long long lo,
		      unsigned long long hi, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(text, &end, 10);
	if (errno || *end || end == text || text[0] == '-' || *out < lo || *out > hi) {
		fprintf(stderr, "shadowtap-dp: %s: '%s' is not a number in %llu..%llu\n",
			opt, text, lo, hi);
		return -1;
	}
	return 0;
}

#ifdef ST_HAVE_AF_XDP
/* The config's ports, for the XDP program's steering map: the number, or
 * -E2BIG when there are more than it holds. */
static int xdp_ports(const struct st_config *cfg, struct st_xdp_port *out)
{
	struct st_config_port ports[ST_XDP_PORTS_MAX];
	size_t n = st_config_ports(cfg, ports, ST_XDP_PORTS_MAX);

	if (n > ST_XDP_PORTS_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		out[i].l4_proto = ports[i].transport == ST_CONFIG_TCP ? IPPROTO_TCP
								     : IPPROTO_UDP;
		out[i].port = ports[i].port;
	}
	return (int)n;
}
#endif

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pcap", required_argument, NULL, 'P' },
		{ "live", required_argument, NULL, 'L' },
		{ "dpdk", no_argument, NULL, 'D' },
		{ "af-xdp", required_argument, NULL, 'X' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "xdp-ring", required_argument, NULL, 'R' },
		{ "workers", required_argument, NULL, 'w' },
		{ "dispatch-move-tcp", no_argument, NULL, 'T' },
		{ "config", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "proto", required_argument, NULL, 'p' },
		{ "epoch-ms", required_argument, NULL, 'e' },
		{ "clock", required_argument, NULL, 'C' },
		{ "grace-ms", required_argument, NULL, 'g' },
		{ "instance", required_argument, NULL, 'i' },
		{ "ring-mib", required_argument, NULL, 'r' },
		{ "pace", required_argument, NULL, 'v' },
		{ "stats", no_argument, NULL, 's' },
		{ "mbufs", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum input input = IN_NONE;
	const char *source = NULL, *config_path = NULL, *clock_name = NULL;
	char *keys[64], *protos[256];
	unsigned n_keys = 0, n_protos = 0, queues = 0, xdp_ring = 0;
	unsigned long long workers = 1, epoch_ms = 0, grace_ms = 200, ring_mib = 64, v;
	unsigned long long mbufs = 0;
	double pace = 0;
	bool stats = false, move_tcp = false;
	struct st_engine_config ec;
	struct st_ring_config rc;
	struct st_config *cfg = NULL;
	struct st_capture *cap = NULL;
	struct dp d = { .instance = "default" };
	pthread_t status_thread;
	char err[1024];
	int opt, eal_argc = 0, status = 1, run;
	char **eal_argv = NULL;

	/* Everything after `--` is the EAL's. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			eal_argc = argc - i;
			eal_argv = argv + i;
			argc = i;
			break;
		}
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'P': case 'L': case 'D': case 'X':
			if (input != IN_NONE) {
				fprintf(stderr, "shadowtap-dp: one input only\n");
				return 2;
			}
			input = opt == 'P' ? IN_PCAP : opt == 'L' ? IN_LIVE
			      : opt == 'D' ? IN_DPDK : IN_AF_XDP;
			source = optarg;
			break;
		case 'Q':
			if (parse_uint("--queues", optarg, 1, ST_CAPTURE_QUEUES_MAX, &v))
				return 2;
			queues = (unsigned)v;
			break;
		case 'R':
			if (parse_uint("--xdp-ring", optarg, 32, 65536, &v))
				return 2;
			if (v & (v - 1)) {
				fprintf(stderr, "shadowtap-dp: --xdp-ring: a power of two\n");
				return 2;
			}
			xdp_ring = (unsigned)v;
			break;
		case 'w':
			if (parse_uint("--workers", optarg, 1, ST_ENGINE_WORKERS_MAX, &workers))
				return 2;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'k':
			if (n_keys == ST_ARRAY_SIZE(keys)) {
				fprintf(stderr, "shadowtap-dp: too many --key options\n");
				return 2;
			}
			keys[n_keys++] = optarg;
			break;
		case 'p':
			if (n_protos == ST_ARRAY_SIZE(protos)) {
				fprintf(stderr, "shadowtap-dp: too many --proto options\n");
				return 2;
			}
			protos[n_protos++] = optarg;
			break;
		case 'e':
			if (parse_uint("--epoch-ms", optarg, 1, 3600000, &epoch_ms))
				return 2;
			break;
		case 'C':
			if (strcmp(optarg, "packet") && strcmp(optarg, "wall")) {
				fprintf(stderr, "shadowtap-dp: --clock: 'packet' or 'wall'\n");
				return 2;
			}
			clock_name = optarg;
			break;
		case 'g':
			if (parse_uint("--grace-ms", optarg, 0, 60000, &grace_ms))
				return 2;
			break;
		case 'i':
			d.instance = optarg;
			break;
		case 'v': {
			char *end;

			pace = strtod(optarg, &end);
			if (*end || end == optarg || !(pace > 0) || pace > 1e9) {
				fprintf(stderr, "shadowtap-dp: --pace: '%s' is not a speed > 0\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'r':
			if (parse_uint("--ring-mib", optarg, 4, 4096, &ring_mib))
				return 2;
			if (ring_mib & (ring_mib - 1)) {
				fprintf(stderr, "shadowtap-dp: --ring-mib: a power of two\n");
				return 2;
			}
			break;
		case 'T':
			move_tcp = true;
			break;
		case 's':
			stats = true;
			break;
		case 'm':
			if (parse_uint("--mbufs", optarg, 64, 1u << 20, &mbufs))
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "shadowtap-dp: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (input == IN_NONE) {
		fprintf(stderr, "shadowtap-dp: no input: --pcap FILE, --live IFACE"
#ifdef ST_HAVE_DPDK
			", --dpdk"
#endif
#ifdef ST_HAVE_AF_XDP
			", --af-xdp IFACE"
#endif
			"\n");
		usage(stderr);
		return 2;
	}
	{
		char shm[ST_RING_SHM_NAME_MAX];

		if (st_ring_shm_name(shm, sizeof(shm), d.instance) < 0) {
			fprintf(stderr, "shadowtap-dp: --instance '%s': 1..%u bytes of "
				"A-Z, a-z, 0-9, _ and -\n", d.instance, ST_RING_INSTANCE_MAX);
			return 2;
		}
	}
	if (eal_argc && input != IN_DPDK) {
		fprintf(stderr, "shadowtap-dp: arguments after `--` are for --dpdk only\n");
		return 2;
	}

	/* The config: the port map, the streams, the sketch sizes. */
	st_engine_config_default(&ec);
	{
		const struct st_classify_options co = {
			.config_path = config_path, .keys = keys, .n_keys = n_keys,
			.protos = protos, .n_protos = n_protos, .epoch_ms = epoch_ms,
		};
		int e = st_classify_from_options(&co, &cfg, &ec.worker, err, sizeof(err));

		if (e < 0) {
			fprintf(stderr, "shadowtap-dp: %s\n", err);
			return e == -EINVAL ? 2 : 1;
		}
	}
	ec.workers = (unsigned)workers;
	ec.dispatch_move_tcp = move_tcp;
	ec.grace_ns = grace_ms * 1000000ull;

	/* The input. */
	switch (input) {
	case IN_PCAP:
	case IN_LIVE:
		cap = st_capture_pcap_open(source, input == IN_LIVE, err, sizeof(err));
		if (cap && pace > 0 && st_capture_pcap_pace(cap, pace)) {
			fprintf(stderr, "shadowtap-dp: --pace applies to --pcap files only\n");
			st_capture_close(cap);
			return 2;
		}
		break;
	case IN_DPDK:
#ifdef ST_HAVE_DPDK
	{
		struct st_dpdk_config dc;
		char *args[256];
		int n = 0;

		/* rte_eal_init wants argv[0]: ours, then the EAL's. */
		if (eal_argc > (int)ST_ARRAY_SIZE(args)) {
			fprintf(stderr, "shadowtap-dp: too many EAL arguments\n");
			status = 2;
			goto out_config;
		}
		args[n++] = argv[0];
		for (int i = 1; i < eal_argc; i++)
			args[n++] = eal_argv[i];
		memset(&dc, 0, sizeof(dc));        /* zero: the defaults */
		dc.rx_queues_per_port = (unsigned)workers;
		dc.workers = (unsigned)workers;
		dc.mbufs_per_queue = (unsigned)mbufs;
		cap = st_capture_dpdk_open(n, args, &dc, err, sizeof(err));
		break;
	}
#else
		(void)mbufs;
		snprintf(err, sizeof(err), "built without DPDK");
		break;
#endif
	case IN_AF_XDP:
#ifdef ST_HAVE_AF_XDP
	{
		static struct st_xdp_port xports[ST_XDP_PORTS_MAX];
		int n = xdp_ports(cfg, xports);
		struct st_xdp_config xc = {
			.ifname = source,
			.queues = queues ? queues : (unsigned)workers,
			.ports = xports,
			.n_ports = n > 0 ? (unsigned)n : 0,
			.rx_ring_size = xdp_ring,       /* 0: the defaults */
			.fill_ring_size = xdp_ring,
			.frame_count = xdp_ring,
			.busy_poll = true,
			.err = err,
			.err_size = sizeof(err),
		};

		if (n < 0) {
			fprintf(stderr, "shadowtap-dp: too many configured ports for the "
				"XDP steering map (%u)\n", ST_XDP_PORTS_MAX);
			goto out_config;
		}
		err[0] = '\0';
		cap = st_capture_xdp_open(&xc);
		if (!cap && !err[0])
			snprintf(err, sizeof(err), "%s", strerror(errno));
		break;
	}
#else
		(void)queues;
		(void)xdp_ring;
		snprintf(err, sizeof(err), "built without AF_XDP");
		break;
#endif
	case IN_NONE:
		break;
	}
	if (!cap) {
		/* libpcap's messages name the file already */
		bool named = source && strstr(err, source);

		fprintf(stderr, "shadowtap-dp: %s%s%s\n", source && !named ? source : "",
			source && !named ? ": " : "", err);
		goto out_config;
	}
	if (clock_name)
		ec.clock = strcmp(clock_name, "wall") ? ST_ENGINE_CLOCK_PACKET
						       : ST_ENGINE_CLOCK_WALL;
	else
		ec.clock = cap->timestamps ? ST_ENGINE_CLOCK_PACKET : ST_ENGINE_CLOCK_WALL;

	/* The output: the ring, and the status page. */
	st_ring_config_default(&rc);
	rc.capacity_bytes = ring_mib << 20;
	if (rc.max_record_bytes < ST_PROFILE_MAX_BYTES)
		rc.max_record_bytes = ST_PROFILE_MAX_BYTES;
	d.ring = st_ring_producer_open(d.instance, &rc);
	if (!d.ring) {
		fprintf(stderr, "shadowtap-dp: ring '%s': %s\n", d.instance, strerror(errno));
		goto out_capture;
	}
	d.status = st_status_writer_open(d.instance);
	if (!d.status) {
		fprintf(stderr, "shadowtap-dp: status page '%s': %s\n", d.instance,
			strerror(errno));
		goto out_ring;
	}
	ec.output = (struct st_engine_output){
		.reserve = ring_reserve, .commit = ring_commit, .ctx = &d,
	};
	d.engine = st_engine_create(&ec, cap, err, sizeof(err));
	if (!d.engine) {
		fprintf(stderr, "shadowtap-dp: %s\n", err);
		status = errno == EINVAL ? 2 : 1;
		goto out_status;
	}

	running_engine = d.engine;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (pthread_create(&status_thread, NULL, status_main, &d) != 0) {
		fprintf(stderr, "shadowtap-dp: status thread: %s\n", strerror(errno));
		goto out_engine;
	}
	run = st_engine_run(d.engine, err, sizeof(err));
	atomic_store_explicit(&d.finished, true, memory_order_release);
	pthread_join(status_thread, NULL);
	status_publish(&d);
	st_ring_heartbeat(d.ring, monotonic_ns());
	if (run < 0)
		fprintf(stderr, "shadowtap-dp: %s\n", err);
	if (stats) {
		st_engine_stats_json(d.engine, stdout, true);
		fputc('\n', stdout);
	}
	status = run < 0 ? 1 : 0;
	running_engine = NULL;
out_engine:
	st_engine_destroy(d.engine);
out_status:
	st_status_writer_close(d.status);
out_ring:
	st_ring_close(d.ring);
out_capture:
	st_capture_close(cap);
out_config:
	st_config_destroy(cfg);
	return status;
}
