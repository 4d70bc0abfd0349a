/*
 * libFuzzer target for the control socket's request decoder
 * (shadowtap/ctl.h): the bytes a client sends, as shadowtap-cp's server
 * reads them: a header, then the body it announces.
 *
 * Invariants (abort on violation): the header decoder returns only its
 * documented codes and never accepts a body longer than the maximum; the
 * request decoder returns only its documented codes; an accepted request
 * is well-formed (type in range, count in range, a PROFILE stream name of
 * 1..63 bytes) and survives encode -> decode unchanged.
 *
 * Seeds: tests/fuzz/cp/ctl_seeds.c (fuzz-seeds-ctl) writes valid requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadowtap/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct st_ctl_request *r)
{
	uint8_t out[ST_CTL_HDR_BYTES + ST_CTL_REQUEST_BODY_MAX];
	struct st_ctl_request again;
	struct st_ctl_msg m;
	char err[256];
	long len = st_ctl_request_encode(r, out, sizeof(out));

	if (len < (long)ST_CTL_HDR_BYTES) {
		fprintf(stderr, "an accepted request does not encode: %ld\n", len);
		abort();
	}
	if (st_ctl_hdr_decode(out, (size_t)len, ST_CTL_REQUEST_BODY_MAX, &m) ||
	    st_ctl_request_decode(&m, out + ST_CTL_HDR_BYTES, (size_t)len - ST_CTL_HDR_BYTES,
				  &again, err, sizeof(err))) {
		fprintf(stderr, "an encoded request does not decode\n");
		abort();
	}
	if (again.type != r->type || again.request_id != r->request_id ||
	    again.history != r->history || again.count != r->count ||
	    strcmp(again.stream, r->stream)) {
		fprintf(stderr, "encode -> decode changed the request\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_ctl_request req;
	struct st_ctl_msg m;
	char err[256];
	int rc = st_ctl_hdr_decode(data, size, ST_CTL_REQUEST_BODY_MAX, &m);

	if (rc) {
		if (rc != -EAGAIN && rc != -EBADMSG && rc != -EPROTONOSUPPORT &&
		    rc != -EINVAL && rc != -EMSGSIZE)
			abort();
		if (rc == -EAGAIN && size >= ST_CTL_HDR_BYTES)
			abort();
		return 0;
	}
	if (m.body_bytes > ST_CTL_REQUEST_BODY_MAX)
		abort();
	if (size - ST_CTL_HDR_BYTES < m.body_bytes)
		return 0;   /* the server would wait for the rest */
	err[0] = '\0';
	rc = st_ctl_request_decode(&m, data + ST_CTL_HDR_BYTES, m.body_bytes, &req, err,
				   sizeof(err));
	if (rc) {
		if ((rc != -ENOTSUP && rc != -EINVAL && rc != -ENOMEM) || !err[0]) {
			fprintf(stderr, "refusal %d without a documented code or reason\n", rc);
			abort();
		}
		return 0;
	}
	if (req.type < ST_CTL_STATUS || req.type > ST_CTL_REQUEST_LAST ||
	    req.count < 1 || req.count > ST_CTL_SIGNALS_MAX ||
	    strnlen(req.stream, sizeof(req.stream)) >= sizeof(req.stream) ||
	    (req.type == ST_CTL_PROFILE && !req.stream[0]))
		abort();
	check_roundtrip(&req);
	return 0;
}
