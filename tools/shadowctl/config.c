/*
 * shadowctl config check FILE: loads a configuration file exactly as
 * shadowtap-cp and shadowctl analyze do (st_config_load, control/config)
 * and says whether it is valid: "FILE: OK" and a short summary on stdout,
 * or the loader's one line "FILE:LINE: what is wrong" on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config/config.h"
#include "shadowctl.h"

#define ERR_BYTES 1024
#define PORTS_LISTED 8   /* the text summary names at most this many */

static void usage(FILE *out)
{
	fputs(
"usage: shadowctl config check [--json] FILE\n"
"\n"
"Loads FILE as shadowtap-cp and `shadowctl analyze --config` do: libconfig\n"
"syntax, every section, setting, type and range, and the checks across\n"
"sections (see examples/shadowtap.conf).  Valid: prints \"FILE: OK\" and a\n"
"summary (stream rules, the port map, pools, backends, enabled actuators,\n"
"the policy's reactive limits per backend, \"off\" when 0) on stdout.\n"
"Invalid or unreadable: prints the first mistake as one line,\n"
"\"FILE:LINE: what is wrong\" (\"FILE: why\" when no line applies), on\n"
"stderr.  A running shadowtap-cp is not contacted.\n"
"\n"
"  --json      the summary as one JSON object on stdout (errors stay text\n"
"              on stderr)\n"
"  -h, --help  this help\n"
"\n"
"Exit status: 0 valid; 1 invalid or unreadable; 2 bad usage.\n",
	      out);
}

static const char *transport_name(uint8_t t)
{
	return t == ST_CONFIG_TCP ? "tcp" : t == ST_CONFIG_UDP ? "udp" : "tcp+udp";
}

static size_t standby_count(const struct st_config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < st_config_backend_count(cfg); i++)
		n += st_config_backend_at(cfg, i)->standby;
	return n;
}

/* policy's reactive limits per backend, 0 = off */
static void print_limit(const char *name, double v, const char *sep)
{
	if (v > 0)
		printf("%s %g%s", name, v, sep);
	else
		printf("%s off%s", name, sep);
}

static void print_limits(const struct st_config_policy *p)
{
	printf("  reactive: ");
	print_limit(" retransmissions/s", p->retransmissions_per_s_max, ",");
	print_limit(" zero windows/s", p->zero_windows_per_s_max, ",");
	print_limit(" latency p99 ms", p->latency_p99_ms_max, "\n");
}

static void print_text(const char *path, const struct st_config *cfg,
		       const struct st_config_port *ports, size_t n_ports)
{
	const struct st_config_actuators *a = st_config_actuators(cfg);
	bool any = false;

	printf("%s: OK\n", path);
	printf("  streams:   %zu rule%s\n", st_config_stream_count(cfg),
	       st_config_stream_count(cfg) == 1 ? "" : "s");
	printf("  ports:     %zu", n_ports);
	for (size_t i = 0; i < n_ports && i < PORTS_LISTED; i++)
		printf("%s%u/%s %s", i ? ", " : " (", ports[i].port,
		       transport_name(ports[i].transport), st_proto_name(ports[i].proto));
	printf("%s\n", n_ports > PORTS_LISTED ? ", ...)" : n_ports ? ")" : "");
	printf("  pools:     %zu\n", st_config_pool_count(cfg));
	printf("  backends:  %zu (%zu standby)\n", st_config_backend_count(cfg),
	       standby_count(cfg));
	printf("  actuators:");
	if (a->nexthop.enabled)
		any = printf(" nexthop") > 0;
	if (a->xdp_lb.enabled)
		any = printf(" xdp_lb") > 0;
	if (a->hook.argc)
		any = printf(" hook") > 0;
	printf("%s%s\n", any ? "" : " none enabled", a->dry_run ? " (dry run)" : "");
	print_limits(st_config_policy(cfg));
}

static int print_json(const char *path, const struct st_config *cfg,
		      const struct st_config_port *ports, size_t n_ports)
{
	const struct st_config_actuators *a = st_config_actuators(cfg);
	json_t *list = json_array(), *doc;
	int rc;

	for (size_t i = 0; list && i < n_ports; i++)
		json_array_append_new(list, json_pack("{s:i, s:s, s:s}",
			"port", (json_int_t)ports[i].port,
			"transport", transport_name(ports[i].transport),
			"protocol", st_proto_name(ports[i].proto)));
	doc = json_pack("{s:s, s:b, s:I, s:o, s:I, s:I, s:I, s:{s:b, s:b, s:b, s:b},"
			" s:{s:f, s:f, s:f}}",
			"file", path, "ok", 1,
			"streams", (json_int_t)st_config_stream_count(cfg),
			"ports", list,
			"pools", (json_int_t)st_config_pool_count(cfg),
			"backends", (json_int_t)st_config_backend_count(cfg),
			"standby_backends", (json_int_t)standby_count(cfg),
			"actuators", "dry_run", a->dry_run, "nexthop", a->nexthop.enabled,
			"xdp_lb", a->xdp_lb.enabled, "hook", a->hook.argc > 0,
			"reactive_limits",
			"retransmissions_per_s_max", st_config_policy(cfg)->retransmissions_per_s_max,
			"zero_windows_per_s_max", st_config_policy(cfg)->zero_windows_per_s_max,
			"latency_p99_ms_max", st_config_policy(cfg)->latency_p99_ms_max);
	if (!doc) {
		fprintf(stderr, "shadowctl config: %s\n", strerror(ENOMEM));
		return 1;
	}
	rc = json_dumpf(doc, stdout, JSON_COMPACT) || fputc('\n', stdout) == EOF;
	json_decref(doc);
	return rc ? 1 : 0;
}

static int check(const char *path, bool json)
{
	char err[ERR_BYTES];
	struct st_config_port *ports;
	struct st_config *cfg;
	size_t n_ports;
	int rc;

	cfg = st_config_load(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s\n", err[0] ? err : strerror(errno));
		return 1;
	}
	n_ports = st_config_ports(cfg, NULL, 0);
	ports = calloc(n_ports ? n_ports : 1, sizeof(*ports));
	if (!ports) {
		fprintf(stderr, "shadowctl config: %s\n", strerror(ENOMEM));
		st_config_destroy(cfg);
		return 1;
	}
	st_config_ports(cfg, ports, n_ports);
	rc = 0;
	if (json)
		rc = print_json(path, cfg, ports, n_ports);
	else
		print_text(path, cfg, ports, n_ports);
	free(ports);
	st_config_destroy(cfg);
	return rc;
}

int shadowctl_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int opt;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "check")) {
		if (argc >= 2)
			fprintf(stderr, "shadowctl config: unknown action '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	argc--;
	argv++;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
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
	if (optind + 1 != argc) {
		fprintf(stderr, "shadowctl config check: %s\n",
			optind == argc ? "no FILE" : "one FILE only");
		usage(stderr);
		return 2;
	}
	return check(argv[optind], json);
}
