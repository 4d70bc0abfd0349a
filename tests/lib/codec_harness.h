/*
 * Test-only codec harness: plays the TCP reassembler's side of the carry
 * contract of dataplane/codec/codec.h for one flow of one codec, checks
 * every promise the contract makes, and keeps copies of the events, so that
 * the codec suites (tests/dataplane/codec) share one driver.
 *
 * Feeding.  st_ch_feed() offers the direction's carry followed by the new
 * bytes, in a fresh allocation of exactly that size (so that ASan sees a
 * read past the end), and asserts (fatally) what codec.h promises:
 *	used <= n;  n - used <= ST_CODEC_HOLD_MAX;  n > ST_CODEC_HOLD_MAX
 *	implies used > 0.
 * The n - used bytes left become the new carry.  st_ch_gap() drops the
 * carry and calls the codec's gap(); st_ch_datagram() hands one datagram to
 * the codec's datagram().
 *
 * Events.  Each record and latency sample is checked when it arrives and
 * copied (strings, keys, values and header blocks included), so a test can
 * read them after the bytes are gone.  What every codec promises is checked
 * here: proto is the codec's; value_len <= value_bytes and
 * ST_REC_F_VALUE_TRUNCATED says exactly whether they differ; every pointer
 * lies in the bytes offered by the feed in progress or in the flow's codec
 * state; a stream name is shorter than ST_CH_STREAM_MAX; no header block
 * means no header length or count.  What one codec promises beyond that
 * (count, qos, partition, where a topic lives ...) is the suite's
 * st_ch_rules.  A broken promise fails the running test with its reason
 * and counts as a bad event (st_ch_bad_events); a pointer that lies
 * outside is not followed, its copy is left empty.
 *
 * Captures.  st_ch_run_capture() loads a capture with tests/lib/capture.h
 * and feeds each chunk, in file order, to one harness per flow; its records
 * are then readable per flow and in capture order across flows.  The
 * reference-oracle helpers run tshark (st_ch_tshark_rows), walk a folder of
 * captures and their DeepFlow .result files (st_ch_for_each_capture) and
 * split fields (st_ch_split).
 *
 * Failures.  Everything here runs inside a CUnit test: a precondition that
 * fails (out of memory, a capture that cannot be read, an unknown error
 * name) fails the running test fatally, so no function returns NULL.  Not
 * thread-safe: one test thread.
 */
#ifndef ST_TEST_CODEC_HARNESS_H
#define ST_TEST_CODEC_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "dataplane/codec/codec.h"

#define ST_CH_STREAM_MAX 256   /* bytes of a stream name kept, with its NUL */

/* A copy of one st_record, valid until the harness is destroyed or forgets. */
struct st_ch_record {
	uint8_t kind;               /* enum st_rec_kind */
	uint8_t flags;              /* ST_REC_F_* */
	uint8_t qos;
	bool has_stream;            /* the event's stream was not NULL */
	int32_t partition;
	uint32_t count;
	uint32_t packet_id;
	char stream[ST_CH_STREAM_MAX];  /* NUL-terminated */
	uint32_t stream_len;        /* as the event said */
	uint8_t *key;               /* NULL when the event's was */
	uint32_t key_len;
	uint8_t *value;             /* NULL when the event's was; else NUL-terminated */
	uint32_t value_len;
	uint32_t value_bytes;
	uint8_t *headers;           /* NULL when the event's was */
	uint32_t headers_len;
	uint32_t header_count;
	int64_t timestamp_ms;
	uint64_t ts_ns;
};

struct st_ch;

/*
 * A codec's own promises, checked on every event after the common ones.
 * Each returns NULL when the event keeps them, else a short reason (a
 * string constant) that the failure message quotes.  NULL members check
 * nothing more.  `h` gives st_ch_in_feed() and st_ch_in_state().
 */
struct st_ch_rules {
	const char *(*record)(const struct st_ch *h, const struct st_record *r);
	const char *(*latency)(const struct st_ch *h, const struct st_latency *l);
};

/* A latency rule for codecs that measure no latency: every sample breaks it. */
const char *st_ch_no_latency(const struct st_ch *h, const struct st_latency *l);

/* A fresh flow of `codec` (state from init()), with `rules` (may be NULL;
 * kept by pointer, must outlive the harness).  Fails the test when out of
 * memory or when codec->state_bytes > ST_CODEC_STATE_MAX. */
struct st_ch *st_ch_create(const struct st_codec *codec, const struct st_ch_rules *rules);
/* Frees the harness and its copies; NULL is a no-op. */
void st_ch_destroy(struct st_ch *h);

/* Offers carry + `len` bytes of `data` (NULL when len is 0) on `dir`,
 * captured at `ts_ns`; checks the contract (fatal), keeps what is left. */
void st_ch_feed(struct st_ch *h, enum st_dir dir, const void *data, size_t len,
		uint64_t ts_ns);
/* The same `len` bytes as successive feeds of `chunk_bytes` (the last may
 * be shorter), all at `ts_ns`. */
void st_ch_feed_chunks(struct st_ch *h, enum st_dir dir, const void *data, size_t len,
		       size_t chunk_bytes, uint64_t ts_ns);
/* Bytes of `dir` were lost: the carry is dropped and the codec told. */
void st_ch_gap(struct st_ch *h, enum st_dir dir);
/* One whole datagram to the codec's datagram() (fails the test when the
 * codec has none); the carry is not involved. */
void st_ch_datagram(struct st_ch *h, enum st_dir dir, const void *data, size_t len,
		    uint64_t ts_ns);

/* Forgets the records and latency samples collected so far; the codec
 * state, the carry and the counters stay. */
void st_ch_forget(struct st_ch *h);

/* The counters the codec added to. */
const struct st_codec_stats *st_ch_stats(const struct st_ch *h);
/* Bytes of `dir` held in the carry (left unconsumed by the last feed). */
size_t st_ch_carry_bytes(const struct st_ch *h, enum st_dir dir);
/* The counter of the error named `name` in codec->error_names; an unknown
 * name fails the test (fatal). */
uint64_t st_ch_error_count(const struct st_ch *h, const char *name);
/* All error counters summed, ST_CODEC_ERRORS_MAX of them (so an error
 * counted past n_errors shows too). */
uint64_t st_ch_errors_total(const struct st_ch *h);
/* Events that broke a promise (each already failed the test). */
unsigned st_ch_bad_events(const struct st_ch *h);

size_t st_ch_record_count(const struct st_ch *h);
/* The i-th record in arrival order, or NULL when i >= st_ch_record_count(). */
const struct st_ch_record *st_ch_record(const struct st_ch *h, size_t i);
size_t st_ch_latency_count(const struct st_ch *h);
/* The i-th latency sample (a copy), or NULL past the end. */
const struct st_latency *st_ch_latency(const struct st_ch *h, size_t i);

/* Do the first `len` bytes of a record's copy (its key, value or headers;
 * NULL: no copy, no match) equal `want`? */
bool st_ch_bytes_are(const uint8_t *copy, const void *want, size_t len);

/* For st_ch_rules: does [p, p + len) lie in the bytes of the feed in
 * progress, or in the flow's codec state?  (NULL p: false.) */
bool st_ch_in_feed(const struct st_ch *h, const void *p, size_t len);
bool st_ch_in_state(const struct st_ch *h, const void *p, size_t len);

/* ---- a capture through one harness per flow ---- */

struct st_ch_run;

/* Loads `path` (st_cap_load with `server_port`; 0: every port) and feeds
 * each chunk, in file order, to its flow's harness (direction from
 * to_server, time from the packet); with tcp_only, UDP chunks are left
 * out.  Fails the test when the capture cannot be read. */
struct st_ch_run *st_ch_run_capture(const struct st_codec *codec,
				    const struct st_ch_rules *rules, const char *path,
				    uint16_t server_port, bool tcp_only);
/* NULL is a no-op. */
void st_ch_run_destroy(struct st_ch_run *run);
/* The loaded capture (its chunks stay valid until the run is destroyed). */
const struct st_cap *st_ch_run_cap(const struct st_ch_run *run);
unsigned st_ch_run_flows(const struct st_ch_run *run);
/* Flow `flow`'s harness (flow < st_ch_run_flows()), else NULL. */
const struct st_ch *st_ch_run_flow(const struct st_ch_run *run, unsigned flow);
/* Records of every flow in the order the chunks that ended them came. */
size_t st_ch_run_record_count(const struct st_ch_run *run);
const struct st_ch_record *st_ch_run_record(const struct st_ch_run *run, size_t i);
/* One st_codec_stats uint64_t counter summed over flows, by its offset. */
uint64_t st_ch_run_stat(const struct st_ch_run *run, size_t offset);
#define ST_CH_RUN_STAT(run, field) \
	st_ch_run_stat(run, offsetof(struct st_codec_stats, field))
/* st_ch_errors_total() and st_ch_bad_events() summed over flows. */
uint64_t st_ch_run_errors_total(const struct st_ch_run *run);
unsigned st_ch_run_bad_events(const struct st_ch_run *run);

/* ---- reference oracles ---- */

/* Splits `s` in place at each `sep` into at most `max` fields; returns the
 * number (0 for an empty string; the last field keeps any further seps). */
size_t st_ch_split(char *s, char sep, char **fields, size_t max);

/*
 * Runs `tshark -r '<pcap>' <args> 2>/dev/null` and calls row() once per
 * output line, the line (without its newline) split at tabs into at most
 * `max_fields` fields.  Fails the test when tshark cannot be started or
 * does not exit 0.  Returns the number of lines.
 */
size_t st_ch_tshark_rows(const char *pcap, const char *args, size_t max_fields,
			 void (*row)(char **fields, size_t n, void *ctx), void *ctx);

/*
 * Calls each() for every "*.pcap" in the folder `dir` (a path), with the
 * path of the capture and of the DeepFlow file beside it (same name,
 * ".result"), or NULL when there is none.  Fails the test when the folder
 * cannot be read.  Returns the number of captures; *with_result (may be
 * NULL) gets how many had a .result.
 */
unsigned st_ch_for_each_capture(const char *dir,
				void (*each)(const char *pcap, const char *result, void *ctx),
				void *ctx, unsigned *with_result);

#endif
