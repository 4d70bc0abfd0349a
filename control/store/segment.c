/*
 * History segment files: encoder and verifying reader.  The format is drawn
 * in segment.h.
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include <xxhash.h>

#include "control/store/segment.h"

_Static_assert(ST_STORE_SEG_FINE_PAYLOAD == 32 + 8 * ST_FEAT_COUNT, "fine payload");
_Static_assert(ST_STORE_SEG_COARSE_PAYLOAD == 40 + 24 * ST_FEAT_COUNT, "coarse payload");
_Static_assert(ST_FEAT_COUNT >= 1 && ST_FEAT_COUNT <= 32, "count fits the header and mask");
_Static_assert(sizeof(double) == 8, "f64 fields are IEEE 754 binary64");

static void put_u32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void put_f64(uint8_t *p, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put_u64(p, v);
}

static uint16_t get_u16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static double get_f64(const uint8_t *p)
{
	uint64_t v = get_u64(p);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

void st_store_seg_hdr_write(uint8_t out[ST_STORE_SEG_HDR_BYTES],
			    enum st_store_tier tier, uint64_t seq)
{
	memset(out, 0, ST_STORE_SEG_HDR_BYTES);
	put_u32(out, ST_STORE_SEG_MAGIC);
	out[4] = ST_STORE_SEG_VERSION & 0xff;
	out[5] = ST_STORE_SEG_VERSION >> 8;
	out[6] = ST_STORE_SEG_HDR_BYTES;
	out[8] = (uint8_t)tier;
	out[10] = ST_FEATURES_VERSION & 0xff;
	out[11] = (ST_FEATURES_VERSION >> 8) & 0xff;
	out[12] = ST_FEAT_COUNT;
	put_u64(out + 16, seq);
	put_u64(out + 56, XXH3_64bits(out, 56));
}

int st_store_seg_hdr_read(const uint8_t *buf, size_t len,
			  struct st_store_seg_hdr *hdr)
{
	uint16_t count;

	if (len < ST_STORE_SEG_HDR_BYTES || get_u32(buf) != ST_STORE_SEG_MAGIC ||
	    get_u16(buf + 4) != ST_STORE_SEG_VERSION ||
	    get_u16(buf + 6) != ST_STORE_SEG_HDR_BYTES || buf[8] > ST_STORE_COARSE ||
	    buf[9] != 0 || get_u16(buf + 14) != 0 || !all_zero(buf + 24, 32) ||
	    get_u64(buf + 56) != XXH3_64bits(buf, 56))
		return -EINVAL;
	count = get_u16(buf + 12);
	if (count == 0 || count > 32)
		return -EINVAL;
	hdr->tier = (enum st_store_tier)buf[8];
	hdr->features_version = get_u16(buf + 10);
	hdr->feature_count = count;
	hdr->seq = get_u64(buf + 16);
	return 0;
}

bool st_store_seg_hdr_ours(const struct st_store_seg_hdr *hdr)
{
	return hdr->features_version == ST_FEATURES_VERSION &&
	       hdr->feature_count == ST_FEAT_COUNT;
}

static uint32_t payload_bytes(enum st_store_tier tier)
{
	return tier == ST_STORE_FINE ? ST_STORE_SEG_FINE_PAYLOAD
				     : ST_STORE_SEG_COARSE_PAYLOAD;
}

size_t st_store_seg_frame_bytes(enum st_store_tier tier)
{
	return ST_STORE_SEG_FRAME_OVERHEAD + payload_bytes(tier);
}

size_t st_store_seg_frame_write(const struct st_store_record *rec, uint8_t *out)
{
	uint32_t len = payload_bytes(rec->tier);
	uint8_t *p = out + 8;
	const struct st_features *f = &rec->f;

	put_u32(out, ST_STORE_SEG_SYNC);
	put_u32(out + 4, len);
	put_u64(p, f->stream_id);
	put_u64(p + 8, f->epoch_start_ns);
	put_u64(p + 16, f->epoch_ns);
	put_u32(p + 24, f->flags);
	put_u32(p + 28, f->missing);
	if (rec->tier == ST_STORE_FINE) {
		for (unsigned i = 0; i < ST_FEAT_COUNT; i++)
			put_f64(p + 32 + 8 * i, f->v[i]);
	} else {
		put_u32(p + 32, rec->epochs);
		put_u32(p + 36, 0);
		for (unsigned i = 0; i < ST_FEAT_COUNT; i++) {
			put_f64(p + 40 + 8 * i, f->v[i]);
			put_f64(p + 40 + 8 * (ST_FEAT_COUNT + i), rec->min[i]);
			put_f64(p + 40 + 8 * (2 * ST_FEAT_COUNT + i), rec->max[i]);
		}
	}
	put_u64(out + 8 + len, XXH3_64bits(out, 8 + (size_t)len));
	return ST_STORE_SEG_FRAME_OVERHEAD + len;
}

/* Decodes a checked payload; false when a value is not sane. */
static bool decode(const uint8_t *p, enum st_store_tier tier,
		   struct st_store_record *rec)
{
	struct st_features *f = &rec->f;

	rec->tier = tier;
	f->stream_id = get_u64(p);
	f->epoch_start_ns = get_u64(p + 8);
	f->epoch_ns = get_u64(p + 16);
	f->flags = get_u32(p + 24);
	f->missing = get_u32(p + 28);
	if (f->epoch_ns == 0 || f->epoch_start_ns + f->epoch_ns < f->epoch_start_ns)
		return false;
	if (tier == ST_STORE_FINE) {
		rec->epochs = 1;
		for (unsigned i = 0; i < ST_FEAT_COUNT; i++) {
			f->v[i] = rec->min[i] = rec->max[i] = get_f64(p + 32 + 8 * i);
			if (!isfinite(f->v[i]))
				return false;
		}
		return true;
	}
	rec->epochs = get_u32(p + 32);
	if (rec->epochs == 0 || get_u32(p + 36) != 0)
		return false;
	for (unsigned i = 0; i < ST_FEAT_COUNT; i++) {
		f->v[i] = get_f64(p + 40 + 8 * i);
		rec->min[i] = get_f64(p + 40 + 8 * (ST_FEAT_COUNT + i));
		rec->max[i] = get_f64(p + 40 + 8 * (2 * ST_FEAT_COUNT + i));
		if (!isfinite(f->v[i]) || !isfinite(rec->min[i]) ||
		    !isfinite(rec->max[i]))
			return false;
	}
	return true;
}

/* Whether a whole, checksummed, sane frame starts at buf[off]. */
static bool frame_at(const uint8_t *buf, size_t len, size_t off,
		     enum st_store_tier tier, struct st_store_record *rec)
{
	uint32_t plen = payload_bytes(tier);
	size_t frame = ST_STORE_SEG_FRAME_OVERHEAD + plen;

	if (len - off < frame || get_u32(buf + off) != ST_STORE_SEG_SYNC ||
	    get_u32(buf + off + 4) != plen)
		return false;
	if (get_u64(buf + off + 8 + plen) != XXH3_64bits(buf + off, 8 + (size_t)plen))
		return false;
	return decode(buf + off + 8, tier, rec);
}

int st_store_seg_next(const uint8_t *buf, size_t len,
		      const struct st_store_seg_hdr *hdr, size_t *off,
		      struct st_store_record *rec, size_t *frame_off,
		      uint64_t *checksum_failures, uint64_t *skipped_bytes)
{
	size_t next = *off;

	if (next < ST_STORE_SEG_HDR_BYTES)
		next = ST_STORE_SEG_HDR_BYTES;
	while (next < len && !frame_at(buf, len, next, hdr->tier, rec))
		next++;
	if (next >= len) {
		*off = len;
		return 0;
	}
	if (next != *off && *off >= ST_STORE_SEG_HDR_BYTES) {
		(*checksum_failures)++;
		*skipped_bytes += next - *off;
	}
	*frame_off = next;
	*off = next + st_store_seg_frame_bytes(hdr->tier);
	return 1;
}

int st_store_seg_scan(const uint8_t *buf, size_t len,
		      const struct st_store_seg_hdr *hdr, st_store_seg_fn fn,
		      void *arg, struct st_store_seg_scan *out)
{
	size_t off = ST_STORE_SEG_HDR_BYTES, at;
	struct st_store_record rec;

	memset(out, 0, sizeof(*out));
	out->valid_end = len < off ? len : off;
	while (st_store_seg_next(buf, len, hdr, &off, &rec, &at,
				 &out->checksum_failures, &out->skipped_bytes)) {
		out->records++;
		out->valid_end = off;
		if (fn) {
			int rc = fn(&rec, at, arg);

			if (rc) {
				out->tail_bytes = len - out->valid_end;
				return rc;
			}
		}
	}
	out->tail_bytes = len - out->valid_end;
	return 0;
}
