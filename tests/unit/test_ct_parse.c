/* objs: ct */
/* test_ct_parse.c - conntrack netlink message parsing: every field, both families, bad input. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ct.h"
#include "ct_build.h"

static struct ctb tcp4(void)
{
	struct ctb b = {
		.family = AF_INET, .proto = IPPROTO_TCP, .src = "10.0.0.1", .dst = "10.0.0.2",
		.sport = 40000, .dport = 443, .id = 12345, .msgtype = IPCTNL_MSG_CT_NEW,
		.state = 3, .counters = 1, .opk = 10, .oby = 1000, .rpk = 8, .rby = 9000,
		.tstart = 1700000000123456789ULL, .status = 0xe, .mark = 7, .timeout = 300,
	};
	return b;
}

static void test_tcp4_full(void **state)
{
	char buf[2048];
	struct ctb b = tcp4();
	struct ct_msg m;
	size_t len = ctb_build(buf, &b);

	(void)state;
	assert_int_equal(ct_parse((struct nlmsghdr *)buf, len, &m), 0);
	assert_int_equal(m.type, CT_MSG_UPDATE);	/* no NLM_F_CREATE */
	assert_int_equal(m.f.id, 12345);
	assert_int_equal(m.f.orig.family, AF_INET);
	assert_int_equal(m.f.orig.proto, IPPROTO_TCP);
	assert_int_equal(m.f.orig.sport, 40000);
	assert_int_equal(m.f.orig.dport, 443);
	assert_int_equal(m.f.orig.src[0], 10);
	assert_int_equal(m.f.orig.src[3], 1);
	assert_int_equal(m.f.reply.sport, 443);
	assert_int_equal(m.f.reply.dport, 40000);
	assert_int_equal(m.f.reply.src[3], 2);
	assert_int_equal(m.f.reply.family, AF_INET);
	assert_int_equal(m.f.reply.proto, IPPROTO_TCP);
	assert_int_equal(m.f.state, 3);
	assert_int_equal(m.f.orig_pkts, 10);
	assert_int_equal(m.f.orig_bytes, 1000);
	assert_int_equal(m.f.reply_pkts, 8);
	assert_int_equal(m.f.reply_bytes, 9000);
	assert_true(m.f.start_ns == 1700000000123456789ULL);
	assert_int_equal(m.f.status, 0xe);
	assert_int_equal(m.f.mark, 7);
	assert_int_equal(m.timeout, 300);
	assert_true(m.have & CT_HAVE_COUNTERS);
	assert_true(m.have & CT_HAVE_TSTART);
	assert_true(m.have & CT_HAVE_STATE);
	/* padding is zero so tuples can be hashed and compared as bytes */
	assert_int_equal(m.f.orig.pad[0] | m.f.orig.pad[1], 0);
}

static void test_event_types(void **state)
{
	char buf[2048];
	struct ctb b = tcp4();
	struct ct_msg m;
	size_t len;

	(void)state;
	b.nlflags = NLM_F_CREATE | NLM_F_EXCL;
	len = ctb_build(buf, &b);
	assert_int_equal(ct_parse((struct nlmsghdr *)buf, len, &m), 0);
	assert_int_equal(m.type, CT_MSG_NEW);
	b.msgtype = IPCTNL_MSG_CT_DELETE;
	b.nlflags = 0;
	len = ctb_build(buf, &b);
	assert_int_equal(ct_parse((struct nlmsghdr *)buf, len, &m), 0);
	assert_int_equal(m.type, CT_MSG_DESTROY);
	b.msgtype = IPCTNL_MSG_CT_GET_STATS;
	len = ctb_build(buf, &b);
	assert_int_equal(ct_parse((struct nlmsghdr *)buf, len, &m), -ENOENT);
}

static void test_no_counters(void **state)
{
	char buf[2048];
	struct ctb b = tcp4();
	struct ct_msg m;
	size_t len;

	(void)state;
	b.counters = 0;
	b.tstart = 0;
	len = ctb_build(buf, &b);
	assert_int_equal(ct_parse((struct nlmsghdr *)buf, len, &m), 0);
	assert_false(m.have & CT_HAVE_COUNTERS);
	assert_false(m.have & CT_HAVE_TSTART);
}

static void test_ipv6_udp_nat(void **state)
{
	char buf[2048];
	struct ctb b = {
		.family = AF_INET6, .proto = IPPROTO_UDP, .src = "fd00::1", .dst = "2001:db8::5",
		.rsrc = "2001:db8::5", .rdst = "2001:db8:ffff::9", .sport = 5353, .dport = 53,
		.rsport = 53, .rdport = 61000, .id = 9, .msgtype = IPCTNL_MSG_CT_NEW, .state = -1,
	};
	struct ct_msg m;
	size_t len = ctb_build(buf, &b);

	(void)state;
	assert_int_equal(ct_parse((struct nlmsghdr *)buf, len, &m), 0);
	assert_int_equal(m.f.orig.family, AF_INET6);
	assert_int_equal(m.f.orig.src[0], 0xfd);
	assert_int_equal(m.f.orig.src[15], 1);
	assert_int_equal(m.f.reply.dst[4], 0xff);
	assert_int_equal(m.f.reply.dport, 61000);
	assert_false(m.have & CT_HAVE_STATE);
}

static void test_icmp(void **state)
{
	char buf[2048];
	struct ctb b = {
		.family = AF_INET, .proto = IPPROTO_ICMP, .src = "10.0.0.1", .dst = "10.0.0.2",
		.sport = 777, .id = 5, .msgtype = IPCTNL_MSG_CT_NEW, .state = -1, .icmp_type = 8,
	};
	struct ct_msg m;
	size_t len = ctb_build(buf, &b);

	(void)state;
	assert_int_equal(ct_parse((struct nlmsghdr *)buf, len, &m), 0);
	assert_int_equal(m.f.orig.proto, IPPROTO_ICMP);
	assert_int_equal(m.f.orig.sport, 777);
	assert_int_equal(m.f.orig.dport, 8 << 8);
}

static void test_sctp_state(void **state)
{
	char buf[2048];
	struct ctb b = tcp4();
	struct ct_msg m;
	size_t len;

	(void)state;
	b.proto = IPPROTO_SCTP;
	b.state = 4;
	len = ctb_build(buf, &b);
	assert_int_equal(ct_parse((struct nlmsghdr *)buf, len, &m), 0);
	assert_int_equal(m.f.state, 4);
}

/* Every truncation and every corrupted byte must fail cleanly, never read out of bounds. */
static void test_truncated_and_corrupt(void **state)
{
	/* zeroed: the builder leaves alignment padding alone, and corrupted lengths
	 * make the parser read those bytes (in bounds; valgrind would flag them) */
	char buf[2048] = { 0 };
	struct ctb b = tcp4();
	struct ct_msg m;
	size_t len = ctb_build(buf, &b);

	(void)state;
	for (size_t l = 0; l < len; l++) {
		char *copy = malloc(l ? l : 1);	/* exact size: ASan sees any over-read */
		struct nlmsghdr *nlh = (struct nlmsghdr *)copy;

		memcpy(copy, buf, l);
		if (l >= sizeof(*nlh))
			nlh->nlmsg_len = (__u32)l;
		(void)ct_parse(nlh, l, &m);
		free(copy);
	}
	srand(1);
	for (int iter = 0; iter < 20000; iter++) {
		char *copy = malloc(len);

		memcpy(copy, buf, len);
		for (int k = 0; k < 3; k++)
			copy[16 + rand() % (int)(len - 16)] = (char)rand();
		(void)ct_parse((struct nlmsghdr *)copy, len, &m);
		free(copy);
	}
	/* nlmsg_len larger than the buffer */
	((struct nlmsghdr *)buf)->nlmsg_len = (__u32)len + 100;
	assert_int_equal(ct_parse((struct nlmsghdr *)buf, len, &m), -EINVAL);
}

static void test_missing_id(void **state)
{
	char buf[2048];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	struct ct_msg m;

	(void)state;
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	assert_int_equal(ct_parse(nlh, nlh->nlmsg_len, &m), -EINVAL);
}

/* One CPU's answer to IPCTNL_MSG_CT_GET_STATS_CPU, as the kernel builds it. */
static size_t stat_msg(char *buf, unsigned int cpu, __u32 drop, __u32 early, __u32 inval,
		       __u32 ifail)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS_CPU;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->res_id = htons(cpu);
	mnl_attr_put_u32(nlh, CTA_STATS_FOUND, htonl(7));
	mnl_attr_put_u32(nlh, CTA_STATS_INVALID, htonl(inval));
	mnl_attr_put_u32(nlh, CTA_STATS_INSERT, htonl(9));
	mnl_attr_put_u32(nlh, CTA_STATS_INSERT_FAILED, htonl(ifail));
	mnl_attr_put_u32(nlh, CTA_STATS_DROP, htonl(drop));
	mnl_attr_put_u32(nlh, CTA_STATS_EARLY_DROP, htonl(early));
	mnl_attr_put_u32(nlh, CTA_STATS_CHAIN_TOOLONG, htonl(1));
	return nlh->nlmsg_len;
}

static void test_cpu_stat(void **state)
{
	char buf[512];
	struct ct_cpu_stat st;
	unsigned int cpu = 0;
	size_t len = stat_msg(buf, 3, 0x4028, 0x12c, 5, 2);
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

	(void)state;
	assert_int_equal(ct_cpu_stat_parse(nlh, len, &cpu, &st), 0);
	assert_int_equal(cpu, 3);
	assert_int_equal(st.drop, 0x4028);
	assert_int_equal(st.early_drop, 0x12c);
	assert_int_equal(st.invalid, 5);
	assert_int_equal(st.insert_failed, 2);
	assert_int_equal(st.seen, 1);
	/* cut short: the length says more than there is */
	assert_int_equal(ct_cpu_stat_parse(nlh, len - 4, &cpu, &st), -EINVAL);
	/* a conntrack entry is not a statistics answer */
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	assert_int_equal(ct_cpu_stat_parse(nlh, len, &cpu, &st), -ENOENT);
	/* a drop counter of 2 bytes */
	{
		struct nfgenmsg *nfg;

		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS_CPU;
		nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
		nfg->res_id = htons(1);
		mnl_attr_put_u16(nlh, CTA_STATS_DROP, 1);
		assert_int_equal(ct_cpu_stat_parse(nlh, nlh->nlmsg_len, &cpu, &st), -EINVAL);
	}
	/* header only */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS_CPU;
	assert_int_equal(ct_cpu_stat_parse(nlh, nlh->nlmsg_len, &cpu, &st), -EINVAL);
}

static void test_cpu_delta(void **state)
{
	struct ct_cpu_stat prev[3] = {
		{ .drop = 10, .early_drop = 0, .invalid = 2, .insert_failed = 1, .seen = 1 },
		{ .drop = 0xfffffff0u, .early_drop = 0xffffffffu, .seen = 1 },
		{ 0 },	/* not in the first reading */
	};
	struct ct_cpu_stat cur[3] = {
		{ .drop = 30, .early_drop = 5, .invalid = 4, .insert_failed = 2, .seen = 1 },
		{ .drop = 0x10, .early_drop = 1, .seen = 1 },	/* both wrapped */
		{ .drop = 1000, .early_drop = 1000, .seen = 1 },
	};
	unsigned long long d, e;

	(void)state;
	ct_cpu_delta(prev, 3, cur, 3, &d, &e);
	/* CPU 0: 20 drops, 1 of them a clash; CPU 1: 32 across the wrap */
	assert_int_equal(d, 19 + 32);
	assert_int_equal(e, 5 + 2);
	/* invalid packets are mostly let through: they explain no drop */
	cur[0].invalid = 100;
	ct_cpu_delta(prev, 1, cur, 1, &d, &e);
	assert_int_equal(d, 19);
	/* drops that clashes explain are not a full table's */
	cur[0].insert_failed = 100;
	ct_cpu_delta(prev, 1, cur, 1, &d, &e);
	assert_int_equal(d, 0);
	assert_int_equal(e, 5);
	/* nothing changed */
	ct_cpu_delta(cur, 3, cur, 3, &d, &e);
	assert_int_equal(d + e, 0);
	/* a CPU that was not read before is a baseline, not a jump */
	ct_cpu_delta(prev, 2, cur, 3, &d, &e);
	assert_int_equal(e, 5 + 2);
}

/* The answer to IPCTNL_MSG_CT_GET_STATS: entries and the limit. */
static void test_global_stat(void **state)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	unsigned long count = 1, max = 1;

	(void)state;
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, CTA_STATS_GLOBAL_ENTRIES, htonl(300));
	mnl_attr_put_u32(nlh, CTA_STATS_GLOBAL_MAX_ENTRIES, htonl(262144));
	assert_int_equal(ct_global_stat_parse(nlh, nlh->nlmsg_len, &count, &max), 0);
	assert_int_equal(count, 300);
	assert_int_equal(max, 262144);
	assert_int_equal(ct_global_stat_parse(nlh, nlh->nlmsg_len - 1, &count, &max), -EINVAL);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS_CPU;
	assert_int_equal(ct_global_stat_parse(nlh, nlh->nlmsg_len, &count, &max), -ENOENT);
	/* a kernel without the limit attribute: the count alone */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS;
	mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	mnl_attr_put_u32(nlh, CTA_STATS_GLOBAL_ENTRIES, htonl(5));
	assert_int_equal(ct_global_stat_parse(nlh, nlh->nlmsg_len, &count, &max), 0);
	assert_int_equal(count, 5);
	assert_int_equal(max, 0);
	/* no entry count, or a short one */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS;
	mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	assert_int_equal(ct_global_stat_parse(nlh, nlh->nlmsg_len, &count, &max), -EINVAL);
	mnl_attr_put_u16(nlh, CTA_STATS_GLOBAL_ENTRIES, 5);
	assert_int_equal(ct_global_stat_parse(nlh, nlh->nlmsg_len, &count, &max), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp4_full),	cmocka_unit_test(test_event_types),
		cmocka_unit_test(test_no_counters),	cmocka_unit_test(test_ipv6_udp_nat),
		cmocka_unit_test(test_icmp),		cmocka_unit_test(test_sctp_state),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_missing_id),	cmocka_unit_test(test_cpu_stat),
		cmocka_unit_test(test_cpu_delta),	cmocka_unit_test(test_global_stat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
