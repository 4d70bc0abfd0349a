/*
 * The parameter study of st_changepoints_with (tools/bench/tcpd/cp_study):
 * reads the TCPD series named on the command line once, then, for each line
 * of parameter assignments on stdin ("hazard=0.003 threshold=0.9 ..."; keys
 * not given keep the previous line's value, starting from the defaults
 * below), prints one line per series: "<line no> <series index> cps...".
 * Built by cp_study with cc; not part of the product.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/detect/changepoints_params.h"
#include "control/detect/series.h"

#define MAX_SERIES 64
#define MAX_CPS 100000

static int set_param(struct st_cp_params *p, const char *key, double v)
{
	if (!strcmp(key, "hazard")) p->hazard = v;
	else if (!strcmp(key, "kappa")) p->prior_kappa = v;
	else if (!strcmp(key, "alpha")) p->prior_alpha = v;
	else if (!strcmp(key, "beta")) p->prior_beta = v;
	else if (!strcmp(key, "min_lag")) p->min_lag = (unsigned)v;
	else if (!strcmp(key, "spread")) p->spread = (unsigned)v;
	else if (!strcmp(key, "threshold")) p->threshold = v;
	else if (!strcmp(key, "min_gap")) p->min_gap = (unsigned)v;
	else if (!strcmp(key, "scale_mix")) p->scale_mix = v;
	else if (!strcmp(key, "merge_penalty")) p->merge_penalty = v;
	else if (!strcmp(key, "var_floor")) p->var_floor = v;
	else if (!strcmp(key, "merge_trend")) p->merge_trend = (unsigned)v;
	else if (!strcmp(key, "merge_bayes")) p->merge_bayes = (unsigned)v;
	else if (!strcmp(key, "locate")) p->locate = (unsigned)v;
	else if (!strcmp(key, "merge_season")) p->merge_season = (unsigned)v;
	else return -EINVAL;
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	*len = buf ? (size_t)n : 0;
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	static struct st_series series[MAX_SERIES];
	static size_t cps[MAX_CPS];
	struct st_cp_params p = {
		.hazard = 0.003, .prior_kappa = 0.03, .prior_alpha = 1,
		.prior_beta = 1, .min_lag = 3, .spread = 2, .threshold = 0.95,
		.min_gap = 10, .scale_mix = 0.75, .merge_penalty = 0,
		.var_floor = 0.01,
	};
	char line[4096], err[ST_SERIES_ERR_BYTES];
	int n_series = argc - 1, i, line_no = 0;

	if (n_series > MAX_SERIES)
		return 2;
	for (i = 0; i < n_series; i++) {
		size_t len;
		char *buf = slurp(argv[i + 1], &len);

		if (!buf || st_series_parse(buf, len, &series[i], err)) {
			fprintf(stderr, "%s: cannot read\n", argv[i + 1]);
			return 2;
		}
		free(buf);
	}
	while (fgets(line, sizeof(line), stdin)) {
		char *tok, *save = NULL;

		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save)) {
			char *eq = strchr(tok, '=');

			if (!eq)
				return 2;
			*eq = 0;
			if (set_param(&p, tok, strtod(eq + 1, NULL))) {
				fprintf(stderr, "unknown key %s\n", tok);
				return 2;
			}
		}
		for (i = 0; i < n_series; i++) {
			size_t n = 0, j;
			int ret = st_changepoints_with(&p, series[i].values,
						       series[i].n_obs, series[i].n_dim,
						       cps, MAX_CPS, &n);

			if (ret)
				return 3;
			printf("%d %d", line_no, i);
			for (j = 0; j < n; j++)
				printf(" %zu", cps[j]);
			printf("\n");
		}
		line_no++;
		fflush(stdout);
	}
	return 0;
}
