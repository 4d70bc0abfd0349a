/*
 * The data-plane engine: N worker cores running the record path
 * (dataplane/worker.h) on frames from one capture (dataplane/capture/
 * capture.h), and a merger that turns each epoch's per-core sketch sets
 * into merged Shadow Profile records (include/shadowtap/profile.h), and the
 * cores' server-endpoint tables into one Backend Metrics record
 * (include/shadowtap/backends.h) after them, for an output (the
 * shared-memory ring, or anything with reserve/commit; readers tell the two
 * records apart by their magic).
 *
 * Flow affinity.  Both directions of a flow must reach one core.  A capture
 * with flow_affinity and several queues: core i polls queues i,
 * i + workers, ... directly.  A capture with one queue and several
 * workers: the cores take turns on the queue and dispatch in software,
 * like a NIC's RSS.  A core whose inbox is at most a quarter full takes
 * the queue when no other core holds it (a lock no core ever waits on,
 * except at a stop) and receives bursts.  A TCP segment goes to its flow's
 * core: a symmetric hash of its two endpoints picks one of
 * ST_ENGINE_DISPATCH_BUCKETS buckets, and an indirection table (a RETA)
 * maps the bucket to a core.  On a live input every other frame (a UDP
 * datagram, a frame without a TCP/UDP endpoint pair) stays with the core
 * that received it: a datagram is whole, with no flow state to keep on
 * one core (its streams and server endpoints are per core anyway and
 * merge at the epoch), so the datagrams balance themselves, each core
 * taking the queue when it has the time.  On a finite input (a file)
 * datagrams go to their flow's core too, and the other frames to core 0,
 * so that the output does not depend on which core received what.  A
 * frame for another core is copied into that core's single-producer,
 * single-consumer inbox.  The holder's own frames go into its own inbox
 * too, unless the capture can keep a burst out of the queue (rx_keep:
 * DPDK): then the holder keeps up to ST_CAPTURE_KEEP_MAX frames, hands
 * the queue on, and works on the frames its inbox held at the hold's
 * end, then on its own in place, then gives their bursts back.  Either
 * way a core works on its frames in the order the queue gave them, so a
 * flow keeps its order whichever core received it.
 * The holder keeps the queue while every inbox is at most half full, its
 * own at most a quarter (it cannot drain its own while it holds: it hands
 * the queue on before its inbox keeps the others from receiving), it has
 * kept fewer than ST_CAPTURE_KEEP_MAX frames, and the bursts come full,
 * until another core has nothing to do (it asks for the queue) and its own
 * inbox holds a sixteenth of its size, work of its own for the time the
 * other receives; then it works on its inbox.  A holder that keeps bursts
 * holds for ST_CAPTURE_KEEP_MAX frames, asked or not: an answer after two
 * bursts, tried, made the turns short, and where a hand-over is slow the
 * cores then spent 10% of their time waiting for the queue.  (A
 * request answered at once, with a few frames of its own, makes the next
 * request come as soon: the turns shrink to a burst each, and when a
 * hand-over is slow, as between CPUs far apart, the cores spend their
 * time handing the queue over.)  So receiving, which on one
 * queue cannot be split, is shared: each core receives when it has the
 * time, and an even split of the flows balances.  When an inbox passes
 * half, the frames wait in the queue (a live input's NIC or socket counts
 * what it cannot hold as its drops).  The core a frame reaches counts its
 * decode drop, if any (the dispatch parse reads only the headers it needs,
 * and may pass on a frame st_decode() then refuses).
 *
 * The table starts spread: a bucket is mapped at its first frame, to the
 * next core in turn (so the flows, not the mostly empty buckets, are
 * spread, in an order that depends on the input only).  Each core makes
 * its worker before any core receives (a worker touches its flow table
 * whole when made, tens of ms that a live input would spend filling the
 * inboxes).  On a live input it adapts to flows of unequal weight: every
 * dispatch_rebalance_ns (one window) the holder may move one bucket that
 * carried frames in the window, from a backlogged core (its inbox was too
 * full for a burst or a frame, or was over a quarter full and fuller than
 * at the window's start, in two windows in a row: one is a core that lost
 * its CPU for a while; of several, the one more often too full, then the
 * fuller) to a starved core (it had nothing to do for 1/16 of the window:
 * idle_ns; of several, the most idle), its smallest active bucket (the
 * smallest step).  A backlogged core with nobody starved holds (both
 * saturated is the normal state when the input outruns the cores), and so
 * does a starved core with nobody backlogged.  A bucket moves at most once
 * a second (it does not swing between two cores), and a core keeps its
 * last active bucket (one bucket cannot be split: moving it moves the
 * backlog).  Every move is counted (dispatch_moves).  A moved bucket's
 * flows continue on the new core mid-stream.  A TCP flow is picked up as in a
 * capture that starts mid-flow: no record is lost going to a core that
 * never saw the flow, but one that comes back to a core finds a hole there
 * (a reassembly gap, the codec's resync: counted), the flow counts as a new
 * flow on its new core and as active on both in that epoch (Backend
 * Metrics flows_new, the profiles' flows_active), and its entry on the old
 * core idles out.  So the rule moves buckets that carried TCP in the window
 * only with dispatch_move_tcp (shadowtap-dp --dispatch-move-tcp), or in a
 * window that lost frames (the queue's drop counters grew, or an inbox
 * refused a frame): a moved flow costs less than a loss every window.  (A
 * bucket without TCP would move for free, but on a live input only TCP
 * segments have buckets.)  A finite input (a file) does not adapt: its
 * output must not depend on timing.
 *
 * Time.  ST_ENGINE_CLOCK_PACKET: epochs follow the frames' own timestamps
 * (pcap files, net_pcap): the first frame fixes the first epoch, and the
 * largest timestamp seen by any poller is every core's "now".
 * ST_ENGINE_CLOCK_WALL: CLOCK_REALTIME.  Either way epochs are aligned to
 * multiples of the epoch length since the Unix epoch, so that the cores'
 * (and several hosts') epochs line up.
 *
 * Epochs.  At an epoch's end each core publishes its sketch sets with one
 * release store (st_worker_epoch_publish) and counts on in its other
 * buffer.  The merger merges, per stream, the cores that published the same
 * epoch and writes one profile per stream; it waits for a late core at most
 * `grace_ns` of wall time, then writes the profile without it, marked
 * PARTIAL (cores_merged < cores_expected), and the late core's part later as
 * a partial profile of its own.  A core never waits for the merger on a live
 * input: if the merger still holds the core's previous epoch when the next
 * one ends, the ended epoch is dropped and counted (epochs_lost,
 * records_lost) and its profiles are PARTIAL.  On a finite input (a file)
 * the cores wait for the merger instead and the grace is unbounded, so the
 * output is complete and does not depend on timing.
 *
 * Thread safety: create/run/destroy from one thread; st_engine_stop() from
 * any thread or a signal handler; st_engine_core_stats() and
 * st_engine_stats() from any thread while running.
 */
#ifndef ST_ENGINE_H
#define ST_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dataplane/capture/capture.h"
#include "dataplane/decode/decode.h"
#include "dataplane/worker.h"

#define ST_ENGINE_WORKERS_MAX 64
#define ST_ENGINE_DISPATCH_BUCKETS 1024   /* software dispatch's RETA */

enum st_engine_clock {
	ST_ENGINE_CLOCK_PACKET = 0,  /* the frames' timestamps */
	ST_ENGINE_CLOCK_WALL,        /* CLOCK_REALTIME */
};

/* Where profile records go.  reserve() returns room for up to max bytes or
 * NULL (the output dropped the record and counts it itself); commit()
 * publishes `used` bytes of it.  Called from the merger thread only. */
struct st_engine_output {
	void *(*reserve)(void *ctx, size_t max);
	void (*commit)(void *ctx, size_t used);
	void *ctx;
};

struct st_engine_config {
	struct st_worker_config worker;   /* double_buffered is forced on */
	unsigned workers;                 /* 1..ST_ENGINE_WORKERS_MAX */
	enum st_engine_clock clock;
	uint64_t grace_ns;                /* live inputs: wait for a late core */
	uint32_t inbox_bytes;             /* per core, with software dispatch
					   * (small, so that the frames stay in
					   * the caches between the holder and
					   * the core that works on them) */
	uint64_t dispatch_rebalance_ns;   /* software dispatch: the window after
					   * which the holder may move one
					   * bucket; 0: never (the even split
					   * stays) */
	bool dispatch_move_tcp;           /* the adaptive rule may move buckets
					   * that carry TCP (see above) */
	bool dispatch_rebalance_finite;   /* tests: adapt on a finite input too */
	uint32_t dispatch_move_every_frames; /* tests: also move the bucket of
					   * every Nth polled frame to the
					   * next core, whatever the load;
					   * 0: off */
	struct st_engine_output output;
};

/* Defaults: 1 worker, packet clock, 200 ms grace, 2 MiB inboxes, a 10 ms
 * rebalance window, the worker's defaults; classifier and output zeroed
 * (the caller sets them). */
void st_engine_config_default(struct st_engine_config *cfg);

/* One core's counters, each read atomically (not a snapshot of all). */
struct st_engine_core_stats {
	uint64_t frames, bytes;           /* frames this core worked on */
	uint64_t polled;                  /* frames taken from the capture */
	uint64_t dispatched;              /* ... handed to another core */
	uint64_t inbox_full_drops;        /* live input: an inbox had no room */
	uint64_t inbox_waits;             /* finite input: waited for room */
	uint64_t inbox_oversize_drops;    /* frames larger than half an inbox */
	uint64_t idle_ns;                 /* dispatch: time it had nothing to
					   * do, its inbox empty and the queue
					   * another core's or empty (wall,
					   * monotonic) */
	uint64_t dispatch_holds;          /* dispatch: times it took the queue
					   * and received (polled / this: the
					   * frames a hand-over of the queue
					   * carries) */
	uint64_t dispatch_buckets;        /* dispatch: buckets mapped to it
					   * (a bucket is mapped at its first
					   * frame) */
	uint64_t records, record_bytes, egress_records;
	uint64_t decode_drops, worker_drops;
	uint64_t reassembly_gaps, parse_errors;
	uint64_t flows_active;
	uint64_t epochs_published, epochs_lost, records_lost;
	uint64_t capture_drops[ST_CAPTURE_DROP__COUNT]; /* of its queues */
	uint64_t decode_drop[ST_DECODE__COUNT];   /* by enum st_decode_result */
	uint64_t worker_drop[ST_WORKER_DROP__COUNT];
	unsigned streams;
};

/* Merger and output counters. */
struct st_engine_stats {
	uint64_t epochs_merged;           /* merge groups written */
	uint64_t profiles;                /* profile records committed */
	uint64_t partial_profiles;        /* ... of them PARTIAL */
	uint64_t output_drops;            /* reserve() said no */
	uint64_t build_errors;            /* a profile could not be built */
	uint64_t merge_errors;            /* a core's set could not be merged */
	uint64_t stream_slots_full;       /* streams beyond the merger's table */
	uint64_t backends_records;        /* Backend Metrics records committed
					   * (shadowtap/backends.h), one per
					   * merge group, after its profiles */
	uint64_t backends_build_errors;   /* ... that could not be built */
	uint64_t epoch_start_ns;          /* the first epoch, 0 before it */
	uint64_t dispatch_moves;          /* buckets moved to another core
					   * (software dispatch) */
	bool running;
};

struct st_engine;

/*
 * Checks the config against the capture (queues vs workers, link type);
 * NULL with errno and a message in err (EINVAL: a bad combination, ENOMEM).
 * The engine borrows cap (the caller closes it after st_engine_destroy).
 */
struct st_engine *st_engine_create(const struct st_engine_config *cfg,
				   struct st_capture *cap, char *err, size_t errlen);

/*
 * Runs the cores and the merger until the input ends or st_engine_stop();
 * then closes the last epoch (flows flushed), writes its profiles and
 * returns 0, or -errno when a thread could not start or the capture failed
 * (message in err).  Call once.
 */
int st_engine_run(struct st_engine *e, char *err, size_t errlen);

/* Asks st_engine_run() to finish; async-signal-safe. */
void st_engine_stop(struct st_engine *e);

/* Frees the engine; NULL is a no-op. */
void st_engine_destroy(struct st_engine *e);

unsigned st_engine_workers(const struct st_engine *e);
void st_engine_core_stats(const struct st_engine *e, unsigned core,
			  struct st_engine_core_stats *s);
void st_engine_stats(const struct st_engine *e, struct st_engine_stats *s);

/* The engine's counters as one JSON object, no newline: the merger's and
 * every core's (st_engine_core_stats); with detail (after run only) also
 * each core's full worker counters (st_worker_stats_json) and the
 * capture's own statistics.  0 or -errno. */
int st_engine_stats_json(const struct st_engine *e, FILE *out, bool detail);

#endif
