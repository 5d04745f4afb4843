/* caps.h - does this process hold a capability (effective set)? */
#ifndef FLOWTOP_CAPS_H
#define FLOWTOP_CAPS_H

#include <stdbool.h>
#include <linux/capability.h>

/* Older uapi headers lack these (Linux 5.8). */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

bool have_cap(int cap);

#endif
