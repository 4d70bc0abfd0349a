/*
 * The pre-provisioning hook runner (control/policy/hook.h) against shell
 * scripts this test writes to a temporary folder: one that copies its
 * stdin to a file and exits 0, one that exits 3, one that kills itself,
 * one that outlives its timeout with a child of its own.  Oracles: the
 * file the script wrote, parsed by jansson; the kernel's own view of the
 * processes (waitpid's ECHILD once reaped, /proc for the grandchild);
 * CLOCK_MONOTONIC around each loop-facing call.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control/policy/hook.h"
#include "st_test.h"

/* A loop-facing call must return within this (a few ms; slack for a
 * machine shared by several builds). */
#define CALL_MAX_NS (50 * 1000000ull)

static char dir[64];
static uint64_t worst_call_ns;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void note_call(uint64_t t0)
{
	uint64_t d = mono_ns() - t0;

	if (d > worst_call_ns)
		worst_call_ns = d;
	CU_ASSERT(d < CALL_MAX_NS);
}

static void setup_dir(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/st-hook-test-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

/* Writes an executable script `name` with `body` after the #! line. */
static void script(struct st_config_hook *cfg, const char *name, const char *body,
		   const char *arg, uint32_t timeout_ms)
{
	char path[128];
	FILE *f;

	setup_dir();
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	CU_ASSERT_FATAL(chmod(path, 0755) == 0);
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->argv[0], sizeof(cfg->argv[0]), "%s", path);
	cfg->argc = 1;
	if (arg) {
		snprintf(cfg->argv[1], sizeof(cfg->argv[1]), "%s/%s", dir, arg);
		cfg->argc = 2;
	}
	cfg->timeout_ms = timeout_ms;
}

static struct st_hook *start(const struct st_config_hook *cfg, const char *json)
{
	uint64_t t0 = mono_ns();
	struct st_hook *h = st_hook_start(cfg, json, json ? strlen(json) : 0);

	note_call(t0);
	CU_ASSERT_FATAL(h != NULL);
	return h;
}

/* The daemon's loop: poll the pidfd, then st_hook_poll, until done. */
static void run(struct st_hook *h, struct st_hook_status *st)
{
	uint64_t give_up = mono_ns() + 20 * 1000000000ull;
	int rc;

	for (;;) {
		struct pollfd pfd = { .fd = st_hook_fd(h), .events = POLLIN };
		int timeout = st_hook_timeout_ms(h);
		uint64_t t0;

		/* -1 while running: killed, the pidfd says when it is gone */
		poll(&pfd, 1, timeout < 0 || timeout > 1000 ? 1000 : timeout);
		t0 = mono_ns();
		rc = st_hook_poll(h, st);
		note_call(t0);
		if (rc == 0)
			return;
		CU_ASSERT_EQUAL_FATAL(rc, -EAGAIN);
		CU_ASSERT_EQUAL(st->outcome, ST_HOOK_RUNNING);
		CU_ASSERT_FATAL(mono_ns() < give_up);
	}
}

static void assert_reaped(pid_t pid)
{
	errno = 0;
	CU_ASSERT_EQUAL(waitpid(pid, NULL, WNOHANG), -1);
	CU_ASSERT_EQUAL(errno, ECHILD);
}

/* A decision with a table of n backends: its JSON is larger than a pipe's
 * 64 KiB when n is 1500, which a reader that is slow must not block. */
static char *decision_json(size_t n)
{
	struct st_policy_decision d;
	struct st_actuator_backend *t = calloc(n, sizeof(*t));
	size_t cap = 256 + n * 160;
	char *buf = malloc(cap);

	CU_ASSERT_FATAL(t && buf);
	memset(&d, 0, sizeof(d));
	d.id = 42;
	d.kind = ST_POLICY_SCALE_UP;
	snprintf(d.pool, sizeof(d.pool), "general");
	snprintf(d.backend, sizeof(d.backend), "b2");
	d.triggers = ST_POLICY_TRIGGER_PREDICTIVE;
	d.n_reasons = 1;
	d.reasons[0].trigger = ST_POLICY_TRIGGER_PREDICTIVE;
	snprintf(d.reasons[0].text, sizeof(d.reasons[0].text), "forecast \"0.9\"");
	d.inputs.utilization = 0.5;
	d.inputs.forecast_utilization = NAN;
	for (size_t i = 0; i < n; i++) {
		snprintf(t[i].name, sizeof(t[i].name), "b%zu", i);
		t[i].id = (uint32_t)i;
		t[i].address.af = AF_INET;
		t[i].address.bytes[0] = 10;
		t[i].address.bytes[2] = (uint8_t)(i >> 8);
		t[i].address.bytes[3] = (uint8_t)i;
		t[i].weight = (uint32_t)i + 1;
	}
	d.table = t;
	d.n_table = n;
	CU_ASSERT_FATAL(st_policy_decision_json(&d, buf, cap) > 0);
	free(t);
	return buf;
}

static void test_ready_hook_reads_the_decision(void)
{
	struct st_config_hook cfg;
	struct st_hook_status st;
	struct st_hook *h;
	char *json = decision_json(1500);
	char path[128];
	json_error_t jerr;
	json_t *root, *table;
	pid_t pid;

	CU_ASSERT(strlen(json) > 65536);
	/* the script is slow to start reading: the parent never waits on it */
	script(&cfg, "ok.sh", "sleep 0.2\ncat > \"$1\"\nexit 0\n", "got.json", 5000);
	h = start(&cfg, json);
	pid = st_hook_pid(h);
	run(h, &st);
	CU_ASSERT_EQUAL(st.outcome, ST_HOOK_EXITED);
	CU_ASSERT_EQUAL(st.exit_status, 0);
	CU_ASSERT_TRUE(st.ready);
	CU_ASSERT(st.duration_ns >= 200000000ull);
	assert_reaped(pid);
	CU_ASSERT_EQUAL(st_hook_poll(h, &st), 0);          /* again: same status */
	CU_ASSERT_TRUE(st.ready);
	CU_ASSERT_EQUAL(st_hook_timeout_ms(h), -1);
	st_hook_destroy(h);

	snprintf(path, sizeof(path), "%s/got.json", dir);
	root = json_load_file(path, 0, &jerr);
	CU_ASSERT_FATAL(root != NULL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(root, "id")), 42);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(root, "kind")), "scale_up");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(root, "backend")), "b2");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_array_get(json_object_get(root, "reasons"), 0), "text")), "forecast \"0.9\"");
	CU_ASSERT_TRUE(json_is_null(json_object_get(json_object_get(root, "inputs"),
						    "forecast_utilization")));
	table = json_object_get(root, "table");
	CU_ASSERT_EQUAL(json_array_size(table), 1500);
	/* entry 999: 10.0.3.231 (999 = 3 x 256 + 231), weight 1000 */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(table, 999),
								 "address")), "10.0.3.231");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(table, 999),
							   "weight")), 1000);
	json_decref(root);
	free(json);
}

static void test_exit_status_is_recorded(void)
{
	struct st_config_hook cfg;
	struct st_hook_status st;
	struct st_hook *h;

	script(&cfg, "three.sh", "cat > /dev/null\nexit 3\n", NULL, 5000);
	h = start(&cfg, "{}");
	run(h, &st);
	CU_ASSERT_EQUAL(st.outcome, ST_HOOK_EXITED);
	CU_ASSERT_EQUAL(st.exit_status, 3);
	CU_ASSERT_FALSE(st.ready);
	assert_reaped(st_hook_pid(h));
	st_hook_destroy(h);
}

static void test_killed_by_a_signal(void)
{
	struct st_config_hook cfg;
	struct st_hook_status st;
	struct st_hook *h;

	script(&cfg, "suicide.sh", "kill -KILL $$\nexit 0\n", NULL, 5000);
	h = start(&cfg, NULL);
	run(h, &st);
	CU_ASSERT_EQUAL(st.outcome, ST_HOOK_SIGNALED);
	CU_ASSERT_EQUAL(st.signal, SIGKILL);
	CU_ASSERT_FALSE(st.ready);
	assert_reaped(st_hook_pid(h));
	st_hook_destroy(h);
}

/* Whether process `pid` is gone or a zombie (killed, awaiting its new
 * parent's reaping). */
static bool dead(pid_t pid)
{
	char path[64], stat[256];
	const char *state;
	FILE *f;
	bool gone;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	gone = !fgets(stat, sizeof(stat), f);
	fclose(f);
	if (gone)
		return true;
	state = strrchr(stat, ')');     /* "pid (comm) S ..." */
	return state && state[1] == ' ' && (state[2] == 'Z' || state[2] == 'X');
}

static void test_timeout_kills_the_group(void)
{
	struct st_config_hook cfg;
	struct st_hook_status st;
	struct st_hook *h;
	char path[128];
	uint64_t t0 = mono_ns(), elapsed;
	int grandchild = 0;
	FILE *f;

	/* a child of its own in the background, then a long wait */
	script(&cfg, "slow.sh", "sleep 30 &\necho $! > \"$1\"\nsleep 30\n", "child.pid", 300);
	h = start(&cfg, "{}");
	run(h, &st);
	elapsed = mono_ns() - t0;
	CU_ASSERT_EQUAL(st.outcome, ST_HOOK_TIMED_OUT);
	CU_ASSERT_EQUAL(st.signal, SIGKILL);
	CU_ASSERT_FALSE(st.ready);
	CU_ASSERT(elapsed >= 300000000ull);          /* not before the deadline */
	CU_ASSERT(elapsed < 5000000000ull);          /* long before the 30 s sleep */
	assert_reaped(st_hook_pid(h));
	st_hook_destroy(h);
	snprintf(path, sizeof(path), "%s/child.pid", dir);
	f = fopen(path, "r");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(fscanf(f, "%d", &grandchild), 1);
	fclose(f);
	CU_ASSERT_FATAL(grandchild > 0);
	for (int i = 0; i < 100 && !dead(grandchild); i++)
		usleep(10000);
	CU_ASSERT_TRUE(dead(grandchild));            /* the whole group was killed */
}

static void test_destroy_while_running(void)
{
	struct st_config_hook cfg;
	struct st_hook *h;
	pid_t pid;
	uint64_t t0;

	script(&cfg, "forever.sh", "sleep 30\n", NULL, 600000);
	h = start(&cfg, "{}");
	pid = st_hook_pid(h);
	CU_ASSERT(st_hook_timeout_ms(h) > 590000);
	t0 = mono_ns();
	st_hook_destroy(h);
	CU_ASSERT(mono_ns() - t0 < 2000000000ull);
	assert_reaped(pid);
}

static void test_bad_commands(void)
{
	struct st_config_hook cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.timeout_ms = 1000;
	errno = 0;
	CU_ASSERT_PTR_NULL(st_hook_start(&cfg, "{}", 2));      /* no command */
	CU_ASSERT_EQUAL(errno, EINVAL);
	cfg.argc = 1;
	snprintf(cfg.argv[0], sizeof(cfg.argv[0]), "bin/true");
	errno = 0;
	CU_ASSERT_PTR_NULL(st_hook_start(&cfg, "{}", 2));      /* not absolute */
	CU_ASSERT_EQUAL(errno, EINVAL);
	setup_dir();
	snprintf(cfg.argv[0], sizeof(cfg.argv[0]), "%s/no-such-hook", dir);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_hook_start(&cfg, "{}", 2));
	CU_ASSERT_EQUAL(errno, ENOENT);
	assert_reaped(-1);                                     /* nothing left behind */
	st_hook_destroy(NULL);
	CU_ASSERT_STRING_EQUAL(st_hook_outcome_name(ST_HOOK_TIMED_OUT), "timed_out");
	CU_ASSERT_PTR_NULL(st_hook_outcome_name((enum st_hook_outcome)9));
}

static void test_report_worst_call(void)
{
	/* the figure for the report; each call was asserted on the way */
	printf("\n  worst loop-facing call: %.3f ms\n", worst_call_ns / 1e6);
	CU_ASSERT(worst_call_ns < CALL_MAX_NS);
}

ST_TEST_MAIN("control/policy/hook",
	ST_TEST(test_ready_hook_reads_the_decision),
	ST_TEST(test_exit_status_is_recorded),
	ST_TEST(test_killed_by_a_signal),
	ST_TEST(test_timeout_kills_the_group),
	ST_TEST(test_destroy_while_running),
	ST_TEST(test_bad_commands),
	ST_TEST(test_report_worst_call))
