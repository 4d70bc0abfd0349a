/*
 * The XDP balancer and its actuator (control/actuate/xdplb/xdplb.h) through
 * BPF_PROG_TEST_RUN: crafted frames in, verdict and frame out.  Needs root;
 * runs in a network namespace of its own (unshare), with veth interfaces
 * whose MACs the test sets.
 *
 * Oracles, all from outside the code under test: the expected backend of a
 * flow is this file's own lookup, table[hash mod M], on the table read back
 * from the kernel's map, with this file's own hash written from the spec
 * in bpf/lb.h; the outer IPv4 header of ipip is checked field by field
 * against RFC 2003 section 3.1 and its checksum by RFC 1071 summation;
 * counters against the number of frames of each kind sent here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include "bpf/lb.h"
#include "control/actuate/xdplb/xdplb.h"
#include "st_test.h"

#define VIP 0xc0000201u          /* 192.0.2.1 */
#define VIP_PORT 9092
#define TABLE_SIZE 1009u
#define FRAME_MAX 256

static const uint8_t lb_mac[6] = {0x02, 0, 0, 0, 0, 0xaa};
static const uint8_t egress_mac[6] = {0x02, 0, 0, 0, 0, 0xbb};
static const uint8_t client_mac[6] = {0x02, 0, 0, 0, 0, 0xcc};

/* Stores v in network order at p (any alignment). */
static void put_be32(void *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

/* --- this test's own hash and checksum ------------------------------- */

static uint32_t own_flow_hash(uint32_t saddr, uint32_t daddr, uint16_t sport,
			      uint16_t dport, uint8_t proto)
{
	uint8_t key[13] = {
		(uint8_t)(saddr >> 24), (uint8_t)(saddr >> 16), (uint8_t)(saddr >> 8),
		(uint8_t)saddr, (uint8_t)(daddr >> 24), (uint8_t)(daddr >> 16),
		(uint8_t)(daddr >> 8), (uint8_t)daddr, (uint8_t)(sport >> 8),
		(uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport, proto,
	};
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(key); i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* RFC 1071: the ones' complement sum of a correct header is 0xffff. */
static uint16_t ones_sum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* --- frames ---------------------------------------------------------- */

struct flow {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t proto;
};

/* Ethernet (+ one 802.1Q tag when vlan) + IPv4 + UDP or TCP + 8 bytes. */
static size_t frame_build(uint8_t *f, const struct flow *fl, bool vlan)
{
	size_t l2 = vlan ? 18 : 14, l4_bytes = fl->proto == 6 ? 20 : 8;
	size_t ip_bytes = 20 + l4_bytes + 8;
	uint8_t *ip = f + l2, *l4 = ip + 20;
	uint16_t csum;

	memset(f, 0, l2 + ip_bytes);
	memcpy(f, lb_mac, 6);
	memcpy(f + 6, client_mac, 6);
	if (vlan) {
		f[12] = 0x81; f[13] = 0x00; f[14] = 0x00; f[15] = 0x07;
		f[16] = 0x08; f[17] = 0x00;
	} else {
		f[12] = 0x08; f[13] = 0x00;
	}
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_bytes >> 8);
	ip[3] = (uint8_t)ip_bytes;
	ip[8] = 64;
	ip[9] = fl->proto;
	for (int i = 0; i < 4; i++) {
		ip[12 + i] = (uint8_t)(fl->saddr >> (24 - 8 * i));
		ip[16 + i] = (uint8_t)(fl->daddr >> (24 - 8 * i));
	}
	csum = (uint16_t)~ones_sum(ip, 20);
	ip[10] = (uint8_t)(csum >> 8);
	ip[11] = (uint8_t)csum;
	l4[0] = (uint8_t)(fl->sport >> 8);
	l4[1] = (uint8_t)fl->sport;
	l4[2] = (uint8_t)(fl->dport >> 8);
	l4[3] = (uint8_t)fl->dport;
	if (fl->proto == 6)
		l4[12] = 5 << 4;
	else
		l4[5] = (uint8_t)(8 + 8);
	memcpy(l4 + l4_bytes, "payload!", 8);
	return l2 + ip_bytes;
}

/* Inserts `words` 32-bit words of IPv4 options (RFC 791 section 3.1: NOPs,
 * then End of Option List) after the 20-byte header of a frame_build()
 * frame of `bytes`; fixes IHL, total length and checksum.  New size. */
static size_t frame_add_ip_options(uint8_t *f, size_t bytes, bool vlan, unsigned words)
{
	size_t l2 = vlan ? 18 : 14, opt = 4u * words, ip_bytes = bytes - l2 + opt;
	uint8_t *ip = f + l2;
	uint16_t csum;

	memmove(ip + 20 + opt, ip + 20, bytes - l2 - 20);
	memset(ip + 20, 1, opt);             /* NOP */
	ip[20 + opt - 1] = 0;                /* End of Option List */
	ip[0] = (uint8_t)(0x40 | (5 + words));
	ip[2] = (uint8_t)(ip_bytes >> 8);
	ip[3] = (uint8_t)ip_bytes;
	ip[10] = ip[11] = 0;
	csum = (uint16_t)~ones_sum(ip, 20 + opt);
	ip[10] = (uint8_t)(csum >> 8);
	ip[11] = (uint8_t)csum;
	return bytes + opt;
}

struct run {
	int verdict;
	uint8_t out[FRAME_MAX + 64];
	uint32_t out_bytes;
};

static int run_frame(struct st_actuator *a, const uint8_t *in, size_t bytes, struct run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in,
		.data_size_in = (uint32_t)bytes,
		.data_out = r->out,
		.data_size_out = sizeof(r->out),
		.repeat = 1,
	);
	int err = bpf_prog_test_run_opts(st_xdplb_prog_fd(a), &opts);

	r->verdict = (int)opts.retval;
	r->out_bytes = opts.data_size_out;
	return err;
}

/* --- set-up ---------------------------------------------------------- */

static bool netns_ready;

static void netns_setup(void)
{
	if (netns_ready)
		return;
	CU_ASSERT_EQUAL_FATAL(unshare(CLONE_NEWNET), 0);
	CU_ASSERT_EQUAL_FATAL(system("ip link add stlb0 type veth peer name stlb0p && "
				     "ip link set stlb0 address 02:00:00:00:00:aa up && "
				     "ip addr add 198.51.100.1/24 dev stlb0 && "
				     "ip link add stlb1 type veth peer name stlb1p && "
				     "ip link set stlb1 address 02:00:00:00:00:bb up"), 0);
	netns_ready = true;
}

static struct st_config_xdp_lb config_make(enum st_xdp_forward forward)
{
	struct st_config_xdp_lb cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.enabled = true;
	snprintf(cfg.interface, sizeof(cfg.interface), "stlb0");
	cfg.vip.af = AF_INET;
	put_be32(cfg.vip.bytes, VIP);
	cfg.vip_port = VIP_PORT;
	cfg.transport = ST_CONFIG_BOTH;
	cfg.table_size = TABLE_SIZE;
	cfg.forward = forward;
	snprintf(cfg.egress_interface, sizeof(cfg.egress_interface), "stlb1");
	return cfg;
}

static struct st_actuator *lb_create(enum st_xdp_forward forward)
{
	struct st_config_xdp_lb cfg;
	struct st_actuator *a;
	char why[256];

	netns_setup();
	cfg = config_make(forward);
	if (forward == ST_XDP_FWD_IPIP) {
		cfg.ipip_source.af = AF_INET;
		put_be32(cfg.ipip_source.bytes, 0xc6336401u); /* 198.51.100.1 */
	}
	a = st_xdplb_create(&cfg, ST_XDPLB_ATTACH_NONE, why, sizeof(why));
	if (!a)
		fprintf(stderr, "st_xdplb_create: %s\n", why);
	return a;
}

/* Backend i: b<i>, 10.1.0.<i+1>, MAC 02:00:00:00:01:<i>. */
static void backend_make(struct st_actuator_backend *b, unsigned i, uint32_t weight)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "b%u", i);
	b->id = i;
	b->address.af = AF_INET;
	put_be32(b->address.bytes, 0x0a010001u + i);
	b->has_mac = true;
	b->mac[0] = 0x02;
	b->mac[4] = 0x01;
	b->mac[5] = (uint8_t)i;
	b->weight = weight;
}

static struct flow flow_make(unsigned i, uint8_t proto)
{
	struct flow fl = {
		.saddr = 0x0a640000u + i * 7919u % 65536u,
		.daddr = VIP,
		.sport = (uint16_t)(1024 + i * 31u % 60000u),
		.dport = VIP_PORT,
		.proto = proto,
	};
	return fl;
}

/* The backend this file expects for fl: its own hash on the read-back table. */
static uint32_t expected_index(const uint32_t *table, const struct flow *fl)
{
	return table[own_flow_hash(fl->saddr, fl->daddr, fl->sport, fl->dport, fl->proto) %
		     TABLE_SIZE];
}

static void counters_get(struct st_actuator *a, uint64_t *c)
{
	CU_ASSERT_EQUAL_FATAL(st_xdplb_counters(a, c), 0);
}

/* --- tests ------------------------------------------------------------ */

static void test_tx_chooses_the_table_backend(void)
{
	struct st_actuator *a = lb_create(ST_XDP_FWD_TX);
	struct st_actuator_backend b[3];
	struct st_actuator_result res;
	struct st_xdplb_route routes[8];
	static uint32_t table[TABLE_SIZE];
	uint64_t per_backend[3] = {0}, c[ST_LB__COUNT];
	uint8_t in[FRAME_MAX];
	unsigned wrong_mac = 0, wrong_rest = 0, wrong_verdict = 0;
	struct run r;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (unsigned i = 0; i < 3; i++)
		backend_make(&b[i], i, i + 1);
	CU_ASSERT_EQUAL_FATAL(a->ops->apply(a, b, 3, false, &res), 0);
	CU_ASSERT_TRUE(res.changed);
	CU_ASSERT_EQUAL(res.added, 3);
	CU_ASSERT_EQUAL_FATAL(st_xdplb_table_read(a, table, TABLE_SIZE), 0);
	CU_ASSERT_EQUAL_FATAL(st_xdplb_routes(a, routes, 8, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);

	for (unsigned i = 0; i < 300; i++) {
		struct flow fl = flow_make(i, i % 3 == 0 ? 6 : 17);
		size_t bytes = frame_build(in, &fl, i % 5 == 0);
		uint32_t want = expected_index(table, &fl);
		const uint8_t *want_mac = NULL;

		CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
		wrong_verdict += r.verdict != XDP_TX || r.out_bytes != bytes;
		/* Indices are the actuator's: the read-back routes name them. */
		for (size_t k = 0; k < n; k++)
			if (routes[k].index == want)
				want_mac = routes[k].backend.mac;
		CU_ASSERT_PTR_NOT_NULL_FATAL(want_mac);
		wrong_mac += memcmp(r.out, want_mac, 6) != 0 || memcmp(r.out + 6, lb_mac, 6) != 0;
		wrong_rest += memcmp(r.out + 12, in + 12, bytes - 12) != 0;
		per_backend[want_mac[5]]++;
	}
	CU_ASSERT_EQUAL(wrong_verdict, 0);
	CU_ASSERT_EQUAL(wrong_mac, 0);
	CU_ASSERT_EQUAL(wrong_rest, 0);
	counters_get(a, c);
	CU_ASSERT_EQUAL(c[ST_LB_FORWARDED], 300);
	CU_ASSERT_EQUAL_FATAL(st_xdplb_routes(a, routes, 8, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (size_t k = 0; k < n; k++) {
		unsigned i = routes[k].backend.mac[5];

		CU_ASSERT_EQUAL(routes[k].packets, per_backend[i]);
		CU_ASSERT_STRING_EQUAL(routes[k].backend.name, b[i].name);
		CU_ASSERT_EQUAL(routes[k].backend.weight, b[i].weight);
	}
	a->ops->destroy(a);
}

static void test_many_flows_follow_the_table(void)
{
	struct st_actuator *a = lb_create(ST_XDP_FWD_TX);
	struct st_actuator_backend b[8];
	struct st_xdplb_route routes[8];
	struct st_actuator_result res;
	static uint32_t table[TABLE_SIZE];
	uint8_t mac_of_index[ST_LB_BACKENDS_MAX];
	uint8_t in[FRAME_MAX];
	unsigned wrong = 0;
	struct run r;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (unsigned i = 0; i < 8; i++)
		backend_make(&b[i], i, 1);
	CU_ASSERT_EQUAL_FATAL(a->ops->apply(a, b, 8, false, &res), 0);
	CU_ASSERT_EQUAL_FATAL(st_xdplb_table_read(a, table, TABLE_SIZE), 0);
	CU_ASSERT_EQUAL_FATAL(st_xdplb_routes(a, routes, 8, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 8);
	for (size_t k = 0; k < n; k++)
		mac_of_index[routes[k].index] = routes[k].backend.mac[5];
	for (unsigned i = 0; i < 5000; i++) {
		struct flow fl = flow_make(i, 17);
		size_t bytes = frame_build(in, &fl, false);

		CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
		wrong += r.verdict != XDP_TX || r.out[5] != mac_of_index[expected_index(table, &fl)];
	}
	CU_ASSERT_EQUAL(wrong, 0);
	a->ops->destroy(a);
}

static void test_other_frames_pass(void)
{
	struct st_actuator *a = lb_create(ST_XDP_FWD_TX);
	struct st_actuator_backend b[2];
	struct st_actuator_result res;
	uint64_t c[ST_LB__COUNT];
	uint8_t in[FRAME_MAX];
	struct run r;
	struct flow fl;
	size_t bytes, passed = 0, frames = 0, truncated = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	/* No table yet: a VIP frame passes. */
	fl = flow_make(1, 17);
	bytes = frame_build(in, &fl, false);
	CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
	CU_ASSERT_EQUAL(r.verdict, XDP_PASS);
	counters_get(a, c);
	CU_ASSERT_EQUAL(c[ST_LB_PASS_NO_TABLE], 1);

	backend_make(&b[0], 0, 1);
	backend_make(&b[1], 1, 1);
	CU_ASSERT_EQUAL_FATAL(a->ops->apply(a, b, 2, false, &res), 0);

	/* Not the VIP, not the port, not TCP/UDP: unchanged, XDP_PASS. */
	for (int kind = 0; kind < 3; kind++) {
		fl = flow_make(2, 17);
		if (kind == 0)
			fl.daddr = VIP + 1;
		else if (kind == 1)
			fl.dport = VIP_PORT + 1;
		bytes = frame_build(in, &fl, false);
		if (kind == 2)
			in[14 + 9] = 1;  /* ICMP */
		CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
		CU_ASSERT_EQUAL(r.verdict, XDP_PASS);
		CU_ASSERT_EQUAL(memcmp(r.out, in, bytes), 0);
	}
	/* ARP: not IPv4. */
	bytes = frame_build(in, &fl, false);
	in[12] = 0x08; in[13] = 0x06;
	CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
	CU_ASSERT_EQUAL(r.verdict, XDP_PASS);
	/* A fragment to the VIP (MF set). */
	fl = flow_make(3, 17);
	bytes = frame_build(in, &fl, false);
	in[14 + 6] = 0x20;
	CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
	CU_ASSERT_EQUAL(r.verdict, XDP_PASS);
	/* IHL 4: malformed. */
	bytes = frame_build(in, &fl, false);
	in[14] = 0x44;
	CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
	CU_ASSERT_EQUAL(r.verdict, XDP_PASS);
	counters_get(a, c);
	CU_ASSERT_EQUAL(c[ST_LB_PASS_NOT_VIP], 3);
	CU_ASSERT_EQUAL(c[ST_LB_PASS_NOT_IPV4], 1);
	CU_ASSERT_EQUAL(c[ST_LB_PASS_FRAGMENT], 1);
	CU_ASSERT_EQUAL(c[ST_LB_PASS_PARSE_ERROR], 1);

	/* Every truncation of VIP frames (UDP, TCP, tagged): XDP_PASS with
	 * the parse-error counter (the kernel takes 14 bytes at least). */
	for (int kind = 0; kind < 3; kind++) {
		size_t whole;

		fl = flow_make(4, kind == 1 ? 6 : 17);
		whole = frame_build(in, &fl, kind == 2);
		/* The headers end 8 payload bytes before the frame does. */
		for (bytes = 14; bytes < whole - 8; bytes++) {
			CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
			passed += r.verdict == XDP_PASS;
			frames++;
			truncated++;
		}
	}
	CU_ASSERT_EQUAL(passed, frames);
	counters_get(a, c);
	CU_ASSERT_EQUAL(c[ST_LB_PASS_PARSE_ERROR], 1 + truncated);
	CU_ASSERT_EQUAL(c[ST_LB_FORWARDED], 0);
	a->ops->destroy(a);
}

/* A frame with IP options goes where the same flow without options goes
 * (the hash covers addresses, ports and protocol only); every truncation
 * of one passes with the parse-error counter. */
static void test_ip_options_follow_the_table(void)
{
	struct st_actuator *a = lb_create(ST_XDP_FWD_TX);
	struct st_actuator_backend b[4];
	struct st_actuator_result res;
	uint64_t c[ST_LB__COUNT];
	uint8_t in[FRAME_MAX], plain_dst[6];
	unsigned wrong = 0, forwarded = 0, truncated = 0, passed = 0;
	struct run r;
	size_t bytes;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (unsigned i = 0; i < 4; i++)
		backend_make(&b[i], i, 1);
	CU_ASSERT_EQUAL_FATAL(a->ops->apply(a, b, 4, false, &res), 0);
	for (unsigned i = 0; i < 400; i++) {
		struct flow fl = flow_make(i, i % 2 ? 6 : 17);
		bool vlan = i % 3 == 0;
		unsigned words = 1 + i % 10;  /* IHL 6..15 */

		bytes = frame_build(in, &fl, vlan);
		CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
		memcpy(plain_dst, r.out, 6);
		bytes = frame_add_ip_options(in, bytes, vlan, words);
		CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
		wrong += r.verdict != XDP_TX || r.out_bytes != bytes ||
			 memcmp(r.out, plain_dst, 6) != 0 ||
			 memcmp(r.out + 12, in + 12, bytes - 12) != 0;
		forwarded += 2;
	}
	CU_ASSERT_EQUAL(wrong, 0);
	/* Truncated inside the options or the transport header. */
	for (int kind = 0; kind < 2; kind++) {
		struct flow fl = flow_make(7, kind ? 6 : 17);
		size_t whole = frame_add_ip_options(in, frame_build(in, &fl, false), false, 10);

		for (bytes = 14 + 20; bytes < whole - 8; bytes++) {
			CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
			passed += r.verdict == XDP_PASS;
			truncated++;
		}
	}
	CU_ASSERT_EQUAL(passed, truncated);
	counters_get(a, c);
	CU_ASSERT_EQUAL(c[ST_LB_FORWARDED], forwarded);
	CU_ASSERT_EQUAL(c[ST_LB_PASS_PARSE_ERROR], truncated);
	a->ops->destroy(a);
}

static void test_ipip_outer_header(void)
{
	struct st_actuator *a = lb_create(ST_XDP_FWD_IPIP);
	struct st_actuator_backend b[4];
	struct st_xdplb_route routes[8];
	struct st_actuator_result res;
	static uint32_t table[TABLE_SIZE];
	uint8_t in[FRAME_MAX];
	struct run r;
	size_t n, bytes;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (unsigned i = 0; i < 4; i++)
		backend_make(&b[i], i, 1);
	CU_ASSERT_EQUAL_FATAL(a->ops->apply(a, b, 4, false, &res), 0);
	CU_ASSERT_EQUAL_FATAL(st_xdplb_table_read(a, table, TABLE_SIZE), 0);
	CU_ASSERT_EQUAL_FATAL(st_xdplb_routes(a, routes, 8, &n), 0);
	for (unsigned i = 0; i < 40; i++) {
		struct flow fl = flow_make(i, i & 1 ? 6 : 17);
		uint32_t want = expected_index(table, &fl);
		const struct st_actuator_backend *wb = NULL;
		const uint8_t *outer;

		for (size_t k = 0; k < n; k++)
			if (routes[k].index == want)
				wb = &routes[k].backend;
		CU_ASSERT_PTR_NOT_NULL_FATAL(wb);
		bytes = frame_build(in, &fl, false);
		CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
		CU_ASSERT_EQUAL(r.verdict, XDP_TX);
		CU_ASSERT_EQUAL_FATAL(r.out_bytes, bytes + 20);
		CU_ASSERT_EQUAL(memcmp(r.out, wb->mac, 6), 0);
		CU_ASSERT_EQUAL(memcmp(r.out + 6, lb_mac, 6), 0);
		CU_ASSERT(r.out[12] == 0x08 && r.out[13] == 0x00);
		outer = r.out + 14;
		CU_ASSERT_EQUAL(outer[0], 0x45);                 /* v4, IHL 5 */
		CU_ASSERT_EQUAL(outer[2] << 8 | outer[3], (int)(bytes - 14 + 20));
		CU_ASSERT(outer[8] > 0);                         /* TTL */
		CU_ASSERT_EQUAL(outer[9], 4);                    /* IP-in-IP */
		CU_ASSERT_EQUAL(memcmp(outer + 12, "\xc6\x33\x64\x01", 4), 0);
		CU_ASSERT_EQUAL(memcmp(outer + 16, wb->address.bytes, 4), 0);
		CU_ASSERT_EQUAL(ones_sum(outer, 20), 0xffff);    /* checksum */
		CU_ASSERT_EQUAL(memcmp(outer + 20, in + 14, bytes - 14), 0); /* inner */
	}
	/* A tagged frame is not encapsulated. */
	{
		struct flow fl = flow_make(1, 17);
		uint64_t c[ST_LB__COUNT];

		bytes = frame_build(in, &fl, true);
		CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
		CU_ASSERT_EQUAL(r.verdict, XDP_PASS);
		counters_get(a, c);
		CU_ASSERT_EQUAL(c[ST_LB_PASS_UNSUPPORTED], 1);
		CU_ASSERT_EQUAL(c[ST_LB_FORWARDED], 40);
	}
	a->ops->destroy(a);
}

static void test_redirect_rewrites_to_the_egress_mac(void)
{
	struct st_actuator *a = lb_create(ST_XDP_FWD_REDIRECT);
	struct st_actuator_backend b[2];
	struct st_actuator_result res;
	uint8_t in[FRAME_MAX];
	struct flow fl = flow_make(9, 17);
	struct run r;
	size_t bytes;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	backend_make(&b[0], 0, 1);
	backend_make(&b[1], 1, 1);
	CU_ASSERT_EQUAL_FATAL(a->ops->apply(a, b, 2, false, &res), 0);
	bytes = frame_build(in, &fl, false);
	CU_ASSERT_EQUAL_FATAL(run_frame(a, in, bytes, &r), 0);
	CU_ASSERT_EQUAL(r.verdict, XDP_REDIRECT);
	CU_ASSERT_EQUAL(memcmp(r.out + 6, egress_mac, 6), 0);
	CU_ASSERT(r.out[0] == 0x02 && r.out[4] == 0x01 && r.out[5] <= 1);
	a->ops->destroy(a);
}

static bool tables_equal(struct st_actuator *a, const uint32_t *t)
{
	static uint32_t now[TABLE_SIZE];

	return st_xdplb_table_read(a, now, TABLE_SIZE) == 0 &&
	       memcmp(now, t, sizeof(now)) == 0;
}

static void test_apply_contract(void)
{
	struct st_actuator *a = lb_create(ST_XDP_FWD_TX);
	struct st_actuator_backend b[12], got[12];
	struct st_actuator_result res;
	static uint32_t before[TABLE_SIZE];
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (unsigned i = 0; i < 12; i++)
		backend_make(&b[i], i, 1);
	/* Dry run on an empty kernel: nothing installed. */
	CU_ASSERT_EQUAL(a->ops->apply(a, b, 4, true, &res), 0);
	CU_ASSERT_FALSE(res.changed);
	CU_ASSERT_EQUAL(st_xdplb_table_read(a, before, TABLE_SIZE), -ENOENT);
	CU_ASSERT_EQUAL_FATAL(a->ops->apply(a, b, 4, false, &res), 0);
	CU_ASSERT_TRUE(res.changed);
	CU_ASSERT_EQUAL_FATAL(st_xdplb_table_read(a, before, TABLE_SIZE), 0);

	/* Idempotent: same backends in another order change nothing. */
	{
		struct st_actuator_backend r4[4] = {b[3], b[1], b[0], b[2]};

		CU_ASSERT_EQUAL(a->ops->apply(a, r4, 4, false, &res), 0);
		CU_ASSERT_FALSE(res.changed);
		CU_ASSERT_TRUE(tables_equal(a, before));
	}
	/* Dry run of adding one: a plan, the kernel untouched. */
	CU_ASSERT_EQUAL(a->ops->apply(a, b, 5, true, &res), 0);
	CU_ASSERT_FALSE(res.changed);
	CU_ASSERT_EQUAL(res.added, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.why, "slots move"));
	CU_ASSERT_TRUE(tables_equal(a, before));
	/* Too many backends for M = 1009 (>= 100 per backend): refused. */
	CU_ASSERT_EQUAL(a->ops->apply(a, b, 11, false, &res), -EINVAL);
	CU_ASSERT_TRUE(tables_equal(a, before));
	/* A backend with no MAC and no neighbour entry: refused, unchanged. */
	b[4].has_mac = false;
	CU_ASSERT_EQUAL(a->ops->apply(a, b, 5, false, &res), -EHOSTUNREACH);
	CU_ASSERT_FALSE(res.changed);
	CU_ASSERT_TRUE(tables_equal(a, before));
	b[4].has_mac = true;
	/* Duplicate names: refused. */
	{
		struct st_actuator_backend dup[2] = {b[0], b[0]};

		CU_ASSERT_EQUAL(a->ops->apply(a, dup, 2, false, &res), -EINVAL);
		CU_ASSERT_TRUE(tables_equal(a, before));
	}
	/* Reweight: changed, read back with the new weight. */
	b[2].weight = 3;
	CU_ASSERT_EQUAL(a->ops->apply(a, b, 4, false, &res), 0);
	CU_ASSERT_TRUE(res.changed);
	CU_ASSERT_EQUAL(res.reweighted, 1);
	CU_ASSERT_EQUAL(a->ops->read(a, got, 12, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	for (size_t k = 0; k < n; k++) {
		unsigned i = got[k].mac[5];

		CU_ASSERT_STRING_EQUAL(got[k].name, b[i].name);
		CU_ASSERT_EQUAL(got[k].weight, b[i].weight);
		CU_ASSERT_EQUAL(memcmp(got[k].address.bytes, b[i].address.bytes, 4), 0);
	}
	/* Remove b1: read back lacks it. */
	{
		struct st_actuator_backend three[3] = {b[0], b[2], b[3]};

		CU_ASSERT_EQUAL(a->ops->apply(a, three, 3, false, &res), 0);
		CU_ASSERT_EQUAL(res.removed, 1);
		CU_ASSERT_EQUAL(a->ops->read(a, got, 12, &n), 0);
		CU_ASSERT_EQUAL(n, 3);
		for (size_t k = 0; k < n; k++)
			CU_ASSERT_STRING_NOT_EQUAL(got[k].name, "b1");
	}
	/* No backends: the table goes, VIP frames pass. */
	CU_ASSERT_EQUAL(a->ops->apply(a, b, 0, false, &res), 0);
	CU_ASSERT_TRUE(res.changed);
	CU_ASSERT_EQUAL(a->ops->read(a, got, 12, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	a->ops->destroy(a);
}

static void test_create_refuses_bad_settings(void)
{
	struct st_config_xdp_lb cfg;
	char why[256];

	netns_setup();
	cfg = config_make(ST_XDP_FWD_TX);
	cfg.table_size = 1001;
	CU_ASSERT_PTR_NULL(st_xdplb_create(&cfg, ST_XDPLB_ATTACH_NONE, why, sizeof(why)));
	CU_ASSERT_EQUAL(errno, EINVAL);
	cfg = config_make(ST_XDP_FWD_TX);
	snprintf(cfg.interface, sizeof(cfg.interface), "nosuch0");
	CU_ASSERT_PTR_NULL(st_xdplb_create(&cfg, ST_XDPLB_ATTACH_NONE, why, sizeof(why)));
	CU_ASSERT_EQUAL(errno, ENODEV);
	cfg = config_make(ST_XDP_FWD_TX);
	cfg.vip.af = AF_INET6;
	CU_ASSERT_PTR_NULL(st_xdplb_create(&cfg, ST_XDPLB_ATTACH_NONE, why, sizeof(why)));
	CU_ASSERT_EQUAL(errno, EAFNOSUPPORT);
}

ST_TEST_MAIN("control/actuate/xdplb/xdplb",
	ST_TEST(test_create_refuses_bad_settings),
	ST_TEST(test_tx_chooses_the_table_backend),
	ST_TEST(test_many_flows_follow_the_table),
	ST_TEST(test_other_frames_pass),
	ST_TEST(test_ip_options_follow_the_table),
	ST_TEST(test_ipip_outer_header),
	ST_TEST(test_redirect_rewrites_to_the_egress_mac),
	ST_TEST(test_apply_contract))
