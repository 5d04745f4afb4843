// SPDX-License-Identifier: GPL-2.0
/* attr.bpf.c - who created each conntrack flow: owner records at flow creation, in the kernel. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "attr_event.h"
#include "core_fixes.bpf.h"

/* bpf_probe_read_kernel and the task helpers are GPL-only. */
char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define NF_ACCEPT 1
#define PF_KTHREAD 0x00200000
#define TCP_CLOSE 7
#define TCP_LISTEN 10
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_ICMPV6 58
#define IPPROTO_UDP 17
#define DNS_PORT 53

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);	/* resized by user space before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ATTR_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Listening TCP sockets and bound sockets of other protocols: the owners of inbound flows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct attr_port_key);
	__type(value, struct attr_owner);
} port_owner SEC(".maps");

/* Socket cookie -> its port key, so that closing a bound socket frees its entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct attr_port_key);
} bound_key SEC(".maps");

/* Socket cookie -> the task that created the socket (for packets sent from kernel threads). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct attr_owner);
} sock_owner SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	/* atomic: softirq work can interrupt a process-context run on the same CPU */
	if (v)
		__sync_fetch_and_add(v, 1);
}

/*
 * Set by user space when this kernel lets these programs call
 * bpf_get_current_task_btf() (Debian's 6.1 and 6.12 and 6.18 do; a load that
 * fails with it is retried without): the task's fields are then plain loads
 * rather than a bpf_probe_read_kernel() call each. The verifier drops the
 * branch not taken, so the other one may use what this kernel refuses.
 */
const volatile bool task_btf = false;

static __always_inline void owner_current(struct attr_owner *o, __u64 cookie)
{
	if (task_btf) {
		struct task_struct *t = bpf_get_current_task_btf();

		o->tgid = t->tgid;
		o->tid = t->pid;
		o->uid = t->cred->uid.val;
		o->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
		o->netns = t->nsproxy->net_ns->ns.inum;
		__builtin_memcpy(o->comm, t->comm, sizeof(o->comm));
	} else {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();

		/*
		 * Read from the task rather than through bpf_get_current_uid_gid,
		 * _cgroup_id and _comm: netfilter and sockops programs may not call
		 * those on 6.1 and 6.12 (the verifier refuses them there).
		 */
		o->tgid = BPF_CORE_READ(t, tgid);
		o->tid = BPF_CORE_READ(t, pid);
		o->uid = BPF_CORE_READ(t, cred, uid.val);
		o->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
		o->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
		bpf_probe_read_kernel_str(o->comm, sizeof(o->comm), &t->comm);
	}
	o->cookie = cookie;
}

/* The current task's network namespace. */
static __always_inline __u32 current_netns(void)
{
	if (task_btf)
		return bpf_get_current_task_btf()->nsproxy->net_ns->ns.inum;
	return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), nsproxy, net_ns,
			     ns.inum);
}

static __always_inline bool current_is_kthread(void)
{
	if (task_btf)
		return bpf_get_current_task_btf()->flags & PF_KTHREAD;
	return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), flags) & PF_KTHREAD;
}

/* Original tuple of a conntrack entry, in the layout ctnetlink reports. */
static __always_inline void ct_tuple(struct attr_event *e, const struct nf_conn *ct)
{
	const struct nf_conntrack_tuple *t = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;

	e->family = BPF_CORE_READ(t, src.l3num);
	e->proto = BPF_CORE_READ(t, dst.protonum);
	if (e->family == AF_INET) {
		bpf_probe_read_kernel(e->saddr, 4, &t->src.u3);
		bpf_probe_read_kernel(e->daddr, 4, &t->dst.u3);
	} else {
		bpf_probe_read_kernel(e->saddr, 16, &t->src.u3);
		bpf_probe_read_kernel(e->daddr, 16, &t->dst.u3);
	}
	if (e->proto == IPPROTO_ICMP || e->proto == IPPROTO_ICMPV6) {
		e->sport = bpf_ntohs(BPF_CORE_READ(t, src.u.icmp.id));
		e->dport = (__u16)BPF_CORE_READ(t, dst.u.icmp.type) << 8 |
			   BPF_CORE_READ(t, dst.u.icmp.code);
	} else {
		e->sport = bpf_ntohs(BPF_CORE_READ(t, src.u.all));
		e->dport = bpf_ntohs(BPF_CORE_READ(t, dst.u.all));
	}
}

/*
 * Waking the reader for every new flow costs microseconds per flow under
 * churn; user space drains the ring whenever a conntrack event arrives (the
 * event follows its record) and on its timer, so wake it only when a lot is
 * waiting.
 */
#define WAKE_BYTES (256 * 1024)

static __always_inline void submit(struct attr_event *e)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(e, avail >= WAKE_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* sockets that began a flow to port 53: marked here, read by dns.bpf.c */
#include "dns_socks.bpf.h"

static __always_inline void mark_dns(const struct attr_event *e, __u64 cookie)
{
	__u8 one = 1;

	if (e->dport != DNS_PORT || (e->proto != IPPROTO_UDP && e->proto != IPPROTO_TCP))
		return;
	if (cookie) {
		bpf_map_update_elem(&dns_socks, &cookie, &one, BPF_ANY);
	} else if (e->proto == IPPROTO_UDP) {
		/* no cookie to mark (this program type cannot make one): mark the flow */
		struct dns_flow_key k = {};
		__u64 now = bpf_ktime_get_ns();

		__builtin_memcpy(k.laddr, e->saddr, sizeof(k.laddr));
		__builtin_memcpy(k.raddr, e->daddr, sizeof(k.raddr));
		k.lport = e->sport;
		k.family = e->family;
		bpf_map_update_elem(&dns_flows, &k, &now, BPF_ANY);
	}
}

/*
 * Who sent a flow's first packet from a local socket. It normally leaves
 * inside the sending syscall, so the current task made the flow (and names
 * the thread). TCP is the exception: a SYN retransmitted by a timer (the first
 * one was dropped by a later rule) leaves from softirq, where current is
 * whoever was interrupted; its socket's record was written by connect()
 * itself, in the connecting task (also a child using an inherited socket).
 * (With the sockops program, TCP flows are recorded at connect() and never
 * come here.) Packets from kernel threads belong to the socket's creator.
 */
static __always_inline void sender_owner(struct attr_event *e, struct sk_buff *skb)
{
	struct sock *sk = BPF_CORE_READ(skb, sk);
	__u64 cookie = sk ? sk_cookie_of(sk) : 0;
	struct attr_owner *so = cookie ? bpf_map_lookup_elem(&sock_owner, &cookie) : 0;

	if (so && (e->proto == IPPROTO_TCP || current_is_kthread())) {
		e->owner = *so;
		e->how = ATTR_HOW_SOCKET;
	} else {
		owner_current(&e->owner, cookie);
		e->how = ATTR_HOW_TASK;
	}
	mark_dns(e, cookie);
}

/*
 * A conntrack entry this packet created (not yet confirmed), leaving a local
 * socket: sent by the current task in the socket call that made the flow
 * (connect, sendmsg, ping). Inbound flows need no per-packet program at all:
 * user space matches them against the port owners reported below.
 */
/* A zeroed record of a flow of netns, or NULL (counted: attribution lost). */
static __always_inline struct attr_event *flow_record(__u32 netns)
{
	struct attr_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(ATTR_CNT_RB_FAIL);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->netns = netns;
	return e;
}

/*
 * Set by user space when the sockops program runs: TCP flows are then
 * recorded at connect() (TCP_CONNECT_CB, see ft_listen_sockops), and the
 * packet programs leave TCP alone.
 */
const volatile bool tcp_at_connect = false;

static __always_inline void on_new_ct(struct nf_conn *ct, struct sk_buff *skb, __u32 netns)
{
	struct attr_event *e;

	if (tcp_at_connect &&
	    BPF_CORE_READ(ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple.dst.protonum) == IPPROTO_TCP)
		return;
	count(ATTR_CNT_NEW);
	e = flow_record(netns);
	if (!e)
		return;
	ct_tuple(e, ct);
	e->kind = ATTR_EV_OUT;
	sender_owner(e, skb);
	submit(e);
}

/*
 * Packets of a namespace where nothing asked for connection tracking (a
 * container's own netns, usually): the flow is tracked, if at all, by the
 * host it is NATed through. The tuple comes from the headers, once per flow:
 * a TCP SYN (sender = connect()'s task), a SYN-ACK (a local listener answers:
 * user space names the port's owner), the first datagram of a UDP, UDP-Lite,
 * SCTP or DCCP tuple or ICMP echo request seen in NOCT_AGAIN_NS.
 */
struct noct_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 netns;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct noct_key);
	__type(value, __u64);
} noct_seen SEC(".maps");

#define NOCT_AGAIN_NS (30ULL * 1000000000ULL)
#define IPPROTO_DCCP 33
#define IPPROTO_SCTP 132
#define IPPROTO_UDPLITE 136
#define NFPROTO_IPV4 2

static __always_inline void on_no_ct(struct bpf_nf_ctx *ctx, struct sk_buff *skb)
{
	struct noct_key k = {};
	unsigned char *head;
	__u32 l4;
	__u16 nh;
	bool synack = false;
	struct attr_event *e;

	if (!BPF_CORE_READ(skb, sk))
		return;		/* not from a local socket */
	head = BPF_CORE_READ(skb, head);
	nh = BPF_CORE_READ(skb, network_header);
	if (ctx->state->pf == NFPROTO_IPV4) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		if (ip.frag_off & bpf_htons(0x1fff))
			return;	/* not the first fragment: no ports */
		k.family = AF_INET;
		k.proto = ip.protocol;
		__builtin_memcpy(k.saddr, &ip.saddr, 4);
		__builtin_memcpy(k.daddr, &ip.daddr, 4);
		l4 = nh + ip.ihl * 4;
	} else {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		k.family = AF_INET6;
		k.proto = ip6.nexthdr;	/* extension headers: not followed */
		__builtin_memcpy(k.saddr, &ip6.saddr, 16);
		__builtin_memcpy(k.daddr, &ip6.daddr, 16);
		l4 = nh + sizeof(ip6);
	}
	if (k.proto == IPPROTO_TCP) {
		struct tcphdr th;

		if (bpf_probe_read_kernel(&th, sizeof(th), head + l4) || !th.syn)
			return;	/* only the handshake: later segments cost one read */
		synack = th.ack;
		if (!synack && tcp_at_connect)
			return;	/* recorded by connect() already */
		k.sport = bpf_ntohs(th.source);
		k.dport = bpf_ntohs(th.dest);
	} else if (k.proto == IPPROTO_UDP || k.proto == IPPROTO_UDPLITE ||
		   k.proto == IPPROTO_SCTP || k.proto == IPPROTO_DCCP) {
		__be16 ports[2];

		if (bpf_probe_read_kernel(ports, sizeof(ports), head + l4))
			return;
		k.sport = bpf_ntohs(ports[0]);
		k.dport = bpf_ntohs(ports[1]);
	} else if (k.proto == IPPROTO_ICMP || k.proto == IPPROTO_ICMPV6) {
		__u8 ic[8];

		if (bpf_probe_read_kernel(ic, sizeof(ic), head + l4))
			return;
		if (ic[0] != (k.proto == IPPROTO_ICMP ? 8 : 128))
			return;	/* echo requests only, as conntrack's original tuple */
		k.sport = (__u16)ic[4] << 8 | ic[5];
		k.dport = (__u16)ic[0] << 8 | ic[1];
	} else {
		return;
	}
	k.netns = ctx->state->net->ns.inum;
	if (k.proto != IPPROTO_TCP) {
		__u64 now = bpf_ktime_get_ns();
		__u64 *last = bpf_map_lookup_elem(&noct_seen, &k);

		if (last && now - *last < NOCT_AGAIN_NS)
			return;
		bpf_map_update_elem(&noct_seen, &k, &now, BPF_ANY);
	}
	count(ATTR_CNT_NOCT);
	e = flow_record(k.netns);
	if (!e)
		return;
	__builtin_memcpy(e->saddr, k.saddr, 16);
	__builtin_memcpy(e->daddr, k.daddr, 16);
	e->sport = k.sport;
	e->dport = k.dport;
	e->family = k.family;
	e->proto = k.proto;
	e->kind = ATTR_EV_OUT;
	if (synack) {
		/* sent from softirq for a listener: its owner is the port's */
		e->owner.netns = k.netns;
		e->how = ATTR_HOW_PORT;
	} else {
		sender_owner(e, skb);
	}
	submit(e);
}

static __always_inline struct nf_conn *skb_ct(struct sk_buff *skb)
{
	unsigned long nfct = BPF_CORE_READ(skb, _nfct);

	/* the low bits hold ctinfo */
	return (struct nf_conn *)(nfct & ~7UL);
}

static __always_inline bool ct_unconfirmed(struct nf_conn *ct)
{
	return ct && !(BPF_CORE_READ(ct, status) & IPS_CONFIRMED);
}

/* Set by user space: another rung (fentry, kprobe) reports new conntrack entries. */
const volatile bool noct_only = false;

/* Rung "netfilter": one program on LOCAL_OUT of both families, after conntrack. */
SEC("netfilter")
int ft_nf(struct bpf_nf_ctx *ctx)
{
	struct sk_buff *skb = ctx->skb;
	/* a direct load: skb is a trusted pointer here, no helper call per packet */
	unsigned long nfct = skb->_nfct;
	struct nf_conn *ct = (struct nf_conn *)(nfct & ~7UL);
	__u32 ctinfo = nfct & 7;

	if (!ct) {
		on_no_ct(ctx, skb);	/* conntrack is not active in this netns */
		return NF_ACCEPT;
	}
	/*
	 * A flow's first packet goes the original way with no reply seen yet: NEW,
	 * or RELATED for an expected flow. Packets after a reply leave here on the
	 * ctinfo bits alone; the rest read the entry's status.
	 */
	if (noct_only || ctinfo == IP_CT_ESTABLISHED || ctinfo >= IP_CT_IS_REPLY ||
	    !ct_unconfirmed(ct))
		return NF_ACCEPT;	/* every later packet of a flow ends here */
	on_new_ct(ct, skb, ctx->state->net->ns.inum);
	return NF_ACCEPT;
}

/*
 * Rungs "fentry" and "kprobe": confirmation of a new entry, at the last hook a
 * packet passes (POSTROUTING for sent packets, LOCAL_IN for received ones).
 * A packet from a local socket carries it; received and forwarded ones do not.
 */
static __always_inline void on_confirm(struct sk_buff *skb)
{
	struct nf_conn *ct = skb_ct(skb);

	if (!ct_unconfirmed(ct) || !BPF_CORE_READ(skb, sk))
		return;
	on_new_ct(ct, skb, ct_netns_of(ct));
}

SEC("fentry/__nf_conntrack_confirm")
int BPF_PROG(ft_confirm_fentry, struct sk_buff *skb)
{
	on_confirm(skb);
	return 0;
}

SEC("kprobe/__nf_conntrack_confirm")
int BPF_KPROBE(ft_confirm_kprobe, struct sk_buff *skb)
{
	on_confirm(skb);
	return 0;
}

/* ---- owners of listening ports (TCP): listen() runs in the owner's context ---- */

static __always_inline void sk_port_key(struct attr_port_key *k, const struct sock *sk)
{
	k->netns = sk_netns_of(sk);
	k->proto = BPF_CORE_READ(sk, sk_protocol);
	k->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	k->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (k->family == AF_INET)
		bpf_probe_read_kernel(k->addr, 4, &sk->__sk_common.skc_rcv_saddr);
	else
		bpf_probe_read_kernel(k->addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
}

/* Tell user space who owns a local port now (or that nobody does). */
static __always_inline void port_event(const struct attr_port_key *k, const struct attr_owner *o,
				       __u8 kind)
{
	struct attr_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(ATTR_CNT_RB_FAIL);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	if (o)
		e->owner = *o;
	e->ts_ns = bpf_ktime_get_ns();
	e->netns = k->netns;
	__builtin_memcpy(e->daddr, k->addr, 16);
	e->dport = k->port;
	e->family = k->family;
	e->proto = k->proto;
	e->kind = kind;
	e->how = ATTR_HOW_PORT;
	submit(e);
}

static __always_inline void listen_change(const struct sock *sk, bool on)
{
	struct attr_port_key k = {};
	struct attr_owner o = {};

	sk_port_key(&k, sk);
	if (!k.port)
		return;		/* listen() before its port was chosen: not knowable here */
	if (!on) {
		bpf_map_delete_elem(&port_owner, &k);
		port_event(&k, NULL, ATTR_EV_PORT_DEL);
		return;
	}
	owner_current(&o, sk_cookie_of(sk));
	if (bpf_map_update_elem(&port_owner, &k, &o, BPF_ANY))
		count(ATTR_CNT_MAP_FULL);
	port_event(&k, &o, ATTR_EV_PORT_ADD);
}

static __always_inline void state_change(const struct sock *sk, int oldstate, int newstate)
{
	/* every TCP state change of the machine passes here: leave at once */
	if (newstate != TCP_LISTEN && oldstate != TCP_LISTEN)
		return;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return;
	/*
	 * Only LISTEN -> CLOSE ends a listener: a request socket cloned from a
	 * listener also leaves LISTEN (for SYN_RECV) with the listener's address
	 * and port, and must not take the listener's entry with it.
	 */
	if (newstate == TCP_LISTEN)
		listen_change(sk, true);
	else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE)
		listen_change(sk, false);
}

/* fexit: after the port is assigned (listen() without bind() picks it in there). */
SEC("fexit/inet_csk_listen_start")
int BPF_PROG(ft_listen_fentry, struct sock *sk, int ret)
{
	if (!ret)
		listen_change(sk, true);
	return 0;
}

/* kprobe: at entry, so listen() without bind() shows port 0 and is missed here */
SEC("kprobe/inet_csk_listen_start")
int BPF_KPROBE(ft_listen_kprobe, struct sock *sk)
{
	if (BPF_CORE_READ(sk, __sk_common.skc_num))
		listen_change(sk, true);
	return 0;
}

/*
 * The socket's network namespace. Not the current task's: a process that
 * exits with a listener open closes it after its namespaces are released
 * (the task's nsproxy is NULL by then), and a socket may have been made in
 * another namespace than its listen() caller's.
 */
static __always_inline __u32 skops_netns(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct tcp_sock *tp = sk ? bpf_skc_to_tcp_sock(sk) : NULL;

	if (tp)
		return tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net->ns.inum;
	return current_netns();
}

static __always_inline void sockops_key(struct attr_port_key *k, struct bpf_sock_ops *skops)
{
	k->netns = skops_netns(skops);
	k->proto = IPPROTO_TCP;
	k->family = skops->family;
	k->port = skops->local_port;	/* host order in this context */
	if (k->family == AF_INET) {
		__u32 a = skops->local_ip4;

		__builtin_memcpy(k->addr, &a, 4);
	} else {
		__u32 a[4] = { skops->local_ip6[0], skops->local_ip6[1], skops->local_ip6[2],
			       skops->local_ip6[3] };

		__builtin_memcpy(k->addr, a, 16);
	}
}

/*
 * TCP_CONNECT_CB: connect() (or a TCP Fast Open send) has chosen the local
 * port and is about to send the SYN, in the connecting task. The socket's
 * addresses are the flow's original tuple (NAT changes only the reply one).
 * Recording here rather than at the first packet also names the owner of a
 * flow whose first SYN a later rule dropped (the next one leaves from a
 * timer), with no per-socket map, and spares the netfilter program every
 * TCP flow.
 */
static __always_inline void connect_record(struct bpf_sock_ops *skops)
{
	struct attr_event *e;
	__u32 l6[4] = { skops->local_ip6[0], skops->local_ip6[1], skops->local_ip6[2],
			skops->local_ip6[3] };
	__u32 r6[4] = { skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2],
			skops->remote_ip6[3] };
	__u32 l4 = skops->local_ip4, r4 = skops->remote_ip4;

	count(ATTR_CNT_NEW);
	e = flow_record(0);
	if (!e)
		return;
	owner_current(&e->owner, 0);
	e->netns = e->owner.netns;	/* the connecting task's */
	e->proto = IPPROTO_TCP;
	e->sport = (__u16)skops->local_port;		/* host order in this context */
	e->dport = (__u16)bpf_ntohl(skops->remote_port);
	/* an IPv6 socket reaching an IPv4 address (::ffff:a.b.c.d) makes an IPv4 flow */
	if (skops->family == AF_INET6 && !(r6[0] | r6[1]) && r6[2] == bpf_htonl(0xffff)) {
		e->family = AF_INET;
		__builtin_memcpy(e->saddr, &l6[3], 4);
		__builtin_memcpy(e->daddr, &r6[3], 4);
	} else if (skops->family == AF_INET6) {
		e->family = AF_INET6;
		__builtin_memcpy(e->saddr, l6, 16);
		__builtin_memcpy(e->daddr, r6, 16);
	} else {
		e->family = AF_INET;
		__builtin_memcpy(e->saddr, &l4, 4);
		__builtin_memcpy(e->daddr, &r4, 4);
	}
	e->kind = ATTR_EV_OUT;
	e->how = ATTR_HOW_TASK;
	/* a cookie is made only when needed: for the DNS mark */
	if (e->dport == DNS_PORT)
		mark_dns(e, bpf_get_socket_cookie(skops));
	submit(e);
}

/*
 * Rung "cgroup" (sockops): TCP_LISTEN_CB runs in listen() once the port is
 * assigned; asking for STATE_CB on that socket then reports its close.
 */
SEC("sockops")
int ft_listen_sockops(struct bpf_sock_ops *skops)
{
	struct attr_port_key k = {};
	struct attr_owner o = {};

	if (skops->op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		if (tcp_at_connect)
			connect_record(skops);
	} else if (skops->op == BPF_SOCK_OPS_TCP_LISTEN_CB) {
		sockops_key(&k, skops);
		owner_current(&o, bpf_get_socket_cookie(skops));
		if (bpf_map_update_elem(&port_owner, &k, &o, BPF_ANY))
			count(ATTR_CNT_MAP_FULL);
		port_event(&k, &o, ATTR_EV_PORT_ADD);
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
	} else if (skops->op == BPF_SOCK_OPS_STATE_CB && skops->args[0] == TCP_LISTEN) {
		sockops_key(&k, skops);
		bpf_map_delete_elem(&port_owner, &k);
		port_event(&k, NULL, ATTR_EV_PORT_DEL);
	}
	return 1;
}

/* Closing a listener always passes through the state tracepoint, whatever rung opened it. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ft_state_tp_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	state_change(sk, oldstate, newstate);
	return 0;
}

SEC("raw_tracepoint/inet_sock_set_state")
int ft_state_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	state_change((const struct sock *)ctx->args[0], (int)ctx->args[1], (int)ctx->args[2]);
	return 0;
}

/* ---- sockets: creators, and owners of bound non-TCP ports (UDP servers) ---- */

/* The current task owns the socket with this cookie (sock_create, connect). */
static __always_inline int own_socket(__u64 cookie)
{
	struct attr_owner o = {};

	owner_current(&o, cookie);
	if (bpf_map_update_elem(&sock_owner, &cookie, &o, BPF_ANY))
		count(ATTR_CNT_MAP_FULL);
	return 1;
}

SEC("cgroup/sock_create")
int ft_sock_create(struct bpf_sock *ctx)
{
	return own_socket(bpf_get_socket_cookie(ctx));
}

/* connect() runs in the connecting task: it, not the socket's creator, makes the flow. */
static __always_inline int on_connect(struct bpf_sock_addr *ctx)
{
	/* TCP flows are recorded at connect() by the sockops program then. (Other
	 * sockets still get their cookie made here: the DNS mark needs one.) */
	if (tcp_at_connect && ctx->protocol == IPPROTO_TCP)
		return 1;
	return own_socket(bpf_get_socket_cookie(ctx));
}

SEC("cgroup/connect4")
int ft_connect4(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx);
}

SEC("cgroup/connect6")
int ft_connect6(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx);
}

SEC("cgroup/sock_release")
int ft_sock_release(struct bpf_sock *ctx)
{
	__u64 cookie;
	struct attr_port_key *k;

	/* bound TCP sockets are not in bound_key (listeners are): every connection's two
	 * sockets leave here, before their cookie is read or made */
	if (ctx->protocol == IPPROTO_TCP)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	k = bpf_map_lookup_elem(&bound_key, &cookie);

	/* sock_owner is an LRU map and cookies are never reused: no delete per socket */
	if (k) {
		struct attr_owner *o = bpf_map_lookup_elem(&port_owner, k);

		/* a later bind to the same port may own the entry now */
		if (o && o->cookie == cookie) {
			port_event(k, NULL, ATTR_EV_PORT_DEL);
			bpf_map_delete_elem(&port_owner, k);
		}
		bpf_map_delete_elem(&bound_key, &cookie);
	}
	return 1;
}

/* The address fields a post_bind program may read depend on its family: v6 is a constant. */
static __always_inline int post_bind(struct bpf_sock *ctx, bool v6)
{
	struct attr_port_key k = {};
	struct attr_owner o = {};

	if (ctx->protocol == IPPROTO_TCP)
		return 1;	/* TCP owners are the listeners */
	k.netns = current_netns();
	k.proto = ctx->protocol;
	k.family = v6 ? AF_INET6 : AF_INET;
	k.port = ctx->src_port;
	if (v6) {
		__u32 a[4] = { ctx->src_ip6[0], ctx->src_ip6[1], ctx->src_ip6[2], ctx->src_ip6[3] };

		__builtin_memcpy(k.addr, a, 16);
	} else {
		__u32 a = ctx->src_ip4;

		__builtin_memcpy(k.addr, &a, 4);
	}
	owner_current(&o, bpf_get_socket_cookie(ctx));
	if (bpf_map_update_elem(&port_owner, &k, &o, BPF_ANY) ||
	    bpf_map_update_elem(&bound_key, &o.cookie, &k, BPF_ANY))
		count(ATTR_CNT_MAP_FULL);
	port_event(&k, &o, ATTR_EV_PORT_ADD);
	return 1;
}

SEC("cgroup/post_bind4")
int ft_post_bind4(struct bpf_sock *ctx)
{
	return post_bind(ctx, false);
}

SEC("cgroup/post_bind6")
int ft_post_bind6(struct bpf_sock *ctx)
{
	return post_bind(ctx, true);
}
