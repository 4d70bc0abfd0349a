/*
 * The xdp_lb actuator (xdplb.h): loads bpf/lb.bpf.c (embedded, bpf/lb_obj.h)
 * with libbpf, attaches it with libxdp (native, else SKB mode, like the
 * AF_XDP capture backend), and keeps the kernel's Maglev table equal to the
 * desired backends.
 *
 * Kernel state is the only state: every apply() and read() starts from
 * what st_lb_active (the current key), st_lb_tables (key -> inner table
 * map id) and st_lb_backends hold.
 * st_lb_backends and every inner table are mmapable arrays, so a table of
 * M slots is filled and read through one mapping, not M syscalls.
 */
#include "control/actuate/xdplb/xdplb.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "bpf/lb_obj.h"
#include "control/actuate/xdplb/maglev.h"

struct xdplb {
	struct st_actuator base;
	struct bpf_object *obj;            /* NULL when adopted or observed */
	struct xdp_program *prog;          /* NULL when not attached by us */
	enum xdp_attach_mode attach_mode;
	int ifindex;
	int prog_fd;
	int settings_fd;                   /* .rodata (st_lb_settings) */
	int tables_fd;                     /* st_lb_tables */
	int active_fd;                     /* st_lb_active */
	int backends_fd;
	int backend_stats_fd;
	int counters_fd;
	int table_fds[ST_LB_TABLE_KEYS];   /* inner maps this actuator installed
					    * or found pinned; -1 none */
	char pin_dir[PATH_MAX];            /* "" = not pinned */
	bool adopted;                      /* took over a pinned, attached one */
	bool read_only;                    /* st_xdplb_observe() */
	struct st_lb_backend *backends;    /* st_lb_backends, mapped */
	size_t backends_map_bytes;
	struct st_lb_settings settings;
	char neighbour_ifname[IF_NAMESIZE];/* where a backend's MAC is looked up */
	struct st_xdplb_timing last;       /* of the last apply that swapped */
};

/* What the kernel holds now (load_current). */
struct current {
	struct st_lb_slot *table;          /* mapped; NULL: no table installed */
	uint32_t slots[ST_LB_BACKENDS_MAX];/* per index */
};

static void say(char *why, size_t why_bytes, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t why_bytes, const char *fmt, ...)
{
	va_list ap;

	if (!why || why_bytes == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_bytes, fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t mapping_bytes(size_t bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (bytes + page - 1) / page * page;
}

static struct xdplb *xdplb_of(const struct st_actuator *a)
{
	return (struct xdplb *)a;
}

/* --- interface facts ------------------------------------------------- */

static int interface_ioctl(const char *ifname, unsigned long request, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return -errno;
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	if (ioctl(fd, request, ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* The neighbour table's MAC for an IPv4 address on ifname (/proc/net/arp:
 * "IP address  HW type  Flags  HW address  Mask  Device"). */
static int neighbour_mac(const char *ifname, const uint8_t address[4], uint8_t mac[6])
{
	char line[256], ip[64], hw[64], dev[64];
	unsigned flags, m[6];
	char want[INET_ADDRSTRLEN];
	FILE *f = fopen("/proc/net/arp", "re");
	int err = -EHOSTUNREACH;

	if (!f)
		return -errno;
	inet_ntop(AF_INET, address, want, sizeof(want));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %*s %x %63s %*s %63s", ip, &flags, hw, dev) != 4)
			continue;
		if (strcmp(ip, want) || strcmp(dev, ifname) || !(flags & 0x2))  /* ATF_COM */
			continue;
		if (sscanf(hw, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4],
			   &m[5]) != 6)
			continue;
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)m[i];
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

/* --- create / destroy ------------------------------------------------ */

static int settings_init(struct xdplb *x, const struct st_config_xdp_lb *cfg,
			 char *why, size_t why_bytes)
{
	const char *out_ifname = cfg->interface;
	struct st_lb_settings *s = &x->settings;
	struct ifreq ifr;
	int err;

	if (cfg->vip.af != AF_INET || (cfg->ipip_source.af && cfg->ipip_source.af != AF_INET)) {
		say(why, why_bytes, "xdp_lb: IPv4 VIP and ipip source only");
		return -EAFNOSUPPORT;
	}
	if (cfg->vip_port == 0 || !(cfg->transport & (ST_CONFIG_TCP | ST_CONFIG_UDP))) {
		say(why, why_bytes, "xdp_lb: no VIP port or no transport");
		return -EINVAL;
	}
	if (st_maglev_check_size(cfg->table_size, 0)) {
		say(why, why_bytes, "xdp_lb: table_size %u is not a prime in 3..%u",
		    cfg->table_size, ST_MAGLEV_SIZE_MAX);
		return -EINVAL;
	}
	x->ifindex = (int)if_nametoindex(cfg->interface);
	if (x->ifindex == 0) {
		say(why, why_bytes, "xdp_lb: no interface '%s'", cfg->interface);
		return -ENODEV;
	}
	memcpy(&s->vip_be, cfg->vip.bytes, 4);
	s->vip_port_be = htons(cfg->vip_port);
	s->transport = (uint8_t)((cfg->transport & ST_CONFIG_TCP ? ST_LB_TCP : 0) |
				 (cfg->transport & ST_CONFIG_UDP ? ST_LB_UDP : 0));
	s->table_size = cfg->table_size;
	switch (cfg->forward) {
	case ST_XDP_FWD_REDIRECT:
		s->forward = ST_LB_FWD_REDIRECT;
		out_ifname = cfg->egress_interface;
		s->egress_ifindex = if_nametoindex(cfg->egress_interface);
		if (s->egress_ifindex == 0) {
			say(why, why_bytes, "xdp_lb: no egress interface '%s'",
			    cfg->egress_interface);
			return -ENODEV;
		}
		break;
	case ST_XDP_FWD_IPIP:
		s->forward = ST_LB_FWD_IPIP;
		if (cfg->ipip_source.af == AF_INET) {
			memcpy(&s->ipip_source_be, cfg->ipip_source.bytes, 4);
		} else {
			err = interface_ioctl(cfg->interface, SIOCGIFADDR, &ifr);
			if (err) {
				say(why, why_bytes, "xdp_lb: no ipip_source and %s has no "
				    "IPv4 address: %s", cfg->interface, strerror(-err));
				return err;
			}
			s->ipip_source_be =
				((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
		}
		break;
	default:
		s->forward = ST_LB_FWD_TX;
		break;
	}
	err = interface_ioctl(out_ifname, SIOCGIFHWADDR, &ifr);
	if (err) {
		say(why, why_bytes, "xdp_lb: cannot read the MAC of %s: %s", out_ifname,
		    strerror(-err));
		return err;
	}
	memcpy(s->src_mac, ifr.ifr_hwaddr.sa_data, 6);
	snprintf(x->neighbour_ifname, sizeof(x->neighbour_ifname), "%s", out_ifname);
	return 0;
}

static int object_open(struct xdplb *x, char *why, size_t why_bytes)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_opts, .object_name = ST_LB_PROG_NAME);
	struct bpf_map *rodata, *tables;
	int err;

	x->obj = bpf_object__open_mem(st_lb_obj, st_lb_obj_bytes, &open_opts);
	if (!x->obj) {
		err = -errno;
		say(why, why_bytes, "xdp_lb: cannot open the program: %s", strerror(-err));
		return err;
	}
	rodata = bpf_object__find_map_by_name(x->obj, ".rodata");
	tables = bpf_object__find_map_by_name(x->obj, ST_LB_MAP_TABLES);
	if (!rodata || !tables) {
		say(why, why_bytes, "xdp_lb: the program has no settings or no table map");
		return -ENOENT;
	}
	err = bpf_map__set_initial_value(rodata, &x->settings, sizeof(x->settings));
	if (err)
		say(why, why_bytes, "xdp_lb: cannot set the settings: %s", strerror(-err));
	return err;
}

static int program_load(struct xdplb *x, enum st_xdplb_attach attach, char *why,
			size_t why_bytes)
{
	char msg[128];
	int err;

	if (attach == ST_XDPLB_ATTACH_NONE) {
		err = bpf_object__load(x->obj);
		if (err)
			say(why, why_bytes, "xdp_lb: the kernel refused the program: %s",
			    strerror(-err));
		return err;
	}
	x->prog = xdp_program__from_bpf_obj(x->obj, "xdp");
	err = (int)libxdp_get_error(x->prog);
	if (err) {
		x->prog = NULL;
		say(why, why_bytes, "xdp_lb: libxdp cannot use the program: %s", strerror(-err));
		return err;
	}
	x->attach_mode = attach == ST_XDPLB_ATTACH_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	err = xdp_program__attach(x->prog, x->ifindex, x->attach_mode, 0);
	if (err && attach == ST_XDPLB_ATTACH_AUTO && err != -EPERM && err != -EEXIST) {
		x->attach_mode = XDP_MODE_SKB;
		err = xdp_program__attach(x->prog, x->ifindex, x->attach_mode, 0);
	}
	if (err) {
		libxdp_strerror(err, msg, sizeof(msg));
		say(why, why_bytes, "xdp_lb: cannot attach in %s mode: %s",
		    x->attach_mode == XDP_MODE_NATIVE ? "native" : "SKB", msg);
		xdp_program__close(x->prog);
		x->prog = NULL;
		return err == -EACCES ? -EPERM : err;
	}
	return 0;
}

static int maps_find(struct xdplb *x, char *why, size_t why_bytes)
{
	struct bpf_program *p = bpf_object__find_program_by_name(x->obj, ST_LB_PROG_NAME);
	int backends_fd;

	x->prog_fd = p ? bpf_program__fd(p) : -1;
	x->settings_fd = bpf_object__find_map_fd_by_name(x->obj, ".rodata");
	x->tables_fd = bpf_object__find_map_fd_by_name(x->obj, ST_LB_MAP_TABLES);
	x->active_fd = bpf_object__find_map_fd_by_name(x->obj, ST_LB_MAP_ACTIVE);
	backends_fd = bpf_object__find_map_fd_by_name(x->obj, ST_LB_MAP_BACKENDS);
	x->backend_stats_fd = bpf_object__find_map_fd_by_name(x->obj, ST_LB_MAP_BACKEND_STATS);
	x->counters_fd = bpf_object__find_map_fd_by_name(x->obj, ST_LB_MAP_COUNTERS);
	x->backends_fd = backends_fd;
	if (x->tables_fd < 0 || x->active_fd < 0 || backends_fd < 0 || x->backend_stats_fd < 0 ||
	    x->counters_fd < 0 || x->settings_fd < 0) {
		say(why, why_bytes, "xdp_lb: the loaded program lacks a map");
		return -ENOENT;
	}
	x->backends_map_bytes = mapping_bytes(sizeof(struct st_lb_backend) * ST_LB_BACKENDS_MAX);
	x->backends = mmap(NULL, x->backends_map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
			   backends_fd, 0);
	if (x->backends == MAP_FAILED) {
		x->backends = NULL;
		say(why, why_bytes, "xdp_lb: cannot map %s: %s", ST_LB_MAP_BACKENDS,
		    strerror(errno));
		return -errno;
	}
	return 0;
}

static void fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The fds this actuator owns itself (not the bpf_object's). */
static void own_fds_close(struct xdplb *x)
{
	for (int k = 0; k < ST_LB_TABLE_KEYS; k++)
		fd_close(&x->table_fds[k]);
	if (!x->obj) {
		fd_close(&x->prog_fd);
		fd_close(&x->settings_fd);
		fd_close(&x->tables_fd);
		fd_close(&x->active_fd);
		fd_close(&x->backends_fd);
		fd_close(&x->backend_stats_fd);
		fd_close(&x->counters_fd);
	}
}

/* The contract (actuator.h): the kernel's table stays.  The program stays
 * attached (an attached program holds its maps), so traffic goes on being
 * balanced while no shadowtap-cp runs. */
static void xdplb_destroy(struct st_actuator *a)
{
	struct xdplb *x = xdplb_of(a);

	if (!x)
		return;
	if (x->backends)
		munmap(x->backends, x->backends_map_bytes);
	own_fds_close(x);
	if (x->prog)
		xdp_program__close(x->prog);
	bpf_object__close(x->obj);
	free(x);
}

static struct xdplb *xdplb_alloc(void)
{
	struct xdplb *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->base.ops = &st_xdplb_ops;
	x->prog_fd = x->settings_fd = x->tables_fd = x->active_fd = -1;
	x->backends_fd = x->backend_stats_fd = x->counters_fd = -1;
	for (int k = 0; k < ST_LB_TABLE_KEYS; k++)
		x->table_fds[k] = -1;
	return x;
}

struct st_actuator *st_xdplb_create(const struct st_config_xdp_lb *cfg,
				    enum st_xdplb_attach attach, char *why,
				    size_t why_bytes)
{
	struct xdplb *x;
	int err;

	say(why, why_bytes, "ok");
	if (!cfg || attach > ST_XDPLB_ATTACH_NONE) {
		errno = EINVAL;
		return NULL;
	}
	x = xdplb_alloc();
	if (!x)
		return NULL;
	err = settings_init(x, cfg, why, why_bytes);
	if (!err)
		err = object_open(x, why, why_bytes);
	if (!err)
		err = program_load(x, attach, why, why_bytes);
	if (!err)
		err = maps_find(x, why, why_bytes);
	if (err) {
		xdplb_destroy(&x->base);
		errno = err < 0 ? -err : EINVAL;
		return NULL;
	}
	return &x->base;
}

/* --- pins (st_xdplb_open, st_xdplb_observe) --------------------------- */

static uint32_t map_id(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static void pin_path(const struct xdplb *x, const char *name, char *path, size_t bytes)
{
	snprintf(path, bytes, "%s/%s", x->pin_dir, name);
}


/* What is pinned under pin_dir, and which of the actuator's fds it is. */
static const char *const pin_names[] = {
	"prog", "settings", "tables", "active", "backends", "backend_stats", "counters",
};
#define PINS (sizeof(pin_names) / sizeof(pin_names[0]))

static int *pin_fd(struct xdplb *x, size_t i)
{
	int *fds[PINS] = {
		&x->prog_fd, &x->settings_fd, &x->tables_fd, &x->active_fd, &x->backends_fd,
		&x->backend_stats_fd, &x->counters_fd,
	};

	return fds[i];
}

int st_xdplb_pin_dir(const char *instance, char *out, size_t out_bytes)
{
	int n;

	if (!instance || !*instance || strchr(instance, '/'))
		return -EINVAL;
	n = snprintf(out, out_bytes, "%s/shadowtap/%s/xdp_lb", ST_XDPLB_BPFFS, instance);
	return n < 0 || (size_t)n >= out_bytes ? -ENAMETOOLONG : 0;
}

int st_xdplb_bpffs_ensure(void)
{
	struct statfs sf;

	if (statfs(ST_XDPLB_BPFFS, &sf))
		return -errno;
	if (sf.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", ST_XDPLB_BPFFS, "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

/* mkdir -p of pin_dir, each level 0700; 0 or -errno. */
static int pin_dir_make(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(path, 0700) && errno != EEXIST)
				return -errno;
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

static void pins_remove(const char *dir)
{
	char path[PATH_MAX + 16];

	for (size_t i = 0; i < PINS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pin_names[i]);
		unlink(path);
	}
	for (int k = 0; k < ST_LB_TABLE_KEYS; k++) {
		snprintf(path, sizeof(path), "%s/table%d", dir, k);
		unlink(path);
	}
	rmdir(dir);
}

/* Pins the program and every map of a freshly loaded balancer. */
static int pins_write(struct xdplb *x, char *why, size_t why_bytes)
{
	char path[PATH_MAX + 16];
	int err = pin_dir_make(x->pin_dir);

	if (err) {
		say(why, why_bytes, "xdp_lb: cannot make %s (a bpffs?): %s", x->pin_dir,
		    strerror(-err));
		return err;
	}
	pins_remove(x->pin_dir);
	err = pin_dir_make(x->pin_dir);
	for (size_t i = 0; !err && i < PINS; i++) {
		int fd = *pin_fd(x, i);

		if (i == 0 && x->prog)
			fd = xdp_program__fd(x->prog);  /* what is attached */
		pin_path(x, pin_names[i], path, sizeof(path));
		if (bpf_obj_pin(fd, path))
			err = -errno;
	}
	if (err)
		say(why, why_bytes, "xdp_lb: cannot pin under %s: %s", x->pin_dir,
		    strerror(-err));
	return err;
}

/* Opens every pin; 0, or -errno (-ENOENT: nothing pinned). */
static int pins_open(struct xdplb *x)
{
	char path[PATH_MAX + 16];

	for (size_t i = 0; i < PINS; i++) {
		pin_path(x, pin_names[i], path, sizeof(path));
		*pin_fd(x, i) = bpf_obj_get(path);
		if (*pin_fd(x, i) < 0)
			return -errno;
	}
	return 0;
}

/* The pinned settings (the program's .rodata) into *s; 0 or -errno. */
static int pinned_settings(struct xdplb *x, struct st_lb_settings *s)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info), zero = 0;
	uint8_t *value;
	int err = 0;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(x->settings_fd, &info, &len))
		return -errno;
	if (info.value_size < sizeof(*s))
		return -EINVAL;
	value = calloc(1, info.value_size);
	if (!value)
		return -ENOMEM;
	if (bpf_map_lookup_elem(x->settings_fd, &zero, value))
		err = -errno;
	else
		memcpy(s, value, sizeof(*s));
	free(value);
	return err;
}

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/*
 * Whether program id `id` runs on ifindex: attached alone (the kernel's
 * XDP query), or as a component of libxdp's dispatcher there, which libxdp
 * pins as ST_XDPLB_BPFFS/xdp/dispatch-IFINDEX-DISPATCHERID/progN-prog.
 * Neither needs CAP_SYS_ADMIN.  Sets *mode.
 */
static bool runs_on(int ifindex, uint32_t id, enum xdp_attach_mode *mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char dir[PATH_MAX], path[PATH_MAX + 300];
	bool found = false;
	struct dirent *e;
	DIR *d;

	if (!id || bpf_xdp_query(ifindex, 0, &q))
		return false;
	if (q.drv_prog_id == id || q.skb_prog_id == id) {
		*mode = q.drv_prog_id == id ? XDP_MODE_NATIVE : XDP_MODE_SKB;
		return true;
	}
	for (int m = 0; m < 2 && !found; m++) {
		uint32_t dispatcher = m == 0 ? q.drv_prog_id : q.skb_prog_id;

		if (!dispatcher)
			continue;
		snprintf(dir, sizeof(dir), "%s/xdp/dispatch-%d-%u", ST_XDPLB_BPFFS, ifindex,
			 dispatcher);
		d = opendir(dir);
		if (!d)
			continue;
		while (!found && (e = readdir(d))) {
			size_t n = strlen(e->d_name);
			int fd;

			if (n < 5 || strcmp(e->d_name + n - 5, "-prog"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			fd = bpf_obj_get(path);
			found = fd >= 0 && prog_id(fd) == id;
			if (fd >= 0)
				close(fd);
		}
		closedir(d);
		if (found)
			*mode = m == 0 ? XDP_MODE_NATIVE : XDP_MODE_SKB;
	}
	return found;
}

static int backends_map(struct xdplb *x, int prot)
{
	x->backends_map_bytes = mapping_bytes(sizeof(struct st_lb_backend) * ST_LB_BACKENDS_MAX);
	x->backends = mmap(NULL, x->backends_map_bytes, prot, MAP_SHARED, x->backends_fd, 0);
	if (x->backends == MAP_FAILED) {
		x->backends = NULL;
		return -errno;
	}
	return 0;
}

/* Takes over the pinned balancer when it runs on our interface with our
 * settings; -ESTALE (or another -errno) when it cannot be. */
static int adopt(struct xdplb *x)
{
	struct st_lb_settings pinned;
	int err = pins_open(x);

	if (!err)
		err = pinned_settings(x, &pinned);
	if (!err && memcmp(&pinned, &x->settings, sizeof(pinned)))
		err = -ESTALE;
	if (!err && !runs_on(x->ifindex, prog_id(x->prog_fd), &x->attach_mode))
		err = -ESTALE;
	if (!err)
		err = backends_map(x, PROT_READ | PROT_WRITE);
	if (err) {
		own_fds_close(x);
		return err;
	}
	x->adopted = true;
	return 0;
}

/* Detaches whatever balancer is pinned under x->pin_dir from x->ifindex,
 * if it runs there (a settings change replaces it). */
static void pinned_detach(struct xdplb *x)
{
	char path[PATH_MAX + 16];
	enum xdp_attach_mode mode = XDP_MODE_NATIVE;
	struct xdp_program *p;
	int fd;

	pin_path(x, "prog", path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	if (runs_on(x->ifindex, prog_id(fd), &mode)) {
		p = xdp_program__from_fd(fd);
		if (!libxdp_get_error(p)) {
			xdp_program__detach(p, x->ifindex, mode, 0);
			xdp_program__close(p);
		} else {
			LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = fd);

			bpf_xdp_detach(x->ifindex, mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE :
				       XDP_FLAGS_DRV_MODE, &o);
		}
	}
	close(fd);
}

struct st_actuator *st_xdplb_open(const struct st_config_xdp_lb *cfg, const char *pin_dir,
				  enum st_xdplb_attach attach, char *why, size_t why_bytes)
{
	struct xdplb *x;
	int err;

	say(why, why_bytes, "ok");
	if (!cfg || !pin_dir || !*pin_dir || strlen(pin_dir) >= sizeof(x->pin_dir) ||
	    attach == ST_XDPLB_ATTACH_NONE || attach > ST_XDPLB_ATTACH_NONE) {
		errno = EINVAL;
		return NULL;
	}
	x = xdplb_alloc();
	if (!x)
		return NULL;
	snprintf(x->pin_dir, sizeof(x->pin_dir), "%s", pin_dir);
	err = settings_init(x, cfg, why, why_bytes);
	if (!err && adopt(x) == 0) {
		say(why, why_bytes, "xdp_lb: adopted the balancer pinned in %s (%s mode)",
		    x->pin_dir, st_xdplb_attach_mode(&x->base));
		return &x->base;
	}
	if (!err) {
		pinned_detach(x);
		err = object_open(x, why, why_bytes);
	}
	if (!err)
		err = program_load(x, attach, why, why_bytes);
	if (!err)
		err = maps_find(x, why, why_bytes);
	if (!err)
		err = pins_write(x, why, why_bytes);
	if (err) {
		if (x->prog)
			xdp_program__detach(x->prog, x->ifindex, x->attach_mode, 0);
		xdplb_destroy(&x->base);
		errno = err < 0 ? -err : EINVAL;
		return NULL;
	}
	return &x->base;
}

static int observer_apply(struct st_actuator *a, const struct st_actuator_backend *backends,
			  size_t n, bool dry_run, struct st_actuator_result *res)
{
	(void)a;
	(void)backends;
	(void)n;
	(void)dry_run;
	memset(res, 0, sizeof(*res));
	say(res->why, sizeof(res->why), "xdp_lb: a read-only view (st_xdplb_observe)");
	return -EPERM;
}

static int xdplb_read(struct st_actuator *a, struct st_actuator_backend *out, size_t max,
		      size_t *n);

static const struct st_actuator_ops observer_ops = {
	.name = "xdp_lb",
	.apply = observer_apply,
	.read = xdplb_read,
	.destroy = xdplb_destroy,
};

struct st_actuator *st_xdplb_observe(const char *pin_dir, char *why, size_t why_bytes)
{
	struct xdplb *x;
	int err;

	say(why, why_bytes, "ok");
	if (!pin_dir || !*pin_dir || strlen(pin_dir) >= PATH_MAX) {
		errno = EINVAL;
		return NULL;
	}
	x = xdplb_alloc();
	if (!x)
		return NULL;
	x->base.ops = &observer_ops;
	x->read_only = true;
	snprintf(x->pin_dir, sizeof(x->pin_dir), "%s", pin_dir);
	err = pins_open(x);
	if (err)
		say(why, why_bytes, "xdp_lb: nothing pinned in %s: %s", pin_dir, strerror(-err));
	if (!err) {
		err = pinned_settings(x, &x->settings);
		if (err)
			say(why, why_bytes, "xdp_lb: cannot read the pinned settings: %s",
			    strerror(-err));
	}
	if (!err) {
		err = backends_map(x, PROT_READ);
		if (err)
			say(why, why_bytes, "xdp_lb: cannot map %s: %s", ST_LB_MAP_BACKENDS,
			    strerror(-err));
	}
	if (err) {
		xdplb_destroy(&x->base);
		errno = -err;
		return NULL;
	}
	return &x->base;
}

int st_xdplb_remove(struct st_actuator *a)
{
	struct xdplb *x = xdplb_of(a);
	enum xdp_attach_mode mode = XDP_MODE_NATIVE;
	int err = 0;

	if (x->read_only)
		return -EPERM;
	if (x->prog) {
		err = xdp_program__detach(x->prog, x->ifindex, x->attach_mode, 0);
	} else if (x->adopted && runs_on(x->ifindex, prog_id(x->prog_fd), &mode)) {
		struct xdp_program *p = xdp_program__from_fd(x->prog_fd);

		err = (int)libxdp_get_error(p);
		if (!err) {
			err = xdp_program__detach(p, x->ifindex, mode, 0);
			xdp_program__close(p);
		}
	}
	if (x->pin_dir[0])
		pins_remove(x->pin_dir);
	return err;
}

void st_xdplb_settings(const struct st_actuator *a, struct st_lb_settings *out)
{
	*out = xdplb_of(a)->settings;
}

bool st_xdplb_adopted(const struct st_actuator *a)
{
	return xdplb_of(a)->adopted;
}

/* --- reading the kernel ---------------------------------------------- */

static size_t table_bytes(const struct xdplb *x)
{
	return mapping_bytes((size_t)x->settings.table_size * sizeof(struct st_lb_slot));
}

/* The st_lb_tables key packets use now (0 or 1), or -errno. */
static int active_key(struct xdplb *x)
{
	uint32_t zero = 0, key = 0;

	if (bpf_map_lookup_elem(x->active_fd, &zero, &key))
		return -errno;
	return (int)(key & (ST_LB_TABLE_KEYS - 1));
}

/*
 * The current inner map's fd (the caller closes it), or -ENOENT.  The
 * outer map gives the map's id; the fd comes from the inner maps this
 * actuator installed, else from their pins (table0, table1), else from
 * the id (which needs CAP_SYS_ADMIN, that shadowtap-cp does not keep).
 * Whichever it is, its id must be the outer map's.
 */
static int installed_table_fd(struct xdplb *x)
{
	uint32_t id = 0;
	int key = active_key(x), fd;
	char path[PATH_MAX + 16], name[16];

	if (key < 0)
		return key;
	if (bpf_map_lookup_elem(x->tables_fd, &key, &id))
		return errno == ENOENT ? -ENOENT : -errno;
	if (x->table_fds[key] >= 0 && map_id(x->table_fds[key]) == id) {
		fd = fcntl(x->table_fds[key], F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (x->pin_dir[0]) {
		snprintf(name, sizeof(name), "table%d", key);
		pin_path(x, name, path, sizeof(path));
		fd = bpf_obj_get(path);
		if (fd >= 0 && map_id(fd) == id)
			return fd;
		if (fd >= 0)
			close(fd);
	}
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

int st_xdplb_active_table(struct st_actuator *a, uint32_t *key, uint32_t *table_map_id)
{
	struct xdplb *x = xdplb_of(a);
	int k = active_key(x);

	if (k < 0)
		return k;
	*key = (uint32_t)k;
	*table_map_id = 0;
	if (bpf_map_lookup_elem(x->tables_fd, &k, table_map_id) && errno != ENOENT)
		return -errno;
	return 0;
}

static void current_free(struct xdplb *x, struct current *cur)
{
	if (cur->table)
		munmap(cur->table, table_bytes(x));
	cur->table = NULL;
}

/* Maps the installed table read-only and counts slots per index. */
static int current_load(struct xdplb *x, struct current *cur)
{
	uint32_t m = x->settings.table_size;
	int fd = installed_table_fd(x);

	memset(cur, 0, sizeof(*cur));
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	cur->table = mmap(NULL, table_bytes(x), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (cur->table == MAP_FAILED) {
		cur->table = NULL;
		return -errno;
	}
	for (uint32_t s = 0; s < m; s++)
		if (cur->table[s].backend_index < ST_LB_BACKENDS_MAX)
			cur->slots[cur->table[s].backend_index]++;
	return 0;
}

static void backend_of_entry(const struct st_lb_backend *e, uint32_t index,
			     struct st_actuator_backend *b)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->name, e->name, sizeof(b->name) < sizeof(e->name) ? sizeof(b->name) :
	       sizeof(e->name));
	b->name[sizeof(b->name) - 1] = '\0';
	b->id = index;
	b->address.af = AF_INET;
	memcpy(b->address.bytes, &e->address_be, 4);
	b->has_mac = true;
	memcpy(b->mac, e->mac, 6);
	b->weight = e->weight;
}

int st_xdplb_table_read(struct st_actuator *a, uint32_t *table, uint32_t table_size)
{
	struct xdplb *x = xdplb_of(a);
	struct current *cur;
	int err;

	if (table_size != x->settings.table_size)
		return -EINVAL;
	cur = malloc(sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	err = current_load(x, cur);
	if (!err && !cur->table)
		err = -ENOENT;
	for (uint32_t s = 0; !err && s < table_size; s++)
		table[s] = cur->table[s].backend_index;
	current_free(x, cur);
	free(cur);
	return err;
}

static int sum_percpu(int fd, uint32_t key, size_t value_words, uint64_t *sum)
{
	int cpus = libbpf_num_possible_cpus();
	uint64_t *values;
	int err = 0;

	if (cpus <= 0)
		return cpus ? cpus : -EINVAL;
	values = calloc((size_t)cpus * value_words, sizeof(uint64_t));
	if (!values)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, values)) {
		err = -errno;
	} else {
		for (size_t w = 0; w < value_words; w++) {
			sum[w] = 0;
			for (int c = 0; c < cpus; c++)
				sum[w] += values[(size_t)c * value_words + w];
		}
	}
	free(values);
	return err;
}

int st_xdplb_routes(struct st_actuator *a, struct st_xdplb_route *out, size_t max,
		    size_t *n)
{
	struct xdplb *x = xdplb_of(a);
	struct current *cur = malloc(sizeof(*cur));
	int err;

	*n = 0;
	if (!cur)
		return -ENOMEM;
	err = current_load(x, cur);
	for (uint32_t i = 0; !err && cur->table && i < ST_LB_BACKENDS_MAX; i++) {
		uint64_t sums[2] = {0, 0};

		if (cur->slots[i] == 0)
			continue;
		if (*n < max) {
			struct st_xdplb_route *r = &out[*n];

			r->index = i;
			backend_of_entry(&x->backends[i], i, &r->backend);
			r->slots = cur->slots[i];
			err = sum_percpu(x->backend_stats_fd, i, 2, sums);
			r->packets = err ? 0 : sums[0];
			r->bytes = err ? 0 : sums[1];
		}
		(*n)++;
	}
	current_free(x, cur);
	free(cur);
	return err;
}

int st_xdplb_counters(struct st_actuator *a, uint64_t counters[ST_LB__COUNT])
{
	struct xdplb *x = xdplb_of(a);

	for (uint32_t c = 0; c < ST_LB__COUNT; c++) {
		int err = sum_percpu(x->counters_fd, c, 1, &counters[c]);

		if (err)
			return err;
	}
	return 0;
}

static int xdplb_read(struct st_actuator *a, struct st_actuator_backend *out, size_t max,
		      size_t *n)
{
	struct xdplb *x = xdplb_of(a);
	struct current *cur = malloc(sizeof(*cur));
	int err;

	*n = 0;
	if (!cur)
		return -ENOMEM;
	err = current_load(x, cur);
	for (uint32_t i = 0; !err && cur->table && i < ST_LB_BACKENDS_MAX; i++) {
		if (cur->slots[i] == 0)
			continue;
		if (*n < max)
			backend_of_entry(&x->backends[i], i, &out[*n]);
		(*n)++;
	}
	current_free(x, cur);
	free(cur);
	return err;
}

/* --- apply ------------------------------------------------------------ */

/* A desired backend, resolved to what its st_lb_backends entry holds. */
struct wanted {
	struct st_lb_backend entry;
	uint32_t index;            /* in st_lb_backends */
	bool is_new;               /* index newly taken: written before the swap */
};

static int wanted_resolve(struct xdplb *x, const struct st_actuator_backend *backends,
			  size_t n, struct wanted *w, struct st_actuator_result *res)
{
	for (size_t i = 0; i < n; i++) {
		const struct st_actuator_backend *b = &backends[i];
		struct st_lb_backend *e = &w[i].entry;
		int err;

		if (b->address.af != AF_INET) {
			say(res->why, sizeof(res->why), "xdp_lb: backend %s: IPv4 only",
			    b->name);
			return -EAFNOSUPPORT;
		}
		if (!b->name[0] || b->weight == 0 || b->weight > ST_CONFIG_WEIGHT_MAX ||
		    strnlen(b->name, sizeof(b->name)) >= ST_LB_NAME_BYTES) {
			say(res->why, sizeof(res->why), "xdp_lb: backend %zu: no name or a "
			    "weight out of 1..%u", i, ST_CONFIG_WEIGHT_MAX);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(backends[j].name, b->name) == 0) {
				say(res->why, sizeof(res->why), "xdp_lb: backend %s twice",
				    b->name);
				return -EINVAL;
			}
		}
		memset(e, 0, sizeof(*e));
		memcpy(&e->address_be, b->address.bytes, 4);
		if (b->has_mac) {
			memcpy(e->mac, b->mac, 6);
		} else {
			err = neighbour_mac(x->neighbour_ifname, b->address.bytes, e->mac);
			if (err) {
				say(res->why, sizeof(res->why), "xdp_lb: backend %s has no MAC "
				    "and none is in the neighbour table of %s", b->name,
				    x->neighbour_ifname);
				return err;
			}
		}
		e->in_use = 1;
		e->weight = b->weight;
		snprintf(e->name, sizeof(e->name), "%s", b->name);
	}
	return 0;
}

static bool same_target(const struct st_lb_backend *a, const struct st_lb_backend *b)
{
	return a->in_use && a->address_be == b->address_be && !memcmp(a->mac, b->mac, 6) &&
	       strncmp(a->name, b->name, ST_LB_NAME_BYTES) == 0;
}

/* Gives each wanted backend an index: its current one when the kernel's
 * table names an entry with the same name, address and MAC; else a free
 * one (never in use first, then retired ones).  Counts the changes. */
static int indices_assign(struct xdplb *x, const struct current *cur, struct wanted *w,
			  size_t n, struct st_actuator_result *res)
{
	bool taken[ST_LB_BACKENDS_MAX];
	size_t kept = 0;

	for (uint32_t i = 0; i < ST_LB_BACKENDS_MAX; i++)
		taken[i] = cur->slots[i] > 0;
	for (size_t k = 0; k < n; k++) {
		w[k].is_new = true;
		for (uint32_t i = 0; i < ST_LB_BACKENDS_MAX; i++) {
			if (cur->slots[i] && same_target(&x->backends[i], &w[k].entry)) {
				w[k].index = i;
				w[k].is_new = false;
				kept++;
				if (x->backends[i].weight != w[k].entry.weight)
					res->reweighted++;
				break;
			}
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < n; k++) {
			uint32_t i;

			if (!w[k].is_new || w[k].index != UINT32_MAX)
				continue;
			for (i = 0; i < ST_LB_BACKENDS_MAX; i++)
				if (!taken[i] && (pass == 1 || !x->backends[i].in_use))
					break;
			if (i == ST_LB_BACKENDS_MAX)
				continue;
			taken[i] = true;
			w[k].index = i;
		}
	}
	for (size_t k = 0; k < n; k++)
		if (w[k].index == UINT32_MAX)
			return -ENOSPC;
	res->added = (unsigned)(n - kept);
	for (uint32_t i = 0; i < ST_LB_BACKENDS_MAX; i++)
		if (cur->slots[i])
			res->removed++;
	res->removed -= (unsigned)kept;
	return 0;
}

/* Creates a table map like the template, filled with table[]. */
static int table_create(struct xdplb *x, const uint32_t *table)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts,
		    .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);  /* the template's */
	struct st_lb_slot *slots;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "st_lb_table", sizeof(uint32_t),
			    sizeof(struct st_lb_slot), x->settings.table_size, &opts);
	if (fd < 0)
		return -errno;
	slots = mmap(NULL, table_bytes(x), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (slots == MAP_FAILED) {
		int err = -errno;

		close(fd);
		return err;
	}
	for (uint32_t s = 0; s < x->settings.table_size; s++)
		slots[s] = (struct st_lb_slot){ .backend_index = table[s], .reserved = 0 };
	munmap(slots, table_bytes(x));
	return fd;
}

/* Builds the desired table, in st_lb_backends indices. */
static int table_build(struct xdplb *x, const struct st_actuator_backend *backends,
		       const struct wanted *w, size_t n, uint32_t *table)
{
	struct st_maglev_backend *mb = calloc(n, sizeof(*mb));
	int err;

	if (!mb)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		mb[k].name = backends[k].name;
		mb[k].weight = backends[k].weight;
	}
	err = st_maglev_build(mb, n, x->settings.table_size, table);
	free(mb);
	if (err)
		return err;
	for (uint32_t s = 0; s < x->settings.table_size; s++)
		table[s] = w[table[s]].index;
	return 0;
}

static bool unchanged(struct xdplb *x, const struct current *cur, const struct wanted *w,
		      size_t n)
{
	size_t installed = 0;

	if (!cur->table)
		return n == 0;
	for (uint32_t i = 0; i < ST_LB_BACKENDS_MAX; i++)
		installed += cur->slots[i] > 0;
	if (installed != n)
		return false;
	for (size_t k = 0; k < n; k++)
		if (w[k].is_new || x->backends[w[k].index].weight != w[k].entry.weight)
			return false;
	return true;
}

static void new_entries_clear(struct xdplb *x, const struct wanted *w, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (w[k].is_new)
			x->backends[w[k].index].in_use = 0;
}

/*
 * Puts table_fd (or nothing, for -1) at the key packets do not use.  The
 * kernel returns after an RCU grace period: no packet is then still on the
 * table that key held.
 */
static int table_install(struct xdplb *x, uint32_t key, int table_fd)
{
	uint64_t t0 = now_ns();
	int err;

	char path[PATH_MAX + 16], name[16];

	if (table_fd >= 0)
		err = bpf_map_update_elem(x->tables_fd, &key, &table_fd, BPF_ANY);
	else
		err = bpf_map_delete_elem(x->tables_fd, &key);
	x->last.install_ns = now_ns() - t0;
	if (err && errno == ENOENT && table_fd < 0)
		err = 0;
	else if (err)
		return -errno;
	/* kept (and pinned) to be read back without CAP_SYS_ADMIN */
	fd_close(&x->table_fds[key]);
	if (table_fd >= 0)
		x->table_fds[key] = fcntl(table_fd, F_DUPFD_CLOEXEC, 0);
	if (x->pin_dir[0]) {
		snprintf(name, sizeof(name), "table%u", key);
		pin_path(x, name, path, sizeof(path));
		unlink(path);
		if (table_fd >= 0)
			bpf_obj_pin(table_fd, path);  /* a failure: read by id */
	}
	return 0;
}

/* The swap: packets use st_lb_tables[key] from now on. */
static int table_flip(struct xdplb *x, uint32_t key, struct st_actuator_result *res)
{
	uint32_t zero = 0;
	uint64_t t0 = now_ns();
	int err = bpf_map_update_elem(x->active_fd, &zero, &key, BPF_ANY) ? -errno : 0;

	res->duration_ns = now_ns() - t0;
	x->last.swap_start_ns = t0;
	return err;
}

static int apply_table(struct xdplb *x, const struct st_actuator_backend *backends,
		       struct wanted *w, size_t n, const struct current *cur, bool dry_run,
		       uint32_t *table, struct st_actuator_result *res)
{
	uint32_t moved = 0, spare_key;
	int err, table_fd = -1, key = active_key(x);

	if (key < 0) {
		say(res->why, sizeof(res->why), "xdp_lb: cannot read %s: %s", ST_LB_MAP_ACTIVE,
		    strerror(-key));
		return key;
	}
	spare_key = (uint32_t)key ^ 1;

	if (n > 0) {
		err = table_build(x, backends, w, n, table);
		if (err) {
			say(res->why, sizeof(res->why), "xdp_lb: cannot build the table "
			    "(%zu backends, M %u: a prime >= %u per backend): %s", n,
			    x->settings.table_size, ST_MAGLEV_SIZE_PER_BACKEND, strerror(-err));
			return err;
		}
	}
	for (uint32_t s = 0; s < x->settings.table_size; s++)
		moved += !cur->table || n == 0 || cur->table[s].backend_index != table[s];
	if (dry_run) {
		say(res->why, sizeof(res->why), "dry run: +%u -%u ~%u backends, %u of %u "
		    "slots move", res->added, res->removed, res->reweighted, moved,
		    x->settings.table_size);
		return 0;
	}
	if (n > 0) {
		table_fd = table_create(x, table);
		if (table_fd < 0) {
			err = table_fd;
			goto out_clear_new;
		}
	}
	err = table_install(x, spare_key, table_fd);
	if (table_fd >= 0)
		close(table_fd);
	if (err)
		goto out_clear_new;
	/* After the install's grace period: no table in use names these. */
	for (size_t k = 0; k < n; k++)
		if (w[k].is_new)
			x->backends[w[k].index] = w[k].entry;
	err = table_flip(x, spare_key, res);
	if (err)
		goto out_clear_new;
	/* Weights are read back only, never by the program. */
	for (size_t k = 0; k < n; k++)
		x->backends[w[k].index].weight = w[k].entry.weight;
	res->changed = true;
	x->last.swap_ns = res->duration_ns;
	snprintf(res->why, sizeof(res->why), "+%u -%u ~%u backends, %u of %u slots moved",
		 res->added, res->removed, res->reweighted, moved, x->settings.table_size);
	return 0;

out_clear_new:
	new_entries_clear(x, w, n);
	res->rolled_back = true;
	say(res->why, sizeof(res->why), "xdp_lb: cannot install the new table: %s; the "
	    "old table stays", strerror(-err));
	return err;
}

static int xdplb_apply(struct st_actuator *a, const struct st_actuator_backend *backends,
		       size_t n, bool dry_run, struct st_actuator_result *res)
{
	struct xdplb *x = xdplb_of(a);
	uint64_t t0 = now_ns();
	struct current *cur = NULL;
	uint32_t *table = NULL;
	struct wanted *w = NULL;
	int err;

	memset(res, 0, sizeof(*res));
	if (n > ST_LB_BACKENDS_MAX || (n > 0 && !backends) ||
	    (n > 0 && st_maglev_check_size(x->settings.table_size, n))) {
		say(res->why, sizeof(res->why), "xdp_lb: %zu backends: at most %u, and M %u "
		    "must be >= %u per backend", n, ST_LB_BACKENDS_MAX,
		    x->settings.table_size, ST_MAGLEV_SIZE_PER_BACKEND);
		return -EINVAL;
	}
	cur = malloc(sizeof(*cur));
	w = calloc(n ? n : 1, sizeof(*w));
	table = calloc(x->settings.table_size, sizeof(*table));
	if (!cur || !w || !table) {
		err = -ENOMEM;
		say(res->why, sizeof(res->why), "xdp_lb: out of memory");
		goto out_free;
	}
	memset(cur, 0, sizeof(*cur));
	err = wanted_resolve(x, backends, n, w, res);
	if (err)
		goto out_free;
	err = current_load(x, cur);
	if (err) {
		say(res->why, sizeof(res->why), "xdp_lb: cannot read the installed table: %s",
		    strerror(-err));
		goto out_free;
	}
	for (size_t k = 0; k < n; k++)
		w[k].index = UINT32_MAX;
	err = indices_assign(x, cur, w, n, res);
	if (err) {
		say(res->why, sizeof(res->why), "xdp_lb: no free backend index");
		goto out_unmap;
	}
	if (unchanged(x, cur, w, n)) {
		res->added = res->removed = res->reweighted = 0;
		say(res->why, sizeof(res->why), "unchanged: the kernel holds this table");
		goto out_unmap;
	}
	err = apply_table(x, backends, w, n, cur, dry_run, table, res);
	if (!err && res->changed)
		x->last.total_ns = now_ns() - t0;
out_unmap:
	current_free(x, cur);
out_free:
	free(table);
	free(w);
	free(cur);
	return err;
}

const char *st_xdplb_attach_mode(const struct st_actuator *a)
{
	const struct xdplb *x = xdplb_of(a);

	if (!x->prog && !x->adopted)
		return "none";
	return x->attach_mode == XDP_MODE_NATIVE ? "native" : "skb";
}

int st_xdplb_prog_fd(const struct st_actuator *a)
{
	return xdplb_of(a)->prog_fd;
}

uint32_t st_xdplb_table_size(const struct st_actuator *a)
{
	return xdplb_of(a)->settings.table_size;
}

void st_xdplb_last_timing(const struct st_actuator *a, struct st_xdplb_timing *t)
{
	*t = xdplb_of(a)->last;
}

const struct st_actuator_ops st_xdplb_ops = {
	.name = "xdp_lb",
	.apply = xdplb_apply,
	.read = xdplb_read,
	.destroy = xdplb_destroy,
};
