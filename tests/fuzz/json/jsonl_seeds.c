/*
 * Writes JSONL byte streams into the directory given as argv[1]: the seed
 * corpus of fuzz_jsonl.c (first byte: the segmentation seed, top bit clear
 * for no gaps, set for gaps).  Deterministic.
 *
 *	fuzz-seeds-jsonl <corpus dir>
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const seeds[] = {
	"\x01{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":[1,2]}\n",
	"\x82{\"user\":{\"id\":\"u1\"}}\n{\"user\":{\"id\":\"u2\"}}\npartial",
	"\x03\r\n\r\n\n{}\n[]\n\"s\"\n",
	"\x84line one\nline two\r\nline three",
};

int main(int argc, char **argv)
{
	char path[4096];
	static char big[40000];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-jsonl <corpus dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		snprintf(path, sizeof(path), "%s/seed-%02zu.jsonl", argv[1], i);
		f = fopen(path, "wb");
		if (!f || fwrite(seeds[i], 1, strlen(seeds[i]), f) != strlen(seeds[i]) ||
		    fclose(f) != 0)
			goto fail;
	}
	/* a line longer than the carry bound, then a short one */
	big[0] = 0x05;
	memset(big + 1, 'x', sizeof(big) - 12);
	memcpy(big + sizeof(big) - 11, "\r\n{\"k\":1}\n", 11);
	snprintf(path, sizeof(path), "%s/seed-long.jsonl", argv[1]);
	f = fopen(path, "wb");
	if (!f || fwrite(big, 1, sizeof(big), f) != sizeof(big) || fclose(f) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "fuzz-seeds-jsonl: %s: %s\n", path, strerror(errno));
	return 1;
}
