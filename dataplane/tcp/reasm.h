/*
 * TCP reassembly, one direction of one flow at a time: turns the segments
 * a monitor sees (lost, duplicated, reordered, cut anywhere) into the
 * in-order byte stream a consumer (a record codec) parses, with bounded
 * memory per direction and per core.  reasm.c opens with the design: the
 * zero-copy fast path, the carry, the out-of-order queue and the block pool.
 *
 * The consumer interface is the carry contract of dataplane/codec/codec.h
 * seen from this side (this module does not include codec.h):
 *   - feed() gets the next in-order bytes and returns how many it consumed;
 *     the rest is the head of an unfinished unit, which the reassembler keeps
 *     (the "carry", at most carry_bytes_max bytes) and offers again followed
 *     by the bytes that arrive next.  Every byte is offered in sequence order
 *     and, until the next gap(), exactly once past the consumer's consumed
 *     point.  The pointer is valid only during the call.
 *   - the consumer promises: offered more than carry_bytes_max bytes, it
 *     consumes at least one.  A consumer that breaks this is not looped on:
 *     its unit is dropped, gap() called, `carry_overflow` counted.
 *   - gap() says bytes were lost, or the stream restarted (a new SYN, a RST):
 *     the consumer forgets its partial unit and resynchronises.
 *
 * Sequence numbers are compared modulo 2^32 (RFC 9293 section 3.4; serial
 * number arithmetic as RFC 1982 section 3.2): a is before b when
 * (int32_t)(a - b) < 0.  SYN and FIN each occupy one sequence number
 * (RFC 9293 section 3.4).
 *
 * Thread safety: a pool and every direction that uses it belong to one
 * worker core; nothing here locks.  Only st_reasm_pool_create/destroy
 * allocate; st_reasm_segment and the other per-direction calls never
 * allocate, never make a system call and run in time bounded by the
 * segment's length and the configured windows.
 */
#ifndef ST_REASM_H
#define ST_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults the pipeline may use (carry_bytes_max is the codec's hold_max). */
#define ST_REASM_OOO_SEGMENTS_DEFAULT 8u
#define ST_REASM_OOO_BYTES_DEFAULT 65536u
#define ST_REASM_BUDGET_BYTES_DEFAULT (64ull << 20)

/* Limits of st_reasm_config (create refuses values outside them). */
#define ST_REASM_CARRY_BYTES_MAX_LIMIT (1u << 24)
#define ST_REASM_OOO_SEGMENTS_LIMIT 255u
#define ST_REASM_OOO_BYTES_LIMIT (1u << 24)
#define ST_REASM_BUDGET_BYTES_LIMIT (1ull << 40)

/* The pool hands out blocks of 2^k bytes, k >= ST_REASM_BLOCK_MIN_SHIFT. */
#define ST_REASM_BLOCK_MIN_SHIFT 8
#define ST_REASM_BLOCK_MIN_BYTES (1u << ST_REASM_BLOCK_MIN_SHIFT)
/* Bytes of a queued segment's block taken by its descriptor. */
#define ST_REASM_SEG_HEADER_BYTES 32u
/* A carry grows by at least this many bytes of the next segment per
 * feed(), and may reach carry_bytes_max + ST_REASM_APPEND_MIN_BYTES while a
 * call is in progress (so that the consumer can be offered more than its
 * hold_max); between calls it is at most carry_bytes_max. */
#define ST_REASM_APPEND_MIN_BYTES 256u

struct st_reasm_consumer {
	/* Next in-order bytes; returns bytes consumed (0..len).  Unconsumed
	 * bytes are the head of an incomplete unit: they are kept (carry) and
	 * offered again followed by the next bytes.  The consumer promises:
	 * if len > carry_bytes_max, consumed > 0. */
	size_t (*feed)(void *ctx, const uint8_t *data, size_t len, uint64_t ts_ns);
	/* Bytes were lost (or the stream restarted): the consumer resyncs. */
	void (*gap)(void *ctx);
	void *ctx;
};

struct st_reasm_config {
	uint32_t carry_bytes_max;   /* per direction: the consumer's hold_max,
				     * 1..ST_REASM_CARRY_BYTES_MAX_LIMIT */
	uint32_t ooo_segments_max;  /* per direction, 0..ST_REASM_OOO_SEGMENTS_LIMIT
				     * (0: every hole is declared lost at once) */
	uint32_t ooo_bytes_max;     /* per direction, payload bytes queued,
				     * 0..ST_REASM_OOO_BYTES_LIMIT */
	uint64_t budget_bytes;      /* every carry and queued segment of the
				     * pool (the core), in blocks; at least one
				     * largest block (st_reasm_pool_block_max_bytes) */
};

/* st_reasm_dir.flags */
#define ST_REASM_F_SYNCED 0x01  /* next_seq is valid */
#define ST_REASM_F_ISN    0x02  /* isn is valid (a SYN was seen) */
#define ST_REASM_F_FIN    0x04  /* fin_seq is valid (a FIN was seen) */
#define ST_REASM_F_CLOSED 0x08  /* every byte up to the FIN delivered */

struct st_reasm_seg;  /* a queued out-of-order segment, inside a pool block */

/*
 * One direction of one flow.  Embedded by the pipeline in the flow's user
 * area; make it fresh with st_reasm_dir_init() and give its memory back
 * with st_reasm_release() before the flow is forgotten.  Read-only to
 * everyone but this module.
 */
struct st_reasm_dir {
	uint8_t *carry;                 /* carry block; NULL when carry_len == 0 */
	struct st_reasm_seg *ooo_head;  /* queued segments, ascending seq */
	uint32_t next_seq;              /* next byte to deliver (F_SYNCED) */
	uint32_t isn;                   /* initial sequence number (F_ISN) */
	uint32_t fin_seq;               /* sequence number of the FIN (F_FIN) */
	uint32_t carry_len;             /* bytes held in the carry */
	uint32_t ooo_bytes;             /* payload bytes queued */
	uint32_t gaps;                  /* holes declared on this direction
					 * (saturates) */
	uint8_t flags;                  /* ST_REASM_F_* */
	uint8_t carry_order;            /* log2 of the carry block's bytes */
	uint8_t ooo_segs;               /* segments queued */
	uint8_t reserved[5];            /* zero */
};

#define ST_REASM_DIR_BYTES 48
_Static_assert(sizeof(struct st_reasm_dir) == ST_REASM_DIR_BYTES,
	       "struct st_reasm_dir is embedded in flow entries: keep it small");

/* Per-core counters; each field is a uint64_t, named in st_reasm_stat_names. */
struct st_reasm_stats {
	uint64_t segments;          /* st_reasm_segment calls */
	uint64_t bytes_in_order;    /* new stream bytes offered, once each */
	uint64_t bytes_zero_copy;   /* consumed in the captured segment itself */
	uint64_t bytes_carried;     /* copied into a carry */
	uint64_t bytes_from_queue;  /* consumed in place in a queued copy */
	uint64_t ooo_queued;        /* segments (or pieces) queued out of order */
	uint64_t ooo_delivered;     /* queued segments delivered in order */
	uint64_t duplicates;        /* segments entirely old or already queued */
	uint64_t duplicate_bytes;
	uint64_t overlaps_trimmed;  /* segments cut to their new bytes */
	uint64_t gaps;              /* holes declared lost (gap() called) */
	uint64_t gap_bytes;         /* sequence bytes never offered */
	uint64_t carry_dropped_bytes; /* offered, unconsumed, then dropped (a
				     * gap, a close, a reset, a release) */
	uint64_t ooo_full;          /* holes declared because the window was full */
	uint64_t pool_exhausted;    /* a carry or a queued segment found no block */
	uint64_t carry_overflow;    /* consumer consumed nothing past its hold_max */
	uint64_t consumer_overrun;  /* feed() returned more than len (clamped) */
	uint64_t midstream_starts;  /* synced on data without a SYN */
	uint64_t syn_restarts;      /* a SYN with a new ISN on a synced direction */
	uint64_t syn_duplicates;    /* a SYN with the known ISN again */
	uint64_t fins;              /* directions closed by their FIN */
	uint64_t after_fin_bytes;   /* bytes past the FIN, ignored */
	uint64_t resets;            /* RST segments */
	uint64_t released_bytes;    /* queued bytes freed by reset or release */
};

#define ST_REASM_STATS_COUNT (sizeof(struct st_reasm_stats) / sizeof(uint64_t))

/* snake_case names, in field order; ST_REASM_STATS_COUNT entries. */
extern const char *const st_reasm_stat_names[];

/* Counter i (0..ST_REASM_STATS_COUNT-1) of s, by the order above; 0 past it. */
uint64_t st_reasm_stat(const struct st_reasm_stats *s, unsigned i);

struct st_reasm_pool;

/*
 * A pool of reassembly memory for one core: a fixed arena of
 * cfg->budget_bytes (rounded down to whole largest blocks) allocated here,
 * never grown.  Returns NULL with errno EINVAL (a field outside its limit,
 * or a budget below one largest block) or ENOMEM.
 */
struct st_reasm_pool *st_reasm_pool_create(const struct st_reasm_config *cfg);
/* Frees the arena; directions that still point into it must not be used
 * again.  NULL is a no-op. */
void st_reasm_pool_destroy(struct st_reasm_pool *pool);

/* The configuration the pool was created with. */
const struct st_reasm_config *st_reasm_pool_config(const struct st_reasm_pool *pool);
/* The pool's counters (owned by the pool; the owning core writes them). */
const struct st_reasm_stats *st_reasm_pool_stats(const struct st_reasm_pool *pool);
/* Zeroes the counters. */
void st_reasm_pool_stats_reset(struct st_reasm_pool *pool);
/* Bytes the pool holds from the system: arena, block map, the pool itself.
 * Constant from create to destroy. */
size_t st_reasm_pool_memory_bytes(const struct st_reasm_pool *pool);
/* Bytes of the arena (the usable budget). */
size_t st_reasm_pool_arena_bytes(const struct st_reasm_pool *pool);
/* Bytes of the arena in blocks handed out now (<= arena bytes). */
size_t st_reasm_pool_bytes_in_use(const struct st_reasm_pool *pool);
/* The largest block: 2^k >= max(carry_bytes_max + ST_REASM_APPEND_MIN_BYTES,
 * ooo_bytes_max + ST_REASM_SEG_HEADER_BYTES, ST_REASM_BLOCK_MIN_BYTES). */
size_t st_reasm_pool_block_max_bytes(const struct st_reasm_pool *pool);

/* A fresh direction: not synced, nothing held.  Does not free anything. */
void st_reasm_dir_init(struct st_reasm_dir *d);

/* True once every byte up to the direction's FIN was delivered. */
static inline bool st_reasm_dir_closed(const struct st_reasm_dir *d)
{
	return (d->flags & ST_REASM_F_CLOSED) != 0;
}

/*
 * One TCP segment of direction d: sequence number `seq` (of the SYN when
 * the SYN flag is set, else of the first payload byte), `tcp_flags`
 * (ST_TCP_* of dataplane/pkt.h), `len` payload bytes captured at ts_ns.
 * Calls c->feed and c->gap zero or more times before returning; `payload`
 * is only read during the call (bytes that must wait are copied into the
 * pool).  Everything that goes wrong is counted, never returned.
 */
void st_reasm_segment(struct st_reasm_pool *pool, struct st_reasm_dir *d,
		      uint32_t seq, uint8_t tcp_flags, const uint8_t *payload,
		      uint32_t len, uint64_t ts_ns,
		      const struct st_reasm_consumer *c);

/*
 * Declares every hole before queued segments lost (a flow timing out, a
 * capture ending): gap() per hole, then the queued bytes are delivered.
 * The carry stays (its unit may still complete).  No-op when nothing is
 * queued.
 */
void st_reasm_flush_gap(struct st_reasm_pool *pool, struct st_reasm_dir *d,
			const struct st_reasm_consumer *c);

/* Frees the carry and the queue of d (counted in carry_dropped_bytes and
 * released_bytes) and makes d fresh, as st_reasm_dir_init.  No callback. */
void st_reasm_release(struct st_reasm_pool *pool, struct st_reasm_dir *d);

#endif
