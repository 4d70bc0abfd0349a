/*
 * The shadowtap configuration: one file for the whole product, parsed with
 * libconfig (https://hyperrealm.github.io/libconfig/, Debian libconfig-dev)
 * and validated here, so that every mistake is reported as
 * "file:line: what is wrong" and nothing is silently ignored.
 *
 * The top level is a set of named sections, each a group except the two
 * lists of named entries (pools, backends), so that later issues add
 * sections and settings inside a section without changing what exists:
 *
 *	ports      = { map = ( { port = 9092; protocol = "kafka"; ... }, ... ); };
 *	streams    = { rules = ( { name = "orders"; protocol = "kafka"; ... } ); };
 *	defaults   = { key_fields = [ ... ]; hll_precision = 12; ... };
 *	thresholds = { low = { medium = 0.8; high = 0.95; }; medium = ...; high = ...; };
 *	detectors  = { cusum_drift = 0.5; ... };
 *	retention  = { profiles_s = 3600; ... };
 *	control    = { instance = "default"; state_dir = "/var/lib/shadowtap"; ... };
 *	pools      = ( { name = "general"; memory_class = "normal"; ... }, ... );
 *	backends   = ( { name = "b1"; pool = "general"; address = "10.0.0.2"; ... } );
 *	actuators  = { dry_run = false; nexthop = { ... }; xdp_lb = { ... }; hook = { ... }; };
 *	policy     = { cooldown_s = 300; hysteresis = 0.1; ... };
 *
 * examples/shadowtap.conf shows every setting with its default and says what
 * each one means.  Validation rules, in short:
 *   - an unknown setting anywhere is an error (typos are caught), at its line;
 *   - each setting has one type (integer, float, string, boolean, array of
 *     strings); a float setting also takes an integer literal;
 *     integers take libconfig's L suffix past 32 bits (libconfig 1.5 would
 *     wrap a larger literal silently, so such a literal is refused);
 *   - each number has a range (the sketch library's limits where it has
 *     them: dataplane/sketch/hll.h, heavy.h, quantile.h, ticks.h);
 *   - key and numeric fields are JSON pointers (RFC 6901 section 3: "/"
 *     reference tokens, "~" followed only by "0" or "1"), non-empty, of
 *     1..ST_CONFIG_POINTER_MAX bytes of UTF-8 text as the profile's NAMES
 *     section requires (shadowtap/profile.h).
 *
 * Streams.  A record is named by the first rule (in file order) whose
 * protocol is the record's and whose `match` glob (fnmatch(3), no flags: `*`
 * also crosses '/' and '.') matches the record's topic: the Kafka topic, the
 * MQTT topic, the NATS subject, or for JSONL the destination "ip:port"
 * (st_config_jsonl_topic()).  A record that no rule matches forms a stream of
 * its own named "<proto>:<topic>" with the default fields.  See
 * st_config_stream_name() for names past 63 bytes.
 *
 * Key fields.  The Kafka record key is always a key field of a Kafka stream,
 * ahead of the configured JSON pointers; it occupies one of the profile's
 * ST_CONFIG_KEY_FIELDS_MAX key-field slots.  So a Kafka rule holds at most
 * ST_CONFIG_KEY_FIELDS_MAX - 1 pointers, and so do the defaults (which
 * unmatched Kafka topics use); other rules hold up to ST_CONFIG_KEY_FIELDS_MAX.
 *
 * Cross-checks, each reported at the line of the setting that breaks it:
 * names of pools, of backends, of streams are unique; a backend's pool and
 * a stream rule's pool exist; a pool's min_backends <= max_backends and <=
 * the backends it has; a threshold's medium < high; retention.coarse_step_s
 * <= coarse_s, fine_s <= coarse_s, and every retention and refresh period
 * holds at least one epoch (defaults.epoch_ms); a seasonal period holds at
 * least two; policy.scale_down_utilization < scale_up_utilization; an
 * enabled actuator has what it needs (nexthop: route, buckets >= backends;
 * xdp_lb: interface, vip, a pool with backends, table_size >= 2000 x the
 * pool's backends (control/actuate/xdplb/maglev.h); redirect: an
 * egress interface).  An actuator that is not enabled has its settings
 * range-checked only.
 *
 * Thread safety: a config is built by one thread (load or default, then the
 * overrides) and is immutable afterwards: every const accessor may then be
 * called from any number of threads at once.  The overrides
 * (st_config_add_key_field, st_config_set_port) must run before the config
 * is shared.
 */
#ifndef ST_CONTROL_CONFIG_H
#define ST_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/codec/codec.h"
#include "shadowtap/profile.h"

#define ST_CONFIG_KEY_FIELDS_MAX ST_PROFILE_KEY_FIELDS_MAX         /* 4 */
#define ST_CONFIG_NUMERIC_FIELDS_MAX ST_PROFILE_NUMERIC_FIELDS_MAX /* 4 */
#define ST_CONFIG_POINTER_MAX ST_PROFILE_FIELD_NAME_MAX  /* bytes, NUL excluded */
#define ST_CONFIG_NAME_BYTES ST_PROFILE_NAME_BYTES       /* 64: 63 bytes + NUL */
#define ST_CONFIG_MATCH_MAX 255      /* bytes of a glob, NUL excluded */
#define ST_CONFIG_STREAMS_MAX 1024   /* stream rules in one file */
#define ST_CONFIG_TOPIC_MATCH_MAX 4096 /* longer topics match no rule */
#define ST_CONFIG_FILE_MAX (4u << 20)  /* bytes of a config file */
#define ST_CONFIG_POOLS_MAX 64       /* entries of `pools` */
#define ST_CONFIG_BACKENDS_MAX 1024  /* entries of `backends` */
#define ST_CONFIG_RATE_MAX 1e12      /* records/s of any capacity_rps */

/* Transports of a port-map entry: a bit set. */
#define ST_CONFIG_TCP 1
#define ST_CONFIG_UDP 2
#define ST_CONFIG_BOTH (ST_CONFIG_TCP | ST_CONFIG_UDP)

/* How much a stream matters; the thresholds (next issue) key on it. */
enum st_criticality {
	ST_CRIT_LOW = 0,
	ST_CRIT_MEDIUM,
	ST_CRIT_HIGH,
};

/* The fields extracted from a stream's JSON values, in order. */
struct st_config_fields {
	unsigned n_keys;      /* JSON-pointer key fields (Kafka: plus the record key) */
	unsigned n_numerics;
	char keys[ST_CONFIG_KEY_FIELDS_MAX][ST_CONFIG_POINTER_MAX + 1];
	char numerics[ST_CONFIG_NUMERIC_FIELDS_MAX][ST_CONFIG_POINTER_MAX + 1];
};

/* One rule of `streams.rules`. */
struct st_config_stream {
	char name[ST_CONFIG_NAME_BYTES];      /* 1..63 bytes, NUL-terminated */
	enum st_proto proto;
	enum st_criticality criticality;
	char match[ST_CONFIG_MATCH_MAX + 1];  /* fnmatch(3) glob */
	struct st_config_fields fields;
	double capacity_rps;                  /* records/s the stream's pool can
					       * take; 0: none (no horizon);
					       * 0..ST_CONFIG_RATE_MAX, default:
					       * defaults.capacity_rps */
	char pool[ST_CONFIG_NAME_BYTES];      /* a `pools` name the stream is
					       * pinned to; "": the policy picks
					       * by profile (the default) */
	bool schema;                          /* `schema`: walk the values'
					       * schema (default true); false:
					       * fields only, by the lazy scan
					       * (st_json_scan_fields(), see
					       * dataplane/json/json.h): no
					       * schema sketch or drift, and a
					       * value is invalid JSON only for
					       * an error in the part read */
	unsigned line;                        /* where the rule starts; 0 if built */
};

/* The numeric settings of `defaults`, with units. */
struct st_config_params {
	unsigned hll_precision;          /* ST_HLL_P_MIN..ST_HLL_P_MAX, 12 */
	unsigned heavy_hitters;          /* ST_HH_K_MIN..ST_HH_K_MAX, 64 */
	double quantile_alpha;           /* 1e-9..0.5, 0.01 */
	uint32_t epoch_ms;               /* 10..3600000, 1000 */
	unsigned ticks_per_epoch;        /* 1..ST_TICKS_MAX dividing the epoch in ns, 100 */
	unsigned max_streams_per_core;   /* 1..65536, 1024 */
	uint32_t flow_table_entries;     /* per core, 1024..16777216, 65536 */
	uint32_t flow_idle_timeout_ms;   /* 100..86400000, 60000 */
	uint64_t reassembly_bytes_per_core; /* 2*ST_CODEC_HOLD_MAX..2^36, 64 MiB */
	double capacity_rps;             /* of streams no rule names (and rules
					  * that do not set their own), records/s,
					  * 0..ST_CONFIG_RATE_MAX, 0 = none */
};

/*
 * Control-plane sections (shadowtap-cp).  Each has a default, so a file
 * that leaves a section out gets exactly these values.
 */

/* `thresholds`: per criticality, the anomaly scores at which a signal is
 * medium and high; a score > 0 below `medium` is low.  0 < medium < high <= 1. */
struct st_config_threshold {
	double medium;
	double high;
};

/* `detectors`: parameters of the detectors and models.  Ranges: "(a, b]"
 * excludes a; each period is checked against the epoch (file head). */
struct st_config_detectors {
	double cusum_drift;          /* k, in standard deviations, 0..10, 0.5 */
	double cusum_threshold;      /* h, in standard deviations, (0, 100], 5 */
	double bocpd_hazard;         /* 1 / expected run length, (0, 1), 1/250 */
	unsigned bocpd_max_run;      /* run-length cap R_max, 1..100000, 500 */
	unsigned iforest_trees;      /* 1..1000, 100 */
	unsigned iforest_sample;     /* rows per tree, 2..65536, 256 */
	uint32_t model_refresh_s;    /* retrain period, 10..604800, 3600; >= 1 epoch */
	uint32_t forecast_horizon_s; /* how far ahead the rate is forecast, 1..86400, 60 */
	uint32_t season_s;           /* seasonal period of the forecaster, 0 none,
				      * else 60..2419200 (4 weeks) and >= 2 epochs; 86400 */
	unsigned warmup_epochs;      /* epochs before a stream may signal, 1..100000, 30 */
};

/* `retention`: what the store keeps.  Each span holds at least one epoch;
 * coarse_step_s <= coarse_s and fine_s <= coarse_s. */
struct st_config_retention {
	uint32_t profiles_s;         /* recent full profiles kept per stream, 60..86400, 3600 */
	uint64_t profiles_bytes;     /* memory bound over all streams, 1 MiB..2^40, 256 MiB */
	uint32_t fine_s;             /* per-epoch feature history, 60..2^31, 3600 */
	uint32_t coarse_step_s;      /* downsampled tier's step, 10..86400, 60 */
	uint32_t coarse_s;           /* downsampled tier's span, 3600..2^31, 604800 */
	uint64_t disk_bytes;         /* history files over all streams, 1 MiB..2^44, 1 GiB */
};

/* `control`: where shadowtap-cp lives and talks.  Paths are absolute,
 * UTF-8 text. */
#define ST_CONFIG_PATH_MAX 255
struct st_config_control {
	char instance[ST_CONFIG_NAME_BYTES];      /* the data plane's ring, "default";
						   * 1..32 bytes of [A-Za-z0-9_-]
						   * (st_ring_shm_name) */
	char state_dir[ST_CONFIG_PATH_MAX + 1];   /* "/var/lib/shadowtap" */
	char socket_path[108];                    /* "/run/shadowtap/cp.sock" (sun_path:
						   * 1..107 bytes) */
	char event_log[ST_CONFIG_PATH_MAX + 1];   /* "" = <state_dir>/events.jsonl */
	char prometheus[64];                      /* "127.0.0.1:9464"; "" = off; HOST:PORT
						   * with HOST an IPv4 address, [IPv6]
						   * or a host name, PORT 1..65535 */
};

/*
 * Pools, backends, actuators and policy: the reconfiguration issue's
 * settings, parsed and validated now.
 */

/* An IP address: af AF_INET (bytes[0..4)) or AF_INET6; af 0 = none. */
struct st_config_addr {
	int af;
	uint8_t bytes[16];    /* network byte order */
};

/* What a pool's backends are good at (DESIGN.md, adaptive routing). */
enum st_memory_class {
	ST_MEM_NORMAL = 0,    /* "normal" */
	ST_MEM_HIGH,          /* "high": for high-cardinality streams */
};

/* One entry of `pools`: backends grouped by capability. */
struct st_config_pool {
	char name[ST_CONFIG_NAME_BYTES];  /* 1..63 bytes of UTF-8 text, unique */
	enum st_memory_class memory_class; /* "normal" */
	bool skew_handling;               /* spreads a hot key's flows; false */
	double backend_capacity_rps;      /* records/s one backend takes unless it
					   * sets its own, 0..ST_CONFIG_RATE_MAX,
					   * 0 = unknown */
	unsigned min_backends;            /* active backends the policy keeps,
					   * 0..ST_CONFIG_BACKENDS_MAX, 1; at most
					   * the pool's backends (standbys count) */
	unsigned max_backends;            /* 1..ST_CONFIG_BACKENDS_MAX, >= min, 64 */
	unsigned n_backends;              /* backends naming this pool, standbys
					   * included (computed) */
	unsigned line;                    /* where the entry starts */
};

/* One entry of `backends`: a node that consumes a pool's streams. */
#define ST_CONFIG_WEIGHT_MAX 65535u
struct st_config_backend {
	char name[ST_CONFIG_NAME_BYTES];  /* 1..63 bytes of UTF-8 text, unique */
	unsigned pool;                    /* index for st_config_pool_at(); the file
					   * names it (`pool`, required) */
	struct st_config_addr address;    /* `address`, IPv4 or IPv6 text, required */
	bool has_mac;                     /* `mac` = "02:00:00:00:00:02" was set; else
					   * the XDP balancer takes the neighbour
					   * table's */
	uint8_t mac[6];
	uint32_t weight;                  /* 1..ST_CONFIG_WEIGHT_MAX, 1 */
	bool standby;                     /* pre-provisioned, not in rotation until
					   * the policy adds it; false */
	double capacity_rps;              /* records/s, 0..ST_CONFIG_RATE_MAX;
					   * default: the pool's backend_capacity_rps */
	unsigned line;                    /* where the entry starts */
};

/*
 * `actuators.nexthop`: a Linux nexthop group over rtnetlink.  Backend i
 * (file order) is nexthop object group_id + 1 + i; the group is resilient
 * with `resilient.buckets` buckets (0: a hash-threshold multipath group);
 * `route` (a prefix, host bits zero) in routing table `table` points at it.
 */
struct st_config_nexthop {
	bool enabled;                 /* false */
	uint32_t group_id;            /* 1..2^32-1-ST_CONFIG_BACKENDS_MAX-1, 4000 */
	struct {
		unsigned buckets;     /* 0..65535, 128; >= backends when enabled */
		uint32_t idle_timer_s;/* 0..3600, 120 (the kernel's default) */
	} resilient;
	struct st_config_addr route;  /* af 0 = not set; required when enabled */
	unsigned route_prefix_len;    /* 0..32 or 0..128 */
	uint32_t table;               /* 1..2^32-1, 254 (main) */
};

/* How the XDP balancer sends a packet to its backend. */
enum st_xdp_forward {
	ST_XDP_FWD_TX = 0,    /* "tx": MAC rewrite, out the same interface */
	ST_XDP_FWD_REDIRECT,  /* "redirect": MAC rewrite, out egress_interface */
	ST_XDP_FWD_IPIP,      /* "ipip": IP-in-IP (or IPv6-in-IPv6) to the backend */
};

/* `actuators.xdp_lb`: an L4 balancer, VIP:port -> Maglev table -> backend. */
#define ST_CONFIG_IFNAME_MAX 15              /* IFNAMSIZ - 1 */
#define ST_CONFIG_MAGLEV_TABLE_MAX 16777213u /* the largest prime < 2^24 */
struct st_config_xdp_lb {
	bool enabled;                            /* false */
	char interface[ST_CONFIG_IFNAME_MAX + 1];/* required when enabled */
	struct st_config_addr vip;               /* `vip` = "ip:port" or "[v6]:port" */
	uint16_t vip_port;                       /* af 0 = not set; required when enabled */
	uint8_t transport;                       /* ST_CONFIG_TCP/_UDP/_BOTH, tcp */
	char pool[ST_CONFIG_NAME_BYTES];         /* the pool the VIP serves: its
						  * backends make the table; "" in
						  * the file = the first pool (the
						  * loaded config names it) */
	uint32_t table_size;                     /* Maglev M: a prime, 3..16777213;
						  * "auto" (the default): the
						  * smallest prime >= max(65537,
						  * 2000 x the pool's backends);
						  * an explicit one must be >= 2000
						  * x them when enabled (maglev.h:
						  * the moved-flow bound) */
	bool table_size_auto;                    /* table_size was "auto" */
	enum st_xdp_forward forward;             /* "tx" */
	char egress_interface[ST_CONFIG_IFNAME_MAX + 1]; /* redirect: required */
	struct st_config_addr ipip_source;       /* ipip: outer source; af 0 = the
						  * interface's address */
};

/* `actuators.hook`: pre-provisioning; runs argv with the decision as JSON
 * on stdin, killed after timeout_ms. */
#define ST_CONFIG_HOOK_ARGS_MAX 16
struct st_config_hook {
	unsigned argc;                           /* 0 = no hook (the default) */
	char argv[ST_CONFIG_HOOK_ARGS_MAX][ST_CONFIG_PATH_MAX + 1]; /* argv[0] absolute */
	uint32_t timeout_ms;                     /* 1..600000, 5000 */
};

struct st_config_actuators {
	bool dry_run;       /* decide and log, change nothing; false */
	struct st_config_nexthop nexthop;
	struct st_config_xdp_lb xdp_lb;
	struct st_config_hook hook;
};

/*
 * `policy`: when decisions are made.  A condition raised at a threshold t
 * clears only below t * (1 - hysteresis); after a decision the same stream
 * or pool gets no other for cooldown_s.
 */
struct st_config_policy {
	uint32_t cooldown_s;           /* per stream and per pool, 0..86400, 300 */
	double hysteresis;             /* 0..0.5, 0.1 */
	uint64_t high_cardinality;     /* distinct keys per epoch from which a
					* stream wants a high-memory pool,
					* 1..2^40, 100000 */
	double skew_top1_share;        /* top-1 key share from which a stream
					* wants a skew-handling pool, (0, 1], 0.2 */
	double scale_up_utilization;   /* pool rate / capacity (actual or
					* forecast) that adds a backend, (0, 1], 0.8 */
	double scale_down_utilization; /* ... that removes one, [0, up), 0.3 */
	/* Reactive limits per backend, measured by the data plane's Backend
	 * Metrics record (shadowtap/backends.h); a backend over one triggers a
	 * scale-up of its pool.  0 = that metric is no trigger (the default). */
	double retransmissions_per_s_max; /* TCP retransmissions/s, both ways,
					   * 0..ST_CONFIG_RATE_MAX, 0 */
	double zero_windows_per_s_max;    /* zero windows/s the backend
					   * advertises, 0..ST_CONFIG_RATE_MAX, 0 */
	double latency_p99_ms_max;        /* request -> response p99, ms,
					   * 0..ST_CONFIG_LATENCY_MS_MAX, 0 */
};
#define ST_CONFIG_LATENCY_MS_MAX 3600000.0   /* an hour */

/* One entry of the port map as st_config_ports() lists it. */
struct st_config_port {
	uint16_t port;
	uint8_t transport;     /* ST_CONFIG_TCP or ST_CONFIG_UDP (one each) */
	enum st_proto proto;
};

struct st_config;

/*
 * The built-in configuration: ports 9092 kafka/tcp, 1883 mqtt/tcp, 4222
 * nats/tcp, 5140 jsonl/udp and tcp; no stream rules; no key or numeric
 * fields; the parameters' defaults above.  NULL with errno ENOMEM.  The
 * caller owns the result (st_config_destroy).
 */
struct st_config *st_config_default(void);

/*
 * The configuration in `path`: the built-in one with what the file sets.
 * A section or setting the file leaves out keeps its default; `ports.map`,
 * when present, is the whole port map.  On error: NULL, errno set (ENOENT,
 * EACCES, ... when the file cannot be read; EFBIG past ST_CONFIG_FILE_MAX;
 * EINVAL for any syntax or validation error; ENOMEM), and `err` (when
 * err_len > 0) holds one line, "path:line: what is wrong" ("path: ..." when
 * no line applies), truncated to err_len - 1 bytes.  The caller owns the
 * result.  Any thread, one call per config.
 */
struct st_config *st_config_load(const char *path, char *err, size_t err_len);

/* Frees a config; NULL is a no-op. */
void st_config_destroy(struct st_config *cfg);

/* The file it was loaded from, or NULL for st_config_default(). */
const char *st_config_source(const struct st_config *cfg);

/*
 * The protocol of `port` for transport `l4_proto` (IPPROTO_TCP 6 or
 * IPPROTO_UDP 17), or ST_PROTO_NONE (unmapped port, other transport).
 * O(1), no side effect: safe on the hot path, from any thread.
 */
enum st_proto st_config_port_proto(const struct st_config *cfg,
				   uint8_t l4_proto, uint16_t port);

/*
 * The port map of one transport as a table of 65536 bytes, table[port] =
 * enum st_proto, for a data plane that indexes it directly (or copies it
 * to per-core memory or a BPF map); NULL for a transport other than
 * IPPROTO_TCP and IPPROTO_UDP.  Valid while cfg lives; read-only.
 */
const uint8_t *st_config_port_table(const struct st_config *cfg, uint8_t l4_proto);

/*
 * Lists the port map, ascending by port then TCP before UDP, into out[0..max)
 * and returns the number of entries there are (which may exceed max).
 */
size_t st_config_ports(const struct st_config *cfg, struct st_config_port *out,
		       size_t max);

/*
 * Read accessors: any thread once the config is built; returned pointers
 * belong to cfg and stay valid until st_config_destroy().
 */
const struct st_config_params *st_config_params(const struct st_config *cfg);
/* The fields of streams that no rule names. */
const struct st_config_fields *st_config_default_fields(const struct st_config *cfg);

size_t st_config_stream_count(const struct st_config *cfg);
/* Rule i in file order, or NULL when i >= st_config_stream_count(). */
const struct st_config_stream *st_config_stream_at(const struct st_config *cfg,
						   size_t i);
/* The fields of a stream: rule's, or the defaults when rule is NULL. */
const struct st_config_fields *st_config_stream_fields(const struct st_config *cfg,
						       const struct st_config_stream *rule);
/* The criticality of a stream: rule's, or ST_CRIT_MEDIUM when rule is NULL. */
enum st_criticality st_config_stream_criticality(const struct st_config_stream *rule);
/* Whether a stream's schema is walked: rule's `schema`, or true when rule
 * is NULL (streams no rule names). */
bool st_config_stream_schema(const struct st_config_stream *rule);

/*
 * The stream a record of `proto` on `topic` (len bytes, any bytes, need not
 * be NUL-terminated; NULL allowed when len is 0) belongs to.  Writes its
 * NUL-terminated name (1..63 bytes of UTF-8 text, as the profile header
 * requires) to out and the rule that named it to *rule (NULL when no rule
 * matched; rule itself may be NULL).  A topic holding a NUL byte or longer
 * than ST_CONFIG_TOPIC_MATCH_MAX bytes matches no rule.
 *
 * Unmatched names: "<proto>:<topic>" as is, when that is at most 63 bytes,
 * valid UTF-8 text (no control characters), and does not end in the cut
 * form below.  Otherwise the name is cut: its first bytes (at most 46,
 * back to a UTF-8 character boundary, every byte that is not UTF-8 text
 * replaced by '?') then "~" and the 16 lowercase hex digits of st_hash64()
 * of the raw topic bytes.  So a plain name never ends in "~" + 16 hex
 * digits and a cut name always does: two topics share a name only if they
 * share the prefix and collide in a 64-bit hash.  Rule names cannot start
 * with "<proto>:" (the loader refuses them), so they never meet these.
 *
 * Returns 0, or -EINVAL (proto not kafka/mqtt/nats/jsonl, out NULL, topic
 * NULL with len > 0).  Not for every record: it runs fnmatch(3) over the
 * rules, so the data plane calls it once per new topic and caches the
 * result.  Any thread.
 */
int st_config_stream_name(const struct st_config *cfg, enum st_proto proto,
			  const uint8_t *topic, size_t len,
			  char out[ST_CONFIG_NAME_BYTES],
			  const struct st_config_stream **rule);

/*
 * The JSONL topic of a destination: "a.b.c.d:port" for AF_INET, or
 * "[v6 text]:port" for AF_INET6 (inet_ntop's text), into out.  Returns the
 * length written (NUL excluded), or -EINVAL (other family) or -ENOSPC
 * (out_len too small; 54 bytes always suffice).
 */
int st_config_jsonl_topic(int af, const void *addr, uint16_t port, char *out,
			  size_t out_len);

/*
 * Whether `pointer` is a valid field pointer (see the file head).  0, or
 * -EINVAL with *why (when why is not NULL) set to a static reason.
 */
int st_config_check_pointer(const char *pointer, const char **why);

/*
 * Adds a JSON-pointer key field to every stream: the defaults and each
 * rule (`shadowctl analyze --key PATH`).  A stream that has it already is
 * left as it is.  Returns 0; -EINVAL (not a valid pointer); -E2BIG (a
 * stream would pass its key-field limit, see the file head): then nothing
 * is changed.
 */
int st_config_add_key_field(struct st_config *cfg, const char *pointer);

/*
 * Maps `port` on `transport` (ST_CONFIG_TCP, _UDP or _BOTH) to `proto`;
 * ST_PROTO_NONE unmaps it.  Returns 0, or -EINVAL (port 0, transport not
 * one of those, proto out of range, or Kafka/MQTT/NATS on UDP: those run
 * over TCP only).
 */
int st_config_set_port(struct st_config *cfg, uint16_t port, int transport,
		       enum st_proto proto);

/*
 * Parses "PORT[/TRANSPORT]=PROTOCOL" (`--proto`), e.g. "9093=kafka",
 * "5141/udp=jsonl", "9092=none" (unmaps).  TRANSPORT is tcp, udp or both;
 * without it, tcp for kafka/mqtt/nats and both for jsonl (and for none).
 * Returns 0 with the three outputs set, or -EINVAL with a one-line message
 * quoting the text in err (when err_len > 0).
 */
int st_config_parse_port_override(const char *text, uint16_t *port,
				  int *transport, enum st_proto *proto,
				  char *err, size_t err_len);

/* Parses `text` as above and applies it with st_config_set_port(). */
int st_config_apply_port_override(struct st_config *cfg, const char *text,
				  char *err, size_t err_len);

/*
 * Control-plane sections; pointers belong to cfg (see the read accessors).
 * st_config_threshold() is the `thresholds` entry of criticality c (NULL
 * when c is out of range).
 */
const struct st_config_threshold *st_config_threshold(const struct st_config *cfg,
						      enum st_criticality c);
const struct st_config_detectors *st_config_detectors(const struct st_config *cfg);
const struct st_config_retention *st_config_retention(const struct st_config *cfg);
const struct st_config_control *st_config_control(const struct st_config *cfg);

/* The capacity of a stream: rule's, or defaults.capacity_rps when rule is
 * NULL.  Records/s, 0 = none. */
double st_config_stream_capacity_rps(const struct st_config *cfg,
				     const struct st_config_stream *rule);

/* Pools and backends in file order; NULL when i is past the count. */
size_t st_config_pool_count(const struct st_config *cfg);
const struct st_config_pool *st_config_pool_at(const struct st_config *cfg, size_t i);
/* The pool named `name`, or NULL. */
const struct st_config_pool *st_config_pool_find(const struct st_config *cfg,
						 const char *name);
size_t st_config_backend_count(const struct st_config *cfg);
const struct st_config_backend *st_config_backend_at(const struct st_config *cfg,
						     size_t i);
const struct st_config_actuators *st_config_actuators(const struct st_config *cfg);
const struct st_config_policy *st_config_policy(const struct st_config *cfg);

/* "normal", "high"; "tx", "redirect", "ipip"; NULL when out of range. */
const char *st_memory_class_name(enum st_memory_class m);
const char *st_xdp_forward_name(enum st_xdp_forward f);

/* "low", "medium", "high"; NULL when out of range. */
const char *st_criticality_name(enum st_criticality c);

#endif
