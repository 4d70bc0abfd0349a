/*
 * Isolation forest: the multivariate model of a stream's feature vectors,
 * after Liu, Ting and Zhou, "Isolation Forest", ICDM 2008.
 *
 * Training (paper, Algorithms 1 and 2): each of t trees is grown on ψ rows
 * drawn without replacement (ψ = min(sample, rows)); a node picks a feature
 * q and a split p uniform in (min q, max q) of the node's rows, sends x[q] <
 * p left and the rest right, and stops at one row, at identical rows, or at
 * the height limit ceil(log2 ψ).  Scoring (section 3): h(x) is the depth of
 * the leaf x reaches plus c(size of that leaf); s(x) = 2^(-E[h(x)] / c(ψ)),
 * with c(n) = 2 H(n-1) - 2 (n-1) / n, H(i) ~ ln(i) + 0.5772156649 (the
 * paper's estimate), c(2) = 1, c(n <= 1) = 0.  s is in (0, 1]: near 1
 * anomalous, at or below 0.5 ordinary.
 *
 * Where this deviates from the paper:
 *   - q is drawn uniformly among the features that are not constant over
 *     the node's rows (the paper draws among all; a constant feature cannot
 *     split).  A node where every feature is constant is a leaf.
 *   - No standardisation.  Splits are uniform between a node's min and max,
 *     so the forest is the same, in distribution, under any per-feature
 *     affine map; scaling the features would change nothing.
 *   - Missing values.  A value that is not finite (NaN: the caller's
 *     "missing", see st_iforest_row_from_features) stands for the training
 *     median of its feature, in training and in scoring alike; a feature
 *     missing in every training row has median 0.
 *   - Explanation.  st_iforest_explain() credits, in every tree, each split
 *     on x's path to its feature with log2(n / m) bits: n training rows at
 *     the node, m of them on x's side.  So a split that cuts x away from most
 *     of its node (which happens near the root for an outlier along that
 *     feature) weighs most; the bits of a tree add up to log2(ψ / leaf size).
 *     The shares over the forest sum to 1.
 *
 * Randomness: splitmix64 seeded from params.seed; the same rows, params and
 * seed give the same forest, bit for bit, on any host.
 *
 * Model file (little-endian; st_iforest_encode/st_iforest_save):
 *
 *   off size field
 *     0    8 magic            "STIFRST\0"
 *     8    4 format           ST_IFOREST_FORMAT (1)
 *    12    4 model_version    the trainer's counter, 1 for the first model
 *    16    8 trained_at_ns    wall clock at training, ns since the Unix epoch
 *    24    8 rows             training rows the sample was drawn from
 *    32    8 seed             the seed it was trained with
 *    40    4 features_version ST_FEATURES_VERSION of the vector (schema)
 *    44    4 dim              features per row, 1..ST_IFOREST_DIM_MAX (schema)
 *    48    8 names_hash       st_iforest_schema_init()'s hash of the names (schema)
 *    56    4 trees            1..ST_IFOREST_TREES_MAX
 *    60    4 sample           ψ, 2..ST_IFOREST_SAMPLE_MAX, <= rows
 *    64    4 height_limit     ceil(log2 ψ)
 *    68    4 reserved         0
 *    72    8 nodes            nodes of all trees together
 *    80   8d medians          f64 per feature, finite
 *     .   4t node counts      per tree, 1..2ψ-1, summing to `nodes`
 *     .  16n nodes            per tree in preorder (node, left subtree, right
 *                             subtree), each: u16 feature (0xffff: leaf),
 *                             u16 reserved 0, u32 rows at the node, f64 split
 *                             (finite; 0 in a leaf)
 *   end-8  8 checksum         XXH3-64 (seed 0) of every byte before it
 *
 * A tree is consistent when its preorder parse uses exactly its node count,
 * the root holds ψ rows, an inner node's rows are its children's sum (each
 * child >= 1), no leaf lies deeper than height_limit, and every feature is
 * < dim.  The loader checks all of that, the sizes and the checksum, and
 * refuses anything else; the schema is compared separately so that a
 * changed feature vector is named as such.
 *
 * Thread safety: a forest is immutable once built or loaded; any number of
 * threads may score it at once.  It is reference counted (st_iforest_ref,
 * st_iforest_destroy) so that a trainer can publish a new one while scorers
 * finish with the old one.
 */
#ifndef ST_CONTROL_MODELS_IFOREST_H
#define ST_CONTROL_MODELS_IFOREST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/features/features.h"

#define ST_IFOREST_FORMAT 1u
#define ST_IFOREST_DIM_MAX 64u
#define ST_IFOREST_TREES_MAX 1000u
#define ST_IFOREST_SAMPLE_MIN 2u
#define ST_IFOREST_SAMPLE_MAX 65536u
#define ST_IFOREST_HEADER_BYTES 80u
#define ST_IFOREST_NODE_BYTES 16u
#define ST_IFOREST_LEAF 0xffffu

/* What the rows are: checked on load against what the caller expects. */
struct st_iforest_schema {
	uint32_t features_version;   /* ST_FEATURES_VERSION for st_features rows */
	uint32_t dim;                /* values per row */
	uint64_t names_hash;         /* see st_iforest_schema_init() */
};

struct st_iforest_params {
	unsigned trees;              /* 1..ST_IFOREST_TREES_MAX (config iforest_trees) */
	unsigned sample;             /* ψ, ST_IFOREST_SAMPLE_MIN..MAX (config iforest_sample) */
	uint64_t seed;
};

/* What a forest says about itself. */
struct st_iforest_info {
	struct st_iforest_schema schema;
	uint32_t model_version;
	unsigned trees;
	unsigned sample;             /* ψ actually used: min(params.sample, rows) */
	unsigned height_limit;
	uint64_t rows;
	uint64_t seed;
	uint64_t trained_at_ns;
	uint64_t nodes;
};

struct st_iforest;

/*
 * Fills *schema from the vector's version and the names of its dim
 * features, in order (the caller passes st_feature_name(0..ST_FEAT_COUNT-1)
 * for st_features rows).  names_hash is XXH3-64 (seed 0) over, per name,
 * its length as a little-endian u32 then its bytes, so ("ab","c") and
 * ("a","bc") differ.  Returns 0, or -EINVAL (schema or names NULL, a name
 * NULL, dim 0 or > ST_IFOREST_DIM_MAX).  Any thread.
 */
int st_iforest_schema_init(struct st_iforest_schema *schema,
			   uint32_t features_version, const char *const *names,
			   unsigned dim);

/*
 * The paper's average path length of an unsuccessful BST search among n
 * points, c(n) (see the file head); 0 for n <= 1.  Any thread.
 */
double st_iforest_c(double n);

/*
 * One st_features as a row: v[i], or NAN where bit i of `missing` is set.
 * `row` holds ST_FEAT_COUNT doubles.  Any thread.
 */
void st_iforest_row_from_features(const struct st_features *f,
				  double row[ST_FEAT_COUNT]);

/*
 * Trains a forest on rows[0 .. n_rows * schema->dim), row-major, a value
 * that is not finite being missing.  model_version and trained_at_ns are
 * recorded as given.  Deterministic in (rows, schema, params).  Returns the
 * forest (one reference, the caller's: st_iforest_destroy), or NULL with
 * errno EINVAL (NULL argument, params or schema->dim out of range), ENODATA
 * (fewer than 2 rows), ENOMEM.  Memory: O(n_rows + trees * ψ) during
 * training, trees * (2ψ - 1) * 16 bytes at most for the forest.  Any thread;
 * reads rows only.
 */
struct st_iforest *st_iforest_train(const double *rows, size_t n_rows,
				    const struct st_iforest_schema *schema,
				    const struct st_iforest_params *params,
				    uint32_t model_version, uint64_t trained_at_ns);

/* Takes one more reference; returns f (NULL stays NULL).  Any thread. */
struct st_iforest *st_iforest_ref(struct st_iforest *f);

/*
 * Drops one reference; the last one frees the forest.  NULL is a no-op.
 * Any thread, once per reference held.
 */
void st_iforest_destroy(struct st_iforest *f);

/* Copies what the forest says about itself into *out.  Any thread. */
void st_iforest_info(const struct st_iforest *f, struct st_iforest_info *out);

/* Its model version (the signal's model_version).  Any thread. */
uint32_t st_iforest_version(const struct st_iforest *f);

/*
 * Anomaly score of one row x[0 .. dim) (non-finite = missing) in (0, 1].
 * No allocation, no lock, no syscall: O(trees * height_limit).  Any thread.
 */
double st_iforest_score(const struct st_iforest *f, const double *x);

/*
 * The score as above, and in share[0 .. dim) each feature's share of the
 * isolation of x (see the file head), summing to 1 (all 0 when no tree
 * split x at all).  Returns the score.  Any thread.
 */
double st_iforest_explain(const struct st_iforest *f, const double *x,
			  double *share);

/* The index of the largest share in share[0 .. dim) (the lowest on a tie). */
unsigned st_iforest_top_feature(const double *share, unsigned dim);

/*
 * The model file's bytes (file head) in a new buffer the caller frees
 * (free(3)).  Returns 0 with *buf, *len set, or -ENOMEM.  Any thread.
 */
int st_iforest_encode(const struct st_iforest *f, uint8_t **buf, size_t *len);

/*
 * Parses a model file held in buf[0 .. len).  When `expect` is not NULL,
 * the file's schema must equal it.  Returns a forest (one reference, the
 * caller's) or NULL with errno:
 *   EBADMSG  not a model file, a size or count out of range, a checksum
 *            mismatch, an inconsistent tree, a reserved byte not 0;
 *   ENOTSUP  a format other than ST_IFOREST_FORMAT;
 *   ESTALE   a valid model of another feature schema (version, dim or
 *            names differ): it must be retrained, not used;
 *   EINVAL   buf NULL with len > 0; ENOMEM.
 * `why` (when why_len > 0) receives one line saying what was wrong.  Never
 * reads outside buf.  Any thread.
 */
struct st_iforest *st_iforest_decode(const uint8_t *buf, size_t len,
				     const struct st_iforest_schema *expect,
				     char *why, size_t why_len);

/*
 * Writes the model file to `path` atomically: a temporary file in the same
 * directory, written, fsync(2)ed, rename(2)d over path, then the directory
 * fsync(2)ed; a reader sees the old file or the new one, never a mix, even
 * across a crash.  Returns 0 or -errno (open, write, fsync, rename; ENOMEM;
 * ENAMETOOLONG).  The temporary file is removed on failure.  Any thread;
 * two writers of one path at once each leave a whole file (the last wins).
 */
int st_iforest_save(const struct st_iforest *f, const char *path);

/*
 * Reads and decodes the model file at `path` (see st_iforest_decode; also
 * the errno of open/read, and EFBIG for a file larger than any valid
 * model).  Any thread.
 */
struct st_iforest *st_iforest_load(const char *path,
				   const struct st_iforest_schema *expect,
				   char *why, size_t why_len);

#endif
