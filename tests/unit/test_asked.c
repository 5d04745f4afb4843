/* objs: asked dns */
/*
 * test_asked.c - the names applications asked for (user/asked.c): addresses learned from DNS
 * answers (A/AAAA, CNAME chains), which answer explains a flow, eviction, and DNS over TCP.
 */
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

#include "asked.h"

#define S 1000000000ULL		/* ns per second */
#define T0 (1000 * S)		/* a CLOCK_MONOTONIC time to start from */
#define T_A 1
#define T_CNAME 5
#define T_AAAA 28

/* a name that must be there (cmocka's string compare would crash on NULL) */
#define assert_name(got, want)                                                    \
	do {                                                                      \
		const char *got_ = (got);                                         \
		if (!got_)                                                        \
			fail_msg("%s is NULL, not \"%s\"", #got, (want));        \
		assert_string_equal(got_, (want));                                \
	} while (0)

/* ---- building DNS messages ---- */

/* a response (NOERROR) to one question of class IN; answers follow with rr() */
static void response(struct msg *m, const char *qname, uint16_t qtype, uint16_t an)
{
	m->n = 0;
	put16(m, 0x4242);
	put16(m, 0x8180);
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

/* a record; owner NULL = a pointer to the question's name */
static void rr(struct msg *m, const char *owner, uint16_t type, uint32_t ttl, const void *data,
	       uint16_t dlen)
{
	if (owner)
		put_name(m, owner);
	else
		put16(m, 0xc000 | 12);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, dlen);
	put(m, data, dlen);
}

static void rr_cname(struct msg *m, const char *owner, const char *target, uint32_t ttl)
{
	struct msg d = { .n = 0 };

	put_name(&d, target);
	rr(m, owner, T_CNAME, ttl, d.b, (uint16_t)d.n);
}

/* "name A ip (ttl)": the whole response */
static void answer_a(struct msg *m, const char *name, const uint8_t ip[4], uint32_t ttl)
{
	response(m, name, T_A, 1);
	rr(m, NULL, T_A, ttl, ip, 4);
}

static int feed_a(const char *name, const uint8_t ip[4], uint32_t ttl, __u64 ts)
{
	struct msg m;

	answer_a(&m, name, ip, ttl);
	return asked_feed(m.b, m.n, ts);
}

static const char *name4(const uint8_t ip[4], __u64 seen)
{
	return asked_name(AF_INET, ip, seen);
}

static int teardown(void **state)
{
	(void)state;
	asked_reset();
	return 0;
}

/* ---- asked_feed / asked_name ---- */

static void test_learn_a(void **state)
{
	const uint8_t ip[4] = { 192, 0, 2, 7 }, other[4] = { 192, 0, 2, 8 };
	unsigned long addrs;
	unsigned long long msgs, bad;

	(void)state;
	assert_null(name4(ip, T0));	/* nothing known yet (and nothing allocated) */
	assert_int_equal(feed_a("WWW.Example.com", ip, 300, T0), 1);
	assert_name(name4(ip, T0 + S), "www.example.com");
	assert_null(name4(other, T0 + S));
	{
		uint8_t as6[16] = { 192, 0, 2, 7 };	/* the same first bytes, as IPv6 */

		assert_null(asked_name(AF_INET6, as6, T0 + S));	/* the family is part of the key */
	}
	assert_null(asked_name(AF_UNIX, ip, T0 + S));
	asked_stats(&addrs, &msgs, &bad);
	assert_int_equal(addrs, 1);
	assert_int_equal(msgs, 1);
	assert_int_equal(bad, 0);
}

static void test_learn_aaaa_cname(void **state)
{
	const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0xbe, [15] = 0xef };
	const uint8_t ip6b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	const uint8_t ip[4] = { 198, 51, 100, 9 }, stray[4] = { 203, 0, 113, 1 };
	struct msg m;

	(void)state;
	/* shop.example -> alias.example -> edge.cdn.example AAAA x2, records in any order */
	response(&m, "shop.example", T_AAAA, 5);
	rr(&m, "edge.cdn.example", T_AAAA, 60, ip6, 16);
	rr_cname(&m, "alias.example", "edge.cdn.example", 3600);
	rr(&m, "edge.cdn.example", T_AAAA, 60, ip6b, 16);
	rr_cname(&m, NULL, "alias.example", 3600);
	rr(&m, "unrelated.example", T_A, 60, stray, 4);	/* not on the chain */
	assert_int_equal(asked_feed(m.b, m.n, T0), 2);
	assert_name(asked_name(AF_INET6, ip6, T0 + S), "shop.example");
	assert_name(asked_name(AF_INET6, ip6b, T0 + S), "shop.example");
	assert_null(name4(stray, T0 + S));
	/* the A answer of a CNAME chain is named after the question too */
	response(&m, "api.example", T_A, 2);
	rr_cname(&m, NULL, "api.edge.example", 300);
	rr(&m, "api.edge.example", T_A, 300, ip, 4);
	assert_int_equal(asked_feed(m.b, m.n, T0), 1);
	assert_name(name4(ip, T0 + S), "api.example");
}

static void test_order_rules(void **state)
{
	const uint8_t ip[4] = { 192, 0, 2, 50 };

	(void)state;
	assert_int_equal(feed_a("a.example", ip, 300, T0 + 10 * S), 1);
	/* a flow seen before the answer was not explained by it */
	assert_null(name4(ip, T0));
	assert_null(name4(ip, T0 + 10 * S - 1));
	assert_name(name4(ip, T0 + 10 * S + 1), "a.example");
	/* TTL + grace: still explains flows until then, not after */
	assert_name(name4(ip, T0 + 10 * S + (300 + ASKED_GRACE_S) * S), "a.example");
	assert_null(name4(ip, T0 + 10 * S + (300 + ASKED_GRACE_S) * S + 1));

	/* three names for one address (a CDN): the newest answer before the flow wins */
	assert_int_equal(feed_a("b.example", ip, 300, T0 + 20 * S), 1);
	assert_int_equal(feed_a("c.example", ip, 300, T0 + 30 * S), 1);
	assert_name(name4(ip, T0 + 15 * S), "a.example");
	assert_name(name4(ip, T0 + 25 * S), "b.example");
	assert_name(name4(ip, T0 + 35 * S), "c.example");
	assert_null(name4(ip, T0 + 5 * S));
	/* a newer answer whose TTL is over does not hide an older one still valid */
	assert_int_equal(ASKED_SLOTS, 4);
	assert_int_equal(feed_a("e.example", ip, 0, T0 + 33 * S), 1);	/* the fourth slot */
	assert_int_equal(feed_a("d.example", ip, 0, T0 + 40 * S), 1);	/* replaces a (oldest) */
	assert_null(name4(ip, T0 + 15 * S));	/* a is gone: only ASKED_SLOTS names kept */
	assert_name(name4(ip, T0 + 45 * S), "d.example");
	assert_name(name4(ip, T0 + 40 * S + ASKED_GRACE_S * S + S), "c.example");
	assert_null(name4(ip, T0 + 30 * S + (300 + ASKED_GRACE_S) * S + 1));
}

/* A flow's own cgroup's answers first, then anyone's (a resolver that asked for it). */
static void test_cgroup_first(void **state)
{
	const uint8_t ip[4] = { 192, 0, 2, 70 };
	struct msg m;

	(void)state;
	answer_a(&m, "mine.example", ip, 300);
	assert_int_equal(asked_feed_from(m.b, m.n, T0, 5), 1);
	answer_a(&m, "theirs.example", ip, 300);
	assert_int_equal(asked_feed_from(m.b, m.n, T0 + S, 7), 1);
	assert_name(asked_name_for(AF_INET, ip, T0 + 2 * S, 5), "mine.example");
	assert_name(asked_name_for(AF_INET, ip, T0 + 2 * S, 7), "theirs.example");
	/* a cgroup that got no answer: the latest of anyone's */
	assert_name(asked_name_for(AF_INET, ip, T0 + 2 * S, 9), "theirs.example");
	assert_name(asked_name(AF_INET, ip, T0 + 2 * S), "theirs.example");
	/* the own cgroup's answer only once it came */
	assert_name(asked_name_for(AF_INET, ip, T0 + S / 2, 7), "mine.example");
	/* the same name in two cgroups: two slots, each its own time */
	answer_a(&m, "mine.example", ip, 300);
	assert_int_equal(asked_feed_from(m.b, m.n, T0 + 3 * S, 7), 1);
	assert_name(asked_name_for(AF_INET, ip, T0 + 4 * S, 7), "mine.example");
	assert_name(asked_name_for(AF_INET, ip, T0 + 2 * S, 7), "theirs.example");
}

static void test_same_name_refreshes(void **state)
{
	const uint8_t ip[4] = { 192, 0, 2, 60 };

	(void)state;
	assert_int_equal(feed_a("a.example", ip, 60, T0), 1);
	assert_int_equal(feed_a("b.example", ip, 60, T0 + 10 * S), 1);
	assert_int_equal(feed_a("c.example", ip, 60, T0 + 20 * S), 1);
	/* a again: its own slot moves forward (no second copy of it)... */
	assert_int_equal(feed_a("a.example", ip, 60, T0 + 30 * S), 1);
	assert_name(name4(ip, T0 + 35 * S), "a.example");
	assert_name(name4(ip, T0 + 25 * S), "c.example");
	/* ...and its lifetime with it: past the first answer's TTL + grace, within the second's */
	assert_name(name4(ip, T0 + (30 + 60 + ASKED_GRACE_S) * S - 1), "a.example");
	/* the slot answered longest ago is now b: d replaces it (e fills the fourth slot), a,
	 * c and e stay; a flow of the time b was the latest answer now gets e, the one
	 * answered before it */
	assert_int_equal(feed_a("e.example", ip, 60, T0 + 12 * S), 1);
	assert_int_equal(feed_a("d.example", ip, 60, T0 + 40 * S), 1);
	assert_name(name4(ip, T0 + 15 * S), "e.example");
	assert_name(name4(ip, T0 + 25 * S), "c.example");
	assert_name(name4(ip, T0 + 35 * S), "a.example");
	assert_name(name4(ip, T0 + 45 * S), "d.example");
}

/*
 * A flow that began after the first answer for a name, and before the same name was answered
 * again (a re-resolution when the TTL ran out, while the connection lives on), keeps that name.
 * flowtop asks names_of() again at every refresh with the flow's first-seen time.
 */
static void test_refresh_keeps_older_flows(void **state)
{
	const uint8_t ip[4] = { 192, 0, 2, 61 };

	(void)state;
	assert_int_equal(feed_a("long.example", ip, 60, T0), 1);
	assert_name(name4(ip, T0 + 5 * S), "long.example");	/* the flow begins */
	assert_int_equal(feed_a("long.example", ip, 60, T0 + 70 * S), 1);	/* re-resolved */
	assert_name(name4(ip, T0 + 5 * S), "long.example");
}

static void test_eviction_fifo(void **state)
{
	struct msg m;
	unsigned long addrs;
	uint32_t i = 0;
	const uint32_t total = ASKED_CAP + 100;
	uint8_t ip[4];

	(void)state;
	/* many A records per message (up to 256 per message are looked at) */
	while (i < total) {
		uint16_t n = (uint16_t)(total - i < 200 ? total - i : 200);

		response(&m, "many.example", T_A, n);
		for (uint16_t k = 0; k < n; k++, i++) {
			ip[0] = 10;
			ip[1] = (uint8_t)(i >> 16);
			ip[2] = (uint8_t)(i >> 8);
			ip[3] = (uint8_t)i;
			rr(&m, NULL, T_A, 300, ip, 4);
		}
		assert_int_equal(asked_feed(m.b, m.n, T0 + i), n);
	}
	asked_stats(&addrs, NULL, NULL);
	assert_int_equal(addrs, ASKED_CAP);
	/* the first 100 in are the first out; the 101st and the last stay */
	for (uint32_t j = 0; j < 101; j++) {
		ip[0] = 10;
		ip[1] = (uint8_t)(j >> 16);
		ip[2] = (uint8_t)(j >> 8);
		ip[3] = (uint8_t)j;
		if (j < 100)
			assert_null(name4(ip, T0 + total + 1));
		else
			assert_name(name4(ip, T0 + total + 1), "many.example");
	}
	ip[1] = (uint8_t)((total - 1) >> 16);
	ip[2] = (uint8_t)((total - 1) >> 8);
	ip[3] = (uint8_t)(total - 1);
	assert_name(name4(ip, T0 + total + 1), "many.example");
	/* an evicted address learned again comes back (and pushes out the next oldest) */
	ip[1] = ip[2] = 0;
	ip[3] = 0;
	assert_int_equal(feed_a("again.example", ip, 300, T0 + total + 2), 1);
	assert_name(name4(ip, T0 + total + 3), "again.example");
	ip[3] = 100;
	assert_null(name4(ip, T0 + total + 3));
	asked_stats(&addrs, NULL, NULL);
	assert_int_equal(addrs, ASKED_CAP);
}

static void test_bad_counted(void **state)
{
	struct msg m;
	const uint8_t ip[4] = { 192, 0, 2, 70 };
	unsigned long long msgs, bad;
	const uint8_t junk[5] = { 1, 2, 3, 4, 5 };

	(void)state;
	assert_int_equal(asked_feed(junk, sizeof(junk), T0), -EINVAL);	/* shorter than a header */
	/* a question name that is a compression loop */
	m.n = 0;
	put16(&m, 1);
	put16(&m, 0x8180);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 0xc000 | 12);
	put16(&m, T_A);
	put16(&m, 1);
	assert_int_equal(asked_feed(m.b, m.n, T0), -EINVAL);
	/* the answer's rdata runs past the end */
	answer_a(&m, "x.example", ip, 300);
	m.b[m.n - 5] = 9;
	assert_int_equal(asked_feed(m.b, m.n, T0), -EINVAL);
	/* not malformed, just not an answer: a query, an NXDOMAIN */
	answer_a(&m, "x.example", ip, 300);
	m.b[2] = 0x01;
	assert_int_equal(asked_feed(m.b, m.n, T0), 0);
	answer_a(&m, "x.example", ip, 300);
	m.b[3] = 0x83;
	assert_int_equal(asked_feed(m.b, m.n, T0), 0);
	asked_stats(NULL, &msgs, &bad);
	assert_int_equal(msgs, 5);
	assert_int_equal(bad, 3);
	assert_null(name4(ip, T0 + S));
	/* asked_reset starts the counts over */
	asked_reset();
	asked_stats(NULL, &msgs, &bad);
	assert_int_equal(msgs, 0);
	assert_int_equal(bad, 0);
}

/* ---- DNS over TCP ---- */

static struct asked_conn conn(int n)
{
	struct asked_conn c;

	memset(&c, 0, sizeof(c));
	c.family = AF_INET;
	c.saddr[0] = 192;
	c.saddr[1] = 0;
	c.saddr[2] = 2;
	c.saddr[3] = 53;
	c.daddr[0] = 10;
	c.daddr[3] = 1;
	c.sport = 53;
	c.dport = (__u16)(40000 + n);
	return c;
}

/* a TCP stream: messages each with a 2-byte length */
struct stream {
	uint8_t b[65536];
	size_t n;
};

static void stream_add(struct stream *s, const struct msg *m)
{
	assert_true(s->n + 2 + m->n <= sizeof(s->b));
	s->b[s->n++] = (uint8_t)(m->n >> 8);
	s->b[s->n++] = (uint8_t)m->n;
	memcpy(s->b + s->n, m->b, m->n);
	s->n += m->n;
}

static void ip_n(uint8_t ip[4], int n)
{
	ip[0] = 198;
	ip[1] = 18;
	ip[2] = (uint8_t)(n >> 8);
	ip[3] = (uint8_t)n;
}

/* the stream of one message "nN.example A 198.18.x.N" */
static void stream_one(struct stream *s, int n)
{
	struct msg m;
	char name[32];
	uint8_t ip[4];

	ip_n(ip, n);
	snprintf(name, sizeof(name), "n%d.example", n);
	answer_a(&m, name, ip, 300);
	s->n = 0;
	stream_add(s, &m);
}

static const char *tcp_name(int n)
{
	uint8_t ip[4];

	ip_n(ip, n);
	return name4(ip, T0 + 100 * S);
}

static void seg(int c, __u32 seq, const struct stream *s, size_t from, size_t to, __u64 ts)
{
	struct asked_conn k = conn(c);

	asked_tcp(&k, seq + (__u32)from, s->b + from, to - from, to - from, ts);
}

static void test_tcp_split(void **state)
{
	struct stream s;
	unsigned long long msgs;

	(void)state;
	/* two segments */
	stream_one(&s, 1);
	seg(1, 1000, &s, 0, 20, T0);
	assert_null(tcp_name(1));
	seg(1, 1000, &s, 20, s.n, T0 + 1);
	assert_name(tcp_name(1), "n1.example");
	/* three segments, the first cut inside the length prefix */
	stream_one(&s, 2);
	seg(2, 5000, &s, 0, 1, T0);
	seg(2, 5000, &s, 1, 9, T0);
	assert_null(tcp_name(2));
	seg(2, 5000, &s, 9, s.n, T0);
	assert_name(tcp_name(2), "n2.example");
	/* sequence numbers wrapping around 2^32 in the middle */
	stream_one(&s, 3);
	seg(3, 0xfffffff0u, &s, 0, 0x14, T0);
	seg(3, 0xfffffff0u, &s, 0x14, s.n, T0);
	assert_name(tcp_name(3), "n3.example");
	asked_stats(NULL, &msgs, NULL);
	assert_int_equal(msgs, 3);
}

static void test_tcp_two_in_one(void **state)
{
	struct stream s;
	struct msg m;
	uint8_t ip[4];
	size_t first;

	(void)state;
	/* two whole messages in one segment */
	s.n = 0;
	ip_n(ip, 10);
	answer_a(&m, "n10.example", ip, 300);
	stream_add(&s, &m);
	first = s.n;
	ip_n(ip, 11);
	answer_a(&m, "n11.example", ip, 300);
	stream_add(&s, &m);
	seg(1, 1, &s, 0, s.n, T0);
	assert_name(tcp_name(10), "n10.example");
	assert_name(tcp_name(11), "n11.example");
	/* the end of one and the start of the next in one segment, then the rest */
	s.n = 0;
	ip_n(ip, 12);
	answer_a(&m, "n12.example", ip, 300);
	stream_add(&s, &m);
	first = s.n;
	ip_n(ip, 13);
	answer_a(&m, "n13.example", ip, 300);
	stream_add(&s, &m);
	seg(2, 7, &s, 0, first - 5, T0);
	seg(2, 7, &s, first - 5, first + 7, T0);
	assert_name(tcp_name(12), "n12.example");
	assert_null(tcp_name(13));
	seg(2, 7, &s, first + 7, s.n, T0);
	assert_name(tcp_name(13), "n13.example");
}

static void test_tcp_retransmission(void **state)
{
	struct stream s;
	unsigned long long msgs, bad;

	(void)state;
	stream_one(&s, 20);
	seg(1, 100, &s, 0, 15, T0);
	seg(1, 100, &s, 0, 15, T0 + 1);	/* the same segment again */
	seg(1, 100, &s, 0, 10, T0 + 2);	/* a part of it */
	seg(1, 100, &s, 15, s.n, T0 + 3);
	assert_name(tcp_name(20), "n20.example");
	seg(1, 100, &s, 15, s.n, T0 + 4);	/* the last one again, after the message */
	seg(1, 100, &s, 0, s.n, T0 + 5);	/* all of it again */
	asked_stats(NULL, &msgs, &bad);
	assert_int_equal(msgs, 1);
	assert_int_equal(bad, 0);
}

static void test_tcp_gap(void **state)
{
	struct stream s1, s2;
	unsigned long long msgs, bad;

	(void)state;
	stream_one(&s1, 30);
	stream_one(&s2, 31);
	seg(1, 100, &s1, 0, 20, T0);	/* a partial message */
	/* 50 bytes are missing: what follows starts anew (here: the next message) */
	seg(1, (__u32)(100 + s1.n + 50), &s2, 0, s2.n, T0 + 1);
	assert_name(tcp_name(31), "n31.example");
	/* the missing part comes late: old data for the new position, ignored */
	seg(1, 100, &s1, 20, s1.n, T0 + 2);
	assert_null(tcp_name(30));
	asked_stats(NULL, &msgs, &bad);
	assert_int_equal(msgs, 1);
	assert_int_equal(bad, 0);
}

/*
 * A gap on one connection must not cost another connection its partial message: the gapped
 * connection's own slot is free again. ASKED_STREAMS connections, each half-way through a
 * message; the first one jumps ahead (a gap) with a whole message; then the others complete.
 */
static void test_tcp_gap_keeps_others(void **state)
{
	static struct stream s[ASKED_STREAMS];
	struct stream next;

	(void)state;
	for (int c = 0; c < ASKED_STREAMS; c++) {
		stream_one(&s[c], 300 + c);
		seg(c, 1000, &s[c], 0, 20, T0 + (__u64)c);
	}
	stream_one(&next, 299);
	seg(0, 1000 + 5000, &next, 0, next.n, T0 + 100);
	assert_name(tcp_name(299), "n299.example");
	for (int c = 1; c < ASKED_STREAMS; c++)
		seg(c, 1000, &s[c], 20, s[c].n, T0 + 200 + (__u64)c);
	for (int c = 1; c < ASKED_STREAMS; c++) {
		char want[32];

		snprintf(want, sizeof(want), "n%d.example", 300 + c);
		assert_name(tcp_name(300 + c), want);
	}
}

static void test_tcp_cut_segment(void **state)
{
	struct stream s;
	struct msg m;
	uint8_t ip[4];
	struct asked_conn k = conn(1);
	size_t cut;

	(void)state;
	/* one message with 3 A records; the segment is captured only up into the third */
	response(&m, "cut.example", T_A, 3);
	for (int i = 0; i < 3; i++) {
		ip_n(ip, 40 + i);
		rr(&m, NULL, T_A, 300, ip, 4);
	}
	s.n = 0;
	stream_add(&s, &m);
	cut = s.n - 6;
	asked_tcp(&k, 1, s.b, s.n, cut, T0);
	assert_name(tcp_name(40), "cut.example");
	assert_name(tcp_name(41), "cut.example");
	assert_null(tcp_name(42));
	/* in two segments, the second cut: the same */
	asked_reset();
	asked_tcp(&k, 1, s.b, 10, 10, T0);
	asked_tcp(&k, 11, s.b + 10, s.n - 10, cut - 10, T0);
	assert_name(tcp_name(40), "cut.example");
	assert_name(tcp_name(41), "cut.example");
	assert_null(tcp_name(42));
	/* caplen 0 or more than len: nothing */
	asked_reset();
	asked_tcp(&k, 1, s.b, s.n, 0, T0);
	asked_tcp(&k, 1, s.b, 10, 11, T0);
	assert_null(tcp_name(40));
	/* a message of more than 64 KiB claimed: the buffer stays bounded, nothing breaks */
	{
		static uint8_t big[70000];

		memset(big, 0xff, sizeof(big));
		asked_tcp(&k, 1, big, sizeof(big), sizeof(big), T0);
		asked_tcp(&k, 1 + sizeof(big), big, sizeof(big), sizeof(big), T0);
	}
}

static void want_tcp(int n)
{
	char want[32];

	snprintf(want, sizeof(want), "n%d.example", n);
	assert_name(tcp_name(n), want);
}

static void test_tcp_many_streams(void **state)
{
	static struct stream s[ASKED_STREAMS + 1];
	const int n = ASKED_STREAMS + 1;

	(void)state;
	/* whole messages in one segment each: any number of connections */
	for (int c = 0; c < 4 * n; c++) {
		stream_one(&s[0], 100 + c);
		seg(c, 1000, &s[0], 0, s[0].n, T0 + (__u64)c);
	}
	for (int c = 0; c < 4 * n; c++)
		want_tcp(100 + c);
	asked_reset();

	/* ASKED_STREAMS + 1 connections each half-way through a message: the oldest is dropped */
	for (int c = 0; c < n; c++) {
		stream_one(&s[c], 200 + c);
		seg(c, 1000, &s[c], 0, 20, T0 + (__u64)c);
	}
	for (int c = n - 1; c >= 1; c--)	/* the newest complete first */
		seg(c, 1000, &s[c], 20, s[c].n, T0 + 100 + (__u64)c);
	for (int c = 1; c < n; c++)
		want_tcp(200 + c);
	/* the dropped one's rest is no message start: nothing from it */
	seg(0, 1000, &s[0], 20, s[0].n, T0 + 200);
	assert_null(tcp_name(200));
}

static void test_tcp_many_streams_cascade(void **state)
{
	static struct stream s[ASKED_STREAMS + 1];
	const int n = ASKED_STREAMS + 1;

	(void)state;
	/*
	 * ASKED_STREAMS + 1 connections half-way through a message, completed oldest first: the
	 * rest of the one dropped comes first and, taken for a new connection, must not push out
	 * another one's partial message (and so on down the line): only the one dropped is lost.
	 */
	for (int c = 0; c < n; c++) {
		stream_one(&s[c], 300 + c);
		seg(c, 1000, &s[c], 0, 20, T0 + (__u64)c);
	}
	for (int c = 0; c < n; c++)
		seg(c, 1000, &s[c], 20, s[c].n, T0 + 100 + (__u64)c);
	assert_null(tcp_name(300));
	for (int c = 1; c < n; c++)
		want_tcp(300 + c);
}

static void test_reset_frees(void **state)
{
	struct stream s;
	const uint8_t ip[4] = { 192, 0, 2, 90 };
	unsigned long addrs;

	(void)state;
	/* learned names in all slots, partial TCP messages in several streams */
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "slot%d.example", i);
		assert_int_equal(feed_a(name, ip, 300, T0 + (__u64)i), 1);
	}
	for (int c = 0; c < ASKED_STREAMS; c++) {
		stream_one(&s, 200 + c);
		seg(c, 1, &s, 0, s.n - 1, T0);
	}
	asked_reset();
	asked_stats(&addrs, NULL, NULL);
	assert_int_equal(addrs, 0);
	assert_null(name4(ip, T0 + 10));
	/* usable again after a reset */
	assert_int_equal(feed_a("again.example", ip, 300, T0), 1);
	assert_name(name4(ip, T0 + 1), "again.example");
	asked_reset();
	asked_reset();	/* twice: harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_learn_a, teardown),
		cmocka_unit_test_teardown(test_learn_aaaa_cname, teardown),
		cmocka_unit_test_teardown(test_order_rules, teardown),
		cmocka_unit_test_teardown(test_cgroup_first, teardown),
		cmocka_unit_test_teardown(test_same_name_refreshes, teardown),
		cmocka_unit_test_teardown(test_refresh_keeps_older_flows, teardown),
		cmocka_unit_test_teardown(test_eviction_fifo, teardown),
		cmocka_unit_test_teardown(test_bad_counted, teardown),
		cmocka_unit_test_teardown(test_tcp_split, teardown),
		cmocka_unit_test_teardown(test_tcp_two_in_one, teardown),
		cmocka_unit_test_teardown(test_tcp_retransmission, teardown),
		cmocka_unit_test_teardown(test_tcp_gap, teardown),
		cmocka_unit_test_teardown(test_tcp_gap_keeps_others, teardown),
		cmocka_unit_test_teardown(test_tcp_cut_segment, teardown),
		cmocka_unit_test_teardown(test_tcp_many_streams, teardown),
		cmocka_unit_test_teardown(test_tcp_many_streams_cascade, teardown),
		cmocka_unit_test_teardown(test_reset_frees, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
