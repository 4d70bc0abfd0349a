/*
 * shadowctl: the command line of shadowtap.  Table-driven: one entry per
 * subcommand; main() finds the entry and hands it the rest of argv.
 */
#include <stdio.h>
#include <string.h>

#include "shadowctl.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "analyze", shadowctl_analyze,
	  "run the record path offline on a pcap/pcapng capture" },
	{ "detect", shadowctl_detect,
	  "offline change points of a series (CSV or TCPD JSON)" },
	{ "profiles", shadowctl_profiles,
	  "print the Shadow Profiles shadowtap-dp writes to its ring" },
	{ "status", shadowctl_status,
	  "the running data plane's counters, per core" },
	{ "cp-status", shadowctl_cp_status,
	  "the running control plane (shadowtap-cp): ring, profiles, config, clients" },
	{ "streams", shadowctl_streams,
	  "one row per stream: rates, cardinality, top-1 share, severity" },
	{ "profile", shadowctl_cp_profile,
	  "a stream's latest profile as shadowtap-cp holds it" },
	{ "signals", shadowctl_signals,
	  "recent predictive signals; --follow for new ones as they come" },
	{ "decisions", shadowctl_decisions,
	  "the reconfiguration decisions: inputs, reasons, action, result" },
	{ "backends", shadowctl_backends,
	  "per backend: records/s, retransmissions, zero windows, latency p99" },
	{ "top", shadowctl_top,
	  "live view: streams by rate with sparklines, refreshed each second" },
	{ "models", shadowctl_models,
	  "the control plane's models; --retrain" },
	{ "routes", shadowctl_routes,
	  "the routing tables the actuators own, read back from the kernel" },
	{ "config", shadowctl_config,
	  "check a configuration file (config check FILE)" },
};

static void usage(FILE *out)
{
	fputs("usage: shadowctl COMMAND [ARGS]...\n\ncommands:\n", out);
	for (size_t i = 0; i < ST_ARRAY_SIZE(subcommands); i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fputs("\n`shadowctl COMMAND --help` describes each command.\n", out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(subcommands); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "shadowctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
