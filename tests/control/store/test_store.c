/*
 * Store tests.  Oracles come from outside store.c:
 *   - windowed cardinality: the exact number of distinct keys this test
 *     puts into the profiles' HLLs (key ranges built here), with the HLL's
 *     3-sigma bound 3 x 1.04/sqrt(m); merge exactness against one HLL fed
 *     the union of the window's keys directly (register for register);
 *   - retention: the counts the documented rules give, worked out by hand
 *     in each test's comment;
 *   - history files: the frame size of the documented format (16 + 32 +
 *     8n fine, 16 + 40 + 24n coarse), byte offsets computed here, values
 *     written here and compared bit for bit; coarse means, minima and
 *     maxima computed here over the values this test made.
 * The sketch library and the profile builder are given (tested in
 * tests/dataplane/sketch), not under test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/store/store.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/hll.h"
#include "dataplane/sketch/sset.h"
#include "st_test.h"

#define NS 1000000000ull
#define T0_S 1700000040ull          /* a multiple of 60 */
#define T0 (T0_S * NS)
#define FINE_FRAME (16u + 32u + 8u * ST_FEAT_COUNT)
#define COARSE_FRAME (16u + 40u + 24u * ST_FEAT_COUNT)
#define HDR 64u

/* ---- helpers ---- */

static char dir[64];

static void dir_make(void)
{
	strcpy(dir, "/tmp/st-store-test-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

static void dir_remove(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* Sum of the sizes of the *.seg files and their count. */
static uint64_t dir_bytes(unsigned *files)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t sum = 0;

	*files = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct stat sb;

		if (!strstr(e->d_name, ".seg") || fstatat(dirfd(d), e->d_name, &sb, 0))
			continue;
		sum += (uint64_t)sb.st_size;
		(*files)++;
	}
	closedir(d);
	return sum;
}

static void opts(struct st_store_options *o)
{
	st_store_options_default(o, dir);
}

static struct st_store *open_store(const struct st_store_options *o)
{
	struct st_store *s = st_store_open(o);

	CU_ASSERT_FATAL(s != NULL);
	return s;
}

static void feed_range(struct st_hll *h, char tag, uint64_t lo, uint64_t hi)
{
	for (uint64_t j = lo; j < hi; j++) {
		char key[32];
		int n = snprintf(key, sizeof(key), "%c%llu", tag, (unsigned long long)j);

		CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof(key));
		if (n > 0 && (size_t)n < sizeof(key))
			st_hll_update(h, st_hash64(key, (size_t)n));
	}
}

/*
 * A profile of stream `name` for the 1 s epoch at start_ns: key field 0
 * holds keys "u<j>" for j in [lo0, hi0), key field 1 "s<j>" for j in
 * [lo1, hi1); `records` records.  *len is its size; the caller frees.
 */
static uint8_t *make_profile(const char *name, uint64_t start_ns, unsigned p,
			     uint64_t lo0, uint64_t hi0, uint64_t lo1,
			     uint64_t hi1, uint64_t records, size_t *len)
{
	struct st_sset_config cfg;
	struct st_profile_meta m = { 0 };
	struct st_sset *set;
	uint8_t *buf;
	ssize_t n;

	st_sset_config_default(&cfg);
	cfg.key_fields = 2;
	cfg.numeric_fields = 0;
	cfg.hll_p = p;
	cfg.hh_k = 4;
	cfg.qs_bins = 16;
	cfg.schema_entries = 1;
	cfg.n_ticks = 1;
	cfg.epoch_ns = NS;
	set = st_sset_create(&cfg);
	CU_ASSERT_FATAL(set != NULL);
	st_sset_reset(set, start_ns);
	feed_range(st_sset_hll(set, 0), 'u', lo0, hi0);
	feed_range(st_sset_hll(set, 1), 's', lo1, hi1);
	st_sset_counters(set)->records = records;
	m.name = name;
	m.epoch_start_ns = start_ns;
	m.epoch_ns = NS;
	m.cores_merged = m.cores_expected = 1;
	n = st_profile_size(set, &m);
	CU_ASSERT_FATAL(n > 0);
	buf = malloc((size_t)n);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_FATAL(st_profile_build(set, &m, buf, (size_t)n) == n);
	st_sset_destroy(set);
	*len = (size_t)n;
	return buf;
}

static int add_profile(struct st_store *s, const char *name, uint64_t start_ns,
		       unsigned p, uint64_t lo0, uint64_t hi0, uint64_t lo1,
		       uint64_t hi1, uint64_t records)
{
	size_t len;
	uint8_t *buf = make_profile(name, start_ns, p, lo0, hi0, lo1, hi1,
				    records, &len);
	int rc = st_store_add_profile(s, buf, len);

	free(buf);
	return rc;
}

static uint64_t id_of(const char *name)
{
	return st_hash64(name, strlen(name));
}

/* Profile i of the windowed tests: field 0 keys [50i, 50i + 100), field 1
 * keys [7i, 7i + 20), i + 1 records. */
static int add_window_profile(struct st_store *s, uint64_t i)
{
	return add_profile(s, "orders", T0 + i * NS, 12, 50 * i, 50 * i + 100,
			   7 * i, 7 * i + 20, i + 1);
}

/* Checks a windowed query over profiles first..last (inclusive) of
 * add_window_profile against the exact distinct counts and one sketch fed
 * the union. */
static void check_window(struct st_store *s, uint64_t window_s, uint64_t first,
			 uint64_t last)
{
	double rse3 = 3 * 1.04 / sqrt(4096.0);
	uint64_t exact0 = 50 * (last - first) + 100, exact1 = 7 * (last - first) + 20;
	uint64_t records = 0;
	struct st_store_card c;
	struct st_hll *h, *u;

	for (uint64_t i = first; i <= last; i++)
		records += i + 1;
	CU_ASSERT_EQUAL(st_store_cardinality(s, id_of("orders"), 0,
					     window_s * NS, &c), 0);
	CU_ASSERT_EQUAL(c.profiles, last - first + 1);
	CU_ASSERT_EQUAL(c.records, records);
	CU_ASSERT_EQUAL(c.covered_start_ns, T0 + first * NS);
	CU_ASSERT_EQUAL(c.covered_end_ns, T0 + (last + 1) * NS);
	CU_ASSERT(fabs(c.estimate - (double)exact0) <= rse3 * (double)exact0);
	CU_ASSERT(c.lower <= (double)exact0 && (double)exact0 <= c.upper);

	h = st_store_window_sketch(s, id_of("orders"), 1, window_s * NS, &c);
	CU_ASSERT_FATAL(h != NULL);
	CU_ASSERT(fabs(c.estimate - (double)exact1) <= rse3 * (double)exact1);
	u = st_hll_create(12);
	CU_ASSERT_FATAL(u != NULL);
	feed_range(u, 's', 7 * first, 7 * last + 20);
	CU_ASSERT_EQUAL(memcmp(st_hll_registers(h), st_hll_registers(u), 4096), 0);
	CU_ASSERT_EQUAL(c.estimate, st_hll_estimate(u));
	st_hll_destroy(u);
	st_hll_destroy(h);
}

/* The vector of stream k at epoch i: values made here, some missing. */
static void make_features(struct st_features *f, uint64_t k, uint64_t i)
{
	memset(f, 0, sizeof(*f));
	f->stream_id = 1000 + k;
	f->epoch_start_ns = T0 + i * NS;
	f->epoch_ns = NS;
	f->flags = (i % 17 == 0) ? ST_FEAT_F_PARTIAL : 0;
	for (unsigned j = 0; j < ST_FEAT_COUNT; j++) {
		if ((i + j + k) % 7 == 0 || (j == ST_FEAT_COUNT - 1 && k == 2)) {
			f->missing |= 1u << j;
			continue;
		}
		f->v[j] = sin((double)(i * 31 + j * 7 + k)) * (double)(j + 1) +
			  (double)(i % 60) / 8.0;
	}
}

static int append_range(struct st_store *s, uint64_t k, uint64_t from, uint64_t to)
{
	struct st_features f;

	for (uint64_t i = from; i < to; i++) {
		int rc;

		make_features(&f, k, i);
		rc = st_store_append(s, &f);
		if (rc)
			return rc;
	}
	return 0;
}

static bool same_features(const struct st_features *a, const struct st_features *b)
{
	return a->stream_id == b->stream_id && a->epoch_start_ns == b->epoch_start_ns &&
	       a->epoch_ns == b->epoch_ns && a->flags == b->flags &&
	       a->missing == b->missing && !memcmp(a->v, b->v, sizeof(a->v));
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	CU_ASSERT_FATAL(f != NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_FATAL(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(buf, 1, len, f) == len);
	fclose(f);
}

/* ---- recent profiles ---- */

/* 300 profiles, 1 s each, from T0 (bucket-aligned); buckets of 60 s.
 * Clock T0 + 300 s; newest bucket 4, so entries for buckets 3 and 4
 * (profiles 180..299) and sealed buckets 0, 1, 2.
 *   60 s: profiles 240..299 (entries);
 *   300 s: all (buckets start T0, T0+60, T0+120 >= T0);
 *   150 s: from T0+150: bucket 2 starts at T0+120 < T0+150, left out;
 *          entries 180..299. */
static void test_window_cardinality(void)
{
	struct st_store_options o;
	struct st_store_stats st;
	struct st_store_card c;
	struct st_store *s;

	dir_make();
	opts(&o);
	s = open_store(&o);
	for (uint64_t i = 0; i < 300; i++)
		CU_ASSERT_EQUAL_FATAL(add_window_profile(s, i), 0);
	check_window(s, 60, 240, 299);
	check_window(s, 300, 0, 299);
	check_window(s, 3600, 0, 299);
	check_window(s, 150, 180, 299);
	st_store_stats(s, &st);
	CU_ASSERT_EQUAL(st.profiles_added, 300);
	CU_ASSERT_EQUAL(st.profiles_kept, 300);
	CU_ASSERT_EQUAL(st.profile_entries, 120);
	CU_ASSERT_EQUAL(st.profile_buckets, 3);
	CU_ASSERT_EQUAL(st.clock_ns, T0 + 300 * NS);
	/* errors */
	CU_ASSERT_EQUAL(st_store_cardinality(s, id_of("orders"), 2, NS, &c), -EINVAL);
	CU_ASSERT_EQUAL(st_store_cardinality(s, id_of("nope"), 0, NS, &c), -ENOENT);
	CU_ASSERT_EQUAL(st_store_cardinality(s, id_of("orders"), 0, 0, &c), -EINVAL);
	CU_ASSERT_EQUAL(add_window_profile(s, 100), -ERANGE);
	CU_ASSERT_EQUAL(st_store_add_profile(s, "garbage", 7), -EINVAL);
	st_store_stats(s, &st);
	CU_ASSERT_EQUAL(st.profiles_late, 1);
	CU_ASSERT_EQUAL(st.profiles_invalid, 1);
	CU_ASSERT_EQUAL(st.profiles_kept, 300);
	st_store_close(s);
	dir_remove();
}

/* profiles_s 120, 630 profiles at T0..T0+629 s.  Clock T0 + 630, cut-off
 * T0 + 510: a bucket or entry goes when its newest end <= T0 + 510.
 * Entries: buckets 9, 10 = profiles 540..629 (90).  Bucket 8 (480..539)
 * ends at T0 + 540 > cut-off: kept (60).  Bucket 7 ends at T0 + 480: gone.
 * Kept 150, evicted 480. */
static void test_retention_time(void)
{
	struct st_store_options o;
	struct st_store_stats st;
	struct st_store_card c;
	struct st_store *s;

	dir_make();
	opts(&o);
	o.retention.profiles_s = 120;
	s = open_store(&o);
	for (uint64_t i = 0; i < 630; i++)
		CU_ASSERT_EQUAL_FATAL(add_profile(s, "orders", T0 + i * NS, 10,
						  i, i + 5, 0, 1, 1), 0);
	st_store_stats(s, &st);
	CU_ASSERT_EQUAL(st.profiles_kept, 150);
	CU_ASSERT_EQUAL(st.profile_entries, 90);
	CU_ASSERT_EQUAL(st.profile_buckets, 1);
	CU_ASSERT_EQUAL(st.profiles_evicted_time, 480);
	CU_ASSERT_EQUAL(st.profiles_evicted_bytes, 0);
	CU_ASSERT_EQUAL(st_store_cardinality(s, id_of("orders"), 0, 3600 * NS, &c), 0);
	CU_ASSERT_EQUAL(c.profiles, 150);
	CU_ASSERT_EQUAL(c.covered_start_ns, T0 + 480 * NS);
	st_store_close(s);
	dir_remove();
}

/* Two streams, A at T0 + i s and B at T0 + i s + 0.5 s, i = 0..49, added
 * A0 B0 A1 B1 ...; all within buckets 0 and 1, so every profile is an
 * entry of the same size E (p 10, 2 key fields).  The bound is 10.5 E:
 * oldest start first, so the 10 newest stay: A45..A49, B45..B49. */
static void test_retention_bytes(void)
{
	struct st_store_options o;
	struct st_store_stats st;
	struct st_store_card c;
	struct st_store *s;
	uint64_t entry_bytes;

	dir_make();
	opts(&o);
	s = open_store(&o);
	CU_ASSERT_EQUAL_FATAL(add_profile(s, "a", T0, 10, 0, 3, 0, 3, 1), 0);
	st_store_stats(s, &st);
	entry_bytes = st.profile_bytes;
	CU_ASSERT(entry_bytes >= 2 * 1024);   /* two HLLs of 2^10 registers */
	st_store_close(s);
	dir_remove();

	dir_make();
	o.dir = dir;
	o.retention.profiles_bytes = 10 * entry_bytes + entry_bytes / 2;
	s = open_store(&o);
	for (uint64_t i = 0; i < 50; i++) {
		CU_ASSERT_EQUAL(add_profile(s, "a", T0 + i * NS, 10, i, i + 3, 0, 3, 1), 0);
		CU_ASSERT_EQUAL(add_profile(s, "b", T0 + i * NS + NS / 2, 10, i, i + 3,
					    0, 3, 1), 0);
		st_store_stats(s, &st);
		CU_ASSERT(st.profile_bytes <= o.retention.profiles_bytes);
	}
	st_store_stats(s, &st);
	CU_ASSERT_EQUAL(st.profiles_kept, 10);
	CU_ASSERT_EQUAL(st.profiles_evicted_bytes, 90);
	CU_ASSERT_EQUAL(st.profile_bytes, 10 * entry_bytes);
	CU_ASSERT_EQUAL(st_store_cardinality(s, id_of("a"), 0, 3600 * NS, &c), 0);
	CU_ASSERT_EQUAL(c.profiles, 5);
	CU_ASSERT_EQUAL(c.covered_start_ns, T0 + 45 * NS);
	CU_ASSERT_EQUAL(st_store_cardinality(s, id_of("b"), 0, 3600 * NS, &c), 0);
	CU_ASSERT_EQUAL(c.profiles, 5);
	CU_ASSERT_EQUAL(c.covered_start_ns, T0 + 45 * NS + NS / 2);
	/* Sketches alone larger than the bound are refused. */
	o.retention.profiles_bytes = entry_bytes / 2;
	st_store_close(s);
	dir_remove();
	dir_make();
	o.dir = dir;
	s = open_store(&o);
	CU_ASSERT_EQUAL(add_profile(s, "a", T0, 10, 0, 3, 0, 3, 1), -E2BIG);
	st_store_stats(s, &st);
	CU_ASSERT_EQUAL(st.profiles_too_big, 1);
	CU_ASSERT_EQUAL(st.profiles_kept, 0);
	st_store_close(s);
	dir_remove();
}

/* ---- feature history ---- */

static char seg_path[400];

/* The path of the single segment of `prefix` in dir (asserts one). */
static const char *only_segment(const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	CU_ASSERT_FATAL(d != NULL);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix))) {
			snprintf(seg_path, sizeof(seg_path), "%s/%s", dir, e->d_name);
			found++;
		}
	closedir(d);
	CU_ASSERT_FATAL(found == 1);
	return seg_path;
}

/* N = 10 fine records in one segment (one coarse step: no coarse file);
 * the file cut at every offset from the last record's start to its end. */
static void test_torn_tail(void)
{
	enum { N = 10 };
	struct st_store_options o;
	struct st_store_stats st;
	struct st_store_record out[N + 1];
	struct st_features f;
	struct st_store *s;
	uint8_t *orig;
	size_t len;
	const size_t last = HDR + (N - 1) * FINE_FRAME;

	dir_make();
	opts(&o);
	s = open_store(&o);
	CU_ASSERT_EQUAL_FATAL(append_range(s, 0, 0, N), 0);
	st_store_close(s);
	orig = read_file(only_segment("fine-"), &len);
	CU_ASSERT_EQUAL_FATAL(len, HDR + N * FINE_FRAME);

	for (size_t cut = last; cut <= len; cut++) {
		bool torn = cut > last && cut < len;
		size_t keep = cut == len ? N : N - 1;
		unsigned files;

		write_file(seg_path, orig, cut);
		s = open_store(&o);
		st_store_stats(s, &st);
		CU_ASSERT_EQUAL(st.torn_tails, torn ? 1 : 0);
		CU_ASSERT_EQUAL(st.torn_bytes, torn ? cut - last : 0);
		CU_ASSERT_EQUAL(st.checksum_failures, 0);
		CU_ASSERT_EQUAL(st.records_loaded, keep);
		CU_ASSERT_EQUAL(st_store_history(s, 1000, ST_STORE_FINE, 0, out, N + 1),
				(ssize_t)keep);
		for (size_t i = 0; i < keep; i++) {
			make_features(&f, 0, i);
			CU_ASSERT(same_features(&out[i].f, &f));
		}
		CU_ASSERT_EQUAL(dir_bytes(&files), keep == N ? len : last);
		CU_ASSERT_EQUAL(st.disk_bytes, keep == N ? len : last);
		st_store_close(s);
	}
	/* A header torn while the segment was created: removed, counted. */
	write_file(seg_path, orig, 30);
	s = open_store(&o);
	st_store_stats(s, &st);
	CU_ASSERT_EQUAL(st.torn_tails, 1);
	CU_ASSERT_EQUAL(st.segments, 0);
	CU_ASSERT_EQUAL(access(seg_path, F_OK), -1);
	st_store_close(s);
	free(orig);
	dir_remove();
}

/* A byte flipped in record 5 of 10 (sync, length, payload, checksum):
 * on open that record is skipped and counted, the nine others read back
 * bit-exact, nothing is cut; appending afterwards still works. */
static void test_corrupt_middle(void)
{
	enum { N = 10 };
	static const size_t where[] = { 0, 5, 8, 100, FINE_FRAME - 1 };
	struct st_store_options o;
	struct st_store_stats st;
	struct st_store_record out[N + 2];
	struct st_features f;
	struct st_store *s;
	uint8_t *orig;
	size_t len;

	dir_make();
	opts(&o);
	s = open_store(&o);
	CU_ASSERT_EQUAL_FATAL(append_range(s, 0, 0, N), 0);
	st_store_close(s);
	orig = read_file(only_segment("fine-"), &len);
	for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
		size_t at = HDR + 5 * FINE_FRAME + where[w];
		size_t n = 0;

		orig[at] ^= 0x40;
		write_file(seg_path, orig, len);
		orig[at] ^= 0x40;
		s = open_store(&o);
		st_store_stats(s, &st);
		CU_ASSERT_EQUAL(st.checksum_failures, 1);
		CU_ASSERT_EQUAL(st.torn_tails, 0);
		CU_ASSERT_EQUAL(st.records_loaded, N - 1);
		CU_ASSERT_EQUAL(st_store_history(s, 1000, ST_STORE_FINE, 0, out, N + 2),
				N - 1);
		for (uint64_t i = 0; i < N; i++) {
			if (i == 5)
				continue;
			make_features(&f, 0, i);
			CU_ASSERT(same_features(&out[n].f, &f));
			n++;
		}
		make_features(&f, 0, N);
		CU_ASSERT_EQUAL(st_store_append(s, &f), 0);
		CU_ASSERT_EQUAL(st_store_history(s, 1000, ST_STORE_FINE, 0, out, N + 2), N);
		CU_ASSERT(same_features(&out[N - 1].f, &f));
		st_store_close(s);
	}
	free(orig);
	dir_remove();
}

/* The coarse record of stream k over epochs [from, to), computed here. */
static void expect_coarse(uint64_t k, uint64_t from, uint64_t to,
			  const struct st_store_record *r)
{
	struct st_features f;
	uint32_t flags = 0;

	CU_ASSERT_EQUAL(r->tier, ST_STORE_COARSE);
	CU_ASSERT_EQUAL(r->epochs, to - from);
	CU_ASSERT_EQUAL(r->f.stream_id, 1000 + k);
	CU_ASSERT_EQUAL(r->f.epoch_start_ns, T0 + from * NS);
	CU_ASSERT_EQUAL(r->f.epoch_ns, 60 * NS);
	for (uint64_t i = from; i < to; i++) {
		make_features(&f, k, i);
		flags |= f.flags;
	}
	CU_ASSERT_EQUAL(r->f.flags, flags);
	for (unsigned j = 0; j < ST_FEAT_COUNT; j++) {
		double sum = 0, lo = INFINITY, hi = -INFINITY;
		unsigned n = 0;

		for (uint64_t i = from; i < to; i++) {
			make_features(&f, k, i);
			if (f.missing & (1u << j))
				continue;
			sum += f.v[j];
			lo = fmin(lo, f.v[j]);
			hi = fmax(hi, f.v[j]);
			n++;
		}
		if (!n) {
			CU_ASSERT(r->f.missing & (1u << j));
			continue;
		}
		CU_ASSERT(!(r->f.missing & (1u << j)));
		CU_ASSERT(fabs(r->f.v[j] - sum / n) <= 1e-12 * (1 + fabs(sum / n)));
		CU_ASSERT_EQUAL(r->min[j], lo);
		CU_ASSERT_EQUAL(r->max[j], hi);
	}
}

/* Three streams x 270 epochs from T0 (step 60 s): steps 0..3 written,
 * step 4 (epochs 240..269) open at close.  Reopen: everything back; then
 * epochs 270..300 of stream 0: step 4 (240..299, half before the restart)
 * is written when epoch 300 arrives, with all 60 epochs. */
static void test_restart_and_coarse(void)
{
	struct st_store_options o;
	struct st_store_stats st;
	struct st_store_record *out = calloc(400, sizeof(*out));
	struct st_store_record r;
	struct st_store_iter *it;
	struct st_features f;
	struct st_store *s;
	unsigned per_stream[3] = { 0 };

	CU_ASSERT_FATAL(out != NULL);
	dir_make();
	opts(&o);
	s = open_store(&o);
	for (uint64_t i = 0; i < 270; i++)
		for (uint64_t k = 0; k < 3; k++)
			CU_ASSERT_EQUAL_FATAL(append_range(s, k, i, i + 1), 0);
	for (uint64_t k = 0; k < 3; k++) {
		CU_ASSERT_EQUAL(st_store_history(s, 1000 + k, ST_STORE_COARSE, 0, out, 400), 4);
		for (uint64_t step = 0; step < 4; step++)
			expect_coarse(k, step * 60, step * 60 + 60, &out[step]);
	}
	st_store_close(s);

	s = open_store(&o);
	st_store_stats(s, &st);
	CU_ASSERT_EQUAL(st.records_loaded, 3 * 270 + 3 * 4);
	CU_ASSERT_EQUAL(st.torn_tails, 0);
	CU_ASSERT_EQUAL(st.checksum_failures, 0);
	CU_ASSERT_EQUAL(st.clock_ns, T0 + 270 * NS);
	for (uint64_t k = 0; k < 3; k++) {
		CU_ASSERT_EQUAL(st_store_history(s, 1000 + k, ST_STORE_FINE, 0, out, 400), 270);
		for (uint64_t i = 0; i < 270; i++) {
			make_features(&f, k, i);
			CU_ASSERT(same_features(&out[i].f, &f));
			CU_ASSERT_EQUAL(out[i].epochs, 1);
		}
		/* since: only records starting at or after it */
		CU_ASSERT_EQUAL(st_store_history(s, 1000 + k, ST_STORE_FINE,
						 T0 + 200 * NS, out, 400), 70);
		CU_ASSERT_EQUAL(out[0].f.epoch_start_ns, T0 + 200 * NS);
		/* bounded buffer: total returned, max written */
		CU_ASSERT_EQUAL(st_store_history(s, 1000 + k, ST_STORE_FINE, 0, out, 3), 270);
	}
	CU_ASSERT_EQUAL(append_range(s, 0, 270, 301), 0);
	CU_ASSERT_EQUAL(st_store_history(s, 1000, ST_STORE_COARSE, 0, out, 400), 5);
	expect_coarse(0, 240, 300, &out[4]);
	/* late and invalid vectors */
	make_features(&f, 0, 100);
	CU_ASSERT_EQUAL(st_store_append(s, &f), -ERANGE);
	make_features(&f, 0, 400);
	f.v[3] = NAN;
	CU_ASSERT_EQUAL(st_store_append(s, &f), -EINVAL);
	st_store_stats(s, &st);
	CU_ASSERT_EQUAL(st.history_late, 1);
	CU_ASSERT_EQUAL(st.history_invalid, 1);
	/* iterator over all streams */
	it = st_store_iter_create(s, ST_STORE_FINE, 0);
	CU_ASSERT_FATAL(it != NULL);
	while (st_store_iter_next(it, &r) == 1) {
		CU_ASSERT_FATAL(r.f.stream_id >= 1000 && r.f.stream_id < 1003);
		per_stream[r.f.stream_id - 1000]++;
	}
	CU_ASSERT_EQUAL(per_stream[0], 301);
	CU_ASSERT_EQUAL(per_stream[1], 270);
	CU_ASSERT_EQUAL(per_stream[2], 270);
	CU_ASSERT_EQUAL(st_store_iter_vanished(it), 0);
	st_store_iter_destroy(it);
	st_store_close(s);
	free(out);
	dir_remove();
}

/* disk_bytes 64 KiB, segments of 8 KiB: 3000 epochs (624 KB of fine
 * records, 50 coarse) never take the files past the bound; what is left
 * is the newest records, contiguous, ending with the last one. */
static void test_disk_bound(void)
{
	struct st_store_options o;
	struct st_store_stats st;
	struct st_store_record *out = calloc(3000, sizeof(*out));
	struct st_store *s;
	struct st_features f;
	unsigned files;
	ssize_t n;

	CU_ASSERT_FATAL(out != NULL);
	dir_make();
	opts(&o);
	o.retention.disk_bytes = 64 << 10;
	o.segment_bytes = 8 << 10;
	s = open_store(&o);
	for (uint64_t i = 0; i < 3000; i++) {
		CU_ASSERT_EQUAL_FATAL(append_range(s, 0, i, i + 1), 0);
		if (i % 97 == 0) {
			CU_ASSERT(dir_bytes(&files) <= 64 << 10);
		}
	}
	st_store_stats(s, &st);
	CU_ASSERT(st.disk_bytes <= 64 << 10);
	CU_ASSERT_EQUAL(dir_bytes(&files), st.disk_bytes);
	CU_ASSERT_EQUAL(files, st.segments);
	CU_ASSERT(st.segments_deleted_bytes > 0);
	CU_ASSERT_EQUAL(st.segments_deleted_time, 0);
	CU_ASSERT_EQUAL(st.history_appended, 3000);
	CU_ASSERT_EQUAL(st.coarse_appended, 49);
	/* at least half the budget holds fine records (8 KiB frames per file) */
	n = st_store_history(s, 1000, ST_STORE_FINE, 0, out, 3000);
	CU_ASSERT(n > 100 && n < 3000);
	for (ssize_t i = 0; i < n; i++) {
		make_features(&f, 0, (uint64_t)(3000 - n + i));
		CU_ASSERT(same_features(&out[i].f, &f));
	}
	st_store_close(s);
	/* the bound holds on reopen with a smaller budget too */
	o.retention.disk_bytes = 32 << 10;
	o.segment_bytes = 4 << 10;
	s = open_store(&o);
	st_store_stats(s, &st);
	CU_ASSERT(st.disk_bytes <= 32 << 10);
	CU_ASSERT_EQUAL(dir_bytes(&files), st.disk_bytes);
	st_store_close(s);
	free(out);
	dir_remove();
}

/* fine_s 80: segments rotate when a record starts 10 s after their first;
 * after 600 epochs the fine tier holds the last 80 s at least and at most
 * one segment (10 s) more; the deleted ones are counted. */
static void test_retention_history_time(void)
{
	struct st_store_options o;
	struct st_store_stats st;
	struct st_store_record out[700];
	struct st_store *s;
	ssize_t n;

	dir_make();
	opts(&o);
	o.retention.fine_s = 80;
	s = open_store(&o);
	CU_ASSERT_EQUAL_FATAL(append_range(s, 0, 0, 600), 0);
	st_store_stats(s, &st);
	CU_ASSERT(st.segments_deleted_time > 0);
	n = st_store_history(s, 1000, ST_STORE_FINE, 0, out, 700);
	CU_ASSERT(n >= 80 && n <= 80 + 10 + 1);
	CU_ASSERT_EQUAL(out[n - 1].f.epoch_start_ns, T0 + 599 * NS);
	CU_ASSERT_EQUAL(out[0].f.epoch_start_ns, T0 + (uint64_t)(600 - n) * NS);
	st_store_close(s);
	dir_remove();
}

struct writer {
	struct st_store *s;
	atomic_bool done;
	int rc;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	for (uint64_t i = 0; i < 600 && !w->rc; i++) {
		w->rc = append_range(w->s, 0, i, i + 1);
		if (!w->rc && i % 5 == 0)
			w->rc = add_window_profile(w->s, i);
	}
	atomic_store(&w->done, true);
	return NULL;
}

/* One thread appends (as the daemon's ring thread) while this one queries
 * (as the socket and training threads): every answer is a consistent
 * prefix of what was written, and nothing is lost.  Run under ASan/TSan
 * builds this is also the race check. */
static void test_concurrent_queries(void)
{
	struct st_store_options o;
	struct st_store_record *out = calloc(700, sizeof(*out));
	struct st_store_record r;
	struct st_store_card c;
	struct writer w = { 0 };
	pthread_t th;
	ssize_t prev = 0;
	unsigned rounds = 0;

	CU_ASSERT_FATAL(out != NULL);
	dir_make();
	opts(&o);
	o.retention.disk_bytes = 256 << 10;
	o.segment_bytes = 16 << 10;
	w.s = open_store(&o);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, writer_main, &w) == 0);
	while (!atomic_load(&w.done) || rounds < 3) {
		ssize_t n = st_store_history(w.s, 1000, ST_STORE_FINE, 0, out, 700);
		struct st_store_iter *it = st_store_iter_create(w.s, ST_STORE_COARSE, 0);
		int rc;

		CU_ASSERT_FATAL(n >= 0 && n <= 600);
		for (ssize_t i = 1; i < n; i++)
			CU_ASSERT_EQUAL(out[i].f.epoch_start_ns,
					out[i - 1].f.epoch_start_ns + NS);
		if (n > 0) {
			CU_ASSERT_EQUAL(out[n - 1].f.epoch_start_ns + NS >=
					T0 + (uint64_t)prev * NS, 1);
		}
		prev = n;
		CU_ASSERT_FATAL(it != NULL);
		while ((rc = st_store_iter_next(it, &r)) == 1)
			CU_ASSERT_EQUAL(r.tier, ST_STORE_COARSE);
		CU_ASSERT_EQUAL(rc, 0);
		st_store_iter_destroy(it);
		rc = st_store_cardinality(w.s, id_of("orders"), 0, 300 * NS, &c);
		CU_ASSERT(rc == 0 || rc == -ENOENT);
		if (atomic_load(&w.done))
			rounds++;
	}
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(w.rc, 0);
	CU_ASSERT_EQUAL(st_store_history(w.s, 1000, ST_STORE_FINE, 0, out, 700), 600);
	CU_ASSERT_EQUAL(st_store_cardinality(w.s, id_of("orders"), 0, 3600 * NS, &c), 0);
	CU_ASSERT_EQUAL(c.profiles, 120);
	st_store_close(w.s);
	free(out);
	dir_remove();
}

static void test_options(void)
{
	struct st_store_options o;

	dir_make();
	opts(&o);
	o.retention.fine_s = 0;
	errno = 0;
	CU_ASSERT(st_store_open(&o) == NULL);
	CU_ASSERT_EQUAL(errno, EINVAL);
	opts(&o);
	o.retention.disk_bytes = 16 << 10;
	o.segment_bytes = 4 << 10;     /* > disk / 8 */
	CU_ASSERT(st_store_open(&o) == NULL);
	CU_ASSERT_EQUAL(errno, EINVAL);
	st_store_close(NULL);
	st_store_iter_destroy(NULL);
	dir_remove();
}

ST_TEST_MAIN("control/store/store",
	     ST_TEST(test_window_cardinality),
	     ST_TEST(test_retention_time),
	     ST_TEST(test_retention_bytes),
	     ST_TEST(test_torn_tail),
	     ST_TEST(test_corrupt_middle),
	     ST_TEST(test_restart_and_coarse),
	     ST_TEST(test_disk_bound),
	     ST_TEST(test_retention_history_time),
	     ST_TEST(test_concurrent_queries),
	     ST_TEST(test_options))
