/* The config -> worker bridge; see classify.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/config/classify.h"

static enum st_proto cls_port(const void *ctx, uint8_t l4_proto, uint16_t port)
{
	return st_config_port_proto(ctx, l4_proto, port);
}

static int cls_stream(const void *ctx, enum st_proto proto, const uint8_t *topic,
		      size_t len, struct st_worker_stream_def *def)
{
	const struct st_config *cfg = ctx;
	const struct st_config_stream *rule = NULL;
	const struct st_config_fields *f;
	int rc;

	rc = st_config_stream_name(cfg, proto, topic, len, def->name, &rule);
	if (rc < 0)
		return rc;
	f = st_config_stream_fields(cfg, rule);
	def->key_fields = f->n_keys;
	for (unsigned i = 0; i < f->n_keys; i++)
		snprintf(def->key[i], sizeof(def->key[i]), "%s", f->keys[i]);
	def->numeric_fields = f->n_numerics;
	for (unsigned i = 0; i < f->n_numerics; i++)
		snprintf(def->numeric[i], sizeof(def->numeric[i]), "%s", f->numerics[i]);
	def->no_schema = !st_config_stream_schema(rule);
	return 0;
}

int st_classify_worker_config(const struct st_config *cfg,
			      struct st_worker_config *wc, char *err, size_t err_len)
{
	const struct st_config_params *p = st_config_params(cfg);

	st_worker_config_default(wc);
	wc->sketch.hll_p = p->hll_precision;
	wc->sketch.hh_k = p->heavy_hitters;
	wc->sketch.qs_alpha = p->quantile_alpha;
	wc->sketch.epoch_ns = (uint64_t)p->epoch_ms * 1000000u;
	wc->sketch.n_ticks = p->ticks_per_epoch;
	wc->max_streams = p->max_streams_per_core;
	wc->max_flows = p->flow_table_entries;
	wc->flow_idle_ns = (uint64_t)p->flow_idle_timeout_ms * 1000000u;
	wc->reasm_budget_bytes = p->reassembly_bytes_per_core;
	wc->classifier.port_proto = cls_port;
	wc->classifier.stream = cls_stream;
	wc->classifier.ctx = cfg;
	if (wc->sketch.epoch_ns % wc->sketch.n_ticks) {
		snprintf(err, err_len, "%u ticks do not divide an epoch of %u ms",
			 p->ticks_per_epoch, p->epoch_ms);
		return -EINVAL;
	}
	return 0;
}

int st_classify_from_options(const struct st_classify_options *o,
			     struct st_config **cfg_out, struct st_worker_config *wc,
			     char *err, size_t errlen)
{
	struct st_config *cfg;
	int rc;

	*cfg_out = NULL;
	cfg = o->config_path ? st_config_load(o->config_path, err, errlen)
			     : st_config_default();
	if (!cfg) {
		if (!o->config_path) {
			snprintf(err, errlen, "%s", strerror(errno));
			return errno ? -errno : -ENOMEM;
		}
		return -EINVAL;                  /* err holds file:line */
	}
	rc = -EINVAL;
	for (unsigned i = 0; i < o->n_keys; i++) {
		int e = st_config_add_key_field(cfg, o->keys[i]);
		const char *why = NULL;

		if (e == -EINVAL)
			st_config_check_pointer(o->keys[i], &why);
		if (e < 0) {
			snprintf(err, errlen, "--key %s: %s", o->keys[i],
				 e == -E2BIG ? "a stream would have more key fields than it "
					       "may (4, the Kafka record key included)"
					     : why ? why : "not a JSON pointer");
			goto out_config;
		}
	}
	for (unsigned i = 0; i < o->n_protos; i++) {
		char why[256];

		if (st_config_apply_port_override(cfg, o->protos[i], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "--proto: %s", why);
			goto out_config;
		}
	}
	if (st_classify_worker_config(cfg, wc, err, errlen) < 0)
		goto out_config;
	if (o->epoch_ms) {
		wc->sketch.epoch_ns = o->epoch_ms * 1000000ull;
		if (wc->sketch.epoch_ns % wc->sketch.n_ticks) {
			snprintf(err, errlen, "--epoch-ms %llu: the %u ticks per epoch do "
				 "not divide it", o->epoch_ms, wc->sketch.n_ticks);
			goto out_config;
		}
	}
	*cfg_out = cfg;
	return 0;
out_config:
	st_config_destroy(cfg);
	return rc;
}
