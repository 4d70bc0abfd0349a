/*
 * Writes the seed corpus of fuzz_config.c into the directory argv[1]: the
 * example file, small valid configs that reach every section, and one file
 * per error class, so the fuzzer starts from every validation path.
 * Deterministic: the same files on every run.
 *
 *	fuzz-seeds-config <corpus dir>
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *file;
	const char *text;
} seeds[] = {
	{ "empty", "" },
	{ "override", "9093=kafka" },
	{ "override-udp", "5141/udp=jsonl" },
	{ "ports",
	  "ports = { map = (\n"
	  "  { port = 9093; protocol = \"kafka\"; },\n"
	  "  { port = 5141; protocol = \"jsonl\"; transport = \"udp\"; }\n"
	  "); };\n" },
	{ "rules",
	  "defaults = { key_fields = [ \"/id\" ]; numeric_fields = [ \"/n\" ]; };\n"
	  "streams = { rules = (\n"
	  "  { name = \"o\"; protocol = \"kafka\"; match = \"o*\"; key_fields = [ ]; },\n"
	  "  { name = \"s\"; protocol = \"mqtt\"; match = \"s/*\"; criticality = \"high\"; },\n"
	  "  { name = \"n\"; protocol = \"nats\"; match = \"a.?.[bc]\"; },\n"
	  "  { name = \"j\"; protocol = \"jsonl\"; match = \"*:5140\"; }\n"
	  "); };\n" },
	{ "defaults",
	  "defaults = {\n"
	  "  hll_precision = 14; heavy_hitters = 128; quantile_alpha = 0.02;\n"
	  "  epoch_ms = 500; ticks_per_epoch = 50; max_streams_per_core = 64;\n"
	  "  flow_table_entries = 4096; flow_idle_timeout_ms = 1000;\n"
	  "  reassembly_bytes_per_core = 68719476736L;\n"
	  "};\n" },
	{ "err-syntax", "defaults = { hll_precision 12; };\n" },
	{ "err-unknown", "defaults = { hll_precison = 12; };\n" },
	{ "err-type", "defaults = { epoch_ms = \"1000\"; };\n" },
	{ "err-range", "defaults = { heavy_hitters = 3; };\n" },
	{ "err-wide", "defaults = { epoch_ms = 4294968296; };\n" },
	{ "err-pointer", "defaults = { key_fields = [ \"/a~2\" ]; };\n" },
	{ "err-dup-name",
	  "streams = { rules = ( { name = \"a\"; protocol = \"mqtt\"; },\n"
	  "  { name = \"a\"; protocol = \"nats\"; } ); };\n" },
	{ "err-keys",
	  "streams = { rules = ( { name = \"a\"; protocol = \"kafka\";\n"
	  "  key_fields = [ \"/a\", \"/b\", \"/c\", \"/d\" ]; } ); };\n" },
	{ "err-port", "ports = { map = ( { port = 0; protocol = \"nats\"; } ); };\n" },
	{ "cp-sections",
	  "defaults = { capacity_rps = 100.5; epoch_ms = 2000; };\n"
	  "thresholds = { low = { medium = 0.5; high = 0.9; }; high = { medium = 0.1; high = 1; }; };\n"
	  "detectors = { cusum_drift = 1; cusum_threshold = 4.5; bocpd_hazard = 0.01;\n"
	  "  bocpd_max_run = 100; iforest_trees = 10; iforest_sample = 64;\n"
	  "  model_refresh_s = 600; forecast_horizon_s = 30; season_s = 3600; warmup_epochs = 5; };\n"
	  "retention = { profiles_s = 600; profiles_bytes = 1048576; fine_s = 7200;\n"
	  "  coarse_step_s = 120; coarse_s = 86400; disk_bytes = 17592186044416L; };\n"
	  "control = { instance = \"lab_1\"; state_dir = \"/tmp/st\"; socket_path = \"/tmp/st/cp.sock\";\n"
	  "  event_log = \"/tmp/st/ev.jsonl\"; prometheus = \"[::1]:9464\"; };\n"
	  "policy = { cooldown_s = 60; hysteresis = 0.2; high_cardinality = 5000;\n"
	  "  skew_top1_share = 0.5; scale_up_utilization = 0.9; scale_down_utilization = 0.1; };\n" },
	{ "pools-backends",
	  "pools = ( { name = \"g\"; memory_class = \"normal\"; backend_capacity_rps = 1000;\n"
	  "    min_backends = 1; max_backends = 3; },\n"
	  "  { name = \"m\"; memory_class = \"high\"; skew_handling = true; min_backends = 0; } );\n"
	  "backends = ( { name = \"a\"; pool = \"g\"; address = \"10.0.0.2\"; weight = 3; },\n"
	  "  { name = \"b\"; pool = \"g\"; address = \"2001:db8::3\"; standby = true;\n"
	  "    mac = \"02:00:00:00:00:03\"; capacity_rps = 5e4; } );\n"
	  "streams = { rules = ( { name = \"o\"; protocol = \"kafka\"; pool = \"m\"; capacity_rps = 9; } ); };\n" },
	{ "actuators",
	  "pools = ( { name = \"g\"; } );\n"
	  "backends = ( { name = \"a\"; pool = \"g\"; address = \"10.0.0.2\"; },\n"
	  "  { name = \"b\"; pool = \"g\"; address = \"10.0.0.3\"; } );\n"
	  "actuators = { dry_run = true;\n"
	  "  nexthop = { enabled = true; group_id = 77; route = \"203.0.113.0/24\"; table = 100;\n"
	  "    resilient = { buckets = 64; idle_timer_s = 10; }; };\n"
	  "  xdp_lb = { enabled = true; interface = \"veth1\"; vip = \"203.0.113.10:9092\";\n"
	  "    transport = \"tcp\"; table_size = 251; forward = \"ipip\"; ipip_source = \"192.0.2.1\"; };\n"
	  "  hook = { command = [ \"/bin/cat\", \"-u\" ]; timeout_ms = 100; }; };\n" },
	{ "err-threshold", "thresholds = { medium = { medium = 0.9; high = 0.8; }; };\n" },
	{ "err-pool-ref",
	  "pools = ( { name = \"g\"; min_backends = 0; } );\n"
	  "backends = ( { name = \"a\"; pool = \"h\"; address = \"10.0.0.2\"; } );\n" },
	{ "err-prime", "actuators = { xdp_lb = { table_size = 65541; }; };\n" },
	{ "err-epoch", "defaults = { epoch_ms = 120000; };\n" },
	{ "err-addr",
	  "pools = ( { name = \"g\"; min_backends = 0; } );\n"
	  "backends = ( { name = \"a\"; pool = \"g\"; address = \"10.0.0\"; } );\n" },
};

static int write_file(const char *dir, const char *name, const void *data,
		      size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		fprintf(stderr, "fuzz-seeds-config: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f) ? -1 : 0;
}

static int copy_example(const char *dir)
{
	FILE *f = fopen(ST_EXAMPLE_CONF, "rb");
	static char buf[1 << 16];
	size_t n;

	if (!f) {
		fprintf(stderr, "fuzz-seeds-config: %s: %s\n", ST_EXAMPLE_CONF,
			strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return write_file(dir, "example.conf", buf, n);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-config <corpus dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (write_file(argv[1], seeds[i].file, seeds[i].text,
			       strlen(seeds[i].text)))
			return 1;
	return copy_example(argv[1]) ? 1 : 0;
}
