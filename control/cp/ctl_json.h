/*
 * The JSON side of the control socket (shadowtap/ctl.h): whole messages
 * built from a jansson value, and the signal record (shadowtap/signal.h) as
 * the JSON object that the event log, the socket's SIGNAL pushes and the
 * SIGNALS response all carry.  Shared by shadowtap-cp and shadowctl.
 *
 * A signal as JSON, one member per field of struct st_signal:
 *   {"event": "signal", "stream": "orders", "stream_id": "0123456789abcdef",
 *    "timestamp_ns": n, "epoch_start_ns": n, "score": 0.93,
 *    "horizon_s": 42.0 | -1, "causes": ["rate", ...], "causes_mask": n,
 *    "detectors": ["cusum", ...], "detectors_mask": n, "model_version": n,
 *    "severity": "none" | "low" | "medium" | "high"}
 * stream_id is 16 lowercase hex digits (a u64 does not fit JSON integers
 * that every reader keeps exactly).
 *
 * Thread safety: pure functions; any thread.
 */
#ifndef ST_CONTROL_CP_CTL_JSON_H
#define ST_CONTROL_CP_CTL_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "shadowtap/ctl.h"
#include "shadowtap/signal.h"

/*
 * A whole message: header (type, flags, request_id) and body, the compact
 * JSON text of `body` (an object; NULL means {}).  Returns a malloc'd
 * buffer the caller frees, its length in *len; NULL with errno EMSGSIZE
 * (the body is longer than body_max) or ENOMEM.
 */
uint8_t *st_ctl_frame_json(uint16_t type, uint32_t flags, uint64_t request_id,
			   const json_t *body, size_t body_max, size_t *len);

/* An ERROR response frame for request_id: {"error": text, "errno": name};
 * as st_ctl_frame_json(). */
uint8_t *st_ctl_frame_error(uint64_t request_id, int err, const char *text,
			    size_t *len);

/* The signal as JSON (see above).  New reference, NULL on ENOMEM. */
json_t *st_ctl_signal_json(const struct st_signal *s);

/* "none", "low", "medium", "high"; "?" out of range. */
const char *st_severity_name(unsigned severity);

/* The symbolic name of an errno value this protocol uses ("EINVAL"), or
 * "EIO" for others. */
const char *st_ctl_errno_name(int err);

#endif
