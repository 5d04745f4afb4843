/* model.c - the model: applies conntrack messages, mark and sweep, rates, aggregates, views. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "attr.h"
#include "cgroup.h"
#include "container.h"
#include "ctname.h"
#include "fmt.h"
#include "model.h"

#define CC_MAX 65536		/* ids of cgroups long gone pile up: start afresh past this */
#define CC_RETRY_NS 1000000000ULL	/* a cgroup not found yet may just be new: ask again */

const char *(*model_cgroup_path)(__u64 id) = cgroup_path;

struct cc_ent {
	__u64 id;		/* 0 = free slot */
	__u64 retry_ns;		/* path unknown: look again after this (0 = final) */
	__u32 hash;		/* of label, so the per-container pass hashes no strings */
	char label[CONTAINER_LABEL_LEN];	/* "docker:web", else "docker:0123456789ab" */
	char idlabel[CONTAINER_LABEL_LEN];	/* always the id form */
	char name[CONTAINER_LABEL_LEN];		/* the runtime's name, or "" */
};

struct model_ccache {
	struct cc_ent *ents;
	size_t cap;		/* power of two */
	size_t n;
};

struct model_evq {
	struct flow *f;	/* its slot: model_expire() removes nothing while events wait */
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
	m->ccache = calloc(1, sizeof(*m->ccache));
	if (!m->ft || !m->ccache) {
		ft_free(m->ft);
		free(m->ccache);
		m->ft = NULL;
		m->ccache = NULL;
		return -ENOMEM;
	}
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
	free(m->conts);
	if (m->ccache)
		free(m->ccache->ents);
	free(m->ccache);
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
	m->evq[m->nevq++] = (struct model_evq){ .f = (struct flow *)f, .type = type };
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

static struct flow *add_flow(struct model *m, __u32 netns, bool first,
			     const struct ct_msg *msg)
{
	struct flow tmpl = { 0 };
	struct flow *f;

	tmpl.orig = msg->f.orig;
	tmpl.reply = msg->f.orig;	/* until a reply tuple arrives */
	tmpl.id = msg->f.id;
	tmpl.netns = netns;
	tmpl.owner.uid = (__u32)-1;
	/* the moment it was seen, not the dump's start: the names asked for just before the
	 * flow began are told apart from later ones by it */
	tmpl.seen_ns = first && msg->type == CT_MSG_DUMP ? m->now_ns : model_clock();
	tmpl.gen = m->gen;
	if (first && msg->type == CT_MSG_DUMP)
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
	f->gone_ns = model_clock();
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
	model_apply_ns(m, m->netns, !m->first_dump_done, msg);
}

/*
 * An ended flow with the id and tuple of msg: is msg about a newer conntrack
 * entry? Ids are hashes of the entry's address and tuple, and a freed entry's
 * memory is often the next one's: a client reusing its port under churn makes
 * a flow with the same id and tuple, at once. Start timestamps tell them apart;
 * without them, a DESTROY-ended flow can have no later event (a NEW or a second
 * DESTROY is the new entry's), and a dump begun after it ended cannot list it.
 */
static bool superseded(const struct model *m, const struct flow *f, const struct ct_msg *msg)
{
	if (!(f->flags & FLOW_F_DESTROYED))
		return false;	/* swept: its own DESTROY may still come */
	if ((f->flags & FLOW_F_TSTAMP) && (msg->have & CT_HAVE_TSTART))
		return msg->f.start_ns != f->start_ns;
	switch (msg->type) {
	case CT_MSG_NEW:
	case CT_MSG_DESTROY:
		return true;
	case CT_MSG_DUMP:
		return f->gone_ns < m->dump_start_ns;
	default:
		return false;
	}
}

void model_apply_ns(struct model *m, __u32 netns, bool first, const struct ct_msg *msg)
{
	/*
	 * By id and tuple: ids are 32-bit hashes that two live flows of a big
	 * table share now and then, and an id comes back after its flow ended.
	 * A flow with the same id but another tuple is another flow; an ended one
	 * goes by its DESTROY or the next sweep.
	 */
	struct flow *f = ft_find_flow(m->ft, netns, msg->f.id, &msg->f.orig);

	if (f && (f->flags & FLOW_F_GONE) && superseded(m, f, msg)) {
		ft_retire(m->ft, f);	/* shown as ended until it expires */
		f = NULL;
	}
	if (f && (f->flags & FLOW_F_GONE) && msg->type != CT_MSG_DESTROY)
		return;		/* a late message for a flow that has ended */

	switch (msg->type) {
	case CT_MSG_DUMP:
		if (!f) {
			f = add_flow(m, netns, first, msg);
			if (f && !first)
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
			f = add_flow(m, netns, first, msg);
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
			f = add_flow(m, netns, first, msg);
			if (!f)
				return;
			queue_event(m, f, CT_MSG_NEW);
		}
		merge(m, f, msg);
		mark_gone(m, f, true);
		f->flags |= FLOW_F_DESTROYED;
		break;
	}
}

void model_dump_begin(struct model *m)
{
	m->gen++;
	m->dumping = true;
	m->now_ns = model_clock();
	m->dump_start_ns = m->now_ns;
}

void model_dump_end(struct model *m)
{
	model_dump_end_ns(m, m->netns, true);
}

void model_dump_end_ns(struct model *m, __u32 netns, bool last)
{
	size_t slots = ft_slots(m->ft);

	m->now_ns = model_clock();
	for (size_t s = 0; s < slots; s++) {
		struct flow *f = ft_slot(m->ft, s);

		if (!f || f->netns != netns || (f->flags & FLOW_F_GONE) || f->gen == m->gen)
			continue;
		/* Not in the table any more and no DESTROY reached us. */
		m->swept++;
		if (m->resync_pending && !(f->flags & FLOW_F_PREEXIST))
			m->events_lost++;
		mark_gone(m, f, true);
	}
	if (!last)
		return;
	m->dumping = false;
	m->first_dump_done = true;
	m->resync_pending = false;
}

void model_netns_gone(struct model *m, __u32 netns)
{
	size_t slots = ft_slots(m->ft);

	m->now_ns = model_clock();
	for (size_t s = 0; s < slots; s++) {
		struct flow *f = ft_slot(m->ft, s);

		if (f && f->netns == netns && !(f->flags & FLOW_F_GONE))
			mark_gone(m, f, true);
	}
}

void model_flush(struct model *m)
{
	if (m->attr && m->attr->tick)
		m->attr->tick(m->attr);
	for (size_t i = 0; i < m->nevq; i++) {
		/* (an ended flow keeps its slot, retired or not) */
		if (m->on_event)
			m->on_event(m->event_ctx, ev_names[m->evq[i].type], m->evq[i].f);
	}
	m->nevq = 0;
}

void model_expire(struct model *m)
{
	size_t slots = ft_slots(m->ft);

	m->now_ns = model_clock();
	if (m->nevq)
		return;		/* queued events hold their flows' slots: model_flush() first */
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

/* ---- container labels, cached by cgroup id ---- */

static __u32 str_hash(const char *s)
{
	__u32 h = 2166136261U;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return h;
}

static __u32 id_hash(__u64 id)
{
	return (__u32)((id * 0x9e3779b97f4a7c15ULL) >> 32);
}

static struct cc_ent *cc_probe(struct cc_ent *ents, size_t cap, __u64 id)
{
	size_t h = id_hash(id) & (cap - 1);

	while (ents[h].id && ents[h].id != id)
		h = (h + 1) & (cap - 1);
	return &ents[h];
}

/* Room for one more id at <= 50% load; false when out of memory. */
static bool cc_room(struct model_ccache *cc)
{
	struct cc_ent *ne;
	size_t ncap;

	if (cc->n >= CC_MAX) {
		memset(cc->ents, 0, cc->cap * sizeof(*cc->ents));
		cc->n = 0;
	}
	if (2 * (cc->n + 1) <= cc->cap)
		return true;
	ncap = cc->cap ? cc->cap * 2 : 64;
	ne = calloc(ncap, sizeof(*ne));
	if (!ne)
		return false;
	for (size_t i = 0; i < cc->cap; i++)
		if (cc->ents[i].id)
			*cc_probe(ne, ncap, cc->ents[i].id) = cc->ents[i];
	free(cc->ents);
	cc->ents = ne;
	cc->cap = ncap;
	return true;
}

static void cc_fill(struct cc_ent *e, __u64 now)
{
	const char *path = model_cgroup_path(e->id);
	struct container_ident ci;

	e->label[0] = '\0';
	e->idlabel[0] = '\0';
	e->name[0] = '\0';
	e->retry_ns = 0;
	if (!path) {
		e->retry_ns = now + CC_RETRY_NS;
	} else if (!container_parse(path, &ci)) {
		const char *name = container_name(&ci);

		container_label(e->idlabel, sizeof(e->idlabel), &ci);
		if (name) {
			snprintf(e->name, sizeof(e->name), "%s", name);
			snprintf(e->label, sizeof(e->label), "%s:%s", container_kind_name(ci.kind),
				 name);
		} else {
			snprintf(e->label, sizeof(e->label), "%s", e->idlabel);
			/* a container just started may have no state file yet */
			if (ci.kind != CT_KIND_SERVICE && ci.kind != CT_KIND_USER)
				e->retry_ns = now + CTNAME_TTL_S * 1000000000ULL;
		}
	}
	e->hash = str_hash(e->label);
}

static struct cc_ent *cc_lookup(const struct model *m, __u64 id)
{
	static struct cc_ent none;	/* no cgroup, or no memory: no container */
	struct model_ccache *cc;
	struct cc_ent *e;

	if (!none.hash)
		none.hash = str_hash("");
	if (!id)
		return &none;
	/* The cache is not part of the view's state: const callers may fill it. */
	cc = m->ccache;
	if (!cc)
		return &none;
	if (cc->cap) {
		e = cc_probe(cc->ents, cc->cap, id);
		if (e->id) {
			if (e->retry_ns && m->now_ns >= e->retry_ns)
				cc_fill(e, m->now_ns);
			return e;
		}
	}
	if (!cc_room(cc))
		return &none;
	e = cc_probe(cc->ents, cc->cap, id);
	e->id = id;
	cc->n++;
	cc_fill(e, m->now_ns);
	return e;
}

const char *model_container(const struct model *m, __u64 cgroup_id)
{
	return cc_lookup(m, cgroup_id)->label;
}

const char *model_container_id(const struct model *m, __u64 cgroup_id)
{
	return cc_lookup(m, cgroup_id)->idlabel;
}

const char *model_container_name(const struct model *m, __u64 cgroup_id)
{
	return cc_lookup(m, cgroup_id)->name;
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

bool (*model_name_match)(const struct flow *f, const char *flt);

static bool text_match(const struct flow *f, const char *flt)
{
	char buf[FMT_ADDR_LEN + 8];
	const char *s;

	if (!strncmp(flt, "pid:", 4))	/* pid:0 = the unattributed flows */
		return (unsigned long)f->owner.pid == strtoul(flt + 4, NULL, 10);
	if (f->owner.comm[0] && strcasestr(f->owner.comm, flt))
		return true;
	if (model_name_match && model_name_match(f, flt))
		return true;
	/* Addresses hold only hex digits, '.' and ':': other text cannot match one. */
	if (flt[strspn(flt, "0123456789abcdefABCDEF.:")])
		goto not_addr;
	if (strstr(fmt_addr(buf, sizeof(buf), f->orig.family, f->orig.src), flt) ||
	    strstr(fmt_addr(buf, sizeof(buf), f->orig.family, f->orig.dst), flt))
		return true;
	/* NAT: the translated addresses count too */
	if (memcmp(f->reply.src, f->orig.dst, 16) &&
	    strstr(fmt_addr(buf, sizeof(buf), f->reply.family, f->reply.src), flt))
		return true;
	if (memcmp(f->reply.dst, f->orig.src, 16) &&
	    strstr(fmt_addr(buf, sizeof(buf), f->reply.family, f->reply.dst), flt))
		return true;
not_addr:
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
	if (vo->container[0]) {
		const struct cc_ent *ce = cc_lookup(m, f->owner.cgroup_id);

		if (!strcmp(vo->container, "-") ? ce->label[0] != '\0' :
		    !strcasestr(ce->label, vo->container) && !strcasestr(ce->idlabel, vo->container))
			return false;
	}
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

struct sort_ent {
	__u64 key;
	struct flow *f;
};

/* Radix-sortable key: ascending key order is the default display order. */
static __u64 sort_key_of(const struct model *m, const struct flow *f, enum sort_key k)
{
	double v;

	switch (k) {
	case SORT_RATE:
		v = flow_rate(f) * 1000.0;	/* milli-bytes/s keeps small rates apart */
		return ~(v >= 1.8e19 ? ~0ULL : (__u64)v);
	case SORT_BYTES:
		return ~(f->orig_bytes + f->reply_bytes);
	case SORT_AGE:
		/* oldest first: by kernel start time when known, else by first sight */
		if (f->flags & FLOW_F_TSTAMP) {
			__u64 mono_start = m->now_ns - (__u64)(flow_age(m, f, NULL) * 1e9);

			return mono_start;
		}
		return f->seen_ns;
	case SORT_PROTO:
	default:
		return (__u64)f->orig.proto << 56 | (__u64)f->state << 48 |
		       (~f->seen_ns & 0xffffffffffffULL);
	}
}

/* Stable LSD radix sort, 16 bits a pass; passes over all-equal digits are skipped. */
static int radix_sort(struct sort_ent *a, size_t n)
{
	struct sort_ent *tmp = malloc(n * sizeof(*tmp));
	static size_t count[65536];

	if (!tmp)
		return -ENOMEM;
	for (int shift = 0; shift < 64; shift += 16) {
		size_t sum = 0;
		bool all_same = true;
		__u64 first = n ? (a[0].key >> shift) & 0xffff : 0;

		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++) {
			__u64 d = (a[i].key >> shift) & 0xffff;

			count[d]++;
			all_same &= d == first;
		}
		if (all_same)
			continue;
		for (size_t d = 0; d < 65536; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(a[i].key >> shift) & 0xffff]++] = a[i];
		memcpy(a, tmp, n * sizeof(*a));
	}
	free(tmp);
	return 0;
}

static __u64 be64_word(const __u8 *p, size_t n)
{
	__u64 v = 0;

	for (size_t i = 0; i < 8; i++)
		v = v << 8 | (i < n ? p[i] : 0);
	return v;
}

/*
 * Word w (0 = most significant) of a multi-word key, for keys that do not fit
 * 64 bits: process (comm, then pid; unattributed last) and destination
 * (family, address, port).
 */
static __u64 sort_word(const struct model *m, const struct flow *f, enum sort_key k, int w)
{
	switch (k) {
	case SORT_PROCESS:
		if (!f->owner.pid)
			return ~0ULL;
		if (w == 0)
			return be64_word((const __u8 *)f->owner.comm, 8);
		if (w == 1)
			return be64_word((const __u8 *)f->owner.comm + 8, 8);
		return f->owner.pid;
	case SORT_DEST:
		if (w == 0)
			return (__u64)f->orig.family << 56;
		if (w == 1)
			return be64_word(f->orig.dst, 8);
		if (w == 2)
			return be64_word(f->orig.dst + 8, 8);
		return f->orig.dport;
	default:
		return w == 0 ? sort_key_of(m, f, k) : 0;
	}
}

static bool sort_rows_radix(struct model *m, const struct view_opts *vo)
{
	int words = vo->sort == SORT_PROCESS ? 3 : vo->sort == SORT_DEST ? 4 : 1;
	struct sort_ent *e;

	if (m->nrows < 2)
		return true;
	e = malloc(m->nrows * sizeof(*e));
	if (!e)
		return false;
	for (size_t i = 0; i < m->nrows; i++)
		e[i].f = m->rows[i];
	/* Least significant word first; each pass is stable. */
	for (int w = words - 1; w >= 0; w--) {
		for (size_t i = 0; i < m->nrows; i++) {
			e[i].key = sort_word(m, e[i].f, vo->sort, w);
			if (vo->reverse)
				e[i].key = ~e[i].key;
		}
		if (radix_sort(e, m->nrows) < 0) {
			free(e);
			return false;
		}
	}
	for (size_t i = 0; i < m->nrows; i++)
		m->rows[i] = e[i].f;
	free(e);
	return true;
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

/*
 * Processes and containers sort alike: by bytes, by rate, otherwise by live
 * flows; more flows first as the tie-break. By name is the caller's part.
 */
static int cmp_traffic(__u32 fa, __u64 ba, double ra, __u32 fb, __u64 bb, double rb)
{
	int c = 0;

	if (cmp_key == SORT_BYTES)
		c = -cmp_num((double)ba, (double)bb);
	else if (cmp_key == SORT_RATE)
		c = -cmp_num(ra, rb);
	return c ? c : -cmp_num(fa, fb);
}

/* A flow's traffic as its owner sees it: what it accepted, it sends in the reply direction. */
static void owner_traffic_add(const struct flow *f, __u32 *flows, __u64 *sent, __u64 *recv,
			      double *tx, double *rx)
{
	bool in = f->flags & FLOW_F_INBOUND;

	if (!(f->flags & FLOW_F_GONE))
		(*flows)++;
	*sent += in ? f->reply_bytes : f->orig_bytes;
	*recv += in ? f->orig_bytes : f->reply_bytes;
	*tx += in ? f->rate_reply : f->rate_orig;
	*rx += in ? f->rate_orig : f->rate_reply;
}

static int cmp_procs(const void *pa, const void *pb)
{
	const struct proc_agg *a = pa, *b = pb;
	int c;

	c = cmp_key == SORT_PROCESS ? strcmp(a->comm, b->comm) : 0;
	if (!c)
		c = cmp_traffic(a->flows, a->orig_bytes + a->reply_bytes,
				a->rate_orig + a->rate_reply, b->flows,
				b->orig_bytes + b->reply_bytes, b->rate_orig + b->rate_reply);
	if (!c)
		c = cmp_num(a->pid, b->pid);
	return c * cmp_dir;
}

/* Several cgroups may carry one label (a container's sub-cgroups): group by label. */
static struct cont_agg *cont_slot(struct model *m, __u32 *index, size_t cap,
				  const struct cc_ent *e)
{
	__u32 h = e->hash & (__u32)(cap - 1);

	for (;;) {
		__u32 i = index[h];

		if (!i) {
			struct cont_agg *c = &m->conts[m->nconts];

			memset(c, 0, sizeof(*c));
			memcpy(c->label, e->label, sizeof(c->label));
			index[h] = (__u32)++m->nconts;
			return c;
		}
		if (!strcmp(m->conts[i - 1].label, e->label))
			return &m->conts[i - 1];
		h = (h + 1) & (__u32)(cap - 1);
	}
}

static void cont_add(struct cont_agg *c, const struct flow *f)
{
	__u64 bytes = f->orig_bytes + f->reply_bytes;

	owner_traffic_add(f, &c->flows, &c->orig_bytes, &c->reply_bytes, &c->rate_orig,
			  &c->rate_reply);
	/* the first flow counts even without counters: a container always names a peer */
	if (bytes > c->top_bytes || !c->top_family) {
		c->top_bytes = bytes;
		memcpy(c->top_dst, f->orig.dst, sizeof(c->top_dst));
		c->top_dport = f->orig.dport;
		c->top_family = f->orig.family;
		c->top_proto = f->orig.proto;
	}
}

/* Like the Processes tab; the host / unattributed group ("") comes last by name. */
static int cmp_conts(const void *pa, const void *pb)
{
	const struct cont_agg *a = pa, *b = pb;
	int c;

	c = 0;
	if (cmp_key == SORT_PROCESS) {
		c = strcmp(a->label, b->label);
		if (!a->label[0] != !b->label[0])
			c = a->label[0] ? -1 : 1;
	}
	if (!c)
		c = cmp_traffic(a->flows, a->orig_bytes + a->reply_bytes,
				a->rate_orig + a->rate_reply, b->flows,
				b->orig_bytes + b->reply_bytes, b->rate_orig + b->rate_reply);
	if (!c)
		c = strcmp(a->label, b->label);
	return c * cmp_dir;
}

void model_view_build(struct model *m, const struct view_opts *vo)
{
	size_t slots = ft_slots(m->ft), n = ft_count(m->ft), cap = 16;
	__u32 *pindex, *cindex;

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
	if (n + 1 > m->conts_cap) {
		struct cont_agg *c = realloc(m->conts, (n + 1) * sizeof(*c));

		if (!c)
			return;
		m->conts = c;
		m->conts_cap = n + 1;
	}
	pindex = calloc(cap, sizeof(*pindex));
	cindex = calloc(cap, sizeof(*cindex));
	if (!pindex || !cindex) {
		free(pindex);
		free(cindex);
		return;
	}

	m->nrows = 0;
	m->nprocs = 0;
	m->nconts = 0;
	m->total_rate_orig = 0;
	m->total_rate_reply = 0;
	memset(m->protos, 0, sizeof(m->protos));
	for (size_t s = 0; s < slots; s++) {
		struct flow *f = ft_slot(m->ft, s);
		struct proc_agg *p;

		if (!f || !model_match(m, f, vo))
			continue;
		m->rows[m->nrows++] = f;
		m->protos[f->orig.proto].flows++;
		m->protos[f->orig.proto].bytes += f->orig_bytes + f->reply_bytes;
		m->total_rate_orig += f->rate_orig;
		m->total_rate_reply += f->rate_reply;

		p = proc_slot(m, pindex, cap, f);
		owner_traffic_add(f, &p->flows, &p->orig_bytes, &p->reply_bytes, &p->rate_orig,
				  &p->rate_reply);

		cont_add(cont_slot(m, cindex, cap, cc_lookup(m, f->owner.cgroup_id)), f);
	}
	free(pindex);
	free(cindex);

	cmp_key = vo->sort;
	cmp_dir = vo->reverse ? -1 : 1;
	cmp_model = m;
	if (!sort_rows_radix(m, vo))
		qsort(m->rows, m->nrows, sizeof(*m->rows), cmp_rows);
	qsort(m->procs, m->nprocs, sizeof(*m->procs), cmp_procs);
	qsort(m->conts, m->nconts, sizeof(*m->conts), cmp_conts);
}
