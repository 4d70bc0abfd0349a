/*
 * libFuzzer target for the consumer side of the shared-memory ring
 * (include/shadowtap/ring.h): the input bytes ARE the shm object, handed to
 * the consumer through st_ring_attach_memory() (dataplane/ring/ring_mem.h)
 * in a heap copy of exactly the input's size, so that ASan sees any read
 * outside "the mapping".
 *
 * Peek/release runs in a loop until the ring reads as empty.  It must never
 * crash, and it must end within capacity/8 + 4 calls (every call that does
 * not say "empty" moves the consumer forward by at least one 8-byte unit,
 * and a consumer never has more than a lap to read after one resync).
 * Every record it accepts is checked here against the layout, not against
 * the ring's own code: the slot lies inside the data area below the image's
 * prod_pos, its header says a record of that length, and XXH3 of the
 * payload with the documented seed equals the stored check.  Anything else
 * aborts.
 *
 * Seeds: tests/fuzz/ring/ring_seeds.c writes real ring objects.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/ring/ring_mem.h"
#include "shadowtap/ring.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_ring: %s\n", what);
	abort();
}

/* The accepted record at rec, len, slot position pos, in the image mem. */
static void check_record(const uint8_t *mem, size_t size, const uint8_t *rec, uint32_t len,
			 uint64_t pos)
{
	const struct st_ring_shm_hdr *h = (const void *)mem;
	const uint8_t *data = mem + ST_RING_HDR_BYTES;
	uint64_t off = pos & (h->capacity_bytes - 1);
	struct st_ring_slot_hdr sh;

	if (pos == UINT64_MAX || rec != data + off + ST_RING_SLOT_HDR_BYTES)
		fail("record pointer is not its slot's payload");
	if (len > h->max_record_bytes || off + ST_RING_SLOT_BYTES(len) > h->capacity_bytes ||
	    (size_t)(rec - mem) + len > size)
		fail("record outside the data area");
	if (pos + ST_RING_SLOT_BYTES(len) > (h->prod_pos & ~(uint64_t)7))
		fail("record beyond prod_pos");
	memcpy(&sh, data + off, sizeof(sh));
	if (sh.kind != ST_RING_SLOT_RECORD || sh.length != len)
		fail("slot header is not a record of that length");
	if (XXH3_64bits_withSeed(rec, len, st_ring_slot_seed(h->ring_id, pos, sh.kind, len, sh.seq)) !=
	    sh.check)
		fail("accepted a record whose checksum does not hold");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct st_ring_shm_hdr *h;
	struct st_ring *r;
	uint64_t calls, bound;
	uint8_t *mem;

	if (size > ST_RING_HDR_BYTES + (4u << 20))
		return 0;
	mem = malloc(size ? size : 1); /* malloc: 16-byte aligned */
	if (!mem)
		return 0;
	memcpy(mem, data, size);
	r = st_ring_attach_memory(mem, size);
	if (!r) {
		if (errno != EPROTO && errno != EAGAIN)
			fail("attach refused with an undocumented errno");
		free(mem);
		return 0;
	}
	h = (const void *)mem;
	bound = h->capacity_bytes / 8 + 4;
	for (calls = 0; calls < bound; calls++) {
		const void *rec, *again;
		uint32_t len, len_again;
		int rc = st_ring_peek(r, &rec, &len);

		if (rc == -EAGAIN)
			break;
		if (rc == -EBADMSG)
			continue;
		if (rc)
			fail("peek returned an undocumented code");
		check_record(mem, size, rec, len, st_ring_peek_pos(r));
		if (st_ring_peek(r, &again, &len_again) || again != rec || len_again != len)
			fail("a second peek gave another record");
		st_ring_release(r);
	}
	if (calls == bound)
		fail("the consumer did not reach an empty ring");
	st_ring_close(r);
	free(mem);
	return 0;
}
