/* ct_build.h - build nfnetlink conntrack messages for the unit tests. */
#ifndef FLOWTOP_TEST_CT_BUILD_H
#define FLOWTOP_TEST_CT_BUILD_H

#include <arpa/inet.h>
#include <endian.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

struct ctb {
	int family;
	int proto;
	const char *src, *dst, *rsrc, *rdst;
	unsigned int sport, dport, rsport, rdport;
	unsigned int id;
	int msgtype;		/* IPCTNL_MSG_CT_NEW / _DELETE */
	unsigned int nlflags;	/* NLM_F_CREATE for a NEW event */
	int state;		/* -1 = none */
	int counters;		/* include counters */
	unsigned long long opk, oby, rpk, rby;
	unsigned long long tstart;
	unsigned int status, mark, timeout;
	int icmp_type, icmp_code;
};

static inline void ctb_tuple(struct nlmsghdr *nlh, int type, const struct ctb *b, const char *s,
			     const char *d, unsigned int sp, unsigned int dp)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, type), *ip, *pr;
	unsigned char a[16];

	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	if (b->family == AF_INET) {
		inet_pton(AF_INET, s, a);
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, a);
		inet_pton(AF_INET, d, a);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, a);
	} else {
		inet_pton(AF_INET6, s, a);
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, a);
		inet_pton(AF_INET6, d, a);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, a);
	}
	mnl_attr_nest_end(nlh, ip);
	pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, (unsigned char)b->proto);
	if (b->proto == IPPROTO_ICMP || b->proto == IPPROTO_ICMPV6) {
		int v6 = b->proto == IPPROTO_ICMPV6;

		mnl_attr_put_u16(nlh, v6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID, htons(sp));
		mnl_attr_put_u8(nlh, v6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE,
				(unsigned char)b->icmp_type);
		mnl_attr_put_u8(nlh, v6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE,
				(unsigned char)b->icmp_code);
	} else {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(sp));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dp));
	}
	mnl_attr_nest_end(nlh, pr);
	mnl_attr_nest_end(nlh, t);
}

static inline void ctb_counters(struct nlmsghdr *nlh, int type, unsigned long long p,
				unsigned long long by)
{
	struct nlattr *c = mnl_attr_nest_start(nlh, type);

	mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(p));
	mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(by));
	mnl_attr_nest_end(nlh, c);
}

/* Build the message into buf (at least 1024 bytes); returns its length. */
static inline size_t ctb_build(char *buf, const struct ctb *b)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | b->msgtype;
	nlh->nlmsg_flags = b->nlflags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (unsigned char)b->family;
	nfg->version = NFNETLINK_V0;
	ctb_tuple(nlh, CTA_TUPLE_ORIG, b, b->src, b->dst, b->sport, b->dport);
	ctb_tuple(nlh, CTA_TUPLE_REPLY, b, b->rsrc ? b->rsrc : b->dst, b->rdst ? b->rdst : b->src,
		  b->rsport ? b->rsport : b->dport, b->rdport ? b->rdport : b->sport);
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(b->status));
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(b->timeout));
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(b->mark));
	if (b->state >= 0) {
		int pi = b->proto == IPPROTO_TCP ? CTA_PROTOINFO_TCP :
			 b->proto == IPPROTO_SCTP ? CTA_PROTOINFO_SCTP : CTA_PROTOINFO_DCCP;
		int st = b->proto == IPPROTO_TCP ? CTA_PROTOINFO_TCP_STATE :
			 b->proto == IPPROTO_SCTP ? CTA_PROTOINFO_SCTP_STATE :
						    CTA_PROTOINFO_DCCP_STATE;
		struct nlattr *p = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
		struct nlattr *q = mnl_attr_nest_start(nlh, pi);

		mnl_attr_put_u8(nlh, st, (unsigned char)b->state);
		mnl_attr_nest_end(nlh, q);
		mnl_attr_nest_end(nlh, p);
	}
	if (b->counters) {
		ctb_counters(nlh, CTA_COUNTERS_ORIG, b->opk, b->oby);
		ctb_counters(nlh, CTA_COUNTERS_REPLY, b->rpk, b->rby);
	}
	if (b->tstart) {
		struct nlattr *t = mnl_attr_nest_start(nlh, CTA_TIMESTAMP);

		mnl_attr_put_u64(nlh, CTA_TIMESTAMP_START, htobe64(b->tstart));
		mnl_attr_nest_end(nlh, t);
	}
	mnl_attr_put_u32(nlh, CTA_ID, htonl(b->id));
	return nlh->nlmsg_len;
}

#endif
