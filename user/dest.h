/* dest.h - where the data goes: flows grouped by the remote end's country or AS (GeoIP). */
#ifndef FLOWTOP_DEST_H
#define FLOWTOP_DEST_H

#include <stddef.h>
#include <linux/types.h>

#include "flow.h"

enum dest_by {
	DEST_BY_COUNTRY = 0,
	DEST_BY_ASN,
};

#define DEST_TOP 3		/* processes named per destination */

struct dest_proc {
	__u32 pid;
	char comm[FLOW_COMM_LEN];
	__u64 bytes;
};

struct dest_agg {
	char key[16];		/* "GB", "AS15169", or a scope: "private", "loopback", ...,
				 * or "unknown" (no database knows the address) */
	char name[96];		/* "United Kingdom", "Google LLC", or "" */
	__u32 flows;		/* live flows */
	__u64 sent;		/* bytes from this host to there */
	__u64 recv;
	double rate_tx;		/* bytes/s */
	double rate_rx;
	struct dest_proc top[DEST_TOP];	/* by bytes, most first; pid 0 = none */
};

struct dest_table {
	struct dest_agg *d;
	size_t n, cap;
	__u32 *index;		/* open addressing by key */
	size_t icap;
};

/* The address at the far end: the destination of a flow this host made, the source of one
 * it received (also after DNAT: conntrack's original tuple has the peer there). */
const __u8 *flow_remote(const struct flow *f, __u8 *family);

/*
 * Group flows (rows[0..n), e.g. the view's filtered rows) by the remote end's country or
 * AS, sorted by bytes (both ways) then flows, most first. Uses geoip_lookup(); addresses
 * no database knows go to "unknown", private and local ones to their scope.
 */
int dest_build(struct dest_table *t, struct flow *const *rows, size_t n, enum dest_by by);
void dest_free(struct dest_table *t);
const char *dest_by_name(enum dest_by by);

#endif
