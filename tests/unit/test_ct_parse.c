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

/* /proc/net/stat/nf_conntrack: per-CPU hex columns, found by name */
static void test_stat(void **state)
{
	unsigned long long d, e;
	/* 6.x layout (two CPUs) */
	const char *six =
		"entries  clashres found new invalid ignore delete chainlength insert insert_failed "
		"drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n"
		"0000012c  00000000 00000000 00000000 00000003 00000021 00000000 00000000 00000000 "
		"00000000 00004028 0000012c 00000000  00000000 00000000 00000000 00000000\n"
		"0000012c  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
		"00000000 00000010 00000001 00000000  00000000 00000000 00000000 00000000\n";
	/* an older layout: other columns before them, no trailing newline */
	const char *old =
		"entries searched found new invalid ignore delete delete_list insert insert_failed "
		"drop early_drop icmp_error expect_new expect_create expect_delete search_restart\n"
		"00000005 0 0 0 0 0 0 0 0 0 ff 2 0 0 0 0 0";

	(void)state;
	assert_int_equal(ct_stat_parse(six, &d, &e), 0);
	assert_int_equal(d, 0x4028 + 0x10);
	assert_int_equal(e, 0x12c + 1);
	assert_int_equal(ct_stat_parse(old, &d, &e), 0);
	assert_int_equal(d, 255);
	assert_int_equal(e, 2);
	/* header only: nothing counted yet */
	assert_int_equal(ct_stat_parse("entries drop early_drop\n", &d, &e), 0);
	assert_int_equal(d + e, 0);
	/* bad input */
	assert_int_equal(ct_stat_parse("", &d, &e), -EINVAL);
	assert_int_equal(ct_stat_parse("entries found\n1 2\n", &d, &e), -EINVAL);
	assert_int_equal(ct_stat_parse("drop early_drop\n1 zz\n", &d, &e), -EINVAL);
	assert_int_equal(ct_stat_parse("drop early_drop\n-1 2\n", &d, &e), -EINVAL);
	assert_int_equal(ct_stat_parse("drop early_drop\n1x 2\n", &d, &e), -EINVAL);
	assert_int_equal(ct_stat_parse("drop early_drop\nffffffffffffffffff 2\n", &d, &e),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp4_full),	cmocka_unit_test(test_event_types),
		cmocka_unit_test(test_no_counters),	cmocka_unit_test(test_ipv6_udp_nat),
		cmocka_unit_test(test_icmp),		cmocka_unit_test(test_sctp_state),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_missing_id),	cmocka_unit_test(test_stat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
