/* app.h - state shared by the event loop and the three renderers (ncurses, batch, JSON). */
#ifndef FLOWTOP_APP_H
#define FLOWTOP_APP_H

#include <stdbool.h>
#include <time.h>

#include "ct.h"
#include "latency.h"
#include "model.h"
#include "opts.h"

#define FLOWTOP_VERSION "0.1.0"

enum tracking_state {
	TRACKING_UNKNOWN = 0,
	TRACKING_ACTIVE,
	TRACKING_INACTIVE,	/* conntrack present but nothing tracked in this netns */
	TRACKING_ABSENT,	/* no conntrack in this kernel */
};

/* One namespace's conntrack table: its size, its limit and the kernel's drop counters. */
struct ct_table {
	struct ct_stat_reader *st;	/* opened in the namespace; NULL: none */
	unsigned long count, max;
	bool full;			/* at the limit, or it dropped/evicted since the last read */
};

/* A watched network namespace and its conntrack sockets; watch[0] is the one flowtop runs in. */
struct watch {
	__u32 inode;
	char name[48];			/* "host", --netns's argument, a /run/netns name,
					 * a container, or "pid N" */
	struct ct_engine *ct;
	struct app *a;
	int sysctl_slot;
	struct ct_table table;
	unsigned int seen;		/* the namespace scan that last found it */
	bool used;
	bool dumping;			/* its part of the current dump round is running */
	bool first;			/* its first dump has not ended */
};

#define WATCH_MAX 256

struct app {
	struct opts opts;
	struct model model;
	struct view_opts view;
	struct ct_engine *ct;
	const char *mode;		/* "ebpf" or "conntrack" */
	char mode_why[192];		/* why the better mode is not active, or "" */
	char attr_name[32];		/* attribution backend in use */
	char probes[128];		/* eBPF: the rung chosen per hook */
	char netns_label[64];		/* "host" or the --netns argument */
	char names_why[192];		/* why names asked for are not seen, or "" */
	char warning[192];		/* latest warning for the status line */
	bool acct_on;			/* nf_conntrack_acct is 1 now */
	bool tstamp_on;
	enum tracking_state tracking;
	__u64 start_mono_ns;
	unsigned long long attr_lost;	/* eBPF ring buffer reservations that failed */
	bool resync_next;		/* re-dump once the running dump ends */
	bool quit;
	__u64 last_dump_ns;		/* when the last dump round started */
	__u64 dump_period_ns;		/* counters are this old at most (> interval: big table) */
	/* after each dump: the first watched netns' table size and limit, whether any watched
	 * table is full, and drops and evictions for lack of room in all of them */
	unsigned long ct_count, ct_max;
	bool table_full;
	unsigned long long ct_dropped;	/* packets dropped for a full table, since start */
	unsigned long long ct_evicted;	/* unassured entries evicted for room, since start */
	__u64 table_full_end_ns;	/* when it was seen not full again (model_clock) */
	time_t table_full_seen;		/* the last reading that found it full */
	char table_full_where[64];	/* " in NAME" of the namespace, or "" */
	/* how long each turn of the event loop took, and turns that handled a key */
	struct lat_hist loop_lat;
	struct lat_hist key_lat;
	/* --all-netns */
	struct watch watch[WATCH_MAX];
	unsigned int nwatch;		/* namespaces watched now */
	unsigned int scan_gen;
	int self_ns_fd;			/* to come back after setting up another netns */
};

/* Name of a watched namespace by inode, or NULL. */
static inline const char *app_netns_name(const struct app *a, __u32 inode)
{
	static unsigned int last;

	if (last < WATCH_MAX && a->watch[last].used && a->watch[last].inode == inode)
		return a->watch[last].name;
	for (unsigned int i = 0; i < WATCH_MAX; i++) {
		if (a->watch[i].used && a->watch[i].inode == inode) {
			last = i;
			return a->watch[i].name;
		}
	}
	return NULL;
}

#endif
