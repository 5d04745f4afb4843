/* dns_socks.bpf.h - sockets that began a flow to port 53: maps shared by two BPF objects.
 * attr.bpf.c marks them; dns.bpf.c reads answers to them only (user space hands it the
 * attribution object's maps with bpf_map__reuse_fd). */
#ifndef FLOWTOP_DNS_SOCKS_BPF_H
#define FLOWTOP_DNS_SOCKS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);	/* socket cookie */
	__type(value, __u8);
} dns_socks SEC(".maps");

/*
 * A UDP flow to port 53 whose socket had no cookie yet when its first packet left (a
 * socket neither bound nor connected: sendto). Its answer comes back to this address and
 * port; dns.bpf.c then marks the socket by its cookie (made by then) and drops the entry.
 * The value is when the flow began: an entry is good for DNS_FLOW_NS after that (resolvers
 * give up well before: glibc waits 5 s per try), so a query never answered does not leave
 * its port open to answers for long.
 */
#define DNS_FLOW_NS (30ULL * 1000000000ULL)

struct dns_flow_key {
	__u8 laddr[16];		/* the local end; IPv4 in the first 4 bytes */
	__u8 raddr[16];		/* the server */
	__u16 lport;		/* host order */
	__u8 family;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct dns_flow_key);
	__type(value, __u64);	/* bpf_ktime_get_ns() when the flow began */
} dns_flows SEC(".maps");

#endif
