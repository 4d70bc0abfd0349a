/*
 * The data-plane engine (engine.h): worker cores, software dispatch,
 * epochs, and the merger.
 *
 * Threads and what they share:
 *   core i    owns its st_worker, its inbox's consumer side, its epoch
 *             clock.  With dispatch, the core that holds the queue (the
 *             rx_busy lock) owns the capture's queue, every inbox's
 *             producer side and the dispatch table (struct dispatcher:
 *             the lock orders its holders, so a bucket moves with a plain
 *             store, between two frames: the frames already in the old
 *             core's inbox stay there, and the order of the frames of one
 *             core is kept).
 *   merger    reads published epochs (st_worker_published*), merges, writes
 *             the output, releases.
 * Shared words: `now_ns` (largest packet time seen; stored with release by
 * the poller after it handed out every frame before it, so that an idle
 * core that acquires it and then finds its inbox empty knows the epoch is
 * over), `origin_ns` (the first epoch's start, set once by CAS),
 * `input_done` (release: every frame was handed out before), `rx_busy` (the
 * queue's lock: acquired by exchange, released by store), `rx_wanted` (a
 * hint, relaxed: a core with nothing to do asks the holder for the queue),
 * each core's `worker` pointer (release on create) and `done` flag (release
 * after its last publish), and the stats words (relaxed).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/backends/table.h"
#include "dataplane/compiler.h"
#include "dataplane/decode/decode.h"
#include "dataplane/engine.h"
#include "dataplane/sketch/hash.h"
#include "shadowtap/profile.h"

_Static_assert(ST_PROTO_KAFKA == ST_PROFILE_PROTO_KAFKA &&
	       ST_PROTO_MQTT == ST_PROFILE_PROTO_MQTT &&
	       ST_PROTO_NATS == ST_PROFILE_PROTO_NATS &&
	       ST_PROTO_JSONL == ST_PROFILE_PROTO_JSONL,
	       "the codecs' protocol numbers are the profile's");

#define INBOX_PAD UINT32_MAX          /* caplen of a wrap marker */
#define MERGER_POLL_NS 1000000ull     /* merger's sleep when idle: an epoch is
				       * ~1 s, and a shorter nap costs the
				       * worker that shares its CPU */
#define STATS_EVERY_BURSTS 256
#define DISPATCH_REBALANCE_NS 10000000ull /* the default window: hundreds of
					   * bursts, longer than a scheduler's
					   * time slice (a core that lost its
					   * CPU for one is not a trend); a
					   * 64-flow split converges in ~0.1 s */
#define DISPATCH_BUCKET_HOLD_NS 1000000000ull /* a bucket moves at most once
					   * per this (a TCP flow pays for
					   * each move; a bucket does not
					   * swing between two cores) */
#define DISPATCH_STARVED_SHARE 16         /* a core idle for 1/16 of a
					   * window is starved */
#define DISPATCH_ANSWER_SHARE 16          /* the holder answers a request
					   * for the queue once its own inbox
					   * holds 1/16 of its size */
#define DISPATCH_CLOCK_EVERY_POLLS 8      /* the holder reads the clock for
					   * the window once per this many
					   * bursts */
#define DISPATCH_KEEP_BURSTS (ST_CAPTURE_KEEP_MAX / ST_CAPTURE_BURST)
					  /* a holder that keeps its bursts
					   * hands the queue on after this
					   * many, asked or not (engine.h) */

#define BUCKET_UNMAPPED UINT8_MAX        /* a bucket that saw no frame yet */

_Static_assert(ST_ENGINE_WORKERS_MAX < BUCKET_UNMAPPED, "the RETA holds core ids in bytes");

/* One frame in an inbox: this header, then caplen bytes, padded to 8. */
struct inbox_entry {
	uint32_t caplen;
	uint32_t wire_len;
	uint64_t ts_ns;
};

/* Single producer (the core that holds the queue: the lock orders the
 * producers), single consumer (the core that owns it). */
struct inbox {
	uint8_t *buf;
	uint64_t size;                       /* power of two */
	_Atomic uint64_t head ST_CACHE_ALIGNED;  /* producer's byte offset */
	_Atomic uint64_t tail ST_CACHE_ALIGNED;  /* consumer's byte offset */
	uint64_t tail_cache ST_CACHE_ALIGNED;    /* producer's view of tail */
	uint64_t head_local;                     /* producer: written, not yet
						  * published (inbox_publish) */
	uint64_t head_said;                      /* producer: head as published */
	uint64_t head_cache ST_CACHE_ALIGNED;    /* consumer's view of head */
	uint64_t tail_local;                     /* consumer: popped up to here,
						  * not yet released */
	uint64_t prefetched;                     /* consumer: bytes up to here
						  * were prefetched */
};

#define INBOX_PREFETCH_BYTES 4096     /* the consumer prefetches this far
				       * ahead of the frame it works on:
				       * the frames were written by the
				       * holder, their lines sit in its
				       * cache, and
				       * a Kafka frame is ~20 of them */

/* Software dispatch: the RETA and the window's load signals.  The queue's
 * holder only. */
struct dispatcher {
	uint8_t reta[ST_ENGINE_DISPATCH_BUCKETS];         /* bucket -> core, or
							   * BUCKET_UNMAPPED */
	unsigned turn;                                    /* new buckets so far */
	unsigned polls;                                   /* bursts received */
	uint32_t frames[ST_ENGINE_DISPATCH_BUCKETS];      /* in this window */
	uint8_t tcp[ST_ENGINE_DISPATCH_BUCKETS];          /* ... some of them TCP */
	uint64_t moved_ns[ST_ENGINE_DISPATCH_BUCKETS];    /* last move, mono */
	uint64_t window_start_ns, window_end_ns;          /* mono; 0: not yet */
	uint64_t full[ST_ENGINE_WORKERS_MAX];             /* window: times its
							   * inbox was too full
							   * for a burst or a
							   * frame */
	uint64_t refused;                                 /* window: frames an
							   * inbox refused (live:
							   * dropped) */
	uint64_t lost_mark;                               /* the queue's drops
							   * seen */
	uint64_t idle_mark[ST_ENGINE_WORKERS_MAX];        /* idle_ns seen */
	uint64_t fill_mark[ST_ENGINE_WORKERS_MAX];        /* inbox bytes seen */
	uint8_t behind[ST_ENGINE_WORKERS_MAX];            /* windows in a row
							   * its inbox filled or
							   * was too full */
	uint32_t until_forced_move;                       /* test knob */
};

/* A burst taken out of the queue (st_capture_ops.rx_keep). */
struct kept {
	void *objs[ST_CAPTURE_BURST];
	unsigned n;
	bool plain;
};

struct core {
	struct st_engine *e;
	unsigned id;
	/* core thread only, with dispatch on a queue that keeps bursts: the
	 * frames of its own it received in its hold, in the queue's order,
	 * and the bursts that hold them */
	struct st_frame own[DISPATCH_KEEP_BURSTS * ST_CAPTURE_BURST];
	unsigned own_n;
	struct kept kept[DISPATCH_KEEP_BURSTS];
	unsigned kept_n;
	struct st_worker *_Atomic worker;
	struct st_worker *ready;             /* core thread only: made before the
					      * first frame, not started */
	struct inbox inbox;
	uint64_t epoch_end_ns;               /* core thread only */
	bool queues_ended;                   /* core thread only */
	uint64_t idle_since_ns;              /* core thread only: with
					      * dispatch, nothing to work on
					      * since (mono), 0 while it works */
	unsigned idle_polls;                 /* core thread only */
	_Atomic bool done;
	struct st_engine_core_stats stats;   /* words written relaxed */
	/* merger only */
	uint64_t merged_end_ns;
	struct st_worker_epoch pub;
	bool has_pub;
};

/* The merger's per-stream accumulator for one merge group. */
struct slot {
	uint64_t name_hash;                  /* 0: empty */
	struct st_sset *merged;              /* kept across groups */
	struct st_worker_stream first;       /* the first core's stream */
	unsigned cores;                      /* contributions this group */
	uint64_t group;                      /* group serial of `cores` */
	bool merge_failed;
};

struct st_engine {
	struct st_engine_config cfg;
	struct st_capture *cap;
	bool dispatch;
	bool keep;                           /* dispatch: the holder keeps its
					      * bursts (rx_keep) and works on
					      * its own frames in place */
	bool rebalance;                      /* dispatch that adapts */
	struct dispatcher *disp;             /* with dispatch; the holder only */
	bool finite;
	uint64_t epoch_ns;

	_Atomic uint64_t now_ns;
	_Atomic uint64_t origin_ns;
	_Atomic bool input_done;
	_Atomic unsigned cores_ready;        /* dispatch: cores polling */
	_Atomic bool rx_busy ST_CACHE_ALIGNED; /* dispatch: the queue's lock */
	_Atomic bool rx_wanted;              /* ... a core with nothing to do
					      * waits for it */
	_Atomic int stop;
	_Atomic int error;                   /* first fatal capture error */

	struct slot *slots;
	unsigned slot_mask;
	struct st_be_merge *backends;        /* merger only */
	uint64_t group;
	struct st_engine_stats stats;

	struct core *core;
};

#define STAT_ADD(field, v) \
	__atomic_store_n(&(field), (field) + (v), __ATOMIC_RELAXED)
#define STAT_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

void st_engine_config_default(struct st_engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	st_worker_config_default(&cfg->worker);
	cfg->workers = 1;
	cfg->clock = ST_ENGINE_CLOCK_PACKET;
	cfg->grace_ns = 200000000ull;
	cfg->inbox_bytes = 2u << 20;
	cfg->dispatch_rebalance_ns = DISPATCH_REBALANCE_NS;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The time a frame gets without a time of its own: the wall clock when
 * epochs follow it, else 0 (the frames' own times count). */
static uint64_t clock_for_frames(const struct st_engine *e)
{
	return e->cfg.clock == ST_ENGINE_CLOCK_WALL ? wall_ns() : 0;
}

static void nap(uint64_t ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ns };

	nanosleep(&ts, NULL);
}

static bool stopping(const struct st_engine *e)
{
	return atomic_load_explicit(&((struct st_engine *)e)->stop,
				    memory_order_relaxed) != 0;
}

/* The input failed with -errno err: the first error is kept, and every
 * core stops. */
static void input_failed(struct st_engine *e, int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&e->error, &none, err);
	atomic_store(&e->stop, 1);
}

/* ---- inboxes ------------------------------------------------------------ */

static uint64_t entry_bytes(uint32_t caplen)
{
	return sizeof(struct inbox_entry) + (((uint64_t)caplen + 7) & ~7ull);
}

/* Producer: copies f in, unpublished until inbox_publish(); false when
 * there is no room now. */
static bool inbox_push(struct inbox *b, const struct st_frame *f)
{
	uint64_t head = b->head_local;
	uint64_t need = entry_bytes(f->caplen);
	uint64_t off = head & (b->size - 1);
	uint64_t pad = b->size - off < need ? b->size - off : 0;
	struct inbox_entry *h;

	if (head + pad + need - b->tail_cache > b->size) {
		/* Acquire: the consumer's reads of the bytes we are about to
		 * overwrite happened before it advanced tail. */
		b->tail_cache = atomic_load_explicit(&b->tail, memory_order_acquire);
		if (head + pad + need - b->tail_cache > b->size)
			return false;
	}
	if (pad) {
		((struct inbox_entry *)(b->buf + off))->caplen = INBOX_PAD;
		head += pad;
		off = 0;
	}
	h = (struct inbox_entry *)(b->buf + off);
	h->caplen = f->caplen;
	h->wire_len = f->wire_len;
	h->ts_ns = f->ts_ns;
	memcpy(h + 1, f->data, f->caplen);
	b->head_local = head + need;
	return true;
}

/* Producer: makes every frame pushed so far visible to the consumer. */
static void inbox_publish(struct inbox *b)
{
	/* Release: the entries' bytes are visible before the new head. */
	if (b->head_said != b->head_local) {
		atomic_store_explicit(&b->head, b->head_local, memory_order_release);
		b->head_said = b->head_local;
	}
}

/* Consumer: prefetches the published bytes up to INBOX_PREFETCH_BYTES
 * past tail, each line once. */
static inline void inbox_prefetch(struct inbox *b, uint64_t tail)
{
	uint64_t to = tail + INBOX_PREFETCH_BYTES;
	uint64_t at = b->prefetched > tail ? b->prefetched : tail;

	if (to > b->head_cache)
		to = b->head_cache;
	for (at &= ~63ull; at < to; at += 64)
		__builtin_prefetch(b->buf + (at & (b->size - 1)), 0, 3);
	if (to > b->prefetched)
		b->prefetched = to;
}

/* Consumer: the next frame (valid until inbox_release), or false when
 * empty. */
static bool inbox_peek(struct inbox *b, struct st_frame *f, uint64_t *bytes)
{
	uint64_t tail = b->tail_local;

	for (;;) {
		const struct inbox_entry *h;
		uint64_t off = tail & (b->size - 1);

		if (tail == b->head_cache) {
			/* Acquire: pairs with the producer's release of head. */
			b->head_cache = atomic_load_explicit(&b->head,
							     memory_order_acquire);
			if (tail == b->head_cache)
				return false;
		}
		inbox_prefetch(b, tail);
		h = (const struct inbox_entry *)(b->buf + off);
		if (h->caplen == INBOX_PAD) {
			tail += b->size - off;
			b->tail_local = tail;
			continue;
		}
		f->data = (const uint8_t *)(h + 1);
		f->caplen = h->caplen;
		f->wire_len = h->wire_len;
		f->ts_ns = h->ts_ns;
		*bytes = entry_bytes(h->caplen);
		return true;
	}
}

static void inbox_pop(struct inbox *b, uint64_t bytes)
{
	b->tail_local += bytes;
}

/* Consumer: hands the bytes popped so far back to the producer, once per
 * burst: tail's line goes to the producer's cache when it reads it, and
 * back on every store. */
static void inbox_release(struct inbox *b)
{
	/* Release: our reads of the frames happen before the producer may
	 * overwrite them. */
	if (atomic_load_explicit(&b->tail, memory_order_relaxed) != b->tail_local)
		atomic_store_explicit(&b->tail, b->tail_local, memory_order_release);
}

/* Producer (the holder): the bytes in the inbox, what it pushed included. */
static inline uint64_t inbox_fill(struct inbox *b)
{
	return b->head_local - atomic_load_explicit(&b->tail, memory_order_relaxed);
}

static bool inbox_empty(struct inbox *b)
{
	return atomic_load_explicit(&b->tail, memory_order_relaxed) ==
	       atomic_load_explicit(&b->head, memory_order_acquire);
}

/* ---- a core's epochs ---------------------------------------------------- */

static uint64_t align_down(uint64_t t, uint64_t step)
{
	return t - t % step;
}

/* The first epoch's start: fixed by the first caller. */
static uint64_t origin(struct st_engine *e, uint64_t t)
{
	uint64_t want = align_down(t, e->epoch_ns);
	uint64_t have = 0;

	if (want == 0)
		want = e->epoch_ns;    /* 0 means "not yet" */
	/* Acq_rel: whoever wins, every core starts from the same origin. */
	if (atomic_compare_exchange_strong_explicit(&e->origin_ns, &have, want,
						    memory_order_acq_rel,
						    memory_order_acquire))
		return want;
	return have;
}

/* Makes the core's worker before its first frame: its tables are touched
 * whole when made (tens of ms), which on the first frame of a live input
 * would leave the inbox to overflow meanwhile. */
static bool core_prepare(struct core *c)
{
	c->ready = st_worker_create(&c->e->cfg.worker, 0);
	if (!c->ready) {
		atomic_store(&c->e->error, errno ? -errno : -ENOMEM);
		atomic_store(&c->e->stop, 1);
		return false;
	}
	return true;
}

static bool core_start(struct core *c, uint64_t origin_ns)
{
	struct st_worker *w;

	if (!c->ready && !core_prepare(c))
		return false;
	w = c->ready;
	c->ready = NULL;
	st_worker_set_epoch_start(w, origin_ns);
	c->epoch_end_ns = origin_ns + c->e->epoch_ns;
	/* Release: the worker's state is complete before the merger sees it. */
	atomic_store_explicit(&c->worker, w, memory_order_release);
	return true;
}

static void count_lost(void *ctx, const struct st_worker_stream *s)
{
	struct core *c = ctx;

	STAT_ADD(c->stats.records_lost, st_sset_counters_ro(s->set)->records);
}

static void stats_refresh(struct core *c)
{
	struct st_worker *w = atomic_load_explicit(&c->worker, memory_order_relaxed);
	struct st_capture *cap = c->e->cap;
	uint64_t drops[ST_CAPTURE_DROP__COUNT] = { 0 };
	struct st_worker_totals t;

	if (w) {
		st_worker_totals(w, &t);
		STAT_SET(c->stats.records, t.records);
		STAT_SET(c->stats.record_bytes, t.record_bytes);
		STAT_SET(c->stats.egress_records, t.egress_records);
		STAT_SET(c->stats.decode_drops, t.decode_drops);
		STAT_SET(c->stats.worker_drops, t.drops - t.decode_drops);
		STAT_SET(c->stats.reassembly_gaps, t.reassembly_gaps);
		STAT_SET(c->stats.parse_errors, t.parse_errors);
		STAT_SET(c->stats.flows_active, t.flows_active);
		STAT_SET(c->stats.streams, t.streams);
		{
			uint64_t dd[ST_DECODE__COUNT], wd[ST_WORKER_DROP__COUNT];

			st_worker_drops(w, dd, ST_DECODE__COUNT, wd);
			for (unsigned i = 0; i < ST_DECODE__COUNT; i++)
				STAT_SET(c->stats.decode_drop[i], dd[i]);
			for (unsigned i = 0; i < ST_WORKER_DROP__COUNT; i++)
				STAT_SET(c->stats.worker_drop[i], wd[i]);
		}
	}
	if (c->e->dispatch && c->id != 0)
		return;
	for (unsigned q = c->id; q < cap->queues; q += c->e->cfg.workers) {
		struct st_capture_queue_stats qs;

		if (cap->ops->queue_stats(cap, q, &qs) == 0)
			for (unsigned d = 0; d < ST_CAPTURE_DROP__COUNT; d++)
				drops[d] += qs.drops[d];
	}
	for (unsigned d = 0; d < ST_CAPTURE_DROP__COUNT; d++)
		STAT_SET(c->stats.capture_drops[d], drops[d]);
}

/* Ends the core's epoch at c->epoch_end_ns.  wait: for the merger, even
 * on a live input (the last epoch, when nothing is left to stall). */
static void epoch_end(struct core *c, bool wait)
{
	struct st_worker *w = atomic_load_explicit(&c->worker, memory_order_relaxed);
	uint64_t end = c->epoch_end_ns;

	for (;;) {
		if (st_worker_epoch_publish(w, end) == 0) {
			STAT_ADD(c->stats.epochs_published, 1);
			break;
		}
		if (!c->e->finite && !wait) {
			/* The merger still holds our previous epoch: this one
			 * is lost, loudly, rather than wait or grow. */
			st_worker_epoch_close(w, end, count_lost, c);
			STAT_ADD(c->stats.epochs_lost, 1);
			break;
		}
		sched_yield();
	}
	c->epoch_end_ns = end + c->e->epoch_ns;
	stats_refresh(c);
}

/* Closes every epoch that ended before t. */
static void epochs_until(struct core *c, uint64_t t)
{
	while (t >= c->epoch_end_ns)
		epoch_end(c, false);
}

static void frame_in(struct core *c, const struct st_frame *f, uint64_t clock_ns)
{
	struct st_engine *e = c->e;
	struct st_worker *w = atomic_load_explicit(&c->worker, memory_order_relaxed);
	uint64_t ts = f->ts_ns;

	if (e->cfg.clock == ST_ENGINE_CLOCK_PACKET) {
		if (unlikely(!w)) {
			if (!core_start(c, origin(e, ts)))
				return;
			w = atomic_load_explicit(&c->worker, memory_order_relaxed);
		}
		if (ts >= c->epoch_end_ns)
			epochs_until(c, ts);
	} else {
		ts = clock_ns;
	}
	st_worker_frame(w, f->data, f->caplen, e->cap->linktype, ts);
	STAT_ADD(c->stats.frames, 1);
	STAT_ADD(c->stats.bytes, f->caplen);
}

/* Between bursts: epochs that ended by the clock.  idle: the core's
 * input had nothing. */
static void tick(struct core *c, uint64_t clock_ns, bool idle)
{
	struct st_engine *e = c->e;

	if (e->cfg.clock == ST_ENGINE_CLOCK_PACKET) {
		uint64_t o, now;

		if (!atomic_load_explicit(&c->worker, memory_order_relaxed)) {
			/* Acquire: pairs with the CAS that set the origin. */
			o = atomic_load_explicit(&e->origin_ns, memory_order_acquire);
			if (!o || !core_start(c, o))
				return;
		}
		/* Acquire: pairs with the poller's release in now_max(), so
		 * every frame it handed out before saying this time is in our
		 * inbox now.  Read the time first, then the inbox: the other
		 * order could see an empty inbox, then a time that frames
		 * pushed in between already belong before. */
		now = atomic_load_explicit(&e->now_ns, memory_order_acquire);
		/* With dispatch, frames of an ended epoch may still wait in
		 * the inbox: close it only when the inbox is empty.  With
		 * several queues, a busy core's own frames say its time: the
		 * others' time only counts when its queues are idle. */
		if (e->dispatch ? !inbox_empty(&c->inbox)
				: e->cap->queues > 1 && !idle)
			return;
		epochs_until(c, now);
	} else {
		epochs_until(c, clock_ns);
	}
}

static void now_max(struct st_engine *e, uint64_t t)
{
	uint64_t cur = atomic_load_explicit(&e->now_ns, memory_order_relaxed);

	/* Release: the frames handed to other cores before are visible to
	 * a core that acquires this time (tick). */
	while (t > cur && !atomic_compare_exchange_weak_explicit(
			&e->now_ns, &cur, t, memory_order_release,
			memory_order_relaxed))
		;
}

/* ---- software dispatch: buckets and the rule ---------------------------- */


/* One endpoint (16-byte address as decoded, port) mixed. */
static inline uint64_t endpoint_mix(const uint8_t addr[16], uint16_t port)
{
	uint64_t hi, lo;

	memcpy(&hi, addr, sizeof(hi));
	memcpy(&lo, addr + 8, sizeof(lo));
	return st_fmix64(lo ^ (hi << 32 | hi >> 32) ^
		      (uint64_t)port * 0x9e3779b97f4a7c15ull);
}

/* The bucket of two endpoints: the sum of their mixes, the same for both
 * directions. */
static inline uint32_t endpoints_bucket(const uint8_t sa[16], uint16_t sport,
					const uint8_t da[16], uint16_t dport)
{
	uint64_t h = endpoint_mix(sa, sport) + endpoint_mix(da, dport);

	return (uint32_t)(h >> 32) % ST_ENGINE_DISPATCH_BUCKETS;
}

static inline uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * The common frame without st_decode(): Ethernet, up to ST_PKT_VLAN_MAX
 * tags, IPv4 (not a fragment) or IPv6 (no extension header), TCP or UDP,
 * the ports captured.  The endpoints are those st_decode() gives (IPv4 as
 * ::ffff:a.b.c.d), so that a flow whose frames take either path lands in
 * one bucket.  False for anything else (the caller asks st_decode()).  It
 * checks only what it reads: a frame it accepts may still be a decode drop
 * for the worker, which counts it wherever it goes.
 */
static bool quick_bucket(const uint8_t *f, uint32_t caplen, uint32_t *bucket,
			 uint8_t *l4_proto)
{
	uint8_t sa[16] = { [10] = 0xff, [11] = 0xff }, da[16] = { [10] = 0xff, [11] = 0xff };
	uint32_t off = 14;
	uint16_t type;
	uint8_t l4;

	if (caplen < off)
		return false;
	type = be16_at(f + 12);
	for (unsigned tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; tags++) {
		if (tags == ST_PKT_VLAN_MAX || caplen < off + 4)
			return false;
		type = be16_at(f + off + 2);
		off += 4;
	}
	if (type == 0x0800) {
		uint32_t ihl;

		if (caplen < off + 20 || (f[off] >> 4) != 4)
			return false;
		ihl = (f[off] & 0x0fu) * 4u;
		/* MF or a fragment offset: st_decode() says "ip_fragment" */
		if (ihl < 20 || (be16_at(f + off + 6) & 0x3fff))
			return false;
		l4 = f[off + 9];
		memcpy(sa + 12, f + off + 12, 4);
		memcpy(da + 12, f + off + 16, 4);
		off += ihl;
	} else if (type == 0x86dd) {
		if (caplen < off + 40 || (f[off] >> 4) != 6)
			return false;
		l4 = f[off + 6];
		memcpy(sa, f + off + 8, 16);
		memcpy(da, f + off + 24, 16);
		off += 40;
	} else {
		return false;
	}
	if ((l4 != IPPROTO_TCP && l4 != IPPROTO_UDP) || caplen < off + 4)
		return false;
	*bucket = endpoints_bucket(sa, be16_at(f + off), da, be16_at(f + off + 2));
	*l4_proto = l4;
	return true;
}

/* The frame's dispatch bucket and IPPROTO_TCP/UDP (cheaper than
 * st_flow_hash(): no key to build, no XXH3; only the holder uses it).  False
 * when the frame does not decode to a TCP or UDP packet. */
static bool dispatch_bucket(const struct st_engine *e, const struct st_frame *f,
			    uint32_t *bucket, uint8_t *l4_proto)
{
	struct st_pkt p;

	if (e->cap->linktype == ST_DLT_EN10MB &&
	    quick_bucket(f->data, f->caplen, bucket, l4_proto))
		return true;
	if (st_decode(f->data, f->caplen, e->cap->linktype, f->ts_ns, &p) != ST_DECODE_OK)
		return false;
	*bucket = endpoints_bucket(p.saddr, p.sport, p.daddr, p.dport);
	*l4_proto = p.l4_proto;
	return true;
}

static void bucket_map(struct st_engine *e, uint32_t b, unsigned core)
{
	e->disp->reta[b] = (uint8_t)core;
	STAT_ADD(e->core[core].stats.dispatch_buckets, 1);
}

/* The core that new bucket number `turn` goes to: the cores in turn (every
 * core receives a share of the frames, so each takes an equal share of the
 * flows). */
static inline unsigned turn_core(unsigned turn, unsigned workers)
{
	return turn % workers;
}

/* The core of bucket b; a bucket's first frame maps it to the next core in
 * turn, so that the flows (not the buckets, most of which stay empty)
 * start spread, in an order that depends on the input only. */
static inline unsigned bucket_core(struct st_engine *e, uint32_t b)
{
	struct dispatcher *d = e->disp;

	if (unlikely(d->reta[b] == BUCKET_UNMAPPED))
		bucket_map(e, b, turn_core(d->turn++, e->cfg.workers));
	return d->reta[b];
}

static void bucket_move(struct st_engine *e, uint32_t b, unsigned to, uint64_t now_ns)
{
	struct dispatcher *d = e->disp;
	struct core *from = &e->core[d->reta[b]];

	STAT_SET(from->stats.dispatch_buckets, from->stats.dispatch_buckets - 1);
	STAT_ADD(e->core[to].stats.dispatch_buckets, 1);
	d->reta[b] = (uint8_t)to;
	d->moved_ns[b] = now_ns;
	STAT_ADD(e->stats.dispatch_moves, 1);
}

/* Moves the smallest active bucket of core `from` (the smallest step) to
 * core `to`: one that carried no TCP unless tcp_too, that did not move in
 * the last DISPATCH_BUCKET_HOLD_NS, and never the core's last active one
 * (one bucket cannot be split: moving it moves the backlog). */
static bool rebalance_move(struct st_engine *e, unsigned from, unsigned to,
			   bool tcp_too, uint64_t now_ns)
{
	struct dispatcher *d = e->disp;
	uint32_t best = UINT32_MAX, best_frames = 0;
	unsigned active = 0;

	for (uint32_t b = 0; b < ST_ENGINE_DISPATCH_BUCKETS; b++) {
		uint32_t n = d->frames[b];

		if (d->reta[b] != from || n == 0)
			continue;
		active++;
		if ((d->tcp[b] && !tcp_too) ||
		    (d->moved_ns[b] && now_ns - d->moved_ns[b] < DISPATCH_BUCKET_HOLD_NS))
			continue;
		if (best == UINT32_MAX || n < best_frames) {
			best = b;
			best_frames = n;
		}
	}
	if (best == UINT32_MAX || active < 2)
		return false;
	bucket_move(e, best, to, now_ns);
	return true;
}

/* The holder, at the end of a window: at most one bucket moves, by the rule
 * in engine.h; then a new window. */
static void rebalance(struct st_engine *e, uint64_t now_ns)
{
	struct dispatcher *d = e->disp;
	unsigned none = e->cfg.workers, backlogged = none, starved = none;
	uint64_t worst = 0, most_idle = 0;
	uint64_t span = now_ns - d->window_start_ns, lost = 0;
	struct st_capture_queue_stats qs;
	bool losing;

	if (e->cap->ops->queue_stats && e->cap->ops->queue_stats(e->cap, 0, &qs) == 0)
		for (unsigned r = 0; r < ST_CAPTURE_DROP__COUNT; r++)
			lost += qs.drops[r];
	losing = lost > d->lost_mark || d->refused;
	d->lost_mark = lost;
	for (unsigned t = 0; t < e->cfg.workers; t++) {
		struct core *c = &e->core[t];
		uint64_t idle = STAT_GET(c->stats.idle_ns);
		uint64_t fill = inbox_fill(&c->inbox);
		uint64_t idle_ns_new = idle - d->idle_mark[t];
		bool filled = fill > d->fill_mark[t] && fill > c->inbox.size / 4;

		d->idle_mark[t] = idle;
		d->fill_mark[t] = fill;
		/* two windows in a row: one is a core that lost its CPU to
		 * another thread for a few ms, which the inbox absorbs */
		d->behind[t] = filled || d->full[t] ?
			(uint8_t)(d->behind[t] < 2 ? d->behind[t] + 1 : 2) : 0;
		if (d->behind[t] >= 2) {
			/* the worse: the more often too full, then the fuller */
			uint64_t score = d->full[t] * c->inbox.size + fill;

			if (score > worst) {
				worst = score;
				backlogged = t;
			}
			continue;
		}
		if (idle_ns_new >= span / DISPATCH_STARVED_SHARE && idle_ns_new > most_idle) {
			most_idle = idle_ns_new;
			starved = t;
		}
	}
	/* The first call only starts the first window.  TCP moves when
	 * allowed, and when frames were lost in the window (the queue's
	 * drops grew, or an inbox refused a frame): a moved flow costs less
	 * than frames lost every window. */
	if (d->window_end_ns && backlogged != none && starved != none)
		rebalance_move(e, backlogged, starved,
			       e->cfg.dispatch_move_tcp || losing, now_ns);
	d->refused = 0;
	memset(d->frames, 0, sizeof(d->frames));
	memset(d->tcp, 0, sizeof(d->tcp));
	memset(d->full, 0, sizeof(d->full));
	d->window_start_ns = now_ns;
	d->window_end_ns = now_ns + e->cfg.dispatch_rebalance_ns;
}

/* ---- software dispatch: the cores take turns on the queue --------------- */

/* The queue's lock: a core that cannot take it works on its inbox. */
static bool rx_trylock(struct st_engine *e)
{
	return !atomic_load_explicit(&e->rx_busy, memory_order_relaxed) &&
	       !atomic_exchange_explicit(&e->rx_busy, true, memory_order_acquire);
}

static void rx_unlock(struct st_engine *e)
{
	/* Release: the next holder sees the queue, the dispatcher and the
	 * inboxes' producer sides as we left them. */
	atomic_store_explicit(&e->rx_busy, false, memory_order_release);
}

/* The holder: publishes what it pushed to every inbox, then says the time
 * t (when not 0).  The order is the point: a core that reads a time finds
 * every frame older than it already in its inbox. */
static void dispatch_flush(struct st_engine *e, uint64_t t)
{
	for (unsigned i = 0; i < e->cfg.workers; i++)
		inbox_publish(&e->core[i].inbox);
	if (t)
		now_max(e, t);
}

/* The holder: every inbox is at most half full, so a burst fits; else the
 * frames wait in the queue (a live input's NIC or socket counts what it
 * cannot hold) and the full inbox is noted for the rule.  Tail is read
 * only when the producer's older view of it says more than half: a
 * read every burst would pull its line from the consumer every time. */
static bool dispatch_room(struct st_engine *e)
{
	bool room = true;

	for (unsigned t = 0; t < e->cfg.workers; t++) {
		struct inbox *b = &e->core[t].inbox;

		if (b->head_local - b->tail_cache <= b->size / 2)
			continue;
		/* Acquire: inbox_push relies on tail_cache too. */
		b->tail_cache = atomic_load_explicit(&b->tail, memory_order_acquire);
		if (b->head_local - b->tail_cache > b->size / 2) {
			e->disp->full[t]++;
			room = false;
		}
	}
	return room;
}

static unsigned poll_inbox(struct core *c, unsigned max, uint64_t limit);
static void idle_end(struct core *c);

/* The frames in the inbox before byte `limit` (UINT64_MAX: all), then
 * the core's own of its hold, in place; their bursts then go back to the
 * input.  The frames worked on.  Run after the hold, with `limit` the
 * inbox's head at its end: the frames before came before the hold's
 * (nobody else pushes to a holder's inbox), those after came after. */
static unsigned own_run(struct core *c, uint64_t limit)
{
	struct st_capture *cap = c->e->cap;
	unsigned n = poll_inbox(c, UINT_MAX, limit);
	uint64_t clock_ns = clock_for_frames(c->e);

	if (unlikely(c->idle_since_ns) && c->own_n)
		idle_end(c);
	for (unsigned i = 0; i < c->own_n; i++) {
		if (i + 1 < c->own_n)
			__builtin_prefetch(c->own[i + 1].data);
		frame_in(c, &c->own[i], clock_ns);
	}
	n += c->own_n;
	c->own_n = 0;
	for (unsigned k = 0; k < c->kept_n; k++)
		cap->ops->kept_free(cap, 0, c->kept[k].objs, c->kept[k].n, c->kept[k].plain);
	c->kept_n = 0;
	return n;
}

/* The holder: hands f to its core (engine.h): into that core's inbox, or,
 * when the queue keeps bursts and f is the holder's own, onto its own
 * list; true when f is another core's.  said: the largest time of the
 * frames pushed before, said while waiting for room. */
static bool dispatch(struct core *c, const struct st_frame *f, uint64_t said)
{
	struct st_engine *e = c->e;
	struct dispatcher *d = e->disp;
	uint32_t b;
	uint8_t l4;
	unsigned t = e->finite ? 0 : c->id;
	struct core *to;

	if (dispatch_bucket(e, f, &b, &l4) && (l4 == IPPROTO_TCP || e->finite)) {
		d->frames[b]++;
		if (l4 == IPPROTO_TCP && !d->tcp[b])
			d->tcp[b] = 1;
		t = bucket_core(e, b);
		if (unlikely(e->cfg.dispatch_move_every_frames) &&
		    --d->until_forced_move == 0) {
			d->until_forced_move = e->cfg.dispatch_move_every_frames;
			t = (t + 1) % e->cfg.workers;
			bucket_move(e, b, t, mono_ns());
		}
	}
	if (e->keep && t == c->id) {
		c->own[c->own_n++] = *f;
		return false;
	}
	to = &e->core[t];
	if (entry_bytes(f->caplen) > to->inbox.size / 2) {
		/* Past half the inbox a frame may never fit, even in an
		 * empty inbox (a wrap pads to the end first): a wait on a
		 * file input could last for ever. */
		STAT_ADD(c->stats.inbox_oversize_drops, 1);
		return false;
	}
	while (!inbox_push(&to->inbox, f)) {
		d->full[t]++;
		if (!e->finite || stopping(e)) {
			d->refused++;
			STAT_ADD(c->stats.inbox_full_drops, 1);
			return false;
		}
		STAT_ADD(c->stats.inbox_waits, 1);
		/* The consumer drains only what it can see; and our own
		 * inbox and epochs must still move while we wait, or a core
		 * waiting for the merger, which waits for us, never moves. */
		dispatch_flush(e, said);
		/* our inbox's frames, then our own of this hold: every one
		 * came before f */
		if (poll_inbox(c, ST_CAPTURE_BURST, UINT64_MAX) == 0 &&
		    (!e->keep || own_run(c, UINT64_MAX) == 0))
			sched_yield();
		if (c->own_n == 0)
			tick(c, clock_for_frames(e), false);
	}
	return t != c->id;
}

/* The holder: one burst from the queue into the inboxes; the frames taken,
 * or 0 at the end of the input (input_done) or on its error (stop). */
static unsigned dispatch_burst(struct core *c, struct st_frame *f)
{
	struct st_engine *e = c->e;
	struct st_capture *cap = e->cap;
	struct dispatcher *d = e->disp;
	bool packet_clock = e->cfg.clock == ST_ENGINE_CLOCK_PACKET;
	int n = cap->ops->rx_burst(cap, 0, f, ST_CAPTURE_BURST);
	uint64_t said = 0, pushed = 0;

	if (n == ST_CAPTURE_END) {
		/* Release: every frame was pushed and published before. */
		atomic_store_explicit(&e->input_done, true, memory_order_release);
		return 0;
	}
	if (n < 0) {
		input_failed(e, n);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		if (i + 1 < n)
			__builtin_prefetch(f[i + 1].data);
		pushed += dispatch(c, &f[i], said);
		if (packet_clock && f[i].ts_ns > said)
			said = f[i].ts_ns;
	}
	dispatch_flush(e, said);
	if (e->keep && n > 0) {
		struct kept *k = &c->kept[c->kept_n++];

		k->n = cap->ops->rx_keep(cap, 0, k->objs, &k->plain);
	} else {
		cap->ops->rx_release(cap, 0);
	}
	STAT_ADD(c->stats.dispatched, pushed);
	STAT_ADD(c->stats.polled, (unsigned)n);
	if (++d->polls % DISPATCH_CLOCK_EVERY_POLLS == 0 && e->rebalance) {
		uint64_t now = mono_ns();

		if (now >= d->window_end_ns)
			rebalance(e, now);
	}
	return (unsigned)n;
}

/* The holder: bursts while every inbox has room and its own is at most a
 * quarter full (it cannot drain its own while it holds: past a quarter it
 * hands the queue on, before its inbox keeps the others from receiving),
 * until the queue has less than a burst, or another core has nothing to
 * do and its own inbox holds work for the time the other receives
 * (DISPATCH_ANSWER_SHARE). */
static unsigned dispatch_hold(struct core *c, struct st_frame *f)
{
	struct st_engine *e = c->e;
	unsigned got = 0;

	while (!stopping(e) && inbox_fill(&c->inbox) <= c->inbox.size / 4 &&
	       c->kept_n < DISPATCH_KEEP_BURSTS && dispatch_room(e)) {
		unsigned n;

		if (got == 0) {
			/* a request for the queue is answered by this hold,
			 * and receiving is work: an idle core's idle time ends */
			if (atomic_load_explicit(&e->rx_wanted, memory_order_relaxed))
				atomic_store_explicit(&e->rx_wanted, false, memory_order_relaxed);
			if (c->idle_since_ns)
				idle_end(c);
		}
		n = dispatch_burst(c, f);

		got += n;
		if (n < ST_CAPTURE_BURST ||
		    (!e->keep && atomic_load_explicit(&e->rx_wanted, memory_order_relaxed) &&
		     inbox_fill(&c->inbox) >= c->inbox.size / DISPATCH_ANSWER_SHARE))
			break;
	}
	return got;
}

/* ---- a core's loop ------------------------------------------------------ */

/* Polls the core's queues once (without dispatch); the frames handled.
 * The packet time is said once per burst. */
static unsigned poll_queues(struct core *c, struct st_frame *f)
{
	struct st_engine *e = c->e;
	struct st_capture *cap = e->cap;
	unsigned handled = 0, ended = 0, mine = 0;
	uint64_t clock_ns = clock_for_frames(e);
	bool packet_clock = e->cfg.clock == ST_ENGINE_CLOCK_PACKET;

	for (unsigned q = c->id; q < cap->queues; q += e->cfg.workers) {
		int n = cap->ops->rx_burst(cap, q, f, ST_CAPTURE_BURST);
		uint64_t burst_max = 0;

		mine++;
		if (n == ST_CAPTURE_END) {
			ended++;
			continue;
		}
		if (n < 0) {
			input_failed(e, n);
			return handled;
		}
		for (int i = 0; i < n; i++) {
			if (i + 1 < n)
				__builtin_prefetch(f[i + 1].data);
			if (packet_clock && f[i].ts_ns > burst_max)
				burst_max = f[i].ts_ns;
			frame_in(c, &f[i], clock_ns);
		}
		if (packet_clock && burst_max)
			now_max(e, burst_max);
		STAT_ADD(c->stats.polled, (unsigned)n);
		handled += (unsigned)n;
		cap->ops->rx_release(cap, q);
	}
	if (mine && ended == mine)
		c->queues_ended = true;
	return handled;
}

/* With dispatch: the time a core had nothing to work on (idle_ns), from the
 * clock read when it finds its inbox empty, every 64 empty polls after,
 * and when the first frame comes, before that frame is worked on: the
 * time it works on frames is never idle, even when its inbox empties
 * after every burst. */
static void idle_end(struct core *c)
{
	STAT_ADD(c->stats.idle_ns, mono_ns() - c->idle_since_ns);
	c->idle_since_ns = 0;
}

static void idle_poll(struct core *c)
{
	if (c->idle_since_ns == 0) {
		c->idle_since_ns = mono_ns();
		c->idle_polls = 0;
	} else if (++c->idle_polls % 64 == 0) {
		uint64_t now = mono_ns();

		STAT_ADD(c->stats.idle_ns, now - c->idle_since_ns);
		c->idle_since_ns = now;
	}
}

/* With dispatch: up to max frames from the core's inbox, those before byte
 * `limit` (UINT64_MAX: any). */
static unsigned poll_inbox(struct core *c, unsigned max, uint64_t limit)
{
	uint64_t clock_ns = clock_for_frames(c->e);
	unsigned n = 0;
	struct st_frame f;
	uint64_t bytes;

	while (n < max && c->inbox.tail_local != limit &&
	       inbox_peek(&c->inbox, &f, &bytes) && c->inbox.tail_local != limit) {
		if (unlikely(c->idle_since_ns))
			idle_end(c);
		frame_in(c, &f, clock_ns);
		inbox_pop(&c->inbox, bytes);
		n++;
	}
	inbox_release(&c->inbox);
	return n;
}

/* With dispatch, one turn of a core: the queue when its inbox is at most a
 * quarter full and no other core holds it, then its inbox; idle when neither
 * had a frame (then it asks the holder for the queue).  The frames worked
 * on; *ended: the input ended and the inbox is empty. */
static unsigned dispatch_poll(struct core *c, struct st_frame *f, bool *ended)
{
	struct st_engine *e = c->e;
	struct inbox *b = &c->inbox;
	unsigned got = 0, n, own = 0;
	bool done;

	if (stopping(e) && !atomic_load_explicit(&e->input_done, memory_order_relaxed)) {
		/* The end comes from the holder's side of the lock: a burst
		 * being pushed now is published before (a holder checks stop
		 * before every burst). */
		while (!rx_trylock(e))
			sched_yield();
		/* Release: every frame pushed was published before. */
		atomic_store_explicit(&e->input_done, true, memory_order_release);
		rx_unlock(e);
	}
	/* The inbox as this core last saw it: reading head here would pull
	 * its line from the holder every turn (dispatch_hold counts
	 * exactly). */
	if (!atomic_load_explicit(&e->input_done, memory_order_relaxed) &&
	    b->head_cache - b->tail_local <= b->size / 4 && rx_trylock(e)) {
		uint64_t limit;

		got = dispatch_hold(c, f);
		limit = b->head_local;  /* ours to read while we hold */
		rx_unlock(e);
		if (got)
			STAT_ADD(c->stats.dispatch_holds, 1);
		if (e->keep)
			own = own_run(c, limit);
	}
	n = own + poll_inbox(c, ST_CAPTURE_BURST, UINT64_MAX);
	/* Acquire: pairs with input_done's release; then an empty inbox is
	 * the end. */
	done = atomic_load_explicit(&e->input_done, memory_order_acquire);
	if (n == 0 && got == 0) {
		idle_poll(c);
		if (!done && !atomic_load_explicit(&e->rx_wanted, memory_order_relaxed))
			atomic_store_explicit(&e->rx_wanted, true, memory_order_relaxed);
	}
	*ended = n == 0 && done && inbox_empty(b);
	return n;
}

static int core_main(void *arg, unsigned id)
{
	struct st_engine *e = arg;
	struct core *c = &e->core[id];
	struct st_frame f[ST_CAPTURE_BURST];
	unsigned bursts = 0;
	struct st_worker *w;

	if (!core_prepare(c))
		goto out_done;
	/* With dispatch, a core polls only once every core polls its inbox:
	 * a live input's first frames would find a core not yet scheduled,
	 * its inbox full. */
	if (e->dispatch) {
		atomic_fetch_add_explicit(&e->cores_ready, 1, memory_order_relaxed);
		while (!stopping(e) && atomic_load_explicit(&e->cores_ready,
							    memory_order_relaxed) <
		       e->cfg.workers)
			sched_yield();
	}
	if (e->cfg.clock == ST_ENGINE_CLOCK_WALL &&
	    !core_start(c, align_down(wall_ns(), e->epoch_ns)))
		goto out_done;
	for (;;) {
		unsigned n;

		if (e->dispatch) {
			bool ended;

			n = dispatch_poll(c, f, &ended);
			if (ended)
				break;
		} else {
			n = poll_queues(c, f);
			if (c->queues_ended || stopping(e))
				break;
		}
		tick(c, clock_for_frames(e), n == 0);
		if (++bursts % STATS_EVERY_BURSTS == 0)
			stats_refresh(c);
		if (n == 0 && e->cfg.clock == ST_ENGINE_CLOCK_WALL && e->dispatch)
			sched_yield();
	}
	/* The end: flows flushed into the open epoch, which is closed at its
	 * regular end (live: at the stop; the epoch is cut short, its
	 * profiles still carry the epoch's nominal length). */
	if (e->cfg.clock == ST_ENGINE_CLOCK_PACKET && !atomic_load(&c->worker)) {
		uint64_t o = atomic_load_explicit(&e->origin_ns, memory_order_acquire);

		if (o)
			core_start(c, o);
	}
	w = atomic_load_explicit(&c->worker, memory_order_relaxed);
	if (w) {
		uint64_t now = atomic_load(&e->now_ns);

		while (e->cfg.clock == ST_ENGINE_CLOCK_PACKET && now >= c->epoch_end_ns)
			epoch_end(c, true);
		st_worker_flush(w);
		epoch_end(c, true);
	}
out_done:
	st_worker_destroy(c->ready);    /* never started: no frame, no time */
	c->ready = NULL;
	stats_refresh(c);
	/* Release: our last publication precedes `done`. */
	atomic_store_explicit(&c->done, true, memory_order_release);
	return 0;
}

/* ---- the merger --------------------------------------------------------- */

static struct slot *slot_of(struct st_engine *e, uint64_t h)
{
	for (unsigned i = (unsigned)h & e->slot_mask, n = 0; n <= e->slot_mask;
	     i = (i + 1) & e->slot_mask, n++) {
		struct slot *s = &e->slots[i];

		if (s->name_hash == h)
			return s;
		if (s->name_hash == 0) {
			s->name_hash = h;
			return s;
		}
	}
	return NULL;
}

static void emit(struct st_engine *e, const struct st_sset *set,
		 const struct st_worker_stream *ws, uint64_t start_ns,
		 unsigned cores)
{
	struct st_profile_meta meta = {
		.name = ws->def->name,
		.epoch_start_ns = start_ns,
		.epoch_ns = e->epoch_ns,
		.cores_merged = (uint16_t)cores,
		.cores_expected = (uint16_t)e->cfg.workers,
		.flags = cores < e->cfg.workers ? ST_PROFILE_F_PARTIAL : 0,
		.protocol = (uint8_t)ws->proto,
	};
	ssize_t size, len;
	void *out;

	memcpy(meta.key_field_names, ws->key_field_names, sizeof(meta.key_field_names));
	memcpy(meta.numeric_field_names, ws->numeric_field_names,
	       sizeof(meta.numeric_field_names));
	size = st_profile_size(set, &meta);
	if (size < 0) {
		STAT_ADD(e->stats.build_errors, 1);
		return;
	}
	out = e->cfg.output.reserve(e->cfg.output.ctx, (size_t)size);
	if (!out) {
		STAT_ADD(e->stats.output_drops, 1);
		return;
	}
	len = st_profile_build(set, &meta, out, (size_t)size);
	if (len < 0) {
		e->cfg.output.commit(e->cfg.output.ctx, 0);
		STAT_ADD(e->stats.build_errors, 1);
		return;
	}
	e->cfg.output.commit(e->cfg.output.ctx, (size_t)len);
	STAT_ADD(e->stats.profiles, 1);
	if (meta.flags & ST_PROFILE_F_PARTIAL)
		STAT_ADD(e->stats.partial_profiles, 1);
}

/* The group's Backend Metrics record (shadowtap/backends.h): every member
 * core's published endpoint table, merged; written after the profiles. */
static void emit_backends(struct st_engine *e, const unsigned *members, unsigned n,
			  uint64_t start_ns)
{
	struct st_backends_meta meta = {
		.epoch_start_ns = start_ns,
		.epoch_ns = e->epoch_ns,
		.cores_merged = (uint16_t)n,
		.cores_expected = (uint16_t)e->cfg.workers,
	};
	ssize_t size, len;
	void *out;

	st_be_merge_begin(e->backends);
	for (unsigned m = 0; m < n; m++) {
		struct core *c = &e->core[members[m]];
		const struct st_be_table *t = st_worker_published_backends(
			atomic_load_explicit(&c->worker, memory_order_acquire));

		if (t && st_be_merge_add(e->backends, t) != 0)
			STAT_ADD(e->stats.merge_errors, 1);
	}
	size = st_be_merge_size(e->backends, &meta);
	if (size < 0) {
		STAT_ADD(e->stats.backends_build_errors, 1);
		return;
	}
	out = e->cfg.output.reserve(e->cfg.output.ctx, (size_t)size);
	if (!out) {
		STAT_ADD(e->stats.output_drops, 1);
		return;
	}
	len = st_be_merge_build(e->backends, &meta, out, (size_t)size);
	if (len < 0) {
		e->cfg.output.commit(e->cfg.output.ctx, 0);
		STAT_ADD(e->stats.backends_build_errors, 1);
		return;
	}
	e->cfg.output.commit(e->cfg.output.ctx, (size_t)len);
	STAT_ADD(e->stats.backends_records, 1);
}

/* Merges the published epochs of the cores in `members` (same start and
 * end) and writes one profile per stream, then the Backend Metrics record. */
static void merge_group(struct st_engine *e, const unsigned *members, unsigned n)
{
	uint64_t start = e->core[members[0]].pub.start_ns;
	uint64_t group = ++e->group;

	for (unsigned m = 0; m < n; m++) {
		struct core *c = &e->core[members[m]];
		struct st_worker *w = atomic_load_explicit(&c->worker, memory_order_acquire);

		for (unsigned i = 0; i < c->pub.n_streams; i++) {
			struct st_worker_stream ws;
			struct slot *s;

			if (!st_worker_published_stream(w, i, &ws))
				continue;
			s = slot_of(e, st_hash64(ws.def->name, strlen(ws.def->name)));
			if (!s) {
				/* No room to merge: the core's part on its own. */
				STAT_ADD(e->stats.stream_slots_full, 1);
				emit(e, ws.set, &ws, start, 1);
				continue;
			}
			if (s->group != group) {
				s->group = group;
				s->cores = 0;
				s->merge_failed = false;
				s->first = ws;
			}
			if (s->cores == 1) {
				/* A second core: merge from here on. */
				if (!s->merged)
					s->merged = st_sset_create(st_sset_config(s->first.set));
				if (!s->merged || (st_sset_reset(s->merged, start),
						   st_sset_merge(s->merged, s->first.set) != 0))
					s->merge_failed = true;
			}
			if (s->cores >= 1 && !s->merge_failed &&
			    st_sset_merge(s->merged, ws.set) != 0)
				s->merge_failed = true;
			if (s->merge_failed) {
				STAT_ADD(e->stats.merge_errors, 1);
				emit(e, ws.set, &ws, start, 1);
				continue;
			}
			s->cores++;
		}
	}
	for (unsigned i = 0; i <= e->slot_mask; i++) {
		struct slot *s = &e->slots[i];

		if (s->name_hash == 0 || s->group != group || s->cores == 0)
			continue;
		/* cores_merged: the cores whose epoch this is, whether or
		 * not each saw the stream. */
		emit(e, s->cores == 1 ? s->first.set : s->merged, &s->first,
		     start, n);
	}
	emit_backends(e, members, n, start);
	for (unsigned m = 0; m < n; m++) {
		struct core *c = &e->core[members[m]];

		c->merged_end_ns = c->pub.end_ns;
		c->has_pub = false;
		st_worker_release(atomic_load(&c->worker), c->pub.seq);
	}
	STAT_ADD(e->stats.epochs_merged, 1);
}

/*
 * One merger step: the oldest published epoch is merged with the cores that
 * published the same epoch, once every core that still could has done so
 * (or the grace has passed).  Returns false when there was nothing to do.
 */
static bool merge_step(struct st_engine *e, uint64_t *waiting_since,
		       uint64_t *waiting_for)
{
	unsigned members[ST_ENGINE_WORKERS_MAX], n = 0;
	uint64_t start = UINT64_MAX, end = 0;
	bool can_wait = false;

	for (unsigned i = 0; i < e->cfg.workers; i++) {
		struct core *c = &e->core[i];
		struct st_worker *w = atomic_load_explicit(&c->worker, memory_order_acquire);

		if (!c->has_pub && w && st_worker_published(w, &c->pub))
			c->has_pub = true;
		if (c->has_pub && c->pub.start_ns < start)
			start = c->pub.start_ns;
	}
	if (start == UINT64_MAX)
		return false;
	for (unsigned i = 0; i < e->cfg.workers; i++) {
		struct core *c = &e->core[i];

		if (c->has_pub && c->pub.start_ns == start) {
			if (n == 0)
				end = c->pub.end_ns;
			if (c->pub.end_ns == end)
				members[n++] = i;
		} else if (!c->has_pub &&
			   !atomic_load_explicit(&c->done, memory_order_acquire) &&
			   c->merged_end_ns <= start) {
			can_wait = true;   /* it may still publish this epoch */
		}
	}
	if (n == 0)
		return false;   /* not reached: the oldest start is someone's */
	if (n < e->cfg.workers && can_wait && !stopping(e)) {
		uint64_t now = mono_ns();

		if (*waiting_for != start) {
			*waiting_for = start;
			*waiting_since = now;
		}
		if (e->finite || now - *waiting_since < e->cfg.grace_ns)
			return false;
	}
	merge_group(e, members, n);
	return true;
}

static void *merger_main(void *arg)
{
	struct st_engine *e = arg;
	uint64_t since = 0, waiting_for = 0;

	for (;;) {
		bool all_done = true;

		if (merge_step(e, &since, &waiting_for))
			continue;
		for (unsigned i = 0; i < e->cfg.workers; i++)
			if (!atomic_load_explicit(&e->core[i].done, memory_order_acquire))
				all_done = false;
		if (all_done) {
			/* Every core's last publication precedes its done
			 * flag: drain what is left. */
			while (merge_step(e, &since, &waiting_for))
				;
			break;
		}
		nap(MERGER_POLL_NS);
	}
	return NULL;
}

/* ---- life cycle --------------------------------------------------------- */

struct st_engine *st_engine_create(const struct st_engine_config *cfg,
				   struct st_capture *cap, char *err, size_t errlen)
{
	struct st_engine *e;
	unsigned slots = 64;

	if (cfg->workers == 0 || cfg->workers > ST_ENGINE_WORKERS_MAX) {
		snprintf(err, errlen, "workers must be 1..%u", ST_ENGINE_WORKERS_MAX);
		goto out_inval;
	}
	if (!cfg->output.reserve || !cfg->output.commit) {
		snprintf(err, errlen, "no output for the profiles");
		goto out_inval;
	}
	if (!st_worker_linktype_supported(cap->linktype)) {
		snprintf(err, errlen, "link type %d is not supported", cap->linktype);
		goto out_inval;
	}
	if (cfg->clock == ST_ENGINE_CLOCK_PACKET && !cap->timestamps) {
		snprintf(err, errlen, "the %s input carries no timestamps: "
			 "use the wall clock", cap->backend);
		goto out_inval;
	}
	if (cap->queues > 1 && cap->queues < cfg->workers) {
		snprintf(err, errlen, "%u queues for %u workers: give each worker a "
			 "queue, or use one queue", cap->queues, cfg->workers);
		goto out_inval;
	}
	if (cap->queues > 1 && !cap->flow_affinity) {
		snprintf(err, errlen, "the %s input's %u queues do not keep a flow's "
			 "two directions together (no symmetric RSS)",
			 cap->backend, cap->queues);
		goto out_inval;
	}
	if (cfg->inbox_bytes < 65536 || (cfg->inbox_bytes & (cfg->inbox_bytes - 1))) {
		snprintf(err, errlen, "inbox size must be a power of two >= 64 KiB");
		goto out_inval;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		goto out_nomem;
	e->cfg = *cfg;
	e->cfg.worker.double_buffered = true;
	e->cap = cap;
	e->dispatch = cap->queues == 1 && cfg->workers > 1;
	e->keep = e->dispatch && cap->ops->rx_keep && cap->ops->kept_free;
	e->rebalance = e->dispatch && cfg->dispatch_rebalance_ns &&
		       (!cap->finite || cfg->dispatch_rebalance_finite);
	e->finite = cap->finite;
	e->epoch_ns = cfg->worker.sketch.epoch_ns;
	while (slots < 2 * cfg->worker.max_streams * cfg->workers)
		slots *= 2;
	e->slots = calloc(slots, sizeof(*e->slots));
	e->slot_mask = slots - 1;
	/* the inboxes' indexes are cache-line aligned, so the cores are */
	e->core = aligned_alloc(_Alignof(struct core), cfg->workers * sizeof(*e->core));
	if (e->core)
		memset(e->core, 0, cfg->workers * sizeof(*e->core));
	e->backends = st_be_merge_create();
	if (!e->slots || !e->core || !e->backends)
		goto out_free;
	if (e->dispatch) {
		e->disp = calloc(1, sizeof(*e->disp));
		if (!e->disp)
			goto out_free;
		memset(e->disp->reta, BUCKET_UNMAPPED, sizeof(e->disp->reta));
		e->disp->until_forced_move = cfg->dispatch_move_every_frames;
	}
	for (unsigned i = 0; i < cfg->workers; i++) {
		struct core *c = &e->core[i];

		c->e = e;
		c->id = i;
		if (e->dispatch) {
			c->inbox.size = cfg->inbox_bytes;
			c->inbox.buf = aligned_alloc(ST_CACHE_LINE, cfg->inbox_bytes);
			if (!c->inbox.buf)
				goto out_free;
		}
	}
	return e;
out_free:
	st_engine_destroy(e);
out_nomem:
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
	return NULL;
out_inval:
	errno = EINVAL;
	return NULL;
}

static void *core_thread(void *arg)
{
	struct core *c = arg;

	core_main(c->e, c->id);
	return NULL;
}

int st_engine_run(struct st_engine *e, char *err, size_t errlen)
{
	pthread_t threads[ST_ENGINE_WORKERS_MAX], merger;
	const struct st_capture_ops *ops = e->cap->ops;
	unsigned started = 0;
	int rc;

	e->stats.running = true;
	rc = pthread_create(&merger, NULL, merger_main, e);
	if (rc) {
		snprintf(err, errlen, "merger thread: %s", strerror(rc));
		return -rc;
	}
	if (ops->start) {
		rc = -ops->start(e->cap, e->cfg.workers, core_main, e);
		if (rc) {
			snprintf(err, errlen, "%s: cannot start %u worker cores: %s",
				 e->cap->backend, e->cfg.workers, strerror(rc));
			goto out_stop;
		}
		ops->join(e->cap);
	} else {
		for (; started < e->cfg.workers; started++) {
			rc = pthread_create(&threads[started], NULL, core_thread,
					    &e->core[started]);
			if (rc) {
				snprintf(err, errlen, "worker thread: %s", strerror(rc));
				goto out_stop;
			}
		}
		for (unsigned i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
	}
	pthread_join(merger, NULL);
	e->stats.running = false;
	rc = atomic_load(&e->error);
	if (rc)
		snprintf(err, errlen, "%s input: %s", e->cap->backend, strerror(-rc));
	return rc;
out_stop:
	/* Cores that did start see the stop; cores that never started are
	 * done as they are, so that the merger can finish. */
	atomic_store(&e->stop, 1);
	for (unsigned i = started; i < e->cfg.workers; i++)
		atomic_store(&e->core[i].done, true);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_join(merger, NULL);
	e->stats.running = false;
	return -rc;
}

void st_engine_stop(struct st_engine *e)
{
	atomic_store_explicit(&e->stop, 1, memory_order_relaxed);
}

void st_engine_destroy(struct st_engine *e)
{
	if (!e)
		return;
	if (e->core)
		for (unsigned i = 0; i < e->cfg.workers; i++) {
			st_worker_destroy(atomic_load(&e->core[i].worker));
			free(e->core[i].inbox.buf);
		}
	if (e->slots)
		for (unsigned i = 0; i <= e->slot_mask; i++)
			st_sset_destroy(e->slots[i].merged);
	st_be_merge_destroy(e->backends);
	free(e->disp);
	free(e->slots);
	free(e->core);
	free(e);
}

unsigned st_engine_workers(const struct st_engine *e)
{
	return e->cfg.workers;
}

void st_engine_core_stats(const struct st_engine *e, unsigned core,
			  struct st_engine_core_stats *s)
{
	const struct st_engine_core_stats *c = &e->core[core].stats;

	memset(s, 0, sizeof(*s));
	s->frames = STAT_GET(c->frames);
	s->bytes = STAT_GET(c->bytes);
	s->polled = STAT_GET(c->polled);
	s->dispatched = STAT_GET(c->dispatched);
	s->inbox_full_drops = STAT_GET(c->inbox_full_drops);
	s->inbox_waits = STAT_GET(c->inbox_waits);
	s->inbox_oversize_drops = STAT_GET(c->inbox_oversize_drops);
	s->idle_ns = STAT_GET(c->idle_ns);
	s->dispatch_holds = STAT_GET(c->dispatch_holds);
	s->dispatch_buckets = STAT_GET(c->dispatch_buckets);
	s->records = STAT_GET(c->records);
	s->record_bytes = STAT_GET(c->record_bytes);
	s->egress_records = STAT_GET(c->egress_records);
	s->decode_drops = STAT_GET(c->decode_drops);
	s->worker_drops = STAT_GET(c->worker_drops);
	s->reassembly_gaps = STAT_GET(c->reassembly_gaps);
	s->parse_errors = STAT_GET(c->parse_errors);
	s->flows_active = STAT_GET(c->flows_active);
	s->epochs_published = STAT_GET(c->epochs_published);
	s->epochs_lost = STAT_GET(c->epochs_lost);
	s->records_lost = STAT_GET(c->records_lost);
	for (unsigned d = 0; d < ST_CAPTURE_DROP__COUNT; d++)
		s->capture_drops[d] = STAT_GET(c->capture_drops[d]);
	for (unsigned d = 0; d < ST_DECODE__COUNT; d++)
		s->decode_drop[d] = STAT_GET(c->decode_drop[d]);
	for (unsigned d = 0; d < ST_WORKER_DROP__COUNT; d++)
		s->worker_drop[d] = STAT_GET(c->worker_drop[d]);
	s->streams = STAT_GET(c->streams);
}

void st_engine_stats(const struct st_engine *e, struct st_engine_stats *s)
{
	s->epochs_merged = STAT_GET(e->stats.epochs_merged);
	s->profiles = STAT_GET(e->stats.profiles);
	s->partial_profiles = STAT_GET(e->stats.partial_profiles);
	s->output_drops = STAT_GET(e->stats.output_drops);
	s->build_errors = STAT_GET(e->stats.build_errors);
	s->merge_errors = STAT_GET(e->stats.merge_errors);
	s->stream_slots_full = STAT_GET(e->stats.stream_slots_full);
	s->backends_records = STAT_GET(e->stats.backends_records);
	s->backends_build_errors = STAT_GET(e->stats.backends_build_errors);
	s->dispatch_moves = STAT_GET(e->stats.dispatch_moves);
	s->epoch_start_ns = atomic_load_explicit(&((struct st_engine *)e)->origin_ns,
						 memory_order_relaxed);
	s->running = e->stats.running;
}

int st_engine_stats_json(const struct st_engine *e, FILE *out, bool detail)
{
	struct st_engine_stats s;

	st_engine_stats(e, &s);
	fprintf(out, "{\"running\":%s,\"epoch_start_ns\":%" PRIu64
		",\"dispatch_moves\":%" PRIu64 ",\"merger\":{\"epochs_merged\":%" PRIu64 ",\"profiles\":%" PRIu64
		",\"partial_profiles\":%" PRIu64 ",\"output_drops\":%" PRIu64
		",\"build_errors\":%" PRIu64 ",\"merge_errors\":%" PRIu64
		",\"stream_slots_full\":%" PRIu64 ",\"backends_records\":%" PRIu64
		",\"backends_build_errors\":%" PRIu64 "},\"capture\":",
		s.running ? "true" : "false", s.epoch_start_ns, s.dispatch_moves,
		s.epochs_merged, s.profiles, s.partial_profiles, s.output_drops,
		s.build_errors, s.merge_errors, s.stream_slots_full,
		s.backends_records, s.backends_build_errors);
	if (!detail || e->cap->ops->stats_json(e->cap, out) < 0)
		fprintf(out, "{\"backend\":\"%s\",\"queues\":%u}", e->cap->backend,
			e->cap->queues);
	fputs(",\"cores\":[", out);
	for (unsigned i = 0; i < e->cfg.workers; i++) {
		const struct core *c = &e->core[i];
		struct st_worker *w = atomic_load(&((struct core *)c)->worker);
		struct st_engine_core_stats cs;

		st_engine_core_stats(e, i, &cs);
		fprintf(out, "%s{\"core\":%u,\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64
			",\"polled\":%" PRIu64 ",\"dispatched\":%" PRIu64
			",\"inbox_full_drops\":%" PRIu64 ",\"inbox_oversize_drops\":%" PRIu64
			",\"inbox_waits\":%" PRIu64 ",\"idle_ns\":%" PRIu64
			",\"dispatch_holds\":%" PRIu64 ",\"dispatch_buckets\":%" PRIu64
			",\"records\":%" PRIu64 ",\"record_bytes\":%" PRIu64
			",\"egress_records\":%" PRIu64 ",\"decode_drops\":%" PRIu64
			",\"worker_drops\":%" PRIu64 ",\"reassembly_gaps\":%" PRIu64
			",\"parse_errors\":%" PRIu64 ",\"flows_active\":%" PRIu64
			",\"streams\":%u,\"epochs_published\":%" PRIu64
			",\"epochs_lost\":%" PRIu64 ",\"records_lost\":%" PRIu64
			",\"capture_drops\":{",
			i ? "," : "", i, cs.frames, cs.bytes, cs.polled, cs.dispatched,
			cs.inbox_full_drops, cs.inbox_oversize_drops, cs.inbox_waits,
			cs.idle_ns, cs.dispatch_holds, cs.dispatch_buckets,
			cs.records, cs.record_bytes,
			cs.egress_records, cs.decode_drops, cs.worker_drops,
			cs.reassembly_gaps, cs.parse_errors, cs.flows_active, cs.streams,
			cs.epochs_published, cs.epochs_lost, cs.records_lost);
		for (unsigned d = 0; d < ST_CAPTURE_DROP__COUNT; d++)
			fprintf(out, "%s\"%s\":%" PRIu64, d ? "," : "",
				st_capture_drop_name(d), cs.capture_drops[d]);
		fputc('}', out);
		/* by reason: the decoder's (slot 0 is "ok", not a drop) and
		 * the worker's own; only reasons seen */
		fputs(",\"decode_drop\":{", out);
		for (unsigned d = 1, first = 1; d < ST_DECODE__COUNT; d++)
			if (cs.decode_drop[d]) {
				fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",",
					st_decode_reason_name((enum st_decode_result)d),
					cs.decode_drop[d]);
				first = 0;
			}
		fputs("},\"worker_drop\":{", out);
		for (unsigned d = 0, first = 1; d < ST_WORKER_DROP__COUNT; d++)
			if (cs.worker_drop[d]) {
				fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",",
					st_worker_drop_name((enum st_worker_drop)d),
					cs.worker_drop[d]);
				first = 0;
			}
		fputc('}', out);
		if (detail) {
			fputs(",\"worker\":", out);
			if (!w || st_worker_stats_json(w, out) < 0)
				fputs("null", out);
		}
		fputc('}', out);
	}
	fputs("]}", out);
	return ferror(out) ? -EIO : 0;
}
