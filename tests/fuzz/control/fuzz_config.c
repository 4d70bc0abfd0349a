/*
 * Fuzz target: the config loader (libconfig's parser, the wide-integer
 * scan, every validation path), the stream-name builder, the pointer check
 * and the --proto parser, on arbitrary bytes.  The input is the config text;
 * its first bytes double as a topic and a PORT=PROTOCOL text.  Inputs
 * holding '@' are passed over: @include would read other files.
 *
 * Invariants (abort() when violated):
 *   - a failed load leaves an error "file:..." naming the file and errno set;
 *   - a loaded config obeys every documented range and limit;
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
