/*
 * Record-path benchmark: captures loaded into memory, then the whole path
 * of one core (dataplane/worker.h: decode, flows, reassembly, codec, JSON
 * fields and schema, sketches, epoch closes) run over them on this thread.
 * A fresh worker per repetition (TCP would otherwise see every segment
 * again as a retransmission); creating it is not timed.  Times are the
 * thread's CPU time, medians of the repetitions.
 *
 * Beside each file's figures, in the same run and on the same frames: the
 * decoder alone (st_decode over every frame), so that the ratio says what
 * the record path costs over reading the headers.
 *
 *   shadowtap-record-bench [--reps N] [--key PATH]... [--numeric PATH]... FILE...
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/config/config.h"
#include "control/config/classify.h"
#include "dataplane/decode/decode.h"
#include "dataplane/worker.h"
#include "tools/bench/bench_capture.h"
#include "tools/bench/bench_util.h"


static void no_stream(void *ctx, const struct st_worker_stream *s)
{
	(void)ctx;
	(void)s;
}

/* One pass of the record path; seconds, totals in *t. */
static double run_worker(const struct st_bench_capture *c, const struct st_worker_config *wc,
			 struct st_worker_totals *t)
{
	uint64_t epoch_ns = wc->sketch.epoch_ns;
	uint64_t start = c->ts[0] - c->ts[0] % epoch_ns;
	struct st_worker *w = st_worker_create(wc, start);
	double t0, t1;

	if (!w) {
		perror("worker");
		exit(1);
	}
	t0 = st_bench_cpu_seconds();
	for (size_t i = 0; i < c->n; i++) {
		if (c->ts[i] >= start + epoch_ns) {
			start = c->ts[i] - c->ts[i] % epoch_ns;
			st_worker_epoch_close(w, start, no_stream, NULL);
		}
		st_worker_frame(w, c->bytes + c->off[i], c->len[i], c->linktype, c->ts[i]);
	}
	st_worker_flush(w);
	st_worker_epoch_close(w, start + epoch_ns, no_stream, NULL);
	t1 = st_bench_cpu_seconds();
	st_worker_totals(w, t);
	st_worker_destroy(w);
	return t1 - t0;
}

static double run_decode(const struct st_bench_capture *c, uint64_t *ok)
{
	struct st_pkt p;
	double t0 = st_bench_cpu_seconds();

	*ok = 0;
	for (size_t i = 0; i < c->n; i++)
		*ok += st_decode(c->bytes + c->off[i], c->len[i], c->linktype, c->ts[i],
				 &p) == ST_DECODE_OK;
	return st_bench_cpu_seconds() - t0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct st_config *cfg = st_config_default();
	struct st_worker_config wc;
	int reps = 5, opt;
	char err[256];

	if (!cfg)
		return 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			reps = atoi(optarg);
			if (reps < 1 || reps > 1000) {
				fprintf(stderr, "--reps: 1..1000\n");
				return 2;
			}
			break;
		case 'k':
			if (st_config_add_key_field(cfg, optarg) < 0) {
				fprintf(stderr, "--key %s: not a JSON pointer\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: shadowtap-record-bench [--reps N] "
				"[--key PATH]... FILE...\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "shadowtap-record-bench: no capture given\n");
		return 2;
	}
	st_bench_print_env(argc, argv, NULL, false);
	if (st_classify_worker_config(cfg, &wc, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int f = optind; f < argc; f++) {
		struct st_bench_capture c;
		struct st_worker_totals t;
		double *path_s = calloc((size_t)reps, sizeof(double));
		double *dec_s = calloc((size_t)reps, sizeof(double));
		uint64_t ok = 0;

		if (!path_s || !dec_s || st_bench_capture_load(argv[f], &c) < 0 || c.n == 0) {
			fprintf(stderr, "%s: cannot load\n", argv[f]);
			return 1;
		}
		/* interleaved: decode pass, path pass, decode pass, ... */
		for (int r = 0; r < reps; r++) {
			dec_s[r] = run_decode(&c, &ok);
			path_s[r] = run_worker(&c, &wc, &t);
		}
		double med = st_bench_median(path_s, (unsigned)reps);
		double dmed = st_bench_median(dec_s, (unsigned)reps);
		uint64_t records = t.records + t.opaque_records;

		printf("figure: %s: %zu frames, %.1f MB, %" PRIu64 " records (%" PRIu64
		       " value bytes), median of %d runs\n", argv[f], c.n,
		       (double)c.bytes_len / 1e6, records, t.record_bytes, reps);
		printf("figure:   record path  %.3f s  %.2f Mrecords/s  %.2f Mframes/s  "
		       "%.2f GB/s of frames  %.2f GB/s of values  (%.1f ns/record)\n",
		       med, (double)records / med / 1e6, (double)c.n / med / 1e6,
		       (double)c.bytes_len / med / 1e9, (double)t.record_bytes / med / 1e9,
		       med * 1e9 / (double)(records ? records : 1));
		printf("figure:   decode only  %.3f s  %.2f Mframes/s  (%" PRIu64
		       " decoded)  path/decode time ratio %.1f\n", dmed,
		       (double)c.n / dmed / 1e6, ok, med / dmed);
		free(path_s);
		free(dec_s);
		st_bench_capture_free(&c);
	}
	st_config_destroy(cfg);
	return 0;
}
