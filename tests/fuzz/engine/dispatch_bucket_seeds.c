/*
 * Writes the seed corpus of fuzz_dispatch_bucket.c into the directory given
 * as argv[1]: Ethernet frames of each shape the quick parse takes (IPv4
 * and IPv6, TCP and UDP, one and two VLAN tags) and a few it leaves to
 * st_decode() (an IPv6 extension header, a fragment, three tags, ARP).
 * Deterministic.
 *
 *	fuzz-seeds-dispatch_bucket <corpus dir>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/dataplane/decode/frames.h"

static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, [8] = 5, [15] = 2 };

static int write_seed(const char *dir, const char *name, const struct frame *f)
{
	char path[4096];
	FILE *out;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = fopen(path, "wb");
	if (!out) {
		perror(path);
		return -1;
	}
	ok = fwrite(f->b, 1, f->n, out) == f->n;
	ok &= fclose(out) == 0;
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct frame f;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	f.n = 0;
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, 0x0a000001u, 0x0a000002u, 17, 5, 8 + 10, 0);
	fr_udp(&f, 40000, 5140, 8 + 10);
	fr_payload(&f, 10);
	rc |= write_seed(argv[1], "ipv4-udp", &f);

	f.n = 0;
	fr_eth(&f, 0x8100);
	fr_vlan(&f, 7, 0x0800);
	fr_ipv4(&f, 0x0a000001u, 0x0a000002u, 6, 6, 20 + 12, 0x4000);
	fr_tcp(&f, 40000, 9092, 1, 2, 0x18, 5, 512);
	fr_payload(&f, 12);
	rc |= write_seed(argv[1], "vlan-ipv4-options-tcp", &f);

	f.n = 0;
	fr_eth(&f, 0x88a8);
	fr_vlan(&f, 100, 0x8100);
	fr_vlan(&f, 7, 0x86dd);
	fr_ipv6(&f, v6a, v6b, 6, 20 + 8);
	fr_tcp(&f, 50000, 1883, 1, 2, 0x18, 5, 512);
	fr_payload(&f, 8);
	rc |= write_seed(argv[1], "qinq-ipv6-tcp", &f);

	f.n = 0;
	fr_eth(&f, 0x86dd);
	fr_ipv6(&f, v6b, v6a, 0, 8 + 8 + 4);
	fr_ipv6_opts(&f, 17, 0);
	fr_udp(&f, 9999, 5140, 8 + 4);
	fr_payload(&f, 4);
	rc |= write_seed(argv[1], "ipv6-hopopts-udp", &f);

	f.n = 0;
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, 0x0a000001u, 0x0a000002u, 17, 5, 8 + 10, 0x2000);
	fr_udp(&f, 40000, 5140, 8 + 10);
	fr_payload(&f, 10);
	rc |= write_seed(argv[1], "ipv4-fragment", &f);

	f.n = 0;
	fr_eth(&f, 0x8100);
	fr_vlan(&f, 1, 0x8100);
	fr_vlan(&f, 2, 0x9100);
	fr_vlan(&f, 3, 0x0800);
	fr_ipv4(&f, 0x0a000001u, 0x0a000002u, 17, 5, 8, 0);
	fr_udp(&f, 1, 2, 8);
	rc |= write_seed(argv[1], "three-tags", &f);

	f.n = 0;
	fr_eth(&f, 0x0806);
	fr_fill(&f, 0, 28);
	rc |= write_seed(argv[1], "arp", &f);
	return rc ? 1 : 0;
}
