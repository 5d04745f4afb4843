/* flow.h - the flow record: one conntrack entry plus who made it. */
#ifndef FLOWTOP_FLOW_H
#define FLOWTOP_FLOW_H

#include <linux/types.h>

#define FLOW_COMM_LEN 16

/* Which mechanism attributed a flow to a process (JSON "attr"). */
enum flow_attr_src {
	FLOW_ATTR_NONE = 0,
	FLOW_ATTR_EBPF,
	FLOW_ATTR_SOCKDIAG,
	FLOW_ATTR_PROC,
};

/*
 * One direction of a conntrack entry. Addresses are in network byte order,
 * IPv4 in the first four bytes. Ports are host order. For ICMP/ICMPv6 the
 * conntrack "ports" are the echo id (sport) and type << 8 | code (dport).
 */
struct flow_tuple {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u8 family;	/* AF_INET or AF_INET6 */
	__u8 proto;	/* IPPROTO_* */
	__u8 pad[2];
};

/* Who created the flow; filled by an attribution backend. */
struct flow_owner {
	__u64 cgroup_id;
	__u32 pid;	/* thread group id; 0 = unknown */
	__u32 tid;
	__u32 uid;	/* (__u32)-1 = unknown */
	__u8 source;	/* enum flow_attr_src */
	__u8 pad[3];
	char comm[FLOW_COMM_LEN];
};

enum flow_flags {
	FLOW_F_ACCT = 1 << 0,		/* counters came from the kernel */
	FLOW_F_TSTAMP = 1 << 1,		/* start_ns came from the kernel */
	FLOW_F_GONE = 1 << 2,		/* destroyed, shown dimmed until expiry */
	FLOW_F_PREEXIST = 1 << 3,	/* already there when flowtop started */
	FLOW_F_ATTR_TRIED = 1 << 4,	/* fallback attribution was attempted */
	FLOW_F_RATE = 1 << 5,		/* rate_* hold a measured value */
	FLOW_F_INBOUND = 1 << 6,	/* the owner accepted it: reply direction is its send side */
	FLOW_F_DESTROYED = 1 << 7,	/* gone by its DESTROY event (not by a sweep) */
	FLOW_F_RETIRED = 1 << 8,	/* gone, and a newer flow has its id and tuple */
};

struct flow {
	struct flow_tuple orig;
	struct flow_tuple reply;
	struct flow_owner owner;
	__u64 orig_pkts;
	__u64 orig_bytes;
	__u64 reply_pkts;
	__u64 reply_bytes;
	__u64 start_ns;		/* conntrack timestamp, CLOCK_REALTIME ns */
	__u64 seen_ns;		/* CLOCK_MONOTONIC ns when flowtop first saw it */
	__u64 gone_ns;		/* CLOCK_MONOTONIC ns when destroyed */
	__u64 rate_ns;		/* CLOCK_MONOTONIC ns of the last rate sample */
	__u64 rate_orig_bytes;	/* counters at the last rate sample */
	__u64 rate_reply_bytes;
	float rate_orig;	/* bytes per second, original direction */
	float rate_reply;	/* bytes per second, reply direction */
	__u32 id;		/* conntrack id */
	__u32 netns;		/* netns inode */
	__u32 status;		/* IPS_* bits */
	__u32 mark;
	__u32 gen;		/* last dump generation that saw it */
	__u32 next_id;		/* flow table chains (slot index + 1, 0 = end) */
	__u32 next_tuple;
	__u32 timeout;		/* seconds left, from the last message that carried it */
	__u16 zone;
	__u8 state;		/* protocol state (TCP/SCTP/DCCP), 0 = none */
	__u16 flags;		/* enum flow_flags */
};

#endif
