/* names.c - the name shown for an address: the one the application asked for, else its PTR. */
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <string.h>

#include "asked.h"
#include "dnscap.h"
#include "names.h"
#include "rdns.h"

/* On when their sources opened (main.c opens neither with -n). */
bool names_asked_on(void)
{
	return dnscap_on();
}

bool names_ptr_on(void)
{
	return rdns_enabled();
}

static const char *lookup(__u8 family, const __u8 *addr, __u64 seen_ns, __u64 cgroup,
			  enum name_from *from)
{
	const char *n = asked_name_for(family, addr, seen_ns, cgroup);

	if (n) {
		*from = NAME_ASKED;
		return n;
	}
	n = rdns_name(family, addr);
	*from = n ? NAME_PTR : NAME_NONE;
	return n;
}

static __u64 clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/*
 * When f began on the monotonic clock: conntrack's start (wall clock) moved over, or,
 * without timestamps, when flowtop first saw it (a little later: an answer that came in
 * between could be taken for the one before the flow).
 */
static __u64 begin_ns(const struct flow *f)
{
	__u64 real, mono, ago;

	if (!(f->flags & FLOW_F_TSTAMP) || !dnscap_on())
		return f->seen_ns;
	real = clock_ns(CLOCK_REALTIME);
	mono = clock_ns(CLOCK_MONOTONIC);
	if (f->start_ns > real)
		return f->seen_ns;
	ago = real - f->start_ns;
	/* never later than first seen: a wall clock set back since cannot move it there */
	return ago < mono && mono - ago < f->seen_ns ? mono - ago : f->seen_ns;
}

bool names_match(const struct flow *f, const char *flt)
{
	const __u8 *ends[2] = { f->orig.dst, f->orig.src };

	for (int i = 0; i < 2; i++) {
		const char *n = asked_name(f->orig.family, ends[i], begin_ns(f));

		if (n && strcasestr(n, flt))
			return true;
		n = rdns_peek(f->orig.family, ends[i]);
		if (n && strcasestr(n, flt))
			return true;
	}
	return false;
}

const char *names_of(const struct flow *f, const __u8 *addr, enum name_from *from)
{
	return lookup(f->orig.family, addr, begin_ns(f), f->owner.cgroup_id ? f->owner.cgroup_id :
			     UINT64_MAX, from);
}

const char *name_from_str(enum name_from f)
{
	return f == NAME_ASKED ? "dns" : f == NAME_PTR ? "ptr" : NULL;
}
