/*
 * Native AF_XDP capture backend (no DPDK): our XDP program
 * (bpf/xsk_steer.bpf.c) sends the frames whose TCP/UDP source or
 * destination port is configured to one AF_XDP socket per rx queue and
 * passes everything else to the kernel stack; each socket is one
 * struct st_capture queue, polled by one engine thread.
 *
 * Uses libxdp (xdp_program__attach to attach the program; xsk.h for the
 * UMEM and the sockets, created with XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD so
 * that our program, not libxdp's default, fills the XSKMAP) and libbpf.
 *
 * Queue q is the socket bound to the interface's rx queue q, for q in
 * 0..queues-1.  Each queue has its own UMEM of frame_count frames.
 *
 * The capture: backend "af_xdp", linktype DLT_EN10MB (1), no timestamps
 * (ts_ns is 0), not finite.  flow_affinity is true when queues == 1; with
 * several queues it holds only if the NIC's RSS hashes both directions of a
 * flow to the same queue (symmetric RSS key), which this backend does not
 * configure, so it reports false.  A veth has one rx queue unless created
 * with more.
 *
 * queue_stats(): frames/bytes are what rx_burst() handed out; the drops
 * come from getsockopt(XDP_STATISTICS) on the queue's socket (a syscall:
 * call it per stats refresh, not per burst):
 *   missed    = rx_ring_full + rx_dropped (in copy mode less the frames
 *               also counted as rx_fill_ring_empty_descs: the kernel's
 *               copy path counts a frame it had no fill buffer for in both)
 *   no_buffer = rx_fill_ring_empty_descs (zero-copy: failed buffer
 *               allocations of the driver, not frames)
 *   invalid   = rx_invalid_descs
 * Frames the XDP program passed to the stack are not drops; they are in
 * stats_json() with the program's per-CPU counters summed.
 */
#ifndef ST_CAPTURE_XDP_H
#define ST_CAPTURE_XDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/capture/capture.h"

#define ST_XDP_PORTS_MAX 256          /* = ST_XSK_PORTS_MAX of the program */

/* One steered (L4 protocol, port) pair. */
struct st_xdp_port {
	uint8_t l4_proto;             /* 6 (TCP) or 17 (UDP) */
	uint16_t port;                /* host byte order */
};

/* Where the XDP program runs. */
enum st_xdp_attach_mode {
	ST_XDP_ATTACH_AUTO = 0,       /* native, else SKB (noted) */
	ST_XDP_ATTACH_NATIVE,         /* in the driver; fails if unsupported */
	ST_XDP_ATTACH_SKB,            /* generic XDP, after the skb is built */
};

/* How frames reach the UMEM. */
enum st_xdp_copy_mode {
	ST_XDP_COPY_AUTO = 0,         /* zero-copy, else copy (noted); SKB
				       * attach always copies */
	ST_XDP_COPY_ZEROCOPY,         /* fails if the driver cannot */
	ST_XDP_COPY_COPY,
};

struct st_xdp_config {
	const char *ifname;
	unsigned queues;              /* 1..ST_CAPTURE_QUEUES_MAX, <= the
				       * interface's rx queues */
	const struct st_xdp_port *ports;
	unsigned n_ports;             /* 1..ST_XDP_PORTS_MAX */
	/* Sizes per queue; 0 means the default.  Ring sizes are powers of
	 * two; frame_count <= fill_ring_size so that every frame fits in the
	 * fill ring. */
	uint32_t rx_ring_size;        /* default 2048 */
	uint32_t fill_ring_size;      /* default frame_count */
	uint32_t frame_count;         /* UMEM frames, default 4096 */
	uint32_t frame_size;          /* bytes, 2048 or 4096 (default) */
	enum st_xdp_attach_mode attach_mode;
	enum st_xdp_copy_mode copy_mode;
	/* Busy polling: SO_PREFER_BUSY_POLL, SO_BUSY_POLL (busy_poll_us,
	 * default 20) and SO_BUSY_POLL_BUDGET (busy_poll_budget, default
	 * ST_CAPTURE_BURST) on every socket; an option the kernel refuses is
	 * noted in stats_json() and the capture runs without it.  While on,
	 * an empty rx_burst() makes one recvfrom() to drive the driver. */
	bool busy_poll;
	uint32_t busy_poll_us;
	uint32_t busy_poll_budget;
	/* Optional: receives a one-line reason when open fails. */
	char *err;
	size_t err_size;
};

/*
 * Attaches the steering program to cfg->ifname, fills its port map and
 * opens one AF_XDP socket per queue.  Needs CAP_NET_ADMIN, CAP_BPF (or
 * CAP_SYS_ADMIN) and CAP_NET_RAW, and locked memory for the UMEMs
 * (RLIMIT_MEMLOCK is raised when allowed).  Returns the capture (owned by
 * the caller: st_capture_close() detaches the program and frees it all),
 * or NULL with errno and, when cfg->err is set, a message in it:
 *   ENODEV       no such interface
 *   EPERM        not allowed (missing capability)
 *   EAFNOSUPPORT the kernel has no AF_XDP sockets
 *   EOPNOTSUPP   the mode asked for (native, zero-copy) is not supported
 *   EEXIST       another XDP program is attached and cannot coexist
 *   EBUSY        a queue is bound by another AF_XDP socket (a socket
 *                closed just before is waited for, up to 1 s)
 *   EINVAL       a bad config (queues, ports, sizes)
 *   ENOMEM, or another errno from the kernel or libxdp.
 * Thread safety: main thread only; the queues follow capture.h.
 */
struct st_capture *st_capture_xdp_open(const struct st_xdp_config *cfg);

#endif
