/*
 * Capture backends: where frames come from.  Every input — a DPDK ethdev
 * (a NIC, net_pcap, net_af_xdp, net_af_packet), the native AF_XDP sockets,
 * a libpcap file or live interface — is opened by its own function and then
 * used through this one interface, so that all of them feed the same
 * per-core record path (dataplane/engine.h).
 *
 * Model: a capture has `queues` receive queues.  Each queue is polled by
 * exactly one thread, which calls rx_burst() to borrow up to `max` frames
 * and rx_release() to give them back before the next rx_burst().  Frames
 * stay valid between the two calls only.  Nothing in rx_burst() blocks for
 * long: it returns 0 when nothing is waiting (poll mode), except that a
 * live libpcap queue may wait up to its read timeout.
 *
 * Thread safety: rx_burst/rx_release/queue_stats of one queue from its one
 * polling thread; queue_stats may also be called from any other thread (the
 * counters are read with relaxed atomic loads: each value is exact, the set
 * is not a snapshot).  open/close/start/join from the main thread.
 */
#ifndef ST_CAPTURE_H
#define ST_CAPTURE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define ST_CAPTURE_BURST 32          /* frames per rx_burst() the engine asks */
#define ST_CAPTURE_KEEP_MAX (8 * ST_CAPTURE_BURST) /* frames one engine core
				      * keeps at most (rx_keep) */
#define ST_CAPTURE_QUEUES_MAX 64

/* One borrowed frame. */
struct st_frame {
	const uint8_t *data;
	uint32_t caplen;             /* bytes at data */
	uint32_t wire_len;           /* bytes on the wire (>= caplen) */
	uint64_t ts_ns;              /* the input's own capture time (ns since
				      * the Unix epoch), or 0 when it has none */
};

/* Frames the input lost before we could read them, by reason. */
enum st_capture_drop {
	ST_CAPTURE_DROP_MISSED = 0,  /* NIC or kernel had no room (imissed,
				      * pcap ps_drop, XSK rx ring full) */
	ST_CAPTURE_DROP_NO_BUFFER,   /* no receive buffer (rx_nombuf, XSK fill
				      * ring empty) */
	ST_CAPTURE_DROP_INVALID,     /* an invalid descriptor or a frame the
				      * input itself flagged bad */
	ST_CAPTURE_DROP__COUNT
};

struct st_capture_queue_stats {
	uint64_t frames;             /* handed out by rx_burst() */
	uint64_t bytes;              /* their caplen */
	uint64_t drops[ST_CAPTURE_DROP__COUNT];
};

/* "missed", "no_buffer", "invalid". */
const char *st_capture_drop_name(enum st_capture_drop d);

struct st_capture;

struct st_capture_ops {
	/* Borrows up to max frames from queue q into f[].  Returns the count
	 * (0: nothing now), ST_CAPTURE_END when a finite input (a file) has
	 * no more, or another -errno on a fatal error of the input. */
	int (*rx_burst)(struct st_capture *c, unsigned q, struct st_frame *f,
			unsigned max);
	/* Gives back the frames of queue q's last burst. */
	void (*rx_release)(struct st_capture *c, unsigned q);
	/*
	 * Optional (NULL where a frame cannot outlive the next rx_burst(),
	 * as libpcap's): instead of rx_release(), takes queue q's last burst
	 * out of the queue, so that the queue may be polled again while its
	 * frames stay valid, until kept_free() with what rx_keep() stored
	 * (up to ST_CAPTURE_BURST objects in objs[], their count returned,
	 * and *plain).  kept_free() may run on another thread than the
	 * queue's poller, one at a time per kept burst.  A pool that feeds
	 * the queue must leave room for what is kept.
	 */
	unsigned (*rx_keep)(struct st_capture *c, unsigned q, void **objs, bool *plain);
	void (*kept_free)(struct st_capture *c, unsigned q, void **objs, unsigned n,
			  bool plain);
	/* Queue q's counters (drops may lag by up to one stats refresh of
	 * the input, e.g. a NIC's counter registers).  0 or -errno. */
	int (*queue_stats)(struct st_capture *c, unsigned q,
			   struct st_capture_queue_stats *s);
	/* The backend's own statistics (ports, sockets, the file) as one JSON
	 * object, no newline.  0 or -errno. */
	int (*stats_json)(struct st_capture *c, FILE *out);
	/*
	 * Optional: runs fn(arg, i) for i in 0..n-1 on the backend's own
	 * threads (DPDK: the EAL's lcores) and returns; join() waits for all
	 * of them, and may itself run some on the calling thread (DPDK runs
	 * fn(arg, 0) on the main lcore there).  NULL: the engine starts POSIX
	 * threads itself.  0, or -EINVAL when the backend has fewer than n
	 * threads to offer.
	 */
	int (*start)(struct st_capture *c, unsigned n,
		     int (*fn)(void *arg, unsigned i), void *arg);
	void (*join)(struct st_capture *c);
	/* Closes the input and frees the capture. */
	void (*close)(struct st_capture *c);
};

#define ST_CAPTURE_END (-ENODATA)

struct st_capture {
	const struct st_capture_ops *ops;
	const char *backend;         /* "pcap", "dpdk", "af_xdp" */
	unsigned queues;             /* 1..ST_CAPTURE_QUEUES_MAX */
	int linktype;                /* pcap DLT_* of every frame */
	bool timestamps;             /* frames carry the input's own time */
	bool finite;                 /* the input ends (files) */
	/* Both directions of a flow arrive on the same queue (symmetric RSS,
	 * or one queue).  When false with several queues, the engine cannot
	 * use them. */
	bool flow_affinity;
	void *impl;                  /* the backend's own state */
};

/* Closes c; NULL is a no-op. */
void st_capture_close(struct st_capture *c);

#endif
