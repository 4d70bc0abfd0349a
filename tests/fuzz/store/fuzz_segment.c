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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_store_seg_hdr hdr;
	struct st_store_seg_scan scan;
	struct ctx c = { data, size, ST_STORE_SEG_HDR_BYTES, 0, ST_STORE_FINE };

	if (st_store_seg_hdr_read(data, size, &hdr))
		return 0;
	if (!st_store_seg_hdr_ours(&hdr) || size > (1u << 20))
		return 0;
	c.tier = hdr.tier;
	if (st_store_seg_scan(data, size, &hdr, check_record, &c, &scan))
		abort();
	if (scan.records != c.calls || scan.valid_end + scan.tail_bytes != size ||
	    scan.valid_end < ST_STORE_SEG_HDR_BYTES)
		abort();
	if (hdr.seq < (1ull << 60))
		open_check(data, size, &hdr, &scan);
	return 0;
}
