/*
 * Schema set: a bounded set of {path hash, path text, type mask, count}, one
 * entry per JSON field path seen in a stream's records (e.g. "/user/id"),
 * with the JSON types seen at that path OR-ed into the mask.  The set's
 * fingerprint is order-independent: it depends on the set of (path, type
 * mask) pairs only, not on the order of arrival or on counts, so two epochs
 * with the same schema have the same fingerprint.  Merge is a union with
 * counts added and masks OR-ed.  When the set is full, updates for new paths
 * are counted as overflow (never silently lost).
 *
 * Serialized payload: documented in schema.c (kind ST_SKETCH_SCHEMA,
 * version 1, hashed: path hashes come from st_hash64()).
 *
 * Thread safety: a set is owned by one thread.  Only create/deserialize
 * allocate.
 */
#ifndef ST_SKETCH_SCHEMA_H
#define ST_SKETCH_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ST_SCHEMA_ENTRIES_DEFAULT 64
#define ST_SCHEMA_ENTRIES_MAX 4096
#define ST_SCHEMA_PATH_MAX 64  /* bytes of path text kept, NUL excluded */

enum st_json_type {
	ST_JSON_NULL = 1u << 0,
	ST_JSON_FALSE = 1u << 1,
	ST_JSON_TRUE = 1u << 2,
	ST_JSON_NUMBER = 1u << 3,
	ST_JSON_STRING = 1u << 4,
	ST_JSON_OBJECT = 1u << 5,
	ST_JSON_ARRAY = 1u << 6,
};

struct st_schema_entry {
	uint64_t path_hash;             /* st_hash64 of the full path */
	uint64_t count;
	uint8_t type_mask;              /* enum st_json_type bits */
	uint8_t path_len;               /* bytes in path (<= ST_SCHEMA_PATH_MAX) */
	char path[ST_SCHEMA_PATH_MAX + 1]; /* prefix of the path, NUL-terminated */
};

struct st_schema;

/* max_entries in 1..ST_SCHEMA_ENTRIES_MAX.  NULL with errno EINVAL/ENOMEM. */
struct st_schema *st_schema_create(unsigned max_entries);
void st_schema_destroy(struct st_schema *s);  /* NULL is a no-op */
void st_schema_reset(struct st_schema *s);

/* Records one occurrence of `path` (path_len bytes, hash = st_hash64 of
 * them) with JSON type `type` (one enum st_json_type bit or several). */
void st_schema_update(struct st_schema *s, uint64_t path_hash,
		      const char *path, size_t path_len, uint8_t type);

/* `count` occurrences at once: the same as that many st_schema_update()
 * calls (json_tmpl.h owes the updates of documents it matched). */
void st_schema_add(struct st_schema *s, uint64_t path_hash, const char *path,
		   size_t path_len, uint8_t type, uint64_t count);

unsigned st_schema_size(const struct st_schema *s);      /* entries in use */
uint64_t st_schema_overflow(const struct st_schema *s);  /* updates lost to a full set */
uint64_t st_schema_fingerprint(const struct st_schema *s);
/* Entries sorted by path hash; returns how many were written (<= max). */
size_t st_schema_entries(const struct st_schema *s, struct st_schema_entry *out,
			 size_t max);
/* Entry for a path hash, or NULL. */
const struct st_schema_entry *st_schema_find(const struct st_schema *s,
					     uint64_t path_hash);

/* Union with counts.  Entries that do not fit count as overflow.  0 always
 * (the capacities may differ). */
int st_schema_merge(struct st_schema *dst, const struct st_schema *src);

size_t st_schema_memory_bytes(const struct st_schema *s);
size_t st_schema_serialized_size(const struct st_schema *s);
ssize_t st_schema_serialize(const struct st_schema *s, void *buf, size_t cap);
int st_schema_validate(const void *buf, size_t len, const char **why);
struct st_schema *st_schema_deserialize(const void *buf, size_t len,
					const char **why);

#endif
