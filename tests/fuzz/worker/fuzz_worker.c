/*
 * Fuzz target for one core's whole record path (dataplane/worker.h):
 * decode, flows, reassembly, the four codecs, JSON fields, sketches, epoch
 * closes and the Shadow Profile of every stream, with the built-in config
 * (ports 9092, 1883, 4222, 5140) through the same bridge shadowctl uses.
 *
 * Input: a sequence of frames, each [u16 LE length][u8 time step][bytes],
 * Ethernet; time advances by step * 10 ms, so epochs close inside one input.
 * Aborts when a profile the worker hands on cannot be built or is refused by
 * the profile parser, or when the worker's totals do not add up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config/config.h"
#include "dataplane/decode/decode.h"
#include "dataplane/worker.h"
#include "shadowtap/profile.h"
#include "control/config/classify.h"

#define EPOCH_NS 1000000000ull
#define STEP_NS 10000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t record[ST_PROFILE_MAX_BYTES];
static uint64_t epoch_ns;

static void on_stream(void *ctx, const struct st_worker_stream *s)
{
	struct st_profile_meta meta = {
		.name = s->def->name,
		.epoch_start_ns = st_sset_epoch_start_ns(s->set),
		.epoch_ns = epoch_ns,
		.cores_merged = 1,
		.cores_expected = 1,
	};
	struct st_profile_view v;
	const char *why = NULL;
	ssize_t len;

	(void)ctx;
	memcpy(meta.key_field_names, s->key_field_names, sizeof(meta.key_field_names));
	memcpy(meta.numeric_field_names, s->numeric_field_names,
	       sizeof(meta.numeric_field_names));
	len = st_profile_build(s->set, &meta, record, sizeof(record));
	if (len < 0) {
		fprintf(stderr, "profile of %s not built: %zd\n", s->def->name, len);
		abort();
	}
	if (st_profile_parse(record, (size_t)len, &v, &why) < 0) {
		fprintf(stderr, "profile of %s refused: %s\n", s->def->name, why);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct st_config *cfg;
	static struct st_worker_config wc;
	struct st_worker_totals t;
	struct st_worker *w;
	uint64_t ts = 1767225600ull * 1000000000ull, start;
	uint64_t frames = 0;
	char err[128];
	size_t off = 0;

	if (!cfg) {
		cfg = st_config_default();
		if (!cfg || st_config_add_key_field(cfg, "/user/id") < 0 ||
		    st_classify_worker_config(cfg, &wc, err, sizeof(err)) < 0)
			abort();
		/* small tables, so that floods and evictions happen */
		wc.max_flows = 64;
		wc.max_streams = 8;
		wc.reasm_budget_bytes = 1u << 20;
		epoch_ns = wc.sketch.epoch_ns;
	}
	start = ts - ts % epoch_ns;
	w = st_worker_create(&wc, start);
	if (!w)
		abort();
	while (size - off >= 3) {
		size_t len = (size_t)data[off] | (size_t)data[off + 1] << 8;
		uint8_t step = data[off + 2];

		off += 3;
		if (len > size - off)
			len = size - off;
		ts += step * STEP_NS;
		while (ts >= start + epoch_ns) {
			uint64_t next = ts - ts % epoch_ns;

			st_worker_epoch_close(w, next, on_stream, NULL);
			start = next;
		}
		/* an exact-size copy, so that ASan sees any read past the frame */
		uint8_t *frame = malloc(len ? len : 1);
		if (!frame)
			abort();
		memcpy(frame, data + off, len);
		st_worker_frame(w, frame, (uint32_t)len, ST_DLT_EN10MB, ts);
		free(frame);
		off += len;
		frames++;
	}
	st_worker_flush(w);
	st_worker_epoch_close(w, start + epoch_ns, on_stream, NULL);
	st_worker_totals(w, &t);
	if (t.frames != frames || t.frames_decoded > t.frames) {
		fprintf(stderr, "frames %llu counted %llu decoded %llu\n",
			(unsigned long long)frames, (unsigned long long)t.frames,
			(unsigned long long)t.frames_decoded);
		abort();
	}
	st_worker_destroy(w);
	return 0;
}
