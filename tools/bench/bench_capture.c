/* A capture held in memory for the benchmarks (bench_capture.h). */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_capture.h"

int st_bench_capture_load(const char *path, struct st_bench_capture *c)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const uint8_t *p;
	pcap_t *pc;
	int nsec, rc;

	memset(c, 0, sizeof(*c));
	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	if (!pc) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	c->linktype = pcap_datalink(pc);
	nsec = pcap_get_tstamp_precision(pc) == PCAP_TSTAMP_PRECISION_NANO;
	while ((rc = pcap_next_ex(pc, &h, &p)) == 1) {
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 4096;
			c->off = realloc(c->off, c->cap * sizeof(*c->off));
			c->len = realloc(c->len, c->cap * sizeof(*c->len));
			c->ts = realloc(c->ts, c->cap * sizeof(*c->ts));
			if (!c->off || !c->len || !c->ts)
				return -1;
		}
		while (c->bytes_len + h->caplen > c->bytes_cap) {
			c->bytes_cap = c->bytes_cap ? 2 * c->bytes_cap : 1 << 20;
			c->bytes = realloc(c->bytes, c->bytes_cap);
			if (!c->bytes)
				return -1;
		}
		memcpy(c->bytes + c->bytes_len, p, h->caplen);
		c->off[c->n] = c->bytes_len;
		c->len[c->n] = h->caplen;
		c->ts[c->n] = (uint64_t)h->ts.tv_sec * 1000000000u +
			      (uint64_t)h->ts.tv_usec * (nsec ? 1u : 1000u);
		c->bytes_len += h->caplen;
		c->n++;
	}
	pcap_close(pc);
	return rc == PCAP_ERROR ? -1 : 0;
}

void st_bench_capture_free(struct st_bench_capture *c)
{
	free(c->bytes);
	free(c->off);
	free(c->len);
	free(c->ts);
}
