/*
 * Data-plane benchmark helper (tools/bench/run-dp-bench drives it).
 *
 *   gen-jsonl OUT [--datagrams N] [--flows F] [--keys K] [--part I/N]
 *       JSON lines over UDP to 10.0.0.40:5140, one minimal record per
 *       datagram: {"id":K}\n (K = datagram index mod keys), from F client
 *       endpoints; with --part only the flows f with f % N == I.
 *   gen-kafka OUT [--requests N] [--conns C] [--batch B] [--value-bytes V]
 *                 [--part I/N]
 *       C TCP connections to 10.0.0.10:9092, each a handshake, Produce v8
 *       requests (acks=0: no responses, a fire-and-forget producer) of one
 *       RecordBatch v2 of B uncompressed records whose JSON values are V
 *       bytes, then FIN both ways; the connections' requests interleave.
 *       Whole flows, so that a file replayed by net_pcap's infinite_rx
 *       starts every flow again with its SYN.
 *   offline FILE... [--passes N] [--key PATH]... [--no-shapes]
 *       The record path of one core (dataplane/worker.h) over each capture
 *       loaded into memory, N passes (a fresh worker each: TCP would see a
 *       second pass as retransmissions; creating it is not timed).  Prints
 *       TSC cycles per frame and per record over the timed loop, the thread's
 *       CPU time, and — in the shadowtap-dp-bench-stages build, whose record
 *       path is compiled with -DST_STAGE_CYCLES — the cycles of each stage
 *       (worker.h, st_worker_stage_cycles), their sum, the number of TSC
 *       reads and what one read costs (measured here), so that the overhead
 *       of the accounting can be checked against the uninstrumented build.
 *       A "json:" line repeats the numbers for the driver.  --no-shapes:
 *       every JSON value gets the full scan, no shape template
 *       (dataplane/json/json_tmpl.h), for the same run's comparison.
 *   tsc
 *       The TSC frequency measured against CLOCK_MONOTONIC_RAW.
 *   pingpong CPU_A CPU_B
 *       The round trip of one cache line between two CPUs, in ns.
 *
 * Benchmark code only: nothing here is on a product path.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "control/config/classify.h"
#include "control/config/config.h"
#include "dataplane/compiler.h"
#include "dataplane/worker.h"
#include "tools/bench/bench_capture.h"
#include "tools/bench/bench_util.h"
#include "tools/gen/gen.h"

#define TRACE_START_NS (1767225600ll * ST_GEN_NS_PER_S)   /* 2026-01-01 */
#define MSS_BYTES 1460u

/* ---- generators -------------------------------------------------------- */

struct part {
	unsigned index, count;     /* flows f with f % count == index */
};

static int parse_part(const char *text, struct part *p)
{
	if (sscanf(text, "%u/%u", &p->index, &p->count) != 2 || p->count == 0 ||
	    p->index >= p->count) {
		fprintf(stderr, "--part: I/N with I < N\n");
		return -1;
	}
	return 0;
}

static void flow_init(struct st_gen_flow *f, bool udp, unsigned client,
		      const uint8_t server[4], uint16_t server_port)
{
	memset(f, 0, sizeof(*f));
	f->udp = udp;
	f->mac[0][0] = 0x02;
	f->mac[0][4] = (uint8_t)(client >> 8);
	f->mac[0][5] = (uint8_t)client;
	f->mac[1][0] = 0x02;
	f->mac[1][5] = 0xfe;
	f->addr[0][0] = 10;
	f->addr[0][1] = 1;
	f->addr[0][2] = (uint8_t)(client >> 8);
	f->addr[0][3] = (uint8_t)(client + 1);
	memcpy(f->addr[1], server, 4);
	f->port[0] = (uint16_t)(40000 + client % 20000);
	f->port[1] = server_port;
	f->next_seq[0] = 1000000u + 7919u * client;
	f->next_seq[1] = 5000000u + 104729u * client;
}

static int put(struct st_gen_sink *sink, int64_t *ts_ns, const uint8_t *frame, size_t len)
{
	*ts_ns += 1000;            /* one frame per microsecond of trace time */
	return st_gen_sink_put(sink, *ts_ns, frame, len);
}

static int gen_jsonl(const char *out, unsigned long datagrams, unsigned flows,
		     unsigned long keys, struct part part)
{
	static const uint8_t server[4] = { 10, 0, 0, 40 };
	struct st_gen_flow *f = calloc(flows, sizeof(*f));
	uint8_t frame[ST_GEN_FRAME_MAX];
	char err[256], payload[64];
	struct st_gen_sink *sink = st_gen_sink_create(out, NULL, false, err, sizeof(err));
	int64_t ts = TRACE_START_NS;
	int rc = 0;

	if (!sink || !f) {
		fprintf(stderr, "%s\n", sink ? "out of memory" : err);
		free(f);
		st_gen_sink_destroy(sink);
		return -1;
	}
	for (unsigned i = 0; i < flows; i++)
		flow_init(&f[i], true, i, server, 5140);
	for (unsigned long d = 0, written = 0; written < datagrams; d++) {
		unsigned fi = (unsigned)(d % flows);
		int n;

		if (fi % part.count != part.index)
			continue;
		n = snprintf(payload, sizeof(payload), "{\"id\":%lu}\n", d % keys);
		rc |= put(sink, &ts, frame, st_gen_frame(&f[fi], 0, 0, 0, 0, 0,
			  (const uint8_t *)payload, (size_t)n, frame));
		written++;
	}
	rc |= st_gen_sink_destroy(sink);
	free(f);
	return rc ? -1 : 0;
}

/* One segment of `len` bytes from side `from` of f, advancing its seq. */
static int tcp_put(struct st_gen_sink *sink, int64_t *ts, struct st_gen_flow *f, int from,
		   uint8_t flags, const uint8_t *data, size_t len)
{
	uint8_t frame[ST_GEN_FRAME_MAX];
	uint32_t seq = f->next_seq[from];
	size_t n;

	n = st_gen_frame(f, from, flags, seq, f->next_seq[1 - from], MSS_BYTES, data, len,
			 frame);
	f->next_seq[from] += (uint32_t)len + ((flags & (ST_GEN_TCP_SYN | ST_GEN_TCP_FIN)) ? 1 : 0);
	return put(sink, ts, frame, n);
}

/* A JSON value of exactly `bytes` bytes (>= 64) for key `key`. */
static size_t kafka_value(char *out, size_t bytes, unsigned long key, unsigned long n)
{
	int len = snprintf(out, bytes + 1, "{\"user\":{\"id\":\"u%lu\"},\"amount\":%lu.%02lu,"
			   "\"note\":\"", key, n % 1000, n % 100);
	size_t i = (size_t)len;

	for (; i < bytes - 2; i++)
		out[i] = (char)('a' + (n + i) % 26);
	out[i++] = '"';
	out[i++] = '}';
	return i;
}

static int gen_kafka(const char *out, unsigned long requests, unsigned conns,
		     unsigned batch_records, unsigned value_bytes, unsigned long keys,
		     struct part part)
{
	static const uint8_t server[4] = { 10, 0, 0, 10 };
	struct st_gen_flow *f = calloc(conns, sizeof(*f));
	struct st_gen_pending *recs = calloc(batch_records, sizeof(*recs));
	struct st_gen_buf req = { 0 };
	struct st_gen_batch batch = { .recs = recs, .cap = batch_records };
	char err[256];
	struct st_gen_sink *sink = st_gen_sink_create(out, NULL, false, err, sizeof(err));
	int64_t ts = TRACE_START_NS;
	unsigned long record_n = 0, written = 0;
	uint64_t record_no = 0;
	int rc = 0;

	if (!sink || !f || !recs) {
		fprintf(stderr, "%s\n", sink ? "out of memory" : err);
		rc = -1;
		goto out;
	}
	for (unsigned i = 0; i < conns; i++) {
		flow_init(&f[i], false, i, server, 9092);
		if (i % part.count != part.index)
			continue;
		rc |= tcp_put(sink, &ts, &f[i], 0, ST_GEN_TCP_SYN, NULL, 0);
		rc |= tcp_put(sink, &ts, &f[i], 1, ST_GEN_TCP_SYN | ST_GEN_TCP_ACK, NULL, 0);
		rc |= tcp_put(sink, &ts, &f[i], 0, ST_GEN_TCP_ACK, NULL, 0);
	}
	for (unsigned long r = 0; written < requests; r++) {
		unsigned ci = (unsigned)(r % conns);
		struct st_gen_kafka_part kp = { .partition = (unsigned)(r % 8), .batch = &batch };

		if (ci % part.count != part.index)
			continue;
		batch.n = 0;
		batch.values.len = 0;
		batch.first_ns = ts;
		for (unsigned i = 0; i < batch_records; i++, record_n++) {
			struct st_gen_pending *p = &recs[batch.n++];
			unsigned long key = (record_n * 2654435761u) % keys;

			if (st_gen_buf_reserve(&batch.values, value_bytes + 1)) {
				rc = -1;
				goto out;
			}
			memset(p, 0, sizeof(*p));
			p->key_id = key;
			p->created_ns = ts;
			p->key_len = (uint8_t)snprintf(p->key, sizeof(p->key), "u%lu", key);
			p->value_off = (uint32_t)batch.values.len;
			p->value_len = (uint32_t)kafka_value((char *)batch.values.data +
							     batch.values.len, value_bytes,
							     key, record_n);
			batch.values.len += p->value_len;
		}
		req.len = 0;
		if (st_gen_kafka_produce_request(&req, 8, (int32_t)(r & 0x7fffffff), 0, "orders",
						 &kp, 1, false, &record_no)) {
			rc = -1;
			goto out;
		}
		for (size_t off = 0; off < req.len; off += MSS_BYTES) {
			size_t n = req.len - off < MSS_BYTES ? req.len - off : MSS_BYTES;

			rc |= tcp_put(sink, &ts, &f[ci], 0, ST_GEN_TCP_ACK | ST_GEN_TCP_PSH,
				      req.data + off, n);
		}
		written++;
	}
	for (unsigned i = 0; i < conns; i++) {
		if (i % part.count != part.index)
			continue;
		rc |= tcp_put(sink, &ts, &f[i], 0, ST_GEN_TCP_FIN | ST_GEN_TCP_ACK, NULL, 0);
		rc |= tcp_put(sink, &ts, &f[i], 1, ST_GEN_TCP_FIN | ST_GEN_TCP_ACK, NULL, 0);
		rc |= tcp_put(sink, &ts, &f[i], 0, ST_GEN_TCP_ACK, NULL, 0);
	}
out:
	if (sink && st_gen_sink_destroy(sink))
		rc = -1;
	st_gen_buf_free(&req);
	st_gen_buf_free(&batch.values);
	free(recs);
	free(f);
	return rc ? -1 : 0;
}

/* ---- the TSC ------------------------------------------------------------ */

static double mono_raw_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_RAW, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* TSC ticks per second over ~200 ms of CLOCK_MONOTONIC_RAW. */
static double tsc_hz(void)
{
	const struct timespec nap = { 0, 200000000 };
	double t0 = mono_raw_s(), t1;
	uint64_t c0 = __rdtsc(), c1;

	nanosleep(&nap, NULL);
	c1 = __rdtsc();
	t1 = mono_raw_s();
	return (double)(c1 - c0) / (t1 - t0);
}

/* What one accounting mark costs: a TSC read charged to a running stage
 * (the same work as worker.c's stage_mark), over 10^6 marks in a row, in
 * cycles of this thread's CPU time (CPU seconds x TSC Hz: a preemption
 * does not count); the minimum of 5 tries, as the cheapest is the least
 * disturbed.  Marks in a row wait on each other: inside the record path
 * out-of-order execution hides part of this, so it is an upper bound. */
static double mark_cycles(double hz)
{
	static volatile uint64_t charged[8];
	double best = 1e9;

	for (int t = 0; t < 5; t++) {
		double t0 = st_bench_cpu_seconds();
		uint64_t last = __rdtsc();

		for (unsigned i = 0; i < 1000000; i++) {
			uint64_t now = __rdtsc();

			charged[i & 7] += now - last;
			last = now;
		}
		double c = (st_bench_cpu_seconds() - t0) * hz / 1e6;

		if (c < best)
			best = c;
	}
	return best;
}

/* ---- offline: the record path over a capture in memory ----------------- */


static void no_stream(void *ctx, const struct st_worker_stream *s)
{
	(void)ctx;
	(void)s;
}

struct pass_result {
	uint64_t tsc_cycles;           /* the timed loop */
	double cpu_s;                  /* the thread's CPU time over it */
	struct st_worker_totals totals;
#ifdef ST_STAGE_CYCLES
	struct st_worker_stage_cycles stages;
#endif
};

/* One pass of the record path over c, as shadowtap-record-bench does it:
 * frames, epoch closes by the frames' timestamps, flush, last close. */
static int run_pass(const struct st_bench_capture *c, const struct st_worker_config *wc,
		    struct pass_result *res)
{
	uint64_t epoch_ns = wc->sketch.epoch_ns;
	uint64_t start = c->ts[0] - c->ts[0] % epoch_ns, c0;
	struct st_worker *w = st_worker_create(wc, start);
	double t0;

	if (!w)
		return -1;
	t0 = st_bench_cpu_seconds();
	c0 = __rdtsc();
	for (size_t i = 0; i < c->n; i++) {
		if (c->ts[i] >= start + epoch_ns) {
			start = c->ts[i] - c->ts[i] % epoch_ns;
			st_worker_epoch_close(w, start, no_stream, NULL);
		}
		st_worker_frame(w, c->bytes + c->off[i], c->len[i], c->linktype, c->ts[i]);
	}
	st_worker_flush(w);
	st_worker_epoch_close(w, start + epoch_ns, no_stream, NULL);
	res->tsc_cycles = __rdtsc() - c0;
	res->cpu_s = st_bench_cpu_seconds() - t0;
	st_worker_totals(w, &res->totals);
#ifdef ST_STAGE_CYCLES
	st_worker_stage_cycles(w, &res->stages);
#endif
	st_worker_destroy(w);
	return 0;
}

/*
 * The figures of one capture.  Passes disturbed by other tenants only get
 * slower, so the figures are those of the median pass by CPU time (its
 * stage split too, so that the stages add up to its total).  On a shared
 * machine the thread is descheduled now and then: the TSC runs on, the
 * thread's CPU clock does not.  Cycles of CPU time = CPU seconds x TSC Hz;
 * the stages' TSC split is scaled to it (a preemption lands in a stage in
 * proportion to the stage's time).
 */
static void print_file(const char *path, const struct st_bench_capture *c,
		       const struct pass_result *r, const double *cpu, unsigned passes,
		       double hz, double mark)
{
	double med_s = st_bench_median(cpu, passes), min_s = cpu[0];
	const struct pass_result *m = &r[0];

	for (unsigned p = 0; p < passes; p++) {
		if (cpu[p] < min_s)
			min_s = cpu[p];
		if (fabs(cpu[p] - med_s) < fabs(m->cpu_s - med_s))
			m = &r[p];
	}
	double frames = (double)c->n;
	double records = (double)(m->totals.records + m->totals.opaque_records);
	double value_bytes = (double)m->totals.record_bytes;
	double cpu_cycles = m->cpu_s * hz;
	double scale = cpu_cycles / (double)m->tsc_cycles;

	printf("figure: %s: %zu frames, %.0f records (%.0f value bytes), drops %" PRIu64
	       ", gaps %" PRIu64 "; median of %u passes\n", path, c->n, records, value_bytes,
	       m->totals.drops, m->totals.reassembly_gaps, passes);
	printf("figure:   %.0f cycles/frame of CPU time (fastest pass %.0f), %.0f /record; "
	       "wall/CPU %.2f; %.2f Mframes/s, %.2f Mrecords/s, %.2f Gbit/s of values "
	       "per CPU-second\n", cpu_cycles / frames, min_s * hz / frames,
	       cpu_cycles / (records ? records : 1), 1 / scale, frames / m->cpu_s / 1e6,
	       records / m->cpu_s / 1e6, value_bytes * 8 / m->cpu_s / 1e9);
	printf("json: {\"file\":\"%s\",\"passes\":%u,\"frames\":%.0f,\"records\":%.0f,"
	       "\"value_bytes\":%.0f,\"tsc_cycles\":%" PRIu64 ",\"cpu_s\":%.6f,"
	       "\"min_cpu_s\":%.6f,\"tsc_hz\":%.0f,\"mark_cycles\":%.2f", path, passes,
	       frames, records, value_bytes, m->tsc_cycles, m->cpu_s, min_s, hz, mark);
#ifdef ST_STAGE_CYCLES
	uint64_t staged = 0;

	for (unsigned s = 0; s < ST_STAGE__COUNT; s++)
		staged += m->stages.cycles[s];
	printf(",\"staged_tsc_cycles\":%" PRIu64 ",\"marks\":%" PRIu64 ",\"stages\":{",
	       staged, m->stages.marks);
	for (unsigned s = 0; s < ST_STAGE__COUNT; s++)
		printf("%s\"%s\":%" PRIu64, s ? "," : "", st_worker_stage_name(s),
		       m->stages.cycles[s]);
	printf("}}\n");
	printf("figure:   stages (CPU cycles/frame, /record, share):");
	for (unsigned s = 0; s < ST_STAGE__COUNT; s++)
		printf(" %s %.0f %.0f %.1f%%;", st_worker_stage_name(s),
		       (double)m->stages.cycles[s] * scale / frames,
		       (double)m->stages.cycles[s] * scale / (records ? records : 1),
		       100.0 * (double)m->stages.cycles[s] / (double)staged);
	printf("\nfigure:   stages cover %.1f%% of the pass's TSC cycles (the rest: the "
	       "loop itself); %.1f TSC reads/frame at %.1f cycles = %.0f cycles/frame of "
	       "accounting inside these figures\n",
	       100.0 * (double)staged / (double)m->tsc_cycles,
	       (double)m->stages.marks / frames, mark, (double)m->stages.marks / frames * mark);
#else
	printf("}\n");
#endif
}

static int offline(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "passes", required_argument, NULL, 'n' },
		{ "key", required_argument, NULL, 'k' },
		{ "no-shapes", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct st_config *cfg = st_config_default();
	struct st_worker_config wc;
	bool no_shapes = false;
	unsigned passes = 5;
	double hz, mark;
	char err[256];
	int opt;

	if (!cfg)
		return 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			passes = (unsigned)strtoul(optarg, NULL, 10);
			if (passes < 1 || passes > 10000) {
				fprintf(stderr, "--passes: 1..10000\n");
				return 2;
			}
			break;
		case 'k':
			if (st_config_add_key_field(cfg, optarg) < 0) {
				fprintf(stderr, "--key %s: not a JSON pointer\n", optarg);
				return 2;
			}
			break;
		case 's':
			no_shapes = true;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "offline: no capture given\n");
		return 2;
	}
	if (st_classify_worker_config(cfg, &wc, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	wc.no_shape_templates = no_shapes;
	hz = tsc_hz();
	mark = mark_cycles(hz);
	for (int fi = optind; fi < argc; fi++) {
		struct st_bench_capture c;
		struct pass_result *r = calloc(passes, sizeof(*r));
		double *cpu = calloc(passes, sizeof(*cpu));

		if (!r || !cpu || st_bench_capture_load(argv[fi], &c) < 0 || c.n == 0) {
			fprintf(stderr, "%s: cannot load\n", argv[fi]);
			return 1;
		}
		for (unsigned p = 0; p < passes; p++) {
			if (run_pass(&c, &wc, &r[p]) < 0) {
				perror("worker");
				return 1;
			}
			cpu[p] = r[p].cpu_s;
		}
		print_file(argv[fi], &c, r, cpu, passes, hz, mark);
		free(r);
		free(cpu);
		st_bench_capture_free(&c);
	}
	printf("figure: TSC %.3f GHz (measured against CLOCK_MONOTONIC_RAW); one "
	       "accounting mark %.1f TSC cycles\n", hz / 1e9, mark);
	st_config_destroy(cfg);
	return 0;
}

/* ---- cross-core round trip --------------------------------------------------- */

#define PINGPONG_TRIPS 100000
#define PINGPONG_RUNS 5

static _Atomic unsigned pingpong_flag ST_CACHE_ALIGNED;

static void *pong(void *arg)
{
	st_bench_pin_cpu(*(const unsigned *)arg);
	for (unsigned i = 0; i < PINGPONG_RUNS * PINGPONG_TRIPS; i++) {
		while (atomic_load_explicit(&pingpong_flag, memory_order_acquire) != 1)
			;
		atomic_store_explicit(&pingpong_flag, 0, memory_order_release);
	}
	return NULL;
}

/* The time one cache line takes to go from CPU a to CPU b and back (the
 * median of PINGPONG_RUNS runs): what every frame one core hands another
 * pays per line.  A VM's two vCPUs may sit on cores that share a cache or
 * not, and the host may move them; the dp bench prints it before each
 * two-worker run. */
static int pingpong(int argc, char **argv)
{
	unsigned a, b;
	double ns[PINGPONG_RUNS];
	pthread_t t;

	if (argc != 3 || sscanf(argv[1], "%u", &a) != 1 || sscanf(argv[2], "%u", &b) != 1) {
		fputs("usage: shadowtap-dp-bench pingpong CPU_A CPU_B\n", stderr);
		return 2;
	}
	/* b first: the other thread pins itself there, where it could not
	 * say that it failed */
	if (st_bench_pin_cpu(b) || st_bench_pin_cpu(a)) {
		fprintf(stderr, "pingpong: cannot run on CPUs %u and %u\n", a, b);
		return 1;
	}
	if (pthread_create(&t, NULL, pong, &b)) {
		perror("pingpong");
		return 1;
	}
	for (unsigned r = 0; r < PINGPONG_RUNS; r++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (unsigned i = 0; i < PINGPONG_TRIPS; i++) {
			atomic_store_explicit(&pingpong_flag, 1, memory_order_release);
			while (atomic_load_explicit(&pingpong_flag, memory_order_acquire) != 0)
				;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[r] = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
			 (double)(t1.tv_nsec - t0.tv_nsec)) / PINGPONG_TRIPS;
	}
	pthread_join(t, NULL);
	printf("%.1f\n", st_bench_median(ns, PINGPONG_RUNS));
	return 0;
}

/* ---- main ----------------------------------------------------------------- */

static void usage(FILE *out)
{
	fputs("usage: shadowtap-dp-bench gen-jsonl OUT [--datagrams N] [--flows F] "
	      "[--keys K] [--part I/N]\n"
	      "       shadowtap-dp-bench gen-kafka OUT [--requests N] [--conns C] "
	      "[--batch B] [--value-bytes V] [--keys K] [--part I/N]\n"
	      "       shadowtap-dp-bench offline FILE... [--passes N] [--key PATH]... [--no-shapes]\n"
	      "       shadowtap-dp-bench tsc\n"
	      "       shadowtap-dp-bench pingpong CPU_A CPU_B\n", out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "datagrams", required_argument, NULL, 'd' },
		{ "requests", required_argument, NULL, 'r' },
		{ "flows", required_argument, NULL, 'f' },
		{ "conns", required_argument, NULL, 'f' },
		{ "keys", required_argument, NULL, 'k' },
		{ "batch", required_argument, NULL, 'b' },
		{ "value-bytes", required_argument, NULL, 'v' },
		{ "part", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long count = 65536, keys = 10000, flows = 64, batch = 10, value = 100;
	struct part part = { 0, 1 };
	const char *cmd, *out;
	int opt;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "offline"))
		return offline(argc - 1, argv + 1);
	if (!strcmp(cmd, "pingpong"))
		return pingpong(argc - 1, argv + 1);
	if (!strcmp(cmd, "tsc")) {
		printf("%.0f\n", tsc_hz());
		return 0;
	}
	if (strcmp(cmd, "gen-jsonl") && strcmp(cmd, "gen-kafka")) {
		usage(!strcmp(cmd, "--help") ? stdout : stderr);
		return !strcmp(cmd, "--help") ? 0 : 2;
	}
	if (!strcmp(cmd, "gen-kafka"))
		count = 16384, flows = 16;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'p') {
			if (parse_part(optarg, &part) < 0)
				return 2;
			continue;
		}
		if (opt == '?')
			return 2;
		unsigned long v = strtoul(optarg, NULL, 10);

		if (v == 0) {
			fprintf(stderr, "%s: a positive number\n", optarg);
			return 2;
		}
		switch (opt) {
		case 'd': case 'r': count = v; break;
		case 'f': flows = v; break;
		case 'k': keys = v; break;
		case 'b': batch = v; break;
		case 'v': value = v; break;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	out = argv[optind];
	if (flows > 60000 || batch > 1000 || value < 64 || value > 100000) {
		fprintf(stderr, "flows/conns <= 60000, batch <= 1000, value bytes 64..100000\n");
		return 2;
	}
	if (!strcmp(cmd, "gen-jsonl"))
		return gen_jsonl(out, count, (unsigned)flows, keys, part) ? 1 : 0;
	return gen_kafka(out, count, (unsigned)flows, (unsigned)batch, (unsigned)value, keys,
			 part) ? 1 : 0;
}
