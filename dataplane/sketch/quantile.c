/*
 * DDSketch relative-error quantiles (Masson, Rim, Lee, "DDSketch: a fast and
 * fully-mergeable quantile sketch with relative-error guarantees", VLDB 2019).
 *
 * Mapping.  gamma = (1+alpha)/(1-alpha).  A value x >= DBL_MIN goes to the
 * bucket of index i = ceil(log_gamma(x)), computed with log() (for the
 * integers 1..4096, read from a per-process table of that same expression:
 * see int_keys_for); the bucket
 * holds (gamma^(i-1), gamma^i] and is read back as 2 gamma^i / (gamma+1)
 * (= (1-alpha) gamma^i), which lies within relative error alpha of every
 * value in the bucket.  A negative value -x (signed sketches only) goes to
 * the negative store under key -i, so that in both stores a larger key holds
 * larger values.  A value whose magnitude is below DBL_MIN (the smallest
 * normal double: zeros and subnormals) counts as zero and reads back as 0.
 * -0.0 is recorded as +0.0 so that min and max do not depend on the order
 * of arrival.
 *
 * Stores.  Each store is a dense array of max_bins u64 counters over the
 * keys offset .. offset+max_bins-1, allocated at create.  When a new key
 * falls outside the window, the window moves (counters are shifted) so that
 * it covers every non-empty key.  When the non-empty keys would span more
 * than max_bins, the store collapses: it keeps the max_bins highest keys and
 * adds the counts of every lower key into the lowest kept one.  Collapsing
 * always folds the lowest *values* upward, in both stores: in the positive
 * store they are the smallest magnitudes, in the negative store the largest
 * (the values furthest below zero).  Folding the negative store's smallest
 * magnitudes instead would corrupt the values just below zero, which for a
 * stream of mostly negative values are its high quantiles; keying negatives
 * by -i lets one collapsing-lowest store serve both signs.  Each store keeps
 * a flag saying it has collapsed, so that the bounds stay true.
 *
 * Guarantee (exact statement).  Ranks: estimate(r) for r in (0,1) is the
 * value of the element of 0-based rank floor(r * (count-1)) in the sorted
 * stream of accepted values; r = 0 returns the exact min and r = 1 the exact
 * max; r outside [0,1] or NaN, or an empty sketch, returns NaN.  Let v be
 * the element at that rank.  Then |estimate - v| <= alpha |v| whenever
 *   - v = 0, or
 *   - v > 0 and ceil(log_gamma v) > ceil(log_gamma max) - max_bins, which
 *     holds for every v >= max / gamma^(max_bins-1), or
 *   - v < 0 and ceil(log_gamma |v|) < ceil(log_gamma |u|) + max_bins, where
 *     u is the accepted negative value closest to zero, which holds for
 *     every v with |v| <= |u| gamma^(max_bins-1).
 * (The value forms hold up to the rounding of log() at bucket edges.)
 * Proof: the positive store's highest non-empty key is that of max and
 * never moves down; a collapse keeps every key above (highest - max_bins),
 * so such a v is never folded and sits in its own bucket.  Bucket order
 * follows value order (the key map is monotone, folding moves counts only
 * to the lowest kept key), so the rank walk stops in v's bucket, whose read
 * value is within alpha of v; clamping into [min, max] only moves the
 * estimate towards v.  Mirror argument for the negative store, whose
 * highest key is that of u.  With alpha 0.01 and 1024 bins, gamma^1023 is
 * about 7.7e8: the top 8.9 decades below max (and the 8.9 decades below u)
 * are kept; with 64 bins, a factor of 3.5.
 * The only excess over alpha is floating rounding in log(), exp() and the
 * products (glibc's log and exp are within one ulp): in log space at most
 * about |ln v| 2^-51 + 2^-50, i.e. below 4e-13 relative for every normal
 * double and about 1e-15 for magnitudes near 1.  Values below DBL_MIN read
 * back as 0 (absolute error below DBL_MIN).  A folded value (one that fails
 * the conditions above) reads back too high: a positive one as the lowest
 * kept positive bucket, a negative one as the most negative kept bucket.
 * lower_bound/upper_bound always contain v: they are v's bucket edges
 * gamma^(i-1) and gamma^i (the unclamped estimate divided by 1+alpha and by
 * 1-alpha; mirrored for negatives), widened by 8 ulps of |ln edge| + 1 to
 * cover that rounding, open downwards for the lowest bucket of a collapsed
 * store, and clamped into [min, max].
 *
 * alpha must lie in [1e-9, 0.5] (quantile.h): below 1e-9 the rounding of
 * the mapping (up to 4e-13 relative) would no longer be small against
 * alpha, and gamma would approach 1 in a double.
 *
 * min, max and count are exact.  sum is accumulated in a double: merging
 * adds the two sums, so a merge equals the sketch of the whole stream bit
 * for bit only when every partial sum is exact (integers, or fixed-point
 * values, whose total stays below 2^53 units); otherwise the two sums differ
 * by rounding.  Every other field of a merge is exact and order-independent:
 * the collapsed state is a function of the multiset of keys alone.
 *
 * Serialized payload (after the 16-byte blob header: kind
 * ST_SKETCH_QUANTILE, version 1, not hashed), little-endian:
 *   off size field
 *     0    8 alpha            f64, in [1e-9, 0.5]
 *     8    1 flags            bit0 signed, bit1 positive store collapsed,
 *                             bit2 negative store collapsed; others 0
 *     9    3 reserved         0
 *    12    4 max_bins         16..65536
 *    16    8 count            accepted values: zero + sum of every bin
 *    24    8 rejected         NaN, +-inf, negatives in an unsigned sketch
 *    32    8 zero_count       values with |v| < DBL_MIN
 *    40    8 min              f64; these three are +0.0 when count is 0
 *    48    8 max              f64
 *    56    8 sum              f64 (may be +-inf after overflow, never NaN)
 *    64      positive store, then (signed sketches only) negative store:
 *      +0  8 first_key        i64, key of the first counter (0 if empty)
 *      +8  4 n_bins           0..max_bins
 *     +12  4 reserved         0
 *     +16  8*n_bins counts    u64 each, for keys first_key.. in order;
 *                             the first and the last are non-zero
 * Only the non-empty key range is written, so the encoding is canonical: a
 * sketch has one serialization, whatever its window position in memory.
 */
#include "dataplane/sketch/quantile.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/sketch/blob.h"

#define QS_VERSION 1
#define QS_ALPHA_MIN 1e-9
#define QS_ALPHA_MAX 0.5
#define QS_BINS_MIN 16u
#define QS_BINS_MAX 65536u
/* |ln x| < QS_LN_RANGE for every normal double x. */
#define QS_LN_RANGE 710.0

enum {
	QS_FLAG_SIGNED = 1u << 0,
	QS_FLAG_POS_COLLAPSED = 1u << 1,
	QS_FLAG_NEG_COLLAPSED = 1u << 2,
	QS_FLAGS_KNOWN = QS_FLAG_SIGNED | QS_FLAG_POS_COLLAPSED |
			 QS_FLAG_NEG_COLLAPSED,
};

/* Payload offsets, after the blob header. */
enum {
	QS_OFF_ALPHA = 0,
	QS_OFF_FLAGS = 8,
	QS_OFF_RESERVED = 9,
	QS_OFF_MAX_BINS = 12,
	QS_OFF_COUNT = 16,
	QS_OFF_REJECTED = 24,
	QS_OFF_ZERO = 32,
	QS_OFF_MIN = 40,
	QS_OFF_MAX = 48,
	QS_OFF_SUM = 56,
	QS_FIXED_BYTES = 64,
	QS_STORE_OFF_KEY = 0,
	QS_STORE_OFF_NBINS = 8,
	QS_STORE_OFF_RESERVED = 12,
	QS_STORE_HDR_BYTES = 16,
};

/* The key mapping for one alpha, shared by sketches and the validator. */
struct qs_map {
	double alpha;
	double ln_gamma;
	double inv_ln_gamma;
	double rep_factor;   /* 2 / (gamma + 1) */
	int64_t key_limit;   /* |key| <= key_limit for every normal double */
};

struct qs_store {
	uint64_t *bins;      /* bins[j] counts key offset + j */
	int64_t offset;
	int64_t lo, hi;      /* non-empty keys; INT64_MAX, INT64_MIN when empty */
	uint64_t total;
	bool collapsed;      /* some key below lo was folded into lo */
};

struct st_qs {
	struct qs_map map;
	unsigned max_bins;
	bool is_signed;
	const int32_t *int_keys; /* int_keys[x] = map_key(x), x in 1..QS_INT_KEYS;
				  * shared by every sketch of this alpha, or NULL */
	uint64_t count;
	uint64_t rejected;
	uint64_t zero_count;
	double min, max, sum;
	struct qs_store pos;
	struct qs_store neg;
	uint64_t bins[];     /* max_bins for pos, then max_bins for neg */
};

static bool alpha_ok(double alpha)
{
	return alpha >= QS_ALPHA_MIN && alpha <= QS_ALPHA_MAX;  /* NaN fails */
}

static bool bins_ok(uint64_t max_bins)
{
	return max_bins >= QS_BINS_MIN && max_bins <= QS_BINS_MAX;
}

static void map_init(struct qs_map *m, double alpha)
{
	double gamma = (1 + alpha) / (1 - alpha);

	m->alpha = alpha;
	/* log1p: gamma - 1 = 2 alpha / (1 - alpha) without cancellation */
	m->ln_gamma = log1p(2 * alpha / (1 - alpha));
	m->inv_ln_gamma = 1 / m->ln_gamma;
	m->rep_factor = 2 / (gamma + 1);
	m->key_limit = (int64_t)ceil(QS_LN_RANGE * m->inv_ln_gamma) + 1;
}

/* Key of x >= DBL_MIN: ceil(log_gamma(x)). */
static inline int64_t map_key(const struct qs_map *m, double x)
{
	return (int64_t)ceil(log(x) * m->inv_ln_gamma);
}

/*
 * Keys of the integers 1..QS_INT_KEYS (record sizes, counts), looked up
 * instead of calling log().  Each entry is map_key() itself, evaluated once
 * per process for each alpha in use, so a lookup returns the very key the
 * expression gives: the fast path cannot move a value to another bucket.
 * Tables are built under qs_int_lock by st_qs_create() (never on the
 * update path), published to a sketch through its int_keys pointer, never
 * changed afterwards, and live until the process exits.  An alpha whose
 * keys do not fit in int32 (alpha near 1e-9), or a QS_INT_TABLES+1-th
 * distinct alpha, gets no table: its sketches call log() as before.
 */
#define QS_INT_KEYS 4096
#define QS_INT_TABLES 4

struct qs_int_table {
	double alpha;
	bool built;
	int32_t keys[QS_INT_KEYS + 1];   /* keys[0] unused */
};

static pthread_mutex_t qs_int_lock = PTHREAD_MUTEX_INITIALIZER;
static struct qs_int_table qs_int_tables[QS_INT_TABLES];

/* The table of m's alpha, built on first use; NULL when there is none. */
static const int32_t *int_keys_for(const struct qs_map *m)
{
	const int32_t *keys = NULL;

	if (map_key(m, (double)QS_INT_KEYS) > INT32_MAX)
		return NULL;
	pthread_mutex_lock(&qs_int_lock);
	for (unsigned t = 0; t < QS_INT_TABLES; t++) {
		struct qs_int_table *tab = &qs_int_tables[t];

		if (tab->built && tab->alpha != m->alpha)
			continue;
		if (!tab->built) {
			tab->keys[0] = 0;
			for (unsigned x = 1; x <= QS_INT_KEYS; x++)
				tab->keys[x] = (int32_t)map_key(m, (double)x);
			tab->alpha = m->alpha;
			tab->built = true;
		}
		keys = tab->keys;
		break;
	}
	pthread_mutex_unlock(&qs_int_lock);
	return keys;
}

/* map_key() of x >= DBL_MIN, from the integer table when x is one of its
 * integers. */
static inline int64_t sketch_key(const struct st_qs *q, double x)
{
	if (x <= (double)QS_INT_KEYS && q->int_keys) {
		uint32_t i = (uint32_t)x;   /* x in (0, QS_INT_KEYS]: defined */

		if ((double)i == x && i)
			return q->int_keys[i];
	}
	return map_key(&q->map, x);
}

/* gamma^i, and the value bucket i reads back as. */
static double map_pow(const struct qs_map *m, int64_t i)
{
	return exp((double)i * m->ln_gamma);
}

static double map_value(const struct qs_map *m, int64_t i)
{
	return map_pow(m, i) * m->rep_factor;
}

/*
 * Relative widening of bucket edge gamma^i covering the rounding of the
 * mapping (log, the product, exp): a few ulps of |i ln gamma| + 1.
 */
static double map_slack(const struct qs_map *m, int64_t i)
{
	return 8 * DBL_EPSILON * (fabs((double)i * m->ln_gamma) + 1);
}

/* ---- stores ---------------------------------------------------------- */

static void store_clear(struct qs_store *st, unsigned max_bins)
{
	memset(st->bins, 0, (size_t)max_bins * sizeof(*st->bins));
	st->offset = 0;
	st->lo = INT64_MAX;
	st->hi = INT64_MIN;
	st->total = 0;
	st->collapsed = false;
}

/*
 * Moves the window to start at key `offset`, keeping the counters of keys
 * offset.. and adding `folded` (the counts of the keys below) to the first.
 */
static void store_move(struct qs_store *st, int64_t offset, uint64_t folded,
		       unsigned max_bins)
{
	int64_t keep_lo = ST_MAX(st->lo, offset);
	size_t head = 0, kept = 0;

	if (keep_lo <= st->hi) {
		head = (size_t)(keep_lo - offset);
		kept = (size_t)(st->hi - keep_lo + 1);
		memmove(st->bins + head, st->bins + (keep_lo - st->offset),
			kept * sizeof(*st->bins));
	}
	memset(st->bins, 0, head * sizeof(*st->bins));
	memset(st->bins + head + kept, 0,
	       (max_bins - head - kept) * sizeof(*st->bins));
	st->offset = offset;
	if (folded) {
		st->bins[0] += folded;
		st->lo = offset;
		if (st->hi < offset)
			st->hi = offset;
	}
}

/*
 * Positions the window over the non-empty keys and want_lo..want_hi, or,
 * when they span more than max_bins, over the max_bins highest of them,
 * folding the lower existing counters into the lowest kept key.  The caller
 * then adds its counts at max(key, offset).
 */
static void store_cover(struct qs_store *st, int64_t want_lo, int64_t want_hi,
			unsigned max_bins)
{
	int64_t lo = ST_MIN(st->lo, want_lo);
	int64_t hi = ST_MAX(st->hi, want_hi);
	int64_t width = (int64_t)max_bins;
	int64_t offset;
	uint64_t folded = 0;

	if (lo >= st->offset && hi - st->offset < width)
		return;
	if (hi - lo < width) {
		/* centred: room to grow either way before the next move */
		offset = lo - (width - (hi - lo + 1)) / 2;
	} else {
		offset = hi - width + 1;
		st->collapsed = true;
		for (int64_t k = st->lo; k <= st->hi && k < offset; k++)
			folded += st->bins[k - st->offset];
		if (offset == st->offset && !folded)
			return;  /* only the new low keys fold */
	}
	store_move(st, offset, folded, max_bins);
}

static inline void store_add(struct qs_store *st, int64_t key, uint64_t n,
			     unsigned max_bins)
{
	if (unlikely(key < st->offset || key - st->offset >= (int64_t)max_bins)) {
		store_cover(st, key, key, max_bins);
		if (key < st->offset)
			key = st->offset;
	}
	st->bins[key - st->offset] += n;
	if (key < st->lo)
		st->lo = key;
	if (key > st->hi)
		st->hi = key;
	st->total += n;
}

static void store_merge(struct qs_store *dst, const struct qs_store *src,
			unsigned max_bins)
{
	if (!src->total)
		return;
	store_cover(dst, src->lo, src->hi, max_bins);
	for (int64_t k = src->lo; k <= src->hi; k++) {
		uint64_t n = src->bins[k - src->offset];

		if (n)
			store_add(dst, k, n, max_bins);
	}
	dst->collapsed |= src->collapsed;
}

/* Key of the element of 0-based rank `rank` < st->total within the store. */
static int64_t store_key_at(const struct qs_store *st, uint64_t rank)
{
	uint64_t below = 0;
	int64_t k;

	for (k = st->lo; k < st->hi; k++) {
		below += st->bins[k - st->offset];
		if (below > rank)
			break;
	}
	return k;
}

static uint64_t store_n_bins(const struct qs_store *st)
{
	return st->total ? (uint64_t)(st->hi - st->lo + 1) : 0;
}

/* ---- life cycle and updates --------------------------------------------- */

struct st_qs *st_qs_create(double alpha, unsigned max_bins, bool is_signed)
{
	unsigned stores = is_signed ? 2 : 1;
	struct st_qs *q;

	if (!alpha_ok(alpha) || !bins_ok(max_bins)) {
		errno = EINVAL;
		return NULL;
	}
	q = calloc(1, sizeof(*q) + (size_t)stores * max_bins * sizeof(uint64_t));
	if (!q) {
		errno = ENOMEM;
		return NULL;
	}
	map_init(&q->map, alpha);
	q->int_keys = int_keys_for(&q->map);
	q->max_bins = max_bins;
	q->is_signed = is_signed;
	q->pos.bins = q->bins;
	q->neg.bins = is_signed ? q->bins + max_bins : NULL;
	st_qs_reset(q);
	return q;
}

void st_qs_destroy(struct st_qs *q)
{
	free(q);
}

void st_qs_reset(struct st_qs *q)
{
	q->count = 0;
	q->rejected = 0;
	q->zero_count = 0;
	q->min = INFINITY;
	q->max = -INFINITY;
	q->sum = 0;
	store_clear(&q->pos, q->max_bins);
	if (q->is_signed)
		store_clear(&q->neg, q->max_bins);
	else
		q->neg = (struct qs_store){ .lo = INT64_MAX, .hi = INT64_MIN };
}

void st_qs_update(struct st_qs *q, double value)
{
	if (unlikely(!isfinite(value) || (value < 0 && !q->is_signed))) {
		q->rejected++;
		return;
	}
	if (likely(value >= DBL_MIN)) {
		store_add(&q->pos, sketch_key(q, value), 1, q->max_bins);
	} else if (value <= -DBL_MIN) {
		store_add(&q->neg, -sketch_key(q, -value), 1, q->max_bins);
	} else {
		q->zero_count++;
		if (value == 0)
			value = 0.0;  /* -0.0 -> +0.0 */
	}
	q->count++;
	q->sum += value;
	if (value < q->min)
		q->min = value;
	if (value > q->max)
		q->max = value;
}

uint64_t st_qs_count(const struct st_qs *q)
{
	return q->count;
}

uint64_t st_qs_rejected(const struct st_qs *q)
{
	return q->rejected;
}

double st_qs_min(const struct st_qs *q)
{
	return q->count ? q->min : NAN;
}

double st_qs_max(const struct st_qs *q)
{
	return q->count ? q->max : NAN;
}

double st_qs_sum(const struct st_qs *q)
{
	return q->sum;
}

double st_qs_alpha(const struct st_qs *q)
{
	return q->map.alpha;
}

/* ---- queries ----------------------------------------------------------- */

enum qs_where { QS_AT_MIN, QS_AT_MAX, QS_IN_NEG, QS_IN_ZERO, QS_IN_POS };

struct qs_spot {
	enum qs_where where;
	int64_t key;
};

/* Where the element of rank floor(rank * (count-1)) lies; false if none. */
static bool qs_locate(const struct st_qs *q, double rank, struct qs_spot *s)
{
	uint64_t k;

	if (!q->count || !(rank >= 0 && rank <= 1))
		return false;
	s->key = 0;
	if (rank == 0 || rank == 1) {
		s->where = rank == 0 ? QS_AT_MIN : QS_AT_MAX;
		return true;
	}
	k = (uint64_t)(rank * (double)(q->count - 1));
	if (k >= q->count)  /* (double)(count-1) may round up */
		k = q->count - 1;
	if (k < q->neg.total) {
		s->where = QS_IN_NEG;
		s->key = store_key_at(&q->neg, k);
		return true;
	}
	k -= q->neg.total;
	if (k < q->zero_count) {
		s->where = QS_IN_ZERO;
		return true;
	}
	s->where = QS_IN_POS;
	s->key = store_key_at(&q->pos, k - q->zero_count);
	return true;
}

static double clamp(const struct st_qs *q, double v)
{
	return v < q->min ? q->min : v > q->max ? q->max : v;
}

double st_qs_estimate(const struct st_qs *q, double rank)
{
	struct qs_spot s;

	if (!qs_locate(q, rank, &s))
		return NAN;
	switch (s.where) {
	case QS_AT_MIN:
		return q->min;
	case QS_AT_MAX:
		return q->max;
	case QS_IN_NEG:
		return clamp(q, -map_value(&q->map, -s.key));
	case QS_IN_POS:
		return clamp(q, map_value(&q->map, s.key));
	case QS_IN_ZERO:
		break;
	}
	return clamp(q, 0.0);
}

/* The interval holding the element at spot s (see the file head). */
static void qs_interval(const struct st_qs *q, const struct qs_spot *s,
			double *lower, double *upper)
{
	const struct qs_map *m = &q->map;
	int64_t i;

	switch (s->where) {
	case QS_AT_MIN:
		*lower = *upper = q->min;
		return;
	case QS_AT_MAX:
		*lower = *upper = q->max;
		return;
	case QS_IN_ZERO:
		*lower = -DBL_MIN;
		*upper = DBL_MIN;
		break;
	case QS_IN_POS:  /* (gamma^(i-1), gamma^i] */
		i = s->key;
		*lower = map_pow(m, i - 1) * (1 - map_slack(m, i - 1));
		*upper = map_pow(m, i) * (1 + map_slack(m, i));
		if (q->pos.collapsed && i == q->pos.lo)
			*lower = 0;
		break;
	case QS_IN_NEG:  /* [-gamma^i, -gamma^(i-1)) with i = -key */
		i = -s->key;
		*lower = -map_pow(m, i) * (1 + map_slack(m, i));
		*upper = -map_pow(m, i - 1) * (1 - map_slack(m, i - 1));
		if (q->neg.collapsed && s->key == q->neg.lo)
			*lower = -INFINITY;
		break;
	}
	*lower = clamp(q, *lower);
	*upper = clamp(q, *upper);
}

double st_qs_lower_bound(const struct st_qs *q, double rank)
{
	struct qs_spot s;
	double lower, upper;

	if (!qs_locate(q, rank, &s))
		return NAN;
	qs_interval(q, &s, &lower, &upper);
	return lower;
}

double st_qs_upper_bound(const struct st_qs *q, double rank)
{
	struct qs_spot s;
	double lower, upper;

	if (!qs_locate(q, rank, &s))
		return NAN;
	qs_interval(q, &s, &lower, &upper);
	return upper;
}

int st_qs_merge(struct st_qs *dst, const struct st_qs *src)
{
	if (dst->map.alpha != src->map.alpha || dst->max_bins != src->max_bins ||
	    dst->is_signed != src->is_signed)
		return -EINVAL;
	if (dst->count > UINT64_MAX - src->count ||
	    dst->rejected > UINT64_MAX - src->rejected)
		return -EOVERFLOW;
	if (!src->count) {
		dst->rejected += src->rejected;
		return 0;
	}
	store_merge(&dst->pos, &src->pos, dst->max_bins);
	if (dst->is_signed)
		store_merge(&dst->neg, &src->neg, dst->max_bins);
	dst->count += src->count;
	dst->rejected += src->rejected;
	dst->zero_count += src->zero_count;
	dst->sum += src->sum;
	dst->min = ST_MIN(dst->min, src->min);
	dst->max = ST_MAX(dst->max, src->max);
	return 0;
}

size_t st_qs_memory_bytes(const struct st_qs *q)
{
	unsigned stores = q->is_signed ? 2 : 1;

	return sizeof(*q) + (size_t)stores * q->max_bins * sizeof(uint64_t);
}

/* ---- serialization ----------------------------------------------------- */

static size_t store_bytes(uint64_t n_bins)
{
	return QS_STORE_HDR_BYTES + (size_t)n_bins * sizeof(uint64_t);
}

size_t st_qs_serialized_size(const struct st_qs *q)
{
	size_t size = ST_SKETCH_BLOB_HDR_BYTES + QS_FIXED_BYTES +
		      store_bytes(store_n_bins(&q->pos));

	if (q->is_signed)
		size += store_bytes(store_n_bins(&q->neg));
	return size;
}

static uint8_t *store_put(const struct qs_store *st, uint8_t *p)
{
	uint64_t n = store_n_bins(st);

	st_put_le64(p + QS_STORE_OFF_KEY, n ? (uint64_t)st->lo : 0);
	st_put_le32(p + QS_STORE_OFF_NBINS, (uint32_t)n);
	st_put_le32(p + QS_STORE_OFF_RESERVED, 0);
	p += QS_STORE_HDR_BYTES;
	for (uint64_t j = 0; j < n; j++, p += 8)
		st_put_le64(p, st->bins[st->lo - st->offset + (int64_t)j]);
	return p;
}

ssize_t st_qs_serialize(const struct st_qs *q, void *buf, size_t cap)
{
	size_t size = st_qs_serialized_size(q);
	uint8_t *p = buf;
	uint8_t flags = 0;
	bool empty = !q->count;

	if (cap < size)
		return -ENOSPC;
	st_blob_put_hdr(p, ST_SKETCH_QUANTILE, QS_VERSION, false, (uint32_t)size);
	p += ST_SKETCH_BLOB_HDR_BYTES;
	if (q->is_signed)
		flags |= QS_FLAG_SIGNED;
	if (q->pos.collapsed)
		flags |= QS_FLAG_POS_COLLAPSED;
	if (q->neg.collapsed)
		flags |= QS_FLAG_NEG_COLLAPSED;
	st_put_lef64(p + QS_OFF_ALPHA, q->map.alpha);
	p[QS_OFF_FLAGS] = flags;
	memset(p + QS_OFF_RESERVED, 0, 3);
	st_put_le32(p + QS_OFF_MAX_BINS, q->max_bins);
	st_put_le64(p + QS_OFF_COUNT, q->count);
	st_put_le64(p + QS_OFF_REJECTED, q->rejected);
	st_put_le64(p + QS_OFF_ZERO, q->zero_count);
	st_put_lef64(p + QS_OFF_MIN, empty ? 0.0 : q->min);
	st_put_lef64(p + QS_OFF_MAX, empty ? 0.0 : q->max);
	st_put_lef64(p + QS_OFF_SUM, empty ? 0.0 : q->sum);
	p = store_put(&q->pos, p + QS_FIXED_BYTES);
	if (q->is_signed)
		store_put(&q->neg, p);
	return (ssize_t)size;
}

/* A parsed, checked blob. */
struct qs_image {
	struct qs_map map;
	unsigned max_bins;
	uint8_t flags;
	uint64_t count, rejected, zero_count;
	double min, max, sum;
	struct qs_image_store {
		int64_t first_key;
		uint32_t n_bins;
		bool collapsed;
		const uint8_t *counts;
		uint64_t total;
	} pos, neg;
};

#define QS_FAIL(reason) (*why = (reason), -EINVAL)

static int parse_store(const uint8_t *buf, size_t len, size_t *off,
		       const struct qs_image *img, struct qs_image_store *st,
		       const char **why)
{
	const uint8_t *p = buf + *off;
	uint64_t key_bits;
	int64_t key, limit = img->map.key_limit;

	if (len - *off < QS_STORE_HDR_BYTES)
		return QS_FAIL("quantile store header truncated");
	key_bits = st_get_le64(p + QS_STORE_OFF_KEY);
	memcpy(&key, &key_bits, sizeof(key));
	st->first_key = key;
	st->n_bins = st_get_le32(p + QS_STORE_OFF_NBINS);
	st->counts = p + QS_STORE_HDR_BYTES;
	st->total = 0;
	if (st_get_le32(p + QS_STORE_OFF_RESERVED) != 0)
		return QS_FAIL("quantile store reserved field not zero");
	if (st->n_bins > img->max_bins)
		return QS_FAIL("quantile store has more bins than max_bins");
	if (st->collapsed && st->n_bins != img->max_bins)
		return QS_FAIL("collapsed quantile store does not span max_bins");
	if (st->n_bins == 0) {
		if (key != 0)
			return QS_FAIL("empty quantile store with a non-zero key");
		*off += QS_STORE_HDR_BYTES;
		return 0;
	}
	if (key < -limit || key > limit - (int64_t)(st->n_bins - 1))
		return QS_FAIL("quantile store keys outside the range of doubles");
	if ((len - *off - QS_STORE_HDR_BYTES) / 8 < st->n_bins)
		return QS_FAIL("quantile store counts truncated");
	if (!st_get_le64(st->counts) ||
	    !st_get_le64(st->counts + 8 * (size_t)(st->n_bins - 1)))
		return QS_FAIL("quantile store range not trimmed to non-empty bins");
	for (uint32_t j = 0; j < st->n_bins; j++) {
		uint64_t n = st_get_le64(st->counts + 8 * (size_t)j);

		if (st->total + n < n)
			return QS_FAIL("quantile store counts overflow");
		st->total += n;
	}
	*off += store_bytes(st->n_bins);
	return 0;
}

/*
 * Key of an extreme (min or max) against the store bucket it must lie in:
 * equal, or one apart where another libm rounds a bucket edge the other
 * way; in a collapsed store's lowest bucket, anything below is allowed.
 */
static bool end_key_ok(int64_t key, int64_t bucket_key, bool open_below)
{
	if (open_below)
		return key <= bucket_key + 1;
	return key >= bucket_key - 1 && key <= bucket_key + 1;
}

static bool is_plus_zero(double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return bits == 0;
}

/* min, max and sum against the counts (see the file head). */
static int check_values(const struct qs_image *img, const char **why)
{
	const struct qs_map *m = &img->map;
	const struct qs_image_store *pos = &img->pos, *neg = &img->neg;
	double min = img->min, max = img->max, bound;

	if (!img->count) {
		if (!is_plus_zero(min) || !is_plus_zero(max) || !is_plus_zero(img->sum))
			return QS_FAIL("empty quantile sketch with non-zero min, max or sum");
		return 0;
	}
	if (!isfinite(min) || !isfinite(max) || isnan(img->sum))
		return QS_FAIL("quantile min or max not finite, or sum NaN");
	if (min > max)
		return QS_FAIL("quantile min above max");
	if (!(img->flags & QS_FLAG_SIGNED) && min < 0)
		return QS_FAIL("negative min in an unsigned quantile sketch");
	/* the lowest non-empty class holds min, the highest holds max */
	if (neg->n_bins) {
		if (!(min <= -DBL_MIN) ||
		    !end_key_ok(-map_key(m, -min), neg->first_key, neg->collapsed))
			return QS_FAIL("quantile min not in the lowest negative bucket");
	} else if (img->zero_count) {
		if (!(fabs(min) < DBL_MIN))
			return QS_FAIL("quantile min not in the zero bucket");
	} else if (!(min >= DBL_MIN) ||
		   !end_key_ok(map_key(m, min), pos->first_key, pos->collapsed)) {
		return QS_FAIL("quantile min not in the lowest positive bucket");
	}
	if (pos->n_bins) {
		if (!(max >= DBL_MIN) ||
		    !end_key_ok(map_key(m, max),
				pos->first_key + pos->n_bins - 1, false))
			return QS_FAIL("quantile max not in the highest positive bucket");
	} else if (img->zero_count) {
		if (!(fabs(max) < DBL_MIN))
			return QS_FAIL("quantile max not in the zero bucket");
	} else if (!(max <= -DBL_MIN) ||
		   !end_key_ok(-map_key(m, -max),
			       neg->first_key + neg->n_bins - 1, false)) {
		return QS_FAIL("quantile max not in the highest negative bucket");
	}
	/*
	 * No accumulation of count doubles of magnitude <= M in a double can
	 * exceed 4 count M: (1+u)^count <= 4 up to count = 2^53 ln 4, and past
	 * about 2^54 M the running sum no longer changes.
	 */
	bound = 4 * (double)img->count * fmax(fabs(min), fabs(max));
	if (!(fabs(img->sum) <= bound))
		return QS_FAIL("quantile sum out of reach of count, min and max");
	return 0;
}

static int qs_parse(const void *buf, size_t len, struct qs_image *img,
		    const char **why)
{
	const uint8_t *p = (const uint8_t *)buf + ST_SKETCH_BLOB_HDR_BYTES;
	size_t off = ST_SKETCH_BLOB_HDR_BYTES + QS_FIXED_BYTES;
	double alpha;
	uint64_t total;
	int err;

	err = st_blob_check_hdr(buf, len, ST_SKETCH_QUANTILE, QS_VERSION, false, why);
	if (err)
		return err;
	if (len < off)
		return QS_FAIL("quantile blob shorter than its fixed fields");
	alpha = st_get_lef64(p + QS_OFF_ALPHA);
	if (!alpha_ok(alpha))
		return QS_FAIL("quantile alpha outside [1e-9, 0.5]");
	map_init(&img->map, alpha);
	img->flags = p[QS_OFF_FLAGS];
	if (img->flags & ~QS_FLAGS_KNOWN)
		return QS_FAIL("unknown quantile flag bits");
	if (!(img->flags & QS_FLAG_SIGNED) && (img->flags & QS_FLAG_NEG_COLLAPSED))
		return QS_FAIL("unsigned quantile sketch with a collapsed negative store");
	if (p[QS_OFF_RESERVED] || p[QS_OFF_RESERVED + 1] || p[QS_OFF_RESERVED + 2])
		return QS_FAIL("quantile reserved bytes not zero");
	img->max_bins = st_get_le32(p + QS_OFF_MAX_BINS);
	if (!bins_ok(img->max_bins))
		return QS_FAIL("quantile max_bins outside 16..65536");
	img->count = st_get_le64(p + QS_OFF_COUNT);
	img->rejected = st_get_le64(p + QS_OFF_REJECTED);
	img->zero_count = st_get_le64(p + QS_OFF_ZERO);
	img->min = st_get_lef64(p + QS_OFF_MIN);
	img->max = st_get_lef64(p + QS_OFF_MAX);
	img->sum = st_get_lef64(p + QS_OFF_SUM);

	img->pos.collapsed = img->flags & QS_FLAG_POS_COLLAPSED;
	img->neg.collapsed = img->flags & QS_FLAG_NEG_COLLAPSED;
	img->neg.n_bins = 0;
	img->neg.total = 0;
	err = parse_store(buf, len, &off, img, &img->pos, why);
	if (!err && (img->flags & QS_FLAG_SIGNED))
		err = parse_store(buf, len, &off, img, &img->neg, why);
	if (err)
		return err;
	if (off != len)
		return QS_FAIL("quantile blob longer than its stores");
	total = img->zero_count + img->pos.total;
	if (total < img->zero_count || total + img->neg.total < total ||
	    total + img->neg.total != img->count)
		return QS_FAIL("quantile bin counts do not add up to count");
	return check_values(img, why);
}

int st_qs_validate(const void *buf, size_t len, const char **why)
{
	struct qs_image img;

	return qs_parse(buf, len, &img, why);
}

static void store_load(struct qs_store *st, const struct qs_image_store *img,
		       unsigned max_bins)
{
	if (!img->n_bins)
		return;
	store_cover(st, img->first_key, img->first_key + img->n_bins - 1, max_bins);
	for (uint32_t j = 0; j < img->n_bins; j++)
		st->bins[img->first_key + j - st->offset] =
			st_get_le64(img->counts + 8 * (size_t)j);
	st->lo = img->first_key;
	st->hi = img->first_key + img->n_bins - 1;
	st->total = img->total;
	st->collapsed = img->collapsed;
}

struct st_qs *st_qs_deserialize(const void *buf, size_t len, const char **why)
{
	struct qs_image img;
	struct st_qs *q;

	if (qs_parse(buf, len, &img, why)) {
		errno = EINVAL;
		return NULL;
	}
	q = st_qs_create(img.map.alpha, img.max_bins, img.flags & QS_FLAG_SIGNED);
	if (!q)
		return NULL;
	q->count = img.count;
	q->rejected = img.rejected;
	q->zero_count = img.zero_count;
	if (img.count) {
		q->min = img.min;
		q->max = img.max;
		q->sum = img.sum;
	}
	store_load(&q->pos, &img.pos, q->max_bins);
	if (q->is_signed)
		store_load(&q->neg, &img.neg, q->max_bins);
	return q;
}
