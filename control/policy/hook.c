/*
 * The pre-provisioning hook runner (hook.h) and the decision's JSON text.
 * The JSON writer is a bounded cursor over the caller's buffer: each put
 * either fits or marks the cursor full; the result is checked once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control/policy/hook.h"

extern char **environ;

struct st_hook {
	pid_t pid;
	int pidfd;
	uint64_t start_ns, deadline_ns;
	bool killed;               /* we sent SIGKILL at the deadline */
	bool done;
	struct st_hook_status status;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A memfd holding data[0..len), at offset 0: the child's stdin. */
static int stdin_file(const char *data, size_t len)
{
	int fd = memfd_create("shadowtap-hook-stdin", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : EIO;

			close(fd);
			return -err;
		}
		off += (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

static int spawn(const struct st_config_hook *cfg, int in_fd, int null_fd, pid_t *pid)
{
	char *argv[ST_CONFIG_HOOK_ARGS_MAX + 1];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	for (unsigned i = 0; i < cfg->argc; i++)
		argv[i] = (char *)cfg->argv[i];
	argv[cfg->argc] = NULL;
	sigemptyset(&none);
	sigfillset(&all);
	rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return -rc;
	rc = posix_spawnattr_init(&attr);
	if (rc)
		goto out_fa;
	rc = posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, null_fd, STDOUT_FILENO);
	if (!rc)
		rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
					      POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (!rc)
		rc = posix_spawnattr_setpgroup(&attr, 0);
	if (!rc)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&attr, &all);
	if (!rc)
		rc = posix_spawn(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
out_fa:
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

struct st_hook *st_hook_start(const struct st_config_hook *cfg, const char *json,
			      size_t len)
{
	struct st_hook *h;
	int in_fd, null_fd, err;

	if (!cfg || cfg->argc == 0 || cfg->argc > ST_CONFIG_HOOK_ARGS_MAX ||
	    cfg->argv[0][0] != '/' || (!json && len)) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	in_fd = stdin_file(json, len);
	if (in_fd < 0) {
		err = -in_fd;
		goto out_free;
	}
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0) {
		err = errno;
		goto out_close_in;
	}
	h->start_ns = mono_ns();
	h->deadline_ns = h->start_ns + (uint64_t)cfg->timeout_ms * 1000000ull;
	err = -spawn(cfg, in_fd, null_fd, &h->pid);
	if (err)
		goto out_close_null;
	h->pidfd = (int)syscall(SYS_pidfd_open, h->pid, 0);
	if (h->pidfd < 0) {
		err = errno;
		goto out_kill;
	}
	close(null_fd);
	close(in_fd);
	return h;

out_kill:
	kill(-h->pid, SIGKILL);
	while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
		;
out_close_null:
	close(null_fd);
out_close_in:
	close(in_fd);
out_free:
	free(h);
	errno = err;
	return NULL;
}

int st_hook_fd(const struct st_hook *h)
{
	return h->pidfd;
}

pid_t st_hook_pid(const struct st_hook *h)
{
	return h->pid;
}

int st_hook_timeout_ms(const struct st_hook *h)
{
	uint64_t now;

	if (h->done || h->killed)
		return -1;
	now = mono_ns();
	if (now >= h->deadline_ns)
		return 0;
	return (int)((h->deadline_ns - now + 999999) / 1000000);
}

static void finish(struct st_hook *h, int wstatus)
{
	struct st_hook_status *st = &h->status;

	st->duration_ns = mono_ns() - h->start_ns;
	if (WIFEXITED(wstatus)) {
		st->outcome = ST_HOOK_EXITED;
		st->exit_status = WEXITSTATUS(wstatus);
		st->ready = st->exit_status == 0;
	} else {
		st->outcome = h->killed ? ST_HOOK_TIMED_OUT : ST_HOOK_SIGNALED;
		st->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
	}
	h->done = true;
	close(h->pidfd);
	h->pidfd = -1;
}

int st_hook_poll(struct st_hook *h, struct st_hook_status *st)
{
	int wstatus = 0;
	pid_t r;

	if (!h->done) {
		do {
			r = waitpid(h->pid, &wstatus, WNOHANG);
		} while (r < 0 && errno == EINTR);
		if (r < 0) {
			memset(st, 0, sizeof(*st));
			return -errno;
		}
		if (r == h->pid) {
			finish(h, wstatus);
		} else if (!h->killed && mono_ns() >= h->deadline_ns) {
			kill(-h->pid, SIGKILL);
			h->killed = true;
		}
	}
	*st = h->status;
	if (!h->done)
		st->outcome = ST_HOOK_RUNNING;
	return h->done ? 0 : -EAGAIN;
}

void st_hook_destroy(struct st_hook *h)
{
	int wstatus;

	if (!h)
		return;
	if (!h->done) {
		kill(-h->pid, SIGKILL);
		h->killed = true;
		while (waitpid(h->pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		close(h->pidfd);
	}
	free(h);
}

const char *st_hook_outcome_name(enum st_hook_outcome o)
{
	static const char *const names[] = { "running", "exited", "signaled", "timed_out" };

	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : NULL;
}

/* ---- the decision's JSON ---- */

struct json_out {
	char *buf;
	size_t len, pos;
	bool full;
};

static void put_raw(struct json_out *o, const char *s, size_t n)
{
	if (o->full || o->len - o->pos <= n) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->pos, s, n);
	o->pos += n;
	o->buf[o->pos] = '\0';
}

static void put(struct json_out *o, const char *s)
{
	put_raw(o, s, strlen(s));
}

/* RFC 8259 section 7: quote, backslash and U+0000..U+001F are escaped. */
static void put_string(struct json_out *o, const char *s)
{
	put(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put_raw(o, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(o, esc);
		} else {
			put_raw(o, (const char *)&c, 1);
		}
	}
	put(o, "\"");
}

static void put_key(struct json_out *o, const char *key, bool first)
{
	if (!first)
		put(o, ",");
	put_string(o, key);
	put(o, ":");
}

static void put_num(struct json_out *o, const char *key, double v)
{
	char text[32];

	put_key(o, key, false);
	if (!isfinite(v)) {
		put(o, "null");
		return;
	}
	snprintf(text, sizeof(text), "%.17g", v);
	put(o, text);
}

static void put_uint(struct json_out *o, const char *key, uint64_t v, bool first)
{
	char text[24];

	put_key(o, key, first);
	snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
	put(o, text);
}

static void put_str_field(struct json_out *o, const char *key, const char *v)
{
	put_key(o, key, false);
	put_string(o, v);
}

static void put_bool(struct json_out *o, const char *key, bool v)
{
	put_key(o, key, false);
	put(o, v ? "true" : "false");
}

static void put_triggers(struct json_out *o, uint32_t triggers)
{
	bool first = true;

	put_key(o, "triggers", false);
	put(o, "[");
	for (uint32_t bit = 1; bit; bit <<= 1) {
		const char *name = st_policy_trigger_name(bit);

		if (!(triggers & bit) || !name)
			continue;
		if (!first)
			put(o, ",");
		put_string(o, name);
		first = false;
	}
	put(o, "]");
}

static void put_reasons(struct json_out *o, const struct st_policy_decision *d)
{
	put_key(o, "reasons", false);
	put(o, "[");
	for (unsigned i = 0; i < d->n_reasons && i < ST_POLICY_REASONS_MAX; i++) {
		const char *name = st_policy_trigger_name(d->reasons[i].trigger);

		put(o, i ? ",{" : "{");
		put_key(o, "trigger", true);
		put_string(o, name ? name : "");
		put_str_field(o, "text", d->reasons[i].text);
		put(o, "}");
	}
	put(o, "]");
}

static void put_inputs(struct json_out *o, const struct st_policy_decision_inputs *in)
{
	put_key(o, "inputs", false);
	put(o, "{");
	put_uint(o, "severity", in->severity, true);
	put_num(o, "records_per_s", in->records_per_s);
	put_num(o, "forecast_rps", in->forecast_rps);
	put_num(o, "horizon_s", in->horizon_s);
	put_num(o, "cardinality", in->cardinality);
	put_num(o, "top1_share", in->top1_share);
	put_num(o, "score", in->score);
	put_uint(o, "causes", in->causes, false);
	put_bool(o, "high_cardinality", in->high_cardinality);
	put_bool(o, "skewed", in->skewed);
	put_num(o, "load_rps", in->load_rps);
	put_num(o, "forecast_load_rps", in->forecast_load_rps);
	put_num(o, "capacity_rps", in->capacity_rps);
	put_num(o, "utilization", in->utilization);
	put_num(o, "forecast_utilization", in->forecast_utilization);
	put_num(o, "min_horizon_s", in->min_horizon_s);
	put_uint(o, "committed", in->committed, false);
	put_uint(o, "standby", in->standby, false);
	put_uint(o, "ds2_needed", in->ds2_needed, false);
	put_num(o, "worst_latency_p99_ms", in->worst_latency_p99_ms);
	put_num(o, "worst_retransmissions_per_s", in->worst_retransmissions_per_s);
	put_num(o, "worst_zero_windows_per_s", in->worst_zero_windows_per_s);
	put(o, "}");
}

static void put_table(struct json_out *o, const struct st_policy_decision *d)
{
	put_key(o, "table", false);
	put(o, "[");
	for (size_t i = 0; i < d->n_table && d->table; i++) {
		const struct st_actuator_backend *b = &d->table[i];
		char addr[INET6_ADDRSTRLEN] = "";

		if (b->address.af == AF_INET || b->address.af == AF_INET6)
			inet_ntop(b->address.af, b->address.bytes, addr, sizeof(addr));
		put(o, i ? ",{" : "{");
		put_key(o, "name", true);
		put_string(o, b->name);
		put_uint(o, "id", b->id, false);
		put_str_field(o, "address", addr);
		put_uint(o, "weight", b->weight, false);
		put(o, "}");
	}
	put(o, "]");
}

int st_policy_decision_json(const struct st_policy_decision *d, char *buf, size_t len)
{
	struct json_out o = { .buf = buf, .len = len };
	const char *kind = st_policy_kind_name(d->kind);
	const char *result = st_policy_result_name(d->result);

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	put(&o, "{");
	put_uint(&o, "id", d->id, true);
	put_uint(&o, "time_ns", d->time_ns, false);
	put_str_field(&o, "kind", kind ? kind : "");
	put_bool(&o, "dry_run", d->dry_run);
	put_str_field(&o, "stream", d->stream);
	put_str_field(&o, "from_pool", d->from_pool);
	put_str_field(&o, "pool", d->pool);
	put_str_field(&o, "backend", d->backend);
	put_triggers(&o, d->triggers);
	put_reasons(&o, d);
	put_inputs(&o, &d->inputs);
	put_table(&o, d);
	put_str_field(&o, "result", result ? result : "");
	put_str_field(&o, "result_why", d->result_why);
	put(&o, "}");
	return o.full ? -ENOSPC : (int)o.pos;
}
