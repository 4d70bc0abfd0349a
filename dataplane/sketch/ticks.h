/*
 * Rate ticks: records per tick at sub-epoch resolution (default 100 ticks of
 * 10 ms in a 1 s epoch), the input of the control plane's spectral analysis.
 * A record whose timestamp falls before the epoch or after its end is counted
 * as early or late, not added to a tick.
 *
 * Serialized payload: documented in ticks.c (kind ST_SKETCH_TICKS, version 1,
 * not hashed).
 *
 * Thread safety: owned by one thread.  Only create/deserialize allocate.
 */
#ifndef ST_SKETCH_TICKS_H
#define ST_SKETCH_TICKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ST_TICKS_DEFAULT 100
#define ST_TICKS_MAX 10000

struct st_ticks;

/* n_ticks in 1..ST_TICKS_MAX, epoch_ns a multiple of n_ticks and > 0.
 * NULL with errno EINVAL or ENOMEM. */
struct st_ticks *st_ticks_create(unsigned n_ticks, uint64_t epoch_ns);
void st_ticks_destroy(struct st_ticks *t);  /* NULL is a no-op */
/* Empties the ticks and starts an epoch at epoch_start_ns. */
void st_ticks_reset(struct st_ticks *t, uint64_t epoch_start_ns);

/* Adds `records` at time ts_ns. */
void st_ticks_update(struct st_ticks *t, uint64_t ts_ns, uint32_t records);

unsigned st_ticks_count(const struct st_ticks *t);
uint64_t st_ticks_epoch_start_ns(const struct st_ticks *t);
uint64_t st_ticks_tick_ns(const struct st_ticks *t);
const uint64_t *st_ticks_values(const struct st_ticks *t);  /* n_ticks values */
uint64_t st_ticks_total(const struct st_ticks *t);           /* sum of ticks */
uint64_t st_ticks_early(const struct st_ticks *t);
uint64_t st_ticks_late(const struct st_ticks *t);

/* Adds src's ticks to dst.  0, or -EINVAL if the epoch, tick length or
 * count differ, or -EOVERFLOW if the total, early or late count would pass
 * 2^64 - 1; dst is unchanged on error. */
int st_ticks_merge(struct st_ticks *dst, const struct st_ticks *src);

size_t st_ticks_memory_bytes(const struct st_ticks *t);
size_t st_ticks_serialized_size(const struct st_ticks *t);
ssize_t st_ticks_serialize(const struct st_ticks *t, void *buf, size_t cap);
int st_ticks_validate(const void *buf, size_t len, const char **why);
struct st_ticks *st_ticks_deserialize(const void *buf, size_t len,
				      const char **why);

#endif
