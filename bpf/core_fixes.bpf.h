/* core_fixes.bpf.h - kernel differences the attribution programs must read around (CO-RE). */
#ifndef FLOWTOP_CORE_FIXES_BPF_H
#define FLOWTOP_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * sk_uid became a kuid_t wrapper long ago, but sock_common's cookie is an
 * atomic64_t on every kernel we load on; keep the reads here so a future
 * layout change has one place to go.
 */
static __always_inline __u64 sk_cookie_of(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

static __always_inline __u32 sk_netns_of(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* struct nf_conn::ct_net is a possible_net_t on every supported kernel. */
static __always_inline __u32 ct_netns_of(const struct nf_conn *ct)
{
	return BPF_CORE_READ(ct, ct_net.net, ns.inum);
}

#endif
