/* dns.h - DNS response parsing: which addresses answer which queried name (A, AAAA, CNAME). */
#ifndef FLOWTOP_DNS_H
#define FLOWTOP_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 256	/* a presentation name, with its terminator */

/* One address the response gives for the name that was asked. */
struct dns_addr {
	const char *qname;	/* the question's name (what the application asked for) */
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint32_t ttl;
};

typedef void (*dns_addr_cb)(void *ctx, const struct dns_addr *a);

/*
 * Parse one DNS message (UDP payload, or a TCP message without its length
 * prefix). For a response with one question of class IN, call cb for each A
 * and AAAA record whose owner is the question's name or reached from it by
 * CNAME records of the same message. Returns the number of addresses given
 * to cb, 0 for a message that is not such a response, -EINVAL for a malformed
 * one (nothing outside msg[0..len) is read; compression pointers must point
 * backwards, so no loop is possible).
 */
int dns_parse_response(const uint8_t *msg, size_t len, dns_addr_cb cb, void *ctx);

/*
 * Parse a response to a PTR question. 1: name (dns_read_name's form) and *ttl from the first
 * PTR record of the question's name or its CNAME chain; 0: the name has no PTR (NXDOMAIN or
 * no data), *ttl = the negative-caching time the server gave (SOA minimum) or 0; -EAGAIN: the
 * server failed (SERVFAIL, REFUSED, ...); -EINVAL: malformed or not a PTR response.
 */
int dns_parse_ptr(const uint8_t *msg, size_t len, char *name, size_t namelen, uint32_t *ttl);

/*
 * Read the (possibly compressed) name at *off into out as dotted text,
 * lower-cased, with every byte outside [a-z0-9-_] of a label shown as '?';
 * *off moves past the name in the message. 0 or -EINVAL.
 */
int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t outlen);

#endif
