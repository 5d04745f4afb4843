/* names.h - the name shown for an address: the one the application asked for, else its PTR. */
#ifndef FLOWTOP_NAMES_H
#define FLOWTOP_NAMES_H

#include <stdbool.h>
#include <linux/types.h>

#include "flow.h"

enum name_from {
	NAME_NONE = 0,
	NAME_ASKED,	/* a DNS answer an application got before the flow began */
	NAME_PTR,	/* reverse DNS */
};

/* Which sources are on: the DNS-answer program, reverse DNS (both off with -n). */
bool names_asked_on(void);
bool names_ptr_on(void);

/*
 * The name of addr (one end of f), or NULL (*from = NAME_NONE): the name asked for before
 * the flow began (conntrack's timestamp, else when flowtop first saw it; answers its
 * owner's cgroup received come first), else the PTR name, whose lookup starts here when
 * it is not known. Names are ASCII, safe for terminals and JSON; valid until the next
 * names/rdns/asked call.
 */
const char *names_of(const struct flow *f, const __u8 *addr, enum name_from *from);

/* Whether either end of f has a name known now that contains flt (any case); asks nothing. */
bool names_match(const struct flow *f, const char *flt);

/* "dns", "ptr" or NULL. */
const char *name_from_str(enum name_from f);

#endif
