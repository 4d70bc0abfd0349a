/*
 * Software dispatch's pieces inside the engine (dataplane/engine.c is
 * included to reach them): the bucket of a frame and the rebalancing rule.
 *
 * Bucket: both directions of a flow get the same bucket, and the quick
 * parse agrees with the st_decode() path on every frame it accepts
 * (IPv4/IPv6, TCP/UDP, zero to two VLAN tags), so that a flow whose frames
 * take either path stays on one core; frames the quick parse refuses (an
 * IPv6 extension header, another link type) still get the bucket of their
 * flow; frames that do not decode (a fragment, ARP) get none.  Oracle: the
 * frames' two directions, built by hand.
 *
 * Rule (engine.h): each case sets the window's signals by hand and checks
 * the one move (or none) the documented rule asks for.
 */
#include <netinet/in.h>
#include <time.h>

#include "dataplane/engine.c"
#include "decode/frames.h"
#include "st_test.h"

#define WINDOW_NS 2000000ull
#define SEC_NS 1000000000ull

enum shape { V4_UDP, V4_TCP, V4_VLAN1, V4_VLAN2, V6_TCP, V6_HOPOPTS, V6_VLAN1 };

static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 2 };

/* One frame of `shape` from (a, ap) to (b, bp); `reverse` swaps them. */
static void build(struct frame *f, enum shape shape, uint32_t a4, uint32_t b4,
		  uint16_t ap, uint16_t bp, bool reverse)
{
	uint16_t sp = reverse ? bp : ap, dp = reverse ? ap : bp;
	uint32_t s4 = reverse ? b4 : a4, d4 = reverse ? a4 : b4;
	const uint8_t *s6 = reverse ? v6b : v6a, *d6 = reverse ? v6a : v6b;
	bool tcp = shape != V4_UDP;

	f->n = 0;
	switch (shape) {
	case V4_VLAN1:
		fr_eth(f, 0x8100);
		fr_vlan(f, 10, 0x0800);
		break;
	case V4_VLAN2:
		fr_eth(f, 0x88a8);
		fr_vlan(f, 100, 0x8100);
		fr_vlan(f, 10, 0x0800);
		break;
	case V6_VLAN1:
		fr_eth(f, 0x8100);
		fr_vlan(f, 10, 0x86dd);
		break;
	case V6_TCP:
	case V6_HOPOPTS:
		fr_eth(f, 0x86dd);
		break;
	default:
		fr_eth(f, 0x0800);
	}
	if (shape == V6_TCP || shape == V6_VLAN1) {
		fr_ipv6(f, s6, d6, IPPROTO_TCP, 20);
	} else if (shape == V6_HOPOPTS) {
		fr_ipv6(f, s6, d6, 0, 28);
		fr_ipv6_opts(f, IPPROTO_TCP, 0);
	} else {
		fr_ipv4(f, s4, d4, tcp ? IPPROTO_TCP : IPPROTO_UDP, 5, tcp ? 20 : 8, 0);
	}
	if (tcp)
		fr_tcp(f, sp, dp, 1000, 2000, ST_TCP_ACK, 5, 512);
	else
		fr_udp(f, sp, dp, 8);
}

static bool bucket_of(const struct st_engine *e, const struct frame *f, uint32_t *b)
{
	struct st_frame sf = { .data = f->b, .caplen = f->n, .wire_len = f->n, .ts_ns = 1 };
	uint8_t l4;

	return dispatch_bucket(e, &sf, b, &l4);
}

/* The st_decode() path's bucket. */
static uint32_t decoded_bucket(const struct frame *f)
{
	struct st_pkt p;

	CU_ASSERT_EQUAL_FATAL(st_decode(f->b, f->n, ST_DLT_EN10MB, 1, &p), ST_DECODE_OK);
	return endpoints_bucket(p.saddr, p.sport, p.daddr, p.dport);
}

static void test_bucket_same_both_ways_and_both_paths(void)
{
	struct st_capture cap = { .linktype = ST_DLT_EN10MB };
	struct st_engine e = { .cap = &cap };
	unsigned seen[ST_ENGINE_DISPATCH_BUCKETS] = { 0 }, distinct = 0;

	for (enum shape s = V4_UDP; s <= V6_VLAN1; s++)
		for (unsigned i = 0; i < 64; i++) {
			struct frame fwd, rev;
			uint32_t bf, br, q;
			uint8_t l4;

			build(&fwd, s, 0x0a010101u + i, 0x0a000028u, (uint16_t)(40000 + i), 9092, false);
			build(&rev, s, 0x0a010101u + i, 0x0a000028u, (uint16_t)(40000 + i), 9092, true);
			CU_ASSERT_FATAL(bucket_of(&e, &fwd, &bf));
			CU_ASSERT_FATAL(bucket_of(&e, &rev, &br));
			CU_ASSERT_EQUAL(bf, br);
			CU_ASSERT(bf < ST_ENGINE_DISPATCH_BUCKETS);
			CU_ASSERT_EQUAL(bf, decoded_bucket(&fwd));
			CU_ASSERT_EQUAL(br, decoded_bucket(&rev));
			/* the quick parse takes every shape but the extension header */
			CU_ASSERT_EQUAL(quick_bucket(fwd.b, fwd.n, &q, &l4), s != V6_HOPOPTS);
			if (s != V6_HOPOPTS)
				CU_ASSERT_EQUAL(l4, s == V4_UDP ? IPPROTO_UDP : IPPROTO_TCP);
			if (s == V4_UDP)
				distinct += seen[bf]++ == 0;
		}
	/* 64 flows of one server spread (a hash that ignored the client
	 * port would put them in one bucket) */
	CU_ASSERT(distinct >= 48);
}

static void test_bucket_none_for_undecodable(void)
{
	struct st_capture cap = { .linktype = ST_DLT_EN10MB };
	struct st_engine e = { .cap = &cap };
	struct frame f = { .n = 0 };
	uint32_t b;

	fr_eth(&f, 0x0800);
	fr_ipv4(&f, 0x0a010101u, 0x0a000028u, IPPROTO_UDP, 5, 8, 0x2000);   /* MF */
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_FALSE(bucket_of(&e, &f, &b));
	f.n = 0;
	fr_eth(&f, 0x0806);     /* ARP */
	fr_fill(&f, 0, 28);
	CU_ASSERT_FALSE(bucket_of(&e, &f, &b));
	f.n = 10;               /* shorter than an Ethernet header */
	CU_ASSERT_FALSE(bucket_of(&e, &f, &b));
	f.n = 0;
	fr_eth(&f, 0x8100);     /* three tags: st_decode's vlan_too_deep */
	fr_vlan(&f, 1, 0x8100);
	fr_vlan(&f, 2, 0x8100);
	fr_vlan(&f, 3, 0x0800);
	fr_ipv4(&f, 0x0a010101u, 0x0a000028u, IPPROTO_UDP, 5, 8, 0);
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_FALSE(bucket_of(&e, &f, &b));
}

/* ---- the rule ------------------------------------------------------------- */

static void *no_reserve(void *ctx, size_t max)
{
	(void)ctx;
	(void)max;
	return NULL;
}

static void no_commit(void *ctx, size_t used)
{
	(void)ctx;
	(void)used;
}

static enum st_proto no_proto(const void *ctx, uint8_t l4, uint16_t port)
{
	(void)ctx;
	(void)l4;
	(void)port;
	return ST_PROTO_NONE;
}

static int no_stream(const void *ctx, enum st_proto proto, const uint8_t *topic,
		     size_t len, struct st_worker_stream_def *def)
{
	(void)ctx;
	(void)proto;
	(void)topic;
	(void)len;
	(void)def;
	return -EINVAL;
}

/* The queue's drop counters, as a live input would report them. */
static uint64_t rule_lost;

static int rule_queue_stats(struct st_capture *c, unsigned q, struct st_capture_queue_stats *s)
{
	(void)c;
	(void)q;
	memset(s, 0, sizeof(*s));
	s->drops[ST_CAPTURE_DROP_MISSED] = rule_lost;
	return 0;
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

/* The queue: every burst is `rule_burst` copies of one frame, from the
 * `rule_short_at`th on (0: never) one copy; after `rule_ask_at` bursts
 * another core asks for the queue (0: never); each burst takes
 * `rule_burst_ms`. */
static struct frame rule_frame;
static unsigned rule_burst, rule_bursts, rule_ask_at, rule_burst_ms, rule_short_at;
static unsigned rule_last;              /* the last burst's frames */
static struct st_engine *rule_e;

static int rule_rx(struct st_capture *c, unsigned q, struct st_frame *f, unsigned max)
{
	unsigned n = ST_MIN(rule_burst, max);

	(void)c;
	(void)q;
	if (rule_short_at && rule_bursts + 1 >= rule_short_at)
		n = ST_MIN(n, 1u);
	for (unsigned i = 0; i < n; i++)
		f[i] = (struct st_frame){ .data = rule_frame.b, .caplen = rule_frame.n,
					  .wire_len = rule_frame.n,
					  .ts_ns = 1767225600ull * SEC_NS };
	rule_last = n;
	if (++rule_bursts == rule_ask_at)
		atomic_store(&rule_e->rx_wanted, true);
	if (rule_burst_ms)
		nap_ms(rule_burst_ms);
	return (int)n;
}

static void rule_release(struct st_capture *c, unsigned q)
{
	(void)c;
	(void)q;
}

static const struct st_capture_ops rule_ops = {
	.rx_burst = rule_rx, .rx_release = rule_release, .queue_stats = rule_queue_stats,
};

static struct st_capture rule_cap = {
	.ops = &rule_ops, .backend = "memory", .queues = 1, .linktype = ST_DLT_EN10MB,
	.timestamps = true, .finite = false,
};

/* An engine of `workers` with dispatch, buckets 0..15 mapped to core
 * b % workers, its first window started at t=1 s. */
static struct st_engine *rule_engine(unsigned workers)
{
	struct st_engine_config ec;
	struct st_engine *e;
	char err[128];

	st_engine_config_default(&ec);
	ec.workers = workers;
	ec.worker.classifier.port_proto = no_proto;
	ec.worker.classifier.stream = no_stream;
	ec.output = (struct st_engine_output){ .reserve = no_reserve, .commit = no_commit };
	ec.dispatch_rebalance_ns = WINDOW_NS;
	rule_lost = 1000;       /* lost before: the first window marks it */
	e = st_engine_create(&ec, &rule_cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e->disp);
	for (uint32_t b = 0; b < 16; b++)
		bucket_map(e, b, b % workers);
	rebalance(e, SEC_NS);
	CU_ASSERT_EQUAL(e->disp->window_end_ns, SEC_NS + WINDOW_NS);
	return e;
}

/* One window at t in which core `from`'s inbox was too full `full` times
 * and core `to` had nothing to do for idle_ns; then the rule. */
static void window(struct st_engine *e, uint64_t t, unsigned from, uint64_t full,
		   unsigned to, uint64_t idle_ns)
{
	e->disp->full[from] += full;
	e->core[to].stats.idle_ns += idle_ns;
	rebalance(e, t);
}

static uint64_t moves(const struct st_engine *e)
{
	struct st_engine_stats s;

	st_engine_stats(e, &s);
	return s.dispatch_moves;
}

static uint64_t buckets(const struct st_engine *e, unsigned core)
{
	struct st_engine_core_stats s;

	st_engine_core_stats(e, core, &s);
	return s.dispatch_buckets;
}

/* Core 1's inbox too full for the queue two windows in a row while core 0
 * idles 1/8 of each: one window is a hiccup; after the second, core 1's
 * smallest active bucket (7: 50 frames; 5 has 100, 9 none) goes to core
 * 0, and the window's counts start over. */
static void test_rule_backlogged_core_sheds_to_starved(void)
{
	struct st_engine *e = rule_engine(2);
	struct dispatcher *d = e->disp;
	uint64_t t = SEC_NS + WINDOW_NS;

	CU_ASSERT_EQUAL(buckets(e, 1), 8);
	for (unsigned i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(moves(e), 0);
		d->frames[5] = 100;
		d->frames[7] = 50;
		d->frames[4] = 500;     /* core 0's */
		window(e, t, 1, 3, 0, WINDOW_NS / 8);
		t += WINDOW_NS;
	}
	CU_ASSERT_EQUAL(moves(e), 1);
	CU_ASSERT_EQUAL(d->reta[7], 0);
	CU_ASSERT_EQUAL(d->reta[5], 1);
	CU_ASSERT_EQUAL(d->reta[4], 0);
	CU_ASSERT_EQUAL(buckets(e, 0), 9);
	CU_ASSERT_EQUAL(buckets(e, 1), 7);
	CU_ASSERT_EQUAL(d->frames[5], 0);
	CU_ASSERT_EQUAL(d->full[1], 0);
	st_engine_destroy(e);
}

/* Three cores: core 1 backlogged by a filling inbox (over a quarter and
 * fuller than the window before, two windows), cores 0 and 2 both idle:
 * the more idle one takes core 1's smallest bucket; of two backlogged
 * cores the one more often too full sheds. */
static void test_rule_to_the_most_starved(void)
{
	struct st_engine *e = rule_engine(3);
	struct dispatcher *d = e->disp;
	uint64_t t = SEC_NS + WINDOW_NS;

	/* buckets 1, 4, 7, ... are core 1's; 2, 5, ... core 2's */
	for (unsigned i = 0; i < 2; i++) {
		d->frames[1] = 300;
		d->frames[4] = 30;
		e->core[1].inbox.head_local = e->core[1].inbox.size / 4 + 64 + 64 * i;
		e->core[0].stats.idle_ns += WINDOW_NS / 8;
		e->core[2].stats.idle_ns += WINDOW_NS / 4;
		rebalance(e, t);
		t += WINDOW_NS;
	}
	CU_ASSERT_EQUAL(moves(e), 1);
	CU_ASSERT_EQUAL(d->reta[4], 2);
	e->core[1].inbox.head_local = 0;
	rebalance(e, t);        /* a quiet window: nobody behind */
	t += WINDOW_NS;
	/* cores 1 and 2 both too full, core 2 more often: it sheds to 0 */
	for (unsigned i = 0; i < 2; i++) {
		d->frames[1] = 300;
		d->frames[7] = 30;
		d->frames[2] = 300;
		d->frames[5] = 20;
		d->full[1] = 1;
		d->full[2] = 5;
		e->core[0].stats.idle_ns += WINDOW_NS / 8;
		rebalance(e, t);
		t += WINDOW_NS;
	}
	CU_ASSERT_EQUAL(moves(e), 2);
	CU_ASSERT_EQUAL(d->reta[5], 0);
	CU_ASSERT_EQUAL(d->reta[7], 1);
	CU_ASSERT_EQUAL(buckets(e, 0) + buckets(e, 1) + buckets(e, 2), 16);
	st_engine_destroy(e);
}

/* Backlogged with nobody starved (both cores saturated: the normal state
 * when the input outruns them), starved with nobody backlogged, idle under
 * 1/16 of the window, an inbox over a quarter that is not filling: hold. */
static void test_rule_holds_in_between(void)
{
	struct st_engine *e = rule_engine(2);
	struct dispatcher *d = e->disp;
	uint64_t t = SEC_NS + WINDOW_NS;

	for (unsigned i = 0; i < 3; i++, t += WINDOW_NS) {
		d->frames[5] = 100;
		d->frames[7] = 50;
		d->full[0] = 4;
		window(e, t, 1, 4, 0, WINDOW_NS / 32);
	}
	CU_ASSERT_EQUAL(moves(e), 0);
	for (unsigned i = 0; i < 3; i++, t += WINDOW_NS) {
		d->frames[5] = 100;
		d->frames[7] = 50;
		window(e, t, 1, 0, 0, WINDOW_NS / 2);
	}
	CU_ASSERT_EQUAL(moves(e), 0);
	for (unsigned i = 0; i < 3; i++, t += WINDOW_NS) {
		d->frames[5] = 100;
		d->frames[7] = 50;
		e->core[1].inbox.head_local = e->core[1].inbox.size / 2;
		window(e, t, 1, 0, 0, WINDOW_NS / 2);
	}
	CU_ASSERT_EQUAL(moves(e), 0);
	CU_ASSERT_EQUAL(d->reta[7], 1);
	e->core[1].inbox.head_local = 0;
	st_engine_destroy(e);
}

/* A bucket moves at most once a second: core 1 backlogged, its smallest
 * (7) moved half a second ago, so the next smallest (9) goes; a second
 * later 7 may move again.  A core's last active bucket stays. */
static void test_rule_bucket_hold(void)
{
	struct st_engine *e = rule_engine(2);
	struct dispatcher *d = e->disp;
	uint64_t t = SEC_NS + WINDOW_NS;

	for (unsigned i = 0; i < 2; i++, t += WINDOW_NS) {
		d->frames[5] = 100;
		d->frames[7] = 10;
		d->frames[9] = 50;
		d->moved_ns[7] = SEC_NS / 2 + WINDOW_NS;
		window(e, t, 1, 1, 0, WINDOW_NS / 2);
	}
	CU_ASSERT_EQUAL(moves(e), 1);
	CU_ASSERT_EQUAL(d->reta[9], 0);
	CU_ASSERT_EQUAL(d->reta[7], 1);
	t = d->moved_ns[7] + SEC_NS;    /* a long window: idle a quarter */
	d->frames[5] = 100;
	d->frames[7] = 10;
	window(e, t, 1, 1, 0, SEC_NS / 4);
	CU_ASSERT_EQUAL(moves(e), 2);
	CU_ASSERT_EQUAL(d->reta[7], 0);
	/* only 5 left active on core 1: it stays */
	for (unsigned i = 0; i < 2; i++) {
		t += WINDOW_NS;
		d->frames[5] = 100;
		window(e, t, 1, 1, 0, WINDOW_NS / 2);
	}
	CU_ASSERT_EQUAL(moves(e), 2);
	CU_ASSERT_EQUAL(d->reta[5], 1);
	st_engine_destroy(e);
}

/* Bucket b carried `frames` frames of TCP in the window. */
static void tcp_bucket(struct dispatcher *d, uint32_t b, uint32_t frames)
{
	d->frames[b] = frames;
	d->tcp[b] = 1;
}

/* A bucket that carried TCP in the window stays unless dispatch_move_tcp
 * (or frames were lost, below):
 * the UDP one moves even though larger; with only TCP left, nothing moves;
 * allowed, the smallest TCP bucket goes. */
static void test_rule_tcp_buckets_stay(void)
{
	struct st_engine *e = rule_engine(2);
	struct dispatcher *d = e->disp;
	uint64_t t = SEC_NS + WINDOW_NS;

	for (unsigned i = 0; i < 2; i++, t += WINDOW_NS) {
		tcp_bucket(d, 5, 100);
		d->frames[7] = 300;
		tcp_bucket(d, 9, 10);
		window(e, t, 1, 1, 0, WINDOW_NS / 2);
	}
	CU_ASSERT_EQUAL(moves(e), 1);
	CU_ASSERT_EQUAL(d->reta[7], 0);
	CU_ASSERT_EQUAL(d->reta[5] + d->reta[9], 2);
	tcp_bucket(d, 5, 100);
	tcp_bucket(d, 9, 10);
	window(e, t, 1, 1, 0, WINDOW_NS / 2);
	CU_ASSERT_EQUAL(moves(e), 1);
	e->cfg.dispatch_move_tcp = true;
	t += WINDOW_NS;
	tcp_bucket(d, 5, 100);
	tcp_bucket(d, 9, 10);
	window(e, t, 1, 1, 0, WINDOW_NS / 2);
	CU_ASSERT_EQUAL(moves(e), 2);
	CU_ASSERT_EQUAL(d->reta[9], 0);
	st_engine_destroy(e);
}

/* TCP moves without dispatch_move_tcp in a window that lost frames: the
 * queue's drop counters grew (the input could not wait), or an inbox
 * refused a frame; not in one where they stood still. */
static void test_rule_tcp_moves_when_frames_are_lost(void)
{
	struct st_engine *e = rule_engine(2);
	struct dispatcher *d = e->disp;
	uint64_t t = SEC_NS + WINDOW_NS;

	for (unsigned i = 0; i < 2; i++, t += WINDOW_NS) {
		tcp_bucket(d, 5, 100);
		tcp_bucket(d, 7, 50);
		tcp_bucket(d, 9, 20);
		window(e, t, 1, 1, 0, WINDOW_NS / 2);
	}
	CU_ASSERT_EQUAL(moves(e), 0);
	rule_lost = 1001;       /* one lost in this window */
	tcp_bucket(d, 5, 100);
	tcp_bucket(d, 7, 50);
	tcp_bucket(d, 9, 20);
	window(e, t, 1, 1, 0, WINDOW_NS / 2);
	CU_ASSERT_EQUAL(moves(e), 1);
	CU_ASSERT_EQUAL(d->reta[9], 0);
	t += WINDOW_NS;
	tcp_bucket(d, 5, 100);
	tcp_bucket(d, 7, 50);
	window(e, t, 1, 1, 0, WINDOW_NS / 2);
	CU_ASSERT_EQUAL(moves(e), 1);
	t += WINDOW_NS;
	tcp_bucket(d, 5, 100);
	tcp_bucket(d, 7, 50);
	d->refused = 1;
	window(e, t, 1, 1, 0, WINDOW_NS / 2);
	CU_ASSERT_EQUAL(moves(e), 2);
	CU_ASSERT_EQUAL(d->reta[7], 0);
	CU_ASSERT_EQUAL(d->refused, 0);
	st_engine_destroy(e);
}

/* A finite input does not adapt unless asked (its output must not depend
 * on timing); a live one does; one worker has no dispatch at all. */
static void test_rule_not_on_finite_inputs(void)
{
	struct st_engine_config ec;
	struct st_capture cap = rule_cap;
	struct st_engine *e;
	char err[128];

	st_engine_config_default(&ec);
	ec.workers = 2;
	ec.worker.classifier.port_proto = no_proto;
	ec.worker.classifier.stream = no_stream;
	ec.output = (struct st_engine_output){ .reserve = no_reserve, .commit = no_commit };
	e = st_engine_create(&ec, &cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(e->dispatch && e->rebalance);
	st_engine_destroy(e);
	cap.finite = true;
	e = st_engine_create(&ec, &cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(e->dispatch && !e->rebalance);
	st_engine_destroy(e);
	ec.dispatch_rebalance_finite = true;
	e = st_engine_create(&ec, &cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(e->rebalance);
	st_engine_destroy(e);
	ec.workers = 1;
	e = st_engine_create(&ec, &cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(!e->dispatch && !e->rebalance && !e->disp);
	st_engine_destroy(e);
}

/* A bucket is mapped at its first frame, to the cores in turn (every core
 * receives, so each takes an equal share), and stays: buckets first seen
 * in the order 900, 3, 900, 77, 500, 3, 12 map to 0, 1, -, 2, 0, -, 1 on
 * three workers; two workers take 16 new buckets 8 and 8. */
static void test_buckets_mapped_in_turn_at_first_frame(void)
{
	static const uint32_t seen[] = { 900, 3, 900, 77, 500, 3, 12 };
	static const unsigned want[] = { 0, 1, 0, 2, 0, 1, 1 };
	struct st_engine_config ec;
	struct st_engine *e;
	char err[128];

	st_engine_config_default(&ec);
	ec.workers = 3;
	ec.worker.classifier.port_proto = no_proto;
	ec.worker.classifier.stream = no_stream;
	ec.output = (struct st_engine_output){ .reserve = no_reserve, .commit = no_commit };
	e = st_engine_create(&ec, &rule_cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(buckets(e, 0) + buckets(e, 1) + buckets(e, 2), 0);
	for (unsigned i = 0; i < 7; i++)
		CU_ASSERT_EQUAL(bucket_core(e, seen[i]), want[i]);
	CU_ASSERT_EQUAL(buckets(e, 0), 2);
	CU_ASSERT_EQUAL(buckets(e, 1), 2);
	CU_ASSERT_EQUAL(buckets(e, 2), 1);
	CU_ASSERT_EQUAL(e->disp->reta[4], BUCKET_UNMAPPED);
	st_engine_destroy(e);

	ec.workers = 2;
	e = st_engine_create(&ec, &rule_cap, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	for (uint32_t b = 0; b < 16; b++)
		CU_ASSERT_EQUAL(bucket_core(e, 100 + 7 * b), b % 2);
	CU_ASSERT_EQUAL(buckets(e, 0), 8);
	CU_ASSERT_EQUAL(buckets(e, 1), 8);
	/* the inboxes' indexes are cache-line aligned, so the cores must be */
	CU_ASSERT_EQUAL((uintptr_t)e->core % _Alignof(struct core), 0);
	CU_ASSERT_EQUAL(_Alignof(struct core), ST_CACHE_LINE);
	st_engine_destroy(e);
}


/* A core's turn while another core holds the queue: its inbox only. */
static unsigned turn(struct core *c)
{
	struct st_frame f[ST_CAPTURE_BURST];
	bool ended;
	unsigned n = dispatch_poll(c, f, &ended);

	CU_ASSERT_FALSE(ended);
	return n;
}

/* A core's idle time is the time it had nothing to do, never the time it
 * worked on a frame: here, while another core holds the queue, the first
 * frame after 30 ms of empty polls makes the core's worker (its tables
 * touched whole: milliseconds), and the idle time ends when that frame is
 * found, before the work.  A core that empties its inbox after every
 * burst would otherwise count its work as idle, and the rule would take
 * it for starved.  An idle core asks the holder for the queue. */
static void test_core_idle_is_not_its_work(void)
{
	struct st_engine *e = rule_engine(2);
	struct core *c = &e->core[1];
	struct st_frame f = { .data = (const uint8_t *)"\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
			      .caplen = 14, .wire_len = 14,
			      .ts_ns = 1767225600ull * SEC_NS };
	uint64_t since, found, done;

	atomic_store(&e->rx_busy, true);        /* core 0 holds the queue */
	CU_ASSERT_PTR_NULL(atomic_load(&c->worker));
	CU_ASSERT_FALSE(atomic_load(&e->rx_wanted));
	CU_ASSERT_EQUAL(turn(c), 0);
	CU_ASSERT_TRUE(atomic_load(&e->rx_wanted));
	since = mono_ns();
	CU_ASSERT_EQUAL(turn(c), 0);
	nap_ms(30);
	CU_ASSERT_EQUAL(turn(c), 0);
	CU_ASSERT_FATAL(inbox_push(&c->inbox, &f));
	inbox_publish(&c->inbox);
	found = mono_ns();
	CU_ASSERT_EQUAL(turn(c), 1);
	done = mono_ns();
	CU_ASSERT_PTR_NOT_NULL(atomic_load(&c->worker));
	CU_ASSERT_EQUAL(c->stats.frames, 1);
	/* the work took a while (else this case could not tell) */
	CU_ASSERT(done - found > 2000000);
	/* idle: from the first empty poll (read just before `since`) to
	 * the frame (just after `found`) */
	CU_ASSERT(c->stats.idle_ns >= found - since - 1000000);
	CU_ASSERT(c->stats.idle_ns <= found - since + 1000000);
	if (c->stats.idle_ns > found - since + 1000000)
		printf("\n  idle %llu ns, empty for %llu ns, then %llu ns of work",
		       (unsigned long long)c->stats.idle_ns,
		       (unsigned long long)(found - since),
		       (unsigned long long)(done - found));
	/* empty again: idle again, from then */
	CU_ASSERT_EQUAL(turn(c), 0);
	atomic_store(&e->rx_busy, false);
	st_engine_destroy(e);
}

/* A queue of full bursts of one TCP flow's frame (on a live input only
 * TCP segments go to their flow's core), that flow's bucket on core `to`:
 * the engine, and the bursts that fill an inbox past `share` of its size
 * (the holder checks before each burst). */
static struct st_engine *queue_engine(unsigned to, uint64_t share, unsigned *bursts)
{
	struct st_engine *e = rule_engine(2);
	uint32_t b;
	uint64_t burst_bytes;

	build(&rule_frame, V4_TCP, 0x0a000001u, 0x0a000028u, 40000, 9092, false);
	CU_ASSERT_FATAL(bucket_of(e, &rule_frame, &b));
	if (e->disp->reta[b] == BUCKET_UNMAPPED)
		bucket_map(e, b, to);
	e->disp->reta[b] = (uint8_t)to;
	rule_e = e;
	rule_burst = ST_CAPTURE_BURST;
	rule_bursts = 0;
	rule_ask_at = 0;
	rule_burst_ms = 0;
	rule_short_at = 0;
	burst_bytes = ST_CAPTURE_BURST * entry_bytes(rule_frame.n);
	*bursts = (unsigned)(e->cfg.inbox_bytes / share / burst_bytes + 1);
	return e;
}

static unsigned turn_of(struct core *c)
{
	struct st_frame f[ST_CAPTURE_BURST];
	bool ended;

	return dispatch_poll(c, f, &ended);
}

/* A core takes the queue when nobody holds it and its inbox is at most a
 * quarter full, and keeps it while the bursts come full: until another
 * core's inbox passes half (the frames then wait in the queue, and that
 * inbox is noted too full), until its own passes a quarter (it cannot
 * drain its own while it holds), or until another core asks and its own
 * holds a sixteenth (work for the time the other receives).  A core
 * whose inbox is over a quarter full works on it and leaves the queue. */
static void test_queue_taken_in_turn(void)
{
	unsigned want, answer;
	struct st_engine *e = queue_engine(1, 2, &want);

	/* core 0 fills core 1's inbox past half */
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), 0);
	CU_ASSERT_EQUAL(rule_bursts, want);
	CU_ASSERT_EQUAL(e->disp->full[1], 1);
	CU_ASSERT_EQUAL(e->disp->full[0], 0);
	CU_ASSERT_EQUAL(e->core[0].stats.polled, (uint64_t)want * ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatched, (uint64_t)want * ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatch_holds, 1);
	CU_ASSERT_FALSE(atomic_load(&e->rx_busy));
	/* core 1, over a quarter full: its inbox only, and a request for
	 * the queue stays for a core that will receive */
	atomic_store(&e->rx_wanted, true);
	CU_ASSERT_EQUAL(turn_of(&e->core[1]), ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, want);
	CU_ASSERT_EQUAL(e->core[1].stats.frames, ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(e->core[1].stats.polled, 0);
	CU_ASSERT_EQUAL(e->core[1].stats.dispatch_holds, 0);
	CU_ASSERT_TRUE(atomic_load(&e->rx_wanted));
	atomic_store(&e->rx_wanted, false);
	st_engine_destroy(e);

	/* its own frames: core 0 hands the queue on past a quarter, and
	 * then works on its inbox */
	e = queue_engine(0, 4, &want);
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, want);
	CU_ASSERT_EQUAL(e->disp->full[0], 0);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatched, 0);
	/* a burst worked on brings it back to a quarter: one burst more */
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, want + 1);
	CU_ASSERT_EQUAL(e->core[0].stats.frames, 2 * ST_CAPTURE_BURST);
	st_engine_destroy(e);

	/* another core asks after the third burst, while the holder has no
	 * frame of its own: it keeps the queue (until core 1's inbox passes
	 * half), and the request stays for the next core that takes it */
	e = queue_engine(1, 2, &want);
	rule_ask_at = 3;
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), 0);
	CU_ASSERT_EQUAL(rule_bursts, want);
	CU_ASSERT_EQUAL(e->disp->full[1], 1);
	CU_ASSERT_TRUE(atomic_load(&e->rx_wanted));
	atomic_store(&e->rx_wanted, false);
	st_engine_destroy(e);

	/* another core asks after the first burst: the holder answers at the
	 * end of the burst that brings its own inbox to a sixteenth, short of
	 * the quarter; a short burst ends a hold too */
	e = queue_engine(0, 4, &want);
	answer = (unsigned)((e->cfg.inbox_bytes / DISPATCH_ANSWER_SHARE +
			     ST_CAPTURE_BURST * entry_bytes(rule_frame.n) - 1) /
			    (ST_CAPTURE_BURST * entry_bytes(rule_frame.n)));
	CU_ASSERT_FATAL(answer > 1 && answer < want);
	rule_ask_at = 1;
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, answer);
	CU_ASSERT_FALSE(atomic_load(&e->rx_busy));
	rule_burst = 5;
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, answer + 1);
	CU_ASSERT_EQUAL(e->core[0].stats.polled, answer * ST_CAPTURE_BURST + 5);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatch_holds, 2);
	/* while another core holds the queue, nobody else takes it */
	atomic_store(&e->rx_busy, true);
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, answer + 1);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatch_holds, 2);
	atomic_store(&e->rx_busy, false);
	/* an empty queue taken is no hold */
	rule_burst = 0;
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, answer + 2);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatch_holds, 2);
	st_engine_destroy(e);
}

/* An idle core that takes the queue works from its first burst: the time
 * it holds the queue is not idle, even when every frame it receives is
 * another core's.  Here core 1 waits while core 0 holds the queue, then
 * holds it for three bursts of 10 ms each (the third short), all for core
 * 0; a frame of its own after that ends its idle time, which must not
 * hold those 30 ms. */
static void test_receiving_is_not_idle(void)
{
	unsigned want;
	struct st_engine *e = queue_engine(0, 2, &want);
	struct core *c = &e->core[1];

	atomic_store(&e->rx_busy, true);
	CU_ASSERT_EQUAL(turn_of(c), 0);
	CU_ASSERT_NOT_EQUAL(c->idle_since_ns, 0);
	atomic_store(&e->rx_busy, false);
	rule_burst_ms = 10;
	rule_short_at = 3;
	CU_ASSERT_EQUAL(turn_of(c), 0);
	CU_ASSERT_EQUAL(rule_bursts, 3);
	CU_ASSERT_EQUAL(c->stats.polled, 2 * ST_CAPTURE_BURST + 1);
	CU_ASSERT_FALSE(atomic_load(&e->rx_busy));
	atomic_store(&e->rx_busy, true);
	CU_ASSERT_FATAL(inbox_push(&c->inbox, &(struct st_frame){
		.data = rule_frame.b, .caplen = rule_frame.n, .wire_len = rule_frame.n,
		.ts_ns = 1767225600ull * SEC_NS }));
	inbox_publish(&c->inbox);
	CU_ASSERT_EQUAL(turn_of(c), 1);
	CU_ASSERT(c->stats.idle_ns < 10000000ull);
	atomic_store(&e->rx_busy, false);
	st_engine_destroy(e);
}

/* One UDP flow's frame on the queue, its bucket on core 1; core 0 takes
 * the queue for two full bursts and a short one. */
static struct st_engine *datagram_engine(void)
{
	unsigned want;
	struct st_engine *e = queue_engine(1, 2, &want);
	uint32_t b;

	build(&rule_frame, V4_UDP, 0x0a000001u, 0x0a000028u, 40000, 5140, false);
	CU_ASSERT_FATAL(bucket_of(e, &rule_frame, &b));
	if (e->disp->reta[b] == BUCKET_UNMAPPED)
		bucket_map(e, b, 1);
	e->disp->reta[b] = 1;
	rule_short_at = 3;
	return e;
}

/* A datagram is whole (no flow state to keep together): on a live input
 * it stays with the core that received it, whatever its bucket; on a
 * finite input it goes to its flow's core like a TCP segment, so that a
 * file's output does not depend on which core received what (engine.h). */
static void test_datagrams_stay_with_their_receiver_when_live(void)
{
	struct st_engine *e = datagram_engine();

	CU_ASSERT_EQUAL(turn_of(&e->core[0]), ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, 3);
	CU_ASSERT_EQUAL(e->core[0].stats.polled, 2 * ST_CAPTURE_BURST + 1);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatched, 0);
	CU_ASSERT_TRUE(inbox_empty(&e->core[1].inbox));
	atomic_store(&e->rx_busy, true);
	CU_ASSERT_EQUAL(turn_of(&e->core[1]), 0);
	atomic_store(&e->rx_busy, false);
	st_engine_destroy(e);

	rule_cap.finite = true;
	e = datagram_engine();
	rule_cap.finite = false;
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), 0);
	CU_ASSERT_EQUAL(rule_bursts, 3);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatched, 2 * ST_CAPTURE_BURST + 1);
	atomic_store(&e->rx_busy, true);
	CU_ASSERT_EQUAL(turn_of(&e->core[1]), ST_CAPTURE_BURST);
	atomic_store(&e->rx_busy, false);
	st_engine_destroy(e);
}

/* A queue that keeps bursts (rx_keep): every object kept, and what
 * kept_free() saw. */
static unsigned keep_objs, keep_freed, keep_frees;
static uint64_t keep_frames_at_first_free;
static int keep_token[ST_CAPTURE_BURST];

static unsigned keep_rx_keep(struct st_capture *c, unsigned q, void **objs, bool *plain)
{
	(void)c;
	(void)q;
	for (unsigned i = 0; i < ST_CAPTURE_BURST; i++)
		objs[i] = &keep_token[i];
	*plain = true;
	keep_objs += rule_last;
	return rule_last;
}

static void keep_kept_free(struct st_capture *c, unsigned q, void **objs, unsigned n,
			   bool plain)
{
	(void)c;
	(void)q;
	CU_ASSERT_TRUE(plain);
	CU_ASSERT(n >= 1 && n <= ST_CAPTURE_BURST);
	CU_ASSERT_PTR_EQUAL(objs[0], &keep_token[0]);
	if (keep_frees++ == 0)
		keep_frames_at_first_free = rule_e->core[0].stats.frames;
	keep_freed += n;
}

static const struct st_capture_ops keep_ops = {
	.rx_burst = rule_rx, .rx_release = rule_release, .queue_stats = rule_queue_stats,
	.rx_keep = keep_rx_keep, .kept_free = keep_kept_free,
};

/* On a queue that keeps bursts, the holder works on its own frames in
 * place after its hold and then frees their bursts, every one; another
 * core's frames are still copied to its inbox.  A hold ends after
 * DISPATCH_KEEP_BURSTS bursts, even when another core asks before. */
static void test_own_frames_in_place(void)
{
	const struct st_capture_ops *ops = rule_cap.ops;
	struct st_engine *e;
	unsigned want;

	rule_cap.ops = &keep_ops;
	e = datagram_engine();
	CU_ASSERT_TRUE_FATAL(e->keep);
	rule_short_at = 0;
	keep_objs = keep_freed = keep_frees = 0;
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), DISPATCH_KEEP_BURSTS * ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, DISPATCH_KEEP_BURSTS);
	CU_ASSERT_EQUAL(e->core[0].stats.frames, DISPATCH_KEEP_BURSTS * ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatched, 0);
	CU_ASSERT_EQUAL(keep_frees, DISPATCH_KEEP_BURSTS);
	CU_ASSERT_EQUAL(keep_freed, keep_objs);
	CU_ASSERT_EQUAL(keep_frames_at_first_free, DISPATCH_KEEP_BURSTS * ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(e->core[0].own_n, 0);
	CU_ASSERT_EQUAL(e->core[0].kept_n, 0);
	/* another core asks after the first burst */
	rule_bursts = 0;
	rule_ask_at = 1;
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), DISPATCH_KEEP_BURSTS * ST_CAPTURE_BURST);
	CU_ASSERT_EQUAL(rule_bursts, DISPATCH_KEEP_BURSTS);
	CU_ASSERT_EQUAL(keep_freed, keep_objs);
	st_engine_destroy(e);

	/* a TCP flow of core 1: copied to its inbox, its bursts kept and
	 * freed all the same */
	e = queue_engine(1, 2, &want);
	keep_objs = keep_freed = keep_frees = 0;
	rule_short_at = 2;
	CU_ASSERT_EQUAL(turn_of(&e->core[0]), 0);
	CU_ASSERT_EQUAL(e->core[0].stats.dispatched, ST_CAPTURE_BURST + 1);
	CU_ASSERT_EQUAL(keep_freed, keep_objs);
	CU_ASSERT_EQUAL(keep_objs, ST_CAPTURE_BURST + 1);
	atomic_store(&e->rx_busy, true);
	CU_ASSERT_EQUAL(turn_of(&e->core[1]), ST_CAPTURE_BURST);
	atomic_store(&e->rx_busy, false);
	st_engine_destroy(e);
	rule_cap.ops = ops;
}

ST_TEST_MAIN("dataplane/engine_dispatch",
	ST_TEST(test_datagrams_stay_with_their_receiver_when_live),
	ST_TEST(test_own_frames_in_place),
	ST_TEST(test_queue_taken_in_turn),
	ST_TEST(test_receiving_is_not_idle),
	ST_TEST(test_core_idle_is_not_its_work),
	ST_TEST(test_buckets_mapped_in_turn_at_first_frame),
	ST_TEST(test_rule_tcp_buckets_stay),
	ST_TEST(test_rule_tcp_moves_when_frames_are_lost),
	ST_TEST(test_rule_not_on_finite_inputs),
	ST_TEST(test_bucket_same_both_ways_and_both_paths),
	ST_TEST(test_bucket_none_for_undecodable),
	ST_TEST(test_rule_backlogged_core_sheds_to_starved),
	ST_TEST(test_rule_to_the_most_starved),
	ST_TEST(test_rule_holds_in_between),
	ST_TEST(test_rule_bucket_hold))
