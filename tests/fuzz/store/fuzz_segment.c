/*
 * libFuzzer target: arbitrary bytes as a history segment file
 * (control/store/segment.h).  Invariants, each an abort():
 *   - the scan never reads outside the input (ASan) and its figures add
 *     up: valid_end + tail_bytes == len, one callback per record counted;
 *   - every accepted record lies inside the input, after the previous one,
 *     and its frame's XXH3-64 (computed here, not by the reader) matches
 *     the stored checksum: a record whose checksum fails is never accepted;
 *   - an accepted record re-encodes to exactly the bytes it came from;
 *   - st_store_open() over a directory holding the input as the tier's
 *     only segment loads exactly the records the scan accepted and leaves
 *     the file at valid_end when it cut a torn tail.
 */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "control/store/store.h"

struct ctx {
	const uint8_t *buf;
	size_t len;
	size_t next_min;
	uint64_t calls;
	enum st_store_tier tier;
};

static int check_record(const struct st_store_record *rec, size_t off, void *arg)
{
	struct ctx *c = arg;
	size_t frame = st_store_seg_frame_bytes(c->tier);
	uint8_t again[ST_STORE_SEG_FRAME_OVERHEAD + ST_STORE_SEG_COARSE_PAYLOAD];
	uint64_t stored;

	if (off < c->next_min || off > c->len || c->len - off < frame ||
	    rec->tier != c->tier)
		abort();
	memcpy(&stored, c->buf + off + frame - 8, 8);
	if (le64toh(stored) != XXH3_64bits(c->buf + off, frame - 8))
		abort();
	if (st_store_seg_frame_write(rec, again) != frame ||
	    memcmp(again, c->buf + off, frame))
		abort();
	c->next_min = off + frame;
	c->calls++;
	return 0;
}

static char dir[64];

static void clear_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		abort();
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

static void open_check(const uint8_t *data, size_t size,
		       const struct st_store_seg_hdr *hdr,
		       const struct st_store_seg_scan *scan)
{
	struct st_store_options o;
	struct st_store_stats st;
	struct st_store *s;
	char path[128];
	struct stat sb;
	FILE *f;

	if (!dir[0]) {
		strcpy(dir, "/tmp/st-fuzz-store-XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(path, sizeof(path), "%s/%s%016llx.seg", dir,
		 hdr->tier == ST_STORE_FINE ? "fine-" : "coarse-",
		 (unsigned long long)hdr->seq);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	st_store_options_default(&o, dir);
	s = st_store_open(&o);
	if (!s)
		abort();
	st_store_stats(s, &st);
	if (st.records_loaded != scan->records || st.torn_tails != (scan->tail_bytes ? 1u : 0u))
		abort();
	st_store_close(s);
	if (stat(path, &sb) == 0 && (size_t)sb.st_size != scan->valid_end)
		abort();
	/* the input, and any coarse segment the open's rebuild wrote */
	clear_dir();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Two input forms.  An input that starts with the segment magic is a whole
 * file.  Any other is byte 0, a mode (bit 0: the tier; bit 1: also run the
 * store's open over it), then a body that follows a valid header written
 * here, so that mutations reach the frames rather than die on the header's
 * checksum.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t file[(1u << 20) + ST_STORE_SEG_HDR_BYTES];
	struct st_store_seg_hdr hdr;
	struct st_store_seg_scan scan;
	struct ctx c = { NULL, 0, ST_STORE_SEG_HDR_BYTES, 0, ST_STORE_FINE };
	bool whole = size >= 4 && !memcmp(data, "STHS", 4);
	bool open_too = whole || (size > 0 && (data[0] & 2));

	if (size == 0 || size > (1u << 20))
		return 0;
	if (whole) {
		memcpy(file, data, size);
		c.len = size;
	} else {
		st_store_seg_hdr_write(file, (enum st_store_tier)(data[0] & 1), 1);
		memcpy(file + ST_STORE_SEG_HDR_BYTES, data + 1, size - 1);
		c.len = ST_STORE_SEG_HDR_BYTES + size - 1;
	}
	c.buf = file;
	if (st_store_seg_hdr_read(file, c.len, &hdr)) {
		if (!whole)
			abort();   /* our own header must read back */
		return 0;
	}
	if (!st_store_seg_hdr_ours(&hdr))
		return 0;
	c.tier = hdr.tier;
	if (st_store_seg_scan(file, c.len, &hdr, check_record, &c, &scan))
		abort();
	if (scan.records != c.calls || scan.valid_end + scan.tail_bytes != c.len ||
	    scan.valid_end < ST_STORE_SEG_HDR_BYTES)
		abort();
	if (open_too && hdr.seq < (1ull << 60))
		open_check(file, c.len, &hdr, &scan);
	return 0;
}
