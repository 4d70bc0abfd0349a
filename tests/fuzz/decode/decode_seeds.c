/*
 * Writes the seed corpus of fuzz_decode.c into the directory given as
 * argv[1]: one valid frame of each kind (every link type, VLAN and QinQ,
 * IPv4 with options, IPv6 with an extension-header chain, TCP with
 * options, UDP, padding), plus the frames that end in each drop reason
 * worth mutating (fragments, ICMP, ARP).  Byte 0 of each file picks the
 * link type as linktypes.h lists them.  Deterministic.
 *
 *	fuzz-seeds-decode <corpus dir>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linktypes.h"
#include "tests/dataplane/decode/frames.h"

static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, [8] = 5, [15] = 2 };

static int write_seed(const char *dir, const char *name, int linktype, const struct frame *f)
{
	char path[4096];
	uint8_t pick = 0;
	FILE *out;
	int ok;

	while (fuzz_linktypes[pick] != linktype)
		pick++;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = fopen(path, "wb");
	if (!out) {
		perror(path);
		return -1;
	}
	ok = fwrite(&pick, 1, 1, out) == 1 && fwrite(f->b, 1, f->n, out) == f->n;
	ok &= fclose(out) == 0;
	return ok ? 0 : -1;
}

/* IPv4 + TCP with 12 option bytes and a payload. */
static void ipv4_tcp(struct frame *f)
{
	fr_ipv4(f, 0x0a000001u, 0x0a000002u, 6, 5, 32 + 40, 0x4000);
	fr_tcp(f, 40000, 9092, 1000, 2000, 0x18, 8, 512);
	fr_payload(f, 40);
}

static void ipv6_chain_tcp(struct frame *f)
{
	fr_ipv6(f, v6a, v6b, 0, 8 + 16 + 8 + 20 + 30);
	fr_ipv6_opts(f, 43, 0);
	fr_ipv6_routing(f, 60, 1);
	fr_ipv6_opts(f, 6, 0);
	fr_tcp(f, 4222, 50000, 7, 8, 0x18, 5, 100);
	fr_payload(f, 30);
}

static void ipv4_udp_options(struct frame *f)
{
	fr_ipv4(f, 0xc0a80001u, 0xc0a80002u, 17, 7, 8 + 25, 0);
	fr_udp(f, 5000, 1883, 8 + 25);
	fr_payload(f, 25);
}

static void ipv6_udp(struct frame *f)
{
	fr_ipv6(f, v6b, v6a, 17, 8 + 12);
	fr_udp(f, 9999, 8125, 8 + 12);
	fr_payload(f, 12);
}

int main(int argc, char **argv)
{
	struct frame f;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
#define SEED(name, lt, build)                                   \
	do {                                                    \
		f.n = 0;                                        \
		build;                                          \
		rc |= write_seed(argv[1], name, lt, &f);        \
	} while (0)

	SEED("eth-ipv4-tcp", ST_DLT_EN10MB, (fr_eth(&f, 0x0800), ipv4_tcp(&f)));
	SEED("eth-ipv4-options-udp", ST_DLT_EN10MB, (fr_eth(&f, 0x0800), ipv4_udp_options(&f)));
	SEED("eth-ipv6-chain-tcp", ST_DLT_EN10MB, (fr_eth(&f, 0x86dd), ipv6_chain_tcp(&f)));
	SEED("eth-qinq-ipv4-tcp", ST_DLT_EN10MB,
	     (fr_eth(&f, 0x88a8), fr_vlan(&f, 100, 0x8100), fr_vlan(&f, 200, 0x0800), ipv4_tcp(&f)));
	SEED("eth-vlan-ipv6-udp", ST_DLT_EN10MB,
	     (fr_eth(&f, 0x8100), fr_vlan(&f, 7, 0x86dd), ipv6_udp(&f)));
	SEED("eth-padded", ST_DLT_EN10MB,
	     (fr_eth(&f, 0x0800), fr_ipv4(&f, 1, 2, 17, 5, 9, 0), fr_udp(&f, 1, 2, 9),
	      fr_payload(&f, 1), fr_fill(&f, 0, 60 - f.n)));
	SEED("eth-ipv4-fragment", ST_DLT_EN10MB,
	     (fr_eth(&f, 0x0800), fr_ipv4(&f, 1, 2, 17, 5, 16, 0x2000), fr_udp(&f, 1, 2, 100),
	      fr_payload(&f, 8)));
	SEED("eth-ipv6-fragment", ST_DLT_EN10MB,
	     (fr_eth(&f, 0x86dd), fr_ipv6(&f, v6a, v6b, 44, 16), fr_ipv6_frag(&f, 17, 0, 1),
	      fr_udp(&f, 1, 2, 100)));
	SEED("eth-icmp", ST_DLT_EN10MB,
	     (fr_eth(&f, 0x0800), fr_ipv4(&f, 1, 2, 1, 5, 8, 0), fr_be32(&f, 0x08000000u),
	      fr_be32(&f, 1)));
	SEED("eth-arp", ST_DLT_EN10MB, (fr_eth(&f, 0x0806), fr_fill(&f, 0, 28)));
	SEED("null-le-ipv4-tcp", ST_DLT_NULL, (fr_le32(&f, 2), ipv4_tcp(&f)));
	SEED("null-be-ipv6-tcp", ST_DLT_NULL, (fr_be32(&f, 30), ipv6_chain_tcp(&f)));
	SEED("loop-be-ipv4-udp", ST_DLT_LOOP, (fr_be32(&f, 2), ipv4_udp_options(&f)));
	SEED("loop-le-ipv6-udp", ST_DLT_LOOP, (fr_le32(&f, 28), ipv6_udp(&f)));
	SEED("sll-ipv4-tcp", ST_DLT_LINUX_SLL, (fr_sll(&f, 0x0800), ipv4_tcp(&f)));
	SEED("sll-vlan-ipv6-udp", ST_DLT_LINUX_SLL,
	     (fr_sll(&f, 0x8100), fr_vlan(&f, 3, 0x86dd), ipv6_udp(&f)));
	SEED("sll2-ipv6-tcp", ST_DLT_LINUX_SLL2, (fr_sll2(&f, 0x86dd), ipv6_chain_tcp(&f)));
	SEED("sll2-ipv4-udp", ST_DLT_LINUX_SLL2, (fr_sll2(&f, 0x0800), ipv4_udp_options(&f)));
	SEED("raw-ipv4-tcp", ST_DLT_RAW, ipv4_tcp(&f));
	SEED("raw-ipv6-udp", ST_DLT_RAW, ipv6_udp(&f));
	SEED("raw12-ipv6-tcp", ST_DLT_RAW_BSD12, ipv6_chain_tcp(&f));
	SEED("raw14-ipv4-udp", ST_DLT_RAW_BSD14, ipv4_udp_options(&f));
	SEED("ipv4-tcp", ST_DLT_IPV4, ipv4_tcp(&f));
	SEED("ipv6-udp", ST_DLT_IPV6, ipv6_udp(&f));
#undef SEED
	return rc ? 1 : 0;
}
