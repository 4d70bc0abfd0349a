/*
 * Writes the seed corpus of fuzz_flow.c into argv[1]: a few operation
 * streams (a small table with a timeout and a mix of gets, closes and
 * sweeps; a one-entry table; a table without timeout under many keys).
 * Deterministic.
 *
 *	fuzz-seeds-flow <corpus dir>
 */
#include <stdint.h>
#include <stdio.h>

static int write_seed(const char *dir, const char *name, uint8_t max_flows, uint8_t timeout,
		      unsigned ops, unsigned step)
{
	char path[4096];
	FILE *out;
	int ok = 1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = fopen(path, "wb");
	if (!out) {
		perror(path);
		return -1;
	}
	ok &= fputc(max_flows, out) != EOF && fputc(timeout, out) != EOF;
	for (unsigned i = 0; i < ops; i++) {
		uint8_t op[4] = { (uint8_t)(i * step % 251), (uint8_t)(i * 37 + 5),
				  (uint8_t)(i * 11), (uint8_t)(i % 7) };

		ok &= fwrite(op, 1, 4, out) == 4;
	}
	ok &= fclose(out) == 0;
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	rc |= write_seed(argv[1], "small-timeout-mix", 7, 10, 200, 3);
	rc |= write_seed(argv[1], "one-entry", 0, 0, 64, 1);
	rc |= write_seed(argv[1], "wide-no-timeout", 63, 0, 400, 5);
	return rc ? 1 : 0;
}
