/* dns_socks.bpf.h - sockets that began a flow to port 53: one map, two BPF objects.
 * attr.bpf.c marks them; dns.bpf.c reads answers to them only (user space hands it the
 * attribution object's map with bpf_map__reuse_fd). */
#ifndef FLOWTOP_DNS_SOCKS_BPF_H
#define FLOWTOP_DNS_SOCKS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);	/* socket cookie */
	__type(value, __u8);
} dns_socks SEC(".maps");

#endif
