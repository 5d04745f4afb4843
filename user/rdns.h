/* rdns.h - asynchronous reverse DNS (PTR) with c-ares: cached, bounded, never blocking. */
#ifndef FLOWTOP_RDNS_H
#define FLOWTOP_RDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define RDNS_CACHE 16384	/* addresses cached */
#define RDNS_QUEUE 1024		/* lookups waiting for a free query slot */
#define RDNS_INFLIGHT 16	/* queries on the wire at once */
#define RDNS_TTL_MIN 30		/* seconds a name is kept at least, at most a day */
#define RDNS_TTL_MAX 86400
#define RDNS_NEG_TTL 300	/* "no name" kept at most (the server's SOA minimum if lower) */
#define RDNS_FAIL_TTL 60	/* a timeout or server failure is not asked again before */

struct rdns_conf {
	const char *resolv_conf;	/* instead of /etc/resolv.conf, or NULL */
	const char *servers;	/* "ip[:port],..." instead of resolv.conf's (tests), or NULL */
	int timeout_ms;		/* per try; 0 = 1500 */
	int tries;		/* 0 = 2 */
};

/* Start the resolver. 0, or -1 with why set (then rdns_name always says NULL). */
int rdns_init(const struct rdns_conf *c, char *why, size_t whylen);
bool rdns_enabled(void);

/* An fd for epoll that is readable when rdns_process() has work; -1 when off. */
int rdns_fd(void);

/* Read answers, handle timeouts, send queued queries. Never blocks. */
void rdns_process(void);

/*
 * The PTR name of addr (lower-case, every byte outside [a-z0-9-_.] shown as '?'), or NULL
 * while unknown, without a name, or for loopback, link-local, multicast and unspecified
 * addresses (never asked). An unknown or expired address is queued for a query. The string
 * is valid until the next rdns_* call.
 */
const char *rdns_name(__u8 family, const __u8 *addr);

/* The cached name, without asking for anything. */
const char *rdns_peek(__u8 family, const __u8 *addr);

struct rdns_stats {
	unsigned long long queries;	/* sent */
	unsigned long long answered;	/* with a name */
	unsigned long long none;	/* NXDOMAIN or no PTR */
	unsigned long long failed;	/* timeouts, server failures */
	unsigned long long dropped;	/* not queued: the queue was full */
	unsigned int inflight;
	unsigned int queued;
	unsigned int cached;
};
void rdns_get_stats(struct rdns_stats *s);

void rdns_close(void);

#endif
