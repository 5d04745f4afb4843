/* dns.c - DNS response parsing: which addresses answer which queried name (A, AAAA, CNAME). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"

#define HDR_LEN 12
#define T_A 1
#define T_CNAME 5
#define T_AAAA 28
#define C_IN 1
#define MAX_CNAMES 16		/* a longer chain is not followed further */
#define MAX_RECORDS 256		/* answers looked at per message */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t outlen)
{
	size_t pos = *off, o = 0, end = 0;
	size_t lowest = *off;	/* every jump must land before this: no loops */
	int total = 0;

	if (outlen < 2)
		return -EINVAL;
	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -EINVAL;
		l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len)
				return -EINVAL;
			to = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			if (!end)
				end = pos + 2;
			if (to >= lowest)
				return -EINVAL;	/* forwards or onto itself */
			lowest = to;
			pos = to;
			continue;
		}
		if (l & 0xc0)
			return -EINVAL;	/* the 0x40 and 0x80 label types are not used */
		if (!l) {
			if (!end)
				end = pos + 1;
			break;
		}
		if (pos + 1 + l > len)
			return -EINVAL;
		total += l + 1;
		if (total + 1 > 255)	/* with the root's zero byte: 255 at most */
			return -EINVAL;
		if (o && o + 1 < outlen)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++) {
			unsigned char c = msg[pos + 1 + i];

			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
				   c == '_'))
				c = '?';	/* names reach terminals and JSON: nothing else */
			if (o + 1 < outlen)
				out[o++] = (char)c;
		}
		pos += 1 + (size_t)l;
	}
	if (!o)
		out[o++] = '.';	/* the root */
	out[o] = 0;
	*off = end;
	return 0;
}

struct rr {
	char name[DNS_NAME_MAX];
	uint16_t type;
	uint16_t cls;
	uint32_t ttl;
	size_t rdata;
	uint16_t rdlen;
};

static int read_rr(const uint8_t *msg, size_t len, size_t *off, struct rr *r)
{
	if (dns_read_name(msg, len, off, r->name, sizeof(r->name)) < 0 || *off + 10 > len)
		return -EINVAL;
	r->type = get16(msg + *off);
	r->cls = get16(msg + *off + 2);
	r->ttl = get32(msg + *off + 4);
	r->rdlen = get16(msg + *off + 8);
	r->rdata = *off + 10;
	if (r->rdata + r->rdlen > len)
		return -EINVAL;
	*off = r->rdata + r->rdlen;
	return 0;
}

#define T_PTR 12
#define T_SOA 6

/* A parsed message: the question, its CNAME chain and the records of class IN. */
struct msg {
	char qname[DNS_NAME_MAX];
	uint16_t qtype;
	uint16_t rcode;
	int nrr;
	int nnames;
	uint32_t neg_ttl;	/* SOA minimum of the authority section, 0 = none */
	bool cut;		/* the answers end before their count: truncated */
	char names[MAX_CNAMES + 1][DNS_NAME_MAX];
	struct rr rrs[MAX_RECORDS];
};

static bool owned_by_chain(const struct msg *m, const char *name)
{
	for (int k = 0; k < m->nnames; k++)
		if (!strcmp(name, m->names[k]))
			return true;
	return false;
}

/*
 * Header, question, answers and the CNAME chain. 1 for a response to one IN question
 * (rcode set; answers cut short by truncation are kept), 0 for anything else, -EINVAL.
 */
static int parse_msg(const uint8_t *msg, size_t len, struct msg *m)
{
	size_t off = HDR_LEN;
	uint16_t flags, qd, an, ns;
	bool cut = false;

	m->nrr = 0;
	m->nnames = 1;
	m->cut = false;
	m->neg_ttl = 0;
	if (len < HDR_LEN)
		return -EINVAL;
	flags = get16(msg + 2);
	qd = get16(msg + 4);
	an = get16(msg + 6);
	ns = get16(msg + 8);
	/* a response (QR), standard query, one question */
	if (!(flags & 0x8000) || (flags >> 11 & 0xf) != 0 || qd != 1)
		return 0;
	m->rcode = flags & 0xf;
	if (dns_read_name(msg, len, &off, m->qname, sizeof(m->qname)) < 0 || off + 4 > len)
		return -EINVAL;
	m->qtype = get16(msg + off);
	if (get16(msg + off + 2) != C_IN)
		return 0;
	off += 4;
	for (unsigned int i = 0; i < an && m->nrr < MAX_RECORDS; i++) {
		if (read_rr(msg, len, &off, &m->rrs[m->nrr]) < 0) {
			if (!m->nrr)
				return -EINVAL;
			cut = true;	/* truncated: keep what came */
			m->cut = true;
			break;
		}
		if (m->rrs[m->nrr].cls == C_IN)
			m->nrr++;
	}
	/* a negative answer's lifetime: the SOA's minimum field (RFC 2308) */
	for (unsigned int i = 0; !cut && i < ns && i < 8; i++) {
		struct rr r;
		size_t p;
		char skip[DNS_NAME_MAX];

		if (read_rr(msg, len, &off, &r) < 0)
			break;
		if (r.type != T_SOA)
			continue;
		p = r.rdata;
		if (dns_read_name(msg, r.rdata + r.rdlen, &p, skip, sizeof(skip)) < 0 ||
		    dns_read_name(msg, r.rdata + r.rdlen, &p, skip, sizeof(skip)) < 0 ||
		    p + 20 > r.rdata + r.rdlen)
			break;
		m->neg_ttl = get32(msg + p + 16);
		if (r.ttl < m->neg_ttl)
			m->neg_ttl = r.ttl;
		break;
	}
	/* the names that stand for the question: itself and its CNAME chain, in any order */
	memcpy(m->names[0], m->qname, sizeof(m->qname));
	for (int pass = 0; pass < MAX_CNAMES; pass++) {
		int before = m->nnames;

		for (int i = 0; i < m->nrr && m->nnames <= MAX_CNAMES; i++) {
			const struct rr *r = &m->rrs[i];
			size_t p = r->rdata;
			char target[DNS_NAME_MAX];

			if (r->type != T_CNAME || !owned_by_chain(m, r->name) ||
			    dns_read_name(msg, r->rdata + r->rdlen, &p, target, sizeof(target)) < 0 ||
			    owned_by_chain(m, target))
				continue;
			memcpy(m->names[m->nnames++], target, sizeof(target));
		}
		if (m->nnames == before)
			break;
	}
	return 1;
}

static struct msg scratch;	/* ~80 KiB: not on the stack */

int dns_parse_response(const uint8_t *msg, size_t len, dns_addr_cb cb, void *ctx)
{
	struct msg *m = &scratch;
	int found = 0, r = parse_msg(msg, len, m);

	if (r <= 0)
		return r;
	if (m->rcode)
		return 0;
	for (int i = 0; i < m->nrr; i++) {
		const struct rr *rr = &m->rrs[i];
		struct dns_addr a;

		if (!((rr->type == T_A && rr->rdlen == 4) || (rr->type == T_AAAA && rr->rdlen == 16)))
			continue;
		if (!owned_by_chain(m, rr->name))
			continue;
		memset(&a, 0, sizeof(a));
		a.qname = m->qname;
		a.family = rr->type == T_A ? AF_INET : AF_INET6;
		memcpy(a.addr, msg + rr->rdata, rr->rdlen);
		a.ttl = rr->ttl;
		if (cb)
			cb(ctx, &a);
		found++;
	}
	return found;
}

int dns_parse_ptr(const uint8_t *msg, size_t len, char *name, size_t namelen, uint32_t *ttl)
{
	struct msg *m = &scratch;
	int r = parse_msg(msg, len, m);

	*ttl = 0;
	if (r < 0)
		return r;
	if (!r || m->qtype != T_PTR)
		return -EINVAL;
	if (m->rcode != 0 && m->rcode != 3)
		return -EAGAIN;	/* SERVFAIL, REFUSED, ...: the server's trouble, not an answer */
	for (int i = 0; !m->rcode && i < m->nrr; i++) {
		const struct rr *rr = &m->rrs[i];
		size_t p = rr->rdata;

		/* RFC 2317 delegations answer through a CNAME: follow the chain */
		if (rr->type != T_PTR || !owned_by_chain(m, rr->name))
			continue;
		if (dns_read_name(msg, rr->rdata + rr->rdlen, &p, name, namelen) < 0)
			continue;
		*ttl = rr->ttl;
		return 1;
	}
	if (m->cut)
		return -EINVAL;	/* the PTR may be in what is missing: no answer either way */
	*ttl = m->neg_ttl;
	return 0;
}
