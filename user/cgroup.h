/* cgroup.h - cgroup v2 id -> path, and a process's cgroup. */
#ifndef FLOWTOP_CGROUP_H
#define FLOWTOP_CGROUP_H

#include <stddef.h>
#include <linux/types.h>

/*
 * Path (relative to the cgroup v2 root, starting with "/") of the cgroup with
 * this id (the inode of its directory), or NULL. Unknown ids trigger a rescan
 * of the hierarchy, at most every 100 ms. The string stays valid until
 * the next call that rescans.
 */
const char *cgroup_path(__u64 id);
/* Mount point of the cgroup v2 hierarchy ("/sys/fs/cgroup", ".../unified"), or NULL. */
const char *cgroup_root(void);
void cgroup_free(void);

#endif
