/*
 * Writes the seed corpus of fuzz_iforest.c into the directory argv[1]:
 * valid model files of a few shapes (one feature, several, identical rows,
 * a tree of one leaf, missing values), trained here with fixed seeds, so
 * the fuzzer starts from every structural path.  Deterministic.
 *
 *	fuzz-seeds-iforest <corpus dir>
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/models/iforest.h"

static const char *const names[4] = { "a", "b", "c", "d" };

static int write_model(const char *dir, const char *name, const double *rows,
		       size_t n, unsigned dim, unsigned trees, unsigned sample)
{
	struct st_iforest_schema schema;
	struct st_iforest_params params = { .trees = trees, .sample = sample, .seed = 7 };
	struct st_iforest *f;
	char path[4096];
	uint8_t *buf;
	size_t len;
	FILE *file;
	int err = -1;

	if (st_iforest_schema_init(&schema, 1, names, dim) != 0)
		return -1;
	f = st_iforest_train(rows, n, &schema, &params, 1, 1700000000000000000ull);
	if (!f || st_iforest_encode(f, &buf, &len) != 0) {
		fprintf(stderr, "fuzz-seeds-iforest: %s: %s\n", name, strerror(errno));
		st_iforest_destroy(f);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	file = fopen(path, "wb");
	if (file && fwrite(buf, 1, len, file) == len)
		err = 0;
	if (file && fclose(file) != 0)
		err = -1;
	if (err)
		fprintf(stderr, "fuzz-seeds-iforest: %s: %s\n", path, strerror(errno));
	free(buf);
	st_iforest_destroy(f);
	return err;
}

int main(int argc, char **argv)
{
	double rows[64 * 4];
	uint64_t s = 12345;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-iforest <corpus dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		rows[i] = (double)(s >> 40) / (1 << 24);
	}
	err |= write_model(argv[1], "dim4", rows, 64, 4, 3, 16);
	err |= write_model(argv[1], "dim1", rows, 32, 1, 2, 8);
	err |= write_model(argv[1], "one-tree", rows, 20, 2, 1, 4);
	for (int i = 0; i < 8; i++)
		rows[i] = 1.0;
	err |= write_model(argv[1], "identical", rows, 8, 1, 2, 8);
	rows[0] = NAN;
	rows[5] = NAN;
	err |= write_model(argv[1], "missing", rows, 16, 2, 2, 16);
	err |= write_model(argv[1], "two-rows", rows + 16, 2, 2, 1, 256);
	return err ? 1 : 0;
}
