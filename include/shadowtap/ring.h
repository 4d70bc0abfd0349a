/*
 * The shared-memory ring between the data plane and the control plane
 * (DESIGN.md, "Shared-memory ring"): one producer (the merger in
 * shadowtap-dp), one consumer (shadowtap-cp, or shadowctl's minimal
 * consumer), in two processes, over one POSIX shm object per instance.  It
 * carries variable-length records (Shadow Profile records in practice) and
 * never looks inside them.  The shape follows libxdp's xsk rings:
 * reserve/commit on one side, peek/release on the other, each side caching
 * the other side's index so that the common case touches no shared line it
 * does not own.
 *
 * The producer never blocks: a record that does not fit now is dropped and
 * counted (dropped_full); a record larger than max_record_bytes is dropped
 * and counted (dropped_oversize).  Either side may die and restart at any
 * instant without corrupting the other: committed records survive a producer
 * restart (takeover), a peeked record survives a consumer restart (it is
 * delivered again), and anything the consumer reads is bounds-checked and
 * checksummed, so a torn or scribbled slot is skipped and counted, never
 * delivered.
 *
 * What `ls -l /dev/shm` shows: one file `shadowtap-<instance>`, mode
 * rw-rw---- (0660, set with fchmod so the umask does not narrow it), owned
 * by the data plane's user, of size ST_RING_HDR_BYTES + capacity_bytes.
 * The producer creates it; nobody unlinks it except st_ring_unlink() (an
 * operator's or a test's choice) and a producer that re-initialises the
 * ring with another geometry (it replaces the object, see below).
 *
 * Byte order: NATIVE, on purpose.  The object never leaves the host, both
 * sides run on the same CPU, and the indices are atomics, which cannot be
 * byte-swapped in place.  The magic is the 8 bytes "STRING01" read as a
 * native u64, so a reader of another byte order sees a bad magic (EPROTO).
 *
 * Object layout, ABI version 1.  Every header field is naturally aligned;
 * the index and counter fields are accessed with atomics.
 *
 *   off   size  what
 *     0    512  header (below), one cache line per writer
 *   512    cap  data: capacity_bytes, a power of two, slots back to back
 *
 * Header (struct st_ring_shm_hdr):
 *   line 0, identity, written once when the object is initialised:
 *     0   8 magic             ST_RING_MAGIC
 *     8   4 abi_version       ST_RING_ABI_VERSION
 *    12   4 hdr_bytes         ST_RING_HDR_BYTES (512)
 *    16   8 capacity_bytes    power of two, ST_RING_CAPACITY_MIN..MAX
 *    24   4 max_record_bytes  1.., and ST_RING_SLOT_BYTES(max) <= capacity/2
 *    28   4 flags             0 (no flag is defined; others refuse)
 *    32   8 ring_id           random, new at every initialisation; seeds the
 *                             slot checksums, so slots of another
 *                             initialisation never verify
 *    40   8 created_ns        CLOCK_REALTIME at initialisation (for people)
 *    48   8 reserved          0
 *    56   8 identity_check    XXH3-64 (seed ST_HASH_SEED) of bytes 0..55
 *   line 1, the producer's index (written by the producer only):
 *    64   8 prod_pos          bytes ever committed, incl. padding (atomic)
 *    72   8 last_record_pos   where the slot being committed starts
 *    80   4 retired           1 once a producer has replaced this object
 *    84   4 producer_pid      pid of the producer; 0 after its clean close
 *    88   8 generation        +1 at every producer open (takeover or init)
 *    96   8 heartbeat_ns      CLOCK_MONOTONIC of st_ring_heartbeat()
 *   104  24 reserved          0
 *   line 2, the consumer's index (written by the consumer only):
 *   128   8 cons_pos          bytes ever released, incl. padding (atomic)
 *   136  56 reserved          0
 *   line 3, producer counters (kept across producer restarts):
 *   192   8 committed         records published
 *   200   8 dropped_full      records refused because the ring was full
 *   208   8 dropped_oversize  records longer than max_record_bytes
 *   216   8 lost_on_reinit    committed records an initialisation discarded
 *   224  32 reserved          0
 *   line 4, consumer counters (kept across consumer restarts):
 *   256   8 released          records released
 *   264   8 corrupt           corrupt slots or indices found (and skipped)
 *   272   8 resyncs           re-attachments after a re-initialisation
 *   280 232 reserved          0 (to 512)
 *
 * prod_pos and cons_pos grow monotonically (64-bit byte offsets; they do
 * not wrap in the life of a host); the slot of position p starts at data
 * offset p & (capacity - 1).  cons_pos <= prod_pos <= cons_pos + capacity,
 * both multiples of ST_RING_ALIGN (a consumer clears the low 3 bits of
 * whatever it reads, and resyncs to prod_pos when the inequality fails).
 *
 * Slot (ST_RING_SLOT_HDR_BYTES = 24 header bytes, then the payload, then
 * zero to 7 bytes up to the next multiple of ST_RING_ALIGN = 8):
 *     0   4 length   payload bytes (record), or bytes to the lap end after
 *                    this header (pad)
 *     4   4 kind     ST_RING_SLOT_RECORD or ST_RING_SLOT_PAD
 *     8   8 seq      the record's index in commit order (the producer's
 *                    `committed` before it); 0 in a pad
 *    16   8 check    XXH3-64 of the payload (empty for a pad) with the seed
 *                    st_ring_slot_seed(ring_id, pos, kind, length, seq)
 * A slot never straddles the end of the data area.  When a record does not
 * fit before the end, the producer writes a pad slot that covers the rest
 * of the lap, or nothing at all when fewer than 24 bytes remain: a reader
 * then skips to the lap end by the same rule.  A lap boundary is therefore
 * always a slot boundary: the consumer's safe place after a corrupt slot.
 *
 * Restarts.  A producer that finds an object of the same geometry with a
 * valid header takes it over: it keeps the committed, unconsumed records,
 * bumps the generation, records its pid, and continues the counters.  (A
 * producer killed between publishing a record and counting it is caught up
 * from the last slot's seq.)  A different geometry, or a header that does
 * not verify, re-initialises: the producer unlinks the name, creates a new
 * object under it, counts in lost_on_reinit the records the old one still
 * held (exactly when its header verifies, else as committed - released
 * when those look sane, else 0), and marks the old object retired before
 * it counts, so that at most one record, the one a live consumer had
 * peeked at that moment, is both delivered and counted lost.  A consumer
 * attached to the old object sees `retired`, re-opens the name (the
 * successor is complete by then) and returns -ESTALE once.  Shrinking a
 * mapped object would SIGBUS its readers, so no object is ever resized.
 * A producer's st_ring_close() sets producer_pid to 0 (a clean exit).
 *
 * One producer and one consumer per object, enforced with open-file-
 * description locks (F_OFD_SETLK) on byte 0 (producer) and byte 1
 * (consumer) of the object; the kernel drops them when a process dies.
 *
 * Thread safety: a struct st_ring belongs to one thread at a time (the
 * caller serialises); the two sides may run concurrently in any processes.
 * st_ring_stats() and st_ring_producer_alive() only read.
 */
#ifndef SHADOWTAP_RING_H
#define SHADOWTAP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_RING_ABI_VERSION 1
#define ST_RING_MAGIC 0x3130474e49525453ull /* the bytes "STRING01", native */
#define ST_RING_HDR_BYTES 512u
#define ST_RING_ALIGN 8u
#define ST_RING_SLOT_HDR_BYTES 24u
#define ST_RING_SLOT_RECORD 0x31434552u     /* "REC1" */
#define ST_RING_SLOT_PAD 0x31444150u        /* "PAD1" */
/* Bytes a record of len payload bytes takes in the data area. */
#define ST_RING_SLOT_BYTES(len)                                               \
	(((uint64_t)(len) + ST_RING_SLOT_HDR_BYTES + ST_RING_ALIGN - 1) &     \
	 ~(uint64_t)(ST_RING_ALIGN - 1))

#define ST_RING_CAPACITY_MIN 256ull
#define ST_RING_CAPACITY_MAX (1ull << 40)
#define ST_RING_DEFAULT_CAPACITY_BYTES (16ull << 20)
/* The largest Shadow Profile (ST_PROFILE_MAX_BYTES, 1 MiB) fits by default;
 * the ring itself does not know what it carries. */
#define ST_RING_DEFAULT_MAX_RECORD_BYTES (1u << 20)

#define ST_RING_INSTANCE_MAX 32             /* bytes of [A-Za-z0-9_-] */
#define ST_RING_SHM_PREFIX "/shadowtap-"
/* Buffer bytes for st_ring_shm_name(), NUL included. */
#define ST_RING_SHM_NAME_MAX (sizeof(ST_RING_SHM_PREFIX) + ST_RING_INSTANCE_MAX)

/* The shm header, exactly as laid out above. */
struct st_ring_shm_hdr {
	/* line 0: identity */
	uint64_t magic;
	uint32_t abi_version;
	uint32_t hdr_bytes;
	uint64_t capacity_bytes;
	uint32_t max_record_bytes;
	uint32_t flags;
	uint64_t ring_id;
	uint64_t created_ns;
	uint64_t reserved0;
	uint64_t identity_check;
	/* line 1: producer index */
	uint64_t prod_pos;
	uint64_t last_record_pos;
	uint32_t retired;
	int32_t producer_pid;
	uint64_t generation;
	uint64_t heartbeat_ns;
	uint64_t reserved1[3];
	/* line 2: consumer index */
	uint64_t cons_pos;
	uint64_t reserved2[7];
	/* line 3: producer counters */
	uint64_t committed;
	uint64_t dropped_full;
	uint64_t dropped_oversize;
	uint64_t lost_on_reinit;
	uint64_t reserved3[4];
	/* line 4: consumer counters */
	uint64_t released;
	uint64_t corrupt;
	uint64_t resyncs;
	uint64_t reserved4[29];
};

_Static_assert(sizeof(struct st_ring_shm_hdr) == ST_RING_HDR_BYTES, "header is 512 bytes");
_Static_assert(offsetof(struct st_ring_shm_hdr, abi_version) == 8, "version at 8");
_Static_assert(offsetof(struct st_ring_shm_hdr, capacity_bytes) == 16, "capacity at 16");
_Static_assert(offsetof(struct st_ring_shm_hdr, max_record_bytes) == 24, "max record at 24");
_Static_assert(offsetof(struct st_ring_shm_hdr, ring_id) == 32, "ring id at 32");
_Static_assert(offsetof(struct st_ring_shm_hdr, identity_check) == 56, "check at 56");
_Static_assert(offsetof(struct st_ring_shm_hdr, prod_pos) == 64, "producer line at 64");
_Static_assert(offsetof(struct st_ring_shm_hdr, retired) == 80, "retired at 80");
_Static_assert(offsetof(struct st_ring_shm_hdr, producer_pid) == 84, "pid at 84");
_Static_assert(offsetof(struct st_ring_shm_hdr, generation) == 88, "generation at 88");
_Static_assert(offsetof(struct st_ring_shm_hdr, heartbeat_ns) == 96, "heartbeat at 96");
_Static_assert(offsetof(struct st_ring_shm_hdr, cons_pos) == 128, "consumer line at 128");
_Static_assert(offsetof(struct st_ring_shm_hdr, committed) == 192, "producer counters at 192");
_Static_assert(offsetof(struct st_ring_shm_hdr, lost_on_reinit) == 216, "lost at 216");
_Static_assert(offsetof(struct st_ring_shm_hdr, released) == 256, "consumer counters at 256");
_Static_assert(offsetof(struct st_ring_shm_hdr, resyncs) == 272, "resyncs at 272");

/* One slot's header, as laid out above. */
struct st_ring_slot_hdr {
	uint32_t length;
	uint32_t kind;
	uint64_t seq;
	uint64_t check;
};

_Static_assert(sizeof(struct st_ring_slot_hdr) == ST_RING_SLOT_HDR_BYTES, "slot header is 24 bytes");
_Static_assert(offsetof(struct st_ring_slot_hdr, seq) == 8, "seq at 8");
_Static_assert(offsetof(struct st_ring_slot_hdr, check) == 16, "check at 16");
_Static_assert(ST_RING_HDR_BYTES % 64 == 0, "data starts on a cache line");

/*
 * The seed of a slot's checksum: every header field and the slot's
 * absolute position enter it, so a slot whose header was scribbled, or that
 * a previous lap or another initialisation left at that offset, does not
 * verify.  Pure; any thread.
 */
static inline uint64_t st_ring_slot_seed(uint64_t ring_id, uint64_t pos, uint32_t kind,
					 uint32_t length, uint64_t seq)
{
	uint64_t s = ring_id ^ (pos * 0x9e3779b97f4a7c15ull);

	s ^= ((uint64_t)kind << 32 | length) * 0xc2b2ae3d27d4eb4full;
	return s ^ (seq * 0x165667b19e3779f9ull);
}

struct st_ring; /* one process's mapping, producer or consumer side */

struct st_ring_config {
	uint64_t capacity_bytes;   /* power of two, ST_RING_CAPACITY_MIN..MAX */
	uint32_t max_record_bytes; /* >= 1, ST_RING_SLOT_BYTES(it) <= capacity / 2 */
};

/* 16 MiB of data, records up to 1 MiB.  Any thread. */
void st_ring_config_default(struct st_ring_config *c);

/*
 * Writes "/shadowtap-<instance>" (NUL-terminated) into buf.  instance must be
 * 1..32 bytes of [A-Za-z0-9_-].  Returns 0; -EINVAL for a NULL argument, an
 * empty instance or another byte; -ENAMETOOLONG for an instance longer than
 * 32 bytes or a buffer shorter than the name (ST_RING_SHM_NAME_MAX always
 * suffices).  Any thread.
 */
int st_ring_shm_name(char *buf, size_t n, const char *instance);

/*
 * Producer side.  Creates the instance's object, or takes over an existing
 * one of the same geometry without losing its committed, unconsumed records
 * (bumps the generation, records the pid, keeps the counters).  An object
 * of another geometry, or whose header does not verify, is replaced by a
 * fresh one (see "Restarts"), its records counted in lost_on_reinit.  The
 * heartbeat starts at now (CLOCK_MONOTONIC).  cfg NULL means the defaults.
 * Returns the handle, or NULL with errno: EINVAL (bad instance or config),
 * ENAMETOOLONG, EBUSY (another live producer holds the object), ENOMEM, or
 * the errno of shm_open/ftruncate/mmap.  Any thread; the handle is then the
 * caller's, freed with st_ring_close().
 */
struct st_ring *st_ring_producer_open(const char *instance, const struct st_ring_config *cfg);

/*
 * Consumer side.  Attaches to the instance's existing object and resumes at
 * the consumer index stored there, so a restarted consumer gets again a
 * record its predecessor peeked but did not release.  Returns the handle, or
 * NULL with errno: ENOENT (no object), EPROTO (bad magic, version, identity
 * check, geometry or object size, reserved bytes not 0, a retired object),
 * EAGAIN (size or magic still 0: a producer is creating it; retry), EBUSY
 * (another consumer is attached), EINVAL/ENAMETOOLONG (bad instance),
 * ENOMEM, or the errno of shm_open/mmap.  Any thread.
 */
struct st_ring *st_ring_consumer_open(const char *instance);

/* Unmaps and frees; never unlinks.  NULL is a no-op.  A record peeked and
 * not released stays unreleased; a producer's close sets producer_pid to 0
 * so that st_ring_producer_alive() is false at once.  The handle's owner
 * only. */
void st_ring_close(struct st_ring *r);

/* Removes the instance's name from /dev/shm; mappings stay valid until
 * closed.  Returns 0, or -errno (-ENOENT when there is none, -EINVAL ...). */
int st_ring_unlink(const char *instance);

/*
 * Producer.  Space for a record of up to len bytes (8-aligned), or NULL when
 * it does not fit now: then the record is dropped and counted in
 * dropped_full; the producer never waits.  len > max_record_bytes: NULL,
 * counted in dropped_oversize.  A second reserve before commit abandons the
 * first (nothing is published).  No syscall, no allocation.
 */
void *st_ring_reserve(struct st_ring *r, uint32_t len);

/*
 * Producer.  Publishes the reserved record with its final length, used <=
 * the reserved len (a larger used is cut to it), with a release store.  No
 * reservation: no-op.  No syscall.
 */
void st_ring_commit(struct st_ring *r, uint32_t used);

/* Producer.  Stores now_ns (CLOCK_MONOTONIC) as the heartbeat. */
void st_ring_heartbeat(struct st_ring *r, uint64_t now_ns);

/*
 * Consumer.  Returns 0 with *rec and *len pointing at the next record in shm,
 * valid until st_ring_release() or st_ring_close(); its checksum held when
 * peek checked it (a caller that cannot trust other writers of the object
 * copies it first).  Peeking again without releasing returns the same
 * record.  Errors:
 *   -EAGAIN   empty (or the object is retired and its successor cannot be
 *             opened yet);
 *   -ESTALE   the producer re-initialised the ring: the consumer has
 *             re-attached to the new object (counted in resyncs); call again;
 *   -EBADMSG  a corrupt slot or index was found (counted in corrupt) and
 *             skipped to the next lap boundary or to prod_pos; call again.
 * Never trusts the object: every index and length is bounds-checked against
 * the geometry read at attach.  No syscall except when re-attaching.
 */
int st_ring_peek(struct st_ring *r, const void **rec, uint32_t *len);

/* Consumer.  Releases the peeked record (release store of the consumer
 * index); nothing peeked: no-op. */
void st_ring_release(struct st_ring *r);

struct st_ring_stats {
	uint64_t committed, dropped_full, dropped_oversize, lost_on_reinit; /* producer side, kept in shm across restarts */
	uint64_t released, corrupt, resyncs;                              /* consumer side, kept in shm across restarts */
	uint64_t generation, heartbeat_ns;
	int32_t producer_pid;
	uint64_t capacity_bytes, used_bytes; /* used: prod_pos - cons_pos, at most capacity */
};

/* The counters in the handle's object, relaxed loads (each exact, the set
 * not one snapshot).  Any time, either side; the handle's owner thread or
 * any thread while the owner does not close it. */
void st_ring_stats(const struct st_ring *r, struct st_ring_stats *s);

/*
 * True when the heartbeat is at most stale_ns older than now_ns (both
 * CLOCK_MONOTONIC) and the recorded producer pid names a live process (seen
 * from this pid namespace).  Either side; reads only.
 */
bool st_ring_producer_alive(const struct st_ring *r, uint64_t now_ns, uint64_t stale_ns);

#endif
