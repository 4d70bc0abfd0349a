/*
 * shadowtap-gen, checked from outside: the tests run the built executable
 * (SHADOWTAP_GEN, set by meson) on small configurations and compare its
 * ground truth with what other programs find in its pcap:
 *
 *  - tshark's Kafka and MQTT dissectors (no malformed packets, no warnings,
 *    IP/TCP/UDP checksums verified; records, partitions, topics, replies);
 *  - a Kafka parser written here from the protocol guide (request headers v1
 *    and v2, Produce v3-v9 including the flexible v9 tshark 4.0 cannot read,
 *    RecordBatch v2 with a bitwise CRC-32C), fed by tshark's TCP follow;
 *  - a NATS scanner written here from the client protocol (PUB, HPUB);
 *  - jansson, parsing every JSONL value to rebuild per-epoch counts, ticks
 *    and schemas.
 *
 * Keys are counted independently from the decoded records and compared with
 * the truth's distinct counts and top-10 lists.  Expected values never come
 * from the generator's own code.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "st_test.h"

static char work_dir[] = "/tmp/st-gen-test-XXXXXX";

static const char *gen(void)
{
	const char *p = getenv("SHADOWTAP_GEN");

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static const char *path_in(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", work_dir, name);
	return buf[i];
}

/* Runs a shell command; returns its exit status (or -1). */
static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Output of a shell command, NUL-terminated; caller frees. */
static char *output_of(const char *fmt, ...)
{
	char cmd[8192];
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	va_list ap;
	FILE *p;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
		}
	}
	buf[len] = '\0';
	pclose(p);
	return buf;
}

static json_t *load_truth(const char *pcap)
{
	char path[300];
	json_error_t jerr;
	json_t *t;

	snprintf(path, sizeof(path), "%s.truth.json", pcap);
	t = json_load_file(path, 0, &jerr);
	if (!t)
		fprintf(stderr, "truth %s: %s line %d\n", path, jerr.text, jerr.line);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	return t;
}

static json_t *truth_stream(json_t *truth, const char *name)
{
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(truth, "streams"), i, s)
		if (!strcmp(json_string_value(json_object_get(s, "name")), name))
			return s;
	fprintf(stderr, "no stream %s in the truth\n", name);
	CU_FAIL_FATAL("stream missing from the truth");
	return NULL;
}

static long long jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	CU_ASSERT_FATAL(json_is_integer(v));
	return json_integer_value(v);
}

static const char tshark_checks[] =
	"tshark -n -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE "
	"-o udp.check_checksum:TRUE -o tcp.reassemble_out_of_order:TRUE -d tcp.port==9092,kafka";

/* Independent key counting: a jansson object key -> count. */

static void count_key(json_t *counts, const char *key, size_t len)
{
	char k[64];
	json_t *v;

	CU_ASSERT_FATAL(len < sizeof(k));
	memcpy(k, key, len);
	k[len] = '\0';
	v = json_object_get(counts, k);
	json_object_set_new(counts, k, json_integer(v ? json_integer_value(v) + 1 : 1));
}

/* The truth's distinct count and top-10 (count desc, key asc) against ours. */
static void check_keys(json_t *counts, json_t *stream)
{
	json_t *top = json_object_get(stream, "top_keys"), *t, *c;
	const char *k;
	size_t i, n = json_array_size(top);

	CU_ASSERT_EQUAL(jint(stream, "distinct_keys"), (long long)json_object_size(counts));
	CU_ASSERT_EQUAL(n, json_object_size(counts) < 10 ? json_object_size(counts) : 10);
	json_array_foreach(top, i, t) {
		const char *key = json_string_value(json_object_get(t, "key"));
		long long count = jint(t, "count");
		size_t better = 0;

		CU_ASSERT_EQUAL(json_integer_value(json_object_get(counts, key)), count);
		/* exactly i keys rank before this one */
		json_object_foreach(counts, k, c) {
			long long n2 = json_integer_value(c);

			if (n2 > count || (n2 == count && strcmp(k, key) < 0))
				better++;
		}
		CU_ASSERT_EQUAL(better, i);
	}
}

/* TCP follow: the client's bytes of one stream (tshark -z follow,tcp,raw). */
static uint8_t *client_bytes(const char *pcap, int stream, size_t *len)
{
	char *text = output_of("tshark -n -r %s -q -z follow,tcp,raw,%d 2>/dev/null", pcap, stream);
	uint8_t *out = malloc(strlen(text) / 2 + 1);
	char *line = text;
	bool body = false;

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	*len = 0;
	while (line && *line) {
		char *next = strchr(line, '\n');

		if (next)
			*next++ = '\0';
		if (!strncmp(line, "Node 1:", 7)) {
			body = true;
		} else if (body && line[0] && line[0] != '\t' && line[0] != '=') {
			for (char *p = line; p[0] && p[1]; p += 2) {
				unsigned v;

				CU_ASSERT_FATAL(sscanf(p, "%2x", &v) == 1);
				out[(*len)++] = (uint8_t)v;
			}
		}
		line = next;
	}
	free(text);
	return out;
}

/* Kafka, from the protocol guide. */

struct cursor {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t take(struct cursor *c, unsigned n)
{
	uint64_t v = 0;

	if ((size_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return 0;
	}
	while (n--)
		v = v << 8 | *c->p++;
	return v;
}

static uint64_t take_uvarint(struct cursor *c)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint64_t b = take(c, 1);

		v |= (b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static int64_t take_varint(struct cursor *c)
{
	uint64_t u = take_uvarint(c);

	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static const uint8_t *skip(struct cursor *c, uint64_t n)
{
	const uint8_t *at = c->p;

	if ((uint64_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return at;
	}
	c->p += n;
	return at;
}

static void skip_tags(struct cursor *c)
{
	for (uint64_t n = take_uvarint(c); n && !c->bad; n--) {
		take_uvarint(c);
		skip(c, take_uvarint(c));
	}
}

/* Bitwise CRC-32C (Castagnoli, reflected 0x82F63B78). */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & -(crc & 1));
	}
	return ~crc;
}

struct kafka_tally {
	long long requests, records, crc_errors, bad;
	long long partitions[16];
	json_t *keys;
};

static void kafka_records(struct cursor *c, struct kafka_tally *t, unsigned partition)
{
	while (c->p < c->end && !c->bad) {
		struct cursor b;
		uint64_t batch_len, crc;
		uint32_t count, last_delta;

		take(c, 8);                       /* baseOffset */
		batch_len = take(c, 4);
		b.p = skip(c, batch_len);
		b.end = b.p + batch_len;
		b.bad = c->bad;
		take(&b, 4);                      /* partitionLeaderEpoch */
		CU_ASSERT_EQUAL(take(&b, 1), 2);  /* magic */
		crc = take(&b, 4);
		if (!b.bad && crc != crc32c_bitwise(b.p, (size_t)(b.end - b.p)))
			t->crc_errors++;
		CU_ASSERT_EQUAL(take(&b, 2), 0);  /* attributes */
		last_delta = (uint32_t)take(&b, 4);
		take(&b, 8 + 8 + 8 + 2 + 4);
		count = (uint32_t)take(&b, 4);
		CU_ASSERT_EQUAL(last_delta + 1, count);
		for (uint32_t i = 0; i < count && !b.bad; i++) {
			int64_t len = take_varint(&b), key_len, value_len;
			struct cursor r = { b.p, b.p + len, false };
			const uint8_t *key, *value;
			json_t *v;

			skip(&b, (uint64_t)len);
			take(&r, 1);
			take_varint(&r);                        /* timestampDelta */
			CU_ASSERT_EQUAL(take_varint(&r), i);    /* offsetDelta */
			key_len = take_varint(&r);
			key = skip(&r, (uint64_t)key_len);
			value_len = take_varint(&r);
			value = skip(&r, (uint64_t)value_len);
			for (int64_t h = take_varint(&r); h > 0 && !r.bad; h--) {
				skip(&r, (uint64_t)take_varint(&r));
				skip(&r, (uint64_t)take_varint(&r));
			}
			if (r.bad || r.p != r.end || b.bad) {
				t->bad++;
				return;
			}
			count_key(t->keys, (const char *)key, (size_t)key_len);
			/* the key is also /user/id in the value */
			v = json_loadb((const char *)value, (size_t)value_len, 0, NULL);
			CU_ASSERT_PTR_NOT_NULL(v);
			if (v) {
				const char *id = json_string_value(json_object_get(json_object_get(v, "user"), "id"));

				CU_ASSERT(id && strlen(id) == (size_t)key_len && !memcmp(id, key, (size_t)key_len));
				json_decref(v);
			}
			t->records++;
			if (partition < 16)
				t->partitions[partition]++;
		}
		if (b.bad)
			t->bad++;
	}
}

static void kafka_parse(const uint8_t *data, size_t len, struct kafka_tally *t)
{
	struct cursor c = { data, data + len, false };

	while (c.p < c.end && !c.bad) {
		uint64_t size = take(&c, 4);
		struct cursor f = { c.p, c.p + size, false };
		unsigned api_key, version;
		bool flex;

		skip(&c, size);
		api_key = (unsigned)take(&f, 2);
		version = (unsigned)take(&f, 2);
		take(&f, 4);                              /* correlation id */
		skip(&f, (uint16_t)take(&f, 2));          /* client_id (int16, not null here) */
		flex = (api_key == 0 && version >= 9) || (api_key == 18 && version >= 3);
		if (flex)
			skip_tags(&f);
		if (api_key != 0)
			continue;
		t->requests++;
		if (flex) {
			uint64_t n = take_uvarint(&f);    /* transactional_id */

			if (n)
				skip(&f, n - 1);
		} else {
			int16_t n = (int16_t)take(&f, 2);

			if (n > 0)
				skip(&f, (uint64_t)n);
		}
		take(&f, 2 + 4);                          /* acks, timeout */
		for (uint64_t topics = flex ? take_uvarint(&f) - 1 : take(&f, 4); topics && !f.bad; topics--) {
			skip(&f, flex ? take_uvarint(&f) - 1 : take(&f, 2));
			for (uint64_t parts = flex ? take_uvarint(&f) - 1 : take(&f, 4); parts && !f.bad; parts--) {
				unsigned partition = (unsigned)take(&f, 4);
				uint64_t n = flex ? take_uvarint(&f) - 1 : take(&f, 4);
				struct cursor r = { f.p, f.p + n, false };

				skip(&f, n);
				kafka_records(&r, t, partition);
				if (flex)
					skip_tags(&f);
			}
			if (flex)
				skip_tags(&f);
		}
		if (flex)
			skip_tags(&f);
		if (f.bad || f.p != f.end)
			t->bad++;
	}
	if (c.bad)
		t->bad++;
}

/* Tests */

static void test_kafka_decodes_cleanly_in_tshark(void)
{
	const char *pcap = path_in("kafka.pcap");
	json_t *truth;
	char *bad, *sums;
	const char *topics[] = { "v3", "v7", "v8" };

	CU_ASSERT_EQUAL_FATAL(run("%s -q -o %s -d 3s --seed 7 "
		"--stream kafka:v3,version=3,rate=400,conns=2,keys=50 "
		"--stream kafka:v7,version=7,rate=400,partitions=4,headers=1,batch=5 "
		"--stream kafka:v8,version=8,rate=600,partitions=3,split=random,mss=300,zipf=1.2,keys=500,"
		"reorder=0.2,dup=0.1,schema=+extra:object@1s",
		gen(), pcap), 0);
	truth = load_truth(pcap);
	/* Nothing malformed and no warning beyond the reordering we asked for
	 * (which tshark reports as lost and out-of-order segments). */
	bad = output_of("%s -r %s -Y '_ws.malformed || (_ws.expert.severity >= warning && "
			"!tcp.analysis.lost_segment && !tcp.analysis.out_of_order)' 2>/dev/null",
			tshark_checks, pcap);
	CU_ASSERT_STRING_EQUAL(bad, "");
	if (*bad)
		fprintf(stderr, "tshark flags:\n%.2000s\n", bad);
	free(bad);
	/* tshark's records per request (last offset delta + 1 per batch), per
	 * topic and partition; and the replies. */
	for (unsigned i = 0; i < 3; i++) {
		char name[32];
		json_t *s, *parts;
		long long total = 0, per_part[8] = { 0 }, replies;
		char *line;

		sums = output_of("%s -r %s -Y 'kafka.api_key==0 && tcp.dstport==9092 && kafka.topic_name==\"%s\"' "
				 "-T fields -e kafka.partition_id -e kafka.batch_last_offset_delta 2>/dev/null",
				 tshark_checks, pcap, topics[i]);
		for (line = strtok(sums, "\n"); line; line = strtok(NULL, "\n")) {
			char *tab = strchr(line, '\t'), *pp = line, *dp;

			CU_ASSERT_PTR_NOT_NULL_FATAL(tab);
			*tab = '\0';
			dp = tab + 1;
			while (*pp && *dp) {
				long p = strtol(pp, &pp, 10), d = strtol(dp, &dp, 10);

				CU_ASSERT_FATAL(p >= 0 && p < 8);
				per_part[p] += d + 1;
				total += d + 1;
				pp += *pp == ',';
				dp += *dp == ',';
			}
		}
		free(sums);
		snprintf(name, sizeof(name), "kafka:%s", topics[i]);
		s = truth_stream(truth, name);
		CU_ASSERT(total > 0);
		CU_ASSERT_EQUAL(total, jint(s, "records"));
		parts = json_object_get(s, "partition_records");
		for (size_t p = 0; p < json_array_size(parts); p++)
			CU_ASSERT_EQUAL(per_part[p], json_integer_value(json_array_get(parts, p)));
		sums = output_of("%s -r %s -Y 'kafka.api_key==0 && tcp.srcport==9092 && kafka.topic_name==\"%s\" "
				 "&& kafka.request_frame' 2>/dev/null | wc -l", tshark_checks, pcap, topics[i]);
		replies = atoll(sums);
		free(sums);
		CU_ASSERT_EQUAL(replies, jint(s, "messages"));
	}
	json_decref(truth);
}

static void check_kafka_by_spec(const char *pcap, int tcp_stream, json_t *stream, bool headers)
{
	struct kafka_tally t = { .keys = json_object() };
	size_t len;
	uint8_t *bytes = client_bytes(pcap, tcp_stream, &len);
	json_t *parts = json_object_get(stream, "partition_records");

	(void)headers;
	CU_ASSERT(len > 0);
	kafka_parse(bytes, len, &t);
	CU_ASSERT_EQUAL(t.bad, 0);
	CU_ASSERT_EQUAL(t.crc_errors, 0);
	CU_ASSERT_EQUAL(t.records, jint(stream, "records"));
	CU_ASSERT_EQUAL(t.requests, jint(stream, "messages"));
	for (size_t p = 0; p < json_array_size(parts) && p < 16; p++)
		CU_ASSERT_EQUAL(t.partitions[p], json_integer_value(json_array_get(parts, p)));
	check_keys(t.keys, stream);
	json_decref(t.keys);
	free(bytes);
}

static void test_kafka_batches_follow_the_spec(void)
{
	const char *pcap = path_in("kafka-spec.pcap");
	json_t *truth;

	/* v9 (flexible: tshark 4.0 cannot dissect it) and v3, both over IPv6. */
	CU_ASSERT_EQUAL_FATAL(run("%s -q -o %s -d 2s --seed 3 --ipv6 "
		"--stream kafka:flex,version=9,rate=800,partitions=5,headers=1,zipf=1.1,keys=300,split=random "
		"--stream kafka:old,version=3,rate=300,batch=1,keys=20",
		gen(), pcap), 0);
	truth = load_truth(pcap);
	check_kafka_by_spec(pcap, 0, truth_stream(truth, "kafka:flex"), true);
	check_kafka_by_spec(pcap, 1, truth_stream(truth, "kafka:old"), false);
	json_decref(truth);
}

static long long count_lines(const char *fmt, const char *pcap)
{
	char *out = output_of(fmt, tshark_checks, pcap);
	long long n = atoll(out);

	free(out);
	return n;
}

static void test_mqtt_publishes_in_tshark(void)
{
	const char *pcap = path_in("mqtt.pcap");
	json_t *truth, *s;
	char *bad;

	CU_ASSERT_EQUAL_FATAL(run("%s -q -o %s -d 2s --seed 5 "
		"--stream mqtt:sensors/temp,version=5,qos=1,rate=500,batch=3,linger=2ms "
		"--stream mqtt:plain,version=4,rate=300,conns=3 "
		"--stream mqtt:exactly/once,version=5,qos=2,rate=100",
		gen(), pcap), 0);
	truth = load_truth(pcap);
	bad = output_of("%s -r %s -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null", tshark_checks, pcap);
	CU_ASSERT_STRING_EQUAL(bad, "");
	free(bad);
	s = truth_stream(truth, "mqtt:sensors/temp");
	/* batch=3: several PUBLISH per segment, so count packets, not frames */
	CU_ASSERT_EQUAL(count_lines("%s -r %s -Y 'mqtt.msgtype==3 && tcp.dstport==1883 && "
				    "mqtt.topic==\"sensors/temp\"' -T fields -e mqtt.msgtype 2>/dev/null "
				    "| tr ',' '\\n' | grep -c '^3$'", pcap),
			jint(s, "records"));
	CU_ASSERT_EQUAL(count_lines("%s -r %s -Y 'mqtt.msgtype==4 && tcp.srcport==1883 && tcp.stream==0' "
				    "-T fields -e mqtt.msgtype 2>/dev/null | tr ',' '\\n' | grep -c '^4$'", pcap),
			jint(s, "records"));
	s = truth_stream(truth, "mqtt:plain");
	CU_ASSERT_EQUAL(count_lines("%s -r %s -Y 'mqtt.msgtype==3 && tcp.dstport==1883 && "
				    "mqtt.topic==\"plain\"' 2>/dev/null | wc -l", pcap), jint(s, "records"));
	s = truth_stream(truth, "mqtt:exactly/once");
	CU_ASSERT_EQUAL(count_lines("%s -r %s -Y 'mqtt.msgtype==3 && tcp.dstport==1883 && "
				    "mqtt.topic==\"exactly/once\"' 2>/dev/null | wc -l", pcap), jint(s, "records"));
	CU_ASSERT_EQUAL(count_lines("%s -r %s -Y 'mqtt.msgtype==7' 2>/dev/null | wc -l", pcap), jint(s, "records"));
	/* every topic tshark sees is a stream of the truth */
	CU_ASSERT_EQUAL(count_lines("%s -r %s -T fields -e mqtt.topic -Y 'mqtt.msgtype==3' 2>/dev/null "
				    "| tr ',' '\\n' | sort -u | wc -l", pcap), 3);
	json_decref(truth);
}

/* NATS, from the client protocol: PUB <subject> <n>\r\n<n bytes>\r\n and
 * HPUB <subject> <h> <t>\r\n<t bytes>\r\n, the first h a header block. */
static void nats_scan(const uint8_t *data, size_t len, const char *subject, long long *pubs,
		      long long *pings, json_t *keys, bool *bad)
{
	const char *p = (const char *)data, *end = p + len;

	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		char verb[8], subj[128];
		long long h = 0, n = 0;
		json_t *v;

		if (!eol) {
			*bad = true;
			return;
		}
		if (!strncmp(p, "PING", 4) && eol - p == 4) {
			(*pings)++;
			p = eol + 2;
			continue;
		}
		if (!strncmp(p, "CONNECT ", 8)) {
			p = eol + 2;
			continue;
		}
		if (sscanf(p, "%7s %127s %lld %lld", verb, subj, &h, &n) < 3) {
			*bad = true;
			return;
		}
		if (!strcmp(verb, "PUB")) {
			n = h;
			h = 0;
		} else if (strcmp(verb, "HPUB") || n < h) {
			*bad = true;
			return;
		}
		p = eol + 2;
		if (end - p < n + 2 || memcmp(p + n, "\r\n", 2) || strcmp(subj, subject)) {
			*bad = true;
			return;
		}
		if (h && (h < 14 || memcmp(p, "NATS/1.0\r\n", 10) || memcmp(p + h - 4, "\r\n\r\n", 4)))
			*bad = true;
		v = json_loadb(p + h, (size_t)(n - h), 0, NULL);
		if (!v) {
			*bad = true;
			return;
		}
		const char *id = json_string_value(json_object_get(json_object_get(v, "user"), "id"));
		if (id)
			count_key(keys, id, strlen(id));
		json_decref(v);
		(*pubs)++;
		p += n + 2;
	}
}

static void test_nats_pubs_by_scan(void)
{
	const char *pcap = path_in("nats.pcap");
	const char *subjects[] = { "orders.eu", "plain.sub" };
	json_t *truth;

	CU_ASSERT_EQUAL_FATAL(run("%s -q -o %s -d 3s --seed 9 "
		"--stream nats:orders.eu,headers=1,rate=400,zipf=0.9,keys=200,split=random,mss=100 "
		"--stream nats:plain.sub,rate=200,verbose=1,batch=4,linger=3ms,ping=500ms",
		gen(), pcap), 0);
	truth = load_truth(pcap);
	for (int i = 0; i < 2; i++) {
		char name[64];
		json_t *keys = json_object(), *s;
		long long pubs = 0, pings = 0;
		bool bad = false;
		size_t len;
		uint8_t *bytes = client_bytes(pcap, i, &len);

		nats_scan(bytes, len, subjects[i], &pubs, &pings, keys, &bad);
		CU_ASSERT_FALSE(bad);
		snprintf(name, sizeof(name), "nats:%s", subjects[i]);
		s = truth_stream(truth, name);
		CU_ASSERT(pubs > 0);
		CU_ASSERT_EQUAL(pubs, jint(s, "records"));
		CU_ASSERT_EQUAL(pubs, jint(s, "messages"));
		CU_ASSERT(pings >= 2);
		check_keys(keys, s);
		json_decref(keys);
		free(bytes);
	}
	json_decref(truth);
}

/* Schema of one JSON value: path -> type names, as the truth describes. */
static void schema_walk(json_t *v, const char *path, json_t *schema)
{
	const char *type;
	json_t *types;

	switch (json_typeof(v)) {
	case JSON_NULL: type = "null"; break;
	case JSON_FALSE: type = "false"; break;
	case JSON_TRUE: type = "true"; break;
	case JSON_INTEGER: case JSON_REAL: type = "number"; break;
	case JSON_STRING: type = "string"; break;
	case JSON_OBJECT: type = "object"; break;
	default: type = "array"; break;
	}
	if (*path) {
		types = json_object_get(schema, path);
		if (!types) {
			types = json_object();
			json_object_set_new(schema, path, types);
		}
		json_object_set_new(types, type, json_true());
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *c;

		json_object_foreach(v, k, c) {
			char sub[256];

			snprintf(sub, sizeof(sub), "%s/%s", path, k);
			schema_walk(c, sub, schema);
		}
	} else if (json_is_array(v)) {
		char sub[256];
		size_t i;
		json_t *c;

		snprintf(sub, sizeof(sub), "%s/*", path);
		json_array_foreach(v, i, c)
			schema_walk(c, sub, schema);
	}
}

/* The truth's [{path, types}] against ours. */
static void check_schema(json_t *truth_schema, json_t *ours)
{
	size_t i;
	json_t *entry;

	CU_ASSERT_EQUAL(json_array_size(truth_schema), json_object_size(ours));
	json_array_foreach(truth_schema, i, entry) {
		json_t *types = json_object_get(ours, json_string_value(json_object_get(entry, "path")));
		json_t *tt = json_object_get(entry, "types"), *t;
		size_t k;

		CU_ASSERT_PTR_NOT_NULL(types);
		if (!types)
			continue;
		CU_ASSERT_EQUAL(json_array_size(tt), json_object_size(types));
		json_array_foreach(tt, k, t)
			CU_ASSERT_PTR_NOT_NULL(json_object_get(types, json_string_value(t)));
	}
}

static void test_jsonl_epochs_ticks_schema(void)
{
	const char *pcap = path_in("jsonl.pcap");
	long long start_ns, epoch_ns, tick_ns, n_epochs, per_epoch;
	long long *records, *ticks, total = 0;
	json_t *truth, *s, *epochs, **schemas, *keys = json_object();
	char *out, *line, *bad;

	CU_ASSERT_EQUAL_FATAL(run("%s -q -o %s -d 3s --seed 11 --tick 20ms --epoch 500ms "
		"--stream jsonl:udp:5140,rate=2000,zipf=1.3,keys=5000,"
		"schema=+extra:string@1s,schema=amount:string@1700ms,schema=-note@2200ms,schema=+flag:bool@2500ms "
		"--stream jsonl:tcp:5141,rate=300,batch=3,linger=1ms",
		gen(), pcap), 0);
	truth = load_truth(pcap);
	bad = output_of("%s -r %s -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null", tshark_checks, pcap);
	CU_ASSERT_STRING_EQUAL(bad, "");
	free(bad);
	start_ns = jint(truth, "start_ns");
	epoch_ns = jint(truth, "epoch_ns");
	tick_ns = jint(truth, "tick_ns");
	n_epochs = jint(truth, "epochs");
	per_epoch = epoch_ns / tick_ns;
	CU_ASSERT_EQUAL_FATAL(n_epochs, 6);
	records = calloc((size_t)n_epochs, sizeof(*records));
	ticks = calloc((size_t)(n_epochs * per_epoch), sizeof(*ticks));
	schemas = calloc((size_t)n_epochs, sizeof(*schemas));
	for (long long e = 0; e < n_epochs; e++)
		schemas[e] = json_object();
	/* Each datagram's capture time and payload, decoded here. */
	out = output_of("%s -r %s -Y 'udp.dstport==5140' -T fields -e frame.time_epoch -e data.data 2>/dev/null",
			tshark_checks, pcap);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		long long sec = 0, nsec = 0, ts, off, e;
		char frac[16] = "", *hex = strchr(line, '\t');
		size_t n, k = 0;
		char *payload;

		CU_ASSERT_FATAL(hex && sscanf(line, "%lld.%9[0-9]", &sec, frac) == 2);
		for (int d = 0; d < 9; d++)
			nsec = nsec * 10 + (frac[d] ? frac[d] - '0' : 0);
		ts = sec * 1000000000LL + nsec;
		off = ts - start_ns;
		e = off / epoch_ns;
		CU_ASSERT_FATAL(off >= 0 && e < n_epochs);
		hex++;
		n = strlen(hex) / 2;
		payload = malloc(n + 1);
		for (size_t i = 0; i < n; i++) {
			unsigned v;

			sscanf(hex + 2 * i, "%2x", &v);
			payload[i] = (char)v;
		}
		payload[n] = '\0';
		CU_ASSERT(n > 0 && payload[n - 1] == '\n');
		while (k < n) {
			char *nl = memchr(payload + k, '\n', n - k);
			json_t *v;

			CU_ASSERT_FATAL(nl != NULL);
			v = json_loadb(payload + k, (size_t)(nl - payload - k), 0, NULL);
			CU_ASSERT_PTR_NOT_NULL_FATAL(v);
			schema_walk(v, "", schemas[e]);
			const char *id = json_string_value(json_object_get(json_object_get(v, "user"), "id"));
			CU_ASSERT_PTR_NOT_NULL_FATAL(id);
			count_key(keys, id, strlen(id));
			json_decref(v);
			records[e]++;
			ticks[e * per_epoch + (off % epoch_ns) / tick_ns]++;
			total++;
			k = (size_t)(nl - payload) + 1;
		}
		free(payload);
	}
	free(out);
	s = truth_stream(truth, "jsonl:10.0.0.40:5140");
	CU_ASSERT_EQUAL(total, jint(s, "records"));
	check_keys(keys, s);
	epochs = json_object_get(s, "epochs");
	for (long long e = 0; e < n_epochs; e++) {
		json_t *te = json_array_get(epochs, (size_t)e), *tt = json_object_get(te, "ticks");

		CU_ASSERT_EQUAL(jint(te, "records"), records[e]);
		CU_ASSERT_EQUAL((long long)json_array_size(tt), per_epoch);
		for (long long k = 0; k < per_epoch; k++)
			CU_ASSERT_EQUAL(json_integer_value(json_array_get(tt, (size_t)k)), ticks[e * per_epoch + k]);
		check_schema(json_object_get(te, "schema"), schemas[e]);
	}
	/* the changes show where they were asked for: 1 s = epoch 2, 1.7 s = 3,
	 * 2.2 s = 4, 2.5 s = 5 */
	json_t *changes = json_object_get(s, "schema_changes");
	static const long long first_epochs[] = { 2, 3, 4, 5 };

	CU_ASSERT_EQUAL_FATAL(json_array_size(changes), 4);
	for (size_t i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(jint(json_array_get(changes, i), "first_epoch"), first_epochs[i]);
	CU_ASSERT_PTR_NOT_NULL(json_object_get(schemas[2], "/extra"));
	CU_ASSERT_PTR_NULL(json_object_get(schemas[1], "/extra"));
	CU_ASSERT_PTR_NULL(json_object_get(schemas[5], "/note"));

	/* JSONL over TCP: lines in the client's byte stream. */
	{
		size_t len, lines = 0;
		uint8_t *bytes = client_bytes(pcap, 0, &len);

		for (size_t i = 0; i < len; i++)
			lines += bytes[i] == '\n';
		CU_ASSERT(lines > 0);
		CU_ASSERT_EQUAL((long long)lines, jint(truth_stream(truth, "jsonl:10.0.0.40:5141"), "records"));
		free(bytes);
	}
	for (long long e = 0; e < n_epochs; e++)
		json_decref(schemas[e]);
	free(schemas);
	free(records);
	free(ticks);
	json_decref(keys);
	json_decref(truth);
}

/* records = sum of epochs = sum of ticks; tops sorted and bounded; shapes. */
/*
 * hot=P@T and explode=N@T, decoded here from tshark's datagram bytes: before
 * T the keys are those of the universe asked for; after hot=0.3@1s the key
 * u0 carries 30% of each epoch's records (within 4 binomial sigmas of the
 * share asked for); after explode=20000@2s the epoch holds far more
 * distinct keys than the 100 of the universe; and the truth's per-epoch
 * distinct counts and top key equal what is decoded.
 */
static void test_hot_key_and_explosion(void)
{
	const char *pcap = path_in("phases.pcap");
	long long start_ns, epoch_ns, records[4] = { 0 }, u0[4] = { 0 };
	json_t *truth, *s, *epochs, *keys[4];
	char *out, *line;

	CU_ASSERT_EQUAL_FATAL(run("%s -q -o %s -d 4s --seed 5 "
		"--stream jsonl:udp:5140,rate=3000,keys=100,hot=0.3@1s,explode=20000@3s",
		gen(), pcap), 0);
	truth = load_truth(pcap);
	start_ns = jint(truth, "start_ns");
	epoch_ns = jint(truth, "epoch_ns");
	for (int e = 0; e < 4; e++)
		keys[e] = json_object();
	out = output_of("%s -r %s -T fields -e frame.time_epoch -e data.data 2>/dev/null",
			tshark_checks, pcap);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		long long sec = 0, nsec = 0, e;
		char frac[16] = "", *hex = strchr(line, '\t');
		size_t n, k = 0;
		char *payload;

		CU_ASSERT_FATAL(hex && sscanf(line, "%lld.%9[0-9]", &sec, frac) == 2);
		for (int d = 0; d < 9; d++)
			nsec = nsec * 10 + (frac[d] ? frac[d] - '0' : 0);
		e = (sec * 1000000000LL + nsec - start_ns) / epoch_ns;
		CU_ASSERT_FATAL(e >= 0 && e < 4);
		n = strlen(++hex) / 2;
		payload = malloc(n + 1);
		for (size_t i = 0; i < n; i++) {
			unsigned v;

			sscanf(hex + 2 * i, "%2x", &v);
			payload[i] = (char)v;
		}
		payload[n] = '\0';
		while (k < n) {
			char *nl = memchr(payload + k, '\n', n - k);
			json_t *v;
			const char *id;

			CU_ASSERT_FATAL(nl != NULL);
			v = json_loadb(payload + k, (size_t)(nl - payload - k), 0, NULL);
			CU_ASSERT_PTR_NOT_NULL_FATAL(v);
			id = json_string_value(json_object_get(json_object_get(v, "user"), "id"));
			CU_ASSERT_PTR_NOT_NULL_FATAL(id);
			count_key(keys[e], id, strlen(id));
			u0[e] += strcmp(id, "u0") == 0;
			records[e]++;
			json_decref(v);
			k = (size_t)(nl - payload) + 1;
		}
		free(payload);
	}
	free(out);
	s = truth_stream(truth, "jsonl:10.0.0.40:5140");
	epochs = json_object_get(s, "epochs");
	for (int e = 0; e < 4; e++) {
		json_t *te = json_array_get(epochs, (size_t)e);
		double share = (double)u0[e] / (double)records[e];
		double sigma = sqrt(0.3 * 0.7 / (double)records[e]);

		CU_ASSERT(records[e] > 2000);
		CU_ASSERT_EQUAL(jint(te, "records"), records[e]);
		CU_ASSERT_EQUAL(jint(te, "distinct_keys"), (long long)json_object_size(keys[e]));
		if (e == 0) {
			CU_ASSERT(json_object_size(keys[e]) <= 100);
			CU_ASSERT(share < 0.05);
		} else {
			/* the hot share plus u0's own share of the rest */
			double rest = e < 3 ? 0.7 / 100 : 0.7 / 20000;

			CU_ASSERT(fabs(share - (0.3 + rest)) < 4 * sigma);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
				json_array_get(json_object_get(te, "top_keys"), 0), "key")), "u0");
			CU_ASSERT_EQUAL(jint(json_array_get(json_object_get(te, "top_keys"), 0), "count"), u0[e]);
		}
		if (e < 3) {
			CU_ASSERT(json_object_size(keys[e]) <= 100);
		} else {
			CU_ASSERT(json_object_size(keys[e]) > 1000);
		}
		json_decref(keys[e]);
	}
	json_decref(truth);
}

static void test_truth_is_consistent(void)
{
	const char *pcap = path_in("shapes.pcap");
	const char *trace = st_test_data_path("traces/nab/realKnownCause/nyc_taxi.csv");
	json_t *truth, *s;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(run("%s -q -o %s -d 6s --seed 13 "
		"--stream kafka:bursty,shape=bursts,rate=3000,on=500ms,off=500ms,partitions=2 "
		"--stream mqtt:daily,shape=diurnal,rate=1000,amp=0.9,period=2s "
		"--stream 'nats:taxi,shape=trace:%s,compress=1800,peak=2000' "
		"--stream jsonl:udp:9000,rate=500,keys=3",
		gen(), pcap, trace), 0);
	truth = load_truth(pcap);
	json_array_foreach(json_object_get(truth, "streams"), i, s) {
		long long records = jint(s, "records"), sum_e = 0, sum_t = 0, bytes = 0, prev;
		json_t *e, *t;
		size_t k, j;

		CU_ASSERT(records > 0);
		json_array_foreach(json_object_get(s, "epochs"), k, e) {
			long long er = jint(e, "records");

			sum_e += er;
			bytes += jint(e, "value_bytes");
			CU_ASSERT(jint(e, "distinct_keys") <= er);
			json_array_foreach(json_object_get(e, "ticks"), j, t)
				sum_t += json_integer_value(t);
			prev = er;
			json_array_foreach(json_object_get(e, "top_keys"), j, t) {
				CU_ASSERT(jint(t, "count") <= prev);
				prev = jint(t, "count");
			}
		}
		CU_ASSERT_EQUAL(sum_e, records);
		CU_ASSERT_EQUAL(sum_t, records);
		CU_ASSERT_EQUAL(bytes, jint(s, "value_bytes"));
		CU_ASSERT(jint(s, "value_bytes") >= 100 * records && jint(s, "value_bytes") <= 300 * records);
		prev = records;
		json_array_foreach(json_object_get(s, "top_keys"), j, t) {
			CU_ASSERT(jint(t, "count") <= prev);
			prev = jint(t, "count");
		}
	}
	/* bursts: nothing in the off half-seconds (ticks 50..99 of each epoch) */
	s = truth_stream(truth, "kafka:bursty");
	{
		json_t *e;
		size_t k;
		long long off_records = 0, on_records = 0;

		json_array_foreach(json_object_get(s, "epochs"), k, e) {
			json_t *tt = json_object_get(e, "ticks");

			for (size_t j = 0; j < 100; j++) {
				if (j < 50)
					on_records += json_integer_value(json_array_get(tt, j));
				else
					off_records += json_integer_value(json_array_get(tt, j));
			}
		}
		CU_ASSERT(on_records > 6000);
		/* batches of the last on-tick may leave up to linger (5 ms) later */
		CU_ASSERT(off_records < on_records / 20);
	}
	/* three keys, so exactly three distinct */
	CU_ASSERT_EQUAL(jint(truth_stream(truth, "jsonl:10.0.0.40:9000"), "distinct_keys"), 3);
	json_decref(truth);
}

static void test_same_seed_same_bytes(void)
{
	const char *args = "-q -d 1s --stream kafka:a,rate=500,split=random,reorder=0.3,dup=0.2 "
			   "--stream mqtt:b,qos=2 --stream nats:c,headers=1 --stream jsonl:udp:7000";

	CU_ASSERT_EQUAL_FATAL(run("%s %s -o %s --seed 42", gen(), args, path_in("d1.pcap")), 0);
	CU_ASSERT_EQUAL_FATAL(run("%s %s -o %s --seed 42", gen(), args, path_in("d2.pcap")), 0);
	CU_ASSERT_EQUAL_FATAL(run("%s %s -o %s --seed 43", gen(), args, path_in("d3.pcap")), 0);
	CU_ASSERT_EQUAL(run("cmp -s %s %s", path_in("d1.pcap"), path_in("d2.pcap")), 0);
	CU_ASSERT_EQUAL(run("cmp -s %s.truth.json %s.truth.json", path_in("d1.pcap"), path_in("d2.pcap")), 0);
	CU_ASSERT_NOT_EQUAL(run("cmp -s %s %s", path_in("d1.pcap"), path_in("d3.pcap")), 0);
}

static void expect_error(const char *args, const char *needle)
{
	char *out = output_of("%s -o %s %s 2>&1; echo \"exit=$?\"", gen(), path_in("err.pcap"), args);

	CU_ASSERT_PTR_NOT_NULL(strstr(out, needle));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "exit=2"));
	if (!strstr(out, needle))
		fprintf(stderr, "expected '%s' in: %s\n", needle, out);
	free(out);
}

static void test_cli_errors_name_the_option(void)
{
	expect_error("--stream kafka:x,qos=1", "'qos' does not apply to kafka");
	expect_error("--stream kafka:x,rate=abc", "rate=abc");
	expect_error("--stream kafka:x,version=10", "version=10");
	expect_error("--stream mqtt:x,version=3", "version=3");
	expect_error("--stream kafka:x,colour=red", "unknown option 'colour'");
	expect_error("--stream kafka:x,schema=+user@1s", "'user'");
	expect_error("--stream kafka:x,schema=amount:decimal@1s", "unknown type 'decimal'");
	expect_error("--stream kafka:x,hot=1.5@1s", "hot=1.5@1s");
	expect_error("--stream kafka:x,hot=0.3", "hot=0.3");
	expect_error("--stream kafka:x,explode=0@1s", "explode=0@1s");
	expect_error("--stream bogus:x", "unknown protocol 'bogus'");
	expect_error("--stream jsonl:udp:99999", "port");
	expect_error("--duration 5x --stream kafka:x", "--duration 5x");
	expect_error("--tick 3ms --stream kafka:x", "--epoch must be a multiple of --tick");
	expect_error("--stream kafka:x --stream kafka:x", "given twice");
	expect_error("", "no --stream");
	/* --start: NaN, an int64 overflow, and stamps past pcap's 32-bit seconds */
	expect_error("--start @nan --stream kafka:x", "--start @nan");
	expect_error("--start 9999-12-31T23:59:59Z --stream kafka:x", "--start 9999");
	expect_error("--start @4294967295 -d 2s --stream kafka:x", "2106-02-07T06:28:16Z");
	expect_error("--stream 'kafka:a b'", "[A-Za-z0-9._-]");
	CU_ASSERT_EQUAL(run("%s --help | grep -q 'schema=CHANGE@T'", gen()), 0);
}

static void test_cleanup(void)
{
	CU_ASSERT_EQUAL(run("rm -rf %s", work_dir), 0);
}

static void setup_dir(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(work_dir));
}

ST_TEST_MAIN("tools/gen",
	ST_TEST(setup_dir),
	ST_TEST(test_kafka_decodes_cleanly_in_tshark),
	ST_TEST(test_kafka_batches_follow_the_spec),
	ST_TEST(test_mqtt_publishes_in_tshark),
	ST_TEST(test_nats_pubs_by_scan),
	ST_TEST(test_jsonl_epochs_ticks_schema),
	ST_TEST(test_hot_key_and_explosion),
	ST_TEST(test_truth_is_consistent),
	ST_TEST(test_same_seed_same_bytes),
	ST_TEST(test_cli_errors_name_the_option),
	ST_TEST(test_cleanup))
