/* attr_sockdiag.c - fallback attribution (no eBPF): flow -> local socket (sock_diag) -> process. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "attr.h"
#include "flow_table.h"
#include "model.h"
#include "procmap.h"
#include "sockdiag.h"

/*
 * Which socket carries a flow (sd_match_flow, in this order):
 *  a) the original tuple as a local socket: outbound;
 *  b) the reply tuple as a local socket: inbound, also after DNAT/REDIRECT;
 *  c) TCP-like, accepted socket missing or without a file: the listener (accepting process);
 *  d) UDP, UDP-Lite, ping: an unconnected socket bound to the local end.
 * Wildcard-bound sockets only match a local address, so forwarded flows get no owner.
 * The owner is found once, when the flow is new; it is a best effort: a process that is gone
 * before the next tick, or a socket passed to another process, is missed or misnamed (eBPF
 * attribution does not have these limits).
 */

#define SDA_EXACT_MAX 64		/* fewer flows: exact per-flow lookups; more: one dump */
#define SDA_TICK_MAX 4096		/* flows resolved per tick; the rest wait for the next */
#define SDA_QUEUE_MAX (1u << 20)
/*
 * How long a flow whose socket is known may wait for a rate-limited /proc
 * scan. By time, not by ticks: ticks come with every event batch, many
 * within one rate-limit window.
 */
#define SDA_WAIT_NS 1500000000ULL
#define SDA_LOCAL_NS 1000000000ULL	/* host addresses are re-read at most once a second */

/* A queued flow: by id, since the flow may be removed before the next tick. */
struct sda_item {
	struct flow_tuple orig;	/* with id: the flow (ids alone collide) */
	__u64 cgroup_id;
	__u32 netns;
	__u32 id;
	__u32 inode;		/* socket found (inode != 0): only the process is missing */
	__u32 uid;
	__u64 deadline_ns;	/* give up waiting for /proc after this (0 = not waiting yet) */
};

struct sda {
	struct model *m;
	struct sockdiag *sd;
	struct sd_table *tbl;
	struct procmap *pm;
	struct sda_item *q;
	size_t qhead;
	size_t qlen;
	size_t qcap;
	struct sda_item *batch;		/* scratch, SDA_TICK_MAX */
	struct flow **flows;		/* scratch, SDA_TICK_MAX */
	struct sd_query *queries;	/* scratch, 2 * SDA_EXACT_MAX */
	__u64 local_ns;
	__u32 netns;			/* our own netns: sock_diag sees only this one */
};

static __u64 sda_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __u32 sda_own_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (__u32)st.st_ino;
}

static void sda_done(struct attr_backend *b)
{
	struct sda *a = b->priv;

	if (!a)
		return;
	sd_close(a->sd);
	sd_table_free(a->tbl);
	procmap_free(a->pm);
	free(a->q);
	free(a->batch);
	free(a->flows);
	free(a->queries);
	free(a);
	b->priv = NULL;
}

static int sda_init(struct attr_backend *b, struct model *m, char *why, size_t whylen)
{
	struct sda *a;
	int err;

	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(why, whylen, "sockdiag: out of memory");
		return -ENOMEM;
	}
	b->priv = a;
	a->m = m;
	a->netns = sda_own_netns();
	err = sd_open(&a->sd, NULL);
	if (err) {
		snprintf(why, whylen, "sockdiag: cannot open a NETLINK_SOCK_DIAG socket: %s",
			 strerror(-err));
		goto cleanup;
	}
	if (!sd_supported(a->sd, AF_INET, IPPROTO_TCP)) {
		snprintf(why, whylen, "sockdiag: the kernel cannot list TCP sockets (inet_diag)");
		err = -EOPNOTSUPP;
		goto cleanup;
	}
	a->tbl = sd_table_new();
	a->pm = procmap_new(NULL);
	a->batch = calloc(SDA_TICK_MAX, sizeof(*a->batch));
	a->flows = calloc(SDA_TICK_MAX, sizeof(*a->flows));
	a->queries = calloc(2 * SDA_EXACT_MAX, sizeof(*a->queries));
	if (!a->tbl || !a->pm || !a->batch || !a->flows || !a->queries) {
		snprintf(why, whylen, "sockdiag: out of memory");
		err = -ENOMEM;
		goto cleanup;
	}
	return 0;

cleanup:
	sda_done(b);
	return err;
}

static int sda_fd(struct attr_backend *b)
{
	return -1;
}

static void sda_on_readable(struct attr_backend *b)
{
}

static int sda_push(struct sda *a, const struct sda_item *it)
{
	if (a->qhead && a->qhead >= a->qlen / 2) {
		memmove(a->q, a->q + a->qhead, (a->qlen - a->qhead) * sizeof(*a->q));
		a->qlen -= a->qhead;
		a->qhead = 0;
	}
	if (a->qlen - a->qhead >= SDA_QUEUE_MAX)
		return -ENOSPC;
	if (a->qlen == a->qcap) {
		size_t cap = a->qcap ? a->qcap * 2 : 256;
		struct sda_item *q = realloc(a->q, cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		a->q = q;
		a->qcap = cap;
	}
	a->q[a->qlen++] = *it;
	return 0;
}

static void sda_pending(struct attr_backend *b, struct flow *f)
{
	struct sda *a = b->priv;
	struct sda_item it = { .orig = f->orig, .netns = f->netns, .id = f->id };

	if (!a || f->owner.source != FLOW_ATTR_NONE)
		return;
	/* sock_diag answers for the netns flowtop runs in; another's (--all-netns) sockets
	 * are not there, and a tuple such as 127.0.0.1's would match a stranger */
	if (f->netns != a->m->netns) {
		f->flags |= FLOW_F_ATTR_TRIED;
		return;
	}
	/* the queue is full only if ticks stopped: give up on this flow rather than grow */
	if (sda_push(a, &it))
		f->flags |= FLOW_F_ATTR_TRIED;
}

static bool sda_proto_ok(const struct flow *f)
{
	switch (f->orig.proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
		return f->orig.family == AF_INET || f->orig.family == AF_INET6;
	case IPPROTO_ICMP:
		return f->orig.family == AF_INET;
	case IPPROTO_ICMPV6:
		return f->orig.family == AF_INET6;
	default:
		return false;
	}
}

static void sda_query_from(struct sd_query *q, const struct flow_tuple *t)
{
	memcpy(q->laddr, t->src, sizeof(q->laddr));
	memcpy(q->raddr, t->dst, sizeof(q->raddr));
	q->lport = t->sport;
	q->rport = t->dport;
	q->family = t->family;
	q->proto = t->proto;
}

/* Per-flow exact lookups for one protocol: both tuples of each flow, in one batch. */
static void sda_exact(struct sda *a, struct flow **flows, size_t n, int proto)
{
	size_t nq = 0;

	for (size_t i = 0; i < n && nq + 2 <= 2 * SDA_EXACT_MAX; i++) {
		const struct flow *f = flows[i];

		if (!f || f->orig.proto != proto || !sd_supported(a->sd, f->orig.family, proto))
			continue;
		sda_query_from(&a->queries[nq++], &f->orig);
		sda_query_from(&a->queries[nq++], &f->reply);
	}
	if (nq)
		sd_lookup(a->sd, a->tbl, a->queries, nq);
}

/* Which (family, protocol) pairs the flows need: IPv4 flows may sit on dual-stack sockets. */
static void sda_needs(struct flow **flows, size_t n, __u8 need[2][256])
{
	memset(need, 0, 2 * 256);
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = flows[i];

		if (!f)
			continue;
		if (f->orig.family == AF_INET) {
			need[0][f->orig.proto] = 1;
			if (f->orig.proto != IPPROTO_ICMP)
				need[1][f->orig.proto] = 1;
		} else {
			need[1][f->orig.proto] = 1;
		}
	}
}

static void sda_dump_needed(struct sda *a, __u8 need[2][256], bool skip_exact, __u32 states)
{
	for (int fi = 0; fi < 2; fi++) {
		int family = fi ? AF_INET6 : AF_INET;

		for (int p = 0; p < 256; p++) {
			bool exact = p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_UDPLITE;

			if (!need[fi][p] || (skip_exact && exact))
				continue;
			if (p == IPPROTO_ICMP || p == IPPROTO_ICMPV6)
				sd_load_ping(a->sd, a->tbl, family);
			else if (sd_supported(a->sd, family, p))
				sd_dump(a->sd, a->tbl, family, p, states);
		}
	}
}

/* Fill the socket tables for flows[] (NULL entries are skipped). */
static void sda_collect(struct sda *a, struct flow **flows, size_t n, size_t live)
{
	__u8 need[2][256];
	__u64 now;

	sd_table_clear(a->tbl);
	now = sda_clock();
	if (!a->local_ns || now - a->local_ns >= SDA_LOCAL_NS) {
		sd_table_load_local(a->tbl);
		a->local_ns = now;
	}
	sda_needs(flows, n, need);
	if (live >= SDA_EXACT_MAX) {
		sda_dump_needed(a, need, false, ~0u);
		return;
	}

	sda_exact(a, flows, n, IPPROTO_TCP);
	sda_exact(a, flows, n, IPPROTO_UDP);
	sda_exact(a, flows, n, IPPROTO_UDPLITE);
	/* SCTP, DCCP: no exact lookup here; ping sockets: /proc */
	sda_dump_needed(a, need, true, ~0u);

	/*
	 * A TCP lookup answers with the listener only when no socket has the tuple: a
	 * TIME_WAIT or not yet accepted socket (no inode) hides it, so fetch the listeners then.
	 */
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = flows[i];
		const struct sd_sock *s;
		enum sd_match_how how;

		if (!f || f->orig.proto != IPPROTO_TCP || sd_match_flow(a->tbl, f, &how) ||
		    how != SD_MATCH_NONE)
			continue;
		s = sd_find_conn(a->tbl, f->reply.family, IPPROTO_TCP, f->reply.src, f->reply.sport,
				 f->reply.dst, f->reply.dport);
		if (!s || s->inode)
			continue;
		sd_dump(a->sd, a->tbl, AF_INET6, IPPROTO_TCP, 1u << TCP_LISTEN);
		if (need[0][IPPROTO_TCP])
			sd_dump(a->sd, a->tbl, AF_INET, IPPROTO_TCP, 1u << TCP_LISTEN);
		break;
	}
}

static void sda_finish(struct flow *f)
{
	f->flags |= FLOW_F_ATTR_TRIED;
}

/* Socket found: name its process, or requeue while /proc scans are rate limited. */
static void sda_resolve(struct sda *a, struct flow *f, struct sda_item *it)
{
	struct flow_owner *o = &f->owner;
	struct procmap_info pi;
	int err;

	err = procmap_lookup(a->pm, it->inode, &pi);
	if (err == -EAGAIN) {
		__u64 now = model_clock();

		if (!it->deadline_ns)
			it->deadline_ns = now + SDA_WAIT_NS;
		if (now < it->deadline_ns && !sda_push(a, it))
			return;
	}

	memset(o, 0, sizeof(*o));
	o->source = FLOW_ATTR_SOCKDIAG;
	o->cgroup_id = it->cgroup_id;
	o->uid = it->uid;
	if (!err) {
		o->pid = pi.pid;
		o->tid = pi.pid;
		if (o->uid == (__u32)-1)
			o->uid = pi.uid;
		memcpy(o->comm, pi.comm, sizeof(o->comm) - 1);
		o->comm[sizeof(o->comm) - 1] = '\0';
	}
	/* else: a local socket whose process is gone or hidden: uid and cgroup still hold */
	sda_finish(f);
}

static void sda_tick(struct attr_backend *b)
{
	struct sda *a = b->priv;
	size_t n, live = 0;

	if (!a || a->qhead == a->qlen)
		return;
	n = a->qlen - a->qhead;
	if (n > SDA_TICK_MAX)
		n = SDA_TICK_MAX;
	/* copy out: resolving may requeue, which can move the queue */
	memcpy(a->batch, a->q + a->qhead, n * sizeof(*a->batch));
	a->qhead += n;

	for (size_t i = 0; i < n; i++) {
		struct flow *f = ft_find_flow(a->m->ft, a->batch[i].netns, a->batch[i].id,
					      &a->batch[i].orig);

		a->flows[i] = NULL;
		if (!f || f->owner.source != FLOW_ATTR_NONE || (f->flags & FLOW_F_ATTR_TRIED))
			continue;
		/* sock_diag answers for our own netns only */
		if (!sda_proto_ok(f) || (a->netns && f->netns && f->netns != a->netns)) {
			sda_finish(f);
			continue;
		}
		if (a->batch[i].inode) {
			sda_resolve(a, f, &a->batch[i]);
			continue;
		}
		a->flows[i] = f;
		live++;
	}
	if (!live)
		return;

	sda_collect(a, a->flows, n, live);
	for (size_t i = 0; i < n; i++) {
		struct flow *f = a->flows[i];
		const struct sd_sock *s;
		enum sd_match_how how;

		if (!f)
			continue;
		s = sd_match_flow(a->tbl, f, &how);
		if (!s || !s->inode) {
			/* not local, or its socket is already gone */
			sda_finish(f);
			continue;
		}
		a->batch[i].inode = s->inode;
		a->batch[i].uid = s->uid;
		a->batch[i].cgroup_id = s->cgroup_id;
		/* The owner accepted or received it: its sending side is the reply. */
		if (how == SD_MATCH_REPLY || how == SD_MATCH_LISTENER ||
		    how == SD_MATCH_UNCONN_REPLY)
			f->flags |= FLOW_F_INBOUND;
		sda_resolve(a, f, &a->batch[i]);
	}
}

static struct attr_backend sda_backend = {
	.name = "sockdiag",
	.init = sda_init,
	.fd = sda_fd,
	.on_readable = sda_on_readable,
	.tick = sda_tick,
	.pending = sda_pending,
	.done = sda_done,
};

struct attr_backend *attr_sockdiag_backend(void)
{
	return &sda_backend;
}
