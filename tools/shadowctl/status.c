/*
 * shadowctl status: the running data plane's counters, read from its
 * status page (shadowtap/status.h): a table per core, the merger and the
 * ring, or the page's JSON document as it is (--json).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shadowctl.h"
#include "shadowtap/status.h"

static uint64_t u64(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static uint64_t drops_sum(const json_t *obj)
{
	const char *k;
	json_t *v;
	uint64_t n = 0;

	json_object_foreach((json_t *)obj, k, v)
		if (json_is_integer(v))
			n += (uint64_t)json_integer_value(v);
	return n;
}

static void print_table(const json_t *doc, uint64_t age_ns)
{
	const json_t *eng = json_object_get(doc, "engine");
	const json_t *cores = json_object_get(eng, "cores");
	const json_t *merger = json_object_get(eng, "merger");
	const json_t *ring = json_object_get(doc, "ring");
	const json_t *cap = json_object_get(eng, "capture");
	const json_t *backend = json_object_get(cap, "backend");
	size_t i;
	json_t *c;

	printf("shadowtap-dp pid %" PRIu64 ", instance %s, %s input, %" PRIu64
	       " workers, %s; updated %.1f s ago\n",
	       u64(doc, "pid"), json_string_value(json_object_get(doc, "instance")) ?: "?",
	       json_string_value(backend) ?: "?", u64(doc, "workers"),
	       json_is_true(json_object_get(eng, "running")) ? "running" : "finished",
	       (double)age_ns / 1e9);
	printf("%4s %12s %14s %12s %10s %8s %8s %8s %10s %10s %10s %9s %6s\n",
	       "core", "frames", "bytes", "records", "egress", "flows", "streams",
	       "gaps", "parse_err", "drops", "cap_drops", "epochs", "lost");
	json_array_foreach(cores, i, c) {
		printf("%4" PRIu64 " %12" PRIu64 " %14" PRIu64 " %12" PRIu64 " %10" PRIu64
		       " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %10" PRIu64 " %10" PRIu64
		       " %10" PRIu64 " %9" PRIu64 " %6" PRIu64 "\n",
		       u64(c, "core"), u64(c, "frames"), u64(c, "bytes"), u64(c, "records"),
		       u64(c, "egress_records"), u64(c, "flows_active"), u64(c, "streams"),
		       u64(c, "reassembly_gaps"), u64(c, "parse_errors"),
		       u64(c, "decode_drops") + u64(c, "worker_drops") +
			       u64(c, "inbox_full_drops") + u64(c, "inbox_oversize_drops"),
		       drops_sum(json_object_get(c, "capture_drops")),
		       u64(c, "epochs_published"), u64(c, "epochs_lost"));
	}
	printf("merger: %" PRIu64 " epochs, %" PRIu64 " profiles (%" PRIu64
	       " partial), %" PRIu64 " not written (ring full)\n",
	       u64(merger, "epochs_merged"), u64(merger, "profiles"),
	       u64(merger, "partial_profiles"), u64(merger, "output_drops"));
	printf("ring: %" PRIu64 " committed, %" PRIu64 " dropped (full), %" PRIu64
	       " dropped (oversize), %" PRIu64 " of %" PRIu64 " bytes in use\n",
	       u64(ring, "committed"), u64(ring, "dropped_full"),
	       u64(ring, "dropped_oversize"), u64(ring, "used_bytes"),
	       u64(ring, "capacity_bytes"));
}

static void usage(FILE *out)
{
	fputs(
"usage: shadowctl status [--instance NAME] [--json]\n"
"\n"
"The counters of the running shadowtap-dp, from its status page\n"
"(/dev/shm/shadowtap-NAME.status, rewritten four times a second): per core\n"
"frames, bytes, records, egress records, active flows, streams, reassembly\n"
"gaps, parse errors, drops (decode, classification, dispatch), the input's\n"
"own drops, epochs published and lost; the merger; the ring.\n"
"\n"
"  --instance NAME  the data plane's instance (default: default)\n"
"  --json           the status document as it is (one JSON object)\n"
"  -h, --help       this help\n"
"\n"
"Exit status: 0; 1 when no data plane of that instance runs; 2 on bad usage.\n",
	      out);
}

int shadowctl_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *instance = "default";
	bool json = false;
	uint64_t updated;
	struct timespec now;
	json_error_t jerr;
	json_t *doc;
	int32_t pid;
	char *buf;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			instance = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "shadowctl status: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	buf = malloc(ST_STATUS_TEXT_MAX + 1);
	if (!buf) {
		fprintf(stderr, "shadowctl status: %s\n", strerror(ENOMEM));
		return 1;
	}
	rc = st_status_read(instance, buf, ST_STATUS_TEXT_MAX + 1, &pid, &updated);
	if (rc < 0) {
		fprintf(stderr, "shadowctl status: instance '%s': %s\n", instance,
			rc == -ENOENT ? "no data plane is running"
			: rc == -EAGAIN ? "the data plane is starting (no counters yet); "
					  "try again"
			: strerror(-rc));
		free(buf);
		return rc == -EINVAL || rc == -ENAMETOOLONG ? 2 : 1;
	}
	if (json) {
		printf("%s\n", buf);
		free(buf);
		return 0;
	}
	doc = json_loads(buf, 0, &jerr);
	free(buf);
	if (!doc) {
		fprintf(stderr, "shadowctl status: the status page is not JSON: %s\n",
			jerr.text);
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	print_table(doc, (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec -
				 updated);
	json_decref(doc);
	return 0;
}
