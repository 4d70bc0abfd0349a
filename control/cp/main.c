/*
 * shadowtap-cp: the control-plane daemon.  It takes every Shadow Profile
 * the data plane (shadowtap-dp) writes to its shared-memory ring, parses
 * it, hands it to the analysis seam (analysis.h), writes the signals that
 * raises to the event log and to the control socket's followers, and
 * answers shadowctl (server.c) and Prometheus (metrics.c).  The ring also
 * carries one Backend Metrics record per epoch (magic "STBE",
 * shadowtap/backends.h): it goes to the per-backend aggregation
 * (backends.h), which the views and the policy read.
 *
 * Threading: one thread, one epoll loop (see cp.h).  The ring has no file
 * descriptor, so the loop polls it: it drains the ring, and sleeps in
 * epoll_wait at most ST_CP_POLL_MS while the ring is empty (profiles come
 * once per epoch, 1 s by default, so the poll costs nothing and adds at
 * most 5 ms of latency).  Signals arrive through a signalfd.
 *
 * The ring's lifecycle, as the consumer sees it:
 *   - absent at start (ENOENT/EAGAIN): retried every 200 ms; an instance
 *     name the ring refuses (EINVAL) is fatal; a ring another consumer
 *     holds (EBUSY) is retried and said once;
 *   - the data plane restarts and takes the object over: the generation
 *     goes up (counted, logged); the records it kept are read on;
 *   - the data plane re-initialises it (another geometry): peek says
 *     -ESTALE, the ring library has re-attached (counted);
 *   - the object's name is removed and a new object created under it
 *     while the producer of ours is dead: noticed by the inode of
 *     /dev/shm/shadowtap-<instance> changing; we re-open (counted).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <cap-ng.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef ST_HAVE_XDP_LB
#include "control/actuate/xdplb/xdplb.h"
#endif
#include "control/cp/cp.h"
#include "control/cp/ctl_json.h"

#define EVENTS_PER_WAIT 32
#define RECORDS_PER_TURN 256     /* then the sockets get a turn */
#define TICK_NS 1000000000ull

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t st_cp_monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t st_cp_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int st_cp_watch_add(struct st_cp *cp, int fd, uint32_t events, struct st_cp_watch *w)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(cp->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int st_cp_watch_mod(struct st_cp *cp, int fd, uint32_t events, struct st_cp_watch *w)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(cp->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

void st_cp_watch_del(struct st_cp *cp, int fd)
{
	epoll_ctl(cp->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void log_event(struct st_cp *cp, json_t *ev)
{
	if (!ev)
		return;
	json_object_set_new(ev, "time_ns", json_integer((json_int_t)st_cp_realtime_ns()));
	if (cp->evlog && st_cp_evlog_write(cp->evlog, ev))
		cp->n.evlog_write_errors++;
	json_decref(ev);
}

/* ---- the ring ---- */

static ino_t shm_ino(const char *instance)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "/dev/shm/shadowtap-%s", instance);
	return stat(path, &sb) ? 0 : sb.st_ino;
}

static int attach(struct st_cp *cp, uint64_t now_mono)
{
	static bool said_busy;
	struct st_ring_stats rs;
	struct st_ring *r;

	if (now_mono < cp->next_attach_ns)
		return 0;
	cp->next_attach_ns = now_mono + ST_CP_ATTACH_RETRY_NS;
	r = st_ring_consumer_open(cp->control.instance);
	if (!r) {
		if (errno == EINVAL || errno == ENAMETOOLONG) {
			fprintf(stderr, "shadowtap-cp: instance '%s' is not a ring name\n",
				cp->control.instance);
			return -EINVAL;
		}
		if (errno == EBUSY && !said_busy) {
			fprintf(stderr, "shadowtap-cp: ring '%s' has another consumer "
				"(shadowctl profiles?); waiting\n", cp->control.instance);
			said_busy = true;
		}
		return 0;
	}
	said_busy = false;
	if (cp->ring) {    /* a new object under the name: leave the old one */
		st_ring_close(cp->ring);
		cp->n.ring_reopens++;
	}
	cp->ring = r;
	cp->ring_ino = shm_ino(cp->control.instance);
	st_ring_stats(r, &rs);
	cp->ring_generation = rs.generation;
	cp->n.ring_attaches++;
	fprintf(stderr, "shadowtap-cp: attached to ring '%s', generation %llu\n",
		cp->control.instance, (unsigned long long)rs.generation);
	log_event(cp, json_pack("{s:s, s:s, s:I, s:I}", "event", "ring_attached",
				"instance", cp->control.instance,
				"generation", (json_int_t)rs.generation,
				"attaches", (json_int_t)cp->n.ring_attaches));
	return 0;
}

/* Notices a producer that took the ring over, or a new object under the
 * name while ours has no live producer. */
static void watch_ring(struct st_cp *cp, uint64_t now_mono)
{
	struct st_ring_stats rs;
	ino_t ino;

	st_ring_stats(cp->ring, &rs);
	if (rs.generation != cp->ring_generation) {
		cp->ring_generation = rs.generation;
		cp->n.ring_generation_changes++;
		fprintf(stderr, "shadowtap-cp: ring '%s' has a new producer, generation %llu\n",
			cp->control.instance, (unsigned long long)rs.generation);
		log_event(cp, json_pack("{s:s, s:s, s:I}", "event", "ring_generation",
					"instance", cp->control.instance,
					"generation", (json_int_t)rs.generation));
	}
	if (st_ring_producer_alive(cp->ring, now_mono, ST_CP_PRODUCER_STALE_NS))
		return;
	ino = shm_ino(cp->control.instance);
	if (ino && ino != cp->ring_ino)
		attach(cp, now_mono);
}

/* The reconfiguration's events go to the same log. */
static void log_cb(void *ctx, json_t *ev)
{
	log_event(ctx, ev);
}

static void raise_signal(struct st_cp *cp, const struct st_signal *sig)
{
	cp->n.signals_raised++;
	cp->n.signals_by_severity[sig->severity & 3]++;
	cp->recent[cp->recent_next] = *sig;
	cp->recent_next = (cp->recent_next + 1) % ST_CP_SIGNALS_KEPT;
	if (cp->recent_len < ST_CP_SIGNALS_KEPT)
		cp->recent_len++;
	log_event(cp, st_ctl_signal_json(sig));
	st_cp_server_push_signal(cp->server, sig);
}

/* A Backend Metrics record (shadowtap/backends.h): the epoch's figures per
 * backend, for the views and the policy's next judgement. */
static void take_backends(struct st_cp *cp, const void *rec, uint32_t len, uint8_t *scratch)
{
	struct st_backends_view v;
	const char *why = NULL;

	if (len > ST_BACKENDS_MAX_BYTES) {
		cp->n.backends_bad++;
		cp->last_bad_backends_reason = "longer than ST_BACKENDS_MAX_BYTES";
		return;
	}
	memcpy(scratch, rec, len);
	if (st_backends_parse(scratch, len, &v, &why)) {
		cp->n.backends_bad++;
		cp->last_bad_backends_reason = why;
		return;
	}
	cp->n.backends_parsed++;
	/* a duplicate or older epoch is counted there and left out */
	st_cp_backends_take(cp->backends, &v);
}

static void take_record(struct st_cp *cp, const void *rec, uint32_t len, uint8_t *scratch)
{
	struct st_profile_view v;
	struct st_signal sig;
	const char *why = NULL;
	bool raised = false;

	cp->n.ring_records++;
	if (st_backends_is_record(rec, len)) {
		take_backends(cp, rec, len, scratch);
		return;
	}
	if (len > ST_PROFILE_MAX_BYTES) {
		cp->n.profiles_too_big++;
		return;
	}
	/* a private copy: the view points into it, and shm is another
	 * process's to scribble on */
	memcpy(scratch, rec, len);
	if (st_profile_parse(scratch, len, &v, &why)) {
		cp->n.profiles_bad++;
		cp->last_bad_reason = why;
		return;
	}
	cp->n.profiles_parsed++;
	/* a profile of a new epoch: the policy judges the one before, as the
	 * streams' state holds it until this profile is analysed */
	st_cp_reconf_profile(cp->reconf, cp->analysis, v.meta.epoch_start_ns,
			     st_cp_realtime_ns(), log_cb, cp);
	if (st_analysis_process(cp->analysis, &v, st_cp_realtime_ns(), &sig, &raised)) {
		cp->n.profiles_unanalysed++;
		return;
	}
	if (raised)
		raise_signal(cp, &sig);
}

/* Takes up to RECORDS_PER_TURN records; returns how many it took. */
static unsigned drain_ring(struct st_cp *cp, uint8_t *scratch)
{
	unsigned taken = 0;

	while (taken < RECORDS_PER_TURN) {
		const void *rec;
		uint32_t len;
		int rc = st_ring_peek(cp->ring, &rec, &len);

		if (rc == -EAGAIN)
			break;
		if (rc == -ESTALE) {
			cp->n.ring_resyncs++;
			cp->ring_ino = shm_ino(cp->control.instance);
			continue;
		}
		if (rc == -EBADMSG) {
			cp->n.ring_corrupt++;
			continue;
		}
		take_record(cp, rec, len, scratch);
		st_ring_release(cp->ring);
		taken++;
	}
	return taken;
}

/* ---- config ---- */

struct overrides {
	const char *instance, *state_dir, *socket, *prometheus, *event_log;
	bool reactive_only;
};

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static void effective_control(struct st_cp *cp, const struct overrides *o)
{
	cp->control = *st_config_control(cp->cfg);
	if (o->instance)
		copy_str(cp->control.instance, sizeof(cp->control.instance), o->instance);
	if (o->state_dir)
		copy_str(cp->control.state_dir, sizeof(cp->control.state_dir), o->state_dir);
	if (o->socket)
		copy_str(cp->control.socket_path, sizeof(cp->control.socket_path), o->socket);
	if (o->prometheus)
		copy_str(cp->control.prometheus, sizeof(cp->control.prometheus),
			 strcmp(o->prometheus, "off") ? o->prometheus : "");
	if (o->event_log)
		copy_str(cp->control.event_log, sizeof(cp->control.event_log), o->event_log);
	if (cp->control.event_log[0])
		copy_str(cp->event_log_path, sizeof(cp->event_log_path), cp->control.event_log);
	else
		snprintf(cp->event_log_path, sizeof(cp->event_log_path), "%s/events.jsonl",
			 cp->control.state_dir);
}

/* SIGHUP: a good file replaces the config; a bad one keeps the old.  The
 * control section's addresses (socket, Prometheus, event log, instance)
 * take effect at the next start, and the options given at start still
 * override them. */
static void reload(struct st_cp *cp)
{
	char err[ST_CP_RELOAD_ERR_MAX];
	struct st_config *fresh;

	cp->n.reloads++;
	cp->last_reload_real_ns = st_cp_realtime_ns();
	if (!cp->config_path) {
		cp->last_reload_ok = true;
		snprintf(cp->last_reload_error, sizeof(cp->last_reload_error),
			 "no --config file: nothing to reload");
		fprintf(stderr, "shadowtap-cp: SIGHUP: no --config file, nothing to reload\n");
		return;
	}
	err[0] = '\0';
	fresh = st_config_load(cp->config_path, err, sizeof(err));
	if (!fresh) {
		cp->n.reload_failures++;
		cp->last_reload_ok = false;
		copy_str(cp->last_reload_error, sizeof(cp->last_reload_error),
			 err[0] ? err : strerror(errno));
		fprintf(stderr, "shadowtap-cp: reload refused, the old config stays: %s\n",
			cp->last_reload_error);
		log_event(cp, json_pack("{s:s, s:b, s:s, s:s}", "event", "config_reload",
					"ok", 0, "file", cp->config_path,
					"error", cp->last_reload_error));
		return;
	}
	{
		/* the policy holds the config: a new one, which adopts the
		 * kernel's tables and carries the old one's streams and
		 * cooldowns over (reconf.h) */
		struct st_cp_reconf *r = st_cp_reconf_create(fresh, cp->reactive_only,
							     cp->control.instance, err,
							     sizeof(err));

		if (!r && errno) {
			cp->n.reload_failures++;
			cp->last_reload_ok = false;
			copy_str(cp->last_reload_error, sizeof(cp->last_reload_error), err);
			fprintf(stderr, "shadowtap-cp: reload refused, the old config stays: %s\n",
				err);
			st_config_destroy(fresh);
			return;
		}
		st_cp_reconf_carry(r, cp->reconf);
		st_cp_reconf_destroy(cp->reconf);
		cp->reconf = r;
		st_cp_backends_reconfigure(cp->backends, fresh);
		st_cp_reconf_set_backends(cp->reconf, cp->backends);
	}
	st_analysis_reconfigure(cp->analysis, fresh);
	st_config_destroy(cp->cfg);
	cp->cfg = fresh;
	cp->last_reload_ok = true;
	cp->last_reload_error[0] = '\0';
	fprintf(stderr, "shadowtap-cp: reloaded %s\n", cp->config_path);
	log_event(cp, json_pack("{s:s, s:b, s:s}", "event", "config_reload", "ok", 1,
				"file", cp->config_path));
}

/* ---- signals ---- */

struct sigwatch {
	struct st_cp_watch w;
	struct st_cp *cp;
	int fd;
	bool stop, hup;
};

static void sig_on_event(struct st_cp_watch *w, uint32_t events)
{
	struct sigwatch *sw = (struct sigwatch *)w;
	struct signalfd_siginfo si;

	(void)events;
	while (read(sw->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			sw->hup = true;
		else
			sw->stop = true;
	}
}

/* ---- privileges ---- */

/*
 * Before its first thread starts (capabilities are per thread; the model
 * trainer's inherits these), the daemon keeps only what it uses:
 * CAP_NET_ADMIN (netlink changes to nexthops and routes, attaching XDP)
 * and CAP_BPF (maps and programs), of those it has; every other capability
 * goes from the effective, permitted and inheritable sets and the bounding
 * set, so that neither it nor a hook it runs can take them back (a hook
 * runs with these two at most).  Nothing it opens later needs more: its
 * state, socket and ring are its own user's files.  A daemon started
 * without them runs on with none.  The XDP balancer (bpf/lb.bpf.c) is
 * written to pass the verifier with these two (no variable packet-pointer
 * arithmetic, which needs CAP_PERFMON).  libxdp's multi-program
 * dispatcher needs CAP_SYS_ADMIN, so the balancer attaches alone.
 * Before the drop, a bpffs is mounted on /sys/fs/bpf when xdp_lb is
 * enabled and none is there (its pins).
 */
static int drop_capabilities(char *msg, size_t msg_len)
{
	static const int keep[] = { CAP_NET_ADMIN, CAP_BPF };
	bool have[ST_ARRAY_SIZE(keep)], bounds;

	if (capng_get_caps_process()) {
		snprintf(msg, msg_len, "capabilities: cannot read this process's");
		return -EPERM;
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(keep); i++)
		have[i] = capng_have_capability(CAPNG_PERMITTED, (unsigned)keep[i]);
	/* the bounding set can only shrink with CAP_SETPCAP */
	bounds = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_BOTH);
	for (size_t i = 0; i < ST_ARRAY_SIZE(keep); i++)
		if (have[i] && capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
					    CAPNG_BOUNDING_SET, (unsigned)keep[i])) {
			snprintf(msg, msg_len, "capabilities: cannot keep %d", keep[i]);
			return -EPERM;
		}
	if (capng_apply(bounds ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS)) {
		snprintf(msg, msg_len, "capabilities: cannot drop the others");
		return -EPERM;
	}
	return 0;
}

/* ---- main ---- */

static void usage(FILE *out)
{
	fputs(
"usage: shadowtap-cp [--config FILE] [--instance NAME] [--state-dir DIR]\n"
"                    [--socket PATH] [--prometheus HOST:PORT|off]\n"
"                    [--event-log PATH] [--reactive-only] [--foreground]\n"
"\n"
"The shadowtap control plane: reads the Shadow Profiles shadowtap-dp writes\n"
"to its shared-memory ring (/dev/shm/shadowtap-NAME; waits for it, and\n"
"re-attaches when the data plane restarts), keeps per-stream figures, writes\n"
"signals to the event log, and answers shadowctl on a UNIX socket and\n"
"Prometheus over HTTP.  When the config has pools, its policy decides\n"
"once per epoch where streams go and how many backends each pool runs,\n"
"runs the pre-provisioning hook and the enabled actuators, and logs each\n"
"decision (shadowctl decisions).  The options override the config file's\n"
"`control` section; without a file, its defaults (shown here) apply.\n"
"\n"
"  --config FILE       the shadowtap config file; SIGHUP reloads it (a bad\n"
"                      file keeps the config in use and says file:line why)\n"
"  --instance NAME     the data plane's instance, i.e. its ring (default)\n"
"  --state-dir DIR     state folder, created if missing (/var/lib/shadowtap)\n"
"  --socket PATH       control socket, mode 0660 (/run/shadowtap/cp.sock);\n"
"                      refuses to start when another shadowtap-cp owns it\n"
"  --prometheus ADDR   HOST:PORT of the /metrics endpoint (127.0.0.1:9464),\n"
"                      or off\n"
"  --event-log PATH    JSON-lines event log (DIR/events.jsonl)\n"
"  --reactive-only     the policy ignores the predictive inputs (forecasts,\n"
"                      horizons) and reacts to measured load only\n"
"  --foreground        run in the foreground; this is the only mode (a\n"
"                      service manager supervises the process), the option\n"
"                      is accepted for clarity\n"
"  -h, --help          this help\n"
"\n"
"SIGINT/SIGTERM stop it cleanly (the socket is removed); SIGHUP reloads the\n"
"config.  Exit status: 0 after a clean stop, 1 on a start-up error, 2 on bad\n"
"usage.\n", out);
}

static int parse_args(int argc, char **argv, struct overrides *o, const char **config)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "instance", required_argument, NULL, 'i' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "prometheus", required_argument, NULL, 'p' },
		{ "event-log", required_argument, NULL, 'e' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "reactive-only", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': *config = optarg; break;
		case 'i': o->instance = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 's': o->socket = optarg; break;
		case 'p': o->prometheus = optarg; break;
		case 'e': o->event_log = optarg; break;
		case 'f': break;
		case 'r': o->reactive_only = true; break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "shadowtap-cp: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if ((o->instance && strlen(o->instance) >= ST_CONFIG_NAME_BYTES) ||
	    (o->state_dir && strlen(o->state_dir) > ST_CONFIG_PATH_MAX) ||
	    (o->event_log && strlen(o->event_log) > ST_CONFIG_PATH_MAX) ||
	    (o->socket && strlen(o->socket) >= 108) ||
	    (o->prometheus && strlen(o->prometheus) >= 64)) {
		fprintf(stderr, "shadowtap-cp: an option's value is too long\n");
		return 2;
	}
	return -1;
}

static int run(struct st_cp *cp, struct sigwatch *sw)
{
	uint8_t *scratch = malloc(ST_MAX(ST_PROFILE_MAX_BYTES, ST_BACKENDS_MAX_BYTES));
	uint64_t next_tick = 0;

	if (!scratch) {
		fprintf(stderr, "shadowtap-cp: %s\n", strerror(ENOMEM));
		return 1;
	}
	while (!sw->stop) {
		struct epoll_event ev[EVENTS_PER_WAIT];
		uint64_t now = st_cp_monotonic_ns();
		unsigned taken = 0;
		int n;

		if (!cp->ring) {
			if (attach(cp, now)) {
				free(scratch);
				return 1;
			}
		}
		if (cp->ring)
			taken = drain_ring(cp, scratch);
		st_cp_reconf_tick(cp->reconf, log_cb, cp);
		if (now >= next_tick) {
			next_tick = now + TICK_NS;
			if (cp->ring)
				watch_ring(cp, now);
			st_cp_server_tick(cp->server, now);
			if (cp->metrics)
				st_cp_metrics_tick(cp->metrics, now);
		}
		n = epoll_wait(cp->epfd, ev, EVENTS_PER_WAIT, taken ? 0 : ST_CP_POLL_MS);
		for (int i = 0; i < n; i++) {
			struct st_cp_watch *w = ev[i].data.ptr;

			w->on_event(w, ev[i].events);
		}
		if (sw->hup) {
			sw->hup = false;
			reload(cp);
		}
	}
	free(scratch);
	return 0;
}

static int open_config(struct st_cp *cp, const char *path)
{
	char err[ST_CP_RELOAD_ERR_MAX] = "";

	cp->config_path = path;
	cp->cfg = path ? st_config_load(path, err, sizeof(err)) : st_config_default();
	if (!cp->cfg) {
		fprintf(stderr, "shadowtap-cp: %s\n", err[0] ? err : strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct overrides o = { 0 };
	struct st_cp cp = { .epfd = -1 };
	struct sigwatch sw = { .w.on_event = sig_on_event, .cp = &cp, .fd = -1 };
	const char *config = NULL;
	char msg[512];
	sigset_t mask;
	int rc = parse_args(argc, argv, &o, &config);

	if (rc >= 0)
		return rc;
	rc = 1;
	if (open_config(&cp, config))
		return 1;
	effective_control(&cp, &o);
	cp.reactive_only = o.reactive_only;
	cp.start_mono_ns = st_cp_monotonic_ns();
	cp.start_real_ns = st_cp_realtime_ns();
	if (mkdir(cp.control.state_dir, 0750) && errno != EEXIST) {
		fprintf(stderr, "shadowtap-cp: state dir %s: %s\n", cp.control.state_dir,
			strerror(errno));
		goto out_config;
	}
	cp.evlog = st_cp_evlog_open(cp.event_log_path);
	if (!cp.evlog) {
		fprintf(stderr, "shadowtap-cp: event log %s: %s\n", cp.event_log_path,
			strerror(errno));
		goto out_config;
	}
	/* blocked before any thread starts (the model trainer's), so that
	 * every thread leaves them to the signalfd */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
#ifdef ST_HAVE_XDP_LB
	/* the XDP balancer's pins need a bpffs; mounting one needs
	 * CAP_SYS_ADMIN, which goes next (a failure shows when pinning) */
	if (st_config_actuators(cp.cfg)->xdp_lb.enabled && (rc = st_xdplb_bpffs_ensure()))
		fprintf(stderr, "shadowtap-cp: no bpffs on %s and cannot mount one: %s\n",
			ST_XDPLB_BPFFS, strerror(-rc));
	rc = 1;
#endif
	/* before any thread exists: capabilities are per thread */
	if (drop_capabilities(msg, sizeof(msg))) {
		fprintf(stderr, "shadowtap-cp: %s\n", msg);
		goto out_config;
	}
	cp.analysis = st_analysis_create(cp.cfg, cp.control.state_dir, msg, sizeof(msg));
	if (!cp.analysis) {
		fprintf(stderr, "shadowtap-cp: %s\n", msg);
		goto out_analysis;
	}
	cp.reconf = st_cp_reconf_create(cp.cfg, cp.reactive_only, cp.control.instance, msg,
					sizeof(msg));
	if (!cp.reconf && errno) {
		fprintf(stderr, "shadowtap-cp: %s\n", msg);
		goto out_analysis;
	}
	cp.backends = st_cp_backends_create(cp.cfg);
	if (!cp.backends) {
		fprintf(stderr, "shadowtap-cp: %s\n", strerror(errno));
		goto out_analysis;
	}
	st_cp_reconf_set_backends(cp.reconf, cp.backends);
	cp.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (cp.epfd < 0) {
		fprintf(stderr, "shadowtap-cp: %s\n", strerror(errno));
		goto out_analysis;
	}
	sw.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sw.fd < 0 || st_cp_watch_add(&cp, sw.fd, EPOLLIN, &sw.w)) {
		fprintf(stderr, "shadowtap-cp: signalfd: %s\n", strerror(errno));
		goto out_signalfd;
	}
	cp.server = st_cp_server_create(&cp, cp.control.socket_path, msg, sizeof(msg));
	if (!cp.server) {
		fprintf(stderr, "shadowtap-cp: control socket: %s\n", msg);
		goto out_signalfd;
	}
	if (cp.control.prometheus[0]) {
		cp.metrics = st_cp_metrics_create(&cp, cp.control.prometheus, msg, sizeof(msg));
		if (!cp.metrics) {
			fprintf(stderr, "shadowtap-cp: %s\n", msg);
			goto out_server;
		}
	}
	fprintf(stderr, "shadowtap-cp %s: instance '%s', socket %s, prometheus %s, "
		"event log %s\n", ST_CP_VERSION, cp.control.instance, cp.control.socket_path,
		cp.control.prometheus[0] ? cp.control.prometheus : "off", cp.event_log_path);
	log_event(&cp, json_pack("{s:s, s:s, s:i}", "event", "started",
				 "version", ST_CP_VERSION, "pid", (int)getpid()));
	rc = run(&cp, &sw);
	log_event(&cp, json_pack("{s:s}", "event", "stopped"));
	st_cp_metrics_destroy(cp.metrics);
out_server:
	st_cp_server_destroy(cp.server);
out_signalfd:
	if (sw.fd >= 0)
		close(sw.fd);
	st_ring_close(cp.ring);
out_analysis:
	if (cp.epfd >= 0)
		close(cp.epfd);
	st_cp_reconf_destroy(cp.reconf);
	st_cp_backends_destroy(cp.backends);
	st_analysis_destroy(cp.analysis);
	st_cp_evlog_close(cp.evlog);
out_config:
	st_config_destroy(cp.cfg);
	return rc;
}
