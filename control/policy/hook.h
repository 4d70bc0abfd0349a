/*
 * The pre-provisioning hook: runs the configured command (actuators.hook:
 * argv with argv[0] an absolute path, timeout_ms) with a decision as JSON
 * on its standard input, without ever blocking the daemon's loop.
 *
 * How it runs:
 *   - the decision's JSON (st_policy_decision_json) is written to an
 *     anonymous memory file (memfd) which becomes the child's stdin: the
 *     child reads it at its own pace and sees end-of-file after it, and
 *     the parent never waits on a pipe;
 *   - posix_spawn(3) with the child in a process group of its own
 *     (POSIX_SPAWN_SETPGROUP), every signal at its default disposition and
 *     none blocked; stdout to /dev/null, stderr inherited (the daemon's,
 *     so the journal keeps what the hook says); the environment is the
 *     daemon's; no other descriptor is inherited (all are close-on-exec);
 *   - a pidfd (pidfd_open(2), Linux >= 5.3) which the loop polls for
 *     POLLIN: readable once the child has exited;
 *   - st_hook_poll() reaps it (waitpid WNOHANG); past the deadline it
 *     sends SIGKILL to the whole process group and reaps the child on a
 *     later poll (the pidfd turns readable once it is gone);
 *   - "ready" means exit status 0; anything else (another status, a
 *     signal, the timeout) is not ready.
 *
 * The loop's side:
 *	h = st_hook_start(&hook_cfg, json, len);
 *	poll({st_hook_fd(h), POLLIN}, ..., st_hook_timeout_ms(h) as an upper
 *	     bound, -1: none);
 *	if (st_hook_poll(h, &status) == 0) { ...; st_hook_destroy(h); }
 * No call blocks except st_hook_destroy() of a hook still running, which
 * kills the group and waits for the child's death (SIGKILL cannot be
 * caught: a few ms).  The process must not set SIGCHLD to SIG_IGN (the
 * kernel would reap the child itself and its status would be lost).
 *
 * Thread safety: a hook handle belongs to one thread; different handles
 * may be used from different threads.
 */
#ifndef ST_CONTROL_POLICY_HOOK_H
#define ST_CONTROL_POLICY_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control/config/config.h"
#include "control/policy/policy.h"

enum st_hook_outcome {
	ST_HOOK_RUNNING = 0,
	ST_HOOK_EXITED,            /* exit_status holds the status */
	ST_HOOK_SIGNALED,          /* killed by signal (not by us) */
	ST_HOOK_TIMED_OUT,         /* we killed its group at the deadline */
};

struct st_hook_status {
	enum st_hook_outcome outcome;
	int exit_status;           /* EXITED: 0..255 */
	int signal;                /* SIGNALED, TIMED_OUT: the signal */
	uint64_t duration_ns;      /* start to reap, CLOCK_MONOTONIC */
	bool ready;                /* EXITED with status 0 */
};

struct st_hook;

/*
 * Starts cfg's command (cfg->argc >= 1, argv[0] absolute) with
 * json[0..len) on its stdin.  The caller owns the handle (st_hook_destroy).
 * NULL with errno: EINVAL (no command, argv[0] not absolute), ENOENT,
 * EACCES, ... (posix_spawn's error: the command could not be executed),
 * ENOSYS (no pidfd_open), EMFILE, ENOMEM.  Returns at once.
 */
struct st_hook *st_hook_start(const struct st_config_hook *cfg, const char *json,
			      size_t len);

/* The pidfd to poll for POLLIN (readable when the child has exited). */
int st_hook_fd(const struct st_hook *h);

/* The child's pid (its process group id too). */
pid_t st_hook_pid(const struct st_hook *h);

/*
 * Milliseconds until the deadline, for the loop's poll timeout: > 0 wait
 * at most that; 0 the deadline has passed (call st_hook_poll now: it
 * kills the group); -1 no deadline to wait for (the hook has finished, or
 * it was killed and the pidfd turns readable once it is gone).
 */
int st_hook_timeout_ms(const struct st_hook *h);

/*
 * Non-blocking.  Returns 0 when the hook has finished (*st filled; later
 * calls return 0 and the same status), -EAGAIN while it runs (past the
 * deadline this call kills the process group; the child is reaped by a
 * later call), or another -errno from waitpid (then *st says RUNNING).
 */
int st_hook_poll(struct st_hook *h, struct st_hook_status *st);

/*
 * Frees the handle.  A hook still running is killed (its group, SIGKILL)
 * and reaped first (this waits for the child's death).  NULL is a no-op.
 */
void st_hook_destroy(struct st_hook *h);

/* "running", "exited", "signaled", "timed_out"; NULL out of range. */
const char *st_hook_outcome_name(enum st_hook_outcome o);

/*
 * The decision as one JSON object (RFC 8259), what the hook reads:
 *   {"id": n, "time_ns": n, "kind": "scale_up", "dry_run": false,
 *    "stream": "", "from_pool": "", "pool": "general", "backend": "b2",
 *    "triggers": ["reactive", "predictive"],
 *    "reasons": [{"trigger": "predictive", "text": "..."}],
 *    "inputs": {"records_per_s": x, ..., "ds2_needed": n},
 *    "table": [{"name": "b1", "id": 0, "address": "10.0.0.2", "weight": 1000}],
 *    "result": "pending", "result_why": ""}
 * Numbers that are not finite (NAN: unknown) are null.  Strings are
 * escaped per RFC 8259 section 7 (quote, backslash, control characters as
 * \u00XX; other bytes as they are: names are UTF-8).  Writes at most len
 * bytes including a NUL; returns the length (NUL excluded), or -ENOSPC
 * (then buf holds nothing usable).  Pure; any thread.
 */
int st_policy_decision_json(const struct st_policy_decision *d, char *buf, size_t len);

#endif
