/* fuzz-srcs: user/ct.c tests/fuzz/mnl_wrap.c */
/* fuzz-libs: -lmnl -Wl,--wrap=mnl_attr_get_type,--wrap=mnl_attr_get_payload_len,--wrap=mnl_attr_ok,--wrap=mnl_attr_next,--wrap=mnl_attr_get_u8,--wrap=mnl_attr_get_payload,--wrap=recvfrom,--wrap=mnl_socket_open2,--wrap=mnl_socket_bind,--wrap=mnl_socket_get_fd,--wrap=mnl_socket_sendto,--wrap=mnl_socket_close */
/* fuzz-seeds: tests/fuzz/gen_ct_seeds.c tests/fuzz/corpus/ct_stream */
/*
 * fuzz_ct_stream.c - libFuzzer target for what user/ct.c does with a whole recv() of the
 * conntrack sockets: ct_events_read() and ct_dump_step() split the bytes into messages, and
 * hand each to ct_parse() with the length the message claims for itself.
 *
 * Only the public API of ct.h is used. The sockets are faked at link time (-Wl,--wrap): ct_open()
 * gets a dummy libmnl socket, and recv() returns the fuzz input. Input:
 *   byte 0  bit 0: a dump (ct_dump_start, then ct_dump_step until it ends), else events
 *           bit 1: the first recv() fails with ENOBUFS (event overrun)
 *   byte 1  budget: messages per call, 1 + byte % 64
 *   byte 2  split: 0 = one recv() returns everything; else the first returns 4 * split bytes
 *           and the second the rest
 *   rest    the received bytes; a dump's own messages carry nlmsg_seq 1
 * The receive buffer past what recv() returned is poisoned, so reading beyond the received
 * bytes (not only beyond the 256 KiB buffer) is reported, up to ASan's 8-byte granularity.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <libmnl/libmnl.h>
#include <sanitizer/asan_interface.h>

#include "ct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			socklen_t *flen);
struct mnl_socket *__wrap_mnl_socket_open2(int bus, int flags);
int __wrap_mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid);
int __wrap_mnl_socket_get_fd(const struct mnl_socket *nl);
ssize_t __wrap_mnl_socket_sendto(const struct mnl_socket *nl, const void *buf, size_t len);
int __wrap_mnl_socket_close(struct mnl_socket *nl);

static struct {
	const uint8_t *chunk[2];	/* what the next recv() calls return, in order */
	size_t len[2];
	int next;
	bool enobufs;			/* fail the next recv() with ENOBUFS */
	void *buf;			/* the receive buffer, poisoned past the data */
	size_t buf_len;
	unsigned int sockets;		/* open fake sockets */
	unsigned long msgs;		/* messages handed to the callback */
} rx;

static void unpoison(void)
{
	if (rx.buf)
		ASAN_UNPOISON_MEMORY_REGION(rx.buf, rx.buf_len);
	rx.buf = NULL;
}

/* Every message comes from the kernel (nl_pid 0): ct.c drops anything else. */
ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			socklen_t *flen)
{
	size_t n;

	if (from && flen && *flen >= sizeof(struct sockaddr_nl)) {
		memset(from, 0, sizeof(struct sockaddr_nl));
		((struct sockaddr_nl *)from)->nl_family = AF_NETLINK;
		*flen = sizeof(struct sockaddr_nl);
	}
	unpoison();
	if (rx.enobufs) {
		rx.enobufs = false;
		errno = ENOBUFS;
		return -1;
	}
	if (rx.next >= 2 || !rx.chunk[rx.next]) {
		errno = EAGAIN;
		return -1;
	}
	n = rx.len[rx.next] < len ? rx.len[rx.next] : len;
	memcpy(buf, rx.chunk[rx.next], n);
	rx.next++;
	rx.buf = buf;
	rx.buf_len = len;
	ASAN_POISON_MEMORY_REGION((char *)buf + n, len - n);
	return (ssize_t)n;
}

struct mnl_socket *__wrap_mnl_socket_open2(int bus, int flags)
{
	static long dummy[8];

	rx.sockets++;
	return (struct mnl_socket *)dummy;
}

int __wrap_mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid)
{
	return 0;
}

/* set/getsockopt() on it fail with EBADF, which ct.c tolerates */
int __wrap_mnl_socket_get_fd(const struct mnl_socket *nl)
{
	return -1;
}

ssize_t __wrap_mnl_socket_sendto(const struct mnl_socket *nl, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;

	/* the dump request: the answers in the seeds carry its seq */
	if (len < sizeof(*nlh) || nlh->nlmsg_seq != 1)
		abort();
	return (ssize_t)len;
}

int __wrap_mnl_socket_close(struct mnl_socket *nl)
{
	rx.sockets--;
	return 0;
}

static void cb(void *ctx, const struct ct_msg *m)
{
	bool dump = *(bool *)ctx;

	if (m->f.orig.family != AF_INET && m->f.orig.family != AF_INET6)
		abort();
	if (m->f.reply.family != m->f.orig.family || !(m->have & CT_HAVE_ID))
		abort();
	if (dump != (m->type == CT_MSG_DUMP))
		abort();
	rx.msgs++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_engine *ce;
	size_t split, len;
	uint8_t *copy;
	bool dump;
	int budget, ret;

	if (size < 3)
		return 0;
	dump = data[0] & 1;
	budget = 1 + data[1] % 64;
	len = size - 3;
	split = (size_t)data[2] * 4;
	/* an exact copy, so the chunks are not read past by accident either */
	copy = malloc(len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, data + 3, len);

	memset(&rx, 0, sizeof(rx));
	rx.enobufs = data[0] & 2;
	rx.chunk[0] = copy;
	rx.len[0] = len;
	if (split && split < len) {
		rx.len[0] = split;
		rx.chunk[1] = copy + split;
		rx.len[1] = len - split;
	}

	ce = ct_open(cb, &dump, 1u << 20, true, NULL, 0);
	if (!ce)
		abort();
	if (dump) {
		if (ct_dump_start(ce) || !ct_dump_running(ce) || ct_dump_start(ce) != -EBUSY)
			abort();
		/* a few rounds: each one stops at the budget or when recv() runs dry */
		for (int i = 0; i < 8; i++) {
			/* an NLMSG_ERROR's error number comes back as it is, whatever its sign */
			ret = ct_dump_step(ce, budget);
			if (ret) {
				if (ct_dump_running(ce))
					abort();
				break;
			}
		}
	} else {
		/* all messages of one recv() are handled, even past the budget */
		for (int i = 0; i < 3; i++)
			if (ct_events_read(ce, budget) < 0)
				abort();
		if (ct_events_overran(ce) != (bool)(data[0] & 2) || ct_events_overran(ce))
			abort();
	}
	if (rx.msgs != ct_stats(ce)->events + ct_stats(ce)->dump_entries)
		abort();
	unpoison();
	ct_close(ce);
	if (rx.sockets)
		abort();
	free(copy);
	return 0;
}
