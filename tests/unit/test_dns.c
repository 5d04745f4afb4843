/* objs: dns */
/* test_dns.c - DNS responses: A/AAAA/CNAME, compression, and hostile or broken messages. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dns.h"

/* a message under construction */
struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

/* "www.example.com" as labels */
static void put_name(struct msg *m, const char *name)
{
	while (*name) {
		size_t l = strcspn(name, ".");
		uint8_t lb = (uint8_t)l;

		put(m, &lb, 1);
		put(m, name, l);
		name += l + (name[l] == '.');
	}
	put(m, "", 1);
}

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

/* a record whose owner is a pointer to offset ptr (0 = write name instead) */
static void rr(struct msg *m, const char *name, uint16_t ptr, uint16_t type, const void *data,
	       uint16_t dlen)
{
	if (ptr)
		put16(m, (uint16_t)(0xc000 | ptr));
	else
		put_name(m, name);
	put16(m, type);
	put16(m, 1);
	put32(m, 300);
	put16(m, dlen);
	put(m, data, dlen);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_compressed),
		cmocka_unit_test(test_cname_chain_and_aaaa),
		cmocka_unit_test(test_pointer_loops),
		cmocka_unit_test(test_truncated_and_bad),
		cmocka_unit_test(test_hostile_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
