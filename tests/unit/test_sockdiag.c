/* objs: sockdiag procmap */
/* test_sockdiag.c - sock_diag parsing and matching on synthesized data, then on the real kernel. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <linux/inet_diag.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <cmocka.h>

#include "flow.h"
#include "procmap.h"
#include "sockdiag.h"

/* ---- helpers: addresses, synthesized messages, flows ---- */

static void addr(int family, const char *s, __u8 *out)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(family, s, out), 1);
}

/* One SOCK_DIAG_BY_FAMILY message at buf; returns its aligned length. */
static size_t put_diag(char *buf, __u32 seq, int family, __u8 state, const char *src, __u16 sport,
		       const char *dst, __u16 dport, __u32 inode, __u32 uid)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct inet_diag_msg *m = NLMSG_DATA(nlh);
	__u8 a[16];

	memset(buf, 0, NLMSG_SPACE(sizeof(*m)));
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*m));
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	m->idiag_family = family;
	m->idiag_state = state;
	m->id.idiag_sport = htons(sport);
	m->id.idiag_dport = htons(dport);
	addr(family, src, a);
	memcpy(m->id.idiag_src, a, 16);
	addr(family, dst, a);
	memcpy(m->id.idiag_dst, a, 16);
	m->idiag_inode = inode;
	m->idiag_uid = uid;
	return NLMSG_ALIGN(nlh->nlmsg_len);
}

/* Append an attribute to the message at buf; returns the new aligned message length. */
static size_t put_attr(char *buf, __u16 type, const void *data, size_t len)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct nlattr *a = (struct nlattr *)(buf + NLMSG_ALIGN(nlh->nlmsg_len));

	memset(a, 0, NLA_ALIGN(NLA_HDRLEN + len));
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + a->nla_len;
	return NLMSG_ALIGN(nlh->nlmsg_len);
}

static size_t put_ctl(char *buf, __u16 type, __u32 seq, int err)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	size_t len = type == NLMSG_ERROR ? sizeof(struct nlmsgerr) : sizeof(int);

	memset(buf, 0, NLMSG_SPACE(len));
	nlh->nlmsg_len = NLMSG_LENGTH(len);
	nlh->nlmsg_type = type;
	nlh->nlmsg_seq = seq;
	memcpy(NLMSG_DATA(nlh), &err, sizeof(err));
	return NLMSG_ALIGN(nlh->nlmsg_len);
}

/* Exactly len bytes on the heap, so valgrind sees any read past the end. */
static void *dup_exact(const void *p, size_t len)
{
	void *d = malloc(len ? len : 1);

	assert_non_null(d);
	memcpy(d, p, len);
	return d;
}

static struct sd_sock mksock(int family, int proto, __u8 state, const char *l, __u16 lp,
			     const char *r, __u16 rp, __u32 inode, __u8 flags)
{
	struct sd_sock s;

	memset(&s, 0, sizeof(s));
	s.family = family;
	s.proto = proto;
	s.state = state;
	addr(family, l, s.laddr);
	addr(family, r, s.raddr);
	s.lport = lp;
	s.rport = rp;
	s.inode = inode;
	s.uid = 1000;
	s.flags = flags;
	return s;
}

static void add(struct sd_table *t, struct sd_sock s)
{
	assert_int_equal(sd_table_add(t, &s), 0);
}

static void tuple(struct flow_tuple *t, int family, int proto, const char *src, __u16 sport,
		  const char *dst, __u16 dport)
{
	memset(t, 0, sizeof(*t));
	t->family = family;
	t->proto = proto;
	addr(family, src, t->src);
	addr(family, dst, t->dst);
	t->sport = sport;
	t->dport = dport;
}

/* A flow without NAT: the reply tuple mirrors the original. */
static struct flow mkflow(int family, int proto, const char *src, __u16 sport, const char *dst,
			  __u16 dport)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	tuple(&f.orig, family, proto, src, sport, dst, dport);
	tuple(&f.reply, family, proto, dst, dport, src, sport);
	return f;
}

static __u32 match_inode(const struct sd_table *t, const struct flow *f, enum sd_match_how want)
{
	enum sd_match_how how;
	const struct sd_sock *s = sd_match_flow(t, f, &how);

	assert_int_equal(how, want);
	return s ? s->inode : 0;
}

static const struct sd_sock *conn(const struct sd_table *t, int family, int proto,
				  const char *l, __u16 lp, const char *r, __u16 rp)
{
	__u8 la[16], ra[16];

	addr(family, l, la);
	addr(family, r, ra);
	return sd_find_conn(t, family, proto, la, lp, ra, rp);
}

static const struct sd_sock *bound(const struct sd_table *t, int family, int proto,
				   const char *l, __u16 lp, bool listen)
{
	__u8 la[16];

	addr(family, l, la);
	return sd_find_bound(t, family, proto, la, lp, listen);
}

/* ---- parser ---- */

static void test_parse_good(void **state)
{
	static char raw[4096] __attribute__((aligned(4)));
	struct sd_table *t = sd_table_new();
	struct sd_parse p = { .seq_lo = 7, .seq_hi = 7, .proto = IPPROTO_TCP };
	const struct sd_sock *s;
	__u64 cg = 0x1122334455667788ULL;
	__u8 one = 1, a[16];
	size_t off = 0, m;
	char *buf;

	assert_non_null(t);
	m = put_diag(raw + off, 7, AF_INET, TCP_ESTABLISHED, "10.0.0.1", 40000, "192.0.2.9", 443,
		     1111, 1000);
	m = put_attr(raw + off, INET_DIAG_CGROUP_ID, &cg, sizeof(cg));
	off += m;
	m = put_diag(raw + off, 7, AF_INET6, TCP_LISTEN, "::", 22, "::", 0, 2222, 0);
	m = put_attr(raw + off, INET_DIAG_SKV6ONLY, &one, 1);
	off += m;
	off += put_ctl(raw + off, NLMSG_DONE, 7, 0);

	buf = dup_exact(raw, off);
	assert_int_equal(sd_parse_buf(t, &p, buf, off), 0);
	assert_true(p.done);
	assert_int_equal(p.added, 2);
	assert_int_equal(p.skipped, 0);
	assert_int_equal(p.errors, 0);
	assert_int_equal(sd_table_count(t), 2);

	s = sd_table_get(t, 0);
	assert_int_equal(s->family, AF_INET);
	assert_int_equal(s->proto, IPPROTO_TCP);
	assert_int_equal(s->lport, 40000);
	assert_int_equal(s->rport, 443);
	assert_int_equal(s->inode, 1111);
	assert_int_equal(s->uid, 1000);
	assert_true(s->cgroup_id == cg);
	addr(AF_INET, "10.0.0.1", a);
	assert_memory_equal(s->laddr, a, 16);
	addr(AF_INET, "192.0.2.9", a);
	assert_memory_equal(s->raddr, a, 16);
	assert_false(s->flags & SD_F_V6ONLY);

	s = sd_table_get(t, 1);
	assert_int_equal(s->family, AF_INET6);
	assert_int_equal(s->state, TCP_LISTEN);
	assert_true(s->flags & SD_F_V6ONLY);
	assert_true(s->cgroup_id == 0);
	assert_null(sd_table_get(t, 2));
	free(buf);
	sd_table_free(t);
}

static void test_parse_truncated(void **state)
{
	static char raw[4096] __attribute__((aligned(4)));
	struct sd_table *t = sd_table_new();
	__u64 cg = 42;
	size_t off = 0, first;

	assert_non_null(t);
	off += put_diag(raw, 1, AF_INET, TCP_ESTABLISHED, "10.0.0.1", 1, "10.0.0.2", 2, 11, 0);
	first = off;
	put_diag(raw + off, 1, AF_INET, TCP_ESTABLISHED, "10.0.0.1", 3, "10.0.0.2", 4, 12, 0);
	off += put_attr(raw + off, INET_DIAG_CGROUP_ID, &cg, sizeof(cg));

	/* every cut of the second message: the first is kept, nothing is read past the end */
	for (size_t cut = first; cut < off; cut++) {
		struct sd_parse p = { .proto = IPPROTO_TCP };
		char *buf = dup_exact(raw, cut);

		sd_table_clear(t);
		assert_int_equal(sd_parse_buf(t, &p, buf, cut), 0);
		assert_int_equal(p.added, 1);
		assert_int_equal(sd_table_get(t, 0)->inode, 11);
		assert_false(p.done);
		free(buf);
	}
	/* and every cut of the first one */
	for (size_t cut = 0; cut < first; cut++) {
		struct sd_parse p = { .proto = IPPROTO_TCP };
		char *buf = dup_exact(raw, cut);

		sd_table_clear(t);
		assert_int_equal(sd_parse_buf(t, &p, buf, cut), 0);
		assert_int_equal(p.added, 0);
		free(buf);
	}
	sd_table_free(t);
}

static void test_parse_bad_lengths(void **state)
{
	static char raw[4096] __attribute__((aligned(4)));
	struct sd_table *t = sd_table_new();
	struct sd_parse p = { .proto = IPPROTO_UDP };
	struct nlmsghdr *nlh;
	struct nlattr *na;
	__u64 cg = 99;
	size_t off = 0, m;
	char *buf;

	assert_non_null(t);
	/* 1: a diag message too short for inet_diag_msg, framed correctly: skipped */
	m = put_diag(raw + off, 0, AF_INET, 7, "10.0.0.1", 1, "0.0.0.0", 0, 21, 0);
	nlh = (struct nlmsghdr *)(raw + off);
	nlh->nlmsg_len = NLMSG_LENGTH(20);
	off += NLMSG_ALIGN(nlh->nlmsg_len);
	(void)m;

	/* 2: an attribute claiming more than the message holds: socket kept, attribute not */
	put_diag(raw + off, 0, AF_INET, 7, "10.0.0.1", 2, "0.0.0.0", 0, 22, 0);
	m = put_attr(raw + off, INET_DIAG_CGROUP_ID, &cg, sizeof(cg));
	na = (struct nlattr *)(raw + off + NLMSG_LENGTH(sizeof(struct inet_diag_msg)));
	na->nla_len = 200;
	off += m;

	/* 3: an attribute with nla_len < 4: attributes end, socket kept */
	put_diag(raw + off, 0, AF_INET, 7, "10.0.0.1", 3, "0.0.0.0", 0, 23, 0);
	m = put_attr(raw + off, INET_DIAG_CGROUP_ID, &cg, sizeof(cg));
	na = (struct nlattr *)(raw + off + NLMSG_LENGTH(sizeof(struct inet_diag_msg)));
	na->nla_len = 2;
	off += m;

	/* 4: a cgroup attribute with a short payload: ignored */
	put_diag(raw + off, 0, AF_INET, 7, "10.0.0.1", 4, "0.0.0.0", 0, 24, 0);
	off += put_attr(raw + off, INET_DIAG_CGROUP_ID, &cg, 4);

	/* 5: unknown family: skipped */
	m = put_diag(raw + off, 0, AF_INET, 7, "10.0.0.1", 5, "0.0.0.0", 0, 25, 0);
	((struct inet_diag_msg *)NLMSG_DATA((struct nlmsghdr *)(raw + off)))->idiag_family =
		AF_UNIX;
	off += m;

	/* 6: unknown message type: skipped */
	m = put_diag(raw + off, 0, AF_INET, 7, "10.0.0.1", 6, "0.0.0.0", 0, 26, 0);
	((struct nlmsghdr *)(raw + off))->nlmsg_type = 0x55;
	off += m;

	/* 7: a good one after all that */
	off += put_diag(raw + off, 0, AF_INET, 7, "10.0.0.1", 7, "0.0.0.0", 0, 27, 0);

	/* 8: nlmsg_len beyond the buffer: the rest cannot be framed and is dropped */
	m = put_diag(raw + off, 0, AF_INET, 7, "10.0.0.1", 8, "0.0.0.0", 0, 28, 0);
	((struct nlmsghdr *)(raw + off))->nlmsg_len = 4000;
	off += m;

	buf = dup_exact(raw, off);
	assert_int_equal(sd_parse_buf(t, &p, buf, off), 0);
	assert_int_equal(p.added, 4);
	assert_int_equal(p.skipped, 4);
	assert_int_equal(sd_table_count(t), 4);
	assert_int_equal(sd_table_get(t, 0)->inode, 22);
	assert_true(sd_table_get(t, 0)->cgroup_id == 0);
	assert_int_equal(sd_table_get(t, 1)->inode, 23);
	assert_int_equal(sd_table_get(t, 2)->inode, 24);
	assert_true(sd_table_get(t, 2)->cgroup_id == 0);
	assert_int_equal(sd_table_get(t, 3)->inode, 27);
	free(buf);

	/* nlmsg_len below the header size */
	memset(raw, 0, 64);
	((struct nlmsghdr *)raw)->nlmsg_len = 8;
	memset(&p, 0, sizeof(p));
	buf = dup_exact(raw, 64);
	assert_int_equal(sd_parse_buf(t, &p, buf, 64), 0);
	assert_int_equal(p.skipped, 1);
	free(buf);

	/* shorter than a header: nothing to do */
	memset(&p, 0, sizeof(p));
	buf = dup_exact(raw, 10);
	assert_int_equal(sd_parse_buf(t, &p, buf, 10), 0);
	assert_int_equal(p.added + p.skipped, 0);
	free(buf);

	/* sd_parse_msg alone refuses what sd_parse_buf would skip */
	{
		struct sd_sock s;

		put_diag(raw, 0, AF_INET, 7, "10.0.0.1", 8, "0.0.0.0", 0, 28, 0);
		assert_int_equal(sd_parse_msg(raw, NLMSG_LENGTH(sizeof(struct inet_diag_msg)),
					      IPPROTO_UDP, &s), 0);
		assert_int_equal(sd_parse_msg(raw, 20, IPPROTO_UDP, &s), -EINVAL);
		assert_int_equal(sd_parse_msg(raw, 8, IPPROTO_UDP, &s), -EINVAL);
	}
	sd_table_free(t);
}

static void test_parse_unknown_attrs(void **state)
{
	static char raw[4096] __attribute__((aligned(4)));
	struct sd_table *t = sd_table_new();
	struct sd_parse p = { .proto = IPPROTO_TCP };
	char junk[13] = "hello, world";
	__u64 cg = 777;
	__u8 zero = 0;
	size_t m;
	char *buf;

	assert_non_null(t);
	put_diag(raw, 0, AF_INET6, TCP_LISTEN, "::", 80, "::", 0, 31, 0);
	put_attr(raw, 250, junk, sizeof(junk));			/* unknown, odd length */
	put_attr(raw, INET_DIAG_INFO, junk, 0);		/* the kernel knows it, we do not */
	put_attr(raw, INET_DIAG_SKV6ONLY, &zero, 1);
	put_attr(raw, NLA_F_NESTED | 300, junk, 4);		/* flags in the type */
	m = put_attr(raw, INET_DIAG_CGROUP_ID, &cg, sizeof(cg));

	buf = dup_exact(raw, m);
	assert_int_equal(sd_parse_buf(t, &p, buf, m), 0);
	assert_int_equal(p.added, 1);
	assert_true(sd_table_get(t, 0)->cgroup_id == 777);
	assert_false(sd_table_get(t, 0)->flags & SD_F_V6ONLY);
	free(buf);
	sd_table_free(t);
}

static void test_parse_errors_and_seq(void **state)
{
	static char raw[4096] __attribute__((aligned(4)));
	struct sd_table *t = sd_table_new();
	struct sd_parse p = { .seq_lo = 10, .seq_hi = 12, .proto = IPPROTO_TCP };
	size_t off = 0;
	char *buf;

	assert_non_null(t);
	off += put_diag(raw + off, 9, AF_INET, 1, "10.0.0.1", 1, "10.0.0.2", 2, 41, 0);
	off += put_diag(raw + off, 10, AF_INET, 1, "10.0.0.1", 1, "10.0.0.2", 2, 42, 0);
	off += put_ctl(raw + off, NLMSG_ERROR, 11, -ENOENT);
	off += put_diag(raw + off, 12, AF_INET, 1, "10.0.0.1", 3, "10.0.0.2", 4, 43, 0);
	off += put_ctl(raw + off, NLMSG_ERROR, 13, -EPERM);
	buf = dup_exact(raw, off);
	assert_int_equal(sd_parse_buf(t, &p, buf, off), 0);
	assert_int_equal(p.added, 2);
	assert_int_equal(p.replies, 3);
	assert_int_equal(p.skipped, 2);
	assert_int_equal(p.errors, 1);
	assert_int_equal(p.err, -ENOENT);
	assert_false(p.done);
	free(buf);

	off = put_ctl(raw, NLMSG_DONE, 0, -EINTR);
	memset(&p, 0, sizeof(p));
	buf = dup_exact(raw, off);
	assert_int_equal(sd_parse_buf(NULL, &p, buf, off), 0);
	assert_true(p.done);
	assert_int_equal(p.err, -EINTR);
	free(buf);

	/* a DONE without its error word (old kernels) */
	off = put_ctl(raw, NLMSG_DONE, 0, 0);
	((struct nlmsghdr *)raw)->nlmsg_len = NLMSG_HDRLEN;
	memset(&p, 0, sizeof(p));
	buf = dup_exact(raw, NLMSG_HDRLEN);
	assert_int_equal(sd_parse_buf(NULL, &p, buf, NLMSG_HDRLEN), 0);
	assert_true(p.done);
	assert_int_equal(p.errors, 0);
	free(buf);
	sd_table_free(t);
}

/* Random damage to a good buffer: no crash, no read outside (run under valgrind). */
static void test_parse_fuzz(void **state)
{
	static char raw[4096] __attribute__((aligned(4)));
	struct sd_table *t = sd_table_new();
	__u64 cg = 5;
	__u8 one = 1;
	size_t off = 0;

	assert_non_null(t);
	for (int i = 0; i < 4; i++) {
		put_diag(raw + off, 0, i & 1 ? AF_INET6 : AF_INET, 1, i & 1 ? "::1" : "127.0.0.1",
			 i, i & 1 ? "::1" : "127.0.0.1", 80, 50 + i, 0);
		put_attr(raw + off, INET_DIAG_SKV6ONLY, &one, 1);
		off += put_attr(raw + off, INET_DIAG_CGROUP_ID, &cg, sizeof(cg));
	}
	off += put_ctl(raw + off, NLMSG_DONE, 0, 0);

	srand(12345);
	for (int iter = 0; iter < 3000; iter++) {
		char tmp[4096] __attribute__((aligned(4)));
		struct sd_parse p = { .proto = IPPROTO_TCP };
		size_t len = off - (rand() % 16 == 0 ? rand() % off : 0);
		char *buf;

		memcpy(tmp, raw, off);
		for (int k = rand() % 8; k >= 0; k--)
			tmp[rand() % off] = rand();
		buf = dup_exact(tmp, len);
		sd_table_clear(t);
		assert_int_equal(sd_parse_buf(t, &p, buf, len), 0);
		assert_true(p.added <= 4);
		free(buf);
	}
	sd_table_free(t);
}

static void test_parse_proc_net(void **state)
{
	static const char icmp[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
		"   uid  timeout inode ref pointer drops             \n"
		"   48: 00000000:90A9 00000000:0000 07 00000000:00000340 00:00000000 00000000"
		"     0        0 9003 2 000000000e47fcd6 0          \n"
		"   49: 0100007F:0102 0202000A:0000 01 00000000:00000000 00:00000000 00000000"
		"  1000        0 9004 2 0000000000000000 0\n"
		"   50: garbage\n"
		/* port too large, then a short address */
		"   51: 0100007F:10000 00000000:0000 07 00000000:00000000 00:00000000 00000000"
		"     0        0 9005 2 0 0\n"
		"   52: 0100007:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000"
		"     0        0 9006 2 0 0\n";
	static const char icmp6[] =
		"  sl  local_address                         remote_address                 "
		"       st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer"
		" drops\n"
		"    1: 00000000000000000000000001000000:1234 00000000000000000000000000000000:0000"
		" 07 00000000:00000000 00:00000000 00000000     0        0 7001 2 0000000000000000"
		" 0\n"
		/* 31 hex digits */
		"    2: 0000000000000000000000000100000:1234 00000000000000000000000000000000:0000"
		" 07 00000000:00000000 00:00000000 00000000     0        0 7002 2 0000000000000000"
		" 0\n";
	struct sd_table *t = sd_table_new();
	const struct sd_sock *s;
	__u8 a[16];
	FILE *f;

	assert_non_null(t);
	f = fmemopen((void *)icmp, sizeof(icmp) - 1, "r");
	assert_non_null(f);
	assert_int_equal(sd_parse_proc_net(t, f, AF_INET, IPPROTO_ICMP), 2);
	fclose(f);
	s = sd_table_get(t, 0);
	assert_int_equal(s->lport, 0x90a9);
	assert_int_equal(s->inode, 9003);
	assert_int_equal(s->state, 7);
	assert_true(s->flags & SD_F_PROC);
	s = sd_table_get(t, 1);
	addr(AF_INET, "127.0.0.1", a);
	assert_memory_equal(s->laddr, a, 4);
	addr(AF_INET, "10.0.2.2", a);
	assert_memory_equal(s->raddr, a, 4);
	assert_int_equal(s->lport, 0x102);
	assert_int_equal(s->uid, 1000);

	f = fmemopen((void *)icmp6, sizeof(icmp6) - 1, "r");
	assert_non_null(f);
	assert_int_equal(sd_parse_proc_net(t, f, AF_INET6, IPPROTO_ICMPV6), 1);
	fclose(f);
	s = sd_table_get(t, 2);
	addr(AF_INET6, "::1", a);
	assert_memory_equal(s->laddr, a, 16);
	assert_int_equal(s->lport, 0x1234);
	assert_int_equal(s->proto, IPPROTO_ICMPV6);
	sd_table_free(t);
}

/* ---- matching rules on synthesized tables ---- */

static void test_match_tcp(void **state)
{
	struct sd_table *t = sd_table_new();
	struct flow f;
	__u8 a[16];

	assert_non_null(t);
	addr(AF_INET, "10.0.0.1", a);
	assert_int_equal(sd_table_add_local(t, AF_INET, a), 0);

	add(t, mksock(AF_INET, IPPROTO_TCP, TCP_ESTABLISHED, "10.0.0.1", 40000, "192.0.2.9", 443,
		      101, 0));
	add(t, mksock(AF_INET, IPPROTO_TCP, TCP_LISTEN, "0.0.0.0", 22, "0.0.0.0", 0, 102, 0));
	add(t, mksock(AF_INET, IPPROTO_TCP, TCP_ESTABLISHED, "10.0.0.1", 22, "203.0.113.5", 5555,
		      103, 0));
	add(t, mksock(AF_INET, IPPROTO_TCP, TCP_ESTABLISHED, "10.0.0.1", 22, "203.0.113.6", 6666,
		      0, 0));
	add(t, mksock(AF_INET, IPPROTO_TCP, TCP_LISTEN, "10.0.0.2", 25, "0.0.0.0", 0, 104, 0));
	add(t, mksock(AF_INET, IPPROTO_TCP, TCP_ESTABLISHED, "10.0.0.1", 8080, "203.0.113.7", 7777,
		      105, 0));
	add(t, mksock(AF_INET, IPPROTO_TCP, TCP_TIME_WAIT, "10.0.0.1", 41000,
		      "192.0.2.9", 443, 0, 0));

	/* a: outbound */
	f = mkflow(AF_INET, IPPROTO_TCP, "10.0.0.1", 40000, "192.0.2.9", 443);
	assert_int_equal(match_inode(t, &f, SD_MATCH_ORIG), 101);
	/* a: outbound in TIME_WAIT: local, but nobody to name (and not the listener) */
	f = mkflow(AF_INET, IPPROTO_TCP, "10.0.0.1", 41000, "192.0.2.9", 443);
	assert_int_equal(match_inode(t, &f, SD_MATCH_ORIG), 0);
	/* b: inbound, accepted */
	f = mkflow(AF_INET, IPPROTO_TCP, "203.0.113.5", 5555, "10.0.0.1", 22);
	assert_int_equal(match_inode(t, &f, SD_MATCH_REPLY), 103);
	/* c: inbound, accepted socket has no inode yet: the listener */
	f = mkflow(AF_INET, IPPROTO_TCP, "203.0.113.6", 6666, "10.0.0.1", 22);
	assert_int_equal(match_inode(t, &f, SD_MATCH_LISTENER), 102);
	/* c: inbound, no accepted socket at all */
	f = mkflow(AF_INET, IPPROTO_TCP, "203.0.113.8", 8888, "10.0.0.1", 22);
	assert_int_equal(match_inode(t, &f, SD_MATCH_LISTENER), 102);
	/* b after DNAT: public 198.51.100.1:80 -> local 10.0.0.1:8080 */
	f = mkflow(AF_INET, IPPROTO_TCP, "203.0.113.7", 7777, "198.51.100.1", 80);
	tuple(&f.reply, AF_INET, IPPROTO_TCP, "10.0.0.1", 8080, "203.0.113.7", 7777);
	assert_int_equal(match_inode(t, &f, SD_MATCH_REPLY), 105);
	/* forwarded through the host: the wildcard listener on :22 must not claim it */
	f = mkflow(AF_INET, IPPROTO_TCP, "192.168.1.10", 5000, "198.51.100.20", 22);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	/* a listener on another specific address never matches by port */
	f = mkflow(AF_INET, IPPROTO_TCP, "203.0.113.8", 8888, "10.0.0.1", 25);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	f = mkflow(AF_INET, IPPROTO_TCP, "203.0.113.8", 8888, "10.0.0.2", 25);
	assert_int_equal(match_inode(t, &f, SD_MATCH_LISTENER), 104);
	/* other protocol, same ports */
	f = mkflow(AF_INET, IPPROTO_UDP, "10.0.0.1", 40000, "192.0.2.9", 443);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	/* protocols without sockets */
	f = mkflow(AF_INET, IPPROTO_GRE, "10.0.0.1", 0, "192.0.2.9", 0);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	sd_table_free(t);
}

static void test_match_udp_and_dualstack(void **state)
{
	struct sd_table *t = sd_table_new();
	struct flow f;
	__u8 a[16];

	assert_non_null(t);
	addr(AF_INET, "10.0.0.1", a);
	assert_int_equal(sd_table_add_local(t, AF_INET, a), 0);
	addr(AF_INET6, "2001:db8::1", a);
	assert_int_equal(sd_table_add_local(t, AF_INET6, a), 0);

	/* unconnected, wildcard */
	add(t, mksock(AF_INET, IPPROTO_UDP, 7, "0.0.0.0", 5353, "0.0.0.0", 0, 201, 0));
	/* connected */
	add(t, mksock(AF_INET, IPPROTO_UDP, 1, "10.0.0.1", 40001, "192.0.2.53", 53, 202, 0));
	/* dual-stack server on [::]:53 */
	add(t, mksock(AF_INET6, IPPROTO_UDP, 7, "::", 53, "::", 0, 203, 0));
	/* v6-only server on [::]:123 */
	add(t, mksock(AF_INET6, IPPROTO_UDP, 7, "::", 123, "::", 0, 204, SD_F_V6ONLY));
	/* dual-stack socket connected to an IPv4 peer */
	add(t, mksock(AF_INET6, IPPROTO_UDP, 1, "::ffff:10.0.0.1", 40002, "::ffff:192.0.2.53",
		      53, 205, 0));
	/* bound to a v4-mapped address, unconnected */
	add(t, mksock(AF_INET6, IPPROTO_UDP, 7, "::ffff:10.0.0.1", 6000, "::", 0, 206, 0));
	/* UDP-Lite is another protocol */
	add(t, mksock(AF_INET, IPPROTO_UDPLITE, 7, "0.0.0.0", 7000, "0.0.0.0", 0, 207, 0));

	/* d: outbound from an unconnected socket */
	f = mkflow(AF_INET, IPPROTO_UDP, "10.0.0.1", 5353, "224.0.0.251", 5353);
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_ORIG), 201);
	/* a: connected */
	f = mkflow(AF_INET, IPPROTO_UDP, "10.0.0.1", 40001, "192.0.2.53", 53);
	assert_int_equal(match_inode(t, &f, SD_MATCH_ORIG), 202);
	/* d: inbound to the dual-stack server, over IPv4 and IPv6 */
	f = mkflow(AF_INET, IPPROTO_UDP, "203.0.113.5", 3333, "10.0.0.1", 53);
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_REPLY), 203);
	f = mkflow(AF_INET6, IPPROTO_UDP, "2001:db8::99", 3333, "2001:db8::1", 53);
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_REPLY), 203);
	/* v6-only refuses IPv4 */
	f = mkflow(AF_INET, IPPROTO_UDP, "203.0.113.5", 3333, "10.0.0.1", 123);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	f = mkflow(AF_INET6, IPPROTO_UDP, "2001:db8::99", 3333, "2001:db8::1", 123);
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_REPLY), 204);
	/* a: IPv4 flow on a v4-mapped dual-stack socket */
	f = mkflow(AF_INET, IPPROTO_UDP, "10.0.0.1", 40002, "192.0.2.53", 53);
	assert_int_equal(match_inode(t, &f, SD_MATCH_ORIG), 205);
	/* d: bound to a v4-mapped address */
	f = mkflow(AF_INET, IPPROTO_UDP, "10.0.0.1", 6000, "192.0.2.1", 9);
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_ORIG), 206);
	f = mkflow(AF_INET, IPPROTO_UDP, "10.0.0.7", 6000, "192.0.2.1", 9);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	/* forwarded: 192.168.1.10 is not ours, the wildcard :5353 socket must not claim it */
	f = mkflow(AF_INET, IPPROTO_UDP, "192.168.1.10", 5353, "224.0.0.251", 5353);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	/* loopback is always local */
	f = mkflow(AF_INET, IPPROTO_UDP, "127.0.0.1", 5353, "127.0.0.1", 9999);
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_ORIG), 201);
	/* UDP-Lite */
	f = mkflow(AF_INET, IPPROTO_UDPLITE, "10.0.0.1", 7000, "192.0.2.1", 7000);
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_ORIG), 207);
	f = mkflow(AF_INET, IPPROTO_UDP, "10.0.0.1", 7000, "192.0.2.1", 7000);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	sd_table_free(t);
}

static void test_match_tcp_mapped(void **state)
{
	struct sd_table *t = sd_table_new();
	struct flow f;

	assert_non_null(t);
	/* dual-stack listener and its accepted IPv4 connection */
	add(t, mksock(AF_INET6, IPPROTO_TCP, TCP_LISTEN, "::", 8443, "::", 0, 301, 0));
	add(t, mksock(AF_INET6, IPPROTO_TCP, TCP_ESTABLISHED, "::ffff:127.0.0.1", 8443,
		      "::ffff:127.0.0.1", 50000, 302, 0));
	/* IPv4 flow to it */
	f = mkflow(AF_INET, IPPROTO_TCP, "127.0.0.1", 50000, "127.0.0.1", 8443);
	assert_int_equal(match_inode(t, &f, SD_MATCH_REPLY), 302);
	f = mkflow(AF_INET, IPPROTO_TCP, "127.0.0.1", 50001, "127.0.0.1", 8443);
	assert_int_equal(match_inode(t, &f, SD_MATCH_LISTENER), 301);
	f = mkflow(AF_INET6, IPPROTO_TCP, "::1", 50001, "::1", 8443);
	assert_int_equal(match_inode(t, &f, SD_MATCH_LISTENER), 301);
	/* real IPv6 addresses do not reach the IPv4 connection */
	assert_null(conn(t, AF_INET6, IPPROTO_TCP, "::1", 8443, "::1", 50000));
	assert_non_null(conn(t, AF_INET6, IPPROTO_TCP, "::ffff:127.0.0.1", 8443,
			     "::ffff:127.0.0.1", 50000));
	sd_table_free(t);
}

static void test_match_icmp(void **state)
{
	struct sd_table *t = sd_table_new();
	struct flow f;
	__u8 a[16];

	assert_non_null(t);
	addr(AF_INET, "10.0.0.1", a);
	assert_int_equal(sd_table_add_local(t, AF_INET, a), 0);
	add(t, mksock(AF_INET, IPPROTO_ICMP, 7, "0.0.0.0", 1234, "0.0.0.0", 0, 401, SD_F_PROC));
	add(t, mksock(AF_INET, IPPROTO_ICMP, 1, "10.0.0.1", 1235, "192.0.2.1", 0, 402, SD_F_PROC));
	add(t, mksock(AF_INET6, IPPROTO_ICMPV6, 7, "::", 1236, "::", 0, 403, SD_F_PROC));

	/* echo request: sport = id, dport = type << 8 | code */
	f = mkflow(AF_INET, IPPROTO_ICMP, "10.0.0.1", 1234, "192.0.2.1", 8 << 8);
	f.reply.sport = 1234;
	f.reply.dport = 0;
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_ORIG), 401);
	f = mkflow(AF_INET, IPPROTO_ICMP, "10.0.0.1", 1235, "192.0.2.1", 8 << 8);
	assert_int_equal(match_inode(t, &f, SD_MATCH_ORIG), 402);
	/* connected elsewhere: no */
	f = mkflow(AF_INET, IPPROTO_ICMP, "10.0.0.1", 1235, "192.0.2.2", 8 << 8);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	/* forwarded ping with the same id */
	f = mkflow(AF_INET, IPPROTO_ICMP, "192.168.1.10", 1234, "192.0.2.1", 8 << 8);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	f = mkflow(AF_INET6, IPPROTO_ICMPV6, "::1", 1236, "::1", 128 << 8);
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_ORIG), 403);
	/* ICMPv6 id on an ICMP socket: no */
	f = mkflow(AF_INET6, IPPROTO_ICMPV6, "::1", 1234, "::1", 128 << 8);
	assert_int_equal(match_inode(t, &f, SD_MATCH_NONE), 0);
	sd_table_free(t);
}

static void test_table_prefers_inode_and_grows(void **state)
{
	struct sd_table *t = sd_table_new();
	const struct sd_sock *s;
	__u8 l[16], r[16];
	char buf[64];

	assert_non_null(t);
	/* TIME_WAIT first, then a live socket with the same tuple, then another TIME_WAIT */
	add(t, mksock(AF_INET, IPPROTO_TCP, 6, "10.0.0.1", 1, "10.0.0.2", 2, 0, 0));
	add(t, mksock(AF_INET, IPPROTO_TCP, 1, "10.0.0.1", 1, "10.0.0.2", 2, 501, 0));
	add(t, mksock(AF_INET, IPPROTO_TCP, 6, "10.0.0.1", 1, "10.0.0.2", 2, 0, 0));
	addr(AF_INET, "10.0.0.1", l);
	addr(AF_INET, "10.0.0.2", r);
	s = sd_find_conn(t, AF_INET, IPPROTO_TCP, l, 1, r, 2);
	assert_non_null(s);
	assert_int_equal(s->inode, 501);

	/* grow well past the first bucket array; everything stays findable */
	for (int i = 0; i < 20000; i++) {
		snprintf(buf, sizeof(buf), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		add(t, mksock(AF_INET, IPPROTO_TCP, 1, buf, 1000 + i % 50000, "192.0.2.1", 443,
			      10000 + i, 0));
	}
	assert_int_equal(sd_table_count(t), 20003);
	for (int i = 0; i < 20000; i += 7) {
		snprintf(buf, sizeof(buf), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		addr(AF_INET, buf, l);
		addr(AF_INET, "192.0.2.1", r);
		s = sd_find_conn(t, AF_INET, IPPROTO_TCP, l, 1000 + i % 50000, r, 443);
		assert_non_null(s);
		assert_int_equal(s->inode, 10000 + i);
	}
	sd_table_clear(t);
	assert_int_equal(sd_table_count(t), 0);
	assert_null(sd_find_conn(t, AF_INET, IPPROTO_TCP, l, 1, r, 2));
	/* local addresses survive a clear; the loopback range is always local */
	addr(AF_INET, "127.1.2.3", l);
	assert_true(sd_table_is_local(t, AF_INET, l));
	addr(AF_INET6, "::ffff:127.0.0.1", l);
	assert_true(sd_table_is_local(t, AF_INET6, l));
	addr(AF_INET, "192.0.2.1", l);
	assert_false(sd_table_is_local(t, AF_INET, l));
	assert_int_equal(sd_table_load_local(t), 0);
	sd_table_free(t);
}

/* ---- the real kernel ---- */

static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	print_message("SKIP: needs root (sockets of all users, netns for ping sockets)\n");
	return false;
}

static __u32 ino(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static __u16 port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static socklen_t mkaddr(struct sockaddr_storage *ss, int family, const char *a, __u16 port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
		return sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, a, &in6->sin6_addr), 1);
		return sizeof(*in6);
	}
}

/* v6only: -1 leaves the system default */
static int mksocket(int family, int type, const char *a, __u16 port, int v6only)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, family, a, port);
	int one = 1;
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6 && v6only >= 0)
		assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
					    sizeof(v6only)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 512), 0);
	return fd;
}

static int mkconnect(int family, int type, const char *a, __u16 port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, family, a, port);
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

/* Sockets of every kind the tests look for, all in this process, on loopback. */
struct world {
	int l4, c4, a4;		/* TCP 127.0.0.1: listener, client, accepted */
	int l6, c6, a6;		/* TCP ::1, v6-only */
	int ld, cd, ad;		/* TCP dual-stack on ::, IPv4 client, accepted (v4-mapped) */
	int u1, u2;		/* UDP 127.0.0.1: u1 connected to u2, u2 unconnected */
	int uw;			/* UDP 0.0.0.0, unconnected */
	int ud;			/* UDP dual-stack on ::, unconnected */
};

static void world_make(struct world *w)
{
	struct sockaddr_storage ss;
	socklen_t len;

	w->l4 = mksocket(AF_INET, SOCK_STREAM, "127.0.0.1", 0, -1);
	w->c4 = mkconnect(AF_INET, SOCK_STREAM, "127.0.0.1", port_of(w->l4));
	w->a4 = accept4(w->l4, NULL, NULL, SOCK_CLOEXEC);
	assert_true(w->a4 >= 0);

	w->l6 = mksocket(AF_INET6, SOCK_STREAM, "::1", 0, 1);
	w->c6 = mkconnect(AF_INET6, SOCK_STREAM, "::1", port_of(w->l6));
	w->a6 = accept4(w->l6, NULL, NULL, SOCK_CLOEXEC);
	assert_true(w->a6 >= 0);

	w->ld = mksocket(AF_INET6, SOCK_STREAM, "::", 0, 0);
	w->cd = mkconnect(AF_INET, SOCK_STREAM, "127.0.0.1", port_of(w->ld));
	w->ad = accept4(w->ld, NULL, NULL, SOCK_CLOEXEC);
	assert_true(w->ad >= 0);

	w->u2 = mksocket(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, -1);
	w->u1 = mksocket(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, -1);
	len = mkaddr(&ss, AF_INET, "127.0.0.1", port_of(w->u2));
	assert_int_equal(connect(w->u1, (struct sockaddr *)&ss, len), 0);
	w->uw = mksocket(AF_INET, SOCK_DGRAM, "0.0.0.0", 0, -1);
	w->ud = mksocket(AF_INET6, SOCK_DGRAM, "::", 0, 0);
}

static void world_free(struct world *w)
{
	int *fds = (int *)w;

	for (size_t i = 0; i < sizeof(*w) / sizeof(int); i++)
		close(fds[i]);
}

static void expect(const struct sd_sock *s, int fd)
{
	assert_non_null(s);
	assert_int_equal(s->inode, ino(fd));
	assert_int_equal(s->uid, geteuid());
}

/* The checks both ways of filling the table (dump, exact lookups) must pass. */
static void check_world(const struct sd_table *t, const struct world *w, bool exact)
{
	__u16 p4 = port_of(w->l4), p6 = port_of(w->l6), pd = port_of(w->ld);
	struct flow f;

	expect(conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(w->c4), "127.0.0.1", p4), w->c4);
	expect(conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", p4, "127.0.0.1", port_of(w->c4)), w->a4);
	expect(bound(t, AF_INET, IPPROTO_TCP, "127.0.0.1", p4, true), w->l4);

	expect(conn(t, AF_INET6, IPPROTO_TCP, "::1", port_of(w->c6), "::1", p6), w->c6);
	expect(conn(t, AF_INET6, IPPROTO_TCP, "::1", p6, "::1", port_of(w->c6)), w->a6);
	expect(bound(t, AF_INET6, IPPROTO_TCP, "::1", p6, true), w->l6);
	assert_null(bound(t, AF_INET, IPPROTO_TCP, "127.0.0.1", p6, true));

	/* dual-stack: the accepted socket is AF_INET6 with mapped addresses, found as IPv4 */
	expect(conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", pd, "127.0.0.1", port_of(w->cd)), w->ad);
	assert_int_equal(conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", pd, "127.0.0.1",
			      port_of(w->cd))->family, AF_INET6);
	expect(conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(w->cd), "127.0.0.1", pd), w->cd);
	expect(bound(t, AF_INET, IPPROTO_TCP, "127.0.0.1", pd, true), w->ld);

	expect(conn(t, AF_INET, IPPROTO_UDP, "127.0.0.1", port_of(w->u1), "127.0.0.1",
		    port_of(w->u2)), w->u1);
	expect(bound(t, AF_INET, IPPROTO_UDP, "127.0.0.1", port_of(w->u2), false), w->u2);
	expect(bound(t, AF_INET, IPPROTO_UDP, "127.0.0.1", port_of(w->uw), false), w->uw);
	expect(bound(t, AF_INET, IPPROTO_UDP, "127.0.0.1", port_of(w->ud), false), w->ud);
	if (!exact)
		expect(bound(t, AF_INET6, IPPROTO_UDP, "::1", port_of(w->ud), false), w->ud);

	/* whole flows, as conntrack would report them */
	f = mkflow(AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(w->c4), "127.0.0.1", p4);
	assert_int_equal(match_inode(t, &f, SD_MATCH_ORIG), ino(w->c4));
	f = mkflow(AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(w->cd), "127.0.0.1", pd);
	assert_int_equal(match_inode(t, &f, SD_MATCH_ORIG), ino(w->cd));
	f = mkflow(AF_INET, IPPROTO_UDP, "127.0.0.1", port_of(w->u1), "127.0.0.1",
		   port_of(w->u2));
	assert_int_equal(match_inode(t, &f, SD_MATCH_ORIG), ino(w->u1));
	f = mkflow(AF_INET, IPPROTO_UDP, "127.0.0.1", 9, "127.0.0.1", port_of(w->ud));
	assert_int_equal(match_inode(t, &f, SD_MATCH_UNCONN_REPLY), ino(w->ud));
}

static void test_kernel_support(void **state)
{
	static const int protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP,
				      IPPROTO_DCCP, IPPROTO_RAW };
	struct sockdiag *sd;

	if (!need_root()) {
		skip();
		return;
	}
	assert_int_equal(sd_open(&sd, NULL), 0);
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		bool v4 = sd_supported(sd, AF_INET, protos[i]);
		bool v6 = sd_supported(sd, AF_INET6, protos[i]);

		print_message("sock_diag proto %3d: ipv4 %s ipv6 %s\n", protos[i],
			      v4 ? "yes" : "no", v6 ? "yes" : "no");
		/* asked once: the answer is remembered */
		assert_int_equal(sd_supported(sd, AF_INET, protos[i]), v4);
		if (!v4)
			assert_int_equal(sd_dump(sd, NULL, AF_INET, protos[i], ~0u), -EOPNOTSUPP);
	}
	assert_true(sd_supported(sd, AF_INET, IPPROTO_TCP));
	assert_true(sd_supported(sd, AF_INET6, IPPROTO_TCP));
	assert_true(sd_supported(sd, AF_INET, IPPROTO_UDP));
	assert_true(sd_supported(sd, AF_INET6, IPPROTO_UDP));
	/* ping sockets come from /proc */
	assert_true(sd_supported(sd, AF_INET, IPPROTO_ICMP));
	assert_false(sd_supported(sd, AF_UNIX, IPPROTO_TCP));
	sd_close(sd);
}

static __u64 own_cgroup_id(void)
{
	static const char *const mounts[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	char line[1024], path[2048];
	struct statfs sfs;
	struct stat st;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f)
		return 0;
	path[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			for (size_t i = 0; i < 2; i++) {
				if (statfs(mounts[i], &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
					continue;
				snprintf(path, sizeof(path), "%s%s", mounts[i], line + 3);
				break;
			}
		}
	}
	fclose(f);
	/* on cgroup2 the directory's inode number is the cgroup id */
	return path[0] && !stat(path, &st) ? st.st_ino : 0;
}

static void test_kernel_dump(void **state)
{
	struct sd_table *t = sd_table_new();
	struct sockdiag *sd;
	struct world w;
	const struct sd_sock *s;
	struct timespec t0, t1;
	__u64 cg;

	if (!need_root()) {
		sd_table_free(t);
		skip();
		return;
	}
	assert_non_null(t);
	assert_int_equal(sd_open(&sd, NULL), 0);
	world_make(&w);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(sd_dump(sd, t, AF_INET, IPPROTO_TCP, ~0u) >= 2);
	assert_true(sd_dump(sd, t, AF_INET6, IPPROTO_TCP, ~0u) >= 5);
	assert_true(sd_dump(sd, t, AF_INET, IPPROTO_UDP, ~0u) >= 3);
	assert_true(sd_dump(sd, t, AF_INET6, IPPROTO_UDP, ~0u) >= 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("dumped %zu sockets in %.3f ms\n", sd_table_count(t),
		      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	check_world(t, &w, false);

	/* a dump restricted to listeners */
	sd_table_clear(t);
	assert_true(sd_dump(sd, t, AF_INET, IPPROTO_TCP, 1u << TCP_LISTEN) >= 1);
	for (size_t i = 0; i < sd_table_count(t); i++)
		assert_int_equal(sd_table_get(t, i)->state, TCP_LISTEN);
	expect(bound(t, AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(w.l4), true), w.l4);
	assert_null(conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(w.c4), "127.0.0.1",
			 port_of(w.l4)));

	/* the socket's cgroup id is the cgroup of its creator: ours */
	sd_table_clear(t);
	assert_true(sd_dump(sd, t, AF_INET, IPPROTO_TCP, ~0u) >= 2);
	s = conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(w.c4), "127.0.0.1", port_of(w.l4));
	assert_non_null(s);
	cg = own_cgroup_id();
	print_message("cgroup id: socket %llu, ours %llu\n", (unsigned long long)s->cgroup_id,
		      (unsigned long long)cg);
	if (cg)
		assert_true(s->cgroup_id == cg);
	world_free(&w);
	sd_close(sd);
	sd_table_free(t);
}

static void qset(struct sd_query *q, int family, int proto, const char *l, __u16 lp,
		 const char *r, __u16 rp)
{
	memset(q, 0, sizeof(*q));
	q->family = family;
	q->proto = proto;
	addr(family, l, q->laddr);
	addr(family, r, q->raddr);
	q->lport = lp;
	q->rport = rp;
}

static void test_kernel_exact(void **state)
{
	struct sd_table *t = sd_table_new();
	struct sd_query q[16];
	struct sockdiag *sd;
	struct world w;
	__u16 p4, pd;
	size_t n = 0;

	if (!need_root()) {
		sd_table_free(t);
		skip();
		return;
	}
	assert_non_null(t);
	assert_int_equal(sd_open(&sd, NULL), 0);
	world_make(&w);
	p4 = port_of(w.l4);
	pd = port_of(w.ld);

	qset(&q[n++], AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(w.c4), "127.0.0.1", p4);
	qset(&q[n++], AF_INET, IPPROTO_TCP, "127.0.0.1", p4, "127.0.0.1", port_of(w.c4));
	/* no connection with this peer: the kernel answers with the listener */
	qset(&q[n++], AF_INET, IPPROTO_TCP, "127.0.0.1", p4, "127.0.0.9", 1);
	qset(&q[n++], AF_INET6, IPPROTO_TCP, "::1", port_of(w.c6), "::1", port_of(w.l6));
	qset(&q[n++], AF_INET6, IPPROTO_TCP, "::1", port_of(w.l6), "::1", port_of(w.c6));
	qset(&q[n++], AF_INET6, IPPROTO_TCP, "::1", port_of(w.l6), "::1", 1);
	/* IPv4 questions find the dual-stack sockets */
	qset(&q[n++], AF_INET, IPPROTO_TCP, "127.0.0.1", pd, "127.0.0.1", port_of(w.cd));
	qset(&q[n++], AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(w.cd), "127.0.0.1", pd);
	qset(&q[n++], AF_INET, IPPROTO_TCP, "127.0.0.1", pd, "127.0.0.9", 2);
	/* nothing there */
	qset(&q[n++], AF_INET, IPPROTO_TCP, "127.0.0.1", 1, "127.0.0.1", 2);
	assert_int_equal(sd_lookup(sd, t, q, n), n - 1);

	n = 0;
	qset(&q[n++], AF_INET, IPPROTO_UDP, "127.0.0.1", port_of(w.u1), "127.0.0.1",
	     port_of(w.u2));
	/* unconnected sockets are found by any peer */
	qset(&q[n++], AF_INET, IPPROTO_UDP, "127.0.0.1", port_of(w.u2), "127.0.0.9", 9);
	qset(&q[n++], AF_INET, IPPROTO_UDP, "127.0.0.1", port_of(w.uw), "127.0.0.9", 9);
	qset(&q[n++], AF_INET, IPPROTO_UDP, "127.0.0.1", port_of(w.ud), "127.0.0.9", 9);
	assert_int_equal(sd_lookup(sd, t, q, n), n);
	check_world(t, &w, true);

	/* one protocol per call */
	q[1].proto = IPPROTO_TCP;
	assert_int_equal(sd_lookup(sd, t, q, 2), -EINVAL);
	world_free(&w);
	sd_close(sd);
	sd_table_free(t);
}

/* Many exact lookups in one call: more than one batch. */
static void test_kernel_exact_many(void **state)
{
	struct sd_table *t = sd_table_new();
	struct sd_query *q = calloc(300, sizeof(*q));
	struct sockdiag *sd;
	int l, c[150];

	if (!need_root()) {
		sd_table_free(t);
		free(q);
		skip();
		return;
	}
	assert_non_null(t);
	assert_non_null(q);
	assert_int_equal(sd_open(&sd, NULL), 0);
	l = mksocket(AF_INET, SOCK_STREAM, "127.0.0.1", 0, -1);
	for (int i = 0; i < 150; i++) {
		c[i] = mkconnect(AF_INET, SOCK_STREAM, "127.0.0.1", port_of(l));
		qset(&q[2 * i], AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(c[i]), "127.0.0.1",
		     port_of(l));
		/* not accepted: no inode yet, still found */
		qset(&q[2 * i + 1], AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(l), "127.0.0.1",
		     port_of(c[i]));
	}
	assert_int_equal(sd_lookup(sd, t, q, 300), 300);
	for (int i = 0; i < 150; i++) {
		const struct sd_sock *s = conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(l),
					       "127.0.0.1", port_of(c[i]));

		expect(conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", port_of(c[i]), "127.0.0.1",
			    port_of(l)), c[i]);
		assert_non_null(s);
		assert_int_equal(s->inode, 0);
	}
	for (int i = 0; i < 150; i++)
		close(c[i]);
	close(l);
	free(q);
	sd_close(sd);
	sd_table_free(t);
}

/* A child makes the connection: its inode must map to the child's pid. */
static void test_kernel_fork_procmap(void **state)
{
	struct sd_table *t = sd_table_new();
	struct procmap *pm = procmap_new(NULL);
	struct procmap_info pi;
	struct sockdiag *sd;
	struct sd_query q;
	const struct sd_sock *s;
	int l, a, status, up[2], down[2];
	__u16 cport = 0;
	pid_t pid;

	if (!need_root()) {
		sd_table_free(t);
		procmap_free(pm);
		skip();
		return;
	}
	assert_non_null(t);
	assert_non_null(pm);
	assert_int_equal(sd_open(&sd, NULL), 0);
	l = mksocket(AF_INET, SOCK_STREAM, "127.0.0.1", 0, -1);
	assert_int_equal(pipe2(up, O_CLOEXEC), 0);
	assert_int_equal(pipe2(down, O_CLOEXEC), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port_of(l)) };
		socklen_t len = sizeof(sin);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		char b;

		/* the parent's objects: valgrind checks the child's heap too */
		sd_close(sd);
		procmap_free(pm);
		sd_table_free(t);
		prctl(PR_SET_NAME, "sdtest-child");
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
		    getsockname(fd, (struct sockaddr *)&sin, &len))
			_exit(1);
		cport = ntohs(sin.sin_port);
		if (write(up[1], &cport, sizeof(cport)) != sizeof(cport))
			_exit(1);
		/* stay until the parent has looked */
		(void)!read(down[0], &b, 1);
		_exit(0);
	}
	assert_int_equal(read(up[0], &cport, sizeof(cport)), sizeof(cport));
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(a >= 0);

	qset(&q, AF_INET, IPPROTO_TCP, "127.0.0.1", cport, "127.0.0.1", port_of(l));
	assert_int_equal(sd_lookup(sd, t, &q, 1), 1);
	s = conn(t, AF_INET, IPPROTO_TCP, "127.0.0.1", cport, "127.0.0.1", port_of(l));
	assert_non_null(s);
	assert_true(s->inode != 0);
	assert_int_equal(procmap_lookup(pm, s->inode, &pi), 0);
	assert_int_equal(pi.pid, pid);
	assert_string_equal(pi.comm, "sdtest-child");
	/* and the accepted end is ours */
	assert_int_equal(procmap_lookup(pm, ino(a), &pi), 0);
	assert_int_equal(pi.pid, getpid());

	assert_int_equal(write(down[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(a);
	close(l);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	sd_close(sd);
	procmap_free(pm);
	sd_table_free(t);
}

/* In the child, in a fresh netns: 0 if all went well, else the number of the failed step. */
static int ping_child(void)
{
	struct sockaddr_in d = { .sin_family = AF_INET };
	struct sockaddr_in6 d6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct icmphdr h = { .type = ICMP_ECHO };
	struct icmp6_hdr h6 = { .icmp6_type = ICMP6_ECHO_REQUEST };
	struct ifreq ifr = { .ifr_name = "lo" };
	struct sd_table *t = NULL;
	struct sockdiag *sd = NULL;
	const struct sd_sock *s;
	enum sd_match_how how;
	struct flow f;
	int fd, p4 = -1, p6 = -1, ret;

	if (unshare(CLONE_NEWNET))
		return 1;
	/* per netns: this does not change the host's setting */
	fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0 2147483647", 12) != 12)
		return 2;
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		return 3;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		return 3;
	close(fd);

	p4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
	p6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
	if (p4 < 0 || p6 < 0)
		return 4;
	/* the first send binds the socket and picks the echo id */
	if (sendto(p4, &h, sizeof(h), 0, (struct sockaddr *)&d, sizeof(d)) < 0 ||
	    sendto(p6, &h6, sizeof(h6), 0, (struct sockaddr *)&d6, sizeof(d6)) < 0)
		return 5;

	ret = 6;
	t = sd_table_new();
	if (!t || sd_open(&sd, NULL))
		goto out;
	ret = 7;
	if (sd_load_ping(sd, t, AF_INET) != 1 || sd_load_ping(sd, t, AF_INET6) != 1)
		goto out;

	f = mkflow(AF_INET, IPPROTO_ICMP, "127.0.0.1", port_of(p4), "127.0.0.1", ICMP_ECHO << 8);
	ret = 8;
	s = sd_match_flow(t, &f, &how);
	if (!s || s->inode != ino(p4) || how != SD_MATCH_UNCONN_ORIG)
		goto out;
	f = mkflow(AF_INET6, IPPROTO_ICMPV6, "::1", port_of(p6), "::1", ICMP6_ECHO_REQUEST << 8);
	ret = 9;
	s = sd_match_flow(t, &f, &how);
	if (!s || s->inode != ino(p6) || how != SD_MATCH_UNCONN_ORIG)
		goto out;
	/* inet_diag cannot list ping sockets here: no handler answers for ICMP */
	ret = 0;
out:
	sd_close(sd);
	sd_table_free(t);
	close(p4);
	close(p6);
	return ret;
}

static void test_kernel_ping(void **state)
{
	int status;
	pid_t pid;

	if (!need_root()) {
		skip();
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(ping_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status))
		print_message("ping child failed at step %d\n", WEXITSTATUS(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_bad_lengths),
		cmocka_unit_test(test_parse_unknown_attrs),
		cmocka_unit_test(test_parse_errors_and_seq),
		cmocka_unit_test(test_parse_fuzz),
		cmocka_unit_test(test_parse_proc_net),
		cmocka_unit_test(test_match_tcp),
		cmocka_unit_test(test_match_udp_and_dualstack),
		cmocka_unit_test(test_match_tcp_mapped),
		cmocka_unit_test(test_match_icmp),
		cmocka_unit_test(test_table_prefers_inode_and_grows),
		cmocka_unit_test(test_kernel_support),
		cmocka_unit_test(test_kernel_dump),
		cmocka_unit_test(test_kernel_exact),
		cmocka_unit_test(test_kernel_exact_many),
		cmocka_unit_test(test_kernel_fork_procmap),
		cmocka_unit_test(test_kernel_ping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
