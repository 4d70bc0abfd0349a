/*
 * The control socket of shadowtap-cp: how shadowctl (or any client) asks
 * the running control plane for its status, its streams, a stream's latest
 * profile, its signals and its models, over a UNIX stream socket
 * (default ST_CTL_SOCKET_DEFAULT, mode 0660).  This header is the wire
 * format; the daemon's side is control/cp/server.c, the client's
 * tools/shadowctl/cp_client.c.
 *
 * Framing.  Every message, either direction, is a 24-byte header followed
 * by body_bytes bytes of body.  Every integer is little-endian (_le).
 *
 *   off size field
 *     0    4 magic_le        ST_CTL_MAGIC, the bytes "STCP"
 *     4    2 version_le      ST_CTL_VERSION (1)
 *     6    2 type_le         enum st_ctl_type
 *     8    4 flags_le        ST_CTL_F_*; other bits must be 0
 *    12    4 body_bytes_le   bytes of body that follow; requests at most
 *                            ST_CTL_REQUEST_BODY_MAX, responses and pushes
 *                            at most ST_CTL_RESPONSE_BODY_MAX
 *    16    8 request_id_le   chosen by the client; the response (and every
 *                            push a follow request starts) carries it back
 *    24      body: one JSON object (RFC 8259), UTF-8; an empty request
 *            body means {}
 *
 * Exchange.  The client sends one request and reads its response (flag
 * RESPONSE, the request's type, or type ERROR with flag ERROR); it may then
 * send the next.  The server reads no further request on a connection while
 * a response is still being written (so a client that does not read cannot
 * make the server queue), and answers requests in order.  SIGNALS_FOLLOW is
 * answered with a RESPONSE, then the server pushes one SIGNAL message (flag
 * PUSH) per raised signal on that connection until the client closes it;
 * pushes a slow reader cannot take are dropped and counted (its next push
 * says how many in "dropped_before").
 *
 * Errors.  An ERROR message's body is {"error": "text", "errno": "EINVAL"}.
 * A request the server can frame but not serve (unknown type, bad JSON, a
 * missing or wrong member, an unknown stream) gets an ERROR and the
 * connection stays usable.  A header it cannot trust (bad magic, another
 * version, unknown flags, a body longer than the maximum) gets an ERROR
 * whose header is version ST_CTL_VERSION, then the server closes the
 * connection: it cannot find the next message boundary.  A client that
 * holds a half-sent request longer than ST_CTL_IDLE_TIMEOUT_S is closed.
 *
 * Request bodies (members other than these are ignored, so that newer
 * clients may add optional ones):
 *   STATUS          {}
 *   STREAMS         {"history": bool}   history adds per-stream arrays of
 *                                       the last epochs' rates and
 *                                       cardinalities (oldest first)
 *   PROFILE         {"stream": "name"}  1..63 bytes
 *   SIGNALS         {"count": n}        1..ST_CTL_SIGNALS_MAX, default 50
 *   SIGNALS_FOLLOW  {}
 *   MODELS          {}
 *   MODELS_RETRAIN  {}                  asks the trainer for a training now
 *   DECISIONS       {"count": n}        the latest n reconfiguration
 *                                       decisions, 1..ST_CTL_SIGNALS_MAX,
 *                                       default 50
 *   BACKENDS        {}                  the latest epoch's figures per
 *                                       backend of the config and per
 *                                       endpoint that matched none
 *                                       (control/cp/backends.h)
 * Response bodies are JSON objects whose members control/cp/server.c lists
 * beside each handler; a client ignores members it does not know.
 *
 * Thread safety: the functions below are pure (the caller's buffers only);
 * any thread.
 */
#ifndef SHADOWTAP_CTL_H
#define SHADOWTAP_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_CTL_MAGIC 0x50435453u        /* "STCP" as bytes, read little-endian */
#define ST_CTL_VERSION 1u
#define ST_CTL_HDR_BYTES 24u
#define ST_CTL_REQUEST_BODY_MAX 4096u   /* bytes */
#define ST_CTL_RESPONSE_BODY_MAX (8u << 20) /* bytes */
#define ST_CTL_SIGNALS_MAX 1024u        /* signals one SIGNALS request returns */
#define ST_CTL_SIGNALS_DEFAULT 50u
#define ST_CTL_STREAM_NAME_MAX 63u      /* bytes, as the profile's name */
#define ST_CTL_IDLE_TIMEOUT_S 30u
#define ST_CTL_SOCKET_DEFAULT "/run/shadowtap/cp.sock"

enum st_ctl_type {
	ST_CTL_STATUS = 1,
	ST_CTL_STREAMS = 2,
	ST_CTL_PROFILE = 3,
	ST_CTL_SIGNALS = 4,
	ST_CTL_SIGNALS_FOLLOW = 5,
	ST_CTL_MODELS = 6,
	ST_CTL_MODELS_RETRAIN = 7,
	ST_CTL_DECISIONS = 8,
	ST_CTL_BACKENDS = 9,
	ST_CTL_REQUEST_LAST = ST_CTL_BACKENDS,
	ST_CTL_SIGNAL = 0x100,          /* push: one raised signal */
	ST_CTL_ERROR = 0x7fff,          /* response: the request failed */
};

#define ST_CTL_F_RESPONSE (1u << 0)     /* server -> client, answers a request */
#define ST_CTL_F_ERROR (1u << 1)        /* with type ERROR */
#define ST_CTL_F_PUSH (1u << 2)         /* server -> client, unsolicited */
#define ST_CTL_F_KNOWN (ST_CTL_F_RESPONSE | ST_CTL_F_ERROR | ST_CTL_F_PUSH)

struct st_ctl_hdr {
	uint32_t magic_le;
	uint16_t version_le;
	uint16_t type_le;
	uint32_t flags_le;
	uint32_t body_bytes_le;
	uint64_t request_id_le;
};

_Static_assert(sizeof(struct st_ctl_hdr) == ST_CTL_HDR_BYTES, "header is 24 bytes");
_Static_assert(offsetof(struct st_ctl_hdr, magic_le) == 0, "magic at 0");
_Static_assert(offsetof(struct st_ctl_hdr, version_le) == 4, "version at 4");
_Static_assert(offsetof(struct st_ctl_hdr, type_le) == 6, "type at 6");
_Static_assert(offsetof(struct st_ctl_hdr, flags_le) == 8, "flags at 8");
_Static_assert(offsetof(struct st_ctl_hdr, body_bytes_le) == 12, "body length at 12");
_Static_assert(offsetof(struct st_ctl_hdr, request_id_le) == 16, "request id at 16");

/* A header in host order. */
struct st_ctl_msg {
	uint16_t version;
	uint16_t type;
	uint32_t flags;
	uint32_t body_bytes;
	uint64_t request_id;
};

/* A decoded request. */
struct st_ctl_request {
	uint16_t type;                  /* ST_CTL_STATUS .. ST_CTL_REQUEST_LAST */
	uint64_t request_id;
	bool history;                   /* STREAMS */
	uint32_t count;                 /* SIGNALS, DECISIONS: 1..ST_CTL_SIGNALS_MAX */
	char stream[ST_CTL_STREAM_NAME_MAX + 1]; /* PROFILE: NUL-terminated */
};

/* Writes the 24 header bytes of m into out (little-endian). */
void st_ctl_hdr_encode(void *out, const struct st_ctl_msg *m);

/*
 * Decodes the header at buf[0..len) into *m.  body_max is the largest body
 * the reader accepts (ST_CTL_REQUEST_BODY_MAX on the server).  Returns 0,
 * or
 *   -EAGAIN           len < ST_CTL_HDR_BYTES (read more);
 *   -EBADMSG          the magic is not ST_CTL_MAGIC;
 *   -EPROTONOSUPPORT  the version is not ST_CTL_VERSION (m->version says
 *                     which);
 *   -EINVAL           a flag bit outside ST_CTL_F_KNOWN;
 *   -EMSGSIZE         body_bytes > body_max.
 * *m is filled as far as the bytes allow in every case but -EAGAIN.
 */
int st_ctl_hdr_decode(const void *buf, size_t len, size_t body_max,
		      struct st_ctl_msg *m);

/*
 * Decodes a request: header m (already decoded) and its body[0..len).
 * Returns 0 with *req filled, or
 *   -ENOTSUP  m->type is not a request type (err says which);
 *   -EINVAL   a response/push flag on a request, a body that is not one
 *             JSON object, a member of the wrong type or out of range, a
 *             PROFILE without a valid "stream";
 *   -ENOMEM   the JSON parser could not allocate;
 * with a one-line reason in err (when err_len > 0).  Reads nothing outside
 * body[0..len); len must equal m->body_bytes.  Allocates transiently.
 */
int st_ctl_request_decode(const struct st_ctl_msg *m, const void *body, size_t len,
			  struct st_ctl_request *req, char *err, size_t err_len);

/*
 * Encodes *req as one whole message (header and JSON body) into out[0..cap).
 * Returns the bytes written, or -EINVAL (type not a request type, count out
 * of range, stream name empty or too long for PROFILE), -ENOSPC (cap too
 * small; ST_CTL_HDR_BYTES + ST_CTL_REQUEST_BODY_MAX always suffices).
 * Only members that differ from the defaults are written.
 */
long st_ctl_request_encode(const struct st_ctl_request *req, void *out, size_t cap);

/* "status", "streams", ...; "signal", "error"; NULL for another type. */
const char *st_ctl_type_name(uint16_t type);

#endif
