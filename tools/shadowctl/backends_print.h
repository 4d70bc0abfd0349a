/*
 * Printing Backend Metrics records (shadowtap/backends.h), as `shadowctl
 * analyze` and `shadowctl profiles` show them: the record is parsed (full
 * validation) and each endpoint printed from the parsed entries, with its
 * latency sketch's count and quantiles.
 */
#ifndef ST_SHADOWCTL_BACKENDS_PRINT_H
#define ST_SHADOWCTL_BACKENDS_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Prints the record rec[0..len): JSON, `{"epoch_start_ns":..,"epoch_ns":..,
 * "cores_merged":..,"cores_expected":..,"overflow":..,"backends":[..]}`
 * without a newline; text, one line per endpoint.  0, or -EINVAL with *why
 * (the parser's reason) when the record is refused, -ENOMEM.
 */
int st_backends_print(FILE *out, const void *rec, size_t len, bool json,
		      const char **why);

#endif
