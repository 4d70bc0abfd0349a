/*
 * Fuzz target: the isolation-forest model loader (st_iforest_decode) on
 * arbitrary bytes, twice per input: as given, and with its last 8 bytes
 * replaced by the correct XXH3-64 of the rest, so that the fuzzer reaches
 * the structural checks behind the checksum.
 *
 * Invariants (abort() when violated):
 *   - a refused input sets errno to EBADMSG or ENOTSUP (never a
 *     crash, never another reason) and a non-empty reason;
 *   - an input accepted as given carries the correct checksum (computed
 *     here, per the layout in iforest.h);
 *   - an accepted model is consistent, checked here against the layout
 *     with a walk written independently of the loader: sizes match, every
 *     tree parses in preorder to exactly its node count, inner rows are
 *     the children's sum, features < dim, depth <= height limit, root
 *     rows = sample;
 *   - its scores are in (0, 1], its explanation shares sum to 1 or are 0,
 *     and encoding it again gives back the input bytes.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "control/models/iforest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

struct walk {
	const uint8_t *nodes;
	uint32_t count, dim, limit;
};

/* Independent preorder walk; returns the index past the subtree or aborts. */
static uint32_t walk_tree(const struct walk *w, uint32_t i, uint32_t depth,
			  uint32_t *rows)
{
	const uint8_t *n;
	uint32_t left_rows, right_rows, next;

	CHECK(i < w->count && depth <= w->limit);
	n = w->nodes + 16ull * i;
	*rows = le32(n + 4);
	CHECK(*rows >= 1 && n[2] == 0 && n[3] == 0);
	if ((n[0] | n[1] << 8) == 0xffff)
		return i + 1;
	CHECK((uint32_t)(n[0] | n[1] << 8) < w->dim);
	next = walk_tree(w, i + 1, depth + 1, &left_rows);
	next = walk_tree(w, next, depth + 1, &right_rows);
	CHECK((uint64_t)left_rows + right_rows == *rows);
	return next;
}

static void check_accepted(const uint8_t *buf, size_t len, struct st_iforest *f)
{
	struct st_iforest_info in;
	uint32_t dim = le32(buf + 44), trees = le32(buf + 56);
	uint64_t nodes = le64(buf + 72), base = 0;
	const uint8_t *counts = buf + 80 + 8ull * dim;
	double x[ST_IFOREST_DIM_MAX], share[ST_IFOREST_DIM_MAX];
	uint8_t *again;
	size_t again_len;

	CHECK(XXH3_64bits(buf, len - 8) == le64(buf + len - 8));
	st_iforest_info(f, &in);
	CHECK(in.schema.dim == dim && dim >= 1 && dim <= ST_IFOREST_DIM_MAX);
	CHECK(in.trees == trees && trees >= 1 && in.nodes == nodes);
	CHECK(len == 80 + 8ull * dim + 4ull * trees + 16 * nodes + 8);
	for (uint32_t t = 0; t < trees; t++) {
		struct walk w = {
			.nodes = counts + 4ull * trees + 16 * base,
			.count = le32(counts + 4ull * t), .dim = dim,
			.limit = in.height_limit,
		};
		uint32_t root_rows;

		CHECK(w.count >= 1 && base + w.count <= nodes);
		CHECK(walk_tree(&w, 0, 0, &root_rows) == w.count);
		CHECK(root_rows == in.sample);
		base += w.count;
	}
	CHECK(base == nodes);
	for (int probe = 0; probe < 3; probe++) {
		double sum = 0, score;

		for (uint32_t q = 0; q < dim; q++)
			x[q] = probe == 0 ? 0.0 : probe == 1 ? NAN : (double)q * 1e6 - 3;
		score = st_iforest_explain(f, x, share);
		CHECK(score > 0 && score <= 1);
		for (uint32_t q = 0; q < dim; q++) {
			CHECK(share[q] >= 0);
			sum += share[q];
		}
		CHECK(sum == 0 || fabs(sum - 1) < 1e-9);
	}
	CHECK(st_iforest_encode(f, &again, &again_len) == 0);
	CHECK(again_len == len && memcmp(again, buf, len) == 0);
	free(again);
}

static void decode_one(const uint8_t *buf, size_t len)
{
	char why[200];
	struct st_iforest *f;

	why[0] = '\0';
	errno = 0;
	f = st_iforest_decode(buf, len, NULL, why, sizeof(why));
	if (!f) {
		CHECK(errno == EBADMSG || errno == ENOTSUP);
		CHECK(why[0] != '\0');
		return;
	}
	check_accepted(buf, len, f);
	st_iforest_destroy(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *sealed;
	uint64_t sum;

	decode_one(data, size);
	if (size < 8)
		return 0;
	sealed = malloc(size);
	if (!sealed)
		return 0;
	memcpy(sealed, data, size);
	sum = XXH3_64bits(sealed, size - 8);
	for (int i = 0; i < 8; i++)
		sealed[size - 8 + i] = (uint8_t)(sum >> (8 * i));
	decode_one(sealed, size);
	free(sealed);
	return 0;
}
