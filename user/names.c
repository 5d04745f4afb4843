/* names.c - the name shown for an address: the one the application asked for, else its PTR. */
#include <stddef.h>
#include <string.h>

#include "asked.h"
#include "names.h"
#include "rdns.h"

static bool asked_on, ptr_on;

void names_enable(bool asked, bool ptr)
{
	asked_on = asked;
	ptr_on = ptr;
}

bool names_asked_on(void)
{
	return asked_on;
}

bool names_ptr_on(void)
{
	return ptr_on;
}

const char *names_for(__u8 family, const __u8 *addr, __u64 seen_ns, enum name_from *from)
{
	const char *n = asked_on ? asked_name(family, addr, seen_ns) : NULL;

	if (n) {
		*from = NAME_ASKED;
		return n;
	}
	n = ptr_on ? rdns_name(family, addr) : NULL;
	*from = n ? NAME_PTR : NAME_NONE;
	return n;
}

bool names_match(const struct flow *f, const char *flt)
{
	const __u8 *ends[2] = { f->orig.dst, f->orig.src };

	for (int i = 0; i < 2; i++) {
		const char *n = asked_on ? asked_name(f->orig.family, ends[i], f->seen_ns) : NULL;

		if (n && strcasestr(n, flt))
			return true;
		n = ptr_on ? rdns_peek(f->orig.family, ends[i]) : NULL;
		if (n && strcasestr(n, flt))
			return true;
	}
	return false;
}

const char *name_from_str(enum name_from f)
{
	return f == NAME_ASKED ? "dns" : f == NAME_PTR ? "ptr" : NULL;
}
