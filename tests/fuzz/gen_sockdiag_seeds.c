/*
 * gen_sockdiag_seeds.c - write the seed corpus of fuzz_sockdiag into a directory: sock_diag
 * answers and /proc/net/icmp{,6} text, each behind the two bytes that fuzz_sockdiag.c reads
 * first (parser selector, protocol). tools/fuzz builds and runs it; usage:
 * gen_sockdiag_seeds DIR [sockdiag]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

static char buf[32768] __attribute__((aligned(4)));
static size_t off;

static void put_diag(__u32 seq, int family, __u8 state, const char *src, __u16 sport,
		     const char *dst, __u16 dport, __u32 inode, __u32 uid)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(buf + off);
	struct inet_diag_msg *m = NLMSG_DATA(nlh);
	unsigned char a[16];

	memset(nlh, 0, NLMSG_SPACE(sizeof(*m)));
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*m));
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	m->idiag_family = family;
	m->idiag_state = state;
	m->id.idiag_sport = htons(sport);
	m->id.idiag_dport = htons(dport);
	memset(a, 0, sizeof(a));
	inet_pton(family, src, a);
	memcpy(m->id.idiag_src, a, 16);
	memset(a, 0, sizeof(a));
	inet_pton(family, dst, a);
	memcpy(m->id.idiag_dst, a, 16);
	m->idiag_inode = inode;
	m->idiag_uid = uid;
}

/* Append an attribute to the message being built at off. */
static void put_attr(__u16 type, const void *data, size_t len)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(buf + off);
	struct nlattr *a = (struct nlattr *)((char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));

	memset(a, 0, NLA_ALIGN(NLA_HDRLEN + len));
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + a->nla_len;
}

static void end_msg(void)
{
	off += NLMSG_ALIGN(((struct nlmsghdr *)(buf + off))->nlmsg_len);
}

static void put_ctl(__u16 type, __u32 seq, int err)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(buf + off);
	size_t len = type == NLMSG_ERROR ? sizeof(struct nlmsgerr) : sizeof(int);

	memset(nlh, 0, NLMSG_SPACE(len));
	nlh->nlmsg_len = NLMSG_LENGTH(len);
	nlh->nlmsg_type = type;
	nlh->nlmsg_seq = seq;
	memcpy(NLMSG_DATA(nlh), &err, sizeof(err));
	end_msg();
}

/* Start a seed: selector byte and protocol byte, then the payload from offset 4. */
static void begin(unsigned char sel, unsigned char proto)
{
	memset(buf, 0, sizeof(buf));
	/* payload kept 4-aligned in buf; the two header bytes sit just before it */
	buf[2] = (char)sel;
	buf[3] = (char)proto;
	off = 4;
}

static int write_seed(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf + 2, 1, off - 2, f) != off - 2 || fclose(f)) {
		fprintf(stderr, "gen_sockdiag_seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int text_seed(const char *dir, const char *name, unsigned char sel, const char *text)
{
	begin(sel, 0);
	memcpy(buf + off, text, strlen(text));
	off += strlen(text);
	return write_seed(dir, name);
}

int main(int argc, char **argv)
{
	static const char icmp[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
		"   uid  timeout inode ref pointer drops             \n"
		"   48: 00000000:90A9 00000000:0000 07 00000000:00000340 00:00000000 00000000"
		"     0        0 9003 2 000000000e47fcd6 0          \n"
		"   49: 0100007F:0102 0202000A:0000 01 00000000:00000000 00:00000000 00000000"
		"  1000        0 9004 2 0000000000000000 0\n";
	static const char icmp6[] =
		"  sl  local_address                         remote_address                 "
		"       st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer"
		" drops\n"
		"    1: 00000000000000000000000001000000:1234 00000000000000000000000000000000:0000"
		" 07 00000000:00000000 00:00000000 00000000     0        0 7001 2 0000000000000000"
		" 0\n"
		"    2: 0000000000000000FFFF00000100007F:0042 0000000000000000FFFF00000200000A:0000"
		" 01 00000000:00000000 00:00000000 00000000  1000        0 7002 2 0000000000000000"
		" 0\n";
	const unsigned long long cg = 0x1234;
	const unsigned char one = 1;
	int bad = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DIR [sockdiag]\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1];

	/* a TCP dump: established v4, v6 listener with attributes, dual-stack v4-mapped, DONE */
	begin(0, IPPROTO_TCP);
	put_diag(0, AF_INET, TCP_ESTABLISHED, "10.0.0.1", 40000, "10.0.0.2", 443, 1001, 1000);
	put_attr(INET_DIAG_CGROUP_ID, &cg, sizeof(cg));
	end_msg();
	put_diag(0, AF_INET6, TCP_LISTEN, "::", 22, "::", 0, 1002, 0);
	put_attr(INET_DIAG_SKV6ONLY, &one, 1);
	put_attr(INET_DIAG_CGROUP_ID, &cg, sizeof(cg));
	end_msg();
	put_diag(0, AF_INET6, TCP_ESTABLISHED, "::ffff:127.0.0.1", 22, "::ffff:127.0.0.1", 50000,
		 1003, 0);
	end_msg();
	put_diag(0, AF_INET, TCP_TIME_WAIT, "10.0.0.1", 40001, "10.0.0.2", 443, 0, 0);
	end_msg();
	put_ctl(NLMSG_DONE, 0, 0);
	bad |= write_seed(dir, "dump-tcp");

	/* UDP lookups answered in a batch: in range, out of range, an error */
	begin(1, IPPROTO_UDP);
	put_diag(100, AF_INET, TCP_CLOSE, "0.0.0.0", 53, "0.0.0.0", 0, 2001, 0);
	end_msg();
	put_diag(150, AF_INET6, TCP_ESTABLISHED, "fd00::1", 5353, "fd00::2", 53, 2002, 1000);
	end_msg();
	put_diag(300, AF_INET, TCP_CLOSE, "10.0.0.1", 53, "0.0.0.0", 0, 2003, 0);
	end_msg();
	put_ctl(NLMSG_ERROR, 101, -ENOENT);
	bad |= write_seed(dir, "lookup-udp");

	/* a support probe: no table, only an error */
	begin(4, IPPROTO_SCTP);
	put_ctl(NLMSG_ERROR, 0, -ENOENT);
	bad |= write_seed(dir, "probe-sctp");

	/* one message for sd_parse_msg */
	begin(2, IPPROTO_TCP);
	put_diag(0, AF_INET6, TCP_LISTEN, "::", 80, "::", 0, 3001, 33);
	put_attr(INET_DIAG_SKV6ONLY, &one, 1);
	end_msg();
	bad |= write_seed(dir, "msg-tcp6");

	/* more sockets than the table's first allocation (256): it grows and rehashes */
	begin(0, IPPROTO_UDP);
	for (int i = 0; i < 300; i++) {
		char a[64];

		snprintf(a, sizeof(a), "10.%d.%d.1", i / 200, i % 200);
		put_diag(0, AF_INET, i % 3 ? TCP_ESTABLISHED : TCP_CLOSE, a, 1024 + i,
			 i % 3 ? "192.0.2.1" : "0.0.0.0", i % 3 ? 53 : 0, 4000 + i, 0);
		end_msg();
	}
	put_ctl(NLMSG_DONE, 0, 0);
	bad |= write_seed(dir, "dump-udp-300");

	bad |= text_seed(dir, "proc-icmp", 3, icmp);
	bad |= text_seed(dir, "proc-icmp6", 3 | 4, icmp6);
	return bad ? 1 : 0;
}
