/*
 * The event loop of shadowtap-gen.
 *
 * Arrivals: each stream cuts trace time into ticks; a tick gets a Poisson
 * number of records (mean = shape's rate at the tick's middle x tick
 * length), spread evenly with jitter over the tick, on microsecond
 * boundaries.  Each record picks a connection round-robin, a key (Zipf or
 * uniform rank, mapped to a key id by a fixed permutation), a partition
 * (Kafka: murmur2 of the key, as the Java client's default partitioner),
 * and a value (value.c) rendered at once into the connection's batch.
 *
 * Writes: a batch is written when it holds `batch` records, when its
 * `linger` expires (or the trace ends), or for JSONL/UDP when the next
 * record would not fit the datagram.  A Kafka write drains every partition
 * with pending records into one Produce request.
 *
 * Events (arrivals, linger deadlines, scheduled server replies and client
 * follow-ups such as PUBREL, NATS pings) run in time order.  Every packet of
 * one event is stamped base + k us, where base = max(event time, last
 * stamp), capped so that the event never leaves base's tick; so the packets
 * carrying a record all fall in the tick the truth counts it in, and stamps
 * never go backwards.  Replies are scheduled 150-1500 us after the request.
 *
 * TCP: 3-way handshake and protocol greeting at the start, FIN exchange at
 * the end, seq/ack kept per direction.  Segmentation cuts each write at the
 * MSS or at random lengths in [1, mss]; reorder swaps adjacent segments of a
 * write and dup sends a segment twice: both lossless, so the truth is the
 * same.  No segment is ever dropped.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gen/gen.h"

#define NEVER INT64_MAX

struct scheduled {
	int64_t at_ns;
	int from;               /* 0 client, 1 server */
	uint8_t *bytes;         /* owned; NULL for a pure ACK */
	size_t len;
};

struct conn {
	struct st_gen_flow flow;
	unsigned stream;
	struct st_gen_batch *batches;   /* Kafka: one per partition; else one */
	unsigned n_batches, pending;
	int64_t deadline_ns;            /* linger flush, NEVER when empty */
	int32_t next_corr;
	uint16_t next_packet_id;
	int64_t next_ping_ns;
	struct scheduled *q;            /* ring of scheduled packets, by time */
	unsigned q_head, q_len, q_cap;
};

struct stream {
	const struct st_gen_stream_spec *spec;
	struct st_gen_rate *rate;
	struct st_gen_schema *schema;
	struct st_zipf zipf;
	struct st_rng rng;
	unsigned first_conn, next_conn;
	int64_t tick_start_ns;          /* offset of the current tick */
	uint64_t tick_records, tick_done;
	int64_t next_arrival_ns;        /* absolute; NEVER after the end */
	uint64_t key_mul, key_add;      /* key id = (rank-1) * mul + add mod keys */
	uint64_t record_no;
	int64_t *log_end;               /* Kafka: next offset per partition */
};

struct engine {
	const struct st_gen_config *cfg;
	struct st_gen_sink *sink;
	struct st_gen_truth *truth;
	struct stream streams[ST_GEN_MAX_STREAMS];
	struct conn *conns;
	unsigned n_conns;
	int64_t end_ns, last_ts_ns;
	struct st_gen_buf tx;
	struct st_rng net_rng;          /* latencies, segmentation, ISNs */
	uint8_t frame[ST_GEN_FRAME_MAX];
	char value[ST_GEN_VALUE_MAX];
	/* the stamping of the event being run */
	int64_t ev_base_ns, ev_cap_ns, ev_k;
	uint64_t records;
};

/* Stamps */

static int64_t tick_end(const struct engine *e, int64_t t_ns)
{
	int64_t off = t_ns - e->cfg->start_ns;
	int64_t tick = e->cfg->tick_ns;

	return e->cfg->start_ns + (off / tick + 1) * tick;
}

static void event_begin(struct engine *e, int64_t t_ns)
{
	e->ev_base_ns = t_ns > e->last_ts_ns ? t_ns : e->last_ts_ns;
	e->ev_cap_ns = tick_end(e, e->ev_base_ns) - ST_GEN_NS_PER_US;
	e->ev_k = 0;
}

static int64_t stamp(struct engine *e)
{
	int64_t ts = e->ev_base_ns + e->ev_k++ * ST_GEN_NS_PER_US;

	if (ts > e->ev_cap_ns)
		ts = e->ev_cap_ns;
	e->last_ts_ns = ts;
	return ts;
}

static uint64_t below(struct st_rng *r, uint64_t n)
{
	return (uint64_t)(st_rng_uniform(r) * (double)n);
}

/* Packets */

static int put_frame(struct engine *e, struct conn *c, int from, uint8_t flags, uint32_t seq,
		     const uint8_t *payload, size_t len)
{
	size_t n = st_gen_frame(&c->flow, from, flags, seq, c->flow.next_seq[1 - from],
				(uint16_t)e->streams[c->stream].spec->mss, payload, len, e->frame);

	return st_gen_sink_put(e->sink, stamp(e), e->frame, n);
}

static int tcp_control(struct engine *e, struct conn *c, int from, uint8_t flags)
{
	uint32_t seq = c->flow.next_seq[from];

	if (flags & (ST_GEN_TCP_SYN | ST_GEN_TCP_FIN))
		c->flow.next_seq[from]++;
	return put_frame(e, c, from, flags, seq, NULL, 0);
}

/* Up to 256 segments of one write, from data[0]: cut, maybe reordered and
 * duplicated; returns the bytes they cover (0 on error, with *rc set). */
static size_t tcp_segments(struct engine *e, struct conn *c, int from, const uint8_t *data,
			   size_t len, int *rc)
{
	const struct st_gen_stream_spec *spec = e->streams[c->stream].spec;
	bool client = from == 0;
	uint32_t seq0 = c->flow.next_seq[from];
	size_t offs[256], lens[256], off = 0;
	unsigned order[256], n = 0;

	while (off < len && n < 256) {
		size_t seg = spec->mss;

		if (spec->split_random && client)
			seg = 1 + below(&e->net_rng, spec->mss);
		if (seg > len - off)
			seg = len - off;
		offs[n] = off;
		lens[n] = seg;
		order[n] = n;
		n++;
		off += seg;
	}
	for (unsigned i = 0; client && spec->reorder_p > 0 && i + 1 < n; i++) {
		if (st_rng_uniform(&e->net_rng) < spec->reorder_p) {
			unsigned t = order[i];

			order[i] = order[i + 1];
			order[i + 1] = t;
			i++;
		}
	}
	c->flow.next_seq[from] = seq0 + (uint32_t)off;
	for (unsigned i = 0; i < n; i++) {
		unsigned s = order[i];
		bool last = off == len && s == n - 1;
		uint8_t flags = ST_GEN_TCP_ACK | (last ? ST_GEN_TCP_PSH : 0);
		unsigned copies = 1 + (client && spec->dup_p > 0 &&
				       st_rng_uniform(&e->net_rng) < spec->dup_p);

		for (unsigned k = 0; k < copies; k++) {
			*rc = put_frame(e, c, from, flags, seq0 + (uint32_t)offs[s], data + offs[s], lens[s]);
			if (*rc)
				return 0;
		}
	}
	return off;
}

/* One write of len bytes (a datagram for UDP flows). */
static int tcp_write(struct engine *e, struct conn *c, int from, const uint8_t *data, size_t len)
{
	size_t done = 0;
	int rc = 0;

	if (c->flow.udp)
		return put_frame(e, c, from, 0, 0, data, len);
	while (done < len) {
		size_t n = tcp_segments(e, c, from, data + done, len - done, &rc);

		if (rc)
			return rc;
		done += n;
	}
	return 0;
}

/* Scheduled packets (replies and follow-ups) */

static int schedule(struct engine *e, struct conn *c, int64_t at_ns, int from,
		    const uint8_t *bytes, size_t len)
{
	struct scheduled *s;

	if (c->q_len == c->q_cap) {
		unsigned cap = c->q_cap ? 2 * c->q_cap : 16;
		struct scheduled *q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (unsigned i = 0; i < c->q_len; i++)
			q[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = q;
		c->q_cap = cap;
		c->q_head = 0;
	}
	if (at_ns <= e->last_ts_ns)
		at_ns = e->last_ts_ns + ST_GEN_NS_PER_US;
	if (c->q_len) {
		int64_t prev = c->q[(c->q_head + c->q_len - 1) % c->q_cap].at_ns;

		if (at_ns < prev)
			at_ns = prev;
	}
	s = &c->q[(c->q_head + c->q_len) % c->q_cap];
	s->at_ns = at_ns;
	s->from = from;
	s->len = len;
	s->bytes = NULL;
	if (len) {
		s->bytes = malloc(len);
		if (!s->bytes)
			return -ENOMEM;
		memcpy(s->bytes, bytes, len);
	}
	c->q_len++;
	return 0;
}

static int64_t reply_at(struct engine *e)
{
	return e->last_ts_ns + (150 + (int64_t)below(&e->net_rng, 1350)) * ST_GEN_NS_PER_US;
}

static int run_scheduled(struct engine *e, struct conn *c)
{
	struct scheduled s = c->q[c->q_head];
	int rc;

	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_len--;
	event_begin(e, s.at_ns);
	if (s.len)
		rc = tcp_write(e, c, s.from, s.bytes, s.len);
	else
		rc = tcp_control(e, c, s.from, ST_GEN_TCP_ACK);
	free(s.bytes);
	return rc;
}

/* Greeting and goodbye */

static int conn_open(struct engine *e, struct conn *c)
{
	const struct st_gen_stream_spec *spec = e->streams[c->stream].spec;
	char client_id[48];
	int rc = 0;

	event_begin(e, e->cfg->start_ns);
	if (c->flow.udp)
		return 0;
	if (tcp_control(e, c, 0, ST_GEN_TCP_SYN) ||
	    tcp_control(e, c, 1, ST_GEN_TCP_SYN | ST_GEN_TCP_ACK) ||
	    tcp_control(e, c, 0, ST_GEN_TCP_ACK))
		return -EIO;
	e->tx.len = 0;
	switch (spec->proto) {
	case ST_GEN_KAFKA:
		rc = st_gen_kafka_api_versions_request(&e->tx, c->next_corr);
		rc = rc ? rc : tcp_write(e, c, 0, e->tx.data, e->tx.len);
		e->tx.len = 0;
		rc = rc ? rc : st_gen_kafka_api_versions_response(&e->tx, c->next_corr++, spec->version);
		rc = rc ? rc : tcp_write(e, c, 1, e->tx.data, e->tx.len);
		break;
	case ST_GEN_MQTT:
		snprintf(client_id, sizeof(client_id), "shadowtap-gen-%u-%u", c->stream,
			 (unsigned)(c - e->conns) - e->streams[c->stream].first_conn);
		rc = st_gen_mqtt_connect(&e->tx, spec->version, client_id);
		rc = rc ? rc : tcp_write(e, c, 0, e->tx.data, e->tx.len);
		e->tx.len = 0;
		rc = rc ? rc : st_gen_mqtt_connack(&e->tx, spec->version);
		rc = rc ? rc : tcp_write(e, c, 1, e->tx.data, e->tx.len);
		break;
	case ST_GEN_NATS:
		rc = st_gen_nats_info(&e->tx, spec->port);
		rc = rc ? rc : tcp_write(e, c, 1, e->tx.data, e->tx.len);
		e->tx.len = 0;
		rc = rc ? rc : st_gen_nats_connect(&e->tx, spec->verbose);
		rc = rc ? rc : st_gen_put_text(&e->tx, "PING\r\n");
		rc = rc ? rc : tcp_write(e, c, 0, e->tx.data, e->tx.len);
		e->tx.len = 0;
		rc = rc ? rc : st_gen_put_text(&e->tx, spec->verbose ? "+OK\r\nPONG\r\n" : "PONG\r\n");
		rc = rc ? rc : tcp_write(e, c, 1, e->tx.data, e->tx.len);
		break;
	case ST_GEN_JSONL:
		break;
	}
	return rc;
}

static int conn_close(struct engine *e, struct conn *c)
{
	event_begin(e, e->last_ts_ns > e->end_ns ? e->last_ts_ns : e->end_ns);
	if (c->flow.udp)
		return 0;
	if (e->streams[c->stream].spec->proto == ST_GEN_MQTT) {
		e->tx.len = 0;
		if (st_gen_mqtt_disconnect(&e->tx) || tcp_write(e, c, 0, e->tx.data, e->tx.len))
			return -EIO;
	}
	if (tcp_control(e, c, 0, ST_GEN_TCP_FIN | ST_GEN_TCP_ACK) ||
	    tcp_control(e, c, 1, ST_GEN_TCP_FIN | ST_GEN_TCP_ACK) ||
	    tcp_control(e, c, 0, ST_GEN_TCP_ACK))
		return -EIO;
	return 0;
}

/* Writes */

static void batch_clear(struct st_gen_batch *b)
{
	b->n = 0;
	b->values.len = 0;
}

/* Counts the records of one batch in the truth, at the write's stamp. */
static int account(struct engine *e, struct conn *c, const struct st_gen_batch *b, unsigned partition)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct st_gen_pending *r = &b->recs[i];
		int rc = st_gen_truth_record(e->truth, c->stream, e->ev_base_ns, r->key_id, r->value_len,
					     partition, r->version, r->bool_bits);

		if (rc)
			return rc;
	}
	return 0;
}

static int flush_kafka(struct engine *e, struct conn *c, struct stream *s)
{
	const struct st_gen_stream_spec *spec = s->spec;
	struct st_gen_kafka_part stack_parts[64] = { { 0 } }, *parts = stack_parts;
	unsigned n = 0;
	int32_t corr = c->next_corr++;
	int rc;

	if (c->n_batches > 64) {
		parts = malloc(c->n_batches * sizeof(*parts));
		if (!parts)
			return -ENOMEM;
	}
	for (unsigned p = 0; p < c->n_batches; p++) {
		if (!c->batches[p].n)
			continue;
		parts[n].partition = p;
		parts[n].batch = &c->batches[p];
		parts[n].base_offset = s->log_end[p];
		s->log_end[p] += c->batches[p].n;
		n++;
	}
	e->tx.len = 0;
	rc = st_gen_kafka_produce_request(&e->tx, spec->version, corr, spec->acks, spec->name,
					  parts, n, spec->headers, &s->record_no);
	rc = rc ? rc : tcp_write(e, c, 0, e->tx.data, e->tx.len);
	for (unsigned i = 0; i < n && !rc; i++)
		rc = account(e, c, parts[i].batch, parts[i].partition);
	st_gen_truth_message(e->truth, c->stream);
	if (!rc && spec->acks != 0) {
		e->tx.len = 0;
		rc = st_gen_kafka_produce_response(&e->tx, spec->version, corr, spec->name, parts, n);
		rc = rc ? rc : schedule(e, c, reply_at(e), 1, e->tx.data, e->tx.len);
	} else if (!rc) {
		rc = schedule(e, c, reply_at(e), 1, NULL, 0);
	}
	for (unsigned i = 0; i < n; i++)
		batch_clear(&c->batches[parts[i].partition]);
	if (parts != stack_parts)
		free(parts);
	return rc;
}

static uint16_t next_packet_id(struct conn *c)
{
	if (++c->next_packet_id == 0)
		c->next_packet_id = 1;   /* MQTT packet ids are non-zero */
	return c->next_packet_id;
}

static int mqtt_acks(struct engine *e, struct conn *c, unsigned qos, uint16_t pid)
{
	uint8_t ack[4];
	int64_t at = reply_at(e);

	ack[0] = qos == 1 ? 0x40 : 0x50;   /* PUBACK, or PUBREC for QoS 2 */
	ack[1] = 2;
	ack[2] = (uint8_t)(pid >> 8);
	ack[3] = (uint8_t)pid;
	if (schedule(e, c, at, 1, ack, 4))
		return -ENOMEM;
	if (qos == 1)
		return 0;
	ack[0] = 0x62;                      /* PUBREL */
	if (schedule(e, c, at + 30 * ST_GEN_NS_PER_US, 0, ack, 4))
		return -ENOMEM;
	ack[0] = 0x70;                      /* PUBCOMP */
	return schedule(e, c, at + 30 * ST_GEN_NS_PER_US + (at - e->last_ts_ns), 1, ack, 4);
}

/* MQTT, NATS, JSONL: every record is its own message in one write. */
static int flush_messages(struct engine *e, struct conn *c, struct stream *s)
{
	const struct st_gen_stream_spec *spec = s->spec;
	struct st_gen_batch *b = &c->batches[0];
	bool replies = false;
	int rc = 0;

	e->tx.len = 0;
	for (unsigned i = 0; i < b->n && !rc; i++) {
		const struct st_gen_pending *r = &b->recs[i];
		const uint8_t *value = b->values.data + r->value_off;

		switch (spec->proto) {
		case ST_GEN_MQTT: {
			uint16_t pid = spec->qos ? next_packet_id(c) : 0;

			b->recs[i].packet_id = pid;
			rc = st_gen_mqtt_publish(&e->tx, spec->version, spec->qos, pid, spec->name,
						 value, r->value_len);
			st_gen_truth_message(e->truth, c->stream);
			break;
		}
		case ST_GEN_NATS:
			rc = st_gen_nats_pub(&e->tx, spec->name, spec->headers, s->record_no++,
					     r->key, r->key_len, value, r->value_len);
			st_gen_truth_message(e->truth, c->stream);
			break;
		default:
			rc = st_gen_buf_reserve(&e->tx, r->value_len + 1);
			if (!rc) {
				memcpy(e->tx.data + e->tx.len, value, r->value_len);
				e->tx.len += r->value_len;
				e->tx.data[e->tx.len++] = '\n';
			}
			break;
		}
	}
	if (spec->proto == ST_GEN_JSONL)
		st_gen_truth_message(e->truth, c->stream);
	rc = rc ? rc : tcp_write(e, c, 0, e->tx.data, e->tx.len);
	rc = rc ? rc : account(e, c, b, 0);
	if (!rc && spec->proto == ST_GEN_MQTT && spec->qos) {
		for (unsigned i = 0; i < b->n && !rc; i++)
			rc = mqtt_acks(e, c, spec->qos, b->recs[i].packet_id);
		replies = true;
	}
	if (!rc && spec->proto == ST_GEN_NATS && spec->verbose) {
		for (unsigned i = 0; i < b->n && !rc; i++)
			rc = schedule(e, c, reply_at(e), 1, (const uint8_t *)"+OK\r\n", 5);
		replies = true;
	}
	if (!rc && !replies && !c->flow.udp)
		rc = schedule(e, c, reply_at(e), 1, NULL, 0);
	batch_clear(b);
	return rc;
}

static int flush(struct engine *e, struct conn *c, int64_t t_ns)
{
	struct stream *s = &e->streams[c->stream];
	int rc;

	if (!c->pending)
		return 0;
	event_begin(e, t_ns);
	rc = s->spec->proto == ST_GEN_KAFKA ? flush_kafka(e, c, s) : flush_messages(e, c, s);
	c->pending = 0;
	c->deadline_ns = NEVER;
	return rc;
}

/* Arrivals */

static uint64_t poisson(struct st_rng *r, double mean)
{
	if (mean <= 0)
		return 0;
	if (mean < 30) {
		double limit = exp(-mean), p = 1;
		uint64_t k = 0;

		for (;;) {
			p *= st_rng_uniform(r);
			if (p <= limit)
				return k;
			k++;
		}
	}
	/* Normal approximation (Box-Muller) for large means. */
	double u1 = st_rng_uniform(r), u2 = st_rng_uniform(r);
	double z = sqrt(-2 * log(1 - u1)) * cos(2 * M_PI * u2);
	double k = floor(mean + sqrt(mean) * z + 0.5);

	return k < 0 ? 0 : (uint64_t)k;
}

static void next_arrival(struct engine *e, struct stream *s)
{
	const struct st_gen_config *cfg = e->cfg;

	while (s->tick_done == s->tick_records) {
		double mid_s;

		s->tick_start_ns += cfg->tick_ns;
		if (s->tick_start_ns >= cfg->duration_ns) {
			s->next_arrival_ns = NEVER;
			return;
		}
		mid_s = (double)(s->tick_start_ns + cfg->tick_ns / 2) / ST_GEN_NS_PER_S;
		s->tick_records = poisson(&s->rng, st_gen_rate_at(s->rate, mid_s) * (double)cfg->tick_ns / ST_GEN_NS_PER_S);
		s->tick_done = 0;
	}
	double frac = ((double)s->tick_done + st_rng_uniform(&s->rng)) / (double)s->tick_records;
	int64_t off = s->tick_start_ns + (int64_t)(frac * (double)cfg->tick_ns);

	off -= off % ST_GEN_NS_PER_US;
	if (off >= cfg->duration_ns)
		off = cfg->duration_ns - ST_GEN_NS_PER_US;
	s->tick_done++;
	s->next_arrival_ns = cfg->start_ns + off;
}

/* The key of a record created at trace offset off_ns. */
static uint64_t draw_key(struct stream *s, int64_t off_ns)
{
	const struct st_gen_stream_spec *spec = s->spec;
	uint64_t n = spec->keys, rank;

	if (spec->hot_at_ns >= 0 && off_ns >= spec->hot_at_ns &&
	    (double)(st_rng_next(&s->rng) >> 11) * 0x1p-53 < spec->hot_share)
		return 0;
	if (spec->explode_at_ns >= 0 && off_ns >= spec->explode_at_ns)
		return below(&s->rng, spec->explode_keys);
	if (s->spec->zipf > 0)
		rank = st_zipf_next(&s->zipf, &s->rng);
	else
		rank = 1 + below(&s->rng, n);
	if (rank > n)
		rank = n;
	return (uint64_t)(((unsigned __int128)(rank - 1) * s->key_mul + s->key_add) % n);
}

static int batch_append(struct st_gen_batch *b, const struct st_gen_pending *r, const char *value)
{
	if (b->n == b->cap) {
		unsigned cap = b->cap ? 2 * b->cap : 16;
		struct st_gen_pending *recs = realloc(b->recs, cap * sizeof(*recs));

		if (!recs)
			return -ENOMEM;
		b->recs = recs;
		b->cap = cap;
	}
	if (st_gen_buf_reserve(&b->values, r->value_len))
		return -ENOMEM;
	b->recs[b->n] = *r;
	b->recs[b->n].value_off = (uint32_t)b->values.len;
	memcpy(b->values.data + b->values.len, value, r->value_len);
	b->values.len += r->value_len;
	if (b->n++ == 0)
		b->first_ns = r->created_ns;
	return 0;
}

static int arrive(struct engine *e, struct stream *s)
{
	const struct st_gen_stream_spec *spec = s->spec;
	int64_t t = s->next_arrival_ns;
	struct conn *c = &e->conns[s->first_conn + s->next_conn];
	struct st_gen_pending r;
	struct st_gen_batch *b;
	unsigned partition = 0;
	bool full;
	int rc;

	s->next_conn = (s->next_conn + 1) % spec->conns;
	memset(&r, 0, sizeof(r));
	r.key_id = draw_key(s, t - e->cfg->start_ns);
	r.key_len = (uint8_t)st_gen_key_format(r.key_id, r.key);
	r.created_ns = t;
	r.version = (uint8_t)st_gen_schema_version_at(s->schema, t - e->cfg->start_ns);
	r.value_len = (uint32_t)st_gen_value_render(s->schema, r.version, r.key, r.key_len, t,
						    s->record_no, &s->rng, e->value, &r.bool_bits);
	if (spec->proto == ST_GEN_KAFKA)
		partition = (uint32_t)(st_gen_kafka_murmur2(r.key, r.key_len) & 0x7fffffff) % spec->partitions;
	b = &c->batches[partition];
	if (spec->proto == ST_GEN_JSONL && spec->udp && b->n &&
	    b->values.len + b->n + r.value_len + 1 > spec->dgram_bytes) {
		rc = flush(e, c, t);
		if (rc)
			return rc;
	}
	rc = batch_append(b, &r, e->value);
	if (rc)
		return rc;
	e->records++;
	if (c->pending++ == 0)
		c->deadline_ns = t + spec->linger_ns;
	full = spec->batch && b->n >= spec->batch;
	if (spec->proto == ST_GEN_JSONL && spec->udp && b->values.len + b->n >= spec->dgram_bytes)
		full = true;
	if (full || spec->linger_ns == 0)
		rc = flush(e, c, t);
	next_arrival(e, s);
	return rc;
}

/* Set-up */

static void set_addresses(struct engine *e, struct conn *c, unsigned stream, unsigned index)
{
	const struct st_gen_stream_spec *spec = e->streams[stream].spec;
	struct st_gen_flow *f = &c->flow;
	uint8_t server_host = (uint8_t)(10 * (spec->proto + 1));

	f->ipv6 = e->cfg->ipv6;
	f->udp = spec->proto == ST_GEN_JSONL && spec->udp;
	memcpy(f->mac[0], (uint8_t[]){ 0x02, 0, 0, 1, (uint8_t)stream, (uint8_t)index }, 6);
	memcpy(f->mac[1], (uint8_t[]){ 0x02, 0, 0, 0, 0, server_host }, 6);
	if (f->ipv6) {
		/* fd00::HOST (server), fd00:0:0:1::STREAM:CONN (client) */
		memcpy(f->addr[1], (uint8_t[]){ 0xfd, 0, [15] = server_host }, 16);
		memcpy(f->addr[0], (uint8_t[]){ 0xfd, 0, 0, 0, 0, 0, 0, 1, [13] = (uint8_t)stream,
						[15] = (uint8_t)(index + 1) }, 16);
	} else {
		memcpy(f->addr[1], (uint8_t[]){ 10, 0, 0, server_host }, 4);
		memcpy(f->addr[0], (uint8_t[]){ 10, 1, (uint8_t)stream, (uint8_t)(index + 1) }, 4);
	}
	f->port[0] = (uint16_t)(40000 + stream * ST_GEN_MAX_CONNS + index);
	f->port[1] = spec->port;
	f->next_seq[0] = (uint32_t)st_rng_next(&e->net_rng);
	f->next_seq[1] = (uint32_t)st_rng_next(&e->net_rng);
	f->ip_id[0] = (uint16_t)st_rng_next(&e->net_rng);
	f->ip_id[1] = (uint16_t)st_rng_next(&e->net_rng);
}

static void server_text(const struct engine *e, const struct st_gen_stream_spec *spec, char *out, size_t n)
{
	unsigned host = 10 * (spec->proto + 1);

	if (e->cfg->ipv6)
		snprintf(out, n, "fd00::%x", host);
	else
		snprintf(out, n, "10.0.0.%u", host);
}

static int stream_setup(struct engine *e, unsigned i, char *err, size_t err_size)
{
	const struct st_gen_stream_spec *spec = &e->cfg->streams[i];
	struct stream *s = &e->streams[i];
	struct st_gen_truth_stream_info info;
	char name[ST_GEN_NAME_MAX + 64], server[48];

	s->spec = spec;
	st_rng_seed(&s->rng, e->cfg->seed ^ (0x9E3779B97F4A7C15ull * (i + 1)));
	s->rate = st_gen_rate_create(spec, err, err_size);
	if (!s->rate)
		return -errno;
	s->schema = st_gen_schema_create(spec);
	if (!s->schema)
		return -ENOMEM;
	if (spec->zipf > 0 && st_zipf_init(&s->zipf, spec->zipf, spec->keys)) {
		snprintf(err, err_size, "--stream %s:%s: zipf=%g keys=%llu rejected", st_gen_proto_name(spec->proto),
			 spec->name, spec->zipf, (unsigned long long)spec->keys);
		return -EINVAL;
	}
	/* A multiplier coprime with keys makes rank -> id a permutation. */
	s->key_mul = 2654435761ull % spec->keys;
	if (s->key_mul == 0)
		s->key_mul = 1;
	for (uint64_t a = s->key_mul, b = spec->keys; ; ) {
		while (b) {
			uint64_t t = a % b;

			a = b;
			b = t;
		}
		if (a == 1)
			break;
		s->key_mul = (s->key_mul + 1) % spec->keys;
		a = s->key_mul;
		b = spec->keys;
	}
	s->key_add = st_rng_next(&s->rng) % spec->keys;
	s->log_end = calloc(spec->partitions, sizeof(*s->log_end));
	if (!s->log_end)
		return -ENOMEM;
	s->tick_start_ns = -e->cfg->tick_ns;
	next_arrival(e, s);

	server_text(e, spec, server, sizeof(server));
	if (spec->proto == ST_GEN_JSONL)
		snprintf(name, sizeof(name), e->cfg->ipv6 ? "jsonl:[%s]:%u" : "jsonl:%s:%u", server, spec->port);
	else
		snprintf(name, sizeof(name), "%s:%s", st_gen_proto_name(spec->proto), spec->name);
	memset(&info, 0, sizeof(info));
	info.name = name;
	info.protocol = st_gen_proto_name(spec->proto);
	info.server = server;
	info.port = spec->port;
	info.udp = spec->proto == ST_GEN_JSONL && spec->udp;
	info.connections = spec->conns;
	info.partitions = spec->proto == ST_GEN_KAFKA ? spec->partitions : 0;
	info.spec = spec;
	info.schema = s->schema;
	return st_gen_truth_add_stream(e->truth, &info);
}

static int conns_setup(struct engine *e)
{
	unsigned total = 0;

	for (unsigned i = 0; i < e->cfg->n_streams; i++)
		total += e->cfg->streams[i].conns;
	e->conns = calloc(total, sizeof(*e->conns));
	if (!e->conns)
		return -ENOMEM;
	for (unsigned i = 0; i < e->cfg->n_streams; i++) {
		struct stream *s = &e->streams[i];

		s->first_conn = e->n_conns;
		for (unsigned k = 0; k < s->spec->conns; k++) {
			struct conn *c = &e->conns[e->n_conns++];

			c->stream = i;
			c->n_batches = s->spec->proto == ST_GEN_KAFKA ? s->spec->partitions : 1;
			c->batches = calloc(c->n_batches, sizeof(*c->batches));
			if (!c->batches)
				return -ENOMEM;
			c->deadline_ns = NEVER;
			c->next_ping_ns = s->spec->proto == ST_GEN_NATS ? e->cfg->start_ns + s->spec->ping_ns : NEVER;
			set_addresses(e, c, i, k);
		}
	}
	return 0;
}

static void engine_free(struct engine *e)
{
	for (unsigned i = 0; i < e->n_conns; i++) {
		struct conn *c = &e->conns[i];

		for (unsigned b = 0; b < c->n_batches; b++) {
			free(c->batches[b].recs);
			st_gen_buf_free(&c->batches[b].values);
		}
		free(c->batches);
		for (unsigned k = 0; k < c->q_len; k++)
			free(c->q[(c->q_head + k) % c->q_cap].bytes);
		free(c->q);
	}
	free(e->conns);
	for (unsigned i = 0; i < e->cfg->n_streams; i++) {
		st_gen_rate_destroy(e->streams[i].rate);
		st_gen_schema_destroy(e->streams[i].schema);
		free(e->streams[i].log_end);
	}
	st_gen_buf_free(&e->tx);
	st_gen_truth_destroy(e->truth);
}

/* The loop */

enum ev_kind { EV_NONE, EV_ARRIVAL, EV_DEADLINE, EV_SCHEDULED, EV_PING };

static int run_ping(struct engine *e, struct conn *c)
{
	int rc;

	event_begin(e, c->next_ping_ns);
	c->next_ping_ns += e->streams[c->stream].spec->ping_ns;
	if (c->next_ping_ns >= e->end_ns)
		c->next_ping_ns = NEVER;
	rc = tcp_write(e, c, 0, (const uint8_t *)"PING\r\n", 6);
	return rc ? rc : schedule(e, c, reply_at(e), 1, (const uint8_t *)"PONG\r\n", 6);
}

static int loop(struct engine *e)
{
	for (;;) {
		enum ev_kind kind = EV_NONE;
		int64_t best = NEVER;
		unsigned who = 0;
		int rc;

		for (unsigned i = 0; i < e->cfg->n_streams; i++) {
			if (e->streams[i].next_arrival_ns < best) {
				best = e->streams[i].next_arrival_ns;
				kind = EV_ARRIVAL;
				who = i;
			}
		}
		for (unsigned i = 0; i < e->n_conns; i++) {
			struct conn *c = &e->conns[i];
			int64_t deadline = c->deadline_ns;

			if (deadline != NEVER && deadline >= e->end_ns)
				deadline = e->end_ns - ST_GEN_NS_PER_US;
			if (deadline < best) {
				best = deadline;
				kind = EV_DEADLINE;
				who = i;
			}
			if (c->q_len && c->q[c->q_head].at_ns < best) {
				best = c->q[c->q_head].at_ns;
				kind = EV_SCHEDULED;
				who = i;
			}
			if (c->next_ping_ns < best) {
				best = c->next_ping_ns;
				kind = EV_PING;
				who = i;
			}
		}
		switch (kind) {
		case EV_ARRIVAL:
			rc = arrive(e, &e->streams[who]);
			break;
		case EV_DEADLINE:
			rc = flush(e, &e->conns[who], best);
			break;
		case EV_SCHEDULED:
			rc = run_scheduled(e, &e->conns[who]);
			break;
		case EV_PING:
			rc = run_ping(e, &e->conns[who]);
			break;
		case EV_NONE:
		default:
			return 0;
		}
		if (rc)
			return rc;
	}
}

int st_gen_run(const struct st_gen_config *cfg, struct st_gen_sink *sink, FILE *truth_out,
	       struct st_gen_stats *stats, char *err, size_t err_size)
{
	struct engine *e = calloc(1, sizeof(*e));
	int rc = -ENOMEM;

	if (!e) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	e->cfg = cfg;
	e->sink = sink;
	e->end_ns = cfg->start_ns + cfg->duration_ns;
	e->last_ts_ns = cfg->start_ns;
	st_rng_seed(&e->net_rng, cfg->seed ^ 0x5bd1e9955bd1e995ull);
	e->truth = st_gen_truth_create(cfg);
	if (!e->truth)
		goto out_free;
	snprintf(err, err_size, "out of memory");
	for (unsigned i = 0; i < cfg->n_streams; i++) {
		rc = stream_setup(e, i, err, err_size);
		if (rc)
			goto out_free;
	}
	rc = conns_setup(e);
	for (unsigned i = 0; i < e->n_conns && !rc; i++)
		rc = conn_open(e, &e->conns[i]);
	rc = rc ? rc : loop(e);
	for (unsigned i = 0; i < e->n_conns && !rc; i++)
		rc = conn_close(e, &e->conns[i]);
	if (rc) {
		if (rc == -EIO)
			snprintf(err, err_size, "writing packets failed");
		else if (rc == -ERANGE)
			snprintf(err, err_size, "internal error: a record outside the trace's epochs");
		goto out_free;
	}
	stats->records = e->records;
	stats->frames = st_gen_sink_frames(sink);
	stats->bytes = st_gen_sink_bytes(sink);
	rc = 0;
	if (truth_out) {
		rc = st_gen_truth_write(e->truth, truth_out, stats->frames, stats->bytes);
		if (rc)
			snprintf(err, err_size, "writing the truth failed");
	}
out_free:
	engine_free(e);
	free(e);
	return rc;
}
