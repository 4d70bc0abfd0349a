/*
 * shadowtap-cp's event log: one JSON object per line (JSON Lines), appended
 * to a file opened O_APPEND so that each line lands whole with one
 * write(2) even when an operator's tail or logrotate's copytruncate reads
 * or cuts it.  Signals (control/cp/ctl_json.h's form) go here; decisions
 * will too; config reloads and data-plane attachments are logged as
 * {"event": "...", "time_ns": n, ...}.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/cp/cp.h"

struct st_cp_evlog {
	int fd;
};

struct st_cp_evlog *st_cp_evlog_open(const char *path)
{
	struct st_cp_evlog *l = malloc(sizeof(*l));
	int err;

	if (!l) {
		errno = ENOMEM;
		return NULL;
	}
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0) {
		err = errno;
		free(l);
		errno = err;
		return NULL;
	}
	return l;
}

void st_cp_evlog_close(struct st_cp_evlog *l)
{
	if (!l)
		return;
	close(l->fd);
	free(l);
}

int st_cp_evlog_write(struct st_cp_evlog *l, const json_t *event)
{
	size_t n = json_dumpb(event, NULL, 0, JSON_COMPACT);
	char *line;
	ssize_t w;
	int rc = 0;

	if (n == 0)
		return -EINVAL;
	line = malloc(n + 1);
	if (!line)
		return -ENOMEM;
	json_dumpb(event, line, n, JSON_COMPACT);
	line[n] = '\n';
	do
		w = write(l->fd, line, n + 1);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		rc = -errno;
	else if ((size_t)w != n + 1)
		rc = -EIO;
	free(line);
	return rc;
}
