/* services.h - service names per protocol and port (conf/ files, /etc/flowtop overrides, /etc/services). */
#ifndef FLOWTOP_SERVICES_H
#define FLOWTOP_SERVICES_H

#include <stddef.h>
#include <linux/types.h>

#include "flow.h"

/* Called once per problem (malformed line: "file:line: what"). */
typedef void (*services_warn_fn)(const char *msg);

/*
 * Load service tables. Each directory in dirs (NULL-terminated, later ones
 * override earlier ones) may hold tcp.conf, udp.conf, udplite.conf,
 * sctp.conf, dccp.conf. /etc/services fills ports no conf file names.
 * Returns the number of entries loaded (>= 0); never fails hard.
 */
int services_load(const char *const *dirs, services_warn_fn warn);
void services_free(void);

/* Name for proto/port or NULL. */
const char *service_name(__u8 proto, __u16 port);

/*
 * The server side of a flow and its service name: prefers a port with a
 * known name, then the lower well-known port. *port gets the chosen port.
 * Returns NULL when no name is known (or the protocol has no ports).
 */
const char *flow_service(const struct flow *f, __u16 *port);

#endif
