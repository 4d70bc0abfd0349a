/*
 * shadowctl's client of the control socket (cp_client.h).  Blocking I/O
 * with poll() timeouts: a daemon that stops answering makes the command
 * fail after CALL_TIMEOUT_MS, not hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/config/config.h"
#include "cp_client.h"

#define CALL_TIMEOUT_MS 10000

int st_cpc_socket_path(const struct st_cpc_opts *o, const char *cmd, char *out, size_t n)
{
	struct st_config *cfg;
	char err[512] = "";

	if (o->socket) {
		snprintf(out, n, "%s", o->socket);
		return 0;
	}
	if (!o->config) {
		snprintf(out, n, "%s", ST_CTL_SOCKET_DEFAULT);
		return 0;
	}
	cfg = st_config_load(o->config, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "shadowctl %s: %s\n", cmd, err[0] ? err : strerror(errno));
		return 1;
	}
	snprintf(out, n, "%s", st_config_control(cfg)->socket_path);
	st_config_destroy(cfg);
	return 0;
}

int st_cpc_open(struct st_cpc *c, const char *cmd, const struct st_cpc_opts *o)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	c->cmd = cmd;
	c->next_id = 1;
	c->fd = -1;
	if (st_cpc_socket_path(o, cmd, c->path, sizeof(c->path)))
		return 1;
	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "shadowctl %s: socket path too long: %s\n", cmd, c->path);
		return 1;
	}
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		fprintf(stderr, "shadowctl %s: cannot reach shadowtap-cp at %s: %s%s\n", cmd,
			c->path, strerror(err),
			err == ENOENT || err == ECONNREFUSED
			? " (is shadowtap-cp running? --socket PATH names another socket)" : "");
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return 1;
	}
	return 0;
}

void st_cpc_close(struct st_cpc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Reads exactly n bytes; 0, -EAGAIN (timeout), -EPIPE (closed), -errno. */
static int read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	uint8_t *p = buf;

	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, timeout_ms);
		ssize_t got;

		if (r < 0 && errno == EINTR)
			return -EINTR;
		if (r == 0)
			return -EAGAIN;
		got = recv(fd, p, n, 0);
		if (got == 0)
			return -EPIPE;
		if (got < 0) {
			if (errno == EINTR)
				return -EINTR;
			return -errno;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int st_cpc_recv(struct st_cpc *c, struct st_ctl_msg *m, json_t **body, int timeout_ms)
{
	uint8_t hdr[ST_CTL_HDR_BYTES];
	json_error_t jerr;
	char *text;
	int rc = read_full(c->fd, hdr, sizeof(hdr), timeout_ms);

	if (rc)
		return rc;
	if (st_ctl_hdr_decode(hdr, sizeof(hdr), ST_CTL_RESPONSE_BODY_MAX, m))
		return -EPROTO;
	text = malloc(m->body_bytes ? m->body_bytes : 1);
	if (!text)
		return -ENOMEM;
	rc = read_full(c->fd, text, m->body_bytes, CALL_TIMEOUT_MS);
	if (rc) {
		free(text);
		return rc == -EAGAIN ? -EPROTO : rc;
	}
	*body = json_loadb(text, m->body_bytes, 0, &jerr);
	free(text);
	return *body ? 0 : -EPROTO;
}

int st_cpc_call(struct st_cpc *c, struct st_ctl_request *req, json_t **body)
{
	uint8_t frame[ST_CTL_HDR_BYTES + ST_CTL_REQUEST_BODY_MAX];
	struct st_ctl_msg m;
	long len;
	int rc;

	req->request_id = c->next_id++;
	len = st_ctl_request_encode(req, frame, sizeof(frame));
	if (len < 0) {
		fprintf(stderr, "shadowctl %s: bad request: %s\n", c->cmd, strerror((int)-len));
		return 1;
	}
	if (send(c->fd, frame, (size_t)len, MSG_NOSIGNAL) != len) {
		fprintf(stderr, "shadowctl %s: %s: %s\n", c->cmd, c->path, strerror(errno));
		return 1;
	}
	rc = st_cpc_recv(c, &m, body, CALL_TIMEOUT_MS);
	if (rc) {
		fprintf(stderr, "shadowctl %s: %s: %s\n", c->cmd, c->path,
			rc == -EAGAIN ? "no answer within 10 s"
			: rc == -EPIPE ? "shadowtap-cp closed the connection"
			: rc == -EPROTO ? "not a shadowtap control message" : strerror(-rc));
		return 1;
	}
	if (m.flags & ST_CTL_F_ERROR) {
		const char *e = json_string_value(json_object_get(*body, "error"));

		fprintf(stderr, "shadowctl %s: shadowtap-cp: %s\n", c->cmd, e ? e : "error");
		json_decref(*body);
		*body = NULL;
		return 1;
	}
	if (m.request_id != req->request_id || m.type != req->type) {
		fprintf(stderr, "shadowctl %s: response does not match the request\n", c->cmd);
		json_decref(*body);
		*body = NULL;
		return 1;
	}
	return 0;
}
