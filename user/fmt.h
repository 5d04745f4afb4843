/* fmt.h - formatting of addresses, counters, rates, durations and untrusted strings. */
#ifndef FLOWTOP_FMT_H
#define FLOWTOP_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "flow.h"

#define FMT_ADDR_LEN 46		/* INET6_ADDRSTRLEN */

/* FNV-1a of an address (4 bytes for IPv4, 16 for IPv6) and its family: for caches. */
static inline __u32 addr_hash(__u8 family, const __u8 *addr)
{
	__u32 h = 2166136261u ^ family;

	for (int i = 0; i < (family == 2 /* AF_INET */ ? 4 : 16); i++)
		h = (h ^ addr[i]) * 16777619u;
	return h;
}

/* Numeric address; IPv6 without brackets. Returns dst. */
char *fmt_addr(char *dst, size_t len, __u8 family, const __u8 *addr);
/* 1.2K / 3.4M style with the given unit suffix ("" or "B"). */
char *fmt_si(char *dst, size_t len, double v, const char *unit);
char *fmt_bytes(char *dst, size_t len, __u64 bytes);
/* Rate in bytes/s, shown as bytes ("12.3KB/s") or bits ("98.4Kbit/s"). */
char *fmt_rate(char *dst, size_t len, double bytes_per_s, bool bits);
/* 59s, 1m02s, 3h04m, 2d05h */
char *fmt_duration(char *dst, size_t len, double seconds);

const char *proto_name(__u8 proto);		/* "tcp"; NULL if unnamed */
char *proto_str(char *dst, size_t len, __u8 proto);	/* name or number */
const char *family_name(__u8 family);		/* "ipv4"/"ipv6" */
/* Does the protocol's conntrack tuple carry ports (not ICMP ids or nothing)? */
bool proto_has_ports(__u8 proto);
/* Protocol state name ("ESTABLISHED"), or NULL when the protocol has none. */
const char *state_name(__u8 proto, __u8 state);
/* Lower-case status words ("assured", "seen_reply", ...) joined by sep. */
size_t status_words(__u32 status, const char **out, size_t max);

/*
 * Copy an untrusted string (DNS name, command name, cgroup path) so that it
 * is safe for a terminal: control characters and escape sequences become
 * '?', invalid UTF-8 becomes '?'. Always NUL-terminates. Returns dst.
 */
char *fmt_sanitize(char *dst, size_t len, const char *src, size_t srclen);

/* Display width of a sanitized UTF-8 string (columns). */
int fmt_width(const char *s);

#endif
