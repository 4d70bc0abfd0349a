/*
 * shadowtap-cp's Prometheus endpoint: GET /metrics answered with the text
 * exposition format, version 0.0.4 (Prometheus documentation, "Exposition
 * formats": `# HELP` and `# TYPE` lines, one sample per line,
 * name{label="value"} value, label values escaping \\, \" and \n; media
 * type text/plain; version=0.0.4).
 *
 * A minimal HTTP/1.x responder written here rather than libmicrohttpd:
 * the endpoint serves one path to a scraper on localhost, and a responder
 * of ~200 lines in the daemon's own epoll loop keeps the daemon single-
 * threaded (libmicrohttpd would bring its own threads, or an external
 * select loop to integrate, for features we do not use).  It reads the
 * request head only (RFC 9112 section 2.1: request line, fields, empty
 * line), never a body, answers once with Connection: close and closes.
 *
 * Bounds: METRICS_CONNS_MAX connections (one more is closed at once), a
 * REQUEST_MAX-byte head (longer: 431), IDLE_NS without progress (closed).
 * A response is at most the exposition of ST_ANALYSIS_STREAMS_MAX streams
 * and ST_CONFIG_BACKENDS_MAX backends.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/cp/cp.h"
#include "control/cp/ctl_json.h"

#define METRICS_CONNS_MAX 8
#define REQUEST_MAX 4096
#define IDLE_NS (10ull * 1000000000ull)

struct mconn {
	struct st_cp_watch w;        /* first: the epoll cookie */
	struct st_cp_metrics *m;
	struct mconn *prev, *next;
	int fd;
	uint64_t last_progress_ns;
	size_t in_len;
	char *out;
	size_t out_off, out_len;
	char in[REQUEST_MAX];
};

struct st_cp_metrics {
	struct st_cp_watch w;
	struct st_cp *cp;
	int fd;
	unsigned open;
	uint64_t scrapes;
	struct mconn *conns;
};

static void mconn_close(struct mconn *c)
{
	struct st_cp_metrics *m = c->m;

	st_cp_watch_del(m->cp, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		m->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	m->open--;
	free(c->out);
	free(c);
}

static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(FILE *f, const char *name, uint64_t v)
{
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static const char *proto_name(unsigned p)
{
	static const char *const names[] = { "unknown", "kafka", "mqtt", "nats", "jsonl" };

	return p < ST_ARRAY_SIZE(names) ? names[p] : "unknown";
}

enum stream_figure { F_RATE, F_BYTES, F_CARD, F_TOP1, F_SCORE, F_SEVERITY, F_RECORDS, F_EPOCHS };

static const struct {
	const char *name, *type, *help;
} stream_families[] = {
	[F_RATE] = { "shadowtap_stream_records_per_second", "gauge",
		     "Records per second in the stream's latest epoch." },
	[F_BYTES] = { "shadowtap_stream_bytes_per_second", "gauge",
		      "Record bytes per second in the stream's latest epoch." },
	[F_CARD] = { "shadowtap_stream_cardinality", "gauge",
		     "Distinct values of key field 0 in the latest epoch (HyperLogLog estimate)." },
	[F_TOP1] = { "shadowtap_stream_top1_share", "gauge",
		     "Share of the most frequent key of key field 0 in the latest epoch." },
	[F_SCORE] = { "shadowtap_stream_anomaly_score", "gauge",
		      "The control plane's anomaly score of the stream, 0..1." },
	[F_SEVERITY] = { "shadowtap_stream_severity", "gauge",
			 "Severity of the stream's state: 0 none, 1 low, 2 medium, 3 high." },
	[F_RECORDS] = { "shadowtap_stream_records_total", "counter",
			"Records of the stream in every profile read since shadowtap-cp started." },
	[F_EPOCHS] = { "shadowtap_stream_epochs_total", "counter",
		       "Profiles (epochs) of the stream read since shadowtap-cp started." },
};

static void stream_samples(FILE *f, const struct st_analysis *a, enum stream_figure fig)
{
	size_t n = st_analysis_stream_count(a);

	family(f, stream_families[fig].name, stream_families[fig].type,
	       stream_families[fig].help);
	for (size_t i = 0; i < n; i++) {
		const struct st_analysis_stream *s = st_analysis_stream_at(a, i);

		fprintf(f, "%s{stream=\"", stream_families[fig].name);
		label_value(f, s->name);
		fprintf(f, "\",protocol=\"%s\"} ", proto_name(s->protocol));
		switch (fig) {
		case F_RATE: fprintf(f, "%.17g\n", s->records_per_s); break;
		case F_BYTES: fprintf(f, "%.17g\n", s->bytes_per_s); break;
		case F_CARD: fprintf(f, "%.17g\n", s->cardinality); break;
		case F_TOP1: fprintf(f, "%.17g\n", s->top1_share); break;
		case F_SCORE: fprintf(f, "%.17g\n", s->score); break;
		case F_SEVERITY: fprintf(f, "%u\n", (unsigned)s->severity); break;
		case F_RECORDS: fprintf(f, "%" PRIu64 "\n", s->records_total); break;
		case F_EPOCHS: fprintf(f, "%" PRIu64 "\n", s->epochs); break;
		}
	}
}

enum backend_figure { B_RATE, B_BYTES, B_RETRANS, B_ZWIN, B_P99, B_RECORDS, B_PACKETS };

static const struct {
	const char *name, *type, *help;
} backend_families[] = {
	[B_RATE] = { "shadowtap_backend_records_per_second", "gauge",
		     "Records per second to the backend in the latest epoch's Backend Metrics." },
	[B_BYTES] = { "shadowtap_backend_bytes_per_second", "gauge",
		      "Frame bytes per second to and from the backend in the latest epoch." },
	[B_RETRANS] = { "shadowtap_backend_retransmissions_per_second", "gauge",
			"TCP retransmissions per second to and from the backend in the latest epoch." },
	[B_ZWIN] = { "shadowtap_backend_zero_windows_per_second", "gauge",
		     "Zero windows per second the backend advertised in the latest epoch." },
	[B_P99] = { "shadowtap_backend_latency_p99_milliseconds", "gauge",
		    "p99 of request -> response latency at the backend in the latest epoch "
		    "(NaN: no sample)." },
	[B_RECORDS] = { "shadowtap_backend_records_total", "counter",
			"Records to the backend in every Backend Metrics record read." },
	[B_PACKETS] = { "shadowtap_backend_packets_total", "counter",
			"Frames to and from the backend in every Backend Metrics record read." },
};

static void backend_samples(FILE *f, const struct st_cp_backends *b, enum backend_figure fig)
{
	family(f, backend_families[fig].name, backend_families[fig].type,
	       backend_families[fig].help);
	for (size_t i = 0; i < st_cp_backends_count(b); i++) {
		const struct st_cp_backend_row *r = st_cp_backends_at(b, i);
		const struct st_cp_backend_figures *x = &r->latest;

		fprintf(f, "%s{backend=\"", backend_families[fig].name);
		label_value(f, r->name);
		fputs("\",pool=\"", f);
		label_value(f, r->pool);
		fputs("\"} ", f);
		switch (fig) {
		case B_RATE: fprintf(f, "%.17g\n", x->records_per_s); break;
		case B_BYTES: fprintf(f, "%.17g\n", x->bytes_per_s); break;
		case B_RETRANS: fprintf(f, "%.17g\n", x->retransmissions_per_s); break;
		case B_ZWIN: fprintf(f, "%.17g\n", x->zero_windows_per_s); break;
		case B_P99:
			if (isnan(x->latency_p99_ms))
				fputs("NaN\n", f);
			else
				fprintf(f, "%.17g\n", x->latency_p99_ms);
			break;
		case B_RECORDS: fprintf(f, "%" PRIu64 "\n", r->totals.records); break;
		case B_PACKETS:
			fprintf(f, "%" PRIu64 "\n", r->totals.packets_to + r->totals.packets_from);
			break;
		}
	}
}

static void exposition(FILE *f, struct st_cp *cp)
{
	struct st_ring_stats rs = { 0 };
	uint64_t now = st_cp_monotonic_ns();

	if (cp->ring)
		st_ring_stats(cp->ring, &rs);
	for (unsigned fig = 0; fig < ST_ARRAY_SIZE(stream_families); fig++)
		stream_samples(f, cp->analysis, fig);
	for (unsigned fig = 0; fig < ST_ARRAY_SIZE(backend_families); fig++)
		backend_samples(f, cp->backends, fig);
	family(f, "shadowtap_cp_backend_metrics_parsed_total", "counter",
	       "Backend Metrics records read from the ring and accepted.");
	sample_u64(f, "shadowtap_cp_backend_metrics_parsed_total", cp->n.backends_parsed);
	family(f, "shadowtap_cp_backend_metrics_bad_total", "counter",
	       "Backend Metrics records refused by their parser (or too large).");
	sample_u64(f, "shadowtap_cp_backend_metrics_bad_total", cp->n.backends_bad);
	family(f, "shadowtap_signals_total", "counter", "Signals raised, by severity.");
	for (unsigned sev = ST_SEVERITY_LOW; sev <= ST_SEVERITY_HIGH; sev++)
		fprintf(f, "shadowtap_signals_total{severity=\"%s\"} %" PRIu64 "\n",
			st_severity_name(sev), cp->n.signals_by_severity[sev]);
	family(f, "shadowtap_cp_streams", "gauge", "Streams the control plane knows.");
	sample_u64(f, "shadowtap_cp_streams", st_analysis_stream_count(cp->analysis));
	family(f, "shadowtap_cp_streams_refused_total", "counter",
	       "Profiles skipped because the stream table was full.");
	sample_u64(f, "shadowtap_cp_streams_refused_total",
		   st_analysis_streams_refused(cp->analysis));
	family(f, "shadowtap_cp_uptime_seconds", "gauge", "Seconds since shadowtap-cp started.");
	fprintf(f, "shadowtap_cp_uptime_seconds %.3f\n", (double)(now - cp->start_mono_ns) / 1e9);
	family(f, "shadowtap_cp_profiles_parsed_total", "counter",
	       "Shadow Profiles read from the ring and accepted.");
	sample_u64(f, "shadowtap_cp_profiles_parsed_total", cp->n.profiles_parsed);
	family(f, "shadowtap_cp_profiles_bad_total", "counter",
	       "Records from the ring refused by the profile parser (or too large).");
	sample_u64(f, "shadowtap_cp_profiles_bad_total",
		   cp->n.profiles_bad + cp->n.profiles_too_big);
	family(f, "shadowtap_cp_config_reloads_total", "counter", "SIGHUP reloads, by result.");
	fprintf(f, "shadowtap_cp_config_reloads_total{result=\"ok\"} %" PRIu64 "\n",
		cp->n.reloads - cp->n.reload_failures);
	fprintf(f, "shadowtap_cp_config_reloads_total{result=\"failed\"} %" PRIu64 "\n",
		cp->n.reload_failures);
	family(f, "shadowtap_ring_attached", "gauge", "1 when attached to the data plane's ring.");
	sample_u64(f, "shadowtap_ring_attached", cp->ring != NULL);
	family(f, "shadowtap_ring_generation", "gauge",
	       "Generation of the ring: +1 at every data-plane (re)start.");
	sample_u64(f, "shadowtap_ring_generation", rs.generation);
	family(f, "shadowtap_ring_records_total", "counter", "Records taken from the ring.");
	sample_u64(f, "shadowtap_ring_records_total", cp->n.ring_records);
	family(f, "shadowtap_ring_corrupt_total", "counter", "Corrupt ring slots skipped.");
	sample_u64(f, "shadowtap_ring_corrupt_total", cp->n.ring_corrupt);
	family(f, "shadowtap_ring_reattaches_total", "counter",
	       "Re-attachments: re-initialised ring, new producer generation, new object.");
	sample_u64(f, "shadowtap_ring_reattaches_total", cp->n.ring_resyncs +
		   cp->n.ring_generation_changes + cp->n.ring_reopens);
	family(f, "shadowtap_ring_dropped_total", "counter",
	       "Records the data plane could not write to the ring, by reason.");
	fprintf(f, "shadowtap_ring_dropped_total{reason=\"full\"} %" PRIu64 "\n", rs.dropped_full);
	fprintf(f, "shadowtap_ring_dropped_total{reason=\"oversize\"} %" PRIu64 "\n",
		rs.dropped_oversize);
	fprintf(f, "shadowtap_ring_dropped_total{reason=\"lost_on_reinit\"} %" PRIu64 "\n",
		rs.lost_on_reinit);
}

static void respond(struct mconn *c, const char *status, const char *type,
		    const char *body, size_t body_len)
{
	FILE *f = open_memstream(&c->out, &c->out_len);

	if (!f)
		return;
	fprintf(f, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n", status, type, body_len);
	fwrite(body, 1, body_len, f);
	fclose(f);
}

static void respond_text(struct mconn *c, const char *status, const char *text)
{
	respond(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* The request head is complete in c->in: decide the response. */
static void answer(struct mconn *c)
{
	static const char get[] = "GET ";
	const char *p = c->in, *sp, *target_end;
	char *body = NULL;
	size_t body_len = 0;
	FILE *f;

	if (strncmp(p, get, 4)) {
		const char *line_end = memchr(p, '\n', c->in_len);
		bool token = line_end && memchr(p, ' ', (size_t)(line_end - p));

		respond_text(c, token ? "405 Method Not Allowed" : "400 Bad Request",
			     token ? "only GET\n" : "bad request\n");
		return;
	}
	p += 4;
	sp = memchr(p, ' ', c->in_len - 4);
	if (!sp || strncmp(sp, " HTTP/1.", 8)) {
		respond_text(c, "400 Bad Request", "bad request line\n");
		return;
	}
	target_end = memchr(p, '?', (size_t)(sp - p));
	if (!target_end)
		target_end = sp;
	if ((size_t)(target_end - p) != 8 || strncmp(p, "/metrics", 8)) {
		respond_text(c, "404 Not Found", "the exposition is at /metrics\n");
		return;
	}
	f = open_memstream(&body, &body_len);
	if (!f) {
		respond_text(c, "503 Service Unavailable", "out of memory\n");
		return;
	}
	exposition(f, c->m->cp);
	if (fclose(f)) {
		free(body);
		respond_text(c, "503 Service Unavailable", "out of memory\n");
		return;
	}
	respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, body_len);
	free(body);
	c->m->scrapes++;
}

static bool head_complete(const struct mconn *c)
{
	return memmem(c->in, c->in_len, "\r\n\r\n", 4) || memmem(c->in, c->in_len, "\n\n", 2);
}

static void mconn_on_event(struct st_cp_watch *w, uint32_t events)
{
	struct mconn *c = (struct mconn *)w;
	ssize_t n;

	if (!c->out) {
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			mconn_close(c);
			return;
		}
		if (n < 0)
			return;
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		c->last_progress_ns = st_cp_monotonic_ns();
		if (head_complete(c))
			answer(c);
		else if (c->in_len == sizeof(c->in) - 1)
			respond_text(c, "431 Request Header Fields Too Large", "head too long\n");
		if (!c->out) {
			if (head_complete(c)) {   /* could not build a response */
				mconn_close(c);
			}
			return;
		}
		if (st_cp_watch_mod(c->m->cp, c->fd, EPOLLOUT, &c->w)) {
			mconn_close(c);
			return;
		}
		events |= EPOLLOUT;
	}
	if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return;
	n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		 MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		mconn_close(c);
		return;
	}
	if (n > 0) {
		c->out_off += (size_t)n;
		c->last_progress_ns = st_cp_monotonic_ns();
	}
	if (c->out_off == c->out_len)
		mconn_close(c);
}

static void listener_on_event(struct st_cp_watch *w, uint32_t events)
{
	struct st_cp_metrics *m = (struct st_cp_metrics *)w;

	(void)events;
	for (;;) {
		int fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct mconn *c;

		if (fd < 0)
			return;
		c = m->open < METRICS_CONNS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		c->w.on_event = mconn_on_event;
		c->m = m;
		c->fd = fd;
		c->last_progress_ns = st_cp_monotonic_ns();
		if (st_cp_watch_add(m->cp, fd, EPOLLIN, &c->w)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = m->conns;
		if (m->conns)
			m->conns->prev = c;
		m->conns = c;
		m->open++;
	}
}

/* Splits "host:port" / "[v6]:port" into its parts; 0 or -EINVAL. */
static int split_hostport(const char *hp, char *host, size_t host_len, char *port,
			  size_t port_len)
{
	const char *colon;
	size_t n;

	if (hp[0] == '[') {
		const char *close_br = strchr(hp, ']');

		if (!close_br || close_br[1] != ':')
			return -EINVAL;
		n = (size_t)(close_br - hp - 1);
		colon = close_br + 1;
		hp++;
	} else {
		colon = strrchr(hp, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - hp);
	}
	if (n == 0 || n >= host_len || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= port_len || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1))
		return -EINVAL;
	memcpy(host, hp, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

struct st_cp_metrics *st_cp_metrics_create(struct st_cp *cp, const char *hostport,
					   char *msg, size_t msg_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct st_cp_metrics *m;
	struct addrinfo *ai = NULL;
	char host[64], port[8];
	int one = 1, rc;

	if (split_hostport(hostport, host, sizeof(host), port, sizeof(port))) {
		snprintf(msg, msg_len, "prometheus address '%s' is not HOST:PORT", hostport);
		errno = EINVAL;
		return NULL;
	}
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		snprintf(msg, msg_len, "prometheus address '%s': %s", hostport, gai_strerror(rc));
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto out_freeaddr;
	m->cp = cp;
	m->w.on_event = listener_on_event;
	m->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0)
		goto out_free;
	setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->fd, ai->ai_addr, ai->ai_addrlen) || listen(m->fd, 16))
		goto out_close;
	rc = st_cp_watch_add(cp, m->fd, EPOLLIN, &m->w);
	if (rc) {
		errno = -rc;
		goto out_close;
	}
	freeaddrinfo(ai);
	return m;

out_close:
	rc = errno;
	close(m->fd);
	errno = rc;
out_free:
	rc = errno;
	free(m);
	errno = rc;
out_freeaddr:
	rc = errno ? errno : ENOMEM;
	snprintf(msg, msg_len, "prometheus address '%s': %s", hostport, strerror(rc));
	freeaddrinfo(ai);
	errno = rc;
	return NULL;
}

void st_cp_metrics_destroy(struct st_cp_metrics *m)
{
	if (!m)
		return;
	while (m->conns)
		mconn_close(m->conns);
	st_cp_watch_del(m->cp, m->fd);
	close(m->fd);
	free(m);
}

void st_cp_metrics_tick(struct st_cp_metrics *m, uint64_t now_ns)
{
	struct mconn *c = m->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (now_ns - c->last_progress_ns > IDLE_NS)
			mconn_close(c);
	}
}

uint64_t st_cp_metrics_scrapes(const struct st_cp_metrics *m)
{
	return m->scrapes;
}
