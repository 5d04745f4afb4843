/* attr.h - attribution backends: who created a flow (ebpf, sock_diag, /proc). */
#ifndef FLOWTOP_ATTR_H
#define FLOWTOP_ATTR_H

#include <stdbool.h>

#include "flow.h"

struct model;

/*
 * A backend fills flow->owner for flows of the model. The model calls
 * attr_pending() for each flow it has not attributed yet; the backend may
 * answer at once or later (from its fd or its tick).
 */
struct attr_backend {
	const char *name;		/* "ebpf", "sockdiag" */
	/* Set up; on failure fill why (one line) and return -errno. */
	int (*init)(struct attr_backend *b, struct model *m, char *why, size_t whylen);
	/* An fd for the event loop, or -1. */
	int (*fd)(struct attr_backend *b);
	void (*on_readable)(struct attr_backend *b);
	/* Called once per refresh, after a dump pass; attribute what is pending. */
	void (*tick)(struct attr_backend *b);
	/* A flow has been added and has no owner yet. */
	void (*pending)(struct attr_backend *b, struct flow *f);
	void (*done)(struct attr_backend *b);
	void *priv;
};

struct attr_backend *attr_sockdiag_backend(void);

#endif
