/*
 * shadowctl analyze FILE: the whole record path offline on a capture.
 *
 * libpcap reads the file (pcap or pcapng, any link type the decoder knows);
 * one worker (dataplane/worker.h) turns frames into per-stream sketch sets;
 * epochs are cut by the capture's own timestamps, aligned to multiples of
 * the epoch length since the Unix epoch, as the live data plane aligns them
 * to wall-clock seconds.  At each epoch's end every active stream's set
 * becomes a Shadow Profile record (shadowtap/profile.h), which is parsed
 * back and printed from the parsed record: what is printed is what would
 * cross the ring to the control plane.
 *
 * Schema drift is judged here against the stream's first epoch: fields
 * added, fields missing, and fields whose type set changed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classify.h"
#include "dataplane/sketch/heavy.h"
#include "dataplane/sketch/quantile.h"
#include "dataplane/sketch/schema.h"
#include "dataplane/sketch/sset.h"
#include "dataplane/worker.h"
#include "jsonw.h"
#include "shadowctl.h"

#define TOP_KEYS_SHOWN 10
#define DRIFT_SHOWN 8

/* The first epoch's schema of a stream, kept for drift. */
struct baseline {
	char name[ST_PROFILE_NAME_BYTES];
	unsigned n;
	struct st_schema_entry *entries;
	struct baseline *next;
};

struct analyze {
	bool json;
	uint64_t epoch_ns;
	uint8_t *record;            /* profile buffer, ST_PROFILE_MAX_BYTES */
	struct baseline *baselines;
	uint64_t profiles;
	uint64_t profile_errors;
	uint64_t epochs;
	/* progress on a terminal */
	bool progress;
	off_t file_bytes;
	struct timespec last_progress;
};

static const char *const type_names[] = {
	"null", "false", "true", "number", "string", "object", "array",
};

static void print_types(FILE *out, uint8_t mask, bool json)
{
	bool first = true;

	if (json)
		fputc('[', out);
	for (unsigned i = 0; i < 7; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (json)
			fprintf(out, "%s\"%s\"", first ? "" : ",", type_names[i]);
		else
			fprintf(out, "%s%s", first ? "" : "|", type_names[i]);
		first = false;
	}
	if (json)
		fputc(']', out);
}

static struct baseline *baseline_find(struct analyze *a, const char *name)
{
	for (struct baseline *b = a->baselines; b; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

static int baseline_add(struct analyze *a, const char *name,
			const struct st_schema_entry *e, unsigned n)
{
	struct baseline *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->entries = calloc(n ? n : 1, sizeof(*e));
	if (!b->entries) {
		free(b);
		return -ENOMEM;
	}
	memcpy(b->entries, e, n * sizeof(*e));
	b->n = n;
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->next = a->baselines;
	a->baselines = b;
	return 0;
}

static const struct st_schema_entry *entry_find(const struct st_schema_entry *e,
						unsigned n, uint64_t hash)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].path_hash == hash)
			return &e[i];
	return NULL;
}

/* Drift of `cur` against the baseline: added, missing, type-changed. */
static void print_drift(FILE *out, const struct baseline *b,
			const struct st_schema_entry *cur, unsigned n, bool json)
{
	static const char *const kinds[] = { "added", "missing", "type_changed" };
	unsigned total = 0;

	if (json)
		fputs(",\"schema_drift\":{", out);
	for (unsigned k = 0; k < 3; k++) {
		unsigned shown = 0, count = 0;

		if (json)
			fprintf(out, "%s\"%s\":[", k ? "," : "", kinds[k]);
		/* added and type_changed walk the current schema, missing the
		 * baseline */
		const struct st_schema_entry *set = k == 1 ? b->entries : cur;
		unsigned set_n = k == 1 ? b->n : n;

		for (unsigned i = 0; i < set_n; i++) {
			const struct st_schema_entry *other =
				k == 1 ? entry_find(cur, n, set[i].path_hash)
				       : entry_find(b->entries, b->n, set[i].path_hash);
			bool hit = k == 0 ? !other
				 : k == 1 ? !other
				 : other && other->type_mask != set[i].type_mask;

			if (!hit)
				continue;
			count++;
			if (json) {
				fputs(shown ? ",{\"path\":" : "{\"path\":", out);
				st_jw_str(out, set[i].path, set[i].path_len);
				if (k == 2) {
					fputs(",\"was\":", out);
					print_types(out, other->type_mask, true);
					fputs(",\"now\":", out);
					print_types(out, set[i].type_mask, true);
				}
				fputc('}', out);
				shown++;
			} else if (shown < DRIFT_SHOWN) {
				fprintf(out, "%s%c%.*s", shown ? ", " : total ? "; " : "",
					k == 0 ? '+' : k == 1 ? '-' : '~',
					(int)set[i].path_len, set[i].path);
				if (k == 2) {
					fputs(" ", out);
					print_types(out, other->type_mask, false);
					fputs("->", out);
					print_types(out, set[i].type_mask, false);
				}
				shown++;
			}
		}
		if (json)
			fputc(']', out);
		else if (count > shown)
			fprintf(out, " (+%u more)", count - shown);
		total += count;
	}
	if (json)
		fputc('}', out);
	else if (!total)
		fputs("none", out);
}

static void print_top_keys_json(FILE *out, const struct st_hh *hh)
{
	struct st_hh_item items[TOP_KEYS_SHOWN];
	size_t n = st_hh_top(hh, items, TOP_KEYS_SHOWN);

	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{\"key\":" : "{\"key\":", out);
		st_jw_str(out, items[i].key, items[i].sample_len);
		fprintf(out, ",\"count\":%" PRIu64 ",\"error\":%" PRIu64 "}",
			items[i].count, items[i].error);
	}
	fputc(']', out);
}

static void print_top_keys_text(FILE *out, const struct st_hh *hh)
{
	struct st_hh_item items[5];
	size_t n = st_hh_top(hh, items, 5);

	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", out);
		for (unsigned j = 0; j < items[i].sample_len; j++) {
			uint8_t c = items[i].key[j];
			fputc(c >= 0x20 && c < 0x7f ? c : '.', out);
		}
		if (items[i].key_len > items[i].sample_len)
			fputs("...", out);
		fprintf(out, " %" PRIu64, items[i].count);
	}
}

/* A name of a key or numeric field for output. */
static const char *field_name(const struct st_profile_view *v, bool key, unsigned i)
{
	const char *n = key ? v->meta.key_field_names[i] : v->meta.numeric_field_names[i];
	return n ? n : "?";
}

static void emit_json(const struct st_profile_view *v,
		      const struct st_sset *set, enum st_proto proto,
		      const struct st_schema_entry *entries, unsigned n_entries,
		      const struct baseline *base)
{
	FILE *out = stdout;
	const struct st_profile_counters *c = &v->counters;
	const struct st_profile_summary *s = &v->summary;
	double secs = (double)v->meta.epoch_ns / 1e9;

	fputs("{\"stream\":", out);
	st_jw_str(out, v->meta.name, strlen(v->meta.name));
	fprintf(out, ",\"protocol\":\"%s\",\"epoch_start_ns\":%" PRIu64
		",\"epoch_ns\":%" PRIu64 ",\"records\":%" PRIu64
		",\"bytes\":%" PRIu64 ",\"egress_records\":%" PRIu64
		",\"packets\":%" PRIu64 ",\"flows_active\":%" PRIu64
		",\"flows_new\":%" PRIu64 ",\"rate\":",
		st_proto_name(proto), v->meta.epoch_start_ns, v->meta.epoch_ns,
		c->records, c->bytes, c->egress_records, c->packets, c->flows_active,
		c->flows_new);
	st_jw_num(out, (double)c->records / secs);
	fputs(",\"cardinality\":{", out);
	for (unsigned i = 0; i < v->key_fields; i++) {
		fputs(i ? "," : "", out);
		st_jw_str(out, field_name(v, true, i), strlen(field_name(v, true, i)));
		fputc(':', out);
		st_jw_num(out, round(s->cardinality[i]));
	}
	fputs("},\"top_keys\":", out);
	print_top_keys_json(out, st_sset_heavy_ro(set, 0));
	fputs(",\"top_keys_by_field\":{", out);
	for (unsigned i = 0; i < v->key_fields; i++) {
		fputs(i ? "," : "", out);
		st_jw_str(out, field_name(v, true, i), strlen(field_name(v, true, i)));
		fputc(':', out);
		print_top_keys_json(out, st_sset_heavy_ro(set, i));
	}
	fputs("},\"top1_share\":", out);
	st_jw_num(out, s->top1_share[0]);
	fputs(",\"topk_share\":", out);
	st_jw_num(out, s->topk_share[0]);
	fputs(",\"entropy_norm\":", out);
	st_jw_num(out, s->entropy_norm[0]);
	fputs(",\"gini\":", out);
	st_jw_num(out, s->gini[0]);
	fputs(",\"size_quantiles\":{\"p50\":", out);
	st_jw_num(out, s->size_p50);
	fputs(",\"p90\":", out);
	st_jw_num(out, s->size_p90);
	fputs(",\"p99\":", out);
	st_jw_num(out, s->size_p99);
	fputs("},\"numeric_quantiles\":{", out);
	for (unsigned i = 0; i < v->numeric_fields; i++) {
		const struct st_qs *q = st_sset_numeric_qs_ro(set, i);
		bool empty = st_qs_count(q) == 0;

		fputs(i ? "," : "", out);
		st_jw_str(out, field_name(v, false, i), strlen(field_name(v, false, i)));
		fprintf(out, ":{\"count\":%" PRIu64 ",\"p50\":", st_qs_count(q));
		st_jw_num(out, empty ? NAN : st_qs_estimate(q, 0.5));
		fputs(",\"p90\":", out);
		st_jw_num(out, empty ? NAN : st_qs_estimate(q, 0.9));
		fputs(",\"p99\":", out);
		st_jw_num(out, empty ? NAN : st_qs_estimate(q, 0.99));
		fputc('}', out);
	}
	fprintf(out, "},\"schema_fingerprint\":\"%016" PRIx64 "\",\"schema_fields\":[",
		s->schema_fingerprint);
	for (unsigned i = 0; i < n_entries; i++) {
		fputs(i ? ",{\"path\":" : "{\"path\":", out);
		st_jw_str(out, entries[i].path, entries[i].path_len);
		fputs(",\"types\":", out);
		print_types(out, entries[i].type_mask, true);
		fprintf(out, ",\"count\":%" PRIu64 "}", entries[i].count);
	}
	fputc(']', out);
	if (base)
		print_drift(out, base, entries, n_entries, true);
	fprintf(out, ",\"reassembly_gaps\":%" PRIu64 ",\"parse_errors\":{"
		"\"json_invalid\":%" PRIu64 ",\"codec\":%" PRIu64 "}"
		",\"drops\":{\"value_truncated\":%" PRIu64 "}",
		c->reassembly_gaps, c->parse_errors[ST_WORKER_PERR_JSON_INVALID],
		c->parse_errors[ST_WORKER_PERR_CODEC],
		c->drops[ST_WORKER_SDROP_VALUE_TRUNCATED]);
	if (v->kafka_partitions) {
		fputs(",\"kafka_partitions\":[", out);
		for (unsigned i = 0; i < v->kafka_partitions; i++)
			fprintf(out, "%s%" PRIu64, i ? "," : "", c->kafka_partition[i]);
		fputs("],\"kafka_imbalance\":", out);
		st_jw_num(out, s->kafka_imbalance);
	}
	fputs("}\n", out);
}

static void format_time(char *buf, size_t len, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;

	char date[32];

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", date,
		 (unsigned)(ns % 1000000000u / 1000000u));
}

static void emit_text(const struct st_profile_view *v,
		      const struct st_sset *set, enum st_proto proto,
		      const struct st_schema_entry *entries, unsigned n_entries,
		      const struct baseline *base)
{
	FILE *out = stdout;
	const struct st_profile_counters *c = &v->counters;
	const struct st_profile_summary *s = &v->summary;
	double secs = (double)v->meta.epoch_ns / 1e9;
	char when[48];

	format_time(when, sizeof(when), v->meta.epoch_start_ns);
	fprintf(out, "%s  %-28s %-5s records %" PRIu64 " (%.0f/s)  bytes %" PRIu64,
		when, v->meta.name, st_proto_name(proto), c->records,
		(double)c->records / secs, c->bytes);
	if (c->egress_records)
		fprintf(out, "  egress %" PRIu64, c->egress_records);
	if (c->reassembly_gaps)
		fprintf(out, "  gaps %" PRIu64, c->reassembly_gaps);
	fputc('\n', out);
	for (unsigned i = 0; i < v->key_fields; i++) {
		const struct st_hh *hh = st_sset_heavy_ro(set, i);

		if (st_hh_total(hh) == 0)
			continue;
		fprintf(out, "    key %-12s distinct ~%.0f  top1 %.1f%%  topk %.1f%%"
			"  entropy %.2f  gini %.2f\n      top: ",
			field_name(v, true, i), s->cardinality[i],
			100 * s->top1_share[i], 100 * s->topk_share[i],
			s->entropy_norm[i], s->gini[i]);
		print_top_keys_text(out, hh);
		fputc('\n', out);
	}
	if (c->records)
		fprintf(out, "    size p50/p90/p99 %.0f/%.0f/%.0f B", s->size_p50,
			s->size_p90, s->size_p99);
	for (unsigned i = 0; i < v->numeric_fields; i++) {
		const struct st_qs *q = st_sset_numeric_qs_ro(set, i);

		if (st_qs_count(q) == 0)
			continue;
		fprintf(out, "   %s p50/p90/p99 %.4g/%.4g/%.4g", field_name(v, false, i),
			st_qs_estimate(q, 0.5), st_qs_estimate(q, 0.9),
			st_qs_estimate(q, 0.99));
	}
	if (c->records)
		fputc('\n', out);
	if (n_entries) {
		fprintf(out, "    schema %u fields, fingerprint %016" PRIx64, n_entries,
			s->schema_fingerprint);
		if (base) {
			fputs(", drift vs first epoch: ", out);
			print_drift(out, base, entries, n_entries, false);
		}
		fputc('\n', out);
	}
}

/* Builds the stream's profile record, parses it back, prints it. */
static void on_stream(void *ctx, const struct st_worker_stream *ws)
{
	struct analyze *a = ctx;
	struct st_profile_meta meta = {
		.name = ws->def->name,
		.epoch_start_ns = st_sset_epoch_start_ns(ws->set),
		.epoch_ns = a->epoch_ns,
		.cores_merged = 1,
		.cores_expected = 1,
	};
	struct st_schema_entry *entries = NULL;
	struct st_profile_view v;
	struct st_sset *set = NULL;
	const struct baseline *base;
	const char *why = NULL;
	ssize_t len;
	unsigned n;

	memcpy(meta.key_field_names, ws->key_field_names, sizeof(meta.key_field_names));
	memcpy(meta.numeric_field_names, ws->numeric_field_names,
	       sizeof(meta.numeric_field_names));
	len = st_profile_build(ws->set, &meta, a->record, ST_PROFILE_MAX_BYTES);
	if (len < 0) {
		fprintf(stderr, "shadowctl analyze: %s: profile not built: %s\n",
			ws->def->name, strerror((int)-len));
		a->profile_errors++;
		return;
	}
	if (st_profile_parse(a->record, (size_t)len, &v, &why) < 0 ||
	    !(set = st_sset_from_profile(&v, &why))) {
		fprintf(stderr, "shadowctl analyze: %s: profile rejected: %s\n",
			ws->def->name, why ? why : "?");
		a->profile_errors++;
		return;
	}
	a->profiles++;
	n = st_schema_size(st_sset_schema_ro(set));
	entries = calloc(n ? n : 1, sizeof(*entries));
	if (!entries) {
		a->profile_errors++;
		goto out_set;
	}
	n = (unsigned)st_schema_entries(st_sset_schema_ro(set), entries, n);
	base = baseline_find(a, v.meta.name);
	if (!base && n)
		baseline_add(a, v.meta.name, entries, n);
	if (a->json)
		emit_json(&v, set, ws->proto, entries, n, base);
	else
		emit_text(&v, set, ws->proto, entries, n, base);
	free(entries);
out_set:
	st_sset_destroy(set);
}

static void progress(struct analyze *a, pcap_t *pc, uint64_t frames, bool done)
{
	struct timespec now;
	long pos;

	if (!a->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!done && (now.tv_sec - a->last_progress.tv_sec) * 1000000000l +
			     (now.tv_nsec - a->last_progress.tv_nsec) < 250000000l)
		return;
	a->last_progress = now;
	pos = ftell(pcap_file(pc));
	if (a->file_bytes > 0 && pos >= 0)
		fprintf(stderr, "\ranalyze: %5.1f%%  %" PRIu64 " frames  %" PRIu64 " epochs",
			done ? 100.0 : 100.0 * (double)pos / (double)a->file_bytes,
			frames, a->epochs);
	if (done)
		fputs("\n", stderr);
}

static void usage(FILE *out)
{
	fputs(
"usage: shadowctl analyze FILE [--config F] [--key PATH]... [--proto PORT=PROTOCOL]...\n"
"                         [--epoch-ms N] [--json]\n"
"\n"
"Runs shadowtap's record path offline on a capture: decode, flows, TCP\n"
"reassembly, the Kafka/MQTT/NATS/JSONL codecs, JSON fields, sketches, and one\n"
"Shadow Profile per stream per epoch, with epochs cut by the capture's own\n"
"timestamps (aligned to multiples of the epoch length).\n"
"\n"
"  FILE                 a pcap or pcapng file (Ethernet, VLAN/QinQ, Linux cooked,\n"
"                       BSD loopback or raw IP link types)\n"
"  --config F           the shadowtap config file (port map, stream rules, key and\n"
"                       numeric fields, sketch sizes); default: built-in defaults\n"
"                       (9092 kafka, 1883 mqtt, 4222 nats, 5140 jsonl)\n"
"  --key PATH           add the JSON pointer PATH (e.g. /user/id) as a key field of\n"
"                       every stream; repeatable.  The Kafka record key is always a\n"
"                       key field (named @key)\n"
"  --proto PORT=PROTO   map a port to a protocol (kafka, mqtt, nats, jsonl), e.g.\n"
"                       9093=kafka or 5141/udp=jsonl; repeatable\n"
"  --epoch-ms N         epoch length in milliseconds (default: the config's, 1000)\n"
"  --json               one JSON object per stream per epoch (JSON lines), then one\n"
"                       object of counters; default: a text report\n"
"  -h, --help           this help\n"
"\n"
"Progress is shown on stderr when it is a terminal.  Exit status: 0, 1 on a\n"
"read or processing error, 2 on bad usage.\n", out);
}

int shadowctl_analyze(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "proto", required_argument, NULL, 'p' },
		{ "epoch-ms", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *path;
	char *keys[ST_SSET_KEY_FIELDS_MAX * 4], *protos[256];
	unsigned n_keys = 0, n_protos = 0;
	long long epoch_ms = 0;
	struct analyze a = { 0 };
	struct st_config *cfg = NULL;
	struct st_worker_config wc;
	struct st_worker *w = NULL;
	char errbuf[PCAP_ERRBUF_SIZE > 512 ? PCAP_ERRBUF_SIZE : 512];
	struct pcap_pkthdr *h;
	const uint8_t *frame;
	uint64_t epoch_start = 0, frames = 0;
	pcap_t *pc = NULL;
	struct stat st;
	int opt, rc = 1, linktype, nsec;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'k':
			if (n_keys == ST_ARRAY_SIZE(keys)) {
				fprintf(stderr, "shadowctl analyze: too many --key options\n");
				return 2;
			}
			keys[n_keys++] = optarg;
			break;
		case 'p':
			if (n_protos == ST_ARRAY_SIZE(protos)) {
				fprintf(stderr, "shadowctl analyze: too many --proto options\n");
				return 2;
			}
			protos[n_protos++] = optarg;
			break;
		case 'e': {
			char *end;

			errno = 0;
			epoch_ms = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || epoch_ms < 1 ||
			    epoch_ms > 3600000) {
				fprintf(stderr, "shadowctl analyze: --epoch-ms: '%s' is not a "
					"number of milliseconds in 1..3600000\n", optarg);
				return 2;
			}
			break;
		}
		case 'j':
			a.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "shadowctl analyze: expected one capture FILE\n");
		usage(stderr);
		return 2;
	}
	path = argv[optind];

	cfg = config_path ? st_config_load(config_path, errbuf, sizeof(errbuf))
			  : st_config_default();
	if (!cfg) {
		fprintf(stderr, "shadowctl analyze: %s\n",
			config_path ? errbuf : strerror(errno));
		return config_path ? 2 : 1;
	}
	for (unsigned i = 0; i < n_keys; i++) {
		int err = st_config_add_key_field(cfg, keys[i]);
		const char *why = NULL;

		if (err == -EINVAL)
			st_config_check_pointer(keys[i], &why);
		if (err < 0) {
			fprintf(stderr, "shadowctl analyze: --key %s: %s\n", keys[i],
				err == -E2BIG ? "a stream would have more key fields than "
						"it may (4, the Kafka record key included)"
					      : why ? why : "not a JSON pointer");
			rc = 2;
			goto out_config;
		}
	}
	for (unsigned i = 0; i < n_protos; i++) {
		if (st_config_apply_port_override(cfg, protos[i], errbuf, sizeof(errbuf)) < 0) {
			fprintf(stderr, "shadowctl analyze: --proto: %s\n", errbuf);
			rc = 2;
			goto out_config;
		}
	}
	if (st_classify_worker_config(cfg, &wc, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "shadowctl analyze: %s\n", errbuf);
		rc = 2;
		goto out_config;
	}
	if (epoch_ms) {
		wc.sketch.epoch_ns = (uint64_t)epoch_ms * 1000000u;
		if (wc.sketch.epoch_ns % wc.sketch.n_ticks) {
			fprintf(stderr, "shadowctl analyze: --epoch-ms %lld: the %u ticks "
				"per epoch do not divide it\n", epoch_ms, wc.sketch.n_ticks);
			rc = 2;
			goto out_config;
		}
	}

	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO,
						     errbuf);
	if (!pc) {
		fprintf(stderr, "shadowctl analyze: %s\n", errbuf);
		goto out_config;
	}
	linktype = pcap_datalink(pc);
	nsec = pcap_get_tstamp_precision(pc) == PCAP_TSTAMP_PRECISION_NANO;
	if (!st_worker_linktype_supported(linktype)) {
		fprintf(stderr, "shadowctl analyze: %s: link type %s (%d) is not supported\n",
			path, pcap_datalink_val_to_name(linktype) ?
			pcap_datalink_val_to_name(linktype) : "?", linktype);
		goto out_pcap;
	}
	a.record = malloc(ST_PROFILE_MAX_BYTES);
	if (!a.record) {
		fprintf(stderr, "shadowctl analyze: %s\n", strerror(ENOMEM));
		goto out_pcap;
	}
	a.epoch_ns = wc.sketch.epoch_ns;
	a.progress = isatty(STDERR_FILENO);
	if (stat(path, &st) == 0)
		a.file_bytes = st.st_size;

	while ((opt = pcap_next_ex(pc, &h, &frame)) == 1) {
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u +
			      (uint64_t)h->ts.tv_usec * (nsec ? 1u : 1000u);

		if (!w) {
			epoch_start = ts - ts % a.epoch_ns;
			w = st_worker_create(&wc, epoch_start);
			if (!w) {
				fprintf(stderr, "shadowctl analyze: worker: %s\n",
					strerror(errno));
				goto out_record;
			}
		}
		if (ts >= epoch_start + a.epoch_ns) {
			uint64_t next = ts - ts % a.epoch_ns;

			st_worker_epoch_close(w, next, on_stream, &a);
			a.epochs++;
			epoch_start = next;
		}
		st_worker_frame(w, frame, h->caplen, linktype, ts);
		frames++;
		if ((frames & 0xfff) == 0)
			progress(&a, pc, frames, false);
	}
	if (opt == PCAP_ERROR_BREAK && w) {  /* the end of the file */
		st_worker_flush(w);
		st_worker_epoch_close(w, epoch_start + a.epoch_ns, on_stream, &a);
		a.epochs++;
	}
	progress(&a, pc, frames, true);
	if (opt == PCAP_ERROR) {
		fprintf(stderr, "shadowctl analyze: %s: %s\n", path, pcap_geterr(pc));
		goto out_worker;
	}
	if (a.json) {
		fprintf(stdout, "{\"counters\":{\"frames\":%" PRIu64 ",\"epochs\":%" PRIu64
			",\"profiles\":%" PRIu64 ",\"profile_errors\":%" PRIu64 ",\"worker\":",
			frames, a.epochs, a.profiles, a.profile_errors);
		if (w)
			st_worker_stats_json(w, stdout);
		else
			fputs("null", stdout);
		fputs("}}\n", stdout);
	} else if (w) {
		struct st_worker_totals t;

		st_worker_totals(w, &t);
		printf("total: %" PRIu64 " frames (%" PRIu64 " decoded), %" PRIu64
		       " records (%" PRIu64 " in compressed batches), %" PRIu64
		       " egress, %u streams, %" PRIu64 " epochs, %" PRIu64
		       " reassembly gaps, %" PRIu64 " parse errors, %" PRIu64 " drops\n",
		       t.frames, t.frames_decoded, t.records + t.opaque_records,
		       t.opaque_records, t.egress_records, t.streams, a.epochs,
		       t.reassembly_gaps, t.parse_errors, t.drops);
	} else {
		printf("total: 0 frames\n");
	}
	rc = a.profile_errors ? 1 : 0;
out_worker:
	st_worker_destroy(w);
out_record:
	free(a.record);
out_pcap:
	pcap_close(pc);
out_config:
	while (a.baselines) {
		struct baseline *b = a.baselines;

		a.baselines = b->next;
		free(b->entries);
		free(b);
	}
	st_config_destroy(cfg);
	return rc;
}
