/*
 * The worker's server-endpoint counters (dataplane/worker.c hooks into
 * dataplane/backends/table.h) on frames built here byte by byte: every
 * expected figure is what the test put on the wire (frames and their
 * lengths each way, the one repeated segment, the segments with window 0
 * and which flags they carry, the request -> response delay it chose).
 * The zero-window rule is Wireshark's tcp.analysis.zero_window: window 0
 * and none of SYN, FIN, RST.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/backends/table.h"
#include "dataplane/decode/decode.h"
#include "dataplane/decode/frames.h"
#include "dataplane/sketch/quantile.h"
#include "dataplane/worker.h"
#include "shadowtap/backends.h"
#include "shadowtap/profile.h"
#include "st_test.h"

#define T0 (1767225600ull * 1000000000ull)
#define MS 1000000ull
#define CLIENT 0x0a010101u                    /* 10.1.1.1 */
#define BROKER 0x0a000014u                    /* 10.0.0.20 */
#define SINK 0x0a000028u                      /* 10.0.0.40 */
#define SINK2 0x0a000029u                     /* 10.0.0.41 */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

static enum st_proto port_proto(const void *ctx, uint8_t l4, uint16_t port)
{
	(void)ctx;
	if (l4 == IPPROTO_TCP && port == 1883)
		return ST_PROTO_MQTT;
	if (l4 == IPPROTO_UDP && port == 5140)
		return ST_PROTO_JSONL;
	return ST_PROTO_NONE;
}

static int stream_def(const void *ctx, enum st_proto proto, const uint8_t *topic,
		      size_t len, struct st_worker_stream_def *def)
{
	(void)ctx;
	snprintf(def->name, sizeof(def->name), "%s:%.*s", st_proto_name(proto),
		 (int)len, (const char *)topic);
	return 0;
}

static struct st_worker *worker(unsigned max_backends, bool double_buffered)
{
	struct st_worker_config wc;
	struct st_worker *w;

	st_worker_config_default(&wc);
	wc.classifier.port_proto = port_proto;
	wc.classifier.stream = stream_def;
	wc.max_flows = 64;
	wc.reasm_budget_bytes = 1u << 20;
	wc.max_backends = max_backends;
	wc.double_buffered = double_buffered;
	w = st_worker_create(&wc, T0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	return w;
}

/* One TCP frame; returns its length (what bytes_to/from count). */
static uint32_t tcp(struct st_worker *w, bool to_server, uint32_t seq, uint32_t ack,
		    uint8_t flags, uint16_t window, const uint8_t *payload, size_t len,
		    uint64_t ts)
{
	struct frame f = { .n = 0 };

	fr_eth(&f, 0x0800);
	fr_ipv4(&f, to_server ? CLIENT : BROKER, to_server ? BROKER : CLIENT, IPPROTO_TCP,
		5, (uint32_t)(20 + len), 0);
	fr_tcp(&f, to_server ? 50000 : 1883, to_server ? 1883 : 50000, seq, ack, flags, 5,
	       window);
	fr_bytes(&f, payload, (uint32_t)len);
	st_worker_frame(w, f.b, f.n, ST_DLT_EN10MB, ts);
	return f.n;
}

static uint32_t udp(struct st_worker *w, uint32_t dst, const char *payload, uint64_t ts)
{
	struct frame f = { .n = 0 };
	uint32_t len = (uint32_t)strlen(payload);

	fr_eth(&f, 0x0800);
	fr_ipv4(&f, CLIENT, dst, IPPROTO_UDP, 5, 8 + len, 0);
	fr_udp(&f, 40000, 5140, (uint16_t)(8 + len));
	fr_bytes(&f, payload, len);
	st_worker_frame(w, f.b, f.n, ST_DLT_EN10MB, ts);
	return f.n;
}

/* MQTT 3.1.1 PUBLISH QoS 1 (section 3.3: packet identifier after the
 * topic) and its PUBACK (section 3.4). */
static size_t publish_qos1(uint8_t *out, uint16_t id, const char *value)
{
	size_t vl = strlen(value), n = 0;

	out[n++] = 0x32;
	out[n++] = (uint8_t)(2 + 3 + 2 + vl);
	out[n++] = 0;
	out[n++] = 3;
	memcpy(out + n, "t/a", 3);
	n += 3;
	out[n++] = (uint8_t)(id >> 8);
	out[n++] = (uint8_t)id;
	memcpy(out + n, value, vl);
	return n + vl;
}

static const struct st_be_entry *find(const struct st_be_table *t, uint32_t addr,
				      uint16_t port)
{
	for (unsigned i = 0; i < st_be_table_used(t); i++) {
		const struct st_be_entry *e = st_be_table_at(t, i);
		uint32_t a = (uint32_t)e->key.addr[0] << 24 | (uint32_t)e->key.addr[1] << 16 |
			     (uint32_t)e->key.addr[2] << 8 | e->key.addr[3];

		if (e->key.family == 4 && a == addr && e->key.port == port)
			return e;
	}
	return NULL;
}

static void no_stream(void *ctx, const struct st_worker_stream *s)
{
	(void)ctx;
	(void)s;
}

static void test_one_flow_every_figure(void)
{
	struct st_worker *w = worker(0, false);
	static const char value[] = "{\"user\":{\"id\":\"u1\"}}";
	uint8_t pub[128], puback[4] = { 0x40, 0x02, 0x00, 0x07 };
	size_t pl = publish_qos1(pub, 7, value);
	uint64_t to_bytes = 0, from_bytes = 0, dgram_bytes = 0;
	const struct st_be_table *t;
	const struct st_be_entry *e, *u;

	/* 1 SYN c->s; 2 SYN-ACK s->c with window 0 (SYN: not a zero window) */
	to_bytes += tcp(w, true, 1000, 0, F_SYN, 65535, NULL, 0, T0 + 1 * MS);
	from_bytes += tcp(w, false, 5000, 1001, F_SYN | F_ACK, 0, NULL, 0, T0 + 2 * MS);
	/* 3 ACK c->s with window 0: the client's zero window */
	to_bytes += tcp(w, true, 1001, 5001, F_ACK, 0, NULL, 0, T0 + 3 * MS);
	/* 4 PUBLISH c->s; 5 its PUBACK 250 us later */
	to_bytes += tcp(w, true, 1001, 5001, F_ACK | F_PSH, 65535, pub, pl, T0 + 4 * MS);
	from_bytes += tcp(w, false, 5001, (uint32_t)(1001 + pl), F_ACK | F_PSH, 65535,
			  puback, 4, T0 + 4 * MS + 250000);
	/* 6 the PUBLISH again, whole: a retransmission, no new record */
	to_bytes += tcp(w, true, 1001, 5001, F_ACK | F_PSH, 65535, pub, pl, T0 + 300 * MS);
	/* 7 ACK s->c window 0: the server's zero window; 8 FIN s->c window 0
	 * (FIN: not one) */
	from_bytes += tcp(w, false, 5005, (uint32_t)(1001 + pl), F_ACK, 0, NULL, 0,
			  T0 + 301 * MS);
	from_bytes += tcp(w, false, 5005, (uint32_t)(1001 + pl), F_ACK | F_FIN, 0, NULL, 0,
			  T0 + 302 * MS);
	/* 9 RST c->s window 0 (RST: not one); the flow ends */
	to_bytes += tcp(w, true, (uint32_t)(1001 + pl), 0, F_RST, 0, NULL, 0, T0 + 303 * MS);
	/* 10 a stray ACK after the close: a packet, not a new flow */
	to_bytes += tcp(w, true, (uint32_t)(1001 + pl), 5006, F_ACK, 65535, NULL, 0,
			T0 + 304 * MS);
	/* three JSON lines to 10.0.0.40:5140 */
	for (unsigned i = 0; i < 3; i++)
		dgram_bytes += udp(w, SINK, "{\"a\":1}\n", T0 + (400 + i) * MS);

	t = st_worker_backends(w);
	CU_ASSERT_EQUAL(st_be_table_used(t), 2);
	CU_ASSERT_EQUAL(st_be_table_overflow_count(t), 0);
	e = find(t, BROKER, 1883);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->key.protocol, ST_PROFILE_PROTO_MQTT);
	CU_ASSERT_EQUAL(e->packets_to, 6);
	CU_ASSERT_EQUAL(e->packets_from, 4);
	CU_ASSERT_EQUAL(e->bytes_to, to_bytes);
	CU_ASSERT_EQUAL(e->bytes_from, from_bytes);
	CU_ASSERT_EQUAL(e->retransmissions_to, 1);
	CU_ASSERT_EQUAL(e->retransmissions_from, 0);
	CU_ASSERT_EQUAL(e->zero_windows_to, 1);
	CU_ASSERT_EQUAL(e->zero_windows_from, 1);
	CU_ASSERT_EQUAL(e->flows_new, 1);
	CU_ASSERT_EQUAL(e->records, 1);
	CU_ASSERT_EQUAL(e->record_bytes, strlen(value));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e->latency);
	CU_ASSERT_EQUAL(st_qs_count(e->latency), 1);
	CU_ASSERT_DOUBLE_EQUAL(st_qs_min(e->latency), 250.0, 1e-9);

	u = find(t, SINK, 5140);
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_EQUAL(u->key.protocol, ST_PROFILE_PROTO_JSONL);
	CU_ASSERT_EQUAL(u->packets_to, 3);
	CU_ASSERT_EQUAL(u->bytes_to, dgram_bytes);
	CU_ASSERT_EQUAL(u->records, 3);
	CU_ASSERT_EQUAL(u->packets_from + u->flows_new + u->retransmissions_to, 0);
	CU_ASSERT_PTR_NULL(u->latency);

	/* the epoch ends: the table starts empty */
	st_worker_epoch_close(w, T0 + 1000 * MS, no_stream, NULL);
	CU_ASSERT_EQUAL(st_be_table_used(st_worker_backends(w)), 0);
	st_worker_destroy(w);
}

/* A table of one endpoint: the second endpoint's datagrams are overflow. */
static void test_no_room_is_overflow(void)
{
	struct st_worker *w = worker(1, false);
	const struct st_be_table *t;

	udp(w, SINK, "{\"a\":1}\n", T0 + MS);
	udp(w, SINK2, "{\"a\":1}\n", T0 + 2 * MS);
	udp(w, SINK2, "{\"a\":2}\n", T0 + 3 * MS);
	udp(w, SINK, "{\"a\":3}\n", T0 + 4 * MS);
	t = st_worker_backends(w);
	CU_ASSERT_EQUAL(st_be_table_used(t), 1);
	CU_ASSERT_EQUAL(st_be_table_overflow_count(t), 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(find(t, SINK, 5140));
	CU_ASSERT_EQUAL(find(t, SINK, 5140)->packets_to, 2);
	CU_ASSERT_PTR_NULL(find(t, SINK2, 5140));
	st_worker_destroy(w);
}

/* Double buffered: a flow's cached endpoint index must not outlive its
 * epoch.  Epoch 1 has the flow's endpoint second in the table (a UDP one
 * came first); in epoch 2 it must land at index 0 of the other table, and
 * in epoch 3 (the first table again, reset) too. */
static void test_publish_swaps_and_forgets_the_cache(void)
{
	struct st_worker *w = worker(0, true);
	uint8_t pub[128];
	size_t pl = publish_qos1(pub, 1, "{\"x\":1}");
	const struct st_be_table *t;
	struct st_worker_epoch ep;
	uint32_t seq = 1001;

	udp(w, SINK, "{\"a\":1}\n", T0 + MS);
	tcp(w, true, 1000, 0, F_SYN, 65535, NULL, 0, T0 + 2 * MS);
	tcp(w, true, seq, 1, F_ACK | F_PSH, 65535, pub, pl, T0 + 3 * MS);
	seq += (uint32_t)pl;
	CU_ASSERT_EQUAL(st_worker_epoch_publish(w, T0 + 1000 * MS), 0);
	CU_ASSERT_FATAL(st_worker_published(w, &ep));
	t = st_worker_published_backends(w);
	CU_ASSERT_EQUAL(st_be_table_used(t), 2);
	CU_ASSERT_EQUAL(find(t, BROKER, 1883)->packets_to, 2);
	CU_ASSERT_EQUAL(find(t, BROKER, 1883)->flows_new, 1);
	CU_ASSERT_EQUAL(st_be_table_used(st_worker_backends(w)), 0);

	/* epoch 2: the same flow, one packet */
	tcp(w, true, seq, 1, F_ACK | F_PSH, 65535, pub, pl, T0 + 1001 * MS);
	seq += (uint32_t)pl;
	t = st_worker_backends(w);
	CU_ASSERT_EQUAL(st_be_table_used(t), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(find(t, BROKER, 1883));
	CU_ASSERT_EQUAL(find(t, BROKER, 1883)->packets_to, 1);
	CU_ASSERT_EQUAL(find(t, BROKER, 1883)->flows_new, 0);
	CU_ASSERT_EQUAL(find(t, BROKER, 1883)->records, 1);
	/* the published epoch is untouched */
	CU_ASSERT_EQUAL(find(st_worker_published_backends(w), BROKER, 1883)->packets_to, 2);
	st_worker_release(w, ep.seq);

	CU_ASSERT_EQUAL(st_worker_epoch_publish(w, T0 + 2000 * MS), 0);
	CU_ASSERT_FATAL(st_worker_published(w, &ep));
	st_worker_release(w, ep.seq);
	/* epoch 3, in the first table again */
	udp(w, SINK, "{\"a\":1}\n", T0 + 2001 * MS);
	tcp(w, true, seq, 1, F_ACK | F_PSH, 65535, pub, pl, T0 + 2002 * MS);
	t = st_worker_backends(w);
	CU_ASSERT_EQUAL(st_be_table_used(t), 2);
	CU_ASSERT_EQUAL(find(t, BROKER, 1883)->packets_to, 1);
	CU_ASSERT_EQUAL(find(t, SINK, 5140)->packets_to, 1);
	st_worker_destroy(w);
}

ST_TEST_MAIN("dataplane/backends/hooks",
	ST_TEST(test_one_flow_every_figure),
	ST_TEST(test_no_room_is_overflow),
	ST_TEST(test_publish_swaps_and_forgets_the_cache),
)
