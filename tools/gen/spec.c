/*
 * --stream SPEC parsing for shadowtap-gen.
 *
 *	SPEC   = PROTO ":" TARGET { "," KEY "=" VALUE }
 *	PROTO  = "kafka" | "mqtt" | "nats" | "jsonl"
 *	TARGET = topic (kafka, mqtt) | subject (nats) | ("udp" | "tcp") ":" PORT (jsonl)
 *
 * Every key is checked against the protocols it applies to, every value
 * against its range, and an error names the key and the value.  The option
 * list with defaults is in main.c's --help, which is the user's reference.
 *
 * Names go on the wire and into the truth's JSON, so each is text its
 * protocol allows: a Kafka topic uses Kafka's legal characters
 * [A-Za-z0-9._-] and is neither "." nor ".." (Apache Kafka,
 * org.apache.kafka.common.internals.Topic); an MQTT topic name is UTF-8
 * without U+0000, control characters or wildcards (MQTT 3.1.1 sections
 * 1.5.3 and 4.7); a NATS subject is printable UTF-8, dot-separated non-empty
 * tokens without whitespace or wildcards (NATS subject-based messaging).
 *
 * The --start time (st_gen_parse_start) is parsed here too, so the fuzz
 * target reaches it.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/gen/gen.h"

static const char *const proto_names[] = {
	[ST_GEN_KAFKA] = "kafka", [ST_GEN_MQTT] = "mqtt",
	[ST_GEN_NATS] = "nats", [ST_GEN_JSONL] = "jsonl",
};

static const char *const type_names[] = {
	[ST_GEN_T_NULL] = "null", [ST_GEN_T_BOOL] = "bool",
	[ST_GEN_T_NUMBER] = "number", [ST_GEN_T_STRING] = "string",
	[ST_GEN_T_OBJECT] = "object", [ST_GEN_T_ARRAY] = "array",
};

const char *st_gen_proto_name(enum st_gen_proto proto)
{
	return proto_names[proto];
}

const char *st_gen_type_name(enum st_gen_type type)
{
	return type_names[type];
}

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int st_gen_parse_duration(const char *text, int64_t *ns)
{
	char *end;
	double v, unit = ST_GEN_NS_PER_S;

	errno = 0;
	v = strtod(text, &end);
	if (end == text || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	if (*end == '\0' || strcmp(end, "s") == 0)
		unit = ST_GEN_NS_PER_S;
	else if (strcmp(end, "ms") == 0)
		unit = ST_GEN_NS_PER_MS;
	else if (strcmp(end, "us") == 0)
		unit = ST_GEN_NS_PER_US;
	else if (strcmp(end, "m") == 0)
		unit = 60.0 * ST_GEN_NS_PER_S;
	else if (strcmp(end, "h") == 0)
		unit = 3600.0 * ST_GEN_NS_PER_S;
	else
		return -EINVAL;
	if (v * unit > 1e18)
		return -EINVAL;
	*ns = (int64_t)llround(v * unit);
	return 0;
}

/* Exactly `width` decimal digits at *p, which moves past them. */
static bool take_digits(const char **p, unsigned width, int *out)
{
	int v = 0;

	for (unsigned i = 0; i < width; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += width;
	*out = v;
	return true;
}

/* An optional ".DIGITS" at *p -> whole microseconds; later digits are dropped. */
static bool take_fraction_us(const char **p, int64_t *us)
{
	const char *s = *p;
	int64_t scale = 100000;

	*us = 0;
	if (*s != '.')
		return true;
	s++;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		*us += (*s - '0') * scale;
		scale /= 10;
	}
	*p = s;
	return true;
}

/* "@SECONDS[.FRACTION]" after the '@'. */
static int parse_unix_start(const char *p, int64_t *ns)
{
	int64_t s = 0, us;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		s = s * 10 + (*p - '0');
		if (s > ST_GEN_START_MAX_S)
			return -EINVAL;
	}
	if (!take_fraction_us(&p, &us) || *p)
		return -EINVAL;
	*ns = s * ST_GEN_NS_PER_S + us * ST_GEN_NS_PER_US;
	return 0;
}

int st_gen_parse_start(const char *text, int64_t *ns)
{
	int year, mon, mday, hour, min, sec;
	const char *p = text;
	struct tm tm, back;
	int64_t s, us;

	if (*p == '@')
		return parse_unix_start(p + 1, ns);
	if (!take_digits(&p, 4, &year) || *p++ != '-' || !take_digits(&p, 2, &mon) ||
	    *p++ != '-' || !take_digits(&p, 2, &mday) || *p++ != 'T' ||
	    !take_digits(&p, 2, &hour) || *p++ != ':' || !take_digits(&p, 2, &min) ||
	    *p++ != ':' || !take_digits(&p, 2, &sec) || !take_fraction_us(&p, &us) ||
	    strcmp(p, "Z") != 0)
		return -EINVAL;
	if (year < 1970 || mon < 1 || mon > 12 || mday < 1 || mday > 31 ||
	    hour > 23 || min > 59 || sec > 59)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = mday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	s = (int64_t)timegm(&tm);
	/* timegm normalises February 30 into March: such a date does not exist */
	if (s < 0 || s > ST_GEN_START_MAX_S || !gmtime_r(&(time_t){ (time_t)s }, &back) ||
	    back.tm_mday != mday || back.tm_mon != mon - 1)
		return -EINVAL;
	*ns = s * ST_GEN_NS_PER_S + us * ST_GEN_NS_PER_US;
	return 0;
}

static bool parse_double(const char *text, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end || errno || !isfinite(v) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_uint(const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (*end || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_type(const char *text, enum st_gen_type *type)
{
	for (unsigned i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcmp(text, type_names[i]) == 0) {
			*type = (enum st_gen_type)i;
			return true;
		}
	}
	return false;
}

static bool valid_field_name(const char *name, size_t len)
{
	if (len == 0 || len > 31)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/*
 * schema=+FIELD[:TYPE]@TIME | -FIELD@TIME | FIELD:TYPE@TIME
 * FIELD is a top-level field of the value other than "user" (which holds
 * the key and never changes).
 */
static int parse_change(const char *text, struct st_gen_stream_spec *spec,
			char *err, size_t err_size)
{
	struct st_gen_change *c;
	const char *at = strrchr(text, '@');
	const char *name = text, *colon;
	size_t name_len;
	char type_text[16];

	if (spec->n_changes == ST_GEN_MAX_CHANGES)
		return fail(err, err_size, "schema: at most %d changes per stream", ST_GEN_MAX_CHANGES);
	c = &spec->changes[spec->n_changes];
	memset(c, 0, sizeof(*c));
	if (strlen(text) >= sizeof(c->text))
		return fail(err, err_size, "schema=%.40s...: longer than %zu bytes", text, sizeof(c->text) - 1);
	memcpy(c->text, text, strlen(text) + 1);
	if (!at)
		return fail(err, err_size, "schema=%s: missing @TIME (e.g. schema=+extra@30s)", text);
	if (st_gen_parse_duration(at + 1, &c->at_ns))
		return fail(err, err_size, "schema=%s: bad time '%s' (e.g. 30s, 1500ms)", text, at + 1);
	c->op = ST_GEN_RETYPE;
	if (*name == '+' || *name == '-') {
		c->op = *name == '+' ? ST_GEN_ADD : ST_GEN_REMOVE;
		name++;
	}
	colon = memchr(name, ':', (size_t)(at - name));
	name_len = (size_t)((colon ? colon : at) - name);
	if (!valid_field_name(name, name_len))
		return fail(err, err_size, "schema=%s: field name must be 1-31 of [A-Za-z0-9_]", text);
	memcpy(c->field, name, name_len);
	c->field[name_len] = '\0';
	if (strcmp(c->field, "user") == 0)
		return fail(err, err_size, "schema=%s: field 'user' holds the key and cannot change", text);
	c->type = ST_GEN_T_NUMBER;
	if (colon) {
		size_t type_len = (size_t)(at - colon - 1);

		if (c->op == ST_GEN_REMOVE)
			return fail(err, err_size, "schema=%s: a removal takes no type", text);
		if (type_len >= sizeof(type_text))
			type_len = sizeof(type_text) - 1;
		memcpy(type_text, colon + 1, type_len);
		type_text[type_len] = '\0';
		if (!parse_type(type_text, &c->type))
			return fail(err, err_size,
				    "schema=%s: unknown type '%s' (null, bool, number, string, object, array)",
				    text, type_text);
	} else if (c->op == ST_GEN_RETYPE) {
		return fail(err, err_size, "schema=%s: expected +FIELD[:TYPE]@T, -FIELD@T or FIELD:TYPE@T", text);
	}
	spec->n_changes++;
	return 0;
}

static void set_defaults(struct st_gen_stream_spec *spec, bool ipv6)
{
	memset(spec, 0, sizeof(*spec));
	spec->shape = ST_GEN_SHAPE_CONSTANT;
	spec->rate = 1000;
	spec->amplitude = 0.5;
	spec->period_s = 60;
	spec->on_s = 1;
	spec->off_s = 1;
	spec->compress = 300;
	spec->explode_at_ns = -1;
	spec->hot_at_ns = -1;
	spec->peak = 0;
	spec->keys = 1000;
	spec->conns = 1;
	spec->mss = ipv6 ? 1440 : 1460;
	spec->dgram_bytes = ipv6 ? 1452 : 1472;
	spec->partitions = 1;
	spec->acks = 1;
	spec->ping_ns = ST_GEN_NS_PER_S;
}

static void set_protocol_defaults(struct st_gen_stream_spec *spec)
{
	switch (spec->proto) {
	case ST_GEN_KAFKA:
		spec->port = 9092;
		spec->version = 8;   /* the newest that tshark 4.0 dissects */
		spec->batch = 10;
		spec->linger_ns = 5 * ST_GEN_NS_PER_MS;
		break;
	case ST_GEN_MQTT:
		spec->port = 1883;
		spec->version = 4;
		spec->batch = 1;
		break;
	case ST_GEN_NATS:
		spec->port = 4222;
		spec->batch = 1;
		break;
	case ST_GEN_JSONL:
		spec->batch = spec->udp ? 0 : 1;
		spec->linger_ns = spec->udp ? 5 * ST_GEN_NS_PER_MS : 0;
		break;
	}
}

/*
 * Length of the UTF-8 character at s (n > 0 bytes left) when it is well
 * formed (RFC 3629 section 4: shortest form, no surrogates, at most
 * U+10FFFF) and not a control character (C0, DEL, C1); 0 otherwise.
 */
static size_t printable_char(const unsigned char *s, size_t n)
{
	unsigned c = s[0], more, cp;

	if (c < 0x20 || c == 0x7f)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		more = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		more = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		more = 3, cp = c & 0x07;
	else
		return 0;
	if (n - 1 < more)
		return 0;
	for (unsigned i = 1; i <= more; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return more + 1;
}

static bool printable_utf8(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;

	for (size_t i = 0, n; i < len; i += n) {
		n = printable_char(s + i, len - i);
		if (n == 0)
			return false;
	}
	return true;
}

static bool kafka_topic_ok(const char *topic)
{
	if (!strcmp(topic, ".") || !strcmp(topic, ".."))
		return false;
	for (const char *c = topic; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			return false;
	return true;
}

/* No whitespace, no wildcards, no empty token ("a..b", ".a", "a."). */
static bool nats_subject_ok(const char *subject)
{
	size_t len = strlen(subject);

	return !strpbrk(subject, " *>") && subject[0] != '.' && subject[len - 1] != '.' &&
	       !strstr(subject, "..");
}

static int parse_target(const char *text, size_t len, struct st_gen_stream_spec *spec,
			char *err, size_t err_size)
{
	const char *colon = memchr(text, ':', len);
	char target[ST_GEN_NAME_MAX + 16];
	uint64_t port;
	size_t plen;

	if (!colon)
		return fail(err, err_size, "--stream %.*s: expected PROTO:NAME (kafka:orders, jsonl:udp:5140)",
			    (int)len, text);
	plen = (size_t)(colon - text);
	spec->proto = (enum st_gen_proto)-1;
	for (unsigned i = 0; i < 4; i++)
		if (strlen(proto_names[i]) == plen && memcmp(text, proto_names[i], plen) == 0)
			spec->proto = (enum st_gen_proto)i;
	if (spec->proto == (enum st_gen_proto)-1)
		return fail(err, err_size, "--stream: unknown protocol '%.*s' (kafka, mqtt, nats, jsonl)",
			    (int)plen, text);
	len -= plen + 1;
	text = colon + 1;
	if (len == 0 || len >= ST_GEN_NAME_MAX)
		return fail(err, err_size, "--stream %s: the name must be 1-%d bytes",
			    proto_names[spec->proto], ST_GEN_NAME_MAX - 1);
	memcpy(target, text, len);
	target[len] = '\0';
	if (spec->proto != ST_GEN_JSONL) {
		if (!printable_utf8(target, len))
			return fail(err, err_size, "--stream %s: the name must be UTF-8 text without control characters",
				    proto_names[spec->proto]);
		if (spec->proto == ST_GEN_KAFKA && !kafka_topic_ok(target))
			return fail(err, err_size, "--stream kafka:%s: a topic is made of [A-Za-z0-9._-] and is not '.' or '..'",
				    target);
		if (spec->proto == ST_GEN_MQTT && strpbrk(target, "+#"))
			return fail(err, err_size, "--stream mqtt:%s: a topic name has no wildcards", target);
		if (spec->proto == ST_GEN_NATS && !nats_subject_ok(target))
			return fail(err, err_size, "--stream nats:%s: a subject is dot-separated tokens without spaces or wildcards",
				    target);
		memcpy(spec->name, target, len + 1);
		set_protocol_defaults(spec);
		return 0;
	}
	if (strncmp(target, "udp:", 4) == 0)
		spec->udp = true;
	else if (strncmp(target, "tcp:", 4) != 0)
		return fail(err, err_size, "--stream jsonl:%s: expected jsonl:udp:PORT or jsonl:tcp:PORT", target);
	if (!parse_uint(target + 4, 1, 65535, &port))
		return fail(err, err_size, "--stream jsonl:%s: port must be 1-65535", target);
	set_protocol_defaults(spec);
	spec->port = (uint16_t)port;
	return 0;
}

/* Which protocols a key applies to: bit per enum st_gen_proto. */
#define ALL 0xf
#define KAFKA (1u << ST_GEN_KAFKA)
#define MQTT (1u << ST_GEN_MQTT)
#define NATS (1u << ST_GEN_NATS)
#define JSONL (1u << ST_GEN_JSONL)

static const struct {
	const char *key;
	unsigned protos;
} known_keys[] = {
	{ "rate", ALL }, { "shape", ALL }, { "amp", ALL }, { "period", ALL },
	{ "on", ALL }, { "off", ALL }, { "offrate", ALL }, { "compress", ALL },
	{ "peak", ALL }, { "keys", ALL }, { "zipf", ALL }, { "conns", ALL },
	{ "batch", ALL }, { "linger", ALL }, { "mss", ALL }, { "split", ALL },
	{ "reorder", ALL }, { "dup", ALL }, { "schema", ALL }, { "port", ALL },
	{ "explode", ALL }, { "hot", ALL },
	{ "headers", KAFKA | NATS }, { "partitions", KAFKA }, { "version", KAFKA | MQTT },
	{ "acks", KAFKA }, { "qos", MQTT }, { "verbose", NATS }, { "ping", NATS },
	{ "dgram", JSONL },
};

static int check_key(const char *key, const struct st_gen_stream_spec *spec,
		     char *err, size_t err_size)
{
	for (unsigned i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++) {
		if (strcmp(key, known_keys[i].key) != 0)
			continue;
		if (!(known_keys[i].protos & (1u << spec->proto)))
			return fail(err, err_size, "--stream: option '%s' does not apply to %s streams",
				    key, proto_names[spec->proto]);
		return 0;
	}
	return fail(err, err_size, "--stream: unknown option '%s' (see --help)", key);
}

static int parse_shape(const char *v, struct st_gen_stream_spec *spec)
{
	if (strcmp(v, "constant") == 0)
		spec->shape = ST_GEN_SHAPE_CONSTANT;
	else if (strcmp(v, "diurnal") == 0)
		spec->shape = ST_GEN_SHAPE_DIURNAL;
	else if (strcmp(v, "bursts") == 0)
		spec->shape = ST_GEN_SHAPE_BURSTS;
	else if (strncmp(v, "trace:", 6) == 0 && v[6] && strlen(v + 6) < sizeof(spec->trace_path)) {
		spec->shape = ST_GEN_SHAPE_TRACE;
		snprintf(spec->trace_path, sizeof(spec->trace_path), "%s", v + 6);
	} else {
		return -EINVAL;
	}
	return 0;
}

static double seconds_of(int64_t ns)
{
	return (double)ns / ST_GEN_NS_PER_S;
}

/*
 * "VALUE@TIME" of explode=N@T (a key count, 1..2^40) and hot=P@T (a share in
 * (0, 1]); T is a trace offset.
 */
static int parse_at(const char *v, const struct st_gen_stream_spec *spec,
		    int64_t *at_ns, double *share, uint64_t *count)
{
	const char *at = strrchr(v, '@');
	char number[64];
	size_t len;

	(void)spec;
	if (!at || (len = (size_t)(at - v)) == 0 || len >= sizeof(number))
		return -EINVAL;
	memcpy(number, v, len);
	number[len] = '\0';
	if (st_gen_parse_duration(at + 1, at_ns))
		return -EINVAL;
	if (count)
		return parse_uint(number, 1, 1ull << 40, count) ? 0 : -EINVAL;
	if (!parse_double(number, 0, 1, share) || *share <= 0)
		return -EINVAL;
	return 0;
}

/* One KEY=VALUE; the key is already known to apply. */
static int parse_option(const char *k, const char *v, struct st_gen_stream_spec *spec)
{
	uint64_t u;
	int64_t ns;

	if (!strcmp(k, "rate"))
		return parse_double(v, 0, 1e8, &spec->rate) ? 0 : -EINVAL;
	if (!strcmp(k, "shape"))
		return parse_shape(v, spec);
	if (!strcmp(k, "amp"))
		return parse_double(v, 0, 1, &spec->amplitude) ? 0 : -EINVAL;
	if (!strcmp(k, "compress"))
		return parse_double(v, 1e-3, 1e9, &spec->compress) ? 0 : -EINVAL;
	if (!strcmp(k, "peak"))
		return parse_double(v, 0, 1e8, &spec->peak) ? 0 : -EINVAL;
	if (!strcmp(k, "offrate"))
		return parse_double(v, 0, 1e8, &spec->off_rate) ? 0 : -EINVAL;
	if (!strcmp(k, "zipf"))
		return parse_double(v, 0, 10, &spec->zipf) ? 0 : -EINVAL;
	if (!strcmp(k, "explode"))
		return parse_at(v, spec, &spec->explode_at_ns, NULL, &spec->explode_keys);
	if (!strcmp(k, "hot"))
		return parse_at(v, spec, &spec->hot_at_ns, &spec->hot_share, NULL);
	if (!strcmp(k, "reorder"))
		return parse_double(v, 0, 1, &spec->reorder_p) ? 0 : -EINVAL;
	if (!strcmp(k, "dup"))
		return parse_double(v, 0, 1, &spec->dup_p) ? 0 : -EINVAL;
	if (!strcmp(k, "period") || !strcmp(k, "on") || !strcmp(k, "off") ||
	    !strcmp(k, "linger") || !strcmp(k, "ping")) {
		if (st_gen_parse_duration(v, &ns))
			return -EINVAL;
		if (!strcmp(k, "period"))
			spec->period_s = seconds_of(ns);
		else if (!strcmp(k, "on"))
			spec->on_s = seconds_of(ns);
		else if (!strcmp(k, "off"))
			spec->off_s = seconds_of(ns);
		else if (!strcmp(k, "linger"))
			spec->linger_ns = ns;
		else
			spec->ping_ns = ns;
		if (!strcmp(k, "period") || !strcmp(k, "ping"))
			return ns > 0 ? 0 : -EINVAL;
		return 0;
	}
	if (!strcmp(k, "split")) {
		if (strcmp(v, "random") && strcmp(v, "mss"))
			return -EINVAL;
		spec->split_random = !strcmp(v, "random");
		return 0;
	}
	if (!strcmp(k, "version") && spec->proto == ST_GEN_MQTT) {
		if (!strcmp(v, "4") || !strcmp(v, "3.1.1"))
			spec->version = 4;
		else if (!strcmp(v, "5") || !strcmp(v, "5.0"))
			spec->version = 5;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "acks")) {
		if (strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "-1") && strcmp(v, "all"))
			return -EINVAL;
		spec->acks = !strcmp(v, "all") ? -1 : atoi(v);
		return 0;
	}
	if (!strcmp(k, "keys")) {
		if (!parse_uint(v, 1, 1ull << 40, &spec->keys))
			return -EINVAL;
		return 0;
	}

	static const struct {
		const char *key;
		uint64_t lo, hi;
		size_t offset;
		size_t size;
	} uints[] = {
		{ "conns", 1, ST_GEN_MAX_CONNS, offsetof(struct st_gen_stream_spec, conns), sizeof(unsigned) },
		{ "batch", 1, 10000, offsetof(struct st_gen_stream_spec, batch), sizeof(unsigned) },
		{ "mss", 1, 8960, offsetof(struct st_gen_stream_spec, mss), sizeof(unsigned) },
		{ "partitions", 1, 10000, offsetof(struct st_gen_stream_spec, partitions), sizeof(unsigned) },
		{ "version", 3, 9, offsetof(struct st_gen_stream_spec, version), sizeof(unsigned) },
		{ "qos", 0, 2, offsetof(struct st_gen_stream_spec, qos), sizeof(unsigned) },
		{ "dgram", 64, 8952, offsetof(struct st_gen_stream_spec, dgram_bytes), sizeof(unsigned) },
		{ "port", 1, 65535, offsetof(struct st_gen_stream_spec, port), sizeof(uint16_t) },
		{ "headers", 0, 1, offsetof(struct st_gen_stream_spec, headers), sizeof(bool) },
		{ "verbose", 0, 1, offsetof(struct st_gen_stream_spec, verbose), sizeof(bool) },
	};
	for (unsigned i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
		char *field = (char *)spec + uints[i].offset;

		if (strcmp(k, uints[i].key))
			continue;
		if (!parse_uint(v, uints[i].lo, uints[i].hi, &u))
			return -EINVAL;
		if (uints[i].size == sizeof(unsigned))
			*(unsigned *)field = (unsigned)u;
		else if (uints[i].size == sizeof(uint16_t))
			*(uint16_t *)field = (uint16_t)u;
		else
			*(bool *)field = u != 0;
		return 0;
	}
	return -EINVAL;
}

/* The accepted range of each key, for the error message. */
static const char *range_of(const char *k, const struct st_gen_stream_spec *spec)
{
	static const struct { const char *key, *range; } ranges[] = {
		{ "rate", "records/s in [0, 1e8]" }, { "shape", "constant, diurnal, bursts or trace:FILE" },
		{ "amp", "a fraction in [0, 1]" }, { "compress", "a factor in [0.001, 1e9]" },
		{ "peak", "records/s in [0, 1e8]" }, { "offrate", "records/s in [0, 1e8]" },
		{ "zipf", "an exponent in [0, 10] (0 = uniform)" }, { "reorder", "a probability in [0, 1]" },
		{ "dup", "a probability in [0, 1]" }, { "period", "a duration > 0 (60s, 2m)" },
		{ "on", "a duration (500ms, 2s)" }, { "off", "a duration (500ms, 2s)" },
		{ "linger", "a duration (5ms)" }, { "ping", "a duration > 0 (1s)" },
		{ "split", "mss or random" }, { "acks", "0, 1, -1 or all" }, { "keys", "1 to 2^40" },
		{ "conns", "1-64" }, { "batch", "1-10000" }, { "mss", "1-8960" },
		{ "partitions", "1-10000" }, { "qos", "0, 1 or 2" }, { "dgram", "64-8952 bytes" },
		{ "port", "1-65535" }, { "headers", "0 or 1" }, { "verbose", "0 or 1" },
		{ "explode", "N@T: 1 to 2^40 keys from trace offset T (explode=100000@30s)" },
		{ "hot", "P@T: a share in (0, 1] from trace offset T (hot=0.3@30s)" },
	};

	if (!strcmp(k, "version"))
		return spec->proto == ST_GEN_MQTT ? "4 (3.1.1) or 5 (5.0)" : "a Produce version 3-9";
	for (unsigned i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (!strcmp(k, ranges[i].key))
			return ranges[i].range;
	return "see --help";
}

static int check_spec(struct st_gen_stream_spec *spec, char *err, size_t err_size)
{
	const char *p = st_gen_proto_name(spec->proto);

	if (spec->shape == ST_GEN_SHAPE_BURSTS && spec->on_s + spec->off_s <= 0)
		return fail(err, err_size, "--stream %s:%s: bursts need on + off > 0", p, spec->name);
	if (spec->shape == ST_GEN_SHAPE_TRACE && spec->peak == 0)
		spec->peak = spec->rate;
	if (spec->proto == ST_GEN_JSONL && spec->udp && (spec->split_random || spec->reorder_p > 0))
		return fail(err, err_size, "--stream jsonl:udp:%u: split and reorder apply to TCP streams", spec->port);
	if (spec->proto == ST_GEN_JSONL)
		snprintf(spec->name, sizeof(spec->name), "%s:%u", spec->udp ? "udp" : "tcp", spec->port);
	return 0;
}

int st_gen_spec_parse(const char *text, bool ipv6, struct st_gen_stream_spec *spec,
		      char *err, size_t err_size)
{
	const char *comma = strchr(text, ',');
	size_t target_len = comma ? (size_t)(comma - text) : strlen(text);
	int rc;

	set_defaults(spec, ipv6);
	rc = parse_target(text, target_len, spec, err, err_size);
	if (rc)
		return rc;
	while (comma) {
		const char *item = comma + 1, *eq;
		char key[32], value[300];
		size_t item_len;

		comma = strchr(item, ',');
		item_len = comma ? (size_t)(comma - item) : strlen(item);
		eq = memchr(item, '=', item_len);
		if (!eq || eq == item)
			return fail(err, err_size, "--stream: expected KEY=VALUE, got '%.*s'", (int)item_len, item);
		if ((size_t)(eq - item) >= sizeof(key) || item_len - (size_t)(eq - item) > sizeof(value))
			return fail(err, err_size, "--stream: option '%.*s' too long", (int)item_len, item);
		memcpy(key, item, (size_t)(eq - item));
		key[eq - item] = '\0';
		memcpy(value, eq + 1, item_len - (size_t)(eq - item) - 1);
		value[item_len - (size_t)(eq - item) - 1] = '\0';
		rc = check_key(key, spec, err, err_size);
		if (rc)
			return rc;
		if (!strcmp(key, "schema")) {
			rc = parse_change(value, spec, err, err_size);
			if (rc)
				return rc;
			continue;
		}
		if (parse_option(key, value, spec))
			return fail(err, err_size, "--stream: bad value %s=%s: expected %s",
				    key, value, range_of(key, spec));
	}
	return check_spec(spec, err, err_size);
}
