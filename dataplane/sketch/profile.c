/*
 * The Shadow Profile record (shadowtap/profile.h): builder and validating
 * parser.  The byte layout is drawn in the header; this file says how the
 * two ends keep it exact.
 *
 * One plan, two uses.  The builder first lays out the record (plan_make: the
 * list of sections in (type, index) order with each payload's exact size),
 * so st_profile_size() and st_profile_build() cannot disagree.
 *
 * Canonical form.  For a given set and meta exactly one byte string is
 * valid, so the parser can demand it: every reserved byte and every padding
 * byte is zero, the name is followed by zeros only, the Kafka section is
 * trimmed after its last non-zero partition and absent when all are zero,
 * and the summary block must be bit for bit what the builder computes from
 * the record's own sketches.  The last check needs the sketches in memory:
 * the parser deserializes them (transiently) after every structural check
 * and every blob's own st_*_validate() have passed.  That makes
 * build(from_profile(parse(r))) == r for every accepted r, which the fuzz
 * target (tests/fuzz/fuzz_profile.c) checks on every input it finds.
 *
 * Untrusted input.  The parser reads fields through memcpy at offsets it has
 * bounds-checked (no struct overlays on the buffer, which may be unaligned),
 * computes every end offset in 64 bits after checking it against the
 * record's length, and hands each blob to its sketch's validator with the
 * section's exact length.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/le.h"
#include "dataplane/sketch/sset.h"
#include "shadowtap/profile.h"
#include "shadowtap/sketch_blob.h"

#define HDR_AT(b, field) ((b) + offsetof(struct st_profile_hdr, field))
#define CNT_AT(b, field) \
	((b) + ST_PROFILE_COUNTERS_OFF + offsetof(struct st_profile_counters_le, field))
#define SUM_AT(b, field) \
	((b) + ST_PROFILE_SUMMARY_OFF + offsetof(struct st_profile_summary_le, field))

#define SECTION_HDR_BYTES sizeof(struct st_profile_section)

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/*
 * Text of a name: well-formed UTF-8 (Unicode 15, table 3-7: no overlongs,
 * no surrogates, nothing above U+10FFFF) without C0/C1 controls or DEL.
 */
static bool text_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i], lo = 0x80, hi = 0xbf;
		size_t more;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			if (c == 0xc2)
				lo = 0xa0;  /* U+0080..U+009F are C1 controls */
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (n - i - 1 < more || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t j = 2; j <= more; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		i += more + 1;
	}
	return true;
}

/* A field name: a JSON pointer "/..." of 1..ST_PROFILE_FIELD_NAME_MAX bytes,
 * or ST_PROFILE_FIELD_RECORD_KEY. */
static bool field_name_ok(const char *name, size_t len)
{
	if (len == sizeof(ST_PROFILE_FIELD_RECORD_KEY) - 1 &&
	    memcmp(name, ST_PROFILE_FIELD_RECORD_KEY, len) == 0)
		return true;
	return len >= 1 && len <= ST_PROFILE_FIELD_NAME_MAX && name[0] == '/' &&
	       text_ok((const uint8_t *)name, len);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Partitions the Kafka section carries: up to the last non-zero one. */
static unsigned kafka_entries(const struct st_profile_counters *c)
{
	unsigned n = ST_PROFILE_KAFKA_PARTITIONS;

	while (n > 0 && c->kafka_partition[n - 1] == 0)
		n--;
	return n;
}

/*
 * The summary
 */

static double finite_or_zero(double x)
{
	return isfinite(x) ? x : 0.0;
}

static double clamp(double x, double lo, double hi)
{
	x = finite_or_zero(x);
	return x < lo ? lo : x > hi ? hi : x;
}

/* max/mean of partitions 0..n-1, in [1, n]; 0 without Kafka data. */
static double kafka_imbalance(const struct st_profile_counters *c)
{
	unsigned n = kafka_entries(c);
	double sum = 0.0, max = 0.0;

	if (n == 0)
		return 0.0;
	for (unsigned i = 0; i < n; i++) {
		double v = (double)c->kafka_partition[i];

		sum += v;
		if (v > max)
			max = v;
	}
	return clamp(max / (sum / n), 1.0, n);
}

/*
 * The summary of a set: what the builder writes and the parser demands.
 * The skew figures come from `heavy`, the set's heavy hitters in their
 * canonical state, deserialized from the record's blobs (see build).
 */
static void summary_compute(const struct st_sset *s,
			    const struct st_hh *const *heavy,
			    struct st_profile_summary *out)
{
	const struct st_sset_config *cfg = st_sset_config(s);
	const struct st_qs *size = st_sset_size_qs_ro(s);
	const struct st_schema *schema = st_sset_schema_ro(s);

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < cfg->key_fields; i++) {
		double distinct = st_hll_estimate(st_sset_hll_ro(s, i));
		struct st_skew skew;

		out->cardinality[i] = clamp(distinct, 0.0, INFINITY);
		if (st_hh_skew(heavy[i], out->cardinality[i], &skew) != 0)
			continue;  /* no data: the figures stay 0 */
		out->top1_share[i] = clamp(skew.top1_share, 0.0, 1.0);
		out->topk_share[i] = clamp(skew.topk_share, 0.0, 1.0);
		out->entropy_norm[i] = clamp(skew.entropy_norm, 0.0, 1.0);
		out->gini[i] = clamp(skew.gini, 0.0, 1.0);
	}
	out->kafka_imbalance = kafka_imbalance(st_sset_counters_ro(s));
	if (st_qs_count(size) > 0) {
		out->size_p50 = clamp(st_qs_estimate(size, 0.50), 0.0, INFINITY);
		out->size_p90 = clamp(st_qs_estimate(size, 0.90), 0.0, INFINITY);
		out->size_p99 = clamp(st_qs_estimate(size, 0.99), 0.0, INFINITY);
	}
	out->schema_fingerprint = st_schema_fingerprint(schema);
	out->schema_entries = st_schema_size(schema);
}

static void summary_encode(const struct st_profile_summary *v, uint8_t *b)
{
	for (unsigned i = 0; i < ST_PROFILE_KEY_FIELDS_MAX; i++) {
		st_put_lef64(SUM_AT(b, cardinality_le[i]), v->cardinality[i]);
		st_put_lef64(SUM_AT(b, top1_share_le[i]), v->top1_share[i]);
		st_put_lef64(SUM_AT(b, topk_share_le[i]), v->topk_share[i]);
		st_put_lef64(SUM_AT(b, entropy_norm_le[i]), v->entropy_norm[i]);
		st_put_lef64(SUM_AT(b, gini_le[i]), v->gini[i]);
	}
	st_put_lef64(SUM_AT(b, kafka_imbalance_le), v->kafka_imbalance);
	st_put_lef64(SUM_AT(b, size_p50_le), v->size_p50);
	st_put_lef64(SUM_AT(b, size_p90_le), v->size_p90);
	st_put_lef64(SUM_AT(b, size_p99_le), v->size_p99);
	st_put_le64(SUM_AT(b, schema_fingerprint_le), v->schema_fingerprint);
	st_put_le32(SUM_AT(b, schema_entries_le), v->schema_entries);
	st_put_le32(SUM_AT(b, reserved_le), 0);
}

static void summary_decode(const uint8_t *b, struct st_profile_summary *v)
{
	for (unsigned i = 0; i < ST_PROFILE_KEY_FIELDS_MAX; i++) {
		v->cardinality[i] = st_get_lef64(SUM_AT(b, cardinality_le[i]));
		v->top1_share[i] = st_get_lef64(SUM_AT(b, top1_share_le[i]));
		v->topk_share[i] = st_get_lef64(SUM_AT(b, topk_share_le[i]));
		v->entropy_norm[i] = st_get_lef64(SUM_AT(b, entropy_norm_le[i]));
		v->gini[i] = st_get_lef64(SUM_AT(b, gini_le[i]));
	}
	v->kafka_imbalance = st_get_lef64(SUM_AT(b, kafka_imbalance_le));
	v->size_p50 = st_get_lef64(SUM_AT(b, size_p50_le));
	v->size_p90 = st_get_lef64(SUM_AT(b, size_p90_le));
	v->size_p99 = st_get_lef64(SUM_AT(b, size_p99_le));
	v->schema_fingerprint = st_get_le64(SUM_AT(b, schema_fingerprint_le));
	v->schema_entries = st_get_le32(SUM_AT(b, schema_entries_le));
}

/*
 * Builder
 */

struct plan_entry {
	uint16_t type;
	uint16_t index;
	uint32_t len;  /* payload bytes */
};

struct plan {
	struct plan_entry sec[ST_PROFILE_SECTIONS_MAX];
	unsigned n;
	size_t total;
};

static bool meta_names_ok(const struct st_profile_meta *m,
			  const struct st_sset_config *cfg, size_t *names_len)
{
	bool named = m->key_field_names[0] != NULL;

	*names_len = 0;
	for (unsigned i = 0; i < ST_PROFILE_KEY_FIELDS_MAX; i++) {
		const char *name = m->key_field_names[i];

		if (!named || i >= cfg->key_fields) {
			if (name)
				return false;
			continue;
		}
		if (!name || !field_name_ok(name, strlen(name)))
			return false;
		*names_len += strlen(name) + 1;
	}
	for (unsigned i = 0; i < ST_PROFILE_NUMERIC_FIELDS_MAX; i++) {
		const char *name = m->numeric_field_names[i];

		if (!named || i >= cfg->numeric_fields) {
			if (name)
				return false;
			continue;
		}
		if (!name || !field_name_ok(name, strlen(name)))
			return false;
		*names_len += strlen(name) + 1;
	}
	return true;
}

static bool meta_ok(const struct st_sset *s, const struct st_profile_meta *m,
		    size_t *names_len)
{
	const struct st_sset_config *cfg = st_sset_config(s);
	size_t name_len;

	if (!m->name)
		return false;
	name_len = strlen(m->name);
	if (name_len == 0 || name_len >= ST_PROFILE_NAME_BYTES ||
	    !text_ok((const uint8_t *)m->name, name_len))
		return false;
	if (m->cores_merged == 0 || m->cores_merged > m->cores_expected ||
	    (m->flags & ~ST_PROFILE_F_KNOWN) || m->protocol > ST_PROFILE_PROTO_MAX ||
	    !(m->flags & ST_PROFILE_F_PARTIAL) !=
		    !(m->cores_merged < m->cores_expected))
		return false;
	if (m->epoch_ns != cfg->epoch_ns ||
	    m->epoch_start_ns != st_sset_epoch_start_ns(s))
		return false;
	return meta_names_ok(m, cfg, names_len);
}

static void plan_add(struct plan *p, uint16_t type, uint16_t index, size_t len)
{
	p->sec[p->n++] = (struct plan_entry){ type, index, (uint32_t)len };
	p->total += SECTION_HDR_BYTES + pad8(len);
}

/* Lays out the record.  0, -EINVAL (meta) or -E2BIG. */
static int plan_make(const struct st_sset *s, const struct st_profile_meta *m,
		     struct plan *p)
{
	const struct st_sset_config *cfg = st_sset_config(s);
	size_t names_len;
	unsigned kafka;

	if (!meta_ok(s, m, &names_len))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->total = ST_PROFILE_SECTIONS_OFF;
	for (unsigned i = 0; i < cfg->key_fields; i++)
		plan_add(p, ST_PROFILE_SEC_HLL, i,
			 st_hll_serialized_size(st_sset_hll_ro(s, i)));
	for (unsigned i = 0; i < cfg->key_fields; i++)
		plan_add(p, ST_PROFILE_SEC_HEAVY, i,
			 st_hh_serialized_size(st_sset_heavy_ro(s, i)));
	plan_add(p, ST_PROFILE_SEC_QUANTILE, 0,
		 st_qs_serialized_size(st_sset_size_qs_ro(s)));
	for (unsigned i = 0; i < cfg->numeric_fields; i++)
		plan_add(p, ST_PROFILE_SEC_QUANTILE, i + 1,
			 st_qs_serialized_size(st_sset_numeric_qs_ro(s, i)));
	plan_add(p, ST_PROFILE_SEC_SCHEMA, 0,
		 st_schema_serialized_size(st_sset_schema_ro(s)));
	plan_add(p, ST_PROFILE_SEC_TICKS, 0,
		 st_ticks_serialized_size(st_sset_ticks_ro(s)));
	kafka = kafka_entries(st_sset_counters_ro(s));
	if (kafka)
		plan_add(p, ST_PROFILE_SEC_KAFKA, 0, (size_t)kafka * 8);
	if (names_len)
		plan_add(p, ST_PROFILE_SEC_FIELD_NAMES, 0, names_len);
	/* every payload is far below 4 GiB: each sketch is bounded by its
	 * parameters' maxima, so the sum cannot wrap */
	return p->total > ST_PROFILE_MAX_BYTES ? -E2BIG : 0;
}

ssize_t st_profile_size(const struct st_sset *set,
			const struct st_profile_meta *meta)
{
	struct plan p;
	int err = plan_make(set, meta, &p);

	return err ? err : (ssize_t)p.total;
}

static void put_header(const struct st_sset *s, const struct st_profile_meta *m,
		       const struct plan *p, uint8_t *b)
{
	const struct st_sset_config *cfg = st_sset_config(s);
	size_t name_len = strlen(m->name);

	st_put_le32(HDR_AT(b, magic_le), ST_PROFILE_MAGIC);
	st_put_le16(HDR_AT(b, abi_version_le), ST_PROFILE_ABI_VERSION);
	st_put_le16(HDR_AT(b, hdr_bytes_le), sizeof(struct st_profile_hdr));
	st_put_le32(HDR_AT(b, total_bytes_le), (uint32_t)p->total);
	st_put_le32(HDR_AT(b, flags_le), m->flags);
	st_put_le64(HDR_AT(b, stream_id_le), st_hash64(m->name, name_len));
	memcpy(HDR_AT(b, stream_name), m->name, name_len);  /* rest stays 0 */
	st_put_le64(HDR_AT(b, epoch_start_ns_le), m->epoch_start_ns);
	st_put_le64(HDR_AT(b, epoch_ns_le), m->epoch_ns);
	st_put_le16(HDR_AT(b, cores_merged_le), m->cores_merged);
	st_put_le16(HDR_AT(b, cores_expected_le), m->cores_expected);
	*HDR_AT(b, hash_id) = ST_HASH_ID;
	*HDR_AT(b, protocol) = m->protocol;
	*HDR_AT(b, key_fields) = (uint8_t)cfg->key_fields;
	*HDR_AT(b, numeric_fields) = (uint8_t)cfg->numeric_fields;
	st_put_le64(HDR_AT(b, hash_seed_le), ST_HASH_SEED);
	st_put_le16(HDR_AT(b, section_count_le), (uint16_t)p->n);
}

static void put_counters(const struct st_profile_counters *c, uint8_t *b)
{
	st_put_le64(CNT_AT(b, records_le), c->records);
	st_put_le64(CNT_AT(b, bytes_le), c->bytes);
	st_put_le64(CNT_AT(b, packets_le), c->packets);
	st_put_le64(CNT_AT(b, flows_new_le), c->flows_new);
	st_put_le64(CNT_AT(b, flows_active_le), c->flows_active);
	st_put_le64(CNT_AT(b, reassembly_gaps_le), c->reassembly_gaps);
	st_put_le64(CNT_AT(b, kafka_overflow_le), c->kafka_overflow);
	st_put_le64(CNT_AT(b, egress_records_le), c->egress_records);
	for (unsigned i = 0; i < ST_PROFILE_REASONS; i++) {
		st_put_le64(CNT_AT(b, parse_errors_le[i]), c->parse_errors[i]);
		st_put_le64(CNT_AT(b, drops_le[i]), c->drops[i]);
	}
}

/* Writes the payload of one planned section.  Bytes written or -errno. */
static ssize_t put_payload(const struct st_sset *s,
			   const struct st_profile_meta *m,
			   const struct plan_entry *e, uint8_t *dst)
{
	const struct st_profile_counters *c = st_sset_counters_ro(s);
	uint8_t *at = dst;

	switch (e->type) {
	case ST_PROFILE_SEC_HLL:
		return st_hll_serialize(st_sset_hll_ro(s, e->index), dst, e->len);
	case ST_PROFILE_SEC_HEAVY:
		return st_hh_serialize(st_sset_heavy_ro(s, e->index), dst, e->len);
	case ST_PROFILE_SEC_QUANTILE:
		return st_qs_serialize(e->index == 0 ? st_sset_size_qs_ro(s) :
				       st_sset_numeric_qs_ro(s, e->index - 1u),
				       dst, e->len);
	case ST_PROFILE_SEC_SCHEMA:
		return st_schema_serialize(st_sset_schema_ro(s), dst, e->len);
	case ST_PROFILE_SEC_TICKS:
		return st_ticks_serialize(st_sset_ticks_ro(s), dst, e->len);
	case ST_PROFILE_SEC_KAFKA:
		for (uint32_t i = 0; i < e->len / 8; i++)
			st_put_le64(dst + 8 * i, c->kafka_partition[i]);
		return e->len;
	case ST_PROFILE_SEC_FIELD_NAMES:
		for (unsigned i = 0; i < ST_PROFILE_KEY_FIELDS_MAX; i++)
			if (m->key_field_names[i])
				at = (uint8_t *)stpcpy((char *)at,
						       m->key_field_names[i]) + 1;
		for (unsigned i = 0; i < ST_PROFILE_NUMERIC_FIELDS_MAX; i++)
			if (m->numeric_field_names[i])
				at = (uint8_t *)stpcpy((char *)at,
						       m->numeric_field_names[i]) + 1;
		return at - dst;
	}
	return -EIO;
}

/*
 * Writes the summary of a record whose sections are written.  The skew
 * figures are taken from copies of the heavy hitters deserialized from the
 * record's own blobs, as a reader will hold them: a sketch's derived figures
 * may depend (in the last bits) on the order of its counters in memory,
 * which serialization does not keep.  0 or -ENOMEM.
 */
static int put_summary(const struct st_sset *s, const struct plan *p,
		       uint8_t *b)
{
	const struct st_hh *heavy[ST_PROFILE_KEY_FIELDS_MAX] = { NULL };
	struct st_hh *copy[ST_PROFILE_KEY_FIELDS_MAX] = { NULL };
	struct st_profile_summary summary;
	const uint8_t *at = b + ST_PROFILE_SECTIONS_OFF;
	const char *why;
	int err = 0;

	for (unsigned i = 0; i < p->n; i++) {
		const struct plan_entry *e = &p->sec[i];

		if (e->type == ST_PROFILE_SEC_HEAVY) {
			copy[e->index] = st_hh_deserialize(at + SECTION_HDR_BYTES,
							   e->len, &why);
			if (!copy[e->index]) {
				err = errno == ENOMEM ? -ENOMEM : -EIO;
				goto out_destroy;
			}
			heavy[e->index] = copy[e->index];
		}
		at += SECTION_HDR_BYTES + pad8(e->len);
	}
	summary_compute(s, heavy, &summary);
	summary_encode(&summary, b);
out_destroy:
	for (unsigned i = 0; i < ST_PROFILE_KEY_FIELDS_MAX; i++)
		st_hh_destroy(copy[i]);
	return err;
}

ssize_t st_profile_build(const struct st_sset *set,
			 const struct st_profile_meta *meta,
			 void *buf, size_t cap)
{
	uint8_t *b = buf, *at;
	struct plan p;
	int err;

	err = plan_make(set, meta, &p);
	if (err)
		return err;
	if (cap < p.total)
		return -ENOSPC;
	memset(b, 0, p.total);
	put_header(set, meta, &p, b);
	put_counters(st_sset_counters_ro(set), b);

	at = b + ST_PROFILE_SECTIONS_OFF;
	for (unsigned i = 0; i < p.n; i++) {
		const struct plan_entry *e = &p.sec[i];
		ssize_t wrote;

		st_put_le16(at, e->type);
		st_put_le16(at + 2, e->index);
		st_put_le32(at + 4, e->len);
		wrote = put_payload(set, meta, e, at + SECTION_HDR_BYTES);
		if (wrote != (ssize_t)e->len)
			return -EIO;
		at += SECTION_HDR_BYTES + pad8(e->len);  /* padding already 0 */
	}
	err = put_summary(set, &p, b);
	return err ? err : (ssize_t)p.total;
}

/*
 * Parser
 */

#define REJECT(code, reason) do { *why = (reason); return -(code); } while (0)

static int parse_name(const uint8_t *b, struct st_profile_view *v,
		      const char **why)
{
	const uint8_t *name = HDR_AT(b, stream_name);
	const uint8_t *nul = memchr(name, 0, ST_PROFILE_NAME_BYTES);
	size_t len;

	if (!nul)
		REJECT(EINVAL, "stream name not NUL-terminated");
	len = (size_t)(nul - name);
	if (len == 0)
		REJECT(EINVAL, "stream name empty");
	if (!all_zero(nul, ST_PROFILE_NAME_BYTES - len))
		REJECT(EINVAL, "stream name padding not zero");
	if (!text_ok(name, len))
		REJECT(EINVAL, "stream name not UTF-8 text");
	if (st_get_le64(HDR_AT(b, stream_id_le)) != st_hash64(name, len))
		REJECT(EINVAL, "stream id is not the hash of the name");
	v->meta.name = (const char *)name;
	v->stream_id = st_get_le64(HDR_AT(b, stream_id_le));
	return 0;
}

/* Everything in the fixed 128-byte header but the name. */
static int parse_header(const uint8_t *b, size_t len, struct st_profile_view *v,
			const char **why)
{
	uint32_t flags;
	uint16_t merged, expected;

	if (len < sizeof(struct st_profile_hdr))
		REJECT(EINVAL, "shorter than the profile header");
	if (st_get_le32(HDR_AT(b, magic_le)) != ST_PROFILE_MAGIC)
		REJECT(EINVAL, "not a profile (bad magic)");
	if (st_get_le16(HDR_AT(b, abi_version_le)) != ST_PROFILE_ABI_VERSION)
		REJECT(EPROTO, "unsupported profile ABI version");
	if (st_get_le16(HDR_AT(b, hdr_bytes_le)) != sizeof(struct st_profile_hdr))
		REJECT(EINVAL, "header size is not that of this ABI version");
	if (len > ST_PROFILE_MAX_BYTES ||
	    st_get_le32(HDR_AT(b, total_bytes_le)) > ST_PROFILE_MAX_BYTES)
		REJECT(E2BIG, "profile larger than ST_PROFILE_MAX_BYTES");
	if (st_get_le32(HDR_AT(b, total_bytes_le)) != len)
		REJECT(EINVAL, "total size does not match the buffer");
	if (len % 8)
		REJECT(EINVAL, "total size not a multiple of 8");
	if (len < ST_PROFILE_SECTIONS_OFF)
		REJECT(EINVAL, "shorter than header, counters and summary");

	flags = st_get_le32(HDR_AT(b, flags_le));
	if (flags & ~ST_PROFILE_F_KNOWN)
		REJECT(EINVAL, "unknown flag set");
	if (!all_zero(HDR_AT(b, reserved1), 6))
		REJECT(EINVAL, "header reserved bytes not zero");
	if (*HDR_AT(b, protocol) > ST_PROFILE_PROTO_MAX)
		REJECT(EINVAL, "unknown protocol");
	v->meta.protocol = *HDR_AT(b, protocol);
	if (*HDR_AT(b, hash_id) != ST_HASH_ID ||
	    st_get_le64(HDR_AT(b, hash_seed_le)) != ST_HASH_SEED)
		REJECT(EINVAL, "profile built with another hash or seed");

	v->meta.epoch_start_ns = st_get_le64(HDR_AT(b, epoch_start_ns_le));
	v->meta.epoch_ns = st_get_le64(HDR_AT(b, epoch_ns_le));
	if (v->meta.epoch_ns == 0)
		REJECT(EINVAL, "epoch length zero");
	if (v->meta.epoch_start_ns + v->meta.epoch_ns < v->meta.epoch_start_ns)
		REJECT(EINVAL, "epoch ends past 2^64 ns");

	merged = st_get_le16(HDR_AT(b, cores_merged_le));
	expected = st_get_le16(HDR_AT(b, cores_expected_le));
	if (merged == 0 || merged > expected)
		REJECT(EINVAL, "cores merged not in 1..cores expected");
	if (!(flags & ST_PROFILE_F_PARTIAL) != !(merged < expected))
		REJECT(EINVAL, "partial flag disagrees with the cores merged");
	v->meta.cores_merged = merged;
	v->meta.cores_expected = expected;
	v->meta.flags = flags;

	v->key_fields = *HDR_AT(b, key_fields);
	v->numeric_fields = *HDR_AT(b, numeric_fields);
	if (v->key_fields < 1 || v->key_fields > ST_PROFILE_KEY_FIELDS_MAX)
		REJECT(EINVAL, "key field count out of range");
	if (v->numeric_fields > ST_PROFILE_NUMERIC_FIELDS_MAX)
		REJECT(EINVAL, "numeric field count out of range");
	return parse_name(b, v, why);
}

static void parse_counters(const uint8_t *b, struct st_profile_counters *c)
{
	c->records = st_get_le64(CNT_AT(b, records_le));
	c->bytes = st_get_le64(CNT_AT(b, bytes_le));
	c->packets = st_get_le64(CNT_AT(b, packets_le));
	c->flows_new = st_get_le64(CNT_AT(b, flows_new_le));
	c->flows_active = st_get_le64(CNT_AT(b, flows_active_le));
	c->reassembly_gaps = st_get_le64(CNT_AT(b, reassembly_gaps_le));
	c->kafka_overflow = st_get_le64(CNT_AT(b, kafka_overflow_le));
	c->egress_records = st_get_le64(CNT_AT(b, egress_records_le));
	for (unsigned i = 0; i < ST_PROFILE_REASONS; i++) {
		c->parse_errors[i] = st_get_le64(CNT_AT(b, parse_errors_le[i]));
		c->drops[i] = st_get_le64(CNT_AT(b, drops_le[i]));
	}
}

static bool unit_ok(double x)
{
	return x >= 0.0 && x <= 1.0;  /* false for NaN */
}

/* Ranges the builder guarantees (the exact values are checked later). */
static int parse_summary(const uint8_t *b, struct st_profile_view *v,
			 const char **why)
{
	struct st_profile_summary *s = &v->summary;

	if (st_get_le32(SUM_AT(b, reserved_le)))
		REJECT(EINVAL, "summary reserved field not zero");
	summary_decode(b, s);
	for (unsigned i = 0; i < ST_PROFILE_KEY_FIELDS_MAX; i++) {
		if (i >= v->key_fields) {
			if (!all_zero(SUM_AT(b, cardinality_le[i]), 8) ||
			    !all_zero(SUM_AT(b, top1_share_le[i]), 8) ||
			    !all_zero(SUM_AT(b, topk_share_le[i]), 8) ||
			    !all_zero(SUM_AT(b, entropy_norm_le[i]), 8) ||
			    !all_zero(SUM_AT(b, gini_le[i]), 8))
				REJECT(EINVAL, "summary of an unused key field not zero");
			continue;
		}
		if (!(s->cardinality[i] >= 0.0) || !isfinite(s->cardinality[i]))
			REJECT(EINVAL, "cardinality not finite and >= 0");
		if (!unit_ok(s->top1_share[i]) || !unit_ok(s->topk_share[i]) ||
		    !unit_ok(s->entropy_norm[i]) || !unit_ok(s->gini[i]))
			REJECT(EINVAL, "skew figure outside [0,1]");
	}
	if (!(s->size_p50 >= 0.0) || !isfinite(s->size_p50) ||
	    !(s->size_p90 >= 0.0) || !isfinite(s->size_p90) ||
	    !(s->size_p99 >= 0.0) || !isfinite(s->size_p99))
		REJECT(EINVAL, "size quantile not finite and >= 0");
	if (!(s->kafka_imbalance == 0.0 ||
	      (s->kafka_imbalance >= 1.0 &&
	       s->kafka_imbalance <= ST_PROFILE_KAFKA_PARTITIONS)))
		REJECT(EINVAL, "Kafka imbalance neither 0 nor in [1,64]");
	return 0;
}

/* How many sections of a type a record with k key and q numeric fields
 * may hold (indices 0..limit-1) and must hold. */
static void section_limits(unsigned type, const struct st_profile_view *v,
			   unsigned *limit, unsigned *required)
{
	switch (type) {
	case ST_PROFILE_SEC_HLL:
	case ST_PROFILE_SEC_HEAVY:
		*limit = *required = v->key_fields;
		return;
	case ST_PROFILE_SEC_QUANTILE:
		*limit = *required = 1 + v->numeric_fields;
		return;
	case ST_PROFILE_SEC_SCHEMA:
	case ST_PROFILE_SEC_TICKS:
		*limit = *required = 1;
		return;
	case ST_PROFILE_SEC_KAFKA:
	case ST_PROFILE_SEC_FIELD_NAMES:
		*limit = 1;
		*required = 0;
		return;
	}
	*limit = *required = 0;  /* unknown type */
}

static int parse_kafka(struct st_profile_view *v, const uint8_t *p,
		       uint32_t len, const char **why)
{
	unsigned n = len / 8;

	if (len % 8 || n < 1 || n > ST_PROFILE_KAFKA_PARTITIONS)
		REJECT(EINVAL, "Kafka section not 1..64 u64 counts");
	for (unsigned i = 0; i < n; i++)
		v->counters.kafka_partition[i] = st_get_le64(p + 8 * i);
	if (v->counters.kafka_partition[n - 1] == 0)
		REJECT(EINVAL, "Kafka section not trimmed after its last partition");
	v->kafka_partitions = n;
	return 0;
}

/* k + q names, each NUL-terminated, filling the payload exactly. */
static int parse_field_names(struct st_profile_view *v, const uint8_t *p,
			     uint32_t len, const char **why)
{
	unsigned want = v->key_fields + v->numeric_fields;
	uint32_t at = 0;

	for (unsigned i = 0; i < want; i++) {
		const uint8_t *nul = memchr(p + at, 0, len - at);
		size_t name_len;

		if (!nul)
			REJECT(EINVAL, "field names: fewer names than fields");
		name_len = (size_t)(nul - (p + at));
		if (!field_name_ok((const char *)p + at, name_len))
			REJECT(EINVAL, "field names: not @key or a JSON pointer of 1..255 bytes of text");
		if (i < v->key_fields)
			v->meta.key_field_names[i] = (const char *)p + at;
		else
			v->meta.numeric_field_names[i - v->key_fields] =
				(const char *)p + at;
		at += (uint32_t)name_len + 1;
	}
	if (at != len)
		REJECT(EINVAL, "field names: bytes after the last name");
	return 0;
}

/* Records one framed section in the view and checks its payload. */
static int parse_section(struct st_profile_view *v, unsigned type,
			 unsigned index, const uint8_t *p, uint32_t len,
			 const char **why)
{
	struct st_profile_blob blob = { p, len };

	switch (type) {
	case ST_PROFILE_SEC_HLL:
		v->hll[index] = blob;
		return st_hll_validate(p, len, why) ? -EINVAL : 0;
	case ST_PROFILE_SEC_HEAVY:
		v->heavy[index] = blob;
		return st_hh_validate(p, len, why) ? -EINVAL : 0;
	case ST_PROFILE_SEC_QUANTILE:
		if (index == 0)
			v->size_qs = blob;
		else
			v->numeric_qs[index - 1] = blob;
		return st_qs_validate(p, len, why) ? -EINVAL : 0;
	case ST_PROFILE_SEC_SCHEMA:
		v->schema = blob;
		return st_schema_validate(p, len, why) ? -EINVAL : 0;
	case ST_PROFILE_SEC_TICKS:
		v->ticks = blob;
		return st_ticks_validate(p, len, why) ? -EINVAL : 0;
	case ST_PROFILE_SEC_KAFKA:
		return parse_kafka(v, p, len, why);
	case ST_PROFILE_SEC_FIELD_NAMES:
		return parse_field_names(v, p, len, why);
	}
	REJECT(EINVAL, "unknown section type");
}

static int parse_sections(const uint8_t *b, size_t len,
			  struct st_profile_view *v, const char **why)
{
	unsigned count = st_get_le16(HDR_AT(b, section_count_le));
	unsigned seen[ST_PROFILE_SEC_FIELD_NAMES + 1] = { 0 };
	uint32_t prev_key = 0;  /* (type << 16 | index) of the previous one */
	size_t at = ST_PROFILE_SECTIONS_OFF;
	int err;

	if (count > ST_PROFILE_SECTIONS_MAX)
		REJECT(EINVAL, "more sections than any record holds");
	for (unsigned i = 0; i < count; i++) {
		unsigned type, index, limit, required;
		uint32_t plen;
		size_t end;

		if (len - at < SECTION_HDR_BYTES)
			REJECT(EINVAL, "section header past the end");
		type = st_get_le16(b + at);
		index = st_get_le16(b + at + 2);
		plen = st_get_le32(b + at + 4);
		if (((uint32_t)type << 16 | index) <= prev_key)
			REJECT(EINVAL, "sections not sorted by (type, index) or duplicated");
		prev_key = (uint32_t)type << 16 | index;
		section_limits(type, v, &limit, &required);
		if (limit == 0)
			REJECT(EINVAL, "unknown section type");
		if (index >= limit)
			REJECT(EINVAL, "section index beyond the fields of the record");
		at += SECTION_HDR_BYTES;
		if (plen > len - at || pad8(plen) > len - at)
			REJECT(EINVAL, "section payload past the end");
		end = at + pad8(plen);
		if (!all_zero(b + at + plen, end - at - plen))
			REJECT(EINVAL, "section padding not zero");
		err = parse_section(v, type, index, b + at, plen, why);
		if (err)
			return err;
		seen[type]++;
		at = end;
	}
	if (at != len)
		REJECT(EINVAL, "bytes after the last section");
	for (unsigned type = 1; type <= ST_PROFILE_SEC_FIELD_NAMES; type++) {
		unsigned limit, required;

		section_limits(type, v, &limit, &required);
		if (seen[type] < required)
			REJECT(EINVAL, "a required section is missing");
	}
	return 0;
}

/*
 * Sketch set from the view's blobs (which parse already validated).
 */

static int deserialize_parts(const struct st_profile_view *v,
			     struct st_sset_parts *parts, const char **why)
{
	memset(parts, 0, sizeof(*parts));
	for (unsigned i = 0; i < v->key_fields; i++) {
		parts->hll[i] = st_hll_deserialize(v->hll[i].data, v->hll[i].len, why);
		if (!parts->hll[i])
			goto out_destroy;
		parts->heavy[i] = st_hh_deserialize(v->heavy[i].data,
						    v->heavy[i].len, why);
		if (!parts->heavy[i])
			goto out_destroy;
	}
	parts->size_qs = st_qs_deserialize(v->size_qs.data, v->size_qs.len, why);
	if (!parts->size_qs)
		goto out_destroy;
	for (unsigned i = 0; i < v->numeric_fields; i++) {
		parts->numeric_qs[i] = st_qs_deserialize(v->numeric_qs[i].data,
							 v->numeric_qs[i].len, why);
		if (!parts->numeric_qs[i])
			goto out_destroy;
	}
	parts->schema = st_schema_deserialize(v->schema.data, v->schema.len, why);
	if (!parts->schema)
		goto out_destroy;
	parts->ticks = st_ticks_deserialize(v->ticks.data, v->ticks.len, why);
	if (!parts->ticks)
		goto out_destroy;
	return 0;

out_destroy: {
		int err = errno == ENOMEM ? -ENOMEM : -EINVAL;

		st_sset_parts_destroy(parts);
		return err;
	}
}

/*
 * Parameters the sketch APIs do not expose, read from the payload layouts
 * documented in quantile.c and schema.c, in blobs their validators passed.
 */
#define QS_BLOB_FLAGS_OFF (ST_SKETCH_BLOB_HDR_BYTES + 8)
#define QS_BLOB_FLAG_SIGNED 0x01u
#define QS_BLOB_BINS_OFF (ST_SKETCH_BLOB_HDR_BYTES + 12)
#define SCHEMA_BLOB_MAX_ENTRIES_OFF (ST_SKETCH_BLOB_HDR_BYTES + 0)

static bool qs_blob_signed(const struct st_profile_blob *b)
{
	return b->data[QS_BLOB_FLAGS_OFF] & QS_BLOB_FLAG_SIGNED;
}

/*
 * The config a record's sketches were made with.  What the accessors show
 * (p, k, alpha, ticks) st_sset_assemble() compares part by part; the
 * quantile bins and signedness are checked here: all bins equal, the size
 * sketch unsigned, the numeric ones signed.
 */
static int config_of(const struct st_profile_view *v,
		     const struct st_sset_parts *parts,
		     struct st_sset_config *cfg, const char **why)
{
	uint32_t bins = st_get_le32(v->size_qs.data + QS_BLOB_BINS_OFF);

	if (qs_blob_signed(&v->size_qs))
		REJECT(EINVAL, "record size quantile sketch is signed");
	for (unsigned i = 0; i < v->numeric_fields; i++) {
		if (!qs_blob_signed(&v->numeric_qs[i]))
			REJECT(EINVAL, "numeric field quantile sketch is unsigned");
		if (st_get_le32(v->numeric_qs[i].data + QS_BLOB_BINS_OFF) != bins)
			REJECT(EINVAL, "quantile sketches differ in bins");
	}
	st_sset_config_default(cfg);
	cfg->key_fields = v->key_fields;
	cfg->numeric_fields = v->numeric_fields;
	cfg->hll_p = st_hll_precision(parts->hll[0]);
	cfg->hh_k = st_hh_capacity(parts->heavy[0]);
	cfg->qs_alpha = st_qs_alpha(parts->size_qs);
	cfg->qs_bins = bins;
	cfg->schema_entries = st_get_le32(v->schema.data +
					  SCHEMA_BLOB_MAX_ENTRIES_OFF);
	cfg->n_ticks = st_ticks_count(parts->ticks);
	cfg->epoch_ns = v->meta.epoch_ns;
	return 0;
}

static struct st_sset *sset_from_view(const struct st_profile_view *v,
				      const char **why, int *err)
{
	struct st_sset_parts parts;
	struct st_sset_config cfg;
	struct st_sset *s;

	*err = deserialize_parts(v, &parts, why);
	if (*err)
		return NULL;
	*err = config_of(v, &parts, &cfg, why);
	if (*err) {
		st_sset_parts_destroy(&parts);
		return NULL;
	}
	s = st_sset_assemble(&cfg, &parts);
	if (!s) {
		*err = errno == ENOMEM ? -ENOMEM : -EINVAL;
		*why = *err == -ENOMEM ? "out of memory" :
		       "sketches of one kind differ in parameters, or the ticks do not cover the epoch";
		st_sset_parts_destroy(&parts);
		return NULL;
	}
	if (st_sset_epoch_start_ns(s) != v->meta.epoch_start_ns) {
		*err = -EINVAL;
		*why = "ticks start at another time than the epoch";
		st_sset_destroy(s);
		return NULL;
	}
	*st_sset_counters(s) = v->counters;
	return s;
}

/* The summary must be exactly what the sketches give. */
static int check_summary(const struct st_profile_view *v, const char **why)
{
	const struct st_hh *heavy[ST_PROFILE_KEY_FIELDS_MAX] = { NULL };
	uint8_t want[ST_PROFILE_SECTIONS_OFF];
	struct st_profile_summary summary;
	struct st_sset *s;
	int err;

	s = sset_from_view(v, why, &err);
	if (!s)
		return err;
	for (unsigned i = 0; i < v->key_fields; i++)
		heavy[i] = st_sset_heavy_ro(s, i);  /* canonical: deserialized */
	summary_compute(s, heavy, &summary);
	st_sset_destroy(s);
	summary_encode(&summary, want);
	if (memcmp(want + ST_PROFILE_SUMMARY_OFF, v->buf + ST_PROFILE_SUMMARY_OFF,
		   sizeof(struct st_profile_summary_le)))
		REJECT(EINVAL, "summary is not what the sketches give");
	return 0;
}

int st_profile_parse(const void *buf, size_t len, struct st_profile_view *view,
		     const char **why)
{
	const uint8_t *b = buf;
	int err;

	memset(view, 0, sizeof(*view));
	view->buf = b;
	view->len = len;
	err = parse_header(b, len, view, why);
	if (!err) {
		parse_counters(b, &view->counters);
		err = parse_summary(b, view, why);
	}
	if (!err)
		err = parse_sections(b, len, view, why);
	if (!err)
		err = check_summary(view, why);
	if (err)
		memset(view, 0, sizeof(*view));
	return err;
}

struct st_sset *st_sset_from_profile(const struct st_profile_view *view,
				     const char **why)
{
	struct st_sset *s;
	int err;

	if (!view->buf || view->key_fields < 1) {
		*why = "not a parsed profile view";
		errno = EINVAL;
		return NULL;
	}
	s = sset_from_view(view, why, &err);
	if (!s)
		errno = -err;
	return s;
}
