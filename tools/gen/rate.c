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
 *	          Past its end the trace starts over.  A row is exactly
 *	          "YYYY-MM-DD HH:MM:SS,VALUE" (fields in range, VALUE a finite
 *	          strtod number, then only spaces or CR); a first line starting
 *	          "timestamp" is the header; lines are at most 254 bytes.
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
	int used = 0;

	/* widths keep every field far from INT_MIN/INT_MAX before the offsets below */
	memset(&tm, 0, sizeof(tm));
	if (sscanf(line, "%4d-%2d-%2d %2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 || line[used] != ',')
		return -EINVAL;
	if (tm.tm_year < 1900 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	line += used + 1;
	*value = strtod(line, &end);
	if (end == line || !isfinite(*value))
		return -EINVAL;
	end += strspn(end, " \r\n");
	if (*end)
		return -EINVAL;
	*epoch_s = (double)timegm(&tm);
	return 0;
}

/* Appends one row, growing both arrays together. */
static int push_row(struct st_gen_rate *r, size_t *cap, double t_s, double rate)
{
	if (r->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 1024;
		double *t = realloc(r->t_s, ncap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		r->t_s = t;
		t = realloc(r->rate, ncap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		r->rate = t;
		*cap = ncap;
	}
	r->t_s[r->n] = t_s;
	r->rate[r->n] = rate;
	r->n++;
	return 0;
}

static int load_trace(struct st_gen_rate *r, FILE *f, char *err, size_t err_size)
{
	const struct st_gen_stream_spec *spec = r->spec;
	char line[256];
	size_t cap = 0, lineno = 0;
	double first = 0, max = 0;

	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		double ts, v;

		lineno++;
		/* a cut line (too long, or a NUL byte) would go on as a new row */
		if ((len == 0 || line[len - 1] != '\n') && !feof(f)) {
			snprintf(err, err_size, "shape=trace:%s:%zu: line longer than %zu bytes or holding a NUL",
				 spec->trace_path, lineno, sizeof(line) - 2);
			return -EINVAL;
		}
		if (lineno == 1 && strncmp(line, "timestamp", 9) == 0)
			continue;
		if (line[0] == '\n' || line[0] == '\r')
			continue;
		if (parse_row(line, &ts, &v)) {
			snprintf(err, err_size, "shape=trace:%s:%zu: expected 'YYYY-MM-DD HH:MM:SS,value'",
				 spec->trace_path, lineno);
			return -EINVAL;
		}
		if (r->n == 0)
			first = ts;
		ts = (ts - first) / spec->compress;
		if (r->n > 0 && ts <= r->t_s[r->n - 1]) {
			snprintf(err, err_size, "shape=trace:%s:%zu: timestamps must increase",
				 spec->trace_path, lineno);
			return -EINVAL;
		}
		if (push_row(r, &cap, ts, v > 0 ? v : 0)) {
			snprintf(err, err_size, "shape=trace:%s: out of memory", spec->trace_path);
			return -ENOMEM;
		}
		if (v > max)
			max = v;
	}
	if (ferror(f)) {
		snprintf(err, err_size, "shape=trace:%s: read error", spec->trace_path);
		return -EIO;
	}
	if (r->n < 2 || max <= 0) {
		snprintf(err, err_size, "shape=trace:%s: needs at least 2 rows and a positive value",
			 spec->trace_path);
		return -EINVAL;
	}
	for (size_t i = 0; i < r->n; i++)
		r->rate[i] = r->rate[i] / max * spec->peak;
	r->period_s = r->t_s[r->n - 1] + (r->t_s[r->n - 1] - r->t_s[r->n - 2]);
	return 0;
}

struct st_gen_rate *st_gen_rate_create_from(const struct st_gen_stream_spec *spec, FILE *trace,
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
		rc = load_trace(r, trace, err, err_size);
		if (rc) {
			st_gen_rate_destroy(r);
			errno = -rc;
			return NULL;
		}
	}
	return r;
}

struct st_gen_rate *st_gen_rate_create(const struct st_gen_stream_spec *spec,
				       char *err, size_t err_size)
{
	struct st_gen_rate *r;
	FILE *f;
	int saved;

	if (spec->shape != ST_GEN_SHAPE_TRACE)
		return st_gen_rate_create_from(spec, NULL, err, err_size);
	f = fopen(spec->trace_path, "r");
	if (!f) {
		saved = errno;
		snprintf(err, err_size, "shape=trace:%s: %s", spec->trace_path, strerror(saved));
		errno = saved;
		return NULL;
	}
	r = st_gen_rate_create_from(spec, f, err, err_size);
	saved = errno;
	fclose(f);
	errno = saved;
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
