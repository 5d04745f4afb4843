/* fuzz-srcs: user/sockdiag.c */
/* fuzz-libs: -lmnl */
/* fuzz-seeds: tests/fuzz/gen_sockdiag_seeds.c */
/*
 * fuzz_sockdiag.c - libFuzzer target for the sock_diag answer parsers (sd_parse_buf,
 * sd_parse_msg) and the /proc/net/icmp{,6} parser (sd_parse_proc_net) of user/sockdiag.c,
 * then for the table lookups fed with what they parsed.
 *
 * Input: byte 0 picks the parser and its options, byte 1 is the protocol that was asked for
 * (messages do not carry it), the rest is the buffer, copied to the heap at its exact size.
 *   byte 0 & 3 == 0  sd_parse_buf, any seq; bit 2 set: no table (support probe)
 *                 1  sd_parse_buf, seq range [100, 200] (a batch of exact lookups)
 *                 2  sd_parse_msg on the whole buffer, then sd_table_add
 *                 3  sd_parse_proc_net through fmemopen; bit 2: AF_INET6 (icmp6), else icmp
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "sockdiag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Look every parsed socket up again, by its tuple and through a flow, as attribution does. */
static void lookups(struct sd_table *t)
{
	size_t n = sd_table_count(t);

	for (size_t i = 0; i < n; i++) {
		const struct sd_sock *s = sd_table_get(t, i), *r;
		bool unconnected;
		enum sd_match_how how;
		struct flow f;

		if (!s || (s->family != AF_INET && s->family != AF_INET6))
			abort();
		if (i == 0)
			sd_table_add_local(t, s->family, s->laddr);
		unconnected = !s->rport && !memcmp(s->raddr, (__u8[16]){ 0 },
						   s->family == AF_INET ? 4 : 16);
		r = sd_find_conn(t, s->family, s->proto, s->laddr, s->lport, s->raddr, s->rport);
		/* a connected socket is in the full index: it (or a twin) must come back */
		if (!unconnected && !r)
			abort();
		r = sd_find_bound(t, s->family, s->proto, s->laddr, s->lport,
				  s->state == TCP_LISTEN);
		(void)r;

		memset(&f, 0, sizeof(f));
		f.orig.family = f.reply.family = s->family;
		f.orig.proto = f.reply.proto = s->proto;
		memcpy(f.orig.src, s->laddr, 16);
		memcpy(f.orig.dst, s->raddr, 16);
		f.orig.sport = s->lport;
		f.orig.dport = s->rport;
		memcpy(f.reply.src, s->raddr, 16);
		memcpy(f.reply.dst, s->laddr, 16);
		f.reply.sport = s->rport;
		f.reply.dport = s->lport;
		r = sd_match_flow(t, &f, &how);
		if (r && how == SD_MATCH_NONE)
			abort();
		/* the same flow seen from the other end (inbound) */
		f.orig = f.reply;
		memcpy(f.orig.src, s->raddr, 16);
		sd_match_flow(t, &f, &how);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_parse p = { 0 };
	struct sd_table *t;
	struct sd_sock s;
	size_t len;
	char *buf;
	FILE *f;
	int ret;

	if (size < 2)
		return 0;
	len = size - 2;
	buf = malloc(len ? len : 1);
	t = sd_table_new();
	if (!buf || !t)
		abort();
	memcpy(buf, data + 2, len);
	p.proto = data[1];

	switch (data[0] & 3) {
	case 0:
	case 1:
		if (data[0] & 1) {
			p.seq_lo = 100;
			p.seq_hi = 200;
		}
		ret = sd_parse_buf(data[0] & 4 ? NULL : t, &p, buf, len);
		if (ret && ret != -ENOMEM)
			abort();
		if (!ret && !(data[0] & 4) && p.added != sd_table_count(t))
			abort();
		break;
	case 2:
		ret = sd_parse_msg(buf, len, data[1], &s);
		if (ret && ret != -EINVAL)
			abort();
		if (!ret && sd_table_add(t, &s))
			abort();
		break;
	case 3:
		/* fmemopen() does not take an empty buffer everywhere */
		f = len ? fmemopen(buf, len, "r") : NULL;
		if (f) {
			ret = sd_parse_proc_net(t, f, data[0] & 4 ? AF_INET6 : AF_INET,
						data[0] & 4 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
			if (ret >= 0 && (size_t)ret != sd_table_count(t))
				abort();
			fclose(f);
		}
		break;
	}
	lookups(t);
	sd_table_free(t);
	free(buf);
	return 0;
}
