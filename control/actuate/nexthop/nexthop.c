/*
 * The nexthop actuator over rtnetlink (nexthop.h says what it holds in the
 * kernel and in which order it changes it).
 *
 * Messages (include/uapi/linux/nexthop.h, rtnetlink.h):
 *   RTM_NEWNEXTHOP  struct nhmsg + NHA_ID, NHA_OIF, NHA_GATEWAY (an object)
 *                   or NHA_ID, NHA_GROUP (struct nexthop_grp[], weight - 1),
 *                   NHA_GROUP_TYPE (u16), NHA_RES_GROUP { BUCKETS u16,
 *                   IDLE_TIMER u32 clock_t, UNBALANCED_TIMER u32 clock_t }
 *   RTM_DELNEXTHOP  struct nhmsg + NHA_ID
 *   RTM_GETNEXTHOP  dump: every nexthop of the namespace
 *   RTM_NEWROUTE    struct rtmsg + RTA_TABLE, RTA_DST, RTA_NH_ID
 *   RTM_GETROUTE    get: the gateway's output device (RTA_OIF);
 *                   dump filtered by table (NETLINK_GET_STRICT_CHK)
 * Every request but a dump carries NLM_F_ACK; the socket asks for extended
 * acks (NETLINK_EXT_ACK) without the echoed request (NETLINK_CAP_ACK), and
 * the kernel's NLMSGERR_ATTR_MSG goes into the failure's reason.
 *
 * Layout: netlink plumbing; reading the kernel; the messages that change
 * it; apply (plan, change, undo); read; create/destroy.
 */
#include "control/actuate/nexthop/nexthop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#define NH_MAX ST_CONFIG_BACKENDS_MAX
#define NH_KERNEL_WEIGHT_MAX 256u          /* struct nexthop_grp: u8 weight - 1 */
#define NH_SEND_BYTES 32768                /* a group of NH_MAX members is 8 KiB */
#define NH_RECV_BYTES 65536                /* a dump's datagram fits */
#define NH_EXT_BYTES 160

/* A nexthop object as the kernel holds it (or as apply wants it). */
struct nh_obj {
	uint32_t id;
	int af;
	uint8_t gw[16];
	uint32_t oif;
};

/* The group group_id as the kernel holds it (or as apply wants it). */
struct nh_group {
	bool exists;
	bool is_group;                     /* the id may name a plain object */
	uint16_t type;                     /* NEXTHOP_GRP_TYPE_* */
	bool has_buckets, has_idle, has_unbalanced;
	uint32_t buckets;
	uint32_t idle_timer_ct;            /* clock_t (USER_HZ ticks) */
	uint32_t unbalanced_timer_ct;
	size_t n;
	struct nexthop_grp m[NH_MAX];      /* sorted by id when we made it */
};

enum undo_kind {
	UNDO_DELETE,       /* delete obj.id (an object or the group we created) */
	UNDO_PUT_OBJECT,   /* create or replace obj as it was */
	UNDO_PUT_GROUP,    /* replace the group with prev_group */
};

struct undo {
	enum undo_kind kind;
	struct nh_obj obj;
};

enum obj_action { OBJ_KEEP = 0, OBJ_CREATE, OBJ_REPLACE, OBJ_DELETE };

struct st_nexthop {
	struct st_actuator base;
	struct st_config_nexthop cfg;
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	uint64_t change_messages;
	long clk_tck;

	/* the call in flight */
	int call_err;
	char call_ext[NH_EXT_BYTES];
	bool parse_failed;

	/* the kernel as last read (objects indexed by id - group_id - 1) */
	struct nh_group group;
	bool obj_present[NH_MAX];
	struct nh_obj obj[NH_MAX];
	bool route_exists;
	uint32_t route_nh_id;
	uint32_t lookup_oif;               /* resolve_oif()'s answer */

	/* the plan */
	struct nh_group want_group;
	struct nh_group prev_group;
	bool want_present[NH_MAX];
	struct nh_obj want_obj[NH_MAX];
	uint32_t want_weight[NH_MAX];      /* the kernel's 1..256 */
	uint8_t action[NH_MAX];
	bool seen[NH_MAX];                 /* validate()'s duplicate check */
	size_t n_undo;
	struct undo undo[2 * NH_MAX + 1];

	char names[NH_MAX][ST_CONFIG_NAME_BYTES];   /* from the last apply */
	char send_buf[NH_SEND_BYTES];
	char recv_buf[NH_RECV_BYTES];
};

static struct st_nexthop *nh_of(struct st_actuator *a)
{
	return (struct st_nexthop *)a;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t addr_len(int af)
{
	return af == AF_INET ? 4 : af == AF_INET6 ? 16 : 0;
}

static const char *addr_text(int af, const uint8_t *bytes, char *buf, size_t len)
{
	if (!inet_ntop(af, bytes, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* ---- netlink plumbing ---------------------------------------------------- */

/* Copies an extended ack's NLMSGERR_ATTR_MSG, starting `offset` bytes into
 * the payload, into nh->call_ext. */
static void take_ext_ack(struct st_nexthop *nh, const struct nlmsghdr *nlh, size_t offset)
{
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) ||
	    offset > mnl_nlmsg_get_payload_len(nlh))
		return;
	const struct nlattr *attr;
	mnl_attr_for_each(attr, nlh, offset) {
		if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG ||
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			continue;
		snprintf(nh->call_ext, sizeof(nh->call_ext), "%s",
			 mnl_attr_get_str(attr));
	}
}

static int on_error(const struct nlmsghdr *nlh, void *data)
{
	struct st_nexthop *nh = data;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		nh->call_err = -EBADMSG;
		return MNL_CB_STOP;
	}
	if (err->error == 0)
		return MNL_CB_STOP;
	nh->call_err = err->error < 0 ? err->error : -err->error;
	size_t offset = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && err->msg.nlmsg_len >= sizeof(struct nlmsghdr))
		offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	take_ext_ack(nh, nlh, offset);
	return MNL_CB_STOP;
}

/* A dump's end carries the dump's status (an int) and may carry an ack. */
static int on_done(const struct nlmsghdr *nlh, void *data)
{
	struct st_nexthop *nh = data;

	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
		int status;
		memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof(status));
		if (status < 0) {
			nh->call_err = status;
			take_ext_ack(nh, nlh, sizeof(int));
		}
	}
	return MNL_CB_STOP;
}

static struct nlmsghdr *start_msg(struct st_nexthop *nh, uint16_t type, uint16_t flags)
{
	memset(nh->send_buf, 0, sizeof(struct nlmsghdr) + 64);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nh->send_buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nh->seq;
	return nlh;
}

/*
 * Sends nlh and reads replies until its ack or the dump's end, handing each
 * data message to cb (may be NULL).  Returns 0 or -errno: the kernel's
 * error (with its extended ack in nh->call_ext) or the socket's.
 */
static int talk(struct st_nexthop *nh, struct nlmsghdr *nlh, mnl_cb_t cb, bool change)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {0};
	ctl[NLMSG_ERROR] = on_error;
	ctl[NLMSG_DONE] = on_done;

	nh->call_err = 0;
	nh->call_ext[0] = '\0';
	nh->parse_failed = false;
	if (change)
		nh->change_messages++;
	if (mnl_socket_sendto(nh->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nh->nl, nh->recv_buf, sizeof(nh->recv_buf));
		if (len < 0)
			return -errno;
		int rc = mnl_cb_run2(nh->recv_buf, (size_t)len, nlh->nlmsg_seq, nh->portid,
				     cb, nh, ctl, NLMSG_MIN_TYPE);
		if (rc == MNL_CB_ERROR)
			return nh->call_err ? nh->call_err : -errno;
		if (rc == MNL_CB_STOP)
			break;
	}
	if (nh->call_err)
		return nh->call_err;
	return nh->parse_failed ? -EBADMSG : 0;
}

/* "what: strerror (kernel: extack)" into res->why. */
static void say_failure(struct st_nexthop *nh, char *why, size_t len, int rc,
			const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	int wrote;
	if (nh->call_ext[0])
		wrote = snprintf(why, len, "%s: %s (kernel: %s)", what, strerror(-rc), nh->call_ext);
	else
		wrote = snprintf(why, len, "%s: %s", what, strerror(-rc));
	if (wrote >= (int)len && len > 4)
		memcpy(why + len - 4, "...", 4);    /* a cut reason says so */
}

/* ---- reading the kernel ---------------------------------------------------- */

struct attrs {
	const struct nlattr *tb[NHA_MAX > RTA_MAX ? NHA_MAX + 1 : RTA_MAX + 1];
	int max;
};

static int keep_attr(const struct nlattr *attr, void *data)
{
	struct attrs *a = data;
	int type = mnl_attr_get_type(attr);
	if (type >= 0 && type <= a->max)
		a->tb[type] = attr;
	return MNL_CB_OK;
}

static bool get_u32(const struct nlattr *attr, uint32_t *out)
{
	if (!attr || mnl_attr_get_payload_len(attr) < sizeof(uint32_t))
		return false;
	*out = mnl_attr_get_u32(attr);
	return true;
}

static bool get_u16(const struct nlattr *attr, uint16_t *out)
{
	if (!attr || mnl_attr_get_payload_len(attr) < sizeof(uint16_t))
		return false;
	*out = mnl_attr_get_u16(attr);
	return true;
}

static void parse_res_group(struct nh_group *g, const struct nlattr *nest)
{
	struct attrs a = { .max = NHA_RES_GROUP_MAX };
	if (mnl_attr_parse_nested(nest, keep_attr, &a) < 0)
		return;
	uint16_t buckets;
	if (get_u16(a.tb[NHA_RES_GROUP_BUCKETS], &buckets)) {
		g->has_buckets = true;
		g->buckets = buckets;
	}
	g->has_idle = get_u32(a.tb[NHA_RES_GROUP_IDLE_TIMER], &g->idle_timer_ct);
	g->has_unbalanced = get_u32(a.tb[NHA_RES_GROUP_UNBALANCED_TIMER],
				    &g->unbalanced_timer_ct);
}

static int on_nexthop(const struct nlmsghdr *nlh, void *data)
{
	struct st_nexthop *nh = data;
	struct attrs a = { .max = NHA_MAX };

	if (nlh->nlmsg_type != RTM_NEWNEXTHOP)
		return MNL_CB_OK;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nhmsg)) ||
	    mnl_attr_parse(nlh, sizeof(struct nhmsg), keep_attr, &a) < 0) {
		nh->parse_failed = true;
		return MNL_CB_OK;
	}
	const struct nhmsg *m = mnl_nlmsg_get_payload(nlh);
	uint32_t id;
	if (!get_u32(a.tb[NHA_ID], &id))
		return MNL_CB_OK;

	if (id == nh->cfg.group_id) {
		struct nh_group *g = &nh->group;
		memset(g, 0, offsetof(struct nh_group, m));
		g->exists = true;
		if (!a.tb[NHA_GROUP])
			return MNL_CB_OK;
		size_t bytes = mnl_attr_get_payload_len(a.tb[NHA_GROUP]);
		if (bytes % sizeof(struct nexthop_grp) || bytes / sizeof(struct nexthop_grp) > NH_MAX) {
			nh->parse_failed = true;
			return MNL_CB_OK;
		}
		g->is_group = true;
		g->n = bytes / sizeof(struct nexthop_grp);
		memcpy(g->m, mnl_attr_get_payload(a.tb[NHA_GROUP]), bytes);
		get_u16(a.tb[NHA_GROUP_TYPE], &g->type);
		if (a.tb[NHA_RES_GROUP])
			parse_res_group(g, a.tb[NHA_RES_GROUP]);
		return MNL_CB_OK;
	}
	if (id <= nh->cfg.group_id || id - nh->cfg.group_id - 1 >= NH_MAX)
		return MNL_CB_OK;
	size_t off = id - nh->cfg.group_id - 1;
	struct nh_obj *o = &nh->obj[off];
	memset(o, 0, sizeof(*o));
	o->id = id;
	o->af = m->nh_family;
	get_u32(a.tb[NHA_OIF], &o->oif);
	if (a.tb[NHA_GATEWAY]) {
		size_t gw_len = mnl_attr_get_payload_len(a.tb[NHA_GATEWAY]);
		if (gw_len == 4 || gw_len == 16) {
			memcpy(o->gw, mnl_attr_get_payload(a.tb[NHA_GATEWAY]), gw_len);
			o->af = gw_len == 4 ? AF_INET : AF_INET6;
		}
	}
	nh->obj_present[off] = true;
	return MNL_CB_OK;
}

/* Every nexthop of the namespace: our group and our objects. */
static int read_nexthops(struct st_nexthop *nh)
{
	memset(&nh->group, 0, offsetof(struct nh_group, m));
	memset(nh->obj_present, 0, sizeof(nh->obj_present));
	struct nlmsghdr *nlh = start_msg(nh, RTM_GETNEXTHOP, NLM_F_DUMP);
	struct nhmsg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
	m->nh_family = AF_UNSPEC;
	return talk(nh, nlh, on_nexthop, false);
}

static int on_route(const struct nlmsghdr *nlh, void *data)
{
	struct st_nexthop *nh = data;
	struct attrs a = { .max = RTA_MAX };

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct rtmsg)) ||
	    mnl_attr_parse(nlh, sizeof(struct rtmsg), keep_attr, &a) < 0) {
		nh->parse_failed = true;
		return MNL_CB_OK;
	}
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	const struct st_config_addr *want = &nh->cfg.route;
	uint32_t table = rt->rtm_table;
	get_u32(a.tb[RTA_TABLE], &table);
	if (rt->rtm_family != want->af || rt->rtm_dst_len != nh->cfg.route_prefix_len ||
	    table != nh->cfg.table || (rt->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	if (nh->cfg.route_prefix_len > 0) {
		const struct nlattr *dst = a.tb[RTA_DST];
		if (!dst || mnl_attr_get_payload_len(dst) != addr_len(want->af) ||
		    memcmp(mnl_attr_get_payload(dst), want->bytes, addr_len(want->af)) != 0)
			return MNL_CB_OK;
	}
	nh->route_exists = true;
	nh->route_nh_id = 0;
	get_u32(a.tb[RTA_NH_ID], &nh->route_nh_id);
	return MNL_CB_OK;
}

/* The configured route, if table `table` has it. */
static int read_route(struct st_nexthop *nh)
{
	nh->route_exists = false;
	nh->route_nh_id = 0;
	struct nlmsghdr *nlh = start_msg(nh, RTM_GETROUTE, NLM_F_DUMP);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = (unsigned char)nh->cfg.route.af;
	rt->rtm_table = nh->cfg.table < 256 ? (unsigned char)nh->cfg.table : RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, RTA_TABLE, nh->cfg.table);
	int rc = talk(nh, nlh, on_route, false);
	return rc == -ENOENT ? 0 : rc;    /* IPv4: "FIB table does not exist" */
}

static int on_gateway_route(const struct nlmsghdr *nlh, void *data)
{
	struct st_nexthop *nh = data;
	struct attrs a = { .max = RTA_MAX };

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct rtmsg)) ||
	    mnl_attr_parse(nlh, sizeof(struct rtmsg), keep_attr, &a) < 0) {
		nh->parse_failed = true;
		return MNL_CB_OK;
	}
	get_u32(a.tb[RTA_OIF], &nh->lookup_oif);
	return MNL_CB_OK;
}

/* The output device the kernel's route lookup gives for gateway o->gw. */
static int resolve_oif(struct st_nexthop *nh, struct nh_obj *o)
{
	struct nlmsghdr *nlh = start_msg(nh, RTM_GETROUTE, NLM_F_ACK);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = (unsigned char)o->af;
	rt->rtm_dst_len = (unsigned char)(addr_len(o->af) * 8);
	mnl_attr_put(nlh, RTA_DST, addr_len(o->af), o->gw);
	nh->lookup_oif = 0;
	int rc = talk(nh, nlh, on_gateway_route, false);
	o->oif = nh->lookup_oif;
	if (rc == 0 && o->oif == 0)
		rc = -ENETUNREACH;
	return rc;
}

/* ---- the messages that change the kernel ---------------------------------- */

static int put_object(struct st_nexthop *nh, const struct nh_obj *o, bool exclusive)
{
	struct nlmsghdr *nlh = start_msg(nh, RTM_NEWNEXTHOP, NLM_F_ACK | NLM_F_CREATE |
					 (exclusive ? NLM_F_EXCL : NLM_F_REPLACE));
	struct nhmsg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
	m->nh_family = (unsigned char)o->af;
	mnl_attr_put_u32(nlh, NHA_ID, o->id);
	mnl_attr_put_u32(nlh, NHA_OIF, o->oif);
	mnl_attr_put(nlh, NHA_GATEWAY, addr_len(o->af), o->gw);
	return talk(nh, nlh, NULL, true);
}

static int delete_nexthop(struct st_nexthop *nh, uint32_t id)
{
	struct nlmsghdr *nlh = start_msg(nh, RTM_DELNEXTHOP, NLM_F_ACK);
	struct nhmsg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
	m->nh_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NHA_ID, id);
	return talk(nh, nlh, NULL, true);
}

static int put_group(struct st_nexthop *nh, const struct nh_group *g)
{
	struct nlmsghdr *nlh = start_msg(nh, RTM_NEWNEXTHOP,
					 NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
	struct nhmsg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
	m->nh_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NHA_ID, nh->cfg.group_id);
	mnl_attr_put(nlh, NHA_GROUP, g->n * sizeof(g->m[0]), g->m);
	mnl_attr_put_u16(nlh, NHA_GROUP_TYPE, g->type);
	if (g->type == NEXTHOP_GRP_TYPE_RES) {
		struct nlattr *nest = mnl_attr_nest_start(nlh, NHA_RES_GROUP);
		if (g->has_buckets)
			mnl_attr_put_u16(nlh, NHA_RES_GROUP_BUCKETS, (uint16_t)g->buckets);
		if (g->has_idle)
			mnl_attr_put_u32(nlh, NHA_RES_GROUP_IDLE_TIMER, g->idle_timer_ct);
		if (g->has_unbalanced)
			mnl_attr_put_u32(nlh, NHA_RES_GROUP_UNBALANCED_TIMER,
					 g->unbalanced_timer_ct);
		mnl_attr_nest_end(nlh, nest);
	}
	return talk(nh, nlh, NULL, true);
}

static int put_route(struct st_nexthop *nh)
{
	struct nlmsghdr *nlh = start_msg(nh, RTM_NEWROUTE,
					 NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = (unsigned char)nh->cfg.route.af;
	rt->rtm_dst_len = (unsigned char)nh->cfg.route_prefix_len;
	rt->rtm_table = nh->cfg.table < 256 ? (unsigned char)nh->cfg.table : RT_TABLE_UNSPEC;
	rt->rtm_protocol = RTPROT_STATIC;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, nh->cfg.table);
	if (nh->cfg.route_prefix_len > 0)
		mnl_attr_put(nlh, RTA_DST, addr_len(nh->cfg.route.af), nh->cfg.route.bytes);
	mnl_attr_put_u32(nlh, RTA_NH_ID, nh->cfg.group_id);
	return talk(nh, nlh, NULL, true);
}

/* ---- apply ------------------------------------------------------------------ */

uint32_t st_nexthop_kernel_weight(uint32_t weight, uint32_t largest)
{
	if (weight == 0)
		return 1;
	if (largest <= NH_KERNEL_WEIGHT_MAX || largest < weight)
		return weight > NH_KERNEL_WEIGHT_MAX ? NH_KERNEL_WEIGHT_MAX : weight;
	uint64_t scaled = ((uint64_t)weight * NH_KERNEL_WEIGHT_MAX + largest / 2) / largest;
	return scaled < 1 ? 1 : (uint32_t)scaled;
}

static int validate(struct st_nexthop *nh, const struct st_actuator_backend *b, size_t n,
		    char *why, size_t len)
{
	bool *seen = nh->seen;

	if (n == 0) {
		snprintf(why, len, "empty table: a nexthop group needs a backend");
		return -EINVAL;
	}
	if (n > NH_MAX) {
		snprintf(why, len, "%zu backends: more than %u", n, NH_MAX);
		return -EINVAL;
	}
	memset(seen, 0, sizeof(nh->seen));
	for (size_t i = 0; i < n; i++) {
		if (b[i].id >= NH_MAX) {
			snprintf(why, len, "backend %s: id %u out of range", b[i].name, b[i].id);
			return -EINVAL;
		}
		if (seen[b[i].id]) {
			snprintf(why, len, "backend %s: id %u twice", b[i].name, b[i].id);
			return -EINVAL;
		}
		seen[b[i].id] = true;
		if (b[i].weight < 1 || b[i].weight > ST_CONFIG_WEIGHT_MAX) {
			snprintf(why, len, "backend %s: weight %u not in 1..%u", b[i].name,
				 b[i].weight, ST_CONFIG_WEIGHT_MAX);
			return -EINVAL;
		}
		if (!addr_len(b[i].address.af)) {
			snprintf(why, len, "backend %s: no address", b[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

static bool groups_equal(const struct nh_group *have, const struct nh_group *want)
{
	if (!have->exists || !have->is_group || have->type != want->type || have->n != want->n)
		return false;
	if (want->type == NEXTHOP_GRP_TYPE_RES &&
	    (have->buckets != want->buckets || have->idle_timer_ct != want->idle_timer_ct))
		return false;
	for (size_t i = 0; i < want->n; i++) {
		bool found = false;
		for (size_t j = 0; j < have->n && !found; j++)
			found = have->m[j].id == want->m[i].id &&
				have->m[j].weight == want->m[i].weight;
		if (!found)
			return false;
	}
	return true;
}

struct plan {
	unsigned create, replace, remove_objects;
	bool group, route;
};

/* Reads the kernel and works out what to send.  0 or -errno (why set). */
static int make_plan(struct st_nexthop *nh, const struct st_actuator_backend *b, size_t n,
		     struct plan *p, struct st_actuator_result *res)
{
	char text[INET6_ADDRSTRLEN];
	int rc = validate(nh, b, n, res->why, sizeof(res->why));
	if (rc)
		return rc;
	rc = read_nexthops(nh);
	if (rc) {
		say_failure(nh, res->why, sizeof(res->why), rc, "reading nexthops");
		return rc;
	}
	rc = read_route(nh);
	if (rc) {
		say_failure(nh, res->why, sizeof(res->why), rc, "reading table %u", nh->cfg.table);
		return rc;
	}

	uint32_t largest = 1;
	for (size_t i = 0; i < n; i++)
		largest = b[i].weight > largest ? b[i].weight : largest;
	memset(nh->want_present, 0, sizeof(nh->want_present));
	uint32_t *want_weight = nh->want_weight;
	for (size_t i = 0; i < n; i++) {
		struct nh_obj *o = &nh->want_obj[b[i].id];
		memset(o, 0, sizeof(*o));
		o->id = nh->cfg.group_id + 1 + b[i].id;
		o->af = b[i].address.af;
		memcpy(o->gw, b[i].address.bytes, addr_len(o->af));
		nh->want_present[b[i].id] = true;
		want_weight[b[i].id] = st_nexthop_kernel_weight(b[i].weight, largest);
	}

	struct nh_group *g = &nh->want_group;
	memset(g, 0, offsetof(struct nh_group, m));
	g->exists = g->is_group = true;
	g->type = nh->cfg.resilient.buckets ? NEXTHOP_GRP_TYPE_RES : NEXTHOP_GRP_TYPE_MPATH;
	if (g->type == NEXTHOP_GRP_TYPE_RES) {
		g->has_buckets = g->has_idle = true;
		g->buckets = nh->cfg.resilient.buckets;
		g->idle_timer_ct = nh->cfg.resilient.idle_timer_s * (uint32_t)nh->clk_tck;
	}
	memset(p, 0, sizeof(*p));
	for (size_t off = 0; off < NH_MAX; off++) {
		nh->action[off] = OBJ_KEEP;
		if (nh->want_present[off]) {
			struct nexthop_grp *m = &g->m[g->n++];
			memset(m, 0, sizeof(*m));
			m->id = nh->want_obj[off].id;
			m->weight = (uint8_t)(want_weight[off] - 1);
			const struct nh_obj *have = &nh->obj[off];
			if (!nh->obj_present[off]) {
				nh->action[off] = OBJ_CREATE;
				p->create++;
			} else if (have->af != nh->want_obj[off].af ||
				   memcmp(have->gw, nh->want_obj[off].gw, 16) != 0) {
				nh->action[off] = OBJ_REPLACE;
				p->replace++;
			} else {
				nh->want_obj[off].oif = have->oif;
			}
		} else if (nh->obj_present[off]) {
			nh->action[off] = OBJ_DELETE;
			p->remove_objects++;
		}
	}
	for (size_t off = 0; off < NH_MAX; off++) {
		if (nh->action[off] != OBJ_CREATE && nh->action[off] != OBJ_REPLACE)
			continue;
		struct nh_obj *o = &nh->want_obj[off];
		rc = resolve_oif(nh, o);
		if (rc) {
			const char *name = "";
			for (size_t i = 0; i < n; i++)
				name = b[i].id == off ? b[i].name : name;
			say_failure(nh, res->why, sizeof(res->why), rc,
				    "backend %s: no route to gateway %s", name,
				    addr_text(o->af, o->gw, text, sizeof(text)));
			return rc;
		}
	}

	p->group = !groups_equal(&nh->group, g);
	p->route = !nh->route_exists || nh->route_nh_id != nh->cfg.group_id;

	/* added / removed / reweighted against the group the kernel holds */
	const struct nh_group *have = nh->group.is_group ? &nh->group : NULL;
	for (size_t i = 0; i < g->n; i++) {
		const struct nexthop_grp *had = NULL;
		for (size_t j = 0; have && j < have->n && !had; j++)
			had = have->m[j].id == g->m[i].id ? &have->m[j] : NULL;
		if (!had)
			res->added++;
		else if (had->weight != g->m[i].weight)
			res->reweighted++;
	}
	for (size_t j = 0; have && j < have->n; j++) {
		bool kept = false;
		for (size_t i = 0; i < g->n && !kept; i++)
			kept = g->m[i].id == have->m[j].id;
		res->removed += !kept;
	}
	return 0;
}

static void describe_plan(const struct st_nexthop *nh, const struct plan *p,
			  const struct st_actuator_result *res, const char *lead,
			  char *why, size_t len)
{
	if (!p->create && !p->replace && !p->remove_objects && !p->group && !p->route) {
		snprintf(why, len, "%s: the kernel holds the table (group %u)", lead,
			 nh->cfg.group_id);
		return;
	}
	snprintf(why, len,
		 "%s: objects create %u replace %u delete %u; group %u %s (added %u, "
		 "removed %u, reweighted %u); route %s",
		 lead, p->create, p->replace, p->remove_objects, nh->cfg.group_id,
		 p->group ? (nh->group.exists ? "replace" : "create") : "unchanged",
		 res->added, res->removed, res->reweighted,
		 p->route ? (nh->route_exists ? "replace" : "create") : "unchanged");
}

static void push_undo(struct st_nexthop *nh, enum undo_kind kind, const struct nh_obj *o)
{
	struct undo *u = &nh->undo[nh->n_undo++];
	u->kind = kind;
	u->obj = *o;
}

/* Undoes the steps done, newest first.  0 or the first error (why set). */
static int roll_back(struct st_nexthop *nh, char *why, size_t len)
{
	int first = 0;
	while (nh->n_undo > 0) {
		const struct undo *u = &nh->undo[--nh->n_undo];
		int rc;
		const char *what;
		switch (u->kind) {
		case UNDO_DELETE:
			rc = delete_nexthop(nh, u->obj.id);
			what = "deleting";
			break;
		case UNDO_PUT_OBJECT:
			rc = put_object(nh, &u->obj, false);
			what = "restoring object";
			break;
		default:
			rc = put_group(nh, &nh->prev_group);
			what = "restoring group";
			break;
		}
		if (rc && !first) {
			first = rc;
			say_failure(nh, why, len, rc, "%s %u", what, u->obj.id);
		}
	}
	return first;
}

/* Sends the plan; on a failure undoes it.  0 or -errno (why set). */
static int carry_out(struct st_nexthop *nh, const struct plan *p, struct st_actuator_result *res)
{
	char text[INET6_ADDRSTRLEN];
	char failure[ST_ACTUATOR_WHY_BYTES];
	int rc = 0;

	nh->n_undo = 0;
	for (size_t off = 0; off < NH_MAX && !rc; off++) {
		const struct nh_obj *o = &nh->want_obj[off];
		if (nh->action[off] == OBJ_CREATE) {
			rc = put_object(nh, o, true);
			if (rc == 0)
				push_undo(nh, UNDO_DELETE, o);
		} else if (nh->action[off] == OBJ_REPLACE) {
			rc = put_object(nh, o, false);
			if (rc == 0)
				push_undo(nh, UNDO_PUT_OBJECT, &nh->obj[off]);
		} else {
			continue;
		}
		if (rc)
			say_failure(nh, failure, sizeof(failure), rc, "nexthop %u via %s", o->id,
				    addr_text(o->af, o->gw, text, sizeof(text)));
	}
	if (!rc && p->group) {
		rc = put_group(nh, &nh->want_group);
		if (rc == 0) {
			struct nh_obj group = { .id = nh->cfg.group_id };
			if (nh->group.is_group) {
				nh->prev_group = nh->group;
				push_undo(nh, UNDO_PUT_GROUP, &group);
			} else if (!nh->group.exists) {
				push_undo(nh, UNDO_DELETE, &group);
			}
		} else {
			say_failure(nh, failure, sizeof(failure), rc, "group %u", nh->cfg.group_id);
		}
	}
	for (size_t off = 0; off < NH_MAX && !rc; off++) {
		if (nh->action[off] != OBJ_DELETE)
			continue;
		rc = delete_nexthop(nh, nh->obj[off].id);
		if (rc == 0)
			push_undo(nh, UNDO_PUT_OBJECT, &nh->obj[off]);
		else
			say_failure(nh, failure, sizeof(failure), rc, "deleting nexthop %u",
				    nh->obj[off].id);
	}
	if (!rc && p->route) {
		rc = put_route(nh);
		if (rc) {
			char dst[INET6_ADDRSTRLEN];
			say_failure(nh, failure, sizeof(failure), rc, "route %s/%u table %u",
				    addr_text(nh->cfg.route.af, nh->cfg.route.bytes, dst, sizeof(dst)),
				    nh->cfg.route_prefix_len, nh->cfg.table);
		}
	}
	if (rc == 0) {
		res->changed = true;
		return 0;
	}

	char undo_why[ST_ACTUATOR_WHY_BYTES];
	int undo_rc = roll_back(nh, undo_why, sizeof(undo_why));
	res->rolled_back = undo_rc == 0;
	res->changed = undo_rc != 0;
	if (undo_rc == 0)
		snprintf(res->why, sizeof(res->why), "%.*s; rolled back",
			 (int)sizeof(res->why) - 16, failure);
	else
		snprintf(res->why, sizeof(res->why), "%.*s; rollback failed: %.*s",
			 (int)sizeof(res->why) / 2, failure, (int)sizeof(res->why) / 2 - 24,
			 undo_why);
	return rc;
}

static int nexthop_apply(struct st_actuator *a, const struct st_actuator_backend *backends,
			 size_t n, bool dry_run, struct st_actuator_result *res)
{
	struct st_nexthop *nh = nh_of(a);
	struct plan p;

	memset(res, 0, sizeof(*res));
	int rc = make_plan(nh, backends, n, &p, res);
	if (rc)
		return rc;
	if (dry_run) {
		describe_plan(nh, &p, res, "dry run", res->why, sizeof(res->why));
		return 0;
	}
	if (!p.create && !p.replace && !p.remove_objects && !p.group && !p.route) {
		describe_plan(nh, &p, res, "unchanged", res->why, sizeof(res->why));
		return 0;
	}
	uint64_t start = now_ns();
	rc = carry_out(nh, &p, res);
	res->duration_ns = now_ns() - start;
	if (rc)
		return rc;
	describe_plan(nh, &p, res, "applied", res->why, sizeof(res->why));
	for (size_t off = 0; off < NH_MAX; off++)
		nh->names[off][0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(nh->names[backends[i].id], sizeof(nh->names[0]), "%s", backends[i].name);
	return 0;
}

/* ---- read ------------------------------------------------------------------- */

static int nexthop_read(struct st_actuator *a, struct st_actuator_backend *out, size_t max,
			size_t *n)
{
	struct st_nexthop *nh = nh_of(a);

	*n = 0;
	int rc = read_nexthops(nh);
	if (rc)
		return rc;
	if (!nh->group.is_group)
		return 0;
	for (size_t i = 0; i < nh->group.n; i++) {
		const struct nexthop_grp *m = &nh->group.m[i];
		if (*n < max) {
			struct st_actuator_backend *b = &out[*n];
			memset(b, 0, sizeof(*b));
			b->weight = (uint32_t)m->weight + 1;
			b->id = UINT32_MAX;
			if (m->id > nh->cfg.group_id && m->id - nh->cfg.group_id - 1 < NH_MAX) {
				size_t off = m->id - nh->cfg.group_id - 1;
				b->id = (uint32_t)off;
				snprintf(b->name, sizeof(b->name), "%s", nh->names[off]);
				if (nh->obj_present[off]) {
					b->address.af = nh->obj[off].af;
					memcpy(b->address.bytes, nh->obj[off].gw, 16);
				}
			}
		}
		(*n)++;
	}
	return 0;
}

int st_nexthop_read_state(struct st_actuator *a, struct st_nexthop_state *out)
{
	struct st_nexthop *nh = nh_of(a);

	memset(out, 0, sizeof(*out));
	int rc = read_nexthops(nh);
	if (rc)
		return rc;
	rc = read_route(nh);
	if (rc)
		return rc;
	const struct nh_group *g = &nh->group;
	out->group_exists = g->is_group;
	out->resilient = g->is_group && g->type == NEXTHOP_GRP_TYPE_RES;
	out->buckets = g->buckets;
	out->idle_timer_s = g->idle_timer_ct / (uint32_t)nh->clk_tck;
	out->unbalanced_timer_s = g->unbalanced_timer_ct / (uint32_t)nh->clk_tck;
	out->members = g->is_group ? g->n : 0;
	out->route_exists = nh->route_exists;
	out->route_nh_id = nh->route_nh_id;
	return 0;
}

uint64_t st_nexthop_change_messages(const struct st_actuator *a)
{
	return ((const struct st_nexthop *)a)->change_messages;
}

/* ---- create / destroy -------------------------------------------------------- */

static void nexthop_destroy(struct st_actuator *a)
{
	if (!a)
		return;
	struct st_nexthop *nh = nh_of(a);
	mnl_socket_close(nh->nl);
	free(nh);
}

const struct st_actuator_ops st_nexthop_ops = {
	.name = "nexthop",
	.apply = nexthop_apply,
	.read = nexthop_read,
	.destroy = nexthop_destroy,
};

struct st_actuator *st_nexthop_create(const struct st_config_nexthop *cfg)
{
	if (!cfg || cfg->group_id == 0 || cfg->group_id > UINT32_MAX - NH_MAX - 1 ||
	    !addr_len(cfg->route.af) || cfg->route_prefix_len > addr_len(cfg->route.af) * 8 ||
	    cfg->resilient.buckets > UINT16_MAX || cfg->table == 0 ||
	    cfg->resilient.idle_timer_s > 3600) {
		errno = EINVAL;
		return NULL;
	}
	struct st_nexthop *nh = calloc(1, sizeof(*nh));
	if (!nh)
		return NULL;
	nh->base.ops = &st_nexthop_ops;
	nh->cfg = *cfg;
	nh->clk_tck = sysconf(_SC_CLK_TCK);
	if (nh->clk_tck <= 0)
		nh->clk_tck = 100;

	int saved_errno, one = 1;
	nh->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nh->nl)
		goto free_nh;
	if (mnl_socket_setsockopt(nh->nl, NETLINK_EXT_ACK, &one, sizeof(one)) < 0 ||
	    mnl_socket_setsockopt(nh->nl, NETLINK_CAP_ACK, &one, sizeof(one)) < 0 ||
	    mnl_socket_setsockopt(nh->nl, NETLINK_GET_STRICT_CHK, &one, sizeof(one)) < 0 ||
	    mnl_socket_bind(nh->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto close_socket;
	nh->portid = mnl_socket_get_portid(nh->nl);
	nh->seq = (uint32_t)time(NULL);
	return &nh->base;

close_socket:
	saved_errno = errno;
	mnl_socket_close(nh->nl);
	errno = saved_errno;
free_nh:
	saved_errno = errno;
	free(nh);
	errno = saved_errno;
	return NULL;
}
