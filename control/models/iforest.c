/*
 * Isolation forest: training, scoring, explanation, the model file.  The
 * design, its sources and the file layout are in iforest.h.
 *
 * In memory a forest is one array of nodes, tree after tree, each tree in
 * preorder (left child = next node), with the right child's index filled in
 * by the same preorder parse that validates a loaded file; a leaf keeps
 * c(rows) where an inner node keeps its split, so that scoring is one walk
 * per tree with no arithmetic but compares and one add.
 */
#include "control/models/iforest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define EULER_GAMMA 0.5772156649

static const uint8_t iforest_magic[8] = { 'S', 'T', 'I', 'F', 'R', 'S', 'T', 0 };

struct iforest_node {
	double value;        /* inner: split; leaf: c(rows) */
	uint32_t rows;       /* training rows that reached the node */
	uint32_t right;      /* inner: the right child's index within the tree */
	uint16_t feature;    /* ST_IFOREST_LEAF for a leaf */
};

struct st_iforest {
	atomic_uint refs;
	struct st_iforest_info info;
	double c_sample;                 /* c(ψ), > 0 as ψ >= 2 */
	double medians[ST_IFOREST_DIM_MAX];
	uint32_t *tree_nodes;            /* node count per tree */
	uint32_t *tree_start;            /* first node of each tree */
	struct iforest_node *nodes;
};

/* --- helpers ----------------------------------------------------------- */

static uint64_t splitmix64_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double rand_unit(uint64_t *state)
{
	return (double)(splitmix64_next(state) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n) (Lemire's multiply-shift; bias < n / 2^32). */
static size_t rand_below(uint64_t *state, size_t n)
{
	return (size_t)(((splitmix64_next(state) >> 32) * (uint64_t)n) >> 32);
}

static unsigned ceil_log2(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

double st_iforest_c(double n)
{
	if (n <= 1.0)
		return 0.0;
	if (n <= 2.0)
		return 1.0;
	return 2.0 * (log(n - 1.0) + EULER_GAMMA) - 2.0 * (n - 1.0) / n;
}

static void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_f64(uint8_t *p, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	put_le64(p, bits);
}

static uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static double get_f64(const uint8_t *p)
{
	uint64_t bits = get_le64(p);
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* --- schema ------------------------------------------------------------ */

int st_iforest_schema_init(struct st_iforest_schema *schema,
			   uint32_t features_version, const char *const *names,
			   unsigned dim)
{
	XXH3_state_t *state;
	uint8_t len_le[4];

	if (!schema || !names || dim == 0 || dim > ST_IFOREST_DIM_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < dim; i++)
		if (!names[i])
			return -EINVAL;
	state = XXH3_createState();
	if (!state)
		return -ENOMEM;
	XXH3_64bits_reset(state);
	for (unsigned i = 0; i < dim; i++) {
		size_t len = strlen(names[i]);

		put_le32(len_le, (uint32_t)len);
		XXH3_64bits_update(state, len_le, sizeof(len_le));
		XXH3_64bits_update(state, names[i], len);
	}
	schema->features_version = features_version;
	schema->dim = dim;
	schema->names_hash = XXH3_64bits_digest(state);
	XXH3_freeState(state);
	return 0;
}

void st_iforest_row_from_features(const struct st_features *f,
				  double row[ST_FEAT_COUNT])
{
	for (unsigned i = 0; i < ST_FEAT_COUNT; i++)
		row[i] = (f->missing >> i & 1u) ? NAN : f->v[i];
}

/* --- training ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of each feature over its finite values; 0 when it has none. */
static int training_medians(const double *rows, size_t n_rows, unsigned dim,
			    double *medians)
{
	double *column = malloc(n_rows * sizeof(*column));

	if (!column)
		return -ENOMEM;
	for (unsigned q = 0; q < dim; q++) {
		size_t n = 0;

		for (size_t r = 0; r < n_rows; r++)
			if (isfinite(rows[r * dim + q]))
				column[n++] = rows[r * dim + q];
		if (n == 0) {
			medians[q] = 0.0;
			continue;
		}
		qsort(column, n, sizeof(*column), cmp_double);
		medians[q] = (n & 1) ? column[n / 2]
				     : column[n / 2 - 1] / 2 + column[n / 2] / 2;
	}
	free(column);
	return 0;
}

/* One tree's growth: the sample (ψ rows, missing values filled) and output. */
struct tree_builder {
	const double *sample;        /* psi * dim */
	unsigned dim;
	unsigned height_limit;
	uint64_t *rng;
	struct iforest_node *out;    /* room for 2ψ - 1 nodes */
	uint32_t count;
};

static uint32_t grow_leaf(struct tree_builder *b, uint32_t rows)
{
	struct iforest_node *node = &b->out[b->count];

	node->feature = ST_IFOREST_LEAF;
	node->rows = rows;
	node->value = st_iforest_c(rows);
	node->right = 0;
	return b->count++;
}

/* Grows the subtree of idx[0 .. n) at `depth` (paper, Algorithm 2). */
static void grow(struct tree_builder *b, uint32_t *idx, uint32_t n, unsigned depth)
{
	double lo[ST_IFOREST_DIM_MAX], hi[ST_IFOREST_DIM_MAX];
	unsigned splittable[ST_IFOREST_DIM_MAX], n_splittable = 0;
	struct iforest_node *node;
	uint32_t self, n_left = 0;
	unsigned q;
	double split;

	if (n <= 1 || depth >= b->height_limit) {
		grow_leaf(b, n);
		return;
	}
	for (q = 0; q < b->dim; q++)
		lo[q] = hi[q] = b->sample[(size_t)idx[0] * b->dim + q];
	for (uint32_t i = 1; i < n; i++) {
		const double *x = &b->sample[(size_t)idx[i] * b->dim];

		for (q = 0; q < b->dim; q++) {
			lo[q] = x[q] < lo[q] ? x[q] : lo[q];
			hi[q] = x[q] > hi[q] ? x[q] : hi[q];
		}
	}
	for (q = 0; q < b->dim; q++)
		if (lo[q] < hi[q])
			splittable[n_splittable++] = q;
	if (n_splittable == 0) {
		grow_leaf(b, n);
		return;
	}
	q = splittable[rand_below(b->rng, n_splittable)];
	split = lo[q] + rand_unit(b->rng) * (hi[q] - lo[q]);
	if (split <= lo[q])
		split = nextafter(lo[q], hi[q]);
	for (uint32_t i = 0; i < n; i++) {
		if (b->sample[(size_t)idx[i] * b->dim + q] < split) {
			uint32_t tmp = idx[i];

			idx[i] = idx[n_left];
			idx[n_left++] = tmp;
		}
	}
	self = b->count++;
	node = &b->out[self];
	node->feature = (uint16_t)q;
	node->rows = n;
	node->value = split;
	grow(b, idx, n_left, depth + 1);
	b->out[self].right = b->count;
	grow(b, idx + n_left, n - n_left, depth + 1);
}

static struct st_iforest *iforest_alloc(unsigned trees, uint64_t nodes)
{
	struct st_iforest *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->tree_nodes = calloc(trees, sizeof(*f->tree_nodes));
	f->tree_start = calloc(trees, sizeof(*f->tree_start));
	f->nodes = nodes ? calloc(nodes, sizeof(*f->nodes)) : NULL;
	if (!f->tree_nodes || !f->tree_start || (nodes && !f->nodes)) {
		free(f->tree_nodes);
		free(f->tree_start);
		free(f->nodes);
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&f->refs, 1);
	return f;
}

static void iforest_free(struct st_iforest *f)
{
	free(f->nodes);
	free(f->tree_start);
	free(f->tree_nodes);
	free(f);
}

/* Grows every tree into f->nodes (sized trees * (2ψ - 1)). */
static int grow_forest(struct st_iforest *f, const double *rows, size_t n_rows)
{
	unsigned dim = f->info.schema.dim, psi = f->info.sample;
	uint64_t rng = f->info.seed;
	size_t *perm = malloc(n_rows * sizeof(*perm));
	double *sample = malloc((size_t)psi * dim * sizeof(*sample));
	uint32_t *idx = malloc((size_t)psi * sizeof(*idx));
	int err = -ENOMEM;

	if (!perm || !sample || !idx)
		goto out_free;
	for (size_t r = 0; r < n_rows; r++)
		perm[r] = r;
	for (unsigned t = 0; t < f->info.trees; t++) {
		struct tree_builder b = {
			.sample = sample, .dim = dim,
			.height_limit = f->info.height_limit, .rng = &rng,
			.out = &f->nodes[f->info.nodes], .count = 0,
		};

		/* A partial Fisher-Yates shuffle: perm[0 .. psi) is a uniform
		 * sample without replacement whatever order perm was left in. */
		for (unsigned i = 0; i < psi; i++) {
			size_t j = i + rand_below(&rng, n_rows - i), tmp = perm[i];
			const double *src;

			perm[i] = perm[j];
			perm[j] = tmp;
			src = &rows[perm[i] * dim];
			for (unsigned q = 0; q < dim; q++)
				sample[(size_t)i * dim + q] =
					isfinite(src[q]) ? src[q] : f->medians[q];
			idx[i] = i;
		}
		grow(&b, idx, psi, 0);
		f->tree_start[t] = (uint32_t)f->info.nodes;
		f->tree_nodes[t] = b.count;
		f->info.nodes += b.count;
	}
	err = 0;
out_free:
	free(idx);
	free(sample);
	free(perm);
	return err;
}

struct st_iforest *st_iforest_train(const double *rows, size_t n_rows,
				    const struct st_iforest_schema *schema,
				    const struct st_iforest_params *params,
				    uint32_t model_version, uint64_t trained_at_ns)
{
	struct st_iforest *f;
	struct iforest_node *shrunk;
	unsigned psi;
	int err;

	if (!rows || !schema || !params || schema->dim == 0 ||
	    schema->dim > ST_IFOREST_DIM_MAX || params->trees == 0 ||
	    params->trees > ST_IFOREST_TREES_MAX ||
	    params->sample < ST_IFOREST_SAMPLE_MIN ||
	    params->sample > ST_IFOREST_SAMPLE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (n_rows < 2) {
		errno = ENODATA;
		return NULL;
	}
	psi = n_rows < params->sample ? (unsigned)n_rows : params->sample;
	f = iforest_alloc(params->trees, (uint64_t)params->trees * (2 * psi - 1));
	if (!f)
		return NULL;
	f->info = (struct st_iforest_info){
		.schema = *schema, .model_version = model_version,
		.trees = params->trees, .sample = psi,
		.height_limit = ceil_log2(psi), .rows = n_rows,
		.seed = params->seed, .trained_at_ns = trained_at_ns,
	};
	f->c_sample = st_iforest_c(psi);
	err = training_medians(rows, n_rows, schema->dim, f->medians);
	if (!err)
		err = grow_forest(f, rows, n_rows);
	if (err) {
		iforest_free(f);
		errno = -err;
		return NULL;
	}
	shrunk = realloc(f->nodes, f->info.nodes * sizeof(*f->nodes));
	if (shrunk)
		f->nodes = shrunk;
	return f;
}

/* --- references and accessors ----------------------------------------- */

struct st_iforest *st_iforest_ref(struct st_iforest *f)
{
	if (f)
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	return f;
}

void st_iforest_destroy(struct st_iforest *f)
{
	/* acq_rel: the freeing thread sees every other holder's last use. */
	if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
		iforest_free(f);
}

void st_iforest_info(const struct st_iforest *f, struct st_iforest_info *out)
{
	*out = f->info;
}

uint32_t st_iforest_version(const struct st_iforest *f)
{
	return f->info.model_version;
}

/* --- scoring ----------------------------------------------------------- */

double st_iforest_explain(const struct st_iforest *f, const double *x,
			  double *share)
{
	unsigned dim = f->info.schema.dim;
	double filled[ST_IFOREST_DIM_MAX], path_sum = 0.0, bits_sum = 0.0;

	for (unsigned q = 0; q < dim; q++) {
		filled[q] = isfinite(x[q]) ? x[q] : f->medians[q];
		if (share)
			share[q] = 0.0;
	}
	for (unsigned t = 0; t < f->info.trees; t++) {
		const struct iforest_node *tree = &f->nodes[f->tree_start[t]];
		uint32_t i = 0;
		unsigned depth = 0;

		while (tree[i].feature != ST_IFOREST_LEAF) {
			const struct iforest_node *node = &tree[i];

			i = filled[node->feature] < node->value ? i + 1 : node->right;
			if (share) {
				double bits = log2((double)node->rows / tree[i].rows);

				share[node->feature] += bits;
				bits_sum += bits;
			}
			depth++;
		}
		path_sum += depth + tree[i].value;
	}
	if (share && bits_sum > 0.0)
		for (unsigned q = 0; q < dim; q++)
			share[q] /= bits_sum;
	return exp2(-(path_sum / f->info.trees) / f->c_sample);
}

double st_iforest_score(const struct st_iforest *f, const double *x)
{
	return st_iforest_explain(f, x, NULL);
}

unsigned st_iforest_top_feature(const double *share, unsigned dim)
{
	unsigned top = 0;

	for (unsigned q = 1; q < dim; q++)
		if (share[q] > share[top])
			top = q;
	return top;
}

/* --- the model file ---------------------------------------------------- */

static uint64_t file_bytes(unsigned dim, unsigned trees, uint64_t nodes)
{
	return ST_IFOREST_HEADER_BYTES + 8ull * dim + 4ull * trees +
	       ST_IFOREST_NODE_BYTES * nodes + 8;
}

int st_iforest_encode(const struct st_iforest *f, uint8_t **buf, size_t *len)
{
	const struct st_iforest_info *in = &f->info;
	size_t total = (size_t)file_bytes(in->schema.dim, in->trees, in->nodes);
	uint8_t *out = calloc(1, total), *p;

	if (!out)
		return -ENOMEM;
	memcpy(out, iforest_magic, sizeof(iforest_magic));
	put_le32(out + 8, ST_IFOREST_FORMAT);
	put_le32(out + 12, in->model_version);
	put_le64(out + 16, in->trained_at_ns);
	put_le64(out + 24, in->rows);
	put_le64(out + 32, in->seed);
	put_le32(out + 40, in->schema.features_version);
	put_le32(out + 44, in->schema.dim);
	put_le64(out + 48, in->schema.names_hash);
	put_le32(out + 56, in->trees);
	put_le32(out + 60, in->sample);
	put_le32(out + 64, in->height_limit);
	put_le64(out + 72, in->nodes);
	p = out + ST_IFOREST_HEADER_BYTES;
	for (unsigned q = 0; q < in->schema.dim; q++, p += 8)
		put_f64(p, f->medians[q]);
	for (unsigned t = 0; t < in->trees; t++, p += 4)
		put_le32(p, f->tree_nodes[t]);
	for (uint64_t i = 0; i < in->nodes; i++, p += ST_IFOREST_NODE_BYTES) {
		const struct iforest_node *node = &f->nodes[i];

		put_le16(p, node->feature);
		put_le32(p + 4, node->rows);
		put_f64(p + 8, node->feature == ST_IFOREST_LEAF ? 0.0 : node->value);
	}
	put_le64(p, XXH3_64bits(out, total - 8));
	*buf = out;
	*len = total;
	return 0;
}

__attribute__((format(printf, 3, 4)))
static void say_why(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* A loaded tree being checked: its file bytes and its in-memory nodes. */
struct tree_parse {
	const uint8_t *file_nodes;   /* this tree's first node in the file */
	struct iforest_node *nodes;  /* this tree's first node in memory */
	uint32_t count;
	unsigned dim;
	unsigned height_limit;
};

/*
 * Parses the subtree at node i, depth `depth`; returns the index past it,
 * or UINT32_MAX when it is inconsistent (file head).  Recursion depth is at
 * most height_limit + 1 <= 17.
 */
static uint32_t parse_subtree(struct tree_parse *tp, uint32_t i, unsigned depth)
{
	const uint8_t *raw;
	struct iforest_node *node;
	uint32_t left_end, end;

	if (i >= tp->count)
		return UINT32_MAX;
	raw = tp->file_nodes + (size_t)i * ST_IFOREST_NODE_BYTES;
	node = &tp->nodes[i];
	node->feature = get_le16(raw);
	node->rows = get_le32(raw + 4);
	node->value = get_f64(raw + 8);
	if (get_le16(raw + 2) != 0 || node->rows == 0 || !isfinite(node->value))
		return UINT32_MAX;
	if (node->feature == ST_IFOREST_LEAF) {
		if (get_le64(raw + 8) != 0)
			return UINT32_MAX;
		node->value = st_iforest_c(node->rows);
		return i + 1;
	}
	if (node->feature >= tp->dim || depth >= tp->height_limit || node->rows < 2)
		return UINT32_MAX;
	left_end = parse_subtree(tp, i + 1, depth + 1);
	if (left_end == UINT32_MAX)
		return UINT32_MAX;
	end = parse_subtree(tp, left_end, depth + 1);
	if (end == UINT32_MAX ||
	    (uint64_t)tp->nodes[i + 1].rows + tp->nodes[left_end].rows != node->rows)
		return UINT32_MAX;
	node->right = left_end;
	return end;
}

/* Header fields in range and the length they imply; 0 or -EBADMSG. */
static int check_header(const uint8_t *buf, size_t len, struct st_iforest_info *in,
			char *why, size_t why_len)
{
	*in = (struct st_iforest_info){
		.model_version = get_le32(buf + 12),
		.trained_at_ns = get_le64(buf + 16),
		.rows = get_le64(buf + 24),
		.seed = get_le64(buf + 32),
		.schema = { get_le32(buf + 40), get_le32(buf + 44), get_le64(buf + 48) },
		.trees = get_le32(buf + 56),
		.sample = get_le32(buf + 60),
		.height_limit = get_le32(buf + 64),
		.nodes = get_le64(buf + 72),
	};
	if (get_le32(buf + 68) != 0) {
		say_why(why, why_len, "reserved header bytes are not zero");
		return -EBADMSG;
	}
	if (in->schema.dim == 0 || in->schema.dim > ST_IFOREST_DIM_MAX ||
	    in->trees == 0 || in->trees > ST_IFOREST_TREES_MAX ||
	    in->sample < ST_IFOREST_SAMPLE_MIN || in->sample > ST_IFOREST_SAMPLE_MAX ||
	    in->sample > in->rows || in->height_limit != ceil_log2(in->sample) ||
	    in->nodes < in->trees ||
	    in->nodes > (uint64_t)in->trees * (2 * in->sample - 1)) {
		say_why(why, why_len, "header out of range (dim %u, trees %u, "
			"sample %u, height limit %u, nodes %llu)", in->schema.dim,
			in->trees, in->sample, in->height_limit,
			(unsigned long long)in->nodes);
		return -EBADMSG;
	}
	if (file_bytes(in->schema.dim, in->trees, in->nodes) != len) {
		say_why(why, why_len, "file is %zu bytes, its header says %llu", len,
			(unsigned long long)file_bytes(in->schema.dim, in->trees,
						       in->nodes));
		return -EBADMSG;
	}
	return 0;
}

/* Medians, node counts and every tree into f; 0 or -EBADMSG. */
static int parse_body(struct st_iforest *f, const uint8_t *buf, char *why,
		      size_t why_len)
{
	const struct st_iforest_info *in = &f->info;
	const uint8_t *p = buf + ST_IFOREST_HEADER_BYTES;
	const uint8_t *counts = p + 8ull * in->schema.dim;
	const uint8_t *file_nodes = counts + 4ull * in->trees;
	uint64_t base = 0;

	for (unsigned q = 0; q < in->schema.dim; q++)
		if (!isfinite(f->medians[q] = get_f64(p + 8ull * q))) {
			say_why(why, why_len, "median of feature %u is not finite", q);
			return -EBADMSG;
		}
	for (unsigned t = 0; t < in->trees; t++) {
		uint32_t count = get_le32(counts + 4ull * t);
		struct tree_parse tp = {
			.file_nodes = file_nodes + base * ST_IFOREST_NODE_BYTES,
			.nodes = &f->nodes[base], .count = count,
			.dim = in->schema.dim, .height_limit = in->height_limit,
		};

		if (count == 0 || count > 2 * in->sample - 1 ||
		    count > in->nodes - base) {
			say_why(why, why_len, "tree %u: %u nodes", t, count);
			return -EBADMSG;
		}
		if (parse_subtree(&tp, 0, 0) != count || f->nodes[base].rows != in->sample) {
			say_why(why, why_len, "tree %u is inconsistent", t);
			return -EBADMSG;
		}
		f->tree_start[t] = (uint32_t)base;
		f->tree_nodes[t] = count;
		base += count;
	}
	if (base != in->nodes) {
		say_why(why, why_len, "trees hold %llu nodes, the header says %llu",
			(unsigned long long)base, (unsigned long long)in->nodes);
		return -EBADMSG;
	}
	return 0;
}

static bool schema_equal(const struct st_iforest_schema *a,
			 const struct st_iforest_schema *b)
{
	return a->features_version == b->features_version && a->dim == b->dim &&
	       a->names_hash == b->names_hash;
}

struct st_iforest *st_iforest_decode(const uint8_t *buf, size_t len,
				     const struct st_iforest_schema *expect,
				     char *why, size_t why_len)
{
	struct st_iforest_info in;
	struct st_iforest *f;
	int err;

	say_why(why, why_len, "ok");
	if (!buf && len > 0) {
		errno = EINVAL;
		return NULL;
	}
	if (len < ST_IFOREST_HEADER_BYTES + 8 ||
	    memcmp(buf, iforest_magic, sizeof(iforest_magic)) != 0) {
		say_why(why, why_len, "not a shadowtap isolation-forest model");
		errno = EBADMSG;
		return NULL;
	}
	if (get_le32(buf + 8) != ST_IFOREST_FORMAT) {
		say_why(why, why_len, "model format %u, this build reads %u",
			get_le32(buf + 8), ST_IFOREST_FORMAT);
		errno = ENOTSUP;
		return NULL;
	}
	if (XXH3_64bits(buf, len - 8) != get_le64(buf + len - 8)) {
		say_why(why, why_len, "checksum mismatch: the file is damaged");
		errno = EBADMSG;
		return NULL;
	}
	err = check_header(buf, len, &in, why, why_len);
	if (err) {
		errno = -err;
		return NULL;
	}
	f = iforest_alloc(in.trees, in.nodes);
	if (!f)
		return NULL;
	f->info = in;
	f->c_sample = st_iforest_c(in.sample);
	err = parse_body(f, buf, why, why_len);
	if (!err && expect && !schema_equal(expect, &in.schema)) {
		say_why(why, why_len, "feature schema changed: the model has "
			"version %u, %u features, names %016llx; expected version "
			"%u, %u features, names %016llx (retrain)",
			in.schema.features_version, in.schema.dim,
			(unsigned long long)in.schema.names_hash,
			expect->features_version, expect->dim,
			(unsigned long long)expect->names_hash);
		err = -ESTALE;
	}
	if (err) {
		iforest_free(f);
		errno = -err;
		return NULL;
	}
	return f;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync(2) of the directory holding `path`, so that a rename is durable. */
static int sync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, err = 0;

	if (!slash) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		if ((size_t)(slash - path) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		err = -errno;
	close(fd);
	return err;
}

int st_iforest_save(const struct st_iforest *f, const char *path)
{
	char tmp[PATH_MAX];
	uint8_t *buf;
	size_t len;
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	err = st_iforest_encode(f, &buf, &len);
	if (err)
		return err;
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		goto out_free;
	}
	err = write_all(fd, buf, len);
	if (!err && fsync(fd) != 0)
		err = -errno;
	if (close(fd) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	if (err)
		goto out_unlink;
	err = sync_parent(path);
	goto out_free;
out_unlink:
	unlink(tmp);
out_free:
	free(buf);
	return err;
}

struct st_iforest *st_iforest_load(const char *path,
				   const struct st_iforest_schema *expect,
				   char *why, size_t why_len)
{
	const uint64_t max_bytes = file_bytes(ST_IFOREST_DIM_MAX, ST_IFOREST_TREES_MAX,
		(uint64_t)ST_IFOREST_TREES_MAX * (2 * ST_IFOREST_SAMPLE_MAX - 1));
	struct st_iforest *f = NULL;
	uint8_t *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		say_why(why, why_len, "%s: %s", path, strerror(err));
		errno = err;
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		err = errno;
		goto out_close;
	}
	if ((uint64_t)st.st_size > max_bytes) {
		err = EFBIG;
		goto out_close;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		err = ENOMEM;
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EBADMSG;
			goto out_close;
		}
		got += (size_t)n;
	}
	f = st_iforest_decode(buf, got, expect, why, why_len);
	if (!f)
		err = errno;
out_close:
	if (err && !f && why && why_len && err != EBADMSG && err != ESTALE &&
	    err != ENOTSUP)
		say_why(why, why_len, "%s: %s", path, strerror(err));
	free(buf);
	close(fd);
	errno = err;
	return f;
}
