/*
 * Decoder tests.  Oracles, all from outside decode.c:
 *   - hand-built frames (frames.h, written from the RFC layouts) whose
 *     expected fields are the constants they were built from;
 *   - tshark 4.0, run at test time on every capture in
 *     ../shared/data/pcaps/{kafka,mqtt,nats} and on pcaps this test writes
 *     from its hand-built frames (IPv6 with extension headers, QinQ, SLL,
 *     SLL2, BSD loopback in both byte orders, raw IP): addresses (all 16
 *     bytes), ports, payload length, TCP seq/ack/flags/window, VLAN ids;
 *   - every truncation of every valid frame, each decoded from a heap copy
 *     of exactly that many bytes, so that ASan (the asan build) catches any
 *     read outside [0, caplen).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataplane/decode/decode.h"
#include "frames.h"
#include "st_test.h"

#define A4 0x0a000001u   /* 10.0.0.1 */
#define B4 0x0a000002u   /* 10.0.0.2 */
#define C4 0xc0a80a63u   /* 192.168.10.99 */

/* Pairs that share their first 32 (and 64) bits: an address compare that
 * stops early cannot tell them apart. */
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x02 };
static const uint8_t C6[16] = { 0x20, 0x01, 0x0d, 0xb8, [8] = 0x77, [15] = 0x01 };

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/* A valid frame and what the decoder must find in it. */
struct good {
	const char *name;
	int linktype;
	struct frame f;
	uint32_t l3_end;          /* bytes up to the end of the IP datagram */
	uint8_t family, l4_proto;
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint32_t payload_off, payload_len;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	uint8_t vlan_depth;
	uint16_t vlan_id[2];
};

static void mapped(uint8_t out[16], uint32_t v4)
{
	memset(out, 0, 16);
	out[10] = 0xff;
	out[11] = 0xff;
	out[12] = (uint8_t)(v4 >> 24);
	out[13] = (uint8_t)(v4 >> 16);
	out[14] = (uint8_t)(v4 >> 8);
	out[15] = (uint8_t)v4;
}

static void expect_tcp(struct good *g, uint16_t sport, uint16_t dport, uint32_t seq,
		       uint32_t ack, uint8_t flags, uint16_t window)
{
	g->l4_proto = IPPROTO_TCP_;
	g->sport = sport;
	g->dport = dport;
	g->seq = seq;
	g->ack = ack;
	g->flags = flags;
	g->window = window;
}

static void expect_udp(struct good *g, uint16_t sport, uint16_t dport)
{
	g->l4_proto = IPPROTO_UDP_;
	g->sport = sport;
	g->dport = dport;
}

static void expect_v4(struct good *g, uint32_t s, uint32_t d)
{
	g->family = 4;
	mapped(g->saddr, s);
	mapped(g->daddr, d);
}

static void expect_v6(struct good *g, const uint8_t *s, const uint8_t *d)
{
	g->family = 6;
	memcpy(g->saddr, s, 16);
	memcpy(g->daddr, d, 16);
}

/* ---- the catalogue of valid frames ---- */

static void g_eth_ipv4_tcp(struct good *g)
{
	g->name = "eth-ipv4-tcp";
	g->linktype = ST_DLT_EN10MB;
	fr_eth(&g->f, 0x0800);
	fr_ipv4(&g->f, A4, B4, IPPROTO_TCP_, 5, 20 + 100, 0x4000);
	fr_tcp(&g->f, 40000, 9092, 0x11223344u, 0x55667788u, 0x18, 5, 512);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 100);
	g->payload_len = 100;
	expect_v4(g, A4, B4);
	expect_tcp(g, 40000, 9092, 0x11223344u, 0x55667788u, 0x18, 512);
}

static void g_eth_ipv4_options_udp(struct good *g)
{
	g->name = "eth-ipv4-options-udp";
	g->linktype = ST_DLT_EN10MB;
	fr_eth(&g->f, 0x0800);
	fr_ipv4(&g->f, C4, A4, IPPROTO_UDP_, 8, 8 + 33, 0);
	fr_udp(&g->f, 5353, 1883, 8 + 33);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 33);
	g->payload_len = 33;
	expect_v4(g, C4, A4);
	expect_udp(g, 5353, 1883);
}

static void g_eth_ipv4_tcp_options(struct good *g)
{
	g->name = "eth-ipv4-tcp-options";
	g->linktype = ST_DLT_EN10MB;
	fr_eth(&g->f, 0x0800);
	fr_ipv4(&g->f, B4, A4, IPPROTO_TCP_, 5, 40 + 7, 0);
	fr_tcp(&g->f, 9092, 40000, 0xfffffff0u, 1, 0x10, 10, 65535);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 7);
	g->payload_len = 7;
	expect_v4(g, B4, A4);
	expect_tcp(g, 9092, 40000, 0xfffffff0u, 1, 0x10, 65535);
}

static void g_eth_ipv6_ext_tcp(struct good *g)
{
	uint32_t ext = 8 + 24 + 16;

	g->name = "eth-ipv6-hop-routing-dst-tcp";
	g->linktype = ST_DLT_EN10MB;
	fr_eth(&g->f, 0x86dd);
	fr_ipv6(&g->f, A6, B6, 0, (uint16_t)(ext + 20 + 50));
	fr_ipv6_opts(&g->f, 43, 0);
	fr_ipv6_routing(&g->f, 60, 2);
	fr_ipv6_opts(&g->f, 6, 1);
	fr_tcp(&g->f, 33000, 4222, 7, 8, 0x18, 5, 1000);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 50);
	g->payload_len = 50;
	expect_v6(g, A6, B6);
	expect_tcp(g, 33000, 4222, 7, 8, 0x18, 1000);
}

static void g_eth_ipv6_udp(struct good *g)
{
	g->name = "eth-ipv6-udp";
	g->linktype = ST_DLT_EN10MB;
	fr_eth(&g->f, 0x86dd);
	fr_ipv6(&g->f, C6, A6, IPPROTO_UDP_, 8 + 21);
	fr_udp(&g->f, 40001, 9999, 8 + 21);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 21);
	g->payload_len = 21;
	expect_v6(g, C6, A6);
	expect_udp(g, 40001, 9999);
}

static void g_qinq_ipv4_udp(struct good *g)
{
	g->name = "qinq-ipv4-udp";
	g->linktype = ST_DLT_EN10MB;
	fr_eth(&g->f, 0x88a8);
	fr_vlan(&g->f, 0x2000 | 100, 0x8100);
	fr_vlan(&g->f, 200, 0x0800);
	fr_ipv4(&g->f, A4, C4, IPPROTO_UDP_, 5, 8 + 64, 0);
	fr_udp(&g->f, 1000, 2000, 8 + 64);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 64);
	g->payload_len = 64;
	expect_v4(g, A4, C4);
	expect_udp(g, 1000, 2000);
	g->vlan_depth = 2;
	g->vlan_id[0] = 100;
	g->vlan_id[1] = 200;
}

static void g_vlan_ipv6_tcp(struct good *g)
{
	g->name = "vlan-ipv6-tcp";
	g->linktype = ST_DLT_EN10MB;
	fr_eth(&g->f, 0x8100);
	fr_vlan(&g->f, 0xe000 | 4094, 0x86dd);
	fr_ipv6(&g->f, B6, C6, IPPROTO_TCP_, 20 + 3);
	fr_tcp(&g->f, 1883, 50000, 0x80000000u, 0, 0x02, 5, 29200);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 3);
	g->payload_len = 3;
	expect_v6(g, B6, C6);
	expect_tcp(g, 1883, 50000, 0x80000000u, 0, 0x02, 29200);
	g->vlan_depth = 1;
	g->vlan_id[0] = 4094;
}

/* A 54-byte TCP/IPv4 frame padded to Ethernet's 60-byte minimum. */
static void g_eth_padded_tcp(struct good *g)
{
	g->name = "eth-ipv4-tcp-padded";
	g->linktype = ST_DLT_EN10MB;
	fr_eth(&g->f, 0x0800);
	fr_ipv4(&g->f, A4, B4, IPPROTO_TCP_, 5, 20, 0x4000);
	fr_tcp(&g->f, 40000, 9092, 99, 100, 0x10, 5, 501);
	g->payload_off = g->f.n;
	g->payload_len = 0;
	g->l3_end = g->f.n;
	fr_fill(&g->f, 0xee, 6);
	expect_v4(g, A4, B4);
	expect_tcp(g, 40000, 9092, 99, 100, 0x10, 501);
}

/* UDP with 2 payload bytes, padded: IP length, not the frame, ends it. */
static void g_eth_padded_udp(struct good *g)
{
	g->name = "eth-ipv4-udp-padded";
	g->linktype = ST_DLT_EN10MB;
	fr_eth(&g->f, 0x0800);
	fr_ipv4(&g->f, B4, C4, IPPROTO_UDP_, 5, 10, 0);
	fr_udp(&g->f, 7, 8, 10);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 2);
	g->payload_len = 2;
	g->l3_end = g->f.n;
	fr_fill(&g->f, 0, 60 - g->f.n);
	expect_v4(g, B4, C4);
	expect_udp(g, 7, 8);
}

static void g_null(struct good *g, const char *name, int big_endian, uint32_t family, int v6)
{
	g->name = name;
	g->linktype = ST_DLT_NULL;
	if (big_endian)
		fr_be32(&g->f, family);
	else
		fr_le32(&g->f, family);
	if (v6) {
		fr_ipv6(&g->f, A6, C6, IPPROTO_TCP_, 20 + 11);
		fr_tcp(&g->f, 4222, 60000, 123456789u, 987654321u, 0x18, 5, 8192);
		expect_v6(g, A6, C6);
	} else {
		fr_ipv4(&g->f, A4, A4, IPPROTO_TCP_, 5, 20 + 11, 0);
		fr_tcp(&g->f, 4222, 60000, 123456789u, 987654321u, 0x18, 5, 8192);
		expect_v4(g, A4, A4);
	}
	g->payload_off = g->f.n;
	fr_payload(&g->f, 11);
	g->payload_len = 11;
	expect_tcp(g, 4222, 60000, 123456789u, 987654321u, 0x18, 8192);
}

static void g_null_le_v4(struct good *g) { g_null(g, "null-le-ipv4", 0, 2, 0); }
static void g_null_be_v4(struct good *g) { g_null(g, "null-be-ipv4", 1, 2, 0); }
static void g_null_le_v6_24(struct good *g) { g_null(g, "null-le-ipv6-24", 0, 24, 1); }
static void g_null_be_v6_28(struct good *g) { g_null(g, "null-be-ipv6-28", 1, 28, 1); }
static void g_null_le_v6_30(struct good *g) { g_null(g, "null-le-ipv6-30", 0, 30, 1); }

static void g_sll_ipv4_tcp(struct good *g)
{
	g->name = "sll-ipv4-tcp";
	g->linktype = ST_DLT_LINUX_SLL;
	fr_sll(&g->f, 0x0800);
	fr_ipv4(&g->f, C4, B4, IPPROTO_TCP_, 6, 20 + 5, 0);
	fr_tcp(&g->f, 55555, 9092, 1, 2, 0x19, 5, 3);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 5);
	g->payload_len = 5;
	expect_v4(g, C4, B4);
	expect_tcp(g, 55555, 9092, 1, 2, 0x19, 3);
}

static void g_sll2_ipv6_udp(struct good *g)
{
	g->name = "sll2-ipv6-udp";
	g->linktype = ST_DLT_LINUX_SLL2;
	fr_sll2(&g->f, 0x86dd);
	fr_ipv6(&g->f, B6, A6, IPPROTO_UDP_, 8 + 9);
	fr_udp(&g->f, 8125, 514, 8 + 9);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 9);
	g->payload_len = 9;
	expect_v6(g, B6, A6);
	expect_udp(g, 8125, 514);
}

static void g_raw_ipv4_udp(struct good *g)
{
	g->name = "raw-ipv4-udp";
	g->linktype = ST_DLT_RAW;
	fr_ipv4(&g->f, A4, B4, IPPROTO_UDP_, 5, 8 + 15, 0);
	fr_udp(&g->f, 12345, 9000, 8 + 15);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 15);
	g->payload_len = 15;
	expect_v4(g, A4, B4);
	expect_udp(g, 12345, 9000);
}

static void g_raw_ipv6_tcp(struct good *g)
{
	g->name = "raw-ipv6-dst-tcp";
	g->linktype = ST_DLT_RAW;
	fr_ipv6(&g->f, C6, B6, 60, 8 + 20 + 4);
	fr_ipv6_opts(&g->f, IPPROTO_TCP_, 0);
	fr_tcp(&g->f, 9092, 1024, 42, 43, 0x11, 5, 77);
	g->payload_off = g->f.n;
	fr_payload(&g->f, 4);
	g->payload_len = 4;
	expect_v6(g, C6, B6);
	expect_tcp(g, 9092, 1024, 42, 43, 0x11, 77);
}

static void (*const catalogue[])(struct good *) = {
	g_eth_ipv4_tcp, g_eth_ipv4_options_udp, g_eth_ipv4_tcp_options,
	g_eth_ipv6_ext_tcp, g_eth_ipv6_udp, g_qinq_ipv4_udp, g_vlan_ipv6_tcp,
	g_eth_padded_tcp, g_eth_padded_udp, g_null_le_v4, g_null_be_v4,
	g_null_le_v6_24, g_null_be_v6_28, g_null_le_v6_30, g_sll_ipv4_tcp,
	g_sll2_ipv6_udp, g_raw_ipv4_udp, g_raw_ipv6_tcp,
};
#define N_GOOD ST_ARRAY_SIZE(catalogue)

static void build_good(size_t i, struct good *g)
{
	memset(g, 0, sizeof(*g));
	catalogue[i](g);
	if (!g->l3_end)
		g->l3_end = g->f.n;
}

/* Decodes from a heap copy of exactly caplen bytes (ASan sees overreads). */
static enum st_decode_result decode_copy(const uint8_t *frame, uint32_t caplen, int linktype,
					 struct st_pkt *out, uint8_t **copy)
{
	*copy = malloc(caplen ? caplen : 1);
	memcpy(*copy, frame, caplen);
	return st_decode(*copy, caplen, linktype, 1234567890123ull, out);
}

static bool check_good(const struct good *g, const struct st_pkt *p, const uint8_t *frame,
		       uint32_t caplen)
{
	bool ok = true;

	ok &= p->family == g->family && p->l4_proto == g->l4_proto;
	ok &= !memcmp(p->saddr, g->saddr, 16) && !memcmp(p->daddr, g->daddr, 16);
	ok &= p->sport == g->sport && p->dport == g->dport;
	ok &= p->payload == frame + g->payload_off && p->payload_len == g->payload_len;
	ok &= p->tcp_seq == g->seq && p->tcp_ack == g->ack;
	ok &= p->tcp_flags == g->flags && p->tcp_window == g->window;
	ok &= p->vlan_depth == g->vlan_depth;
	ok &= p->vlan_id[0] == g->vlan_id[0] && p->vlan_id[1] == g->vlan_id[1];
	ok &= p->frame_len == caplen && p->ts_ns == 1234567890123ull;
	if (!ok)
		fprintf(stderr, "\n  %s: decoded fields differ from the built ones\n", g->name);
	return ok;
}

static void test_catalogue_decodes(void)
{
	for (size_t i = 0; i < N_GOOD; i++) {
		struct good g;
		struct st_pkt p;
		uint8_t *copy;
		enum st_decode_result r;

		build_good(i, &g);
		r = decode_copy(g.f.b, g.f.n, g.linktype, &p, &copy);
		if (r != ST_DECODE_OK)
			fprintf(stderr, "\n  %s: %s\n", g.name, st_decode_reason_name(r));
		CU_ASSERT_EQUAL(r, ST_DECODE_OK);
		if (r == ST_DECODE_OK) {
			CU_ASSERT_TRUE(check_good(&g, &p, copy, g.f.n));
		}
		free(copy);
	}
}

static bool is_truncation_reason(enum st_decode_result r)
{
	return r == ST_DECODE_L2_TRUNCATED || r == ST_DECODE_IPV4_TRUNCATED ||
	       r == ST_DECODE_IPV6_TRUNCATED;
}

/* Every prefix of every valid frame: shorter than the datagram -> a
 * truncation reason; at least the datagram -> the same packet. */
static void test_every_truncation(void)
{
	unsigned drops = 0, oks = 0, want_drops = 0, want_oks = 0;

	for (size_t i = 0; i < N_GOOD; i++) {
		struct good g;

		build_good(i, &g);
		want_drops += g.l3_end;
		want_oks += g.f.n - g.l3_end;
		for (uint32_t len = 0; len < g.f.n; len++) {
			struct st_pkt p;
			uint8_t *copy;
			enum st_decode_result r = decode_copy(g.f.b, len, g.linktype, &p, &copy);

			if (len < g.l3_end) {
				if (!is_truncation_reason(r))
					fprintf(stderr, "\n  %s cut at %u: %s\n", g.name, len,
						st_decode_reason_name(r));
				CU_ASSERT_TRUE(is_truncation_reason(r));
				drops++;
			} else {
				CU_ASSERT_EQUAL(r, ST_DECODE_OK);
				if (r == ST_DECODE_OK) {
					CU_ASSERT_TRUE(check_good(&g, &p, copy, len));
				}
				oks++;
			}
			free(copy);
		}
	}
	CU_ASSERT_EQUAL(drops, want_drops);
	CU_ASSERT_EQUAL(oks, want_oks);   /* the padded frames cut in their padding */
	CU_ASSERT_TRUE(want_oks > 0);
}

/* ---- frames that must be dropped, each for its own reason ---- */

static enum st_decode_result decode_frame(const struct frame *f, int linktype)
{
	struct st_pkt p;
	uint8_t *copy;
	enum st_decode_result r = decode_copy(f->b, f->n, linktype, &p, &copy);

	free(copy);
	return r;
}

static void test_vlan_depth(void)
{
	struct frame f = { .n = 0 };

	fr_eth(&f, 0x88a8);
	fr_vlan(&f, 1, 0x8100);
	fr_vlan(&f, 2, 0x8100);
	fr_vlan(&f, 3, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 5, 8, 0);
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_VLAN_TOO_DEEP);

	/* 0x9100 (old QinQ) outer tag with 802.1Q inner: two tags, fine. */
	f.n = 0;
	fr_eth(&f, 0x9100);
	fr_vlan(&f, 10, 0x8100);
	fr_vlan(&f, 20, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 5, 8, 0);
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_OK);
}

static void test_ipv4_fragments(void)
{
	struct frame f = { .n = 0 };

	/* first fragment: MF set, offset 0: not reassembled, so skipped too */
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 5, 8 + 100, 0x2000);
	fr_udp(&f, 1, 2, 8 + 500);
	fr_payload(&f, 100);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_IP_FRAGMENT);
	/* a later fragment: offset 185 * 8, MF clear */
	f.n = 0;
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 5, 60, 185);
	fr_payload(&f, 60);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_IP_FRAGMENT);
	/* DF alone is no fragment */
	f.n = 0;
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 5, 8, 0x4000);
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_OK);
}

static void test_ipv6_fragment_and_chain_limits(void)
{
	struct frame f = { .n = 0 };

	fr_eth(&f, 0x86dd);
	fr_ipv6(&f, A6, B6, 0, 8 + 8 + 8 + 10);
	fr_ipv6_opts(&f, 44, 0);
	fr_ipv6_frag(&f, IPPROTO_UDP_, 0, 1);
	fr_udp(&f, 1, 2, 18);
	fr_payload(&f, 10);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_IP_FRAGMENT);

	for (unsigned n = 1; n <= ST_DECODE_IPV6_EXT_MAX + 1; n++) {
		f.n = 0;
		fr_eth(&f, 0x86dd);
		fr_ipv6(&f, A6, B6, 60, (uint16_t)(n * 8 + 8));
		for (unsigned k = 0; k < n; k++)
			fr_ipv6_opts(&f, k + 1 < n ? 60 : IPPROTO_UDP_, 0);
		fr_udp(&f, 1, 2, 8);
		CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB),
				n <= ST_DECODE_IPV6_EXT_MAX ? ST_DECODE_OK
							    : ST_DECODE_IPV6_EXT_TOO_MANY);
	}

	/* an extension header longer than the payload length says */
	f.n = 0;
	fr_eth(&f, 0x86dd);
	fr_ipv6(&f, A6, B6, 0, 8);
	fr_ipv6_opts(&f, IPPROTO_UDP_, 1);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_IPV6_EXT_TRUNCATED);

	/* payload length 0: a jumbogram, not supported */
	f.n = 0;
	fr_eth(&f, 0x86dd);
	fr_ipv6(&f, A6, B6, IPPROTO_UDP_, 0);
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_IPV6_BAD_HEADER);
}

static void test_not_ip_and_not_tcp_udp(void)
{
	struct frame f = { .n = 0 };

	fr_eth(&f, 0x0806);        /* ARP request */
	fr_be16(&f, 1);
	fr_be16(&f, 0x0800);
	fr_u8(&f, 6);
	fr_u8(&f, 4);
	fr_be16(&f, 1);
	fr_fill(&f, 0, 20);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_NOT_IP);

	f.n = 0;
	fr_eth(&f, 0x0800);        /* ICMP echo */
	fr_ipv4(&f, A4, B4, 1, 5, 8, 0);
	fr_be32(&f, 0x08000000u);
	fr_be32(&f, 0x00010001u);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_NOT_TCP_UDP);

	f.n = 0;
	fr_eth(&f, 0x86dd);        /* ICMPv6 echo after a hop-by-hop header */
	fr_ipv6(&f, A6, B6, 0, 16);
	fr_ipv6_opts(&f, 58, 0);
	fr_be32(&f, 0x80000000u);
	fr_be32(&f, 1);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_NOT_TCP_UDP);

	f.n = 0;
	fr_le32(&f, 7);            /* BSD loopback, an unknown family */
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 5, 8, 0);
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_LOOP), ST_DECODE_NOT_IP);

	f.n = 0;
	fr_eth(&f, 0x05dc);        /* 802.3 length field, LLC follows */
	fr_fill(&f, 0x42, 46);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_NOT_IP);
}

static void test_bad_l3_headers(void)
{
	struct frame f = { .n = 0 };

	fr_eth(&f, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 4, 8, 0);   /* IHL 4 */
	fr_fill(&f, 0, 12);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_IPV4_BAD_HEADER);

	f.n = 0;
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 6, 8, 0);   /* total 32 < IHL 6 * 4 + ... */
	f.b[14 + 2] = 0;
	f.b[14 + 3] = 20;                            /* total 20 < 24 */
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_IPV4_BAD_HEADER);

	f.n = 0;
	fr_eth(&f, 0x0800);                          /* says IPv4, holds IPv6 */
	fr_ipv6(&f, A6, B6, IPPROTO_UDP_, 8);
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_IP_BAD_VERSION);

	f.n = 0;                                     /* DLT_IPV4 holding IPv6 */
	fr_ipv6(&f, A6, B6, IPPROTO_UDP_, 8);
	fr_udp(&f, 1, 2, 8);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_IPV4), ST_DECODE_IP_BAD_VERSION);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_IPV6), ST_DECODE_OK);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_RAW_BSD12), ST_DECODE_OK);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_RAW_BSD14), ST_DECODE_OK);
	f.b[0] = 0x50;                               /* version 5 */
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_RAW), ST_DECODE_IP_BAD_VERSION);

	CU_ASSERT_EQUAL(decode_frame(&f, 105), ST_DECODE_LINKTYPE_UNSUPPORTED);
	CU_ASSERT_FALSE(st_decode_linktype_supported(105));
	CU_ASSERT_TRUE(st_decode_linktype_supported(ST_DLT_LINUX_SLL2));
}

static void test_bad_l4_headers(void)
{
	struct frame f = { .n = 0 };

	fr_eth(&f, 0x0800);                          /* UDP length 7 */
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 5, 8, 0);
	fr_udp(&f, 1, 2, 7);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_UDP_BAD_LENGTH);

	f.n = 0;                                     /* UDP length past the IP payload */
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 5, 8 + 4, 0);
	fr_udp(&f, 1, 2, 8 + 5);
	fr_payload(&f, 4);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_UDP_BAD_LENGTH);

	f.n = 0;                                     /* only 6 bytes of UDP header */
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_UDP_, 5, 6, 0);
	fr_fill(&f, 0, 6);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_UDP_TRUNCATED);

	f.n = 0;                                     /* TCP data offset 4 */
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_TCP_, 5, 20, 0);
	fr_tcp(&f, 1, 2, 3, 4, 0x10, 4, 5);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_TCP_BAD_HEADER);

	f.n = 0;                                     /* data offset 15 in a 24-byte segment */
	fr_eth(&f, 0x0800);
	fr_ipv4(&f, A4, B4, IPPROTO_TCP_, 5, 24, 0);
	fr_tcp(&f, 1, 2, 3, 4, 0x10, 6, 5);
	f.b[14 + 20 + 12] = 0xf0;
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_TCP_BAD_HEADER);

	f.n = 0;                                     /* 19 bytes of TCP */
	fr_eth(&f, 0x86dd);
	fr_ipv6(&f, A6, B6, IPPROTO_TCP_, 19);
	fr_fill(&f, 0x50, 19);
	CU_ASSERT_EQUAL(decode_frame(&f, ST_DLT_EN10MB), ST_DECODE_TCP_TRUNCATED);
}

/* The address pairs differ only past the first 32 bits: both directions
 * must come out distinct and exact. */
static void test_ipv6_addresses_whole(void)
{
	struct good g;
	struct st_pkt p;
	uint8_t *copy;

	build_good(4, &g);  /* eth-ipv6-udp: C6 -> A6 */
	CU_ASSERT_EQUAL(decode_copy(g.f.b, g.f.n, g.linktype, &p, &copy), ST_DECODE_OK);
	CU_ASSERT_EQUAL(memcmp(p.saddr, C6, 16), 0);
	CU_ASSERT_EQUAL(memcmp(p.daddr, A6, 16), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(p.saddr, p.daddr, 16), 0);
	CU_ASSERT_EQUAL(memcmp(p.saddr, p.daddr, 8), 0);
	free(copy);
}

static void test_names_and_counts(void)
{
	struct st_decode_stats s;
	uint64_t drops = 0;

	for (int r = 0; r < ST_DECODE__COUNT; r++) {
		const char *name = st_decode_reason_name((enum st_decode_result)r);

		CU_ASSERT_PTR_NOT_NULL_FATAL(name);
		CU_ASSERT_TRUE(strlen(name) > 0 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
						   strlen(name));
		for (int q = 0; q < r; q++)
			CU_ASSERT_NOT_EQUAL(strcmp(name, st_decode_reason_name((enum st_decode_result)q)), 0);
	}
	CU_ASSERT_STRING_EQUAL(st_decode_reason_name(ST_DECODE_OK), "ok");
	CU_ASSERT_STRING_EQUAL(st_decode_reason_name(ST_DECODE_NOT_IP), "not_ip");
	CU_ASSERT_STRING_EQUAL(st_decode_reason_name(ST_DECODE_VLAN_TOO_DEEP), "vlan_too_deep");
	CU_ASSERT_STRING_EQUAL(st_decode_reason_name(ST_DECODE_IP_FRAGMENT), "ip_fragment");
	CU_ASSERT_STRING_EQUAL(st_decode_reason_name(ST_DECODE__COUNT), "unknown");

	memset(&s, 0, sizeof(s));
	st_decode_count(&s, ST_DECODE_OK, 60);
	st_decode_count(&s, ST_DECODE_OK, 100);
	st_decode_count(&s, ST_DECODE_NOT_IP, 42);
	st_decode_count(&s, ST_DECODE_IP_FRAGMENT, 1514);
	CU_ASSERT_EQUAL(s.frames, 4);
	CU_ASSERT_EQUAL(s.bytes, 60 + 100 + 42 + 1514);
	CU_ASSERT_EQUAL(s.ok, 2);
	CU_ASSERT_EQUAL(s.drops[ST_DECODE_NOT_IP], 1);
	CU_ASSERT_EQUAL(s.drops[ST_DECODE_IP_FRAGMENT], 1);
	for (int r = 0; r < ST_DECODE__COUNT; r++)
		drops += s.drops[r];
	CU_ASSERT_EQUAL(s.ok + drops, s.frames);
}

/* ---- tshark as the oracle ---- */

struct tshark_row {
	unsigned frame;
	bool has_v4, has_v6, has_tcp, has_udp;
	uint8_t saddr[16], daddr[16];
	unsigned sport, dport, tcp_len, udp_len;
	unsigned long seq, ack, flags, window;
	unsigned vlan_n;
	unsigned vlan[4];
};

/* Field i of a tab-separated line (first value of a comma list), or "". */
static const char *field(char *const *cols, unsigned ncols, unsigned i)
{
	return i < ncols ? cols[i] : "";
}

static bool parse_row(char *line, struct tshark_row *row)
{
	char *cols[20];
	unsigned n = 0;
	char *save = NULL, *tok;
	char first[64];

	memset(row, 0, sizeof(*row));
	line[strcspn(line, "\n")] = 0;
	for (char *s = line; n < 20; n++) {
		cols[n] = s;
		s = strchr(s, '\t');
		if (!s) {
			n++;
			break;
		}
		*s++ = 0;
	}
	row->frame = (unsigned)strtoul(field(cols, n, 0), NULL, 10);
#define FIRST(i) (snprintf(first, sizeof(first), "%.*s", (int)strcspn(field(cols, n, i), ","), \
			   field(cols, n, i)), first)
	if (*field(cols, n, 1)) {
		uint32_t a;

		row->has_v4 = true;
		if (inet_pton(AF_INET, FIRST(1), &a) != 1)
			return false;
		mapped(row->saddr, ntohl(a));
		if (inet_pton(AF_INET, FIRST(2), &a) != 1)
			return false;
		mapped(row->daddr, ntohl(a));
	} else if (*field(cols, n, 3)) {
		row->has_v6 = true;
		if (inet_pton(AF_INET6, FIRST(3), row->saddr) != 1 ||
		    inet_pton(AF_INET6, FIRST(4), row->daddr) != 1)
			return false;
	}
	if (*field(cols, n, 5)) {
		row->has_tcp = true;
		row->sport = (unsigned)strtoul(FIRST(5), NULL, 10);
		row->dport = (unsigned)strtoul(FIRST(6), NULL, 10);
		row->tcp_len = (unsigned)strtoul(FIRST(9), NULL, 10);
		row->seq = strtoul(FIRST(11), NULL, 10);
		row->ack = strtoul(FIRST(12), NULL, 10);
		row->flags = strtoul(FIRST(13), NULL, 0);
		row->window = strtoul(FIRST(14), NULL, 10);
	} else if (*field(cols, n, 7)) {
		row->has_udp = true;
		row->sport = (unsigned)strtoul(FIRST(7), NULL, 10);
		row->dport = (unsigned)strtoul(FIRST(8), NULL, 10);
		row->udp_len = (unsigned)strtoul(FIRST(10), NULL, 10);
	}
#undef FIRST
	/* 802.1ad (outer) tags are tshark's ieee8021ad.id, 802.1Q ones vlan.id. */
	for (unsigned c = 16; c >= 15; c--) {
		if (c >= n || !*cols[c])
			continue;
		for (tok = strtok_r(cols[c], ",", &save); tok && row->vlan_n < 4;
		     tok = strtok_r(NULL, ",", &save))
			row->vlan[row->vlan_n++] = (unsigned)strtoul(tok, NULL, 10);
	}
	return true;
}

/* Compares st_decode() with tshark on every frame of `path`; returns the
 * number of frames both decoded as TCP/UDP alike, or -1 when the run
 * failed.  *frames_out: frames in the file; *l4_out: frames tshark saw
 * as TCP or UDP. */
static int compare_with_tshark(const char *path, int *frames_out, int *l4_out)
{
	char cmd[4096], err[PCAP_ERRBUF_SIZE], line[4096];
	struct pcap_pkthdr *hdr;
	const u_char *data;
	pcap_t *pc;
	FILE *ts;
	int matched = 0, frames = 0, l4 = 0, status;

	snprintf(cmd, sizeof(cmd),
		 "tshark -n -r '%s' -T fields -E separator=/t -E occurrence=a -E aggregator=, "
		 "-e frame.number -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst "
		 "-e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport "
		 "-e tcp.len -e udp.length -e tcp.seq_raw -e tcp.ack_raw -e tcp.flags "
		 "-e tcp.window_size_value -e vlan.id -e ieee8021ad.id 2>/dev/null", path);
	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pc);
	ts = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ts);

	while (pcap_next_ex(pc, &hdr, &data) == 1) {
		struct tshark_row row;
		struct st_pkt p;
		enum st_decode_result r;
		bool same = true;

		frames++;
		r = st_decode(data, hdr->caplen, pcap_datalink(pc),
			      (uint64_t)hdr->ts.tv_sec * 1000000000ull + (uint64_t)hdr->ts.tv_usec, &p);
		if (!fgets(line, sizeof(line), ts) || !parse_row(line, &row) ||
		    row.frame != (unsigned)frames) {
			fprintf(stderr, "\n  %s: no tshark row for frame %d\n", path, frames);
			CU_FAIL("tshark row missing");
			break;
		}
		if (!row.has_tcp && !row.has_udp) {
			CU_ASSERT_NOT_EQUAL(r, ST_DECODE_OK);
			continue;
		}
		l4++;
		if (r != ST_DECODE_OK) {
			fprintf(stderr, "\n  %s frame %d: %s, tshark sees TCP/UDP\n", path, frames,
				st_decode_reason_name(r));
			CU_FAIL("decode refused a frame tshark decodes");
			continue;
		}
		same &= p.family == (row.has_v4 ? 4 : 6) && (row.has_v4 || row.has_v6);
		same &= !memcmp(p.saddr, row.saddr, 16) && !memcmp(p.daddr, row.daddr, 16);
		same &= p.sport == row.sport && p.dport == row.dport;
		same &= p.vlan_depth == row.vlan_n;
		for (unsigned v = 0; v < row.vlan_n && v < 2; v++)
			same &= p.vlan_id[v] == row.vlan[v];
		if (row.has_tcp) {
			same &= p.l4_proto == IPPROTO_TCP_ && p.payload_len == row.tcp_len;
			same &= p.tcp_seq == row.seq && p.tcp_ack == row.ack;
			same &= p.tcp_flags == (row.flags & 0xff) && p.tcp_window == row.window;
		} else {
			same &= p.l4_proto == IPPROTO_UDP_ && p.payload_len + 8 == row.udp_len;
		}
		same &= p.payload >= data && p.payload + p.payload_len <= data + hdr->caplen;
		if (!same)
			fprintf(stderr, "\n  %s frame %d differs from tshark\n", path, frames);
		CU_ASSERT_TRUE(same);
		matched += same;
	}
	CU_ASSERT_PTR_NULL(fgets(line, sizeof(line), ts));   /* no rows left over */
	status = pclose(ts);
	CU_ASSERT_EQUAL(status, 0);
	pcap_close(pc);
	*frames_out = frames;
	*l4_out = l4;
	CU_ASSERT_EQUAL(matched, l4);
	return status == 0 ? matched : -1;
}

static int pcaps_in(const char *dir, char names[][1024], int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((e = readdir(d)) && n < max) {
		size_t len = strlen(e->d_name);

		if (len > 5 && !strcmp(e->d_name + len - 5, ".pcap"))
			snprintf(names[n++], 1024, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	return n;
}

static void test_tshark_reference_captures(void)
{
	static const char *const dirs[] = { "pcaps/kafka", "pcaps/mqtt", "pcaps/nats" };
	static char names[64][1024];
	int files = 0, packets = 0, frames = 0;

	for (size_t i = 0; i < ST_ARRAY_SIZE(dirs); i++) {
		char dir[512];
		int n;

		snprintf(dir, sizeof(dir), "%s", st_test_data_path(dirs[i]));
		n = pcaps_in(dir, names, 64);
		CU_ASSERT_TRUE(n > 0);
		for (int k = 0; k < n; k++) {
			int f, l4, m = compare_with_tshark(names[k], &f, &l4);

			CU_ASSERT_TRUE(m > 0);
			frames += f;
			packets += m > 0 ? m : 0;
			files++;
		}
	}
	/* 23 files, 209 frames (capinfos -c), all TCP over IPv4 (tshark -e
	 * frame.protocols): every frame must have matched. */
	printf("\n  agreed with tshark on %d of %d frames in %d reference captures\n",
	       packets, frames, files);
	CU_ASSERT_EQUAL(files, 23);
	CU_ASSERT_EQUAL(frames, 209);
	CU_ASSERT_EQUAL(packets, 209);
}

/* Writes the catalogue's frames of one link type to a pcap in `dir` (the
 * catalogue frames of the other types are skipped), with an ICMP or ARP
 * frame in between for the link types that can carry one. */
static int write_catalogue_pcap(const char *path, int linktype, int *written)
{
	pcap_t *dead = pcap_open_dead(linktype, 65535);
	pcap_dumper_t *dump;
	struct pcap_pkthdr h = { .ts = { 1700000000, 0 } };

	*written = 0;
	if (!dead)
		return -1;
	dump = pcap_dump_open(dead, path);
	if (!dump) {
		pcap_close(dead);
		return -1;
	}
	for (size_t i = 0; i < N_GOOD; i++) {
		struct good g;

		build_good(i, &g);
		if (g.linktype != (linktype == 12 ? ST_DLT_RAW : linktype))
			continue;
		h.caplen = h.len = g.f.n;
		h.ts.tv_usec++;
		pcap_dump((u_char *)dump, &h, g.f.b);
		(*written)++;
		if (linktype == ST_DLT_EN10MB) {
			struct frame f = { .n = 0 };

			fr_eth(&f, 0x0800);
			fr_ipv4(&f, A4, B4, 1, 5, 8, 0);
			fr_be32(&f, 0x08000000u);
			fr_be32(&f, 0x00010001u);
			h.caplen = h.len = f.n;
			pcap_dump((u_char *)dump, &h, f.b);
		}
	}
	pcap_dump_close(dump);
	pcap_close(dead);
	return 0;
}

static void test_tshark_catalogue(void)
{
	/* DLT_RAW is written as LINKTYPE_RAW (101) and read back as 12 on Linux. */
	static const int types[] = { ST_DLT_EN10MB, ST_DLT_NULL, ST_DLT_LINUX_SLL,
				     ST_DLT_LINUX_SLL2, 12 };
	char dir[] = "/tmp/st-decode-XXXXXX";
	int total = 0, expected = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	for (size_t i = 0; i < N_GOOD; i++) {
		struct good g;

		build_good(i, &g);
		expected++;
	}
	for (size_t t = 0; t < ST_ARRAY_SIZE(types); t++) {
		char path[600];
		int written, m, frames, l4;

		snprintf(path, sizeof(path), "%s/linktype-%d.pcap", dir, types[t]);
		CU_ASSERT_EQUAL_FATAL(write_catalogue_pcap(path, types[t], &written), 0);
		m = compare_with_tshark(path, &frames, &l4);
		CU_ASSERT_EQUAL(m, written);
		CU_ASSERT_EQUAL(l4, written);
		total += m;
		unlink(path);
	}
	rmdir(dir);
	CU_ASSERT_EQUAL(total, expected);
}

ST_TEST_MAIN("dataplane/decode",
	ST_TEST(test_catalogue_decodes),
	ST_TEST(test_every_truncation),
	ST_TEST(test_vlan_depth),
	ST_TEST(test_ipv4_fragments),
	ST_TEST(test_ipv6_fragment_and_chain_limits),
	ST_TEST(test_not_ip_and_not_tcp_udp),
	ST_TEST(test_bad_l3_headers),
	ST_TEST(test_bad_l4_headers),
	ST_TEST(test_ipv6_addresses_whole),
	ST_TEST(test_names_and_counts),
	ST_TEST(test_tshark_reference_captures),
	ST_TEST(test_tshark_catalogue))
