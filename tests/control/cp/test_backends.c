/*
 * control/cp/backends.c: the per-backend aggregation of the Backend
 * Metrics record.  Oracles: the figures of each entry are chosen here and
 * every expected sum and rate is worked out by hand in the comments
 * (epoch 2 s); the latency p99 is checked against the value planted at
 * that rank, within the sketch's relative error alpha (1 %).  One record
 * is written byte by byte from the layout drawn in shadowtap/backends.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/cp/backends.h"
#include "dataplane/sketch/quantile.h"
#include "tests/st_test.h"

#define EPOCH0 1700000000000000000ull
#define EPOCH_NS 2000000000ull

static const char conf_text[] =
	"pools = ( { name = \"p\"; min_backends = 1; } );\n"
	"backends = (\n"
	"  { name = \"b0\"; pool = \"p\"; address = \"10.0.0.5\"; },\n"
	"  { name = \"b1\"; pool = \"p\"; address = \"2001:db8::7\"; },\n"
	"  { name = \"b2\"; pool = \"p\"; address = \"10.0.0.9\"; standby = true; } );\n";

static struct st_config *load_conf_text(const char *text);

static struct st_config *load_conf(void)
{
	return load_conf_text(conf_text);
}

static struct st_config *load_conf_text(const char *text)
{
	char path[] = "/tmp/st-cp-backends-XXXXXX";
	char err[256];
	int fd = mkstemp(path);
	struct st_config *cfg;

	if (fd < 0)
		return NULL;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		unlink(path);
		return NULL;
	}
	close(fd);
	cfg = st_config_load(path, err, sizeof(err));
	if (!cfg)
		fprintf(stderr, "config: %s\n", err);
	unlink(path);
	return cfg;
}

/* n samples of value_us in a sketch of the record's parameters. */
static uint8_t *latency_blob(double value_us, unsigned n, uint32_t *len)
{
	struct st_qs *q = st_qs_create(ST_BACKENDS_LATENCY_ALPHA, ST_BACKENDS_LATENCY_BINS, false);
	uint8_t *b = NULL;

	if (!q)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		st_qs_update(q, value_us);
	*len = (uint32_t)st_qs_serialized_size(q);
	b = malloc(*len);
	if (b && st_qs_serialize(q, b, *len) != (ssize_t)*len) {
		free(b);
		b = NULL;
	}
	st_qs_destroy(q);
	return b;
}

static void v4(struct st_backends_entry *e, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	e->family = 4;
	memset(e->addr, 0, sizeof(e->addr));
	e->addr[0] = a, e->addr[1] = b, e->addr[2] = c, e->addr[3] = d;
}

static const uint8_t v6_b1[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 };

static struct st_backends_meta meta_at(uint64_t start)
{
	return (struct st_backends_meta){ .epoch_start_ns = start, .epoch_ns = EPOCH_NS,
					  .cores_merged = 1, .cores_expected = 1 };
}

/* Builds with st_backends_build, parses, takes.  0 or the first error. */
static int take_built(struct st_cp_backends *b, const struct st_backends_entry *e, size_t n,
		      const struct st_backends_meta *m)
{
	struct st_backends_view v;
	const char *why = NULL;
	ssize_t len = st_backends_size(e, n, m);
	uint8_t *buf;
	int rc;

	if (len < 0)
		return (int)len;
	buf = malloc((size_t)len);
	if (!buf)
		return -ENOMEM;
	rc = (int)st_backends_build(e, n, m, buf, (size_t)len);
	if (rc == len)
		rc = st_backends_parse(buf, (size_t)len, &v, &why);
	if (!rc)
		rc = st_cp_backends_take(b, &v);
	free(buf);
	return rc;
}

static void test_sums_and_rates(void)
{
	struct st_config *cfg = load_conf();
	struct st_cp_backends *b;
	struct st_backends_entry e[4];
	struct st_backends_meta m = meta_at(EPOCH0);
	struct st_policy_backend_metrics pm[8];
	const struct st_cp_backend_row *r;
	const struct st_cp_endpoint_row *u;
	uint32_t len_fast = 0, len_slow = 0;
	uint8_t *fast, *slow;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	b = st_cp_backends_create(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(st_cp_backends_count(b), 3);
	CU_ASSERT_FALSE(st_cp_backends_latest(b)->valid);
	/* nothing yet: no figures for the policy */
	CU_ASSERT_EQUAL(st_cp_backends_policy_metrics(b, 0, UINT64_MAX, pm, 8), 0);
	fast = latency_blob(1000, 100, &len_fast);    /* 100 x 1 ms */
	slow = latency_blob(50000, 100, &len_slow);   /* 100 x 50 ms */
	CU_ASSERT_FATAL(fast && slow);

	memset(e, 0, sizeof(e));
	/* b0 = 10.0.0.5, two ports */
	v4(&e[0], 10, 0, 0, 5);
	e[0].port = 9092, e[0].protocol = 1;
	e[0].records = 100, e[0].record_bytes = 5000;
	e[0].packets_to = 40, e[0].bytes_to = 6000, e[0].packets_from = 30, e[0].bytes_from = 2000;
	e[0].retransmissions_to = 3, e[0].retransmissions_from = 1;
	e[0].zero_windows_from = 4, e[0].zero_windows_to = 7;
	e[0].flows_new = 2, e[0].egress_records = 10;
	e[0].latency = fast, e[0].latency_len = len_fast;
	v4(&e[1], 10, 0, 0, 5);
	e[1].port = 9093, e[1].protocol = 1;
	e[1].records = 60, e[1].record_bytes = 3000;
	e[1].packets_to = 20, e[1].bytes_to = 3000, e[1].packets_from = 10, e[1].bytes_from = 1000;
	e[1].retransmissions_to = 2;
	e[1].zero_windows_from = 2;
	e[1].latency = slow, e[1].latency_len = len_slow;
	/* 10.0.0.77: no backend */
	v4(&e[2], 10, 0, 0, 77);
	e[2].port = 1883, e[2].protocol = 2, e[2].records = 8, e[2].packets_to = 8;
	/* b1 = 2001:db8::7 */
	e[3].family = 6;
	memcpy(e[3].addr, v6_b1, 16);
	e[3].port = 4222, e[3].protocol = 3;
	e[3].records = 10, e[3].packets_to = 5, e[3].bytes_to = 500;
	e[3].packets_from = 5, e[3].bytes_from = 400;
	CU_ASSERT_EQUAL_FATAL(take_built(b, e, 4, &m), 0);

	CU_ASSERT_TRUE(st_cp_backends_latest(b)->valid);
	CU_ASSERT_EQUAL(st_cp_backends_latest(b)->entries, 4);
	CU_ASSERT_EQUAL(st_cp_backends_latest(b)->meta.epoch_start_ns, EPOCH0);
	r = st_cp_backends_at(b, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r ? r->name : "", "b0");
	CU_ASSERT_STRING_EQUAL(r ? r->pool : "", "p");
	CU_ASSERT_EQUAL(r->latest.entries, 2);
	CU_ASSERT_EQUAL(r->latest.records, 160);                /* 100 + 60 */
	CU_ASSERT_EQUAL(r->latest.record_bytes, 8000);
	CU_ASSERT_EQUAL(r->latest.packets_to, 60);
	CU_ASSERT_EQUAL(r->latest.packets_from, 40);
	CU_ASSERT_EQUAL(r->latest.zero_windows_to, 7);
	CU_ASSERT_EQUAL(r->latest.flows_new, 2);
	CU_ASSERT_EQUAL(r->latest.egress_records, 10);
	CU_ASSERT_EQUAL(r->latest.latency_samples, 200);
	CU_ASSERT_DOUBLE_EQUAL(r->latest.records_per_s, 80.0, 1e-9);   /* 160 / 2 */
	/* (6000 + 2000 + 3000 + 1000) / 2 */
	CU_ASSERT_DOUBLE_EQUAL(r->latest.bytes_per_s, 6000.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r->latest.retransmissions_per_s, 3.0, 1e-9); /* (3+1+2+0)/2 */
	/* the backend's own zero windows only: (4 + 2) / 2, not its clients' 7 */
	CU_ASSERT_DOUBLE_EQUAL(r->latest.zero_windows_per_s, 3.0, 1e-9);
	/* rank 0.99 of 100 x 1 ms and 100 x 50 ms is 50 ms, within 1 % */
	CU_ASSERT(fabs(r->latest.latency_p99_ms - 50.0) <= 0.5);
	r = st_cp_backends_at(b, 1);
	CU_ASSERT_STRING_EQUAL(r->name, "b1");
	CU_ASSERT_EQUAL(r->latest.entries, 1);
	CU_ASSERT_DOUBLE_EQUAL(r->latest.records_per_s, 5.0, 1e-9);     /* 10 / 2 */
	CU_ASSERT_DOUBLE_EQUAL(r->latest.bytes_per_s, 450.0, 1e-9);     /* 900 / 2 */
	CU_ASSERT_DOUBLE_EQUAL(r->latest.retransmissions_per_s, 0.0, 1e-9);
	CU_ASSERT(isnan(r->latest.latency_p99_ms));
	r = st_cp_backends_at(b, 2);
	CU_ASSERT_EQUAL(r->latest.entries, 0);
	CU_ASSERT_EQUAL(r->latest.records, 0);
	CU_ASSERT_DOUBLE_EQUAL(r->latest.records_per_s, 0.0, 1e-9);
	CU_ASSERT(isnan(r->latest.latency_p99_ms));
	CU_ASSERT_PTR_NULL(st_cp_backends_at(b, 3));
	CU_ASSERT_EQUAL(st_cp_backends_unmatched_count(b), 1);
	u = st_cp_backends_unmatched_at(b, 0);
	CU_ASSERT_FATAL(u != NULL);
	CU_ASSERT(u->family == 4 && u->addr[3] == 77 && u->port == 1883 && u->protocol == 2);
	CU_ASSERT_EQUAL(u->latest.records, 8);
	CU_ASSERT_DOUBLE_EQUAL(u->latest.records_per_s, 4.0, 1e-9);
	CU_ASSERT_PTR_NULL(st_cp_backends_unmatched_at(b, 1));

	/* the policy's inputs: for a span holding the epoch's start only */
	CU_ASSERT_EQUAL(st_cp_backends_policy_metrics(b, EPOCH0, EPOCH0 + EPOCH_NS, pm, 8), 3);
	CU_ASSERT(pm[0].backend == 0 && pm[1].backend == 1 && pm[2].backend == 2);
	CU_ASSERT_DOUBLE_EQUAL(pm[0].records_per_s, 80.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(pm[0].bytes_per_s, 6000.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(pm[0].retransmissions_per_s, 3.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(pm[0].zero_windows_per_s, 3.0, 1e-9);
	CU_ASSERT(fabs(pm[0].latency_p99_ms - 50.0) <= 0.5);
	CU_ASSERT(isnan(pm[2].latency_p99_ms));
	CU_ASSERT_EQUAL(st_cp_backends_policy_metrics(b, EPOCH0, EPOCH0 + EPOCH_NS, pm, 2), 2);
	CU_ASSERT_EQUAL(st_cp_backends_policy_metrics(b, EPOCH0 + 1, EPOCH0 + EPOCH_NS, pm, 8), 0);
	CU_ASSERT_EQUAL(st_cp_backends_policy_metrics(b, 0, EPOCH0, pm, 8), 0);

	/* the next epoch: b1 only.  b0's latest is empty; the totals add up */
	memset(e, 0, sizeof(e));
	e[0].family = 6;
	memcpy(e[0].addr, v6_b1, 16);
	e[0].port = 4222, e[0].records = 4, e[0].packets_from = 3;
	m = meta_at(EPOCH0 + EPOCH_NS);
	CU_ASSERT_EQUAL_FATAL(take_built(b, e, 1, &m), 0);
	r = st_cp_backends_at(b, 0);
	CU_ASSERT(r->latest.entries == 0 && r->latest.records == 0 &&
		  isnan(r->latest.latency_p99_ms));
	CU_ASSERT(r->totals.epochs == 1 && r->totals.records == 160 &&
		  r->totals.packets_to == 60 && r->totals.packets_from == 40 &&
		  r->totals.retransmissions == 6 && r->totals.zero_windows_from == 6 &&
		  r->totals.latency_samples == 200 && r->totals.bytes_to == 9000 &&
		  r->totals.bytes_from == 3000);
	r = st_cp_backends_at(b, 1);
	CU_ASSERT(r->totals.epochs == 2 && r->totals.records == 14 &&
		  r->totals.packets_to == 5 && r->totals.packets_from == 8);
	CU_ASSERT_EQUAL(st_cp_backends_unmatched_count(b), 0);
	{
		struct st_cp_backends_stats st;

		st_cp_backends_stats(b, &st);
		CU_ASSERT(st.epochs == 2 && st.entries == 5 && st.entries_matched == 4 &&
			  st.unmatched_dropped == 0 && st.latency_bad == 0 &&
			  st.out_of_order == 0);
	}
	free(fast);
	free(slow);
	st_cp_backends_destroy(b);
	st_config_destroy(cfg);
}

static void test_order_and_bounds(void)
{
	struct st_config *cfg = load_conf();
	struct st_cp_backends *b;
	struct st_backends_entry e;
	struct st_backends_meta m = meta_at(EPOCH0);
	struct st_cp_backends_stats st;
	uint8_t junk[40];

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	b = st_cp_backends_create(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memset(&e, 0, sizeof(e));
	v4(&e, 192, 0, 2, 1);
	e.records = 1;
	/* outside an epoch */
	CU_ASSERT_EQUAL(st_cp_backends_add(b, &e), -ESRCH);
	CU_ASSERT_EQUAL(st_cp_backends_begin(b, NULL), -EINVAL);
	m.epoch_ns = 0;
	CU_ASSERT_EQUAL(st_cp_backends_begin(b, &m), -EINVAL);
	m = meta_at(EPOCH0);
	CU_ASSERT_EQUAL(st_cp_backends_begin(b, &m), 0);
	/* 70 unmatched endpoints: 64 kept, 6 counted */
	for (unsigned i = 0; i < 70; i++) {
		e.port = (uint16_t)(1000 + i);
		CU_ASSERT_EQUAL(st_cp_backends_add(b, &e), i < ST_CP_BACKENDS_UNMATCHED_MAX
				? 0 : -ENOENT);
	}
	e.family = 5;
	CU_ASSERT_EQUAL(st_cp_backends_add(b, &e), -EINVAL);
	/* a latency blob the sketch refuses: counted, the counters still count */
	memset(junk, 0xa5, sizeof(junk));
	v4(&e, 10, 0, 0, 5);
	e.port = 1, e.records = 9, e.latency = junk, e.latency_len = sizeof(junk);
	CU_ASSERT_EQUAL(st_cp_backends_add(b, &e), -EBADMSG);
	st_cp_backends_end(b);
	CU_ASSERT_EQUAL(st_cp_backends_unmatched_count(b), ST_CP_BACKENDS_UNMATCHED_MAX);
	CU_ASSERT_EQUAL(st_cp_backends_unmatched_at(b, 63)->port, 1063);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->latest.records, 9);
	CU_ASSERT(isnan(st_cp_backends_at(b, 0)->latest.latency_p99_ms));
	st_cp_backends_stats(b, &st);
	CU_ASSERT(st.unmatched_dropped == 6 && st.latency_bad == 1 && st.epochs == 1);
	/* the same epoch again, or an older one: ignored, counted */
	CU_ASSERT_EQUAL(st_cp_backends_begin(b, &m), -EALREADY);
	CU_ASSERT_EQUAL(st_cp_backends_add(b, &e), -ESRCH);
	st_cp_backends_end(b);   /* no-op */
	m.epoch_start_ns = EPOCH0 - 1;
	CU_ASSERT_EQUAL(st_cp_backends_begin(b, &m), -EALREADY);
	st_cp_backends_stats(b, &st);
	CU_ASSERT(st.out_of_order == 4 && st.epochs == 1);   /* 2 adds, 2 begins */
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->latest.records, 9);
	/* a new config: the epoch's figures start over, the totals of a
	 * backend of the same name stay (b0's one epoch of 9 records) */
	st_cp_backends_reconfigure(b, cfg);
	CU_ASSERT_FALSE(st_cp_backends_latest(b)->valid);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->latest.records, 0);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.records, 9);
	CU_ASSERT_EQUAL(st_cp_backends_unmatched_count(b), 0);
	st_cp_backends_destroy(b);
	st_cp_backends_destroy(NULL);
	st_config_destroy(cfg);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* A record of two entries written from the header's drawing, no builder. */
static void test_record_by_hand(void)
{
	struct st_config *cfg = load_conf();
	struct st_cp_backends *b;
	struct st_backends_view v;
	const char *why = NULL;
	uint8_t rec[64 + 2 * 128];
	uint8_t *x;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	b = st_cp_backends_create(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memset(rec, 0, sizeof(rec));
	memcpy(rec, "STBE", 4);
	put16(rec + 4, 1);                   /* ABI version */
	put16(rec + 6, 64);
	put32(rec + 8, sizeof(rec));
	put64(rec + 16, EPOCH0);
	put64(rec + 24, 500000000);          /* 0.5 s */
	put16(rec + 32, 2);
	put16(rec + 34, 2);
	put32(rec + 36, 2);
	/* entry 0: 10.0.0.5:9092 kafka */
	x = rec + 64;
	x[0] = 4, x[1] = 1;
	put16(x + 2, 9092);
	x[8] = 10, x[11] = 5;
	put64(x + 24, 7);                    /* records */
	put64(x + 32, 700);
	put64(x + 40, 11);                   /* packets to */
	put64(x + 48, 1100);
	put64(x + 56, 13);                   /* packets from */
	put64(x + 64, 1300);
	put64(x + 72, 1);                    /* retransmissions to */
	put64(x + 80, 2);                    /* ... from */
	put64(x + 88, 5);                    /* zero windows from the server */
	put64(x + 96, 100);                  /* ... from the client */
	put64(x + 104, 1);
	put64(x + 112, 3);
	/* entry 1: 10.0.0.9:9092 kafka (b2) */
	x = rec + 64 + 128;
	x[0] = 4, x[1] = 1;
	put16(x + 2, 9092);
	x[8] = 10, x[11] = 9;
	put64(x + 40, 1);
	CU_ASSERT_TRUE(st_backends_is_record(rec, sizeof(rec)));
	CU_ASSERT_EQUAL_FATAL(st_backends_parse(rec, sizeof(rec), &v, &why), 0);
	CU_ASSERT_EQUAL(st_cp_backends_take(b, &v), 0);
	{
		const struct st_cp_backend_figures *f = &st_cp_backends_at(b, 0)->latest;

		CU_ASSERT(f->records == 7 && f->packets_to == 11 && f->packets_from == 13 &&
			  f->retransmissions_to == 1 && f->retransmissions_from == 2 &&
			  f->zero_windows_from == 5 && f->zero_windows_to == 100 &&
			  f->flows_new == 1 && f->egress_records == 3);
		CU_ASSERT_DOUBLE_EQUAL(f->records_per_s, 14.0, 1e-9);        /* 7 / 0.5 */
		CU_ASSERT_DOUBLE_EQUAL(f->bytes_per_s, 4800.0, 1e-9);        /* 2400 / 0.5 */
		CU_ASSERT_DOUBLE_EQUAL(f->retransmissions_per_s, 6.0, 1e-9); /* 3 / 0.5 */
		CU_ASSERT_DOUBLE_EQUAL(f->zero_windows_per_s, 10.0, 1e-9);   /* 5 / 0.5 */
		CU_ASSERT_EQUAL(st_cp_backends_at(b, 2)->latest.packets_to, 1);
		CU_ASSERT_EQUAL(st_cp_backends_at(b, 1)->latest.entries, 0);
	}
	CU_ASSERT_EQUAL(st_cp_backends_latest(b)->meta.cores_merged, 2);
	st_cp_backends_destroy(b);
	st_config_destroy(cfg);
}

/* Many epochs with latency: ASan's leak check sees any sketch kept. */
static void test_many_epochs(void)
{
	struct st_config *cfg = load_conf();
	struct st_cp_backends *b;
	struct st_backends_entry e;
	uint32_t len = 0;
	uint8_t *blob = latency_blob(2000, 10, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
	b = st_cp_backends_create(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memset(&e, 0, sizeof(e));
	v4(&e, 10, 0, 0, 5);
	e.records = 1, e.latency = blob, e.latency_len = len;
	for (unsigned i = 0; i < 200; i++) {
		struct st_backends_meta m = meta_at(EPOCH0 + i * EPOCH_NS);

		CU_ASSERT_EQUAL(take_built(b, &e, 1, &m), 0);
	}
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.records, 200);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.latency_samples, 2000);
	CU_ASSERT(fabs(st_cp_backends_at(b, 0)->latest.latency_p99_ms - 2.0) <= 0.02);
	free(blob);
	st_cp_backends_destroy(b);
	st_config_destroy(cfg);
}

/* A late core's PARTIAL record of an epoch already taken: into the totals
 * only; a whole record of an old epoch: ignored.  A reload keeps the totals
 * of a backend whose name stays, not of one renamed. */
static void test_late_partial_and_reload(void)
{
	static const char renamed[] =
		"pools = ( { name = \"p\"; min_backends = 1; } );\n"
		"backends = (\n"
		"  { name = \"bx\"; pool = \"p\"; address = \"10.0.0.5\"; },\n"
		"  { name = \"b1\"; pool = \"p\"; address = \"2001:db8::7\"; } );\n";
	struct st_config *cfg = load_conf(), *cfg2 = load_conf_text(renamed);
	struct st_backends_meta m = meta_at(EPOCH0);
	struct st_cp_backends_stats st;
	struct st_backends_entry e[2];
	struct st_cp_backends *b;
	uint32_t len = 0;
	uint8_t *blob = latency_blob(500, 4, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
	b = st_cp_backends_create(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memset(e, 0, sizeof(e));
	v4(&e[0], 10, 0, 0, 5);               /* b0 */
	e[0].records = 10, e[0].packets_to = 3, e[0].retransmissions_to = 1;
	e[1].family = 6;                       /* b1 */
	memcpy(e[1].addr, v6_b1, 16);
	e[1].records = 7;
	/* core 0 of 2 in time: PARTIAL */
	m.cores_expected = 2;
	m.flags = ST_BACKENDS_F_PARTIAL;
	CU_ASSERT_EQUAL(take_built(b, e, 2, &m), 0);
	/* core 1 late, same epoch: 5 more records of b0, 4 latency samples,
	 * 2 retransmissions from the server */
	e[0].records = 5, e[0].packets_to = 2, e[0].retransmissions_to = 0;
	e[0].retransmissions_from = 2, e[0].latency = blob, e[0].latency_len = len;
	CU_ASSERT_EQUAL(take_built(b, e, 1, &m), -EALREADY);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->latest.records, 10);   /* as judged */
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.records, 15);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.packets_to, 5);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.retransmissions, 3);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.latency_samples, 4);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 1)->totals.records, 7);
	/* a whole (not PARTIAL) record of the same epoch: ignored */
	m.cores_expected = 1, m.flags = 0;
	CU_ASSERT_EQUAL(take_built(b, e, 1, &m), -EALREADY);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.records, 15);
	st_cp_backends_stats(b, &st);
	CU_ASSERT(st.late_partial == 1 && st.out_of_order == 1 && st.epochs == 1);
	/* reload: b1 keeps its name and totals; b0 became bx and starts over */
	st_cp_backends_reconfigure(b, cfg2);
	CU_ASSERT_EQUAL(st_cp_backends_count(b), 2);
	CU_ASSERT_STRING_EQUAL(st_cp_backends_at(b, 0)->name, "bx");
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.records, 0);
	CU_ASSERT_STRING_EQUAL(st_cp_backends_at(b, 1)->name, "b1");
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 1)->totals.records, 7);
	CU_ASSERT_PTR_NULL(st_cp_backends_at(b, 2));
	/* and back: b0 is new again (its old totals went with the reload) */
	st_cp_backends_reconfigure(b, cfg);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 0)->totals.records, 0);
	CU_ASSERT_EQUAL(st_cp_backends_at(b, 1)->totals.records, 7);
	free(blob);
	st_cp_backends_destroy(b);
	st_config_destroy(cfg2);
	st_config_destroy(cfg);
}

ST_TEST_MAIN("control/cp/backends",
	ST_TEST(test_late_partial_and_reload),
	ST_TEST(test_sums_and_rates),
	ST_TEST(test_order_and_bounds),
	ST_TEST(test_record_by_hand),
	ST_TEST(test_many_epochs),
)
