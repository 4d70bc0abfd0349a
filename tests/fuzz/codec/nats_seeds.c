/*
 * Writes valid inputs for the `nats` fuzz target (the operation format of
 * fuzz_mqtt_nats.h) into the directory given as argv[1]: client and server
 * sides of a session with every operation, whole, byte by byte, with a gap,
 * and with an HPUB larger than ST_CODEC_HOLD_MAX.  Deterministic.
 *
 *	fuzz-seeds-nats <corpus dir>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_mqtt_nats_seeds.h"

static const char *const up =
	"CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"c\",\"headers\":true}\r\n"
	"PING\r\n"
	"SUB orders.> 1\r\n"
	"PUB orders.eu 18\r\n{\"id\":\"k1\",\"v\":1}\r\n"
	"PUB orders.us _INBOX.a1 18\r\n{\"id\":\"k2\",\"v\":2}\r\n"
	"HPUB orders.eu 38 56\r\nNATS/1.0\r\ntraceparent: 00-ab-cd-01\r\n\r\n{\"id\":\"k3\",\"v\":3}\r\n"
	"pub lower 2\r\nhi\r\n"
	"UNSUB 1\r\n"
	"PONG\r\n";
static const char *const down =
	"INFO {\"server_id\":\"S\",\"version\":\"2.10.7\",\"headers\":true,\"max_payload\":1048576}\r\n"
	"PONG\r\n"
	"+OK\r\n"
	"MSG orders.eu 1 18\r\n{\"id\":\"k1\",\"v\":1}\r\n"
	"HMSG orders.eu 1 _INBOX.a1 38 56\r\nNATS/1.0\r\ntraceparent: 00-ab-cd-01\r\n\r\n{\"id\":\"k3\",\"v\":3}\r\n"
	"-ERR 'Unknown Protocol Operation'\r\n"
	"PING\r\n";

int main(int argc, char **argv)
{
	static struct out seed;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
		return 2;
	}
	seed.len = 0;
	chunk_str(&seed, 0, up);
	chunk_str(&seed, 1, down);
	write_seed(argv[1], "session", &seed);

	seed.len = 0;
	bytewise(&seed, 0, up, strlen(up));
	bytewise(&seed, 1, down, strlen(down));
	write_seed(argv[1], "session-bytewise", &seed);

	/* part of the upstream, a gap, then all of it */
	seed.len = 0;
	put8(&seed, 0x00);
	put8(&seed, 99);
	put(&seed, up, 100);
	put8(&seed, 0x80);
	chunk_str(&seed, 0, up);
	write_seed(argv[1], "session-gap", &seed);

	/* an HPUB with 100,352 payload bytes (filler), then a PUB */
	seed.len = 0;
	chunk_str(&seed, 0, "HPUB big 12 100364\r\nNATS/1.0\r\n\r\n");
	put8(&seed, 0x04);
	put8(&seed, 'x');
	put8(&seed, 195);        /* (195 + 1) * 512 = 100,352 bytes */
	chunk_str(&seed, 0, "\r\nPUB after 2\r\nok\r\n");
	write_seed(argv[1], "large-hpub", &seed);

	/* an INFO longer than max_control_line, then a message */
	seed.len = 0;
	chunk_str(&seed, 1, "INFO {\"connect_urls\":\"");
	put8(&seed, 0x05);
	put8(&seed, 'u');
	put8(&seed, 9);          /* 5,120 bytes */
	chunk_str(&seed, 1, "\"}\r\nMSG s 1 2\r\nok\r\n");
	write_seed(argv[1], "long-info", &seed);
	return 0;
}
