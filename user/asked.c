/* asked.c - the names applications asked for: addresses learned from the DNS answers they got. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "asked.h"
#include "dns.h"
#include "fmt.h"

#define NBUCKETS (ASKED_CAP * 2)
#define ANY_CGROUP UINT64_MAX
#define TCP_MSG_MAX (65535 + 2)

struct slot {
	char *name;
	__u64 cgroup;		/* of the socket that received the answers */
	__u64 first_ns;		/* the first answer that gave this name */
	__u64 last_ns;		/* the latest one */
	__u64 until_ns;		/* after this it explains no new flow */
};

struct entry {
	__u8 addr[16];
	__u8 family;
	bool used;
	__u32 next;		/* bucket chain: index + 1, 0 = end */
	struct slot s[ASKED_SLOTS];
};

struct stream {
	struct asked_conn c;
	bool used;
	__u32 next_seq;
	__u32 skip;		/* bytes of a message cut short in the kernel still to pass */
	__u64 last_ns;
	uint8_t *buf;
	size_t have;
	size_t cap;
};

static struct entry *tab;
static __u32 *buckets;
static __u32 hand;		/* next entry to (re)use: first in, first out */
static unsigned long nused;
static unsigned long long nmsgs, nbad;
static struct stream streams[ASKED_STREAMS];

static bool ready(void)
{
	if (tab)
		return true;
	tab = calloc(ASKED_CAP, sizeof(*tab));
	buckets = calloc(NBUCKETS, sizeof(*buckets));
	if (!tab || !buckets) {
		free(tab);
		free(buckets);
		tab = NULL;
		buckets = NULL;
		return false;
	}
	return true;
}

static __u32 hash_addr(__u8 family, const __u8 *addr)
{
	return addr_hash(family, addr) % NBUCKETS;
}

static bool same(const struct entry *e, __u8 family, const __u8 *addr)
{
	return e->family == family && !memcmp(e->addr, addr, family == AF_INET ? 4 : 16);
}

static struct entry *find(__u8 family, const __u8 *addr)
{
	for (__u32 i = buckets[hash_addr(family, addr)]; i; i = tab[i - 1].next)
		if (same(&tab[i - 1], family, addr))
			return &tab[i - 1];
	return NULL;
}

static void drop(struct entry *e)
{
	__u32 *p = &buckets[hash_addr(e->family, e->addr)];
	__u32 idx = (__u32)(e - tab) + 1;

	while (*p && *p != idx)
		p = &tab[*p - 1].next;
	if (*p)
		*p = e->next;
	for (int i = 0; i < ASKED_SLOTS; i++)
		free(e->s[i].name);
	memset(e, 0, sizeof(*e));
	nused--;
}

static struct entry *get(__u8 family, const __u8 *addr)
{
	struct entry *e = find(family, addr);
	__u32 h;

	if (e)
		return e;
	e = &tab[hand];
	hand = (hand + 1) % ASKED_CAP;
	if (e->used)
		drop(e);
	e->used = true;
	e->family = family;
	memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
	h = hash_addr(family, addr);
	e->next = buckets[h];
	buckets[h] = (__u32)(e - tab) + 1;
	nused++;
	return e;
}

struct feed_ctx {
	__u64 ts_ns;
	__u64 cgroup;
};

static void learn(void *ctx, const struct dns_addr *a)
{
	const struct feed_ctx *fc = ctx;
	struct entry *e;
	struct slot *s = NULL;

	if (a->family != AF_INET && a->family != AF_INET6)
		return;
	e = get(a->family, a->addr);
	/* the same name again: the same slot, which now lasts longer (flows that began
	 * between the answers keep it); else a free slot or the one answered longest ago */
	for (int i = 0; i < ASKED_SLOTS && !s; i++)
		if (e->s[i].name && e->s[i].cgroup == fc->cgroup && !strcmp(e->s[i].name, a->qname))
			s = &e->s[i];
	if (s) {
		__u64 until = fc->ts_ns + ((__u64)a->ttl + ASKED_GRACE_S) * 1000000000ULL;

		if (fc->ts_ns > s->last_ns)
			s->last_ns = fc->ts_ns;
		if (until > s->until_ns)
			s->until_ns = until;
		return;
	}
	for (int i = 0; i < ASKED_SLOTS && !s; i++)
		if (!e->s[i].name)
			s = &e->s[i];
	if (!s) {
		s = &e->s[0];
		for (int i = 1; i < ASKED_SLOTS; i++)
			if (e->s[i].last_ns < s->last_ns)
				s = &e->s[i];
	}
	{
		char *n = strdup(a->qname);

		if (!n)
			return;
		free(s->name);
		s->name = n;
	}
	s->cgroup = fc->cgroup;
	s->first_ns = s->last_ns = fc->ts_ns;
	s->until_ns = fc->ts_ns + ((__u64)a->ttl + ASKED_GRACE_S) * 1000000000ULL;
}

int asked_feed(const uint8_t *msg, size_t len, __u64 ts_ns)
{
	return asked_feed_from(msg, len, ts_ns, 0);
}

int asked_feed_from(const uint8_t *msg, size_t len, __u64 ts_ns, __u64 cgroup)
{
	struct feed_ctx fc = { .ts_ns = ts_ns, .cgroup = cgroup };
	int r;

	if (!ready())
		return -ENOMEM;
	nmsgs++;
	r = dns_parse_response(msg, len, learn, &fc);
	if (r < 0)
		nbad++;
	return r;
}

/* The best slot of e for a flow seen at seen_ns among those of cgroup (or any). */
static const struct slot *best_slot(const struct entry *e, __u64 seen_ns, __u64 cgroup)
{
	const struct slot *best = NULL;
	__u64 best_at = 0;

	for (int i = 0; i < ASKED_SLOTS; i++) {
		const struct slot *s = &e->s[i];
		__u64 at;

		if (!s->name || s->first_ns > seen_ns || seen_ns > s->until_ns ||
		    (cgroup != ANY_CGROUP && s->cgroup != cgroup))
			continue;
		/* the latest answer before the flow: the last one, or (when the name was
		 * given again after the flow began) at least the first */
		at = s->last_ns <= seen_ns ? s->last_ns : s->first_ns;
		if (!best || at > best_at) {
			best = s;
			best_at = at;
		}
	}
	return best;
}

const char *asked_name_for(__u8 family, const __u8 *addr, __u64 seen_ns, __u64 cgroup)
{
	const struct entry *e;
	const struct slot *s;

	if (!tab || (family != AF_INET && family != AF_INET6))
		return NULL;
	e = find(family, addr);
	if (!e)
		return NULL;
	s = best_slot(e, seen_ns, cgroup);
	if (!s && cgroup != ANY_CGROUP)
		s = best_slot(e, seen_ns, ANY_CGROUP);
	return s ? s->name : NULL;
}

const char *asked_name(__u8 family, const __u8 *addr, __u64 seen_ns)
{
	return asked_name_for(family, addr, seen_ns, ANY_CGROUP);
}

/* ---- DNS over TCP ---- */

static bool conn_eq(const struct asked_conn *a, const struct asked_conn *b)
{
	return a->family == b->family && a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(a->saddr, b->saddr, 16) && !memcmp(a->daddr, b->daddr, 16);
}

static void stream_end(struct stream *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

/* Feed every complete message; a partial one stays for the next segment. */
static void stream_parse(struct stream *s)
{
	size_t off = 0;

	while (s->have - off >= 2) {
		size_t mlen = (size_t)s->buf[off] << 8 | s->buf[off + 1];

		if (s->have - off - 2 < mlen)
			break;
		asked_feed_from(s->buf + off + 2, mlen, s->last_ns, s->c.cgroup);
		off += 2 + mlen;
	}
	memmove(s->buf, s->buf + off, s->have - off);
	s->have -= off;
}

/*
 * Could data be the start of a DNS response: a length prefix of a header at least, then
 * (as far as it was copied) the QR bit and one question? Servers may send the prefix alone.
 */
static bool message_start(const uint8_t *data, size_t caplen)
{
	if (caplen >= 2 && ((size_t)data[0] << 8 | data[1]) < 12)
		return false;
	if (caplen > 4 && !(data[4] & 0x80))
		return false;
	if (caplen > 7 && (data[6] != 0 || data[7] != 1))
		return false;
	return true;
}

void asked_tcp(const struct asked_conn *c, __u32 seq, const uint8_t *data, size_t len,
	       size_t caplen, __u64 ts_ns)
{
	struct stream *s = NULL, *victim = NULL;

	if (!caplen || caplen > len || !ready())
		return;
	for (int i = 0; i < ASKED_STREAMS; i++) {
		if (streams[i].used && conn_eq(&streams[i].c, c)) {
			s = &streams[i];
			break;
		}
	}
	if (s && seq != s->next_seq) {
		__u32 ahead = s->next_seq - seq;

		/* more than a window behind: a new connection on the same ports */
		if ((__s32)ahead > 0 && ahead <= 65536) {
			/* a retransmission: only what goes beyond what was read is new */
			if (ahead >= len)
				return;
			if (ahead >= caplen) {
				stream_end(s);	/* the new part was not copied */
				return;
			}
			data += ahead;
			len -= ahead;
			caplen -= ahead;
			seq = s->next_seq;
		} else {
			/* a gap: what is missing will not come; start again here */
			stream_end(s);
			if (!message_start(data, caplen))
				return;
			s->used = true;
			s->c = *c;
		}
	}
	if (!s) {
		/*
		 * The first segment seen of a connection must start a message. Its slot: a
		 * free one, else one between messages, else the one idle longest.
		 */
		if (!message_start(data, caplen))
			return;
		for (int i = 0; i < ASKED_STREAMS; i++) {
			struct stream *t = &streams[i];

			if (!t->used) {
				victim = t;
				break;
			}
			if (!victim || (!t->have && victim->have) ||
			    (!t->have == !victim->have && t->last_ns < victim->last_ns))
				victim = t;
		}
		s = victim;
		if (s->used)
			stream_end(s);
		s->used = true;
		s->c = *c;
	}
	s->next_seq = seq + (__u32)len;
	s->last_ns = ts_ns;
	if (s->skip) {
		/* the rest of a message whose middle was not copied */
		size_t n = s->skip < len ? s->skip : len;

		s->skip -= (__u32)n;
		if (n == len)
			return;
		if (n >= caplen) {
			stream_end(s);
			return;
		}
		data += n;
		len -= n;
		caplen -= n;
	}
	if (s->have + caplen > s->cap) {
		size_t want = s->have + caplen;
		uint8_t *nb;

		if (want > TCP_MSG_MAX) {
			stream_end(s);	/* longer than any one message: not DNS as we know it */
			return;
		}
		want = want < 4096 ? 4096 : want * 2 > TCP_MSG_MAX ? TCP_MSG_MAX : want * 2;
		nb = realloc(s->buf, want);
		if (!nb) {
			stream_end(s);
			return;
		}
		s->buf = nb;
		s->cap = want;
	}
	memcpy(s->buf + s->have, data, caplen);
	s->have += caplen;
	if (caplen < len) {
		/*
		 * The kernel copied only the segment's start. If it ends inside the message
		 * it began, that message is read as far as it came and the rest skipped;
		 * if a later message began in the part not copied, the stream is lost.
		 */
		size_t lost = len - caplen;

		stream_parse(s);
		if (s->have >= 2) {
			size_t mlen = ((size_t)s->buf[0] << 8 | s->buf[1]) + 2;

			if (s->have > 2 + 12)
				asked_feed_from(s->buf + 2, s->have - 2, s->last_ns, s->c.cgroup);
			if (mlen >= s->have + lost) {
				s->skip = (__u32)(mlen - s->have - lost);
				s->have = 0;
				return;
			}
		}
		stream_end(s);
		return;
	}
	stream_parse(s);
	if (!s->have) {
		/* between messages: keep the position, not the memory */
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
}

void asked_stats(unsigned long *addrs, unsigned long long *msgs, unsigned long long *bad)
{
	if (addrs)
		*addrs = nused;
	if (msgs)
		*msgs = nmsgs;
	if (bad)
		*bad = nbad;
}

void asked_reset(void)
{
	for (int i = 0; i < ASKED_STREAMS; i++)
		if (streams[i].used)
			stream_end(&streams[i]);
	if (tab)
		for (__u32 i = 0; i < ASKED_CAP; i++)
			if (tab[i].used)
				drop(&tab[i]);
	free(tab);
	free(buckets);
	tab = NULL;
	buckets = NULL;
	hand = 0;
	nused = 0;
	nmsgs = 0;
	nbad = 0;
}
