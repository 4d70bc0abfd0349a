/*
 * Fuzz target: the config loader (libconfig's parser, the wide-integer
 * scan, every validation path), the stream-name builder, the pointer check
 * and the --proto parser, on arbitrary bytes.  The input is the config text;
 * its first bytes double as a topic and a PORT=PROTOCOL text.  Inputs
 * holding '@' are passed over: @include would read other files.
 *
 * Invariants (abort() when violated):
 *   - a failed load leaves an error "file:..." naming the file and errno set;
 *   - a loaded config obeys every documented range and limit, and the
 *     cross-checks of config.h (pools, backends, thresholds, retention
 *     against the epoch, enabled actuators);
 *   - every stream name is 1..63 bytes of UTF-8 text, NUL-terminated, the
 *     same on a second call; an unmatched one starts with "<proto>:";
 *   - an accepted PORT=PROTOCOL is a mapping st_config_set_port() accepts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The codecs are not part of this target (see tests/control/config). */
__attribute__((weak)) const struct st_codec st_codec_kafka;
__attribute__((weak)) const struct st_codec st_codec_mqtt;
__attribute__((weak)) const struct st_codec st_codec_nats;
__attribute__((weak)) const struct st_codec st_codec_jsonl;

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/*
 * libconfig 1.5 leaks on some syntax errors: its scanner's string buffer
 * (strbuf_append) and a scanned token the parser discards (yylex), a few
 * bytes per failed load.  Those leaks are libconfig's: every allocation
 * below a libconfig frame is its own (we set no hooks or destructors, so it
 * never calls back into our code) and st_config_load always calls
 * config_destroy.  Suppress them; every other leak still fails the target.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

static int utf8_text(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], more, cp;

		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3, cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i - 1 < more)
			return 0;
		for (unsigned j = 1; j <= more; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return 0;
		i += more + 1;
	}
	return 1;
}

static void check_name(const struct st_config *cfg, enum st_proto proto,
		       const uint8_t *topic, size_t len)
{
	char a[ST_CONFIG_NAME_BYTES], b[ST_CONFIG_NAME_BYTES];
	const struct st_config_stream *ra, *rb;
	size_t n;

	memset(a, 0x5a, sizeof(a));
	CHECK(st_config_stream_name(cfg, proto, topic, len, a, &ra) == 0);
	CHECK(memchr(a, 0, sizeof(a)) != NULL);
	n = strlen(a);
	CHECK(n >= 1 && n <= 63 && utf8_text((const unsigned char *)a, n));
	CHECK(st_config_stream_name(cfg, proto, topic, len, b, &rb) == 0);
	CHECK(ra == rb && strcmp(a, b) == 0);
	if (ra) {
		CHECK(ra->proto == proto && strcmp(ra->name, a) == 0);
	} else {
		const char *pn = st_proto_name(proto);

		CHECK(strncmp(a, pn, strlen(pn)) == 0 && a[strlen(pn)] == ':');
	}
}

static void check_fields(const struct st_config_fields *f, unsigned key_max)
{
	CHECK(f->n_keys <= key_max && f->n_numerics <= ST_CONFIG_NUMERIC_FIELDS_MAX);
	for (unsigned i = 0; i < f->n_keys; i++)
		CHECK(st_config_check_pointer(f->keys[i], NULL) == 0);
	for (unsigned i = 0; i < f->n_numerics; i++)
		CHECK(st_config_check_pointer(f->numerics[i], NULL) == 0);
}

static bool is_prime(uint32_t n)
{
	for (uint32_t d = 2; (uint64_t)d * d <= n; d++)
		if (n % d == 0)
			return false;
	return n >= 2;
}

static void check_text(const char *s, size_t cap, bool may_be_empty)
{
	size_t n = strnlen(s, cap);

	CHECK(n < cap && (may_be_empty || n > 0));
	CHECK(utf8_text((const unsigned char *)s, n));
}

static void check_cp(const struct st_config *cfg)
{
	const struct st_config_params *p = st_config_params(cfg);
	const struct st_config_detectors *d = st_config_detectors(cfg);
	const struct st_config_retention *r = st_config_retention(cfg);
	const struct st_config_control *ctl = st_config_control(cfg);
	const struct st_config_actuators *a = st_config_actuators(cfg);
	const struct st_config_policy *pol = st_config_policy(cfg);
	size_t n_pools = st_config_pool_count(cfg), n_back = st_config_backend_count(cfg);
	uint64_t epoch_ms = p->epoch_ms;

	CHECK(p->capacity_rps >= 0 && p->capacity_rps <= 1e12);
	for (int k = ST_CRIT_LOW; k <= ST_CRIT_HIGH; k++) {
		const struct st_config_threshold *t = st_config_threshold(cfg, k);

		CHECK(t->medium > 0 && t->medium < t->high && t->high <= 1);
	}
	CHECK(d->cusum_drift >= 0 && d->cusum_drift <= 10);
	CHECK(d->cusum_threshold > 0 && d->cusum_threshold <= 100);
	CHECK(d->bocpd_hazard > 0 && d->bocpd_hazard < 1);
	CHECK(d->bocpd_max_run >= 1 && d->bocpd_max_run <= 100000);
	CHECK(d->iforest_trees >= 1 && d->iforest_trees <= 1000);
	CHECK(d->iforest_sample >= 2 && d->iforest_sample <= 65536);
	CHECK(d->model_refresh_s >= 10 && d->model_refresh_s <= 604800 &&
	      d->model_refresh_s * 1000ull >= epoch_ms);
	CHECK(d->forecast_horizon_s >= 1 && d->forecast_horizon_s <= 86400);
	CHECK(d->season_s == 0 || (d->season_s >= 60 && d->season_s <= 2419200 &&
				    d->season_s * 1000ull >= 2 * epoch_ms));
	CHECK(d->warmup_epochs >= 1 && d->warmup_epochs <= 100000);
	CHECK(r->profiles_s >= 60 && r->profiles_s <= 86400 &&
	      r->profiles_s * 1000ull >= epoch_ms);
	CHECK(r->profiles_bytes >= (1u << 20) && r->profiles_bytes <= (1ull << 40));
	CHECK(r->fine_s >= 60 && r->fine_s * 1000ull >= epoch_ms && r->fine_s <= r->coarse_s);
	CHECK(r->coarse_step_s >= 10 && r->coarse_step_s <= 86400 &&
	      r->coarse_step_s * 1000ull >= epoch_ms && r->coarse_step_s <= r->coarse_s);
	CHECK(r->coarse_s >= 3600 && r->coarse_s <= (1u << 31));
	CHECK(r->disk_bytes >= (1u << 20) && r->disk_bytes <= (1ull << 44));
	check_text(ctl->instance, sizeof(ctl->instance), false);
	CHECK(strlen(ctl->instance) <= 32 &&
	      strspn(ctl->instance, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
	      strlen(ctl->instance));
	check_text(ctl->state_dir, sizeof(ctl->state_dir), false);
	check_text(ctl->socket_path, sizeof(ctl->socket_path), false);
	check_text(ctl->event_log, sizeof(ctl->event_log), true);
	check_text(ctl->prometheus, sizeof(ctl->prometheus), true);
	CHECK(ctl->state_dir[0] == '/' && ctl->socket_path[0] == '/');
	CHECK(!ctl->event_log[0] || ctl->event_log[0] == '/');
	CHECK(!ctl->prometheus[0] || strchr(ctl->prometheus, ':'));

	CHECK(n_pools <= ST_CONFIG_POOLS_MAX && n_back <= ST_CONFIG_BACKENDS_MAX);
	CHECK(!st_config_pool_at(cfg, n_pools) && !st_config_backend_at(cfg, n_back));
	for (size_t i = 0; i < n_pools; i++) {
		const struct st_config_pool *pl = st_config_pool_at(cfg, i);
		unsigned members = 0;

		check_text(pl->name, sizeof(pl->name), false);
		CHECK(st_config_pool_find(cfg, pl->name) == pl);  /* unique */
		CHECK(pl->memory_class == ST_MEM_NORMAL || pl->memory_class == ST_MEM_HIGH);
		CHECK(pl->backend_capacity_rps >= 0 && pl->backend_capacity_rps <= 1e12);
		for (size_t j = 0; j < n_back; j++)
			members += st_config_backend_at(cfg, j)->pool == i;
		CHECK(members == pl->n_backends);
		CHECK(pl->min_backends <= pl->max_backends && pl->max_backends >= 1 &&
		      pl->max_backends <= ST_CONFIG_BACKENDS_MAX &&
		      pl->min_backends <= pl->n_backends);
	}
	for (size_t i = 0; i < n_back; i++) {
		const struct st_config_backend *b = st_config_backend_at(cfg, i);

		check_text(b->name, sizeof(b->name), false);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(st_config_backend_at(cfg, j)->name, b->name) != 0);
		CHECK(b->pool < n_pools);
		CHECK(b->address.af == AF_INET || b->address.af == AF_INET6);
		CHECK(b->weight >= 1 && b->weight <= 65535);
		CHECK(b->capacity_rps >= 0 && b->capacity_rps <= 1e12);
	}
	for (size_t i = 0; i < st_config_stream_count(cfg); i++) {
		const struct st_config_stream *s = st_config_stream_at(cfg, i);

		CHECK(s->capacity_rps >= 0 && s->capacity_rps <= 1e12);
		CHECK(!s->pool[0] || st_config_pool_find(cfg, s->pool));
	}
	CHECK(a->nexthop.group_id >= 1 &&
	      a->nexthop.group_id <= UINT32_MAX - ST_CONFIG_BACKENDS_MAX - 1);
	CHECK(a->nexthop.resilient.buckets <= 65535 &&
	      a->nexthop.resilient.idle_timer_s <= 3600 && a->nexthop.table >= 1);
	CHECK(a->nexthop.route.af == 0 ||
	      a->nexthop.route_prefix_len <= (a->nexthop.route.af == AF_INET ? 32u : 128u));
	if (a->nexthop.enabled)
		CHECK(a->nexthop.route.af && n_back &&
		      (!a->nexthop.resilient.buckets || a->nexthop.resilient.buckets >= n_back));
	CHECK(is_prime(a->xdp_lb.table_size) && a->xdp_lb.table_size <= 16777213);
	CHECK(a->xdp_lb.transport >= ST_CONFIG_TCP && a->xdp_lb.transport <= ST_CONFIG_BOTH);
	CHECK(st_xdp_forward_name(a->xdp_lb.forward) != NULL);
	check_text(a->xdp_lb.interface, sizeof(a->xdp_lb.interface), true);
	check_text(a->xdp_lb.egress_interface, sizeof(a->xdp_lb.egress_interface), true);
	if (a->xdp_lb.enabled)
		CHECK(a->xdp_lb.interface[0] && a->xdp_lb.vip.af && a->xdp_lb.vip_port &&
		      n_back && a->xdp_lb.table_size >= 100 * n_back &&
		      (a->xdp_lb.forward != ST_XDP_FWD_REDIRECT || a->xdp_lb.egress_interface[0]));
	CHECK(a->hook.argc <= ST_CONFIG_HOOK_ARGS_MAX);
	CHECK(a->hook.argc == 0 || a->hook.argv[0][0] == '/');
	for (unsigned i = 0; i < a->hook.argc; i++)
		check_text(a->hook.argv[i], sizeof(a->hook.argv[i]), i > 0);
	CHECK(a->hook.timeout_ms >= 1 && a->hook.timeout_ms <= 600000);
	CHECK(pol->cooldown_s <= 86400 && pol->hysteresis >= 0 && pol->hysteresis <= 0.5);
	CHECK(pol->high_cardinality >= 1 && pol->high_cardinality <= (1ull << 40));
	CHECK(pol->skew_top1_share > 0 && pol->skew_top1_share <= 1);
	CHECK(pol->scale_up_utilization > 0 && pol->scale_up_utilization <= 1 &&
	      pol->scale_down_utilization >= 0 &&
	      pol->scale_down_utilization < pol->scale_up_utilization);
}

static void check_config(const struct st_config *cfg, const uint8_t *data,
			 size_t size)
{
	const struct st_config_params *p = st_config_params(cfg);

	CHECK(p->hll_precision >= 10 && p->hll_precision <= 16);
	CHECK(p->heavy_hitters >= 4 && p->heavy_hitters <= 4096);
	CHECK(p->quantile_alpha >= 1e-9 && p->quantile_alpha <= 0.5);
	CHECK(p->epoch_ms >= 10 && p->epoch_ms <= 3600000);
	CHECK(p->ticks_per_epoch >= 1 &&
	      ((uint64_t)p->epoch_ms * 1000000u) % p->ticks_per_epoch == 0);
	CHECK(p->max_streams_per_core >= 1 && p->flow_table_entries >= 1024);
	CHECK(p->reassembly_bytes_per_core >= 32768 &&
	      p->reassembly_bytes_per_core <= (1ull << 36));
	check_fields(st_config_default_fields(cfg), ST_CONFIG_KEY_FIELDS_MAX - 1);
	check_cp(cfg);
	for (size_t i = 0; i < st_config_stream_count(cfg); i++) {
		const struct st_config_stream *r = st_config_stream_at(cfg, i);
		size_t n = strlen(r->name);

		CHECK(n >= 1 && n <= 63 && utf8_text((const unsigned char *)r->name, n));
		CHECK(r->proto > ST_PROTO_NONE && r->proto < ST_PROTO__COUNT);
		CHECK(r->match[0] != '\0');
		check_fields(&r->fields, ST_CONFIG_KEY_FIELDS_MAX -
			     (r->proto == ST_PROTO_KAFKA));
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(st_config_stream_at(cfg, j)->name, r->name) != 0);
	}
	for (uint32_t port = 0; port < 65536; port += 257)
		CHECK(st_config_port_proto(cfg, 6, (uint16_t)port) < ST_PROTO__COUNT);
	for (int proto = ST_PROTO_KAFKA; proto < ST_PROTO__COUNT; proto++)
		check_name(cfg, (enum st_proto)proto, data, size < 300 ? size : 300);
}

static void fuzz_override(const uint8_t *data, size_t size)
{
	char text[64], err[128];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	struct st_config *cfg;
	enum st_proto proto;
	uint16_t port;
	int transport;

	memcpy(text, data, n);
	text[n] = '\0';
	st_config_check_pointer(text, NULL);
	if (st_config_parse_port_override(text, &port, &transport, &proto, err,
					  sizeof(err)) != 0) {
		CHECK(err[0] == '"');
		return;
	}
	cfg = st_config_default();
	CHECK(cfg != NULL);
	CHECK(st_config_set_port(cfg, port, transport, proto) == 0);
	if (transport & ST_CONFIG_TCP)
		CHECK(st_config_port_proto(cfg, 6, port) == proto);
	if (transport & ST_CONFIG_UDP)
		CHECK(st_config_port_proto(cfg, 17, port) == proto);
	st_config_destroy(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	struct st_config *cfg;
	int fd;

	/* @include would read files outside the input (even stdin, "0") */
	if (memchr(data, '@', size))
		return 0;
	fd = memfd_create("fuzz-config", 0);
	CHECK(fd >= 0);
	CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	errno = 0;
	cfg = st_config_load(path, err, sizeof(err));
	if (!cfg) {
		CHECK(errno != 0);
		CHECK(strncmp(err, "/proc/self/fd/", 14) == 0 && strchr(err, ':'));
	} else {
		check_config(cfg, data, size);
		if (st_config_add_key_field(cfg, "/fuzz/key") == 0)
			check_config(cfg, data, size);
		st_config_destroy(cfg);
	}
	close(fd);
	fuzz_override(data, size);
	return 0;
}
