// SPDX-License-Identifier: GPL-2.0
/*
 * dns.bpf.c - copy the DNS answers that local sockets receive (UDP and TCP from
 * port 53, IPv4 and IPv6) to user space, which learns from them the names the
 * applications asked for. Every other packet costs a few loads and a compare.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dns_event.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define DNS_PORT 53

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 19);	/* resized by user space before load */
} dns_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DNS_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} dns_counters SEC(".maps");

/* sockets that began a flow to port 53 (attr.bpf.c marks them): only they get answers */
#include "dns_socks.bpf.h"

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&dns_counters, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

struct l4 {
	__u16 sport;
	__u16 dport;
	__u32 seq;	/* TCP */
	__u8 doff;	/* TCP: data offset << 4 */
};

SEC("cgroup_skb/ingress")
int dns_answer(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct dns_event *ev;
	struct l4 h = {};
	__u32 l3len, plen, off, n;
	__u64 cookie;
	__u16 lport;
	bool asked;
	__u8 proto, family;
	__u8 saddr[16] = {}, daddr[16] = {};

	/*
	 * Every packet to every local socket passes here: the headers are read in place
	 * (they are in the linear part by now), and anything not from port 53 leaves
	 * after a few loads.
	 */
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data;

		if ((void *)(ip + 1) > end)
			return 1;
		/* local delivery comes after defragmentation; a fragment here is odd: skip */
		if (ip->frag_off & bpf_htons(0x3fff))
			return 1;
		proto = ip->protocol;
		l3len = (__u32)(ip->ihl & 0xf) * 4;
		plen = bpf_ntohs(ip->tot_len);
		if (l3len < sizeof(*ip) || plen < l3len)
			return 1;
		plen -= l3len;
		family = AF_INET;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data;

		if ((void *)(ip6 + 1) > end)
			return 1;
		/* extension headers are not followed: answers do not carry them */
		proto = ip6->nexthdr;
		l3len = sizeof(*ip6);
		plen = bpf_ntohs(ip6->payload_len);
		family = AF_INET6;
	} else {
		return 1;
	}
	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
		return 1;
	{
		__u16 *ports = data + (l3len & 0x3f);

		if ((void *)(ports + 2) > end || ports[0] != bpf_htons(DNS_PORT))
			return 1;
		lport = bpf_ntohs(ports[1]);
	}
	/* from port 53: an answer only if the socket asked something */
	cookie = bpf_get_socket_cookie(skb);
	asked = bpf_map_lookup_elem(&dns_socks, &cookie) != NULL;
	if (!asked && proto != IPPROTO_UDP) {
		count(DNS_CNT_UNASKED);
		return 1;
	}
	/* a DNS packet: now the careful reads */
	if (family == AF_INET) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
			return 1;
		__builtin_memcpy(saddr, &ip.saddr, 4);
		__builtin_memcpy(daddr, &ip.daddr, 4);
	} else {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return 1;
		__builtin_memcpy(saddr, &ip6.saddr, 16);
		__builtin_memcpy(daddr, &ip6.daddr, 16);
	}
	if (!asked) {
		/* a socket with no cookie when it sent (sendto): its flow was marked */
		struct dns_flow_key k = {};
		__u64 *began;
		__u8 one = 1;

		__builtin_memcpy(k.laddr, daddr, sizeof(k.laddr));
		__builtin_memcpy(k.raddr, saddr, sizeof(k.raddr));
		k.lport = lport;
		k.family = family;
		began = bpf_map_lookup_elem(&dns_flows, &k);
		if (!began || bpf_ktime_get_ns() - *began > DNS_FLOW_NS) {
			count(DNS_CNT_UNASKED);
			return 1;
		}
		/* it has a cookie now (made above): its later answers and flows use that */
		bpf_map_update_elem(&dns_socks, &cookie, &one, BPF_ANY);
		bpf_map_delete_elem(&dns_flows, &k);
	}
	if (proto == IPPROTO_UDP) {
		if (bpf_skb_load_bytes(skb, l3len, &h, 4) < 0 || plen < 8)
			return 1;
		off = l3len + 8;
		plen -= 8;
	} else {
		__u8 tcp[13];

		if (bpf_skb_load_bytes(skb, l3len, tcp, sizeof(tcp)) < 0)
			return 1;
		__builtin_memcpy(&h, tcp, 8);
		n = (__u32)(tcp[12] >> 4) * 4;
		if (n < 20 || plen < n)
			return 1;
		off = l3len + n;
		plen -= n;
	}
	if (!plen)
		return 1;	/* handshake and ACKs */
	count(DNS_CNT_SEEN);
	ev = bpf_ringbuf_reserve(&dns_events, sizeof(*ev), 0);
	if (!ev) {
		count(DNS_CNT_RB_FAIL);
		return 1;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->cgroup_id = bpf_skb_cgroup_id(skb);
	__builtin_memcpy(ev->saddr, saddr, 16);
	__builtin_memcpy(ev->daddr, daddr, 16);
	ev->sport = bpf_ntohs(h.sport);
	ev->dport = bpf_ntohs(h.dport);
	ev->seq = bpf_ntohl(h.seq);
	ev->family = family;
	ev->proto = proto;
	ev->len = plen > 0xffff ? 0xffff : plen;
	/*
	 * 1..DNS_CAP in a form every verifier follows: clang folds a plain "n >= 1 &&
	 * n <= DNS_CAP" away, and verifiers before 6.8 do not learn n >= 1 from plen.
	 */
	n = plen - 1;
	if (n > DNS_CAP - 1)
		n = DNS_CAP - 1;
	asm volatile("" : "+r"(n));
	n += 1;
	ev->caplen = 0;
	if (bpf_skb_load_bytes(skb, off, ev->data, n) == 0)
		ev->caplen = n;
	if (!ev->caplen) {
		bpf_ringbuf_discard(ev, 0);
		return 1;
	}
	bpf_ringbuf_submit(ev, 0);
	return 1;
}
