/* model.h - the model: flow table, mark-and-sweep reconciliation, rates, aggregates, views. */
#ifndef FLOWTOP_MODEL_H
#define FLOWTOP_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "ct.h"
#include "flow.h"
#include "flow_table.h"

struct attr_backend;
struct model_evq;
struct model_ccache;

/* Which flows are shown (the original's -4 -6 -T -U -D -I -S). */
enum show_mask {
	SHOW_IPV4 = 1 << 0,
	SHOW_IPV6 = 1 << 1,
	SHOW_TCP = 1 << 2,
	SHOW_UDP = 1 << 3,	/* UDP and UDP-Lite */
	SHOW_DCCP = 1 << 4,
	SHOW_ICMP = 1 << 5,	/* ICMP and ICMPv6 */
	SHOW_SCTP = 1 << 6,
	SHOW_OTHER = 1 << 7,	/* every other protocol */
	SHOW_FAMILIES = SHOW_IPV4 | SHOW_IPV6,
	SHOW_PROTOS = SHOW_TCP | SHOW_UDP | SHOW_DCCP | SHOW_ICMP | SHOW_SCTP | SHOW_OTHER,
};

enum sort_key {
	SORT_RATE = 0,		/* orig + reply rate */
	SORT_BYTES,
	SORT_AGE,
	SORT_PROCESS,
	SORT_DEST,
	SORT_PROTO,
	SORT_MAX,
};

struct view_opts {
	unsigned int show;		/* enum show_mask */
	enum sort_key sort;
	bool reverse;
	bool hide_gone;			/* drop dimmed closed flows from the view */
	char filter[128];		/* "/" filter: process, address or port substring */
	char container[64];		/* container label substring; "-" = flows in none */
};

#define CONTAINER_LABEL_LEN 64

/* Per-container aggregate (Containers tab); label "" = host / unattributed. */
struct cont_agg {
	__u32 flows;			/* live flows */
	__u64 orig_bytes;		/* sent, from the owners' view */
	__u64 reply_bytes;		/* received */
	double rate_orig;
	double rate_reply;
	/* destination of the flow with the most bytes, as conntrack's original tuple has it */
	__u64 top_bytes;
	__u8 top_dst[16];
	__u16 top_dport;
	__u8 top_family;
	__u8 top_proto;
	char label[CONTAINER_LABEL_LEN];
};

/* Per-process aggregate (Processes tab). */
struct proc_agg {
	__u32 pid;
	__u32 flows;
	__u64 cgroup_id;
	__u64 orig_bytes;
	__u64 reply_bytes;
	double rate_orig;
	double rate_reply;
	char comm[FLOW_COMM_LEN];
};

/* Per-protocol aggregate. */
struct proto_agg {
	__u32 flows;
	__u64 bytes;
};

/* The "/" filter also matches the names of a flow's ends when this is set (names known
 * already; matching asks for none). */
extern bool (*model_name_match)(const struct flow *f, const char *flt);

/* Lifecycle event sink (used by --json --events). */
typedef void (*model_event_cb)(void *ctx, const char *type, const struct flow *f);

struct model {
	struct flow_table *ft;
	__u32 netns;			/* inode of the watched netns */
	bool many_netns;		/* flows of several namespaces (--all-netns) */
	__u32 gen;			/* current dump generation */
	bool dumping;
	bool first_dump_done;
	bool resync_pending;		/* the running dump recovers from an overrun */
	__u64 now_ns;			/* CLOCK_MONOTONIC at the last tick */
	__u64 dump_start_ns;		/* CLOCK_MONOTONIC when the dump round began */
	__u64 linger_ns;		/* how long closed flows stay visible */

	/* counters for the header and the JSON summary */
	unsigned long long events_lost;	/* events a re-dump found missing after an overrun */
	unsigned long long overruns;	/* times the kernel dropped events (ENOBUFS) */
	unsigned long long resyncs;
	unsigned long long swept;	/* flows removed by mark and sweep */
	unsigned long long created;
	unsigned long long destroyed;

	struct attr_backend *attr;	/* active attribution backend, may be NULL */

	model_event_cb on_event;
	void *event_ctx;
	/* lifecycle events wait here until attribution has had its chance */
	struct model_evq *evq;
	size_t nevq;
	size_t evq_cap;

	/* view: rebuilt by model_view_build() */
	struct flow **rows;
	size_t nrows;
	size_t rows_cap;
	struct proc_agg *procs;
	size_t nprocs;
	size_t procs_cap;
	struct cont_agg *conts;
	size_t nconts;
	size_t conts_cap;
	/* cgroup id -> container label; a pointer so that copies of the model share it */
	struct model_ccache *ccache;
	struct proto_agg protos[256];
	double total_rate_orig;
	double total_rate_reply;
};

int model_init(struct model *m, __u32 netns);
void model_fini(struct model *m);

/* Apply one conntrack message (event or dump entry). */
void model_apply(struct model *m, const struct ct_msg *msg);
/* Mark and sweep around a full dump. */
void model_dump_begin(struct model *m);
void model_dump_end(struct model *m);
/*
 * Several namespaces (--all-netns): messages of netns (first = its first
 * dump has not ended: what a dump finds existed before flowtop), and the
 * sweep of one namespace's flows when its dump ends (last = the round's last
 * dump). A round's dumps share one model_dump_begin().
 */
void model_apply_ns(struct model *m, __u32 netns, bool first, const struct ct_msg *msg);
void model_dump_end_ns(struct model *m, __u32 netns, bool last);
/* A watched namespace went away: its flows are gone. */
void model_netns_gone(struct model *m, __u32 netns);
/*
 * End of a batch of messages: let the attribution backend resolve what is
 * pending, then hand queued lifecycle events to on_event.
 */
void model_flush(struct model *m);
/* Drop closed flows whose linger time is over. */
void model_expire(struct model *m);
/* Monotonic clock in ns. */
__u64 model_clock(void);

/* Does f pass the protocol/family mask and text filter? */
bool model_match(const struct model *m, const struct flow *f, const struct view_opts *vo);
/* Rebuild rows (filtered, sorted) and per-process and per-container aggregates. */
void model_view_build(struct model *m, const struct view_opts *vo);
/*
 * Container label of a cgroup id ("docker:web" when the runtime's state names it, else
 * "docker:0123456789ab"; "nginx.service", ...), or ""
 * when the cgroup is unknown or not a container, service or session. Cached by id:
 * the path is parsed once per id. The string is valid until the next lookup.
 */
const char *model_container(const struct model *m, __u64 cgroup_id);
/* The same container by its id ("docker:0123456789ab"), and its runtime's name or "". */
const char *model_container_id(const struct model *m, __u64 cgroup_id);
const char *model_container_name(const struct model *m, __u64 cgroup_id);
/* cgroup id -> path used by model_container(); cgroup_path() unless a test replaces it. */
extern const char *(*model_cgroup_path)(__u64 id);
/* Age in seconds (from conntrack's timestamp when known, else from first sight). */
double flow_age(const struct model *m, const struct flow *f, bool *exact);

/* Does the flow's original direction start on this host? (by attribution) */
bool flow_is_local(const struct flow *f);

#endif
