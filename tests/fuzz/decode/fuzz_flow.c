/*
 * libFuzzer target for the flow table (dataplane/flow), driven by fuzzed
 * 5-tuples from a small key space so that hits, idle timeouts, evictions,
 * closes and sweeps all happen.
 *
 * Input: byte 0 -> max_flows (1..64), byte 1 -> idle timeout (0 = none),
 * then 4-byte operations {op, a, b, dt}: the clock moves dt ns; op picks
 * get (a, b choose family, addresses, ports, protocol; the direction is
 * random), close of that key's entry, or a sweep of b % 32 visits.
 *
 * A model kept by this target (live keys with their last-seen time,
 * updated from the release callback) must agree with the table: a get of
 * a live, non-idle key is a hit on the same entry, any other get creates;
 * the model never holds a key twice nor more than max_flows keys; every
 * release is of a live entry; the counters balance (lookups = hits +
 * created, active = created - expired - evicted - closed = model size) and
 * match the releases seen by reason.  Any violation aborts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/flow/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                               \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, \
				__LINE__);                                        \
			abort();                                                  \
		}                                                                 \
	} while (0)

#define MODEL_MAX 64

struct model {
	struct st_flow_key key[MODEL_MAX];
	struct st_flow *entry[MODEL_MAX];
	uint64_t last_seen[MODEL_MAX];
	unsigned n;
	uint64_t released[ST_FLOW_END__COUNT];
};

static int model_find(const struct model *m, const struct st_flow_key *k)
{
	for (unsigned i = 0; i < m->n; i++)
		if (!memcmp(&m->key[i], k, sizeof(*k)))
			return (int)i;
	return -1;
}

static void on_release(void *ctx, struct st_flow *f, enum st_flow_end why)
{
	struct model *m = ctx;
	int i = model_find(m, &f->key);

	CHECK(i >= 0 && m->entry[i] == f);
	CHECK((unsigned)why < ST_FLOW_END__COUNT);
	m->released[why]++;
	m->n--;
	m->key[i] = m->key[m->n];
	m->entry[i] = m->entry[m->n];
	m->last_seen[i] = m->last_seen[m->n];
}

static struct st_pkt make_pkt(uint8_t a, uint8_t b, uint64_t now)
{
	struct st_pkt p = { .ts_ns = now, .frame_len = 60 + b, .l4_proto = (a & 0x80) ? 17 : 6,
			    .sport = (uint16_t)(1000 + (b & 3)), .dport = (uint16_t)(1000 + ((b >> 2) & 3)) };

	p.family = (a & 0x40) ? 6 : 4;
	if (p.family == 4) {
		p.saddr[10] = p.saddr[11] = p.daddr[10] = p.daddr[11] = 0xff;
	} else {
		p.saddr[0] = p.daddr[0] = 0x20;
		p.saddr[5] = (uint8_t)(b >> 6);   /* differ past the first 32 bits */
	}
	p.saddr[15] = a & 3;
	p.daddr[15] = (a >> 2) & 3;
	return p;
}

static void check_counts(struct st_flow_table *t, const struct model *m)
{
	const struct st_flow_stats *s = st_flow_table_stats(t);

	CHECK(s->lookups == s->hits + s->created);
	CHECK(s->active == s->created - s->expired - s->evicted - s->closed);
	CHECK(s->active == m->n && m->n <= st_flow_capacity(t));
	CHECK(s->expired == m->released[ST_FLOW_END_IDLE]);
	CHECK(s->evicted == m->released[ST_FLOW_END_EVICTED]);
	CHECK(s->closed == m->released[ST_FLOW_END_CLOSED]);
	CHECK(s->bucket_full <= s->evicted);
}

static void do_get(struct st_flow_table *t, struct model *m, struct st_pkt *p,
		   uint64_t timeout)
{
	struct st_flow_key key;
	enum st_flow_dir dir, want_dir = st_flow_key_make(p, &key);
	int i = model_find(m, &key);
	bool live = i >= 0 && !(timeout && p->ts_ns > m->last_seen[i] &&
				p->ts_ns - m->last_seen[i] > timeout);
	struct st_flow *before = i >= 0 ? m->entry[i] : NULL;
	struct st_flow *f;
	bool created;

	f = st_flow_get(t, p, &dir, &created);
	CHECK(f && dir == want_dir);
	CHECK(!memcmp(&f->key, &key, sizeof(key)));
	CHECK(f->hash == st_flow_hash(p));
	if (live) {
		CHECK(!created && f == before);
	} else {
		CHECK(created);
		CHECK(model_find(m, &key) < 0);
		CHECK(m->n < MODEL_MAX);
		CHECK(f->packets[dir] == 1 && f->packets[!dir] == 0 && f->first_seen_ns == p->ts_ns);
		i = (int)m->n++;
		m->key[i] = key;
		m->entry[i] = f;
		m->last_seen[i] = 0;
	}
	if (p->ts_ns > m->last_seen[i])
		m->last_seen[i] = p->ts_ns;
	CHECK(f->last_seen_ns == m->last_seen[i]);
	CHECK(st_flow_find(t, &key) == f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct st_flow_config cfg;
	struct st_flow_table *t;
	uint64_t now = 1, active;

	if (size < 2)
		return 0;
	memset(&m, 0, sizeof(m));
	cfg = (struct st_flow_config){
		.max_flows = 1u + data[0] % MODEL_MAX,
		.user_bytes = 24,
		.idle_timeout_ns = (uint64_t)data[1] * 4,
		.release = on_release,
		.release_ctx = &m,
	};
	t = st_flow_table_create(&cfg);
	CHECK(t);
	for (size_t off = 2; off + 4 <= size; off += 4) {
		uint8_t op = data[off], a = data[off + 1], b = data[off + 2];
		struct st_pkt p;

		now += data[off + 3];
		p = make_pkt(a, b, now);
		switch (op % 8) {
		case 6: {
			struct st_flow_key key;
			struct st_flow *f;

			st_flow_key_make(&p, &key);
			f = st_flow_find(t, &key);
			if (f) {
				CHECK(st_flow_close(t, f) == 0);
				CHECK(st_flow_find(t, &key) == NULL);
			}
			CHECK(st_flow_close(t, f) == -22);
			break;
		}
		case 7: {
			unsigned n = st_flow_expire(t, now, b % 32);

			CHECK(n <= b % 32);
			break;
		}
		default:
			if (op & 0x80) {
				struct st_pkt r = p;

				memcpy(r.saddr, p.daddr, 16);
				memcpy(r.daddr, p.saddr, 16);
				r.sport = p.dport;
				r.dport = p.sport;
				p = r;
			}
			do_get(t, &m, &p, cfg.idle_timeout_ns);
			break;
		}
		check_counts(t, &m);
	}
	active = st_flow_table_stats(t)->active;
	st_flow_table_destroy(t);
	CHECK(m.n == 0 && m.released[ST_FLOW_END_DESTROYED] == active);
	return 0;
}
