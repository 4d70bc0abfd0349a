/*
 * TCP reassembly per direction (see reasm.h for the interface).
 *
 * A passive monitor sees each segment once, in capture order, possibly
 * lost, duplicated or reordered, and may start in the middle of a
 * connection.  It must hand a record codec the in-order bytes of each
 * direction without copying them in the common case and with memory that
 * stays bounded however the traffic misbehaves.
 *
 * Delivery.  A segment that starts at next_seq (RFC 9293 section 3.4
 * numbering; comparisons modulo 2^32) is offered to the consumer in place:
 *   - carry empty: feed(segment).  While more than carry_bytes_max bytes
 *     remain unconsumed the rest is offered again (the consumer promised to
 *     consume something from such an offer); the tail left, at most
 *     carry_bytes_max bytes, is copied into the carry.
 *   - carry not empty: bytes of the segment are appended to the carry, at
 *     least ST_REASM_APPEND_MIN_BYTES and as many as the carry already
 *     holds (so the carry at most doubles per offer, and a small unit does
 *     not drag a whole jumbo segment through a copy), and the carry is
 *     offered.  Once the consumer has consumed every byte the carry held
 *     before the append, the carry is freed and the segment is offered in
 *     place from the first byte not consumed.  The carry may exceed
 *     carry_bytes_max by up to ST_REASM_APPEND_MIN_BYTES during the call,
 *     so that a consumer holding exactly hold_max bytes can be offered more;
 *     between calls it never exceeds carry_bytes_max.
 *   - a consumer that consumes nothing from an offer above carry_bytes_max
 *     broke its promise: its unit is dropped (carry_overflow), gap() is
 *     called; nothing loops.
 *
 * Out of order.  A segment past next_seq is copied into the direction's
 * queue: a singly linked list sorted by sequence number, its segments never
 * overlapping (a new segment is trimmed against its neighbours; queued
 * segments it covers entirely are replaced).  When the hole fills, the queue
 * is drained in order through the same delivery.  When a segment does not
 * fit (ooo_segments_max, ooo_bytes_max, or no block in the pool), the hole
 * is declared lost: gap() is called, the carry (whose unit the hole broke)
 * dropped, next_seq moves to the lowest queued segment or the new one, the
 * queue drains, and the new segment is placed again.  Each round delivers
 * the new segment or empties at least one queued one, so this ends.
 *
 * Old data.  A segment entirely before next_seq is a retransmission and is
 * ignored (duplicates); one that straddles next_seq is cut to its new bytes
 * (overlaps_trimmed).  The monitor keeps the first copy it saw of each byte.
 *
 * Connection events.  SYN: isn = seq, next_seq = isn + 1 (the SYN occupies
 * one sequence number, RFC 9293 section 3.4); its payload (TCP Fast Open,
 * RFC 7413) follows at isn + 1.  A SYN with the known ISN is a
 * retransmission; a SYN with another ISN on a synced direction is a new
 * connection on the same ports: state dropped, gap() called (syn_restarts).
 * FIN: its sequence number is the byte after the last payload byte; once
 * every byte before it is delivered, the direction is closed (the FIN takes
 * one more sequence number), its carry dropped, and bytes past the FIN are
 * counted and ignored.  RST: the connection is gone (RFC 9293 section
 * 3.10.7.4): buffers dropped, the direction unsynced, gap() called if it
 * was synced; the payload of a RST is diagnostic text (RFC 9293 section
 * 3.5.3), not stream data, and is ignored.  Data without a SYN syncs the
 * direction at its first byte (midstream_starts; a capture that began
 * mid-connection), without a gap() call: the consumer starts fresh and
 * must cope with a first unit that began before the capture.
 *
 * Not done: no receive-window check (a monitor does not know the window),
 * so a stray segment far ahead takes a queue slot until the window fills
 * or the flow is flushed; no urgent-data handling (URG bytes are stream
 * bytes, RFC 9293 section 3.8.5 / RFC 6093).

 * Memory.  The pool is one arena of budget_bytes allocated at create time
 * and handed out as power-of-two blocks by a binary buddy allocator
 * (Knowlton 1965; Knuth, TAOCP vol. 1, 2.5): blocks from
 * ST_REASM_BLOCK_MIN_BYTES up to the largest block the configuration needs,
 * one free list per size, and one byte per minimum block that holds the
 * size of the free block starting there (0 when none does), so that freeing
 * merges a block with its free buddy in O(1) per level.  A carry is one
 * block (contiguous, as feed() needs), grown by moving to a larger block; a
 * queued segment is one block: a 32-byte descriptor followed by its bytes.
 * Nothing else allocates.  The arena is fixed, so the budget cannot be
 * exceeded; a segment that finds no block is treated as lost
 * (pool_exhausted).
 *
 * Per direction (struct st_reasm_dir, 48 bytes): the carry block and its
 * length, the queue head with its segment and byte counts, next_seq, isn,
 * fin_seq, flags and a gap count.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/pkt.h"
#include "dataplane/tcp/reasm.h"

#define SHIFT_LIMIT 48  /* free lists indexed by log2 of the block size */

struct st_reasm_seg {
	struct st_reasm_seg *next;
	uint64_t ts_ns;
	uint32_t seq;
	uint32_t len;
	uint8_t shift;      /* log2 of the block's bytes */
	uint8_t reserved[7];
};

_Static_assert(sizeof(struct st_reasm_seg) == ST_REASM_SEG_HEADER_BYTES,
	       "the descriptor size is part of the documented block size");

struct free_block {
	struct free_block *next, *prev;
};

struct st_reasm_pool {
	struct st_reasm_config cfg;
	struct st_reasm_stats stats;
	uint8_t *arena;
	size_t arena_bytes;
	size_t in_use_bytes;
	uint8_t *free_shift;    /* per minimum block: shift of the free block
				 * starting there, 0 if none */
	unsigned max_shift;
	struct free_block *free_list[SHIFT_LIMIT];
};

enum queue_result {
	QUEUED,
	COVERED,        /* every byte is already queued */
	NO_ROOM_WINDOW, /* ooo_segments_max or ooo_bytes_max */
	NO_ROOM_POOL,
};

const char *const st_reasm_stat_names[] = {
	"segments", "bytes_in_order", "bytes_zero_copy", "bytes_carried",
	"bytes_from_queue", "ooo_queued", "ooo_delivered", "duplicates", "duplicate_bytes",
	"overlaps_trimmed", "gaps", "gap_bytes", "carry_dropped_bytes",
	"ooo_full", "pool_exhausted", "carry_overflow", "consumer_overrun",
	"midstream_starts", "syn_restarts", "syn_duplicates", "fins",
	"after_fin_bytes", "resets", "released_bytes",
};

_Static_assert(sizeof(st_reasm_stat_names) / sizeof(st_reasm_stat_names[0]) ==
	       ST_REASM_STATS_COUNT, "one name per counter");
_Static_assert(sizeof(struct st_reasm_stats) == ST_REASM_STATS_COUNT * sizeof(uint64_t),
	       "counters are all uint64_t");

/* ---- sequence numbers, modulo 2^32 ---- */

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* ---- the buddy allocator ---- */

static unsigned shift_for(size_t bytes)
{
	unsigned shift = ST_REASM_BLOCK_MIN_SHIFT;

	while (((size_t)1 << shift) < bytes)
		shift++;
	return shift;
}

static void free_push(struct st_reasm_pool *p, uint8_t *at, unsigned shift)
{
	struct free_block *b = (struct free_block *)(void *)at;

	b->prev = NULL;
	b->next = p->free_list[shift];
	if (b->next)
		b->next->prev = b;
	p->free_list[shift] = b;
	p->free_shift[(size_t)(at - p->arena) >> ST_REASM_BLOCK_MIN_SHIFT] = (uint8_t)shift;
}

static void free_unlink(struct st_reasm_pool *p, struct free_block *b, unsigned shift)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		p->free_list[shift] = b->next;
	if (b->next)
		b->next->prev = b->prev;
	p->free_shift[(size_t)((uint8_t *)b - p->arena) >> ST_REASM_BLOCK_MIN_SHIFT] = 0;
}

static void *block_alloc(struct st_reasm_pool *p, unsigned shift)
{
	unsigned k = shift;
	struct free_block *b;

	while (k <= p->max_shift && !p->free_list[k])
		k++;
	if (k > p->max_shift)
		return NULL;
	b = p->free_list[k];
	free_unlink(p, b, k);
	while (k > shift) {
		k--;
		free_push(p, (uint8_t *)b + ((size_t)1 << k), k);
	}
	p->in_use_bytes += (size_t)1 << shift;
	return b;
}

static void block_free(struct st_reasm_pool *p, void *block, unsigned shift)
{
	size_t off = (size_t)((uint8_t *)block - p->arena);

	p->in_use_bytes -= (size_t)1 << shift;
	while (shift < p->max_shift) {
		size_t buddy = off ^ ((size_t)1 << shift);

		if (p->free_shift[buddy >> ST_REASM_BLOCK_MIN_SHIFT] != shift)
			break;
		free_unlink(p, (struct free_block *)(void *)(p->arena + buddy), shift);
		off &= ~((size_t)1 << shift);
		shift++;
	}
	free_push(p, p->arena + off, shift);
}

/* ---- pool ---- */

static bool config_valid(const struct st_reasm_config *cfg)
{
	return cfg->carry_bytes_max >= 1 &&
	       cfg->carry_bytes_max <= ST_REASM_CARRY_BYTES_MAX_LIMIT &&
	       cfg->ooo_segments_max <= ST_REASM_OOO_SEGMENTS_LIMIT &&
	       cfg->ooo_bytes_max <= ST_REASM_OOO_BYTES_LIMIT &&
	       cfg->budget_bytes <= ST_REASM_BUDGET_BYTES_LIMIT;
}

static unsigned config_max_shift(const struct st_reasm_config *cfg)
{
	size_t need = (size_t)cfg->carry_bytes_max + ST_REASM_APPEND_MIN_BYTES;

	if (cfg->ooo_segments_max && cfg->ooo_bytes_max)
		need = ST_MAX(need, (size_t)cfg->ooo_bytes_max + ST_REASM_SEG_HEADER_BYTES);
	return shift_for(need);
}

struct st_reasm_pool *st_reasm_pool_create(const struct st_reasm_config *cfg)
{
	struct st_reasm_pool *p;
	size_t block_max;

	if (!cfg || !config_valid(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	block_max = (size_t)1 << config_max_shift(cfg);
	if (cfg->budget_bytes < block_max) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_errno;
	p->cfg = *cfg;
	p->max_shift = config_max_shift(cfg);
	p->arena_bytes = (size_t)(cfg->budget_bytes / block_max * block_max);
	p->arena = aligned_alloc(ST_CACHE_LINE, p->arena_bytes);
	if (!p->arena)
		goto out_free_pool;
	p->free_shift = calloc(p->arena_bytes >> ST_REASM_BLOCK_MIN_SHIFT, 1);
	if (!p->free_shift)
		goto out_free_arena;
	for (size_t off = p->arena_bytes; off > 0; off -= block_max)
		free_push(p, p->arena + off - block_max, p->max_shift);
	return p;

out_free_arena:
	free(p->arena);
out_free_pool:
	free(p);
out_errno:
	errno = ENOMEM;
	return NULL;
}

void st_reasm_pool_destroy(struct st_reasm_pool *pool)
{
	if (!pool)
		return;
	free(pool->free_shift);
	free(pool->arena);
	free(pool);
}

const struct st_reasm_config *st_reasm_pool_config(const struct st_reasm_pool *pool)
{
	return &pool->cfg;
}

const struct st_reasm_stats *st_reasm_pool_stats(const struct st_reasm_pool *pool)
{
	return &pool->stats;
}

void st_reasm_pool_stats_reset(struct st_reasm_pool *pool)
{
	memset(&pool->stats, 0, sizeof(pool->stats));
}

size_t st_reasm_pool_memory_bytes(const struct st_reasm_pool *pool)
{
	return sizeof(*pool) + pool->arena_bytes +
	       (pool->arena_bytes >> ST_REASM_BLOCK_MIN_SHIFT);
}

size_t st_reasm_pool_arena_bytes(const struct st_reasm_pool *pool)
{
	return pool->arena_bytes;
}

size_t st_reasm_pool_bytes_in_use(const struct st_reasm_pool *pool)
{
	return pool->in_use_bytes;
}

size_t st_reasm_pool_block_max_bytes(const struct st_reasm_pool *pool)
{
	return (size_t)1 << pool->max_shift;
}

uint64_t st_reasm_stat(const struct st_reasm_stats *s, unsigned i)
{
	uint64_t v;

	if (i >= ST_REASM_STATS_COUNT)
		return 0;
	memcpy(&v, (const uint8_t *)s + (size_t)i * sizeof(uint64_t), sizeof(v));
	return v;
}

/* ---- the carry and delivery ---- */

void st_reasm_dir_init(struct st_reasm_dir *d)
{
	memset(d, 0, sizeof(*d));
}

static void carry_free(struct st_reasm_pool *p, struct st_reasm_dir *d)
{
	if (d->carry)
		block_free(p, d->carry, d->carry_order);
	d->carry = NULL;
	d->carry_len = 0;
	d->carry_order = 0;
}

/* Makes the carry hold at least `need` bytes, keeping its content. */
static bool carry_reserve(struct st_reasm_pool *p, struct st_reasm_dir *d, size_t need)
{
	unsigned shift;
	uint8_t *block;

	if (d->carry && need <= ((size_t)1 << d->carry_order))
		return true;
	shift = shift_for(need);
	block = block_alloc(p, shift);
	if (!block)
		return false;
	if (d->carry) {
		memcpy(block, d->carry, d->carry_len);
		block_free(p, d->carry, d->carry_order);
	}
	d->carry = block;
	d->carry_order = (uint8_t)shift;
	return true;
}

/* The consumer's unit is lost (a hole, no memory, a broken promise):
 * drop the carry and `unconsumed` bytes just offered, tell the consumer. */
static void lose_unit(struct st_reasm_pool *p, struct st_reasm_dir *d,
		      size_t unconsumed, const struct st_reasm_consumer *c)
{
	p->stats.gaps++;
	p->stats.carry_dropped_bytes += d->carry_len + unconsumed;
	if (d->gaps != UINT32_MAX)
		d->gaps++;
	carry_free(p, d);
	c->gap(c->ctx);
}

static size_t consume(struct st_reasm_pool *p, const struct st_reasm_consumer *c,
		      const uint8_t *data, size_t len, uint64_t ts_ns)
{
	size_t used = c->feed(c->ctx, data, len, ts_ns);

	if (unlikely(used > len)) {
		p->stats.consumer_overrun++;
		used = len;
	}
	return used;
}

/* Offers (data, len) in place (in the captured segment, or in its queued
 * copy); keeps the unconsumed tail in the empty carry. */
static void feed_in_place(struct st_reasm_pool *p, struct st_reasm_dir *d,
			  const uint8_t *data, size_t len, bool queued, uint64_t ts_ns,
			  const struct st_reasm_consumer *c)
{
	for (;;) {
		size_t used = consume(p, c, data, len, ts_ns);

		if (queued)
			p->stats.bytes_from_queue += used;
		else
			p->stats.bytes_zero_copy += used;
		data += used;
		len -= used;
		if (len == 0)
			return;
		if (len <= p->cfg.carry_bytes_max)
			break;
		if (used == 0) {
			p->stats.carry_overflow++;
			lose_unit(p, d, len, c);
			return;
		}
	}
	if (!carry_reserve(p, d, len)) {
		p->stats.pool_exhausted++;
		lose_unit(p, d, len, c);
		return;
	}
	memcpy(d->carry, data, len);
	d->carry_len = (uint32_t)len;
	p->stats.bytes_carried += len;
}

/*
 * Completes the carried unit with bytes from (*data, *len).  Returns with
 * the carry empty and (*data, *len) the bytes still to offer in place, or
 * with *len == 0 and the carry (at most carry_bytes_max) kept.
 */
static void feed_through_carry(struct st_reasm_pool *p, struct st_reasm_dir *d,
			       const uint8_t **data, size_t *len, uint64_t ts_ns,
			       const struct st_reasm_consumer *c)
{
	const size_t max = p->cfg.carry_bytes_max;
	const size_t limit = max + ST_REASM_APPEND_MIN_BYTES;

	for (;;) {
		size_t old = d->carry_len;
		size_t take = ST_MIN(ST_MIN(*len, limit - old),
				     ST_MAX(old, (size_t)ST_REASM_APPEND_MIN_BYTES));
		size_t used;

		if (take == 0 && old <= max)
			return;
		if (take) {
			if (!carry_reserve(p, d, old + take)) {
				p->stats.pool_exhausted++;
				lose_unit(p, d, 0, c);
				return;
			}
			memcpy(d->carry + old, *data, take);
			d->carry_len = (uint32_t)(old + take);
			p->stats.bytes_carried += take;
		}
		used = consume(p, c, d->carry, d->carry_len, ts_ns);
		if (used >= old) {
			/* The carried head is done; the appended bytes not
			 * consumed are offered again from the segment. */
			*data += used - old;
			*len -= used - old;
			carry_free(p, d);
			return;
		}
		memmove(d->carry, d->carry + used, d->carry_len - used);
		d->carry_len -= (uint32_t)used;
		*data += take;
		*len -= take;
		if (used == 0 && d->carry_len > max) {
			p->stats.carry_overflow++;
			lose_unit(p, d, 0, c);
			return;
		}
	}
}

/* (data, len) are the bytes at next_seq, from a queued copy or not. */
static void deliver(struct st_reasm_pool *p, struct st_reasm_dir *d,
		    const uint8_t *data, size_t len, bool queued, uint64_t ts_ns,
		    const struct st_reasm_consumer *c)
{
	d->next_seq += (uint32_t)len;
	p->stats.bytes_in_order += len;
	if (d->carry_len)
		feed_through_carry(p, d, &data, &len, ts_ns, c);
	if (len)
		feed_in_place(p, d, data, len, queued, ts_ns, c);
}

/* ---- the out-of-order queue ---- */

static inline uint8_t *seg_bytes(struct st_reasm_seg *s)
{
	return (uint8_t *)(s + 1);
}

static void queue_free(struct st_reasm_pool *p, struct st_reasm_dir *d)
{
	struct st_reasm_seg *s;

	while ((s = d->ooo_head) != NULL) {
		d->ooo_head = s->next;
		p->stats.released_bytes += s->len;
		block_free(p, s, s->shift);
	}
	d->ooo_segs = 0;
	d->ooo_bytes = 0;
}

/* Drops everything held (a restart, a reset, a release). */
static void drop_state(struct st_reasm_pool *p, struct st_reasm_dir *d)
{
	p->stats.carry_dropped_bytes += d->carry_len;
	carry_free(p, d);
	queue_free(p, d);
}

static void maybe_close(struct st_reasm_pool *p, struct st_reasm_dir *d)
{
	if ((d->flags & (ST_REASM_F_FIN | ST_REASM_F_CLOSED)) != ST_REASM_F_FIN ||
	    d->next_seq != d->fin_seq)
		return;
	d->next_seq++;
	d->flags |= ST_REASM_F_CLOSED;
	p->stats.fins++;
	drop_state(p, d);
}

/* Delivers the queued segments that the bytes up to next_seq reached. */
static void drain(struct st_reasm_pool *p, struct st_reasm_dir *d,
		  const struct st_reasm_consumer *c)
{
	struct st_reasm_seg *s;

	while ((s = d->ooo_head) != NULL && seq_le(s->seq, d->next_seq)) {
		uint32_t behind = d->next_seq - s->seq;

		d->ooo_head = s->next;
		d->ooo_segs--;
		d->ooo_bytes -= s->len;
		if (behind < s->len) {
			if (behind)
				p->stats.overlaps_trimmed++;
			p->stats.ooo_delivered++;
			deliver(p, d, seg_bytes(s) + behind, s->len - behind, true,
				s->ts_ns, c);
		} else {
			p->stats.duplicates++;
			p->stats.duplicate_bytes += s->len;
		}
		block_free(p, s, s->shift);
	}
	maybe_close(p, d);
}

/* Declares the bytes from next_seq up to `resume` lost. */
static void declare_hole(struct st_reasm_pool *p, struct st_reasm_dir *d,
			 uint32_t resume, const struct st_reasm_consumer *c)
{
	p->stats.gap_bytes += resume - d->next_seq;
	d->next_seq = resume;
	lose_unit(p, d, 0, c);
}

/* Queues (seq, data, len), seq past next_seq, trimmed against the queue. */
static enum queue_result queue_insert(struct st_reasm_pool *p, struct st_reasm_dir *d,
				      uint32_t seq, const uint8_t *data, uint32_t len,
				      uint64_t ts_ns)
{
	struct st_reasm_seg **link = &d->ooo_head, *prev = NULL, *next, *s;
	uint32_t start = seq, end = seq + len, covered_bytes = 0;
	unsigned covered = 0;
	bool trimmed = false;

	while (*link && seq_le((*link)->seq, start)) {
		prev = *link;
		link = &prev->next;
	}
	if (prev) {
		uint32_t prev_end = prev->seq + prev->len;

		if (seq_le(end, prev_end))
			return COVERED;
		if (seq_lt(start, prev_end)) {
			start = prev_end;
			trimmed = true;
		}
	}
	for (next = *link; next && seq_le(next->seq + next->len, end); next = next->next) {
		covered++;
		covered_bytes += next->len;
	}
	if (next && seq_lt(next->seq, end)) {
		end = next->seq;
		trimmed = true;
	}
	if (start == end)   /* between two adjacent queued segments */
		return COVERED;
	if (d->ooo_segs - covered + 1u > p->cfg.ooo_segments_max ||
	    (uint64_t)d->ooo_bytes - covered_bytes + (end - start) > p->cfg.ooo_bytes_max)
		return NO_ROOM_WINDOW;
	s = block_alloc(p, shift_for((size_t)(end - start) + ST_REASM_SEG_HEADER_BYTES));
	if (!s)
		return NO_ROOM_POOL;

	while (*link != next) {
		struct st_reasm_seg *old = *link;

		*link = old->next;
		d->ooo_segs--;
		d->ooo_bytes -= old->len;
		p->stats.overlaps_trimmed++;
		block_free(p, old, old->shift);
	}
	memset(s, 0, sizeof(*s));
	s->seq = start;
	s->len = end - start;
	s->ts_ns = ts_ns;
	s->shift = (uint8_t)shift_for((size_t)s->len + ST_REASM_SEG_HEADER_BYTES);
	memcpy(seg_bytes(s), data + (start - seq), s->len);
	s->next = next;
	*link = s;
	d->ooo_segs++;
	d->ooo_bytes += s->len;
	p->stats.ooo_queued++;
	if (trimmed)
		p->stats.overlaps_trimmed++;
	return QUEUED;
}

/* Payload (seq, data, len) of a synced, open direction. */
static void segment_data(struct st_reasm_pool *p, struct st_reasm_dir *d,
			 uint32_t seq, const uint8_t *data, uint32_t len,
			 uint64_t ts_ns, const struct st_reasm_consumer *c)
{
	for (;;) {
		uint32_t behind = d->next_seq - seq;
		struct st_reasm_seg *low;

		if (seq_lt(seq, d->next_seq)) {
			if (behind >= len) {
				p->stats.duplicates++;
				p->stats.duplicate_bytes += len;
				return;
			}
			p->stats.overlaps_trimmed++;
			seq += behind;
			data += behind;
			len -= behind;
		}
		if (seq == d->next_seq) {
			deliver(p, d, data, len, false, ts_ns, c);
			drain(p, d, c);
			return;
		}
		switch (queue_insert(p, d, seq, data, len, ts_ns)) {
		case QUEUED:
			return;
		case COVERED:
			p->stats.duplicates++;
			p->stats.duplicate_bytes += len;
			return;
		case NO_ROOM_WINDOW:
			p->stats.ooo_full++;
			break;
		case NO_ROOM_POOL:
			p->stats.pool_exhausted++;
			break;
		}
		low = d->ooo_head;
		declare_hole(p, d, low && seq_lt(low->seq, seq) ? low->seq : seq, c);
		drain(p, d, c);
		if (d->flags & ST_REASM_F_CLOSED)
			return;
	}
}

/* ---- segments ---- */

/* A fresh direction that keeps its gap count. */
static void dir_reset(struct st_reasm_pool *p, struct st_reasm_dir *d)
{
	uint32_t gaps = d->gaps;

	drop_state(p, d);
	st_reasm_dir_init(d);
	d->gaps = gaps;
}

static void segment_syn(struct st_reasm_pool *p, struct st_reasm_dir *d,
			uint32_t seq, const struct st_reasm_consumer *c)
{
	if ((d->flags & ST_REASM_F_ISN) && seq == d->isn) {
		p->stats.syn_duplicates++;
		return;
	}
	if (d->flags & ST_REASM_F_SYNCED) {
		p->stats.syn_restarts++;
		dir_reset(p, d);
		c->gap(c->ctx);
	}
	d->isn = seq;
	d->next_seq = seq + 1;
	d->flags = ST_REASM_F_SYNCED | ST_REASM_F_ISN;
}

/* Notes a FIN after (seq, len) and cuts *len to the bytes before the FIN. */
static void segment_fin(struct st_reasm_pool *p, struct st_reasm_dir *d,
			uint32_t seq, uint8_t tcp_flags, uint32_t *len)
{
	int32_t past;

	if ((tcp_flags & ST_TCP_FIN) && !(d->flags & ST_REASM_F_FIN) &&
	    seq_le(d->next_seq, seq + *len)) {
		d->fin_seq = seq + *len;
		d->flags |= ST_REASM_F_FIN;
	}
	if (!(d->flags & ST_REASM_F_FIN))
		return;
	past = (int32_t)(seq + *len - d->fin_seq);
	if (past <= 0)
		return;
	if ((uint32_t)past >= *len) {
		p->stats.after_fin_bytes += *len;
		*len = 0;
	} else {
		p->stats.after_fin_bytes += (uint32_t)past;
		*len -= (uint32_t)past;
	}
}

void st_reasm_segment(struct st_reasm_pool *pool, struct st_reasm_dir *d,
		      uint32_t seq, uint8_t tcp_flags, const uint8_t *payload,
		      uint32_t len, uint64_t ts_ns,
		      const struct st_reasm_consumer *c)
{
	pool->stats.segments++;
	if (unlikely(tcp_flags & ST_TCP_RST)) {
		bool was_synced = d->flags & ST_REASM_F_SYNCED;

		pool->stats.resets++;
		dir_reset(pool, d);
		if (was_synced)
			c->gap(c->ctx);
		return;
	}
	if (unlikely(tcp_flags & ST_TCP_SYN)) {
		segment_syn(pool, d, seq, c);
		seq++;
	}
	if (unlikely(!(d->flags & ST_REASM_F_SYNCED))) {
		if (len == 0)
			return;
		d->next_seq = seq;
		d->flags |= ST_REASM_F_SYNCED;
		pool->stats.midstream_starts++;
	}
	if (unlikely(d->flags & ST_REASM_F_CLOSED)) {
		if (len == 0)
			return;
		if (seq_le(seq + len, d->fin_seq)) {
			pool->stats.duplicates++;
			pool->stats.duplicate_bytes += len;
		} else {
			pool->stats.after_fin_bytes += len;
		}
		return;
	}
	segment_fin(pool, d, seq, tcp_flags, &len);
	if (len)
		segment_data(pool, d, seq, payload, len, ts_ns, c);
	maybe_close(pool, d);
}

void st_reasm_flush_gap(struct st_reasm_pool *pool, struct st_reasm_dir *d,
			const struct st_reasm_consumer *c)
{
	while (d->ooo_head) {
		if (seq_lt(d->next_seq, d->ooo_head->seq))
			declare_hole(pool, d, d->ooo_head->seq, c);
		drain(pool, d, c);
	}
	if ((d->flags & (ST_REASM_F_FIN | ST_REASM_F_CLOSED)) == ST_REASM_F_FIN &&
	    seq_lt(d->next_seq, d->fin_seq)) {
		declare_hole(pool, d, d->fin_seq, c);
		maybe_close(pool, d);
	}
}

void st_reasm_release(struct st_reasm_pool *pool, struct st_reasm_dir *d)
{
	drop_state(pool, d);
	st_reasm_dir_init(d);
}
