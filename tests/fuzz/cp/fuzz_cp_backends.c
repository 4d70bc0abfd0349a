/*
 * Fuzz target of shadowtap-cp's reading of a Backend Metrics record
 * (shadowtap/backends.h): the bytes go through st_backends_parse() as the
 * ring reader does, and an accepted record through the per-backend
 * aggregation (control/cp/backends.h) over a config of three backends.
 * Aborts when an invariant breaks: every entry is counted once (matched,
 * unmatched row or dropped), the backends' entries sum to the matched
 * count, rates are finite and >= 0, a p99 is NAN exactly when there was
 * no latency sample, and the policy's inputs cover every backend.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/cp/backends.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char conf_text[] =
	"pools = ( { name = \"p\"; min_backends = 1; } );\n"
	"backends = (\n"
	"  { name = \"b0\"; pool = \"p\"; address = \"10.0.0.5\"; },\n"
	"  { name = \"b1\"; pool = \"p\"; address = \"2001:db8::7\"; },\n"
	"  { name = \"b2\"; pool = \"p\"; address = \"10.0.0.9\"; standby = true; } );\n";

static struct st_config *config(void)
{
	static struct st_config *cfg;
	char path[] = "/tmp/st-fuzz-cp-backends-XXXXXX";
	char err[256];
	int fd;

	if (cfg)
		return cfg;
	fd = mkstemp(path);
	if (fd < 0 || write(fd, conf_text, sizeof(conf_text) - 1) !=
	    (ssize_t)(sizeof(conf_text) - 1))
		abort();
	close(fd);
	cfg = st_config_load(path, err, sizeof(err));
	unlink(path);
	if (!cfg)
		abort();
	return cfg;
}

static void check_figures(const struct st_cp_backend_figures *f)
{
	if (!isfinite(f->records_per_s) || f->records_per_s < 0 ||
	    !isfinite(f->bytes_per_s) || f->bytes_per_s < 0 ||
	    !isfinite(f->retransmissions_per_s) || f->retransmissions_per_s < 0 ||
	    !isfinite(f->zero_windows_per_s) || f->zero_windows_per_s < 0)
		abort();
	if (isnan(f->latency_p99_ms) != (f->latency_samples == 0))
		abort();
	if (f->latency_samples && !(f->latency_p99_ms >= 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_config *cfg = config();
	struct st_policy_backend_metrics pm[4];
	struct st_cp_backends_stats st;
	struct st_backends_view v;
	struct st_cp_backends *b;
	const char *why = NULL;
	uint8_t *copy;
	uint64_t matched = 0;

	if (size > ST_BACKENDS_MAX_BYTES)
		return 0;
	/* an exact-size copy, so that a read past the end is ASan's to see */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (st_backends_parse(copy, size, &v, &why)) {
		free(copy);
		return 0;
	}
	b = st_cp_backends_create(cfg);
	if (!b)
		abort();
	if (st_cp_backends_take(b, &v))
		abort();   /* a parsed record always has an epoch length */
	st_cp_backends_stats(b, &st);
	if (!st_cp_backends_latest(b)->valid || st.epochs != 1 || st.entries != v.entry_count)
		abort();
	for (size_t i = 0; i < st_cp_backends_count(b); i++) {
		check_figures(&st_cp_backends_at(b, i)->latest);
		matched += st_cp_backends_at(b, i)->latest.entries;
	}
	if (matched != st.entries_matched ||
	    st.entries_matched + st_cp_backends_unmatched_count(b) + st.unmatched_dropped !=
	    v.entry_count || st_cp_backends_unmatched_count(b) > ST_CP_BACKENDS_UNMATCHED_MAX)
		abort();
	for (size_t i = 0; i < st_cp_backends_unmatched_count(b); i++)
		check_figures(&st_cp_backends_unmatched_at(b, i)->latest);
	if (st_cp_backends_policy_metrics(b, v.meta.epoch_start_ns, v.meta.epoch_start_ns + 1,
					  pm, 4) != 3)
		abort();
	st_cp_backends_destroy(b);
	free(copy);
	return 0;
}
