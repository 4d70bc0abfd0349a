/*
 * The data plane's status page: what `shadowctl status` reads while
 * shadowtap-dp runs.  One POSIX shared-memory object per instance,
 * "/shadowtap-<instance>.status" (mode 0644: counters only), holding one
 * JSON document that the data plane rewrites a few times a second under a
 * sequence lock: the writer makes `seq` odd, writes, makes it even again;
 * a reader copies the text and accepts the copy only if `seq` was the same
 * even number before and after.
 *
 * Layout (little-endian, x86-64 and any other little-endian host):
 *   off size field
 *     0    4 magic          ST_STATUS_MAGIC, the bytes "STSP"
 *     4    4 version        ST_STATUS_VERSION
 *     8    4 pid            the writer's process id
 *    12    4 text_len       bytes of JSON at `text`, <= ST_STATUS_TEXT_MAX
 *    16    8 seq            sequence lock: odd while being written
 *    24    8 updated_ns     CLOCK_REALTIME of the last write
 *    32    - text           the JSON document (not NUL-terminated)
 */
#ifndef SHADOWTAP_STATUS_H
#define SHADOWTAP_STATUS_H

#include <stddef.h>
#include <stdint.h>

#define ST_STATUS_MAGIC 0x50535453u     /* "STSP" little-endian */
#define ST_STATUS_VERSION 1u
#define ST_STATUS_TEXT_MAX (1u << 20)

struct st_status_page {
	uint32_t magic;
	uint32_t version;
	int32_t pid;
	uint32_t text_len;
	uint64_t seq;
	uint64_t updated_ns;
	char text[ST_STATUS_TEXT_MAX];
};

_Static_assert(offsetof(struct st_status_page, seq) == 16, "seq at 16");
_Static_assert(offsetof(struct st_status_page, text) == 32, "text at 32");

struct st_status_writer;

/* Creates (or takes over) the page of `instance`; NULL with errno. */
struct st_status_writer *st_status_writer_open(const char *instance);
/* Publishes text[0..len) (truncated to ST_STATUS_TEXT_MAX, which the
 * caller is expected to stay under). */
void st_status_write(struct st_status_writer *w, const char *text, size_t len);
/* Unmaps and removes the page; NULL is a no-op. */
void st_status_writer_close(struct st_status_writer *w);

/*
 * Reads the page of `instance` into buf (cap bytes; the text is
 * NUL-terminated).  0 with *pid and *updated_ns set; -ENOENT (no data
 * plane), -EPROTO (not a status page of this version), -EAGAIN (not
 * written yet, or the writer kept writing through every retry), -ENOBUFS
 * (cap too small).
 */
int st_status_read(const char *instance, char *buf, size_t cap, int32_t *pid,
		   uint64_t *updated_ns);

#endif
