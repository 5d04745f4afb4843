/* sockdiag.c - table of local sockets (sock_diag, /proc/net/icmp) and its match to flows. */
#include <errno.h>
#include <ifaddrs.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "sockdiag.h"

/*
 * What the kernel offers (measured on 6.18 here, CONFIG_INET_DIAG=y, TCP/UDP diag built in,
 * no SCTP, no DCCP, no CONFIG_INET_RAW_DIAG): TCP, UDP and UDP-Lite answer for both families;
 * SCTP, DCCP and IPPROTO_RAW answer ENOENT. ICMP echo "ping" sockets (SOCK_DGRAM,
 * IPPROTO_ICMP/ICMPV6) live in the ping hash table, which no inet_diag handler walks: raw_diag,
 * where it exists, only dumps SOCK_RAW sockets. So ping sockets come from /proc/net/icmp and
 * /proc/net/icmp6, which list them once bound (bind or first send) with the echo id as the local
 * port. ICMP sent from SOCK_RAW sockets (root's ping) cannot be tied to an echo id: not matched.
 */

#define SD_BUCKETS_MIN 256
#define SD_LOCAL_MAX 4096
#define SD_RECV_BUF 65536
#define SD_BATCH 128		/* exact lookups per sendto(); replies fit the default rcvbuf */
#define SD_TIMEOUT_MS 2000

enum sd_support { SD_UNKNOWN = 0, SD_YES, SD_NO };

/* A socket plus its index keys; IPv4 on a dual-stack socket is keyed as IPv4. */
struct sd_node {
	struct sd_sock s;
	__u8 kladdr[16];	/* full key: both ends folded to IPv4 when both are IPv4 */
	__u8 kraddr[16];
	__u8 bladdr[16];	/* bound key: the local address, folded */
	__u8 kfam;		/* family of the full key */
	__u8 blfam;		/* family of bladdr */
	__u8 in_full;
	__u8 in_bound;
	__u32 next_full;	/* chains: node index + 1, 0 = end */
	__u32 next_bound;
};

struct sd_local {
	__u8 addr[16];
	__u8 family;
};

struct sd_table {
	struct sd_node *nodes;
	size_t n;
	size_t cap;
	__u32 *full;		/* bucket heads: node index + 1 */
	__u32 *bound;
	size_t nbuckets;	/* power of two */
	struct sd_local *local;
	size_t nlocal;
	size_t local_cap;
};

struct sockdiag {
	struct mnl_socket *nl;
	__u32 seq;
	__u8 support[2][256];	/* enum sd_support per family (0 = AF_INET) and protocol */
	char *proc_net;
	char *buf;
};

static const __u8 sd_v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static size_t sd_addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool sd_addr_any(int family, const __u8 *a)
{
	static const __u8 zero[16];

	return !memcmp(a, zero, sd_addr_len(family));
}

static bool sd_v4mapped(int family, const __u8 *a)
{
	return family == AF_INET6 && !memcmp(a, sd_v4mapped_prefix, sizeof(sd_v4mapped_prefix));
}

/* Fold a v4-mapped address to plain IPv4 so dual-stack sockets meet IPv4 flows. */
static int sd_fold(int family, const __u8 *in, __u8 *out)
{
	memset(out, 0, 16);
	if (sd_v4mapped(family, in)) {
		memcpy(out, in + 12, 4);
		return AF_INET;
	}
	memcpy(out, in, sd_addr_len(family));
	return family;
}

/*
 * Key of a connection: a dual-stack socket talking IPv4 has both ends v4-mapped (its local end
 * may still read ::) and is keyed as IPv4, like the IPv4 flow it carries.
 */
static int sd_full_key(int family, const __u8 *laddr, const __u8 *raddr, __u8 *kl, __u8 *kr)
{
	int lfam = sd_fold(family, laddr, kl);
	int rfam = sd_fold(family, raddr, kr);

	if (rfam == AF_INET && (lfam == AF_INET || sd_addr_any(family, laddr)))
		return AF_INET;
	memset(kl, 0, 16);
	memset(kr, 0, 16);
	memcpy(kl, laddr, sd_addr_len(family));
	memcpy(kr, raddr, sd_addr_len(family));
	return family;
}

static __u32 sd_hash_bytes(__u32 h, const void *p, size_t len)
{
	const __u8 *b = p;

	/* FNV-1a: keys are short, the table is rebuilt every scan */
	while (len--) {
		h ^= *b++;
		h *= 16777619u;
	}
	return h;
}

static __u32 sd_hash_full(int fam, int proto, const __u8 *la, __u16 lp, const __u8 *ra, __u16 rp)
{
	__u32 h = 2166136261u;
	__u8 hdr[6] = { fam, proto, lp >> 8, lp & 0xff, rp >> 8, rp & 0xff };

	h = sd_hash_bytes(h, hdr, sizeof(hdr));
	h = sd_hash_bytes(h, la, 16);
	return sd_hash_bytes(h, ra, 16);
}

static __u32 sd_hash_bound(int proto, __u16 lp)
{
	__u8 hdr[3] = { proto, lp >> 8, lp & 0xff };

	return sd_hash_bytes(2166136261u, hdr, sizeof(hdr));
}

struct sd_table *sd_table_new(void)
{
	struct sd_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = SD_BUCKETS_MIN;
	t->full = calloc(t->nbuckets, sizeof(*t->full));
	t->bound = calloc(t->nbuckets, sizeof(*t->bound));
	if (!t->full || !t->bound) {
		sd_table_free(t);
		return NULL;
	}
	return t;
}

void sd_table_free(struct sd_table *t)
{
	if (!t)
		return;
	free(t->nodes);
	free(t->full);
	free(t->bound);
	free(t->local);
	free(t);
}

void sd_table_clear(struct sd_table *t)
{
	t->n = 0;
	memset(t->full, 0, t->nbuckets * sizeof(*t->full));
	memset(t->bound, 0, t->nbuckets * sizeof(*t->bound));
}

size_t sd_table_count(const struct sd_table *t)
{
	return t->n;
}

const struct sd_sock *sd_table_get(const struct sd_table *t, size_t i)
{
	return i < t->n ? &t->nodes[i].s : NULL;
}

static void sd_link(struct sd_table *t, size_t i)
{
	struct sd_node *nd = &t->nodes[i];
	size_t mask = t->nbuckets - 1;
	__u32 h;

	if (nd->in_full) {
		h = sd_hash_full(nd->kfam, nd->s.proto, nd->kladdr, nd->s.lport, nd->kraddr,
				 nd->s.rport) & mask;
		nd->next_full = t->full[h];
		t->full[h] = i + 1;
	}
	if (nd->in_bound) {
		h = sd_hash_bound(nd->s.proto, nd->s.lport) & mask;
		nd->next_bound = t->bound[h];
		t->bound[h] = i + 1;
	}
}

static int sd_grow(struct sd_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;
	struct sd_node *nodes;

	if (cap > UINT32_MAX - 1)
		return -ENOMEM;
	nodes = realloc(t->nodes, cap * sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	t->nodes = nodes;
	t->cap = cap;

	if (cap > t->nbuckets) {
		__u32 *full = calloc(cap, sizeof(*full));
		__u32 *bound = calloc(cap, sizeof(*bound));

		if (!full || !bound) {
			free(full);
			free(bound);
			return -ENOMEM;
		}
		free(t->full);
		free(t->bound);
		t->full = full;
		t->bound = bound;
		t->nbuckets = cap;
		for (size_t i = 0; i < t->n; i++)
			sd_link(t, i);
	}
	return 0;
}

int sd_table_add(struct sd_table *t, const struct sd_sock *s)
{
	struct sd_node *nd;
	bool unconnected;
	int err;

	if (s->family != AF_INET && s->family != AF_INET6)
		return -EINVAL;
	if (t->n == t->cap) {
		err = sd_grow(t);
		if (err)
			return err;
	}
	nd = &t->nodes[t->n];
	memset(nd, 0, sizeof(*nd));
	nd->s = *s;
	nd->kfam = sd_full_key(s->family, s->laddr, s->raddr, nd->kladdr, nd->kraddr);
	nd->blfam = sd_fold(s->family, s->laddr, nd->bladdr);

	unconnected = sd_addr_any(s->family, s->raddr) && !s->rport;
	nd->in_full = !unconnected;
	nd->in_bound = s->state == TCP_LISTEN || unconnected;
	sd_link(t, t->n);
	t->n++;
	return 0;
}

int sd_table_add_local(struct sd_table *t, int family, const __u8 *addr)
{
	struct sd_local *l;
	__u8 a[16];

	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	family = sd_fold(family, addr, a);
	if (sd_table_is_local(t, family, a))
		return 0;
	if (t->nlocal >= SD_LOCAL_MAX)
		return -ENOSPC;
	if (t->nlocal == t->local_cap) {
		size_t cap = t->local_cap ? t->local_cap * 2 : 16;

		l = realloc(t->local, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		t->local = l;
		t->local_cap = cap;
	}
	l = &t->local[t->nlocal++];
	memcpy(l->addr, a, 16);
	l->family = family;
	return 0;
}

int sd_table_load_local(struct sd_table *t)
{
	struct ifaddrs *ifa, *i;
	int err = 0;

	if (getifaddrs(&ifa))
		return -errno;
	t->nlocal = 0;
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;
		const void *a;

		if (!sa)
			continue;
		if (sa->sa_family == AF_INET)
			a = &((const struct sockaddr_in *)sa)->sin_addr;
		else if (sa->sa_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		else
			continue;
		err = sd_table_add_local(t, sa->sa_family, a);
		if (err)
			break;
	}
	freeifaddrs(ifa);
	return err;
}

bool sd_table_is_local(const struct sd_table *t, int family, const __u8 *addr)
{
	static const __u8 v6_loopback[16] = { [15] = 1 };
	__u8 a[16];

	family = sd_fold(family, addr, a);
	/* the whole of 127/8 is delivered locally without being configured */
	if (family == AF_INET && a[0] == 127)
		return true;
	if (family == AF_INET6 && !memcmp(a, v6_loopback, 16))
		return true;
	for (size_t i = 0; i < t->nlocal; i++)
		if (t->local[i].family == family && !memcmp(t->local[i].addr, a, 16))
			return true;
	return false;
}

const struct sd_sock *sd_find_conn(const struct sd_table *t, int family, int proto,
				   const __u8 *laddr, __u16 lport, const __u8 *raddr, __u16 rport)
{
	const struct sd_node *best = NULL;
	__u8 la[16], ra[16];
	int kfam;
	__u32 i;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	kfam = sd_full_key(family, laddr, raddr, la, ra);

	i = t->full[sd_hash_full(kfam, proto, la, lport, ra, rport) & (t->nbuckets - 1)];
	while (i) {
		const struct sd_node *nd = &t->nodes[i - 1];

		if (nd->kfam == kfam && nd->s.proto == proto && nd->s.lport == lport &&
		    nd->s.rport == rport && !memcmp(nd->kladdr, la, 16) &&
		    !memcmp(nd->kraddr, ra, 16)) {
			/* chains run newest first; the oldest socket with a file wins */
			if (!best || nd->s.inode || !best->s.inode)
				best = nd;
		}
		i = nd->next_full;
	}
	return best ? &best->s : NULL;
}

const struct sd_sock *sd_find_bound(const struct sd_table *t, int family, int proto,
				    const __u8 *laddr, __u16 lport, bool listen)
{
	const struct sd_node *best = NULL;
	int best_score = -1;
	int qfam, local = -1;
	__u8 qa[16];
	__u32 i;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	qfam = sd_fold(family, laddr, qa);
	i = t->bound[sd_hash_bound(proto, lport) & (t->nbuckets - 1)];
	while (i) {
		const struct sd_node *nd = &t->nodes[i - 1];
		const struct sd_sock *s = &nd->s;
		int score;

		i = nd->next_bound;
		if (s->proto != proto || s->lport != lport)
			continue;
		if (listen != (s->state == TCP_LISTEN))
			continue;
		if (!listen && (s->rport || !sd_addr_any(s->family, s->raddr)))
			continue;

		if (!sd_addr_any(s->family, s->laddr)) {
			/* bound to one address: that address or nothing, never the port alone */
			if (nd->blfam != qfam || memcmp(nd->bladdr, qa, 16))
				continue;
			score = 2;
		} else {
			if (s->family == AF_INET && qfam != AF_INET)
				continue;
			if (s->family == AF_INET6 && qfam == AF_INET && (s->flags & SD_F_V6ONLY))
				continue;
			if (local < 0)
				local = sd_table_is_local(t, qfam, qa);
			if (!local)
				continue;
			score = 0;
		}
		if (s->inode)
			score++;
		/* ties: chains run newest first, keep the oldest */
		if (score >= best_score) {
			best = nd;
			best_score = score;
		}
	}
	return best ? &best->s : NULL;
}

const struct sd_sock *sd_match_flow(const struct sd_table *t, const struct flow *f,
				    enum sd_match_how *how)
{
	const struct flow_tuple *o = &f->orig, *r = &f->reply;
	const struct sd_sock *s;
	int fam = o->family, proto = o->proto;

	*how = SD_MATCH_NONE;
	if (fam != AF_INET && fam != AF_INET6)
		return NULL;

	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_DCCP:
	case IPPROTO_SCTP:
		s = sd_find_conn(t, fam, proto, o->src, o->sport, o->dst, o->dport);
		if (s) {
			/* outbound; a socket without a file (TIME_WAIT) names nobody */
			*how = SD_MATCH_ORIG;
			return s->inode ? s : NULL;
		}
		s = sd_find_conn(t, fam, proto, r->src, r->sport, r->dst, r->dport);
		if (s && s->inode) {
			*how = SD_MATCH_REPLY;
			return s;
		}
		/* not accepted yet, or already closed: the listener is the accepting process */
		s = sd_find_bound(t, fam, proto, r->src, r->sport, true);
		if (s) {
			*how = SD_MATCH_LISTENER;
			return s;
		}
		return NULL;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		s = sd_find_conn(t, fam, proto, o->src, o->sport, o->dst, o->dport);
		if (s) {
			*how = SD_MATCH_ORIG;
			return s;
		}
		s = sd_find_conn(t, fam, proto, r->src, r->sport, r->dst, r->dport);
		if (s) {
			*how = SD_MATCH_REPLY;
			return s;
		}
		s = sd_find_bound(t, fam, proto, o->src, o->sport, false);
		if (s) {
			*how = SD_MATCH_UNCONN_ORIG;
			return s;
		}
		s = sd_find_bound(t, fam, proto, r->src, r->sport, false);
		if (s) {
			*how = SD_MATCH_UNCONN_REPLY;
			return s;
		}
		return NULL;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		/*
		 * Only ping sockets are listed, and they only send echo requests: the flow is
		 * outbound, its id is the socket's local port, a connected one has remote port 0.
		 */
		s = sd_find_conn(t, fam, proto, o->src, o->sport, o->dst, 0);
		if (s) {
			*how = SD_MATCH_ORIG;
			return s;
		}
		s = sd_find_bound(t, fam, proto, o->src, o->sport, false);
		if (s) {
			*how = SD_MATCH_UNCONN_ORIG;
			return s;
		}
		return NULL;
	default:
		return NULL;
	}
}

int sd_parse_msg(const void *buf, size_t len, __u8 proto, struct sd_sock *s)
{
	const struct nlmsghdr *nlh = buf;
	const struct inet_diag_msg *m;
	const struct nlattr *a;
	size_t alen;

	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
		return -EINVAL;
	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return -EINVAL;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EINVAL;
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EINVAL;

	memset(s, 0, sizeof(*s));
	s->family = m->idiag_family;
	s->proto = proto;
	s->state = m->idiag_state;
	s->inode = m->idiag_inode;
	s->uid = m->idiag_uid;
	s->lport = ntohs(m->id.idiag_sport);
	s->rport = ntohs(m->id.idiag_dport);
	memcpy(s->laddr, m->id.idiag_src, sd_addr_len(s->family));
	memcpy(s->raddr, m->id.idiag_dst, sd_addr_len(s->family));

	/* attributes: bounds come from nlmsg_len, checked above against len */
	_Static_assert(sizeof(*m) == NLMSG_ALIGN(sizeof(*m)), "attributes follow unpadded");
	alen = nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	a = (const struct nlattr *)((const char *)m + sizeof(*m));
	while (alen >= sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= alen) {
		size_t plen = a->nla_len - sizeof(*a);
		const void *pl = (const char *)a + NLA_HDRLEN;
		size_t step = NLA_ALIGN(a->nla_len);

		switch (a->nla_type & NLA_TYPE_MASK) {
		case INET_DIAG_CGROUP_ID:
			if (plen >= sizeof(__u64))
				memcpy(&s->cgroup_id, pl, sizeof(__u64));
			break;
		case INET_DIAG_SKV6ONLY:
			if (plen >= 1 && *(const __u8 *)pl)
				s->flags |= SD_F_V6ONLY;
			break;
		default:
			break;
		}
		if (step >= alen)
			break;
		alen -= step;
		a = (const struct nlattr *)((const char *)a + step);
	}
	return 0;
}

int sd_parse_buf(struct sd_table *t, struct sd_parse *p, const void *buf, size_t len)
{
	const char *pos = buf;
	bool any_seq = !p->seq_lo && !p->seq_hi;

	while (len >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)pos;
		size_t mlen = nlh->nlmsg_len, step;
		struct sd_sock s;

		/* a length we cannot trust ends the buffer: nothing after it can be framed */
		if (mlen < sizeof(*nlh) || mlen > len) {
			p->skipped++;
			break;
		}
		step = NLMSG_ALIGN(mlen);
		if (!any_seq && (nlh->nlmsg_seq < p->seq_lo || nlh->nlmsg_seq > p->seq_hi)) {
			p->skipped++;
			goto next;
		}

		switch (nlh->nlmsg_type) {
		case NLMSG_DONE:
			p->replies++;
			p->done = true;
			if (mlen >= NLMSG_LENGTH(sizeof(int))) {
				int e;

				memcpy(&e, NLMSG_DATA(nlh), sizeof(e));
				if (e < 0) {
					p->errors++;
					p->err = e;
				}
			}
			break;
		case NLMSG_ERROR:
			p->replies++;
			if (mlen >= NLMSG_LENGTH(sizeof(int))) {
				int e;

				memcpy(&e, NLMSG_DATA(nlh), sizeof(e));
				if (e < 0) {
					p->errors++;
					p->err = e;
				}
			} else {
				p->skipped++;
			}
			break;
		case SOCK_DIAG_BY_FAMILY:
			p->replies++;
			if (sd_parse_msg(nlh, mlen, p->proto, &s)) {
				p->skipped++;
				break;
			}
			if (t) {
				int err = sd_table_add(t, &s);

				if (err)
					return err;
			}
			p->added++;
			break;
		default:
			p->skipped++;
			break;
		}
next:
		if (step >= len)
			break;
		pos += step;
		len -= step;
	}
	return 0;
}

/* Kernel hex: each 32-bit word printed as a host-order number, so memcpy restores the bytes. */
static int sd_parse_hex_addr(const char *hex, int family, __u8 *out)
{
	size_t words = family == AF_INET ? 1 : 4;

	if (strlen(hex) != words * 8)
		return -EINVAL;
	memset(out, 0, 16);
	for (size_t i = 0; i < words; i++) {
		char w[9];
		__u32 v;
		char *end;

		memcpy(w, hex + i * 8, 8);
		w[8] = '\0';
		v = strtoul(w, &end, 16);
		if (*end)
			return -EINVAL;
		memcpy(out + i * 4, &v, 4);
	}
	return 0;
}

/* sl: local:port remote:port st tx:rx tr:when retrnsmt uid timeout inode ... */
static const char sd_proc_net_fmt[] =
	" %*d: %32[0-9A-Fa-f]:%x %32[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %u %*d %lu";

int sd_parse_proc_net(struct sd_table *t, FILE *f, int family, __u8 proto)
{
	char line[512];
	bool header = true;
	int added = 0;

	while (fgets(line, sizeof(line), f)) {
		char la[33], ra[33];
		unsigned int lp, rp, st, uid;
		unsigned long inode;
		struct sd_sock s;
		int err;

		if (header) {
			header = false;
			continue;
		}
		if (sscanf(line, sd_proc_net_fmt, la, &lp, ra, &rp, &st, &uid, &inode) != 7)
			continue;
		if (lp > 0xffff || rp > 0xffff || st > 0xff || inode > UINT32_MAX)
			continue;
		memset(&s, 0, sizeof(s));
		if (sd_parse_hex_addr(la, family, s.laddr) ||
		    sd_parse_hex_addr(ra, family, s.raddr))
			continue;
		s.family = family;
		s.proto = proto;
		s.lport = lp;
		s.rport = rp;
		s.state = st;
		s.uid = uid;
		s.inode = inode;
		s.flags = SD_F_PROC;
		err = sd_table_add(t, &s);
		if (err)
			return err;
		added++;
	}
	return added;
}

int sd_open(struct sockdiag **out, const char *proc_net)
{
	struct timeval tv = { .tv_sec = SD_TIMEOUT_MS / 1000 };
	struct sockdiag *sd;
	int err;

	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	sd->proc_net = strdup(proc_net ? proc_net : "/proc/self/net");
	sd->buf = malloc(SD_RECV_BUF);
	if (!sd->proc_net || !sd->buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	sd->nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	if (!sd->nl) {
		err = -errno;
		goto cleanup;
	}
	if (mnl_socket_bind(sd->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto cleanup;
	}
	/* a dump that stalls must not freeze the event loop forever */
	if (setsockopt(mnl_socket_get_fd(sd->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		err = -errno;
		goto cleanup;
	}
	sd->seq = (__u32)time(NULL);
	*out = sd;
	return 0;

cleanup:
	sd_close(sd);
	return err;
}

void sd_close(struct sockdiag *sd)
{
	if (!sd)
		return;
	if (sd->nl)
		mnl_socket_close(sd->nl);
	free(sd->proc_net);
	free(sd->buf);
	free(sd);
}

static __u32 sd_next_seq(struct sockdiag *sd)
{
	if (++sd->seq == 0)
		sd->seq = 1;
	return sd->seq;
}

/* Throw away what an earlier, abandoned request left queued. */
static void sd_drain(struct sockdiag *sd)
{
	int fd = mnl_socket_get_fd(sd->nl);

	while (recv(fd, sd->buf, SD_RECV_BUF, MSG_DONTWAIT) > 0)
		;
}

static void sd_fill_req(struct nlmsghdr *nlh, __u16 flags, __u32 seq, int family, int proto,
			__u32 states)
{
	struct inet_diag_req_v2 *r;

	memset(nlh, 0, NLMSG_LENGTH(sizeof(*r)));
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*r));
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	r = NLMSG_DATA(nlh);
	r->sdiag_family = family;
	r->sdiag_protocol = proto;
	r->idiag_states = states;
	r->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	r->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

static int sd_family_index(int family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : -1;
}

static bool sd_unsupported_err(int err)
{
	return err == -ENOENT || err == -EINVAL || err == -EOPNOTSUPP || err == -EPROTONOSUPPORT;
}

static int sd_dump_raw(struct sockdiag *sd, struct sd_table *t, int family, int proto,
		       __u32 states)
{
	union {
		struct nlmsghdr nlh;
		char b[NLMSG_SPACE(sizeof(struct inet_diag_req_v2))];
	} req;
	int fd = mnl_socket_get_fd(sd->nl);
	struct sd_parse p = { .proto = proto };
	__u32 seq;
	int err;

	sd_drain(sd);
	seq = sd_next_seq(sd);
	p.seq_lo = p.seq_hi = seq;
	sd_fill_req(&req.nlh, NLM_F_DUMP, seq, family, proto, states);
	if (mnl_socket_sendto(sd->nl, &req, req.nlh.nlmsg_len) < 0)
		return -errno;

	while (!p.done && !p.errors) {
		ssize_t n = recv(fd, sd->buf, SD_RECV_BUF, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		if (n == 0)
			return -EPIPE;
		err = sd_parse_buf(t, &p, sd->buf, n);
		if (err)
			return err;
	}
	return p.errors ? p.err : (int)p.added;
}

bool sd_supported(struct sockdiag *sd, int family, int proto)
{
	int fi = sd_family_index(family);
	int err;

	if (fi < 0 || proto < 0 || proto > 255)
		return false;
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
		return true;
	if (sd->support[fi][proto] != SD_UNKNOWN)
		return sd->support[fi][proto] == SD_YES;
	/* no state bits: the kernel finds its handler (or not) and sends nothing else */
	err = sd_dump_raw(sd, NULL, family, proto, 0);
	if (err >= 0)
		sd->support[fi][proto] = SD_YES;
	else if (sd_unsupported_err(err))
		sd->support[fi][proto] = SD_NO;
	return err >= 0;
}

int sd_dump(struct sockdiag *sd, struct sd_table *t, int family, int proto, __u32 states)
{
	int fi = sd_family_index(family);
	int err;

	if (fi < 0 || proto < 0 || proto > 255)
		return -EINVAL;
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
		return sd_load_ping(sd, t, family);
	if (sd->support[fi][proto] == SD_NO)
		return -EOPNOTSUPP;
	err = sd_dump_raw(sd, t, family, proto, states);
	if (err >= 0)
		sd->support[fi][proto] = SD_YES;
	else if (sd_unsupported_err(err))
		sd->support[fi][proto] = SD_NO;
	return err;
}

int sd_load_ping(struct sockdiag *sd, struct sd_table *t, int family)
{
	char path[4096];
	FILE *f;
	int n;

	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", sd->proc_net, family == AF_INET ? "icmp" : "icmp6");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = sd_parse_proc_net(t, f, family, family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	fclose(f);
	return n;
}

/* One batch of exact requests; the kernel answers each inside sendto(), before it returns. */
static int sd_lookup_batch(struct sockdiag *sd, struct sd_table *t, const struct sd_query *q,
			   size_t n)
{
	const size_t reqlen = NLMSG_SPACE(sizeof(struct inet_diag_req_v2));
	int fd = mnl_socket_get_fd(sd->nl);
	struct sd_parse p = { .proto = q[0].proto };
	char req[SD_BATCH * NLMSG_SPACE(sizeof(struct inet_diag_req_v2))];
	bool waited = false;
	int err;

	sd_drain(sd);
	p.seq_lo = sd->seq + 1;
	for (size_t i = 0; i < n; i++) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(req + i * reqlen);
		struct inet_diag_req_v2 *r = NLMSG_DATA(nlh);
		bool udp = q[i].proto == IPPROTO_UDP || q[i].proto == IPPROTO_UDPLITE;
		size_t alen = sd_addr_len(q[i].family);

		sd_fill_req(nlh, 0, sd_next_seq(sd), q[i].family, q[i].proto, ~0u);
		/* udp_diag looks up like an arriving packet: src is the remote end */
		memcpy(r->id.idiag_src, udp ? q[i].raddr : q[i].laddr, alen);
		memcpy(r->id.idiag_dst, udp ? q[i].laddr : q[i].raddr, alen);
		r->id.idiag_sport = htons(udp ? q[i].rport : q[i].lport);
		r->id.idiag_dport = htons(udp ? q[i].lport : q[i].rport);
	}
	p.seq_hi = sd->seq;
	if (p.seq_hi < p.seq_lo)	/* wrapped: accept all, stale answers were drained */
		p.seq_lo = p.seq_hi = 0;
	if (mnl_socket_sendto(sd->nl, req, n * reqlen) < 0)
		return -errno;

	while (p.replies < n) {
		ssize_t len = recv(fd, sd->buf, SD_RECV_BUF, MSG_DONTWAIT);

		if (len < 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || waited)
				break;
			/* should not happen (answers are synchronous); wait once, briefly */
			waited = true;
			if (poll(&pfd, 1, 100) <= 0)
				break;
			continue;
		}
		err = sd_parse_buf(t, &p, sd->buf, len);
		if (err)
			return err;
	}
	return p.added;
}

int sd_lookup(struct sockdiag *sd, struct sd_table *t, const struct sd_query *q, size_t n)
{
	size_t found = 0, i, j;

	for (i = 0; i < n; i++)
		if (q[i].proto != q[0].proto ||
		    (q[i].family != AF_INET && q[i].family != AF_INET6))
			return -EINVAL;
	for (i = 0; i < n; i = j) {
		size_t chunk = n - i < SD_BATCH ? n - i : SD_BATCH;
		int ret;

		j = i + chunk;
		ret = sd_lookup_batch(sd, t, q + i, chunk);
		if (ret < 0)
			return ret;
		found += ret;
	}
	return found;
}
