/* rdns.c - asynchronous reverse DNS (PTR) with c-ares: cached, bounded, never blocking. */
#include <ares.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "fmt.h"
#include "rdns.h"

enum rstate {
	R_FREE = 0,
	R_WANT,		/* asked for, not queued (the queue was full) */
	R_QUEUED,
	R_INFLIGHT,
	R_DONE,		/* name (or none) known until expire_ns */
};

struct rent {
	__u8 addr[16];
	__u8 family;
	__u8 state;
	bool dropped;		/* counted once as not queued */
	__u32 next;		/* bucket chain, index + 1 */
	__u64 expire_ns;
	__u64 used_ns;
	char *name;		/* NULL: no name (yet) */
};

#define NBUCKETS (RDNS_CACHE * 2)
#define TAG_TIMER UINT64_MAX

static struct {
	bool on;
	ares_channel ch;
	int ep;			/* c-ares sockets and the timer */
	int tfd;
	struct rent *tab;
	__u32 *buckets;
	__u32 hand;
	__u32 queue[RDNS_QUEUE];
	unsigned int qhead, qlen;
	unsigned int inflight;
	unsigned int cached;
	struct rdns_stats st;
} R = { .ep = -1, .tfd = -1 };

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct epoll_event ev = { .events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0),
				  .data.u64 = (__u64)fd };

	if (!readable && !writable) {
		epoll_ctl(R.ep, EPOLL_CTL_DEL, fd, NULL);
		return;
	}
	if (epoll_ctl(R.ep, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
		epoll_ctl(R.ep, EPOLL_CTL_ADD, fd, &ev);
}

int rdns_init(const struct rdns_conf *c, char *why, size_t whylen)
{
	struct ares_options o;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_TIMER };
	int r;

	memset(&o, 0, sizeof(o));
	o.timeout = c && c->timeout_ms > 0 ? c->timeout_ms : 1500;
	o.tries = c && c->tries > 0 ? c->tries : 2;
	o.sock_state_cb = sock_state;
	if (c && c->resolv_conf)
		o.resolvconf_path = (char *)c->resolv_conf;
	r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS) {
		snprintf(why, whylen, "resolver: %s", ares_strerror(r));
		return -1;
	}
	R.tab = calloc(RDNS_CACHE, sizeof(*R.tab));
	R.buckets = calloc(NBUCKETS, sizeof(*R.buckets));
	R.ep = epoll_create1(EPOLL_CLOEXEC);
	R.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!R.tab || !R.buckets || R.ep < 0 || R.tfd < 0 ||
	    epoll_ctl(R.ep, EPOLL_CTL_ADD, R.tfd, &ev) < 0) {
		snprintf(why, whylen, "resolver: %s", strerror(errno ? errno : ENOMEM));
		goto fail;
	}
	r = ares_init_options(&R.ch, &o,
			      ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
				      (o.resolvconf_path ? ARES_OPT_RESOLVCONF : 0));
	if (r != ARES_SUCCESS) {
		snprintf(why, whylen, "resolver: %s", ares_strerror(r));
		goto fail;
	}
	if (c && c->servers && (r = ares_set_servers_ports_csv(R.ch, c->servers)) != ARES_SUCCESS) {
		snprintf(why, whylen, "resolver %s: %s", c->servers, ares_strerror(r));
		ares_destroy(R.ch);
		goto fail;
	}
	R.on = true;
	return 0;
fail:
	if (R.ep >= 0)
		close(R.ep);
	if (R.tfd >= 0)
		close(R.tfd);
	free(R.tab);
	free(R.buckets);
	memset(&R, 0, sizeof(R));
	R.ep = R.tfd = -1;
	ares_library_cleanup();
	return -1;
}

bool rdns_enabled(void)
{
	return R.on;
}

int rdns_fd(void)
{
	return R.on ? R.ep : -1;
}

static __u32 hash_addr(__u8 family, const __u8 *addr)
{
	return addr_hash(family, addr) % NBUCKETS;
}

static struct rent *find(__u8 family, const __u8 *addr)
{
	size_t n = family == AF_INET ? 4 : 16;

	for (__u32 i = R.buckets[hash_addr(family, addr)]; i; i = R.tab[i - 1].next) {
		struct rent *e = &R.tab[i - 1];

		if (e->family == family && !memcmp(e->addr, addr, n))
			return e;
	}
	return NULL;
}

static void unlink_entry(struct rent *e)
{
	__u32 *p = &R.buckets[hash_addr(e->family, e->addr)];
	__u32 idx = (__u32)(e - R.tab) + 1;

	while (*p && *p != idx)
		p = &R.tab[*p - 1].next;
	if (*p)
		*p = e->next;
	free(e->name);
	memset(e, 0, sizeof(*e));
	R.cached--;
}

/*
 * A free entry: the clock hand looks at a few entries and takes a free one or one not
 * wanted for a minute (never a queued or in-flight one), else none: bounded work per new
 * address, however full the cache is of fresh names.
 */
#define ALLOC_PROBES 64

static struct rent *alloc_entry(__u64 now)
{
	for (unsigned int n = 0; n < ALLOC_PROBES; n++) {
		struct rent *e = &R.tab[R.hand];

		R.hand = (R.hand + 1) % RDNS_CACHE;
		if (e->state == R_FREE)
			return e;
		if (e->state == R_QUEUED || e->state == R_INFLIGHT)
			continue;
		if (e->used_ns + 60000000000ULL < now) {
			unlink_entry(e);
			return e;
		}
	}
	/* every entry looked at is wanted now: keep them (no churn of names asked again) */
	return NULL;
}

static void arm_timer(void)
{
	struct itimerspec its = { 0 };
	struct timeval tv, *t;

	if (R.inflight) {
		t = ares_timeout(R.ch, NULL, &tv);
		if (t) {
			its.it_value.tv_sec = t->tv_sec;
			its.it_value.tv_nsec = t->tv_usec * 1000L;
		}
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1000000;	/* due now: soon */
	}
	timerfd_settime(R.tfd, 0, &its, NULL);
}

static void answer_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct rent *e = &R.tab[(uintptr_t)arg];
	char name[DNS_NAME_MAX];
	uint32_t ttl = 0;
	int r = -EAGAIN;
	__u64 now;

	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
		return;
	if (R.inflight)
		R.inflight--;
	if (e->state != R_INFLIGHT)
		return;
	now = now_ns();
	if (abuf && alen > 0 && (status == ARES_SUCCESS || status == ARES_ENOTFOUND ||
				 status == ARES_ENODATA))
		r = dns_parse_ptr(abuf, (size_t)alen, name, sizeof(name), &ttl);
	else if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		r = 0;
	e->state = R_DONE;
	if (r == 1) {
		char *n = strdup(name);

		if (n) {
			free(e->name);
			e->name = n;
		}
		ttl = ttl < RDNS_TTL_MIN ? RDNS_TTL_MIN : ttl > RDNS_TTL_MAX ? RDNS_TTL_MAX : ttl;
		R.st.answered++;
	} else if (r == 0) {
		free(e->name);
		e->name = NULL;
		ttl = !ttl || ttl > RDNS_NEG_TTL ? RDNS_NEG_TTL : ttl < RDNS_TTL_MIN ? RDNS_TTL_MIN : ttl;
		R.st.none++;
	} else {
		/* a failure keeps a name known before (refresh failed): shown until next try */
		ttl = RDNS_FAIL_TTL;
		R.st.failed++;
	}
	e->expire_ns = now + (__u64)ttl * 1000000000ULL;
}

/* The PTR question for an address: d.c.b.a.in-addr.arpa or the nibbles of ip6.arpa. */
static void ptr_qname(char *q, size_t len, __u8 family, const __u8 *a)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	size_t o = 0;

	if (family == AF_INET6 && !memcmp(a, mapped, 12)) {
		family = AF_INET;	/* ::ffff:a.b.c.d has the IPv4 address's name */
		a += 12;
	}
	if (family == AF_INET) {
		snprintf(q, len, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
		return;
	}
	for (int i = 15; i >= 0 && o + 5 < len; i--) {
		static const char hex[] = "0123456789abcdef";

		q[o++] = hex[a[i] & 0xf];
		q[o++] = '.';
		q[o++] = hex[a[i] >> 4];
		q[o++] = '.';
	}
	snprintf(q + o, len - o, "ip6.arpa");
}

static void pump(void)
{
	bool sent = false;

	while (R.inflight < RDNS_INFLIGHT && R.qlen) {
		__u32 idx = R.queue[R.qhead];
		struct rent *e = &R.tab[idx];
		char q[80];

		R.qhead = (R.qhead + 1) % RDNS_QUEUE;
		R.qlen--;
		if (e->state != R_QUEUED)
			continue;
		ptr_qname(q, sizeof(q), e->family, e->addr);
		e->state = R_INFLIGHT;
		R.inflight++;
		R.st.queries++;
		sent = true;
		/* (the callback may run at once, for an error found before sending) */
		ares_query(R.ch, q, ns_c_in, ns_t_ptr, answer_cb, (void *)(uintptr_t)idx);
	}
	if (sent)
		arm_timer();
}

static bool enqueue(struct rent *e)
{
	if (R.qlen == RDNS_QUEUE) {
		e->state = e->name || e->expire_ns ? R_DONE : R_WANT;
		if (!e->dropped)
			R.st.dropped++;
		e->dropped = true;
		return false;
	}
	e->dropped = false;
	R.queue[(R.qhead + R.qlen) % RDNS_QUEUE] = (__u32)(e - R.tab);
	R.qlen++;
	e->state = R_QUEUED;
	return true;
}

static bool never_asked(__u8 family, const __u8 *a)
{
	static const __u8 zero[16];

	if (family == AF_INET)
		return a[0] == 127 || a[0] == 0 || a[0] >= 224 || (a[0] == 169 && a[1] == 254);
	if (family != AF_INET6)
		return true;
	if (!memcmp(a, zero, 16))
		return true;
	if (!memcmp(a, zero, 15) && a[15] == 1)
		return true;	/* ::1 */
	if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return true;	/* multicast, link-local */
	/* IPv4-mapped: as its IPv4 address would be */
	if (!memcmp(a, zero, 10) && a[10] == 0xff && a[11] == 0xff)
		return never_asked(AF_INET, a + 12);
	return false;
}

const char *rdns_name(__u8 family, const __u8 *addr)
{
	struct rent *e;
	__u64 now;
	__u32 h;

	if (!R.on || never_asked(family, addr))
		return NULL;
	now = now_ns();
	e = find(family, addr);
	if (!e) {
		e = alloc_entry(now);
		if (!e)
			return NULL;
		e->family = family;
		memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
		h = hash_addr(family, addr);
		e->next = R.buckets[h];
		R.buckets[h] = (__u32)(e - R.tab) + 1;
		R.cached++;
		e->state = R_WANT;
	}
	e->used_ns = now;
	if (e->state == R_WANT || (e->state == R_DONE && now >= e->expire_ns)) {
		if (enqueue(e))
			pump();
	}
	return e->name;
}

const char *rdns_peek(__u8 family, const __u8 *addr)
{
	const struct rent *e;

	if (!R.on || (family != AF_INET && family != AF_INET6))
		return NULL;
	e = find(family, addr);
	return e ? e->name : NULL;
}

void rdns_process(void)
{
	struct epoll_event evs[16];
	int n;

	if (!R.on)
		return;
	n = epoll_wait(R.ep, evs, 16, 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == TAG_TIMER) {
			__u64 x;

			if (read(R.tfd, &x, sizeof(x)) < 0) {
				/* spurious */
			}
			continue;
		}
		ares_process_fd(R.ch,
				evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP) ?
					(ares_socket_t)evs[i].data.u64 : ARES_SOCKET_BAD,
				evs[i].events & EPOLLOUT ? (ares_socket_t)evs[i].data.u64 :
							   ARES_SOCKET_BAD);
	}
	/* timeouts */
	ares_process_fd(R.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	pump();
	arm_timer();
}

void rdns_get_stats(struct rdns_stats *s)
{
	*s = R.st;
	s->inflight = R.inflight;
	s->queued = R.qlen;
	s->cached = R.cached;
}

void rdns_close(void)
{
	if (!R.on)
		return;
	R.on = false;
	ares_destroy(R.ch);
	ares_library_cleanup();
	close(R.ep);
	close(R.tfd);
	for (unsigned int i = 0; i < RDNS_CACHE; i++)
		free(R.tab[i].name);
	free(R.tab);
	free(R.buckets);
	memset(&R, 0, sizeof(R));
	R.ep = R.tfd = -1;
}
