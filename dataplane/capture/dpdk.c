/*
 * DPDK ethdev capture backend (dpdk.h): the EAL, one mbuf pool per rx
 * queue, and the poll loop's rx_burst/rx_release over rte_eth_rx_burst().
 *
 * Symmetric RSS.  With several rx queues a port hashes IP/TCP/UDP with the
 * Toeplitz function under a key made of the 16-bit pattern 0x6d5a repeated:
 * Woo and Park, "Scalable TCP Session Monitoring with Symmetric Receive-side
 * Scaling" (KAIST technical report, 2012), show that such a key gives the
 * same hash when source and destination (addresses, and ports) are swapped,
 * so both directions of a flow land on one queue.  A PMD that refuses the
 * configuration, or reads back another key, leaves the port with one queue.
 *
 * Timestamps.  net_pcap (DPDK 22.11) does not offer RTE_ETH_RX_OFFLOAD_
 * TIMESTAMP, but stamps every frame it reads through the Rx timestamp
 * dynamic field: microseconds since the Unix epoch, from the pcap header
 * (files are opened at microsecond precision, so a nanosecond file loses
 * its last three digits); with infinite_rx it replays copies that carry
 * no timestamp.  Other PMDs: when they offer the offload it is
 * enabled, and their raw device clock is mapped to Unix time by a linear
 * fit taken at open (rte_eth_read_clock() against CLOCK_REALTIME, 50 ms
 * apart); without a readable clock a port has no timestamps.
 *
 * End of a file.  net_pcap with rx_pcap= (no infinite_rx) returns 0 frames
 * forever at the end of its files.  Reading its 22.11 source
 * (drivers/net/pcap/rte_eth_pcap.c, eth_pcap_rx): it takes a frame from
 * the file first and then allocates an mbuf; when the pool is empty the
 * frame is dropped and counted in rx_nombuf, when a chained segment cannot
 * be had it is dropped and counted in ierrors (which also counts read
 * errors).  So the frames of the port's files (counted here with libpcap,
 * which the PMD uses too) are all consumed exactly when the mbufs the PMD
 * returned + rx_nombuf + ierrors reach their count; a queue returns
 * ST_CAPTURE_END from then on.  The sum is per port (the PMD's counters are
 * per port): a port with several rx_pcap files ends when all are read.
 * One limit: the PMD also counts a read error (a truncated last record) in
 * ierrors on every poll after it, so on a port with several files, one
 * truncated file can end the port before the others are read; with one
 * file per port the count is exact.
 *
 * Pools.  net_pcap holds no mbufs between bursts (it copies each frame from
 * the file into a fresh one), so its default pool is small; with
 * infinite_rx it keeps the whole file in mbufs, so the default pool holds
 * the file's frames plus what is in flight.  With several workers on one
 * queue, each may keep up to ST_CAPTURE_KEEP_MAX mbufs out of its pool
 * (rx_keep: the engine works on its own share in place), which every
 * default pool adds.
 *
 * Multi-segment mbufs are not handed out: each is freed and counted as
 * ST_CAPTURE_DROP_INVALID of its queue.  For net_pcap files the pool's data
 * room is sized to the largest frame of the files (up to 65535 bytes less
 * the headroom), so only larger frames can hit this.
 *
 * Port counters (imissed, rx_nombuf, ierrors) exist per port only; they are
 * reported as the drops of the port's queue 0.
 */
#define ALLOW_EXPERIMENTAL_API 1 /* rte_eth_read_clock() */

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>
#include <rte_common.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "dataplane/capture/dpdk.h"
#include "dataplane/compiler.h"

#define PCAP_FILES_MAX 16           /* RTE_PMD_PCAP_MAX_QUEUES in 22.11 */
#define RSS_KEY_BYTES_DEFAULT 40
#define RSS_KEY_BYTES_MAX 64
#define RSS_HF_WANTED (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP)
#define DATA_ROOM_NIC_BYTES RTE_MBUF_DEFAULT_DATAROOM
#define DATA_ROOM_MAX_BYTES (UINT16_MAX - RTE_PKTMBUF_HEADROOM)
#define PCAP_LIVE_SNAPLEN_BYTES RTE_ETHER_MAX_JUMBO_FRAME_LEN
#define CLOCK_FIT_NS 50000000L
#define NOTE_BYTES 192
#define WHAT_BYTES 512               /* one error message before the EAL's */

enum ts_source {
	TS_NONE,
	TS_PCAP_US,     /* net_pcap: us since the Unix epoch */
	TS_DEVICE,      /* offload: device ticks, mapped by a linear fit */
};

struct pcap_file {
	char *path;
	uint64_t frames;
};

struct dpdk_port {
	uint16_t port_id;
	char name[RTE_ETH_NAME_MAX_LEN];
	char driver[64];
	unsigned rx_queues;
	unsigned tx_queues;
	unsigned first_queue;           /* capture queue of its rx queue 0 */
	bool symmetric;                 /* one queue, or symmetric RSS kept */
	const char *rss_mode;           /* "none", "symmetric_toeplitz" */
	char rss_note[NOTE_BYTES];
	enum ts_source ts_source;
	double ns_per_tick;             /* TS_DEVICE */
	uint64_t base_tick, base_ns;
	int promiscuous;                /* 1, or -errno of the enable */
	uint16_t data_room_bytes;
	int linktype;
	bool finite;                    /* net_pcap rx_pcap, no infinite_rx */
	unsigned n_files;               /* rx_pcap files; the first rx_queues
					 * are read */
	struct pcap_file files[PCAP_FILES_MAX];
	uint64_t file_frames;           /* of the files that are read */
	bool started;
	struct rte_mempool *pools[ST_CAPTURE_QUEUES_MAX];
};

struct dpdk_queue {
	uint16_t port_id;
	uint16_t queue_id;
	uint16_t burst;
	uint16_t held;                  /* mbufs of the last burst */
	bool held_plain;                /* ... each direct, from `pool`, its
					 * one reference ours: back to the
					 * pool as they are */
	struct rte_mempool *pool;       /* the queue's pool */
	enum ts_source ts_source;
	int ts_offset;
	uint64_t ts_flag;
	bool ended;
	struct dpdk_port *port;
	/* Written by the polling thread only, read by any (relaxed). */
	_Atomic uint64_t frames;
	_Atomic uint64_t bytes;
	_Atomic uint64_t invalid;       /* multi-segment mbufs skipped */
	_Atomic uint64_t pmd_frames;    /* mbufs the PMD returned */
	struct rte_mbuf *mbufs[ST_DPDK_BURST_MAX];
} ST_CACHE_ALIGNED;

struct dpdk_config_n {                  /* the config, defaults filled in */
	unsigned want, mbufs, cache, rx_desc, burst, data_room;
	unsigned kept;                  /* mbufs the workers may keep out of
					 * one queue's pool (rx_keep) */
	bool promiscuous;
};

struct launch {
	int (*fn)(void *arg, unsigned i);
	void *arg;
	unsigned i;
};

struct dpdk_capture {
	struct st_capture cap;
	struct dpdk_queue queues[ST_CAPTURE_QUEUES_MAX];
	struct dpdk_port ports[ST_DPDK_PORTS_MAX];
	unsigned n_ports;
	struct launch launches[RTE_MAX_LCORE];
	bool main_pending;             /* launches[0] runs in join() */
};

/*
 * The EAL log goes through this stream: it passes every line on to stderr
 * and, while a capture is being opened, keeps the first error-level line,
 * which names the cause better than rte_errno does.
 */
static struct {
	FILE *stream;
	bool recording;
	char first_error[256];
} eal_log;

static bool eal_used;               /* rte_eal_init() runs once a process */

static ssize_t eal_log_write(void *cookie, const char *buf, size_t size)
{
	size_t n;

	(void)cookie;
	if (eal_log.recording && !eal_log.first_error[0] &&
	    rte_log_cur_msg_loglevel() <= (int)RTE_LOG_ERR) {
		n = ST_MIN(size, sizeof(eal_log.first_error) - 1);
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
			n--;
		memcpy(eal_log.first_error, buf, n);
		eal_log.first_error[n] = '\0';
	}
	return (ssize_t)fwrite(buf, 1, size, stderr);
}

static int eal_log_open(void)
{
	static const cookie_io_functions_t io = { .write = eal_log_write };

	eal_log.stream = fopencookie(NULL, "w", io);
	if (!eal_log.stream)
		return -errno;
	setvbuf(eal_log.stream, NULL, _IONBF, 0);
	eal_log.first_error[0] = '\0';
	eal_log.recording = true;
	return rte_openlog_stream(eal_log.stream);
}

static void eal_log_close(void)
{
	rte_openlog_stream(NULL);
	if (eal_log.stream)
		fclose(eal_log.stream);
	eal_log.stream = NULL;
	eal_log.recording = false;
}

/* "<what>[: <first EAL error>]" into err. */
static void set_err(char *err, size_t errlen, const char *what)
{
	if (!err || !errlen)
		return;
	if (eal_log.first_error[0])
		snprintf(err, errlen, "%s: %s", what, eal_log.first_error);
	else
		snprintf(err, errlen, "%s", what);
}

static bool arg_given(int argc, char **argv, const char *name)
{
	size_t len = strlen(name);

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strncmp(argv[i], name, len) == 0 &&
		    (argv[i][len] == '\0' || argv[i][len] == '='))
			return true;
	return false;
}

/*
 * argv plus the defaults dpdk.h lists, in a new array (rte_eal_init()
 * reorders the one it gets).  NULL on ENOMEM.
 */
static char **eal_args_build(int argc, char **argv, int *out_argc)
{
	char **out = calloc((size_t)argc + 4, sizeof(*out));
	int n = 0;

	if (!out)
		return NULL;
	out[n++] = argv[0];
	if (!arg_given(argc, argv, "--log-level"))
		out[n++] = (char *)"--log-level=warning";
	if (!arg_given(argc, argv, "--in-memory") &&
	    !arg_given(argc, argv, "--no-shconf") &&
	    !arg_given(argc, argv, "--file-prefix") &&
	    !arg_given(argc, argv, "--proc-type"))
		out[n++] = arg_given(argc, argv, "--no-huge") ?
			(char *)"--no-shconf" : (char *)"--in-memory";
	for (int i = 1; i < argc; i++)
		out[n++] = argv[i];
	*out_argc = n;
	return out;
}

static int eal_start(int argc, char **argv, char *err, size_t errlen)
{
	char what[WHAT_BYTES];
	char **args;
	int n, rc;

	if (argc < 1 || !argv || !argv[0]) {
		set_err(err, errlen, "EAL: eal_argv[0] must be the program name");
		return -EINVAL;
	}
	if (eal_used) {
		set_err(err, errlen, "EAL: already initialised in this process "
			"(DPDK allows one EAL, and one DPDK capture, per process)");
		return -EALREADY;
	}
	args = eal_args_build(argc, argv, &n);
	if (!args) {
		set_err(err, errlen, "EAL: out of memory");
		return -ENOMEM;
	}
	rc = eal_log_open();
	if (rc < 0) {
		free(args);
		set_err(err, errlen, "EAL: cannot open the log stream");
		return rc;
	}
	eal_used = true;
	rc = rte_eal_init(n, args);
	free(args);
	if (rc < 0) {
		rc = rte_errno ? -rte_errno : -EINVAL;
		snprintf(what, sizeof(what), "EAL: initialisation failed (%s)",
			 rte_strerror(-rc));
		set_err(err, errlen, what);
		eal_log_close();
		return rc;
	}
	return 0;
}

/* ---- net_pcap files ------------------------------------------------- */

static int count_file(struct dpdk_port *p, struct pcap_file *f,
		      char *err, size_t errlen)
{
	char pcap_err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *hdr;
	const u_char *data;
	pcap_t *pc;
	int linktype;

	pc = pcap_open_offline(f->path, pcap_err);
	if (!pc) {
		snprintf(err, errlen, "port %u (%s): cannot read %s: %s",
			 p->port_id, p->name, f->path, pcap_err);
		return -EIO;
	}
	linktype = pcap_datalink(pc);
	while (pcap_next_ex(pc, &hdr, &data) == 1) {
		f->frames++;
		if (hdr->caplen > p->data_room_bytes)
			p->data_room_bytes = (uint16_t)ST_MIN(hdr->caplen,
						DATA_ROOM_MAX_BYTES);
	}
	pcap_close(pc);
	if (p->linktype >= 0 && p->linktype != linktype) {
		snprintf(err, errlen, "port %u (%s): %s has link type %d, "
			 "another input %d", p->port_id, p->name, f->path,
			 linktype, p->linktype);
		return -EINVAL;
	}
	p->linktype = linktype;
	return 0;
}

static int add_file(const char *key, const char *value, void *opaque)
{
	struct dpdk_port *p = opaque;

	(void)key;
	if (p->n_files == PCAP_FILES_MAX)
		return -1;
	p->files[p->n_files].path = strdup(value);
	if (!p->files[p->n_files].path)
		return -1;
	p->n_files++;
	return 0;
}

/*
 * A net_pcap port: its rx_pcap files (in queue order, as the PMD opens
 * them) with their frame counts, whether it is finite, the data room its
 * frames need.  0 or -errno with err set.
 */
static int pcap_port_inspect(struct dpdk_port *p, const struct rte_device *dev,
			     char *err, size_t errlen)
{
	const struct rte_devargs *da = rte_dev_devargs(dev);
	struct rte_kvargs *kv;
	const char *infinite;
	int rc = 0;

	p->data_room_bytes = PCAP_LIVE_SNAPLEN_BYTES;
	if (!da || !da->args)
		return 0;
	kv = rte_kvargs_parse(da->args, NULL);
	if (!kv) {
		snprintf(err, errlen, "port %u (%s): cannot parse devargs '%s'",
			 p->port_id, p->name, da->args);
		return -EINVAL;
	}
	if (rte_kvargs_count(kv, "rx_pcap") == 0)
		goto out_free_kv;
	if (rte_kvargs_process(kv, "rx_pcap", add_file, p) < 0) {
		snprintf(err, errlen, "port %u (%s): too many rx_pcap files",
			 p->port_id, p->name);
		rc = -EINVAL;
		goto out_free_kv;
	}
	infinite = rte_kvargs_get(kv, "infinite_rx");
	p->finite = !(rte_kvargs_count(kv, "infinite_rx") == 1 && infinite &&
		      atoi(infinite) > 0);
	p->data_room_bytes = DATA_ROOM_NIC_BYTES;
	p->linktype = -1;
	for (unsigned i = 0; i < p->n_files && rc == 0; i++)
		rc = count_file(p, &p->files[i], err, errlen);
out_free_kv:
	rte_kvargs_free(kv);
	return rc;
}

/* ---- port setup ----------------------------------------------------- */

static void symmetric_key(uint8_t *key, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		key[i] = (i & 1) ? 0x5a : 0x6d;
}

/* true when the device reads back our key (or cannot read keys at all). */
static bool rss_key_kept(struct dpdk_port *p, const uint8_t *key,
			 unsigned key_len)
{
	uint8_t got[RSS_KEY_BYTES_MAX];
	struct rte_eth_rss_conf conf = {
		.rss_key = got,
		.rss_key_len = sizeof(got),
	};
	int rc = rte_eth_dev_rss_hash_conf_get(p->port_id, &conf);

	if (rc == -ENOTSUP) {
		snprintf(p->rss_note, sizeof(p->rss_note), "key accepted by "
			 "configure; the PMD cannot read it back");
		return true;
	}
	if (rc == 0 && conf.rss_key_len >= key_len &&
	    memcmp(got, key, key_len) == 0) {
		snprintf(p->rss_note, sizeof(p->rss_note), "key read back "
			 "equal, hash functions %#" PRIx64, conf.rss_hf);
		return true;
	}
	return false;
}

/*
 * rte_eth_dev_configure() with `rxq` queues (RSS when rxq > 1) and no tx
 * queue, or one when the PMD wants one.  0 or the PMD's -errno.
 */
static int port_configure_with(struct dpdk_port *p,
			       const struct rte_eth_dev_info *info,
			       unsigned rxq, uint64_t offloads)
{
	uint8_t key[RSS_KEY_BYTES_MAX];
	unsigned key_len = info->hash_key_size ? info->hash_key_size :
		RSS_KEY_BYTES_DEFAULT;
	struct rte_eth_conf conf;
	int rc = -EINVAL;

	if (key_len > sizeof(key))
		return -ENOTSUP;
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.offloads = offloads;
	if (rxq > 1 && !p->n_files) {
		symmetric_key(key, key_len);
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)key_len;
		conf.rx_adv_conf.rss_conf.rss_hf =
			RSS_HF_WANTED & info->flow_type_rss_offloads;
	}
	for (unsigned txq = 0; txq <= 1 && rc != 0; txq++) {
		rc = rte_eth_dev_configure(p->port_id, (uint16_t)rxq,
					   (uint16_t)txq, &conf);
		if (rc == 0)
			p->tx_queues = txq;
	}
	if (rc != 0 || rxq == 1 || p->n_files || rss_key_kept(p, key, key_len))
		return rc;
	/* Some PMDs (net_null) ignore the key at configure: set it again. */
	if (rte_eth_dev_rss_hash_update(p->port_id,
					&conf.rx_adv_conf.rss_conf) == 0 &&
	    rss_key_kept(p, key, key_len))
		return 0;
	return -EPROTO;
}

static int port_configure(struct dpdk_port *p,
			  const struct rte_eth_dev_info *info, unsigned want,
			  uint64_t offloads, char *err, size_t errlen)
{
	uint64_t hf = RSS_HF_WANTED & info->flow_type_rss_offloads;
	int rc;

	p->rss_mode = "none";
	p->symmetric = true;
	if (p->n_files) {
		/* Each rx_pcap file is its own queue, read to its end. */
		p->rx_queues = p->n_files;
		p->symmetric = p->n_files == 1;
		snprintf(p->rss_note, sizeof(p->rss_note), p->symmetric ?
			 "one file, one queue" : "one queue per rx_pcap file: "
			 "a flow may appear in several");
		rc = port_configure_with(p, info, p->rx_queues, offloads);
		goto out_check;
	}
	p->rx_queues = ST_MIN(want, info->max_rx_queues);
	if (p->rx_queues > 1 && hf == 0) {
		snprintf(p->rss_note, sizeof(p->rss_note), "one queue: the "
			 "device hashes none of IP/TCP/UDP (rss offloads %#"
			 PRIx64 ")", info->flow_type_rss_offloads);
		p->rx_queues = 1;
	}
	if (p->rx_queues > 1) {
		rc = port_configure_with(p, info, p->rx_queues, offloads);
		if (rc == 0) {
			p->rss_mode = "symmetric_toeplitz";
			return 0;
		}
		snprintf(p->rss_note, sizeof(p->rss_note), "one queue: the PMD "
			 "%s symmetric RSS over %u queues (%s)",
			 rc == -EPROTO ? "kept its own key instead of" :
			 "refused", p->rx_queues, rte_strerror(-rc));
		p->rx_queues = 1;
	} else if (!p->rss_note[0]) {
		snprintf(p->rss_note, sizeof(p->rss_note), "one queue wanted "
			 "or offered");
	}
	rc = port_configure_with(p, info, 1, offloads);
out_check:
	if (rc < 0) {
		char what[WHAT_BYTES];

		snprintf(what, sizeof(what), "port %u (%s, %s): the PMD failed "
			 "to configure %u rx queues (%s)", p->port_id, p->name,
			 p->driver, p->rx_queues, rte_strerror(-rc));
		set_err(err, errlen, what);
	}
	return rc;
}

/* Maps the device clock to Unix time (see the file head). */
static void port_clock_fit(struct dpdk_port *p)
{
	struct timespec t0, t1, pause = { 0, CLOCK_FIT_NS };
	uint64_t c0, c1;

	if (rte_eth_read_clock(p->port_id, &c0) != 0)
		goto out_none;
	clock_gettime(CLOCK_REALTIME, &t0);
	nanosleep(&pause, NULL);
	if (rte_eth_read_clock(p->port_id, &c1) != 0 || c1 <= c0)
		goto out_none;
	clock_gettime(CLOCK_REALTIME, &t1);
	p->ns_per_tick = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
			  (double)(t1.tv_nsec - t0.tv_nsec)) / (double)(c1 - c0);
	p->base_tick = c1;
	p->base_ns = (uint64_t)t1.tv_sec * 1000000000u + (uint64_t)t1.tv_nsec;
	return;
out_none:
	p->ts_source = TS_NONE;
}

/* Mbufs per queue when the config does not say (see the file head). */
static unsigned pool_default(const struct dpdk_port *p,
			     const struct dpdk_config_n *cfg)
{
	uint64_t most = 0;

	if (!p->n_files)
		return ST_DPDK_MBUFS_PER_QUEUE + cfg->kept;
	if (p->finite)
		return ST_DPDK_PCAP_MBUFS_PER_QUEUE + cfg->kept;
	for (unsigned i = 0; i < p->n_files; i++)
		most = ST_MAX(most, p->files[i].frames);
	return (unsigned)ST_MIN(most + 2 * cfg->burst + 2 * cfg->cache + cfg->kept,
				(uint64_t)UINT32_MAX / 2);
}

static int port_queues_setup(struct dpdk_port *p,
			     const struct dpdk_config_n *cfg,
			     char *err, size_t errlen)
{
	int socket = rte_eth_dev_socket_id(p->port_id);
	unsigned mbufs = cfg->mbufs ? cfg->mbufs : pool_default(p, cfg);
	uint16_t nb_rx = (uint16_t)ST_MIN(cfg->rx_desc, ST_MAX(mbufs / 2, 1u));
	uint16_t nb_tx = 512;
	unsigned cache = ST_MIN(cfg->cache, RTE_MEMPOOL_CACHE_MAX_SIZE);
	char name[RTE_MEMPOOL_NAMESIZE];
	int rc;

	if (socket < 0)
		socket = (int)rte_socket_id();
	if (cache > mbufs * 2 / 3)      /* what rte_mempool_create() accepts */
		cache = mbufs * 2 / 3;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rx, &nb_tx);
	if (rc < 0)
		goto out_err;
	for (unsigned q = 0; q < p->rx_queues; q++) {
		snprintf(name, sizeof(name), "st_rx_%u_%u", p->port_id, q);
		p->pools[q] = rte_pktmbuf_pool_create(name, mbufs, cache,
				0, (uint16_t)(p->data_room_bytes +
					      RTE_PKTMBUF_HEADROOM), socket);
		if (!p->pools[q]) {
			char what[WHAT_BYTES];

			snprintf(what, sizeof(what), "port %u (%s): no memory "
				 "for %u mbufs of %u bytes (%s)", p->port_id,
				 p->name, mbufs, p->data_room_bytes,
				 rte_strerror(rte_errno));
			set_err(err, errlen, what);
			return -ENOMEM;
		}
		rc = rte_eth_rx_queue_setup(p->port_id, (uint16_t)q, nb_rx,
					    (unsigned)socket, NULL, p->pools[q]);
		if (rc < 0)
			goto out_err;
	}
	if (p->tx_queues) {
		rc = rte_eth_tx_queue_setup(p->port_id, 0, nb_tx,
					    (unsigned)socket, NULL);
		if (rc < 0)
			goto out_err;
	}
	return 0;
out_err:
	{
		char what[WHAT_BYTES];

		snprintf(what, sizeof(what), "port %u (%s, %s): queue setup "
			 "failed (%s)", p->port_id, p->name, p->driver,
			 rte_strerror(-rc));
		set_err(err, errlen, what);
	}
	return rc;
}

static int port_open(struct dpdk_port *p, const struct dpdk_config_n *cfg,
		     char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	uint64_t offloads = 0;
	int rc;

	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc < 0) {
		snprintf(err, errlen, "port %u: no device info (%s)",
			 p->port_id, rte_strerror(-rc));
		return rc;
	}
	rte_eth_dev_get_name_by_port(p->port_id, p->name);
	snprintf(p->driver, sizeof(p->driver), "%s",
		 info.driver_name ? info.driver_name : "?");
	p->linktype = 1; /* DLT_EN10MB */
	p->data_room_bytes = DATA_ROOM_NIC_BYTES;
	if (strcmp(p->driver, "net_pcap") == 0) {
		rc = pcap_port_inspect(p, info.device, err, errlen);
		if (rc < 0)
			return rc;
		/* infinite_rx replays copies without the timestamp field */
		p->ts_source = p->n_files && !p->finite ? TS_NONE : TS_PCAP_US;
	} else if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) {
		offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
		p->ts_source = TS_DEVICE;
	}
	if (cfg->data_room)
		p->data_room_bytes = (uint16_t)cfg->data_room;
	if (info.max_rx_queues == 0) {
		snprintf(err, errlen, "port %u (%s, %s): the device has no rx "
			 "queue", p->port_id, p->name, p->driver);
		return -EINVAL;
	}
	rc = port_configure(p, &info, cfg->want, offloads, err, errlen);
	if (rc < 0)
		return rc;
	rc = port_queues_setup(p, cfg, err, errlen);
	if (rc < 0)
		return rc;
	rc = rte_eth_dev_start(p->port_id);
	if (rc < 0) {
		char what[WHAT_BYTES];

		snprintf(what, sizeof(what), "port %u (%s, %s): start failed "
			 "(%s)", p->port_id, p->name, p->driver,
			 rte_strerror(-rc));
		set_err(err, errlen, what);
		return rc;
	}
	p->started = true;
	p->promiscuous = cfg->promiscuous ?
		rte_eth_promiscuous_enable(p->port_id) : 0;
	if (p->promiscuous == 0 && cfg->promiscuous)
		p->promiscuous = 1;
	if (p->ts_source == TS_DEVICE)
		port_clock_fit(p);
	return 0;
}

/* ---- the capture interface ------------------------------------------ */

/* A finite port is at its end once every frame of its files is accounted
 * for (see the file head). */
static bool port_at_end(struct dpdk_capture *dc, const struct dpdk_port *p)
{
	struct rte_eth_stats st;
	uint64_t consumed = 0;

	if (!p->finite || rte_eth_stats_get(p->port_id, &st) != 0)
		return false;
	for (unsigned q = 0; q < p->rx_queues; q++)
		consumed += atomic_load_explicit(
			&dc->queues[p->first_queue + q].pmd_frames,
			memory_order_relaxed);
	return consumed + st.rx_nombuf + st.ierrors >= p->file_frames;
}

static inline uint64_t frame_ts_ns(const struct dpdk_queue *q,
				   const struct rte_mbuf *m)
{
	uint64_t t;

	if (!(m->ol_flags & q->ts_flag))
		return 0;
	t = *RTE_MBUF_DYNFIELD(m, q->ts_offset, const rte_mbuf_timestamp_t *);
	if (q->ts_source == TS_PCAP_US)
		return t * 1000u;
	return q->port->base_ns + (uint64_t)((double)(int64_t)(t -
		q->port->base_tick) * q->port->ns_per_tick);
}

static inline void prefetch_data(struct rte_mbuf *m)
{
	rte_prefetch0(rte_pktmbuf_mtod(m, const void *));
}

static int dpdk_rx_burst(struct st_capture *c, unsigned qi, struct st_frame *f,
			 unsigned max)
{
	struct dpdk_capture *dc = c->impl;
	struct dpdk_queue *q = &dc->queues[qi];
	uint64_t bytes = 0;
	uint16_t n, out = 0;
	bool plain = true;

	if (unlikely(q->ended))
		return ST_CAPTURE_END;
	n = rte_eth_rx_burst(q->port_id, q->queue_id, q->mbufs,
			     (uint16_t)ST_MIN(max, q->burst));
	if (n == 0) {
		if (q->port->finite && port_at_end(dc, q->port)) {
			q->ended = true;
			return ST_CAPTURE_END;
		}
		return 0;
	}
	for (uint16_t i = 0; i < n && i < 3; i++)
		prefetch_data(q->mbufs[i]);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = q->mbufs[i];

		if (i + 3 < n)
			prefetch_data(q->mbufs[i + 3]);
		if (unlikely(m->nb_segs != 1)) {
			rte_pktmbuf_free(m);
			atomic_store_explicit(&q->invalid, q->invalid + 1,
					      memory_order_relaxed);
			continue;
		}
		plain &= RTE_MBUF_DIRECT(m) && m->pool == q->pool &&
			 rte_mbuf_refcnt_read(m) == 1;
		q->mbufs[out] = m;
		f[out].data = rte_pktmbuf_mtod(m, const uint8_t *);
		f[out].caplen = m->data_len;
		f[out].wire_len = m->pkt_len;
		f[out].ts_ns = frame_ts_ns(q, m);
		bytes += m->data_len;
		out++;
	}
	q->held = out;
	q->held_plain = plain;
	atomic_store_explicit(&q->pmd_frames, q->pmd_frames + n,
			      memory_order_relaxed);
	atomic_store_explicit(&q->frames, q->frames + out,
			      memory_order_relaxed);
	atomic_store_explicit(&q->bytes, q->bytes + bytes,
			      memory_order_relaxed);
	return out;
}

_Static_assert(ST_CAPTURE_KEEP_MAX <= ST_DPDK_MEMPOOL_CACHE,
	       "what a core keeps fits in its pool cache");

/* The burst's mbufs leave the queue as they are; kept_free() gives them
 * back as rx_release() would have (the pool's cache is the freeing
 * lcore's).  The engine asks at most ST_CAPTURE_BURST frames a burst. */
static unsigned dpdk_rx_keep(struct st_capture *c, unsigned qi, void **objs, bool *plain)
{
	struct dpdk_capture *dc = c->impl;
	struct dpdk_queue *q = &dc->queues[qi];
	unsigned n = q->held;

	memcpy(objs, q->mbufs, n * sizeof(q->mbufs[0]));
	*plain = q->held_plain;
	q->held = 0;
	return n;
}

/* A received mbuf of one segment whose header says direct, ours alone
 * and from the queue's pool (plain) is in the state the pool keeps (one
 * segment: no next), so a burst of them goes back to the pool at once,
 * without rte_pktmbuf_free_bulk()'s look at each mbuf: the receiving
 * core's own cost, which the other cores wait on when they share a
 * queue. */
static void mbufs_free(struct dpdk_queue *q, void **objs, unsigned n, bool plain)
{
	if (likely(plain))
		rte_mempool_put_bulk(q->pool, objs, n);
	else
		rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
}

static void dpdk_kept_free(struct st_capture *c, unsigned qi, void **objs, unsigned n,
			   bool plain)
{
	struct dpdk_capture *dc = c->impl;

	mbufs_free(&dc->queues[qi], objs, n, plain);
}

static void dpdk_rx_release(struct st_capture *c, unsigned qi)
{
	struct dpdk_capture *dc = c->impl;
	struct dpdk_queue *q = &dc->queues[qi];

	mbufs_free(q, (void **)q->mbufs, q->held, q->held_plain);
	q->held = 0;
}

static int dpdk_queue_stats(struct st_capture *c, unsigned qi,
			    struct st_capture_queue_stats *s)
{
	struct dpdk_capture *dc = c->impl;
	struct dpdk_queue *q;
	struct rte_eth_stats st;
	int rc;

	if (qi >= c->queues)
		return -EINVAL;
	q = &dc->queues[qi];
	memset(s, 0, sizeof(*s));
	s->frames = atomic_load_explicit(&q->frames, memory_order_relaxed);
	s->bytes = atomic_load_explicit(&q->bytes, memory_order_relaxed);
	s->drops[ST_CAPTURE_DROP_INVALID] =
		atomic_load_explicit(&q->invalid, memory_order_relaxed);
	if (q->queue_id != 0)
		return 0;
	rc = rte_eth_stats_get(q->port_id, &st);
	if (rc < 0)
		return rc;
	s->drops[ST_CAPTURE_DROP_MISSED] += st.imissed;
	s->drops[ST_CAPTURE_DROP_NO_BUFFER] += st.rx_nombuf;
	s->drops[ST_CAPTURE_DROP_INVALID] += st.ierrors;
	return 0;
}

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void port_xstats_json(FILE *out, uint16_t port_id)
{
	static const char *const names[] = {
		"rx_good_packets", "rx_good_bytes", "rx_missed_errors",
		"rx_errors", "rx_mbuf_allocation_errors", "rx_q0_packets",
		"rx_q0_bytes", "rx_q0_errors",
	};
	bool first = true;

	fputs("\"xstats\":{", out);
	for (unsigned i = 0; i < ST_ARRAY_SIZE(names); i++) {
		uint64_t id, value;

		if (rte_eth_xstats_get_id_by_name(port_id, names[i], &id) != 0 ||
		    rte_eth_xstats_get_by_id(port_id, &id, &value, 1) != 1)
			continue;
		fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", names[i],
			value);
		first = false;
	}
	fputc('}', out);
}

static void port_json(FILE *out, const struct dpdk_port *p)
{
	static const char *const ts_names[] = {
		[TS_NONE] = "none", [TS_PCAP_US] = "pcap_us",
		[TS_DEVICE] = "offload",
	};
	struct rte_eth_stats st;

	fprintf(out, "{\"port\":%u,\"name\":", p->port_id);
	json_str(out, p->name);
	fputs(",\"driver\":", out);
	json_str(out, p->driver);
	fprintf(out, ",\"rx_queues\":%u,\"tx_queues\":%u,\"first_queue\":%u,"
		"\"rss\":{\"mode\":\"%s\",\"symmetric\":%s,\"why\":",
		p->rx_queues, p->tx_queues, p->first_queue, p->rss_mode,
		p->symmetric ? "true" : "false");
	json_str(out, p->rss_note);
	fprintf(out, "},\"timestamps\":\"%s\",\"promiscuous\":%s,"
		"\"mbuf_data_room_bytes\":%u,\"finite\":%s",
		ts_names[p->ts_source], p->promiscuous == 1 ? "true" : "false",
		p->data_room_bytes, p->finite ? "true" : "false");
	if (p->n_files) {
		fputs(",\"files\":[", out);
		for (unsigned i = 0; i < p->n_files; i++) {
			fprintf(out, "%s{\"path\":", i ? "," : "");
			json_str(out, p->files[i].path);
			fprintf(out, ",\"frames\":%" PRIu64 ",\"read\":%s}",
				p->files[i].frames,
				i < p->rx_queues ? "true" : "false");
		}
		fputc(']', out);
	}
	if (rte_eth_stats_get(p->port_id, &st) == 0)
		fprintf(out, ",\"stats\":{\"ipackets\":%" PRIu64 ",\"ibytes\":%"
			PRIu64 ",\"imissed\":%" PRIu64 ",\"ierrors\":%" PRIu64
			",\"rx_nombuf\":%" PRIu64 "},", st.ipackets, st.ibytes,
			st.imissed, st.ierrors, st.rx_nombuf);
	else
		fputc(',', out);
	port_xstats_json(out, p->port_id);
	fputc('}', out);
}

static int dpdk_stats_json(struct st_capture *c, FILE *out)
{
	struct dpdk_capture *dc = c->impl;

	fprintf(out, "{\"backend\":\"dpdk\",\"queues\":%u,\"flow_affinity\":%s,"
		"\"ports\":[", c->queues, c->flow_affinity ? "true" : "false");
	for (unsigned i = 0; i < dc->n_ports; i++) {
		if (i)
			fputc(',', out);
		port_json(out, &dc->ports[i]);
	}
	fputs("]}", out);
	return ferror(out) ? -EIO : 0;
}

static int launch_one(void *arg)
{
	const struct launch *l = arg;

	return l->fn(l->arg, l->i);
}

/* fn(arg, 0) runs on the main lcore, in join(): the thread that would
 * otherwise only wait there is a worker too, so n workers need n lcores. */
static int dpdk_start(struct st_capture *c, unsigned n,
		      int (*fn)(void *arg, unsigned i), void *arg)
{
	struct dpdk_capture *dc = c->impl;
	unsigned lcore, i = 1;

	if (n == 0 || n > rte_lcore_count())
		return -EINVAL;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (rte_eal_get_lcore_state(lcore) != WAIT)
			return -EBUSY;
	}
	dc->launches[0] = (struct launch){ fn, arg, 0 };
	dc->main_pending = true;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		int rc;

		if (i == n)
			break;
		dc->launches[i] = (struct launch){ fn, arg, i };
		rc = rte_eal_remote_launch(launch_one, &dc->launches[i], lcore);
		if (rc < 0)
			return rc;
		i++;
	}
	return 0;
}

static void dpdk_join(struct st_capture *c)
{
	struct dpdk_capture *dc = c->impl;

	if (dc->main_pending) {
		dc->main_pending = false;
		launch_one(&dc->launches[0]);
	}
	rte_eal_mp_wait_lcore();
}

static void ports_close(struct dpdk_capture *dc)
{
	for (unsigned i = 0; i < dc->n_ports; i++) {
		struct dpdk_port *p = &dc->ports[i];

		for (unsigned q = 0; q < p->rx_queues; q++) {
			struct dpdk_queue *rq = &dc->queues[p->first_queue + q];

			if (rq->port == p && rq->held) {
				rte_pktmbuf_free_bulk(rq->mbufs, rq->held);
				rq->held = 0;
			}
		}
		if (p->started)
			rte_eth_dev_stop(p->port_id);
		rte_eth_dev_close(p->port_id);
		for (unsigned q = 0; q < ST_CAPTURE_QUEUES_MAX; q++)
			rte_mempool_free(p->pools[q]);
		for (unsigned f = 0; f < p->n_files; f++)
			free(p->files[f].path);
	}
}

static void dpdk_close(struct st_capture *c)
{
	struct dpdk_capture *dc = c->impl;

	rte_eal_mp_wait_lcore();
	ports_close(dc);
	rte_eal_cleanup();
	eal_log_close();
	free(dc);
}

static const struct st_capture_ops dpdk_ops = {
	.rx_burst = dpdk_rx_burst,
	.rx_release = dpdk_rx_release,
	.rx_keep = dpdk_rx_keep,
	.kept_free = dpdk_kept_free,
	.queue_stats = dpdk_queue_stats,
	.stats_json = dpdk_stats_json,
	.start = dpdk_start,
	.join = dpdk_join,
	.close = dpdk_close,
};

/* ---- open ----------------------------------------------------------- */

static int config_fill(struct dpdk_config_n *n, const struct st_dpdk_config *cfg,
		       char *err, size_t errlen)
{
	static const struct st_dpdk_config zero;

	if (!cfg)
		cfg = &zero;
	n->want = cfg->rx_queues_per_port ? cfg->rx_queues_per_port : 1;
	n->mbufs = cfg->mbufs_per_queue;       /* 0: pool_default() */
	n->cache = cfg->mempool_cache ? cfg->mempool_cache :
		ST_DPDK_MEMPOOL_CACHE;
	n->rx_desc = cfg->rx_descriptors ? cfg->rx_descriptors :
		ST_DPDK_RX_DESCRIPTORS;
	n->burst = cfg->burst ? cfg->burst : ST_CAPTURE_BURST;
	n->data_room = cfg->mbuf_data_room_bytes;
	n->promiscuous = !cfg->promiscuous_off;
	/* several workers on one queue: each may keep bursts out of it */
	n->kept = cfg->workers > 1 ? cfg->workers * ST_CAPTURE_KEEP_MAX : 0;
	if (n->want > ST_CAPTURE_QUEUES_MAX || n->burst > ST_DPDK_BURST_MAX ||
	    n->rx_desc > UINT16_MAX || n->data_room > DATA_ROOM_MAX_BYTES ||
	    cfg->n_ports > ST_DPDK_PORTS_MAX || (cfg->n_ports && !cfg->ports)) {
		snprintf(err, errlen, "dpdk: configuration out of range (rx "
			 "queues <= %u, burst <= %u, ports <= %u, data room <= "
			 "%u)", ST_CAPTURE_QUEUES_MAX, ST_DPDK_BURST_MAX,
			 ST_DPDK_PORTS_MAX, (unsigned)DATA_ROOM_MAX_BYTES);
		return -EINVAL;
	}
	return 0;
}

/* The ports to open: cfg->ports, or every probed port. */
static int ports_select(struct dpdk_capture *dc,
			const struct st_dpdk_config *cfg, char *err,
			size_t errlen)
{
	uint16_t pid;

	if (cfg && cfg->n_ports) {
		for (unsigned i = 0; i < cfg->n_ports; i++) {
			if (!rte_eth_dev_is_valid_port(cfg->ports[i])) {
				char what[WHAT_BYTES];

				snprintf(what, sizeof(what), "dpdk: no port %u "
					 "(the EAL probed %u)", cfg->ports[i],
					 rte_eth_dev_count_avail());
				set_err(err, errlen, what);
				return -ENODEV;
			}
			dc->ports[dc->n_ports++].port_id = cfg->ports[i];
		}
		return 0;
	}
	RTE_ETH_FOREACH_DEV(pid) {
		if (dc->n_ports == ST_DPDK_PORTS_MAX) {
			snprintf(err, errlen, "dpdk: more than %u ports",
				 ST_DPDK_PORTS_MAX);
			return -EINVAL;
		}
		dc->ports[dc->n_ports++].port_id = pid;
	}
	if (dc->n_ports == 0) {
		set_err(err, errlen, "EAL: no ports (did you pass --vdev or a "
			"PCI device?)");
		return -ENODEV;
	}
	return 0;
}

/* Fills the capture queues of port p and the capture's flags. */
static int queues_bind(struct dpdk_capture *dc, struct dpdk_port *p,
		       const struct dpdk_config_n *cfg, int ts_offset,
		       uint64_t ts_flag)
{
	for (unsigned q = 0; q < p->rx_queues; q++) {
		struct dpdk_queue *rq = &dc->queues[p->first_queue + q];

		rq->port_id = p->port_id;
		rq->queue_id = (uint16_t)q;
		rq->burst = (uint16_t)cfg->burst;
		rq->port = p;
		rq->pool = p->pools[q];
		rq->ts_source = p->ts_source;
		rq->ts_offset = ts_offset;
		rq->ts_flag = p->ts_source == TS_NONE ? 0 : ts_flag;
	}
	if (dc->cap.queues == 0)
		dc->cap.linktype = p->linktype;
	dc->cap.queues += p->rx_queues;
	if (p->linktype != dc->cap.linktype)
		return -EINVAL;
	dc->cap.timestamps &= p->ts_source != TS_NONE;
	dc->cap.finite &= p->finite;
	dc->cap.flow_affinity &= p->symmetric;
	return 0;
}

static int ports_open(struct dpdk_capture *dc, const struct dpdk_config_n *cfg,
		      char *err, size_t errlen)
{
	uint64_t ts_flag = 0;
	int ts_offset = -1;
	int rc;

	/* Registering is idempotent: net_pcap registered it at probe. */
	if (rte_mbuf_dyn_rx_timestamp_register(&ts_offset, &ts_flag) != 0)
		ts_flag = 0;
	dc->cap.timestamps = ts_flag != 0;
	dc->cap.finite = true;
	dc->cap.flow_affinity = true;
	for (unsigned i = 0; i < dc->n_ports; i++) {
		struct dpdk_port *p = &dc->ports[i];

		p->first_queue = dc->cap.queues;
		rc = port_open(p, cfg, err, errlen);
		if (rc < 0)
			return rc;
		if (dc->cap.queues + p->rx_queues > ST_CAPTURE_QUEUES_MAX) {
			snprintf(err, errlen, "dpdk: more than %u rx queues in "
				 "all", ST_CAPTURE_QUEUES_MAX);
			return -EINVAL;
		}
		if (queues_bind(dc, p, cfg, ts_offset, ts_flag) < 0) {
			snprintf(err, errlen, "port %u (%s): link type %d, "
				 "other ports %d", p->port_id, p->name,
				 p->linktype, dc->cap.linktype);
			return -EINVAL;
		}
	}
	return 0;
}

struct st_capture *st_capture_dpdk_open(int eal_argc, char **eal_argv,
					const struct st_dpdk_config *cfg,
					char *err, size_t errlen)
{
	struct dpdk_config_n n;
	struct dpdk_capture *dc;
	char scratch[8];
	int rc;

	if (!err || !errlen) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	err[0] = '\0';
	rc = config_fill(&n, cfg, err, errlen);
	if (rc < 0)
		goto out_errno;
	dc = aligned_alloc(ST_CACHE_LINE, sizeof(*dc));
	if (!dc) {
		snprintf(err, errlen, "dpdk: out of memory");
		rc = -ENOMEM;
		goto out_errno;
	}
	memset(dc, 0, sizeof(*dc));
	rc = eal_start(eal_argc, eal_argv, err, errlen);
	if (rc < 0)
		goto out_free;
	if (cfg && cfg->workers > rte_lcore_count()) {
		snprintf(err, errlen, "dpdk: %u worker cores need %u lcores, the "
			 "EAL arguments give %u (-l/--lcores)", cfg->workers,
			 cfg->workers, rte_lcore_count());
		rc = -EINVAL;
		goto out_eal;
	}
	rc = ports_select(dc, cfg, err, errlen);
	if (rc < 0)
		goto out_eal;
	rc = ports_open(dc, &n, err, errlen);
	if (rc < 0)
		goto out_ports;
	eal_log.recording = false;
	dc->cap.ops = &dpdk_ops;
	dc->cap.backend = "dpdk";
	dc->cap.impl = dc;
	return &dc->cap;

out_ports:
	ports_close(dc);
out_eal:
	rte_eal_cleanup();
	eal_log_close();
out_free:
	free(dc);
out_errno:
	errno = -rc;
	return NULL;
}
