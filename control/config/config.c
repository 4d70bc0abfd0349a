/*
 * The configuration file: libconfig parses the text (grammar in the
 * libconfig manual, "Configuration Files"), this file walks the tree it
 * builds and validates every setting against the tables below.  Every
 * error names the file and line libconfig recorded for the offending
 * setting (config_setting_source_file/line) or, for syntax errors, where the
 * parser stopped (config_error_file/line).
 *
 * Layout of a loaded config: the port map is two 65536-byte tables (TCP,
 * UDP) of enum st_proto, so a lookup is one load; the rules are one array
 * in file order; every string lives in fixed arrays inside the structs, so
 * the overrides never allocate and destroy is three frees.
 *
 * Lines.  A named setting is reported at the line of its name.  libconfig
 * records a scalar element of an array or list after reading the token that
 * follows it, so the last element before a closing bracket on a later line
 * is reported at that bracket's line; messages about elements therefore
 * also name the element ("key_fields[1]").  @include paths are relative to
 * the including file's folder (config_set_include_dir); libconfig 1.5 then
 * refuses absolute ones.
 *
 * libconfig 1.5 (Debian 12) reads a decimal literal past 32 bits without
 * the L suffix by wrapping it (5000000000 becomes 705032704).  Before the
 * tree is validated, scan_wide_ints() lexes the main file and refuses such
 * literals, so a wrapped value can never pass a range check.  Files pulled
 * in with @include are not scanned (their settings are validated as usual).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "control/actuate/xdplb/maglev.h"
#include "control/config/config.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/heavy.h"
#include "dataplane/sketch/hll.h"
#include "dataplane/sketch/ticks.h"
#include "shadowtap/ring.h"

#define PORTS 65536u
#define T_TCP 0
#define T_UDP 1
#define CUT_PREFIX_MAX 46u  /* 46 + "~" + 16 hex = 63 */
#define CUT_HEX 16u

/* Ranges of `defaults`; the sketch limits come from the sketch headers. */
#define ALPHA_MIN 1e-9       /* dataplane/sketch/quantile.h, st_qs_create */
#define ALPHA_MAX 0.5
#define EPOCH_MS_MIN 10u
#define EPOCH_MS_MAX 3600000u
#define STREAMS_PER_CORE_MAX 65536u
#define FLOW_ENTRIES_MIN 1024u
#define FLOW_ENTRIES_MAX (1u << 24)
#define IDLE_MS_MIN 100u
#define IDLE_MS_MAX 86400000u
#define REASM_BYTES_MIN (2ull * ST_CODEC_HOLD_MAX)
#define REASM_BYTES_MAX (1ull << 36)

struct st_config {
	uint8_t port_proto[2][PORTS];   /* [T_TCP/T_UDP][port] = enum st_proto */
	struct st_config_params params;
	struct st_config_fields default_fields;
	struct st_config_stream *streams;
	size_t n_streams;
	char *source;
	struct st_config_threshold thresholds[ST_CRIT_HIGH + 1];
	struct st_config_detectors detectors;
	struct st_config_retention retention;
	struct st_config_control control;
	struct st_config_pool *pools;
	size_t n_pools;
	struct st_config_backend *backends;
	size_t n_backends;
	struct st_config_actuators actuators;
	struct st_config_policy policy;
};

/* A critical stream signals at lower scores than a low one. */
static const struct st_config_threshold thresholds_default[ST_CRIT_HIGH + 1] = {
	[ST_CRIT_LOW] = { .medium = 0.8, .high = 0.95 },
	[ST_CRIT_MEDIUM] = { .medium = 0.6, .high = 0.85 },
	[ST_CRIT_HIGH] = { .medium = 0.4, .high = 0.7 },
};

static const struct st_config_detectors detectors_default = {
	.cusum_drift = 0.5,
	.cusum_threshold = 5.0,
	.bocpd_hazard = 1.0 / 250.0,
	.bocpd_max_run = 500,
	.iforest_trees = 100,
	.iforest_sample = 256,
	.model_refresh_s = 3600,
	.forecast_horizon_s = 60,
	.season_s = 86400,
	.warmup_epochs = 30,
};

static const struct st_config_retention retention_default = {
	.profiles_s = 3600,
	.profiles_bytes = 256ull << 20,
	.fine_s = 3600,
	.coarse_step_s = 60,
	.coarse_s = 604800,
	.disk_bytes = 1ull << 30,
};

static const struct st_config_control control_default = {
	.instance = "default",
	.state_dir = "/var/lib/shadowtap",
	.socket_path = "/run/shadowtap/cp.sock",
	.event_log = "",
	.prometheus = "127.0.0.1:9464",
};

static const struct st_config_actuators actuators_default = {
	.dry_run = false,
	.nexthop = {
		.enabled = false,
		.group_id = 4000,
		.resilient = { .buckets = 128, .idle_timer_s = 120 },
		.table = 254,
	},
	.xdp_lb = {
		.enabled = false,
		.transport = ST_CONFIG_TCP,
		.table_size = ST_MAGLEV_SIZE_AUTO_MIN,
		.table_size_auto = true,
		.forward = ST_XDP_FWD_TX,
	},
	.hook = { .argc = 0, .timeout_ms = 5000 },
};

static const struct st_config_policy policy_default = {
	.cooldown_s = 300,
	.hysteresis = 0.1,
	.high_cardinality = 100000,
	.skew_top1_share = 0.2,
	.scale_up_utilization = 0.8,
	.scale_down_utilization = 0.3,
};

static const struct st_config_params params_default = {
	.hll_precision = ST_HLL_P_DEFAULT,
	.heavy_hitters = ST_HH_K_DEFAULT,
	.quantile_alpha = 0.01,
	.epoch_ms = 1000,
	.ticks_per_epoch = ST_TICKS_DEFAULT,
	.max_streams_per_core = 1024,
	.flow_table_entries = 65536,
	.flow_idle_timeout_ms = 60000,
	.reassembly_bytes_per_core = 64ull << 20,
	.capacity_rps = 0,
};

static const struct {
	uint16_t port;
	int transport;
	enum st_proto proto;
} ports_default[] = {
	{ 9092, ST_CONFIG_TCP, ST_PROTO_KAFKA },
	{ 1883, ST_CONFIG_TCP, ST_PROTO_MQTT },
	{ 4222, ST_CONFIG_TCP, ST_PROTO_NATS },
	{ 5140, ST_CONFIG_BOTH, ST_PROTO_JSONL },
};

static const char *const crit_names[] = {
	[ST_CRIT_LOW] = "low",
	[ST_CRIT_MEDIUM] = "medium",
	[ST_CRIT_HIGH] = "high",
};

static const char *const memory_class_names[] = {
	[ST_MEM_NORMAL] = "normal",
	[ST_MEM_HIGH] = "high",
};

static const char *const forward_names[] = {
	[ST_XDP_FWD_TX] = "tx",
	[ST_XDP_FWD_REDIRECT] = "redirect",
	[ST_XDP_FWD_IPIP] = "ipip",
};

const char *st_criticality_name(enum st_criticality c)
{
	if ((unsigned)c >= sizeof(crit_names) / sizeof(crit_names[0]))
		return NULL;
	return crit_names[c];
}

const char *st_memory_class_name(enum st_memory_class m)
{
	if ((unsigned)m >= sizeof(memory_class_names) / sizeof(memory_class_names[0]))
		return NULL;
	return memory_class_names[m];
}

const char *st_xdp_forward_name(enum st_xdp_forward f)
{
	if ((unsigned)f >= sizeof(forward_names) / sizeof(forward_names[0]))
		return NULL;
	return forward_names[f];
}

/* ---- text checks ---- */

/*
 * Bytes of the UTF-8 character at s (1..4), or 0 when it is not
 * well-formed (Unicode 15, table 3-7) or is a C0/C1 control or DEL.
 */
static size_t utf8_char_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xbf;
	size_t more;

	if (c < 0x20 || c == 0x7f)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		more = 1;
		if (c == 0xc2)
			lo = 0xa0;  /* U+0080..U+009F are C1 controls */
	} else if (c >= 0xe0 && c <= 0xef) {
		more = 2;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		more = 3;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (n - 1 < more || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t j = 2; j <= more; j++)
		if ((s[j] & 0xc0) != 0x80)
			return 0;
	return more + 1;
}

static bool text_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t c = utf8_char_len(s + i, n - i);

		if (!c)
			return false;
		i += c;
	}
	return true;
}

/* RFC 6901 section 3: *( "/" reference-token ), "~" escapes only ~0 ~1. */
int st_config_check_pointer(const char *pointer, const char **why)
{
	const char *reason = NULL;
	size_t len;

	if (!pointer) {
		reason = "no pointer";
		goto out_reason;
	}
	len = strlen(pointer);
	if (len == 0)
		reason = "empty (a field pointer starts with '/')";
	else if (pointer[0] != '/')
		reason = "a JSON pointer starts with '/' (RFC 6901)";
	else if (len > ST_CONFIG_POINTER_MAX)
		reason = "longer than 255 bytes";
	else if (!text_ok((const uint8_t *)pointer, len))
		reason = "not UTF-8 text (invalid bytes or control characters)";
	for (size_t i = 0; !reason && i < len; i++)
		if (pointer[i] == '~' && pointer[i + 1] != '0' && pointer[i + 1] != '1')
			reason = "'~' must be followed by '0' or '1' (RFC 6901)";
out_reason:
	if (why)
		*why = reason;
	return reason ? -EINVAL : 0;
}

/* ---- building ---- */

static void map_port(struct st_config *cfg, uint16_t port, int transport,
		     enum st_proto proto)
{
	if (transport & ST_CONFIG_TCP)
		cfg->port_proto[T_TCP][port] = (uint8_t)proto;
	if (transport & ST_CONFIG_UDP)
		cfg->port_proto[T_UDP][port] = (uint8_t)proto;
}

struct st_config *st_config_default(void)
{
	struct st_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->params = params_default;
	memcpy(cfg->thresholds, thresholds_default, sizeof(cfg->thresholds));
	cfg->detectors = detectors_default;
	cfg->retention = retention_default;
	cfg->control = control_default;
	cfg->actuators = actuators_default;
	cfg->policy = policy_default;
	for (size_t i = 0; i < sizeof(ports_default) / sizeof(ports_default[0]); i++)
		map_port(cfg, ports_default[i].port, ports_default[i].transport,
			 ports_default[i].proto);
	return cfg;
}

void st_config_destroy(struct st_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->streams);
	free(cfg->pools);
	free(cfg->backends);
	free(cfg->source);
	free(cfg);
}

/* ---- loading: errors ---- */

struct load_ctx {
	const char *path;
	const char *include_dir;  /* folder of path, or NULL */
	char *err;
	size_t err_len;
	struct st_config *cfg;
};

/*
 * Writes "file:" to err: the file libconfig names (an @include file is
 * named as written, relative to the include folder), else the path.
 */
static int put_file(struct load_ctx *c, const char *file)
{
	if (!file || strcmp(file, c->path) == 0)
		return snprintf(c->err, c->err_len, "%s:", c->path);
	if (file[0] != '/' && c->include_dir)
		return snprintf(c->err, c->err_len, "%s/%s:", c->include_dir, file);
	return snprintf(c->err, c->err_len, "%s:", file);
}

/* "file:line: message" for setting s (or "path: message"); returns -EINVAL. */
__attribute__((format(printf, 3, 4)))
static int fail(struct load_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	unsigned line = s ? config_setting_source_line(s) : 0;
	va_list ap;
	int n;

	if (!c->err_len)
		return -EINVAL;
	n = put_file(c, s ? config_setting_source_file(s) : NULL);
	if (n >= 0 && (size_t)n < c->err_len)
		n += line ? snprintf(c->err + n, c->err_len - (size_t)n, "%u: ", line)
			  : snprintf(c->err + n, c->err_len - (size_t)n, " ");
	if (n >= 0 && (size_t)n < c->err_len) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	default:
		return "of unknown type";
	}
}

/* Refuses any member of `group` not in known[] (NULL-terminated). */
static int check_members(struct load_ctx *c, const config_setting_t *group,
			 const char *where, const char *const *known)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *m = config_setting_get_elem(group, i);
		const char *name = config_setting_name(m);
		char list[256] = "";
		size_t used = 0;
		bool found = false;

		for (const char *const *k = known; *k && !found; k++)
			found = name && strcmp(name, *k) == 0;
		if (found)
			continue;
		for (const char *const *k = known; *k; k++) {
			int n = snprintf(list + used, sizeof(list) - used, "%s%s",
					 k == known ? "" : ", ", *k);
			if (n < 0 || (size_t)n >= sizeof(list) - used)
				break;
			used += (size_t)n;
		}
		return fail(c, m, "unknown setting \"%s\" in %s (known: %s)",
			    name ? name : "?", where, list);
	}
	return 0;
}

/* The member `name` of group, which must be a group itself (or absent). */
static int get_group(struct load_ctx *c, const config_setting_t *parent,
		     const char *name, config_setting_t **out)
{
	config_setting_t *s = config_setting_get_member(parent, name);

	*out = s;
	if (s && config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail(c, s, "%s must be a group { ... }, not %s", name,
			    type_name(config_setting_type(s)));
	return 0;
}

/* A list of groups ( {..}, {..} ), or absent, or an empty array []. */
static int get_group_list(struct load_ctx *c, const config_setting_t *parent,
			  const char *name, const char *example,
			  config_setting_t **out)
{
	config_setting_t *s = config_setting_get_member(parent, name);

	*out = s;
	if (!s)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(s) == 0)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(c, s, "%s must be a list of groups, e.g. %s", name,
			    example);
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, i);

		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(c, e, "%s[%d]: each entry of %s must be a group { ... }, not %s",
				    name, i, name, type_name(config_setting_type(e)));
	}
	return 0;
}

/* An integer member in [min, max]; *out unchanged when absent. */
static int get_uint(struct load_ctx *c, const config_setting_t *group,
		    const char *name, uint64_t min, uint64_t max, uint64_t *out)
{
	config_setting_t *s = config_setting_get_member(group, name);
	long long v;

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return fail(c, s, "%s must be an integer, not %s", name,
			    type_name(config_setting_type(s)));
	v = config_setting_get_int64(s);
	if (v < 0 || (uint64_t)v < min || (uint64_t)v > max)
		return fail(c, s, "%s = %lld is out of range %" PRIu64 "..%" PRIu64,
			    name, v, min, max);
	*out = (uint64_t)v;
	return 0;
}

/* Bounds of get_real() that the range excludes. */
#define OPEN_MIN 1
#define OPEN_MAX 2

/* A number member (float or integer literal) in the range; *out unchanged
 * when absent.  `open` (OPEN_MIN, OPEN_MAX) excludes a bound. */
static int get_real(struct load_ctx *c, const config_setting_t *group,
		    const char *name, double min, double max, int open, double *out)
{
	config_setting_t *s = config_setting_get_member(group, name);
	double v;

	if (!s)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT ||
		 config_setting_type(s) == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else
		return fail(c, s, "%s must be a number, not %s", name,
			    type_name(config_setting_type(s)));
	if (!(v >= min && v <= max) || ((open & OPEN_MIN) && v == min) ||
	    ((open & OPEN_MAX) && v == max)) {
		if (!open)
			return fail(c, s, "%s = %g is out of range %g..%g", name, v,
				    min, max);
		return fail(c, s, "%s = %g is out of range %s%g, %g%s", name, v,
			    (open & OPEN_MIN) ? "(" : "[", min, max,
			    (open & OPEN_MAX) ? ")" : "]");
	}
	*out = v;
	return 0;
}

static int get_double(struct load_ctx *c, const config_setting_t *group,
		      const char *name, double min, double max, double *out)
{
	return get_real(c, group, name, min, max, 0, out);
}

static int get_bool(struct load_ctx *c, const config_setting_t *group,
		    const char *name, bool *out)
{
	config_setting_t *s = config_setting_get_member(group, name);

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(c, s, "%s must be a boolean (true or false), not %s", name,
			    type_name(config_setting_type(s)));
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

/* A string member; *out NULL when absent, or an error when required. */
static int get_string(struct load_ctx *c, const config_setting_t *group,
		      const char *name, bool required, const char *where,
		      const config_setting_t **at, const char **out)
{
	config_setting_t *s = config_setting_get_member(group, name);

	*out = NULL;
	*at = s ? s : group;
	if (!s)
		return required ? fail(c, group, "%s lacks \"%s\"", where, name) : 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(c, s, "%s must be a string, not %s", name,
			    type_name(config_setting_type(s)));
	*out = config_setting_get_string(s);
	return 0;
}

static int get_proto(struct load_ctx *c, const config_setting_t *group,
		     const char *where, enum st_proto *out)
{
	const config_setting_t *at;
	const char *text;
	int rc = get_string(c, group, "protocol", true, where, &at, &text);

	if (rc)
		return rc;
	*out = st_proto_from_name(text);
	if (*out == ST_PROTO_NONE)
		return fail(c, at, "unknown protocol \"%s\" (kafka, mqtt, nats or jsonl)",
			    text);
	return 0;
}

/*
 * A pointer array member into dst[0..max) and *n; *n unchanged when
 * absent.  `limit_note` explains a limit below the array's size.
 */
static int get_pointers(struct load_ctx *c, const config_setting_t *group,
			const char *name, unsigned limit, const char *limit_note,
			char (*dst)[ST_CONFIG_POINTER_MAX + 1], unsigned *n)
{
	config_setting_t *s = config_setting_get_member(group, name);
	int count;

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(c, s, "%s must be an array of JSON pointers, e.g. [\"/user/id\"], not %s",
			    name, type_name(config_setting_type(s)));
	count = config_setting_length(s);
	if (count > (int)limit)
		return fail(c, s, "too many %s: %d (at most %u%s)", name, count,
			    limit, limit_note);
	for (int i = 0; i < count; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		const char *p, *why;

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return fail(c, e, "%s[%d]: %s must hold strings (JSON pointers), not %s",
				    name, i, name, type_name(config_setting_type(e)));
		p = config_setting_get_string(e);
		if (st_config_check_pointer(p, &why))
			return fail(c, e, "%s[%d]: bad JSON pointer \"%s\": %s", name, i,
				    p, why);
		for (int j = 0; j < i; j++)
			if (strcmp(dst[j], p) == 0)
				return fail(c, e, "%s[%d]: duplicate \"%s\"", name, i, p);
		strcpy(dst[i], p);  /* length checked above */
	}
	*n = (unsigned)count;
	return 0;
}

/* ---- loading: the wide-integer scan ---- */

static bool is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '*';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * Checks one number token [s, s+n): true when libconfig 1.5 reads it right
 * (a float, an L-suffixed integer, or an integer that fits in 32 bits).
 */
static bool number_fits(const char *s, size_t n)
{
	bool negative = s[0] == '-', hex;
	uint64_t v = 0, limit;
	size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;

	if (n > i && s[n - 1] == 'L')
		return true;
	hex = n >= i + 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
	if (!hex && memchr(s, '.', n))
		return true;
	if (!hex && (memchr(s, 'e', n) || memchr(s, 'E', n)))
		return true;
	limit = hex ? 0x7fffffffull : (negative ? 0x80000000ull : 0x7fffffffull);
	for (i += hex ? 2 : 0; i < n; i++) {
		unsigned d;

		if (is_digit(s[i]))
			d = (unsigned)(s[i] - '0');
		else if (hex && s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned)(s[i] - 'a' + 10);
		else if (hex && s[i] >= 'A' && s[i] <= 'F')
			d = (unsigned)(s[i] - 'A' + 10);
		else
			return true;  /* not a number libconfig reads: its parser said so */
		v = v * (hex ? 16 : 10) + d;
		if (v > limit)
			return false;
	}
	return true;
}

/*
 * Lexes libconfig text just enough to find number tokens (skipping
 * comments, strings and names).  Returns 0, or -EINVAL with the line and
 * the token of the first integer literal that libconfig 1.5 would wrap.
 */
static int scan_wide_ints(const char *t, size_t len, unsigned *line_out,
			  char *tok, size_t tok_len)
{
	unsigned line = 1;
	size_t i = 0;

	while (i < len) {
		char ch = t[i];

		if (ch == '\n') {
			line++;
			i++;
		} else if (ch == '#' || (ch == '/' && i + 1 < len && t[i + 1] == '/')) {
			while (i < len && t[i] != '\n')
				i++;
		} else if (ch == '/' && i + 1 < len && t[i + 1] == '*') {
			for (i += 2; i < len && !(t[i] == '*' && i + 1 < len && t[i + 1] == '/'); i++)
				line += t[i] == '\n';
			i += 2;
		} else if (ch == '"') {
			for (i++; i < len && t[i] != '"'; i++) {
				if (t[i] == '\\' && i + 1 < len)
					i++;
				line += t[i] == '\n';
			}
			i++;
		} else if (is_digit(ch) || ((ch == '-' || ch == '+' || ch == '.') &&
					    i + 1 < len && (is_digit(t[i + 1]) || t[i + 1] == '.'))) {
			size_t start = i++;

			while (i < len && (is_name_char(t[i]) || t[i] == '.' ||
					   ((t[i] == '-' || t[i] == '+') &&
					    (t[i - 1] == 'e' || t[i - 1] == 'E'))))
				i++;
			if (!number_fits(t + start, i - start)) {
				snprintf(tok, tok_len, "%.*s", (int)(i - start), t + start);
				*line_out = line;
				return -EINVAL;
			}
		} else if (is_name_char(ch)) {
			while (i < len && is_name_char(t[i]))
				i++;
		} else {
			i++;
		}
	}
	return 0;
}

/* Reads the whole file (for the scan); NULL with errno on failure. */
static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *buf = NULL, *grown;

	if (!f)
		return NULL;
	errno = 0;
	for (;;) {
		grown = realloc(buf, cap);
		if (!grown)
			goto out_free;
		buf = grown;
		n += fread(buf + n, 1, cap - n, f);
		if (ferror(f)) {
			if (!errno)
				errno = EIO;
			goto out_free;
		}
		if (n < cap)
			break;
		if (cap > ST_CONFIG_FILE_MAX) {
			errno = EFBIG;
			goto out_free;
		}
		cap *= 2;
	}
	if (n > ST_CONFIG_FILE_MAX) {
		errno = EFBIG;
		goto out_free;
	}
	fclose(f);
	*len = n;
	return buf;
out_free:
	free(buf);
	{
		int saved = errno;

		fclose(f);
		errno = saved;
	}
	return NULL;
}

/* ---- loading: text values ---- */

/*
 * A string member copied into dst[0..cap): 1..cap-1 bytes of UTF-8 text
 * (0 allowed when allow_empty).  dst unchanged and *at NULL when absent,
 * else *at is the setting.
 */
static int get_text(struct load_ctx *c, const config_setting_t *group,
		    const char *name, bool allow_empty, char *dst, size_t cap,
		    const config_setting_t **at)
{
	const config_setting_t *s;
	const char *text;
	size_t len;
	int rc = get_string(c, group, name, false, "", &s, &text);

	*at = NULL;
	if (rc || !text)
		return rc;
	*at = s;
	len = strlen(text);
	if (len >= cap || (len == 0 && !allow_empty))
		return fail(c, s, "%s is %zu bytes (%d..%zu allowed)", name, len,
			    allow_empty ? 0 : 1, cap - 1);
	if (!text_ok((const uint8_t *)text, len))
		return fail(c, s, "%s is not UTF-8 text (invalid bytes or control characters)",
			    name);
	memcpy(dst, text, len + 1);
	return 0;
}

/* get_text() for a path: absolute, or empty when allow_empty. */
static int get_path(struct load_ctx *c, const config_setting_t *group,
		    const char *name, bool allow_empty, char *dst, size_t cap)
{
	const config_setting_t *at;
	int rc = get_text(c, group, name, allow_empty, dst, cap, &at);

	if (!rc && at && dst[0] && dst[0] != '/')
		return fail(c, at, "%s \"%s\" must be an absolute path", name, dst);
	return rc;
}

/* A required entry name: 1..63 bytes of UTF-8 text. */
static int get_entry_name(struct load_ctx *c, const config_setting_t *e,
			  const char *where, char dst[ST_CONFIG_NAME_BYTES],
			  const config_setting_t **at)
{
	const char *text;
	int rc = get_string(c, e, "name", true, where, at, &text);

	if (rc)
		return rc;
	return get_text(c, e, "name", false, dst, ST_CONFIG_NAME_BYTES, at);
}

/* An interface name as the kernel takes it (dev_valid_name): 1..15 bytes,
 * not "." or "..", no '/', ':' or white space; "" when allow_empty. */
static int get_ifname(struct load_ctx *c, const config_setting_t *group,
		      const char *name, char dst[ST_CONFIG_IFNAME_MAX + 1])
{
	const config_setting_t *at;
	int rc = get_text(c, group, name, true, dst, ST_CONFIG_IFNAME_MAX + 1, &at);

	if (rc || !at)
		return rc;
	if (!strcmp(dst, ".") || !strcmp(dst, "..") || strpbrk(dst, "/: \t"))
		return fail(c, at, "%s \"%s\" is not an interface name", name, dst);
	return 0;
}

static bool parse_addr(const char *text, struct st_config_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->bytes) == 1)
		out->af = AF_INET;
	else if (inet_pton(AF_INET6, text, out->bytes) == 1)
		out->af = AF_INET6;
	return out->af != 0;
}

/* 1..65535 in decimal digits only. */
static bool parse_port(const char *text, uint16_t *port)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; is_digit(text[n]) && n < 5; n++)
		v = v * 10 + (unsigned long)(text[n] - '0');
	if (n == 0 || text[n] || v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Splits "HOST:PORT" or "[HOST]:PORT" into host (bracket-free) and port. */
static bool split_host_port(const char *text, char *host, size_t cap,
			    bool *bracketed, uint16_t *port)
{
	const char *colon, *start = text;
	size_t len;

	*bracketed = text[0] == '[';
	if (*bracketed) {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return false;
		start = text + 1;
		colon = close + 1;
		len = (size_t)(close - start);
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return false;
		len = (size_t)(colon - text);
	}
	if (len == 0 || len >= cap)
		return false;
	memcpy(host, start, len);
	host[len] = '\0';
	return parse_port(colon + 1, port);
}

/* "a.b.c.d:port" or "[v6]:port". */
static bool parse_endpoint(const char *text, struct st_config_addr *addr,
			   uint16_t *port)
{
	char host[INET6_ADDRSTRLEN];
	bool bracketed;

	if (!split_host_port(text, host, sizeof(host), &bracketed, port) ||
	    !parse_addr(host, addr))
		return false;
	return bracketed == (addr->af == AF_INET6);
}

/* "host:port" for a listener: an IPv4 address, [IPv6] or a DNS name. */
static bool host_port_ok(const char *text)
{
	struct st_config_addr addr;
	char host[256];
	bool bracketed, numeric = true;
	uint16_t port;

	if (!split_host_port(text, host, sizeof(host), &bracketed, &port))
		return false;
	if (bracketed)
		return inet_pton(AF_INET6, host, addr.bytes) == 1;
	if (host[0] == '-' || host[0] == '.')
		return false;
	for (const char *h = host; *h; h++) {
		bool alpha = (*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z');

		if (!alpha && !is_digit(*h) && *h != '-' && *h != '.')
			return false;
		numeric &= !alpha && *h != '-';
	}
	return !numeric || inet_pton(AF_INET, host, addr.bytes) == 1;
}

/* "addr/len" with the bits past len zero (the kernel refuses others). */
static bool parse_prefix(const char *text, struct st_config_addr *addr,
			 unsigned *len)
{
	const char *slash = strchr(text, '/');
	char host[INET6_ADDRSTRLEN];
	unsigned bits = 0, max;
	size_t hl, n;

	if (!slash || (hl = (size_t)(slash - text)) >= sizeof(host))
		return false;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (!parse_addr(host, addr))
		return false;
	max = addr->af == AF_INET ? 32 : 128;
	for (n = 1; is_digit(slash[n]) && n <= 3; n++)
		bits = bits * 10 + (unsigned)(slash[n] - '0');
	if (n == 1 || slash[n] || bits > max)
		return false;
	for (unsigned b = bits; b < max; b++)
		if (addr->bytes[b / 8] & (0x80u >> (b % 8)))
			return false;
	*len = bits;
	return true;
}

static int hex_digit(char ch)
{
	if (is_digit(ch))
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "xx:xx:xx:xx:xx:xx", hex digits of either case. */
static bool parse_mac(const char *text, uint8_t mac[6])
{
	if (strlen(text) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(text[3 * i]), lo = hex_digit(text[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && text[3 * i + 2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

/* ---- loading: sections ---- */

static int parse_defaults(struct load_ctx *c, const config_setting_t *root)
{
	static const char *const known[] = {
		"key_fields", "numeric_fields", "hll_precision", "heavy_hitters",
		"quantile_alpha", "epoch_ms", "ticks_per_epoch",
		"max_streams_per_core", "flow_table_entries",
		"flow_idle_timeout_ms", "reassembly_bytes_per_core",
		"capacity_rps", NULL,
	};
	struct st_config_params *p = &c->cfg->params;
	struct st_config_fields *f = &c->cfg->default_fields;
	uint64_t v[8] = {
		p->hll_precision, p->heavy_hitters, p->epoch_ms, p->ticks_per_epoch,
		p->max_streams_per_core, p->flow_table_entries,
		p->flow_idle_timeout_ms, p->reassembly_bytes_per_core,
	};
	config_setting_t *sec, *ticks;
	int rc;

	rc = get_group(c, root, "defaults", &sec);
	if (rc || !sec)
		return rc;
	rc = check_members(c, sec, "defaults", known);
	if (!rc)
		rc = get_pointers(c, sec, "key_fields", ST_CONFIG_KEY_FIELDS_MAX - 1,
				  ": unmatched Kafka streams also key on the record key",
				  f->keys, &f->n_keys);
	if (!rc)
		rc = get_pointers(c, sec, "numeric_fields", ST_CONFIG_NUMERIC_FIELDS_MAX,
				  "", f->numerics, &f->n_numerics);
	if (!rc)
		rc = get_uint(c, sec, "hll_precision", ST_HLL_P_MIN, ST_HLL_P_MAX, &v[0]);
	if (!rc)
		rc = get_uint(c, sec, "heavy_hitters", ST_HH_K_MIN, ST_HH_K_MAX, &v[1]);
	if (!rc)
		rc = get_double(c, sec, "quantile_alpha", ALPHA_MIN, ALPHA_MAX,
				&p->quantile_alpha);
	if (!rc)
		rc = get_uint(c, sec, "epoch_ms", EPOCH_MS_MIN, EPOCH_MS_MAX, &v[2]);
	if (!rc)
		rc = get_uint(c, sec, "ticks_per_epoch", 1, ST_TICKS_MAX, &v[3]);
	if (!rc)
		rc = get_uint(c, sec, "max_streams_per_core", 1, STREAMS_PER_CORE_MAX, &v[4]);
	if (!rc)
		rc = get_uint(c, sec, "flow_table_entries", FLOW_ENTRIES_MIN,
			      FLOW_ENTRIES_MAX, &v[5]);
	if (!rc)
		rc = get_uint(c, sec, "flow_idle_timeout_ms", IDLE_MS_MIN, IDLE_MS_MAX, &v[6]);
	if (!rc)
		rc = get_uint(c, sec, "reassembly_bytes_per_core", REASM_BYTES_MIN,
			      REASM_BYTES_MAX, &v[7]);
	if (!rc)
		rc = get_double(c, sec, "capacity_rps", 0, ST_CONFIG_RATE_MAX,
				&p->capacity_rps);
	if (rc)
		return rc;
	/* The rate ticks split the epoch evenly in ns (dataplane/sketch/ticks.h). */
	if ((v[2] * 1000000u) % v[3]) {
		ticks = config_setting_get_member(sec, "ticks_per_epoch");
		return fail(c, ticks ? ticks : config_setting_get_member(sec, "epoch_ms"),
			    "ticks_per_epoch = %" PRIu64 " does not divide the epoch (%" PRIu64
			    " ms = %" PRIu64 " ns) evenly", v[3], v[2], v[2] * 1000000u);
	}
	p->hll_precision = (unsigned)v[0];
	p->heavy_hitters = (unsigned)v[1];
	p->epoch_ms = (uint32_t)v[2];
	p->ticks_per_epoch = (unsigned)v[3];
	p->max_streams_per_core = (unsigned)v[4];
	p->flow_table_entries = (uint32_t)v[5];
	p->flow_idle_timeout_ms = (uint32_t)v[6];
	p->reassembly_bytes_per_core = v[7];
	return 0;
}

static bool tcp_only(enum st_proto proto)
{
	return proto == ST_PROTO_KAFKA || proto == ST_PROTO_MQTT ||
	       proto == ST_PROTO_NATS;
}

static int parse_transport(const char *text, int *out)
{
	if (strcmp(text, "tcp") == 0)
		*out = ST_CONFIG_TCP;
	else if (strcmp(text, "udp") == 0)
		*out = ST_CONFIG_UDP;
	else if (strcmp(text, "both") == 0)
		*out = ST_CONFIG_BOTH;
	else
		return -EINVAL;
	return 0;
}

/* One entry of ports.map; seen[t][port] holds the line that mapped it. */
static int parse_port_entry(struct load_ctx *c, const config_setting_t *e,
			    unsigned short (*seen)[PORTS])
{
	static const char *const known[] = { "port", "protocol", "transport", NULL };
	const config_setting_t *at;
	const char *text;
	enum st_proto proto;
	uint64_t port = 0;
	int transport, rc;

	rc = check_members(c, e, "a ports.map entry", known);
	if (!rc && !config_setting_get_member(e, "port"))
		rc = fail(c, e, "ports.map entry lacks \"port\"");
	if (!rc)
		rc = get_uint(c, e, "port", 1, 65535, &port);
	if (!rc)
		rc = get_proto(c, e, "ports.map entry", &proto);
	if (!rc)
		rc = get_string(c, e, "transport", false, "", &at, &text);
	if (rc)
		return rc;
	transport = proto == ST_PROTO_JSONL ? ST_CONFIG_BOTH : ST_CONFIG_TCP;
	if (text && parse_transport(text, &transport))
		return fail(c, at, "unknown transport \"%s\" (tcp, udp or both)", text);
	if (tcp_only(proto) && (transport & ST_CONFIG_UDP))
		return fail(c, at, "%s runs over TCP only", st_proto_name(proto));
	for (int t = T_TCP; t <= T_UDP; t++) {
		if (!(transport & (t == T_TCP ? ST_CONFIG_TCP : ST_CONFIG_UDP)))
			continue;
		if (seen[t][port])
			return fail(c, e, "port %" PRIu64 "/%s is already mapped at line %u",
				    port, t == T_TCP ? "tcp" : "udp", seen[t][port]);
		seen[t][port] = config_setting_source_line(e) ? config_setting_source_line(e) : 1;
	}
	map_port(c->cfg, (uint16_t)port, transport, proto);
	return 0;
}

static int parse_ports(struct load_ctx *c, const config_setting_t *root)
{
	static const char *const known[] = { "map", NULL };
	unsigned short (*seen)[PORTS];
	config_setting_t *sec, *map;
	int rc;

	rc = get_group(c, root, "ports", &sec);
	if (rc || !sec)
		return rc;
	rc = check_members(c, sec, "ports", known);
	if (!rc)
		rc = get_group_list(c, sec, "map",
				    "map = ( { port = 9092; protocol = \"kafka\"; } );", &map);
	if (rc || !map)
		return rc;
	seen = calloc(2, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	memset(c->cfg->port_proto, 0, sizeof(c->cfg->port_proto));
	for (int i = 0; !rc && i < config_setting_length(map); i++)
		rc = parse_port_entry(c, config_setting_get_elem(map, i), seen);
	free(seen);
	return rc;
}

static int check_stream_name(struct load_ctx *c, const config_setting_t *at,
			     const char *name, size_t index)
{
	size_t len = strlen(name);

	if (len == 0 || len >= ST_CONFIG_NAME_BYTES)
		return fail(c, at, "stream name \"%s\" is %zu bytes (1..%u allowed)",
			    name, len, ST_CONFIG_NAME_BYTES - 1);
	if (!text_ok((const uint8_t *)name, len))
		return fail(c, at, "stream name is not UTF-8 text (invalid bytes or control characters)");
	for (int p = ST_PROTO_NONE + 1; p < ST_PROTO__COUNT; p++) {
		const char *pn = st_proto_name((enum st_proto)p);
		size_t pl = strlen(pn);

		if (strncmp(name, pn, pl) == 0 && name[pl] == ':')
			return fail(c, at, "stream name \"%s\" starts with \"%s:\", which names unmatched streams",
				    name, pn);
	}
	for (size_t j = 0; j < index; j++)
		if (strcmp(c->cfg->streams[j].name, name) == 0)
			return fail(c, at, "duplicate stream name \"%s\" (first at line %u)",
				    name, c->cfg->streams[j].line);
	return 0;
}

static int parse_criticality(const char *text, enum st_criticality *out)
{
	for (int k = ST_CRIT_LOW; k <= ST_CRIT_HIGH; k++)
		if (strcmp(text, crit_names[k]) == 0) {
			*out = (enum st_criticality)k;
			return 0;
		}
	return -EINVAL;
}

static int parse_rule(struct load_ctx *c, const config_setting_t *e, size_t index)
{
	static const char *const known[] = {
		"name", "protocol", "match", "key_fields", "numeric_fields",
		"criticality", "capacity_rps", "pool", "schema", NULL,
	};
	struct st_config_stream *r = &c->cfg->streams[index];
	const config_setting_t *at;
	const char *text;
	int rc;

	r->line = config_setting_source_line(e);
	r->fields = c->cfg->default_fields;  /* inherited unless set */
	r->criticality = ST_CRIT_MEDIUM;
	r->capacity_rps = c->cfg->params.capacity_rps;
	r->schema = true;
	rc = check_members(c, e, "a streams.rules entry", known);
	if (!rc)
		rc = get_string(c, e, "name", true, "streams.rules entry", &at, &text);
	if (!rc)
		rc = check_stream_name(c, at, text, index);
	if (rc)
		return rc;
	strcpy(r->name, text);  /* length checked */
	rc = get_proto(c, e, "streams.rules entry", &r->proto);
	if (!rc)
		rc = get_string(c, e, "match", false, "", &at, &text);
	if (rc)
		return rc;
	if (!text)
		text = "*";
	if (!*text || strlen(text) > ST_CONFIG_MATCH_MAX)
		return fail(c, at, "match must be a glob of 1..%u bytes", ST_CONFIG_MATCH_MAX);
	strcpy(r->match, text);
	rc = get_pointers(c, e, "key_fields",
			  ST_CONFIG_KEY_FIELDS_MAX - (r->proto == ST_PROTO_KAFKA),
			  r->proto == ST_PROTO_KAFKA ? ": a Kafka stream also keys on the record key" : "",
			  r->fields.keys, &r->fields.n_keys);
	if (!rc)
		rc = get_pointers(c, e, "numeric_fields", ST_CONFIG_NUMERIC_FIELDS_MAX,
				  "", r->fields.numerics, &r->fields.n_numerics);
	if (!rc)
		rc = get_string(c, e, "criticality", false, "", &at, &text);
	if (rc)
		return rc;
	if (text && parse_criticality(text, &r->criticality))
		return fail(c, at, "unknown criticality \"%s\" (low, medium or high)", text);
	rc = get_double(c, e, "capacity_rps", 0, ST_CONFIG_RATE_MAX, &r->capacity_rps);
	if (!rc)
		rc = get_bool(c, e, "schema", &r->schema);
	if (!rc)
		rc = get_text(c, e, "pool", true, r->pool, sizeof(r->pool), &at);
	if (rc || !r->pool[0])
		return rc;
	if (!st_config_pool_find(c->cfg, r->pool))
		return fail(c, at, "pool \"%s\" is not in pools", r->pool);
	return 0;
}

static int parse_streams(struct load_ctx *c, const config_setting_t *root)
{
	static const char *const known[] = { "rules", NULL };
	config_setting_t *sec, *rules;
	int rc, n;

	rc = get_group(c, root, "streams", &sec);
	if (rc || !sec)
		return rc;
	rc = check_members(c, sec, "streams", known);
	if (!rc)
		rc = get_group_list(c, sec, "rules",
				    "rules = ( { name = \"orders\"; protocol = \"kafka\"; match = \"orders*\"; } );",
				    &rules);
	if (rc || !rules)
		return rc;
	n = config_setting_length(rules);
	if (n > ST_CONFIG_STREAMS_MAX)
		return fail(c, rules, "too many stream rules: %d (at most %u)", n,
			    ST_CONFIG_STREAMS_MAX);
	if (n == 0)
		return 0;
	c->cfg->streams = calloc((size_t)n, sizeof(*c->cfg->streams));
	if (!c->cfg->streams)
		return -ENOMEM;
	for (int i = 0; !rc && i < n; i++) {
		rc = parse_rule(c, config_setting_get_elem(rules, i), (size_t)i);
		c->cfg->n_streams = (size_t)i + 1;
	}
	return rc;
}

/* ---- loading: pools and backends ---- */

static int parse_pool(struct load_ctx *c, const config_setting_t *e, size_t index)
{
	static const char *const known[] = {
		"name", "memory_class", "skew_handling", "backend_capacity_rps",
		"min_backends", "max_backends", NULL,
	};
	struct st_config_pool *p = &c->cfg->pools[index];
	uint64_t min = 1, max = 64;
	const config_setting_t *at;
	const char *text;
	int rc;

	p->line = config_setting_source_line(e);
	rc = check_members(c, e, "a pools entry", known);
	if (!rc)
		rc = get_entry_name(c, e, "pools entry", p->name, &at);
	if (rc)
		return rc;
	for (size_t j = 0; j < index; j++)
		if (strcmp(c->cfg->pools[j].name, p->name) == 0)
			return fail(c, at, "duplicate pool name \"%s\" (first at line %u)",
				    p->name, c->cfg->pools[j].line);
	rc = get_string(c, e, "memory_class", false, "", &at, &text);
	if (rc)
		return rc;
	if (text && !strcmp(text, "high"))
		p->memory_class = ST_MEM_HIGH;
	else if (text && strcmp(text, "normal"))
		return fail(c, at, "unknown memory_class \"%s\" (normal or high)", text);
	rc = get_bool(c, e, "skew_handling", &p->skew_handling);
	if (!rc)
		rc = get_double(c, e, "backend_capacity_rps", 0, ST_CONFIG_RATE_MAX,
				&p->backend_capacity_rps);
	if (!rc)
		rc = get_uint(c, e, "min_backends", 0, ST_CONFIG_BACKENDS_MAX, &min);
	if (!rc)
		rc = get_uint(c, e, "max_backends", 1, ST_CONFIG_BACKENDS_MAX, &max);
	if (rc)
		return rc;
	if (min > max) {
		at = config_setting_get_member(e, "min_backends");
		return fail(c, at ? at : config_setting_get_member(e, "max_backends"),
			    "min_backends = %" PRIu64 " is more than max_backends = %" PRIu64,
			    min, max);
	}
	p->min_backends = (unsigned)min;
	p->max_backends = (unsigned)max;
	return 0;
}

static int parse_pools(struct load_ctx *c, const config_setting_t *root)
{
	config_setting_t *list;
	int rc, n;

	rc = get_group_list(c, root, "pools",
			    "pools = ( { name = \"general\"; memory_class = \"normal\"; } );",
			    &list);
	if (rc || !list || !(n = config_setting_length(list)))
		return rc;
	if (n > (int)ST_CONFIG_POOLS_MAX)
		return fail(c, list, "too many pools: %d (at most %u)", n,
			    ST_CONFIG_POOLS_MAX);
	c->cfg->pools = calloc((size_t)n, sizeof(*c->cfg->pools));
	if (!c->cfg->pools)
		return -ENOMEM;
	for (int i = 0; !rc && i < n; i++) {
		rc = parse_pool(c, config_setting_get_elem(list, i), (size_t)i);
		c->cfg->n_pools = (size_t)i + 1;
	}
	return rc;
}

static int parse_backend(struct load_ctx *c, const config_setting_t *e, size_t index)
{
	static const char *const known[] = {
		"name", "pool", "address", "mac", "weight", "standby",
		"capacity_rps", NULL,
	};
	struct st_config_backend *b = &c->cfg->backends[index];
	struct st_config_pool *pool = NULL;
	const config_setting_t *at;
	const char *text;
	uint64_t weight = 1;
	int rc;

	b->line = config_setting_source_line(e);
	rc = check_members(c, e, "a backends entry", known);
	if (!rc)
		rc = get_entry_name(c, e, "backends entry", b->name, &at);
	if (rc)
		return rc;
	for (size_t j = 0; j < index; j++)
		if (strcmp(c->cfg->backends[j].name, b->name) == 0)
			return fail(c, at, "duplicate backend name \"%s\" (first at line %u)",
				    b->name, c->cfg->backends[j].line);
	rc = get_string(c, e, "pool", true, "backends entry", &at, &text);
	if (rc)
		return rc;
	for (size_t j = 0; j < c->cfg->n_pools && !pool; j++)
		if (!strcmp(c->cfg->pools[j].name, text)) {
			pool = &c->cfg->pools[j];
			b->pool = (unsigned)j;
		}
	if (!pool)
		return fail(c, at, "pool \"%s\" is not in pools", text);
	rc = get_string(c, e, "address", true, "backends entry", &at, &text);
	if (rc)
		return rc;
	if (!parse_addr(text, &b->address))
		return fail(c, at, "address \"%s\" is not an IPv4 or IPv6 address", text);
	rc = get_string(c, e, "mac", false, "", &at, &text);
	if (rc)
		return rc;
	if (text && !parse_mac(text, b->mac))
		return fail(c, at, "mac \"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)",
			    text);
	b->has_mac = text != NULL;
	b->capacity_rps = pool->backend_capacity_rps;
	rc = get_uint(c, e, "weight", 1, ST_CONFIG_WEIGHT_MAX, &weight);
	if (!rc)
		rc = get_bool(c, e, "standby", &b->standby);
	if (!rc)
		rc = get_double(c, e, "capacity_rps", 0, ST_CONFIG_RATE_MAX,
				&b->capacity_rps);
	b->weight = (uint32_t)weight;
	pool->n_backends++;
	return rc;
}

static int parse_backends(struct load_ctx *c, const config_setting_t *root)
{
	config_setting_t *list;
	int rc, n;

	rc = get_group_list(c, root, "backends",
			    "backends = ( { name = \"b1\"; pool = \"general\"; address = \"10.0.0.2\"; } );",
			    &list);
	if (rc || !list || !(n = config_setting_length(list)))
		return rc;
	if (n > (int)ST_CONFIG_BACKENDS_MAX)
		return fail(c, list, "too many backends: %d (at most %u)", n,
			    ST_CONFIG_BACKENDS_MAX);
	c->cfg->backends = calloc((size_t)n, sizeof(*c->cfg->backends));
	if (!c->cfg->backends)
		return -ENOMEM;
	for (int i = 0; !rc && i < n; i++) {
		rc = parse_backend(c, config_setting_get_elem(list, i), (size_t)i);
		c->cfg->n_backends = (size_t)i + 1;
	}
	return rc;
}

/* ---- loading: control-plane sections ---- */

/* A section group: NULL (left out) or checked against known[]. */
static int get_section(struct load_ctx *c, const config_setting_t *parent,
		       const char *name, const char *where,
		       const char *const *known, config_setting_t **out)
{
	int rc = get_group(c, parent, name, out);

	if (rc || !*out)
		return rc;
	return check_members(c, *out, where, known);
}

static int parse_thresholds(struct load_ctx *c, const config_setting_t *root)
{
	static const char *const known[] = { "low", "medium", "high", NULL };
	static const char *const levels[] = { "medium", "high", NULL };
	config_setting_t *sec, *g;
	int rc = get_section(c, root, "thresholds", "thresholds", known, &sec);

	for (int k = ST_CRIT_LOW; !rc && sec && k <= ST_CRIT_HIGH; k++) {
		struct st_config_threshold *t = &c->cfg->thresholds[k];
		char where[32];

		snprintf(where, sizeof(where), "thresholds.%s", crit_names[k]);
		rc = get_section(c, sec, crit_names[k], where, levels, &g);
		if (rc || !g)
			continue;
		rc = get_real(c, g, "medium", 0, 1, OPEN_MIN | OPEN_MAX, &t->medium);
		if (!rc)
			rc = get_real(c, g, "high", 0, 1, OPEN_MIN, &t->high);
		if (!rc && !(t->medium < t->high)) {
			config_setting_t *at = config_setting_get_member(g, "high");

			rc = fail(c, at ? at : config_setting_get_member(g, "medium"),
				  "%s: medium = %g must be below high = %g", where,
				  t->medium, t->high);
		}
	}
	return rc;
}

static int parse_detectors(struct load_ctx *c, const config_setting_t *root)
{
	static const char *const known[] = {
		"cusum_drift", "cusum_threshold", "bocpd_hazard", "bocpd_max_run",
		"iforest_trees", "iforest_sample", "model_refresh_s",
		"forecast_horizon_s", "season_s", "warmup_epochs", NULL,
	};
	struct st_config_detectors *d = &c->cfg->detectors;
	uint64_t v[6] = {
		d->bocpd_max_run, d->iforest_trees, d->iforest_sample,
		d->model_refresh_s, d->forecast_horizon_s, d->warmup_epochs,
	};
	uint64_t season = d->season_s;
	config_setting_t *sec;
	int rc = get_section(c, root, "detectors", "detectors", known, &sec);

	if (rc || !sec)
		return rc;
	rc = get_real(c, sec, "cusum_drift", 0, 10, 0, &d->cusum_drift);
	if (!rc)
		rc = get_real(c, sec, "cusum_threshold", 0, 100, OPEN_MIN,
			      &d->cusum_threshold);
	if (!rc)
		rc = get_real(c, sec, "bocpd_hazard", 0, 1, OPEN_MIN | OPEN_MAX,
			      &d->bocpd_hazard);
	if (!rc)
		rc = get_uint(c, sec, "bocpd_max_run", 1, 100000, &v[0]);
	if (!rc)
		rc = get_uint(c, sec, "iforest_trees", 1, 1000, &v[1]);
	if (!rc)
		rc = get_uint(c, sec, "iforest_sample", 2, 65536, &v[2]);
	if (!rc)
		rc = get_uint(c, sec, "model_refresh_s", 10, 604800, &v[3]);
	if (!rc)
		rc = get_uint(c, sec, "forecast_horizon_s", 1, 86400, &v[4]);
	if (!rc)
		rc = get_uint(c, sec, "warmup_epochs", 1, 100000, &v[5]);
	if (!rc)
		rc = get_uint(c, sec, "season_s", 0, 2419200, &season);
	if (rc)
		return rc;
	if (season && season < 60)
		return fail(c, config_setting_get_member(sec, "season_s"),
			    "season_s = %" PRIu64 " is out of range: 0 (none) or 60..2419200",
			    season);
	d->bocpd_max_run = (unsigned)v[0];
	d->iforest_trees = (unsigned)v[1];
	d->iforest_sample = (unsigned)v[2];
	d->model_refresh_s = (uint32_t)v[3];
	d->forecast_horizon_s = (uint32_t)v[4];
	d->warmup_epochs = (unsigned)v[5];
	d->season_s = (uint32_t)season;
	return 0;
}

static int parse_retention(struct load_ctx *c, const config_setting_t *root)
{
	static const char *const known[] = {
		"profiles_s", "profiles_bytes", "fine_s", "coarse_step_s",
		"coarse_s", "disk_bytes", NULL,
	};
	struct st_config_retention *r = &c->cfg->retention;
	uint64_t v[6] = {
		r->profiles_s, r->profiles_bytes, r->fine_s, r->coarse_step_s,
		r->coarse_s, r->disk_bytes,
	};
	config_setting_t *sec, *at;
	int rc = get_section(c, root, "retention", "retention", known, &sec);

	if (rc || !sec)
		return rc;
	rc = get_uint(c, sec, "profiles_s", 60, 86400, &v[0]);
	if (!rc)
		rc = get_uint(c, sec, "profiles_bytes", 1ull << 20, 1ull << 40, &v[1]);
	if (!rc)
		rc = get_uint(c, sec, "fine_s", 60, 1ull << 31, &v[2]);
	if (!rc)
		rc = get_uint(c, sec, "coarse_step_s", 10, 86400, &v[3]);
	if (!rc)
		rc = get_uint(c, sec, "coarse_s", 3600, 1ull << 31, &v[4]);
	if (!rc)
		rc = get_uint(c, sec, "disk_bytes", 1ull << 20, 1ull << 44, &v[5]);
	if (rc)
		return rc;
	at = config_setting_get_member(sec, "coarse_s");
	if (v[3] > v[4])
		return fail(c, at ? at : config_setting_get_member(sec, "coarse_step_s"),
			    "coarse_step_s = %" PRIu64 " is longer than coarse_s = %" PRIu64,
			    v[3], v[4]);
	if (v[2] > v[4])
		return fail(c, at ? at : config_setting_get_member(sec, "fine_s"),
			    "fine_s = %" PRIu64 " is longer than coarse_s = %" PRIu64
			    " (the coarse tier outlasts the fine one)", v[2], v[4]);
	r->profiles_s = (uint32_t)v[0];
	r->profiles_bytes = v[1];
	r->fine_s = (uint32_t)v[2];
	r->coarse_step_s = (uint32_t)v[3];
	r->coarse_s = (uint32_t)v[4];
	r->disk_bytes = v[5];
	return 0;
}

static int parse_control(struct load_ctx *c, const config_setting_t *root)
{
	static const char *const known[] = {
		"instance", "state_dir", "socket_path", "event_log", "prometheus",
		NULL,
	};
	struct st_config_control *ctl = &c->cfg->control;
	char shm[ST_RING_SHM_NAME_MAX];
	const config_setting_t *at;
	config_setting_t *sec;
	int rc = get_section(c, root, "control", "control", known, &sec);

	if (rc || !sec)
		return rc;
	rc = get_text(c, sec, "instance", false, ctl->instance, sizeof(ctl->instance),
		      &at);
	if (!rc && at && st_ring_shm_name(shm, sizeof(shm), ctl->instance))
		return fail(c, at, "instance \"%s\" must be 1..%u bytes of [A-Za-z0-9_-]",
			    ctl->instance, ST_RING_INSTANCE_MAX);
	if (!rc)
		rc = get_path(c, sec, "state_dir", false, ctl->state_dir,
			      sizeof(ctl->state_dir));
	if (!rc)
		rc = get_path(c, sec, "socket_path", false, ctl->socket_path,
			      sizeof(ctl->socket_path));
	if (!rc)
		rc = get_path(c, sec, "event_log", true, ctl->event_log,
			      sizeof(ctl->event_log));
	if (!rc)
		rc = get_text(c, sec, "prometheus", true, ctl->prometheus,
			      sizeof(ctl->prometheus), &at);
	if (!rc && at && ctl->prometheus[0] && !host_port_ok(ctl->prometheus))
		return fail(c, at, "prometheus \"%s\" is not HOST:PORT (an IPv4 address, [IPv6] or a host name; port 1..65535), or \"\" for off",
			    ctl->prometheus);
	return rc;
}

static int parse_nexthop(struct load_ctx *c, const config_setting_t *parent)
{
	static const char *const known[] = {
		"enabled", "group_id", "resilient", "route", "table", NULL,
	};
	static const char *const res_known[] = { "buckets", "idle_timer_s", NULL };
	struct st_config_nexthop *nh = &c->cfg->actuators.nexthop;
	uint64_t v[4] = {
		nh->group_id, nh->resilient.buckets, nh->resilient.idle_timer_s,
		nh->table,
	};
	const config_setting_t *at;
	config_setting_t *sec, *res;
	const char *text;
	int rc = get_section(c, parent, "nexthop", "actuators.nexthop", known, &sec);

	if (rc || !sec)
		return rc;
	rc = get_bool(c, sec, "enabled", &nh->enabled);
	if (!rc)
		rc = get_uint(c, sec, "group_id", 1,
			      UINT32_MAX - ST_CONFIG_BACKENDS_MAX - 1, &v[0]);
	if (!rc)
		rc = get_section(c, sec, "resilient", "actuators.nexthop.resilient",
				 res_known, &res);
	if (!rc && res)
		rc = get_uint(c, res, "buckets", 0, 65535, &v[1]);
	if (!rc && res)
		rc = get_uint(c, res, "idle_timer_s", 0, 3600, &v[2]);
	if (!rc)
		rc = get_uint(c, sec, "table", 1, UINT32_MAX, &v[3]);
	if (!rc)
		rc = get_string(c, sec, "route", false, "", &at, &text);
	if (rc)
		return rc;
	if (text && !parse_prefix(text, &nh->route, &nh->route_prefix_len))
		return fail(c, at, "route \"%s\" is not a prefix ADDRESS/LENGTH with the bits past LENGTH zero",
			    text);
	nh->group_id = (uint32_t)v[0];
	nh->resilient.buckets = (unsigned)v[1];
	nh->resilient.idle_timer_s = (uint32_t)v[2];
	nh->table = (uint32_t)v[3];
	return 0;
}

static int parse_xdp_lb(struct load_ctx *c, const config_setting_t *parent)
{
	static const char *const known[] = {
		"enabled", "interface", "vip", "transport", "table_size", "forward",
		"egress_interface", "ipip_source", "pool", NULL,
	};
	struct st_config_xdp_lb *x = &c->cfg->actuators.xdp_lb;
	uint64_t table = x->table_size;
	const config_setting_t *at;
	config_setting_t *sec;
	const char *text;
	int transport, rc = get_section(c, parent, "xdp_lb", "actuators.xdp_lb",
					known, &sec);

	if (rc || !sec)
		return rc;
	rc = get_bool(c, sec, "enabled", &x->enabled);
	if (!rc)
		rc = get_ifname(c, sec, "interface", x->interface);
	if (!rc)
		rc = get_ifname(c, sec, "egress_interface", x->egress_interface);
	if (!rc)
		rc = get_string(c, sec, "vip", false, "", &at, &text);
	if (rc)
		return rc;
	if (text && !parse_endpoint(text, &x->vip, &x->vip_port))
		return fail(c, at, "vip \"%s\" is not ADDRESS:PORT (\"203.0.113.10:9092\", \"[2001:db8::10]:9092\")",
			    text);
	rc = get_string(c, sec, "transport", false, "", &at, &text);
	if (rc)
		return rc;
	if (text && parse_transport(text, &transport))
		return fail(c, at, "unknown transport \"%s\" (tcp, udp or both)", text);
	if (text)
		x->transport = (uint8_t)transport;
	rc = get_text(c, sec, "pool", true, x->pool, sizeof(x->pool), &at);
	if (rc)
		return rc;
	at = config_setting_get_member(sec, "table_size");
	if (at && config_setting_type(at) == CONFIG_TYPE_STRING) {
		if (strcmp(config_setting_get_string(at), "auto"))
			return fail(c, at, "table_size = \"%s\" is neither \"auto\" nor a prime",
				    config_setting_get_string(at));
	} else if (at) {
		rc = get_uint(c, sec, "table_size", 3, ST_CONFIG_MAGLEV_TABLE_MAX, &table);
		if (rc)
			return rc;
		if (!is_prime((uint32_t)table))
			return fail(c, at, "table_size = %" PRIu64 " is not a prime (a Maglev "
				    "table's size is)", table);
		x->table_size = (uint32_t)table;
		x->table_size_auto = false;
	}
	rc = get_string(c, sec, "forward", false, "", &at, &text);
	if (rc)
		return rc;
	if (text) {
		int f = ST_XDP_FWD_TX;

		while (f <= ST_XDP_FWD_IPIP && strcmp(text, forward_names[f]))
			f++;
		if (f > ST_XDP_FWD_IPIP)
			return fail(c, at, "unknown forward \"%s\" (tx, redirect or ipip)", text);
		x->forward = (enum st_xdp_forward)f;
	}
	rc = get_string(c, sec, "ipip_source", false, "", &at, &text);
	if (!rc && text && !parse_addr(text, &x->ipip_source))
		return fail(c, at, "ipip_source \"%s\" is not an IPv4 or IPv6 address", text);
	return rc;
}

static int parse_hook(struct load_ctx *c, const config_setting_t *parent)
{
	static const char *const known[] = { "command", "timeout_ms", NULL };
	struct st_config_hook *h = &c->cfg->actuators.hook;
	uint64_t timeout = h->timeout_ms;
	config_setting_t *sec, *cmd;
	int rc = get_section(c, parent, "hook", "actuators.hook", known, &sec), n;

	if (rc || !sec)
		return rc;
	rc = get_uint(c, sec, "timeout_ms", 1, 600000, &timeout);
	if (rc)
		return rc;
	h->timeout_ms = (uint32_t)timeout;
	cmd = config_setting_get_member(sec, "command");
	if (!cmd)
		return 0;
	if (config_setting_type(cmd) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(cmd) != CONFIG_TYPE_LIST)
		return fail(c, cmd, "command must be an array of strings, e.g. [\"/usr/local/bin/provision\", \"--pool\"], not %s",
			    type_name(config_setting_type(cmd)));
	n = config_setting_length(cmd);
	if (n > ST_CONFIG_HOOK_ARGS_MAX)
		return fail(c, cmd, "too many command words: %d (at most %u)", n,
			    ST_CONFIG_HOOK_ARGS_MAX);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(cmd, i);
		const char *word;
		size_t len;

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return fail(c, e, "command[%d]: command must hold strings, not %s",
				    i, type_name(config_setting_type(e)));
		word = config_setting_get_string(e);
		len = strlen(word);
		if (len > ST_CONFIG_PATH_MAX || (i == 0 && word[0] != '/') ||
		    !text_ok((const uint8_t *)word, len))
			return fail(c, e, "command[%d]: \"%s\" must be %s of at most %u bytes of UTF-8 text",
				    i, word, i == 0 ? "an absolute path" : "a word",
				    ST_CONFIG_PATH_MAX);
		memcpy(h->argv[i], word, len + 1);
	}
	h->argc = (unsigned)n;
	return 0;
}

static int parse_actuators(struct load_ctx *c, const config_setting_t *root)
{
	static const char *const known[] = {
		"dry_run", "nexthop", "xdp_lb", "hook", NULL,
	};
	config_setting_t *sec;
	int rc = get_section(c, root, "actuators", "actuators", known, &sec);

	if (rc || !sec)
		return rc;
	rc = get_bool(c, sec, "dry_run", &c->cfg->actuators.dry_run);
	if (!rc)
		rc = parse_nexthop(c, sec);
	if (!rc)
		rc = parse_xdp_lb(c, sec);
	if (!rc)
		rc = parse_hook(c, sec);
	return rc;
}

static int parse_policy(struct load_ctx *c, const config_setting_t *root)
{
	static const char *const known[] = {
		"cooldown_s", "hysteresis", "high_cardinality", "skew_top1_share",
		"scale_up_utilization", "scale_down_utilization",
		"retransmissions_per_s_max", "zero_windows_per_s_max", "latency_p99_ms_max",
		NULL,
	};
	struct st_config_policy *p = &c->cfg->policy;
	uint64_t cooldown = p->cooldown_s;
	config_setting_t *sec, *at;
	int rc = get_section(c, root, "policy", "policy", known, &sec);

	if (rc || !sec)
		return rc;
	rc = get_uint(c, sec, "cooldown_s", 0, 86400, &cooldown);
	if (!rc)
		rc = get_real(c, sec, "hysteresis", 0, 0.5, 0, &p->hysteresis);
	if (!rc)
		rc = get_uint(c, sec, "high_cardinality", 1, 1ull << 40,
			      &p->high_cardinality);
	if (!rc)
		rc = get_real(c, sec, "skew_top1_share", 0, 1, OPEN_MIN,
			      &p->skew_top1_share);
	if (!rc)
		rc = get_real(c, sec, "scale_up_utilization", 0, 1, OPEN_MIN,
			      &p->scale_up_utilization);
	if (!rc)
		rc = get_real(c, sec, "scale_down_utilization", 0, 1, OPEN_MAX,
			      &p->scale_down_utilization);
	if (!rc)
		rc = get_real(c, sec, "retransmissions_per_s_max", 0, ST_CONFIG_RATE_MAX, 0,
			      &p->retransmissions_per_s_max);
	if (!rc)
		rc = get_real(c, sec, "zero_windows_per_s_max", 0, ST_CONFIG_RATE_MAX, 0,
			      &p->zero_windows_per_s_max);
	if (!rc)
		rc = get_real(c, sec, "latency_p99_ms_max", 0, ST_CONFIG_LATENCY_MS_MAX, 0,
			      &p->latency_p99_ms_max);
	if (rc)
		return rc;
	p->cooldown_s = (uint32_t)cooldown;
	if (p->scale_down_utilization >= p->scale_up_utilization) {
		at = config_setting_get_member(sec, "scale_down_utilization");
		return fail(c, at ? at : config_setting_get_member(sec, "scale_up_utilization"),
			    "scale_down_utilization = %g must be below scale_up_utilization = %g",
			    p->scale_down_utilization, p->scale_up_utilization);
	}
	return 0;
}

/* ---- loading: checks across sections ---- */

/* The setting at path a, else at path b (the line of a cross-check). */
static const config_setting_t *either(const config_t *lc, const char *a,
				      const char *b)
{
	const config_setting_t *s = config_lookup(lc, a);

	return s ? s : config_lookup(lc, b);
}

/* Every span holds whole epochs' worth of data: at least one epoch. */
static int check_epochs(struct load_ctx *c, const config_t *lc)
{
	static const struct {
		const char *path;
		size_t offset;
		unsigned epochs;
	} spans[] = {
		{ "retention.profiles_s", offsetof(struct st_config, retention.profiles_s), 1 },
		{ "retention.fine_s", offsetof(struct st_config, retention.fine_s), 1 },
		{ "retention.coarse_step_s", offsetof(struct st_config, retention.coarse_step_s), 1 },
		{ "detectors.model_refresh_s", offsetof(struct st_config, detectors.model_refresh_s), 1 },
		{ "detectors.season_s", offsetof(struct st_config, detectors.season_s), 2 },
	};
	uint64_t epoch_ms = c->cfg->params.epoch_ms;

	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
		uint32_t s;

		memcpy(&s, (const char *)c->cfg + spans[i].offset, sizeof(s));
		if (s == 0 || (uint64_t)s * 1000u >= spans[i].epochs * epoch_ms)
			continue;  /* season_s 0: none */
		return fail(c, either(lc, spans[i].path, "defaults.epoch_ms"),
			    "%s = %u s is shorter than %u epoch%s (defaults.epoch_ms = %" PRIu64 ")",
			    spans[i].path, s, spans[i].epochs,
			    spans[i].epochs == 1 ? "" : "s", epoch_ms);
	}
	return 0;
}

static int check_pools(struct load_ctx *c, const config_t *lc)
{
	const config_setting_t *list = config_lookup(lc, "pools");

	for (size_t i = 0; i < c->cfg->n_pools; i++) {
		const struct st_config_pool *p = &c->cfg->pools[i];
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const config_setting_t *at = config_setting_get_member(e, "min_backends");

		if (p->n_backends < p->min_backends)
			return fail(c, at ? at : e,
				    "pool \"%s\" has %u backend%s, fewer than min_backends = %u",
				    p->name, p->n_backends, p->n_backends == 1 ? "" : "s",
				    p->min_backends);
	}
	return 0;
}

/*
 * actuators.xdp_lb's pool ("" = the first) and table size: "auto" becomes
 * st_maglev_size_auto() of the pool's backends; an explicit size must keep
 * the moved-flow bound (maglev.h) when enabled.
 */
static int check_xdp_lb_pool(struct load_ctx *c, const config_t *lc)
{
	struct st_config_xdp_lb *x = &c->cfg->actuators.xdp_lb;
	const struct st_config_pool *pool = NULL;
	unsigned n;

	if (!x->pool[0] && c->cfg->n_pools)
		snprintf(x->pool, sizeof(x->pool), "%s", c->cfg->pools[0].name);
	for (size_t i = 0; i < c->cfg->n_pools && !pool; i++)
		if (!strcmp(c->cfg->pools[i].name, x->pool))
			pool = &c->cfg->pools[i];
	n = pool ? pool->n_backends : 0;
	if (x->enabled && !pool)
		return fail(c, either(lc, "actuators.xdp_lb.pool", "actuators.xdp_lb.enabled"),
			    x->pool[0] ? "actuators.xdp_lb.pool \"%s\" is not a pool" :
			    "actuators.xdp_lb is enabled but there are no pools%s", x->pool);
	if (x->enabled && !n)
		return fail(c, either(lc, "actuators.xdp_lb.pool", "actuators.xdp_lb.enabled"),
			    "actuators.xdp_lb is enabled but pool \"%s\" has no backends", x->pool);
	if (x->table_size_auto) {
		x->table_size = st_maglev_size_auto(n);
		return 0;
	}
	if (x->enabled && st_maglev_check_size_bounded(x->table_size, n))
		return fail(c, either(lc, "actuators.xdp_lb.table_size", "actuators.xdp_lb.enabled"),
			    "table_size = %u is below %u x the %u backends of pool \"%s\" (Maglev "
			    "moves at most 1%% more flows than needed only from there, maglev.h): "
			    "use \"auto\" or a prime >= %" PRIu64, x->table_size,
			    ST_MAGLEV_SIZE_PER_BACKEND_BOUNDED, n, x->pool,
			    (uint64_t)ST_MAGLEV_SIZE_PER_BACKEND_BOUNDED * n);
	return 0;
}

static int check_actuators(struct load_ctx *c, const config_t *lc)
{
	const struct st_config_nexthop *nh = &c->cfg->actuators.nexthop;
	const struct st_config_xdp_lb *x = &c->cfg->actuators.xdp_lb;
	size_t n = c->cfg->n_backends;

	if (nh->enabled) {
		const config_setting_t *on = config_lookup(lc, "actuators.nexthop.enabled");

		if (!nh->route.af)
			return fail(c, on, "actuators.nexthop is enabled but has no route");
		if (!n)
			return fail(c, on, "actuators.nexthop is enabled but there are no backends");
		if (nh->resilient.buckets && nh->resilient.buckets < n)
			return fail(c, either(lc, "actuators.nexthop.resilient.buckets",
					      "actuators.nexthop.enabled"),
				    "resilient.buckets = %u is fewer than the %zu backends",
				    nh->resilient.buckets, n);
	}
	if (x->enabled) {
		const config_setting_t *on = config_lookup(lc, "actuators.xdp_lb.enabled");

		if (!x->interface[0])
			return fail(c, on, "actuators.xdp_lb is enabled but has no interface");
		if (!x->vip.af)
			return fail(c, on, "actuators.xdp_lb is enabled but has no vip");
		if (x->forward == ST_XDP_FWD_REDIRECT && !x->egress_interface[0])
			return fail(c, either(lc, "actuators.xdp_lb.forward", "actuators.xdp_lb.enabled"),
				    "forward = \"redirect\" needs an egress_interface");
	}
	return check_xdp_lb_pool(c, lc);
}

static int parse_root(struct load_ctx *c, const config_t *lc)
{
	static const char *const known[] = {
		"ports", "streams", "defaults", "thresholds", "detectors",
		"retention", "control", "pools", "backends", "actuators", "policy",
		NULL,
	};
	static int (*const sections[])(struct load_ctx *, const config_setting_t *) = {
		/* defaults first: rules inherit from it; pools before the
		 * backends and rules that name them */
		parse_defaults, parse_ports, parse_pools, parse_backends,
		parse_streams, parse_thresholds, parse_detectors, parse_retention,
		parse_control, parse_actuators, parse_policy,
	};
	const config_setting_t *root = config_root_setting(lc);
	int rc = check_members(c, root, "the top level", known);

	for (size_t i = 0; !rc && i < sizeof(sections) / sizeof(sections[0]); i++)
		rc = sections[i](c, root);
	if (!rc)
		rc = check_epochs(c, lc);
	if (!rc)
		rc = check_pools(c, lc);
	if (!rc)
		rc = check_actuators(c, lc);
	return rc;
}

/* libconfig's own error: a syntax error at a line, or an unreadable file. */
static int read_failed(struct load_ctx *c, const config_t *lc)
{
	int n;

	if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
		fail(c, NULL, "cannot read it (or a file it includes)");
		return -EIO;
	}
	if (!c->err_len)
		return -EINVAL;
	n = put_file(c, config_error_file(lc));
	if (n >= 0 && (size_t)n < c->err_len)
		snprintf(c->err + n, c->err_len - (size_t)n, "%d: %s",
			 config_error_line(lc), config_error_text(lc));
	return -EINVAL;
}

/* libconfig reads the file (syntax errors), then the scan, then the tree. */
static int load_into(struct load_ctx *c, const char *text, size_t text_len)
{
	char *dir = strdup(c->path), *slash;
	char token[32];
	unsigned line;
	config_t lc;
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	config_init(&lc);
	if (slash) {
		*slash = '\0';
		c->include_dir = *dir ? dir : "/";
		config_set_include_dir(&lc, c->include_dir);
	}
	if (!config_read_file(&lc, c->path)) {
		rc = read_failed(c, &lc);
		goto out_destroy;
	}
	if (scan_wide_ints(text, text_len, &line, token, sizeof(token))) {
		if (c->err_len)
			snprintf(c->err, c->err_len,
				 "%s:%u: integer %s does not fit in 32 bits: write it with the L suffix (%sL)",
				 c->path, line, token, token);
		rc = -EINVAL;
		goto out_destroy;
	}
	rc = parse_root(c, &lc);
out_destroy:
	config_destroy(&lc);
	c->include_dir = NULL;
	free(dir);
	return rc;
}

struct st_config *st_config_load(const char *path, char *err, size_t err_len)
{
	struct load_ctx c = { .path = path, .err = err, .err_len = err_len };
	size_t text_len = 0;
	char *text;
	int rc;

	if (err_len)
		err[0] = '\0';
	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	text = read_text(path, &text_len);
	if (!text) {
		rc = errno;
		if (err_len)
			snprintf(err, err_len, "%s: %s", path, strerror(rc));
		errno = rc;
		return NULL;
	}
	c.cfg = st_config_default();
	if (!c.cfg) {
		rc = -ENOMEM;
		goto out_free_text;
	}
	rc = load_into(&c, text, text_len);
	if (!rc) {
		c.cfg->source = strdup(path);
		if (!c.cfg->source)
			rc = -ENOMEM;
	}
out_free_text:
	free(text);
	if (rc == -ENOMEM && err_len)
		snprintf(err, err_len, "%s: out of memory", path);
	if (rc) {
		st_config_destroy(c.cfg);
		errno = -rc;
		return NULL;
	}
	return c.cfg;
}

/* ---- reading ---- */

const char *st_config_source(const struct st_config *cfg)
{
	return cfg->source;
}

enum st_proto st_config_port_proto(const struct st_config *cfg,
				   uint8_t l4_proto, uint16_t port)
{
	if (l4_proto == IPPROTO_TCP)
		return (enum st_proto)cfg->port_proto[T_TCP][port];
	if (l4_proto == IPPROTO_UDP)
		return (enum st_proto)cfg->port_proto[T_UDP][port];
	return ST_PROTO_NONE;
}

const uint8_t *st_config_port_table(const struct st_config *cfg, uint8_t l4_proto)
{
	if (l4_proto == IPPROTO_TCP)
		return cfg->port_proto[T_TCP];
	if (l4_proto == IPPROTO_UDP)
		return cfg->port_proto[T_UDP];
	return NULL;
}

size_t st_config_ports(const struct st_config *cfg, struct st_config_port *out,
		       size_t max)
{
	size_t n = 0;

	for (uint32_t port = 0; port < PORTS; port++)
		for (int t = T_TCP; t <= T_UDP; t++) {
			if (!cfg->port_proto[t][port])
				continue;
			if (n < max) {
				out[n].port = (uint16_t)port;
				out[n].transport = t == T_TCP ? ST_CONFIG_TCP : ST_CONFIG_UDP;
				out[n].proto = (enum st_proto)cfg->port_proto[t][port];
			}
			n++;
		}
	return n;
}

const struct st_config_params *st_config_params(const struct st_config *cfg)
{
	return &cfg->params;
}

const struct st_config_fields *st_config_default_fields(const struct st_config *cfg)
{
	return &cfg->default_fields;
}

size_t st_config_stream_count(const struct st_config *cfg)
{
	return cfg->n_streams;
}

const struct st_config_stream *st_config_stream_at(const struct st_config *cfg,
						   size_t i)
{
	return i < cfg->n_streams ? &cfg->streams[i] : NULL;
}

const struct st_config_fields *st_config_stream_fields(const struct st_config *cfg,
						       const struct st_config_stream *rule)
{
	return rule ? &rule->fields : &cfg->default_fields;
}

enum st_criticality st_config_stream_criticality(const struct st_config_stream *rule)
{
	return rule ? rule->criticality : ST_CRIT_MEDIUM;
}

bool st_config_stream_schema(const struct st_config_stream *rule)
{
	return rule ? rule->schema : true;
}

const struct st_config_threshold *st_config_threshold(const struct st_config *cfg,
						      enum st_criticality c)
{
	return (unsigned)c <= ST_CRIT_HIGH ? &cfg->thresholds[c] : NULL;
}

const struct st_config_detectors *st_config_detectors(const struct st_config *cfg)
{
	return &cfg->detectors;
}

const struct st_config_retention *st_config_retention(const struct st_config *cfg)
{
	return &cfg->retention;
}

const struct st_config_control *st_config_control(const struct st_config *cfg)
{
	return &cfg->control;
}

double st_config_stream_capacity_rps(const struct st_config *cfg,
				     const struct st_config_stream *rule)
{
	return rule ? rule->capacity_rps : cfg->params.capacity_rps;
}

size_t st_config_pool_count(const struct st_config *cfg)
{
	return cfg->n_pools;
}

const struct st_config_pool *st_config_pool_at(const struct st_config *cfg, size_t i)
{
	return i < cfg->n_pools ? &cfg->pools[i] : NULL;
}

const struct st_config_pool *st_config_pool_find(const struct st_config *cfg,
						 const char *name)
{
	for (size_t i = 0; name && i < cfg->n_pools; i++)
		if (!strcmp(cfg->pools[i].name, name))
			return &cfg->pools[i];
	return NULL;
}

size_t st_config_backend_count(const struct st_config *cfg)
{
	return cfg->n_backends;
}

const struct st_config_backend *st_config_backend_at(const struct st_config *cfg,
						     size_t i)
{
	return i < cfg->n_backends ? &cfg->backends[i] : NULL;
}

const struct st_config_actuators *st_config_actuators(const struct st_config *cfg)
{
	return &cfg->actuators;
}

const struct st_config_policy *st_config_policy(const struct st_config *cfg)
{
	return &cfg->policy;
}

/* ---- stream names ---- */

static const struct st_config_stream *match_rule(const struct st_config *cfg,
						 enum st_proto proto,
						 const uint8_t *topic, size_t len)
{
	char text[ST_CONFIG_TOPIC_MATCH_MAX + 1];

	if (!cfg->n_streams || len > ST_CONFIG_TOPIC_MATCH_MAX ||
	    (len && memchr(topic, 0, len)))
		return NULL;
	if (len)
		memcpy(text, topic, len);
	text[len] = '\0';
	for (size_t i = 0; i < cfg->n_streams; i++)
		if (cfg->streams[i].proto == proto &&
		    fnmatch(cfg->streams[i].match, text, 0) == 0)
			return &cfg->streams[i];
	return NULL;
}

static bool is_lower_hex(uint8_t ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

/* Whether the topic ends in "~" and 16 lowercase hex digits. */
static bool ends_in_cut_form(const uint8_t *topic, size_t len)
{
	if (len < CUT_HEX + 1 || topic[len - CUT_HEX - 1] != '~')
		return false;
	for (size_t i = len - CUT_HEX; i < len; i++)
		if (!is_lower_hex(topic[i]))
			return false;
	return true;
}

static void unmatched_name(const char *proto_name, const uint8_t *topic,
			   size_t len, char out[ST_CONFIG_NAME_BYTES])
{
	size_t n = strlen(proto_name), i = 0;

	memcpy(out, proto_name, n);
	out[n++] = ':';
	if (n + len < ST_CONFIG_NAME_BYTES && text_ok(topic, len) &&
	    !ends_in_cut_form(topic, len)) {
		if (len)
			memcpy(out + n, topic, len);
		out[n + len] = '\0';
		return;
	}
	while (i < len && n < CUT_PREFIX_MAX) {
		size_t c = utf8_char_len(topic + i, len - i);

		if (!c) {
			out[n++] = '?';
			i++;
			continue;
		}
		if (n + c > CUT_PREFIX_MAX)
			break;
		memcpy(out + n, topic + i, c);
		n += c;
		i += c;
	}
	snprintf(out + n, ST_CONFIG_NAME_BYTES - n, "~%016" PRIx64,
		 st_hash64(topic, len));
}

int st_config_stream_name(const struct st_config *cfg, enum st_proto proto,
			  const uint8_t *topic, size_t len,
			  char out[ST_CONFIG_NAME_BYTES],
			  const struct st_config_stream **rule)
{
	const struct st_config_stream *r;

	if (rule)
		*rule = NULL;
	if (proto <= ST_PROTO_NONE || proto >= ST_PROTO__COUNT || !out ||
	    (!topic && len))
		return -EINVAL;
	r = match_rule(cfg, proto, topic, len);
	if (r) {
		memcpy(out, r->name, ST_CONFIG_NAME_BYTES);
		if (rule)
			*rule = r;
		return 0;
	}
	unmatched_name(st_proto_name(proto), topic ? topic : (const uint8_t *)"",
		       len, out);
	return 0;
}

int st_config_jsonl_topic(int af, const void *addr, uint16_t port, char *out,
			  size_t out_len)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if ((af != AF_INET && af != AF_INET6) || !addr || !out ||
	    !inet_ntop(af, addr, ip, sizeof(ip)))
		return -EINVAL;
	n = snprintf(out, out_len, af == AF_INET ? "%s:%u" : "[%s]:%u", ip, port);
	if (n < 0 || (size_t)n >= out_len)
		return -ENOSPC;
	return n;
}

/* ---- overrides ---- */

static bool has_key(const struct st_config_fields *f, const char *pointer)
{
	for (unsigned i = 0; i < f->n_keys; i++)
		if (strcmp(f->keys[i], pointer) == 0)
			return true;
	return false;
}

/* Room for one more key field?  Defaults and Kafka rules leave a slot for
 * the record key. */
static bool key_room(const struct st_config_fields *f, bool kafka_slot)
{
	return f->n_keys + 1 + kafka_slot <= ST_CONFIG_KEY_FIELDS_MAX;
}

static void add_key(struct st_config_fields *f, const char *pointer)
{
	if (!has_key(f, pointer))
		strcpy(f->keys[f->n_keys++], pointer);
}

int st_config_add_key_field(struct st_config *cfg, const char *pointer)
{
	if (st_config_check_pointer(pointer, NULL))
		return -EINVAL;
	if (!has_key(&cfg->default_fields, pointer) &&
	    !key_room(&cfg->default_fields, true))
		return -E2BIG;
	for (size_t i = 0; i < cfg->n_streams; i++) {
		const struct st_config_stream *r = &cfg->streams[i];

		if (!has_key(&r->fields, pointer) &&
		    !key_room(&r->fields, r->proto == ST_PROTO_KAFKA))
			return -E2BIG;
	}
	add_key(&cfg->default_fields, pointer);
	for (size_t i = 0; i < cfg->n_streams; i++)
		add_key(&cfg->streams[i].fields, pointer);
	return 0;
}

int st_config_set_port(struct st_config *cfg, uint16_t port, int transport,
		       enum st_proto proto)
{
	if (port == 0 || transport < ST_CONFIG_TCP || transport > ST_CONFIG_BOTH ||
	    proto < ST_PROTO_NONE || proto >= ST_PROTO__COUNT ||
	    (tcp_only(proto) && (transport & ST_CONFIG_UDP)))
		return -EINVAL;
	map_port(cfg, port, transport, proto);
	return 0;
}

__attribute__((format(printf, 4, 5)))
static int override_fail(char *err, size_t err_len, const char *text,
			 const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err_len)
		return -EINVAL;
	n = snprintf(err, err_len, "\"%s\": ", text);
	if (n >= 0 && (size_t)n < err_len) {
		va_start(ap, fmt);
		vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int st_config_parse_port_override(const char *text, uint16_t *port,
				  int *transport, enum st_proto *proto,
				  char *err, size_t err_len)
{
	const char *eq, *slash, *p;
	char word[8];
	unsigned long value = 0;
	size_t digits;

	if (err_len)
		err[0] = '\0';
	if (!text)
		return override_fail(err, err_len, "", "no text");
	eq = strchr(text, '=');
	if (!eq)
		return override_fail(err, err_len, text,
				     "expected PORT[/tcp|udp|both]=PROTOCOL, e.g. 9093=kafka");
	slash = memchr(text, '/', (size_t)(eq - text));
	digits = (size_t)((slash ? slash : eq) - text);
	for (p = text; p < text + digits; p++) {
		if (!is_digit(*p) || value > 65535)
			break;
		value = value * 10 + (unsigned long)(*p - '0');
	}
	if (digits == 0 || p != text + digits || value == 0 || value > 65535)
		return override_fail(err, err_len, text, "port must be a number 1..65535");
	*proto = st_proto_from_name(eq + 1);
	if (*proto == ST_PROTO_NONE && strcmp(eq + 1, "none") != 0)
		return override_fail(err, err_len, text,
				     "unknown protocol \"%s\" (kafka, mqtt, nats, jsonl or none)",
				     eq + 1);
	*transport = tcp_only(*proto) ? ST_CONFIG_TCP : ST_CONFIG_BOTH;
	if (slash) {
		size_t tl = (size_t)(eq - slash - 1);

		if (tl >= sizeof(word))
			tl = sizeof(word) - 1;  /* too long to be valid anyway */
		memcpy(word, slash + 1, tl);
		word[tl] = '\0';
		if ((size_t)(eq - slash - 1) >= sizeof(word) ||
		    parse_transport(word, transport))
			return override_fail(err, err_len, text,
					     "unknown transport after '/' (tcp, udp or both)");
	}
	if (tcp_only(*proto) && (*transport & ST_CONFIG_UDP))
		return override_fail(err, err_len, text, "%s runs over TCP only",
				     st_proto_name(*proto));
	*port = (uint16_t)value;
	return 0;
}

int st_config_apply_port_override(struct st_config *cfg, const char *text,
				  char *err, size_t err_len)
{
	enum st_proto proto;
	uint16_t port;
	int transport;
	int rc = st_config_parse_port_override(text, &port, &transport, &proto,
					       err, err_len);

	if (rc)
		return rc;
	return st_config_set_port(cfg, port, transport, proto);
}
