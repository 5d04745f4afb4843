/* dns_event.h - DNS answers copied by the BPF program to user space (fixed-width types only). */
#ifndef FLOWTOP_DNS_EVENT_H
#define FLOWTOP_DNS_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define DNS_CAP 1024		/* payload bytes copied per packet; the rest is cut */

enum dns_counter {
	DNS_CNT_SEEN = 0,	/* packets from port 53 with a payload */
	DNS_CNT_RB_FAIL,	/* ring buffer full: answer lost */
	DNS_CNT_UNASKED,	/* from port 53 to a socket that never sent to port 53: ignored */
	DNS_CNT_MAX,
};

/* One UDP datagram or TCP segment that came from port 53 to a local socket. */
struct dns_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u64 cgroup_id;	/* the receiving socket's cgroup v2 */
	__u8 saddr[16];		/* the server; IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;		/* host order */
	__u16 dport;
	__u32 seq;		/* TCP: sequence number of data[0] */
	__u16 len;		/* payload length in the packet */
	__u16 caplen;		/* bytes in data (<= DNS_CAP) */
	__u8 family;
	__u8 proto;		/* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pad[6];
	__u8 data[DNS_CAP];
};

#endif
