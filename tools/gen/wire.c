/*
 * Frames and sinks of shadowtap-gen.
 *
 * Ethernet II (EtherType 0x0800 / 0x86DD), IPv4 (RFC 791: IHL 5, DF, TTL 64,
 * header checksum per RFC 1071), IPv6 (RFC 8200: hop limit 64, no extension
 * headers), TCP (RFC 9293: 20-byte header, window 64240, the SYN and SYN-ACK
 * with a 4-byte MSS option) and UDP (RFC 768); the TCP and UDP checksums
 * cover the pseudo-header of RFC 9293 §3.1 / RFC 8200 §8.1.
 *
 * Sinks: a classic pcap file (microsecond stamps, LINKTYPE_ETHERNET) written
 * with pcap_dump, and/or a live interface through pcap_inject, paced by the
 * trace's timestamps or as fast as possible.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/gen/gen.h"

static uint64_t sum_bytes(uint64_t sum, const uint8_t *p, size_t len)
{
	while (len >= 2) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

size_t st_gen_frame(struct st_gen_flow *f, int from, uint8_t flags, uint32_t seq, uint32_t ack,
		    uint16_t mss, const uint8_t *payload, size_t len, uint8_t *frame)
{
	int to = 1 - from;
	size_t ip_len = f->ipv6 ? 40 : 20;
	size_t l4_len = f->udp ? 8 : ((flags & ST_GEN_TCP_SYN) ? 24 : 20);
	uint8_t *ip = frame + 14, *l4 = ip + ip_len;
	size_t seg_len = l4_len + len;
	uint64_t sum;

	memcpy(frame, f->mac[to], 6);
	memcpy(frame + 6, f->mac[from], 6);
	put16(frame + 12, f->ipv6 ? 0x86dd : 0x0800);
	if (f->ipv6) {
		put32(ip, 0x60000000u);
		put16(ip + 4, (uint16_t)seg_len);
		ip[6] = f->udp ? 17 : 6;
		ip[7] = 64;
		memcpy(ip + 8, f->addr[from], 16);
		memcpy(ip + 24, f->addr[to], 16);
		sum = sum_bytes(0, ip + 8, 32);
	} else {
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, (uint16_t)(20 + seg_len));
		put16(ip + 4, f->ip_id[from]++);
		put16(ip + 6, 0x4000);      /* DF */
		ip[8] = 64;
		ip[9] = f->udp ? 17 : 6;
		put16(ip + 10, 0);
		memcpy(ip + 12, f->addr[from], 4);
		memcpy(ip + 16, f->addr[to], 4);
		put16(ip + 10, fold(sum_bytes(0, ip, 20)));
		sum = sum_bytes(0, ip + 12, 8);
	}
	sum += (f->udp ? 17 : 6) + seg_len;
	put16(l4, f->port[from]);
	put16(l4 + 2, f->port[to]);
	if (f->udp) {
		put16(l4 + 4, (uint16_t)seg_len);
		put16(l4 + 6, 0);
		if (len)
			memcpy(l4 + 8, payload, len);
		uint16_t c = fold(sum_bytes(sum, l4, seg_len));

		put16(l4 + 6, c ? c : 0xffff);  /* RFC 768: 0 is sent as all ones */
	} else {
		put32(l4 + 4, seq);
		put32(l4 + 8, ack);
		l4[12] = (uint8_t)((l4_len / 4) << 4);
		l4[13] = flags;
		put16(l4 + 14, 64240);
		put16(l4 + 16, 0);
		put16(l4 + 18, 0);
		if (flags & ST_GEN_TCP_SYN) {
			l4[20] = 2;         /* kind MSS */
			l4[21] = 4;
			put16(l4 + 22, mss);
		}
		if (len)
			memcpy(l4 + l4_len, payload, len);
		put16(l4 + 16, fold(sum_bytes(sum, l4, seg_len)));
	}
	return 14 + ip_len + seg_len;
}

struct st_gen_sink {
	pcap_t *dead;
	pcap_dumper_t *dumper;
	pcap_t *live;
	bool paced;
	bool started;
	int64_t first_ts_ns;
	struct timespec wall0;
	uint64_t frames, bytes;
};

struct st_gen_sink *st_gen_sink_create(const char *pcap_path, const char *iface, bool paced,
				       char *err, size_t err_size)
{
	struct st_gen_sink *s = calloc(1, sizeof(*s));
	char pcap_err[PCAP_ERRBUF_SIZE];

	if (!s) {
		snprintf(err, err_size, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->paced = paced;
	if (pcap_path) {
		s->dead = pcap_open_dead(DLT_EN10MB, 65535);
		if (!s->dead)
			goto out_fail;
		s->dumper = pcap_dump_open(s->dead, pcap_path);
		if (!s->dumper) {
			snprintf(err, err_size, "%s: %s", pcap_path, pcap_geterr(s->dead));
			goto out_destroy;
		}
	}
	if (iface) {
		s->live = pcap_open_live(iface, 65535, 0, 100, pcap_err);
		if (!s->live) {
			snprintf(err, err_size, "--send %s: %s", iface, pcap_err);
			goto out_destroy;
		}
		if (pcap_datalink(s->live) != DLT_EN10MB) {
			snprintf(err, err_size, "--send %s: not an Ethernet interface", iface);
			goto out_destroy;
		}
	}
	return s;
out_fail:
	snprintf(err, err_size, "libpcap: cannot open a dead handle");
out_destroy:
	st_gen_sink_destroy(s);
	errno = EIO;
	return NULL;
}

static void pace(struct st_gen_sink *s, int64_t ts_ns)
{
	struct timespec due;
	int64_t ns;

	if (!s->started) {
		s->started = true;
		s->first_ts_ns = ts_ns;
		clock_gettime(CLOCK_MONOTONIC, &s->wall0);
		return;
	}
	ns = s->wall0.tv_nsec + (ts_ns - s->first_ts_ns);
	due.tv_sec = s->wall0.tv_sec + ns / ST_GEN_NS_PER_S;
	due.tv_nsec = ns % ST_GEN_NS_PER_S;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
		;
}

int st_gen_sink_put(struct st_gen_sink *s, int64_t ts_ns, const uint8_t *frame, size_t len)
{
	if (s->dumper) {
		struct pcap_pkthdr h;

		h.ts.tv_sec = ts_ns / ST_GEN_NS_PER_S;
		h.ts.tv_usec = (ts_ns % ST_GEN_NS_PER_S) / ST_GEN_NS_PER_US;
		h.caplen = (bpf_u_int32)len;
		h.len = (bpf_u_int32)len;
		pcap_dump((u_char *)s->dumper, &h, frame);
	}
	if (s->live) {
		if (s->paced)
			pace(s, ts_ns);
		if (pcap_inject(s->live, frame, len) != (int)len)
			return -EIO;
	}
	s->frames++;
	s->bytes += len;
	return 0;
}

int st_gen_sink_destroy(struct st_gen_sink *s)
{
	int rc = 0;

	if (!s)
		return 0;
	if (s->dumper) {
		if (pcap_dump_flush(s->dumper))
			rc = -EIO;
		pcap_dump_close(s->dumper);
	}
	if (s->dead)
		pcap_close(s->dead);
	if (s->live)
		pcap_close(s->live);
	free(s);
	return rc;
}

uint64_t st_gen_sink_frames(const struct st_gen_sink *s)
{
	return s->frames;
}

uint64_t st_gen_sink_bytes(const struct st_gen_sink *s)
{
	return s->bytes;
}
