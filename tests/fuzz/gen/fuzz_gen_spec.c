/*
 * libFuzzer target for the text parsers of shadowtap-gen (tools/gen):
 * st_gen_spec_parse (--stream SPEC, IPv4 and IPv6 defaults),
 * st_gen_parse_duration, st_gen_parse_start (--start) and the NAB trace CSV
 * loader behind shape=trace:FILE (st_gen_rate_create_from on fmemopen of the
 * input).  Every input goes through all four: the input up to its first NUL
 * is the text, the whole input is the CSV.
 *
 * Invariants (abort() when violated):
 *   - a failed parse leaves a non-empty, NUL-terminated message and the
 *     output untouched (durations, start);
 *   - a parsed spec has every field within the range --help documents, the
 *     protocol's defaults where the text does not set the key, the name as
 *     written (NUL-terminated, legal for its protocol), and the same fields
 *     for IPv4 and IPv6 but the MSS and datagram defaults; parsing twice
 *     gives the same bytes;
 *   - a duration is in [0, 1e18] ns, and a bare number means the same as
 *     with "s" and (within rounding) 1000 times its value with "ms";
 *   - a start is in [0, 2^32) s, whole microseconds, and prints back through
 *     libc's gmtime_r as text that parses to the same time in both forms;
 *   - a loaded trace (and every other shape) gives finite rates in
 *     [0, peak] (bursts: [0, max(rate, offrate)], diurnal: rate * (1 +- amp))
 *     as time moves forward across several periods.
 *
 * Seeds: fuzz-seeds-gen_spec (gen_spec_seeds.c).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/gen/gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define IN(v, lo, hi) ((v) >= (lo) && (v) <= (hi))

/* Largest input looked at: specs are short, traces a few thousand rows. */
#define INPUT_MAX (256 * 1024)

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* Well-formed UTF-8 (RFC 3629) with no C0, DEL or C1 control character. */
static bool utf8_text(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], more, cp;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, cp = c & 0x07;
		else
			return false;
		if (n - i - 1 < more)
			return false;
		for (unsigned j = 1; j <= more; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += more + 1;
	}
	return true;
}

/* Does the text set KEY (",KEY=" anywhere after the target)? */
static bool sets(const char *text, const char *key)
{
	char needle[40];

	snprintf(needle, sizeof(needle), ",%s=", key);
	return strstr(text, needle) != NULL;
}

static void check_name(const struct st_gen_stream_spec *s, const char *text)
{
	const char *target = strchr(text, ':') + 1;
	size_t len = strcspn(target, ",");
	char want[ST_GEN_NAME_MAX];

	CHECK(terminated(s->name, sizeof(s->name)));
	if (s->proto == ST_GEN_JSONL) {
		snprintf(want, sizeof(want), "%s:%u", s->udp ? "udp" : "tcp", s->port);
		CHECK(strcmp(s->name, want) == 0);
		CHECK(strncmp(target, s->udp ? "udp:" : "tcp:", 4) == 0);
		return;
	}
	CHECK(!s->udp);
	CHECK(strlen(s->name) == len && memcmp(s->name, target, len) == 0);
	CHECK(IN(len, 1, ST_GEN_NAME_MAX - 1));
	CHECK(utf8_text((const unsigned char *)s->name, len));
	if (s->proto == ST_GEN_KAFKA) {
		CHECK(strspn(s->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789._-") == len);
		CHECK(strcmp(s->name, ".") && strcmp(s->name, ".."));
	} else if (s->proto == ST_GEN_MQTT) {
		CHECK(!strpbrk(s->name, "+#"));
	} else {
		CHECK(!strpbrk(s->name, " *>") && s->name[0] != '.' && s->name[len - 1] != '.' &&
		      !strstr(s->name, ".."));
	}
}

static void check_changes(const struct st_gen_stream_spec *s)
{
	CHECK(s->n_changes <= ST_GEN_MAX_CHANGES);
	for (unsigned i = 0; i < s->n_changes; i++) {
		const struct st_gen_change *c = &s->changes[i];
		size_t n;

		CHECK(terminated(c->field, sizeof(c->field)));
		CHECK(terminated(c->text, sizeof(c->text)));
		CHECK(IN(c->at_ns, 0, (int64_t)1e18));
		CHECK(c->op == ST_GEN_ADD || c->op == ST_GEN_REMOVE || c->op == ST_GEN_RETYPE);
		CHECK(IN(c->type, ST_GEN_T_NULL, ST_GEN_T_ARRAY));
		n = strlen(c->field);
		CHECK(IN(n, 1, 31));
		CHECK(strspn(c->field, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789_") == n);
		CHECK(strcmp(c->field, "user") != 0);
		CHECK(strchr(c->text, '@') != NULL && strstr(c->text, c->field) != NULL);
		if (c->op == ST_GEN_REMOVE)
			CHECK(c->type == ST_GEN_T_NUMBER && c->text[0] == '-');
		if (c->op == ST_GEN_ADD)
			CHECK(c->text[0] == '+');
	}
}

static void check_defaults(const struct st_gen_stream_spec *s, const char *text, bool ipv6)
{
	static const uint16_t ports[] = {
		[ST_GEN_KAFKA] = 9092, [ST_GEN_MQTT] = 1883, [ST_GEN_NATS] = 4222,
	};

	if (!sets(text, "port") && s->proto != ST_GEN_JSONL)
		CHECK(s->port == ports[s->proto]);
	if (!sets(text, "mss"))
		CHECK(s->mss == (ipv6 ? 1440u : 1460u));
	if (!sets(text, "dgram"))
		CHECK(s->dgram_bytes == (ipv6 ? 1452u : 1472u));
	if (!sets(text, "rate"))
		CHECK(s->rate == 1000);
	if (!sets(text, "keys"))
		CHECK(s->keys == 1000);
	if (!sets(text, "batch"))
		CHECK(s->batch == (s->proto == ST_GEN_KAFKA ? 10u :
				   s->proto == ST_GEN_JSONL && s->udp ? 0u : 1u));
	if (!sets(text, "version"))
		CHECK(s->version == (s->proto == ST_GEN_KAFKA ? 8u : s->proto == ST_GEN_MQTT ? 4u : 0u));
}

static void check_spec(const struct st_gen_stream_spec *s, const char *text, bool ipv6)
{
	CHECK(IN(s->proto, ST_GEN_KAFKA, ST_GEN_JSONL));
	check_name(s, text);
	CHECK(s->port >= 1);
	CHECK(IN(s->shape, ST_GEN_SHAPE_CONSTANT, ST_GEN_SHAPE_TRACE));
	CHECK(terminated(s->trace_path, sizeof(s->trace_path)));
	if (s->shape == ST_GEN_SHAPE_TRACE)
		CHECK(s->trace_path[0] != '\0' && !strchr(s->trace_path, ','));
	CHECK(IN(s->rate, 0, 1e8) && IN(s->amplitude, 0, 1));
	CHECK(s->period_s > 0 && s->period_s <= 1e9);
	CHECK(IN(s->on_s, 0, 1e9) && IN(s->off_s, 0, 1e9) && IN(s->off_rate, 0, 1e8));
	if (s->shape == ST_GEN_SHAPE_BURSTS)
		CHECK(s->on_s + s->off_s > 0);
	CHECK(IN(s->compress, 1e-3, 1e9) && IN(s->peak, 0, 1e8));
	if (s->shape == ST_GEN_SHAPE_TRACE && !sets(text, "peak"))
		CHECK(s->peak == s->rate);
	CHECK(IN(s->keys, 1, 1ull << 40) && IN(s->zipf, 0, 10));
	CHECK(IN(s->conns, 1, ST_GEN_MAX_CONNS));
	CHECK(s->batch <= 10000 && (s->batch >= 1 || (s->proto == ST_GEN_JSONL && s->udp)));
	CHECK(IN(s->linger_ns, 0, (int64_t)1e18));
	CHECK(IN(s->mss, 1, 8960) && IN(s->dgram_bytes, 64, 8952));
	CHECK(IN(s->reorder_p, 0, 1) && IN(s->dup_p, 0, 1));
	if (s->proto == ST_GEN_JSONL && s->udp)
		CHECK(!s->split_random && s->reorder_p == 0);
	/* the bools hold 0 or 1, whatever wrote them */
	CHECK(*(const unsigned char *)&s->headers <= 1 && *(const unsigned char *)&s->verbose <= 1);
	CHECK(*(const unsigned char *)&s->split_random <= 1 && *(const unsigned char *)&s->udp <= 1);
	CHECK(!s->headers || s->proto == ST_GEN_KAFKA || s->proto == ST_GEN_NATS);
	CHECK(!s->verbose || s->proto == ST_GEN_NATS);
	CHECK(IN(s->partitions, 1, 10000) && (s->partitions == 1 || s->proto == ST_GEN_KAFKA));
	if (s->proto == ST_GEN_KAFKA)
		CHECK(IN(s->version, 3, 9));
	else if (s->proto == ST_GEN_MQTT)
		CHECK(s->version == 4 || s->version == 5);
	else
		CHECK(s->version == 0);
	CHECK(IN(s->acks, -1, 1) && (s->acks == 1 || s->proto == ST_GEN_KAFKA));
	CHECK(s->qos <= 2 && (s->qos == 0 || s->proto == ST_GEN_MQTT));
	CHECK(s->ping_ns > 0 && s->ping_ns <= (int64_t)1e18);
	check_changes(s);
	check_defaults(s, text, ipv6);
}

/* Finite rates within the shape's bounds, time moving forward. */
static void check_rates(struct st_gen_rate *rate, const struct st_gen_stream_spec *s)
{
	double lo = 0, hi = s->rate;

	if (s->shape == ST_GEN_SHAPE_DIURNAL) {
		lo = s->rate * (1 - s->amplitude);
		hi = s->rate * (1 + s->amplitude);
	} else if (s->shape == ST_GEN_SHAPE_BURSTS) {
		hi = fmax(s->rate, s->off_rate);
	} else if (s->shape == ST_GEN_SHAPE_TRACE) {
		hi = s->peak;
	}
	for (unsigned k = 0; k < 64; k++) {
		double t_s = 0.37 * k * k, r = st_gen_rate_at(rate, t_s);

		CHECK(isfinite(r));
		CHECK(r >= lo * (1 - 1e-12) - 1e-9 && r <= hi * (1 + 1e-12) + 1e-9);
	}
}

static void fuzz_spec(const char *text)
{
	static struct st_gen_stream_spec v4, v6, again;
	char err4[256], err6[256];
	int rc4, rc6;

	memset(err4, 0x5a, sizeof(err4));
	memset(err6, 0x5a, sizeof(err6));
	rc4 = st_gen_spec_parse(text, false, &v4, err4, sizeof(err4));
	rc6 = st_gen_spec_parse(text, true, &v6, err6, sizeof(err6));
	CHECK(rc4 == rc6);
	if (rc4) {
		CHECK(rc4 == -EINVAL);
		CHECK(terminated(err4, sizeof(err4)) && err4[0] != '\0' && strcmp(err4, err6) == 0);
		return;
	}
	check_spec(&v4, text, false);
	check_spec(&v6, text, true);
	v6.mss = v4.mss;
	v6.dgram_bytes = v4.dgram_bytes;
	CHECK(memcmp(&v4, &v6, sizeof(v4)) == 0);
	CHECK(st_gen_spec_parse(text, false, &again, err4, sizeof(err4)) == 0);
	CHECK(memcmp(&v4, &again, sizeof(v4)) == 0);
	if (v4.shape != ST_GEN_SHAPE_TRACE) {
		struct st_gen_rate *rate = st_gen_rate_create(&v4, err4, sizeof(err4));

		CHECK(rate != NULL);
		check_rates(rate, &v4);
		st_gen_rate_destroy(rate);
	}
}

/* Parses text + suffix (text is at most INPUT_MAX bytes). */
static int duration_with(const char *text, const char *suffix, char *buf, int64_t *ns)
{
	strcpy(buf, text);
	strcat(buf, suffix);
	return st_gen_parse_duration(buf, ns);
}

static void fuzz_duration(const char *text, size_t len, char *buf)
{
	const int64_t untouched = -7;
	int64_t ns = untouched, s_ns = untouched, ms_ns = untouched;
	char last = len ? text[len - 1] : '\0';

	if (st_gen_parse_duration(text, &ns)) {
		CHECK(ns == untouched);
		return;
	}
	CHECK(IN(ns, 0, (int64_t)1e18));
	if (!((last >= '0' && last <= '9') || last == '.'))
		return;
	/* a bare number is seconds */
	CHECK(duration_with(text, "s", buf, &s_ns) == 0 && s_ns == ns);
	CHECK(duration_with(text, "ms", buf, &ms_ns) == 0);
	CHECK(fabs((double)ms_ns * 1000 - (double)ns) <= 1000 + (double)ns * 1e-12);
}

/* gmtime_r of the parsed time, printed in both forms, parses to the same time. */
static void fuzz_start(const char *text, char *buf)
{
	const int64_t untouched = -7;
	int64_t ns = untouched, back = untouched;
	time_t s;
	struct tm tm;

	if (st_gen_parse_start(text, &ns)) {
		CHECK(ns == untouched);
		return;
	}
	CHECK(IN(ns, 0, (ST_GEN_START_MAX_S + 1) * ST_GEN_NS_PER_S - 1));
	CHECK(ns % ST_GEN_NS_PER_US == 0);
	s = (time_t)(ns / ST_GEN_NS_PER_S);
	CHECK(gmtime_r(&s, &tm) != NULL);
	sprintf(buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		(long long)(ns % ST_GEN_NS_PER_S / ST_GEN_NS_PER_US));
	CHECK(st_gen_parse_start(buf, &back) == 0 && back == ns);
	/* the date form names the same second */
	if (text[0] != '@')
		CHECK(strncmp(text, buf, 19) == 0);
	sprintf(buf, "@%lld.%06lld", (long long)s, (long long)(ns % ST_GEN_NS_PER_S / ST_GEN_NS_PER_US));
	back = untouched;
	CHECK(st_gen_parse_start(buf, &back) == 0 && back == ns);
}

static void fuzz_trace(const uint8_t *data, size_t size)
{
	/* the first byte picks compress and peak among the extremes of their ranges */
	static const double compress[] = { 300, 1e-3, 1, 1e9 };
	static const double peak[] = { 1000, 0, 1e8, 0.5 };
	static struct st_gen_stream_spec spec;
	struct st_gen_rate *rate;
	char err[512];
	FILE *f;

	if (size == 0)
		return;
	CHECK(st_gen_spec_parse("nats:trace,shape=trace:fuzz.csv", false, &spec, err, sizeof(err)) == 0);
	spec.compress = compress[data[0] & 3];
	spec.peak = peak[(data[0] >> 2) & 3];
	f = fmemopen((void *)data, size, "r");
	CHECK(f != NULL);
	memset(err, 0x5a, sizeof(err));
	errno = 0;
	rate = st_gen_rate_create_from(&spec, f, err, sizeof(err));
	fclose(f);
	if (!rate) {
		CHECK(errno == EINVAL);
		CHECK(terminated(err, sizeof(err)) && strncmp(err, "shape=trace:fuzz.csv", 20) == 0);
		return;
	}
	check_rates(rate, &spec);
	st_gen_rate_destroy(rate);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *buf;
	size_t len;

	if (size > INPUT_MAX)
		return 0;
	text = malloc(size + 1);
	buf = malloc(size + 64);
	CHECK(text && buf);
	memcpy(text, data, size);
	text[size] = '\0';
	len = strlen(text);
	fuzz_spec(text);
	fuzz_duration(text, len, buf);
	fuzz_start(text, buf);
	fuzz_trace(data, size);
	free(buf);
	free(text);
	return 0;
}
