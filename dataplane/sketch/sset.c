/*
 * Sketch set: one stream's sketches and counters on one core (sset.h).
 *
 * The set is a small handle holding pointers to separately allocated
 * sketches (each sketch sizes itself from its parameters) plus the plain
 * counters inline.  Merge checks everything that could make a sketch merge
 * fail before touching dst, so that a merge is all or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sketch/sset.h"

struct st_sset {
	struct st_sset_config cfg;
	uint64_t epoch_start_ns;
	struct st_sset_parts p;
	struct st_profile_counters counters;
};

void st_sset_config_default(struct st_sset_config *cfg)
{
	*cfg = (struct st_sset_config){
		.key_fields = 1,
		.numeric_fields = 1,
		.hll_p = ST_HLL_P_DEFAULT,
		.hh_k = ST_HH_K_DEFAULT,
		.qs_alpha = ST_QS_ALPHA_DEFAULT,
		.qs_bins = ST_QS_BINS_DEFAULT,
		.schema_entries = ST_SCHEMA_ENTRIES_DEFAULT,
		.n_ticks = ST_TICKS_DEFAULT,
		.epoch_ns = ST_SSET_EPOCH_NS_DEFAULT,
	};
}

void st_sset_parts_destroy(struct st_sset_parts *parts)
{
	for (unsigned i = 0; i < ST_SSET_KEY_FIELDS_MAX; i++) {
		st_hll_destroy(parts->hll[i]);
		st_hh_destroy(parts->heavy[i]);
	}
	st_qs_destroy(parts->size_qs);
	for (unsigned i = 0; i < ST_SSET_NUMERIC_FIELDS_MAX; i++)
		st_qs_destroy(parts->numeric_qs[i]);
	st_schema_destroy(parts->schema);
	st_ticks_destroy(parts->ticks);
	memset(parts, 0, sizeof(*parts));
}

/* The checks the sketch constructors do not make themselves. */
static bool config_ok(const struct st_sset_config *cfg)
{
	return cfg->key_fields >= 1 &&
	       cfg->key_fields <= ST_SSET_KEY_FIELDS_MAX &&
	       cfg->numeric_fields <= ST_SSET_NUMERIC_FIELDS_MAX;
}

/* Creates every sketch cfg asks for.  0, or -errno with *parts empty. */
static int parts_create(struct st_sset_parts *parts,
			const struct st_sset_config *cfg)
{
	memset(parts, 0, sizeof(*parts));
	for (unsigned i = 0; i < cfg->key_fields; i++) {
		parts->hll[i] = st_hll_create(cfg->hll_p);
		if (!parts->hll[i])
			goto out_destroy;
		parts->heavy[i] = st_hh_create(cfg->hh_k);
		if (!parts->heavy[i])
			goto out_destroy;
	}
	parts->size_qs = st_qs_create(cfg->qs_alpha, cfg->qs_bins, false);
	if (!parts->size_qs)
		goto out_destroy;
	for (unsigned i = 0; i < cfg->numeric_fields; i++) {
		parts->numeric_qs[i] = st_qs_create(cfg->qs_alpha, cfg->qs_bins,
						    true);
		if (!parts->numeric_qs[i])
			goto out_destroy;
	}
	parts->schema = st_schema_create(cfg->schema_entries);
	if (!parts->schema)
		goto out_destroy;
	parts->ticks = st_ticks_create(cfg->n_ticks, cfg->epoch_ns);
	if (!parts->ticks)
		goto out_destroy;
	return 0;

out_destroy: {
		int err = errno ? errno : ENOMEM;

		st_sset_parts_destroy(parts);
		return -err;
	}
}

struct st_sset *st_sset_create(const struct st_sset_config *cfg)
{
	struct st_sset *s;
	int err;

	if (!config_ok(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	err = parts_create(&s->p, cfg);
	if (err) {
		free(s);
		errno = -err;
		return NULL;
	}
	return s;
}

void st_sset_destroy(struct st_sset *s)
{
	if (!s)
		return;
	st_sset_parts_destroy(&s->p);
	free(s);
}

void st_sset_reset(struct st_sset *s, uint64_t epoch_start_ns)
{
	for (unsigned i = 0; i < s->cfg.key_fields; i++) {
		st_hll_reset(s->p.hll[i]);
		st_hh_reset(s->p.heavy[i]);
	}
	st_qs_reset(s->p.size_qs);
	for (unsigned i = 0; i < s->cfg.numeric_fields; i++)
		st_qs_reset(s->p.numeric_qs[i]);
	st_schema_reset(s->p.schema);
	st_ticks_reset(s->p.ticks, epoch_start_ns);
	memset(&s->counters, 0, sizeof(s->counters));
	s->epoch_start_ns = epoch_start_ns;
}

static bool config_equal(const struct st_sset_config *a,
			 const struct st_sset_config *b)
{
	return a->key_fields == b->key_fields &&
	       a->numeric_fields == b->numeric_fields &&
	       a->hll_p == b->hll_p && a->hh_k == b->hh_k &&
	       a->qs_alpha == b->qs_alpha && a->qs_bins == b->qs_bins &&
	       a->schema_entries == b->schema_entries &&
	       a->n_ticks == b->n_ticks && a->epoch_ns == b->epoch_ns;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static void counters_add(struct st_profile_counters *dst,
			 const struct st_profile_counters *src)
{
	/* every member is a u64 count that adds */
	uint64_t *d = (uint64_t *)dst;
	const uint64_t *s = (const uint64_t *)src;

	_Static_assert(sizeof(*dst) % sizeof(uint64_t) == 0,
		       "counters are u64s only");
	for (size_t i = 0; i < sizeof(*dst) / sizeof(uint64_t); i++)
		d[i] = add_sat(d[i], s[i]);
}

/* The quantile merge's own overflow test, asked before anything changes. */
static bool qs_merge_overflows(const struct st_qs *dst, const struct st_qs *src)
{
	return st_qs_count(dst) > UINT64_MAX - st_qs_count(src) ||
	       st_qs_rejected(dst) > UINT64_MAX - st_qs_rejected(src);
}

int st_sset_merge(struct st_sset *dst, const struct st_sset *src)
{
	int err = 0;

	if (dst == src || !config_equal(&dst->cfg, &src->cfg) ||
	    dst->epoch_start_ns != src->epoch_start_ns)
		return -EINVAL;
	for (unsigned i = 0; i < dst->cfg.key_fields; i++)
		if (st_hh_total(dst->p.heavy[i]) >
		    UINT64_MAX - st_hh_total(src->p.heavy[i]))
			return -EOVERFLOW;
	if (qs_merge_overflows(dst->p.size_qs, src->p.size_qs) ||
	    st_ticks_total(dst->p.ticks) > UINT64_MAX - st_ticks_total(src->p.ticks) ||
	    st_ticks_early(dst->p.ticks) > UINT64_MAX - st_ticks_early(src->p.ticks) ||
	    st_ticks_late(dst->p.ticks) > UINT64_MAX - st_ticks_late(src->p.ticks))
		return -EOVERFLOW;
	for (unsigned i = 0; i < dst->cfg.numeric_fields; i++)
		if (qs_merge_overflows(dst->p.numeric_qs[i], src->p.numeric_qs[i]))
			return -EOVERFLOW;
	/* With equal configs and epochs and totals that fit, no sketch merge
	 * below can fail. */
	for (unsigned i = 0; i < dst->cfg.key_fields; i++) {
		err |= st_hll_merge(dst->p.hll[i], src->p.hll[i]);
		err |= st_hh_merge(dst->p.heavy[i], src->p.heavy[i]);
	}
	err |= st_qs_merge(dst->p.size_qs, src->p.size_qs);
	for (unsigned i = 0; i < dst->cfg.numeric_fields; i++)
		err |= st_qs_merge(dst->p.numeric_qs[i], src->p.numeric_qs[i]);
	err |= st_schema_merge(dst->p.schema, src->p.schema);
	err |= st_ticks_merge(dst->p.ticks, src->p.ticks);
	counters_add(&dst->counters, &src->counters);
	return err ? -EINVAL : 0;
}

size_t st_sset_memory_bytes(const struct st_sset *s)
{
	size_t bytes = sizeof(*s);

	for (unsigned i = 0; i < s->cfg.key_fields; i++)
		bytes += st_hll_memory_bytes(s->p.hll[i]) +
			 st_hh_memory_bytes(s->p.heavy[i]);
	bytes += st_qs_memory_bytes(s->p.size_qs);
	for (unsigned i = 0; i < s->cfg.numeric_fields; i++)
		bytes += st_qs_memory_bytes(s->p.numeric_qs[i]);
	bytes += st_schema_memory_bytes(s->p.schema);
	bytes += st_ticks_memory_bytes(s->p.ticks);
	return bytes;
}

const struct st_sset_config *st_sset_config(const struct st_sset *s)
{
	return &s->cfg;
}

uint64_t st_sset_epoch_start_ns(const struct st_sset *s)
{
	return s->epoch_start_ns;
}

const struct st_hll *st_sset_hll_ro(const struct st_sset *s, unsigned key_field)
{
	return key_field < s->cfg.key_fields ? s->p.hll[key_field] : NULL;
}

const struct st_hh *st_sset_heavy_ro(const struct st_sset *s, unsigned key_field)
{
	return key_field < s->cfg.key_fields ? s->p.heavy[key_field] : NULL;
}

const struct st_qs *st_sset_size_qs_ro(const struct st_sset *s)
{
	return s->p.size_qs;
}

const struct st_qs *st_sset_numeric_qs_ro(const struct st_sset *s,
					  unsigned numeric_field)
{
	return numeric_field < s->cfg.numeric_fields ?
		s->p.numeric_qs[numeric_field] : NULL;
}

const struct st_schema *st_sset_schema_ro(const struct st_sset *s)
{
	return s->p.schema;
}

const struct st_ticks *st_sset_ticks_ro(const struct st_sset *s)
{
	return s->p.ticks;
}

const struct st_profile_counters *st_sset_counters_ro(const struct st_sset *s)
{
	return &s->counters;
}

/* The mutable accessors: the same parts, for the set's owner. */
struct st_hll *st_sset_hll(struct st_sset *s, unsigned key_field)
{
	return key_field < s->cfg.key_fields ? s->p.hll[key_field] : NULL;
}

struct st_hh *st_sset_heavy(struct st_sset *s, unsigned key_field)
{
	return key_field < s->cfg.key_fields ? s->p.heavy[key_field] : NULL;
}

struct st_qs *st_sset_size_qs(struct st_sset *s)
{
	return s->p.size_qs;
}

struct st_qs *st_sset_numeric_qs(struct st_sset *s, unsigned numeric_field)
{
	return numeric_field < s->cfg.numeric_fields ?
		s->p.numeric_qs[numeric_field] : NULL;
}

struct st_schema *st_sset_schema(struct st_sset *s)
{
	return s->p.schema;
}

struct st_ticks *st_sset_ticks(struct st_sset *s)
{
	return s->p.ticks;
}

struct st_profile_counters *st_sset_counters(struct st_sset *s)
{
	return &s->counters;
}

/* Do the parts have exactly the shape cfg describes (as far as the sketch
 * accessors let us see)? */
static bool parts_match(const struct st_sset_parts *parts,
			const struct st_sset_config *cfg)
{
	for (unsigned i = 0; i < ST_SSET_KEY_FIELDS_MAX; i++) {
		bool used = i < cfg->key_fields;

		if (!used) {
			if (parts->hll[i] || parts->heavy[i])
				return false;
			continue;
		}
		if (!parts->hll[i] || !parts->heavy[i] ||
		    st_hll_precision(parts->hll[i]) != cfg->hll_p ||
		    st_hh_capacity(parts->heavy[i]) != cfg->hh_k)
			return false;
	}
	if (!parts->size_qs || st_qs_alpha(parts->size_qs) != cfg->qs_alpha)
		return false;
	for (unsigned i = 0; i < ST_SSET_NUMERIC_FIELDS_MAX; i++) {
		bool used = i < cfg->numeric_fields;

		if (!used) {
			if (parts->numeric_qs[i])
				return false;
			continue;
		}
		if (!parts->numeric_qs[i] ||
		    st_qs_alpha(parts->numeric_qs[i]) != cfg->qs_alpha)
			return false;
	}
	return parts->schema && parts->ticks &&
	       st_ticks_count(parts->ticks) == cfg->n_ticks &&
	       (uint64_t)cfg->n_ticks * st_ticks_tick_ns(parts->ticks) ==
		       cfg->epoch_ns;
}

struct st_sset *st_sset_assemble(const struct st_sset_config *cfg,
				 struct st_sset_parts *parts)
{
	struct st_sset *s;

	if (!config_ok(cfg) || !parts_match(parts, cfg)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->p = *parts;
	s->epoch_start_ns = st_ticks_epoch_start_ns(parts->ticks);
	memset(parts, 0, sizeof(*parts));
	return s;
}
