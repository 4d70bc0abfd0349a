/*
 * Writes the seed corpus of fuzz_json_lazy.c into the directory given as
 * argv[1]: valid JSON documents, each behind the one byte that picks the
 * target's plan, shaped like event records (the fields first, then tags,
 * items, escapes, raw UTF-8) and with the pointers' names nested, repeated
 * and escaped.  Deterministic.
 *
 *	fuzz-seeds-json_lazy <corpus dir>
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const seeds[] = {
	("\x07{\"ts\":1700000000123,\"event\":\"view\",\"user\":{\"id\":\"u-17\","
	 "\"name\":\"Zo\\u00e9\",\"tier\":2,\"geo\":{\"lat\":-1.5,\"lon\":2.25}},"
	 "\"amount\":12.50,\"currency\":\"EUR\",\"tags\":[\"a\",\"b\"],"
	 "\"items\":[{\"sku\":\"S-1\",\"qty\":1}],\"ok\":true,\"note\":null}"),
	("\x00{\"ts\":1,\"user\":{\"id\":\"u\\u00e9-2\"},\"amount\":0.5,"
	 "\"tags\":[\"x\",{\"k\":[1,2]}],\"a/b\":[\"\\ud83d\\ude00\"],"
	 "\"items\":[{\"sku\":\"S\\\"1\"}]}"),
	("\x12{\"user\":{\"name\":\"]}\\\\\",\"id\":\"i\"},\"tags\":[[],[\"}\"]],"
	 "\"user\":{\"id\":\"dup\"},\"ts\":-0.0e-3}"),
	("\x90 { \"user\" : { \"id\" : \"caf\xc3\xa9\" } , \"amount\" : 1E+2 }\n"),
	"\x10[1,2,3]",
	"\x10\"whole\"",
	("\x44{\"a~1b\":1,\"a/b\":[\"first\",2],\"items\":[{\"sku\":\"x\"},"
	 "{\"sku\":\"y\"}]}"),
	("\x01{\"x\":{\"y\":{\"z\":[[[[{\"q\":\"\\\"\"}]]]]}},\"ts\":7}"),
};

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-json_lazy <corpus dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		/* seed 1 starts with a NUL byte: its length is 1 + strlen */
		size_t n = seeds[i][0] ? strlen(seeds[i]) : 1 + strlen(seeds[i] + 1);
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%02zu.bin", argv[1], i);
		f = fopen(path, "wb");
		if (!f || fwrite(seeds[i], 1, n, f) != n || fclose(f) != 0) {
			fprintf(stderr, "fuzz-seeds-json_lazy: %s: %s\n", path,
				strerror(errno));
			return 1;
		}
	}
	return 0;
}
