/* attr_ebpf.h - eBPF attribution: the probe ladder's decision and the backend's counters. */
#ifndef FLOWTOP_ATTR_EBPF_H
#define FLOWTOP_ATTR_EBPF_H

#include <stdarg.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <linux/types.h>

/* Rungs of the probe ladder, best first. */
enum attr_rung {
	RUNG_NONE = 0,
	RUNG_FENTRY,
	RUNG_KPROBE,
	RUNG_TP_BTF,
	RUNG_RAW_TP,
	RUNG_CGROUP,
	RUNG_NETFILTER,
	RUNG_MAX,
};

/* Hook points, each decided on its own. */
enum attr_hook {
	HOOK_FLOW = 0,		/* a new conntrack entry and the task that caused it */
	HOOK_LISTEN,		/* owners of listening TCP ports (inbound flows) */
	HOOK_BIND,		/* owners of bound UDP/other ports (inbound flows) */
	HOOK_SOCK,		/* connect() (socket owners) and close (bound ports) */
	HOOK_NETNS,		/* flows of other namespaces (containers) without conntrack */
	HOOK_MAX,
};

struct attr_probe {
	enum attr_rung rung[HOOK_MAX];
	char refused[HOOK_MAX][RUNG_MAX][160];	/* why a better rung was not taken */
	char why[192];				/* why eBPF is not usable at all */
};

struct attr_ebpf_stats {
	unsigned long long records;		/* records read from the ring buffer */
	unsigned long long joined;		/* records joined with a conntrack entry */
	unsigned long long joined_inbound;	/* inbound flows given to their port's owner */
	unsigned long long joined_netns;	/* flows joined with a record of another netns */
	unsigned long long kernel_noct;		/* flows seen where conntrack is inactive */
	unsigned long long netns_watched;	/* other namespaces with a LOCAL_OUT link */
	unsigned long long records_dropped;	/* records whose entry never came */
	unsigned long long flows_unmatched;	/* new flows without a record */
	unsigned long long lost;		/* ring buffer full in the kernel: attribution lost */
	unsigned long long kernel_new;		/* new entries the kernel program saw */
	unsigned long long no_owner;		/* inbound flows to ports nobody owns */
	unsigned long long map_full;
	unsigned long long waiting_records;
	unsigned long long waiting_flows;
};

/* Decide the rung per hook by loading and attaching real programs. 0 or -errno (pr->why). */
int attr_ebpf_probe(struct attr_probe *pr, enum attr_rung min_rung);
void attr_ebpf_probe_print(FILE *out, const struct attr_probe *pr);
/* Ring buffer size and the lowest rung allowed to be skipped to (tests force lower rungs). */
/* A libbpf print function that keeps only the last warning line, in libbpf_last. */
int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap);
extern char libbpf_last[256];

/* Sum over the CPUs of one value of a per-CPU array map of __u64 (0 when unreadable). */
__u64 bpf_percpu_sum(int map_fd, __u32 key);

/* One of the attribution programs' maps by name (dns_socks, dns_flows: shared with the
 * DNS program), or a negative value. */
int attr_ebpf_map_fd(const char *name);

void attr_ebpf_configure(unsigned int ring_bytes, enum attr_rung min_rung);
const struct attr_probe *attr_ebpf_probed(void);
void attr_ebpf_stats(struct attr_ebpf_stats *out);
/*
 * Can the records of the next ns nanoseconds wait for a dump to find their
 * flows (ns at most 2 s; at the rate of new flows since the last call, in
 * half the store)?
 */
bool attr_ebpf_records_wait(__u64 ns);
const char *attr_rung_name(enum attr_rung r);
const char *attr_hook_name(enum attr_hook h);

struct attr_backend *attr_ebpf_backend(void);

#endif
