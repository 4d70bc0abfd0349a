/*
 * NATS codec tests.  Expected values come from outside nats.c: streams
 * written here from the client protocol text (docs.nats.io "Client
 * Protocol"), so the test knows every subject, size and header it put in;
 * DeepFlow's .result files beside the reference captures; and, for every
 * capture, a line count of the raw payload bytes done here (tshark has no
 * NATS dissector) together with the real server's own -ERR replies.  The
 * harness (tests/lib/codec_harness.h) implements the caller's side of the
 * carry contract and checks it on every feed; every event pointer must lie
 * inside the bytes fed (nats_record_rule).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec_harness.h"
#include "dataplane/codec/codec.h"
#include "st_test.h"

#define HOLD ST_CODEC_HOLD_MAX

static const struct st_codec *C = &st_codec_nats;

/* NATS's promises beyond codec.h's: one message per event, its subject,
 * payload and header block in the bytes fed; no key, partition, QoS or
 * packet id. */
static const char *nats_record_rule(const struct st_ch *h, const struct st_record *r)
{
	if (!st_ch_in_feed(h, r->stream, r->stream_len) ||
	    !st_ch_in_feed(h, r->value, r->value_len) ||
	    (r->headers && !st_ch_in_feed(h, r->headers, r->headers_len)))
		return "subject, payload or headers outside the bytes fed";
	if (r->count != 1)
		return "count != 1";
	if ((r->flags & ST_REC_F_HAS_KEY) || r->partition != -1 || r->qos || r->packet_id)
		return "key, partition, QoS or packet id on a NATS record";
	return NULL;
}

static const struct st_ch_rules nats_rules = { nats_record_rule, st_ch_no_latency };

static struct st_ch *h_new(void)
{
	return st_ch_create(C, &nats_rules);
}

/* ---- hand-built streams ---- */

static void feed_str(struct st_ch *h, enum st_dir dir, const char *s)
{
	st_ch_feed(h, dir, (const uint8_t *)s, strlen(s), 1);
}

/* NULL (no such record) is no match. */
static bool rec_is(const struct st_ch_record *r, uint8_t kind, const char *subject,
		   const char *value)
{
	size_t vl = strlen(value);

	return r && r->value && r->kind == kind && r->count == 1 && r->stream_len == strlen(subject) &&
	       memcmp(r->stream, subject, r->stream_len) == 0 &&
	       r->value_len == vl && r->value_bytes == vl &&
	       memcmp(r->value, value, vl) == 0;
}

static bool headers_are(const struct st_ch_record *r, const char *block, uint32_t count)
{
	return r && r->headers && r->headers_len == strlen(block) &&
	       memcmp(r->headers, block, r->headers_len) == 0 &&
	       r->header_count == count;
}

static void test_pub_with_and_without_reply(void)
{
	struct st_ch *h = h_new();

	feed_str(h, ST_DIR_TO_SERVER,
		 "PUB orders 7\r\n{\"a\":1}\r\n"
		 "PUB orders.eu _INBOX.x.y 0\r\n\r\n"
		 "PUB q INBOX 5\r\nhe\r\no\r\n");
	CU_ASSERT_EQUAL(st_ch_record_count(h), 3);
	if (st_ch_record_count(h) == 3) {
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "orders", "{\"a\":1}"));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_RECORD, "orders.eu", ""));
		CU_ASSERT(rec_is(st_ch_record(h, 2), ST_REC_RECORD, "q", "he\r\no"));
		CU_ASSERT_EQUAL(st_ch_record(h, 0)->headers_len, 0);
	}
	CU_ASSERT_EQUAL(st_ch_stats(h)->records, 3);
	CU_ASSERT_EQUAL(st_ch_stats(h)->units[ST_DIR_TO_SERVER], 3);
	CU_ASSERT_EQUAL(st_ch_carry_bytes(h, ST_DIR_TO_SERVER), 0);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	st_ch_destroy(h);
}

#define HDR2 "NATS/1.0\r\nid: 1\r\ntraceparent: 00-ab-cd-01\r\n\r\n"

static void test_hpub_headers(void)
{
	struct st_ch *h = h_new();
	char line[256];

	snprintf(line, sizeof(line), "HPUB evt reply.1 %zu %zu\r\n%s{\"v\":2}\r\n"
		 "HPUB evt.empty 12 12\r\nNATS/1.0\r\n\r\n\r\n",
		 strlen(HDR2), strlen(HDR2) + 7, HDR2);
	feed_str(h, ST_DIR_TO_SERVER, line);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
	if (st_ch_record_count(h) == 2) {
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "evt", "{\"v\":2}"));
		CU_ASSERT(headers_are(st_ch_record(h, 0), HDR2, 2));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_RECORD, "evt.empty", ""));
		CU_ASSERT(headers_are(st_ch_record(h, 1), "NATS/1.0\r\n\r\n", 0));
	}
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	st_ch_destroy(h);
}

static void test_msg_hmsg_egress(void)
{
	struct st_ch *h = h_new();
	char s[256];

	snprintf(s, sizeof(s), "MSG a.b 9 3\r\nabc\r\nMSG a.b 9 _INBOX.z 1\r\nx\r\n"
		 "HMSG c 12 %zu %zu\r\n%sz\r\n", strlen(HDR2), strlen(HDR2) + 1, HDR2);
	feed_str(h, ST_DIR_TO_CLIENT, s);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 3);
	if (st_ch_record_count(h) == 3) {
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_EGRESS, "a.b", "abc"));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_EGRESS, "a.b", "x"));
		CU_ASSERT(rec_is(st_ch_record(h, 2), ST_REC_EGRESS, "c", "z"));
		CU_ASSERT(headers_are(st_ch_record(h, 2), HDR2, 2));
	}
	CU_ASSERT_EQUAL(st_ch_stats(h)->egress_records, 3);
	CU_ASSERT_EQUAL(st_ch_stats(h)->records, 0);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	st_ch_destroy(h);
}

/* A session: control operations around messages, both directions. */
static const char *const session_up =
	"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"t\",\"headers\":true}\r\n"
	"PING\r\n"
	"SUB foo.* 1\r\n"
	"PUB foo.bar 5\r\nhello\r\n"
	"sub bar 2\r\n"
	"pub foo.low 3\r\nlow\r\n"
	"Hpub foo.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
	"PUB\tfoo.tab \t 2\r\nt1\r\n"
	"UNSUB 2\r\n"
	"PONG\r\n";
static const char *const session_down =
	"INFO {\"server_id\":\"x\",\"version\":\"2.10.7\",\"max_payload\":1048576}\r\n"
	"PONG\r\n"
	"+OK\r\n"
	"MSG foo.bar 1 5\r\nhello\r\n"
	"-ERR 'Unknown Subject'\r\n"
	"msg foo.low 1 3\r\nlow\r\n"
	"PING\r\n";

static void check_session(const struct st_ch *h, size_t first)
{
	CU_ASSERT_EQUAL(st_ch_record_count(h) - first, 4);
	if (st_ch_record_count(h) - first != 4)
		return;
	CU_ASSERT(rec_is(st_ch_record(h, first), ST_REC_RECORD, "foo.bar", "hello"));
	CU_ASSERT(rec_is(st_ch_record(h, first + 1), ST_REC_RECORD, "foo.low", "low"));
	CU_ASSERT(rec_is(st_ch_record(h, first + 2), ST_REC_RECORD, "foo.h", "hi"));
	CU_ASSERT(headers_are(st_ch_record(h, first + 2), "NATS/1.0\r\n\r\n", 0));
	CU_ASSERT(rec_is(st_ch_record(h, first + 3), ST_REC_RECORD, "foo.tab", "t1"));
}

static void test_control_interleaved_and_case(void)
{
	struct st_ch *h = h_new();

	feed_str(h, ST_DIR_TO_CLIENT, session_down);
	feed_str(h, ST_DIR_TO_SERVER, session_up);
	CU_ASSERT_EQUAL(st_ch_stats(h)->units[ST_DIR_TO_SERVER], 10);
	CU_ASSERT_EQUAL(st_ch_stats(h)->units[ST_DIR_TO_CLIENT], 7);
	CU_ASSERT_EQUAL(st_ch_stats(h)->egress_records, 2);
	CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_EGRESS, "foo.bar", "hello"));
	CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_EGRESS, "foo.low", "low"));
	check_session(h, 2);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	st_ch_destroy(h);
}

static void test_split_at_every_offset(void)
{
	const uint8_t *s = (const uint8_t *)session_up;
	size_t len = strlen(session_up);
	struct st_ch *h;

	for (size_t cut = 0; cut <= len; cut++) {
		h = h_new();
		st_ch_feed(h, ST_DIR_TO_SERVER, s, cut, 1);
		st_ch_feed(h, ST_DIR_TO_SERVER, s + cut, len - cut, 2);
		check_session(h, 0);
		CU_ASSERT_EQUAL(st_ch_stats(h)->units[ST_DIR_TO_SERVER], 10);
		CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
		CU_ASSERT_EQUAL(st_ch_carry_bytes(h, ST_DIR_TO_SERVER), 0);
		CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
		st_ch_destroy(h);
	}
	h = h_new();
	st_ch_feed_chunks(h, ST_DIR_TO_SERVER, s, len, 1, 1);
	check_session(h, 0);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	st_ch_destroy(h);
}

static size_t numbered_pubs(char *out, size_t cap, unsigned first, unsigned n,
			    size_t *starts)
{
	size_t len = 0;

	for (unsigned i = 0; i < n; i++) {
		char payload[64];
		int pl = snprintf(payload, sizeof(payload), "{\"n\":%u,\"PUB x 1\":true}",
				  first + i);

		if (starts)
			starts[i] = len;
		len += (size_t)snprintf(out + len, cap - len, "PUB s.%u %d\r\n%s\r\n",
					first + i, pl, payload);
	}
	return len;
}

static void test_gap_then_resync(void)
{
	static char s[8192];
	size_t starts[30], len = numbered_pubs(s, sizeof(s), 1, 30, starts);

	/* lose bytes from inside message 5 to inside message 8, at every offset */
	for (size_t lost_from = starts[4] + 1; lost_from < starts[5]; lost_from++) {
		for (size_t resume = starts[7] + 1; resume < starts[8]; resume += 3) {
			struct st_ch *h = h_new();

			st_ch_feed_chunks(h, ST_DIR_TO_SERVER, s, lost_from, 50, 1);
			st_ch_gap(h, ST_DIR_TO_SERVER);
			st_ch_feed_chunks(h, ST_DIR_TO_SERVER, s + resume, len - resume,
					  50, 1);
			CU_ASSERT_EQUAL(st_ch_stats(h)->resyncs, 1);
			CU_ASSERT_EQUAL(st_ch_record_count(h), 4 + 22);
			for (size_t i = 0; i < st_ch_record_count(h); i++) {
				char subj[16];
				unsigned n = i < 4 ? (unsigned)i + 1 : (unsigned)i + 5;
				const struct st_ch_record *r = st_ch_record(h, i);

				snprintf(subj, sizeof(subj), "s.%u", n);
				CU_ASSERT_PTR_NOT_NULL_FATAL(r);
				CU_ASSERT_STRING_EQUAL(r ? r->stream : "", subj);
			}
			CU_ASSERT(st_ch_stats(h)->skipped_bytes >= starts[8] - resume);
			CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
			st_ch_destroy(h);
		}
	}
}

static void test_control_line_too_long(void)
{
	struct st_ch *h = h_new();
	size_t n = 5000;
	char *s = malloc(3 * n + 200);
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* a PUB whose subject alone passes max_control_line, then an INFO as
	 * long (passed over quietly), then a message that must be found */
	len = (size_t)sprintf(s, "PUB ");
	memset(s + len, 'a', n);
	len += n;
	len += (size_t)sprintf(s + len, " 3\r\nabc\r\nINFO {\"x\":\"");
	memset(s + len, 'b', n);
	len += n;
	len += (size_t)sprintf(s + len, "\"}\r\nPUB ok 2\r\nhi\r\n");
	st_ch_feed_chunks(h, ST_DIR_TO_SERVER, s, len, 1000, 1);
	CU_ASSERT_EQUAL(st_ch_error_count(h, "control_line_too_long"), 1);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 1);
	CU_ASSERT_EQUAL(st_ch_stats(h)->resyncs, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 1);
	if (st_ch_record_count(h) == 1)
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "ok", "hi"));
	CU_ASSERT_EQUAL(st_ch_stats(h)->units[ST_DIR_TO_SERVER], 2);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	free(s);
	st_ch_destroy(h);
}

/* The size says 3, the payload is 4 bytes: no CRLF where it must be. */
static void test_payload_size_mismatch(void)
{
	struct st_ch *h = h_new();

	feed_str(h, ST_DIR_TO_SERVER,
		 "PUB a 2\r\nok\r\nPUB foo 3\r\nabcd\r\nPUB bar 2\r\nhi\r\n");
	CU_ASSERT_EQUAL(st_ch_error_count(h, "payload_missing_crlf"), 1);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 1);
	CU_ASSERT_EQUAL(st_ch_stats(h)->resyncs, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
	if (st_ch_record_count(h) == 2) {
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "a", "ok"));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_RECORD, "bar", "hi"));
	}
	st_ch_destroy(h);
}

static void test_malformed_lines(void)
{
	struct st_ch *h = h_new();

	feed_str(h, ST_DIR_TO_SERVER,
		 "DEADBEEF\r\n"
		 "PUB onlysubject\r\n"
		 "PUB s x\r\n"
		 "HPUB s 10 5\r\n"
		 "PUB s 99999999999\r\n"
		 "PUB s 67108865\r\n"
		 "PUB good 1\r\n1\r\n");
	/* after an error the following lines are tried quietly until one
	 * parses: a run of bad lines is one error and one resync */
	CU_ASSERT_EQUAL(st_ch_error_count(h, "unknown_operation"), 1);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 1);
	CU_ASSERT_EQUAL(st_ch_stats(h)->resyncs, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 1);
	st_ch_destroy(h);

	/* each alone, after a good message, with the error it must count */
	static const struct { const char *line, *error; } bad[] = {
		{ "DEADBEEF\r\n", "unknown_operation" },
		{ "\r\n", "unknown_operation" },
		{ "PUB onlysubject\r\n", "bad_arguments" },
		{ "PUB s x\r\n", "bad_arguments" },
		{ "PUB s r extra 1\r\n", "bad_arguments" },
		{ "PUB s 99999999999\r\n", "bad_arguments" },
		{ "PUB s -1\r\n", "bad_arguments" },
		{ "MSG s 1\r\n", "bad_arguments" },
		{ "HMSG s 1 2\r\n", "bad_arguments" },
		{ "HPUB s 10 5\r\n", "header_size_over_total" },
		{ "PUB s 67108865\r\n", "payload_too_large" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h = h_new();
		feed_str(h, ST_DIR_TO_SERVER, "PUB first 1\r\n1\r\n");
		feed_str(h, ST_DIR_TO_SERVER, bad[i].line);
		feed_str(h, ST_DIR_TO_SERVER, "PUB good 1\r\n1\r\n");
		CU_ASSERT_EQUAL(st_ch_error_count(h, bad[i].error), 1);
		CU_ASSERT_EQUAL(st_ch_errors_total(h), 1);
		CU_ASSERT_EQUAL(st_ch_stats(h)->resyncs, 1);
		CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
		st_ch_destroy(h);
	}
}

static void test_bad_header_block_and_direction(void)
{
	struct st_ch *h = h_new();

	feed_str(h, ST_DIR_TO_SERVER, "HPUB s 4 6\r\nXY\r\nab\r\nMSG m 1 1\r\nz\r\n");
	CU_ASSERT_EQUAL(st_ch_error_count(h, "bad_header_block"), 1);
	CU_ASSERT_EQUAL(st_ch_error_count(h, "message_wrong_direction"), 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
	if (st_ch_record_count(h) == 2) {
		CU_ASSERT(rec_is(st_ch_record(h, 0), ST_REC_RECORD, "s", "ab"));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_EGRESS, "m", "z"));
	}
	st_ch_destroy(h);
}

static void test_large_payload_truncated(void)
{
	size_t n = 100000, len;
	char *s = malloc(n + 100);
	struct st_ch *h = h_new();
	const char *head = "HPUB big 12 100012\r\nNATS/1.0\r\n\r\n";

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	len = (size_t)sprintf(s, "%s", head);
	for (size_t i = 0; i < n; i++)
		s[len++] = (char)('a' + i % 26);
	len += (size_t)sprintf(s + len, "\r\nPUB next 1\r\nx\r\n");
	st_ch_feed_chunks(h, ST_DIR_TO_SERVER, s, len, 1460, 1);
	CU_ASSERT_EQUAL(st_ch_record_count(h), 2);
	if (st_ch_record_count(h) == 2) {
		const struct st_ch_record *r = st_ch_record(h, 0);
		/* documented: the payload's bytes within the first HOLD bytes */
		size_t expect = HOLD - strlen(head);

		CU_ASSERT_EQUAL(r->value_bytes, n);
		CU_ASSERT_EQUAL(r->value_len, expect);
		CU_ASSERT(r->flags & ST_REC_F_VALUE_TRUNCATED);
		CU_ASSERT(st_ch_bytes_are(r->value, s + strlen(head), expect));
		CU_ASSERT(headers_are(r, "NATS/1.0\r\n\r\n", 0));
		CU_ASSERT(rec_is(st_ch_record(h, 1), ST_REC_RECORD, "next", "x"));
	}
	CU_ASSERT_EQUAL(st_ch_stats(h)->truncated_values, 1);
	CU_ASSERT_EQUAL(st_ch_errors_total(h), 0);
	CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
	free(s);
	st_ch_destroy(h);
}

/* ---- reference captures ---- */

struct expect {
	uint8_t kind;
	char subject[ST_CH_STREAM_MAX];
	uint32_t payload_size;
	int header_size;     /* -1 without headers */
	int header_count;
};

/* DeepFlow's NatsInfo lines: message: Pub(Pub { subject: "..", ...
 * payload_size: N ..}), likewise Hpub, Msg, Hmsg (with header_size and a
 * headers map). */
static size_t deepflow_messages(const char *path, struct expect *e, size_t max)
{
	static const struct { const char *tag; uint8_t kind; bool hdr; } tags[] = {
		{ "message: Pub(Pub { subject: \"", ST_REC_RECORD, false },
		{ "message: Hpub(Hpub { subject: \"", ST_REC_RECORD, true },
		{ "message: Msg(Msg { subject: \"", ST_REC_EGRESS, false },
		{ "message: Hmsg(Hmsg { subject: \"", ST_REC_EGRESS, true },
	};
	static char line[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f) && n < max) {
		for (size_t t = 0; t < 4; t++) {
			char *m = strstr(line, tags[t].tag), *end, *ps, *hs;

			if (!m)
				continue;
			m += strlen(tags[t].tag);
			end = strchr(m, '"');
			ps = strstr(m, "payload_size: ");
			CU_ASSERT_FATAL(end && ps);
			memset(&e[n], 0, sizeof(e[n]));
			e[n].kind = tags[t].kind;
			memcpy(e[n].subject, m, (size_t)(end - m));
			e[n].payload_size = (uint32_t)atol(ps + strlen("payload_size: "));
			e[n].header_size = -1;
			if (tags[t].hdr) {
				char *hm = strstr(m, "headers: {"), *he;

				hs = strstr(m, "header_size: ");
				CU_ASSERT_FATAL(hs && hm);
				e[n].header_size = atoi(hs + strlen("header_size: "));
				he = strchr(hm, '}');
				CU_ASSERT_FATAL(he != NULL);
				/* one `": "` between each key and its value */
				for (char *k = strstr(hm, "\": \""); k && k < he;
				     k = strstr(k + 1, "\": \""))
					e[n].header_count++;
			}
			n++;
			break;
		}
	}
	fclose(f);
	return n;
}

/* Per flow and direction: the payload bytes, concatenated. */
struct stream_bytes {
	uint8_t *p;
	size_t len;
};

static size_t count_lines(const struct stream_bytes *s, const char *prefix)
{
	size_t n = 0, pl = strlen(prefix);

	for (size_t i = 0; i < s->len; i++)
		if ((i == 0 || s->p[i - 1] == '\n') && s->len - i >= pl &&
		    strncasecmp((const char *)s->p + i, prefix, pl) == 0)
			n++;
	return n;
}

static size_t count_crlf(const struct stream_bytes *s)
{
	size_t n = 0;

	for (size_t i = 1; i < s->len; i++)
		n += s->p[i - 1] == '\r' && s->p[i] == '\n';
	return n;
}

static void check_capture(const char *path, const char *result_path, void *ctx)
{
	struct st_ch_run *run = st_ch_run_capture(C, &nats_rules, path, 4222, false);
	const struct st_cap *cap = st_ch_run_cap(run);
	struct stream_bytes raw[16][2];
	static struct expect exp[256];
	size_t n_got = st_ch_run_record_count(run);

	(void)ctx;
	CU_ASSERT_FATAL(cap->flows <= 16);
	CU_ASSERT(cap->n > 0);
	memset(raw, 0, sizeof(raw));
	for (size_t i = 0; i < cap->n; i++) {
		const struct st_cap_chunk *c = &cap->chunks[i];
		struct stream_bytes *r = &raw[c->flow][c->to_server ? 0 : 1];

		r->p = realloc(r->p, r->len + c->len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r->p);
		memcpy(r->p + r->len, c->data, c->len);
		r->len += c->len;
	}

	/* the independent line scan, flow by flow */
	for (unsigned f = 0; f < cap->flows; f++) {
		const struct st_ch *h = st_ch_run_flow(run, f);
		const struct st_codec_stats *stats = st_ch_stats(h);
		const struct stream_bytes *up = &raw[f][0], *down = &raw[f][1];
		size_t pubs = count_lines(up, "PUB ") + count_lines(up, "HPUB ");
		size_t msgs = count_lines(down, "MSG ") + count_lines(down, "HMSG ");
		size_t unknown = count_lines(down, "-ERR 'Unknown Protocol Operation'");
		size_t with_headers = count_lines(up, "HPUB ") + count_lines(down, "HMSG ");

		CU_ASSERT_EQUAL(stats->records, pubs);
		CU_ASSERT_EQUAL(stats->egress_records, msgs);
		/* the server's own verdict on what the client sent */
		CU_ASSERT_EQUAL(st_ch_error_count(h, "unknown_operation"), unknown);
		CU_ASSERT_EQUAL(st_ch_errors_total(h), unknown);
		/* without header blocks, every CRLF ends a unit's control line
		 * or a payload (one per message; these payloads hold no CRLF),
		 * or a line the server refused */
		if (with_headers == 0)
			CU_ASSERT_EQUAL(stats->units[0] + stats->units[1] + pubs + msgs + unknown,
					count_crlf(up) + count_crlf(down));
		CU_ASSERT_EQUAL(st_ch_bad_events(h), 0);
		CU_ASSERT_EQUAL(st_ch_carry_bytes(h, ST_DIR_TO_SERVER) +
				st_ch_carry_bytes(h, ST_DIR_TO_CLIENT), 0);
		free(up->p);
		free(down->p);
	}

	if (result_path) {
		size_t n_e = deepflow_messages(result_path, exp, 256);

		CU_ASSERT_EQUAL(n_got, n_e);
		for (size_t i = 0; i < n_got && i < n_e; i++) {
			const struct st_ch_record *got = st_ch_run_record(run, i);

			CU_ASSERT_EQUAL(got->kind, exp[i].kind);
			CU_ASSERT_STRING_EQUAL(got->stream, exp[i].subject);
			CU_ASSERT_EQUAL(got->value_bytes, exp[i].payload_size);
			CU_ASSERT_EQUAL(got->value_len, exp[i].payload_size);
			if (exp[i].header_size >= 0) {
				CU_ASSERT_EQUAL(got->headers_len, (uint32_t)exp[i].header_size);
				CU_ASSERT_EQUAL(got->header_count, (uint32_t)exp[i].header_count);
			} else {
				CU_ASSERT_EQUAL(got->headers_len, 0);
			}
		}
	}
	st_ch_run_destroy(run);
}

static void test_captures(void)
{
	unsigned with_result, pcaps;

	pcaps = st_ch_for_each_capture(st_test_data_path("pcaps/nats"), check_capture, NULL,
				       &with_result);
	CU_ASSERT_EQUAL(pcaps, 7);
	CU_ASSERT_EQUAL(with_result, 6);
}

ST_TEST_MAIN("dataplane/codec/nats",
	ST_TEST(test_pub_with_and_without_reply),
	ST_TEST(test_hpub_headers),
	ST_TEST(test_msg_hmsg_egress),
	ST_TEST(test_control_interleaved_and_case),
	ST_TEST(test_split_at_every_offset),
	ST_TEST(test_gap_then_resync),
	ST_TEST(test_control_line_too_long),
	ST_TEST(test_payload_size_mismatch),
	ST_TEST(test_malformed_lines),
	ST_TEST(test_bad_header_block_and_direction),
	ST_TEST(test_large_payload_truncated),
	ST_TEST(test_captures))
