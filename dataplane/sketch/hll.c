/*
 * HyperLogLog distinct counting (API and thread rules in hll.h).
 *
 * Estimator: Otmar Ertl, "New cardinality estimation algorithms for
 * HyperLogLog sketches", arXiv:1702.01284 (2017), the "improved raw
 * estimator" (his Algorithm 6).  With C[k] the number of registers holding
 * k, k = 0..q+1,
 *
 *   E = alpha_inf m^2 / (m sigma(C[0]/m) + sum_{k=1..q} C[k] 2^-k
 *                        + m tau(1 - C[q+1]/m) 2^-q),  alpha_inf = 1/(2 ln 2)
 *
 * sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1) corrects the small range (it
 * takes over from linear counting), tau(x) = (1/3)(1 - x - sum_{k>=1}
 * (1 - x^(2^-k))^2 2^-k) corrects the large range (registers saturated at
 * q+1).  Both series are summed until the double stops changing.  No
 * empirical bias tables and no switch-over thresholds: one formula from 0 to
 * beyond 2^64.  The relative standard error is about 1.04/sqrt(m); the
 * bounds use exactly that figure.
 *
 * Hash split (64-bit hash, p index bits, q = 64 - p rank bits):
 *   index = the top p bits, hash >> q;
 *   rank  = number of leading zeros of the low q bits, plus one, so 1..q+1.
 * The update shifts the low q bits to the top and ORs in a stop bit at
 * position p-1, so count-leading-zeros never exceeds q and never sees zero:
 * the cap at q+1 costs no branch.
 *
 * Registers are one byte each (values 0..q+1 <= 55) so that merge is a
 * byte-wise max: a scalar reference and AVX2 / AVX-512BW kernels
 * (hll_simd.h), chosen by st_cpu_simd_level().  The register histogram for
 * the estimator stays scalar: it runs once per estimate, not per record, and
 * 56 bins do not map onto byte lanes without one compare per bin.
 *
 * Serialized form (after the 16-byte blob header, kind ST_SKETCH_HLL,
 * version 1, hashed: hash id and seed are those of hash.h), little-endian:
 *   off size
 *     0    1 precision p (10..16)
 *     1    7 reserved, must be 0
 *     8  2^p registers, each 0..65-p, register i at offset 8 + i
 * Total blob length 16 + 8 + 2^p bytes.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/compiler.h"
#include "dataplane/cpu.h"
#include "dataplane/sketch/blob.h"
#include "dataplane/sketch/hll.h"
#include "dataplane/sketch/hll_simd.h"

#define HLL_BLOB_VERSION 1
#define HLL_PAYLOAD_HDR_BYTES 8u
#define HLL_RSE_FACTOR 1.04

struct st_hll {
	uint8_t p;
	uint8_t q;            /* 64 - p: rank bits, and the index shift */
	uint64_t stop_bit;    /* 1 << (p - 1): caps the rank at q + 1 */
	uint8_t regs[] ST_CACHE_ALIGNED;
};

static size_t hll_blob_bytes(unsigned p)
{
	return ST_SKETCH_BLOB_HDR_BYTES + HLL_PAYLOAD_HDR_BYTES + ((size_t)1 << p);
}

struct st_hll *st_hll_create(unsigned p)
{
	struct st_hll *h;
	size_t m;

	if (p < ST_HLL_P_MIN || p > ST_HLL_P_MAX) {
		errno = EINVAL;
		return NULL;
	}
	m = (size_t)1 << p;
	/* sizeof is a multiple of the alignment, and so is m. */
	h = aligned_alloc(ST_CACHE_LINE, sizeof(*h) + m);
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	h->p = (uint8_t)p;
	h->q = (uint8_t)(64 - p);
	h->stop_bit = 1ull << (p - 1);
	memset(h->regs, 0, m);
	return h;
}

void st_hll_destroy(struct st_hll *h)
{
	free(h);
}

void st_hll_reset(struct st_hll *h)
{
	memset(h->regs, 0, (size_t)1 << h->p);
}

void st_hll_update(struct st_hll *h, uint64_t hash)
{
	size_t idx = hash >> h->q;
	uint8_t rank = (uint8_t)(__builtin_clzll((hash << h->p) | h->stop_bit) + 1);
	uint8_t old = h->regs[idx];

	h->regs[idx] = old > rank ? old : rank;
}

/* sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), for 0 <= x < 1. */
static double hll_sigma(double x)
{
	double weight = 1.0, sum = x, prev;

	do {
		x *= x;
		prev = sum;
		sum += x * weight;
		weight += weight;
	} while (sum != prev);
	return sum;
}

/* tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, for 0 <= x <= 1. */
static double hll_tau(double x)
{
	double weight = 1.0, sum, prev;

	if (x == 0.0 || x == 1.0)
		return 0.0;
	sum = 1.0 - x;
	do {
		x = sqrt(x);
		prev = sum;
		weight *= 0.5;
		sum -= (1.0 - x) * (1.0 - x) * weight;
	} while (sum != prev);
	return sum / 3.0;
}

double st_hll_estimate(const struct st_hll *h)
{
	/* One bin per byte value: no index can leave it, whatever the bytes. */
	uint32_t hist[256] = { 0 };
	size_t m = (size_t)1 << h->p;
	double md = (double)m, z;

	for (size_t i = 0; i < m; i++)
		hist[h->regs[i]]++;
	if (hist[0] == m)
		return 0.0;  /* sigma(1) is infinite: the empty sketch */

	/* Horner form of the denominator, from the top register value down. */
	z = md * hll_tau(1.0 - hist[h->q + 1] / md);
	for (unsigned k = h->q; k >= 1; k--)
		z = 0.5 * (z + hist[k]);
	z += md * hll_sigma(hist[0] / md);
	if (z == 0.0)
		return INFINITY;  /* every register saturated at q + 1 */
	return md * md / (2.0 * M_LN2 * z);
}

static double hll_rse(const struct st_hll *h)
{
	return HLL_RSE_FACTOR / sqrt((double)((size_t)1 << h->p));
}

double st_hll_lower_bound(const struct st_hll *h, double num_sigma)
{
	double lo = st_hll_estimate(h) * (1.0 - num_sigma * hll_rse(h));

	return lo > 0.0 ? lo : 0.0;
}

double st_hll_upper_bound(const struct st_hll *h, double num_sigma)
{
	return st_hll_estimate(h) * (1.0 + num_sigma * hll_rse(h));
}

int st_hll_merge(struct st_hll *dst, const struct st_hll *src)
{
	size_t m = (size_t)1 << dst->p;

	if (dst->p != src->p)
		return -EINVAL;
	/*
	 * The level is fixed before main (cpu.c); asking it here rather than
	 * caching it in a constructor of our own avoids depending on the
	 * order in which the two constructors run.
	 */
	switch (st_cpu_simd_level()) {
	case ST_SIMD_AVX512:
		st_hll_merge_avx512(dst->regs, src->regs, m);
		break;
	case ST_SIMD_AVX2:
		st_hll_merge_avx2(dst->regs, src->regs, m);
		break;
	default:
		st_hll_merge_scalar(dst->regs, src->regs, m);
		break;
	}
	return 0;
}

void st_hll_merge_scalar(uint8_t *dst, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = dst[i] > src[i] ? dst[i] : src[i];
}

unsigned st_hll_precision(const struct st_hll *h)
{
	return h->p;
}

const uint8_t *st_hll_registers(const struct st_hll *h)
{
	return h->regs;
}

size_t st_hll_memory_bytes(const struct st_hll *h)
{
	return sizeof(*h) + ((size_t)1 << h->p);
}

size_t st_hll_serialized_size(const struct st_hll *h)
{
	return hll_blob_bytes(h->p);
}

ssize_t st_hll_serialize(const struct st_hll *h, void *buf, size_t cap)
{
	size_t len = hll_blob_bytes(h->p);
	uint8_t *payload = (uint8_t *)buf + ST_SKETCH_BLOB_HDR_BYTES;

	if (cap < len)
		return -ENOSPC;
	st_blob_put_hdr(buf, ST_SKETCH_HLL, HLL_BLOB_VERSION, true, (uint32_t)len);
	payload[0] = h->p;
	memset(payload + 1, 0, HLL_PAYLOAD_HDR_BYTES - 1);
	memcpy(payload + HLL_PAYLOAD_HDR_BYTES, h->regs, (size_t)1 << h->p);
	return (ssize_t)len;
}

/* The largest byte of regs[0..m); validation only, not a hot path. */
static uint8_t hll_max_register(const uint8_t *regs, size_t m)
{
	uint8_t max = 0;

	for (size_t i = 0; i < m; i++)
		max = regs[i] > max ? regs[i] : max;
	return max;
}

static int hll_check_blob(const uint8_t *buf, size_t len, const char **why)
{
	const uint8_t *payload = buf + ST_SKETCH_BLOB_HDR_BYTES;
	unsigned p;
	int err;

	err = st_blob_check_hdr(buf, len, ST_SKETCH_HLL, HLL_BLOB_VERSION, true, why);
	if (err)
		return err;
	if (len < ST_SKETCH_BLOB_HDR_BYTES + HLL_PAYLOAD_HDR_BYTES)
		return *why = "hll blob shorter than its payload header", -EINVAL;
	p = payload[0];
	if (p < ST_HLL_P_MIN || p > ST_HLL_P_MAX)
		return *why = "hll precision out of range", -EINVAL;
	for (unsigned i = 1; i < HLL_PAYLOAD_HDR_BYTES; i++)
		if (payload[i] != 0)
			return *why = "hll reserved byte not zero", -EINVAL;
	if (len != hll_blob_bytes(p))
		return *why = "hll blob length is not that of 2^p registers", -EINVAL;
	if (hll_max_register(payload + HLL_PAYLOAD_HDR_BYTES, (size_t)1 << p) > 65 - p)
		return *why = "hll register above 65 - p", -EINVAL;
	return 0;
}

int st_hll_validate(const void *buf, size_t len, const char **why)
{
	const char *reason = NULL;
	int err = hll_check_blob(buf, len, &reason);

	if (why)
		*why = reason;
	return err;
}

struct st_hll *st_hll_deserialize(const void *buf, size_t len, const char **why)
{
	const uint8_t *payload = (const uint8_t *)buf + ST_SKETCH_BLOB_HDR_BYTES;
	struct st_hll *h;

	if (st_hll_validate(buf, len, why)) {
		errno = EINVAL;
		return NULL;
	}
	h = st_hll_create(payload[0]);
	if (!h)
		return NULL;
	memcpy(h->regs, payload + HLL_PAYLOAD_HDR_BYTES, (size_t)1 << h->p);
	return h;
}
