/*
 * shadowtap-gen: writes pcap files (or sends on an interface) of Kafka, MQTT,
 * NATS and JSON-lines streams with a known ground truth beside them.  See
 * usage() for the options and truth.c for the truth's format; the pieces are
 * listed in gen.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/gen/gen.h"

static void usage(FILE *out)
{
	fputs(
"usage: shadowtap-gen [OPTIONS] --stream SPEC [--stream SPEC]...\n"
"\n"
"Writes a pcap of data-stream traffic (Kafka Produce, MQTT PUBLISH, NATS PUB,\n"
"JSON lines over UDP/TCP), several streams at once, and a ground-truth JSON\n"
"that says exactly what the pcap carries.\n"
"\n"
"Output:\n"
"  -o, --out FILE       pcap file to write (classic pcap, Ethernet, us stamps)\n"
"  -t, --truth FILE     ground truth JSON (default: FILE.truth.json beside --out;\n"
"                       with --send and no --out, none unless given)\n"
"      --send IFACE     also (or only) send the frames on IFACE (pcap_inject;\n"
"                       needs CAP_NET_RAW), paced by the trace's timestamps\n"
"      --fast           with --send: as fast as possible, no pacing\n"
"  -q, --quiet          no summary line on stderr\n"
"\n"
"Trace:\n"
"  -s, --seed N         PRNG seed (default 1); same seed and options, same bytes\n"
"  -d, --duration D     trace time to generate (default 10s)\n"
"      --start T        first timestamp, YYYY-MM-DDTHH:MM:SS[.frac]Z or\n"
"                       @UNIXSECONDS[.frac], cut to whole microseconds (default\n"
"                       2026-01-01T00:00:00Z); the trace must end by\n"
"                       2106-02-07T06:28:16Z (classic pcap's 32-bit seconds)\n"
"      --tick D         ground-truth tick (default 10ms; >= 1ms, divides --epoch)\n"
"      --epoch D        ground-truth epoch (default 1s)\n"
"      --ipv6           IPv6 instead of IPv4 (servers fd00::10/20/30/40)\n"
"  Durations: a number with s (default), ms, us, m or h: 30s, 1500ms, 2m.\n"
"\n"
"Streams (--stream, repeatable, at most 64):\n"
"  kafka:TOPIC        TCP to 10.0.0.10:9092   truth name kafka:TOPIC\n"
"  mqtt:TOPIC         TCP to 10.0.0.20:1883   truth name mqtt:TOPIC\n"
"  nats:SUBJECT       TCP to 10.0.0.30:4222   truth name nats:SUBJECT\n"
"  jsonl:udp:PORT     UDP to 10.0.0.40:PORT   truth name jsonl:10.0.0.40:PORT\n"
"  jsonl:tcp:PORT     TCP to 10.0.0.40:PORT   (IPv6: jsonl:[fd00::28]:PORT)\n"
"  A Kafka topic is [A-Za-z0-9._-]; an MQTT topic or a NATS subject is UTF-8\n"
"  text without control characters or wildcards (NATS: no empty tokens).\n"
"  then ,KEY=VALUE options:\n"
"   rate=R             records/s (default 1000): the constant rate, the diurnal\n"
"                      mean, the bursts' on rate\n"
"   shape=constant|diurnal|bursts|trace:FILE   (default constant)\n"
"     diurnal: amp=A (0-1, default 0.5), period=D (default 60s):\n"
"              rate * (1 + A sin(2 pi t / period))\n"
"     bursts:  on=D off=D (default 1s each), offrate=R (default 0)\n"
"     trace:   a NAB CSV (timestamp,value); compress=C divides its time (default\n"
"              300: 5-minute rows become 1 s), peak=R is the rate at its largest\n"
"              value (default: rate); it repeats past its end.  FILE has no commas.\n"
"     Arrivals are Poisson per tick with the shape's rate at the tick's middle.\n"
"   keys=N             distinct key universe u0..u(N-1) (default 1000)\n"
"   zipf=S             Zipf skew of key ranks (default 0 = uniform); the key is\n"
"                      the Kafka record key and /user/id in every value\n"
"   explode=N@T        from trace offset T on, keys are uniform over u0..u(N-1)\n"
"                      (a cardinality explosion; zipf no longer applies)\n"
"   hot=P@T            from trace offset T on, a share P in (0, 1] of the\n"
"                      records carries the key u0 (a hot key), the rest as before\n"
"   schema=CHANGE@T    (repeatable, at most 16) from trace offset T on:\n"
"                      +FIELD[:TYPE] adds a top-level field (TYPE default number),\n"
"                      -FIELD removes one, FIELD:TYPE changes its type; TYPE is\n"
"                      null, bool, number, string, object or array; FIELD is not\n"
"                      'user'.  The version applies by record creation time.\n"
"   conns=N            connections (client addresses 10.1.S.1..N) (default 1)\n"
"   batch=N            records per write: Kafka records per partition batch\n"
"                      (default 10); MQTT/NATS/JSONL-TCP messages per write\n"
"                      (default 1); JSONL-UDP records per datagram (default: as\n"
"                      many as fit dgram)\n"
"   linger=D           longest wait before a partial batch is written (Kafka and\n"
"                      JSONL-UDP default 5ms, else 0 = at once)\n"
"   mss=N              TCP segment size (default 1460, IPv6 1440)\n"
"   split=mss|random   cut writes at the MSS or at random lengths 1..mss (client)\n"
"   reorder=P          probability of swapping adjacent client segments\n"
"   dup=P              probability of sending a client segment twice\n"
"                      (all segmentation is lossless: no drops are generated)\n"
"   port=N             server port\n"
"  kafka: partitions=N (default 1; murmur2 key partitioner), version=3..9 Produce\n"
"         version (default 8; 9 is flexible: compact fields, header v2, not\n"
"         dissected by tshark 4.0), acks=0|1|-1|all (default 1;\n"
"         0 = no Produce responses), headers=0|1 record headers source, seq\n"
"  mqtt:  version=4|3.1.1|5|5.0 (default 4), qos=0|1|2 (default 0)\n"
"  nats:  headers=0|1 (HPUB with a NATS/1.0 header block), verbose=0|1 (+OK),\n"
"         ping=D client PING period (default 1s)\n"
"  jsonl: dgram=N datagram payload limit (default 1472, IPv6 1452; a record\n"
"         longer than it goes alone)\n"
"\n"
"Values are JSON objects of 120-300 bytes:\n"
"  {\"user\":{\"id\":\"u123\",\"tier\":\"gold\"},\"amount\":12.50,\"currency\":\"EUR\",\n"
"   \"ts\":1767225600123,\"vip\":false,\"tags\":[\"new\"],\"note\":\"...\"}\n"
"\n"
"Ground truth (JSON): per stream its name, records, value bytes, messages,\n"
"exact distinct keys and top-10 keys (count desc, then key), Kafka records per\n"
"partition, schema changes with the first epoch they show in; per epoch the\n"
"same counts, records per tick and the schema as [{path, types}] with JSON\n"
"pointers (\"*\" = any array element) and types among null, false, true,\n"
"number, string, object, array.  A record counts at the capture time of the\n"
"packets carrying it (all in one tick).  Control packets (replies, FIN) may\n"
"follow the last record by a few ms.\n"
"\n"
"Example:\n"
"  shadowtap-gen -o t.pcap -d 30s --stream kafka:orders,rate=5000,keys=100000,zipf=1.1,\\\n"
"      partitions=8,batch=10,version=9 --stream mqtt:sensors/temp,version=5,qos=1 \\\n"
"      --stream nats:orders.eu,headers=1 --stream jsonl:udp:5140,schema=+extra@15s\n",
	out);
}

static int die(const char *fmt, const char *a, const char *b)
{
	fputs("shadowtap-gen: ", stderr);
	fprintf(stderr, fmt, a, b);
	fputs(" (try --help)\n", stderr);
	return 2;
}

static int check_names(const struct st_gen_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_streams; i++) {
		for (unsigned j = 0; j < i; j++) {
			const struct st_gen_stream_spec *a = &cfg->streams[i], *b = &cfg->streams[j];

			if (a->proto == b->proto && !strcmp(a->name, b->name))
				return die("--stream %s:%s given twice (streams need distinct names)",
					   st_gen_proto_name(a->proto), a->name);
		}
	}
	return 0;
}

enum { OPT_SEND = 256, OPT_FAST, OPT_START, OPT_TICK, OPT_EPOCH, OPT_IPV6, OPT_STREAM };

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "truth", required_argument, NULL, 't' },
		{ "send", required_argument, NULL, OPT_SEND },
		{ "fast", no_argument, NULL, OPT_FAST },
		{ "quiet", no_argument, NULL, 'q' },
		{ "seed", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "start", required_argument, NULL, OPT_START },
		{ "tick", required_argument, NULL, OPT_TICK },
		{ "epoch", required_argument, NULL, OPT_EPOCH },
		{ "ipv6", no_argument, NULL, OPT_IPV6 },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct st_gen_config cfg;
	const char *out = NULL, *truth_path = NULL, *iface = NULL;
	const char *stream_args[ST_GEN_MAX_STREAMS];
	char truth_default[4096], err[512] = "";
	bool fast = false, quiet = false;
	struct st_gen_stats stats = { 0 };
	struct st_gen_sink *sink;
	FILE *truth = NULL;
	struct timespec t0, t1;
	char *end;
	int opt, rc;

	cfg.seed = 1;
	cfg.duration_ns = 10 * ST_GEN_NS_PER_S;
	cfg.start_ns = 1767225600LL * ST_GEN_NS_PER_S;   /* 2026-01-01T00:00:00Z */
	cfg.tick_ns = 10 * ST_GEN_NS_PER_MS;
	cfg.epoch_ns = ST_GEN_NS_PER_S;
	while ((opt = getopt_long(argc, argv, "o:t:qs:d:h", options, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 't':
			truth_path = optarg;
			break;
		case OPT_SEND:
			iface = optarg;
			break;
		case OPT_FAST:
			fast = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 's':
			errno = 0;
			cfg.seed = strtoull(optarg, &end, 0);
			if (end == optarg || *end || errno || optarg[0] == '-')
				return die("--seed %s: expected an unsigned integer%s", optarg, "");
			break;
		case 'd':
			if (st_gen_parse_duration(optarg, &cfg.duration_ns) || cfg.duration_ns < ST_GEN_NS_PER_MS)
				return die("--duration %s: expected a duration >= 1ms (30s, 2m)%s", optarg, "");
			break;
		case OPT_START:
			if (st_gen_parse_start(optarg, &cfg.start_ns))
				return die("--start %s: expected YYYY-MM-DDTHH:MM:SSZ or @UNIXSECONDS%s", optarg, "");
			break;
		case OPT_TICK:
			if (st_gen_parse_duration(optarg, &cfg.tick_ns) || cfg.tick_ns < ST_GEN_NS_PER_MS ||
			    cfg.tick_ns % ST_GEN_NS_PER_US)
				return die("--tick %s: expected a duration >= 1ms, whole microseconds%s", optarg, "");
			break;
		case OPT_EPOCH:
			if (st_gen_parse_duration(optarg, &cfg.epoch_ns) || cfg.epoch_ns <= 0)
				return die("--epoch %s: expected a duration > 0%s", optarg, "");
			break;
		case OPT_IPV6:
			cfg.ipv6 = true;
			break;
		case OPT_STREAM:
			if (cfg.n_streams == ST_GEN_MAX_STREAMS)
				return die("--stream %s: at most 64 streams%s", optarg, "");
			stream_args[cfg.n_streams++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fputs("shadowtap-gen: bad option (try --help)\n", stderr);
			return 2;
		}
	}
	if (optind < argc)
		return die("unexpected argument '%s'%s", argv[optind], "");
	/* Parse streams after all options: --ipv6 changes their defaults. */
	for (unsigned i = 0; i < cfg.n_streams; i++) {
		if (st_gen_spec_parse(stream_args[i], cfg.ipv6, &cfg.streams[i], err, sizeof(err))) {
			fprintf(stderr, "shadowtap-gen: %s (try --help)\n", err);
			return 2;
		}
	}
	if (!cfg.n_streams)
		return die("no --stream given%s%s", "", "");
	if (cfg.duration_ns > (ST_GEN_START_MAX_S + 1) * ST_GEN_NS_PER_S - cfg.start_ns)
		return die("--start plus --duration ends after 2106-02-07T06:28:16Z, past classic pcap's "
			   "32-bit seconds%s%s", "", "");
	if (!out && !iface)
		return die("nothing to write: give --out FILE and/or --send IFACE%s%s", "", "");
	if (cfg.epoch_ns % cfg.tick_ns || cfg.epoch_ns / cfg.tick_ns > 100000)
		return die("--epoch must be a multiple of --tick, at most 100000 ticks%s%s", "", "");
	if (check_names(&cfg))
		return 2;
	if (!truth_path && out) {
		snprintf(truth_default, sizeof(truth_default), "%s.truth.json", out);
		truth_path = truth_default;
	}
	if (truth_path) {
		truth = fopen(truth_path, "w");
		if (!truth) {
			fprintf(stderr, "shadowtap-gen: --truth %s: %s\n", truth_path, strerror(errno));
			return 1;
		}
	}
	sink = st_gen_sink_create(out, iface, !fast, err, sizeof(err));
	if (!sink) {
		fprintf(stderr, "shadowtap-gen: %s\n", err);
		if (truth)
			fclose(truth);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = st_gen_run(&cfg, sink, truth, &stats, err, sizeof(err));
	if (st_gen_sink_destroy(sink) && !rc) {
		rc = -EIO;
		snprintf(err, sizeof(err), "%.400s: write failed", out ? out : iface);
	}
	if (truth && fclose(truth) && !rc) {
		rc = -EIO;
		snprintf(err, sizeof(err), "%.400s: write failed", truth_path);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc) {
		fprintf(stderr, "shadowtap-gen: %s\n", err);
		/* no half-written outputs that look like results */
		if (out)
			unlink(out);
		if (truth_path)
			unlink(truth_path);
		return 1;
	}
	if (!quiet) {
		double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

		fprintf(stderr, "shadowtap-gen: %llu records, %llu frames, %llu bytes in %.3f s (%.0f records/s)\n",
			(unsigned long long)stats.records, (unsigned long long)stats.frames,
			(unsigned long long)stats.bytes, s, s > 0 ? (double)stats.records / s : 0.0);
	}
	return 0;
}
