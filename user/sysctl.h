/* sysctl.h - switch on conntrack accounting and timestamps, and always put them back. */
#ifndef FLOWTOP_SYSCTL_H
#define FLOWTOP_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* Where the values to restore are kept while flowtop runs (overridable for tests). */
#define SYSCTL_STATE_DIR "/run/flowtop"

#define SYSCTL_SLOTS 256	/* namespaces whose sysctls one flowtop may change */

struct sysctl_result {
	int slot;		/* for sysctl_release(), -1 = none */
	bool acct_on;		/* nf_conntrack_acct is 1 now */
	bool tstamp_on;
	bool changed;		/* flowtop changed something it must restore */
};

/*
 * Put back values left changed by flowtop runs that died (SIGKILL, power
 * loss of the process) before they could restore them. Call once at start,
 * in the host netns, before setns(). Returns the number of restored files.
 */
int sysctl_recover(void);

/*
 * In the current netns: enable nf_conntrack_acct and nf_conntrack_timestamp
 * unless already on (or touch is false), and record the old values in
 * SYSCTL_STATE_DIR so a later start can restore them. netns_path names the
 * namespace for that later start ("" = the host's). warn gets one line when
 * something could not be done.
 */
int sysctl_setup(__u32 netns_ino, const char *netns_path, bool touch, struct sysctl_result *res,
		 char *warn, size_t warnlen);

/* Restore what sysctl_setup changed, in every netns. Async-signal-safe; idempotent. */
void sysctl_restore(void);
/* Restore one namespace's values and forget it (it is no longer watched). */
void sysctl_release(int slot);

#endif
