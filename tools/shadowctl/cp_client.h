/*
 * shadowctl's client of shadowtap-cp's control socket (shadowtap/ctl.h):
 * connect, send one request, read its response; read pushes after a
 * follow.  Errors are printed to stderr as "shadowctl CMD: ..." and
 * returned as the exit status 1.
 */
#ifndef ST_SHADOWCTL_CP_CLIENT_H
#define ST_SHADOWCTL_CP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "shadowtap/ctl.h"

struct st_cpc {
	int fd;
	uint64_t next_id;
	const char *cmd;               /* for messages */
	char path[108];
};

/* The options every cp command takes: --socket PATH, --config FILE, --json. */
struct st_cpc_opts {
	const char *socket;            /* NULL: from --config or the default */
	const char *config;
	bool json;
};

/* The socket path: --socket, else the config's control.socket_path, else
 * ST_CTL_SOCKET_DEFAULT.  0, or 1 (config unreadable, printed). */
int st_cpc_socket_path(const struct st_cpc_opts *o, const char *cmd, char *out, size_t n);

/* Connects; 0, or 1 with "is shadowtap-cp running?" printed. */
int st_cpc_open(struct st_cpc *c, const char *cmd, const struct st_cpc_opts *o);
void st_cpc_close(struct st_cpc *c);

/* Sends req (its request_id is set here) and reads the response body into
 * *body (caller decrefs).  0; 1 on any error (an ERROR response's text is
 * printed). */
int st_cpc_call(struct st_cpc *c, struct st_ctl_request *req, json_t **body);

/* Reads the next message (a push) within timeout_ms (-1: forever).
 * 0 with *m and *body; -EAGAIN on timeout; -EPIPE closed; -EPROTO bad. */
int st_cpc_recv(struct st_cpc *c, struct st_ctl_msg *m, json_t **body, int timeout_ms);

#endif
