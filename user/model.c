/* model.c - the model: applies conntrack messages, mark and sweep, rates, aggregates, views. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "attr.h"
#include "fmt.h"
#include "model.h"

struct model_evq {
	__u32 netns;
	__u32 id;
	__u8 type;	/* CT_MSG_NEW / _UPDATE / _DESTROY */
};

static const char *const ev_names[] = {
	[CT_MSG_NEW] = "new",
	[CT_MSG_UPDATE] = "update",
	[CT_MSG_DESTROY] = "destroy",
};

__u64 model_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static __u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

int model_init(struct model *m, __u32 netns)
{
	memset(m, 0, sizeof(*m));
	m->ft = ft_new();
	if (!m->ft)
		return -ENOMEM;
	m->netns = netns;
	m->linger_ns = 3000000000ULL;
	m->now_ns = model_clock();
	return 0;
}

void model_fini(struct model *m)
{
	ft_free(m->ft);
	free(m->rows);
	free(m->procs);
	free(m->evq);
	memset(m, 0, sizeof(*m));
}

static void queue_event(struct model *m, const struct flow *f, enum ct_msg_type type)
{
	if (!m->on_event)
		return;
	if (m->nevq == m->evq_cap) {
		size_t cap = m->evq_cap ? m->evq_cap * 2 : 1024;
		struct model_evq *q = realloc(m->evq, cap * sizeof(*q));

		if (!q)
			return;
		m->evq = q;
		m->evq_cap = cap;
	}
	m->evq[m->nevq++] = (struct model_evq){ .netns = f->netns, .id = f->id, .type = type };
}

/* Copy what the message carried into the stored flow. */
static void merge(struct model *m, struct flow *f, const struct ct_msg *msg)
{
	if (msg->have & CT_HAVE_REPLY)
		f->reply = msg->f.reply;
	if (msg->have & CT_HAVE_STATUS)
		f->status = msg->f.status;
	if (msg->have & CT_HAVE_STATE)
		f->state = msg->f.state;
	if (msg->have & CT_HAVE_MARK)
		f->mark = msg->f.mark;
	if (msg->have & CT_HAVE_ZONE)
		f->zone = msg->f.zone;
	if (msg->have & CT_HAVE_TIMEOUT)
		f->timeout = msg->timeout;
	if (msg->have & CT_HAVE_TSTART) {
		f->start_ns = msg->f.start_ns;
		f->flags |= FLOW_F_TSTAMP;
	}
	if (msg->have & CT_HAVE_COUNTERS) {
		f->orig_pkts = msg->f.orig_pkts;
		f->orig_bytes = msg->f.orig_bytes;
		f->reply_pkts = msg->f.reply_pkts;
		f->reply_bytes = msg->f.reply_bytes;
		f->flags |= FLOW_F_ACCT;
	}
}

static void sample_rate(struct model *m, struct flow *f)
{
	__u64 now = m->now_ns;

	if (!(f->flags & FLOW_F_ACCT))
		return;
	if (f->rate_ns && now > f->rate_ns + 50000000ULL) {
		double dt = (double)(now - f->rate_ns) / 1e9;

		f->rate_orig = f->orig_bytes >= f->rate_orig_bytes ?
				       (float)((double)(f->orig_bytes - f->rate_orig_bytes) / dt) : 0;
		f->rate_reply = f->reply_bytes >= f->rate_reply_bytes ?
					(float)((double)(f->reply_bytes - f->rate_reply_bytes) / dt) :
					0;
		f->flags |= FLOW_F_RATE;
	} else if (f->rate_ns) {
		return;		/* too close to the last sample to mean anything */
	}
	f->rate_ns = now;
	f->rate_orig_bytes = f->orig_bytes;
	f->rate_reply_bytes = f->reply_bytes;
}

static struct flow *add_flow(struct model *m, const struct ct_msg *msg)
{
	struct flow tmpl = { 0 };
	struct flow *f;

	tmpl.orig = msg->f.orig;
	tmpl.reply = msg->f.orig;	/* until a reply tuple arrives */
	tmpl.id = msg->f.id;
	tmpl.netns = m->netns;
	tmpl.owner.uid = (__u32)-1;
	tmpl.seen_ns = m->now_ns;
	tmpl.gen = m->gen;
	if (!m->first_dump_done && msg->type == CT_MSG_DUMP)
		tmpl.flags |= FLOW_F_PREEXIST;
	f = ft_insert(m->ft, &tmpl);
	if (!f)
		return NULL;
	merge(m, f, msg);
	m->created++;
	if (m->attr && m->attr->pending)
		m->attr->pending(m->attr, f);
	return f;
}

static void mark_gone(struct model *m, struct flow *f, bool queue)
{
	if (f->flags & FLOW_F_GONE)
		return;
	f->flags |= FLOW_F_GONE;
	f->gone_ns = m->now_ns;
	f->rate_orig = 0;
	f->rate_reply = 0;
	m->destroyed++;
	if (queue)
		queue_event(m, f, CT_MSG_DESTROY);
	else if (m->on_event)
		m->on_event(m->event_ctx, ev_names[CT_MSG_DESTROY], f);
}

void model_apply(struct model *m, const struct ct_msg *msg)
{
	struct flow *f = ft_find_id(m->ft, m->netns, msg->f.id);

	/* Conntrack ids are recycled: same id, other tuple means the old flow ended. */
	if (f && !flow_tuple_equal(&f->orig, &msg->f.orig)) {
		/* Report it now: queued events are looked up by id, which is taken. */
		model_flush(m);
		mark_gone(m, f, false);
		ft_remove(m->ft, f);
		f = NULL;
	}
	if (f && (f->flags & FLOW_F_GONE) && msg->type != CT_MSG_DESTROY)
		return;		/* a late message for a flow that has ended */

	switch (msg->type) {
	case CT_MSG_DUMP:
		if (!f) {
			f = add_flow(m, msg);
			if (f && m->first_dump_done)
				queue_event(m, f, CT_MSG_NEW);
			/* A flow only a re-dump after an overrun found: its NEW was lost. */
			if (f && m->resync_pending)
				m->events_lost++;
		} else {
			merge(m, f, msg);
		}
		if (f) {
			f->gen = m->gen;
			sample_rate(m, f);
		}
		break;
	case CT_MSG_NEW:
	case CT_MSG_UPDATE:
		if (!f) {
			f = add_flow(m, msg);
			if (f)
				queue_event(m, f, CT_MSG_NEW);
		} else {
			merge(m, f, msg);
			if (msg->type == CT_MSG_UPDATE)
				queue_event(m, f, CT_MSG_UPDATE);
		}
		if (f)
			f->gen = m->gen;
		break;
	case CT_MSG_DESTROY:
		if (!f) {
			/* Never seen alive (born and gone between two reads): keep it briefly. */
			f = add_flow(m, msg);
			if (!f)
				return;
			queue_event(m, f, CT_MSG_NEW);
		}
		merge(m, f, msg);
		mark_gone(m, f, true);
		break;
	}
}

void model_dump_begin(struct model *m)
{
	m->gen++;
	m->dumping = true;
	m->now_ns = model_clock();
}

void model_dump_end(struct model *m)
{
	size_t slots = ft_slots(m->ft);

	m->dumping = false;
	m->now_ns = model_clock();
	for (size_t s = 0; s < slots; s++) {
		struct flow *f = ft_slot(m->ft, s);

		if (!f || (f->flags & FLOW_F_GONE) || f->gen == m->gen)
			continue;
		/* Not in the table any more and no DESTROY reached us. */
		m->swept++;
		if (m->resync_pending && !(f->flags & FLOW_F_PREEXIST))
			m->events_lost++;
		mark_gone(m, f, true);
	}
	m->first_dump_done = true;
	m->resync_pending = false;
}

void model_flush(struct model *m)
{
	if (m->attr && m->attr->tick)
		m->attr->tick(m->attr);
	for (size_t i = 0; i < m->nevq; i++) {
		struct flow *f = ft_find_id(m->ft, m->evq[i].netns, m->evq[i].id);

		if (f && m->on_event)
			m->on_event(m->event_ctx, ev_names[m->evq[i].type], f);
	}
	m->nevq = 0;
}

void model_expire(struct model *m)
{
	size_t slots = ft_slots(m->ft);

	m->now_ns = model_clock();
	for (size_t s = 0; s < slots; s++) {
		struct flow *f = ft_slot(m->ft, s);

		if (f && (f->flags & FLOW_F_GONE) && m->now_ns - f->gone_ns >= m->linger_ns)
			ft_remove(m->ft, f);
	}
}

double flow_age(const struct model *m, const struct flow *f, bool *exact)
{
	__u64 mono_end = (f->flags & FLOW_F_GONE) ? f->gone_ns : m->now_ns;

	if (f->flags & FLOW_F_TSTAMP) {
		__u64 rt = realtime_ns();
		/* A closed flow's age stops at its end. */
		__u64 end = rt - (m->now_ns > mono_end ? m->now_ns - mono_end : 0);

		if (exact)
			*exact = true;
		return end > f->start_ns ? (double)(end - f->start_ns) / 1e9 : 0.0;
	}
	if (exact)
		*exact = false;
	return mono_end > f->seen_ns ? (double)(mono_end - f->seen_ns) / 1e9 : 0.0;
}

bool flow_is_local(const struct flow *f)
{
	return f->owner.pid != 0;
}

static unsigned int show_bit(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP: return SHOW_TCP;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE: return SHOW_UDP;
	case IPPROTO_DCCP: return SHOW_DCCP;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: return SHOW_ICMP;
	case IPPROTO_SCTP: return SHOW_SCTP;
	default: return SHOW_OTHER;
	}
}

static bool text_match(const struct flow *f, const char *flt)
{
	char buf[FMT_ADDR_LEN + 8];
	const char *s;

	if (!strncmp(flt, "pid:", 4))
		return f->owner.pid && (unsigned long)f->owner.pid == strtoul(flt + 4, NULL, 10);
	if (f->owner.comm[0] && strcasestr(f->owner.comm, flt))
		return true;
	if (strstr(fmt_addr(buf, sizeof(buf), f->orig.family, f->orig.src), flt) ||
	    strstr(fmt_addr(buf, sizeof(buf), f->orig.family, f->orig.dst), flt) ||
	    strstr(fmt_addr(buf, sizeof(buf), f->reply.family, f->reply.src), flt) ||
	    strstr(fmt_addr(buf, sizeof(buf), f->reply.family, f->reply.dst), flt))
		return true;
	if (f->orig.proto != IPPROTO_ICMP && f->orig.proto != IPPROTO_ICMPV6) {
		snprintf(buf, sizeof(buf), "%u", f->orig.sport);
		if (!strcmp(buf, flt))
			return true;
		snprintf(buf, sizeof(buf), "%u", f->orig.dport);
		if (!strcmp(buf, flt))
			return true;
	}
	s = proto_name(f->orig.proto);
	if (s && !strcasecmp(s, flt))
		return true;
	s = state_name(f->orig.proto, f->state);
	if (s && !strcasecmp(s, flt))
		return true;
	return false;
}

bool model_match(const struct model *m, const struct flow *f, const struct view_opts *vo)
{
	unsigned int fam = f->orig.family == AF_INET6 ? SHOW_IPV6 : SHOW_IPV4;

	if (!(vo->show & fam) || !(vo->show & show_bit(f->orig.proto)))
		return false;
	if (vo->hide_gone && (f->flags & FLOW_F_GONE))
		return false;
	if (vo->filter[0] && !text_match(f, vo->filter))
		return false;
	return true;
}

static enum sort_key cmp_key;
static int cmp_dir;
static const struct model *cmp_model;

static double flow_rate(const struct flow *f)
{
	return (double)f->rate_orig + (double)f->rate_reply;
}

static int cmp_num(double a, double b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct flow *a = *(struct flow *const *)pa;
	const struct flow *b = *(struct flow *const *)pb;
	int c = 0;

	switch (cmp_key) {
	case SORT_RATE:
		c = -cmp_num(flow_rate(a), flow_rate(b));
		break;
	case SORT_BYTES:
		c = -cmp_num((double)(a->orig_bytes + a->reply_bytes),
			     (double)(b->orig_bytes + b->reply_bytes));
		break;
	case SORT_AGE:
		c = -cmp_num(flow_age(cmp_model, a, NULL), flow_age(cmp_model, b, NULL));
		break;
	case SORT_PROCESS:
		c = strcmp(a->owner.comm, b->owner.comm);
		if (!c)
			c = cmp_num(a->owner.pid, b->owner.pid);
		/* unattributed flows last */
		if (!a->owner.pid != !b->owner.pid)
			c = a->owner.pid ? -1 : 1;
		break;
	case SORT_DEST:
		c = a->orig.family - b->orig.family;
		if (!c)
			c = memcmp(a->orig.dst, b->orig.dst, 16);
		if (!c)
			c = cmp_num(a->orig.dport, b->orig.dport);
		break;
	case SORT_PROTO:
	default:
		c = cmp_num(a->orig.proto, b->orig.proto);
		if (!c)
			c = cmp_num(a->state, b->state);
		break;
	}
	if (!c)		/* stable tie-break: newest first, then id */
		c = -cmp_num((double)a->seen_ns, (double)b->seen_ns);
	if (!c)
		c = cmp_num(a->id, b->id);
	return c * cmp_dir;
}

static struct proc_agg *proc_slot(struct model *m, __u32 *index, size_t cap, const struct flow *f)
{
	__u32 h = (f->owner.pid * 2654435761U) & (__u32)(cap - 1);

	for (;;) {
		__u32 i = index[h];

		if (!i) {
			struct proc_agg *p = &m->procs[m->nprocs];

			memset(p, 0, sizeof(*p));
			p->pid = f->owner.pid;
			p->cgroup_id = f->owner.cgroup_id;
			memcpy(p->comm, f->owner.comm, sizeof(p->comm));
			index[h] = (__u32)++m->nprocs;
			return p;
		}
		if (m->procs[i - 1].pid == f->owner.pid)
			return &m->procs[i - 1];
		h = (h + 1) & (__u32)(cap - 1);
	}
}

static int cmp_procs(const void *pa, const void *pb)
{
	const struct proc_agg *a = pa, *b = pb;
	int c;

	switch (cmp_key) {
	case SORT_PROCESS:
		c = strcmp(a->comm, b->comm);
		break;
	case SORT_BYTES:
		c = -cmp_num((double)(a->orig_bytes + a->reply_bytes),
			     (double)(b->orig_bytes + b->reply_bytes));
		break;
	case SORT_RATE:
		c = -cmp_num(a->rate_orig + a->rate_reply, b->rate_orig + b->rate_reply);
		break;
	default:
		c = -cmp_num(a->flows, b->flows);
		break;
	}
	if (!c)
		c = -cmp_num(a->flows, b->flows);
	if (!c)
		c = cmp_num(a->pid, b->pid);
	return c * cmp_dir;
}

void model_view_build(struct model *m, const struct view_opts *vo)
{
	size_t slots = ft_slots(m->ft), n = ft_count(m->ft), cap = 16;
	__u32 *pindex;

	m->now_ns = model_clock();
	if (n > m->rows_cap) {
		size_t c = n + n / 4 + 64;
		struct flow **r = realloc(m->rows, c * sizeof(*r));

		if (!r)
			return;
		m->rows = r;
		m->rows_cap = c;
	}
	/* Processes: at most one per flow; open addressing index at <= 50% load. */
	while (cap < 2 * (n + 1))
		cap *= 2;
	if (n + 1 > m->procs_cap) {
		struct proc_agg *p = realloc(m->procs, (n + 1) * sizeof(*p));

		if (!p)
			return;
		m->procs = p;
		m->procs_cap = n + 1;
	}
	pindex = calloc(cap, sizeof(*pindex));
	if (!pindex)
		return;

	m->nrows = 0;
	m->nprocs = 0;
	m->total_rate_orig = 0;
	m->total_rate_reply = 0;
	memset(m->protos, 0, sizeof(m->protos));
	for (size_t s = 0; s < slots; s++) {
		struct flow *f = ft_slot(m->ft, s);
		struct proc_agg *p;
		bool in;

		if (!f || !model_match(m, f, vo))
			continue;
		m->rows[m->nrows++] = f;
		m->protos[f->orig.proto].flows++;
		m->protos[f->orig.proto].bytes += f->orig_bytes + f->reply_bytes;
		m->total_rate_orig += f->rate_orig;
		m->total_rate_reply += f->rate_reply;

		p = proc_slot(m, pindex, cap, f);
		in = f->flags & FLOW_F_INBOUND;
		if (!(f->flags & FLOW_F_GONE))
			p->flows++;
		p->orig_bytes += in ? f->reply_bytes : f->orig_bytes;
		p->reply_bytes += in ? f->orig_bytes : f->reply_bytes;
		p->rate_orig += in ? f->rate_reply : f->rate_orig;
		p->rate_reply += in ? f->rate_orig : f->rate_reply;
	}
	free(pindex);

	cmp_key = vo->sort;
	cmp_dir = vo->reverse ? -1 : 1;
	cmp_model = m;
	qsort(m->rows, m->nrows, sizeof(*m->rows), cmp_rows);
	qsort(m->procs, m->nprocs, sizeof(*m->procs), cmp_procs);
}
