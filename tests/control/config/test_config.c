/*
 * Config tests.  Expected values come from outside config.c: the issue's
 * defaults (9092 kafka, 1883 mqtt, 4222 nats, 5140 jsonl; p 12, k 64 ...),
 * the text of examples/shadowtap.conf read by hand, bad files written here
 * with their line numbers counted by hand, RFC 6901's own example pointers
 * (section 5), and cut stream names built here from their documented form
 * with XXH3-64 and ST_HASH_SEED (the given hash, not under test).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "control/config/config.h"
#include "shadowtap/hash_id.h"
#include "st_test.h"

#define ERR_BYTES 512

/*
 * st_proto_name() lives in dataplane/codec/codec.c beside st_codec_get(),
 * which refers to the four codecs.  Until they are all in the library these
 * weak, empty stand-ins let this test link; a real codec, when linked in,
 * takes precedence over them.  The config never calls a codec.
 */
__attribute__((weak)) const struct st_codec st_codec_kafka;
__attribute__((weak)) const struct st_codec st_codec_mqtt;
__attribute__((weak)) const struct st_codec st_codec_nats;
__attribute__((weak)) const struct st_codec st_codec_jsonl;

static char err[ERR_BYTES];

/* ---- helpers ---- */

/* A temporary file holding `text`; the caller unlinks and frees the path. */
static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/st-config-test-XXXXXX");
	int fd;
	size_t len = strlen(text);

	CU_ASSERT_FATAL(path != NULL);
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	close(fd);
	return path;
}

static struct st_config *load_text(const char *text)
{
	char *path = write_tmp(text);
	struct st_config *cfg = st_config_load(path, err, sizeof(err));

	if (!cfg)
		fprintf(stderr, "(load error: %s)\n", err);
	unlink(path);
	free(path);
	return cfg;
}

/* Loading `text` fails with EINVAL and "path:line: ...what...". */
static void expect_error(const char *text, unsigned line, const char *what)
{
	char *path = write_tmp(text);
	char prefix[128];
	struct st_config *cfg;
	bool ok;

	errno = 0;
	cfg = st_config_load(path, err, sizeof(err));
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(errno, EINVAL);
	snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
	ok = strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, what) != NULL;
	CU_ASSERT(ok);
	if (!ok)
		fprintf(stderr, "\nwanted \"%s...%s\"\n   got \"%s\"\n", prefix, what, err);
	st_config_destroy(cfg);
	unlink(path);
	free(path);
}

static void expect_port(const struct st_config *cfg, uint16_t port,
			enum st_proto tcp, enum st_proto udp)
{
	CU_ASSERT_EQUAL(st_config_port_proto(cfg, IPPROTO_TCP, port), tcp);
	CU_ASSERT_EQUAL(st_config_port_proto(cfg, IPPROTO_UDP, port), udp);
	CU_ASSERT_EQUAL(st_config_port_proto(cfg, IPPROTO_SCTP, port), ST_PROTO_NONE);
}

/* Name of (proto, topic) and the rule index that named it (-1: none). */
static long name_of(const struct st_config *cfg, enum st_proto proto,
		    const char *topic, char out[ST_CONFIG_NAME_BYTES])
{
	const struct st_config_stream *rule = (const void *)1;
	int rc = st_config_stream_name(cfg, proto, (const uint8_t *)topic,
				       strlen(topic), out, &rule);

	CU_ASSERT_EQUAL(rc, 0);
	if (!rule)
		return -1;
	for (size_t i = 0; i < st_config_stream_count(cfg); i++)
		if (st_config_stream_at(cfg, i) == rule)
			return (long)i;
	CU_FAIL("rule outside the config");
	return -2;
}

/* The documented cut form, built here: prefix, "~", 16 hex of XXH3-64. */
static void cut_name(const char *prefix, const void *topic, size_t len,
		     char out[ST_CONFIG_NAME_BYTES])
{
	snprintf(out, ST_CONFIG_NAME_BYTES, "%s~%016llx", prefix,
		 (unsigned long long)XXH3_64bits_withSeed(topic, len, ST_HASH_SEED));
}

/* ---- defaults ---- */

static void test_defaults_without_file(void)
{
	struct st_config *cfg = st_config_default();
	const struct st_config_params *p;
	const struct st_config_fields *f;
	struct st_config_port ports[8];

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	p = st_config_params(cfg);
	CU_ASSERT_EQUAL(p->hll_precision, 12);
	CU_ASSERT_EQUAL(p->heavy_hitters, 64);
	CU_ASSERT_DOUBLE_EQUAL(p->quantile_alpha, 0.01, 1e-15);
	CU_ASSERT_EQUAL(p->epoch_ms, 1000);
	CU_ASSERT_EQUAL(p->ticks_per_epoch, 100);
	CU_ASSERT_EQUAL(p->max_streams_per_core, 1024);
	CU_ASSERT_EQUAL(p->flow_table_entries, 65536);
	CU_ASSERT_EQUAL(p->flow_idle_timeout_ms, 60000);
	CU_ASSERT_EQUAL(p->reassembly_bytes_per_core, 64ull << 20);
	f = st_config_default_fields(cfg);
	CU_ASSERT_EQUAL(f->n_keys, 0);
	CU_ASSERT_EQUAL(f->n_numerics, 0);
	CU_ASSERT_EQUAL(st_config_stream_count(cfg), 0);
	CU_ASSERT_PTR_NULL(st_config_stream_at(cfg, 0));
	CU_ASSERT_PTR_NULL(st_config_source(cfg));
	CU_ASSERT_EQUAL(st_config_stream_criticality(NULL), ST_CRIT_MEDIUM);
	CU_ASSERT_PTR_EQUAL(st_config_stream_fields(cfg, NULL), f);

	expect_port(cfg, 9092, ST_PROTO_KAFKA, ST_PROTO_NONE);
	expect_port(cfg, 1883, ST_PROTO_MQTT, ST_PROTO_NONE);
	expect_port(cfg, 4222, ST_PROTO_NATS, ST_PROTO_NONE);
	expect_port(cfg, 5140, ST_PROTO_JSONL, ST_PROTO_JSONL);
	expect_port(cfg, 0, ST_PROTO_NONE, ST_PROTO_NONE);
	expect_port(cfg, 80, ST_PROTO_NONE, ST_PROTO_NONE);
	expect_port(cfg, 9093, ST_PROTO_NONE, ST_PROTO_NONE);
	expect_port(cfg, 65535, ST_PROTO_NONE, ST_PROTO_NONE);

	/* ascending by port, TCP before UDP */
	CU_ASSERT_EQUAL_FATAL(st_config_ports(cfg, ports, 8), 5);
	CU_ASSERT(ports[0].port == 1883 && ports[0].transport == ST_CONFIG_TCP &&
		  ports[0].proto == ST_PROTO_MQTT);
	CU_ASSERT(ports[1].port == 4222 && ports[1].transport == ST_CONFIG_TCP &&
		  ports[1].proto == ST_PROTO_NATS);
	CU_ASSERT(ports[2].port == 5140 && ports[2].transport == ST_CONFIG_TCP &&
		  ports[2].proto == ST_PROTO_JSONL);
	CU_ASSERT(ports[3].port == 5140 && ports[3].transport == ST_CONFIG_UDP &&
		  ports[3].proto == ST_PROTO_JSONL);
	CU_ASSERT(ports[4].port == 9092 && ports[4].transport == ST_CONFIG_TCP &&
		  ports[4].proto == ST_PROTO_KAFKA);
	CU_ASSERT_EQUAL(st_config_ports(cfg, ports, 2), 5);  /* count past max */
	CU_ASSERT_EQUAL(st_config_port_table(cfg, IPPROTO_TCP)[9092], ST_PROTO_KAFKA);
	CU_ASSERT_EQUAL(st_config_port_table(cfg, IPPROTO_UDP)[9092], ST_PROTO_NONE);
	CU_ASSERT_EQUAL(st_config_port_table(cfg, IPPROTO_UDP)[5140], ST_PROTO_JSONL);
	CU_ASSERT_PTR_NULL(st_config_port_table(cfg, IPPROTO_SCTP));
	st_config_destroy(cfg);
	st_config_destroy(NULL);
}

/* ---- the example file ---- */

static void test_example_equals_its_text(void)
{
	struct st_config *cfg = st_config_load(ST_EXAMPLE_CONF, err, sizeof(err));
	struct st_config *def = st_config_default();
	const struct st_config_stream *r;
	const struct st_config_params *p;

	if (!cfg)
		fprintf(stderr, "example: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(def);
	CU_ASSERT_STRING_EQUAL(st_config_source(cfg), ST_EXAMPLE_CONF);

	/* the file says it shows the defaults: its ports and numbers are them */
	CU_ASSERT_EQUAL(memcmp(st_config_params(cfg), st_config_params(def),
			       sizeof(struct st_config_params)), 0);
	for (uint32_t port = 0; port < 65536; port++) {
		CU_ASSERT_EQUAL(st_config_port_proto(cfg, IPPROTO_TCP, (uint16_t)port),
				st_config_port_proto(def, IPPROTO_TCP, (uint16_t)port));
		CU_ASSERT_EQUAL(st_config_port_proto(cfg, IPPROTO_UDP, (uint16_t)port),
				st_config_port_proto(def, IPPROTO_UDP, (uint16_t)port));
	}
	/* ... and as the text writes them */
	p = st_config_params(cfg);
	CU_ASSERT_EQUAL(p->hll_precision, 12);
	CU_ASSERT_EQUAL(p->heavy_hitters, 64);
	CU_ASSERT_DOUBLE_EQUAL(p->quantile_alpha, 0.01, 1e-15);
	CU_ASSERT_EQUAL(p->epoch_ms, 1000);
	CU_ASSERT_EQUAL(p->ticks_per_epoch, 100);
	CU_ASSERT_EQUAL(p->max_streams_per_core, 1024);
	CU_ASSERT_EQUAL(p->flow_table_entries, 65536);
	CU_ASSERT_EQUAL(p->flow_idle_timeout_ms, 60000);
	CU_ASSERT_EQUAL(p->reassembly_bytes_per_core, 67108864);
	CU_ASSERT_EQUAL(st_config_default_fields(cfg)->n_keys, 0);
	CU_ASSERT_EQUAL(st_config_default_fields(cfg)->n_numerics, 0);

	CU_ASSERT_EQUAL_FATAL(st_config_stream_count(cfg), 3);
	r = st_config_stream_at(cfg, 0);
	CU_ASSERT_STRING_EQUAL(r->name, "orders");
	CU_ASSERT_EQUAL(r->proto, ST_PROTO_KAFKA);
	CU_ASSERT_STRING_EQUAL(r->match, "orders*");
	CU_ASSERT_EQUAL(r->fields.n_keys, 1);
	CU_ASSERT_STRING_EQUAL(r->fields.keys[0], "/customer/id");
	CU_ASSERT_EQUAL(r->fields.n_numerics, 1);
	CU_ASSERT_STRING_EQUAL(r->fields.numerics[0], "/amount");
	CU_ASSERT_EQUAL(r->criticality, ST_CRIT_HIGH);
	CU_ASSERT(r->schema && st_config_stream_schema(r));  /* schema = true */
	r = st_config_stream_at(cfg, 1);
	CU_ASSERT_STRING_EQUAL(r->name, "sensors");
	CU_ASSERT(r->schema);                                 /* the default */
	CU_ASSERT_EQUAL(r->proto, ST_PROTO_MQTT);
	CU_ASSERT_STRING_EQUAL(r->match, "sensors/*/temperature");
	CU_ASSERT_EQUAL(r->fields.n_keys, 2);
	CU_ASSERT_STRING_EQUAL(r->fields.keys[0], "/device");
	CU_ASSERT_STRING_EQUAL(r->fields.keys[1], "/site");
	CU_ASSERT_EQUAL(r->fields.n_numerics, 0);
	CU_ASSERT_EQUAL(r->criticality, ST_CRIT_LOW);
	r = st_config_stream_at(cfg, 2);
	CU_ASSERT_STRING_EQUAL(r->name, "app-logs");
	CU_ASSERT_EQUAL(r->proto, ST_PROTO_JSONL);
	CU_ASSERT_STRING_EQUAL(r->match, "*:5140");
	CU_ASSERT_EQUAL(r->fields.n_keys, 0);
	CU_ASSERT_EQUAL(r->criticality, ST_CRIT_MEDIUM);
	st_config_destroy(cfg);
	st_config_destroy(def);
}

/* ---- every error class at its line ---- */

static void test_error_syntax(void)
{
	expect_error("defaults = {\n"
		     "  hll_precision = 12;\n"
		     "  heavy_hitters 64;\n"  /* no '=' */
		     "};\n", 3, "syntax error");
	/* the group is never closed: the parser stops at the end, line 4 */
	expect_error("# comment\n"
		     "ports = { map = ( { port = 9092; protocol = \"kafka\" } );\n"
		     "\n", 4, "syntax error");
	expect_error("streams = { rules = (\n"
		     "  { name = \"a\"; protocol = \"kafka\"; }\n"
		     "  { name = \"b\"; protocol = \"kafka\"; }\n"  /* no ',' */
		     "); };\n", 3, "syntax error");
	expect_error("defaults = { epoch_ms = 1000; };\n"
		     "defaults = { epoch_ms = 2000; };\n", 2, "duplicate setting");
}

static void test_error_unknown_setting(void)
{
	expect_error("# typo in a section name\n"
		     "default = { };\n", 2,
		     "unknown setting \"default\" in the top level (known: ports, streams, defaults, "
		     "thresholds, detectors, retention, control, pools, backends, actuators, policy)");
	expect_error("defaults = {\n"
		     "  hll_precision = 12;\n"
		     "\n"
		     "  heavy_hiters = 64;\n"
		     "};\n", 4, "unknown setting \"heavy_hiters\" in defaults");
	expect_error("ports = {\n"
		     "  map = (\n"
		     "    { port = 9092; protocol = \"kafka\"; },\n"
		     "    { port = 9093;\n"
		     "      protcol = \"kafka\"; }\n"
		     "  );\n"
		     "};\n", 5, "unknown setting \"protcol\" in a ports.map entry");
	expect_error("streams = {\n"
		     "  rule = ( );\n"
		     "};\n", 2, "unknown setting \"rule\" in streams (known: rules)");
	expect_error("streams = { rules = (\n"
		     "  { name = \"a\"; protocol = \"kafka\";\n"
		     "    key_field = [ \"/x\" ]; }\n"
		     "); };\n", 3, "unknown setting \"key_field\" in a streams.rules entry");
}

static void test_error_wrong_type(void)
{
	expect_error("streams = { rules = (\n"
		     "  { name = \"a\"; protocol = \"jsonl\";\n"
		     "    schema = \"no\"; }\n"
		     "); };\n", 3, "schema must be a boolean (true or false), not a string");
	expect_error("streams = { rules = (\n"
		     "  { name = \"a\"; protocol = \"jsonl\"; schema = 0; }\n"
		     "); };\n", 2, "schema must be a boolean");
	expect_error("defaults = {\n"
		     "  schema = false;\n"
		     "};\n", 2, "schema");   /* per stream rule only */
	expect_error("defaults = {\n"
		     "  hll_precision = \"12\";\n"
		     "};\n", 2, "hll_precision must be an integer, not a string");
	expect_error("defaults = {\n"
		     "  epoch_ms = 1000;\n"
		     "  quantile_alpha = \"0.01\";\n"
		     "};\n", 3, "quantile_alpha must be a number, not a string");
	expect_error("\n"
		     "defaults = [ 1 ];\n", 2, "defaults must be a group");
	expect_error("defaults = {\n"
		     "  key_fields = \"/user/id\";\n"
		     "};\n", 2, "key_fields must be an array of JSON pointers");
	expect_error("defaults = {\n"
		     "  numeric_fields = [ 1, 2 ];\n"
		     "};\n", 2, "numeric_fields[0]: numeric_fields must hold strings");
	expect_error("ports = {\n"
		     "  map = { port = 9092; };\n"
		     "};\n", 2, "map must be a list of groups");
	expect_error("streams = { rules = (\n"
		     "  { name = 7; protocol = \"kafka\"; }\n"
		     "); };\n", 2, "name must be a string, not an integer");
	expect_error("streams = { rules = (\n"
		     "  { name = \"a\"; protocol = \"kafka\"; },\n"
		     "  \"orders\" ); };\n", 3, "rules[1]: each entry of rules must be a group");
}

static void test_error_out_of_range(void)
{
	expect_error("defaults = {\n"
		     "  hll_precision = 17;\n"
		     "};\n", 2, "hll_precision = 17 is out of range 10..16");
	expect_error("defaults = { hll_precision = 9; };\n", 1,
		     "hll_precision = 9 is out of range 10..16");
	expect_error("defaults = {\n"
		     "\n"
		     "  heavy_hitters = 3;\n"
		     "};\n", 3, "heavy_hitters = 3 is out of range 4..4096");
	expect_error("defaults = {\n"
		     "  quantile_alpha = 0.6;\n"
		     "};\n", 2, "quantile_alpha = 0.6 is out of range");
	expect_error("defaults = {\n"
		     "  ticks_per_epoch = 10001;\n"
		     "};\n", 2, "ticks_per_epoch = 10001 is out of range 1..10000");
	expect_error("defaults = {\n"
		     "  max_streams_per_core = 0;\n"
		     "};\n", 2, "max_streams_per_core = 0 is out of range 1..65536");
	expect_error("defaults = {\n"
		     "  reassembly_bytes_per_core = -1;\n"
		     "};\n", 2, "reassembly_bytes_per_core = -1 is out of range");
	expect_error("defaults = {\n"
		     "  reassembly_bytes_per_core = 68719476737L;\n"
		     "};\n", 2, "is out of range 32768..68719476736");
	/* 3 does not divide 10^9 ns */
	expect_error("defaults = {\n"
		     "  epoch_ms = 1000;\n"
		     "  ticks_per_epoch = 3;\n"
		     "};\n", 3, "does not divide the epoch");
	/* libconfig 1.5 would read 4294976388 as 9092: refused */
	expect_error("ports = { map = (\n"
		     "  { port = 4294976388; protocol = \"kafka\"; }\n"
		     "); };\n", 2, "integer 4294976388 does not fit in 32 bits");
	expect_error("# 5000000000 in a comment is fine, \"5000000000\" in a string too\n"
		     "defaults = {\n"
		     "  reassembly_bytes_per_core = 5000000000;\n"
		     "};\n", 3, "write it with the L suffix (5000000000L)");
	expect_error("defaults = {\n"
		     "  hll_precision = 0x100000000C;\n"
		     "};\n", 2, "does not fit in 32 bits");
}

static void test_wide_ints_with_suffix_accepted(void)
{
	struct st_config *cfg = load_text(
		"/* 99999999999 in a block comment\n"
		"   spanning lines */\n"
		"defaults = {\n"
		"  reassembly_bytes_per_core = 68719476736L; // 2^36\n"
		"  quantile_alpha = 5e-3;\n"
		"  epoch_ms = 2147483647 ;\n"
		"};\n");

	CU_ASSERT_PTR_NULL(cfg);  /* epoch_ms is out of range, not wrapped */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":6: epoch_ms = 2147483647 is out of range"));
	cfg = load_text("defaults = {\n"
			"  reassembly_bytes_per_core = 68719476736L;\n"
			"  quantile_alpha = 5e-3;\n"
			"  epoch_ms = 60000;\n"
			"  ticks_per_epoch = 600;\n"
			"};\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(st_config_params(cfg)->reassembly_bytes_per_core, 1ull << 36);
	CU_ASSERT_DOUBLE_EQUAL(st_config_params(cfg)->quantile_alpha, 0.005, 1e-15);
	CU_ASSERT_EQUAL(st_config_params(cfg)->epoch_ms, 60000);
	CU_ASSERT_EQUAL(st_config_params(cfg)->ticks_per_epoch, 600);
	/* what the file leaves out keeps its default */
	CU_ASSERT_EQUAL(st_config_params(cfg)->hll_precision, 12);
	expect_port(cfg, 9092, ST_PROTO_KAFKA, ST_PROTO_NONE);
	st_config_destroy(cfg);
}

/* The ends of every range are accepted (the ranges in config.h). */
static void test_range_ends_accepted(void)
{
	struct st_config *cfg = load_text(
		"defaults = {\n"
		"  hll_precision = 16; heavy_hitters = 4096; quantile_alpha = 0.5;\n"
		"  epoch_ms = 3600000; ticks_per_epoch = 10000;\n"
		"  max_streams_per_core = 65536; flow_table_entries = 16777216;\n"
		"  flow_idle_timeout_ms = 86400000;\n"
		"  reassembly_bytes_per_core = 68719476736L;\n"
		"};\n"
		"retention = { coarse_step_s = 3600; };  # a 1 h epoch needs a 1 h step\n");
	const struct st_config_params *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	p = st_config_params(cfg);
	CU_ASSERT(p->hll_precision == 16 && p->heavy_hitters == 4096 &&
		  p->quantile_alpha == 0.5 && p->epoch_ms == 3600000 &&
		  p->ticks_per_epoch == 10000 && p->max_streams_per_core == 65536 &&
		  p->flow_table_entries == 16777216 &&
		  p->flow_idle_timeout_ms == 86400000 &&
		  p->reassembly_bytes_per_core == 68719476736ull);
	st_config_destroy(cfg);
	cfg = load_text("defaults = {\n"
			"  hll_precision = 10; heavy_hitters = 4; quantile_alpha = 1e-9;\n"
			"  epoch_ms = 10; ticks_per_epoch = 1;\n"
			"  max_streams_per_core = 1; flow_table_entries = 1024;\n"
			"  flow_idle_timeout_ms = 100;\n"
			"  reassembly_bytes_per_core = 32768;\n"
			"};\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	p = st_config_params(cfg);
	CU_ASSERT(p->hll_precision == 10 && p->heavy_hitters == 4 &&
		  p->quantile_alpha == 1e-9 && p->epoch_ms == 10 &&
		  p->ticks_per_epoch == 1 && p->max_streams_per_core == 1 &&
		  p->flow_table_entries == 1024 && p->flow_idle_timeout_ms == 100 &&
		  p->reassembly_bytes_per_core == 32768);
	st_config_destroy(cfg);
	/* one past each end */
	expect_error("defaults = { epoch_ms = 9; };\n", 1, "epoch_ms = 9 is out of range 10..3600000");
	expect_error("defaults = { epoch_ms = 3600001; };\n", 1, "out of range");
	expect_error("defaults = { flow_table_entries = 1023; };\n", 1, "out of range 1024..16777216");
	expect_error("defaults = { flow_table_entries = 16777217; };\n", 1, "out of range");
	expect_error("defaults = { flow_idle_timeout_ms = 99; };\n", 1, "out of range 100..86400000");
	expect_error("defaults = { flow_idle_timeout_ms = 86400001; };\n", 1, "out of range");
	expect_error("defaults = { reassembly_bytes_per_core = 32767; };\n", 1, "out of range");
	expect_error("defaults = { max_streams_per_core = 65537; };\n", 1, "out of range");
	expect_error("defaults = { heavy_hitters = 4097; };\n", 1, "out of range 4..4096");
	expect_error("defaults = { quantile_alpha = 9e-10; };\n", 1, "out of range");
	expect_error("defaults = { ticks_per_epoch = 0; };\n", 1, "out of range 1..10000");
}

static void test_error_bad_protocol(void)
{
	expect_error("ports = { map = (\n"
		     "  { port = 9092; protocol = \"kafka\"; },\n"
		     "  { port = 9093; protocol = \"kafak\"; }\n"
		     "); };\n", 3, "unknown protocol \"kafak\" (kafka, mqtt, nats or jsonl)");
	expect_error("streams = { rules = (\n"
		     "  { name = \"a\";\n"
		     "    protocol = \"amqp\"; }\n"
		     "); };\n", 3, "unknown protocol \"amqp\"");
	expect_error("streams = { rules = (\n"
		     "  { name = \"a\"; match = \"*\"; }\n"
		     "); };\n", 2, "streams.rules entry lacks \"protocol\"");
	expect_error("ports = { map = (\n"
		     "  { port = 9092; protocol = \"none\"; }\n"
		     "); };\n", 2, "unknown protocol \"none\"");
	expect_error("ports = { map = (\n"
		     "  { port = 9092; protocol = \"kafka\";\n"
		     "    transport = \"udp\"; }\n"
		     "); };\n", 3, "kafka runs over TCP only");
	expect_error("ports = { map = (\n"
		     "  { port = 5140; protocol = \"jsonl\"; transport = \"sctp\"; }\n"
		     "); };\n", 2, "unknown transport \"sctp\" (tcp, udp or both)");
	expect_error("streams = { rules = (\n"
		     "  { name = \"a\"; protocol = \"mqtt\";\n"
		     "    criticality = \"urgent\"; }\n"
		     "); };\n", 3, "unknown criticality \"urgent\"");
}

static void test_error_bad_pointer(void)
{
	expect_error("defaults = {\n"
		     "  key_fields = [ \"/ok\",\n"
		     "                 \"user/id\" ];\n"
		     "};\n", 3, "key_fields[1]: bad JSON pointer \"user/id\": a JSON pointer starts with '/'");
	expect_error("streams = { rules = (\n"
		     "  { name = \"a\"; protocol = \"nats\";\n"
		     "    numeric_fields = [ \"/a~2b\" ]; }\n"
		     "); };\n", 3, "'~' must be followed by '0' or '1'");
	expect_error("defaults = {\n"
		     "  key_fields = [ \"\" ];\n"
		     "};\n", 2, "key_fields[0]: bad JSON pointer \"\": empty");
	expect_error("defaults = {\n"
		     "  key_fields = [ \"/a\", \"/a\" ];\n"
		     "};\n", 2, "key_fields[1]: duplicate \"/a\"");
}

static void test_error_duplicate_stream_name(void)
{
	expect_error("streams = { rules = (\n"
		     "  { name = \"orders\"; protocol = \"kafka\"; match = \"orders\"; },\n"
		     "  { name = \"other\"; protocol = \"mqtt\"; },\n"
		     "  {\n"
		     "    name = \"orders\"; protocol = \"kafka\"; match = \"orders-*\"; }\n"
		     "); };\n", 5, "duplicate stream name \"orders\" (first at line 2)");
	expect_error("streams = { rules = (\n"
		     "  { name = \"kafka:orders\"; protocol = \"kafka\"; }\n"
		     "); };\n", 2, "starts with \"kafka:\"");
	expect_error("streams = { rules = (\n"
		     "  { name = \"\"; protocol = \"kafka\"; }\n"
		     "); };\n", 2, "is 0 bytes (1..63 allowed)");
	expect_error("streams = { rules = (\n"
		     "  { name = \"0123456789012345678901234567890123456789012345678901234567890123\";\n"
		     "    protocol = \"kafka\"; }\n"
		     "); };\n", 2, "is 64 bytes (1..63 allowed)");
	expect_error("streams = { rules = (\n"
		     "  { protocol = \"kafka\"; }\n"
		     "); };\n", 2, "streams.rules entry lacks \"name\"");
	expect_error("streams = { rules = (\n"
		     "  { name = \"tab\\there\"; protocol = \"kafka\"; }\n"
		     "); };\n", 2, "not UTF-8 text");
}

static void test_error_too_many_key_fields(void)
{
	expect_error("streams = { rules = (\n"
		     "  { name = \"m\"; protocol = \"mqtt\";\n"
		     "    key_fields = [ \"/a\", \"/b\", \"/c\", \"/d\", \"/e\" ]; }\n"
		     "); };\n", 3, "too many key_fields: 5 (at most 4)");
	expect_error("streams = { rules = (\n"
		     "  { name = \"k\"; protocol = \"kafka\";\n"
		     "    key_fields = [ \"/a\", \"/b\", \"/c\", \"/d\" ]; }\n"
		     "); };\n", 3, "too many key_fields: 4 (at most 3: a Kafka stream also keys on the record key)");
	expect_error("defaults = {\n"
		     "  key_fields = [ \"/a\", \"/b\", \"/c\", \"/d\" ];\n"
		     "};\n", 2, "too many key_fields: 4 (at most 3");
	expect_error("defaults = {\n"
		     "  numeric_fields = [ \"/a\", \"/b\", \"/c\", \"/d\", \"/e\" ];\n"
		     "};\n", 2, "too many numeric_fields: 5 (at most 4)");
}

static void test_error_bad_port(void)
{
	expect_error("ports = { map = (\n"
		     "  { port = 0; protocol = \"kafka\"; }\n"
		     "); };\n", 2, "port = 0 is out of range 1..65535");
	expect_error("ports = { map = (\n"
		     "  { port = 9092; protocol = \"kafka\"; },\n"
		     "  { port = 65536; protocol = \"kafka\"; }\n"
		     "); };\n", 3, "port = 65536 is out of range 1..65535");
	expect_error("ports = { map = (\n"
		     "  { protocol = \"kafka\"; }\n"
		     "); };\n", 2, "ports.map entry lacks \"port\"");
	expect_error("ports = { map = (\n"
		     "  { port = \"9092\"; protocol = \"kafka\"; }\n"
		     "); };\n", 2, "port must be an integer, not a string");
	expect_error("ports = { map = (\n"
		     "  { port = 5140; protocol = \"jsonl\"; transport = \"udp\"; },\n"
		     "  { port = 9092; protocol = \"kafka\"; },\n"
		     "  { port = 5140; protocol = \"jsonl\"; }\n"
		     "); };\n", 4, "port 5140/udp is already mapped at line 2");
}

static void test_error_file_and_include(void)
{
	char *inc = write_tmp("\n"
			      "hll_precison = 12;\n");
	char text[256], prefix[160];
	struct st_config *cfg;
	char *path;

	errno = 0;
	cfg = st_config_load("/nonexistent/shadowtap.conf", err, sizeof(err));
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/shadowtap.conf: No such file or directory");

	cfg = st_config_load("/tmp", err, sizeof(err));
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(errno, EISDIR);
	CU_ASSERT_STRING_EQUAL(err, "/tmp: Is a directory");

	/* a setting from an included file is reported at its own file:line */
	snprintf(text, sizeof(text), "defaults = {\n  @include \"%s\"\n};\n",
		 strrchr(inc, '/') + 1);  /* relative to the including file */
	path = write_tmp(text);
	cfg = st_config_load(path, err, sizeof(err));
	CU_ASSERT_PTR_NULL(cfg);
	snprintf(prefix, sizeof(prefix), "%s:2: unknown setting \"hll_precison\"", inc);
	CU_ASSERT_EQUAL(strncmp(err, prefix, strlen(prefix)), 0);
	unlink(path);
	unlink(inc);
	free(path);
	free(inc);

	/* past ST_CONFIG_FILE_MAX (4 MiB): EFBIG, even if it is all comment */
	{
		char *big = malloc(ST_CONFIG_FILE_MAX + 2);

		CU_ASSERT_PTR_NOT_NULL_FATAL(big);
		memset(big, '#', ST_CONFIG_FILE_MAX + 1);
		for (size_t i = 63; i <= ST_CONFIG_FILE_MAX; i += 64)
			big[i] = '\n';  /* 64-byte comment lines */
		big[ST_CONFIG_FILE_MAX + 1] = '\0';
		path = write_tmp(big);
		cfg = st_config_load(path, err, sizeof(err));
		CU_ASSERT_PTR_NULL(cfg);
		CU_ASSERT_EQUAL(errno, EFBIG);
		unlink(path);
		free(path);
		big[ST_CONFIG_FILE_MAX] = '\0';  /* exactly 4 MiB: loads */
		path = write_tmp(big);
		cfg = st_config_load(path, err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL(cfg);
		if (!cfg)
			fprintf(stderr, "4 MiB: %s (errno %d)\n", err, errno);
		st_config_destroy(cfg);
		unlink(path);
		free(path);
		free(big);
	}

	/* a small err buffer truncates; a zero-length one is never written */
	path = write_tmp("defaults = { hll_precision = 20; };\n");
	cfg = st_config_load(path, err, 8);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(strlen(err), 7);
	cfg = st_config_load(path, NULL, 0);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(errno, EINVAL);
	unlink(path);
	free(path);
}

/* ---- port map ---- */

static void test_port_map_from_file(void)
{
	struct st_config *cfg = load_text(
		"ports = { map = (\n"
		"  { port = 9093; protocol = \"kafka\"; },\n"
		"  { port = 8883; protocol = \"mqtt\"; transport = \"tcp\"; },\n"
		"  { port = 6000; protocol = \"jsonl\"; transport = \"udp\"; },\n"
		"  { port = 6001; protocol = \"jsonl\"; transport = \"tcp\"; },\n"
		"  { port = 6002; protocol = \"jsonl\"; },\n"
		"  { port = 6000; protocol = \"nats\"; transport = \"tcp\"; },\n"
		"  { port = 1; protocol = \"nats\"; },\n"
		"  { port = 65535; protocol = \"mqtt\"; }\n"
		"); };\n");
	struct st_config_port list[16];

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	/* the file's map replaces the built-in one */
	expect_port(cfg, 9092, ST_PROTO_NONE, ST_PROTO_NONE);
	expect_port(cfg, 1883, ST_PROTO_NONE, ST_PROTO_NONE);
	expect_port(cfg, 5140, ST_PROTO_NONE, ST_PROTO_NONE);
	expect_port(cfg, 9093, ST_PROTO_KAFKA, ST_PROTO_NONE);
	expect_port(cfg, 8883, ST_PROTO_MQTT, ST_PROTO_NONE);
	expect_port(cfg, 6000, ST_PROTO_NATS, ST_PROTO_JSONL);
	expect_port(cfg, 6001, ST_PROTO_JSONL, ST_PROTO_NONE);
	expect_port(cfg, 6002, ST_PROTO_JSONL, ST_PROTO_JSONL);
	expect_port(cfg, 1, ST_PROTO_NATS, ST_PROTO_NONE);
	expect_port(cfg, 65535, ST_PROTO_MQTT, ST_PROTO_NONE);
	CU_ASSERT_EQUAL(st_config_ports(cfg, list, 16), 9);
	st_config_destroy(cfg);

	cfg = load_text("ports = { map = [ ]; };\n");  /* an empty map is a map */
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(st_config_ports(cfg, list, 16), 0);
	st_config_destroy(cfg);
	cfg = load_text("ports = { };\n");  /* no map: the built-in one */
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(st_config_ports(cfg, list, 16), 5);
	st_config_destroy(cfg);
}

/* ---- stream names ---- */

/* `schema` per rule: false only where written; streams no rule names walk
 * their schema.  The worker's stream definition carries it. */
static void test_stream_schema_key(void)
{
	struct st_config *cfg = load_text(
		"streams = { rules = (\n"
		"  { name = \"lazy\"; protocol = \"jsonl\"; match = \"*:5140\";\n"
		"    key_fields = [ \"/user/id\" ]; schema = false; },\n"
		"  { name = \"full\"; protocol = \"jsonl\"; schema = true; },\n"
		"  { name = \"dflt\"; protocol = \"mqtt\"; }\n"
		"); };\n");
	const struct st_config_stream *rule = NULL;
	char name[ST_CONFIG_NAME_BYTES];

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT(!st_config_stream_at(cfg, 0)->schema);
	CU_ASSERT(st_config_stream_at(cfg, 1)->schema);
	CU_ASSERT(st_config_stream_at(cfg, 2)->schema);
	CU_ASSERT(st_config_stream_schema(NULL));
	CU_ASSERT_EQUAL(st_config_stream_name(cfg, ST_PROTO_JSONL,
					      (const uint8_t *)"10.0.0.2:5140", 13,
					      name, &rule), 0);
	CU_ASSERT_STRING_EQUAL(name, "lazy");
	CU_ASSERT(rule && !st_config_stream_schema(rule));
	CU_ASSERT_EQUAL(st_config_stream_name(cfg, ST_PROTO_JSONL,
					      (const uint8_t *)"10.0.0.2:5141", 13,
					      name, &rule), 0);
	CU_ASSERT(rule && st_config_stream_schema(rule));
	st_config_destroy(cfg);
}

static void test_unmatched_names(void)
{
	struct st_config *cfg = st_config_default();
	char name[ST_CONFIG_NAME_BYTES], want[ST_CONFIG_NAME_BYTES];
	char topic[300], prefix[ST_CONFIG_NAME_BYTES];
	struct in_addr v4;
	struct in6_addr v6;
	const struct st_config_stream *rule;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_KAFKA, "orders", name), -1);
	CU_ASSERT_STRING_EQUAL(name, "kafka:orders");
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_MQTT, "a/b/c", name), -1);
	CU_ASSERT_STRING_EQUAL(name, "mqtt:a/b/c");
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_NATS, "", name), -1);
	CU_ASSERT_STRING_EQUAL(name, "nats:");
	CU_ASSERT_EQUAL(st_config_stream_name(cfg, ST_PROTO_NATS, NULL, 0, name, NULL), 0);
	CU_ASSERT_STRING_EQUAL(name, "nats:");

	/* JSONL topics are the destination's text */
	inet_pton(AF_INET, "10.0.0.2", &v4);
	CU_ASSERT_EQUAL(st_config_jsonl_topic(AF_INET, &v4, 5140, topic, sizeof(topic)), 13);
	CU_ASSERT_STRING_EQUAL(topic, "10.0.0.2:5140");
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_JSONL, topic, name), -1);
	CU_ASSERT_STRING_EQUAL(name, "jsonl:10.0.0.2:5140");
	inet_pton(AF_INET6, "2001:db8::1", &v6);
	CU_ASSERT_EQUAL(st_config_jsonl_topic(AF_INET6, &v6, 5140, topic, sizeof(topic)), 18);
	CU_ASSERT_STRING_EQUAL(topic, "[2001:db8::1]:5140");
	CU_ASSERT_EQUAL(st_config_jsonl_topic(AF_INET6, &v6, 5140, topic, 18), -ENOSPC);
	CU_ASSERT_EQUAL(st_config_jsonl_topic(AF_UNIX, &v6, 5140, topic, 64), -EINVAL);

	/* 63 bytes: as is; 64: cut to 46 bytes + "~" + 16 hex */
	memset(topic, 'x', sizeof(topic));
	topic[57] = '\0';  /* "kafka:" + 57 = 63 */
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_KAFKA, topic, name), -1);
	CU_ASSERT_EQUAL(strlen(name), 63);
	CU_ASSERT_EQUAL(strncmp(name, "kafka:xxx", 9), 0);
	CU_ASSERT_EQUAL(strchr(name, '~'), NULL);
	topic[57] = 'y';
	topic[58] = '\0';
	name_of(cfg, ST_PROTO_KAFKA, topic, name);
	cut_name("kafka:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", topic, 58, want);
	CU_ASSERT_EQUAL(strlen("kafka:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), 46);
	CU_ASSERT_STRING_EQUAL(name, want);
	CU_ASSERT_EQUAL(strlen(name), 63);

	/* two long topics with one prefix get two names */
	memset(topic, 'p', 299);
	topic[299] = '\0';
	name_of(cfg, ST_PROTO_MQTT, topic, want);
	topic[298] = 'q';
	name_of(cfg, ST_PROTO_MQTT, topic, name);
	CU_ASSERT_EQUAL(strncmp(name, want, 46), 0);
	CU_ASSERT_STRING_NOT_EQUAL(name, want);

	/* the cut never splits a UTF-8 character: "mqtt:" + 20 x "é" = 45 bytes */
	topic[0] = '\0';
	for (int i = 0; i < 30; i++)
		strcat(topic, "\xc3\xa9");
	name_of(cfg, ST_PROTO_MQTT, topic, name);
	strcpy(prefix, "mqtt:");
	for (int i = 0; i < 20; i++)
		strcat(prefix, "\xc3\xa9");
	cut_name(prefix, topic, 60, want);
	CU_ASSERT_STRING_EQUAL(name, want);
	CU_ASSERT_EQUAL(strlen(name), 62);

	/* bytes that are not UTF-8 text become '?' and force the hash */
	CU_ASSERT_EQUAL(st_config_stream_name(cfg, ST_PROTO_MQTT,
					      (const uint8_t *)"a\x01" "b\xff", 4, name, &rule), 0);
	CU_ASSERT_PTR_NULL(rule);
	cut_name("mqtt:a?b?", "a\x01" "b\xff", 4, want);
	CU_ASSERT_STRING_EQUAL(name, want);
	CU_ASSERT_EQUAL(st_config_stream_name(cfg, ST_PROTO_KAFKA,
					      (const uint8_t *)"a\0b", 3, name, NULL), 0);
	cut_name("kafka:a?b", "a\0b", 3, want);
	CU_ASSERT_STRING_EQUAL(name, want);

	/* a short topic that looks cut is hashed too, so it cannot pose as one */
	name_of(cfg, ST_PROTO_NATS, "s~0123456789abcdef", name);
	cut_name("nats:s~0123456789abcdef", "s~0123456789abcdef", 18, want);
	CU_ASSERT_STRING_EQUAL(name, want);
	name_of(cfg, ST_PROTO_NATS, "s~0123456789ABCDEF", name);  /* not lowercase */
	CU_ASSERT_STRING_EQUAL(name, "nats:s~0123456789ABCDEF");

	CU_ASSERT_EQUAL(st_config_stream_name(cfg, ST_PROTO_NONE, (const uint8_t *)"a",
					      1, name, NULL), -EINVAL);
	CU_ASSERT_EQUAL(st_config_stream_name(cfg, ST_PROTO__COUNT, (const uint8_t *)"a",
					      1, name, NULL), -EINVAL);
	CU_ASSERT_EQUAL(st_config_stream_name(cfg, ST_PROTO_KAFKA, NULL, 1, name, NULL),
			-EINVAL);
	st_config_destroy(cfg);
}

static void test_rule_order_and_globs(void)
{
	struct st_config *cfg = load_text(
		"defaults = { key_fields = [ \"/id\" ]; numeric_fields = [ \"/n\" ]; };\n"
		"streams = { rules = (\n"
		"  { name = \"eu-orders\"; protocol = \"kafka\"; match = \"orders-eu*\"; },\n"
		"  { name = \"orders\"; protocol = \"kafka\"; match = \"orders*\";\n"
		"    key_fields = [ ]; criticality = \"high\"; },\n"
		"  { name = \"temps\"; protocol = \"mqtt\"; match = \"sensors/*/temp\";\n"
		"    key_fields = [ \"/dev\", \"/site\", \"/x\", \"/y\" ]; },\n"
		"  { name = \"abc\"; protocol = \"nats\"; match = \"a.?.c\"; },\n"
		"  { name = \"syslog\"; protocol = \"jsonl\"; match = \"*:5140\"; },\n"
		"  { name = \"xy\"; protocol = \"kafka\"; match = \"[xy]z\"; },\n"
		"  { name = \"everything-nats\"; protocol = \"nats\"; }\n"
		"); };\n");
	char name[ST_CONFIG_NAME_BYTES];
	const struct st_config_stream *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(st_config_stream_count(cfg), 7);
	/* first match wins, though rule 1 matches too */
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_KAFKA, "orders-eu-1", name), 0);
	CU_ASSERT_STRING_EQUAL(name, "eu-orders");
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_KAFKA, "orders", name), 1);
	CU_ASSERT_STRING_EQUAL(name, "orders");
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_KAFKA, "orders-us", name), 1);
	/* the protocol must match too */
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_MQTT, "orders", name), -1);
	CU_ASSERT_STRING_EQUAL(name, "mqtt:orders");
	/* '*' crosses '/' (no FNM_PATHNAME) */
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_MQTT, "sensors/a/temp", name), 2);
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_MQTT, "sensors/a/b/temp", name), 2);
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_MQTT, "sensors/a/temp2", name), -1);
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_NATS, "a.b.c", name), 3);
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_NATS, "a.bb.c", name), 6);
	CU_ASSERT_STRING_EQUAL(name, "everything-nats");
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_JSONL, "10.0.0.2:5140", name), 4);
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_JSONL, "10.0.0.2:5141", name), -1);
	CU_ASSERT_STRING_EQUAL(name, "jsonl:10.0.0.2:5141");
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_KAFKA, "xz", name), 5);
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_KAFKA, "yz", name), 5);
	CU_ASSERT_EQUAL(name_of(cfg, ST_PROTO_KAFKA, "zz", name), -1);
	/* a NUL in the topic matches no rule, not even "*" */
	CU_ASSERT_EQUAL(st_config_stream_name(cfg, ST_PROTO_NATS, (const uint8_t *)"a\0",
					      2, name, &r), 0);
	CU_ASSERT_PTR_NULL(r);

	/* fields: inherited unless set; [] is "none" */
	r = st_config_stream_at(cfg, 0);
	CU_ASSERT_EQUAL(r->fields.n_keys, 1);
	CU_ASSERT_STRING_EQUAL(r->fields.keys[0], "/id");
	CU_ASSERT_EQUAL(r->fields.n_numerics, 1);
	CU_ASSERT_EQUAL(st_config_stream_criticality(r), ST_CRIT_MEDIUM);
	r = st_config_stream_at(cfg, 1);
	CU_ASSERT_EQUAL(r->fields.n_keys, 0);
	CU_ASSERT_EQUAL(r->fields.n_numerics, 1);
	CU_ASSERT_EQUAL(st_config_stream_criticality(r), ST_CRIT_HIGH);
	CU_ASSERT_PTR_EQUAL(st_config_stream_fields(cfg, r), &r->fields);
	CU_ASSERT_EQUAL(r->line, 4);
	r = st_config_stream_at(cfg, 2);
	CU_ASSERT_EQUAL(r->fields.n_keys, 4);  /* not Kafka: all four slots */
	st_config_destroy(cfg);
}

/* ---- JSON pointers ---- */

static void test_pointer_syntax(void)
{
	/* RFC 6901 section 5's examples, less "" (the whole document) */
	static const char *const good[] = {
		"/foo", "/foo/0", "/", "/a~1b", "/c%d", "/e^f", "/g|h", "/i\\j",
		"/k\"l", "/ ", "/m~0n", "//", "/caf\xc3\xa9",
	};
	static const char *const bad[] = {
		"", "foo", "/a~", "/a~2", "/~x", "/a\x01", "/\xff", "/\xc3",
		"/\xed\xa0\x80",  /* a surrogate */
	};
	char longp[ST_CONFIG_POINTER_MAX + 2];
	const char *why;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CU_ASSERT_EQUAL(st_config_check_pointer(good[i], &why), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CU_ASSERT_EQUAL(st_config_check_pointer(bad[i], &why), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	longp[0] = '/';
	memset(longp + 1, 'a', ST_CONFIG_POINTER_MAX - 1);
	longp[ST_CONFIG_POINTER_MAX] = '\0';  /* 255 bytes */
	CU_ASSERT_EQUAL(st_config_check_pointer(longp, NULL), 0);
	longp[ST_CONFIG_POINTER_MAX] = 'a';
	longp[ST_CONFIG_POINTER_MAX + 1] = '\0';  /* 256 */
	CU_ASSERT_EQUAL(st_config_check_pointer(longp, NULL), -EINVAL);
}

/* ---- overrides ---- */

static void test_add_key_field(void)
{
	struct st_config *cfg = st_config_default();
	const struct st_config_fields *f;
	const struct st_config_stream *k, *m;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	f = st_config_default_fields(cfg);
	CU_ASSERT_EQUAL(st_config_add_key_field(cfg, "/user/id"), 0);
	CU_ASSERT_EQUAL(st_config_add_key_field(cfg, "/user/id"), 0);  /* once */
	CU_ASSERT_EQUAL(f->n_keys, 1);
	CU_ASSERT_STRING_EQUAL(f->keys[0], "/user/id");
	CU_ASSERT_EQUAL(st_config_add_key_field(cfg, "user"), -EINVAL);
	CU_ASSERT_EQUAL(st_config_add_key_field(cfg, "/b"), 0);
	CU_ASSERT_EQUAL(st_config_add_key_field(cfg, "/c"), 0);
	CU_ASSERT_EQUAL(st_config_add_key_field(cfg, "/d"), -E2BIG);  /* 3 + record key */
	CU_ASSERT_EQUAL(f->n_keys, 3);
	st_config_destroy(cfg);

	cfg = load_text("streams = { rules = (\n"
			"  { name = \"k\"; protocol = \"kafka\"; key_fields = [ \"/a\", \"/b\" ]; },\n"
			"  { name = \"m\"; protocol = \"mqtt\"; key_fields = [ \"/a\", \"/b\", \"/c\" ]; }\n"
			"); };\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	f = st_config_default_fields(cfg);
	k = st_config_stream_at(cfg, 0);
	m = st_config_stream_at(cfg, 1);
	CU_ASSERT_EQUAL(st_config_add_key_field(cfg, "/a"), 0);  /* k, m have it */
	CU_ASSERT_EQUAL(f->n_keys, 1);
	CU_ASSERT_EQUAL(k->fields.n_keys, 2);
	CU_ASSERT_EQUAL(st_config_add_key_field(cfg, "/z"), 0);
	CU_ASSERT_EQUAL(f->n_keys, 2);
	CU_ASSERT_EQUAL(k->fields.n_keys, 3);
	CU_ASSERT_STRING_EQUAL(k->fields.keys[2], "/z");
	CU_ASSERT_EQUAL(m->fields.n_keys, 4);
	CU_ASSERT_STRING_EQUAL(m->fields.keys[3], "/z");
	/* k is full (3 + record key): nothing changes anywhere */
	CU_ASSERT_EQUAL(st_config_add_key_field(cfg, "/y"), -E2BIG);
	CU_ASSERT_EQUAL(f->n_keys, 2);
	CU_ASSERT_EQUAL(k->fields.n_keys, 3);
	CU_ASSERT_EQUAL(m->fields.n_keys, 4);
	st_config_destroy(cfg);
}

static void test_set_port(void)
{
	struct st_config *cfg = st_config_default();

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(st_config_set_port(cfg, 9093, ST_CONFIG_TCP, ST_PROTO_KAFKA), 0);
	expect_port(cfg, 9093, ST_PROTO_KAFKA, ST_PROTO_NONE);
	CU_ASSERT_EQUAL(st_config_set_port(cfg, 5141, ST_CONFIG_UDP, ST_PROTO_JSONL), 0);
	expect_port(cfg, 5141, ST_PROTO_NONE, ST_PROTO_JSONL);
	CU_ASSERT_EQUAL(st_config_set_port(cfg, 9092, ST_CONFIG_BOTH, ST_PROTO_NONE), 0);
	expect_port(cfg, 9092, ST_PROTO_NONE, ST_PROTO_NONE);
	CU_ASSERT_EQUAL(st_config_set_port(cfg, 5140, ST_CONFIG_TCP, ST_PROTO_NATS), 0);
	expect_port(cfg, 5140, ST_PROTO_NATS, ST_PROTO_JSONL);
	CU_ASSERT_EQUAL(st_config_set_port(cfg, 0, ST_CONFIG_TCP, ST_PROTO_KAFKA), -EINVAL);
	CU_ASSERT_EQUAL(st_config_set_port(cfg, 1, 0, ST_PROTO_KAFKA), -EINVAL);
	CU_ASSERT_EQUAL(st_config_set_port(cfg, 1, 4, ST_PROTO_KAFKA), -EINVAL);
	CU_ASSERT_EQUAL(st_config_set_port(cfg, 1, ST_CONFIG_UDP, ST_PROTO_MQTT), -EINVAL);
	CU_ASSERT_EQUAL(st_config_set_port(cfg, 1, ST_CONFIG_TCP, ST_PROTO__COUNT), -EINVAL);
	expect_port(cfg, 1, ST_PROTO_NONE, ST_PROTO_NONE);
	st_config_destroy(cfg);
}

static void expect_override(const char *text, uint16_t port, int transport,
			    enum st_proto proto)
{
	uint16_t p = 0;
	int t = 0;
	enum st_proto pr = ST_PROTO__COUNT;

	CU_ASSERT_EQUAL(st_config_parse_port_override(text, &p, &t, &pr, err,
						      sizeof(err)), 0);
	CU_ASSERT(p == port && t == transport && pr == proto);
}

static void expect_override_error(const char *text, const char *what)
{
	uint16_t p;
	int t;
	enum st_proto pr;
	char quoted[64];
	bool ok;

	CU_ASSERT_EQUAL(st_config_parse_port_override(text, &p, &t, &pr, err,
						      sizeof(err)), -EINVAL);
	snprintf(quoted, sizeof(quoted), "\"%s\": ", text);
	ok = strncmp(err, quoted, strlen(quoted)) == 0 && strstr(err, what);
	CU_ASSERT(ok);
	if (!ok)
		fprintf(stderr, "\nwanted \"%s%s\"\n   got \"%s\"\n", quoted, what, err);
}

static void test_port_override_text(void)
{
	struct st_config *cfg = st_config_default();

	expect_override("9093=kafka", 9093, ST_CONFIG_TCP, ST_PROTO_KAFKA);
	expect_override("1=mqtt", 1, ST_CONFIG_TCP, ST_PROTO_MQTT);
	expect_override("65535=nats", 65535, ST_CONFIG_TCP, ST_PROTO_NATS);
	expect_override("5141=jsonl", 5141, ST_CONFIG_BOTH, ST_PROTO_JSONL);
	expect_override("5141/udp=jsonl", 5141, ST_CONFIG_UDP, ST_PROTO_JSONL);
	expect_override("5141/tcp=jsonl", 5141, ST_CONFIG_TCP, ST_PROTO_JSONL);
	expect_override("9092/tcp=kafka", 9092, ST_CONFIG_TCP, ST_PROTO_KAFKA);
	expect_override("9092=none", 9092, ST_CONFIG_BOTH, ST_PROTO_NONE);

	expect_override_error("9093", "expected PORT[/tcp|udp|both]=PROTOCOL");
	expect_override_error("", "expected PORT");
	expect_override_error("=kafka", "port must be a number 1..65535");
	expect_override_error("0=kafka", "port must be a number 1..65535");
	expect_override_error("65536=kafka", "port must be a number 1..65535");
	expect_override_error("99999999999999999999=kafka", "port must be a number");
	expect_override_error("-1=kafka", "port must be a number");
	expect_override_error("9o93=kafka", "port must be a number");
	expect_override_error("9093=kafak", "unknown protocol \"kafak\"");
	expect_override_error("9093=", "unknown protocol \"\"");
	expect_override_error("9093/sctp=kafka", "unknown transport");
	expect_override_error("9093/=jsonl", "unknown transport");
	expect_override_error("9093/tcpudpboth=jsonl", "unknown transport");
	expect_override_error("9093/udp=kafka", "kafka runs over TCP only");
	expect_override_error("9093/both=nats", "nats runs over TCP only");

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(st_config_apply_port_override(cfg, "5141/udp=jsonl", err,
						      sizeof(err)), 0);
	expect_port(cfg, 5141, ST_PROTO_NONE, ST_PROTO_JSONL);
	CU_ASSERT_EQUAL(st_config_apply_port_override(cfg, "9092=none", err,
						      sizeof(err)), 0);
	expect_port(cfg, 9092, ST_PROTO_NONE, ST_PROTO_NONE);
	CU_ASSERT_EQUAL(st_config_apply_port_override(cfg, "9092=amqp", err,
						      sizeof(err)), -EINVAL);
	st_config_destroy(cfg);
}

/* ---- control-plane sections ---- */

/* The defaults config.h documents, written here. */
static void test_cp_defaults(void)
{
	struct st_config *cfg = st_config_default();
	const struct st_config_detectors *d;
	const struct st_config_retention *r;
	const struct st_config_control *ctl;
	const struct st_config_actuators *a;
	const struct st_config_policy *pol;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT(st_config_threshold(cfg, ST_CRIT_LOW)->medium == 0.8 &&
		  st_config_threshold(cfg, ST_CRIT_LOW)->high == 0.95);
	CU_ASSERT(st_config_threshold(cfg, ST_CRIT_MEDIUM)->medium == 0.6 &&
		  st_config_threshold(cfg, ST_CRIT_MEDIUM)->high == 0.85);
	CU_ASSERT(st_config_threshold(cfg, ST_CRIT_HIGH)->medium == 0.4 &&
		  st_config_threshold(cfg, ST_CRIT_HIGH)->high == 0.7);
	CU_ASSERT_PTR_NULL(st_config_threshold(cfg, (enum st_criticality)3));
	d = st_config_detectors(cfg);
	CU_ASSERT(d->cusum_drift == 0.5 && d->cusum_threshold == 5.0 &&
		  d->bocpd_hazard == 0.004 && d->bocpd_max_run == 500 &&
		  d->iforest_trees == 100 && d->iforest_sample == 256 &&
		  d->model_refresh_s == 3600 && d->forecast_horizon_s == 60 &&
		  d->season_s == 86400 && d->warmup_epochs == 30);
	r = st_config_retention(cfg);
	CU_ASSERT(r->profiles_s == 3600 && r->profiles_bytes == 268435456 &&
		  r->fine_s == 3600 && r->coarse_step_s == 60 &&
		  r->coarse_s == 604800 && r->disk_bytes == 1073741824);
	ctl = st_config_control(cfg);
	CU_ASSERT_STRING_EQUAL(ctl->instance, "default");
	CU_ASSERT_STRING_EQUAL(ctl->state_dir, "/var/lib/shadowtap");
	CU_ASSERT_STRING_EQUAL(ctl->socket_path, "/run/shadowtap/cp.sock");
	CU_ASSERT_STRING_EQUAL(ctl->event_log, "");
	CU_ASSERT_STRING_EQUAL(ctl->prometheus, "127.0.0.1:9464");
	CU_ASSERT_EQUAL(st_config_params(cfg)->capacity_rps, 0);
	CU_ASSERT_EQUAL(st_config_stream_capacity_rps(cfg, NULL), 0);
	CU_ASSERT_EQUAL(st_config_pool_count(cfg), 0);
	CU_ASSERT_EQUAL(st_config_backend_count(cfg), 0);
	CU_ASSERT_PTR_NULL(st_config_pool_at(cfg, 0));
	CU_ASSERT_PTR_NULL(st_config_backend_at(cfg, 0));
	CU_ASSERT_PTR_NULL(st_config_pool_find(cfg, "general"));
	a = st_config_actuators(cfg);
	CU_ASSERT(!a->dry_run && !a->nexthop.enabled && !a->xdp_lb.enabled);
	CU_ASSERT(a->nexthop.group_id == 4000 && a->nexthop.resilient.buckets == 128 &&
		  a->nexthop.resilient.idle_timer_s == 120 && a->nexthop.table == 254 &&
		  a->nexthop.route.af == 0);
	CU_ASSERT(a->xdp_lb.interface[0] == '\0' && a->xdp_lb.vip.af == 0 &&
		  a->xdp_lb.transport == ST_CONFIG_TCP && a->xdp_lb.table_size == 65537 &&
		  a->xdp_lb.forward == ST_XDP_FWD_TX && a->xdp_lb.egress_interface[0] == '\0' &&
		  a->xdp_lb.ipip_source.af == 0);
	CU_ASSERT(a->hook.argc == 0 && a->hook.timeout_ms == 5000);
	pol = st_config_policy(cfg);
	CU_ASSERT(pol->cooldown_s == 300 && pol->hysteresis == 0.1 &&
		  pol->high_cardinality == 100000 && pol->skew_top1_share == 0.2 &&
		  pol->scale_up_utilization == 0.8 && pol->scale_down_utilization == 0.3);
	CU_ASSERT_STRING_EQUAL(st_memory_class_name(ST_MEM_HIGH), "high");
	CU_ASSERT_STRING_EQUAL(st_xdp_forward_name(ST_XDP_FWD_IPIP), "ipip");
	CU_ASSERT_PTR_NULL(st_xdp_forward_name((enum st_xdp_forward)3));
	CU_ASSERT_PTR_NULL(st_memory_class_name((enum st_memory_class)2));
	st_config_destroy(cfg);
}

/* The example's new sections read back as its text writes them. */
static void test_example_cp_sections(void)
{
	struct st_config *cfg = st_config_load(ST_EXAMPLE_CONF, err, sizeof(err));
	struct st_config *def = st_config_default();
	const struct st_config_pool *p;
	const struct st_config_backend *b;
	const struct st_config_actuators *a;
	const struct st_config_stream *r;
	static const uint8_t v6_2[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(def);
	/* the numbers are the defaults */
	for (int k = ST_CRIT_LOW; k <= ST_CRIT_HIGH; k++)
		CU_ASSERT_EQUAL(memcmp(st_config_threshold(cfg, k),
				       st_config_threshold(def, k),
				       sizeof(struct st_config_threshold)), 0);
	CU_ASSERT_EQUAL(memcmp(st_config_detectors(cfg), st_config_detectors(def),
			       sizeof(struct st_config_detectors)), 0);
	CU_ASSERT_EQUAL(memcmp(st_config_retention(cfg), st_config_retention(def),
			       sizeof(struct st_config_retention)), 0);
	CU_ASSERT_EQUAL(memcmp(st_config_control(cfg), st_config_control(def),
			       sizeof(struct st_config_control)), 0);
	CU_ASSERT_EQUAL(memcmp(st_config_policy(cfg), st_config_policy(def),
			       sizeof(struct st_config_policy)), 0);
	/* ... as the text writes them */
	CU_ASSERT(st_config_threshold(cfg, ST_CRIT_HIGH)->medium == 0.4);
	CU_ASSERT(st_config_detectors(cfg)->bocpd_hazard == 0.004);
	CU_ASSERT(st_config_retention(cfg)->disk_bytes == 1073741824);
	CU_ASSERT(st_config_policy(cfg)->scale_down_utilization == 0.3);

	r = st_config_stream_at(cfg, 0);
	CU_ASSERT(r->capacity_rps == 50000.0);
	CU_ASSERT_STRING_EQUAL(r->pool, "bigmem");
	r = st_config_stream_at(cfg, 1);
	CU_ASSERT(r->capacity_rps == 0 && r->pool[0] == '\0');

	CU_ASSERT_EQUAL_FATAL(st_config_pool_count(cfg), 2);
	p = st_config_pool_at(cfg, 0);
	CU_ASSERT_STRING_EQUAL(p->name, "general");
	CU_ASSERT(p->memory_class == ST_MEM_NORMAL && !p->skew_handling &&
		  p->backend_capacity_rps == 20000.0 && p->min_backends == 1 &&
		  p->max_backends == 4 && p->n_backends == 2);
	p = st_config_pool_at(cfg, 1);
	CU_ASSERT_STRING_EQUAL(p->name, "bigmem");
	CU_ASSERT(p->memory_class == ST_MEM_HIGH && p->skew_handling &&
		  p->backend_capacity_rps == 0 && p->min_backends == 2 &&
		  p->max_backends == 64 && p->n_backends == 2);
	CU_ASSERT_PTR_EQUAL(st_config_pool_find(cfg, "bigmem"), p);

	CU_ASSERT_EQUAL_FATAL(st_config_backend_count(cfg), 4);
	b = st_config_backend_at(cfg, 0);
	CU_ASSERT_STRING_EQUAL(b->name, "b1");
	CU_ASSERT(b->pool == 0 && b->address.af == AF_INET && b->weight == 1 &&
		  !b->standby && !b->has_mac && b->capacity_rps == 20000.0);
	CU_ASSERT(b->address.bytes[0] == 10 && b->address.bytes[1] == 0 &&
		  b->address.bytes[2] == 0 && b->address.bytes[3] == 2);
	b = st_config_backend_at(cfg, 1);
	CU_ASSERT_STRING_EQUAL(b->name, "b2");
	CU_ASSERT(b->pool == 0 && b->weight == 2 && b->standby &&
		  b->capacity_rps == 30000.0);
	b = st_config_backend_at(cfg, 2);
	CU_ASSERT_STRING_EQUAL(b->name, "m1");
	CU_ASSERT(b->pool == 1 && b->address.af == AF_INET6 &&
		  memcmp(b->address.bytes, v6_2, 16) == 0 && b->has_mac &&
		  b->mac[0] == 0x02 && b->mac[5] == 0x02 && b->mac[1] == 0);
	b = st_config_backend_at(cfg, 3);
	CU_ASSERT_STRING_EQUAL(b->name, "m2");
	CU_ASSERT(b->pool == 1 && b->address.bytes[15] == 3);

	a = st_config_actuators(cfg);
	CU_ASSERT(!a->dry_run && !a->nexthop.enabled && a->nexthop.group_id == 4000);
	CU_ASSERT(a->nexthop.resilient.buckets == 128 &&
		  a->nexthop.resilient.idle_timer_s == 120 && a->nexthop.table == 254);
	CU_ASSERT(a->nexthop.route.af == AF_INET && a->nexthop.route_prefix_len == 32 &&
		  a->nexthop.route.bytes[0] == 203 && a->nexthop.route.bytes[1] == 0 &&
		  a->nexthop.route.bytes[2] == 113 && a->nexthop.route.bytes[3] == 10);
	CU_ASSERT(!a->xdp_lb.enabled && a->xdp_lb.vip.af == AF_INET &&
		  a->xdp_lb.vip_port == 9092 && a->xdp_lb.vip.bytes[3] == 10 &&
		  a->xdp_lb.transport == ST_CONFIG_TCP && a->xdp_lb.table_size == 65537 &&
		  a->xdp_lb.forward == ST_XDP_FWD_TX && a->xdp_lb.ipip_source.af == 0);
	CU_ASSERT_STRING_EQUAL(a->xdp_lb.interface, "eth0");
	CU_ASSERT_STRING_EQUAL(a->xdp_lb.egress_interface, "");
	CU_ASSERT(a->hook.argc == 0 && a->hook.timeout_ms == 5000);
	st_config_destroy(cfg);
	st_config_destroy(def);
}

/* Every new setting set away from its default, at the ends of its range. */
static void test_cp_range_ends_accepted(void)
{
	struct st_config *cfg = load_text(
		"defaults = { capacity_rps = 1e12; };\n"
		"thresholds = { low = { medium = 0.999; high = 1; };\n"
		"  medium = { medium = 1e-9; high = 2e-9; }; };\n"
		"detectors = { cusum_drift = 0; cusum_threshold = 100; bocpd_hazard = 0.999;\n"
		"  bocpd_max_run = 100000; iforest_trees = 1000; iforest_sample = 2;\n"
		"  model_refresh_s = 10; forecast_horizon_s = 86400; season_s = 0;\n"
		"  warmup_epochs = 100000; };\n"
		"retention = { profiles_s = 60; profiles_bytes = 1099511627776L;\n"
		"  fine_s = 2147483648L; coarse_step_s = 86400; coarse_s = 2147483648L;\n"
		"  disk_bytes = 17592186044416L; };\n"
		"control = { instance = \"abcdefghijklmnopqrstuvwxyz_-0123\";\n"
		"  state_dir = \"/s\"; socket_path = \"/0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345\";\n"
		"  event_log = \"/e.jsonl\"; prometheus = \"[::1]:65535\"; };\n"
		"pools = ( { name = \"p\"; memory_class = \"high\"; skew_handling = true;\n"
		"  backend_capacity_rps = 0; min_backends = 0; max_backends = 1024; },\n"
		"  { name = \"q\"; min_backends = 1; max_backends = 1; } );\n"
		"backends = ( { name = \"b\"; pool = \"q\"; address = \"::ffff:10.0.0.1\";\n"
		"  mac = \"aA:bB:cC:dD:eE:fF\"; weight = 65535; standby = true; capacity_rps = 1e12; } );\n"
		"streams = { rules = ( { name = \"r\"; protocol = \"mqtt\"; capacity_rps = 0; pool = \"p\"; } ); };\n"
		"actuators = { dry_run = true;\n"
		"  nexthop = { enabled = true; group_id = 4294966270L; route = \"::/0\"; table = 4294967295L;\n"
		"    resilient = { buckets = 1; idle_timer_s = 3600; }; };\n"
		"  xdp_lb = { enabled = true; interface = \"012345678901234\"; vip = \"[2001:db8::1]:1\";\n"
		"    transport = \"both\"; table_size = 2003; pool = \"q\"; forward = \"redirect\";\n"
		"    egress_interface = \"veth0\"; ipip_source = \"192.0.2.1\"; };\n"
		"  hook = { command = [ \"/bin/a\", \"\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\",\n"
		"    \"i\", \"j\", \"k\", \"l\", \"m\", \"n\", \"o\", \"p\" ]; timeout_ms = 600000; }; };\n"
		"policy = { cooldown_s = 86400; hysteresis = 0.5; high_cardinality = 1099511627776L;\n"
		"  skew_top1_share = 1; scale_up_utilization = 1; scale_down_utilization = 0.999;\n"
		"  retransmissions_per_s_max = 1e12; zero_windows_per_s_max = 1000000000000L;\n"
		"  latency_p99_ms_max = 3600000; };\n");
	const struct st_config_actuators *a;
	const struct st_config_backend *b;
	const struct st_config_detectors *d;
	const struct st_config_retention *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT(st_config_params(cfg)->capacity_rps == 1e12);
	CU_ASSERT(st_config_threshold(cfg, ST_CRIT_LOW)->high == 1.0);
	CU_ASSERT(st_config_threshold(cfg, ST_CRIT_MEDIUM)->medium == 1e-9);
	CU_ASSERT(st_config_threshold(cfg, ST_CRIT_HIGH)->medium == 0.4);  /* default */
	d = st_config_detectors(cfg);
	CU_ASSERT(d->cusum_drift == 0 && d->cusum_threshold == 100 &&
		  d->bocpd_hazard == 0.999 && d->bocpd_max_run == 100000 &&
		  d->iforest_trees == 1000 && d->iforest_sample == 2 &&
		  d->model_refresh_s == 10 && d->forecast_horizon_s == 86400 &&
		  d->season_s == 0 && d->warmup_epochs == 100000);
	r = st_config_retention(cfg);
	CU_ASSERT(r->profiles_s == 60 && r->profiles_bytes == 1ull << 40 &&
		  r->fine_s == 1u << 31 && r->coarse_step_s == 86400 &&
		  r->coarse_s == 1u << 31 && r->disk_bytes == 1ull << 44);
	CU_ASSERT_STRING_EQUAL(st_config_control(cfg)->instance,
			       "abcdefghijklmnopqrstuvwxyz_-0123");
	CU_ASSERT_EQUAL(strlen(st_config_control(cfg)->socket_path), 107);
	CU_ASSERT_STRING_EQUAL(st_config_control(cfg)->prometheus, "[::1]:65535");
	CU_ASSERT_STRING_EQUAL(st_config_control(cfg)->event_log, "/e.jsonl");
	CU_ASSERT(st_config_pool_at(cfg, 0)->max_backends == 1024 &&
		  st_config_pool_at(cfg, 0)->min_backends == 0 &&
		  st_config_pool_at(cfg, 0)->n_backends == 0);
	b = st_config_backend_at(cfg, 0);
	CU_ASSERT(b->pool == 1 && b->address.af == AF_INET6 && b->address.bytes[10] == 0xff &&
		  b->address.bytes[12] == 10 && b->weight == 65535 && b->standby &&
		  b->capacity_rps == 1e12 && b->mac[0] == 0xaa && b->mac[5] == 0xff);
	CU_ASSERT_STRING_EQUAL(st_config_stream_at(cfg, 0)->pool, "p");
	CU_ASSERT(st_config_stream_capacity_rps(cfg, st_config_stream_at(cfg, 0)) == 0);
	CU_ASSERT(st_config_stream_capacity_rps(cfg, NULL) == 1e12);
	a = st_config_actuators(cfg);
	CU_ASSERT(a->dry_run && a->nexthop.enabled && a->nexthop.group_id == 4294966270u &&
		  a->nexthop.route.af == AF_INET6 && a->nexthop.route_prefix_len == 0 &&
		  a->nexthop.table == 4294967295u && a->nexthop.resilient.buckets == 1 &&
		  a->nexthop.resilient.idle_timer_s == 3600);
	CU_ASSERT(a->xdp_lb.enabled && a->xdp_lb.vip.af == AF_INET6 && a->xdp_lb.vip_port == 1 &&
		  a->xdp_lb.transport == ST_CONFIG_BOTH && a->xdp_lb.table_size == 2003 &&
		  !a->xdp_lb.table_size_auto && !strcmp(a->xdp_lb.pool, "q") &&
		  a->xdp_lb.forward == ST_XDP_FWD_REDIRECT &&
		  a->xdp_lb.ipip_source.af == AF_INET && a->xdp_lb.ipip_source.bytes[3] == 1);
	CU_ASSERT_STRING_EQUAL(a->xdp_lb.interface, "012345678901234");
	CU_ASSERT_STRING_EQUAL(a->xdp_lb.egress_interface, "veth0");
	CU_ASSERT(a->hook.argc == 16 && a->hook.timeout_ms == 600000);
	CU_ASSERT_STRING_EQUAL(a->hook.argv[0], "/bin/a");
	CU_ASSERT_STRING_EQUAL(a->hook.argv[1], "");
	CU_ASSERT_STRING_EQUAL(a->hook.argv[15], "p");
	CU_ASSERT(st_config_policy(cfg)->cooldown_s == 86400 &&
		  st_config_policy(cfg)->high_cardinality == 1ull << 40 &&
		  st_config_policy(cfg)->scale_down_utilization == 0.999);
	CU_ASSERT(st_config_policy(cfg)->retransmissions_per_s_max == 1e12 &&
		  st_config_policy(cfg)->zero_windows_per_s_max == 1e12 &&
		  st_config_policy(cfg)->latency_p99_ms_max == 3600000.0);
	st_config_destroy(cfg);

	/* the other ends; a rule without capacity_rps inherits the defaults' */
	cfg = load_text("defaults = { capacity_rps = 7.5; };\n"
			"streams = { rules = ( { name = \"r\"; protocol = \"nats\"; } ); };\n"
			"control = { prometheus = \"\"; instance = \"a\"; };\n"
			"detectors = { season_s = 2419200; bocpd_hazard = 1e-12; cusum_threshold = 1e-9; };\n"
			"retention = { coarse_s = 3600; fine_s = 60; coarse_step_s = 10; };\n"
			"policy = { cooldown_s = 0; hysteresis = 0; high_cardinality = 1;\n"
			"  skew_top1_share = 1e-9; scale_down_utilization = 0;\n"
			"  retransmissions_per_s_max = 0; zero_windows_per_s_max = 0.5;\n"
			"  latency_p99_ms_max = 0.001; };\n"
			"actuators = { xdp_lb = { table_size = 16777213; forward = \"ipip\"; vip = \"0.0.0.0:65535\"; };\n"
			"  nexthop = { group_id = 1; table = 1; route = \"10.0.0.0/8\"; };\n"
			"  hook = { timeout_ms = 1; command = [ \"/x\" ]; }; };\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT(st_config_stream_at(cfg, 0)->capacity_rps == 7.5);
	CU_ASSERT_STRING_EQUAL(st_config_control(cfg)->prometheus, "");
	CU_ASSERT(st_config_detectors(cfg)->season_s == 2419200);
	CU_ASSERT(st_config_retention(cfg)->coarse_s == 3600);
	a = st_config_actuators(cfg);
	CU_ASSERT(a->xdp_lb.table_size == 16777213 && a->xdp_lb.forward == ST_XDP_FWD_IPIP &&
		  a->xdp_lb.vip_port == 65535 && a->nexthop.route_prefix_len == 8 &&
		  a->nexthop.group_id == 1 && a->hook.argc == 1 && a->hook.timeout_ms == 1);
	CU_ASSERT(st_config_policy(cfg)->retransmissions_per_s_max == 0 &&
		  st_config_policy(cfg)->zero_windows_per_s_max == 0.5 &&
		  st_config_policy(cfg)->latency_p99_ms_max == 0.001);
	st_config_destroy(cfg);
	/* the reactive limits are off unless set */
	cfg = st_config_default();
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT(st_config_policy(cfg)->retransmissions_per_s_max == 0 &&
		  st_config_policy(cfg)->zero_windows_per_s_max == 0 &&
		  st_config_policy(cfg)->latency_p99_ms_max == 0);
	st_config_destroy(cfg);
}

/* One past each end, refused at the setting's line. */
static void test_cp_out_of_range(void)
{
	expect_error("thresholds = {\n  low = {\n    medium = 0;\n  };\n};\n", 3,
		     "medium = 0 is out of range (0, 1)");
	expect_error("thresholds = { high = {\n  high = 1.0000001; }; };\n", 2,
		     "high = 1 is out of range (0, 1]");
	expect_error("thresholds = { high = {\n  medium = 0.5;\n  high = 0.5; }; };\n", 3,
		     "thresholds.high: medium = 0.5 must be below high = 0.5");
	/* high left out: the default 0.85 is below medium, reported at medium */
	expect_error("thresholds = { medium = {\n\n  medium = 0.9; }; };\n", 3,
		     "thresholds.medium: medium = 0.9 must be below high = 0.85");
	expect_error("detectors = {\n  cusum_drift = 10.5; };\n", 2, "cusum_drift = 10.5 is out of range 0..10");
	expect_error("detectors = {\n  cusum_drift = -0.1; };\n", 2, "out of range 0..10");
	expect_error("detectors = {\n  cusum_threshold = 0; };\n", 2, "cusum_threshold = 0 is out of range (0, 100]");
	expect_error("detectors = {\n  cusum_threshold = 100.5; };\n", 2, "out of range (0, 100]");
	expect_error("detectors = {\n  bocpd_hazard = 0; };\n", 2, "bocpd_hazard = 0 is out of range (0, 1)");
	expect_error("detectors = {\n  bocpd_hazard = 1; };\n", 2, "bocpd_hazard = 1 is out of range (0, 1)");
	expect_error("detectors = {\n  bocpd_max_run = 0; };\n", 2, "bocpd_max_run = 0 is out of range 1..100000");
	expect_error("detectors = {\n  bocpd_max_run = 100001; };\n", 2, "out of range 1..100000");
	expect_error("detectors = {\n  iforest_trees = 1001; };\n", 2, "iforest_trees = 1001 is out of range 1..1000");
	expect_error("detectors = {\n  iforest_trees = 0; };\n", 2, "out of range 1..1000");
	expect_error("detectors = {\n  iforest_sample = 1; };\n", 2, "iforest_sample = 1 is out of range 2..65536");
	expect_error("detectors = {\n  iforest_sample = 65537; };\n", 2, "out of range 2..65536");
	expect_error("detectors = {\n  model_refresh_s = 9; };\n", 2, "model_refresh_s = 9 is out of range 10..604800");
	expect_error("detectors = {\n  model_refresh_s = 604801; };\n", 2, "out of range 10..604800");
	expect_error("detectors = {\n  forecast_horizon_s = 0; };\n", 2, "forecast_horizon_s = 0 is out of range 1..86400");
	expect_error("detectors = {\n  forecast_horizon_s = 86401; };\n", 2, "out of range 1..86400");
	expect_error("detectors = {\n  season_s = 59; };\n", 2, "season_s = 59 is out of range: 0 (none) or 60..2419200");
	expect_error("detectors = {\n  season_s = 2419201; };\n", 2, "out of range 0..2419200");
	expect_error("detectors = {\n  warmup_epochs = 0; };\n", 2, "warmup_epochs = 0 is out of range 1..100000");
	expect_error("detectors = {\n  warmup_epochs = 100001; };\n", 2, "out of range 1..100000");
	expect_error("retention = {\n  profiles_s = 59; };\n", 2, "profiles_s = 59 is out of range 60..86400");
	expect_error("retention = {\n  profiles_s = 86401; };\n", 2, "out of range 60..86400");
	expect_error("retention = {\n  profiles_bytes = 1048575; };\n", 2, "profiles_bytes = 1048575 is out of range 1048576..1099511627776");
	expect_error("retention = {\n  profiles_bytes = 1099511627777L; };\n", 2, "out of range");
	expect_error("retention = {\n  fine_s = 59; };\n", 2, "fine_s = 59 is out of range 60..2147483648");
	expect_error("retention = {\n  fine_s = 2147483649L; };\n", 2, "out of range 60..2147483648");
	expect_error("retention = {\n  coarse_step_s = 9; };\n", 2, "coarse_step_s = 9 is out of range 10..86400");
	expect_error("retention = {\n  coarse_step_s = 86401; };\n", 2, "out of range 10..86400");
	expect_error("retention = {\n  coarse_s = 3599; };\n", 2, "coarse_s = 3599 is out of range 3600..2147483648");
	expect_error("retention = {\n  coarse_s = 2147483649L; };\n", 2, "out of range");
	expect_error("retention = {\n  disk_bytes = 1048575; };\n", 2, "disk_bytes = 1048575 is out of range");
	expect_error("retention = {\n  disk_bytes = 17592186044417L; };\n", 2, "out of range 1048576..17592186044416");
	expect_error("defaults = {\n  capacity_rps = -1; };\n", 2, "capacity_rps = -1 is out of range 0..1e+12");
	expect_error("streams = { rules = ( { name = \"a\"; protocol = \"mqtt\";\n  capacity_rps = 1.1e12; } ); };\n",
		     2, "capacity_rps = 1.1e+12 is out of range 0..1e+12");
	expect_error("policy = {\n  cooldown_s = 86401; };\n", 2, "cooldown_s = 86401 is out of range 0..86400");
	expect_error("policy = {\n  hysteresis = 0.51; };\n", 2, "hysteresis = 0.51 is out of range 0..0.5");
	expect_error("policy = {\n  high_cardinality = 0; };\n", 2, "high_cardinality = 0 is out of range 1..1099511627776");
	expect_error("policy = {\n  high_cardinality = 1099511627777L; };\n", 2, "out of range");
	expect_error("policy = {\n  skew_top1_share = 0; };\n", 2, "skew_top1_share = 0 is out of range (0, 1]");
	expect_error("policy = {\n  scale_up_utilization = 1.01; };\n", 2, "scale_up_utilization = 1.01 is out of range (0, 1]");
	expect_error("policy = {\n  scale_down_utilization = 1; };\n", 2, "scale_down_utilization = 1 is out of range [0, 1)");
	expect_error("policy = {\n  scale_up_utilization = 0.5;\n  scale_down_utilization = 0.5; };\n", 3,
		     "scale_down_utilization = 0.5 must be below scale_up_utilization = 0.5");
	expect_error("policy = {\n  scale_up_utilization = 0.2; };\n", 2,
		     "scale_down_utilization = 0.3 must be below scale_up_utilization = 0.2");
	expect_error("policy = {\n  retransmissions_per_s_max = -0.5; };\n", 2,
		     "retransmissions_per_s_max = -0.5 is out of range 0..1e+12");
	expect_error("policy = { cooldown_s = 1;\n\n  retransmissions_per_s_max = 1.5e12; };\n", 3,
		     "retransmissions_per_s_max = 1.5e+12 is out of range 0..1e+12");
	expect_error("policy = {\n  zero_windows_per_s_max = -1; };\n", 2,
		     "zero_windows_per_s_max = -1 is out of range 0..1e+12");
	expect_error("policy = {\n  zero_windows_per_s_max = 2e12; };\n", 2,
		     "zero_windows_per_s_max = 2e+12 is out of range 0..1e+12");
	expect_error("policy = {\n  latency_p99_ms_max = -1; };\n", 2,
		     "latency_p99_ms_max = -1 is out of range 0..3.6e+06");
	expect_error("policy = {\n  latency_p99_ms_max = 3600000.5; };\n", 2,
		     "latency_p99_ms_max = 3.6e+06 is out of range 0..3.6e+06");
	expect_error("policy = {\n  latency_p99_ms_max = \"5\"; };\n", 2,
		     "latency_p99_ms_max must be a number, not a string");
	expect_error("pools = ( { name = \"p\";\n  max_backends = 0; } );\n", 2, "max_backends = 0 is out of range 1..1024");
	expect_error("pools = ( { name = \"p\";\n  min_backends = 1025; } );\n", 2, "min_backends = 1025 is out of range 0..1024");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\"; pool = \"p\"; address = \"10.0.0.1\";\n  weight = 0; } );\n", 3,
		     "weight = 0 is out of range 1..65535");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\"; pool = \"p\"; address = \"10.0.0.1\";\n  weight = 65536; } );\n", 3,
		     "weight = 65536 is out of range 1..65535");
	expect_error("actuators = { nexthop = {\n  group_id = 0; }; };\n", 2, "group_id = 0 is out of range 1..4294966270");
	expect_error("actuators = { nexthop = {\n  group_id = 4294966271L; }; };\n", 2, "out of range 1..4294966270");
	expect_error("actuators = { nexthop = { resilient = {\n  buckets = 65536; }; }; };\n", 2, "buckets = 65536 is out of range 0..65535");
	expect_error("actuators = { nexthop = { resilient = {\n  idle_timer_s = 3601; }; }; };\n", 2, "idle_timer_s = 3601 is out of range 0..3600");
	expect_error("actuators = { nexthop = {\n  table = 0; }; };\n", 2, "table = 0 is out of range 1..4294967295");
	expect_error("actuators = { xdp_lb = {\n  table_size = 2; }; };\n", 2, "table_size = 2 is out of range 3..16777213");
	expect_error("actuators = { xdp_lb = {\n  table_size = 16777214; }; };\n", 2, "out of range 3..16777213");
	expect_error("actuators = { hook = {\n  timeout_ms = 0; }; };\n", 2, "timeout_ms = 0 is out of range 1..600000");
	expect_error("actuators = { hook = {\n  timeout_ms = 600001; }; };\n", 2, "out of range 1..600000");
}

static void test_cp_bad_values(void)
{
	/* 65541 = 3 x 7 x 3121: not a prime (coreutils factor) */
	expect_error("actuators = { xdp_lb = {\n  table_size = 65541; }; };\n", 2,
		     "table_size = 65541 is not a prime");
	expect_error("actuators = { xdp_lb = {\n  table_size = 9; }; };\n", 2, "not a prime");
	expect_error("control = {\n  instance = \"a.b\"; };\n", 2,
		     "instance \"a.b\" must be 1..32 bytes of [A-Za-z0-9_-]");
	expect_error("control = {\n  instance = \"abcdefghijklmnopqrstuvwxyz_-01234\"; };\n", 2,
		     "must be 1..32 bytes");
	expect_error("control = {\n  instance = \"\"; };\n", 2, "instance is 0 bytes (1..63 allowed)");
	expect_error("control = {\n  state_dir = \"var/lib\"; };\n", 2,
		     "state_dir \"var/lib\" must be an absolute path");
	expect_error("control = {\n  state_dir = \"\"; };\n", 2, "state_dir is 0 bytes");
	expect_error("control = {\n  socket_path = \"/0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345X\"; };\n",
		     2, "socket_path is 108 bytes (1..107 allowed)");
	expect_error("control = {\n  event_log = \"events.jsonl\"; };\n", 2, "must be an absolute path");
	expect_error("control = {\n  prometheus = \"9464\"; };\n", 2, "prometheus \"9464\" is not HOST:PORT");
	expect_error("control = {\n  prometheus = \"localhost:0\"; };\n", 2, "is not HOST:PORT");
	expect_error("control = {\n  prometheus = \"::1:9464\"; };\n", 2, "is not HOST:PORT");
	expect_error("control = {\n  prometheus = \"256.0.0.1:9464\"; };\n", 2, "is not HOST:PORT");
	expect_error("control = {\n  prometheus = \"[127.0.0.1]:9464\"; };\n", 2, "is not HOST:PORT");
	expect_error("pools = ( { name = \"p\";\n  memory_class = \"huge\"; } );\n", 2,
		     "unknown memory_class \"huge\" (normal or high)");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\"; pool = \"p\";\n  address = \"10.0.0.256\"; } );\n", 3,
		     "address \"10.0.0.256\" is not an IPv4 or IPv6 address");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\"; pool = \"p\"; address = \"fe80::1\";\n  mac = \"02:00:00:00:00\"; } );\n", 3,
		     "mac \"02:00:00:00:00\" is not a MAC address");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\"; pool = \"p\"; address = \"fe80::1\";\n  mac = \"02-00-00-00-00-0g\"; } );\n", 3,
		     "is not a MAC address");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\"; pool = \"p\"; } );\n", 2,
		     "backends entry lacks \"address\"");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\"; address = \"10.0.0.1\"; } );\n", 2,
		     "backends entry lacks \"pool\"");
	expect_error("pools = ( { memory_class = \"high\"; } );\n", 1, "pools entry lacks \"name\"");
	expect_error("pools = ( { name = \"0123456789012345678901234567890123456789012345678901234567890123\"; } );\n",
		     1, "name is 64 bytes (1..63 allowed)");
	expect_error("actuators = { nexthop = {\n  route = \"10.0.0.1/24\"; }; };\n", 2,
		     "route \"10.0.0.1/24\" is not a prefix");
	expect_error("actuators = { nexthop = {\n  route = \"10.0.0.0/33\"; }; };\n", 2, "is not a prefix");
	expect_error("actuators = { nexthop = {\n  route = \"2001:db8::1\"; }; };\n", 2, "is not a prefix");
	expect_error("actuators = { nexthop = {\n  route = \"2001:db8::/129\"; }; };\n", 2, "is not a prefix");
	expect_error("actuators = { xdp_lb = {\n  vip = \"2001:db8::1:80\"; }; };\n", 2,
		     "vip \"2001:db8::1:80\" is not ADDRESS:PORT");
	expect_error("actuators = { xdp_lb = {\n  vip = \"[10.0.0.1]:80\"; }; };\n", 2, "is not ADDRESS:PORT");
	expect_error("actuators = { xdp_lb = {\n  vip = \"10.0.0.1:65536\"; }; };\n", 2, "is not ADDRESS:PORT");
	expect_error("actuators = { xdp_lb = {\n  vip = \"10.0.0.1\"; }; };\n", 2, "is not ADDRESS:PORT");
	expect_error("actuators = { xdp_lb = {\n  forward = \"xdp_pass\"; }; };\n", 2,
		     "unknown forward \"xdp_pass\" (tx, redirect or ipip)");
	expect_error("actuators = { xdp_lb = {\n  transport = \"sctp\"; }; };\n", 2,
		     "unknown transport \"sctp\"");
	expect_error("actuators = { xdp_lb = {\n  interface = \"0123456789012345\"; }; };\n", 2,
		     "interface is 16 bytes (0..15 allowed)");
	expect_error("actuators = { xdp_lb = {\n  interface = \"eth0:1\"; }; };\n", 2,
		     "interface \"eth0:1\" is not an interface name");
	expect_error("actuators = { xdp_lb = {\n  egress_interface = \"..\"; }; };\n", 2,
		     "is not an interface name");
	expect_error("actuators = { xdp_lb = {\n  ipip_source = \"host\"; }; };\n", 2,
		     "ipip_source \"host\" is not an IPv4 or IPv6 address");
	expect_error("actuators = { hook = {\n  command = [ \"provision\" ]; }; };\n", 2,
		     "command[0]: \"provision\" must be an absolute path");
	expect_error("actuators = { hook = {\n  command = [ \"/a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\",\n"
		     "  \"i\", \"j\", \"k\", \"l\", \"m\", \"n\", \"o\", \"p\", \"q\" ]; }; };\n", 2,
		     "too many command words: 17 (at most 16)");
	expect_error("actuators = { hook = {\n  command = ( \"/a\", 7 ); }; };\n", 2,
		     "command[1]: command must hold strings, not an integer");
}

static void test_cp_type_errors(void)
{
	expect_error("thresholds = {\n  low = 0.5; };\n", 2, "low must be a group { ... }, not a float");
	expect_error("thresholds = { low = {\n  high = \"0.9\"; }; };\n", 2, "high must be a number, not a string");
	expect_error("detectors = {\n  bocpd_max_run = 5.0; };\n", 2, "bocpd_max_run must be an integer, not a float");
	expect_error("retention = (\n);\n", 1, "retention must be a group");
	expect_error("control = {\n  state_dir = 1; };\n", 2, "state_dir must be a string, not an integer");
	expect_error("pools = { name = \"p\"; };\n", 1, "pools must be a list of groups");
	expect_error("pools = ( \"p\" );\n", 1, "pools[0]: each entry of pools must be a group");
	expect_error("pools = ( { name = \"p\";\n  skew_handling = 1; } );\n", 2,
		     "skew_handling must be a boolean (true or false), not an integer");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\"; pool = \"p\"; address = \"10.0.0.1\";\n  standby = \"no\"; } );\n", 3,
		     "standby must be a boolean");
	expect_error("actuators = {\n  dry_run = 0; };\n", 2, "dry_run must be a boolean");
	expect_error("actuators = { nexthop = {\n  enabled = \"yes\"; }; };\n", 2, "enabled must be a boolean");
	expect_error("actuators = { nexthop = {\n  resilient = 128; }; };\n", 2, "resilient must be a group");
	expect_error("actuators = { hook = {\n  command = \"/bin/true\"; }; };\n", 2,
		     "command must be an array of strings");
	expect_error("streams = { rules = ( { name = \"a\"; protocol = \"mqtt\";\n  pool = 1; } ); };\n", 2,
		     "pool must be a string, not an integer");
	expect_error("policy = {\n  cooldown_s = 1.5; };\n", 2, "cooldown_s must be an integer, not a float");
}

static void test_cp_unknown_settings(void)
{
	expect_error("thresholds = {\n  critical = { }; };\n", 2,
		     "unknown setting \"critical\" in thresholds (known: low, medium, high)");
	expect_error("thresholds = { low = {\n  hi = 0.9; }; };\n", 2,
		     "unknown setting \"hi\" in thresholds.low (known: medium, high)");
	expect_error("detectors = {\n  cusum_drfit = 0.5; };\n", 2, "unknown setting \"cusum_drfit\" in detectors");
	expect_error("retention = {\n  fine = 60; };\n", 2, "unknown setting \"fine\" in retention");
	expect_error("control = {\n  socket = \"/x\"; };\n", 2, "unknown setting \"socket\" in control");
	expect_error("pools = ( { name = \"p\";\n  memory = \"high\"; } );\n", 2,
		     "unknown setting \"memory\" in a pools entry");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\"; pool = \"p\"; address = \"10.0.0.1\";\n  port = 9092; } );\n", 3,
		     "unknown setting \"port\" in a backends entry");
	expect_error("actuators = {\n  ecmp = { }; };\n", 2, "unknown setting \"ecmp\" in actuators");
	expect_error("actuators = { nexthop = {\n  groupid = 1; }; };\n", 2,
		     "unknown setting \"groupid\" in actuators.nexthop");
	expect_error("actuators = { nexthop = { resilient = {\n  unbalanced_timer_s = 1; }; }; };\n", 2,
		     "unknown setting \"unbalanced_timer_s\" in actuators.nexthop.resilient");
	expect_error("actuators = { xdp_lb = {\n  vips = \"1.2.3.4:5\"; }; };\n", 2,
		     "unknown setting \"vips\" in actuators.xdp_lb");
	expect_error("actuators = { hook = {\n  timeout = 5; }; };\n", 2,
		     "unknown setting \"timeout\" in actuators.hook");
	expect_error("policy = {\n  dry_run = true; };\n", 2, "unknown setting \"dry_run\" in policy");
}

static void test_cp_cross_checks(void)
{
	expect_error("pools = (\n  { name = \"p\"; },\n  { name = \"q\"; },\n  { name = \"p\"; } );\n", 4,
		     "duplicate pool name \"p\" (first at line 2)");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = (\n  { name = \"b\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		     "  { name = \"b\"; pool = \"p\"; address = \"10.0.0.2\"; } );\n", 4,
		     "duplicate backend name \"b\" (first at line 3)");
	expect_error("pools = ( { name = \"p\"; min_backends = 0; } );\n"
		     "backends = ( { name = \"b\";\n  pool = \"P\"; address = \"10.0.0.1\"; } );\n", 3,
		     "pool \"P\" is not in pools");
	expect_error("backends = ( { name = \"b\";\n  pool = \"p\"; address = \"10.0.0.1\"; } );\n", 2,
		     "pool \"p\" is not in pools");
	expect_error("pools = ( { name = \"p\"; } );\n"
		     "streams = { rules = ( { name = \"a\"; protocol = \"kafka\";\n  pool = \"q\"; } ); };\n", 3,
		     "pool \"q\" is not in pools");
	expect_error("pools = ( { name = \"p\";\n  min_backends = 5;\n  max_backends = 4; } );\n", 2,
		     "min_backends = 5 is more than max_backends = 4");
	expect_error("pools = ( { name = \"p\";\n  max_backends = 0; } );\n", 2, "out of range 1..1024");
	/* min_backends 1 (default) with no backend: at the entry */
	expect_error("\npools = ( { name = \"p\"; } );\n", 2,
		     "pool \"p\" has 0 backends, fewer than min_backends = 1");
	expect_error("pools = ( { name = \"p\";\n  min_backends = 2; } );\n"
		     "backends = ( { name = \"b\"; pool = \"p\"; address = \"10.0.0.1\"; standby = true; } );\n", 2,
		     "pool \"p\" has 1 backend, fewer than min_backends = 2");
	expect_error("retention = {\n  coarse_step_s = 7200;\n  coarse_s = 3600; };\n", 3,
		     "coarse_step_s = 7200 is longer than coarse_s = 3600");
	expect_error("retention = {\n  fine_s = 604801; };\n", 2,
		     "fine_s = 604801 is longer than coarse_s = 604800");
	/* spans against the epoch: at the span when the file sets it ... */
	expect_error("defaults = { epoch_ms = 120000; };\n"
		     "retention = {\n  coarse_step_s = 119; };\n", 3,
		     "retention.coarse_step_s = 119 s is shorter than 1 epoch (defaults.epoch_ms = 120000)");
	expect_error("defaults = { epoch_ms = 3600000; };\n"
		     "retention = { coarse_step_s = 3600;\n  profiles_s = 3599; };\n", 3,
		     "retention.profiles_s = 3599 s is shorter than 1 epoch");
	expect_error("defaults = { epoch_ms = 3600000; };\n"
		     "retention = { coarse_step_s = 3600; };\n"
		     "detectors = {\n  model_refresh_s = 3599; };\n", 4,
		     "detectors.model_refresh_s = 3599 s is shorter than 1 epoch");
	expect_error("defaults = { epoch_ms = 3600000; };\n"
		     "retention = { coarse_step_s = 3600; };\n"
		     "detectors = {\n  season_s = 7199; };\n", 4,
		     "detectors.season_s = 7199 s is shorter than 2 epochs");
	/* ... else at the epoch */
	expect_error("\ndefaults = {\n  epoch_ms = 61000; };\n", 3,
		     "retention.coarse_step_s = 60 s is shorter than 1 epoch (defaults.epoch_ms = 61000)");
	/* the boundaries themselves pass */
	{
		struct st_config *cfg = load_text(
			"defaults = { epoch_ms = 3600000; };\n"
			"retention = { coarse_step_s = 3600; };\n"
			"detectors = { season_s = 7200; model_refresh_s = 3600; };\n");

		CU_ASSERT_PTR_NOT_NULL(cfg);
		st_config_destroy(cfg);
	}
}

static void test_cp_actuator_checks(void)
{
	static const char pools[] = "pools = ( { name = \"p\"; min_backends = 0; } );\n";
	char text[8192];
	struct st_config *cfg;

	expect_error("actuators = { nexthop = {\n  enabled = true; }; };\n", 2,
		     "actuators.nexthop is enabled but has no route");
	expect_error("actuators = { nexthop = {\n  enabled = true; route = \"10.0.0.0/8\"; }; };\n", 2,
		     "actuators.nexthop is enabled but there are no backends");
	snprintf(text, sizeof(text), "%s"
		 "backends = ( { name = \"a\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		 "  { name = \"b\"; pool = \"p\"; address = \"10.0.0.2\"; } );\n"
		 "actuators = { nexthop = { enabled = true; route = \"10.0.0.0/8\";\n"
		 "  resilient = {\n    buckets = 1; }; }; };\n", pools);
	expect_error(text, 6, "resilient.buckets = 1 is fewer than the 2 backends");
	snprintf(text, sizeof(text), "%s"
		 "backends = ( { name = \"a\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		 "  { name = \"b\"; pool = \"p\"; address = \"10.0.0.2\"; } );\n"
		 "actuators = { nexthop = { enabled = true; route = \"10.0.0.0/8\";\n"
		 "  resilient = { buckets = 2; }; }; };\n", pools);
	cfg = load_text(text);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	st_config_destroy(cfg);
	/* buckets 0 (a plain multipath group) needs no count */
	snprintf(text, sizeof(text), "%s"
		 "backends = ( { name = \"a\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		 "  { name = \"b\"; pool = \"p\"; address = \"10.0.0.2\"; } );\n"
		 "actuators = { nexthop = { enabled = true; route = \"10.0.0.0/8\";\n"
		 "  resilient = { buckets = 0; }; }; };\n", pools);
	cfg = load_text(text);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	st_config_destroy(cfg);

	expect_error("actuators = { xdp_lb = {\n  enabled = true; vip = \"10.0.0.1:80\"; }; };\n", 2,
		     "actuators.xdp_lb is enabled but has no interface");
	expect_error("actuators = { xdp_lb = {\n  enabled = true; interface = \"lo\"; }; };\n", 2,
		     "actuators.xdp_lb is enabled but has no vip");
	expect_error("actuators = { xdp_lb = {\n  enabled = true; interface = \"lo\"; vip = \"10.0.0.1:80\"; }; };\n", 2,
		     "actuators.xdp_lb is enabled but there are no pools");
	snprintf(text, sizeof(text), "%s"
		 "backends = ( { name = \"a\"; pool = \"p\"; address = \"10.0.0.1\"; } );\n"
		 "actuators = { xdp_lb = { enabled = true; interface = \"lo\"; vip = \"10.0.0.1:80\";\n"
		 "  forward = \"redirect\"; }; };\n", pools);
	expect_error(text, 4, "forward = \"redirect\" needs an egress_interface");
	/* 2 backends: 3989 (the largest prime < 2000 x 2) is refused, 4001 (a
	 * prime) passes */
	snprintf(text, sizeof(text), "%s"
		 "backends = ( { name = \"a\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		 "  { name = \"b\"; pool = \"p\"; address = \"10.0.0.2\"; } );\n"
		 "actuators = { xdp_lb = { enabled = true; interface = \"lo\"; vip = \"10.0.0.1:80\";\n"
		 "  table_size = 3989; }; };\n", pools);
	expect_error(text, 5, "table_size = 3989 is below 2000 x the 2 backends of pool \"p\"");
	snprintf(text, sizeof(text), "%s"
		 "backends = ( { name = \"a\"; pool = \"p\"; address = \"10.0.0.1\"; },\n"
		 "  { name = \"b\"; pool = \"p\"; address = \"10.0.0.2\"; } );\n"
		 "actuators = { xdp_lb = { enabled = true; interface = \"lo\"; vip = \"10.0.0.1:80\";\n"
		 "  table_size = 4001; }; };\n", pools);
	cfg = load_text(text);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	if (cfg) {
		CU_ASSERT(st_config_actuators(cfg)->xdp_lb.table_size == 4001);
		CU_ASSERT_STRING_EQUAL(st_config_actuators(cfg)->xdp_lb.pool, "p");
	}
	st_config_destroy(cfg);
	/* the pool must exist and have backends; "auto" or a prime only */
	snprintf(text, sizeof(text), "%s"
		 "backends = ( { name = \"a\"; pool = \"p\"; address = \"10.0.0.1\"; } );\n"
		 "actuators = { xdp_lb = { enabled = true; interface = \"lo\"; vip = \"10.0.0.1:80\";\n"
		 "  pool = \"nope\"; }; };\n", pools);
	expect_error(text, 4, "actuators.xdp_lb.pool \"nope\" is not a pool");
	expect_error("actuators = { xdp_lb = {\n  table_size = \"big\"; }; };\n", 2,
		     "table_size = \"big\" is neither \"auto\" nor a prime");
	/* "auto": 40 backends -> 80021, the smallest prime >= 2000 x 40 */
	{
		size_t len = (size_t)snprintf(text, sizeof(text), "%sbackends = (", pools);

		for (int i = 0; i < 40; i++)
			len += (size_t)snprintf(text + len, sizeof(text) - len,
						"%s{ name = \"b%d\"; pool = \"p\"; address = "
						"\"10.0.1.%d\"; }", i ? ", " : " ", i, i + 1);
		snprintf(text + len, sizeof(text) - len, " );\nactuators = { xdp_lb = { "
			 "enabled = true; interface = \"lo\"; vip = \"10.0.0.1:80\"; "
			 "table_size = \"auto\"; }; };\n");
		cfg = load_text(text);
		CU_ASSERT_PTR_NOT_NULL(cfg);
		if (cfg)
			CU_ASSERT(st_config_actuators(cfg)->xdp_lb.table_size == 80021 &&
				  st_config_actuators(cfg)->xdp_lb.table_size_auto);
		st_config_destroy(cfg);
	}
	/* a disabled actuator is range-checked only */
	cfg = load_text("actuators = { xdp_lb = { table_size = 3; forward = \"redirect\"; };\n"
			"  nexthop = { resilient = { buckets = 1; }; }; };\n");
	CU_ASSERT_PTR_NOT_NULL(cfg);
	st_config_destroy(cfg);
}

ST_TEST_MAIN("control/config/config",
	ST_TEST(test_defaults_without_file),
	ST_TEST(test_example_equals_its_text),
	ST_TEST(test_error_syntax),
	ST_TEST(test_error_unknown_setting),
	ST_TEST(test_error_wrong_type),
	ST_TEST(test_error_out_of_range),
	ST_TEST(test_wide_ints_with_suffix_accepted),
	ST_TEST(test_range_ends_accepted),
	ST_TEST(test_error_bad_protocol),
	ST_TEST(test_error_bad_pointer),
	ST_TEST(test_error_duplicate_stream_name),
	ST_TEST(test_error_too_many_key_fields),
	ST_TEST(test_error_bad_port),
	ST_TEST(test_error_file_and_include),
	ST_TEST(test_port_map_from_file),
	ST_TEST(test_stream_schema_key),
	ST_TEST(test_unmatched_names),
	ST_TEST(test_rule_order_and_globs),
	ST_TEST(test_pointer_syntax),
	ST_TEST(test_add_key_field),
	ST_TEST(test_set_port),
	ST_TEST(test_port_override_text),
	ST_TEST(test_cp_defaults),
	ST_TEST(test_example_cp_sections),
	ST_TEST(test_cp_range_ends_accepted),
	ST_TEST(test_cp_out_of_range),
	ST_TEST(test_cp_bad_values),
	ST_TEST(test_cp_type_errors),
	ST_TEST(test_cp_unknown_settings),
	ST_TEST(test_cp_cross_checks),
	ST_TEST(test_cp_actuator_checks),
)
