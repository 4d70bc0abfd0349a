/*
 * Per-backend reactive metrics in shadowtap-cp (backends.h).
 *
 * Layout: rows[] (one per config backend) and ep[] (unmatched endpoints)
 * of the epoch being built, each with its latency sketch while building;
 * pub_rows[] and pub_ep[] the latest published epoch.  end() computes the
 * rates into the building rows and copies them over the published ones.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "control/cp/backends.h"
#include "dataplane/sketch/quantile.h"

struct building {
	struct st_cp_backend_figures f;
	struct st_qs *latency;          /* NULL: no sample yet */
	/* during st_cp_backends_reconfigure only: an old row's totals */
	struct st_cp_backend_totals kept;
	char kept_name[ST_CONFIG_NAME_BYTES];
};

struct st_cp_backends {
	size_t n_rows;
	struct st_cp_backend_row *pub_rows;        /* ST_CONFIG_BACKENDS_MAX */
	struct building *rows;                     /* ST_CONFIG_BACKENDS_MAX */
	size_t n_ep, n_pub_ep;
	struct st_cp_endpoint_row pub_ep[ST_CP_BACKENDS_UNMATCHED_MAX];
	struct st_cp_endpoint_row ep[ST_CP_BACKENDS_UNMATCHED_MAX];
	struct st_qs *ep_latency[ST_CP_BACKENDS_UNMATCHED_MAX];
	bool building;
	struct st_backends_meta meta;              /* of the epoch being built */
	uint32_t entries;
	struct st_cp_backends_epoch latest;
	struct st_cp_backends_stats st;
};

static void drop_sketches(struct st_cp_backends *b)
{
	for (size_t i = 0; i < b->n_rows; i++) {
		st_qs_destroy(b->rows[i].latency);
		b->rows[i].latency = NULL;
	}
	for (size_t i = 0; i < ST_CP_BACKENDS_UNMATCHED_MAX; i++) {
		st_qs_destroy(b->ep_latency[i]);
		b->ep_latency[i] = NULL;
	}
}

void st_cp_backends_reconfigure(struct st_cp_backends *b, const struct st_config *cfg)
{
	size_t n = st_config_backend_count(cfg), old_rows = b->n_rows;

	drop_sketches(b);
	b->building = false;
	/* the old rows' totals, kept for backends of the same name; the
	 * building rows are free now and hold them meanwhile */
	for (size_t i = 0; i < old_rows; i++)
		b->rows[i].kept = b->pub_rows[i].totals;
	for (size_t i = 0; i < old_rows; i++)
		memcpy(b->rows[i].kept_name, b->pub_rows[i].name, sizeof(b->rows[i].kept_name));
	n = n < ST_CONFIG_BACKENDS_MAX ? n : ST_CONFIG_BACKENDS_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct st_config_backend *cb = st_config_backend_at(cfg, i);
		const struct st_config_pool *pool = st_config_pool_at(cfg, cb->pool);
		struct st_cp_backend_row *r = &b->pub_rows[i];

		memset(r, 0, sizeof(*r));
		for (size_t k = 0; k < old_rows; k++)
			if (!strcmp(b->rows[k].kept_name, cb->name))
				r->totals = b->rows[k].kept;
		snprintf(r->name, sizeof(r->name), "%s", cb->name);
		snprintf(r->pool, sizeof(r->pool), "%s", pool ? pool->name : "");
		r->address = cb->address;
		r->latest.latency_p99_ms = NAN;
	}
	b->n_rows = n;
	memset(b->pub_rows + n, 0, (ST_CONFIG_BACKENDS_MAX - n) * sizeof(*b->pub_rows));
	memset(b->rows, 0, ST_CONFIG_BACKENDS_MAX * sizeof(*b->rows));
	b->n_ep = b->n_pub_ep = 0;
	memset(&b->latest, 0, sizeof(b->latest));
}

struct st_cp_backends *st_cp_backends_create(const struct st_config *cfg)
{
	struct st_cp_backends *b = calloc(1, sizeof(*b));

	if (!b)
		goto out_nomem;
	b->pub_rows = calloc(ST_CONFIG_BACKENDS_MAX, sizeof(*b->pub_rows));
	b->rows = calloc(ST_CONFIG_BACKENDS_MAX, sizeof(*b->rows));
	if (!b->pub_rows || !b->rows)
		goto out_free;
	st_cp_backends_reconfigure(b, cfg);
	return b;

out_free:
	free(b->rows);
	free(b->pub_rows);
	free(b);
out_nomem:
	errno = ENOMEM;
	return NULL;
}

void st_cp_backends_destroy(struct st_cp_backends *b)
{
	if (!b)
		return;
	drop_sketches(b);
	free(b->rows);
	free(b->pub_rows);
	free(b);
}

int st_cp_backends_begin(struct st_cp_backends *b, const struct st_backends_meta *meta)
{
	if (!meta || meta->epoch_ns == 0)
		return -EINVAL;
	drop_sketches(b);
	b->building = false;
	if (b->latest.valid && meta->epoch_start_ns <= b->latest.meta.epoch_start_ns) {
		b->st.out_of_order++;
		return -EALREADY;
	}
	for (size_t i = 0; i < b->n_rows; i++)
		memset(&b->rows[i].f, 0, sizeof(b->rows[i].f));
	b->n_ep = 0;
	b->meta = *meta;
	b->entries = 0;
	b->building = true;
	return 0;
}

/* The first backend whose address is the entry's, or -1. */
static long match(const struct st_cp_backends *b, const struct st_backends_entry *e)
{
	int af = e->family == 4 ? AF_INET : AF_INET6;
	size_t len = e->family == 4 ? 4 : 16;

	for (size_t i = 0; i < b->n_rows; i++) {
		const struct st_config_addr *a = &b->pub_rows[i].address;

		if (a->af == af && !memcmp(a->bytes, e->addr, len))
			return (long)i;
	}
	return -1;
}

static void sum(struct st_cp_backend_figures *f, const struct st_backends_entry *e)
{
	f->entries++;
	f->records += e->records;
	f->record_bytes += e->record_bytes;
	f->packets_to += e->packets_to;
	f->bytes_to += e->bytes_to;
	f->packets_from += e->packets_from;
	f->bytes_from += e->bytes_from;
	f->retransmissions_to += e->retransmissions_to;
	f->retransmissions_from += e->retransmissions_from;
	f->zero_windows_from += e->zero_windows_from;
	f->zero_windows_to += e->zero_windows_to;
	f->flows_new += e->flows_new;
	f->egress_records += e->egress_records;
}

/* Merges the entry's latency blob into *into (created from the first). */
static int merge_latency(struct st_cp_backends *b, struct st_qs **into,
			 const struct st_backends_entry *e)
{
	const char *why = NULL;
	struct st_qs *q;

	if (!e->latency_len)
		return 0;
	q = e->latency ? st_qs_deserialize(e->latency, e->latency_len, &why) : NULL;
	if (!q)
		goto out_bad;
	if (!*into) {
		*into = q;
		return 0;
	}
	if (st_qs_merge(*into, q)) {
		st_qs_destroy(q);
		goto out_bad;
	}
	st_qs_destroy(q);
	return 0;

out_bad:
	b->st.latency_bad++;
	return -EBADMSG;
}

int st_cp_backends_add(struct st_cp_backends *b, const struct st_backends_entry *e)
{
	struct st_cp_endpoint_row *ep;
	long i;

	if (!b->building) {
		b->st.out_of_order++;
		return -ESRCH;
	}
	if (e->family != 4 && e->family != 6)
		return -EINVAL;
	b->entries++;
	b->st.entries++;
	i = match(b, e);
	if (i >= 0) {
		b->st.entries_matched++;
		sum(&b->rows[i].f, e);
		return merge_latency(b, &b->rows[i].latency, e);
	}
	if (b->n_ep == ST_CP_BACKENDS_UNMATCHED_MAX) {
		b->st.unmatched_dropped++;
		return -ENOENT;
	}
	ep = &b->ep[b->n_ep];
	memset(ep, 0, sizeof(*ep));
	ep->family = e->family;
	ep->protocol = e->protocol;
	ep->port = e->port;
	memcpy(ep->addr, e->addr, sizeof(ep->addr));
	sum(&ep->latest, e);
	return merge_latency(b, &b->ep_latency[b->n_ep++], e);
}

/* Rates over the epoch, and the p99 of the merged sketch. */
static void finish(struct st_cp_backend_figures *f, const struct st_qs *latency,
		   double epoch_s)
{
	f->records_per_s = (double)f->records / epoch_s;
	f->bytes_per_s = ((double)f->bytes_to + (double)f->bytes_from) / epoch_s;
	f->retransmissions_per_s = ((double)f->retransmissions_to +
				    (double)f->retransmissions_from) / epoch_s;
	f->zero_windows_per_s = (double)f->zero_windows_from / epoch_s;
	f->latency_samples = latency ? st_qs_count(latency) : 0;
	f->latency_p99_ms = f->latency_samples ? st_qs_estimate(latency, 0.99) / 1000.0 : NAN;
}

void st_cp_backends_end(struct st_cp_backends *b)
{
	double epoch_s = (double)b->meta.epoch_ns / 1e9;

	if (!b->building)
		return;
	for (size_t i = 0; i < b->n_rows; i++) {
		struct st_cp_backend_figures *f = &b->rows[i].f;
		struct st_cp_backend_totals *t = &b->pub_rows[i].totals;

		finish(f, b->rows[i].latency, epoch_s);
		b->pub_rows[i].latest = *f;
		if (!f->entries)
			continue;
		t->epochs++;
		t->records += f->records;
		t->record_bytes += f->record_bytes;
		t->packets_to += f->packets_to;
		t->packets_from += f->packets_from;
		t->bytes_to += f->bytes_to;
		t->bytes_from += f->bytes_from;
		t->retransmissions += f->retransmissions_to + f->retransmissions_from;
		t->zero_windows_from += f->zero_windows_from;
		t->latency_samples += f->latency_samples;
	}
	for (size_t i = 0; i < b->n_ep; i++) {
		finish(&b->ep[i].latest, b->ep_latency[i], epoch_s);
		b->pub_ep[i] = b->ep[i];
	}
	b->n_pub_ep = b->n_ep;
	drop_sketches(b);
	b->latest.valid = true;
	b->latest.meta = b->meta;
	b->latest.entries = b->entries;
	b->st.epochs++;
	b->building = false;
}

/*
 * A PARTIAL record of an epoch already taken: a core that missed the merge
 * sends its share later (dataplane/engine.c).  The epoch's figures were
 * judged without it; its counts still go into the totals.
 */
static void take_late(struct st_cp_backends *b, const struct st_backends_view *v)
{
	struct st_backends_entry e;
	size_t pos = 0;

	b->st.late_partial++;
	while (st_backends_next(v, &pos, &e) == 1) {
		long i = match(b, &e);
		struct st_cp_backend_totals *t;
		struct st_qs *q = NULL;

		if (i < 0)
			continue;
		t = &b->pub_rows[i].totals;
		t->records += e.records;
		t->record_bytes += e.record_bytes;
		t->packets_to += e.packets_to;
		t->packets_from += e.packets_from;
		t->bytes_to += e.bytes_to;
		t->bytes_from += e.bytes_from;
		t->retransmissions += e.retransmissions_to + e.retransmissions_from;
		t->zero_windows_from += e.zero_windows_from;
		if (merge_latency(b, &q, &e) == 0 && q)
			t->latency_samples += st_qs_count(q);
		st_qs_destroy(q);
	}
}

int st_cp_backends_take(struct st_cp_backends *b, const struct st_backends_view *v)
{
	struct st_backends_entry e;
	size_t pos = 0;
	int rc;

	if (b->latest.valid && (v->meta.flags & ST_BACKENDS_F_PARTIAL) &&
	    v->meta.epoch_start_ns <= b->latest.meta.epoch_start_ns) {
		take_late(b, v);
		return -EALREADY;
	}
	rc = st_cp_backends_begin(b, &v->meta);

	if (rc)
		return rc;
	while (st_backends_next(v, &pos, &e) == 1)
		st_cp_backends_add(b, &e);
	st_cp_backends_end(b);
	return 0;
}

const struct st_cp_backends_epoch *st_cp_backends_latest(const struct st_cp_backends *b)
{
	return &b->latest;
}

size_t st_cp_backends_count(const struct st_cp_backends *b)
{
	return b->n_rows;
}

const struct st_cp_backend_row *st_cp_backends_at(const struct st_cp_backends *b, size_t i)
{
	return i < b->n_rows ? &b->pub_rows[i] : NULL;
}

size_t st_cp_backends_unmatched_count(const struct st_cp_backends *b)
{
	return b->n_pub_ep;
}

const struct st_cp_endpoint_row *st_cp_backends_unmatched_at(const struct st_cp_backends *b,
							     size_t i)
{
	return i < b->n_pub_ep ? &b->pub_ep[i] : NULL;
}

void st_cp_backends_stats(const struct st_cp_backends *b, struct st_cp_backends_stats *out)
{
	*out = b->st;
}

size_t st_cp_backends_policy_metrics(const struct st_cp_backends *b, uint64_t from_ns,
				     uint64_t to_ns, struct st_policy_backend_metrics *out,
				     size_t max)
{
	size_t n = 0;

	if (!b || !b->latest.valid || b->latest.meta.epoch_start_ns < from_ns ||
	    b->latest.meta.epoch_start_ns >= to_ns)
		return 0;
	for (size_t i = 0; i < b->n_rows && n < max; i++) {
		const struct st_cp_backend_figures *f = &b->pub_rows[i].latest;

		out[n++] = (struct st_policy_backend_metrics){
			.backend = (unsigned)i,
			.records_per_s = f->records_per_s,
			.bytes_per_s = f->bytes_per_s,
			.retransmissions_per_s = f->retransmissions_per_s,
			.zero_windows_per_s = f->zero_windows_per_s,
			.latency_p99_ms = f->latency_p99_ms,
		};
	}
	return n;
}

void st_cp_backends_addr_text(uint8_t family, const uint8_t addr[16], char *out,
			      size_t out_len)
{
	char text[INET6_ADDRSTRLEN];

	if ((family != 4 && family != 6) ||
	    !inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, text, sizeof(text)))
		snprintf(text, sizeof(text), "?");
	snprintf(out, out_len, "%s", text);
}
