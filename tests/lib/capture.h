/*
 * Test-only capture reader: loads a pcap/pcapng file with libpcap and
 * returns its TCP and UDP payloads as a list of chunks in file order, each
 * tagged with its flow (a small index per 5-tuple, both directions one
 * flow) and its direction relative to a server port.  It understands just
 * enough framing for the project's reference captures (Ethernet with up to
 * two VLAN tags, BSD loopback/NULL, Linux cooked v1, raw IP; IPv4 without
 * fragments, IPv6 without extension headers) and does no reassembly: the
 * codec suites feed chunks in order, which is what these captures hold.
 * Deliberately independent of dataplane/decode, so that codec tests do not
 * lean on the code they sit beside.
 */
#ifndef ST_TEST_CAPTURE_H
#define ST_TEST_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct st_cap_chunk {
	unsigned flow;          /* 0, 1, ... in order of first appearance */
	int to_server;          /* 1 when the destination port is server_port */
	uint8_t l4_proto;       /* 6 or 17 */
	uint16_t sport, dport;
	uint64_t ts_ns;
	uint32_t tcp_seq;
	uint8_t tcp_flags;
	const uint8_t *data;    /* payload bytes (owned by the capture) */
	size_t len;
};

struct st_cap {
	struct st_cap_chunk *chunks;
	size_t n;
	unsigned flows;
};

/* Loads every TCP/UDP payload of `path` whose source or destination port is
 * server_port (0: every port); empty payloads are left out.  NULL with a
 * message on stderr when the file cannot be read. */
struct st_cap *st_cap_load(const char *path, uint16_t server_port);
void st_cap_free(struct st_cap *c);

#endif
