/*
 * shadowtap-gen internals: the pieces of the traffic generator and how they
 * meet.  Nothing here is a public API; the executable (main.c) is the only
 * user, and the tests drive the executable from outside.
 *
 *   spec.c    --stream SPEC strings -> struct st_gen_stream_spec (validated)
 *   rate.c    rate shapes: constant, diurnal, bursts, NAB CSV trace
 *   value.c   schema versions and the JSON value of each record
 *   proto.c   wire encodings: Kafka Produce / RecordBatch v2 (CRC-32C),
 *             MQTT 3.1.1 and 5.0, NATS, JSON lines
 *   wire.c    Ethernet / IPv4 / IPv6 / TCP / UDP frames with checksums, and
 *             the sinks (pcap file, live interface)
 *   truth.c   the ground truth, counted from the generator's own bookkeeping
 *   engine.c  the event loop: record arrivals, batching, segmentation, time
 *
 * Time is trace time in nanoseconds since the Unix epoch (int64_t, _ns).
 * Packets are stamped with microsecond resolution (classic pcap).
 */
#ifndef ST_TOOLS_GEN_H
#define ST_TOOLS_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/lib/keygen.h"

#define ST_GEN_MAX_STREAMS 64
#define ST_GEN_MAX_CONNS 64
#define ST_GEN_MAX_CHANGES 16
#define ST_GEN_MAX_FIELDS 24    /* top-level fields of one schema version */
#define ST_GEN_MAX_PATHS 96     /* distinct JSON pointers of one stream */
#define ST_GEN_NAME_MAX 128
#define ST_GEN_TOP_K 10

#define ST_GEN_NS_PER_S 1000000000LL
#define ST_GEN_NS_PER_MS 1000000LL
#define ST_GEN_NS_PER_US 1000LL

enum st_gen_proto { ST_GEN_KAFKA, ST_GEN_MQTT, ST_GEN_NATS, ST_GEN_JSONL };

enum st_gen_shape {
	ST_GEN_SHAPE_CONSTANT,
	ST_GEN_SHAPE_DIURNAL,
	ST_GEN_SHAPE_BURSTS,
	ST_GEN_SHAPE_TRACE,
};

/* Types a schema field can take; ST_GEN_T_BOOL renders false or true. */
enum st_gen_type {
	ST_GEN_T_NULL,
	ST_GEN_T_BOOL,
	ST_GEN_T_NUMBER,
	ST_GEN_T_STRING,
	ST_GEN_T_OBJECT,
	ST_GEN_T_ARRAY,
};

/* Type bits of the truth's schema, one per JSON value kind. */
enum {
	ST_GEN_TB_NULL = 1u << 0,
	ST_GEN_TB_FALSE = 1u << 1,
	ST_GEN_TB_TRUE = 1u << 2,
	ST_GEN_TB_NUMBER = 1u << 3,
	ST_GEN_TB_STRING = 1u << 4,
	ST_GEN_TB_OBJECT = 1u << 5,
	ST_GEN_TB_ARRAY = 1u << 6,
};

enum st_gen_change_op { ST_GEN_ADD, ST_GEN_REMOVE, ST_GEN_RETYPE };

struct st_gen_change {
	int64_t at_ns;          /* offset from the trace start */
	enum st_gen_change_op op;
	enum st_gen_type type;  /* ADD and RETYPE */
	char field[32];
	char text[80];          /* as written on the command line */
};

struct st_gen_stream_spec {
	enum st_gen_proto proto;
	char name[ST_GEN_NAME_MAX];   /* topic, subject; unused for JSONL */
	bool udp;                     /* JSONL over UDP (else TCP) */
	uint16_t port;                /* server port */

	enum st_gen_shape shape;
	double rate;                  /* records/s: constant, diurnal mean, bursts on */
	double amplitude;             /* diurnal, fraction of the mean in [0, 1] */
	double period_s;              /* diurnal */
	double on_s, off_s, off_rate; /* bursts */
	char trace_path[256];
	double compress;              /* trace seconds per trace-time second */
	double peak;                  /* trace: rate at the trace's largest value */

	uint64_t keys;
	double zipf;                  /* 0 = uniform */
	int64_t explode_at_ns;        /* from this offset on, keys are uniform over
				       * explode_keys ids; -1: never */
	uint64_t explode_keys;
	int64_t hot_at_ns;            /* from this offset on, a share hot_share of
				       * records carries key id 0; -1: never */
	double hot_share;

	unsigned conns;
	unsigned batch;               /* records per batch / message per write */
	int64_t linger_ns;
	unsigned mss;
	bool split_random;
	double reorder_p, dup_p;
	unsigned dgram_bytes;         /* JSONL UDP */
	bool headers;                 /* Kafka record headers, NATS HPUB */

	unsigned partitions;          /* Kafka */
	unsigned version;             /* Kafka Produce version, MQTT level */
	int acks;                     /* Kafka */
	unsigned qos;                 /* MQTT */
	bool verbose;                 /* NATS +OK */
	int64_t ping_ns;              /* NATS PING period */

	struct st_gen_change changes[ST_GEN_MAX_CHANGES];
	unsigned n_changes;
};

struct st_gen_config {
	uint64_t seed;
	int64_t start_ns, duration_ns, tick_ns, epoch_ns;
	bool ipv6;
	struct st_gen_stream_spec streams[ST_GEN_MAX_STREAMS];
	unsigned n_streams;
};

/* spec.c */

/*
 * Parses one --stream SPEC into *spec (defaults filled first).  On error
 * returns -EINVAL and writes a one-line message naming the bad key or value
 * into err (size err_size).  ipv6 only changes the default MSS and datagram.
 */
int st_gen_spec_parse(const char *text, bool ipv6,
		      struct st_gen_stream_spec *spec, char *err, size_t err_size);
/*
 * "12", "12.5s", "1500ms", "2m", "1h" -> ns in [0, 1e18]; 0 or -EINVAL
 * (*ns untouched).  The number is strtod's: "1e3ms" and "0x10s" work too.
 */
int st_gen_parse_duration(const char *text, int64_t *ns);
/* Classic pcap stamps carry 32-bit unsigned seconds: 2106-02-07T06:28:15Z. */
#define ST_GEN_START_MAX_S 4294967295LL
/*
 * --start: "YYYY-MM-DDTHH:MM:SS[.FRACTION]Z" (UTC; a date that exists,
 * seconds 00-59) or "@SECONDS[.FRACTION]" (Unix time), decimal digits only,
 * -> ns since the epoch, cut to whole microseconds (pcap's resolution), at
 * most ST_GEN_START_MAX_S seconds.  0 or -EINVAL (*ns untouched).
 */
int st_gen_parse_start(const char *text, int64_t *ns);
const char *st_gen_proto_name(enum st_gen_proto proto);
const char *st_gen_type_name(enum st_gen_type type);

/* rate.c */

struct st_gen_rate;
/*
 * The rate of spec (which must outlive it); a trace shape reads
 * spec->trace_path.  NULL + errno (message in err) when the trace file
 * cannot be used: ENOENT and the like from fopen, EINVAL for a malformed
 * trace, ENOMEM.
 */
struct st_gen_rate *st_gen_rate_create(const struct st_gen_stream_spec *spec,
				       char *err, size_t err_size);
/*
 * The same, with a trace shape's CSV read from `trace` (left open; the
 * caller closes it) instead of spec->trace_path, which only names it in
 * messages.  For the fuzz target and the tests (fmemopen).
 */
struct st_gen_rate *st_gen_rate_create_from(const struct st_gen_stream_spec *spec, FILE *trace,
					    char *err, size_t err_size);
void st_gen_rate_destroy(struct st_gen_rate *rate);
/* Records/s at t_s seconds after the start; t_s never decreases between calls. */
double st_gen_rate_at(struct st_gen_rate *rate, double t_s);

/* value.c */

struct st_gen_schema;
struct st_gen_schema *st_gen_schema_create(const struct st_gen_stream_spec *spec);
void st_gen_schema_destroy(struct st_gen_schema *schema);
/* Schema version in force at offset_ns after the start (0 = base). */
unsigned st_gen_schema_version_at(const struct st_gen_schema *schema, int64_t offset_ns);
unsigned st_gen_schema_n_paths(const struct st_gen_schema *schema);
const char *st_gen_schema_path(const struct st_gen_schema *schema, unsigned path_id);
/*
 * Writes the JSON value of one record (no newline) into out (at least
 * ST_GEN_VALUE_MAX bytes) and returns its length; *bool_bits receives the
 * values of the boolean fields in field order (bit i = i-th bool field).
 */
#define ST_GEN_VALUE_MAX 4096
size_t st_gen_value_render(const struct st_gen_schema *schema, unsigned version,
			   const char *key, size_t key_len, int64_t created_ns,
			   uint64_t record_no, struct st_rng *rng, char *out, uint32_t *bool_bits);
/* ORs the type bits of one record of `version` into masks[path_id]. */
void st_gen_schema_account(const struct st_gen_schema *schema, unsigned version,
			   uint32_t bool_bits, uint8_t *masks);

/* A growable byte buffer; grow() keeps room for `more` bytes or fails. */
struct st_gen_buf {
	uint8_t *data;
	size_t len, cap;
};
int st_gen_buf_reserve(struct st_gen_buf *b, size_t more);
void st_gen_buf_free(struct st_gen_buf *b);

/* A record waiting in a batch: its value bytes live in the batch's buffer. */
struct st_gen_pending {
	uint64_t key_id;
	int64_t created_ns;
	uint32_t value_off, value_len;
	uint32_t bool_bits;
	uint16_t packet_id;     /* MQTT QoS > 0, set when written */
	uint8_t version;
	uint8_t key_len;
	char key[22];
};

struct st_gen_batch {
	struct st_gen_pending *recs;
	unsigned n, cap;
	struct st_gen_buf values;
	int64_t first_ns;   /* creation time of recs[0] */
};

/* proto.c: every function appends to a buffer, 0 or -ENOMEM. */

struct st_gen_kafka_part {
	unsigned partition;
	const struct st_gen_batch *batch;
	int64_t base_offset;    /* for the response */
};

int st_gen_kafka_api_versions_request(struct st_gen_buf *b, int32_t corr);
int st_gen_kafka_api_versions_response(struct st_gen_buf *b, int32_t corr, unsigned produce_max);
int st_gen_kafka_produce_request(struct st_gen_buf *b, unsigned version, int32_t corr,
				 int acks, const char *topic, const struct st_gen_kafka_part *parts,
				 unsigned n_parts, bool headers, uint64_t *record_no);
int st_gen_kafka_produce_response(struct st_gen_buf *b, unsigned version, int32_t corr,
				  const char *topic, const struct st_gen_kafka_part *parts,
				  unsigned n_parts);
int st_gen_mqtt_connect(struct st_gen_buf *b, unsigned level, const char *client_id);
int st_gen_mqtt_connack(struct st_gen_buf *b, unsigned level);
int st_gen_mqtt_publish(struct st_gen_buf *b, unsigned level, unsigned qos, uint16_t packet_id,
			const char *topic, const uint8_t *payload, size_t len);
/* PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70: 2-byte packet id only. */
int st_gen_mqtt_ack(struct st_gen_buf *b, uint8_t first_byte, uint16_t packet_id);
int st_gen_mqtt_disconnect(struct st_gen_buf *b);
int st_gen_nats_info(struct st_gen_buf *b, uint16_t port);
int st_gen_nats_connect(struct st_gen_buf *b, bool verbose);
int st_gen_nats_pub(struct st_gen_buf *b, const char *subject, bool headers, uint64_t msg_no,
		    const char *key, size_t key_len, const uint8_t *payload, size_t len);
int st_gen_put_text(struct st_gen_buf *b, const char *text);


uint32_t st_gen_crc32c(uint32_t crc, const void *data, size_t len);
int32_t st_gen_kafka_murmur2(const void *data, size_t len);
size_t st_gen_put_uvarint(uint8_t *p, uint64_t v);
size_t st_gen_put_varint(uint8_t *p, int64_t v); /* zigzag */

/* wire.c */

/* One TCP connection or UDP flow; index 0 is the client, 1 the server. */
struct st_gen_flow {
	bool ipv6, udp;
	uint8_t mac[2][6];
	uint8_t addr[2][16];    /* IPv4 in the first 4 bytes */
	uint16_t port[2];
	uint32_t next_seq[2];   /* TCP: next sequence number each side sends */
	uint16_t ip_id[2];
};

#define ST_GEN_TCP_FIN 0x01
#define ST_GEN_TCP_SYN 0x02
#define ST_GEN_TCP_PSH 0x08
#define ST_GEN_TCP_ACK 0x10
/* Largest frame built: Ethernet + IPv6 + TCP with options + 8960 bytes. */
#define ST_GEN_FRAME_MAX 9100

/*
 * Builds one Ethernet frame from side `from` into frame (ST_GEN_FRAME_MAX
 * bytes) and returns its length.  TCP: seq and ack as given, SYN frames
 * carry an MSS option; UDP ignores seq, ack and flags.  Checksums (IPv4
 * header, TCP/UDP over the pseudo-header) are computed.
 */
size_t st_gen_frame(struct st_gen_flow *flow, int from, uint8_t flags, uint32_t seq, uint32_t ack,
		    uint16_t mss, const uint8_t *payload, size_t len, uint8_t *frame);

struct st_gen_sink;
/* Either path or iface (or both); NULL + errno, message in err. */
struct st_gen_sink *st_gen_sink_create(const char *pcap_path, const char *iface,
				       bool paced, char *err, size_t err_size);
/* Writes one frame stamped ts_ns; 0 or -EIO. */
int st_gen_sink_put(struct st_gen_sink *sink, int64_t ts_ns, const uint8_t *frame, size_t len);
/* Flushes and closes; returns 0 or -EIO.  NULL is a no-op. */
int st_gen_sink_destroy(struct st_gen_sink *sink);
uint64_t st_gen_sink_frames(const struct st_gen_sink *sink);
uint64_t st_gen_sink_bytes(const struct st_gen_sink *sink);

/* truth.c */

struct st_gen_truth;
struct st_gen_truth_stream_info {
	const char *name, *protocol, *server;
	uint16_t port;
	bool udp;
	unsigned connections, partitions;
	const struct st_gen_stream_spec *spec;
	const struct st_gen_schema *schema;
};
struct st_gen_truth *st_gen_truth_create(const struct st_gen_config *cfg);
void st_gen_truth_destroy(struct st_gen_truth *truth);
int st_gen_truth_add_stream(struct st_gen_truth *truth, const struct st_gen_truth_stream_info *info);
/* One record counted at packet time ts_ns (the write that carried it). */
int st_gen_truth_record(struct st_gen_truth *truth, unsigned stream, int64_t ts_ns,
			uint64_t key_id, size_t value_bytes, unsigned partition,
			unsigned version, uint32_t bool_bits);
void st_gen_truth_message(struct st_gen_truth *truth, unsigned stream);
/* Closes every epoch and writes the JSON document; 0 or -errno. */
int st_gen_truth_write(struct st_gen_truth *truth, FILE *out, uint64_t frames, uint64_t bytes);
/* The key string of key id (for top keys): "u<id>". */
size_t st_gen_key_format(uint64_t key_id, char *out);

/* engine.c */

struct st_gen_stats {
	uint64_t records, frames, bytes;
};
/* Runs the whole generation; 0 or -errno with a message in err. */
int st_gen_run(const struct st_gen_config *cfg, struct st_gen_sink *sink,
	       FILE *truth_out, struct st_gen_stats *stats, char *err, size_t err_size);

#endif
