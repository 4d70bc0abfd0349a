/*
 * The AF_XDP steering program (bpf/xsk_steer.bpf.c) run by the kernel on
 * frames built here field by field (tests/dataplane/decode/frames.h), with
 * BPF_PROG_TEST_RUN.  The program is the exact object the backend embeds
 * (st_xsk_steer_obj), loaded with libbpf: loading it is the verifier check.
 *
 * Oracle: for each frame the verdict and the one counter it must land in
 * follow from how the frame was built (its ports, tags, fragment bits,
 * length) and the configured pairs 9092/tcp and 5140/udp; each run must
 * move exactly that counter by one and no other.
 *
 * A matched frame with no socket in the XSKMAP slot of its queue passes and
 * counts pass_no_socket (bpf_redirect_map's XDP_PASS fallback).  With an
 * AF_XDP socket bound to queue 0 of the loopback device of a private
 * network namespace (test run frames arrive on that queue) and put in slot
 * 0, the same frame must report XDP_REDIRECT; test run reports the verdict
 * without performing the redirect.  Needs root (CAP_BPF, CAP_NET_ADMIN).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include "bpf/xsk_steer.h"
#include "bpf/xsk_steer_obj.h"
#include "dataplane/decode/frames.h"
#include "st_test.h"

#define IP_A 0x0a000001u
#define IP_B 0x0a00000au
#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_ARP 0x0806
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define TCP 6
#define UDP 17
#define IPV4_MF 0x2000

static const uint8_t ip6_a[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t ip6_b[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };

static struct bpf_object *obj;
static int prog_fd = -1, counters_fd = -1, sockets_fd = -1;
static int possible_cpus;

static void load_program(void)
{
	struct bpf_object *o;
	struct st_xsk_port_key key = { .l4_proto = TCP, .pad = 0, .port_be = htons(9092) };
	uint8_t one = 1;
	int ports_fd;

	if (obj)
		return;
	o = bpf_object__open_mem(st_xsk_steer_obj, st_xsk_steer_obj_bytes, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL_FATAL(bpf_object__load(o), 0);
	obj = o;
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, ST_XSK_PROG_NAME));
	counters_fd = bpf_object__find_map_fd_by_name(obj, ST_XSK_MAP_COUNTERS);
	sockets_fd = bpf_object__find_map_fd_by_name(obj, ST_XSK_MAP_SOCKETS);
	ports_fd = bpf_object__find_map_fd_by_name(obj, ST_XSK_MAP_PORTS);
	CU_ASSERT_FATAL(prog_fd >= 0 && counters_fd >= 0 && sockets_fd >= 0 && ports_fd >= 0);
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(ports_fd, &key, &one, BPF_ANY), 0);
	key.l4_proto = UDP;
	key.port_be = htons(5140);
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(ports_fd, &key, &one, BPF_ANY), 0);
	possible_cpus = libbpf_num_possible_cpus();
	CU_ASSERT_FATAL(possible_cpus > 0);
}

static void read_counters(uint64_t sums[ST_XSK__COUNT])
{
	uint64_t per_cpu[possible_cpus];

	for (uint32_t k = 0; k < ST_XSK__COUNT; k++) {
		sums[k] = 0;
		CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(counters_fd, &k, per_cpu), 0);
		for (int i = 0; i < possible_cpus; i++)
			sums[k] += per_cpu[i];
	}
}

/* Runs f once; asserts the verdict and that exactly `counter` moved, by 1. */
static void expect(const struct frame *f, int verdict, enum st_xsk_counter counter,
		   const char *what)
{
	uint64_t before[ST_XSK__COUNT], after[ST_XSK__COUNT];
	uint8_t out[4096];
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts,
			    .data_in = f->b, .data_size_in = f->n,
			    .data_out = out, .data_size_out = sizeof(out),
			    .repeat = 1);

	load_program();
	read_counters(before);
	CU_ASSERT_EQUAL_FATAL(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	read_counters(after);
	if ((int)opts.retval != verdict)
		fprintf(stderr, "\n  %s: verdict %u, want %d\n", what, opts.retval, verdict);
	CU_ASSERT_EQUAL(opts.retval, (unsigned)verdict);
	for (int k = 0; k < ST_XSK__COUNT; k++) {
		uint64_t want = before[k] + (k == (int)counter ? 1 : 0);

		if (after[k] != want)
			fprintf(stderr, "\n  %s: counter %d moved by %lld, want %d\n", what, k,
				(long long)(after[k] - before[k]), k == (int)counter);
		CU_ASSERT_EQUAL(after[k], want);
	}
}

/* Ethernet (+ tags) + IPv4 + TCP or UDP header + 8 payload bytes. */
static void ipv4_l4(struct frame *f, int tags, uint8_t proto, uint16_t sport,
		    uint16_t dport, unsigned ihl_words, uint16_t frag_field)
{
	uint32_t l4_bytes = (proto == TCP ? 20 : 8) + 8;

	f->n = 0;
	if (tags == 2) {
		fr_eth(f, ETH_QINQ);
		fr_vlan(f, 100, ETH_VLAN);
		fr_vlan(f, 200, ETH_IPV4);
	} else if (tags == 1) {
		fr_eth(f, ETH_VLAN);
		fr_vlan(f, 100, ETH_IPV4);
	} else {
		fr_eth(f, ETH_IPV4);
	}
	fr_ipv4(f, IP_A, IP_B, proto, ihl_words, l4_bytes, frag_field);
	if (proto == TCP)
		fr_tcp(f, sport, dport, 1, 0, 0x18, 5, 1024);
	else
		fr_udp(f, sport, dport, (uint16_t)l4_bytes);
	fr_payload(f, 8);
}

static void test_verifier_accepts_program(void)
{
	load_program();
	CU_ASSERT(prog_fd >= 0);
}

/* No socket in the XSKMAP: a match passes, counted as no socket. */
static void test_ipv4_matches_without_socket_pass(void)
{
	struct frame f;

	ipv4_l4(&f, 0, TCP, 40000, 9092, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "tcp dport 9092");
	ipv4_l4(&f, 0, TCP, 9092, 40000, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "tcp sport 9092");
	ipv4_l4(&f, 0, UDP, 40000, 5140, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "udp dport 5140");
	ipv4_l4(&f, 0, TCP, 40000, 9092, 8, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "tcp 9092 behind 12 bytes of IPv4 options");
}

static void test_unconfigured_ports_pass(void)
{
	struct frame f;

	ipv4_l4(&f, 0, TCP, 40000, 80, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_UNMATCHED, "tcp 80");
	ipv4_l4(&f, 0, UDP, 40000, 9092, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_UNMATCHED, "udp 9092 (tcp configured)");
	ipv4_l4(&f, 0, TCP, 5140, 40000, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_UNMATCHED, "tcp sport 5140 (udp configured)");
	ipv4_l4(&f, 1, UDP, 9093, 5141, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_UNMATCHED, "tagged udp 9093 -> 5141");
}

static void test_not_ip_and_not_tcp_udp_pass(void)
{
	struct frame f = { .n = 0 };

	fr_eth(&f, ETH_ARP);
	fr_be16(&f, 1);                 /* ARP request, RFC 826 */
	fr_be16(&f, ETH_IPV4);
	fr_u8(&f, 6);
	fr_u8(&f, 4);
	fr_be16(&f, 1);
	fr_fill(&f, 0, 20);
	expect(&f, XDP_PASS, ST_XSK_PASS_NOT_IP, "arp");

	f.n = 0;
	fr_eth(&f, ETH_IPV4);
	fr_ipv4(&f, IP_A, IP_B, 1, 5, 8, 0);  /* ICMP echo */
	fr_be32(&f, 0x08000000u);
	fr_be32(&f, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_NOT_TCP_UDP, "icmp");

	/* Three tags: after the two we parse, the type is still a tag. */
	f.n = 0;
	fr_eth(&f, ETH_QINQ);
	fr_vlan(&f, 1, ETH_VLAN);
	fr_vlan(&f, 2, ETH_VLAN);
	fr_vlan(&f, 3, ETH_IPV4);
	fr_ipv4(&f, IP_A, IP_B, TCP, 5, 28, 0);
	fr_tcp(&f, 40000, 9092, 1, 0, 0x18, 5, 1024);
	fr_payload(&f, 8);
	expect(&f, XDP_PASS, ST_XSK_PASS_NOT_IP, "three tags");
}

static void test_ipv4_fragments_pass(void)
{
	struct frame f;

	ipv4_l4(&f, 0, TCP, 40000, 9092, 5, IPV4_MF);
	expect(&f, XDP_PASS, ST_XSK_PASS_FRAGMENT, "first fragment (MF, offset 0)");
	ipv4_l4(&f, 0, UDP, 40000, 5140, 5, 185);
	expect(&f, XDP_PASS, ST_XSK_PASS_FRAGMENT, "last fragment (offset 185)");
	ipv4_l4(&f, 1, UDP, 40000, 5140, 5, IPV4_MF | 1);
	expect(&f, XDP_PASS, ST_XSK_PASS_FRAGMENT, "tagged middle fragment");
	/* DF alone is not a fragment. */
	ipv4_l4(&f, 0, TCP, 40000, 9092, 5, 0x4000);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "DF set");
}

static void test_vlan_tags_do_not_change_the_verdict(void)
{
	struct frame f;

	ipv4_l4(&f, 1, TCP, 40000, 9092, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "802.1Q tcp 9092");
	ipv4_l4(&f, 2, UDP, 5140, 40000, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "QinQ udp sport 5140");
	ipv4_l4(&f, 2, TCP, 40000, 80, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_UNMATCHED, "QinQ tcp 80");
}

static void ipv6_frame(struct frame *f, int hbh, int routing, int dstopts,
		       uint8_t proto, uint16_t dport)
{
	uint8_t first = hbh ? 0 : routing ? 43 : dstopts ? 60 : proto;
	uint16_t payload = (uint16_t)(hbh * 8 + routing * 16 + dstopts * 8 +
				      (proto == TCP ? 20 : 8) + 8);

	f->n = 0;
	fr_eth(f, ETH_IPV6);
	fr_ipv6(f, ip6_a, ip6_b, first, payload);
	if (hbh)
		fr_ipv6_opts(f, routing ? 43 : dstopts ? 60 : proto, 0);
	if (routing)
		fr_ipv6_routing(f, dstopts ? 60 : proto, 1);
	if (dstopts)
		fr_ipv6_opts(f, proto, 0);
	if (proto == TCP)
		fr_tcp(f, 40000, dport, 1, 0, 0x18, 5, 1024);
	else
		fr_udp(f, 40000, dport, 16);
	fr_payload(f, 8);
}

static void test_ipv6_extension_headers(void)
{
	struct frame f;

	ipv6_frame(&f, 0, 0, 0, TCP, 9092);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "ipv6 tcp 9092");
	ipv6_frame(&f, 1, 1, 1, UDP, 5140);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "ipv6 hbh+routing+dstopts udp 5140");
	ipv6_frame(&f, 1, 0, 1, UDP, 5141);
	expect(&f, XDP_PASS, ST_XSK_PASS_UNMATCHED, "ipv6 hbh+dstopts udp 5141");

	f.n = 0;
	fr_eth(&f, ETH_IPV6);
	fr_ipv6(&f, ip6_a, ip6_b, 0, 8 + 8 + 28);
	fr_ipv6_opts(&f, 44, 0);
	fr_ipv6_frag(&f, TCP, 0, 1);
	fr_tcp(&f, 40000, 9092, 1, 0, 0x18, 5, 1024);
	fr_payload(&f, 8);
	expect(&f, XDP_PASS, ST_XSK_PASS_FRAGMENT, "ipv6 fragment header after hbh");

	f.n = 0;
	fr_eth(&f, ETH_IPV6);
	fr_ipv6(&f, ip6_a, ip6_b, 58, 8);     /* ICMPv6 */
	fr_be32(&f, 0x80000000u);
	fr_be32(&f, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_NOT_TCP_UDP, "icmpv6");

	/* ST_XSK_IPV6_EXT_MAX destination-options headers are skipped ... */
	f.n = 0;
	fr_eth(&f, ETH_IPV6);
	fr_ipv6(&f, ip6_a, ip6_b, 60, (uint16_t)(ST_XSK_IPV6_EXT_MAX * 8 + 16));
	for (int i = 0; i < ST_XSK_IPV6_EXT_MAX; i++)
		fr_ipv6_opts(&f, i + 1 < ST_XSK_IPV6_EXT_MAX ? 60 : UDP, 0);
	fr_udp(&f, 40000, 5140, 16);
	fr_payload(&f, 8);
	expect(&f, XDP_PASS, ST_XSK_PASS_NO_SOCKET, "ipv6 with the most extension headers");
	/* ... one more is a parse error. */
	f.n = 0;
	fr_eth(&f, ETH_IPV6);
	fr_ipv6(&f, ip6_a, ip6_b, 60, (uint16_t)((ST_XSK_IPV6_EXT_MAX + 1) * 8 + 16));
	for (int i = 0; i < ST_XSK_IPV6_EXT_MAX + 1; i++)
		fr_ipv6_opts(&f, i < ST_XSK_IPV6_EXT_MAX ? 60 : UDP, 0);
	fr_udp(&f, 40000, 5140, 16);
	fr_payload(&f, 8);
	expect(&f, XDP_PASS, ST_XSK_PASS_PARSE_ERROR, "ipv6 with one extension header too many");
}

static void test_truncated_frames_are_parse_errors(void)
{
	struct frame f;

	f.n = 0;                               /* a tag type, no tag */
	fr_eth(&f, ETH_VLAN);
	expect(&f, XDP_PASS, ST_XSK_PASS_PARSE_ERROR, "ethernet, no vlan tag");

	ipv4_l4(&f, 0, TCP, 40000, 9092, 5, 0);
	f.n = 14 + 19;                         /* one byte short of IPv4 */
	expect(&f, XDP_PASS, ST_XSK_PASS_PARSE_ERROR, "ipv4 header cut");
	ipv4_l4(&f, 0, TCP, 40000, 9092, 5, 0);
	f.n = 14 + 20 + 19;                    /* one byte short of TCP */
	expect(&f, XDP_PASS, ST_XSK_PASS_PARSE_ERROR, "tcp header cut");
	ipv4_l4(&f, 1, UDP, 40000, 5140, 5, 0);
	f.n = 18 + 20 + 7;                     /* one byte short of UDP */
	expect(&f, XDP_PASS, ST_XSK_PASS_PARSE_ERROR, "tagged udp header cut");
	ipv4_l4(&f, 0, TCP, 40000, 9092, 15, 0);
	f.n = 14 + 59;                         /* options cut */
	expect(&f, XDP_PASS, ST_XSK_PASS_PARSE_ERROR, "ipv4 options cut");
	ipv4_l4(&f, 0, TCP, 40000, 9092, 5, 0);
	f.b[14] = 0x44;                        /* IHL 4 < 5 */
	expect(&f, XDP_PASS, ST_XSK_PASS_PARSE_ERROR, "ipv4 ihl 4");

	ipv6_frame(&f, 0, 0, 0, TCP, 9092);
	f.n = 14 + 39;
	expect(&f, XDP_PASS, ST_XSK_PASS_PARSE_ERROR, "ipv6 header cut");
	ipv6_frame(&f, 1, 1, 0, TCP, 9092);
	f.n = 14 + 40 + 8 + 15;                /* routing header cut */
	expect(&f, XDP_PASS, ST_XSK_PASS_PARSE_ERROR, "ipv6 routing header cut");
}

/*
 * With a socket in slot 0 the matched frames redirect.  The socket is bound
 * to queue 0 of lo in a network namespace of our own (copy mode, no XDP
 * program attached: nothing on lo changes).
 */
static void test_matches_redirect_with_socket(void)
{
	const size_t frames = 64, frame_size = 4096;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp, rx;
	struct xsk_umem *umem = NULL;
	struct xsk_socket *xsk = NULL;
	struct xsk_socket_config scfg = {
		.rx_size = 64,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	void *area;
	struct frame f;
	uint32_t zero = 0;
	int fd;

	load_program();
	CU_ASSERT_EQUAL_FATAL(unshare(CLONE_NEWNET), 0);
	area = mmap(NULL, frames * frame_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(area != MAP_FAILED);
	CU_ASSERT_EQUAL_FATAL(xsk_umem__create(&umem, area, frames * frame_size,
					       &fill, &comp, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(xsk_socket__create(&xsk, "lo", 0, umem, &rx, NULL, &scfg), 0);
	fd = xsk_socket__fd(xsk);
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(sockets_fd, &zero, &fd, BPF_ANY), 0);

	ipv4_l4(&f, 0, TCP, 40000, 9092, 5, 0);
	expect(&f, XDP_REDIRECT, ST_XSK_REDIRECTED, "tcp 9092 with a socket");
	ipv4_l4(&f, 2, UDP, 5140, 40000, 5, 0);
	expect(&f, XDP_REDIRECT, ST_XSK_REDIRECTED, "QinQ udp sport 5140 with a socket");
	ipv6_frame(&f, 1, 1, 1, TCP, 9092);
	expect(&f, XDP_REDIRECT, ST_XSK_REDIRECTED, "ipv6 ext headers tcp 9092 with a socket");
	ipv4_l4(&f, 0, TCP, 40000, 80, 5, 0);
	expect(&f, XDP_PASS, ST_XSK_PASS_UNMATCHED, "tcp 80 with a socket");
	ipv4_l4(&f, 0, TCP, 40000, 9092, 5, IPV4_MF);
	expect(&f, XDP_PASS, ST_XSK_PASS_FRAGMENT, "fragment with a socket");

	CU_ASSERT_EQUAL(bpf_map_delete_elem(sockets_fd, &zero), 0);
	xsk_socket__delete(xsk);
	xsk_umem__delete(umem);
	munmap(area, frames * frame_size);
}

ST_TEST_MAIN("dataplane/capture/xdp_steer",
	ST_TEST(test_verifier_accepts_program),
	ST_TEST(test_ipv4_matches_without_socket_pass),
	ST_TEST(test_unconfigured_ports_pass),
	ST_TEST(test_not_ip_and_not_tcp_udp_pass),
	ST_TEST(test_ipv4_fragments_pass),
	ST_TEST(test_vlan_tags_do_not_change_the_verdict),
	ST_TEST(test_ipv6_extension_headers),
	ST_TEST(test_truncated_frames_are_parse_errors),
	ST_TEST(test_matches_redirect_with_socket))
