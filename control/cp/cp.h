/*
 * shadowtap-cp's shared state: what the daemon's modules (main.c: the loop,
 * the ring and the config; server.c: the control socket; metrics.c: the
 * Prometheus endpoint; evlog.c: the event log) read and update.
 *
 * Threading: ONE thread.  Everything runs in main.c's epoll loop: the ring
 * is polled (it has no file descriptor; the loop's timeout is
 * ST_CP_POLL_MS when it was empty), the sockets are non-blocking and
 * edge-free (level-triggered), the signals arrive through a signalfd.  No
 * lock exists because no two threads ever touch this state.  A request is
 * answered from the state as it is between two profiles.
 */
#ifndef ST_CONTROL_CP_CP_H
#define ST_CONTROL_CP_CP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "control/config/config.h"
#include "control/cp/analysis.h"
#include "control/cp/backends.h"
#include "control/cp/reconf.h"
#include "dataplane/compiler.h"
#include "shadowtap/ring.h"
#include "shadowtap/signal.h"

#ifndef ST_CP_VERSION
#define ST_CP_VERSION "unknown"
#endif

#define ST_CP_POLL_MS 5                /* ring poll period when it is empty */
#define ST_CP_ATTACH_RETRY_NS 200000000ull   /* ring absent: retry period */
#define ST_CP_PRODUCER_STALE_NS 3000000000ull /* silent producer: look for a new ring */
#define ST_CP_SIGNALS_KEPT 1024        /* recent signals kept in memory */
#define ST_CP_RELOAD_ERR_MAX 512

/* An epoll registration: data.ptr of the fd's event points at one. */
struct st_cp_watch {
	void (*on_event)(struct st_cp_watch *w, uint32_t events);
};

struct st_cp_counters {
	uint64_t ring_records;        /* records taken from the ring */
	uint64_t ring_corrupt;        /* -EBADMSG from peek */
	uint64_t ring_resyncs;        /* -ESTALE: re-initialised ring, re-attached */
	uint64_t ring_generation_changes; /* a new producer took the ring over */
	uint64_t ring_reopens;        /* the name now names another object */
	uint64_t ring_attaches;       /* successful consumer opens */
	uint64_t profiles_parsed;
	uint64_t profiles_bad;        /* st_profile_parse refused */
	uint64_t profiles_too_big;    /* longer than ST_PROFILE_MAX_BYTES */
	uint64_t profiles_unanalysed; /* st_analysis_process refused */
	uint64_t backends_parsed;     /* Backend Metrics records taken */
	uint64_t backends_bad;        /* st_backends_parse refused (or too large) */
	uint64_t signals_raised;
	uint64_t signals_by_severity[4];
	uint64_t evlog_write_errors;
	uint64_t reloads, reload_failures;
};

struct st_cp_server;
struct st_cp_metrics;
struct st_cp_evlog;

struct st_cp {
	int epfd;
	struct st_config *cfg;               /* the config in use */
	const char *config_path;             /* --config, or NULL */
	struct st_config_control control;    /* effective: config + options */
	char event_log_path[ST_CONFIG_PATH_MAX + 16]; /* + "/events.jsonl" */
	struct st_analysis *analysis;
	struct st_cp_reconf *reconf;         /* NULL: no pools in the config */
	struct st_cp_backends *backends;     /* per-backend metrics, latest epoch */
	const char *last_bad_backends_reason;/* static, from st_backends_parse */
	bool reactive_only;                  /* --reactive-only */
	struct st_ring *ring;                /* NULL while waiting for it */
	uint64_t ring_generation;
	ino_t ring_ino;
	uint64_t next_attach_ns;             /* CLOCK_MONOTONIC */
	uint64_t start_mono_ns, start_real_ns;
	struct st_cp_counters n;
	const char *last_bad_reason;         /* static, from st_profile_parse */
	struct st_signal recent[ST_CP_SIGNALS_KEPT];
	size_t recent_len, recent_next;
	bool last_reload_ok;
	uint64_t last_reload_real_ns;        /* 0: never */
	char last_reload_error[ST_CP_RELOAD_ERR_MAX];
	struct st_cp_server *server;
	struct st_cp_metrics *metrics;       /* NULL when off */
	struct st_cp_evlog *evlog;
};

uint64_t st_cp_monotonic_ns(void);
uint64_t st_cp_realtime_ns(void);

/* Registers/changes/removes fd in cp's epoll set; 0 or -errno. */
int st_cp_watch_add(struct st_cp *cp, int fd, uint32_t events, struct st_cp_watch *w);
int st_cp_watch_mod(struct st_cp *cp, int fd, uint32_t events, struct st_cp_watch *w);
void st_cp_watch_del(struct st_cp *cp, int fd);

/*
 * Control socket (server.c).  create: takes the socket at path (refuses
 * when a live shadowtap-cp holds it: NULL, errno EADDRINUSE; removes a
 * stale one), mode 0660, listening, registered in cp's loop.  NULL with
 * errno and a one-line reason in msg.  destroy closes every connection and
 * unlinks the socket; NULL is a no-op.  push_signal queues a SIGNAL push to
 * every follower.  tick closes idle connections.
 */
struct st_cp_server *st_cp_server_create(struct st_cp *cp, const char *path,
					 char *msg, size_t msg_len);
void st_cp_server_destroy(struct st_cp_server *s);
void st_cp_server_push_signal(struct st_cp_server *s, const struct st_signal *sig);
void st_cp_server_tick(struct st_cp_server *s, uint64_t now_ns);

struct st_cp_server_stats {
	uint64_t connections, refused, closed_idle, bad_requests, requests,
		 followers, pushes_dropped;
	unsigned open;
};
void st_cp_server_stats(const struct st_cp_server *s, struct st_cp_server_stats *st);

/*
 * Prometheus endpoint (metrics.c): HOST:PORT, an IPv4 or bracketed IPv6
 * literal or a name; NULL with errno and msg on error.  tick closes idle
 * connections.
 */
struct st_cp_metrics *st_cp_metrics_create(struct st_cp *cp, const char *hostport,
					   char *msg, size_t msg_len);
void st_cp_metrics_destroy(struct st_cp_metrics *m);
void st_cp_metrics_tick(struct st_cp_metrics *m, uint64_t now_ns);
uint64_t st_cp_metrics_scrapes(const struct st_cp_metrics *m);

/*
 * Event log (evlog.c): JSON lines appended to path (created 0640).  write
 * appends one object and a newline with one write(2); returns 0 or -errno.
 */
struct st_cp_evlog *st_cp_evlog_open(const char *path);
void st_cp_evlog_close(struct st_cp_evlog *l);
int st_cp_evlog_write(struct st_cp_evlog *l, const json_t *event);

#endif
