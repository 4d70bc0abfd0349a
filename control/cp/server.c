/*
 * shadowtap-cp's control socket (shadowtap/ctl.h): a UNIX stream socket,
 * non-blocking, served from the daemon's one epoll loop (cp.h).
 *
 * Taking the socket.  A lock file "<path>.lock" (flock, held for the
 * daemon's life) decides who owns the path: a second daemon that cannot
 * take the lock refuses to start, and with the lock held any socket left at
 * the path is a dead daemon's (it is removed, unless it is not a socket).
 * The socket is bound under a temporary name with umask 0117 (so it is born
 * 0660), listens, and is then renamed over the path: a client never finds
 * the path without a listener behind it.
 *
 * Bounds, against a hostile or broken client:
 *   - at most CONNS_MAX connections; one more is told so and closed;
 *   - input: one fixed buffer per connection, a header and the largest
 *     request body; a header that cannot be trusted or announces more is
 *     answered with an ERROR and the connection closed;
 *   - output: one response at a time, at most a header and
 *     ST_CTL_RESPONSE_BODY_MAX; no request is read while it is pending; a
 *     follower's pushes beyond FOLLOW_BACKLOG_MAX are dropped and counted;
 *   - time: a connection that has a partial request, or output it does not
 *     take, or no follow, and made no progress for ST_CTL_IDLE_TIMEOUT_S is
 *     closed.
 * Memory per connection is therefore at most about 8.3 MiB while a large
 * response is in flight and ~4 KiB otherwise (the output buffer is freed
 * when it drains past OUT_KEEP_BYTES).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/cp/cp.h"
#include "control/cp/ctl_json.h"
#include "control/store/store.h"

#define CONNS_MAX 64
#define FOLLOW_BACKLOG_MAX (256u << 10)
#define OUT_MAX ((size_t)ST_CTL_HDR_BYTES + ST_CTL_RESPONSE_BODY_MAX)
#define OUT_KEEP_BYTES (64u << 10)
#define IN_MAX (ST_CTL_HDR_BYTES + ST_CTL_REQUEST_BODY_MAX)
#define NS_PER_S 1000000000ull

struct conn {
	struct st_cp_watch w;             /* first: the epoll cookie */
	struct st_cp_server *srv;
	struct conn *prev, *next;
	int fd;
	bool follower, closing;
	uint64_t follow_id;
	uint64_t pushes_dropped;          /* since the last push that went */
	uint64_t last_progress_ns;
	uint32_t events;                  /* registered epoll mask */
	size_t in_len;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	uint8_t in[IN_MAX];
};

struct st_cp_server {
	struct st_cp_watch w;             /* the listening socket */
	struct st_cp *cp;
	int fd, lock_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn *conns;
	unsigned open;
	struct st_cp_server_stats st;
};

static void conn_close(struct conn *c)
{
	struct st_cp_server *s = c->srv;

	st_cp_watch_del(s->cp, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->open--;
	free(c->out);
	free(c);
}

static void conn_update_events(struct conn *c)
{
	uint32_t ev = c->out_len > c->out_off ? EPOLLOUT
		      : c->closing ? 0 : EPOLLIN;

	if (ev != c->events && st_cp_watch_mod(c->srv->cp, c->fd, ev, &c->w) == 0)
		c->events = ev;
}

/* Appends n bytes to the output, within limit bytes pending.  0 or -ENOBUFS. */
static int out_append(struct conn *c, const uint8_t *buf, size_t n, size_t limit)
{
	size_t pending = c->out_len - c->out_off;

	if (pending + n > limit)
		return -ENOBUFS;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_off = 0;
		c->out_len = pending;
	}
	if (c->out_len + n > c->out_cap) {
		size_t cap = ST_MAX(c->out_len + n, 2 * c->out_cap);
		uint8_t *p;

		cap = ST_MIN(ST_MAX(cap, (size_t)4096), OUT_MAX);
		p = realloc(c->out, cap);
		if (!p)
			return -ENOBUFS;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, n);
	c->out_len += n;
	return 0;
}

static void send_frame(struct conn *c, uint8_t *frame, size_t len)
{
	if (!frame || out_append(c, frame, len, OUT_MAX))
		c->closing = true;    /* nothing sane to say: just close */
	free(frame);
}

static void send_error(struct conn *c, uint64_t id, int err, const char *text)
{
	size_t len = 0;
	uint8_t *frame = st_ctl_frame_error(id, err, text, &len);

	c->srv->st.bad_requests++;
	send_frame(c, frame, len);
}

static void send_json(struct conn *c, const struct st_ctl_request *req, json_t *body)
{
	size_t len = 0;
	uint8_t *frame;

	if (!body) {
		send_error(c, req->request_id, ENOMEM, "out of memory");
		return;
	}
	frame = st_ctl_frame_json(req->type, ST_CTL_F_RESPONSE, req->request_id, body,
				  ST_CTL_RESPONSE_BODY_MAX, &len);
	json_decref(body);
	if (!frame)
		send_error(c, req->request_id, errno,
			   errno == EMSGSIZE ? "response too large" : "out of memory");
	else
		send_frame(c, frame, len);
}

#define I(x) ((json_int_t)(x))

static const char *proto_name(unsigned p)
{
	static const char *const names[] = { "unknown", "kafka", "mqtt", "nats", "jsonl" };

	return p < ST_ARRAY_SIZE(names) ? names[p] : "unknown";
}

/* cp-status: the Backend Metrics records read (shadowtap/backends.h). */
static json_t *backend_metrics_status(const struct st_cp *cp)
{
	struct st_cp_backends_stats st;

	st_cp_backends_stats(cp->backends, &st);
	return json_pack("{s:I, s:I, s:s?, s:I, s:I, s:I, s:I}",
			 "parsed", I(cp->n.backends_parsed),
			 "bad", I(cp->n.backends_bad),
			 "last_bad_reason", cp->last_bad_backends_reason,
			 "unmatched_dropped", I(st.unmatched_dropped),
			 "latency_bad", I(st.latency_bad),
			 "out_of_order", I(st.out_of_order),
			 "late_partial", I(st.late_partial));
}

/* cp-status: the store (control/store/store.h): the feature history on
 * disk, and what opening it found after a crash or a restart. */
static json_t *store_status(const struct st_cp *cp)
{
	struct st_store_stats st;

	st_analysis_store_stats(cp->analysis, &st);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I}",
			 "streams", I(st.streams),
			 "profiles_kept", I(st.profiles_kept),
			 "history_appended", I(st.history_appended),
			 "coarse_appended", I(st.coarse_appended),
			 "history_invalid", I(st.history_invalid),
			 "history_late", I(st.history_late),
			 "write_errors", I(st.write_errors),
			 "segments", I(st.segments),
			 "disk_bytes", I(st.disk_bytes),
			 "segments_foreign", I(st.segments_foreign),
			 "records_loaded", I(st.records_loaded),
			 "torn_tails", I(st.torn_tails),
			 "torn_bytes", I(st.torn_bytes),
			 "checksum_failures", I(st.checksum_failures));
}

static json_t *status_body(struct st_cp_server *s)
{
	struct st_cp *cp = s->cp;
	struct st_ring_stats rs = { 0 };
	json_t *ring, *sev, *reload;
	uint64_t now = st_cp_monotonic_ns();

	if (cp->ring)
		st_ring_stats(cp->ring, &rs);
	ring = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:i}",
			 "attached", cp->ring != NULL,
			 "instance", cp->control.instance,
			 "generation", I(rs.generation),
			 "attaches", I(cp->n.ring_attaches),
			 "generation_changes", I(cp->n.ring_generation_changes),
			 "reopens", I(cp->n.ring_reopens),
			 "resyncs", I(cp->n.ring_resyncs),
			 "records", I(cp->n.ring_records),
			 "corrupt", I(cp->n.ring_corrupt),
			 "committed", I(rs.committed),
			 "dropped_full", I(rs.dropped_full),
			 "dropped_oversize", I(rs.dropped_oversize),
			 "lost_on_reinit", I(rs.lost_on_reinit),
			 "used_bytes", I(rs.used_bytes),
			 "producer_alive", cp->ring && st_ring_producer_alive(cp->ring, now,
								   ST_CP_PRODUCER_STALE_NS),
			 "producer_pid", (int)rs.producer_pid);
	sev = json_pack("{s:I, s:I, s:I, s:I}",
			"none", I(cp->n.signals_by_severity[0]),
			"low", I(cp->n.signals_by_severity[1]),
			"medium", I(cp->n.signals_by_severity[2]),
			"high", I(cp->n.signals_by_severity[3]));
	reload = json_pack("{s:s?, s:I, s:I, s:o}",
			   "source", st_config_source(cp->cfg),
			   "reloads", I(cp->n.reloads),
			   "reload_failures", I(cp->n.reload_failures),
			   "last_reload", !cp->last_reload_real_ns ? json_null()
			   : json_pack("{s:b, s:s, s:I}", "ok", cp->last_reload_ok,
				       "error", cp->last_reload_error,
				       "time_ns", I(cp->last_reload_real_ns)));
	return json_pack("{s:s, s:i, s:f, s:I, s:o*, s:{s:I, s:I, s:I, s:I, s:s?}, s:o*, s:o*, s:I, s:I,"
			 " s:{s:I, s:o*}, s:o*, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i},"
			 " s:s, s:s?, s:s, s:I}",
			 "version", ST_CP_VERSION,
			 "pid", (int)getpid(),
			 "uptime_s", (double)(now - cp->start_mono_ns) / 1e9,
			 "started_ns", I(cp->start_real_ns),
			 "ring", ring,
			 "profiles",
			 "parsed", I(cp->n.profiles_parsed),
			 "bad", I(cp->n.profiles_bad),
			 "too_big", I(cp->n.profiles_too_big),
			 "unanalysed", I(cp->n.profiles_unanalysed),
			 "last_bad_reason", cp->last_bad_reason,
			 "backend_metrics", backend_metrics_status(cp),
			 "store", store_status(cp),
			 "streams", I(st_analysis_stream_count(cp->analysis)),
			 "streams_refused", I(st_analysis_streams_refused(cp->analysis)),
			 "signals", "raised", I(cp->n.signals_raised), "by_severity", sev,
			 "config", reload,
			 "clients",
			 "open", I(s->open), "connections", I(s->st.connections),
			 "refused", I(s->st.refused), "closed_idle", I(s->st.closed_idle),
			 "requests", I(s->st.requests), "bad_requests", I(s->st.bad_requests),
			 "pushes_dropped", I(s->st.pushes_dropped),
			 "max", CONNS_MAX,
			 "socket", s->path,
			 "prometheus", cp->metrics ? cp->control.prometheus : NULL,
			 "event_log", cp->event_log_path,
			 "event_log_write_errors", I(cp->n.evlog_write_errors));
}

static json_t *history_array(const struct st_analysis_stream *st, bool rate)
{
	json_t *a = json_array();
	double r, card;

	for (unsigned i = 0; a && i < st->history_len; i++) {
		st_analysis_history(st, i, &r, &card);
		json_array_append_new(a, json_real(rate ? r : card));
	}
	return a;
}

static json_t *stream_row(const struct st_analysis_stream *st, bool history)
{
	json_t *row = json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:s, s:I, s:I,"
				" s:I, s:I, s:I, s:b}",
				"name", st->name,
				"stream_id", "",
				"protocol", proto_name(st->protocol),
				"records_per_s", st->records_per_s,
				"bytes_per_s", st->bytes_per_s,
				"cardinality", st->cardinality,
				"top1_share", st->top1_share,
				"score", st->score,
				"severity", st_severity_name(st->severity),
				"last_epoch_start_ns", I(st->last_epoch_start_ns),
				"last_epoch_ns", I(st->last_epoch_ns),
				"epochs", I(st->epochs),
				"records_total", I(st->records_total),
				"bytes_total", I(st->bytes_total),
				"partial", (st->flags & ST_PROFILE_F_PARTIAL) != 0);
	char id[17];

	if (!row)
		return NULL;
	snprintf(id, sizeof(id), "%016" PRIx64, st->stream_id);
	json_object_set_new(row, "stream_id", json_string(id));
	if (history) {
		json_object_set_new(row, "rate_history", history_array(st, true));
		json_object_set_new(row, "cardinality_history", history_array(st, false));
	}
	return row;
}

static json_t *streams_body(struct st_cp_server *s, bool history)
{
	const struct st_analysis *a = s->cp->analysis;
	size_t n = st_analysis_stream_count(a);
	json_t *rows = json_array();

	for (size_t i = 0; rows && i < n; i++)
		if (json_array_append_new(rows, stream_row(st_analysis_stream_at(a, i), history))) {
			json_decref(rows);
			return NULL;
		}
	return json_pack("{s:o*, s:I}", "streams", rows, "now_ns", I(st_cp_realtime_ns()));
}

static json_t *u64_array(const uint64_t *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(I(v[i])));
	return a;
}

static json_t *f64_array(const double *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_real(v[i]));
	return a;
}

static json_t *names_array(const char (*names)[ST_PROFILE_FIELD_NAME_MAX + 1], size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

static json_t *profile_body(struct st_cp_server *s, const struct st_analysis_stream *st)
{
	const struct st_profile_counters *c = &st->counters;
	const struct st_profile_summary *m = &st->summary;
	struct st_analysis_estimate est[ST_ANALYSIS_ESTIMATES_MAX];
	size_t n_est = st_analysis_estimates(s->cp->analysis, st, est, ST_ARRAY_SIZE(est));
	unsigned k = st->key_fields, parts = 0;
	json_t *estimates = json_object();
	char fp[17];

	for (unsigned i = 0; i < ST_PROFILE_KAFKA_PARTITIONS; i++)
		if (c->kafka_partition[i])
			parts = i + 1;
	for (size_t i = 0; estimates && i < n_est; i++)
		json_object_set_new(estimates, est[i].name, json_real(est[i].value));
	snprintf(fp, sizeof(fp), "%016" PRIx64, m->schema_fingerprint);
	return json_pack("{s:o*, s:s, s:I, s:I, s:i, s:i, s:b, s:o*, s:o*,"
			 " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o*, s:o*, s:o*},"
			 " s:{s:o*, s:o*, s:o*, s:o*, s:o*, s:f, s:f, s:f, s:f, s:s, s:I},"
			 " s:o*, s:{s:f, s:s, s:I, s:I, s:I, s:I, s:I}}",
			 "stream", stream_row(st, false),
			 "protocol", proto_name(st->protocol),
			 "epoch_start_ns", I(st->last_epoch_start_ns),
			 "epoch_ns", I(st->last_epoch_ns),
			 "cores_merged", (int)st->cores_merged,
			 "cores_expected", (int)st->cores_expected,
			 "partial", (st->flags & ST_PROFILE_F_PARTIAL) != 0,
			 "key_fields", names_array(st->key_field_names, k),
			 "numeric_fields", names_array(st->numeric_field_names, st->numeric_fields),
			 "counters",
			 "records", I(c->records), "bytes", I(c->bytes), "packets", I(c->packets),
			 "flows_new", I(c->flows_new), "flows_active", I(c->flows_active),
			 "reassembly_gaps", I(c->reassembly_gaps),
			 "kafka_overflow", I(c->kafka_overflow),
			 "egress_records", I(c->egress_records),
			 "parse_errors", u64_array(c->parse_errors, ST_PROFILE_REASONS),
			 "drops", u64_array(c->drops, ST_PROFILE_REASONS),
			 "kafka_partitions", u64_array(c->kafka_partition, parts),
			 "summary",
			 "cardinality", f64_array(m->cardinality, k),
			 "top1_share", f64_array(m->top1_share, k),
			 "topk_share", f64_array(m->topk_share, k),
			 "entropy_norm", f64_array(m->entropy_norm, k),
			 "gini", f64_array(m->gini, k),
			 "kafka_imbalance", m->kafka_imbalance,
			 "size_p50", m->size_p50, "size_p90", m->size_p90, "size_p99", m->size_p99,
			 "schema_fingerprint", fp,
			 "schema_entries", I(m->schema_entries),
			 "estimates", estimates,
			 "analysis",
			 "score", st->score, "severity", st_severity_name(st->severity),
			 "epochs", I(st->epochs), "partial_epochs", I(st->partial_epochs),
			 "records_total", I(st->records_total),
			 "schema_changes", I(st->schema_changes),
			 "signals", I(st->signals));
}

static json_t *signals_body(struct st_cp_server *s, uint32_t count)
{
	struct st_cp *cp = s->cp;
	size_t n = ST_MIN((size_t)count, cp->recent_len);
	json_t *a = json_array();

	/* oldest first, the last n */
	for (size_t i = 0; a && i < n; i++) {
		size_t pos = (cp->recent_next + ST_CP_SIGNALS_KEPT - n + i) % ST_CP_SIGNALS_KEPT;

		json_array_append_new(a, st_ctl_signal_json(&cp->recent[pos]));
	}
	return json_pack("{s:o*, s:I}", "signals", a, "raised", I(cp->n.signals_raised));
}

/* A figure that may be unknown (NAN): null in JSON. */
static json_t *real_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *figures_object(const struct st_cp_backend_figures *f)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:o}",
			 "entries", I(f->entries),
			 "records", I(f->records), "record_bytes", I(f->record_bytes),
			 "packets_to", I(f->packets_to), "bytes_to", I(f->bytes_to),
			 "packets_from", I(f->packets_from), "bytes_from", I(f->bytes_from),
			 "packets", I(f->packets_to + f->packets_from),
			 "retransmissions_to", I(f->retransmissions_to),
			 "retransmissions_from", I(f->retransmissions_from),
			 "zero_windows_from", I(f->zero_windows_from),
			 "zero_windows_to", I(f->zero_windows_to),
			 "flows_new", I(f->flows_new), "egress_records", I(f->egress_records),
			 "latency_samples", I(f->latency_samples),
			 "records_per_s", f->records_per_s, "bytes_per_s", f->bytes_per_s,
			 "retransmissions_per_s", f->retransmissions_per_s,
			 "zero_windows_per_s", f->zero_windows_per_s,
			 "latency_p99_ms", real_or_null(f->latency_p99_ms));
}

static json_t *backend_row(const struct st_cp_backend_row *r)
{
	const struct st_cp_backend_totals *t = &r->totals;
	char addr[64];
	uint8_t bytes[16];

	memcpy(bytes, r->address.bytes, sizeof(bytes));
	st_cp_backends_addr_text(r->address.af == AF_INET ? 4 : 6, bytes, addr, sizeof(addr));
	return json_pack("{s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:I}}",
			 "name", r->name, "pool", r->pool, "address", addr,
			 "latest", figures_object(&r->latest),
			 "totals", "epochs", I(t->epochs), "records", I(t->records),
			 "record_bytes", I(t->record_bytes), "packets_to", I(t->packets_to),
			 "packets_from", I(t->packets_from),
			 "packets", I(t->packets_to + t->packets_from),
			 "bytes_to", I(t->bytes_to), "bytes_from", I(t->bytes_from),
			 "retransmissions", I(t->retransmissions),
			 "zero_windows_from", I(t->zero_windows_from),
			 "latency_samples", I(t->latency_samples));
}

static json_t *endpoint_row(const struct st_cp_endpoint_row *e)
{
	char addr[64];

	st_cp_backends_addr_text(e->family, e->addr, addr, sizeof(addr));
	return json_pack("{s:s, s:i, s:s, s:o}", "address", addr, "port", (int)e->port,
			 "protocol", proto_name(e->protocol), "latest", figures_object(&e->latest));
}

/* BACKENDS: the latest epoch per backend, then the unmatched endpoints. */
static json_t *backends_body(struct st_cp_server *s)
{
	const struct st_cp_backends *b = s->cp->backends;
	const struct st_cp_backends_epoch *ep = st_cp_backends_latest(b);
	json_t *rows = json_array(), *unmatched = json_array(), *epoch;
	struct st_cp_backends_stats st;

	st_cp_backends_stats(b, &st);
	for (size_t i = 0; rows && i < st_cp_backends_count(b); i++)
		if (json_array_append_new(rows, backend_row(st_cp_backends_at(b, i)))) {
			json_decref(rows);
			rows = NULL;
		}
	for (size_t i = 0; unmatched && i < st_cp_backends_unmatched_count(b); i++)
		if (json_array_append_new(unmatched,
					  endpoint_row(st_cp_backends_unmatched_at(b, i)))) {
			json_decref(unmatched);
			unmatched = NULL;
		}
	epoch = !ep->valid ? json_null()
		: json_pack("{s:I, s:I, s:i, s:i, s:b, s:I, s:I}",
			    "epoch_start_ns", I(ep->meta.epoch_start_ns),
			    "epoch_ns", I(ep->meta.epoch_ns),
			    "cores_merged", (int)ep->meta.cores_merged,
			    "cores_expected", (int)ep->meta.cores_expected,
			    "partial", (ep->meta.flags & ST_BACKENDS_F_PARTIAL) != 0,
			    "overflow", I(ep->meta.overflow), "entries", I(ep->entries));
	return json_pack("{s:o*, s:o*, s:o*, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?}}",
			 "epoch", epoch, "backends", rows, "unmatched", unmatched,
			 "counters",
			 "records", I(s->cp->n.backends_parsed),
			 "records_bad", I(s->cp->n.backends_bad),
			 "epochs", I(st.epochs), "entries", I(st.entries),
			 "entries_matched", I(st.entries_matched),
			 "unmatched_dropped", I(st.unmatched_dropped),
			 "latency_bad", I(st.latency_bad),
			 "out_of_order", I(st.out_of_order),
			 "late_partial", I(st.late_partial),
			 "last_bad_reason", s->cp->last_bad_backends_reason);
}

/* The multivariate model as `shadowctl models` shows it. */
static json_t *models_body(struct st_cp_server *s)
{
	struct st_analysis_model m;

	st_analysis_model(s->cp->analysis, &m);
	return json_pack("{s:[{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:s, s:s, s:s}], s:b}",
			 "models", "name", "iforest", "kind", "isolation forest",
			 "version", (json_int_t)m.version,
			 "trainings", (json_int_t)m.trainings,
			 "failures", (json_int_t)m.failures,
			 "last_train_ns", (json_int_t)m.last_train_ns,
			 "last_rows", (json_int_t)m.last_rows,
			 "refresh_s", (int)m.refresh_s, "trees", (int)m.trees,
			 "sample", (int)m.sample, "last_error", m.last_error,
			 "load_error", m.load_error, "path", m.path,
			 "available", m.version != 0);
}

static void handle(struct conn *c, const struct st_ctl_request *req)
{
	struct st_cp_server *s = c->srv;
	const struct st_analysis_stream *st;
	char text[128];

	switch (req->type) {
	case ST_CTL_STATUS:
		send_json(c, req, status_body(s));
		break;
	case ST_CTL_STREAMS:
		send_json(c, req, streams_body(s, req->history));
		break;
	case ST_CTL_PROFILE:
		st = st_analysis_find(s->cp->analysis, req->stream);
		if (!st) {
			snprintf(text, sizeof(text), "no stream named '%s'", req->stream);
			send_error(c, req->request_id, ENOENT, text);
			break;
		}
		send_json(c, req, profile_body(s, st));
		break;
	case ST_CTL_SIGNALS:
		send_json(c, req, signals_body(s, req->count));
		break;
	case ST_CTL_SIGNALS_FOLLOW:
		if (!c->follower)
			s->st.followers++;
		c->follower = true;
		c->follow_id = req->request_id;
		send_json(c, req, json_pack("{s:b}", "following", 1));
		break;
	case ST_CTL_MODELS:
		send_json(c, req, models_body(s));
		break;
	case ST_CTL_DECISIONS:
		send_json(c, req, json_pack("{s:o, s:b}", "decisions",
					    st_cp_reconf_decisions(s->cp->reconf, req->count),
					    "enabled", s->cp->reconf != NULL));
		break;
	case ST_CTL_BACKENDS:
		send_json(c, req, backends_body(s));
		break;
	case ST_CTL_MODELS_RETRAIN: {
		int rc = st_analysis_retrain(s->cp->analysis);

		if (rc)
			send_error(c, req->request_id, -rc, "the trainer is not running");
		else
			send_json(c, req, json_pack("{s:b, s:o}", "requested", 1,
						    "models", models_body(s)));
		break;
	}
	}
}

/* Serves complete requests in the input while no output is pending. */
static void conn_serve(struct conn *c)
{
	while (!c->closing && c->out_len == c->out_off && c->in_len >= ST_CTL_HDR_BYTES) {
		struct st_ctl_request req;
		struct st_ctl_msg m;
		char err[160];
		size_t whole;
		int rc = st_ctl_hdr_decode(c->in, c->in_len, ST_CTL_REQUEST_BODY_MAX, &m);

		if (rc) {
			snprintf(err, sizeof(err), "%s",
				 rc == -EBADMSG ? "bad magic: not a shadowtap control message"
				 : rc == -EPROTONOSUPPORT ? "unsupported protocol version (this "
							    "server speaks version 1)"
				 : rc == -EINVAL ? "unknown header flags"
				 : "request body longer than 4096 bytes");
			send_error(c, rc == -EBADMSG ? 0 : m.request_id, -rc, err);
			c->closing = true;
			break;
		}
		whole = ST_CTL_HDR_BYTES + m.body_bytes;
		if (c->in_len < whole)
			break;
		c->srv->st.requests++;
		rc = st_ctl_request_decode(&m, c->in + ST_CTL_HDR_BYTES, m.body_bytes, &req,
					   err, sizeof(err));
		if (rc)
			send_error(c, m.request_id, -rc, err);
		else
			handle(c, &req);
		memmove(c->in, c->in + whole, c->in_len - whole);
		c->in_len -= whole;
	}
	conn_update_events(c);
}

static void conn_on_event(struct st_cp_watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)w;
	uint64_t now = st_cp_monotonic_ns();

	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		conn_close(c);
		return;
	}
	if (events & EPOLLOUT && c->out_len > c->out_off) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_close(c);
			return;
		}
		if (n > 0) {
			c->out_off += (size_t)n;
			c->last_progress_ns = now;
		}
		if (c->out_off == c->out_len) {
			c->out_off = c->out_len = 0;
			if (c->out_cap > OUT_KEEP_BYTES) {
				free(c->out);
				c->out = NULL;
				c->out_cap = 0;
			}
			if (c->closing) {
				conn_close(c);
				return;
			}
		}
	}
	if (events & EPOLLIN && c->out_len == c->out_off && !c->closing) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
				 MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n > 0) {
			c->in_len += (size_t)n;
			c->last_progress_ns = now;
		}
	}
	conn_serve(c);
}

static void refuse(struct st_cp_server *s, int fd)
{
	size_t len;
	uint8_t *frame = st_ctl_frame_error(0, EBUSY, "too many connections", &len);

	if (frame && send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		(void)0; /* best effort: the client sees the close anyway */
	free(frame);
	close(fd);
	s->st.refused++;
}

static void listener_on_event(struct st_cp_watch *w, uint32_t events)
{
	struct st_cp_server *s = (struct st_cp_server *)w;

	(void)events;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;    /* EAGAIN, or a client gone before accept */
		if (s->open >= CONNS_MAX) {
			refuse(s, fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			refuse(s, fd);
			continue;
		}
		c->w.on_event = conn_on_event;
		c->srv = s;
		c->fd = fd;
		c->events = EPOLLIN;
		c->last_progress_ns = st_cp_monotonic_ns();
		if (st_cp_watch_add(s->cp, fd, EPOLLIN, &c->w)) {
			free(c);
			refuse(s, fd);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->open++;
		s->st.connections++;
	}
}

void st_cp_server_push_signal(struct st_cp_server *s, const struct st_signal *sig)
{
	for (struct conn *c = s->conns; c; c = c->next) {
		json_t *o;
		uint8_t *frame;
		size_t len;

		if (!c->follower || c->closing)
			continue;
		o = st_ctl_signal_json(sig);
		if (o && c->pushes_dropped)
			json_object_set_new(o, "dropped_before", json_integer(I(c->pushes_dropped)));
		frame = o ? st_ctl_frame_json(ST_CTL_SIGNAL, ST_CTL_F_PUSH, c->follow_id, o,
					      ST_CTL_RESPONSE_BODY_MAX, &len) : NULL;
		json_decref(o);
		if (!frame || out_append(c, frame, len, FOLLOW_BACKLOG_MAX)) {
			c->pushes_dropped++;
			s->st.pushes_dropped++;
		} else {
			c->pushes_dropped = 0;
			conn_update_events(c);
		}
		free(frame);
	}
}

void st_cp_server_tick(struct st_cp_server *s, uint64_t now_ns)
{
	struct conn *c = s->conns, *next;

	for (; c; c = next) {
		bool busy = c->in_len || c->out_len > c->out_off;

		next = c->next;
		if ((busy || !c->follower) &&
		    now_ns - c->last_progress_ns > ST_CTL_IDLE_TIMEOUT_S * NS_PER_S) {
			s->st.closed_idle++;
			conn_close(c);
		}
	}
}

void st_cp_server_stats(const struct st_cp_server *s, struct st_cp_server_stats *st)
{
	*st = s->st;
	st->open = s->open;
}

/* Whether something accepts connections at path (a live server). */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

static int take_path(struct st_cp_server *s, char *msg, size_t msg_len)
{
	char lock[sizeof(s->path) + 8];
	struct stat sb;

	snprintf(lock, sizeof(lock), "%s.lock", s->path);
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (s->lock_fd < 0) {
		snprintf(msg, msg_len, "%s: %s", lock, strerror(errno));
		return -errno;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
		snprintf(msg, msg_len, "%s: another shadowtap-cp owns this socket "
			 "(its lock %s is held)", s->path, lock);
		return -EADDRINUSE;
	}
	if (lstat(s->path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(msg, msg_len, "%s exists and is not a socket; not removing it",
				 s->path);
			return -EEXIST;
		}
		if (socket_alive(s->path)) {
			snprintf(msg, msg_len, "%s: another server answers on this socket",
				 s->path);
			return -EADDRINUSE;
		}
		unlink(s->path);  /* stale: its daemon died */
	}
	return 0;
}

static int bind_listen(struct st_cp_server *s, char *msg, size_t msg_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char tmp[sizeof(sa.sun_path) + 32];
	const char *at = s->path;
	mode_t old;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", s->path, (int)getpid());
	if (strlen(tmp) < sizeof(sa.sun_path)) {
		unlink(tmp);
		at = tmp;    /* bound aside, renamed into place once listening */
	}
	memcpy(sa.sun_path, at, strlen(at) + 1);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto out_err;
	old = umask(0117);
	rc = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc)
		goto out_err;
	if (listen(s->fd, 64) || (at == tmp && rename(tmp, s->path))) {
		rc = -errno;
		unlink(at);
		errno = -rc;
		goto out_err;
	}
	return 0;

out_err:
	rc = -errno;
	snprintf(msg, msg_len, "%s: %s", at, strerror(errno));
	return rc;
}

struct st_cp_server *st_cp_server_create(struct st_cp *cp, const char *path,
					 char *msg, size_t msg_len)
{
	struct st_cp_server *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(msg, msg_len, "%s", strerror(ENOMEM));
		errno = ENOMEM;
		return NULL;
	}
	s->cp = cp;
	s->fd = s->lock_fd = -1;
	s->w.on_event = listener_on_event;
	if (strlen(path) == 0 || strlen(path) >= sizeof(s->path)) {
		snprintf(msg, msg_len, "socket path '%s' is empty or longer than %zu bytes",
			 path, sizeof(s->path) - 1);
		rc = -ENAMETOOLONG;
		goto out_free;
	}
	memcpy(s->path, path, strlen(path) + 1);
	rc = take_path(s, msg, msg_len);
	if (rc)
		goto out_unlock;
	rc = bind_listen(s, msg, msg_len);
	if (rc)
		goto out_unlock;
	rc = st_cp_watch_add(cp, s->fd, EPOLLIN, &s->w);
	if (rc) {
		snprintf(msg, msg_len, "epoll: %s", strerror(-rc));
		goto out_unlink;
	}
	return s;

out_unlink:
	unlink(s->path);
out_unlock:
	if (s->fd >= 0)
		close(s->fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
out_free:
	free(s);
	errno = -rc;
	return NULL;
}

void st_cp_server_destroy(struct st_cp_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	st_cp_watch_del(s->cp, s->fd);
	close(s->fd);
	unlink(s->path);
	close(s->lock_fd);   /* drops the lock; the lock file stays (see above) */
	free(s);
}
