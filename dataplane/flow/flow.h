/*
 * Per-core flow table: one entry per bidirectional TCP/UDP conversation,
 * found by its canonical 5-tuple, in memory fixed at create time.
 *
 * Canonical key.  The two endpoints (address, port) of a packet are ordered
 * so that the lower one comes first: addresses compared as 16 bytes in
 * network order (memcmp), then ports as host-order integers.  Both
 * directions of a conversation thus give the same key; the packet's
 * direction is ST_FLOW_DIR_LO_TO_HI when its source is the lower endpoint
 * (also when both endpoints are equal).  The key also holds the L4
 * protocol and the family; IPv4 addresses are IPv4-mapped IPv6 addresses
 * (dataplane/pkt.h), so IPv4 and IPv6 keys never meet.
 *
 * Hash.  st_flow_hash() is XXH3-64 (the sketch seed, dataplane/sketch/
 * hash.h) of the canonical key: symmetric in direction by construction, and
 * meant also for software RSS (flow -> core).  The table remixes it
 * (murmur3 fmix64) before choosing buckets, so a core that only ever sees
 * hashes with equal low bits (hash % cores == core) still spreads its flows
 * over every bucket.
 *
 * Layout and policy.  max_flows entries are preallocated in one array, each
 * a struct st_flow followed by the caller's user area (user_bytes, 8-byte
 * aligned; the stride rounds up to a cache line), and a free stack of entry
 * numbers.  The index is an array of 64-byte buckets of 8 slots
 * (32-bit hash signature + entry number); the bucket count is the power of
 * two >= max_flows / 4, so there are at least twice as many slots as
 * entries.  Each key has two candidate buckets ("two-choice" hashing) and
 * goes to the emptier one.  Nothing is allocated after create.
 *
 * When a new flow finds no free entry, or both its buckets full, one entry
 * leaves: the least recently seen (smallest last_seen_ns) of the entries in
 * the new key's two buckets, its "neighbourhood" (up to 16).  When the
 * table is full and the neighbourhood holds fewer than two entries, the 8
 * entries at the sweep hand join the candidates (and the hand moves on).
 * The victim counts as expired (ST_FLOW_END_IDLE) if it is idle, else as
 * evicted (ST_FLOW_END_EVICTED).  So a victim is always the least recently
 * seen of at least two entries, and the promise (tested) is: the entry
 * seen most recently, strictly later than every other entry, is never
 * evicted by the arrival of a new flow.  Known limit: the hash has a
 * fixed seed, so a sender who knows it can aim new flows at one
 * neighbourhood; the harm stays within that neighbourhood's 16 entries.
 *
 * Idle timeout.  An entry is idle when now_ns - last_seen_ns >
 * idle_timeout_ns (0 disables idleness).  Idle entries leave lazily (a
 * lookup that finds its flow idle releases it and creates a fresh entry;
 * a victim that is idle counts as expired) and through st_flow_expire(),
 * an incremental sweep the worker calls now and then.
 *
 * Release.  The config's release callback is called exactly once for every
 * entry that leaves the table, with the reason, while the entry and its
 * user area are still intact, so the pipeline can free what the user area
 * refers to.  The callback must not call into the table.
 *
 * Thread safety: one table per worker core.  Every function taking a table
 * must be called by the thread that owns it; there is no locking.
 * st_flow_hash() and st_flow_key_make() are pure (any thread).
 */
#ifndef ST_FLOW_H
#define ST_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/pkt.h"

enum st_flow_dir {
	ST_FLOW_DIR_LO_TO_HI = 0,   /* the packet's source is the key's lo endpoint */
	ST_FLOW_DIR_HI_TO_LO = 1,
};

/* Why an entry left the table (the release callback's `why`). */
enum st_flow_end {
	ST_FLOW_END_IDLE = 0,    /* "idle": idle timeout (sweep, lazy, or as a victim) */
	ST_FLOW_END_EVICTED,     /* "evicted": pushed out to make room */
	ST_FLOW_END_CLOSED,      /* "closed": st_flow_close() */
	ST_FLOW_END_DESTROYED,   /* "destroyed": st_flow_table_destroy() */
	ST_FLOW_END__COUNT
};

/* The canonical 5-tuple.  Addresses in network order, ports in host order;
 * padding is zero so the key can be hashed and compared as bytes. */
struct st_flow_key {
	uint8_t lo_addr[16];
	uint8_t hi_addr[16];
	uint16_t lo_port;
	uint16_t hi_port;
	uint8_t l4_proto;
	uint8_t family;          /* 4 or 6 */
	uint8_t zero[2];
};
_Static_assert(sizeof(struct st_flow_key) == 40, "flow key is 40 bytes, no hidden padding");

/* One entry.  The table writes every field; the caller reads them and owns
 * the user area (st_flow_user()). */
struct st_flow {
	struct st_flow_key key;
	uint64_t hash;               /* st_flow_hash() of the key */
	uint64_t first_seen_ns;      /* ts_ns of the packet that created it */
	uint64_t last_seen_ns;       /* largest ts_ns seen */
	uint64_t packets[2];         /* by enum st_flow_dir */
	uint64_t bytes[2];           /* sum of frame_len, by enum st_flow_dir */
	uint32_t index_slot;         /* internal: bucket * 8 + slot, or UINT32_MAX when free */
	uint32_t reserved;
};

#define ST_FLOW_USER_OFFSET ((sizeof(struct st_flow) + 7) & ~(size_t)7)
#define ST_FLOW_USER_MAX (64u * 1024)    /* largest user_bytes accepted */
#define ST_FLOW_MAX_FLOWS (1u << 26)     /* largest max_flows accepted */

/* The caller's area of an entry: user_bytes long, 8-byte aligned.  Its
 * contents are NOT reset when an entry is reused: initialise it when
 * st_flow_get() says *created. */
static inline void *st_flow_user(struct st_flow *f)
{
	return (uint8_t *)f + ST_FLOW_USER_OFFSET;
}

struct st_flow_config {
	uint32_t max_flows;          /* entries, 1 .. ST_FLOW_MAX_FLOWS */
	uint32_t user_bytes;         /* per entry, 0 .. ST_FLOW_USER_MAX */
	uint64_t idle_timeout_ns;    /* 0: entries never go idle */
	/* Called for every entry leaving the table; may be NULL. */
	void (*release)(void *ctx, struct st_flow *f, enum st_flow_end why);
	void *release_ctx;
};

struct st_flow_stats {
	uint64_t lookups;      /* st_flow_get() calls */
	uint64_t hits;         /* ... that found a live (not idle) entry */
	uint64_t created;      /* ... that created one: lookups = hits + created */
	uint64_t expired;      /* left idle: sweep, lazy lookup, or idle victim */
	uint64_t evicted;      /* live entries pushed out to make room */
	uint64_t bucket_full;  /* of evicted: free entries existed, but both
				  buckets of the new key were full */
	uint64_t closed;       /* st_flow_close() */
	uint64_t active;       /* entries in use: created - expired - evicted - closed */
};

struct st_flow_table;

/*
 * Creates a table with every byte it will ever use (st_flow_memory_bytes()).
 * Returns NULL and sets errno: EINVAL (cfg NULL, max_flows 0 or above
 * ST_FLOW_MAX_FLOWS, user_bytes above ST_FLOW_USER_MAX), ENOMEM.
 * The table copies *cfg.  Any thread; the caller then owns the table.
 */
struct st_flow_table *st_flow_table_create(const struct st_flow_config *cfg);

/* Releases every live entry (ST_FLOW_END_DESTROYED) and frees the table.
 * NULL is a no-op.  Owner thread. */
void st_flow_table_destroy(struct st_flow_table *t);

/*
 * Lookup-or-create for a decoded packet (family, addresses, ports,
 * l4_proto, ts_ns, frame_len are read).  Accounts the packet (packets,
 * bytes of its direction; last_seen_ns) and returns the entry, never NULL:
 * a full table makes room as the file head says.  *dir gets the packet's
 * direction; *created is true when the entry is new (first_seen_ns =
 * ts_ns, counters hold this packet only, user area to initialise).  The
 * pointer stays valid until the entry leaves the table (the release
 * callback), which can happen in any later call on this table.  Owner
 * thread.
 */
struct st_flow *st_flow_get(struct st_flow_table *t, const struct st_pkt *p,
			    enum st_flow_dir *dir, bool *created);

/* The live entry of `key`, or NULL.  Changes nothing, counts nothing, does
 * not check idleness.  Owner thread. */
struct st_flow *st_flow_find(struct st_flow_table *t, const struct st_flow_key *key);

/* Takes `f` out of the table: release(ST_FLOW_END_CLOSED), then the entry
 * is free.  0, or -EINVAL when f is not a live entry of t.  Owner thread. */
int st_flow_close(struct st_flow_table *t, struct st_flow *f);

/* Incremental sweep: visits the next max_visits entries (round robin over
 * the entry array, free ones included) and releases those idle at now_ns
 * (ST_FLOW_END_IDLE).  Returns how many it released.  Owner thread. */
unsigned st_flow_expire(struct st_flow_table *t, uint64_t now_ns, unsigned max_visits);

/* Counters; the pointer is valid until destroy.  Owner thread (another
 * thread reading it races with updates). */
const struct st_flow_stats *st_flow_table_stats(const struct st_flow_table *t);

/* Every byte the table holds (struct, entries with user areas, index, free
 * stack): constant from create to destroy.  Owner thread. */
size_t st_flow_memory_bytes(const struct st_flow_table *t);

/* Capacity (max_flows).  Owner thread. */
uint32_t st_flow_capacity(const struct st_flow_table *t);

/* Builds the canonical key of a decoded packet and returns its direction.
 * Pure; any thread. */
enum st_flow_dir st_flow_key_make(const struct st_pkt *p, struct st_flow_key *key);

/* XXH3-64 of a canonical key.  Pure; any thread. */
uint64_t st_flow_key_hash(const struct st_flow_key *key);

/* Symmetric flow hash of a decoded packet: st_flow_key_hash() of its
 * canonical key, equal for both directions.  Pure; any thread. */
uint64_t st_flow_hash(const struct st_pkt *p);

/* "idle", "evicted", "closed", "destroyed"; "unknown" otherwise. */
const char *st_flow_end_name(enum st_flow_end why);

#endif
