/* ct.c - conntrack over netlink (libmnl): message parsing, dumps in bounded batches, events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ct.h"

#define CT_RCVBUF_MAX (128u << 20)
#define CT_READ_BUF (256u << 10)

struct ct_engine {
	struct mnl_socket *ev;
	struct mnl_socket *dump;
	ct_cb cb;
	void *ctx;
	bool dumping;
	bool overran;
	bool new_on;		/* subscribed to NEW events */
	__u32 dump_seq;
	struct ct_stats st;
	char *buf;
	/* Bytes of a dump batch not yet handed to the callback (budget ran out). */
	size_t pend_off;
	size_t pend_len;
};

/* ---- parsing ---------------------------------------------------------- */

/* Iterate the attributes nested in a (validated) attribute. */
#define for_each_nested(a, nest)                                                              \
	for ((a) = mnl_attr_get_payload(nest);                                                \
	     mnl_attr_ok((a), (int)((char *)mnl_attr_get_payload(nest) +                     \
				   mnl_attr_get_payload_len(nest) - (char *)(a)));           \
	     (a) = mnl_attr_next(a))

/*
 * Iterate the attributes of a (checked) nfnetlink message, to nlmsg_len exactly, not to its
 * aligned end as mnl_attr_for_each does: a message whose length is not a multiple of 4
 * must not let the last attribute reach past the buffer.
 */
#define for_each_msg_attr(a, nlh)                                                             \
	for ((a) = (const struct nlattr *)((const char *)mnl_nlmsg_get_payload(nlh) +         \
					   MNL_ALIGN(sizeof(struct nfgenmsg)));               \
	     mnl_attr_ok((a), (int)((const char *)(nlh) + (nlh)->nlmsg_len - (const char *)(a))); \
	     (a) = mnl_attr_next(a))

/*
 * A ctnetlink message of this type that fits in len with its nfgenmsg: 0, -EINVAL when it
 * does not fit, -ENOENT for another subsystem or type.
 */
static int msg_check(const struct nlmsghdr *nlh, size_t len, unsigned int type)
{
	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
		return -EINVAL;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != type)
		return -ENOENT;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)))
		return -EINVAL;
	return 0;
}

static int attr_len_ok(const struct nlattr *a, size_t want)
{
	return mnl_attr_get_payload_len(a) >= want;
}

static int parse_ip(const struct nlattr *nest, struct flow_tuple *t)
{
	const struct nlattr *a;

	for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case CTA_IP_V4_SRC:
		case CTA_IP_V4_DST:
			if (!attr_len_ok(a, 4))
				return -EINVAL;
			memcpy(mnl_attr_get_type(a) == CTA_IP_V4_SRC ? t->src : t->dst,
			       mnl_attr_get_payload(a), 4);
			t->family = AF_INET;
			break;
		case CTA_IP_V6_SRC:
		case CTA_IP_V6_DST:
			if (!attr_len_ok(a, 16))
				return -EINVAL;
			memcpy(mnl_attr_get_type(a) == CTA_IP_V6_SRC ? t->src : t->dst,
			       mnl_attr_get_payload(a), 16);
			t->family = AF_INET6;
			break;
		}
	}
	return 0;
}

static __u16 get_be16(const struct nlattr *a)
{
	__u16 v;

	memcpy(&v, mnl_attr_get_payload(a), 2);
	return ntohs(v);
}

static __u32 get_be32(const struct nlattr *a)
{
	__u32 v;

	memcpy(&v, mnl_attr_get_payload(a), 4);
	return ntohl(v);
}

static __u64 get_be64(const struct nlattr *a)
{
	__u64 v;

	memcpy(&v, mnl_attr_get_payload(a), 8);
	return be64toh(v);
}

static int parse_proto(const struct nlattr *nest, struct flow_tuple *t)
{
	const struct nlattr *a;
	__u8 type = 0, code = 0;
	bool icmp = false;

	for_each_nested(a, nest) {
		unsigned int ty = mnl_attr_get_type(a);

		switch (ty) {
		case CTA_PROTO_NUM:
			if (!attr_len_ok(a, 1))
				return -EINVAL;
			t->proto = mnl_attr_get_u8(a);
			break;
		case CTA_PROTO_SRC_PORT:
		case CTA_PROTO_DST_PORT:
		case CTA_PROTO_ICMP_ID:
		case CTA_PROTO_ICMPV6_ID:
			if (!attr_len_ok(a, 2))
				return -EINVAL;
			if (ty == CTA_PROTO_DST_PORT)
				t->dport = get_be16(a);
			else
				t->sport = get_be16(a);
			break;
		case CTA_PROTO_ICMP_TYPE:
		case CTA_PROTO_ICMPV6_TYPE:
			if (!attr_len_ok(a, 1))
				return -EINVAL;
			type = mnl_attr_get_u8(a);
			icmp = true;
			break;
		case CTA_PROTO_ICMP_CODE:
		case CTA_PROTO_ICMPV6_CODE:
			if (!attr_len_ok(a, 1))
				return -EINVAL;
			code = mnl_attr_get_u8(a);
			icmp = true;
			break;
		}
	}
	if (icmp)
		t->dport = (__u16)(type << 8 | code);
	return 0;
}

static int parse_tuple(const struct nlattr *nest, struct flow_tuple *t, struct ct_msg *m)
{
	const struct nlattr *a;
	int err;

	for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case CTA_TUPLE_IP:
			err = parse_ip(a, t);
			if (err)
				return err;
			break;
		case CTA_TUPLE_PROTO:
			err = parse_proto(a, t);
			if (err)
				return err;
			break;
		case CTA_TUPLE_ZONE:
			if (!attr_len_ok(a, 2))
				return -EINVAL;
			m->f.zone = get_be16(a);
			m->have |= CT_HAVE_ZONE;
			break;
		}
	}
	return 0;
}

static int parse_protoinfo(const struct nlattr *nest, struct ct_msg *m)
{
	const struct nlattr *a, *b;

	for_each_nested(a, nest) {
		unsigned int want;

		switch (mnl_attr_get_type(a)) {
		case CTA_PROTOINFO_TCP:
			want = CTA_PROTOINFO_TCP_STATE;
			break;
		case CTA_PROTOINFO_DCCP:
			want = CTA_PROTOINFO_DCCP_STATE;
			break;
		case CTA_PROTOINFO_SCTP:
			want = CTA_PROTOINFO_SCTP_STATE;
			break;
		default:
			continue;
		}
		for_each_nested(b, a) {
			if (mnl_attr_get_type(b) == want && attr_len_ok(b, 1)) {
				m->f.state = mnl_attr_get_u8(b);
				m->have |= CT_HAVE_STATE;
			}
		}
	}
	return 0;
}

static int parse_counters(const struct nlattr *nest, __u64 *pkts, __u64 *bytes)
{
	const struct nlattr *a;

	for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case CTA_COUNTERS_PACKETS:
			if (!attr_len_ok(a, 8))
				return -EINVAL;
			*pkts = get_be64(a);
			break;
		case CTA_COUNTERS_BYTES:
			if (!attr_len_ok(a, 8))
				return -EINVAL;
			*bytes = get_be64(a);
			break;
		case CTA_COUNTERS32_PACKETS:
			if (!attr_len_ok(a, 4))
				return -EINVAL;
			*pkts = get_be32(a);
			break;
		case CTA_COUNTERS32_BYTES:
			if (!attr_len_ok(a, 4))
				return -EINVAL;
			*bytes = get_be32(a);
			break;
		}
	}
	return 0;
}

static int parse_timestamp(const struct nlattr *nest, struct ct_msg *m)
{
	const struct nlattr *a;

	for_each_nested(a, nest) {
		if (!attr_len_ok(a, 8))
			continue;
		if (mnl_attr_get_type(a) == CTA_TIMESTAMP_START) {
			m->f.start_ns = get_be64(a);
			m->have |= CT_HAVE_TSTART;
		} else if (mnl_attr_get_type(a) == CTA_TIMESTAMP_STOP) {
			m->stop_ns = get_be64(a);
			m->have |= CT_HAVE_TSTOP;
		}
	}
	return 0;
}

int ct_parse(const struct nlmsghdr *nlh, size_t len, struct ct_msg *out)
{
	const struct nlattr *a;
	const struct nfgenmsg *nfg;
	unsigned int type;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
		return -EINVAL;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK)
		return -ENOENT;
	type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (type != IPCTNL_MSG_CT_NEW && type != IPCTNL_MSG_CT_DELETE)
		return -ENOENT;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nfg)))
		return -EINVAL;
	nfg = mnl_nlmsg_get_payload(nlh);

	if (type == IPCTNL_MSG_CT_DELETE)
		out->type = CT_MSG_DESTROY;
	else if (nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL))
		out->type = CT_MSG_NEW;
	else
		out->type = CT_MSG_UPDATE;
	out->f.orig.family = nfg->nfgen_family;
	out->f.owner.uid = (__u32)-1;

	for_each_msg_attr(a, nlh) {
		switch (mnl_attr_get_type(a)) {
		case CTA_TUPLE_ORIG:
			err = parse_tuple(a, &out->f.orig, out);
			break;
		case CTA_TUPLE_REPLY:
			err = parse_tuple(a, &out->f.reply, out);
			out->have |= CT_HAVE_REPLY;
			break;
		case CTA_STATUS:
			if (!attr_len_ok(a, 4))
				return -EINVAL;
			out->f.status = get_be32(a);
			out->have |= CT_HAVE_STATUS;
			break;
		case CTA_PROTOINFO:
			err = parse_protoinfo(a, out);
			break;
		case CTA_TIMEOUT:
			if (!attr_len_ok(a, 4))
				return -EINVAL;
			out->timeout = get_be32(a);
			out->have |= CT_HAVE_TIMEOUT;
			break;
		case CTA_MARK:
			if (!attr_len_ok(a, 4))
				return -EINVAL;
			out->f.mark = get_be32(a);
			out->have |= CT_HAVE_MARK;
			break;
		case CTA_ID:
			if (!attr_len_ok(a, 4))
				return -EINVAL;
			out->f.id = get_be32(a);
			out->have |= CT_HAVE_ID;
			break;
		case CTA_ZONE:
			if (!attr_len_ok(a, 2))
				return -EINVAL;
			out->f.zone = get_be16(a);
			out->have |= CT_HAVE_ZONE;
			break;
		case CTA_COUNTERS_ORIG:
			err = parse_counters(a, &out->f.orig_pkts, &out->f.orig_bytes);
			out->have |= CT_HAVE_COUNTERS;
			break;
		case CTA_COUNTERS_REPLY:
			err = parse_counters(a, &out->f.reply_pkts, &out->f.reply_bytes);
			out->have |= CT_HAVE_COUNTERS;
			break;
		case CTA_TIMESTAMP:
			err = parse_timestamp(a, out);
			break;
		}
		if (err)
			return err;
	}
	if (!(out->have & CT_HAVE_ID))
		return -EINVAL;
	if (out->f.orig.family != AF_INET && out->f.orig.family != AF_INET6)
		return -EINVAL;
	/* The reply tuple shares family and protocol with the original one. */
	out->f.reply.family = out->f.orig.family;
	if (!out->f.reply.proto)
		out->f.reply.proto = out->f.orig.proto;
	return 0;
}

/* ---- sockets ---------------------------------------------------------- */

static void set_rcvbuf(struct mnl_socket *nl, unsigned int bytes)
{
	int fd = mnl_socket_get_fd(nl);
	int v = (int)bytes;

	/* FORCE ignores rmem_max (root/CAP_NET_ADMIN); fall back to the capped one. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

static unsigned int get_rcvbuf(struct mnl_socket *nl)
{
	int v = 0;
	socklen_t l = sizeof(v);

	getsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &v, &l);
	return (unsigned int)v;
}

struct ct_engine *ct_open(ct_cb cb, void *ctx, unsigned int rcvbuf, bool updates, char *errmsg,
			  size_t len)
{
	/*
	 * The kernel builds an event only for groups somebody listens to: leaving
	 * out UPDATE (state changes, several per TCP connection) saves work on
	 * every connection when the caller's dumps refresh states anyway.
	 */
	unsigned int groups = NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY |
			      (updates ? NF_NETLINK_CONNTRACK_UPDATE : 0);
	struct ct_engine *ce = calloc(1, sizeof(*ce));
	const char *what = "out of memory";

	if (!ce)
		goto fail;
	ce->cb = cb;
	ce->ctx = ctx;
	ce->buf = malloc(CT_READ_BUF);
	if (!ce->buf)
		goto fail;

	what = "cannot open a netfilter netlink socket";
	ce->ev = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ce->dump = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!ce->ev || !ce->dump)
		goto fail;
	what = "cannot subscribe to conntrack events";
	if (mnl_socket_bind(ce->ev, groups, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	if (mnl_socket_bind(ce->dump, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	ce->new_on = true;
	set_rcvbuf(ce->ev, rcvbuf);
	set_rcvbuf(ce->dump, 4u << 20);
	ce->st.rcvbuf = get_rcvbuf(ce->ev);
	return ce;
fail:
	if (errmsg)
		snprintf(errmsg, len, "%s: %s", what, strerror(errno ? errno : ENOMEM));
	ct_close(ce);
	return NULL;
}

void ct_close(struct ct_engine *ce)
{
	if (!ce)
		return;
	if (ce->ev)
		mnl_socket_close(ce->ev);
	if (ce->dump)
		mnl_socket_close(ce->dump);
	free(ce->buf);
	free(ce);
}

int ct_events_new(struct ct_engine *ce, bool on)
{
	int group = NFNLGRP_CONNTRACK_NEW;

	if (on == ce->new_on)
		return 0;
	if (setsockopt(mnl_socket_get_fd(ce->ev), SOL_NETLINK,
		       on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, &group,
		       sizeof(group)) < 0)
		return -errno;
	ce->new_on = on;
	return 0;
}

bool ct_events_new_on(const struct ct_engine *ce)
{
	return ce->new_on;
}

int ct_event_fd(const struct ct_engine *ce)
{
	return mnl_socket_get_fd(ce->ev);
}

int ct_dump_fd(const struct ct_engine *ce)
{
	return mnl_socket_get_fd(ce->dump);
}

const struct ct_stats *ct_stats(const struct ct_engine *ce)
{
	return &ce->st;
}

bool ct_events_overran(struct ct_engine *ce)
{
	bool o = ce->overran;

	ce->overran = false;
	return o;
}

/*
 * A whole message at nlh within left bytes? Not mnl_nlmsg_ok(): it compares (int)nlmsg_len, so
 * a length of 2 GiB or more passes as negative and mnl_nlmsg_next() jumps that far (or, for
 * 0xfffffffd and up, aligns to 0 and stays put).
 */
static bool nlmsg_fits(const struct nlmsghdr *nlh, size_t left)
{
	return left >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= left;
}

static void deliver(struct ct_engine *ce, const struct nlmsghdr *nlh, size_t len, bool dump)
{
	struct ct_msg m;
	int err = ct_parse(nlh, len, &m);

	if (err == -ENOENT)
		return;
	if (err) {
		ce->st.parse_errors++;
		return;
	}
	if (dump) {
		m.type = CT_MSG_DUMP;
		ce->st.dump_entries++;
	} else {
		ce->st.events++;
	}
	ce->cb(ce->ctx, &m);
}

int ct_events_read(struct ct_engine *ce, int budget)
{
	int done = 0;

	while (done < budget) {
		struct sockaddr_nl from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(ct_event_fd(ce), ce->buf, CT_READ_BUF, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);
		const struct nlmsghdr *nlh;
		size_t off;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				/* Events were dropped: grow the buffer and let the caller re-dump. */
				ce->st.overruns++;
				ce->overran = true;
				if (ce->st.rcvbuf < CT_RCVBUF_MAX) {
					set_rcvbuf(ce->ev, ce->st.rcvbuf * 2);
					ce->st.rcvbuf = get_rcvbuf(ce->ev);
				}
				continue;
			}
			return -errno;
		}
		/* Only the kernel speaks conntrack: a process may send to our port id too. */
		if (flen < sizeof(from) || from.nl_pid != 0) {
			ce->st.parse_errors++;
			continue;
		}
		for (off = 0; off < (size_t)n; off += NLMSG_ALIGN(nlh->nlmsg_len)) {
			nlh = (const struct nlmsghdr *)(ce->buf + off);
			if (!nlmsg_fits(nlh, (size_t)n - off))
				break;
			deliver(ce, nlh, nlh->nlmsg_len, false);
			done++;
		}
	}
	return done;
}

int ct_dump_start(struct ct_engine *ce)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	if (ce->dumping)
		return -EBUSY;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++ce->dump_seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (mnl_socket_sendto(ce->dump, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	ce->dumping = true;
	ce->pend_len = 0;
	ce->pend_off = 0;
	return 0;
}

bool ct_dump_running(const struct ct_engine *ce)
{
	return ce->dumping;
}

/*
 * Walk buffered dump messages from pend_off. Returns 1 at NLMSG_DONE,
 * -errno on an error message, 0 when the buffer is used up or the budget is.
 */
static int dump_walk(struct ct_engine *ce, int *budget)
{
	while (ce->pend_off < ce->pend_len && *budget > 0) {
		const struct nlmsghdr *nlh = (void *)(ce->buf + ce->pend_off);

		if (!nlmsg_fits(nlh, ce->pend_len - ce->pend_off)) {
			ce->pend_len = 0;
			ce->st.parse_errors++;
			return 0;
		}
		ce->pend_off += NLMSG_ALIGN(nlh->nlmsg_len);
		if (nlh->nlmsg_seq != ce->dump_seq)
			continue;
		if (nlh->nlmsg_type == NLMSG_DONE) {
			ce->pend_len = 0;
			return 1;
		}
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			ce->pend_len = 0;
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return -EINVAL;
			/* a negative errno, or 0 for success; anything else is malformed */
			if (e->error > 0 || e->error < -4095)
				return -EINVAL;
			return e->error ? e->error : 1;
		}
		deliver(ce, nlh, nlh->nlmsg_len, true);
		(*budget)--;
	}
	if (ce->pend_off >= ce->pend_len)
		ce->pend_len = 0;
	return 0;
}

int ct_dump_step(struct ct_engine *ce, int budget)
{
	int ret;

	if (!ce->dumping)
		return 1;
	for (;;) {
		ssize_t n;

		ret = dump_walk(ce, &budget);
		if (ret)
			break;
		if (budget <= 0 || ce->pend_len)
			return 0;
		{
			struct sockaddr_nl from;
			socklen_t flen = sizeof(from);

			n = recvfrom(ct_dump_fd(ce), ce->buf, CT_READ_BUF, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);
			if (n > 0 && (flen < sizeof(from) || from.nl_pid != 0)) {
				ce->st.parse_errors++;	/* not from the kernel: ignore */
				continue;
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			ret = -errno;
			break;
		}
		if (n == 0)
			return 0;
		ce->pend_off = 0;
		ce->pend_len = (size_t)n;
	}
	ce->dumping = false;
	if (ret == 1)
		ce->st.dumps++;
	return ret;
}

/* ---- per-CPU statistics (IPCTNL_MSG_CT_GET_STATS_CPU) ---- */

int ct_cpu_stat_parse(const struct nlmsghdr *nlh, size_t len, unsigned int *cpu,
		      struct ct_cpu_stat *st)
{
	const struct nfgenmsg *nfg;
	const struct nlattr *a;
	int err;

	memset(st, 0, sizeof(*st));
	err = msg_check(nlh, len, IPCTNL_MSG_CT_GET_STATS_CPU);
	if (err)
		return err;
	nfg = mnl_nlmsg_get_payload(nlh);
	*cpu = ntohs(nfg->res_id);
	for_each_msg_attr(a, nlh) {
		__u32 *dst;

		switch (mnl_attr_get_type(a)) {
		case CTA_STATS_DROP:
			dst = &st->drop;
			break;
		case CTA_STATS_EARLY_DROP:
			dst = &st->early_drop;
			break;
		case CTA_STATS_INVALID:
			dst = &st->invalid;
			break;
		case CTA_STATS_INSERT_FAILED:
			dst = &st->insert_failed;
			break;
		default:
			continue;
		}
		if (!attr_len_ok(a, 4))
			return -EINVAL;
		*dst = get_be32(a);
	}
	st->seen = 1;
	return 0;
}

void ct_cpu_delta(const struct ct_cpu_stat *prev, unsigned int nprev,
		  const struct ct_cpu_stat *cur, unsigned int ncur, unsigned long long *dropped,
		  unsigned long long *evicted)
{
	*dropped = *evicted = 0;
	for (unsigned int i = 0; i < ncur && i < nprev; i++) {
		const struct ct_cpu_stat *p = &prev[i], *c = &cur[i];
		/* the kernel's counters are 32 bits wide and wrap */
		__u32 dd = c->drop - p->drop, de = c->early_drop - p->early_drop;
		__u32 clash = c->insert_failed - p->insert_failed;

		if (!p->seen || !c->seen)
			continue;	/* a CPU read for the first time: its baseline */
		/* an unresolved clash of two new entries counts as insert_failed too */
		if (dd > clash)
			*dropped += dd - clash;
		*evicted += de;
	}
}

struct ct_stat_reader {
	struct mnl_socket *nl;
	__u32 seq;
	char *buf;
	struct ct_cpu_stat *prev, *cur;
	unsigned int nprev, ncur, cap;
	bool have_prev;
	bool unfinished;	/* a request's answers were not all read */
};

struct ct_stat_reader *ct_stat_open(void)
{
	struct ct_stat_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	/* non-blocking: the kernel queues every answer before send or receive returns */
	r->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!r->buf || !r->nl || mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ct_stat_close(r);
		return NULL;
	}
	return r;
}

void ct_stat_close(struct ct_stat_reader *r)
{
	if (!r)
		return;
	if (r->nl)
		mnl_socket_close(r->nl);
	free(r->buf);
	free(r->prev);
	free(r->cur);
	free(r);
}

/* Room for CPU i in both arrays (at most 1 << 16 CPUs). */
static int cpu_room(struct ct_stat_reader *r, unsigned int i)
{
	unsigned int cap = r->cap ? r->cap : 64;
	struct ct_cpu_stat *a, *b;

	if (i < r->cap)
		return 0;
	if (i >= (1u << 16))
		return -E2BIG;
	while (cap <= i)
		cap *= 2;
	a = realloc(r->prev, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	r->prev = a;
	b = realloc(r->cur, cap * sizeof(*b));
	if (!b)
		return -ENOMEM;
	r->cur = b;
	memset(a + r->cap, 0, (cap - r->cap) * sizeof(*a));
	memset(b + r->cap, 0, (cap - r->cap) * sizeof(*b));
	r->cap = cap;
	return 0;
}

typedef int (*stat_msg_cb)(void *ctx, const struct nlmsghdr *nlh, size_t len);

/*
 * One request of type (a dump, or a get answered with an ack) and its answers, each handed
 * to cb. Only the kernel's answers to this request count. Returns 0 or -errno.
 */
static int stat_ask(struct ct_stat_reader *r, __u16 type, bool dump, stat_msg_cb cb,
		    void *ctx)
{
	unsigned int portid = mnl_socket_get_portid(r->nl);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	/* what an abandoned request left queued (a dump cut short): the kernel refuses a
	 * second dump on the socket while one runs */
	for (int i = 0; r->unfinished && i < 64; i++)
		if (recv(mnl_socket_get_fd(r->nl), r->buf, MNL_SOCKET_BUFFER_SIZE, 0) < 0)
			break;
	nlh = mnl_nlmsg_put_header(r->buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
	nlh->nlmsg_seq = ++r->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	r->unfinished = true;
	for (;;) {
		struct sockaddr_nl from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(mnl_socket_get_fd(r->nl), r->buf, MNL_SOCKET_BUFFER_SIZE, 0,
				     (struct sockaddr *)&from, &flen);

		if (n < 0)
			return -errno;
		/* only the kernel answers: a process may send to our port id too */
		if (flen < sizeof(from) || from.nl_pid != 0)
			continue;
		for (size_t off = 0; off < (size_t)n; off += NLMSG_ALIGN(nlh->nlmsg_len)) {
			int err;

			nlh = (struct nlmsghdr *)(r->buf + off);
			if (!nlmsg_fits(nlh, (size_t)n - off))
				break;
			if (nlh->nlmsg_seq != r->seq || nlh->nlmsg_pid != portid)
				continue;	/* an answer to an earlier request */
			if (nlh->nlmsg_type == NLMSG_DONE) {
				r->unfinished = false;
				return 0;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)) || e->error > 0 ||
				    e->error < -4095)
					return -EINVAL;
				r->unfinished = false;
				return e->error;	/* 0: the ack that ends a get */
			}
			err = cb(ctx, nlh, (size_t)n - off);
			if (err)
				return err;
		}
	}
}

static int on_cpu_stat(void *ctx, const struct nlmsghdr *nlh, size_t len)
{
	struct ct_stat_reader *r = ctx;
	struct ct_cpu_stat st;
	unsigned int cpu;
	int err;

	if (ct_cpu_stat_parse(nlh, len, &cpu, &st) < 0)
		return 0;
	err = cpu_room(r, cpu);
	if (err)
		return err;
	r->cur[cpu] = st;
	if (cpu + 1 > r->ncur)
		r->ncur = cpu + 1;
	return 0;
}

int ct_stat_cpu(struct ct_stat_reader *r, unsigned long long *dropped,
		unsigned long long *evicted)
{
	int err;

	*dropped = *evicted = 0;
	if (r->cap)
		memset(r->cur, 0, r->cap * sizeof(*r->cur));
	r->ncur = 0;
	err = stat_ask(r, IPCTNL_MSG_CT_GET_STATS_CPU, true, on_cpu_stat, r);
	if (err)
		return err;
	if (r->have_prev)
		ct_cpu_delta(r->prev, r->nprev, r->cur, r->ncur, dropped, evicted);
	{
		struct ct_cpu_stat *t = r->prev;

		r->prev = r->cur;
		r->cur = t;
		r->nprev = r->ncur;
		r->have_prev = true;
	}
	return 0;
}

int ct_global_stat_parse(const struct nlmsghdr *nlh, size_t len, unsigned long *count,
			 unsigned long *max)
{
	const struct nlattr *a;
	bool have_count = false;
	int err;

	*count = *max = 0;
	err = msg_check(nlh, len, IPCTNL_MSG_CT_GET_STATS);
	if (err)
		return err;
	for_each_msg_attr(a, nlh) {
		switch (mnl_attr_get_type(a)) {
		case CTA_STATS_GLOBAL_ENTRIES:
			if (!attr_len_ok(a, 4))
				return -EINVAL;
			*count = get_be32(a);
			have_count = true;
			break;
		case CTA_STATS_GLOBAL_MAX_ENTRIES:
			if (!attr_len_ok(a, 4))
				return -EINVAL;
			*max = get_be32(a);
			break;
		default:
			break;
		}
	}
	return have_count ? 0 : -EINVAL;
}

struct global_stat {
	unsigned long count, max;
	bool have;
};

static int on_global_stat(void *ctx, const struct nlmsghdr *nlh, size_t len)
{
	struct global_stat *g = ctx;

	if (ct_global_stat_parse(nlh, len, &g->count, &g->max) == 0)
		g->have = true;
	return 0;
}

int ct_stat_size(struct ct_stat_reader *r, unsigned long *count, unsigned long *max)
{
	struct global_stat g = { 0 };
	int err = stat_ask(r, IPCTNL_MSG_CT_GET_STATS, false, on_global_stat, &g);

	if (!err && !g.have)
		err = -ENODATA;
	*count = err ? 0 : g.count;
	*max = err ? 0 : g.max;
	return err;
}
