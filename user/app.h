/* app.h - state shared by the event loop and the three renderers (ncurses, batch, JSON). */
#ifndef FLOWTOP_APP_H
#define FLOWTOP_APP_H

#include <stdbool.h>

#include "ct.h"
#include "model.h"
#include "opts.h"

#define FLOWTOP_VERSION "0.1.0"

enum tracking_state {
	TRACKING_UNKNOWN = 0,
	TRACKING_ACTIVE,
	TRACKING_INACTIVE,	/* conntrack present but nothing tracked in this netns */
	TRACKING_ABSENT,	/* no conntrack in this kernel */
};

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
	char warning[192];		/* latest warning for the status line */
	bool acct_on;			/* nf_conntrack_acct is 1 now */
	bool tstamp_on;
	enum tracking_state tracking;
	__u64 start_mono_ns;
	unsigned long long attr_lost;	/* eBPF ring buffer reservations that failed */
	bool resync_next;		/* re-dump once the running dump ends */
	bool quit;
};

#endif
