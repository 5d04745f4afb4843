/* fuzz-srcs: user/ct.c tests/fuzz/mnl_wrap.c */
/* fuzz-libs: -lmnl -Wl,--wrap=mnl_attr_get_type,--wrap=mnl_attr_get_payload_len,--wrap=mnl_attr_ok,--wrap=mnl_attr_next,--wrap=mnl_attr_get_u8,--wrap=mnl_attr_get_payload */
/* fuzz-seeds: tests/fuzz/gen_ct_seeds.c */
/*
 * fuzz_ct_parse.c - libFuzzer target for ct_parse(): conntrack netlink messages as the kernel
 * (or anything that can write to the event socket) sends them.
 *
 * The input is one message, copied into a heap buffer of exactly its size so any read past it
 * is caught. The parser stops early on an nlmsg_len that disagrees with the buffer, so half of
 * the inputs (bit 0 of nlmsg_pid, which ct_parse() never reads, is clear) get nlmsg_len set to
 * the input size and go deep; the other half keep their own nlmsg_len. How batches of messages
 * are framed before ct_parse() sees them is fuzz_ct_stream.c's job.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ct.h"

/* What ct.h promises; anything else is a bug worth a crash report. */
static void check(int ret, const struct ct_msg *m)
{
	if (ret != 0 && ret != -EINVAL && ret != -ENOENT)
		abort();
	if (ret)
		return;
	if (m->f.orig.family != AF_INET && m->f.orig.family != AF_INET6)
		abort();
	if (m->f.reply.family != m->f.orig.family || !(m->have & CT_HAVE_ID))
		abort();
	if (m->type != CT_MSG_NEW && m->type != CT_MSG_UPDATE && m->type != CT_MSG_DESTROY)
		abort();
	/* tuples are hashed and compared as bytes: padding stays zero */
	if (m->f.orig.pad[0] | m->f.orig.pad[1] | m->f.reply.pad[0] | m->f.reply.pad[1])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh;
	struct ct_msg m;
	bool fixup;
	char *buf;

	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	nlh = (struct nlmsghdr *)buf;
	fixup = size >= sizeof(*nlh) && !(nlh->nlmsg_pid & 1);
	if (fixup)
		nlh->nlmsg_len = (__u32)size;

	check(ct_parse(nlh, size, &m), &m);
	free(buf);
	return 0;
}
