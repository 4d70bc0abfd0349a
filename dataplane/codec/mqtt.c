/*
 * MQTT codec: PUBLISH packets of MQTT 3.1 / 3.1.1 (OASIS Standard 2014) and
 * MQTT 5.0 (OASIS Standard 2019) become records (toward the broker) or
 * egress counts (from the broker); every other packet type is passed over
 * by its length.  The interface and the carry contract are codec.h's.
 *
 * Framing (3.1.1 §2.2, 5.0 §2.1): a fixed header byte (type << 4 | flags),
 * then the Remaining Length, a Variable Byte Integer of 1-4 bytes, 7 bits
 * each, least significant first, at most 268,435,455 (3.1.1 §2.2.3, 5.0
 * §1.5.5); a fourth byte with its continuation bit set is malformed.  The
 * flags must be 0 except PUBLISH (DUP, QoS, RETAIN; QoS 3 is malformed,
 * 3.1.1 §3.3.1.2) and PUBREL / SUBSCRIBE / UNSUBSCRIBE (0b0010, §2.2.2).
 *
 * PUBLISH (3.1.1 §3.3, 5.0 §3.3): Topic Name (2-byte length + UTF-8), a
 * Packet Identifier when QoS > 0, in 5.0 a property block (Variable Byte
 * Integer length, then properties, §3.3.2.3), and the payload to the end
 * of the packet.  The record's stream is the topic, its value the payload;
 * it carries no key (key fields come from the JSON value later).  Of the
 * properties only Topic Alias (0x23, §3.3.2.3.4) is read: a PUBLISH with an
 * empty topic and an alias names its topic by an earlier PUBLISH of the
 * flow.  Events may only point into the bytes fed, so this codec keeps no
 * alias table: such a PUBLISH is counted (topic_alias_unresolved) and
 * produces no event.
 *
 * Protocol level.  CONNECT (§3.1.2.1-2) carries the protocol name ("MQTT",
 * or "MQIsdp" for 3.1) and level (3, 4 = 3.1.1, 5 = 5.0); the flow keeps it
 * because only 5.0 PUBLISH has properties.  When the capture began after
 * the CONNECT, the level is inferred:
 *   - a CONNACK with Remaining Length 2 says 3.1.1 (5.0 adds a property
 *     length byte, so its CONNACK is at least 3 bytes); longer says 5.0;
 *   - acknowledgements longer than 2 bytes, a DISCONNECT with a body, or an
 *     AUTH packet exist only in 5.0;
 *   - until one of those is seen, each PUBLISH is read as 5.0 when the
 *     bytes after its topic (and packet id) form a non-empty, well-formed
 *     PUBLISH property block that fits the packet, else as 3.1.1.  A 5.0
 *     PUBLISH with an empty property block is then read as 3.1.1 and its
 *     value carries one leading zero byte: the price of the guess.
 * A CONNECT always wins over an inference.
 *
 * Large packets.  A packet that fits ST_CODEC_HOLD_MAX is parsed whole
 * (bytes not yet here are left to the caller's carry).  A larger PUBLISH is
 * parsed once ST_CODEC_HOLD_MAX bytes of it are offered: the record carries
 * the value's first bytes up to that window, ST_REC_F_VALUE_TRUNCATED and
 * the true value_bytes, and the rest streams past in this state.  Other
 * packet types need at most their first 16 bytes.
 *
 * Latency.  A QoS 1 PUBLISH waits for a PUBACK, a QoS 2 PUBLISH for a
 * PUBREC (§4.3), with the same Packet Identifier in the other direction of
 * the flow; a match is an st_latency (api_key -1, api_version the protocol
 * level, 0 when unknown, correlation_id the packet id).  Each direction
 * keeps MQTT_PENDING outstanding PUBLISHes; when full the oldest is pushed
 * out, and both that and an acknowledgement without a pending PUBLISH
 * count in latency_unmatched.
 *
 * Resync, after gap() or a malformed packet, scans byte by byte for a
 * plausible fixed header:
 *   - a defined type with the flags §2.2.2 requires (AUTH only when the
 *     level is not known to be 3.x), QoS < 3, no DUP on QoS 0 (§3.3.1.1);
 *   - a minimally encoded Remaining Length that suits the type: 0 for
 *     PINGREQ/PINGRESP; for acknowledgements (CONNACK, PUBACK ... UNSUBACK,
 *     DISCONNECT, AUTH) the 3.1.1 size, or, unless the level is known to
 *     be 3.x, a 5.0 reason code and a property block that fills the packet
 *     exactly; a CONNACK's flags and 3.1.1 return code in range; a CONNECT
 *     with the protocol name and a known level; at most RESYNC_CONTROL_MAX
 *     bytes for SUBSCRIBE/SUBACK/UNSUBSCRIBE; a non-zero Packet Identifier
 *     where one is required;
 *   - for PUBLISH, a topic of 1..RESYNC_TOPIC_MAX bytes inside the
 *     Remaining Length, of printable ASCII or UTF-8 bytes without the
 *     wildcards + and # (§4.7.1);
 *   - the byte after the candidate packet is a valid fixed header byte
 *     too; when the packet ends within RESYNC_LOOKAHEAD bytes the resync
 *     waits for that byte, beyond it the candidate is taken unchecked.
 * Bytes passed over count in skipped_bytes; each resync counts once.
 *
 * State: struct mqtt_flow, well under ST_CODEC_STATE_MAX.
 */
#include <string.h>

#include "dataplane/codec/codec.h"
#include "dataplane/compiler.h"

#define MQTT_PENDING 16            /* outstanding QoS > 0 PUBLISHes per direction */
#define RESYNC_TOPIC_MAX 1024u     /* longest topic a resync believes */
#define RESYNC_CONTROL_MAX 65536u  /* longest non-PUBLISH packet a resync believes */
/* Bytes a resync candidate may need: header, topic, packet id, next byte. */
#define RESYNC_LOOKAHEAD (5u + 2u + RESYNC_TOPIC_MAX + 2u + 1u)
#define CONTROL_HEAD_BYTES 16u     /* bytes of a non-PUBLISH packet read */

_Static_assert(RESYNC_LOOKAHEAD < ST_CODEC_HOLD_MAX, "resync must fit the carry");

enum mqtt_type {
	MQTT_RESERVED = 0,
	MQTT_CONNECT,
	MQTT_CONNACK,
	MQTT_PUBLISH,
	MQTT_PUBACK,
	MQTT_PUBREC,
	MQTT_PUBREL,
	MQTT_PUBCOMP,
	MQTT_SUBSCRIBE,
	MQTT_SUBACK,
	MQTT_UNSUBSCRIBE,
	MQTT_UNSUBACK,
	MQTT_PINGREQ,
	MQTT_PINGRESP,
	MQTT_DISCONNECT,
	MQTT_AUTH,
};

enum mqtt_error {
	MQTT_E_RESERVED_TYPE,
	MQTT_E_BAD_FLAGS,
	MQTT_E_QOS3,
	MQTT_E_BAD_REMAINING_LENGTH,
	MQTT_E_TOPIC_PAST_END,
	MQTT_E_EMPTY_TOPIC,
	MQTT_E_SHORT_PACKET,
	MQTT_E_BAD_PROPERTIES,
	MQTT_E_TOPIC_ALIAS_UNRESOLVED,
	MQTT_E_HEAD_TOO_LONG,
	MQTT_E_UNKNOWN_PROTOCOL,
	MQTT_E__COUNT
};

static const char *const mqtt_error_names[MQTT_E__COUNT] = {
	[MQTT_E_RESERVED_TYPE] = "reserved_packet_type",
	[MQTT_E_BAD_FLAGS] = "bad_fixed_header_flags",
	[MQTT_E_QOS3] = "qos_3",
	[MQTT_E_BAD_REMAINING_LENGTH] = "bad_remaining_length",
	[MQTT_E_TOPIC_PAST_END] = "topic_past_end",
	[MQTT_E_EMPTY_TOPIC] = "empty_topic",
	[MQTT_E_SHORT_PACKET] = "short_packet",
	[MQTT_E_BAD_PROPERTIES] = "bad_properties",
	[MQTT_E_TOPIC_ALIAS_UNRESOLVED] = "topic_alias_unresolved",
	[MQTT_E_HEAD_TOO_LONG] = "publish_head_too_long",
	[MQTT_E_UNKNOWN_PROTOCOL] = "unknown_protocol",
};

_Static_assert(MQTT_E__COUNT <= ST_CODEC_ERRORS_MAX, "too many error names");

enum mqtt_mode {
	MODE_PACKET = 0,   /* at a fixed header */
	MODE_SKIP,         /* streaming past the rest of a packet */
	MODE_RESYNC,       /* looking for a plausible fixed header */
};

enum mqtt_level_source {
	LEVEL_UNKNOWN = 0,
	LEVEL_INFERRED,
	LEVEL_FROM_CONNECT,
};

struct mqtt_pending {
	uint64_t request_ns;
	uint32_t seq;              /* insertion order, for pushing out the oldest */
	uint16_t packet_id;
	uint8_t ack_type;          /* PUBACK or PUBREC */
	uint8_t used;
};

struct mqtt_dir {
	uint32_t skip_left_bytes;
	uint32_t next_seq;
	uint8_t mode;              /* enum mqtt_mode */
	struct mqtt_pending pending[MQTT_PENDING];  /* PUBLISHes sent this way */
};

struct mqtt_flow {
	uint8_t level;             /* 3, 4, 5; 0 unknown */
	uint8_t level_source;      /* enum mqtt_level_source */
	struct mqtt_dir dir[2];
};

_Static_assert(sizeof(struct mqtt_flow) <= ST_CODEC_STATE_MAX, "state too big");

/* What parsing one unit did. */
enum step {
	STEP_DONE,        /* *used bytes consumed */
	STEP_NEED_MORE,   /* leave the bytes from here to the carry */
};

static void mqtt_init(void *state)
{
	memset(state, 0, sizeof(struct mqtt_flow));
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * A Variable Byte Integer at p (avail bytes there).  Returns its length
 * 1..4, 0 when more bytes are needed, -1 when a fourth byte continues.
 */
static int varint(const uint8_t *p, size_t avail, uint32_t *value)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < 4; i++) {
		if (i >= avail)
			return 0;
		v |= (uint32_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*value = v;
			return (int)i + 1;
		}
	}
	return -1;
}

static bool level_is_3x(const struct mqtt_flow *fl)
{
	return fl->level == 3 || fl->level == 4;
}

/* Fixed header byte check (3.1.1 §2.2.1-2); the error it breaks, or -1. */
static int header_error(const struct mqtt_flow *fl, uint8_t b0)
{
	unsigned type = b0 >> 4, flags = b0 & 15;

	if (type == MQTT_RESERVED || (type == MQTT_AUTH && level_is_3x(fl)))
		return MQTT_E_RESERVED_TYPE;
	switch (type) {
	case MQTT_PUBLISH:
		return ((flags >> 1) & 3) == 3 ? MQTT_E_QOS3 : -1;
	case MQTT_PUBREL:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		return flags == 2 ? -1 : MQTT_E_BAD_FLAGS;
	default:
		return flags == 0 ? -1 : MQTT_E_BAD_FLAGS;
	}
}

static void infer_level(struct mqtt_flow *fl, uint8_t level)
{
	if (fl->level_source == LEVEL_FROM_CONNECT)
		return;
	fl->level = level;
	fl->level_source = LEVEL_INFERRED;
}

/*
 * Walks a PUBLISH property block (5.0 §3.3.2.3).  Returns false when a
 * property is not one PUBLISH may carry or runs past the block; sets
 * *alias to the Topic Alias (0 when absent).
 */
static bool walk_properties(const uint8_t *p, uint32_t len, uint16_t *alias)
{
	uint32_t i = 0, n;

	*alias = 0;
	while (i < len) {
		uint8_t id = p[i++];
		int vn;

		switch (id) {
		case 0x01:  /* Payload Format Indicator: byte */
			n = 1;
			break;
		case 0x02:  /* Message Expiry Interval: four byte integer */
			n = 4;
			break;
		case 0x23:  /* Topic Alias: two byte integer */
			if (len - i < 2)
				return false;
			*alias = be16(p + i);
			n = 2;
			break;
		case 0x03:  /* Content Type: UTF-8 string */
		case 0x08:  /* Response Topic: UTF-8 string */
		case 0x09:  /* Correlation Data: binary data */
			if (len - i < 2)
				return false;
			n = 2u + be16(p + i);
			break;
		case 0x26:  /* User Property: string pair */
			if (len - i < 2 || len - i - 2 < be16(p + i) + 2u)
				return false;
			n = 2u + be16(p + i);
			n += 2u + be16(p + i + n);
			break;
		case 0x0b:  /* Subscription Identifier: variable byte integer */
			vn = varint(p + i, len - i, &n);
			if (vn <= 0)
				return false;
			n = (uint32_t)vn;
			break;
		default:
			return false;
		}
		if (len - i < n)
			return false;
		i += n;
	}
	return true;
}

/* The unknown-level guess: a non-empty, well-formed property block. */
static bool looks_like_properties(const uint8_t *p, size_t avail,
				  size_t rest_of_packet)
{
	uint32_t plen;
	uint16_t alias;
	int n = varint(p, ST_MIN(avail, rest_of_packet), &plen);

	if (n <= 0 || plen == 0 || plen > rest_of_packet - (size_t)n ||
	    plen > avail - (size_t)n)
		return false;
	return walk_properties(p + n, plen, &alias);
}

/* Enters resync at a malformed packet: its first byte is passed over. */
static enum step malformed(struct mqtt_dir *d, struct st_codec_stats *stats,
			   enum mqtt_error e, size_t *used)
{
	stats->errors[e]++;
	stats->resyncs++;
	stats->skipped_bytes++;
	d->mode = MODE_RESYNC;
	*used = 1;
	return STEP_DONE;
}

/* Consumes `window` bytes of a packet of `total` and streams the rest. */
static enum step pass_packet(struct mqtt_dir *d, size_t total, size_t window,
			     size_t *used)
{
	*used = window;
	if (total > window) {
		d->skip_left_bytes = (uint32_t)(total - window);
		d->mode = MODE_SKIP;
	}
	return STEP_DONE;
}

static void pending_add(struct mqtt_dir *d, uint16_t packet_id, uint8_t ack_type,
			uint64_t ts_ns, struct st_codec_stats *stats)
{
	struct mqtt_pending *slot = NULL;

	for (unsigned i = 0; i < MQTT_PENDING; i++) {
		struct mqtt_pending *e = &d->pending[i];

		if (e->used && e->packet_id == packet_id) {
			slot = e;  /* a retransmission (DUP) replaces it */
			break;
		}
		if (!e->used && !slot)
			slot = e;
	}
	if (!slot) {
		slot = &d->pending[0];
		for (unsigned i = 1; i < MQTT_PENDING; i++)
			if (d->pending[i].seq - d->next_seq <
			    slot->seq - d->next_seq)
				slot = &d->pending[i];
		stats->latency_unmatched++;
	}
	slot->used = 1;
	slot->packet_id = packet_id;
	slot->ack_type = ack_type;
	slot->request_ns = ts_ns;
	slot->seq = d->next_seq++;
}

/* An acknowledgement sent in `dir` answers a PUBLISH sent the other way. */
static void pending_match(struct mqtt_flow *fl, enum st_dir dir, uint8_t type,
			  uint16_t packet_id, uint64_t ts_ns,
			  const struct st_codec_sink *sink,
			  struct st_codec_stats *stats)
{
	struct mqtt_dir *req = &fl->dir[dir == ST_DIR_TO_SERVER ?
					ST_DIR_TO_CLIENT : ST_DIR_TO_SERVER];

	for (unsigned i = 0; i < MQTT_PENDING; i++) {
		struct mqtt_pending *e = &req->pending[i];
		struct st_latency l;

		if (!e->used || e->packet_id != packet_id || e->ack_type != type)
			continue;
		memset(&l, 0, sizeof(l));
		l.proto = ST_PROTO_MQTT;
		l.api_key = -1;
		l.api_version = fl->level;
		l.correlation_id = packet_id;
		l.request_ns = e->request_ns;
		l.response_ns = ts_ns;
		e->used = 0;
		sink->latency(sink->ctx, &l);
		return;
	}
	stats->latency_unmatched++;
}

/* Minimum Remaining Length of a non-PUBLISH packet (3.1.1 §3.1-3.14). */
static uint32_t control_min_length(unsigned type)
{
	switch (type) {
	case MQTT_CONNECT:
		return 10;  /* name (6), level, flags, keep alive */
	case MQTT_SUBACK:
		return 3;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		return 0;
	default:
		return 2;   /* a packet identifier, or CONNACK's two bytes */
	}
}

/* Level from a CONNECT variable header (8 bytes available); 0 unknown. */
static uint8_t connect_level(const uint8_t *v)
{
	if (be16(v) == 4 && memcmp(v + 2, "MQTT", 4) == 0)
		return v[6];
	if (be16(v) == 6 && memcmp(v + 2, "MQIsdp", 6) == 0)
		return v[8];
	return 0;
}

static enum step control_packet(struct mqtt_flow *fl, enum st_dir dir,
				const uint8_t *p, size_t avail, size_t hdr,
				uint32_t rl, uint64_t ts_ns,
				const struct st_codec_sink *sink,
				struct st_codec_stats *stats, size_t *used)
{
	struct mqtt_dir *d = &fl->dir[dir];
	unsigned type = p[0] >> 4;
	size_t total = hdr + rl;
	size_t need = ST_MIN(total, hdr + CONTROL_HEAD_BYTES);
	uint8_t level;

	if (avail < need)
		return STEP_NEED_MORE;
	if (rl < control_min_length(type) ||
	    (rl > 0 && (type == MQTT_PINGREQ || type == MQTT_PINGRESP)))
		return malformed(d, stats, MQTT_E_SHORT_PACKET, used);

	switch (type) {
	case MQTT_CONNECT:
		level = connect_level(p + hdr);
		if (level >= 3 && level <= 5) {
			fl->level = level;
			fl->level_source = LEVEL_FROM_CONNECT;
		} else {
			stats->errors[MQTT_E_UNKNOWN_PROTOCOL]++;
		}
		break;
	case MQTT_CONNACK:
		infer_level(fl, rl == 2 ? 4 : 5);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
		if (rl > 2)
			infer_level(fl, 5);
		pending_match(fl, dir, (uint8_t)type, be16(p + hdr), ts_ns, sink, stats);
		break;
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		if (rl > 2)
			infer_level(fl, 5);
		break;
	case MQTT_DISCONNECT:
		if (rl > 0)
			infer_level(fl, 5);
		break;
	case MQTT_AUTH:
		infer_level(fl, 5);
		break;
	default:
		break;
	}
	stats->units[dir]++;
	stats->skipped_bytes += need;
	return pass_packet(d, total, need, used);
}

static void emit_publish(enum st_dir dir,
			 const uint8_t *topic, uint16_t topic_len,
			 unsigned qos, uint16_t packet_id,
			 const uint8_t *value, size_t value_len, size_t value_bytes,
			 uint64_t ts_ns, const struct st_codec_sink *sink,
			 struct st_codec_stats *stats)
{
	struct st_record r;

	memset(&r, 0, sizeof(r));
	r.proto = ST_PROTO_MQTT;
	r.qos = (uint8_t)qos;
	r.partition = -1;
	r.count = 1;
	r.packet_id = packet_id;
	r.stream = topic;
	r.stream_len = topic_len;
	r.value = value;
	r.value_len = (uint32_t)value_len;
	r.value_bytes = (uint32_t)value_bytes;
	r.ts_ns = ts_ns;
	if (value_len < value_bytes) {
		r.flags |= ST_REC_F_VALUE_TRUNCATED;
		stats->truncated_values++;
	}
	if (dir == ST_DIR_TO_SERVER) {
		r.kind = ST_REC_RECORD;
		stats->records++;
	} else {
		r.kind = ST_REC_EGRESS;
		stats->egress_records++;
	}
	sink->record(sink->ctx, &r);
}

/*
 * PUBLISH (3.1.1 §3.3, 5.0 §3.3).  Parsed once min(total, HOLD_MAX) bytes
 * of it are here: `window` bytes, every one of them readable.
 */
static enum step publish_packet(struct mqtt_flow *fl, enum st_dir dir,
				const uint8_t *p, size_t avail, size_t hdr,
				uint32_t rl, uint64_t ts_ns,
				const struct st_codec_sink *sink,
				struct st_codec_stats *stats, size_t *used)
{
	struct mqtt_dir *d = &fl->dir[dir];
	unsigned qos = (p[0] >> 1) & 3;
	size_t total = hdr + rl, window, pos;
	uint16_t topic_len, packet_id = 0, alias = 0;
	bool v5;

	if (rl < 2)
		return malformed(d, stats, MQTT_E_TOPIC_PAST_END, used);
	if (avail < hdr + 2)
		return STEP_NEED_MORE;
	topic_len = be16(p + hdr);
	if (2u + topic_len + (qos ? 2u : 0u) > rl)
		return malformed(d, stats, MQTT_E_TOPIC_PAST_END, used);
	window = ST_MIN(total, (size_t)ST_CODEC_HOLD_MAX);
	if (avail < window)
		return STEP_NEED_MORE;

	stats->units[dir]++;
	pos = hdr + 2u + topic_len;
	if (pos + (qos ? 2u : 0u) > window)
		goto head_too_long;
	if (qos) {
		packet_id = be16(p + pos);
		pos += 2;
	}
	v5 = fl->level == 5 ||
	     (fl->level_source == LEVEL_UNKNOWN &&
	      looks_like_properties(p + pos, window - pos, total - pos));
	if (v5) {
		uint32_t plen;
		int n = varint(p + pos, window - pos, &plen);

		if (n == 0 && window < total)
			goto head_too_long;
		if (n <= 0 || plen > total - pos - (size_t)n) {
			stats->units[dir]--;
			return malformed(d, stats, MQTT_E_BAD_PROPERTIES, used);
		}
		pos += (size_t)n;
		if (pos + plen > window)
			goto head_too_long;
		if (!walk_properties(p + pos, plen, &alias))
			stats->errors[MQTT_E_BAD_PROPERTIES]++;
		pos += plen;
	}
	if (qos)
		pending_add(d, packet_id, qos == 1 ? MQTT_PUBACK : MQTT_PUBREC,
			    ts_ns, stats);
	if (topic_len == 0) {
		stats->errors[alias ? MQTT_E_TOPIC_ALIAS_UNRESOLVED :
			      MQTT_E_EMPTY_TOPIC]++;
		stats->skipped_bytes += window;
		return pass_packet(d, total, window, used);
	}
	emit_publish(dir, p + hdr + 2, topic_len, qos, packet_id,
		     p + pos, window - pos, total - pos, ts_ns, sink, stats);
	return pass_packet(d, total, window, used);

head_too_long:
	stats->errors[MQTT_E_HEAD_TOO_LONG]++;
	stats->skipped_bytes += window;
	return pass_packet(d, total, window, used);
}

static enum step packet(struct mqtt_flow *fl, enum st_dir dir,
			const uint8_t *p, size_t avail, uint64_t ts_ns,
			const struct st_codec_sink *sink,
			struct st_codec_stats *stats, size_t *used)
{
	struct mqtt_dir *d = &fl->dir[dir];
	uint32_t rl;
	int e, n;

	if (avail < 2)
		return STEP_NEED_MORE;
	e = header_error(fl, p[0]);
	if (e >= 0)
		return malformed(d, stats, (enum mqtt_error)e, used);
	n = varint(p + 1, avail - 1, &rl);
	if (n == 0)
		return STEP_NEED_MORE;
	if (n < 0)
		return malformed(d, stats, MQTT_E_BAD_REMAINING_LENGTH, used);
	if ((p[0] >> 4) == MQTT_PUBLISH)
		return publish_packet(fl, dir, p, avail, 1u + (size_t)n, rl,
				      ts_ns, sink, stats, used);
	return control_packet(fl, dir, p, avail, 1u + (size_t)n, rl, ts_ns,
			      sink, stats, used);
}

/* ---- resync ---- */

enum verdict { NO, YES, NEED_MORE };

static bool topic_byte_ok(uint8_t c)
{
	return (c >= 0x20 && c < 0x7f && c != '+' && c != '#') || c >= 0x80;
}

static enum verdict plausible_publish(const uint8_t *p, size_t avail,
				      size_t hdr, uint32_t rl)
{
	unsigned qos = (p[0] >> 1) & 3;
	size_t need, tl;

	if (qos == 0 && (p[0] & 0x08))
		return NO;  /* DUP on QoS 0, §3.3.1.1 */
	if (avail < hdr + 2)
		return NEED_MORE;
	tl = be16(p + hdr);
	if (tl == 0 || tl > RESYNC_TOPIC_MAX || 2u + tl + (qos ? 2u : 0u) > rl)
		return NO;
	need = hdr + 2 + tl + (qos ? 2u : 0u);
	if (avail < need)
		return NEED_MORE;
	for (size_t i = 0; i < tl; i++)
		if (!topic_byte_ok(p[hdr + 2 + i]))
			return NO;
	if (qos && be16(p + hdr + 2 + tl) == 0)
		return NO;
	return YES;
}

/*
 * A 5.0 acknowledgement's tail after its `fixed` bytes: nothing, a reason
 * code alone (when `reason`), or a reason code and a property block whose
 * length fills the Remaining Length exactly (5.0 §3.2.2, §3.4.2, §3.14.2).
 */
static enum verdict tail_fits(const uint8_t *v, size_t avail, uint32_t rl,
			      uint32_t fixed, bool reason)
{
	uint32_t at = fixed + (reason ? 1u : 0u), plen;
	int n;

	if (rl == fixed || (reason && rl == at))
		return YES;
	if (rl <= at)
		return NO;
	if (avail <= at)
		return NEED_MORE;
	n = varint(v + at, ST_MIN(avail, (size_t)rl) - at, &plen);
	if (n == 0)
		return avail >= rl ? NO : NEED_MORE;
	if (n < 0)
		return NO;
	return (uint64_t)at + (uint32_t)n + plen == rl ? YES : NO;
}

static enum verdict plausible_control(const struct mqtt_flow *fl,
				      const uint8_t *p, size_t avail,
				      size_t hdr, uint32_t rl)
{
	unsigned type = p[0] >> 4;
	bool v3 = level_is_3x(fl);
	uint8_t level;

	switch (type) {
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		return rl == 0 ? YES : NO;
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		if (v3)
			return rl == 0 ? YES : NO;
		return tail_fits(p + hdr, avail - hdr, rl, 0, true);
	case MQTT_CONNACK:
		if (rl < 2)
			return NO;
		if (avail < hdr + 2)
			return NEED_MORE;
		if (p[hdr] > 1)
			return NO;   /* acknowledge flags: session present only */
		if (rl == 2)
			return p[hdr + 1] <= 5 ? YES : NO;  /* 3.1.1 return codes */
		return v3 ? NO : tail_fits(p + hdr, avail - hdr, rl, 2, false);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		if (rl < 2 || (v3 && rl != 2))
			return NO;
		if (avail < hdr + 2)
			return NEED_MORE;
		if (be16(p + hdr) == 0)
			return NO;
		return tail_fits(p + hdr, avail - hdr, rl, 2, type != MQTT_UNSUBACK);
	case MQTT_CONNECT:
		if (rl < 10 || rl > RESYNC_CONTROL_MAX)
			return NO;
		if (avail < hdr + 9)
			return NEED_MORE;
		level = connect_level(p + hdr);
		return level >= 3 && level <= 5 ? YES : NO;
	default:  /* SUBSCRIBE, SUBACK, UNSUBSCRIBE */
		if (rl < 3 || rl > RESYNC_CONTROL_MAX)
			return NO;
		if (avail < hdr + 2)
			return NEED_MORE;
		return be16(p + hdr) != 0 ? YES : NO;  /* packet identifier */
	}
}

static enum verdict plausible(const struct mqtt_flow *fl, const uint8_t *p,
			      size_t avail)
{
	enum verdict v;
	uint32_t rl;
	size_t hdr, end;
	int n;

	if (avail < 2)
		return NEED_MORE;
	if (header_error(fl, p[0]) >= 0)
		return NO;
	n = varint(p + 1, avail - 1, &rl);
	if (n == 0)
		return NEED_MORE;
	if (n < 0 || (n > 1 && p[n] == 0))
		return NO;  /* not minimally encoded: 5.0 §1.5.5 */
	hdr = 1u + (size_t)n;
	if ((p[0] >> 4) == MQTT_PUBLISH)
		v = plausible_publish(p, avail, hdr, rl);
	else
		v = plausible_control(fl, p, avail, hdr, rl);
	if (v != YES)
		return v;
	/* the next fixed header: checked when near enough to wait for */
	end = hdr + rl;
	if (end < avail)
		return header_error(fl, p[end]) < 0 ? YES : NO;
	return end < RESYNC_LOOKAHEAD ? NEED_MORE : YES;
}

/* Bytes from `off` passed over before a plausible header (or all of them). */
static enum step resync(struct mqtt_flow *fl, enum st_dir dir,
			const uint8_t *data, size_t len, size_t off,
			struct st_codec_stats *stats, size_t *used)
{
	size_t q;

	for (q = off; q < len; q++) {
		enum verdict v = plausible(fl, data + q, len - q);

		if (v == NO)
			continue;
		stats->skipped_bytes += q - off;
		*used = q - off;
		if (v == YES) {
			fl->dir[dir].mode = MODE_PACKET;
			return STEP_DONE;
		}
		return STEP_NEED_MORE;
	}
	stats->skipped_bytes += len - off;
	*used = len - off;
	return STEP_DONE;
}

static size_t mqtt_feed(void *state, enum st_dir dir, const uint8_t *data,
			size_t len, uint64_t ts_ns,
			const struct st_codec_sink *sink,
			struct st_codec_stats *stats)
{
	struct mqtt_flow *fl = state;
	struct mqtt_dir *d = &fl->dir[dir];
	size_t off = 0, used = 0;
	enum step s;

	while (off < len) {
		switch (d->mode) {
		case MODE_SKIP:
			used = ST_MIN((size_t)d->skip_left_bytes, len - off);
			d->skip_left_bytes -= (uint32_t)used;
			stats->skipped_bytes += used;
			if (d->skip_left_bytes == 0)
				d->mode = MODE_PACKET;
			s = STEP_DONE;
			break;
		case MODE_RESYNC:
			s = resync(fl, dir, data, len, off, stats, &used);
			break;
		default:
			used = 0;
			s = packet(fl, dir, data + off, len - off, ts_ns, sink,
				   stats, &used);
			break;
		}
		off += used;
		if (s == STEP_NEED_MORE)
			break;
	}
	return off;
}

static void mqtt_gap(void *state, enum st_dir dir, struct st_codec_stats *stats)
{
	struct mqtt_flow *fl = state;

	fl->dir[dir].mode = MODE_RESYNC;
	fl->dir[dir].skip_left_bytes = 0;
	stats->resyncs++;
}

const struct st_codec st_codec_mqtt = {
	.proto = ST_PROTO_MQTT,
	.name = "mqtt",
	.state_bytes = sizeof(struct mqtt_flow),
	.init = mqtt_init,
	.feed = mqtt_feed,
	.gap = mqtt_gap,
	.datagram = NULL,
	.error_names = mqtt_error_names,
	.n_errors = MQTT_E__COUNT,
};
