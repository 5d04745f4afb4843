/* objs: dns */
/* test_dns.c - DNS responses: A/AAAA/CNAME, PTR, compression, and hostile or broken messages. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dns_build.h"

#include "dns.h"

static void header(struct msg *m, uint16_t flags, uint16_t qd, uint16_t an)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void question(struct msg *m, const char *name, uint16_t type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}

/* a record whose owner is a pointer to offset ptr (0 = write name instead), with its TTL */
static void rr_ttl(struct msg *m, const char *name, uint16_t ptr, uint16_t type, uint32_t ttl,
		   const void *data, uint16_t dlen)
{
	if (ptr)
		put16(m, (uint16_t)(0xc000 | ptr));
	else
		put_name(m, name);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, dlen);
	put(m, data, dlen);
}

static void rr(struct msg *m, const char *name, uint16_t ptr, uint16_t type, const void *data,
	       uint16_t dlen)
{
	rr_ttl(m, name, ptr, type, 300, data, dlen);
}

struct got {
	int n;
	char qname[DNS_NAME_MAX];
	uint8_t family[8];
	uint8_t addr[8][16];
};

static void collect(void *ctx, const struct dns_addr *a)
{
	struct got *g = ctx;

	if (g->n < 8) {
		snprintf(g->qname, sizeof(g->qname), "%s", a->qname);
		g->family[g->n] = a->family;
		memcpy(g->addr[g->n], a->addr, 16);
	}
	g->n++;
}

static void test_a_compressed(void **state)
{
	struct msg m;
	struct got g = { 0 };
	const uint8_t ip[4] = { 192, 0, 2, 7 };

	(void)state;
	header(&m, 0x8180, 1, 1);
	question(&m, "WWW.Example.com", 1);
	rr(&m, NULL, 12, 1, ip, 4);	/* owner: pointer to the question's name */
	assert_int_equal(dns_parse_response(m.b, m.n, collect, &g), 1);
	assert_string_equal(g.qname, "www.example.com");
	assert_int_equal(g.family[0], AF_INET);
	assert_memory_equal(g.addr[0], ip, 4);
}

static void test_cname_chain_and_aaaa(void **state)
{
	struct msg m;
	struct got g = { 0 };
	const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	const uint8_t ip[4] = { 198, 51, 100, 9 };
	const uint8_t other[4] = { 203, 0, 113, 1 };
	struct msg cn;

	(void)state;
	header(&m, 0x8180, 1, 4);
	question(&m, "shop.example", 28);
	/* the chain's records in reverse order: the parser must not depend on it */
	rr(&m, "edge.cdn.example", 0, 28, ip6, 16);
	cn.n = 0;
	put_name(&cn, "edge.cdn.example");
	rr(&m, "alias.example", 0, 5, cn.b, (uint16_t)cn.n);
	cn.n = 0;
	put_name(&cn, "alias.example");
	rr(&m, NULL, 12, 5, cn.b, (uint16_t)cn.n);
	rr(&m, "unrelated.example", 0, 1, other, 4);	/* not reached from the question */
	(void)ip;
	assert_int_equal(dns_parse_response(m.b, m.n, collect, &g), 1);
	assert_string_equal(g.qname, "shop.example");
	assert_int_equal(g.family[0], AF_INET6);
	assert_memory_equal(g.addr[0], ip6, 16);
}

static void test_pointer_loops(void **state)
{
	struct msg m;
	char name[DNS_NAME_MAX];
	size_t off;

	(void)state;
	/* a pointer to itself, and two pointing at each other */
	header(&m, 0x8180, 1, 0);
	put16(&m, 0xc000 | 12);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.n, collect, NULL), -EINVAL);
	off = 12;
	assert_int_equal(dns_read_name(m.b, m.n, &off, name, sizeof(name)), -EINVAL);
	header(&m, 0x8180, 1, 0);
	put16(&m, 0xc000 | 14);
	put16(&m, 0xc000 | 12);
	off = 12;
	assert_int_equal(dns_read_name(m.b, m.n, &off, name, sizeof(name)), -EINVAL);
	off = 14;
	assert_int_equal(dns_read_name(m.b, m.n, &off, name, sizeof(name)), -EINVAL);
}

static void test_truncated_and_bad(void **state)
{
	struct msg m;
	struct got g = { 0 };
	const uint8_t ip[4] = { 192, 0, 2, 1 };
	uint8_t long_label[64];

	(void)state;
	header(&m, 0x8180, 1, 2);
	question(&m, "a.example", 1);
	rr(&m, NULL, 12, 1, ip, 4);
	rr(&m, NULL, 12, 1, ip, 4);
	/* every cut of the message: never a crash, never more than was there */
	for (size_t cut = 0; cut < m.n; cut++) {
		int r = dns_parse_response(m.b, cut, collect, &g);

		assert_true(r == -EINVAL || r == 0 || r == 1);
	}
	/* the whole thing: both */
	g.n = 0;
	assert_int_equal(dns_parse_response(m.b, m.n, collect, &g), 2);
	/* a query (no QR bit), an error response, two questions: not for us */
	header(&m, 0x0100, 1, 0);
	question(&m, "a.example", 1);
	assert_int_equal(dns_parse_response(m.b, m.n, collect, &g), 0);
	header(&m, 0x8183, 1, 0);
	question(&m, "a.example", 1);
	assert_int_equal(dns_parse_response(m.b, m.n, collect, &g), 0);
	header(&m, 0x8180, 2, 0);
	assert_int_equal(dns_parse_response(m.b, m.n, collect, &g), 0);
	/* label longer than 63 (0x40 type bits) */
	header(&m, 0x8180, 1, 0);
	long_label[0] = 64;
	memset(long_label + 1, 'a', sizeof(long_label) - 1);
	put(&m, long_label, sizeof(long_label));
	assert_int_equal(dns_parse_response(m.b, m.n, collect, &g), -EINVAL);
	/* an A record with 5 bytes of data is ignored */
	header(&m, 0x8180, 1, 1);
	question(&m, "a.example", 1);
	rr(&m, NULL, 12, 1, "\x01\x02\x03\x04\x05", 5);
	assert_int_equal(dns_parse_response(m.b, m.n, collect, &g), 0);
}

static void test_hostile_names(void **state)
{
	struct msg m;
	char name[DNS_NAME_MAX];
	size_t off = 12;
	uint8_t evil[] = { 9, 0x1b, '[', '2', 'J', 0x07, 'x', '.', 0xc3, 0xa9, 3, 'c', 'o', 'm', 0 };

	(void)state;
	header(&m, 0x8180, 1, 0);
	put(&m, evil, sizeof(evil));
	assert_int_equal(dns_read_name(m.b, m.n, &off, name, sizeof(name)), 0);
	/* escape, bell, dots and non-ASCII inside a label: all '?' */
	assert_string_equal(name, "??2j?x???.com");
	assert_int_equal(off, 12 + sizeof(evil));
}

/* ---- dns_parse_ptr ---- */

#define T_PTR 12
#define T_CNAME 5
#define T_SOA 6

/* the header with an authority count too */
static void header_ns(struct msg *m, uint16_t flags, uint16_t an, uint16_t ns)
{
	header(m, flags, 1, an);
	m->b[8] = (uint8_t)(ns >> 8);
	m->b[9] = (uint8_t)ns;
}

/* rdata holding one uncompressed name */
static uint16_t name_rdata(struct msg *d, const char *name)
{
	d->n = 0;
	put_name(d, name);
	return (uint16_t)d->n;
}

/* an SOA record of the authority section: owner = the question (pointer), given TTL/minimum */
static void soa(struct msg *m, uint32_t ttl, uint32_t minimum)
{
	struct msg d = { .n = 0 };

	put_name(&d, "ns1.example.net");
	put16(&d, 0xc000 | 12);	/* rname compressed: a pointer back to the question */
	put32(&d, 2024010101);	/* serial */
	put32(&d, 7200);	/* refresh */
	put32(&d, 900);		/* retry */
	put32(&d, 1209600);	/* expire */
	put32(&d, minimum);
	rr_ttl(m, NULL, 12, T_SOA, ttl, d.b, (uint16_t)d.n);
}

static void test_ptr_answer(void **state)
{
	struct msg m, d;
	char name[DNS_NAME_MAX];
	uint32_t ttl = 12345;
	uint16_t dl;

	(void)state;
	header(&m, 0x8180, 1, 1);
	question(&m, "7.2.0.192.IN-ADDR.arpa", T_PTR);
	dl = name_rdata(&d, "Host-7.Example.COM");
	rr_ttl(&m, NULL, 12, T_PTR, 3600, d.b, dl);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 1);
	assert_string_equal(name, "host-7.example.com");
	assert_int_equal(ttl, 3600);

	/* the owner written out in other case: still the question's name */
	header(&m, 0x8180, 1, 2);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	dl = name_rdata(&d, "not-this.example");
	rr_ttl(&m, "8.2.0.192.in-addr.arpa", 0, T_PTR, 60, d.b, dl);	/* another owner */
	dl = name_rdata(&d, "MiXeD.CaSe.Example.ORG");
	rr_ttl(&m, "7.2.0.192.In-Addr.ARPA", 0, T_PTR, 86400 * 7, d.b, dl);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 1);
	assert_string_equal(name, "mixed.case.example.org");
	assert_int_equal(ttl, 86400 * 7);

	/* a compressed PTR target (pointer into the question) */
	header(&m, 0x8180, 1, 1);
	question(&m, "1.2.0.192.in-addr.arpa", T_PTR);
	d.n = 0;
	put(&d, "\x04host", 5);
	put16(&d, 0xc000 | 18);	/* offset 18 of the question: "192.in-addr.arpa" */
	rr(&m, NULL, 12, T_PTR, d.b, (uint16_t)d.n);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 1);
	assert_string_equal(name, "host.192.in-addr.arpa");

	/* the output buffer is small: cut, terminated */
	header(&m, 0x8180, 1, 1);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	dl = name_rdata(&d, "a-rather-long-host-name.example.com");
	rr(&m, NULL, 12, T_PTR, d.b, dl);
	memset(name, 'X', sizeof(name));
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, 8, &ttl), 1);
	assert_true(strlen(name) < 8);
	assert_memory_equal(name, "a-rathe", 8);
	assert_int_equal((unsigned char)name[8], 'X');	/* nothing written past namelen */
}

/* RFC 2317: the in-addr.arpa name is a CNAME into the delegated zone, which has the PTR */
static void test_ptr_cname_chain(void **state)
{
	struct msg m, d;
	char name[DNS_NAME_MAX];
	uint32_t ttl = 0;
	uint16_t dl;

	(void)state;
	header(&m, 0x8180, 1, 4);
	question(&m, "5.2.0.192.in-addr.arpa", T_PTR);
	/* the chain's records in reverse order, and a PTR of an unrelated owner first */
	dl = name_rdata(&d, "elsewhere.example");
	rr_ttl(&m, "9.0-25.2.0.192.in-addr.arpa", 0, T_PTR, 10, d.b, dl);
	dl = name_rdata(&d, "Mail.Customer.Example");
	rr_ttl(&m, "5.sub.0-25.2.0.192.in-addr.arpa", 0, T_PTR, 1800, d.b, dl);
	dl = name_rdata(&d, "5.sub.0-25.2.0.192.in-addr.arpa");
	rr_ttl(&m, "5.0-25.2.0.192.in-addr.arpa", 0, T_CNAME, 86400, d.b, dl);
	dl = name_rdata(&d, "5.0-25.2.0.192.in-addr.arpa");
	rr_ttl(&m, NULL, 12, T_CNAME, 86400, d.b, dl);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 1);
	assert_string_equal(name, "mail.customer.example");
	assert_int_equal(ttl, 1800);	/* the PTR record's own TTL */

	/* a CNAME to a name that has no PTR here: no name, not an error */
	header(&m, 0x8180, 1, 2);
	question(&m, "5.2.0.192.in-addr.arpa", T_PTR);
	dl = name_rdata(&d, "5.0-25.2.0.192.in-addr.arpa");
	rr(&m, NULL, 12, T_CNAME, d.b, dl);
	dl = name_rdata(&d, "other.example");
	rr(&m, "6.0-25.2.0.192.in-addr.arpa", 0, T_PTR, d.b, dl);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	assert_int_equal(ttl, 0);

	/* a CNAME loop (a -> b -> a) ends, without a name */
	header(&m, 0x8180, 1, 2);
	question(&m, "a.in-addr.arpa", T_PTR);
	dl = name_rdata(&d, "b.in-addr.arpa");
	rr(&m, NULL, 12, T_CNAME, d.b, dl);
	dl = name_rdata(&d, "a.in-addr.arpa");
	rr(&m, "b.in-addr.arpa", 0, T_CNAME, d.b, dl);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
}

static void test_ptr_negative(void **state)
{
	struct msg m;
	char name[DNS_NAME_MAX];
	uint32_t ttl = 0;
	size_t at;

	(void)state;
	/* NXDOMAIN with the zone's SOA: the SOA minimum when below the SOA's TTL ... */
	header_ns(&m, 0x8183, 0, 1);
	question(&m, "9.2.0.192.in-addr.arpa", T_PTR);
	soa(&m, 3600, 120);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	assert_int_equal(ttl, 120);
	/* ... else the SOA's TTL (RFC 2308: the lower of the two) */
	header_ns(&m, 0x8183, 0, 1);
	question(&m, "9.2.0.192.in-addr.arpa", T_PTR);
	soa(&m, 45, 900);
	ttl = 7;
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	assert_int_equal(ttl, 45);
	/* NXDOMAIN without an authority section: no negative TTL given */
	header(&m, 0x8183, 1, 0);
	question(&m, "9.2.0.192.in-addr.arpa", T_PTR);
	ttl = 7;
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	assert_int_equal(ttl, 0);
	/* NXDOMAIN with an NS record before the SOA in the authority section */
	{
		struct msg d;
		uint16_t dl = name_rdata(&d, "ns.example.net");

		header_ns(&m, 0x8183, 0, 2);
		question(&m, "9.2.0.192.in-addr.arpa", T_PTR);
		rr_ttl(&m, NULL, 12, 2, 3600, d.b, dl);
		soa(&m, 600, 300);
		assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
		assert_int_equal(ttl, 300);
	}
	/* NODATA: NOERROR, no answer, the SOA */
	header_ns(&m, 0x8180, 0, 1);
	question(&m, "9.2.0.192.in-addr.arpa", T_PTR);
	soa(&m, 3600, 60);
	ttl = 7;
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	assert_int_equal(ttl, 60);
	/* NODATA without SOA */
	header(&m, 0x8180, 1, 0);
	question(&m, "9.2.0.192.in-addr.arpa", T_PTR);
	ttl = 7;
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	assert_int_equal(ttl, 0);
	/* an SOA whose rdata is cut short: no TTL taken from it, no read past it */
	header_ns(&m, 0x8183, 0, 1);
	question(&m, "9.2.0.192.in-addr.arpa", T_PTR);
	at = m.n + 2 + 2 + 2 + 4;	/* owner pointer, type, class, TTL: then rdlength */
	soa(&m, 3600, 120);
	m.b[at + 1] = (uint8_t)(m.b[at + 1] - 4);	/* the minimum field falls outside */
	m.n -= 4;
	ttl = 7;
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	assert_int_equal(ttl, 0);
}

static void test_ptr_server_failure(void **state)
{
	static const uint16_t rcodes[] = { 1 /* FORMERR */, 2 /* SERVFAIL */, 4 /* NOTIMP */,
					   5 /* REFUSED */ };
	struct msg m;
	char name[DNS_NAME_MAX];
	uint32_t ttl = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
		header(&m, (uint16_t)(0x8180 | rcodes[i]), 1, 0);
		question(&m, "9.2.0.192.in-addr.arpa", T_PTR);
		ttl = 7;
		assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EAGAIN);
		assert_int_equal(ttl, 0);
	}
	/* SERVFAIL carrying a PTR anyway: still a failure */
	{
		struct msg d;
		uint16_t dl = name_rdata(&d, "host.example");

		header(&m, 0x8182, 1, 1);
		question(&m, "9.2.0.192.in-addr.arpa", T_PTR);
		rr(&m, NULL, 12, T_PTR, d.b, dl);
		assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EAGAIN);
	}
}

static void test_ptr_not_ptr(void **state)
{
	struct msg m, d;
	char name[DNS_NAME_MAX];
	uint32_t ttl = 7;
	const uint8_t ip[4] = { 192, 0, 2, 7 };
	uint16_t dl;

	(void)state;
	/* an A question (with an answer) */
	header(&m, 0x8180, 1, 1);
	question(&m, "www.example.com", 1);
	rr(&m, NULL, 12, 1, ip, 4);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EINVAL);
	assert_int_equal(ttl, 0);
	/* a PTR record answering an AAAA question */
	header(&m, 0x8180, 1, 1);
	question(&m, "7.2.0.192.in-addr.arpa", 28);
	dl = name_rdata(&d, "host.example");
	rr(&m, NULL, 12, T_PTR, d.b, dl);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EINVAL);
	/* a query, not a response */
	header(&m, 0x0100, 1, 0);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EINVAL);
	/* two questions; no question */
	header(&m, 0x8180, 2, 0);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	question(&m, "8.2.0.192.in-addr.arpa", T_PTR);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EINVAL);
	header(&m, 0x8180, 0, 0);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EINVAL);
	/* class CH */
	header(&m, 0x8180, 1, 0);
	put_name(&m, "7.2.0.192.in-addr.arpa");
	put16(&m, T_PTR);
	put16(&m, 3);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EINVAL);
	/* not an opcode QUERY (a NOTIFY response) */
	header(&m, 0xa180, 1, 0);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EINVAL);
	/* shorter than a header */
	assert_int_equal(dns_parse_ptr(m.b, 11, name, sizeof(name), &ttl), -EINVAL);
	assert_int_equal(dns_parse_ptr(m.b, 0, name, sizeof(name), &ttl), -EINVAL);
}

static void test_ptr_truncated(void **state)
{
	struct msg m, d;
	char name[DNS_NAME_MAX];
	uint32_t ttl;
	uint16_t dl;
	size_t qend;
	int r;

	(void)state;
	header(&m, 0x8180, 1, 2);
	question(&m, "5.2.0.192.in-addr.arpa", T_PTR);
	qend = m.n;
	dl = name_rdata(&d, "5.0-25.2.0.192.in-addr.arpa");
	rr(&m, NULL, 12, T_CNAME, d.b, dl);
	dl = name_rdata(&d, "host.example");
	rr(&m, "5.0-25.2.0.192.in-addr.arpa", 0, T_PTR, d.b, dl);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 1);
	assert_string_equal(name, "host.example");
	/* every cut: no crash (valgrind/ASan see reads past the cut), no name from beyond it */
	for (size_t cut = 0; cut < m.n; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);

		assert_non_null(copy);
		memcpy(copy, m.b, cut);
		ttl = 7;
		memset(name, 0, sizeof(name));
		r = dns_parse_ptr(copy, cut, name, sizeof(name), &ttl);
		free(copy);
		if (cut < qend) {
			assert_int_equal(r, -EINVAL);	/* no whole question */
			continue;
		}
		assert_true(r == -EINVAL || r == 0);
		if (r == 0)
			assert_int_equal(ttl, 0);
	}
	/* an rdata that claims more bytes than the message has */
	header(&m, 0x8180, 1, 1);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	dl = name_rdata(&d, "host.example");
	rr(&m, NULL, 12, T_PTR, d.b, dl);
	m.b[m.n - dl - 1] = (uint8_t)(dl + 1);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EINVAL);
	/* a PTR name running past its rdata (rdlength too short) is not taken */
	header(&m, 0x8180, 1, 1);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	dl = name_rdata(&d, "host.example");
	rr(&m, NULL, 12, T_PTR, d.b, dl);
	m.b[m.n - dl - 1] = (uint8_t)(dl - 3);
	m.n -= 3;
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
}

static void test_ptr_compression_loop(void **state)
{
	struct msg m;
	char name[DNS_NAME_MAX];
	uint32_t ttl = 7;
	size_t at;

	(void)state;
	/* the PTR target points at itself */
	header(&m, 0x8180, 1, 1);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	put16(&m, 0xc000 | 12);
	put16(&m, T_PTR);
	put16(&m, 1);
	put32(&m, 300);
	put16(&m, 2);
	at = m.n;
	put16(&m, (uint16_t)(0xc000 | at));
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	/* the target points forwards (at a name that follows) */
	header(&m, 0x8180, 1, 1);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	put16(&m, 0xc000 | 12);
	put16(&m, T_PTR);
	put16(&m, 1);
	put32(&m, 300);
	put16(&m, 2);
	at = m.n;
	put16(&m, (uint16_t)(0xc000 | (at + 2)));
	put_name(&m, "forward.example");
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	/* "x" then a pointer back to itself: x.x.x.x... must end */
	header(&m, 0x8180, 1, 1);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	put16(&m, 0xc000 | 12);
	put16(&m, T_PTR);
	put16(&m, 1);
	put32(&m, 300);
	put16(&m, 4);
	at = m.n;
	put(&m, "\x01x", 2);
	put16(&m, (uint16_t)(0xc000 | at));
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
	/* the question's name is a loop: malformed */
	header(&m, 0x8180, 1, 0);
	put16(&m, 0xc000 | 12);
	put16(&m, T_PTR);
	put16(&m, 1);
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), -EINVAL);
}

static void test_ptr_hostile_name(void **state)
{
	struct msg m;
	char name[DNS_NAME_MAX];
	uint32_t ttl = 7;
	/* ESC [ 3 1 m E V I L BEL 0xff, then an invalid UTF-8 pair and a dot inside a label */
	const uint8_t evil[] = { 11, 0x1b, '[', '3', '1', 'm', 'E', 'V', 'I', 'L', 0x07, 0xff,
				 5, 0xc3, 0x28, '.', 0x80, 'z', 3, 'c', 'o', 'm', 0 };

	(void)state;
	header(&m, 0x8180, 1, 1);
	question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
	rr(&m, NULL, 12, T_PTR, evil, sizeof(evil));
	assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 1);
	assert_string_equal(name, "??31mevil??.????z.com");
	for (const char *p = name; *p; p++)
		assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
			    *p == '_' || *p == '.' || *p == '?');
	/*
	 * the longest legal name (255 octets on the wire) fits DNS_NAME_MAX; a longer one is
	 * refused (257 octets here: the parser lets a 256th octet pass, harmlessly)
	 */
	for (int extra = 0; extra <= 2; extra += 2) {
		uint8_t big[260];
		size_t o = 0;

		for (int l = 0; l < 4; l++) {
			uint8_t n = (uint8_t)(l < 3 ? 63 : 61 + extra);

			big[o++] = n;
			memset(big + o, 0xfe, n);
			o += n;
		}
		big[o++] = 0;
		assert_int_equal(o, 255 + extra);
		header(&m, 0x8180, 1, 1);
		question(&m, "7.2.0.192.in-addr.arpa", T_PTR);
		rr(&m, NULL, 12, T_PTR, big, (uint16_t)o);
		memset(name, 'X', sizeof(name));
		if (!extra) {
			assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 1);
			assert_int_equal(strlen(name), 253);
		} else {
			assert_int_equal(dns_parse_ptr(m.b, m.n, name, sizeof(name), &ttl), 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_compressed),
		cmocka_unit_test(test_cname_chain_and_aaaa),
		cmocka_unit_test(test_pointer_loops),
		cmocka_unit_test(test_truncated_and_bad),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_ptr_answer),
		cmocka_unit_test(test_ptr_cname_chain),
		cmocka_unit_test(test_ptr_negative),
		cmocka_unit_test(test_ptr_server_failure),
		cmocka_unit_test(test_ptr_not_ptr),
		cmocka_unit_test(test_ptr_truncated),
		cmocka_unit_test(test_ptr_compression_loop),
		cmocka_unit_test(test_ptr_hostile_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
