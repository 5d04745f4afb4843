/* asked.h - the names applications asked for: addresses learned from the DNS answers they got. */
#ifndef FLOWTOP_ASKED_H
#define FLOWTOP_ASKED_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#define ASKED_CAP 32768		/* addresses remembered; the oldest go first */
#define ASKED_SLOTS 4		/* names remembered per address (CDNs share addresses) */
#define ASKED_GRACE_S 600	/* an answer still explains a flow this long after its TTL */
#define ASKED_STREAMS 16	/* DNS-over-TCP connections reassembled at once */

/*
 * One DNS message as a local socket received it (UDP payload, cut at caplen when the packet
 * was longer: what came is used). Every A/AAAA answer to the question (and its CNAME chain)
 * maps its address to the question's name from ts_ns (CLOCK_MONOTONIC) on. Returns the
 * number of addresses learned, or -EINVAL for a malformed message.
 */
int asked_feed(const uint8_t *msg, size_t len, __u64 ts_ns);

/* The same, received by a socket of cgroup v2 cgroup (0 = not known). */
int asked_feed_from(const uint8_t *msg, size_t len, __u64 ts_ns, __u64 cgroup);

/*
 * One TCP segment from a DNS server: reassembled per connection (2-byte length prefix per
 * message), fed as messages complete. len is the segment's payload length, caplen the bytes
 * given (a cut segment ends the connection's reassembly after its partial message is read).
 */
struct asked_conn {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u64 cgroup;		/* the receiving socket's cgroup (0 = not known) */
};
void asked_tcp(const struct asked_conn *c, __u32 seq, const uint8_t *data, size_t len,
	       size_t caplen, __u64 ts_ns);

/*
 * The name asked for that led to a connection to addr first seen at seen_ns: of the answers
 * that gave addr before seen_ns, the latest, if seen_ns is within its TTL plus a grace time.
 * NULL if none. The string is valid until the next asked_* call that learns something.
 */
const char *asked_name(__u8 family, const __u8 *addr, __u64 seen_ns);

/*
 * The same for a flow of a process in cgroup: answers its own cgroup received first (a
 * program usually asks for itself), then any other (a resolver that asked for it: nscd,
 * systemd-resolved over its varlink socket).
 */
const char *asked_name_for(__u8 family, const __u8 *addr, __u64 seen_ns, __u64 cgroup);

/* Addresses known, messages parsed, malformed messages. */
void asked_stats(unsigned long *addrs, unsigned long long *msgs, unsigned long long *bad);

/* Forget everything (tests, shutdown). */
void asked_reset(void);

#endif
