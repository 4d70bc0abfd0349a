/* Test-only capture reader; see capture.h. */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

struct flow_id {
	uint8_t a[16], b[16];
	uint16_t pa, pb;
	uint8_t proto;
};

static unsigned flow_index(struct flow_id *ids, unsigned *n, const struct flow_id *f)
{
	for (unsigned i = 0; i < *n; i++) {
		const struct flow_id *g = &ids[i];
		if (g->proto != f->proto)
			continue;
		if (!memcmp(g->a, f->a, 16) && !memcmp(g->b, f->b, 16) &&
		    g->pa == f->pa && g->pb == f->pb)
			return i;
		if (!memcmp(g->a, f->b, 16) && !memcmp(g->b, f->a, 16) &&
		    g->pa == f->pb && g->pb == f->pa)
			return i;
	}
	ids[*n] = *f;
	return (*n)++;
}

/* Offset of the IP header in the frame, or -1. */
static long ip_offset(int dlt, const uint8_t *p, size_t len)
{
	size_t off;
	uint16_t type;

	switch (dlt) {
	case DLT_EN10MB:
		if (len < 14)
			return -1;
		type = (uint16_t)(p[12] << 8 | p[13]);
		off = 14;
		while ((type == 0x8100 || type == 0x88a8) && len >= off + 4) {
			type = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
			off += 4;
		}
		return (type == 0x0800 || type == 0x86dd) ? (long)off : -1;
	case DLT_NULL:
	case DLT_LOOP:
		return len >= 4 ? 4 : -1;
	case DLT_LINUX_SLL:
		return len >= 16 ? 16 : -1;
	case DLT_RAW:
		return 0;
	default:
		return -1;
	}
}

static int add_packet(struct st_cap *c, struct flow_id **ids, size_t *cap,
		      uint16_t server_port, int dlt,
		      const struct pcap_pkthdr *h, const uint8_t *p, int nsec)
{
	long ipo = ip_offset(dlt, p, h->caplen);
	const uint8_t *ip, *l4;
	size_t iplen, l4len, hl;
	struct flow_id f;
	struct st_cap_chunk *ch;

	if (ipo < 0)
		return 0;
	ip = p + ipo;
	iplen = h->caplen - (size_t)ipo;
	memset(&f, 0, sizeof(f));
	if (iplen >= 20 && ip[0] >> 4 == 4) {
		size_t tot = (size_t)(ip[2] << 8 | ip[3]);
		hl = (size_t)(ip[0] & 15) * 4;
		if (tot < iplen)
			iplen = tot;
		if (hl < 20 || iplen < hl)
			return 0;
		f.proto = ip[9];
		memcpy(f.a + 12, ip + 12, 4);
		memcpy(f.b + 12, ip + 16, 4);
	} else if (iplen >= 40 && ip[0] >> 4 == 6) {
		size_t pl = (size_t)(ip[4] << 8 | ip[5]);
		hl = 40;
		if (pl + 40 < iplen)
			iplen = pl + 40;
		f.proto = ip[6];
		memcpy(f.a, ip + 8, 16);
		memcpy(f.b, ip + 24, 16);
	} else {
		return 0;
	}
	l4 = ip + hl;
	l4len = iplen - hl;
	if (f.proto == 6 && l4len >= 20) {
		size_t th = (size_t)(l4[12] >> 4) * 4;
		if (th < 20 || th > l4len)
			return 0;
		f.pa = (uint16_t)(l4[0] << 8 | l4[1]);
		f.pb = (uint16_t)(l4[2] << 8 | l4[3]);
		hl = th;
	} else if (f.proto == 17 && l4len >= 8) {
		f.pa = (uint16_t)(l4[0] << 8 | l4[1]);
		f.pb = (uint16_t)(l4[2] << 8 | l4[3]);
		hl = 8;
	} else {
		return 0;
	}
	if (server_port && f.pa != server_port && f.pb != server_port)
		return 0;
	if (l4len == hl)
		return 0;
	if (c->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		void *nc = realloc(c->chunks, ncap * sizeof(*c->chunks));
		void *ni = realloc(*ids, ncap * sizeof(**ids));
		if (!nc || !ni) {
			free(nc ? nc : NULL);
			return -1;
		}
		c->chunks = nc;
		*ids = ni;
		*cap = ncap;
	}
	ch = &c->chunks[c->n];
	memset(ch, 0, sizeof(*ch));
	ch->flow = flow_index(*ids, &c->flows, &f);
	ch->l4_proto = f.proto;
	ch->sport = f.pa;
	ch->dport = f.pb;
	ch->to_server = server_port ? f.pb == server_port : 1;
	ch->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull +
		    (uint64_t)h->ts.tv_usec * (nsec ? 1u : 1000u);
	if (f.proto == 6) {
		ch->tcp_seq = (uint32_t)l4[4] << 24 | (uint32_t)l4[5] << 16 |
			      (uint32_t)l4[6] << 8 | l4[7];
		ch->tcp_flags = l4[13];
	}
	ch->len = l4len - hl;
	ch->data = malloc(ch->len);
	if (!ch->data)
		return -1;
	memcpy((void *)ch->data, l4 + hl, ch->len);
	c->n++;
	return 0;
}

struct st_cap *st_cap_load(const char *path, uint16_t server_port)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const uint8_t *p;
	struct flow_id *ids = NULL;
	size_t cap = 0;
	struct st_cap *c;
	pcap_t *pc;
	int rc, dlt, nsec;

	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	if (!pc) {
		fprintf(stderr, "%s: %s\n", path, err);
		return NULL;
	}
	nsec = pcap_get_tstamp_precision(pc) == PCAP_TSTAMP_PRECISION_NANO;
	dlt = pcap_datalink(pc);
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out_close;
	while ((rc = pcap_next_ex(pc, &h, &p)) == 1) {
		if (add_packet(c, &ids, &cap, server_port, dlt, h, p, nsec) < 0) {
			st_cap_free(c);
			c = NULL;
			goto out_close;
		}
	}
out_close:
	free(ids);
	pcap_close(pc);
	return c;
}

void st_cap_free(struct st_cap *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free((void *)c->chunks[i].data);
	free(c->chunks);
	free(c);
}
