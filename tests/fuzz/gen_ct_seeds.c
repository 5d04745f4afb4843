/*
 * gen_ct_seeds.c - write valid conntrack messages into a directory: the seed corpus of
 * fuzz_ct_parse (one message per file) or, with "ct_stream", of fuzz_ct_stream (batches of
 * messages as recv() returns them, behind that fuzzer's 3 header bytes). tools/fuzz builds and
 * runs it; usage: gen_ct_seeds DIR [ct_parse|ct_stream]
 *
 * Messages come from tests/unit/ct_build.h; one gets the attributes ct_build.h does not emit
 * (zone, stop timestamp, 32-bit counters, DCCP state) appended, so every branch of
 * ct_parse() has a seed that reaches it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_build.h"

static int write_seed(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "gen_ct_seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The messages, each at a 4-aligned offset of msgs[]. */
static char msgs[16][1024] __attribute__((aligned(4)));
static size_t msg_len[16];
static const char *msg_name[16];
static int nmsgs;

static struct nlmsghdr *add(const char *name, const struct ctb *b)
{
	msg_name[nmsgs] = name;
	msg_len[nmsgs] = ctb_build(msgs[nmsgs], b);
	return (struct nlmsghdr *)msgs[nmsgs++];
}

/* A fuzz_ct_stream seed: flags, budget, split, then the messages i[0..n) back to back. */
static int stream_seed(const char *dir, const char *name, unsigned char flags,
		       unsigned char budget, const int *idx, int n, __u16 tail_type)
{
	static char buf[8192] __attribute__((aligned(4)));
	size_t off = 4;	/* payload 4-aligned in buf, the 3 header bytes just before it */
	struct nlmsghdr *nlh;

	memset(buf, 0, sizeof(buf));
	buf[1] = (char)flags;
	buf[2] = (char)budget;
	for (int k = 0; k < n; k++) {
		memcpy(buf + off, msgs[idx[k]], msg_len[idx[k]]);
		nlh = (struct nlmsghdr *)(buf + off);
		nlh->nlmsg_seq = 1;
		nlh->nlmsg_flags |= flags & 1 ? NLM_F_MULTI : 0;
		off += MNL_ALIGN(msg_len[idx[k]]);
		/* split after the first message */
		if (k == 0 && (flags & 4))
			buf[3] = (char)((off - 4) / 4);
	}
	if (tail_type) {
		nlh = (struct nlmsghdr *)(buf + off);
		nlh->nlmsg_type = tail_type;
		nlh->nlmsg_seq = 1;
		if (tail_type == NLMSG_ERROR) {
			struct nlmsgerr e = { .error = -EPERM };

			nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(e);
			memcpy(buf + off + MNL_NLMSG_HDRLEN, &e, sizeof(e));
		} else {
			nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(int);
		}
		off += MNL_ALIGN(nlh->nlmsg_len);
	}
	return write_seed(dir, name, buf + 1, off - 1);
}

int main(int argc, char **argv)
{
	const struct ctb tcp4 = {
		.family = AF_INET, .proto = IPPROTO_TCP, .src = "10.0.0.1", .dst = "10.0.0.2",
		.sport = 40000, .dport = 443, .id = 12345, .msgtype = IPCTNL_MSG_CT_NEW,
		.nlflags = NLM_F_CREATE, .state = 3, .counters = 1, .opk = 10, .oby = 1000,
		.rpk = 8, .rby = 9000, .tstart = 1700000000123456789ULL, .status = 0xe, .mark = 7,
		.timeout = 300,
	};
	const struct ctb udp6_nat = {
		.family = AF_INET6, .proto = IPPROTO_UDP, .src = "fd00::1", .dst = "2001:db8::53",
		.rsrc = "fd00::53", .rdst = "fd00::1", .sport = 5353, .dport = 53, .rsport = 5300,
		.id = 99, .msgtype = IPCTNL_MSG_CT_NEW, .state = -1, .status = 0x1b0,
		.timeout = 30,
	};
	const struct ctb icmp4 = {
		.family = AF_INET, .proto = IPPROTO_ICMP, .src = "192.168.1.10", .dst = "8.8.8.8",
		.sport = 0x1234, .id = 7, .msgtype = IPCTNL_MSG_CT_DELETE, .state = -1,
		.icmp_type = 8, .icmp_code = 0, .counters = 1, .opk = 1, .oby = 84, .rpk = 1,
		.rby = 84,
	};
	const struct ctb icmp6 = {
		.family = AF_INET6, .proto = IPPROTO_ICMPV6, .src = "::1", .dst = "::1",
		.sport = 77, .id = 8, .msgtype = IPCTNL_MSG_CT_NEW, .nlflags = NLM_F_EXCL,
		.state = -1, .icmp_type = 128,
	};
	const struct ctb sctp4 = {
		.family = AF_INET, .proto = IPPROTO_SCTP, .src = "10.1.0.1", .dst = "10.1.0.2",
		.sport = 3868, .dport = 3868, .id = 4242, .msgtype = IPCTNL_MSG_CT_NEW, .state = 3,
		.tstart = 1, .mark = 0xffffffff,
	};
	const struct ctb dccp6 = {
		.family = AF_INET6, .proto = IPPROTO_DCCP, .src = "fe80::1", .dst = "fe80::2",
		.sport = 1000, .dport = 5004, .id = 5, .msgtype = IPCTNL_MSG_CT_DELETE, .state = 2,
	};
	static const int events[] = { 0, 1, 2, 3 }, dump[] = { 0, 1, 4, 5 }, one[] = { 6 };
	const char *dir, *mode;
	struct nlmsghdr *nlh;
	struct nlattr *n;
	int bad = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DIR [ct_parse|ct_stream]\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	mode = argc == 3 ? argv[2] : "ct_parse";

	add("tcp4-counters-tstamp", &tcp4);
	add("udp6-nat", &udp6_nat);
	add("icmp4-destroy", &icmp4);
	add("icmp6-echo", &icmp6);
	add("sctp4-state", &sctp4);
	add("dccp6-destroy", &dccp6);

	/* TCP again, with what ct_build.h leaves out appended after CTA_ID */
	nlh = add("tcp4-extras", &tcp4);
	mnl_attr_put_u16(nlh, CTA_ZONE, htons(3));
	n = mnl_attr_nest_start(nlh, CTA_TIMESTAMP);
	mnl_attr_put_u64(nlh, CTA_TIMESTAMP_START, htobe64(1700000000000000000ULL));
	mnl_attr_put_u64(nlh, CTA_TIMESTAMP_STOP, htobe64(1700000001000000000ULL));
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_COUNTERS_ORIG);
	mnl_attr_put_u32(nlh, CTA_COUNTERS32_PACKETS, htonl(3));
	mnl_attr_put_u32(nlh, CTA_COUNTERS32_BYTES, htonl(180));
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	mnl_attr_put_u16(nlh, CTA_TUPLE_ZONE, htons(3));
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
	mnl_attr_nest_end(nlh, mnl_attr_nest_start(nlh, CTA_PROTOINFO_DCCP));
	mnl_attr_nest_end(nlh, n);
	msg_len[nmsgs - 1] = nlh->nlmsg_len;

	if (!strcmp(mode, "ct_stream")) {
		bad |= stream_seed(dir, "events", 0, 15, events, 4, 0);
		bad |= stream_seed(dir, "events-overrun", 2, 0, events, 2, 0);
		bad |= stream_seed(dir, "dump-done", 1, 63, dump, 4, NLMSG_DONE);
		bad |= stream_seed(dir, "dump-budget2-split", 1 | 4, 1, dump, 4, NLMSG_DONE);
		bad |= stream_seed(dir, "dump-error", 1, 63, one, 1, NLMSG_ERROR);
		return bad ? 1 : 0;
	}
	if (strcmp(mode, "ct_parse")) {
		fprintf(stderr, "gen_ct_seeds: unknown corpus %s\n", mode);
		return 2;
	}
	for (int i = 0; i < nmsgs; i++)
		bad |= write_seed(dir, msg_name[i], msgs[i], msg_len[i]);

	/* a message with a trailer: odd nlmsg_pid, so the fuzzer keeps nlmsg_len */
	{
		static char buf[2048] __attribute__((aligned(4)));

		memcpy(buf, msgs[1], msg_len[1]);
		nlh = (struct nlmsghdr *)buf;
		nlh->nlmsg_pid = 1;
		nlh = (struct nlmsghdr *)(buf + MNL_ALIGN(msg_len[1]));
		nlh->nlmsg_len = sizeof(*nlh);
		nlh->nlmsg_type = NLMSG_DONE;
		bad |= write_seed(dir, "udp6-trailer", buf, MNL_ALIGN(msg_len[1]) + sizeof(*nlh));
	}
	return bad ? 1 : 0;
}
