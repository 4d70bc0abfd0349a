/*
 * Writes history segment files into the directory given as argv[1]: the
 * seed corpus of fuzz_segment.c.  A fine and a coarse segment with a few
 * records, one with a torn tail, one with a damaged middle record, and an
 * empty one, each as a whole file and as a body after a mode byte (the
 * target's two input forms).  Deterministic: the same files on every run.
 *
 *	fuzz-seeds-store-segment <corpus dir>
 */
#include <stdio.h>
#include <string.h>

#include "control/store/segment.h"

static unsigned char buf[ST_STORE_SEG_HDR_BYTES + 8 *
			 (ST_STORE_SEG_FRAME_OVERHEAD + ST_STORE_SEG_COARSE_PAYLOAD)];

static size_t build(enum st_store_tier tier, unsigned records)
{
	size_t len = ST_STORE_SEG_HDR_BYTES;

	st_store_seg_hdr_write(buf, tier, 1);
	for (unsigned i = 0; i < records; i++) {
		struct st_store_record r;

		memset(&r, 0, sizeof(r));
		r.tier = tier;
		r.epochs = tier == ST_STORE_FINE ? 1 : 60;
		r.f.stream_id = 42 + i % 2;
		r.f.epoch_start_ns = 1700000000000000000ull + i * 1000000000ull;
		r.f.epoch_ns = tier == ST_STORE_FINE ? 1000000000ull : 60000000000ull;
		r.f.missing = 1u << (i % ST_FEAT_COUNT);
		for (unsigned j = 0; j < ST_FEAT_COUNT; j++) {
			r.f.v[j] = (double)(i * 3 + j) / 7.0;
			r.min[j] = r.f.v[j] - 1;
			r.max[j] = r.f.v[j] + 1;
		}
		if (tier == ST_STORE_FINE)
			memcpy(r.min, r.f.v, sizeof(r.min)), memcpy(r.max, r.f.v, sizeof(r.max));
		len += st_store_seg_frame_write(&r, buf + len);
	}
	return len;
}

static int put_bytes(const char *dir, const char *name, const char *form,
		     const void *head, size_t head_len, const void *body,
		     size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/segment-%s-%s", dir, name, form);
	f = fopen(path, "wb");
	if (!f || fwrite(head, 1, head_len, f) != head_len ||
	    fwrite(body, 1, len, f) != len) {
		perror(path);
		if (f)
			fclose(f);
		return 1;
	}
	return fclose(f) != 0;
}

/* The file as a whole, and as mode byte + body (see fuzz_segment.c):
 * mode bit 0 the tier, bit 1 set so that the store's open runs too. */
static int put(const char *dir, const char *name, size_t len)
{
	unsigned char mode = (unsigned char)(buf[8] | 2);

	return put_bytes(dir, name, "file", "", 0, buf, len) |
	       put_bytes(dir, name, "body", &mode, 1, buf + ST_STORE_SEG_HDR_BYTES,
			 len - ST_STORE_SEG_HDR_BYTES);
}

int main(int argc, char **argv)
{
	size_t len, frame = st_store_seg_frame_bytes(ST_STORE_FINE);
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
		return 2;
	}
	err |= put(argv[1], "empty", build(ST_STORE_FINE, 0));
	err |= put(argv[1], "fine", build(ST_STORE_FINE, 4));
	err |= put(argv[1], "coarse", build(ST_STORE_COARSE, 3));
	len = build(ST_STORE_FINE, 3);
	err |= put(argv[1], "torn", len - frame / 2);
	len = build(ST_STORE_FINE, 5);
	buf[ST_STORE_SEG_HDR_BYTES + 2 * frame + 40] ^= 1;
	err |= put(argv[1], "damaged", len);
	return err ? 1 : 0;
}
