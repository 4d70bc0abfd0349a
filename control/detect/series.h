/*
 * Series readers for the offline change points (shadowctl detect): a
 * `timestamp,value[,value...]` CSV or a TCPD JSON document
 * (github.com/alan-turing-institute/TCPD, schema: name, n_obs, n_dim,
 * time.index, series[].raw).  Both parse a buffer already in memory, check
 * every byte they read, and either fill a struct st_series or say what is
 * wrong (with the line number for CSV).
 *
 * Missing values (CSV: an empty field, "nan", "NA", "null"; JSON: null) are
 * replaced by the last value seen in the same dimension, or, before the
 * first one, by the first value seen; they are counted in `filled`.  A
 * dimension with no value at all is an error.  Infinite values are errors.
 */
#ifndef ST_CONTROL_DETECT_SERIES_H
#define ST_CONTROL_DETECT_SERIES_H

#include <stddef.h>

#define ST_SERIES_MAX_DIM 64
#define ST_SERIES_MAX_OBS 1000000
#define ST_SERIES_ERR_BYTES 160

struct st_series {
	size_t n_obs;
	size_t n_dim;
	double *values;          /* [n_obs * n_dim], observation-major; owned */
	size_t filled;           /* missing values carried from a neighbour */
	char name[64];           /* JSON "name", or "" */
};

/*
 * Parses CSV text buf[0..len-1] (need not be NUL-terminated).  The first
 * line is a header when one of its value fields is not a number; blank
 * lines are skipped; every data line has the same number of fields (>= 2).
 * Returns 0 and fills *out (release with st_series_free), -EINVAL with a
 * message in err ("line N: ..."), or -ENOMEM.  Thread-safe.
 */
int st_series_parse_csv(const char *buf, size_t len, struct st_series *out,
			char err[ST_SERIES_ERR_BYTES]);

/* The same for a TCPD JSON document. */
int st_series_parse_tcpd(const char *buf, size_t len, struct st_series *out,
			 char err[ST_SERIES_ERR_BYTES]);

/* JSON when the first non-blank byte is '{', CSV otherwise. */
int st_series_parse(const char *buf, size_t len, struct st_series *out,
		    char err[ST_SERIES_ERR_BYTES]);

/* Releases out->values; NULL and an empty series are fine. */
void st_series_free(struct st_series *s);

#endif
