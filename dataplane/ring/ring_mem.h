/*
 * Test-only entry point of the ring (dataplane/ring/ring.c): a consumer over
 * caller memory instead of a shm object, so that a fuzz target can hand it
 * arbitrary bytes as "the mapping".  Not for the product: no lock, no
 * re-attachment (a retired image reads as empty), nothing unmapped on close.
 */
#ifndef ST_RING_MEM_H
#define ST_RING_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "shadowtap/ring.h"

/*
 * A consumer handle over mem[0..len): mem must be 8-byte aligned and stay
 * valid and owned by the caller until st_ring_close().  The image is
 * validated as st_ring_consumer_open() validates an object (len stands for
 * the object's size).  Returns NULL with errno EINVAL (misaligned), EPROTO,
 * EAGAIN (magic still 0) or ENOMEM.
 */
struct st_ring *st_ring_attach_memory(void *mem, size_t len);

/* The absolute position (ring.h) of the slot of the record st_ring_peek()
 * returned and that is not yet released; UINT64_MAX when there is none. */
uint64_t st_ring_peek_pos(const struct st_ring *r);

#endif
