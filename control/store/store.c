/*
 * The control plane's store: recent profiles as pre-merged HyperLogLogs and
 * the two-tier feature history in segment files.  What it keeps, for how
 * long, and the memory it takes are in store.h; the file format in
 * segment.h.
 *
 * Layout in memory: one stream table (chained hash on the stream id, which
 * is already a hash) of struct stream, each with two FIFO lists of struct
 * agg (per-profile entries, pre-merged buckets) and its open coarse step;
 * per tier an array of struct segment ordered by seq, the last one active
 * when its fd is open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/store/store.h"
#include "dataplane/sketch/hll.h"

#define NS_PER_S 1000000000ull
#define SEG_NAME_BYTES 40
#define SEG_FILE_MAX_BYTES (1ull << 31)  /* larger files are not ours */

/* A profile entry (profiles 1) or a pre-merged bucket. */
struct agg {
	TAILQ_ENTRY(agg) link;
	uint64_t start_ns;          /* oldest epoch start */
	uint64_t end_ns;            /* newest epoch end */
	uint64_t bucket;            /* start_ns / bucket_ns */
	uint64_t records;
	uint32_t profiles;
	unsigned n_keys;
	size_t bytes;               /* counted against profiles_bytes */
	struct st_hll *hll[ST_PROFILE_KEY_FIELDS_MAX];
};

TAILQ_HEAD(agg_list, agg);

/* A stream's open coarse step. */
struct step {
	uint64_t index;             /* step start / step_ns */
	uint32_t epochs;
	uint32_t flags;
	uint32_t present[ST_FEAT_COUNT];
	double sum[ST_FEAT_COUNT];
	double min[ST_FEAT_COUNT];
	double max[ST_FEAT_COUNT];
};

struct stream {
	uint64_t id;
	struct stream *next;        /* hash chain */
	struct agg_list entries;
	struct agg_list buckets;
	unsigned n_keys, hll_p;     /* of its kept profiles */
	bool has_profile, has_feat;
	uint64_t last_profile_start_ns;
	uint64_t last_feat_start_ns;
	uint64_t coarse_done_ns;    /* end of its newest coarse record */
	struct step *step;
};

struct segment {
	uint64_t seq;
	bool ours;
	uint64_t bytes;
	uint64_t records;
	uint64_t first_start_ns;    /* 0 when empty */
	uint64_t last_end_ns;
};

struct tier {
	struct segment *segs;       /* by seq, ascending */
	size_t n, cap;
	int fd;                     /* >= 0: segs[n-1] is active */
	uint64_t span_ns;
};

struct st_store {
	pthread_mutex_t lock;
	int dir_fd;
	struct st_config_retention ret;
	uint64_t bucket_ns, step_ns, profiles_ns, segment_bytes;
	struct stream **table;
	size_t table_size;
	struct tier tier[2];
	uint64_t next_seq;
	uint64_t swept_ns;
	bool loading;               /* open: no deletion while segments load */
	struct st_store_stats st;
};

static const char *const tier_prefix[2] = { "fine-", "coarse-" };

void st_store_options_default(struct st_store_options *o, const char *dir)
{
	memset(o, 0, sizeof(*o));
	o->dir = dir;
	o->retention.profiles_s = 3600;
	o->retention.profiles_bytes = 256ull << 20;
	o->retention.fine_s = 3600;
	o->retention.coarse_step_s = 60;
	o->retention.coarse_s = 604800;
	o->retention.disk_bytes = 1ull << 30;
}

/* ---- stream table ---- */

static size_t slot_of(const struct st_store *s, uint64_t id)
{
	return (size_t)((id ^ (id >> 29)) & (s->table_size - 1));
}

static struct stream *stream_find(struct st_store *s, uint64_t id)
{
	struct stream *st = s->table[slot_of(s, id)];

	while (st && st->id != id)
		st = st->next;
	return st;
}

static void table_grow(struct st_store *s)
{
	size_t size = s->table_size * 2;
	struct stream **t = calloc(size, sizeof(*t));
	size_t old = s->table_size;
	struct stream **old_t = s->table;

	if (!t)
		return;         /* longer chains, still correct */
	s->table = t;
	s->table_size = size;
	for (size_t i = 0; i < old; i++) {
		struct stream *st = old_t[i], *next;

		for (; st; st = next) {
			size_t k = slot_of(s, st->id);

			next = st->next;
			st->next = t[k];
			t[k] = st;
		}
	}
	free(old_t);
}

static struct stream *stream_get(struct st_store *s, uint64_t id)
{
	struct stream *st = stream_find(s, id);
	size_t k;

	if (st)
		return st;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->id = id;
	TAILQ_INIT(&st->entries);
	TAILQ_INIT(&st->buckets);
	if (s->st.streams >= s->table_size)
		table_grow(s);
	k = slot_of(s, id);
	st->next = s->table[k];
	s->table[k] = st;
	s->st.streams++;
	return st;
}

static void stream_unlink_free(struct st_store *s, struct stream *st)
{
	struct stream **pp = &s->table[slot_of(s, st->id)];

	while (*pp != st)
		pp = &(*pp)->next;
	*pp = st->next;
	free(st->step);
	free(st);
	s->st.streams--;
}

/* ---- recent profiles ---- */

static void agg_free(struct agg *a)
{
	if (!a)
		return;
	for (unsigned f = 0; f < a->n_keys; f++)
		st_hll_destroy(a->hll[f]);
	free(a);
}

static void agg_drop(struct st_store *s, struct agg_list *list, struct agg *a,
		     uint64_t *counter)
{
	TAILQ_REMOVE(list, a, link);
	s->st.profile_bytes -= a->bytes;
	s->st.profiles_kept -= a->profiles;
	*counter += a->profiles;
	agg_free(a);
}

static void stream_drop_profiles(struct st_store *s, struct stream *st,
				 uint64_t *counter)
{
	struct agg *a;

	while ((a = TAILQ_FIRST(&st->entries))) {
		agg_drop(s, &st->entries, a, counter);
		s->st.profile_entries--;
	}
	while ((a = TAILQ_FIRST(&st->buckets))) {
		agg_drop(s, &st->buckets, a, counter);
		s->st.profile_buckets--;
	}
}

/* The compact form of a parsed record, built outside the lock. */
static struct agg *agg_from_view(const struct st_profile_view *v,
				 uint64_t bucket_ns)
{
	struct agg *a = calloc(1, sizeof(*a));
	const char *why;

	if (!a)
		return NULL;
	a->start_ns = v->meta.epoch_start_ns;
	a->end_ns = v->meta.epoch_start_ns + v->meta.epoch_ns;
	a->bucket = a->start_ns / bucket_ns;
	a->records = v->counters.records;
	a->profiles = 1;
	a->bytes = sizeof(*a);
	if (v->key_fields < 1 || v->key_fields > ST_PROFILE_KEY_FIELDS_MAX ||
	    a->end_ns < a->start_ns || v->meta.epoch_ns == 0)
		goto out_free;
	for (unsigned f = 0; f < v->key_fields; f++) {
		a->hll[f] = st_hll_deserialize(v->hll[f].data, v->hll[f].len, &why);
		if (!a->hll[f])
			goto out_free;
		a->n_keys = f + 1;
		a->bytes += st_hll_memory_bytes(a->hll[f]);
	}
	if (a->n_keys > 1)
		for (unsigned f = 1; f < a->n_keys; f++)
			if (st_hll_precision(a->hll[f]) != st_hll_precision(a->hll[0]))
				goto out_free;
	return a;

out_free:
	agg_free(a);
	errno = EINVAL;
	return NULL;
}

/* Folds the entries of buckets older than the newest two into buckets. */
static void stream_seal(struct st_store *s, struct stream *st, uint64_t newest)
{
	struct agg *e;

	while ((e = TAILQ_FIRST(&st->entries)) && e->bucket + 1 < newest) {
		struct agg *b = TAILQ_LAST(&st->buckets, agg_list);

		TAILQ_REMOVE(&st->entries, e, link);
		s->st.profile_entries--;
		if (!b || b->bucket != e->bucket) {
			TAILQ_INSERT_TAIL(&st->buckets, e, link);
			s->st.profile_buckets++;
			continue;
		}
		for (unsigned f = 0; f < b->n_keys; f++)
			st_hll_merge(b->hll[f], e->hll[f]);  /* same p: checked */
		b->profiles += e->profiles;
		b->records += e->records;
		if (e->end_ns > b->end_ns)
			b->end_ns = e->end_ns;
		s->st.profile_bytes -= e->bytes;
		agg_free(e);
	}
}

static bool expired(const struct st_store *s, uint64_t end_ns, uint64_t span_ns)
{
	return s->st.clock_ns >= span_ns && end_ns <= s->st.clock_ns - span_ns;
}

static void stream_expire_profiles(struct st_store *s, struct stream *st)
{
	struct agg *a;

	while ((a = TAILQ_FIRST(&st->buckets)) &&
	       expired(s, a->end_ns, s->profiles_ns)) {
		agg_drop(s, &st->buckets, a, &s->st.profiles_evicted_time);
		s->st.profile_buckets--;
	}
	while ((a = TAILQ_FIRST(&st->entries)) &&
	       expired(s, a->end_ns, s->profiles_ns)) {
		agg_drop(s, &st->entries, a, &s->st.profiles_evicted_time);
		s->st.profile_entries--;
	}
}

/* Drops the item with the oldest start over all streams; false if none. */
static bool evict_oldest_profile(struct st_store *s)
{
	struct stream *best = NULL;
	struct agg *best_a = NULL;

	for (size_t i = 0; i < s->table_size; i++)
		for (struct stream *st = s->table[i]; st; st = st->next) {
			struct agg *a = TAILQ_FIRST(&st->buckets);

			if (!a)
				a = TAILQ_FIRST(&st->entries);
			if (a && (!best_a || a->start_ns < best_a->start_ns)) {
				best = st;
				best_a = a;
			}
		}
	if (!best)
		return false;
	if (best_a == TAILQ_FIRST(&best->buckets)) {
		agg_drop(s, &best->buckets, best_a, &s->st.profiles_evicted_bytes);
		s->st.profile_buckets--;
	} else {
		agg_drop(s, &best->entries, best_a, &s->st.profiles_evicted_bytes);
		s->st.profile_entries--;
	}
	return true;
}

static void clock_advance(struct st_store *s, uint64_t end_ns)
{
	if (end_ns > s->st.clock_ns)
		s->st.clock_ns = end_ns;
}

static void sweep_maybe(struct st_store *s);

int st_store_add_profile_view(struct st_store *s,
			      const struct st_profile_view *view)
{
	struct agg *a = agg_from_view(view, s->bucket_ns);
	struct stream *st;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!a) {
		rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
		if (rc == -EINVAL)
			s->st.profiles_invalid++;
		goto out_unlock;
	}
	if (a->bytes > s->ret.profiles_bytes) {
		s->st.profiles_too_big++;
		rc = -E2BIG;
		goto out_unlock;
	}
	st = stream_get(s, view->stream_id);
	if (!st) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	if (st->has_profile && a->start_ns < st->last_profile_start_ns) {
		s->st.profiles_late++;
		rc = -ERANGE;
		goto out_unlock;
	}
	if (st->has_profile && (st->n_keys != a->n_keys ||
				st->hll_p != st_hll_precision(a->hll[0])))
		stream_drop_profiles(s, st, &s->st.profiles_reset);
	st->has_profile = true;
	st->n_keys = a->n_keys;
	st->hll_p = st_hll_precision(a->hll[0]);
	st->last_profile_start_ns = a->start_ns;
	clock_advance(s, a->end_ns);
	TAILQ_INSERT_TAIL(&st->entries, a, link);
	s->st.profile_entries++;
	s->st.profiles_kept++;
	s->st.profile_bytes += a->bytes;
	s->st.profiles_added++;
	stream_seal(s, st, a->bucket);
	a = NULL;
	stream_expire_profiles(s, st);
	sweep_maybe(s);
	while (s->st.profile_bytes > s->ret.profiles_bytes &&
	       evict_oldest_profile(s))
		;

out_unlock:
	pthread_mutex_unlock(&s->lock);
	agg_free(a);
	return rc;
}

int st_store_add_profile(struct st_store *s, const void *rec, size_t len)
{
	struct st_profile_view view;
	const char *why;
	int rc = st_profile_parse(rec, len, &view, &why);

	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		pthread_mutex_lock(&s->lock);
		s->st.profiles_invalid++;
		pthread_mutex_unlock(&s->lock);
		return -EINVAL;
	}
	return st_store_add_profile_view(s, &view);
}

static void card_merge(struct st_hll *h, const struct agg_list *list,
		       unsigned key_field, uint64_t from_ns,
		       struct st_store_card *out)
{
	const struct agg *a;

	TAILQ_FOREACH(a, list, link) {
		if (a->start_ns < from_ns)
			continue;
		st_hll_merge(h, a->hll[key_field]);
		out->profiles += a->profiles;
		out->records += a->records;
		if (!out->covered_start_ns || a->start_ns < out->covered_start_ns)
			out->covered_start_ns = a->start_ns;
		if (a->end_ns > out->covered_end_ns)
			out->covered_end_ns = a->end_ns;
	}
}

struct st_hll *st_store_window_sketch(struct st_store *s, uint64_t stream_id,
				     unsigned key_field, uint64_t window_ns,
				     struct st_store_card *out)
{
	struct st_hll *h = NULL;
	struct stream *st;
	uint64_t from_ns;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (window_ns == 0) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&s->lock);
	st = stream_find(s, stream_id);
	if (!st || (TAILQ_EMPTY(&st->entries) && TAILQ_EMPTY(&st->buckets))) {
		rc = ENOENT;
		goto out_unlock;
	}
	if (key_field >= st->n_keys) {
		rc = EINVAL;
		goto out_unlock;
	}
	h = st_hll_create(st->hll_p);
	if (!h) {
		rc = ENOMEM;
		goto out_unlock;
	}
	from_ns = s->st.clock_ns > window_ns ? s->st.clock_ns - window_ns : 0;
	card_merge(h, &st->buckets, key_field, from_ns, out);
	card_merge(h, &st->entries, key_field, from_ns, out);
	out->estimate = st_hll_estimate(h);
	out->lower = st_hll_lower_bound(h, 3.0);
	out->upper = st_hll_upper_bound(h, 3.0);

out_unlock:
	pthread_mutex_unlock(&s->lock);
	if (rc)
		errno = rc;
	return h;
}

int st_store_cardinality(struct st_store *s, uint64_t stream_id,
			 unsigned key_field, uint64_t window_ns,
			 struct st_store_card *out)
{
	struct st_hll *h = st_store_window_sketch(s, stream_id, key_field,
						  window_ns, out);

	if (!h)
		return -errno;
	st_hll_destroy(h);
	return 0;
}

/* ---- segments ---- */

static void seg_name(char out[SEG_NAME_BYTES], enum st_store_tier t, uint64_t seq)
{
	snprintf(out, SEG_NAME_BYTES, "%s%016" PRIx64 ".seg", tier_prefix[t], seq);
}

static struct segment *active_seg(struct st_store *s, enum st_store_tier t)
{
	struct tier *tr = &s->tier[t];

	return tr->fd >= 0 ? &tr->segs[tr->n - 1] : NULL;
}

static int tier_push(struct tier *tr, const struct segment *seg)
{
	if (tr->n == tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 16;
		struct segment *p = realloc(tr->segs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		tr->segs = p;
		tr->cap = cap;
	}
	tr->segs[tr->n++] = *seg;
	return 0;
}

static void close_active(struct st_store *s, enum st_store_tier t)
{
	struct tier *tr = &s->tier[t];

	if (tr->fd < 0)
		return;
	fsync(tr->fd);
	close(tr->fd);
	tr->fd = -1;
}

static void seg_delete(struct st_store *s, enum st_store_tier t, size_t i,
		       uint64_t *counter)
{
	struct tier *tr = &s->tier[t];
	char name[SEG_NAME_BYTES];

	seg_name(name, t, tr->segs[i].seq);
	if (unlinkat(s->dir_fd, name, 0) && errno != ENOENT)
		return;         /* kept and still counted on disk */
	s->st.disk_bytes -= tr->segs[i].bytes;
	s->st.segments--;
	(*counter)++;
	memmove(&tr->segs[i], &tr->segs[i + 1], (tr->n - i - 1) * sizeof(tr->segs[0]));
	tr->n--;
}

static bool deletable(const struct st_store *s, enum st_store_tier t, size_t i)
{
	const struct tier *tr = &s->tier[t];

	return !(tr->fd >= 0 && i == tr->n - 1);
}

static void retention_time(struct st_store *s)
{
	if (s->loading)
		return;
	for (int t = 0; t < 2; t++) {
		struct tier *tr = &s->tier[t];

		for (size_t i = 0; i < tr->n;) {
			if (deletable(s, t, i) &&
			    expired(s, tr->segs[i].last_end_ns, tr->span_ns))
				seg_delete(s, t, i, &s->st.segments_deleted_time);
			else
				i++;
		}
	}
}

/* Deletes the oldest closed segment, either tier; false if none is. */
static bool delete_oldest_segment(struct st_store *s)
{
	int best_t = -1;
	size_t best_i = 0;

	for (int t = 0; t < 2; t++) {
		const struct tier *tr = &s->tier[t];

		for (size_t i = 0; i < tr->n; i++) {
			const struct segment *g = &tr->segs[i], *b;

			if (!deletable(s, t, i))
				continue;
			b = best_t < 0 ? NULL : &s->tier[best_t].segs[best_i];
			if (!b || g->first_start_ns < b->first_start_ns ||
			    (g->first_start_ns == b->first_start_ns && g->seq < b->seq)) {
				best_t = t;
				best_i = i;
			}
		}
	}
	if (best_t < 0)
		return false;
	seg_delete(s, best_t, best_i, &s->st.segments_deleted_bytes);
	return true;
}

static void make_room(struct st_store *s, uint64_t need_bytes)
{
	while (!s->loading &&
	       s->st.disk_bytes + need_bytes > s->ret.disk_bytes &&
	       delete_oldest_segment(s))
		;
}

static int seg_create(struct st_store *s, enum st_store_tier t)
{
	struct segment seg = { .seq = s->next_seq, .ours = true,
			       .bytes = ST_STORE_SEG_HDR_BYTES };
	uint8_t hdr[ST_STORE_SEG_HDR_BYTES];
	char name[SEG_NAME_BYTES];
	int fd, rc;

	seg_name(name, t, seg.seq);
	fd = openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND |
		    O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	st_store_seg_hdr_write(hdr, t, seg.seq);
	if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr)) {
		rc = errno ? -errno : -EIO;
		goto out_unlink;
	}
	rc = tier_push(&s->tier[t], &seg);
	if (rc)
		goto out_unlink;
	s->next_seq++;
	s->tier[t].fd = fd;
	s->st.segments++;
	s->st.segments_created++;
	s->st.disk_bytes += seg.bytes;
	fsync(s->dir_fd);
	return 0;

out_unlink:
	close(fd);
	unlinkat(s->dir_fd, name, 0);
	return rc;
}

static void seg_note(struct segment *g, const struct st_features *f)
{
	uint64_t end = f->epoch_start_ns + f->epoch_ns;

	if (g->records == 0)
		g->first_start_ns = f->epoch_start_ns;
	if (end > g->last_end_ns)
		g->last_end_ns = end;
	g->records++;
}

/* Appends one record to its tier's active segment, rotating first. */
static int tier_append(struct st_store *s, const struct st_store_record *rec)
{
	enum st_store_tier t = rec->tier;
	uint8_t frame[ST_STORE_SEG_FRAME_OVERHEAD + ST_STORE_SEG_COARSE_PAYLOAD];
	size_t n = st_store_seg_frame_write(rec, frame);
	struct segment *g = active_seg(s, t);
	ssize_t w;
	int rc;

	if (g && (g->bytes + n > s->segment_bytes ||
		  (g->records && rec->f.epoch_start_ns >=
		   g->first_start_ns + s->tier[t].span_ns / 8))) {
		close_active(s, t);
		retention_time(s);
	}
	if (!active_seg(s, t)) {
		make_room(s, ST_STORE_SEG_HDR_BYTES + n);
		rc = seg_create(s, t);
		if (rc) {
			s->st.write_errors++;
			return rc;
		}
	} else {
		make_room(s, n);
	}
	g = active_seg(s, t);
	w = write(s->tier[t].fd, frame, n);
	if (w != (ssize_t)n) {
		rc = w < 0 ? -errno : -EIO;
		if (ftruncate(s->tier[t].fd, (off_t)g->bytes))
			close_active(s, t);  /* a new segment next time */
		s->st.write_errors++;
		return rc;
	}
	g->bytes += n;
	s->st.disk_bytes += n;
	seg_note(g, &rec->f);
	if (t == ST_STORE_FINE)
		s->st.history_appended++;
	else
		s->st.coarse_appended++;
	return 0;
}

/* ---- feature history ---- */

static int step_flush(struct st_store *s, struct stream *st)
{
	struct step *p = st->step;
	struct st_store_record rec;
	int rc;

	memset(&rec, 0, sizeof(rec));
	rec.tier = ST_STORE_COARSE;
	rec.epochs = p->epochs;
	rec.f.stream_id = st->id;
	rec.f.epoch_start_ns = p->index * s->step_ns;
	rec.f.epoch_ns = s->step_ns;
	rec.f.flags = p->flags;
	for (unsigned i = 0; i < ST_FEAT_COUNT; i++) {
		if (!p->present[i]) {
			rec.f.missing |= 1u << i;
			continue;
		}
		rec.f.v[i] = p->sum[i] / p->present[i];
		rec.min[i] = p->min[i];
		rec.max[i] = p->max[i];
	}
	st->step = NULL;
	st->coarse_done_ns = rec.f.epoch_start_ns + rec.f.epoch_ns;
	free(p);
	rc = tier_append(s, &rec);
	return rc;
}

static int step_add(struct st_store *s, struct stream *st,
		    const struct st_features *f)
{
	uint64_t index = f->epoch_start_ns / s->step_ns;
	struct step *p;
	int rc = 0;

	if (st->step && st->step->index != index)
		rc = step_flush(s, st);
	if (!st->step) {
		st->step = calloc(1, sizeof(*st->step));
		if (!st->step)
			return -ENOMEM;
		st->step->index = index;
	}
	p = st->step;
	p->epochs++;
	p->flags |= f->flags;
	for (unsigned i = 0; i < ST_FEAT_COUNT; i++) {
		double v = f->v[i];

		if (f->missing & (1u << i))
			continue;
		if (!p->present[i] || v < p->min[i])
			p->min[i] = v;
		if (!p->present[i] || v > p->max[i])
			p->max[i] = v;
		p->sum[i] += v;
		p->present[i]++;
	}
	return rc;
}

/* Every bucket_ns of clock: time retention over all streams and segments,
 * steps idle for a whole step written, empty streams freed. */
static void sweep_maybe(struct st_store *s)
{
	if (s->st.clock_ns < s->swept_ns + s->bucket_ns)
		return;
	s->swept_ns = s->st.clock_ns;
	for (size_t i = 0; i < s->table_size; i++) {
		struct stream *st = s->table[i], *next;

		for (; st; st = next) {
			next = st->next;
			stream_expire_profiles(s, st);
			if (st->step && expired(s, (st->step->index + 2) * s->step_ns, 0))
				step_flush(s, st);
			if (!st->step && TAILQ_EMPTY(&st->entries) &&
			    TAILQ_EMPTY(&st->buckets) &&
			    expired(s, st->last_feat_start_ns, s->tier[ST_STORE_FINE].span_ns))
				stream_unlink_free(s, st);
		}
	}
	retention_time(s);
}

static bool features_valid(const struct st_features *f)
{
	if (f->epoch_ns == 0 || f->epoch_start_ns + f->epoch_ns < f->epoch_start_ns)
		return false;
	for (unsigned i = 0; i < ST_FEAT_COUNT; i++)
		if (!isfinite(f->v[i]))
			return false;
	return true;
}

int st_store_append(struct st_store *s, const struct st_features *f)
{
	struct st_store_record rec;
	struct stream *st;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (!features_valid(f)) {
		s->st.history_invalid++;
		rc = -EINVAL;
		goto out_unlock;
	}
	st = stream_get(s, f->stream_id);
	if (!st) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	if (st->has_feat && f->epoch_start_ns < st->last_feat_start_ns) {
		s->st.history_late++;
		rc = -ERANGE;
		goto out_unlock;
	}
	memset(&rec, 0, sizeof(rec));
	rec.tier = ST_STORE_FINE;
	rec.epochs = 1;
	rec.f = *f;
	rc = tier_append(s, &rec);
	if (rc)
		goto out_unlock;
	st->has_feat = true;
	st->last_feat_start_ns = f->epoch_start_ns;
	clock_advance(s, f->epoch_start_ns + f->epoch_ns);
	rc = step_add(s, st, f);
	sweep_maybe(s);

out_unlock:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int st_store_sync(struct st_store *s)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (int t = 0; t < 2; t++)
		if (s->tier[t].fd >= 0 && fsync(s->tier[t].fd) && !rc)
			rc = -errno;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void st_store_stats(struct st_store *s, struct st_store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	pthread_mutex_unlock(&s->lock);
}

/* ---- reading segments (open, queries, iterators) ---- */

/* Reads up to max_bytes of a segment into *buf (grown as needed). */
static ssize_t seg_read(int dir_fd, enum st_store_tier t, uint64_t seq,
			uint64_t max_bytes, uint8_t **buf, size_t *cap)
{
	char name[SEG_NAME_BYTES];
	struct stat sb;
	size_t len = 0, got = 0;
	int fd, rc = 0;

	seg_name(name, t, seq);
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		rc = -errno;
		goto out_close;
	}
	len = (uint64_t)sb.st_size < max_bytes ? (size_t)sb.st_size : (size_t)max_bytes;
	if (len > *cap) {
		uint8_t *p = realloc(*buf, len);

		if (!p) {
			rc = -ENOMEM;
			goto out_close;
		}
		*buf = p;
		*cap = len;
	}
	while (got < len) {
		ssize_t r = pread(fd, *buf + got, len - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			goto out_close;
		}
		got += (size_t)r;
	}

out_close:
	close(fd);
	return rc ? rc : (ssize_t)len;
}

struct snap {
	uint64_t seq;
	uint64_t bytes;
	uint64_t last_end_ns;
};

struct st_store_iter {
	struct st_store *s;
	enum st_store_tier tier;
	uint64_t since_ns;
	struct snap *segs;
	size_t n, next_seg;
	uint8_t *buf;
	size_t cap, len, off;
	struct st_store_seg_hdr hdr;
	bool loaded;
	uint64_t vanished, failures, skipped;
};

struct st_store_iter *st_store_iter_create(struct st_store *s,
					   enum st_store_tier tier,
					   uint64_t since_ns)
{
	struct st_store_iter *it;
	const struct tier *tr;

	if (tier != ST_STORE_FINE && tier != ST_STORE_COARSE) {
		errno = EINVAL;
		return NULL;
	}
	it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	it->s = s;
	it->tier = tier;
	it->since_ns = since_ns;
	pthread_mutex_lock(&s->lock);
	tr = &s->tier[tier];
	it->segs = calloc(tr->n ? tr->n : 1, sizeof(*it->segs));
	for (size_t i = 0; it->segs && i < tr->n; i++) {
		const struct segment *g = &tr->segs[i];

		if (!g->ours || g->records == 0 || g->last_end_ns <= since_ns)
			continue;
		it->segs[it->n++] = (struct snap){ g->seq, g->bytes, g->last_end_ns };
	}
	pthread_mutex_unlock(&s->lock);
	if (!it->segs) {
		free(it);
		errno = ENOMEM;
		return NULL;
	}
	return it;
}

int st_store_iter_next(struct st_store_iter *it, struct st_store_record *out)
{
	size_t at;

	for (;;) {
		if (!it->loaded) {
			ssize_t len;

			if (it->next_seg == it->n)
				return 0;
			len = seg_read(it->s->dir_fd, it->tier, it->segs[it->next_seg].seq,
				       it->segs[it->next_seg].bytes, &it->buf, &it->cap);
			it->next_seg++;
			if (len == -ENOENT) {
				it->vanished++;
				continue;
			}
			if (len < 0)
				return (int)len;
			if (st_store_seg_hdr_read(it->buf, (size_t)len, &it->hdr) ||
			    !st_store_seg_hdr_ours(&it->hdr) || it->hdr.tier != it->tier)
				continue;
			it->len = (size_t)len;
			it->off = ST_STORE_SEG_HDR_BYTES;
			it->loaded = true;
		}
		while (st_store_seg_next(it->buf, it->len, &it->hdr, &it->off, out,
					 &at, &it->failures, &it->skipped))
			if (out->f.epoch_start_ns >= it->since_ns)
				return 1;
		it->loaded = false;
	}
}

uint64_t st_store_iter_vanished(const struct st_store_iter *it)
{
	return it->vanished;
}

void st_store_iter_destroy(struct st_store_iter *it)
{
	if (!it)
		return;
	free(it->buf);
	free(it->segs);
	free(it);
}

ssize_t st_store_history(struct st_store *s, uint64_t stream_id,
			 enum st_store_tier tier, uint64_t since_ns,
			 struct st_store_record *out, size_t max)
{
	struct st_store_record rec;
	struct st_store_iter *it;
	ssize_t total = 0;
	int rc;

	if (!out && max > 0)
		return -EINVAL;
	it = st_store_iter_create(s, tier, since_ns);
	if (!it)
		return -errno;
	while ((rc = st_store_iter_next(it, &rec)) == 1) {
		if (rec.f.stream_id != stream_id)
			continue;
		if ((size_t)total < max)
			out[total] = rec;
		total++;
	}
	st_store_iter_destroy(it);
	return rc < 0 ? rc : total;
}

/* ---- open and close ---- */

static int parse_seg_name(const char *name, enum st_store_tier *t, uint64_t *seq)
{
	for (int k = 0; k < 2; k++) {
		size_t pl = strlen(tier_prefix[k]);
		const char *p = name + pl;
		uint64_t v = 0;

		if (strncmp(name, tier_prefix[k], pl) || strlen(p) != 20 ||
		    strcmp(p + 16, ".seg"))
			continue;
		for (int i = 0; i < 16; i++) {
			char c = p[i];

			if (c >= '0' && c <= '9')
				v = v << 4 | (uint64_t)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v << 4 | (uint64_t)(c - 'a' + 10);
			else
				return -EINVAL;
		}
		*t = (enum st_store_tier)k;
		*seq = v;
		return 0;
	}
	return -EINVAL;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int list_dir(struct st_store *s)
{
	int fd = dup(s->dir_fd);
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(d))) {
		struct segment seg = { 0 };
		enum st_store_tier t;

		if (parse_seg_name(e->d_name, &t, &seg.seq))
			continue;
		rc = tier_push(&s->tier[t], &seg);
		if (rc)
			break;
		if (seg.seq >= s->next_seq)
			s->next_seq = seg.seq + 1;
	}
	closedir(d);
	for (int t = 0; t < 2; t++)
		if (s->tier[t].n)
			qsort(s->tier[t].segs, s->tier[t].n, sizeof(struct segment),
			      seg_cmp);
	return rc;
}

struct load_ctx {
	struct st_store *s;
	struct segment *seg;
	int rc;
};

static int load_record(const struct st_store_record *rec, size_t off, void *arg)
{
	struct load_ctx *c = arg;
	struct st_store *s = c->s;
	struct stream *st = stream_get(s, rec->f.stream_id);
	uint64_t end = rec->f.epoch_start_ns + rec->f.epoch_ns;

	(void)off;
	if (!st)
		return -ENOMEM;
	seg_note(c->seg, &rec->f);
	clock_advance(s, end);
	s->st.records_loaded++;
	if (rec->tier == ST_STORE_COARSE) {
		if (end > st->coarse_done_ns)
			st->coarse_done_ns = end;
		return 0;
	}
	st->has_feat = true;
	st->last_feat_start_ns = rec->f.epoch_start_ns;
	if (rec->f.epoch_start_ns >= st->coarse_done_ns) {
		int rc = step_add(s, st, &rec->f);

		if (rc == -ENOMEM)
			return rc;
	}
	return 0;
}

/* Reads, checks and indexes segment i of tier t; cuts a torn tail of the
 * tier's last segment.  May delete segment i (a torn header): returns 1. */
static int seg_load(struct st_store *s, enum st_store_tier t, size_t i,
		    uint8_t **buf, size_t *cap)
{
	struct tier *tr = &s->tier[t];
	struct segment *g = &tr->segs[i];
	bool last = i == tr->n - 1;
	struct load_ctx ctx = { s, g, 0 };
	struct st_store_seg_hdr hdr;
	struct st_store_seg_scan scan;
	char name[SEG_NAME_BYTES];
	ssize_t len = seg_read(s->dir_fd, t, g->seq, SEG_FILE_MAX_BYTES, buf, cap);
	int rc;

	if (len < 0)
		return (int)len;
	g->bytes = (uint64_t)len;
	s->st.segments++;
	s->st.disk_bytes += g->bytes;
	if (st_store_seg_hdr_read(*buf, (size_t)len, &hdr) || hdr.tier != t ||
	    hdr.seq != g->seq) {
		if (!last || len >= ST_STORE_SEG_HDR_BYTES) {
			s->st.segments_foreign++;
			return 0;
		}
		uint64_t removed = 0;

		s->st.torn_tails++;    /* died while creating it */
		s->st.torn_bytes += (uint64_t)len;
		seg_delete(s, t, i, &removed);
		return removed ? 1 : -EIO;
	}
	if (!st_store_seg_hdr_ours(&hdr)) {
		s->st.segments_foreign++;
		return 0;
	}
	g->ours = true;
	rc = st_store_seg_scan(*buf, (size_t)len, &hdr, load_record, &ctx, &scan);
	if (rc)
		return rc;
	s->st.checksum_failures += scan.checksum_failures;
	if (scan.tail_bytes && !last)
		s->st.checksum_failures++;
	if (scan.tail_bytes && last) {
		seg_name(name, t, g->seq);
		int fd = openat(s->dir_fd, name, O_WRONLY | O_CLOEXEC);

		if (fd < 0)
			return -errno;
		rc = ftruncate(fd, (off_t)scan.valid_end) ? -errno : 0;
		if (!rc)
			fsync(fd);
		close(fd);
		if (rc)
			return rc;
		s->st.torn_tails++;
		s->st.torn_bytes += scan.tail_bytes;
		s->st.disk_bytes -= scan.tail_bytes;
		g->bytes = scan.valid_end;
	}
	return 0;
}

static int tier_load(struct st_store *s, enum st_store_tier t)
{
	struct tier *tr = &s->tier[t];
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = 0;

	for (size_t i = 0; i < tr->n;) {
		rc = seg_load(s, t, i, &buf, &cap);
		if (rc < 0)
			break;
		if (rc == 0)
			i++;
		rc = 0;
	}
	free(buf);
	if (rc || tr->n == 0 || !tr->segs[tr->n - 1].ours)
		return rc;
	{
		char name[SEG_NAME_BYTES];

		seg_name(name, t, tr->segs[tr->n - 1].seq);
		tr->fd = openat(s->dir_fd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (tr->fd < 0)
			return -errno;
	}
	return 0;
}

static int options_check(const struct st_store_options *o, uint64_t *seg_bytes)
{
	const struct st_config_retention *r = &o->retention;
	uint64_t sb = o->segment_bytes;

	if (!o->dir || !*o->dir || !r->profiles_s || !r->profiles_bytes ||
	    !r->fine_s || !r->coarse_step_s || !r->coarse_s || !r->disk_bytes)
		return -EINVAL;
	if (!sb) {
		sb = r->disk_bytes / 16;
		if (sb < ST_STORE_SEGMENT_MIN_BYTES)
			sb = ST_STORE_SEGMENT_MIN_BYTES;
		if (sb > ST_STORE_SEGMENT_MAX_BYTES)
			sb = ST_STORE_SEGMENT_MAX_BYTES;
	}
	if (sb < ST_STORE_SEGMENT_MIN_BYTES || sb > ST_STORE_SEGMENT_MAX_BYTES ||
	    sb > r->disk_bytes / 8)
		return -EINVAL;
	*seg_bytes = sb;
	return 0;
}

static void store_free(struct st_store *s)
{
	for (size_t i = 0; i < s->table_size; i++) {
		struct stream *st = s->table[i], *next;

		for (; st; st = next) {
			struct agg *a;

			next = st->next;
			while ((a = TAILQ_FIRST(&st->entries))) {
				TAILQ_REMOVE(&st->entries, a, link);
				agg_free(a);
			}
			while ((a = TAILQ_FIRST(&st->buckets))) {
				TAILQ_REMOVE(&st->buckets, a, link);
				agg_free(a);
			}
			free(st->step);
			free(st);
		}
	}
	free(s->table);
	for (int t = 0; t < 2; t++) {
		close_active(s, t);
		free(s->tier[t].segs);
	}
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct st_store *st_store_open(const struct st_store_options *o)
{
	struct st_store *s;
	uint64_t seg_bytes;
	int rc = options_check(o, &seg_bytes);

	if (rc) {
		errno = -rc;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->dir_fd = -1;
	s->tier[0].fd = s->tier[1].fd = -1;
	s->ret = o->retention;
	s->segment_bytes = seg_bytes;
	s->bucket_ns = (uint64_t)(o->bucket_s ? o->bucket_s : ST_STORE_BUCKET_S_DEFAULT) * NS_PER_S;
	s->step_ns = (uint64_t)s->ret.coarse_step_s * NS_PER_S;
	s->profiles_ns = (uint64_t)s->ret.profiles_s * NS_PER_S;
	s->tier[ST_STORE_FINE].span_ns = (uint64_t)s->ret.fine_s * NS_PER_S;
	s->tier[ST_STORE_COARSE].span_ns = (uint64_t)s->ret.coarse_s * NS_PER_S;
	s->table_size = 64;
	s->table = calloc(s->table_size, sizeof(*s->table));
	if (!s->table) {
		rc = -ENOMEM;
		goto out_free;
	}
	if (mkdir(o->dir, 0750) && errno != EEXIST) {
		rc = -errno;
		goto out_free;
	}
	s->dir_fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		rc = -errno;
		goto out_free;
	}
	s->loading = true;
	rc = list_dir(s);
	if (!rc)
		rc = tier_load(s, ST_STORE_COARSE);  /* coarse first: steps done */
	if (!rc)
		rc = tier_load(s, ST_STORE_FINE);
	if (rc)
		goto out_free;
	s->loading = false;
	s->swept_ns = 0;
	sweep_maybe(s);
	make_room(s, 0);
	return s;

out_free:
	store_free(s);
	errno = -rc;
	return NULL;
}

void st_store_close(struct st_store *s)
{
	if (!s)
		return;
	store_free(s);
}
