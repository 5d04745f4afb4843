/* objs: rdns dns */
/*
 * test_rdns.c - asynchronous reverse DNS (user/rdns.c) through the real c-ares path, against
 * a tiny DNS server this test runs itself: a UDP socket on 127.0.0.1 (ephemeral port), served
 * from the test's own poll loop (no thread). Answers, NXDOMAIN, a server that never answers,
 * the in-flight and queue bounds, addresses never asked, hostile names, ip6.arpa questions.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rdns.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define T_PTR 12
#define T_SOA 6

/* ---- the DNS server ---- */

enum mode {
	M_PTR,		/* answer with srv.rdata as the PTR name */
	M_NXDOMAIN,	/* rcode 3, the zone's SOA in the authority section */
	M_SERVFAIL,
	M_SILENT,	/* read and count, never answer */
};

struct srv {
	int fd;
	unsigned short port;
	enum mode mode;
	uint8_t rdata[300];	/* the PTR name, wire form */
	size_t rdlen;
	uint32_t ttl;		/* of the PTR record; of the SOA record */
	uint32_t soa_min;
	int nq;			/* queries received */
	char last_q[300];	/* the last question's name, as text (labels joined by '.') */
	uint16_t last_qtype;
};

static struct srv sv;

static void srv_open(enum mode mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);

	memset(&sv, 0, sizeof(sv));
	sv.mode = mode;
	sv.ttl = 3600;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(sv.fd >= 0);
	assert_int_equal(bind(sv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(sv.fd, (struct sockaddr *)&a, &al), 0);
	sv.port = ntohs(a.sin_port);
}

/* the PTR name to answer, given as raw labels ("\x04host\x07example") */
static void srv_ptr_raw(const void *wire, size_t n)
{
	assert_true(n <= sizeof(sv.rdata));
	memcpy(sv.rdata, wire, n);
	sv.rdlen = n;
}

static void srv_ptr(const char *name)
{
	size_t o = 0;

	while (*name) {
		size_t l = strcspn(name, ".");

		sv.rdata[o++] = (uint8_t)l;
		memcpy(sv.rdata + o, name, l);
		o += l;
		name += l + (name[l] == '.');
	}
	sv.rdata[o++] = 0;
	sv.rdlen = o;
}

static void put16(uint8_t *b, size_t *o, uint16_t v)
{
	b[(*o)++] = (uint8_t)(v >> 8);
	b[(*o)++] = (uint8_t)v;
}

static void put32(uint8_t *b, size_t *o, uint32_t v)
{
	put16(b, o, (uint16_t)(v >> 16));
	put16(b, o, (uint16_t)v);
}

/* Answer every query waiting on the socket. */
static void srv_serve(void)
{
	uint8_t q[512], r[1024];
	struct sockaddr_storage from;
	socklen_t fl;
	ssize_t n;

	for (;;) {
		size_t o = 12, t = 0, qend;

		fl = sizeof(from);
		n = recvfrom(sv.fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if (n < 12)
			continue;
		/* the question's name as text (uncompressed, as resolvers send it) */
		while (o < (size_t)n && q[o] && t + q[o] + 2 < sizeof(sv.last_q)) {
			if (t)
				sv.last_q[t++] = '.';
			memcpy(sv.last_q + t, q + o + 1, q[o]);
			t += q[o];
			o += 1 + (size_t)q[o];
		}
		sv.last_q[t] = 0;
		o++;
		if (o + 4 > (size_t)n)
			continue;
		sv.last_qtype = (uint16_t)(q[o] << 8 | q[o + 1]);
		qend = o + 4;
		sv.nq++;
		if (sv.mode == M_SILENT)
			continue;
		memcpy(r, q, qend);	/* id, then the question as it came */
		r[2] = 0x81 | (q[2] & 0x01);	/* QR, RD as asked */
		r[3] = 0x80;			/* RA, NOERROR */
		memset(r + 6, 0, 6);
		o = qend;
		if (sv.mode == M_PTR) {
			r[7] = 1;
			put16(r, &o, 0xc000 | 12);
			put16(r, &o, T_PTR);
			put16(r, &o, 1);
			put32(r, &o, sv.ttl);
			put16(r, &o, (uint16_t)sv.rdlen);
			memcpy(r + o, sv.rdata, sv.rdlen);
			o += sv.rdlen;
		} else if (sv.mode == M_NXDOMAIN) {
			static const uint8_t mname[] = "\x03ns1\x07" "example";

			r[3] |= 3;
			r[9] = 1;
			put16(r, &o, 0xc000 | 12);
			put16(r, &o, T_SOA);
			put16(r, &o, 1);
			put32(r, &o, sv.ttl);
			put16(r, &o, (uint16_t)(sizeof(mname) + 2 + 20));
			memcpy(r + o, mname, sizeof(mname));	/* with its terminating 0 */
			o += sizeof(mname);
			put16(r, &o, 0xc000 | 12);		/* rname */
			put32(r, &o, 1);			/* serial */
			put32(r, &o, 7200);
			put32(r, &o, 900);
			put32(r, &o, 1209600);
			put32(r, &o, sv.soa_min);
		} else {
			r[3] |= 2;	/* SERVFAIL */
		}
		if (sendto(sv.fd, r, o, 0, (struct sockaddr *)&from, fl) < 0)
			fail_msg("sendto: %s", strerror(errno));
	}
}

static void srv_close(void)
{
	if (sv.fd > 0)
		close(sv.fd);
	sv.fd = -1;
}

/* ---- driving the resolver ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The most one rdns_name() call may take: it never waits for the network. */
static double call_bound_ms(void)
{
	return RUNNING_ON_VALGRIND ? 25.0 : 1.0;
}

static double worst_call_ms;

/* rdns_name, timed */
static const char *name_of(__u8 family, const __u8 *addr)
{
	double t = now_ms();
	const char *n = rdns_name(family, addr);

	t = now_ms() - t;
	if (t > worst_call_ms)
		worst_call_ms = t;
	if (t > call_bound_ms())
		fail_msg("rdns_name took %.3f ms", t);
	return n;
}

static void start(int timeout_ms)
{
	struct rdns_conf c = { .tries = 1, .timeout_ms = timeout_ms };
	char servers[64], why[256] = "";

	snprintf(servers, sizeof(servers), "127.0.0.1:%u", sv.port);
	c.servers = servers;
	if (rdns_init(&c, why, sizeof(why)) != 0)
		fail_msg("rdns_init: %s", why);
	assert_true(rdns_enabled());
	assert_true(rdns_fd() >= 0);
}

/*
 * Serve and process for up to ms milliseconds, or until done(arg) says so (checked after
 * each round). Returns whether done was reached.
 */
static bool drive(int ms, bool (*done)(void *), void *arg)
{
	double end = now_ms() + ms;

	for (;;) {
		struct pollfd p[2] = { { .fd = rdns_fd(), .events = POLLIN },
				       { .fd = sv.fd, .events = POLLIN } };
		double left = end - now_ms();

		if (left <= 0)
			return done ? done(arg) : true;
		poll(p, 2, left < 10 ? (int)left + 1 : 10);
		if (p[1].revents & POLLIN)
			srv_serve();
		rdns_process();
		if (done && done(arg))
			return true;
	}
}

struct want_name {
	__u8 family;
	const __u8 *addr;
	const char *got;
};

static bool has_name(void *arg)
{
	struct want_name *w = arg;

	w->got = name_of(w->family, w->addr);
	return w->got != NULL;
}

static bool stats_done(void *arg)
{
	struct rdns_stats s;

	(void)arg;
	rdns_get_stats(&s);
	return s.answered + s.none + s.failed >= s.queries && !s.inflight && !s.queued;
}

static struct rdns_stats stats(void)
{
	struct rdns_stats s;

	rdns_get_stats(&s);
	return s;
}

static int setup(void **state)
{
	(void)state;
	sv.fd = -1;
	worst_call_ms = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rdns_close();
	srv_close();
	return 0;
}

/* ---- tests ---- */

static void test_off(void **state)
{
	const __u8 a[4] = { 192, 0, 2, 1 };
	struct rdns_conf c = { .servers = "this is no address", .tries = 1 };
	char why[256] = "";

	(void)state;
	assert_false(rdns_enabled());
	assert_int_equal(rdns_fd(), -1);
	assert_null(rdns_name(AF_INET, a));
	rdns_process();	/* harmless when off */
	assert_int_equal(rdns_init(&c, why, sizeof(why)), -1);
	assert_true(why[0] != 0);
	assert_false(rdns_enabled());
	assert_int_equal(rdns_fd(), -1);
	assert_null(rdns_name(AF_INET, a));
	rdns_close();
}

static void test_ptr_answered(void **state)
{
	const __u8 a[4] = { 192, 0, 2, 10 };
	struct want_name w = { AF_INET, a, NULL };
	struct rdns_stats s;

	(void)state;
	srv_open(M_PTR);
	srv_ptr("Host-1.Example.NET");
	sv.ttl = 3600;
	start(200);
	assert_null(name_of(AF_INET, a));
	s = stats();
	assert_int_equal(s.queries, 1);
	assert_int_equal(s.inflight, 1);
	/* asked again while in flight: no second query */
	for (int i = 0; i < 20; i++)
		assert_null(name_of(AF_INET, a));
	assert_int_equal(stats().queries, 1);
	assert_true(drive(3000, has_name, &w));
	assert_string_equal(w.got, "host-1.example.net");
	assert_int_equal(sv.nq, 1);
	assert_string_equal(sv.last_q, "10.2.0.192.in-addr.arpa");
	assert_int_equal(sv.last_qtype, T_PTR);
	s = stats();
	assert_int_equal(s.queries, 1);
	assert_int_equal(s.answered, 1);
	assert_int_equal(s.none + s.failed + s.dropped, 0);
	assert_int_equal(s.inflight, 0);
	assert_int_equal(s.queued, 0);
	assert_int_equal(s.cached, 1);
	/* known now: answered from the cache, nothing sent */
	assert_string_equal(name_of(AF_INET, a), "host-1.example.net");
	drive(100, NULL, NULL);
	assert_int_equal(stats().queries, 1);
	assert_int_equal(sv.nq, 1);
}

static void test_nxdomain(void **state)
{
	const __u8 a[4] = { 192, 0, 2, 11 };
	struct rdns_stats s;

	(void)state;
	srv_open(M_NXDOMAIN);
	sv.soa_min = 120;
	start(200);
	assert_null(name_of(AF_INET, a));
	assert_true(drive(3000, stats_done, NULL));
	s = stats();
	assert_int_equal(s.none, 1);
	assert_int_equal(s.answered + s.failed, 0);
	assert_int_equal(sv.nq, 1);
	/* no name, and not asked again within the negative TTL */
	for (int i = 0; i < 10; i++)
		assert_null(name_of(AF_INET, a));
	drive(300, NULL, NULL);
	assert_null(name_of(AF_INET, a));
	s = stats();
	assert_int_equal(s.queries, 1);
	assert_int_equal(s.queued + s.inflight, 0);
	assert_int_equal(sv.nq, 1);
}

static void test_servfail(void **state)
{
	const __u8 a[4] = { 192, 0, 2, 12 };
	struct rdns_stats s;

	(void)state;
	srv_open(M_SERVFAIL);
	start(200);
	assert_null(name_of(AF_INET, a));
	assert_true(drive(3000, stats_done, NULL));
	s = stats();
	assert_int_equal(s.failed, 1);
	assert_int_equal(s.answered + s.none, 0);
	/* a failure is not asked again at once either */
	assert_null(name_of(AF_INET, a));
	drive(100, NULL, NULL);
	assert_int_equal(stats().queries, 1);
}

static bool all_failed(void *arg)
{
	struct rdns_stats s = stats();

	return s.failed >= *(unsigned long long *)arg;
}

static void test_silent_server(void **state)
{
	enum { N = 200 };
	__u8 a[N][4];
	struct rdns_stats s;
	unsigned int max_inflight = 0;
	unsigned long long want;
	double end;

	(void)state;
	srv_open(M_SILENT);
	start(200);
	for (int i = 0; i < N; i++) {
		a[i][0] = 198;
		a[i][1] = 18;
		a[i][2] = (uint8_t)(i >> 8);
		a[i][3] = (uint8_t)i;
		assert_null(name_of(AF_INET, a[i]));
		s = stats();
		assert_true(s.inflight <= RDNS_INFLIGHT);
	}
	s = stats();
	assert_int_equal(s.inflight, RDNS_INFLIGHT);
	assert_int_equal(s.queries, RDNS_INFLIGHT);
	assert_int_equal(s.queued, N - RDNS_INFLIGHT);
	assert_int_equal(s.dropped, 0);
	assert_int_equal(s.cached, N);
	/* time passes: queries time out, queued ones go out, never more than the bound at once */
	end = now_ms() + 1000;
	while (now_ms() < end) {
		drive(20, NULL, NULL);
		for (int i = 0; i < N; i += 7)
			assert_null(name_of(AF_INET, a[i]));
		s = stats();
		assert_true(s.inflight <= RDNS_INFLIGHT);
		if (s.inflight > max_inflight)
			max_inflight = s.inflight;
	}
	s = stats();
	assert_int_equal(max_inflight, RDNS_INFLIGHT);
	assert_true(s.failed >= RDNS_INFLIGHT);	/* 200 ms each: a few rounds */
	assert_int_equal(s.answered + s.none, 0);
	assert_int_equal(s.queries, s.failed + s.inflight);
	assert_int_equal(s.queries + s.queued, N);
	assert_true(sv.nq <= (int)s.queries);
	/* the first ones failed: not asked again (RDNS_FAIL_TTL), still NULL, still quick */
	assert_null(name_of(AF_INET, a[0]));
	assert_null(name_of(AF_INET, a[1]));
	s = stats();
	assert_int_equal(s.queries + s.queued, N);
	/* let all of them time out (14 rounds of 200 ms), bounded */
	want = N;
	assert_true(drive(6000, all_failed, &want));
	s = stats();
	assert_int_equal(s.failed, N);
	assert_int_equal(s.queries, N);
	assert_int_equal(s.inflight + s.queued, 0);
	assert_int_equal(sv.nq, N);
	print_message("worst rdns_name call: %.3f ms\n", worst_call_ms);
}

static void test_queue_bound(void **state)
{
	enum { N = RDNS_QUEUE + RDNS_INFLIGHT + 60 };
	__u8 a[4] = { 198, 19, 0, 0 };
	struct rdns_stats s;

	(void)state;
	srv_open(M_SILENT);
	start(200);
	for (int i = 0; i < N; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		assert_null(name_of(AF_INET, a));
	}
	s = stats();
	assert_int_equal(s.inflight, RDNS_INFLIGHT);
	assert_int_equal(s.queued, RDNS_QUEUE);
	assert_int_equal(s.dropped, 60);
	assert_int_equal(s.queries, RDNS_INFLIGHT);
	/* a dropped one asked again while the queue is full: still not queued, counted once
	 * (a view asks for it at every redraw), nothing grows */
	assert_null(name_of(AF_INET, a));
	s = stats();
	assert_int_equal(s.dropped, 60);
	assert_int_equal(s.queued, RDNS_QUEUE);
	assert_int_equal(s.inflight, RDNS_INFLIGHT);
	/* rdns_close (teardown) with everything still pending: nothing leaks (valgrind) */
	print_message("worst rdns_name call: %.3f ms\n", worst_call_ms);
}

static void test_never_asked(void **state)
{
	static const char *const v4[] = { "127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3",
					  "169.254.1.1", "169.254.255.255", "224.0.0.251",
					  "239.255.255.250", "255.255.255.255" };
	static const char *const v6[] = { "::", "::1", "fe80::1", "febf:ffff::1", "ff02::1",
					  "ff05::fb", "::ffff:127.0.0.1", "::ffff:0.0.0.0",
					  "::ffff:169.254.3.4", "::ffff:224.0.0.1" };
	__u8 a[16];
	struct rdns_stats s;

	(void)state;
	srv_open(M_PTR);
	srv_ptr("should.not.be.asked");
	start(200);
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		assert_int_equal(inet_pton(AF_INET, v4[i], a), 1);
		for (int k = 0; k < 3; k++)
			if (name_of(AF_INET, a))
				fail_msg("%s has a name", v4[i]);
	}
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		assert_int_equal(inet_pton(AF_INET6, v6[i], a), 1);
		for (int k = 0; k < 3; k++)
			if (name_of(AF_INET6, a))
				fail_msg("%s has a name", v6[i]);
	}
	memset(a, 0, sizeof(a));
	a[0] = 192;
	assert_null(name_of(AF_UNIX, a));	/* no such family */
	drive(200, NULL, NULL);
	s = stats();
	assert_int_equal(s.queries, 0);
	assert_int_equal(s.queued + s.inflight + s.cached, 0);
	assert_int_equal(sv.nq, 0);
	/* (the server does answer: an ordinary address gets its name) */
	assert_int_equal(inet_pton(AF_INET, "192.0.2.99", a), 1);
	{
		struct want_name w = { AF_INET, a, NULL };

		assert_true(drive(3000, has_name, &w));
		assert_string_equal(w.got, "should.not.be.asked");
	}
}

static void test_evil_name(void **state)
{
	const __u8 a[4] = { 192, 0, 2, 13 };
	/* ESC [ 3 1 m E V I L BEL 0xff . a '.' inside a label, UTF-8 that is not . example */
	static const uint8_t evil[] = {
		11, 0x1b, '[', '3', '1', 'm', 'E', 'V', 'I', 'L', 0x07, 0xff,
		4, 'a', '.', 0xc3, 0x28,
		7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0,
	};
	struct want_name w = { AF_INET, a, NULL };

	(void)state;
	srv_open(M_PTR);
	srv_ptr_raw(evil, sizeof(evil));
	start(200);
	assert_null(name_of(AF_INET, a));
	assert_true(drive(3000, has_name, &w));
	assert_string_equal(w.got, "??31mevil??.a???.example");
	for (const char *p = w.got; *p; p++)
		assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
			    *p == '_' || *p == '.' || *p == '?');
}

static void test_ipv6_question(void **state)
{
	__u8 a[16];
	struct want_name w = { AF_INET6, a, NULL };

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1:abcd", a), 1);
	srv_open(M_PTR);
	srv_ptr("v6host.example");
	sv.ttl = 60;
	start(200);
	assert_null(name_of(AF_INET6, a));
	assert_true(drive(3000, has_name, &w));
	assert_string_equal(w.got, "v6host.example");
	assert_int_equal(sv.nq, 1);
	assert_int_equal(sv.last_qtype, T_PTR);
	if (strcasecmp(sv.last_q,
		       "d.c.b.a.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"))
		fail_msg("asked %s", sv.last_q);
	/* the same bytes as IPv4 are another address */
	assert_null(name_of(AF_INET, a));
	assert_int_equal(stats().cached, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ptr_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nxdomain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_servfail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evil_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_question, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
