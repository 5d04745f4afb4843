/* objs: model flow_table fmt cgroup container ctname */
/*
 * test_model.c - the model: events, dumps, mark and sweep, rates, views, process and
 * container aggregates.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "attr.h"
#include "model.h"

static struct ct_msg msg(enum ct_msg_type type, __u32 id, const char *src, const char *dst,
			 __u16 sport, __u16 dport, __u8 proto)
{
	struct ct_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.f.id = id;
	m.f.orig.family = AF_INET;
	m.f.orig.proto = proto;
	inet_pton(AF_INET, src, m.f.orig.src);
	inet_pton(AF_INET, dst, m.f.orig.dst);
	m.f.orig.sport = sport;
	m.f.orig.dport = dport;
	m.f.reply = m.f.orig;
	memcpy(m.f.reply.src, m.f.orig.dst, 16);
	memcpy(m.f.reply.dst, m.f.orig.src, 16);
	m.f.reply.sport = dport;
	m.f.reply.dport = sport;
	m.have = CT_HAVE_ID | CT_HAVE_REPLY | CT_HAVE_STATUS;
	return m;
}

static void counters(struct ct_msg *m, __u64 ob, __u64 rb)
{
	m->f.orig_bytes = ob;
	m->f.reply_bytes = rb;
	m->f.orig_pkts = ob / 100 + 1;
	m->f.reply_pkts = rb / 100 + 1;
	m->have |= CT_HAVE_COUNTERS;
}

struct rec {
	char type[8];
	__u32 id;
	__u32 pid;
	__u64 orig_bytes;
	bool gone;
};

static struct rec recs[64];
static int nrecs;

static void on_ev(void *ctx, const char *type, const struct flow *f)
{
	(void)ctx;
	if (nrecs >= 64)
		return;
	snprintf(recs[nrecs].type, sizeof(recs[nrecs].type), "%s", type);
	recs[nrecs].id = f->id;
	recs[nrecs].pid = f->owner.pid;
	recs[nrecs].orig_bytes = f->orig_bytes;
	recs[nrecs].gone = f->flags & FLOW_F_GONE;
	nrecs++;
}

/* A backend that attributes every pending flow to pid 4242 at tick time. */
static struct flow *pend[64];
static int npend;

static void fake_pending(struct attr_backend *b, struct flow *f)
{
	(void)b;
	if (npend < 64)
		pend[npend++] = f;
}

static void fake_tick(struct attr_backend *b)
{
	(void)b;
	for (int i = 0; i < npend; i++) {
		pend[i]->owner.pid = 4242;
		pend[i]->owner.tid = 4243;
		snprintf(pend[i]->owner.comm, sizeof(pend[i]->owner.comm), "curl");
		pend[i]->owner.source = FLOW_ATTR_SOCKDIAG;
	}
	npend = 0;
}

static struct attr_backend fake = {
	.name = "fake", .pending = fake_pending, .tick = fake_tick,
};

static void setup_model(struct model *m)
{
	assert_int_equal(model_init(m, 99), 0);
	m->on_event = on_ev;
	m->attr = &fake;
	nrecs = 0;
	npend = 0;
}

static void test_dump_then_events(void **state)
{
	struct model m;
	struct ct_msg a = msg(CT_MSG_DUMP, 1, "10.0.0.1", "10.0.0.2", 1000, 80, IPPROTO_TCP);
	struct ct_msg b;
	struct flow *f;

	(void)state;
	setup_model(&m);
	model_dump_begin(&m);
	model_apply(&m, &a);
	model_dump_end(&m);
	model_flush(&m);
	/* flows of the first dump are the starting state, not "new" */
	assert_int_equal(nrecs, 0);
	f = ft_find_id(m.ft, 99, 1);
	assert_non_null(f);
	assert_true(f->flags & FLOW_F_PREEXIST);
	assert_false(f->flags & FLOW_F_ACCT);

	b = msg(CT_MSG_NEW, 2, "10.0.0.1", "10.0.0.3", 1001, 443, IPPROTO_TCP);
	model_apply(&m, &b);
	assert_int_equal(nrecs, 0);	/* queued until the batch ends */
	model_flush(&m);
	assert_int_equal(nrecs, 1);
	assert_string_equal(recs[0].type, "new");
	assert_int_equal(recs[0].id, 2);
	assert_int_equal(recs[0].pid, 4242);	/* attribution ran before the event left */

	b.type = CT_MSG_DESTROY;
	counters(&b, 5000, 70000);
	model_apply(&m, &b);
	model_flush(&m);
	assert_int_equal(nrecs, 2);
	assert_string_equal(recs[1].type, "destroy");
	assert_int_equal(recs[1].orig_bytes, 5000);
	assert_true(recs[1].gone);
	f = ft_find_id(m.ft, 99, 2);
	assert_non_null(f);
	assert_true(f->flags & FLOW_F_ACCT);
	/* closed flows stay visible for the linger time, then go */
	m.linger_ns = 0;
	model_expire(&m);
	assert_null(ft_find_id(m.ft, 99, 2));
	assert_non_null(ft_find_id(m.ft, 99, 1));
	model_fini(&m);
}

static void test_born_and_gone_in_one_batch(void **state)
{
	struct model m;
	struct ct_msg d = msg(CT_MSG_DESTROY, 3, "10.0.0.1", "10.0.0.9", 2000, 53, IPPROTO_UDP);

	(void)state;
	setup_model(&m);
	counters(&d, 80, 120);
	model_apply(&m, &d);
	model_flush(&m);
	assert_int_equal(nrecs, 2);
	assert_string_equal(recs[0].type, "new");
	assert_string_equal(recs[1].type, "destroy");
	assert_int_equal(recs[1].pid, 4242);
	assert_int_equal(recs[1].orig_bytes, 80);
	model_fini(&m);
}

static void test_mark_and_sweep(void **state)
{
	struct model m;
	struct ct_msg a = msg(CT_MSG_DUMP, 10, "10.0.0.1", "10.0.0.2", 1000, 80, IPPROTO_TCP);
	struct ct_msg b = msg(CT_MSG_DUMP, 11, "10.0.0.1", "10.0.0.2", 1001, 80, IPPROTO_TCP);
	struct ct_msg c = msg(CT_MSG_NEW, 12, "10.0.0.1", "10.0.0.2", 1002, 80, IPPROTO_TCP);

	(void)state;
	setup_model(&m);
	model_dump_begin(&m);
	model_apply(&m, &a);
	model_apply(&m, &b);
	model_dump_end(&m);
	model_flush(&m);
	nrecs = 0;

	/* second dump: flow 11 vanished without a DESTROY; 12 arrives by event mid-dump */
	model_dump_begin(&m);
	model_apply(&m, &a);
	model_apply(&m, &c);
	model_dump_end(&m);
	model_flush(&m);
	assert_true(ft_find_id(m.ft, 99, 11)->flags & FLOW_F_GONE);
	assert_false(ft_find_id(m.ft, 99, 10)->flags & FLOW_F_GONE);
	assert_false(ft_find_id(m.ft, 99, 12)->flags & FLOW_F_GONE);
	assert_int_equal(m.swept, 1);
	assert_int_equal(nrecs, 2);
	assert_string_equal(recs[0].type, "new");
	assert_string_equal(recs[1].type, "destroy");
	assert_int_equal(recs[1].id, 11);

	/* a flow found by a later dump (its NEW was lost) is announced as new */
	nrecs = 0;
	b.f.id = 13;
	b.f.orig.sport = 1003;
	model_dump_begin(&m);
	model_apply(&m, &a);
	model_apply(&m, &c);
	model_apply(&m, &b);
	model_dump_end(&m);
	model_flush(&m);
	assert_int_equal(nrecs, 1);
	assert_string_equal(recs[0].type, "new");
	assert_int_equal(recs[0].id, 13);
	model_fini(&m);
}

/*
 * Two flows with one id (ids are 32-bit hashes: a big table has such pairs, and
 * an id comes back after its flow ended): both are kept, each found by id and
 * tuple; the one that is gone goes with the next dump's sweep.
 */
static void test_id_reuse(void **state)
{
	struct model m;
	struct ct_msg a = msg(CT_MSG_NEW, 20, "10.0.0.1", "10.0.0.2", 1000, 80, IPPROTO_TCP);
	struct ct_msg b = msg(CT_MSG_NEW, 20, "10.0.0.1", "10.0.0.2", 5555, 22, IPPROTO_TCP);
	struct ct_msg bd = b;
	struct flow *f;

	(void)state;
	setup_model(&m);
	model_apply(&m, &a);
	model_flush(&m);
	model_apply(&m, &b);
	model_flush(&m);
	assert_int_equal(ft_count(m.ft), 2);
	assert_int_equal(nrecs, 2);
	assert_string_equal(recs[1].type, "new");
	f = ft_find_flow(m.ft, 99, 20, &b.f.orig);
	assert_non_null(f);
	assert_int_equal(f->orig.dport, 22);
	f = ft_find_flow(m.ft, 99, 20, &a.f.orig);
	assert_non_null(f);
	assert_int_equal(f->orig.dport, 80);
	/* a dump that has only b: a has ended */
	bd.type = CT_MSG_DUMP;
	model_dump_begin(&m);
	model_apply(&m, &bd);
	model_dump_end(&m);
	model_flush(&m);
	assert_true(ft_find_flow(m.ft, 99, 20, &a.f.orig)->flags & FLOW_F_GONE);
	assert_false(ft_find_flow(m.ft, 99, 20, &b.f.orig)->flags & FLOW_F_GONE);
	assert_string_equal(recs[nrecs - 1].type, "destroy");
	model_fini(&m);
}

/*
 * A client reusing its port under churn: the next conntrack entry often has the
 * freed one's memory, so the same id and tuple. Each is a flow of its own; the
 * ended one stays listed (closed) until it expires, and a stale dump line of an
 * entry that ended during the dump does not bring it back.
 */
static void test_same_id_and_tuple(void **state)
{
	struct model m;
	struct ct_msg n = msg(CT_MSG_NEW, 30, "10.0.0.1", "10.0.0.2", 40000, 80, IPPROTO_TCP);
	struct ct_msg d = n;
	struct ct_msg dump = n;
	size_t gone = 0, live = 0;

	(void)state;
	setup_model(&m);
	d.type = CT_MSG_DESTROY;
	dump.type = CT_MSG_DUMP;
	counters(&d, 100, 200);

	/* NEW, DESTROY, NEW, DESTROY (one batch): two flows, four events */
	model_apply(&m, &n);
	model_apply(&m, &d);
	model_apply(&m, &n);
	counters(&d, 300, 400);
	model_apply(&m, &d);
	model_flush(&m);
	assert_int_equal(m.created, 2);
	assert_int_equal(m.destroyed, 2);
	assert_int_equal(nrecs, 4);
	assert_string_equal(recs[0].type, "new");
	assert_string_equal(recs[1].type, "destroy");
	assert_int_equal(recs[1].orig_bytes, 100);	/* its own counters, not the next one's */
	assert_string_equal(recs[2].type, "new");
	assert_string_equal(recs[3].type, "destroy");
	assert_int_equal(recs[3].orig_bytes, 300);
	assert_int_equal(ft_count(m.ft), 2);

	/* born and gone between two dumps, twice (no NEW events): two flows too */
	counters(&d, 500, 600);
	model_apply(&m, &d);
	model_flush(&m);
	assert_int_equal(m.created, 3);
	assert_int_equal(ft_find_flow(m.ft, 99, 30, &n.f.orig)->orig_bytes, 500);

	/* a dump that began after the last one ended lists a new entry */
	model_dump_begin(&m);
	model_apply(&m, &dump);
	assert_int_equal(m.created, 4);
	assert_false(ft_find_flow(m.ft, 99, 30, &n.f.orig)->flags & FLOW_F_GONE);
	model_dump_end(&m);
	model_flush(&m);

	/* ended during the next dump, then listed by it (read late): stays ended */
	model_dump_begin(&m);
	counters(&d, 700, 800);
	model_apply(&m, &d);
	model_apply(&m, &dump);
	model_dump_end(&m);
	model_flush(&m);
	assert_int_equal(m.created, 4);
	assert_true(ft_find_flow(m.ft, 99, 30, &n.f.orig)->flags & FLOW_F_GONE);

	/* with start timestamps, a dump line of the same start is the ended entry itself */
	n.have |= CT_HAVE_TSTART;
	n.f.start_ns = 1000;
	d = n;
	d.type = CT_MSG_DESTROY;
	dump = n;
	dump.type = CT_MSG_DUMP;
	model_apply(&m, &n);
	model_apply(&m, &d);
	model_flush(&m);
	assert_int_equal(m.created, 5);
	model_dump_begin(&m);
	model_apply(&m, &dump);		/* same start: stale */
	assert_int_equal(m.created, 5);
	dump.f.start_ns = 2000;		/* another start: another entry */
	model_apply(&m, &dump);
	assert_int_equal(m.created, 6);
	model_dump_end(&m);
	model_flush(&m);

	for (size_t s = 0; s < ft_slots(m.ft); s++) {
		struct flow *f = ft_slot(m.ft, s);

		if (f)
			(f->flags & FLOW_F_GONE) ? gone++ : live++;
	}
	assert_int_equal(live, 1);
	assert_int_equal(gone, 5);
	/* ended flows leave with the linger time, the live one stays findable */
	m.linger_ns = 0;
	model_expire(&m);
	assert_int_equal(ft_count(m.ft), 1);
	assert_int_equal(ft_find_flow(m.ft, 99, 30, &n.f.orig)->start_ns, 2000);
	model_fini(&m);
}

static void test_rates(void **state)
{
	struct model m;
	struct ct_msg a = msg(CT_MSG_DUMP, 30, "10.0.0.1", "10.0.0.2", 1000, 80, IPPROTO_TCP);
	struct flow *f;
	double want;
	__u64 t0;

	(void)state;
	setup_model(&m);
	counters(&a, 1000, 2000);
	model_dump_begin(&m);
	model_apply(&m, &a);
	model_dump_end(&m);
	t0 = m.now_ns;
	f = ft_find_id(m.ft, 99, 30);
	assert_false(f->flags & FLOW_F_RATE);	/* one sample is no rate */
	usleep(200000);
	counters(&a, 101000, 2000);
	model_dump_begin(&m);
	model_apply(&m, &a);
	model_dump_end(&m);
	assert_true(f->flags & FLOW_F_RATE);
	want = 100000.0 / ((double)(f->rate_ns - t0) / 1e9);
	assert_true(f->rate_orig > want * 0.99 && f->rate_orig < want * 1.01);
	assert_true(f->rate_reply == 0.0f);
	model_fini(&m);
}

static void test_view_filter_sort_procs(void **state)
{
	struct model m;
	struct view_opts vo = { .show = SHOW_FAMILIES | SHOW_PROTOS, .sort = SORT_BYTES };
	struct ct_msg a = msg(CT_MSG_NEW, 40, "10.0.0.1", "10.0.0.2", 1000, 80, IPPROTO_TCP);
	struct ct_msg b = msg(CT_MSG_NEW, 41, "10.0.0.1", "192.168.7.7", 1001, 53, IPPROTO_UDP);
	struct ct_msg c = msg(CT_MSG_NEW, 42, "10.9.9.9", "10.0.0.1", 3333, 22, IPPROTO_TCP);
	struct flow *fc;

	(void)state;
	setup_model(&m);
	counters(&a, 100, 100);
	counters(&b, 5000, 5000);
	counters(&c, 10, 99999);
	model_apply(&m, &a);
	model_apply(&m, &b);
	model_flush(&m);	/* a and b belong to pid 4242 */
	m.attr = NULL;
	model_apply(&m, &c);
	fc = ft_find_id(m.ft, 99, 42);
	fc->owner.pid = 77;
	snprintf(fc->owner.comm, sizeof(fc->owner.comm), "sshd");
	fc->flags |= FLOW_F_INBOUND;

	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 3);
	assert_int_equal(m.rows[0]->id, 42);
	assert_int_equal(m.rows[1]->id, 41);
	assert_int_equal(m.rows[2]->id, 40);
	vo.reverse = true;
	model_view_build(&m, &vo);
	assert_int_equal(m.rows[0]->id, 40);

	/* processes: sshd accepted its flow, so what it sent is the reply direction */
	assert_int_equal(m.nprocs, 2);
	for (size_t i = 0; i < m.nprocs; i++) {
		if (m.procs[i].pid == 77) {
			assert_int_equal(m.procs[i].orig_bytes, 99999);
			assert_int_equal(m.procs[i].reply_bytes, 10);
			assert_int_equal(m.procs[i].flows, 1);
		} else {
			assert_int_equal(m.procs[i].pid, 4242);
			assert_int_equal(m.procs[i].flows, 2);
			assert_int_equal(m.procs[i].orig_bytes, 5100);
		}
	}

	vo.show = SHOW_FAMILIES | SHOW_UDP;
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 1);
	assert_int_equal(m.rows[0]->id, 41);
	vo.show = SHOW_IPV6 | SHOW_PROTOS;
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 0);

	vo.show = SHOW_FAMILIES | SHOW_PROTOS;
	snprintf(vo.filter, sizeof(vo.filter), "sshd");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 1);
	snprintf(vo.filter, sizeof(vo.filter), "192.168");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 1);
	snprintf(vo.filter, sizeof(vo.filter), "53");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 1);
	snprintf(vo.filter, sizeof(vo.filter), "pid:4242");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 2);
	snprintf(vo.filter, sizeof(vo.filter), "udp");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 1);
	snprintf(vo.filter, sizeof(vo.filter), "nothing-matches-this");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 0);
	model_fini(&m);
}

static void test_sort_keys_total(void **state)
{
	struct model m;
	struct view_opts vo = { .show = SHOW_FAMILIES | SHOW_PROTOS };

	(void)state;
	setup_model(&m);
	m.attr = NULL;
	for (__u32 i = 0; i < 1000; i++) {
		struct ct_msg a = msg(CT_MSG_NEW, 100 + i, "10.0.0.1", "10.0.0.2",
				      (__u16)(1000 + i), (__u16)(i % 7), IPPROTO_TCP);

		counters(&a, (i * 7919) % 1000, i);
		model_apply(&m, &a);
	}
	for (int k = 0; k < SORT_MAX; k++) {
		vo.sort = (enum sort_key)k;
		model_view_build(&m, &vo);
		assert_int_equal(m.nrows, 1000);
		if (k == SORT_BYTES)
			for (size_t i = 1; i < m.nrows; i++)
				assert_true(m.rows[i - 1]->orig_bytes + m.rows[i - 1]->reply_bytes >=
					    m.rows[i]->orig_bytes + m.rows[i]->reply_bytes);
	}
	model_fini(&m);
}

#define DOCKER_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* cgroup ids -> paths, standing in for the cgroup hierarchy; counts the lookups. */
static int path_calls;

static const char *fake_path(__u64 id)
{
	path_calls++;
	switch (id) {
	case 1001: return "/system.slice/docker-" DOCKER_ID ".scope";
	case 1005: return "/system.slice/docker-" DOCKER_ID ".scope/init";
	case 1002: return "/system.slice/nginx.service";
	case 1003: return "/some/layout/nobody/knows";
	default: return NULL;	/* not (yet) in the hierarchy */
	}
}

static const struct cont_agg *cont_find(const struct model *m, const char *label)
{
	for (size_t i = 0; i < m->nconts; i++)
		if (!strcmp(m->conts[i].label, label))
			return &m->conts[i];
	return NULL;
}

static void add_owned(struct model *m, __u32 id, const char *dst, __u16 dport, __u64 cg,
		      __u64 ob, __u64 rb)
{
	struct ct_msg a = msg(CT_MSG_NEW, id, "10.0.0.1", dst, (__u16)(30000 + id), dport,
			      IPPROTO_TCP);
	struct flow *f;

	counters(&a, ob, rb);
	model_apply(m, &a);
	f = ft_find_id(m->ft, 99, id);
	assert_non_null(f);
	f->owner.pid = 500 + id;
	f->owner.cgroup_id = cg;
}

static void test_containers(void **state)
{
	const char *(*saved)(__u64) = model_cgroup_path;
	struct view_opts vo = { .show = SHOW_FAMILIES | SHOW_PROTOS, .sort = SORT_BYTES };
	const struct cont_agg *c;
	struct model m;
	int calls;

	(void)state;
	model_cgroup_path = fake_path;
	path_calls = 0;
	setup_model(&m);
	m.attr = NULL;
	add_owned(&m, 1, "192.0.2.1", 443, 1001, 100, 900);
	add_owned(&m, 2, "192.0.2.2", 8080, 1001, 5000, 70000);	/* the top destination */
	add_owned(&m, 3, "192.0.2.3", 53, 1005, 10, 10);	/* same container, sub-cgroup */
	add_owned(&m, 4, "10.0.0.1", 80, 1002, 300, 4000);		/* nginx accepted it */
	ft_find_id(m.ft, 99, 4)->flags |= FLOW_F_INBOUND;
	add_owned(&m, 5, "192.0.2.5", 22, 0, 1, 2);			/* unattributed */
	add_owned(&m, 6, "192.0.2.6", 22, 1003, 3, 4);			/* unknown layout */
	add_owned(&m, 7, "192.0.2.7", 22, 1004, 5, 6);			/* no such cgroup */
	ft_find_id(m.ft, 99, 7)->flags |= FLOW_F_GONE;

	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 7);
	assert_int_equal(m.nconts, 3);
	assert_string_equal(model_container(&m, 1001), "docker:0123456789ab");
	assert_string_equal(model_container(&m, 1003), "");
	assert_string_equal(model_container(&m, 0), "");

	c = cont_find(&m, "docker:0123456789ab");
	assert_non_null(c);
	assert_int_equal(c->flows, 3);
	assert_int_equal(c->orig_bytes, 5110);
	assert_int_equal(c->reply_bytes, 70910);
	assert_int_equal(c->top_dport, 8080);
	assert_memory_equal(c->top_dst, ((__u8[]){ 192, 0, 2, 2 }), 4);
	assert_int_equal(c->top_family, AF_INET);

	/* inbound: what nginx sent is the reply direction, like the Processes tab */
	c = cont_find(&m, "nginx.service");
	assert_non_null(c);
	assert_int_equal(c->flows, 1);
	assert_int_equal(c->orig_bytes, 4000);
	assert_int_equal(c->reply_bytes, 300);

	/* no cgroup, an unknown layout, an unknown id: the host group; closed flows not counted */
	c = cont_find(&m, "");
	assert_non_null(c);
	assert_int_equal(c->flows, 2);
	assert_int_equal(c->orig_bytes, 9);

	/* sorted by bytes: docker, nginx, host */
	assert_string_equal(m.conts[0].label, "docker:0123456789ab");
	assert_string_equal(m.conts[2].label, "");
	/* by name: the host group last */
	vo.sort = SORT_PROCESS;
	model_view_build(&m, &vo);
	assert_string_equal(m.conts[0].label, "docker:0123456789ab");
	assert_string_equal(m.conts[1].label, "nginx.service");
	assert_string_equal(m.conts[2].label, "");

	/* each id's path was looked up once; rebuilds hit the cache */
	calls = path_calls;
	assert_int_equal(calls, 5);
	model_view_build(&m, &vo);
	model_view_build(&m, &vo);
	assert_int_equal(path_calls, calls);

	/* the container filter: substring, any case; "-" for the flows of no container */
	snprintf(vo.container, sizeof(vo.container), "docker:0123");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 3);
	assert_int_equal(m.nconts, 1);
	snprintf(vo.container, sizeof(vo.container), "NGINX");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 1);
	assert_int_equal(m.rows[0]->id, 4);
	snprintf(vo.container, sizeof(vo.container), "-");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 3);
	assert_string_equal(m.conts[0].label, "");
	snprintf(vo.container, sizeof(vo.container), "podman");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 0);
	assert_int_equal(m.nconts, 0);
	/* with the text filter: both must match */
	snprintf(vo.container, sizeof(vo.container), "docker");
	snprintf(vo.filter, sizeof(vo.filter), "8080");
	model_view_build(&m, &vo);
	assert_int_equal(m.nrows, 1);
	assert_int_equal(m.rows[0]->id, 2);

	model_fini(&m);
	model_cgroup_path = saved;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_then_events),
		cmocka_unit_test(test_born_and_gone_in_one_batch),
		cmocka_unit_test(test_mark_and_sweep),
		cmocka_unit_test(test_id_reuse),
		cmocka_unit_test(test_same_id_and_tuple),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_view_filter_sort_procs),
		cmocka_unit_test(test_sort_keys_total),
		cmocka_unit_test(test_containers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
