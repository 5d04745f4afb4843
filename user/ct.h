/* ct.h - conntrack over netlink (libmnl): message parsing, dumps in bounded batches, events. */
#ifndef FLOWTOP_CT_H
#define FLOWTOP_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/netlink.h>

#include "flow.h"

enum ct_msg_type {
	CT_MSG_DUMP = 0,	/* entry from a dump */
	CT_MSG_NEW,
	CT_MSG_UPDATE,
	CT_MSG_DESTROY,
};

enum ct_have {
	CT_HAVE_ID = 1 << 0,
	CT_HAVE_COUNTERS = 1 << 1,
	CT_HAVE_TSTART = 1 << 2,
	CT_HAVE_TSTOP = 1 << 3,
	CT_HAVE_STATE = 1 << 4,
	CT_HAVE_MARK = 1 << 5,
	CT_HAVE_ZONE = 1 << 6,
	CT_HAVE_STATUS = 1 << 7,
	CT_HAVE_REPLY = 1 << 8,
	CT_HAVE_TIMEOUT = 1 << 9,
};

struct ct_msg {
	struct flow f;		/* fields the message carried */
	__u64 stop_ns;
	__u32 timeout;
	__u32 have;		/* enum ct_have */
	enum ct_msg_type type;
};

/*
 * Parse one nfnetlink conntrack message (IPCTNL_MSG_CT_NEW / _DELETE).
 * Returns 0, or -EINVAL for a malformed message (nothing is read out of
 * bounds), or -ENOENT for messages that are not conntrack entries.
 */
int ct_parse(const struct nlmsghdr *nlh, size_t len, struct ct_msg *out);

struct ct_engine;

typedef void (*ct_cb)(void *ctx, const struct ct_msg *m);

struct ct_stats {
	unsigned long long events;	/* event messages handled */
	unsigned long long overruns;	/* ENOBUFS reports on the event socket */
	unsigned long long dumps;	/* dumps completed */
	unsigned long long dump_entries;
	unsigned long long parse_errors;
	unsigned int rcvbuf;		/* event socket buffer now */
};

/*
 * Open the event and dump sockets in the current netns; subscribe to UPDATE
 * events only when updates is set. errmsg gets one line on failure.
 */
struct ct_engine *ct_open(ct_cb cb, void *ctx, unsigned int rcvbuf, bool updates, char *errmsg,
			  size_t len);
void ct_close(struct ct_engine *ce);

/*
 * Join or leave the NEW event group (joined after ct_open). The kernel builds
 * no NEW message while nobody listens to the group; new flows are then found
 * by the next dump, or by their DESTROY. Returns 0 or -errno.
 */
int ct_events_new(struct ct_engine *ce, bool on);
bool ct_events_new_on(const struct ct_engine *ce);

int ct_event_fd(const struct ct_engine *ce);
int ct_dump_fd(const struct ct_engine *ce);

/* Read pending events, at most budget messages. Returns messages read or -errno. */
int ct_events_read(struct ct_engine *ce, int budget);
/* True once after the event socket overran (ENOBUFS): the caller should re-dump. */
bool ct_events_overran(struct ct_engine *ce);

/* Start a dump of all entries (both families). -EBUSY if one is running. */
int ct_dump_start(struct ct_engine *ce);
bool ct_dump_running(const struct ct_engine *ce);
/*
 * Process dump messages, at most budget entries, without blocking.
 * Returns 1 when the dump finished, 0 if more remain, -errno on error.
 */
int ct_dump_step(struct ct_engine *ce, int budget);

const struct ct_stats *ct_stats(const struct ct_engine *ce);

/* The kernel's per-CPU conntrack statistics that tell a full table (32-bit, they wrap). */
struct ct_cpu_stat {
	__u32 drop;		/* packets dropped: no room, a tracker's verdict, a clash */
	__u32 early_drop;	/* entries evicted to make room for a new one */
	__u32 invalid;
	__u32 insert_failed;
	__u8 seen;		/* this CPU was in the reading */
};

/*
 * Parse one answer to IPCTNL_MSG_CT_GET_STATS_CPU: *cpu gets its CPU.
 * Returns 0, -EINVAL for a malformed message, -ENOENT for another type.
 */
int ct_cpu_stat_parse(const struct nlmsghdr *nlh, size_t len, unsigned int *cpu,
		      struct ct_cpu_stat *st);

/*
 * Between two readings (arrays by CPU): packets dropped that were not an insert clash's
 * (most are new connections that found no room; a protocol tracker's rare verdicts too),
 * and entries evicted early to make room (only when the table is at its limit).
 */
void ct_cpu_delta(const struct ct_cpu_stat *prev, unsigned int nprev,
		  const struct ct_cpu_stat *cur, unsigned int ncur, unsigned long long *dropped,
		  unsigned long long *evicted);

/*
 * Parse the answer to IPCTNL_MSG_CT_GET_STATS: the entries and the limit the kernel applies
 * to the namespace. Returns 0, -EINVAL (malformed, or no entry count), -ENOENT (another type).
 */
int ct_global_stat_parse(const struct nlmsghdr *nlh, size_t len, unsigned long *count,
			 unsigned long *max);

/* Reads the current netns' table statistics over its own ctnetlink socket. */
struct ct_stat_reader;
struct ct_stat_reader *ct_stat_open(void);
void ct_stat_close(struct ct_stat_reader *r);
/* *dropped and *evicted get ct_cpu_delta() since the last call (0 the first time).
 * Returns 0 or -errno. Never waits: the kernel queues its answers at once (-EAGAIN if
 * it did not). */
int ct_stat_cpu(struct ct_stat_reader *r, unsigned long long *dropped,
		unsigned long long *evicted);
/* The table's entries and limit now. Returns 0 or -errno (both 0 then). */
int ct_stat_size(struct ct_stat_reader *r, unsigned long *count, unsigned long *max);

#endif
