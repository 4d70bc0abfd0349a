/*
 * DPDK ethdev capture backend: every port the EAL probed (a PCI NIC, or the
 * vdevs net_pcap, net_af_xdp, net_af_packet) becomes rx queues behind the
 * capture interface (capture.h).  Built only when libdpdk is found
 * (meson feature `dpdk`); link with capture_dpdk_dep.
 *
 * Capture queue numbering: ports in the order they are used (cfg->ports, or
 * every probed port by port id), each port's rx queues in order; capture
 * queue k = (the rx queues of the ports before it) + the port's queue.
 *
 * One EAL per process: DPDK cannot initialise its EAL twice, not even after
 * rte_eal_cleanup(), so st_capture_dpdk_open() succeeds at most once in a
 * process's life.
 */
#ifndef ST_CAPTURE_DPDK_H
#define ST_CAPTURE_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/capture/capture.h"

#define ST_DPDK_MBUFS_PER_QUEUE 4096   /* default mbufs in each queue's pool */
#define ST_DPDK_PCAP_MBUFS_PER_QUEUE 512 /* the same for net_pcap files
					  * (infinite_rx: their frames + 2
					  * bursts + 2 caches) */
#define ST_DPDK_MEMPOOL_CACHE 512      /* default per-lcore cache of a pool:
					* DPDK's largest, so that the bursts
					* a core keeps (ST_CAPTURE_KEEP_MAX)
					* come and go through its own cache */
#define ST_DPDK_RX_DESCRIPTORS 1024    /* default rx ring size of a NIC */
#define ST_DPDK_BURST_MAX 256          /* largest burst one rx_burst() asks */
#define ST_DPDK_PORTS_MAX 32

/*
 * What to open.  All zero means: one rx queue per port, the defaults above,
 * a burst of ST_CAPTURE_BURST, every probed port, promiscuous mode on.
 */
struct st_dpdk_config {
	unsigned rx_queues_per_port;   /* wanted (the engine's worker count);
					* a port gets min(this, its maximum) */
	unsigned mbufs_per_queue;      /* size of each queue's mbuf pool (a NIC
					* ring is at most half of it) */
	unsigned mempool_cache;        /* per-lcore cache of each pool (clamped
					* to what DPDK accepts for the pool) */
	unsigned rx_descriptors;       /* NIC rx ring size per queue */
	unsigned burst;                /* most frames one rx_burst() returns,
					* 1..ST_DPDK_BURST_MAX */
	unsigned mbuf_data_room_bytes; /* 0: 2048 for NICs, the largest frame
					* of the file for net_pcap rx_pcap */
	const uint16_t *ports;         /* port ids to use; NULL: every probed
					* port */
	unsigned n_ports;
	bool promiscuous_off;          /* leave promiscuous mode off */
	unsigned workers;              /* the cores st_capture_start() will
					* run: the EAL must give as many
					* lcores (0: not checked here) */
};

/*
 * Initialises the EAL with eal_argv[0..eal_argc-1] (eal_argv[0] is the
 * program name, as in main()'s argv; the array is not modified, the
 * strings must outlive the capture) and opens every selected port as a
 * capture (backend "dpdk").
 *
 * Arguments added when absent: `--log-level=warning` (the EAL is quiet
 * unless a --log-level is given), and, unless one of --in-memory,
 * --no-shconf, --file-prefix or --proc-type is given, `--no-shconf` with
 * --no-huge and `--in-memory` without it, so that several instances (and
 * parallel tests) never share runtime files.
 *
 * Per port: rx queues = min(cfg->rx_queues_per_port, the device's
 * maximum), except net_pcap with rx_pcap files: one queue per file, so
 * that every file is read (flow_affinity then needs one file); no tx queue when the PMD allows it (else one); with several
 * queues, RSS over IP/TCP/UDP (masked by the device) with a symmetric
 * Toeplitz key, or one queue when the PMD refuses (stats_json says why);
 * rx timestamps when the device has them (net_pcap: always, in us);
 * promiscuous mode (unless cfg->promiscuous_off).
 *
 * A net_pcap port reading files (rx_pcap=, without infinite_rx) is finite:
 * its frames are counted with libpcap here, and its queues return
 * ST_CAPTURE_END once every frame of the port's files was either handed
 * out or counted lost by the PMD (rx_nombuf, ierrors).
 *
 * Returns the capture (close it with st_capture_close()), or NULL with
 * errno set and a message in err[errlen]: EINVAL (bad arguments or
 * configuration, or fewer lcores than cfg->workers), ENODEV (no ports,
 * or a port id that does not exist),
 * EALREADY (the EAL was initialised before in
 * this process), ENOMEM, or the error of the EAL or the PMD that failed.
 * Main thread only.
 */
struct st_capture *st_capture_dpdk_open(int eal_argc, char **eal_argv,
					const struct st_dpdk_config *cfg,
					char *err, size_t errlen);

#endif
