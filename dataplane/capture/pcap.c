/*
 * The libpcap capture backend (pcap.h).  pcap_next_ex() returns one frame
 * whose bytes stay valid until the next call, so a burst is one frame: a
 * file's throughput is bound by the record path, not by this.
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/capture/pcap.h"

struct pcap_capture {
	struct st_capture cap;
	pcap_t *pcap;
	bool live;
	uint64_t frames, bytes;        /* written by the polling thread */
	uint64_t read_errors;
	char source[256];
	double pace;                   /* 0: as fast as possible */
	bool paced_started, held;      /* held: a frame read, not yet due */
	uint64_t pace_wall0_ns, pace_ts0_ns;
	struct pcap_pkthdr *held_h;
	const u_char *held_data;
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Whether the held frame stamped ts_ns is due (pcap.h); sleeps a little
 * when it is not. */
static bool due(struct pcap_capture *p, uint64_t ts_ns)
{
	uint64_t now = monotonic_ns(), at;

	if (!p->paced_started) {
		p->paced_started = true;
		p->pace_wall0_ns = now;
		p->pace_ts0_ns = ts_ns;
		return true;
	}
	at = p->pace_wall0_ns + (ts_ns > p->pace_ts0_ns
		? (uint64_t)((double)(ts_ns - p->pace_ts0_ns) / p->pace) : 0);
	if (now >= at)
		return true;
	struct timespec nap = { 0, (long)(at - now < 1000000 ? at - now : 1000000) };
	nanosleep(&nap, NULL);
	return false;
}

static struct pcap_capture *impl(struct st_capture *c)
{
	return (struct pcap_capture *)c;
}

static int pcap_rx_burst(struct st_capture *c, unsigned q, struct st_frame *f,
			 unsigned max)
{
	struct pcap_capture *p = impl(c);
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	(void)q;
	if (max == 0)
		return 0;
	if (p->held) {
		h = p->held_h;
		data = p->held_data;
		rc = 1;
	} else {
		rc = pcap_next_ex(p->pcap, &h, &data);
	}
	if (rc == 0)
		return 0;                    /* live: the read timeout */
	if (rc == PCAP_ERROR_BREAK)
		return ST_CAPTURE_END;       /* the end of the file */
	if (rc < 0) {
		__atomic_store_n(&p->read_errors, p->read_errors + 1, __ATOMIC_RELAXED);
		return p->live ? -EIO : -EBADMSG;   /* a truncated or bad file */
	}
	if (p->pace > 0 &&
	    !due(p, (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec)) {
		/* its bytes stay valid: pcap_next_ex is not called again until
		 * it has left */
		p->held = true;
		p->held_h = h;
		p->held_data = data;
		return 0;
	}
	p->held = false;
	f->data = data;
	f->caplen = h->caplen;
	f->wire_len = h->len;
	/* Opened with nanosecond precision: tv_usec holds nanoseconds. */
	f->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
	__atomic_store_n(&p->frames, p->frames + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&p->bytes, p->bytes + h->caplen, __ATOMIC_RELAXED);
	return 1;
}

static void pcap_rx_release(struct st_capture *c, unsigned q)
{
	(void)c;
	(void)q;
}

static int pcap_queue_stats(struct st_capture *c, unsigned q,
			    struct st_capture_queue_stats *s)
{
	struct pcap_capture *p = impl(c);

	(void)q;
	memset(s, 0, sizeof(*s));
	s->frames = __atomic_load_n(&p->frames, __ATOMIC_RELAXED);
	s->bytes = __atomic_load_n(&p->bytes, __ATOMIC_RELAXED);
	/* A live handle's kernel drops are read by the polling thread's
	 * owner only at the end (pcap_stats is not thread safe): see
	 * stats_json. */
	return 0;
}

static int pcap_stats_json(struct st_capture *c, FILE *out)
{
	struct pcap_capture *p = impl(c);
	struct pcap_stat ps;

	fprintf(out, "{\"backend\":\"pcap\",\"source\":\"");
	for (const char *s = p->source; *s; s++)
		if ((unsigned char)*s >= 0x20 && *s != '"' && *s != '\\')
			fputc(*s, out);
	fprintf(out, "\",\"live\":%s,\"linktype\":%d,\"frames\":%" PRIu64
		",\"bytes\":%" PRIu64 ",\"read_errors\":%" PRIu64,
		p->live ? "true" : "false", c->linktype,
		__atomic_load_n(&p->frames, __ATOMIC_RELAXED),
		__atomic_load_n(&p->bytes, __ATOMIC_RELAXED),
		__atomic_load_n(&p->read_errors, __ATOMIC_RELAXED));
	if (p->live && pcap_stats(p->pcap, &ps) == 0)
		fprintf(out, ",\"kernel_drops\":%u,\"interface_drops\":%u",
			ps.ps_drop, ps.ps_ifdrop);
	fputc('}', out);
	return ferror(out) ? -EIO : 0;
}

static void pcap_close_capture(struct st_capture *c)
{
	struct pcap_capture *p = impl(c);

	pcap_close(p->pcap);
	free(p);
}

static const struct st_capture_ops pcap_ops = {
	.rx_burst = pcap_rx_burst,
	.rx_release = pcap_rx_release,
	.queue_stats = pcap_queue_stats,
	.stats_json = pcap_stats_json,
	.close = pcap_close_capture,
};

static pcap_t *open_live(const char *ifname, char *err)
{
	pcap_t *pc = pcap_create(ifname, err);

	if (!pc)
		return NULL;
	if (pcap_set_snaplen(pc, 65535) || pcap_set_promisc(pc, 1) ||
	    pcap_set_timeout(pc, 10) ||
	    pcap_set_tstamp_precision(pc, PCAP_TSTAMP_PRECISION_NANO) ||
	    pcap_activate(pc) < 0) {
		snprintf(err, PCAP_ERRBUF_SIZE, "%s", pcap_geterr(pc));
		pcap_close(pc);
		return NULL;
	}
	return pc;
}

int st_capture_pcap_pace(struct st_capture *c, double speed)
{
	struct pcap_capture *p = impl(c);

	if (p->live || !(speed >= 0) || speed > 1e9)
		return -EINVAL;
	p->pace = speed;
	return 0;
}

struct st_capture *st_capture_pcap_open(const char *source, bool live,
					char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct pcap_capture *p;
	pcap_t *pc;

	pc = live ? open_live(source, perr)
		  : pcap_open_offline_with_tstamp_precision(
			    source, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!pc) {
		snprintf(err, errlen, "%s", perr);
		errno = live ? ENODEV : ENOENT;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		pcap_close(pc);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	p->pcap = pc;
	p->live = live;
	snprintf(p->source, sizeof(p->source), "%s", source);
	p->cap = (struct st_capture){
		.ops = &pcap_ops,
		.backend = "pcap",
		.queues = 1,
		.linktype = pcap_datalink(pc),
		.timestamps = true,
		.finite = !live,
		.flow_affinity = true,
		.impl = p,
	};
	return &p->cap;
}
