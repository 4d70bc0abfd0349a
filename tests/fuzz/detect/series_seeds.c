/*
 * fuzz-seeds-series DIR: writes valid inputs for fuzz-series (first byte:
 * 0 CSV, 1 TCPD JSON, 2 detect by content): CSVs with and without a header,
 * with missing values and several dimensions, and TCPD documents with
 * nulls, one and two dimensions.
 */
#include <stdio.h>
#include <string.h>

struct seed {
	const char *name;
	char reader;
	const char *text;
};

static const struct seed seeds[] = {
	{ "csv-header", 0, "timestamp,value\n1,1.5\n2,1.7\n3,9.1\n4,9.3\n5,9.0\n" },
	{ "csv-plain", 0, "0,1\n1,2\n2,1\n3,2\n4,10\n5,11\n6,10\n7,11\n" },
	{ "csv-missing", 2, "t,a,b\r\n1,,2\r\n2,3,NA\r\n3,4,null\r\n4,5,6\r\n" },
	{ "csv-dims", 2, "a,1,2,3,4\nb,1,2,3,5\nc,9,9,9,9\nd,9,8,9,9\n" },
	{ "tcpd-1", 1, "{\"name\": \"s\", \"n_obs\": 6, \"n_dim\": 1, "
		"\"time\": {\"index\": [0,1,2,3,4,5]}, "
		"\"series\": [{\"label\": \"V1\", \"raw\": [1, 1.2, null, 8, 8.1, 7.9]}]}" },
	{ "tcpd-2", 2, "{\"name\": \"m\", \"n_obs\": 4, \"n_dim\": 2, "
		"\"time\": {\"index\": [0,1,2,3]}, "
		"\"series\": [{\"raw\": [1, 2, 3, 4]}, {\"raw\": [null, 5, 5, 6]}]}" },
};

int main(int argc, char **argv)
{
	char path[4096];
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-series DIR\n");
		return 2;
	}
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%s", argv[1], seeds[i].name);
		f = fopen(path, "wb");
		if (!f) {
			perror(path);
			return 1;
		}
		fputc(seeds[i].reader, f);
		fwrite(seeds[i].text, 1, strlen(seeds[i].text), f);
		if (fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
