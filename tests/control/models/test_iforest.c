/*
 * Isolation forest: c(n) against the paper's formula written out here,
 * separation of injected outliers (AUC computed here), the explanation of
 * an outlier along one axis, missing values against a median known by
 * construction, determinism, the model file (round trip, every flipped
 * byte, every truncation, a changed schema, trees made inconsistent behind
 * a correct checksum, computed here with XXH3 per the documented layout).
 * Data come from a generator written here (xorshift64* and Box-Muller).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "control/models/iforest.h"
#include "st_test.h"

#define DIM 4

static const char *const names[DIM] = { "a", "b", "c", "d" };

static uint64_t test_rng = 88172645463325252ull;

static double uniform01(void)
{
	test_rng ^= test_rng >> 12;
	test_rng ^= test_rng << 25;
	test_rng ^= test_rng >> 27;
	return (double)((test_rng * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static double gaussian(void)
{
	double u = uniform01(), v = uniform01();

	return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * M_PI * v);
}

static double *gaussian_rows(size_t n)
{
	double *rows = malloc(n * DIM * sizeof(*rows));

	for (size_t i = 0; i < n * DIM; i++)
		rows[i] = gaussian();
	return rows;
}

static struct st_iforest_schema schema(void)
{
	struct st_iforest_schema s;

	CU_ASSERT_FATAL(st_iforest_schema_init(&s, 7, names, DIM) == 0);
	return s;
}

static struct st_iforest *train(const double *rows, size_t n, unsigned trees,
				unsigned sample, uint64_t seed)
{
	struct st_iforest_schema s = schema();
	struct st_iforest_params p = { .trees = trees, .sample = sample, .seed = seed };

	return st_iforest_train(rows, n, &s, &p, 5, 1234567890ull);
}

/* Liu et al. 2008, section 2: c(n) = 2H(n-1) - 2(n-1)/n, H(i) = ln(i) + γ. */
static double paper_c(double n)
{
	const double euler = 0.57721566490153286;

	return 2.0 * (log(n - 1.0) + euler) - 2.0 * (n - 1.0) / n;
}

static void test_c_matches_the_paper(void)
{
	const double ns[] = { 3, 4, 10, 100, 256, 1000, 65536 };

	CU_ASSERT_DOUBLE_EQUAL(st_iforest_c(0), 0.0, 0.0);
	CU_ASSERT_DOUBLE_EQUAL(st_iforest_c(1), 0.0, 0.0);
	CU_ASSERT_DOUBLE_EQUAL(st_iforest_c(2), 1.0, 0.0);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		CU_ASSERT_DOUBLE_EQUAL(st_iforest_c(ns[i]), paper_c(ns[i]), 1e-9);
	/* c(256) by hand: 2(ln 255 + 0.5772) - 2*255/256 = 10.2448 */
	CU_ASSERT_DOUBLE_EQUAL(st_iforest_c(256), 10.2448, 1e-3);
}

static void test_outliers_score_higher(void)
{
	enum { N_TRAIN = 1000, N_IN = 300, N_OUT = 30 };
	double *rows = gaussian_rows(N_TRAIN), *in = gaussian_rows(N_IN);
	double out[N_OUT][DIM], s_in[N_IN], s_out[N_OUT], pairs = 0;
	struct st_iforest *f;

	/* 1% contamination in training, as in a real history. */
	for (int i = 0; i < 10; i++)
		for (int q = 0; q < DIM; q++)
			rows[i * DIM + q] = (uniform01() < 0.5 ? -1 : 1) * (5 + uniform01());
	f = train(rows, N_TRAIN, 100, 256, 42);
	CU_ASSERT_FATAL(f != NULL);
	for (int i = 0; i < N_OUT; i++)
		for (int q = 0; q < DIM; q++)
			out[i][q] = (uniform01() < 0.5 ? -1 : 1) * (4 + 3 * uniform01());
	for (int i = 0; i < N_IN; i++) {
		s_in[i] = st_iforest_score(f, &in[i * DIM]);
		CU_ASSERT(s_in[i] > 0 && s_in[i] <= 1);
	}
	for (int i = 0; i < N_OUT; i++) {
		s_out[i] = st_iforest_score(f, out[i]);
		CU_ASSERT(s_out[i] > 0 && s_out[i] <= 1);
	}
	for (int i = 0; i < N_OUT; i++)
		for (int j = 0; j < N_IN; j++)
			pairs += s_out[i] > s_in[j] ? 1.0 : s_out[i] == s_in[j] ? 0.5 : 0.0;
	printf("\n    AUC %.4f over %d x %d pairs\n", pairs / (N_OUT * N_IN), N_OUT, N_IN);
	CU_ASSERT(pairs / (N_OUT * N_IN) >= 0.95);
	/* The paper's reading: clear anomalies well above 0.5, the centre below. */
	{
		double centre[DIM] = { 0 };

		CU_ASSERT(st_iforest_score(f, centre) < 0.5);
	}
	st_iforest_destroy(f);
	free(in);
	free(rows);
}

static void test_top_feature_is_the_displaced_axis(void)
{
	double *rows = gaussian_rows(1000);
	struct st_iforest *f = train(rows, 1000, 100, 256, 9);
	const double centre[DIM] = { 0 };

	CU_ASSERT_FATAL(f != NULL);
	for (unsigned axis = 0; axis < DIM; axis++) {
		double x[DIM] = { 0.1, -0.2, 0.05, 0.3 }, share[DIM], sum = 0;

		x[axis] = axis % 2 ? -8.0 : 8.0;
		double score = st_iforest_explain(f, x, share);

		printf("\n    axis %u: score %.3f, share %.3f", axis, score, share[axis]);
		/* Beyond the training range x shares a leaf with the extreme
		 * training rows (splits lie between a node's min and max), so its
		 * score is that of the tail: above 0.5 and above the centre's. */
		CU_ASSERT(score > 0.5);
		CU_ASSERT(score > st_iforest_score(f, centre));
		CU_ASSERT_EQUAL(st_iforest_top_feature(share, DIM), axis);
		for (unsigned q = 0; q < DIM; q++)
			sum += share[q];
		CU_ASSERT_DOUBLE_EQUAL(sum, 1.0, 1e-9);
		CU_ASSERT(share[axis] > 0.5);
	}
	st_iforest_destroy(f);
	free(rows);
}

/* Feature 0 of the training rows is a permutation of 1..999: median 500. */
static void test_missing_is_the_training_median(void)
{
	enum { N = 999 };
	double *rows = gaussian_rows(N);
	double with_nan[DIM] = { NAN, 0.5, -0.5, 1.0 };
	double with_median[DIM] = { 500.0, 0.5, -0.5, 1.0 };
	double with_inf[DIM] = { INFINITY, 0.5, -0.5, 1.0 };
	struct st_iforest *f;

	for (int i = 0; i < N; i++)
		rows[i * DIM] = (double)((i * 7) % N + 1);
	/* Missing training values (NaN) do not move the median: add NaN rows
	 * in feature 0 by overwriting feature 0 of a copy's extra rows. */
	rows = realloc(rows, (N + 50) * DIM * sizeof(*rows));
	for (int i = N; i < N + 50; i++) {
		rows[i * DIM] = NAN;
		for (int q = 1; q < DIM; q++)
			rows[i * DIM + q] = gaussian();
	}
	f = train(rows, N + 50, 50, 128, 3);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_DOUBLE_EQUAL(st_iforest_score(f, with_nan),
			       st_iforest_score(f, with_median), 0.0);
	CU_ASSERT_DOUBLE_EQUAL(st_iforest_score(f, with_inf),
			       st_iforest_score(f, with_median), 0.0);
	st_iforest_destroy(f);
	free(rows);
}

static void test_row_from_features(void)
{
	struct st_features feat = { .missing = 1u << 3 | 1u << ST_FEAT_GINI_0 };
	double row[ST_FEAT_COUNT];

	for (unsigned i = 0; i < ST_FEAT_COUNT; i++)
		feat.v[i] = i + 0.5;
	st_iforest_row_from_features(&feat, row);
	for (unsigned i = 0; i < ST_FEAT_COUNT; i++) {
		if (i == 3 || i == ST_FEAT_GINI_0) {
			CU_ASSERT(isnan(row[i]));
		} else {
			CU_ASSERT_DOUBLE_EQUAL(row[i], i + 0.5, 0.0);
		}
	}
}

static void test_same_seed_same_forest(void)
{
	double *rows = gaussian_rows(500);
	struct st_iforest *a = train(rows, 500, 30, 64, 77), *b = train(rows, 500, 30, 64, 77);
	struct st_iforest *c = train(rows, 500, 30, 64, 78);
	uint8_t *ba, *bb, *bc;
	size_t la, lb, lc;

	CU_ASSERT_FATAL(a && b && c);
	CU_ASSERT_FATAL(st_iforest_encode(a, &ba, &la) == 0);
	CU_ASSERT_FATAL(st_iforest_encode(b, &bb, &lb) == 0);
	CU_ASSERT_FATAL(st_iforest_encode(c, &bc, &lc) == 0);
	CU_ASSERT(la == lb && memcmp(ba, bb, la) == 0);
	CU_ASSERT(la != lc || memcmp(ba, bc, la) != 0);
	free(ba);
	free(bb);
	free(bc);
	st_iforest_destroy(a);
	st_iforest_destroy(b);
	st_iforest_destroy(c);
	free(rows);
}

static void test_small_and_bad_inputs(void)
{
	double rows[2 * DIM] = { 1, 2, 3, 4, 1, 2, 3, 4 };
	struct st_iforest_schema s = schema();
	struct st_iforest_params p = { .trees = 10, .sample = 256, .seed = 1 };
	struct st_iforest *f;
	struct st_iforest_info info;

	errno = 0;
	CU_ASSERT(st_iforest_train(rows, 1, &s, &p, 1, 0) == NULL && errno == ENODATA);
	p.trees = 0;
	CU_ASSERT(st_iforest_train(rows, 2, &s, &p, 1, 0) == NULL && errno == EINVAL);
	p.trees = 10;
	p.sample = 1;
	CU_ASSERT(st_iforest_train(rows, 2, &s, &p, 1, 0) == NULL && errno == EINVAL);
	p.sample = 256;
	/* Two identical rows: every tree is one leaf of 2 rows; ψ = 2. */
	f = st_iforest_train(rows, 2, &s, &p, 1, 0);
	CU_ASSERT_FATAL(f != NULL);
	st_iforest_info(f, &info);
	CU_ASSERT_EQUAL(info.sample, 2);
	CU_ASSERT_EQUAL(info.height_limit, 1);
	CU_ASSERT_EQUAL(info.nodes, 10);
	/* h = 0 + c(2) = 1 = c(ψ): s = 2^-1 */
	CU_ASSERT_DOUBLE_EQUAL(st_iforest_score(f, rows), 0.5, 1e-12);
	CU_ASSERT_PTR_EQUAL(st_iforest_ref(f), f);
	st_iforest_destroy(f);
	st_iforest_destroy(f);
	st_iforest_destroy(NULL);
	CU_ASSERT_EQUAL(st_iforest_schema_init(&s, 1, names, 0), -EINVAL);
	CU_ASSERT_EQUAL(st_iforest_schema_init(&s, 1, names, ST_IFOREST_DIM_MAX + 1), -EINVAL);
}

/* The documented names hash: per name, u32 LE length then its bytes. */
static void test_schema_hash(void)
{
	const char *const ab_c[2] = { "ab", "c" }, *const a_bc[2] = { "a", "bc" };
	const uint8_t expected_input[] = { 2, 0, 0, 0, 'a', 'b', 1, 0, 0, 0, 'c' };
	struct st_iforest_schema s1, s2;

	CU_ASSERT_FATAL(st_iforest_schema_init(&s1, 3, ab_c, 2) == 0);
	CU_ASSERT_FATAL(st_iforest_schema_init(&s2, 3, a_bc, 2) == 0);
	CU_ASSERT_EQUAL(s1.names_hash, XXH3_64bits(expected_input, sizeof(expected_input)));
	CU_ASSERT_NOT_EQUAL(s1.names_hash, s2.names_hash);
	CU_ASSERT_EQUAL(s1.dim, 2);
	CU_ASSERT_EQUAL(s1.features_version, 3);
}

static char tmpdir[64];

static const char *model_path(void)
{
	static char path[128];

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/st-iforest-XXXXXX");
		CU_ASSERT_FATAL(mkdtemp(tmpdir) != NULL);
	}
	snprintf(path, sizeof(path), "%s/model.bin", tmpdir);
	return path;
}

static void test_save_load_round_trip(void)
{
	double *rows = gaussian_rows(800), *probe = gaussian_rows(200);
	struct st_iforest *f = train(rows, 800, 100, 256, 11), *g;
	struct st_iforest_schema s = schema();
	struct st_iforest_info fi, gi;
	char why[256];

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(st_iforest_save(f, model_path()), 0);
	g = st_iforest_load(model_path(), &s, why, sizeof(why));
	CU_ASSERT_FATAL(g != NULL);
	st_iforest_info(f, &fi);
	st_iforest_info(g, &gi);
	CU_ASSERT(memcmp(&fi, &gi, sizeof(fi)) == 0);
	CU_ASSERT_EQUAL(gi.model_version, 5);
	CU_ASSERT_EQUAL(gi.trained_at_ns, 1234567890ull);
	CU_ASSERT_EQUAL(gi.rows, 800);
	for (int i = 0; i < 200; i++) {
		double sf[DIM], sg[DIM];

		CU_ASSERT_DOUBLE_EQUAL(st_iforest_explain(f, &probe[i * DIM], sf),
				       st_iforest_explain(g, &probe[i * DIM], sg), 0.0);
		CU_ASSERT(memcmp(sf, sg, sizeof(sf)) == 0);
	}
	/* A second save replaces the file whole; no temporary is left. */
	CU_ASSERT_EQUAL(st_iforest_save(g, model_path()), 0);
	{
		DIR *dir = opendir(tmpdir);
		struct dirent *de;
		int files = 0;

		CU_ASSERT_FATAL(dir != NULL);
		while ((de = readdir(dir)))
			if (de->d_name[0] != '.') {
				files++;
				CU_ASSERT_STRING_EQUAL(de->d_name, "model.bin");
			}
		closedir(dir);
		CU_ASSERT_EQUAL(files, 1);
	}
	st_iforest_destroy(g);
	st_iforest_destroy(f);
	free(probe);
	free(rows);
	errno = 0;
	CU_ASSERT(st_iforest_load("/nonexistent/model.bin", &s, why, sizeof(why)) == NULL);
	CU_ASSERT_EQUAL(errno, ENOENT);
}

static uint8_t *small_model(size_t *len)
{
	double *rows = gaussian_rows(300);
	struct st_iforest *f = train(rows, 300, 8, 32, 5);
	uint8_t *buf;

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(st_iforest_encode(f, &buf, len) == 0);
	st_iforest_destroy(f);
	free(rows);
	return buf;
}

static void test_every_flipped_byte_is_refused(void)
{
	struct st_iforest_schema s = schema();
	size_t len, refused = 0;
	uint8_t *buf = small_model(&len);
	struct st_iforest *ok = st_iforest_decode(buf, len, &s, NULL, 0);

	CU_ASSERT_FATAL(ok != NULL);
	st_iforest_destroy(ok);
	for (size_t i = 0; i < len; i++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			struct st_iforest *f;

			buf[i] ^= (uint8_t)(1u << bit);
			errno = 0;
			f = st_iforest_decode(buf, len, &s, NULL, 0);
			refused += f == NULL && (errno == EBADMSG || errno == ENOTSUP);
			st_iforest_destroy(f);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	CU_ASSERT_EQUAL(refused, len * 3);
	free(buf);
}

static void test_every_truncation_is_refused(void)
{
	struct st_iforest_schema s = schema();
	size_t len, refused = 0;
	uint8_t *buf = small_model(&len);
	char why[256];
	FILE *file;

	for (size_t n = 0; n < len; n++) {
		struct st_iforest *f = st_iforest_decode(buf, n, &s, NULL, 0);

		refused += f == NULL && errno == EBADMSG;
		st_iforest_destroy(f);
	}
	CU_ASSERT_EQUAL(refused, len);
	/* The same through a file cut short. */
	file = fopen(model_path(), "wb");
	CU_ASSERT_FATAL(file != NULL);
	CU_ASSERT(fwrite(buf, 1, len - 100, file) == len - 100);
	fclose(file);
	errno = 0;
	CU_ASSERT(st_iforest_load(model_path(), &s, why, sizeof(why)) == NULL);
	CU_ASSERT_EQUAL(errno, EBADMSG);
	printf("\n    truncated file: %s\n", why);
	free(buf);
}

static void test_changed_schema_is_refused(void)
{
	const char *const renamed[DIM] = { "a", "b", "c", "e" };
	struct st_iforest_schema s = schema(), other;
	size_t len;
	uint8_t *buf = small_model(&len);
	char why[256];

	CU_ASSERT_FATAL(st_iforest_schema_init(&other, 7, renamed, DIM) == 0);
	errno = 0;
	CU_ASSERT(st_iforest_decode(buf, len, &other, why, sizeof(why)) == NULL);
	CU_ASSERT_EQUAL(errno, ESTALE);
	CU_ASSERT(strstr(why, "feature schema changed") != NULL);
	printf("\n    %s\n", why);
	other = s;
	other.features_version = 8;
	CU_ASSERT(st_iforest_decode(buf, len, &other, why, sizeof(why)) == NULL);
	CU_ASSERT_EQUAL(errno, ESTALE);
	CU_ASSERT_FATAL(st_iforest_schema_init(&other, 7, names, DIM - 1) == 0);
	CU_ASSERT(st_iforest_decode(buf, len, &other, why, sizeof(why)) == NULL);
	CU_ASSERT_EQUAL(errno, ESTALE);
	/* No expectation: any schema is read. */
	{
		struct st_iforest *f = st_iforest_decode(buf, len, NULL, NULL, 0);

		CU_ASSERT(f != NULL);
		st_iforest_destroy(f);
	}
	free(buf);
}

/* Rewrites the trailing XXH3 so that only the structure can be wrong. */
static void reseal(uint8_t *buf, size_t len)
{
	uint64_t sum = XXH3_64bits(buf, len - 8);

	for (int i = 0; i < 8; i++)
		buf[len - 8 + i] = (uint8_t)(sum >> (8 * i));
}

static void test_inconsistent_trees_are_refused(void)
{
	struct st_iforest_schema s = schema();
	size_t len;
	uint8_t *buf = small_model(&len), *copy = malloc(len);
	/* layout: header 80, medians 8*DIM, 8 node counts, then nodes */
	size_t nodes_at = 80 + 8 * DIM + 4 * 8;
	struct {
		size_t off;
		uint8_t value;
		const char *what;
	} cases[] = {
		{ nodes_at + 4, 31, "root rows != ψ" },
		{ nodes_at + 0, DIM, "feature >= dim" },
		{ nodes_at + 2, 1, "reserved node bytes" },
		{ nodes_at + 16 + 4, 0, "first child's rows changed" },
		{ 80 + 8 * DIM, 0, "first tree's node count" },
		{ 64, 4, "height limit" },
		{ 68, 1, "reserved header bytes" },
		{ 60, 33, "sample changed" },
		{ 80 + 7, 0x7f, "median made NaN/inf" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char why[256];

		memcpy(copy, buf, len);
		copy[cases[i].off] = cases[i].value;
		if (cases[i].off == 80 + 7)
			copy[80 + 6] = 0xf0;
		reseal(copy, len);
		errno = 0;
		CU_ASSERT(st_iforest_decode(copy, len, &s, why, sizeof(why)) == NULL);
		CU_ASSERT_EQUAL(errno, EBADMSG);
		if (errno != EBADMSG)
			printf("\n    case %s accepted\n", cases[i].what);
	}
	/* Unsealed, the same bytes are refused for the checksum. */
	{
		char why[256];

		memcpy(copy, buf, len);
		copy[nodes_at + 4] ^= 1;
		CU_ASSERT(st_iforest_decode(copy, len, &s, why, sizeof(why)) == NULL);
		CU_ASSERT(strstr(why, "checksum") != NULL);
	}
	free(copy);
	free(buf);
}

ST_TEST_MAIN("control/models/iforest",
	ST_TEST(test_c_matches_the_paper),
	ST_TEST(test_outliers_score_higher),
	ST_TEST(test_top_feature_is_the_displaced_axis),
	ST_TEST(test_missing_is_the_training_median),
	ST_TEST(test_row_from_features),
	ST_TEST(test_same_seed_same_forest),
	ST_TEST(test_small_and_bad_inputs),
	ST_TEST(test_schema_hash),
	ST_TEST(test_save_load_round_trip),
	ST_TEST(test_every_flipped_byte_is_refused),
	ST_TEST(test_every_truncation_is_refused),
	ST_TEST(test_changed_schema_is_refused),
	ST_TEST(test_inconsistent_trees_are_refused))
