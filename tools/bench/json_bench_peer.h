/*
 * The JSON benchmark's two contenders behind one C interface, so that one
 * process runs both on the same records in interleaved repetitions:
 * shadowtap's scanner (json_bench.c) and simdjson On-Demand
 * (json_bench_simdjson.cpp, built only when libsimdjson and a C++ compiler
 * are present: BENCH_HAVE_SIMDJSON).
 *
 * Both extract the same three fields of every record, "/user/id" as a
 * string, "/amount" and "/ts" as numbers, and fold them into the same sums;
 * in schema mode both also send every member's and element's path and type
 * to an st_schema, with the path rules of dataplane/json/json.h.
 */
#ifndef ST_JSON_BENCH_PEER_H
#define ST_JSON_BENCH_PEER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct st_schema;

/* Records: record i is buf[off[i] .. off[i] + len[i]); buf is readable (and
 * its content arbitrary) for at least 64 bytes past every record. */
struct json_bench_records {
	const uint8_t *buf;
	const uint64_t *off;
	const uint32_t *len;
	size_t n;
	uint64_t bytes;           /* sum of len[] */
};

/* What a pass extracted, identical for both contenders on the same input. */
struct json_bench_sums {
	uint64_t id_hash;         /* sum of st_hash64(decoded /user/id) */
	uint64_t number_bits;     /* sum of the bits of /amount and /ts */
	uint64_t complete;        /* records where all three were found */
	uint64_t failed;          /* records the contender refused */
};

struct json_peer;

struct json_peer *json_peer_create(void);
/* simdjson's kernel compiled into the peer ("icelake", "haswell", ...). */
const char *json_peer_implementation(void);
void json_peer_destroy(struct json_peer *peer);
/* One pass over all records with simdjson On-Demand; schema NULL: fields
 * only.  0, or -1 when the peer is not built in. */
int json_peer_pass(struct json_peer *peer, const struct json_bench_records *r,
		   struct st_schema *schema, struct json_bench_sums *out);
/* The same with simdjson's DOM parser, which validates every record whole
 * (as our scanner does) before the fields are read. */
int json_peer_dom_pass(struct json_peer *peer,
		       const struct json_bench_records *r,
		       struct st_schema *schema, struct json_bench_sums *out);

#ifdef __cplusplus
}
#endif

#endif
