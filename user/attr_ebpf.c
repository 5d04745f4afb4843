/* attr_ebpf.c - eBPF attribution: probe ladder, load and attach, ring buffer, join with conntrack. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attr.h"
#include "attr_ebpf.h"
#include "attr_event.h"
#include "cgroup.h"
#include "caps.h"
#include "fmt.h"
#include "model.h"
#include "netns.h"
#include "sockdiag.h"

#include "attr.skel.h"

/*
 * Records (who made a flow) come from the kernel before or after the
 * conntrack event of the same flow; both wait for each other here, keyed by
 * netns + original tuple. Records wait REC_WAIT_NS for their entry, flows
 * FLOW_WAIT_NS for their record before the fallback backend gets them.
 */
#define REC_WAIT_NS 5000000000ULL
#define FLOW_WAIT_NS 1000000000ULL
#define REC_CAP (1u << 17)

/* Constants the Debian 12 uapi headers (6.1) lack: from the 6.4 uapi. */
#define FT_PROG_TYPE_NETFILTER 32
#define FT_ATTACH_NETFILTER 45
#define FT_NFPROTO_IPV4 2
#define FT_NFPROTO_IPV6 10
#define FT_NF_LOCAL_OUT 3

static const char *const rung_names[RUNG_MAX] = {
	[RUNG_NONE] = "none", [RUNG_FENTRY] = "fentry", [RUNG_KPROBE] = "kprobe",
	[RUNG_TP_BTF] = "tp_btf", [RUNG_RAW_TP] = "raw_tp", [RUNG_CGROUP] = "cgroup",
	[RUNG_NETFILTER] = "netfilter",
};

static const char *const hook_names[HOOK_MAX] = {
	[HOOK_FLOW] = "flow", [HOOK_LISTEN] = "listen", [HOOK_BIND] = "bind",
	[HOOK_SOCK] = "sock", [HOOK_NETNS] = "netns",
};

/* The rungs each hook may use, best first. */
static const enum attr_rung ladder[HOOK_MAX][6] = {
	[HOOK_FLOW] = { RUNG_FENTRY, RUNG_KPROBE, RUNG_NETFILTER, RUNG_NONE },
	[HOOK_LISTEN] = { RUNG_FENTRY, RUNG_KPROBE, RUNG_CGROUP, RUNG_TP_BTF, RUNG_RAW_TP,
			  RUNG_NONE },
	[HOOK_BIND] = { RUNG_CGROUP, RUNG_NONE },
	[HOOK_SOCK] = { RUNG_CGROUP, RUNG_NONE },
	/* a LOCAL_OUT link in every other netns: optional (without it, containers' flows are
	 * attributed only where their own netns tracks connections) */
	[HOOK_NETNS] = { RUNG_NETFILTER, RUNG_NONE },
};

struct rec {
	struct attr_event ev;
	__u64 seen_ns;
	__u32 next;		/* hash chain: index + 1 */
	__u8 used;
	__u8 joined;		/* given to a flow of its own netns; others may still use it */
};

/* User-space copy of who owns which local port (from PORT_ADD / PORT_DEL records). */
struct port_ent {
	struct attr_port_key key;
	struct attr_owner owner;
	struct port_ent *next;
};

#define PORT_BUCKETS 4096

struct waiting {
	struct flow_tuple orig;	/* with id: the flow (ids alone collide) */
	__u32 netns;
	__u32 id;
	__u64 deadline_ns;
};

/* LOCAL_OUT links in the other network namespaces (containers), rung "netfilter". */
struct ns_link {
	__u32 inode;
	int fd[2];
	unsigned int gen;
};

#define NS_MAX NETNS_FOUND_MAX

struct ebpf {
	struct model *m;
	struct attr_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[16];
	int nlinks;
	int nf_links[4];
	int n_nf_links;
	struct attr_probe probe;
	/* records waiting for their conntrack entry: a ring (oldest first) + hash */
	struct rec *recs;
	__u32 *buckets;
	__u32 rec_head;		/* oldest */
	__u32 rec_count;
	/* flows waiting for their record */
	struct waiting *wait;
	size_t nwait, wait_cap;
	struct attr_backend *fallback;
	struct port_ent *ports[PORT_BUCKETS];
	struct sd_table *locals;	/* only its local address set is used */
	__u64 local_ns;
	struct attr_ebpf_stats st;
	__u64 rate_ns, rate_new;	/* attr_ebpf_records_wait(): the last call */
	/* namespaces other than the watched one */
	struct ns_link *nsl;
	size_t nnsl;
	unsigned int ns_gen;
	unsigned int ns_list_gen;	/* the netns_refresh() list last looked at */
	int self_ns_fd;
	__u32 self_ns;
	bool per_netns;
};

static struct ebpf ebpf_state;
char libbpf_last[256];

/* libbpf's messages (verifier logs) would garble the screen: keep only the last line. */
int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN) {
		vsnprintf(libbpf_last, sizeof(libbpf_last), fmt, ap);
		libbpf_last[strcspn(libbpf_last, "\n")] = 0;
	}
	return 0;
}

const char *attr_rung_name(enum attr_rung r)
{
	return r < RUNG_MAX ? rung_names[r] : "?";
}

const char *attr_hook_name(enum attr_hook h)
{
	return h < HOOK_MAX ? hook_names[h] : "?";
}

static int nf_link_create(int prog_fd, __u32 pf, __u32 hooknum, __s32 prio)
{
	/* union bpf_attr.link_create for BPF_NETFILTER (uapi >= 6.4); the tail stays zero */
	struct {
		__u32 prog_fd, target_fd, attach_type, flags;
		__u32 pf, hooknum;
		__s32 priority;
		__u32 nf_flags;
		char pad[96];
	} attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (__u32)prog_fd;
	attr.attach_type = FT_ATTACH_NETFILTER;
	attr.pf = pf;
	attr.hooknum = hooknum;
	attr.priority = prio;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
}

static struct bpf_program *const *progs_of(struct attr_bpf *s, enum attr_hook h,
					   enum attr_rung r, int *n)
{
	static struct bpf_program *p[6];

	*n = 0;
	switch (h) {
	case HOOK_FLOW:
		if (r == RUNG_FENTRY)
			p[(*n)++] = s->progs.ft_confirm_fentry;
		else if (r == RUNG_KPROBE)
			p[(*n)++] = s->progs.ft_confirm_kprobe;
		else if (r == RUNG_NETFILTER)
			p[(*n)++] = s->progs.ft_nf;
		break;
	case HOOK_LISTEN:
		if (r == RUNG_FENTRY)
			p[(*n)++] = s->progs.ft_listen_fentry;
		else if (r == RUNG_KPROBE)
			p[(*n)++] = s->progs.ft_listen_kprobe;
		else if (r == RUNG_CGROUP)
			p[(*n)++] = s->progs.ft_listen_sockops;
		else if (r == RUNG_TP_BTF)
			p[(*n)++] = s->progs.ft_state_tp_btf;
		else if (r == RUNG_RAW_TP)
			p[(*n)++] = s->progs.ft_state_raw_tp;
		break;
	case HOOK_BIND:
		if (r == RUNG_CGROUP) {
			p[(*n)++] = s->progs.ft_post_bind4;
			p[(*n)++] = s->progs.ft_post_bind6;
		}
		break;
	case HOOK_SOCK:
		/* sock_release frees bound ports. connect() names the owner of a TCP
		 * socket for a SYN sent again from a timer (unless the sockops program
		 * records TCP flows at connect() anyway), and makes other sockets' cookie.
		 * sock_create (ft_sock_create) would name the creator of every socket for
		 * packets sent by kernel threads; it costs ~0.6 us per socket, so it is
		 * left out. */
		if (r == RUNG_CGROUP) {
			p[(*n)++] = s->progs.ft_sock_release;
			p[(*n)++] = s->progs.ft_connect4;
			p[(*n)++] = s->progs.ft_connect6;
		}
		break;
	case HOOK_NETNS:
		if (r == RUNG_NETFILTER)
			p[(*n)++] = s->progs.ft_nf;
		break;
	default:
		break;
	}
	return p;
}

static void detach_all(struct ebpf *e)
{
	for (int i = 0; i < e->nlinks; i++)
		bpf_link__destroy(e->links[i]);
	e->nlinks = 0;
	for (int i = 0; i < e->n_nf_links; i++)
		close(e->nf_links[i]);
	e->n_nf_links = 0;
}

/*
 * The netfilter rung in the current netns: LOCAL_OUT of both families.
 * LOCAL_OUT only: inbound flows are matched with port owners in user space,
 * which spares every received packet a program run.
 */
static int nf_attach(int prog_fd, int fd[2])
{
	static const __u32 pfs[2] = { FT_NFPROTO_IPV4, FT_NFPROTO_IPV6 };

	for (int i = 0; i < 2; i++) {
		/* Last before confirmation: the flow's first packet was not dropped by a
		 * filter rule yet to come. Two BPF hooks may not share a priority
		 * (another flowtop, another tool): step down. */
		int r = -EBUSY;

		for (int k = 1; k <= 32 && r == -EBUSY; k++)
			r = nf_link_create(prog_fd, pfs[i], FT_NF_LOCAL_OUT, INT_MAX - k);
		if (r < 0) {
			if (i)
				close(fd[0]);
			return r;
		}
		fd[i] = r;
	}
	return 0;
}

/* Attach one program as its rung requires. */
static int attach_prog(struct ebpf *e, struct bpf_program *p, enum attr_rung r, int cgfd)
{
	struct bpf_link *l;

	if (r == RUNG_NETFILTER) {
		int fd[2], err = nf_attach(bpf_program__fd(p), fd);

		if (err < 0)
			return err;
		e->nf_links[e->n_nf_links++] = fd[0];
		e->nf_links[e->n_nf_links++] = fd[1];
		return 0;
	}
	if (r == RUNG_CGROUP)
		l = bpf_program__attach_cgroup(p, cgfd);
	else
		l = bpf_program__attach(p);
	if (!l)
		return -errno;
	e->links[e->nlinks++] = l;
	return 0;
}

/* 1: this kernel refused bpf_get_current_task_btf() in a program that loads without it. */
static int task_btf_refused = -1;

/*
 * Open, load and attach with the given rung per hook (RUNG_NONE = not
 * loaded). Returns 0 with everything attached, or -errno with what failed in why.
 */
static int load_with(struct ebpf *e, const enum attr_rung *rung, unsigned int ring_bytes,
		     char *why, size_t whylen)
{
	struct bpf_program *prog;
	const char *cgroot = cgroup_root();
	const char *reads = getenv("FLOWTOP_TASK_READS");
	int cgfd = -1, err;
	bool direct = task_btf_refused != 1;

	/* as on kernels that refuse bpf_get_current_task_btf() here (tests use it) */
	if (reads && !strcmp(reads, "probe")) {
		direct = false;
		task_btf_refused = 1;
	}

again:
	e->skel = attr_bpf__open();
	if (!e->skel) {
		snprintf(why, whylen, "open: %s", strerror(errno));
		return -errno;
	}
	bpf_object__for_each_program(prog, e->skel->obj)
		bpf_program__set_autoload(prog, false);
	/* libbpf 1.1 does not know SEC("netfilter"): type and attach type by hand */
	bpf_program__set_type(e->skel->progs.ft_nf, FT_PROG_TYPE_NETFILTER);
	bpf_program__set_expected_attach_type(e->skel->progs.ft_nf, FT_ATTACH_NETFILTER);
	for (int h = 0; h < HOOK_MAX; h++) {
		int n;
		struct bpf_program *const *p = progs_of(e->skel, h, rung[h], &n);

		for (int i = 0; i < n; i++)
			bpf_program__set_autoload(p[i], true);
	}
	/* the fentry/kprobe listen rungs see opens only: closes come from a tracepoint */
	if (rung[HOOK_LISTEN] == RUNG_FENTRY || rung[HOOK_LISTEN] == RUNG_KPROBE)
		bpf_program__set_autoload(e->skel->progs.ft_state_tp_btf, true);
	if (ring_bytes)
		bpf_map__set_max_entries(e->skel->maps.events, ring_bytes);
	/* ft_nf only for namespaces without conntrack when the flow hook is another rung */
	e->skel->rodata->noct_only = rung[HOOK_FLOW] != RUNG_NETFILTER;
	/* with the sockops program, TCP flows are recorded at connect() */
	e->skel->rodata->tcp_at_connect = rung[HOOK_LISTEN] == RUNG_CGROUP;
	e->skel->rodata->task_btf = direct;
	libbpf_last[0] = 0;
	err = attr_bpf__load(e->skel);
	if (err && direct) {
		/* maybe only bpf_get_current_task_btf() is refused here: try without it */
		attr_bpf__destroy(e->skel);
		e->skel = NULL;
		direct = false;
		goto again;
	}
	if (!err && !direct && task_btf_refused < 0)
		task_btf_refused = 1;	/* loaded once it was left out */
	if (err) {
		snprintf(why, whylen, "load: %s%s%s", strerror(-err), libbpf_last[0] ? ": " : "",
			 libbpf_last);
		goto fail;
	}
	if (rung[HOOK_BIND] == RUNG_CGROUP || rung[HOOK_SOCK] == RUNG_CGROUP ||
	    rung[HOOK_LISTEN] == RUNG_CGROUP) {
		cgfd = cgroot ? open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		if (cgfd < 0) {
			err = -ENOENT;
			snprintf(why, whylen, "no cgroup v2 hierarchy to attach to");
			goto fail;
		}
	}
	for (int h = 0; h < HOOK_MAX; h++) {
		int n;
		struct bpf_program *const *p = progs_of(e->skel, h, rung[h], &n);

		/* the other namespaces get their links from ns_scan(); probed alone, the
		 * link is tried here in the current netns */
		if (h == HOOK_NETNS && rung[HOOK_FLOW] != RUNG_NONE)
			continue;
		for (int i = 0; i < n; i++) {
			err = attach_prog(e, p[i], rung[h], cgfd);
			if (err) {
				snprintf(why, whylen, "attach %s: %s", bpf_program__name(p[i]),
					 strerror(-err));
				goto fail;
			}
		}
	}
	if (rung[HOOK_LISTEN] == RUNG_FENTRY || rung[HOOK_LISTEN] == RUNG_KPROBE)
		attach_prog(e, e->skel->progs.ft_state_tp_btf, RUNG_TP_BTF, cgfd);
	if (cgfd >= 0)
		close(cgfd);
	return 0;
fail:
	if (cgfd >= 0)
		close(cgfd);
	detach_all(e);
	attr_bpf__destroy(e->skel);
	e->skel = NULL;
	return err ? err : -EINVAL;
}

int attr_ebpf_probe(struct attr_probe *pr, enum attr_rung forced_max)
{
	struct ebpf tmp;

	memset(pr, 0, sizeof(*pr));
	libbpf_set_print(libbpf_quiet);
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(pr->why, sizeof(pr->why),
			 "the kernel exposes no BTF (/sys/kernel/btf/vmlinux): CO-RE programs "
			 "cannot be relocated");
		return -ENOTSUP;
	}
	/* CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN on kernels older than 5.8 */
	if (!(have_cap(CAP_BPF) && have_cap(CAP_PERFMON)) && !have_cap(CAP_SYS_ADMIN)) {
		snprintf(pr->why, sizeof(pr->why), "needs CAP_BPF and CAP_PERFMON (or root)");
		return -EPERM;
	}
	for (int h = 0; h < HOOK_MAX; h++) {
		int limit = 0;

		/* --rung-limit R: start at R where this hook's ladder has it, else skip
		 * the rungs the enum ranks above R */
		for (int i = 0; forced_max && ladder[h][i] != RUNG_NONE; i++) {
			if (ladder[h][i] == forced_max) {
				limit = i;
				break;
			}
			if (ladder[h][i] < forced_max)
				limit = i + 1;
		}
		pr->rung[h] = RUNG_NONE;
		for (int i = 0; ladder[h][i] != RUNG_NONE; i++) {
			enum attr_rung r = ladder[h][i], only[HOOK_MAX];
			char why[160];

			if (i < limit) {
				snprintf(pr->refused[h][r], sizeof(pr->refused[h][r]),
					 "skipped (--rung-limit)");
				continue;
			}
			for (int k = 0; k < HOOK_MAX; k++)
				only[k] = RUNG_NONE;
			only[h] = r;
			memset(&tmp, 0, sizeof(tmp));
			if (load_with(&tmp, only, 4096 * 4, why, sizeof(why)) == 0) {
				detach_all(&tmp);
				attr_bpf__destroy(tmp.skel);
				pr->rung[h] = r;
				break;
			}
			snprintf(pr->refused[h][r], sizeof(pr->refused[h][r]), "%s", why);
		}
	}
	if (pr->rung[HOOK_FLOW] == RUNG_NONE) {
		snprintf(pr->why, sizeof(pr->why), "no hook for new conntrack entries loads here");
		return -ENOTSUP;
	}
	return 0;
}

void attr_ebpf_probe_print(FILE *out, const struct attr_probe *pr)
{
	for (int h = 0; h < HOOK_MAX; h++) {
		fprintf(out, "  %-7s %s\n", hook_names[h], rung_names[pr->rung[h]]);
		for (int i = 0; ladder[h][i] != RUNG_NONE; i++) {
			enum attr_rung r = ladder[h][i];

			if (r == pr->rung[h])
				break;
			fprintf(out, "          %-9s refused: %s\n", rung_names[r],
				pr->refused[h][r][0] ? pr->refused[h][r] : "not tried");
		}
	}
	if (pr->rung[HOOK_FLOW] != RUNG_NONE)
		fprintf(out, "  task    %s\n", task_btf_refused == 1 ?
			"read by bpf_probe_read_kernel (bpf_get_current_task_btf refused, or "
			"FLOWTOP_TASK_READS=probe)" :
			"read by plain loads (bpf_get_current_task_btf)");
}

/* ---- the join -------------------------------------------------------- */

/* By tuple only: a container's record is looked up from the host's netns too. */
static __u32 rec_hash(const __u8 *s, const __u8 *d, __u16 sp, __u16 dp, __u8 proto)
{
	__u32 h = ((__u32)sp << 16 | dp) * 0x9e3779b1U ^ proto;

	for (int i = 0; i < 16; i += 4) {
		__u32 a, b;

		memcpy(&a, s + i, 4);
		memcpy(&b, d + i, 4);
		h = (h ^ a) * 0x85ebca6bU;
		h = (h ^ b) * 0xc2b2ae35U;
	}
	return (h ^ (h >> 15)) & (REC_CAP - 1);
}

static bool rec_matches(const struct attr_event *ev, const struct flow_tuple *t)
{
	return ev->family == t->family && ev->proto == t->proto &&
	       ev->sport == t->sport && ev->dport == t->dport && !memcmp(ev->saddr, t->src, 16) &&
	       !memcmp(ev->daddr, t->dst, 16);
}

static void rec_unlink(struct ebpf *e, __u32 idx)
{
	struct rec *r = &e->recs[idx];
	__u32 *pp = &e->buckets[rec_hash(r->ev.saddr, r->ev.daddr, r->ev.sport, r->ev.dport,
					  r->ev.proto)];

	while (*pp) {
		if (*pp - 1 == idx) {
			*pp = r->next;
			break;
		}
		pp = &e->recs[*pp - 1].next;
	}
	r->used = 0;
}

/*
 * Drop records that waited too long (their flow is not tracked, or
 * filtered); with make_room, the oldest slot whatever its age, and only it:
 * the store is full and one record is coming.
 */
static void rec_expire(struct ebpf *e, __u64 now, bool make_room)
{
	while (e->rec_count) {
		struct rec *r = &e->recs[e->rec_head];

		if (r->used) {
			if (!make_room && now - r->seen_ns < REC_WAIT_NS)
				break;
			rec_unlink(e, e->rec_head);
			if (!r->joined)
				e->st.records_dropped++;
		}
		e->rec_head = (e->rec_head + 1) & (REC_CAP - 1);
		e->rec_count--;
		if (make_room)
			break;
	}
}

/*
 * The record of tuple t: from netns itself (not given to a flow yet), or
 * with foreign set, from another netns (a container whose flow this netns
 * NATs: same tuple on both sides of MASQUERADE or DNAT).
 */
static struct rec *rec_find(struct ebpf *e, __u32 netns, const struct flow_tuple *t, bool foreign)
{
	__u32 i = e->buckets[rec_hash(t->src, t->dst, t->sport, t->dport, t->proto)];
	struct rec *found = NULL;

	/* Chains hold the newest first. A port reused under churn leaves several records of
	 * one tuple: flows come in the order their records did, so the oldest free one is
	 * this flow's. */
	while (i) {
		struct rec *r = &e->recs[i - 1];

		if (r->used && rec_matches(&r->ev, t)) {
			if (foreign && r->ev.netns != netns)
				return r;
			if (!foreign && r->ev.netns == netns && !r->joined)
				found = r;
		}
		i = r->next;
	}
	return found;
}

static void apply(struct flow *f, const struct attr_event *ev)
{
	struct flow_owner *o = &f->owner;

	memset(o, 0, sizeof(*o));
	o->pid = ev->owner.tgid;
	o->tid = ev->owner.tid;
	o->uid = ev->owner.uid;
	o->cgroup_id = ev->owner.cgroup_id;
	o->source = FLOW_ATTR_EBPF;
	memcpy(o->comm, ev->owner.comm, sizeof(o->comm) - 1);
	if (ev->kind == ATTR_EV_IN)
		f->flags |= FLOW_F_INBOUND;
	f->flags |= FLOW_F_ATTR_TRIED;
}

/*
 * A record given to a flow of its own netns can serve once more only as
 * another netns' foreign record, which needs flows of several namespaces in
 * one table (--all-netns) and links in the others. Otherwise it goes at once:
 * under port reuse a tuple's older records would lengthen its hash chain for
 * the 5 s they wait.
 */
static bool keep_joined(const struct ebpf *e)
{
	return e->nnsl && e->m->many_netns;
}

/* Flow f of the record's own netns gets record r. */
static void rec_joined(struct ebpf *e, struct flow *f, struct rec *r)
{
	apply(f, &r->ev);
	e->st.joined++;
	r->joined = 1;
	if (!keep_joined(e))
		rec_unlink(e, (__u32)(r - e->recs));
}

static __u32 port_hash(const struct attr_port_key *k)
{
	__u32 h = k->netns * 0x9e3779b1U ^ ((__u32)k->port << 8 | k->proto) ^ k->family;

	for (int i = 0; i < 16; i += 4) {
		__u32 a;

		memcpy(&a, k->addr + i, 4);
		h = (h ^ a) * 0x85ebca6bU;
	}
	return (h ^ (h >> 13)) & (PORT_BUCKETS - 1);
}

static struct port_ent **port_slot(struct ebpf *e, const struct attr_port_key *k)
{
	struct port_ent **pp = &e->ports[port_hash(k)];

	while (*pp && memcmp(&(*pp)->key, k, sizeof(*k)))
		pp = &(*pp)->next;
	return pp;
}

static void port_update(struct ebpf *e, const struct attr_event *ev)
{
	struct attr_port_key k;
	struct port_ent **pp, *p;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr, ev->daddr, 16);
	k.netns = ev->netns;
	k.port = ev->dport;
	k.proto = ev->proto;
	k.family = ev->family;
	pp = port_slot(e, &k);
	if (ev->kind == ATTR_EV_PORT_DEL) {
		if (*pp) {
			p = *pp;
			*pp = p->next;
			free(p);
		}
		return;
	}
	if (!*pp) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->key = k;
		*pp = p;
	}
	(*pp)->owner = ev->owner;
}

/*
 * Who owns the local end of an inbound flow: the reply tuple's source (the
 * address the flow really reached, also after DNAT). Exact address first,
 * then the wildcard, then an IPv6 socket that takes IPv4 (dual stack).
 */
static const struct attr_owner *port_owner_at(struct ebpf *e, __u32 netns, __u8 family,
					       __u8 proto, const __u8 *addr, __u16 port)
{
	struct attr_port_key k;
	struct port_ent **pp;

	if (!proto_has_ports(proto))
		return NULL;
	memset(&k, 0, sizeof(k));
	k.netns = netns;
	k.proto = proto;
	k.family = family;
	k.port = port;
	memcpy(k.addr, addr, 16);
	if (*(pp = port_slot(e, &k)))
		return &(*pp)->owner;
	memset(k.addr, 0, 16);
	if (*(pp = port_slot(e, &k)))
		return &(*pp)->owner;
	if (k.family != AF_INET)
		return NULL;
	k.family = AF_INET6;
	if (*(pp = port_slot(e, &k)))
		return &(*pp)->owner;
	k.addr[10] = 0xff;
	k.addr[11] = 0xff;
	memcpy(&k.addr[12], addr, 4);
	if (*(pp = port_slot(e, &k)))
		return &(*pp)->owner;
	return NULL;
}

static const struct attr_owner *port_owner_of(struct ebpf *e, const struct flow *f)
{
	return port_owner_at(e, f->netns, f->reply.family, f->reply.proto, f->reply.src,
			     f->reply.sport);
}

/*
 * A flow of the watched netns that a container made or answered: the
 * container's record has the flow's original tuple (it sent the first
 * packet, the host NATs it on the way out) or its reply tuple (it answered
 * a connection the host forwarded to it, DNAT). A SYN-ACK's record names no
 * task (softirq sent it): the owner of the listening port in that netns does.
 */
static bool join_foreign(struct ebpf *e, struct flow *f)
{
	struct rec *r = rec_find(e, f->netns, &f->orig, true);
	struct attr_event ev;
	bool inbound = false;

	if (!r) {
		r = rec_find(e, f->netns, &f->reply, true);
		inbound = true;
	}
	if (!r)
		return false;
	ev = r->ev;
	if (ev.how == ATTR_HOW_PORT) {
		const struct attr_owner *po = port_owner_at(e, ev.netns, ev.family, ev.proto,
							    ev.saddr, ev.sport);

		if (!po)
			return false;
		ev.owner = *po;
	}
	ev.kind = inbound ? ATTR_EV_IN : ATTR_EV_OUT;
	apply(f, &ev);
	e->st.joined_netns++;
	return true;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct ebpf *e = ctx;
	const struct attr_event *ev = data;
	struct flow_tuple t;
	struct flow *f;
	struct rec *r;
	__u32 idx, b;

	if (len < sizeof(*ev))
		return 0;
	if (ev->kind == ATTR_EV_PORT_ADD || ev->kind == ATTR_EV_PORT_DEL) {
		port_update(e, ev);
		return 0;
	}
	e->st.records++;
	memset(&t, 0, sizeof(t));
	memcpy(t.src, ev->saddr, 16);
	memcpy(t.dst, ev->daddr, 16);
	t.sport = ev->sport;
	t.dport = ev->dport;
	t.family = ev->family;
	t.proto = ev->proto;
	f = ev->how == ATTR_HOW_PORT ? NULL : ft_find_tuple(e->m->ft, ev->netns, &t);
	/* (an ended flow with this tuple is an older connection: a waiting one takes its own) */
	if (f && !(f->flags & FLOW_F_GONE) && f->owner.source != FLOW_ATTR_EBPF) {
		apply(f, ev);
		e->st.joined++;
		if (!keep_joined(e))
			return 0;
	} else {
		f = NULL;
	}
	/* The conntrack event has not arrived yet: keep the record for it (and, with
	 * containers around, for the host's entry of the same flow). */
	if (e->rec_count == REC_CAP)
		rec_expire(e, model_clock(), true);
	idx = (e->rec_head + e->rec_count) & (REC_CAP - 1);
	e->rec_count++;
	r = &e->recs[idx];
	r->ev = *ev;
	r->seen_ns = model_clock();
	r->used = 1;
	r->joined = f != NULL;
	b = rec_hash(ev->saddr, ev->daddr, ev->sport, ev->dport, ev->proto);
	r->next = e->buckets[b];
	e->buckets[b] = idx + 1;
	return 0;
}

static void drain(struct ebpf *e)
{
	if (e->rb)
		ring_buffer__consume(e->rb);
}

/* Is addr one of this namespace's own? sock_diag's address set, re-read at most once a second. */
static bool addr_local(struct ebpf *e, __u8 family, const __u8 *addr)
{
	__u64 now = model_clock();

	if (!e->locals)
		return true;	/* cannot tell: let the fallback decide */
	if (!e->local_ns || now - e->local_ns >= 1000000000ULL) {
		e->local_ns = now;
		sd_table_load_local(e->locals);
	}
	return sd_table_is_local(e->locals, family, addr);
}

static void eb_pending(struct attr_backend *b, struct flow *f)
{
	struct ebpf *e = b->priv;
	struct rec *r;

	/* Flows older than flowtop: no record can exist; the fallback says so. */
	if (f->flags & FLOW_F_PREEXIST) {
		if (e->fallback)
			e->fallback->pending(e->fallback, f);
		return;
	}
	r = rec_find(e, f->netns, &f->orig, false);
	if (r && r->ev.how != ATTR_HOW_PORT) {
		rec_joined(e, f, r);
		return;
	}
	/* a listener of this netns owns the flow before any other netns' process does */
	if (e->nnsl && !port_owner_of(e, f) && join_foreign(e, f))
		return;
	if (e->nwait == e->wait_cap) {
		size_t cap = e->wait_cap ? e->wait_cap * 2 : 1024;
		struct waiting *w = realloc(e->wait, cap * sizeof(*w));

		if (!w)
			return;
		e->wait = w;
		e->wait_cap = cap;
	}
	e->wait[e->nwait++] = (struct waiting){ f->orig, f->netns, f->id,
						model_clock() + FLOW_WAIT_NS };
}

/*
 * Rung "netfilter" is per netns: give every other namespace (containers) the
 * same LOCAL_OUT program, so that flows a container makes or answers have a
 * record the watched netns' NATed entry can be joined with. New namespaces
 * are found by each new netns_refresh() list (the event loop makes one every
 * 2 s); links of vanished ones are closed. No
 * namespace is held open (a socket or fd would keep a dead one alive).
 */
static void ns_scan(struct ebpf *e)
{
	size_t n;
	const struct netns_info *list = netns_found(&n);
	int prog = bpf_program__fd(e->skel->progs.ft_nf);
	size_t keep = 0;

	e->ns_list_gen = netns_generation();
	e->ns_gen++;
	for (size_t i = 0; i < n; i++) {
		size_t j;

		if (list[i].inode == e->self_ns)
			continue;
		for (j = 0; j < e->nnsl && e->nsl[j].inode != list[i].inode; j++)
			;
		if (j < e->nnsl) {
			e->nsl[j].gen = e->ns_gen;
			continue;
		}
		if (e->nnsl == NS_MAX)
			break;
		if (netns_enter(list[i].path) < 0)
			continue;	/* gone since the listing, or not ours to enter */
		{
			int fd[2];
			int r = nf_attach(prog, fd);

			if (setns(e->self_ns_fd, CLONE_NEWNET) < 0) {
				/* cannot happen with the fd we hold; never watch the wrong netns */
				fprintf(stderr, "flowtop: cannot return to the watched netns: %s\n",
					strerror(errno));
				abort();
			}
			if (r < 0)
				continue;
			e->nsl[e->nnsl++] = (struct ns_link){ list[i].inode, { fd[0], fd[1] }, e->ns_gen };
		}
	}
	for (size_t j = 0; j < e->nnsl; j++) {
		if (e->nsl[j].gen != e->ns_gen) {
			close(e->nsl[j].fd[0]);
			close(e->nsl[j].fd[1]);
			continue;
		}
		e->nsl[keep++] = e->nsl[j];
	}
	e->nnsl = keep;
}

static void eb_tick(struct attr_backend *b)
{
	struct ebpf *e = b->priv;
	__u64 now;
	size_t keep = 0;

	drain(e);
	now = model_clock();
	if (e->per_netns && netns_generation() != e->ns_list_gen)
		ns_scan(e);
	for (size_t i = 0; i < e->nwait; i++) {
		struct waiting *w = &e->wait[i];
		struct flow *f = ft_find_flow(e->m->ft, w->netns, w->id, &w->orig);
		struct rec *r;

		if (!f || f->owner.source == FLOW_ATTR_EBPF)
			continue;
		r = rec_find(e, f->netns, &f->orig, false);
		if (r && r->ev.how != ATTR_HOW_PORT) {
			rec_joined(e, f, r);
			continue;
		}
		/* No record of a local sender: is it an inbound flow to a port we know? */
		{
			const struct attr_owner *po = port_owner_of(e, f);

			if (po) {
				struct attr_event pev;

				memset(&pev, 0, sizeof(pev));
				pev.owner = *po;
				pev.kind = ATTR_EV_IN;
				apply(f, &pev);
				e->st.joined_inbound++;
				continue;
			}
		}
		/* Neither end in this netns made it: a container behind it (NAT), or
		 * another netns of this machine, did. */
		if (e->nnsl && join_foreign(e, f))
			continue;
		/*
		 * A record is written before conntrack announces its flow, and the ring
		 * was drained above: only a locally sent flow can still expect one (its
		 * reader lagging). Inbound flows to older listeners go on at once.
		 */
		if (now < w->deadline_ns && (addr_local(e, f->orig.family, f->orig.src) ||
					     (e->nnsl && !addr_local(e, f->reply.family,
								     f->reply.src)))) {
			/* ... or a container answering a forwarded connection (DNAT):
			 * its SYN-ACK's record comes after the host's event. */
			e->wait[keep++] = *w;
			continue;
		}
		/*
		 * No record and no known port owner. A flow that neither starts nor ends
		 * on a local address passes through (a router's traffic): nobody here
		 * owns it, and asking sock_diag for each would cost a dump per tick.
		 * The rest (a listener older than flowtop, a record lost to a full
		 * ring) get the fallback.
		 */
		e->st.flows_unmatched++;
		if (e->fallback && (addr_local(e, f->orig.family, f->orig.src) ||
				    addr_local(e, f->reply.family, f->reply.src)))
			e->fallback->pending(e->fallback, f);
	}
	e->nwait = keep;
	rec_expire(e, now, false);
	if (e->fallback && e->fallback->tick)
		e->fallback->tick(e->fallback);
}

static int eb_fd(struct attr_backend *b)
{
	struct ebpf *e = b->priv;

	return e->rb ? ring_buffer__epoll_fd(e->rb) : -1;
}

static void eb_on_readable(struct attr_backend *b)
{
	drain(b->priv);
}

static unsigned int ring_size = 8u << 20;
static enum attr_rung min_rung = RUNG_NONE;

void attr_ebpf_configure(unsigned int ring_bytes, enum attr_rung min)
{
	if (ring_bytes)
		ring_size = ring_bytes;
	min_rung = min;
}

static int eb_init(struct attr_backend *b, struct model *m, char *why, size_t whylen)
{
	struct ebpf *e = &ebpf_state;
	char err[192];
	int r;

	memset(e, 0, sizeof(*e));
	e->self_ns_fd = -1;
	e->m = m;
	b->priv = e;
	r = attr_ebpf_probe(&e->probe, min_rung);
	if (r < 0) {
		snprintf(why, whylen, "%s", e->probe.why);
		return r;
	}
	r = load_with(e, e->probe.rung, ring_size, err, sizeof(err));
	if (r < 0) {
		snprintf(why, whylen, "%s", err);
		return r;
	}
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.events), on_record, e, NULL);
	e->recs = calloc(REC_CAP, sizeof(*e->recs));
	e->buckets = calloc(REC_CAP, sizeof(*e->buckets));
	if (!e->rb || !e->recs || !e->buckets) {
		snprintf(why, whylen, "ring buffer set-up failed: %s", strerror(errno));
		b->done(b);
		return -ENOMEM;
	}
	e->locals = sd_table_new();
	if (e->probe.rung[HOOK_NETNS] == RUNG_NETFILTER) {
		e->self_ns = netns_self();
		e->self_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		e->nsl = calloc(NS_MAX, sizeof(*e->nsl));
		e->per_netns = e->self_ns_fd >= 0 && e->nsl;
		if (e->per_netns) {
			netns_refresh(0);
			ns_scan(e);
		}
	}
	/* Flows that were there before us get sock_diag's answer. */
	e->fallback = attr_sockdiag_backend();
	if (e->fallback && e->fallback->init(e->fallback, m, err, sizeof(err)) < 0)
		e->fallback = NULL;
	return 0;
}

static void eb_done(struct attr_backend *b)
{
	struct ebpf *e = b->priv;

	if (!e)
		return;
	if (e->fallback && e->fallback->done)
		e->fallback->done(e->fallback);
	ring_buffer__free(e->rb);
	detach_all(e);
	for (size_t j = 0; j < e->nnsl; j++) {
		close(e->nsl[j].fd[0]);
		close(e->nsl[j].fd[1]);
	}
	free(e->nsl);
	if (e->self_ns_fd >= 0)
		close(e->self_ns_fd);
	if (e->skel)
		attr_bpf__destroy(e->skel);
	sd_table_free(e->locals);
	free(e->recs);
	free(e->buckets);
	free(e->wait);
	for (int i = 0; i < PORT_BUCKETS; i++) {
		while (e->ports[i]) {
			struct port_ent *p = e->ports[i];

			e->ports[i] = p->next;
			free(p);
		}
	}
	memset(e, 0, sizeof(*e));
	b->priv = NULL;
}

int attr_ebpf_map_fd(const char *name)
{
	return ebpf_state.skel ? bpf_object__find_map_fd_by_name(ebpf_state.skel->obj, name) : -1;
}

const struct attr_probe *attr_ebpf_probed(void)
{
	return &ebpf_state.probe;
}

__u64 bpf_percpu_sum(int map_fd, __u32 key)
{
	__u64 vals[256], sum = 0;
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu <= 0 || ncpu > 256 || bpf_map_lookup_elem(map_fd, &key, vals))
		return 0;
	for (int c = 0; c < ncpu; c++)
		sum += vals[c];
	return sum;
}

bool attr_ebpf_records_wait(__u64 ns)
{
	struct ebpf *e = &ebpf_state;
	__u64 now = model_clock(), n;
	bool ok = true;

	/* a record waits REC_WAIT_NS: the dump comes at most 2 s after it, 3 s to spare */
	if (!e->skel || ns + 3000000000ULL > REC_WAIT_NS)
		return false;
	n = bpf_percpu_sum(bpf_map__fd(e->skel->maps.counters), ATTR_CNT_NEW) +
	    bpf_percpu_sum(bpf_map__fd(e->skel->maps.counters), ATTR_CNT_NOCT);
	if (e->rate_ns && now > e->rate_ns)
		ok = (double)(n - e->rate_new) / (double)(now - e->rate_ns) * (double)ns <
		     REC_CAP / 2;
	e->rate_ns = now;
	e->rate_new = n;
	return ok;
}

void attr_ebpf_stats(struct attr_ebpf_stats *out)
{
	struct ebpf *e = &ebpf_state;

	*out = e->st;
	if (!e->skel)
		return;
	for (__u32 k = 0; k < ATTR_CNT_MAX; k++) {
		__u64 sum = bpf_percpu_sum(bpf_map__fd(e->skel->maps.counters), k);

		if (k == ATTR_CNT_RB_FAIL)
			out->lost = sum;
		else if (k == ATTR_CNT_NEW)
			out->kernel_new = sum;
		else if (k == ATTR_CNT_NO_OWNER)
			out->no_owner = sum;
		else if (k == ATTR_CNT_MAP_FULL)
			out->map_full = sum;
		else if (k == ATTR_CNT_NOCT)
			out->kernel_noct = sum;
	}
	out->waiting_records = e->rec_count;
	out->netns_watched = e->nnsl;
	out->waiting_flows = e->nwait;
}

static struct attr_backend ebpf_backend = {
	.name = "ebpf",
	.init = eb_init,
	.fd = eb_fd,
	.on_readable = eb_on_readable,
	.tick = eb_tick,
	.pending = eb_pending,
	.done = eb_done,
};

struct attr_backend *attr_ebpf_backend(void)
{
	return &ebpf_backend;
}
