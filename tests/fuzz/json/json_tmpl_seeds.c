/*
 * Writes the seed corpus of fuzz_json_tmpl.c into the directory given as
 * argv[1]: the plan byte, a document, a NUL byte and a second document,
 * mostly of the first one's shape with other values (the case templates
 * are for: other scalars of any kind, arrays of scalars of other lengths),
 * some of another shape, or with an escape or raw UTF-8 where the first
 * had a plain string.  Deterministic.
 *
 *	fuzz-seeds-json_tmpl <corpus dir>
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

struct seed {
	const char *a, *b;
	unsigned char plan;
};

static const struct seed seeds[] = {
	{ "{\"id\":1}", "{\"id\":123456}", 0x10 },
	{ "{\"user\":{\"id\":\"u17\"},\"amount\":12.50,\"note\":\"abcdefghijklmnopqrstuvwxyz\"}",
	  "{\"user\":{\"id\":\"u9\"},\"amount\":0.5,\"note\":\"zyxwvutsrqponmlkjihgfedcba0123456789\"}",
	  0x06 },
	{ "{\"ts\":1700000000123,\"tags\":[\"a\",\"b\"],\"ok\":true,\"n\":null}",
	  "{\"ts\":-1.5e-3,\"tags\":[\"x\",\"y\"],\"ok\":true,\"n\":null}", 0x89 },
	{ "{\"ts\":1,\"ok\":false}", "{\"ts\":1,\"ok\":true}", 0x81 },
	{ " { \"id\" : \"x\" } \n", " { \"id\" : \"caf\xc3\xa9\" } \n", 0x10 },
	{ "{\"id\":\"a\"}", "{\"id\":\"a\\\"b\"}", 0x10 },
	{ "{\"items\":[{\"sku\":\"S-1\",\"qty\":1},{\"sku\":\"S-2\",\"qty\":2}]}",
	  "{\"items\":[{\"sku\":\"T\",\"qty\":10},{\"sku\":\"U\",\"qty\":0}]}", 0x40 },
	{ "{\"a/b\":[\"first\",2],\"a~1b\":1}", "{\"a/b\":[\"again\",3],\"a~1b\":9}", 0x20 },
	{ "[1,2,3]", "[10,-2,3e5]", 0x00 },
	{ "{\"id\":1,\"id\":2}", "{\"id\":01,\"id\":2}", 0x10 },
	{ "{\"id\":1,\"tags\":[\"a\",\"b\"],\"ok\":true}",
	  "{\"id\":\"x\",\"tags\":[\"c\", 2 ,null,\"d\"],\"ok\":false}", 0x10 },
	{ "{\"tags\":[1,2],\"n\":null}", "{\"tags\":[],\"n\":\"s\"}", 0x08 },
	{ "{\"a\":[[1,2],[3]],\"b\":[true]}", "{\"a\":[[4],[5,6,7]],\"b\":[false,null]}", 0x00 },
	{ "{\"x\":{\"y\":{\"z\":[[[[{\"q\":\"r\"}]]]]}},\"ts\":7}",
	  "{\"x\":{\"y\":{\"z\":[[[[{\"q\":\"s\"}]]]]}},\"ts\":8}", 0x81 },
	/* numbers with 16 bytes after them (the match's one-compare scan),
	 * skeleton runs of 15, 16 and 17 bytes, tails of 16 and 17 */
	{ "{\"id\":12.5,\"amount\":[1,-2.25,0],\"pad\":\"0123456789abcdef\"}",
	  "{\"id\":-123456789012345,\"amount\":[0.5,1e3,-0],\"pad\":\"0123456789abcdef\"}",
	  0x14 },
	{ "{\"id\":1,\"abcdefghijk\":2,\"abcdefghijkl\":3,\"abcdefghijklm\":4}               ",
	  "{\"id\":1.23456789012345,\"abcdefghijk\":01,\"abcdefghijkl\":1.,\"abcdefghijklm\":4}               ",
	  0x10 },
	{ "{\"ts\":0,\"n\":\"0123456789abcdefghij\"}                ",
	  "{\"ts\":99.99,\"n\":\"0123456789abcdefgh\\u00e9\"}                ", 0x01 },
};

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-json_tmpl <corpus dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		FILE *f;
		int ok;

		snprintf(path, sizeof(path), "%s/seed-%02zu.bin", argv[1], i);
		f = fopen(path, "wb");
		ok = f && fputc(seeds[i].plan, f) != EOF &&
		     fwrite(seeds[i].a, 1, strlen(seeds[i].a), f) == strlen(seeds[i].a) &&
		     fputc(0, f) != EOF &&
		     fwrite(seeds[i].b, 1, strlen(seeds[i].b), f) == strlen(seeds[i].b);
		if (f && fclose(f) != 0)
			ok = 0;
		if (!ok) {
			fprintf(stderr, "fuzz-seeds-json_tmpl: %s: %s\n", path,
				strerror(errno));
			return 1;
		}
	}
	return 0;
}
