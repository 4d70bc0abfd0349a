/*
 * The Backend Metrics record (shadowtap/backends.h): builder and validating
 * parser.  The byte layout is drawn in the header; this file says how the
 * two ends keep it exact.
 *
 * Canonical form.  For a given list of entries and meta exactly one byte
 * string is valid, so the parser demands it: the header's reserved bytes,
 * every entry's reserved field and every padding byte after a latency blob
 * are zero; entries are strictly ascending by (family, addr, port,
 * protocol); an IPv4 address leaves bytes 4..15 zero; no entry is all zeros;
 * the PARTIAL flag is set exactly when fewer cores merged than expected; a
 * latency blob is present only when it holds at least one accepted value
 * (an endpoint without latency samples has latency_len 0).  A latency blob
 * is copied verbatim by the builder, and st_qs_validate() accepts only the
 * canonical serialization of a sketch (quantile.c), so
 * build(parse(r)) == r for every accepted r; tests/fuzz/backends checks it.
 *
 * Latency blobs must be quantile sketches with exactly the record's
 * parameters (unsigned, alpha ST_BACKENDS_LATENCY_ALPHA bit for bit,
 * ST_BACKENDS_LATENCY_BINS bins) so that a reader can merge the figures of
 * several epochs or endpoints exactly.  The parameters are read from the
 * quantile payload (quantile.c: alpha f64 at payload offset 0, flags at 8
 * with bit0 = signed, max_bins u32 at 12, count u64 at 16) after
 * st_qs_validate() has accepted the blob.
 *
 * Untrusted input.  The parser reads fields with memcpy at offsets it has
 * checked against the record's length (the buffer may be unaligned); every
 * end offset is computed in size_t after comparing the remaining length.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "dataplane/sketch/le.h"
#include "dataplane/sketch/quantile.h"
#include "shadowtap/backends.h"
#include "shadowtap/profile.h"
#include "shadowtap/sketch_blob.h"

#define HDR_AT(b, field) ((const uint8_t *)(b) + offsetof(struct st_backends_hdr, field))
#define ENT_AT(b, field) ((const uint8_t *)(b) + offsetof(struct st_backends_entry_le, field))
#define HDR_PUT(b, field) ((uint8_t *)(b) + offsetof(struct st_backends_hdr, field))
#define ENT_PUT(b, field) ((uint8_t *)(b) + offsetof(struct st_backends_entry_le, field))

/* Quantile payload fields read back from a latency blob (quantile.c). */
#define QS_ALPHA_OFF (ST_SKETCH_BLOB_HDR_BYTES + 0)
#define QS_FLAGS_OFF (ST_SKETCH_BLOB_HDR_BYTES + 8)
#define QS_BINS_OFF (ST_SKETCH_BLOB_HDR_BYTES + 12)
#define QS_COUNT_OFF (ST_SKETCH_BLOB_HDR_BYTES + 16)
#define QS_FLAG_SIGNED 0x01u

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

bool st_backends_is_record(const void *buf, size_t len)
{
	return buf && len >= 4 && st_get_le32(buf) == ST_BACKENDS_MAGIC;
}

/*
 * Shared checks
 */

static const char *meta_problem(const struct st_backends_meta *m)
{
	if (m->epoch_ns == 0)
		return "epoch length zero";
	if (m->epoch_start_ns + m->epoch_ns < m->epoch_start_ns)
		return "epoch ends past 2^64 ns";
	if (m->cores_merged == 0 || m->cores_merged > m->cores_expected)
		return "cores merged not in 1..cores expected";
	if (m->flags & ~ST_BACKENDS_F_KNOWN)
		return "unknown flag set";
	if (!(m->flags & ST_BACKENDS_F_PARTIAL) != !(m->cores_merged < m->cores_expected))
		return "partial flag disagrees with the cores merged";
	return NULL;
}

/* A latency blob of the record's parameters holding at least one value. */
static const char *latency_problem(const uint8_t *blob, size_t len)
{
	const char *why = NULL;

	if (len > ST_BACKENDS_LATENCY_MAX_BYTES)
		return "latency blob longer than ST_BACKENDS_LATENCY_MAX_BYTES";
	if (st_qs_validate(blob, len, &why))
		return "latency blob refused by the quantile validator";
	/* validate() accepted it, so the payload fields below are inside. */
	if (st_get_lef64(blob + QS_ALPHA_OFF) != ST_BACKENDS_LATENCY_ALPHA)
		return "latency sketch alpha is not the record's";
	if (blob[QS_FLAGS_OFF] & QS_FLAG_SIGNED)
		return "latency sketch is signed";
	if (st_get_le32(blob + QS_BINS_OFF) != ST_BACKENDS_LATENCY_BINS)
		return "latency sketch bin count is not the record's";
	if (st_get_le64(blob + QS_COUNT_OFF) == 0)
		return "latency blob of an empty sketch (latency_len must be 0)";
	return NULL;
}

static bool counters_zero(const struct st_backends_entry *e)
{
	return !(e->records | e->record_bytes | e->packets_to | e->bytes_to |
		 e->packets_from | e->bytes_from | e->retransmissions_to |
		 e->retransmissions_from | e->zero_windows_from |
		 e->zero_windows_to | e->flows_new | e->egress_records);
}

/* Record order: family, address bytes, port, protocol. */
static int entry_cmp(const struct st_backends_entry *a, const struct st_backends_entry *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c < 0 ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->protocol != b->protocol)
		return a->protocol < b->protocol ? -1 : 1;
	return 0;
}

/* Everything about one entry but its latency blob's content and order. */
static const char *entry_problem(const struct st_backends_entry *e)
{
	if (e->family != 4 && e->family != 6)
		return "entry family not 4 or 6";
	if (e->protocol > ST_PROFILE_PROTO_MAX)
		return "entry protocol unknown";
	if (e->family == 4 && !all_zero(e->addr + 4, 12))
		return "IPv4 entry with address bytes 4..15 not zero";
	if (e->latency_len > ST_BACKENDS_LATENCY_MAX_BYTES)
		return "latency blob longer than ST_BACKENDS_LATENCY_MAX_BYTES";
	if (!e->latency != !e->latency_len)
		return "latency pointer and length disagree";
	if (!e->latency_len && counters_zero(e))
		return "entry all zeros";
	return NULL;
}

static size_t entry_bytes(const struct st_backends_entry *e)
{
	return ST_BACKENDS_ENTRY_BYTES + pad8(e->latency_len);
}

/*
 * Builder
 */

ssize_t st_backends_size(const struct st_backends_entry *entries, size_t n,
			 const struct st_backends_meta *meta)
{
	size_t total = ST_BACKENDS_HDR_BYTES;

	if (!meta || (n && !entries) || n > ST_BACKENDS_ENTRIES_MAX || meta_problem(meta))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (entry_problem(&entries[i]))
			return -EINVAL;
		if (i && entry_cmp(&entries[i - 1], &entries[i]) >= 0)
			return -EINVAL;
		total += entry_bytes(&entries[i]);  /* <= 1024 * 8320: no wrap */
	}
	if (total > ST_BACKENDS_MAX_BYTES)
		return -E2BIG;
	return (ssize_t)total;
}

static void put_entry(uint8_t *p, const struct st_backends_entry *e)
{
	memset(p, 0, entry_bytes(e));
	p[offsetof(struct st_backends_entry_le, family)] = e->family;
	p[offsetof(struct st_backends_entry_le, protocol)] = e->protocol;
	st_put_le16(ENT_PUT(p, port_le), e->port);
	st_put_le32(ENT_PUT(p, latency_len_le), e->latency_len);
	memcpy(ENT_PUT(p, addr), e->addr, sizeof(e->addr));
	st_put_le64(ENT_PUT(p, records_le), e->records);
	st_put_le64(ENT_PUT(p, record_bytes_le), e->record_bytes);
	st_put_le64(ENT_PUT(p, packets_to_le), e->packets_to);
	st_put_le64(ENT_PUT(p, bytes_to_le), e->bytes_to);
	st_put_le64(ENT_PUT(p, packets_from_le), e->packets_from);
	st_put_le64(ENT_PUT(p, bytes_from_le), e->bytes_from);
	st_put_le64(ENT_PUT(p, retransmissions_to_le), e->retransmissions_to);
	st_put_le64(ENT_PUT(p, retransmissions_from_le), e->retransmissions_from);
	st_put_le64(ENT_PUT(p, zero_windows_from_le), e->zero_windows_from);
	st_put_le64(ENT_PUT(p, zero_windows_to_le), e->zero_windows_to);
	st_put_le64(ENT_PUT(p, flows_new_le), e->flows_new);
	st_put_le64(ENT_PUT(p, egress_records_le), e->egress_records);
	if (e->latency_len)
		memcpy(p + ST_BACKENDS_ENTRY_BYTES, e->latency, e->latency_len);
}

ssize_t st_backends_build(const struct st_backends_entry *entries, size_t n,
			  const struct st_backends_meta *meta, void *buf, size_t cap)
{
	ssize_t total = st_backends_size(entries, n, meta);
	uint8_t *b = buf;
	size_t at = ST_BACKENDS_HDR_BYTES;

	if (total < 0)
		return total;
	for (size_t i = 0; i < n; i++)
		if (entries[i].latency_len &&
		    latency_problem(entries[i].latency, entries[i].latency_len))
			return -EINVAL;
	if (!buf || cap < (size_t)total)
		return -ENOSPC;

	memset(b, 0, ST_BACKENDS_HDR_BYTES);
	st_put_le32(HDR_PUT(b, magic_le), ST_BACKENDS_MAGIC);
	st_put_le16(HDR_PUT(b, abi_version_le), ST_BACKENDS_ABI_VERSION);
	st_put_le16(HDR_PUT(b, hdr_bytes_le), ST_BACKENDS_HDR_BYTES);
	st_put_le32(HDR_PUT(b, total_bytes_le), (uint32_t)total);
	st_put_le32(HDR_PUT(b, flags_le), meta->flags);
	st_put_le64(HDR_PUT(b, epoch_start_ns_le), meta->epoch_start_ns);
	st_put_le64(HDR_PUT(b, epoch_ns_le), meta->epoch_ns);
	st_put_le16(HDR_PUT(b, cores_merged_le), meta->cores_merged);
	st_put_le16(HDR_PUT(b, cores_expected_le), meta->cores_expected);
	st_put_le32(HDR_PUT(b, entry_count_le), (uint32_t)n);
	st_put_le64(HDR_PUT(b, overflow_le), meta->overflow);
	for (size_t i = 0; i < n; i++) {
		put_entry(b + at, &entries[i]);
		at += entry_bytes(&entries[i]);
	}
	return total;
}

/*
 * Parser
 */

#define REJECT(code, reason) do { *why = (reason); return -(code); } while (0)

static int parse_header(const uint8_t *b, size_t len, struct st_backends_view *v,
			const char **why)
{
	struct st_backends_meta *m = &v->meta;
	const char *problem;

	if (len < ST_BACKENDS_HDR_BYTES)
		REJECT(EINVAL, "shorter than the backends header");
	if (st_get_le32(HDR_AT(b, magic_le)) != ST_BACKENDS_MAGIC)
		REJECT(EINVAL, "not a backends record (bad magic)");
	if (st_get_le16(HDR_AT(b, abi_version_le)) != ST_BACKENDS_ABI_VERSION)
		REJECT(EPROTO, "unsupported backends ABI version");
	if (st_get_le16(HDR_AT(b, hdr_bytes_le)) != ST_BACKENDS_HDR_BYTES)
		REJECT(EINVAL, "header size is not that of this ABI version");
	if (len > ST_BACKENDS_MAX_BYTES ||
	    st_get_le32(HDR_AT(b, total_bytes_le)) > ST_BACKENDS_MAX_BYTES)
		REJECT(E2BIG, "record larger than ST_BACKENDS_MAX_BYTES");
	if (st_get_le32(HDR_AT(b, total_bytes_le)) != len)
		REJECT(EINVAL, "total size does not match the buffer");
	if (len % 8)
		REJECT(EINVAL, "total size not a multiple of 8");
	if (!all_zero(HDR_AT(b, reserved), sizeof(((struct st_backends_hdr *)0)->reserved)))
		REJECT(EINVAL, "header reserved bytes not zero");

	m->flags = st_get_le32(HDR_AT(b, flags_le));
	m->epoch_start_ns = st_get_le64(HDR_AT(b, epoch_start_ns_le));
	m->epoch_ns = st_get_le64(HDR_AT(b, epoch_ns_le));
	m->cores_merged = st_get_le16(HDR_AT(b, cores_merged_le));
	m->cores_expected = st_get_le16(HDR_AT(b, cores_expected_le));
	m->overflow = st_get_le64(HDR_AT(b, overflow_le));
	problem = meta_problem(m);
	if (problem)
		REJECT(EINVAL, problem);
	v->entry_count = st_get_le32(HDR_AT(b, entry_count_le));
	if (v->entry_count > ST_BACKENDS_ENTRIES_MAX)
		REJECT(EINVAL, "more entries than ST_BACKENDS_ENTRIES_MAX");
	return 0;
}

/* Decodes the entry at b[at..len) into *e (no checks but the bounds);
 * returns its bytes, or 0 if it does not fit. */
static size_t read_entry(const uint8_t *b, size_t len, size_t at,
			 struct st_backends_entry *e)
{
	const uint8_t *p = b + at;
	size_t room = len - at;

	memset(e, 0, sizeof(*e));
	if (room < ST_BACKENDS_ENTRY_BYTES)
		return 0;
	e->family = p[offsetof(struct st_backends_entry_le, family)];
	e->protocol = p[offsetof(struct st_backends_entry_le, protocol)];
	e->port = st_get_le16(ENT_AT(p, port_le));
	e->latency_len = st_get_le32(ENT_AT(p, latency_len_le));
	memcpy(e->addr, ENT_AT(p, addr), sizeof(e->addr));
	e->records = st_get_le64(ENT_AT(p, records_le));
	e->record_bytes = st_get_le64(ENT_AT(p, record_bytes_le));
	e->packets_to = st_get_le64(ENT_AT(p, packets_to_le));
	e->bytes_to = st_get_le64(ENT_AT(p, bytes_to_le));
	e->packets_from = st_get_le64(ENT_AT(p, packets_from_le));
	e->bytes_from = st_get_le64(ENT_AT(p, bytes_from_le));
	e->retransmissions_to = st_get_le64(ENT_AT(p, retransmissions_to_le));
	e->retransmissions_from = st_get_le64(ENT_AT(p, retransmissions_from_le));
	e->zero_windows_from = st_get_le64(ENT_AT(p, zero_windows_from_le));
	e->zero_windows_to = st_get_le64(ENT_AT(p, zero_windows_to_le));
	e->flows_new = st_get_le64(ENT_AT(p, flows_new_le));
	e->egress_records = st_get_le64(ENT_AT(p, egress_records_le));
	if (e->latency_len > ST_BACKENDS_LATENCY_MAX_BYTES ||
	    room - ST_BACKENDS_ENTRY_BYTES < pad8(e->latency_len))
		return 0;
	if (e->latency_len)
		e->latency = p + ST_BACKENDS_ENTRY_BYTES;
	return entry_bytes(e);
}

static int parse_entries(const uint8_t *b, size_t len, const char **why)
{
	struct st_backends_entry prev, cur;
	uint32_t count = st_get_le32(HDR_AT(b, entry_count_le));
	size_t at = ST_BACKENDS_HDR_BYTES;
	const char *problem;

	for (uint32_t i = 0; i < count; i++) {
		size_t bytes;
		const uint8_t *p = b + at;

		if (at >= len)
			REJECT(EINVAL, "entries past the record's end");
		bytes = read_entry(b, len, at, &cur);
		if (!bytes) {
			if (len - at >= ST_BACKENDS_ENTRY_BYTES &&
			    cur.latency_len > ST_BACKENDS_LATENCY_MAX_BYTES)
				REJECT(EINVAL, "latency blob longer than ST_BACKENDS_LATENCY_MAX_BYTES");
			REJECT(EINVAL, "entry runs past the record's end");
		}
		if (st_get_le64(ENT_AT(p, reserved_le)))
			REJECT(EINVAL, "entry reserved field not zero");
		problem = entry_problem(&cur);
		if (problem)
			REJECT(EINVAL, problem);
		if (!all_zero(p + ST_BACKENDS_ENTRY_BYTES + cur.latency_len,
			      pad8(cur.latency_len) - cur.latency_len))
			REJECT(EINVAL, "padding after a latency blob not zero");
		if (cur.latency_len) {
			problem = latency_problem(cur.latency, cur.latency_len);
			if (problem)
				REJECT(EINVAL, problem);
		}
		if (i && entry_cmp(&prev, &cur) >= 0)
			REJECT(EINVAL, "entries not strictly ascending");
		prev = cur;
		at += bytes;
	}
	if (at != len)
		REJECT(EINVAL, "bytes after the last entry");
	return 0;
}

int st_backends_parse(const void *buf, size_t len, struct st_backends_view *view,
		      const char **why)
{
	const uint8_t *b = buf;
	const char *unused;
	int err;

	if (!why)
		why = &unused;
	memset(view, 0, sizeof(*view));
	if (!buf) {
		*why = "no buffer";
		return -EINVAL;
	}
	err = parse_header(b, len, view, why);
	if (!err)
		err = parse_entries(b, len, why);
	if (err) {
		memset(view, 0, sizeof(*view));
		return err;
	}
	view->buf = b;
	view->len = len;
	return 0;
}

int st_backends_next(const struct st_backends_view *view, size_t *pos,
		     struct st_backends_entry *e)
{
	size_t bytes;

	if (!view->buf || !*pos)
		*pos = view->buf ? ST_BACKENDS_HDR_BYTES : 0;
	if (!view->buf || *pos >= view->len)
		return 0;
	bytes = read_entry(view->buf, view->len, *pos, e);
	if (!bytes)
		return 0;  /* cannot happen on a parsed view */
	*pos += bytes;
	return 1;
}
