/* procmap.h - socket inode -> process (pid, comm, uid, cgroup) from /proc/<pid>/fd, cached. */
#ifndef FLOWTOP_PROCMAP_H
#define FLOWTOP_PROCMAP_H

#include <stddef.h>

#include <linux/types.h>

#define PROCMAP_COMM_LEN 16
#define PROCMAP_MIN_INTERVAL_NS (200ULL * 1000 * 1000)

struct procmap_info {
	__u32 pid;			/* thread group id */
	__u32 uid;			/* effective uid, (__u32)-1 = unknown */
	char comm[PROCMAP_COMM_LEN];	/* as in /proc/<pid>/comm, NUL-terminated */
};

struct procmap;

/* proc_root: "/proc" when NULL (tests pass a fake tree). Returns NULL on allocation failure. */
struct procmap *procmap_new(const char *proc_root);
void procmap_free(struct procmap *pm);

/*
 * Who holds socket inode? A miss rescans /proc, at most once per interval (200 ms by
 * default). Returns 0 and fills *out; -ENOENT if a fresh scan did not find it; -EAGAIN if it is
 * unknown and the last scan is too recent (ask again later). When several processes hold the
 * socket (fork, fd passing), the lowest pid wins: /proc is walked in pid order.
 */
int procmap_lookup(struct procmap *pm, __u32 inode, struct procmap_info *out);
/* Rescan now, whatever the rate limit. Returns 0 or -errno (proc root unreadable). */
int procmap_rescan(struct procmap *pm);
/* cgroup v2 path ("0::/path" line of /proc/<pid>/cgroup) of a pid seen by the last scan. */
int procmap_cgroup(struct procmap *pm, __u32 pid, char *buf, size_t len);
void procmap_set_interval(struct procmap *pm, __u64 ns);

/* For tests and the header: processes holding sockets, sockets known, scans done. */
size_t procmap_nprocs(const struct procmap *pm);
size_t procmap_nsockets(const struct procmap *pm);
unsigned long procmap_nscans(const struct procmap *pm);

#endif
