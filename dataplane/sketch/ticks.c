/*
 * Rate ticks: records per tick over one epoch, the input of the control
 * plane's spectral analysis (see ticks.h).
 *
 * A record at ts_ns belongs to tick (ts_ns - epoch_start_ns) / tick_ns in
 * integer arithmetic: tick j covers [start + j tick_ns, start + (j+1)
 * tick_ns), so ts == start is tick 0 and ts == start + epoch_ns is late.
 * Records before the start are early, records at or after the end are late;
 * both count records (the `records` argument), not calls.  The difference
 * ts - start is taken only once ts >= start, so an epoch that ends past
 * 2^64 ns needs no special case.  A new sketch's epoch starts at 0 until
 * st_ticks_reset() sets it.
 *
 * Merge adds ticks, early and late of sketches of the same epoch (start,
 * tick length and tick count equal): the merge of per-core sketches equals
 * the sketch of the whole stream.
 *
 * Serialized payload (after the 16-byte blob header: kind ST_SKETCH_TICKS,
 * version 1, not hashed), little-endian:
 *   off size field
 *     0    4 n_ticks          1..ST_TICKS_MAX
 *     4    4 reserved         0
 *     8    8 tick_ns          > 0, tick_ns * n_ticks < 2^64
 *    16    8 epoch_start_ns
 *    24    8 early            records before the epoch
 *    32    8 late             records at or after its end
 *    40  8*n values           u64 records per tick; their sum < 2^64
 * Values are fixed-width: at the default 100 ticks the payload is 840
 * bytes, small beside the other sketches of a profile, and any tick can be
 * read at a fixed offset.
 */
#include "dataplane/sketch/ticks.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/sketch/blob.h"

#define TICKS_VERSION 1

enum {
	TICKS_OFF_N = 0,
	TICKS_OFF_RESERVED = 4,
	TICKS_OFF_TICK_NS = 8,
	TICKS_OFF_START = 16,
	TICKS_OFF_EARLY = 24,
	TICKS_OFF_LATE = 32,
	TICKS_OFF_VALUES = 40,
};

struct st_ticks {
	unsigned n_ticks;
	uint64_t tick_ns;
	uint64_t epoch_ns;        /* n_ticks * tick_ns */
	uint64_t epoch_start_ns;
	uint64_t early;
	uint64_t late;
	uint64_t values[];        /* n_ticks */
};

struct st_ticks *st_ticks_create(unsigned n_ticks, uint64_t epoch_ns)
{
	struct st_ticks *t;

	if (n_ticks < 1 || n_ticks > ST_TICKS_MAX || epoch_ns == 0 ||
	    epoch_ns % n_ticks) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t) + (size_t)n_ticks * sizeof(t->values[0]));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->n_ticks = n_ticks;
	t->tick_ns = epoch_ns / n_ticks;
	t->epoch_ns = epoch_ns;
	return t;
}

void st_ticks_destroy(struct st_ticks *t)
{
	free(t);
}

void st_ticks_reset(struct st_ticks *t, uint64_t epoch_start_ns)
{
	memset(t->values, 0, (size_t)t->n_ticks * sizeof(t->values[0]));
	t->epoch_start_ns = epoch_start_ns;
	t->early = 0;
	t->late = 0;
}

void st_ticks_update(struct st_ticks *t, uint64_t ts_ns, uint32_t records)
{
	uint64_t since;

	if (unlikely(ts_ns < t->epoch_start_ns)) {
		t->early += records;
		return;
	}
	since = ts_ns - t->epoch_start_ns;
	if (unlikely(since >= t->epoch_ns)) {
		t->late += records;
		return;
	}
	t->values[since / t->tick_ns] += records;
}

unsigned st_ticks_count(const struct st_ticks *t)
{
	return t->n_ticks;
}

uint64_t st_ticks_epoch_start_ns(const struct st_ticks *t)
{
	return t->epoch_start_ns;
}

uint64_t st_ticks_tick_ns(const struct st_ticks *t)
{
	return t->tick_ns;
}

const uint64_t *st_ticks_values(const struct st_ticks *t)
{
	return t->values;
}

uint64_t st_ticks_total(const struct st_ticks *t)
{
	uint64_t total = 0;

	for (unsigned j = 0; j < t->n_ticks; j++)
		total += t->values[j];
	return total;
}

uint64_t st_ticks_early(const struct st_ticks *t)
{
	return t->early;
}

uint64_t st_ticks_late(const struct st_ticks *t)
{
	return t->late;
}

int st_ticks_merge(struct st_ticks *dst, const struct st_ticks *src)
{
	if (dst->n_ticks != src->n_ticks || dst->tick_ns != src->tick_ns ||
	    dst->epoch_start_ns != src->epoch_start_ns)
		return -EINVAL;
	if (st_ticks_total(dst) > UINT64_MAX - st_ticks_total(src) ||
	    dst->early > UINT64_MAX - src->early ||
	    dst->late > UINT64_MAX - src->late)
		return -EOVERFLOW;
	for (unsigned j = 0; j < dst->n_ticks; j++)
		dst->values[j] += src->values[j];
	dst->early += src->early;
	dst->late += src->late;
	return 0;
}

size_t st_ticks_memory_bytes(const struct st_ticks *t)
{
	return sizeof(*t) + (size_t)t->n_ticks * sizeof(t->values[0]);
}

static size_t ticks_blob_bytes(uint64_t n_ticks)
{
	return ST_SKETCH_BLOB_HDR_BYTES + TICKS_OFF_VALUES +
	       (size_t)n_ticks * sizeof(uint64_t);
}

size_t st_ticks_serialized_size(const struct st_ticks *t)
{
	return ticks_blob_bytes(t->n_ticks);
}

ssize_t st_ticks_serialize(const struct st_ticks *t, void *buf, size_t cap)
{
	size_t size = st_ticks_serialized_size(t);
	uint8_t *p = buf;

	if (cap < size)
		return -ENOSPC;
	st_blob_put_hdr(p, ST_SKETCH_TICKS, TICKS_VERSION, false, (uint32_t)size);
	p += ST_SKETCH_BLOB_HDR_BYTES;
	st_put_le32(p + TICKS_OFF_N, t->n_ticks);
	st_put_le32(p + TICKS_OFF_RESERVED, 0);
	st_put_le64(p + TICKS_OFF_TICK_NS, t->tick_ns);
	st_put_le64(p + TICKS_OFF_START, t->epoch_start_ns);
	st_put_le64(p + TICKS_OFF_EARLY, t->early);
	st_put_le64(p + TICKS_OFF_LATE, t->late);
	p += TICKS_OFF_VALUES;
	for (unsigned j = 0; j < t->n_ticks; j++)
		st_put_le64(p + 8 * (size_t)j, t->values[j]);
	return (ssize_t)size;
}

#define TICKS_FAIL(reason) (*why = (reason), -EINVAL)

int st_ticks_validate(const void *buf, size_t len, const char **why)
{
	const uint8_t *p = (const uint8_t *)buf + ST_SKETCH_BLOB_HDR_BYTES;
	uint32_t n_ticks;
	uint64_t tick_ns, total = 0;
	int err;

	err = st_blob_check_hdr(buf, len, ST_SKETCH_TICKS, TICKS_VERSION, false, why);
	if (err)
		return err;
	if (len < ticks_blob_bytes(0))
		return TICKS_FAIL("ticks blob shorter than its fixed fields");
	n_ticks = st_get_le32(p + TICKS_OFF_N);
	if (n_ticks < 1 || n_ticks > ST_TICKS_MAX)
		return TICKS_FAIL("tick count outside 1..ST_TICKS_MAX");
	if (st_get_le32(p + TICKS_OFF_RESERVED) != 0)
		return TICKS_FAIL("ticks reserved field not zero");
	tick_ns = st_get_le64(p + TICKS_OFF_TICK_NS);
	if (tick_ns == 0 || tick_ns > UINT64_MAX / n_ticks)
		return TICKS_FAIL("tick length zero or epoch longer than 2^64 ns");
	if (len != ticks_blob_bytes(n_ticks))
		return TICKS_FAIL("ticks blob length does not match its tick count");
	for (uint32_t j = 0; j < n_ticks; j++) {
		uint64_t v = st_get_le64(p + TICKS_OFF_VALUES + 8 * (size_t)j);

		if (total + v < v)
			return TICKS_FAIL("tick values overflow their total");
		total += v;
	}
	return 0;
}

struct st_ticks *st_ticks_deserialize(const void *buf, size_t len,
				      const char **why)
{
	const uint8_t *p = (const uint8_t *)buf + ST_SKETCH_BLOB_HDR_BYTES;
	struct st_ticks *t;
	uint32_t n_ticks;

	if (st_ticks_validate(buf, len, why)) {
		errno = EINVAL;
		return NULL;
	}
	n_ticks = st_get_le32(p + TICKS_OFF_N);
	t = st_ticks_create(n_ticks, n_ticks * st_get_le64(p + TICKS_OFF_TICK_NS));
	if (!t)
		return NULL;
	t->epoch_start_ns = st_get_le64(p + TICKS_OFF_START);
	t->early = st_get_le64(p + TICKS_OFF_EARLY);
	t->late = st_get_le64(p + TICKS_OFF_LATE);
	for (unsigned j = 0; j < n_ticks; j++)
		t->values[j] = st_get_le64(p + TICKS_OFF_VALUES + 8 * (size_t)j);
	return t;
}
