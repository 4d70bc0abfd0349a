/*
 * shadowctl profiles: the minimal consumer of the data plane's ring (until
 * shadowtap-cp reads it): every Shadow Profile record is taken from the
 * ring, parsed, and printed as `shadowctl analyze` prints it; so is every
 * Backend Metrics record (shadowtap/backends.h, told apart by its magic).
 * The ring has one consumer: this command and shadowtap-cp exclude each
 * other.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends_print.h"
#include "print.h"
#include "shadowctl.h"
#include "shadowtap/backends.h"
#include "shadowtap/ring.h"

#define POLL_NS 2000000l             /* sleep when the ring is empty */
#define STALE_NS 2000000000ull       /* a producer silent this long is gone */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void nap(void)
{
	const struct timespec ts = { 0, POLL_NS };

	nanosleep(&ts, NULL);
}

static void usage(FILE *out)
{
	fputs(
"usage: shadowctl profiles [--instance NAME] [--json] [--drain | --until-exit]\n"
"                          [--wait-ms N]\n"
"\n"
"Takes the Shadow Profiles that shadowtap-dp writes to its shared-memory ring\n"
"(/dev/shm/shadowtap-NAME) and prints each, as `shadowctl analyze` does.  The\n"
"ring has one consumer: do not run this beside shadowtap-cp.  Records taken\n"
"here are gone from the ring.\n"
"\n"
"  --instance NAME  the data plane's instance (default: default)\n"
"  --json           one JSON object per profile (JSON lines), then one object\n"
"                   of counters; default: a text report\n"
"  --drain          print what the ring holds now, then exit\n"
"  --until-exit     print until the data plane has exited and the ring is\n"
"                   empty; default: until SIGINT/SIGTERM\n"
"  --wait-ms N      wait up to N ms for the ring to appear (default 0)\n"
"  -h, --help       this help\n"
"\n"
"Exit status: 0; 1 when the ring cannot be read or a record is rejected; 2 on\n"
"bad usage.\n", out);
}

int shadowctl_profiles(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "drain", no_argument, NULL, 'd' },
		{ "until-exit", no_argument, NULL, 'u' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *instance = "default";
	bool json = false, drain = false, until_exit = false;
	unsigned long long wait_ms = 0;
	uint64_t printed = 0, backends = 0, rejected = 0, corrupt = 0, resyncs = 0, deadline;
	struct st_printer *printer = NULL;
	struct st_ring_stats rs;
	struct st_ring *ring;
	int opt, rc = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			instance = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'd':
			drain = true;
			break;
		case 'u':
			until_exit = true;
			break;
		case 'w': {
			char *end;

			errno = 0;
			wait_ms = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' ||
			    wait_ms > 3600000) {
				fprintf(stderr, "shadowctl profiles: --wait-ms: '%s' is not "
					"a number of milliseconds in 0..3600000\n", optarg);
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (drain && until_exit)) {
		fprintf(stderr, "shadowctl profiles: %s\n", optind != argc
			? "unexpected argument" : "--drain or --until-exit, not both");
		usage(stderr);
		return 2;
	}
	deadline = monotonic_ns() + wait_ms * 1000000ull;
	for (;;) {
		ring = st_ring_consumer_open(instance);
		if (ring || (errno != ENOENT && errno != EAGAIN) ||
		    monotonic_ns() >= deadline)
			break;
		nap();
	}
	if (!ring) {
		fprintf(stderr, "shadowctl profiles: ring '%s': %s\n", instance,
			errno == ENOENT ? "no such ring (is shadowtap-dp running with "
					  "this --instance?)"
			: errno == EBUSY ? "another consumer is attached"
			: strerror(errno));
		return errno == EINVAL || errno == ENAMETOOLONG ? 2 : 1;
	}
	printer = st_printer_create(json);
	if (!printer) {
		fprintf(stderr, "shadowctl profiles: %s\n", strerror(ENOMEM));
		goto out_ring;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop) {
		const void *rec;
		const char *why;
		uint32_t len;
		int r = st_ring_peek(ring, &rec, &len);

		if (r == 0 && st_backends_is_record(rec, len)) {
			int p;

			if (json)
				fputs("{\"backends_record\":", stdout);
			p = st_backends_print(stdout, rec, len, json, &why);
			st_ring_release(ring);
			if (json)
				fputs(p < 0 ? "null}\n" : "}\n", stdout);
			if (p < 0) {
				fprintf(stderr, "shadowctl profiles: backends record rejected: %s\n",
					why ? why : strerror(-p));
				rejected++;
			} else {
				backends++;
			}
			continue;
		}
		if (r == 0) {
			int p = st_printer_record(printer, rec, len, &why);

			st_ring_release(ring);
			if (p < 0) {
				fprintf(stderr, "shadowctl profiles: record rejected: %s\n",
					why ? why : strerror(-p));
				rejected++;
			} else {
				printed++;
			}
			continue;
		}
		if (r == -ESTALE) {
			resyncs++;
			continue;
		}
		if (r == -EBADMSG) {
			corrupt++;
			continue;
		}
		/* -EAGAIN: empty */
		fflush(stdout);
		if (drain)
			break;
		if (until_exit &&
		    !st_ring_producer_alive(ring, monotonic_ns(), STALE_NS)) {
			/* Gone: what it committed before is visible now. */
			if (st_ring_peek(ring, &rec, &len) == -EAGAIN)
				break;
			continue;
		}
		nap();
	}
	st_ring_stats(ring, &rs);
	if (json)
		printf("{\"counters\":{\"profiles\":%" PRIu64 ",\"backends_records\":%" PRIu64
		       ",\"rejected\":%" PRIu64
		       ",\"corrupt_slots\":%" PRIu64 ",\"resyncs\":%" PRIu64
		       ",\"ring\":{\"committed\":%" PRIu64 ",\"dropped_full\":%" PRIu64
		       ",\"dropped_oversize\":%" PRIu64 ",\"lost_on_reinit\":%" PRIu64
		       ",\"released\":%" PRIu64 ",\"generation\":%" PRIu64 "}}}\n",
		       printed, backends, rejected, corrupt, resyncs, rs.committed, rs.dropped_full,
		       rs.dropped_oversize, rs.lost_on_reinit, rs.released, rs.generation);
	else
		printf("total: %" PRIu64 " profiles and %" PRIu64 " backends records read, %"
		       PRIu64 " rejected, %" PRIu64
		       " corrupt slots; ring: %" PRIu64 " committed, %" PRIu64
		       " dropped (full), %" PRIu64 " dropped (oversize)\n",
		       printed, backends, rejected, corrupt, rs.committed, rs.dropped_full,
		       rs.dropped_oversize);
	rc = rejected || corrupt ? 1 : 0;
	st_printer_destroy(printer);
out_ring:
	st_ring_close(ring);
	return rc;
}
