/*
 * The record path of one core (worker.h): decode -> classify -> flow ->
 * reassembly -> codec -> record -> fields -> sketches.
 *
 * Per-flow state lives in the flow table's user area (struct session): the
 * protocol, which canonical side is the server, the two directions'
 * reassembly state and the codec's state.  Streams live in a bounded table
 * keyed by (protocol, topic hash); several topics may resolve to one stream
 * (a rule with a glob), so topics and streams are two tables.
 *
 * Topic identity is the 64-bit XXH3 of the topic bytes (with the protocol):
 * two topics that collide in 64 bits would share a stream.
 *
 * Stage cycles (benchmark builds with -DST_STAGE_CYCLES only; worker.h):
 * STAGE_PUSH/STAGE_POP mark each move into and out of a stage; in the
 * product build they are empty.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "dataplane/bytes.h"
#include "dataplane/compiler.h"
#include "dataplane/decode/decode.h"
#include "dataplane/flow/flow.h"
#include "dataplane/json/json.h"
#include "dataplane/json/json_tmpl.h"
#include "dataplane/sketch/hash.h"
#include "dataplane/tcp/reasm.h"
#include "dataplane/worker.h"

#define TOPIC_NAME_MAX 64          /* "[v6]:port" and then some */
#define JSON_SCRATCH_BYTES ST_CODEC_HOLD_MAX
#define SESSION_STREAMS 4

#ifdef ST_STAGE_CYCLES
#include <x86intrin.h>
#define STAGE_OUTSIDE ST_STAGE__COUNT   /* time outside the worker's calls */
#define STAGE_DEPTH_MAX 16
#endif

struct session {
	uint8_t proto;                 /* enum st_proto */
	uint8_t server_side;           /* canonical side index of the server */
	uint32_t stream;               /* last stream + 1 seen on the flow */
	uint64_t topic_hash;           /* ... and the topic hash that led there */
	/* The streams this flow has carried (stream index + 1) and the epoch
	 * each was last counted in flows_active. */
	uint32_t counted[SESSION_STREAMS];
	uint64_t counted_epoch[SESSION_STREAMS];
	struct st_reasm_dir dir[2];    /* by enum st_dir */
	/* The server endpoint (backends table key) and its entry's index in
	 * the table of epoch be_gen (the worker's; 0: not looked up). */
	struct st_be_key be_key;
	uint32_t be_index;
	uint64_t be_gen;
	uint64_t codec_state[ST_CODEC_STATE_MAX / sizeof(uint64_t)];
};

struct stream {
	struct st_worker_stream_def def;
	enum st_proto proto;
	unsigned key_offset;           /* 1 when key field 0 is @key (Kafka) */
	struct st_sset *set;            /* the epoch being counted */
	struct st_sset *spare;          /* double buffering: the published
					 * epoch (the merger reads it), or NULL */
	struct st_json_plan *plan;     /* JSON key fields, then numeric ones */
	/* the shape of its records (json_tmpl.h), made at its first JSON
	 * value */
	struct st_json_tmpl *shape;
	bool shape_failed;             /* could not be allocated */
	uint64_t name_hash;
	uint64_t last_frame;           /* frame serial that last counted */
	bool active;                   /* anything in this epoch */
	bool spare_active;             /* ... and in the published one */
	const char *key_names[ST_PROFILE_KEY_FIELDS_MAX];
	const char *numeric_names[ST_PROFILE_NUMERIC_FIELDS_MAX];
};

struct topic_slot {
	uint64_t hash;                 /* 0: empty */
	uint32_t stream;               /* index + 1; 0: refused, for `refusal` */
	uint32_t refusal;              /* enum st_worker_drop when refused */
};

struct st_worker {
	struct st_worker_config cfg;
	uint64_t epoch_start_ns;

	/* Double buffering (cfg.double_buffered): the worker thread writes
	 * `published` and then stores published_seq (release); the merger
	 * stores released_seq (release) when done with it. */
	struct st_worker_epoch published;
	_Atomic uint64_t published_seq;
	_Atomic uint64_t released_seq;
	struct st_flow_table *flows;
	struct st_reasm_pool *reasm;

	struct stream *streams;
	unsigned n_streams;
	struct topic_slot *topics;     /* open addressing, power of two */
	unsigned topic_mask;
	unsigned n_topics;

	/* Server endpoints: the epoch being counted and (double buffering)
	 * the published one; be_gen moves on at every reset so that the
	 * sessions' cached indexes of the previous epoch are not used. */
	struct st_be_table *be;
	struct st_be_table *be_spare;
	uint64_t be_gen;
	struct st_be_entry *be_udp;    /* the current UDP datagram's endpoint */
	/* the last UDP datagram's endpoint and its index in the table of
	 * epoch udp_be_gen (0: none): datagrams of one endpoint come in runs */
	struct st_be_key udp_be_key;
	int32_t udp_be_index;
	uint64_t udp_be_gen;

	/* the last UDP server endpoint and its stream (JSONL datagrams) */
	uint8_t udp_addr[16];
	uint16_t udp_port;
	uint32_t udp_stream;           /* index + 1; 0: none cached */

	/* the last topic named by a record and its topic_hash(): a Kafka
	 * batch names its topic once for all its records */
	uint8_t last_topic[TOPIC_NAME_MAX];
	uint8_t last_topic_len;        /* 0: none */
	uint8_t last_topic_proto;
	uint64_t last_topic_hash;

	/* the packet being worked on */
	uint64_t frame_serial;
	const struct st_pkt *pkt;
	struct session *session;
	enum st_dir dir;

	struct st_codec_sink sink;
	struct st_reasm_consumer consumer;
	struct st_json_value values[ST_JSON_POINTERS_MAX];
	uint8_t scratch[JSON_SCRATCH_BYTES];

	/* counters */
	struct st_decode_stats decode;
	struct st_codec_stats codec[ST_PROTO__COUNT];
	struct st_json_scan_stats json;
	struct st_schema *shape_scratch;  /* for st_json_tmpl_learn() */
	uint64_t shape_hits, shape_learns, shape_refused;
	uint64_t json_errors[ST_JSON_E__COUNT];
	uint64_t drops[ST_WORKER_DROP__COUNT];
	uint64_t udp_datagrams, tcp_segments;
	uint64_t records, record_bytes, opaque_records, egress_records, latency_samples;
	uint64_t latency_ns_sum;
	uint64_t values_truncated, values_not_json;
	uint64_t flow_streams_overflow;   /* flows of > SESSION_STREAMS streams */
	uint64_t topic_cache_flushes;

#ifdef ST_STAGE_CYCLES
	/* worker.h: the running stage, the stages it interrupted, the TSC at
	 * the last mark, and the cycles charged so far */
	uint64_t stage_cycles[ST_STAGE__COUNT + 1];
	uint64_t stage_tsc;
	uint64_t stage_frames, stage_marks;
	unsigned stage, stage_depth;
	uint8_t stage_stack[STAGE_DEPTH_MAX];
#endif
};

#ifdef ST_STAGE_CYCLES
/* Charges the cycles since the last mark to the running stage. */
static inline void stage_mark(struct st_worker *w)
{
	uint64_t now = __rdtsc();

	w->stage_cycles[w->stage] += now - w->stage_tsc;
	w->stage_tsc = now;
	w->stage_marks++;
}

static inline void stage_push(struct st_worker *w, enum st_worker_stage next)
{
	stage_mark(w);
	if (w->stage_depth < STAGE_DEPTH_MAX)
		w->stage_stack[w->stage_depth] = (uint8_t)w->stage;
	w->stage_depth++;
	w->stage = next;
}

static inline void stage_pop(struct st_worker *w)
{
	stage_mark(w);
	w->stage_depth--;
	w->stage = w->stage_depth < STAGE_DEPTH_MAX ? w->stage_stack[w->stage_depth]
						    : STAGE_OUTSIDE;
}
#define STAGE_PUSH(w, next) stage_push((w), (next))
#define STAGE_POP(w) stage_pop(w)
#else
#define STAGE_PUSH(w, next) ((void)0)
#define STAGE_POP(w) ((void)0)
#endif

static const char *const worker_drop_names[ST_WORKER_DROP__COUNT] = {
	[ST_WORKER_DROP_UNMAPPED_PORT] = "unmapped_port",
	[ST_WORKER_DROP_NO_SESSION] = "no_session",
	[ST_WORKER_DROP_STREAM_TABLE_FULL] = "stream_table_full",
	[ST_WORKER_DROP_STREAM_REFUSED] = "stream_refused",
	[ST_WORKER_DROP_NO_STREAM_NAME] = "no_stream_name",
	[ST_WORKER_DROP_NO_MEMORY] = "no_memory",
};

void st_worker_config_default(struct st_worker_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	st_sset_config_default(&cfg->sketch);
	cfg->max_streams = 1024;
	cfg->max_flows = 65536;
	cfg->flow_idle_ns = 60ull * 1000000000u;
	cfg->reasm_budget_bytes = 64ull << 20;
	cfg->max_backends = ST_BE_TABLE_ENTRIES_DEFAULT;
}

bool st_worker_linktype_supported(int linktype)
{
	return st_decode_linktype_supported(linktype);
}

/* ---- streams ---------------------------------------------------------- */

/* A new stream, or NULL with *why set (the caller counts it). */
static struct stream *stream_create(struct st_worker *w, enum st_proto proto,
				    const struct st_worker_stream_def *def,
				    enum st_worker_drop *why)
{
	const char *pointers[ST_SSET_KEY_FIELDS_MAX + ST_SSET_NUMERIC_FIELDS_MAX];
	struct st_sset_config sc = w->cfg.sketch;
	struct stream *s;
	unsigned offset = proto == ST_PROTO_KAFKA ? 1 : 0;
	unsigned n = 0;

	*why = ST_WORKER_DROP_STREAM_REFUSED;
	if (def->key_fields + offset > ST_SSET_KEY_FIELDS_MAX ||
	    def->numeric_fields > ST_SSET_NUMERIC_FIELDS_MAX)
		return NULL;
	*why = ST_WORKER_DROP_STREAM_TABLE_FULL;
	if (w->n_streams == w->cfg.max_streams)
		return NULL;
	*why = ST_WORKER_DROP_NO_MEMORY;
	s = &w->streams[w->n_streams];
	memset(s, 0, sizeof(*s));
	s->def = *def;
	s->proto = proto;
	s->key_offset = offset;
	/* A stream without any key field still has key field 0: "@key", the
	 * protocol's record key, which only Kafka has. */
	if (offset == 0 && def->key_fields == 0)
		s->key_offset = 1;
	sc.key_fields = s->key_offset + def->key_fields;
	sc.numeric_fields = def->numeric_fields;
	s->set = st_sset_create(&sc);
	if (!s->set)
		return NULL;
	st_sset_reset(s->set, w->epoch_start_ns);
	if (w->cfg.double_buffered) {
		s->spare = st_sset_create(&sc);
		if (!s->spare) {
			st_sset_destroy(s->set);
			return NULL;
		}
		st_sset_reset(s->spare, w->epoch_start_ns);
	}
	if (s->key_offset)
		s->key_names[0] = ST_PROFILE_FIELD_RECORD_KEY;
	for (unsigned i = 0; i < def->key_fields; i++) {
		s->key_names[s->key_offset + i] = s->def.key[i];
		pointers[n++] = s->def.key[i];
	}
	for (unsigned i = 0; i < def->numeric_fields; i++) {
		s->numeric_names[i] = s->def.numeric[i];
		pointers[n++] = s->def.numeric[i];
	}
	s->plan = st_json_plan_create(pointers, n);
	if (!s->plan) {
		st_sset_destroy(s->set);
		st_sset_destroy(s->spare);
		return NULL;
	}
	s->name_hash = st_hash64(s->def.name, strlen(s->def.name));
	w->n_streams++;
	return s;
}

static struct stream *stream_by_name(struct st_worker *w, const char *name)
{
	uint64_t h = st_hash64(name, strlen(name));

	for (unsigned i = 0; i < w->n_streams; i++)
		if (w->streams[i].name_hash == h && !strcmp(w->streams[i].def.name, name))
			return &w->streams[i];
	return NULL;
}

static uint64_t topic_hash(enum st_proto proto, const uint8_t *topic, size_t len)
{
	uint64_t h = st_hash64(topic, len) ^ ((uint64_t)proto * 0x9e3779b97f4a7c15ull);

	return h ? h : 1;
}

/* The stream of (proto, topic); NULL when refused (counted). */
static struct stream *stream_lookup(struct st_worker *w, enum st_proto proto,
				    const uint8_t *topic, size_t len, uint64_t h)
{
	struct st_worker_stream_def def;
	enum st_worker_drop refusal;
	struct stream *s;
	unsigned i;

	for (i = (unsigned)h & w->topic_mask; w->topics[i].hash; i = (i + 1) & w->topic_mask) {
		if (w->topics[i].hash != h)
			continue;
		if (w->topics[i].stream)
			return &w->streams[w->topics[i].stream - 1];
		w->drops[w->topics[i].refusal]++;
		return NULL;
	}
	/* A new topic: classify it once.  The topic table is a cache (many
	 * topics may map to one stream, e.g. MQTT topics per device under one
	 * rule): when half full it is emptied and refilled, never refused. */
	if (w->n_topics >= w->topic_mask / 2) {
		memset(w->topics, 0, (w->topic_mask + 1) * sizeof(*w->topics));
		w->n_topics = 0;
		w->topic_cache_flushes++;
		i = (unsigned)h & w->topic_mask;
	}
	memset(&def, 0, sizeof(def));
	refusal = ST_WORKER_DROP_STREAM_REFUSED;
	s = NULL;
	if (w->cfg.classifier.stream(w->cfg.classifier.ctx, proto, topic, len, &def) == 0) {
		s = stream_by_name(w, def.name);
		if (!s)
			s = stream_create(w, proto, &def, &refusal);
	}
	if (!s)
		w->drops[refusal]++;
	/* a refusal is remembered too, so that its records cost a lookup */
	w->topics[i].hash = h;
	w->topics[i].stream = s ? (uint32_t)(s - w->streams) + 1 : 0;
	w->topics[i].refusal = refusal;
	w->n_topics++;
	return s;
}

/* "a.b.c.d:port" or "[v6]:port" of the packet's server side. */
static size_t jsonl_topic(const struct st_pkt *p, enum st_dir dir, char *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *addr = dir == ST_DIR_TO_SERVER ? p->daddr : p->saddr;
	uint16_t port = dir == ST_DIR_TO_SERVER ? p->dport : p->sport;
	char text[INET6_ADDRSTRLEN];
	int n;

	if (p->family == 4 || !memcmp(addr, mapped, 12)) {
		inet_ntop(AF_INET, addr + 12, text, sizeof(text));
		n = snprintf(out, TOPIC_NAME_MAX, "%s:%u", text, port);
	} else {
		inet_ntop(AF_INET6, addr, text, sizeof(text));
		n = snprintf(out, TOPIC_NAME_MAX, "[%s]:%u", text, port);
	}
	return n > 0 ? (size_t)n : 0;
}

/* The stream of a record, with a per-flow cache of the last topic. */
static struct stream *record_stream(struct st_worker *w, const struct st_record *r)
{
	struct session *ss = w->session;
	char topic[TOPIC_NAME_MAX];
	const uint8_t *t = r->stream;
	size_t len = r->stream_len;
	uint64_t h;
	struct stream *s;

	if (r->proto == ST_PROTO_JSONL) {
		const struct st_pkt *p = w->pkt;
		const uint8_t *addr;
		uint16_t port;

		if (ss && ss->stream)
			return &w->streams[ss->stream - 1];
		if (!p) {  /* flushed at flow end before any record named it */
			w->drops[ST_WORKER_DROP_NO_STREAM_NAME]++;
			return NULL;
		}
		addr = w->dir == ST_DIR_TO_SERVER ? p->daddr : p->saddr;
		port = w->dir == ST_DIR_TO_SERVER ? p->dport : p->sport;
		if (!ss && w->udp_stream && w->udp_port == port &&
		    !memcmp(w->udp_addr, addr, 16))
			return &w->streams[w->udp_stream - 1];
		len = jsonl_topic(p, w->dir, topic);
		t = (const uint8_t *)topic;
		s = stream_lookup(w, ST_PROTO_JSONL, t, len,
				  topic_hash(ST_PROTO_JSONL, t, len));
		if (s && ss) {
			ss->stream = (uint32_t)(s - w->streams) + 1;
		} else if (s) {
			memcpy(w->udp_addr, addr, 16);
			w->udp_port = port;
			w->udp_stream = (uint32_t)(s - w->streams) + 1;
		}
		return s;
	} else if (!t || !len) {
		w->drops[ST_WORKER_DROP_NO_STREAM_NAME]++;
		return NULL;
	}
	if (len == w->last_topic_len && r->proto == w->last_topic_proto &&
	    st_bytes_equal(t, w->last_topic, len)) {
		h = w->last_topic_hash;
	} else {
		h = topic_hash((enum st_proto)r->proto, t, len);
		if (len < TOPIC_NAME_MAX) {
			memcpy(w->last_topic, t, len);
			w->last_topic_len = (uint8_t)len;
			w->last_topic_proto = (uint8_t)r->proto;
			w->last_topic_hash = h;
		}
	}
	if (ss && ss->stream && ss->topic_hash == h)
		return &w->streams[ss->stream - 1];
	s = stream_lookup(w, (enum st_proto)r->proto, t, len, h);
	if (s && ss) {
		ss->stream = (uint32_t)(s - w->streams) + 1;
		ss->topic_hash = h;
	}
	return s;
}

/* ---- server endpoints ----------------------------------------------------
 *
 * What each figure of the Backend Metrics record (shadowtap/backends.h)
 * counts here, per server endpoint (the session's server side: the side
 * the port map names; UDP: the datagram's mapped port's side):
 *   packets/bytes to, from: frames of classified flows (TCP segments of a
 *     session, UDP datagrams of a protocol with a datagram codec), frame
 *     bytes as captured (st_pkt frame_len);
 *   retransmissions: a TCP segment whose payload the reassembly found
 *     entirely old or already queued (the pool's `duplicates` counter moved
 *     during its st_reasm_segment call).  Wireshark's
 *     tcp.analysis.retransmission (epan/dissectors/packet-tcp.c,
 *     tcp_analyze_sequence_number) is wider and narrower at once: it marks
 *     any segment with payload, SYN or FIN whose sequence number is below
 *     the next expected one, also when only part of it is old, including
 *     SYN/FIN repeats, and including its "fast" and "spurious" kinds, but
 *     not the ones it calls out-of-order (seen within the RTT or 3 ms
 *     of the previous segment), keep-alives or zero-window probes.  The two
 *     agree on whole repeats of data segments sent later than that;
 *   zero windows: a TCP segment with window field 0 and none of SYN, FIN,
 *     RST, as Wireshark's tcp.analysis.zero_window (same function: "window
 *     size is zero, none of SYN, FIN and RST set"; it also skips a segment
 *     it has just called a zero-window probe, a 1-byte segment at the next
 *     sequence number while the peer's window is 0, which the sender of
 *     such probes rarely marks with a window of 0 itself);
 *   records, record bytes, egress: the codec's events on the endpoint's
 *     flows, as the stream counters count them;
 *   flows_new: sessions created in the epoch by a SYN or by data (TCP;
 *     Wireshark's tcp.stream numbers the same conversations, bar a port
 *     reused after the close);
 *   latency: st_latency response - request, in microseconds.
 * Figures of an endpoint that found no room in the table go to its
 * overflow: one per packet and one per latency sample.
 */

static struct st_be_entry *session_backend(struct st_worker *w, struct session *ss)
{
	if (ss->be_gen != w->be_gen) {
		int32_t i = st_be_table_find(w->be, &ss->be_key);

		if (i < 0)
			return NULL;   /* table full: looked up again next time */
		ss->be_index = (uint32_t)i;
		ss->be_gen = w->be_gen;
	}
	return st_be_table_entry(w->be, (int32_t)ss->be_index);
}

/* The endpoint the current event belongs to: the session's, or the UDP
 * datagram's; NULL when it found no room or there is none. */
static struct st_be_entry *current_backend(struct st_worker *w)
{
	return w->session ? session_backend(w, w->session) : w->be_udp;
}

static void backend_packet(struct st_be_entry *be, const struct st_pkt *p,
			   enum st_dir dir)
{
	bool zero_window = p->l4_proto == IPPROTO_TCP && p->tcp_window == 0 &&
			   !(p->tcp_flags & (ST_TCP_SYN | ST_TCP_FIN | ST_TCP_RST));

	if (dir == ST_DIR_TO_SERVER) {
		be->packets_to++;
		be->bytes_to += p->frame_len;
		be->zero_windows_to += zero_window;
	} else {
		be->packets_from++;
		be->bytes_from += p->frame_len;
		be->zero_windows_from += zero_window;
	}
}

static void backends_reset(struct st_worker *w)
{
	st_be_table_reset(w->be);
	w->be_gen++;
	w->be_udp = NULL;
}

/* ---- records ---------------------------------------------------------- */

static void key_update(struct stream *s, unsigned field, const void *key, size_t len)
{
	uint64_t h = st_hash64(key, len);

	st_hll_update(st_sset_hll(s->set, field), h);
	st_hh_update(st_sset_heavy(s->set, field), h, key, len, 1);
}

static bool looks_like_json(const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (v[i]) {
		case ' ': case '\t': case '\r': case '\n':
			continue;
		case '{': case '[':
			return true;
		default:
			return false;
		}
	}
	return false;
}

/* The full scan's result for a record's value, through its stream's shape
 * template (dataplane/json/json_tmpl.h) where the value has its shape. */
static int scan_value(struct st_worker *w, struct stream *s,
		      const uint8_t *doc, size_t len)
{
	struct st_schema *schema = st_sset_schema(s->set);
	enum st_json_tmpl_how how;
	int rc;

	if (!s->shape && !w->cfg.no_shape_templates && !s->shape_failed) {
		if (!w->shape_scratch)
			w->shape_scratch = st_json_tmpl_scratch_create();
		s->shape = w->shape_scratch ? st_json_tmpl_create() : NULL;
		s->shape_failed = !s->shape;   /* no memory: full scans */
	}
	if (!s->shape)
		return st_json_scan(s->plan, doc, len, w->values, w->scratch,
				    sizeof(w->scratch), schema, &w->json);
	rc = st_json_tmpl_scan(s->shape, w->shape_scratch, s->plan, doc, len,
			       w->values, w->scratch, sizeof(w->scratch), schema,
			       &w->json, &how);
	w->shape_hits += how == ST_JSON_TMPL_MATCHED;
	w->shape_learns += how == ST_JSON_TMPL_LEARNT || how == ST_JSON_TMPL_REFUSED;
	w->shape_refused += how == ST_JSON_TMPL_REFUSED;
	return rc;
}

/* The template's owed schema updates go into the set about to be handed on,
 * reset or swapped, and its shape is forgotten: the next epoch learns again
 * into its own set (json_tmpl.h says why). */
static void shapes_retire(struct st_worker *w)
{
	for (unsigned i = 0; i < w->n_streams; i++) {
		struct stream *s = &w->streams[i];

		if (s->shape)
			st_json_tmpl_retire(s->shape, st_sset_schema(s->set));
	}
}

static void record_fields(struct st_worker *w, struct stream *s,
			  const struct st_record *r)
{
	struct st_profile_counters *c = st_sset_counters(s->set);
	unsigned nk = s->def.key_fields;
	int rc;

	if (r->flags & ST_REC_F_VALUE_TRUNCATED) {
		c->drops[ST_WORKER_SDROP_VALUE_TRUNCATED]++;
		w->values_truncated++;
		return;
	}
	if (!looks_like_json(r->value, r->value_len)) {
		w->values_not_json++;
		return;
	}
	/* schema = false: the lazy scan reads up to the last field and checks
	 * only that part (dataplane/json/json.h) */
	rc = s->def.no_schema ?
		st_json_scan_fields(s->plan, r->value, r->value_len, w->values,
				    w->scratch, sizeof(w->scratch)) :
		scan_value(w, s, r->value, r->value_len);
	if (rc < 0) {
		c->parse_errors[ST_WORKER_PERR_JSON_INVALID]++;
		if ((unsigned)-rc < ST_JSON_E__COUNT)
			w->json_errors[-rc]++;
		return;
	}
	STAGE_PUSH(w, ST_STAGE_SKETCH);
	for (unsigned i = 0; i < nk; i++) {
		const struct st_json_value *v = &w->values[i];

		if (v->found && (v->type == ST_JSON_STRING || v->type == ST_JSON_NUMBER))
			key_update(s, s->key_offset + i, v->text, v->text_len);
	}
	for (unsigned i = 0; i < s->def.numeric_fields; i++) {
		const struct st_json_value *v = &w->values[nk + i];

		if (v->found && v->type == ST_JSON_NUMBER)
			st_qs_update(st_sset_numeric_qs(s->set, i), v->number);
	}
	STAGE_POP(w);
}

/* flows_active: each flow once per stream per epoch; flows_new: once per
 * stream, in the epoch of the flow's first record of that stream.  TCP
 * only: UDP datagrams have no flow entry. */
static void count_flow(struct st_worker *w, struct session *ss, struct stream *s,
		       struct st_profile_counters *c)
{
	uint32_t id = (uint32_t)(s - w->streams) + 1;

	for (unsigned i = 0; i < SESSION_STREAMS; i++) {
		if (ss->counted[i] == id) {
			if (ss->counted_epoch[i] != w->epoch_start_ns) {
				ss->counted_epoch[i] = w->epoch_start_ns;
				c->flows_active++;
			}
			return;
		}
		if (!ss->counted[i]) {
			ss->counted[i] = id;
			ss->counted_epoch[i] = w->epoch_start_ns;
			c->flows_active++;
			c->flows_new++;
			return;
		}
	}
	/* a flow of more than SESSION_STREAMS streams: the rest count every
	 * time, an overcount (counted in flow_streams_overflow) */
	c->flows_active++;
	w->flow_streams_overflow++;
}

static void backend_record(struct st_worker *w, const struct st_record *r)
{
	struct st_be_entry *be = current_backend(w);

	if (!be)
		return;   /* its packets are in the overflow already */
	switch (r->kind) {
	case ST_REC_EGRESS:
		be->egress_records += r->count;
		return;
	case ST_REC_OPAQUE:
		be->records += r->count;
		break;
	default:
		be->records++;
		break;
	}
	be->record_bytes += r->value_bytes;
}

static inline void record_path(struct st_worker *w, const struct st_record *r)
{
	struct stream *s;
	struct st_profile_counters *c;

	backend_record(w, r);
	s = record_stream(w, r);

	if (!s)
		return;
	c = st_sset_counters(s->set);
	s->active = true;
	if (s->last_frame != w->frame_serial) {
		s->last_frame = w->frame_serial;
		c->packets++;
	}
	if (w->session)
		count_flow(w, w->session, s, c);
	switch (r->kind) {
	case ST_REC_EGRESS:
		c->egress_records += r->count;
		w->egress_records += r->count;
		return;
	case ST_REC_OPAQUE:
		c->records += r->count;
		c->bytes += r->value_bytes;
		st_ticks_update(st_sset_ticks(s->set), r->ts_ns, r->count);
		if (r->proto == ST_PROTO_KAFKA)
			st_sset_kafka_add(c, r->partition, r->count);
		w->opaque_records += r->count;
		return;
	default:
		break;
	}
	c->records++;
	c->bytes += r->value_bytes;
	w->records++;
	w->record_bytes += r->value_bytes;
	if (r->proto == ST_PROTO_KAFKA)
		st_sset_kafka_add(c, r->partition, 1);
	STAGE_PUSH(w, ST_STAGE_SKETCH);
	st_ticks_update(st_sset_ticks(s->set), r->ts_ns, 1);
	st_qs_update(st_sset_size_qs(s->set), (double)r->value_bytes);
	if (r->proto == ST_PROTO_KAFKA && (r->flags & ST_REC_F_HAS_KEY))
		key_update(s, 0, r->key, r->key_len);
	STAGE_POP(w);
	STAGE_PUSH(w, ST_STAGE_FIELDS);
	record_fields(w, s, r);
	STAGE_POP(w);
}

static void on_record(void *ctx, const struct st_record *r)
{
	struct st_worker *w = ctx;

	STAGE_PUSH(w, ST_STAGE_RECORD);
	record_path(w, r);
	STAGE_POP(w);
}

static void on_latency(void *ctx, const struct st_latency *l)
{
	struct st_worker *w = ctx;

	struct st_be_entry *be = current_backend(w);

	w->latency_samples++;
	if (l->response_ns >= l->request_ns) {
		w->latency_ns_sum += l->response_ns - l->request_ns;
		if (be)
			st_be_table_latency(w->be, be,
					    (double)(l->response_ns - l->request_ns) / 1e3);
		else
			st_be_table_overflow(w->be, 1);
	}
}

/* ---- flows and reassembly ---------------------------------------------- */

static size_t reasm_feed(void *ctx, const uint8_t *data, size_t len, uint64_t ts_ns)
{
	struct st_worker *w = ctx;
	struct session *ss = w->session;
	const struct st_codec *codec = st_codec_get((enum st_proto)ss->proto);
	struct st_codec_stats *stats = &w->codec[ss->proto];
	uint64_t resyncs = stats->resyncs;
	size_t used;

	STAGE_PUSH(w, ST_STAGE_CODEC);
	used = codec->feed(ss->codec_state, w->dir, data, len, ts_ns, &w->sink, stats);
	STAGE_POP(w);
	/* a malformed unit made the codec resync: the flow's stream hears of it */
	if (unlikely(stats->resyncs != resyncs) && ss->stream) {
		struct stream *s = &w->streams[ss->stream - 1];

		st_sset_counters(s->set)->parse_errors[ST_WORKER_PERR_CODEC] +=
			stats->resyncs - resyncs;
		s->active = true;
	}
	return used;
}

static void reasm_gap(void *ctx)
{
	struct st_worker *w = ctx;
	struct session *ss = w->session;
	const struct st_codec *codec = st_codec_get((enum st_proto)ss->proto);

	STAGE_PUSH(w, ST_STAGE_CODEC);
	codec->gap(ss->codec_state, w->dir, &w->codec[ss->proto]);
	STAGE_POP(w);
	if (ss->stream) {
		struct stream *s = &w->streams[ss->stream - 1];

		st_sset_counters(s->set)->reassembly_gaps++;
		s->active = true;
	}
}

static const struct st_reasm_consumer *consumer_of(struct st_worker *w)
{
	static const struct st_reasm_consumer proto_consumer = {
		.feed = reasm_feed, .gap = reasm_gap,
	};

	w->consumer = proto_consumer;
	w->consumer.ctx = w;
	return &w->consumer;
}

/* A flow leaves the table (idle, evicted, closed, destroyed): what waits
 * behind a hole is delivered first, then the buffers go back. */
static void flow_release(void *ctx, struct st_flow *f, enum st_flow_end why)
{
	struct st_worker *w = ctx;
	struct session *ss = st_flow_user(f);
	struct session *saved_session = w->session;
	const struct st_pkt *saved_pkt = w->pkt;
	enum st_dir saved_dir = w->dir;

	if (!ss->proto)
		return;
	STAGE_PUSH(w, ST_STAGE_REASM);
	if (why != ST_FLOW_END_DESTROYED) {
		w->session = ss;
		w->pkt = NULL;
		for (unsigned d = 0; d < 2; d++) {
			w->dir = (enum st_dir)d;
			st_reasm_flush_gap(w->reasm, &ss->dir[d], consumer_of(w));
		}
		w->session = saved_session;
		w->pkt = saved_pkt;
		w->dir = saved_dir;
	}
	st_reasm_release(w->reasm, &ss->dir[0]);
	st_reasm_release(w->reasm, &ss->dir[1]);
	ss->proto = ST_PROTO_NONE;
	STAGE_POP(w);
}

static void tcp_segment(struct st_worker *w, const struct st_pkt *p,
			enum st_proto proto, enum st_dir dir)
{
	const struct st_reasm_stats *rs = st_reasm_pool_stats(w->reasm);
	struct st_be_entry *be;
	struct st_flow *f;
	struct session *ss;
	enum st_flow_dir side;
	bool created, new_session = false;
	uint64_t duplicates;

	w->tcp_segments++;
	f = st_flow_get(w->flows, p, &side, &created);
	ss = st_flow_user(f);
	if (created || !ss->proto) {
		const struct st_codec *codec = st_codec_get(proto);

		memset(ss, 0, offsetof(struct session, codec_state));
		ss->proto = (uint8_t)proto;
		/* the sender is the client when the packet goes to the server */
		ss->server_side = (uint8_t)(dir == ST_DIR_TO_SERVER ? side ^ 1 : side);
		st_reasm_dir_init(&ss->dir[0]);
		st_reasm_dir_init(&ss->dir[1]);
		codec->init(ss->codec_state);
		if (dir == ST_DIR_TO_SERVER)
			st_be_key_from_pkt(&ss->be_key, p->family, p->daddr, p->dport,
					   (uint8_t)proto);
		else
			st_be_key_from_pkt(&ss->be_key, p->family, p->saddr, p->sport,
					   (uint8_t)proto);
		/* a flow begins with its SYN or, picked up mid-stream, with
		 * data: a bare ACK, FIN or RST after the session closed (the
		 * last ACK of a close) makes a session but no new flow */
		new_session = (p->tcp_flags & ST_TCP_SYN) || p->payload_len;
	}
	w->session = ss;
	w->dir = side == ss->server_side ? ST_DIR_TO_CLIENT : ST_DIR_TO_SERVER;
	be = session_backend(w, ss);
	if (be) {
		be->flows_new += new_session;
		backend_packet(be, p, w->dir);
	} else {
		st_be_table_overflow(w->be, 1);
	}
	duplicates = rs->duplicates;
	STAGE_PUSH(w, ST_STAGE_REASM);
	st_reasm_segment(w->reasm, &ss->dir[w->dir], p->tcp_seq, p->tcp_flags,
			 p->payload, p->payload_len, p->ts_ns, consumer_of(w));
	STAGE_POP(w);
	if (be && rs->duplicates != duplicates) {
		if (w->dir == ST_DIR_TO_SERVER)
			be->retransmissions_to++;
		else
			be->retransmissions_from++;
	}
	w->session = NULL;
	if ((p->tcp_flags & ST_TCP_RST) ||
	    (st_reasm_dir_closed(&ss->dir[0]) && st_reasm_dir_closed(&ss->dir[1])))
		st_flow_close(w->flows, f);
}

/* ---- frames ----------------------------------------------------------- */

static inline void frame_path(struct st_worker *w, const uint8_t *frame,
			      uint32_t caplen, int linktype, uint64_t ts_ns)
{
	struct st_pkt p;
	enum st_decode_result r;
	enum st_proto proto;
	enum st_dir dir;

	w->frame_serial++;
	r = st_decode(frame, caplen, linktype, ts_ns, &p);
	st_decode_count(&w->decode, r, caplen);
	if (r != ST_DECODE_OK)
		return;
	proto = w->cfg.classifier.port_proto(w->cfg.classifier.ctx, p.l4_proto, p.dport);
	dir = ST_DIR_TO_SERVER;
	if (proto == ST_PROTO_NONE) {
		proto = w->cfg.classifier.port_proto(w->cfg.classifier.ctx, p.l4_proto,
						     p.sport);
		dir = ST_DIR_TO_CLIENT;
	}
	if (proto == ST_PROTO_NONE || !st_codec_get(proto)) {
		w->drops[ST_WORKER_DROP_UNMAPPED_PORT]++;
		return;
	}
	w->pkt = &p;
	if (p.l4_proto == IPPROTO_UDP) {
		const struct st_codec *codec = st_codec_get(proto);

		w->udp_datagrams++;
		w->dir = dir;
		if (codec->datagram) {
			struct st_be_key k;
			int32_t at;

			if (dir == ST_DIR_TO_SERVER)
				st_be_key_from_pkt(&k, p.family, p.daddr, p.dport, (uint8_t)proto);
			else
				st_be_key_from_pkt(&k, p.family, p.saddr, p.sport, (uint8_t)proto);
			if (w->udp_be_gen == w->be_gen &&
			    memcmp(&k, &w->udp_be_key, sizeof(k)) == 0) {
				at = w->udp_be_index;
			} else {
				at = st_be_table_find(w->be, &k);
				w->udp_be_key = k;
				w->udp_be_index = at;
				w->udp_be_gen = at >= 0 ? w->be_gen : 0;
			}
			if (at >= 0) {
				w->be_udp = st_be_table_entry(w->be, at);
				backend_packet(w->be_udp, &p, dir);
			} else {
				st_be_table_overflow(w->be, 1);
			}
			STAGE_PUSH(w, ST_STAGE_CODEC);
			codec->datagram(dir, p.payload, p.payload_len, ts_ns, &w->sink,
					&w->codec[proto]);
			STAGE_POP(w);
			w->be_udp = NULL;
		} else {
			w->drops[ST_WORKER_DROP_UNMAPPED_PORT]++;
		}
	} else {
		STAGE_PUSH(w, ST_STAGE_FLOW);
		tcp_segment(w, &p, proto, dir);
		STAGE_POP(w);
	}
	w->pkt = NULL;
}

void st_worker_frame(struct st_worker *w, const uint8_t *frame, uint32_t caplen,
		     int linktype, uint64_t ts_ns)
{
#ifdef ST_STAGE_CYCLES
	w->stage_frames++;
#endif
	STAGE_PUSH(w, ST_STAGE_DECODE);
	frame_path(w, frame, caplen, linktype, ts_ns);
	STAGE_POP(w);
}

/* ---- epochs ----------------------------------------------------------- */

unsigned st_worker_epoch_close(struct st_worker *w, uint64_t next_start_ns,
			       void (*fn)(void *ctx, const struct st_worker_stream *s),
			       void *ctx)
{
	unsigned handed = 0;

	STAGE_PUSH(w, ST_STAGE_EPOCH);
	shapes_retire(w);
	for (unsigned i = 0; i < w->n_streams; i++) {
		struct stream *s = &w->streams[i];
		struct st_worker_stream ws = {
			.def = &s->def, .proto = s->proto, .set = s->set,
		};

		if (s->active) {
			memcpy(ws.key_field_names, s->key_names, sizeof(s->key_names));
			memcpy(ws.numeric_field_names, s->numeric_names,
			       sizeof(s->numeric_names));
			fn(ctx, &ws);
			handed++;
		}
		st_sset_reset(s->set, next_start_ns);
		s->active = false;
	}
	backends_reset(w);
	w->epoch_start_ns = next_start_ns;
	st_flow_expire(w->flows, next_start_ns, st_flow_capacity(w->flows) / 64 + 64);
	STAGE_POP(w);
	return handed;
}

int st_worker_epoch_publish(struct st_worker *w, uint64_t end_ns)
{
	/* Acquire: the merger's reads of the published buffers happen before
	 * we reset and reuse them. */
	uint64_t released = atomic_load_explicit(&w->released_seq,
						 memory_order_acquire);
	uint64_t seq = w->published.seq;

	if (!w->cfg.double_buffered)
		return -EINVAL;
	if (released != seq)
		return -EBUSY;
	STAGE_PUSH(w, ST_STAGE_EPOCH);
	shapes_retire(w);
	for (unsigned i = 0; i < w->n_streams; i++) {
		struct stream *s = &w->streams[i];
		struct st_sset *t = s->spare;

		s->spare = s->set;
		s->spare_active = s->active;
		st_sset_reset(t, end_ns);
		s->set = t;
		s->active = false;
	}
	{
		struct st_be_table *t = w->be_spare;

		w->be_spare = w->be;
		w->be = t;
		backends_reset(w);
	}
	w->published = (struct st_worker_epoch){
		.seq = seq + 1,
		.start_ns = w->epoch_start_ns,
		.end_ns = end_ns,
		.n_streams = w->n_streams,
	};
	/* Release: the swapped buffers, the streams' definitions and
	 * `published` are visible to a merger that acquires the new seq. */
	atomic_store_explicit(&w->published_seq, seq + 1, memory_order_release);
	w->epoch_start_ns = end_ns;
	st_flow_expire(w->flows, end_ns, st_flow_capacity(w->flows) / 64 + 64);
	STAGE_POP(w);
	return 0;
}

bool st_worker_published(const struct st_worker *w, struct st_worker_epoch *e)
{
	/* Acquire: pairs with the release store in st_worker_epoch_publish. */
	uint64_t seq = atomic_load_explicit(&((struct st_worker *)w)->published_seq,
					    memory_order_acquire);

	if (seq == 0 || seq == atomic_load_explicit(
			&((struct st_worker *)w)->released_seq, memory_order_relaxed))
		return false;
	*e = w->published;
	return true;
}

bool st_worker_published_stream(const struct st_worker *w, unsigned i,
				struct st_worker_stream *ws)
{
	const struct stream *s = &w->streams[i];

	if (i >= w->published.n_streams || !s->spare_active)
		return false;
	*ws = (struct st_worker_stream){
		.def = &s->def, .proto = s->proto, .set = s->spare,
	};
	memcpy(ws->key_field_names, s->key_names, sizeof(s->key_names));
	memcpy(ws->numeric_field_names, s->numeric_names, sizeof(s->numeric_names));
	return true;
}

const struct st_be_table *st_worker_backends(const struct st_worker *w)
{
	return w->be;
}

const struct st_be_table *st_worker_published_backends(const struct st_worker *w)
{
	return w->be_spare;
}

void st_worker_release(struct st_worker *w, uint64_t seq)
{
	/* Release: our reads of the published buffers happen before the
	 * worker reuses them (it acquires released_seq). */
	atomic_store_explicit(&w->released_seq, seq, memory_order_release);
}

void st_worker_flush(struct st_worker *w)
{
	STAGE_PUSH(w, ST_STAGE_EPOCH);
	st_flow_expire(w->flows, UINT64_MAX, st_flow_capacity(w->flows));
	STAGE_POP(w);
}

/* ---- life cycle ------------------------------------------------------- */

struct st_worker *st_worker_create(const struct st_worker_config *cfg,
				   uint64_t epoch_start_ns)
{
	struct st_worker *w;
	unsigned topics = 64;

	if (!cfg->classifier.port_proto || !cfg->classifier.stream ||
	    cfg->max_streams == 0 || cfg->max_flows == 0) {
		errno = EINVAL;
		return NULL;
	}
	/* its decode counters are cache-line aligned, so the worker is: calloc
	 * gives 16 bytes, on which a wider aligned load of a member faults */
	w = aligned_alloc(_Alignof(struct st_worker), sizeof(*w));
	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->cfg = *cfg;
	w->epoch_start_ns = epoch_start_ns;
	if (w->cfg.max_backends == 0)
		w->cfg.max_backends = ST_BE_TABLE_ENTRIES_DEFAULT;
	w->be_gen = 1;
#ifdef ST_STAGE_CYCLES
	w->stage = STAGE_OUTSIDE;
	w->stage_tsc = __rdtsc();
#endif
	w->sink = (struct st_codec_sink){
		.record = on_record, .latency = on_latency, .ctx = w,
	};
	while (topics < 4 * cfg->max_streams)
		topics *= 2;
	w->topics = calloc(topics, sizeof(*w->topics));
	w->topic_mask = topics - 1;
	w->streams = calloc(cfg->max_streams, sizeof(*w->streams));
	if (!w->topics || !w->streams)
		goto out_free;
	w->be = st_be_table_create(w->cfg.max_backends);
	if (!w->be)
		goto out_free;
	if (cfg->double_buffered) {
		w->be_spare = st_be_table_create(w->cfg.max_backends);
		if (!w->be_spare)
			goto out_free;
	}
	{
		struct st_reasm_config rc = {
			.carry_bytes_max = ST_CODEC_HOLD_MAX,
			.ooo_segments_max = ST_REASM_OOO_SEGMENTS_DEFAULT,
			.ooo_bytes_max = ST_REASM_OOO_BYTES_DEFAULT,
			.budget_bytes = cfg->reasm_budget_bytes,
		};
		struct st_flow_config fc = {
			.max_flows = cfg->max_flows,
			.user_bytes = sizeof(struct session),
			.idle_timeout_ns = cfg->flow_idle_ns,
			.release = flow_release,
			.release_ctx = w,
		};

		w->reasm = st_reasm_pool_create(&rc);
		if (!w->reasm)
			goto out_free;
		w->flows = st_flow_table_create(&fc);
		if (!w->flows)
			goto out_reasm;
	}
	return w;
out_reasm:
	st_reasm_pool_destroy(w->reasm);
out_free:
	{
		int err = errno ? errno : ENOMEM;

		st_be_table_destroy(w->be);
		st_be_table_destroy(w->be_spare);
		free(w->streams);
		free(w->topics);
		free(w);
		errno = err;
	}
	return NULL;
}

void st_worker_set_epoch_start(struct st_worker *w, uint64_t epoch_start_ns)
{
	w->epoch_start_ns = epoch_start_ns;
}

void st_worker_destroy(struct st_worker *w)
{
	if (!w)
		return;
	st_flow_table_destroy(w->flows);   /* releases every session */
	st_reasm_pool_destroy(w->reasm);
	for (unsigned i = 0; i < w->n_streams; i++) {
		st_sset_destroy(w->streams[i].set);
		st_sset_destroy(w->streams[i].spare);
		st_json_plan_destroy(w->streams[i].plan);
		st_json_tmpl_destroy(w->streams[i].shape);
	}
	st_be_table_destroy(w->be);
	st_be_table_destroy(w->be_spare);
	st_schema_destroy(w->shape_scratch);
	free(w->streams);
	free(w->topics);
	free(w);
}

/* ---- counters --------------------------------------------------------- */

static void json_counts(FILE *out, const char *const *names, const uint64_t *v,
			unsigned n, unsigned from)
{
	bool first = true;

	fputc('{', out);
	for (unsigned i = from; i < n; i++) {
		fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", names[i], v[i]);
		first = false;
	}
	fputc('}', out);
}

int st_worker_stats_json(const struct st_worker *w, FILE *out)
{
	const char *names[(unsigned)ST_DECODE__COUNT > (unsigned)ST_JSON_E__COUNT
				  ? (unsigned)ST_DECODE__COUNT : (unsigned)ST_JSON_E__COUNT];

	fprintf(out, "{\"decode\":{\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"ok\":%" PRIu64 ",\"drops\":", w->decode.frames, w->decode.bytes,
		w->decode.ok);
	for (unsigned i = 0; i < ST_DECODE__COUNT; i++)
		names[i] = st_decode_reason_name((enum st_decode_result)i);
	json_counts(out, names, w->decode.drops, ST_DECODE__COUNT, 1);
	fputs("},\"worker\":{\"drops\":", out);
	json_counts(out, worker_drop_names, w->drops, ST_WORKER_DROP__COUNT, 0);
	fprintf(out, ",\"tcp_segments\":%" PRIu64 ",\"udp_datagrams\":%" PRIu64
		",\"records\":%" PRIu64 ",\"opaque_records\":%" PRIu64
		",\"egress_records\":%" PRIu64 ",\"values_truncated\":%" PRIu64
		",\"values_not_json\":%" PRIu64 ",\"latency_samples\":%" PRIu64
		",\"flow_streams_overflow\":%" PRIu64 ",\"topic_cache_flushes\":%" PRIu64
		",\"streams\":%u,\"topics\":%u}",
		w->tcp_segments, w->udp_datagrams, w->records, w->opaque_records,
		w->egress_records, w->values_truncated, w->values_not_json,
		w->latency_samples, w->flow_streams_overflow, w->topic_cache_flushes,
		w->n_streams, w->n_topics);
	{
		const struct st_flow_stats *f = st_flow_table_stats(w->flows);
		const struct st_reasm_stats *r = st_reasm_pool_stats(w->reasm);

		fprintf(out, ",\"flows\":{\"lookups\":%" PRIu64 ",\"created\":%" PRIu64
			",\"expired\":%" PRIu64 ",\"evicted\":%" PRIu64 ",\"closed\":%" PRIu64
			",\"active\":%" PRIu64 ",\"memory_bytes\":%zu}", f->lookups, f->created,
			f->expired, f->evicted, f->closed, f->active,
			st_flow_memory_bytes(w->flows));
		fputs(",\"reassembly\":{", out);
		for (unsigned i = 0; i < ST_REASM_STATS_COUNT; i++)
			fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", st_reasm_stat_names[i],
				st_reasm_stat(r, i));
		fprintf(out, ",\"memory_bytes\":%zu}", st_reasm_pool_memory_bytes(w->reasm));
	}
	fputs(",\"json\":{\"errors\":", out);
	for (unsigned i = 0; i < ST_JSON_E__COUNT; i++)
		names[i] = st_json_error_name((int)i);
	json_counts(out, names, w->json_errors, ST_JSON_E__COUNT, 1);
	fprintf(out, ",\"walk_depth_limited\":%" PRIu64 ",\"walk_fields_limited\":%" PRIu64
		",\"walk_path_limited\":%" PRIu64 ",\"shape_hits\":%" PRIu64
		",\"shape_learns\":%" PRIu64 ",\"shape_refused\":%" PRIu64 "}",
		w->json.walk_depth_limited, w->json.walk_fields_limited,
		w->json.walk_path_limited, w->shape_hits, w->shape_learns,
		w->shape_refused);
	fputs(",\"codecs\":{", out);
	for (unsigned p = ST_PROTO_NONE + 1; p < ST_PROTO__COUNT; p++) {
		const struct st_codec *codec = st_codec_get((enum st_proto)p);
		const struct st_codec_stats *c = &w->codec[p];

		fprintf(out, "%s\"%s\":{\"units_to_server\":%" PRIu64
			",\"units_to_client\":%" PRIu64 ",\"records\":%" PRIu64
			",\"opaque_records\":%" PRIu64 ",\"egress_records\":%" PRIu64
			",\"resyncs\":%" PRIu64 ",\"skipped_bytes\":%" PRIu64
			",\"truncated_values\":%" PRIu64 ",\"latency_unmatched\":%" PRIu64
			",\"errors\":", p == 1 ? "" : ",", codec->name, c->units[0],
			c->units[1], c->records, c->opaque_records, c->egress_records,
			c->resyncs, c->skipped_bytes, c->truncated_values,
			c->latency_unmatched);
		json_counts(out, codec->error_names, c->errors, codec->n_errors, 0);
		if (p == ST_PROTO_KAFKA) {
			static const char *const comp[ST_KAFKA_COMP__COUNT] = {
				"none", "gzip", "snappy", "lz4", "zstd",
			};
			fputs(",\"batches\":", out);
			json_counts(out, comp, c->kafka_batches, ST_KAFKA_COMP__COUNT, 0);
			fputs(",\"batch_records\":", out);
			json_counts(out, comp, c->kafka_batch_records, ST_KAFKA_COMP__COUNT, 0);
		}
		fputc('}', out);
	}
	fputs("}}", out);
	return ferror(out) ? -EIO : 0;
}

void st_worker_drops(const struct st_worker *w, uint64_t *decode, unsigned n_decode,
		     uint64_t worker[ST_WORKER_DROP__COUNT])
{
	for (unsigned i = 0; i < n_decode && i < ST_DECODE__COUNT; i++)
		decode[i] = w->decode.drops[i];
	memcpy(worker, w->drops, sizeof(w->drops));
}

const char *st_worker_drop_name(enum st_worker_drop d)
{
	return (unsigned)d < ST_WORKER_DROP__COUNT ? worker_drop_names[d] : "?";
}

void st_worker_totals(const struct st_worker *w, struct st_worker_totals *t)
{
	memset(t, 0, sizeof(*t));
	t->frames = w->decode.frames;
	t->frames_decoded = w->decode.ok;
	t->records = w->records;
	t->record_bytes = w->record_bytes;
	t->opaque_records = w->opaque_records;
	t->egress_records = w->egress_records;
	t->reassembly_gaps = st_reasm_pool_stats(w->reasm)->gaps;
	for (unsigned p = 0; p < ST_PROTO__COUNT; p++)
		for (unsigned i = 0; i < ST_CODEC_ERRORS_MAX; i++)
			t->parse_errors += w->codec[p].errors[i];
	for (unsigned i = 1; i < ST_JSON_E__COUNT; i++)
		t->parse_errors += w->json_errors[i];
	for (unsigned i = 0; i < ST_DECODE__COUNT; i++)
		t->decode_drops += w->decode.drops[i];
	t->drops = t->decode_drops;
	t->flows_active = st_flow_table_stats(w->flows)->active;
	for (unsigned i = 0; i < ST_WORKER_DROP__COUNT; i++)
		t->drops += w->drops[i];
	t->streams = w->n_streams;
}

#ifdef ST_STAGE_CYCLES
void st_worker_stage_cycles(const struct st_worker *w,
			    struct st_worker_stage_cycles *out)
{
	memcpy(out->cycles, w->stage_cycles, sizeof(out->cycles));
	out->frames = w->stage_frames;
	out->marks = w->stage_marks;
}

const char *st_worker_stage_name(unsigned stage)
{
	static const char *const names[ST_STAGE__COUNT] = {
		[ST_STAGE_DECODE] = "decode", [ST_STAGE_FLOW] = "flow",
		[ST_STAGE_REASM] = "reassembly", [ST_STAGE_CODEC] = "codec",
		[ST_STAGE_RECORD] = "record", [ST_STAGE_FIELDS] = "fields",
		[ST_STAGE_SKETCH] = "sketches", [ST_STAGE_EPOCH] = "epoch",
	};

	return stage < ST_STAGE__COUNT ? names[stage] : "?";
}
#endif
