/*
 * The engine (dataplane/engine.h) on a capture made in the test: UDP JSON
 * lines to three destinations over several epochs, with record counts the
 * test chose per stream and epoch.  Every profile the merger writes is
 * parsed back (st_profile_parse) and the counts compared with the chosen
 * ones, for 1, 2 and 3 workers (software dispatch) and for two queues; a
 * core that stalls past the grace makes PARTIAL profiles and loses nothing;
 * impossible configurations are refused with a message.  After each
 * epoch's profiles comes one Backend Metrics record (shadowtap/backends.h):
 * it must parse, and its per-endpoint records and datagrams (each datagram
 * carries one record) must be the counts chosen per destination.
 *
 * Software dispatch moves buckets of flows between cores (engine.h): the
 * same exact counts hold with a bucket forced to move every few frames
 * and with the adaptive rule deciding at every chance; and on TCP JSON
 * lines (one line per segment) moved that often, each stream's records
 * are the lines sent minus exactly one line per reassembly gap its
 * profiles count (a flow that comes back to a core finds a hole there; the
 * JSONL codec skips the first line after a gap, codec/jsonl.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/decode/decode.h"
#include "dataplane/engine.h"
#include "decode/frames.h"
#include "shadowtap/backends.h"
#include "shadowtap/profile.h"
#include "st_test.h"

#define T0 (1767225600ull * 1000000000ull)   /* 2026-01-01, an epoch start */
#define SEC 1000000000ull
#define EPOCHS 5
#define STREAMS 3
#define MAX_FRAMES 20000
#define MAX_PROFILES 256

/* ---- a capture made of frames held in memory ----------------------------- */

struct mem_frame {
	uint8_t b[256];
	uint32_t n;
	uint64_t ts;
};

struct fake {
	struct st_capture cap;
	struct mem_frame *frames[2];
	unsigned count[2], pos[2];
	/* queue 1 sleeps once, for stall_ms, when it reaches stall_at */
	unsigned stall_at, stall_ms;
	bool stalled;
	/* paced (live): a frame is there once the wall clock has passed
	 * start + (ts - T0) / PACE */
	bool paced;
	uint64_t start_ns;
};

/* Epochs 1 and 2 without any frame (the gap case), when gap is set. */
static bool gap;
/* Software dispatch knobs for engine_config() (0: the defaults), and the
 * moves of the last run. */
static uint32_t move_every;
static uint64_t rebalance_ns;
static bool adaptive_off;
static uint64_t last_moves;

#define PACE 2

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static int fake_rx(struct st_capture *c, unsigned q, struct st_frame *f, unsigned max)
{
	struct fake *k = (struct fake *)c;
	unsigned n = 0;

	if (q == 1 && k->stall_ms && !k->stalled && k->pos[1] >= k->stall_at) {
		struct timespec ts = { k->stall_ms / 1000, (long)(k->stall_ms % 1000) * 1000000 };

		k->stalled = true;
		nanosleep(&ts, NULL);
	}
	if (k->pos[q] == k->count[q])
		return ST_CAPTURE_END;
	while (n < max && k->pos[q] < k->count[q]) {
		const struct mem_frame *m = &k->frames[q][k->pos[q]];

		if (k->paced && mono_ns() < k->start_ns + (m->ts - T0) / PACE)
			break;
		k->pos[q]++;
		f[n++] = (struct st_frame){ .data = m->b, .caplen = m->n,
					    .wire_len = m->n, .ts_ns = m->ts };
		if (q == 1 && k->stall_ms && !k->stalled && k->pos[1] >= k->stall_at)
			break;
	}
	return (int)n;
}

static void fake_release(struct st_capture *c, unsigned q)
{
	(void)c;
	(void)q;
}

static int fake_queue_stats(struct st_capture *c, unsigned q,
			    struct st_capture_queue_stats *s)
{
	(void)c;
	(void)q;
	memset(s, 0, sizeof(*s));
	return 0;
}

static int fake_stats_json(struct st_capture *c, FILE *out)
{
	(void)c;
	fputs("{}", out);
	return 0;
}

static void fake_close(struct st_capture *c)
{
	(void)c;
}

static const struct st_capture_ops fake_ops = {
	.rx_burst = fake_rx, .rx_release = fake_release,
	.queue_stats = fake_queue_stats, .stats_json = fake_stats_json,
	.close = fake_close,
};

/* Records chosen per stream and epoch. */
static unsigned want(unsigned stream, unsigned epoch)
{
	if (gap && (epoch == 1 || epoch == 2))
		return 0;
	return (epoch + 1) * (stream + 1) * 40 + (stream == 2 && epoch == 3 ? 0 : 7);
}

/* The capture: for each epoch, each stream's records, each a datagram from
 * its own client port (so that flows spread over the cores), interleaved
 * and in time order.  queues 2: flows alternate between the queues by the
 * client port (both directions would stay together: there is only one). */
static void fake_build(struct fake *k, unsigned queues)
{
	memset(k, 0, sizeof(*k));
	for (unsigned q = 0; q < queues; q++) {
		k->frames[q] = calloc(MAX_FRAMES, sizeof(struct mem_frame));
		CU_ASSERT_PTR_NOT_NULL_FATAL(k->frames[q]);
	}
	for (unsigned e = 0; e < EPOCHS; e++) {
		unsigned left[STREAMS], total = 0, i = 0;

		for (unsigned s = 0; s < STREAMS; s++)
			total += left[s] = want(s, e);
		while (total) {
			for (unsigned s = 0; s < STREAMS; s++) {
				struct frame f = { .n = 0 };
				char payload[96];
				uint16_t sport = (uint16_t)(20000 + (i * 7 + s) % 5000);
				unsigned q = queues > 1 ? sport % 2 : 0;
				struct mem_frame *m;
				uint32_t len;

				if (!left[s])
					continue;
				left[s]--;
				total--;
				len = (uint32_t)snprintf(payload, sizeof(payload),
					"{\"user\":{\"id\":\"u%u\"},\"amount\":%u}\n", i % 97, i);
				fr_eth(&f, 0x0800);
				fr_ipv4(&f, 0x0a010101u + s, 0x0a000028u + s, IPPROTO_UDP, 5,
					8 + len, 0);
				fr_udp(&f, sport, 5140, (uint16_t)(8 + len));
				fr_bytes(&f, payload, len);
				CU_ASSERT_FATAL(k->count[q] < MAX_FRAMES);
				m = &k->frames[q][k->count[q]++];
				memcpy(m->b, f.b, f.n);
				m->n = f.n;
				/* spread over the epoch, in order */
				m->ts = T0 + e * SEC + (uint64_t)i * 37000;
				i++;
			}
		}
	}
	k->cap = (struct st_capture){
		.ops = &fake_ops, .backend = "memory", .queues = queues,
		.linktype = ST_DLT_EN10MB, .timestamps = true, .finite = true,
		.flow_affinity = true, .impl = k,
	};
}

static void fake_free(struct fake *k)
{
	free(k->frames[0]);
	free(k->frames[1]);
}

/* ---- the output: profiles kept in memory -------------------------------- */

struct out {
	uint8_t *rec[MAX_PROFILES];
	size_t len[MAX_PROFILES];
	unsigned n;
	uint8_t *pending;
};

static void *out_reserve(void *ctx, size_t max)
{
	struct out *o = ctx;

	if (o->n == MAX_PROFILES)
		return NULL;
	o->pending = malloc(max);
	return o->pending;
}

static void out_commit(void *ctx, size_t used)
{
	struct out *o = ctx;

	o->rec[o->n] = o->pending;
	o->len[o->n++] = used;
	o->pending = NULL;
}

static void out_free(struct out *o)
{
	for (unsigned i = 0; i < o->n; i++)
		free(o->rec[i]);
}

/* ---- the engine ------------------------------------------------------------ */

static enum st_proto port_proto(const void *ctx, uint8_t l4, uint16_t port)
{
	(void)ctx;
	return (l4 == IPPROTO_UDP || l4 == IPPROTO_TCP) && port == 5140 ? ST_PROTO_JSONL
									 : ST_PROTO_NONE;
}

static int stream_def(const void *ctx, enum st_proto proto, const uint8_t *topic,
		      size_t len, struct st_worker_stream_def *def)
{
	(void)ctx;
	snprintf(def->name, sizeof(def->name), "%s:%.*s", st_proto_name(proto),
		 (int)len, (const char *)topic);
	def->key_fields = 1;
	strcpy(def->key[0], "/user/id");
	return 0;
}

static void engine_config(struct st_engine_config *ec, unsigned workers, struct out *o)
{
	st_engine_config_default(ec);
	ec->worker.classifier.port_proto = port_proto;
	ec->worker.classifier.stream = stream_def;
	ec->worker.max_flows = 8192;
	ec->worker.reasm_budget_bytes = 1u << 20;
	ec->workers = workers;
	ec->inbox_bytes = 1u << 16;       /* small: the holder must wait */
	ec->dispatch_move_every_frames = move_every;
	if (rebalance_ns) {
		ec->dispatch_rebalance_ns = rebalance_ns;
		ec->dispatch_rebalance_finite = true;
	}
	if (adaptive_off)
		ec->dispatch_rebalance_ns = 0;
	ec->output = (struct st_engine_output){
		.reserve = out_reserve, .commit = out_commit, .ctx = o,
	};
}

/* records[stream][epoch] summed over the profiles; the stream index from
 * the name's last address byte. */
struct tally {
	uint64_t stream_records[STREAMS];
	uint64_t stream_gaps[STREAMS];
	uint64_t records[STREAMS][EPOCHS];
	unsigned profiles[STREAMS][EPOCHS];
	unsigned partial, parse_errors, bad_stream;
	unsigned merged_min, merged_max;
	/* from the Backend Metrics records */
	unsigned backends_records, backends_errors, backends_bad_entry;
	uint64_t be_records[STREAMS], be_packets[STREAMS];
	uint64_t be_records_epoch[STREAMS][EPOCHS];
};

static void tally_backends(const uint8_t *rec, size_t len, struct tally *t)
{
	struct st_backends_view v;
	struct st_backends_entry be;
	const char *why;
	size_t pos = 0;

	if (st_backends_parse(rec, len, &v, &why) < 0) {
		t->backends_errors++;
		return;
	}
	t->backends_records++;
	while (st_backends_next(&v, &pos, &be) == 1) {
		unsigned s = be.addr[3] - 40u;

		if (be.family != 4 || be.addr[0] != 10 || be.addr[1] != 0 ||
		    be.addr[2] != 0 || be.addr[3] < 40 || s >= STREAMS ||
		    be.port != 5140 || be.protocol != ST_PROFILE_PROTO_JSONL ||
		    be.packets_from || be.flows_new || be.latency_len) {
			t->backends_bad_entry++;
			continue;
		}
		t->be_records[s] += be.records;
		t->be_packets[s] += be.packets_to;
		if (v.meta.epoch_start_ns >= T0 && v.meta.epoch_start_ns < T0 + EPOCHS * SEC)
			t->be_records_epoch[s][(v.meta.epoch_start_ns - T0) / SEC] += be.records;
	}
}

static void tally(const struct out *o, struct tally *t)
{
	memset(t, 0, sizeof(*t));
	t->merged_min = 1000;
	for (unsigned i = 0; i < o->n; i++) {
		struct st_profile_view v;
		const char *why;
		unsigned s, e, octet;

		if (st_backends_is_record(o->rec[i], o->len[i])) {
			tally_backends(o->rec[i], o->len[i], t);
			continue;
		}
		if (st_profile_parse(o->rec[i], o->len[i], &v, &why) < 0) {
			t->parse_errors++;
			continue;
		}
		if (sscanf(v.meta.name, "jsonl:10.0.0.%u:5140", &octet) != 1 ||
		    octet < 40 || octet >= 40 + STREAMS) {
			t->bad_stream++;
			continue;
		}
		s = octet - 40;
		t->stream_records[s] += v.counters.records;
	t->stream_gaps[s] += v.counters.reassembly_gaps;
		if (v.meta.epoch_start_ns >= T0 && v.meta.epoch_start_ns < T0 + EPOCHS * SEC) {
			e = (unsigned)((v.meta.epoch_start_ns - T0) / SEC);
			t->records[s][e] += v.counters.records;
			t->profiles[s][e]++;
		}
		t->partial += !!(v.meta.flags & ST_PROFILE_F_PARTIAL);
		t->merged_min = v.meta.cores_merged < t->merged_min ? v.meta.cores_merged
								    : t->merged_min;
		t->merged_max = v.meta.cores_merged > t->merged_max ? v.meta.cores_merged
								    : t->merged_max;
		CU_ASSERT_EQUAL(v.meta.protocol, ST_PROFILE_PROTO_JSONL);
	}
}

/* The dispatch table's mapped buckets are somewhere; forced moves happen
 * exactly every move_every frames (each frame decodes); without dispatch
 * nothing moves. */
static void check_dispatch(const struct st_engine *e, unsigned workers,
			   unsigned queues, unsigned polled)
{
	struct st_engine_stats es;
	uint64_t buckets = 0;

	st_engine_stats(e, &es);
	last_moves = es.dispatch_moves;
	for (unsigned i = 0; i < workers; i++) {
		struct st_engine_core_stats cs;

		st_engine_core_stats(e, i, &cs);
		buckets += cs.dispatch_buckets;
	}
	if (workers == 1 || queues > 1) {
		CU_ASSERT_EQUAL(es.dispatch_moves, 0);
		CU_ASSERT_EQUAL(buckets, 0);
		return;
	}
	/* mapped at their first frames: some, and never more than there are */
	CU_ASSERT(buckets >= workers && buckets <= ST_ENGINE_DISPATCH_BUCKETS);
	if (move_every && adaptive_off)
		CU_ASSERT_EQUAL(es.dispatch_moves, polled / move_every);
}

static void run_counts(unsigned workers, unsigned queues)
{
	struct st_engine_config ec;
	struct st_engine_stats es;
	struct st_engine *e;
	struct out o = { .n = 0 };
	struct fake k;
	struct tally t;
	char err[256];
	uint64_t frames = 0;

	fake_build(&k, queues);
	engine_config(&ec, workers, &o);
	e = st_engine_create(&ec, &k.cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(st_engine_run(e, err, sizeof(err)), 0);
	tally(&o, &t);
	CU_ASSERT_EQUAL(t.parse_errors, 0);
	CU_ASSERT_EQUAL(t.bad_stream, 0);
	CU_ASSERT_EQUAL(t.partial, 0);
	CU_ASSERT_EQUAL(t.backends_errors, 0);
	CU_ASSERT_EQUAL(t.backends_bad_entry, 0);
	CU_ASSERT(t.backends_records >= (gap ? EPOCHS - 2u : EPOCHS));
	for (unsigned s = 0; s < STREAMS; s++) {
		uint64_t total = 0;

		for (unsigned ep = 0; ep < EPOCHS; ep++) {
			total += want(s, ep);
			CU_ASSERT_EQUAL(t.be_records_epoch[s][ep], want(s, ep));
		}
		CU_ASSERT_EQUAL(t.be_records[s], total);
		CU_ASSERT_EQUAL(t.be_packets[s], total);
	}
	CU_ASSERT_EQUAL(t.merged_min, workers);
	CU_ASSERT_EQUAL(t.merged_max, workers);
	for (unsigned s = 0; s < STREAMS; s++)
		for (unsigned ep = 0; ep < EPOCHS; ep++) {
			CU_ASSERT_EQUAL(t.records[s][ep], want(s, ep));
			CU_ASSERT_EQUAL(t.profiles[s][ep], want(s, ep) ? 1u : 0u);
			if (t.records[s][ep] != want(s, ep))
				printf("\n  workers %u queues %u stream %u epoch %u: %llu != %u",
				       workers, queues, s, ep,
				       (unsigned long long)t.records[s][ep], want(s, ep));
		}
	st_engine_stats(e, &es);
	CU_ASSERT_EQUAL(es.profiles + es.backends_records, o.n);
	CU_ASSERT_EQUAL(es.backends_records, t.backends_records);
	CU_ASSERT_EQUAL(es.backends_build_errors, 0);
	CU_ASSERT_EQUAL(es.output_drops, 0);
	CU_ASSERT_EQUAL(es.epoch_start_ns, T0);
	for (unsigned i = 0; i < workers; i++) {
		struct st_engine_core_stats cs;

		st_engine_core_stats(e, i, &cs);
		frames += cs.frames;
		/* every core had flows to work on, and no frame was lost */
		CU_ASSERT(cs.frames > 0);
		CU_ASSERT_EQUAL(cs.inbox_full_drops, 0);
		CU_ASSERT_EQUAL(cs.epochs_lost, 0);
		CU_ASSERT_EQUAL(cs.epochs_published, EPOCHS);
	}
	CU_ASSERT_EQUAL(frames, k.count[0] + k.count[1]);
	check_dispatch(e, workers, queues, k.count[0]);
	st_engine_destroy(e);
	out_free(&o);
	fake_free(&k);
}

static void test_one_worker(void)
{
	run_counts(1, 1);
}

/* Repeated: the hand-over between the cores that take turns on the queue is
 * where a race would show, and it shows only sometimes. */
static void test_two_and_three_workers_dispatch(void)
{
	for (unsigned i = 0; i < 10; i++) {
		run_counts(2, 1);
		run_counts(3, 1);
	}
}

/* A bucket forced to move every 3 (or 50) frames, the adaptive rule off:
 * flows hop from core to core mid-epoch, and no record is lost or counted
 * twice. */
static void test_dispatch_forced_moves(void)
{
	static const uint32_t every[] = { 3, 50 };

	adaptive_off = true;
	for (unsigned r = 0; r < 3; r++)
		for (unsigned i = 0; i < 2; i++) {
			move_every = every[i];
			run_counts(2, 1);
			CU_ASSERT(last_moves > 0);
			run_counts(3, 1);
		}
	move_every = 0;
	adaptive_off = false;
}

/* The adaptive rule with a window of one clock read (every 8 bursts): it
 * moves buckets (a small inbox fills while another core has nothing to
 * do), and still every count is exact. */
static void test_dispatch_adaptive_moves(void)
{
	uint64_t moves = 0;

	rebalance_ns = 1;
	for (unsigned r = 0; r < 5; r++) {
		run_counts(2, 1);
		moves += last_moves;
		run_counts(3, 1);
		moves += last_moves;
	}
	CU_ASSERT(moves > 0);
	rebalance_ns = 0;
}

#define TCP_FLOWS 24
#define TCP_LINES 120            /* per flow, one per segment */

/* TCP_FLOWS client connections to the three destinations (flow j to
 * stream j % STREAMS), client to server only (a mirror of one direction):
 * a SYN, then TCP_LINES segments of one JSON line each, the flows
 * interleaved, 1 ms apart. */
static void fake_build_tcp(struct fake *k)
{
	uint32_t seq[TCP_FLOWS];
	uint64_t ts = T0;

	memset(k, 0, sizeof(*k));
	k->frames[0] = calloc(MAX_FRAMES, sizeof(struct mem_frame));
	CU_ASSERT_PTR_NOT_NULL_FATAL(k->frames[0]);
	for (unsigned i = 0; i <= TCP_LINES; i++)
		for (unsigned j = 0; j < TCP_FLOWS; j++) {
			unsigned s = j % STREAMS;
			struct frame f = { .n = 0 };
			struct mem_frame *m;
			char payload[96];
			uint32_t len = 0;

			if (i == 0)
				seq[j] = 1000000u * (j + 1);
			else
				len = (uint32_t)snprintf(payload, sizeof(payload),
					"{\"user\":{\"id\":\"u%u\"},\"amount\":%u}\n", j, i);
			fr_eth(&f, 0x0800);
			fr_ipv4(&f, 0x0a010101u + s, 0x0a000028u + s, IPPROTO_TCP, 5,
				20 + len, 0);
			fr_tcp(&f, (uint16_t)(40000 + j), 5140, seq[j], 0,
			       i == 0 ? ST_TCP_SYN : ST_TCP_ACK | ST_TCP_PSH, 5, 65535);
			fr_bytes(&f, payload, len);
			seq[j] += i == 0 ? 1 : len;
			CU_ASSERT_FATAL(k->count[0] < MAX_FRAMES);
			m = &k->frames[0][k->count[0]++];
			memcpy(m->b, f.b, f.n);
			m->n = f.n;
			m->ts = ts;
			ts += 1000000;
		}
	k->cap = (struct st_capture){
		.ops = &fake_ops, .backend = "memory", .queues = 1,
		.linktype = ST_DLT_EN10MB, .timestamps = true, .finite = true,
		.flow_affinity = true, .impl = k,
	};
}

/* TCP flows moved every 7 frames between 2 or 3 cores: a flow moved to a
 * core that never saw it is picked up mid-stream whole (its segments
 * start at line starts); one that comes back to a core finds a hole
 * there, and loses the first line after it.  So the records are the lines
 * sent minus the cores' reassembly gaps, exactly; and there were gaps (the
 * test can see a loss).  Per stream, records plus the profiles' gaps are at
 * most the lines sent: a gap on a core that saw only the flow's SYN (no
 * record yet, so no stream) is counted on the core, not on a stream. */
static void test_dispatch_tcp_moves(void)
{
	uint64_t all_gaps = 0;

	adaptive_off = true;
	move_every = 7;
	for (unsigned workers = 2; workers <= 3; workers++) {
		struct st_engine_config ec;
		struct st_engine *e;
		struct out o = { .n = 0 };
		struct fake k;
		struct tally t;
		char err[256];
		uint64_t sent_per_stream = (uint64_t)TCP_FLOWS / STREAMS * TCP_LINES;
		uint64_t profile_records = 0, stream_gaps = 0;
		uint64_t core_gaps = 0, core_records = 0;

		fake_build_tcp(&k);
		engine_config(&ec, workers, &o);
		e = st_engine_create(&ec, &k.cap, err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_EQUAL(st_engine_run(e, err, sizeof(err)), 0);
		tally(&o, &t);
		CU_ASSERT_EQUAL(t.parse_errors, 0);
		CU_ASSERT_EQUAL(t.bad_stream, 0);
		CU_ASSERT_EQUAL(t.partial, 0);
		for (unsigned s = 0; s < STREAMS; s++) {
			CU_ASSERT(t.stream_records[s] + t.stream_gaps[s] <= sent_per_stream);
			profile_records += t.stream_records[s];
			stream_gaps += t.stream_gaps[s];
		}
		for (unsigned i = 0; i < workers; i++) {
			struct st_engine_core_stats cs;

			st_engine_core_stats(e, i, &cs);
			core_gaps += cs.reassembly_gaps;
			core_records += cs.records;
		}
		CU_ASSERT_EQUAL(profile_records, core_records);
		CU_ASSERT_EQUAL(profile_records + core_gaps, STREAMS * sent_per_stream);
		if (profile_records + core_gaps != STREAMS * sent_per_stream)
			printf("\n  workers %u: %llu records + %llu gaps != %llu lines",
			       workers, (unsigned long long)profile_records,
			       (unsigned long long)core_gaps,
			       (unsigned long long)(STREAMS * sent_per_stream));
		CU_ASSERT(stream_gaps <= core_gaps);
		all_gaps += stream_gaps;
		check_dispatch(e, workers, 1, k.count[0]);
		CU_ASSERT(last_moves > 0);
		st_engine_destroy(e);
		out_free(&o);
		fake_free(&k);
	}
	CU_ASSERT(all_gaps > 0);
	move_every = 0;
	adaptive_off = false;
}

static void test_two_queues(void)
{
	run_counts(2, 2);
}

/* Two whole epochs without a frame: the holder must tell the others the
 * time before it waits for the merger on the frame after the gap (else the
 * three wait for each other for ever), and the empty epochs make no
 * profile. */
static void test_gap_of_two_epochs(void)
{
	gap = true;
	for (unsigned i = 0; i < 5; i++) {
		run_counts(1, 1);
		run_counts(2, 1);
		run_counts(3, 1);
		run_counts(2, 2);
	}
	gap = false;
}

/* A live input (frames arrive at 2x their capture pace, epochs of 500 ms
 * by the wall clock) whose core 1 stalls for 1500 ms halfway: with a 100 ms
 * grace the merger writes the epochs without core 1 (PARTIAL), then core
 * 1's part on its own.  Every record is in some profile: the epochs core 1
 * loses when it wakes (it crosses several boundaries at once, the merger
 * still holding the first) are empty ones, and counted. */
static void test_late_core_partial(void)
{
	struct st_engine_config ec;
	struct st_engine *e;
	struct out o = { .n = 0 };
	struct fake k;
	struct tally t;
	char err[256];

	uint64_t records_lost = 0;

	fake_build(&k, 2);
	k.cap.finite = false;
	k.cap.timestamps = false;
	k.stall_at = k.count[1] / 2;
	k.stall_ms = 1500;
	k.paced = true;
	engine_config(&ec, 2, &o);
	ec.clock = ST_ENGINE_CLOCK_WALL;
	ec.worker.sketch.epoch_ns = 500000000ull;
	ec.grace_ns = 100000000ull;
	e = st_engine_create(&ec, &k.cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	k.start_ns = mono_ns();
	CU_ASSERT_EQUAL(st_engine_run(e, err, sizeof(err)), 0);
	tally(&o, &t);
	CU_ASSERT_EQUAL(t.parse_errors, 0);
	CU_ASSERT_EQUAL(t.bad_stream, 0);
	CU_ASSERT(t.partial > 0);
	CU_ASSERT_EQUAL(t.backends_errors, 0);
	CU_ASSERT_EQUAL(t.merged_min, 1);
	CU_ASSERT_EQUAL(t.merged_max, 2);
	for (unsigned s = 0; s < STREAMS; s++) {
		uint64_t total = 0;

		for (unsigned ep = 0; ep < EPOCHS; ep++)
			total += want(s, ep);
		CU_ASSERT_EQUAL(t.stream_records[s], total);
		CU_ASSERT_EQUAL(t.be_records[s], total);
	}
	for (unsigned i = 0; i < 2; i++) {
		struct st_engine_core_stats cs;

		st_engine_core_stats(e, i, &cs);
		records_lost += cs.records_lost;
		if (cs.records_lost)
			printf("\n  core %u: %llu records in %llu epochs lost, %llu published",
			       i, (unsigned long long)cs.records_lost,
			       (unsigned long long)cs.epochs_lost,
			       (unsigned long long)cs.epochs_published);
	}
	CU_ASSERT_EQUAL(records_lost, 0);
	st_engine_destroy(e);
	out_free(&o);
	fake_free(&k);
}

/* A frame larger than half an inbox may never fit, even in an empty one
 * (a wrap pads to the end first): on a file input a wait for room could
 * last for ever.  Such frames are dropped and counted (inbox_oversize_drops);
 * the small frames around them still arrive. */
#define BIG_FRAMES 16
#define BIG_BYTES 40000u

struct big {
	struct st_capture cap;
	uint8_t *buf[2 * BIG_FRAMES];
	uint32_t len[2 * BIG_FRAMES];
	unsigned pos;
};

static int big_rx(struct st_capture *c, unsigned q, struct st_frame *f, unsigned max)
{
	struct big *b = (struct big *)c;

	(void)q;
	if (b->pos == 2 * BIG_FRAMES)
		return ST_CAPTURE_END;
	(void)max;
	f[0] = (struct st_frame){ .data = b->buf[b->pos], .caplen = b->len[b->pos],
				  .wire_len = b->len[b->pos],
				  .ts_ns = T0 + b->pos * 1000ull };
	b->pos++;
	return 1;
}

static const struct st_capture_ops big_ops = {
	.rx_burst = big_rx, .rx_release = fake_release,
	.queue_stats = fake_queue_stats, .stats_json = fake_stats_json,
	.close = fake_close,
};

static void test_oversize_frames_dropped_not_waited_for(void)
{
	struct st_engine_config ec;
	struct st_engine *e;
	struct out o = { .n = 0 };
	struct big b = { .pos = 0 };
	uint64_t oversize = 0, frames = 0;
	char err[256];

	for (unsigned i = 0; i < 2 * BIG_FRAMES; i++) {
		struct frame f = { .n = 0 };
		uint32_t payload = i % 2 ? BIG_BYTES : 16;

		fr_eth(&f, 0x0800);
		fr_ipv4(&f, 0x0a010101u, 0x0a000028u, IPPROTO_UDP, 5, 8 + payload, 0);
		fr_udp(&f, (uint16_t)(30000 + i), 5140, (uint16_t)(8 + payload));
		b.buf[i] = calloc(1, f.n + payload);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b.buf[i]);
		memcpy(b.buf[i], f.b, f.n);
		memset(b.buf[i] + f.n, ' ', payload);
		b.buf[i][f.n] = '1';
		b.len[i] = f.n + payload;
	}
	b.cap = (struct st_capture){
		.ops = &big_ops, .backend = "memory", .queues = 1,
		.linktype = ST_DLT_EN10MB, .timestamps = true, .finite = true,
		.flow_affinity = true, .impl = &b,
	};
	engine_config(&ec, 2, &o);
	e = st_engine_create(&ec, &b.cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(st_engine_run(e, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 2; i++) {
		struct st_engine_core_stats cs;

		st_engine_core_stats(e, i, &cs);
		oversize += cs.inbox_oversize_drops;
		frames += cs.frames;
	}
	/* every big frame for core 1 dropped, every other frame worked on */
	CU_ASSERT(oversize > 0);
	CU_ASSERT_EQUAL(frames + oversize, 2 * BIG_FRAMES);
	st_engine_destroy(e);
	out_free(&o);
	for (unsigned i = 0; i < 2 * BIG_FRAMES; i++)
		free(b.buf[i]);
}

static void test_impossible_configs_refused(void)
{
	struct st_engine_config ec;
	struct out o = { .n = 0 };
	struct fake k;
	char err[256];

	fake_build(&k, 2);
	engine_config(&ec, 3, &o);
	err[0] = '\0';
	CU_ASSERT_PTR_NULL(st_engine_create(&ec, &k.cap, err, sizeof(err)));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "2 queues for 3 workers"));

	engine_config(&ec, 2, &o);
	k.cap.flow_affinity = false;
	CU_ASSERT_PTR_NULL(st_engine_create(&ec, &k.cap, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "symmetric RSS"));
	k.cap.flow_affinity = true;

	k.cap.timestamps = false;
	CU_ASSERT_PTR_NULL(st_engine_create(&ec, &k.cap, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no timestamps"));
	k.cap.timestamps = true;

	ec.workers = 0;
	CU_ASSERT_PTR_NULL(st_engine_create(&ec, &k.cap, err, sizeof(err)));
	ec.workers = 2;
	ec.inbox_bytes = 100000;
	CU_ASSERT_PTR_NULL(st_engine_create(&ec, &k.cap, err, sizeof(err)));
	ec.inbox_bytes = 1u << 16;
	ec.output.reserve = NULL;
	CU_ASSERT_PTR_NULL(st_engine_create(&ec, &k.cap, err, sizeof(err)));
	fake_free(&k);
}

ST_TEST_MAIN("dataplane/engine",
	ST_TEST(test_one_worker),
	ST_TEST(test_two_and_three_workers_dispatch),
	ST_TEST(test_dispatch_forced_moves),
	ST_TEST(test_dispatch_adaptive_moves),
	ST_TEST(test_dispatch_tcp_moves),
	ST_TEST(test_two_queues),
	ST_TEST(test_gap_of_two_epochs),
	ST_TEST(test_late_core_partial),
	ST_TEST(test_oversize_frames_dropped_not_waited_for),
	ST_TEST(test_impossible_configs_refused))
