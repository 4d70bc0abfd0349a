/*
 * The record path of one data-plane core: frames in, per-stream sketch sets
 * out.  Each frame goes through
 *
 *   decode (L2-L4) -> classify by the port map -> flow table -> TCP
 *   reassembly per direction -> codec -> records -> JSON fields and schema
 *   -> the stream's sketch set
 *
 * and leaves through one exit with a named reason when it goes no further
 * (a decode drop, an unmapped port, ...).  UDP datagrams of a mapped port
 * skip the flow table: each is whole.
 *
 * Streams: a record's stream is found from (protocol, topic) — or, for
 * JSONL, the destination "ip:port" — through the classifier the caller
 * gives (the config's stream rules live in the control plane's library; the
 * data plane only asks).  Several topics may map to one stream; the stream
 * table is bounded (max_streams; records of streams beyond it are counted
 * and dropped: streams are not yet retired when idle, so the first
 * max_streams streams keep their places).
 *
 * Epochs: the caller decides when an epoch ends (by the capture's
 * timestamps offline, by the clock live).  On one thread it calls
 * st_worker_epoch_close(), which hands every stream that saw traffic to a
 * callback and resets it.  With a merger on another thread (the data
 * plane), the worker is created double_buffered: every stream keeps two
 * sketch sets, and st_worker_epoch_publish() swaps them and publishes the
 * finished epoch with one release store; the merger reads it
 * (st_worker_published, st_worker_published_stream) and hands it back
 * (st_worker_release).  The worker never waits for the merger: while the
 * previous epoch is still being read, publish says -EBUSY and the epoch
 * being counted simply goes on (it ends later, longer).
 *
 * Thread safety: a worker is owned by one thread; only the four
 * st_worker_published, _published_stream and _release functions may be called from (one) other
 * thread.  create/destroy and the first record of a new stream allocate;
 * the per-frame path otherwise does not.
 */
#ifndef ST_WORKER_H
#define ST_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dataplane/backends/table.h"
#include "dataplane/codec/codec.h"
#include "dataplane/sketch/sset.h"

#define ST_WORKER_FIELD_NAME_MAX 255

/* What a stream is called and which fields of its records are read. */
struct st_worker_stream_def {
	char name[ST_PROFILE_NAME_BYTES];    /* 1..63 bytes, NUL-terminated */
	unsigned key_fields;                  /* JSON pointers below, 0..4 */
	char key[ST_SSET_KEY_FIELDS_MAX][ST_WORKER_FIELD_NAME_MAX + 1];
	unsigned numeric_fields;              /* 0..4 */
	char numeric[ST_SSET_NUMERIC_FIELDS_MAX][ST_WORKER_FIELD_NAME_MAX + 1];
	bool no_schema;                       /* fields only (the config's
					       * `schema = false`): values are
					       * read by st_json_scan_fields(),
					       * the schema is not walked */
};

/* How the worker classifies traffic; the callbacks must not be NULL. */
struct st_worker_classifier {
	/* The protocol served on (l4_proto, port), or ST_PROTO_NONE. */
	enum st_proto (*port_proto)(const void *ctx, uint8_t l4_proto,
				    uint16_t port);
	/* Fills *def for the stream of `topic` (len bytes; for JSONL the
	 * text "ip:port" of the destination).  0, or -errno to refuse the
	 * record (counted). */
	int (*stream)(const void *ctx, enum st_proto proto,
		      const uint8_t *topic, size_t len,
		      struct st_worker_stream_def *def);
	const void *ctx;
};

struct st_worker_config {
	struct st_worker_classifier classifier;
	struct st_sset_config sketch;     /* key/numeric counts are per stream */
	unsigned max_streams;             /* per core */
	unsigned max_flows;               /* flow table entries */
	uint64_t flow_idle_ns;
	uint64_t reasm_budget_bytes;      /* carry + out-of-order, whole core */
	bool double_buffered;             /* two sketch sets per stream, for
					   * st_worker_epoch_publish() */
	unsigned max_backends;            /* server endpoints per epoch
					   * (dataplane/backends/table.h);
					   * 0: ST_BE_TABLE_ENTRIES_DEFAULT */
	bool no_shape_templates;          /* every JSON value gets the full
					   * scan (benchmarks compare; the
					   * result is the same) */
};

/* Sets the defaults: 1024 streams, 65536 flows, 60 s idle, 64 MiB of
 * reassembly memory, 256 server endpoints, the sketch set's defaults.  The classifier is zeroed:
 * the caller must set it. */
void st_worker_config_default(struct st_worker_config *cfg);

/* What st_worker_epoch_close() hands on for each stream. */
struct st_worker_stream {
	const struct st_worker_stream_def *def;
	enum st_proto proto;
	const struct st_sset *set;                 /* the epoch's sketches */
	const char *key_field_names[ST_PROFILE_KEY_FIELDS_MAX];
	const char *numeric_field_names[ST_PROFILE_NUMERIC_FIELDS_MAX];
};

/* Reasons a record or frame went no further than the worker's own stages
 * (decode, reassembly and codecs have their own counters). */
enum st_worker_drop {
	ST_WORKER_DROP_UNMAPPED_PORT = 0,  /* TCP/UDP to no mapped port */
	ST_WORKER_DROP_NO_SESSION,         /* flow table refused the flow */
	ST_WORKER_DROP_STREAM_TABLE_FULL,  /* records of streams past max */
	ST_WORKER_DROP_STREAM_REFUSED,     /* the classifier said no */
	ST_WORKER_DROP_NO_STREAM_NAME,     /* a record without a topic */
	ST_WORKER_DROP_NO_MEMORY,          /* a new stream's sketches could not
					    * be allocated */
	ST_WORKER_DROP__COUNT
};

/* Per-stream parse errors (profile counters' parse_errors[] index). */
enum st_worker_parse_error {
	ST_WORKER_PERR_JSON_INVALID = 0,   /* a value that starts like JSON
					    * but is not */
	ST_WORKER_PERR_CODEC,              /* codec resyncs on a malformed unit of
					    * a flow the stream was seen on */
	ST_WORKER_PERR__COUNT
};

/* Per-stream drops (profile counters' drops[] index). */
enum st_worker_stream_drop {
	ST_WORKER_SDROP_VALUE_TRUNCATED = 0, /* fields not read: value cut */
	ST_WORKER_SDROP__COUNT
};

struct st_worker;

/* NULL with errno EINVAL (a bad config) or ENOMEM.  The worker is
 * cache-line aligned (ST_CACHE_LINE: its counters are). */
struct st_worker *st_worker_create(const struct st_worker_config *cfg,
				   uint64_t epoch_start_ns);
/* Before its first frame: the first epoch starts at epoch_start_ns after
 * all (a worker made ahead, before the start was known). */
void st_worker_set_epoch_start(struct st_worker *w, uint64_t epoch_start_ns);
/* Frees everything; NULL is a no-op. */
void st_worker_destroy(struct st_worker *w);

/* Whether frames of pcap link type `linktype` (DLT_*) can be decoded. */
bool st_worker_linktype_supported(int linktype);

/* One captured frame of link type `linktype` (pcap DLT_*). */
void st_worker_frame(struct st_worker *w, const uint8_t *frame,
		     uint32_t caplen, int linktype, uint64_t ts_ns);

/*
 * Ends the epoch: calls fn once per stream that saw any record, egress or
 * error in it, then resets every stream to an epoch starting at
 * next_start_ns.  Also ages out idle flows up to next_start_ns.  Returns the
 * number of streams handed on.
 */
unsigned st_worker_epoch_close(struct st_worker *w, uint64_t next_start_ns,
			       void (*fn)(void *ctx,
					  const struct st_worker_stream *s),
			       void *ctx);

/* A published epoch: streams [0, n_streams) may be read. */
struct st_worker_epoch {
	uint64_t seq;                     /* 1, 2, ... */
	uint64_t start_ns, end_ns;
	unsigned n_streams;
};

/*
 * Worker thread: ends the epoch at end_ns and publishes it (a double-
 * buffered worker only).  Also ages out idle flows up to end_ns.  0;
 * -EBUSY when the merger has not released the previous epoch (nothing
 * changed: call again later, the epoch is still open); -EINVAL when the
 * worker is not double buffered.
 */
int st_worker_epoch_publish(struct st_worker *w, uint64_t end_ns);
/* Merger thread: the published epoch not yet released, in *e; false when
 * there is none. */
bool st_worker_published(const struct st_worker *w, struct st_worker_epoch *e);
/* Merger thread: stream i (< e.n_streams) of the published epoch in *s;
 * false when it saw nothing in that epoch.  *s is valid until release. */
bool st_worker_published_stream(const struct st_worker *w, unsigned i,
				struct st_worker_stream *s);
/* Merger thread: done with epoch seq; the worker may reuse its buffers. */
void st_worker_release(struct st_worker *w, uint64_t seq);

/*
 * Server endpoints ("backends", shadowtap/backends.h): per epoch, each
 * server endpoint's packets and bytes each way, TCP retransmissions and
 * zero windows each way, records, egress, new flows and request latency
 * (worker.c says what each counts).  Double buffered with the streams.
 * st_worker_backends: owner thread, the epoch being counted (read it
 * before st_worker_epoch_close(), which resets it).
 * st_worker_published_backends: merger thread, the published epoch's, valid
 * until st_worker_release().
 */
const struct st_be_table *st_worker_backends(const struct st_worker *w);
const struct st_be_table *st_worker_published_backends(const struct st_worker *w);

/* The end of the input: every flow is released as if idle, so that what
 * waits behind a hole is delivered (the holes counted as gaps).  Call
 * before the last st_worker_epoch_close(). */
void st_worker_flush(struct st_worker *w);

/* Writes the worker's counters as one JSON object (no newline) with a
 * member per stage; 0 or -errno from the stream. */
int st_worker_stats_json(const struct st_worker *w, FILE *out);

/* Plain totals for the summary line of a tool. */
struct st_worker_totals {
	uint64_t frames, frames_decoded, records, opaque_records, egress_records;
	uint64_t record_bytes;            /* value bytes of records */
	uint64_t reassembly_gaps, parse_errors;
	uint64_t drops;                   /* decode and worker drops */
	uint64_t decode_drops;            /* ... of them by the decoder */
	uint64_t flows_active;
	unsigned streams;
};
void st_worker_totals(const struct st_worker *w, struct st_worker_totals *t);

/* The drops by reason: the decoder's (enum st_decode_result, ok's slot 0)
 * and the worker's own (enum st_worker_drop), copied into the arrays.
 * Owner thread. */
void st_worker_drops(const struct st_worker *w, uint64_t *decode, unsigned n_decode,
		     uint64_t worker[ST_WORKER_DROP__COUNT]);
/* "unmapped_port", "no_session", ...; "?" past the last. */
const char *st_worker_drop_name(enum st_worker_drop d);

#ifdef ST_STAGE_CYCLES
/*
 * Benchmark builds only (tools/bench builds the record path a second time
 * with -DST_STAGE_CYCLES; the product build has none of this).  The worker
 * reads the time stamp counter (x86 rdtsc) each time the work moves from
 * one stage to another and charges the cycles since the previous read to
 * the stage that was running: each stage's cycles exclude the stages it
 * calls (reassembly excludes the codec it feeds, the codec the records it
 * emits...), so the stages partition the time spent inside
 * st_worker_frame(), st_worker_epoch_close/_publish() and st_worker_flush().
 * Each read costs what the caller measures (`marks` of them were taken);
 * that overhead is inside the figures.  Thread safety: as the worker.
 */
enum st_worker_stage {
	ST_STAGE_DECODE = 0,   /* L2-L4 decode, its counters, the port map */
	ST_STAGE_FLOW,         /* flow table lookup/insert/close, session setup */
	ST_STAGE_REASM,        /* TCP reassembly, not the codec it feeds */
	ST_STAGE_CODEC,        /* protocol codec, not the records it emits */
	ST_STAGE_RECORD,       /* record -> stream lookup, per-stream counters */
	ST_STAGE_FIELDS,       /* JSON check and scan of the value */
	ST_STAGE_SKETCH,       /* HLL, heavy hitters, quantiles, tick updates */
	ST_STAGE_EPOCH,        /* epoch close/publish, flush, flow expiry */
	ST_STAGE__COUNT
};

struct st_worker_stage_cycles {
	uint64_t cycles[ST_STAGE__COUNT]; /* TSC cycles, exclusive per stage */
	uint64_t frames;                  /* st_worker_frame() calls */
	uint64_t marks;                   /* TSC reads taken */
};

/* The counts so far, in *out. */
void st_worker_stage_cycles(const struct st_worker *w,
			    struct st_worker_stage_cycles *out);
/* "decode", "flow", ...; "?" out of range. */
const char *st_worker_stage_name(unsigned stage);
#endif

#endif
