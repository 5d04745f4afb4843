/* attr_event.h - records from the BPF attribution programs to user space (fixed-width types only). */
#ifndef FLOWTOP_ATTR_EVENT_H
#define FLOWTOP_ATTR_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define ATTR_COMM_LEN 16

/* Who made a socket, bound a port or sent a flow's first packet. */
struct attr_owner {
	__u64 cgroup_id;
	__u64 cookie;		/* socket cookie (0 = not known) */
	__u32 tgid;
	__u32 tid;
	__u32 uid;
	__u32 netns;		/* the task's network namespace inode */
	char comm[ATTR_COMM_LEN];
};

enum attr_ev_kind {
	ATTR_EV_OUT = 1,	/* first packet of a locally created flow, sent by owner */
	ATTR_EV_IN = 2,		/* an inbound flow, owner = listening/bound socket (user space) */
	ATTR_EV_PORT_ADD = 3,	/* owner listens on / bound daddr:dport (proto, family) */
	ATTR_EV_PORT_DEL = 4,	/* ... and no more */
};

enum attr_how {
	ATTR_HOW_TASK = 1,	/* the task that sent the first packet */
	ATTR_HOW_SOCKET = 2,	/* the task that created the sending socket */
	ATTR_HOW_PORT = 3,	/* the task that listens on / bound the local port
				 * (in an ATTR_EV_OUT record: user space looks it up) */
};

/* Counters kept in a per-CPU array (the kernel counts nothing for ring buffer loss). */
enum attr_counter {
	ATTR_CNT_NEW = 0,	/* unconfirmed conntrack entries seen */
	ATTR_CNT_RB_FAIL,	/* ring buffer reservations that failed: attribution lost */
	ATTR_CNT_NO_OWNER,	/* inbound flows to a port nobody owns */
	ATTR_CNT_MAP_FULL,	/* owner maps full */
	ATTR_CNT_NOCT,		/* flows seen in namespaces without conntrack (containers) */
	ATTR_CNT_MAX,
};

/* Key of the port owner map: local address and port of a listening or bound socket. */
struct attr_port_key {
	__u8 addr[16];		/* IPv4 in the first 4 bytes; all zero = wildcard */
	__u32 netns;
	__u16 port;		/* host order */
	__u8 proto;
	__u8 family;
};

struct attr_event {
	struct attr_owner owner;
	__u64 ts_ns;
	__u32 netns;		/* network namespace of the conntrack entry */
	__u8 saddr[16];		/* original tuple, IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;		/* host order; ICMP: echo id */
	__u16 dport;		/* host order; ICMP: type << 8 | code */
	__u8 family;
	__u8 proto;
	__u8 kind;		/* enum attr_ev_kind */
	__u8 how;		/* enum attr_how */
};

#endif
