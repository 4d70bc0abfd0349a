/*
 * libFuzzer target: the series readers (control/detect/series.h) and the
 * offline change points on whatever they accept.  The first byte picks the
 * reader (0 CSV, 1 TCPD JSON, else by content); the rest is the file.
 * Invariants (abort() when violated): an accepted series has 1..64
 * dimensions, 1..ST_SERIES_MAX_OBS observations, every value finite; a
 * rejected one leaves no buffer and an error message; st_changepoints
 * returns ascending indices in [1, n_obs - 1].
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "control/detect/detect.h"
#include "control/detect/series.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_changepoints(const struct st_series *s)
{
	size_t cps[64], n = 0, i;
	int ret;

	if (s->n_obs * s->n_dim > 20000)
		return;  /* quadratic offline pass: keep executions fast */
	ret = st_changepoints(s->values, s->n_obs, s->n_dim, cps, 64, &n);
	if (ret && ret != -ENOBUFS)
		abort();
	for (i = 0; i < n && i < 64; i++) {
		if (cps[i] < 1 || cps[i] >= s->n_obs)
			abort();
		if (i && cps[i] <= cps[i - 1])
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_series s;
	char err[ST_SERIES_ERR_BYTES];
	const char *text = (const char *)data + 1;
	size_t i;
	int ret;

	if (size < 1)
		return 0;
	if (data[0] == 0)
		ret = st_series_parse_csv(text, size - 1, &s, err);
	else if (data[0] == 1)
		ret = st_series_parse_tcpd(text, size - 1, &s, err);
	else
		ret = st_series_parse(text, size - 1, &s, err);
	if (ret) {
		if (s.values || (ret == -EINVAL && err[0] == '\0'))
			abort();
		return 0;
	}
	if (s.n_dim < 1 || s.n_dim > ST_SERIES_MAX_DIM || s.n_obs < 1 ||
	    s.n_obs > ST_SERIES_MAX_OBS || !s.values)
		abort();
	for (i = 0; i < s.n_obs * s.n_dim; i++)
		if (!isfinite(s.values[i]))
			abort();
	check_changepoints(&s);
	st_series_free(&s);
	return 0;
}
