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
