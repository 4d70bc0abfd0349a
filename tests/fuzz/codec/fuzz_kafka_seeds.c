/*
 * Seed writer for the `kafka` fuzz target: writes valid Kafka conversations
 * (Produce of several versions incl. flexible ones, legacy messages, a
 * compressed batch, a record larger than ST_CODEC_HOLD_MAX, Fetch responses,
 * other api keys, a gap) in the target's script format (see fuzz_kafka.c),
 * built with the test-only wire builder.  Usage: fuzz-seeds-kafka DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/codec.h"
#include "tests/dataplane/codec/kafka_wire.h"

static const struct kw_record seed_recs[] = {
	{ "user-1", 6, "{\"id\":1,\"v\":\"a\"}", 16, 1, { "trace" }, { "t1" }, 0 },
	{ NULL, 0, "no key", 6, 0, { 0 }, { 0 }, 5 },
	{ "user-2", 6, NULL, 0, 2, { "a", "b" }, { "1", NULL }, 9 },
};

static void produce(struct kw_buf *b, int version, int32_t corr)
{
	struct kw_buf rec = { 0 };

	if (version >= 3) {
		kw_batch(&rec, seed_recs, 3, 1700000000000ll);
		kw_batch_raw(&rec, 1, 7, 1700000000000ll, (const uint8_t *)"gzip?", 5);
	} else {
		for (int i = 0; i < 3; i++)
			kw_message(&rec, version == 2 ? 1 : 0, 0, 1700000000000ll,
				   &seed_recs[i]);
	}
	kw_produce_one(b, version, corr, "seed", "events", 3, &rec, 1);
	kw_free(&rec);
}

static void response(struct kw_buf *b, int32_t corr, bool flexible)
{
	size_t at = kw_response_begin(b, corr, flexible, 0);

	kw_be32(b, 0);
	kw_frame_end(b, at);
}

static void fetch(struct kw_buf *req, struct kw_buf *resp, int version, int32_t corr)
{
	bool flex = version >= 12;
	struct kw_buf rec = { 0 };
	size_t at = kw_request_begin(req, 1, (int16_t)version, corr, "seed", flex, 0);

	kw_be32(req, -1);
	kw_frame_end(req, at);
	kw_batch(&rec, seed_recs, 3, 1700000000000ll);
	at = kw_response_begin(resp, corr, flex, 0);
	kw_be32(resp, 0);
	if (version >= 7) {
		kw_be16(resp, 0);
		kw_be32(resp, 0);
	}
	kw_array_len(resp, flex, 1);
	if (version >= 13)
		kw_put(resp, "0123456789abcdef", 16);
	else
		kw_string(resp, flex, "events", 6);
	kw_array_len(resp, flex, 1);
	kw_be32(resp, 3);
	kw_be16(resp, 0);
	kw_be64(resp, 10);
	if (version >= 4)
		kw_be64(resp, 10);
	if (version >= 5)
		kw_be64(resp, 0);
	if (version >= 4)
		kw_array_len(resp, flex, 0);
	if (version >= 11)
		kw_be32(resp, -1);
	kw_bytes(resp, flex, rec.p, (long)rec.n);
	kw_tags(resp, flex, 0);
	kw_tags(resp, flex, 0);
	kw_tags(resp, flex, 0);
	kw_frame_end(resp, at);
	kw_free(&rec);
}

/* Appends `p` as ops of at most `chunk` bytes in direction `dir`. */
static void ops(struct kw_buf *out, int dir, const uint8_t *p, size_t n, size_t chunk,
		bool gap_first)
{
	for (size_t at = 0; at < n; at += chunk) {
		size_t len = n - at < chunk ? n - at : chunk;

		kw_u8(out, (uint8_t)(dir | (gap_first && at == 0 ? 2 : 0)));
		kw_be16(out, (int16_t)len);
		kw_put(out, p + at, len);
	}
}

static int write_seed(const char *dir, const char *name, const struct kw_buf *b)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp) {
		perror(path);
		return -1;
	}
	if (fwrite(b->p, 1, b->n, fp) != b->n) {
		perror(path);
		fclose(fp);
		return -1;
	}
	return fclose(fp) ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const int versions[] = { 0, 2, 3, 7, 9, 11 };
	static const int fetch_versions[] = { 4, 11, 12, 13 };
	char name[64];
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		struct kw_buf req = { 0 }, resp = { 0 }, out = { 0 };

		produce(&req, versions[i], (int32_t)i + 1);
		produce(&req, versions[i], (int32_t)i + 100);
		response(&resp, (int32_t)i + 1, versions[i] >= 9);
		ops(&out, 0, req.p, req.n, 40 + 30 * i, false);
		ops(&out, 1, resp.p, resp.n, 7, false);
		snprintf(name, sizeof(name), "produce-v%d", versions[i]);
		rc |= write_seed(argv[1], name, &out);
		kw_free(&req);
		kw_free(&resp);
		kw_free(&out);
	}
	for (size_t i = 0; i < sizeof(fetch_versions) / sizeof(fetch_versions[0]); i++) {
		struct kw_buf req = { 0 }, resp = { 0 }, out = { 0 };

		fetch(&req, &resp, fetch_versions[i], 7);
		ops(&out, 0, req.p, req.n, 1000, false);
		ops(&out, 1, resp.p, resp.n, 33, false);
		snprintf(name, sizeof(name), "fetch-v%d", fetch_versions[i]);
		rc |= write_seed(argv[1], name, &out);
		kw_free(&req);
		kw_free(&resp);
		kw_free(&out);
	}
	{
		/* a record past ST_CODEC_HOLD_MAX, then one more request */
		struct kw_buf req = { 0 }, rec = { 0 }, out = { 0 };
		static char value[ST_CODEC_HOLD_MAX + 4000];
		struct kw_record big = { "big", 3, value, sizeof(value), 0, { 0 }, { 0 }, 1 };
		size_t at = kw_request_begin(&req, 0, 8, 1, "seed", false, 0);

		memset(value, 'v', sizeof(value));
		kw_batch(&rec, &big, 1, 1700000000000ll);
		kw_string(&req, false, NULL, -1);
		kw_be16(&req, 1);
		kw_be32(&req, 1000);
		kw_array_len(&req, false, 1);
		kw_string(&req, false, "big", 3);
		kw_array_len(&req, false, 1);
		kw_be32(&req, 0);
		kw_bytes(&req, false, rec.p, (long)rec.n);
		kw_frame_end(&req, at);
		produce(&req, 9, 2);
		ops(&out, 0, req.p, req.n, 6000, false);
		rc |= write_seed(argv[1], "huge-record", &out);
		kw_free(&req);
		kw_free(&rec);
		kw_free(&out);
	}
	{
		/* other api keys, and a gap in the middle of a produce */
		struct kw_buf req = { 0 }, resp = { 0 }, out = { 0 };
		size_t at = kw_request_begin(&req, 3, 12, 5, "seed", true, 0);

		kw_put(&req, "metadata body", 13);
		kw_frame_end(&req, at);
		produce(&req, 10, 6);
		response(&resp, 5, false);
		ops(&out, 0, req.p, req.n / 2, 64, false);
		ops(&out, 0, req.p + req.n / 2 + 5, req.n - req.n / 2 - 5, 64, true);
		ops(&out, 1, resp.p, resp.n, 64, false);
		rc |= write_seed(argv[1], "gap", &out);
		kw_free(&req);
		kw_free(&resp);
		kw_free(&out);
	}
	return rc ? 1 : 0;
}
