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
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control/config/classify.h"
#include "dataplane/sketch/sset.h"
#include "backends_print.h"
#include "dataplane/backends/table.h"
#include "dataplane/worker.h"
#include "print.h"
#include "shadowctl.h"


struct analyze {
	bool json;
	uint64_t epoch_ns;
	uint8_t *record;            /* profile buffer, ST_PROFILE_MAX_BYTES */
	struct st_printer *printer;
	uint64_t profiles;
	uint64_t profile_errors;
	uint64_t epochs;
	/* Backend Metrics: each epoch's record (JSON lines), and the sum over
	 * the run (DDSketch merges are exact) in the last line */
	struct st_be_merge *be_epoch, *be_total;
	uint8_t *be_record;            /* ST_BACKENDS_MAX_BYTES */
	uint64_t first_epoch_ns;
	uint64_t backends_errors;
	/* progress on a terminal */
	bool progress;
	off_t file_bytes;
	struct timespec last_progress;
};

/* Builds the stream's profile record and prints it from the record. */
static void on_stream(void *ctx, const struct st_worker_stream *ws)
{
	struct analyze *a = ctx;
	struct st_profile_meta meta = {
		.name = ws->def->name,
		.epoch_start_ns = st_sset_epoch_start_ns(ws->set),
		.epoch_ns = a->epoch_ns,
		.cores_merged = 1,
		.cores_expected = 1,
		.protocol = (uint8_t)ws->proto,
	};
	const char *why = NULL;
	ssize_t len;
	int rc;

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
	rc = st_printer_record(a->printer, a->record, (size_t)len, &why);
	if (rc < 0) {
		fprintf(stderr, "shadowctl analyze: %s: profile rejected: %s\n",
			ws->def->name, why ? why : strerror(-rc));
		a->profile_errors++;
		return;
	}
	a->profiles++;
}

/* Builds the record of m under meta and prints it; false when it could not
 * be built or was refused (counted). */
static bool print_backends(struct analyze *a, struct st_be_merge *m,
			   const struct st_backends_meta *meta)
{
	const char *why = NULL;
	ssize_t len = st_be_merge_build(m, meta, a->be_record, ST_BACKENDS_MAX_BYTES);
	int rc;

	if (len < 0) {
		fprintf(stderr, "shadowctl analyze: backends record not built: %s\n",
			strerror((int)-len));
		a->backends_errors++;
		return false;
	}
	rc = st_backends_print(stdout, a->be_record, (size_t)len, a->json, &why);
	if (rc < 0) {
		fprintf(stderr, "shadowctl analyze: backends record rejected: %s\n",
			why ? why : strerror(-rc));
		a->backends_errors++;
		return false;
	}
	return true;
}

/* The epoch's endpoints (before st_worker_epoch_close resets them): one
 * JSON line per epoch; every epoch adds to the run's total. */
static void on_backends(struct analyze *a, const struct st_worker *w, uint64_t start_ns)
{
	const struct st_be_table *t = st_worker_backends(w);
	const struct st_backends_meta meta = {
		.epoch_start_ns = start_ns, .epoch_ns = a->epoch_ns,
		.cores_merged = 1, .cores_expected = 1,
	};

	if (!a->first_epoch_ns)
		a->first_epoch_ns = start_ns;
	if (st_be_merge_add(a->be_total, t) != 0)
		a->backends_errors++;
	if (!a->json)
		return;
	st_be_merge_begin(a->be_epoch);
	if (st_be_merge_add(a->be_epoch, t) != 0)
		a->backends_errors++;
	if (print_backends(a, a->be_epoch, &meta))
		fputc('\n', stdout);
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

	{
		const struct st_classify_options co = {
			.config_path = config_path, .keys = keys, .n_keys = n_keys,
			.protos = protos, .n_protos = n_protos,
			.epoch_ms = (unsigned long long)epoch_ms,
		};
		int e = st_classify_from_options(&co, &cfg, &wc, errbuf, sizeof(errbuf));

		if (e < 0) {
			fprintf(stderr, "shadowctl analyze: %s\n", errbuf);
			return e == -EINVAL ? 2 : 1;
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
	a.printer = st_printer_create(a.json);
	a.be_record = malloc(ST_BACKENDS_MAX_BYTES);
	a.be_epoch = st_be_merge_create();
	a.be_total = st_be_merge_create();
	if (!a.record || !a.printer || !a.be_record || !a.be_epoch || !a.be_total) {
		fprintf(stderr, "shadowctl analyze: %s\n", strerror(ENOMEM));
		goto out_record;
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

			on_backends(&a, w, epoch_start);
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
		on_backends(&a, w, epoch_start);
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
		/* the endpoints over the whole run: one record spanning every
		 * epoch, its "backends" array the per-endpoint totals */
		fputs("},\"backends_total\":", stdout);
		if (!w || !print_backends(&a, a.be_total, &(struct st_backends_meta){
				.epoch_start_ns = a.first_epoch_ns,
				.epoch_ns = a.epochs * a.epoch_ns,
				.cores_merged = 1, .cores_expected = 1 }))
			fputs("null", stdout);
		fputs("}\n", stdout);
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
		print_backends(&a, a.be_total, &(struct st_backends_meta){
				.epoch_start_ns = a.first_epoch_ns,
				.epoch_ns = a.epochs * a.epoch_ns,
				.cores_merged = 1, .cores_expected = 1 });
	} else {
		printf("total: 0 frames\n");
	}
	rc = a.profile_errors || a.backends_errors ? 1 : 0;
out_worker:
	st_worker_destroy(w);
out_record:
	free(a.record);
	free(a.be_record);
	st_be_merge_destroy(a.be_epoch);
	st_be_merge_destroy(a.be_total);
out_pcap:
	pcap_close(pc);
out_config:
	st_printer_destroy(a.printer);
	st_config_destroy(cfg);
	return rc;
}
