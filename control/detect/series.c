/*
 * Series readers (series.h): CSV by hand over a bounded buffer, TCPD JSON
 * through jansson.  Missing values are stored as NaN while parsing and
 * filled at the end (fill_missing), so both readers share one rule.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/detect/series.h"

#define NUMBER_MAX_BYTES 63

static int fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ST_SERIES_ERR_BYTES, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void st_series_free(struct st_series *s)
{
	if (!s)
		return;
	free(s->values);
	s->values = NULL;
	s->n_obs = 0;
}

/* Carries the last value over NaN gaps, per dimension. */
static int fill_missing(struct st_series *s, char *err)
{
	size_t d, i;

	for (d = 0; d < s->n_dim; d++) {
		double last = NAN;

		for (i = 0; i < s->n_obs && isnan(last); i++)
			last = s->values[i * s->n_dim + d];
		if (isnan(last))
			return fail(err, "dimension %zu has no value", d + 1);
		for (i = 0; i < s->n_obs; i++) {
			double *v = &s->values[i * s->n_dim + d];

			if (isnan(*v)) {
				*v = last;
				s->filled++;
			} else {
				last = *v;
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ CSV -- */

enum field_kind { FIELD_NUMBER, FIELD_MISSING, FIELD_TEXT, FIELD_INFINITE };

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Classifies field f[0..n-1]; a number goes to *v. */
static enum field_kind parse_field(const char *f, size_t n, double *v)
{
	char tmp[NUMBER_MAX_BYTES + 1], *end;

	while (n && is_blank(*f)) {
		f++;
		n--;
	}
	while (n && is_blank(f[n - 1]))
		n--;
	if (n >= 2 && f[0] == '"' && f[n - 1] == '"') {
		f++;
		n -= 2;
	}
	if (n == 0)
		return FIELD_MISSING;
	if (n > NUMBER_MAX_BYTES)
		return FIELD_TEXT;
	memcpy(tmp, f, n);
	tmp[n] = '\0';
	if (!strcasecmp(tmp, "nan") || !strcasecmp(tmp, "na") ||
	    !strcasecmp(tmp, "null"))
		return FIELD_MISSING;
	errno = 0;
	*v = strtod(tmp, &end);
	if (end == tmp || *end != '\0')
		return FIELD_TEXT;
	if (!isfinite(*v))
		return FIELD_INFINITE;
	return FIELD_NUMBER;
}

static size_t count_fields(const char *line, size_t n)
{
	size_t i, fields = 1;

	for (i = 0; i < n; i++)
		fields += line[i] == ',';
	return fields;
}

static int grow(struct st_series *s, size_t *cap_obs)
{
	size_t cap = *cap_obs ? *cap_obs * 2 : 256;
	double *v;

	if (cap > ST_SERIES_MAX_OBS)
		cap = ST_SERIES_MAX_OBS;
	v = realloc(s->values, cap * s->n_dim * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->values = v;
	*cap_obs = cap;
	return 0;
}

/* One data line: the value fields after the timestamp into row. */
static int parse_row(const char *line, size_t n, size_t lineno, double *row,
		     size_t n_dim, bool *header_like, char *err)
{
	size_t start = 0, i, field = 0;

	*header_like = false;
	for (i = 0; i <= n; i++) {
		enum field_kind k;
		double v = 0;

		if (i < n && line[i] != ',')
			continue;
		if (field > 0) {
			k = parse_field(line + start, i - start, &v);
			if (k == FIELD_TEXT) {
				*header_like = true;
				return fail(err, "line %zu: field %zu is not a number",
					    lineno, field + 1);
			}
			if (k == FIELD_INFINITE)
				return fail(err, "line %zu: field %zu is infinite",
					    lineno, field + 1);
			row[field - 1] = k == FIELD_MISSING ? NAN : v;
		}
		field++;
		start = i + 1;
	}
	(void)n_dim;
	return 0;
}

int st_series_parse_csv(const char *buf, size_t len, struct st_series *out,
			char err[ST_SERIES_ERR_BYTES])
{
	size_t pos = 0, lineno = 0, cap_obs = 0, n_fields = 0;
	bool first = true;
	int ret;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos, i, fields;
		bool header_like, blank = true;

		pos += n + (nl ? 1 : 0);
		lineno++;
		for (i = 0; i < n && blank; i++)
			blank = is_blank(line[i]);
		if (blank)
			continue;
		if (memchr(line, '\0', n)) {
			ret = fail(err, "line %zu: NUL byte", lineno);
			goto out_free;
		}
		fields = count_fields(line, n);
		if (fields < 2) {
			ret = fail(err, "line %zu: expected timestamp,value[,value...]",
				   lineno);
			goto out_free;
		}
		if (!n_fields) {
			if (fields - 1 > ST_SERIES_MAX_DIM) {
				ret = fail(err, "line %zu: %zu values, at most %d",
					   lineno, fields - 1, ST_SERIES_MAX_DIM);
				goto out_free;
			}
			n_fields = fields;
			out->n_dim = fields - 1;
		} else if (fields != n_fields) {
			ret = fail(err, "line %zu: %zu fields, expected %zu",
				   lineno, fields, n_fields);
			goto out_free;
		}
		if (out->n_obs == cap_obs) {
			if (cap_obs == ST_SERIES_MAX_OBS) {
				ret = fail(err, "line %zu: more than %d observations",
					   lineno, ST_SERIES_MAX_OBS);
				goto out_free;
			}
			ret = grow(out, &cap_obs);
			if (ret)
				goto out_free;
		}
		ret = parse_row(line, n, lineno, out->values + out->n_obs * out->n_dim,
				out->n_dim, &header_like, err);
		if (ret && first && header_like) {
			err[0] = '\0';  /* the header line */
			first = false;
			continue;
		}
		first = false;
		if (ret)
			goto out_free;
		out->n_obs++;
	}
	if (out->n_obs == 0) {
		ret = fail(err, "no data lines");
		goto out_free;
	}
	ret = fill_missing(out, err);
	if (ret)
		goto out_free;
	return 0;

out_free:
	st_series_free(out);
	return ret;
}

/* ----------------------------------------------------------------- TCPD -- */

static int read_dimension(const json_t *entry, size_t d, struct st_series *out,
			  char *err)
{
	const json_t *raw = json_object_get(entry, "raw");
	size_t i;

	if (!json_is_object(entry))
		return fail(err, "series[%zu] is not an object", d);
	if (!json_is_array(raw))
		return fail(err, "series[%zu].raw is missing or not an array", d);
	if (json_array_size(raw) != out->n_obs)
		return fail(err, "series[%zu].raw has %zu values, n_obs is %zu", d,
			    json_array_size(raw), out->n_obs);
	for (i = 0; i < out->n_obs; i++) {
		const json_t *v = json_array_get(raw, i);
		double x;

		if (json_is_null(v)) {
			out->values[i * out->n_dim + d] = NAN;
			continue;
		}
		if (!json_is_number(v))
			return fail(err, "series[%zu].raw[%zu] is not a number or null",
				    d, i);
		x = json_number_value(v);
		if (!isfinite(x))
			return fail(err, "series[%zu].raw[%zu] is not finite", d, i);
		out->values[i * out->n_dim + d] = x;
	}
	return 0;
}

static int read_count(const json_t *root, const char *key, json_int_t max,
		      size_t *out, char *err)
{
	const json_t *v = json_object_get(root, key);

	if (!json_is_integer(v))
		return fail(err, "\"%s\" is missing or not an integer", key);
	if (json_integer_value(v) < 1 || json_integer_value(v) > max)
		return fail(err, "\"%s\" is %lld, expected 1..%lld", key,
			    (long long)json_integer_value(v), (long long)max);
	*out = (size_t)json_integer_value(v);
	return 0;
}

static int read_tcpd(const json_t *root, struct st_series *out, char *err)
{
	const json_t *series, *name, *time, *index;
	size_t d;
	int ret;

	if (!json_is_object(root))
		return fail(err, "the document is not a JSON object");
	ret = read_count(root, "n_obs", ST_SERIES_MAX_OBS, &out->n_obs, err);
	if (!ret)
		ret = read_count(root, "n_dim", ST_SERIES_MAX_DIM, &out->n_dim, err);
	if (ret)
		return ret;
	name = json_object_get(root, "name");
	if (name && !json_is_string(name))
		return fail(err, "\"name\" is not a string");
	if (name)
		snprintf(out->name, sizeof(out->name), "%s", json_string_value(name));
	time = json_object_get(root, "time");
	if (time) {
		index = json_object_get(time, "index");
		if (!json_is_object(time) || !json_is_array(index))
			return fail(err, "\"time\" has no \"index\" array");
		if (json_array_size(index) != out->n_obs)
			return fail(err, "time.index has %zu entries, n_obs is %zu",
				    json_array_size(index), out->n_obs);
	}
	series = json_object_get(root, "series");
	if (!json_is_array(series))
		return fail(err, "\"series\" is missing or not an array");
	if (json_array_size(series) != out->n_dim)
		return fail(err, "\"series\" has %zu entries, n_dim is %zu",
			    json_array_size(series), out->n_dim);
	out->values = malloc(out->n_obs * out->n_dim * sizeof(double));
	if (!out->values)
		return -ENOMEM;
	for (d = 0; d < out->n_dim; d++) {
		ret = read_dimension(json_array_get(series, d), d, out, err);
		if (ret)
			return ret;
	}
	return fill_missing(out, err);
}

int st_series_parse_tcpd(const char *buf, size_t len, struct st_series *out,
			 char err[ST_SERIES_ERR_BYTES])
{
	json_error_t jerr;
	json_t *root;
	int ret;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(err, "JSON line %d column %d: %s", jerr.line, jerr.column,
			    jerr.text);
	ret = read_tcpd(root, out, err);
	json_decref(root);
	if (ret)
		st_series_free(out);
	return ret;
}

int st_series_parse(const char *buf, size_t len, struct st_series *out,
		    char err[ST_SERIES_ERR_BYTES])
{
	size_t i = 0;

	while (i < len && (is_blank(buf[i]) || buf[i] == '\n'))
		i++;
	if (i < len && buf[i] == '{')
		return st_series_parse_tcpd(buf, len, out, err);
	return st_series_parse_csv(buf, len, out, err);
}
