/*
 * Rate shapes of shadowtap-gen: records/s as a function of trace time.
 *
 *	constant  rate
 *	diurnal   rate * (1 + amp * sin(2 pi t / period))
 *	bursts    rate for `on` seconds, then offrate for `off` seconds, repeated
 *	trace     a NAB CSV ("timestamp,value", timestamps "YYYY-MM-DD HH:MM:SS",
 *	          Numenta Anomaly Benchmark layout): row i holds from its time
 *	          until the next row's; times are divided by `compress` (300
 *	          turns 5-minute steps into 1 s) and values scaled so that the
 *	          largest value is `peak` records/s (negative values count as 0).
 *	          Past its end the trace starts over.
 *
 * The arrival process itself (Poisson counts per tick) is in engine.c.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/gen/gen.h"

struct st_gen_rate {
	const struct st_gen_stream_spec *spec;
	double *t_s;        /* compressed start time of each row */
	double *rate;       /* records/s of each row */
	size_t n, cursor;
	double period_s;    /* the trace's length, after which it repeats */
};

static int parse_row(const char *line, double *epoch_s, double *value)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(line, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	line = strchr(line, ',');
	if (!line)
		return -EINVAL;
	*value = strtod(line + 1, &end);
	if (end == line + 1 || !isfinite(*value))
		return -EINVAL;
	*epoch_s = (double)timegm(&tm);
	return 0;
}

static int load_trace(struct st_gen_rate *r, char *err, size_t err_size)
{
	const struct st_gen_stream_spec *spec = r->spec;
	FILE *f = fopen(spec->trace_path, "r");
	char line[256];
	size_t cap = 0, lineno = 0;
	double first = 0, max = 0;
	int rc = -EINVAL;

	if (!f) {
		rc = -errno;
		snprintf(err, err_size, "shape=trace:%s: %s", spec->trace_path, strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		double ts, v;

		lineno++;
		if (lineno == 1 && strncmp(line, "timestamp", 9) == 0)
			continue;
		if (line[0] == '\n' || line[0] == '\r')
			continue;
		if (parse_row(line, &ts, &v)) {
			snprintf(err, err_size, "shape=trace:%s:%zu: expected 'YYYY-MM-DD HH:MM:SS,value'",
				 spec->trace_path, lineno);
			goto out_close;
		}
		if (r->n == cap) {
			size_t ncap = cap ? 2 * cap : 1024;
			double *t = realloc(r->t_s, ncap * sizeof(*t));

			if (!t)
				goto out_nomem;
			r->t_s = t;
			t = realloc(r->rate, ncap * sizeof(*t));
			if (!t)
				goto out_nomem;
			r->rate = t;
			cap = ncap;
		}
		if (r->n == 0)
			first = ts;
		ts = (ts - first) / spec->compress;
		if (r->n > 0 && ts <= r->t_s[r->n - 1]) {
			snprintf(err, err_size, "shape=trace:%s:%zu: timestamps must increase",
				 spec->trace_path, lineno);
			goto out_close;
		}
		r->t_s[r->n] = ts;
		r->rate[r->n] = v > 0 ? v : 0;
		if (v > max)
			max = v;
		r->n++;
	}
	if (r->n < 2 || max <= 0) {
		snprintf(err, err_size, "shape=trace:%s: needs at least 2 rows and a positive value",
			 spec->trace_path);
		goto out_close;
	}
	for (size_t i = 0; i < r->n; i++)
		r->rate[i] = r->rate[i] / max * spec->peak;
	r->period_s = r->t_s[r->n - 1] + (r->t_s[r->n - 1] - r->t_s[r->n - 2]);
	rc = 0;
	goto out_close;
out_nomem:
	rc = -ENOMEM;
	snprintf(err, err_size, "shape=trace:%s: out of memory", spec->trace_path);
out_close:
	fclose(f);
	return rc;
}

struct st_gen_rate *st_gen_rate_create(const struct st_gen_stream_spec *spec,
				       char *err, size_t err_size)
{
	struct st_gen_rate *r = calloc(1, sizeof(*r));
	int rc;

	if (!r) {
		snprintf(err, err_size, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	r->spec = spec;
	if (spec->shape == ST_GEN_SHAPE_TRACE) {
		rc = load_trace(r, err, err_size);
		if (rc) {
			st_gen_rate_destroy(r);
			errno = -rc;
			return NULL;
		}
	}
	return r;
}

void st_gen_rate_destroy(struct st_gen_rate *r)
{
	if (!r)
		return;
	free(r->t_s);
	free(r->rate);
	free(r);
}

static double trace_rate(struct st_gen_rate *r, double t_s)
{
	double local = fmod(t_s, r->period_s);

	/* Rewind on wrap; otherwise the cursor only moves forward. */
	if (local < r->t_s[r->cursor])
		r->cursor = 0;
	while (r->cursor + 1 < r->n && r->t_s[r->cursor + 1] <= local)
		r->cursor++;
	return r->rate[r->cursor];
}

double st_gen_rate_at(struct st_gen_rate *r, double t_s)
{
	const struct st_gen_stream_spec *s = r->spec;
	double phase;

	switch (s->shape) {
	case ST_GEN_SHAPE_DIURNAL:
		return s->rate * (1 + s->amplitude * sin(2 * M_PI * t_s / s->period_s));
	case ST_GEN_SHAPE_BURSTS:
		phase = fmod(t_s, s->on_s + s->off_s);
		return phase < s->on_s ? s->rate : s->off_rate;
	case ST_GEN_SHAPE_TRACE:
		return trace_rate(r, t_s);
	case ST_GEN_SHAPE_CONSTANT:
	default:
		return s->rate;
	}
}
