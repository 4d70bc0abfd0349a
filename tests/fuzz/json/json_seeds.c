/*
 * Writes valid JSON documents into the directory given as argv[1]: the seed
 * corpus of fuzz_json.c.  They use every construct of RFC 8259 (escapes,
 * surrogate pairs, raw UTF-8, numbers in every form, nesting, whitespace)
 * and the names the target's pointers look for.  Deterministic.
 *
 *	fuzz-seeds-json <corpus dir>
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const seeds[] = {
	("{\"ts\":1700000000123,\"user\":{\"id\":\"u-17\",\"name\":\"Zo\\u00e9\"},"
	 "\"amount\":-12.5e1,\"tags\":[\"a\",{\"x\":true}],\"ok\":false,\"n\":null}"),
	("{\"a/b\":1,\"m~n\":[1,2,[3,[4]]],\"\\u00e9\":\"\\ud83d\\ude00\","
	 "\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}]}"),
	" [ 0 , -0 , 1E+2 , 1e-400 , 123456789012345678901234567890 ] ",
	"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \\\"\\\\\\/\\b\\f\\n\\r\\t\"",
	("{\"user\":{\"id\":42},\"amount\":0.1,\"tags\":[],\"deep\":"
	 "{\"a\":{\"b\":{\"c\":{\"d\":[[[[]]]]}}}}}"),
	"[{\"user\":{\"id\":\"x\"}},\n\t{\"amount\":3}\r\n]",
	"true", "null", "[false]", "{}",
};

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-json <corpus dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%02zu.json", argv[1], i);
		f = fopen(path, "wb");
		if (!f || fwrite(seeds[i], 1, strlen(seeds[i]), f) != strlen(seeds[i]) ||
		    fclose(f) != 0) {
			fprintf(stderr, "fuzz-seeds-json: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	return 0;
}
