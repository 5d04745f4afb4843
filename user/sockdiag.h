/* sockdiag.h - table of local sockets (sock_diag, /proc/net/icmp) and its match to flows. */
#ifndef FLOWTOP_SOCKDIAG_H
#define FLOWTOP_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <linux/types.h>

#include "flow.h"

/* One socket. Addresses as in struct flow_tuple: network order, IPv4 in the first 4 bytes. */
struct sd_sock {
	__u8 laddr[16];
	__u8 raddr[16];
	__u64 cgroup_id;	/* 0 = not sent by the kernel */
	__u32 inode;		/* 0 = no file (TIME_WAIT, not yet accepted) */
	__u32 uid;		/* (__u32)-1 = unknown */
	__u16 lport;		/* host order; ping sockets: the echo id */
	__u16 rport;
	__u8 family;		/* as the kernel reports it: AF_INET6 for dual-stack sockets */
	__u8 proto;		/* IPPROTO_* */
	__u8 state;		/* TCP_* numbering, as inet_diag reports it */
	__u8 flags;		/* enum sd_sock_flags */
};

enum sd_sock_flags {
	SD_F_V6ONLY = 1 << 0,	/* AF_INET6 socket that refuses IPv4 */
	SD_F_PROC = 1 << 1,	/* came from /proc/net/icmp*, not from netlink */
};

/* How a flow was matched to a socket (rules a-d of attr_sockdiag.c). */
enum sd_match_how {
	SD_MATCH_NONE = 0,
	SD_MATCH_ORIG,		/* a: original tuple is a local socket (outbound) */
	SD_MATCH_REPLY,		/* b: reply tuple is a local socket (inbound, also DNAT) */
	SD_MATCH_LISTENER,	/* c: the listening socket that accepted it */
	SD_MATCH_UNCONN_ORIG,	/* d: unconnected socket bound to the original source */
	SD_MATCH_UNCONN_REPLY,	/* d: unconnected socket bound to the reply source */
};

struct sd_table;

struct sd_table *sd_table_new(void);
void sd_table_free(struct sd_table *t);
/* Forget all sockets (local addresses stay). */
void sd_table_clear(struct sd_table *t);
size_t sd_table_count(const struct sd_table *t);
const struct sd_sock *sd_table_get(const struct sd_table *t, size_t i);
/* Add a copy of *s to both indexes. Returns 0 or -ENOMEM. */
int sd_table_add(struct sd_table *t, const struct sd_sock *s);

/*
 * The host's own addresses: a wildcard-bound socket only matches a flow whose local end is one
 * of them, so flows forwarded through the host are never given the owner of a socket that merely
 * shares their port. 127.0.0.0/8 and ::1 always count as local.
 */
int sd_table_load_local(struct sd_table *t);
int sd_table_add_local(struct sd_table *t, int family, const __u8 *addr);
bool sd_table_is_local(const struct sd_table *t, int family, const __u8 *addr);

/*
 * Exact lookup of a connected socket by its full tuple (local and remote seen from the socket).
 * An IPv4 tuple also finds an AF_INET6 socket whose addresses are v4-mapped. Sockets with an
 * inode are preferred over TIME_WAIT/not-yet-accepted ones with the same tuple.
 */
const struct sd_sock *sd_find_conn(const struct sd_table *t, int family, int proto,
				   const __u8 *laddr, __u16 lport, const __u8 *raddr, __u16 rport);
/*
 * A listening socket (listen true) or an unconnected one (listen false) bound to laddr:lport or
 * to the wildcard address; the wildcard only if laddr is a local address (see above). A socket
 * bound to another specific address never matches.
 */
const struct sd_sock *sd_find_bound(const struct sd_table *t, int family, int proto,
				    const __u8 *laddr, __u16 lport, bool listen);

/* Rules a-d for one flow. Returns the socket or NULL; *how says which rule matched. */
const struct sd_sock *sd_match_flow(const struct sd_table *t, const struct flow *f,
				    enum sd_match_how *how);

/* Where a netlink answer goes and what it held; see sd_parse_buf(). */
struct sd_parse {
	__u32 seq_lo;		/* accepted nlmsg_seq range; 0/0 accepts all */
	__u32 seq_hi;
	__u8 proto;		/* protocol that was asked for (messages do not carry it) */
	size_t added;		/* sockets added to the table */
	size_t skipped;		/* malformed or foreign messages */
	size_t replies;		/* messages in the accepted seq range, errors included */
	size_t errors;		/* NLMSG_ERROR with an error */
	int err;		/* the last of those errors (negative errno) */
	bool done;		/* NLMSG_DONE seen */
};

/*
 * Parse a buffer of netlink messages as read from a sock_diag socket and add every
 * SOCK_DIAG_BY_FAMILY answer to t. Never reads outside buf; short or malformed messages are
 * counted in p->skipped and skipped. Returns 0 or -ENOMEM.
 */
int sd_parse_buf(struct sd_table *t, struct sd_parse *p, const void *buf, size_t len);
/* Parse one inet_diag_msg message into *s. Returns 0 or -EINVAL if it is malformed. */
int sd_parse_msg(const void *nlh, size_t len, __u8 proto, struct sd_sock *s);
/* Parse /proc/net/icmp (family AF_INET) or icmp6 (AF_INET6) text: ping sockets. */
int sd_parse_proc_net(struct sd_table *t, FILE *f, int family, __u8 proto);

/* A query for sd_lookup(): one connected socket, seen from the socket. */
struct sd_query {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u8 family;
	__u8 proto;
};

struct sockdiag;

/* Open the sock_diag socket. proc_net: "/proc/self/net" when NULL. */
int sd_open(struct sockdiag **out, const char *proc_net);
void sd_close(struct sockdiag *sd);
/*
 * Can the kernel dump (family, proto)? Asked once per pair: a kernel without the diag module
 * answers ENOENT, and that is remembered. ICMP/ICMPv6 are served from /proc/net/icmp*.
 */
bool sd_supported(struct sockdiag *sd, int family, int proto);
/* Dump every socket of (family, proto) whose state is in states (1 << TCP_*; ~0 = all). */
int sd_dump(struct sockdiag *sd, struct sd_table *t, int family, int proto, __u32 states);
/* Read the ping sockets of /proc/net/icmp (AF_INET) or icmp6 (AF_INET6). */
int sd_load_ping(struct sockdiag *sd, struct sd_table *t, int family);
/*
 * Exact lookups (no dump) in one batch: all queries must share q[0].proto (TCP, UDP or
 * UDP-Lite). Found sockets are added to t; TCP lookups also return the listener when no
 * connected socket matches, UDP ones the wildcard-bound socket. Returns the number found or
 * -errno.
 */
int sd_lookup(struct sockdiag *sd, struct sd_table *t, const struct sd_query *q, size_t n);

#endif
