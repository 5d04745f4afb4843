/* dnscap.c - the BPF program that copies DNS answers to user space, and its ring buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "asked.h"
#include "attr_ebpf.h"
#include "cgroup.h"
#include "dns_event.h"
#include "dnscap.h"
#include "dns.skel.h"

#define RING_BYTES (1u << 20)	/* ~960 answers of burst */
#define POLL_BUDGET 256		/* records per call: a flood must not hold the event loop */

static struct {
	struct dns_bpf *skel;
	struct bpf_link *link;
	struct ring_buffer *rb;
	unsigned long long read;
	unsigned int budget;
} D;

static int on_record(void *ctx, void *data, size_t size)
{
	const struct dns_event *ev = data;

	if (size < sizeof(*ev) || ev->caplen > DNS_CAP || ev->caplen > ev->len)
		return 0;
	D.read++;
	if (ev->proto == 17) {
		asked_feed_from(ev->data, ev->caplen, ev->ts_ns, ev->cgroup_id);
	} else {
		struct asked_conn c;

		memset(&c, 0, sizeof(c));
		memcpy(c.saddr, ev->saddr, 16);
		memcpy(c.daddr, ev->daddr, 16);
		c.sport = ev->sport;
		c.dport = ev->dport;
		c.family = ev->family;
		c.cgroup = ev->cgroup_id;
		asked_tcp(&c, ev->seq, ev->data, ev->len, ev->caplen, ev->ts_ns);
	}
	/* this record is consumed; the rest waits for the next turn (the fd stays readable) */
	return --D.budget ? 0 : -EAGAIN;
}

int dnscap_open(char *why, size_t whylen)
{
	const char *cgroot = cgroup_root();
	libbpf_print_fn_t old = libbpf_set_print(libbpf_quiet);
	int cgfd = -1, err;

	libbpf_last[0] = 0;
	D.skel = dns_bpf__open();
	if (!D.skel) {
		err = -errno;
		snprintf(why, whylen, "open: %s", strerror(-err));
		goto out;
	}
	bpf_map__set_max_entries(D.skel->maps.dns_events, RING_BYTES);
	/* the sockets that asked: marked by the attribution programs, in their maps */
	{
		struct bpf_map *shared[] = { D.skel->maps.dns_socks, D.skel->maps.dns_flows };

		err = 0;
		for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]) && !err; i++) {
			int fd = attr_ebpf_map_fd(bpf_map__name(shared[i]));

			if (fd < 0) {
				snprintf(why, whylen, "needs the eBPF attribution programs");
				err = -ENOENT;
				goto fail;
			}
			err = bpf_map__reuse_fd(shared[i], fd);
		}
	}
	if (err) {
		snprintf(why, whylen, "map: %s", strerror(-err));
		goto fail;
	}
	err = dns_bpf__load(D.skel);
	if (err) {
		snprintf(why, whylen, "load: %s%s%s", strerror(-err), libbpf_last[0] ? ": " : "",
			 libbpf_last);
		goto fail;
	}
	cgfd = cgroot ? open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (cgfd < 0) {
		err = -ENOENT;
		snprintf(why, whylen, "no cgroup v2 hierarchy to attach to");
		goto fail;
	}
	D.link = bpf_program__attach_cgroup(D.skel->progs.dns_answer, cgfd);
	if (!D.link) {
		err = -errno;
		close(cgfd);
		snprintf(why, whylen, "attach: %s", strerror(-err));
		goto fail;
	}
	close(cgfd);
	D.rb = ring_buffer__new(bpf_map__fd(D.skel->maps.dns_events), on_record, NULL, NULL);
	if (!D.rb) {
		err = -errno;
		snprintf(why, whylen, "ring buffer: %s", strerror(-err));
		goto fail;
	}
	err = 0;
	goto out;
fail:
	dnscap_close();
out:
	libbpf_set_print(old);
	return err;
}

bool dnscap_on(void)
{
	return D.rb != NULL;
}

int dnscap_fd(void)
{
	return D.rb ? ring_buffer__epoll_fd(D.rb) : -1;
}

void dnscap_poll(void)
{
	if (D.rb) {
		D.budget = POLL_BUDGET;
		ring_buffer__consume(D.rb);
	}
}

static unsigned long long counter(__u32 k)
{
	return D.skel ? bpf_percpu_sum(bpf_map__fd(D.skel->maps.dns_counters), k) : 0;
}

void dnscap_stats(unsigned long long *answers, unsigned long long *lost,
		  unsigned long long *ignored)
{
	*answers = D.read;
	*lost = counter(DNS_CNT_RB_FAIL);
	*ignored = counter(DNS_CNT_UNASKED);
}

void dnscap_close(void)
{
	if (D.rb)
		ring_buffer__free(D.rb);
	if (D.link)
		bpf_link__destroy(D.link);
	if (D.skel)
		dns_bpf__destroy(D.skel);
	memset(&D, 0, sizeof(D));
}
