/*
 * shadowctl's views of the running control plane, through its socket
 * (cp_client.h): cp-status, streams, profile STREAM, signals [--follow],
 * top, models [--retrain], decisions, backends.  Every read command takes --json (the response
 * body as the daemon sent it, one line), --socket PATH and --config FILE
 * (whose control.socket_path names the socket).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cp_client.h"
#include "shadowctl.h"

#define SPARK_WIDTH 30

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Options of one command beyond the common ones. */
struct extra {
	bool follow, retrain, once;
	unsigned count;
	const char *stream;
};

static void common_usage(FILE *out)
{
	fputs("  --socket PATH   shadowtap-cp's control socket (default: the config's\n"
	      "                  control.socket_path, else " ST_CTL_SOCKET_DEFAULT ")\n"
	      "  --config FILE   the config file whose control section names the socket\n"
	      "  --json          the daemon's JSON document instead of a table\n"
	      "  -h, --help      this help\n"
	      "Exit status: 0; 1 when shadowtap-cp cannot be reached or refuses; 2 on bad "
	      "usage.\n", out);
}

/* Parses the common options and the command's own; -1 to go on, else the
 * exit status. */
static int parse(int argc, char **argv, const char *usage_line, struct st_cpc_opts *o,
		 struct extra *x, bool want_stream)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "retrain", no_argument, NULL, 'r' },
		{ "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's': o->socket = optarg; break;
		case 'c': o->config = optarg; break;
		case 'j': o->json = true; break;
		case 'f': x->follow = true; break;
		case 'r': x->retrain = true; break;
		case '1': x->once = true; break;
		case 'n': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > ST_CTL_SIGNALS_MAX) {
				fprintf(stderr, "shadowctl %s: --count: '%s' is not in 1..%u\n",
					argv[0], optarg, ST_CTL_SIGNALS_MAX);
				return 2;
			}
			x->count = (unsigned)v;
			break;
		}
		case 'h':
			printf("usage: %s\n", usage_line);
			common_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "usage: %s\n", usage_line);
			return 2;
		}
	}
	if (want_stream && optind == argc - 1) {
		x->stream = argv[optind];
		return -1;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s\n", usage_line);
		return 2;
	}
	return want_stream ? (fprintf(stderr, "usage: %s\n", usage_line), 2) : -1;
}

/* One request, its body printed as JSON or handed to show(). */
static int one_call(const char *cmd, const struct st_cpc_opts *o, struct st_ctl_request *req,
		    void (*show)(const json_t *body))
{
	struct st_cpc c;
	json_t *body = NULL;
	int rc;

	if (st_cpc_open(&c, cmd, o))
		return 1;
	rc = st_cpc_call(&c, req, &body);
	st_cpc_close(&c);
	if (rc)
		return rc;
	if (o->json) {
		json_dumpf(body, stdout, JSON_COMPACT);
		putchar('\n');
	} else {
		show(body);
	}
	json_decref(body);
	return 0;
}

static uint64_t u64(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static double num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : 0.0;
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

/* ---- cp-status ---- */

static void show_status(const json_t *b)
{
	const json_t *ring = json_object_get(b, "ring"), *p = json_object_get(b, "profiles");
	const json_t *cfg = json_object_get(b, "config"), *cl = json_object_get(b, "clients");
	const json_t *sig = json_object_get(b, "signals");
	const json_t *bm = json_object_get(b, "backend_metrics");
	const json_t *sto = json_object_get(b, "store");
	const json_t *last = json_object_get(cfg, "last_reload");

	printf("shadowtap-cp %s, pid %" PRIu64 ", up %.0f s\n", str(b, "version"),
	       u64(b, "pid"), num(b, "uptime_s"));
	printf("ring '%s': %s, generation %" PRIu64 ", producer %s; %" PRIu64 " records read, "
	       "%" PRIu64 " corrupt; attaches %" PRIu64 ", new generations %" PRIu64
	       ", reopens %" PRIu64 ", resyncs %" PRIu64 "; data plane dropped %" PRIu64
	       " (full) %" PRIu64 " (oversize)\n",
	       str(ring, "instance"), json_is_true(json_object_get(ring, "attached"))
	       ? "attached" : "waiting for it", u64(ring, "generation"),
	       json_is_true(json_object_get(ring, "producer_alive")) ? "alive" : "not running",
	       u64(ring, "records"), u64(ring, "corrupt"), u64(ring, "attaches"),
	       u64(ring, "generation_changes"), u64(ring, "reopens"), u64(ring, "resyncs"),
	       u64(ring, "dropped_full"), u64(ring, "dropped_oversize"));
	printf("profiles: %" PRIu64 " parsed, %" PRIu64 " bad%s%s; streams %" PRIu64
	       "; signals raised %" PRIu64 "\n", u64(p, "parsed"), u64(p, "bad"),
	       json_is_string(json_object_get(p, "last_bad_reason")) ? ", last: " : "",
	       json_is_string(json_object_get(p, "last_bad_reason"))
	       ? str(p, "last_bad_reason") : "", u64(b, "streams"), u64(sig, "raised"));
	printf("backend metrics: %" PRIu64 " records parsed, %" PRIu64 " bad%s%s\n",
	       u64(bm, "parsed"), u64(bm, "bad"),
	       json_is_string(json_object_get(bm, "last_bad_reason")) ? ", last: " : "",
	       json_is_string(json_object_get(bm, "last_bad_reason"))
	       ? str(bm, "last_bad_reason") : "");
	printf("store: %" PRIu64 " history records appended, %" PRIu64 " loaded at start "
	       "(%" PRIu64 " torn tails cut, %" PRIu64 " damaged stretches skipped), %" PRIu64
	       " segments, %" PRIu64 " bytes, %" PRIu64 " write errors\n",
	       u64(sto, "history_appended") + u64(sto, "coarse_appended"),
	       u64(sto, "records_loaded"), u64(sto, "torn_tails"), u64(sto, "checksum_failures"),
	       u64(sto, "segments"), u64(sto, "disk_bytes"), u64(sto, "write_errors"));
	printf("config: %s; %" PRIu64 " reloads, %" PRIu64 " refused", str(cfg, "source"),
	       u64(cfg, "reloads"), u64(cfg, "reload_failures"));
	if (json_is_object(last))
		printf("; last: %s%s%s", json_is_true(json_object_get(last, "ok")) ? "ok" : "refused",
		       *str(last, "error") ? ": " : "", json_string_value(json_object_get(last, "error")));
	printf("\nclients: %" PRIu64 " open, %" PRIu64 " requests, %" PRIu64 " bad; socket %s; "
	       "prometheus %s; event log %s\n", u64(cl, "open"), u64(cl, "requests"),
	       u64(cl, "bad_requests"), str(b, "socket"),
	       json_is_string(json_object_get(b, "prometheus")) ? str(b, "prometheus") : "off",
	       str(b, "event_log"));
}

int shadowctl_cp_status(int argc, char **argv)
{
	struct st_cpc_opts o = { 0 };
	struct extra x = { 0 };
	struct st_ctl_request req = { .type = ST_CTL_STATUS };
	int rc = parse(argc, argv, "shadowctl cp-status [--socket PATH] [--config FILE] [--json]\n"
		       "The control plane's (shadowtap-cp's) state; `shadowctl status` is the "
		       "data plane's.", &o, &x, false);

	return rc >= 0 ? rc : one_call("cp-status", &o, &req, show_status);
}

/* ---- streams ---- */

static void show_streams(const json_t *b)
{
	const json_t *rows = json_object_get(b, "streams"), *r;
	size_t i;

	printf("%-32s %-6s %12s %14s %12s %6s %-7s %14s %8s\n", "STREAM", "PROTO", "RECORDS/S",
	       "BYTES/S", "CARDINALITY", "TOP1", "SEVERITY", "RECORDS", "EPOCHS");
	json_array_foreach(rows, i, r)
		printf("%-32s %-6s %12.1f %14.1f %12.0f %6.3f %-8s %14" PRIu64 " %8" PRIu64 "\n",
		       str(r, "name"), str(r, "protocol"), num(r, "records_per_s"),
		       num(r, "bytes_per_s"), num(r, "cardinality"), num(r, "top1_share"),
		       str(r, "severity"), u64(r, "records_total"), u64(r, "epochs"));
}

int shadowctl_streams(int argc, char **argv)
{
	struct st_cpc_opts o = { 0 };
	struct extra x = { 0 };
	struct st_ctl_request req = { .type = ST_CTL_STREAMS };
	int rc = parse(argc, argv, "shadowctl streams [--socket PATH] [--config FILE] [--json]\n"
		       "One row per stream: its latest epoch's rates, key cardinality and "
		       "top-1 share,\nseverity, and the records of every epoch read.",
		       &o, &x, false);

	return rc >= 0 ? rc : one_call("streams", &o, &req, show_streams);
}

/* ---- profile ---- */

static void print_array(const char *label, const json_t *a)
{
	const json_t *v;
	size_t i;

	printf("  %-16s", label);
	json_array_foreach(a, i, v) {
		if (json_is_string(v))
			printf(" %s", json_string_value(v));
		else
			printf(" %.6g", json_number_value(v));
	}
	putchar('\n');
}

static void show_profile(const json_t *b)
{
	const json_t *c = json_object_get(b, "counters"), *s = json_object_get(b, "summary");
	const json_t *e = json_object_get(b, "estimates"), *a = json_object_get(b, "analysis");
	const json_t *row = json_object_get(b, "stream"), *v;
	const char *k;

	printf("%s (%s), epoch %" PRIu64 " + %.3f s, cores %" PRIu64 "/%" PRIu64 "%s\n",
	       str(row, "name"), str(b, "protocol"), u64(b, "epoch_start_ns"),
	       (double)u64(b, "epoch_ns") / 1e9, u64(b, "cores_merged"), u64(b, "cores_expected"),
	       json_is_true(json_object_get(b, "partial")) ? " PARTIAL" : "");
	printf("  records %" PRIu64 ", bytes %" PRIu64 ", packets %" PRIu64 ", flows new %" PRIu64
	       " active %" PRIu64 ", gaps %" PRIu64 ", egress %" PRIu64 "\n",
	       u64(c, "records"), u64(c, "bytes"), u64(c, "packets"), u64(c, "flows_new"),
	       u64(c, "flows_active"), u64(c, "reassembly_gaps"), u64(c, "egress_records"));
	print_array("key fields", json_object_get(b, "key_fields"));
	print_array("cardinality", json_object_get(s, "cardinality"));
	print_array("top-1 share", json_object_get(s, "top1_share"));
	print_array("top-k share", json_object_get(s, "topk_share"));
	print_array("entropy", json_object_get(s, "entropy_norm"));
	print_array("gini", json_object_get(s, "gini"));
	if (json_array_size(json_object_get(c, "kafka_partitions")))
		print_array("kafka partitions", json_object_get(c, "kafka_partitions"));
	printf("  size p50/p90/p99 %.0f/%.0f/%.0f bytes; schema %s, %" PRIu64 " fields\n",
	       num(s, "size_p50"), num(s, "size_p90"), num(s, "size_p99"),
	       str(s, "schema_fingerprint"), u64(s, "schema_entries"));
	printf("  estimates:");
	json_object_foreach((json_t *)e, k, v)
		printf(" %s=%.6g", k, json_number_value(v));
	printf("\n  analysis: score %.3f, severity %s, %" PRIu64 " epochs, %" PRIu64
	       " records in all\n", num(a, "score"), str(a, "severity"), u64(a, "epochs"),
	       u64(a, "records_total"));
}

int shadowctl_cp_profile(int argc, char **argv)
{
	struct st_cpc_opts o = { 0 };
	struct extra x = { 0 };
	struct st_ctl_request req = { .type = ST_CTL_PROFILE };
	int rc = parse(argc, argv, "shadowctl profile STREAM [--socket PATH] [--config FILE] "
		       "[--json]\nThe stream's latest Shadow Profile as shadowtap-cp holds it.",
		       &o, &x, true);

	if (rc >= 0)
		return rc;
	if (strlen(x.stream) > ST_CTL_STREAM_NAME_MAX) {
		fprintf(stderr, "shadowctl profile: a stream name is at most 63 bytes\n");
		return 2;
	}
	snprintf(req.stream, sizeof(req.stream), "%s", x.stream);
	return one_call("profile", &o, &req, show_profile);
}

/* ---- signals ---- */

static void show_signal(const json_t *s)
{
	printf("%" PRIu64 " %-32s %-6s score %.3f horizon %.0f s causes",
	       u64(s, "timestamp_ns"), str(s, "stream"), str(s, "severity"), num(s, "score"),
	       num(s, "horizon_s"));
	print_array("", json_object_get(s, "causes"));
}

static void show_signals(const json_t *b)
{
	const json_t *s;
	size_t i;

	json_array_foreach(json_object_get(b, "signals"), i, s)
		show_signal(s);
	printf("(%zu shown, %" PRIu64 " raised since start)\n",
	       json_array_size(json_object_get(b, "signals")), u64(b, "raised"));
}

static int follow(struct st_cpc_opts *o)
{
	struct st_ctl_request req = { .type = ST_CTL_SIGNALS_FOLLOW };
	struct st_cpc c;
	json_t *body = NULL;
	int rc;

	if (st_cpc_open(&c, "signals", o))
		return 1;
	if (st_cpc_call(&c, &req, &body)) {
		st_cpc_close(&c);
		return 1;
	}
	json_decref(body);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop) {
		struct st_ctl_msg m;

		rc = st_cpc_recv(&c, &m, &body, 500);
		if (rc == -EAGAIN || rc == -EINTR)
			continue;
		if (rc) {
			fprintf(stderr, "shadowctl signals: %s\n", rc == -EPIPE
				? "shadowtap-cp closed the connection" : "bad message");
			st_cpc_close(&c);
			return 1;
		}
		if (m.type == ST_CTL_SIGNAL) {
			if (o->json) {
				json_dumpf(body, stdout, JSON_COMPACT);
				putchar('\n');
			} else {
				show_signal(body);
			}
			fflush(stdout);
		}
		json_decref(body);
	}
	st_cpc_close(&c);
	return 0;
}

int shadowctl_signals(int argc, char **argv)
{
	struct st_cpc_opts o = { 0 };
	struct extra x = { .count = ST_CTL_SIGNALS_DEFAULT };
	struct st_ctl_request req = { .type = ST_CTL_SIGNALS };
	int rc = parse(argc, argv, "shadowctl signals [--count N] [--follow] [--socket PATH] "
		       "[--config FILE] [--json]\nThe latest N signals (default 50, oldest "
		       "first); --follow then prints each new one\nas it is raised, until "
		       "Ctrl-C.", &o, &x, false);

	if (rc >= 0)
		return rc;
	req.count = x.count;
	rc = one_call("signals", &o, &req, show_signals);
	if (rc || !x.follow)
		return rc;
	return follow(&o);
}

/* ---- decisions ---- */

static void show_decisions(const json_t *b)
{
	const json_t *d, *r, *t;
	size_t i, k;

	if (!json_is_true(json_object_get(b, "enabled"))) {
		printf("no pools in shadowtap-cp's config: it decides nothing\n");
		return;
	}
	json_array_foreach(json_object_get(b, "decisions"), i, d) {
		printf("#%" PRIu64 " %" PRIu64 " %-10s pool %-12s %s%s %-8s", u64(d, "id"),
		       u64(d, "time_ns"), str(d, "kind"), str(d, "pool"),
		       *str(d, "stream") ? "stream " : *str(d, "backend") ? "backend " : "",
		       *str(d, "stream") ? str(d, "stream") : str(d, "backend"),
		       str(d, "result"));
		if (*str(d, "result_why"))
			printf(" (%s)", str(d, "result_why"));
		putchar('\n');
		json_array_foreach(json_object_get(d, "reasons"), k, r)
			printf("    %-10s %s\n", str(r, "trigger"), str(r, "text"));
		printf("    table:");
		json_array_foreach(json_object_get(d, "table"), k, t)
			printf(" %s=%" PRIu64, str(t, "name"), u64(t, "weight"));
		putchar('\n');
	}
	printf("(%zu shown)\n", json_array_size(json_object_get(b, "decisions")));
}

int shadowctl_decisions(int argc, char **argv)
{
	struct st_cpc_opts o = { 0 };
	struct extra x = { .count = ST_CTL_SIGNALS_DEFAULT };
	struct st_ctl_request req = { .type = ST_CTL_DECISIONS };
	int rc = parse(argc, argv, "shadowctl decisions [--count N] [--socket PATH] "
		       "[--config FILE] [--json]\nThe latest N reconfiguration decisions "
		       "(default 50, oldest first): kind, pool,\nstream or backend, "
		       "result, reasons and the pool's table.", &o, &x, false);

	if (rc >= 0)
		return rc;
	req.count = x.count;
	return one_call("decisions", &o, &req, show_decisions);
}

/* ---- backends ---- */

static void show_figures_head(const char *what)
{
	printf("%-16s %-22s %12s %12s %10s %10s %10s %10s %10s\n", what, "ADDRESS",
	       "RECORDS/S", "BYTES/S", "RETRANS/S", "ZEROWIN/S", "P99 MS", "RECORDS",
	       "PACKETS");
}

static void show_figures(const char *name, const char *addr, const json_t *f)
{
	const json_t *p99 = json_object_get(f, "latency_p99_ms");
	char p99_text[32];

	if (json_is_number(p99))
		snprintf(p99_text, sizeof(p99_text), "%.3f", json_number_value(p99));
	else
		snprintf(p99_text, sizeof(p99_text), "-");
	printf("%-16s %-22s %12.1f %12.1f %10.2f %10.2f %10s %10" PRIu64 " %10" PRIu64 "\n",
	       name, addr, num(f, "records_per_s"), num(f, "bytes_per_s"),
	       num(f, "retransmissions_per_s"), num(f, "zero_windows_per_s"), p99_text,
	       u64(f, "records"), u64(f, "packets"));
}

static void show_backends(const json_t *b)
{
	const json_t *ep = json_object_get(b, "epoch"), *r;
	size_t i;

	if (!json_is_object(ep)) {
		printf("no Backend Metrics record read yet\n");
		return;
	}
	printf("epoch %" PRIu64 " (%.3f s)%s, %" PRIu64 " endpoint%s\n",
	       u64(ep, "epoch_start_ns"), (double)u64(ep, "epoch_ns") / 1e9,
	       json_is_true(json_object_get(ep, "partial")) ? " partial" : "",
	       u64(ep, "entries"), u64(ep, "entries") == 1 ? "" : "s");
	show_figures_head("BACKEND");
	json_array_foreach(json_object_get(b, "backends"), i, r)
		show_figures(str(r, "name"), str(r, "address"), json_object_get(r, "latest"));
	if (json_array_size(json_object_get(b, "unmatched"))) {
		printf("endpoints that match no backend:\n");
		show_figures_head("PROTO/PORT");
		json_array_foreach(json_object_get(b, "unmatched"), i, r) {
			char what[32];

			snprintf(what, sizeof(what), "%s/%" PRIu64, str(r, "protocol"),
				 u64(r, "port"));
			show_figures(what, str(r, "address"), json_object_get(r, "latest"));
		}
	}
}

int shadowctl_backends(int argc, char **argv)
{
	struct st_cpc_opts o = { 0 };
	struct extra x = { .count = ST_CTL_SIGNALS_DEFAULT };
	struct st_ctl_request req = { .type = ST_CTL_BACKENDS, .count = ST_CTL_SIGNALS_DEFAULT };
	int rc = parse(argc, argv, "shadowctl backends [--socket PATH] [--config FILE] [--json]\n"
		       "The latest epoch's figures per backend of shadowtap-cp's config (the\n"
		       "data plane's Backend Metrics: records/s, bytes/s, retransmissions/s,\n"
		       "zero windows/s the backend advertised, request latency p99), then\n"
		       "the endpoints that match no backend's address.  --json adds totals\n"
		       "since start.", &o, &x, false);

	if (rc >= 0)
		return rc;
	return one_call("backends", &o, &req, show_backends);
}

/* ---- models ---- */

static void show_models(const json_t *b)
{
	size_t i;
	const json_t *m;

	if (json_is_true(json_object_get(b, "requested")))
		printf("retraining requested\n");
	if (json_object_get(b, "models") && json_is_object(json_object_get(b, "models")))
		b = json_object_get(b, "models");
	json_array_foreach(json_object_get(b, "models"), i, m) {
		printf("%s (%s): version %" PRIu64 ", %" PRIu64 " trainings, %" PRIu64
		       " failed; %" PRIu64 " trees x %" PRIu64 " rows per tree, retrained every %"
		       PRIu64 " s\n", str(m, "name"), str(m, "kind"), u64(m, "version"),
		       u64(m, "trainings"), u64(m, "failures"), u64(m, "trees"),
		       u64(m, "sample"), u64(m, "refresh_s"));
		if (u64(m, "version"))
			printf("  trained on %" PRIu64 " rows; file %s\n", u64(m, "last_rows"),
			       str(m, "path"));
		else
			printf("  no model yet; file %s\n", str(m, "path"));
		if (*str(m, "last_error"))
			printf("  last failure: %s\n", str(m, "last_error"));
		if (*str(m, "load_error"))
			printf("  at start: %s\n", str(m, "load_error"));
	}
}

int shadowctl_models(int argc, char **argv)
{
	struct st_cpc_opts o = { 0 };
	struct extra x = { 0 };
	struct st_ctl_request req = { .type = ST_CTL_MODELS };
	int rc = parse(argc, argv, "shadowctl models [--retrain] [--socket PATH] [--config FILE] "
		       "[--json]\nThe models shadowtap-cp uses; --retrain asks it to retrain "
		       "them now.", &o, &x, false);

	if (rc >= 0)
		return rc;
	if (x.retrain)
		req.type = ST_CTL_MODELS_RETRAIN;
	return one_call("models", &o, &req, show_models);
}

/* ---- top ---- */

static const char *const blocks[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };

static void sparkline(const json_t *hist)
{
	size_t n = json_array_size(hist), from = n > SPARK_WIDTH ? n - SPARK_WIDTH : 0;
	double lo = INFINITY, hi = -INFINITY;

	for (size_t i = from; i < n; i++) {
		double v = json_number_value(json_array_get(hist, i));

		lo = fmin(lo, v);
		hi = fmax(hi, v);
	}
	for (size_t i = n - from; i < SPARK_WIDTH; i++)
		putchar(' ');
	for (size_t i = from; i < n; i++) {
		double v = json_number_value(json_array_get(hist, i));
		int level = hi > lo ? (int)((v - lo) / (hi - lo) * 7.0 + 0.5) : (v > 0 ? 3 : 0);

		fputs(blocks[level < 0 ? 0 : level > 7 ? 7 : level], stdout);
	}
}

static int by_rate(const void *a, const void *b)
{
	double ra = num(*(json_t *const *)a, "records_per_s");
	double rb = num(*(json_t *const *)b, "records_per_s");

	return ra < rb ? 1 : ra > rb ? -1 : 0;
}

static const char *severity_colour(const char *sev)
{
	if (!strcmp(sev, "high"))
		return "\033[1;31m";
	if (!strcmp(sev, "medium"))
		return "\033[33m";
	if (!strcmp(sev, "low"))
		return "\033[36m";
	return "\033[32m";
}

static void top_frame(const json_t *status, const json_t *streams, bool ansi)
{
	const json_t *rows = json_object_get(streams, "streams");
	const json_t *ring = json_object_get(status, "ring");
	size_t n = json_array_size(rows);
	json_t **sorted = calloc(n ? n : 1, sizeof(*sorted));
	time_t now = time(NULL);
	char clock[16];

	if (!sorted)
		return;
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_array_get(rows, i);
	qsort(sorted, n, sizeof(*sorted), by_rate);
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
	if (ansi)
		fputs("\033[H\033[2J", stdout);
	printf("%sshadowtap top%s  %s  streams %zu  profiles %" PRIu64 "  ring %s gen %" PRIu64
	       "  signals %" PRIu64 "%s\n", ansi ? "\033[1m" : "", ansi ? "\033[0m" : "", clock, n,
	       u64(json_object_get(status, "profiles"), "parsed"),
	       json_is_true(json_object_get(ring, "attached")) ? "attached" : "waiting",
	       u64(ring, "generation"), u64(json_object_get(status, "signals"), "raised"),
	       ansi ? "   (q quits)" : "");
	printf("%-24s %-5s %11s %11s %8s %6s %-6s  %-*s  %-*s\n", "STREAM", "PROTO", "RECORDS/S",
	       "BYTES/S", "KEYS", "TOP1", "SEV", SPARK_WIDTH, "RATE", SPARK_WIDTH, "CARDINALITY");
	for (size_t i = 0; i < n; i++) {
		const json_t *r = sorted[i];
		const char *sev = str(r, "severity");

		printf("%-24.24s %-5s %11.1f %11.1f %8.0f %6.3f %s%-6s%s  ", str(r, "name"),
		       str(r, "protocol"), num(r, "records_per_s"), num(r, "bytes_per_s"),
		       num(r, "cardinality"), num(r, "top1_share"),
		       ansi ? severity_colour(sev) : "", sev, ansi ? "\033[0m" : "");
		sparkline(json_object_get(r, "rate_history"));
		fputs("  ", stdout);
		sparkline(json_object_get(r, "cardinality_history"));
		putchar('\n');
	}
	fflush(stdout);
	free(sorted);
}

/* Waits up to ms for a key; true when it was q or Q. */
static bool quit_key(int ms)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	char ch;

	if (poll(&pfd, 1, ms) <= 0)
		return false;
	return read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q');
}

int shadowctl_top(int argc, char **argv)
{
	struct st_cpc_opts o = { 0 };
	struct extra x = { 0 };
	struct termios saved, raw;
	bool ansi = isatty(STDOUT_FILENO), keys = isatty(STDIN_FILENO);
	struct st_cpc c;
	int rc = parse(argc, argv, "shadowctl top [--once] [--socket PATH] [--config FILE]\n"
		       "Streams by rate, refreshed every second, with sparklines of their "
		       "rate and\ncardinality over the last epochs; q or Ctrl-C quits.  "
		       "--once prints one frame.", &o, &x, false);

	if (rc >= 0)
		return rc;
	if (st_cpc_open(&c, "top", &o))
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (x.once)
		keys = false;
	if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		keys = false;
	}
	rc = 0;
	while (!stop) {
		struct st_ctl_request sreq = { .type = ST_CTL_STATUS };
		struct st_ctl_request treq = { .type = ST_CTL_STREAMS, .history = true };
		json_t *status = NULL, *streams = NULL;

		if (st_cpc_call(&c, &sreq, &status) || st_cpc_call(&c, &treq, &streams)) {
			json_decref(status);
			rc = 1;
			break;
		}
		top_frame(status, streams, ansi);
		json_decref(status);
		json_decref(streams);
		if (x.once)
			break;
		if (keys ? quit_key(1000) : (sleep(1), false))
			break;
	}
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	st_cpc_close(&c);
	return rc;
}
