/*
 * shadowctl detect FILE [--json]: the offline change points of one series
 * (st_changepoints, control/detect/detect.h) read from a CSV or a TCPD JSON
 * file (control/detect/series.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/detect/detect.h"
#include "control/detect/series.h"
#include "shadowctl.h"

#define DETECT_FILE_MAX_BYTES (512u << 20)

static void usage(FILE *out)
{
	fputs("usage: shadowctl detect FILE [--json]\n\n"
	      "Prints the change points of one series: the 0-based index of the\n"
	      "first observation of each new segment (index 0 is never one).\n\n"
	      "FILE is either\n"
	      "  a CSV of timestamp,value[,value...] lines: the first column is\n"
	      "    ignored, each further column is one dimension; a header line is\n"
	      "    allowed (first line only); blank lines are skipped; or\n"
	      "  a TCPD JSON document (name, n_obs, n_dim, time.index,\n"
	      "    series[].raw), recognised by its leading '{'.\n"
	      "Missing values (CSV: empty, nan, NA, null; JSON: null) take the\n"
	      "last value of their dimension (the first value before it); their\n"
	      "number is reported.  Infinite values are errors.\n\n"
	      "Method: BOCPD (Normal-Gamma, constant hazard) on each dimension,\n"
	      "robustly standardised, with peak picking on the probability that a\n"
	      "segment starts at each index; one fixed parameter set.\n\n"
	      "  --json   print exactly one object: {\"change_points\": [...]}\n"
	      "  --help   this text\n\n"
	      "Exit status: 0, 1 on unreadable or malformed input (the error names\n"
	      "the CSV line or what is wrong in the JSON), 2 on bad usage.\n", out);
}

/* Reads the whole file; NULL with a message on stderr. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, got;
	char *buf = NULL, *grown;

	if (!f) {
		fprintf(stderr, "shadowctl detect: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (!buf || n == cap) {
			if (buf)
				cap *= 2;
			if (cap > DETECT_FILE_MAX_BYTES) {
				fprintf(stderr, "shadowctl detect: %s: larger than %u bytes\n",
					path, DETECT_FILE_MAX_BYTES);
				goto out_free;
			}
			grown = realloc(buf, cap);
			if (!grown) {
				fprintf(stderr, "shadowctl detect: out of memory\n");
				goto out_free;
			}
			buf = grown;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "shadowctl detect: %s: read error\n", path);
		goto out_free;
	}
	fclose(f);
	*len = n;
	return buf;

out_free:
	free(buf);
	fclose(f);
	return NULL;
}

static void print_result(const char *path, const struct st_series *s,
			 const size_t *cps, size_t n_cps, bool json)
{
	size_t i;

	if (json) {
		fputs("{\"change_points\": [", stdout);
		for (i = 0; i < n_cps; i++)
			printf("%s%zu", i ? ", " : "", cps[i]);
		fputs("]}\n", stdout);
		return;
	}
	printf("%s: %zu observations, %zu dimension%s", path, s->n_obs, s->n_dim,
	       s->n_dim == 1 ? "" : "s");
	if (s->filled)
		printf(", %zu missing value%s carried forward", s->filled,
		       s->filled == 1 ? "" : "s");
	printf("\n%zu change point%s%s\n", n_cps, n_cps == 1 ? "" : "s",
	       n_cps ? " (index of the first observation of each new segment):" : "");
	for (i = 0; i < n_cps; i++)
		printf("  %zu\n", cps[i]);
}

int shadowctl_detect(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[ST_SERIES_ERR_BYTES], *buf;
	struct st_series s;
	size_t len, n_cps = 0, *cps;
	bool json = false;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	buf = read_file(argv[optind], &len);
	if (!buf)
		return 1;
	ret = st_series_parse(buf, len, &s, err);
	free(buf);
	if (ret) {
		fprintf(stderr, "shadowctl detect: %s: %s\n", argv[optind],
			ret == -ENOMEM ? "out of memory" : err);
		return 1;
	}
	cps = malloc(s.n_obs * sizeof(*cps));
	if (!cps) {
		st_series_free(&s);
		fprintf(stderr, "shadowctl detect: out of memory\n");
		return 1;
	}
	ret = st_changepoints(s.values, s.n_obs, s.n_dim, cps, s.n_obs, &n_cps);
	if (ret) {
		fprintf(stderr, "shadowctl detect: %s: change points: %s\n",
			argv[optind], strerror(-ret));
	} else {
		print_result(argv[optind], &s, cps, n_cps, json);
	}
	free(cps);
	st_series_free(&s);
	return ret ? 1 : 0;
}
