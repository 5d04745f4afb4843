/* caps.h - capabilities: does this process hold one; keep only those needed to run. */
#ifndef FLOWTOP_CAPS_H
#define FLOWTOP_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/capability.h>

/* Older uapi headers lack these (Linux 5.8). */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define CAP_BIT(c) (UINT64_C(1) << (c))

bool have_cap(int cap);
uint64_t caps_effective(void);

/*
 * Keep only the capabilities in keep (a CAP_BIT mask): the others leave the
 * effective, permitted, inheritable, ambient and bounding sets, and no
 * exec can gain any (no_new_privs). With uid != (uid_t)-1, become uid/gid
 * (no supplementary groups) first, keeping those capabilities. Returns 0, or
 * -errno with one line in err.
 */
int caps_restrict(uint64_t keep, uid_t uid, gid_t gid, char *err, size_t errlen);

/* "cap_net_admin,cap_bpf" for a mask (for messages and tests). */
char *caps_names(uint64_t mask, char *buf, size_t len);

#endif
