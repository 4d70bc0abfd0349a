/*
 * Native AF_XDP capture backend (xdp.h).
 *
 * Open, in order (close undoes it in reverse):
 *   1. check the interface and that the kernel has AF_XDP sockets we may
 *      open, so the three common failures get their own errno and message;
 *   2. open our XDP program from the object embedded at build time
 *      (bpf/xsk_steer.bpf.c), attach it with libxdp (native, else SKB
 *      mode when asked for AUTO), and fill its port map;
 *   3. per queue: a UMEM of frame_count frames (anonymous mmap), an AF_XDP
 *      socket bound to (ifname, q) in zero-copy, else copy mode, its fd
 *      put at index q of the program's XSKMAP, every frame in the fill
 *      ring, and the busy-poll socket options.
 *
 * Frame life cycle (Documentation/networking/af_xdp.rst, "Rings"): a frame
 * address is in the fill ring (the kernel's to write), then in the rx ring
 * (ours to read), then borrowed by the engine between rx_burst() and
 * rx_release(), then back in the fill ring.  frame_count <= fill ring size,
 * so reserving fill slots for the returned frames always succeeds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/if_xdp.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "bpf/xsk_steer.h"
#include "bpf/xsk_steer_obj.h"
#include "dataplane/capture/xdp.h"

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

#define XDP_BURST_MAX 256              /* frames one rx_burst() may lend */
#define XDP_NOTES_BYTES 512
#define DEFAULT_FRAME_COUNT 4096
#define DEFAULT_FRAME_SIZE 4096
#define DEFAULT_RX_RING 2048
#define DEFAULT_BUSY_POLL_US 20

_Static_assert(ST_XDP_PORTS_MAX == ST_XSK_PORTS_MAX, "port map size");
_Static_assert(ST_CAPTURE_QUEUES_MAX <= ST_XSK_QUEUES_MAX, "XSKMAP size");

struct xdp_queue {
	struct xsk_ring_cons rx;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons completion;   /* unused: we never transmit */
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	void *umem_area;
	size_t umem_bytes;
	int fd;
	bool busy_poll;                    /* the kernel took SO_PREFER_BUSY_POLL */
	unsigned borrowed;
	uint64_t borrowed_addr[XDP_BURST_MAX];
	_Atomic uint64_t frames;
	_Atomic uint64_t bytes;
} __attribute__((aligned(64)));

struct xdp_capture {
	struct st_capture cap;
	char ifname[IF_NAMESIZE];
	int ifindex;
	struct bpf_object *obj;
	struct xdp_program *prog;
	enum xdp_attach_mode attach_mode;  /* NATIVE or SKB once attached */
	bool zerocopy;
	int sockets_map_fd;
	int counters_map_fd;
	int possible_cpus;
	char notes[XDP_NOTES_BYTES];       /* "; "-separated fallbacks */
	struct xdp_queue *q;               /* cap.queues of them */
};

static struct xdp_capture *xdp_of(struct st_capture *c)
{
	return c->impl;
}

static void set_error(const struct st_xdp_config *cfg, const char *fmt, ...)
{
	va_list ap;

	if (!cfg->err || cfg->err_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(cfg->err, cfg->err_size, fmt, ap);
	va_end(ap);
}

static void add_note(struct xdp_capture *x, const char *fmt, ...)
{
	size_t used = strlen(x->notes);
	va_list ap;

	if (used + 3 >= sizeof(x->notes))
		return;
	if (used) {
		memcpy(x->notes + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(x->notes + used, sizeof(x->notes) - used, fmt, ap);
	va_end(ap);
}

static bool is_power_of_two(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* ---- the hot path -------------------------------------------------- */

static void xdp_rx_release(struct st_capture *c, unsigned q)
{
	struct xdp_queue *xq = &xdp_of(c)->q[q];
	uint32_t idx;
	unsigned i;

	if (xq->borrowed == 0)
		return;
	/* Cannot fall short: every frame fits in the fill ring at once. */
	if (xsk_ring_prod__reserve(&xq->fill, xq->borrowed, &idx) != xq->borrowed)
		return;
	for (i = 0; i < xq->borrowed; i++)
		*xsk_ring_prod__fill_addr(&xq->fill, idx + i) = xq->borrowed_addr[i];
	xsk_ring_prod__submit(&xq->fill, xq->borrowed);
	xq->borrowed = 0;
}

static int xdp_rx_burst(struct st_capture *c, unsigned q, struct st_frame *f,
			unsigned max)
{
	struct xdp_queue *xq = &xdp_of(c)->q[q];
	uint64_t bytes = 0;
	uint32_t idx, n, i;

	if (xq->borrowed)
		xdp_rx_release(c, q);
	if (max > XDP_BURST_MAX)
		max = XDP_BURST_MAX;
	n = xsk_ring_cons__peek(&xq->rx, max, &idx);
	if (n == 0) {
		/* The driver asks for a kick (need_wakeup), or busy polling
		 * wants us to run its NAPI loop. */
		if (xq->busy_poll || xsk_ring_prod__needs_wakeup(&xq->fill))
			recvfrom(xq->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&xq->rx, idx + i);

		f[i].data = xsk_umem__get_data(xq->umem_area, d->addr);
		f[i].caplen = d->len;
		f[i].wire_len = d->len;
		f[i].ts_ns = 0;
		xq->borrowed_addr[i] = xsk_umem__extract_addr(d->addr);
		bytes += d->len;
	}
	/* The descriptors are copied out: the rx slots can go back now, the
	 * frames themselves only in rx_release(). */
	xsk_ring_cons__release(&xq->rx, n);
	xq->borrowed = n;
	atomic_store_explicit(&xq->frames,
			      atomic_load_explicit(&xq->frames, memory_order_relaxed) + n,
			      memory_order_relaxed);
	atomic_store_explicit(&xq->bytes,
			      atomic_load_explicit(&xq->bytes, memory_order_relaxed) + bytes,
			      memory_order_relaxed);
	return (int)n;
}

/* ---- statistics ---------------------------------------------------- */

static int read_socket_stats(const struct xdp_queue *xq, struct xdp_statistics *st)
{
	socklen_t len = sizeof(*st);

	memset(st, 0, sizeof(*st));
	if (getsockopt(xq->fd, SOL_XDP, XDP_STATISTICS, st, &len) < 0)
		return -errno;
	return 0;
}

static int xdp_queue_stats(struct st_capture *c, unsigned q,
			   struct st_capture_queue_stats *s)
{
	struct xdp_capture *x = xdp_of(c);
	struct xdp_statistics st;
	struct xdp_queue *xq;
	uint64_t dropped;
	int err;

	if (q >= c->queues)
		return -EINVAL;
	xq = &x->q[q];
	memset(s, 0, sizeof(*s));
	s->frames = atomic_load_explicit(&xq->frames, memory_order_relaxed);
	s->bytes = atomic_load_explicit(&xq->bytes, memory_order_relaxed);
	err = read_socket_stats(xq, &st);
	if (err)
		return err;
	dropped = st.rx_dropped;
	/* Copy mode: net/xdp/xsk.c __xsk_rcv() counts rx_dropped for a frame
	 * that found the fill ring empty, which xp_alloc() also counted as
	 * rx_fill_ring_empty_descs: count that frame once, as no_buffer. */
	if (!x->zerocopy)
		dropped -= st.rx_fill_ring_empty_descs < dropped ?
			   st.rx_fill_ring_empty_descs : dropped;
	s->drops[ST_CAPTURE_DROP_MISSED] = st.rx_ring_full + dropped;
	s->drops[ST_CAPTURE_DROP_NO_BUFFER] = st.rx_fill_ring_empty_descs;
	s->drops[ST_CAPTURE_DROP_INVALID] = st.rx_invalid_descs;
	return 0;
}

static const char *const counter_names[ST_XSK__COUNT] = {
	[ST_XSK_REDIRECTED] = "redirected",
	[ST_XSK_PASS_NOT_IP] = "pass_not_ip",
	[ST_XSK_PASS_FRAGMENT] = "pass_fragment",
	[ST_XSK_PASS_NOT_TCP_UDP] = "pass_not_tcp_udp",
	[ST_XSK_PASS_UNMATCHED] = "pass_unmatched",
	[ST_XSK_PASS_PARSE_ERROR] = "pass_parse_error",
	[ST_XSK_PASS_NO_SOCKET] = "pass_no_socket",
};

/* Sums counter k over the CPUs into *sum.  0 or -errno. */
static int read_counter(const struct xdp_capture *x, uint32_t k, uint64_t *sum)
{
	uint64_t *per_cpu = calloc((size_t)x->possible_cpus, sizeof(*per_cpu));
	int i;

	if (!per_cpu)
		return -ENOMEM;
	*sum = 0;
	if (bpf_map_lookup_elem(x->counters_map_fd, &k, per_cpu) < 0) {
		int err = -errno;

		free(per_cpu);
		return err;
	}
	for (i = 0; i < x->possible_cpus; i++)
		*sum += per_cpu[i];
	free(per_cpu);
	return 0;
}

static int xdp_stats_json(struct st_capture *c, FILE *out)
{
	struct xdp_capture *x = xdp_of(c);
	unsigned q, k;

	fprintf(out, "{\"backend\":\"af_xdp\",\"ifname\":\"%s\",\"ifindex\":%d,"
		"\"attach_mode\":\"%s\",\"copy_mode\":\"%s\",\"notes\":\"",
		x->ifname, x->ifindex,
		x->attach_mode == XDP_MODE_NATIVE ? "native" : "skb",
		x->zerocopy ? "zerocopy" : "copy");
	for (const char *p = x->notes; *p; p++)   /* notes hold no controls */
		fprintf(out, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
	fputs("\",\"program\":{", out);
	for (k = 0; k < ST_XSK__COUNT; k++) {
		uint64_t sum;
		int err = read_counter(x, k, &sum);

		if (err)
			return err;
		fprintf(out, "%s\"%s\":%llu", k ? "," : "", counter_names[k],
			(unsigned long long)sum);
	}
	fputs("},\"queues\":[", out);
	for (q = 0; q < c->queues; q++) {
		struct xdp_queue *xq = &x->q[q];
		struct xdp_statistics st;
		int err = read_socket_stats(xq, &st);

		if (err)
			return err;
		fprintf(out, "%s{\"queue\":%u,\"frames\":%llu,\"bytes\":%llu,"
			"\"busy_poll\":%s,\"rx_dropped\":%llu,\"rx_ring_full\":%llu,"
			"\"rx_fill_ring_empty_descs\":%llu,\"rx_invalid_descs\":%llu}",
			q ? "," : "", q,
			(unsigned long long)atomic_load_explicit(&xq->frames, memory_order_relaxed),
			(unsigned long long)atomic_load_explicit(&xq->bytes, memory_order_relaxed),
			xq->busy_poll ? "true" : "false",
			(unsigned long long)st.rx_dropped,
			(unsigned long long)st.rx_ring_full,
			(unsigned long long)st.rx_fill_ring_empty_descs,
			(unsigned long long)st.rx_invalid_descs);
	}
	fputs("]}", out);
	return ferror(out) ? -EIO : 0;
}

/* ---- open and close ------------------------------------------------ */

static void queue_close(struct xdp_queue *xq)
{
	if (xq->xsk)
		xsk_socket__delete(xq->xsk);
	if (xq->umem)
		xsk_umem__delete(xq->umem);
	if (xq->umem_area)
		munmap(xq->umem_area, xq->umem_bytes);
	memset(xq, 0, sizeof(*xq));
}

static void xdp_close(struct st_capture *c)
{
	struct xdp_capture *x = xdp_of(c);
	unsigned q;

	for (q = 0; q < c->queues; q++)
		queue_close(&x->q[q]);
	if (x->prog) {
		xdp_program__detach(x->prog, x->ifindex, x->attach_mode, 0);
		xdp_program__close(x->prog);
	}
	bpf_object__close(x->obj);
	free(x->q);
	free(x);
}

static const struct st_capture_ops xdp_ops = {
	.rx_burst = xdp_rx_burst,
	.rx_release = xdp_rx_release,
	.queue_stats = xdp_queue_stats,
	.stats_json = xdp_stats_json,
	.start = NULL,
	.join = NULL,
	.close = xdp_close,
};

/* The sizes of cfg with defaults filled in, checked. */
struct xdp_sizes {
	uint32_t rx_ring, fill_ring, frame_count, frame_size;
};

static int check_config(const struct st_xdp_config *cfg, struct xdp_sizes *z)
{
	unsigned i;

	if (!cfg->ifname || strlen(cfg->ifname) >= IF_NAMESIZE) {
		set_error(cfg, "af_xdp: no interface name, or one too long");
		return -EINVAL;
	}
	if (cfg->queues < 1 || cfg->queues > ST_CAPTURE_QUEUES_MAX) {
		set_error(cfg, "af_xdp: %u queues (1..%d)", cfg->queues,
			  ST_CAPTURE_QUEUES_MAX);
		return -EINVAL;
	}
	if (!cfg->ports || cfg->n_ports < 1 || cfg->n_ports > ST_XDP_PORTS_MAX) {
		set_error(cfg, "af_xdp: %u steered ports (1..%d)", cfg->n_ports,
			  ST_XDP_PORTS_MAX);
		return -EINVAL;
	}
	for (i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].l4_proto != IPPROTO_TCP &&
		    cfg->ports[i].l4_proto != IPPROTO_UDP) {
			set_error(cfg, "af_xdp: port %u: protocol %u is not TCP or UDP",
				  cfg->ports[i].port, cfg->ports[i].l4_proto);
			return -EINVAL;
		}
	}
	z->frame_count = cfg->frame_count ? cfg->frame_count : DEFAULT_FRAME_COUNT;
	z->frame_size = cfg->frame_size ? cfg->frame_size : DEFAULT_FRAME_SIZE;
	z->rx_ring = cfg->rx_ring_size ? cfg->rx_ring_size : DEFAULT_RX_RING;
	z->fill_ring = cfg->fill_ring_size ? cfg->fill_ring_size : z->frame_count;
	if (z->frame_size != 2048 && z->frame_size != 4096) {
		set_error(cfg, "af_xdp: frame size %u (2048 or 4096)", z->frame_size);
		return -EINVAL;
	}
	if (!is_power_of_two(z->rx_ring) || !is_power_of_two(z->fill_ring) ||
	    z->frame_count > z->fill_ring || z->frame_count < XDP_BURST_MAX / 8) {
		set_error(cfg, "af_xdp: rings %u/%u must be powers of two, and "
			  "%d <= frame count %u <= fill ring", z->rx_ring,
			  z->fill_ring, XDP_BURST_MAX / 8, z->frame_count);
		return -EINVAL;
	}
	return 0;
}

/* Can we open an AF_XDP socket at all?  0 or -errno with a message. */
static int probe_af_xdp(const struct st_xdp_config *cfg)
{
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	int err = -errno;

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (err == -EAFNOSUPPORT) {
		set_error(cfg, "af_xdp: this kernel has no AF_XDP sockets "
			  "(CONFIG_XDP_SOCKETS)");
	} else if (err == -EPERM || err == -EACCES) {
		set_error(cfg, "af_xdp: not allowed to open an AF_XDP socket "
			  "(needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF; run as root)");
		err = -EPERM;
	} else {
		set_error(cfg, "af_xdp: socket(AF_XDP): %s", strerror(-err));
	}
	return err;
}

/* Fewer rx queues than asked for is EINVAL with a message; a driver that
 * cannot tell (no ETHTOOL_GCHANNELS) leaves it to the socket bind. */
static int check_queue_count(const struct st_xdp_config *cfg)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { .ifr_data = (void *)&ch };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint32_t rx_queues;
	int rc;

	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cfg->ifname);
	rc = ioctl(fd, SIOCETHTOOL, &ifr);
	close(fd);
	if (rc < 0)
		return 0;
	rx_queues = ch.rx_count + ch.combined_count;
	if (rx_queues == 0 || cfg->queues <= rx_queues)
		return 0;
	set_error(cfg, "af_xdp: %s has %u rx queues, %u asked for", cfg->ifname,
		  rx_queues, cfg->queues);
	return -EINVAL;
}

static int find_map_fd(struct xdp_capture *x, const char *name,
		       const struct st_xdp_config *cfg)
{
	int fd = bpf_object__find_map_fd_by_name(x->obj, name);

	if (fd < 0)
		set_error(cfg, "af_xdp: the program has no map %s", name);
	return fd < 0 ? -ENOENT : fd;
}

static int program_attach(struct xdp_capture *x, const struct st_xdp_config *cfg)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_opts,
			    .object_name = ST_XSK_PROG_NAME);
	char msg[128];
	int err;

	x->obj = bpf_object__open_mem(st_xsk_steer_obj, st_xsk_steer_obj_bytes,
				      &open_opts);
	if (!x->obj) {
		err = -errno;
		set_error(cfg, "af_xdp: cannot open the XDP program: %s", strerror(-err));
		return err;
	}
	x->prog = xdp_program__from_bpf_obj(x->obj, "xdp");
	err = (int)libxdp_get_error(x->prog);
	if (err) {
		x->prog = NULL;
		set_error(cfg, "af_xdp: libxdp cannot use the program: %s", strerror(-err));
		return err;
	}
	x->attach_mode = cfg->attach_mode == ST_XDP_ATTACH_SKB ? XDP_MODE_SKB :
			 XDP_MODE_NATIVE;
	err = xdp_program__attach(x->prog, x->ifindex, x->attach_mode, 0);
	if (err && cfg->attach_mode == ST_XDP_ATTACH_AUTO &&
	    err != -EPERM && err != -EEXIST) {
		libxdp_strerror(err, msg, sizeof(msg));
		add_note(x, "native XDP refused (%s): SKB mode", msg);
		x->attach_mode = XDP_MODE_SKB;
		err = xdp_program__attach(x->prog, x->ifindex, x->attach_mode, 0);
	}
	if (err) {
		libxdp_strerror(err, msg, sizeof(msg));
		set_error(cfg, "af_xdp: cannot attach the XDP program to %s in %s "
			  "mode: %s", x->ifname,
			  x->attach_mode == XDP_MODE_NATIVE ? "native" : "SKB", msg);
		xdp_program__close(x->prog);
		x->prog = NULL;
		return err == -EACCES ? -EPERM : err;
	}
	return 0;
}

static int ports_fill(struct xdp_capture *x, const struct st_xdp_config *cfg)
{
	int fd = find_map_fd(x, ST_XSK_MAP_PORTS, cfg);
	uint8_t one = 1;
	unsigned i;

	if (fd < 0)
		return fd;
	for (i = 0; i < cfg->n_ports; i++) {
		struct st_xsk_port_key key = {
			.l4_proto = cfg->ports[i].l4_proto,
			.pad = 0,
			.port_be = htons(cfg->ports[i].port),
		};

		if (bpf_map_update_elem(fd, &key, &one, BPF_ANY) < 0) {
			int err = -errno;

			set_error(cfg, "af_xdp: port map update: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

static int socket_create(struct xdp_capture *x, struct xdp_queue *xq, unsigned q,
			 const struct xdp_sizes *z, bool zerocopy)
{
	struct xsk_umem_config ucfg = {
		.fill_size = z->fill_ring,
		.comp_size = 32,
		.frame_size = z->frame_size,
		.frame_headroom = 0,
		.flags = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = z->rx_ring,
		.tx_size = 0,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = x->attach_mode == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE :
			     XDP_FLAGS_SKB_MODE,
		.bind_flags = XDP_USE_NEED_WAKEUP | (zerocopy ? XDP_ZEROCOPY : XDP_COPY),
	};
	int err;

	err = xsk_umem__create(&xq->umem, xq->umem_area, xq->umem_bytes,
			       &xq->fill, &xq->completion, &ucfg);
	if (err) {
		xq->umem = NULL;
		return err;
	}
	err = xsk_socket__create(&xq->xsk, x->ifname, q, xq->umem, &xq->rx,
				 NULL, &scfg);
	if (err) {
		xq->xsk = NULL;
		xsk_umem__delete(xq->umem);
		xq->umem = NULL;
		return err;
	}
	xq->fd = xsk_socket__fd(xq->xsk);
	return 0;
}

/*
 * The kernel releases a closed socket's hold on its queue later, from a
 * workqueue (net/xdp/xsk_buff_pool.c, xp_release_deferred), and a bind
 * meanwhile fails with EBUSY: so a capture reopened at once retries for up
 * to XDP_BIND_RETRIES * 10 ms.  A queue held by a live socket still fails.
 */
#define XDP_BIND_RETRIES 100

static int socket_create_retry(struct xdp_capture *x, struct xdp_queue *xq,
			       unsigned q, const struct xdp_sizes *z, bool zerocopy)
{
	int err = socket_create(x, xq, q, z, zerocopy);

	for (int i = 0; err == -EBUSY && i < XDP_BIND_RETRIES; i++) {
		usleep(10 * 1000);
		err = socket_create(x, xq, q, z, zerocopy);
	}
	return err;
}

static void busy_poll_set(struct xdp_capture *x, struct xdp_queue *xq, unsigned q,
			  const struct st_xdp_config *cfg)
{
	int prefer = 1;
	int usecs = cfg->busy_poll_us ? (int)cfg->busy_poll_us : DEFAULT_BUSY_POLL_US;
	int budget = cfg->busy_poll_budget ? (int)cfg->busy_poll_budget :
		     ST_CAPTURE_BURST;

	if (setsockopt(xq->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &prefer,
		       sizeof(prefer)) < 0) {
		add_note(x, "queue %u: SO_PREFER_BUSY_POLL refused (%s)", q,
			 strerror(errno));
		return;
	}
	if (setsockopt(xq->fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs)) < 0)
		add_note(x, "queue %u: SO_BUSY_POLL refused (%s)", q, strerror(errno));
	if (setsockopt(xq->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget,
		       sizeof(budget)) < 0)
		add_note(x, "queue %u: SO_BUSY_POLL_BUDGET refused (%s)", q,
			 strerror(errno));
	xq->busy_poll = true;
}

static int queue_open(struct xdp_capture *x, unsigned q, const struct xdp_sizes *z,
		      const struct st_xdp_config *cfg)
{
	struct xdp_queue *xq = &x->q[q];
	uint32_t idx, i;
	int err;

	xq->umem_bytes = (size_t)z->frame_count * z->frame_size;
	xq->umem_area = mmap(NULL, xq->umem_bytes, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (xq->umem_area == MAP_FAILED) {
		xq->umem_area = NULL;
		set_error(cfg, "af_xdp: queue %u: UMEM of %zu bytes: %s", q,
			  xq->umem_bytes, strerror(errno));
		return -ENOMEM;
	}
	/* The first queue settles the copy mode; the others follow it. */
	err = socket_create_retry(x, xq, q, z, x->zerocopy);
	if (err && q == 0 && x->zerocopy && cfg->copy_mode == ST_XDP_COPY_AUTO) {
		add_note(x, "zero-copy refused (%s): copy mode", strerror(-err));
		x->zerocopy = false;
		err = socket_create_retry(x, xq, q, z, false);
	}
	if (err) {
		set_error(cfg, "af_xdp: %s queue %u: AF_XDP socket (%s mode): %s",
			  x->ifname, q, x->zerocopy ? "zero-copy" : "copy",
			  strerror(-err));
		return err == -EACCES ? -EPERM : err;
	}
	err = xsk_socket__update_xskmap(xq->xsk, x->sockets_map_fd);
	if (err) {
		set_error(cfg, "af_xdp: queue %u: XSKMAP update: %s", q, strerror(-err));
		return err;
	}
	if (xsk_ring_prod__reserve(&xq->fill, z->frame_count, &idx) != z->frame_count) {
		set_error(cfg, "af_xdp: queue %u: fill ring shorter than the frames", q);
		return -EINVAL;
	}
	for (i = 0; i < z->frame_count; i++)
		*xsk_ring_prod__fill_addr(&xq->fill, idx + i) = (uint64_t)i * z->frame_size;
	xsk_ring_prod__submit(&xq->fill, z->frame_count);
	if (cfg->busy_poll)
		busy_poll_set(x, xq, q, cfg);
	return 0;
}

struct st_capture *st_capture_xdp_open(const struct st_xdp_config *cfg)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct xdp_capture *x;
	struct xdp_sizes z;
	unsigned q;
	int err;

	err = check_config(cfg, &z);
	if (err)
		goto out_errno;
	if (if_nametoindex(cfg->ifname) == 0) {
		err = -ENODEV;
		set_error(cfg, "af_xdp: no interface %s", cfg->ifname);
		goto out_errno;
	}
	err = probe_af_xdp(cfg);
	if (err)
		goto out_errno;
	err = check_queue_count(cfg);
	if (err)
		goto out_errno;
	/* Kernels before 5.11 charge BPF maps and UMEMs to RLIMIT_MEMLOCK;
	 * later ones to the memory cgroup.  Failing here is harmless. */
	setrlimit(RLIMIT_MEMLOCK, &unlimited);

	x = calloc(1, sizeof(*x));
	if (!x) {
		err = -ENOMEM;
		goto out_errno;
	}
	x->q = aligned_alloc(64, sizeof(*x->q) * cfg->queues);
	if (!x->q) {
		err = -ENOMEM;
		goto out_free;
	}
	memset(x->q, 0, sizeof(*x->q) * cfg->queues);
	snprintf(x->ifname, sizeof(x->ifname), "%s", cfg->ifname);
	x->ifindex = (int)if_nametoindex(cfg->ifname);
	x->possible_cpus = libbpf_num_possible_cpus();
	if (x->possible_cpus <= 0) {
		err = x->possible_cpus < 0 ? x->possible_cpus : -EINVAL;
		goto out_free;
	}
	x->cap = (struct st_capture){
		.ops = &xdp_ops,
		.backend = "af_xdp",
		.queues = 0,          /* raised as queues open, for close() */
		.linktype = 1,        /* DLT_EN10MB */
		.timestamps = false,
		.finite = false,
		.flow_affinity = cfg->queues == 1,
		.impl = x,
	};

	err = program_attach(x, cfg);
	if (err)
		goto out_close;
	err = ports_fill(x, cfg);
	if (err)
		goto out_close;
	x->sockets_map_fd = find_map_fd(x, ST_XSK_MAP_SOCKETS, cfg);
	x->counters_map_fd = find_map_fd(x, ST_XSK_MAP_COUNTERS, cfg);
	if (x->sockets_map_fd < 0 || x->counters_map_fd < 0) {
		err = -ENOENT;
		goto out_close;
	}
	x->zerocopy = cfg->copy_mode == ST_XDP_COPY_ZEROCOPY ||
		      (cfg->copy_mode == ST_XDP_COPY_AUTO &&
		       x->attach_mode == XDP_MODE_NATIVE);
	for (q = 0; q < cfg->queues; q++) {
		x->cap.queues = q + 1;
		err = queue_open(x, q, &z, cfg);
		if (err)
			goto out_close;
	}
	return &x->cap;

out_close:
	xdp_close(&x->cap);
	errno = -err;
	return NULL;
out_free:
	free(x->q);
	free(x);
out_errno:
	errno = -err;
	return NULL;
}
