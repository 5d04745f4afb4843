/* netns.h - the network namespaces of this machine: found by their inode in /run/netns and /proc. */
#ifndef FLOWTOP_NETNS_H
#define FLOWTOP_NETNS_H

#include <stddef.h>
#include <linux/types.h>

struct netns_info {
	__u32 inode;
	char path[64];		/* a path that opens it: /run/netns/NAME or /proc/PID/ns/net */
	char name[48];		/* NAME from /run/netns, else "pid PID" (its first process) */
};

/*
 * Every network namespace that a process is in or that /run/netns names,
 * once each (by inode), named namespaces first. Returns how many were
 * stored in out (at most max), or -errno. No namespace is held open.
 */
int netns_list(struct netns_info *out, size_t max);

/*
 * One scan of the machine's namespaces shared by everything that follows them
 * (the eBPF netns hook, --all-netns): netns_refresh() lists them again unless the
 * last list is younger than max_age_ns (0: always) and returns the list's
 * generation; netns_found() gives that list.
 */
#define NETNS_FOUND_MAX 4096
unsigned int netns_refresh(__u64 max_age_ns);
const struct netns_info *netns_found(size_t *n);
unsigned int netns_generation(void);

/* The inode of the calling thread's netns, 0 if unknown. */
__u32 netns_self(void);

/* Enter the namespace at path (setns). 0 or -errno. */
int netns_enter(const char *path);

#endif
