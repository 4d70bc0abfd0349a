/*
 * The control socket's codec (shadowtap/ctl.h, control/cp/ctl_json.h).
 * Expected bytes are written out by hand from the layout in ctl.h (offsets,
 * little-endian), never produced by the encoder under test; JSON bodies are
 * literal text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/cp/ctl_json.h"
#include "shadowtap/ctl.h"
#include "st_test.h"

/* version 1, type 3 (profile), flags 0, body 19 bytes, request id
 * 0x0102030405060708, as ctl.h lays it out */
static const uint8_t hdr_profile[24] = {
	'S', 'T', 'C', 'P', 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x13, 0x00, 0x00, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
};

static void test_header_encode_is_the_layout(void)
{
	struct st_ctl_msg m = { .version = 1, .type = ST_CTL_PROFILE, .flags = 0,
				.body_bytes = 19, .request_id = 0x0102030405060708ull };
	uint8_t out[24];

	st_ctl_hdr_encode(out, &m);
	CU_ASSERT_EQUAL(memcmp(out, hdr_profile, 24), 0);
}

static void test_header_decode(void)
{
	struct st_ctl_msg m;

	CU_ASSERT_EQUAL(st_ctl_hdr_decode(hdr_profile, 24, ST_CTL_REQUEST_BODY_MAX, &m), 0);
	CU_ASSERT_EQUAL(m.version, 1);
	CU_ASSERT_EQUAL(m.type, 3);
	CU_ASSERT_EQUAL(m.flags, 0);
	CU_ASSERT_EQUAL(m.body_bytes, 19);
	CU_ASSERT_EQUAL(m.request_id, 0x0102030405060708ull);
	for (size_t len = 0; len < 24; len++)
		CU_ASSERT_EQUAL(st_ctl_hdr_decode(hdr_profile, len, 4096, &m), -EAGAIN);
}

static void test_header_refusals(void)
{
	struct st_ctl_msg m;
	uint8_t h[24];

	memcpy(h, hdr_profile, 24);
	h[0] = 'G';   /* "GET /" from a lost HTTP client */
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(h, 24, 4096, &m), -EBADMSG);
	memcpy(h, hdr_profile, 24);
	h[4] = 2;
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(h, 24, 4096, &m), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(m.version, 2);
	memcpy(h, hdr_profile, 24);
	h[5] = 1;     /* version 257 */
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(h, 24, 4096, &m), -EPROTONOSUPPORT);
	memcpy(h, hdr_profile, 24);
	h[8] = 0x08;  /* a flag bit nobody defined */
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(h, 24, 4096, &m), -EINVAL);
	memcpy(h, hdr_profile, 24);
	h[8] = 0x07;  /* every defined flag: decodes (a request decoder refuses them) */
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(h, 24, 4096, &m), 0);
	memcpy(h, hdr_profile, 24);
	h[12] = 0x01; h[13] = 0x10;   /* 4097 bytes */
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(h, 24, 4096, &m), -EMSGSIZE);
	h[12] = 0x00;                 /* 4096: the largest request */
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(h, 24, 4096, &m), 0);
	h[12] = 0xff; h[13] = 0xff; h[14] = 0xff; h[15] = 0xff;
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(h, 24, ST_CTL_RESPONSE_BODY_MAX, &m), -EMSGSIZE);
}

static int decode(uint16_t type, uint32_t flags, const char *body, struct st_ctl_request *r)
{
	struct st_ctl_msg m = { .version = 1, .type = type, .flags = flags,
				.body_bytes = (uint32_t)strlen(body), .request_id = 9 };
	char err[200];

	return st_ctl_request_decode(&m, body, strlen(body), r, err, sizeof(err));
}

static void test_request_decode(void)
{
	struct st_ctl_request r;

	CU_ASSERT_EQUAL(decode(ST_CTL_STATUS, 0, "", &r), 0);
	CU_ASSERT_EQUAL(r.type, ST_CTL_STATUS);
	CU_ASSERT_EQUAL(r.request_id, 9);
	CU_ASSERT_EQUAL(decode(ST_CTL_STATUS, 0, "{}", &r), 0);
	CU_ASSERT_EQUAL(decode(ST_CTL_STATUS, 0, "{\"future\":[1,2]}", &r), 0);
	CU_ASSERT_EQUAL(decode(ST_CTL_STREAMS, 0, "{\"history\":true}", &r), 0);
	CU_ASSERT_TRUE(r.history);
	CU_ASSERT_EQUAL(decode(ST_CTL_STREAMS, 0, "{}", &r), 0);
	CU_ASSERT_FALSE(r.history);
	CU_ASSERT_EQUAL(decode(ST_CTL_STREAMS, 0, "{\"history\":1}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_PROFILE, 0, "{\"stream\":\"kafka:orders\"}", &r), 0);
	CU_ASSERT_STRING_EQUAL(r.stream, "kafka:orders");
	CU_ASSERT_EQUAL(decode(ST_CTL_PROFILE, 0, "{}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_PROFILE, 0, "{\"stream\":\"\"}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_PROFILE, 0, "{\"stream\":\"a\\u0000b\"}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_PROFILE, 0, "{\"stream\":7}", &r), -EINVAL);
	/* 63 bytes fit, 64 do not */
	CU_ASSERT_EQUAL(decode(ST_CTL_PROFILE, 0, "{\"stream\":\"" "0123456789012345678901234567890"
			       "12345678901234567890123456789012" "\"}", &r), 0);
	CU_ASSERT_EQUAL(strlen(r.stream), 63);
	CU_ASSERT_EQUAL(decode(ST_CTL_PROFILE, 0, "{\"stream\":\"" "0123456789012345678901234567890"
			       "123456789012345678901234567890123" "\"}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_SIGNALS, 0, "", &r), 0);
	CU_ASSERT_EQUAL(r.count, 50);
	CU_ASSERT_EQUAL(decode(ST_CTL_SIGNALS, 0, "{\"count\":7}", &r), 0);
	CU_ASSERT_EQUAL(r.count, 7);
	CU_ASSERT_EQUAL(decode(ST_CTL_SIGNALS, 0, "{\"count\":1024}", &r), 0);
	CU_ASSERT_EQUAL(decode(ST_CTL_SIGNALS, 0, "{\"count\":1025}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_SIGNALS, 0, "{\"count\":0}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_SIGNALS, 0, "{\"count\":2.5}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_SIGNALS_FOLLOW, 0, "{}", &r), 0);
	CU_ASSERT_EQUAL(decode(ST_CTL_MODELS_RETRAIN, 0, "{}", &r), 0);
	/* DECISIONS: type 8, "count" as SIGNALS */
	CU_ASSERT_EQUAL(ST_CTL_DECISIONS, 8);
	CU_ASSERT_EQUAL(decode(8, 0, "{}", &r), 0);
	CU_ASSERT_EQUAL(r.count, 50);
	CU_ASSERT_EQUAL(decode(8, 0, "{\"count\":3}", &r), 0);
	CU_ASSERT_EQUAL(r.count, 3);
	CU_ASSERT_EQUAL(decode(8, 0, "{\"count\":1025}", &r), -EINVAL);
	/* BACKENDS: type 9, no members */
	CU_ASSERT_EQUAL(ST_CTL_BACKENDS, 9);
	CU_ASSERT_EQUAL(decode(9, 0, "", &r), 0);
	CU_ASSERT_EQUAL(r.type, 9);
	CU_ASSERT_EQUAL(decode(9, 0, "{\"future\":true}", &r), 0);
	CU_ASSERT_EQUAL(decode(9, 0, "[]", &r), -EINVAL);
	CU_ASSERT_STRING_EQUAL(st_ctl_type_name(9), "backends");
}

static void test_request_refusals(void)
{
	struct st_ctl_request r;
	struct st_ctl_msg m = { .version = 1, .type = ST_CTL_STATUS, .body_bytes = 5 };
	char err[200];

	CU_ASSERT_EQUAL(decode(0, 0, "{}", &r), -ENOTSUP);
	CU_ASSERT_EQUAL(decode(10, 0, "{}", &r), -ENOTSUP);  /* past BACKENDS (9) */
	CU_ASSERT_EQUAL(decode(ST_CTL_SIGNAL, 0, "{}", &r), -ENOTSUP);
	CU_ASSERT_EQUAL(decode(ST_CTL_ERROR, 0, "{}", &r), -ENOTSUP);
	CU_ASSERT_EQUAL(decode(ST_CTL_STATUS, ST_CTL_F_RESPONSE, "{}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_STATUS, 0, "[]", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_STATUS, 0, "{", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_STATUS, 0, "{} {}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_STATUS, 0, "{\"a\":1,\"a\":2}", &r), -EINVAL);
	CU_ASSERT_EQUAL(decode(ST_CTL_STATUS, 0, "\xff\xfe", &r), -EINVAL);
	/* length in the header and bytes given differ */
	CU_ASSERT_EQUAL(st_ctl_request_decode(&m, "{}", 2, &r, err, sizeof(err)), -EINVAL);
	/* the body is not NUL-terminated: only [0, len) is read */
	m.body_bytes = 2;
	CU_ASSERT_EQUAL(st_ctl_request_decode(&m, "{}garbage", 2, &r, err, sizeof(err)), 0);
}

static void test_request_encode(void)
{
	struct st_ctl_request r = { .type = ST_CTL_PROFILE, .request_id = 0x0102030405060708ull,
				    .count = 50 };
	uint8_t out[ST_CTL_HDR_BYTES + ST_CTL_REQUEST_BODY_MAX];
	static const char body[] = "{\"stream\":\"kafka:orders\"}";

	strcpy(r.stream, "kafka:orders");
	CU_ASSERT_EQUAL(st_ctl_request_encode(&r, out, sizeof(out)), 24 + 25);
	CU_ASSERT_EQUAL(memcmp(out, hdr_profile, 12), 0);
	CU_ASSERT_EQUAL(out[12], 25);
	CU_ASSERT_EQUAL(memcmp(out + 16, hdr_profile + 16, 8), 0);
	CU_ASSERT_EQUAL(memcmp(out + 24, body, 25), 0);
	CU_ASSERT_EQUAL(st_ctl_request_encode(&r, out, 48), -ENOSPC);
	r.stream[0] = '\0';
	CU_ASSERT_EQUAL(st_ctl_request_encode(&r, out, sizeof(out)), -EINVAL);
	r = (struct st_ctl_request){ .type = ST_CTL_SIGNALS, .count = 50 };
	CU_ASSERT_EQUAL(st_ctl_request_encode(&r, out, sizeof(out)), 24);
	r.count = 5;
	CU_ASSERT_EQUAL(st_ctl_request_encode(&r, out, sizeof(out)), 24 + 11);
	CU_ASSERT_EQUAL(memcmp(out + 24, "{\"count\":5}", 11), 0);
	r.count = 0;
	CU_ASSERT_EQUAL(st_ctl_request_encode(&r, out, sizeof(out)), -EINVAL);
	/* BACKENDS: the header alone, type 9 at offset 6 */
	r = (struct st_ctl_request){ .type = ST_CTL_BACKENDS, .count = 50, .request_id = 1 };
	CU_ASSERT_EQUAL(st_ctl_request_encode(&r, out, sizeof(out)), 24);
	CU_ASSERT(out[6] == 9 && out[7] == 0 && out[12] == 0 && out[16] == 1);
	r = (struct st_ctl_request){ .type = ST_CTL_STREAMS, .history = true };
	CU_ASSERT_EQUAL(st_ctl_request_encode(&r, out, sizeof(out)), 24 + 16);
	CU_ASSERT_EQUAL(memcmp(out + 24, "{\"history\":true}", 16), 0);
	r.type = ST_CTL_SIGNAL;
	CU_ASSERT_EQUAL(st_ctl_request_encode(&r, out, sizeof(out)), -EINVAL);
}

static void test_frames(void)
{
	json_t *o = json_pack("{s:s}", "a", "b");
	struct st_ctl_msg m;
	size_t len = 0;
	uint8_t *f = st_ctl_frame_json(ST_CTL_STATUS, ST_CTL_F_RESPONSE, 42, o, 4096, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(len, 24 + 9);
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(f, len, 4096, &m), 0);
	CU_ASSERT_EQUAL(m.flags, ST_CTL_F_RESPONSE);
	CU_ASSERT_EQUAL(m.request_id, 42);
	CU_ASSERT_EQUAL(memcmp(f + 24, "{\"a\":\"b\"}", 9), 0);
	free(f);
	CU_ASSERT_PTR_NULL(st_ctl_frame_json(ST_CTL_STATUS, ST_CTL_F_RESPONSE, 42, o, 8, &len));
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	json_decref(o);
	f = st_ctl_frame_error(5, EINVAL, "bad", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(st_ctl_hdr_decode(f, len, 4096, &m), 0);
	CU_ASSERT_EQUAL(m.type, ST_CTL_ERROR);
	CU_ASSERT_EQUAL(m.flags, ST_CTL_F_RESPONSE | ST_CTL_F_ERROR);
	CU_ASSERT_EQUAL(len - 24, strlen("{\"error\":\"bad\",\"errno\":\"EINVAL\"}"));
	CU_ASSERT_EQUAL(memcmp(f + 24, "{\"error\":\"bad\",\"errno\":\"EINVAL\"}", len - 24), 0);
	free(f);
}

static void test_signal_json(void)
{
	/* fields little-endian by hand: score 0.75 = 0x3fe8000000000000 */
	struct st_signal s;
	uint8_t *p = (uint8_t *)&s;
	json_t *o;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(0xf0 + i);            /* id 0xf7f6...f0 */
	strcpy(s.stream_name, "kafka:orders");
	p[72] = 0x10;                                   /* timestamp 0x2710 = 10000 */
	p[73] = 0x27;
	p[80] = 0x05;                                   /* epoch 5 */
	p[95] = 0x3f; p[94] = 0xe8;                     /* score 0.75 */
	p[103] = 0xbf; p[102] = 0xf0;                   /* horizon -1.0 */
	p[104] = 0x01; p[105] = 0x01;                   /* causes rate | capacity */
	p[108] = 0x08;                                  /* forecast */
	p[112] = 3;                                     /* model 3 */
	p[116] = ST_SEVERITY_HIGH;
	o = st_ctl_signal_json(&s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "stream")), "kafka:orders");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "stream_id")), "f7f6f5f4f3f2f1f0");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "timestamp_ns")), 10000);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "epoch_start_ns")), 5);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(o, "score")), 0.75, 0);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(o, "horizon_s")), -1.0, 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "causes_mask")), 0x101);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(o, "causes")), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(o, "causes"), 0)),
			       "rate");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(o, "causes"), 1)),
			       "capacity");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(o, "detectors"), 0)),
			       "forecast");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "model_version")), 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "severity")), "high");
	json_decref(o);
}

ST_TEST_MAIN("control/cp/ctl",
	ST_TEST(test_header_encode_is_the_layout),
	ST_TEST(test_header_decode),
	ST_TEST(test_header_refusals),
	ST_TEST(test_request_decode),
	ST_TEST(test_request_refusals),
	ST_TEST(test_request_encode),
	ST_TEST(test_frames),
	ST_TEST(test_signal_json))
