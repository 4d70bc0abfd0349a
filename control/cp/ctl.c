/*
 * The control socket's codec (shadowtap/ctl.h, control/cp/ctl_json.h):
 * the 24-byte header, requests in and out, and the JSON forms of whole
 * messages and of signals.  Bodies are parsed with jansson
 * (https://jansson.readthedocs.io), rejecting duplicate object keys and
 * anything after the one value; every byte read comes from the caller's
 * [0, len) (json_loadb takes the length, the body need not be
 * NUL-terminated).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/cp/ctl_json.h"
#include "dataplane/compiler.h"

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

void st_ctl_hdr_encode(void *out, const struct st_ctl_msg *m)
{
	uint8_t *p = out;

	put_le32(p + offsetof(struct st_ctl_hdr, magic_le), ST_CTL_MAGIC);
	put_le16(p + offsetof(struct st_ctl_hdr, version_le), m->version);
	put_le16(p + offsetof(struct st_ctl_hdr, type_le), m->type);
	put_le32(p + offsetof(struct st_ctl_hdr, flags_le), m->flags);
	put_le32(p + offsetof(struct st_ctl_hdr, body_bytes_le), m->body_bytes);
	put_le64(p + offsetof(struct st_ctl_hdr, request_id_le), m->request_id);
}

int st_ctl_hdr_decode(const void *buf, size_t len, size_t body_max,
		      struct st_ctl_msg *m)
{
	const uint8_t *p = buf;

	if (len < ST_CTL_HDR_BYTES)
		return -EAGAIN;
	m->version = get_le16(p + offsetof(struct st_ctl_hdr, version_le));
	m->type = get_le16(p + offsetof(struct st_ctl_hdr, type_le));
	m->flags = get_le32(p + offsetof(struct st_ctl_hdr, flags_le));
	m->body_bytes = get_le32(p + offsetof(struct st_ctl_hdr, body_bytes_le));
	m->request_id = get_le64(p + offsetof(struct st_ctl_hdr, request_id_le));
	if (get_le32(p) != ST_CTL_MAGIC)
		return -EBADMSG;
	if (m->version != ST_CTL_VERSION)
		return -EPROTONOSUPPORT;
	if (m->flags & ~ST_CTL_F_KNOWN)
		return -EINVAL;
	if (m->body_bytes > body_max)
		return -EMSGSIZE;
	return 0;
}

static const char *const type_names[] = {
	[ST_CTL_STATUS] = "status",
	[ST_CTL_STREAMS] = "streams",
	[ST_CTL_PROFILE] = "profile",
	[ST_CTL_SIGNALS] = "signals",
	[ST_CTL_SIGNALS_FOLLOW] = "signals_follow",
	[ST_CTL_MODELS] = "models",
	[ST_CTL_MODELS_RETRAIN] = "models_retrain",
	[ST_CTL_DECISIONS] = "decisions",
	[ST_CTL_BACKENDS] = "backends",
};

const char *st_ctl_type_name(uint16_t type)
{
	if (type == ST_CTL_SIGNAL)
		return "signal";
	if (type == ST_CTL_ERROR)
		return "error";
	if (type < ST_ARRAY_SIZE(type_names))
		return type_names[type];
	return NULL;
}

static int fail(char *err, size_t err_len, int rc, const char *fmt, const char *arg)
{
	if (err_len)
		snprintf(err, err_len, fmt, arg);
	return rc;
}

/* Whether name[0..len) is 1..63 bytes with no NUL and no C0 control. */
static bool stream_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > ST_CTL_STREAM_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

static int decode_members(const json_t *o, struct st_ctl_request *req,
			  char *err, size_t err_len)
{
	const json_t *v;

	switch (req->type) {
	case ST_CTL_STREAMS:
		v = json_object_get(o, "history");
		if (v && !json_is_boolean(v))
			return fail(err, err_len, -EINVAL, "%s: \"history\" is not a boolean",
				    "streams");
		req->history = json_is_true(v);
		return 0;
	case ST_CTL_PROFILE:
		v = json_object_get(o, "stream");
		if (!json_is_string(v))
			return fail(err, err_len, -EINVAL,
				    "%s: \"stream\" (a string) is required", "profile");
		if (!stream_name_ok(json_string_value(v), json_string_length(v)))
			return fail(err, err_len, -EINVAL,
				    "%s: \"stream\" is not 1..63 bytes of text", "profile");
		memcpy(req->stream, json_string_value(v), json_string_length(v));
		req->stream[json_string_length(v)] = '\0';
		return 0;
	case ST_CTL_SIGNALS:
	case ST_CTL_DECISIONS:
		v = json_object_get(o, "count");
		if (!v)
			return 0;
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > ST_CTL_SIGNALS_MAX)
			return fail(err, err_len, -EINVAL,
				    "%s: \"count\" is not an integer in 1..1024",
				    st_ctl_type_name(req->type));
		req->count = (uint32_t)json_integer_value(v);
		return 0;
	default:
		return 0;
	}
}

int st_ctl_request_decode(const struct st_ctl_msg *m, const void *body, size_t len,
			  struct st_ctl_request *req, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *o;
	int rc;

	memset(req, 0, sizeof(*req));
	req->type = m->type;
	req->request_id = m->request_id;
	req->count = ST_CTL_SIGNALS_DEFAULT;
	if (m->type < ST_CTL_STATUS || m->type > ST_CTL_REQUEST_LAST) {
		if (err_len)
			snprintf(err, err_len, "unknown request type %u", (unsigned)m->type);
		return -ENOTSUP;
	}
	if (m->flags)
		return fail(err, err_len, -EINVAL, "%s: a request carries no flags",
			    st_ctl_type_name(m->type));
	if (len != m->body_bytes)
		return fail(err, err_len, -EINVAL, "%s: body length differs from the header",
			    st_ctl_type_name(m->type));
	if (len == 0)
		return decode_members(NULL, req, err, err_len);
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return fail(err, err_len, -EINVAL, "body is not JSON: %s", jerr.text);
	if (!json_is_object(o))
		rc = fail(err, err_len, -EINVAL, "%s: body is not a JSON object",
			  st_ctl_type_name(m->type));
	else
		rc = decode_members(o, req, err, err_len);
	json_decref(o);
	return rc;
}

long st_ctl_request_encode(const struct st_ctl_request *req, void *out, size_t cap)
{
	struct st_ctl_msg m = {
		.version = ST_CTL_VERSION,
		.type = req->type,
		.request_id = req->request_id,
	};
	uint8_t *p = out;
	char body[ST_CTL_REQUEST_BODY_MAX];
	size_t name_len;
	int n = 0;

	if (req->type < ST_CTL_STATUS || req->type > ST_CTL_REQUEST_LAST)
		return -EINVAL;
	switch (req->type) {
	case ST_CTL_STREAMS:
		if (req->history)
			n = snprintf(body, sizeof(body), "{\"history\":true}");
		break;
	case ST_CTL_PROFILE: {
		json_t *o, *s;
		char *text;

		name_len = strnlen(req->stream, sizeof(req->stream));
		if (!stream_name_ok(req->stream, name_len))
			return -EINVAL;
		s = json_stringn_nocheck(req->stream, name_len);
		o = json_object();
		if (!s || !o || json_object_set_new(o, "stream", s)) {
			json_decref(o);
			return -ENOMEM;
		}
		text = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!text)
			return -ENOMEM;
		n = (int)strlen(text);
		if ((size_t)n < sizeof(body))
			memcpy(body, text, (size_t)n);
		free(text);
		if ((size_t)n >= sizeof(body))
			return -EINVAL;
		break;
	}
	case ST_CTL_SIGNALS:
	case ST_CTL_DECISIONS:
		if (req->count < 1 || req->count > ST_CTL_SIGNALS_MAX)
			return -EINVAL;
		if (req->count != ST_CTL_SIGNALS_DEFAULT)
			n = snprintf(body, sizeof(body), "{\"count\":%u}", req->count);
		break;
	default:
		break;
	}
	if (cap < ST_CTL_HDR_BYTES + (size_t)n)
		return -ENOSPC;
	m.body_bytes = (uint32_t)n;
	st_ctl_hdr_encode(p, &m);
	memcpy(p + ST_CTL_HDR_BYTES, body, (size_t)n);
	return (long)(ST_CTL_HDR_BYTES + (size_t)n);
}

uint8_t *st_ctl_frame_json(uint16_t type, uint32_t flags, uint64_t request_id,
			   const json_t *body, size_t body_max, size_t *len)
{
	struct st_ctl_msg m = {
		.version = ST_CTL_VERSION,
		.type = type,
		.flags = flags,
		.request_id = request_id,
	};
	size_t n = body ? json_dumpb(body, NULL, 0, JSON_COMPACT) : 2;
	uint8_t *frame;

	if (body && n == 0) {
		errno = ENOMEM;
		return NULL;
	}
	if (n > body_max || n > UINT32_MAX) {
		errno = EMSGSIZE;
		return NULL;
	}
	frame = malloc(ST_CTL_HDR_BYTES + n);
	if (!frame) {
		errno = ENOMEM;
		return NULL;
	}
	if (body) {
		if (json_dumpb(body, (char *)frame + ST_CTL_HDR_BYTES, n, JSON_COMPACT) != n) {
			free(frame);
			errno = ENOMEM;
			return NULL;
		}
	} else {
		memcpy(frame + ST_CTL_HDR_BYTES, "{}", 2);
	}
	m.body_bytes = (uint32_t)n;
	st_ctl_hdr_encode(frame, &m);
	*len = ST_CTL_HDR_BYTES + n;
	return frame;
}

const char *st_ctl_errno_name(int err)
{
	switch (err < 0 ? -err : err) {
	case EINVAL: return "EINVAL";
	case ENOTSUP: return "ENOTSUP";
	case ENOENT: return "ENOENT";
	case ENOMEM: return "ENOMEM";
	case EBADMSG: return "EBADMSG";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case EMSGSIZE: return "EMSGSIZE";
	case EAGAIN: return "EAGAIN";
	default: return "EIO";
	}
}

uint8_t *st_ctl_frame_error(uint64_t request_id, int err, const char *text,
			    size_t *len)
{
	json_t *o = json_pack("{s:s, s:s}", "error", text ? text : "",
			      "errno", st_ctl_errno_name(err));
	uint8_t *frame;

	if (!o) {
		/* text was not UTF-8: say so rather than fail */
		o = json_pack("{s:s, s:s}", "error", "(unprintable reason)",
			      "errno", st_ctl_errno_name(err));
		if (!o) {
			errno = ENOMEM;
			return NULL;
		}
	}
	frame = st_ctl_frame_json(ST_CTL_ERROR, ST_CTL_F_RESPONSE | ST_CTL_F_ERROR,
				  request_id, o, ST_CTL_RESPONSE_BODY_MAX, len);
	json_decref(o);
	return frame;
}

const char *st_severity_name(unsigned severity)
{
	static const char *const names[] = { "none", "low", "medium", "high" };

	return severity < ST_ARRAY_SIZE(names) ? names[severity] : "?";
}

static const char *const cause_names[] = {
	"rate", "cardinality", "skew", "schema", "pattern", "errors", "size",
	"partitions", "capacity",
};

static const char *const detector_names[] = {
	"cusum", "bocpd", "iforest", "forecast", "schema", "spectral",
};

static json_t *bit_names(uint32_t mask, const char *const *names, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < 32; i++) {
		char other[16];

		if (!(mask & (1u << i)))
			continue;
		if (i >= n)
			snprintf(other, sizeof(other), "bit%zu", i);
		if (json_array_append_new(a, json_string(i < n ? names[i] : other))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static double f64_of(uint64_t le_bits)
{
	uint8_t b[8];
	uint64_t bits;
	double d;

	memcpy(b, &le_bits, 8);
	bits = get_le64(b);
	memcpy(&d, &bits, sizeof(d));
	return d;
}

static uint64_t u64_of(uint64_t le)
{
	uint8_t b[8];

	memcpy(b, &le, 8);
	return get_le64(b);
}

static uint32_t u32_of(uint32_t le)
{
	uint8_t b[4];

	memcpy(b, &le, 4);
	return get_le32(b);
}

json_t *st_ctl_signal_json(const struct st_signal *s)
{
	uint32_t causes = u32_of(s->causes_le), detectors = u32_of(s->detectors_le);
	char id[17];
	double score = f64_of(s->score_le), horizon = f64_of(s->horizon_s_le);

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)u64_of(s->stream_id_le));
	return json_pack("{s:s, s:s%, s:s, s:I, s:I, s:f, s:f, s:o*, s:I, s:o*, s:I, s:I, s:s}",
			 "event", "signal",
			 "stream", s->stream_name, strnlen(s->stream_name, sizeof(s->stream_name)),
			 "stream_id", id,
			 "timestamp_ns", (json_int_t)u64_of(s->timestamp_ns_le),
			 "epoch_start_ns", (json_int_t)u64_of(s->epoch_start_ns_le),
			 "score", isfinite(score) ? score : 0.0,
			 "horizon_s", isfinite(horizon) ? horizon : -1.0,
			 "causes", bit_names(causes, cause_names, ST_ARRAY_SIZE(cause_names)),
			 "causes_mask", (json_int_t)causes,
			 "detectors", bit_names(detectors, detector_names,
						ST_ARRAY_SIZE(detector_names)),
			 "detectors_mask", (json_int_t)detectors,
			 "model_version", (json_int_t)u32_of(s->model_version_le),
			 "severity", st_severity_name(s->severity));
}
