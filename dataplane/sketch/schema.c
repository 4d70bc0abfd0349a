/*
 * Schema set: which JSON field paths a stream's records carry, with the JSON
 * types seen at each path and how often each path occurred.  The data plane
 * feeds one update per (path, value type) its JSON walker meets; the control
 * plane compares the set and its fingerprint against a baseline to judge
 * schema drift (new, missing and type-changed fields).
 *
 * Storage.  All memory comes from one allocation made at create: the entries
 * in arrival order (dense, never moved, never deleted except by reset), one
 * flag byte per entry (whether the path text was truncated) and an
 * open-addressed index over the path hash with linear probing.  The index has
 * the next power of two >= 2 * max_entries slots, so its load factor stays at
 * or below 1/2 and a probe always reaches an empty slot; each slot holds an
 * entry number + 1 (0 = empty).  An update is one probe sequence: O(1)
 * expected, at most max_entries steps.  There is no deletion, hence no
 * tombstones.
 *
 * Full set.  An update for a path not in a full set is lost and counted in
 * overflow (updates, not paths); updates for paths already present still
 * count.  Counts saturate at UINT64_MAX, so they stay > 0 whatever a hostile
 * blob fed to a merge held.  An update whose type has no known st_json_type
 * bit is a caller bug, not data: it is ignored (unknown bits are stripped).
 *
 * Path text.  The first ST_SCHEMA_PATH_MAX bytes are kept, NUL-terminated;
 * the key is always the caller's st_hash64 of the whole path.  A path longer
 * than ST_SCHEMA_PATH_MAX is marked truncated, so that a reader can check
 * path_hash == st_hash64(path text) for every path that was not truncated
 * (including one of exactly ST_SCHEMA_PATH_MAX bytes) and knows it cannot for
 * the others.  The public entry has no truncated field; a reader infers it
 * from path_len == ST_SCHEMA_PATH_MAX and a hash that does not match the text.
 *
 * Fingerprint.  An additive multiset hash (AdHash; Bellare & Micciancio, "A
 * New Paradigm for Collision-free Hashing: Incrementality at Reduced Cost",
 * EUROCRYPT 1997) over the set of (path_hash, type_mask) pairs:
 *
 *	fingerprint = sum over entries of fmix64(path_hash ^ fmix64(type_mask * G))
 *	              modulo 2^64, with G = 0x9e3779b97f4a7c15
 *
 * where fmix64 is the MurmurHash3 64-bit finaliser (Appleby).  A sum does not
 * depend on order and counts do not enter it.  It is kept incrementally: a new
 * entry adds its term, a mask change subtracts the old term and adds the new
 * one, so reading it is O(1).  The empty set's fingerprint is 0.  With 64 bits
 * a producer choosing paths on purpose could find a colliding set (Wagner's
 * generalised birthday attack); the fingerprint is a cheap "same schema?" hint
 * and the entries themselves remain the evidence.
 *
 * Merge.  Union: counts added, masks OR-ed.  src's entries are visited in
 * path-hash order, so once dst is full the src paths it admits are those with
 * the smallest hashes, and the result depends only on the two sets' contents
 * (a set and its deserialized copy merge alike).  A src entry that does not
 * fit adds its count to dst's overflow, and src's overflow is added too, so
 * sum(counts) + overflow is conserved.
 *
 * Serialized form (kind ST_SKETCH_SCHEMA, version 1, hashed), little-endian:
 *
 *   off size field
 *     0   16 blob header (include/shadowtap/sketch_blob.h)
 *    16    4 max_entries_le  1..ST_SCHEMA_ENTRIES_MAX
 *    20    4 used_le         0..max_entries
 *    24    8 overflow_le     updates lost to a full set
 *    32    8 fingerprint_le  as above; a reader recomputes and compares
 *    40      used entries, path_hash strictly increasing, each of variable
 *            length 20 + path_len:
 *              0  8 path_hash_le  st_hash64 of the full path
 *              8  8 count_le      > 0
 *             16  1 type_mask     non-zero, st_json_type bits only
 *             17  1 path_len      0..ST_SCHEMA_PATH_MAX
 *             18  1 flags         bit 0: truncated (the path was longer than
 *                                 ST_SCHEMA_PATH_MAX, then path_len is
 *                                 exactly ST_SCHEMA_PATH_MAX); other bits 0
 *             19  1 reserved      0
 *             20    path_len bytes of path text, no NUL
 *
 * The blob ends right after the last entry.  The truncated flag must agree
 * with the hash: clear exactly when path_hash == st_hash64(path text,
 * path_len), so a reader checks the hash of every whole path and a path of
 * exactly ST_SCHEMA_PATH_MAX bytes cannot pose as a truncated one.  (A long
 * path whose full hash equals the hash of its 64-byte prefix, a 2^-64 chance,
 * would be refused; that is accepted.)
 *
 * Listing, merge and serialize visit entries in hash order through an on-stack
 * heapsort of entry numbers (2 * ST_SCHEMA_ENTRIES_MAX = 8 KiB of stack), so
 * none of them allocates.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/sketch/blob.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/le.h"
#include "dataplane/sketch/schema.h"

#define SCHEMA_BLOB_VERSION 1
#define SCHEMA_HDR_BYTES 40u          /* blob header + payload header */
#define SCHEMA_ENTRY_FIXED_BYTES 20u  /* entry bytes before the path text */
#define SCHEMA_FLAG_TRUNCATED 0x01u
#define SCHEMA_TYPES_KNOWN 0x7fu      /* every enum st_json_type bit */
#define SCHEMA_GOLDEN 0x9e3779b97f4a7c15ull

struct st_schema {
	unsigned max_entries;
	unsigned used;
	unsigned index_mask;           /* index slots - 1 (a power of two - 1) */
	uint64_t overflow;
	uint64_t fingerprint;          /* kept incrementally */
	size_t alloc_bytes;
	struct st_schema_entry *entries; /* [max_entries], arrival order */
	uint16_t *index;               /* [index_mask + 1]: entry + 1, 0 empty */
	uint8_t *flags;                /* [max_entries]: SCHEMA_FLAG_* */
};

_Static_assert(ST_SCHEMA_ENTRIES_MAX < UINT16_MAX, "index slots hold entry + 1");
_Static_assert(ST_SCHEMA_PATH_MAX <= UINT8_MAX, "path_len is one byte");
_Static_assert((ST_JSON_NULL | ST_JSON_FALSE | ST_JSON_TRUE | ST_JSON_NUMBER |
		ST_JSON_STRING | ST_JSON_OBJECT | ST_JSON_ARRAY) == SCHEMA_TYPES_KNOWN,
	       "known type bits");
_Static_assert(SCHEMA_HDR_BYTES +
	       (uint64_t)ST_SCHEMA_ENTRIES_MAX *
	       (SCHEMA_ENTRY_FIXED_BYTES + ST_SCHEMA_PATH_MAX) <= UINT32_MAX,
	       "blob length fits the header's 32-bit length");


/* The fingerprint term of one (path_hash, type_mask) pair. */
static inline uint64_t pair_term(uint64_t path_hash, uint8_t type_mask)
{
	return st_fmix64(path_hash ^ st_fmix64(type_mask * SCHEMA_GOLDEN));
}

static inline uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static unsigned index_slots(unsigned max_entries)
{
	unsigned slots = 2;

	while (slots < 2 * max_entries)
		slots *= 2;
	return slots;
}

struct st_schema *st_schema_create(unsigned max_entries)
{
	size_t head, entries_bytes, index_bytes, flags_bytes;
	struct st_schema *s;
	unsigned slots;

	if (max_entries == 0 || max_entries > ST_SCHEMA_ENTRIES_MAX) {
		errno = EINVAL;
		return NULL;
	}
	slots = index_slots(max_entries);
	head = (sizeof(*s) + _Alignof(struct st_schema_entry) - 1) &
	       ~(_Alignof(struct st_schema_entry) - 1);
	entries_bytes = (size_t)max_entries * sizeof(struct st_schema_entry);
	index_bytes = (size_t)slots * sizeof(uint16_t);
	flags_bytes = max_entries;

	s = calloc(1, head + entries_bytes + index_bytes + flags_bytes);
	if (!s)
		return NULL;  /* errno is ENOMEM */
	s->max_entries = max_entries;
	s->index_mask = slots - 1;
	s->alloc_bytes = head + entries_bytes + index_bytes + flags_bytes;
	s->entries = (struct st_schema_entry *)((char *)s + head);
	s->index = (uint16_t *)((char *)s->entries + entries_bytes);
	s->flags = (uint8_t *)((char *)s->index + index_bytes);
	return s;
}

void st_schema_destroy(struct st_schema *s)
{
	free(s);
}

void st_schema_reset(struct st_schema *s)
{
	memset(s->index, 0, ((size_t)s->index_mask + 1) * sizeof(*s->index));
	s->used = 0;
	s->overflow = 0;
	s->fingerprint = 0;
}

/* The index slot holding path_hash, or the empty slot where it would go. */
static inline unsigned probe(const struct st_schema *s, uint64_t path_hash)
{
	unsigned slot = (unsigned)path_hash & s->index_mask;

	while (s->index[slot] != 0 &&
	       s->entries[s->index[slot] - 1].path_hash != path_hash)
		slot = (slot + 1) & s->index_mask;
	return slot;
}

/* ORs type into e's mask, keeping the fingerprint in step. */
static inline void add_types(struct st_schema *s, struct st_schema_entry *e,
			     uint8_t type)
{
	uint8_t mask = e->type_mask | type;

	if (mask == e->type_mask)
		return;
	s->fingerprint += pair_term(e->path_hash, mask) -
			  pair_term(e->path_hash, e->type_mask);
	e->type_mask = mask;
}

/*
 * Fills a free entry at the empty index slot `slot`.  The caller has checked
 * used < max_entries, path_len <= ST_SCHEMA_PATH_MAX and type_mask != 0.
 */
static struct st_schema_entry *insert(struct st_schema *s, unsigned slot,
				      uint64_t path_hash, const char *path,
				      size_t path_len, uint8_t type_mask,
				      uint64_t count, uint8_t flags)
{
	struct st_schema_entry *e = &s->entries[s->used];

	memset(e, 0, sizeof(*e));
	e->path_hash = path_hash;
	e->count = count;
	e->type_mask = type_mask;
	e->path_len = (uint8_t)path_len;
	if (path_len)
		memcpy(e->path, path, path_len);
	s->flags[s->used] = flags;
	s->index[slot] = (uint16_t)(s->used + 1);
	s->used++;
	s->fingerprint += pair_term(path_hash, type_mask);
	return e;
}

void st_schema_update(struct st_schema *s, uint64_t path_hash,
		      const char *path, size_t path_len, uint8_t type)
{
	struct st_schema_entry *e;
	unsigned slot;

	type &= SCHEMA_TYPES_KNOWN;
	if (unlikely(type == 0))
		return;
	slot = probe(s, path_hash);
	if (likely(s->index[slot] != 0)) {
		e = &s->entries[s->index[slot] - 1];
		e->count += e->count != UINT64_MAX;
		add_types(s, e, type);
		return;
	}
	if (unlikely(s->used == s->max_entries)) {
		s->overflow += s->overflow != UINT64_MAX;
		return;
	}
	if (path_len > ST_SCHEMA_PATH_MAX)
		insert(s, slot, path_hash, path, ST_SCHEMA_PATH_MAX, type, 1,
		       SCHEMA_FLAG_TRUNCATED);
	else
		insert(s, slot, path_hash, path, path_len, type, 1, 0);
}

/* count updates at once; the same result as `count` st_schema_update()
 * calls in a row (counts and overflow saturate as they do). */
void st_schema_add(struct st_schema *s, uint64_t path_hash, const char *path,
		   size_t path_len, uint8_t type, uint64_t count)
{
	struct st_schema_entry *e;
	unsigned slot;

	type &= SCHEMA_TYPES_KNOWN;
	if (type == 0 || count == 0)
		return;
	slot = probe(s, path_hash);
	if (s->index[slot] != 0) {
		e = &s->entries[s->index[slot] - 1];
		e->count = count > UINT64_MAX - e->count ? UINT64_MAX : e->count + count;
		add_types(s, e, type);
		return;
	}
	if (s->used == s->max_entries) {
		s->overflow = count > UINT64_MAX - s->overflow ? UINT64_MAX
							       : s->overflow + count;
		return;
	}
	if (path_len > ST_SCHEMA_PATH_MAX)
		insert(s, slot, path_hash, path, ST_SCHEMA_PATH_MAX, type, count,
		       SCHEMA_FLAG_TRUNCATED);
	else
		insert(s, slot, path_hash, path, path_len, type, count, 0);
}

unsigned st_schema_size(const struct st_schema *s)
{
	return s->used;
}

uint64_t st_schema_overflow(const struct st_schema *s)
{
	return s->overflow;
}

uint64_t st_schema_fingerprint(const struct st_schema *s)
{
	return s->fingerprint;
}

const struct st_schema_entry *st_schema_find(const struct st_schema *s,
					     uint64_t path_hash)
{
	unsigned slot = probe(s, path_hash);

	return s->index[slot] ? &s->entries[s->index[slot] - 1] : NULL;
}

static void sift_down(const struct st_schema *s, uint16_t *order,
		      size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		uint16_t tmp;

		if (child >= n)
			return;
		if (child + 1 < n && s->entries[order[child]].path_hash <
				     s->entries[order[child + 1]].path_hash)
			child++;
		if (s->entries[order[root]].path_hash >=
		    s->entries[order[child]].path_hash)
			return;
		tmp = order[root];
		order[root] = order[child];
		order[child] = tmp;
		root = child;
	}
}

/*
 * Fills order[0..used) with entry numbers sorted by path hash (heapsort: in
 * place, no allocation, O(n log n) whatever the input).
 */
static void sort_by_hash(const struct st_schema *s, uint16_t *order)
{
	size_t n = s->used;
	uint16_t tmp;

	for (size_t i = 0; i < n; i++)
		order[i] = (uint16_t)i;
	for (size_t i = n / 2; i-- > 0;)
		sift_down(s, order, i, n);
	for (size_t end = n; end-- > 1;) {
		tmp = order[0];
		order[0] = order[end];
		order[end] = tmp;
		sift_down(s, order, 0, end);
	}
}

size_t st_schema_entries(const struct st_schema *s, struct st_schema_entry *out,
			 size_t max)
{
	uint16_t order[ST_SCHEMA_ENTRIES_MAX];
	size_t n = ST_MIN(max, (size_t)s->used);

	sort_by_hash(s, order);
	for (size_t i = 0; i < n; i++)
		memcpy(&out[i], &s->entries[order[i]], sizeof(out[i]));
	return n;
}

int st_schema_merge(struct st_schema *dst, const struct st_schema *src)
{
	uint16_t order[ST_SCHEMA_ENTRIES_MAX];
	size_t n = src->used;  /* read before dst changes, in case dst == src */
	uint64_t src_overflow = src->overflow;

	sort_by_hash(src, order);
	for (size_t i = 0; i < n; i++) {
		const struct st_schema_entry *se = &src->entries[order[i]];
		unsigned slot = probe(dst, se->path_hash);
		struct st_schema_entry *de;

		if (dst->index[slot] != 0) {
			de = &dst->entries[dst->index[slot] - 1];
			de->count = add_sat(de->count, se->count);
			add_types(dst, de, se->type_mask);
		} else if (dst->used < dst->max_entries) {
			insert(dst, slot, se->path_hash, se->path, se->path_len,
			       se->type_mask, se->count, src->flags[order[i]]);
		} else {
			dst->overflow = add_sat(dst->overflow, se->count);
		}
	}
	dst->overflow = add_sat(dst->overflow, src_overflow);
	return 0;
}

size_t st_schema_memory_bytes(const struct st_schema *s)
{
	return s->alloc_bytes;
}

size_t st_schema_serialized_size(const struct st_schema *s)
{
	size_t bytes = SCHEMA_HDR_BYTES;

	for (unsigned i = 0; i < s->used; i++)
		bytes += SCHEMA_ENTRY_FIXED_BYTES + s->entries[i].path_len;
	return bytes;
}

ssize_t st_schema_serialize(const struct st_schema *s, void *buf, size_t cap)
{
	uint16_t order[ST_SCHEMA_ENTRIES_MAX];
	size_t len = st_schema_serialized_size(s);
	uint8_t *p = buf;

	if (cap < len)
		return -ENOSPC;
	st_blob_put_hdr(p, ST_SKETCH_SCHEMA, SCHEMA_BLOB_VERSION, true,
			(uint32_t)len);
	st_put_le32(p + 16, s->max_entries);
	st_put_le32(p + 20, s->used);
	st_put_le64(p + 24, s->overflow);
	st_put_le64(p + 32, s->fingerprint);
	p += SCHEMA_HDR_BYTES;

	sort_by_hash(s, order);
	for (unsigned i = 0; i < s->used; i++) {
		const struct st_schema_entry *e = &s->entries[order[i]];

		st_put_le64(p, e->path_hash);
		st_put_le64(p + 8, e->count);
		p[16] = e->type_mask;
		p[17] = e->path_len;
		p[18] = s->flags[order[i]];
		p[19] = 0;
		memcpy(p + SCHEMA_ENTRY_FIXED_BYTES, e->path, e->path_len);
		p += SCHEMA_ENTRY_FIXED_BYTES + e->path_len;
	}
	return (ssize_t)len;
}

/* Checks one entry at p, of which `avail` bytes are in the blob. */
static int check_entry(const uint8_t *p, size_t avail, bool first,
		       uint64_t prev_hash, const char **why)
{
	uint64_t path_hash, count;
	uint8_t type_mask, path_len, flags;
	bool whole;

	if (avail < SCHEMA_ENTRY_FIXED_BYTES)
		return *why = "schema entry runs past the end of the blob", -EINVAL;
	path_hash = st_get_le64(p);
	count = st_get_le64(p + 8);
	type_mask = p[16];
	path_len = p[17];
	flags = p[18];
	if (!first && path_hash < prev_hash)
		return *why = "schema entries not sorted by path hash", -EINVAL;
	if (!first && path_hash == prev_hash)
		return *why = "schema entries repeat a path hash", -EINVAL;
	if (count == 0)
		return *why = "schema entry with a zero count", -EINVAL;
	if (type_mask == 0)
		return *why = "schema entry with an empty type mask", -EINVAL;
	if (type_mask & ~SCHEMA_TYPES_KNOWN)
		return *why = "schema entry with unknown type bits", -EINVAL;
	if (path_len > ST_SCHEMA_PATH_MAX)
		return *why = "schema entry path longer than the maximum", -EINVAL;
	if (flags & ~SCHEMA_FLAG_TRUNCATED)
		return *why = "schema entry with unknown flag bits", -EINVAL;
	if (p[19] != 0)
		return *why = "schema entry reserved byte not zero", -EINVAL;
	if (avail - SCHEMA_ENTRY_FIXED_BYTES < path_len)
		return *why = "schema entry runs past the end of the blob", -EINVAL;
	if ((flags & SCHEMA_FLAG_TRUNCATED) && path_len != ST_SCHEMA_PATH_MAX)
		return *why = "schema entry truncated but path shorter than the maximum",
		       -EINVAL;
	whole = st_hash64(p + SCHEMA_ENTRY_FIXED_BYTES, path_len) == path_hash;
	if (!(flags & SCHEMA_FLAG_TRUNCATED) && !whole)
		return *why = "schema entry path hash does not match its path",
		       -EINVAL;
	if ((flags & SCHEMA_FLAG_TRUNCATED) && whole)
		return *why = "schema entry marked truncated but its path is whole",
		       -EINVAL;
	return 0;
}

int st_schema_validate(const void *buf, size_t len, const char **why)
{
	const uint8_t *p = buf;
	const char *ignored;
	uint64_t fingerprint = 0, prev_hash = 0;
	uint32_t max_entries, used;
	size_t off;
	int err;

	if (!why)
		why = &ignored;
	err = st_blob_check_hdr(buf, len, ST_SKETCH_SCHEMA, SCHEMA_BLOB_VERSION,
				true, why);
	if (err)
		return err;
	if (len < SCHEMA_HDR_BYTES)
		return *why = "blob shorter than the schema header", -EINVAL;
	max_entries = st_get_le32(p + 16);
	used = st_get_le32(p + 20);
	if (max_entries == 0 || max_entries > ST_SCHEMA_ENTRIES_MAX)
		return *why = "schema max_entries out of range", -EINVAL;
	if (used > max_entries)
		return *why = "schema uses more entries than its maximum", -EINVAL;

	off = SCHEMA_HDR_BYTES;
	for (uint32_t i = 0; i < used; i++) {
		const uint8_t *e = p + off;

		err = check_entry(e, len - off, i == 0, prev_hash, why);
		if (err)
			return err;
		prev_hash = st_get_le64(e);
		fingerprint += pair_term(prev_hash, e[16]);
		off += SCHEMA_ENTRY_FIXED_BYTES + e[17];
	}
	if (off != len)
		return *why = "bytes after the last schema entry", -EINVAL;
	if (fingerprint != st_get_le64(p + 32))
		return *why = "schema fingerprint does not match its entries", -EINVAL;
	return 0;
}

struct st_schema *st_schema_deserialize(const void *buf, size_t len,
					const char **why)
{
	const uint8_t *p = buf;
	struct st_schema *s;
	size_t off = SCHEMA_HDR_BYTES;

	if (st_schema_validate(buf, len, why)) {
		errno = EINVAL;
		return NULL;
	}
	s = st_schema_create(st_get_le32(p + 16));
	if (!s) {
		if (why)
			*why = "out of memory";
		return NULL;
	}
	for (uint32_t i = 0, used = st_get_le32(p + 20); i < used; i++) {
		const uint8_t *e = p + off;
		uint64_t path_hash = st_get_le64(e);

		insert(s, probe(s, path_hash), path_hash,
		       (const char *)e + SCHEMA_ENTRY_FIXED_BYTES, e[17], e[16],
		       st_get_le64(e + 8), e[18]);
		off += SCHEMA_ENTRY_FIXED_BYTES + e[17];
	}
	s->overflow = st_get_le64(p + 24);
	return s;
}
